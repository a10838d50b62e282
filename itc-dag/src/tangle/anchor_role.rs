//! The tangle's side of anchoring in itc-pbft blocks (see
//! [`crate::anchoring`]): what a primary proposes, the confirmation a
//! validator computed for a proposal and reuses when the block commits,
//! deposits the ledger refused, and the [`Anchoring`] implementation.

use hashbrown::{HashMap, HashSet};
use itc_core::anchoring::{AnchorError, Anchoring};
use itc_core::hash::Hash;
use itc_core::storage::WriteBatch;
use itc_core::types::{DagAnchor, Payload, Transaction, ANCHOR_TIPS_MAX};
use std::collections::VecDeque;

use super::{ConfirmError, InvariantViolation, RefusedDeposit, Tangle, TanglePart};
use super::{ANCHOR_SCAN_MAX, ANCHOR_TIPS_BY_AGE, REFUSED_DEPOSITS_MAX, ROOT_WALK_MAX};
use crate::finality::Confirmation;
use crate::tips::TipScore;
use crate::transaction::PARENTS_MAX;

/// Whether an honest proposer anchors an unconfirmed transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anchorable {
    /// Within the depth rule and not below max depth.
    Yes,
    /// Valid, but below max depth ([`crate::TipParams::below_max_depth`])
    /// on its recomputed oldest root: a parasite on old history, which an
    /// honest proposer leaves (only an anchor confirming one of its
    /// unconfirmed ancestors, which honest proposers leave too, could
    /// raise the root).
    NotNow,
    /// The depth rule refuses it, now and at every later height.
    Never,
}

/// Proposer and validator state of the anchoring role.
#[derive(Debug, Default)]
pub(super) struct AnchorRole {
    /// The last confirmation computed for a PBFT proposal, reused when the
    /// block commits.
    prepared: Option<Box<Confirmation>>,
    /// When this node last proposed an anchor as a PBFT primary.
    last_proposed_ms: Option<u64>,
    refused_deposits: VecDeque<RefusedDeposit>,
}

impl AnchorRole {
    /// Drop the prepared confirmation (the state it saw changed).
    pub(super) fn forget_prepared(&mut self) {
        self.prepared = None;
    }

    /// Deposits the ledger refused, oldest first.
    pub(super) fn refused_deposits(&self) -> impl Iterator<Item = &RefusedDeposit> {
        self.refused_deposits.iter()
    }

    fn record_refused_deposit(&mut self, refused: RefusedDeposit) {
        if self.refused_deposits.len() >= REFUSED_DEPOSITS_MAX {
            self.refused_deposits.pop_front();
        }
        self.refused_deposits.push_back(refused);
    }

    /// The bound on refused deposits (O(1)).
    pub(super) fn check_invariants(&self) -> Result<(), InvariantViolation> {
        if self.refused_deposits.len() > REFUSED_DEPOSITS_MAX {
            return Err(InvariantViolation::new(
                TanglePart::AnchorRole,
                "more refused deposits than kept",
            ));
        }
        Ok(())
    }
}

impl Tangle {
    /// Whether something an anchor should have confirmed by now is not
    /// confirmed yet: one of the oldest unconfirmed transactions that
    /// arrived at least `grace_ms` ago (and at most the tip pool's
    /// [`crate::TipParams::age_max_ms`], so one a primary cannot anchor does not
    /// keep backups asking for view changes forever) and that an honest
    /// proposer anchors (judged on its recomputed oldest root), or a
    /// non-lazy tip that entered the pool at least `grace_ms` ago and has
    /// not aged out. Costs a look-up per non-lazy tip and, for the oldest
    /// transactions whose stored oldest root looks too deep, a bounded walk
    /// of their unconfirmed ancestors ([`ROOT_WALK_MAX`]).
    pub fn has_unanchored_tips(&self, now_ms: u64, grace_ms: u64) -> bool {
        self.has_unanchored(now_ms, grace_ms, true)
    }

    /// [`Tangle::has_unanchored_tips`]; without `age_capped`, an
    /// unconfirmed transaction older than the pool's age limit counts too
    /// (a primary anchors it whenever the depth rule still allows).
    fn has_unanchored(&self, now_ms: u64, grace_ms: u64, age_capped: bool) -> bool {
        let age_max = self.config.tips.age_max_ms;
        let due = |added: u64, capped: bool| {
            let age = now_ms.saturating_sub(added);
            age >= grace_ms && (!capped || age <= age_max)
        };
        // The oldest unconfirmed transactions first (a lazy one, or one
        // that left the pool, still anchorable counts too), then the
        // non-lazy tips.
        let mut memo = HashMap::new();
        let mut budget = ROOT_WALK_MAX;
        self.store
            .unconfirmed()
            .take(PARENTS_MAX)
            .any(|(_, id, added)| {
                due(added, age_capped)
                    && self.anchorable(id, &mut memo, &mut budget) == Some(Anchorable::Yes)
            })
            || self.pool.non_lazy().iter().any(|id| {
                self.pool.added_ms(id).is_some_and(|added| due(added, true))
                    && self.store.record(id).is_some_and(|r| r.confirmed() == 0)
            })
    }

    /// Whether an anchor may confirm a transaction whose oldest root is
    /// `oldest_root` (the depth rule of [`Tangle::compute_confirmation`]).
    fn within_depth(&self, oldest_root: u64) -> bool {
        oldest_root.saturating_add(self.config.anchor_depth_max) > self.anchors.latest_height()
    }

    /// Whether an honest proposer anchors the stored `id` now, judged on
    /// its oldest root as [`Tangle::compute_confirmation`] would. `None`
    /// when the walk ran out of `budget` (judge it later, never drop it).
    /// The stored oldest root understates (it is refreshed only while the
    /// transaction is in the tip pool), so it settles only a "yes"; anything
    /// else is judged on the root recomputed through the unconfirmed
    /// ancestors.
    fn anchorable(
        &self,
        id: &Hash,
        memo: &mut HashMap<u32, u64>,
        budget: &mut usize,
    ) -> Option<Anchorable> {
        let Some(slot) = self.store.slot_of(id) else {
            return Some(Anchorable::Never);
        };
        let record = self.store.slot(slot);
        if record.confirmed() > 0 {
            return Some(Anchorable::Never);
        }
        let latest = self.anchors.latest_height();
        let verdict = |root: u64| {
            if !self.within_depth(root) {
                Anchorable::Never
            } else if latest.saturating_sub(root) > self.config.tips.below_max_depth {
                Anchorable::NotNow
            } else {
                Anchorable::Yes
            }
        };
        if verdict(record.stored_roots().0) == Anchorable::Yes {
            return Some(Anchorable::Yes);
        }
        self.store
            .fresh_oldest_root(slot, memo, budget)
            .map(verdict)
    }

    /// An anchor proposal: first up to [`ANCHOR_TIPS_BY_AGE`] of the oldest
    /// unconfirmed transactions that the depth rule still allows and that
    /// are not below max depth (lazy ones included: fresh traffic never
    /// starves an older transaction, and one that left the tip pool stays
    /// confirmable), then unconfirmed non-lazy
    /// tips up to [`ANCHOR_TIPS_MAX`], unapproved ones first, newest first
    /// within each group. Transactions below max depth or refused by the
    /// depth rule, judged on their recomputed oldest root (the stored one
    /// understates outside the tip pool), are forgotten from the arrival
    /// list (pruning removes them later).
    pub fn propose_anchor(&mut self, now_ms: u64) -> DagAnchor {
        self.pool.expire(&self.config.tips, now_ms);
        let mut by_age: Vec<Hash> = Vec::new();
        let mut dead: Vec<u64> = Vec::new();
        let mut memo = HashMap::new();
        let mut budget = ROOT_WALK_MAX;
        for (arrival, id, _) in self.store.unconfirmed().take(ANCHOR_SCAN_MAX) {
            if by_age.len() >= ANCHOR_TIPS_BY_AGE {
                break;
            }
            match self.anchorable(id, &mut memo, &mut budget) {
                Some(Anchorable::Yes) => by_age.push(*id),
                // Below max depth on its recomputed root (a parasite on
                // old history: honest proposers leave it, and it would sit
                // at the head of the list), or refused by the depth rule.
                Some(Anchorable::NotNow | Anchorable::Never) => dead.push(arrival),
                // Not judged within the walk budget: kept for a later
                // proposal, never dropped on a guess.
                None => {}
            }
        }
        for arrival in dead {
            self.store.forget_arrival(arrival);
        }
        let taken: HashSet<Hash> = by_age.iter().copied().collect();
        let mut candidates: Vec<(bool, usize, Hash)> = Vec::new();
        for (i, (id, score, _)) in self.pool.iter_ordered().enumerate() {
            if score != TipScore::NonLazy {
                continue;
            }
            let Some(record) = self.store.record(id) else {
                continue;
            };
            if record.confirmed() > 0 || taken.contains(id) {
                continue;
            }
            let approved = self.store.is_approved(record);
            candidates.push((approved, usize::MAX - i, *id));
        }
        candidates.sort_unstable();
        let mut tips = by_age;
        tips.extend(
            candidates
                .into_iter()
                .take(ANCHOR_TIPS_MAX - tips.len())
                .map(|c| c.2),
        );
        tips.sort_unstable();
        DagAnchor { tips }
    }

    /// The confirmation of `anchor` at `height`: the one computed for the
    /// last check if it still applies, else a fresh one.
    fn confirmation_for(
        &mut self,
        height: u64,
        anchor: &DagAnchor,
    ) -> Result<Confirmation, AnchorError> {
        if let Some(prepared) = self.anchor_role.prepared.take() {
            if prepared.height == height
                && prepared.anchor == *anchor
                && self.anchors.is_current(&prepared)
            {
                return Ok(*prepared);
            }
        }
        match self.compute_confirmation(anchor, height) {
            Ok(confirmation) => {
                // Nothing is needed any more: requests made for earlier
                // anchors (or a bogus one) must not fill the table.
                self.scope_anchor_requests(&[]);
                Ok(confirmation)
            }
            Err(ConfirmError::NotSolid { missing }) => {
                // Anchor requests are exactly what this anchor still needs:
                // every other one (a dropped proposal's tips and what their
                // parents led to) is cancelled. A lost request is asked
                // again by the caller's retransmission of `wanted()`.
                self.scope_anchor_requests(&missing);
                Err(AnchorError::NotReady)
            }
            Err(ConfirmError::HeightNotIncreasing { .. }) => Err(AnchorError::Invalid(
                "anchor height not above the last anchor",
            )),
            Err(ConfirmError::MalformedAnchor) => Err(AnchorError::Invalid("malformed anchor")),
            Err(ConfirmError::ConeTooLarge) => Err(AnchorError::Invalid("cone too large")),
            Err(ConfirmError::TooDeep { .. }) => {
                Err(AnchorError::Invalid("cone approves too deep history"))
            }
            Err(ConfirmError::TipAlreadyConfirmed(_)) => {
                Err(AnchorError::Invalid("anchor tip already confirmed"))
            }
            Err(_) => Err(AnchorError::Invalid("anchor not confirmable")),
        }
    }
}

impl Anchoring for Tangle {
    fn propose(
        &mut self,
        height: u64,
        now_ms: u64,
        has_transactions: bool,
    ) -> Option<(DagAnchor, Hash)> {
        if !has_transactions {
            if let Some(last) = self.anchor_role.last_proposed_ms {
                if now_ms < last.saturating_add(self.config().anchor_interval_ms) {
                    return None;
                }
            }
        }
        // The primary asks on every idle input: a look at the non-lazy tips
        // settles the usual "nothing to anchor" before the ordered scan. An
        // old transaction that left the tip pool counts as long as the
        // depth rule allows it.
        if !self.has_unanchored(now_ms, 0, false) {
            return None;
        }
        let anchor = self.propose_anchor(now_ms);
        if anchor.tips.is_empty() {
            return None;
        }
        // From here on, failed attempts count too (a cone too large is not
        // recomputed on every input); an idle DAG does not delay the next.
        self.anchor_role.last_proposed_ms = Some(now_ms);
        // Our own solid, non-lazy tips: an error here means nothing worth
        // anchoring (or a tip pool out of step), never a reason to stall.
        let confirmation = self.compute_confirmation(&anchor, height).ok()?;
        if confirmation.order.is_empty() {
            return None;
        }
        let root = confirmation.commitment.hash();
        self.anchor_role.prepared = Some(Box::new(confirmation));
        Some((anchor, root))
    }

    fn check(&mut self, height: u64, anchor: &DagAnchor) -> Result<Hash, AnchorError> {
        let confirmation = self.confirmation_for(height, anchor)?;
        let root = confirmation.commitment.hash();
        self.anchor_role.prepared = Some(Box::new(confirmation));
        Ok(root)
    }

    fn commit(&mut self, height: u64, anchor: &DagAnchor, root: Hash) -> Result<(), AnchorError> {
        let confirmation = self.confirmation_for(height, anchor)?;
        if confirmation.commitment.hash() != root {
            return Err(AnchorError::Invalid("anchor root differs"));
        }
        self.apply_confirmation(confirmation)
            .map_err(|_| AnchorError::Invalid("anchor confirmation stale"))?;
        if let Some(keep) = self.config().prune_keep_heights {
            if height > keep {
                let _ = self.prune(height - keep);
            }
        }
        Ok(())
    }

    fn take_writes(&mut self) -> WriteBatch {
        Tangle::take_writes(self)
    }

    fn accepts_deposits(&self) -> bool {
        true
    }

    fn wants_anchor(&self, now_ms: u64) -> bool {
        // Gossip gets two anchor intervals to reach the primary before a
        // tip it has not anchored counts against it.
        let grace = self.config().anchor_interval_ms.saturating_mul(2);
        self.has_unanchored_tips(now_ms, grace)
    }

    fn on_executed(&mut self, height: u64, transactions: &[Transaction]) {
        for tx in transactions {
            if let Payload::DagDeposit { amount } = tx.payload {
                // The main ledger debited it. A deposit is always credited
                // (a paid creation, beyond DAG_ACCOUNTS_MAX too); only an
                // overflow, which the bounded main-chain supply rules out,
                // could refuse it, and then it is recorded, alike on every
                // validator.
                if let Err(reason) = self.credit(tx.sender, amount) {
                    self.anchor_role.record_refused_deposit(RefusedDeposit {
                        height,
                        transaction: tx.hash(),
                        owner: tx.sender,
                        amount,
                        reason,
                    });
                }
            }
        }
    }
}
