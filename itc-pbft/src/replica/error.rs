//! Errors of the replica's inputs.

use itc_core::encoding::DecodeError;
use itc_core::ledger::{BlockError, LedgerError, TxError};
use itc_core::storage::StorageError;

use super::halt::HaltReason;

/// Why an incoming message was not acted upon. None of these is fatal: the
/// caller may log them and carry on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The bytes are not a canonical message.
    #[error("undecodable message: {0}")]
    Decode(#[from] DecodeError),
    /// The message is for an old view, a view too far ahead, or a sequence
    /// number outside the watermark window.
    #[error("message outside the current view or window")]
    OutOfWindow,
    /// The sender is not in the validator set that should have sent it.
    #[error("sender is not a validator")]
    NotAValidator,
    /// A pre-prepare or new view from a replica that is not the view's primary.
    #[error("sender is not the primary of the view")]
    NotPrimary,
    /// A signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// A proposal failed validation; this replica will not vote for it.
    #[error("invalid proposal: {0}")]
    InvalidProposal(#[from] ProposalError),
    /// A certificate does not hold.
    #[error("invalid certificate: {0}")]
    InvalidCertificate(#[from] crate::certificate::CertificateError),
    /// A view-change or new-view message is malformed.
    #[error("invalid view change: {0}")]
    InvalidViewChange(&'static str),
    /// A certificate refers to a validator set this replica does not know yet
    /// (it is behind; it asks for state transfer).
    #[error("unknown validator set for height {0}")]
    UnknownValidatorSet(u64),
    /// A new view names view changes this replica has not received; it
    /// keeps the new view and asks its sender for them.
    #[error("new view waits for view changes it names")]
    MissingViewChanges,
    /// The replica halted after detecting a fault it cannot recover from.
    #[error("replica halted: {0}")]
    Halted(HaltReason),
}

/// Why a proposed block is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProposalError {
    /// A header field does not match this replica's chain state.
    #[error("header field mismatch: {0}")]
    Header(&'static str),
    /// The body does not match the header's roots.
    #[error("body mismatch: {0}")]
    Body(#[from] itc_core::types::BlockBodyError),
    /// Too many transactions.
    #[error("too many transactions: {0}")]
    TooManyTransactions(usize),
    /// The block's encoded transactions exceed
    /// [`BLOCK_BYTES_MAX`](crate::config::BLOCK_BYTES_MAX) bytes (the count
    /// is where the budget was found exceeded: at least the budget plus one).
    #[error("block transactions exceed the byte budget: {0} bytes")]
    TooManyBytes(usize),
    /// A (sender, nonce) pair appears twice.
    #[error("duplicate transaction (sender, nonce)")]
    DuplicateTransaction,
    /// The ledger rejects the block.
    #[error("ledger rejects block: {0}")]
    Ledger(#[from] BlockError),
    /// The state root differs from the ledger's.
    #[error("state root mismatch")]
    StateRoot,
    /// The next validator set hash differs from the ledger's.
    #[error("next validator set mismatch")]
    NextValidatorSet,
    /// The anchor cannot be checked ([`AnchorError::NotReady`](crate::AnchorError::NotReady) keeps the
    /// proposal waiting for side-chain data; the others refuse it).
    #[error("anchor: {0}")]
    Anchor(#[from] crate::anchoring::AnchorError),
    /// The anchor's recomputed root differs from the header's
    /// `dag_anchor_root`.
    #[error("dag anchor root mismatch")]
    AnchorRoot,
}

/// Why a transaction was not admitted to the pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The ledger rejects it.
    #[error("invalid transaction: {0}")]
    Invalid(#[from] TxError),
    /// The pool already holds a transaction with this (sender, nonce).
    #[error("duplicate (sender, nonce)")]
    Duplicate,
    /// The nonce is too far ahead of the sender's next nonce.
    #[error("nonce too far ahead")]
    NonceTooFarAhead,
    /// The pool is full.
    #[error("transaction pool full")]
    PoolFull,
    /// A deposit into a side chain this chain does not run.
    #[error("this chain takes no side-chain deposits")]
    NoSideChain,
    /// The replica halted.
    #[error("replica halted")]
    Halted,
}

/// Errors opening a replica from storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The ledger could not be created or loaded.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// Consensus records in storage are malformed.
    #[error("corrupted consensus storage: {0}")]
    Corrupted(&'static str),
}
