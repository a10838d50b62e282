//! The finality proofs built here are accepted by itc-spv's verifier, byte
//! for byte, against a header whose `dag_anchor_root` is the anchor
//! commitment.

mod common;

use common::*;
use itc_core::hash::Hash;
use itc_core::keys::PublicKey;
use itc_core::types::{Amount, BlockHeader, DagAnchor};
use itc_core::{Decode, Encode};
use itc_dag::{genesis_entry_points, Tangle};

fn header(dag_anchor_root: Hash) -> BlockHeader {
    BlockHeader {
        chain_id: CHAIN,
        height: 1,
        previous_hash: Hash::ZERO,
        tx_root: Hash::ZERO,
        tx_count: 0,
        state_root: Hash::ZERO,
        dag_anchor_root,
        dag_anchor_hash: Hash([0xAB; 32]),
        validator_set_hash: Hash::ZERO,
        next_validator_set_hash: Hash::ZERO,
        time_ms: 0,
        proposer: PublicKey([1; 32]),
        view: 0,
    }
}

#[test]
fn itc_spv_verifies_dag_finality_proofs_built_here() {
    let alice = key(1);
    let bob = key(2).public();
    let mut node = Tangle::new(config());
    node.credit(alice.public(), Amount(10)).unwrap();
    let genesis = genesis_entry_points(CHAIN).to_vec();
    let spend = make(&alice, genesis.clone(), 0, transfer(bob, 10), 4);
    let overspend = make(
        &alice,
        vec![spend.id(), genesis[1]],
        1,
        transfer(bob, 10),
        4,
    );
    let reading = make(&key(3), vec![overspend.id(), genesis[0]], 0, data(1), 4);
    for tx in [&spend, &overspend, &reading] {
        node.attach((*tx).clone(), 0, &level0).unwrap();
    }
    let commitment = node
        .confirm(
            &DagAnchor {
                tips: vec![reading.id()],
            },
            1,
        )
        .unwrap();
    let spv_commitment = itc_spv::AnchorCommitment::decode(&commitment.encode()).unwrap();
    assert_eq!(spv_commitment.hash(), commitment.hash());
    let header = header(commitment.hash());
    for (tx, expected) in [
        (&spend, itc_spv::DagFinality::Applied),
        (&overspend, itc_spv::DagFinality::Confirmed),
        (&reading, itc_spv::DagFinality::Applied),
    ] {
        let proof = node.prove(&tx.id()).unwrap();
        let spv_proof = itc_spv::DagFinalityProof::decode(&proof.encode()).unwrap();
        assert_eq!(spv_proof.verify(&header, &tx.id()), Ok(expected));
        assert!(spv_proof.verify(&header, &Hash([3; 32])).is_err());
        assert!(spv_proof
            .verify(&self::header(Hash::ZERO), &tx.id())
            .is_err());
    }
}
