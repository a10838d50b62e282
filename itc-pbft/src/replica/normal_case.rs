//! Normal-case operation (paper section 4.2): pre-prepare, prepare and
//! commit in weight, validation before voting, in-order execution, and the
//! primary's proposals.

use super::error::{MessageError, ProposalError};
use super::halt::HaltReason;
use super::log::{Proposal, Slot};
use super::pool::transaction_bytes;
use super::{primary_of, Replica, Status};
use crate::anchoring::{AnchorError, Anchoring};
use crate::certificate::{DoubleVoteEvidence, PreparedCertificate};
use crate::config::{BLOCK_BYTES_MAX, EVIDENCE_PENDING_MAX};
use crate::message::{Decision, Message, PrePrepare, PreparedEntry, WATERMARK_WINDOW};
use crate::persist;
use crate::ready::Recipient;
use itc_core::encoding::Encode;
use itc_core::keys::PublicKey;
use itc_core::ledger::{BlockContext, TxError};
use itc_core::types::{
    Block, BlockHeader, CommitCertificate, Payload, Transaction, Vote, VoteKind,
};
use itc_core::Hash;
use std::collections::{BTreeMap, BTreeSet};

impl<A: Anchoring> Replica<A> {
    pub(super) fn on_pre_prepare(
        &mut self,
        from: PublicKey,
        m: PrePrepare,
    ) -> Result<(), MessageError> {
        let height = m.block.header.height;
        if height <= self.log.executed() {
            self.push_decision(from, height);
            return Err(MessageError::OutOfWindow);
        }
        // In a view change to `m.view`, the proposal is kept until the new
        // view arrives (messages may overtake it); votes wait for it too.
        if m.view != self.views.view() {
            if m.view > self.views.view() {
                self.note_behind(height - 1, from);
            }
            return Err(MessageError::OutOfWindow);
        }
        if !self.log.in_window(height) {
            self.note_behind(height - 1, from);
            return Err(MessageError::OutOfWindow);
        }
        if self.views.status() == Status::Normal && height <= self.views.floor() {
            // Settled by the new view: only its re-proposals count here.
            return Err(MessageError::OutOfWindow);
        }
        let set = self
            .set_for(height)
            .ok_or(MessageError::UnknownValidatorSet(height))?;
        // Only the primary itself hands out its proposal (links between
        // validators are direct and authenticated): a pre-prepare relayed by
        // anyone else is refused. `check_body` below already keeps a relay
        // from planting a body of its own under the primary's header; this
        // also keeps a relay from choosing which of an equivocating
        // primary's proposals a backup sees first.
        if m.signer != primary_of(m.view, set) || from != m.signer {
            return Err(MessageError::NotPrimary);
        }
        let hash = m.block.header.hash();
        if let Some(slot) = self.log.slot(height) {
            if slot.proposal().is_some() || slot.is_committed() {
                // Duplicate, or an equivocating primary: keep the first.
                return Ok(());
            }
        }
        m.verify_signature(self.chain_id)
            .map_err(|_| MessageError::BadSignature)?;
        m.block.check_body().map_err(ProposalError::from)?;
        check_block_bytes(&m.block.transactions)?;
        let view = self.views.view();
        let slot = self.log.slot_in_view(height, view);
        slot.set_proposal(Proposal::from_primary(m, hash, false));
        if height == self.log.executed() + 1 {
            self.validate_slot(height)?;
        }
        Ok(())
    }

    /// Validate the proposal at `executed + 1` against the ledger.
    pub(super) fn validate_slot(&mut self, height: u64) -> Result<(), MessageError> {
        debug_assert_eq!(height, self.log.executed() + 1);
        let Some(slot) = self.log.slot(height) else {
            return Ok(());
        };
        let Some(proposal) = slot.proposal() else {
            return Ok(());
        };
        if proposal.votable() {
            return Ok(());
        }
        let (block, view) = (proposal.block().clone(), slot.view());
        let signer = match proposal.pre_prepare() {
            Some(pre_prepare) => Some(pre_prepare.signer),
            // Restored from this replica's own storage, where only the
            // view primary's signed pre-prepare can have put it.
            None => self.set_for(height).map(|set| primary_of(view, set)),
        };
        let result = if proposal.is_anchor_pending() {
            self.validate_anchor(&block)
        } else {
            self.validate_block(&block, view, signer)
        };
        match result {
            Ok(()) => {
                if let Some(p) = self.log.slot_mut(height).and_then(Slot::proposal_mut) {
                    p.mark_validated();
                }
                self.persist_slot(height);
                Ok(())
            }
            // Side-chain data is missing (and requested): keep the proposal
            // and check only its anchor again on the next input.
            Err(e @ ProposalError::Anchor(AnchorError::NotReady)) => {
                if let Some(p) = self.log.slot_mut(height).and_then(Slot::proposal_mut) {
                    p.mark_anchor_pending();
                }
                Err(MessageError::InvalidProposal(e))
            }
            Err(e) => {
                if let Some(slot) = self.log.slot_mut(height) {
                    slot.drop_proposal();
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
        if header.height != self.log.executed() + 1 {
            return Err(ProposalError::Header("height"));
        }
        if header.previous_hash != self.log.last_hash() {
            return Err(ProposalError::Header("previous hash"));
        }
        if header.view != view {
            return Err(ProposalError::Header("view"));
        }
        if Some(header.proposer) != signer {
            return Err(ProposalError::Header("proposer"));
        }
        if header.validator_set_hash != self.log.current_set_hash() {
            return Err(ProposalError::Header("validator set hash"));
        }
        if header.time_ms < self.log.last_time_ms()
            || header.time_ms
                > self
                    .timers
                    .now()
                    .saturating_add(self.block_time_drift_ms_max)
        {
            return Err(ProposalError::Header("time"));
        }
        if block.transactions.len() > self.block_transactions_max {
            return Err(ProposalError::TooManyTransactions(block.transactions.len()));
        }
        check_block_bytes(&block.transactions)?;
        block.check_body()?;
        let mut seen = BTreeSet::new();
        let deposits = self.anchoring.accepts_deposits();
        for tx in &block.transactions {
            if !seen.insert((tx.sender, tx.nonce)) {
                return Err(ProposalError::DuplicateTransaction);
            }
            if !deposits && matches!(tx.payload, Payload::DagDeposit { .. }) {
                return Err(ProposalError::Anchor(AnchorError::Unsupported));
            }
        }
        // Each signature is verified once per replica: transactions already
        // in the pool were verified on admission; the rest are verified here,
        // and the ledger is told not to verify again.
        for (index, tx) in block.transactions.iter().enumerate() {
            if !self.pool.holds(tx) {
                tx.verify_signature().map_err(|_| {
                    itc_core::ledger::BlockError::InvalidTransaction {
                        index,
                        error: TxError::BadSignature,
                    }
                })?;
            }
        }
        let context = BlockContext {
            height: header.height,
            proposer: header.proposer,
            time_ms: header.time_ms,
        };
        let (root, next_set) = self
            .ledger
            .preview_block_preverified(&context, &block.transactions)?;
        if root != header.state_root {
            return Err(ProposalError::StateRoot);
        }
        let next_hash = next_set.map_or(self.log.current_set_hash(), |s| s.hash());
        if next_hash != header.next_validator_set_hash {
            return Err(ProposalError::NextValidatorSet);
        }
        // Last, as the costliest.
        self.validate_anchor(block)
    }

    /// Recompute the anchor's root (check_body has tied its presence to a
    /// non-zero root).
    fn validate_anchor(&mut self, block: &Block) -> Result<(), ProposalError> {
        if let Some(anchor) = &block.anchor {
            let root = self.anchoring.check(block.header.height, anchor)?;
            if root != block.header.dag_anchor_root {
                return Err(ProposalError::AnchorRoot);
            }
        }
        Ok(())
    }

    pub(super) fn on_vote(&mut self, from: PublicKey, vote: Vote) -> Result<(), MessageError> {
        let height = vote.height;
        if vote.chain_id != self.chain_id {
            return Err(MessageError::BadSignature);
        }
        if height <= self.log.executed() {
            self.push_decision(from, height);
            return Err(MessageError::OutOfWindow);
        }
        if !self.log.in_window(height) {
            self.note_behind(height - 1, from);
            return Err(MessageError::OutOfWindow);
        }
        if vote.view != self.views.view() {
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
        let existing = self
            .log
            .slot(height)
            .and_then(|slot| slot.votes(vote.kind).get(&vote.validator).cloned());
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
        let view = self.views.view();
        self.log.slot_in_view(height, view).record_vote(vote);
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
            .is_some_and(|set| set.is_quorum(weight))
    }

    /// Send votes and collect certificates for one slot. Returns whether
    /// anything changed.
    pub(super) fn step_slot(&mut self, height: u64) -> bool {
        if self.views.status() != Status::Normal {
            return false;
        }
        let view = self.views.view();
        let validator = self.is_validator() && self.set_for(height).is_some();
        let Some(slot) = self.log.slot(height) else {
            return false;
        };
        let Some(proposal) = slot.proposal() else {
            return false;
        };
        if slot.is_committed() {
            return false;
        }
        let hash = proposal.hash();
        let mut changed = false;
        // Prepare: once the proposal is valid, unless we already voted
        // otherwise in this view.
        if validator
            && proposal.votable()
            && slot
                .own_vote(VoteKind::Prepare)
                .is_none_or(|(v, _)| v < view)
        {
            self.cast_vote(VoteKind::Prepare, height, view, hash);
            changed = true;
        }
        let Some(slot) = self.log.slot(height) else {
            return changed;
        };
        let Some(proposal) = slot.proposal() else {
            return changed;
        };
        // Prepared: a quorum of prepares for the accepted proposal.
        if proposal.votable()
            && !slot.prepared_for(view, hash)
            && self.is_quorum(
                height,
                self.weight_for(height, slot.votes(VoteKind::Prepare), hash),
            )
        {
            let certificate = PreparedCertificate::from_votes(
                self.chain_id,
                height,
                view,
                hash,
                slot.votes(VoteKind::Prepare).values(),
            );
            let block = proposal.block().clone();
            if let Some(slot) = self.log.slot_mut(height) {
                slot.set_prepared(PreparedEntry { block, certificate });
            }
            self.persist_slot(height);
            changed = true;
        }
        let Some(slot) = self.log.slot(height) else {
            return changed;
        };
        if validator
            && slot.prepared_for(view, hash)
            && slot
                .own_vote(VoteKind::Commit)
                .is_none_or(|(v, _)| v < view)
        {
            self.cast_vote(VoteKind::Commit, height, view, hash);
            changed = true;
        }
        // Committed-local: a quorum of commits (itself a certificate).
        let Some(slot) = self.log.slot(height) else {
            return changed;
        };
        if self.is_quorum(
            height,
            self.weight_for(height, slot.votes(VoteKind::Commit), hash),
        ) {
            let certificate = CommitCertificate::from_votes(
                self.chain_id,
                height,
                view,
                hash,
                slot.votes(VoteKind::Commit).values(),
            );
            if let Some(slot) = self.log.slot_mut(height) {
                slot.set_certificate(certificate);
            }
            changed = true;
        }
        changed
    }

    /// Sign this replica's vote of `kind` for the slot's proposal, record
    /// it, and send it once the record is durable.
    fn cast_vote(&mut self, kind: VoteKind, height: u64, view: u64, hash: Hash) {
        let vote = self.sign_vote(kind, height, view, hash);
        let Some(slot) = self.log.slot_mut(height) else {
            return;
        };
        slot.record_own_vote(vote.clone());
        self.persist_slot(height);
        self.send_after_persist(Recipient::AllValidators, Message::Vote(vote));
    }

    /// Drive the log forward until nothing changes: validate, vote, commit,
    /// execute in order; then propose if primary; then re-arm the timer.
    pub(super) fn progress(&mut self) {
        for _ in 0..(4 * WATERMARK_WINDOW + 8) {
            if self.halted.is_some() {
                return;
            }
            let mut changed = false;
            while let Some((decision, preverified)) = self.log.next_committed() {
                if !self.execute(decision, preverified) {
                    break;
                }
                changed = true;
            }
            let next = self.log.executed() + 1;
            if self
                .log
                .slot(next)
                .and_then(Slot::proposal)
                .is_some_and(|p| !p.votable())
            {
                let _ = self.validate_slot(next);
            }
            for height in self.log.heights() {
                changed |= self.step_slot(height);
            }
            changed |= self.maybe_propose();
            if !changed {
                break;
            }
        }
        self.update_timer();
    }

    /// Execute a committed block: check its anchor (side-chain data may
    /// be missing), apply its transactions, apply the anchor, then hand the
    /// transactions to the side chain (deposits). Returns `false` if it did
    /// not execute: the anchor's data is missing (retried later), or the
    /// replica halted.
    pub(super) fn execute(&mut self, decision: Decision, preverified: bool) -> bool {
        let header = &decision.block.header;
        let height = header.height;
        assert_eq!(height, self.log.executed() + 1, "blocks execute in order");
        if decision.block.check_body().is_err() || decision.certificate.block_hash != header.hash()
        {
            // Not the body its certified header commits to (every entry
            // point checks this; kept here so that no path can turn a
            // forged body into a halt). Drop it and ask a peer for the
            // committed block.
            if let Some(slot) = self.log.slot_mut(height) {
                slot.drop_proposal();
            }
            let me = self.me;
            self.ask_next_after(me);
            return false;
        }
        if header.previous_hash != self.log.last_hash() || header.chain_id != self.chain_id {
            self.halted = Some(HaltReason::ChainMismatch);
            return false;
        }
        // The anchor is checked first: it may have to wait for side-chain
        // data, and nothing may change before that is known. It is applied
        // after the ledger accepted the block, so a block the ledger
        // refuses leaves the side chain untouched too.
        if let Some(anchor) = &decision.block.anchor {
            match self.anchoring.check(height, anchor) {
                Ok(root) if root == header.dag_anchor_root => {}
                Err(AnchorError::NotReady) => return false,
                Ok(_) | Err(_) => {
                    self.halted = Some(HaltReason::AnchorMismatch);
                    return false;
                }
            }
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
                self.halted = Some(HaltReason::LedgerRejected);
                return false;
            }
        };
        if outcome.state_root != header.state_root {
            self.halted = Some(HaltReason::StateRootMismatch);
            return false;
        }
        let next_hash = outcome
            .next_validator_set
            .as_ref()
            .map_or(self.log.current_set_hash(), |s| s.hash());
        if next_hash != header.next_validator_set_hash {
            self.halted = Some(HaltReason::NextValidatorSetMismatch);
            return false;
        }
        if let Some(anchor) = &decision.block.anchor {
            // Checked above, so computed already; both leave in one batch.
            if self
                .anchoring
                .commit(height, anchor, header.dag_anchor_root)
                .is_err()
            {
                self.halted = Some(HaltReason::AnchorMismatch);
                return false;
            }
        }
        self.anchoring
            .on_executed(height, &decision.block.transactions);
        self.out.writes.extend(outcome.writes);
        self.out
            .writes
            .put(persist::decision_key(height), decision.encode());
        self.out.writes.delete(persist::slot_key(height));
        if let Some(set) = outcome.next_validator_set {
            self.out
                .writes
                .put(persist::set_key(height + 1), set.encode());
            for first in self.log.record_set(height + 1, set) {
                self.out.writes.delete(persist::set_key(first));
            }
            // View changes of validators that left count no more.
            self.views.retain_members(self.ledger.validators());
        }
        let senders: BTreeSet<PublicKey> = decision
            .block
            .transactions
            .iter()
            .map(|tx| tx.sender)
            .collect();
        self.log.record_executed(decision.clone());
        for sender in senders {
            self.pool.clean(sender, &self.ledger);
        }
        self.out.committed.push(decision);
        // Progress: the request timer restarts from its base value.
        self.timers.note_progress();
        true
    }

    /// Propose the next block if this replica is the primary and has
    /// executable transactions or an anchor. Returns whether it proposed.
    pub(super) fn maybe_propose(&mut self) -> bool {
        if self.views.status() != Status::Normal
            || !self.is_validator()
            || self.primary() != self.me
        {
            return false;
        }
        let view = self.views.view();
        let height = self.log.executed() + 1;
        if height <= self.views.floor() {
            // Catch up to what the new view settled first.
            return false;
        }
        if let Some(slot) = self.log.slot(height) {
            if slot.proposal().is_some()
                || slot.is_committed()
                || slot
                    .own_vote(VoteKind::Prepare)
                    .is_some_and(|(v, _)| v == view)
            {
                return false;
            }
        }
        // Re-proposals of a new view come first.
        if self.log.has_reproposal() {
            return false;
        }
        let now_ms = self.timers.now();
        let context = BlockContext {
            height,
            proposer: self.me,
            time_ms: now_ms.max(self.log.last_time_ms()),
        };
        // Twice what a block holds, in count and in bytes: room for
        // candidates the ledger drops.
        let candidates = self.pool.executable_candidates(
            self.block_transactions_max.saturating_mul(2),
            BLOCK_BYTES_MAX.saturating_mul(2),
            &self.ledger,
        );
        // Pool transactions were verified on admission.
        let (mut kept, rejected) = self.ledger.select_valid_preverified(&context, candidates);
        for (tx, error) in rejected {
            if !matches!(error, TxError::FutureNonce { .. }) {
                self.pool.remove(tx.sender, tx.nonce, &self.ledger);
            }
        }
        kept.truncate(self.block_transactions_max);
        // The byte budget: the longest prefix within it (a prefix of an
        // executable sequence executes alike; the rest stay pooled).
        let mut bytes = 0usize;
        let within = kept
            .iter()
            .take_while(|tx| {
                bytes = bytes.saturating_add(transaction_bytes(tx));
                bytes <= BLOCK_BYTES_MAX
            })
            .count();
        kept.truncate(within);
        // The next block starts after the last sender this one serves.
        self.pool.rotate_after(kept.last().map(|tx| tx.sender));
        let anchor = self.anchoring.propose(height, now_ms, !kept.is_empty());
        if kept.is_empty() && anchor.is_none() {
            return false;
        }
        let (anchor, dag_anchor_root, dag_anchor_hash) = match anchor {
            Some((anchor, root)) => {
                let hash = anchor.hash();
                (Some(anchor), root, hash)
            }
            None => (None, Hash::ZERO, Hash::ZERO),
        };
        let (state_root, next_set) = match self.ledger.preview_block_preverified(&context, &kept) {
            Ok(preview) => preview,
            Err(_) => return false,
        };
        let current_set_hash = self.log.current_set_hash();
        let header = BlockHeader {
            chain_id: self.chain_id,
            height,
            previous_hash: self.log.last_hash(),
            tx_root: Block::compute_tx_root(&kept),
            tx_count: kept.len() as u64,
            state_root,
            dag_anchor_root,
            dag_anchor_hash,
            validator_set_hash: current_set_hash,
            next_validator_set_hash: next_set.map_or(current_set_hash, |s| s.hash()),
            time_ms: context.time_ms,
            proposer: self.me,
            view,
        };
        let block = Block {
            header,
            transactions: kept,
            anchor,
        };
        let hash = block.header.hash();
        let pre_prepare = PrePrepare::new_signed(&self.keypair, self.chain_id, view, block.clone());
        let slot = self.log.slot_in_view(height, view);
        slot.set_proposal(Proposal::from_primary(pre_prepare.clone(), hash, true));
        self.persist_slot(height);
        self.send_after_persist(Recipient::AllValidators, Message::PrePrepare(pre_prepare));
        self.step_slot(height);
        true
    }
}

/// Refuse transactions whose encodings exceed [`BLOCK_BYTES_MAX`] (stops
/// counting at the first transaction past the budget).
fn check_block_bytes(transactions: &[Transaction]) -> Result<(), ProposalError> {
    let mut bytes = 0usize;
    for tx in transactions {
        bytes = bytes.saturating_add(transaction_bytes(tx));
        if bytes > BLOCK_BYTES_MAX {
            return Err(ProposalError::TooManyBytes(bytes));
        }
    }
    Ok(())
}
