//! DAG side-chain transactions: build, sign, proof of work with an
//! iteration bound, encode, decode.
//!
//! [`ItcDagTransaction`] is internally locked: every function may be called
//! on the same handle from several threads (calls are serialized), except
//! the free function.

use super::keys::{ItcKeypair, ITC_HASH_LEN, ITC_PUBLIC_KEY_LEN};
use super::{
    clear_handle_out, guard, handle_ref, read_array, read_slice, store_handle, write_array,
    write_buffer, write_value, Handle, ItcStatus,
};
use crate::api::dag::DagTransaction;
use crate::error::ItcError;
use crate::facade::dag;
use std::sync::Arc;

/// Most parents a DAG transaction approves.
pub const ITC_DAG_PARENTS_MAX: usize = 8;
const _: () = assert!(ITC_DAG_PARENTS_MAX == itc_dag::transaction::PARENTS_MAX);

handle_type! {
    /// A DAG transaction (opaque). Free with [`itc_dag_transaction_free`].
    pub struct ItcDagTransaction {
        inner: Arc<DagTransaction>,
    }
    tag = b"itc:dagt", kind = "dag transaction";
}

/// Shared body of the builders.
///
/// # Safety
/// As for [`itc_dag_transaction_new_data`].
unsafe fn build(
    issuer: *const ItcKeypair,
    chain_id: u32,
    parents: *const u8,
    parent_count: usize,
    sequence: u64,
    payload: impl FnOnce() -> Result<itc_dag::DagPayload, ItcError>,
    out: *mut *mut ItcDagTransaction,
) -> ItcStatus {
    // SAFETY: forwarded contract.
    unsafe { clear_handle_out(out) };
    guard(|| {
        // SAFETY: forwarded contract.
        let issuer = unsafe { handle_ref(issuer, "issuer")? };
        if parent_count > ITC_DAG_PARENTS_MAX {
            return Err(ItcError::invalid_argument("too many parents"));
        }
        // SAFETY: forwarded contract: `parent_count` ids of 32 bytes.
        let parents = unsafe { read_slice(parents, parent_count * ITC_HASH_LEN, "parents")? };
        let parents = parents.chunks_exact(ITC_HASH_LEN);
        let transaction = dag::sign(&issuer.keypair, chain_id, parents, sequence, payload)?;
        let inner = DagTransaction::wrap(transaction);
        let handle = ItcDagTransaction {
            magic: ItcDagTransaction::MAGIC,
            inner,
        };
        // SAFETY: forwarded contract.
        unsafe { store_handle(out, handle) }
    })
}

/// Build and sign a DAG transaction carrying a data record (at most 1024
/// bytes), approving `parent_count` (1..=8) parents given as ids of
/// [`ITC_HASH_LEN`] bytes back to back. The nonce is 0: run
/// [`itc_dag_transaction_solve_pow`] before sending.
///
/// # Safety
/// `issuer` must be a live key pair handle; `parents` must point to
/// `parent_count * ITC_HASH_LEN` readable bytes; `record` to `record_len`;
/// `out` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dag_transaction_new_data(
    issuer: *const ItcKeypair,
    chain_id: u32,
    parents: *const u8,
    parent_count: usize,
    sequence: u64,
    record: *const u8,
    record_len: usize,
    out: *mut *mut ItcDagTransaction,
) -> ItcStatus {
    let payload = || {
        // SAFETY: the caller's contract above.
        Ok(dag::data(unsafe {
            read_slice(record, record_len, "record")?
        }))
    };
    // SAFETY: forwarded contract.
    unsafe {
        build(
            issuer,
            chain_id,
            parents,
            parent_count,
            sequence,
            payload,
            out,
        )
    }
}

/// Build and sign a DAG transaction carrying a sealed data record: an
/// encoded sealed payload ([`itc_seal`](super::seal::itc_seal)) whose
/// context is this transaction's chain, issuer (as the device) and
/// `sequence`, with at most 1,024 bytes of plaintext and 4 recipients;
/// otherwise as [`itc_dag_transaction_new_data`]. Sealed bytes that do not
/// decode are `ITC_STATUS_DECODE_FAILED`; a payload bound elsewhere or over
/// the caps is `ITC_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// As [`itc_dag_transaction_new_data`], with `sealed` pointing to
/// `sealed_len` readable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dag_transaction_new_sealed(
    issuer: *const ItcKeypair,
    chain_id: u32,
    parents: *const u8,
    parent_count: usize,
    sequence: u64,
    sealed: *const u8,
    sealed_len: usize,
    out: *mut *mut ItcDagTransaction,
) -> ItcStatus {
    let payload = || {
        // SAFETY: the caller's contract above.
        dag::sealed(unsafe { read_slice(sealed, sealed_len, "sealed")? })
    };
    // SAFETY: forwarded contract.
    unsafe {
        build(
            issuer,
            chain_id,
            parents,
            parent_count,
            sequence,
            payload,
            out,
        )
    }
}

/// Build and sign a DAG micro-transfer of `amount` (more than zero) to
/// `to`; otherwise as [`itc_dag_transaction_new_data`].
///
/// # Safety
/// As [`itc_dag_transaction_new_data`]; `to` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dag_transaction_new_transfer(
    issuer: *const ItcKeypair,
    chain_id: u32,
    parents: *const u8,
    parent_count: usize,
    sequence: u64,
    to: *const u8,
    amount: u64,
    out: *mut *mut ItcDagTransaction,
) -> ItcStatus {
    let payload = || {
        // SAFETY: the caller's contract above.
        dag::transfer(
            &unsafe { read_array::<ITC_PUBLIC_KEY_LEN>(to, "to")? },
            amount,
        )
    };
    // SAFETY: forwarded contract.
    unsafe {
        build(
            issuer,
            chain_id,
            parents,
            parent_count,
            sequence,
            payload,
            out,
        )
    }
}

/// Build and sign a DAG command (at most 256 bytes) for `device`;
/// otherwise as [`itc_dag_transaction_new_data`].
///
/// # Safety
/// As [`itc_dag_transaction_new_data`]; `device` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes, `command` to `command_len`.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dag_transaction_new_command(
    issuer: *const ItcKeypair,
    chain_id: u32,
    parents: *const u8,
    parent_count: usize,
    sequence: u64,
    device: *const u8,
    command: *const u8,
    command_len: usize,
    out: *mut *mut ItcDagTransaction,
) -> ItcStatus {
    let payload = || {
        // SAFETY: the caller's contract above (two reads).
        let (device, command) = unsafe {
            (
                read_array::<ITC_PUBLIC_KEY_LEN>(device, "device")?,
                read_slice(command, command_len, "command")?,
            )
        };
        dag::command(&device, command)
    };
    // SAFETY: forwarded contract.
    unsafe {
        build(
            issuer,
            chain_id,
            parents,
            parent_count,
            sequence,
            payload,
            out,
        )
    }
}

/// Proof-of-work bits the default rules require from an issuer at
/// `security_level` (0..=3) with `recent` transactions in the current window.
///
/// # Safety
/// `out_bits` must be writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dag_required_pow_bits(
    security_level: u8,
    recent: u32,
    out_bits: *mut u32,
) -> ItcStatus {
    guard(|| {
        let bits = dag::required_pow_bits(security_level, recent)?;
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_bits, bits, "out_bits") }
    })
}

/// Search nonces from the current one for at least `bits` leading zero
/// bits of work, trying at most `iterations_max`; on success write the
/// nonce. `ITC_STATUS_POW_EXHAUSTED` if the budget ran out (the nonce then
/// points past the last one tried, so calling again resumes).
///
/// # Safety
/// `transaction` must be a live handle; `out_nonce` writable.
///
/// Thread safety: safe from any thread (serialized internally).
#[no_mangle]
pub unsafe extern "C" fn itc_dag_transaction_solve_pow(
    transaction: *const ItcDagTransaction,
    bits: u32,
    iterations_max: u64,
    out_nonce: *mut u64,
) -> ItcStatus {
    with_handle!(transaction, {
        let nonce = transaction.inner.solve_pow(bits, iterations_max)?;
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_nonce, nonce, "out_nonce") }
    })
}

/// Leading zero bits of the transaction's current proof-of-work value.
///
/// # Safety
/// `transaction` must be a live handle; `out_bits` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dag_transaction_pow_bits(
    transaction: *const ItcDagTransaction,
    out_bits: *mut u32,
) -> ItcStatus {
    with_handle!(transaction, {
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_bits, transaction.inner.pow_bits(), "out_bits") }
    })
}

/// The transaction's id ([`ITC_HASH_LEN`] bytes; it changes with the nonce).
///
/// # Safety
/// `transaction` must be a live handle; `out_id` must point to
/// [`ITC_HASH_LEN`] writable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dag_transaction_id(
    transaction: *const ItcDagTransaction,
    out_id: *mut u8,
) -> ItcStatus {
    with_handle!(transaction, {
        let id: [u8; ITC_HASH_LEN] = crate::facade::array(&transaction.inner.id(), "id")?;
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_id, &id, "out_id") }
    })
}

/// The canonical encoding, into a caller buffer.
///
/// # Safety
/// `transaction` must be a live handle; `out` null or `capacity` writable
/// bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dag_transaction_encode(
    transaction: *const ItcDagTransaction,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    with_handle!(transaction, {
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&transaction.inner.encode(), out, capacity, written) }
    })
}

/// Decode canonical bytes (strict); neither signature nor work is checked.
///
/// # Safety
/// `bytes` must point to `len` readable bytes; `out` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dag_transaction_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut ItcDagTransaction,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        // SAFETY: the caller's contract above.
        let bytes = unsafe { read_slice(bytes, len, "bytes")? };
        let inner = DagTransaction::wrap(dag::decode(bytes)?);
        let handle = ItcDagTransaction {
            magic: ItcDagTransaction::MAGIC,
            inner,
        };
        // SAFETY: the caller's contract above.
        unsafe { store_handle(out, handle) }
    })
}

/// `ITC_STATUS_OK` if the issuer's signature verifies, else
/// `ITC_STATUS_INVALID_SIGNATURE` or `ITC_STATUS_INVALID_PUBLIC_KEY`.
///
/// # Safety
/// `transaction` must be a live handle.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dag_transaction_verify_signature(
    transaction: *const ItcDagTransaction,
) -> ItcStatus {
    with_handle!(transaction, { transaction.inner.verify_signature() })
}

/// Free a DAG transaction handle. Null is a no-op.
///
/// # Safety
/// `transaction` must be null or a live handle from this library.
///
/// Thread safety: must not run concurrently with any use of the handle.
#[no_mangle]
pub unsafe extern "C" fn itc_dag_transaction_free(
    transaction: *mut ItcDagTransaction,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { super::release(transaction, "transaction") }
}
