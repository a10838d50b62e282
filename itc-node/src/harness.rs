//! A cluster of `itc-node` processes on loopback, for integration tests,
//! benchmarks and scripts: every process is killed when the cluster is
//! dropped, every wait has a deadline, and failures name the node and show
//! its log's tail.
//!
//! The binary to run is given by the caller (tests pass
//! `env!("CARGO_BIN_EXE_itc-node")`).

use crate::client::{Client, ClientError};
use crate::node::ReadyInfo;
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
            nodes,
            accounts,
            chain_id: options.chain_id,
            binary: binary.to_path_buf(),
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
        let child = Command::new(&binary)
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
