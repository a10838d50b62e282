//! Proofs checked against a trusted header: a transaction in the block, a
//! state value present, a state key absent.
//!
//! The header must already be trusted (see [`crate::TrustedState`]); these
//! functions only tie the data to the header's roots.

use alloc::vec::Vec;
use itc_core::encoding::{write_bytes, Decode, DecodeError, Encode, Reader};
use itc_core::firmware::{ProductRecord, ReleaseRecord};
use itc_core::hash::Hash;
use itc_core::ledger::{state_key, value_hash, DeviceRecord, Grant};
use itc_core::merkle::{InclusionProof, MerkleError};
use itc_core::seal::{SealKeyRecord, Suite};
use itc_core::smt::{ProofError, StateProof};
use itc_core::types::{BlockHeader, Transaction};
use itc_core::PublicKey;

/// Longest state value a proof may carry. Ledger records are tens of bytes,
/// an X-Wing sealing key record 1,233; this bounds what a hostile proof can
/// make the device hold.
pub const STATE_VALUE_BYTES_MAX: usize = 1280;

/// Why a proof does not hold against a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpvProofError {
    /// A transaction inclusion proof failed.
    #[error("transaction inclusion: {0}")]
    Inclusion(MerkleError),
    /// A state proof failed.
    #[error("state proof: {0}")]
    State(ProofError),
    /// The proven value bytes are not a valid record of the expected kind.
    #[error("state value is not a valid record")]
    MalformedValue,
    /// The state value is longer than [`STATE_VALUE_BYTES_MAX`].
    #[error("state value too long")]
    ValueTooLong,
    /// The inclusion proof is for a tree of another size than the header's
    /// transaction count, so it would not pin the transaction's position.
    #[error("inclusion proof tree size is not the header's transaction count")]
    TreeSizeMismatch,
}

/// Check that `transaction` is in the block of `header`, at the proof's
/// position.
///
/// # Errors
/// [`SpvProofError::TreeSizeMismatch`] if the proof is for another tree
/// size than `header.tx_count`, [`SpvProofError::Inclusion`] if it does not
/// lead to `tx_root`.
pub fn verify_transaction(
    header: &BlockHeader,
    transaction: &Transaction,
    proof: &InclusionProof,
) -> Result<(), SpvProofError> {
    verify_transaction_hash(header, &transaction.hash(), proof)
}

/// Like [`verify_transaction`] for a transaction known by its hash.
///
/// The proof's `tree_size` must be the header's `tx_count`: the Merkle root
/// alone does not commit to the tree's size, and without this check one
/// transaction could be proven at two different positions.
///
/// # Errors
/// [`SpvProofError::TreeSizeMismatch`] if the proof is for another tree
/// size, [`SpvProofError::Inclusion`] if it does not lead to `tx_root`.
pub fn verify_transaction_hash(
    header: &BlockHeader,
    transaction_hash: &Hash,
    proof: &InclusionProof,
) -> Result<(), SpvProofError> {
    if proof.tree_size != header.tx_count {
        return Err(SpvProofError::TreeSizeMismatch);
    }
    proof
        .verify(transaction_hash, &header.tx_root)
        .map_err(SpvProofError::Inclusion)
}

/// Check that state key `key` holds `value` in the state after `header`.
///
/// # Errors
/// [`SpvProofError::State`] if the proof shows another value, absence, or
/// does not lead to `state_root`.
pub fn verify_state_value(
    header: &BlockHeader,
    key: &Hash,
    value: &[u8],
    proof: &StateProof,
) -> Result<(), SpvProofError> {
    proof
        .verify(&header.state_root, key, Some(&value_hash(value)))
        .map_err(SpvProofError::State)
}

/// Check that state key `key` is absent from the state after `header` (a
/// revoked grant, an unregistered device).
///
/// # Errors
/// [`SpvProofError::State`] if the proof shows the key present or does not
/// lead to `state_root`.
pub fn verify_state_absent(
    header: &BlockHeader,
    key: &Hash,
    proof: &StateProof,
) -> Result<(), SpvProofError> {
    proof
        .verify(&header.state_root, key, None)
        .map_err(SpvProofError::State)
}

/// A state entry as a prover sends it: the raw value (or `None` for absence)
/// and its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntryProof {
    /// The value's canonical bytes, or `None` if the key is absent.
    pub value: Option<Vec<u8>>,
    /// Sparse Merkle proof of the value or of absence.
    pub proof: StateProof,
}

impl StateEntryProof {
    /// Check against `header` and return the proven value (`None` = absent).
    ///
    /// # Errors
    /// [`SpvProofError`] if the value is too long or the proof fails.
    pub fn verify(&self, header: &BlockHeader, key: &Hash) -> Result<Option<&[u8]>, SpvProofError> {
        match &self.value {
            Some(value) => {
                if value.len() > STATE_VALUE_BYTES_MAX {
                    return Err(SpvProofError::ValueTooLong);
                }
                verify_state_value(header, key, value, &self.proof)?;
                Ok(Some(value))
            }
            None => {
                verify_state_absent(header, key, &self.proof)?;
                Ok(None)
            }
        }
    }

    /// The proven grant of `device` to `grantee`, or `None` if the proof
    /// shows there is none (never granted or revoked).
    ///
    /// # Errors
    /// [`SpvProofError`] if the proof fails or the value is not a grant.
    pub fn verify_grant(
        &self,
        header: &BlockHeader,
        device: &PublicKey,
        grantee: &PublicKey,
    ) -> Result<Option<Grant>, SpvProofError> {
        self.verify_record(header, &state_key::grant(device, grantee))
    }

    /// The proven registration of `device`, or `None` if it is not
    /// registered.
    ///
    /// # Errors
    /// [`SpvProofError`] if the proof fails or the value is not a record.
    pub fn verify_device(
        &self,
        header: &BlockHeader,
        device: &PublicKey,
    ) -> Result<Option<DeviceRecord>, SpvProofError> {
        self.verify_record(header, &state_key::device(device))
    }

    /// The proven sealing key of `subject` (an account or a device) for
    /// `suite`, or `None` if it has published none: what a sender seals to,
    /// so a relay cannot substitute its own key.
    ///
    /// # Errors
    /// [`SpvProofError`] if the proof fails or the value is not a key
    /// record of `suite`.
    pub fn verify_seal_key(
        &self,
        header: &BlockHeader,
        subject: &PublicKey,
        suite: Suite,
    ) -> Result<Option<SealKeyRecord>, SpvProofError> {
        let record: Option<SealKeyRecord> =
            self.verify_record(header, &state_key::seal_key(subject, suite))?;
        match record {
            Some(record) if record.suite != suite => Err(SpvProofError::MalformedValue),
            other => Ok(other),
        }
    }

    /// The proven firmware product record, or `None` if the product is not
    /// registered.
    ///
    /// # Errors
    /// [`SpvProofError`] if the proof fails or the value is not a record.
    pub fn verify_product(
        &self,
        header: &BlockHeader,
        product: u64,
    ) -> Result<Option<ProductRecord>, SpvProofError> {
        self.verify_record(header, &state_key::product(product))
    }

    /// The proven current release of a firmware product, or `None` if it
    /// has none.
    ///
    /// # Errors
    /// [`SpvProofError`] if the proof fails or the value is not a record.
    pub fn verify_release(
        &self,
        header: &BlockHeader,
        product: u64,
    ) -> Result<Option<ReleaseRecord>, SpvProofError> {
        self.verify_record(header, &state_key::release(product))
    }

    fn verify_record<T: Decode>(
        &self,
        header: &BlockHeader,
        key: &Hash,
    ) -> Result<Option<T>, SpvProofError> {
        self.verify(header, key)?
            .map(|bytes| T::decode(bytes).map_err(|_| SpvProofError::MalformedValue))
            .transpose()
    }
}

impl Encode for StateEntryProof {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match &self.value {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                write_bytes(out, value);
            }
        }
        self.proof.encode_to(out);
    }
}

impl Decode for StateEntryProof {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let value = match reader.read_u8()? {
            0 => None,
            1 => Some(reader.read_bytes("state value", STATE_VALUE_BYTES_MAX)?),
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "state entry value",
                    tag,
                })
            }
        };
        Ok(StateEntryProof {
            value,
            proof: StateProof::decode_from(reader)?,
        })
    }
}

/// A transaction with the proof that it is in a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionProof {
    /// The transaction.
    pub transaction: Transaction,
    /// Its inclusion under the header's `tx_root`.
    pub inclusion: InclusionProof,
}

impl TransactionProof {
    /// Check against `header`.
    ///
    /// # Errors
    /// [`SpvProofError::Inclusion`] if it is not in the block.
    pub fn verify(&self, header: &BlockHeader) -> Result<(), SpvProofError> {
        verify_transaction(header, &self.transaction, &self.inclusion)
    }
}

impl Encode for TransactionProof {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.transaction.encode_to(out);
        self.inclusion.encode_to(out);
    }
}

impl Decode for TransactionProof {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TransactionProof {
            transaction: Decode::decode_from(reader)?,
            inclusion: Decode::decode_from(reader)?,
        })
    }
}
