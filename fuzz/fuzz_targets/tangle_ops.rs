//! Stateful: one DAG node driven by an arbitrary sequence of operations.
//!
//! Each input byte is an operation: a device issues a transaction on
//! parents the input picks (delivered now, or withheld to arrive later out
//! of order), a withheld transaction arrives, arbitrary bytes arrive as a
//! transaction, the node answers its own request for a missing
//! transaction, an anchor confirms a cone at the next (or a stale) height,
//! the node prunes, credits a deposit, restarts from its storage, or time
//! passes. After every operation the tangle's invariants hold, a restart
//! keeps the latest anchored height and every confirmation, and nothing
//! panics.
#![no_main]

use itc_core::encoding::Decode;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::storage::{MemoryStorage, Storage};
use itc_core::types::{Amount, ChainId, DagAnchor, SecurityLevel};
use itc_core::Hash;
use itc_dag::pow::PowParams;
use itc_dag::{DagConfig, DagPayload, DagTransaction, Tangle, TxStatus};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const CHAIN: ChainId = ChainId(7);
const DEVICES: usize = 4;

fn level0(_: &PublicKey) -> Option<SecurityLevel> {
    SecurityLevel::new(0)
}

fn devices() -> &'static [Keypair] {
    static KEYS: OnceLock<Vec<Keypair>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..DEVICES)
            .map(|i| Keypair::from_seed([0xD0 + i as u8; 32]))
            .collect()
    })
}

fn config() -> DagConfig {
    let mut config = DagConfig::new(CHAIN);
    config.pow = PowParams::none();
    config.persist = true;
    // Small, so that the store fills and pruning matters.
    config.transactions_max = 48;
    config.prune_keep_heights = Some(2);
    config
}

struct Node {
    tangle: Tangle,
    storage: MemoryStorage,
    now: u64,
    height: u64,
    /// Every transaction made (delivered or not), by index.
    made: Vec<DagTransaction>,
    /// Indices in `made` not delivered yet.
    withheld: Vec<usize>,
    sequences: [u64; DEVICES],
    /// Transactions seen confirmed, with the height that confirmed them.
    confirmed: Vec<(Hash, u64)>,
}

impl Node {
    fn persist(&mut self) {
        let writes = self.tangle.take_writes();
        if !writes.is_empty() {
            self.storage.write(writes).expect("memory storage");
        }
    }

    fn known_id(&self, pick: u8) -> Hash {
        if self.made.is_empty() || pick == 0 {
            // The genesis entry point, or an id nobody has.
            return if pick == 0 {
                Hash::ZERO
            } else {
                Hash([pick; 32])
            };
        }
        self.made[pick as usize % self.made.len()].id()
    }

    fn deliver(&mut self, tx: DagTransaction) {
        let _ = self.tangle.attach(tx, self.now, &level0);
    }

    fn note_confirmed(&mut self) {
        for tx in &self.made {
            let id = tx.id();
            if let TxStatus::Confirmed { height, .. } = self.tangle.status(&id) {
                if !self.confirmed.iter().any(|(c, _)| *c == id) {
                    self.confirmed.push((id, height));
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut node = Node {
        tangle: Tangle::new(config()),
        storage: MemoryStorage::new(),
        now: 1_000,
        height: 0,
        made: Vec::new(),
        withheld: Vec::new(),
        sequences: [0; DEVICES],
        confirmed: Vec::new(),
    };
    let mut input = data.iter().copied();
    while let Some(op) = input.next() {
        let arg = input.next().unwrap_or(0);
        match op % 10 {
            // A device issues on parents the input picks (one to three).
            0..=2 => {
                let device = arg as usize % DEVICES;
                let count = 1 + (arg as usize / DEVICES) % 3;
                let parents: Vec<Hash> = (0..count)
                    .map(|_| node.known_id(input.next().unwrap_or(0)))
                    .collect();
                let payload = if arg & 0x80 == 0 {
                    DagPayload::Data {
                        record: vec![arg; 8],
                    }
                } else {
                    DagPayload::Transfer {
                        to: devices()[(device + 1) % DEVICES].public(),
                        amount: Amount(u64::from(arg & 0x0F)),
                    }
                };
                let sequence = node.sequences[device];
                node.sequences[device] += 1;
                let tx = DagTransaction::new_signed(
                    &devices()[device],
                    CHAIN,
                    parents,
                    sequence,
                    payload,
                );
                node.made.push(tx.clone());
                if op % 10 == 2 {
                    node.withheld.push(node.made.len() - 1);
                } else {
                    node.deliver(tx);
                }
            }
            // A withheld transaction arrives (out of order).
            3 if !node.withheld.is_empty() => {
                let at = arg as usize % node.withheld.len();
                let index = node.withheld.swap_remove(at);
                let tx = node.made[index].clone();
                node.deliver(tx);
            }
            // The node asks for a missing transaction; a peer answers if
            // it exists.
            4 => {
                if let Some(id) = node.tangle.poll_request() {
                    if let Some(at) = node.withheld.iter().position(|i| node.made[*i].id() == id) {
                        let index = node.withheld.swap_remove(at);
                        let tx = node.made[index].clone();
                        node.deliver(tx);
                    }
                }
            }
            // Arbitrary bytes arrive as a transaction.
            5 => {
                let len = arg as usize % 200;
                let bytes: Vec<u8> = input.by_ref().take(len).collect();
                if let Ok(tx) = DagTransaction::decode(&bytes) {
                    node.deliver(tx);
                }
            }
            // An anchor: the node's own proposal, or tips the input picks,
            // at the next height (or, rarely, a stale one).
            6 => {
                let anchor = if arg & 1 == 0 {
                    node.tangle.propose_anchor(node.now)
                } else {
                    let mut tips: Vec<Hash> = (0..1 + arg as usize % 3)
                        .map(|_| node.known_id(input.next().unwrap_or(0)))
                        .collect();
                    tips.sort_unstable();
                    tips.dedup();
                    DagAnchor { tips }
                };
                let height = if arg & 0x40 != 0 {
                    node.height
                } else {
                    node.height + 1
                };
                if node.tangle.confirm(&anchor, height).is_ok() {
                    assert!(height > node.height, "confirmed at a stale height");
                    node.height = height;
                    node.note_confirmed();
                }
            }
            // Prune behind the latest anchor.
            7 => {
                let _ = node
                    .tangle
                    .prune(node.height.saturating_sub(u64::from(arg % 4)));
            }
            // A main-chain deposit credits a device.
            8 => {
                let device = arg as usize % DEVICES;
                let _ = node
                    .tangle
                    .credit(devices()[device].public(), Amount(u64::from(arg)));
            }
            // Crash and restart from storage, or time passes.
            _ => {
                if arg & 1 == 0 {
                    node.persist();
                    let latest = node.tangle.latest_height();
                    node.tangle = Tangle::restore(config(), &node.storage, node.now)
                        .expect("a node restores what it stored");
                    assert_eq!(node.tangle.latest_height(), latest, "anchored height lost");
                    for (id, height) in &node.confirmed {
                        match node.tangle.status(id) {
                            TxStatus::Confirmed { height: h, .. } => {
                                assert_eq!(h, *height, "confirmation moved")
                            }
                            // Pruned to an entry point, or away entirely.
                            TxStatus::EntryPoint { height: h } => {
                                assert_eq!(h, *height, "confirmation moved")
                            }
                            TxStatus::Unknown => {}
                            other => panic!("confirmed transaction now {other:?}"),
                        }
                    }
                } else {
                    node.now += u64::from(arg) * 50;
                }
            }
        }
        node.persist();
        if let Err(violation) = node.tangle.check_invariants() {
            panic!("{violation}");
        }
    }
});
