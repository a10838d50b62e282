//! The DAG side chain: validators of type `Replica<Tangle>` anchoring the
//! tangle their devices write to.
//!
//! * **Genesis**: the DAG's consensus parameter `dag_anchor_depth_max` from
//!   the [`DagWorkload`]; each device holds main-chain tokens and funds its
//!   DAG account by a main-chain `DagDeposit`
//!   ([`SideChain::main_chain_transactions`]).
//! * **Validators' tangles**: [`DagConfig::for_chain`] (persistence on, no
//!   proof of work: this is about anchoring), with a pruning depth that
//!   differs per validator ([`DagWorkload::prune_keep_heights`]: local
//!   policy, which must not change how anyone judges an anchor); opened
//!   with [`Tangle::restore`] from the node's storage at every (re)start.
//! * **Devices** issue level-0 DAG transactions (data records and
//!   transfers) at a random live validator, which gossips them; a node
//!   that lacks a parent or an anchor's tip asks its peers, which answer
//!   with what they hold. As a wallet would, a device whose transaction
//!   stays unconfirmed promotes it (a new transaction approving it and a
//!   selected tip); one nobody confirmed after
//!   [`DagWorkload::reattach_after_promotions`] rounds has turned lazy, or
//!   was lost with a crashed node, and is reattached (same payload and
//!   sequence on fresh tips), and the check follows the reattachment.
//! * **Spam** ([`DagWorkload::spam`]): transactions with bogus parents
//!   (each costs a request slot), and valid ones from a fresh key each
//!   (key rotation against the issue rate; unfunded keys that would create
//!   DAG ledger accounts).
//! * **Liveness** ([`SideChain::done`]): every transaction the devices
//!   issued is confirmed on every live honest validator, and their DAG
//!   ledgers have one state root.
//!
//! Gossip on the simulated network is one tagged message: [`TAG_TRANSACTION`]
//! followed by an encoded [`DagTransaction`], or [`TAG_REQUEST`] followed by
//! a list of at most [`REQUEST_IDS_MAX`] transaction ids. Anything else is
//! ignored.

use itc_core::encoding::{write_vec, Decode, Encode, Reader};
use itc_core::genesis::{Genesis, GenesisAccount, DAG_ANCHOR_DEPTH_MAX_DEFAULT};
use itc_core::keys::{Keypair, PublicKey};
use itc_core::types::{Amount, ChainId, Payload, SecurityLevel, Transaction};
use itc_core::Hash;
use itc_dag::pow::PowParams;
use itc_dag::{DagConfig, DagPayload, DagTransaction, Tangle, TxStatus};

use crate::rng::Rng;
use crate::side_chain::{SideChain, SideMessage};
use crate::storage::FaultyStorage;

/// How often, in virtual ms, devices act and validators ask for what they
/// lack.
pub const DAG_STEP_INTERVAL_MS: u64 = 50;
/// Most ids in one request message.
pub const REQUEST_IDS_MAX: usize = 256;
/// Most transactions a node sends in answer to one request.
pub const ANSWER_TRANSACTIONS_MAX: usize = 64;
/// Transactions with bogus parents (8 parents each) in one spam burst.
pub const SPAM_BOGUS_PER_BURST: u32 = 24;
/// Valid transactions from fresh keys in one spam burst.
pub const SPAM_ROTATED_PER_BURST: u32 = 4;
/// Proof-of-work iterations a device may spend on one transaction.
pub const ISSUE_ITERATIONS_MAX: u64 = 1 << 20;
/// First byte of a gossiped transaction.
pub const TAG_TRANSACTION: u8 = 0;
/// First byte of a request for transactions by id.
pub const TAG_REQUEST: u8 = 1;
/// Main-chain tokens each device holds at genesis.
pub const DEVICE_GENESIS_BALANCE: u64 = 1_000_000;

/// Every issuer is a level-0 device.
fn level0(_: &PublicKey) -> Option<SecurityLevel> {
    SecurityLevel::new(0)
}

/// What the DAG's devices (and a spammer) do in one run.
#[derive(Clone, Debug)]
pub struct DagWorkload {
    /// Devices issuing DAG transactions.
    pub devices: usize,
    /// DAG tokens each device deposits from the main chain.
    pub deposit: u64,
    /// Level-0 DAG transactions the devices issue in all (promotions and
    /// reattachments come on top).
    pub transactions: usize,
    /// Chance, per [`DAG_STEP_INTERVAL_MS`], that a device issues one.
    pub issue_percent: u32,
    /// Share of issued transactions that are transfers (else data records).
    pub transfer_percent: u32,
    /// Whether a spammer attacks the DAG: a burst per step with
    /// [`DagWorkload::spam_percent`] while the devices issue, then one per
    /// promotion round.
    pub spam: bool,
    /// Chance of a spam burst per step while the devices issue.
    pub spam_percent: u32,
    /// A transaction unconfirmed somewhere this long after it was issued
    /// (and every such interval after) is promoted.
    pub promote_after_ms: u64,
    /// Promotion rounds after which a transaction no validator confirmed
    /// is reattached instead.
    pub reattach_after_promotions: u32,
    /// The genesis's `dag_anchor_depth_max` (consensus parameter).
    pub anchor_depth_max: u64,
    /// Each validator's `DagConfig::prune_keep_heights`, by node index
    /// (cycled; empty: the default).
    pub prune_keep_heights: Vec<Option<u64>>,
    /// Whether validators' tangles demand the proof of work of
    /// [`DagConfig::for_chain`] (by the issuer's security level), as a
    /// deployed validator does; else none (the scenario runs are about
    /// anchoring, and their devices are level 0).
    pub proof_of_work: bool,
}

impl Default for DagWorkload {
    /// Three devices and 40 transactions, spam on, promotion after 2 s,
    /// validators that prune at 32 and 16 heights and two that never prune
    /// (archival: a validator away longer than the others keep catches up
    /// only from an archival peer, see `itc_dag::anchoring`).
    fn default() -> Self {
        DagWorkload {
            devices: 3,
            deposit: 50,
            transactions: 40,
            issue_percent: 40,
            transfer_percent: 30,
            spam: true,
            spam_percent: 30,
            promote_after_ms: 2_000,
            reattach_after_promotions: 2,
            anchor_depth_max: DAG_ANCHOR_DEPTH_MAX_DEFAULT,
            prune_keep_heights: vec![None, Some(32), None, Some(16)],
            proof_of_work: false,
        }
    }
}

/// A device: its key and next sequence number.
#[derive(Clone, Debug)]
struct Device {
    keypair: Keypair,
    sequence: u64,
}

/// A transaction a device issued, followed until every validator has seen
/// it confirmed.
#[derive(Clone, Debug)]
struct Issued {
    tx: DagTransaction,
    /// The validators (by node index) that have seen it confirmed
    /// (pruning may later forget it entirely).
    confirmed_on: Vec<bool>,
    /// Promotion rounds since it was issued or reattached.
    attempts: u32,
    /// When it was issued or reattached.
    since_ms: u64,
}

impl Issued {
    fn new(tx: DagTransaction, now_ms: u64) -> Issued {
        Issued {
            tx,
            confirmed_on: Vec::new(),
            attempts: 0,
            since_ms: now_ms,
        }
    }

    fn confirmed_at(&self, node: usize) -> bool {
        self.confirmed_on.get(node).copied().unwrap_or(false)
    }
}

/// The DAG's devices in one run, what they issued, and the spammer.
#[derive(Clone, Debug)]
pub struct DagClients {
    workload: DagWorkload,
    chain_id: ChainId,
    devices: Vec<Device>,
    issued: Vec<Issued>,
    /// Level-0 transactions issued (not counting promotions).
    issued_count: usize,
    issue_failures: u64,
    promotions: u64,
    reattachments: u64,
    spam: u64,
    last_promotion_ms: u64,
}

fn confirmed(status: TxStatus) -> bool {
    matches!(
        status,
        TxStatus::Confirmed { .. } | TxStatus::EntryPoint { .. }
    )
}

fn random_hash(rng: &mut Rng) -> Hash {
    let mut h = [0u8; 32];
    for chunk in h.chunks_exact_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    Hash(h)
}

fn random_keypair(rng: &mut Rng) -> Keypair {
    Keypair::from_seed(random_hash(rng).0)
}

fn data(i: u64) -> DagPayload {
    DagPayload::Data {
        record: i.to_le_bytes().repeat(4),
    }
}

/// Gossip of one transaction to every other node.
fn gossip(tx: &DagTransaction) -> SideMessage {
    let mut bytes = vec![TAG_TRANSACTION];
    tx.encode_to(&mut bytes);
    SideMessage { to: None, bytes }
}

impl DagClients {
    /// Record which live nodes now see each issued transaction confirmed.
    fn note_confirmations(&mut self, nodes: &[Option<&mut Tangle>]) {
        for issued in &mut self.issued {
            issued.confirmed_on.resize(nodes.len(), false);
            for (i, node) in nodes.iter().enumerate() {
                if !issued.confirmed_on[i] {
                    if let Some(tangle) = node {
                        issued.confirmed_on[i] = confirmed(tangle.status(&issued.tx.id()));
                    }
                }
            }
        }
    }

    /// A device issues a transaction at a random live node.
    fn issue(
        &mut self,
        nodes: &mut [Option<&mut Tangle>],
        live: &[usize],
        rng: &mut Rng,
        now_ms: u64,
    ) -> Option<(usize, SideMessage)> {
        let at = live[rng.index(live.len())];
        let d = rng.index(self.devices.len());
        let sequence = self.devices[d].sequence;
        let payload = if rng.chance(self.workload.transfer_percent) {
            DagPayload::Transfer {
                to: self.devices[(d + 1) % self.devices.len()].keypair.public(),
                amount: Amount(rng.range(1, 3)),
            }
        } else {
            data(sequence)
        };
        let seed = rng.next_u64();
        let tangle = nodes[at].as_deref_mut()?;
        match tangle.issue(
            &self.devices[d].keypair,
            sequence,
            payload,
            now_ms,
            seed,
            &level0,
            ISSUE_ITERATIONS_MAX,
        ) {
            Ok(tx) => {
                self.devices[d].sequence += 1;
                self.issued_count += 1;
                let message = gossip(&tx);
                self.issued.push(Issued::new(tx, now_ms));
                Some((at, message))
            }
            Err(_) => {
                self.issue_failures += 1;
                None
            }
        }
    }

    /// A spam burst through a random live node, which gossips it.
    fn spam(
        &mut self,
        nodes: &mut [Option<&mut Tangle>],
        live: &[usize],
        rng: &mut Rng,
        now_ms: u64,
    ) -> Vec<(usize, SideMessage)> {
        let at = live[rng.index(live.len())];
        let Some(tangle) = nodes[at].as_deref_mut() else {
            return Vec::new();
        };
        let mut txs = Vec::new();
        for _ in 0..SPAM_BOGUS_PER_BURST {
            self.spam += 1;
            let mut parents: Vec<Hash> = (0..8).map(|_| random_hash(rng)).collect();
            parents.sort();
            let spammer = random_keypair(rng);
            txs.push(DagTransaction::new_signed(
                &spammer,
                self.chain_id,
                parents,
                0,
                data(self.spam),
            ));
        }
        for _ in 0..SPAM_ROTATED_PER_BURST {
            self.spam += 1;
            let spammer = random_keypair(rng);
            let parents = tangle.select_tips(now_ms, rng.next_u64());
            let payload = if rng.chance(50) {
                DagPayload::Transfer {
                    to: random_keypair(rng).public(),
                    amount: Amount(0),
                }
            } else {
                data(self.spam)
            };
            txs.push(DagTransaction::new_signed(
                &spammer,
                self.chain_id,
                parents,
                0,
                payload,
            ));
        }
        txs.into_iter()
            .map(|tx| {
                let message = gossip(&tx);
                let _ = tangle.attach(tx, now_ms, &level0);
                (at, message)
            })
            .collect()
    }

    /// Promote (or reattach) every issued transaction some live node has
    /// not seen confirmed for a while.
    fn promote(
        &mut self,
        nodes: &mut [Option<&mut Tangle>],
        live: &[usize],
        rng: &mut Rng,
        now_ms: u64,
    ) -> Vec<(usize, SideMessage)> {
        let mut out = Vec::new();
        for t in 0..self.issued.len() {
            let issued = &self.issued[t];
            if now_ms < issued.since_ms + self.workload.promote_after_ms
                || live.iter().all(|i| issued.confirmed_at(*i))
            {
                continue;
            }
            let id = issued.tx.id();
            let solid_at = live.iter().copied().find(|i| {
                nodes[*i]
                    .as_deref()
                    .is_some_and(|tangle| tangle.status(&id) == TxStatus::Solid)
            });
            let confirmed_nowhere = issued.confirmed_on.iter().all(|c| !c);
            self.issued[t].attempts += 1;
            // Only one nobody confirmed has turned lazy (or was lost); a
            // lagging validator just needs time.
            let reattach = self.issued[t].attempts > self.workload.reattach_after_promotions
                && confirmed_nowhere;
            let at = match solid_at {
                Some(at) => at,
                None if reattach => live[rng.index(live.len())],
                None => continue,
            };
            let Some(d) = self
                .devices
                .iter()
                .position(|d| d.keypair.public() == self.issued[t].tx.issuer)
            else {
                continue;
            };
            let Some(tangle) = nodes[at].as_deref_mut() else {
                continue;
            };
            let mut parents = tangle.select_tips(now_ms, rng.next_u64());
            let tx = if reattach {
                // The same payload and sequence on fresh tips; follow it.
                if parents.len() < 2 {
                    continue;
                }
                let original = &self.issued[t].tx;
                let again = DagTransaction::new_signed(
                    &self.devices[d].keypair,
                    self.chain_id,
                    parents,
                    original.sequence,
                    original.payload.clone(),
                );
                self.issued[t] = Issued::new(again.clone(), now_ms);
                self.reattachments += 1;
                again
            } else {
                parents.truncate(1);
                parents.push(id);
                parents.sort();
                if parents.len() < 2 || parents[0] == parents[1] {
                    continue;
                }
                let sequence = self.devices[d].sequence;
                self.devices[d].sequence += 1;
                self.promotions += 1;
                DagTransaction::new_signed(
                    &self.devices[d].keypair,
                    self.chain_id,
                    parents,
                    sequence,
                    data(sequence),
                )
            };
            out.push((at, gossip(&tx)));
            let _ = tangle.attach(tx, now_ms, &level0);
        }
        out
    }
}

impl SideChain for Tangle {
    type Clients = DagClients;
    type Workload = DagWorkload;

    fn setup(genesis: &mut Genesis, workload: &DagWorkload, rng: &mut Rng) -> DagClients {
        genesis.dag_anchor_depth_max = workload.anchor_depth_max;
        let devices: Vec<Device> = (0..workload.devices.max(1))
            .map(|_| Device {
                keypair: random_keypair(rng),
                sequence: 0,
            })
            .collect();
        genesis
            .accounts
            .extend(devices.iter().map(|d| GenesisAccount {
                public_key: d.keypair.public(),
                balance: DEVICE_GENESIS_BALANCE,
            }));
        DagClients {
            workload: workload.clone(),
            chain_id: ChainId(genesis.chain_id),
            devices,
            issued: Vec::new(),
            issued_count: 0,
            issue_failures: 0,
            promotions: 0,
            reattachments: 0,
            spam: 0,
            last_promotion_ms: 0,
        }
    }

    fn open(
        genesis: &Genesis,
        workload: &DagWorkload,
        node: usize,
        storage: &FaultyStorage,
        now_ms: u64,
    ) -> Result<Self, String> {
        let params = genesis.params().map_err(|e| format!("genesis: {e}"))?;
        let mut config = DagConfig::for_chain(&params);
        if !workload.proof_of_work {
            config.pow = PowParams::none();
        }
        if !workload.prune_keep_heights.is_empty() {
            config.prune_keep_heights =
                workload.prune_keep_heights[node % workload.prune_keep_heights.len()];
        }
        Tangle::restore(config, storage, now_ms).map_err(|e| format!("restore: {e}"))
    }

    fn main_chain_transactions(clients: &mut DagClients, genesis: &Genesis) -> Vec<Transaction> {
        clients
            .devices
            .iter()
            .map(|device| {
                Transaction::new_signed(
                    &device.keypair,
                    ChainId(genesis.chain_id),
                    0,
                    Amount(genesis.min_fee.max(1)),
                    Payload::DagDeposit {
                        amount: Amount(clients.workload.deposit),
                    },
                )
            })
            .collect()
    }

    fn step_interval_ms() -> Option<u64> {
        Some(DAG_STEP_INTERVAL_MS)
    }

    fn client_step(
        clients: &mut DagClients,
        nodes: &mut [Option<&mut Tangle>],
        rng: &mut Rng,
        now_ms: u64,
    ) -> Vec<(usize, SideMessage)> {
        clients.note_confirmations(nodes);
        let live: Vec<usize> = (0..nodes.len()).filter(|i| nodes[*i].is_some()).collect();
        if live.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let issuing = clients.issued_count < clients.workload.transactions;
        if issuing && rng.chance(clients.workload.issue_percent) {
            out.extend(clients.issue(nodes, &live, rng, now_ms));
        }
        if issuing && clients.workload.spam && rng.chance(clients.workload.spam_percent) {
            out.extend(clients.spam(nodes, &live, rng, now_ms));
        }
        if now_ms >= clients.last_promotion_ms + clients.workload.promote_after_ms {
            clients.last_promotion_ms = now_ms;
            out.extend(clients.promote(nodes, &live, rng, now_ms));
            // Bogus-parent spam goes on: anchors must still get what they
            // need.
            if !issuing && clients.workload.spam {
                out.extend(clients.spam(nodes, &live, rng, now_ms));
            }
        }
        out
    }

    fn receive(&mut self, now_ms: u64, from: usize, bytes: &[u8]) -> Vec<SideMessage> {
        let Some((&tag, body)) = bytes.split_first() else {
            return Vec::new();
        };
        match tag {
            TAG_TRANSACTION => {
                if let Ok(tx) = DagTransaction::decode(body) {
                    let _ = self.attach(tx, now_ms, &level0);
                }
                Vec::new()
            }
            TAG_REQUEST => {
                let mut reader = Reader::new(body);
                let Ok(ids) = reader.read_vec::<Hash>("requested ids", REQUEST_IDS_MAX) else {
                    return Vec::new();
                };
                if reader.finish().is_err() {
                    return Vec::new();
                }
                ids.iter()
                    .filter_map(|id| self.get(id))
                    .take(ANSWER_TRANSACTIONS_MAX)
                    .map(|tx| SideMessage {
                        to: Some(from),
                        ..gossip(&tx)
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    fn poll(&mut self, now_ms: u64) -> Vec<SideMessage> {
        // New requests first (what an anchor needs leads), then a window of
        // everything still wanted that moves on with every poll: the
        // simulated network loses requests and answers alike, and spam's
        // bogus parents must not crowd out an anchor's cone.
        let mut ids: Vec<Hash> = core::iter::from_fn(|| self.poll_request())
            .take(REQUEST_IDS_MAX)
            .collect();
        let wanted = self.wanted();
        if !wanted.is_empty() {
            let windows = wanted.len().div_ceil(REQUEST_IDS_MAX);
            let window = (now_ms / DAG_STEP_INTERVAL_MS) as usize % windows;
            ids.extend(
                wanted
                    .iter()
                    .skip(window * REQUEST_IDS_MAX)
                    .take(REQUEST_IDS_MAX),
            );
        }
        ids.sort_unstable();
        ids.dedup();
        ids.chunks(REQUEST_IDS_MAX)
            .map(|chunk| {
                let mut bytes = vec![TAG_REQUEST];
                write_vec(&mut bytes, chunk);
                SideMessage { to: None, bytes }
            })
            .collect()
    }

    fn commitment(&self, height: u64) -> Option<Hash> {
        Tangle::commitment(self, height).map(|c| c.hash())
    }

    fn check_invariants(&self) -> Result<(), String> {
        Tangle::check_invariants(self).map_err(|violation| violation.to_string())
    }

    fn done(clients: &DagClients, nodes: &[Option<&Tangle>]) -> bool {
        if clients.issued_count < clients.workload.transactions {
            return false;
        }
        let everywhere = clients.issued.iter().all(|issued| {
            nodes.iter().enumerate().all(|(i, node)| {
                node.is_none_or(|tangle| {
                    issued.confirmed_at(i) || confirmed(tangle.status(&issued.tx.id()))
                })
            })
        });
        if !everywhere {
            return false;
        }
        let mut roots = nodes
            .iter()
            .flatten()
            .map(|tangle| tangle.ledger().clone().state_root());
        let first = roots.next();
        roots.all(|root| Some(root) == first)
    }

    fn counters(clients: &DagClients) -> Vec<(&'static str, u64)> {
        vec![
            ("issued", clients.issued_count as u64),
            ("issue_failures", clients.issue_failures),
            ("promotions", clients.promotions),
            ("reattachments", clients.reattachments),
            ("spam", clients.spam),
        ]
    }

    fn summary(clients: &DagClients) -> String {
        let confirmed_nowhere = clients
            .issued
            .iter()
            .filter(|i| i.confirmed_on.iter().all(|c| !c))
            .count();
        let confirmed_on: Vec<usize> = (0..clients
            .issued
            .iter()
            .map(|i| i.confirmed_on.len())
            .max()
            .unwrap_or(0))
            .map(|node| {
                clients
                    .issued
                    .iter()
                    .filter(|i| i.confirmed_at(node))
                    .count()
            })
            .collect();
        format!(
            "{} DAG transactions issued of {} ({} confirmed nowhere; confirmed by node {:?}), {} promoted, {} reattached, {} spam, {} failed issues",
            clients.issued_count,
            clients.workload.transactions,
            confirmed_nowhere,
            confirmed_on,
            clients.promotions,
            clients.reattachments,
            clients.spam,
            clients.issue_failures
        )
    }
}
