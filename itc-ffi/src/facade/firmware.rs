//! Firmware: the manufacturer's manifest, image hash and release signature,
//! and the device's check of an offer and of the streamed image.

use super::hash;
use crate::api::light_client::lock;
use crate::error::ItcError;
use itc_core::encoding::Decode;
use itc_core::firmware::{FirmwareManifest, ImageHasher};
use itc_core::keys::Keypair;
use itc_core::types::{BlockHeader, ChainId};
use itc_spv::firmware::{DeviceFirmware, UpdateOffer};
use std::sync::Mutex;

/// A well-formed manifest (32-byte image hash, image of 1 byte to 16 MiB,
/// `min_version` at most `version`).
pub(crate) fn manifest(
    product: u64,
    version: u32,
    image_hash: &[u8],
    image_size: u32,
    min_version: u32,
) -> Result<FirmwareManifest, ItcError> {
    let manifest = FirmwareManifest {
        product,
        version,
        image_hash: hash(image_hash, "image hash")?,
        image_size,
        min_version,
    };
    if !manifest.is_well_formed() {
        return Err(ItcError::invalid_argument(
            "manifest: image size must be 1 byte to 16 MiB and min_version at most version",
        ));
    }
    Ok(manifest)
}

/// The hash a manifest names its image by.
pub(crate) fn image_hash(image: &[u8]) -> [u8; 32] {
    ImageHasher::hash(image).0
}

/// The release key's signature over `manifest` for `chain_id`.
pub(crate) fn sign_manifest(
    release_key: &Keypair,
    chain_id: u32,
    manifest: &FirmwareManifest,
) -> [u8; 64] {
    manifest.sign(release_key, ChainId(chain_id)).0
}

/// Check an encoded update offer for `device` at the trusted `header`: the
/// image check to stream the image through.
pub(crate) fn check_offer(
    header: &BlockHeader,
    device: &DeviceFirmware,
    offer: &[u8],
    now_ms: u64,
    header_age_max_ms: u64,
) -> Result<ImageCheck, ItcError> {
    let offer = UpdateOffer::decode(offer)?;
    let check = itc_spv::firmware::check_release_at(
        header,
        header.chain_id,
        device,
        &offer,
        now_ms,
        header_age_max_ms,
    )?;
    Ok(ImageCheck(Mutex::new(Some(check))))
}

/// An accepted offer's image check, over once finished or refused
/// (internally locked).
#[derive(Debug)]
pub(crate) struct ImageCheck(Mutex<Option<itc_spv::firmware::ImageCheck>>);

fn check_over() -> ItcError {
    ItcError::invalid_argument("the image check is over (finished or refused)")
}

impl ImageCheck {
    /// The accepted manifest.
    pub(crate) fn manifest(&self) -> Result<FirmwareManifest, ItcError> {
        let guard = lock(&self.0);
        Ok(*guard.as_ref().ok_or_else(check_over)?.manifest())
    }

    /// Feed the next chunk; a refusal ends the check.
    pub(crate) fn update(&self, chunk: &[u8]) -> Result<(), ItcError> {
        let mut guard = lock(&self.0);
        let check = guard.as_mut().ok_or_else(check_over)?;
        if let Err(refusal) = check.update(chunk) {
            *guard = None;
            return Err(refusal.into());
        }
        Ok(())
    }

    /// End the check: the manifest to install if the image matched.
    pub(crate) fn finish(&self) -> Result<FirmwareManifest, ItcError> {
        let check = lock(&self.0).take().ok_or_else(check_over)?;
        Ok(check.finish()?)
    }
}
