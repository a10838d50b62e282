//! The C ABI: opaque handles, explicit free functions, stable status codes.
//!
//! Conventions shared by every `itc_*` function:
//!
//! * Every fallible function returns an [`ItcStatus`]; `ITC_STATUS_OK` (0) is
//!   success. On failure, [`itc_last_error_message`] describes what went
//!   wrong, and output arguments are left untouched, except that output
//!   handles are set to null.
//! * Fixed-size inputs and outputs (keys, seeds, hashes, signatures) are
//!   pointers to exactly `ITC_*_LEN` bytes.
//! * Variable-size outputs use a caller buffer: `out`, `capacity` and
//!   `written`. If the buffer is too small the call returns
//!   `ITC_STATUS_BUFFER_TOO_SMALL` and stores the needed size in `*written`;
//!   pass `out = NULL, capacity = 0` to ask for the size.
//! * Handles (`ItcKeypair *`, `ItcTransaction *`, ...) are created by the
//!   library and freed by the matching `itc_*_free`, exactly once. Null
//!   pointers are refused with `ITC_STATUS_NULL_POINTER`; a pointer that is
//!   not a handle of the expected kind is refused with
//!   `ITC_STATUS_INVALID_HANDLE` when the library can tell (each handle
//!   starts with a per-kind tag that the free function erases), which
//!   catches wrong-kind handles and many double frees, but not every misuse.
//! * No Rust panic crosses the boundary: a panic becomes
//!   `ITC_STATUS_INTERNAL`.
//! * Thread safety: immutable handles ([`keys::ItcKeypair`], [`transaction::ItcTransaction`])
//!   may be used from several threads at once, but not freed while in use.
//!   Each function states its own rule.

/// Declare an opaque handle type: `#[repr(C)]`, a private `magic` tag
/// first (so a pointer of any kind can be checked), then the payload
/// field, and its [`Handle`] impl with the tag and kind name. Every handle
/// of the C ABI is declared through this one macro.
macro_rules! handle_type {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $field_vis:vis $field:ident: $type:ty $(,)?
        }
        tag = $tag:literal, kind = $kind:literal;
    ) => {
        $(#[$meta])*
        #[repr(C)]
        pub struct $name {
            magic: u64,
            $field_vis $field: $type,
        }

        // SAFETY: `#[repr(C)]` with the `u64` tag first.
        unsafe impl $crate::c_api::Handle for $name {
            const MAGIC: u64 = u64::from_le_bytes(*$tag);
            const KIND: &'static str = $kind;
        }
    };
}

/// The body of an `itc_*` function whose first argument is a handle: run
/// `$body` with `$handle` borrowed after the null and kind checks, inside
/// [`guard`] (errors and panics become a status and the thread's last
/// error). Must be used inside an `unsafe fn` whose contract says `$handle`
/// is null or a live handle of its kind.
macro_rules! with_handle {
    ($handle:ident, $body:block) => {
        with_handle!($handle = $handle, $body)
    };
    ($binding:ident = $handle:ident, $body:block) => {
        $crate::c_api::guard(|| {
            // SAFETY: the exported function's contract: `$handle` is null
            // or a live handle (null and wrong kinds are refused).
            let $binding = unsafe { $crate::c_api::handle_ref($handle, stringify!($handle))? };
            $body
        })
    };
}

/// Free a handle of any kind (null is a no-op), as a status.
///
/// # Safety
/// `ptr` must be null or a handle returned by this library that has not
/// been freed, and not in use on another thread.
pub(crate) unsafe fn release<H: Handle>(ptr: *mut H, argument: &'static str) -> ItcStatus {
    // SAFETY: forwarded contract.
    guard(|| unsafe { free_handle(ptr, argument) })
}

pub mod chaincode;
pub mod dag;
pub mod dev_chain;
pub mod firmware;
pub mod keys;
pub mod light_client;
pub mod seal;
pub mod transaction;

use crate::error::ItcError;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Status code returned by every fallible `itc_*` function.
///
/// The numbers are stable: new codes may be added, existing ones never
/// change meaning.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItcStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was null.
    NullPointer = 1,
    /// A handle argument is not a live handle of the expected kind.
    InvalidHandle = 2,
    /// An argument has a value outside its domain.
    InvalidArgument = 3,
    /// The output buffer is too small; `*written` holds the size needed.
    BufferTooSmall = 4,
    /// Input bytes are not a canonical encoding of the expected value.
    DecodeFailed = 5,
    /// A signature does not verify.
    InvalidSignature = 6,
    /// A public key is not a valid (or is a small-order) curve point.
    InvalidPublicKey = 7,
    /// The operating system's random number generator failed.
    RandomnessUnavailable = 8,
    /// A light client refused to start from a header;
    /// [`itc_last_error_reason`] gives the `ItcBootstrapError` code.
    BootstrapRejected = 9,
    /// A transaction or state proof does not hold against the trusted header.
    ProofRejected = 10,
    /// A dev chain refused a block because a transaction is invalid.
    TransactionRejected = 11,
    /// Proof of work was not found within the iteration bound; call again
    /// to resume.
    PowExhausted = 12,
    /// A data node already contributed to this campaign (its budget was
    /// charged for it).
    AlreadyContributed = 13,
    /// A data node's privacy budget has less left than the campaign asks.
    BudgetExhausted = 14,
    /// ChainCode refused (not a member, wrong contract, contract unusable,
    /// store failure).
    ChainCodeRefused = 15,
    /// A device refused an owner recovery; [`itc_last_error_reason`] gives
    /// the `ItcRecoveryError` code.
    RecoveryRejected = 16,
    /// A payload could not be sealed or opened; [`itc_last_error_reason`]
    /// gives the `ItcSealRefusal` code.
    SealRefused = 17,
    /// A device refused a firmware update; [`itc_last_error_reason`] gives
    /// the `ItcUpdateRefusal` code.
    UpdateRefused = 18,
    /// A bug in the library (a panic was caught). Please report it.
    Internal = 99,
}

impl ItcError {
    /// The C status code of this error.
    pub fn status(&self) -> ItcStatus {
        match self {
            ItcError::NullPointer { .. } => ItcStatus::NullPointer,
            ItcError::InvalidHandle { .. } => ItcStatus::InvalidHandle,
            ItcError::InvalidArgument { .. } => ItcStatus::InvalidArgument,
            ItcError::BufferTooSmall { .. } => ItcStatus::BufferTooSmall,
            ItcError::Decode { .. } => ItcStatus::DecodeFailed,
            ItcError::InvalidSignature => ItcStatus::InvalidSignature,
            ItcError::InvalidPublicKey => ItcStatus::InvalidPublicKey,
            ItcError::Randomness { .. } => ItcStatus::RandomnessUnavailable,
            ItcError::BootstrapRejected { .. } => ItcStatus::BootstrapRejected,
            ItcError::ProofRejected { .. } => ItcStatus::ProofRejected,
            ItcError::TransactionRejected { .. } => ItcStatus::TransactionRejected,
            ItcError::PowExhausted { .. } => ItcStatus::PowExhausted,
            ItcError::AlreadyContributed { .. } => ItcStatus::AlreadyContributed,
            ItcError::BudgetExhausted { .. } => ItcStatus::BudgetExhausted,
            ItcError::ChainCode { .. } => ItcStatus::ChainCodeRefused,
            ItcError::RecoveryRejected { .. } => ItcStatus::RecoveryRejected,
            ItcError::SealRefused { .. } => ItcStatus::SealRefused,
            ItcError::UpdateRefused { .. } => ItcStatus::UpdateRefused,
            ItcError::Internal { .. } => ItcStatus::Internal,
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static LAST_REASON: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn set_last_error(message: &str, reason: u32) {
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = message);
    LAST_REASON.with(|slot| slot.set(reason));
}

/// Run `body`, turning its error or panic into a status and the thread's
/// last error message.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), ItcError>) -> ItcStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ItcStatus::Ok,
        Ok(Err(error)) => {
            set_last_error(&error.to_string(), error.reason_code());
            error.status()
        }
        Err(panic) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_string());
            set_last_error(&ItcError::Internal { reason }.to_string(), 0);
            ItcStatus::Internal
        }
    }
}

/// The message of the last failed `itc_*` call on the calling thread, as a
/// NUL-terminated UTF-8 string (empty if no call has failed yet).
///
/// Successful calls leave the message alone. The pointer stays valid until
/// the next failing `itc_*` call on the same thread; copy the text if you
/// need it longer. Never free it.
///
/// Thread safety: each thread has its own message.
#[no_mangle]
pub extern "C" fn itc_last_error_message() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ptr())
        .unwrap_or(c"thread is exiting".as_ptr())
}

/// The stable reason code of the last failed `itc_*` call on the calling
/// thread: an `ItcBootstrapError` after `ITC_STATUS_BOOTSTRAP_REJECTED`, an
/// `ItcRecoveryError` after `ITC_STATUS_RECOVERY_REJECTED`, an
/// `ItcSealRefusal` after `ITC_STATUS_SEAL_REFUSED`, an `ItcUpdateRefusal`
/// after `ITC_STATUS_UPDATE_REFUSED`, 0 after any other
/// failure (and before the first). Successful calls leave it alone, as they
/// leave [`itc_last_error_message`].
///
/// Thread safety: each thread has its own code.
#[no_mangle]
pub extern "C" fn itc_last_error_reason() -> u32 {
    LAST_REASON.try_with(std::cell::Cell::get).unwrap_or(0)
}

/// A short constant name for a status code (`"ok"`, `"null pointer"`, ...),
/// or `"unknown status"`. Never free it.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn itc_status_name(status: i32) -> *const c_char {
    let name = match status {
        0 => c"ok",
        1 => c"null pointer",
        2 => c"invalid handle",
        3 => c"invalid argument",
        4 => c"buffer too small",
        5 => c"decode failed",
        6 => c"invalid signature",
        7 => c"invalid public key",
        8 => c"randomness unavailable",
        9 => c"bootstrap rejected",
        10 => c"proof rejected",
        11 => c"transaction rejected",
        12 => c"proof of work exhausted",
        13 => c"already contributed",
        14 => c"privacy budget exhausted",
        15 => c"chaincode refused",
        16 => c"recovery rejected",
        17 => c"seal refused",
        18 => c"update refused",
        99 => c"internal error",
        _ => c"unknown status",
    };
    name.as_ptr()
}

/// A handle type: `#[repr(C)]` with a `u64` tag as its first field.
///
/// # Safety
/// Implementors must be `#[repr(C)]` and start with the `magic` tag, so that
/// the tag can be read through a pointer of any handle kind.
pub(crate) unsafe trait Handle: Sized {
    /// The tag of live handles of this kind.
    const MAGIC: u64;
    /// Human-readable kind, for messages.
    const KIND: &'static str;
}

/// Borrow a handle after checking it is non-null and of the right kind.
///
/// # Safety
/// `ptr` must be null or point to readable memory of at least 8 bytes,
/// and if the tag matches, to a live `H`.
pub(crate) unsafe fn handle_ref<'a, H: Handle>(
    ptr: *const H,
    argument: &'static str,
) -> Result<&'a H, ItcError> {
    if ptr.is_null() {
        return Err(ItcError::NullPointer {
            argument: argument.into(),
        });
    }
    // SAFETY: non-null, and by the caller's contract at least 8 readable bytes.
    let magic = unsafe { ptr.cast::<u64>().read_unaligned() };
    if magic != H::MAGIC {
        return Err(ItcError::InvalidHandle {
            argument: format!("{argument} is not a live {}", H::KIND),
        });
    }
    // SAFETY: the tag says this is a live `H`.
    Ok(unsafe { &*ptr })
}

/// Store a new handle into `*out`.
///
/// # Safety
/// `out` must be valid for writing a pointer (checked for null).
pub(crate) unsafe fn store_handle<H: Handle>(out: *mut *mut H, handle: H) -> Result<(), ItcError> {
    if out.is_null() {
        return Err(ItcError::NullPointer {
            argument: "out".into(),
        });
    }
    // SAFETY: non-null and writable by the caller's contract.
    unsafe { out.write(Box::into_raw(Box::new(handle))) };
    Ok(())
}

/// Set `*out` to null if `out` is not null (so failed constructors leave a
/// null handle behind).
///
/// # Safety
/// `out` must be null or valid for writing a pointer.
pub(crate) unsafe fn clear_handle_out<H>(out: *mut *mut H) {
    if !out.is_null() {
        // SAFETY: non-null and writable by the caller's contract.
        unsafe { out.write(std::ptr::null_mut()) };
    }
}

/// Free a handle made by [`store_handle`]; null is a no-op.
///
/// # Safety
/// `ptr` must be null or a handle returned by this library that has not
/// been freed (a wrong-kind or already-freed handle is refused when its tag
/// shows it).
pub(crate) unsafe fn free_handle<H: Handle>(
    ptr: *mut H,
    argument: &'static str,
) -> Result<(), ItcError> {
    if ptr.is_null() {
        return Ok(());
    }
    // SAFETY: forwarded contract.
    unsafe { handle_ref(ptr, argument)? };
    // SAFETY: a live handle made by `Box::into_raw`; erase the tag so a
    // second free is likely refused, then drop it.
    unsafe {
        ptr.cast::<u64>().write_unaligned(0);
        drop(Box::from_raw(ptr));
    }
    Ok(())
}

/// Read exactly `N` bytes.
///
/// # Safety
/// `ptr` must be null or valid for reading `N` bytes.
pub(crate) unsafe fn read_array<const N: usize>(
    ptr: *const u8,
    argument: &'static str,
) -> Result<[u8; N], ItcError> {
    if ptr.is_null() {
        return Err(ItcError::NullPointer {
            argument: argument.into(),
        });
    }
    let mut out = [0u8; N];
    // SAFETY: non-null and N readable bytes by the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(ptr, out.as_mut_ptr(), N) };
    Ok(out)
}

/// Write exactly `N` bytes.
///
/// # Safety
/// `ptr` must be null or valid for writing `N` bytes.
pub(crate) unsafe fn write_array<const N: usize>(
    ptr: *mut u8,
    value: &[u8; N],
    argument: &'static str,
) -> Result<(), ItcError> {
    if ptr.is_null() {
        return Err(ItcError::NullPointer {
            argument: argument.into(),
        });
    }
    // SAFETY: non-null and N writable bytes by the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), ptr, N) };
    Ok(())
}

/// Borrow `len` input bytes; a null pointer is allowed only with `len == 0`.
///
/// # Safety
/// `ptr` must be null or valid for reading `len` bytes for `'a`.
pub(crate) unsafe fn read_slice<'a>(
    ptr: *const u8,
    len: usize,
    argument: &'static str,
) -> Result<&'a [u8], ItcError> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(ItcError::NullPointer {
                argument: argument.into(),
            })
        };
    }
    if len > isize::MAX as usize {
        return Err(ItcError::invalid_argument(format!(
            "{argument}: length too large"
        )));
    }
    // SAFETY: non-null, `len` readable bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Write a scalar output.
///
/// # Safety
/// `ptr` must be null or valid for writing a `T`.
pub(crate) unsafe fn write_value<T>(
    ptr: *mut T,
    value: T,
    argument: &'static str,
) -> Result<(), ItcError> {
    if ptr.is_null() {
        return Err(ItcError::NullPointer {
            argument: argument.into(),
        });
    }
    // SAFETY: non-null and writable by the caller's contract.
    unsafe { ptr.write(value) };
    Ok(())
}

/// Refuse a null out-pointer *before* a call changes any state, so a
/// caller's error path never drops the result of a call that acted (a
/// command the lamp already recorded, a header it already adopted).
pub(crate) fn require_out<T>(ptr: *mut T, argument: &'static str) -> Result<(), ItcError> {
    if ptr.is_null() {
        return Err(ItcError::NullPointer {
            argument: argument.into(),
        });
    }
    Ok(())
}

/// Copy `bytes` into the caller's buffer `out[..capacity]`, storing the
/// length in `*written` (also when the buffer is too small).
///
/// # Safety
/// `written` must be null or writable; `out` must be null or valid for
/// writing `capacity` bytes.
pub(crate) unsafe fn write_buffer(
    bytes: &[u8],
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> Result<(), ItcError> {
    // SAFETY: forwarded contract.
    unsafe { write_values(bytes, out, capacity, written) }
}

/// Copy `values` into a caller array of `capacity` elements, storing the
/// element count in `*written` (also when the array is too small).
///
/// # Safety
/// `written` must be null or writable; `out` null or valid for writing
/// `capacity` elements.
pub(crate) unsafe fn write_values<T: Copy>(
    values: &[T],
    out: *mut T,
    capacity: usize,
    written: *mut usize,
) -> Result<(), ItcError> {
    // SAFETY: forwarded contract.
    unsafe { write_value(written, values.len(), "written")? };
    if values.len() > capacity {
        return Err(ItcError::BufferTooSmall {
            needed: values.len() as u64,
        });
    }
    if values.is_empty() {
        return Ok(());
    }
    if out.is_null() {
        return Err(ItcError::NullPointer {
            argument: "out".into(),
        });
    }
    // SAFETY: `out` holds `capacity >= values.len()` writable elements.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, values.len()) };
    Ok(())
}
