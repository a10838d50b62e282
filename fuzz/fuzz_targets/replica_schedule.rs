//! Stateful: four honest PBFT replicas whose network the input schedules.
//!
//! Each input byte is an operation: deliver, duplicate or corrupt one of
//! the messages in flight (chosen by the next byte), advance a replica's
//! clock, submit a client transaction, or crash a replica (before or after
//! persisting its outputs) and restart it from its storage. After every
//! operation: no replica panics, each replica's own invariants hold, no two
//! replicas commit different blocks at a height, and a restarted replica
//! has every block it reported committed.
#![no_main]

use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::Keypair;
use itc_core::storage::MemoryStorage;
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use itc_core::Hash;
use itc_pbft::{Config, Recipient, Replica};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const NODES: usize = 4;
const CHAIN: u32 = 5;
const IN_FLIGHT_MAX: usize = 256;

/// The validators' and the client's keys and the genesis, made once per
/// process (deriving a key is a scalar multiplication; every execution would
/// otherwise pay five).
fn identities() -> &'static (Vec<Keypair>, Keypair, Genesis) {
    static IDENTITIES: OnceLock<(Vec<Keypair>, Keypair, Genesis)> = OnceLock::new();
    IDENTITIES.get_or_init(|| {
        let keys: Vec<Keypair> = (0..NODES)
            .map(|i| Keypair::from_seed([i as u8 + 1; 32]))
            .collect();
        let client = Keypair::from_seed([0xC1; 32]);
        let genesis = Genesis {
            chain_id: CHAIN,
            accounts: vec![GenesisAccount {
                public_key: client.public(),
                balance: 1_000_000,
            }],
            validators: keys
                .iter()
                .map(|k| GenesisValidator {
                    public_key: k.public(),
                    weight: 1,
                })
                .collect(),
            ..Genesis::default()
        };
        (keys, client, genesis)
    })
}

struct Cluster {
    keys: Vec<Keypair>,
    genesis: Genesis,
    client: Keypair,
    nonce: u64,
    now: u64,
    replicas: Vec<Option<Replica>>,
    storages: Vec<MemoryStorage>,
    committed: Vec<Vec<Hash>>,
    in_flight: Vec<(usize, usize, Vec<u8>)>,
}

impl Cluster {
    fn new() -> Cluster {
        let (keys, client, genesis) = identities().clone();
        let mut cluster = Cluster {
            keys,
            genesis,
            client,
            nonce: 0,
            now: 0,
            replicas: (0..NODES).map(|_| None).collect(),
            storages: (0..NODES).map(|_| MemoryStorage::new()).collect(),
            committed: vec![Vec::new(); NODES],
            in_flight: Vec::new(),
        };
        for i in 0..NODES {
            cluster.open(i);
        }
        cluster
    }

    fn open(&mut self, i: usize) {
        let mut config = Config::new(self.keys[i].clone(), self.genesis.clone());
        config.view_change_timeout_ms = 200;
        config.retransmit_interval_ms = 50;
        config.block_transactions_max = 4;
        let replica = Replica::open(config, &self.storages[i]).expect("reopens from its storage");
        // Durability: every block it reported is still there.
        let reported = self.committed[i].len() as u64;
        assert!(
            replica.executed_height() >= reported,
            "replica {i} lost blocks"
        );
        if reported > 0 && replica.executed_height() == reported {
            assert_eq!(
                replica.last_block_hash(),
                self.committed[i][reported as usize - 1]
            );
        }
        self.replicas[i] = Some(replica);
        self.drain(i);
    }

    fn drain(&mut self, i: usize) {
        let Some(replica) = self.replicas[i].as_mut() else {
            return;
        };
        let persisted = replica
            .ready()
            .persist(&mut self.storages[i])
            .expect("memory storage");
        for decision in persisted.committed {
            self.committed[i].push(decision.block.header.hash());
        }
        for out in persisted.messages {
            let bytes = out.to_bytes();
            let targets: Vec<usize> = match out.to {
                Recipient::AllValidators => (0..NODES).filter(|j| *j != i).collect(),
                Recipient::One(key) => (0..NODES)
                    .filter(|j| self.keys[*j].public() == key)
                    .collect(),
            };
            for to in targets {
                if self.in_flight.len() < IN_FLIGHT_MAX {
                    self.in_flight.push((i, to, bytes.clone()));
                }
            }
        }
    }

    fn deliver(&mut self, from: usize, to: usize, bytes: &[u8]) {
        let now = self.now;
        let key = self.keys[from].public();
        if let Some(replica) = self.replicas[to].as_mut() {
            let _ = replica.handle_message(now, key, bytes);
            self.drain(to);
        }
    }

    /// Check the replicas in `touched` (an operation changes no other
    /// replica's state, so the others' invariants still hold) and agreement
    /// across all of them.
    fn check(&self, touched: core::ops::Range<usize>) {
        for i in touched {
            if let Some(r) = &self.replicas[i] {
                if let Err(e) = r.check_invariants() {
                    panic!("replica {i}: {e}");
                }
                assert_eq!(r.halted(), None, "honest replica {i} halted");
                assert_eq!(r.executed_height(), self.committed[i].len() as u64);
            }
        }
        let longest = self
            .committed
            .iter()
            .max_by_key(|c| c.len())
            .expect("nodes");
        for (i, chain) in self.committed.iter().enumerate() {
            assert_eq!(
                chain[..],
                longest[..chain.len()],
                "agreement: replica {i} committed another block"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut cluster = Cluster::new();
    let mut input = data.iter().copied();
    while let Some(op) = input.next() {
        let arg = input.next().unwrap_or(0) as usize;
        // Each operation gives the replicas it may have changed.
        let touched = match op % 8 {
            // Deliver (the common case), in any order.
            0..=2 if !cluster.in_flight.is_empty() => {
                let (from, to, bytes) =
                    cluster.in_flight.swap_remove(arg % cluster.in_flight.len());
                cluster.deliver(from, to, &bytes);
                to..to + 1
            }
            // Deliver a copy and keep the message in flight.
            3 if !cluster.in_flight.is_empty() => {
                let (from, to, bytes) = cluster.in_flight[arg % cluster.in_flight.len()].clone();
                cluster.deliver(from, to, &bytes);
                to..to + 1
            }
            // Corrupt one byte of a message (an attacker on the link).
            4 if !cluster.in_flight.is_empty() => {
                let (from, to, mut bytes) =
                    cluster.in_flight.swap_remove(arg % cluster.in_flight.len());
                let at = input.next().unwrap_or(0) as usize;
                if !bytes.is_empty() {
                    let len = bytes.len();
                    bytes[(at * 7 + arg) % len] ^= 1 << (at % 8);
                }
                cluster.deliver(from, to, &bytes);
                to..to + 1
            }
            // Time passes; every live replica ticks.
            5 => {
                cluster.now += (arg as u64 + 1) * 10;
                for i in 0..NODES {
                    let now = cluster.now;
                    if let Some(r) = cluster.replicas[i].as_mut() {
                        r.tick(now);
                    }
                    cluster.drain(i);
                }
                0..NODES
            }
            // A client submits its next transaction to one replica.
            6 => {
                let i = arg % NODES;
                let tx = Transaction::new_signed(
                    &cluster.client,
                    ChainId(CHAIN),
                    cluster.nonce,
                    Amount(1),
                    Payload::Transfer {
                        to: cluster.keys[0].public(),
                        amount: Amount(1),
                    },
                );
                cluster.nonce += 1;
                let now = cluster.now;
                if let Some(r) = cluster.replicas[i].as_mut() {
                    let _ = r.submit_transaction(now, tx);
                }
                cluster.drain(i);
                i..i + 1
            }
            // Crash a replica (losing its unpersisted outputs half the
            // time) and restart it from its storage.
            7 => {
                let i = arg % NODES;
                if let Some(mut r) = cluster.replicas[i].take() {
                    if arg & 0x80 != 0 {
                        let _lost = r.ready();
                    }
                }
                cluster.open(i);
                i..i + 1
            }
            _ => 0..0,
        };
        cluster.check(touched);
    }
});
