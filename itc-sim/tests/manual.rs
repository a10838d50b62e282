//! The manual mode: a fault-free cluster driven step by step.

use itc_core::anchoring::NoAnchoring;
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::Keypair;
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use itc_sim::{ManualError, Simulation};

const CHAIN: u32 = 9;
const STEPS_MAX: usize = 100_000;

struct Fixture {
    keys: Vec<Keypair>,
    client: Keypair,
    genesis: Genesis,
}

fn fixture() -> Fixture {
    let keys: Vec<Keypair> = (1..=4u8).map(|i| Keypair::from_seed([i; 32])).collect();
    let client = Keypair::from_seed([0xC1; 32]);
    let genesis = Genesis {
        chain_id: CHAIN,
        genesis_time_ms: 5_000,
        accounts: vec![GenesisAccount {
            public_key: client.public(),
            balance: 1_000_000,
        }],
        validators: keys
            .iter()
            .map(|k| GenesisValidator {
                public_key: k.public(),
                weight: 1,
            })
            .collect(),
        ..Genesis::default()
    };
    Fixture {
        keys,
        client,
        genesis,
    }
}

fn transfer(client: &Keypair, nonce: u64) -> Transaction {
    Transaction::new_signed(
        client,
        ChainId(CHAIN),
        nonce,
        Amount(1),
        Payload::Transfer {
            to: Keypair::from_seed([0xEE; 32]).public(),
            amount: Amount(1),
        },
    )
}

fn cluster(f: &Fixture) -> Simulation<NoAnchoring> {
    Simulation::from_genesis(
        &f.keys,
        f.genesis.clone(),
        |config| config.block_transactions_max = 1,
        (),
        3,
    )
    .expect("opens")
}

#[test]
fn manual_cluster_commits_submitted_transactions_from_the_genesis_time() {
    let f = fixture();
    let mut sim = cluster(&f);
    assert!(sim.is_manual());
    assert_eq!(sim.now_ms(), 5_000);
    assert_eq!(sim.node_count(), 4);
    for nonce in 0..3 {
        sim.submit(nonce as usize % 4, transfer(&f.client, nonce))
            .expect("admitted");
    }
    assert!(sim
        .run_until(STEPS_MAX, |s| s.min_executed_height() >= 3)
        .expect("invariants hold"));
    assert_eq!(sim.decisions().len(), 3);
    for (i, decision) in sim.decisions().iter().enumerate() {
        assert_eq!(decision.block.header.height, i as u64 + 1);
        for replica in sim.replicas() {
            assert_eq!(
                replica
                    .decision(i as u64 + 1)
                    .map(|d| d.block.header.hash()),
                Some(decision.block.header.hash())
            );
        }
    }
}

#[test]
fn manual_crash_and_restart_catch_up_from_storage() {
    let f = fixture();
    let mut sim = cluster(&f);
    sim.set_link_delay_ms(2);
    sim.submit(0, transfer(&f.client, 0)).expect("admitted");
    assert!(sim
        .run_until(STEPS_MAX, |s| s.min_executed_height() >= 1)
        .unwrap());
    let primary = sim.replica(0).unwrap().primary();
    let backup = (0..4)
        .find(|i| f.keys[*i].public() != primary)
        .expect("a backup");
    sim.crash_node(backup).unwrap();
    assert!(sim.replica(backup).is_none());
    assert_eq!(
        sim.submit(backup, transfer(&f.client, 1)),
        Err(ManualError::NodeDown(backup))
    );
    let live = (0..4)
        .find(|i| *i != backup && f.keys[*i].public() != primary)
        .expect("another backup");
    for nonce in 1..4 {
        sim.submit(live, transfer(&f.client, nonce)).unwrap();
    }
    assert!(sim
        .run_until(STEPS_MAX, |s| s.min_executed_height() >= 4)
        .unwrap());
    sim.restart_node(backup).expect("restarts durably");
    assert_eq!(sim.replica(backup).unwrap().executed_height(), 1);
    // Restarting a running node does nothing.
    sim.restart_node(backup).unwrap();
    sim.submit(live, transfer(&f.client, 4)).unwrap();
    assert!(sim
        .run_until(STEPS_MAX, |s| s.min_executed_height() >= 5)
        .unwrap());
    assert_eq!(sim.decisions().len(), 5);
}

#[test]
fn manual_mode_reports_bad_input_as_typed_errors() {
    let f = fixture();
    let mut sim = cluster(&f);
    assert_eq!(
        sim.submit(7, transfer(&f.client, 0)),
        Err(ManualError::NoSuchNode(7))
    );
    assert_eq!(sim.crash_node(4), Err(ManualError::NoSuchNode(4)));
    assert_eq!(sim.restart_node(9), Err(ManualError::NoSuchNode(9)));
    assert!(sim.replica(4).is_none());
    // A transaction for another chain is refused with the replica's reason.
    let foreign = Transaction::new_signed(
        &f.client,
        ChainId(CHAIN + 1),
        0,
        Amount(1),
        Payload::Transfer {
            to: f.client.public(),
            amount: Amount(1),
        },
    );
    assert!(matches!(
        sim.submit(0, foreign),
        Err(ManualError::Refused(_))
    ));
}

#[test]
fn manual_idle_cluster_advances_virtual_time_and_checks_sparsely() {
    let f = fixture();
    let mut sim = cluster(&f);
    sim.set_check_interval(0); // clamped to 1
    sim.set_check_interval(50);
    let start = sim.now_ms();
    // Nothing to do: the clock moves on to the next deadline or by the
    // idle step, never backwards.
    assert!(!sim.run_until(20, |_| false).unwrap());
    assert!(sim.now_ms() > start);
    let moved = sim.now_ms();
    sim.advance_clock_to(start);
    assert_eq!(sim.now_ms(), moved);
    sim.advance_clock_to(start + 1_000_000);
    assert_eq!(sim.now_ms(), start + 1_000_000);
    assert!(sim.decisions().is_empty());
}

#[test]
fn manual_held_messages_wait_for_the_caller_and_settle_delivers_at_one_instant() {
    let f = fixture();
    let mut sim = cluster(&f);
    let primary = sim.replica(0).unwrap().primary();
    let p = (0..4).find(|i| f.keys[*i].public() == primary).unwrap();
    sim.hold_messages(true);
    sim.submit(p, transfer(&f.client, 0)).unwrap();
    let proposal = sim.take_held(p);
    assert!(proposal.iter().any(|m| m.message.kind() == "pre_prepare"));
    assert!(sim.take_held(p).is_empty(), "taken once");
    let unknown = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.take_held(99)));
    assert!(
        unknown.is_err(),
        "no node 99: a mistake in the test, not an empty outbox"
    );
    assert_eq!(sim.in_flight(), 0, "nothing is sent while held");
    // Delivered while held: the backups' votes wait in their outboxes.
    sim.send_messages(p, proposal.clone());
    assert_eq!(sim.in_flight(), 3 * proposal.len());
    let now = sim.now_ms();
    assert_eq!(
        sim.settle().unwrap(),
        3 * proposal.len() as u64,
        "to 3 backups"
    );
    assert_eq!(sim.now_ms(), now, "settling does not move the clock");
    let backup = (p + 1) % 4;
    let votes = sim.take_held(backup);
    assert!(votes.iter().any(|m| m.message.kind() == "prepare"));
    // Sent at once again, but every commit vote is lost: nothing commits.
    sim.hold_messages(false);
    sim.set_link_filter(Some(Box::new(|_, _, m| m.kind() != "commit")));
    let mut kept = 0;
    for i in 0..4 {
        let held = sim.take_held(i);
        kept += held.len();
        sim.send_messages(i, held);
    }
    assert!(kept > 0, "what was held stays held when holding stops");
    sim.send_messages(backup, votes);
    sim.settle().unwrap();
    assert_eq!(sim.min_executed_height(), 0);
    assert!(sim.committed_hashes(p).is_empty());
    // Without the filter, a tick's retransmissions complete the round.
    sim.set_link_filter(None);
    sim.advance_clock_to(now + 1);
    sim.tick_all();
    sim.settle().unwrap();
    assert_eq!(sim.min_executed_height(), 1);
    for i in 0..4 {
        assert_eq!(
            sim.committed_hashes(i),
            &[sim.decisions()[0].block.header.hash()]
        );
        let stored = itc_pbft::persist::load_decision_range(sim.storage(i).unwrap(), 1, 1);
        assert_eq!(stored.unwrap()[0].block, sim.decisions()[0].block);
    }
    assert!(sim.storage(4).is_none());
    assert!(sim.committed_hashes(4).is_empty());
}
