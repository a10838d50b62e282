//! An in-process cluster of PBFT validators for demos: a thin layer over the
//! one simulator's manual mode ([`itc_sim::manual`]), so every replica runs
//! the real `itc-pbft` state machine with its own storage, messages travel
//! as encoded bytes, time is virtual and jumps to the next deadline when
//! the network is idle (a demo that waits for a view change takes
//! milliseconds, not seconds), and the simulator checks agreement,
//! validity, each replica's invariants and durability on restart as the
//! demo runs.
//!
//! Each validator also keeps the DAG side chain (an itc-dag [`Tangle`]) that
//! its blocks anchor, with the proof of work of [`DagConfig::for_chain`]:
//! DAG transactions reach every running validator's tangle
//! ([`Cluster::attach_dag`]), and the primary's next block anchors them.
//!
//! Ledger modules (ChainCode's campaigns, for example) are registered on
//! every validator with [`Cluster::with_modules`]; a crashed validator
//! restarts from its storage with [`Cluster::restart`].
//!
//! [`DagConfig::for_chain`]: itc_dag::DagConfig::for_chain

use itc_core::genesis::Genesis;
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::module::LedgerModule;
use itc_core::types::Transaction;
use itc_dag::{DagTransaction, Tangle};
use itc_pbft::{Decision, Replica};
use itc_sim::dag::DagWorkload;
use itc_sim::Simulation;
use std::sync::Arc;

/// Most steps (deliveries, clock advances) one [`Cluster::run_until`]
/// performs before giving up.
pub const DELIVERIES_MAX: usize = 200_000;

/// The seed of the cluster's simulation (it has no randomness of its own:
/// links deliver in order, nothing fails unless the demo says so).
const SEED: u64 = 0x11c;

/// A set of validators connected by the simulator's in-memory network.
pub struct Cluster {
    sim: Simulation<Tangle>,
    keys: Vec<PublicKey>,
}

impl Cluster {
    /// Start one replica per key, all from `genesis`.
    ///
    /// # Panics
    /// If a replica does not open from `genesis` (an invalid genesis).
    pub fn new(keys: &[Keypair], genesis: Genesis) -> Cluster {
        Cluster::with_modules(keys, genesis, Vec::new())
    }

    /// Start one replica per key, all from `genesis`, each running the
    /// ledger `modules` ([`itc_pbft::Config::modules`]: every validator of
    /// a chain registers the same ones).
    ///
    /// # Panics
    /// If a replica does not open from `genesis` (an invalid genesis).
    pub fn with_modules(
        keys: &[Keypair],
        genesis: Genesis,
        modules: Vec<Arc<dyn LedgerModule>>,
    ) -> Cluster {
        let workload = DagWorkload {
            proof_of_work: true,
            prune_keep_heights: Vec::new(),
            ..DagWorkload::default()
        };
        let sim = Simulation::<Tangle>::from_genesis(
            keys,
            genesis,
            |config| config.modules = modules.clone(),
            workload,
            SEED,
        )
        .expect("replicas open from a valid genesis");
        Cluster {
            sim,
            keys: keys.iter().map(Keypair::public).collect(),
        }
    }

    /// The simulation underneath.
    pub fn simulation(&self) -> &Simulation<Tangle> {
        &self.sim
    }

    /// Virtual time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.sim.now_ms()
    }

    /// Move virtual time forward to `at_ms` (as if the cluster idled).
    pub fn advance_clock_to(&mut self, at_ms: u64) {
        self.sim.advance_clock_to(at_ms);
    }

    /// Decisions seen from any replica, by height (the first one seen).
    pub fn decisions(&self) -> &[Decision] {
        self.sim.decisions()
    }

    /// The running replicas, in node order.
    pub fn replicas(&self) -> impl Iterator<Item = &Replica<Tangle>> + '_ {
        self.sim.replicas()
    }

    /// Validator `index`'s replica, `None` while it is down.
    pub fn replica(&self, index: usize) -> Option<&Replica<Tangle>> {
        self.sim.replica(index)
    }

    /// Index of the first running validator.
    fn first_running(&self) -> Result<usize, String> {
        (0..self.sim.node_count())
            .find(|i| self.sim.replica(*i).is_some())
            .ok_or_else(|| "no validator is running".to_string())
    }

    /// Submit a transaction through the first running validator.
    ///
    /// # Errors
    /// The replica's reason if it refuses the transaction.
    pub fn submit(&mut self, tx: Transaction) -> Result<(), String> {
        let i = self.first_running()?;
        self.sim.submit(i, tx).map_err(|e| match e {
            itc_sim::ManualError::Refused(reason) => reason.to_string(),
            other => other.to_string(),
        })
    }

    /// Gossip a DAG transaction to every running validator's tangle, checked
    /// against each one's ledger (the issuer's registered security level
    /// sets the proof of work it needs).
    ///
    /// # Errors
    /// The first validator's reason if one refuses it.
    pub fn attach_dag(&mut self, tx: &DagTransaction) -> Result<(), String> {
        for i in 0..self.sim.node_count() {
            if self.sim.replica(i).is_none() {
                continue;
            }
            self.sim
                .input(i, |replica, now| {
                    let (tangle, ledger) = replica.anchoring_with_ledger();
                    let attached = tangle.attach(tx.clone(), now, ledger);
                    replica.tick(now);
                    attached
                })
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Tips to approve and the proof-of-work bits a new DAG transaction of
    /// `issuer` needs, as a gateway validator tells a device.
    ///
    /// # Errors
    /// If no validator runs or the issuer may not issue.
    pub fn dag_work(&mut self, issuer: &PublicKey, seed: u64) -> Result<(Vec<Hash>, u32), String> {
        let now = self.sim.now_ms();
        let i = self.first_running()?;
        let replica = self.sim.replica_mut(i).ok_or("no validator is running")?;
        let (tangle, ledger) = replica.anchoring_with_ledger();
        let bits = tangle
            .required_bits(issuer, now, ledger)
            .map_err(|e| e.to_string())?;
        Ok((tangle.select_tips(now, seed), bits))
    }

    /// Crash validator `index`: its replica is dropped (its storage stays).
    /// Does nothing for an unknown index.
    pub fn crash(&mut self, index: usize) {
        let _ = self.sim.crash_node(index);
    }

    /// Restart validator `index` from its storage (its ledger, votes and
    /// DAG), with the modules it was started with; it catches up with the
    /// others by state transfer. Does nothing if it is running.
    ///
    /// # Errors
    /// Why the replica or its DAG could not be reopened, or a committed
    /// block it lost.
    pub fn restart(&mut self, index: usize) -> Result<(), String> {
        self.sim.restart_node(index).map_err(|e| e.to_string())
    }

    /// Index of the validator with key `key`.
    pub fn index_of(&self, key: &PublicKey) -> Option<usize> {
        self.keys.iter().position(|k| k == key)
    }

    /// Highest height every running replica has executed.
    pub fn min_executed_height(&self) -> u64 {
        self.sim.min_executed_height()
    }

    /// The running replica with the highest executed height.
    ///
    /// # Panics
    /// If no validator is running.
    pub fn any_replica(&self) -> &Replica<Tangle> {
        self.replicas()
            .max_by_key(|r| r.executed_height())
            .expect("a validator is running")
    }

    /// Deliver messages (and advance virtual time when idle) until `done`
    /// holds. Returns false if it did not within [`DELIVERIES_MAX`] steps.
    ///
    /// # Errors
    /// An invariant the simulator found broken (agreement, validity, a
    /// replica's own invariants, the side chain's).
    pub fn run_until(&mut self, mut done: impl FnMut(&Cluster) -> bool) -> Result<bool, String> {
        for _ in 0..DELIVERIES_MAX {
            if done(self) {
                return Ok(true);
            }
            self.sim.step().map_err(|e| e.to_string())?;
        }
        Ok(done(self))
    }
}
