//! View change and new view (paper section 4.4): leaving a view whose
//! primary makes no progress, and starting the next one from a quorum of
//! view changes with their prepared certificates.

use super::error::MessageError;
use super::log::Proposal;
use super::view_state::PendingNewView;
use super::{primary_of, Replica, Status};
use crate::anchoring::Anchoring;
use crate::message::{
    Message, NewView, PreparedEntry, ViewChange, ViewChangeRef, VIEW_CHANGE_PREPARED_MAX,
    WATERMARK_WINDOW,
};
use crate::persist;
use crate::ready::Recipient;
use itc_core::encoding::Encode;
use itc_core::keys::PublicKey;
use itc_core::types::Threshold;
use itc_core::Hash;
use std::collections::BTreeSet;

/// Deterministic outcome of a set of view changes: where the new view
/// starts and which prepared blocks it must re-propose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewViewDecision {
    /// Highest committed height proven by a view change.
    pub base_height: u64,
    /// Hash of the block at `base_height` ([`Hash::ZERO`] at genesis).
    pub base_hash: Hash,
    /// The signer whose view change proved `base_height`.
    pub base_source: Option<PublicKey>,
    /// Blocks at `base_height + 1, + 2, ...`: for each height the prepared
    /// block of the highest view, as long as they chain.
    pub reproposals: Vec<PreparedEntry>,
}

/// Compute what a new view must re-propose from its view changes (all
/// already verified). Every replica computes the same result.
pub fn new_view_decision(view: u64, view_changes: &[ViewChange]) -> NewViewDecision {
    let mut base_height = 0;
    let mut base_hash = Hash::ZERO;
    let mut base_source = None;
    for vc in view_changes {
        if let Some(cert) = &vc.committed_certificate {
            if vc.committed_height > base_height {
                base_height = vc.committed_height;
                base_hash = cert.block_hash;
                base_source = Some(vc.signer);
            }
        }
    }
    let mut reproposals = Vec::new();
    let mut previous = base_hash;
    for height in base_height + 1..=base_height + WATERMARK_WINDOW {
        let best = view_changes
            .iter()
            .flat_map(|vc| vc.prepared.iter())
            .filter(|e| e.block.header.height == height && e.certificate.view < view)
            .max_by_key(|e| (e.certificate.view, e.certificate.block_hash));
        match best {
            Some(entry) if entry.block.header.previous_hash == previous => {
                previous = entry.certificate.block_hash;
                reproposals.push(entry.clone());
            }
            _ => break,
        }
    }
    NewViewDecision {
        base_height,
        base_hash,
        base_source,
        reproposals,
    }
}

impl<A: Anchoring> Replica<A> {
    pub(super) fn start_view_change(&mut self, view: u64) {
        if view <= self.views.view() && self.views.status() == Status::ViewChange {
            return;
        }
        self.log.enter_view_change(view);
        let executed = self.log.executed();
        let committed_certificate = self.log.decision(executed).map(|d| d.certificate.clone());
        let prepared = self.log.prepared_entries(VIEW_CHANGE_PREPARED_MAX);
        let vc = ViewChange {
            view,
            committed_height: if committed_certificate.is_some() {
                executed
            } else {
                0
            },
            committed_certificate,
            prepared,
            signer: self.me,
            signature: itc_core::keys::Signature::EMPTY,
        }
        .sign(&self.keypair, self.chain_id);
        self.views.start_view_change(view, vc.clone());
        self.timers.note_view_change();
        self.persist_view();
        self.out
            .writes
            .put(persist::OWN_VIEW_CHANGE_KEY, vc.encode());
        if self.is_validator() {
            self.send_after_persist(Recipient::AllValidators, Message::ViewChange(vc));
        }
        self.try_new_view(view);
    }

    /// Check a view change's signature and certificates.
    fn verify_view_change(&mut self, vc: &ViewChange) -> Result<(), MessageError> {
        if !self.is_member(&vc.signer) {
            return Err(MessageError::NotAValidator);
        }
        if self
            .views
            .view_change_of(&vc.signer)
            .is_some_and(|known| known == vc)
        {
            return Ok(());
        }
        vc.verify_signature(self.chain_id)
            .map_err(|_| MessageError::BadSignature)?;
        let executed = self.log.executed();
        match &vc.committed_certificate {
            None if vc.committed_height != 0 => {
                return Err(MessageError::InvalidViewChange(
                    "missing committed certificate",
                ))
            }
            None => {}
            Some(cert) => {
                if cert.height != vc.committed_height || cert.chain_id != self.chain_id {
                    return Err(MessageError::InvalidViewChange(
                        "committed certificate height",
                    ));
                }
                let height = cert.height;
                // Only the height and hash count for the new view: for a
                // block this replica committed and still holds, comparing
                // the hash is the check; otherwise the signatures are.
                if let Some(d) = self.log.decision(height) {
                    if d.certificate.block_hash != cert.block_hash {
                        return Err(MessageError::InvalidViewChange(
                            "committed certificate conflicts",
                        ));
                    }
                } else if let Some(set) = self.set_for(height) {
                    cert.verify(set, Threshold::TWO_THIRDS)
                        .map_err(|_| MessageError::InvalidViewChange("committed certificate"))?;
                } else if height > executed {
                    return Err(MessageError::UnknownValidatorSet(height));
                }
                // Otherwise: a height this replica executed in an epoch
                // older than the retained sets. It does not matter here (a
                // new view settles heights above this replica's), and
                // replicas that do need it know its set.
            }
        }
        for entry in &vc.prepared {
            let height = entry.block.header.height;
            let cert = &entry.certificate;
            if height <= vc.committed_height
                || height > vc.committed_height + WATERMARK_WINDOW
                || cert.height != height
                || cert.view >= vc.view
                || cert.chain_id != self.chain_id
                || cert.block_hash != entry.block.header.hash()
            {
                return Err(MessageError::InvalidViewChange("prepared entry"));
            }
            entry
                .block
                .check_body()
                .map_err(|_| MessageError::InvalidViewChange("prepared block body"))?;
            // Heights this replica executed are checked too, against the
            // set that signed them (restored after a restart). Only a height
            // in an epoch older than the retained sets goes unchecked: this
            // replica already executed it, so no new view can make it act
            // on it, and replicas that can know its set.
            match self.set_for(height) {
                Some(set) => {
                    cert.verify(set)?;
                }
                None if height <= executed => {}
                None => return Err(MessageError::UnknownValidatorSet(height)),
            }
        }
        Ok(())
    }

    pub(super) fn on_view_change(&mut self, vc: ViewChange) -> Result<(), MessageError> {
        if let Some(result) = self.fill_pending_new_view(&vc) {
            return result;
        }
        let member = self.is_member(&vc.signer);
        let (view, status) = (self.views.view(), self.views.status());
        if vc.view < view || (vc.view == view && status == Status::Normal) {
            // A straggler, still asking for this or an older view: tell it
            // where this replica is, in either status, once per interval.
            // In the normal case that is the new view that started it (it is
            // self-certifying); in a view change, this replica's own view
            // change, which the straggler keeps whatever its distance and
            // counts toward joining.
            if member && vc.signer != self.me && self.transfer.mark_pushed(vc.signer) {
                let answer = match status {
                    Status::Normal => self
                        .views
                        .current_new_view()
                        .filter(|nv| nv.view == view)
                        .cloned()
                        .map(Message::NewView),
                    Status::ViewChange => self
                        .views
                        .own_view_change()
                        .cloned()
                        .map(Message::ViewChange),
                };
                if let Some(answer) = answer {
                    self.send_after_persist(Recipient::One(vc.signer), answer);
                }
            }
            return Err(MessageError::OutOfWindow);
        }
        if vc.signer == self.me {
            return Ok(());
        }
        if !member {
            return Err(MessageError::NotAValidator);
        }
        // One view change per validator: the latest it sent.
        if self
            .views
            .view_change_of(&vc.signer)
            .is_some_and(|known| known.view > vc.view)
        {
            return Err(MessageError::OutOfWindow);
        }
        let executed = self.log.executed();
        if vc.committed_height < executed {
            self.push_decision(vc.signer, vc.committed_height + 1);
        }
        if let Err(e) = self.verify_view_change(&vc) {
            if let MessageError::UnknownValidatorSet(h) = e {
                self.note_behind(h.saturating_sub(1), vc.signer);
            }
            return Err(e);
        }
        if vc.committed_height > executed {
            if let Some(cert) = &vc.committed_certificate {
                self.adopt_commit_certificate(cert);
            }
            self.note_behind(vc.committed_height, vc.signer);
        }
        let view = vc.view;
        self.views.insert_view_change(vc);
        // Join a view change that more than a third of the weight asks for,
        // however far ahead it is: the highest view that validators with
        // more than a third of the weight have reached or passed (so at
        // least one honest replica is there), in one step rather than one
        // view at a time behind a Byzantine validator that stays just ahead.
        if let Some(join) = self.views.view_to_join(self.ledger.validators()) {
            self.start_view_change(join);
        }
        self.try_new_view(view);
        Ok(())
    }

    fn try_new_view(&mut self, view: u64) {
        if self.views.view() != view
            || self.views.status() != Status::ViewChange
            || !self.is_validator()
            || primary_of(view, self.ledger.validators()) != self.me
        {
            return;
        }
        if self
            .views
            .view_change_of(&self.me)
            .is_none_or(|own| own.view != view)
            || !self.view_change_quorum(view)
        {
            return;
        }
        // Members of the current set only: a validator removed at an epoch
        // boundary may have left a view change behind.
        let view_changes = self.views.view_changes_for(view, self.ledger.validators());
        let nv = NewView::new_signed(&self.keypair, self.chain_id, view, &view_changes);
        self.out.writes.put(
            persist::OWN_NEW_VIEW_KEY,
            persist::encode_own_new_view(&nv, &view_changes),
        );
        self.send_after_persist(Recipient::AllValidators, Message::NewView(nv.clone()));
        let decision = new_view_decision(view, &view_changes);
        self.enter_view(nv, view_changes, decision);
    }

    pub(super) fn on_new_view(&mut self, from: PublicKey, nv: NewView) -> Result<(), MessageError> {
        let (view, status) = (self.views.view(), self.views.status());
        if nv.view < view || (nv.view == view && status == Status::Normal) {
            return Err(MessageError::OutOfWindow);
        }
        if nv.signer != primary_of(nv.view, self.ledger.validators()) {
            return Err(MessageError::NotPrimary);
        }
        nv.verify_signature(self.chain_id)
            .map_err(|_| MessageError::BadSignature)?;
        // Only members of the current set count, and only they decide what
        // is re-proposed: a view change from a validator that has left (or
        // never was one) is ignored, not a reason to refuse the new view.
        let set = self.ledger.validators().clone();
        let received = self.views.take_pending_received(nv.view);
        let mut members = Vec::with_capacity(nv.view_changes.len());
        let mut missing = BTreeSet::new();
        for named in &nv.view_changes {
            if set.weight_of(&named.signer).is_none() {
                continue;
            }
            let found = self.named_view_change(nv.view, named).or_else(|| {
                received
                    .get(&named.signer)
                    .filter(|vc| vc.digest() == named.digest)
                    .cloned()
            });
            match found {
                Some(vc) => members.push(vc),
                None => {
                    missing.insert(named.signer);
                }
            }
        }
        if !missing.is_empty() {
            // Keep it (the latest new view only) and ask its sender for the
            // view changes this replica lacks.
            let view = nv.view;
            if from != self.me {
                self.send_now(Recipient::One(from), Message::ViewChangeRequest { view });
            }
            self.views.set_pending(PendingNewView {
                from,
                new_view: nv,
                missing,
                received,
            });
            return Err(MessageError::MissingViewChanges);
        }
        let mut weight = 0u64;
        for vc in &members {
            if vc.view != nv.view {
                return Err(MessageError::InvalidViewChange(
                    "view change for another view",
                ));
            }
            if let Err(e) = self.verify_view_change(vc) {
                if let MessageError::UnknownValidatorSet(h) = e {
                    self.note_behind(h.saturating_sub(1), from);
                }
                return Err(e);
            }
            weight += set.weight_of(&vc.signer).unwrap_or(0);
        }
        if !set.is_quorum(weight) {
            return Err(MessageError::InvalidViewChange("new view without quorum"));
        }
        let decision = new_view_decision(nv.view, &members);
        if decision.base_height > self.log.executed() {
            for vc in &members {
                if let Some(cert) = &vc.committed_certificate {
                    self.adopt_commit_certificate(cert);
                }
            }
            let source = decision.base_source.unwrap_or(from);
            self.note_behind(decision.base_height, source);
        }
        // Kept (and persisted) so that this replica can answer stragglers
        // and requests for the view changes, after a restart too.
        self.out.writes.put(
            persist::OWN_NEW_VIEW_KEY,
            persist::encode_own_new_view(&nv, &members),
        );
        self.enter_view(nv, members, decision);
        Ok(())
    }

    /// The view change `named` by a new view for `view`, if this replica
    /// has it: its own or the latest from that signer.
    fn named_view_change(&self, view: u64, named: &ViewChangeRef) -> Option<ViewChange> {
        self.views.named_view_change(view, named)
    }

    /// A view change that a pending new view names: keep it (once
    /// verified) and, when none is missing any more, check the new view
    /// again. Returns `None` if the pending new view does not name it.
    pub(super) fn fill_pending_new_view(
        &mut self,
        vc: &ViewChange,
    ) -> Option<Result<(), MessageError>> {
        let pending = self.views.pending()?;
        if pending.new_view.view != vc.view || !pending.missing.contains(&vc.signer) {
            return None;
        }
        let digest = vc.digest();
        if !pending
            .new_view
            .view_changes
            .iter()
            .any(|named| named.signer == vc.signer && named.digest == digest)
        {
            return None;
        }
        if let Err(e) = self.verify_view_change(vc) {
            return Some(Err(e));
        }
        let pending = self.views.pending_mut()?;
        pending.missing.remove(&vc.signer);
        pending.received.insert(vc.signer, vc.clone());
        if !pending.missing.is_empty() {
            return Some(Ok(()));
        }
        let (from, new_view) = (pending.from, pending.new_view.clone());
        Some(self.on_new_view(from, new_view))
    }

    /// A replica asks for the view changes the new view of `view` names:
    /// send them if that is this replica's current view (validators only,
    /// once per peer per retransmission interval).
    pub(super) fn on_view_change_request(&mut self, from: PublicKey, view: u64) {
        if from == self.me
            || !self.is_member(&from)
            || self
                .views
                .current_new_view()
                .is_none_or(|nv| nv.view != view)
            || !self.views.mark_served(from)
        {
            return;
        }
        for vc in self.views.new_view_changes().to_vec() {
            self.send_now(Recipient::One(from), Message::ViewChange(vc));
        }
    }

    /// Enter the view of `new_view` (sent or accepted), which names
    /// `view_changes` and settles what `decision` says.
    fn enter_view(
        &mut self,
        new_view: NewView,
        view_changes: Vec<ViewChange>,
        decision: NewViewDecision,
    ) {
        let view = new_view.view;
        let floor = decision.base_height + decision.reproposals.len() as u64;
        self.views.enter_view(new_view, view_changes, floor);
        self.persist_view();
        self.log.enter_new_view(view, floor);
        for entry in decision.reproposals {
            let block = entry.block.clone();
            let height = block.header.height;
            if height <= self.log.executed() {
                continue;
            }
            if !self.log.in_window(height) {
                break;
            }
            let hash = block.header.hash();
            let slot = self.log.slot_in_view(height, view);
            if slot.is_committed() {
                continue;
            }
            // Keep the justifying certificate as our own prepared entry, so
            // a later view change still reports this height even if it does
            // not prepare again in this view.
            slot.keep_higher_prepared(entry);
            slot.set_proposal(Proposal::certified(block, hash));
            self.persist_slot(height);
        }
        self.timers.stop_view_timer();
    }
}
