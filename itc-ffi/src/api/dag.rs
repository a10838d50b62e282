//! DAG side-chain transactions: build, sign, proof of work with an
//! iteration bound, encode, decode.

use super::keys::Keypair;
use super::light_client::lock;
use crate::error::ItcError;
use crate::facade::dag;
use itc_core::encoding::Encode;
use std::sync::{Arc, Mutex};

/// What a DAG transaction carries.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum DagPayload {
    /// An opaque data record (a reading), at most 1024 bytes.
    Data {
        /// The record.
        record: Vec<u8>,
    },
    /// A micro-transfer of DAG balance to `to` (32-byte key), more than zero.
    Transfer {
        /// Receiver.
        to: Vec<u8>,
        /// Amount in base units.
        amount: u64,
    },
    /// A command for a device, at most 256 bytes.
    Command {
        /// The device addressed (32-byte key).
        device: Vec<u8>,
        /// The command bytes (product-defined).
        command: Vec<u8>,
    },
    /// A sealed data record: an encoded sealed payload
    /// ([`seal`](super::seal::seal)) whose context is this transaction's
    /// chain, issuer (as the device) and sequence, with at most 1,024 bytes
    /// of plaintext and 4 recipients. Validators learn only its size.
    Sealed {
        /// The encoded sealed payload.
        payload: Vec<u8>,
    },
}

impl DagPayload {
    pub(crate) fn to_core(&self) -> Result<itc_dag::DagPayload, ItcError> {
        Ok(match self {
            DagPayload::Data { record } => dag::data(record),
            DagPayload::Transfer { to, amount } => dag::transfer(to, *amount)?,
            DagPayload::Command { device, command } => dag::command(device, command)?,
            DagPayload::Sealed { payload } => dag::sealed(payload)?,
        })
    }

    fn from_core(payload: &itc_dag::DagPayload) -> Result<Self, ItcError> {
        Ok(match payload {
            itc_dag::DagPayload::Data { record } => DagPayload::Data {
                record: record.clone(),
            },
            itc_dag::DagPayload::Transfer { to, amount } => DagPayload::Transfer {
                to: to.0.to_vec(),
                amount: amount.0,
            },
            itc_dag::DagPayload::Command { device, command } => DagPayload::Command {
                device: device.0.to_vec(),
                command: command.clone(),
            },
            itc_dag::DagPayload::Sealed { payload } => DagPayload::Sealed {
                payload: payload.encode(),
            },
            _ => {
                return Err(ItcError::Internal {
                    reason: "dag payload kind not supported by the bindings".into(),
                })
            }
        })
    }
}

/// Proof-of-work bits the network's default rules require from an issuer
/// at `security_level` (0..=3) that had `recent` transactions accepted in
/// the current window.
///
/// # Errors
/// [`ItcError::InvalidArgument`] for a level above 3.
#[uniffi::export]
pub fn dag_required_pow_bits(security_level: u8, recent: u32) -> Result<u32, ItcError> {
    dag::required_pow_bits(security_level, recent)
}

/// A DAG side-chain transaction. Its proof-of-work nonce changes only
/// through [`DagTransaction::solve_pow`].
#[derive(Debug, uniffi::Object)]
pub struct DagTransaction {
    pub(crate) inner: Mutex<itc_dag::DagTransaction>,
}

impl DagTransaction {
    pub(crate) fn wrap(inner: itc_dag::DagTransaction) -> Arc<Self> {
        Arc::new(DagTransaction {
            inner: Mutex::new(inner),
        })
    }
}

#[uniffi::export]
impl DagTransaction {
    /// Build and sign a DAG transaction approving `parents` (1..=8 ids of
    /// 32 bytes; sorted and deduplicated here), with nonce 0. Run
    /// [`DagTransaction::solve_pow`] before sending.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] for a malformed parent list or payload
    /// (a sealed record bound to another chain, issuer or sequence, or over
    /// the DAG's caps), [`ItcError::Decode`] for sealed bytes that are not a
    /// sealed payload.
    #[uniffi::constructor]
    pub fn new_signed(
        issuer: Arc<Keypair>,
        chain_id: u32,
        parents: Vec<Vec<u8>>,
        sequence: u64,
        payload: DagPayload,
    ) -> Result<Arc<Self>, ItcError> {
        let parents = parents.iter().map(Vec::as_slice);
        let payload = || payload.to_core();
        Ok(Self::wrap(dag::sign(
            &issuer.inner,
            chain_id,
            parents,
            sequence,
            payload,
        )?))
    }

    /// Decode canonical bytes (strict). Neither signature nor work is
    /// checked.
    ///
    /// # Errors
    /// [`ItcError::Decode`].
    #[uniffi::constructor]
    pub fn decode(bytes: Vec<u8>) -> Result<Arc<Self>, ItcError> {
        Ok(Self::wrap(dag::decode(&bytes)?))
    }

    /// Search nonces, from the current one, for a proof of work of at least
    /// `bits` leading zero bits, trying at most `iterations_max`; returns
    /// the nonce found.
    ///
    /// # Errors
    /// [`ItcError::PowExhausted`] if the budget ran out; the nonce then
    /// points past the last one tried, so calling again resumes.
    pub fn solve_pow(&self, bits: u32, iterations_max: u64) -> Result<u64, ItcError> {
        dag::solve_pow(&mut lock(&self.inner), bits, iterations_max)
    }

    /// Leading zero bits of the current proof-of-work value.
    pub fn pow_bits(&self) -> u32 {
        lock(&self.inner).pow_bits()
    }

    /// The proof-of-work nonce.
    pub fn nonce(&self) -> u64 {
        lock(&self.inner).nonce
    }

    /// The transaction's id (32 bytes; changes with the nonce).
    pub fn id(&self) -> Vec<u8> {
        lock(&self.inner).id().0.to_vec()
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        lock(&self.inner).encode()
    }

    /// Check the issuer's signature.
    ///
    /// # Errors
    /// [`ItcError::InvalidSignature`] or [`ItcError::InvalidPublicKey`].
    pub fn verify_signature(&self) -> Result<(), ItcError> {
        lock(&self.inner).verify_signature()?;
        Ok(())
    }

    /// The issuer's public key.
    pub fn issuer(&self) -> Vec<u8> {
        lock(&self.inner).issuer.0.to_vec()
    }

    /// The approved parents, in canonical (ascending) order.
    pub fn parents(&self) -> Vec<Vec<u8>> {
        lock(&self.inner)
            .parents
            .iter()
            .map(|p| p.0.to_vec())
            .collect()
    }

    /// The issuer's sequence number.
    pub fn sequence(&self) -> u64 {
        lock(&self.inner).sequence
    }

    /// The network id.
    pub fn chain_id(&self) -> u32 {
        lock(&self.inner).chain_id.0
    }

    /// What it carries.
    ///
    /// # Errors
    /// [`ItcError::Internal`] for a payload kind newer than the bindings.
    pub fn payload(&self) -> Result<DagPayload, ItcError> {
        DagPayload::from_core(&lock(&self.inner).payload)
    }
}
