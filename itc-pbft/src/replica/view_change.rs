//! View change and new view (paper section 4.4): leaving a view whose
//! primary makes no progress, and starting the next one from a quorum of
//! view changes with their prepared certificates.

use super::*;

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
        if view <= self.view && self.status == Status::ViewChange {
            return;
        }
        self.view = view;
        self.status = Status::ViewChange;
        self.attempts = self.attempts.saturating_add(1);
        for slot in self.slots.values_mut() {
            slot.enter_view(view);
        }
        let committed_certificate = self
            .decisions
            .get(&self.executed)
            .map(|d| d.certificate.clone());
        let prepared: Vec<PreparedEntry> = self
            .slots
            .range(self.executed + 1..)
            .filter_map(|(_, s)| s.prepared.clone())
            .take(VIEW_CHANGE_PREPARED_MAX)
            .collect();
        let vc = ViewChange {
            view,
            committed_height: if committed_certificate.is_some() {
                self.executed
            } else {
                0
            },
            committed_certificate,
            prepared,
            signer: self.me,
            signature: itc_core::keys::Signature::EMPTY,
        }
        .sign(&self.keypair, self.chain_id);
        self.persist_view();
        self.out
            .writes
            .put(persist::OWN_VIEW_CHANGE_KEY, vc.encode());
        self.view_changes.retain(|_, known| known.view >= view);
        self.view_changes.insert(self.me, vc.clone());
        self.own_view_change = Some(vc.clone());
        self.current_new_view = None;
        if self.is_validator() {
            self.send_after_persist(Recipient::AllValidators, Message::ViewChange(vc));
        }
        self.view_deadline = None;
        self.try_new_view(view);
    }

    /// Check a view change's signature and certificates.
    fn verify_view_change(&mut self, vc: &ViewChange) -> Result<(), MessageError> {
        let set = self.ledger.validators();
        if set.weight_of(&vc.signer).is_none() {
            return Err(MessageError::NotAValidator);
        }
        if self
            .view_changes
            .get(&vc.signer)
            .is_some_and(|known| known == vc)
        {
            return Ok(());
        }
        vc.verify_signature(self.chain_id)
            .map_err(|_| MessageError::BadSignature)?;
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
                if let Some(d) = self.decisions.get(&height) {
                    if d.certificate.block_hash != cert.block_hash {
                        return Err(MessageError::InvalidViewChange(
                            "committed certificate conflicts",
                        ));
                    }
                } else if let Some(set) = self.set_for(height) {
                    cert.verify(set, Threshold::TWO_THIRDS)
                        .map_err(|_| MessageError::InvalidViewChange("committed certificate"))?;
                } else if height > self.executed {
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
                None if height <= self.executed => {}
                None => return Err(MessageError::UnknownValidatorSet(height)),
            }
        }
        Ok(())
    }

    pub(super) fn on_view_change(&mut self, vc: ViewChange) -> Result<(), MessageError> {
        if let Some(result) = self.fill_pending_new_view(&vc) {
            return result;
        }
        let member = self.ledger.validators().weight_of(&vc.signer).is_some();
        if vc.view < self.view || (vc.view == self.view && self.status == Status::Normal) {
            // A straggler, still asking for this or an older view: tell it
            // where this replica is, in either status, once per interval.
            // In the normal case that is the new view that started it (it is
            // self-certifying); in a view change, this replica's own view
            // change, which the straggler keeps whatever its distance and
            // counts toward joining.
            if member && vc.signer != self.me && self.pushed.insert(vc.signer) {
                let answer = match self.status {
                    Status::Normal => self
                        .current_new_view
                        .clone()
                        .filter(|nv| nv.view == self.view)
                        .map(Message::NewView),
                    Status::ViewChange => self.own_view_change.clone().map(Message::ViewChange),
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
            .view_changes
            .get(&vc.signer)
            .is_some_and(|known| known.view > vc.view)
        {
            return Err(MessageError::OutOfWindow);
        }
        if vc.committed_height < self.executed {
            self.push_decision(vc.signer, vc.committed_height + 1);
        }
        if let Err(e) = self.verify_view_change(&vc) {
            if let MessageError::UnknownValidatorSet(h) = e {
                self.note_behind(h.saturating_sub(1), vc.signer);
            }
            return Err(e);
        }
        if vc.committed_height > self.executed {
            if let Some(cert) = &vc.committed_certificate {
                self.adopt_commit_certificate(cert);
            }
            self.note_behind(vc.committed_height, vc.signer);
        }
        let view = vc.view;
        self.view_changes.insert(vc.signer, vc);
        // Join a view change that more than a third of the weight asks for,
        // however far ahead it is: the highest view that validators with
        // more than a third of the weight have reached or passed (so at
        // least one honest replica is there), in one step rather than one
        // view at a time behind a Byzantine validator that stays just ahead.
        let set = self.ledger.validators();
        let mut ahead: Vec<(u64, u64)> = self
            .view_changes
            .values()
            .filter(|known| known.view > self.view)
            .filter_map(|known| set.weight_of(&known.signer).map(|w| (known.view, w)))
            .collect();
        ahead.sort_unstable_by(|a, b| b.cmp(a));
        let mut weight = 0u64;
        let mut join = None;
        for (view, w) in ahead {
            weight += w;
            if set.exceeds_one_third(weight) {
                join = Some(view);
                break;
            }
        }
        if let Some(view) = join {
            self.start_view_change(view);
        }
        self.try_new_view(view);
        Ok(())
    }

    fn try_new_view(&mut self, view: u64) {
        if self.view != view
            || self.status != Status::ViewChange
            || !self.is_validator()
            || primary_of(view, self.ledger.validators()) != self.me
        {
            return;
        }
        if self
            .view_changes
            .get(&self.me)
            .is_none_or(|own| own.view != view)
            || !self.view_change_quorum(view)
        {
            return;
        }
        // Members of the current set only: a validator removed at an epoch
        // boundary may have left a view change behind.
        let set = self.ledger.validators();
        let view_changes: Vec<ViewChange> = self
            .view_changes
            .values()
            .filter(|vc| vc.view == view && set.weight_of(&vc.signer).is_some())
            .cloned()
            .collect();
        let nv = NewView::new_signed(&self.keypair, self.chain_id, view, &view_changes);
        self.out.writes.put(
            persist::OWN_NEW_VIEW_KEY,
            persist::encode_own_new_view(&nv, &view_changes),
        );
        self.send_after_persist(Recipient::AllValidators, Message::NewView(nv.clone()));
        let decision = new_view_decision(view, &view_changes);
        self.current_new_view = Some(nv);
        self.new_view_changes = view_changes;
        self.enter_view(view, decision);
    }

    pub(super) fn on_new_view(&mut self, from: PublicKey, nv: NewView) -> Result<(), MessageError> {
        if nv.view < self.view || (nv.view == self.view && self.status == Status::Normal) {
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
        let received = match &self.pending_new_view {
            Some(pending) if pending.new_view.view == nv.view => self
                .pending_new_view
                .take()
                .map(|pending| pending.received)
                .unwrap_or_default(),
            _ => BTreeMap::new(),
        };
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
            if self
                .pending_new_view
                .as_ref()
                .is_none_or(|pending| pending.new_view.view <= view)
            {
                self.pending_new_view = Some(PendingNewView {
                    from,
                    new_view: nv,
                    missing,
                    received,
                });
            }
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
        if decision.base_height > self.executed {
            for vc in &members {
                if let Some(cert) = &vc.committed_certificate {
                    self.adopt_commit_certificate(cert);
                }
            }
            let source = decision.base_source.unwrap_or(from);
            self.note_behind(decision.base_height, source);
        }
        let view = nv.view;
        // Kept (and persisted) so that this replica can answer stragglers
        // and requests for the view changes, after a restart too.
        self.out.writes.put(
            persist::OWN_NEW_VIEW_KEY,
            persist::encode_own_new_view(&nv, &members),
        );
        self.current_new_view = Some(nv);
        self.new_view_changes = members;
        self.enter_view(view, decision);
        Ok(())
    }

    /// The view change `named` by a new view for `view`, if this replica
    /// has it: its own or the latest from that signer.
    fn named_view_change(&self, view: u64, named: &ViewChangeRef) -> Option<ViewChange> {
        self.view_changes
            .get(&named.signer)
            .filter(|vc| vc.view == view && vc.digest() == named.digest)
            .cloned()
    }

    /// A view change that a pending new view names: keep it (once
    /// verified) and, when none is missing any more, check the new view
    /// again. Returns `None` if the pending new view does not name it.
    pub(super) fn fill_pending_new_view(
        &mut self,
        vc: &ViewChange,
    ) -> Option<Result<(), MessageError>> {
        let pending = self.pending_new_view.as_ref()?;
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
        let pending = self.pending_new_view.as_mut()?;
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
            || self.ledger.validators().weight_of(&from).is_none()
            || self
                .current_new_view
                .as_ref()
                .is_none_or(|nv| nv.view != view)
            || !self.view_changes_served.insert(from)
        {
            return;
        }
        for vc in self.new_view_changes.clone() {
            self.send_now(Recipient::One(from), Message::ViewChange(vc));
        }
    }

    fn enter_view(&mut self, view: u64, decision: NewViewDecision) {
        self.view = view;
        self.view_floor = decision.base_height + decision.reproposals.len() as u64;
        self.status = Status::Normal;
        self.persist_view();
        self.own_view_change = None;
        self.view_changes.retain(|_, known| known.view > view);
        if self
            .pending_new_view
            .as_ref()
            .is_some_and(|pending| pending.new_view.view <= view)
        {
            self.pending_new_view = None;
        }
        let floor = self.view_floor;
        for (height, slot) in self.slots.iter_mut() {
            if slot.view != view {
                slot.enter_view(view);
            } else if *height <= floor && slot.certificate.is_none() {
                // A fresh proposal received early for a settled height.
                slot.proposal = None;
            }
        }
        for entry in decision.reproposals {
            let block = entry.block.clone();
            let height = block.header.height;
            if height <= self.executed {
                continue;
            }
            if !self.in_window(height) {
                break;
            }
            let hash = block.header.hash();
            let slot = self.slots.entry(height).or_default();
            slot.view = view;
            if slot.certificate.is_some() {
                continue;
            }
            // Keep the justifying certificate as our own prepared entry, so
            // a later view change still reports this height even if it does
            // not prepare again in this view.
            if slot
                .prepared
                .as_ref()
                .is_none_or(|p| p.certificate.view < entry.certificate.view)
            {
                slot.prepared = Some(entry);
            }
            slot.proposal = Some(Proposal {
                block,
                hash,
                pre_prepare: None,
                validated: false,
                certified: true,
                anchor_pending: false,
            });
            self.persist_slot(height);
        }
        self.view_deadline = None;
    }
}
