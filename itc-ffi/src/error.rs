//! The one error type of the bindings, shared by the C ABI (as an
//! [`ItcStatus`](crate::c_api::ItcStatus) code plus a message) and UniFFI (as
//! a typed exception).

use itc_core::keys::SignatureError;
use itc_core::DecodeError;

/// Why a call into the bindings failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum ItcError {
    /// A required pointer argument was null (C ABI only).
    #[error("null pointer: {argument}")]
    NullPointer {
        /// Name of the argument.
        argument: String,
    },
    /// A handle argument is not a live handle of the expected kind (C ABI only).
    #[error("invalid handle: {argument}")]
    InvalidHandle {
        /// Name of the argument.
        argument: String,
    },
    /// An argument has a value outside its domain.
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What is wrong.
        reason: String,
    },
    /// The caller's output buffer is too small (C ABI only); `needed` bytes
    /// are required.
    #[error("buffer too small: {needed} bytes needed")]
    BufferTooSmall {
        /// Bytes required.
        needed: u64,
    },
    /// Bytes are not the canonical encoding of the expected value.
    #[error("decode failed: {reason}")]
    Decode {
        /// The decoder's explanation.
        reason: String,
    },
    /// A signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// A public key is not a valid curve point (or has small order).
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A light client refused to start from a header (not the pinned hash,
    /// or a validator set that did not sign it).
    #[error("bootstrap rejected: {reason}")]
    BootstrapRejected {
        /// Why.
        reason: String,
    },
    /// A transaction or state proof does not hold against the trusted header.
    #[error("proof rejected: {reason}")]
    ProofRejected {
        /// Why.
        reason: String,
    },
    /// A dev chain refused a block because a transaction is invalid.
    #[error("transaction rejected: {reason}")]
    TransactionRejected {
        /// The ledger's explanation, naming the transaction.
        reason: String,
    },
    /// Proof of work was not found within the iteration bound (call again
    /// to resume from where the search stopped).
    #[error("proof of work not found: {reason}")]
    PowExhausted {
        /// The solver's explanation.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("randomness unavailable: {reason}")]
    Randomness {
        /// The system error.
        reason: String,
    },
    /// A data node refused to contribute twice to one campaign: its privacy
    /// budget was already charged for it (nothing was shared again).
    #[error("already contributed: {reason}")]
    AlreadyContributed {
        /// Which campaign.
        reason: String,
    },
    /// A data node's privacy budget has less left than the campaign's ε
    /// (nothing was shared).
    #[error("privacy budget exhausted: {remaining_milli}/1000 remain, {asked_milli}/1000 asked")]
    BudgetExhausted {
        /// ε×1000 left.
        remaining_milli: u32,
        /// ε×1000 the campaign charges.
        asked_milli: u32,
    },
    /// ChainCode refused: the node is not a member, the code is not the
    /// campaign's contract, the contract cannot run, or the node's store
    /// failed.
    #[error("chaincode refused: {reason}")]
    ChainCode {
        /// Why.
        reason: String,
    },
    /// A bug in the library (a caught panic). Please report it.
    #[error("internal error: {reason}")]
    Internal {
        /// What went wrong.
        reason: String,
    },
}

impl ItcError {
    pub(crate) fn proof_rejected(error: itc_spv::SpvProofError) -> Self {
        ItcError::ProofRejected {
            reason: error.to_string(),
        }
    }

    pub(crate) fn invalid_argument(reason: impl Into<String>) -> Self {
        ItcError::InvalidArgument {
            reason: reason.into(),
        }
    }
}

impl From<itc_chaincode::node::NodeError> for ItcError {
    fn from(error: itc_chaincode::node::NodeError) -> Self {
        use itc_chaincode::budget::BudgetError;
        use itc_chaincode::node::NodeError;
        match error {
            NodeError::Budget(BudgetError::AlreadyCharged { campaign }) => {
                ItcError::AlreadyContributed {
                    reason: format!("campaign {campaign} was already charged"),
                }
            }
            NodeError::Budget(BudgetError::Exhausted {
                remaining_milli,
                asked_milli,
            }) => ItcError::BudgetExhausted {
                remaining_milli,
                asked_milli,
            },
            other => ItcError::ChainCode {
                reason: other.to_string(),
            },
        }
    }
}

impl From<DecodeError> for ItcError {
    fn from(error: DecodeError) -> Self {
        ItcError::Decode {
            reason: error.to_string(),
        }
    }
}

impl From<SignatureError> for ItcError {
    fn from(error: SignatureError) -> Self {
        match error {
            SignatureError::InvalidPublicKey => ItcError::InvalidPublicKey,
            _ => ItcError::InvalidSignature,
        }
    }
}
