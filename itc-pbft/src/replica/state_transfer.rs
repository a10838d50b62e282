//! State transfer: fetching committed blocks with their certificates from
//! peers, verifying them, and serving them to lagging peers.

use super::error::{MessageError, ProposalError};
use super::log::Proposal;
use super::Replica;
use crate::anchoring::Anchoring;
use crate::config::STATE_SERVES_PENDING_MAX;
use crate::message::{Decision, Message, STATE_TRANSFER_BLOCKS_MAX};
use crate::ready::Recipient;
use itc_core::keys::PublicKey;
use itc_core::types::{CommitCertificate, Threshold};

impl<A: Anchoring> Replica<A> {
    /// A peer showed it is at least at `height`: ask it for blocks (at most
    /// once per peer per retransmission interval; the hint may be a lie,
    /// the blocks it sends are verified).
    pub(super) fn note_behind(&mut self, height: u64, peer: PublicKey) {
        if peer == self.me
            || height <= self.log.executed()
            || !self.is_member(&peer)
            || !self.transfer.mark_asked(peer)
        {
            return;
        }
        self.request_state(peer);
    }

    /// Ask `peer` (a validator) for the committed blocks above this
    /// replica's height, and remember that it was asked: only an asked
    /// peer's answer can make this replica ask again.
    pub(super) fn request_state(&mut self, peer: PublicKey) {
        let from_height = self.log.executed() + 1;
        self.transfer.await_answer(peer, from_height);
        self.send_now(Recipient::One(peer), Message::StateRequest { from_height });
    }

    /// A verified commit certificate (carried by a view change) for a block
    /// this replica holds but has not seen commit: it prepared the block
    /// and its commit votes were lost. Take the certificate and execute
    /// the block, rather than depend on the certificate's bearer (which may
    /// be the only one to hold it, and Byzantine) to serve it by state
    /// transfer.
    pub(super) fn adopt_commit_certificate(&mut self, cert: &CommitCertificate) {
        if cert.chain_id != self.chain_id || !self.log.in_window(cert.height) {
            return;
        }
        let Some(slot) = self.log.slot_mut(cert.height) else {
            return;
        };
        if slot.is_committed() {
            return;
        }
        let held = match (slot.proposal(), slot.prepared()) {
            (Some(p), _) if p.hash() == cert.block_hash => Some(p.block().clone()),
            (_, Some(entry)) if entry.certificate.block_hash == cert.block_hash => {
                Some(entry.block.clone())
            }
            _ => None,
        };
        let Some(block) = held else {
            return;
        };
        if slot.proposal().is_none_or(|p| p.hash() != cert.block_hash) {
            slot.set_proposal(Proposal::certified(block, cert.block_hash));
        }
        slot.set_certificate(cert.clone());
    }

    /// Tell a lagging peer about a block it is still voting on.
    pub(super) fn push_decision(&mut self, peer: PublicKey, height: u64) {
        if peer == self.me
            || self.log.decision(height).is_none()
            || !self.is_member(&peer)
            || !self.transfer.mark_pushed(peer)
        {
            return;
        }
        self.serve_state(peer, height);
    }

    /// A peer asks for blocks from `from_height` on. Validators only, at
    /// most [`STATE_SERVES_PER_INTERVAL_MAX`] times per peer per
    /// retransmission interval: an unauthenticated request cannot make this
    /// replica send (or read) blocks without bound.
    pub(super) fn on_state_request(&mut self, from: PublicKey, from_height: u64) {
        if !self.is_member(&from) || !self.transfer.take_serve(from) {
            return;
        }
        self.serve_state(from, from_height);
    }

    /// Send `peer` the committed blocks from `from_height` on: from memory
    /// if retained there, otherwise through a state read that
    /// [`Ready::persist`] answers from storage, where every committed block
    /// is kept.
    pub(super) fn serve_state(&mut self, peer: PublicKey, from_height: u64) {
        if peer == self.me || from_height == 0 || from_height > self.log.executed() {
            return;
        }
        let retained_from = self.log.retained_from();
        if retained_from.is_some_and(|first| from_height >= first) {
            let decisions = self.log.retained(from_height, STATE_TRANSFER_BLOCKS_MAX);
            self.send_now(Recipient::One(peer), Message::StateResponse(decisions));
            return;
        }
        // Older than what memory holds: the driver reads it from storage.
        let serve = crate::ready::StateServe { peer, from_height };
        if self.out.state_serves.len() < STATE_SERVES_PENDING_MAX
            && !self.out.state_serves.contains(&serve)
        {
            self.out.state_serves.push(serve);
        }
    }

    pub(super) fn on_state_response(
        &mut self,
        from: PublicKey,
        decisions: Vec<Decision>,
    ) -> Result<(), MessageError> {
        // An answer this replica asked for. Unasked answers (a peer pushing
        // the block this replica still votes on) are used if they verify,
        // but never make it ask anyone again.
        let first = decisions.first().map(|d| d.block.header.height);
        let asked = self.transfer.take_answer(from, first);
        let result = self.apply_state_response(from, decisions, asked);
        if result.is_err() && asked && self.halted.is_none() {
            // A lie (or garbage): ask the next validator instead of waiting
            // for anti-entropy, at most once per peer per interval.
            self.ask_next_after(from);
        }
        result
    }

    /// Ask the validator after `peer` in key order (neither `peer` nor this
    /// replica) for blocks above this replica's height.
    pub(super) fn ask_next_after(&mut self, peer: PublicKey) {
        let validators = self.ledger.validators().validators();
        let start = validators
            .iter()
            .position(|v| v.key == peer)
            .map_or(0, |i| i + 1);
        let next = (0..validators.len())
            .map(|k| validators[(start + k) % validators.len()].key)
            .find(|key| *key != peer && *key != self.me);
        if let Some(next) = next {
            if self.transfer.mark_asked(next) {
                self.request_state(next);
            }
        }
    }

    fn apply_state_response(
        &mut self,
        from: PublicKey,
        decisions: Vec<Decision>,
        asked: bool,
    ) -> Result<(), MessageError> {
        let full = asked && decisions.len() == STATE_TRANSFER_BLOCKS_MAX;
        for decision in decisions {
            let height = decision.block.header.height;
            if height <= self.log.executed() {
                continue;
            }
            if height != self.log.executed() + 1 {
                return Err(MessageError::OutOfWindow);
            }
            let cert = &decision.certificate;
            if cert.height != height
                || cert.chain_id != self.chain_id
                || cert.block_hash != decision.block.header.hash()
            {
                return Err(MessageError::InvalidViewChange(
                    "state transfer certificate",
                ));
            }
            decision.block.check_body().map_err(ProposalError::from)?;
            let set = self
                .set_for(height)
                .ok_or(MessageError::UnknownValidatorSet(height))?;
            cert.verify(set, Threshold::TWO_THIRDS)
                .map_err(|_| MessageError::InvalidViewChange("state transfer certificate"))?;
            if decision.block.header.previous_hash != self.log.last_hash() {
                return Err(MessageError::InvalidViewChange("state transfer chain"));
            }
            if !self.execute(decision, false) {
                if let Some(reason) = self.halted {
                    return Err(MessageError::Halted(reason));
                }
                // Waiting for the anchor's side-chain data: the rest is
                // asked for again once this block has executed.
                return Ok(());
            }
        }
        if full {
            // There may be more: ask the same peer right away, and a peer
            // every retransmission while this brings blocks.
            self.transfer.set_catching_up(true);
            self.request_state(from);
        }
        Ok(())
    }
}
