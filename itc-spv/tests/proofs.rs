//! Transaction, state and DAG finality proofs against trusted headers; fork
//! evidence.

mod common;

use common::*;
use itc_core::encoding::{Decode, Encode};
use itc_core::hash::{Domain, Hash};
use itc_core::ledger::{state_key, Grant};
use itc_core::merkle;
use itc_core::types::{Block, Permissions};
use itc_spv::{
    detect_fork, verify_state_absent, verify_state_value, verify_transaction, AnchorCommitment,
    DagFinality, DagFinalityProof, DagProofError, ForkError, ForkEvidence, HeaderUpdate,
    InvalidReason, SpvProofError, TransactionProof,
};

#[test]
fn transaction_in_the_block_is_proven_against_tx_root() {
    let mut chain = LedgerChain::new();
    let register = chain.register_lamp();
    let grant = chain.grant(Permissions::SWITCH, 50);
    let revoke = chain.revoke();
    let update = chain.apply(vec![register, grant, revoke]);
    let transactions = &chain.blocks[0];
    let leaves: Vec<Hash> = transactions.iter().map(|t| t.hash()).collect();
    assert_eq!(Block::compute_tx_root(transactions), update.header.tx_root);
    for (index, transaction) in transactions.iter().enumerate() {
        let proof = TransactionProof {
            transaction: transaction.clone(),
            inclusion: merkle::prove(&leaves, index).unwrap(),
        };
        assert_eq!(proof.verify(&update.header), Ok(()));
        assert_eq!(TransactionProof::decode(&proof.encode()), Ok(proof.clone()));
        let other = &transactions[(index + 1) % transactions.len()];
        assert!(matches!(
            verify_transaction(&update.header, other, &proof.inclusion),
            Err(SpvProofError::Inclusion(_))
        ));
    }
}

#[test]
fn grant_value_is_proven_present_and_decoded() {
    let mut chain = LedgerChain::with_granted_lamp(77);
    let header = chain.update_at(1).header.clone();
    let (lamp, guest) = (chain.lamp.public(), chain.guest.public());
    let entry = chain.prove(&state_key::grant(&lamp, &guest));
    let grant: Grant = entry.verify_grant(&header, &lamp, &guest).unwrap().unwrap();
    assert_eq!(grant.expiry_height, 77);
    assert_eq!(grant.permissions, Permissions::SWITCH);
    assert_eq!(grant.granted_by, chain.owner.public());
    let value = entry.value.as_ref().unwrap();
    assert!(verify_state_value(
        &header,
        &state_key::grant(&lamp, &guest),
        value,
        &entry.proof
    )
    .is_ok());
    // The same proof says nothing about another key or another root.
    assert!(verify_state_value(&header, &state_key::device(&lamp), value, &entry.proof).is_err());
    let mut other_header = header.clone();
    other_header.state_root = Hash([1; 32]);
    assert!(entry.verify_grant(&other_header, &lamp, &guest).is_err());
}

#[test]
fn revoked_grant_is_proven_absent() {
    let mut chain = LedgerChain::with_granted_lamp(77);
    let revoke = chain.revoke();
    let update = chain.apply(vec![revoke]);
    let (lamp, guest) = (chain.lamp.public(), chain.guest.public());
    let key = state_key::grant(&lamp, &guest);
    let entry = chain.prove(&key);
    assert!(entry.value.is_none());
    assert!(verify_state_absent(&update.header, &key, &entry.proof).is_ok());
    assert_eq!(entry.verify_grant(&update.header, &lamp, &guest), Ok(None));
    // Absence at height 2 does not hold at height 1, where the grant exists.
    assert!(verify_state_absent(&chain.update_at(1).header, &key, &entry.proof).is_err());
}

#[test]
fn value_that_is_not_a_grant_is_malformed() {
    let mut chain = LedgerChain::with_granted_lamp(77);
    let header = chain.update_at(1).header.clone();
    let lamp = chain.lamp.public();
    // The device record, offered as if it were a grant under the device key.
    let entry = chain.prove(&state_key::device(&lamp));
    assert!(entry.verify_device(&header, &lamp).unwrap().is_some());
    let as_grant = entry.verify_record_as_grant_for_test(&header, &lamp);
    assert_eq!(as_grant, Err(SpvProofError::MalformedValue));
}

/// Helper: decode the device record's proven bytes as a grant.
trait AsGrant {
    fn verify_record_as_grant_for_test(
        &self,
        header: &itc_core::types::BlockHeader,
        lamp: &itc_core::PublicKey,
    ) -> Result<Grant, SpvProofError>;
}

impl AsGrant for itc_spv::StateEntryProof {
    fn verify_record_as_grant_for_test(
        &self,
        header: &itc_core::types::BlockHeader,
        lamp: &itc_core::PublicKey,
    ) -> Result<Grant, SpvProofError> {
        let bytes = self.verify(header, &state_key::device(lamp))?.unwrap();
        Grant::decode(bytes).map_err(|_| SpvProofError::MalformedValue)
    }
}

fn dag_fixture() -> (Vec<Hash>, Vec<Hash>, AnchorCommitment) {
    let confirmed: Vec<Hash> = (0u32..13)
        .map(|i| Hash::of(Domain::DagTransaction, &i.to_le_bytes()))
        .collect();
    // Every third transaction lost a conflict and was ignored.
    let applied: Vec<Hash> = confirmed
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(_, h)| *h)
        .collect();
    let anchor = AnchorCommitment {
        tips_hash: Hash::of(Domain::DagAnchor, b"tips"),
        confirmed_root: merkle::root(&confirmed),
        confirmed_count: confirmed.len() as u64,
        applied_root: merkle::root(&applied),
        applied_count: applied.len() as u64,
    };
    (confirmed, applied, anchor)
}

#[test]
fn dag_transaction_is_final_under_the_anchor_of_a_header() {
    let (confirmed, applied, anchor) = dag_fixture();
    let v = Validators::four(1);
    let mut header = synthetic_chain(1, |_| &v)[0].header.clone();
    header.dag_anchor_root = anchor.hash();
    for (index, id) in confirmed.iter().enumerate() {
        let applied_index = applied.iter().position(|a| a == id);
        let proof = DagFinalityProof {
            anchor,
            confirmed: merkle::prove(&confirmed, index).unwrap(),
            applied: applied_index.map(|i| merkle::prove(&applied, i).unwrap()),
        };
        let expected = if applied_index.is_some() {
            DagFinality::Applied
        } else {
            DagFinality::Confirmed
        };
        assert_eq!(proof.verify(&header, id), Ok(expected));
        assert_eq!(DagFinalityProof::decode(&proof.encode()), Ok(proof.clone()));
        let stranger = Hash::of(Domain::DagTransaction, b"not confirmed");
        assert!(matches!(
            proof.verify(&header, &stranger),
            Err(DagProofError::NotConfirmed(_))
        ));
    }
}

#[test]
fn dag_proof_under_another_anchor_or_with_a_lying_tree_size_fails() {
    let (confirmed, _, anchor) = dag_fixture();
    let v = Validators::four(1);
    let mut header = synthetic_chain(1, |_| &v)[0].header.clone();
    header.dag_anchor_root = anchor.hash();
    let good = DagFinalityProof {
        anchor,
        confirmed: merkle::prove(&confirmed, 0).unwrap(),
        applied: None,
    };
    let mut other_anchor = good.clone();
    other_anchor.anchor.tips_hash = Hash::ZERO;
    assert_eq!(
        other_anchor.verify(&header, &confirmed[0]),
        Err(DagProofError::AnchorMismatch)
    );
    // Leaf 0 of a 16-leaf tree: a path of the same length as in 13 leaves.
    let mut lying = good.clone();
    lying.confirmed.tree_size = 16;
    assert_eq!(
        lying.verify(&header, &confirmed[0]),
        Err(DagProofError::TreeSizeMismatch)
    );
}

fn fork_pair(
    first_signers: &[usize],
    second_signers: &[usize],
) -> (Validators, Vec<HeaderUpdate>, HeaderUpdate) {
    let v = Validators::four(1);
    let chain = synthetic_chain(3, |_| &v);
    let mut conflicting = chain[2].clone();
    conflicting.header.state_root = Hash([9; 32]);
    let pick = |indices: &[usize]| -> Vec<&itc_core::Keypair> {
        indices.iter().map(|&i| &v.keys[i]).collect()
    };
    let mut original = chain.clone();
    original[2].certificate = certify(&original[2].header, &pick(first_signers));
    conflicting.certificate = certify(&conflicting.header, &pick(second_signers));
    (v, original, conflicting)
}

#[test]
fn two_certified_headers_at_one_height_name_the_double_signers() {
    let (v, chain, conflicting) = fork_pair(&[0, 1, 2], &[1, 2, 3]);
    let trusted = trust(&chain[0]);
    let evidence = detect_fork(&trusted, &chain[2], &conflicting).unwrap();
    let mut expected = vec![v.keys[1].public(), v.keys[2].public()];
    expected.sort();
    assert_eq!(evidence.double_signers, expected);
    assert_eq!(evidence.verify(), Ok(()));
    let decoded = ForkEvidence::decode(&evidence.encode()).unwrap();
    assert_eq!(decoded, evidence);
}

#[test]
fn fork_evidence_naming_an_innocent_validator_fails_verification() {
    let (v, chain, conflicting) = fork_pair(&[0, 1, 2], &[1, 2, 3]);
    let trusted = trust(&chain[0]);
    let mut evidence = detect_fork(&trusted, &chain[2], &conflicting).unwrap();
    evidence.double_signers.push(v.keys[3].public());
    evidence.double_signers.sort();
    assert_eq!(evidence.verify(), Err(ForkError::NotADoubleSigner));
}

#[test]
fn same_header_twice_or_different_heights_is_no_fork() {
    let (_, chain, conflicting) = fork_pair(&[0, 1, 2], &[1, 2, 3]);
    let trusted = trust(&chain[0]);
    assert_eq!(
        detect_fork(&trusted, &chain[2], &chain[2]).unwrap_err(),
        ForkError::SameHeader
    );
    assert_eq!(
        detect_fork(&trusted, &chain[1], &conflicting).unwrap_err(),
        ForkError::DifferentHeights
    );
}

#[test]
fn a_conflicting_header_without_a_quorum_is_no_fork() {
    let (_, chain, conflicting) = fork_pair(&[0, 1, 2], &[3]);
    let trusted = trust(&chain[0]);
    assert_eq!(
        detect_fork(&trusted, &chain[2], &conflicting).unwrap_err(),
        ForkError::SecondInvalid(InvalidReason::NotEnoughSignatures)
    );
}
