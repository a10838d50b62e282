//! DAG side chain of ITC: PoW-stamped device transactions, solidification,
//! fast tip selection, and finality from main-chain (PBFT) anchors.
//!
//! * [`transaction`]: [`DagTransaction`] (1..=8 parents, issuer, sequence,
//!   payload, nonce, signature), canonical encoding, id.
//! * [`pow`]: BLAKE2b proof of work, difficulty from the issuer's security
//!   level and recent issue rate, a bounded solver.
//! * [`tips`]: the bounded tip pool and URTS-like selection.
//! * [`Tangle`] ([`tangle`]): the sans-IO node: attach, solidify, select
//!   tips, confirm anchors (white-flag), prove finality, pre-confirmation
//!   hints, pruning.
//! * [`ledger`]: the DAG's micro-balances, applied only at anchor time.
//! * [`finality`]: [`AnchorCommitment`] (what a header commits to) and
//!   [`DagFinalityProof`] (what a light client checks).
//!
//! # Finality
//!
//! Finality comes from the main chain, not from weight. A PBFT block carries
//! a [`DagAnchor`] (tips). Every validator computes the anchor's newly
//! confirmed cone, orders it by a deterministic post-order traversal, applies
//! the first valid transaction of each conflict to the [`DagLedger`] and
//! records the rest as ignored, then commits to Merkle roots of the confirmed
//! and applied sets ([`AnchorCommitment`]). [`Tangle::pre_confirmation`] is a
//! fast hint only.
//!
//! # Driver loop
//!
//! ```
//! use itc_core::keys::Keypair;
//! use itc_core::types::{Amount, ChainId, SecurityLevel};
//! use itc_dag::{DagConfig, DagPayload, Tangle, DagFinality};
//!
//! let config = DagConfig::new(ChainId(1));
//! let mut node = Tangle::new(config);
//! // Every issuer is a level-0 device here; a node would ask its ledger.
//! let levels = |_: &itc_core::PublicKey| SecurityLevel::new(0);
//! let sensor = Keypair::from_seed([1; 32]);
//! node.credit(sensor.public(), Amount(100)).unwrap();
//!
//! // Issue: select tips, sign, stamp with proof of work, attach.
//! let now_ms = 1_000;
//! let lamp = Keypair::from_seed([2; 32]).public();
//! let tx = node
//!     .issue(&sensor, 0, DagPayload::Transfer { to: lamp, amount: Amount(30) },
//!            now_ms, /* seed */ 7, &levels, 1 << 24)
//!     .unwrap();
//! while let Some(_missing) = node.poll_request() { /* ask peers */ }
//!
//! // The PBFT primary proposes an anchor; every validator confirms it.
//! let anchor = node.propose_anchor(now_ms);
//! let commitment = node.confirm(&anchor, /* block height */ 1).unwrap();
//! assert_eq!(node.ledger().balance(&lamp), Amount(30));
//!
//! // A light client checks finality against the header's anchor root.
//! let proof = node.prove(&tx.id()).unwrap();
//! assert_eq!(proof.verify_against_root(&commitment.hash(), &tx.id()), Ok(DagFinality::Applied));
//! ```
//!
//! # Decisions
//!
//! * **Balances.** DAG transfers move balance in the DAG's own
//!   [`DagLedger`], applied only at anchor time in white-flag order, so it is
//!   a deterministic function of the anchors and main-chain deposits. See
//!   [`ledger`] for the rules.
//! * **Conflicts.** Two transactions with one issuer and sequence number, or
//!   transfers that overspend, may both sit in the DAG and both be confirmed;
//!   the first in white-flag order is applied, the others are recorded as
//!   ignored ([`IgnoredReason`]) and left out of the applied Merkle set.
//! * **White-flag order.** Post-order depth-first traversal from the anchor's
//!   tips in ascending id order, parents in their canonical (ascending)
//!   order, stopping at transactions confirmed by earlier anchors.
//! * **Proof of work** is anti-spam admission: the base difficulty follows
//!   the issuer's security level; the rate term is checked on gossip only.
//!   A transaction fetched because an anchor needs it is checked against the
//!   base difficulty, so validators that saw different traffic still
//!   complete the same cones.
//! * **Depth rule** (consensus): with the last anchor applied at height `L`,
//!   the next anchor is invalid if its new cone approves anything confirmed
//!   at or below `L - anchor_depth_max`. Main-chain blocks without an anchor
//!   do not count, so an idle DAG stays anchorable. Pruning keeps the ids of
//!   everything confirmed within that window, so a node that pruned and one
//!   that did not judge every anchor alike.
//! * **Sans-IO.** No clock, thread, RNG or storage inside: `now_ms` and seeds
//!   are arguments; requests for missing transactions come out of
//!   [`Tangle::poll_request`]; storage writes come out of
//!   [`Tangle::take_writes`] when [`DagConfig::persist`] is on.
//!
//! # Anchored by itc-pbft
//!
//! [`Tangle`] implements [`itc_core::anchoring::Anchoring`] ([`anchoring`]): a
//! validator opens `Replica::open_with_anchoring(config, &storage, tangle)`.
//! The primary proposes [`Tangle::propose_anchor`]'s tips; every validator
//! recomputes the cone ([`Tangle::compute_confirmation`]) and prepares the
//! block only if the header's `dag_anchor_root` is the hash of the resulting
//! [`AnchorCommitment`]; on commit the same confirmation is applied, and its
//! storage writes leave in the replica's batch with the block. A light
//! client checks [`Tangle::prove`]'s proof against that header.
//!
//! A validator's tangle takes its consensus parameters from genesis with
//! [`DagConfig::for_chain`] (`Genesis::dag_anchor_depth_max`).
//!
//! Balances enter the DAG ledger through main-chain
//! `Payload::DagDeposit` transactions, credited when their block executes
//! ([`itc_core::anchoring::Anchoring::on_executed`]); [`Tangle::credit`] is the same
//! credit for tests and tools. Deposits are one way: nothing withdraws DAG
//! balance back to the main chain yet.
#![deny(missing_docs)]

pub mod anchoring;
pub mod finality;
pub mod ledger;
pub mod pow;
pub mod tangle;
pub mod tips;
pub mod transaction;

pub use finality::{AnchorCommitment, Confirmation, DagFinality, DagFinalityProof, DagProofError};
pub use itc_core::types::DagAnchor;
pub use ledger::{DagAccount, DagLedger, IgnoredReason};
pub use pow::{PowError, PowParams, SecurityLevels};
pub use tangle::{
    genesis_entry_points, AttachError, Attached, ConfirmError, DagConfig, PreConfirmation,
    PruneOutcome, RefusedDeposit, RestoreError, Tangle, TxStatus,
};
pub use tips::{TipParams, TipScore};
pub use transaction::{DagPayload, DagTransaction, TransactionError};
