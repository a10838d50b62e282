//! Transactions: build and sign every main-chain payload, encode, decode,
//! inspect, hash.

use super::firmware::{read_manifest, ItcFirmwareManifest};
use super::keys::{ItcKeypair, ITC_HASH_LEN, ITC_PUBLIC_KEY_LEN, ITC_SIGNATURE_LEN};
use super::{
    clear_handle_out, guard, handle_ref, read_array, read_slice, store_handle, write_array,
    write_buffer, write_value, Handle, ItcStatus,
};
use crate::error::ItcError;
use crate::facade::transaction as tx;
use itc_core::encoding::Encode;
use itc_core::types::{Amount, Payload, Transaction};

/// Read a public key argument ([`ITC_PUBLIC_KEY_LEN`] bytes).
///
/// # Safety
/// `ptr` must be null or point to [`ITC_PUBLIC_KEY_LEN`] readable bytes.
unsafe fn read_key(
    ptr: *const u8,
    argument: &'static str,
) -> Result<[u8; ITC_PUBLIC_KEY_LEN], ItcError> {
    // SAFETY: forwarded contract.
    unsafe { read_array(ptr, argument) }
}

/// Kind of a transaction's payload (the `kind` field of [`ItcPayload`]).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItcPayloadKind {
    /// Move tokens: `account` receives `amount`.
    Transfer = 0,
    /// Register `device` (with `security_level`, `metadata_hash` and the
    /// device's `pairing_signature` over the sender's key and the level).
    RegisterDevice = 1,
    /// Hand `device` over to `account`.
    TransferDevice = 2,
    /// Grant `account` the `permissions` on `device` until `expiry_height`.
    GrantAccess = 3,
    /// Revoke `account`'s grant on `device`.
    RevokeAccess = 4,
    /// Bond `amount` as validator stake.
    Bond = 5,
    /// Unbond `amount` of stake.
    Unbond = 6,
    /// Deposit `amount` to the sender's balance on the DAG side chain.
    DagDeposit = 7,
    /// Publish the sealing key of `account` (the subject: the sender, or a
    /// device with `has_signature` and its binding `signature`) for `suite`
    /// at rotation `key_seq`. The public key itself is variable-length: read
    /// it with [`itc_transaction_seal_public_key`]; build with
    /// [`itc_transaction_new_publish_seal_key`] (not [`itc_transaction_new`]).
    PublishSealKey = 8,
    /// Register `product` with release key `account`.
    RegisterProduct = 9,
    /// Publish the release `manifest` with the release key's `signature`.
    PublishRelease = 10,
    /// Revoke `product`'s current release, of version `version`.
    RevokeRelease = 11,
}

impl ItcPayloadKind {
    /// The kind numbered `code`, `None` for an unknown number.
    pub fn from_code(code: u32) -> Option<Self> {
        // Not an associated constant: cbindgen would then place the enum
        // elsewhere in the header.
        [
            Self::Transfer,
            Self::RegisterDevice,
            Self::TransferDevice,
            Self::GrantAccess,
            Self::RevokeAccess,
            Self::Bond,
            Self::Unbond,
            Self::DagDeposit,
            Self::PublishSealKey,
            Self::RegisterProduct,
            Self::PublishRelease,
            Self::RevokeRelease,
        ]
        .into_iter()
        .find(|kind| *kind as u32 == code)
    }
}

/// A payload as plain data. Fields a kind does not use are zero.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcPayload {
    /// An [`ItcPayloadKind`] number.
    pub kind: u32,
    /// The device (device payloads).
    pub device: [u8; ITC_PUBLIC_KEY_LEN],
    /// The other account: receiver (Transfer), new owner (TransferDevice),
    /// grantee (GrantAccess, RevokeAccess).
    pub account: [u8; ITC_PUBLIC_KEY_LEN],
    /// Amount in base units (Transfer, Bond, Unbond, DagDeposit).
    pub amount: u64,
    /// Security level 0..=3 (RegisterDevice).
    pub security_level: u8,
    /// Hash of off-chain metadata (RegisterDevice).
    pub metadata_hash: [u8; ITC_HASH_LEN],
    /// The device's pairing signature (RegisterDevice).
    pub pairing_signature: [u8; ITC_SIGNATURE_LEN],
    /// Permission bits (GrantAccess).
    pub permissions: u32,
    /// First height at which the grant no longer holds (GrantAccess).
    pub expiry_height: u64,
    /// The product (RegisterProduct, RevokeRelease).
    pub product: u64,
    /// The release's version (RevokeRelease).
    pub version: u32,
    /// The manifest (PublishRelease).
    pub manifest: ItcFirmwareManifest,
    /// Whether `signature` is set (PublishSealKey).
    pub has_signature: bool,
    /// The release key's signature (PublishRelease) or the device's binding
    /// signature (PublishSealKey with a device subject).
    pub signature: [u8; ITC_SIGNATURE_LEN],
    /// An `ItcSealSuite` number (PublishSealKey).
    pub suite: u8,
    /// The rotation number (PublishSealKey).
    pub key_seq: u32,
}

impl ItcPayload {
    fn empty(kind: ItcPayloadKind) -> Self {
        ItcPayload {
            kind: kind as u32,
            device: [0; ITC_PUBLIC_KEY_LEN],
            account: [0; ITC_PUBLIC_KEY_LEN],
            amount: 0,
            security_level: 0,
            metadata_hash: [0; ITC_HASH_LEN],
            pairing_signature: [0; ITC_SIGNATURE_LEN],
            permissions: 0,
            expiry_height: 0,
            product: 0,
            version: 0,
            manifest: ItcFirmwareManifest {
                product: 0,
                version: 0,
                image_hash: [0; ITC_HASH_LEN],
                image_size: 0,
                min_version: 0,
            },
            has_signature: false,
            signature: [0; ITC_SIGNATURE_LEN],
            suite: 0,
            key_seq: 0,
        }
    }

    pub(crate) fn from_payload(payload: &Payload) -> Result<Self, ItcError> {
        Ok(match payload {
            Payload::Transfer { to, amount } => ItcPayload {
                account: to.0,
                amount: amount.0,
                ..Self::empty(ItcPayloadKind::Transfer)
            },
            Payload::RegisterDevice {
                device,
                security_level,
                metadata_hash,
                pairing_signature,
            } => ItcPayload {
                device: device.0,
                security_level: security_level.get(),
                metadata_hash: metadata_hash.0,
                pairing_signature: pairing_signature.0,
                ..Self::empty(ItcPayloadKind::RegisterDevice)
            },
            Payload::TransferDevice { device, new_owner } => ItcPayload {
                device: device.0,
                account: new_owner.0,
                ..Self::empty(ItcPayloadKind::TransferDevice)
            },
            Payload::GrantAccess {
                device,
                grantee,
                permissions,
                expiry_height,
            } => ItcPayload {
                device: device.0,
                account: grantee.0,
                permissions: permissions.0,
                expiry_height: *expiry_height,
                ..Self::empty(ItcPayloadKind::GrantAccess)
            },
            Payload::RevokeAccess { device, grantee } => ItcPayload {
                device: device.0,
                account: grantee.0,
                ..Self::empty(ItcPayloadKind::RevokeAccess)
            },
            Payload::Bond { amount } => ItcPayload {
                amount: amount.0,
                ..Self::empty(ItcPayloadKind::Bond)
            },
            Payload::Unbond { amount } => ItcPayload {
                amount: amount.0,
                ..Self::empty(ItcPayloadKind::Unbond)
            },
            Payload::DagDeposit { amount } => ItcPayload {
                amount: amount.0,
                ..Self::empty(ItcPayloadKind::DagDeposit)
            },
            Payload::PublishSealKey {
                subject,
                suite,
                key_seq,
                subject_signature,
                ..
            } => ItcPayload {
                account: subject.0,
                suite: suite.id(),
                key_seq: *key_seq,
                has_signature: subject_signature.is_some(),
                signature: subject_signature.map_or([0; ITC_SIGNATURE_LEN], |s| s.0),
                ..Self::empty(ItcPayloadKind::PublishSealKey)
            },
            Payload::RegisterProduct {
                product,
                release_key,
            } => ItcPayload {
                product: *product,
                account: release_key.0,
                ..Self::empty(ItcPayloadKind::RegisterProduct)
            },
            Payload::PublishRelease {
                manifest,
                signature,
            } => ItcPayload {
                product: manifest.product,
                version: manifest.version,
                manifest: ItcFirmwareManifest::from_core(manifest),
                signature: signature.0,
                ..Self::empty(ItcPayloadKind::PublishRelease)
            },
            Payload::RevokeRelease { product, version } => ItcPayload {
                product: *product,
                version: *version,
                ..Self::empty(ItcPayloadKind::RevokeRelease)
            },
            // A variable-length body has no place in this fixed-size struct.
            Payload::Module { module, body } => {
                return Err(ItcError::invalid_argument(format!(
                    "a ledger module payload (module {module}, {} body bytes) has no \
                     ItcPayload form; use the transaction's encoding",
                    body.len()
                )))
            }
            _ => {
                return Err(ItcError::Internal {
                    reason: "payload kind not supported by the C ABI".into(),
                })
            }
        })
    }

    pub(crate) fn to_payload(self) -> Result<Payload, ItcError> {
        let amount = Amount(self.amount);
        use ItcPayloadKind as K;
        let Some(kind) = K::from_code(self.kind) else {
            return Err(ItcError::invalid_argument(format!(
                "unknown payload kind {}",
                self.kind
            )));
        };
        Ok(match kind {
            K::Transfer => tx::transfer(&self.account, self.amount)?,
            K::RegisterDevice => tx::register_device(
                &self.device,
                self.security_level,
                &self.metadata_hash,
                &self.pairing_signature,
            )?,
            K::TransferDevice => tx::transfer_device(&self.device, &self.account)?,
            K::GrantAccess => tx::grant_access(
                &self.device,
                &self.account,
                self.permissions,
                self.expiry_height,
            )?,
            K::RevokeAccess => tx::revoke_access(&self.device, &self.account)?,
            K::Bond => Payload::Bond { amount },
            K::Unbond => Payload::Unbond { amount },
            K::DagDeposit => Payload::DagDeposit { amount },
            K::PublishSealKey => {
                return Err(ItcError::invalid_argument(
                    "a PublishSealKey payload carries a variable-length key: build it with \
                     itc_transaction_new_publish_seal_key",
                ))
            }
            K::RegisterProduct => tx::register_product(self.product, &self.account)?,
            K::PublishRelease => tx::publish_release(self.manifest.to_core()?, &self.signature)?,
            K::RevokeRelease => Payload::RevokeRelease {
                product: self.product,
                version: self.version,
            },
        })
    }
}

/// Every field of a transaction as plain data.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItcTransactionFields {
    /// Network the transaction is valid on.
    pub chain_id: u32,
    /// Signer and fee payer.
    pub sender: [u8; ITC_PUBLIC_KEY_LEN],
    /// The sender's nonce.
    pub nonce: u64,
    /// Fee in base units.
    pub fee: u64,
    /// What the transaction does.
    pub payload: ItcPayload,
    /// The sender's signature.
    pub signature: [u8; ITC_SIGNATURE_LEN],
}

handle_type! {
    /// A signed main-chain transaction (opaque, immutable). Free with
    /// [`itc_transaction_free`].
    pub struct ItcTransaction {
        pub(crate) transaction: Transaction,
    }
    tag = b"itc:tx\0\x01", kind = "transaction";
}

impl ItcTransaction {
    fn new(transaction: Transaction) -> Self {
        ItcTransaction {
            magic: Self::MAGIC,
            transaction,
        }
    }
}

/// Shared body of the builders.
///
/// # Safety
/// As for [`itc_transaction_new`].
unsafe fn build(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    payload: impl FnOnce() -> Result<Payload, ItcError>,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    // SAFETY: forwarded contract.
    unsafe { clear_handle_out(out) };
    guard(|| {
        // SAFETY: forwarded contract.
        let sender = unsafe { handle_ref(sender, "sender")? };
        let transaction = tx::sign(&sender.keypair, chain_id, nonce, fee, payload()?);
        // SAFETY: forwarded contract.
        unsafe { store_handle(out, ItcTransaction::new(transaction)) }
    })
}

/// Build and sign a transaction with any payload.
///
/// # Safety
/// `sender` must be a live key pair handle; `payload` must point to a
/// readable [`ItcPayload`]; `out` must be writable. On success `*out` is a
/// new handle to free with [`itc_transaction_free`]; on failure it is null.
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    payload: *const ItcPayload,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    let payload = || {
        if payload.is_null() {
            return Err(ItcError::NullPointer {
                argument: "payload".into(),
            });
        }
        // SAFETY: non-null and readable by the caller's contract.
        unsafe { (*payload).to_payload() }
    };
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// Build and sign a transfer of `amount` to `to` ([`ITC_PUBLIC_KEY_LEN`] bytes).
///
/// # Safety
/// As for [`itc_transaction_new`]; `to` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes.
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_transfer(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    to: *const u8,
    amount: u64,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    let payload = || tx::transfer(&unsafe { read_key(to, "to")? }, amount);
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// Length of a pairing message ([`itc_pairing_message`]) in bytes.
pub const ITC_PAIRING_MESSAGE_LEN: usize = 33;
const _: () = assert!(ITC_PAIRING_MESSAGE_LEN == itc_core::types::PAIRING_MESSAGE_LEN);

/// What a device signs to prove it was paired with `owner_public_key` at
/// `security_level`: writes [`ITC_PAIRING_MESSAGE_LEN`] bytes (the owner's
/// key, then the level) into `out_message`. A device with its own signer
/// signs them in the `ITC_SIGNING_DOMAIN_DEVICE_PAIRING` domain (for example
/// with `itc_keypair_sign`); [`itc_pairing_signature`] does both steps.
///
/// # Safety
/// `owner_public_key` must point to [`ITC_PUBLIC_KEY_LEN`] readable bytes and
/// `out_message` to [`ITC_PAIRING_MESSAGE_LEN`] writable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_pairing_message(
    owner_public_key: *const u8,
    security_level: u8,
    out_message: *mut u8,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let owner = unsafe { read_key(owner_public_key, "owner_public_key")? };
        let message = tx::pairing_message(&owner, security_level)?;
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_message, &message, "out_message") }
    })
}

/// The device's proof of pairing: `device` signs its owner's key and its
/// security level ([`itc_pairing_message`]) for chain `chain_id`. The owner
/// puts this signature into [`itc_transaction_new_register_device`] with the
/// same `security_level`; the ledger refuses a registration at any other
/// level.
///
/// # Safety
/// `device` must be a live key pair handle; `owner_public_key` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes and `out_signature` to
/// [`ITC_SIGNATURE_LEN`] writable bytes.
///
/// Thread safety: safe from any thread; `device` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_pairing_signature(
    device: *const ItcKeypair,
    chain_id: u32,
    owner_public_key: *const u8,
    security_level: u8,
    out_signature: *mut u8,
) -> ItcStatus {
    with_handle!(device, {
        // SAFETY: the caller's contract above.
        let owner = unsafe { read_key(owner_public_key, "owner_public_key")? };
        let signature = tx::pairing_signature(&device.keypair, chain_id, &owner, security_level)?;
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_signature, &signature, "out_signature") }
    })
}

/// Build and sign the registration of `device` (owned by the sender).
/// `pairing_signature` comes from [`itc_pairing_signature`], made by the
/// device over the sender's public key and `security_level`.
///
/// # Safety
/// As for [`itc_transaction_new`]; `device` and `metadata_hash` must point to
/// 32 readable bytes, `pairing_signature` to [`ITC_SIGNATURE_LEN`].
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_register_device(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    device: *const u8,
    security_level: u8,
    metadata_hash: *const u8,
    pairing_signature: *const u8,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    let payload = || {
        // SAFETY: the caller's contract above (three reads).
        let (device, metadata_hash, pairing_signature) = unsafe {
            (
                read_key(device, "device")?,
                read_array::<ITC_HASH_LEN>(metadata_hash, "metadata_hash")?,
                read_array::<ITC_SIGNATURE_LEN>(pairing_signature, "pairing_signature")?,
            )
        };
        tx::register_device(&device, security_level, &metadata_hash, &pairing_signature)
    };
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// Build and sign the hand-over of `device` to `new_owner`.
///
/// # Safety
/// As for [`itc_transaction_new`]; `device` and `new_owner` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes.
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_transfer_device(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    device: *const u8,
    new_owner: *const u8,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    let payload = || {
        // SAFETY: the caller's contract above (two reads).
        let (device, new_owner) = unsafe {
            (
                read_key(device, "device")?,
                read_key(new_owner, "new_owner")?,
            )
        };
        tx::transfer_device(&device, &new_owner)
    };
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// Build and sign a grant of `permissions` on `device` to `grantee`, valid
/// below `expiry_height`.
///
/// # Safety
/// As for [`itc_transaction_new`]; `device` and `grantee` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes.
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_grant_access(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    device: *const u8,
    grantee: *const u8,
    permissions: u32,
    expiry_height: u64,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    let payload = || {
        // SAFETY: the caller's contract above (two reads).
        let (device, grantee) =
            unsafe { (read_key(device, "device")?, read_key(grantee, "grantee")?) };
        tx::grant_access(&device, &grantee, permissions, expiry_height)
    };
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// Build and sign the revocation of `grantee`'s grant on `device`.
///
/// # Safety
/// As for [`itc_transaction_new`]; `device` and `grantee` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes.
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_revoke_access(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    device: *const u8,
    grantee: *const u8,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    let payload = || {
        // SAFETY: the caller's contract above (two reads).
        let (device, grantee) =
            unsafe { (read_key(device, "device")?, read_key(grantee, "grantee")?) };
        tx::revoke_access(&device, &grantee)
    };
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// Build and sign the bonding of `amount` as validator stake.
///
/// # Safety
/// As for [`itc_transaction_new`].
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_bond(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    amount: u64,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    let payload = || {
        Ok(Payload::Bond {
            amount: Amount(amount),
        })
    };
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// Build and sign the unbonding of `amount` of stake.
///
/// # Safety
/// As for [`itc_transaction_new`].
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_unbond(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    amount: u64,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    let payload = || {
        Ok(Payload::Unbond {
            amount: Amount(amount),
        })
    };
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// Build and sign a deposit of `amount` to the sender's balance on the DAG
/// side chain.
///
/// # Safety
/// As for [`itc_transaction_new`].
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_dag_deposit(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    amount: u64,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    let payload = || {
        Ok(Payload::DagDeposit {
            amount: Amount(amount),
        })
    };
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// Decode a transaction from its canonical bytes (strict: any other
/// encoding is refused with `ITC_STATUS_DECODE_FAILED`). The signature is
/// not checked; call [`itc_transaction_verify_signature`].
///
/// # Safety
/// `bytes` must point to `len` readable bytes; `out` must be writable. On
/// success `*out` is a new handle to free with [`itc_transaction_free`].
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        // SAFETY: the caller's contract above.
        let bytes = unsafe { read_slice(bytes, len, "bytes")? };
        let transaction = tx::decode(bytes)?;
        // SAFETY: the caller's contract above.
        unsafe { store_handle(out, ItcTransaction::new(transaction)) }
    })
}

/// Write the canonical encoding into `out[..capacity]` and its length into
/// `*written`. With a too-small buffer (or `out = NULL, capacity = 0`) the
/// call returns `ITC_STATUS_BUFFER_TOO_SMALL` and `*written` is the size
/// needed.
///
/// # Safety
/// `transaction` must be a live transaction handle; `out` must be null or
/// point to `capacity` writable bytes; `written` must be writable.
///
/// Thread safety: may run concurrently with other reads of `transaction`.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_encode(
    transaction: *const ItcTransaction,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    with_handle!(transaction, {
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&transaction.transaction.encode(), out, capacity, written) }
    })
}

/// Write the transaction's identifier (hash of its encoding,
/// [`ITC_HASH_LEN`] bytes) into `out_hash`.
///
/// # Safety
/// `transaction` must be a live transaction handle; `out_hash` must point to
/// [`ITC_HASH_LEN`] writable bytes.
///
/// Thread safety: may run concurrently with other reads of `transaction`.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_hash(
    transaction: *const ItcTransaction,
    out_hash: *mut u8,
) -> ItcStatus {
    with_handle!(transaction, {
        // SAFETY: the caller's contract above.
        unsafe { write_array(out_hash, &transaction.transaction.hash().0, "out_hash") }
    })
}

/// `ITC_STATUS_OK` if the sender's signature verifies (strict ed25519, bound
/// to the transaction's chain id), else `ITC_STATUS_INVALID_SIGNATURE` or
/// `ITC_STATUS_INVALID_PUBLIC_KEY`.
///
/// # Safety
/// `transaction` must be a live transaction handle.
///
/// Thread safety: may run concurrently with other reads of `transaction`.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_verify_signature(
    transaction: *const ItcTransaction,
) -> ItcStatus {
    with_handle!(transaction, {
        tx::verify_signature(&transaction.transaction)
    })
}

/// Copy every field of the transaction into `*out_fields`.
///
/// # Safety
/// `transaction` must be a live transaction handle; `out_fields` must point
/// to a writable [`ItcTransactionFields`].
///
/// Thread safety: may run concurrently with other reads of `transaction`.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_fields(
    transaction: *const ItcTransaction,
    out_fields: *mut ItcTransactionFields,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let transaction = &unsafe { handle_ref(transaction, "transaction")? }.transaction;
        let fields = ItcTransactionFields {
            chain_id: transaction.chain_id.0,
            sender: transaction.sender.0,
            nonce: transaction.nonce,
            fee: transaction.fee.0,
            payload: ItcPayload::from_payload(&transaction.payload)?,
            signature: transaction.signature.0,
        };
        // SAFETY: the caller's contract above.
        unsafe { write_value(out_fields, fields, "out_fields") }
    })
}

/// Free a transaction handle. Null is a no-op; a handle that is not a live
/// transaction is refused with `ITC_STATUS_INVALID_HANDLE` when detectable.
///
/// # Safety
/// `transaction` must be null or a handle from this library, not yet freed.
///
/// Thread safety: must not run concurrently with any use of `transaction`.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_free(transaction: *mut ItcTransaction) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { super::release(transaction, "transaction") }
}

/// Build and sign the publication of a sealing public key: `subject` is the
/// sender's own key (then `subject_signature` must be null) or a device the
/// sender owns (then `subject_signature` points to the device's binding
/// signature from [`itc_seal_key_binding_signature`](super::seal::itc_seal_key_binding_signature)).
/// `key_seq` is 0 for the subject's first key of `suite` (an `ItcSealSuite`
/// number), then one more at every rotation. A public key of the wrong
/// length or an invalid point is `ITC_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for [`itc_transaction_new`]; `subject` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes, `public_key` to `public_key_len`,
/// `subject_signature` be null or point to [`ITC_SIGNATURE_LEN`].
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_publish_seal_key(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    subject: *const u8,
    suite: u8,
    public_key: *const u8,
    public_key_len: usize,
    key_seq: u32,
    subject_signature: *const u8,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    let payload = || {
        let suite = crate::api::seal::SealSuite::from_id(suite)?;
        // SAFETY: the caller's contract above (three reads).
        let (key, subject_signature, subject) = unsafe {
            (
                read_slice(public_key, public_key_len, "public_key")?,
                (!subject_signature.is_null())
                    .then(|| {
                        read_array::<ITC_SIGNATURE_LEN>(subject_signature, "subject_signature")
                    })
                    .transpose()?,
                read_key(subject, "subject")?,
            )
        };
        tx::publish_seal_key(
            &subject,
            suite,
            key,
            key_seq,
            subject_signature.as_ref().map(|s| &s[..]),
        )
    };
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// The public key a PublishSealKey transaction publishes, into a caller
/// buffer (at most `ITC_SEAL_PUBLIC_KEY_MAX` bytes). Another payload kind is
/// `ITC_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `transaction` must be a live handle; `out` null or `capacity` writable
/// bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_seal_public_key(
    transaction: *const ItcTransaction,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    with_handle!(transaction, {
        let key = tx::seal_public_key(&transaction.transaction)?;
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(key, out, capacity, written) }
    })
}

/// Build and sign the registration of product line `product` with
/// `release_key` (or, by its manufacturer, the rotation of its release key).
///
/// # Safety
/// As for [`itc_transaction_new`]; `release_key` must point to
/// [`ITC_PUBLIC_KEY_LEN`] readable bytes.
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_register_product(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    product: u64,
    release_key: *const u8,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    let payload =
        || tx::register_product(product, &unsafe { read_key(release_key, "release_key")? });
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// Build and sign the publication of a firmware release: `manifest` and
/// the release key's `signature` over it
/// ([`itc_firmware_manifest_sign`](super::firmware::itc_firmware_manifest_sign)).
///
/// # Safety
/// As for [`itc_transaction_new`]; `manifest` must point to a readable
/// [`ItcFirmwareManifest`], `signature` to [`ITC_SIGNATURE_LEN`] bytes.
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_publish_release(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    manifest: *const ItcFirmwareManifest,
    signature: *const u8,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    let payload = || {
        // SAFETY: the caller's contract above (two reads).
        let (manifest, signature) = unsafe {
            (
                read_manifest(manifest)?,
                read_array::<ITC_SIGNATURE_LEN>(signature, "signature")?,
            )
        };
        tx::publish_release(manifest, &signature)
    };
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}

/// Build and sign the revocation of `product`'s current release, of version
/// `version` (a guard against revoking a newer release than intended).
///
/// # Safety
/// As for [`itc_transaction_new`].
///
/// Thread safety: safe from any thread; `sender` may be shared.
#[no_mangle]
pub unsafe extern "C" fn itc_transaction_new_revoke_release(
    sender: *const ItcKeypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    product: u64,
    version: u32,
    out: *mut *mut ItcTransaction,
) -> ItcStatus {
    let payload = || Ok(Payload::RevokeRelease { product, version });
    // SAFETY: forwarded contract.
    unsafe { build(sender, chain_id, nonce, fee, payload, out) }
}
