//! Consensus hardening (issue 17, itc-dag items): request-table spam,
//! capped ancestor walks, starved tips, unfunded accounts, key rotation
//! against the issue rate, pruned parents of waiting transactions, and
//! credits between computing and applying a confirmation.

mod common;

use common::*;
use itc_core::hash::Hash;
use itc_core::keys::PublicKey;
use itc_core::types::{Amount, DagAnchor, SecurityLevel};
use itc_dag::tangle::{REQUESTS_MAX, SOLIDIFICATION_BUFFER_MAX};
use itc_dag::{genesis_entry_points, ConfirmError, Tangle, TxStatus};
use itc_pbft::{AnchorError, Anchoring};

fn bogus(i: u32) -> Hash {
    Hash::of_parts(
        itc_core::hash::Domain::DagTransaction,
        &[b"bogus", &i.to_le_bytes()],
    )
}

fn sorted(mut parents: Vec<Hash>) -> Vec<Hash> {
    parents.sort_unstable();
    parents.dedup();
    parents
}

fn genesis() -> Vec<Hash> {
    genesis_entry_points(CHAIN).to_vec()
}

/// 512 transactions with 8 bogus parents each: 4,096 gossip requests.
fn spam_bogus_parents(node: &mut Tangle, now_ms: u64) {
    for i in 0..512u32 {
        let parents = sorted((0..8).map(|j| bogus(i * 8 + j)).collect());
        let tx = make(&key(10_000 + i), parents, 0, data(i as u64), 0);
        node.attach(tx, now_ms, &level0).unwrap();
    }
}

/// Item 7: gossip spam cannot take the room an anchor's missing cone needs.
#[test]
fn bogus_parent_spam_leaves_room_for_anchor_requests() {
    let mut node = Tangle::new(config_without_pow());
    spam_bogus_parents(&mut node, 0);
    while node.poll_request().is_some() {}
    let honest = make(&key(1), genesis(), 0, data(1), 0);
    let anchor = DagAnchor {
        tips: vec![honest.id()],
    };
    assert!(matches!(
        node.confirm(&anchor, 1),
        Err(ConfirmError::NotSolid { .. })
    ));
    assert!(
        node.wanted().contains(&honest.id()),
        "anchor tip not wanted"
    );
    assert_eq!(node.poll_request(), Some(honest.id()), "anchor asked first");

    // The same through the PBFT hook (a proposal, then a committed block).
    let mut node = Tangle::new(config_without_pow());
    spam_bogus_parents(&mut node, 0);
    while node.poll_request().is_some() {}
    assert_eq!(
        Anchoring::check(&mut node, 1, &anchor),
        Err(AnchorError::NotReady)
    );
    let polled: Vec<Hash> = std::iter::from_fn(|| node.poll_request()).collect();
    assert!(polled.contains(&honest.id()));
    node.attach(honest, 0, &level0).unwrap();
    assert!(Anchoring::check(&mut node, 1, &anchor).is_ok());
}

/// Item 7: gossip-driven requests age out, so later gossip is served again.
#[test]
fn gossip_requests_age_out() {
    let mut node = Tangle::new(config_without_pow());
    spam_bogus_parents(&mut node, 0);
    while node.poll_request().is_some() {}
    let later = 60_000;
    let wanted = bogus(1_000_000);
    let tx = make(&key(2), sorted(vec![wanted, genesis()[0]]), 0, data(2), 0);
    node.attach(tx, later, &level0).unwrap();
    let polled: Vec<Hash> = std::iter::from_fn(|| node.poll_request()).collect();
    assert!(
        polled.contains(&wanted),
        "new gossip parent never requested"
    );
    assert!(node.wanted().len() < 4_096);
}

/// Item 8: a waiting chain longer than any walk budget is "not solid",
/// never "invalid", and completes once its missing root arrives.
#[test]
fn a_long_waiting_chain_is_not_ready_never_invalid() {
    let mut node = Tangle::new(config_without_pow());
    let root_parent = make(&key(3), genesis(), 0, data(3), 0);
    let mut previous = root_parent.id();
    let mut last = previous;
    for i in 0..SOLIDIFICATION_BUFFER_MAX as u32 {
        let tx = make(
            &key(i % 64 + 100),
            sorted(vec![previous, genesis()[0]]),
            u64::from(i),
            data(u64::from(i)),
            0,
        );
        previous = tx.id();
        last = previous;
        node.attach(tx, 0, &level0).unwrap();
    }
    assert_eq!(node.pending_len(), SOLIDIFICATION_BUFFER_MAX);
    let anchor = DagAnchor { tips: vec![last] };
    assert_eq!(
        node.compute_confirmation(&anchor, 1).unwrap_err(),
        ConfirmError::NotSolid {
            missing: vec![root_parent.id()]
        }
    );
    assert_eq!(
        Anchoring::check(&mut node, 1, &anchor),
        Err(AnchorError::NotReady)
    );
    node.attach(root_parent, 0, &level0).unwrap();
    assert_eq!(node.status(&last), TxStatus::Solid);
    assert!(node.compute_confirmation(&anchor, 1).is_ok());
}

/// Item 11: rotating keys does not reset the anti-spam rate: unregistered
/// issuers share one rate window.
#[test]
fn unregistered_issuers_share_one_rate_window() {
    let mut config = config_without_pow();
    config.pow.level_bits = [0, 0, 0, 0];
    config.pow.extra_bits_max = 12;
    config.pow.unregistered_level = SecurityLevel::new(0);
    let unregistered = |_: &PublicKey| None;
    let mut node = Tangle::new(config);
    let base = node
        .required_bits(&key(5_000).public(), 0, &unregistered)
        .unwrap();
    for i in 0..100u32 {
        let issuer = key(5_000 + i);
        let bits = node
            .required_bits(&issuer.public(), 0, &unregistered)
            .unwrap();
        let tx = make(&issuer, genesis(), 0, data(u64::from(i)), bits);
        node.attach(tx, 0, &unregistered).unwrap();
    }
    let fresh = node
        .required_bits(&key(9_999).public(), 0, &unregistered)
        .unwrap();
    assert!(
        fresh > base,
        "a fresh key pays only the base ({fresh} bits)"
    );
    // A registered device keeps its own window.
    assert_eq!(
        node.required_bits(&key(9_999).public(), 0, &level0)
            .unwrap(),
        0
    );
}

/// Item 12: a waiting transaction whose known parent is pruned meanwhile
/// does not become solid on an unknown parent (debug builds panicked).
#[test]
fn a_waiting_transaction_never_becomes_solid_on_a_pruned_parent() {
    let mut config = config_without_pow();
    config.anchor_depth_max = 1;
    let mut node = Tangle::new(config);
    let missing = make(&key(20), genesis(), 0, data(20), 0);
    let known = make(&key(21), genesis(), 0, data(21), 0);
    node.attach(known.clone(), 0, &level0).unwrap();
    let waiting = make(
        &key(22),
        sorted(vec![missing.id(), known.id()]),
        0,
        data(22),
        0,
    );
    node.attach(waiting.clone(), 0, &level0).unwrap();
    let sibling = make(&key(24), genesis(), 0, data(24), 0);
    node.attach(sibling.clone(), 0, &level0).unwrap();
    node.confirm(
        &DagAnchor {
            tips: sorted(vec![known.id(), sibling.id()]),
        },
        1,
    )
    .unwrap();
    // Eight tips approving only height-1 history (the depth rule is 1
    // here), so the fallback parents no longer name `known` either.
    let mut tips = Vec::new();
    for i in 0..8 {
        let other = make(
            &key(23),
            sorted(vec![known.id(), sibling.id()]),
            i,
            data(23 + i),
            0,
        );
        tips.push(other.id());
        node.attach(other, 0, &level0).unwrap();
    }
    node.confirm(&DagAnchor { tips: sorted(tips) }, 2).unwrap();
    node.prune(2);
    assert_invariants(&node);
    assert_eq!(node.status(&known.id()), TxStatus::Unknown);
    node.attach(missing, 0, &level0).unwrap();
    assert_ne!(node.status(&waiting.id()), TxStatus::Solid);
    let result = node.compute_confirmation(
        &DagAnchor {
            tips: vec![waiting.id()],
        },
        3,
    );
    assert!(matches!(result, Err(ConfirmError::NotSolid { .. })));
    assert!(node.wanted().contains(&known.id()));
}

/// Item 12: a credit between computing and applying a confirmation is never
/// lost: the confirmation is refused as stale, and a fresh one keeps both.
#[test]
fn a_credit_between_compute_and_apply_is_never_lost() {
    let mut node = Tangle::new(config_without_pow());
    let alice = key(30);
    let bob = key(31).public();
    node.credit(alice.public(), Amount(100)).unwrap();
    let tx = make(&alice, genesis(), 0, transfer(bob, 40), 0);
    node.attach(tx.clone(), 0, &level0).unwrap();
    let anchor = DagAnchor {
        tips: vec![tx.id()],
    };
    let confirmation = node.compute_confirmation(&anchor, 1).unwrap();
    node.credit(alice.public(), Amount(5)).unwrap();
    assert_eq!(
        node.apply_confirmation(confirmation),
        Err(ConfirmError::Stale)
    );
    node.confirm(&anchor, 1).unwrap();
    assert_eq!(node.ledger().balance(&alice.public()), Amount(65));
    assert_eq!(node.ledger().balance(&bob), Amount(40));
}

/// Item 9: 64 fresh transactions between anchors do not keep an older
/// honest tip out of every anchor.
#[test]
fn fresh_tips_do_not_starve_an_older_tip() {
    let mut node = Tangle::new(config_without_pow());
    let honest = make(&key(40), genesis(), 0, data(40), 0);
    node.attach(honest.clone(), 0, &level0).unwrap();
    let mut parents = genesis();
    let mut confirmed_at = None;
    for round in 1..=20u64 {
        let now = round * 100;
        for i in 0..64u32 {
            let issuer = key(20_000 + round as u32 * 64 + i);
            let fresh = make(&issuer, parents.clone(), 0, data(u64::from(i)), 0);
            node.attach(fresh, now, &level0).unwrap();
        }
        let anchor = node.propose_anchor(now);
        node.confirm(&anchor, round).unwrap();
        parents = anchor.tips[..2].to_vec();
        if let TxStatus::Confirmed { height } = node.status(&honest.id()) {
            confirmed_at = Some(height);
            break;
        }
    }
    assert_eq!(confirmed_at, Some(1), "the older tip was starved");
}

/// Item 9: a transaction that turned lazy (left the tip pool) while the
/// depth rule still allows it is anchored, by the primary's hook too.
#[test]
fn a_lazy_unconfirmed_transaction_is_still_anchored() {
    let mut node = Tangle::new(config_without_pow());
    let honest = make(&key(50), genesis(), 0, data(50), 0);
    node.attach(honest.clone(), 0, &level0).unwrap();
    let mut previous = genesis();
    for height in 1..=10u64 {
        let tx = make(&key(51), previous.clone(), height, data(height), 0);
        node.attach(tx.clone(), height, &level0).unwrap();
        node.confirm(
            &DagAnchor {
                tips: vec![tx.id()],
            },
            height,
        )
        .unwrap();
        previous = sorted(vec![tx.id(), genesis()[0]]);
    }
    assert!(!node.is_tip(&honest.id()), "lazy, out of the tip pool");
    assert_eq!(node.status(&honest.id()), TxStatus::Solid);
    let (anchor, _root) =
        Anchoring::propose(&mut node, 11, 20, false).expect("something to anchor");
    assert!(anchor.tips.contains(&honest.id()));
    node.confirm(&anchor, 11).unwrap();
    assert_eq!(
        node.status(&honest.id()),
        TxStatus::Confirmed { height: 11 }
    );
}

/// Item 10: a deposit the DAG ledger cannot credit is recorded as an
/// explicit outcome, never silently dropped.
#[test]
fn a_deposit_that_cannot_be_credited_is_recorded() {
    use itc_core::types::{ChainId, Payload, Transaction};
    let mut node = Tangle::new(config_without_pow());
    let client = key(60);
    node.credit(client.public(), Amount(u64::MAX)).unwrap();
    let deposit = Transaction::new_signed(
        &client,
        ChainId(CHAIN.0),
        0,
        Amount(1),
        Payload::DagDeposit { amount: Amount(5) },
    );
    Anchoring::on_executed(&mut node, 3, std::slice::from_ref(&deposit));
    let refused: Vec<_> = node.refused_deposits().copied().collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].height, 3);
    assert_eq!(refused[0].transaction, deposit.hash());
    assert_eq!(refused[0].amount, Amount(5));
    // An unfunded issuer's data creates no funded account.
    let tx = make(&key(61), genesis(), 0, data(61), 0);
    node.attach(tx.clone(), 0, &level0).unwrap();
    node.confirm(
        &DagAnchor {
            tips: vec![tx.id()],
        },
        4,
    )
    .unwrap();
    assert_eq!(node.ledger().funded_len(), 1);
    assert_eq!(node.ledger().unfunded_len(), 1);
}

/// Review of item 7: a Byzantine primary's tips delivered after its view
/// moved on (so its proposal is never checked again) must not leave their
/// bogus parents as anchor requests: eight rounds of 64 tips with 8 bogus
/// parents each used to fill the table with 4,096 of them, after which an
/// honest anchor's missing tip was never requested.
#[test]
fn stale_anchor_requests_never_block_an_honest_anchor() {
    let mut node = Tangle::new(config_without_pow());
    for round in 0..8u32 {
        let tips: Vec<_> = (0..64u32)
            .map(|i| {
                let n = round * 64 + i;
                let parents = sorted((0..8).map(|j| bogus(100_000 + n * 8 + j)).collect());
                make(&key(30_000 + n), parents, 0, data(u64::from(n)), 0)
            })
            .collect();
        let anchor = DagAnchor {
            tips: sorted(tips.iter().map(|t| t.id()).collect()),
        };
        assert_eq!(
            Anchoring::check(&mut node, 1, &anchor),
            Err(AnchorError::NotReady)
        );
        while node.poll_request().is_some() {}
        // Delivered late, once the next view's proposal is under way.
        for tip in tips {
            node.attach(tip, 0, &level0).unwrap();
        }
    }
    let honest = make(&key(1), genesis(), 0, data(1), 0);
    let anchor = DagAnchor {
        tips: vec![honest.id()],
    };
    assert_eq!(
        Anchoring::check(&mut node, 1, &anchor),
        Err(AnchorError::NotReady)
    );
    assert!(
        node.wanted().contains(&honest.id()),
        "honest anchor tip not wanted"
    );
    let polled: Vec<Hash> = std::iter::from_fn(|| node.poll_request()).collect();
    assert_eq!(polled, vec![honest.id()], "only the current anchor's needs");
    node.attach(honest, 0, &level0).unwrap();
    assert!(Anchoring::check(&mut node, 1, &anchor).is_ok());
    assert!(node.wanted().is_empty(), "{} left", node.wanted().len());
}

/// Review of item 7: the request table never exceeds its bound, and an
/// anchor may take all of it, evicting as much gossip as it needs (gossip
/// used to refill past the bound, and an anchor request then gave up).
#[test]
fn gossip_never_pushes_the_request_table_past_its_bound() {
    let mut node = Tangle::new(config_without_pow());
    // A real transaction the anchor needs, with unknown parents of its own.
    let deep_parents = sorted((0..8).map(|j| bogus(900_000 + j)).collect());
    let deep = make(&key(2), deep_parents.clone(), 0, data(2), 0);
    // 256 waiting transactions with 8 missing parents each under 32 tips:
    // the anchor misses 2,048 ids, more than the 1,024 reserved.
    let mut mids = Vec::new();
    for m in 0..256u32 {
        let mut parents: Vec<Hash> = (0..8).map(|j| bogus(200_000 + m * 8 + j)).collect();
        if m == 0 {
            parents[0] = deep.id();
        }
        let mid = make(&key(40_000 + m), sorted(parents), 0, data(u64::from(m)), 0);
        mids.push(mid.id());
        node.attach(mid, 0, &level0).unwrap();
    }
    let mut tips = Vec::new();
    for t in 0..32u32 {
        let parents = sorted(mids[t as usize * 8..t as usize * 8 + 8].to_vec());
        let tip = make(&key(50_000 + t), parents, 0, data(u64::from(t)), 0);
        tips.push(tip.id());
        node.attach(tip, 0, &level0).unwrap();
    }
    let anchor = DagAnchor { tips: sorted(tips) };
    assert_eq!(
        Anchoring::check(&mut node, 1, &anchor),
        Err(AnchorError::NotReady)
    );
    assert_eq!(node.wanted().len(), 2_048);
    spam_bogus_parents(&mut node, 0);
    assert!(
        node.wanted().len() <= REQUESTS_MAX,
        "{} requests outstanding",
        node.wanted().len()
    );
    // The fetched transaction's parents are asked for the anchor, gossip
    // making room.
    node.attach(deep, 0, &level0).unwrap();
    let wanted = node.wanted();
    assert!(wanted.len() <= REQUESTS_MAX);
    for parent in &deep_parents {
        assert!(wanted.contains(parent), "anchor cone parent not wanted");
    }
}

/// Review of item 10: a zero credit writes nothing, so a restarted node
/// restores no account its ledger never held (its ledger root and unfunded
/// count would differ from its peers').
#[test]
fn a_zero_credit_persists_no_phantom_account() {
    use itc_core::storage::{MemoryStorage, Storage};
    let mut config = config_without_pow();
    config.persist = true;
    let mut node = Tangle::new(config);
    node.credit(key(70).public(), Amount(5)).unwrap();
    let mut storage = MemoryStorage::new();
    storage.write(node.take_writes()).unwrap();
    node.credit(key(71).public(), Amount(0)).unwrap();
    let writes = node.take_writes();
    assert!(
        writes.is_empty(),
        "a zero credit wrote {} entries",
        writes.len()
    );
    storage.write(writes).unwrap();
    let mut restored = Tangle::restore(config, &storage, 0).unwrap();
    assert_invariants(&restored);
    assert_eq!(restored.ledger().len(), node.ledger().len());
    assert_eq!(restored.ledger().unfunded_len(), 0);
    assert_eq!(restored.ledger_state_root(), node.ledger_state_root());
}

/// Review of item 9: a transaction outside the tip pool keeps the oldest
/// root it had on arrival, which understates it once its parents are
/// confirmed. X approves P and Q, leaves the pool after 30 s, P and Q are
/// confirmed at height 10; at height 17 X is still confirmable and must be
/// anchored, not dropped from the arrival list for good.
#[test]
fn an_anchorable_transaction_outside_the_pool_is_not_dropped() {
    let mut node = Tangle::new(config_without_pow());
    let p = make(&key(80), genesis(), 0, data(80), 0);
    let q = make(&key(81), genesis(), 0, data(81), 0);
    let x = make(&key(82), sorted(vec![p.id(), q.id()]), 0, data(82), 0);
    for tx in [&p, &q, &x] {
        node.attach(tx.clone(), 0, &level0).unwrap();
    }
    let mut now = 31_000;
    node.select_tips(now, 0);
    assert!(!node.is_tip(&x.id()), "expired from the tip pool");
    let mut previous = genesis();
    for height in 1..=17u64 {
        now += 100;
        let anchor = if height == 10 {
            DagAnchor {
                tips: sorted(vec![p.id(), q.id()]),
            }
        } else {
            let tx = make(&key(83), previous.clone(), height, data(height), 0);
            node.attach(tx.clone(), now, &level0).unwrap();
            previous = sorted(vec![tx.id(), genesis()[0]]);
            DagAnchor {
                tips: vec![tx.id()],
            }
        };
        node.confirm(&anchor, height).unwrap();
    }
    assert_eq!(node.status(&p.id()), TxStatus::Confirmed { height: 10 });
    assert_eq!(node.status(&x.id()), TxStatus::Solid);
    let alone = DagAnchor { tips: vec![x.id()] };
    assert!(node.compute_confirmation(&alone, 18).is_ok());
    // The primary's scan of the oldest transactions must not drop it.
    node.propose_anchor(now);
    let (anchor, _root) =
        Anchoring::propose(&mut node, 18, now, false).expect("X is due an anchor");
    assert!(anchor.tips.contains(&x.id()), "X dropped");
    node.confirm(&anchor, 18).unwrap();
    assert_eq!(node.status(&x.id()), TxStatus::Confirmed { height: 18 });
}

/// Review of item 11: an owner who mints device keys and registers each
/// (level 0, `min_fee` apiece) does not get a fresh rate window per key:
/// the registered devices of one owner share one window.
#[test]
fn devices_of_one_owner_share_one_rate_window() {
    use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
    use itc_core::keys::{Keypair, SigningDomain};
    use itc_core::ledger::{BlockContext, Ledger};
    use itc_core::types::{pairing_message, Payload, Transaction};
    let minter = key(90);
    let other = key(91);
    let validator = key(92);
    let genesis_state = Genesis {
        chain_id: CHAIN.0,
        accounts: vec![
            GenesisAccount {
                public_key: minter.public(),
                balance: 1_000_000,
            },
            GenesisAccount {
                public_key: other.public(),
                balance: 1_000_000,
            },
        ],
        validators: vec![GenesisValidator {
            public_key: validator.public(),
            weight: 1,
        }],
        ..Genesis::default()
    };
    let (mut ledger, _writes) = Ledger::from_genesis(&genesis_state).unwrap();
    let level = SecurityLevel::new(0).unwrap();
    let fee = Amount(ledger.params().min_fee.0);
    let register = |owner: &Keypair, nonce: u64, device: &Keypair| {
        Transaction::new_signed(
            owner,
            CHAIN,
            nonce,
            fee,
            Payload::RegisterDevice {
                device: device.public(),
                security_level: level,
                metadata_hash: Hash::ZERO,
                pairing_signature: device.sign(
                    SigningDomain::DevicePairing,
                    CHAIN,
                    &pairing_message(&owner.public(), level),
                ),
            },
        )
    };
    let minted: Vec<Keypair> = (0..41).map(|i| key(60_000 + i)).collect();
    let neighbour = key(61_000);
    let mut registrations: Vec<Transaction> = minted
        .iter()
        .enumerate()
        .map(|(i, device)| register(&minter, i as u64, device))
        .collect();
    registrations.push(register(&other, 0, &neighbour));
    let context = BlockContext {
        height: 1,
        proposer: validator.public(),
        time_ms: 0,
    };
    let _ = ledger.apply_block(&context, &registrations).unwrap();

    let mut config = config_without_pow();
    config.pow.level_bits = [0, 0, 0, 0];
    config.pow.extra_bits_max = 12;
    let mut node = Tangle::new(config);
    for (i, device) in minted[..40].iter().enumerate() {
        let bits = node.required_bits(&device.public(), 0, &ledger).unwrap();
        let tx = make(device, genesis(), 0, data(i as u64), bits);
        node.attach(tx, 0, &ledger).unwrap();
    }
    let fresh = node
        .required_bits(&minted[40].public(), 0, &ledger)
        .unwrap();
    assert!(fresh > 0, "a freshly minted device pays only the base");
    // Another owner's device keeps its own window.
    assert_eq!(node.required_bits(&neighbour.public(), 0, &ledger), Ok(0));
}
