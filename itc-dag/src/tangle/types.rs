//! What a [`Tangle`](super::Tangle)'s operations return: errors, outcomes, statuses, and
//! the [`InvariantViolation`] that [`Tangle::check_invariants`](super::Tangle::check_invariants) reports.

use itc_core::hash::Hash;
use itc_core::keys::PublicKey;

use crate::ledger::DagLedgerError;
use crate::pow::PowError;
use crate::transaction::TransactionError;

/// Why a transaction was not attached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// Malformed or badly signed.
    #[error("invalid transaction: {0}")]
    Invalid(#[from] TransactionError),
    /// Already known (stored, waiting, or a pruned entry point): a replay.
    #[error("duplicate transaction")]
    Duplicate,
    /// The issuer is not a registered device and unregistered issuers are refused.
    #[error("issuer is not a registered device")]
    UnregisteredIssuer,
    /// Not enough proof of work.
    #[error("proof of work: {0}")]
    Pow(#[from] PowError),
    /// The store holds its maximum of transactions.
    #[error("dag store full")]
    StoreFull,
}

/// Why an anchor could not be confirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfirmError {
    /// Anchor heights must increase.
    #[error("anchor height {found} not above {latest}")]
    HeightNotIncreasing {
        /// Latest confirmed height.
        latest: u64,
        /// Height given.
        found: u64,
    },
    /// Too many tips, or tips not strictly ascending.
    #[error("malformed anchor")]
    MalformedAnchor,
    /// Transactions of the cone are missing; they have been (or should be)
    /// requested. Retry when they arrive.
    #[error("{} transactions of the cone are missing", missing.len())]
    NotSolid {
        /// Missing ids (sorted).
        missing: Vec<Hash>,
    },
    /// The cone is larger than [`CONFIRMATION_CONE_MAX`](super::CONFIRMATION_CONE_MAX): the anchor is invalid.
    #[error("cone larger than the maximum")]
    ConeTooLarge,
    /// A transaction of the new cone approves one confirmed more than
    /// [`DagConfig::anchor_depth_max`](super::DagConfig::anchor_depth_max) anchors below this one: the anchor is
    /// invalid (honest proposers never anchor such lazy transactions, and
    /// nodes may have pruned the parent, so they could not agree on the cone).
    #[error("cone approves a transaction confirmed at height {parent_height}, too deep")]
    TooDeep {
        /// The approving transaction.
        transaction: Hash,
        /// Its too-old parent.
        parent: Hash,
        /// Height at which the parent was confirmed.
        parent_height: u64,
    },
    /// The tangle changed since the confirmation was computed.
    #[error("confirmation computed on an older state")]
    Stale,
    /// A tip was confirmed by an earlier anchor: the anchor is invalid.
    #[error("anchor tip {0} already confirmed")]
    TipAlreadyConfirmed(Hash),
}

/// What [`Tangle::attach`](super::Tangle::attach) did with a valid transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    /// Stored as solid; `solidified` counts it and any waiting descendants it
    /// completed.
    Solid {
        /// Transactions that became solid.
        solidified: usize,
    },
    /// Waiting for `missing` parents, which have been requested.
    Pending {
        /// Parents not yet known.
        missing: usize,
    },
}

/// Where a transaction stands on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// Never seen (or evicted, or pruned entirely).
    Unknown,
    /// Waiting for parents.
    Pending,
    /// Solid, not yet confirmed by an anchor.
    Solid,
    /// Confirmed by the anchor at this main-chain height.
    Confirmed {
        /// Height of the anchoring block.
        height: u64,
    },
    /// Pruned to a solid entry point, confirmed at this height.
    EntryPoint {
        /// Height of the anchoring block.
        height: u64,
    },
}

/// The cumulative approval of a solid transaction: a fast hint, **not
/// finality**.
///
/// It counts the transactions that approve `id` directly or indirectly
/// (its future cone) and their distinct issuers, up to
/// [`PRECONFIRMATION_WALK_MAX`](super::PRECONFIRMATION_WALK_MAX). Honest issuers only approve transactions
/// they consider valid and non-conflicting, so a wide future cone makes it
/// likely the next anchor confirms the transaction; but only an anchor
/// decides, and a transaction with a large future cone can still be
/// confirmed-but-ignored if it loses a conflict in white-flag order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreConfirmation {
    /// Transactions in the future cone that were counted.
    pub approvers: u32,
    /// Distinct issuers among them.
    pub issuers: u32,
    /// Whether the walk saw the whole future cone (else counts are lower bounds).
    pub complete: bool,
    /// Set if an anchor already confirmed it (then this is final).
    pub confirmed_height: Option<u64>,
}

/// A main-chain deposit the DAG ledger could not credit (its balance would
/// overflow, which the main chain's bounded supply rules out): the same on
/// every validator, recorded instead of silently lost. The main chain has
/// debited it; the record is the claim on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefusedDeposit {
    /// Height of the block that carried it.
    pub height: u64,
    /// Hash of the main-chain transaction.
    pub transaction: Hash,
    /// Who deposited (and would have been credited).
    pub owner: PublicKey,
    /// The amount.
    pub amount: itc_core::types::Amount,
    /// Why it could not be credited.
    pub reason: DagLedgerError,
}

/// What a [`Tangle::prune`](super::Tangle::prune) removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PruneOutcome {
    /// Transactions removed.
    pub removed: usize,
    /// Solid entry points after pruning.
    pub entry_points: usize,
}

/// The part of a [`Tangle`](super::Tangle) whose invariant failed (see
/// [`Tangle::check_invariants`](super::Tangle::check_invariants)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TanglePart {
    /// Stored transactions, approver edges, entry points, arrival order.
    Store,
    /// Waiting transactions and parent requests.
    Solidifier,
    /// Per-issuer issue-rate samples (proof-of-work admission).
    Rates,
    /// The tip pool.
    Tips,
    /// Applied anchors, their lists for proofs, fallback tips.
    Confirmation,
    /// The anchoring role (proposals, refused deposits).
    AnchorRole,
    /// The DAG ledger.
    Ledger,
}

impl TanglePart {
    /// A lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            TanglePart::Store => "store",
            TanglePart::Solidifier => "solidifier",
            TanglePart::Rates => "rates",
            TanglePart::Tips => "tip pool",
            TanglePart::Confirmation => "confirmation",
            TanglePart::AnchorRole => "anchor role",
            TanglePart::Ledger => "ledger",
        }
    }
}

impl core::fmt::Display for TanglePart {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken invariant of a [`Tangle`](super::Tangle) (see [`Tangle::check_invariants`](super::Tangle::check_invariants)):
/// only a bug, or storage that was changed behind the tangle's back, can
/// cause one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part} invariant violated: {what}")]
#[non_exhaustive]
pub struct InvariantViolation {
    /// The part whose invariant failed.
    pub part: TanglePart,
    /// What failed (lowercase, stable wording).
    pub what: &'static str,
}

impl InvariantViolation {
    pub(crate) fn new(part: TanglePart, what: &'static str) -> Self {
        InvariantViolation { part, what }
    }
}
