//! Firmware updates through the chain: the manufacturer's side (image hash,
//! release signature) and the device's check (an update offer's proofs at
//! the trusted header, then the image streamed through an
//! [`ItcImageCheck`]).
//!
//! A refusal is `ITC_STATUS_UPDATE_REFUSED` with the `ItcUpdateRefusal` code
//! in [`itc_last_error_reason`](super::itc_last_error_reason) (the UniFFI
//! bindings' `UpdateRefusal`: one definition, itc-spv's codes).

use super::keys::{ItcKeypair, ITC_HASH_LEN, ITC_SIGNATURE_LEN};
use super::light_client::{ItcLamp, ItcLightClient};
use super::{
    clear_handle_out, guard, handle_ref, read_slice, store_handle, write_array, write_value,
    Handle, ItcStatus,
};
use crate::api::firmware::ImageCheck;
use crate::error::ItcError;
use crate::facade::firmware;
use std::sync::Arc;

/// A firmware release's manifest as plain data.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcFirmwareManifest {
    /// The product line.
    pub product: u64,
    /// The release's version (numbers only grow).
    pub version: u32,
    /// [`itc_firmware_image_hash`] of the image.
    pub image_hash: [u8; ITC_HASH_LEN],
    /// The image's exact length, 1 byte to 16 MiB.
    pub image_size: u32,
    /// The oldest version that may install it directly (at most `version`).
    pub min_version: u32,
}

impl ItcFirmwareManifest {
    pub(crate) fn to_core(self) -> Result<itc_core::firmware::FirmwareManifest, ItcError> {
        firmware::manifest(
            self.product,
            self.version,
            &self.image_hash,
            self.image_size,
            self.min_version,
        )
    }

    pub(crate) fn from_core(manifest: &itc_core::firmware::FirmwareManifest) -> Self {
        ItcFirmwareManifest {
            product: manifest.product,
            version: manifest.version,
            image_hash: manifest.image_hash.0,
            image_size: manifest.image_size,
            min_version: manifest.min_version,
        }
    }
}

/// Read a manifest argument.
///
/// # Safety
/// `ptr` must be null or point to a readable [`ItcFirmwareManifest`].
pub(crate) unsafe fn read_manifest(
    ptr: *const ItcFirmwareManifest,
) -> Result<itc_core::firmware::FirmwareManifest, ItcError> {
    if ptr.is_null() {
        return Err(ItcError::NullPointer {
            argument: "manifest".into(),
        });
    }
    // SAFETY: non-null and readable by the caller's contract.
    unsafe { ptr.read_unaligned() }.to_core()
}

/// What a device knows about itself.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcDeviceFirmware {
    /// Its product line.
    pub product: u64,
    /// The version it runs.
    pub version: u32,
    /// The largest image it can store.
    pub image_size_max: u32,
}

/// The hash a manifest names for an image of `image_len` bytes.
///
/// # Safety
/// `image` must point to `image_len` readable bytes; `out_hash` to
/// [`ITC_HASH_LEN`] writable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_firmware_image_hash(
    image: *const u8,
    image_len: usize,
    out_hash: *mut u8,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let image = unsafe { read_slice(image, image_len, "image")? };
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_hash, &firmware::image_hash(image), "out_hash") }
    })
}

/// The release key's signature over `manifest` for chain `chain_id`, for
/// [`itc_transaction_new_publish_release`](super::transaction::itc_transaction_new_publish_release).
/// A malformed manifest (empty or oversized image, `min_version` above
/// `version`) is `ITC_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `release_key` must be a live key pair handle; `manifest` must point to a
/// readable [`ItcFirmwareManifest`]; `out_signature` to
/// [`ITC_SIGNATURE_LEN`] writable bytes.
///
/// Thread safety: safe from any thread; `release_key` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_firmware_manifest_sign(
    release_key: *const ItcKeypair,
    chain_id: u32,
    manifest: *const ItcFirmwareManifest,
    out_signature: *mut u8,
) -> ItcStatus {
    with_handle!(release_key, {
        // SAFETY: the caller's contract above.
        let manifest = unsafe { read_manifest(manifest)? };
        let signature: [u8; ITC_SIGNATURE_LEN] =
            firmware::sign_manifest(&release_key.keypair, chain_id, &manifest);
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_signature, &signature, "out_signature") }
    })
}

handle_type! {
    /// The streaming check of an image against an accepted manifest (opaque,
    /// internally locked). Feed the image with [`itc_image_check_update`], then
    /// call [`itc_image_check_finish`]; install only after it succeeds. Free
    /// with [`itc_image_check_free`] in every case.
    pub struct ItcImageCheck {
        inner: Arc<ImageCheck>,
    }
    tag = b"itc:fwck", kind = "image check";
}

/// Shared body of the two checks.
///
/// # Safety
/// As [`itc_light_client_check_firmware_update`].
unsafe fn check(
    header: impl FnOnce() -> Result<(itc_core::types::BlockHeader, u64), ItcError>,
    device: *const ItcDeviceFirmware,
    offer: *const u8,
    offer_len: usize,
    now_ms: u64,
    out: *mut *mut ItcImageCheck,
) -> ItcStatus {
    // SAFETY: forwarded contract.
    unsafe { clear_handle_out(out) };
    guard(|| {
        if device.is_null() {
            return Err(ItcError::NullPointer {
                argument: "device".into(),
            });
        }
        // SAFETY: non-null and readable by the caller's contract.
        let device = unsafe { device.read_unaligned() };
        let device = itc_spv::firmware::DeviceFirmware {
            product: device.product,
            version: device.version,
            image_size_max: device.image_size_max,
        };
        // SAFETY: forwarded contract.
        let offer = unsafe { read_slice(offer, offer_len, "offer")? };
        let (header, header_age_max_ms) = header()?;
        let check = firmware::check_offer(&header, &device, offer, now_ms, header_age_max_ms)?;
        let handle = ItcImageCheck {
            magic: ItcImageCheck::MAGIC,
            inner: ImageCheck::wrap(check),
        };
        // SAFETY: forwarded contract.
        unsafe { store_handle(out, handle) }
    })
}

/// Whether the release an update offer proves (the encoded proofs of the
/// product's record and of its current release, from a phone, a gateway, a
/// peer or [`itc_dev_chain_firmware_offer`](super::dev_chain::itc_dev_chain_firmware_offer))
/// may be installed on `device`, at the light client's trusted header and
/// for its chain, at the device's clock `now_ms` (milliseconds since the
/// Unix epoch). A trusted header more than `header_age_max_ms` older than
/// `now_ms` is refused (`ITC_UPDATE_REFUSAL_STALE_HEADER`: a relay that
/// withholds newer headers cannot get a since-revoked release installed;
/// use the age the device accepts for commands). On success `*out` is a new
/// [`ItcImageCheck`]; a refusal is `ITC_STATUS_UPDATE_REFUSED` with the
/// `ItcUpdateRefusal` code (bad proof, unknown product, no release, wrong
/// product, bad signature, revoked, not newer, below minimum, image too
/// large, stale header) and a null `*out`.
///
/// # Safety
/// `light_client` must be a live handle; `device` must point to a readable
/// [`ItcDeviceFirmware`]; `offer` to `offer_len` readable bytes; `out`
/// writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_check_firmware_update(
    light_client: *const ItcLightClient,
    device: *const ItcDeviceFirmware,
    offer: *const u8,
    offer_len: usize,
    now_ms: u64,
    header_age_max_ms: u64,
    out: *mut *mut ItcImageCheck,
) -> ItcStatus {
    let header = || {
        // SAFETY: the caller's contract above.
        let client = unsafe { handle_ref(light_client, "light_client")? };
        Ok((client.inner.trusted().header().clone(), header_age_max_ms))
    };
    // SAFETY: the caller's contract above.
    unsafe { check(header, device, offer, offer_len, now_ms, out) }
}

/// [`itc_light_client_check_firmware_update`] at the lamp's trusted header,
/// with the lamp's freshness bound (as for a command) as the oldest header
/// it accepts.
///
/// # Safety
/// As [`itc_light_client_check_firmware_update`], with `lamp` a live handle.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_check_firmware_update(
    lamp: *const ItcLamp,
    device: *const ItcDeviceFirmware,
    offer: *const u8,
    offer_len: usize,
    now_ms: u64,
    out: *mut *mut ItcImageCheck,
) -> ItcStatus {
    let header = || {
        // SAFETY: the caller's contract above.
        let lamp = unsafe { handle_ref(lamp, "lamp")? };
        Ok(lamp.inner.header_and_freshness())
    };
    // SAFETY: the caller's contract above.
    unsafe { check(header, device, offer, offer_len, now_ms, out) }
}

/// Feed the next `chunk_len` bytes of the image. More bytes than the
/// manifest's size is `ITC_STATUS_UPDATE_REFUSED` with
/// `ITC_UPDATE_REFUSAL_IMAGE_TOO_LONG`; the check is then over (every
/// further call is `ITC_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `check` must be a live handle; `chunk` must point to `chunk_len`
/// readable bytes.
///
/// Thread safety: safe from any thread (serialized internally).
#[no_mangle]
pub unsafe extern "C" fn itc_image_check_update(
    check: *const ItcImageCheck,
    chunk: *const u8,
    chunk_len: usize,
) -> ItcStatus {
    with_handle!(check, {
        // SAFETY: the caller's contract above.
        let chunk = unsafe { read_slice(chunk, chunk_len, "chunk")? };
        check.inner.inner.update(chunk)
    })
}

/// Finish: the image had exactly the manifest's size and hash; the
/// manifest to install goes into `*out_manifest`. Otherwise
/// `ITC_STATUS_UPDATE_REFUSED` with `ITC_UPDATE_REFUSAL_IMAGE_TOO_SHORT` or
/// `ITC_UPDATE_REFUSAL_IMAGE_HASH_MISMATCH`. The check is over either way;
/// free the handle.
///
/// # Safety
/// `check` must be a live handle; `out_manifest` writable.
///
/// Thread safety: safe from any thread (serialized internally).
#[no_mangle]
pub unsafe extern "C" fn itc_image_check_finish(
    check: *const ItcImageCheck,
    out_manifest: *mut ItcFirmwareManifest,
) -> ItcStatus {
    with_handle!(check, {
        super::require_out(out_manifest, "out_manifest")?;
        let manifest = ItcFirmwareManifest::from_core(&check.inner.inner.finish()?);
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_manifest, manifest, "out_manifest") }
    })
}

/// Free an image check handle. Null is a no-op.
///
/// # Safety
/// `check` must be null or a live handle from this library.
///
/// Thread safety: must not run concurrently with any use of the handle.
#[no_mangle]
pub unsafe extern "C" fn itc_image_check_free(check: *mut ItcImageCheck) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { super::release(check, "check") }
}
