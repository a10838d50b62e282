//! DAG figures for itc-bench (issue 5):
//!
//! * `dag_attach_tx_per_s`: signed, PoW-stamped (level 0) transactions
//!   validated (structure, id, proof of work, signature, parents) and
//!   attached per second, one thread; `dag_efficiency` divides it by
//!   `verify_per_s` in `main`.
//! * `dag_tip_select_us`: one tip selection with 1,000,000 transactions in
//!   the DAG (100,000 in quick mode), built in batches whose tips are chosen
//!   before any of them arrives, so the pool is wide; `dag_tip_pool_len` is
//!   the pool's size while selection is timed.
//! * `dag_bytes_per_tx`: `Tangle::memory_bytes()` per stored transaction in
//!   that DAG (2 parents, 32-byte data record), indexes and tip pool
//!   included; computed from capacities (the binary's counting allocator
//!   belongs to spv_bench), so allocator overhead is not counted.
//! * `dag_confirm_10k_ms`: white-flag ordering and application of a
//!   10,000-transaction cone (transfers and data, some conflicting), with
//!   both Merkle roots.
//! * `dag_pow_ms_level_N`: mean time to solve the default base difficulty of
//!   security level N (8, 12, 16, 20 bits).
//!
//! Included into the itc-bench binary with `#[path]`.

use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey, Signature};
use itc_core::types::{Amount, ChainId, DagAnchor, SecurityLevel, SECURITY_LEVEL_MAX};
use itc_dag::pow::PowParams;
use itc_dag::tips::SplitMix64;
use itc_dag::{DagConfig, DagPayload, DagTransaction, Tangle};
use std::hint::black_box;
use std::time::Instant;

const CHAIN: ChainId = ChainId(1);
/// Transactions whose tips are selected before any of them is attached.
const TIP_BATCH: usize = 100;

fn keypair(i: u64) -> Keypair {
    let mut seed = [0x5au8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    Keypair::from_seed(seed)
}

fn record(i: u64) -> DagPayload {
    DagPayload::Data {
        record: i.to_le_bytes().repeat(4),
    }
}

fn level0(_: &PublicKey) -> Option<SecurityLevel> {
    SecurityLevel::new(0)
}

/// DAG figures; `quick` uses smaller sizes.
pub fn figures(quick: bool) -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    out.push((
        "dag_attach_tx_per_s",
        bench_attach(if quick { 2_000 } else { 20_000 }),
    ));
    let (select_us, bytes_per_tx, tip_pool_len) =
        bench_large_dag(if quick { 100_000 } else { 1_000_000 });
    out.push(("dag_tip_select_us", select_us));
    out.push(("dag_tip_pool_len", tip_pool_len));
    out.push(("dag_bytes_per_tx", bytes_per_tx));
    out.push(("dag_confirm_10k_ms", bench_confirm(10_000)));
    let samples: [u32; 4] = if quick {
        [20, 5, 2, 1]
    } else {
        [400, 100, 16, 6]
    };
    let names = [
        "dag_pow_ms_level_0",
        "dag_pow_ms_level_1",
        "dag_pow_ms_level_2",
        "dag_pow_ms_level_3",
    ];
    for level in 0..=SECURITY_LEVEL_MAX {
        out.push((
            names[level as usize],
            bench_pow(level, samples[level as usize]),
        ));
    }
    out
}

/// Build `count` real transactions on a builder node (default difficulty,
/// level 0, issuers spread so the rate rule never bites), then time a fresh
/// node attaching them in the same order.
fn bench_attach(count: usize) -> f64 {
    let config = DagConfig::new(CHAIN);
    let mut builder = Tangle::new(config);
    let issuers: Vec<Keypair> = (0..1_000).map(keypair).collect();
    let mut txs = Vec::with_capacity(count);
    for i in 0..count {
        let issuer = &issuers[i % issuers.len()];
        let now = i as u64 * 10;
        let tx = builder
            .issue(
                issuer,
                (i / issuers.len()) as u64,
                record(i as u64),
                now,
                i as u64,
                &level0,
                1 << 30,
            )
            .expect("builder issues");
        txs.push((now, tx));
    }
    let mut node = Tangle::new(config);
    let start = Instant::now();
    for (now, tx) in txs {
        node.attach(tx, now, &level0).expect("valid transaction");
    }
    let per_s = count as f64 / start.elapsed().as_secs_f64();
    assert_eq!(node.len(), count);
    per_s
}

/// A DAG of `count` transactions (2 parents from tip selection, 32-byte
/// records), built through `attach_verified` since signatures are not what
/// is measured here. Returns (µs per tip selection, bytes per transaction,
/// tips in the pool when selection is timed).
fn bench_large_dag(count: usize) -> (f64, f64, f64) {
    let mut config = DagConfig::new(CHAIN);
    config.tips.parents = 2;
    let mut node = Tangle::new(config);
    let issuers: Vec<PublicKey> = (0..10_000u64)
        .map(|i| {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&i.to_le_bytes());
            PublicKey(key)
        })
        .collect();
    // Issuers select tips for a batch of transactions before any of them
    // arrives (as on a network with latency), so the tip pool is as wide as
    // in a busy deployment rather than one or two tips.
    let mut batch = Vec::with_capacity(TIP_BATCH);
    for i in 0..count {
        let now = i as u64;
        let parents = node.select_tips(now, i as u64);
        batch.push(DagTransaction {
            chain_id: CHAIN,
            parents,
            issuer: issuers[i % issuers.len()],
            sequence: (i / issuers.len()) as u64,
            payload: record(i as u64),
            nonce: 0,
            signature: Signature([0; 64]),
        });
        if batch.len() == TIP_BATCH || i + 1 == count {
            for tx in batch.drain(..) {
                node.attach_verified(tx, now).expect("structurally valid");
            }
        }
    }
    assert_eq!(node.len(), count);
    let tip_pool_len = node.tip_count() as f64;
    let bytes_per_tx = node.memory_bytes() as f64 / count as f64;
    let now = count as u64;
    let calls = 100_000u64;
    let start = Instant::now();
    for seed in 0..calls {
        black_box(node.select_tips(now, seed));
    }
    let select_us = start.elapsed().as_secs_f64() * 1e6 / calls as f64;
    (select_us, bytes_per_tx, tip_pool_len)
}

/// A 10,000-transaction unconfirmed DAG whose last transaction's cone is
/// everything (each approves its predecessor and a random recent one);
/// funded accounts transfer among themselves, some overspending, some
/// reusing a sequence number. Times compute + apply of the anchor.
fn bench_confirm(count: usize) -> f64 {
    let mut node = Tangle::new(DagConfig::new(CHAIN));
    let accounts: Vec<PublicKey> = (0..200).map(|i| keypair(i).public()).collect();
    for account in &accounts {
        node.credit(*account, Amount(1_000)).expect("credit");
    }
    let mut rng = SplitMix64::new(11);
    let mut ids: Vec<Hash> = itc_dag::genesis_entry_points(CHAIN).to_vec();
    for i in 0..count {
        let last = ids[ids.len() - 1];
        let mut other = ids[ids.len() - 1 - rng.below(ids.len().min(16))];
        if other == last {
            other = ids[ids.len() - 2];
        }
        let issuer = accounts[rng.below(accounts.len())];
        let payload = if i % 3 == 0 {
            record(i as u64)
        } else {
            DagPayload::Transfer {
                to: accounts[rng.below(accounts.len())],
                amount: Amount(1 + rng.below(200) as u64),
            }
        };
        let tx = DagTransaction {
            chain_id: CHAIN,
            parents: if last < other {
                vec![last, other]
            } else {
                vec![other, last]
            },
            issuer,
            sequence: (i / accounts.len()) as u64 + (rng.below(20) == 0) as u64,
            payload,
            nonce: 0,
            signature: Signature([0; 64]),
        };
        ids.push(tx.id());
        node.attach_verified(tx, i as u64)
            .expect("structurally valid");
    }
    let anchor = DagAnchor {
        tips: vec![*ids.last().expect("built")],
    };
    let start = Instant::now();
    let confirmation = node.compute_confirmation(&anchor, 1).expect("solid cone");
    assert_eq!(confirmation.order.len(), count);
    node.apply_confirmation(confirmation).expect("fresh");
    start.elapsed().as_secs_f64() * 1e3
}

/// Mean time to solve the default base difficulty of `level`.
fn bench_pow(level: u8, samples: u32) -> f64 {
    let params = PowParams::default();
    let bits = params.base_bits(SecurityLevel::new(level).expect("level"));
    let issuer = keypair(7);
    let parents = itc_dag::genesis_entry_points(CHAIN).to_vec();
    let mut total = 0.0;
    for i in 0..samples {
        let mut tx =
            DagTransaction::new_signed(&issuer, CHAIN, parents.clone(), i as u64, record(i as u64));
        let start = Instant::now();
        tx.solve_pow(bits, 1 << 34).expect("solved");
        total += start.elapsed().as_secs_f64();
        black_box(tx.nonce);
    }
    total * 1e3 / samples as f64
}
