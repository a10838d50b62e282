//! Keys for the UniFFI bindings.

use crate::error::ItcError;
use itc_core::types::ChainId;
use std::sync::Arc;
use zeroize::Zeroizing;

/// What a signature is for. A signature made for one purpose never verifies
/// for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SigningDomain {
    /// A main-chain transaction.
    Transaction,
    /// A consensus vote.
    Vote,
    /// Another consensus message.
    Consensus,
    /// A device's proof of pairing (the device signs its owner's key and its
    /// security level: [`pairing_message`](super::transaction::pairing_message)).
    DevicePairing,
    /// A command sent to a device by a grantee.
    DeviceCommand,
    /// A DAG side-chain transaction.
    DagTransaction,
}

impl SigningDomain {
    /// The domain with stable number `code` (0, 1, ... in declaration
    /// order: the values in Python and the C ABI's `ItcSigningDomain`),
    /// `None` for an unknown number.
    pub fn from_code(code: u32) -> Option<Self> {
        // Not an associated constant: cbindgen would declare the type in
        // the C header.
        let all = [
            SigningDomain::Transaction,
            SigningDomain::Vote,
            SigningDomain::Consensus,
            SigningDomain::DevicePairing,
            SigningDomain::DeviceCommand,
            SigningDomain::DagTransaction,
        ];
        all.get(usize::try_from(code).ok()?).copied()
    }
}

impl From<SigningDomain> for itc_core::keys::SigningDomain {
    fn from(domain: SigningDomain) -> Self {
        use itc_core::keys::SigningDomain as Core;
        match domain {
            SigningDomain::Transaction => Core::Transaction,
            SigningDomain::Vote => Core::Vote,
            SigningDomain::Consensus => Core::Consensus,
            SigningDomain::DevicePairing => Core::DevicePairing,
            SigningDomain::DeviceCommand => Core::DeviceCommand,
            SigningDomain::DagTransaction => Core::DagTransaction,
        }
    }
}

/// An ed25519 key pair. Its secret key is wiped when the last reference to
/// it is released.
#[derive(Debug, uniffi::Object)]
pub struct Keypair {
    pub(crate) inner: itc_core::keys::Keypair,
}

#[uniffi::export]
impl Keypair {
    /// Derive the key pair from a 32-byte secret seed (deterministic).
    ///
    /// The library wipes its own copies of the seed; the caller's bytes are
    /// the caller's to wipe, and the binding runtime's transfer buffer is
    /// freed without being wiped.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the seed is not 32 bytes or is all
    /// zeros.
    #[uniffi::constructor]
    pub fn from_seed(seed: Vec<u8>) -> Result<Arc<Self>, ItcError> {
        // Wiped on every path, errors included.
        let seed = Zeroizing::new(seed);
        let inner = crate::facade::keys::keypair_from_seed(&seed)?;
        Ok(Arc::new(Keypair { inner }))
    }

    /// A new key pair from the operating system's randomness.
    ///
    /// # Errors
    /// [`ItcError::Randomness`] if the system generator fails.
    #[uniffi::constructor]
    pub fn generate() -> Result<Arc<Self>, ItcError> {
        Ok(Arc::new(Keypair {
            inner: crate::generate_keypair()?,
        }))
    }

    /// The 32-byte secret seed, for export. Keep it secret.
    ///
    /// The returned bytes are the caller's to wipe (Kotlin: `fill(0)` on the
    /// `ByteArray`; a Python `bytes` object is immutable and cannot be
    /// wiped). On the way out the seed passes through the binding runtime's
    /// transfer buffers, which are freed without being wiped: export a seed
    /// only when it must leave the process (backup, provisioning), and keep
    /// the key pair object otherwise.
    pub fn seed(&self) -> Vec<u8> {
        self.inner.seed().to_vec()
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> Vec<u8> {
        self.inner.public().0.to_vec()
    }

    /// Sign `message` for `domain` on chain `chain_id` (64 bytes,
    /// deterministic).
    pub fn sign(&self, domain: SigningDomain, chain_id: u32, message: Vec<u8>) -> Vec<u8> {
        self.inner
            .sign(domain.into(), ChainId(chain_id), &message)
            .0
            .to_vec()
    }
}

/// Verify a domain- and chain-bound signature strictly.
///
/// # Errors
/// [`ItcError::InvalidSignature`] if it does not verify,
/// [`ItcError::InvalidPublicKey`] for a key that is not a valid point,
/// [`ItcError::InvalidArgument`] for wrong lengths.
#[uniffi::export]
pub fn verify(
    public_key: Vec<u8>,
    domain: SigningDomain,
    chain_id: u32,
    message: Vec<u8>,
    signature: Vec<u8>,
) -> Result<(), ItcError> {
    crate::facade::keys::verify(&public_key, domain.into(), chain_id, &message, &signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_of_the_wrong_length_is_refused() {
        for len in [0, 31, 33] {
            assert!(matches!(
                Keypair::from_seed(vec![1; len]),
                Err(ItcError::InvalidArgument { .. })
            ));
        }
        // The all-zero seed (an uninitialised buffer) is a typed refusal,
        // not a panic inside ed25519-compact.
        assert!(matches!(
            Keypair::from_seed(vec![0; 32]),
            Err(ItcError::InvalidArgument { .. })
        ));
    }

    #[test]
    fn generated_seed_exports_and_imports_again() {
        let generated = Keypair::generate().unwrap();
        let again = Keypair::from_seed(generated.seed()).unwrap();
        assert_eq!(again.public_key(), generated.public_key());
        assert_ne!(Keypair::generate().unwrap().seed(), generated.seed());
        let message = b"same key, same signature".to_vec();
        assert_eq!(
            again.sign(SigningDomain::Transaction, 1, message.clone()),
            generated.sign(SigningDomain::Transaction, 1, message)
        );
    }
}
