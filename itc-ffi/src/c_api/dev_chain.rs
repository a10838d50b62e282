//! A single-process development chain, to produce real headers,
//! certificates and proofs for tests and demos without running a node.
//!
//! [`ItcDevChain`] is internally locked: every function may be called on the
//! same handle from several threads at once, except the free function.

use super::keys::{ItcKeypair, ITC_HASH_LEN, ITC_PUBLIC_KEY_LEN};
use super::transaction::ItcTransaction;
use super::{
    clear_handle_out, guard, handle_ref, read_array, read_slice, store_handle, write_array,
    write_buffer, write_value, Handle, ItcStatus,
};
use crate::api::dev_chain::{DevChain, FundedAccount};
use crate::api::transaction::Transaction;
use crate::error::ItcError;
use std::sync::Arc;

/// Most accounts a dev chain's genesis may fund through the C ABI.
pub const ITC_DEV_CHAIN_ACCOUNTS_MAX: usize = 1024;
/// Most transactions one dev-chain block may carry through the C ABI.
pub const ITC_DEV_CHAIN_BLOCK_TRANSACTIONS_MAX: usize = 10000;

handle_type! {
    /// A single-process chain for development and tests: the real ledger and
    /// real commit certificates, signed by simulated in-process validators. Not
    /// for production. Free with [`itc_dev_chain_free`].
    pub struct ItcDevChain {
        inner: Arc<DevChain>,
    }
    tag = b"itc:devc", kind = "dev chain";
}

/// Borrow a dev chain handle.
///
/// # Safety
/// As [`handle_ref`].
unsafe fn chain<'a>(chain: *const ItcDevChain) -> Result<&'a DevChain, ItcError> {
    // SAFETY: forwarded contract.
    Ok(&unsafe { handle_ref(chain, "chain")? }.inner)
}

/// Start a dev chain with `validator_count` simulated validators,
/// `account_count` funded accounts (`account_keys` holds `account_count`
/// public keys of [`ITC_PUBLIC_KEY_LEN`] bytes back to back, `balances` their
/// balances), and a certified genesis header at height 0 and
/// `genesis_time_ms`. The minimum fee is 1.
///
/// # Safety
/// `account_keys` must point to `account_count * ITC_PUBLIC_KEY_LEN`
/// readable bytes and `balances` to `account_count` readable `uint64_t`
/// (both may be null if `account_count` is 0); `out` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_new(
    chain_id: u32,
    validator_count: u32,
    account_keys: *const u8,
    balances: *const u64,
    account_count: usize,
    genesis_time_ms: u64,
    out: *mut *mut ItcDevChain,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        if account_count > ITC_DEV_CHAIN_ACCOUNTS_MAX {
            return Err(ItcError::invalid_argument("too many accounts"));
        }
        let mut accounts = Vec::with_capacity(account_count);
        if account_count > 0 {
            if account_keys.is_null() || balances.is_null() {
                return Err(ItcError::NullPointer {
                    argument: "account_keys or balances".into(),
                });
            }
            // SAFETY: non-null, sizes per the caller's contract.
            let (keys, balances) = unsafe {
                (
                    std::slice::from_raw_parts(account_keys, account_count * ITC_PUBLIC_KEY_LEN),
                    std::slice::from_raw_parts(balances, account_count),
                )
            };
            for (key, balance) in keys.chunks_exact(ITC_PUBLIC_KEY_LEN).zip(balances) {
                accounts.push(FundedAccount {
                    public_key: key.to_vec(),
                    balance: *balance,
                });
            }
        }
        let inner = DevChain::new(chain_id, validator_count, accounts, genesis_time_ms)?;
        // SAFETY: the caller's contract above.
        unsafe {
            store_handle(
                out,
                ItcDevChain {
                    magic: ItcDevChain::MAGIC,
                    inner,
                },
            )
        }
    })
}

/// Apply `transaction_count` transactions as the next block at `time_ms`,
/// certify it and write its height. Atomic: an invalid transaction is
/// `ITC_STATUS_TRANSACTION_REJECTED` and nothing changes. The transaction
/// handles stay owned by the caller.
///
/// # Safety
/// `chain` must be a live handle; `transactions` must point to
/// `transaction_count` live transaction handles (null if 0);
/// `out_height` writable.
///
/// Thread safety: safe from any thread (serialized internally).
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_commit_block(
    chain: *const ItcDevChain,
    transactions: *const *const ItcTransaction,
    transaction_count: usize,
    time_ms: u64,
    out_height: *mut u64,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let chain = unsafe { self::chain(chain)? };
        if transaction_count > ITC_DEV_CHAIN_BLOCK_TRANSACTIONS_MAX {
            return Err(ItcError::invalid_argument("too many transactions"));
        }
        let mut block = Vec::with_capacity(transaction_count);
        if transaction_count > 0 {
            if transactions.is_null() {
                return Err(ItcError::NullPointer {
                    argument: "transactions".into(),
                });
            }
            // SAFETY: non-null, `transaction_count` pointers per the contract.
            let handles = unsafe { std::slice::from_raw_parts(transactions, transaction_count) };
            for handle in handles {
                // SAFETY: each is a live handle per the contract (checked).
                let transaction = unsafe { handle_ref(*handle, "transactions[i]")? };
                block.push(Arc::new(Transaction {
                    inner: transaction.transaction.clone(),
                }));
            }
        }
        let height = chain.commit_block(block, time_ms)?;
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_height, height, "out_height") }
    })
}

/// Height of the latest block (0 = genesis).
///
/// # Safety
/// `chain` must be a live handle; `out_height` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_height(
    chain: *const ItcDevChain,
    out_height: *mut u64,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let chain = unsafe { self::chain(chain)? };
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_height, chain.height(), "out_height") }
    })
}

/// An account's next nonce.
///
/// # Safety
/// `chain` must be a live handle; `account` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes; `out_nonce` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_nonce(
    chain: *const ItcDevChain,
    account: *const u8,
    out_nonce: *mut u64,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let chain = unsafe { self::chain(chain)? };
        // SAFETY: the caller's contract above.
        let account = unsafe { read_array::<ITC_PUBLIC_KEY_LEN>(account, "account")? };
        let nonce = chain.nonce(account.to_vec())?;
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_nonce, nonce, "out_nonce") }
    })
}

/// Hash of the header at `height` (what a device pins), [`ITC_HASH_LEN`]
/// bytes.
///
/// # Safety
/// `chain` must be a live handle; `out_hash` must point to [`ITC_HASH_LEN`]
/// writable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_header_hash(
    chain: *const ItcDevChain,
    height: u64,
    out_hash: *mut u8,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let chain = unsafe { self::chain(chain)? };
        let hash: [u8; ITC_HASH_LEN] = crate::facade::array(&chain.header_hash(height)?, "hash")?;
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_hash, &hash, "out_hash") }
    })
}

/// Run `body` on the chain and copy its bytes into the caller buffer.
///
/// # Safety
/// `chain` must be null or a live handle; `out` null or `capacity` writable
/// bytes; `written` null or writable.
unsafe fn bytes_out(
    chain: *const ItcDevChain,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
    body: impl FnOnce(&DevChain) -> Result<Vec<u8>, ItcError>,
) -> ItcStatus {
    guard(|| {
        // SAFETY: forwarded contract.
        let bytes = body(unsafe { self::chain(chain)? })?;
        // SAFETY: forwarded contract.
        unsafe { write_buffer(&bytes, out, capacity, written) }
    })
}

/// Read a 32-byte key argument.
///
/// # Safety
/// `ptr` must be null or point to [`ITC_PUBLIC_KEY_LEN`] readable bytes.
unsafe fn key(ptr: *const u8, argument: &'static str) -> Result<Vec<u8>, ItcError> {
    // SAFETY: forwarded contract.
    Ok(unsafe { read_array::<ITC_PUBLIC_KEY_LEN>(ptr, argument)? }.to_vec())
}

/// The header at `height` (canonical bytes), into a caller buffer.
///
/// # Safety
/// `chain` must be a live handle; `out` null or `capacity` writable bytes;
/// `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_header(
    chain: *const ItcDevChain,
    height: u64,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    let body = |chain: &DevChain| chain.header(height);
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// The validator set that signed the header at `height` (canonical
/// bytes), into a caller buffer.
///
/// # Safety
/// `chain` must be a live handle; `out` null or `capacity` writable bytes;
/// `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_validator_set(
    chain: *const ItcDevChain,
    height: u64,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    let body = |chain: &DevChain| chain.validator_set(height);
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// The header update for `height` (header, certificate, signing set), as
/// `itc_lamp_update` and `itc_light_client_update` take it.
///
/// # Safety
/// `chain` must be a live handle; `out` null or `capacity` writable bytes;
/// `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_header_update(
    chain: *const ItcDevChain,
    height: u64,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    let body = |chain: &DevChain| chain.header_update(height);
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// What a grantee sends with a command: proofs of `device`'s registration
/// and of its grant to `grantee` (or of its absence) at the latest header.
///
/// # Safety
/// `chain` must be a live handle; `out` null or `capacity` writable bytes;
/// `written` writable. `device` and `grantee`
/// must point to [`ITC_PUBLIC_KEY_LEN`] readable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_command_proof(
    chain: *const ItcDevChain,
    device: *const u8,
    grantee: *const u8,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    let body = |chain: &DevChain| {
        // SAFETY: the caller's contract (key arguments).
        let (device, grantee) = unsafe { (key(device, "device")?, key(grantee, "grantee")?) };
        chain.command_proof(device, grantee)
    };
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// Proof of the grant of `device` to `grantee` (or of its absence) at the
/// latest header.
///
/// # Safety
/// `chain` must be a live handle; `out` null or `capacity` writable bytes;
/// `written` writable. `device` and `grantee`
/// must point to [`ITC_PUBLIC_KEY_LEN`] readable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_grant_proof(
    chain: *const ItcDevChain,
    device: *const u8,
    grantee: *const u8,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    let body = |chain: &DevChain| {
        // SAFETY: the caller's contract (key arguments).
        let (device, grantee) = unsafe { (key(device, "device")?, key(grantee, "grantee")?) };
        chain.grant_proof(device, grantee)
    };
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// Proof of `device`'s registration (or of its absence) at the latest
/// header.
///
/// # Safety
/// `chain` must be a live handle; `device` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes; `out` null or `capacity` writable
/// bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_device_proof(
    chain: *const ItcDevChain,
    device: *const u8,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    let body = |chain: &DevChain| {
        // SAFETY: the caller's contract (key argument).
        let device = unsafe { key(device, "device")? };
        chain.device_proof(device)
    };
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// Simulate an epoch boundary with a new validator set: the next committed
/// block is still signed by the current simulated set but names a new,
/// disjoint one as its next set, which signs every block after it. The new
/// set's canonical bytes go into a caller buffer (pass `NULL, 0` and ignore
/// `ITC_STATUS_BUFFER_TOO_SMALL` only if you do not want them: the rotation
/// happens either way).
///
/// # Safety
/// `chain` must be a live handle; `out` null or `capacity` writable bytes;
/// `written` writable.
///
/// Thread safety: safe from any thread (serialized internally).
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_rotate_validators(
    chain: *const ItcDevChain,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    let body = |chain: &DevChain| chain.rotate_validators();
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// Proof that `transaction` is in the block at `height`, into a caller
/// buffer, as [`itc_light_client_verify_transaction`](super::light_client::itc_light_client_verify_transaction)
/// takes it. `ITC_STATUS_INVALID_ARGUMENT` if the block does not hold it.
///
/// # Safety
/// `chain` and `transaction` must be live handles; `out` null or `capacity`
/// writable bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_transaction_proof(
    chain: *const ItcDevChain,
    transaction: *const ItcTransaction,
    height: u64,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    let body = |chain: &DevChain| {
        // SAFETY: the caller's contract (a live transaction handle).
        let transaction = unsafe { handle_ref(transaction, "transaction")? };
        let transaction = Arc::new(Transaction {
            inner: transaction.transaction.clone(),
        });
        chain.transaction_proof(transaction, height)
    };
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// Free a dev chain handle. Null is a no-op.
///
/// # Safety
/// `chain` must be null or a live handle from this library.
///
/// Thread safety: must not run concurrently with any use of the handle.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_free(chain: *mut ItcDevChain) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { super::release(chain, "chain") }
}

/// Read a 32-byte campaign id.
///
/// # Safety
/// `ptr` must be null or point to [`ITC_HASH_LEN`] readable bytes.
unsafe fn campaign_id(ptr: *const u8) -> Result<Vec<u8>, ItcError> {
    // SAFETY: forwarded contract.
    Ok(unsafe { read_array::<ITC_HASH_LEN>(ptr, "campaign_id")? }.to_vec())
}

/// Sign `body` (a ChainCode transaction body from a data node or the
/// `itc_chaincode_*` helpers) as `Payload::Module` from `sender` with its
/// next nonce and fee 1, commit it alone in the next block at `time_ms`,
/// and write the block's height. `ITC_STATUS_DECODE_FAILED` for a
/// malformed body, `ITC_STATUS_TRANSACTION_REJECTED` when the ledger
/// refuses it (nothing changes then).
///
/// # Safety
/// `chain` and `sender` must be live handles; `body` `body_len` readable
/// bytes; `out_height` writable.
///
/// Thread safety: safe from any thread (serialized internally).
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_submit_chaincode(
    chain: *const ItcDevChain,
    sender: *const ItcKeypair,
    body: *const u8,
    body_len: usize,
    time_ms: u64,
    out_height: *mut u64,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let (chain, sender, body) = unsafe {
            (
                self::chain(chain)?,
                handle_ref(sender, "sender")?,
                read_slice(body, body_len, "body")?,
            )
        };
        let sender = Arc::new(crate::api::keys::Keypair {
            inner: sender.keypair.clone(),
        });
        let height = chain.submit_chaincode(sender, body.to_vec(), time_ms)?;
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_height, height, "out_height") }
    })
}

/// Commit empty blocks at `time_ms` until the chain is at `height` (at most
/// 100000 at a time) and write the height reached.
///
/// # Safety
/// `chain` must be a live handle; `out_height` writable.
///
/// Thread safety: safe from any thread (serialized internally).
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_advance_to(
    chain: *const ItcDevChain,
    height: u64,
    time_ms: u64,
    out_height: *mut u64,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let reached = unsafe { self::chain(chain)? }.advance_to(height, time_ms)?;
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_height, reached, "out_height") }
    })
}

/// A campaign's record (canonical bytes) into a caller buffer; `*written`
/// is 0 for an unknown campaign.
///
/// # Safety
/// `chain` must be a live handle; `campaign_id` [`ITC_HASH_LEN`] readable
/// bytes; `out` null or `capacity` writable bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_campaign_record(
    chain: *const ItcDevChain,
    campaign_id: *const u8,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    let body = |chain: &DevChain| {
        Ok(chain
            .campaign_record(unsafe { self::campaign_id(campaign_id)? })?
            .unwrap_or_default())
    };
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// A campaign's cohort (canonical bytes, as a data node takes them) into a
/// caller buffer; an empty cohort's encoding when nobody joined or it
/// closed.
///
/// # Safety
/// As [`itc_dev_chain_campaign_record`].
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_campaign_members(
    chain: *const ItcDevChain,
    campaign_id: *const u8,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    let body =
        |chain: &DevChain| chain.campaign_members(unsafe { self::campaign_id(campaign_id)? });
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// The accounts whose contribution to a campaign is held (until close),
/// [`ITC_PUBLIC_KEY_LEN`] bytes each back to back, into a caller buffer
/// (`*written / ITC_PUBLIC_KEY_LEN` accounts).
///
/// # Safety
/// As [`itc_dev_chain_campaign_record`].
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_campaign_contributors(
    chain: *const ItcDevChain,
    campaign_id: *const u8,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    let body = |chain: &DevChain| {
        Ok(chain
            .campaign_contributors(unsafe { self::campaign_id(campaign_id)? })?
            .concat())
    };
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// A closed campaign's result (canonical bytes, decode with
/// `itc_campaign_result_decode`) into a caller buffer; `*written` is 0
/// while it is open or for an unknown campaign.
///
/// # Safety
/// As [`itc_dev_chain_campaign_record`].
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_campaign_result(
    chain: *const ItcDevChain,
    campaign_id: *const u8,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    let body = |chain: &DevChain| {
        Ok(chain
            .campaign_result(unsafe { self::campaign_id(campaign_id)? })?
            .unwrap_or_default())
    };
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// The payment receipt of `member` in a campaign with its state proof at
/// the latest header: the proof into a caller buffer, the header's height
/// into `*out_height` (check the proof with
/// `itc_chaincode_verify_payment_receipt` against that header).
///
/// # Safety
/// `chain` must be a live handle; `campaign_id` and `member` 32 readable
/// bytes each; `out_height` writable; `out` null or `capacity` writable
/// bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_payment_receipt_proof(
    chain: *const ItcDevChain,
    campaign_id: *const u8,
    member: *const u8,
    out_height: *mut u64,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let (chain, id, member) = unsafe {
            (
                self::chain(chain)?,
                self::campaign_id(campaign_id)?,
                key(member, "member")?,
            )
        };
        let receipt = chain.payment_receipt_proof(id, member)?;
        // SAFETY: the caller's contract above.
        unsafe {
            write_value(out_height, receipt.height, "out_height")?;
            write_buffer(&receipt.proof, out, capacity, written)
        }
    })
}

/// Proof of `subject`'s sealing key for `suite` (an `ItcSealSuite` number),
/// or of its absence, at the latest header, into a caller buffer; checked
/// by [`itc_light_client_verify_seal_key`](super::seal::itc_light_client_verify_seal_key).
///
/// # Safety
/// `chain` must be a live handle; `subject` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes; `out` null or `capacity` writable
/// bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_seal_key_proof(
    chain: *const ItcDevChain,
    subject: *const u8,
    suite: u8,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    let body = |chain: &DevChain| {
        // SAFETY: the caller's contract (key argument).
        let subject = unsafe { key(subject, "subject")? };
        chain.seal_key_proof(subject, crate::api::seal::SealSuite::from_id(suite)?)
    };
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}

/// The update offer for `product` at the latest header (the proofs of the
/// product's record and of its current release), into a caller buffer;
/// checked by
/// [`itc_lamp_check_firmware_update`](super::firmware::itc_lamp_check_firmware_update).
///
/// # Safety
/// `chain` must be a live handle; `out` null or `capacity` writable bytes;
/// `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_dev_chain_firmware_offer(
    chain: *const ItcDevChain,
    product: u64,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    let body = |chain: &DevChain| Ok(chain.firmware_offer(product));
    // SAFETY: the caller's contract above.
    unsafe { bytes_out(chain, out, capacity, written, body) }
}
