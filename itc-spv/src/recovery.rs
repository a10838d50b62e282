//! The owner's way back for a device that went without headers for longer
//! than its trust period.
//!
//! After a trust period without headers the trusted validator set may have
//! unbonded, so certificates alone can no longer move the device forward
//! ([`crate::InvalidReason::TrustedStateExpired`]). The device remembers its
//! owner as it last proved it ([`crate::trusted::ProvenOwner`]: every
//! command carries the device's registration proven at the trusted header,
//! and [`crate::Lamp::handle`] records it). That owner vouches for a recent
//! header: they sign, under [`SigningDomain::DeviceRecovery`], the device,
//! the device's current trusted header and the new header. The device adopts
//! the new header when
//! * the signer is the owner it proved,
//! * the new header is certified by more than two thirds of its own
//!   validator set, is newer, within the trust period and not from the
//!   future,
//! * the new header proves the same owner still owns the device, under the
//!   same ownership (no transfer in between),
//! * the signature names exactly the device's current trusted header (so a
//!   recovery message cannot be replayed to move the device back).
//!
//! No server and no firmware change is involved: the owner's app fetches a
//! recent certified header and the device's registration proof at it from
//! any node, and signs.
//!
//! # Trust
//! The owner is trusted for their own device only: a recovery lets the owner
//! choose which certified header their device follows, which is what they
//! could do anyway by re-pairing it. Nobody else can sign one, and it never
//! applies to another device. One gap remains by construction: a device
//! transferred while it received no command at all until its trust period
//! ran out still remembers its previous owner; a new owner sends one command
//! after taking the device over (any command proves the registration), or
//! re-pairs it.
//!
//! A device whose *pinned* header (the one in its firmware) is older than
//! the trust period has no owner yet:
//! [`crate::TrustedState::bootstrap`] refuses it with
//! [`crate::BootstrapError::HeaderTooOld`], and the owner's app supplies a
//! recent header hash over the pairing channel instead.

use crate::proof::StateEntryProof;
use crate::trusted::TrustedState;
use crate::update::{check_certificate_binding, signing_set, verify_quorum};
use crate::update::{HeaderUpdate, InvalidReason, TrustOptions};
use alloc::vec::Vec;
use itc_core::encoding::{Decode, DecodeError, Encode, Reader};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey, Signature, SigningDomain};
use itc_core::types::BlockHeader;

/// Why a recovery was refused. Nothing changes on any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// The new header is for another chain.
    #[error("header is for another chain")]
    WrongChain,
    /// The new header is not above the trusted height, or its time is
    /// before the trusted header's.
    #[error("header is not newer than the trusted header")]
    NotNewer,
    /// The new header's time is further ahead of `now_ms` than the clock
    /// drift.
    #[error("header time is in the future")]
    HeaderFromFuture,
    /// The new header is itself older than the trust period.
    #[error("header is older than the trust period")]
    HeaderTooOld,
    /// The new header's certificate or validator set does not hold.
    #[error("header certificate: {0}")]
    Certificate(InvalidReason),
    /// The registration proof does not hold against the new header.
    #[error("bad registration proof")]
    BadProof,
    /// The device never proved its owner: no one can recover it (re-pair
    /// it instead).
    #[error("device has no proven owner")]
    NoProvenOwner,
    /// The new header shows another owner, or another ownership, than the
    /// one the device proved.
    #[error("new header shows another owner")]
    OwnerChanged,
    /// The owner's signature does not verify (or names another trusted
    /// header than the device's).
    #[error("bad owner signature")]
    BadSignature,
}

/// A new header the device's owner vouches for, with the proofs the device
/// needs to believe it (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRecovery {
    /// The new header, its commit certificate, and its signing set (which
    /// must be present: the device cannot know it).
    pub update: HeaderUpdate,
    /// The device's registration at the new header.
    pub device: StateEntryProof,
    /// The owner's signature over [`recovery_message`], under
    /// [`SigningDomain::DeviceRecovery`].
    pub signature: Signature,
}

/// Length of [`recovery_message`].
pub const RECOVERY_MESSAGE_LEN: usize = 96;

/// What the owner signs: the device, the hash of the device's current
/// trusted header, and the hash of the new header.
pub fn recovery_message(
    device: &PublicKey,
    trusted_header: &Hash,
    new_header: &Hash,
) -> [u8; RECOVERY_MESSAGE_LEN] {
    let mut message = [0u8; RECOVERY_MESSAGE_LEN];
    message[..32].copy_from_slice(&device.0);
    message[32..64].copy_from_slice(&trusted_header.0);
    message[64..].copy_from_slice(&new_header.0);
    message
}

impl OwnerRecovery {
    /// The owner builds and signs a recovery for `device`, whose trusted
    /// header is `trusted_header` (the owner's app asks the device for it),
    /// moving it to `update`'s header, where `device_proof` proves the
    /// device's registration.
    pub fn new_signed(
        owner: &Keypair,
        device: &PublicKey,
        trusted_header: &BlockHeader,
        update: HeaderUpdate,
        device_proof: StateEntryProof,
    ) -> Self {
        let message = recovery_message(device, &trusted_header.hash(), &update.header.hash());
        let signature = owner.sign(
            SigningDomain::DeviceRecovery,
            trusted_header.chain_id,
            &message,
        );
        OwnerRecovery {
            update,
            device: device_proof,
            signature,
        }
    }
}

impl Encode for OwnerRecovery {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.update.encode_to(out);
        self.device.encode_to(out);
        self.signature.encode_to(out);
    }
}

impl Decode for OwnerRecovery {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(OwnerRecovery {
            update: Decode::decode_from(reader)?,
            device: Decode::decode_from(reader)?,
            signature: Decode::decode_from(reader)?,
        })
    }
}

impl TrustedState {
    /// Adopt the header `recovery` vouches for, if the owner of `device`
    /// this state last proved ([`TrustedState::proven_owner`]) signed it for
    /// this trusted header, it is validly certified, and it shows the same
    /// ownership (see [`crate::recovery`]). Works whether or not the trusted
    /// header has expired. On success the proven owner moves to the new
    /// header.
    ///
    /// # Errors
    /// [`RecoveryError`] naming the first check that failed; nothing
    /// changes then.
    pub fn recover(
        &mut self,
        device: &PublicKey,
        recovery: &OwnerRecovery,
        options: &TrustOptions,
        now_ms: u64,
    ) -> Result<(), RecoveryError> {
        let proven = match self.proven_owner() {
            Some(proven) if proven.device == *device => *proven,
            _ => return Err(RecoveryError::NoProvenOwner),
        };
        let old = self.header();
        let update = &recovery.update;
        let new = &update.header;
        if new.chain_id != old.chain_id {
            return Err(RecoveryError::WrongChain);
        }
        if new.height <= old.height || new.time_ms < old.time_ms {
            return Err(RecoveryError::NotNewer);
        }
        if new.time_ms > now_ms.saturating_add(options.clock_drift_ms) {
            return Err(RecoveryError::HeaderFromFuture);
        }
        if now_ms.saturating_sub(new.time_ms) >= options.trust_period_ms {
            return Err(RecoveryError::HeaderTooOld);
        }
        // Cheap before expensive: the owner's signature, then the
        // certificate, then the registration at the new header.
        let message = recovery_message(device, &old.hash(), &new.hash());
        proven
            .owner
            .verify(
                SigningDomain::DeviceRecovery,
                old.chain_id,
                &message,
                &recovery.signature,
            )
            .map_err(|_| RecoveryError::BadSignature)?;
        check_certificate_binding(update).map_err(RecoveryError::Certificate)?;
        let set = match &update.validators {
            Some(_) => signing_set(update, self).map_err(RecoveryError::Certificate)?,
            None => {
                return Err(RecoveryError::Certificate(
                    InvalidReason::MissingValidatorSet,
                ))
            }
        };
        verify_quorum(&update.certificate, set).map_err(RecoveryError::Certificate)?;
        let record = recovery
            .device
            .verify_device(new, device)
            .map_err(|_| RecoveryError::BadProof)?
            .ok_or(RecoveryError::OwnerChanged)?;
        if record.owner != proven.owner || record.ownership_seq != proven.ownership_seq {
            return Err(RecoveryError::OwnerChanged);
        }
        let set = set.clone();
        self.advance(new.clone(), set);
        self.remember_owner(*device, &record);
        Ok(())
    }
}
