//! The light client's trusted state: one header and the validator set that
//! signed it.
//!
//! There is no header chain. The set that signs the *next* header is known
//! only by its hash, [`BlockHeader::next_validator_set_hash`]; an adjacent
//! update carries that set when it differs from the trusted one.

use alloc::vec::Vec;
use itc_core::encoding::{Decode, DecodeError, Encode, Reader};
use itc_core::hash::Hash;
use itc_core::types::{BlockHeader, ChainId, ValidatorSet};

use crate::update::TrustOptions;

/// Version byte of the trusted state's serialization. Bumped whenever the
/// layout changes, so a device never misreads its own flash after a firmware
/// update. Version 2: headers carry their transaction count.
pub const TRUSTED_STATE_VERSION: u8 = 2;

/// Why a trusted state could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// The header's hash is not the one the caller pinned.
    #[error("header hash does not match the pinned hash")]
    PinnedHashMismatch,
    /// The validator set does not hash to the header's `validator_set_hash`.
    #[error("validator set does not match the header")]
    ValidatorSetMismatch,
    /// The header is older than the trust period: its validators may have
    /// unbonded since, so it cannot vouch for anything. Bootstrap from a
    /// recent header whose hash the owner supplies (over the pairing
    /// channel) instead of the one pinned at manufacture.
    #[error("header is older than the trust period; bootstrap from a recent header")]
    HeaderTooOld,
    /// The header's time is further ahead of `now_ms` than the clock drift:
    /// the device's clock is wrong.
    #[error("header time is in the future; check the device's clock")]
    HeaderFromFuture,
}

/// One trusted header and the validator set that signed it.
///
/// Invariant: `validators.hash() == header.validator_set_hash`. Every
/// constructor checks it, so code holding a `TrustedState` may rely on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedState {
    header: BlockHeader,
    validators: ValidatorSet,
}

impl TrustedState {
    /// Start trusting `header`, whose hash the caller pinned out of band (in
    /// the firmware image, from a QR code on the box, from the owner's app
    /// over the pairing channel), signed by `validators`, at the caller's
    /// time `now_ms`.
    ///
    /// # Errors
    /// [`BootstrapError`] if the header is not the pinned one, the set is
    /// not the header's signing set, or the header is older than
    /// `options.trust_period_ms` ([`BootstrapError::HeaderTooOld`]: a state
    /// that would expire at once and could never be updated) or further in
    /// the future than `options.clock_drift_ms`.
    pub fn bootstrap(
        header: BlockHeader,
        validators: ValidatorSet,
        pinned_hash: &Hash,
        options: &TrustOptions,
        now_ms: u64,
    ) -> Result<Self, BootstrapError> {
        if header.hash() != *pinned_hash {
            return Err(BootstrapError::PinnedHashMismatch);
        }
        if header.time_ms.saturating_add(options.trust_period_ms) <= now_ms {
            return Err(BootstrapError::HeaderTooOld);
        }
        if header.time_ms > now_ms.saturating_add(options.clock_drift_ms) {
            return Err(BootstrapError::HeaderFromFuture);
        }
        Self::from_parts(header, validators)
    }

    /// Pair a header with the signing set [`crate::verify_update`] has
    /// already checked against it (no second hash of the set).
    pub(crate) fn from_verified(header: BlockHeader, validators: ValidatorSet) -> Self {
        debug_assert_eq!(validators.hash(), header.validator_set_hash);
        TrustedState { header, validators }
    }

    /// Pair a header that was already verified with its signing set.
    pub(crate) fn from_parts(
        header: BlockHeader,
        validators: ValidatorSet,
    ) -> Result<Self, BootstrapError> {
        if validators.hash() != header.validator_set_hash {
            return Err(BootstrapError::ValidatorSetMismatch);
        }
        Ok(TrustedState { header, validators })
    }

    /// The trusted header.
    pub fn header(&self) -> &BlockHeader {
        &self.header
    }

    /// The validator set that signed the trusted header.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// The trusted header's chain.
    pub fn chain_id(&self) -> ChainId {
        self.header.chain_id
    }

    /// The trusted header's height.
    pub fn height(&self) -> u64 {
        self.header.height
    }

    /// Hash of the set that must sign the next header.
    pub fn next_validator_set_hash(&self) -> &Hash {
        &self.header.next_validator_set_hash
    }

    /// The versioned bytes to store in flash: [`TRUSTED_STATE_VERSION`], then
    /// the header and the validator set in canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }

    /// Read back what [`TrustedState::to_bytes`] wrote.
    ///
    /// # Errors
    /// [`DecodeError`] for an unknown version, malformed bytes, or a set that
    /// does not belong to the header.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(bytes)
    }
}

impl Encode for TrustedState {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(TRUSTED_STATE_VERSION);
        self.header.encode_to(out);
        self.validators.encode_to(out);
    }
}

impl Decode for TrustedState {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = reader.read_u8()?;
        if version != TRUSTED_STATE_VERSION {
            return Err(DecodeError::InvalidTag {
                what: "trusted state version",
                tag: version,
            });
        }
        let header = BlockHeader::decode_from(reader)?;
        let validators = ValidatorSet::decode_from(reader)?;
        TrustedState::from_parts(header, validators)
            .map_err(|_| DecodeError::InvalidValue("validator set does not match the header"))
    }
}
