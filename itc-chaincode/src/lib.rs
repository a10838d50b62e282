//! Sandboxed contracts for ITC.
//!
//! **Status: not implemented yet.** This crate is reserved for WebAssembly
//! contracts under fuel and memory limits whose only view of user data is a
//! host API of private aggregates. Until that lands it exports nothing.
#![deny(missing_docs)]
