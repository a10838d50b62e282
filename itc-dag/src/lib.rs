//! DAG side chain for ITC.
//!
//! **Status: not implemented yet.** This crate is reserved for PoW-stamped DAG
//! transactions, solidification, tip selection and white-flag finality under
//! main-chain anchors. Until that lands it exports nothing.
#![deny(missing_docs)]
