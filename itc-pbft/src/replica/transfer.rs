//! State-transfer bookkeeping: which peers were asked for blocks, pushed
//! blocks or served this retransmission interval, and which answers are
//! awaited. The protocol itself is in `state_transfer.rs`.

use super::invariant::{ensure, InvariantViolation, ReplicaPart};
use crate::config::STATE_SERVES_PER_INTERVAL_MAX;
use itc_core::keys::PublicKey;
use itc_core::types::VALIDATORS_MAX;
use std::collections::{BTreeMap, BTreeSet};

/// Per-peer rate limits and the answers awaited.
#[derive(Debug, Default)]
pub(super) struct StateTransfer {
    /// Peers asked for blocks this retransmission interval (validators
    /// only, so bounded by the set).
    asked: BTreeSet<PublicKey>,
    /// Peers sent blocks or a new view this interval (validators only).
    pushed: BTreeSet<PublicKey>,
    /// State requests served per peer this interval (validators only), at
    /// most [`STATE_SERVES_PER_INTERVAL_MAX`] each.
    served: BTreeMap<PublicKey, u32>,
    /// A full state-transfer answer came in: ask again every interval.
    catching_up: bool,
    /// Validators asked for state whose answer has not come yet, with the
    /// first height asked for (at most one entry per validator,
    /// [`VALIDATORS_MAX`] in all; a new request to a peer replaces its
    /// entry).
    awaiting: BTreeMap<PublicKey, u64>,
}

impl StateTransfer {
    /// Whether `peer` may be asked this interval (and record that it was).
    pub(super) fn mark_asked(&mut self, peer: PublicKey) -> bool {
        self.asked.insert(peer)
    }

    /// Whether `peer` may be pushed blocks or a new view this interval (and
    /// record that it was).
    pub(super) fn mark_pushed(&mut self, peer: PublicKey) -> bool {
        self.pushed.insert(peer)
    }

    /// Whether a state request of `peer` may be served this interval (and
    /// count it).
    pub(super) fn take_serve(&mut self, peer: PublicKey) -> bool {
        let served = self.served.entry(peer).or_insert(0);
        if *served >= STATE_SERVES_PER_INTERVAL_MAX {
            return false;
        }
        *served += 1;
        true
    }

    /// `peer` was asked for blocks from `from_height` on.
    pub(super) fn await_answer(&mut self, peer: PublicKey, from_height: u64) {
        if self.awaiting.len() >= VALIDATORS_MAX && !self.awaiting.contains_key(&peer) {
            self.awaiting.pop_first();
        }
        self.awaiting.insert(peer, from_height);
    }

    /// Whether an answer from `peer` starting at `first` (none if empty)
    /// is the one asked for; if so it is awaited no more.
    pub(super) fn take_answer(&mut self, peer: PublicKey, first: Option<u64>) -> bool {
        let asked = self
            .awaiting
            .get(&peer)
            .is_some_and(|from_height| first.is_none_or(|first| first == *from_height));
        if asked {
            self.awaiting.remove(&peer);
        }
        asked
    }

    /// Whether a long catch-up is bringing blocks.
    pub(super) fn catching_up(&self) -> bool {
        self.catching_up
    }

    /// A full answer came in (`true`), or a whole interval brought nothing
    /// (`false`).
    pub(super) fn set_catching_up(&mut self, catching_up: bool) {
        self.catching_up = catching_up;
    }

    /// A new retransmission interval: the per-interval limits start over.
    pub(super) fn new_interval(&mut self) {
        self.pushed.clear();
        self.asked.clear();
        self.served.clear();
    }

    /// The part's own invariants: `me` is never a peer, `next_height` is
    /// the height after the executed one.
    pub(super) fn check_invariants(
        &self,
        me: PublicKey,
        next_height: u64,
    ) -> Result<(), InvariantViolation> {
        let part = ReplicaPart::StateTransfer;
        ensure(
            !self.asked.contains(&me) && !self.pushed.contains(&me),
            part,
            "this replica asked or pushed itself",
        )?;
        ensure(
            self.served
                .values()
                .all(|n| (1..=STATE_SERVES_PER_INTERVAL_MAX).contains(n)),
            part,
            "peer served more than STATE_SERVES_PER_INTERVAL_MAX times",
        )?;
        ensure(
            self.awaiting.len() <= VALIDATORS_MAX,
            part,
            "more awaited answers than VALIDATORS_MAX",
        )?;
        ensure(
            self.awaiting
                .iter()
                .all(|(peer, from)| *peer != me && (1..=next_height).contains(from)),
            part,
            "answer awaited from itself or above the next height",
        )?;
        Ok(())
    }

    /// Test-only: await an answer with no check.
    #[cfg(test)]
    pub(super) fn await_unchecked(&mut self, peer: PublicKey, from_height: u64) {
        self.awaiting.insert(peer, from_height);
    }
}
