//! What the simulator needs of the chain a cluster's blocks anchor.
//!
//! A [`Simulation`](crate::Simulation) runs replicas of type
//! `Replica<S>` for a side chain `S`: [`itc_core::anchoring::NoAnchoring`]
//! for a main chain alone, `itc_dag::Tangle` for validators that anchor the
//! DAG (see [`crate::dag`]). Besides the [`Anchoring`] hook the replica
//! calls, the simulator asks a side chain how to open it from a node's
//! storage, what its clients do, how its nodes gossip, and what must hold
//! across nodes.

use itc_core::anchoring::{Anchoring, NoAnchoring};
use itc_core::genesis::Genesis;
use itc_core::types::Transaction;
use itc_core::Hash;

use crate::rng::Rng;
use crate::storage::FaultyStorage;

/// A message of the side chain's own gossip, sent through the simulated
/// network (with its loss, delay and partitions) to one node or to all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideMessage {
    /// The node it is for, or `None` for every other node.
    pub to: Option<usize>,
    /// The message.
    pub bytes: Vec<u8>,
}

/// A side chain the simulator can drive. See the module docs.
pub trait SideChain: Anchoring + Sized {
    /// The side chain's clients in one run (devices and what they issued).
    type Clients;

    /// Settings of the side chain's workload (clients, traffic, attacks),
    /// given to [`Simulation::with_workload`](crate::Simulation::with_workload);
    /// [`Simulation::new`](crate::Simulation::new) uses the default.
    type Workload: Clone + core::fmt::Debug + Default;

    /// Adjust the genesis (side-chain parameters, funded accounts) and
    /// create the clients for `workload`, from the run's generator.
    fn setup(genesis: &mut Genesis, workload: &Self::Workload, rng: &mut Rng) -> Self::Clients;

    /// Open node `node`'s side chain from its storage at `now_ms`: on a
    /// fresh node and after every restart.
    ///
    /// # Errors
    /// Why it cannot be opened (a failed read); the simulator retries later.
    fn open(
        genesis: &Genesis,
        workload: &Self::Workload,
        node: usize,
        storage: &FaultyStorage,
        now_ms: u64,
    ) -> Result<Self, String>;

    /// Main-chain transactions the clients need committed (deposits into
    /// the side chain), submitted with the scenario's own.
    fn main_chain_transactions(clients: &mut Self::Clients, genesis: &Genesis) -> Vec<Transaction> {
        let _ = (clients, genesis);
        Vec::new()
    }

    /// How often, in virtual ms, the clients act and the nodes are polled;
    /// `None` for a side chain without traffic.
    fn step_interval_ms() -> Option<u64> {
        None
    }

    /// The clients act at `now_ms` against the live honest nodes
    /// (`nodes[i]` is `None` for a node that is down or Byzantine), and
    /// say what the nodes they talked to gossip as a result.
    fn client_step(
        clients: &mut Self::Clients,
        nodes: &mut [Option<&mut Self>],
        rng: &mut Rng,
        now_ms: u64,
    ) -> Vec<(usize, SideMessage)> {
        let _ = (clients, nodes, rng, now_ms);
        Vec::new()
    }

    /// A node receives side-chain bytes from node `from`; returns what it
    /// sends in answer. Bytes may be anything a faulty network delivers.
    fn receive(&mut self, now_ms: u64, from: usize, bytes: &[u8]) -> Vec<SideMessage> {
        let _ = (now_ms, from, bytes);
        Vec::new()
    }

    /// A node's periodic output (requests for data it lacks).
    fn poll(&mut self, now_ms: u64) -> Vec<SideMessage> {
        let _ = now_ms;
        Vec::new()
    }

    /// The commitment this node recorded for the anchor of the block at
    /// `height` (the header's `dag_anchor_root` must equal it), or `None`
    /// if it keeps none (no anchor there, or pruned).
    fn commitment(&self, height: u64) -> Option<Hash> {
        let _ = height;
        None
    }

    /// The node's own invariants.
    ///
    /// # Errors
    /// The invariant that does not hold.
    fn check_invariants(&self) -> Result<(), String> {
        Ok(())
    }

    /// Whether the clients' work is final on every node given (liveness of
    /// the side chain, checked after the faults heal; `None` for nodes
    /// that are down or Byzantine).
    fn done(clients: &Self::Clients, nodes: &[Option<&Self>]) -> bool {
        let _ = (clients, nodes);
        true
    }

    /// Counters of what the clients did (for tests to check that the
    /// workload ran), copied into
    /// [`SimReport::side_counters`](crate::SimReport::side_counters).
    fn counters(clients: &Self::Clients) -> Vec<(&'static str, u64)> {
        let _ = clients;
        Vec::new()
    }

    /// One line on the clients' progress, for failure reports.
    fn summary(clients: &Self::Clients) -> String {
        let _ = clients;
        String::new()
    }
}

/// A main chain without a side chain.
impl SideChain for NoAnchoring {
    type Clients = ();
    type Workload = ();

    fn setup(_: &mut Genesis, _: &Self::Workload, _: &mut Rng) -> Self::Clients {}

    fn open(
        _: &Genesis,
        _: &Self::Workload,
        _: usize,
        _: &FaultyStorage,
        _: u64,
    ) -> Result<Self, String> {
        Ok(NoAnchoring)
    }
}
