//! ITC benchmark binary.
//!
//! `cargo run --release -p itc-examples --bin itc-bench -- --json` prints one
//! JSON object whose `figures` map names to numbers. Ratios are computed
//! against baselines measured in the same run (for example
//! `ledger_efficiency = ledger_apply_tx_per_s / verify_per_s`), so they hold
//! across machines better than absolute figures.
//!
//! Options: `--json` (machine-readable output), `--quick` (smaller sizes, for
//! smoke tests; figures are then not comparable).

use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::{Domain, Hash};
use itc_core::keys::{Keypair, PublicKey, SigningDomain};
use itc_core::ledger::{BlockContext, Ledger};
use itc_core::merkle;
use itc_core::smt::SparseMerkleTree;
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

#[path = "../dag_bench.rs"]
mod dag_bench;
#[path = "../pbft_bench.rs"]
mod pbft_bench;
#[path = "../spv_bench.rs"]
mod spv_bench;

// Runs are repeatable: every random input comes from a seeded SplitMix64.
use itc_dag::tips::SplitMix64;

/// 32 random bytes (a key, a hash or a seed).
fn bytes32(rng: &mut SplitMix64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    out
}

struct Config {
    state_keys: usize,
    verify_iterations: usize,
    ledger_blocks: usize,
    block_size: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    // `--only NAME` runs one group (verify, hash, smt, ledger) for profiling.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let run = |group: &str| only.as_deref().is_none_or(|o| o == group);
    let config = if quick {
        Config {
            state_keys: 20_000,
            verify_iterations: 300,
            ledger_blocks: 2,
            block_size: 1_000,
        }
    } else {
        Config {
            state_keys: 1_000_000,
            verify_iterations: 5_000,
            ledger_blocks: 10,
            block_size: 1_000,
        }
    };
    let mut figures: BTreeMap<&'static str, f64> = BTreeMap::new();

    let verify_per_s = bench_verify(&config);
    figures.insert("verify_per_s", verify_per_s);
    let verify_distinct_per_s = bench_verify_distinct(&config);
    figures.insert("verify_distinct_per_s", verify_distinct_per_s);
    if run("hash") {
        figures.insert("hash_node_ns", bench_hash_node());
    }
    if run("smt") {
        let (updates_per_s, bytes_per_key) = bench_smt_update(&config);
        figures.insert("smt_update_per_s", updates_per_s);
        figures.insert("smt_bytes_per_key", bytes_per_key);
    }
    if run("ledger") {
        let ledger_apply_tx_per_s = bench_ledger_apply(&config, config.state_keys);
        figures.insert("ledger_apply_tx_per_s", ledger_apply_tx_per_s);
        figures.insert("ledger_efficiency", ledger_apply_tx_per_s / verify_per_s);
        // Against verifying as many distinct signatures, what the ledger
        // does: `verify_per_s` repeats one signature, whose fixed pattern
        // of branches the processor learns.
        figures.insert(
            "ledger_efficiency_distinct",
            ledger_apply_tx_per_s / verify_distinct_per_s,
        );
        // The same with a small state (a home or a building rather than a
        // city): memory latency in the large state's tree and map is most of
        // the gap between the two.
        let small = bench_ledger_apply(&config, config.state_keys / 100);
        figures.insert("ledger_apply_tx_per_s_small_state", small);
        figures.insert("ledger_efficiency_small_state", small / verify_per_s);
    }

    if run("spv") {
        for (k, v) in spv_bench::figures(quick) {
            figures.insert(k, v);
        }
    }
    if run("pbft") {
        figures.extend(pbft_bench::figures(quick));
        figures.insert(
            "pbft_efficiency",
            figures["pbft_commit_tx_per_s"] * 4.0 / verify_per_s,
        );
    }
    if run("dag") {
        figures.extend(dag_bench::figures(quick));
        figures.insert(
            "dag_efficiency",
            figures["dag_attach_tx_per_s"] / verify_per_s,
        );
    }

    if run("chaincode") {
        figures.extend(itc_examples::chaincode_bench::figures(quick));
        figures.insert(
            "chaincode_verify_contribution_in_signatures",
            figures["chaincode_verify_contribution_ms"] * verify_per_s / 1000.0,
        );
    }

    if run("seal") {
        figures.extend(itc_examples::seal_bench::figures(quick));
        figures.insert(
            "seal_xwing_1r_in_signatures",
            figures["seal_us_xwing_1r"] * verify_per_s / 1e6,
        );
        figures.insert(
            "open_xwing_1r_in_signatures",
            figures["open_us_xwing_1r"] * verify_per_s / 1e6,
        );
    }

    if json {
        let figures_json: serde_json::Map<String, serde_json::Value> = figures
            .iter()
            .map(|(k, v)| ((*k).to_string(), round(*v).into()))
            .collect();
        let out = serde_json::json!({
            "figures": figures_json,
            "context": {
                "quick": quick,
                "state_keys": config.state_keys,
                "block_size": config.block_size,
                "threads": 1,
                "crate_version": env!("CARGO_PKG_VERSION"),
            }
        });
        println!("{out}");
    } else {
        println!(
            "ITC benchmark ({} state keys, one thread)",
            config.state_keys
        );
        for (name, value) in &figures {
            println!("  {name:<36} {:>14}", round(*value));
        }
    }
}

fn round(v: f64) -> f64 {
    if v.abs() >= 100.0 {
        v.round()
    } else {
        (v * 1000.0).round() / 1000.0
    }
}

/// A public key, a transfer-sized message and its signature.
type Signed = (PublicKey, [u8; 120], itc_core::keys::Signature);

/// A key made from `seed`, and its signature over a message starting with
/// `head`.
fn signed(seed: [u8; 32], head: [u8; 32]) -> Signed {
    let keypair = Keypair::from_seed(seed);
    let mut message = [0xA5u8; 120]; // about the size of a transfer's signed bytes
    message[..32].copy_from_slice(&head);
    let signature = keypair.sign(SigningDomain::Transaction, ChainId(1), &message);
    (keypair.public(), message, signature)
}

/// Verifications per second going round `set`: the best of five rounds,
/// so that a moment of machine noise cannot lower the baseline and flatter
/// the efficiency ratios computed against it.
fn best_verify_rate(config: &Config, set: &[Signed]) -> f64 {
    let rounds = 5;
    let per_round = (config.verify_iterations / rounds).max(1);
    let mut best = 0f64;
    for round in 0..rounds {
        let start = Instant::now();
        for i in 0..per_round {
            let (public, message, signature) = &set[(round * per_round + i) % set.len()];
            black_box(public.verify(
                SigningDomain::Transaction,
                ChainId(1),
                black_box(message),
                signature,
            ))
            .expect("valid signature");
        }
        best = best.max(per_round as f64 / start.elapsed().as_secs_f64());
    }
    best
}

/// Raw signature verifications per second, of one signature over and over.
fn bench_verify(config: &Config) -> f64 {
    best_verify_rate(config, &[signed([3; 32], [0xA5; 32])])
}

/// Verifications per second of distinct signatures by distinct keys over
/// distinct messages (as a block's transactions are), going round 1,000 of
/// them. Repeating one signature, as [`bench_verify`] does, lets the branch
/// predictor learn the scalars' digit pattern, which no stream of real
/// transactions has.
fn bench_verify_distinct(config: &Config) -> f64 {
    let mut rng = SplitMix64::new(11);
    let set: Vec<Signed> = (0..1_000)
        .map(|_| signed(bytes32(&mut rng), bytes32(&mut rng)))
        .collect();
    best_verify_rate(config, &set)
}

fn bench_hash_node() -> f64 {
    let mut left = Hash::of(Domain::MerkleLeaf, b"left");
    let right = Hash::of(Domain::MerkleLeaf, b"right");
    let iterations = 1_000_000u32;
    let start = Instant::now();
    for _ in 0..iterations {
        left = merkle::node_hash(black_box(&left), black_box(&right));
    }
    black_box(left);
    start.elapsed().as_nanos() as f64 / iterations as f64
}

/// Random-key updates of existing keys in a tree of `state_keys` keys, and
/// the tree's heap bytes per key (arenas with their slack), with
/// the root recomputed after every 1,000 updates (as a ledger does per block).
fn bench_smt_update(config: &Config) -> (f64, f64) {
    let mut rng = SplitMix64::new(42);
    let mut tree = SparseMerkleTree::new();
    let mut keys = Vec::with_capacity(config.state_keys);
    for _ in 0..config.state_keys {
        let key = Hash(bytes32(&mut rng));
        tree.insert(key, Hash(bytes32(&mut rng)));
        keys.push(key);
    }
    black_box(tree.root());
    let bytes_per_key = tree.heap_bytes() as f64 / config.state_keys as f64;
    let updates = 200_000usize;
    let start = Instant::now();
    for i in 0..updates {
        let key = keys[(rng.next_u64() % keys.len() as u64) as usize];
        tree.insert(key, Hash(bytes32(&mut rng)));
        if i % 1_000 == 999 {
            black_box(tree.root());
        }
    }
    black_box(tree.root());
    (
        updates as f64 / start.elapsed().as_secs_f64(),
        bytes_per_key,
    )
}

/// How many passes of `ledger_blocks` blocks [`bench_ledger_apply`] times;
/// it reports the fastest, as [`best_verify_rate`] reports its fastest
/// round, so that the ratio of the two compares like with like on a shared
/// machine.
const LEDGER_PASSES: usize = 3;

/// Signed transfers applied by the ledger with signatures verified, one block
/// of `block_size` transfers at a time, state root computed per block, with
/// `state_keys` accounts in the state: the best of [`LEDGER_PASSES`] passes
/// of `ledger_blocks` blocks, the chain going on from one pass to the next.
fn bench_ledger_apply(config: &Config, state_keys: usize) -> f64 {
    let mut rng = SplitMix64::new(7);
    let senders: Vec<Keypair> = (0..config.block_size)
        .map(|_| Keypair::from_seed(bytes32(&mut rng)))
        .collect();
    let proposer = Keypair::from_seed([9; 32]).public();
    let mut accounts: Vec<GenesisAccount> = senders
        .iter()
        .map(|k| GenesisAccount {
            public_key: k.public(),
            balance: 1_000_000_000,
        })
        .collect();
    let receivers: Vec<PublicKey> = (0..state_keys.saturating_sub(senders.len()).max(1))
        .map(|_| PublicKey(bytes32(&mut rng)))
        .collect();
    accounts.extend(receivers.iter().map(|k| GenesisAccount {
        public_key: *k,
        balance: 1,
    }));
    let genesis = Genesis {
        chain_id: 1,
        epoch_length: 1_000_000,
        accounts,
        validators: vec![GenesisValidator {
            public_key: proposer,
            weight: 1,
        }],
        ..Genesis::default()
    };
    let (mut ledger, _writes) = Ledger::from_genesis(&genesis).expect("genesis");
    black_box(ledger.state_root());
    let blocks: Vec<Vec<Transaction>> = (0..config.ledger_blocks * LEDGER_PASSES)
        .map(|b| {
            senders
                .iter()
                .map(|sender| {
                    let to = receivers[(rng.next_u64() % receivers.len() as u64) as usize];
                    Transaction::new_signed(
                        sender,
                        ChainId(1),
                        b as u64,
                        Amount(1),
                        Payload::Transfer {
                            to,
                            amount: Amount(10),
                        },
                    )
                })
                .collect()
        })
        .collect();
    let mut best = 0f64;
    for (pass, blocks) in blocks.chunks(config.ledger_blocks).enumerate() {
        let start = Instant::now();
        for (i, block) in blocks.iter().enumerate() {
            let context = BlockContext {
                height: (pass * config.ledger_blocks + i) as u64 + 1,
                proposer,
                time_ms: 0,
            };
            let outcome = ledger.apply_block(&context, block).expect("valid block");
            black_box(outcome.state_root);
        }
        let rate = (blocks.len() * config.block_size) as f64 / start.elapsed().as_secs_f64();
        best = best.max(rate);
    }
    best
}
