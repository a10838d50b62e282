//! State transfer (Castro & Liskov, TOCS 2002, "state transfer"): a replica
//! that missed blocks catches up from peers with blocks and commit
//! certificates it verifies itself, so a lying peer cannot mislead it. Blocks
//! older than a replica keeps in memory are served from its storage, so an
//! outage of any length can be caught up.

mod common;

use common::*;
use futures::channel::mpsc;
use futures::FutureExt;
use itc_core::encoding::Encode;
use itc_core::keys::Keypair;
use itc_core::storage::MemoryStorage;
use itc_core::types::{Amount, ChainId, CommitCertificate, Payload, Transaction, VoteKind};
use itc_pbft::config::{COMMITTED_BLOCKS_RETAINED_MAX, STATE_SERVES_PER_INTERVAL_MAX};
use itc_pbft::driver::{Command, Driver, InProcessNetwork, ThreadTimer, Timer, Transport};
use itc_pbft::message::STATE_TRANSFER_BLOCKS_MAX;
use itc_pbft::persist::load_decision_range;
use itc_pbft::{Decision, Message, MessageError, Outgoing, Recipient, Replica};
use itc_sim::{run_seeds, Behavior, Outage, Scenario, TestId};

const TARGET: &str = "state_transfer";
/// Blocks committed while a replica is away: far more than kept in memory.
const OUTAGE_BLOCKS: u64 = 300;

/// Commit `blocks` blocks among replicas 0..3 while replica `absent` sees nothing.
fn cluster_with_laggard(blocks: u64, absent: usize) -> Cluster {
    let mut c = Cluster::new(&[1; 4]);
    for nonce in 0..blocks {
        let tx = c.tx(nonce);
        let entry = (0..4).find(|i| *i != absent).unwrap();
        c.submit(entry, 0, tx).unwrap();
        let out: Vec<_> = c.persist(entry).into_iter().map(|m| (entry, m)).collect();
        c.flood_filtered(0, out, move |from, to, _| from != absent && to != absent);
    }
    c
}

#[test]
fn a_lagging_replica_catches_up_by_anti_entropy() {
    let absent = 3;
    let mut c = cluster_with_laggard(3, absent);
    let height = c.replica(0).executed_height();
    assert!(height >= 1);
    assert_eq!(c.replica(absent).executed_height(), 0);
    let mut now = 0;
    while c.replica(absent).executed_height() < height {
        now += 100_000;
        assert!(now < 100_000 * 50, "no catch-up");
        c.replica_mut(absent).tick(now);
        let out: Vec<_> = c
            .persist(absent)
            .into_iter()
            .filter(|m| matches!(m.message, Message::StateRequest { .. }))
            .map(|m| (absent, m))
            .collect();
        c.flood(now, out);
    }
    assert_eq!(
        c.replica(absent).last_block_hash(),
        c.replica(0).last_block_hash()
    );
}

#[test]
fn a_lying_peer_cannot_mislead_a_lagging_replica() {
    let absent = 3;
    let mut c = cluster_with_laggard(1, absent);
    let honest = c.replica(0).decision(1).unwrap().clone();
    let liar = c.keys[2].public();

    // 1. A different body under the honest certificate.
    let mut body = honest.clone();
    body.block.transactions = vec![Transaction::new_signed(
        &Keypair::from_seed([200; 32]),
        ChainId(CHAIN),
        0,
        Amount(1),
        Payload::Transfer {
            to: Keypair::from_seed([9; 32]).public(),
            amount: Amount(999),
        },
    )];
    assert!(c
        .replica_mut(absent)
        .handle(0, liar, Message::StateResponse(vec![body]))
        .is_err());

    // 2. A forged block "certified" by too little weight (the liar alone).
    let mut forged = honest.clone();
    forged.block.header.time_ms += 1;
    let hash = forged.block.header.hash();
    let vote =
        itc_core::types::Vote::new_signed(&c.keys[2], ChainId(CHAIN), VoteKind::Commit, 1, 0, hash);
    forged.certificate = CommitCertificate::from_votes(ChainId(CHAIN), 1, 0, hash, [&vote]);
    let result = c
        .replica_mut(absent)
        .handle(0, liar, Message::StateResponse(vec![forged]));
    assert!(
        matches!(result, Err(MessageError::InvalidViewChange(_))),
        "{result:?}"
    );

    // 3. Signatures copied onto another block do not verify either.
    let mut copied = honest.clone();
    copied.block.header.time_ms += 1;
    copied.certificate.block_hash = copied.block.header.hash();
    assert!(c
        .replica_mut(absent)
        .handle(0, liar, Message::StateResponse(vec![copied]))
        .is_err());
    assert_eq!(c.replica(absent).executed_height(), 0);

    // The honest block is accepted.
    let server = c.keys[0].public();
    c.replica_mut(absent)
        .handle(
            0,
            server,
            Message::StateResponse(vec![Decision { ..honest }]),
        )
        .unwrap();
    assert_eq!(c.replica(absent).executed_height(), 1);
    assert_eq!(
        c.replica(absent).last_block_hash(),
        c.replica(0).last_block_hash()
    );
    let _ = c.persist(absent);
    c.check();
}

// ----- long outages, hand-driven --------------------------------------------

/// Commit `blocks` blocks (one transaction each, nonces from `first_nonce`)
/// while the replicas in `down` receive and send nothing.
fn commit_blocks(c: &mut Cluster, first_nonce: u64, blocks: u64, down: &[usize]) {
    let entry = (0..c.replicas().len()).find(|i| !down.contains(i)).unwrap();
    let before = c.replica(entry).executed_height();
    for nonce in first_nonce..first_nonce + blocks {
        let tx = c.tx(nonce);
        c.submit(entry, 0, tx).unwrap();
        let out: Vec<_> = c.persist(entry).into_iter().map(|m| (entry, m)).collect();
        let down = down.to_vec();
        c.flood_filtered(0, out, move |from, to, _| {
            !down.contains(&from) && !down.contains(&to)
        });
    }
    assert_eq!(c.replica(entry).executed_height(), before + blocks);
}

/// A replica that is not the primary of view 0 (so the others need no view
/// change while it is away), other than `besides`.
fn backup(c: &Cluster, besides: &[usize]) -> usize {
    let primary = c.primary_index();
    (0..c.replicas().len())
        .find(|i| *i != primary && !besides.contains(i))
        .unwrap()
}

/// How the network treats state-transfer answers of one replica: honest, or
/// rewritten into lies (and garbage sent besides).
struct Liar {
    index: usize,
    lies: u64,
}

impl Liar {
    /// The bytes `from` actually sends for `message`.
    fn tamper(&mut self, from: usize, message: &Message) -> Vec<Vec<u8>> {
        let Message::StateResponse(decisions) = message else {
            return vec![message.encode()];
        };
        if from != self.index || decisions.is_empty() {
            return vec![message.encode()];
        }
        self.lies += 1;
        let mut decisions = decisions.clone();
        let len = decisions.len();
        let first = &mut decisions[0];
        match self.lies % 5 {
            // A body that is not the certified one.
            0 => first.block.transactions.clear(),
            // A header changed under copied signatures.
            1 => {
                first.block.header.time_ms += 1;
                first.certificate.block_hash = first.block.header.hash();
            }
            // A certificate with too little weight.
            2 => first.certificate.signatures.truncate(1),
            // A broken chain: the first block left out.
            3 if len >= 2 => {
                decisions.remove(0);
            }
            // Blocks in the wrong order.
            4 if len >= 2 => decisions.reverse(),
            // No signatures at all.
            _ => first.certificate.signatures.clear(),
        }
        let mut garbage = Message::StateResponse(decisions.clone()).encode();
        let middle = garbage.len() / 2;
        garbage[middle] ^= 0x55;
        vec![Message::StateResponse(decisions).encode(), garbage]
    }
}

/// Deliver everything until quiet, with `liar`'s state answers rewritten.
/// Returns how many messages the receivers rejected.
fn deliver_all(c: &mut Cluster, now: u64, pending: Vec<(usize, Outgoing)>, liar: &mut Liar) -> u64 {
    let mut pending: std::collections::VecDeque<_> = pending.into();
    let mut rejected = 0;
    let mut rounds = 0;
    while let Some((from, outgoing)) = pending.pop_front() {
        rounds += 1;
        assert!(rounds < 100_000, "delivery does not terminate");
        let targets: Vec<usize> = match outgoing.to {
            Recipient::AllValidators => (0..c.replicas().len()).filter(|j| *j != from).collect(),
            Recipient::One(key) => vec![c.index_of(key)],
        };
        let from_key = c.keys[from].public();
        for bytes in liar.tamper(from, &outgoing.message) {
            for &to in &targets {
                if c.replica_mut(to)
                    .handle_message(now, from_key, &bytes)
                    .is_err()
                {
                    rejected += 1;
                }
                for m in c.persist(to) {
                    pending.push_back((to, m));
                }
                c.check();
            }
        }
    }
    rejected
}

/// Tick everyone once per retransmission interval until `laggard` has
/// caught up with replica `reference`. Returns the rejected messages.
fn catch_up(c: &mut Cluster, laggard: usize, reference: usize, liar: &mut Liar) -> u64 {
    let target = c.replica(reference).executed_height();
    let mut now = 0;
    let mut rejected = 0;
    while c.replica(laggard).executed_height() < target {
        now += 100_000;
        assert!(
            now <= 100_000 * 60,
            "no catch-up: at {} of {target}",
            c.replica(laggard).executed_height()
        );
        let out = tick_all(c, now);
        rejected += deliver_all(c, now, out, liar);
    }
    rejected
}

/// Same blocks at every height, same last hash, same state root.
fn assert_same_chain(c: &mut Cluster, a: usize, b: usize) {
    let height = c.replica(a).executed_height();
    assert_eq!(height, c.replica(b).executed_height());
    let mut from = 1;
    while from <= height {
        let left = load_decision_range(c.storage(a), from, 64).unwrap();
        let right = load_decision_range(c.storage(b), from, 64).unwrap();
        assert!(!left.is_empty());
        let hashes = |d: &[Decision]| d.iter().map(|d| d.block.header.hash()).collect::<Vec<_>>();
        assert_eq!(hashes(&left), hashes(&right), "blocks from height {from}");
        from += left.len() as u64;
    }
    assert_eq!(from, height + 1);
    assert_eq!(
        c.replica(a).last_block_hash(),
        c.replica(b).last_block_hash()
    );
    assert_eq!(
        c.replica(a).ledger().clone().state_root(),
        c.replica(b).ledger().clone().state_root()
    );
    assert_eq!(c.replica(a).halted(), None);
}

/// With `down` silent, one more block commits, and its certificate holds the
/// vote of `voter` (with four replicas of weight one, three votes are needed).
fn commit_with_vote_of(c: &mut Cluster, nonce: u64, down: usize, voter: usize) {
    let before = c.replica(voter).executed_height();
    commit_blocks(c, nonce, 1, &[down]);
    assert_eq!(c.replica(voter).executed_height(), before + 1);
    let decision = c.replica(voter).decision(before + 1).unwrap();
    assert!(decision
        .certificate
        .signatures
        .iter()
        .any(|s| s.validator == c.keys[voter].public()));
}

/// Crash `laggard` after a few blocks, commit [`OUTAGE_BLOCKS`] without it,
/// and restart it from its storage.
fn cluster_after_long_crash() -> (Cluster, usize) {
    let mut c = Cluster::new(&[1; 4]);
    let laggard = backup(&c, &[]);
    commit_blocks(&mut c, 0, 5, &[]);
    assert_eq!(c.replica(laggard).executed_height(), 5);
    commit_blocks(&mut c, 5, OUTAGE_BLOCKS, &[laggard]);
    let top = c.replica(c.primary_index()).executed_height();
    assert_eq!(top, 5 + OUTAGE_BLOCKS);
    // What the peers hold in memory no longer reaches the laggard's height.
    assert!(c.replica(c.primary_index()).decision(6).is_none());
    assert!(top - 5 > 4 * COMMITTED_BLOCKS_RETAINED_MAX as u64);
    c.restart(laggard);
    let _ = c.persist(laggard);
    assert_eq!(c.replica(laggard).executed_height(), 5);
    (c, laggard)
}

#[test]
fn a_replica_crashed_for_300_blocks_catches_up_to_the_same_chain_and_votes_again() {
    let (mut c, laggard) = cluster_after_long_crash();
    let primary = c.primary_index();
    let mut honest = Liar {
        index: usize::MAX,
        lies: 0,
    };
    catch_up(&mut c, laggard, primary, &mut honest);
    assert_same_chain(&mut c, laggard, primary);
    // It takes part again: with another backup down, its vote is needed.
    let other = backup(&c, &[laggard]);
    commit_with_vote_of(&mut c, 5 + OUTAGE_BLOCKS, other, laggard);
    assert_same_chain(&mut c, laggard, primary);
}

#[test]
fn a_lying_peer_among_the_servers_cannot_mislead_a_replica_300_blocks_behind() {
    let (mut c, laggard) = cluster_after_long_crash();
    let primary = c.primary_index();
    let liar = backup(&c, &[laggard]);
    let mut lying = Liar {
        index: liar,
        lies: 0,
    };
    // Unasked lies first: blocks above the laggard, from storage, tampered.
    let honest = load_decision_range(c.storage(primary), 6, STATE_TRANSFER_BLOCKS_MAX).unwrap();
    let liar_key = c.keys[liar].public();
    let mut rejected = 0;
    for _ in 0..5 {
        for bytes in lying.tamper(liar, &Message::StateResponse(honest.clone())) {
            let result = c.replica_mut(laggard).handle_message(0, liar_key, &bytes);
            assert!(result.is_err(), "a lie or garbled copy is accepted");
            rejected += 1;
        }
    }
    assert_eq!(c.replica(laggard).executed_height(), 5);
    // Unasked answers drive nothing: the lies made the laggard ask no one.
    assert!(!c
        .persist(laggard)
        .iter()
        .any(|m| matches!(m.message, Message::StateRequest { .. })));
    // A vote far ahead from the liar makes the laggard ask the liar ...
    let far = itc_core::types::Vote::new_signed(
        &c.keys[liar],
        ChainId(CHAIN),
        VoteKind::Prepare,
        5 + OUTAGE_BLOCKS,
        0,
        itc_core::Hash::ZERO,
    );
    let _ = c
        .replica_mut(laggard)
        .handle(0, liar_key, Message::Vote(far));
    assert!(c.persist(laggard).iter().any(|m| {
        matches!(m.message, Message::StateRequest { .. }) && m.to == Recipient::One(liar_key)
    }));
    // ... and its lying answer makes the laggard ask another validator at
    // once.
    for bytes in lying.tamper(liar, &Message::StateResponse(honest.clone())) {
        let result = c.replica_mut(laggard).handle_message(0, liar_key, &bytes);
        assert!(result.is_err(), "a lie or garbled copy is accepted");
        rejected += 1;
    }
    let asks: Vec<_> = c
        .persist(laggard)
        .into_iter()
        .filter(|m| matches!(m.message, Message::StateRequest { .. }))
        .map(|m| (laggard, m))
        .collect();
    assert!(!asks.is_empty());
    assert!(asks.iter().all(|(_, m)| m.to != Recipient::One(liar_key)));
    rejected += deliver_all(&mut c, 0, asks, &mut lying);
    assert!(c.replica(laggard).executed_height() > 5);
    rejected += catch_up(&mut c, laggard, primary, &mut lying);
    assert!(lying.lies >= 5, "the liar was asked and lied");
    assert!(rejected >= 10);
    assert_same_chain(&mut c, laggard, primary);
    assert_same_chain(&mut c, liar, primary);
    let other = (0..4)
        .find(|i| ![primary, laggard, liar].contains(i))
        .unwrap();
    commit_with_vote_of(&mut c, 5 + OUTAGE_BLOCKS, other, laggard);
}

#[test]
fn blocks_older_than_memory_are_served_from_storage_to_validators_only() {
    let mut c = Cluster::new(&[1; 4]);
    let blocks = COMMITTED_BLOCKS_RETAINED_MAX as u64 + 36;
    commit_blocks(&mut c, 0, blocks, &[]);
    let server = 0;
    let asker = c.keys[1].public();
    assert!(c.replica(server).decision(1).is_none());
    let answer = |c: &mut Cluster, from: itc_core::keys::PublicKey, from_height: u64| {
        let _ = c
            .replica_mut(server)
            .handle(0, from, Message::StateRequest { from_height });
        // Old blocks are not in memory: they are read while persisting.
        c.persist(server)
            .into_iter()
            .filter_map(|m| match m.message {
                Message::StateResponse(d) => {
                    assert_eq!(m.to, Recipient::One(from));
                    Some(d)
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    // From storage: the first blocks, with their certificates.
    let served = answer(&mut c, asker, 1);
    assert_eq!(served.len(), 1);
    let heights: Vec<u64> = served[0].iter().map(|d| d.block.header.height).collect();
    assert_eq!(
        heights,
        (1..=STATE_TRANSFER_BLOCKS_MAX as u64).collect::<Vec<_>>()
    );
    assert_eq!(
        served[0][0],
        load_decision_range(c.storage(server), 1, 1).unwrap()[0]
    );
    // From memory: the last blocks.
    let served = answer(&mut c, asker, blocks - 2);
    assert_eq!(served[0].len(), 3);
    // Not above the chain's height, not to a stranger.
    assert!(answer(&mut c, asker, blocks + 1).is_empty());
    let stranger = Keypair::from_seed([77; 32]).public();
    assert!(answer(&mut c, stranger, 1).is_empty());
    // At most STATE_SERVES_PER_INTERVAL_MAX answers per peer per interval.
    let other = c.keys[2].public();
    for _ in 0..STATE_SERVES_PER_INTERVAL_MAX {
        assert_eq!(answer(&mut c, other, 2).len(), 1);
    }
    assert!(answer(&mut c, other, 2).is_empty());
    c.replica_mut(server).tick(1_000_000);
    let _ = c.persist(server);
    assert_eq!(answer(&mut c, other, 2).len(), 1);
}

#[test]
fn the_async_driver_serves_blocks_older_than_memory_from_storage() {
    let mut c = Cluster::new(&[1; 4]);
    let blocks = COMMITTED_BLOCKS_RETAINED_MAX as u64 + 20;
    commit_blocks(&mut c, 0, blocks, &[]);
    let storage: MemoryStorage = c.storage(0).inner().clone();
    let replica = Replica::open(c.config(0), &storage).unwrap();
    assert!(replica.decision(1).is_none());
    let network = InProcessNetwork::new();
    let timer = ThreadTimer::new();
    let driver = Driver::new(
        replica,
        storage,
        network.join(c.keys[0].public()),
        timer.clone(),
    );
    let mut peer = network.join(c.keys[3].public());
    let (commands, command_stream) = mpsc::unbounded();
    let (committed, _committed_stream) = mpsc::unbounded();
    let thread = std::thread::spawn(move || {
        futures::executor::block_on(driver.run(command_stream, committed))
    });
    let deadline = timer.now_ms() + 30_000;
    let decisions = futures::executor::block_on(async {
        peer.send(
            Recipient::One(c.keys[0].public()),
            Message::StateRequest { from_height: 1 }.encode(),
        )
        .await
        .unwrap();
        loop {
            let received = futures::select! {
                m = peer.recv().fuse() => m,
                _ = timer.sleep_until(deadline).fuse() => None,
            };
            let (_, bytes) = received.expect("an answer within 30 s");
            if let Ok(Message::StateResponse(d)) = Message::from_bytes(&bytes) {
                break d;
            }
        }
    });
    commands.unbounded_send(Command::Stop).unwrap();
    thread.join().unwrap().unwrap();
    let heights: Vec<u64> = decisions.iter().map(|d| d.block.header.height).collect();
    assert_eq!(
        heights,
        (1..=STATE_TRANSFER_BLOCKS_MAX as u64).collect::<Vec<_>>()
    );
}

// ----- long outages in the simulator -----------------------------------------

/// Four replicas commit 320 one-transaction blocks while replica 3 is
/// crashed (even seeds) or partitioned away (odd seeds). Clients submit in
/// the first 3 s; the outage lasts 10 s, so that every block commits during
/// it even on seeds with slow view changes.
fn long_outage(seed: u64) -> Scenario {
    let mut s = Scenario::basic(4);
    s.transactions = OUTAGE_BLOCKS as usize + 20;
    s.clients = 3;
    s.block_transactions_max = 1;
    s.delay_ms = (1, 2);
    s.heal_ms = 3_000;
    s.outage = Some(Outage {
        replica: 3,
        from_ms: 1,
        until_ms: 10_000,
        crash: seed.is_multiple_of(2),
    });
    s
}

fn assert_long(reports: &[itc_sim::SimReport]) {
    for report in reports {
        assert!(
            report.height_at_outage_end >= OUTAGE_BLOCKS,
            "only {} blocks during the outage: {report:?}",
            report.height_at_outage_end
        );
    }
}

#[test]
fn a_replica_away_while_300_blocks_commit_catches_up_in_the_simulator() {
    let reports = run_seeds(
        TestId::new(
            "itc-pbft",
            TARGET,
            "a_replica_away_while_300_blocks_commit_catches_up_in_the_simulator",
        ),
        2,
        long_outage,
    );
    assert_long(&reports);
}

#[test]
fn a_lying_server_cannot_mislead_a_replica_back_from_a_long_outage_in_the_simulator() {
    let reports = run_seeds(
        TestId::new(
            "itc-pbft",
            TARGET,
            "a_lying_server_cannot_mislead_a_replica_back_from_a_long_outage_in_the_simulator",
        ),
        2,
        |seed| {
            let mut s = long_outage(seed);
            s.byzantine = vec![((seed % 3) as usize, Behavior::LyingServer)];
            s
        },
    );
    assert_long(&reports);
    for report in &reports {
        assert!(report.state_transfer_lies >= 1, "{report:?}");
    }
}

#[test]
fn a_replica_back_from_a_long_outage_catches_up_across_validator_set_changes() {
    let reports = run_seeds(
        TestId::new(
            "itc-pbft",
            TARGET,
            "a_replica_back_from_a_long_outage_catches_up_across_validator_set_changes",
        ),
        2,
        |seed| {
            let mut s = long_outage(seed);
            s.epoch_length = 3;
            // Over a hundred epoch boundaries during the outage; the three
            // live replicas grow heavier at some of them.
            s.validator_bonds = vec![(0, 1), (1, 1), (2, 1)];
            s
        },
    );
    assert_long(&reports);
    for report in &reports {
        assert!(report.validator_set_changes >= 1, "{report:?}");
    }
}
