//! Transactions: every payload built from byte slices and checked once,
//! signing, decoding and the pairing proof.

use super::seal::check_public_key;
use super::{hash, public_key, security_level, signature};
use crate::api::seal::SealSuite;
use crate::error::ItcError;
use itc_core::encoding::Decode;
use itc_core::firmware::FirmwareManifest;
use itc_core::keys::{Keypair, SigningDomain};
use itc_core::types::{
    Amount, ChainId, Payload, Permissions, Transaction, MODULE_BODY_MAX, PAIRING_MESSAGE_LEN,
};

/// Move `amount` to `to`.
pub(crate) fn transfer(to: &[u8], amount: u64) -> Result<Payload, ItcError> {
    Ok(Payload::Transfer {
        to: public_key(to, "to")?,
        amount: Amount(amount),
    })
}

/// Register `device` at `level` with the device's pairing signature.
pub(crate) fn register_device(
    device: &[u8],
    level: u8,
    metadata_hash: &[u8],
    pairing_signature: &[u8],
) -> Result<Payload, ItcError> {
    Ok(Payload::RegisterDevice {
        device: public_key(device, "device")?,
        security_level: security_level(level)?,
        metadata_hash: hash(metadata_hash, "metadata hash")?,
        pairing_signature: signature(pairing_signature, "pairing signature")?,
    })
}

/// Hand `device` over to `new_owner`.
pub(crate) fn transfer_device(device: &[u8], new_owner: &[u8]) -> Result<Payload, ItcError> {
    Ok(Payload::TransferDevice {
        device: public_key(device, "device")?,
        new_owner: public_key(new_owner, "new owner")?,
    })
}

/// Grant `grantee` the `permissions` on `device` below `expiry_height`.
pub(crate) fn grant_access(
    device: &[u8],
    grantee: &[u8],
    permissions: u32,
    expiry_height: u64,
) -> Result<Payload, ItcError> {
    Ok(Payload::GrantAccess {
        device: public_key(device, "device")?,
        grantee: public_key(grantee, "grantee")?,
        permissions: Permissions(permissions),
        expiry_height,
    })
}

/// Revoke `grantee`'s grant on `device`.
pub(crate) fn revoke_access(device: &[u8], grantee: &[u8]) -> Result<Payload, ItcError> {
    Ok(Payload::RevokeAccess {
        device: public_key(device, "device")?,
        grantee: public_key(grantee, "grantee")?,
    })
}

/// A ledger module's transaction, its body within [`MODULE_BODY_MAX`].
pub(crate) fn module(module: u8, body: &[u8]) -> Result<Payload, ItcError> {
    if body.len() > MODULE_BODY_MAX {
        return Err(ItcError::invalid_argument(format!(
            "module body of {} bytes exceeds {MODULE_BODY_MAX}",
            body.len()
        )));
    }
    Ok(Payload::Module {
        module,
        body: body.to_vec(),
    })
}

/// Publish `subject`'s sealing key of `suite` at rotation `key_seq`; a
/// device subject carries its binding signature.
pub(crate) fn publish_seal_key(
    subject: &[u8],
    suite: SealSuite,
    key: &[u8],
    key_seq: u32,
    subject_signature: Option<&[u8]>,
) -> Result<Payload, ItcError> {
    check_public_key(suite, key)?;
    Ok(Payload::PublishSealKey {
        subject: public_key(subject, "subject")?,
        suite: suite.to_core(),
        public_key: key.to_vec(),
        key_seq,
        subject_signature: subject_signature
            .map(|s| signature(s, "subject signature"))
            .transpose()?,
    })
}

/// Register `product` with `release_key` (or rotate its release key).
pub(crate) fn register_product(product: u64, release_key: &[u8]) -> Result<Payload, ItcError> {
    Ok(Payload::RegisterProduct {
        product,
        release_key: public_key(release_key, "release key")?,
    })
}

/// Publish a release: a checked `manifest` and the release key's signature.
pub(crate) fn publish_release(
    manifest: FirmwareManifest,
    release_signature: &[u8],
) -> Result<Payload, ItcError> {
    Ok(Payload::PublishRelease {
        manifest,
        signature: signature(release_signature, "release signature")?,
    })
}

/// Build and sign a transaction.
pub(crate) fn sign(
    sender: &Keypair,
    chain_id: u32,
    nonce: u64,
    fee: u64,
    payload: Payload,
) -> Transaction {
    Transaction::new_signed(sender, ChainId(chain_id), nonce, Amount(fee), payload)
}

/// Decode canonical transaction bytes (strict); the signature is not checked.
pub(crate) fn decode(bytes: &[u8]) -> Result<Transaction, ItcError> {
    Ok(Transaction::decode(bytes)?)
}

/// Check the sender's signature.
pub(crate) fn verify_signature(transaction: &Transaction) -> Result<(), ItcError> {
    Ok(transaction.verify_signature()?)
}

/// The public key a PublishSealKey transaction publishes.
pub(crate) fn seal_public_key(transaction: &Transaction) -> Result<&[u8], ItcError> {
    match &transaction.payload {
        Payload::PublishSealKey { public_key, .. } => Ok(public_key),
        _ => Err(ItcError::invalid_argument(
            "not a PublishSealKey transaction",
        )),
    }
}

/// What a device signs to prove it was paired with `owner` at `level`.
pub(crate) fn pairing_message(
    owner: &[u8],
    level: u8,
) -> Result<[u8; PAIRING_MESSAGE_LEN], ItcError> {
    let owner = public_key(owner, "owner public key")?;
    let level = security_level(level)?;
    Ok(itc_core::types::pairing_message(&owner, level))
}

/// `device`'s signature over [`pairing_message`] for `chain_id`.
pub(crate) fn pairing_signature(
    device: &Keypair,
    chain_id: u32,
    owner: &[u8],
    level: u8,
) -> Result<[u8; 64], ItcError> {
    let message = pairing_message(owner, level)?;
    Ok(device
        .sign(SigningDomain::DevicePairing, ChainId(chain_id), &message)
        .0)
}
