//! [`Tangle`]: the sans-IO DAG node. Transactions go in with
//! [`Tangle::attach`]; requests for missing parents come out of
//! [`Tangle::poll_request`]; parents for new transactions come from
//! [`Tangle::select_tips`]; anchors are confirmed with
//! [`Tangle::confirm`] (or its two halves, [`Tangle::compute_confirmation`]
//! and [`Tangle::apply_confirmation`]); [`Tangle::prune`] forgets what
//! finalized anchors made unnecessary. Time (`now_ms`) and randomness
//! (`seed`) are arguments; nothing here reads a clock or an RNG.

use hashbrown::{HashMap, HashSet};
use itc_core::hash::{Domain, Hash, Hasher};
use itc_core::keys::{Keypair, PublicKey, SigningDomain};
use itc_core::merkle;
use itc_core::storage::WriteBatch;
use itc_core::types::{ChainId, DagAnchor, SecurityLevel, ANCHOR_TIPS_MAX};
use itc_core::{Decode, Encode};
use std::collections::{BTreeMap, VecDeque};

#[path = "persist.rs"]
mod persist;
pub use self::persist::RestoreError;

use crate::finality::{AnchorCommitment, Confirmation, DagFinalityProof};
use crate::ledger::{DagLedger, DagLedgerError, LedgerView};
use crate::pow::{self, PowError, PowParams, SecurityLevels};
use crate::tips::{SplitMix64, TipParams, TipPool, TipScore};
use crate::transaction::{
    DagPayload, DagTransaction, TransactionError, PARENTS_MAX, PARENTS_MIN, TRAILER_LEN,
};

/// Most transactions a store may hold (solid ones; see
/// [`DagConfig::transactions_max`]).
pub const STORE_TRANSACTIONS_MAX: usize = 1 << 24;
/// Most transactions waiting for missing parents; the oldest is evicted.
pub const SOLIDIFICATION_BUFFER_MAX: usize = 16_384;
/// Most outstanding parent requests (and queued request outputs).
pub const REQUESTS_MAX: usize = 4_096;
/// Room in the request table that only anchor-driven requests (a proposal's
/// or a committed block's missing cone) may use: gossip never takes it.
pub const ANCHOR_REQUESTS_RESERVED: usize = 1_024;
/// Most gossip-driven requests outstanding; beyond it the oldest is dropped.
/// Fewer while anchor requests hold more than [`ANCHOR_REQUESTS_RESERVED`]:
/// together they never exceed [`REQUESTS_MAX`], and an anchor request
/// evicts gossip (oldest first) for as long as any is left.
pub const GOSSIP_REQUESTS_MAX: usize = REQUESTS_MAX - ANCHOR_REQUESTS_RESERVED;
/// A gossip-driven request unanswered this long (by the `now_ms` of later
/// calls) is forgotten, so requests for bogus parents never pile up.
pub const GOSSIP_REQUEST_TTL_MS: u64 = 10_000;
/// Most ids the missing-ancestor walk of [`Tangle::compute_confirmation`]
/// visits: every waiting transaction and each of its parents, so it never
/// runs out before it has seen the whole buffer. Should it ever, the
/// anchor is "not solid yet", never invalid.
pub const MISSING_WALK_MAX: usize = SOLIDIFICATION_BUFFER_MAX * (PARENTS_MAX + 1);
/// Most rate classes (device owners, lone devices, the unregistered class)
/// whose recent issue rate is tracked.
pub const ISSUERS_TRACKED_MAX: usize = 65_536;
/// Most issue times remembered per rate class.
pub const ISSUER_RATE_SAMPLES_MAX: usize = 256;
/// Most transactions one anchor may newly confirm.
pub const CONFIRMATION_CONE_MAX: usize = 1 << 20;
/// Most anchors whose confirmed lists are kept for proofs.
pub const ANCHOR_RECORDS_MAX: usize = 1_024;
/// Most approvers a pre-confirmation walk visits.
pub const PRECONFIRMATION_WALK_MAX: usize = 10_000;
/// Number of genesis entry points (a first transaction approves both).
pub const GENESIS_ENTRY_POINTS: usize = 2;
/// Anchor tips a proposal gives to the oldest unconfirmed transactions
/// (by arrival), whatever their tip score, so fresh traffic never starves
/// an older transaction; the rest go to the freshest unapproved tips.
pub const ANCHOR_TIPS_BY_AGE: usize = ANCHOR_TIPS_MAX / 2;
/// Most unconfirmed records one call walks to recompute oldest roots that
/// look too deep (see [`Tangle::has_unanchored_tips`]); what it cannot
/// judge within it is kept, never dropped.
pub const ROOT_WALK_MAX: usize = 16_384;
/// Most unconfirmed transactions one proposal looks at (oldest first).
pub const ANCHOR_SCAN_MAX: usize = 4_096;
/// Most refused deposits remembered ([`Tangle::refused_deposits`]).
pub const REFUSED_DEPOSITS_MAX: usize = 1_024;
/// Parents [`Tangle::select_tips`] pads a selection to from the latest
/// anchors' tips when the pool runs short (if they are young enough).
pub const PARENTS_PADDED: usize = 2;
/// Most recent anchor tips kept as fallback parents when the tip pool runs dry.
pub const FALLBACK_TIPS_MAX: usize = 8;

/// The ids every chain's DAG starts from. They are solid entry points
/// confirmed at height 0; the first transactions approve them.
pub fn genesis_entry_points(chain_id: ChainId) -> [Hash; GENESIS_ENTRY_POINTS] {
    let mut out = [Hash::ZERO; GENESIS_ENTRY_POINTS];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = Hash::of_parts(
            Domain::DagTransaction,
            &[b"genesis\0", &chain_id.0.to_le_bytes(), &[i as u8]],
        );
    }
    out.sort_unstable();
    out
}

/// Configuration of a [`Tangle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DagConfig {
    /// The network.
    pub chain_id: ChainId,
    /// Proof-of-work rules.
    pub pow: PowParams,
    /// Tip pool and selection.
    pub tips: TipParams,
    /// Most solid transactions held (at most [`STORE_TRANSACTIONS_MAX`]).
    pub transactions_max: usize,
    /// Collect storage writes for [`Tangle::take_writes`] (see
    /// [`Tangle::restore`]); off by default.
    pub persist: bool,
    /// As a PBFT primary ([`itc_core::anchoring::Anchoring`]): the least time between
    /// two anchors proposed in blocks that carry no main-chain transaction,
    /// so steady DAG traffic does not make a block per DAG transaction.
    /// A block built for main-chain transactions anchors whenever there is
    /// something to anchor. Local policy, not a consensus parameter.
    pub anchor_interval_ms: u64,
    /// As a PBFT validator ([`itc_core::anchoring::Anchoring`]): after committing the
    /// anchor at height `H`, prune at `H - k` ([`Tangle::prune`]), so the
    /// store stays bounded without the caller's help; finality proofs stay
    /// available for the last `k` heights. `None`: the caller prunes. Local
    /// policy: pruned and unpruned nodes judge every anchor alike.
    pub prune_keep_heights: Option<u64>,
    /// Consensus parameter (identical on all validators): with the last
    /// anchor applied at height `L`, the next anchor is invalid if its new
    /// cone approves a transaction confirmed at or below
    /// `L - anchor_depth_max` ([`ConfirmError::TooDeep`]); main-chain blocks
    /// without an anchor do not count. Pruning keeps
    /// the ids of everything confirmed in the last `anchor_depth_max`
    /// anchors, so every node decides this the same way. Must exceed
    /// [`TipParams::below_max_depth`], so honest (non-lazy) tips never trip it.
    pub anchor_depth_max: u64,
}

/// Default [`DagConfig::anchor_depth_max`]: five heights beyond the default
/// below-max-depth (the genesis default).
pub const ANCHOR_DEPTH_MAX_DEFAULT: u64 = itc_core::genesis::DAG_ANCHOR_DEPTH_MAX_DEFAULT;

/// Default [`DagConfig::anchor_interval_ms`].
pub const ANCHOR_INTERVAL_MS_DEFAULT: u64 = 100;

/// Default [`DagConfig::prune_keep_heights`].
pub const PRUNE_KEEP_HEIGHTS_DEFAULT: u64 = 1_000;

impl DagConfig {
    /// Defaults for the chain whose ledger parameters are `params` (from
    /// its genesis): the chain id and the consensus parameter
    /// `anchor_depth_max` come from there, so every validator agrees.
    /// Use this for a validator's tangle.
    /// Persistence is on: a validator's tangle must be restored
    /// ([`Tangle::restore`]) from the storage its replica uses.
    pub fn for_chain(params: &itc_core::ledger::LedgerParams) -> Self {
        DagConfig {
            anchor_depth_max: params.dag_anchor_depth_max,
            persist: true,
            ..DagConfig::new(params.chain_id)
        }
    }

    /// Defaults for `chain_id`.
    pub fn new(chain_id: ChainId) -> Self {
        DagConfig {
            chain_id,
            pow: PowParams::default(),
            tips: TipParams::default(),
            transactions_max: STORE_TRANSACTIONS_MAX,
            persist: false,
            anchor_depth_max: ANCHOR_DEPTH_MAX_DEFAULT,
            anchor_interval_ms: ANCHOR_INTERVAL_MS_DEFAULT,
            prune_keep_heights: Some(PRUNE_KEEP_HEIGHTS_DEFAULT),
        }
    }
}

/// Why a transaction was not attached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// Malformed or badly signed.
    #[error("invalid transaction: {0}")]
    Invalid(#[from] TransactionError),
    /// Already known (stored, waiting, or a pruned entry point): a replay.
    #[error("duplicate transaction")]
    Duplicate,
    /// The issuer is not a registered device and unregistered issuers are refused.
    #[error("issuer is not a registered device")]
    UnregisteredIssuer,
    /// Not enough proof of work.
    #[error("proof of work: {0}")]
    Pow(#[from] PowError),
    /// The store holds its maximum of transactions.
    #[error("dag store full")]
    StoreFull,
}

/// Why an anchor could not be confirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfirmError {
    /// Anchor heights must increase.
    #[error("anchor height {found} not above {latest}")]
    HeightNotIncreasing {
        /// Latest confirmed height.
        latest: u64,
        /// Height given.
        found: u64,
    },
    /// Too many tips, or tips not strictly ascending.
    #[error("malformed anchor")]
    MalformedAnchor,
    /// Transactions of the cone are missing; they have been (or should be)
    /// requested. Retry when they arrive.
    #[error("{} transactions of the cone are missing", missing.len())]
    NotSolid {
        /// Missing ids (sorted).
        missing: Vec<Hash>,
    },
    /// The cone is larger than [`CONFIRMATION_CONE_MAX`]: the anchor is invalid.
    #[error("cone larger than the maximum")]
    ConeTooLarge,
    /// A transaction of the new cone approves one confirmed more than
    /// [`DagConfig::anchor_depth_max`] anchors below this one: the anchor is
    /// invalid (honest proposers never anchor such lazy transactions, and
    /// nodes may have pruned the parent, so they could not agree on the cone).
    #[error("cone approves a transaction confirmed at height {parent_height}, too deep")]
    TooDeep {
        /// The approving transaction.
        transaction: Hash,
        /// Its too-old parent.
        parent: Hash,
        /// Height at which the parent was confirmed.
        parent_height: u64,
    },
    /// The tangle changed since the confirmation was computed.
    #[error("confirmation computed on an older state")]
    Stale,
    /// A tip was confirmed by an earlier anchor: the anchor is invalid.
    #[error("anchor tip {0} already confirmed")]
    TipAlreadyConfirmed(Hash),
}

/// What [`Tangle::attach`] did with a valid transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    /// Stored as solid; `solidified` counts it and any waiting descendants it
    /// completed.
    Solid {
        /// Transactions that became solid.
        solidified: usize,
    },
    /// Waiting for `missing` parents, which have been requested.
    Pending {
        /// Parents not yet known.
        missing: usize,
    },
}

/// Where a transaction stands on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// Never seen (or evicted, or pruned entirely).
    Unknown,
    /// Waiting for parents.
    Pending,
    /// Solid, not yet confirmed by an anchor.
    Solid,
    /// Confirmed by the anchor at this main-chain height.
    Confirmed {
        /// Height of the anchoring block.
        height: u64,
    },
    /// Pruned to a solid entry point, confirmed at this height.
    EntryPoint {
        /// Height of the anchoring block.
        height: u64,
    },
}

/// The cumulative approval of a solid transaction: a fast hint, **not
/// finality**.
///
/// It counts the transactions that approve `id` directly or indirectly
/// (its future cone) and their distinct issuers, up to
/// [`PRECONFIRMATION_WALK_MAX`]. Honest issuers only approve transactions
/// they consider valid and non-conflicting, so a wide future cone makes it
/// likely the next anchor confirms the transaction; but only an anchor
/// decides, and a transaction with a large future cone can still be
/// confirmed-but-ignored if it loses a conflict in white-flag order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreConfirmation {
    /// Transactions in the future cone that were counted.
    pub approvers: u32,
    /// Distinct issuers among them.
    pub issuers: u32,
    /// Whether the walk saw the whole future cone (else counts are lower bounds).
    pub complete: bool,
    /// Set if an anchor already confirmed it (then this is final).
    pub confirmed_height: Option<u64>,
}

/// A main-chain deposit the DAG ledger could not credit (its balance would
/// overflow, which the main chain's bounded supply rules out): the same on
/// every validator, recorded instead of silently lost. The main chain has
/// debited it; the record is the claim on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefusedDeposit {
    /// Height of the block that carried it.
    pub height: u64,
    /// Hash of the main-chain transaction.
    pub transaction: Hash,
    /// Who deposited (and would have been credited).
    pub owner: PublicKey,
    /// The amount.
    pub amount: itc_core::types::Amount,
    /// Why it could not be credited.
    pub reason: DagLedgerError,
}

/// What a [`Tangle::prune`] removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PruneOutcome {
    /// Transactions removed.
    pub removed: usize,
    /// Solid entry points after pruning.
    pub entry_points: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestKind {
    /// Wanted to solidify gossip: full rate-based difficulty applies. Ages
    /// out [`GOSSIP_REQUEST_TTL_MS`] after `since_ms`.
    Gossip {
        /// When it was requested.
        since_ms: u64,
    },
    /// Wanted to confirm an anchor: only the base difficulty applies, so all
    /// validators can complete the cone whatever traffic they saw.
    Anchor,
}

/// Whether an honest proposer anchors an unconfirmed transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anchorable {
    /// Within the depth rule and not below max depth.
    Yes,
    /// Valid, but below max depth ([`TipParams::below_max_depth`]) on its
    /// recomputed oldest root: a parasite on old history, which an honest
    /// proposer leaves (only an anchor confirming one of its unconfirmed
    /// ancestors, which honest proposers leave too, could raise the root).
    NotNow,
    /// The depth rule refuses it, now and at every later height.
    Never,
}

/// Whose recent issue rate sets the proof-of-work rate term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum RateKey {
    /// Every issuer that is not a registered device, as one class.
    Unregistered,
    /// A registered device whose owner is not known to the lookup.
    Issuer(PublicKey),
    /// Every registered device of this owner, as one class.
    Owner(PublicKey),
}

/// A stored solid transaction. The transaction is kept as its canonical
/// encoding (about 221 bytes for two parents and a 32-byte record), which is
/// smaller than the decoded struct and its heap parts; parents and issuer
/// are read from it in place.
#[derive(Clone, Debug)]
struct Record {
    id: Hash,
    encoded: Box<[u8]>,
    approvers: Vec<u32>,
    /// Height of the confirming anchor; 0 while unconfirmed.
    confirmed: u64,
    /// Position in the confirming anchor's white-flag order.
    position: u32,
    /// Oldest and youngest root snapshot index (see [`crate::tips`]).
    omrsi: u64,
    ymrsi: u64,
    /// Key in [`Tangle`]'s arrival-ordered list of unconfirmed transactions.
    arrival: u64,
}

#[derive(Clone, Debug)]
struct Pending {
    tx: DagTransaction,
    missing: u8,
    order: u64,
}

#[derive(Clone, Debug)]
struct AnchorRecord {
    commitment: AnchorCommitment,
    order: Vec<Hash>,
    applied: Vec<bool>,
}

/// A DAG node's state: store, solidifier, tip pool, DAG ledger and anchors.
#[derive(Debug)]
pub struct Tangle {
    config: DagConfig,
    slots: Vec<Option<Record>>,
    free: Vec<u32>,
    index: HashMap<Hash, u32>,
    entry_points: HashMap<Hash, u64>,
    genesis: [Hash; GENESIS_ENTRY_POINTS],
    pending: HashMap<Hash, Pending>,
    pending_order: BTreeMap<u64, Hash>,
    next_pending_order: u64,
    waiting: HashMap<Hash, Vec<Hash>>,
    requested: HashMap<Hash, RequestKind>,
    /// Gossip-driven requests in request order, for ageing out (entries
    /// whose request is gone or was upgraded are skipped).
    gossip_requests: VecDeque<(u64, Hash)>,
    /// Outstanding anchor-driven requests (at most [`REQUESTS_MAX`]).
    anchor_request_count: usize,
    outbox: VecDeque<Hash>,
    /// Requests an anchor needs, sent before any gossip request.
    anchor_outbox: VecDeque<Hash>,
    rates: BTreeMap<RateKey, VecDeque<u64>>,
    pool: TipPool,
    /// Unconfirmed stored transactions by arrival: (id, arrival time).
    /// Holds no more than the store.
    pub(crate) unconfirmed: BTreeMap<u64, (Hash, u64)>,
    pub(crate) next_arrival: u64,
    fallback: Vec<Hash>,
    refused_deposits: VecDeque<RefusedDeposit>,
    ledger: DagLedger,
    latest_height: u64,
    anchors: BTreeMap<u64, AnchorRecord>,
    epoch: u64,
    scratch: Vec<u8>,
    writes: WriteBatch,
    /// The last confirmation computed for a PBFT proposal, reused when the
    /// block commits (see [`crate::anchoring`]).
    pub(crate) prepared: Option<Box<Confirmation>>,
    /// When this node last proposed an anchor as a PBFT primary.
    pub(crate) last_proposed_ms: Option<u64>,
}

impl Tangle {
    /// An empty tangle: only the genesis entry points.
    pub fn new(config: DagConfig) -> Self {
        let genesis = genesis_entry_points(config.chain_id);
        let mut entry_points = HashMap::new();
        for id in genesis {
            entry_points.insert(id, 0);
        }
        Tangle {
            config,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            entry_points,
            genesis,
            pending: HashMap::new(),
            pending_order: BTreeMap::new(),
            next_pending_order: 0,
            waiting: HashMap::new(),
            requested: HashMap::new(),
            gossip_requests: VecDeque::new(),
            anchor_request_count: 0,
            outbox: VecDeque::new(),
            anchor_outbox: VecDeque::new(),
            rates: BTreeMap::new(),
            pool: TipPool::default(),
            unconfirmed: BTreeMap::new(),
            next_arrival: 0,
            fallback: genesis.to_vec(),
            refused_deposits: VecDeque::new(),
            ledger: DagLedger::new(),
            latest_height: 0,
            anchors: BTreeMap::new(),
            epoch: 0,
            scratch: Vec::with_capacity(512),
            writes: WriteBatch::new(),
            prepared: None,
            last_proposed_ms: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DagConfig {
        &self.config
    }

    /// The DAG ledger (balances as of the latest applied anchor).
    pub fn ledger(&self) -> &DagLedger {
        &self.ledger
    }

    /// Credit DAG balance (genesis, or a main-chain deposit into the DAG).
    /// Every validator must make the same credits at the same point between
    /// anchors. A credit of zero changes nothing (no account, no write).
    ///
    /// # Errors
    /// [`DagLedgerError`] on overflow or a full ledger; nothing changes then.
    pub fn credit(
        &mut self,
        owner: itc_core::keys::PublicKey,
        amount: itc_core::types::Amount,
    ) -> Result<(), DagLedgerError> {
        if amount == itc_core::types::Amount(0) {
            // The ledger creates no account for it: persisting one would
            // make a restarted node's ledger differ from its peers'.
            return Ok(());
        }
        self.ledger.credit(owner, amount)?;
        // A confirmation computed before this credit saw another ledger:
        // applying it would overwrite the credit, so it is stale now.
        self.prepared = None;
        self.epoch += 1;
        if self.config.persist {
            let account = self.ledger.account(&owner);
            self.writes
                .put(persist::account_key(&owner), account.encode());
        }
        Ok(())
    }

    /// Deposits the DAG ledger could not credit, oldest first (the last
    /// [`REFUSED_DEPOSITS_MAX`]; kept in memory only).
    pub fn refused_deposits(&self) -> impl Iterator<Item = &RefusedDeposit> {
        self.refused_deposits.iter()
    }

    pub(crate) fn record_refused_deposit(&mut self, refused: RefusedDeposit) {
        if self.refused_deposits.len() >= REFUSED_DEPOSITS_MAX {
            self.refused_deposits.pop_front();
        }
        self.refused_deposits.push_back(refused);
    }

    /// Sparse Merkle root of the DAG ledger's accounts.
    pub fn ledger_state_root(&mut self) -> Hash {
        self.ledger.state_root()
    }

    /// Solid transactions stored.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no transaction is stored.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Transactions waiting for parents.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Tips in the pool.
    pub fn tip_count(&self) -> usize {
        self.pool.len()
    }

    /// Whether `id` is in the tip pool.
    pub fn is_tip(&self, id: &Hash) -> bool {
        self.pool.contains(id)
    }

    /// Solid entry points (pruned boundary and genesis).
    pub fn entry_point_count(&self) -> usize {
        self.entry_points.len()
    }

    /// Height of the latest applied anchor (0 before any).
    pub fn latest_height(&self) -> u64 {
        self.latest_height
    }

    /// A stored transaction (decoded from its stored encoding).
    pub fn get(&self, id: &Hash) -> Option<DagTransaction> {
        self.record(id).map(Record::transaction)
    }

    fn record(&self, id: &Hash) -> Option<&Record> {
        let slot = *self.index.get(id)?;
        self.slots[slot as usize].as_ref()
    }

    /// Where `id` stands on this node.
    pub fn status(&self, id: &Hash) -> TxStatus {
        if let Some(r) = self.record(id) {
            return if r.confirmed > 0 {
                TxStatus::Confirmed {
                    height: r.confirmed,
                }
            } else {
                TxStatus::Solid
            };
        }
        if let Some(&height) = self.entry_points.get(id) {
            return TxStatus::EntryPoint { height };
        }
        if self.pending.contains_key(id) {
            return TxStatus::Pending;
        }
        TxStatus::Unknown
    }

    /// Ids approving `id` directly (stored ones), in attach order.
    pub fn approvers(&self, id: &Hash) -> Vec<Hash> {
        self.record(id)
            .map(|r| {
                r.approvers
                    .iter()
                    .filter_map(|s| self.slots[*s as usize].as_ref().map(|a| a.id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The next id to request from peers (a missing parent, or a missing
    /// anchor tip): what an anchor needs first, then gossip's missing
    /// parents, oldest first. The caller sends it and, on timeout, may
    /// re-request everything in [`Tangle::wanted`].
    pub fn poll_request(&mut self) -> Option<Hash> {
        // Answered, cancelled or aged-out requests are skipped; a gossip
        // request upgraded for an anchor leaves from the anchor queue.
        while let Some(id) = self.anchor_outbox.pop_front() {
            if self.requested.get(&id) == Some(&RequestKind::Anchor) {
                return Some(id);
            }
        }
        while let Some(id) = self.outbox.pop_front() {
            if matches!(self.requested.get(&id), Some(RequestKind::Gossip { .. })) {
                return Some(id);
            }
        }
        None
    }

    /// All ids currently wanted, sorted.
    pub fn wanted(&self) -> Vec<Hash> {
        let mut ids: Vec<Hash> = self.requested.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn known(&self, id: &Hash) -> bool {
        self.index.contains_key(id) || self.entry_points.contains_key(id)
    }

    /// Forget the request for `id` (answered, or no longer needed).
    fn unrequest(&mut self, id: &Hash) -> Option<RequestKind> {
        let kind = self.requested.remove(id)?;
        if kind == RequestKind::Anchor {
            self.anchor_request_count -= 1;
        }
        Some(kind)
    }

    fn gossip_request_count(&self) -> usize {
        self.requested.len() - self.anchor_request_count
    }

    /// Most gossip requests the table takes now: [`GOSSIP_REQUESTS_MAX`],
    /// less whatever anchor requests hold beyond their reserve, so the
    /// table never exceeds [`REQUESTS_MAX`].
    fn gossip_request_room(&self) -> usize {
        GOSSIP_REQUESTS_MAX.min(REQUESTS_MAX.saturating_sub(self.anchor_request_count))
    }

    /// Forget gossip-driven requests older than [`GOSSIP_REQUEST_TTL_MS`]
    /// at `now_ms`, and (with `room_for_one`) the oldest one while the
    /// gossip share of the table is full.
    fn age_gossip_requests(&mut self, now_ms: u64, room_for_one: bool) {
        while let Some(&(since_ms, id)) = self.gossip_requests.front() {
            let live = self.requested.get(&id) == Some(&RequestKind::Gossip { since_ms });
            let full = room_for_one && self.gossip_request_count() >= self.gossip_request_room();
            if live && !full && now_ms.saturating_sub(since_ms) < GOSSIP_REQUEST_TTL_MS {
                break;
            }
            self.gossip_requests.pop_front();
            if live {
                self.requested.remove(&id);
            }
        }
        if self.gossip_requests.len() > 2 * REQUESTS_MAX {
            let requested = &self.requested;
            self.gossip_requests.retain(|(since_ms, id)| {
                requested.get(id)
                    == Some(&RequestKind::Gossip {
                        since_ms: *since_ms,
                    })
            });
        }
    }

    /// Request `id` to complete an anchor's cone: it gets room gossip
    /// cannot take (evicting the oldest gossip request if need be), and is
    /// sent before gossip requests. Asked again if it was asked before.
    pub(crate) fn request_anchor(&mut self, id: Hash) {
        if self.known(&id) || self.pending.contains_key(&id) {
            return;
        }
        match self.requested.get(&id) {
            Some(RequestKind::Anchor) => {}
            Some(RequestKind::Gossip { .. }) => {
                self.requested.insert(id, RequestKind::Anchor);
                self.anchor_request_count += 1;
            }
            None => {
                if self.anchor_request_count >= REQUESTS_MAX {
                    return;
                }
                // Only gossip can be in the way: drop its oldest until
                // there is room (every live gossip request is queued).
                while self.requested.len() >= REQUESTS_MAX {
                    let Some((since_ms, old)) = self.gossip_requests.pop_front() else {
                        break;
                    };
                    if self.requested.get(&old) == Some(&RequestKind::Gossip { since_ms }) {
                        self.requested.remove(&old);
                    }
                }
                if self.requested.len() >= REQUESTS_MAX {
                    return;
                }
                self.requested.insert(id, RequestKind::Anchor);
                self.anchor_request_count += 1;
            }
        }
        if !self.anchor_outbox.contains(&id) {
            if self.anchor_outbox.len() >= REQUESTS_MAX {
                self.anchor_outbox.pop_front();
            }
            self.anchor_outbox.push_back(id);
        }
    }

    /// Request `id`, a missing parent of gossip, at `now_ms`.
    fn request_gossip(&mut self, id: Hash, now_ms: u64) {
        if self.known(&id) || self.requested.contains_key(&id) || self.pending.contains_key(&id) {
            return;
        }
        self.age_gossip_requests(now_ms, true);
        if self.gossip_request_count() >= self.gossip_request_room() {
            return;
        }
        let kind = RequestKind::Gossip { since_ms: now_ms };
        self.requested.insert(id, kind);
        self.gossip_requests.push_back((now_ms, id));
        if self.outbox.len() >= GOSSIP_REQUESTS_MAX {
            self.outbox.pop_front();
        }
        self.outbox.push_back(id);
    }

    /// Accepted transactions counted under `key` within the rate window
    /// ending at `now_ms`.
    fn recent_issues(&mut self, key: &RateKey, now_ms: u64) -> u32 {
        let window = self.config.pow.window_ms;
        let Some(times) = self.rates.get_mut(key) else {
            return 0;
        };
        while times
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= window)
        {
            times.pop_front();
        }
        times.len() as u32
    }

    fn record_issue(&mut self, issuer: RateKey, now_ms: u64) {
        if !self.rates.contains_key(&issuer) && self.rates.len() >= ISSUERS_TRACKED_MAX {
            let window = self.config.pow.window_ms;
            self.rates.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now_ms.saturating_sub(*t) < window)
            });
            if self.rates.len() >= ISSUERS_TRACKED_MAX {
                // Forget the least recently active issuer.
                let quietest = self
                    .rates
                    .iter()
                    .min_by_key(|(key, times)| (times.back().copied().unwrap_or(0), **key))
                    .map(|(key, _)| *key)
                    .expect("map is full");
                self.rates.remove(&quietest);
            }
        }
        let times = self.rates.entry(issuer).or_default();
        if times.len() >= ISSUER_RATE_SAMPLES_MAX {
            times.pop_front();
        }
        times.push_back(now_ms);
    }

    /// Proof-of-work bits this node requires now from `issuer` for a
    /// gossiped transaction.
    ///
    /// # Errors
    /// [`AttachError::UnregisteredIssuer`].
    pub fn required_bits(
        &mut self,
        issuer: &PublicKey,
        now_ms: u64,
        levels: &impl SecurityLevels,
    ) -> Result<u32, AttachError> {
        let (level, key) = self.level_of(issuer, levels)?;
        let recent = self.recent_issues(&key, now_ms);
        Ok(self.config.pow.required_bits(level, recent))
    }

    /// The issuer's level and whose rate it pays: its owner's (shared by
    /// all devices of that owner) if it is a registered device, else the
    /// one shared by all unregistered issuers, so rotating keys, minting
    /// identities or registering more devices does not reset the rate.
    fn level_of(
        &self,
        issuer: &PublicKey,
        levels: &impl SecurityLevels,
    ) -> Result<(SecurityLevel, RateKey), AttachError> {
        match levels.security_level(issuer) {
            Some(level) => Ok((
                level,
                levels
                    .owner(issuer)
                    .map_or(RateKey::Issuer(*issuer), RateKey::Owner),
            )),
            None => self
                .config
                .pow
                .unregistered_level
                .map(|level| (level, RateKey::Unregistered))
                .ok_or(AttachError::UnregisteredIssuer),
        }
    }

    /// Validate a transaction (structure, duplicate, proof of work against
    /// the issuer's level and recent rate, signature) and attach it: solid
    /// if all parents are known, else buffered while its missing parents are
    /// requested through [`Tangle::poll_request`]. Parents are never trusted:
    /// a transaction becomes solid only once every parent is here.
    ///
    /// # Errors
    /// [`AttachError`]; the tangle is unchanged then.
    pub fn attach(
        &mut self,
        tx: DagTransaction,
        now_ms: u64,
        levels: &impl SecurityLevels,
    ) -> Result<Attached, AttachError> {
        tx.check(self.config.chain_id, false)?;
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        tx.encode_to(&mut bytes);
        let result = self.attach_encoded(tx, &bytes, now_ms, levels);
        self.scratch = bytes;
        result
    }

    fn attach_encoded(
        &mut self,
        tx: DagTransaction,
        bytes: &[u8],
        now_ms: u64,
        levels: &impl SecurityLevels,
    ) -> Result<Attached, AttachError> {
        let id = Hash::of(Domain::DagTransaction, bytes);
        if self.known(&id) || self.pending.contains_key(&id) {
            return Err(AttachError::Duplicate);
        }
        let (level, rate_key) = self.level_of(&tx.issuer, levels)?;
        let relaxed = self.requested.get(&id) == Some(&RequestKind::Anchor);
        let required = if relaxed {
            self.config.pow.base_bits(level)
        } else {
            let recent = self.recent_issues(&rate_key, now_ms);
            self.config.pow.required_bits(level, recent)
        };
        let essence = &bytes[..bytes.len() - TRAILER_LEN];
        let mut hasher = Hasher::new(Domain::ProofOfWork);
        hasher.update(essence);
        pow::check(pow::value_bits(&hasher, tx.nonce), required)?;
        tx.issuer
            .verify(
                SigningDomain::DagTransaction,
                tx.chain_id,
                essence,
                &tx.signature,
            )
            .map_err(TransactionError::Signature)?;
        if self.index.len() >= self.config.transactions_max.min(STORE_TRANSACTIONS_MAX) {
            return Err(AttachError::StoreFull);
        }
        self.unrequest(&id);
        self.record_issue(rate_key, now_ms);
        Ok(self.insert_checked(id, tx, now_ms, relaxed))
    }

    /// Attach a transaction this node already validated (signature and
    /// proof of work), for example when reloading its own store after a
    /// restart. Skips those two checks and the issue-rate bookkeeping;
    /// everything else is as in [`Tangle::attach`]. Never use it for
    /// transactions from the network.
    ///
    /// # Errors
    /// [`AttachError::Invalid`] (structure only), [`AttachError::Duplicate`],
    /// [`AttachError::StoreFull`].
    pub fn attach_verified(
        &mut self,
        tx: DagTransaction,
        now_ms: u64,
    ) -> Result<Attached, AttachError> {
        tx.check(self.config.chain_id, false)?;
        let id = tx.id();
        if self.known(&id) || self.pending.contains_key(&id) {
            return Err(AttachError::Duplicate);
        }
        if self.index.len() >= self.config.transactions_max.min(STORE_TRANSACTIONS_MAX) {
            return Err(AttachError::StoreFull);
        }
        let relaxed = self.unrequest(&id) == Some(RequestKind::Anchor);
        Ok(self.insert_checked(id, tx, now_ms, relaxed))
    }

    /// Store a validated transaction: solid, or buffered with its missing
    /// parents requested.
    fn insert_checked(
        &mut self,
        id: Hash,
        tx: DagTransaction,
        now_ms: u64,
        relaxed: bool,
    ) -> Attached {
        let missing: Vec<Hash> = tx
            .parents
            .iter()
            .filter(|p| !self.known(p))
            .copied()
            .collect();
        if missing.is_empty() {
            let solidified = self.insert_solid(id, tx, now_ms);
            return Attached::Solid { solidified };
        }
        if self.pending.len() >= SOLIDIFICATION_BUFFER_MAX {
            let oldest = *self
                .pending_order
                .first_key_value()
                .expect("buffer is full")
                .1;
            self.evict_pending(&oldest);
        }
        for parent in &missing {
            self.waiting.entry(*parent).or_default().push(id);
            if relaxed {
                self.request_anchor(*parent);
            } else {
                self.request_gossip(*parent, now_ms);
            }
        }
        let order = self.next_pending_order;
        self.next_pending_order += 1;
        self.pending_order.insert(order, id);
        self.pending.insert(
            id,
            Pending {
                tx,
                missing: missing.len() as u8,
                order,
            },
        );
        Attached::Pending {
            missing: missing.len(),
        }
    }

    fn evict_pending(&mut self, id: &Hash) {
        let Some(pending) = self.pending.remove(id) else {
            return;
        };
        self.pending_order.remove(&pending.order);
        for parent in &pending.tx.parents {
            if let Some(children) = self.waiting.get_mut(parent) {
                children.retain(|c| c != id);
                if children.is_empty() {
                    self.waiting.remove(parent);
                    self.unrequest(parent);
                }
            }
        }
    }

    /// Root snapshot indexes a transaction with these parents gets.
    fn roots_of(&self, parents: &[Hash]) -> (u64, u64) {
        let mut oldest = u64::MAX;
        let mut youngest = 0;
        for parent in parents {
            let (o, y) = if let Some(&height) = self.entry_points.get(parent) {
                (height, height)
            } else if let Some(r) = self.record(parent) {
                r.roots()
            } else {
                (0, 0)
            };
            oldest = oldest.min(o);
            youngest = youngest.max(y);
        }
        (oldest, youngest)
    }

    /// Store a solid transaction and solidify whatever waited on it.
    fn insert_solid(&mut self, id: Hash, tx: DagTransaction, now_ms: u64) -> usize {
        let mut work = vec![(id, tx)];
        let mut solidified = 0;
        while let Some((id, tx)) = work.pop() {
            solidified += 1;
            self.unrequest(&id);
            let (omrsi, ymrsi) = self.roots_of(&tx.parents);
            let slot = match self.free.pop() {
                Some(slot) => slot,
                None => {
                    self.slots.push(None);
                    u32::try_from(self.slots.len() - 1).expect("store below 2^32 slots")
                }
            };
            for parent in &tx.parents {
                if let Some(&p) = self.index.get(parent) {
                    self.slots[p as usize]
                        .as_mut()
                        .expect("indexed slot holds a record")
                        .approvers
                        .push(slot);
                }
                self.pool.referenced(&self.config.tips, parent);
            }
            let score = self.config.tips.score(omrsi, ymrsi, self.latest_height);
            self.pool
                .insert(&self.config.tips, id, tx.issuer, score, now_ms);
            self.index.insert(id, slot);
            let record = Record {
                id,
                encoded: tx.encode().into_boxed_slice(),
                approvers: Vec::new(),
                confirmed: 0,
                position: 0,
                omrsi,
                ymrsi,
                arrival: self.next_arrival,
            };
            self.unconfirmed.insert(self.next_arrival, (id, now_ms));
            self.next_arrival += 1;
            if self.config.persist {
                self.writes.put(
                    persist::transaction_key(&id),
                    persist::record_value(&record),
                );
            }
            self.slots[slot as usize] = Some(record);
            if let Some(children) = self.waiting.remove(&id) {
                for child in children {
                    let ready = match self.pending.get_mut(&child) {
                        Some(p) => {
                            p.missing = p.missing.saturating_sub(1);
                            p.missing == 0
                        }
                        None => false,
                    };
                    if ready {
                        // A parent known when the child arrived may have
                        // been pruned since: wait for it again, never
                        // become solid on an unknown parent.
                        let gone: Vec<Hash> = self.pending[&child]
                            .tx
                            .parents
                            .iter()
                            .filter(|p| !self.known(p))
                            .copied()
                            .collect();
                        if !gone.is_empty() {
                            if let Some(p) = self.pending.get_mut(&child) {
                                p.missing = gone.len() as u8;
                            }
                            for parent in gone {
                                self.waiting.entry(parent).or_default().push(child);
                                self.request_gossip(parent, now_ms);
                            }
                            continue;
                        }
                        let p = self.pending.remove(&child).expect("checked above");
                        self.pending_order.remove(&p.order);
                        work.push((child, p.tx));
                    }
                }
            }
        }
        solidified
    }

    /// Up to [`TipParams::parents`] tips to approve, in canonical order:
    /// drawn uniformly from the non-lazy tips (semi-lazy ones only when
    /// those run short), never lazy ones, at most `per_issuer_max` per
    /// issuer in the pool. Pads to [`PARENTS_PADDED`] with the latest
    /// anchors' tips that are still young (genesis on a new DAG), and
    /// returns at least one. Deterministic given the call
    /// history and `seed`.
    pub fn select_tips(&mut self, now_ms: u64, seed: u64) -> Vec<Hash> {
        self.pool.expire(&self.config.tips, now_ms);
        let mut rng = SplitMix64::new(seed);
        let mut chosen = self.pool.select(self.config.tips.parents, &mut rng);
        // Pad to two parents (weaving) with the latest anchors' tips, but
        // only with those young enough not to make the transaction lazy: on
        // a quiet DAG whose latest anchor confirmed a single transaction,
        // an older second parent would make every new transaction too deep
        // to anchor and stop the side chain for good. One parent is valid.
        let latest = self.latest_height;
        let below_max_depth = self.config.tips.below_max_depth;
        let young = |id: &Hash| match self.status(id) {
            TxStatus::Confirmed { height } | TxStatus::EntryPoint { height } => {
                latest.saturating_sub(height) <= below_max_depth
            }
            _ => false,
        };
        let padding: Vec<Hash> = self
            .fallback
            .iter()
            .filter(|id| young(id))
            .copied()
            .collect();
        for id in padding {
            if chosen.len() >= PARENTS_PADDED {
                break;
            }
            if !chosen.contains(&id) {
                chosen.push(id);
            }
        }
        if chosen.len() < PARENTS_MIN {
            // Nothing young at all (cannot happen while the latest anchor's
            // tips are kept): the freshest fallback is the best there is.
            chosen.extend(self.fallback.first().copied());
        }
        chosen.sort_unstable();
        chosen
    }

    /// Build, sign, stamp and attach a transaction on tips selected with
    /// `seed`, as a device's gateway would. Returns the transaction sent.
    ///
    /// # Errors
    /// [`AttachError`] (including [`AttachError::Pow`] if the solver ran out
    /// of its `iterations_max`).
    #[allow(clippy::too_many_arguments)]
    pub fn issue(
        &mut self,
        issuer: &Keypair,
        sequence: u64,
        payload: DagPayload,
        now_ms: u64,
        seed: u64,
        levels: &impl SecurityLevels,
        iterations_max: u64,
    ) -> Result<DagTransaction, AttachError> {
        let parents = self.select_tips(now_ms, seed);
        let mut tx =
            DagTransaction::new_signed(issuer, self.config.chain_id, parents, sequence, payload);
        let bits = self.required_bits(&issuer.public(), now_ms, levels)?;
        tx.solve_pow(bits, iterations_max)?;
        self.attach(tx.clone(), now_ms, levels)?;
        Ok(tx)
    }

    /// Whether something an anchor should have confirmed by now is not
    /// confirmed yet: one of the oldest unconfirmed transactions that
    /// arrived at least `grace_ms` ago (and at most the tip pool's
    /// [`TipParams::age_max_ms`], so one a primary cannot anchor does not
    /// keep backups asking for view changes forever) and that an honest
    /// proposer anchors (judged on its recomputed oldest root), or a
    /// non-lazy tip that entered the pool at least `grace_ms` ago and has
    /// not aged out. Costs a look-up per non-lazy tip and, for the oldest
    /// transactions whose stored oldest root looks too deep, a bounded walk
    /// of their unconfirmed ancestors ([`ROOT_WALK_MAX`]).
    pub fn has_unanchored_tips(&self, now_ms: u64, grace_ms: u64) -> bool {
        self.has_unanchored(now_ms, grace_ms, true)
    }

    /// [`Tangle::has_unanchored_tips`]; without `age_capped`, an
    /// unconfirmed transaction older than the pool's age limit counts too
    /// (a primary anchors it whenever the depth rule still allows).
    pub(crate) fn has_unanchored(&self, now_ms: u64, grace_ms: u64, age_capped: bool) -> bool {
        let age_max = self.config.tips.age_max_ms;
        let due = |added: u64, capped: bool| {
            let age = now_ms.saturating_sub(added);
            age >= grace_ms && (!capped || age <= age_max)
        };
        // The oldest unconfirmed transactions first (a lazy one, or one
        // that left the pool, still anchorable counts too), then the
        // non-lazy tips.
        let mut memo = HashMap::new();
        let mut budget = ROOT_WALK_MAX;
        self.unconfirmed
            .values()
            .take(PARENTS_MAX)
            .any(|(id, added)| {
                due(*added, age_capped)
                    && self.anchorable(id, &mut memo, &mut budget) == Some(Anchorable::Yes)
            })
            || self.pool.non_lazy().iter().any(|id| {
                self.pool.added_ms(id).is_some_and(|added| due(added, true))
                    && self.record(id).is_some_and(|r| r.confirmed == 0)
            })
    }

    /// Whether an anchor may confirm a transaction whose oldest root is
    /// `oldest_root` (the depth rule of [`Tangle::compute_confirmation`]).
    fn within_depth(&self, oldest_root: u64) -> bool {
        oldest_root.saturating_add(self.config.anchor_depth_max) > self.latest_height
    }

    /// Whether an honest proposer anchors the stored `id` now, judged on
    /// its oldest root as [`Tangle::compute_confirmation`] would. `None`
    /// when the walk ran out of `budget` (judge it later, never drop it).
    /// The stored oldest root understates (it is refreshed only while the
    /// transaction is in the tip pool), so it settles only a "yes"; anything
    /// else is judged on the root recomputed through the unconfirmed
    /// ancestors.
    fn anchorable(
        &self,
        id: &Hash,
        memo: &mut HashMap<u32, u64>,
        budget: &mut usize,
    ) -> Option<Anchorable> {
        let Some(&slot) = self.index.get(id) else {
            return Some(Anchorable::Never);
        };
        let record = self.slot(slot);
        if record.confirmed > 0 {
            return Some(Anchorable::Never);
        }
        let verdict = |root: u64| {
            if !self.within_depth(root) {
                Anchorable::Never
            } else if self.latest_height.saturating_sub(root) > self.config.tips.below_max_depth {
                Anchorable::NotNow
            } else {
                Anchorable::Yes
            }
        };
        if verdict(record.omrsi) == Anchorable::Yes {
            return Some(Anchorable::Yes);
        }
        self.fresh_oldest_root(slot, memo, budget).map(verdict)
    }

    /// The oldest root of the unconfirmed stored `slot`, recomputed: the
    /// lowest confirmation height (of a confirmed transaction or an entry
    /// point; 0 for a parent not here) reached from it through unconfirmed
    /// transactions. `memo` keeps results between calls; each record
    /// walked costs one of `budget`, and `None` means it ran out.
    fn fresh_oldest_root(
        &self,
        slot: u32,
        memo: &mut HashMap<u32, u64>,
        budget: &mut usize,
    ) -> Option<u64> {
        if let Some(root) = memo.get(&slot) {
            return Some(*root);
        }
        // (slot, next parent, lowest root so far), post-order.
        let mut stack: Vec<(u32, usize, u64)> = vec![(slot, 0, u64::MAX)];
        while let Some(&(current, next, lowest)) = stack.last() {
            let Some(parent) = self.slot(current).parent(next) else {
                stack.pop();
                memo.insert(current, lowest);
                if let Some(top) = stack.last_mut() {
                    top.2 = top.2.min(lowest);
                }
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            let height = if let Some(height) = self.entry_points.get(&parent) {
                *height
            } else if let Some(&p) = self.index.get(&parent) {
                let record = self.slot(p);
                if record.confirmed > 0 {
                    record.confirmed
                } else if let Some(root) = memo.get(&p) {
                    *root
                } else {
                    if *budget == 0 {
                        return None;
                    }
                    *budget -= 1;
                    stack.push((p, 0, u64::MAX));
                    continue;
                }
            } else {
                0
            };
            if let Some(top) = stack.last_mut() {
                top.2 = top.2.min(height);
            }
        }
        memo.get(&slot).copied()
    }

    /// Make the anchor-driven requests exactly those for `needed` (sorted,
    /// without duplicates): what the anchor being checked still misses, as
    /// [`Tangle::compute_confirmation`] found it. Every other anchor request
    /// is cancelled, whichever anchor it was made for and whether it was
    /// asked by the walk or for the parents of a transaction fetched for
    /// it, so proposals that are never checked again (a Byzantine
    /// primary's, a view that moved on) cannot fill the table, and the
    /// anchor being checked always gets the room (gossip is evicted for
    /// it). Requests made between two checks for the parents of fetched
    /// transactions lie in the anchor's cone, so the next walk lists them
    /// again and keeps them.
    pub(crate) fn scope_anchor_requests(&mut self, needed: &[Hash]) {
        let kept = needed
            .iter()
            .filter(|id| self.requested.get(*id) == Some(&RequestKind::Anchor))
            .count();
        if kept < self.anchor_request_count {
            let keep: HashSet<Hash> = needed.iter().copied().collect();
            self.requested
                .retain(|id, kind| *kind != RequestKind::Anchor || keep.contains(id));
            self.anchor_request_count = kept;
            let requested = &self.requested;
            self.anchor_outbox
                .retain(|id| requested.get(id) == Some(&RequestKind::Anchor));
        }
        for id in needed {
            self.request_anchor(*id);
        }
    }

    /// An anchor proposal: first up to [`ANCHOR_TIPS_BY_AGE`] of the oldest
    /// unconfirmed transactions that the depth rule still allows and that
    /// are not below max depth (lazy ones included: fresh traffic never
    /// starves an older transaction, and one that left the tip pool stays
    /// confirmable), then unconfirmed non-lazy
    /// tips up to [`ANCHOR_TIPS_MAX`], unapproved ones first, newest first
    /// within each group. Transactions below max depth or refused by the
    /// depth rule, judged on their recomputed oldest root (the stored one
    /// understates outside the tip pool), are forgotten from the arrival
    /// list (pruning removes them later).
    pub fn propose_anchor(&mut self, now_ms: u64) -> DagAnchor {
        self.pool.expire(&self.config.tips, now_ms);
        let mut by_age: Vec<Hash> = Vec::new();
        let mut dead: Vec<u64> = Vec::new();
        let mut memo = HashMap::new();
        let mut budget = ROOT_WALK_MAX;
        for (arrival, (id, _)) in self.unconfirmed.iter().take(ANCHOR_SCAN_MAX) {
            if by_age.len() >= ANCHOR_TIPS_BY_AGE {
                break;
            }
            match self.anchorable(id, &mut memo, &mut budget) {
                Some(Anchorable::Yes) => by_age.push(*id),
                // Below max depth on its recomputed root (a parasite on
                // old history: honest proposers leave it, and it would sit
                // at the head of the list), or refused by the depth rule.
                Some(Anchorable::NotNow | Anchorable::Never) => dead.push(*arrival),
                // Not judged within the walk budget: kept for a later
                // proposal, never dropped on a guess.
                None => {}
            }
        }
        for arrival in dead {
            self.unconfirmed.remove(&arrival);
        }
        let taken: HashSet<Hash> = by_age.iter().copied().collect();
        let mut candidates: Vec<(bool, usize, Hash)> = Vec::new();
        for (i, (id, score, _)) in self.pool.iter_ordered().enumerate() {
            if score != TipScore::NonLazy {
                continue;
            }
            let Some(record) = self.record(id) else {
                continue;
            };
            if record.confirmed > 0 || taken.contains(id) {
                continue;
            }
            let approved = record
                .approvers
                .iter()
                .any(|a| self.slots[*a as usize].is_some());
            candidates.push((approved, usize::MAX - i, *id));
        }
        candidates.sort_unstable();
        let mut tips = by_age;
        tips.extend(
            candidates
                .into_iter()
                .take(ANCHOR_TIPS_MAX - tips.len())
                .map(|c| c.2),
        );
        tips.sort_unstable();
        DagAnchor { tips }
    }

    /// White-flag ordering and application of `anchor` carried by the block
    /// at `height`, without changing anything.
    ///
    /// The newly confirmed cone is every transaction reachable from the
    /// anchor's tips through parents that no earlier anchor confirmed. It is
    /// ordered by a post-order depth-first traversal: tips in ascending id
    /// order, parents of each transaction in their canonical (ascending)
    /// order, a transaction after all its unconfirmed parents. Each is then
    /// applied to a view of the DAG ledger in that order; the first valid
    /// transaction of a conflict wins and later ones are ignored (see
    /// [`crate::ledger`]). The result depends only on the DAG and the ledger,
    /// never on arrival order.
    ///
    /// # Errors
    /// [`ConfirmError`]; [`ConfirmError::NotSolid`] lists what to fetch.
    pub fn compute_confirmation(
        &self,
        anchor: &DagAnchor,
        height: u64,
    ) -> Result<Confirmation, ConfirmError> {
        if height <= self.latest_height {
            return Err(ConfirmError::HeightNotIncreasing {
                latest: self.latest_height,
                found: height,
            });
        }
        if anchor.tips.len() > ANCHOR_TIPS_MAX || anchor.tips.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ConfirmError::MalformedAnchor);
        }
        // Unknown ids of the cone: unknown tips, and the unknown ancestors
        // reached through waiting (pending) transactions.
        // A tip that is not stored nor an entry point is not solid here:
        // "not ready", whatever the walk finds (or runs out before finding).
        let mut missing = Vec::new();
        let mut seen: HashSet<Hash> = HashSet::new();
        let mut stack: Vec<Hash> = anchor
            .tips
            .iter()
            .filter(|t| !self.known(t))
            .copied()
            .collect();
        let not_solid = !stack.is_empty();
        while let Some(id) = stack.pop() {
            if seen.len() >= MISSING_WALK_MAX {
                break;
            }
            if !seen.insert(id) {
                continue;
            }
            match self.pending.get(&id) {
                Some(p) => stack.extend(p.tx.parents.iter().filter(|x| !self.known(x))),
                None => missing.push(id),
            }
        }
        if not_solid {
            missing.sort_unstable();
            missing.dedup();
            return Err(ConfirmError::NotSolid { missing });
        }

        let mut slots: Vec<u32> = Vec::new();
        let mut visited: HashSet<u32> = HashSet::new();
        let mut stack: Vec<(u32, usize)> = Vec::new();
        for tip in &anchor.tips {
            // A tip confirmed by an earlier anchor (or kept only as an entry
            // point) is refused, never skipped: a node that pruned it
            // entirely would fetch it back as unconfirmed and judge the
            // anchor differently. Honest proposers name unconfirmed tips.
            let Some(&slot) = self.index.get(tip) else {
                return Err(ConfirmError::TipAlreadyConfirmed(*tip));
            };
            if self.slot(slot).confirmed > 0 {
                return Err(ConfirmError::TipAlreadyConfirmed(*tip));
            }
            if !visited.insert(slot) {
                continue;
            }
            stack.push((slot, 0));
            while let Some(top) = stack.last_mut() {
                let (slot, next) = *top;
                let record = self.slot(slot);
                if let Some(parent) = record.parent(next) {
                    top.1 += 1;
                    let parent_slot = self.index.get(&parent).copied();
                    let parent_height = match parent_slot {
                        Some(p) => match self.slot(p).confirmed {
                            0 => None,
                            confirmed => Some(confirmed),
                        },
                        None => match self.entry_points.get(&parent) {
                            Some(height) => Some(*height),
                            None => {
                                // Not expected while the solid invariant
                                // holds (kept transactions' parents are kept
                                // or entry points); "not ready", never a panic.
                                return Err(ConfirmError::NotSolid {
                                    missing: vec![parent],
                                });
                            }
                        },
                    };
                    if let Some(parent_height) = parent_height {
                        // Measured from the last applied anchor, not from
                        // `height`: main-chain blocks without an anchor
                        // must not age the DAG (an idle DAG would otherwise
                        // become unanchorable).
                        if parent_height.saturating_add(self.config.anchor_depth_max)
                            <= self.latest_height
                        {
                            return Err(ConfirmError::TooDeep {
                                transaction: record.id,
                                parent,
                                parent_height,
                            });
                        }
                        continue;
                    }
                    let p = parent_slot.expect("unconfirmed parents are stored");
                    if visited.insert(p) {
                        if visited.len() > CONFIRMATION_CONE_MAX {
                            return Err(ConfirmError::ConeTooLarge);
                        }
                        stack.push((p, 0));
                    }
                } else {
                    slots.push(slot);
                    stack.pop();
                }
            }
        }

        let mut view = LedgerView::new(&self.ledger);
        let mut order = Vec::with_capacity(slots.len());
        let mut outcomes = Vec::with_capacity(slots.len());
        let mut applied = Vec::new();
        for slot in &slots {
            let record = self.slot(*slot);
            order.push(record.id);
            let outcome = view.apply(&record.transaction()).err();
            if outcome.is_none() {
                applied.push(record.id);
            }
            outcomes.push(outcome);
        }
        let commitment = AnchorCommitment {
            tips_hash: anchor.hash(),
            confirmed_root: merkle::root(&order),
            confirmed_count: order.len() as u64,
            applied_root: merkle::root(&applied),
            applied_count: applied.len() as u64,
        };
        Ok(Confirmation {
            height,
            anchor: anchor.clone(),
            order,
            outcomes,
            commitment,
            slots,
            changes: view.into_changes(),
            base_epoch: self.epoch,
        })
    }

    /// Whether `confirmation` was computed on the current state.
    pub(crate) fn is_current(&self, confirmation: &Confirmation) -> bool {
        confirmation.base_epoch == self.epoch && confirmation.height > self.latest_height
    }

    fn slot(&self, slot: u32) -> &Record {
        self.slots[slot as usize].as_ref().expect("live slot")
    }

    /// Commit a confirmation computed on the current state: mark the cone
    /// confirmed, apply the ledger changes, keep the lists for proofs, and
    /// re-score the tip pool against the new height.
    ///
    /// # Errors
    /// [`ConfirmError::Stale`] if anything was confirmed, pruned or
    /// credited ([`Tangle::credit`]) since: nothing changes then; compute
    /// it again.
    pub fn apply_confirmation(&mut self, confirmation: Confirmation) -> Result<(), ConfirmError> {
        if !self.is_current(&confirmation) {
            return Err(ConfirmError::Stale);
        }
        let height = confirmation.height;
        for (position, slot) in confirmation.slots.iter().enumerate() {
            let record = self.slots[*slot as usize].as_mut().expect("live slot");
            self.unconfirmed.remove(&record.arrival);
            record.confirmed = height;
            record.position = position as u32;
            if self.config.persist {
                self.writes.put(
                    persist::transaction_key(&record.id),
                    persist::record_value(record),
                );
            }
        }
        if self.config.persist {
            for (owner, account) in confirmation.changes.iter() {
                self.writes
                    .put(persist::account_key(owner), account.encode());
            }
        }
        self.ledger.commit(confirmation.changes);
        let applied = confirmation.outcomes.iter().map(Option::is_none).collect();
        let anchor = AnchorRecord {
            commitment: confirmation.commitment,
            order: confirmation.order,
            applied,
        };
        if self.config.persist {
            self.writes
                .put(persist::anchor_key(height), persist::anchor_value(&anchor));
        }
        self.anchors.insert(height, anchor);
        while self.anchors.len() > ANCHOR_RECORDS_MAX {
            if let Some((old, _)) = self.anchors.pop_first() {
                if self.config.persist {
                    self.writes.delete(persist::anchor_key(old));
                }
            }
        }
        self.latest_height = height;
        self.epoch += 1;
        if !confirmation.anchor.tips.is_empty() {
            let mut fallback = confirmation.anchor.tips;
            fallback.truncate(FALLBACK_TIPS_MAX);
            for old in &self.fallback {
                if fallback.len() >= FALLBACK_TIPS_MAX {
                    break;
                }
                if !fallback.contains(old) {
                    fallback.push(*old);
                }
            }
            self.fallback = fallback;
        }
        if self.config.persist {
            self.writes
                .put(persist::META_KEY.to_vec(), persist::meta_value(self));
        }
        self.rescore_tips();
        Ok(())
    }

    /// [`Tangle::compute_confirmation`] then [`Tangle::apply_confirmation`];
    /// on [`ConfirmError::NotSolid`] the missing ids are requested at base
    /// difficulty (see [`crate::pow`]) and become the only anchor-driven
    /// requests (those made for other anchors are cancelled).
    ///
    /// # Errors
    /// As [`Tangle::compute_confirmation`].
    pub fn confirm(
        &mut self,
        anchor: &DagAnchor,
        height: u64,
    ) -> Result<AnchorCommitment, ConfirmError> {
        match self.compute_confirmation(anchor, height) {
            Ok(confirmation) => {
                let commitment = confirmation.commitment;
                self.apply_confirmation(confirmation)?;
                self.scope_anchor_requests(&[]);
                Ok(commitment)
            }
            Err(ConfirmError::NotSolid { missing }) => {
                // Asked before (maybe lost): upgraded and asked again; what
                // other anchors asked for is cancelled.
                self.scope_anchor_requests(&missing);
                Err(ConfirmError::NotSolid { missing })
            }
            Err(e) => Err(e),
        }
    }

    fn rescore_tips(&mut self) {
        let params = self.config.tips;
        let latest = self.latest_height;
        let ids: Vec<Hash> = self.pool.iter_ordered().map(|(id, _, _)| *id).collect();
        let mut scores: HashMap<Hash, TipScore> = HashMap::with_capacity(ids.len());
        for id in ids {
            let Some(&slot) = self.index.get(&id) else {
                scores.insert(id, TipScore::Lazy);
                continue;
            };
            let parents: Vec<Hash> = self.slot(slot).parents().collect();
            let (omrsi, ymrsi) = self.roots_of(&parents);
            let record = self.slots[slot as usize].as_mut().expect("live slot");
            record.omrsi = omrsi;
            record.ymrsi = ymrsi;
            let (oldest, youngest) = record.roots();
            let score = params.score(oldest, youngest, latest);
            scores.insert(id, score);
        }
        self.pool
            .rescore(|id| scores.get(id).copied().unwrap_or(TipScore::Lazy));
    }

    /// Proof that `id` is final under its anchor: its place in the confirmed
    /// tree and, if it was applied, in the applied tree. `None` if it is not
    /// confirmed, or its anchor's lists were pruned. Costs O(cone) hashes.
    pub fn prove(&self, id: &Hash) -> Option<DagFinalityProof> {
        let record = self.record(id)?;
        if record.confirmed == 0 {
            return None;
        }
        let anchor = self.anchors.get(&record.confirmed)?;
        let position = record.position as usize;
        if anchor.order.get(position) != Some(id) {
            debug_assert!(false, "anchor list and record disagree");
            return None;
        }
        let confirmed = merkle::prove(&anchor.order, position)?;
        let applied = if *anchor.applied.get(position)? {
            let list: Vec<Hash> = anchor
                .order
                .iter()
                .zip(&anchor.applied)
                .filter(|(_, a)| **a)
                .map(|(h, _)| *h)
                .collect();
            let index = anchor.applied[..position].iter().filter(|a| **a).count();
            merkle::prove(&list, index)
        } else {
            None
        };
        Some(DagFinalityProof {
            anchor: anchor.commitment,
            confirmed,
            applied,
        })
    }

    /// The commitment of the anchor applied at `height`, if still kept.
    pub fn commitment(&self, height: u64) -> Option<AnchorCommitment> {
        self.anchors.get(&height).map(|a| a.commitment)
    }

    /// Cumulative approval of `id` (see [`PreConfirmation`]); `None` if it
    /// is not stored.
    pub fn pre_confirmation(&self, id: &Hash) -> Option<PreConfirmation> {
        if let Some(&height) = self.entry_points.get(id) {
            return Some(PreConfirmation {
                approvers: 0,
                issuers: 0,
                complete: false,
                confirmed_height: Some(height),
            });
        }
        let start = *self.index.get(id)?;
        let record = self.slot(start);
        let mut visited: HashSet<u32> = HashSet::new();
        let mut issuers: HashSet<PublicKey> = HashSet::new();
        let mut queue: VecDeque<u32> = record.approvers.iter().copied().collect();
        let mut complete = true;
        while let Some(slot) = queue.pop_front() {
            let Some(approver) = self.slots[slot as usize].as_ref() else {
                continue;
            };
            if visited.contains(&slot) {
                continue;
            }
            if visited.len() >= PRECONFIRMATION_WALK_MAX {
                complete = false;
                break;
            }
            visited.insert(slot);
            issuers.insert(approver.issuer());
            queue.extend(approver.approvers.iter().copied());
        }
        Some(PreConfirmation {
            approvers: visited.len() as u32,
            issuers: issuers.len() as u32,
            complete,
            confirmed_height: (record.confirmed > 0).then_some(record.confirmed),
        })
    }

    /// Forget what the anchors up to `height` (inclusive, at most the latest)
    /// made unnecessary:
    ///
    /// * transactions confirmed at or below `height`, except those some kept
    ///   transaction approves, which stay as *solid entry points* (id and
    ///   height only);
    /// * unconfirmed transactions that are lazy below max depth relative to
    ///   `height` (they can never be selected; everything approving them is
    ///   lazy too), unless something kept approves them;
    /// * anchor lists for proofs at or below `height`.
    ///
    /// Afterwards the store holds only unconfirmed non-lazy transactions,
    /// those confirmed above `height`, and their boundary.
    pub fn prune(&mut self, height: u64) -> PruneOutcome {
        let height = height.min(self.latest_height);
        let lazy_below = height.saturating_sub(self.config.tips.below_max_depth);
        let mut forget = vec![false; self.slots.len()];
        // The stored oldest root understates outside the tip pool: one
        // that looks too old is recomputed, and kept if the walk runs out.
        let mut memo = HashMap::new();
        let mut budget = ROOT_WALK_MAX;
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(r) = slot {
                forget[i] = if r.confirmed > 0 {
                    r.confirmed <= height
                } else {
                    r.omrsi < lazy_below
                        && self
                            .fresh_oldest_root(i as u32, &mut memo, &mut budget)
                            .is_some_and(|root| root < lazy_below)
                };
            }
        }
        // Keep unconfirmed ancestors of kept transactions, so nothing kept
        // ever points at a forgotten unconfirmed parent.
        let mut work: Vec<u32> = (0..self.slots.len() as u32)
            .filter(|i| self.slots[*i as usize].is_some() && !forget[*i as usize])
            .collect();
        while let Some(slot) = work.pop() {
            for parent in self.slot(slot).parents() {
                if let Some(&p) = self.index.get(&parent) {
                    if forget[p as usize] && self.slot(p).confirmed == 0 {
                        forget[p as usize] = false;
                        work.push(p);
                    }
                }
            }
        }
        let mut entry_points: HashMap<Hash, u64> = HashMap::new();
        for id in self.genesis {
            entry_points.insert(id, 0);
        }
        let mut keep_point = |id: &Hash, index: &HashMap<Hash, u32>, slots: &[Option<Record>]| {
            if let Some(&p) = index.get(id) {
                if forget[p as usize] {
                    let confirmed = slots[p as usize].as_ref().expect("live").confirmed;
                    entry_points.insert(*id, confirmed);
                }
            } else if let Some(&h) = self.entry_points.get(id) {
                entry_points.insert(*id, h);
            }
        };
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(r) = slot {
                if !forget[i] {
                    for parent in r.parents() {
                        keep_point(&parent, &self.index, &self.slots);
                    }
                }
            }
        }
        for id in &self.fallback {
            keep_point(id, &self.index, &self.slots);
        }
        // Tombstones: every id confirmed within the last `anchor_depth_max`
        // anchors, so a late approval of one is recognised as confirmed
        // (not re-fetched as new) by every node alike.
        let recent =
            |h: u64| h > 0 && h.saturating_add(self.config.anchor_depth_max) > self.latest_height;
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(r) = slot {
                if forget[i] && r.confirmed > 0 && recent(r.confirmed) {
                    entry_points.insert(r.id, r.confirmed);
                }
            }
        }
        for (id, h) in &self.entry_points {
            if recent(*h) {
                entry_points.insert(*id, *h);
            }
        }
        let mut removed = 0;
        for (i, dropped) in forget.iter().enumerate() {
            if !*dropped {
                if let Some(r) = self.slots[i].as_mut() {
                    r.approvers.retain(|a| !forget[*a as usize]);
                }
                continue;
            }
            if let Some(r) = self.slots[i].take() {
                if r.confirmed == 0 {
                    self.unconfirmed.remove(&r.arrival);
                }
                self.index.remove(&r.id);
                self.pool.remove(&r.id);
                self.free.push(i as u32);
                removed += 1;
                if self.config.persist {
                    self.writes.delete(persist::transaction_key(&r.id));
                }
            }
        }
        if self.config.persist {
            // Sorted, so that the batch is the same on every run.
            let mut added: Vec<(&Hash, &u64)> = entry_points
                .iter()
                .filter(|(id, _)| !self.entry_points.contains_key(*id))
                .collect();
            added.sort_unstable();
            for (id, height) in added {
                self.writes
                    .put(persist::entry_point_key(id), height.encode());
            }
            let mut gone: Vec<&Hash> = self
                .entry_points
                .keys()
                .filter(|id| !entry_points.contains_key(*id))
                .collect();
            gone.sort_unstable();
            for id in gone {
                self.writes.delete(persist::entry_point_key(id));
            }
        }
        self.entry_points = entry_points;
        while let Some((&old, _)) = self.anchors.first_key_value() {
            if old > height {
                break;
            }
            self.anchors.pop_first();
            if self.config.persist {
                self.writes.delete(persist::anchor_key(old));
            }
        }
        // Waiting transactions can no longer be completed by pruned parents.
        self.epoch += 1;
        PruneOutcome {
            removed,
            entry_points: self.entry_points.len(),
        }
    }

    /// Heap and inline bytes held by the store, its indexes, the buffer, the
    /// tip pool and the anchor lists (not the DAG ledger). Computed from
    /// capacities; allocator overhead is not included.
    pub fn memory_bytes(&self) -> usize {
        let record_heap: usize = self
            .slots
            .iter()
            .flatten()
            .map(|r| r.tx_heap_bytes() + r.approvers.capacity() * 4)
            .sum();
        let pending_heap: usize = self
            .pending
            .values()
            .map(|p| p.tx.parents.capacity() * 32 + payload_heap(&p.tx.payload))
            .sum();
        self.slots.capacity() * std::mem::size_of::<Option<Record>>()
            + record_heap
            + self.free.capacity() * 4
            + self.index.allocation_size()
            + self.entry_points.allocation_size()
            + self.pending.allocation_size()
            + pending_heap
            + self.pending_order.len() * 64
            + self.waiting.allocation_size()
            + self
                .waiting
                .values()
                .map(|w| w.capacity() * 32)
                .sum::<usize>()
            + self.requested.allocation_size()
            + self.outbox.capacity() * 32
            + self.anchor_outbox.capacity() * 32
            + self.gossip_requests.capacity() * 40
            + self.rates.len() * (33 + 48 + 32)
            + self.rates.values().map(|r| r.capacity() * 8).sum::<usize>()
            + self.pool.heap_bytes()
            + self.unconfirmed.len() * (8 + 32 + 8 + 16)
            + self
                .anchors
                .values()
                .map(|a| a.order.capacity() * 32 + a.applied.capacity() + 200)
                .sum::<usize>()
    }
}

fn payload_heap(payload: &DagPayload) -> usize {
    match payload {
        DagPayload::Data { record } => record.capacity(),
        DagPayload::Command { command, .. } => command.capacity(),
        DagPayload::Transfer { .. } => 0,
        DagPayload::Sealed { payload } => {
            payload.ciphertext.capacity()
                + payload
                    .recipients
                    .iter()
                    .map(|r| core::mem::size_of_val(r) + r.encapsulated_key.capacity())
                    .sum::<usize>()
        }
    }
}

impl Record {
    /// The (oldest, youngest) root snapshot indexes that score this record:
    /// its confirming anchor's height once confirmed, its own otherwise.
    pub(crate) fn roots(&self) -> (u64, u64) {
        if self.confirmed > 0 {
            (self.confirmed, self.confirmed)
        } else {
            (self.omrsi, self.ymrsi)
        }
    }
    fn tx_heap_bytes(&self) -> usize {
        self.encoded.len()
    }

    fn transaction(&self) -> DagTransaction {
        DagTransaction::decode(&self.encoded).expect("stored encodings are canonical")
    }

    fn parent_count(&self) -> usize {
        u32::from_le_bytes(self.encoded[4..8].try_into().expect("4 bytes")) as usize
    }

    fn parent(&self, index: usize) -> Option<Hash> {
        if index >= self.parent_count() {
            return None;
        }
        let start = 8 + 32 * index;
        Some(Hash(
            self.encoded[start..start + 32]
                .try_into()
                .expect("32 bytes"),
        ))
    }

    fn parents(&self) -> impl Iterator<Item = Hash> + '_ {
        (0..self.parent_count()).map(|i| self.parent(i).expect("in range"))
    }

    fn issuer(&self) -> PublicKey {
        let start = 8 + 32 * self.parent_count();
        PublicKey(
            self.encoded[start..start + 32]
                .try_into()
                .expect("32 bytes"),
        )
    }
}
