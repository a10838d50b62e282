//! The tangle as the side chain of an itc-pbft replica.
//!
//! [`Tangle`] implements [`itc_core::anchoring::Anchoring`], so a validator runs
//! itc-pbft's `Replica::open_with_anchoring(config, &storage, tangle)` and its blocks
//! anchor the DAG:
//!
//! * as primary, it proposes [`Tangle::propose_anchor`]'s tips and puts the
//!   hash of the resulting [`AnchorCommitment`](crate::AnchorCommitment) in the header's
//!   `dag_anchor_root` (anchors come at most every
//!   [`crate::DagConfig::anchor_interval_ms`] in blocks that carry no
//!   main-chain transaction);
//! * as backup, it recomputes the cone with [`Tangle::compute_confirmation`]
//!   and prepares the block only if the commitment's hash is the header's
//!   root; a cone with transactions it lacks is requested
//!   ([`Tangle::poll_request`]) and the proposal waits;
//! * when the block commits, the same confirmation is applied
//!   ([`Tangle::apply_confirmation`], computed once) and its storage writes
//!   leave with the block's; main-chain `Payload::DagDeposit` transactions
//!   of the block credit the DAG ledger after its anchor;
//! * then it prunes what lies [`crate::DagConfig::prune_keep_heights`]
//!   behind, so a validator's store stays bounded.
//!
//! A light client then checks [`Tangle::prove`]'s proof against the header
//! of the anchoring block.
//!
//! # Limits
//! * A validator that catches up by state transfer replays each anchor, so
//!   it needs the anchor's cone from some peer. Peers prune cones
//!   [`crate::DagConfig::prune_keep_heights`] behind; a validator away for
//!   longer catches up only if a peer keeps more (an archival validator
//!   with `None`). Transferring a DAG snapshot instead is not implemented.
//! * A deposit is a paid creation: it is always credited, also beyond
//!   [`crate::ledger::DAG_ACCOUNTS_MAX`] funded accounts (the cap binds DAG
//!   transfers to new keys only). Only an overflow, which the main chain's
//!   bounded supply rules out, would refuse one; it would be recorded
//!   ([`Tangle::refused_deposits`]) alike on every validator, not lost
//!   silently, but nothing returns it to the main chain.
//!
//! The implementation lives with the rest of the tangle's anchoring role
//! (the `tangle::anchor_role` part): what a primary proposes, the
//! confirmation prepared for a proposal, and refused deposits.

#[allow(unused_imports)] // intra-doc links
use crate::tangle::Tangle;
