//! The safe Rust API that UniFFI exports to Python, Kotlin and Swift, and
//! that the C ABI's light-client and dev-chain handles wrap.
//!
//! Byte strings (keys, hashes, encoded values) cross as `Vec<u8>` and are
//! length-checked on the way in. Objects are shared (`Arc`) and internally
//! locked, so every method may be called from any thread.

pub mod chaincode;
pub mod dag;
pub mod dev_chain;
pub mod firmware;
pub mod keys;
pub mod light_client;
pub mod seal;
pub mod transaction;
