//! `no_std` light client for ITC: what a lamp, a switch or a sensor needs to
//! decide on its own, offline, whether the chain authorizes something.
//!
//! * [`TrustedState`]: one trusted header and the validator set that signed
//!   it, bootstrapped from a pinned header hash and stored in flash as
//!   versioned bytes. No header chain.
//! * [`update`]: verify a newer header by its commit certificate, adjacent or
//!   skipping, with a [`Verdict`]: success, not enough trust (bisect), or
//!   invalid with a reason.
//! * [`proof`]: a transaction in a block, a state value present (an access
//!   grant), a state key absent (a revoked grant).
//! * [`dag`]: the proof that a DAG transaction is final under an anchor.
//! * [`command`]: the lamp's whole check of a signed command in one call.
//! * [`replay`]: per-sender replay protection in a fixed-size table.
//! * [`recovery`]: the owner's way back for a device that went without
//!   headers for a trust period.
//! * [`firmware`]: whether a release proven on chain may be installed, and
//!   the streaming check of its image.
//! * [`fork`]: two certified headers at one height become evidence naming
//!   the validators that signed both.
//!
//! Every decoder is strict and bounded by named constants, and nothing in
//! this crate panics on untrusted input. The crate holds no clock: callers
//! pass `now_ms`.
//!
//! # Memory
//! Decoders never reserve more than the input bytes justify, and every
//! length is capped (`VALIDATORS_MAX` signatures, [`proof::STATE_VALUE_BYTES_MAX`]
//! value bytes, 256 proof siblings). `tests/heap.rs` keeps a header update
//! of four validators plus a command with its two state proofs within a
//! 16 KiB heap budget; the measured figures are itc-bench's
//! `spv_peak_heap_bytes` and `spv_trusted_state_bytes`, and the firmware's
//! peak heap reported by `scripts/m4-lamp.sh`.
//!
//! # Features
//! * `std` (default): `std` support in itc-core and error types. Without it
//!   the crate is `no_std` + `alloc`, for microcontrollers.
//!
//! # The update loop
//! A device bootstraps from a pinned header, then follows the chain. When a
//! header is too far ahead for the trusted set to vouch for it, the device
//! verifies one halfway first.
//! ```
//! use itc_spv::{bisection_pivot, HeaderUpdate, TrustOptions, TrustedState, Verdict};
//! # use itc_core::hash::Hash;
//! # use itc_core::keys::Keypair;
//! # use itc_core::types::*;
//! # let chain = ChainId(7);
//! # let keys = |base: u8| -> Vec<Keypair> {
//! #     (0..4).map(|i| Keypair::from_seed([base + i; 32])).collect()
//! # };
//! # let (old_keys, new_keys) = (keys(1), keys(11));
//! # let set_of = |ks: &[Keypair]| {
//! #     ValidatorSet::new(ks.iter().map(|k| Validator { key: k.public(), weight: 10 }).collect())
//! #         .unwrap()
//! # };
//! # let (old_set, new_set) = (set_of(&old_keys), set_of(&new_keys));
//! # // Heights 1..=4 are signed by the old set, 5..=8 by a disjoint new one.
//! # let mut updates: Vec<HeaderUpdate> = Vec::new();
//! # let mut previous = Hash::ZERO;
//! # for height in 1..=8u64 {
//! #     let (signers, set) = if height < 5 { (&old_keys, &old_set) } else { (&new_keys, &new_set) };
//! #     let next = if height < 4 { &old_set } else { &new_set };
//! #     let header = BlockHeader {
//! #         chain_id: chain, height, previous_hash: previous, tx_root: Hash::ZERO, tx_count: 0,
//! #         state_root: Hash::ZERO, dag_anchor_root: Hash::ZERO, dag_anchor_hash: Hash::ZERO,
//! #         validator_set_hash: set.hash(), next_validator_set_hash: next.hash(),
//! #         time_ms: 1_000 * height, proposer: signers[0].public(), view: 0,
//! #     };
//! #     let votes: Vec<Vote> = signers.iter()
//! #         .map(|k| Vote::new_signed(k, chain, VoteKind::Commit, height, 0, header.hash()))
//! #         .collect();
//! #     let certificate = CommitCertificate::from_votes(chain, height, 0, header.hash(), &votes);
//! #     previous = header.hash();
//! #     updates.push(HeaderUpdate { header, certificate, validators: Some(set.clone()) });
//! # }
//! # let fetch = |height: u64| updates[height as usize - 1].clone();
//! # let now_ms = 10_000;
//! // Bootstrap from a header whose hash is pinned in the firmware.
//! let first = fetch(1);
//! let pinned = first.header.hash();
//! let options = TrustOptions::default();
//! let mut trusted =
//!     TrustedState::bootstrap(first.header, old_set.clone(), &pinned, &options, now_ms).unwrap();
//!
//! // Follow the chain to the latest header, bisecting when needed.
//! let latest = 8;
//! let mut target = latest;
//! while trusted.height() < latest {
//!     match trusted.update(&fetch(target), &options, now_ms) {
//!         Verdict::Success => target = latest,
//!         Verdict::NotEnoughTrust => target = bisection_pivot(trusted.height(), target),
//!         Verdict::Invalid(reason) => panic!("peer sent a bad header: {reason}"),
//!     }
//! }
//! assert_eq!(trusted.height(), 8);
//!
//! // Persist across reboots.
//! let bytes = trusted.to_bytes();
//! assert_eq!(TrustedState::from_bytes(&bytes).unwrap(), trusted);
//! ```
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod command;
pub mod dag;
pub mod firmware;
pub mod fork;
pub mod proof;
pub mod recovery;
pub mod replay;
pub mod trusted;
pub mod update;

pub use command::{
    check_command, CommandProof, DenyReason, Handled, Lamp, LampConfig, LampVerdict, SignedCommand,
    COMMAND_VERSION,
};
pub use dag::{AnchorCommitment, DagFinality, DagFinalityProof, DagProofError};
pub use firmware::{
    check_release, check_release_at, DeviceFirmware, ImageCheck, UpdateOffer, UpdateRefusal,
};
pub use fork::{detect_fork, ForkError, ForkEvidence};
pub use proof::{
    verify_state_absent, verify_state_value, verify_transaction, verify_transaction_hash,
    SpvProofError, StateEntryProof, TransactionProof,
};
pub use recovery::{recovery_message, OwnerRecovery, RecoveryError};
pub use replay::{ReplayCheck, ReplayTable, REPLAY_SENDERS_MAX};
pub use trusted::{BootstrapError, ProvenOwner, TrustedState, TRUSTED_STATE_VERSION};
pub use update::{
    bisection_pivot, verify_update, HeaderUpdate, InvalidReason, TrustOptions, Verdict,
};
