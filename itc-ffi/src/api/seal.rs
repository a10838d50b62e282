//! Sealed payloads (HPKE, RFC 9180) and sealing keys on chain, for the
//! UniFFI bindings; the enums [`SealSuite`] and [`SealRefusal`] are shared
//! with the C ABI (`ItcSealSuite`, `ItcSealRefusal`), so each stable number
//! is written once.

use super::keys::Keypair;
use crate::error::ItcError;
use crate::facade::{public_key, seal as facade};
use itc_core::encoding::Decode;
use itc_core::seal::{SealError, SealSecretKey, SealedPayload, Suite};
use itc_core::types::ChainId;
use std::sync::Arc;
use zeroize::Zeroizing;

/// An HPKE suite for sealed payloads. The numbers are the suite bytes of
/// the encoding (stable).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SealSuite {
    /// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305: 32-byte
    /// public keys.
    X25519 = 1,
    /// The X-Wing hybrid KEM (X25519 + ML-KEM-768), HKDF-SHA256,
    /// ChaCha20-Poly1305: 1,216-byte public keys; stays sealed against a
    /// future quantum computer.
    XWing = 2,
}

impl SealSuite {
    /// Every suite.
    ///
    /// (Rust only: not in the C header.)
    /// cbindgen:ignore
    pub const ALL: [SealSuite; 2] = [SealSuite::X25519, SealSuite::XWing];

    /// The suite with number `id`.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] for an unknown number.
    pub fn from_id(id: u8) -> Result<Self, ItcError> {
        match id {
            1 => Ok(SealSuite::X25519),
            2 => Ok(SealSuite::XWing),
            _ => Err(ItcError::invalid_argument(format!(
                "unknown seal suite {id}"
            ))),
        }
    }

    pub(crate) fn to_core(self) -> Suite {
        match self {
            SealSuite::X25519 => Suite::X25519,
            SealSuite::XWing => Suite::XWing,
        }
    }

    pub(crate) fn from_core(suite: Suite) -> Result<Self, ItcError> {
        SealSuite::from_id(suite.id())
    }
}

pub use crate::codes::SealRefusal;

impl From<SealError> for ItcError {
    fn from(error: SealError) -> Self {
        match error.refusal().and_then(SealRefusal::from_core) {
            Some(refusal) => ItcError::SealRefused {
                refusal,
                code: refusal.code(),
                reason: error.to_string(),
            },
            None => ItcError::Internal {
                reason: format!("seal error not known to the bindings: {error}"),
            },
        }
    }
}

/// What a sealed payload is bound to: a payload sealed in one context opens
/// only in the same one.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SealContext {
    /// The chain.
    pub chain_id: u32,
    /// The device the data belongs to (32-byte public key).
    pub device: Vec<u8>,
    /// The position in the device's stream (for a DAG record: the
    /// transaction's sequence).
    pub sequence: u64,
}

impl SealContext {
    pub(crate) fn to_core(&self) -> Result<itc_core::seal::SealContext, ItcError> {
        Ok(itc_core::seal::SealContext {
            chain_id: ChainId(self.chain_id),
            device: public_key(&self.device, "device")?,
            sequence: self.sequence,
        })
    }

    fn from_core(context: &itc_core::seal::SealContext) -> Self {
        SealContext {
            chain_id: context.chain_id.0,
            device: context.device.0.to_vec(),
            sequence: context.sequence,
        }
    }
}

/// What anyone can read from a sealed payload without a key.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SealedInfo {
    /// The suite.
    pub suite: SealSuite,
    /// The context it is bound to.
    pub context: SealContext,
    /// The recipients' key ids (8 bytes each, [`SealKey::key_id`]).
    pub recipient_key_ids: Vec<Vec<u8>>,
    /// The plaintext's length in bytes.
    pub plaintext_len: u32,
}

/// A recipient's sealing key pair (secret), derived from a 32-byte seed,
/// a suite and a rotation number. Publish [`SealKey::public_key`] on chain
/// ([`Payload::PublishSealKey`](super::transaction::Payload::PublishSealKey)).
#[derive(Debug, uniffi::Object)]
pub struct SealKey {
    pub(crate) inner: SealSecretKey,
}

#[uniffi::export]
impl SealKey {
    /// Derive the key of rotation `key_seq` for `suite` from a 32-byte
    /// secret seed (deterministic: one secret, every rotation).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the seed is not 32 bytes.
    #[uniffi::constructor]
    pub fn derive(seed: Vec<u8>, suite: SealSuite, key_seq: u32) -> Result<Arc<Self>, ItcError> {
        let seed = Zeroizing::new(seed);
        let inner = facade::derive_key(&seed, suite, key_seq)?;
        Ok(Arc::new(SealKey { inner }))
    }

    /// Derive the key of rotation `key_seq` for `suite` from a signing key
    /// pair's seed (an account's or a device's: one secret for both).
    #[uniffi::constructor]
    pub fn from_keypair(keypair: Arc<Keypair>, suite: SealSuite, key_seq: u32) -> Arc<Self> {
        let seed = keypair.inner.seed();
        Arc::new(SealKey {
            inner: SealSecretKey::derive(&seed, suite.to_core(), key_seq),
        })
    }

    /// The suite.
    pub fn suite(&self) -> SealSuite {
        // Every suite the bindings derive has a SealSuite.
        SealSuite::from_core(self.inner.suite()).unwrap_or(SealSuite::X25519)
    }

    /// The public key to publish (32 bytes for X25519, 1,216 for X-Wing).
    pub fn public_key(&self) -> Vec<u8> {
        self.inner.public_key()
    }

    /// The key id a payload names its recipients by (8 bytes).
    pub fn key_id(&self) -> Vec<u8> {
        self.inner.key_id().to_vec()
    }

    /// Open an encoded sealed payload, if it is bound to `expected` (the
    /// chain, device and sequence the reader expects).
    ///
    /// # Errors
    /// [`ItcError::Decode`] for bytes that are not a sealed payload,
    /// [`ItcError::InvalidArgument`] for a device key that is not 32 bytes,
    /// [`ItcError::SealRefused`] with [`SealRefusal::ContextMismatch`],
    /// [`SealRefusal::SuiteMismatch`], [`SealRefusal::NotARecipient`] or
    /// [`SealRefusal::OpenFailed`].
    pub fn open(&self, sealed: Vec<u8>, expected: SealContext) -> Result<Vec<u8>, ItcError> {
        facade::open(&self.inner, &expected.to_core()?, &sealed)
    }
}

/// Seal `plaintext` in `context` to each of `recipients` (1..=8 public keys
/// of `suite`, for example proven with
/// [`LightClient::verify_seal_key`](super::light_client::LightClient::verify_seal_key))
/// with the operating system's random generator; returns the encoded sealed
/// payload (encrypted once, the content key wrapped per recipient).
///
/// # Errors
/// [`ItcError::InvalidArgument`] for a device key that is not 32 bytes;
/// [`ItcError::SealRefused`] with [`SealRefusal::NoRecipients`],
/// [`SealRefusal::TooManyRecipients`], [`SealRefusal::PlaintextTooLong`] or
/// [`SealRefusal::InvalidPublicKey`].
#[uniffi::export]
pub fn seal(
    suite: SealSuite,
    context: SealContext,
    recipients: Vec<Vec<u8>>,
    plaintext: Vec<u8>,
) -> Result<Vec<u8>, ItcError> {
    facade::seal(
        suite,
        &context.to_core()?,
        &recipients.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        &plaintext,
    )
}

/// Read what a sealed payload shows without a key: suite, context,
/// recipients' key ids and plaintext length.
///
/// # Errors
/// [`ItcError::Decode`] for bytes that are not a sealed payload.
#[uniffi::export]
pub fn sealed_info(sealed: Vec<u8>) -> Result<SealedInfo, ItcError> {
    let payload = SealedPayload::decode(&sealed)?;
    Ok(SealedInfo {
        suite: SealSuite::from_core(payload.suite)?,
        context: SealContext::from_core(&payload.context),
        recipient_key_ids: payload
            .recipients
            .iter()
            .map(|r| r.key_id.to_vec())
            .collect(),
        plaintext_len: u32::try_from(payload.plaintext_len()).unwrap_or(u32::MAX),
    })
}

/// What a device signs (in the seal-key binding domain) to bind a sealing
/// public key to its signing key `subject`: the subject, the suite, the
/// rotation number and the public key.
///
/// # Errors
/// [`ItcError::InvalidArgument`] if `subject` is not 32 bytes or the public
/// key is not of the suite's length.
#[uniffi::export]
pub fn seal_key_binding_message(
    subject: Vec<u8>,
    suite: SealSuite,
    key_seq: u32,
    public_key: Vec<u8>,
) -> Result<Vec<u8>, ItcError> {
    facade::binding_message(&subject, suite, key_seq, &public_key)
}

/// The device's binding signature over its own sealing key (64 bytes), for
/// [`Payload::PublishSealKey`](super::transaction::Payload::PublishSealKey)
/// with `subject` = the device, sent by its owner. The ledger refuses the
/// key without it, or with a signature for another suite, rotation or key.
///
/// # Errors
/// [`ItcError::InvalidArgument`] if the public key is not of the suite's
/// length.
#[uniffi::export]
pub fn seal_key_binding_signature(
    device: Arc<Keypair>,
    chain_id: u32,
    suite: SealSuite,
    key_seq: u32,
    public_key: Vec<u8>,
) -> Result<Vec<u8>, ItcError> {
    Ok(facade::binding_signature(&device.inner, chain_id, suite, key_seq, &public_key)?.to_vec())
}

/// Bytes a sealed payload adds to its plaintext with `recipients`
/// recipients.
#[uniffi::export]
pub fn sealed_overhead(suite: SealSuite, recipients: u32) -> u64 {
    facade::sealed_len(suite, recipients as usize, 0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_seal_error_has_a_refusal_with_its_own_code() {
        let errors = [
            SealError::NoRecipients,
            SealError::TooManyRecipients(9),
            SealError::PlaintextTooLong(1),
            SealError::InvalidPublicKey,
            SealError::SuiteMismatch,
            SealError::ContextMismatch,
            SealError::NotARecipient,
            SealError::OpenFailed,
            SealError::Encapsulation,
        ];
        for (error, refusal) in errors.iter().zip(SealRefusal::ALL) {
            assert_eq!(
                error.refusal().and_then(SealRefusal::from_core),
                Some(refusal)
            );
        }
    }

    #[test]
    fn suites_match_the_core_numbers() {
        for suite in SealSuite::ALL {
            assert_eq!(suite as u8, suite.to_core().id());
        }
    }
}
