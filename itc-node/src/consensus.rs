//! The replica thread: one OS thread owns the PBFT replica (with its DAG
//! side chain) and its redb storage, and is the only code that touches
//! them.
//!
//! It takes inputs from two bounded channels, peer messages (already
//! gated and queued fairly per peer by [`crate::net`]) and control
//! requests from the API, handles up to
//! [`crate::config::ConsensusSection::batch_inputs_max`] of them, then
//! persists the replica's outputs in **one** durable redb transaction
//! (group commit) before it hands the messages that batch released to the
//! network. A node killed at any moment therefore restarts with every vote
//! it ever sent, and never signs a conflicting one.
//!
//! Queries from the API run as closures on this thread ([`Control::Query`]),
//! so they see one consistent state: the ledger after the last committed
//! block and that block's header.

use crate::metrics::Metrics;
use itc_core::hash::Hash;
use itc_core::keys::PublicKey;
use itc_core::storage::{RedbStorage, Storage, StorageError, WriteBatch};
use itc_core::types::Transaction;
use itc_dag::{DagConfig, DagTransaction, Tangle};
use itc_pbft::{Decision, Recipient, Replica};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// What the replica thread owns; queries borrow it.
pub struct Core {
    /// The replica, with its DAG side chain.
    pub replica: Replica<Tangle>,
    /// Its storage (blocks, votes, DAG, the node's transaction index).
    pub storage: RedbStorage,
}

/// A closure run on the replica thread.
pub type Query = Box<dyn FnOnce(&mut Core) + Send>;

/// Why a submitted transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// The replica refused it (invalid, duplicate, nonce, pool full).
    #[error("{0}")]
    Rejected(String),
    /// The node is shutting down or its replica stopped.
    #[error("node stopping")]
    Stopping,
    /// Too many submissions are waiting for the replica.
    #[error("busy: too many submissions waiting")]
    Busy,
}

/// Inputs from the API to the replica thread.
pub enum Control {
    /// Admit a client transaction into the pool; `gossip` re-publishes it
    /// to peers once admitted.
    Submit {
        /// The transaction.
        tx: Box<Transaction>,
        /// Where to answer (the transaction's hash), if anyone waits.
        reply: Option<oneshot::Sender<Result<Hash, Refused>>>,
        /// Publish it on the gossip topic once admitted.
        gossip: bool,
    },
    /// Attach a DAG transaction to the tangle.
    Dag {
        /// The transaction.
        tx: Box<DagTransaction>,
        /// Where to answer (its id).
        reply: Option<oneshot::Sender<Result<Hash, Refused>>>,
        /// Publish it on the gossip topic once attached.
        gossip: bool,
    },
    /// Run a closure on the replica thread.
    Query(Query),
    /// Stop after persisting.
    Stop,
}

/// What the replica thread asks the network task to do.
#[derive(Debug)]
pub enum Outbound {
    /// Send a consensus message.
    Consensus {
        /// To whom.
        to: Recipient,
        /// Encoded message.
        bytes: Vec<u8>,
    },
    /// Publish a client transaction.
    GossipTransaction(Vec<u8>),
    /// Publish a DAG transaction.
    GossipDag(Vec<u8>),
}

/// A summary the API reads without waiting for the replica thread.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StatusSnapshot {
    /// Height of the last committed block.
    pub height: u64,
    /// Hash of that block (hex).
    pub last_block_hash: String,
    /// Current view.
    pub view: u64,
    /// Key of the current primary (hex).
    pub primary: String,
    /// Whether the replica is in a view change.
    pub view_change: bool,
    /// Transactions in the pool.
    pub pool: usize,
    /// DAG transactions in the tangle.
    pub dag_transactions: usize,
    /// Why the replica halted, if it did.
    pub halted: Option<String>,
}

/// State shared between the replica thread, the network task and the API.
pub struct Shared {
    /// This node's key.
    pub me: PublicKey,
    /// The chain id.
    pub chain_id: u32,
    /// Keys of the current validator set (peers whose consensus messages
    /// are accepted).
    pub validators: RwLock<BTreeSet<PublicKey>>,
    /// Metrics.
    pub metrics: Metrics,
    /// The last status.
    pub status: RwLock<StatusSnapshot>,
}

/// Transactions whose admission time is kept for the latency histogram.
pub const LATENCY_TRACKED_MAX: usize = 100_000;

/// How long after forwarding a pooled transaction to the primary the
/// node forwards it again (the replica asks after every retransmission
/// interval without a commit).
pub const FORWARD_REPEAT: Duration = Duration::from_millis(1_000);

/// Most forwarded transactions remembered (one pool's worth).
pub const FORWARDED_TRACKED_MAX: usize = itc_pbft::config::POOL_TRANSACTIONS_MAX;

/// Key prefix of the node's transaction index (hash → height) in storage.
pub const TX_INDEX_PREFIX: &[u8] = b"node/tx/";

/// The storage key under which a committed transaction's height is kept.
pub fn tx_index_key(hash: &Hash) -> Vec<u8> {
    let mut key = TX_INDEX_PREFIX.to_vec();
    key.extend_from_slice(&hash.0);
    key
}

const TX_INDEX_HEIGHT_KEY: &[u8] = b"node/txidx-height";

/// Key prefix of the transactions this node acknowledged (202) and has not
/// yet seen committed: written in the same atomic batch as the replica's
/// state before the acknowledgement leaves, so a node killed at any moment
/// resubmits them on restart.
pub const POOL_PREFIX: &[u8] = b"node/pool/";

/// Most acknowledged transactions read back after a restart.
pub const ACKNOWLEDGED_RESUBMIT_MAX: usize = itc_pbft::config::POOL_TRANSACTIONS_MAX;

fn pool_key(hash: &Hash) -> Vec<u8> {
    let mut key = POOL_PREFIX.to_vec();
    key.extend_from_slice(&hash.0);
    key
}

type Reply = oneshot::Sender<Result<Hash, Refused>>;

/// Every this many committed heights, the records of acknowledged
/// transactions that can no longer commit (their nonce is below the
/// sender's) are forgotten: the pool drops such transactions without a
/// commit, and their records would otherwise stay until a restart.
pub const ACKNOWLEDGED_PRUNE_INTERVAL: u64 = 64;

fn prune_acknowledged(core: &mut Core) -> Result<(), StorageError> {
    const PAGE: usize = 4_096;
    let mut after: Option<Vec<u8>> = None;
    let mut forget = WriteBatch::new();
    let mut scanned = 0usize;
    loop {
        let page = core
            .storage
            .scan_prefix(POOL_PREFIX, after.as_deref(), PAGE)?;
        let full = page.len() == PAGE;
        for (key, value) in page {
            scanned += 1;
            let stale = match <Transaction as itc_core::encoding::Decode>::decode(&value) {
                Ok(tx) => tx.nonce < core.replica.ledger().account(&tx.sender).nonce,
                Err(_) => true,
            };
            if stale {
                forget.delete(key.clone());
            }
            after = Some(key);
        }
        if !full || scanned > ACKNOWLEDGED_RESUBMIT_MAX {
            break;
        }
    }
    if !forget.is_empty() {
        core.storage.write(forget)?;
    }
    Ok(())
}

/// The height at which a committed transaction is, from the index.
///
/// # Errors
/// [`StorageError`] if storage cannot be read or the entry is corrupt.
pub fn committed_height(storage: &impl Storage, hash: &Hash) -> Result<Option<u64>, StorageError> {
    storage
        .get(&tx_index_key(hash))?
        .map(|b| {
            <[u8; 8]>::try_from(b.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| StorageError::Corrupted("tx index"))
        })
        .transpose()
}

/// Milliseconds since the Unix epoch (the node's clock; the replica only
/// sees it as an input).
pub fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The running replica thread's inputs.
pub struct ReplicaThread {
    /// Control requests (bounded).
    pub control: mpsc::Receiver<Control>,
    /// Peer messages, already gated (bounded).
    pub peers: mpsc::Receiver<(PublicKey, Vec<u8>)>,
    /// Where outbound traffic goes (bounded; full = dropped).
    pub outbound: mpsc::Sender<Outbound>,
    /// Heights committed, for waiters.
    pub height: watch::Sender<u64>,
    /// Shared state.
    pub shared: Arc<Shared>,
    /// Inputs per persisted batch.
    pub batch_inputs_max: usize,
}

/// Open the replica from `storage` (a fresh chain from the genesis in
/// `config`, or whatever the storage holds).
///
/// # Errors
/// A readable message if the DAG or the replica cannot be reopened.
pub fn open_core(
    config: itc_pbft::Config,
    storage: RedbStorage,
    now_ms: u64,
) -> Result<Core, String> {
    let params = config
        .genesis
        .params()
        .map_err(|e| format!("genesis: {e}"))?;
    let mut dag = DagConfig::for_chain(&params);
    dag.persist = true;
    let tangle =
        Tangle::restore(dag, &storage, now_ms).map_err(|e| format!("restoring the DAG: {e}"))?;
    let replica = Replica::open_with_anchoring(config, &storage, tangle)
        .map_err(|e| format!("opening the replica: {e}"))?;
    Ok(Core { replica, storage })
}

impl ReplicaThread {
    /// Run until [`Control::Stop`] or until every control sender is gone.
    /// Returns the core (for tests) or the storage error that stopped it.
    ///
    /// # Errors
    /// [`StorageError`] if a batch could not be persisted: nothing it
    /// released was sent, and the node must restart from disk.
    pub fn run(mut self, mut core: Core) -> Result<Core, StorageError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| StorageError::Backend(format!("runtime: {e}")))?;
        let mut admitted: HashMap<Hash, Instant> = HashMap::new();
        let mut admitted_order: VecDeque<Hash> = VecDeque::new();
        self.catch_up_index(&mut core)?;
        self.resubmit_acknowledged(&mut core)?;
        self.after_batch(&mut core, Vec::new(), &mut admitted, &mut admitted_order)?;
        let mut last_commit = Instant::now();
        let mut forwarded: HashMap<Hash, Instant> = HashMap::new();
        let mut view_change_since: Option<Instant> = None;
        loop {
            let now = wall_clock_ms();
            let wait = core
                .replica
                .next_deadline()
                .map(|d| d.saturating_sub(now))
                .unwrap_or(1_000)
                .min(1_000);
            let mut gossip = Vec::new();
            let mut replies: Vec<(Reply, Result<Hash, Refused>)> = Vec::new();
            let mut acknowledged = WriteBatch::new();
            let peers_open = !self.peers.is_closed() || !self.peers.is_empty();
            let first = runtime.block_on(async {
                tokio::select! {
                    c = self.control.recv() => Some(c.map(Input::Control).unwrap_or(Input::Closed)),
                    Some(m) = self.peers.recv(), if peers_open => Some(Input::Peer(m)),
                    _ = tokio::time::sleep(Duration::from_millis(wait)) => None,
                }
            });
            let mut stop = false;
            let mut inputs = first.into_iter().collect::<Vec<_>>();
            // Drain more inputs without waiting: one persist per batch.
            while inputs.len() < self.batch_inputs_max {
                let next = match self.peers.try_recv() {
                    Ok(m) => Input::Peer(m),
                    Err(_) => match self.control.try_recv() {
                        Ok(c) => Input::Control(c),
                        Err(_) => break,
                    },
                };
                inputs.push(next);
            }
            let now = wall_clock_ms();
            tracing::trace!(inputs = inputs.len(), "replica batch");
            for input in inputs {
                match input {
                    Input::Peer((from, bytes)) => {
                        tracing::trace!(
                            tag = bytes.first().copied(),
                            len = bytes.len(),
                            "replica handles"
                        );
                        let _ = core.replica.handle_message(now, from, &bytes);
                    }
                    Input::Control(Control::Submit {
                        tx,
                        reply: None,
                        gossip: false,
                    }) => {
                        // Gossiped by a peer: its origin already sent it to
                        // every validator, so admit it without the
                        // broadcast `submit_transaction` makes (which
                        // multiplied every transaction's messages by the
                        // number of validators that heard the gossip
                        // first).
                        let me = self.shared.me;
                        let _ = core
                            .replica
                            .handle(now, me, itc_pbft::Message::Request(*tx));
                    }
                    Input::Control(Control::Submit {
                        tx,
                        reply,
                        gossip: g,
                    }) => {
                        let hash = tx.hash();
                        let record = reply
                            .is_some()
                            .then(|| itc_core::encoding::Encode::encode(&*tx));
                        let bytes = g.then(|| itc_core::encoding::Encode::encode(&*tx));
                        let result = core
                            .replica
                            .submit_transaction(now, *tx)
                            .map(|()| hash)
                            .map_err(|e| Refused::Rejected(e.to_string()));
                        if result.is_ok() {
                            if let Some(bytes) = bytes {
                                gossip.push(Outbound::GossipTransaction(bytes));
                            }
                            if let Some(record) = record {
                                // Acknowledged only once durable: the
                                // record is written with this batch and
                                // resubmitted after a restart.
                                acknowledged.put(pool_key(&hash), record);
                            }
                            if reply.is_some() && admitted.len() < LATENCY_TRACKED_MAX {
                                admitted.insert(hash, Instant::now());
                                admitted_order.push_back(hash);
                            }
                        }
                        if let Some(reply) = reply {
                            replies.push((reply, result));
                        }
                    }
                    Input::Control(Control::Dag {
                        tx,
                        reply,
                        gossip: g,
                    }) => {
                        let id = tx.id();
                        let bytes = g.then(|| itc_core::encoding::Encode::encode(&*tx));
                        let (tangle, ledger) = core.replica.anchoring_with_ledger();
                        let result = tangle
                            .attach(*tx, now, ledger)
                            .map(|_| id)
                            .map_err(|e| Refused::Rejected(e.to_string()));
                        core.replica.tick(now);
                        if result.is_ok() {
                            if let Some(bytes) = bytes {
                                gossip.push(Outbound::GossipDag(bytes));
                            }
                        }
                        if let Some(reply) = reply {
                            replies.push((reply, result));
                        }
                    }
                    Input::Control(Control::Query(query)) => query(&mut core),
                    Input::Control(Control::Stop) | Input::Closed => stop = true,
                }
            }
            let normal_before_tick = matches!(core.replica.status(), itc_pbft::Status::Normal);
            if core.replica.next_deadline().is_some_and(|d| d <= now) {
                core.replica.tick(now);
            }
            if view_change_since.is_none()
                && !matches!(core.replica.status(), itc_pbft::Status::Normal)
            {
                view_change_since = Some(Instant::now());
                // Why: this replica's own request timer fired (no commit
                // for a whole timeout while it held executable work), or
                // it joined view changes that peers sent.
                tracing::info!(
                    view = core.replica.view(),
                    height = core.replica.executed_height(),
                    pool = core.replica.pool_len(),
                    since_commit_ms = last_commit.elapsed().as_millis() as u64,
                    cause = if normal_before_tick {
                        "own timer"
                    } else {
                        "peers"
                    },
                    "view change started"
                );
            }
            let committed =
                self.persist_and_send(&mut core, gossip, acknowledged, &mut forwarded)?;
            if !committed.is_empty() {
                last_commit = Instant::now();
            }
            if view_change_since.is_some()
                && matches!(core.replica.status(), itc_pbft::Status::Normal)
            {
                if let Some(since) = view_change_since.take() {
                    tracing::info!(
                        view = core.replica.view(),
                        took_ms = since.elapsed().as_millis() as u64,
                        "view change done"
                    );
                }
            }
            for (reply, result) in replies {
                let _ = reply.send(result);
            }
            self.after_batch(&mut core, committed, &mut admitted, &mut admitted_order)?;
            if stop {
                return Ok(core);
            }
        }
    }

    fn persist_and_send(
        &mut self,
        core: &mut Core,
        gossip: Vec<Outbound>,
        acknowledged: WriteBatch,
        forwarded: &mut HashMap<Hash, Instant>,
    ) -> Result<Vec<Decision>, StorageError> {
        let mut ready = core.replica.ready();
        ready.add_writes(acknowledged);
        let persisted = ready.persist(&mut core.storage)?;
        tracing::trace!(
            messages = persisted.messages.len(),
            committed = persisted.committed.len(),
            "replica persisted"
        );
        let now = Instant::now();
        let mut pruned = false;
        for outgoing in persisted.messages {
            // A backup re-forwards up to FORWARD_TRANSACTIONS_MAX pooled
            // transactions to the primary after every retransmission
            // interval without a commit: at saturation (blocks slower
            // than the interval) that was hundreds of requests every
            // interval from every backup, queued at the primary ahead of
            // the votes that would have ended the block. Forward each
            // transaction at most once per FORWARD_REPEAT.
            if let (Recipient::One(_), itc_pbft::Message::Request(tx)) =
                (&outgoing.to, &outgoing.message)
            {
                if !pruned {
                    forwarded.retain(|_, at| now.duration_since(*at) < FORWARD_REPEAT);
                    pruned = true;
                }
                let hash = tx.hash();
                if forwarded.contains_key(&hash) || forwarded.len() >= FORWARDED_TRACKED_MAX {
                    self.shared.metrics.forwards_skipped.inc();
                    continue;
                }
                forwarded.insert(hash, now);
            }
            tracing::trace!(kind = outgoing.message.kind(), "replica sends");
            let bytes = outgoing.to_bytes();
            self.send(Outbound::Consensus {
                to: outgoing.to,
                bytes,
            });
        }
        for message in gossip {
            self.send(message);
        }
        Ok(persisted.committed)
    }

    fn send(&self, message: Outbound) {
        if self.outbound.try_send(message).is_err() {
            // A full queue drops the message like a congested link; the
            // protocol retransmits.
            self.shared.metrics.dropped_queue_full.inc();
            self.shared.metrics.dropped_outbound_channel.inc();
        }
    }

    /// Index committed transactions, update metrics, the status and the
    /// validator set the network gates on.
    fn after_batch(
        &mut self,
        core: &mut Core,
        committed: Vec<Decision>,
        admitted: &mut HashMap<Hash, Instant>,
        admitted_order: &mut VecDeque<Hash>,
    ) -> Result<(), StorageError> {
        if !committed.is_empty() {
            let mut batch = WriteBatch::new();
            let mut last = 0;
            for decision in &committed {
                let height = decision.block.header.height;
                last = height;
                for tx in &decision.block.transactions {
                    let hash = tx.hash();
                    batch.put(tx_index_key(&hash), height.to_be_bytes().to_vec());
                    batch.delete(pool_key(&hash));
                    self.shared.metrics.committed_transactions.inc();
                    if let Some(t) = admitted.remove(&hash) {
                        self.shared
                            .metrics
                            .commit_latency_us
                            .observe(t.elapsed().as_micros() as f64);
                    }
                }
            }
            batch.put(TX_INDEX_HEIGHT_KEY.to_vec(), last.to_be_bytes().to_vec());
            core.storage.write(batch)?;
            let first = committed[0].block.header.height;
            if first / ACKNOWLEDGED_PRUNE_INTERVAL != last / ACKNOWLEDGED_PRUNE_INTERVAL
                || first.is_multiple_of(ACKNOWLEDGED_PRUNE_INTERVAL)
            {
                prune_acknowledged(core)?;
            }
            // Forget admissions that never committed here (bounded map).
            while admitted_order.len() > admitted.len().saturating_mul(2).max(1024) {
                if let Some(h) = admitted_order.pop_front() {
                    admitted.remove(&h);
                }
            }
        }
        let replica = &core.replica;
        let height = replica.executed_height();
        let metrics = &self.shared.metrics;
        metrics.height.set(height as i64);
        metrics.view.set(replica.view() as i64);
        metrics.pool.set(replica.pool_len() as i64);
        metrics
            .dag_transactions
            .set(replica.anchoring().len() as i64);
        let snapshot = StatusSnapshot {
            height,
            last_block_hash: itc_core::hex::encode(&replica.last_block_hash().0),
            view: replica.view(),
            primary: itc_core::hex::encode(&replica.primary().0),
            view_change: !matches!(replica.status(), itc_pbft::Status::Normal),
            pool: replica.pool_len(),
            dag_transactions: replica.anchoring().len(),
            halted: replica.halted().map(|r| r.to_string()),
        };
        if let Ok(mut status) = self.shared.status.write() {
            *status = snapshot;
        }
        let keys: BTreeSet<PublicKey> = replica
            .validators()
            .validators()
            .iter()
            .map(|v| v.key)
            .collect();
        if let Ok(mut validators) = self.shared.validators.write() {
            if *validators != keys {
                *validators = keys;
            }
        }
        self.height.send_if_modified(|h| {
            let changed = *h != height;
            *h = height;
            changed
        });
        Ok(())
    }

    /// Put the transactions this node acknowledged but did not see
    /// committed before it stopped back into the pool (in sender and nonce
    /// order); forget those the ledger no longer takes (committed, or
    /// superseded).
    fn resubmit_acknowledged(&mut self, core: &mut Core) -> Result<(), StorageError> {
        let mut records = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = core.storage.scan_prefix(
                POOL_PREFIX,
                after.as_deref(),
                itc_core::storage::SCAN_LIMIT_MAX,
            )?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            records.extend(page);
            if records.len() > ACKNOWLEDGED_RESUBMIT_MAX {
                break;
            }
        }
        let mut forget = WriteBatch::new();
        let mut transactions = Vec::new();
        for (key, value) in records {
            match <Transaction as itc_core::encoding::Decode>::decode(&value) {
                Ok(tx) => transactions.push((key, tx)),
                Err(_) => forget.delete(key),
            }
        }
        transactions.sort_by_key(|(_, tx)| (tx.sender, tx.nonce));
        let now = wall_clock_ms();
        let mut kept = 0usize;
        for (key, tx) in transactions {
            match core.replica.submit_transaction(now, tx.clone()) {
                Ok(()) => {
                    kept += 1;
                    self.send(Outbound::GossipTransaction(
                        itc_core::encoding::Encode::encode(&tx),
                    ));
                }
                Err(_) => forget.delete(key),
            }
        }
        if !forget.is_empty() {
            core.storage.write(forget)?;
        }
        if kept > 0 {
            tracing::info!(kept, "acknowledged transactions back in the pool");
        }
        Ok(())
    }

    /// Index blocks committed before a crash that the index missed.
    fn catch_up_index(&mut self, core: &mut Core) -> Result<(), StorageError> {
        let indexed = core
            .storage
            .get(TX_INDEX_HEIGHT_KEY)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        let executed = core.replica.executed_height();
        let mut next = indexed + 1;
        while next <= executed {
            let decisions = itc_pbft::persist::load_decision_range(&core.storage, next, 64)?;
            if decisions.is_empty() {
                // Blocks below a state-transfer snapshot are not stored.
                break;
            }
            next += decisions.len() as u64;
            let mut admitted = HashMap::new();
            let mut order = VecDeque::new();
            self.after_batch(core, decisions, &mut admitted, &mut order)?;
        }
        Ok(())
    }
}

enum Input {
    Peer((PublicKey, Vec<u8>)),
    Control(Control),
    Closed,
}
