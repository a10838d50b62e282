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
    /// A light client refused to start from a header. `code` is stable:
    /// 1 the header is not the pinned one, 2 the validator set did not sign
    /// it, 3 the header is older than the trust period (bootstrap from a
    /// recent header whose hash the owner's app supplies over the pairing
    /// channel), 4 the header is from the future (check the device's
    /// clock).
    #[error("bootstrap rejected: {reason}")]
    BootstrapRejected {
        /// Stable code of the reason (1..=4, see above).
        code: u32,
        /// Why.
        reason: String,
    },
    /// A device refused an owner recovery; nothing changed. `code` is
    /// stable: 1 wrong chain, 2 header not newer than the trusted one, 3
    /// header from the future, 4 header older than the trust period, 5
    /// header certificate invalid, 6 bad registration proof, 7 device not
    /// registered at the trusted header, 8 signer does not own the device,
    /// 9 bad owner signature.
    #[error("recovery rejected: {reason}")]
    RecoveryRejected {
        /// Stable code of the reason (1..=9, see above).
        code: u32,
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
    /// A payload could not be sealed or opened; `code` is the stable
    /// [`SealRefusal`](crate::api::seal::SealRefusal) number (1 no
    /// recipients, 2 too many, 3 plaintext too long, 4 invalid public key, 5
    /// suite mismatch, 6 context mismatch, 7 not a recipient, 8 open failed,
    /// 9 encapsulation failed).
    #[error("seal refused: {reason}")]
    SealRefused {
        /// Why, as an enum.
        refusal: crate::api::seal::SealRefusal,
        /// The refusal's stable code.
        code: u32,
        /// Why, in words.
        reason: String,
    },
    /// A device refused a firmware update; `code` is the stable
    /// [`UpdateRefusal`](crate::api::firmware::UpdateRefusal) number
    /// (itc-spv's codes 1..=13).
    #[error("update refused: {reason}")]
    UpdateRefused {
        /// Why, as an enum.
        refusal: crate::api::firmware::UpdateRefusal,
        /// The refusal's stable code.
        code: u32,
        /// Why, in words.
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

    /// The stable reason code a refusal carries (bootstrap, recovery, seal
    /// and update refusals), 0 for every other error.
    pub fn reason_code(&self) -> u32 {
        match self {
            ItcError::BootstrapRejected { code, .. }
            | ItcError::RecoveryRejected { code, .. }
            | ItcError::SealRefused { code, .. }
            | ItcError::UpdateRefused { code, .. } => *code,
            _ => 0,
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

/// The stable code of a recovery refusal: its `ItcRecoveryError` constant
/// (0 for a variant newer than this build).
pub(crate) fn recovery_error_code(error: itc_spv::RecoveryError) -> u32 {
    crate::c_api::light_client::ItcRecoveryError::from_core(error) as u32
}

impl From<itc_spv::BootstrapError> for ItcError {
    fn from(error: itc_spv::BootstrapError) -> Self {
        ItcError::BootstrapRejected {
            code: u32::from(error.code()),
            reason: error.to_string(),
        }
    }
}

impl From<itc_spv::RecoveryError> for ItcError {
    fn from(error: itc_spv::RecoveryError) -> Self {
        ItcError::RecoveryRejected {
            code: recovery_error_code(error),
            reason: error.to_string(),
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
