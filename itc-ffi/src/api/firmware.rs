//! Firmware updates through the chain, for the UniFFI bindings: the
//! manufacturer's side (manifest, image hash, release signature) and the
//! device's check (an offer's proofs at the device's trusted header, then
//! the image streamed through [`ImageCheck`]). [`UpdateRefusal`] is shared
//! with the C ABI (`ItcUpdateRefusal`).

use super::keys::Keypair;
use crate::error::ItcError;
use crate::facade::firmware;
use itc_core::encoding::{Decode, Encode};
use std::sync::Arc;

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
        firmware::manifest(
            self.product,
            self.version,
            &self.image_hash,
            self.image_size,
            self.min_version,
        )
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
    firmware::image_hash(&image).to_vec()
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
    let manifest = manifest.to_core()?;
    Ok(firmware::sign_manifest(&release_key.inner, chain_id, &manifest).to_vec())
}

/// The streaming check of an image against an accepted manifest: feed the
/// image in chunks of any size with [`ImageCheck::update`], then call
/// [`ImageCheck::finish`]; install only after `finish` succeeds. Memory is
/// constant whatever the image's size. After a refusal or `finish` the check
/// is over: every further call is refused.
#[derive(Debug, uniffi::Object)]
pub struct ImageCheck {
    pub(crate) inner: firmware::ImageCheck,
}

impl ImageCheck {
    pub(crate) fn wrap(inner: firmware::ImageCheck) -> Arc<Self> {
        Arc::new(ImageCheck { inner })
    }
}

#[uniffi::export]
impl ImageCheck {
    /// The accepted manifest (version, size, hash).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] once the check is over.
    pub fn manifest(&self) -> Result<FirmwareManifest, ItcError> {
        Ok(FirmwareManifest::from_core(&self.inner.manifest()?))
    }

    /// Feed the next chunk of the image.
    ///
    /// # Errors
    /// [`ItcError::UpdateRefused`] with [`UpdateRefusal::ImageTooLong`] as
    /// soon as more bytes arrive than the manifest's size (the check is then
    /// over); [`ItcError::InvalidArgument`] once the check is over.
    pub fn update(&self, chunk: Vec<u8>) -> Result<(), ItcError> {
        self.inner.update(&chunk)
    }

    /// Finish: the image had exactly the manifest's size and hash; returns
    /// the manifest to install.
    ///
    /// # Errors
    /// [`ItcError::UpdateRefused`] with [`UpdateRefusal::ImageTooShort`] or
    /// [`UpdateRefusal::ImageHashMismatch`]; [`ItcError::InvalidArgument`]
    /// once the check is over.
    pub fn finish(&self) -> Result<FirmwareManifest, ItcError> {
        Ok(FirmwareManifest::from_core(&self.inner.finish()?))
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
