//! Sealed payloads: derive a sealing key, seal, open, and the device's
//! binding of its sealing key to its signing key.

use super::{array, public_key};
use crate::api::seal::SealSuite;
use crate::error::ItcError;
use itc_core::encoding::{Decode, Encode};
use itc_core::keys::{Keypair, SigningDomain, SEED_LEN};
use itc_core::seal::{SealContext, SealError, SealSecretKey, SealedPayload};
use itc_core::types::ChainId;
use zeroize::Zeroizing;

/// The sealing key of rotation `key_seq` for `suite` from a 32-byte seed;
/// the library's copy of the seed is wiped.
pub(crate) fn derive_key(
    seed: &[u8],
    suite: SealSuite,
    key_seq: u32,
) -> Result<SealSecretKey, ItcError> {
    let seed = Zeroizing::new(array::<SEED_LEN>(seed, "seed")?);
    Ok(SealSecretKey::derive(&seed, suite.to_core(), key_seq))
}

/// Seal with the OS random generator and encode.
pub(crate) fn seal(
    suite: SealSuite,
    context: &SealContext,
    recipients: &[&[u8]],
    plaintext: &[u8],
) -> Result<Vec<u8>, ItcError> {
    let sealed = itc_core::seal::seal_with_os_rng(suite.to_core(), context, recipients, plaintext)
        .map_err(|error| match error {
            SealError::Randomness => ItcError::Randomness {
                reason: "the operating system's random generator failed".into(),
            },
            other => other.into(),
        })?;
    Ok(sealed.encode())
}

/// Decode `sealed` and open it with `key` if it is bound to `expected`.
pub(crate) fn open(
    key: &SealSecretKey,
    expected: &SealContext,
    sealed: &[u8],
) -> Result<Vec<u8>, ItcError> {
    Ok(SealedPayload::decode(sealed)?.open(key, expected)?)
}

/// Bytes a sealed payload of `plaintext_len` bytes takes with `recipients`
/// recipients (saturating).
pub(crate) fn sealed_len(suite: SealSuite, recipients: usize, plaintext_len: usize) -> usize {
    suite
        .to_core()
        .overhead(recipients)
        .saturating_add(plaintext_len)
}

/// What `subject` signs to bind its sealing `key` of `suite` at `key_seq`.
pub(crate) fn binding_message(
    subject: &[u8],
    suite: SealSuite,
    key_seq: u32,
    key: &[u8],
) -> Result<Vec<u8>, ItcError> {
    let subject = public_key(subject, "subject")?;
    check_public_key(suite, key)?;
    Ok(itc_core::seal::key_binding_message(
        &subject,
        suite.to_core(),
        key_seq,
        key,
    ))
}

/// `device`'s binding signature over its own sealing `key`.
pub(crate) fn binding_signature(
    device: &Keypair,
    chain_id: u32,
    suite: SealSuite,
    key_seq: u32,
    key: &[u8],
) -> Result<[u8; 64], ItcError> {
    check_public_key(suite, key)?;
    let message =
        itc_core::seal::key_binding_message(&device.public(), suite.to_core(), key_seq, key);
    Ok(device
        .sign(SigningDomain::SealKeyBinding, ChainId(chain_id), &message)
        .0)
}

/// A public key of the suite's length, and a valid point.
pub(crate) fn check_public_key(suite: SealSuite, key: &[u8]) -> Result<(), ItcError> {
    let expected = suite.to_core().public_key_len();
    if key.len() != expected {
        return Err(ItcError::invalid_argument(format!(
            "a {suite:?} public key is {expected} bytes, got {}",
            key.len()
        )));
    }
    itc_core::seal::check_public_key(suite.to_core(), key)
        .map_err(|_| ItcError::invalid_argument(format!("not a valid {suite:?} public key")))
}
