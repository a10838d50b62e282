//! PBFT main-chain consensus for ITC (Castro & Liskov, OSDI'99), sans-IO.
//!
//! A [`Replica`] is a deterministic state machine: no clock, socket, disk,
//! thread or randomness inside. The caller feeds it bytes from peers
//! ([`Replica::handle_message`]), the time ([`Replica::tick`]) and client
//! transactions ([`Replica::submit_transaction`]), and drains its outputs with
//! [`Replica::ready`]. A [`Ready`] holds a batch of writes and the messages
//! that may only leave once those writes are durable; [`Ready::persist`]
//! writes the batch and only then hands the messages out, so a vote, a view
//! change or a new view can never be sent and then forgotten by a crash.
//!
//! # Protocol summary
//! * **Sequence numbers are block heights**, one block per sequence number.
//!   Pre-prepare, prepare, commit; the primary also sends a prepare vote, so a
//!   *prepared certificate* is prepare votes whose weight exceeds two thirds
//!   of the validator set ([`itc_core::types::ValidatorSet::is_quorum`]), and
//!   a *commit certificate* is the same for commit votes. Quorums are counted
//!   in weight, never in node count.
//! * **Primary**: round-robin over the validator set in key order,
//!   `validators[view mod n]` ([`primary_of`]). Weight decides quorums, not
//!   leadership.
//! * **Pipelining and state roots**: a header carries the state root *after*
//!   its block, so a block can only be validated on top of its executed
//!   parent. The primary proposes height `h + 1` once it has executed `h`;
//!   replicas accept and count messages for every sequence number in the
//!   watermark window `(executed, executed + WATERMARK_WINDOW]`, and
//!   re-proposals carried by a new view (valid by their prepared
//!   certificates, so no re-validation is needed) are voted on together, so
//!   several sequence numbers are in flight after a view change.
//! * **Validation before voting**: a replica votes prepare for a fresh
//!   proposal only after checking every header field against its ledger and
//!   previewing the block ([`itc_core::ledger::Ledger::preview_block`]: state
//!   root, next validator set, transaction signatures and nonces).
//!   Transactions are deduplicated by (sender, nonce) in the pool and within
//!   a block.
//! * **Checkpoints**: every committed block carries a commit certificate over
//!   its header, which commits to the state root; it is therefore a stable
//!   checkpoint by itself. The log is garbage-collected at every execution;
//!   committed blocks stay in storage, the last
//!   [`config::COMMITTED_BLOCKS_RETAINED_MAX`] also in memory for state
//!   transfer.
//! * **View change**: a backup with pending work that sees no commit for
//!   `view_change_timeout_ms` moves to the next view and sends a
//!   [`ViewChange`] with its last commit certificate and its prepared
//!   certificates; the timeout doubles with each fruitless view change and
//!   resets on commit. Weight above one third asking for higher views (at
//!   any distance: a replica keeps each validator's latest view change)
//!   makes a replica join, and a replica answers one still asking for an
//!   older view with its new view or its own view change. The new primary's
//!   [`NewView`] names the view changes of a quorum of current members by
//!   digest (so it stays small however large their prepared blocks); a
//!   replica that lacks some asks the new primary for them, and every
//!   replica derives the same re-proposals from them ([`new_view_decision`]).
//! * **State transfer**: a replica that learns of a higher committed height
//!   asks peers for blocks with commit certificates and verifies each against
//!   the validator set before applying it, so a lying peer cannot mislead it.
//!   Blocks older than the last [`config::COMMITTED_BLOCKS_RETAINED_MAX`]
//!   are answered from storage by [`Ready::persist`] (the core stays free of
//!   I/O), so a replica catches up after an outage of any length.
//! * **Reconfiguration**: the ledger changes the validator set after epoch
//!   boundary blocks; a replica uses the new set from the next height on.
//! * **Evidence**: two different signed votes of one validator for the same
//!   height, view and phase become a [`DoubleVoteEvidence`].
//! * **Side chain**: with [`Replica::open_with_anchoring`] blocks carry
//!   anchors of a side chain (itc-dag's DAG) through the [`Anchoring`] hook:
//!   the primary proposes one, every replica recomputes its root before it
//!   prepares, and a committed anchor is applied in the block's batch. Work
//!   the side chain holds counts as pending, so a primary that never
//!   anchors is replaced like one that ignores transactions.
//!
//! # Driver loop
//! ```
//! use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
//! use itc_core::keys::Keypair;
//! use itc_core::storage::MemoryStorage;
//! use itc_core::types::{Amount, ChainId, Payload, Transaction};
//! use itc_pbft::{Config, Replica};
//!
//! let validator = Keypair::from_seed([1; 32]);
//! let alice = Keypair::from_seed([2; 32]);
//! let genesis = Genesis {
//!     chain_id: 7,
//!     accounts: vec![GenesisAccount { public_key: alice.public(), balance: 1_000 }],
//!     validators: vec![GenesisValidator { public_key: validator.public(), weight: 1 }],
//!     ..Genesis::default()
//! };
//! let mut storage = MemoryStorage::new();
//! let mut replica = Replica::open(Config::new(validator, genesis), &storage).unwrap();
//! let tx = Transaction::new_signed(&alice, ChainId(7), 0, Amount(1),
//!     Payload::Transfer { to: Keypair::from_seed([3; 32]).public(), amount: Amount(5) });
//! replica.submit_transaction(0, tx).unwrap();
//! // A single validator is its own quorum: the block commits at once.
//! let persisted = replica.ready().persist(&mut storage).unwrap();
//! assert_eq!(persisted.committed.len(), 1);
//! assert_eq!(replica.executed_height(), 1);
//! // Messages for peers (none here) are sent only after persisting.
//! for outgoing in persisted.messages {
//!     let _bytes = outgoing.to_bytes();
//! }
//! // Reopened from storage, the replica remembers the committed block.
//! let again = Replica::open(Config::new(Keypair::from_seed([1; 32]), Genesis::default()), &storage).unwrap();
//! assert_eq!(again.executed_height(), 1);
//! ```
//!
//! # Async driver
//! With the `driver` feature, `driver::Driver` runs a replica over an async
//! `driver::Transport`, a `driver::Timer` and a storage, with an in-process
//! transport for tests and demos.
//!
//! # Features
//! * `driver`: the async driver (module `driver`, with `async-trait` and
//!   `futures`). Without it the crate has no async dependencies.
//!
//! The deterministic cluster simulator that tests this crate under faults
//! is the `itc-sim` crate.
#![deny(missing_docs)]

pub mod certificate;
pub mod config;
#[cfg(feature = "driver")]
pub mod driver;
pub mod message;
pub mod persist;
pub mod ready;
pub mod replica;

pub use certificate::{CertificateError, DoubleVoteEvidence, PreparedCertificate};
pub use config::Config;
/// The side-chain hook, defined in itc-core so that side chains need not
/// depend on this crate.
pub use itc_core::anchoring::{self, AnchorError, Anchoring, NoAnchoring};
pub use message::{
    Decision, Message, NewView, PrePrepare, PreparedEntry, ViewChange, ViewChangeRef,
};
pub use ready::{Outgoing, Persisted, Ready, Recipient};
pub use replica::{
    new_view_decision, primary_of, HaltReason, InvariantViolation, MessageError, NewViewDecision,
    OpenError, ProposalError, Replica, ReplicaPart, Status, SubmitError,
};
