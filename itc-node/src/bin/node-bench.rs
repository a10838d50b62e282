//! `node-bench`: figures of four `itc-node` processes on loopback (issue 13).
//!
//! ```text
//! cargo build --release -p itc-node            # builds itc-node AND node-bench
//! cargo run --release -p itc-node --bin node-bench -- [--quick] [--json]
//! ```
//!
//! The validators are real `itc-node` processes started by
//! [`itc_node::harness::Cluster`]. The binary they run is the **sibling
//! `itc-node` in the directory of this executable** (for
//! `target/release/node-bench`, `target/release/itc-node`); `--node-bin
//! PATH` or the `ITC_NODE_BIN` environment variable names another one.
//! `cargo run --bin node-bench` builds only node-bench, so build the
//! package first (above): the bench refuses to run if the sibling is
//! missing, and a sibling left from an older build runs as it is.
//!
//! Figures (`--json` prints one object with `figures` and `context`):
//!
//! - `node_commit_latency_us_p50` / `_p99`: one transaction at a time,
//!   round-robin over the four nodes, measured by the client: from the
//!   `POST /v1/transactions` to the moment the node that received it
//!   reports it committed (the client polls that node's `/v1/status`,
//!   which does not touch the replica thread, every 200 µs, and on every
//!   new height asks `/v1/transactions/{hash}`). The node's own
//!   `itc_commit_latency_us` histogram (API admission to commit) is read
//!   from `/metrics` over the same window and reported in `context` as
//!   bucket upper bounds.
//! - `node_commit_tx_per_s`: transfers committed per second at saturation:
//!   [`SUBMITTERS_PER_ACCOUNT`] client threads per funded account (8), each
//!   submitting every fourth nonce without waiting for commits, up to the
//!   pool's window ([`itc_pbft::config::POOL_NONCE_AHEAD_MAX`]
//!   ahead of its committed nonce) into one node, from the first submission
//!   until the last transaction of every account is committed on node 0.
//! - `pbft_commit_tx_per_s`: the in-process baseline of the same run: four
//!   [`itc_pbft::Replica`]s on one thread over [`MemoryStorage`], messages
//!   delivered at once (no link delay, virtual clock), over **the same
//!   genesis, validator keys, accounts and transfers** as the cluster, fed
//!   with the same nonce window. `node_commit_ratio` = node / in-process.
//! - `node_catch_up_blocks_per_s`: a second cluster with one transaction per
//!   block; a backup is killed (`kill -9`), the others commit 10,000 blocks
//!   (`--quick`: 1,000), the backup is restarted: blocks it lacked divided
//!   by the time from its restart (process spawn) to reaching the cluster's
//!   height.
//! - `node_rss_bytes`: VmRSS (`/proc/PID/status`) of the largest validator
//!   after 100,000 transactions (`--quick`: 10,000).
//! - `fsync_us_p50`: this machine's 4 KiB overwrite + `sync_data`, measured
//!   in the same run next to the node's data: each redb commit costs two.

use itc_core::genesis::Genesis;
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::storage::MemoryStorage;
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use itc_node::client::{Client, ClientError};
use itc_node::harness::Cluster;
use itc_pbft::{Recipient, Replica};
use std::collections::{BTreeMap, VecDeque};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Validators in every cluster.
const VALIDATORS: usize = 4;
/// How far ahead of its committed nonce an account may submit.
const WINDOW: u64 = itc_pbft::config::POOL_NONCE_AHEAD_MAX;
/// Client threads per account in the saturation phase, each submitting
/// every `SUBMITTERS_PER_ACCOUNT`-th nonce: a 202 waits for the node's
/// next durable batch, so one synchronous submitter per account measures
/// the round trip of that batch, not what the nodes can commit.
const SUBMITTERS_PER_ACCOUNT: u64 = 4;
/// Longest a single phase may take before the bench gives up.
const PHASE_DEADLINE: Duration = Duration::from_secs(600);
/// Status poll interval while timing one transaction.
const POLL: Duration = Duration::from_micros(200);

/// Why the bench stopped.
#[derive(Debug)]
struct BenchError(String);

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ClientError> for BenchError {
    fn from(e: ClientError) -> Self {
        BenchError(e.to_string())
    }
}

impl From<std::io::Error> for BenchError {
    fn from(e: std::io::Error) -> Self {
        BenchError(e.to_string())
    }
}

type Result<T, E = BenchError> = std::result::Result<T, E>;

fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(BenchError(message.into()))
}

/// Sizes of one run.
struct Sizes {
    latency_samples: usize,
    total_transactions: u64,
    catch_up_blocks: u64,
    baseline_transactions: u64,
    fsync_iterations: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                latency_samples: 100,
                total_transactions: 10_000,
                catch_up_blocks: 1_000,
                baseline_transactions: 4_000,
                fsync_iterations: 100,
            }
        } else {
            Sizes {
                latency_samples: 500,
                total_transactions: 100_000,
                catch_up_blocks: 10_000,
                baseline_transactions: 20_000,
                fsync_iterations: 500,
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "node-bench [--quick] [--json] [--node-bin PATH]\n\
             Runs 4 itc-node processes on loopback (the sibling itc-node binary unless\n\
             --node-bin or ITC_NODE_BIN says otherwise) and prints their figures."
        );
        return std::process::ExitCode::SUCCESS;
    }
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    let node_bin = args
        .iter()
        .position(|a| a == "--node-bin")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("ITC_NODE_BIN").map(PathBuf::from));
    match run(quick, json, node_bin) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("node-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The `itc-node` binary to run: given, or next to this executable.
fn node_binary(given: Option<PathBuf>) -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    let path = match given {
        Some(p) => p,
        None => me
            .parent()
            .map(|d| d.join("itc-node"))
            .ok_or_else(|| BenchError("current executable has no directory".into()))?,
    };
    if !path.is_file() {
        return fail(format!(
            "{} not found: build it first (cargo build --release -p itc-node) or pass --node-bin PATH",
            path.display()
        ));
    }
    Ok(path)
}

/// Progress goes to stderr, so that `--json` output stays one object.
fn progress(message: &str) {
    eprintln!("node-bench: {message}");
}

fn run(quick: bool, json: bool, node_bin: Option<PathBuf>) -> Result<()> {
    let started = Instant::now();
    let binary = node_binary(node_bin)?;
    let sizes = Sizes::new(quick);
    let load_before = load_average();
    let mut figures: BTreeMap<&'static str, f64> = BTreeMap::new();
    let mut context = serde_json::Map::new();
    let mut phase_s = serde_json::Map::new();

    // The cluster's files first: the baseline runs over its genesis before
    // any node uses the CPU.
    let mut cluster = Cluster::init(&binary, "bench", VALIDATORS, |_| {});
    let genesis_text = std::fs::read_to_string(cluster.dir.join("genesis.json"))?;
    let genesis = Genesis::from_json(&genesis_text).map_err(|e| BenchError(e.to_string()))?;
    let validator_keys = cluster
        .nodes
        .iter()
        .map(|n| itc_node::keys::read_key_file(&n.dir.join("node.key")))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| BenchError(e.to_string()))?;

    let t = Instant::now();
    let (fsync_p50, fsync_p99) = fsync_us(&cluster.dir, sizes.fsync_iterations)?;
    figures.insert("fsync_us_p50", fsync_p50);
    context.insert("fsync_us_p99".into(), round(fsync_p99).into());
    phase_s.insert("fsync".into(), round(t.elapsed().as_secs_f64()).into());
    progress(&format!(
        "fsync p50 {fsync_p50:.0} µs, p99 {fsync_p99:.0} µs"
    ));

    let t = Instant::now();
    let baseline = in_process_tx_per_s(
        &genesis,
        &validator_keys,
        &cluster.accounts,
        sizes.baseline_transactions,
    )?;
    figures.insert("pbft_commit_tx_per_s", baseline);
    phase_s.insert("in_process".into(), round(t.elapsed().as_secs_f64()).into());
    progress(&format!("in-process baseline {baseline:.0} tx/s"));

    let t = Instant::now();
    for i in 0..VALIDATORS {
        cluster.spawn(i);
    }
    for i in 0..VALIDATORS {
        cluster.wait_ready(i);
    }
    phase_s.insert("start".into(), round(t.elapsed().as_secs_f64()).into());
    let mut nonces = vec![0u64; cluster.accounts.len()];

    // Warm up: connections, first blocks.
    for (a, nonce) in nonces.iter_mut().enumerate() {
        let tx = cluster.transfer(a, *nonce);
        let hash = submit(
            cluster.client(a % VALIDATORS),
            &tx,
            Instant::now() + PHASE_DEADLINE,
        )?;
        *nonce += 1;
        cluster
            .client(a % VALIDATORS)
            .wait_committed(&hash, Duration::from_secs(60))?;
    }

    // Latency: one transaction at a time.
    let t = Instant::now();
    let before: Vec<String> = (0..VALIDATORS)
        .map(|i| metrics_text(cluster.client(i)))
        .collect();
    let mut latencies = Vec::with_capacity(sizes.latency_samples);
    for k in 0..sizes.latency_samples {
        let a = k % cluster.accounts.len();
        let node = k % VALIDATORS;
        let tx = cluster.transfer(a, nonces[a]);
        nonces[a] += 1;
        latencies.push(one_commit_us(cluster.client(node), &tx)?);
    }
    let after: Vec<String> = (0..VALIDATORS)
        .map(|i| metrics_text(cluster.client(i)))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let (p50, p99) = (quantile(&latencies, 0.50), quantile(&latencies, 0.99));
    figures.insert("node_commit_latency_us_p50", p50);
    figures.insert("node_commit_latency_us_p99", p99);
    context.insert("latency_samples".into(), latencies.len().into());
    context.insert(
        "latency_us_max".into(),
        round(latencies[latencies.len() - 1]).into(),
    );
    let histogram = histogram_delta(&before, &after);
    context.insert(
        "metrics_commit_latency_us_p50_le".into(),
        histogram_quantile(&histogram, 0.50).into(),
    );
    context.insert(
        "metrics_commit_latency_us_p99_le".into(),
        histogram_quantile(&histogram, 0.99).into(),
    );
    phase_s.insert("latency".into(), round(t.elapsed().as_secs_f64()).into());
    progress(&format!("latency p50 {p50:.0} µs, p99 {p99:.0} µs"));

    // Saturation up to the total, then the memory of the validators.
    let t = Instant::now();
    let done: u64 = nonces.iter().sum();
    let remaining = sizes.total_transactions.saturating_sub(done);
    let (count, elapsed) = saturate(&cluster, &mut nonces, remaining)?;
    let tx_per_s = count as f64 / elapsed;
    figures.insert("node_commit_tx_per_s", tx_per_s);
    figures.insert("node_commit_ratio", tx_per_s / baseline);
    context.insert("saturation_transactions".into(), count.into());
    let height = cluster.client(0).height()?;
    context.insert("saturation_blocks_end_height".into(), height.into());
    context.insert(
        "saturation_tx_per_block".into(),
        round(nonces.iter().sum::<u64>() as f64 / height.max(1) as f64).into(),
    );
    phase_s.insert("saturation".into(), round(t.elapsed().as_secs_f64()).into());
    context.insert(
        "after_saturation_per_node".into(),
        node_counters(&cluster).into(),
    );
    let view_changes: Vec<serde_json::Value> = (0..VALIDATORS)
        .flat_map(|i| {
            cluster
                .log(i)
                .lines()
                .filter(|l| l.contains("view change"))
                .map(|l| format!("node {i}: {l}").into())
                .collect::<Vec<_>>()
        })
        .take(40)
        .collect();
    context.insert("view_change_log".into(), view_changes.into());
    progress(&format!(
        "saturation {tx_per_s:.0} tx/s ({count} transactions in {elapsed:.1} s)"
    ));
    let mut rss = Vec::new();
    for node in &cluster.nodes {
        let pid = node
            .child
            .as_ref()
            .map(|c| c.id())
            .ok_or_else(|| BenchError("a validator is not running".into()))?;
        rss.push(rss_bytes(pid)?);
    }
    let total: u64 = nonces.iter().sum();
    figures.insert(
        "node_rss_bytes",
        rss.iter().copied().max().unwrap_or(0) as f64,
    );
    context.insert("rss_bytes_per_validator".into(), rss.clone().into());
    context.insert("rss_after_transactions".into(), total.into());
    progress(&format!("RSS after {total} transactions: {rss:?}"));
    drop(cluster);

    // Catch-up, with one transaction per block.
    let t = Instant::now();
    let (blocks, seconds, production) = catch_up(&binary, sizes.catch_up_blocks)?;
    figures.insert("node_catch_up_blocks_per_s", blocks as f64 / seconds);
    context.insert("catch_up_blocks".into(), blocks.into());
    context.insert("catch_up_s".into(), round(seconds).into());
    context.insert("one_tx_blocks_per_s".into(), round(production).into());
    phase_s.insert("catch_up".into(), round(t.elapsed().as_secs_f64()).into());
    progress(&format!(
        "catch-up of {blocks} blocks in {seconds:.1} s (produced at {production:.0} blocks/s)"
    ));

    context.insert("quick".into(), quick.into());
    context.insert("validators".into(), VALIDATORS.into());
    context.insert("accounts".into(), nonces.len().into());
    context.insert("nonce_window".into(), WINDOW.into());
    context.insert(
        "baseline_transactions".into(),
        sizes.baseline_transactions.into(),
    );
    context.insert(
        "latency_method".into(),
        "client-side: POST /v1/transactions to committed on the receiving node (status polled every 200 us)".into(),
    );
    context.insert(
        "baseline_method".into(),
        "4 replicas, one thread, MemoryStorage, no link delay, same genesis and nonce window"
            .into(),
    );
    context.insert(
        "cpus".into(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
            .into(),
    );
    context.insert("load_average_before".into(), load_before.into());
    context.insert("load_average_after".into(), load_average().into());
    context.insert("node_binary".into(), binary.display().to_string().into());
    context.insert("phase_seconds".into(), phase_s.into());
    context.insert(
        "wall_s".into(),
        round(started.elapsed().as_secs_f64()).into(),
    );
    context.insert("crate_version".into(), env!("CARGO_PKG_VERSION").into());

    if json {
        let figures_json: serde_json::Map<String, serde_json::Value> = figures
            .iter()
            .map(|(k, v)| ((*k).to_string(), round(*v).into()))
            .collect();
        let out = serde_json::json!({ "figures": figures_json, "context": context });
        println!("{out}");
    } else {
        println!("ITC node benchmark ({VALIDATORS} itc-node processes on loopback)");
        for (name, value) in &figures {
            println!("  {name:<36} {:>14}", round(*value));
        }
        println!("context: {}", serde_json::Value::Object(context));
    }
    Ok(())
}

fn round(v: f64) -> f64 {
    if v.abs() >= 100.0 {
        v.round()
    } else {
        (v * 1000.0).round() / 1000.0
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// p50 and p99 in µs of a 4 KiB overwrite followed by `sync_data`, in
/// `dir` (the file system the nodes write to).
fn fsync_us(dir: &Path, iterations: usize) -> Result<(f64, f64)> {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let block = [0x5Au8; 4096];
    file.write_all(&block)?;
    file.sync_all()?;
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let mut data = block;
        data[..8].copy_from_slice(&(i as u64).to_le_bytes());
        file.seek(SeekFrom::Start(0))?;
        let t = Instant::now();
        file.write_all(&data)?;
        file.sync_data()?;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    samples.sort_by(f64::total_cmp);
    Ok((quantile(&samples, 0.50), quantile(&samples, 0.99)))
}

/// Submit, retrying while the node is busy or the nonce is beyond the
/// pool's window.
fn submit(client: &Client, tx: &Transaction, deadline: Instant) -> Result<Hash> {
    loop {
        match client.submit(tx) {
            Ok(hash) => return Ok(hash),
            Err(ClientError::Api { status: 503, .. }) | Err(ClientError::Transport(_)) => {}
            Err(ClientError::Api { message, .. })
                if message.contains("nonce too far ahead") || message.contains("pool full") => {}
            Err(e) => return Err(e.into()),
        }
        if Instant::now() >= deadline {
            return fail("submission timed out");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// µs from submitting `tx` to `client`'s node until that node reports it
/// committed.
fn one_commit_us(client: &Client, tx: &Transaction) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = client.height()?;
    let started = Instant::now();
    let hash = submit(client, tx, deadline)?;
    loop {
        let height = client.height()?;
        if height > seen {
            if client.committed_at(&hash)?.is_some() {
                return Ok(started.elapsed().as_secs_f64() * 1e6);
            }
            seen = height;
        }
        if Instant::now() >= deadline {
            return fail("a latency sample was not committed within 30 s");
        }
        std::thread::sleep(POLL);
    }
}

/// The node's metrics text (empty if unreachable).
fn metrics_text(client: &Client) -> String {
    // `/metrics` is not JSON: read it with a raw request.
    let Ok(mut response) = ureq::get(format!("{}/metrics", client.base())).call() else {
        return String::new();
    };
    response.body_mut().read_to_string().unwrap_or_default()
}

/// Each node's view and drop counters (by drop site), name → one value
/// per node, read from `/metrics`.
fn node_counters(cluster: &Cluster) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for node in 0..VALIDATORS {
        let text = metrics_text(cluster.client(node));
        for line in text.lines() {
            let Some((name, value)) = line.split_once(' ') else {
                continue;
            };
            let wanted = name == "itc_view"
                || name.starts_with("itc_dropped_")
                || name.starts_with("itc_forwards_");
            if !wanted || name.ends_with("_created") {
                continue;
            }
            let value: f64 = value.trim().parse().unwrap_or(-1.0);
            let entry = out
                .entry(name.to_string())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let serde_json::Value::Array(values) = entry {
                values.push(value.into());
            }
        }
    }
    out
}

/// `itc_commit_latency_us` bucket counts (upper bound, cumulative count)
/// summed over nodes, `after` minus `before`.
fn histogram_delta(before: &[String], after: &[String]) -> Vec<(f64, u64)> {
    fn buckets(text: &str) -> Vec<(f64, u64)> {
        text.lines()
            .filter(|l| l.starts_with("itc_commit_latency_us_bucket{le=\""))
            .filter_map(|l| {
                let rest = &l["itc_commit_latency_us_bucket{le=\"".len()..];
                let (le, count) = rest.split_once("\"} ")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, count.trim().parse().ok()?))
            })
            .collect()
    }
    let mut total: Vec<(f64, u64)> = Vec::new();
    for (b, a) in before.iter().zip(after) {
        let (b, a) = (buckets(b), buckets(a));
        for (i, (le, count)) in a.iter().enumerate() {
            let old = b.get(i).map(|x| x.1).unwrap_or(0);
            match total.get_mut(i) {
                Some(slot) => slot.1 += count.saturating_sub(old),
                None => total.push((*le, count.saturating_sub(old))),
            }
        }
    }
    total
}

/// The upper bound of the bucket holding quantile `q` (µs; -1 if empty or
/// beyond the last finite bucket).
fn histogram_quantile(buckets: &[(f64, u64)], q: f64) -> f64 {
    let Some(&(_, all)) = buckets.last() else {
        return -1.0;
    };
    if all == 0 {
        return -1.0;
    }
    let rank = (all as f64 * q).ceil() as u64;
    buckets
        .iter()
        .find(|(_, c)| *c >= rank)
        .map(|(le, _)| if le.is_finite() { *le } else { -1.0 })
        .unwrap_or(-1.0)
}

/// Submit `count` more transfers over all accounts at once
/// ([`SUBMITTERS_PER_ACCOUNT`] client threads per account, into node
/// `account % 4`), pipelined within the
/// nonce window; returns the count and the seconds until the last of
/// every account is committed on node 0.
fn saturate(cluster: &Cluster, nonces: &mut [u64], count: u64) -> Result<(u64, f64)> {
    let accounts = nonces.len() as u64;
    let per_account = count.div_ceil(accounts);
    let deadline = Instant::now() + PHASE_DEADLINE;
    let started = Instant::now();
    let lasts: Vec<Result<Hash>> = std::thread::scope(|scope| {
        let handles: Vec<_> = nonces
            .iter()
            .enumerate()
            .flat_map(|(a, &first)| (0..SUBMITTERS_PER_ACCOUNT).map(move |j| (a, first, j)))
            .filter(|&(_, _, j)| j < per_account)
            .map(|(a, first, j)| {
                let client = cluster.client(a % VALIDATORS).clone();
                scope.spawn(move || {
                    let mut last = None;
                    let nonces =
                        (first + j..first + per_account).step_by(SUBMITTERS_PER_ACCOUNT as usize);
                    for nonce in nonces {
                        last = Some(submit(&client, &cluster.transfer(a, nonce), deadline)?);
                    }
                    last.ok_or_else(|| BenchError("nothing submitted".into()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| fail("a client thread panicked"))
            })
            .collect()
    });
    for nonce in nonces.iter_mut() {
        *nonce += per_account;
    }
    let node0 = cluster.client(0);
    for last in lasts {
        let last = last?;
        while node0.committed_at(&last)?.is_none() {
            if Instant::now() >= deadline {
                return fail("saturation did not commit within the deadline");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    Ok((per_account * accounts, started.elapsed().as_secs_f64()))
}

/// VmRSS of process `pid`, in bytes.
fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| BenchError(format!("no VmRSS for process {pid}")))
}

/// A second cluster with one transaction per block: kill a backup, commit
/// `blocks` blocks without it, restart it and time its catch-up. Returns
/// (blocks it lacked, seconds from restart to the cluster's height, blocks
/// per second the three others produced meanwhile).
fn catch_up(binary: &Path, blocks: u64) -> Result<(u64, f64, f64)> {
    let mut cluster = Cluster::init(binary, "bench-catch-up", VALIDATORS, |config| {
        config.consensus.block_transactions_max = 1;
    });
    for i in 0..VALIDATORS {
        cluster.spawn(i);
    }
    for i in 0..VALIDATORS {
        cluster.wait_ready(i);
    }
    let accounts = cluster.accounts.len();
    // One block everywhere, then take down a backup.
    let tx = cluster.transfer(0, 0);
    let hash = submit(cluster.client(0), &tx, Instant::now() + PHASE_DEADLINE)?;
    cluster
        .client(0)
        .wait_committed(&hash, Duration::from_secs(60))?;
    let start_height = cluster.client(0).height()?;
    cluster.wait_height(start_height, Duration::from_secs(60));
    let primary = cluster.primary(0);
    let down = (primary + 1) % VALIDATORS;
    let down_height = cluster.client(down).height()?;
    cluster.kill(down);
    let up: Vec<usize> = (0..VALIDATORS).filter(|i| *i != down).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + PHASE_DEADLINE;
    let target = down_height + blocks;
    let produced_from = Instant::now();
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..accounts)
            .map(|a| {
                let client = cluster.client(up[a % up.len()]).clone();
                let stop = stop.clone();
                let cluster = &cluster;
                scope.spawn(move || -> Result<()> {
                    let mut nonce = u64::from(a == 0);
                    while !stop.load(Ordering::Relaxed) {
                        submit(&client, &cluster.transfer(a, nonce), deadline)?;
                        nonce += 1;
                    }
                    Ok(())
                })
            })
            .collect();
        let watcher = cluster.client(up[0]);
        let reached = loop {
            match watcher.height() {
                Ok(h) if h >= target => break Ok(()),
                _ if Instant::now() >= deadline => {
                    break fail(format!("the cluster did not reach height {target}"))
                }
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        stop.store(true, Ordering::Relaxed);
        let mut out: Vec<Result<()>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| fail("a client thread panicked"))
            })
            .collect();
        out.push(reached);
        out
    });
    for r in results {
        r?;
    }
    // Let the pool drain so that the cluster's height stops moving.
    let mut settled = cluster.client(up[0]).height()?;
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = cluster.client(up[0]).height()?;
        let pool = cluster.client(up[0]).status()?["pool"]
            .as_u64()
            .unwrap_or(0);
        if now == settled && pool == 0 {
            break;
        }
        settled = now;
        if Instant::now() >= deadline {
            return fail("the cluster did not settle");
        }
    }
    let production = (settled - down_height) as f64 / produced_from.elapsed().as_secs_f64();
    cluster.wait_height(settled, Duration::from_secs(60));

    let restarted = Instant::now();
    cluster.spawn(down);
    cluster.wait_ready(down);
    let client = cluster.client(down);
    loop {
        if client.height()? >= settled {
            break;
        }
        if Instant::now() >= deadline {
            return fail(format!(
                "the restarted node did not catch up\n{}",
                cluster.log_tail(down)
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let seconds = restarted.elapsed().as_secs_f64();
    // It holds the same chain.
    let (hash_up, _) = cluster.header(up[0], settled);
    let (hash_down, _) = cluster.header(down, settled);
    if hash_up != hash_down {
        return fail(format!(
            "node {down} caught up to a different header at {settled}"
        ));
    }
    Ok((settled - down_height, seconds, production))
}

/// One message between in-process replicas: (from, to, bytes).
type Envelope = (usize, usize, Vec<u8>);

/// Transactions per second committed by four in-process replicas on one
/// thread (MemoryStorage, messages delivered at once, a virtual clock) over
/// `genesis`, with the validators' keys and the funded `accounts`, fed
/// `total` transfers (the cluster's) within the nonce window.
fn in_process_tx_per_s(
    genesis: &Genesis,
    validators: &[Keypair],
    accounts: &[Keypair],
    total: u64,
) -> Result<f64> {
    let keys: Vec<PublicKey> = validators.iter().map(|k| k.public()).collect();
    let mut replicas = Vec::new();
    let mut storages = Vec::new();
    for key in validators {
        let storage = MemoryStorage::new();
        let mut config = itc_pbft::Config::new(key.clone(), genesis.clone());
        // As the nodes run (ChainCode on, default block size).
        config.block_transactions_max =
            itc_node::config::ConsensusSection::default().block_transactions_max;
        config
            .modules
            .push(Arc::new(itc_chaincode::campaign::ChainCode::new()));
        let replica = Replica::open(config, &storage).map_err(|e| BenchError(e.to_string()))?;
        replicas.push(replica);
        storages.push(storage);
    }
    let per_account = total.div_ceil(accounts.len() as u64);
    // Sign everything first: clients sign, not the cluster.
    let to_sign: Vec<Vec<Transaction>> = accounts
        .iter()
        .enumerate()
        .map(|(a, k)| {
            let to = accounts[(a + 1) % accounts.len()].public();
            (0..per_account)
                .map(|nonce| {
                    Transaction::new_signed(
                        k,
                        ChainId(genesis.chain_id),
                        nonce,
                        Amount(1),
                        Payload::Transfer {
                            to,
                            amount: Amount(1),
                        },
                    )
                })
                .collect()
        })
        .collect();
    let mut next = vec![0u64; accounts.len()];
    let mut queue: VecDeque<Envelope> = VecDeque::new();
    let mut now = genesis.genesis_time_ms + 1_000;
    let mut committed = 0u64;
    let wanted = per_account * accounts.len() as u64;

    fn drain(
        i: usize,
        replicas: &mut [Replica],
        storages: &mut [MemoryStorage],
        keys: &[PublicKey],
        queue: &mut VecDeque<Envelope>,
    ) -> Result<u64> {
        let persisted = replicas[i]
            .ready()
            .persist(&mut storages[i])
            .map_err(|e| BenchError(e.to_string()))?;
        for outgoing in persisted.messages {
            let bytes = outgoing.to_bytes();
            for (to, key) in keys.iter().enumerate() {
                let wanted = match outgoing.to {
                    Recipient::AllValidators => to != i,
                    Recipient::One(k) => k == *key,
                };
                if wanted {
                    queue.push_back((i, to, bytes.clone()));
                }
            }
        }
        Ok(persisted
            .committed
            .iter()
            .map(|d| d.block.transactions.len() as u64)
            .sum())
    }

    for i in 0..replicas.len() {
        drain(i, &mut replicas, &mut storages, &keys, &mut queue)?;
    }
    let started = Instant::now();
    let mut steps = 0u64;
    while committed < wanted {
        steps += 1;
        if steps > 200_000_000 || started.elapsed() > PHASE_DEADLINE {
            return fail("the in-process baseline did not finish");
        }
        // Keep each account's window full at its replica.
        for (a, key) in accounts.iter().enumerate() {
            let r = a % replicas.len();
            let floor = replicas[r].ledger().account(&key.public()).nonce;
            let mut added = false;
            while next[a] < per_account && next[a] < floor + WINDOW {
                let tx = to_sign[a][next[a] as usize].clone();
                if replicas[r].submit_transaction(now, tx).is_err() {
                    break;
                }
                next[a] += 1;
                added = true;
            }
            if added {
                let c = drain(r, &mut replicas, &mut storages, &keys, &mut queue)?;
                if r == 0 {
                    committed += c;
                }
            }
        }
        if let Some((from, to, bytes)) = queue.pop_front() {
            let _ = replicas[to].handle_message(now, keys[from], &bytes);
            let c = drain(to, &mut replicas, &mut storages, &keys, &mut queue)?;
            if to == 0 {
                committed += c;
            }
        } else {
            let Some(deadline) = replicas.iter().filter_map(|r| r.next_deadline()).min() else {
                return fail("the in-process baseline stalled");
            };
            now = now.max(deadline);
            for i in 0..replicas.len() {
                if replicas[i].next_deadline().is_some_and(|d| d <= now) {
                    replicas[i].tick(now);
                }
                let c = drain(i, &mut replicas, &mut storages, &keys, &mut queue)?;
                if i == 0 {
                    committed += c;
                }
            }
        }
    }
    Ok(committed as f64 / started.elapsed().as_secs_f64())
}
