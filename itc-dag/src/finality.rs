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
//! [`AnchorCommitment`] (itc-spv's type, re-exported) bundles both with the
//! anchor's tip hash, so a light client checks a [`DagFinalityProof`] produced here against a header whose
//! `dag_anchor_root` is [`AnchorCommitment::hash`] (see [`crate::anchoring`]
//! for how itc-pbft blocks carry it).

use itc_core::hash::Hash;
use itc_core::types::DagAnchor;

use crate::ledger::{IgnoredReason, LedgerChanges};

// The commitment and the proof are the light client's types: one
// definition, so the bytes the DAG produces are the bytes itc-spv checks.
pub use itc_spv::dag::{
    AnchorCommitment, DagFinality, DagFinalityProof, DagProofError, ANCHOR_COMMITMENT_VERSION,
};

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
    use itc_core::encoding::{Decode, Encode};
    use itc_core::hash::Domain;
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
            proof.verify_against_root(&anchor.hash(), &ids[2]),
            Ok(DagFinality::Applied)
        );
        assert_eq!(DagFinalityProof::decode(&proof.encode()), Ok(proof.clone()));
        assert_eq!(
            proof.verify_against_root(&Hash::ZERO, &ids[2]),
            Err(DagProofError::AnchorMismatch)
        );
        assert!(matches!(
            proof.verify_against_root(&anchor.hash(), &ids[1]),
            Err(DagProofError::NotConfirmed(_))
        ));
        let confirmed_only = DagFinalityProof {
            applied: None,
            ..proof.clone()
        };
        assert_eq!(
            confirmed_only.verify_against_root(&anchor.hash(), &ids[2]),
            Ok(DagFinality::Confirmed)
        );
        let mut wrong_size = proof.clone();
        wrong_size.confirmed.tree_size = 4;
        assert_eq!(
            wrong_size.verify_against_root(&anchor.hash(), &ids[2]),
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
                prop_assert_eq!(proof.verify_against_root(&anchor.hash(), &ids[i]), Ok(expected));
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
