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

use crate::error::ItcError;
use itc_core::hash::Hash;
use itc_core::keys::PublicKey;

/// A fixed-size byte array from a foreign byte string.
pub(crate) fn array<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], ItcError> {
    bytes.try_into().map_err(|_| {
        ItcError::invalid_argument(format!("{what} must be {N} bytes, got {}", bytes.len()))
    })
}

pub(crate) fn public_key(bytes: &[u8], what: &str) -> Result<PublicKey, ItcError> {
    array(bytes, what).map(PublicKey)
}

pub(crate) fn hash(bytes: &[u8], what: &str) -> Result<Hash, ItcError> {
    array(bytes, what).map(Hash)
}

/// A device security level, refused above the highest one.
pub(crate) fn security_level(level: u8) -> Result<itc_core::types::SecurityLevel, ItcError> {
    itc_core::types::SecurityLevel::new(level)
        .ok_or_else(|| ItcError::invalid_argument(format!("security level {level} above 3")))
}
