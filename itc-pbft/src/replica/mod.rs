//! The sans-IO PBFT replica.
//!
//! See the crate documentation for the driver loop. This module holds the
//! state machine: the message log (one slot per sequence number inside
//! the watermark window), the view-change state, the transaction pool and the
//! ledger.

use crate::certificate::{DoubleVoteEvidence, PreparedCertificate};
use crate::config::*;
use crate::message::{
    Decision, Message, NewView, PrePrepare, PreparedEntry, ViewChange, STATE_TRANSFER_BLOCKS_MAX,
    VIEW_CHANGE_PREPARED_MAX, WATERMARK_WINDOW,
};
use crate::persist::{self, SlotRecord, ViewRecord};
use crate::ready::{Outgoing, Ready, Recipient};
use itc_core::encoding::Encode;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::ledger::{BlockContext, Ledger, TxError, STORAGE_META_KEY};
use itc_core::storage::Storage;
use itc_core::types::{
    Block, BlockHeader, ChainId, CommitCertificate, Payload, Threshold, Transaction, ValidatorSet,
    Vote, VoteKind,
};
use itc_core::Hash;
use std::collections::{BTreeMap, BTreeSet};

mod error;
mod state_transfer;
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
}

impl Proposal {
    fn votable(&self) -> bool {
        self.validated || self.certified
    }
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
#[derive(Debug)]
pub struct Replica {
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
    view_changes: BTreeMap<u64, BTreeMap<PublicKey, ViewChange>>,
    own_view_change: Option<ViewChange>,
    /// The new view that started the current view (sent or accepted).
    current_new_view: Option<NewView>,
    attempts: u32,

    pool: BTreeMap<(PublicKey, u64), Transaction>,

    now_ms: u64,
    view_deadline: Option<u64>,
    retransmit_deadline: u64,
    executed_at_last_retransmit: u64,
    /// Peers asked for blocks this retransmission interval (validators only,
    /// so bounded by the set).
    asked: BTreeSet<PublicKey>,
    /// Peers sent blocks or a new view this interval (validators only).
    pushed: BTreeSet<PublicKey>,
    retransmissions: u64,

    out: Ready,
    halted: Option<&'static str>,
}

impl Replica {
    /// Open a replica from `storage`: a fresh chain from the configured
    /// genesis if the storage is empty, otherwise the persisted ledger, view,
    /// votes and prepared certificates (so a restarted replica neither
    /// forgets a commit nor contradicts a vote it sent). Writes that must be
    /// persisted (the genesis state) come out of the first [`Replica::ready`].
    ///
    /// # Errors
    /// [`OpenError`] if storage cannot be read or is inconsistent.
    pub fn open<S: Storage + ?Sized>(config: Config, storage: &S) -> Result<Replica, OpenError> {
        let mut out = Ready::default();
        let ledger = if storage.get(STORAGE_META_KEY)?.is_some() {
            Ledger::open(storage)?
        } else {
            let (ledger, writes) = Ledger::from_genesis(&config.genesis)?;
            out.writes.extend(writes);
            ledger
        };
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
        let mut sets = BTreeMap::new();
        sets.insert(executed + 1, ledger.validators().clone());
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
            attempts: 0,
            pool: BTreeMap::new(),
            now_ms: 0,
            view_deadline: None,
            retransmit_deadline: 0,
            executed_at_last_retransmit: executed,
            asked: BTreeSet::new(),
            pushed: BTreeSet::new(),
            retransmissions: 0,
            out,
            halted: None,
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
                replica
                    .view_changes
                    .entry(vc.view)
                    .or_default()
                    .insert(replica.me, vc.clone());
            }
        } else {
            replica.current_new_view = persist::load_own_new_view(storage)?
                .filter(|nv| nv.view == replica.view && nv.signer == replica.me);
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
                slot.proposal = Some(Proposal {
                    block,
                    hash,
                    pre_prepare: None,
                    validated: false,
                    certified,
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

    /// Take the outputs produced so far.
    pub fn ready(&mut self) -> Ready {
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
            Message::StateRequest { from_height } => {
                self.serve_state(from, from_height);
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
                self.start_view_change(self.view + 1);
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
        Ok(())
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

    // ----- normal case -----------------------------------------------------

    fn on_pre_prepare(&mut self, from: PublicKey, m: PrePrepare) -> Result<(), MessageError> {
        let height = m.block.header.height;
        if height <= self.executed {
            self.push_decision(from, height);
            return Err(MessageError::OutOfWindow);
        }
        // In a view change to `m.view`, the proposal is kept until the new
        // view arrives (messages may overtake it); votes wait for it too.
        if m.view != self.view {
            if m.view > self.view {
                self.note_behind(height - 1, from);
            }
            return Err(MessageError::OutOfWindow);
        }
        if !self.in_window(height) {
            self.note_behind(height - 1, from);
            return Err(MessageError::OutOfWindow);
        }
        if self.status == Status::Normal && height <= self.view_floor {
            // Settled by the new view: only its re-proposals count here.
            return Err(MessageError::OutOfWindow);
        }
        let set = self
            .set_for(height)
            .ok_or(MessageError::UnknownValidatorSet(height))?;
        if m.signer != primary_of(m.view, set) {
            return Err(MessageError::NotPrimary);
        }
        let hash = m.block.header.hash();
        if let Some(slot) = self.slots.get(&height) {
            if slot.proposal.is_some() || slot.certificate.is_some() {
                // Duplicate, or an equivocating primary: keep the first.
                return Ok(());
            }
        }
        m.verify_signature(self.chain_id)
            .map_err(|_| MessageError::BadSignature)?;
        m.block.check_body().map_err(ProposalError::from)?;
        let view = self.view;
        let slot = self.slots.entry(height).or_default();
        slot.view = view;
        slot.proposal = Some(Proposal {
            block: m.block.clone(),
            hash,
            pre_prepare: Some(m),
            validated: false,
            certified: false,
        });
        if height == self.executed + 1 {
            self.validate_slot(height)?;
        }
        Ok(())
    }

    /// Validate the proposal at `executed + 1` against the ledger.
    fn validate_slot(&mut self, height: u64) -> Result<(), MessageError> {
        debug_assert_eq!(height, self.executed + 1);
        let Some(slot) = self.slots.get(&height) else {
            return Ok(());
        };
        let Some(proposal) = &slot.proposal else {
            return Ok(());
        };
        if proposal.votable() {
            return Ok(());
        }
        let (block, view) = (proposal.block.clone(), slot.view);
        let signer = proposal.pre_prepare.as_ref().map(|p| p.signer);
        match self.validate_block(&block, view, signer) {
            Ok(()) => {
                if let Some(p) = self
                    .slots
                    .get_mut(&height)
                    .and_then(|s| s.proposal.as_mut())
                {
                    p.validated = true;
                }
                self.persist_slot(height);
                Ok(())
            }
            Err(e) => {
                if let Some(slot) = self.slots.get_mut(&height) {
                    slot.proposal = None;
                }
                Err(MessageError::InvalidProposal(e))
            }
        }
    }

    fn validate_block(
        &mut self,
        block: &Block,
        view: u64,
        signer: Option<PublicKey>,
    ) -> Result<(), ProposalError> {
        let header = &block.header;
        if header.chain_id != self.chain_id {
            return Err(ProposalError::Header("chain id"));
        }
        if header.height != self.executed + 1 {
            return Err(ProposalError::Header("height"));
        }
        if header.previous_hash != self.last_hash {
            return Err(ProposalError::Header("previous hash"));
        }
        if header.view != view {
            return Err(ProposalError::Header("view"));
        }
        if Some(header.proposer) != signer {
            return Err(ProposalError::Header("proposer"));
        }
        if header.validator_set_hash != self.current_set_hash {
            return Err(ProposalError::Header("validator set hash"));
        }
        if header.time_ms < self.last_time_ms
            || header.time_ms > self.now_ms.saturating_add(self.block_time_drift_ms_max)
        {
            return Err(ProposalError::Header("time"));
        }
        if block.transactions.len() > self.block_transactions_max {
            return Err(ProposalError::TooManyTransactions(block.transactions.len()));
        }
        block.check_body()?;
        let mut seen = BTreeSet::new();
        for tx in &block.transactions {
            if !seen.insert((tx.sender, tx.nonce)) {
                return Err(ProposalError::DuplicateTransaction);
            }
        }
        let context = BlockContext {
            height: header.height,
            proposer: header.proposer,
            time_ms: header.time_ms,
        };
        let (root, next_set) = self.ledger.preview_block(&context, &block.transactions)?;
        if root != header.state_root {
            return Err(ProposalError::StateRoot);
        }
        let next_hash = next_set.map_or(self.current_set_hash, |s| s.hash());
        if next_hash != header.next_validator_set_hash {
            return Err(ProposalError::NextValidatorSet);
        }
        Ok(())
    }

    fn on_vote(&mut self, from: PublicKey, vote: Vote) -> Result<(), MessageError> {
        let height = vote.height;
        if vote.chain_id != self.chain_id {
            return Err(MessageError::BadSignature);
        }
        if height <= self.executed {
            self.push_decision(from, height);
            return Err(MessageError::OutOfWindow);
        }
        if !self.in_window(height) {
            self.note_behind(height - 1, from);
            return Err(MessageError::OutOfWindow);
        }
        if vote.view != self.view {
            return Err(MessageError::OutOfWindow);
        }
        if vote.validator == self.me {
            return Ok(());
        }
        let set = self
            .set_for(height)
            .ok_or(MessageError::UnknownValidatorSet(height))?;
        if set.weight_of(&vote.validator).is_none() {
            return Err(MessageError::NotAValidator);
        }
        let existing = self.slots.get(&height).and_then(|slot| {
            let map = match vote.kind {
                VoteKind::Prepare => &slot.prepares,
                VoteKind::Commit => &slot.commits,
            };
            map.get(&vote.validator).cloned()
        });
        if let Some(existing) = &existing {
            if existing.block_hash == vote.block_hash {
                return Ok(());
            }
        }
        vote.verify_signature()
            .map_err(|_| MessageError::BadSignature)?;
        if let Some(first) = existing {
            if self.out.evidence.len() < EVIDENCE_PENDING_MAX {
                self.out.evidence.push(DoubleVoteEvidence {
                    first,
                    second: vote,
                });
            }
            return Ok(());
        }
        let view = self.view;
        let slot = self.slots.entry(height).or_default();
        slot.view = view;
        match vote.kind {
            VoteKind::Prepare => slot.prepares.insert(vote.validator, vote),
            VoteKind::Commit => slot.commits.insert(vote.validator, vote),
        };
        Ok(())
    }

    fn weight_for(&self, height: u64, votes: &BTreeMap<PublicKey, Vote>, hash: Hash) -> u64 {
        let Some(set) = self.set_for(height) else {
            return 0;
        };
        votes
            .values()
            .filter(|v| v.block_hash == hash)
            .filter_map(|v| set.weight_of(&v.validator))
            .sum()
    }

    fn is_quorum(&self, height: u64, weight: u64) -> bool {
        self.set_for(height)
            .is_some_and(|set| Threshold::TWO_THIRDS.is_met(weight, set.total_weight()))
    }

    /// Send votes and collect certificates for one slot. Returns whether
    /// anything changed.
    fn step_slot(&mut self, height: u64) -> bool {
        if self.status != Status::Normal {
            return false;
        }
        let view = self.view;
        let validator = self.is_validator() && self.set_for(height).is_some();
        let Some(slot) = self.slots.get(&height) else {
            return false;
        };
        let Some(proposal) = &slot.proposal else {
            return false;
        };
        if slot.certificate.is_some() {
            return false;
        }
        let hash = proposal.hash;
        let mut changed = false;
        // Prepare: once the proposal is valid, unless we already voted
        // otherwise in this view.
        if validator && proposal.votable() && slot.prepare_vote.is_none_or(|(v, _)| v < view) {
            let vote = self.sign_vote(VoteKind::Prepare, height, view, hash);
            let slot = self.slots.get_mut(&height).expect("slot exists");
            slot.prepare_vote = Some((view, hash));
            slot.prepares.insert(self.me, vote.clone());
            self.persist_slot(height);
            self.send_after_persist(Recipient::AllValidators, Message::Vote(vote));
            changed = true;
        }
        let slot = &self.slots[&height];
        let proposal = slot.proposal.as_ref().expect("proposal exists");
        // Prepared: a quorum of prepares for the accepted proposal.
        let prepared_here = slot
            .prepared
            .as_ref()
            .is_some_and(|p| p.certificate.view == view && p.certificate.block_hash == hash);
        if proposal.votable()
            && !prepared_here
            && self.is_quorum(height, self.weight_for(height, &slot.prepares, hash))
        {
            let certificate = PreparedCertificate::from_votes(
                self.chain_id,
                height,
                view,
                hash,
                slot.prepares.values(),
            );
            let block = proposal.block.clone();
            let slot = self.slots.get_mut(&height).expect("slot exists");
            slot.prepared = Some(PreparedEntry { block, certificate });
            self.persist_slot(height);
            changed = true;
        }
        let slot = &self.slots[&height];
        let prepared_here = slot
            .prepared
            .as_ref()
            .is_some_and(|p| p.certificate.view == view && p.certificate.block_hash == hash);
        if validator && prepared_here && slot.commit_vote.is_none_or(|(v, _)| v < view) {
            let vote = self.sign_vote(VoteKind::Commit, height, view, hash);
            let slot = self.slots.get_mut(&height).expect("slot exists");
            slot.commit_vote = Some((view, hash));
            slot.commits.insert(self.me, vote.clone());
            self.persist_slot(height);
            self.send_after_persist(Recipient::AllValidators, Message::Vote(vote));
            changed = true;
        }
        // Committed-local: a quorum of commits (itself a certificate).
        let slot = &self.slots[&height];
        if self.is_quorum(height, self.weight_for(height, &slot.commits, hash)) {
            let certificate = CommitCertificate::from_votes(
                self.chain_id,
                height,
                view,
                hash,
                slot.commits.values(),
            );
            self.slots
                .get_mut(&height)
                .expect("slot exists")
                .certificate = Some(certificate);
            changed = true;
        }
        changed
    }

    /// Drive the log forward until nothing changes: validate, vote, commit,
    /// execute in order; then propose if primary; then re-arm the timer.
    fn progress(&mut self) {
        for _ in 0..(4 * WATERMARK_WINDOW + 8) {
            if self.halted.is_some() {
                return;
            }
            let mut changed = false;
            while let Some(slot) = self.slots.get(&(self.executed + 1)) {
                let (Some(proposal), Some(certificate)) = (&slot.proposal, &slot.certificate)
                else {
                    break;
                };
                let decision = Decision {
                    block: proposal.block.clone(),
                    certificate: certificate.clone(),
                };
                let preverified = proposal.validated;
                self.execute(decision, preverified);
                changed = true;
            }
            let next = self.executed + 1;
            if self
                .slots
                .get(&next)
                .and_then(|s| s.proposal.as_ref())
                .is_some_and(|p| !p.votable())
            {
                let _ = self.validate_slot(next);
            }
            let heights: Vec<u64> = self.slots.keys().copied().collect();
            for height in heights {
                changed |= self.step_slot(height);
            }
            changed |= self.maybe_propose();
            if !changed {
                break;
            }
        }
        self.update_timer();
    }

    fn execute(&mut self, decision: Decision, preverified: bool) {
        let header = &decision.block.header;
        let height = header.height;
        assert_eq!(height, self.executed + 1, "blocks execute in order");
        if header.previous_hash != self.last_hash || header.chain_id != self.chain_id {
            self.halted = Some("committed block does not extend the chain");
            return;
        }
        let context = BlockContext {
            height,
            proposer: header.proposer,
            time_ms: header.time_ms,
        };
        let result = if preverified {
            self.ledger
                .apply_block_preverified(&context, &decision.block.transactions)
        } else {
            self.ledger
                .apply_block(&context, &decision.block.transactions)
        };
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(_) => {
                self.halted = Some("ledger rejects a committed block");
                return;
            }
        };
        if outcome.state_root != header.state_root {
            self.halted = Some("state root of a committed block differs");
            return;
        }
        let next_hash = outcome
            .next_validator_set
            .as_ref()
            .map_or(self.current_set_hash, |s| s.hash());
        if next_hash != header.next_validator_set_hash {
            self.halted = Some("next validator set of a committed block differs");
            return;
        }
        self.out.writes.extend(outcome.writes);
        self.out
            .writes
            .put(persist::decision_key(height), decision.encode());
        self.out.writes.delete(persist::slot_key(height));
        if let Some(set) = outcome.next_validator_set {
            self.current_set_hash = set.hash();
            self.sets.insert(height + 1, set);
            while self.sets.len() > VALIDATOR_SETS_RETAINED_MAX {
                self.sets.pop_first();
            }
        }
        self.executed = height;
        self.last_hash = decision.block.header.hash();
        self.last_time_ms = decision.block.header.time_ms;
        self.slots.remove(&height);
        let senders: BTreeSet<PublicKey> = decision
            .block
            .transactions
            .iter()
            .map(|tx| tx.sender)
            .collect();
        for sender in senders {
            self.clean_pool(sender);
        }
        self.decisions.insert(height, decision.clone());
        while self.decisions.len() > COMMITTED_BLOCKS_RETAINED_MAX {
            self.decisions.pop_first();
        }
        self.out.committed.push(decision);
        // Progress: the request timer restarts from its base value.
        self.attempts = 0;
        self.view_deadline = None;
    }

    /// Propose the next block if this replica is the primary and has
    /// executable transactions. Returns whether it proposed.
    /// Drop `sender`'s pooled transactions that can no longer execute: used
    /// nonces, and a next transaction the sender can no longer pay for (so
    /// that an invalid transaction does not keep the request timer running).
    fn clean_pool(&mut self, sender: PublicKey) {
        let account = self.ledger.account(&sender);
        let stale: Vec<(PublicKey, u64)> = self
            .pool
            .range((sender, 0)..(sender, account.nonce))
            .map(|(k, _)| *k)
            .collect();
        for key in stale {
            self.pool.remove(&key);
        }
        let Some(next) = self.pool.get(&(sender, account.nonce)) else {
            return;
        };
        let payable = match &next.payload {
            Payload::Transfer { amount, .. } | Payload::Bond { amount } => amount
                .checked_add(next.fee)
                .is_some_and(|needed| needed <= account.balance),
            // Other payloads depend on more state: ask the ledger (this
            // verifies the signature once more).
            _ => self.ledger.check_transaction(next).is_ok(),
        };
        if !payable {
            self.pool.remove(&(sender, account.nonce));
        }
    }

    fn maybe_propose(&mut self) -> bool {
        if self.status != Status::Normal || !self.is_validator() || self.primary() != self.me {
            return false;
        }
        let height = self.executed + 1;
        if height <= self.view_floor {
            // Catch up to what the new view settled first.
            return false;
        }
        if let Some(slot) = self.slots.get(&height) {
            if slot.proposal.is_some()
                || slot.certificate.is_some()
                || slot.prepare_vote.is_some_and(|(v, _)| v == self.view)
            {
                return false;
            }
        }
        // Re-proposals of a new view come first.
        if self
            .slots
            .values()
            .any(|s| s.proposal.as_ref().is_some_and(|p| p.certified))
        {
            return false;
        }
        if self.pool.is_empty() {
            return false;
        }
        let context = BlockContext {
            height,
            proposer: self.me,
            time_ms: self.now_ms.max(self.last_time_ms),
        };
        let candidates: Vec<Transaction> = self
            .pool
            .values()
            .take(self.block_transactions_max.saturating_mul(2))
            .cloned()
            .collect();
        let (mut kept, rejected) = self.ledger.select_valid(&context, candidates);
        for (tx, error) in rejected {
            if !matches!(error, TxError::FutureNonce { .. }) {
                self.pool.remove(&(tx.sender, tx.nonce));
            }
        }
        kept.truncate(self.block_transactions_max);
        if kept.is_empty() {
            return false;
        }
        let (state_root, next_set) = match self.ledger.preview_block(&context, &kept) {
            Ok(preview) => preview,
            Err(_) => return false,
        };
        let header = BlockHeader {
            chain_id: self.chain_id,
            height,
            previous_hash: self.last_hash,
            tx_root: Block::compute_tx_root(&kept),
            state_root,
            dag_anchor_root: Block::compute_anchor_root(None),
            validator_set_hash: self.current_set_hash,
            next_validator_set_hash: next_set.map_or(self.current_set_hash, |s| s.hash()),
            time_ms: context.time_ms,
            proposer: self.me,
            view: self.view,
        };
        let block = Block {
            header,
            transactions: kept,
            anchor: None,
        };
        let hash = block.header.hash();
        let pre_prepare =
            PrePrepare::new_signed(&self.keypair, self.chain_id, self.view, block.clone());
        let view = self.view;
        let slot = self.slots.entry(height).or_default();
        slot.view = view;
        slot.proposal = Some(Proposal {
            block,
            hash,
            pre_prepare: Some(pre_prepare.clone()),
            validated: true,
            certified: false,
        });
        self.persist_slot(height);
        self.send_after_persist(Recipient::AllValidators, Message::PrePrepare(pre_prepare));
        self.step_slot(height);
        true
    }

    // ----- timers ----------------------------------------------------------

    fn timeout_ms(&self) -> u64 {
        self.view_change_timeout_ms << self.attempts.min(TIMEOUT_DOUBLINGS_MAX)
    }

    fn has_pending_work(&self) -> bool {
        self.pool_has_executable() || self.slots.values().any(|s| s.proposal.is_some())
    }

    /// Whether some pooled transaction carries its sender's next nonce (one
    /// waiting for an earlier nonce does not make the primary late).
    fn pool_has_executable(&self) -> bool {
        let mut cursor = self.pool.keys().next().copied();
        while let Some((sender, nonce)) = cursor {
            if nonce == self.ledger.account(&sender).nonce {
                return true;
            }
            cursor = self
                .pool
                .range((sender, u64::MAX)..)
                .find(|((s, _), _)| *s != sender)
                .map(|(k, _)| *k);
        }
        false
    }

    /// Normal case: the timer runs while work is pending. View change: it
    /// runs only once view changes for the view from a quorum are in (the
    /// paper's rule), so a replica does not run through views alone.
    fn update_timer(&mut self) {
        let armed = self.is_validator()
            && match self.status {
                Status::Normal => self.has_pending_work(),
                Status::ViewChange => self.view_change_quorum(self.view),
            };
        if !armed {
            self.view_deadline = None;
        } else if self.view_deadline.is_none() {
            self.view_deadline = Some(self.now_ms + self.timeout_ms());
        }
    }

    fn view_change_quorum(&self, view: u64) -> bool {
        let set = self.ledger.validators();
        self.view_changes
            .get(&view)
            .is_some_and(|map| set.is_quorum(map.keys().filter_map(|k| set.weight_of(k)).sum()))
    }

    fn retransmit(&mut self) {
        self.pushed.clear();
        self.asked.clear();
        self.retransmissions = self.retransmissions.wrapping_add(1);
        if self.retransmissions % ANTI_ENTROPY_RETRANSMISSIONS == 0 {
            // Anti-entropy: ask a rotating peer whether it has committed more.
            let validators = self.ledger.validators().validators();
            let peer = validators
                [(self.retransmissions / ANTI_ENTROPY_RETRANSMISSIONS) as usize % validators.len()]
            .key;
            if peer != self.me {
                self.send_now(
                    Recipient::One(peer),
                    Message::StateRequest {
                        from_height: self.executed + 1,
                    },
                );
            }
        }
        let no_progress = self.executed == self.executed_at_last_retransmit;
        self.executed_at_last_retransmit = self.executed;
        match self.status {
            Status::ViewChange => {
                if let Some(vc) = self.own_view_change.clone() {
                    self.send_after_persist(Recipient::AllValidators, Message::ViewChange(vc));
                }
            }
            Status::Normal => {
                let mut messages = Vec::new();
                let mut pending = false;
                for slot in self.slots.values() {
                    if slot.view != self.view {
                        continue;
                    }
                    if let Some(p) = &slot.proposal {
                        pending = true;
                        if let Some(pp) = &p.pre_prepare {
                            if pp.signer == self.me {
                                messages.push(Message::PrePrepare(pp.clone()));
                            }
                        }
                    }
                    if let Some(v) = slot.prepares.get(&self.me) {
                        messages.push(Message::Vote(v.clone()));
                    }
                    if let Some(v) = slot.commits.get(&self.me) {
                        messages.push(Message::Vote(v.clone()));
                    }
                }
                if pending {
                    if let Some(nv) = self
                        .current_new_view
                        .clone()
                        .filter(|nv| nv.view == self.view && nv.signer == self.me)
                    {
                        messages.push(Message::NewView(nv));
                    }
                }
                for m in messages {
                    self.send_after_persist(Recipient::AllValidators, m);
                }
                if no_progress && self.primary() != self.me && !self.pool.is_empty() {
                    let primary = self.primary();
                    let txs: Vec<Transaction> = self
                        .pool
                        .values()
                        .take(FORWARD_TRANSACTIONS_MAX)
                        .cloned()
                        .collect();
                    for tx in txs {
                        self.send_now(Recipient::One(primary), Message::Request(tx));
                    }
                }
            }
        }
    }
}
