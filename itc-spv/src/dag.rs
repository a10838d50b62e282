//! Finality of a DAG side-chain transaction under a main-chain anchor.
//!
//! A main-chain block finalizes a cone of DAG transactions through its
//! anchor. Every validator orders the newly confirmed cone the same way
//! (white-flag), applies the first valid transaction of each conflict and
//! ignores the rest, then commits to two RFC 6962 Merkle trees over DAG
//! transaction ids in that order: the *confirmed* set (the whole cone) and
//! the *applied* set (those whose effects reached the ledger).
//!
//! The header's `dag_anchor_root` is [`AnchorCommitment::hash`]. A
//! [`DagFinalityProof`] carries the commitment and the transaction's
//! position in the confirmed tree (and optionally in the applied tree), so a
//! light client needs only the trusted header to check it.
//!
//! This module defines the format itc-dag is to produce; the encoding of
//! [`AnchorCommitment`] (113 bytes) can never equal the encoding of an
//! `itc_core::types::DagAnchor` tip list (`4 + 32 n` bytes), so the two
//! cannot be confused under the shared [`Domain::DagAnchor`].

use alloc::vec::Vec;
use itc_core::encoding::{write_option, Decode, DecodeError, Encode, Reader};
use itc_core::hash::{Domain, Hash};
use itc_core::merkle::{InclusionProof, MerkleError};
use itc_core::types::BlockHeader;

/// Version byte of [`AnchorCommitment`]'s encoding.
pub const ANCHOR_COMMITMENT_VERSION: u8 = 1;

/// What a header's `dag_anchor_root` commits to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnchorCommitment {
    /// Hash of the anchor's tip list (`DagAnchor::hash`).
    pub tips_hash: Hash,
    /// RFC 6962 root of the newly confirmed cone's transaction ids, in
    /// white-flag order.
    pub confirmed_root: Hash,
    /// Number of leaves of the confirmed tree.
    pub confirmed_count: u64,
    /// RFC 6962 root of the ids of the confirmed transactions that were
    /// applied (conflict losers left out), in the same order.
    pub applied_root: Hash,
    /// Number of leaves of the applied tree.
    pub applied_count: u64,
}

impl AnchorCommitment {
    /// The value of `BlockHeader::dag_anchor_root` for this anchor.
    pub fn hash(&self) -> Hash {
        Hash::of(Domain::DagAnchor, &self.encode())
    }
}

impl Encode for AnchorCommitment {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(ANCHOR_COMMITMENT_VERSION);
        self.tips_hash.encode_to(out);
        self.confirmed_root.encode_to(out);
        self.confirmed_count.encode_to(out);
        self.applied_root.encode_to(out);
        self.applied_count.encode_to(out);
    }
}

impl Decode for AnchorCommitment {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = reader.read_u8()?;
        if version != ANCHOR_COMMITMENT_VERSION {
            return Err(DecodeError::InvalidTag {
                what: "anchor commitment version",
                tag: version,
            });
        }
        let commitment = AnchorCommitment {
            tips_hash: Decode::decode_from(reader)?,
            confirmed_root: Decode::decode_from(reader)?,
            confirmed_count: reader.read_u64()?,
            applied_root: Decode::decode_from(reader)?,
            applied_count: reader.read_u64()?,
        };
        if commitment.applied_count > commitment.confirmed_count {
            return Err(DecodeError::InvalidValue(
                "anchor applies more transactions than it confirms",
            ));
        }
        Ok(commitment)
    }
}

/// How final a DAG transaction is proven to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DagFinality {
    /// Confirmed by the anchor; it may have lost a conflict and been ignored.
    Confirmed,
    /// Confirmed and applied to the ledger.
    Applied,
}

/// Why a DAG finality proof does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DagProofError {
    /// The anchor commitment is not the header's `dag_anchor_root`.
    #[error("anchor does not match the header")]
    AnchorMismatch,
    /// A proof's tree size is not the count the anchor commits to.
    #[error("proof tree size does not match the anchor")]
    TreeSizeMismatch,
    /// The transaction is not in the confirmed set.
    #[error("not in the confirmed set: {0}")]
    NotConfirmed(MerkleError),
    /// The transaction is not in the applied set.
    #[error("not in the applied set: {0}")]
    NotApplied(MerkleError),
}

/// Proof that a DAG transaction is final under the anchor of a header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DagFinalityProof {
    /// The anchor's commitment.
    pub anchor: AnchorCommitment,
    /// The transaction id's position in the confirmed tree.
    pub confirmed: InclusionProof,
    /// Its position in the applied tree, when the prover claims it applied.
    pub applied: Option<InclusionProof>,
}

impl DagFinalityProof {
    /// Check that the DAG transaction `transaction_id` (its
    /// [`Domain::DagTransaction`] hash) is final under `header`, which the
    /// caller already trusts.
    ///
    /// # Errors
    /// [`DagProofError`] naming the first check that failed.
    pub fn verify(
        &self,
        header: &BlockHeader,
        transaction_id: &Hash,
    ) -> Result<DagFinality, DagProofError> {
        self.verify_against_root(&header.dag_anchor_root, transaction_id)
    }

    /// Like [`DagFinalityProof::verify`], against a trusted
    /// `dag_anchor_root` value rather than a whole header.
    ///
    /// # Errors
    /// [`DagProofError`] naming the first check that failed.
    pub fn verify_against_root(
        &self,
        dag_anchor_root: &Hash,
        transaction_id: &Hash,
    ) -> Result<DagFinality, DagProofError> {
        if self.anchor.hash() != *dag_anchor_root {
            return Err(DagProofError::AnchorMismatch);
        }
        if self.confirmed.tree_size != self.anchor.confirmed_count {
            return Err(DagProofError::TreeSizeMismatch);
        }
        self.confirmed
            .verify(transaction_id, &self.anchor.confirmed_root)
            .map_err(DagProofError::NotConfirmed)?;
        let Some(applied) = &self.applied else {
            return Ok(DagFinality::Confirmed);
        };
        if applied.tree_size != self.anchor.applied_count {
            return Err(DagProofError::TreeSizeMismatch);
        }
        applied
            .verify(transaction_id, &self.anchor.applied_root)
            .map_err(DagProofError::NotApplied)?;
        Ok(DagFinality::Applied)
    }
}

impl Encode for DagFinalityProof {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.anchor.encode_to(out);
        self.confirmed.encode_to(out);
        write_option(out, &self.applied);
    }
}

impl Decode for DagFinalityProof {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(DagFinalityProof {
            anchor: Decode::decode_from(reader)?,
            confirmed: Decode::decode_from(reader)?,
            applied: reader.read_option()?,
        })
    }
}
