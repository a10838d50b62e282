//! PBFT main-chain consensus for ITC.
//!
//! **Status: not implemented yet.** This crate is reserved for the sans-IO PBFT
//! replica (pre-prepare, prepare, commit, checkpoints, view change, state
//! transfer) with weighted validators, its async driver and its deterministic
//! Byzantine simulator. Until that lands it exports nothing.
#![deny(missing_docs)]
