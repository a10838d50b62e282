//! The owner's way back for a device that went without headers for longer
//! than its trust period.
//!
//! After a trust period without headers the trusted validator set may have
//! unbonded, so certificates alone can no longer move the device forward
//! ([`crate::InvalidReason::TrustedStateExpired`]). The device's owner, whom
//! the device can still prove from its last trusted header (the device's
//! registration is in that header's state), vouches for a recent header:
//! they sign, under [`SigningDomain::DeviceRecovery`], the device, the
//! device's current trusted header and the new header. The device adopts
//! the new header when
//! * its last trusted header proves the signer owns the device,
//! * the new header is certified by more than two thirds of its own
//!   validator set, is newer, within the trust period and not from the
//!   future, and proves the same owner still owns the device,
//! * the signature names exactly the device's current trusted header (so a
//!   recovery message cannot be replayed to move the device back).
//!
//! No server and no firmware change is involved: the owner's app fetches a
//! recent certified header and the two proofs from any node and signs.
//!
//! # Trust
//! The owner is trusted for their own device only: a recovery lets the owner
//! choose which certified header their device follows, which is what they
//! could do anyway by re-pairing it. Nobody else can sign one, and the
//! recovery never applies to another device.
//!
//! A device whose *pinned* header (the one in its firmware) is older than
//! the trust period is not registered in it yet, so there is no owner to
//! prove: [`crate::TrustedState::bootstrap`] refuses it with
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
    /// A registration proof does not hold against its header.
    #[error("bad registration proof")]
    BadProof,
    /// The trusted header shows the device is not registered: no owner to
    /// recover with.
    #[error("device is not registered at the trusted header")]
    NotRegistered,
    /// The signer is not the owner the trusted header proves, or the new
    /// header shows another owner.
    #[error("signer does not own the device")]
    NotOwner,
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
    /// The device's registration at the device's current trusted header.
    pub device_at_trusted: StateEntryProof,
    /// The device's registration at the new header.
    pub device_at_new: StateEntryProof,
    /// The owner who signs.
    pub owner: PublicKey,
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
    /// header is `trusted_header` (the owner's app asks the device for it,
    /// or reads it from the device's last report).
    pub fn new_signed(
        owner: &Keypair,
        device: &PublicKey,
        trusted_header: &BlockHeader,
        update: HeaderUpdate,
        device_at_trusted: StateEntryProof,
        device_at_new: StateEntryProof,
    ) -> Self {
        let message = recovery_message(device, &trusted_header.hash(), &update.header.hash());
        let signature = owner.sign(
            SigningDomain::DeviceRecovery,
            trusted_header.chain_id,
            &message,
        );
        OwnerRecovery {
            update,
            device_at_trusted,
            device_at_new,
            owner: owner.public(),
            signature,
        }
    }
}

impl Encode for OwnerRecovery {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.update.encode_to(out);
        self.device_at_trusted.encode_to(out);
        self.device_at_new.encode_to(out);
        self.owner.encode_to(out);
        self.signature.encode_to(out);
    }
}

impl Decode for OwnerRecovery {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(OwnerRecovery {
            update: Decode::decode_from(reader)?,
            device_at_trusted: Decode::decode_from(reader)?,
            device_at_new: Decode::decode_from(reader)?,
            owner: Decode::decode_from(reader)?,
            signature: Decode::decode_from(reader)?,
        })
    }
}

impl TrustedState {
    /// Adopt the header `recovery` vouches for, if the owner of `device`
    /// (proven at this trusted header) signed it for this trusted header and
    /// it is validly certified (see [`crate::recovery`]). Works whether or
    /// not the trusted header has expired.
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
        if new.time_ms.saturating_add(options.trust_period_ms) <= now_ms {
            return Err(RecoveryError::HeaderTooOld);
        }
        // Cheap before expensive: the owner at the trusted header, then the
        // owner's signature, then the certificate.
        let owner = recovery
            .device_at_trusted
            .verify_device(old, device)
            .map_err(|_| RecoveryError::BadProof)?
            .ok_or(RecoveryError::NotRegistered)?
            .owner;
        if recovery.owner != owner {
            return Err(RecoveryError::NotOwner);
        }
        let message = recovery_message(device, &old.hash(), &new.hash());
        owner
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
        let still_owner = recovery
            .device_at_new
            .verify_device(new, device)
            .map_err(|_| RecoveryError::BadProof)?
            .is_some_and(|record| record.owner == owner);
        if !still_owner {
            return Err(RecoveryError::NotOwner);
        }
        let set = set.clone();
        *self = TrustedState::from_verified(new.clone(), set);
        Ok(())
    }
}
