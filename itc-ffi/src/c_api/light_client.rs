//! The light client, the lamp's check and device commands.
//!
//! [`ItcLightClient`] and [`ItcLamp`] are internally locked: every function
//! may be called on the same handle from several threads at once (calls are
//! serialized), except the free function.

use super::keys::{ItcKeypair, ITC_HASH_LEN, ITC_PUBLIC_KEY_LEN, ITC_SIGNATURE_LEN};
use super::{
    clear_handle_out, guard, handle_ref, read_array, read_slice, require_out, store_handle,
    write_array, write_buffer, write_value, Handle, ItcStatus,
};
use crate::api::light_client::{
    Handled, Lamp, LampVerdict, LightClient, TrustOptions, UpdateVerdict,
};
use crate::facade::light_client as facade;
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
    /// For `ITC_UPDATE_OUTCOME_INVALID`: an `ItcInvalidReason` (the stable
    /// codes 1..=14; 14, a conflicting header, is fork evidence); otherwise 0.
    pub invalid_reason: u32,
}

/// Why an owner recovery was refused: the code
/// [`itc_last_error_reason`](super::itc_last_error_reason) gives after
/// `ITC_STATUS_RECOVERY_REJECTED`. Nothing changes on any of these.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItcRecoveryError {
    /// Not a recovery refusal.
    None = 0,
    /// The new header is for another chain.
    WrongChain = 1,
    /// The new header is not newer than the trusted header.
    NotNewer = 2,
    /// The new header's time is further ahead than the clock drift.
    HeaderFromFuture = 3,
    /// The new header is itself older than the trust period.
    HeaderTooOld = 4,
    /// The new header's certificate or validator set does not hold.
    Certificate = 5,
    /// The registration proof does not hold against the new header.
    BadProof = 6,
    /// The device never proved its owner (it handled no command with a
    /// registration proof): re-pair it instead.
    NoProvenOwner = 7,
    /// The new header shows another owner, or another ownership, than the
    /// one the device proved.
    OwnerChanged = 8,
    /// The owner's signature does not verify (or names another trusted
    /// header than the device's).
    BadSignature = 9,
}

impl ItcRecoveryError {
    /// The constant for a recovery refusal of itc-spv (`None` only for a
    /// variant newer than this build; every current one is listed).
    pub fn from_core(error: itc_spv::RecoveryError) -> Self {
        use itc_spv::RecoveryError as E;
        match error {
            E::WrongChain => Self::WrongChain,
            E::NotNewer => Self::NotNewer,
            E::HeaderFromFuture => Self::HeaderFromFuture,
            E::HeaderTooOld => Self::HeaderTooOld,
            E::Certificate(_) => Self::Certificate,
            E::BadProof => Self::BadProof,
            E::NoProvenOwner => Self::NoProvenOwner,
            E::OwnerChanged => Self::OwnerChanged,
            E::BadSignature => Self::BadSignature,
            _ => Self::None,
        }
    }
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

/// The lamp's decision on a command, and on the header update that came
/// with it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcLampVerdict {
    /// True if the command may run (the lamp has recorded the sender's time
    /// in its replay table: persist `itc_lamp_replay_table` before acting).
    pub allowed: bool,
    /// An `ItcDenyReason` number when refused, 0 when allowed.
    pub deny_reason: u32,
    /// True if an update came along; `update` is then its verdict.
    pub has_update: bool,
    /// The update's verdict (all zero when `has_update` is false). An
    /// invalid update with `ITC_INVALID_REASON_CONFLICTING_HEADER` is fork
    /// evidence: keep the update bytes and report them.
    pub update: ItcUpdateVerdict,
}

impl From<Handled> for ItcLampVerdict {
    fn from(handled: Handled) -> Self {
        let (allowed, deny_reason) = match handled.command {
            LampVerdict::Allowed => (true, 0),
            LampVerdict::Denied { code, .. } => (false, u32::from(code)),
        };
        ItcLampVerdict {
            allowed,
            deny_reason,
            has_update: handled.update.is_some(),
            update: handled.update.map_or(
                ItcUpdateVerdict {
                    outcome: 0,
                    invalid_reason: 0,
                },
                ItcUpdateVerdict::from,
            ),
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
    /// The device's ownership sequence when the grant was made.
    pub ownership_seq: u64,
    /// True if the grant authorises its grantee now: present, made by the
    /// device's current owner under its current ownership sequence (a grant
    /// made before the device changed hands stays dead, even if it comes
    /// back), and not expired at the trusted height.
    pub live: bool,
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
    /// The sender's clock in milliseconds since the Unix epoch (its replay
    /// counter: strictly rising per sender and device).
    pub time_ms: u64,
    /// The sender's signature.
    pub signature: [u8; ITC_SIGNATURE_LEN],
}

handle_type! {
    /// A light client: one trusted header and its validator set (opaque,
    /// internally locked). Free with [`itc_light_client_free`].
    pub struct ItcLightClient {
        pub(crate) inner: Arc<LightClient>,
    }
    tag = b"itc:lc\0\x01", kind = "light client";
}

handle_type! {
    /// A lamp: light client, device key, freshness bound and replay counter
    /// (opaque, internally locked). Free with [`itc_lamp_free`].
    pub struct ItcLamp {
        pub(crate) inner: Arc<Lamp>,
    }
    tag = b"itc:lamp", kind = "lamp";
}

fn options(trust_period_ms: u64, clock_drift_ms: u64) -> TrustOptions {
    TrustOptions {
        trust_period_ms,
        clock_drift_ms,
    }
}

/// Start a light client from a header whose hash the caller pinned out of
/// band (firmware image, QR code, ...) and the validator set that signed it
/// (both canonical bytes), at the caller's time `now_ms` (milliseconds since
/// the Unix epoch). `trust_period_ms` and `clock_drift_ms` are the caller's
/// policy (itc-spv's defaults: two weeks and ten seconds).
///
/// A refusal is `ITC_STATUS_BOOTSTRAP_REJECTED` and
/// [`itc_last_error_reason`](super::itc_last_error_reason) gives its
/// `ItcBootstrapError`; `ITC_BOOTSTRAP_ERROR_HEADER_TOO_OLD` means the
/// header is older than the trust period (its validators may have unbonded):
/// bootstrap from a recent header whose hash the owner's app supplies over
/// the pairing channel.
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
    now_ms: u64,
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
            now_ms,
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
    with_handle!(client = light_client, {
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
    with_handle!(client = light_client, {
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
    with_handle!(client = light_client, {
        require_out(out_verdict, "out_verdict")?;
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
    with_handle!(client = light_client, {
        // SAFETY: the caller's contract above.
        let proof = unsafe { read_slice(proof, proof_len, "proof")? };
        let hash: [u8; ITC_HASH_LEN] = crate::facade::array(
            &client.inner.verify_transaction(proof.to_vec())?,
            "transaction hash",
        )?;
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_transaction_hash, &hash, "out_transaction_hash") }
    })
}

/// Whether the grant of `device` to `grantee` authorises its grantee now,
/// from two state proofs at the trusted header: `device_proof` (the device's
/// registration: owner and ownership sequence) and `grant_proof` (the grant,
/// or its absence). `out_grant->present` says whether a grant record exists
/// (a proven absence, for a revoked grant, is success with `present =
/// false`); `out_grant->live` whether it counts now (see [`ItcGrant`]). A
/// proof that does not hold is `ITC_STATUS_PROOF_REJECTED`.
///
/// # Safety
/// `light_client` must be a live handle; `device` and `grantee` must point
/// to [`ITC_PUBLIC_KEY_LEN`] readable bytes; `device_proof` and
/// `grant_proof` to their lengths; `out_grant` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_verify_grant(
    light_client: *const ItcLightClient,
    device: *const u8,
    grantee: *const u8,
    device_proof: *const u8,
    device_proof_len: usize,
    grant_proof: *const u8,
    grant_proof_len: usize,
    out_grant: *mut ItcGrant,
) -> ItcStatus {
    with_handle!(client = light_client, {
        // SAFETY: the caller's contract above (four reads).
        let (device, grantee, device_proof, grant_proof) = unsafe {
            (
                read_array::<ITC_PUBLIC_KEY_LEN>(device, "device")?,
                read_array::<ITC_PUBLIC_KEY_LEN>(grantee, "grantee")?,
                read_slice(device_proof, device_proof_len, "device_proof")?,
                read_slice(grant_proof, grant_proof_len, "grant_proof")?,
            )
        };
        let status = client.inner.verify_grant(
            device.to_vec(),
            grantee.to_vec(),
            device_proof.to_vec(),
            grant_proof.to_vec(),
        )?;
        let grant = match &status.grant {
            Some(grant) => ItcGrant {
                present: true,
                permissions: grant.permissions,
                expiry_height: grant.expiry_height,
                granted_by: crate::facade::array(&grant.granted_by, "granted by")?,
                ownership_seq: grant.ownership_seq,
                live: status.live,
            },
            None => ItcGrant {
                present: false,
                permissions: 0,
                expiry_height: 0,
                granted_by: [0; ITC_PUBLIC_KEY_LEN],
                ownership_seq: 0,
                live: false,
            },
        };
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_grant, grant, "out_grant") }
    })
}

/// The trusted header (canonical bytes) into a caller buffer.
///
/// # Safety
/// `light_client` must be a live handle; `out` null or `capacity` writable
/// bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_light_client_header(
    light_client: *const ItcLightClient,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    with_handle!(client = light_client, {
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&client.inner.header(), out, capacity, written) }
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
    with_handle!(client = light_client, {
        let hash: [u8; ITC_HASH_LEN] = crate::facade::array(&client.inner.header_hash(), "hash")?;
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
    /// How many times the device changed hands (0 at registration).
    pub ownership_seq: u64,
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
    with_handle!(client = light_client, {
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
                owner: crate::facade::array(&info.owner, "owner")?,
                security_level: info.security_level,
                metadata_hash: crate::facade::array(&info.metadata_hash, "metadata hash")?,
                ownership_seq: info.ownership_seq,
            },
            None => ItcDeviceRecord {
                present: false,
                owner: [0; ITC_PUBLIC_KEY_LEN],
                security_level: 0,
                metadata_hash: [0; ITC_HASH_LEN],
                ownership_seq: 0,
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
    unsafe { super::release(light_client, "light_client") }
}

/// A lamp with key `device_public_key` that starts from `light_client`'s
/// current trusted state and trust options (copied; the light client stays
/// usable), obeys only while its trusted header is at most `freshness_ms`
/// old, refuses a command whose time is more than `command_window_ms` away
/// from its clock (30000 is the default), and starts with the replay table
/// `replay_table` (bytes saved from [`itc_lamp_replay_table`] before a
/// reboot; null and 0 for a new device). Malformed table bytes are
/// `ITC_STATUS_DECODE_FAILED`.
///
/// # Safety
/// `device_public_key` must point to [`ITC_PUBLIC_KEY_LEN`] readable bytes;
/// `light_client` must be a live handle; `replay_table` null (with length 0)
/// or `replay_table_len` readable bytes; `out` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_new(
    device_public_key: *const u8,
    freshness_ms: u64,
    command_window_ms: u64,
    light_client: *const ItcLightClient,
    replay_table: *const u8,
    replay_table_len: usize,
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
        // SAFETY: the caller's contract above.
        let replay = unsafe { read_slice(replay_table, replay_table_len, "replay_table")? };
        let inner = Lamp::new(
            device.to_vec(),
            freshness_ms,
            command_window_ms,
            client.inner.clone(),
            replay.to_vec(),
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
    with_handle!(lamp, {
        require_out(out_verdict, "out_verdict")?;
        // SAFETY: the caller's contract above.
        let update = unsafe { read_slice(update, update_len, "update")? };
        let verdict = lamp.inner.update(update.to_vec(), now_ms)?;
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_verdict, verdict.into(), "out_verdict") }
    })
}

/// The lamp's whole check of a command, in one call: adopt `update` if one
/// came along (null for none) and verifies, then check chain, device, a
/// non-empty action, the signature, the header, registration and grant
/// (current owner, current ownership, expiry, permissions), freshness, the
/// command window and the sender's replay state. A refusal is
/// `ITC_STATUS_OK` with `allowed = false` and a `deny_reason`; on `allowed`
/// the lamp records the sender's time. The call can change both the replay
/// table and the trusted state (an adopted header, the owner the lamp
/// proved, which [`itc_lamp_recover`] needs): persist
/// [`itc_lamp_replay_table`] *and* [`itc_lamp_trusted_state`] after every
/// call, before acting on an allowed command. The update's verdict is
/// reported in `has_update` / `update` (read `update` only when
/// `has_update` is true; a conflicting header is fork evidence). Malformed
/// bytes are `ITC_STATUS_DECODE_FAILED`; a null `out_verdict` is refused
/// before anything changes.
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
    with_handle!(lamp, {
        require_out(out_verdict, "out_verdict")?;
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

/// The lamp's replay table (the last accepted time of each of up to 32
/// senders, and a floor for the others) as versioned bytes, into a caller
/// buffer: persist it before acting on an allowed command, and pass it to
/// [`itc_lamp_new`] after a reboot.
///
/// # Safety
/// `lamp` must be a live handle; `out` null or `capacity` writable bytes;
/// `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_replay_table(
    lamp: *const ItcLamp,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    with_handle!(lamp, {
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&lamp.inner.replay_table(), out, capacity, written) }
    })
}

/// The last time the lamp accepted from `sender`: `*out_found` is false
/// (and `*out_time_ms` 0) when its replay table does not remember the
/// sender.
///
/// # Safety
/// `lamp` must be a live handle; `sender` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes; `out_found` and `out_time_ms`
/// writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_last_time(
    lamp: *const ItcLamp,
    sender: *const u8,
    out_found: *mut bool,
    out_time_ms: *mut u64,
) -> ItcStatus {
    with_handle!(lamp, {
        // SAFETY: the caller's contract above.
        let sender = unsafe { read_array::<ITC_PUBLIC_KEY_LEN>(sender, "sender")? };
        let last = lamp.inner.last_time_ms(sender.to_vec())?;
        if out_found.is_null() || out_time_ms.is_null() {
            return Err(crate::ItcError::NullPointer {
                argument: "out_found or out_time_ms".into(),
            });
        }
        // SAFETY: the caller's contract above (both checked non-null).
        unsafe {
            write_value(out_found, last.is_some(), "out_found")?;
            write_value(out_time_ms, last.unwrap_or(0), "out_time_ms")
        }
    })
}

/// Height of the lamp's trusted header.
///
/// # Safety
/// `lamp` must be a live handle; `out_height` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_height(lamp: *const ItcLamp, out_height: *mut u64) -> ItcStatus {
    with_handle!(lamp, {
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_height, lamp.inner.height(), "out_height") }
    })
}

/// The lamp's trusted header (canonical bytes) into a caller buffer: what
/// the owner's app signs a recovery against ([`itc_owner_recovery_sign`]).
///
/// # Safety
/// `lamp` must be a live handle; `out` null or `capacity` writable bytes;
/// `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_trusted_header(
    lamp: *const ItcLamp,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    with_handle!(lamp, {
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&lamp.inner.trusted_header(), out, capacity, written) }
    })
}

/// Adopt the header an owner recovery ([`itc_owner_recovery_sign`]) vouches
/// for: the way back for a lamp that went without headers for longer than
/// its trust period. A refusal is `ITC_STATUS_RECOVERY_REJECTED` with an
/// [`ItcRecoveryError`] from [`itc_last_error_reason`](super::itc_last_error_reason),
/// and nothing changes; malformed bytes are `ITC_STATUS_DECODE_FAILED`.
/// Persist [`itc_lamp_trusted_state`] afterwards.
///
/// # Safety
/// `lamp` must be a live handle; `recovery` must point to `recovery_len`
/// readable bytes.
///
/// Thread safety: safe from any thread (serialized internally).
#[no_mangle]
pub unsafe extern "C" fn itc_lamp_recover(
    lamp: *const ItcLamp,
    recovery: *const u8,
    recovery_len: usize,
    now_ms: u64,
) -> ItcStatus {
    with_handle!(lamp, {
        // SAFETY: the caller's contract above.
        let recovery = unsafe { read_slice(recovery, recovery_len, "recovery")? };
        lamp.inner.recover(recovery.to_vec(), now_ms)
    })
}

/// The owner's side of a recovery: sign, with `owner`, a recent certified
/// header for `device`, whose current trusted header is `trusted_header`
/// (the device reports it: [`itc_lamp_trusted_header`]). `update` is a
/// recent header update carrying its validator set; `device_proof` is the
/// device's registration proof at the new header (a dev chain gives it:
/// `itc_dev_chain_device_proof`). The device checks the signer against the
/// owner it proved itself from the commands it handled.
/// The encoded recovery goes into a caller buffer, for [`itc_lamp_recover`].
///
/// # Safety
/// `owner` must be a live key pair handle; `device` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes; each byte input to its length;
/// `out` null or `capacity` writable bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_owner_recovery_sign(
    owner: *const ItcKeypair,
    device: *const u8,
    trusted_header: *const u8,
    trusted_header_len: usize,
    update: *const u8,
    update_len: usize,
    device_proof: *const u8,
    device_proof_len: usize,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    with_handle!(owner, {
        // SAFETY: the caller's contract above (four reads).
        let (device, trusted_header, update, device_proof) = unsafe {
            (
                read_array::<ITC_PUBLIC_KEY_LEN>(device, "device")?,
                read_slice(trusted_header, trusted_header_len, "trusted_header")?,
                read_slice(update, update_len, "update")?,
                read_slice(device_proof, device_proof_len, "device_proof")?,
            )
        };
        let bytes = facade::sign_owner_recovery(
            &owner.keypair,
            &device,
            trusted_header,
            update,
            device_proof,
        )?;
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&bytes, out, capacity, written) }
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
    with_handle!(lamp, {
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
    unsafe { super::release(lamp, "lamp") }
}

/// Sign a command for `device` (the sender's side: the owner or a guest).
/// What the sender puts in it: `action`, the permission bits it needs (2 =
/// switch; at least one, or the lamp refuses it with
/// `ITC_DENY_REASON_EMPTY_ACTION`), and `time_ms`, the sender's clock in
/// milliseconds since the Unix epoch, strictly greater than in this
/// sender's previous command to this device (twice within one millisecond:
/// the last time plus one). The lamp refuses a time more than its command
/// window away from its own clock, in either direction
/// (`ITC_DENY_REASON_COMMAND_TOO_OLD`, `..._COMMAND_FROM_FUTURE`), and a time
/// not above the last one it accepted from this sender
/// (`ITC_DENY_REASON_REPLAYED`); each sender has its own replay state. The
/// canonical bytes go into a caller buffer.
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
    time_ms: u64,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    with_handle!(grantee, {
        // SAFETY: the caller's contract above.
        let device = unsafe { read_array::<ITC_PUBLIC_KEY_LEN>(device, "device")? };
        let bytes = facade::sign_command(&grantee.keypair, chain_id, &device, action, time_ms)?;
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
            time_ms: command.time_ms,
            signature: command.signature.0,
        };
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_fields, fields, "out_fields") }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_the_c_constants() {
        use crate::error::recovery_error_code;
        use itc_spv::{InvalidReason, RecoveryError as R};
        let recovery = [
            (R::WrongChain, ItcRecoveryError::WrongChain),
            (R::NotNewer, ItcRecoveryError::NotNewer),
            (R::HeaderFromFuture, ItcRecoveryError::HeaderFromFuture),
            (R::HeaderTooOld, ItcRecoveryError::HeaderTooOld),
            (
                R::Certificate(InvalidReason::NotEnoughSignatures),
                ItcRecoveryError::Certificate,
            ),
            (R::BadProof, ItcRecoveryError::BadProof),
            (R::NoProvenOwner, ItcRecoveryError::NoProvenOwner),
            (R::OwnerChanged, ItcRecoveryError::OwnerChanged),
            (R::BadSignature, ItcRecoveryError::BadSignature),
        ];
        for (error, c) in recovery {
            assert_eq!(recovery_error_code(error), c as u32, "{error:?}");
        }
    }
}
