//! Core of ITC: the types, canonical encoding, cryptography, Merkle proofs,
//! ledger state machine and storage interface that every other ITC crate
//! builds on.
//!
//! * [`hash`]: BLAKE2b-256, always under a purpose [`hash::Domain`].
//! * [`keys`]: ed25519 keys; signatures bind purpose and chain id.
//! * [`encoding`]: the one canonical binary encoding; strict decoders.
//! * [`merkle`]: RFC 6962-style transaction trees and inclusion proofs.
//! * [`smt`]: the sparse Merkle state tree with compressed membership and
//!   non-membership proofs.
//! * [`types`]: transactions, blocks, votes, certificates, validator sets.
//! * [`ledger`]: the deterministic state machine that applies blocks.
//! * [`anchoring`]: the hook through which main-chain blocks anchor a side
//!   chain (implemented by itc-dag, called by itc-pbft).
//! * [`module`]: the hook through which ledger modules (ChainCode) run
//!   inside block execution, with their state in the same tree.
//! * [`seal`]: sealed payloads (HPKE with X25519 or X-Wing) to keys
//!   published on chain.
//! * [`firmware`]: firmware manifests, product and release records, and
//!   the streaming image hash for updates through the chain.
//! * [`storage`]: a key-value interface with atomic batches, in memory or on
//!   the redb embedded database.
//!
//! # Features
//! * `std` (default): `std::error::Error` impls and `std` support in dependencies.
//!   Without it the crate is `no_std` + `alloc`, for the light client.
//! * `seal` (default): the HPKE functions of [`seal`] (works without `std`).
//! * `redb`: [`storage::RedbStorage`], a durable store for nodes.
//!
//! # Example: sign, encode, decode
//! ```
//! use itc_core::encoding::{Decode, Encode};
//! use itc_core::keys::Keypair;
//! use itc_core::types::{Amount, ChainId, Payload, Transaction};
//!
//! let alice = Keypair::from_seed([1; 32]);
//! let bob = Keypair::from_seed([2; 32]).public();
//! let tx = Transaction::new_signed(
//!     &alice,
//!     ChainId(7),
//!     0,
//!     Amount(1),
//!     Payload::Transfer { to: bob, amount: Amount(100) },
//! );
//! let bytes = tx.encode();
//! let back = Transaction::decode(&bytes).unwrap();
//! assert_eq!(back, tx);
//! assert!(back.verify_signature().is_ok());
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod anchoring;
pub mod codes;
pub mod encoding;
pub mod firmware;
pub mod genesis;
pub mod hash;
pub mod hex;
pub mod keys;
pub mod ledger;
pub mod merkle;
pub mod module;
pub mod seal;
pub mod smt;
pub mod storage;
pub mod types;

pub use encoding::{Decode, DecodeError, Encode};
pub use hash::{Domain, Hash};
pub use keys::{Keypair, PublicKey, Signature, SigningDomain};
