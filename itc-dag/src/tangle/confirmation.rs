//! Confirmation: the white-flag walk of an anchor's new cone over the
//! store, and the anchors applied so far (latest height, the lists kept for
//! proofs by height, the latest anchors' tips, the state epoch that tells a
//! computed [`Confirmation`] whether it is still current).

use hashbrown::HashSet;
use itc_core::hash::Hash;
use itc_core::merkle;
use itc_core::types::{DagAnchor, ANCHOR_TIPS_MAX};
use std::collections::BTreeMap;

use super::persist::Journal;
use super::store::Store;
use super::{ConfirmError, InvariantViolation, TanglePart};
use super::{ANCHOR_RECORDS_MAX, CONFIRMATION_CONE_MAX, FALLBACK_TIPS_MAX, GENESIS_ENTRY_POINTS};
use crate::finality::{AnchorCommitment, Confirmation, DagFinalityProof};
use crate::ledger::{DagLedger, LedgerView};

fn violation(what: &'static str) -> InvariantViolation {
    InvariantViolation::new(TanglePart::Confirmation, what)
}

/// What an applied anchor leaves for proofs.
#[derive(Clone, Debug)]
pub(super) struct AnchorRecord {
    commitment: AnchorCommitment,
    order: Vec<Hash>,
    applied: Vec<bool>,
}

impl AnchorRecord {
    /// A record of `order` (white-flag) with its `applied` flags.
    pub(super) fn new(commitment: AnchorCommitment, order: Vec<Hash>, applied: Vec<bool>) -> Self {
        AnchorRecord {
            commitment,
            order,
            applied,
        }
    }

    /// The commitment in the header.
    pub(super) fn commitment(&self) -> &AnchorCommitment {
        &self.commitment
    }

    /// Confirmed ids, in white-flag order.
    pub(super) fn order(&self) -> &[Hash] {
        &self.order
    }

    /// For each of [`AnchorRecord::order`]: whether it was applied.
    pub(super) fn applied(&self) -> &[bool] {
        &self.applied
    }
}

/// The anchors applied so far.
#[derive(Debug)]
pub(super) struct Anchors {
    latest_height: u64,
    records: BTreeMap<u64, AnchorRecord>,
    /// Bumped by every change a computed confirmation depends on.
    epoch: u64,
    /// The latest anchors' tips, newest first (genesis on a new DAG).
    fallback: Vec<Hash>,
}

impl Anchors {
    /// No anchor yet; `genesis` are the fallback tips.
    pub(super) fn new(genesis: [Hash; GENESIS_ENTRY_POINTS]) -> Self {
        Anchors {
            latest_height: 0,
            records: BTreeMap::new(),
            epoch: 0,
            fallback: genesis.to_vec(),
        }
    }

    /// Height of the latest applied anchor (0 before any).
    pub(super) fn latest_height(&self) -> u64 {
        self.latest_height
    }

    /// Something a computed confirmation depends on changed.
    pub(super) fn bump_epoch(&mut self) {
        self.epoch += 1;
    }

    /// Whether `confirmation` was computed on the current state.
    pub(super) fn is_current(&self, confirmation: &Confirmation) -> bool {
        confirmation.base_epoch == self.epoch && confirmation.height > self.latest_height
    }

    /// The latest anchors' tips, newest first.
    pub(super) fn fallback(&self) -> &[Hash] {
        &self.fallback
    }

    /// The commitment of the anchor applied at `height`, if still kept.
    pub(super) fn commitment(&self, height: u64) -> Option<AnchorCommitment> {
        self.records.get(&height).map(|a| a.commitment)
    }

    /// Keep the record of the anchor applied at `height` with `tips`, make
    /// it the latest, and remember its tips as fallback parents.
    pub(super) fn commit(
        &mut self,
        height: u64,
        tips: Vec<Hash>,
        anchor: AnchorRecord,
        journal: &mut Journal,
    ) {
        journal.put_anchor(height, &anchor);
        self.records.insert(height, anchor);
        while self.records.len() > ANCHOR_RECORDS_MAX {
            if let Some((old, _)) = self.records.pop_first() {
                journal.delete_anchor(old);
            }
        }
        self.latest_height = height;
        self.epoch += 1;
        if !tips.is_empty() {
            let mut fallback = tips;
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
        journal.put_meta(self.latest_height, &self.fallback);
    }

    /// Forget the lists of anchors at or below `height`.
    pub(super) fn prune_through(&mut self, height: u64, journal: &mut Journal) {
        while let Some((&old, _)) = self.records.first_key_value() {
            if old > height {
                break;
            }
            self.records.pop_first();
            journal.delete_anchor(old);
        }
    }

    /// Restore the latest height and (if any were stored) fallback tips.
    pub(super) fn restore_meta(&mut self, latest_height: u64, fallback: Vec<Hash>) {
        self.latest_height = latest_height;
        if !fallback.is_empty() {
            self.fallback = fallback;
        }
    }

    /// Restore the record of the anchor at `height`.
    pub(super) fn restore_anchor(&mut self, height: u64, anchor: AnchorRecord) {
        self.records.insert(height, anchor);
    }

    /// Proof that the stored `id` is final under its anchor (see
    /// [`super::Tangle::prove`]).
    pub(super) fn prove(&self, store: &Store, id: &Hash) -> Option<DagFinalityProof> {
        let record = store.record(id)?;
        if record.confirmed() == 0 {
            return None;
        }
        let anchor = self.records.get(&record.confirmed())?;
        let position = record.position() as usize;
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

    /// Bytes held by the kept anchor lists (an estimate per record).
    pub(super) fn memory_bytes(&self) -> usize {
        self.records
            .values()
            .map(|a| a.order.capacity() * 32 + a.applied.capacity() + 200)
            .sum::<usize>()
    }

    /// What this part alone guarantees (O(kept lists)): lists only for
    /// heights up to the latest, at most [`ANCHOR_RECORDS_MAX`] of them,
    /// each with one flag per id and counts that match its commitment; 1
    /// to [`FALLBACK_TIPS_MAX`] distinct fallback tips.
    pub(super) fn check_invariants(&self) -> Result<(), InvariantViolation> {
        if self.records.len() > ANCHOR_RECORDS_MAX {
            return Err(violation("more anchor lists than kept"));
        }
        if self
            .records
            .last_key_value()
            .is_some_and(|(h, _)| *h > self.latest_height)
        {
            return Err(violation("an anchor list above the latest height"));
        }
        if self.records.contains_key(&0) {
            return Err(violation("an anchor list at height 0"));
        }
        for anchor in self.records.values() {
            if anchor.applied.len() != anchor.order.len()
                || anchor.commitment.confirmed_count != anchor.order.len() as u64
                || anchor.commitment.applied_count
                    != anchor.applied.iter().filter(|a| **a).count() as u64
            {
                return Err(violation("an anchor list disagrees with its commitment"));
            }
        }
        if self.fallback.is_empty() || self.fallback.len() > FALLBACK_TIPS_MAX {
            return Err(violation("fallback tips out of bounds"));
        }
        let distinct: HashSet<&Hash> = self.fallback.iter().collect();
        if distinct.len() != self.fallback.len() {
            return Err(violation("a fallback tip is listed twice"));
        }
        Ok(())
    }

    /// Cross-check with the store (O(kept lists + stored transactions)):
    /// every id of a kept list is stored, confirmed at that height at its
    /// position; every confirmed stored transaction or entry point is at
    /// or below the latest height; every fallback tip is known.
    pub(super) fn check_against(&self, store: &Store) -> Result<(), InvariantViolation> {
        for (height, anchor) in &self.records {
            for (position, id) in anchor.order.iter().enumerate() {
                match store.record(id) {
                    Some(r) if r.confirmed() == *height && r.position() as usize == position => {}
                    _ => {
                        return Err(violation(
                            "a kept anchor list names a transaction not stored as confirmed there",
                        ))
                    }
                }
            }
        }
        if store.highest_confirmation() > self.latest_height {
            return Err(violation("confirmed above the latest anchor"));
        }
        if self.fallback.iter().any(|id| !store.known(id)) {
            return Err(violation(
                "a fallback tip is neither stored nor an entry point",
            ));
        }
        Ok(())
    }

    /// Test support: make the latest list disagree with its commitment.
    #[cfg(test)]
    pub(super) fn corrupt(&mut self) -> bool {
        let Some((_, anchor)) = self.records.iter_mut().next_back() else {
            return false;
        };
        anchor.applied.push(true);
        true
    }
}

/// The white-flag confirmation of `anchor` at `height` over `store` and
/// `ledger` (see [`super::Tangle::compute_confirmation`]). The anchor's
/// tips must all be known to the store (the caller checked solidity).
pub(super) fn white_flag(
    store: &Store,
    ledger: &DagLedger,
    anchors: &Anchors,
    anchor_depth_max: u64,
    anchor: &DagAnchor,
    height: u64,
) -> Result<Confirmation, ConfirmError> {
    let latest_height = anchors.latest_height;
    let mut slots: Vec<u32> = Vec::new();
    let mut visited: HashSet<u32> = HashSet::new();
    let mut stack: Vec<(u32, usize)> = Vec::new();
    for tip in &anchor.tips {
        // A tip confirmed by an earlier anchor (or kept only as an entry
        // point) is refused, never skipped: a node that pruned it
        // entirely would fetch it back as unconfirmed and judge the
        // anchor differently. Honest proposers name unconfirmed tips.
        let Some(slot) = store.slot_of(tip) else {
            return Err(ConfirmError::TipAlreadyConfirmed(*tip));
        };
        if store.slot(slot).confirmed() > 0 {
            return Err(ConfirmError::TipAlreadyConfirmed(*tip));
        }
        if !visited.insert(slot) {
            continue;
        }
        stack.push((slot, 0));
        while let Some(top) = stack.last_mut() {
            let (slot, next) = *top;
            let record = store.slot(slot);
            if let Some(parent) = record.parent(next) {
                top.1 += 1;
                let parent_slot = store.slot_of(&parent);
                let parent_height = match parent_slot {
                    Some(p) => match store.slot(p).confirmed() {
                        0 => None,
                        confirmed => Some(confirmed),
                    },
                    None => match store.entry_point(&parent) {
                        Some(height) => Some(height),
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
                    if parent_height.saturating_add(anchor_depth_max) <= latest_height {
                        return Err(ConfirmError::TooDeep {
                            transaction: record.id(),
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

    let mut view = LedgerView::new(ledger);
    let mut order = Vec::with_capacity(slots.len());
    let mut outcomes = Vec::with_capacity(slots.len());
    let mut applied = Vec::new();
    for slot in &slots {
        let record = store.slot(*slot);
        order.push(record.id());
        let outcome = view.apply(&record.transaction()).err();
        if outcome.is_none() {
            applied.push(record.id());
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
        base_epoch: anchors.epoch,
    })
}

const _: () = assert!(FALLBACK_TIPS_MAX <= ANCHOR_TIPS_MAX);
