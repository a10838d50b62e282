//! The message log: one slot per sequence number inside the watermark
//! window, the committed chain's tip (executed height, hash and time), the
//! last committed blocks retained in memory, and the validator sets of
//! recent epochs.

use super::invariant::{ensure, InvariantViolation, ReplicaPart};
use crate::config::{COMMITTED_BLOCKS_RETAINED_MAX, VALIDATOR_SETS_RETAINED_MAX};
use crate::message::{Decision, PrePrepare, PreparedEntry, WATERMARK_WINDOW};
use crate::persist::SlotRecord;
use itc_core::keys::PublicKey;
use itc_core::ledger::Ledger;
use itc_core::types::{Block, CommitCertificate, ValidatorSet, Vote, VoteKind};
use itc_core::Hash;
use std::collections::BTreeMap;

/// A proposal accepted for a slot in the current view.
///
/// Its fields are private: it is made by one of the constructors below (a
/// primary's pre-prepare, a certified block, or storage), and afterwards
/// only moves from unchecked to validated, or to waiting for its anchor.
#[derive(Clone, Debug)]
pub(super) struct Proposal {
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
    /// The primary's proposal, `hash` being its header's hash; `validated`
    /// when the primary is this replica (it built the block from its
    /// ledger).
    pub(super) fn from_primary(pre_prepare: PrePrepare, hash: Hash, validated: bool) -> Self {
        Proposal {
            block: pre_prepare.block.clone(),
            hash,
            pre_prepare: Some(pre_prepare),
            validated,
            certified: false,
            anchor_pending: false,
        }
    }

    /// A block a quorum vouches for (a new view's re-proposal, or the block
    /// of a commit certificate): votable without checking it again.
    pub(super) fn certified(block: Block, hash: Hash) -> Self {
        Proposal {
            block,
            hash,
            pre_prepare: None,
            validated: false,
            certified: true,
            anchor_pending: false,
        }
    }

    /// A proposal read back from this replica's storage: checked again
    /// unless `certified`.
    pub(super) fn restored(
        block: Block,
        hash: Hash,
        pre_prepare: Option<PrePrepare>,
        certified: bool,
    ) -> Self {
        Proposal {
            block,
            hash,
            pre_prepare,
            validated: false,
            certified,
            anchor_pending: false,
        }
    }

    pub(super) fn block(&self) -> &Block {
        &self.block
    }

    pub(super) fn hash(&self) -> Hash {
        self.hash
    }

    pub(super) fn pre_prepare(&self) -> Option<&PrePrepare> {
        self.pre_prepare.as_ref()
    }

    pub(super) fn is_validated(&self) -> bool {
        self.validated
    }

    pub(super) fn is_certified(&self) -> bool {
        self.certified
    }

    /// Whether only the anchor is left to check.
    pub(super) fn is_anchor_pending(&self) -> bool {
        self.anchor_pending
    }

    /// The block checked out against the ledger (anchor included).
    pub(super) fn mark_validated(&mut self) {
        self.validated = true;
        self.anchor_pending = false;
    }

    /// Everything but the anchor checked; its side-chain data is awaited.
    pub(super) fn mark_anchor_pending(&mut self) {
        self.anchor_pending = true;
    }

    pub(super) fn votable(&self) -> bool {
        self.validated || self.certified
    }
}

/// The log entry of one sequence number.
///
/// Its fields are private to the log: the replica reads them through the
/// accessors and changes them through the methods below, each of which
/// keeps the slot's own invariants ([`Slot::check`]).
#[derive(Clone, Debug, Default)]
pub(super) struct Slot {
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
    /// A slot read back from storage in `view`: what it had prepared and
    /// voted; no proposal yet and no votes of others.
    pub(super) fn restored(
        view: u64,
        prepared: Option<PreparedEntry>,
        prepare_vote: Option<(u64, Hash)>,
        commit_vote: Option<(u64, Hash)>,
    ) -> Self {
        Slot {
            view,
            prepared,
            prepare_vote,
            commit_vote,
            ..Slot::default()
        }
    }

    pub(super) fn enter_view(&mut self, view: u64) {
        self.view = view;
        self.prepares.clear();
        self.commits.clear();
        if self.certificate.is_none() {
            self.proposal = None;
        }
    }

    /// The view the slot's votes and proposal belong to.
    pub(super) fn view(&self) -> u64 {
        self.view
    }

    pub(super) fn proposal(&self) -> Option<&Proposal> {
        self.proposal.as_ref()
    }

    pub(super) fn proposal_mut(&mut self) -> Option<&mut Proposal> {
        self.proposal.as_mut()
    }

    pub(super) fn set_proposal(&mut self, proposal: Proposal) {
        self.proposal = Some(proposal);
    }

    /// Forget the proposal (it failed its checks, or its body is not the
    /// one its certificate names).
    pub(super) fn drop_proposal(&mut self) {
        self.proposal = None;
    }

    /// The votes of `kind` received in the slot's view, by validator.
    pub(super) fn votes(&self, kind: VoteKind) -> &BTreeMap<PublicKey, Vote> {
        match kind {
            VoteKind::Prepare => &self.prepares,
            VoteKind::Commit => &self.commits,
        }
    }

    /// Record `vote` under its validator (the caller checked that it is
    /// for this slot and view, and that the validator has none yet).
    pub(super) fn record_vote(&mut self, vote: Vote) {
        match vote.kind {
            VoteKind::Prepare => self.prepares.insert(vote.validator, vote),
            VoteKind::Commit => self.commits.insert(vote.validator, vote),
        };
    }

    /// This replica's last vote of `kind`: its view and block hash.
    pub(super) fn own_vote(&self, kind: VoteKind) -> Option<(u64, Hash)> {
        match kind {
            VoteKind::Prepare => self.prepare_vote,
            VoteKind::Commit => self.commit_vote,
        }
    }

    /// Record this replica's own `vote` (as its last vote of that kind,
    /// which is what storage keeps, and among the votes).
    pub(super) fn record_own_vote(&mut self, vote: Vote) {
        let own = Some((vote.view, vote.block_hash));
        match vote.kind {
            VoteKind::Prepare => self.prepare_vote = own,
            VoteKind::Commit => self.commit_vote = own,
        }
        self.record_vote(vote);
    }

    /// The highest-view prepared certificate the slot holds.
    pub(super) fn prepared(&self) -> Option<&PreparedEntry> {
        self.prepared.as_ref()
    }

    /// Prepared in the slot's current view.
    pub(super) fn set_prepared(&mut self, entry: PreparedEntry) {
        self.prepared = Some(entry);
    }

    /// Keep `entry` if it is from a higher view than the one held.
    pub(super) fn keep_higher_prepared(&mut self, entry: PreparedEntry) {
        if self
            .prepared
            .as_ref()
            .is_none_or(|p| p.certificate.view < entry.certificate.view)
        {
            self.prepared = Some(entry);
        }
    }

    /// Whether the slot holds its commit certificate (committed-local).
    pub(super) fn is_committed(&self) -> bool {
        self.certificate.is_some()
    }

    pub(super) fn set_certificate(&mut self, certificate: CommitCertificate) {
        self.certificate = Some(certificate);
    }

    /// Whether the slot holds a prepared certificate for `hash` in `view`.
    pub(super) fn prepared_for(&self, view: u64, hash: Hash) -> bool {
        self.prepared
            .as_ref()
            .is_some_and(|p| p.certificate.view == view && p.certificate.block_hash == hash)
    }

    pub(super) fn record(&self) -> SlotRecord {
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

    /// What only the slot itself can check.
    fn check(&self, height: u64) -> Result<(), InvariantViolation> {
        let part = ReplicaPart::Log;
        if let Some(p) = &self.proposal {
            ensure(
                p.block.header.height == height,
                part,
                "proposal for another height",
            )?;
        }
        if let Some(cert) = &self.certificate {
            ensure(
                cert.height == height,
                part,
                "commit certificate for another height",
            )?;
            if let Some(p) = &self.proposal {
                ensure(
                    cert.block_hash == p.hash,
                    part,
                    "commit certificate for another block than the proposal",
                )?;
            }
        }
        if let Some(entry) = &self.prepared {
            ensure(
                entry.certificate.height == height && entry.block.header.height == height,
                part,
                "prepared certificate for another height",
            )?;
        }
        for (key, vote) in self.prepares.iter().chain(self.commits.iter()) {
            ensure(
                vote.validator == *key && vote.height == height && vote.view == self.view,
                part,
                "vote stored under another validator, height or view",
            )?;
        }
        Ok(())
    }
}

/// The log and the committed chain's tip.
#[derive(Debug)]
pub(super) struct Log {
    /// Slots of sequence numbers in the watermark window `(executed,
    /// executed + WATERMARK_WINDOW]`.
    slots: BTreeMap<u64, Slot>,
    /// The last committed blocks (at most
    /// [`COMMITTED_BLOCKS_RETAINED_MAX`], contiguous, ending at `executed`).
    decisions: BTreeMap<u64, Decision>,
    executed: u64,
    last_hash: Hash,
    last_time_ms: u64,
    /// Validator sets by the first height they sign (at most
    /// [`VALIDATOR_SETS_RETAINED_MAX`]); the last is today's.
    sets: BTreeMap<u64, ValidatorSet>,
    /// Hash of the set that signs the next block.
    current_set_hash: Hash,
}

impl Log {
    /// A log with no slots, at the committed tip `executed`.
    pub(super) fn new(
        executed: u64,
        last_hash: Hash,
        last_time_ms: u64,
        decisions: BTreeMap<u64, Decision>,
        sets: BTreeMap<u64, ValidatorSet>,
        current_set_hash: Hash,
    ) -> Self {
        Log {
            slots: BTreeMap::new(),
            decisions,
            executed,
            last_hash,
            last_time_ms,
            sets,
            current_set_hash,
        }
    }

    /// Height of the last executed block.
    pub(super) fn executed(&self) -> u64 {
        self.executed
    }

    /// Hash of the last executed block ([`Hash::ZERO`] at genesis).
    pub(super) fn last_hash(&self) -> Hash {
        self.last_hash
    }

    /// Time of the last executed block.
    pub(super) fn last_time_ms(&self) -> u64 {
        self.last_time_ms
    }

    /// Hash of the validator set that signs the next block.
    pub(super) fn current_set_hash(&self) -> Hash {
        self.current_set_hash
    }

    /// Whether `height` is inside the watermark window.
    pub(super) fn in_window(&self, height: u64) -> bool {
        height > self.executed && height <= self.executed + WATERMARK_WINDOW
    }

    // ----- committed blocks ------------------------------------------------

    /// A retained committed block.
    pub(super) fn decision(&self, height: u64) -> Option<&Decision> {
        self.decisions.get(&height)
    }

    /// The first retained height.
    pub(super) fn retained_from(&self) -> Option<u64> {
        self.decisions.first_key_value().map(|(h, _)| *h)
    }

    /// Up to `max` retained committed blocks from `from_height` on.
    pub(super) fn retained(&self, from_height: u64, max: usize) -> Vec<Decision> {
        self.decisions
            .range(from_height..)
            .take(max)
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// Record `decision` as executed: the next height, which leaves the
    /// log; retained, the oldest retained block dropped past the bound.
    pub(super) fn record_executed(&mut self, decision: Decision) {
        let height = decision.block.header.height;
        debug_assert_eq!(height, self.executed + 1);
        self.executed = height;
        self.last_hash = decision.block.header.hash();
        self.last_time_ms = decision.block.header.time_ms;
        self.slots.remove(&height);
        self.decisions.insert(height, decision);
        while self.decisions.len() > COMMITTED_BLOCKS_RETAINED_MAX {
            self.decisions.pop_first();
        }
    }

    // ----- validator sets --------------------------------------------------

    /// The validator set that signs `height`, if known: retained sets for
    /// executed heights, `ledger`'s set up to the end of the current epoch.
    pub(super) fn set_for<'a>(
        &'a self,
        height: u64,
        ledger: &'a Ledger,
    ) -> Option<&'a ValidatorSet> {
        if height == 0 {
            return None;
        }
        if height > self.executed {
            let epoch = ledger.params().epoch_length;
            // Known while no epoch boundary lies in [executed + 1, height - 1].
            let next_boundary = (self.executed / epoch + 1) * epoch;
            if height - 1 < next_boundary {
                Some(ledger.validators())
            } else {
                None
            }
        } else {
            self.sets.range(..=height).next_back().map(|(_, set)| set)
        }
    }

    /// `set` signs from `first_height` on. Returns the first heights of
    /// the sets dropped past [`VALIDATOR_SETS_RETAINED_MAX`].
    pub(super) fn record_set(&mut self, first_height: u64, set: ValidatorSet) -> Vec<u64> {
        self.current_set_hash = set.hash();
        self.sets.insert(first_height, set);
        let mut dropped = Vec::new();
        while self.sets.len() > VALIDATOR_SETS_RETAINED_MAX {
            if let Some((first, _)) = self.sets.pop_first() {
                dropped.push(first);
            }
        }
        dropped
    }

    // ----- slots -----------------------------------------------------------

    /// The slot of `height`, if any.
    pub(super) fn slot(&self, height: u64) -> Option<&Slot> {
        self.slots.get(&height)
    }

    /// The slot of `height`, if any, to change.
    pub(super) fn slot_mut(&mut self, height: u64) -> Option<&mut Slot> {
        self.slots.get_mut(&height)
    }

    /// The slot of `height` (created if absent), in `view`. The caller has
    /// checked that `height` is in the window.
    pub(super) fn slot_in_view(&mut self, height: u64, view: u64) -> &mut Slot {
        debug_assert!(self.in_window(height), "slot {height} outside the window");
        let slot = self.slots.entry(height).or_default();
        slot.view = view;
        slot
    }

    /// Put a slot restored from storage.
    pub(super) fn restore_slot(&mut self, height: u64, slot: Slot) {
        self.slots.insert(height, slot);
    }

    /// The slots in height order.
    pub(super) fn slots(&self) -> impl Iterator<Item = (u64, &Slot)> {
        self.slots.iter().map(|(h, s)| (*h, s))
    }

    /// The heights that have a slot.
    pub(super) fn heights(&self) -> Vec<u64> {
        self.slots.keys().copied().collect()
    }

    /// Whether some slot holds a proposal.
    pub(super) fn has_proposal(&self) -> bool {
        self.slots.values().any(|s| s.proposal.is_some())
    }

    /// Whether some slot holds a new view's re-proposal.
    pub(super) fn has_reproposal(&self) -> bool {
        self.slots
            .values()
            .any(|s| s.proposal.as_ref().is_some_and(|p| p.certified))
    }

    /// The next block to execute, if it is proposed and certified, and
    /// whether it was validated (its signatures verified).
    pub(super) fn next_committed(&self) -> Option<(Decision, bool)> {
        let slot = self.slots.get(&(self.executed + 1))?;
        let (Some(proposal), Some(certificate)) = (&slot.proposal, &slot.certificate) else {
            return None;
        };
        Some((
            Decision {
                block: proposal.block.clone(),
                certificate: certificate.clone(),
            },
            proposal.validated,
        ))
    }

    /// The prepared certificates above the executed height, at most `max`
    /// (what a view change reports).
    pub(super) fn prepared_entries(&self, max: usize) -> Vec<PreparedEntry> {
        self.slots
            .range(self.executed + 1..)
            .filter_map(|(_, s)| s.prepared.clone())
            .take(max)
            .collect()
    }

    /// Every slot leaves its view for `view` (a view change started).
    pub(super) fn enter_view_change(&mut self, view: u64) {
        for slot in self.slots.values_mut() {
            slot.enter_view(view);
        }
    }

    /// A new view for `view` settled the heights up to `floor`: slots of
    /// older views enter it, and fresh proposals received early for a
    /// settled height are dropped.
    pub(super) fn enter_new_view(&mut self, view: u64, floor: u64) {
        for (height, slot) in self.slots.iter_mut() {
            if slot.view != view {
                slot.enter_view(view);
            } else if *height <= floor && slot.certificate.is_none() {
                slot.proposal = None;
            }
        }
    }

    /// The log's own invariants.
    pub(super) fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let part = ReplicaPart::Log;
        ensure(
            self.slots.keys().all(|h| self.in_window(*h)),
            part,
            "slot outside the watermark window",
        )?;
        for (height, slot) in &self.slots {
            slot.check(*height)?;
        }
        ensure(
            self.decisions.len() <= COMMITTED_BLOCKS_RETAINED_MAX,
            part,
            "more committed blocks than COMMITTED_BLOCKS_RETAINED_MAX",
        )?;
        match self.decisions.last_key_value() {
            None => ensure(
                self.executed == 0 && self.last_hash == Hash::ZERO,
                part,
                "executed blocks but none retained",
            )?,
            Some((last, decision)) => {
                ensure(
                    *last == self.executed,
                    part,
                    "last retained block is not the executed height",
                )?;
                ensure(
                    decision.certificate.block_hash == self.last_hash
                        && decision.block.header.time_ms == self.last_time_ms,
                    part,
                    "executed hash or time differs from the last block's",
                )?;
            }
        }
        let mut previous: Option<(u64, Hash)> = None;
        for (height, decision) in &self.decisions {
            let header = &decision.block.header;
            ensure(
                header.height == *height && decision.certificate.height == *height,
                part,
                "committed block stored under another height",
            )?;
            if let Some((before, hash)) = previous {
                ensure(
                    before + 1 == *height && header.previous_hash == hash,
                    part,
                    "retained committed blocks not a contiguous chain",
                )?;
            }
            previous = Some((*height, decision.certificate.block_hash));
        }
        ensure(
            !self.sets.is_empty() && self.sets.len() <= VALIDATOR_SETS_RETAINED_MAX,
            part,
            "retained validator sets empty or above VALIDATOR_SETS_RETAINED_MAX",
        )?;
        ensure(
            self.sets
                .keys()
                .next_back()
                .is_some_and(|first| *first <= self.executed + 1),
            part,
            "a retained validator set starts above the next height",
        )?;
        Ok(())
    }

    /// Test-only: the committed blocks, to corrupt.
    #[cfg(test)]
    pub(super) fn decisions_mut(&mut self) -> &mut BTreeMap<u64, Decision> {
        &mut self.decisions
    }
}
