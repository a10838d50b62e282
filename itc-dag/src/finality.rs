//! What an anchor commits to, and the proof that a DAG transaction is final.
//!
//! When a main-chain block carries a [`DagAnchor`], every validator computes
//! the anchor's newly confirmed cone, orders it by white-flag
//! ([`crate::Tangle::compute_confirmation`]) and commits to two RFC 6962
//! Merkle trees over transaction ids in that order:
//!
//! * `confirmed_root`: the whole newly confirmed cone;
//! * `applied_root`: the transactions that were applied (conflict losers and
//!   overspends left out).
//!
//! [`AnchorCommitment`] bundles both with the anchor's tip hash. Its encoding
//! and hash are byte-identical to itc-spv's `AnchorCommitment`, so a light
//! client checks a [`DagFinalityProof`] produced here against a header whose
//! `dag_anchor_root` is [`AnchorCommitment::hash`].
//!
//! Note: today `BlockHeader::dag_anchor_root` is `DagAnchor::hash()`, which
//! does not commit to the roots; see the crate docs for the change itc-core
//! needs.

use itc_core::encoding::{write_option, Decode, DecodeError, Encode, Reader};
use itc_core::hash::{Domain, Hash};
use itc_core::merkle::{InclusionProof, MerkleError};
use itc_core::types::DagAnchor;

use crate::ledger::{IgnoredReason, LedgerChanges};

/// Version byte of [`AnchorCommitment`]'s encoding.
pub const ANCHOR_COMMITMENT_VERSION: u8 = 1;

/// What a header's `dag_anchor_root` should commit to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnchorCommitment {
    /// Hash of the anchor's tip list ([`DagAnchor::hash`]).
    pub tips_hash: Hash,
    /// RFC 6962 root of the newly confirmed cone's ids, in white-flag order.
    pub confirmed_root: Hash,
    /// Number of leaves of the confirmed tree.
    pub confirmed_count: u64,
    /// RFC 6962 root of the applied ids, in the same order.
    pub applied_root: Hash,
    /// Number of leaves of the applied tree.
    pub applied_count: u64,
}

impl AnchorCommitment {
    /// The value for `BlockHeader::dag_anchor_root`.
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
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.read_u8()?;
        if version != ANCHOR_COMMITMENT_VERSION {
            return Err(DecodeError::InvalidTag {
                what: "anchor commitment version",
                tag: version,
            });
        }
        let c = AnchorCommitment {
            tips_hash: Decode::decode_from(r)?,
            confirmed_root: Decode::decode_from(r)?,
            confirmed_count: r.read_u64()?,
            applied_root: Decode::decode_from(r)?,
            applied_count: r.read_u64()?,
        };
        if c.applied_count > c.confirmed_count {
            return Err(DecodeError::InvalidValue(
                "anchor applies more transactions than it confirms",
            ));
        }
        Ok(c)
    }
}

/// How final a DAG transaction is proven to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DagFinality {
    /// Confirmed by the anchor; it may have lost a conflict and been ignored.
    Confirmed,
    /// Confirmed and applied.
    Applied,
}

/// Why a DAG finality proof does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DagProofError {
    /// The commitment is not the expected anchor root.
    #[error("anchor does not match the header")]
    AnchorMismatch,
    /// A proof's tree size is not the count the anchor commits to.
    #[error("proof tree size does not match the anchor")]
    TreeSizeMismatch,
    /// Not in the confirmed set.
    #[error("not in the confirmed set: {0}")]
    NotConfirmed(MerkleError),
    /// Not in the applied set.
    #[error("not in the applied set: {0}")]
    NotApplied(MerkleError),
}

/// Proof that a DAG transaction is final under an anchor; the same format
/// and checks as itc-spv's `DagFinalityProof`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DagFinalityProof {
    /// The anchor's commitment.
    pub anchor: AnchorCommitment,
    /// The id's position in the confirmed tree.
    pub confirmed: InclusionProof,
    /// Its position in the applied tree, when it was applied.
    pub applied: Option<InclusionProof>,
}

impl DagFinalityProof {
    /// Check that `transaction_id` is final under the anchor whose
    /// commitment hash is `anchor_root` (a trusted header's
    /// `dag_anchor_root`, once headers carry [`AnchorCommitment::hash`]).
    ///
    /// # Errors
    /// [`DagProofError`] naming the first check that failed.
    pub fn verify(
        &self,
        anchor_root: &Hash,
        transaction_id: &Hash,
    ) -> Result<DagFinality, DagProofError> {
        if self.anchor.hash() != *anchor_root {
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
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(DagFinalityProof {
            anchor: Decode::decode_from(r)?,
            confirmed: Decode::decode_from(r)?,
            applied: r.read_option()?,
        })
    }
}

/// The white-flag result of one anchor, computed without changing the
/// tangle ([`crate::Tangle::compute_confirmation`]) and committed with
/// [`crate::Tangle::apply_confirmation`].
#[derive(Clone, Debug)]
#[must_use = "a confirmation changes nothing until applied"]
pub struct Confirmation {
    /// Main-chain height of the block carrying the anchor.
    pub height: u64,
    /// The anchor.
    pub anchor: DagAnchor,
    /// Newly confirmed ids in white-flag order.
    pub order: Vec<Hash>,
    /// For each entry of `order`: `None` if applied, else why it was ignored.
    pub outcomes: Vec<Option<IgnoredReason>>,
    /// The commitment that goes into the header.
    pub commitment: AnchorCommitment,
    pub(crate) slots: Vec<u32>,
    pub(crate) changes: LedgerChanges,
    pub(crate) base_epoch: u64,
}

impl Confirmation {
    /// Ids of the applied transactions, in order.
    pub fn applied(&self) -> impl Iterator<Item = &Hash> {
        self.order
            .iter()
            .zip(&self.outcomes)
            .filter(|(_, o)| o.is_none())
            .map(|(id, _)| id)
    }

    /// Ids of the ignored transactions with their reasons, in order.
    pub fn ignored(&self) -> impl Iterator<Item = (&Hash, IgnoredReason)> {
        self.order
            .iter()
            .zip(&self.outcomes)
            .filter_map(|(id, o)| o.map(|reason| (id, reason)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_core::merkle;

    #[test]
    fn proof_checks_roots_counts_and_anchor() {
        let ids: Vec<Hash> = (0u8..5)
            .map(|i| Hash::of(Domain::DagTransaction, &[i]))
            .collect();
        let applied: Vec<Hash> = vec![ids[0], ids[2], ids[4]];
        let anchor = AnchorCommitment {
            tips_hash: DagAnchor { tips: vec![ids[4]] }.hash(),
            confirmed_root: merkle::root(&ids),
            confirmed_count: 5,
            applied_root: merkle::root(&applied),
            applied_count: 3,
        };
        let proof = DagFinalityProof {
            anchor,
            confirmed: merkle::prove(&ids, 2).unwrap(),
            applied: Some(merkle::prove(&applied, 1).unwrap()),
        };
        assert_eq!(
            proof.verify(&anchor.hash(), &ids[2]),
            Ok(DagFinality::Applied)
        );
        assert_eq!(DagFinalityProof::decode(&proof.encode()), Ok(proof.clone()));
        assert_eq!(
            proof.verify(&Hash::ZERO, &ids[2]),
            Err(DagProofError::AnchorMismatch)
        );
        assert!(matches!(
            proof.verify(&anchor.hash(), &ids[1]),
            Err(DagProofError::NotConfirmed(_))
        ));
        let confirmed_only = DagFinalityProof {
            applied: None,
            ..proof.clone()
        };
        assert_eq!(
            confirmed_only.verify(&anchor.hash(), &ids[2]),
            Ok(DagFinality::Confirmed)
        );
        let mut wrong_size = proof.clone();
        wrong_size.confirmed.tree_size = 4;
        assert_eq!(
            wrong_size.verify(&anchor.hash(), &ids[2]),
            Err(DagProofError::TreeSizeMismatch)
        );
        assert_eq!(AnchorCommitment::decode(&anchor.encode()), Ok(anchor));
        assert_eq!(anchor.encode().len(), 113);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn commitment_and_proof_round_trip(
                leaves in proptest::collection::vec(any::<[u8; 32]>(), 1..40),
                pick in any::<proptest::sample::Index>(),
                applied_every in 1usize..4,
            ) {
                let ids: Vec<Hash> = leaves.into_iter().map(Hash).collect();
                let applied: Vec<Hash> = ids.iter().step_by(applied_every).copied().collect();
                let anchor = AnchorCommitment {
                    tips_hash: Hash::ZERO,
                    confirmed_root: merkle::root(&ids),
                    confirmed_count: ids.len() as u64,
                    applied_root: merkle::root(&applied),
                    applied_count: applied.len() as u64,
                };
                let i = pick.index(ids.len());
                let proof = DagFinalityProof {
                    anchor,
                    confirmed: merkle::prove(&ids, i).unwrap(),
                    applied: (i % applied_every == 0)
                        .then(|| merkle::prove(&applied, i / applied_every).unwrap()),
                };
                let bytes = proof.encode();
                prop_assert_eq!(DagFinalityProof::decode(&bytes).unwrap(), proof.clone());
                let expected = if i % applied_every == 0 { DagFinality::Applied } else { DagFinality::Confirmed };
                prop_assert_eq!(proof.verify(&anchor.hash(), &ids[i]), Ok(expected));
            }

            #[test]
            fn decoding_arbitrary_proof_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                if let Ok(proof) = DagFinalityProof::decode(&bytes) {
                    prop_assert_eq!(proof.encode(), bytes);
                }
            }
        }
    }
}
