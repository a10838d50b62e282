//! Firmware updates through the chain, for the UniFFI bindings: the
//! manufacturer's side (manifest, image hash, release signature) and the
//! device's check (an offer's proofs at the device's trusted header, then
//! the image streamed through [`ImageCheck`]). [`UpdateRefusal`] is shared
//! with the C ABI (`ItcUpdateRefusal`).

use super::keys::Keypair;
use super::light_client::lock;
use crate::error::ItcError;
use crate::facade::hash;
use itc_core::encoding::{Decode, Encode};
use itc_core::firmware::ImageHasher;
use itc_core::types::{BlockHeader, ChainId};
use itc_spv::firmware::UpdateOffer;
use std::sync::{Arc, Mutex};

pub use crate::codes::UpdateRefusal;

impl From<itc_spv::firmware::UpdateRefusal> for ItcError {
    fn from(refusal: itc_spv::firmware::UpdateRefusal) -> Self {
        match UpdateRefusal::from_core(refusal) {
            Some(ours) => ItcError::UpdateRefused {
                refusal: ours,
                code: ours.code(),
                reason: refusal.to_string(),
            },
            None => ItcError::Internal {
                reason: format!("update refusal not known to the bindings: {refusal}"),
            },
        }
    }
}

/// A firmware release's manifest: what the release key signs and the
/// device checks.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FirmwareManifest {
    /// The product line.
    pub product: u64,
    /// The release's version (numbers only grow).
    pub version: u32,
    /// [`firmware_image_hash`] of the image (32 bytes).
    pub image_hash: Vec<u8>,
    /// The image's exact length, 1 byte to 16 MiB.
    pub image_size: u32,
    /// The oldest version that may install it directly (at most `version`).
    pub min_version: u32,
}

impl FirmwareManifest {
    pub(crate) fn to_core(&self) -> Result<itc_core::firmware::FirmwareManifest, ItcError> {
        let manifest = itc_core::firmware::FirmwareManifest {
            product: self.product,
            version: self.version,
            image_hash: hash(&self.image_hash, "image hash")?,
            image_size: self.image_size,
            min_version: self.min_version,
        };
        if !manifest.is_well_formed() {
            return Err(ItcError::invalid_argument(
                "manifest: image size must be 1 byte to 16 MiB and min_version at most version",
            ));
        }
        Ok(manifest)
    }

    pub(crate) fn from_core(manifest: &itc_core::firmware::FirmwareManifest) -> Self {
        FirmwareManifest {
            product: manifest.product,
            version: manifest.version,
            image_hash: manifest.image_hash.0.to_vec(),
            image_size: manifest.image_size,
            min_version: manifest.min_version,
        }
    }
}

/// What a device knows about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct DeviceFirmware {
    /// Its product line.
    pub product: u64,
    /// The version it runs.
    pub version: u32,
    /// The largest image it can store.
    pub image_size_max: u32,
}

impl From<DeviceFirmware> for itc_spv::firmware::DeviceFirmware {
    fn from(device: DeviceFirmware) -> Self {
        itc_spv::firmware::DeviceFirmware {
            product: device.product,
            version: device.version,
            image_size_max: device.image_size_max,
        }
    }
}

/// The hash a manifest names for `image` (32 bytes, BLAKE2b-256 in the
/// firmware-image domain).
#[uniffi::export]
pub fn firmware_image_hash(image: Vec<u8>) -> Vec<u8> {
    ImageHasher::hash(&image).0.to_vec()
}

/// The release key's signature over `manifest` for chain `chain_id` (64
/// bytes), for [`Payload::PublishRelease`](super::transaction::Payload::PublishRelease).
///
/// # Errors
/// [`ItcError::InvalidArgument`] for a malformed manifest.
#[uniffi::export]
pub fn firmware_manifest_sign(
    release_key: Arc<Keypair>,
    chain_id: u32,
    manifest: FirmwareManifest,
) -> Result<Vec<u8>, ItcError> {
    Ok(manifest
        .to_core()?
        .sign(&release_key.inner, ChainId(chain_id))
        .0
        .to_vec())
}

/// The device's decision on an offer at `header` (a header the device
/// trusts), at the device's clock `now_ms`, refusing a header more than
/// `header_age_max_ms` old: an [`ImageCheck`] or the refusal.
pub(crate) fn check_offer(
    header: &BlockHeader,
    device: DeviceFirmware,
    offer: &[u8],
    now_ms: u64,
    header_age_max_ms: u64,
) -> Result<itc_spv::firmware::ImageCheck, ItcError> {
    let offer = UpdateOffer::decode(offer)?;
    Ok(itc_spv::firmware::check_release_at(
        header,
        header.chain_id,
        &device.into(),
        &offer,
        now_ms,
        header_age_max_ms,
    )?)
}

/// The streaming check of an image against an accepted manifest: feed the
/// image in chunks of any size with [`ImageCheck::update`], then call
/// [`ImageCheck::finish`]; install only after `finish` succeeds. Memory is
/// constant whatever the image's size. After a refusal or `finish` the check
/// is over: every further call is refused.
#[derive(Debug, uniffi::Object)]
pub struct ImageCheck {
    inner: Mutex<Option<itc_spv::firmware::ImageCheck>>,
}

impl ImageCheck {
    pub(crate) fn wrap(check: itc_spv::firmware::ImageCheck) -> Arc<Self> {
        Arc::new(ImageCheck {
            inner: Mutex::new(Some(check)),
        })
    }
}

fn check_over() -> ItcError {
    ItcError::invalid_argument("the image check is over (finished or refused)")
}

#[uniffi::export]
impl ImageCheck {
    /// The accepted manifest (version, size, hash).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] once the check is over.
    pub fn manifest(&self) -> Result<FirmwareManifest, ItcError> {
        let guard = lock(&self.inner);
        let check = guard.as_ref().ok_or_else(check_over)?;
        Ok(FirmwareManifest::from_core(check.manifest()))
    }

    /// Feed the next chunk of the image.
    ///
    /// # Errors
    /// [`ItcError::UpdateRefused`] with [`UpdateRefusal::ImageTooLong`] as
    /// soon as more bytes arrive than the manifest's size (the check is then
    /// over); [`ItcError::InvalidArgument`] once the check is over.
    pub fn update(&self, chunk: Vec<u8>) -> Result<(), ItcError> {
        let mut guard = lock(&self.inner);
        let check = guard.as_mut().ok_or_else(check_over)?;
        if let Err(refusal) = check.update(&chunk) {
            *guard = None;
            return Err(refusal.into());
        }
        Ok(())
    }

    /// Finish: the image had exactly the manifest's size and hash; returns
    /// the manifest to install.
    ///
    /// # Errors
    /// [`ItcError::UpdateRefused`] with [`UpdateRefusal::ImageTooShort`] or
    /// [`UpdateRefusal::ImageHashMismatch`]; [`ItcError::InvalidArgument`]
    /// once the check is over.
    pub fn finish(&self) -> Result<FirmwareManifest, ItcError> {
        let check = lock(&self.inner).take().ok_or_else(check_over)?;
        Ok(FirmwareManifest::from_core(&check.finish()?))
    }
}

/// Decode a manifest from the bytes a release record or transaction holds
/// (for tools); strict.
///
/// # Errors
/// [`ItcError::Decode`].
#[uniffi::export]
pub fn decode_firmware_manifest(bytes: Vec<u8>) -> Result<FirmwareManifest, ItcError> {
    Ok(FirmwareManifest::from_core(
        &itc_core::firmware::FirmwareManifest::decode(&bytes)?,
    ))
}

/// The canonical bytes of a manifest (what the release key signs).
///
/// # Errors
/// [`ItcError::InvalidArgument`] for a malformed manifest.
#[uniffi::export]
pub fn encode_firmware_manifest(manifest: FirmwareManifest) -> Result<Vec<u8>, ItcError> {
    Ok(manifest.to_core()?.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spv_refusal_maps_to_the_variant_with_its_code() {
        use itc_spv::firmware::UpdateRefusal as Spv;
        let spv = [
            Spv::BadProof,
            Spv::UnknownProduct,
            Spv::NoRelease,
            Spv::WrongProduct,
            Spv::BadSignature,
            Spv::Revoked,
            Spv::NotNewer,
            Spv::BelowMinimum,
            Spv::ImageTooLarge,
            Spv::ImageTooLong,
            Spv::ImageTooShort,
            Spv::ImageHashMismatch,
            Spv::StaleHeader,
        ];
        for (core, ours) in spv.into_iter().zip(UpdateRefusal::ALL) {
            assert_eq!(UpdateRefusal::from_core(core), Some(ours));
            assert_eq!(format!("{core:?}"), format!("{ours:?}"));
        }
    }
}
