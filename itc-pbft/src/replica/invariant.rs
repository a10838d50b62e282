//! What [`Replica::check_invariants`](super::Replica::check_invariants)
//! reports when a replica's state is inconsistent.

use core::fmt;

/// The part of a replica whose invariant failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplicaPart {
    /// The transaction pool.
    Pool,
    /// The message log: slots, committed blocks, validator sets.
    Log,
    /// The view and view-change state.
    ViewChange,
    /// State transfer: peers asked, pushed and served.
    StateTransfer,
    /// The view-change and retransmission timers.
    Timers,
    /// An invariant between parts (or between a part and the ledger).
    Replica,
}

impl fmt::Display for ReplicaPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReplicaPart::Pool => "transaction pool",
            ReplicaPart::Log => "log",
            ReplicaPart::ViewChange => "view change",
            ReplicaPart::StateTransfer => "state transfer",
            ReplicaPart::Timers => "timers",
            ReplicaPart::Replica => "replica",
        })
    }
}

/// An invariant of a replica's state that does not hold: a bug (or a
/// corrupted state), never the result of any input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{part} invariant violated: {what}")]
pub struct InvariantViolation {
    part: ReplicaPart,
    what: &'static str,
}

impl InvariantViolation {
    pub(crate) fn new(part: ReplicaPart, what: &'static str) -> Self {
        InvariantViolation { part, what }
    }

    /// The part whose invariant failed.
    pub fn part(&self) -> ReplicaPart {
        self.part
    }

    /// Which invariant failed.
    pub fn what(&self) -> &'static str {
        self.what
    }
}

/// `Ok` if `holds`, otherwise a violation of `part` saying `what`.
pub(crate) fn ensure(
    holds: bool,
    part: ReplicaPart,
    what: &'static str,
) -> Result<(), InvariantViolation> {
    if holds {
        Ok(())
    } else {
        Err(InvariantViolation::new(part, what))
    }
}
