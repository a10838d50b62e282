//! The light client's trusted state: one header and the validator set that
//! signed it.
//!
//! There is no header chain. The set that signs the *next* header is known
//! only by its hash, [`BlockHeader::next_validator_set_hash`]; an adjacent
//! update carries that set when it differs from the trusted one.

use alloc::vec::Vec;
use itc_core::encoding::{Decode, DecodeError, Encode, Reader};
use itc_core::hash::Hash;
use itc_core::keys::PublicKey;
use itc_core::ledger::DeviceRecord;
use itc_core::types::{BlockHeader, ChainId, ValidatorSet};

use crate::update::TrustOptions;

/// Version byte of the trusted state's serialization. Bumped whenever the
/// layout changes, so a device never misreads its own flash after a firmware
/// update. Version 2: headers carry their transaction count, and the state
/// ends with the optional proven owner.
pub const TRUSTED_STATE_VERSION: u8 = 2;

/// The list of [`BootstrapError`]s and their stable codes, written once (the
/// canonical enum and the bindings' C constants `ITC_BOOTSTRAP_ERROR_*` are
/// generated from it; see [`deny_reasons!`](crate::deny_reasons) for the
/// calling convention). Codes are stable: add at the end, never renumber.
#[macro_export]
macro_rules! bootstrap_errors {
    ($($callback:ident)::+ ! { $($prefix:tt)* }) => {
        $($callback)::+! { $($prefix)* {
            /// The header's hash is not the one the caller pinned.
            PinnedHashMismatch = 1 => "header hash does not match the pinned hash",
            /// The validator set does not hash to the header's
            /// `validator_set_hash` (it did not sign the header).
            ValidatorSetMismatch = 2 => "validator set does not match the header",
            /// The header is older than the trust period: its validators may
            /// have unbonded since, so it cannot vouch for anything. Bootstrap
            /// from a recent header whose hash the owner supplies (over the
            /// pairing channel) instead of the one pinned at manufacture.
            HeaderTooOld = 3 => "header is older than the trust period; bootstrap from a recent header",
            /// The header's time is further ahead of `now_ms` than the clock
            /// drift: the device's clock is wrong.
            HeaderFromFuture = 4 => "header time is in the future; check the device's clock",
        } }
    };
}

bootstrap_errors!(itc_core::stable_codes! {
    /// Why a trusted state could not be created. The codes
    /// ([`BootstrapError::code`]) are stable; the list is
    /// [`bootstrap_errors!`](crate::bootstrap_errors).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum BootstrapError: u8, code u8
});

/// The owner of a device as the light client last proved it: from the
/// device's registration, verified against a trusted header. A device
/// remembers it so that its owner can bring it back after a trust period
/// without headers ([`crate::recovery`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProvenOwner {
    /// The device.
    pub device: PublicKey,
    /// Its owner.
    pub owner: PublicKey,
    /// The registration's ownership sequence.
    pub ownership_seq: u64,
    /// Height of the trusted header the registration was proven at.
    pub height: u64,
}

impl ProvenOwner {
    /// The owner of `device` according to `record`, proven at `height`.
    pub fn new(device: PublicKey, record: &DeviceRecord, height: u64) -> Self {
        ProvenOwner {
            device,
            owner: record.owner,
            ownership_seq: record.ownership_seq,
            height,
        }
    }
}

impl Encode for ProvenOwner {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.device.encode_to(out);
        self.owner.encode_to(out);
        self.ownership_seq.encode_to(out);
        self.height.encode_to(out);
    }
}

impl Decode for ProvenOwner {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ProvenOwner {
            device: Decode::decode_from(reader)?,
            owner: Decode::decode_from(reader)?,
            ownership_seq: reader.read_u64()?,
            height: reader.read_u64()?,
        })
    }
}

/// One trusted header and the validator set that signed it, and, on a
/// device, the device's owner as last proven ([`ProvenOwner`]).
///
/// Invariants: `validators.hash() == header.validator_set_hash`, and a
/// proven owner's height is at most the header's. Every constructor checks
/// them, so code holding a `TrustedState` may rely on them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedState {
    header: BlockHeader,
    validators: ValidatorSet,
    owner: Option<ProvenOwner>,
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
        if now_ms.saturating_sub(header.time_ms) >= options.trust_period_ms {
            return Err(BootstrapError::HeaderTooOld);
        }
        if header.time_ms > now_ms.saturating_add(options.clock_drift_ms) {
            return Err(BootstrapError::HeaderFromFuture);
        }
        Self::from_parts(header, validators)
    }

    /// Move to a newer header verified with its signing set, keeping the
    /// proven owner (proven at an earlier height).
    pub(crate) fn advance(&mut self, header: BlockHeader, validators: ValidatorSet) {
        debug_assert_eq!(validators.hash(), header.validator_set_hash);
        debug_assert!(header.height > self.header.height);
        self.header = header;
        self.validators = validators;
    }

    /// Remember the owner of a device, proven by its registration at the
    /// trusted header (the caller verified `record` against
    /// [`TrustedState::header`]).
    pub(crate) fn remember_owner(&mut self, device: PublicKey, record: &DeviceRecord) {
        self.owner = Some(ProvenOwner::new(device, record, self.header.height));
    }

    /// Pair a header that was already verified with its signing set.
    pub(crate) fn from_parts(
        header: BlockHeader,
        validators: ValidatorSet,
    ) -> Result<Self, BootstrapError> {
        if validators.hash() != header.validator_set_hash {
            return Err(BootstrapError::ValidatorSetMismatch);
        }
        Ok(TrustedState {
            header,
            validators,
            owner: None,
        })
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

    /// The device's owner as last proven against a trusted header (at this
    /// header or an earlier one), if a device proof was ever verified.
    pub fn proven_owner(&self) -> Option<&ProvenOwner> {
        self.owner.as_ref()
    }

    /// Hash of the set that must sign the next header.
    pub fn next_validator_set_hash(&self) -> &Hash {
        &self.header.next_validator_set_hash
    }

    /// The versioned bytes to store in flash: [`TRUSTED_STATE_VERSION`], then
    /// the header, the validator set and the optional proven owner in
    /// canonical encoding.
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
        itc_core::encoding::write_option(out, &self.owner);
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
        let owner: Option<ProvenOwner> = reader.read_option()?;
        let mut state = TrustedState::from_parts(header, validators)
            .map_err(|_| DecodeError::InvalidValue("validator set does not match the header"))?;
        if owner.is_some_and(|owner| owner.height > state.header.height) {
            return Err(DecodeError::InvalidValue(
                "proven owner is above the trusted height",
            ));
        }
        state.owner = owner;
        Ok(state)
    }
}
