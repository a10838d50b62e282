//! The one implementation behind both binding layers: functions over plain
//! byte slices, arrays and small structs that decode, validate and act,
//! failing with [`ItcError`]. The UniFFI layer ([`crate::api`]) wraps them
//! with type conversion, the C ABI ([`crate::c_api`]) with pointer and
//! length checks, handle lookup and out-parameters; neither repeats their
//! logic.
//!
//! Messages name arguments as the UniFFI layer does ("metadata hash"); the C
//! ABI reads fixed-size arguments at their exact length, so a length error
//! for one of those can only come from the UniFFI side (a variable-length
//! argument, such as a sealing public key, can be refused from either).

pub(crate) mod chaincode;
pub(crate) mod dag;
pub(crate) mod firmware;
pub(crate) mod keys;
pub(crate) mod light_client;
pub(crate) mod seal;
pub(crate) mod transaction;

use crate::error::ItcError;
use itc_core::hash::Hash;
use itc_core::keys::{PublicKey, Signature};

/// A fixed-size byte array from a foreign byte string.
pub(crate) fn array<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], ItcError> {
    bytes.try_into().map_err(|_| {
        ItcError::invalid_argument(format!("{what} must be {N} bytes, got {}", bytes.len()))
    })
}

/// A 32-byte public key (not checked to be a curve point).
pub(crate) fn public_key(bytes: &[u8], what: &str) -> Result<PublicKey, ItcError> {
    array(bytes, what).map(PublicKey)
}

/// A 32-byte hash.
pub(crate) fn hash(bytes: &[u8], what: &str) -> Result<Hash, ItcError> {
    array(bytes, what).map(Hash)
}

/// A 64-byte signature (not verified).
pub(crate) fn signature(bytes: &[u8], what: &str) -> Result<Signature, ItcError> {
    array(bytes, what).map(Signature)
}

/// A device security level, refused above the highest one.
pub(crate) fn security_level(level: u8) -> Result<itc_core::types::SecurityLevel, ItcError> {
    itc_core::types::SecurityLevel::new(level)
        .ok_or_else(|| ItcError::invalid_argument(format!("security level {level} above 3")))
}
