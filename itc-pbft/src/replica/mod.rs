//! The sans-IO PBFT replica.
//!
//! See the crate documentation for the driver loop. This module holds the
//! state machine: the message log (one slot per sequence number inside
//! the watermark window), the view-change state, the transaction pool and the
//! ledger.

use crate::anchoring::{AnchorError, Anchoring, NoAnchoring};
use crate::certificate::{DoubleVoteEvidence, PreparedCertificate};
use crate::config::*;
use crate::message::{
    Decision, Message, NewView, PrePrepare, PreparedEntry, ViewChange, ViewChangeRef,
    STATE_TRANSFER_BLOCKS_MAX, VIEW_CHANGE_PREPARED_MAX, WATERMARK_WINDOW,
};
use crate::persist::{self, SlotRecord, ViewRecord};
use crate::ready::{Outgoing, Ready, Recipient};
use itc_core::encoding::Encode;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::ledger::{BlockContext, Ledger, TxError, STORAGE_META_KEY};
use itc_core::storage::Storage;
use itc_core::types::{
    Block, BlockHeader, ChainId, CommitCertificate, Payload, Threshold, Transaction, ValidatorSet,
    Vote, VoteKind, VALIDATORS_MAX,
};
use itc_core::Hash;
use std::collections::{BTreeMap, BTreeSet};

mod error;
mod normal_case;
mod state_transfer;
mod timers;
mod view_change;

pub use error::{MessageError, OpenError, ProposalError, SubmitError};
pub use view_change::{new_view_decision, NewViewDecision};

/// Whether the replica runs the normal case or is changing view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Normal-case operation in the current view.
    Normal,
    /// Waiting for the new view after sending a view change.
    ViewChange,
}

/// A proposal accepted for a slot in the current view.
#[derive(Clone, Debug)]
struct Proposal {
    block: Block,
    hash: Hash,
    /// The primary's signed pre-prepare (absent for new-view re-proposals).
    pre_prepare: Option<PrePrepare>,
    /// Checked against the ledger (so signatures need not be re-verified).
    validated: bool,
    /// Carried by a prepared certificate in a new view: valid by quorum.
    certified: bool,
    /// Everything but the anchor checked; the anchor waits for side-chain
    /// data, so only it is checked again.
    anchor_pending: bool,
}

impl Proposal {
    fn votable(&self) -> bool {
        self.validated || self.certified
    }
}

/// A new view this replica cannot check yet: some view changes it names
/// have not arrived. Bounded by the validator set.
#[derive(Clone, Debug)]
struct PendingNewView {
    /// Who sent it (and is asked for the missing view changes).
    from: PublicKey,
    new_view: NewView,
    /// Members whose named view change has not arrived.
    missing: BTreeSet<PublicKey>,
    /// Named view changes that arrived while it waited.
    received: BTreeMap<PublicKey, ViewChange>,
}

/// The log entry of one sequence number.
#[derive(Clone, Debug, Default)]
struct Slot {
    view: u64,
    proposal: Option<Proposal>,
    prepares: BTreeMap<PublicKey, Vote>,
    commits: BTreeMap<PublicKey, Vote>,
    /// Highest-view prepared certificate, kept across views.
    prepared: Option<PreparedEntry>,
    prepare_vote: Option<(u64, Hash)>,
    commit_vote: Option<(u64, Hash)>,
    /// Commit certificate once committed-local.
    certificate: Option<CommitCertificate>,
}

impl Slot {
    fn enter_view(&mut self, view: u64) {
        self.view = view;
        self.prepares.clear();
        self.commits.clear();
        if self.certificate.is_none() {
            self.proposal = None;
        }
    }

    /// Whether the slot holds a prepared certificate for `hash` in `view`.
    fn prepared_for(&self, view: u64, hash: Hash) -> bool {
        self.prepared
            .as_ref()
            .is_some_and(|p| p.certificate.view == view && p.certificate.block_hash == hash)
    }

    fn record(&self) -> SlotRecord {
        SlotRecord {
            proposal: self
                .proposal
                .as_ref()
                .map(|p| (self.view, p.block.clone(), p.certified)),
            prepared: self.prepared.clone(),
            prepare_vote: self.prepare_vote,
            commit_vote: self.commit_vote,
        }
    }
}

/// The primary of `view` over `set`: round-robin in the set's key order
/// (`view mod n`). Weights count for quorums, not for leadership.
pub fn primary_of(view: u64, set: &ValidatorSet) -> PublicKey {
    let validators = set.validators();
    validators[(view % validators.len() as u64) as usize].key
}

/// A PBFT replica: a deterministic state machine without I/O.
///
/// Inputs: [`Replica::handle_message`] / [`Replica::handle`],
/// [`Replica::tick`], [`Replica::submit_transaction`]. Outputs:
/// [`Replica::ready`], whose [`Ready::persist`] releases the messages that
/// depend on durable state. [`Replica::next_deadline`] says when to tick.
///
/// `A` is the side chain that blocks anchor ([`crate::anchoring`]); the
/// default, [`NoAnchoring`], is a main chain alone.
#[derive(Debug)]
pub struct Replica<A = NoAnchoring> {
    keypair: Keypair,
    me: PublicKey,
    chain_id: ChainId,
    view_change_timeout_ms: u64,
    retransmit_interval_ms: u64,
    block_transactions_max: usize,
    block_time_drift_ms_max: u64,

    ledger: Ledger,
    current_set_hash: Hash,
    sets: BTreeMap<u64, ValidatorSet>,
    executed: u64,
    last_hash: Hash,
    last_time_ms: u64,
    decisions: BTreeMap<u64, Decision>,

    view: u64,
    status: Status,
    /// Highest sequence number the new view of the current view settled;
    /// fresh proposals in this view must be above it.
    view_floor: u64,
    slots: BTreeMap<u64, Slot>,
    /// The latest view change of each validator of the current set, for
    /// this view or above, whatever its distance (one per validator, so
    /// bounded by [`VALIDATORS_MAX`]): a replica many views behind still
    /// sees who is ahead and joins them.
    view_changes: BTreeMap<PublicKey, ViewChange>,
    own_view_change: Option<ViewChange>,
    /// The new view that started the current view (sent or accepted).
    current_new_view: Option<NewView>,
    /// The view changes `current_new_view` names, to answer replicas that
    /// lack some of them (at most one per validator).
    new_view_changes: Vec<ViewChange>,
    /// A new view waiting for view changes it names that this replica has
    /// not received (asked from its sender).
    pending_new_view: Option<PendingNewView>,
    /// Peers sent the view changes of the current new view this
    /// retransmission interval (validators only).
    view_changes_served: BTreeSet<PublicKey>,
    attempts: u32,

    pool: BTreeMap<(PublicKey, u64), Transaction>,
    /// Senders whose next transaction (their account's nonce) is pooled:
    /// exactly those, kept in step with every change to the pool or a
    /// nonce, so finding executable work never scans the whole pool.
    ready: BTreeSet<PublicKey>,
    /// Where the primary's next scan of `ready` starts (rotates, so no
    /// sender is starved by senders with smaller keys).
    propose_cursor: Option<PublicKey>,

    now_ms: u64,
    view_deadline: Option<u64>,
    retransmit_deadline: u64,
    executed_at_last_retransmit: u64,
    /// Peers asked for blocks this retransmission interval (validators only,
    /// so bounded by the set).
    asked: BTreeSet<PublicKey>,
    /// Peers sent blocks or a new view this interval (validators only).
    pushed: BTreeSet<PublicKey>,
    /// State requests served per peer this interval (validators only).
    served: BTreeMap<PublicKey, u32>,
    retransmissions: u64,
    /// A full state-transfer answer came in: ask again every interval.
    catching_up: bool,
    /// Validators asked for state whose answer has not come yet, with the
    /// first height asked for (at most one entry per validator,
    /// [`VALIDATORS_MAX`] in all; a new request to a peer replaces its
    /// entry).
    awaiting_state: BTreeMap<PublicKey, u64>,

    out: Ready,
    halted: Option<&'static str>,
    anchoring: A,
}

impl Replica<NoAnchoring> {
    /// Open a replica from `storage`: a fresh chain from the configured
    /// genesis if the storage is empty, otherwise the persisted ledger, view,
    /// votes and prepared certificates (so a restarted replica neither
    /// forgets a commit nor contradicts a vote it sent). Writes that must be
    /// persisted (the genesis state) come out of the first [`Replica::ready`].
    ///
    /// The ledger runs the modules of [`Config::modules`].
    ///
    /// # Errors
    /// [`OpenError`] if storage cannot be read or is inconsistent, or
    /// [`OpenError::Ledger`] with
    /// [`LedgerError::DuplicateModule`](itc_core::ledger::LedgerError::DuplicateModule)
    /// if two configured modules share an id.
    pub fn open<S: Storage + ?Sized>(config: Config, storage: &S) -> Result<Self, OpenError> {
        Self::open_with_anchoring(config, storage, NoAnchoring)
    }
}

impl<A: Anchoring> Replica<A> {
    /// [`Replica::open`] for a chain whose blocks anchor a side chain.
    /// `anchoring` must be opened from the same storage (its writes are
    /// persisted in the replica's batches), so the two agree on the last
    /// committed block.
    ///
    /// # Errors
    /// As [`Replica::open`].
    pub fn open_with_anchoring<S: Storage + ?Sized>(
        config: Config,
        storage: &S,
        anchoring: A,
    ) -> Result<Self, OpenError> {
        let mut out = Ready::default();
        let mut ledger = if storage.get(STORAGE_META_KEY)?.is_some() {
            Ledger::open(storage)?
        } else {
            let (ledger, writes) = Ledger::from_genesis(&config.genesis)?;
            out.writes.extend(writes);
            ledger
        };
        // Modules are code, not state: registered on every open, fresh or
        // reopened, before any block executes.
        for module in &config.modules {
            ledger = ledger.with_module(module.clone())?;
        }
        let executed = ledger.height();
        let decisions = persist::load_decisions(
            storage,
            executed
                .saturating_sub(COMMITTED_BLOCKS_RETAINED_MAX as u64 - 1)
                .max(1),
        )?;
        let (last_hash, last_time_ms) = match decisions.get(&executed) {
            Some(d) => (d.block.header.hash(), d.block.header.time_ms),
            None if executed == 0 => (Hash::ZERO, config.genesis.genesis_time_ms),
            None => return Err(OpenError::Corrupted("missing last committed block")),
        };
        let view_record = persist::load_view(storage)?.unwrap_or_default();
        // The sets of recent epochs, so that a restarted replica checks
        // certificates of heights it already executed as before the crash
        // (and can still say which set signed them).
        let mut sets = persist::load_sets(storage)?;
        if sets
            .values()
            .next_back()
            .is_none_or(|last| last.hash() != ledger.validators().hash())
        {
            // Not stored (a database from before sets were kept): today's
            // set has signed since the last epoch boundary.
            let epoch = ledger.params().epoch_length.max(1);
            let first = ((executed / epoch) * epoch + 1)
                .max(sets.keys().next_back().map_or(1, |last| last + 1));
            sets.insert(first, ledger.validators().clone());
            out.writes
                .put(persist::set_key(first), ledger.validators().encode());
        }
        while sets.len() > VALIDATOR_SETS_RETAINED_MAX {
            if let Some((height, _)) = sets.pop_first() {
                out.writes.delete(persist::set_key(height));
            }
        }
        let mut replica = Replica {
            me: config.keypair.public(),
            keypair: config.keypair,
            chain_id: ledger.chain_id(),
            view_change_timeout_ms: config.view_change_timeout_ms.max(1),
            retransmit_interval_ms: config.retransmit_interval_ms.max(1),
            block_transactions_max: config
                .block_transactions_max
                .clamp(1, itc_core::types::BLOCK_TRANSACTIONS_MAX),
            block_time_drift_ms_max: config.block_time_drift_ms_max,
            current_set_hash: ledger.validators().hash(),
            ledger,
            sets,
            executed,
            last_hash,
            last_time_ms,
            decisions,
            view: view_record.view,
            view_floor: view_record.floor,
            status: if view_record.in_view_change {
                Status::ViewChange
            } else {
                Status::Normal
            },
            slots: BTreeMap::new(),
            view_changes: BTreeMap::new(),
            own_view_change: None,
            current_new_view: None,
            new_view_changes: Vec::new(),
            pending_new_view: None,
            view_changes_served: BTreeSet::new(),
            attempts: 0,
            pool: BTreeMap::new(),
            ready: BTreeSet::new(),
            propose_cursor: None,
            now_ms: 0,
            view_deadline: None,
            retransmit_deadline: 0,
            executed_at_last_retransmit: executed,
            asked: BTreeSet::new(),
            pushed: BTreeSet::new(),
            served: BTreeMap::new(),
            retransmissions: 0,
            catching_up: false,
            awaiting_state: BTreeMap::new(),
            out,
            halted: None,
            anchoring,
        };
        for (height, record) in persist::load_slots(storage)? {
            if height <= executed {
                replica.out.writes.delete(persist::slot_key(height));
                continue;
            }
            replica.restore_slot(height, record);
        }
        if replica.status == Status::ViewChange {
            replica.own_view_change = persist::load_own_view_change(storage)?
                .filter(|vc| vc.view == replica.view && vc.signer == replica.me);
            if let Some(vc) = &replica.own_view_change {
                replica.view_changes.insert(replica.me, vc.clone());
            }
        } else if let Some((nv, view_changes)) =
            persist::load_own_new_view(storage)?.filter(|(nv, _)| nv.view == replica.view)
        {
            replica.current_new_view = Some(nv);
            replica.new_view_changes = view_changes;
        }
        Ok(replica)
    }

    fn restore_slot(&mut self, height: u64, record: SlotRecord) {
        let view = self.view;
        let mut slot = Slot {
            view,
            prepared: record.prepared,
            prepare_vote: record.prepare_vote,
            commit_vote: record.commit_vote,
            ..Slot::default()
        };
        if let Some((proposal_view, block, certified)) = record.proposal {
            if proposal_view == view && self.status == Status::Normal {
                let hash = block.header.hash();
                // This replica's own proposal: sign the pre-prepare again
                // (ed25519 is deterministic, so these are the bytes it may
                // already have sent) so that retransmission resends it.
                let pre_prepare = (block.header.proposer == self.me
                    && block.header.view == view
                    && !certified)
                    .then(|| {
                        PrePrepare::new_signed(&self.keypair, self.chain_id, view, block.clone())
                    });
                slot.proposal = Some(Proposal {
                    block,
                    hash,
                    pre_prepare,
                    validated: false,
                    certified,
                    anchor_pending: false,
                });
            }
        }
        // Re-create our own votes of this view so they are retransmitted
        // (ed25519 is deterministic: the same bytes as before the crash).
        if let Some((v, hash)) = slot.prepare_vote {
            if v == view && self.status == Status::Normal {
                let vote = self.sign_vote(VoteKind::Prepare, height, view, hash);
                slot.prepares.insert(self.me, vote);
            }
        }
        if let Some((v, hash)) = slot.commit_vote {
            if v == view && self.status == Status::Normal {
                let vote = self.sign_vote(VoteKind::Commit, height, view, hash);
                slot.commits.insert(self.me, vote);
            }
        }
        self.slots.insert(height, slot);
    }

    // ----- accessors -------------------------------------------------------

    /// This replica's key.
    pub fn id(&self) -> PublicKey {
        self.me
    }

    /// The current view.
    pub fn view(&self) -> u64 {
        self.view
    }

    /// Normal case or view change.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Height of the last executed (committed) block.
    pub fn executed_height(&self) -> u64 {
        self.executed
    }

    /// Hash of the last executed block ([`Hash::ZERO`] at genesis).
    pub fn last_block_hash(&self) -> Hash {
        self.last_hash
    }

    /// The ledger (state after the last executed block).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The anchored side chain.
    pub fn anchoring(&self) -> &A {
        &self.anchoring
    }

    /// The anchored side chain, to add side-chain data (for itc-dag:
    /// attach transactions). Call [`Replica::tick`] afterwards: a proposal
    /// or a committed block waiting for that data is retried on the next
    /// input.
    pub fn anchoring_mut(&mut self) -> &mut A {
        &mut self.anchoring
    }

    /// The anchored side chain together with the ledger, for side-chain
    /// checks that need main-chain state (for itc-dag: a device's security
    /// level sets its proof of work). Call [`Replica::tick`] afterwards.
    pub fn anchoring_with_ledger(&mut self) -> (&mut A, &Ledger) {
        (&mut self.anchoring, &self.ledger)
    }

    /// The validator set that signed the block at `height`, if this replica
    /// still knows it: retained sets cover recent epochs, and heights up to
    /// the end of the current epoch. A light-client update needs this set,
    /// which is not always today's ([`Replica::validators`]).
    pub fn validator_set_at(&self, height: u64) -> Option<&ValidatorSet> {
        self.set_for(height)
    }

    /// The validator set that signs the next block.
    pub fn validators(&self) -> &ValidatorSet {
        self.ledger.validators()
    }

    /// The primary of the current view.
    pub fn primary(&self) -> PublicKey {
        primary_of(self.view, self.ledger.validators())
    }

    /// Number of transactions in the pool.
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// A retained committed block and its certificate.
    pub fn decision(&self, height: u64) -> Option<&Decision> {
        self.decisions.get(&height)
    }

    /// One line of internal state, for logs and simulator failures.
    pub fn debug_summary(&self) -> String {
        format!(
            "executed={} view={} status={:?} pool={} slots={:?} deadline={:?}",
            self.executed,
            self.view,
            self.status,
            self.pool.len(),
            self.slots
                .iter()
                .map(|(h, s)| format!(
                    "h{} v{} proposal={:?} prepares={} commits={} prepared={:?} votes={:?}/{:?} cert={}",
                    h,
                    s.view,
                    s.proposal.as_ref().map(|p| (p.validated, p.certified)),
                    s.prepares.len(),
                    s.commits.len(),
                    s.prepared.as_ref().map(|p| p.certificate.view),
                    s.prepare_vote.map(|v| v.0),
                    s.commit_vote.map(|v| v.0),
                    s.certificate.is_some()
                ))
                .collect::<Vec<_>>(),
            self.view_deadline,
        )
    }

    /// Why the replica halted, if it did (a fault beyond the tolerated
    /// bound, such as a certified block the ledger rejects).
    pub fn halted(&self) -> Option<&'static str> {
        self.halted
    }

    /// The earliest time at which [`Replica::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.halted.is_some() {
            return None;
        }
        let retransmit = Some(self.retransmit_deadline);
        match self.view_deadline {
            Some(d) => retransmit.map(|r| r.min(d)),
            None => retransmit,
        }
    }

    /// Take the outputs produced so far. Call it after every input (or
    /// batch of inputs): outputs accumulate until then, so this is the one
    /// buffer whose bound is the caller's loop.
    pub fn ready(&mut self) -> Ready {
        self.out.writes.extend(self.anchoring.take_writes());
        core::mem::take(&mut self.out)
    }

    // ----- inputs ----------------------------------------------------------

    /// Handle raw bytes received from peer `from` at time `now_ms`.
    ///
    /// # Errors
    /// [`MessageError`] saying why the message was ignored; never fatal.
    pub fn handle_message(
        &mut self,
        now_ms: u64,
        from: PublicKey,
        bytes: &[u8],
    ) -> Result<(), MessageError> {
        let message = Message::from_bytes(bytes)?;
        self.handle(now_ms, from, message)
    }

    /// Handle a decoded message received from peer `from`.
    ///
    /// # Errors
    /// [`MessageError`] saying why the message was ignored; never fatal.
    pub fn handle(
        &mut self,
        now_ms: u64,
        from: PublicKey,
        message: Message,
    ) -> Result<(), MessageError> {
        if let Some(reason) = self.halted {
            return Err(MessageError::Halted(reason));
        }
        self.now_ms = self.now_ms.max(now_ms);
        let result = match message {
            Message::Request(tx) => {
                let _ = self.admit(tx);
                Ok(())
            }
            Message::PrePrepare(m) => self.on_pre_prepare(from, m),
            Message::Vote(v) => self.on_vote(from, v),
            Message::ViewChange(m) => self.on_view_change(m),
            Message::NewView(m) => self.on_new_view(from, m),
            Message::ViewChangeRequest { view } => {
                self.on_view_change_request(from, view);
                Ok(())
            }
            Message::StateRequest { from_height } => {
                self.on_state_request(from, from_height);
                Ok(())
            }
            Message::StateResponse(decisions) => self.on_state_response(from, decisions),
        };
        self.progress();
        result
    }

    /// Advance the clock: fire the view-change timer and retransmit.
    pub fn tick(&mut self, now_ms: u64) {
        if self.halted.is_some() {
            return;
        }
        self.now_ms = self.now_ms.max(now_ms);
        if let Some(deadline) = self.view_deadline {
            if self.now_ms >= deadline {
                self.view_deadline = None;
                self.start_view_change(self.view.saturating_add(1));
            }
        }
        if self.now_ms >= self.retransmit_deadline {
            self.retransmit_deadline = self.now_ms + self.retransmit_interval_ms;
            self.retransmit();
        }
        self.progress();
    }

    /// Submit a client transaction: validate it, pool it, forward it to the
    /// other replicas.
    ///
    /// # Errors
    /// [`SubmitError`] if it is not admitted.
    pub fn submit_transaction(&mut self, now_ms: u64, tx: Transaction) -> Result<(), SubmitError> {
        if self.halted.is_some() {
            return Err(SubmitError::Halted);
        }
        self.now_ms = self.now_ms.max(now_ms);
        self.admit(tx.clone())?;
        self.send_now(Recipient::AllValidators, Message::Request(tx));
        self.progress();
        Ok(())
    }

    // ----- pool ------------------------------------------------------------

    fn admit(&mut self, tx: Transaction) -> Result<(), SubmitError> {
        if matches!(tx.payload, Payload::DagDeposit { .. }) && !self.anchoring.accepts_deposits() {
            return Err(SubmitError::NoSideChain);
        }
        let key = (tx.sender, tx.nonce);
        if self.pool.contains_key(&key) {
            return Err(SubmitError::Duplicate);
        }
        let next_nonce = self.ledger.account(&tx.sender).nonce;
        if tx.nonce < next_nonce {
            return Err(SubmitError::Invalid(TxError::StaleNonce {
                expected: next_nonce,
                found: tx.nonce,
            }));
        }
        if tx.nonce >= next_nonce.saturating_add(POOL_NONCE_AHEAD_MAX) {
            return Err(SubmitError::NonceTooFarAhead);
        }
        if self.pool.len() >= POOL_TRANSACTIONS_MAX {
            return Err(SubmitError::PoolFull);
        }
        if tx.nonce == next_nonce {
            self.ledger.check_transaction(&tx)?;
        } else {
            if tx.chain_id != self.chain_id {
                return Err(SubmitError::Invalid(TxError::WrongChain {
                    expected: self.chain_id,
                    found: tx.chain_id,
                }));
            }
            tx.verify_signature()
                .map_err(|_| SubmitError::Invalid(TxError::BadSignature))?;
        }
        self.pool.insert(key, tx);
        if key.1 == next_nonce {
            self.ready.insert(key.0);
        }
        Ok(())
    }

    /// Bring `sender`'s membership of the ready set in step with the pool
    /// and its account's nonce.
    fn refresh_ready(&mut self, sender: PublicKey) {
        let nonce = self.ledger.account(&sender).nonce;
        if self.pool.contains_key(&(sender, nonce)) {
            self.ready.insert(sender);
        } else {
            self.ready.remove(&sender);
        }
    }

    // ----- helpers ---------------------------------------------------------

    fn send_now(&mut self, to: Recipient, message: Message) {
        self.out.messages.push(Outgoing { to, message });
    }

    fn send_after_persist(&mut self, to: Recipient, message: Message) {
        self.out.held.push(Outgoing { to, message });
    }

    fn sign_vote(&self, kind: VoteKind, height: u64, view: u64, hash: Hash) -> Vote {
        Vote::new_signed(&self.keypair, self.chain_id, kind, height, view, hash)
    }

    fn is_validator(&self) -> bool {
        self.ledger.validators().weight_of(&self.me).is_some()
    }

    /// The validator set that signs `height`, if known.
    fn set_for(&self, height: u64) -> Option<&ValidatorSet> {
        if height == 0 {
            return None;
        }
        if height > self.executed {
            let epoch = self.ledger.params().epoch_length;
            // Known while no epoch boundary lies in [executed + 1, height - 1].
            let next_boundary = (self.executed / epoch + 1) * epoch;
            if height - 1 < next_boundary {
                Some(self.ledger.validators())
            } else {
                None
            }
        } else {
            self.sets.range(..=height).next_back().map(|(_, set)| set)
        }
    }

    fn in_window(&self, height: u64) -> bool {
        height > self.executed && height <= self.executed + WATERMARK_WINDOW
    }

    fn persist_slot(&mut self, height: u64) {
        if let Some(slot) = self.slots.get(&height) {
            self.out
                .writes
                .put(persist::slot_key(height), slot.record().encode());
        }
    }

    fn persist_view(&mut self) {
        let record = ViewRecord {
            view: self.view,
            in_view_change: self.status == Status::ViewChange,
            floor: self.view_floor,
        };
        self.out.writes.put(persist::VIEW_KEY, record.encode());
    }
}
