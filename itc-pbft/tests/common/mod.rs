//! Helpers for the hand-driven tests: a small cluster without a network.
#![allow(dead_code)]

use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::{Keypair, PublicKey};
use itc_core::storage::MemoryStorage;
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use itc_pbft::{Anchoring, Config, Message, NoAnchoring, Outgoing, Replica};

pub const CHAIN: u32 = 9;

/// Replicas over in-memory storage, driven by hand: the test decides what
/// is delivered. `A` is the anchored side chain ([`NoAnchoring`] unless a
/// test opens the cluster with one, see [`Cluster::open`]).
pub struct Cluster<A: Anchoring = NoAnchoring> {
    pub keys: Vec<Keypair>,
    pub genesis: Genesis,
    pub client: Keypair,
    pub replicas: Vec<Replica<A>>,
    pub storages: Vec<MemoryStorage>,
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
        let keys: Vec<Keypair> = (0..weights.len() as u8).map(keypair).collect();
        let client = Keypair::from_seed([200; 32]);
        let genesis = weighted_genesis(&keys, weights, vec![(client.public(), 1_000_000)]);
        Cluster::open(keys, genesis, client, 100_000, |_| NoAnchoring)
    }
}

impl<A: Anchoring> Cluster<A> {
    /// One replica per key, each opened from fresh storage with the side
    /// chain `anchoring(i)`; the genesis writes are persisted.
    pub fn open(
        keys: Vec<Keypair>,
        genesis: Genesis,
        client: Keypair,
        retransmit_interval_ms: u64,
        anchoring: impl Fn(usize) -> A,
    ) -> Self {
        let mut cluster = Cluster {
            keys,
            genesis,
            client,
            replicas: Vec::new(),
            storages: Vec::new(),
            retransmit_interval_ms,
        };
        for i in 0..cluster.keys.len() {
            let storage = MemoryStorage::new();
            let replica =
                Replica::open_with_anchoring(cluster.config(i), &storage, anchoring(i)).unwrap();
            cluster.replicas.push(replica);
            cluster.storages.push(storage);
        }
        for i in 0..cluster.keys.len() {
            let _ = cluster.persist(i);
        }
        cluster
    }

    pub fn config(&self, i: usize) -> Config {
        let mut config = Config::new(self.keys[i].clone(), self.genesis.clone());
        config.view_change_timeout_ms = 1_000;
        config.retransmit_interval_ms = self.retransmit_interval_ms;
        config
    }

    /// Persist replica `i`'s outputs and return the messages it may send.
    pub fn persist(&mut self, i: usize) -> Vec<Outgoing> {
        let ready = self.replicas[i].ready();
        ready.persist(&mut self.storages[i]).unwrap().messages
    }

    pub fn index_of(&self, key: PublicKey) -> usize {
        self.keys.iter().position(|k| k.public() == key).unwrap()
    }

    pub fn primary_index(&self) -> usize {
        self.index_of(self.replicas[0].primary())
    }

    pub fn tx(&self, nonce: u64) -> Transaction {
        transfer(&self.client, nonce, 10)
    }

    /// Deliver every message until quiet (no loss), starting from `pending`.
    pub fn flood(&mut self, now: u64, pending: Vec<(usize, Outgoing)>) {
        self.flood_filtered(now, pending, &|_, _, _| true);
    }

    /// Like [`Cluster::flood`], delivering only what `deliver(from, to, message)` allows.
    pub fn flood_filtered(
        &mut self,
        now: u64,
        pending: Vec<(usize, Outgoing)>,
        deliver: &dyn Fn(usize, usize, &Message) -> bool,
    ) {
        let mut pending: std::collections::VecDeque<_> = pending.into();
        let mut rounds = 0;
        while let Some((from, outgoing)) = pending.pop_front() {
            rounds += 1;
            assert!(rounds < 100_000, "flood does not terminate");
            let from_key = self.keys[from].public();
            let targets: Vec<usize> = match outgoing.to {
                itc_pbft::Recipient::AllValidators => {
                    (0..self.replicas.len()).filter(|j| *j != from).collect()
                }
                itc_pbft::Recipient::One(key) => vec![self.index_of(key)],
            };
            let bytes = outgoing.to_bytes();
            for to in targets {
                if !deliver(from, to, &outgoing.message) {
                    continue;
                }
                let _ = self.replicas[to].handle_message(now, from_key, &bytes);
                for m in self.persist(to) {
                    pending.push_back((to, m));
                }
            }
        }
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
pub fn tick_all<A: Anchoring>(c: &mut Cluster<A>, now: u64) -> Vec<(usize, Outgoing)> {
    let mut out = Vec::new();
    for i in 0..c.replicas.len() {
        c.replicas[i].tick(now);
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
