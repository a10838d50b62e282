//! The simulation: scenario, network, faults, invariants.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use itc_core::anchoring::NoAnchoring;
use itc_core::encoding::Encode;
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::{Keypair, PublicKey, Signature};
use itc_core::types::{Amount, ChainId, Payload, Transaction, Vote};
use itc_core::Hash;
use itc_pbft::{Config, Message, Recipient, Replica};

use crate::rng::Rng;
use crate::side_chain::{SideChain, SideMessage};
use crate::storage::{FaultyStorage, WriteFault};

/// Most events one run may process before it is declared stuck.
pub const SIM_EVENTS_MAX: u64 = 2_000_000;
/// How often simulated clients re-send uncommitted transactions after the
/// network heals.
pub const CLIENT_RETRY_MS: u64 = 2_000;
/// Messages a [`Behavior::StaleReplay`] replica remembers.
pub const STALE_REPLAY_MESSAGES_MAX: usize = 256;
/// Chain id of simulated networks.
pub const SIM_CHAIN_ID: u32 = 0x51;

/// How a Byzantine replica misbehaves. It runs the honest code and tampers
/// with what it sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// As primary, sends a different (valid-looking) block to half of the
    /// replicas, and prepare votes for both.
    EquivocatingPrimary,
    /// Sends every vote together with a conflicting vote for a random hash.
    DoubleVote,
    /// Corrupts the signature of half of its signed messages.
    ForgedSignatures,
    /// Sends random and truncated bytes besides its messages.
    Garbage,
    /// Sends nothing at all (withheld messages).
    Silent,
    /// Sends votes and proposals for views and heights far ahead.
    FutureViews,
    /// Replays messages it sent earlier (stale views and heights) along
    /// with each new one.
    StaleReplay,
    /// One of two replicas sharing one validator key, each running the
    /// honest code with its own storage (Twins): together they equivocate.
    Twin,
    /// Runs the honest code but lies in every state-transfer answer: a
    /// block body swapped under its certificate, an anchor planted under
    /// a certified header, a header changed under copied signatures, a
    /// certificate stripped to one signature, or a broken chain (a block
    /// left out).
    LyingServer,
    /// Sends view changes and nothing else: it helps every view change
    /// reach a quorum, then never leads, prepares or commits, so every view
    /// fails while a partition keeps the quorum from forming without it.
    /// Honest replicas on either side of the partition end up many views
    /// apart and must meet again once it heals.
    ViewStaller,
    /// Runs the honest code but tampers with every anchor it can: its
    /// proposals carry a forged `dag_anchor_root` (signed again); another
    /// tip list is planted under the certified headers of its view
    /// changes' prepared blocks (signed again) and of its state-transfer
    /// answers; and every anchored proposal it receives is relayed to the
    /// others with another tip list.
    AnchorForger,
}

/// One replica unreachable for a long time (for state transfer over far more
/// blocks than a replica keeps in memory): crashed (its storage survives) or
/// cut off from every link, from `from_ms` until `until_ms`. The healing of
/// the other faults does not end it early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outage {
    /// Index of the replica.
    pub replica: usize,
    /// Start, virtual ms.
    pub from_ms: u64,
    /// End, virtual ms (before `heal_ms + liveness_ms`, or the run fails).
    pub until_ms: u64,
    /// Crashed (true) or partitioned away (false).
    pub crash: bool,
}

/// What to simulate. Build with [`Scenario::basic`] and adjust.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Weight of each validator.
    pub weights: Vec<u64>,
    /// Byzantine validators by index (their weight must stay at most f).
    pub byzantine: Vec<(usize, Behavior)>,
    /// Transactions the clients submit.
    pub transactions: usize,
    /// Client accounts.
    pub clients: usize,
    /// One-way link delay bounds in ms.
    pub delay_ms: (u64, u64),
    /// Percentage of messages lost while faults are active.
    pub loss_percent: u32,
    /// Percentage of messages duplicated while faults are active.
    pub duplicate_percent: u32,
    /// Whether partitions (symmetric and asymmetric) come and go.
    pub partitions: bool,
    /// Whether honest replicas crash and restart from storage.
    pub crashes: bool,
    /// Faults are active in `[0, heal_ms)`; the network is clean after.
    pub heal_ms: u64,
    /// After healing, every honest replica must have committed every
    /// transaction within this time.
    pub liveness_ms: u64,
    /// Replica view-change timeout.
    pub view_change_timeout_ms: u64,
    /// Replica retransmission interval.
    pub retransmit_interval_ms: u64,
    /// Most transactions per block.
    pub block_transactions_max: usize,
    /// Ledger epoch length (validator set changes at boundaries).
    pub epoch_length: u64,
    /// Give validator `i` a twin: a second replica with the same key and its
    /// own storage. Both count as Byzantine (the key's weight must stay at
    /// most f). With [`Scenario::partitions`], some partitions put each
    /// twin on its own side, with a random part of the others.
    pub twin_of: Option<usize>,
    /// Stake bonded by validators (by index) through `Bond` transactions,
    /// taking effect at the next epoch boundary.
    pub validator_bonds: Vec<(usize, u64)>,
    /// Stake bonded by newcomers (client accounts without a replica, so
    /// silent members of later sets).
    pub newcomer_bonds: Vec<u64>,
    /// A long outage of one replica, on top of the other faults.
    pub outage: Option<Outage>,
    /// Whether storage fails while faults are active: writes that fail
    /// (applying nothing, or everything when the final flush fails), torn
    /// writes (the node dies mid-write), and failed reads (opening a
    /// replica, serving old blocks).
    pub storage_faults: bool,
    /// Each node's clock runs ahead of virtual time by a fixed offset drawn
    /// from `[0, clock_skew_ms]` (keep it below the replicas'
    /// `block_time_drift_ms_max`).
    pub clock_skew_ms: u64,
}

impl Scenario {
    /// `n` equal validators, 1–5 ms links, no faults, 12 transactions.
    pub fn basic(n: usize) -> Self {
        Scenario {
            weights: vec![1; n],
            byzantine: Vec::new(),
            transactions: 12,
            clients: 3,
            delay_ms: (1, 5),
            loss_percent: 0,
            duplicate_percent: 0,
            partitions: false,
            crashes: false,
            heal_ms: 2_000,
            liveness_ms: 120_000,
            view_change_timeout_ms: 300,
            retransmit_interval_ms: 100,
            block_transactions_max: 4,
            epoch_length: 1_000,
            twin_of: None,
            validator_bonds: Vec::new(),
            newcomer_bonds: Vec::new(),
            outage: None,
            storage_faults: false,
            clock_skew_ms: 0,
        }
    }
}

/// Outcome of a successful run.
#[derive(Clone, Debug, Default)]
pub struct SimReport {
    /// Height every honest replica reached.
    pub height: u64,
    /// Highest view any honest replica reached.
    pub max_view: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Double-vote evidence objects reported by honest replicas.
    pub evidence: u64,
    /// Crash-restarts performed.
    pub restarts: u64,
    /// Virtual time at the end, ms.
    pub end_ms: u64,
    /// Committed blocks after which the validator set changed.
    pub validator_set_changes: u64,
    /// Height the chain had reached when the [`Scenario::outage`] ended.
    pub height_at_outage_end: u64,
    /// State-transfer answers a [`Behavior::LyingServer`] falsified.
    pub state_transfer_lies: u64,
    /// Crashes by where they struck: before `ready()`, between `ready()`
    /// and `persist()`, between `persist()` and sending.
    pub crashes_at: [u64; 3],
    /// Storage writes and reads that failed by injection.
    pub write_faults: u64,
    /// Storage reads that failed by injection.
    pub read_faults: u64,
    /// Replica openings that failed (a failed read) and were retried.
    pub failed_opens: u64,
    /// Side-chain messages delivered.
    pub side_delivered: u64,
    /// Partitions that put each of the [`Scenario::twin_of`] twins on its
    /// own side.
    pub twin_partitions: u64,
    /// Anchors a [`Behavior::AnchorForger`] tampered with, by message kind
    /// (`pre_prepare`, `view_change`, `state_response`, `relayed`).
    pub anchor_tamperings: BTreeMap<&'static str, u64>,
    /// The side chain's own counters ([`SideChain::counters`]).
    pub side_counters: BTreeMap<&'static str, u64>,
}

/// Where an injected crash strikes a node: the points that persist before
/// send exists for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// Between inputs: nothing in flight.
    BeforeReady,
    /// After `ready()` took the outputs, before `persist()` wrote them:
    /// the writes and the messages that depend on them are lost.
    BetweenReadyAndPersist,
    /// After `persist()`, before the messages left: the writes are durable,
    /// the messages are lost.
    AfterPersistBeforeSend,
}

/// An invariant violation, with the virtual time it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFailure {
    /// Virtual time, ms.
    pub at_ms: u64,
    /// Which invariant and how.
    pub reason: String,
}

impl core::fmt::Display for SimFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "at {} ms: {}", self.at_ms, self.reason)
    }
}

pub(crate) struct Node<S> {
    pub(crate) keypair: Keypair,
    pub(crate) replica: Option<Replica<S>>,
    pub(crate) storage: FaultyStorage,
    /// How far this node's clock runs ahead of virtual time.
    pub(crate) skew_ms: u64,
    /// A crash armed for the node's next output.
    pub(crate) pending_crash: Option<CrashPoint>,
    pub(crate) behavior: Option<Behavior>,
    /// Blocks this node reported committed (hashes, index = height - 1).
    pub(crate) committed: Vec<Hash>,
    pub(crate) restart_at: Option<u64>,
    /// Messages sent earlier, for [`Behavior::StaleReplay`] (bounded).
    pub(crate) sent: Vec<Vec<u8>>,
}

impl<S> Node<S> {
    /// A node that has not started, with empty storage.
    pub(crate) fn new(keypair: Keypair, skew_ms: u64, behavior: Option<Behavior>) -> Self {
        Node {
            keypair,
            replica: None,
            storage: FaultyStorage::new(),
            skew_ms,
            pending_crash: None,
            behavior,
            committed: Vec::new(),
            restart_at: None,
            sent: Vec::new(),
        }
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Event {
    Deliver {
        from: usize,
        to: usize,
        bytes: Vec<u8>,
    },
    Submit {
        tx_index: usize,
    },
    /// Clients re-send what is not committed yet to every honest replica
    /// (the paper's client retransmission), then again later.
    ClientRetry,
    /// Side-chain gossip.
    Side {
        from: usize,
        to: usize,
        bytes: Vec<u8>,
    },
    /// The side chain's clients act and its nodes are polled.
    SideStep,
}

/// A simulated network of replicas of type `Replica<S>`.
pub struct Simulation<S: SideChain = NoAnchoring> {
    pub(crate) scenario: Scenario,
    pub(crate) seed: u64,
    pub(crate) rng: Rng,
    pub(crate) genesis: Genesis,
    pub(crate) nodes: Vec<Node<S>>,
    pub(crate) workload: S::Workload,
    pub(crate) side_clients: S::Clients,
    pub(crate) clients: Vec<Keypair>,
    pub(crate) transactions: Vec<Transaction>,
    pub(crate) submitted: BTreeSet<Hash>,
    pub(crate) queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    pub(crate) sequence: u64,
    pub(crate) now_ms: u64,
    /// Directed links that drop everything: (from, to).
    pub(crate) cut: BTreeSet<(usize, usize)>,
    pub(crate) next_fault_ms: u64,
    pub(crate) chain: Vec<Hash>,
    pub(crate) committed_txs: BTreeMap<Hash, u64>,
    pub(crate) chain_txs: BTreeSet<Hash>,
    pub(crate) violation: Option<String>,
    pub(crate) report: SimReport,
    /// Whether the scenario's outage has started and ended.
    pub(crate) outage_started: bool,
    pub(crate) outage_ended: bool,
    /// The manual mode's state ([`Simulation::from_genesis`]), `None` in a
    /// scenario run.
    pub(crate) manual: Option<crate::manual::Manual>,
}

fn keypair_for(seed: u64, index: usize) -> Keypair {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    bytes[31] = 0xAA;
    Keypair::from_seed(bytes)
}

impl<S: SideChain> Simulation<S> {
    /// Set up the network for `scenario` from `seed`, with the side
    /// chain's default workload.
    pub fn new(scenario: Scenario, seed: u64) -> Self {
        Self::with_workload(scenario, S::Workload::default(), seed)
    }

    /// Set up the network for `scenario` and the side chain's `workload`
    /// from `seed`.
    pub fn with_workload(scenario: Scenario, workload: S::Workload, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let keypairs: Vec<Keypair> = (0..scenario.weights.len())
            .map(|i| keypair_for(seed, i))
            .collect();
        let clients: Vec<Keypair> = (0..scenario.clients.max(1))
            .map(|i| keypair_for(seed, 1000 + i))
            .collect();
        let mut genesis = Genesis {
            chain_id: SIM_CHAIN_ID,
            epoch_length: scenario.epoch_length,
            accounts: clients
                .iter()
                .chain(keypairs.iter())
                .map(|c| GenesisAccount {
                    public_key: c.public(),
                    balance: 1_000_000,
                })
                .collect(),
            validators: keypairs
                .iter()
                .zip(&scenario.weights)
                .map(|(k, w)| GenesisValidator {
                    public_key: k.public(),
                    weight: *w,
                })
                .collect(),
            ..Genesis::default()
        };
        let mut side_clients = S::setup(&mut genesis, &workload, &mut rng);
        // Transactions: sequential nonces per client, random receivers.
        let mut nonces = vec![0u64; clients.len()];
        let mut transactions = Vec::new();
        for _ in 0..scenario.transactions {
            let c = rng.index(clients.len());
            let to = keypair_for(seed, 2000 + rng.range(0, 7) as usize).public();
            transactions.push(Transaction::new_signed(
                &clients[c],
                ChainId(SIM_CHAIN_ID),
                nonces[c],
                Amount(1),
                Payload::Transfer {
                    to,
                    amount: Amount(rng.range(1, 100)),
                },
            ));
            nonces[c] += 1;
        }
        for (i, amount) in &scenario.validator_bonds {
            let nonce = transactions
                .iter()
                .filter(|tx| tx.sender == keypairs[*i].public())
                .count() as u64;
            transactions.push(Transaction::new_signed(
                &keypairs[*i],
                ChainId(SIM_CHAIN_ID),
                nonce,
                Amount(1),
                Payload::Bond {
                    amount: Amount(*amount),
                },
            ));
        }
        for (c, amount) in scenario.newcomer_bonds.iter().enumerate() {
            let c = c % clients.len();
            transactions.push(Transaction::new_signed(
                &clients[c],
                ChainId(SIM_CHAIN_ID),
                nonces[c],
                Amount(1),
                Payload::Bond {
                    amount: Amount(*amount),
                },
            ));
            nonces[c] += 1;
        }
        transactions.extend(S::main_chain_transactions(&mut side_clients, &genesis));
        let behaviors: BTreeMap<usize, Behavior> = scenario.byzantine.iter().copied().collect();
        let mut nodes: Vec<Node<S>> = keypairs
            .into_iter()
            .enumerate()
            .map(|(i, keypair)| {
                let skew_ms = rng.range(0, scenario.clock_skew_ms);
                Node::new(keypair, skew_ms, behaviors.get(&i).copied())
            })
            .collect();
        if let Some(i) = scenario.twin_of {
            nodes[i].behavior = Some(Behavior::Twin);
            let skew_ms = rng.range(0, scenario.clock_skew_ms);
            let keypair = nodes[i].keypair.clone();
            nodes.push(Node::new(keypair, skew_ms, Some(Behavior::Twin)));
        }
        let mut sim = Simulation {
            scenario,
            seed,
            rng,
            genesis,
            nodes,
            workload,
            side_clients,
            clients,
            transactions,
            submitted: BTreeSet::new(),
            queue: BinaryHeap::new(),
            sequence: 0,
            now_ms: 0,
            cut: BTreeSet::new(),
            next_fault_ms: 0,
            chain: Vec::new(),
            committed_txs: BTreeMap::new(),
            chain_txs: BTreeSet::new(),
            violation: None,
            report: SimReport::default(),
            outage_started: false,
            outage_ended: false,
            manual: None,
        };
        for i in 0..sim.nodes.len() {
            sim.start(i);
        }
        if let Some(interval) = S::step_interval_ms() {
            sim.push(interval, Event::SideStep);
        }
        // Client submissions spread over the fault period.
        for tx_index in 0..sim.transactions.len() {
            let at = sim.rng.range(0, sim.scenario.heal_ms.saturating_sub(1));
            sim.push(at, Event::Submit { tx_index });
        }
        sim
    }

    fn config_for(&self, i: usize) -> Config {
        if let Some(manual) = &self.manual {
            return manual.configs[i].clone();
        }
        let mut config = Config::new(self.nodes[i].keypair.clone(), self.genesis.clone());
        config.view_change_timeout_ms = self.scenario.view_change_timeout_ms;
        config.retransmit_interval_ms = self.scenario.retransmit_interval_ms;
        config.block_transactions_max = self.scenario.block_transactions_max;
        config
    }

    /// Node `i`'s clock.
    pub(crate) fn node_now(&self, i: usize) -> u64 {
        self.now_ms + self.nodes[i].skew_ms
    }

    /// Open node `i`'s replica from its storage; a failed read leaves it
    /// down and retries later.
    pub(crate) fn start(&mut self, i: usize) -> bool {
        let config = self.config_for(i);
        let now = self.node_now(i);
        let node = &self.nodes[i];
        let read_faults_before = node.storage.injected_reads();
        let opened =
            S::open(&self.genesis, &self.workload, i, &node.storage, now).and_then(|side| {
                Replica::open_with_anchoring(config, &node.storage, side).map_err(|e| e.to_string())
            });
        match opened {
            Ok(replica) => {
                self.nodes[i].replica = Some(replica);
                self.check_side(i);
                self.drain(i);
                true
            }
            // A read failed by injection during this open: retry later.
            Err(_) if self.nodes[i].storage.injected_reads() > read_faults_before => {
                self.report.failed_opens += 1;
                self.nodes[i].restart_at = Some(self.now_ms + self.rng.range(20, 200));
                false
            }
            Err(e) => {
                self.violation
                    .get_or_insert(format!("replica {i} does not open from its storage: {e}"));
                false
            }
        }
    }

    /// Crash node `i` now; it restarts from its storage later.
    fn crash(&mut self, i: usize) {
        self.nodes[i].replica = None;
        self.nodes[i].pending_crash = None;
        let back = self.now_ms + self.rng.range(50, 800);
        self.nodes[i].restart_at = Some(back);
    }

    pub(crate) fn push(&mut self, at: u64, event: Event) {
        self.sequence += 1;
        self.queue.push(Reverse((at, self.sequence, event)));
    }

    fn honest(&self, i: usize) -> bool {
        self.nodes[i].behavior.is_none()
    }

    fn faults_active(&self) -> bool {
        self.now_ms < self.scenario.heal_ms
    }

    /// Run until every honest replica has committed every transaction after
    /// the network healed, or an invariant fails.
    ///
    /// # Errors
    /// The first [`SimFailure`].
    pub fn run(&mut self) -> Result<SimReport, SimFailure> {
        let mut events = 0u64;
        let deadline = self.scenario.heal_ms + self.scenario.liveness_ms;
        let mut healed = false;
        loop {
            events += 1;
            if events > SIM_EVENTS_MAX {
                return Err(self.fail("event budget exhausted".into()));
            }
            // Next time: queued event, replica deadline, fault schedule.
            let mut next = self.queue.peek().map(|Reverse((t, _, _))| *t);
            for node in &self.nodes {
                if let Some(r) = &node.replica {
                    if let Some(d) = r.next_deadline() {
                        let d = d.saturating_sub(node.skew_ms);
                        next = Some(next.map_or(d, |n| n.min(d)));
                    }
                }
                if let Some(t) = node.restart_at {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
            if !healed {
                let t = self.next_fault_ms.min(self.scenario.heal_ms);
                next = Some(next.map_or(t, |n| n.min(t)));
            }
            if let Some(outage) = self.scenario.outage {
                let t = if !self.outage_started {
                    Some(outage.from_ms)
                } else if !self.outage_ended {
                    Some(outage.until_ms)
                } else {
                    None
                };
                if let Some(t) = t {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
            let Some(next) = next else {
                return Err(self.fail("nothing left to do".into()));
            };
            self.now_ms = self.now_ms.max(next);
            if self.now_ms > deadline {
                return Err(self.fail(format!(
                    "liveness: not every honest replica committed all {} transactions {} ms after healing ({} committed); replicas:\n{}",
                    self.transactions.len(),
                    self.scenario.liveness_ms,
                    self.committed_txs.len(),
                    self.summaries()
                )));
            }
            if !healed && self.now_ms >= self.scenario.heal_ms {
                healed = true;
                self.heal();
            } else if !healed && self.now_ms >= self.next_fault_ms {
                self.inject_fault();
            }
            self.step_outage()?;
            for i in 0..self.nodes.len() {
                if self.nodes[i].restart_at.is_some_and(|t| t <= self.now_ms) {
                    self.restart(i)?;
                }
            }
            // Deliver everything due now, one event at a time.
            while let Some(Reverse((t, _, _))) = self.queue.peek() {
                if *t > self.now_ms {
                    break;
                }
                let Reverse((_, _, event)) = self.queue.pop().expect("peeked");
                self.handle_event(event);
                self.check()?;
            }
            for i in 0..self.nodes.len() {
                let now = self.node_now(i);
                let due = self.nodes[i]
                    .replica
                    .as_ref()
                    .and_then(|r| r.next_deadline())
                    .is_some_and(|d| d <= now);
                if due {
                    self.nodes[i].replica.as_mut().expect("live").tick(now);
                    self.drain(i);
                }
            }
            self.check()?;
            if healed && self.done() {
                self.report.height = self.chain.len() as u64;
                self.report.end_ms = self.now_ms;
                self.report.write_faults =
                    self.nodes.iter().map(|n| n.storage.injected_writes()).sum();
                self.report.read_faults =
                    self.nodes.iter().map(|n| n.storage.injected_reads()).sum();
                self.report.max_view = self
                    .nodes
                    .iter()
                    .filter_map(|n| n.replica.as_ref().map(|r| r.view()))
                    .max()
                    .unwrap_or(0);
                self.report.side_counters = S::counters(&self.side_clients).into_iter().collect();
                return Ok(self.report.clone());
            }
        }
    }

    fn summaries(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    "  {i} {:?}: {}",
                    n.behavior,
                    n.replica
                        .as_ref()
                        .map_or("down".into(), |r| r.debug_summary())
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n  side chain: "
            + &S::summary(&self.side_clients)
    }

    fn done(&self) -> bool {
        if self.committed_txs.len() < self.transactions.len() {
            return false;
        }
        let top = self.chain.len();
        let main_done = (0..self.nodes.len())
            .filter(|i| self.honest(*i))
            .all(|i| self.nodes[i].committed.len() == top && self.nodes[i].replica.is_some());
        main_done && S::done(&self.side_clients, &self.side_nodes())
    }

    /// The side chains of the live honest nodes (`None` for the others).
    pub(crate) fn side_nodes(&self) -> Vec<Option<&S>> {
        self.nodes
            .iter()
            .map(|n| {
                n.replica
                    .as_ref()
                    .filter(|_| n.behavior.is_none())
                    .map(|r| r.anchoring())
            })
            .collect()
    }

    pub(crate) fn fail(&self, reason: String) -> SimFailure {
        SimFailure {
            at_ms: self.now_ms,
            reason,
        }
    }

    /// The replica of the scenario's outage, while it lasts.
    fn out_now(&self) -> Option<usize> {
        self.scenario
            .outage
            .filter(|_| self.outage_started && !self.outage_ended)
            .map(|o| o.replica)
    }

    /// Start or end the scenario's outage when due.
    fn step_outage(&mut self) -> Result<(), SimFailure> {
        let Some(outage) = self.scenario.outage else {
            return Ok(());
        };
        let i = outage.replica;
        if !self.outage_started && self.now_ms >= outage.from_ms {
            self.outage_started = true;
            if outage.crash {
                self.nodes[i].replica = None;
                self.nodes[i].pending_crash = None;
                self.nodes[i].restart_at = None;
            }
        }
        if self.outage_started && !self.outage_ended && self.now_ms >= outage.until_ms {
            self.outage_ended = true;
            self.report.height_at_outage_end = self.chain.len() as u64;
            if outage.crash {
                self.restart(i)?;
            }
        }
        Ok(())
    }

    fn heal(&mut self) {
        self.cut.clear();
        for node in &mut self.nodes {
            node.storage.disarm();
        }
        let out = self.out_now();
        for i in 0..self.nodes.len() {
            if self.nodes[i].replica.is_none() && out != Some(i) {
                self.nodes[i].restart_at = Some(self.now_ms);
            }
        }
        self.push(self.now_ms, Event::ClientRetry);
    }

    fn inject_fault(&mut self) {
        self.next_fault_ms = self.now_ms + self.rng.range(100, 600);
        let n = self.nodes.len();
        if self.scenario.partitions && self.rng.chance(40) {
            self.cut.clear();
            if self.rng.chance(50) {
                // Isolate a random minority group, symmetric or one-way.
                let isolated = self.rng.index(n);
                let one_way = self.rng.chance(30);
                for j in 0..n {
                    if j != isolated {
                        self.cut.insert((j, isolated));
                        if !one_way {
                            self.cut.insert((isolated, j));
                        }
                    }
                }
            } else if let Some(twin) = self.scenario.twin_of {
                // Twins: each twin with its own part of the others, the
                // two parts cut from each other (the other twin is the
                // last node).
                let other_twin = n - 1;
                let mut side = vec![false; n];
                side[other_twin] = true;
                for (j, on_other_side) in side.iter_mut().enumerate() {
                    if j != twin && j != other_twin {
                        *on_other_side = self.rng.chance(50);
                    }
                }
                for a in 0..n {
                    for b in 0..n {
                        if side[a] != side[b] {
                            self.cut.insert((a, b));
                        }
                    }
                }
                self.report.twin_partitions += 1;
            }
        }
        if self.scenario.crashes && self.rng.chance(35) {
            let i = self.rng.index(n);
            if self.honest(i) && self.nodes[i].replica.is_some() && self.out_now() != Some(i) {
                // Crash now, or at the node's next output: after `ready()`
                // took it but before `persist()`, or after `persist()` but
                // before its messages left.
                let point = match self.rng.range(0, 2) {
                    0 => CrashPoint::BeforeReady,
                    1 => CrashPoint::BetweenReadyAndPersist,
                    _ => CrashPoint::AfterPersistBeforeSend,
                };
                if point == CrashPoint::BeforeReady {
                    self.report.crashes_at[0] += 1;
                    self.crash(i);
                } else {
                    self.nodes[i].pending_crash = Some(point);
                }
            }
        }
        if self.scenario.storage_faults && self.rng.chance(30) {
            let i = self.rng.index(n);
            if self.honest(i) && self.out_now() != Some(i) {
                let storage = &mut self.nodes[i].storage;
                match self.rng.range(0, 3) {
                    0 => storage.arm_write(WriteFault::Fail),
                    1 => storage.arm_write(WriteFault::FailApplied),
                    2 => storage.arm_write(WriteFault::Torn),
                    _ => storage.fail_reads(self.rng.range(1, 3) as u32),
                }
            }
        }
    }

    pub(crate) fn restart(&mut self, i: usize) -> Result<(), SimFailure> {
        self.nodes[i].restart_at = None;
        self.report.restarts += 1;
        if self.faults_active() && self.scenario.storage_faults && self.rng.chance(20) {
            self.nodes[i].storage.fail_reads(1);
        }
        if !self.start(i) {
            return Ok(());
        }
        // Durability: nothing reported committed may be lost.
        let replica = self.nodes[i].replica.as_ref().expect("started");
        let reported = self.nodes[i].committed.len() as u64;
        if replica.executed_height() > reported {
            // A write reported failed although it was applied (the final
            // flush failed): the blocks it committed are there after the
            // restart. Learn them from storage, as a driver would.
            let from = reported + 1;
            let count = (replica.executed_height() - reported) as usize;
            let decisions =
                itc_pbft::persist::load_decision_range(self.nodes[i].storage.inner(), from, count)
                    .map_err(|e| {
                        self.fail(format!("replica {i}: stored blocks unreadable: {e}"))
                    })?;
            for decision in decisions {
                self.record_commit(i, &decision);
            }
        }
        let replica = self.nodes[i].replica.as_ref().expect("started");
        if replica.executed_height() < reported {
            return Err(self.fail(format!(
                "durability: replica {i} reported height {reported} but restarted at {}",
                replica.executed_height()
            )));
        }
        if reported > 0 && replica.executed_height() == reported {
            let last = self.nodes[i].committed[reported as usize - 1];
            if replica.last_block_hash() != last {
                return Err(self.fail(format!("durability: replica {i} lost its last block")));
            }
        }
        Ok(())
    }

    pub(crate) fn handle_event(&mut self, event: Event) {
        match event {
            Event::Deliver { from, to, bytes } => {
                if self.nodes[to].behavior == Some(Behavior::AnchorForger)
                    && self.nodes[to].replica.is_some()
                {
                    self.relay_planted(from, to, &bytes);
                }
                let now = self.node_now(to);
                let from_key = self.nodes[from].keypair.public();
                if let Some(replica) = self.nodes[to].replica.as_mut() {
                    self.report.delivered += 1;
                    let _ = replica.handle_message(now, from_key, &bytes);
                    self.drain(to);
                }
            }
            Event::Side { from, to, bytes } => {
                let now = self.node_now(to);
                if let Some(replica) = self.nodes[to].replica.as_mut() {
                    self.report.side_delivered += 1;
                    let out = replica.anchoring_mut().receive(now, from, &bytes);
                    self.send_side(to, out);
                    self.drain(to);
                }
            }
            Event::SideStep => self.side_step(),
            Event::ClientRetry => {
                for tx in self.transactions.clone() {
                    if self.committed_txs.contains_key(&tx.hash()) {
                        continue;
                    }
                    for i in 0..self.nodes.len() {
                        if !self.honest(i) {
                            continue;
                        }
                        let now = self.node_now(i);
                        if let Some(replica) = self.nodes[i].replica.as_mut() {
                            let _ = replica.submit_transaction(now, tx.clone());
                            self.drain(i);
                        }
                    }
                }
                self.push(self.now_ms + CLIENT_RETRY_MS, Event::ClientRetry);
            }
            Event::Submit { tx_index } => {
                let tx = self.transactions[tx_index].clone();
                self.submitted.insert(tx.hash());
                let live: Vec<usize> = (0..self.nodes.len())
                    .filter(|i| self.honest(*i) && self.nodes[*i].replica.is_some())
                    .collect();
                if live.is_empty() {
                    return;
                }
                let i = live[self.rng.index(live.len())];
                let now = self.node_now(i);
                let replica = self.nodes[i].replica.as_mut().expect("live");
                let _ = replica.submit_transaction(now, tx);
                self.drain(i);
            }
        }
    }

    /// Persist node `i`'s outputs, record commits, route its messages;
    /// or crash it where an armed crash or a failed write strikes.
    pub(crate) fn drain(&mut self, i: usize) {
        let crash = self.nodes[i].pending_crash.take();
        let Some(replica) = self.nodes[i].replica.as_mut() else {
            return;
        };
        let ready = replica.ready();
        if crash == Some(CrashPoint::BetweenReadyAndPersist) {
            self.report.crashes_at[1] += 1;
            drop(ready);
            self.crash(i);
            return;
        }
        let node = &mut self.nodes[i];
        let persisted = match ready.persist(&mut node.storage) {
            Ok(persisted) => persisted,
            Err(_) => {
                // The replica's memory is ahead of its storage: a driver
                // must not go on with it. Restart from what is durable
                // (a torn write kills the process anyway).
                if node.storage.take_fired().is_none() {
                    self.violation
                        .get_or_insert(format!("replica {i}: a write failed with no fault armed"));
                }
                self.crash(i);
                return;
            }
        };
        if self.honest(i) {
            self.report.evidence += persisted.evidence.len() as u64;
        }
        for decision in &persisted.committed {
            self.record_commit(i, decision);
        }
        if crash == Some(CrashPoint::AfterPersistBeforeSend) {
            self.report.crashes_at[2] += 1;
            self.crash(i);
            return;
        }
        for outgoing in persisted.messages {
            if self.honest(i) {
                // Held in the manual mode's outbox, or sent (encoded once
                // for every recipient).
                if let Some(outgoing) = self.hold(i, outgoing) {
                    self.route(i, &outgoing);
                }
                continue;
            }
            for to in self.recipients(i, outgoing.to) {
                for bytes in self.tamper(i, to, &outgoing.message) {
                    self.send(i, to, bytes);
                }
            }
        }
    }

    /// The nodes a message from node `from` to `to` reaches: every other
    /// node, or every node with that identity (both twins).
    pub(crate) fn recipients(&self, from: usize, to: Recipient) -> Vec<usize> {
        match to {
            Recipient::AllValidators => (0..self.nodes.len()).filter(|j| *j != from).collect(),
            Recipient::One(key) => (0..self.nodes.len())
                .filter(|j| self.nodes[*j].keypair.public() == key)
                .collect(),
        }
    }

    /// Node `i` reported `decision` committed (from its `Persisted`, or read
    /// back from storage after a restart): check it against the chain and
    /// the node's side chain.
    fn record_commit(&mut self, i: usize, decision: &itc_pbft::Decision) {
        let header = &decision.block.header;
        let height = header.height;
        if height != self.nodes[i].committed.len() as u64 + 1 {
            self.violation.get_or_insert(format!(
                "replica {i} reported block {height} after {} blocks",
                self.nodes[i].committed.len()
            ));
        }
        self.nodes[i].committed.push(header.hash());
        if !self.honest(i) {
            return;
        }
        for tx in &decision.block.transactions {
            self.committed_txs.entry(tx.hash()).or_insert(height);
        }
        // The side chain recorded the commitment the header carries.
        if decision.block.anchor.is_some() {
            let recorded = self.nodes[i]
                .replica
                .as_ref()
                .and_then(|r| r.anchoring().commitment(height));
            if recorded.is_some_and(|c| c != header.dag_anchor_root) {
                self.violation.get_or_insert(format!(
                    "anchor commitment: replica {i} recorded another commitment for block {height} than its header's root"
                ));
            }
        }
        // Agreement and validity are checked against the first commits seen
        // (an honest replica commits in order, so the chain is never behind
        // it by more than this block).
        if let Some(first) = (height as usize)
            .checked_sub(1)
            .and_then(|h| self.chain.get(h))
        {
            if *first != header.hash() {
                self.violation.get_or_insert(format!(
                    "agreement: replica {i} committed a different block at height {height}"
                ));
            }
        } else if height as usize == self.chain.len() + 1 {
            self.chain.push(header.hash());
            if let Some(manual) = &mut self.manual {
                manual.decisions.push(decision.clone());
            }
            if header.next_validator_set_hash != header.validator_set_hash {
                self.report.validator_set_changes += 1;
            }
            for tx in &decision.block.transactions {
                let hash = tx.hash();
                if !self.submitted.contains(&hash) {
                    self.violation.get_or_insert(format!(
                        "validity: block {height} holds a transaction nobody submitted"
                    ));
                }
                if !self.chain_txs.insert(hash) {
                    self.violation.get_or_insert(format!(
                        "no duplicate commit: block {height} repeats a committed transaction"
                    ));
                }
            }
        }
    }

    /// The side chain's clients act, and every live node is polled.
    fn side_step(&mut self) {
        let now = self.now_ms;
        // A side chain's own invariants can cost a walk over its store, so
        // they are checked at every side step (and after each restart and
        // anchored commit), not after every message.
        for i in 0..self.nodes.len() {
            self.check_side(i);
        }
        // The manual mode has no clients of its own.
        let mut out = if self.manual.is_some() {
            Vec::new()
        } else {
            let mut sides: Vec<Option<&mut S>> = self
                .nodes
                .iter_mut()
                .map(|n| {
                    let honest = n.behavior.is_none();
                    n.replica
                        .as_mut()
                        .filter(|_| honest)
                        .map(|r| r.anchoring_mut())
                })
                .collect();
            S::client_step(&mut self.side_clients, &mut sides, &mut self.rng, now)
        };
        for i in 0..self.nodes.len() {
            let node_now = self.node_now(i);
            if let Some(replica) = self.nodes[i].replica.as_mut() {
                out.extend(
                    replica
                        .anchoring_mut()
                        .poll(node_now)
                        .into_iter()
                        .map(|m| (i, m)),
                );
            }
        }
        for (from, message) in out {
            self.send_side(from, vec![message]);
        }
        // Every live replica gets an input: what the side chain received
        // since (an anchor's missing cone, new tips to anchor) is looked
        // at again even when no timer is due.
        for i in 0..self.nodes.len() {
            let node_now = self.node_now(i);
            if let Some(replica) = self.nodes[i].replica.as_mut() {
                replica.tick(node_now);
                self.drain(i);
            }
        }
        if let Some(interval) = S::step_interval_ms() {
            self.push(now + interval, Event::SideStep);
        }
    }

    /// Check node `i`'s side chain, recording a violation.
    pub(crate) fn check_side(&mut self, i: usize) {
        let Some(replica) = self.nodes[i].replica.as_ref() else {
            return;
        };
        if let Err(e) = replica.anchoring().check_invariants() {
            self.violation
                .get_or_insert(format!("side chain of replica {i}: {e}"));
        }
    }

    /// Route side-chain messages of node `from` through the network.
    fn send_side(&mut self, from: usize, messages: Vec<SideMessage>) {
        for message in messages {
            let recipients: Vec<usize> = match message.to {
                Some(to) if to < self.nodes.len() && to != from => vec![to],
                Some(_) => Vec::new(),
                None => (0..self.nodes.len()).filter(|j| *j != from).collect(),
            };
            for to in recipients {
                if self.out_now().is_some_and(|o| o == from || o == to)
                    || (self.faults_active()
                        && (self.cut.contains(&(from, to))
                            || self.rng.chance(self.scenario.loss_percent)))
                {
                    continue;
                }
                let at = self.now_ms
                    + self
                        .rng
                        .range(self.scenario.delay_ms.0, self.scenario.delay_ms.1);
                self.push(
                    at,
                    Event::Side {
                        from,
                        to,
                        bytes: message.bytes.clone(),
                    },
                );
            }
        }
    }

    pub(crate) fn send(&mut self, from: usize, to: usize, bytes: Vec<u8>) {
        if self.out_now().is_some_and(|i| i == from || i == to) {
            return;
        }
        if self.faults_active() {
            if self.cut.contains(&(from, to)) || self.rng.chance(self.scenario.loss_percent) {
                return;
            }
            if self.rng.chance(self.scenario.duplicate_percent) {
                let at = self.now_ms
                    + self
                        .rng
                        .range(self.scenario.delay_ms.0, self.scenario.delay_ms.1 * 4);
                self.push(
                    at,
                    Event::Deliver {
                        from,
                        to,
                        bytes: bytes.clone(),
                    },
                );
            }
        }
        let at = self.now_ms
            + self
                .rng
                .range(self.scenario.delay_ms.0, self.scenario.delay_ms.1);
        self.push(at, Event::Deliver { from, to, bytes });
    }

    /// The bytes a (possibly Byzantine) node actually sends for `message`.
    fn tamper(&mut self, from: usize, to: usize, message: &Message) -> Vec<Vec<u8>> {
        let Some(behavior) = self.nodes[from].behavior else {
            return vec![message.encode()];
        };
        let keypair = self.nodes[from].keypair.clone();
        let chain = ChainId(SIM_CHAIN_ID);
        match behavior {
            Behavior::Twin => vec![message.encode()],
            Behavior::AnchorForger => {
                let forged = match message {
                    Message::PrePrepare(p) if p.block.anchor.is_some() => {
                        let mut block = p.block.clone();
                        block.header.dag_anchor_root = Hash([0xBD; 32]);
                        Some((
                            "pre_prepare",
                            Message::PrePrepare(itc_pbft::PrePrepare::new_signed(
                                &keypair, chain, p.view, block,
                            )),
                        ))
                    }
                    Message::PrePrepare(_) => None,
                    _ => plant_tips(message, &keypair, &mut self.rng)
                        .map(|planted| (message.kind(), planted)),
                };
                match forged {
                    Some((kind, forged)) => {
                        *self.report.anchor_tamperings.entry(kind).or_default() += 1;
                        vec![forged.encode()]
                    }
                    None => vec![message.encode()],
                }
            }
            Behavior::ViewStaller => match message {
                Message::ViewChange(_) => vec![message.encode()],
                _ => Vec::new(),
            },
            Behavior::LyingServer => match message {
                Message::StateResponse(decisions) if !decisions.is_empty() => {
                    self.report.state_transfer_lies += 1;
                    let mut decisions = decisions.clone();
                    let len = decisions.len();
                    let at = self.rng.index(len);
                    let lie = &mut decisions[at];
                    match self.rng.range(0, 4) {
                        0 => {
                            if lie.block.transactions.pop().is_none() {
                                lie.block.header.tx_root = Hash([0xBA; 32]);
                            }
                        }
                        3 => {
                            // A tip list planted under the certified header.
                            let mut tip = [0xA7; 32];
                            tip[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
                            lie.block.anchor = Some(itc_core::types::DagAnchor {
                                tips: vec![Hash(tip)],
                            });
                        }
                        1 => {
                            lie.block.header.time_ms += 1;
                            lie.certificate.block_hash = lie.block.header.hash();
                        }
                        2 => lie.certificate.signatures.truncate(1),
                        _ if len >= 2 => {
                            // A gap (not just a shorter answer).
                            decisions.remove(at.min(len - 2));
                        }
                        _ => lie.certificate.signatures.clear(),
                    }
                    vec![Message::StateResponse(decisions).encode()]
                }
                _ => vec![message.encode()],
            },
            Behavior::StaleReplay => {
                let bytes = message.encode();
                let mut out = vec![bytes.clone()];
                let sent = &mut self.nodes[from].sent;
                if !sent.is_empty() {
                    let old = sent[(self.rng.next_u64() % sent.len() as u64) as usize].clone();
                    out.push(old);
                }
                let sent = &mut self.nodes[from].sent;
                if sent.len() < STALE_REPLAY_MESSAGES_MAX {
                    sent.push(bytes);
                } else {
                    let at = (self.rng.next_u64() % sent.len() as u64) as usize;
                    sent[at] = bytes;
                }
                out
            }
            Behavior::Silent => Vec::new(),
            Behavior::Garbage => {
                let mut out = vec![message.encode()];
                let len = self.rng.range(0, 300) as usize;
                out.push((0..len).map(|_| self.rng.next_u64() as u8).collect());
                let mut truncated = message.encode();
                truncated.truncate(self.rng.range(0, truncated.len() as u64) as usize);
                out.push(truncated);
                let mut flipped = message.encode();
                if !flipped.is_empty() {
                    let at = self.rng.index(flipped.len());
                    flipped[at] ^= 1 << self.rng.range(0, 7);
                }
                out.push(flipped);
                out
            }
            Behavior::ForgedSignatures => {
                let mut m = message.clone();
                if self.rng.chance(50) {
                    let corrupt = |s: &mut Signature| s.0[7] ^= 0x40;
                    match &mut m {
                        Message::Vote(v) => corrupt(&mut v.signature),
                        Message::PrePrepare(p) => corrupt(&mut p.signature),
                        Message::ViewChange(v) => corrupt(&mut v.signature),
                        Message::NewView(v) => corrupt(&mut v.signature),
                        _ => {}
                    }
                }
                vec![m.encode()]
            }
            Behavior::DoubleVote => {
                let mut out = vec![message.encode()];
                if let Message::Vote(v) = message {
                    let mut random = [0u8; 32];
                    random[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
                    let other =
                        Vote::new_signed(&keypair, chain, v.kind, v.height, v.view, Hash(random));
                    out.push(Message::Vote(other).encode());
                }
                out
            }
            Behavior::EquivocatingPrimary => match message {
                Message::PrePrepare(p) if to % 2 == 1 => {
                    let mut block = p.block.clone();
                    block.header.time_ms += 1;
                    let hash = block.header.hash();
                    let height = block.header.height;
                    let alt = itc_pbft::PrePrepare::new_signed(&keypair, chain, p.view, block);
                    let prepare = Vote::new_signed(
                        &keypair,
                        chain,
                        itc_core::types::VoteKind::Prepare,
                        height,
                        p.view,
                        hash,
                    );
                    vec![
                        Message::PrePrepare(alt).encode(),
                        Message::Vote(prepare).encode(),
                    ]
                }
                _ => vec![message.encode()],
            },
            Behavior::FutureViews => {
                let mut out = vec![message.encode()];
                if let Message::Vote(v) = message {
                    let far = Vote::new_signed(
                        &keypair,
                        chain,
                        v.kind,
                        v.height + 5,
                        v.view + 3,
                        v.block_hash,
                    );
                    out.push(Message::Vote(far).encode());
                }
                if let Message::PrePrepare(p) = message {
                    let mut block = p.block.clone();
                    block.header.height += 3;
                    let pp = itc_pbft::PrePrepare::new_signed(&keypair, chain, p.view + 2, block);
                    out.push(Message::PrePrepare(pp).encode());
                }
                out
            }
        }
    }

    /// A [`Behavior::AnchorForger`] node `at` received `bytes` from
    /// `from`: an anchored proposal goes on to the others with another tip
    /// list under its certified header.
    fn relay_planted(&mut self, from: usize, at: usize, bytes: &[u8]) {
        let Ok(message @ Message::PrePrepare(_)) = Message::from_bytes(bytes) else {
            return;
        };
        let keypair = self.nodes[at].keypair.clone();
        let Some(planted) = plant_tips(&message, &keypair, &mut self.rng) else {
            return;
        };
        *self.report.anchor_tamperings.entry("relayed").or_default() += 1;
        let relayed = planted.encode();
        for other in 0..self.nodes.len() {
            if other != at && other != from {
                self.send(at, other, relayed.clone());
            }
        }
    }

    /// Invariants after every step.
    pub(crate) fn check(&mut self) -> Result<(), SimFailure> {
        if let Some(reason) = self.violation.clone() {
            return Err(self.fail(reason));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            // Byzantine replicas run the honest code and tamper only with
            // what they send: their own state must hold as well.
            if let Some(r) = &node.replica {
                if let Err(e) = r.check_invariants() {
                    return Err(self.fail(format!("replica {i}: {e}")));
                }
            }
            if node.behavior.is_some() {
                continue;
            }
            if let Some(r) = &node.replica {
                if let Some(reason) = r.halted() {
                    return Err(self.fail(format!("honest replica {i} halted: {reason}")));
                }
                if r.executed_height() != node.committed.len() as u64 {
                    return Err(self.fail(format!(
                        "no duplicate commit: replica {i} executed {} but reported {}",
                        r.executed_height(),
                        node.committed.len()
                    )));
                }
            }
        }
        Ok(())
    }

    /// The seed this simulation runs.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The validators' public keys, in node order.
    pub fn validator_keys(&self) -> Vec<PublicKey> {
        self.nodes.iter().map(|n| n.keypair.public()).collect()
    }

    /// The client keys.
    pub fn client_keys(&self) -> Vec<PublicKey> {
        self.clients.iter().map(|c| c.public()).collect()
    }
}

/// The same message with another tip list planted under a certified
/// header: in a proposal (left unsigned again: a relay cannot sign for the
/// primary), a view change's prepared blocks (signed again by `signer`,
/// since its signature covers them) or a state-transfer answer; `None` if
/// it carries no anchor.
fn plant_tips(message: &Message, signer: &Keypair, rng: &mut Rng) -> Option<Message> {
    let mut planted_tip = [0xAB; 32];
    planted_tip[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    let swap = |anchor: &mut Option<itc_core::types::DagAnchor>| -> bool {
        let Some(anchor) = anchor else {
            return false;
        };
        anchor.tips.pop();
        anchor.tips.push(Hash(planted_tip));
        anchor.tips.sort();
        anchor.tips.dedup();
        true
    };
    match message {
        Message::PrePrepare(p) => {
            let mut p = p.clone();
            swap(&mut p.block.anchor).then_some(Message::PrePrepare(p))
        }
        Message::ViewChange(vc) => {
            let mut vc = vc.clone();
            let mut planted = false;
            for entry in &mut vc.prepared {
                planted |= swap(&mut entry.block.anchor);
            }
            planted.then(|| Message::ViewChange(vc.sign(signer, ChainId(SIM_CHAIN_ID))))
        }
        Message::StateResponse(decisions) => {
            let mut decisions = decisions.clone();
            let mut planted = false;
            for decision in &mut decisions {
                planted |= swap(&mut decision.block.anchor);
            }
            planted.then_some(Message::StateResponse(decisions))
        }
        _ => None,
    }
}

/// The seeds a test runs: the one in `ITC_SIM_SEED` (a replay), else
/// `N` seeds for `N` from `ITC_SIM_SEEDS` (a soak), else `default_count`;
/// they start at `ITC_SIM_SEED_FROM` (default 0), so a long soak can be
/// split into ranges.
pub fn seeds(default_count: u64) -> Vec<u64> {
    let number = |name: &str| {
        std::env::var(name).ok().map(|s| {
            s.trim()
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{name} is a number"))
        })
    };
    if let Some(seed) = number("ITC_SIM_SEED") {
        return vec![seed];
    }
    let count = number("ITC_SIM_SEEDS").unwrap_or(default_count);
    let from = number("ITC_SIM_SEED_FROM").unwrap_or(0);
    (from..from.saturating_add(count)).collect()
}

/// Where a test lives, for the replay command printed on failure.
#[derive(Clone, Copy, Debug)]
pub struct TestId<'a> {
    /// The package (`itc-pbft`).
    pub package: &'a str,
    /// The test target (the file name under `tests/`).
    pub target: &'a str,
    /// The test function.
    pub name: &'a str,
}

impl<'a> TestId<'a> {
    /// The test `name` in `package`'s test target `target`.
    pub const fn new(package: &'a str, target: &'a str, name: &'a str) -> Self {
        TestId {
            package,
            target,
            name,
        }
    }

    /// The command that replays `seed` of this test.
    pub fn replay(&self, seed: u64) -> String {
        format!(
            "ITC_SIM_SEED={seed} cargo test -p {} --test {} -- --exact {}",
            self.package, self.target, self.name
        )
    }
}

/// Run `scenario` on a main chain without side chain for the [`seeds`],
/// panicking with the seed and a replay command on the first failure.
pub fn run_seeds(
    test: TestId<'_>,
    default_count: u64,
    scenario: impl Fn(u64) -> Scenario,
) -> Vec<SimReport> {
    run_seeds_with::<NoAnchoring>(test, default_count, scenario)
}

/// [`run_seeds`] for replicas that anchor the side chain `S` (with its
/// default workload).
pub fn run_seeds_with<S: SideChain>(
    test: TestId<'_>,
    default_count: u64,
    scenario: impl Fn(u64) -> Scenario,
) -> Vec<SimReport> {
    run_seeds_with_workload::<S>(test, default_count, |seed| {
        (scenario(seed), S::Workload::default())
    })
}

/// [`run_seeds_with`] with the side chain's workload chosen per seed too.
pub fn run_seeds_with_workload<S: SideChain>(
    test: TestId<'_>,
    default_count: u64,
    scenario: impl Fn(u64) -> (Scenario, S::Workload),
) -> Vec<SimReport> {
    let mut reports = Vec::new();
    for seed in seeds(default_count) {
        let (scenario, workload) = scenario(seed);
        let mut sim = Simulation::<S>::with_workload(scenario, workload, seed);
        match sim.run() {
            Ok(report) => reports.push(report),
            Err(failure) => panic!(
                "simulation {} failed with seed {seed}: {failure}\nreplay: {}",
                test.name,
                test.replay(seed)
            ),
        }
    }
    reports
}
