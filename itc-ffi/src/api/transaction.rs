//! Transactions for the UniFFI bindings.

use super::firmware::FirmwareManifest;
use super::keys::Keypair;
use super::seal::SealSuite;
use crate::error::ItcError;
use crate::facade::transaction as tx;
use itc_core::encoding::Encode;
use itc_core::types::Amount;
use std::sync::Arc;

/// What a transaction does. Keys and hashes are 32 bytes, signatures 64.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Payload {
    /// Move `amount` base units to `to`.
    Transfer {
        /// Receiver's public key.
        to: Vec<u8>,
        /// Amount moved (the fee is separate).
        amount: u64,
    },
    /// Register a device owned by the sender.
    RegisterDevice {
        /// The device's public key.
        device: Vec<u8>,
        /// Security level, 0..=3.
        security_level: u8,
        /// Hash of off-chain metadata.
        metadata_hash: Vec<u8>,
        /// The device's signature over the sender's key and
        /// `security_level` ([`pairing_signature`], [`pairing_message`]).
        pairing_signature: Vec<u8>,
    },
    /// Hand a device over to a new owner.
    TransferDevice {
        /// The device.
        device: Vec<u8>,
        /// Its new owner.
        new_owner: Vec<u8>,
    },
    /// Grant access to a device until a height.
    GrantAccess {
        /// The device.
        device: Vec<u8>,
        /// Who may use it.
        grantee: Vec<u8>,
        /// Permission bits (1 read, 2 switch, 4 configure).
        permissions: u32,
        /// First height at which the grant no longer holds.
        expiry_height: u64,
    },
    /// Remove a grant.
    RevokeAccess {
        /// The device.
        device: Vec<u8>,
        /// Whose grant to remove.
        grantee: Vec<u8>,
    },
    /// Lock tokens as validator stake.
    Bond {
        /// Amount to bond.
        amount: u64,
    },
    /// Unlock stake.
    Unbond {
        /// Amount to unbond.
        amount: u64,
    },
    /// Move tokens to the sender's balance on the DAG side chain.
    DagDeposit {
        /// Amount to deposit.
        amount: u64,
    },
    /// A transaction for the ledger module with id `module` (ChainCode,
    /// for example), which decodes and executes `body` (at most 256 KiB).
    Module {
        /// The module's id.
        module: u8,
        /// The module's own encoding of what to do.
        body: Vec<u8>,
    },
    /// Publish a sealing public key (rotation `key_seq`: 0 for the first key
    /// of (`subject`, `suite`), then one more at every rotation). The
    /// sender's own key: `subject` = the sender, no signature. A device's
    /// key (sent by its owner): `subject` = the device, with the device's
    /// [`seal_key_binding_signature`](super::seal::seal_key_binding_signature).
    PublishSealKey {
        /// The account or device whose key it is (32 bytes).
        subject: Vec<u8>,
        /// The suite.
        suite: SealSuite,
        /// The public key (32 bytes for X25519, 1,216 for X-Wing).
        public_key: Vec<u8>,
        /// The rotation number.
        key_seq: u32,
        /// The device's binding signature (64 bytes) when `subject` is a
        /// device.
        subject_signature: Option<Vec<u8>>,
    },
    /// Register a product line (the first to register an id owns it), or
    /// rotate its release key (its manufacturer only).
    RegisterProduct {
        /// The product's id.
        product: u64,
        /// The key that signs its manifests (32 bytes).
        release_key: Vec<u8>,
    },
    /// Publish a firmware release, newer than the product's current one.
    PublishRelease {
        /// The manifest.
        manifest: FirmwareManifest,
        /// The release key's signature
        /// ([`firmware_manifest_sign`](super::firmware::firmware_manifest_sign), 64 bytes).
        signature: Vec<u8>,
    },
    /// Revoke a product's current release (its manufacturer only).
    RevokeRelease {
        /// The product.
        product: u64,
        /// The current release's version (a guard).
        version: u32,
    },
}

impl Payload {
    fn to_core(&self) -> Result<itc_core::types::Payload, ItcError> {
        use itc_core::types::Payload as Core;
        Ok(match self {
            Payload::Transfer { to, amount } => tx::transfer(to, *amount)?,
            Payload::RegisterDevice {
                device,
                security_level,
                metadata_hash,
                pairing_signature,
            } => tx::register_device(device, *security_level, metadata_hash, pairing_signature)?,
            Payload::TransferDevice { device, new_owner } => {
                tx::transfer_device(device, new_owner)?
            }
            Payload::GrantAccess {
                device,
                grantee,
                permissions,
                expiry_height,
            } => tx::grant_access(device, grantee, *permissions, *expiry_height)?,
            Payload::RevokeAccess { device, grantee } => tx::revoke_access(device, grantee)?,
            Payload::Bond { amount } => Core::Bond {
                amount: Amount(*amount),
            },
            Payload::Unbond { amount } => Core::Unbond {
                amount: Amount(*amount),
            },
            Payload::DagDeposit { amount } => Core::DagDeposit {
                amount: Amount(*amount),
            },
            Payload::Module { module, body } => tx::module(*module, body)?,
            Payload::PublishSealKey {
                subject,
                suite,
                public_key,
                key_seq,
                subject_signature,
            } => tx::publish_seal_key(
                subject,
                *suite,
                public_key,
                *key_seq,
                subject_signature.as_deref(),
            )?,
            Payload::RegisterProduct {
                product,
                release_key,
            } => tx::register_product(*product, release_key)?,
            Payload::PublishRelease {
                manifest,
                signature,
            } => tx::publish_release(manifest.to_core()?, signature)?,
            Payload::RevokeRelease { product, version } => Core::RevokeRelease {
                product: *product,
                version: *version,
            },
        })
    }

    fn from_core(payload: &itc_core::types::Payload) -> Result<Self, ItcError> {
        use itc_core::types::Payload as Core;
        Ok(match payload {
            Core::Transfer { to, amount } => Payload::Transfer {
                to: to.0.to_vec(),
                amount: amount.0,
            },
            Core::RegisterDevice {
                device,
                security_level,
                metadata_hash,
                pairing_signature,
            } => Payload::RegisterDevice {
                device: device.0.to_vec(),
                security_level: security_level.get(),
                metadata_hash: metadata_hash.0.to_vec(),
                pairing_signature: pairing_signature.0.to_vec(),
            },
            Core::TransferDevice { device, new_owner } => Payload::TransferDevice {
                device: device.0.to_vec(),
                new_owner: new_owner.0.to_vec(),
            },
            Core::GrantAccess {
                device,
                grantee,
                permissions,
                expiry_height,
            } => Payload::GrantAccess {
                device: device.0.to_vec(),
                grantee: grantee.0.to_vec(),
                permissions: permissions.0,
                expiry_height: *expiry_height,
            },
            Core::RevokeAccess { device, grantee } => Payload::RevokeAccess {
                device: device.0.to_vec(),
                grantee: grantee.0.to_vec(),
            },
            Core::Bond { amount } => Payload::Bond { amount: amount.0 },
            Core::Unbond { amount } => Payload::Unbond { amount: amount.0 },
            Core::DagDeposit { amount } => Payload::DagDeposit { amount: amount.0 },
            Core::Module { module, body } => Payload::Module {
                module: *module,
                body: body.clone(),
            },
            Core::PublishSealKey {
                subject,
                suite,
                public_key,
                key_seq,
                subject_signature,
            } => Payload::PublishSealKey {
                subject: subject.0.to_vec(),
                suite: SealSuite::from_core(*suite)?,
                public_key: public_key.clone(),
                key_seq: *key_seq,
                subject_signature: subject_signature.map(|s| s.0.to_vec()),
            },
            Core::RegisterProduct {
                product,
                release_key,
            } => Payload::RegisterProduct {
                product: *product,
                release_key: release_key.0.to_vec(),
            },
            Core::PublishRelease {
                manifest,
                signature,
            } => Payload::PublishRelease {
                manifest: FirmwareManifest::from_core(manifest),
                signature: signature.0.to_vec(),
            },
            Core::RevokeRelease { product, version } => Payload::RevokeRelease {
                product: *product,
                version: *version,
            },
            _ => {
                return Err(ItcError::Internal {
                    reason: "payload kind not supported by the bindings".into(),
                })
            }
        })
    }
}

/// What a device signs, in the `DevicePairing` signing domain, to prove it
/// was paired with `owner_public_key` at `security_level` (33 bytes: the
/// owner's key, then the level). For devices that sign with their own
/// signer (for example through [`Keypair::sign`]); [`pairing_signature`]
/// does both steps.
///
/// # Errors
/// [`ItcError::InvalidArgument`] if the owner key is not 32 bytes or the
/// level is above 3.
#[uniffi::export]
pub fn pairing_message(owner_public_key: Vec<u8>, security_level: u8) -> Result<Vec<u8>, ItcError> {
    Ok(tx::pairing_message(&owner_public_key, security_level)?.to_vec())
}

/// The device's proof of pairing: `device` signs its owner's key and its
/// security level ([`pairing_message`]) for `chain_id` (64 bytes). Goes into
/// [`Payload::RegisterDevice`] with the same `security_level`; the ledger
/// refuses a registration at any other level.
///
/// # Errors
/// [`ItcError::InvalidArgument`] if the owner key is not 32 bytes or the
/// level is above 3.
#[uniffi::export]
pub fn pairing_signature(
    device: Arc<Keypair>,
    chain_id: u32,
    owner_public_key: Vec<u8>,
    security_level: u8,
) -> Result<Vec<u8>, ItcError> {
    let signature =
        tx::pairing_signature(&device.inner, chain_id, &owner_public_key, security_level)?;
    Ok(signature.to_vec())
}

/// A signed main-chain transaction (immutable).
#[derive(Debug, uniffi::Object)]
pub struct Transaction {
    pub(crate) inner: itc_core::types::Transaction,
}

#[uniffi::export]
impl Transaction {
    /// Build and sign a transaction.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if a payload field has the wrong length
    /// or value.
    #[uniffi::constructor]
    pub fn new_signed(
        sender: Arc<Keypair>,
        chain_id: u32,
        nonce: u64,
        fee: u64,
        payload: Payload,
    ) -> Result<Arc<Self>, ItcError> {
        let inner = tx::sign(&sender.inner, chain_id, nonce, fee, payload.to_core()?);
        Ok(Arc::new(Transaction { inner }))
    }

    /// Decode canonical bytes (strict). The signature is not checked.
    ///
    /// # Errors
    /// [`ItcError::Decode`] if the bytes are not a canonical transaction.
    #[uniffi::constructor]
    pub fn decode(bytes: Vec<u8>) -> Result<Arc<Self>, ItcError> {
        Ok(Arc::new(Transaction {
            inner: tx::decode(&bytes)?,
        }))
    }

    /// The canonical encoding: what is signed, hashed and sent.
    pub fn encode(&self) -> Vec<u8> {
        self.inner.encode()
    }

    /// The transaction's identifier (32 bytes).
    pub fn hash(&self) -> Vec<u8> {
        self.inner.hash().0.to_vec()
    }

    /// Check the sender's signature.
    ///
    /// # Errors
    /// [`ItcError::InvalidSignature`] or [`ItcError::InvalidPublicKey`].
    pub fn verify_signature(&self) -> Result<(), ItcError> {
        tx::verify_signature(&self.inner)
    }

    /// Network id.
    pub fn chain_id(&self) -> u32 {
        self.inner.chain_id.0
    }

    /// The sender's public key.
    pub fn sender(&self) -> Vec<u8> {
        self.inner.sender.0.to_vec()
    }

    /// The sender's nonce.
    pub fn nonce(&self) -> u64 {
        self.inner.nonce
    }

    /// The fee in base units.
    pub fn fee(&self) -> u64 {
        self.inner.fee.0
    }

    /// What the transaction does.
    ///
    /// # Errors
    /// [`ItcError::Internal`] for a payload kind newer than the bindings.
    pub fn payload(&self) -> Result<Payload, ItcError> {
        Payload::from_core(&self.inner.payload)
    }

    /// The sender's signature (64 bytes).
    pub fn signature(&self) -> Vec<u8> {
        self.inner.signature.0.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_payload_round_trips_through_the_bindings_and_the_encoding() {
        let sender = Keypair::from_seed(vec![4; 32]).unwrap();
        let payload = Payload::Module {
            module: 3,
            body: vec![1, 2, 3],
        };
        let tx = Transaction::new_signed(sender, 7, 0, 1, payload.clone()).unwrap();
        assert_eq!(tx.payload().unwrap(), payload);
        tx.verify_signature().unwrap();
        let back = Transaction::decode(tx.encode()).unwrap();
        assert_eq!(back.payload().unwrap(), payload);
        // The C ABI's fixed-size payload struct names what it cannot hold.
        match crate::c_api::transaction::ItcPayload::from_payload(&back.inner.payload) {
            Err(ItcError::InvalidArgument { reason }) => {
                assert!(reason.contains("module 3"), "{reason}")
            }
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn a_module_body_over_the_cap_is_refused_as_an_argument() {
        let sender = Keypair::from_seed(vec![4; 32]).unwrap();
        let payload = Payload::Module {
            module: 3,
            body: vec![0; itc_core::types::MODULE_BODY_MAX + 1],
        };
        assert!(matches!(
            Transaction::new_signed(sender, 7, 0, 1, payload),
            Err(ItcError::InvalidArgument { .. })
        ));
    }
}
