//! An in-process cluster of PBFT validators for demos: every replica runs the
//! real `itc-pbft` state machine with its own storage; messages travel as
//! encoded bytes through an in-memory transport; time is virtual and jumps
//! to the next deadline when the network is idle, so a demo that waits for a
//! view change takes milliseconds, not seconds.
//!
//! Each validator also keeps the DAG side chain (an itc-dag [`Tangle`]) that
//! its blocks anchor: DAG transactions reach every running validator's
//! tangle (gossip, [`Cluster::attach_dag`]), and the primary's next block
//! anchors them.
//!
//! Ledger modules (ChainCode's campaigns, for example) are registered on
//! every validator with [`Cluster::with_modules`]; a crashed validator
//! restarts from its storage with [`Cluster::restart`].

use itc_core::genesis::Genesis;
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::module::LedgerModule;
use itc_core::storage::MemoryStorage;
use itc_core::types::Transaction;
use itc_dag::{DagConfig, DagTransaction, Tangle};
use itc_pbft::{Config, Decision, Recipient, Replica};
use std::collections::VecDeque;
use std::sync::Arc;

/// Most message deliveries one [`Cluster::run_until`] performs before giving up.
pub const DELIVERIES_MAX: usize = 200_000;

/// One validator: its replica, its storage, and whether it is running.
pub struct Node {
    /// The validator's key.
    pub key: PublicKey,
    /// The replica with its DAG (dropped while crashed).
    pub replica: Option<Replica<Tangle>>,
    /// Durable storage; survives a crash.
    pub storage: MemoryStorage,
}

/// A set of validators connected by an in-memory transport.
pub struct Cluster {
    /// The validators.
    pub nodes: Vec<Node>,
    /// The validators' keys, in node order.
    keys: Vec<PublicKey>,
    /// Each validator's configuration, to restart it.
    configs: Vec<Config>,
    /// The side chain's configuration (the same on every validator).
    dag: DagConfig,
    /// Virtual time in milliseconds.
    pub now_ms: u64,
    queue: VecDeque<(PublicKey, PublicKey, Vec<u8>)>,
    /// Decisions seen from any replica, by height (the first one seen).
    pub decisions: Vec<Decision>,
}

impl Cluster {
    /// Start one replica per key, all from `genesis`.
    pub fn new(keys: &[Keypair], genesis: Genesis) -> Cluster {
        Cluster::with_modules(keys, genesis, Vec::new())
    }

    /// Start one replica per key, all from `genesis`, each running the
    /// ledger `modules` ([`Config::modules`]: every validator of a chain
    /// registers the same ones).
    pub fn with_modules(
        keys: &[Keypair],
        genesis: Genesis,
        modules: Vec<Arc<dyn LedgerModule>>,
    ) -> Cluster {
        let now_ms = genesis.genesis_time_ms;
        let mut dag = DagConfig::for_chain(&genesis.params().expect("valid genesis"));
        dag.persist = true;
        let configs: Vec<Config> = keys
            .iter()
            .map(|keypair| {
                let mut config = Config::new(keypair.clone(), genesis.clone());
                config.modules = modules.clone();
                config
            })
            .collect();
        let nodes = configs
            .iter()
            .map(|config| {
                let storage = MemoryStorage::new();
                let replica =
                    Replica::open_with_anchoring(config.clone(), &storage, Tangle::new(dag))
                        .expect("replica opens on empty storage");
                Node {
                    key: config.keypair.public(),
                    replica: Some(replica),
                    storage,
                }
            })
            .collect();
        Cluster {
            nodes,
            keys: keys.iter().map(Keypair::public).collect(),
            configs,
            dag,
            now_ms,
            queue: VecDeque::new(),
            decisions: Vec::new(),
        }
    }

    /// Submit a transaction through the first running validator.
    ///
    /// # Errors
    /// The replica's reason if it refuses the transaction.
    pub fn submit(&mut self, tx: Transaction) -> Result<(), String> {
        let now = self.now_ms;
        self.first_running()?
            .submit_transaction(now, tx)
            .map_err(|e| e.to_string())?;
        self.flush();
        Ok(())
    }

    /// The first running validator's replica.
    fn first_running(&mut self) -> Result<&mut Replica<Tangle>, String> {
        self.nodes
            .iter_mut()
            .find_map(|n| n.replica.as_mut())
            .ok_or_else(|| "no validator is running".to_string())
    }

    /// Gossip a DAG transaction to every running validator's tangle, checked
    /// against each one's ledger (the issuer's registered security level
    /// sets the proof of work it needs).
    ///
    /// # Errors
    /// The first validator's reason if one refuses it.
    pub fn attach_dag(&mut self, tx: &DagTransaction) -> Result<(), String> {
        let now = self.now_ms;
        for node in &mut self.nodes {
            if let Some(replica) = node.replica.as_mut() {
                let (tangle, ledger) = replica.anchoring_with_ledger();
                tangle
                    .attach(tx.clone(), now, ledger)
                    .map_err(|e| e.to_string())?;
                replica.tick(now);
            }
        }
        self.flush();
        Ok(())
    }

    /// Tips to approve and the proof-of-work bits a new DAG transaction of
    /// `issuer` needs, as a gateway validator tells a device.
    ///
    /// # Errors
    /// If no validator runs or the issuer may not issue.
    pub fn dag_work(&mut self, issuer: &PublicKey, seed: u64) -> Result<(Vec<Hash>, u32), String> {
        let now = self.now_ms;
        let (tangle, ledger) = self.first_running()?.anchoring_with_ledger();
        let bits = tangle
            .required_bits(issuer, now, ledger)
            .map_err(|e| e.to_string())?;
        Ok((tangle.select_tips(now, seed), bits))
    }

    /// Crash validator `index`: its replica is dropped (its storage stays).
    pub fn crash(&mut self, index: usize) {
        self.nodes[index].replica = None;
    }

    /// Restart validator `index` from its storage (its ledger, votes and
    /// DAG), with the modules it was started with; it catches up with the
    /// others by state transfer. Does nothing if it is running.
    ///
    /// # Errors
    /// Why the replica or its DAG could not be reopened.
    pub fn restart(&mut self, index: usize) -> Result<(), String> {
        let now = self.now_ms;
        let node = &mut self.nodes[index];
        if node.replica.is_some() {
            return Ok(());
        }
        let tangle = Tangle::restore(self.dag, &node.storage, now).map_err(|e| e.to_string())?;
        let replica =
            Replica::open_with_anchoring(self.configs[index].clone(), &node.storage, tangle)
                .map_err(|e| e.to_string())?;
        node.replica = Some(replica);
        self.flush();
        Ok(())
    }

    /// Index of the validator with key `key`.
    pub fn index_of(&self, key: &PublicKey) -> Option<usize> {
        self.nodes.iter().position(|n| n.key == *key)
    }

    /// Highest height every running replica has executed.
    pub fn min_executed_height(&self) -> u64 {
        self.nodes
            .iter()
            .filter_map(|n| n.replica.as_ref())
            .map(Replica::executed_height)
            .min()
            .unwrap_or(0)
    }

    /// The running replica with the highest executed height.
    pub fn any_replica(&self) -> &Replica<Tangle> {
        self.nodes
            .iter()
            .filter_map(|n| n.replica.as_ref())
            .max_by_key(|r| r.executed_height())
            .expect("a validator is running")
    }

    /// Drain every replica's output: persist, then queue its messages
    /// (`persist` also reads old blocks from storage for lagging peers).
    fn flush(&mut self) {
        for node in &mut self.nodes {
            let Some(replica) = node.replica.as_mut() else {
                continue;
            };
            let persisted = replica
                .ready()
                .persist(&mut node.storage)
                .expect("memory storage does not fail");
            for decision in persisted.committed {
                let height = decision.block.header.height as usize;
                if self.decisions.len() < height {
                    self.decisions.push(decision);
                }
            }
            for outgoing in persisted.messages {
                let bytes = outgoing.to_bytes();
                match outgoing.to {
                    Recipient::One(to) => self.queue.push_back((node.key, to, bytes)),
                    Recipient::AllValidators => {
                        for other in &self.keys {
                            if *other != node.key {
                                self.queue.push_back((node.key, *other, bytes.clone()));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Deliver messages (and advance virtual time when idle) until `done`
    /// holds. Returns false if it did not within [`DELIVERIES_MAX`] steps.
    pub fn run_until(&mut self, mut done: impl FnMut(&Cluster) -> bool) -> bool {
        let mut steps = 0usize;
        loop {
            self.flush();
            if done(self) {
                return true;
            }
            if steps >= DELIVERIES_MAX {
                return false;
            }
            steps += 1;
            if let Some((from, to, bytes)) = self.queue.pop_front() {
                let now = self.now_ms;
                if let Some(node) = self.nodes.iter_mut().find(|n| n.key == to) {
                    if let Some(replica) = node.replica.as_mut() {
                        // Ignored messages are part of normal operation.
                        let _ = replica.handle_message(now, from, &bytes);
                    }
                }
                continue;
            }
            // Idle network: jump to the next deadline and tick everyone.
            let next = self
                .nodes
                .iter()
                .filter_map(|n| n.replica.as_ref())
                .filter_map(Replica::next_deadline)
                .min();
            match next {
                Some(deadline) => self.now_ms = self.now_ms.max(deadline),
                None => self.now_ms += 100,
            }
            let now = self.now_ms;
            for node in &mut self.nodes {
                if let Some(replica) = node.replica.as_mut() {
                    replica.tick(now);
                }
            }
        }
    }
}
