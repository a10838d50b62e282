//! A tangle persisted through the `Storage` trait restores to the same
//! consensus state: statuses, ledger, proofs, and the next anchor's roots.

mod common;

use common::*;
use itc_core::hash::Hash;
use itc_core::storage::{MemoryStorage, Storage};
use itc_core::types::Amount;
use itc_dag::{DagConfig, DagFinality, Tangle, TxStatus};

fn persisted_config() -> DagConfig {
    DagConfig {
        persist: true,
        ..config_without_pow()
    }
}

#[test]
fn restored_tangle_has_the_same_consensus_state() {
    let mut storage = MemoryStorage::new();
    let mut node = Tangle::new(persisted_config());
    let issuers: Vec<_> = (0..8).map(key).collect();
    for issuer in &issuers {
        node.credit(issuer.public(), Amount(1_000)).unwrap();
    }
    let mut ids: Vec<Hash> = Vec::new();
    let mut sequences = [0u64; 8];
    let mut height = 0;
    for round in 0..12u64 {
        for i in 0..25u64 {
            let who = ((round * 25 + i) % 8) as usize;
            let payload = if i % 2 == 0 {
                transfer(issuers[(who + 1) % 8].public(), 7)
            } else {
                data(i)
            };
            let now = round * 1_000 + i;
            let tx = issue(
                &mut node,
                &issuers[who],
                sequences[who],
                payload,
                now,
                round * 100 + i,
            );
            sequences[who] += 1;
            ids.push(tx.id());
        }
        height += 1;
        let anchor = node.propose_anchor(round * 1_000 + 500);
        node.confirm(&anchor, height).unwrap();
        if round % 3 == 2 {
            node.prune(height - 2);
        }
        storage.write(node.take_writes()).unwrap();
    }
    // Some unconfirmed transactions too.
    for i in 0..5u64 {
        let tx = issue(
            &mut node,
            &issuers[0],
            sequences[0],
            data(i),
            20_000 + i,
            9_000 + i,
        );
        sequences[0] += 1;
        ids.push(tx.id());
    }
    storage.write(node.take_writes()).unwrap();

    let mut restored = Tangle::restore(persisted_config(), &storage, 20_010).unwrap();
    assert_invariants(&node);
    assert_invariants(&restored);
    assert_eq!(restored.len(), node.len());
    assert_eq!(restored.entry_point_count(), node.entry_point_count());
    assert_eq!(restored.latest_height(), node.latest_height());
    assert_eq!(restored.ledger_state_root(), node.ledger_state_root());
    let mut proofs_checked = 0;
    for id in &ids {
        assert_eq!(restored.status(id), node.status(id));
        if let TxStatus::Confirmed { height } = node.status(id) {
            proofs_checked += 1;
            let proof = restored.prove(id).unwrap();
            assert_eq!(proof, node.prove(id).unwrap());
            let commitment = node.commitment(height).unwrap();
            assert!(matches!(
                proof.verify_against_root(&commitment.hash(), id),
                Ok(DagFinality::Applied | DagFinality::Confirmed)
            ));
        }
    }
    assert!(proofs_checked >= 25, "{proofs_checked} proofs checked");
    assert!(
        ids.iter()
            .any(|id| matches!(node.status(id), TxStatus::EntryPoint { .. })),
        "some history was pruned"
    );
    // Both continue identically: the same new transactions and anchor give
    // the same commitment and ledger.
    let a = make(
        &issuers[3],
        node.select_tips(30_000, 1),
        999,
        transfer(issuers[4].public(), 5),
        0,
    );
    let b = make(
        &issuers[5],
        vec![a.id(), ids[ids.len() - 1]],
        999,
        data(5),
        0,
    );
    let mut tips = vec![b.id()];
    tips.sort();
    for n in [&mut node, &mut restored] {
        n.attach(a.clone(), 30_000, &level0).unwrap();
        n.attach(b.clone(), 30_000, &level0).unwrap();
    }
    let anchor = itc_core::types::DagAnchor { tips };
    let one = node.confirm(&anchor, height + 1).unwrap();
    let two = restored.confirm(&anchor, height + 1).unwrap();
    assert_eq!(one, two);
    assert_eq!(restored.ledger_state_root(), node.ledger_state_root());
}

#[test]
fn without_persist_no_writes_are_collected() {
    let mut node = Tangle::new(config_without_pow());
    issue(&mut node, &key(1), 0, data(1), 0, 0);
    assert!(node.take_writes().is_empty());
}
