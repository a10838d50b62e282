//! Attacks on the DAG: double spends, parasite chains, tip spam, missing
//! and forged parents, too little work, forged signatures, replays.

mod common;

use common::*;
use itc_core::hash::Hash;
use itc_core::keys::Signature;
use itc_core::types::{Amount, ChainId, DagAnchor};
use itc_dag::{
    genesis_entry_points, AttachError, ConfirmError, DagConfig, DagFinality, IgnoredReason,
    PowError, Tangle, TransactionError, TxStatus,
};

/// Two transfers that together overspend, both in one cone: exactly the
/// first in white-flag order applies, on every node.
#[test]
fn double_spend_in_one_cone_applies_only_the_first() {
    let alice = key(1);
    let (bob, carol) = (key(2).public(), key(3).public());
    let genesis = genesis_entry_points(CHAIN).to_vec();
    // Same sequence, different receivers: a classic double spend.
    let to_bob = make(&alice, genesis.clone(), 0, transfer(bob, 80), 4);
    let to_carol = make(&alice, genesis.clone(), 0, transfer(carol, 80), 4);
    // And an overspend with a fresh sequence.
    let extra = make(&alice, genesis.clone(), 1, transfer(carol, 80), 4);
    let honest = make(&key(4), vec![to_bob.id(), to_carol.id()], 0, data(1), 4);
    let tip = make(&key(5), vec![honest.id(), extra.id()], 0, data(2), 4);
    let mut commitments = Vec::new();
    for order in [[0, 1, 2, 3, 4], [2, 1, 0, 3, 4], [4, 3, 2, 1, 0]] {
        let txs = [&to_bob, &to_carol, &extra, &honest, &tip];
        let mut node = Tangle::new(config());
        node.credit(alice.public(), Amount(100)).unwrap();
        for i in order {
            node.attach(txs[i].clone(), 0, &level0).unwrap();
        }
        let confirmation = node
            .compute_confirmation(
                &DagAnchor {
                    tips: vec![tip.id()],
                },
                1,
            )
            .unwrap();
        assert_eq!(confirmation.order.len(), 5);
        let applied_transfers = [&to_bob, &to_carol, &extra]
            .iter()
            .filter(|t| confirmation.applied().any(|a| *a == t.id()))
            .count();
        assert_eq!(
            applied_transfers, 1,
            "exactly one of the conflicting transfers applies"
        );
        let reasons: Vec<IgnoredReason> = confirmation.ignored().map(|(_, r)| r).collect();
        assert_eq!(reasons.len(), 2);
        commitments.push(confirmation.commitment);
        node.apply_confirmation(confirmation).unwrap();
        let total = node.ledger().balance(&alice.public()).0
            + node.ledger().balance(&bob).0
            + node.ledger().balance(&carol).0;
        assert_eq!(total, 100, "no money created");
        assert_eq!(node.ledger().balance(&alice.public()), Amount(20));
    }
    assert!(commitments.windows(2).all(|w| w[0] == w[1]));
}

/// The conflicting spend arrives in a later cone: it is confirmed (the
/// anchor covers it) but ignored, and a proof shows it was not applied.
#[test]
fn double_spend_across_cones_is_ignored_in_the_later_cone() {
    let alice = key(1);
    let (bob, carol) = (key(2).public(), key(3).public());
    let mut node = Tangle::new(config());
    node.credit(alice.public(), Amount(50)).unwrap();
    let genesis = genesis_entry_points(CHAIN).to_vec();
    let first = make(&alice, genesis.clone(), 0, transfer(bob, 50), 4);
    let second = make(&alice, genesis.clone(), 0, transfer(carol, 50), 4);
    let third = make(&alice, genesis.clone(), 1, transfer(carol, 50), 4);
    node.attach(first.clone(), 0, &level0).unwrap();
    node.attach(second.clone(), 0, &level0).unwrap();
    node.attach(third.clone(), 0, &level0).unwrap();
    node.confirm(
        &DagAnchor {
            tips: vec![first.id()],
        },
        1,
    )
    .unwrap();
    let mut later = vec![second.id(), third.id()];
    later.sort();
    let commitment = node.confirm(&DagAnchor { tips: later }, 2).unwrap();
    assert_eq!(commitment.confirmed_count, 2);
    assert_eq!(commitment.applied_count, 0);
    assert_eq!(node.ledger().balance(&bob), Amount(50));
    assert_eq!(node.ledger().balance(&carol), Amount(0));
    let proof = node.prove(&second.id()).unwrap();
    assert_eq!(
        proof.verify_against_root(&commitment.hash(), &second.id()),
        Ok(DagFinality::Confirmed)
    );
}

/// A chain attached to tips far below the latest anchor is lazy: it never
/// enters the tip pool, is never selected, an honest proposer never anchors
/// it, and pruning removes it.
#[test]
fn parasite_chain_on_old_tips_is_not_selected_nor_confirmed() {
    let mut node = Tangle::new(config_without_pow());
    let old = issue(&mut node, &key(1), 0, data(0), 0, 0);
    let old_sibling = issue(&mut node, &key(2), 0, data(1), 0, 1);
    let mut now = 0;
    let depth = node.config().tips.below_max_depth;
    for height in 1..=depth + 5 {
        now += 1_000;
        for i in 0..5u64 {
            issue(
                &mut node,
                &key(10 + i as u32),
                height,
                data(height * 10 + i),
                now,
                height * 10 + i,
            );
        }
        let anchor = node.propose_anchor(now);
        node.confirm(&anchor, height).unwrap();
    }
    let attacker = key(66);
    let mut parents = vec![old.id(), old_sibling.id()];
    parents.sort();
    let mut parasite = Vec::new();
    for i in 0..10 {
        let tx = make(&attacker, parents.clone(), i, data(1000 + i), 0);
        node.attach(tx.clone(), now, &level0).unwrap();
        parents = vec![
            tx.id(),
            if i == 0 {
                old.id()
            } else {
                parasite[parasite.len() - 1]
            },
        ];
        parents.sort();
        parasite.push(tx.id());
    }
    for id in &parasite {
        assert!(
            !node.is_tip(id),
            "lazy parasite transaction entered the tip pool"
        );
    }
    for seed in 0..200 {
        for tip in node.select_tips(now, seed) {
            assert!(!parasite.contains(&tip));
        }
    }
    let anchor = node.propose_anchor(now);
    assert!(anchor.tips.iter().all(|t| !parasite.contains(t)));
    let height = depth + 6;
    node.confirm(&anchor, height).unwrap();
    for id in &parasite {
        assert_eq!(
            node.status(id),
            TxStatus::Solid,
            "parasite was not confirmed"
        );
    }
    node.prune(height);
    assert_invariants(&node);
    for id in &parasite {
        assert_eq!(node.status(id), TxStatus::Unknown, "lazy parasite pruned");
    }
}

/// One issuer floods the node: its difficulty rises, and it never holds
/// more than its share of the tip pool, so honest tips stay selectable.
#[test]
fn tip_spam_from_one_issuer_is_capped_and_costs_more_work() {
    let mut node = Tangle::new(config());
    let spammer = key(13);
    let honest: Vec<_> = (0..6u32)
        .map(|i| issue(&mut node, &key(i), 0, data(i as u64), 0, i as u64))
        .collect();
    let cap = node.config().tips.per_issuer_max;
    let mut bits = Vec::new();
    for i in 0..60u64 {
        bits.push(node.required_bits(&spammer.public(), 10, &level0).unwrap());
        issue(&mut node, &spammer, i, data(i), 10, 100 + i);
    }
    assert!(bits.last() > bits.first(), "difficulty rose: {bits:?}");
    // Work at the base level is now refused from this issuer.
    let cheap = make(
        &spammer,
        genesis_entry_points(CHAIN).to_vec(),
        999,
        data(999),
        0,
    );
    if cheap.pow_bits() < *bits.last().unwrap() {
        assert!(matches!(
            node.attach(cheap, 10, &level0),
            Err(AttachError::Pow(_))
        ));
    }
    let spam_tips = node.tip_count() - honest.iter().filter(|t| node.is_tip(&t.id())).count();
    assert!(spam_tips <= cap, "{spam_tips} spam tips > cap {cap}");
    // A later window restores the base difficulty.
    assert_eq!(
        node.required_bits(&spammer.public(), 60_000, &level0)
            .unwrap(),
        4
    );
}

/// A transaction naming parents nobody has stays pending forever: never
/// solid, never a tip, and an anchor naming it cannot be confirmed.
#[test]
fn missing_or_forged_parents_never_become_solid() {
    let mut node = Tangle::new(config());
    let forged = vec![Hash([0xee; 32]), genesis_entry_points(CHAIN)[0]];
    let tx = make(&key(1), forged, 0, data(1), 4);
    node.attach(tx.clone(), 0, &level0).unwrap();
    assert_eq!(node.status(&tx.id()), TxStatus::Pending);
    assert_eq!(node.poll_request(), Some(Hash([0xee; 32])));
    assert!(!node.is_tip(&tx.id()));
    for seed in 0..50 {
        assert!(!node.select_tips(0, seed).contains(&tx.id()));
    }
    let err = node
        .confirm(
            &DagAnchor {
                tips: vec![tx.id()],
            },
            1,
        )
        .unwrap_err();
    assert_eq!(
        err,
        ConfirmError::NotSolid {
            missing: vec![Hash([0xee; 32])]
        }
    );
    // A "parent" sent in reply must hash to the requested id: any other
    // transaction is just another transaction and completes nothing.
    let impostor = make(&key(2), genesis_entry_points(CHAIN).to_vec(), 0, data(2), 4);
    node.attach(impostor, 0, &level0).unwrap();
    assert_eq!(node.status(&tx.id()), TxStatus::Pending);
}

#[test]
fn too_little_proof_of_work_is_rejected() {
    let mut node = Tangle::new(config());
    let mut tx = make(&key(1), genesis_entry_points(CHAIN).to_vec(), 0, data(1), 0);
    while tx.pow_bits() >= 4 {
        tx.nonce += 1;
    }
    let found = tx.pow_bits();
    assert_eq!(
        node.attach(tx.clone(), 0, &level0),
        Err(AttachError::Pow(PowError::TooLittleWork {
            found,
            required: 4
        }))
    );
    tx.solve_pow(4, ITERATIONS_MAX).unwrap();
    assert!(node.attach(tx, 0, &level0).is_ok());
}

#[test]
fn forged_signature_and_tampered_fields_are_rejected() {
    let mut node = Tangle::new(config_without_pow());
    let genesis = genesis_entry_points(CHAIN).to_vec();
    let mut tx = make(&key(1), genesis, 0, transfer(key(2).public(), 5), 0);
    tx.payload = transfer(key(3).public(), 5);
    assert!(matches!(
        node.attach(tx.clone(), 0, &level0),
        Err(AttachError::Invalid(TransactionError::Signature(_)))
    ));
    tx.signature = Signature([0; 64]);
    assert!(node.attach(tx, 0, &level0).is_err());
    assert_eq!(node.len(), 0);
}

/// Replays: the same transaction again, on another chain, and after it
/// was pruned (when the store no longer remembers its id).
#[test]
fn replayed_transactions_are_refused_or_ignored() {
    let alice = key(1);
    let bob = key(2).public();
    let mut node = Tangle::new(config_without_pow());
    node.credit(alice.public(), Amount(100)).unwrap();
    let genesis = genesis_entry_points(CHAIN).to_vec();
    let pay = make(&alice, genesis.clone(), 0, transfer(bob, 30), 0);
    node.attach(pay.clone(), 0, &level0).unwrap();
    assert_eq!(
        node.attach(pay.clone(), 0, &level0),
        Err(AttachError::Duplicate)
    );

    // Another chain refuses it (the signature binds the chain id too).
    let mut other = Tangle::new(DagConfig {
        chain_id: ChainId(43),
        ..config_without_pow()
    });
    assert!(matches!(
        other.attach(pay.clone(), 0, &level0),
        Err(AttachError::Invalid(TransactionError::WrongChain { .. }))
    ));

    // Confirm, push history forward, prune everything: the id is forgotten.
    node.confirm(
        &DagAnchor {
            tips: vec![pay.id()],
        },
        1,
    )
    .unwrap();
    let mut now = 0;
    let keep = node
        .config()
        .anchor_depth_max
        .max(itc_dag::tangle::FALLBACK_TIPS_MAX as u64);
    let last = 2 + keep + 2;
    for height in 2..=last {
        now += 1000;
        issue(&mut node, &key(9), height, data(height), now, height);
        issue(&mut node, &key(8), height, data(height), now, height + 100);
        let anchor = node.propose_anchor(now);
        node.confirm(&anchor, height).unwrap();
        if height == 2 {
            // Still remembered as an entry point: refused as a duplicate.
            node.prune(1);
            assert_eq!(node.status(&pay.id()), TxStatus::EntryPoint { height: 1 });
            assert_eq!(
                node.attach(pay.clone(), now, &level0),
                Err(AttachError::Duplicate)
            );
        }
    }
    node.prune(last);
    assert_invariants(&node);
    assert_eq!(node.status(&pay.id()), TxStatus::Unknown);
    // Re-attached on its original (signed) parents, it is stored again but
    // approves only deep history: lazy, never selected, and an anchor naming
    // it is invalid on every node.
    node.attach(pay.clone(), now, &level0).unwrap();
    assert!(!node.is_tip(&pay.id()));
    let anchor = DagAnchor {
        tips: vec![pay.id()],
    };
    assert!(matches!(
        node.compute_confirmation(&anchor, last + 1),
        Err(ConfirmError::TooDeep { .. })
    ));
    assert_eq!(node.ledger().balance(&bob), Amount(30));
}

/// A late transaction approving history confirmed long ago: a node that
/// pruned that history and a node that kept everything reach the same
/// verdict (the anchor is invalid), so they never disagree on a cone.
#[test]
fn late_approval_of_deep_history_is_judged_alike_by_pruned_and_archival_nodes() {
    let mut pruned = Tangle::new(config_without_pow());
    let mut archival = Tangle::new(config_without_pow());
    let old = issue(&mut archival, &key(1), 0, data(0), 0, 0);
    let old_sibling = issue(&mut archival, &key(2), 0, data(1), 0, 1);
    for tx in [&old, &old_sibling] {
        pruned.attach(tx.clone(), 0, &level0).unwrap();
    }
    let depth = archival.config().anchor_depth_max;
    let mut now = 0;
    for height in 1..=depth + 3 {
        now += 1_000;
        let tx = issue(&mut archival, &key(10), height, data(height), now, height);
        pruned.attach(tx, now, &level0).unwrap();
        let anchor = archival.propose_anchor(now);
        archival.confirm(&anchor, height).unwrap();
        pruned.confirm(&anchor, height).unwrap();
        pruned.prune(height);
        assert_invariants(&archival);
        assert_invariants(&pruned);
    }
    assert_eq!(pruned.status(&old.id()), TxStatus::Unknown);
    let mut parents = vec![old.id(), old_sibling.id()];
    parents.sort();
    let late = make(&key(66), parents, 0, data(66), 0);
    archival.attach(late.clone(), now, &level0).unwrap();
    pruned.attach(late.clone(), now, &level0).unwrap();
    let anchor = DagAnchor {
        tips: vec![late.id()],
    };
    let height = depth + 4;
    assert!(matches!(
        archival.compute_confirmation(&anchor, height),
        Err(ConfirmError::TooDeep { .. })
    ));
    // The pruned node fetches what it lacks from the archival one until it
    // can judge; it must reach the same verdict, not a different cone.
    let verdict = loop {
        match pruned.confirm(&anchor, height) {
            Err(ConfirmError::NotSolid { .. }) => {
                while let Some(id) = pruned.poll_request() {
                    let tx = archival.get(&id).expect("archival node has it");
                    match pruned.attach(tx, now, &level0) {
                        Ok(_) | Err(AttachError::Duplicate) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            other => break other,
        }
    };
    assert!(
        matches!(verdict, Err(ConfirmError::TooDeep { .. })),
        "{verdict:?}"
    );
}
