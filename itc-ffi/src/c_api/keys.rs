//! Keys: generate, import and export a seed, public key, sign, verify.

use super::{
    clear_handle_out, guard, read_array, read_slice, store_handle, write_array, Handle, ItcStatus,
};
use crate::error::ItcError;
use itc_core::keys::{Keypair, SigningDomain};
use itc_core::types::ChainId;
use zeroize::Zeroizing;

// Literal values so that cbindgen can emit them as #defines; the asserts
// below tie them to itc-core.
/// Length of a secret seed in bytes.
pub const ITC_SEED_LEN: usize = 32;
/// Length of a public key in bytes.
pub const ITC_PUBLIC_KEY_LEN: usize = 32;
/// Length of a signature in bytes.
pub const ITC_SIGNATURE_LEN: usize = 64;
/// Length of a hash in bytes.
pub const ITC_HASH_LEN: usize = 32;
const _: () = assert!(ITC_SEED_LEN == itc_core::keys::SEED_LEN);
const _: () = assert!(ITC_PUBLIC_KEY_LEN == itc_core::keys::PUBLIC_KEY_LEN);
const _: () = assert!(ITC_SIGNATURE_LEN == itc_core::keys::SIGNATURE_LEN);
const _: () = assert!(ITC_HASH_LEN == itc_core::hash::HASH_LEN);

/// What a signature is for; pass the number as the `domain` argument.
/// A signature made for one purpose never verifies for another.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItcSigningDomain {
    /// A main-chain transaction.
    Transaction = 0,
    /// A consensus vote.
    Vote = 1,
    /// Another consensus message.
    Consensus = 2,
    /// A device's proof of pairing (the device signs its owner's key and its
    /// security level: `itc_pairing_message`).
    DevicePairing = 3,
    /// A command sent to a device by a grantee.
    DeviceCommand = 4,
    /// A DAG side-chain transaction.
    DagTransaction = 5,
}

/// Map a C domain number to the core's signing domain.
pub(crate) fn signing_domain(domain: u32) -> Result<SigningDomain, ItcError> {
    crate::api::keys::SigningDomain::from_code(domain)
        .map(SigningDomain::from)
        .ok_or_else(|| ItcError::invalid_argument(format!("unknown signing domain {domain}")))
}

handle_type! {
    /// An ed25519 key pair (opaque). Create with [`itc_keypair_from_seed`] or
    /// [`itc_keypair_generate`], free with [`itc_keypair_free`], which wipes the
    /// secret key before releasing the memory.
    pub struct ItcKeypair {
        pub(crate) keypair: Keypair,
    }
    tag = b"itc:kp\0\x01", kind = "keypair";
}

impl ItcKeypair {
    pub(crate) fn new(keypair: Keypair) -> Self {
        ItcKeypair {
            magic: Self::MAGIC,
            keypair,
        }
    }
}

/// Derive a key pair from a 32-byte secret seed (deterministic).
///
/// On success `*out` is a new handle to free with [`itc_keypair_free`].
/// The library wipes its own copies of the seed; the `seed` buffer stays
/// the caller's to wipe (see [`itc_keypair_seed`] for how). An all-zero
/// seed (an uninitialised buffer) is `ITC_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `seed` must point to [`ITC_SEED_LEN`] readable bytes; `out` must be
/// writable. Null pointers are refused.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_keypair_from_seed(
    seed: *const u8,
    out: *mut *mut ItcKeypair,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        // SAFETY: the caller's contract above.
        let seed = Zeroizing::new(unsafe { read_array::<ITC_SEED_LEN>(seed, "seed")? });
        let keypair = crate::facade::keys::keypair_from_seed(&*seed)?;
        // SAFETY: the caller's contract above.
        unsafe { store_handle(out, ItcKeypair::new(keypair)) }
    })
}

/// Generate a new key pair from the operating system's randomness.
///
/// On success `*out` is a new handle to free with [`itc_keypair_free`].
///
/// # Safety
/// `out` must be writable (null is refused).
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_keypair_generate(out: *mut *mut ItcKeypair) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        let keypair = crate::generate_keypair()?;
        // SAFETY: the caller's contract above.
        unsafe { store_handle(out, ItcKeypair::new(keypair)) }
    })
}

/// Export the secret seed ([`ITC_SEED_LEN`] bytes) into `out_seed`. Keep it
/// secret; [`itc_keypair_from_seed`] imports it again.
///
/// The library wipes its own copy; `out_seed` is the caller's buffer and
/// the caller's to wipe as soon as the seed is no longer needed, with a
/// write the compiler cannot drop as dead (`explicit_bzero` on glibc and
/// the BSDs, `memset_s` where C11 Annex K exists, `SecureZeroMemory` on
/// Windows, or a loop through a `volatile` pointer): a plain `memset` just
/// before the buffer goes out of scope or is freed may be optimised away.
///
/// # Safety
/// `keypair` must be a live key pair handle; `out_seed` must point to
/// [`ITC_SEED_LEN`] writable bytes.
///
/// Thread safety: may run concurrently with other reads of `keypair`.
#[no_mangle]
pub unsafe extern "C" fn itc_keypair_seed(
    keypair: *const ItcKeypair,
    out_seed: *mut u8,
) -> ItcStatus {
    with_handle!(keypair, {
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_seed, &keypair.keypair.seed(), "out_seed") }
    })
}

/// Write the public key ([`ITC_PUBLIC_KEY_LEN`] bytes) into `out_public_key`.
///
/// # Safety
/// `keypair` must be a live key pair handle; `out_public_key` must point to
/// [`ITC_PUBLIC_KEY_LEN`] writable bytes.
///
/// Thread safety: may run concurrently with other reads of `keypair`.
#[no_mangle]
pub unsafe extern "C" fn itc_keypair_public_key(
    keypair: *const ItcKeypair,
    out_public_key: *mut u8,
) -> ItcStatus {
    with_handle!(keypair, {
        // SAFETY: the caller's contract above.
        unsafe {
            write_array(
                out_public_key,
                &keypair.keypair.public().0,
                "out_public_key",
            )
        }
    })
}

/// Sign `message` for `domain` (an [`ItcSigningDomain`] number) on chain
/// `chain_id`, writing [`ITC_SIGNATURE_LEN`] bytes into `out_signature`.
/// Signatures are deterministic.
///
/// # Safety
/// `keypair` must be a live key pair handle; `message` must point to
/// `message_len` readable bytes (it may be null if `message_len` is 0);
/// `out_signature` must point to [`ITC_SIGNATURE_LEN`] writable bytes.
///
/// Thread safety: may run concurrently with other reads of `keypair`.
#[no_mangle]
pub unsafe extern "C" fn itc_keypair_sign(
    keypair: *const ItcKeypair,
    domain: u32,
    chain_id: u32,
    message: *const u8,
    message_len: usize,
    out_signature: *mut u8,
) -> ItcStatus {
    with_handle!(keypair, {
        let domain = signing_domain(domain)?;
        // SAFETY: the caller's contract above.
        let message = unsafe { read_slice(message, message_len, "message")? };
        let signature = keypair.keypair.sign(domain, ChainId(chain_id), message);
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_signature, &signature.0, "out_signature") }
    })
}

/// Verify a signature strictly: `ITC_STATUS_OK` if `signature` is
/// `public_key`'s signature of `message` for `domain` on `chain_id`,
/// `ITC_STATUS_INVALID_SIGNATURE` if not, `ITC_STATUS_INVALID_PUBLIC_KEY` if
/// the key is not a valid curve point.
///
/// # Safety
/// `public_key` must point to [`ITC_PUBLIC_KEY_LEN`] readable bytes,
/// `signature` to [`ITC_SIGNATURE_LEN`], `message` to `message_len` (null
/// allowed if 0).
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_verify(
    public_key: *const u8,
    domain: u32,
    chain_id: u32,
    message: *const u8,
    message_len: usize,
    signature: *const u8,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let public_key = unsafe { read_array::<ITC_PUBLIC_KEY_LEN>(public_key, "public_key")? };
        // SAFETY: the caller's contract above.
        let signature = unsafe { read_array::<ITC_SIGNATURE_LEN>(signature, "signature")? };
        let domain = signing_domain(domain)?;
        // SAFETY: the caller's contract above.
        let message = unsafe { read_slice(message, message_len, "message")? };
        crate::facade::keys::verify(&public_key, domain, chain_id, message, &signature)
    })
}

/// Free a key pair handle, wiping its secret key (seed included) first.
/// Null is a no-op; a handle that is not a live key pair is refused with
/// `ITC_STATUS_INVALID_HANDLE` when detectable.
///
/// # Safety
/// `keypair` must be null or a handle from this library, not yet freed and
/// not in use by another thread.
///
/// Thread safety: must not run concurrently with any use of `keypair`.
#[no_mangle]
pub unsafe extern "C" fn itc_keypair_free(keypair: *mut ItcKeypair) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { super::release(keypair, "keypair") }
}
