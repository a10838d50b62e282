//! The offered firmware image's bytes, computed instead of stored (a 64 KiB
//! image does not fit in the lamp's flash beside its code). One definition
//! for both sides: the firmware includes this module, and the host
//! generator (`examples/src/bin/lamp-vectors.rs`) includes the same file
//! with `#[path]`, so the hash it publishes is the hash of what the device
//! receives.

/// Byte `offset` of the image generated from `seed`.
#[inline(always)]
pub fn image_byte(seed: u32, offset: u32) -> u8 {
    let x = offset.wrapping_mul(0x9E37_79B1).rotate_left(11) ^ seed;
    (x ^ (x >> 16) ^ (x >> 24)) as u8
}
