//! Helpers for the hand-driven tests: a small cluster where the test
//! decides what is delivered, over the one simulator's manual mode
//! (`itc_sim::manual`) with its messages held for the test, so agreement,
//! validity, no double commit, every replica's own invariants and
//! durability at a restart are checked as the test delivers.
#![allow(dead_code)]

use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::{Keypair, PublicKey};
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use itc_pbft::{Config, Message, NoAnchoring, Outgoing, Replica, SubmitError};
use itc_sim::storage::FaultyStorage;
use itc_sim::{ManualError, SideChain, Simulation};

pub const CHAIN: u32 = 9;

/// Replicas driven by hand: what they send is held until the test takes it
/// ([`Cluster::persist`]) and delivers what it wants ([`Cluster::flood`],
/// [`Cluster::flood_filtered`]). `S` is the anchored side chain
/// ([`NoAnchoring`] unless a test opens the cluster with one, see
/// [`Cluster::open`]).
pub struct Cluster<S: SideChain = NoAnchoring> {
    pub sim: Simulation<S>,
    pub keys: Vec<Keypair>,
    pub genesis: Genesis,
    pub client: Keypair,
    /// Every replica's retransmission interval.
    pub retransmit_interval_ms: u64,
}

pub fn keypair(i: u8) -> Keypair {
    Keypair::from_seed([i + 1; 32])
}

impl Cluster {
    /// Validators of `weights` without a side chain, retransmitting rarely
    /// (the tests deliver what they want).
    pub fn new(weights: &[u64]) -> Cluster {
        Cluster::new_with(weights, |_| {})
    }

    /// Like [`Cluster::new`], every replica's configuration adjusted by
    /// `configure`.
    pub fn new_with(weights: &[u64], configure: impl Fn(&mut Config)) -> Cluster {
        let keys: Vec<Keypair> = (0..weights.len() as u8).map(keypair).collect();
        let client = Keypair::from_seed([200; 32]);
        let genesis = weighted_genesis(&keys, weights, vec![(client.public(), 1_000_000)]);
        Cluster::open(keys, genesis, client, 100_000, (), configure)
    }
}

impl<S: SideChain> Cluster<S> {
    /// One replica per key, each opened from fresh storage (its side chain
    /// by [`SideChain::open`] with `workload`), configured by
    /// [`Cluster::config`] and then `configure`; their messages are held.
    pub fn open(
        keys: Vec<Keypair>,
        genesis: Genesis,
        client: Keypair,
        retransmit_interval_ms: u64,
        workload: S::Workload,
        configure: impl Fn(&mut Config),
    ) -> Self {
        let mut sim = Simulation::<S>::from_genesis(
            &keys,
            genesis.clone(),
            |config| {
                config.view_change_timeout_ms = 1_000;
                config.retransmit_interval_ms = retransmit_interval_ms;
                configure(config);
            },
            workload,
            1,
        )
        .unwrap();
        sim.hold_messages(true);
        let mut cluster = Cluster {
            sim,
            keys,
            genesis,
            client,
            retransmit_interval_ms,
        };
        // What the replicas sent on opening is not delivered.
        for i in 0..cluster.keys.len() {
            let _ = cluster.persist(i);
        }
        cluster
    }

    /// Replica `i`'s configuration (before a test's `configure`).
    pub fn config(&self, i: usize) -> Config {
        let mut config = Config::new(self.keys[i].clone(), self.genesis.clone());
        config.view_change_timeout_ms = 1_000;
        config.retransmit_interval_ms = self.retransmit_interval_ms;
        config
    }

    /// Replica `i` (running).
    pub fn replica(&self, i: usize) -> &Replica<S> {
        self.sim.replica(i).expect("running")
    }

    /// Replica `i` for inputs; what it outputs leaves at
    /// [`Cluster::persist`] or when it next receives a message.
    pub fn replica_mut(&mut self, i: usize) -> &mut Replica<S> {
        self.sim.replica_mut(i).expect("running")
    }

    /// The replicas, in node order.
    pub fn replicas(&self) -> Vec<&Replica<S>> {
        self.sim.replicas().collect()
    }

    /// Replica `i`'s storage.
    pub fn storage(&self, i: usize) -> &FaultyStorage {
        self.sim.storage(i).expect("a node")
    }

    /// Submit `tx` to replica `i` at `now` (the simulator's validity check
    /// learns it was submitted); its output is held.
    pub fn submit(&mut self, i: usize, now: u64, tx: Transaction) -> Result<(), SubmitError> {
        self.sim.advance_clock_to(now);
        match self.sim.submit(i, tx) {
            Ok(()) => Ok(()),
            Err(ManualError::Refused(reason)) => Err(reason),
            Err(other) => panic!("{other}"),
        }
    }

    /// Persist replica `i`'s outputs and return the messages it may send
    /// (taken out of its outbox: they go nowhere unless the test sends them);
    /// the simulator's invariants are checked at once, without delivering
    /// anything.
    pub fn persist(&mut self, i: usize) -> Vec<Outgoing> {
        let held = self.sim.take_held(i);
        self.sim.check_now().unwrap();
        held
    }

    /// Crash replica `i` and open it again from its storage (the simulator
    /// checks that it lost no committed block); what it sends on opening is
    /// held.
    pub fn restart(&mut self, i: usize) {
        self.sim.crash_node(i).unwrap();
        self.sim.restart_node(i).unwrap();
    }

    /// Check the simulator's invariants now (after deliveries by hand,
    /// which the network did not carry).
    pub fn check(&mut self) {
        self.sim.settle().unwrap();
    }

    pub fn index_of(&self, key: PublicKey) -> usize {
        self.keys.iter().position(|k| k.public() == key).unwrap()
    }

    pub fn primary_index(&self) -> usize {
        self.index_of(self.replica(0).primary())
    }

    pub fn tx(&self, nonce: u64) -> Transaction {
        transfer(&self.client, nonce, 10)
    }

    /// Deliver every message until quiet (no loss), starting from `pending`.
    pub fn flood(&mut self, now: u64, pending: Vec<(usize, Outgoing)>) {
        self.flood_filtered(now, pending, |_, _, _| true);
    }

    /// Like [`Cluster::flood`], delivering only what `deliver(from, to,
    /// message)` allows, at virtual time `now` (or later if the cluster's
    /// clock is already past it). What replicas held before stays held.
    pub fn flood_filtered(
        &mut self,
        now: u64,
        pending: Vec<(usize, Outgoing)>,
        deliver: impl Fn(usize, usize, &Message) -> bool + 'static,
    ) {
        self.sim.advance_clock_to(now);
        self.sim.set_link_filter(Some(Box::new(deliver)));
        self.sim.hold_messages(false);
        for (from, outgoing) in pending {
            self.sim.send_messages(from, [outgoing]);
        }
        let settled = self.sim.settle();
        self.sim.hold_messages(true);
        self.sim.set_link_filter(None);
        settled.unwrap();
    }
}

pub fn kinds(messages: &[Outgoing]) -> Vec<&'static str> {
    messages.iter().map(|m| m.message.kind()).collect()
}

pub fn find_pre_prepare(messages: &[Outgoing]) -> Option<itc_pbft::PrePrepare> {
    messages.iter().find_map(|m| match &m.message {
        Message::PrePrepare(p) => Some(p.clone()),
        _ => None,
    })
}

/// Tick every replica at `now` and collect what they send.
pub fn tick_all<S: SideChain>(c: &mut Cluster<S>, now: u64) -> Vec<(usize, Outgoing)> {
    let mut out = Vec::new();
    for i in 0..c.keys.len() {
        c.replica_mut(i).tick(now);
        for m in c.persist(i) {
            out.push((i, m));
        }
    }
    out
}

/// A genesis of `keys` with `weights` and the given account balances.
pub fn weighted_genesis(
    keys: &[Keypair],
    weights: &[u64],
    accounts: Vec<(PublicKey, u64)>,
) -> Genesis {
    Genesis {
        chain_id: CHAIN,
        accounts: accounts
            .into_iter()
            .map(|(public_key, balance)| GenesisAccount {
                public_key,
                balance,
            })
            .collect(),
        validators: keys
            .iter()
            .zip(weights)
            .map(|(k, w)| GenesisValidator {
                public_key: k.public(),
                weight: *w,
            })
            .collect(),
        ..Genesis::default()
    }
}

/// A transfer of `amount` (fee 1) from `from` to a fixed receiver.
pub fn transfer(from: &Keypair, nonce: u64, amount: u64) -> Transaction {
    Transaction::new_signed(
        from,
        ChainId(CHAIN),
        nonce,
        Amount(1),
        Payload::Transfer {
            to: Keypair::from_seed([201; 32]).public(),
            amount: Amount(amount),
        },
    )
}

/// A genesis with `validators` of weight 1 each and `clients` holding
/// 1,000 tokens each.
pub fn genesis_with_clients(validators: &[PublicKey], clients: &[Keypair]) -> Genesis {
    Genesis {
        chain_id: CHAIN,
        accounts: clients
            .iter()
            .map(|k| GenesisAccount {
                public_key: k.public(),
                balance: 1_000,
            })
            .collect(),
        validators: validators
            .iter()
            .map(|key| GenesisValidator {
                public_key: *key,
                weight: 1,
            })
            .collect(),
        ..Genesis::default()
    }
}
