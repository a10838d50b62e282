//! The tangle as the side chain of an itc-pbft replica.
//!
//! [`Tangle`] implements [`itc_core::anchoring::Anchoring`], so a validator runs
//! itc-pbft's `Replica::open_with_anchoring(config, &storage, tangle)` and its blocks
//! anchor the DAG:
//!
//! * as primary, it proposes [`Tangle::propose_anchor`]'s tips and puts the
//!   hash of the resulting [`AnchorCommitment`](crate::AnchorCommitment) in the header's
//!   `dag_anchor_root` (anchors come at most every
//!   [`crate::DagConfig::anchor_interval_ms`] in blocks that carry no
//!   main-chain transaction);
//! * as backup, it recomputes the cone with [`Tangle::compute_confirmation`]
//!   and prepares the block only if the commitment's hash is the header's
//!   root; a cone with transactions it lacks is requested
//!   ([`Tangle::poll_request`]) and the proposal waits;
//! * when the block commits, the same confirmation is applied
//!   ([`Tangle::apply_confirmation`], computed once) and its storage writes
//!   leave with the block's; main-chain `Payload::DagDeposit` transactions
//!   of the block credit the DAG ledger after its anchor;
//! * then it prunes what lies [`crate::DagConfig::prune_keep_heights`]
//!   behind, so a validator's store stays bounded.
//!
//! A light client then checks [`Tangle::prove`]'s proof against the header
//! of the anchoring block.
//!
//! # Limits
//! * A validator that catches up by state transfer replays each anchor, so
//!   it needs the anchor's cone from some peer. Peers prune cones
//!   [`crate::DagConfig::prune_keep_heights`] behind; a validator away for
//!   longer catches up only if a peer keeps more (an archival validator
//!   with `None`). Transferring a DAG snapshot instead is not implemented.
//! * A deposit is a paid creation: it is always credited, also beyond
//!   [`crate::ledger::DAG_ACCOUNTS_MAX`] funded accounts (the cap binds DAG
//!   transfers to new keys only). Only an overflow, which the main chain's
//!   bounded supply rules out, would refuse one; it would be recorded
//!   ([`Tangle::refused_deposits`]) alike on every validator, not lost
//!   silently, but nothing returns it to the main chain.

use itc_core::anchoring::{AnchorError, Anchoring};
use itc_core::storage::WriteBatch;
use itc_core::types::{DagAnchor, Payload, Transaction};
use itc_core::Hash;

use crate::finality::Confirmation;
use crate::tangle::{ConfirmError, RefusedDeposit, Tangle};

impl Tangle {
    /// The confirmation of `anchor` at `height`: the one computed for the
    /// last check if it still applies, else a fresh one.
    fn confirmation_for(
        &mut self,
        height: u64,
        anchor: &DagAnchor,
    ) -> Result<Confirmation, AnchorError> {
        if let Some(prepared) = self.prepared.take() {
            if prepared.height == height && prepared.anchor == *anchor && self.is_current(&prepared)
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
            if let Some(last) = self.last_proposed_ms {
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
        self.last_proposed_ms = Some(now_ms);
        // Our own solid, non-lazy tips: an error here means nothing worth
        // anchoring (or a tip pool out of step), never a reason to stall.
        let confirmation = self.compute_confirmation(&anchor, height).ok()?;
        if confirmation.order.is_empty() {
            return None;
        }
        let root = confirmation.commitment.hash();
        self.prepared = Some(Box::new(confirmation));
        Some((anchor, root))
    }

    fn check(&mut self, height: u64, anchor: &DagAnchor) -> Result<Hash, AnchorError> {
        let confirmation = self.confirmation_for(height, anchor)?;
        let root = confirmation.commitment.hash();
        self.prepared = Some(Box::new(confirmation));
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
                    self.record_refused_deposit(RefusedDeposit {
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
