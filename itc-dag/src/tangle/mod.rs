//! [`Tangle`]: the sans-IO DAG node. Transactions go in with
//! [`Tangle::attach`]; requests for missing parents come out of
//! [`Tangle::poll_request`]; parents for new transactions come from
//! [`Tangle::select_tips`]; anchors are confirmed with
//! [`Tangle::confirm`] (or its two halves, [`Tangle::compute_confirmation`]
//! and [`Tangle::apply_confirmation`]); [`Tangle::prune`] forgets what
//! finalized anchors made unnecessary. Time (`now_ms`) and randomness
//! (`seed`) are arguments; nothing here reads a clock or an RNG.

//!
//! # Parts
//!
//! [`Tangle`] is a facade over parts that own their data; none reaches
//! into another's:
//!
//! * `store`: solid transactions, approver edges, solid entry points,
//!   arrival order of unconfirmed transactions;
//! * `solidifier`: transactions waiting for parents, parent requests;
//! * `rates`: per-class issue rates for proof-of-work admission;
//! * [`crate::tips`]: the tip pool;
//! * `confirmation`: the white-flag walk, applied anchors and their lists;
//! * `pruning`: what a prune forgets and keeps as entry points;
//! * `anchor_role`: proposals, prepared confirmations and the
//!   [`itc_core::anchoring::Anchoring`] implementation;
//! * `persist`: the storage layout, the write journal, restore.
//!
//! The facade orchestrates them and checks what spans parts;
//! [`Tangle::check_invariants`] runs every part's checks.

use hashbrown::HashMap;
use itc_core::hash::{Domain, Hash, Hasher};
use itc_core::keys::{Keypair, PublicKey, SigningDomain};
use itc_core::types::{DagAnchor, ANCHOR_TIPS_MAX};
use itc_core::Encode;

mod anchor_role;
mod config;
mod confirmation;
mod persist;
mod pruning;
mod rates;
mod solidifier;
mod store;
#[cfg(test)]
mod tests;
mod types;

pub use self::config::{
    genesis_entry_points, DagConfig, ANCHOR_DEPTH_MAX_DEFAULT, ANCHOR_INTERVAL_MS_DEFAULT,
    PRUNE_KEEP_HEIGHTS_DEFAULT,
};
pub use self::persist::RestoreError;
pub use self::types::{
    AttachError, Attached, ConfirmError, InvariantViolation, PreConfirmation, PruneOutcome,
    RefusedDeposit, TanglePart, TxStatus,
};

use self::anchor_role::AnchorRole;
use self::confirmation::{AnchorRecord, Anchors};
use self::persist::Journal;
use self::rates::Rates;
use self::solidifier::{RequestKind, Solidifier};
use self::store::Store;
use crate::finality::{AnchorCommitment, Confirmation, DagFinalityProof};
use crate::ledger::{DagLedger, DagLedgerError};
use crate::pow::{self, SecurityLevels};
use crate::tips::{SplitMix64, TipPool, TipScore};
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

/// A DAG node's state: store, solidifier, tip pool, DAG ledger and anchors.
#[derive(Debug)]
pub struct Tangle {
    config: DagConfig,
    store: Store,
    solidifier: Solidifier,
    rates: Rates,
    pool: TipPool,
    anchors: Anchors,
    ledger: DagLedger,
    anchor_role: AnchorRole,
    journal: Journal,
    /// Reused encoding buffer of [`Tangle::attach`].
    scratch: Vec<u8>,
}

impl Tangle {
    /// An empty tangle: only the genesis entry points.
    pub fn new(config: DagConfig) -> Self {
        let genesis = genesis_entry_points(config.chain_id);
        Tangle {
            config,
            store: Store::new(genesis),
            solidifier: Solidifier::default(),
            rates: Rates::new(config.pow),
            pool: TipPool::default(),
            anchors: Anchors::new(genesis),
            ledger: DagLedger::new(),
            anchor_role: AnchorRole::default(),
            journal: Journal::new(config.persist),
            scratch: Vec::with_capacity(512),
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
        self.anchor_role.forget_prepared();
        self.anchors.bump_epoch();
        self.journal
            .put_account(&owner, &self.ledger.account(&owner));
        Ok(())
    }

    /// Deposits the DAG ledger could not credit, oldest first (the last
    /// [`REFUSED_DEPOSITS_MAX`]; kept in memory only).
    pub fn refused_deposits(&self) -> impl Iterator<Item = &RefusedDeposit> {
        self.anchor_role.refused_deposits()
    }

    /// Sparse Merkle root of the DAG ledger's accounts.
    pub fn ledger_state_root(&mut self) -> Hash {
        self.ledger.state_root()
    }

    /// Solid transactions stored.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether no transaction is stored.
    pub fn is_empty(&self) -> bool {
        self.store.len() == 0
    }

    /// Transactions waiting for parents.
    pub fn pending_len(&self) -> usize {
        self.solidifier.len()
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
        self.store.entry_point_count()
    }

    /// Height of the latest applied anchor (0 before any).
    pub fn latest_height(&self) -> u64 {
        self.anchors.latest_height()
    }

    /// A stored transaction (decoded from its stored encoding).
    pub fn get(&self, id: &Hash) -> Option<DagTransaction> {
        self.store.record(id).map(|r| r.transaction())
    }

    /// Where `id` stands on this node.
    pub fn status(&self, id: &Hash) -> TxStatus {
        if let Some(status) = self.store.status(id) {
            return status;
        }
        if self.solidifier.contains(id) {
            return TxStatus::Pending;
        }
        TxStatus::Unknown
    }

    /// Ids approving `id` directly (stored ones), in attach order.
    pub fn approvers(&self, id: &Hash) -> Vec<Hash> {
        self.store.approvers(id)
    }

    /// The next id to request from peers (a missing parent, or a missing
    /// anchor tip): what an anchor needs first, then gossip's missing
    /// parents, oldest first. The caller sends it and, on timeout, may
    /// re-request everything in [`Tangle::wanted`].
    pub fn poll_request(&mut self) -> Option<Hash> {
        self.solidifier.poll_request()
    }

    /// All ids currently wanted, sorted.
    pub fn wanted(&self) -> Vec<Hash> {
        self.solidifier.wanted()
    }

    /// Whether `id` is stored, an entry point or waiting for parents.
    fn seen(&self, id: &Hash) -> bool {
        self.store.known(id) || self.solidifier.contains(id)
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
    fn scope_anchor_requests(&mut self, needed: &[Hash]) {
        let store = &self.store;
        self.solidifier
            .scope_anchor_requests(needed, |id| store.known(id));
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
        let (level, key) = self.rates.level_of(issuer, levels)?;
        Ok(self.rates.required_bits(level, &key, now_ms))
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
        debug_assert_eq!(self.check_bounds(), Ok(()));
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
        if self.seen(&id) {
            return Err(AttachError::Duplicate);
        }
        let (level, rate_key) = self.rates.level_of(&tx.issuer, levels)?;
        let relaxed = self.solidifier.is_anchor_request(&id);
        let required = if relaxed {
            self.config.pow.base_bits(level)
        } else {
            self.rates.required_bits(level, &rate_key, now_ms)
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
        if self.store_full() {
            return Err(AttachError::StoreFull);
        }
        self.solidifier.unrequest(&id);
        self.rates.record_issue(rate_key, now_ms);
        Ok(self.insert_checked(id, tx, now_ms, relaxed))
    }

    fn store_full(&self) -> bool {
        self.store.len() >= self.config.transactions_max.min(STORE_TRANSACTIONS_MAX)
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
        if self.seen(&id) {
            return Err(AttachError::Duplicate);
        }
        if self.store_full() {
            return Err(AttachError::StoreFull);
        }
        let relaxed = self.solidifier.unrequest(&id) == Some(RequestKind::Anchor);
        let attached = self.insert_checked(id, tx, now_ms, relaxed);
        debug_assert_eq!(self.check_bounds(), Ok(()));
        Ok(attached)
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
            .filter(|p| !self.store.known(p))
            .copied()
            .collect();
        if missing.is_empty() {
            let solidified = self.insert_solid(id, tx, now_ms);
            return Attached::Solid { solidified };
        }
        self.solidifier.buffer(id, tx, &missing, relaxed, now_ms);
        Attached::Pending {
            missing: missing.len(),
        }
    }

    /// Store a solid transaction and solidify whatever waited on it.
    fn insert_solid(&mut self, id: Hash, tx: DagTransaction, now_ms: u64) -> usize {
        let mut work = vec![(id, tx)];
        let mut solidified = 0;
        while let Some((id, tx)) = work.pop() {
            solidified += 1;
            self.solidifier.unrequest(&id);
            let (omrsi, ymrsi) = self.store.roots_of(&tx.parents);
            self.store
                .insert(id, &tx, (omrsi, ymrsi), now_ms, &mut self.journal);
            for parent in &tx.parents {
                self.pool.referenced(&self.config.tips, parent);
            }
            let score = self
                .config
                .tips
                .score(omrsi, ymrsi, self.anchors.latest_height());
            self.pool
                .insert(&self.config.tips, id, tx.issuer, score, now_ms);
            let store = &self.store;
            self.solidifier
                .arrived(&id, now_ms, |p| store.known(p), &mut work);
        }
        solidified
    }

    /// Up to [`crate::TipParams::parents`] tips to approve, in canonical order:
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
        let latest = self.anchors.latest_height();
        let below_max_depth = self.config.tips.below_max_depth;
        let young = |id: &Hash| match self.status(id) {
            TxStatus::Confirmed { height } | TxStatus::EntryPoint { height } => {
                latest.saturating_sub(height) <= below_max_depth
            }
            _ => false,
        };
        let fallback = self.anchors.fallback();
        let padding: Vec<Hash> = fallback.iter().filter(|id| young(id)).copied().collect();
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
            chosen.extend(fallback.first().copied());
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
        let latest = self.anchors.latest_height();
        if height <= latest {
            return Err(ConfirmError::HeightNotIncreasing {
                latest,
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
        let unknown_tips: Vec<Hash> = anchor
            .tips
            .iter()
            .filter(|t| !self.store.known(t))
            .copied()
            .collect();
        if !unknown_tips.is_empty() {
            let missing = self
                .solidifier
                .missing_cone(unknown_tips, |id| self.store.known(id));
            return Err(ConfirmError::NotSolid { missing });
        }
        confirmation::white_flag(
            &self.store,
            &self.ledger,
            &self.anchors,
            self.config.anchor_depth_max,
            anchor,
            height,
        )
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
        if !self.anchors.is_current(&confirmation) {
            return Err(ConfirmError::Stale);
        }
        let Confirmation {
            height,
            anchor,
            order,
            outcomes,
            commitment,
            slots,
            changes,
            ..
        } = confirmation;
        for (position, slot) in slots.iter().enumerate() {
            self.store
                .confirm(*slot, height, position as u32, &mut self.journal);
        }
        for (owner, account) in changes.iter() {
            self.journal.put_account(owner, account);
        }
        self.ledger.commit(changes);
        let applied = outcomes.iter().map(Option::is_none).collect();
        let record = AnchorRecord::new(commitment, order, applied);
        self.anchors
            .commit(height, anchor.tips, record, &mut self.journal);
        self.rescore_tips();
        debug_assert_eq!(self.check_bounds(), Ok(()));
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

    /// Re-score every pool tip against the latest height, from its
    /// parents' roots (lazy ones leave the pool).
    fn rescore_tips(&mut self) {
        let params = self.config.tips;
        let latest = self.anchors.latest_height();
        let ids: Vec<Hash> = self.pool.iter_ordered().map(|(id, _, _)| *id).collect();
        let mut scores: HashMap<Hash, TipScore> = HashMap::with_capacity(ids.len());
        for id in ids {
            let Some(slot) = self.store.slot_of(&id) else {
                scores.insert(id, TipScore::Lazy);
                continue;
            };
            let (oldest, youngest) = self.store.refresh_roots(slot);
            scores.insert(id, params.score(oldest, youngest, latest));
        }
        self.pool
            .rescore(|id| scores.get(id).copied().unwrap_or(TipScore::Lazy));
    }

    /// Rebuild the tip pool after a restore: stored transactions nobody
    /// approves, in slot order, stamped `now_ms`.
    fn restore_tips(&mut self, now_ms: u64) {
        let latest = self.anchors.latest_height();
        for (_, record) in self.store.records() {
            if self.store.is_approved(record) {
                continue;
            }
            let (oldest, youngest) = record.roots();
            let score = self.config.tips.score(oldest, youngest, latest);
            self.pool.insert(
                &self.config.tips,
                record.id(),
                record.issuer(),
                score,
                now_ms,
            );
        }
    }

    /// Proof that `id` is final under its anchor: its place in the confirmed
    /// tree and, if it was applied, in the applied tree. `None` if it is not
    /// confirmed, or its anchor's lists were pruned. Costs O(cone) hashes.
    pub fn prove(&self, id: &Hash) -> Option<DagFinalityProof> {
        self.anchors.prove(&self.store, id)
    }

    /// The commitment of the anchor applied at `height`, if still kept.
    pub fn commitment(&self, height: u64) -> Option<AnchorCommitment> {
        self.anchors.commitment(height)
    }

    /// Cumulative approval of `id` (see [`PreConfirmation`]); `None` if it
    /// is not stored.
    pub fn pre_confirmation(&self, id: &Hash) -> Option<PreConfirmation> {
        self.store.pre_confirmation(id)
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
        let latest = self.anchors.latest_height();
        let height = height.min(latest);
        let plan = pruning::plan(
            &self.store,
            self.anchors.fallback(),
            height,
            latest,
            self.config.tips.below_max_depth,
            self.config.anchor_depth_max,
        );
        let pool = &mut self.pool;
        let removed =
            self.store
                .apply_prune(&plan.forget, plan.entry_points, &mut self.journal, |id| {
                    pool.remove(id)
                });
        self.anchors.prune_through(height, &mut self.journal);
        // Waiting transactions can no longer be completed by pruned parents.
        self.anchors.bump_epoch();
        debug_assert_eq!(self.check_invariants(), Ok(()));
        PruneOutcome {
            removed,
            entry_points: self.store.entry_point_count(),
        }
    }

    /// Heap and inline bytes held by the store, its indexes, the buffer, the
    /// tip pool and the anchor lists (not the DAG ledger). Computed from
    /// capacities; allocator overhead is not included.
    pub fn memory_bytes(&self) -> usize {
        self.store.memory_bytes()
            + self.solidifier.memory_bytes()
            + self.rates.memory_bytes()
            + self.pool.heap_bytes()
            + self.anchors.memory_bytes()
    }

    /// Bounds every part keeps, checked in O(1): cheap enough for the end
    /// of every mutating call in debug builds.
    fn check_bounds(&self) -> Result<(), InvariantViolation> {
        self.store.check_bounds()?;
        self.solidifier.check_bounds()?;
        self.anchor_role.check_invariants()?;
        Ok(())
    }

    /// Check every invariant of the tangle, part by part and then across
    /// parts; `Ok` in every state the public API can reach (including
    /// after pruning, a restore from storage this tangle wrote, and any
    /// input from the network). Costs O(stored transactions + edges +
    /// buffer + requests + kept anchor lists): for tests, simulators and
    /// debug checks, not for every transaction.
    ///
    /// Within parts: the store's index, free list, approver edges (exact
    /// both ways), entry points and arrival list; the solidifier's buffer,
    /// waiting lists and request table; the rate classes' bounds; the tip
    /// pool's lists; the kept anchor lists against their commitments; the
    /// ledger's funded count. Across parts: every parent of a stored
    /// transaction is stored or an entry point; nothing waited for or
    /// requested is known; every kept anchor list names stored
    /// transactions confirmed there, at their position; nothing is
    /// confirmed above the latest anchor; every fallback tip is known;
    /// every tip is stored, and its score is what its roots give at the
    /// latest height.
    ///
    /// # Errors
    /// The first [`InvariantViolation`] found.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.store.check_invariants()?;
        let store = &self.store;
        self.solidifier.check_invariants(|id| store.known(id))?;
        self.rates.check_invariants()?;
        self.pool
            .check_invariants(&self.config.tips)
            .map_err(|what| InvariantViolation::new(TanglePart::Tips, what))?;
        self.anchors.check_invariants()?;
        self.anchors.check_against(&self.store)?;
        self.anchor_role.check_invariants()?;
        self.ledger
            .check_invariants()
            .map_err(|what| InvariantViolation::new(TanglePart::Ledger, what))?;
        let latest = self.anchors.latest_height();
        for (id, score, _) in self.pool.iter_ordered() {
            let Some(record) = self.store.record(id) else {
                return Err(InvariantViolation::new(
                    TanglePart::Tips,
                    "a tip is not stored",
                ));
            };
            let (oldest, youngest) = record.roots();
            if self.config.tips.score(oldest, youngest, latest) != score {
                return Err(InvariantViolation::new(
                    TanglePart::Tips,
                    "a tip's score is not what its roots give",
                ));
            }
        }
        Ok(())
    }
}

const _: () = assert!(PARENTS_PADDED <= PARENTS_MAX);
