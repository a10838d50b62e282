//! Why a replica halted: a fault beyond the tolerated bound, found while
//! executing a block that a quorum certified.

use core::fmt;

/// Why a replica stopped: a block certified by a quorum that this replica
/// cannot execute as certified. Only more than a third of faulty weight (or
/// a bug) leads here, so the replica stops rather than diverge.
///
/// The numeric [`HaltReason::code`] is stable: a code is never reused or
/// renumbered, so logs, metrics and C callers may store it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HaltReason {
    /// A committed block's previous hash or chain id does not extend this
    /// replica's chain (code 1).
    ChainMismatch,
    /// The anchor of a committed block does not recompute to the header's
    /// root, or the side chain refuses it (code 2).
    AnchorMismatch,
    /// The ledger rejects a committed block (code 3).
    LedgerRejected,
    /// The state root after a committed block differs from its header's
    /// (code 4).
    StateRootMismatch,
    /// The next validator set after a committed block differs from its
    /// header's (code 5).
    NextValidatorSetMismatch,
}

impl HaltReason {
    /// Every reason, in code order.
    pub const ALL: [HaltReason; 5] = [
        HaltReason::ChainMismatch,
        HaltReason::AnchorMismatch,
        HaltReason::LedgerRejected,
        HaltReason::StateRootMismatch,
        HaltReason::NextValidatorSetMismatch,
    ];

    /// The stable numeric code of this reason (never 0, never reused).
    pub fn code(self) -> u8 {
        match self {
            HaltReason::ChainMismatch => 1,
            HaltReason::AnchorMismatch => 2,
            HaltReason::LedgerRejected => 3,
            HaltReason::StateRootMismatch => 4,
            HaltReason::NextValidatorSetMismatch => 5,
        }
    }

    /// The reason with numeric `code`, if there is one.
    pub fn from_code(code: u8) -> Option<HaltReason> {
        HaltReason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// A lowercase sentence saying what happened.
    pub fn as_str(self) -> &'static str {
        match self {
            HaltReason::ChainMismatch => "committed block does not extend the chain",
            HaltReason::AnchorMismatch => "anchor of a committed block differs",
            HaltReason::LedgerRejected => "ledger rejects a committed block",
            HaltReason::StateRootMismatch => "state root of a committed block differs",
            HaltReason::NextValidatorSetMismatch => {
                "next validator set of a committed block differs"
            }
        }
    }
}

impl fmt::Display for HaltReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::HaltReason;

    /// The codes are part of the API: this test fails if one changes.
    #[test]
    fn codes_never_change() {
        let expected = [
            (HaltReason::ChainMismatch, 1),
            (HaltReason::AnchorMismatch, 2),
            (HaltReason::LedgerRejected, 3),
            (HaltReason::StateRootMismatch, 4),
            (HaltReason::NextValidatorSetMismatch, 5),
        ];
        assert_eq!(expected.len(), HaltReason::ALL.len());
        for (reason, code) in expected {
            assert_eq!(reason.code(), code, "{reason}");
            assert_eq!(HaltReason::from_code(code), Some(reason));
        }
        assert_eq!(HaltReason::from_code(0), None);
        assert_eq!(HaltReason::from_code(6), None);
    }

    #[test]
    fn display_is_the_lowercase_sentence() {
        assert_eq!(
            HaltReason::LedgerRejected.to_string(),
            "ledger rejects a committed block"
        );
        for reason in HaltReason::ALL {
            let text = reason.to_string();
            assert!(text.chars().next().is_some_and(|c| c.is_lowercase()));
        }
    }
}
