//! Sealed payloads (HPKE, RFC 9180): sealing keys, seal, open, and the
//! device's binding signature over its sealing key.
//!
//! Suites are `ItcSealSuite` numbers (1 X25519, 2 X-Wing); a refusal is
//! `ITC_STATUS_SEAL_REFUSED` with the `ItcSealRefusal` code in
//! [`itc_last_error_reason`](super::itc_last_error_reason). Both enums are
//! the UniFFI bindings' `SealSuite` and `SealRefusal`: one definition.

use super::keys::{ItcKeypair, ITC_PUBLIC_KEY_LEN, ITC_SEED_LEN, ITC_SIGNATURE_LEN};
use super::{
    clear_handle_out, guard, read_array, read_slice, store_handle, write_array, write_buffer,
    write_value, Handle, ItcStatus,
};
use crate::api::seal::SealSuite;
use crate::error::ItcError;
use crate::facade::seal;
use itc_core::keys::PublicKey;
use itc_core::seal::SealSecretKey;
use itc_core::types::ChainId;
use zeroize::Zeroizing;

/// Length of a key id ([`itc_seal_key_id`]).
pub const ITC_SEAL_KEY_ID_LEN: usize = 8;
const _: () = assert!(ITC_SEAL_KEY_ID_LEN == itc_core::seal::KEY_ID_LEN);
/// Longest sealing public key of any suite (X-Wing's 1,216 bytes).
pub const ITC_SEAL_PUBLIC_KEY_MAX: usize = 1216;
const _: () = assert!(ITC_SEAL_PUBLIC_KEY_MAX == itc_core::seal::SEAL_PUBLIC_KEY_MAX);
/// Most recipients of one sealed payload.
pub const ITC_SEAL_RECIPIENTS_MAX: usize = 8;
const _: () = assert!(ITC_SEAL_RECIPIENTS_MAX == itc_core::seal::RECIPIENTS_MAX);

/// What a sealed payload is bound to: it opens only in the same context.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcSealContext {
    /// The chain.
    pub chain_id: u32,
    /// The device the data belongs to.
    pub device: [u8; ITC_PUBLIC_KEY_LEN],
    /// The position in the device's stream (for a DAG record: the
    /// transaction's sequence).
    pub sequence: u64,
}

impl ItcSealContext {
    fn to_core(self) -> itc_core::seal::SealContext {
        itc_core::seal::SealContext {
            chain_id: ChainId(self.chain_id),
            device: PublicKey(self.device),
            sequence: self.sequence,
        }
    }
}

/// Read a context argument.
///
/// # Safety
/// `ptr` must be null or point to a readable [`ItcSealContext`].
unsafe fn read_context(ptr: *const ItcSealContext) -> Result<ItcSealContext, ItcError> {
    if ptr.is_null() {
        return Err(ItcError::NullPointer {
            argument: "context".into(),
        });
    }
    // SAFETY: non-null and readable by the caller's contract.
    Ok(unsafe { ptr.read_unaligned() })
}

handle_type! {
    /// A recipient's sealing key pair (opaque, immutable; the secret is wiped
    /// when freed). Free with [`itc_seal_key_free`].
    pub struct ItcSealKey {
        key: SealSecretKey,
    }
    tag = b"itc:seal", kind = "seal key";
}

/// Derive the sealing key of rotation `key_seq` for `suite` (an
/// `ItcSealSuite` number) from a 32-byte secret seed (for example a
/// device's or an account's signing seed: one secret for both).
///
/// # Safety
/// `seed` must point to [`ITC_SEED_LEN`] readable bytes; `out` writable.
/// On success `*out` is a new handle to free with [`itc_seal_key_free`].
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_seal_key_derive(
    seed: *const u8,
    suite: u8,
    key_seq: u32,
    out: *mut *mut ItcSealKey,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        let suite = SealSuite::from_id(suite)?;
        // SAFETY: the caller's contract above.
        let seed = Zeroizing::new(unsafe { read_array::<ITC_SEED_LEN>(seed, "seed")? });
        let handle = ItcSealKey {
            magic: ItcSealKey::MAGIC,
            key: seal::derive_key(&*seed, suite, key_seq)?,
        };
        // SAFETY: the caller's contract above.
        unsafe { store_handle(out, handle) }
    })
}

/// The key's suite (an `ItcSealSuite` number).
///
/// # Safety
/// `key` must be a live handle; `out_suite` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_seal_key_suite(
    key: *const ItcSealKey,
    out_suite: *mut u8,
) -> ItcStatus {
    with_handle!(key, {
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_suite, key.key.suite().id(), "out_suite") }
    })
}

/// The public key to publish (32 bytes for X25519, 1,216 for X-Wing; at
/// most [`ITC_SEAL_PUBLIC_KEY_MAX`]), into a caller buffer.
///
/// # Safety
/// `key` must be a live handle; `out` null or `capacity` writable bytes;
/// `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_seal_key_public_key(
    key: *const ItcSealKey,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    with_handle!(key, {
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&key.key.public_key(), out, capacity, written) }
    })
}

/// The key id a sealed payload names its recipients by.
///
/// # Safety
/// `key` must be a live handle; `out_id` must point to
/// [`ITC_SEAL_KEY_ID_LEN`] writable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_seal_key_id(key: *const ItcSealKey, out_id: *mut u8) -> ItcStatus {
    with_handle!(key, {
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_id, &key.key.key_id(), "out_id") }
    })
}

/// Free a sealing key handle (its secret is wiped). Null is a no-op.
///
/// # Safety
/// `key` must be null or a live handle from this library.
///
/// Thread safety: must not run concurrently with any use of the handle.
#[no_mangle]
pub unsafe extern "C" fn itc_seal_key_free(key: *mut ItcSealKey) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { super::release(key, "key") }
}

/// Bytes a sealed payload of `plaintext_len` bytes to `recipient_count`
/// recipients takes: the capacity [`itc_seal`] needs. 0 for an unknown
/// suite.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn itc_sealed_len(suite: u8, recipient_count: usize, plaintext_len: usize) -> usize {
    SealSuite::from_id(suite).map_or(0, |suite| {
        seal::sealed_len(suite, recipient_count, plaintext_len)
    })
}

/// Seal `plaintext` in `context` to `recipient_count` (1..=8) public keys of
/// `suite` with the operating system's random generator, and write the
/// encoded sealed payload into a caller buffer: encrypted once, the content
/// key wrapped per recipient. Size the buffer with [`itc_sealed_len`] (a
/// too-small buffer wastes the sealing: call again).
///
/// `recipients[i]` points to `recipient_lens[i]` bytes (32 for X25519, 1,216
/// for X-Wing), for example a key proven with
/// [`itc_light_client_verify_seal_key`].
/// A refusal is `ITC_STATUS_SEAL_REFUSED` with an `ItcSealRefusal` code
/// (no recipients, too many, plaintext too long, invalid public key).
///
/// # Safety
/// `context` must point to a readable [`ItcSealContext`]; `recipients` and
/// `recipient_lens` to `recipient_count` readable entries, each
/// `recipients[i]` to `recipient_lens[i]` readable bytes; `plaintext` to
/// `plaintext_len`; `out` null or `capacity` writable bytes; `written`
/// writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_seal(
    suite: u8,
    context: *const ItcSealContext,
    recipients: *const *const u8,
    recipient_lens: *const usize,
    recipient_count: usize,
    plaintext: *const u8,
    plaintext_len: usize,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        let suite = SealSuite::from_id(suite)?;
        // SAFETY: the caller's contract above.
        let context = unsafe { read_context(context)? }.to_core();
        if recipient_count > ITC_SEAL_RECIPIENTS_MAX {
            return Err(itc_core::seal::SealError::TooManyRecipients(recipient_count).into());
        }
        let mut keys: Vec<&[u8]> = Vec::with_capacity(recipient_count);
        if recipient_count > 0 {
            if recipients.is_null() || recipient_lens.is_null() {
                return Err(ItcError::NullPointer {
                    argument: "recipients".into(),
                });
            }
            for i in 0..recipient_count {
                // SAFETY: `recipient_count` readable entries by the caller's
                // contract; each points to its length in readable bytes.
                let key = unsafe {
                    let ptr = recipients.add(i).read_unaligned();
                    let len = recipient_lens.add(i).read_unaligned();
                    if len > ITC_SEAL_PUBLIC_KEY_MAX {
                        return Err(ItcError::invalid_argument(format!(
                            "recipient {i}: public key of {len} bytes"
                        )));
                    }
                    read_slice(ptr, len, "recipients[i]")?
                };
                keys.push(key);
            }
        }
        // SAFETY: the caller's contract above.
        let plaintext = unsafe { read_slice(plaintext, plaintext_len, "plaintext")? };
        let sealed = seal::seal(suite, &context, &keys, plaintext)?;
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&sealed, out, capacity, written) }
    })
}

/// Open an encoded sealed payload with `key`, if it is bound to `expected`
/// (the chain, device and sequence the reader expects), writing the
/// plaintext into a caller buffer. Malformed bytes are
/// `ITC_STATUS_DECODE_FAILED`; a refusal is `ITC_STATUS_SEAL_REFUSED` with
/// an `ItcSealRefusal` code: context mismatch (moved to another chain,
/// device or position), suite mismatch, not a recipient, open failed
/// (altered, or the wrong key).
///
/// # Safety
/// `key` must be a live handle; `expected` must point to a readable
/// [`ItcSealContext`]; `sealed` to `sealed_len` readable bytes; `out` null
/// or `capacity` writable bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_seal_open(
    key: *const ItcSealKey,
    expected: *const ItcSealContext,
    sealed: *const u8,
    sealed_len: usize,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    with_handle!(key, {
        // SAFETY: the caller's contract above.
        let expected = unsafe { read_context(expected)? }.to_core();
        // SAFETY: the caller's contract above.
        let sealed = unsafe { read_slice(sealed, sealed_len, "sealed")? };
        let plaintext = Zeroizing::new(seal::open(&key.key, &expected, sealed)?);
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&plaintext, out, capacity, written) }
    })
}

/// The device's binding signature over its own sealing key (`suite`,
/// rotation `key_seq`, `public_key`) for chain `chain_id`, which its owner
/// puts into [`itc_transaction_new_publish_seal_key`](super::transaction::itc_transaction_new_publish_seal_key).
///
/// # Safety
/// `device` must be a live key pair handle; `public_key` must point to
/// `public_key_len` readable bytes; `out_signature` to
/// [`ITC_SIGNATURE_LEN`] writable bytes.
///
/// Thread safety: safe from any thread; `device` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_seal_key_binding_signature(
    device: *const ItcKeypair,
    chain_id: u32,
    suite: u8,
    key_seq: u32,
    public_key: *const u8,
    public_key_len: usize,
    out_signature: *mut u8,
) -> ItcStatus {
    with_handle!(device, {
        let suite = SealSuite::from_id(suite)?;
        // SAFETY: the caller's contract above.
        let public_key = unsafe { read_slice(public_key, public_key_len, "public_key")? };
        let signature: [u8; ITC_SIGNATURE_LEN] =
            seal::binding_signature(&device.keypair, chain_id, suite, key_seq, public_key)?;
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_signature, &signature, "out_signature") }
    })
}

/// A sealing key proven at a light client's trusted header.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcSealKeyRecord {
    /// False if the proof shows the subject published no key of the suite;
    /// the other fields are then zero.
    pub present: bool,
    /// The suite (an `ItcSealSuite` number).
    pub suite: u8,
    /// The rotation number (0 for the first key).
    pub key_seq: u32,
    /// The height of the block that published it.
    pub published_height: u64,
    /// Bytes of `public_key` in use (32 for X25519, 1,216 for X-Wing).
    pub public_key_len: usize,
    /// The public key to seal to, in the first `public_key_len` bytes.
    pub public_key: [u8; ITC_SEAL_PUBLIC_KEY_MAX],
}

/// Check a state proof of `subject`'s sealing key for `suite` against the
/// light client's trusted header (a proven absence is success with
/// `present = false`); seal to the key it returns, so a relay cannot
/// substitute its own. A proof that does not hold (or holds another suite's
/// record) is `ITC_STATUS_PROOF_REJECTED`.
///
/// # Safety
/// `light_client` must be a live handle; `subject` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes; `proof` to `proof_len`;
/// `out_record` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_verify_seal_key(
    light_client: *const super::light_client::ItcLightClient,
    subject: *const u8,
    suite: u8,
    proof: *const u8,
    proof_len: usize,
    out_record: *mut ItcSealKeyRecord,
) -> ItcStatus {
    with_handle!(client = light_client, {
        let suite = SealSuite::from_id(suite)?;
        // SAFETY: the caller's contract above (two reads).
        let (subject, proof) = unsafe {
            (
                read_array::<ITC_PUBLIC_KEY_LEN>(subject, "subject")?,
                read_slice(proof, proof_len, "proof")?,
            )
        };
        super::require_out(out_record, "out_record")?;
        let mut record = ItcSealKeyRecord {
            present: false,
            suite: 0,
            key_seq: 0,
            published_height: 0,
            public_key_len: 0,
            public_key: [0; ITC_SEAL_PUBLIC_KEY_MAX],
        };
        if let Some(info) = client
            .inner
            .verify_seal_key(subject.to_vec(), suite, proof.to_vec())?
        {
            let len = info.public_key.len().min(ITC_SEAL_PUBLIC_KEY_MAX);
            record.present = true;
            record.suite = info.suite as u8;
            record.key_seq = info.key_seq;
            record.published_height = info.published_height;
            record.public_key_len = len;
            record.public_key[..len].copy_from_slice(&info.public_key[..len]);
        }
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_record, record, "out_record") }
    })
}
