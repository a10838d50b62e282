//! The firmware update check (`itc_spv::check_release`, then
//! `ImageCheck::update`/`finish`), as the lamp runs it after its command
//! cases.
//!
//! A case may bring a header update first (the block that published or
//! changed a release); the lamp verifies it like any other. The offer (the
//! state proofs of the product's record and of its current release) is then
//! checked against the lamp's trusted header, for the version the lamp runs,
//! and the image streams in chunks of `IMAGE_CHUNK_BYTES`, as over a radio
//! link. The 64 KiB image is not in flash: [`image_byte`] computes it (one
//! definition, in `image.rs`, shared with the host generator),
//! so a case can flip one byte on the way. An accepted image is "installed":
//! the lamp runs its version from then on, which the later cases see.

use crate::image::image_byte;
use crate::{clock, heap};
use itc_core::encoding::Decode;
use itc_spv::{
    check_release, DeviceFirmware, HeaderUpdate, InvalidReason, Lamp, UpdateOffer, UpdateRefusal,
    Verdict,
};

/// One firmware update case, as the host wrote it.
pub struct UpdateCase {
    pub name: &'static str,
    pub now_ms: u64,
    /// A header update the lamp verifies first.
    pub update: Option<&'static [u8]>,
    pub expected_update: Option<Verdict>,
    /// The encoded `UpdateOffer`.
    pub offer: &'static [u8],
    /// The image byte flipped on the way (XOR 1), if any.
    pub tamper: Option<u32>,
    /// The version installed, or the refusal.
    pub expected: Result<u32, UpdateRefusal>,
}

/// The chunk of the image that starts at `start`: what the radio delivers.
/// Out of line, so that the two loops of [`run_update_case`] run the same
/// code and their difference is the hashing alone.
#[inline(never)]
fn receive_chunk(chunk: &mut [u8], start: u32, tamper: Option<u32>) {
    for (offset, byte) in (start..).zip(chunk.iter_mut()) {
        *byte = image_byte(crate::vectors::IMAGE_SEED, offset);
        if tamper == Some(offset) {
            *byte ^= 1;
        }
    }
}

/// What one update case measured.
pub struct UpdateOutcome {
    pub update: Option<Verdict>,
    /// The installed version, or the refusal.
    pub verdict: Result<u32, UpdateRefusal>,
    /// Verifying the header update.
    pub update_ticks: u32,
    /// Decoding the offer and `check_release` (proofs, signature, versions).
    pub check_ticks: u32,
    /// Receiving and hashing the image, `finish` included.
    pub image_ticks: u32,
    /// Receiving the image alone (the same chunks, not hashed), to subtract.
    pub receive_ticks: u32,
    /// Image bytes fed to the check.
    pub image_bytes: u32,
    pub heap_requested_peak: usize,
    pub heap_used_peak: usize,
    pub stack_peak: usize,
    pub stack_base: usize,
}

/// Verify the case's header update, then check its offer for a lamp that
/// runs `running`, then stream the image through the check.
#[inline(never)]
pub fn run_update_case(lamp: &mut Lamp, running: u32, case: &UpdateCase) -> UpdateOutcome {
    use crate::vectors::{IMAGE_BYTES, IMAGE_CHUNK_BYTES, PRODUCT, SLOT_BYTES};
    heap::HEAP.reset_peaks();
    let start = clock::now();
    let update = case.update.map(|bytes| match HeaderUpdate::decode(bytes) {
        Ok(update) => lamp.update(&update, case.now_ms),
        Err(_) => Verdict::Invalid(InvalidReason::CertificateMismatch),
    });
    let update_ticks = start.elapsed_ticks();

    let device = DeviceFirmware {
        product: PRODUCT,
        version: running,
        image_size_max: SLOT_BYTES,
    };
    let start = clock::now();
    // An offer that does not decode proves nothing.
    let check = UpdateOffer::decode(case.offer)
        .map_err(|_| UpdateRefusal::BadProof)
        .and_then(|offer| {
            check_release(
                lamp.trusted().header(),
                lamp.trusted().chain_id(),
                &device,
                &offer,
            )
        });
    let check_ticks = start.elapsed_ticks();

    let mut chunk = [0u8; IMAGE_CHUNK_BYTES];
    let mut image_bytes = 0u32;
    let (verdict, image_ticks, receive_ticks) = match check {
        Err(refusal) => (Err(refusal), 0, 0),
        Ok(mut check) => {
            let start = clock::now();
            let mut streamed = Ok(());
            let mut at = 0u32;
            while at < IMAGE_BYTES && streamed.is_ok() {
                let len = IMAGE_CHUNK_BYTES.min((IMAGE_BYTES - at) as usize);
                receive_chunk(&mut chunk[..len], at, case.tamper);
                streamed = check.update(&chunk[..len]);
                at += len as u32;
            }
            image_bytes = at;
            let verdict = streamed.and_then(|()| check.finish().map(|m| m.version));
            let image_ticks = start.elapsed_ticks();
            // The same reception without the hash, to tell the two apart.
            let start = clock::now();
            let mut at = 0u32;
            while at < image_bytes {
                let len = IMAGE_CHUNK_BYTES.min((image_bytes - at) as usize);
                receive_chunk(&mut chunk[..len], at, case.tamper);
                core::hint::black_box(&chunk);
                at += len as u32;
            }
            (verdict, image_ticks, start.elapsed_ticks())
        }
    };
    UpdateOutcome {
        update,
        verdict,
        update_ticks,
        check_ticks,
        image_ticks,
        receive_ticks,
        image_bytes,
        heap_requested_peak: heap::HEAP.requested_peak(),
        heap_used_peak: heap::HEAP.used_peak(),
        stack_peak: 0,
        stack_base: 0,
    }
}
