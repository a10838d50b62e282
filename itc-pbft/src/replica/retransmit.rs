//! Arming the view-change timer, and retransmission for lossy networks:
//! what a replica resends and asks for every retransmission interval.

use super::{Replica, Status};
use crate::anchoring::Anchoring;
use crate::config::{ANTI_ENTROPY_RETRANSMISSIONS, FORWARD_TRANSACTIONS_MAX};
use crate::message::Message;
use crate::ready::Recipient;
use itc_core::types::VoteKind;

impl<A: Anchoring> Replica<A> {
    pub(super) fn has_pending_work(&self) -> bool {
        self.pool.has_executable()
            || self.log.has_proposal()
            || self.anchoring.wants_anchor(self.timers.now())
    }

    /// Normal case: the timer runs while work is pending. View change: it
    /// runs only once a quorum has asked for this view or a later one (the
    /// paper's rule, counting a validator whose latest view change is for a
    /// later view: it has given this view up too), so a replica does not
    /// run through views alone, and replicas whose latest view changes
    /// differ still move on together.
    pub(super) fn update_timer(&mut self) {
        let armed = self.is_validator()
            && match self.views.status() {
                Status::Normal => self.has_pending_work(),
                Status::ViewChange => {
                    let view = self.views.view();
                    self.views
                        .quorum_where(self.ledger.validators(), |asked| asked >= view)
                }
            };
        if armed {
            self.timers.arm_view_timer();
        } else {
            self.timers.stop_view_timer();
        }
    }

    /// Whether validators with a quorum of the weight asked for exactly
    /// `view` (what a new view for it must carry).
    pub(super) fn view_change_quorum(&self, view: u64) -> bool {
        self.views
            .quorum_where(self.ledger.validators(), |asked| asked == view)
    }

    pub(super) fn retransmit(&mut self) {
        self.transfer.new_interval();
        self.views.new_interval();
        if let Some(pending) = self.views.pending() {
            let (from, view) = (pending.from, pending.new_view.view);
            self.send_now(Recipient::One(from), Message::ViewChangeRequest { view });
        }
        let (retransmissions, no_progress) = self.timers.note_retransmission(self.log.executed());
        if no_progress {
            // Nothing came in a whole interval: back to anti-entropy pace.
            self.transfer.set_catching_up(false);
        }
        // From the first retransmission on, so that a restarted replica
        // asks at once.
        let anti_entropy = retransmissions % ANTI_ENTROPY_RETRANSMISSIONS == 1;
        if anti_entropy || self.transfer.catching_up() {
            // Anti-entropy: ask a rotating peer whether it has committed
            // more; every interval while a long catch-up makes progress.
            let rotation = if anti_entropy {
                retransmissions / ANTI_ENTROPY_RETRANSMISSIONS
            } else {
                retransmissions
            };
            let validators = self.ledger.validators().validators();
            let mut peer = validators[rotation as usize % validators.len()].key;
            if peer == self.me {
                peer = validators[(rotation as usize + 1) % validators.len()].key;
            }
            if peer != self.me {
                self.request_state(peer);
            }
        }
        match self.views.status() {
            Status::ViewChange => {
                if let Some(vc) = self.views.own_view_change().cloned() {
                    self.send_after_persist(Recipient::AllValidators, Message::ViewChange(vc));
                }
            }
            Status::Normal => {
                let view = self.views.view();
                let mut messages = Vec::new();
                let mut pending = false;
                for (_, slot) in self.log.slots() {
                    if slot.view() != view {
                        continue;
                    }
                    if let Some(p) = slot.proposal() {
                        pending = true;
                        if let Some(pp) = p.pre_prepare() {
                            if pp.signer == self.me {
                                messages.push(Message::PrePrepare(pp.clone()));
                            }
                        }
                    }
                    for kind in [VoteKind::Prepare, VoteKind::Commit] {
                        if let Some(v) = slot.votes(kind).get(&self.me) {
                            messages.push(Message::Vote(v.clone()));
                        }
                    }
                }
                if pending {
                    if let Some(nv) = self
                        .views
                        .current_new_view()
                        .filter(|nv| nv.view == view && nv.signer == self.me)
                    {
                        messages.push(Message::NewView(nv.clone()));
                    }
                }
                for m in messages {
                    self.send_after_persist(Recipient::AllValidators, m);
                }
                if no_progress && self.primary() != self.me && !self.pool.is_empty() {
                    let primary = self.primary();
                    for tx in self.pool.first(FORWARD_TRANSACTIONS_MAX) {
                        self.send_now(Recipient::One(primary), Message::Request(tx));
                    }
                }
            }
        }
    }
}
