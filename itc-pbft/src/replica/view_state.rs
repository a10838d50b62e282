//! The view-change state: the current view and status, each validator's
//! latest view change, this replica's own, and the new view that started
//! the current view (or one waiting for view changes it names).

use super::invariant::{ensure, InvariantViolation, ReplicaPart};
use super::Status;
use crate::message::{NewView, ViewChange, ViewChangeRef};
use crate::persist::ViewRecord;
use itc_core::keys::PublicKey;
use itc_core::types::{ValidatorSet, VALIDATORS_MAX};
use std::collections::{BTreeMap, BTreeSet};

/// A new view this replica cannot check yet: some view changes it names
/// have not arrived. Bounded by the validator set.
#[derive(Clone, Debug)]
pub(super) struct PendingNewView {
    /// Who sent it (and is asked for the missing view changes).
    pub(super) from: PublicKey,
    pub(super) new_view: NewView,
    /// Members whose named view change has not arrived.
    pub(super) missing: BTreeSet<PublicKey>,
    /// Named view changes that arrived while it waited.
    pub(super) received: BTreeMap<PublicKey, ViewChange>,
}

/// View, status and everything a view change keeps.
#[derive(Debug)]
pub(super) struct ViewChangeState {
    /// Never decreases.
    view: u64,
    status: Status,
    /// Highest sequence number the new view of the current view settled;
    /// fresh proposals in this view must be above it.
    floor: u64,
    /// The latest view change of each validator of the current set, for
    /// this view or above (above only in the normal case), whatever its
    /// distance (one per validator, so bounded by [`VALIDATORS_MAX`]): a
    /// replica many views behind still sees who is ahead and joins them.
    view_changes: BTreeMap<PublicKey, ViewChange>,
    /// This replica's view change for the current view (view change only).
    own_view_change: Option<ViewChange>,
    /// The new view that started the current view (sent or accepted;
    /// normal case only).
    current_new_view: Option<NewView>,
    /// The view changes `current_new_view` names, to answer replicas that
    /// lack some of them (at most one per validator).
    new_view_changes: Vec<ViewChange>,
    /// A new view waiting for view changes it names that this replica has
    /// not received (asked from its sender).
    pending_new_view: Option<PendingNewView>,
    /// Peers sent the view changes of the current new view this
    /// retransmission interval (validators only).
    served: BTreeSet<PublicKey>,
}

impl ViewChangeState {
    /// The state persisted in `record`, with nothing received yet.
    pub(super) fn new(record: &ViewRecord) -> Self {
        ViewChangeState {
            view: record.view,
            status: if record.in_view_change {
                Status::ViewChange
            } else {
                Status::Normal
            },
            floor: record.floor,
            view_changes: BTreeMap::new(),
            own_view_change: None,
            current_new_view: None,
            new_view_changes: Vec::new(),
            pending_new_view: None,
            served: BTreeSet::new(),
        }
    }

    /// The current view.
    pub(super) fn view(&self) -> u64 {
        self.view
    }

    /// Normal case or view change.
    pub(super) fn status(&self) -> Status {
        self.status
    }

    /// The highest height the current view's new view settled.
    pub(super) fn floor(&self) -> u64 {
        self.floor
    }

    /// What is persisted of this state.
    pub(super) fn record(&self) -> ViewRecord {
        ViewRecord {
            view: self.view,
            in_view_change: self.status == Status::ViewChange,
            floor: self.floor,
        }
    }

    /// Start a view change to `view` with this replica's own `own`.
    pub(super) fn start_view_change(&mut self, view: u64, own: ViewChange) {
        debug_assert!(view >= self.view);
        self.view = view;
        self.status = Status::ViewChange;
        self.view_changes.retain(|_, known| known.view >= view);
        self.view_changes.insert(own.signer, own.clone());
        self.own_view_change = Some(own);
        self.current_new_view = None;
    }

    /// Restore this replica's own view change after a restart.
    pub(super) fn restore_own_view_change(&mut self, own: ViewChange) {
        self.view_changes.insert(own.signer, own.clone());
        self.own_view_change = Some(own);
    }

    /// Enter `view` in the normal case, started by `new_view` naming
    /// `view_changes`, with heights up to `floor` settled.
    pub(super) fn enter_view(
        &mut self,
        new_view: NewView,
        view_changes: Vec<ViewChange>,
        floor: u64,
    ) {
        let view = new_view.view;
        debug_assert!(view >= self.view);
        self.current_new_view = Some(new_view);
        self.new_view_changes = view_changes;
        self.view = view;
        self.floor = floor;
        self.status = Status::Normal;
        self.own_view_change = None;
        self.view_changes.retain(|_, known| known.view > view);
        if self
            .pending_new_view
            .as_ref()
            .is_some_and(|pending| pending.new_view.view <= view)
        {
            self.pending_new_view = None;
        }
    }

    /// Restore the new view that started the current view after a restart.
    pub(super) fn restore_new_view(&mut self, new_view: NewView, view_changes: Vec<ViewChange>) {
        self.current_new_view = Some(new_view);
        self.new_view_changes = view_changes;
    }

    /// This replica's view change for the current view.
    pub(super) fn own_view_change(&self) -> Option<&ViewChange> {
        self.own_view_change.as_ref()
    }

    /// The new view that started the current view.
    pub(super) fn current_new_view(&self) -> Option<&NewView> {
        self.current_new_view.as_ref()
    }

    /// The view changes the current new view names.
    pub(super) fn new_view_changes(&self) -> &[ViewChange] {
        &self.new_view_changes
    }

    /// The latest view change known from `signer`.
    pub(super) fn view_change_of(&self, signer: &PublicKey) -> Option<&ViewChange> {
        self.view_changes.get(signer)
    }

    /// Keep `vc` as its signer's latest view change.
    pub(super) fn insert_view_change(&mut self, vc: ViewChange) {
        debug_assert!(
            vc.view > self.view || (vc.view == self.view && self.status == Status::ViewChange)
        );
        self.view_changes.insert(vc.signer, vc);
    }

    /// Forget view changes of validators that are not in `set` (it changed
    /// at an epoch boundary).
    pub(super) fn retain_members(&mut self, set: &ValidatorSet) {
        self.view_changes
            .retain(|signer, _| set.weight_of(signer).is_some());
    }

    /// The view changes known for `view`, from members of `set`.
    pub(super) fn view_changes_for(&self, view: u64, set: &ValidatorSet) -> Vec<ViewChange> {
        self.view_changes
            .values()
            .filter(|vc| vc.view == view && set.weight_of(&vc.signer).is_some())
            .cloned()
            .collect()
    }

    /// The view change `named` by a new view for `view`, if known.
    pub(super) fn named_view_change(&self, view: u64, named: &ViewChangeRef) -> Option<ViewChange> {
        self.view_changes
            .get(&named.signer)
            .filter(|vc| vc.view == view && vc.digest() == named.digest)
            .cloned()
    }

    /// The highest view above the current one that validators of `set`
    /// with more than a third of its weight have reached or passed.
    pub(super) fn view_to_join(&self, set: &ValidatorSet) -> Option<u64> {
        let mut ahead: Vec<(u64, u64)> = self
            .view_changes
            .values()
            .filter(|known| known.view > self.view)
            .filter_map(|known| set.weight_of(&known.signer).map(|w| (known.view, w)))
            .collect();
        ahead.sort_unstable_by(|a, b| b.cmp(a));
        let mut weight = 0u64;
        for (view, w) in ahead {
            weight += w;
            if set.exceeds_one_third(weight) {
                return Some(view);
            }
        }
        None
    }

    /// Whether validators with a quorum of `set`'s weight have a latest
    /// view change for a view that `counts`.
    pub(super) fn quorum_where(&self, set: &ValidatorSet, counts: impl Fn(u64) -> bool) -> bool {
        let weight: u64 = self
            .view_changes
            .values()
            .filter(|vc| counts(vc.view))
            .filter_map(|vc| set.weight_of(&vc.signer))
            .sum();
        set.is_quorum(weight)
    }

    /// The new view waiting for view changes.
    pub(super) fn pending(&self) -> Option<&PendingNewView> {
        self.pending_new_view.as_ref()
    }

    /// The new view waiting for view changes, to fill.
    pub(super) fn pending_mut(&mut self) -> Option<&mut PendingNewView> {
        self.pending_new_view.as_mut()
    }

    /// The view changes received for a pending new view of `view` (which
    /// stops waiting), if there is one.
    pub(super) fn take_pending_received(&mut self, view: u64) -> BTreeMap<PublicKey, ViewChange> {
        match &self.pending_new_view {
            Some(pending) if pending.new_view.view == view => self
                .pending_new_view
                .take()
                .map(|pending| pending.received)
                .unwrap_or_default(),
            _ => BTreeMap::new(),
        }
    }

    /// Wait for the view changes `pending` lacks, unless a new view for a
    /// later view already waits.
    pub(super) fn set_pending(&mut self, pending: PendingNewView) {
        if self
            .pending_new_view
            .as_ref()
            .is_none_or(|known| known.new_view.view <= pending.new_view.view)
        {
            self.pending_new_view = Some(pending);
        }
    }

    /// Whether `peer` may be served the current new view's view changes
    /// this interval (and record that it was).
    pub(super) fn mark_served(&mut self, peer: PublicKey) -> bool {
        self.served.insert(peer)
    }

    /// A new retransmission interval: every peer may be served again.
    pub(super) fn new_interval(&mut self) {
        self.served.clear();
    }

    /// The state's own invariants; `me` is this replica's key.
    pub(super) fn check_invariants(&self, me: PublicKey) -> Result<(), InvariantViolation> {
        let part = ReplicaPart::ViewChange;
        ensure(
            self.view_changes.len() <= VALIDATORS_MAX + 1,
            part,
            "more view changes than validators",
        )?;
        for (signer, vc) in &self.view_changes {
            ensure(
                vc.signer == *signer,
                part,
                "view change stored under another signer",
            )?;
            let current = match self.status {
                Status::Normal => vc.view > self.view,
                Status::ViewChange => vc.view >= self.view,
            };
            ensure(
                current,
                part,
                "view change kept for a view this replica left",
            )?;
        }
        match self.status {
            Status::Normal => ensure(
                self.own_view_change.is_none(),
                part,
                "own view change in the normal case",
            )?,
            Status::ViewChange => {
                ensure(
                    self.current_new_view.is_none(),
                    part,
                    "a new view started the view still being changed to",
                )?;
                if let Some(own) = &self.own_view_change {
                    ensure(
                        own.view == self.view && own.signer == me,
                        part,
                        "own view change for another view or signer",
                    )?;
                }
            }
        }
        if let Some(nv) = &self.current_new_view {
            ensure(
                nv.view == self.view,
                part,
                "current new view for another view",
            )?;
            ensure(
                self.new_view_changes.len() <= nv.view_changes.len()
                    && self.new_view_changes.iter().all(|vc| vc.view == nv.view),
                part,
                "new view's view changes not the ones it names",
            )?;
        }
        if let Some(pending) = &self.pending_new_view {
            ensure(
                pending.missing.len() <= VALIDATORS_MAX && pending.received.len() <= VALIDATORS_MAX,
                part,
                "pending new view waits for more than the validators",
            )?;
            ensure(
                pending
                    .received
                    .iter()
                    .all(|(signer, vc)| vc.signer == *signer && vc.view == pending.new_view.view),
                part,
                "pending new view holds a view change for another view",
            )?;
        }
        Ok(())
    }

    /// Test-only: keep `vc` with no check.
    #[cfg(test)]
    pub(super) fn insert_unchecked(&mut self, vc: ViewChange) {
        self.view_changes.insert(vc.signer, vc);
    }
}
