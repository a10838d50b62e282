//! The view-change timer (exponential, reset on progress) and
//! retransmission for lossy networks.

use super::*;

impl<A: Anchoring> Replica<A> {
    pub(super) fn timeout_ms(&self) -> u64 {
        self.view_change_timeout_ms << self.attempts.min(TIMEOUT_DOUBLINGS_MAX)
    }

    pub(super) fn has_pending_work(&self) -> bool {
        self.pool_has_executable()
            || self.slots.values().any(|s| s.proposal.is_some())
            || self.anchoring.wants_anchor(self.now_ms)
    }

    /// Whether some pooled transaction carries its sender's next nonce (one
    /// waiting for an earlier nonce does not make the primary late).
    pub(super) fn pool_has_executable(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Normal case: the timer runs while work is pending. View change: it
    /// runs only once a quorum has asked for this view or a later one (the
    /// paper's rule, counting a validator whose latest view change is for a
    /// later view: it has given this view up too), so a replica does not
    /// run through views alone, and replicas whose latest view changes
    /// differ still move on together.
    pub(super) fn update_timer(&mut self) {
        let armed = self.is_validator()
            && match self.status {
                Status::Normal => self.has_pending_work(),
                Status::ViewChange => {
                    let view = self.view;
                    self.view_change_quorum_where(|asked| asked >= view)
                }
            };
        if !armed {
            self.view_deadline = None;
        } else if self.view_deadline.is_none() {
            self.view_deadline = Some(self.now_ms + self.timeout_ms());
        }
    }

    /// Whether validators with a quorum of the weight asked for exactly
    /// `view` (what a new view for it must carry).
    pub(super) fn view_change_quorum(&self, view: u64) -> bool {
        self.view_change_quorum_where(|asked| asked == view)
    }

    /// Whether validators with a quorum of the weight have a latest view
    /// change for a view that `counts`.
    fn view_change_quorum_where(&self, counts: impl Fn(u64) -> bool) -> bool {
        let set = self.ledger.validators();
        let weight: u64 = self
            .view_changes
            .values()
            .filter(|vc| counts(vc.view))
            .filter_map(|vc| set.weight_of(&vc.signer))
            .sum();
        set.is_quorum(weight)
    }

    pub(super) fn retransmit(&mut self) {
        self.pushed.clear();
        self.asked.clear();
        self.served.clear();
        self.view_changes_served.clear();
        if let Some(pending) = &self.pending_new_view {
            let (from, view) = (pending.from, pending.new_view.view);
            self.send_now(Recipient::One(from), Message::ViewChangeRequest { view });
        }
        self.retransmissions = self.retransmissions.wrapping_add(1);
        let no_progress = self.executed == self.executed_at_last_retransmit;
        self.executed_at_last_retransmit = self.executed;
        if no_progress {
            // Nothing came in a whole interval: back to anti-entropy pace.
            self.catching_up = false;
        }
        // From the first retransmission on, so that a restarted replica
        // asks at once.
        let anti_entropy = self.retransmissions % ANTI_ENTROPY_RETRANSMISSIONS == 1;
        if anti_entropy || self.catching_up {
            // Anti-entropy: ask a rotating peer whether it has committed
            // more; every interval while a long catch-up makes progress.
            let rotation = if anti_entropy {
                self.retransmissions / ANTI_ENTROPY_RETRANSMISSIONS
            } else {
                self.retransmissions
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
        match self.status {
            Status::ViewChange => {
                if let Some(vc) = self.own_view_change.clone() {
                    self.send_after_persist(Recipient::AllValidators, Message::ViewChange(vc));
                }
            }
            Status::Normal => {
                let mut messages = Vec::new();
                let mut pending = false;
                for slot in self.slots.values() {
                    if slot.view != self.view {
                        continue;
                    }
                    if let Some(p) = &slot.proposal {
                        pending = true;
                        if let Some(pp) = &p.pre_prepare {
                            if pp.signer == self.me {
                                messages.push(Message::PrePrepare(pp.clone()));
                            }
                        }
                    }
                    if let Some(v) = slot.prepares.get(&self.me) {
                        messages.push(Message::Vote(v.clone()));
                    }
                    if let Some(v) = slot.commits.get(&self.me) {
                        messages.push(Message::Vote(v.clone()));
                    }
                }
                if pending {
                    if let Some(nv) = self
                        .current_new_view
                        .clone()
                        .filter(|nv| nv.view == self.view && nv.signer == self.me)
                    {
                        messages.push(Message::NewView(nv));
                    }
                }
                for m in messages {
                    self.send_after_persist(Recipient::AllValidators, m);
                }
                if no_progress && self.primary() != self.me && !self.pool.is_empty() {
                    let primary = self.primary();
                    let txs: Vec<Transaction> = self
                        .pool
                        .values()
                        .take(FORWARD_TRANSACTIONS_MAX)
                        .cloned()
                        .collect();
                    for tx in txs {
                        self.send_now(Recipient::One(primary), Message::Request(tx));
                    }
                }
            }
        }
    }
}
