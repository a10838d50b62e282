//! A cluster of `itc-node` processes on loopback, for integration tests,
//! benchmarks and scripts: every process is killed when the cluster is
//! dropped, every wait has a deadline, and failures name the node and show
//! its log's tail.
//!
//! The binary to run is given by the caller (tests pass
//! `env!("CARGO_BIN_EXE_itc-node")`).
//!
//! Only one cluster runs at a time in a process: [`Cluster::init`] takes a
//! process-wide lock that the cluster holds until it is dropped, so tests
//! of one file that would fight for the cores run one after the other
//! (a test must not hold two clusters at once).
//!
//! Fault injection: [`Cluster::kill`] (`kill -9`), [`Cluster::terminate`]
//! (SIGTERM), [`Cluster::restart`] on the same data, [`Cluster::delete_data`],
//! per-node [`Cluster::pid`] and [`Cluster::rss_bytes`], [`Cluster::metric`]
//! scraped from `/metrics`, a client [`Load`] that records every
//! acknowledged transaction, and [`Cluster::assert_committed_once`] /
//! [`Cluster::stored_blocks`] to prove each one was committed exactly once.

use crate::client::{Client, ClientError};
use crate::node::ReadyInfo;
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One cluster at a time per process (see the module documentation).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    // A test that panicked while holding the lock has dropped its cluster
    // (and killed its processes): the lock is still good.
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Deadline for waits that should finish in seconds.
pub const WAIT: Duration = Duration::from_secs(60);

/// One node process.
pub struct NodeProcess {
    /// Its directory (config, key, data, log).
    pub dir: PathBuf,
    /// The running process, if any.
    pub child: Option<Child>,
    /// Its client, once ready.
    pub client: Option<Client>,
    /// Its public key.
    pub key: PublicKey,
}

/// A testnet of node processes.
pub struct Cluster {
    /// The testnet directory (removed on drop unless the test failed).
    pub dir: PathBuf,
    /// The nodes.
    pub nodes: Vec<NodeProcess>,
    /// Funded accounts.
    pub accounts: Vec<Keypair>,
    /// The chain id.
    pub chain_id: u32,
    /// The `itc-node` binary.
    pub binary: PathBuf,
    /// Per node: a command that [`Cluster::spawn`] runs the binary through
    /// (empty: run it directly). See [`Cluster::set_launcher`].
    launchers: Vec<Vec<String>>,
    /// Held while the cluster lives; dropped after its processes.
    _serial: MutexGuard<'static, ()>,
}

impl Cluster {
    /// Write a testnet of `validators` nodes and start them all.
    pub fn start(binary: &Path, name: &str, validators: usize) -> Cluster {
        let mut cluster = Cluster::init(binary, name, validators, |_| {});
        for i in 0..validators {
            cluster.spawn(i);
        }
        for i in 0..validators {
            cluster.wait_ready(i);
        }
        cluster
    }

    /// Write a testnet without starting it; `edit` may change each node's
    /// configuration text (index, text) before it is written back.
    pub fn init(
        binary: &Path,
        name: &str,
        validators: usize,
        edit: impl Fn(&mut crate::config::NodeConfig),
    ) -> Cluster {
        let serial = serial();
        let dir = std::env::temp_dir().join(format!(
            "itc-node-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let options = crate::testnet::TestnetOptions {
            validators,
            accounts: 8,
            chain_id: 7,
            epoch_length: 1000,
            seed: Some(42),
        };
        let net = crate::testnet::init(&dir, &options).expect("testnet init");
        let mut nodes = Vec::new();
        for path in &net.configs {
            let mut config =
                crate::config::NodeConfig::from_toml(&std::fs::read_to_string(path).unwrap())
                    .unwrap();
            // Quicker view changes for tests.
            config.consensus.view_change_timeout_ms = 1_000;
            config.consensus.retransmit_interval_ms = 200;
            edit(&mut config);
            std::fs::write(path, config.to_toml()).unwrap();
            let node_dir = path.parent().unwrap().to_path_buf();
            let key = crate::keys::read_key_file(&node_dir.join("node.key")).unwrap();
            nodes.push(NodeProcess {
                dir: node_dir,
                child: None,
                client: None,
                key: key.public(),
            });
        }
        let accounts = net
            .accounts
            .iter()
            .map(|p| crate::keys::read_key_file(p).unwrap())
            .collect();
        Cluster {
            dir,
            launchers: vec![Vec::new(); nodes.len()],
            nodes,
            accounts,
            chain_id: options.chain_id,
            binary: binary.to_path_buf(),
            _serial: serial,
        }
    }

    /// Start node `i` (its ready file is removed first).
    pub fn spawn(&mut self, i: usize) {
        let binary = self.binary.clone();
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "node {i} already runs");
        let _ = std::fs::remove_file(node.dir.join("ready.json"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("log"))
            .unwrap();
        let mut command = match self.launchers[i].split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&binary);
                command
            }
            None => Command::new(&binary),
        };
        let child = command
            .args(["run", "--config"])
            .arg(node.dir.join("config.toml"))
            .env(
                "ITC_LOG",
                std::env::var("ITC_LOG").unwrap_or_else(|_| "info,libp2p=warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn itc-node");
        node.child = Some(child);
        node.client = None;
    }

    /// Run node `i` through `prefix` from its next [`Cluster::spawn`] on:
    /// the command becomes `prefix... BINARY run --config ...`, e.g.
    /// `["ip", "netns", "exec", "NAME"]` to start it in a network
    /// namespace. The prefix must `exec` the binary (not fork it), so that
    /// the process the cluster kills is the node itself. An empty prefix
    /// runs the binary directly (the default).
    pub fn set_launcher(&mut self, i: usize, prefix: Vec<String>) {
        self.launchers[i] = prefix;
    }

    /// Wait for node `i`'s ready file and API.
    pub fn wait_ready(&mut self, i: usize) -> &Client {
        let deadline = Instant::now() + WAIT;
        let path = self.nodes[i].dir.join("ready.json");
        loop {
            if let Ok(text) = std::fs::read_to_string(&path) {
                if let Ok(info) = serde_json::from_str::<ReadyInfo>(&text) {
                    let client = Client::new(&info.http);
                    if client.status().is_ok() {
                        self.nodes[i].client = Some(client);
                        return self.nodes[i].client.as_ref().unwrap();
                    }
                }
            }
            if let Some(child) = self.nodes[i].child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("node {i} exited with {status}\n{}", self.log_tail(i));
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {i} not ready\n{}",
                self.log_tail(i)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of node `i`'s log.
    pub fn log_tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(self.nodes[i].dir.join("log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Node `i`'s client (it must be ready).
    pub fn client(&self, i: usize) -> &Client {
        self.nodes[i].client.as_ref().expect("node not ready")
    }

    /// `kill -9` node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.nodes[i].client = None;
    }

    /// SIGTERM node `i` and wait for it to exit; returns whether it exited
    /// successfully within the deadline.
    pub fn terminate(&mut self, i: usize) -> bool {
        let Some(mut child) = self.nodes[i].child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.nodes[i].client = None;
                return status.success();
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Indices of running nodes.
    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].child.is_some())
            .collect()
    }

    /// Wait until every running node reached `height`.
    pub fn wait_height(&self, height: u64, timeout: Duration) {
        for i in self.running() {
            if let Err(e) = self.client(i).wait_height(height, timeout) {
                panic!("node {i}: {e}\n{}", self.log_tail(i));
            }
        }
    }

    /// The index of the node whose key is `key`.
    pub fn index_of(&self, key: &PublicKey) -> Option<usize> {
        self.nodes.iter().position(|n| n.key == *key)
    }

    /// The current primary according to running node `i`.
    pub fn primary(&self, i: usize) -> usize {
        let status = self.client(i).status().unwrap();
        let key = itc_core::hex::decode_array::<32>(status["primary"].as_str().unwrap()).unwrap();
        self.index_of(&PublicKey(key)).unwrap()
    }

    /// A signed transfer of 1 from account `from` with `nonce`.
    pub fn transfer(&self, from: usize, nonce: u64) -> Transaction {
        let to = self.accounts[(from + 1) % self.accounts.len()].public();
        Transaction::new_signed(
            &self.accounts[from],
            ChainId(self.chain_id),
            nonce,
            Amount(1),
            Payload::Transfer {
                to,
                amount: Amount(1),
            },
        )
    }

    /// Submit `tx` to node `i`, retrying while the node is busy, the nonce
    /// runs too far ahead or the node is down; returns the hash once the
    /// node acknowledged it.
    pub fn submit_retrying(
        &self,
        i: usize,
        tx: &Transaction,
        deadline: Instant,
    ) -> Result<Hash, ClientError> {
        loop {
            let result = match self.nodes[i].client.as_ref() {
                Some(client) => client.submit(tx),
                None => Err(ClientError::Transport("node down".into())),
            };
            match result {
                Ok(hash) => return Ok(hash),
                Err(ClientError::Api { status: 503, .. }) | Err(ClientError::Transport(_)) => {}
                Err(ClientError::Api { message, .. })
                    if message.contains("nonce too far ahead") || message.contains("pool full") => {
                }
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout("submission".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The header hash and state root at `height` on node `i`.
    pub fn header(&self, i: usize, height: u64) -> (String, String) {
        let answer = self
            .client(i)
            .get(&format!("/v1/headers/{height}"))
            .unwrap();
        let update = itc_core::hex::decode(answer["update"].as_str().unwrap()).unwrap();
        let update: itc_spv::HeaderUpdate = itc_core::encoding::Decode::decode(&update).unwrap();
        (
            answer["hash"].as_str().unwrap().to_string(),
            itc_core::hex::encode(&update.header.state_root.0),
        )
    }

    /// Check that every running node has the same header (hence state
    /// root) at every height from 1 to `height`.
    pub fn assert_same_chain(&self, height: u64) {
        let running = self.running();
        for h in 1..=height {
            let first = self.header(running[0], h);
            for &i in &running[1..] {
                assert_eq!(self.header(i, h), first, "node {i} differs at height {h}");
            }
        }
    }

    /// Keep the directory (for a failed test's logs).
    pub fn keep(&self) {
        eprintln!("cluster files kept in {}", self.dir.display());
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            self.keep();
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The resident set size of process `pid` in bytes (`VmRSS` of
/// `/proc/PID/status`), if it runs (Linux only).
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Parse the OpenMetrics text of `/metrics` into `name → value` (labels
/// kept as part of the name, e.g. `itc_commit_latency_us_bucket{le="250.0"}`).
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.trim().to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

impl Cluster {
    /// The configuration file of node `i`.
    pub fn config_path(&self, i: usize) -> PathBuf {
        self.nodes[i].dir.join("config.toml")
    }

    /// Node `i`'s configuration as written (paths relative to its
    /// directory).
    pub fn config(&self, i: usize) -> crate::config::NodeConfig {
        let text = std::fs::read_to_string(self.config_path(i)).expect("config file");
        crate::config::NodeConfig::from_toml(&text).expect("config")
    }

    /// Change node `i`'s configuration (takes effect at its next start).
    pub fn edit_config(&self, i: usize, edit: impl FnOnce(&mut crate::config::NodeConfig)) {
        let mut config = self.config(i);
        edit(&mut config);
        std::fs::write(self.config_path(i), config.to_toml()).expect("write config");
    }

    /// Node `i`'s p2p listen address (fixed at init, kept across restarts).
    pub fn p2p_address(&self, i: usize) -> String {
        self.config(i).p2p.listen
    }

    /// Start node `i` on its existing data and wait until it is ready.
    pub fn restart(&mut self, i: usize) -> &Client {
        self.spawn(i);
        self.wait_ready(i)
    }

    /// Delete node `i`'s data directory (the node must be stopped).
    pub fn delete_data(&mut self, i: usize) {
        assert!(self.nodes[i].child.is_none(), "node {i} still runs");
        let data = self.nodes[i].dir.join("data");
        std::fs::remove_dir_all(&data)
            .unwrap_or_else(|e| panic!("removing {}: {e}", data.display()));
    }

    /// The process id of node `i`, if it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(Child::id)
    }

    /// Node `i`'s resident set size in bytes, if it runs.
    pub fn rss_bytes(&self, i: usize) -> Option<u64> {
        rss_of(self.pid(i)?)
    }

    /// Whether node `i`'s process is still alive (reaps it if it exited).
    pub fn is_alive(&mut self, i: usize) -> bool {
        match self.nodes[i].child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Node `i`'s whole log.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.nodes[i].dir.join("log")).unwrap_or_default()
    }

    /// Node `i`'s `/v1/status`.
    pub fn status(&self, i: usize) -> serde_json::Value {
        self.client(i)
            .status()
            .unwrap_or_else(|e| panic!("node {i} status: {e}\n{}", self.log_tail(i)))
    }

    /// Node `i`'s metrics, scraped from `/metrics` ([`parse_metrics`]).
    ///
    /// # Errors
    /// [`ClientError::Transport`] if the node cannot be reached.
    pub fn metrics(&self, i: usize) -> Result<BTreeMap<String, f64>, ClientError> {
        let url = format!("{}/metrics", self.client(i).base());
        let text = ureq::get(&url)
            .call()
            .and_then(|r| r.into_body().read_to_string())
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(parse_metrics(&text))
    }

    /// One metric of node `i` (0 if the node does not export it yet).
    /// Counters carry the OpenMetrics `_total` suffix:
    /// `cluster.metric(0, "itc_refused_frames_total")`.
    pub fn metric(&self, i: usize, name: &str) -> f64 {
        self.metrics(i)
            .unwrap_or_else(|e| panic!("node {i} metrics: {e}"))
            .get(name)
            .copied()
            .unwrap_or(0.0)
    }

    /// SIGTERM node `i` and wait (at most 20 s, then `kill -9`) for it to
    /// exit; returns its exit status, `None` if it did not exit in time or
    /// did not run.
    pub fn terminate_status(&mut self, i: usize) -> Option<ExitStatus> {
        let mut child = self.nodes[i].child.take()?;
        self.nodes[i].client = None;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The highest height every running node has reached.
    pub fn min_height(&self) -> u64 {
        self.running()
            .into_iter()
            .map(|i| self.client(i).height().unwrap_or(0))
            .min()
            .unwrap_or(0)
    }

    /// The highest height any running node has reached.
    pub fn max_height(&self) -> u64 {
        self.running()
            .into_iter()
            .map(|i| self.client(i).height().unwrap_or(0))
            .max()
            .unwrap_or(0)
    }

    /// Wait until node `i` reaches `height`, failing with its log.
    pub fn wait_node_height(&self, i: usize, height: u64, timeout: Duration) -> u64 {
        self.client(i)
            .wait_height(height, timeout)
            .unwrap_or_else(|e| panic!("node {i}: {e}\n{}", self.log_tail(i)))
    }

    /// Check that the running nodes have the same header at every height
    /// in `from..=to`.
    pub fn assert_same_chain_range(&self, from: u64, to: u64) {
        let running = self.running();
        for h in from.max(1)..=to {
            let first = self.header(running[0], h);
            for &i in &running[1..] {
                assert_eq!(self.header(i, h), first, "node {i} differs at height {h}");
            }
        }
    }

    /// The lowest height whose header node `i` serves (blocks below a
    /// state-transfer snapshot are not stored), searched up to `top`.
    pub fn lowest_served_header(&self, i: usize, top: u64) -> Option<u64> {
        let served = |h: u64| {
            self.client(i)
                .get(&format!("/v1/headers/{h}"))
                .map(|_| true)
                .unwrap_or(false)
        };
        if !served(top) {
            return None;
        }
        // Served heights form a suffix: binary search its start.
        let (mut low, mut high) = (1, top);
        while low < high {
            let mid = low + (high - low) / 2;
            if served(mid) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        Some(low)
    }

    /// Start client threads, one per account in `accounts`, that submit
    /// transfers over HTTP to the nodes in `targets` (each thread starts on
    /// `targets[k % len]` and moves on when its node is unreachable) until
    /// [`Load::stop`]; each waits `pace` after an acknowledgement.
    pub fn start_load(&self, accounts: &[usize], targets: &[usize], pace: Duration) -> Load {
        assert!(!targets.is_empty(), "load needs a target node");
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(AtomicU64::new(0));
        let clients: Vec<Client> = targets.iter().map(|&t| self.client(t).clone()).collect();
        let threads = accounts
            .iter()
            .enumerate()
            .map(|(k, &account)| {
                let key = self.accounts[account].clone();
                let to = self.accounts[(account + 1) % self.accounts.len()].public();
                let chain = ChainId(self.chain_id);
                let clients = clients.clone();
                let stop = stop.clone();
                let acknowledged = acknowledged.clone();
                std::thread::spawn(move || {
                    let mut log = SenderLog {
                        account,
                        acknowledged: Vec::new(),
                        unacknowledged: Vec::new(),
                        next_nonce: 0,
                        errors: Vec::new(),
                    };
                    let mut target = k % clients.len();
                    // The account's next nonce, from the first node that answers.
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            return log;
                        }
                        match clients[target].account(&key.public()) {
                            Ok((_, nonce)) => {
                                log.next_nonce = nonce;
                                break;
                            }
                            Err(_) => {
                                target = (target + 1) % clients.len();
                                std::thread::sleep(Duration::from_millis(50));
                            }
                        }
                    }
                    while !stop.load(Ordering::Relaxed) {
                        let tx = Transaction::new_signed(
                            &key,
                            chain,
                            log.next_nonce,
                            Amount(1),
                            Payload::Transfer {
                                to,
                                amount: Amount(1),
                            },
                        );
                        match clients[target].submit(&tx) {
                            Ok(hash) => {
                                log.acknowledged.push((log.next_nonce, hash));
                                log.next_nonce += 1;
                                acknowledged.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(pace);
                            }
                            // An earlier attempt whose answer was lost got
                            // in (pool duplicate) or is already committed.
                            Err(ClientError::Api {
                                status: 422,
                                message,
                                ..
                            }) if message.contains("duplicate")
                                || message.contains("stale nonce") =>
                            {
                                log.unacknowledged.push((log.next_nonce, tx.hash()));
                                log.next_nonce += 1;
                            }
                            // Gossip of the previous nonce has not reached this
                            // node yet, or it is busy: try again.
                            Err(ClientError::Api {
                                status: 422,
                                message,
                                ..
                            }) if message.contains("future nonce")
                                || message.contains("too far ahead")
                                || message.contains("pool full") =>
                            {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            Err(ClientError::Api { status: 503, .. }) => {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            Err(ClientError::Transport(_)) | Err(ClientError::Timeout(_)) => {
                                target = (target + 1) % clients.len();
                                std::thread::sleep(Duration::from_millis(50));
                            }
                            Err(other) => {
                                if log.errors.len() < 16 {
                                    log.errors.push(other.to_string());
                                }
                                std::thread::sleep(Duration::from_millis(50));
                            }
                        }
                    }
                    log
                })
            })
            .collect();
        Load {
            stop,
            acknowledged,
            threads,
        }
    }

    /// Wait until every transaction the senders got in (acknowledged or
    /// not) is committed on every running node, then check that each
    /// acknowledged one sits at one height, the same on every node, and that
    /// every sender's committed nonce equals the number it got in (each
    /// transfer applied once: a second application would move the nonce).
    pub fn assert_committed_once(&self, logs: &[SenderLog], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for log in logs {
            assert!(
                log.errors.is_empty(),
                "sender {}: {:?}",
                log.account,
                log.errors
            );
            let key = self.accounts[log.account].public();
            for i in self.running() {
                loop {
                    let nonce = self.client(i).account(&key).map(|(_, n)| n).unwrap_or(0);
                    if nonce == log.next_nonce {
                        break;
                    }
                    assert!(
                        nonce < log.next_nonce,
                        "node {i}: sender {} nonce {nonce} above the {} it got in",
                        log.account,
                        log.next_nonce
                    );
                    assert!(
                        Instant::now() < deadline,
                        "node {i}: sender {} committed nonce {nonce}, expected {}\n{}",
                        log.account,
                        log.next_nonce,
                        self.log_tail(i)
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        let running = self.running();
        for log in logs {
            for (nonce, hash) in &log.acknowledged {
                let heights: Vec<Option<u64>> = running
                    .iter()
                    .map(|&i| self.client(i).committed_at(hash).unwrap())
                    .collect();
                assert!(
                    heights[0].is_some() && heights.iter().all(|h| *h == heights[0]),
                    "sender {} nonce {nonce}: heights {heights:?} on nodes {running:?}",
                    log.account
                );
            }
        }
    }

    /// Every block node `i` stored, read from its database (the node must be
    /// stopped: redb opens a file once). Blocks below a state-transfer
    /// snapshot are not stored; the list starts at the first stored height.
    ///
    /// # Errors
    /// [`itc_core::storage::StorageError`] if the database cannot be read.
    pub fn stored_blocks(
        &self,
        i: usize,
    ) -> Result<Vec<itc_pbft::Decision>, itc_core::storage::StorageError> {
        assert!(self.nodes[i].child.is_none(), "node {i} still runs");
        let storage = itc_core::storage::RedbStorage::open(
            self.nodes[i].dir.join("data").join("chain.redb"),
        )?;
        let mut blocks = Vec::new();
        let mut next = 1;
        loop {
            let batch = itc_pbft::persist::load_decision_range(&storage, next, 256)?;
            if batch.is_empty() {
                break;
            }
            next += batch.len() as u64;
            blocks.extend(batch);
        }
        Ok(blocks)
    }
}

/// Check, on the blocks of one node ([`Cluster::stored_blocks`], from
/// height 1), that every acknowledged transaction of `logs` appears exactly
/// once and that no (sender, nonce) appears twice; returns the number of
/// transactions scanned.
pub fn assert_blocks_hold_once(blocks: &[itc_pbft::Decision], logs: &[SenderLog]) -> usize {
    let mut count: BTreeMap<Hash, usize> = BTreeMap::new();
    let mut seen: BTreeSet<(PublicKey, u64)> = BTreeSet::new();
    let mut scanned = 0;
    for (k, decision) in blocks.iter().enumerate() {
        assert_eq!(
            decision.block.header.height,
            k as u64 + 1,
            "blocks from height 1"
        );
        for tx in &decision.block.transactions {
            scanned += 1;
            *count.entry(tx.hash()).or_default() += 1;
            assert!(
                seen.insert((tx.sender, tx.nonce)),
                "(sender, nonce {}) committed twice",
                tx.nonce
            );
        }
    }
    for log in logs {
        for (nonce, hash) in &log.acknowledged {
            assert_eq!(
                count.get(hash).copied().unwrap_or(0),
                1,
                "sender {} nonce {nonce} in the blocks",
                log.account
            );
        }
    }
    scanned
}

/// What one load thread did.
#[derive(Debug, Clone)]
pub struct SenderLog {
    /// The account index (into [`Cluster::accounts`]).
    pub account: usize,
    /// (nonce, hash) of every transaction a node acknowledged (202).
    pub acknowledged: Vec<(u64, Hash)>,
    /// (nonce, hash) of transactions whose acknowledgement was lost (the
    /// node died while answering) but which a later attempt found admitted.
    pub unacknowledged: Vec<(u64, Hash)>,
    /// The next nonce: every nonce below it got in.
    pub next_nonce: u64,
    /// Unexpected refusals (at most 16).
    pub errors: Vec<String>,
}

/// Client threads submitting transfers ([`Cluster::start_load`]).
pub struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<AtomicU64>,
    threads: Vec<JoinHandle<SenderLog>>,
}

impl Load {
    /// Transactions acknowledged so far.
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// Wait (at most `timeout`) until at least `count` more transactions
    /// than now are acknowledged; returns whether they were.
    pub fn wait_more(&self, count: u64, timeout: Duration) -> bool {
        let target = self.acknowledged() + count;
        let deadline = Instant::now() + timeout;
        while self.acknowledged() < target {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Stop the threads and return what each did.
    pub fn stop(mut self) -> Vec<SenderLog> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .drain(..)
            .map(|t| t.join().expect("load thread"))
            .collect()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
