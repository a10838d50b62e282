//! Behaviour of the tangle: attaching, solidification, tips, anchors,
//! proofs and pre-confirmation.

mod common;

use common::*;
use itc_core::hash::Hash;
use itc_core::types::{Amount, DagAnchor, SecurityLevel};
use itc_dag::tangle::SOLIDIFICATION_BUFFER_MAX;
use itc_dag::{
    genesis_entry_points, AttachError, Attached, ConfirmError, DagFinality, IgnoredReason, Tangle,
    TxStatus,
};

#[test]
fn transaction_on_known_parents_is_solid_and_becomes_a_tip() {
    let mut node = Tangle::new(config());
    let tx = make(&key(1), genesis_entry_points(CHAIN).to_vec(), 0, data(1), 4);
    assert_eq!(
        node.attach(tx.clone(), 0, &level0),
        Ok(Attached::Solid { solidified: 1 })
    );
    assert_eq!(node.status(&tx.id()), TxStatus::Solid);
    assert!(node.is_tip(&tx.id()));
    assert_eq!(node.attach(tx, 0, &level0), Err(AttachError::Duplicate));
}

#[test]
fn missing_parents_are_requested_and_never_trusted() {
    let mut node = Tangle::new(config());
    let genesis = genesis_entry_points(CHAIN).to_vec();
    let a = make(&key(1), genesis.clone(), 0, data(1), 4);
    let b = make(&key(2), genesis.clone(), 0, data(2), 4);
    let child = make(&key(3), vec![a.id(), b.id()], 0, data(3), 4);
    assert_eq!(
        node.attach(child.clone(), 0, &level0),
        Ok(Attached::Pending { missing: 2 })
    );
    assert_eq!(node.status(&child.id()), TxStatus::Pending);
    assert!(!node.is_tip(&child.id()));
    let mut requested = vec![node.poll_request().unwrap(), node.poll_request().unwrap()];
    requested.sort();
    let mut expected = vec![a.id(), b.id()];
    expected.sort();
    assert_eq!(requested, expected);
    assert_eq!(node.poll_request(), None);
    assert_eq!(node.wanted(), expected);
    // One parent is not enough.
    assert_eq!(
        node.attach(a.clone(), 1, &level0),
        Ok(Attached::Solid { solidified: 1 })
    );
    assert_eq!(node.status(&child.id()), TxStatus::Pending);
    // The second completes the child.
    assert_eq!(
        node.attach(b.clone(), 2, &level0),
        Ok(Attached::Solid { solidified: 2 })
    );
    assert_eq!(node.status(&child.id()), TxStatus::Solid);
    assert!(node.wanted().is_empty());
    assert_eq!(node.approvers(&a.id()), vec![child.id()]);
}

#[test]
fn solidification_buffer_is_bounded() {
    let mut node = Tangle::new(config_without_pow());
    let issuer = key(9);
    let first = make(&issuer, vec![Hash([1; 32]), Hash([2; 32])], 0, data(0), 0);
    node.attach(first.clone(), 0, &level0).unwrap();
    for i in 1..(SOLIDIFICATION_BUFFER_MAX as u64 + 50) {
        let mut parent = [0u8; 32];
        parent[..8].copy_from_slice(&i.to_le_bytes());
        let tx = make(&issuer, vec![Hash([1; 32]), Hash(parent)], i, data(i), 0);
        node.attach(tx, i, &level0).unwrap();
        assert!(node.pending_len() <= SOLIDIFICATION_BUFFER_MAX);
    }
    assert_eq!(node.pending_len(), SOLIDIFICATION_BUFFER_MAX);
    assert_eq!(
        node.status(&first.id()),
        TxStatus::Unknown,
        "oldest evicted"
    );
    assert!(node.wanted().len() <= itc_dag::tangle::REQUESTS_MAX);
}

#[test]
fn tip_selection_is_deterministic_given_history_and_seed() {
    let build = || {
        let mut node = Tangle::new(config_without_pow());
        for i in 0..200u32 {
            issue(
                &mut node,
                &key(i % 20),
                (i / 20) as u64,
                data(i as u64),
                i as u64,
                i as u64,
            );
        }
        node
    };
    let (mut one, mut two) = (build(), build());
    for seed in 0..20 {
        let tips = one.select_tips(500, seed);
        assert_eq!(tips, two.select_tips(500, seed));
        assert!((2..=8).contains(&tips.len()));
        assert!(tips.windows(2).all(|w| w[0] < w[1]));
    }
    assert_ne!(one.select_tips(500, 1), one.select_tips(500, 2));
}

#[test]
fn first_selection_falls_back_to_genesis() {
    let mut node = Tangle::new(config());
    assert_eq!(node.select_tips(0, 1), genesis_entry_points(CHAIN).to_vec());
}

#[test]
fn white_flag_order_is_post_order_with_parents_ascending() {
    let mut node = Tangle::new(config_without_pow());
    let genesis = genesis_entry_points(CHAIN).to_vec();
    let a = make(&key(1), genesis.clone(), 0, data(1), 0);
    let b = make(&key(2), genesis.clone(), 0, data(2), 0);
    let c = make(&key(3), vec![a.id(), b.id()], 0, data(3), 0);
    let d = make(&key(4), vec![b.id(), genesis[0]], 0, data(4), 0);
    for tx in [&a, &b, &c, &d] {
        node.attach((*tx).clone(), 0, &level0).unwrap();
    }
    let mut tips = vec![c.id(), d.id()];
    tips.sort();
    let anchor = DagAnchor { tips: tips.clone() };
    let confirmation = node.compute_confirmation(&anchor, 1).unwrap();
    // Expected: visit tips ascending; each emits after its parents, parents ascending.
    let mut expected = Vec::new();
    for tip in &tips {
        let visit_order = |t: &Hash| -> Vec<Hash> {
            if *t == c.id() {
                let (first, second) = if a.id() < b.id() {
                    (a.id(), b.id())
                } else {
                    (b.id(), a.id())
                };
                vec![first, second, c.id()]
            } else {
                vec![b.id(), d.id()]
            }
        };
        for id in visit_order(tip) {
            if !expected.contains(&id) {
                expected.push(id);
            }
        }
    }
    assert_eq!(confirmation.order, expected);
    assert_eq!(confirmation.commitment.confirmed_count, 4);
    assert_eq!(confirmation.commitment.tips_hash, anchor.hash());
}

#[test]
fn anchor_confirms_cone_applies_transfers_and_proves_finality() {
    let mut node = Tangle::new(config());
    let alice = key(1);
    let bob = key(2).public();
    node.credit(alice.public(), Amount(100)).unwrap();
    let pay = issue(&mut node, &alice, 0, transfer(bob, 60), 0, 1);
    let reading = issue(&mut node, &key(3), 0, data(7), 10, 2);
    let anchor = node.propose_anchor(20);
    assert!(!anchor.tips.is_empty());
    let commitment = node.confirm(&anchor, 1).unwrap();
    assert_eq!(commitment.confirmed_count, 2);
    assert_eq!(commitment.applied_count, 2);
    assert_eq!(node.ledger().balance(&bob), Amount(60));
    assert_eq!(node.ledger().balance(&alice.public()), Amount(40));
    for tx in [&pay, &reading] {
        assert_eq!(node.status(&tx.id()), TxStatus::Confirmed { height: 1 });
        let proof = node.prove(&tx.id()).unwrap();
        assert_eq!(
            proof.verify_against_root(&commitment.hash(), &tx.id()),
            Ok(DagFinality::Applied)
        );
        let other = Hash([9; 32]);
        assert!(proof
            .verify_against_root(&commitment.hash(), &other)
            .is_err());
    }
    assert_eq!(node.commitment(1), Some(commitment));
    // The same tips again: confirmed already, so the anchor is invalid
    // (and changes nothing); an empty anchor confirms nothing.
    assert!(matches!(
        node.confirm(&anchor, 2),
        Err(ConfirmError::TipAlreadyConfirmed(_))
    ));
    let again = node.confirm(&DagAnchor::default(), 2).unwrap();
    assert_eq!(again.confirmed_count, 0);
    assert!(matches!(
        node.confirm(&DagAnchor::default(), 2),
        Err(ConfirmError::HeightNotIncreasing { .. })
    ));
}

#[test]
fn ignored_transaction_is_proven_confirmed_but_not_applied() {
    let mut node = Tangle::new(config());
    let alice = key(1);
    let bob = key(2).public();
    node.credit(alice.public(), Amount(10)).unwrap();
    let genesis = genesis_entry_points(CHAIN).to_vec();
    let spend = make(&alice, genesis.clone(), 0, transfer(bob, 10), 4);
    let overspend = make(
        &alice,
        vec![spend.id(), genesis[0]],
        1,
        transfer(bob, 10),
        4,
    );
    node.attach(spend.clone(), 0, &level0).unwrap();
    node.attach(overspend.clone(), 1, &level0).unwrap();
    let confirmation = node
        .compute_confirmation(
            &DagAnchor {
                tips: vec![overspend.id()],
            },
            1,
        )
        .unwrap();
    let ignored: Vec<_> = confirmation.ignored().map(|(id, r)| (*id, r)).collect();
    assert_eq!(
        ignored,
        vec![(overspend.id(), IgnoredReason::InsufficientBalance)]
    );
    let commitment = confirmation.commitment;
    node.apply_confirmation(confirmation).unwrap();
    let proof = node.prove(&overspend.id()).unwrap();
    assert!(proof.applied.is_none());
    assert_eq!(
        proof.verify_against_root(&commitment.hash(), &overspend.id()),
        Ok(DagFinality::Confirmed)
    );
    assert_eq!(node.ledger().balance(&bob), Amount(10));
}

#[test]
fn stale_confirmation_is_refused() {
    let mut node = Tangle::new(config());
    let tx = issue(&mut node, &key(1), 0, data(1), 0, 1);
    let anchor = DagAnchor {
        tips: vec![tx.id()],
    };
    let first = node.compute_confirmation(&anchor, 1).unwrap();
    let second = node.compute_confirmation(&anchor, 2).unwrap();
    node.apply_confirmation(first).unwrap();
    assert_eq!(node.apply_confirmation(second), Err(ConfirmError::Stale));
}

#[test]
fn anchor_with_unknown_tips_is_not_solid_and_requests_them() {
    let mut node = Tangle::new(config());
    let ghost = Hash([7; 32]);
    let anchor = DagAnchor { tips: vec![ghost] };
    assert_eq!(
        node.confirm(&anchor, 1),
        Err(ConfirmError::NotSolid {
            missing: vec![ghost]
        })
    );
    assert_eq!(node.poll_request(), Some(ghost));
}

#[test]
fn anchor_requested_transactions_need_only_base_difficulty() {
    // The issuer bursts so this node's rate rule would demand more, but the
    // transaction is needed to confirm an anchor: base difficulty suffices.
    let mut node = Tangle::new(config());
    let issuer = key(1);
    for i in 0..40 {
        issue(&mut node, &issuer, i, data(i), 100, i);
    }
    let required = node.required_bits(&issuer.public(), 100, &level0).unwrap();
    assert!(required > 4, "rate raised the difficulty to {required}");
    let genesis = genesis_entry_points(CHAIN).to_vec();
    let mut late = make(&issuer, genesis, 99, data(99), 4);
    while late.pow_bits() >= required {
        late.nonce += 1;
        late.solve_pow(4, ITERATIONS_MAX).unwrap();
    }
    assert!(matches!(node.clone_attach(&late), Err(AttachError::Pow(_))));
    let anchor = DagAnchor {
        tips: vec![late.id()],
    };
    assert!(matches!(
        node.confirm(&anchor, 1),
        Err(ConfirmError::NotSolid { .. })
    ));
    assert_eq!(
        node.attach(late.clone(), 100, &level0),
        Ok(Attached::Solid { solidified: 1 })
    );
    assert!(node.confirm(&anchor, 1).is_ok());
}

/// Attach without consuming the test's copy.
trait CloneAttach {
    fn clone_attach(&mut self, tx: &itc_dag::DagTransaction) -> Result<Attached, AttachError>;
}

impl CloneAttach for Tangle {
    fn clone_attach(&mut self, tx: &itc_dag::DagTransaction) -> Result<Attached, AttachError> {
        self.attach(tx.clone(), 100, &level0)
    }
}

#[test]
fn unregistered_issuers_can_be_refused() {
    let mut config = config();
    config.pow.unregistered_level = None;
    let mut node = Tangle::new(config);
    let tx = make(&key(1), genesis_entry_points(CHAIN).to_vec(), 0, data(1), 4);
    let nobody = |_: &itc_core::PublicKey| -> Option<SecurityLevel> { None };
    assert_eq!(
        node.attach(tx.clone(), 0, &nobody),
        Err(AttachError::UnregisteredIssuer)
    );
    assert!(node.attach(tx, 0, &level0).is_ok());
}

#[test]
fn pre_confirmation_counts_future_cone_and_is_only_a_hint() {
    let mut node = Tangle::new(config_without_pow());
    let first = issue(&mut node, &key(0), 0, data(0), 0, 0);
    for i in 1..30u32 {
        issue(
            &mut node,
            &key(i % 5),
            (i / 5 + 1) as u64,
            data(i as u64),
            i as u64,
            i as u64,
        );
    }
    let hint = node.pre_confirmation(&first.id()).unwrap();
    assert!(hint.approvers > 0);
    assert!(hint.issuers <= 5);
    assert!(hint.complete);
    assert_eq!(
        hint.confirmed_height, None,
        "approval weight is not finality"
    );
    let anchor = DagAnchor {
        tips: vec![first.id()],
    };
    node.confirm(&anchor, 1).unwrap();
    assert_eq!(
        node.pre_confirmation(&first.id()).unwrap().confirmed_height,
        Some(1)
    );
}

#[test]
fn anchor_finds_missing_ancestors_through_waiting_transactions() {
    let mut node = Tangle::new(config());
    let genesis = genesis_entry_points(CHAIN).to_vec();
    let q = make(&key(1), genesis.clone(), 0, data(1), 4);
    let p = make(&key(2), vec![q.id(), genesis[0]], 0, data(2), 4);
    let t = make(&key(3), vec![p.id(), genesis[1]], 0, data(3), 4);
    node.attach(t.clone(), 0, &level0).unwrap();
    node.attach(p.clone(), 0, &level0).unwrap();
    assert_eq!(
        node.wanted(),
        vec![q.id()],
        "a waiting parent is not requested again"
    );
    let anchor = DagAnchor { tips: vec![t.id()] };
    assert_eq!(
        node.confirm(&anchor, 1),
        Err(ConfirmError::NotSolid {
            missing: vec![q.id()]
        })
    );
    assert_eq!(
        node.attach(q.clone(), 0, &level0),
        Ok(Attached::Solid { solidified: 3 })
    );
    assert!(node.wanted().is_empty());
    assert_eq!(node.confirm(&anchor, 1).unwrap().confirmed_count, 3);
}
