//! The manual mode: a fault-free cluster that the caller drives step by
//! step (demos, benchmarks, tests of a ledger module), with the same
//! network, storage and invariant checks as a scenario run.
//!
//! [`Simulation::from_genesis`] starts one replica per given key from the
//! given genesis; links deliver after a fixed delay
//! ([`Simulation::set_link_delay_ms`], 0 by default: in send order, at the
//! same virtual instant); no message is lost, no node crashes unless the
//! caller says so, and the side chain's clients never act. The caller
//! submits transactions ([`Simulation::submit`]), gives nodes other inputs
//! ([`Simulation::input`]), crashes and restarts nodes, and runs the
//! network ([`Simulation::run_until`], [`Simulation::step`]); virtual time
//! jumps to the next event or replica deadline when nothing is due.
//!
//! Protocol tests that decide what is delivered hold the replicas' output
//! ([`Simulation::hold_messages`]), take it ([`Simulation::take_held`]),
//! send what they choose, forged messages included
//! ([`Simulation::send_messages`]), drop copies by link and kind
//! ([`Simulation::set_link_filter`]) and deliver at one instant, without
//! ticks ([`Simulation::settle`], [`Simulation::tick_all`]).
//!
//! The invariants stay on: agreement, validity (only transactions given to
//! [`Simulation::submit`] commit), no double commit and each replica's own
//! invariants after every step (or every
//! [`Simulation::set_check_interval`] steps, for benchmarks), the side
//! chain's at every side step, durability at every restart.
//!
//! ```
//! use itc_core::anchoring::NoAnchoring;
//! use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
//! use itc_core::keys::Keypair;
//! use itc_core::types::{Amount, ChainId, Payload, Transaction};
//! use itc_sim::Simulation;
//!
//! let keys: Vec<Keypair> = (1..=4u8).map(|i| Keypair::from_seed([i; 32])).collect();
//! let client = Keypair::from_seed([9; 32]);
//! let genesis = Genesis {
//!     chain_id: 7,
//!     accounts: vec![GenesisAccount { public_key: client.public(), balance: 1_000 }],
//!     validators: keys
//!         .iter()
//!         .map(|k| GenesisValidator { public_key: k.public(), weight: 1 })
//!         .collect(),
//!     ..Genesis::default()
//! };
//! let mut sim = Simulation::<NoAnchoring>::from_genesis(&keys, genesis, |_| {}, (), 1).unwrap();
//! let to = Keypair::from_seed([8; 32]).public();
//! let tx = Transaction::new_signed(
//!     &client,
//!     ChainId(7),
//!     0,
//!     Amount(1),
//!     Payload::Transfer { to, amount: Amount(5) },
//! );
//! sim.submit(0, tx).unwrap();
//! assert!(sim.run_until(10_000, |s| s.min_executed_height() >= 1).unwrap());
//! assert_eq!(sim.decisions().len(), 1);
//! ```

use core::fmt;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use itc_core::genesis::Genesis;
use itc_core::keys::Keypair;
use itc_core::types::Transaction;
use itc_core::Hash;
use itc_pbft::{Config, Decision, Message, Outgoing, Replica, SubmitError};

use crate::rng::Rng;
use crate::side_chain::SideChain;
use crate::simulation::{Event, Node, Scenario, SimFailure, SimReport, Simulation, SIM_EVENTS_MAX};
use crate::storage::FaultyStorage;

/// How far virtual time moves when nothing at all is scheduled (no message
/// in flight, no replica deadline).
pub const IDLE_ADVANCE_MS: u64 = 100;

/// The manual mode's own state.
pub(crate) struct Manual {
    /// Each node's replica configuration (for every restart).
    pub(crate) configs: Vec<Config>,
    /// The committed blocks, the first decision seen at each height.
    pub(crate) decisions: Vec<Decision>,
    /// Check the invariants after every this many steps (at least 1).
    pub(crate) check_interval: u64,
    /// Steps taken.
    pub(crate) steps: u64,
    /// Whether replica messages are held ([`Simulation::hold_messages`]).
    pub(crate) holding: bool,
    /// Each node's held messages, oldest first.
    pub(crate) outboxes: Vec<Vec<Outgoing>>,
    /// Which copies of a replica message the network carries
    /// ([`Simulation::set_link_filter`]).
    pub(crate) filter: Option<LinkFilter>,
}

/// Decides whether the network carries a replica message from node `from`
/// to node `to` ([`Simulation::set_link_filter`]).
pub type LinkFilter = Box<dyn Fn(usize, usize, &Message) -> bool>;

/// Why a manual-mode operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManualError {
    /// No node has this index.
    NoSuchNode(usize),
    /// The node is down (crashed and not restarted).
    NodeDown(usize),
    /// The replica refused the transaction.
    Refused(SubmitError),
    /// An invariant failed (or a replica could not be reopened).
    Invariant(SimFailure),
}

impl fmt::Display for ManualError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManualError::NoSuchNode(i) => write!(f, "no node {i}"),
            ManualError::NodeDown(i) => write!(f, "node {i} is down"),
            ManualError::Refused(e) => write!(f, "transaction refused: {e}"),
            ManualError::Invariant(e) => write!(f, "invariant failed {e}"),
        }
    }
}

impl std::error::Error for ManualError {}

impl From<SimFailure> for ManualError {
    fn from(failure: SimFailure) -> Self {
        ManualError::Invariant(failure)
    }
}

impl<S: SideChain> Simulation<S> {
    /// A manual, fault-free cluster (see the [module docs](crate::manual)):
    /// one replica per key in `keys`, each opened on empty storage from
    /// `genesis` with `Config::new(key, genesis)` adjusted by `configure`
    /// (ledger modules, timeouts, block size), and the side chain opened by
    /// [`SideChain::open`] with `workload`. Virtual time starts at the
    /// genesis time. `seed` drives the side chain's generator (link delays
    /// are fixed).
    ///
    /// # Errors
    /// A replica that does not open (an invalid genesis, a key that is not
    /// a validator is fine: that replica only follows).
    pub fn from_genesis(
        keys: &[Keypair],
        genesis: Genesis,
        configure: impl Fn(&mut Config),
        workload: S::Workload,
        seed: u64,
    ) -> Result<Self, SimFailure> {
        let mut rng = Rng::new(seed);
        let mut scenario = Scenario::basic(keys.len());
        scenario.transactions = 0;
        scenario.clients = 0;
        scenario.delay_ms = (0, 0);
        scenario.heal_ms = 0;
        scenario.epoch_length = genesis.epoch_length;
        // The clients are created (the type needs them) from a copy of the
        // genesis, and never act.
        let side_clients = S::setup(&mut genesis.clone(), &workload, &mut rng);
        let configs = keys
            .iter()
            .map(|keypair| {
                let mut config = Config::new(keypair.clone(), genesis.clone());
                configure(&mut config);
                config
            })
            .collect();
        let nodes = keys
            .iter()
            .map(|keypair| Node::new(keypair.clone(), 0, None))
            .collect();
        let now_ms = genesis.genesis_time_ms;
        let mut sim = Simulation {
            scenario,
            seed,
            rng,
            genesis,
            nodes,
            workload,
            side_clients,
            clients: Vec::new(),
            transactions: Vec::new(),
            submitted: Default::default(),
            queue: BinaryHeap::new(),
            sequence: 0,
            now_ms,
            cut: Default::default(),
            next_fault_ms: 0,
            chain: Vec::new(),
            committed_txs: Default::default(),
            chain_txs: Default::default(),
            violation: None,
            report: SimReport::default(),
            outage_started: false,
            outage_ended: false,
            manual: Some(Manual {
                configs,
                decisions: Vec::new(),
                check_interval: 1,
                steps: 0,
                holding: false,
                outboxes: vec![Vec::new(); keys.len()],
                filter: None,
            }),
        };
        for i in 0..sim.nodes.len() {
            sim.start(i);
        }
        if let Some(interval) = S::step_interval_ms() {
            sim.push(now_ms + interval, Event::SideStep);
        }
        sim.check()?;
        Ok(sim)
    }

    /// Whether this simulation runs in the manual mode.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Messages take `delay_ms` of virtual time on every link (0: delivered
    /// at the instant they are sent, in send order).
    pub fn set_link_delay_ms(&mut self, delay_ms: u64) {
        self.scenario.delay_ms = (delay_ms, delay_ms);
    }

    /// Check the per-step invariants only after every `steps` steps
    /// (clamped to at least 1, the default: every step). For benchmarks,
    /// whose figure the checks would weigh on; violations recorded in
    /// between are still reported at the next check, and
    /// [`Simulation::run_until`] always checks before it returns.
    pub fn set_check_interval(&mut self, steps: u64) {
        if let Some(manual) = &mut self.manual {
            manual.check_interval = steps.max(1);
        }
    }

    /// Virtual time, ms.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Move virtual time forward to `at_ms` (no earlier than now), as if
    /// the cluster had idled. Nothing is delivered or ticked: the next
    /// step finds what became due.
    pub fn advance_clock_to(&mut self, at_ms: u64) {
        self.now_ms = self.now_ms.max(at_ms);
    }

    /// The number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Node `i`'s replica, `None` if there is no such node or it is down.
    pub fn replica(&self, i: usize) -> Option<&Replica<S>> {
        self.nodes.get(i).and_then(|n| n.replica.as_ref())
    }

    /// Node `i`'s replica for changes, `None` if there is no such node or
    /// it is down. What the replica outputs leaves at its next input or at
    /// [`Simulation::flush`]; [`Simulation::input`] does both at once.
    pub fn replica_mut(&mut self, i: usize) -> Option<&mut Replica<S>> {
        self.nodes.get_mut(i).and_then(|n| n.replica.as_mut())
    }

    /// The running replicas, in node order.
    pub fn replicas(&self) -> impl Iterator<Item = &Replica<S>> + '_ {
        self.nodes.iter().filter_map(|n| n.replica.as_ref())
    }

    /// Give node `i`'s replica an input: `input(replica, now_ms)`; then its
    /// output is persisted and sent.
    ///
    /// # Errors
    /// [`ManualError::NoSuchNode`] or [`ManualError::NodeDown`].
    pub fn input<R>(
        &mut self,
        i: usize,
        input: impl FnOnce(&mut Replica<S>, u64) -> R,
    ) -> Result<R, ManualError> {
        let now = self.node_now_checked(i)?;
        let replica = self.nodes[i]
            .replica
            .as_mut()
            .ok_or(ManualError::NodeDown(i))?;
        let out = input(replica, now);
        self.drain(i);
        Ok(out)
    }

    /// Persist and send what every running replica has output.
    pub fn flush(&mut self) {
        for i in 0..self.nodes.len() {
            self.drain(i);
        }
    }

    /// Submit `tx` to node `i` (which forwards it to the others).
    ///
    /// # Errors
    /// [`ManualError::Refused`] with the replica's reason, or the node is
    /// unknown or down.
    pub fn submit(&mut self, i: usize, tx: Transaction) -> Result<(), ManualError> {
        self.submitted.insert(tx.hash());
        self.input(i, |replica, now| replica.submit_transaction(now, tx))?
            .map_err(ManualError::Refused)
    }

    /// Crash node `i` now: its replica is dropped, its storage survives.
    /// Messages to it are lost until [`Simulation::restart_node`], and so
    /// are the messages it held but had not sent (see
    /// [`Simulation::hold_messages`]): a crash between persisting and
    /// sending loses them. Does nothing if it is down.
    ///
    /// # Errors
    /// [`ManualError::NoSuchNode`].
    pub fn crash_node(&mut self, i: usize) -> Result<(), ManualError> {
        let node = self.nodes.get_mut(i).ok_or(ManualError::NoSuchNode(i))?;
        node.replica = None;
        node.pending_crash = None;
        node.restart_at = None;
        if let Some(manual) = &mut self.manual {
            manual.outboxes[i].clear();
        }
        Ok(())
    }

    /// Restart node `i` from its storage (replica and side chain), checking
    /// durability: nothing it reported committed may be lost. It catches up
    /// with the others by state transfer. Does nothing if it is running.
    ///
    /// # Errors
    /// [`ManualError::NoSuchNode`], or [`ManualError::Invariant`] if it does
    /// not reopen or lost a committed block.
    pub fn restart_node(&mut self, i: usize) -> Result<(), ManualError> {
        let node = self.nodes.get(i).ok_or(ManualError::NoSuchNode(i))?;
        if node.replica.is_some() {
            return Ok(());
        }
        self.restart(i)?;
        self.check()?;
        Ok(())
    }

    /// The committed blocks (with their certificates), by height: the first
    /// decision seen at each height. Empty outside the manual mode.
    pub fn decisions(&self) -> &[Decision] {
        self.manual.as_ref().map_or(&[], |m| &m.decisions)
    }

    /// Height every running replica has executed (0 if none runs).
    pub fn min_executed_height(&self) -> u64 {
        self.replicas()
            .map(Replica::executed_height)
            .min()
            .unwrap_or(0)
    }

    /// Messages in flight (side-chain steps included).
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// One step: deliver the next message due now; else move virtual time
    /// to the next message or replica deadline (by
    /// [`IDLE_ADVANCE_MS`] if there is none) and tick the replicas that are
    /// due (every running one after an idle advance). Then the invariants
    /// (every [`Simulation::set_check_interval`] steps).
    ///
    /// # Errors
    /// The first invariant that fails.
    pub fn step(&mut self) -> Result<(), SimFailure> {
        let queued = self.queue.peek().map(|Reverse((t, _, _))| *t);
        if queued.is_some_and(|t| t <= self.now_ms) {
            let Reverse((_, _, event)) = self.queue.pop().expect("peeked");
            self.handle_event(event);
        } else {
            let deadline = self
                .nodes
                .iter()
                .filter_map(|n| n.replica.as_ref())
                .filter_map(Replica::next_deadline)
                .min();
            match (queued, deadline) {
                // A message first: it is delivered at the next step,
                // before the deadlines of its instant.
                (Some(t), None) => self.now_ms = t,
                (Some(t), Some(d)) if t <= d => self.now_ms = t,
                (_, Some(d)) => {
                    self.now_ms = self.now_ms.max(d);
                    self.tick_due(false);
                }
                (None, None) => {
                    self.now_ms += IDLE_ADVANCE_MS;
                    self.tick_due(true);
                }
            }
        }
        self.count_step()
    }

    /// Count a manual-mode step and check the invariants every
    /// [`Simulation::set_check_interval`] steps (every step in a scenario
    /// run).
    fn count_step(&mut self) -> Result<(), SimFailure> {
        let check = self.manual.as_mut().is_none_or(|m| {
            m.steps += 1;
            m.steps % m.check_interval == 0
        });
        if check {
            self.check()?;
        }
        Ok(())
    }

    /// Step until `done` holds (checked before every step) or `steps_max`
    /// steps were taken; the invariants are checked before it returns.
    /// Returns whether `done` holds.
    ///
    /// # Errors
    /// The first invariant that fails.
    pub fn run_until(
        &mut self,
        steps_max: usize,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Result<bool, SimFailure> {
        let mut steps = 0usize;
        loop {
            if done(self) {
                self.check()?;
                return Ok(true);
            }
            if steps >= steps_max {
                self.check()?;
                return Ok(false);
            }
            steps += 1;
            self.step()?;
        }
    }

    /// Hold (`true`) or send at once (`false`, the default) what replicas
    /// send from now on. Held messages wait, already persisted, in their
    /// sender's outbox until the caller takes them
    /// ([`Simulation::take_held`]) and sends what it chooses
    /// ([`Simulation::send_messages`]): the test decides what is delivered,
    /// and the invariants still run at every delivery. Turning holding off
    /// sends nothing already held: it stays for [`Simulation::take_held`].
    /// Side-chain gossip is never held.
    ///
    /// ```
    /// use itc_core::anchoring::NoAnchoring;
    /// use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
    /// use itc_core::keys::Keypair;
    /// use itc_core::types::{Amount, ChainId, Payload, Transaction};
    /// use itc_sim::Simulation;
    ///
    /// let keys: Vec<Keypair> = (1..=4u8).map(|i| Keypair::from_seed([i; 32])).collect();
    /// let client = Keypair::from_seed([9; 32]);
    /// let genesis = Genesis {
    ///     accounts: vec![GenesisAccount { public_key: client.public(), balance: 100 }],
    ///     validators: keys
    ///         .iter()
    ///         .map(|k| GenesisValidator { public_key: k.public(), weight: 1 })
    ///         .collect(),
    ///     ..Genesis::default()
    /// };
    /// let mut sim = Simulation::<NoAnchoring>::from_genesis(&keys, genesis, |_| {}, (), 1).unwrap();
    /// let to = Keypair::from_seed([8; 32]).public();
    /// let payload = Payload::Transfer { to, amount: Amount(5) };
    /// let tx = Transaction::new_signed(&client, ChainId(0), 0, Amount(1), payload);
    ///
    /// sim.hold_messages(true);
    /// sim.submit(1, tx).unwrap();
    /// let sent = sim.take_held(1);
    /// assert!(!sent.is_empty());
    /// assert_eq!(sim.in_flight(), 0, "nothing left node 1");
    /// // A backup other than node 1 hears nothing; the other three commit.
    /// let primary = sim.replica(0).unwrap().primary();
    /// let cut = (2..4).find(|i| keys[*i].public() != primary).unwrap();
    /// sim.set_link_filter(Some(Box::new(move |_, to, _| to != cut)));
    /// sim.hold_messages(false);
    /// sim.send_messages(1, sent);
    /// sim.settle().unwrap();
    /// assert_eq!(sim.replica(1).unwrap().executed_height(), 1);
    /// assert_eq!(sim.replica(cut).unwrap().executed_height(), 0);
    /// assert_eq!(sim.in_flight(), 0, "settled");
    /// ```
    pub fn hold_messages(&mut self, hold: bool) {
        if let Some(manual) = &mut self.manual {
            manual.holding = hold;
        }
    }

    /// Node `i`'s held messages, oldest first (its pending output is
    /// persisted first, as [`Simulation::flush`] does, and held if messages
    /// are held), taken out of its outbox; empty when nothing is held.
    ///
    /// # Panics
    /// If there is no node `i` (a mistake in the test driving it).
    pub fn take_held(&mut self, i: usize) -> Vec<Outgoing> {
        assert!(i < self.nodes.len(), "take_held: no node {i}");
        self.drain(i);
        self.manual
            .as_mut()
            .map(|m| core::mem::take(&mut m.outboxes[i]))
            .unwrap_or_default()
    }

    /// Put `messages` from node `from` on the network, to their recipients
    /// (through the link filter), as if `from` had sent them now: they are
    /// delivered by the next steps (at once by [`Simulation::settle`] with
    /// the default link delay of 0). The caller may also forge them. A
    /// message to a key that is no node's goes nowhere (as a replica's
    /// message to a validator that has no process here).
    ///
    /// # Panics
    /// If there is no node `from` (a mistake in the test driving it).
    pub fn send_messages(&mut self, from: usize, messages: impl IntoIterator<Item = Outgoing>) {
        assert!(from < self.nodes.len(), "send_messages: no node {from}");
        for outgoing in messages {
            self.route(from, &outgoing);
        }
    }

    /// Carry a replica message from node `from` to node `to` only if
    /// `filter(from, to, &message)` holds (`None`, the default: carry
    /// everything): one-way cuts, a silent node, lost commit votes. It
    /// applies when a message is sent, not to messages already in flight,
    /// and not to side-chain gossip.
    pub fn set_link_filter(&mut self, filter: Option<LinkFilter>) {
        if let Some(manual) = &mut self.manual {
            manual.filter = filter;
        }
    }

    /// Deliver every message due now, and what that causes at this instant,
    /// until none is due: the clock does not move and no replica is ticked
    /// for a deadline (side-chain steps due now run). With the default link
    /// delay of 0 this delivers until the network is quiet; while messages
    /// are held, it delivers what is on the network and new output waits
    /// in the outboxes. Side-chain steps due by now run as in
    /// [`Simulation::step`] (they tick the replicas and carry side-chain
    /// gossip and requests). Returns the number of events handled; the
    /// invariants are checked as [`Simulation::step`] does, and before it
    /// returns also every running node's side-chain invariants, so a test
    /// that settles after acting on a node has everything checked.
    ///
    /// # Errors
    /// The first invariant that fails, or the network does not settle
    /// within [`SIM_EVENTS_MAX`] events.
    pub fn settle(&mut self) -> Result<u64, SimFailure> {
        let mut handled = 0u64;
        while self
            .queue
            .peek()
            .is_some_and(|Reverse((t, _, _))| *t <= self.now_ms)
        {
            if handled >= SIM_EVENTS_MAX {
                return Err(self.fail("the network does not settle".to_string()));
            }
            let Reverse((_, _, event)) = self.queue.pop().expect("peeked");
            self.handle_event(event);
            handled += 1;
            self.count_step()?;
        }
        self.check_now()?;
        Ok(handled)
    }

    /// Check every invariant now, every running node's side chain included,
    /// without delivering anything or moving the clock: for a test that
    /// acted on a replica directly ([`Simulation::replica_mut`],
    /// [`Simulation::take_held`]) and wants it checked at once.
    ///
    /// # Errors
    /// The first invariant that fails.
    pub fn check_now(&mut self) -> Result<(), SimFailure> {
        for i in 0..self.nodes.len() {
            self.check_side(i);
        }
        self.check()
    }

    /// Tick every running replica at the current instant, whether or not a
    /// deadline is due, and send (or hold) its output.
    pub fn tick_all(&mut self) {
        self.tick_due(true);
    }

    /// The hashes of the blocks node `i` reported committed, by height
    /// (across its restarts); empty for an unknown node.
    pub fn committed_hashes(&self, i: usize) -> &[Hash] {
        self.nodes.get(i).map_or(&[], |n| &n.committed)
    }

    /// The side chain's workload, which [`SideChain::open`] reads when a
    /// node is (re)started: a change applies to nodes restarted afterwards
    /// ([`Simulation::restart_node`]), for example another local pruning
    /// policy.
    pub fn workload_mut(&mut self) -> &mut S::Workload {
        &mut self.workload
    }

    /// Node `i`'s storage (what survives a crash), `None` for an unknown
    /// node.
    pub fn storage(&self, i: usize) -> Option<&FaultyStorage> {
        self.nodes.get(i).map(|n| &n.storage)
    }

    /// Send `outgoing` from node `from` to its recipients, unless the
    /// manual mode holds it; the link filter decides each copy.
    pub(crate) fn route(&mut self, from: usize, outgoing: &Outgoing) {
        let bytes = outgoing.to_bytes();
        for to in self.recipients(from, outgoing.to) {
            let carried = self
                .manual
                .as_ref()
                .and_then(|m| m.filter.as_ref())
                .is_none_or(|filter| filter(from, to, &outgoing.message));
            if carried {
                self.send(from, to, bytes.clone());
            }
        }
    }

    /// Keep `outgoing` in node `from`'s outbox if messages are held;
    /// otherwise give it back.
    pub(crate) fn hold(&mut self, from: usize, outgoing: Outgoing) -> Option<Outgoing> {
        match self.manual.as_mut() {
            Some(manual) if manual.holding => {
                manual.outboxes[from].push(outgoing);
                None
            }
            _ => Some(outgoing),
        }
    }

    /// Tick the replicas whose deadline is due (`all`: every running one).
    fn tick_due(&mut self, all: bool) {
        for i in 0..self.nodes.len() {
            let now = self.node_now(i);
            let Some(replica) = self.nodes[i].replica.as_mut() else {
                continue;
            };
            if all || replica.next_deadline().is_some_and(|d| d <= now) {
                replica.tick(now);
                self.drain(i);
            }
        }
    }

    fn node_now_checked(&self, i: usize) -> Result<u64, ManualError> {
        if i >= self.nodes.len() {
            return Err(ManualError::NoSuchNode(i));
        }
        Ok(self.node_now(i))
    }
}
