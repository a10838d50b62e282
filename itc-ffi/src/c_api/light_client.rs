//! The light client, the lamp's check and device commands.
//!
//! [`ItcLightClient`] and [`ItcLamp`] are internally locked: every function
//! may be called on the same handle from several threads at once (calls are
//! serialized), except the free function.

use super::keys::{ItcKeypair, ITC_HASH_LEN, ITC_PUBLIC_KEY_LEN, ITC_SIGNATURE_LEN};
use super::{
    clear_handle_out, free_handle, guard, handle_ref, read_array, read_slice, store_handle,
    write_array, write_buffer, write_value, Handle, ItcStatus,
};
use crate::api::keys::Keypair;
use crate::api::light_client::{
    sign_command, Lamp, LampVerdict, LightClient, TrustOptions, UpdateVerdict,
};
use itc_core::encoding::Decode;
use itc_spv::SignedCommand;
use std::sync::Arc;

/// Outcome of a header update (the `outcome` field of [`ItcUpdateVerdict`]).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItcUpdateOutcome {
    /// The header is now trusted.
    Success = 0,
    /// Not enough trusted validators signed: verify a header halfway (bisect)
    /// and retry.
    NotEnoughTrust = 1,
    /// The update is invalid; see `invalid_reason`.
    Invalid = 2,
}

/// The verdict on a header update.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcUpdateVerdict {
    /// An [`ItcUpdateOutcome`] number.
    pub outcome: u32,
    /// For `ITC_UPDATE_OUTCOME_INVALID`: the stable reason code (1 wrong
    /// chain, 2 non-increasing height, 3 time goes backwards, 4 header from
    /// the future, 5 trusted state expired, 6 certificate mismatch, 7
    /// previous hash mismatch, 8 unexpected validator set, 9 validator set
    /// mismatch, 10 missing validator set, 11 invalid signature, 12 not
    /// enough signatures, 13 malformed certificate); otherwise 0.
    pub invalid_reason: u32,
}

impl From<UpdateVerdict> for ItcUpdateVerdict {
    fn from(verdict: UpdateVerdict) -> Self {
        let (outcome, invalid_reason) = match verdict {
            UpdateVerdict::Success => (ItcUpdateOutcome::Success, 0),
            UpdateVerdict::NotEnoughTrust => (ItcUpdateOutcome::NotEnoughTrust, 0),
            UpdateVerdict::Invalid { code, .. } => (ItcUpdateOutcome::Invalid, u32::from(code)),
        };
        ItcUpdateVerdict {
            outcome: outcome as u32,
            invalid_reason,
        }
    }
}

/// Why the lamp refused a command (the `deny_reason` of [`ItcLampVerdict`]).
/// The numbers are itc-spv's stable `DenyReason::code`s.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItcDenyReason {
    /// Not denied.
    None = 0,
    /// The command is for another chain.
    WrongChain = 1,
    /// The command is for another device.
    WrongDevice = 2,
    /// The proofs are against an old header, or the lamp's header is too old.
    StaleHeader = 3,
    /// The proofs are against a header the lamp has not verified.
    UnknownHeader = 4,
    /// The counter is not above the last accepted one (a replay).
    ReplayedCounter = 5,
    /// The sender's signature does not verify (forged or altered).
    BadSignature = 6,
    /// A proof does not hold against the trusted header.
    BadProof = 7,
    /// The device is unregistered or the grant's maker no longer owns it.
    NotGranted = 8,
    /// The state proves there is no grant (revoked or never made).
    Revoked = 9,
    /// The grant has expired.
    Expired = 10,
    /// The grant lacks a permission the action needs.
    InsufficientPermission = 11,
    /// The counter is further ahead of the lamp's clock than the allowed
    /// drift (it would lock other senders out).
    CounterFromFuture = 12,
}

/// The lamp's decision on a command.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcLampVerdict {
    /// True if the command may run (the lamp has remembered its counter).
    pub allowed: bool,
    /// An [`ItcDenyReason`] number when refused, 0 when allowed.
    pub deny_reason: u32,
    /// The accepted counter when allowed, 0 when refused.
    pub new_counter: u64,
}

impl From<LampVerdict> for ItcLampVerdict {
    fn from(verdict: LampVerdict) -> Self {
        match verdict {
            LampVerdict::Allowed { new_counter } => ItcLampVerdict {
                allowed: true,
                deny_reason: 0,
                new_counter,
            },
            LampVerdict::Denied { code, .. } => ItcLampVerdict {
                allowed: false,
                deny_reason: u32::from(code),
                new_counter: 0,
            },
        }
    }
}

/// A grant as proven against the trusted header.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcGrant {
    /// False if the proof shows there is no grant (never made or revoked);
    /// the other fields are then zero.
    pub present: bool,
    /// Permission bits.
    pub permissions: u32,
    /// First height at which the grant no longer holds.
    pub expiry_height: u64,
    /// The owner who made it.
    pub granted_by: [u8; ITC_PUBLIC_KEY_LEN],
}

/// The fields of a signed device command.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcCommandFields {
    /// Network.
    pub chain_id: u32,
    /// The device that is to act.
    pub device: [u8; ITC_PUBLIC_KEY_LEN],
    /// The sender (owner or grantee).
    pub grantee: [u8; ITC_PUBLIC_KEY_LEN],
    /// Permission bits the action needs.
    pub action: u32,
    /// Replay counter.
    pub counter: u64,
    /// The sender's signature.
    pub signature: [u8; ITC_SIGNATURE_LEN],
}

/// A light client: one trusted header and its validator set (opaque,
/// internally locked). Free with [`itc_light_client_free`].
#[repr(C)]
pub struct ItcLightClient {
    magic: u64,
    pub(crate) inner: Arc<LightClient>,
}

// SAFETY: `#[repr(C)]` with the tag first.
unsafe impl Handle for ItcLightClient {
    const MAGIC: u64 = u64::from_le_bytes(*b"itc:lc\0\x01");
    const KIND: &'static str = "light client";
}

/// A lamp: light client, device key, freshness bound and replay counter
/// (opaque, internally locked). Free with [`itc_lamp_free`].
#[repr(C)]
pub struct ItcLamp {
    magic: u64,
    inner: Arc<Lamp>,
}

// SAFETY: `#[repr(C)]` with the tag first.
unsafe impl Handle for ItcLamp {
    const MAGIC: u64 = u64::from_le_bytes(*b"itc:lamp");
    const KIND: &'static str = "lamp";
}

fn options(trust_period_ms: u64, clock_drift_ms: u64) -> TrustOptions {
    TrustOptions {
        trust_period_ms,
        clock_drift_ms,
    }
}

/// Start a light client from a header whose hash the caller pinned out of
/// band (firmware image, QR code, ...) and the validator set that signed it
/// (both canonical bytes). `trust_period_ms` and `clock_drift_ms` are the
/// caller's policy (itc-spv's defaults: two weeks and ten seconds).
///
/// # Safety
/// `header`/`validators` must point to `header_len`/`validators_len`
/// readable bytes, `pinned_hash` to [`ITC_HASH_LEN`]; `out` must be writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_bootstrap(
    header: *const u8,
    header_len: usize,
    validators: *const u8,
    validators_len: usize,
    pinned_hash: *const u8,
    trust_period_ms: u64,
    clock_drift_ms: u64,
    out: *mut *mut ItcLightClient,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        // SAFETY: the caller's contract above (three reads).
        let (header, validators, pinned) = unsafe {
            (
                read_slice(header, header_len, "header")?,
                read_slice(validators, validators_len, "validators")?,
                read_array::<ITC_HASH_LEN>(pinned_hash, "pinned_hash")?,
            )
        };
        let inner = LightClient::bootstrap(
            header.to_vec(),
            validators.to_vec(),
            pinned.to_vec(),
            options(trust_period_ms, clock_drift_ms),
        )?;
        let handle = ItcLightClient {
            magic: ItcLightClient::MAGIC,
            inner,
        };
        // SAFETY: the caller's contract above.
        unsafe { store_handle(out, handle) }
    })
}

/// Load a light client from bytes saved with [`itc_light_client_save`].
///
/// # Safety
/// `state` must point to `state_len` readable bytes; `out` must be writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_load(
    state: *const u8,
    state_len: usize,
    trust_period_ms: u64,
    clock_drift_ms: u64,
    out: *mut *mut ItcLightClient,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        // SAFETY: the caller's contract above.
        let state = unsafe { read_slice(state, state_len, "state")? };
        let inner = LightClient::load(state.to_vec(), options(trust_period_ms, clock_drift_ms))?;
        let handle = ItcLightClient {
            magic: ItcLightClient::MAGIC,
            inner,
        };
        // SAFETY: the caller's contract above.
        unsafe { store_handle(out, handle) }
    })
}

/// Save the trusted state (versioned bytes for flash) into a caller buffer
/// (see the buffer convention in the header's introduction).
///
/// # Safety
/// `light_client` must be a live handle; `out` null or `capacity` writable
/// bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_save(
    light_client: *const ItcLightClient,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let client = unsafe { handle_ref(light_client, "light_client")? };
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&client.inner.save(), out, capacity, written) }
    })
}

/// The trusted header's height.
///
/// # Safety
/// `light_client` must be a live handle; `out_height` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_height(
    light_client: *const ItcLightClient,
    out_height: *mut u64,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let client = unsafe { handle_ref(light_client, "light_client")? };
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_height, client.inner.height(), "out_height") }
    })
}

/// Verify a header update (header, commit certificate, optional validator
/// set, canonical bytes) and trust the header on success. Verification
/// failures are verdicts (`ITC_STATUS_OK` with `outcome != SUCCESS`), not
/// error statuses; malformed bytes are `ITC_STATUS_DECODE_FAILED`.
///
/// # Safety
/// `light_client` must be a live handle; `update` must point to `update_len`
/// readable bytes; `out_verdict` writable.
///
/// Thread safety: safe from any thread (serialized internally).
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_update(
    light_client: *const ItcLightClient,
    update: *const u8,
    update_len: usize,
    now_ms: u64,
    out_verdict: *mut ItcUpdateVerdict,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let client = unsafe { handle_ref(light_client, "light_client")? };
        // SAFETY: the caller's contract above.
        let update = unsafe { read_slice(update, update_len, "update")? };
        let verdict = client.inner.update(update.to_vec(), now_ms)?;
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_verdict, verdict.into(), "out_verdict") }
    })
}

/// Check a transaction inclusion proof (transaction plus Merkle path)
/// against the trusted header; on success write the transaction's hash.
/// A proof that does not hold is `ITC_STATUS_PROOF_REJECTED`.
///
/// # Safety
/// `light_client` must be a live handle; `proof` must point to `proof_len`
/// readable bytes; `out_transaction_hash` to [`ITC_HASH_LEN`] writable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_verify_transaction(
    light_client: *const ItcLightClient,
    proof: *const u8,
    proof_len: usize,
    out_transaction_hash: *mut u8,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let client = unsafe { handle_ref(light_client, "light_client")? };
        // SAFETY: the caller's contract above.
        let proof = unsafe { read_slice(proof, proof_len, "proof")? };
        let hash: [u8; ITC_HASH_LEN] = crate::api::array(
            &client.inner.verify_transaction(proof.to_vec())?,
            "transaction hash",
        )?;
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_transaction_hash, &hash, "out_transaction_hash") }
    })
}

/// Check a state proof of the grant of `device` to `grantee` against the
/// trusted header: `out_grant->present` says whether the grant exists (a
/// proven absence, for a revoked grant, is success with `present = false`).
/// A proof that does not hold is `ITC_STATUS_PROOF_REJECTED`.
///
/// # Safety
/// `light_client` must be a live handle; `device` and `grantee` must point
/// to [`ITC_PUBLIC_KEY_LEN`] readable bytes; `proof` to `proof_len`;
/// `out_grant` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_verify_grant(
    light_client: *const ItcLightClient,
    device: *const u8,
    grantee: *const u8,
    proof: *const u8,
    proof_len: usize,
    out_grant: *mut ItcGrant,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let client = unsafe { handle_ref(light_client, "light_client")? };
        // SAFETY: the caller's contract above (three reads).
        let (device, grantee, proof) = unsafe {
            (
                read_array::<ITC_PUBLIC_KEY_LEN>(device, "device")?,
                read_array::<ITC_PUBLIC_KEY_LEN>(grantee, "grantee")?,
                read_slice(proof, proof_len, "proof")?,
            )
        };
        let grant = client
            .inner
            .verify_grant(device.to_vec(), grantee.to_vec(), proof.to_vec())?;
        let grant = match grant {
            Some(grant) => ItcGrant {
                present: true,
                permissions: grant.permissions,
                expiry_height: grant.expiry_height,
                granted_by: crate::api::array(&grant.granted_by, "granted by")?,
            },
            None => ItcGrant {
                present: false,
                permissions: 0,
                expiry_height: 0,
                granted_by: [0; ITC_PUBLIC_KEY_LEN],
            },
        };
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_grant, grant, "out_grant") }
    })
}

/// Hash of the trusted header ([`ITC_HASH_LEN`] bytes).
///
/// # Safety
/// `light_client` must be a live handle; `out_hash` must point to
/// [`ITC_HASH_LEN`] writable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_header_hash(
    light_client: *const ItcLightClient,
    out_hash: *mut u8,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let client = unsafe { handle_ref(light_client, "light_client")? };
        let hash: [u8; ITC_HASH_LEN] = crate::api::array(&client.inner.header_hash(), "hash")?;
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_hash, &hash, "out_hash") }
    })
}

/// A device registration as proven against the trusted header.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcDeviceRecord {
    /// False if the proof shows the device is not registered; the other
    /// fields are then zero.
    pub present: bool,
    /// Current owner.
    pub owner: [u8; ITC_PUBLIC_KEY_LEN],
    /// Security level, 0..=3.
    pub security_level: u8,
    /// Hash of off-chain metadata.
    pub metadata_hash: [u8; ITC_HASH_LEN],
}

/// Check a state proof of `device`'s registration against the trusted
/// header (a proven absence is success with `present = false`). A proof
/// that does not hold is `ITC_STATUS_PROOF_REJECTED`.
///
/// # Safety
/// `light_client` must be a live handle; `device` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes; `proof` to `proof_len`;
/// `out_record` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_verify_device(
    light_client: *const ItcLightClient,
    device: *const u8,
    proof: *const u8,
    proof_len: usize,
    out_record: *mut ItcDeviceRecord,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let client = unsafe { handle_ref(light_client, "light_client")? };
        // SAFETY: the caller's contract above (two reads).
        let (device, proof) = unsafe {
            (
                read_array::<ITC_PUBLIC_KEY_LEN>(device, "device")?,
                read_slice(proof, proof_len, "proof")?,
            )
        };
        let record = match client
            .inner
            .verify_device(device.to_vec(), proof.to_vec())?
        {
            Some(info) => ItcDeviceRecord {
                present: true,
                owner: crate::api::array(&info.owner, "owner")?,
                security_level: info.security_level,
                metadata_hash: crate::api::array(&info.metadata_hash, "metadata hash")?,
            },
            None => ItcDeviceRecord {
                present: false,
                owner: [0; ITC_PUBLIC_KEY_LEN],
                security_level: 0,
                metadata_hash: [0; ITC_HASH_LEN],
            },
        };
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_record, record, "out_record") }
    })
}

/// Free a light client handle. Null is a no-op.
///
/// # Safety
/// `light_client` must be null or a live handle from this library.
///
/// Thread safety: must not run concurrently with any use of the handle.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_free(light_client: *mut ItcLightClient) -> ItcStatus {
    // SAFETY: the caller's contract above.
    guard(|| unsafe { free_handle(light_client, "light_client") })
}

/// A lamp with key `device_public_key` that starts from `light_client`'s
/// current trusted state (copied; the light client stays usable), obeys only
/// while its trusted header is at most `freshness_ms` old, and has accepted
/// counters up to `last_counter` (0 for none; restore it after a reboot).
///
/// # Safety
/// `device_public_key` must point to [`ITC_PUBLIC_KEY_LEN`] readable bytes;
/// `light_client` must be a live handle; `out` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_new(
    device_public_key: *const u8,
    freshness_ms: u64,
    light_client: *const ItcLightClient,
    last_counter: u64,
    out: *mut *mut ItcLamp,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        // SAFETY: the caller's contract above.
        let device =
            unsafe { read_array::<ITC_PUBLIC_KEY_LEN>(device_public_key, "device_public_key")? };
        // SAFETY: the caller's contract above.
        let client = unsafe { handle_ref(light_client, "light_client")? };
        let inner = Lamp::new(
            device.to_vec(),
            freshness_ms,
            client.inner.clone(),
            last_counter,
        )?;
        // SAFETY: the caller's contract above.
        unsafe {
            store_handle(
                out,
                ItcLamp {
                    magic: ItcLamp::MAGIC,
                    inner,
                },
            )
        }
    })
}

/// Adopt a newer header if it verifies (see [`itc_light_client_update`]).
///
/// # Safety
/// `lamp` must be a live handle; `update` must point to `update_len`
/// readable bytes; `out_verdict` writable.
///
/// Thread safety: safe from any thread (serialized internally).
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_update(
    lamp: *const ItcLamp,
    update: *const u8,
    update_len: usize,
    now_ms: u64,
    out_verdict: *mut ItcUpdateVerdict,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let lamp = unsafe { handle_ref(lamp, "lamp")? };
        // SAFETY: the caller's contract above.
        let update = unsafe { read_slice(update, update_len, "update")? };
        let verdict = lamp.inner.update(update.to_vec(), now_ms)?;
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_verdict, verdict.into(), "out_verdict") }
    })
}

/// The lamp's whole check of a command, in one call: adopt `update` if one
/// came along (null for none) and verifies, then check chain, device,
/// header, freshness, replay counter, signature, registration and grant.
/// A refusal is `ITC_STATUS_OK` with `allowed = false` and a
/// `deny_reason`; on `allowed` the lamp remembers the counter (persist
/// [`itc_lamp_last_counter`] before acting). Malformed bytes are
/// `ITC_STATUS_DECODE_FAILED`.
///
/// # Safety
/// `lamp` must be a live handle; `update` null or `update_len` readable
/// bytes; `command` and `proof` readable for their lengths; `out_verdict`
/// writable.
///
/// Thread safety: safe from any thread (serialized internally).
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_handle(
    lamp: *const ItcLamp,
    now_ms: u64,
    update: *const u8,
    update_len: usize,
    command: *const u8,
    command_len: usize,
    proof: *const u8,
    proof_len: usize,
    out_verdict: *mut ItcLampVerdict,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let lamp = unsafe { handle_ref(lamp, "lamp")? };
        let update = if update.is_null() {
            None
        } else {
            // SAFETY: the caller's contract above.
            Some(unsafe { read_slice(update, update_len, "update")? }.to_vec())
        };
        // SAFETY: the caller's contract above (two reads).
        let (command, proof) = unsafe {
            (
                read_slice(command, command_len, "command")?,
                read_slice(proof, proof_len, "proof")?,
            )
        };
        let verdict = lamp
            .inner
            .handle(now_ms, update, command.to_vec(), proof.to_vec())?;
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_verdict, verdict.into(), "out_verdict") }
    })
}

/// The last accepted command counter (persist it with the trusted state).
///
/// # Safety
/// `lamp` must be a live handle; `out_counter` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_last_counter(
    lamp: *const ItcLamp,
    out_counter: *mut u64,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let lamp = unsafe { handle_ref(lamp, "lamp")? };
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_counter, lamp.inner.last_counter(), "out_counter") }
    })
}

/// The lamp's trusted state as versioned bytes (for flash), into a caller
/// buffer; [`itc_light_client_load`] reads it back.
///
/// # Safety
/// `lamp` must be a live handle; `out` null or `capacity` writable bytes;
/// `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_trusted_state(
    lamp: *const ItcLamp,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let lamp = unsafe { handle_ref(lamp, "lamp")? };
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&lamp.inner.trusted_state(), out, capacity, written) }
    })
}

/// Free a lamp handle. Null is a no-op.
///
/// # Safety
/// `lamp` must be null or a live handle from this library.
///
/// Thread safety: must not run concurrently with any use of the handle.
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_free(lamp: *mut ItcLamp) -> ItcStatus {
    // SAFETY: the caller's contract above.
    guard(|| unsafe { free_handle(lamp, "lamp") })
}

/// Sign a command for `device` (the guest's side): `action` holds the
/// permission bits it needs (2 = switch), `counter` must rise with every
/// command. The canonical bytes go into a caller buffer.
///
/// # Safety
/// `grantee` must be a live key pair handle; `device` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes; `out` null or `capacity` writable
/// bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_command_sign(
    grantee: *const ItcKeypair,
    chain_id: u32,
    device: *const u8,
    action: u32,
    counter: u64,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let grantee = unsafe { handle_ref(grantee, "grantee")? };
        // SAFETY: the caller's contract above.
        let device = unsafe { read_array::<ITC_PUBLIC_KEY_LEN>(device, "device")? };
        let keypair = Arc::new(Keypair {
            inner: grantee.keypair.clone(),
        });
        let bytes = sign_command(keypair, chain_id, device.to_vec(), action, counter)?;
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&bytes, out, capacity, written) }
    })
}

/// Decode a command's canonical bytes (strict) into `*out_fields`. The
/// signature is not checked here; [`itc_lamp_handle`] checks everything.
///
/// # Safety
/// `bytes` must point to `len` readable bytes; `out_fields` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_command_decode(
    bytes: *const u8,
    len: usize,
    out_fields: *mut ItcCommandFields,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let bytes = unsafe { read_slice(bytes, len, "bytes")? };
        let command = SignedCommand::decode(bytes)?;
        let fields = ItcCommandFields {
            chain_id: command.chain_id.0,
            device: command.device.0,
            grantee: command.grantee.0,
            action: command.action.0,
            counter: command.counter,
            signature: command.signature.0,
        };
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_fields, fields, "out_fields") }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_spv::DenyReason as Spv;

    #[test]
    fn deny_reason_numbers_are_itc_spv_codes() {
        let pairs = [
            (ItcDenyReason::WrongChain, Spv::WrongChain),
            (ItcDenyReason::WrongDevice, Spv::WrongDevice),
            (ItcDenyReason::StaleHeader, Spv::StaleHeader),
            (ItcDenyReason::UnknownHeader, Spv::UnknownHeader),
            (ItcDenyReason::ReplayedCounter, Spv::ReplayedCounter),
            (ItcDenyReason::BadSignature, Spv::BadSignature),
            (ItcDenyReason::BadProof, Spv::BadProof),
            (ItcDenyReason::NotGranted, Spv::NotGranted),
            (ItcDenyReason::Revoked, Spv::Revoked),
            (ItcDenyReason::Expired, Spv::Expired),
            (
                ItcDenyReason::InsufficientPermission,
                Spv::InsufficientPermission,
            ),
            (ItcDenyReason::CounterFromFuture, Spv::CounterFromFuture),
        ];
        for (ours, theirs) in pairs {
            assert_eq!(ours as u32, u32::from(theirs.code()), "{theirs:?}");
        }
    }
}
