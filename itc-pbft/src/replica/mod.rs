//! The sans-IO PBFT replica.
//!
//! See the crate documentation for the driver loop. [`Replica`] holds the
//! configuration, keys, ledger and side chain, and orchestrates parts that
//! each own their data and keep their own invariants:
//!
//! * `pool.rs`: the transaction pool (`TxPool`);
//! * `log.rs`: the message log, the committed tip, retained blocks and
//!   validator sets (`Log`);
//! * `view_state.rs`: view, status and view changes (`ViewChangeState`);
//! * `transfer.rs`: state-transfer bookkeeping (`StateTransfer`);
//! * `timers.rs`: the clock and deadlines (`Timers`).
//!
//! The protocol lives in `normal_case.rs` (section 4.2), `view_change.rs`
//! (section 4.4), `state_transfer.rs` and `retransmit.rs`, as methods of
//! [`Replica`] that drive the parts through their methods.

use crate::anchoring::{Anchoring, NoAnchoring};
use crate::config::{Config, COMMITTED_BLOCKS_RETAINED_MAX, VALIDATOR_SETS_RETAINED_MAX};
use crate::message::{Decision, Message, PrePrepare};
use crate::persist::{self, SlotRecord};
use crate::ready::{Outgoing, Ready, Recipient};
use itc_core::encoding::Encode;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::ledger::{Ledger, STORAGE_META_KEY};
use itc_core::storage::Storage;
use itc_core::types::{ChainId, Payload, Transaction, ValidatorSet, Vote, VoteKind};
use itc_core::Hash;

mod error;
mod halt;
mod invariant;
mod log;
mod normal_case;
mod pool;
mod retransmit;
mod state_transfer;
#[cfg(test)]
mod tests;
mod timers;
mod transfer;
mod view_change;
mod view_state;

pub use error::{MessageError, OpenError, ProposalError, SubmitError};
pub use halt::HaltReason;
pub use invariant::{InvariantViolation, ReplicaPart};
pub use view_change::{new_view_decision, NewViewDecision};

use invariant::ensure;
use log::{Log, Proposal, Slot};
use pool::TxPool;
use timers::Timers;
use transfer::StateTransfer;
use view_state::ViewChangeState;

/// Largest pool that the debug assertion in [`Replica::ready`] checks
/// against account nonces (a ledger read per pooled sender); larger pools
/// get only the bounded checks there.
const READY_CHECK_POOL_MAX: usize = 64;

/// Whether the replica runs the normal case or is changing view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Normal-case operation in the current view.
    Normal,
    /// Waiting for the new view after sending a view change.
    ViewChange,
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
    block_transactions_max: usize,
    block_time_drift_ms_max: u64,

    ledger: Ledger,
    anchoring: A,

    log: Log,
    views: ViewChangeState,
    pool: TxPool,
    transfer: StateTransfer,
    timers: Timers,

    out: Ready,
    halted: Option<HaltReason>,
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
        let current_set_hash = ledger.validators().hash();
        let mut replica = Replica {
            me: config.keypair.public(),
            keypair: config.keypair,
            chain_id: ledger.chain_id(),
            block_transactions_max: config
                .block_transactions_max
                .clamp(1, itc_core::types::BLOCK_TRANSACTIONS_MAX),
            block_time_drift_ms_max: config.block_time_drift_ms_max,
            log: Log::new(
                executed,
                last_hash,
                last_time_ms,
                decisions,
                sets,
                current_set_hash,
            ),
            ledger,
            anchoring,
            views: ViewChangeState::new(&view_record),
            pool: TxPool::default(),
            transfer: StateTransfer::default(),
            timers: Timers::new(
                config.view_change_timeout_ms,
                config.retransmit_interval_ms,
                executed,
            ),
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
        if replica.views.status() == Status::ViewChange {
            let own = persist::load_own_view_change(storage)?
                .filter(|vc| vc.view == replica.views.view() && vc.signer == replica.me);
            if let Some(vc) = own {
                replica.views.restore_own_view_change(vc);
            }
        } else if let Some((nv, view_changes)) =
            persist::load_own_new_view(storage)?.filter(|(nv, _)| nv.view == replica.views.view())
        {
            replica.views.restore_new_view(nv, view_changes);
        }
        Ok(replica)
    }

    fn restore_slot(&mut self, height: u64, record: SlotRecord) {
        let view = self.views.view();
        let normal = self.views.status() == Status::Normal;
        let mut slot = Slot::restored(
            view,
            record.prepared,
            record.prepare_vote,
            record.commit_vote,
        );
        if let Some((proposal_view, block, certified)) = record.proposal {
            if proposal_view == view && normal {
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
                slot.set_proposal(Proposal::restored(block, hash, pre_prepare, certified));
            }
        }
        // Re-create our own votes of this view so they are retransmitted
        // (ed25519 is deterministic: the same bytes as before the crash).
        for kind in [VoteKind::Prepare, VoteKind::Commit] {
            if let Some((v, hash)) = slot.own_vote(kind) {
                if v == view && normal {
                    let vote = self.sign_vote(kind, height, view, hash);
                    slot.record_vote(vote);
                }
            }
        }
        self.log.restore_slot(height, slot);
    }

    // ----- accessors -------------------------------------------------------

    /// This replica's key.
    pub fn id(&self) -> PublicKey {
        self.me
    }

    /// The current view.
    pub fn view(&self) -> u64 {
        self.views.view()
    }

    /// Normal case or view change.
    pub fn status(&self) -> Status {
        self.views.status()
    }

    /// Height of the last executed (committed) block.
    pub fn executed_height(&self) -> u64 {
        self.log.executed()
    }

    /// Hash of the last executed block ([`Hash::ZERO`] at genesis).
    pub fn last_block_hash(&self) -> Hash {
        self.log.last_hash()
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
        primary_of(self.views.view(), self.ledger.validators())
    }

    /// Number of transactions in the pool.
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// A retained committed block and its certificate.
    pub fn decision(&self, height: u64) -> Option<&Decision> {
        self.log.decision(height)
    }

    /// One line of internal state, for logs and simulator failures.
    pub fn debug_summary(&self) -> String {
        format!(
            "executed={} view={} status={:?} pool={} slots={:?} deadline={:?}",
            self.log.executed(),
            self.views.view(),
            self.views.status(),
            self.pool.len(),
            self.log
                .slots()
                .map(|(h, s)| format!(
                    "h{} v{} proposal={:?} prepares={} commits={} prepared={:?} votes={:?}/{:?} cert={}",
                    h,
                    s.view(),
                    s.proposal().map(|p| (p.is_validated(), p.is_certified())),
                    s.votes(VoteKind::Prepare).len(),
                    s.votes(VoteKind::Commit).len(),
                    s.prepared().map(|p| p.certificate.view),
                    s.own_vote(VoteKind::Prepare).map(|v| v.0),
                    s.own_vote(VoteKind::Commit).map(|v| v.0),
                    s.is_committed()
                ))
                .collect::<Vec<_>>(),
            self.timers.view_deadline(),
        )
    }

    /// Why the replica halted, if it did (a fault beyond the tolerated
    /// bound, such as a certified block the ledger rejects).
    pub fn halted(&self) -> Option<HaltReason> {
        self.halted
    }

    /// The earliest time at which [`Replica::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.halted.is_some() {
            return None;
        }
        Some(self.timers.next_deadline())
    }

    /// Take the outputs produced so far. Call it after every input (or
    /// batch of inputs): outputs accumulate until then, so this is the one
    /// buffer whose bound is the caller's loop.
    pub fn ready(&mut self) -> Ready {
        self.out.writes.extend(self.anchoring.take_writes());
        debug_assert_eq!(
            self.check_invariants_bounded(),
            Ok(()),
            "{}",
            self.debug_summary()
        );
        core::mem::take(&mut self.out)
    }

    /// Check the consistency of the replica's state: each part's own
    /// invariants (pool, log, view change, state transfer, timers), then
    /// those between parts and against the ledger (executed height and
    /// validator set, own view change, slots in the current view).
    ///
    /// Every reachable state passes; a violation is a bug (or a state
    /// corrupted outside the replica). The simulator calls this after every
    /// step. The pool's checks against account nonces read the ledger once
    /// per pooled sender, so this costs O(pool) ledger reads.
    ///
    /// After a halt the replica stops between the ledger's execution of a
    /// block and its own bookkeeping, so only the parts' own invariants are
    /// checked then.
    ///
    /// # Errors
    /// The first [`InvariantViolation`] found.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.check_invariants_with(true)
    }

    /// [`Replica::check_invariants`] in bounded time, for a debug assertion
    /// after every input: the pool is checked against account nonces only
    /// while it holds at most [`READY_CHECK_POOL_MAX`] transactions.
    fn check_invariants_bounded(&self) -> Result<(), InvariantViolation> {
        self.check_invariants_with(self.pool.len() <= READY_CHECK_POOL_MAX)
    }

    fn check_invariants_with(&self, scan_pool: bool) -> Result<(), InvariantViolation> {
        let executed = self.log.executed();
        self.log.check_invariants()?;
        self.views.check_invariants(self.me)?;
        self.transfer.check_invariants(self.me, executed + 1)?;
        self.timers.check_invariants(executed)?;
        if self.halted.is_some() || !scan_pool {
            self.pool.check_invariants(None)?;
        } else {
            self.pool.check_invariants(Some(&self.ledger))?;
        }
        if self.halted.is_some() {
            return Ok(());
        }
        let part = ReplicaPart::Replica;
        ensure(
            self.ledger.height() == executed,
            part,
            "executed height differs from the ledger's",
        )?;
        ensure(
            self.log.current_set_hash() == self.ledger.validators().hash(),
            part,
            "validator set hash differs from the ledger's set",
        )?;
        let view = self.views.view();
        ensure(
            self.log.slots().all(|(_, slot)| slot.view() == view),
            part,
            "slot in another view than the current one",
        )?;
        ensure(
            self.log.slots().all(|(_, slot)| {
                [VoteKind::Prepare, VoteKind::Commit]
                    .into_iter()
                    .all(|kind| slot.own_vote(kind).is_none_or(|(v, _)| v <= view))
            }),
            part,
            "own vote for a view above the current one",
        )?;
        if let Some(own) = self.views.own_view_change() {
            ensure(
                own.committed_height <= executed,
                part,
                "own view change reports a height above the executed one",
            )?;
        }
        Ok(())
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
        self.timers.advance(now_ms);
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
        self.timers.advance(now_ms);
        if self.timers.take_view_timeout() {
            self.start_view_change(self.views.view().saturating_add(1));
        }
        if self.timers.take_retransmit() {
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
        self.timers.advance(now_ms);
        self.admit(tx.clone())?;
        self.send_now(Recipient::AllValidators, Message::Request(tx));
        self.progress();
        Ok(())
    }

    // ----- helpers ---------------------------------------------------------

    fn admit(&mut self, tx: Transaction) -> Result<(), SubmitError> {
        if matches!(tx.payload, Payload::DagDeposit { .. }) && !self.anchoring.accepts_deposits() {
            return Err(SubmitError::NoSideChain);
        }
        self.pool.admit(tx, &self.ledger, self.chain_id)
    }

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

    fn is_member(&self, key: &PublicKey) -> bool {
        self.ledger.validators().weight_of(key).is_some()
    }

    /// The validator set that signs `height`, if known.
    fn set_for(&self, height: u64) -> Option<&ValidatorSet> {
        self.log.set_for(height, &self.ledger)
    }

    fn persist_slot(&mut self, height: u64) {
        if let Some(slot) = self.log.slot(height) {
            self.out
                .writes
                .put(persist::slot_key(height), slot.record().encode());
        }
    }

    fn persist_view(&mut self) {
        let record = self.views.record();
        self.out.writes.put(persist::VIEW_KEY, record.encode());
    }
}
