//! The device's side of firmware updates through the chain
//! ([`itc_core::firmware`]): decide from a header it trusts whether an
//! offered release may be installed, then check the image as it streams in.
//!
//! # What is checked, and which threats that covers
//! [`check_release`] takes an [`UpdateOffer`]: the state proofs of the
//! product's record and of its current release at the device's trusted
//! header. It accepts only if
//!
//! 1. both proofs hold against the trusted header's state root (a relay,
//!    phone or peer that offers the update cannot forge or alter either);
//! 2. the release is the product's current one on chain and not revoked: an
//!    older, superseded manifest is not what the proof shows, so it cannot
//!    be replayed (Uptane's freeze and rollback attacks need the device's
//!    header to be old: the device refuses headers older than what it
//!    trusts, and [`check_release_at`] refuses a trusted header older than
//!    the device's freshness window);
//! 3. the manifest is signed by the product's current release key (Uptane's
//!    targets role, SUIT's authenticated manifest), so a manifest signed by
//!    another key, or by a rotated-out key, is refused even if a ledger
//!    accepted it;
//! 4. it is for the device's product, newer than the running version (no
//!    rollback, no reinstall) and installable from it
//!    ([`FirmwareManifest::min_version`]), with an image size the device can
//!    hold (endless-data attacks stop at the manifest's size).
//!
//! [`ImageCheck`] then hashes the image in chunks with constant memory and
//! refuses it on the first byte beyond the manifest's size, or at the end if
//! the size or the hash differ (arbitrary-software and mix-and-match
//! attacks).
//!
//! Not covered here: a compromised release key (rotate it on chain: the
//! device then refuses what the old key signed), a compromised quorum of
//! validators, partial-installation recovery (the bootloader's job: install
//! to an inactive slot, switch only after [`ImageCheck::finish`]), and
//! confidentiality of the image.

use crate::proof::{SpvProofError, StateEntryProof};
use itc_core::encoding::{Decode, DecodeError, Encode, Reader};
use itc_core::firmware::{FirmwareManifest, ImageHasher};
use itc_core::types::{BlockHeader, ChainId};

/// What a device knows about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceFirmware {
    /// Its product line.
    pub product: u64,
    /// The version it runs.
    pub version: u32,
    /// The largest image it can store.
    pub image_size_max: u32,
}

/// What a phone, gateway or peer hands the device with an image: the proofs
/// of the product's record and of its current release, against the header
/// the device trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateOffer {
    /// Proof of `state_key::product`.
    pub product: StateEntryProof,
    /// Proof of `state_key::release`.
    pub release: StateEntryProof,
}

impl Encode for UpdateOffer {
    fn encode_to(&self, out: &mut alloc::vec::Vec<u8>) {
        self.product.encode_to(out);
        self.release.encode_to(out);
    }
}

impl Decode for UpdateOffer {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(UpdateOffer {
            product: Decode::decode_from(r)?,
            release: Decode::decode_from(r)?,
        })
    }
}

/// The list of [`UpdateRefusal`]s and their stable codes, written once (the
/// canonical enum and the bindings' UniFFI enum and C constants
/// `ITC_UPDATE_REFUSAL_*` are generated from it; see
/// [`deny_reasons!`](crate::deny_reasons) for the calling convention).
/// Codes are stable: add at the end, never renumber.
#[macro_export]
macro_rules! update_refusals {
    ($($callback:ident)::+ ! { $($prefix:tt)* }) => {
        $($callback)::+! { $($prefix)* {
            /// A proof does not hold against the trusted header.
            BadProof = 1 => "bad proof",
            /// The chain has no such product.
            UnknownProduct = 2 => "unknown product",
            /// The product has no release.
            NoRelease = 3 => "no release",
            /// The proven release is for another product.
            WrongProduct = 4 => "release for another product",
            /// The manifest is not signed by the product's current release key.
            BadSignature = 5 => "bad release signature",
            /// The current release is revoked.
            Revoked = 6 => "release revoked",
            /// The release is not newer than the running version (rollback or
            /// reinstall).
            NotNewer = 7 => "not newer than the running version",
            /// The running version is older than the release's minimum.
            BelowMinimum = 8 => "running version below the release's minimum",
            /// The image is larger than the device can hold.
            ImageTooLarge = 9 => "image too large for the device",
            /// More bytes than the manifest's size arrived.
            ImageTooLong = 10 => "image longer than the manifest says",
            /// Fewer bytes than the manifest's size arrived.
            ImageTooShort = 11 => "image shorter than the manifest says",
            /// The image does not hash to the manifest's hash (tampered or
            /// wrong image).
            ImageHashMismatch = 12 => "image hash mismatch",
            /// The trusted header is older than the device accepts for an
            /// update: the release may have been revoked or superseded since
            /// (a freeze attack by a relay that withholds newer headers).
            /// Update the header first.
            StaleHeader = 13 => "trusted header too old",
        } }
    };
}

update_refusals!(itc_core::stable_codes! {
    /// Why an update is refused. The numbers are stable codes (C and UniFFI
    /// bindings report them); the list is
    /// [`update_refusals!`](crate::update_refusals). A refusal for a stale
    /// header comes from [`check_release_at`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum UpdateRefusal: u8, code u8
});

impl From<SpvProofError> for UpdateRefusal {
    fn from(_: SpvProofError) -> Self {
        UpdateRefusal::BadProof
    }
}

/// Decide whether the release an [`UpdateOffer`] proves may be installed on
/// `device`, at the device's trusted `header` (see the
/// [module docs](self)). On success, stream the image into the returned
/// [`ImageCheck`].
///
/// # Errors
/// An [`UpdateRefusal`] naming the first check that failed.
pub fn check_release(
    header: &BlockHeader,
    chain_id: ChainId,
    device: &DeviceFirmware,
    offer: &UpdateOffer,
) -> Result<ImageCheck, UpdateRefusal> {
    let product = offer
        .product
        .verify_product(header, device.product)?
        .ok_or(UpdateRefusal::UnknownProduct)?;
    let release = offer
        .release
        .verify_release(header, device.product)?
        .ok_or(UpdateRefusal::NoRelease)?;
    let manifest = release.manifest;
    if manifest.product != device.product {
        return Err(UpdateRefusal::WrongProduct);
    }
    manifest
        .verify(&product.release_key, chain_id, &release.signature)
        .map_err(|_| UpdateRefusal::BadSignature)?;
    if release.revoked {
        return Err(UpdateRefusal::Revoked);
    }
    if manifest.version <= device.version {
        return Err(UpdateRefusal::NotNewer);
    }
    if device.version < manifest.min_version {
        return Err(UpdateRefusal::BelowMinimum);
    }
    if manifest.image_size > device.image_size_max {
        return Err(UpdateRefusal::ImageTooLarge);
    }
    Ok(ImageCheck {
        manifest,
        hasher: ImageHasher::new(),
    })
}

/// [`check_release`] at the device's clock: refuses with
/// [`UpdateRefusal::StaleHeader`] if the trusted header is more than
/// `header_age_max_ms` older than `now_ms`, so a relay that withholds newer
/// headers cannot get a release installed that the chain has since revoked
/// or superseded (Uptane's freeze attack). Use the age the device already
/// uses for commands (for example the lamp's freshness window).
///
/// # Errors
/// As [`check_release`], and [`UpdateRefusal::StaleHeader`].
pub fn check_release_at(
    header: &BlockHeader,
    chain_id: ChainId,
    device: &DeviceFirmware,
    offer: &UpdateOffer,
    now_ms: u64,
    header_age_max_ms: u64,
) -> Result<ImageCheck, UpdateRefusal> {
    if now_ms.saturating_sub(header.time_ms) > header_age_max_ms {
        return Err(UpdateRefusal::StaleHeader);
    }
    check_release(header, chain_id, device, offer)
}

/// The streaming check of an image against an accepted manifest: constant
/// memory, any chunk sizes.
#[derive(Clone, Debug)]
pub struct ImageCheck {
    manifest: FirmwareManifest,
    hasher: ImageHasher,
}

impl ImageCheck {
    /// The accepted manifest (version, size, hash).
    pub fn manifest(&self) -> &FirmwareManifest {
        &self.manifest
    }

    /// Feed the next chunk of the image.
    ///
    /// # Errors
    /// [`UpdateRefusal::ImageTooLong`] as soon as more bytes arrive than the
    /// manifest's size; the check is then over.
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), UpdateRefusal> {
        let after = self.hasher.length().saturating_add(chunk.len() as u64);
        if after > u64::from(self.manifest.image_size) {
            return Err(UpdateRefusal::ImageTooLong);
        }
        self.hasher.update(chunk);
        Ok(())
    }

    /// Finish: the image is exactly the manifest's size and hash.
    ///
    /// # Errors
    /// [`UpdateRefusal::ImageTooShort`] or [`UpdateRefusal::ImageHashMismatch`].
    pub fn finish(self) -> Result<FirmwareManifest, UpdateRefusal> {
        if self.hasher.length() != u64::from(self.manifest.image_size) {
            return Err(UpdateRefusal::ImageTooShort);
        }
        if self.hasher.finalize() != self.manifest.image_hash {
            return Err(UpdateRefusal::ImageHashMismatch);
        }
        Ok(self.manifest)
    }
}
