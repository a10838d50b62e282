//! PBFT figures for itc-bench: throughput and efficiency of a 4-replica
//! cluster on one thread (itc-sim's fault-free manual mode, invariants
//! checked every `THROUGHPUT_CHECK_INTERVAL_STEPS` steps), submit-to-commit
//! latency with the async driver (one thread per replica), and the time a
//! view change takes after the primary crashes (virtual 1 ms links, default
//! timeouts, invariants after every step).

use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::Keypair;
use itc_core::storage::MemoryStorage;
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use itc_pbft::driver::futures;
use itc_pbft::driver::futures::channel::mpsc;
use itc_pbft::driver::futures::{FutureExt, StreamExt};
use itc_pbft::driver::{Command, Driver, InProcessNetwork, ThreadTimer, Timer};
use itc_pbft::{Config, Decision, Replica};
use itc_sim::Simulation;
use std::collections::BTreeMap;
use std::time::Instant;

const CHAIN: u32 = 77;
const REPLICAS: usize = 4;

struct Setup {
    keys: Vec<Keypair>,
    clients: Vec<Keypair>,
    genesis: Genesis,
}

fn setup(clients: usize) -> Setup {
    let keys: Vec<Keypair> = (0..REPLICAS as u8)
        .map(|i| Keypair::from_seed([i + 1; 32]))
        .collect();
    let clients: Vec<Keypair> = (0..clients)
        .map(|i| {
            let mut seed = [0xC1u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Keypair::from_seed(seed)
        })
        .collect();
    let genesis = Genesis {
        chain_id: CHAIN,
        accounts: clients
            .iter()
            .map(|c| GenesisAccount {
                public_key: c.public(),
                balance: 1_000_000_000,
            })
            .collect(),
        validators: keys
            .iter()
            .map(|k| GenesisValidator {
                public_key: k.public(),
                weight: 1,
            })
            .collect(),
        ..Genesis::default()
    };
    Setup {
        keys,
        clients,
        genesis,
    }
}

fn transactions(setup: &Setup, per_client: u64) -> Vec<Transaction> {
    let to = Keypair::from_seed([0xEE; 32]).public();
    let mut out = Vec::new();
    for nonce in 0..per_client {
        for client in &setup.clients {
            out.push(Transaction::new_signed(
                client,
                ChainId(CHAIN),
                nonce,
                Amount(1),
                Payload::Transfer {
                    to,
                    amount: Amount(1),
                },
            ));
        }
    }
    out
}

/// Invariant checks in the throughput run: every this many steps (a full
/// check scans each replica's pool, which holds thousands of transactions
/// here, so checking after every delivery would dominate the figure).
const THROUGHPUT_CHECK_INTERVAL_STEPS: u64 = 10_000;

/// Most simulator steps one figure may take.
const STEPS_MAX: usize = 10_000_000;

/// A single-threaded fault-free cluster on the one simulator, with a
/// virtual clock and a fixed link delay.
fn cluster(setup: &Setup, delay_ms: u64, block_transactions_max: usize) -> Simulation {
    let mut sim = Simulation::from_genesis(
        &setup.keys,
        setup.genesis.clone(),
        |config| config.block_transactions_max = block_transactions_max,
        (),
        0,
    )
    .expect("replicas open");
    sim.set_link_delay_ms(delay_ms);
    sim
}

fn committed_txs(sim: &Simulation, i: usize) -> usize {
    let r = sim.replica(i).expect("live");
    (1..=r.executed_height())
        .filter_map(|h| r.decision(h))
        .map(|d| d.block.transactions.len())
        .sum()
}

/// Transactions per second committed by 4 replicas on one thread.
fn commit_tx_per_s(quick: bool) -> f64 {
    let setup = setup(if quick { 50 } else { 200 });
    // 10,000 transactions (ten full blocks), so start-up and the final flush
    // are a small part of the timed window.
    let txs = transactions(&setup, if quick { 4 } else { 50 });
    let total = txs.len();
    let mut sim = cluster(&setup, 0, 1_000);
    sim.set_check_interval(THROUGHPUT_CHECK_INTERVAL_STEPS);
    let started = Instant::now();
    for (k, tx) in txs.into_iter().enumerate() {
        sim.submit(k % REPLICAS, tx).expect("admitted");
    }
    let done = sim
        .run_until(STEPS_MAX, |s| {
            s.replicas().all(|r| r.pool_len() == 0) && s.in_flight() == 0
        })
        .expect("invariants hold");
    let elapsed = started.elapsed().as_secs_f64();
    assert!(done, "the cluster drains");
    let committed = committed_txs(&sim, 0);
    assert_eq!(committed, total, "every transaction commits");
    committed as f64 / elapsed
}

/// Virtual ms from a crashed primary to the next committed block, on
/// simulated 1 ms links: the default 1 s view-change timeout plus the
/// protocol's own rounds.
fn view_change_ms() -> f64 {
    let setup = setup(4);
    let txs = transactions(&setup, 2);
    let mut sim = cluster(&setup, 1, 100);
    sim.submit(0, txs[0].clone()).expect("admitted");
    let committed = sim
        .run_until(STEPS_MAX, |s| s.min_executed_height() >= 1)
        .expect("invariants hold");
    assert!(committed, "the first block commits");
    let primary_key = sim.replica(0).expect("live").primary();
    let primary = setup
        .keys
        .iter()
        .position(|k| k.public() == primary_key)
        .expect("member");
    sim.crash_node(primary).expect("a node");
    let crashed_at = sim.now_ms();
    let backup = (primary + 1) % REPLICAS;
    sim.submit(backup, txs[1].clone()).expect("admitted");
    let changed = sim
        .run_until(STEPS_MAX, |s| {
            s.replica(backup).expect("live").executed_height() >= 2
        })
        .expect("invariants hold");
    assert!(changed, "view change completes");
    (sim.now_ms() - crashed_at) as f64
}

/// Submit-to-commit latency (p50, p99) in µs with the async driver, one
/// thread per replica, at `rate_per_s` transactions per second.
fn latency_us(quick: bool, rate_per_s: f64) -> (f64, f64) {
    let count = if quick { 40 } else { 300 };
    let setup = setup(count);
    let txs = transactions(&setup, 1);
    let network = InProcessNetwork::new();
    let timer = ThreadTimer::new();
    let (all_committed, mut committed_stream) = mpsc::unbounded::<Decision>();
    let mut commands = Vec::new();
    let mut threads = Vec::new();
    for (i, key) in setup.keys.iter().enumerate() {
        let transport = network.join(key.public());
        let storage = MemoryStorage::new();
        let mut config = Config::new(key.clone(), setup.genesis.clone());
        config.retransmit_interval_ms = 50;
        let replica = Replica::open(config, &storage).expect("opens");
        let (sender, stream) = mpsc::unbounded();
        commands.push(sender);
        let (committed, mut mine) = mpsc::unbounded::<Decision>();
        let forward = all_committed.clone();
        let driver = Driver::new(replica, storage, transport, timer.clone());
        threads.push(std::thread::spawn(move || {
            futures::executor::block_on(async move {
                let run = driver.run(stream, committed);
                let relay = async move {
                    while let Some(d) = mine.next().await {
                        if i == 0 {
                            let _ = forward.unbounded_send(d);
                        }
                    }
                };
                let (result, ()) = futures::join!(run, relay);
                result.map(|_| ())
            })
        }));
    }
    drop(all_committed);
    let interval_us = (1e6 / rate_per_s).max(1.0) as u64;
    let mut submitted: BTreeMap<itc_core::Hash, Instant> = BTreeMap::new();
    let mut latencies = Vec::new();
    let start = Instant::now();
    let mut next_submit = 0usize;
    let deadline = timer.now_ms() + 60_000;
    while latencies.len() < txs.len() {
        let due = start + std::time::Duration::from_micros(interval_us * next_submit as u64);
        if next_submit < txs.len() && Instant::now() >= due {
            let tx = txs[next_submit].clone();
            submitted.insert(tx.hash(), Instant::now());
            let _ = commands[next_submit % REPLICAS].unbounded_send(Command::Submit(Box::new(tx)));
            next_submit += 1;
            continue;
        }
        let wait_ms = if next_submit < txs.len() {
            timer.now_ms() + (interval_us / 1000).max(1)
        } else {
            deadline
        };
        let next = futures::executor::block_on(async {
            futures::select! {
                d = committed_stream.next().fuse() => d,
                _ = timer.sleep_until(wait_ms).fuse() => None,
            }
        });
        if let Some(decision) = next {
            let now = Instant::now();
            for tx in &decision.block.transactions {
                if let Some(at) = submitted.get(&tx.hash()) {
                    latencies.push(now.duration_since(*at).as_secs_f64() * 1e6);
                }
            }
        }
        assert!(timer.now_ms() < deadline, "latency run stalled");
    }
    for c in &commands {
        let _ = c.unbounded_send(Command::Stop);
    }
    for t in threads {
        let _ = t.join();
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    (at(0.50), at(0.99))
}

/// The PBFT figures. `pbft_efficiency` is computed by the caller against
/// the run's one `verify_per_s` baseline, like every other ratio.
pub fn figures(quick: bool) -> Vec<(&'static str, f64)> {
    let tx_per_s = commit_tx_per_s(quick);
    let (p50, p99) = latency_us(quick, (tx_per_s * 0.1).max(1.0));
    vec![
        ("pbft_commit_tx_per_s", tx_per_s),
        ("pbft_latency_us_p50", p50),
        ("pbft_latency_us_p99", p99),
        ("pbft_view_change_ms", view_change_ms()),
    ]
}
