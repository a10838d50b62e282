//! The hook through which main-chain blocks anchor a side chain.
//!
//! It lives here, below both consensus crates, so that the main chain
//! (itc-pbft, which calls it) and a side chain (itc-dag, which implements
//! it) depend on this crate and not on each other.
//!
//! A block may carry a [`DagAnchor`]: tips of the DAG side chain whose
//! not-yet-confirmed past cone the block finalizes. The header's
//! `dag_anchor_root` commits to the result of confirming that cone (for
//! itc-dag: the hash of an `AnchorCommitment`, the Merkle roots of the cone
//! in white-flag order and of the transactions applied). A PBFT replica
//! does not know how the side chain works; it asks an [`Anchoring`]:
//!
//! * the primary asks [`Anchoring::propose`] for an anchor and its root when
//!   it builds a block;
//! * every replica asks [`Anchoring::check`] to recompute the root of a
//!   proposed anchor and prepares the block only if it matches the header
//!   exactly; [`AnchorError::NotReady`] (side-chain data still missing) keeps
//!   the proposal waiting instead of refusing it;
//! * once a block commits, [`Anchoring::commit`] applies the anchor, then
//!   [`Anchoring::on_executed`] sees the block's main-chain transactions
//!   (deposits into the side chain); the writes of both
//!   ([`Anchoring::take_writes`]) leave in the same `Ready` batch of the replica
//!   as the block, so a crash never separates them.
//!
//! All calls are deterministic functions of the side chain's content and
//! the height; none may read a clock. itc-dag implements the trait for its
//! `Tangle`; [`NoAnchoring`] is the default for a chain without a side chain.

use crate::storage::WriteBatch;
use crate::types::{DagAnchor, Transaction};
use crate::Hash;

/// Why an anchor cannot be checked or applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    /// Side-chain data the anchor's cone needs is missing locally (it has
    /// been requested). The replica retries on the next input or tick.
    #[error("anchor not ready: side-chain data missing")]
    NotReady,
    /// The anchor is invalid here (malformed, too deep, or not anchorable).
    #[error("invalid anchor: {0}")]
    Invalid(&'static str),
    /// This chain has no side chain, so a block must not carry an anchor.
    #[error("this chain does not anchor a side chain")]
    Unsupported,
}

/// A side chain anchored by main-chain blocks. See the module docs.
pub trait Anchoring {
    /// The anchor and its root for the block the primary is building at
    /// `height`, or `None` to build the block without one.
    /// `has_transactions` says whether the block carries main-chain
    /// transactions, so an implementation may anchor less often when it
    /// alone would be the reason for a block.
    fn propose(
        &mut self,
        height: u64,
        now_ms: u64,
        has_transactions: bool,
    ) -> Option<(DagAnchor, Hash)>;

    /// Recompute the root of `anchor` carried by the block at `height`
    /// (every block below it committed and applied).
    ///
    /// # Errors
    /// [`AnchorError`]; `NotReady` is retried, the others refuse the block.
    fn check(&mut self, height: u64, anchor: &DagAnchor) -> Result<Hash, AnchorError>;

    /// Apply `anchor`, committed in the block at `height` with root `root`.
    ///
    /// # Errors
    /// `NotReady` stalls execution until the side-chain data arrives (it
    /// is retried on every input and tick); any other error, or a different
    /// root, halts the replica, since a quorum certified the block.
    fn commit(&mut self, height: u64, anchor: &DagAnchor, root: Hash) -> Result<(), AnchorError>;

    /// Writes to persist with the replica's next `Ready` (its batch of writes).
    fn take_writes(&mut self) -> WriteBatch {
        WriteBatch::default()
    }

    /// Whether the side chain holds something a block should anchor. While
    /// it does, a backup runs its view-change timer as for a pending
    /// transaction, so a primary that never anchors (or only proposes
    /// anchors that fail the check) is replaced, not obeyed forever.
    fn wants_anchor(&self, now_ms: u64) -> bool {
        let _ = now_ms;
        false
    }

    /// Whether the side chain takes `Payload::DagDeposit` transactions. A
    /// replica refuses them (in its pool and in proposals) when it does
    /// not, so no deposit is debited with nothing to credit.
    fn accepts_deposits(&self) -> bool {
        false
    }

    /// The main-chain transactions of the block at `height` were applied
    /// (after its anchor): credit the side chain with its deposits.
    fn on_executed(&mut self, height: u64, transactions: &[Transaction]) {
        let _ = (height, transactions);
    }
}

/// No side chain: blocks never carry anchors, and a proposal with one is
/// refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoAnchoring;

impl Anchoring for NoAnchoring {
    fn propose(&mut self, _: u64, _: u64, _: bool) -> Option<(DagAnchor, Hash)> {
        None
    }

    fn check(&mut self, _: u64, _: &DagAnchor) -> Result<Hash, AnchorError> {
        Err(AnchorError::Unsupported)
    }

    fn commit(&mut self, _: u64, _: &DagAnchor, _: Hash) -> Result<(), AnchorError> {
        Err(AnchorError::Unsupported)
    }
}
