//! Castro & Liskov, OSDI'99, section 4.2: normal-case operation
//! (pre-prepare, prepare, commit), with quorums counted in weight.

mod common;

use common::*;
use itc_core::types::{ChainId, Threshold, VoteKind};
use itc_pbft::{Message, MessageError, PrePrepare, Replica};
use itc_sim::{run_seeds, Behavior, Scenario, Simulation, TestId};

const TARGET: &str = "section_4_2_normal_case";

#[test]
fn a_block_commits_in_three_phases() {
    let mut c = Cluster::new(&[1; 4]);
    let p = c.primary_index();
    let tx = c.tx(0);
    c.submit(p, 0, tx).unwrap();
    let out = c.persist(p);
    assert!(kinds(&out).contains(&"pre_prepare"));
    c.flood(0, out.into_iter().map(|m| (p, m)).collect());
    for r in c.replicas() {
        assert_eq!(r.executed_height(), 1);
        assert_eq!(r.last_block_hash(), c.replica(p).last_block_hash());
    }
    let decision = c.replica(0).decision(1).unwrap();
    decision
        .certificate
        .verify(c.replica(0).validators(), Threshold::TWO_THIRDS)
        .unwrap();
    assert_eq!(decision.block.transactions.len(), 1);
}

#[test]
fn votes_leave_only_after_persisting() {
    use itc_core::storage::MemoryStorage;
    let c = Cluster::new(&[1; 4]);
    let p = c.primary_index();
    // One replica's ready/persist order: the primary's, opened on its own.
    let mut storage = MemoryStorage::new();
    let mut primary = Replica::open(c.config(p), &storage).unwrap();
    let _ = primary.ready().persist(&mut storage).unwrap();
    primary.submit_transaction(0, c.tx(0)).unwrap();
    let mut ready = primary.ready();
    // Only the forwarded request may go out before the batch is durable.
    assert_eq!(kinds(&ready.take_messages()), vec!["request"]);
    assert!(!ready.writes().is_empty());
    let persisted = ready.persist(&mut storage).unwrap();
    let sent = kinds(&persisted.messages);
    assert!(
        sent.contains(&"pre_prepare") && sent.contains(&"prepare"),
        "{sent:?}"
    );
}

#[test]
fn a_replica_does_not_vote_for_an_invalid_block() {
    let mut c = Cluster::new(&[1; 4]);
    let p = c.primary_index();
    let tx = c.tx(0);
    c.submit(p, 0, tx).unwrap();
    let honest = find_pre_prepare(&c.persist(p)).unwrap();
    let mut block = honest.block.clone();
    block.header.state_root.0[0] ^= 1;
    let forged = PrePrepare::new_signed(&c.keys[p], ChainId(CHAIN), honest.view, block);
    let b = (p + 1) % 4;
    let from = c.keys[p].public();
    let result = c
        .replica_mut(b)
        .handle(0, from, Message::PrePrepare(forged));
    assert!(
        matches!(result, Err(MessageError::InvalidProposal(_))),
        "{result:?}"
    );
    assert!(!kinds(&c.persist(b)).contains(&"prepare"));
    // The honest proposal is still accepted afterwards.
    c.replica_mut(b)
        .handle(0, from, Message::PrePrepare(honest))
        .unwrap();
    assert!(kinds(&c.persist(b)).contains(&"prepare"));
}

#[test]
fn a_pre_prepare_from_a_backup_is_refused() {
    let mut c = Cluster::new(&[1; 4]);
    let p = c.primary_index();
    let tx = c.tx(0);
    c.submit(p, 0, tx).unwrap();
    let honest = find_pre_prepare(&c.persist(p)).unwrap();
    let b = (p + 1) % 4;
    let intruder = (p + 2) % 4;
    let forged =
        PrePrepare::new_signed(&c.keys[intruder], ChainId(CHAIN), honest.view, honest.block);
    let from = c.keys[intruder].public();
    let result = c
        .replica_mut(b)
        .handle(0, from, Message::PrePrepare(forged));
    assert_eq!(result, Err(MessageError::NotPrimary));
}

#[test]
fn garbage_bytes_are_rejected_without_effect() {
    let mut c = Cluster::new(&[1; 4]);
    let from = c.keys[1].public();
    for bytes in [
        &[][..],
        &[0xff][..],
        &[2, 1, 2, 3][..],
        &[6, 255, 255, 255, 255][..],
    ] {
        assert!(matches!(
            c.replica_mut(0).handle_message(0, from, bytes),
            Err(MessageError::Decode(_))
        ));
    }
    assert!(c.replica_mut(0).ready().is_empty());
}

#[test]
fn quorum_is_counted_in_weight_not_in_replicas() {
    // Weights 3, 1, 1, 1: three light replicas are a majority of replicas
    // but hold only half of the weight, which is not a quorum.
    let mut c = Cluster::new(&[3, 1, 1, 1]);
    let heavy = c.index_of(keypair(0).public());
    let p = c.primary_index();
    let tx = c.tx(0);
    c.submit(p, 0, tx).unwrap();
    let out: Vec<_> = c.persist(p).into_iter().map(|m| (p, m)).collect();
    c.flood_filtered(0, out.clone(), move |from, to, _| {
        from != heavy && to != heavy
    });
    for (i, r) in c.replicas().iter().enumerate() {
        if i != heavy {
            assert_eq!(
                r.executed_height(),
                0,
                "light replicas alone must not commit"
            );
        }
    }
    // With the heavy replica's votes, the same round completes.
    let mut again = Vec::new();
    for i in 0..4 {
        c.replica_mut(i).tick(1);
        again.extend(c.persist(i).into_iter().map(|m| (i, m)));
    }
    c.flood(1, out.into_iter().chain(again).collect());
    assert!(c.replicas().iter().all(|r| r.executed_height() == 1));
}

#[test]
fn a_restarted_replica_does_not_contradict_its_vote() {
    let mut c = Cluster::new(&[1; 4]);
    let p = c.primary_index();
    let tx = c.tx(0);
    c.submit(p, 0, tx).unwrap();
    let pre_prepare = find_pre_prepare(&c.persist(p)).unwrap();
    let hash = pre_prepare.block.header.hash();
    let b = (p + 1) % 4;
    let from = c.keys[p].public();
    c.replica_mut(b)
        .handle(0, from, Message::PrePrepare(pre_prepare.clone()))
        .unwrap();
    let _ = c.persist(b);
    // Crash and restart from storage.
    c.restart(b);
    let _ = c.persist(b);
    // The primary equivocates with another valid block for the same slot.
    let mut other = pre_prepare.block.clone();
    other.header.time_ms += 1;
    let other_hash = other.header.hash();
    let equivocation = PrePrepare::new_signed(&c.keys[p], ChainId(CHAIN), pre_prepare.view, other);
    let _ = c
        .replica_mut(b)
        .handle(0, from, Message::PrePrepare(equivocation));
    c.replica_mut(b).tick(1);
    let votes: Vec<_> = c
        .persist(b)
        .into_iter()
        .filter_map(|m| match m.message {
            Message::Vote(v) => Some(v),
            _ => None,
        })
        .collect();
    assert!(
        votes.iter().all(|v| v.block_hash != other_hash),
        "{votes:?}"
    );
    assert!(
        votes
            .iter()
            .any(|v| v.kind == VoteKind::Prepare && v.block_hash == hash),
        "the vote sent before the crash is retransmitted: {votes:?}"
    );
}

#[test]
fn a_restarted_replica_commits_the_proposal_it_stored_without_a_second_pre_prepare() {
    let mut c = Cluster::new(&[1; 4]);
    let p = c.primary_index();
    let tx = c.tx(0);
    c.submit(p, 0, tx).unwrap();
    let sent = c.persist(p);
    let pre_prepare = find_pre_prepare(&sent).unwrap();
    let b = (p + 1) % 4;
    let from = c.keys[p].public();
    c.replica_mut(b)
        .handle(0, from, Message::PrePrepare(pre_prepare))
        .unwrap();
    let _ = c.persist(b);
    c.restart(b);
    let mut pending: Vec<_> = c.persist(b).into_iter().map(|m| (b, m)).collect();
    pending.extend(sent.into_iter().map(|m| (p, m)));
    // The primary's pre-prepare never reaches the restarted replica again.
    c.flood_filtered(0, pending, move |_, to, m| {
        to != b || !matches!(m, Message::PrePrepare(_))
    });
    assert_eq!(
        c.replica(b).executed_height(),
        1,
        "{}",
        c.replica(b).debug_summary()
    );
    assert_eq!(
        c.replica(b).last_block_hash(),
        c.replica(p).last_block_hash()
    );
}

#[test]
fn four_replicas_commit_every_transaction() {
    let report = Simulation::<itc_pbft::NoAnchoring>::new(Scenario::basic(4), 7)
        .run()
        .unwrap();
    assert!(report.height >= 3, "{report:?}");
    assert_eq!(
        report.max_view, 0,
        "no view change without faults: {report:?}"
    );
}

#[test]
fn seven_replicas_commit_every_transaction() {
    run_seeds(
        TestId::new(
            "itc-pbft",
            TARGET,
            "seven_replicas_commit_every_transaction",
        ),
        3,
        |_| Scenario::basic(7),
    );
}

#[test]
fn a_silent_heavy_validator_stops_progress_but_a_light_one_does_not() {
    let mut light = Scenario::basic(4);
    light.weights = vec![3, 1, 1, 1];
    light.byzantine = vec![(1, Behavior::Silent)];
    Simulation::<itc_pbft::NoAnchoring>::new(light.clone(), 3)
        .run()
        .unwrap();
    let mut heavy = light;
    heavy.byzantine = vec![(0, Behavior::Silent)];
    heavy.liveness_ms = 10_000;
    let failure = Simulation::<itc_pbft::NoAnchoring>::new(heavy, 3)
        .run()
        .unwrap_err();
    assert!(failure.reason.contains("liveness"), "{failure}");
}

#[test]
fn transactions_waiting_for_an_earlier_nonce_do_not_crowd_out_ready_ones() {
    use itc_core::keys::Keypair;
    use itc_core::storage::MemoryStorage;
    let validator = keypair(0);
    let mut clients: Vec<Keypair> = (0..2u8)
        .map(|i| Keypair::from_seed([100 + i; 32]))
        .collect();
    clients.sort_by_key(|k| k.public());
    let (low, high) = (&clients[0], &clients[1]);
    let genesis = genesis_with_clients(&[validator.public()], &clients);
    let mut config = itc_pbft::Config::new(validator, genesis);
    config.block_transactions_max = 1;
    let mut storage = MemoryStorage::new();
    let mut replica = Replica::open(config, &storage).unwrap();
    let pay = |from: &Keypair, nonce: u64| transfer(from, nonce, 1);
    // The sender with the smaller key has only transactions that must wait
    // for its nonce 0; the other sender's nonce 0 is ready.
    replica.submit_transaction(0, pay(low, 1)).unwrap();
    replica.submit_transaction(0, pay(low, 2)).unwrap();
    replica.submit_transaction(0, pay(high, 0)).unwrap();
    let _ = replica.ready().persist(&mut storage).unwrap();
    assert_eq!(replica.executed_height(), 1, "{}", replica.debug_summary());
    assert_eq!(replica.ledger().account(&high.public()).nonce, 1);
    // Once the waiting sender's gap is filled, its whole run executes.
    replica.submit_transaction(1, pay(low, 0)).unwrap();
    let _ = replica.ready().persist(&mut storage).unwrap();
    assert_eq!(replica.ledger().account(&low.public()).nonce, 3);
    assert_eq!(replica.pool_len(), 0);
}

#[test]
fn every_ready_sender_is_served_in_turn_when_blocks_are_full() {
    use itc_core::keys::Keypair;
    let clients: Vec<Keypair> = (0..4u8)
        .map(|i| Keypair::from_seed([110 + i; 32]))
        .collect();
    let keys: Vec<Keypair> = (0..4u8).map(keypair).collect();
    let validators: Vec<_> = keys.iter().map(|k| k.public()).collect();
    let genesis = genesis_with_clients(&validators, &clients);
    let mut c = Cluster::<itc_pbft::NoAnchoring>::open(
        keys,
        genesis,
        clients[0].clone(),
        100_000,
        (),
        |config| config.block_transactions_max = 1,
    );
    let p = c.primary_index();
    // Every sender has ten transactions ready; blocks hold one.
    let mut sent = Vec::new();
    for nonce in 0..10 {
        for client in &clients {
            let tx = transfer(client, nonce, 1);
            c.submit(p, 0, tx).unwrap();
            sent.extend(c.persist(p).into_iter().map(|m| (p, m)));
        }
    }
    c.flood(0, sent);
    assert_eq!(c.replica(p).executed_height(), 40);
    // Senders take turns: in the first 36 blocks each one is served about
    // a quarter of the time (no sender waits for the others to run dry).
    let order: Vec<_> = (1..=36)
        .map(|h| c.replica(p).decision(h).unwrap().block.transactions[0].sender)
        .collect();
    for client in &clients {
        let served = order.iter().filter(|s| **s == client.public()).count();
        assert!((8..=10).contains(&served), "{served} of 36: {order:?}");
    }
}
