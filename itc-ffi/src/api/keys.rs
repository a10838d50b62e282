//! Keys for the UniFFI bindings.

use super::array;
use crate::error::ItcError;
use itc_core::keys::{PublicKey, Signature};
use itc_core::types::ChainId;
use std::sync::Arc;

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

/// An ed25519 key pair.
#[derive(Debug, uniffi::Object)]
pub struct Keypair {
    pub(crate) inner: itc_core::keys::Keypair,
}

#[uniffi::export]
impl Keypair {
    /// Derive the key pair from a 32-byte secret seed (deterministic).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the seed is not 32 bytes.
    #[uniffi::constructor]
    pub fn from_seed(seed: Vec<u8>) -> Result<Arc<Self>, ItcError> {
        Ok(Arc::new(Keypair {
            inner: itc_core::keys::Keypair::from_seed(array(&seed, "seed")?),
        }))
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
    let public_key = PublicKey(array(&public_key, "public key")?);
    let signature = Signature(array(&signature, "signature")?);
    public_key.verify(domain.into(), ChainId(chain_id), &message, &signature)?;
    Ok(())
}
