//! The view-change timer (exponential backoff, reset on progress) and the
//! retransmission timer, on the caller's clock.

use super::invariant::{ensure, InvariantViolation, ReplicaPart};
use crate::config::TIMEOUT_DOUBLINGS_MAX;

/// The replica's clock (the latest time an input carried) and deadlines.
#[derive(Debug)]
pub(super) struct Timers {
    /// Never decreases.
    now_ms: u64,
    view_change_timeout_ms: u64,
    retransmit_interval_ms: u64,
    /// Fruitless view changes since the last commit: the timeout doubles
    /// with each, up to [`TIMEOUT_DOUBLINGS_MAX`] times.
    attempts: u32,
    view_deadline: Option<u64>,
    retransmit_deadline: u64,
    retransmissions: u64,
    /// Executed height at the last retransmission.
    executed_at_last_retransmit: u64,
}

impl Timers {
    /// Timers at time 0 (both durations at least 1 ms), with the executed
    /// height `executed`.
    pub(super) fn new(
        view_change_timeout_ms: u64,
        retransmit_interval_ms: u64,
        executed: u64,
    ) -> Self {
        Timers {
            now_ms: 0,
            view_change_timeout_ms: view_change_timeout_ms.max(1),
            retransmit_interval_ms: retransmit_interval_ms.max(1),
            attempts: 0,
            view_deadline: None,
            retransmit_deadline: 0,
            retransmissions: 0,
            executed_at_last_retransmit: executed,
        }
    }

    /// The latest time seen.
    pub(super) fn now(&self) -> u64 {
        self.now_ms
    }

    /// An input at `now_ms` (earlier times leave the clock as it is).
    pub(super) fn advance(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    /// The current view-change timeout: the base doubled per fruitless
    /// attempt.
    pub(super) fn timeout_ms(&self) -> u64 {
        self.view_change_timeout_ms << self.attempts.min(TIMEOUT_DOUBLINGS_MAX)
    }

    /// The earliest deadline.
    pub(super) fn next_deadline(&self) -> u64 {
        match self.view_deadline {
            Some(d) => self.retransmit_deadline.min(d),
            None => self.retransmit_deadline,
        }
    }

    /// The view change timer's deadline, if it runs.
    pub(super) fn view_deadline(&self) -> Option<u64> {
        self.view_deadline
    }

    /// Whether the view-change timer fired (it stops).
    pub(super) fn take_view_timeout(&mut self) -> bool {
        match self.view_deadline {
            Some(deadline) if self.now_ms >= deadline => {
                self.view_deadline = None;
                true
            }
            _ => false,
        }
    }

    /// Whether a retransmission is due (the next one is then scheduled).
    pub(super) fn take_retransmit(&mut self) -> bool {
        if self.now_ms >= self.retransmit_deadline {
            self.retransmit_deadline = self.now_ms + self.retransmit_interval_ms;
            true
        } else {
            false
        }
    }

    /// Count a retransmission at executed height `executed`. Returns the
    /// retransmission count and whether nothing executed since the last.
    pub(super) fn note_retransmission(&mut self, executed: u64) -> (u64, bool) {
        self.retransmissions = self.retransmissions.wrapping_add(1);
        let no_progress = executed == self.executed_at_last_retransmit;
        self.executed_at_last_retransmit = executed;
        (self.retransmissions, no_progress)
    }

    /// Run the view-change timer (unless it runs already).
    pub(super) fn arm_view_timer(&mut self) {
        if self.view_deadline.is_none() {
            self.view_deadline = Some(self.now_ms + self.timeout_ms());
        }
    }

    /// Stop the view-change timer.
    pub(super) fn stop_view_timer(&mut self) {
        self.view_deadline = None;
    }

    /// A view change started: the timer stops, and the next runs longer.
    pub(super) fn note_view_change(&mut self) {
        self.attempts = self.attempts.saturating_add(1);
        self.view_deadline = None;
    }

    /// Progress (a block executed): the timer stops and restarts from its
    /// base value.
    pub(super) fn note_progress(&mut self) {
        self.attempts = 0;
        self.view_deadline = None;
    }

    /// The part's own invariants, with `executed` the executed height.
    pub(super) fn check_invariants(&self, executed: u64) -> Result<(), InvariantViolation> {
        let part = ReplicaPart::Timers;
        ensure(
            self.view_change_timeout_ms >= 1 && self.retransmit_interval_ms >= 1,
            part,
            "zero timer duration",
        )?;
        let longest = self.view_change_timeout_ms << TIMEOUT_DOUBLINGS_MAX;
        ensure(
            self.view_deadline
                .is_none_or(|d| d <= self.now_ms.saturating_add(longest)),
            part,
            "view-change deadline beyond the longest timeout",
        )?;
        ensure(
            self.retransmit_deadline <= self.now_ms.saturating_add(self.retransmit_interval_ms),
            part,
            "retransmit deadline beyond one interval",
        )?;
        ensure(
            self.executed_at_last_retransmit <= executed,
            part,
            "executed height at the last retransmission above the executed height",
        )?;
        Ok(())
    }

    /// Test-only: set the view-change deadline with no check.
    #[cfg(test)]
    pub(super) fn set_view_deadline_unchecked(&mut self, deadline: Option<u64>) {
        self.view_deadline = deadline;
    }
}
