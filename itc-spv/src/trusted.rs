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

/// Version byte of the trusted state's serialization. Bumped whenever the
/// layout changes, so a device never misreads its own flash after a firmware
/// update.
pub const TRUSTED_STATE_VERSION: u8 = 1;

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
    /// the firmware image, from a QR code on the box, ...), signed by
    /// `validators`.
    ///
    /// # Errors
    /// [`BootstrapError`] if the header is not the pinned one or the set is
    /// not the header's signing set.
    pub fn bootstrap(
        header: BlockHeader,
        validators: ValidatorSet,
        pinned_hash: &Hash,
    ) -> Result<Self, BootstrapError> {
        if header.hash() != *pinned_hash {
            return Err(BootstrapError::PinnedHashMismatch);
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
