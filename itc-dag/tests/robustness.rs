//! Random sequences of operations, including garbage, never panic and keep
//! the tangle's invariants: bounded buffers, solid transactions only on
//! known parents, confirmations that never go backwards.

mod common;

use common::*;
use itc_core::hash::Hash;
use itc_core::keys::Signature;
use itc_core::types::{Amount, DagAnchor};
use itc_dag::tangle::{REQUESTS_MAX, SOLIDIFICATION_BUFFER_MAX};
use itc_dag::tips::SplitMix64;
use itc_dag::{DagTransaction, Tangle, TxStatus};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// Issue a valid transaction on selected tips.
    Issue { issuer: u8, seed: u64 },
    /// A valid transaction on random known or unknown parents, held back
    /// and delivered later.
    Hold { issuer: u8, seed: u64 },
    /// Deliver a held transaction.
    Deliver { index: u8 },
    /// A transaction with a broken signature or forged parents.
    Garbage { seed: u64 },
    /// Re-deliver something already delivered.
    Duplicate { index: u8 },
    /// Confirm an anchor made of known, unknown and random ids.
    Anchor { seed: u64 },
    /// Prune below the latest anchor.
    Prune { behind: u8 },
    /// Drain requests.
    Poll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), any::<u64>()).prop_map(|(issuer, seed)| Op::Issue { issuer, seed }),
        2 => (any::<u8>(), any::<u64>()).prop_map(|(issuer, seed)| Op::Hold { issuer, seed }),
        2 => any::<u8>().prop_map(|index| Op::Deliver { index }),
        1 => any::<u64>().prop_map(|seed| Op::Garbage { seed }),
        1 => any::<u8>().prop_map(|index| Op::Duplicate { index }),
        2 => any::<u64>().prop_map(|seed| Op::Anchor { seed }),
        1 => any::<u8>().prop_map(|behind| Op::Prune { behind: behind % 4 }),
        1 => Just(Op::Poll),
    ]
}

fn check_invariants(node: &Tangle, delivered: &[DagTransaction]) {
    assert_invariants(node);
    assert!(node.pending_len() <= SOLIDIFICATION_BUFFER_MAX);
    assert!(node.wanted().len() <= REQUESTS_MAX);
    assert!(node.tip_count() <= node.config().tips.pool_max);
    for tx in delivered {
        if matches!(
            node.status(&tx.id()),
            TxStatus::Solid | TxStatus::Confirmed { .. }
        ) {
            for parent in &tx.parents {
                assert!(
                    !matches!(node.status(parent), TxStatus::Unknown | TxStatus::Pending),
                    "solid transaction on an unknown parent"
                );
            }
        }
    }
}

fn run(ops: Vec<Op>) {
    let mut node = Tangle::new(config_without_pow());
    let issuers: Vec<_> = (0..6).map(key).collect();
    for issuer in &issuers {
        node.credit(issuer.public(), Amount(100)).unwrap();
    }
    let mut sequences = [0u64; 6];
    let mut held: Vec<DagTransaction> = Vec::new();
    let mut delivered: Vec<DagTransaction> = Vec::new();
    let mut height = 0;
    let mut now = 0;
    for op in ops {
        now += 3;
        match op {
            Op::Issue { issuer, seed } => {
                let who = issuer as usize % issuers.len();
                let payload = if seed % 2 == 0 {
                    transfer(issuers[(who + 1) % 6].public(), seed % 70 + 1)
                } else {
                    data(seed)
                };
                let tx = issue(&mut node, &issuers[who], sequences[who], payload, now, seed);
                sequences[who] += 1;
                delivered.push(tx);
            }
            Op::Hold { issuer, seed } => {
                let who = issuer as usize % issuers.len();
                let mut rng = SplitMix64::new(seed);
                let mut parents = node.select_tips(now, seed);
                if !held.is_empty() && rng.below(2) == 0 {
                    // Approve something this node has not seen yet.
                    parents[0] = held[rng.below(held.len())].id();
                }
                let tx = make(&issuers[who], parents, sequences[who], data(seed), 0);
                sequences[who] += 1;
                held.push(tx);
            }
            Op::Deliver { index } => {
                if !held.is_empty() {
                    let tx = held.remove(index as usize % held.len());
                    if node.attach(tx.clone(), now, &level0).is_ok() {
                        delivered.push(tx);
                    }
                }
            }
            Op::Garbage { seed } => {
                let mut rng = SplitMix64::new(seed);
                let parents = vec![Hash([rng.below(256) as u8; 32]), Hash([0xff; 32])];
                let mut tx = make(&issuers[0], parents, 0, data(seed), 0);
                if rng.below(2) == 0 {
                    tx.signature = Signature([rng.below(256) as u8; 64]);
                    assert!(node.attach(tx, now, &level0).is_err());
                } else {
                    let _ = node.attach(tx, now, &level0);
                }
            }
            Op::Duplicate { index } => {
                if !delivered.is_empty() {
                    let tx = delivered[index as usize % delivered.len()].clone();
                    if node.status(&tx.id()) != TxStatus::Unknown {
                        assert!(node.attach(tx, now, &level0).is_err());
                    }
                }
            }
            Op::Anchor { seed } => {
                let mut rng = SplitMix64::new(seed);
                let mut tips = node.propose_anchor(now).tips;
                if rng.below(3) == 0 && !delivered.is_empty() {
                    tips.push(delivered[rng.below(delivered.len())].id());
                }
                if rng.below(4) == 0 {
                    tips.push(Hash([rng.below(256) as u8; 32]));
                }
                tips.sort();
                tips.dedup();
                tips.truncate(itc_core::types::ANCHOR_TIPS_MAX);
                let anchor = DagAnchor { tips };
                if node.confirm(&anchor, height + 1).is_ok() {
                    height += 1;
                }
                let before = node.latest_height();
                assert!(
                    node.confirm(&anchor, before).is_err(),
                    "heights never go back"
                );
            }
            Op::Prune { behind } => {
                node.prune(height.saturating_sub(behind as u64));
            }
            Op::Poll => while node.poll_request().is_some() {},
        }
        check_invariants(&node, &delivered);
    }
    // Every confirmed and still-stored transaction has a proof that checks.
    for tx in &delivered {
        if let TxStatus::Confirmed { height } = node.status(&tx.id()) {
            let commitment = node.commitment(height).expect("kept");
            let proof = node.prove(&tx.id()).expect("provable");
            assert!(proof
                .verify_against_root(&commitment.hash(), &tx.id())
                .is_ok());
        }
    }
}

/// 24 sequences by default, 500 with `ITC_DAG_SOAK=1`.
fn cases() -> u32 {
    if std::env::var("ITC_DAG_SOAK").is_ok_and(|v| v == "1") {
        500
    } else {
        24
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]
    #[test]
    fn random_operations_never_panic_and_keep_invariants(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops);
    }
}
