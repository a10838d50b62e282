//! The light client and the lamp's check, for the UniFFI bindings.

use super::keys::Keypair;
use super::{hash, public_key};
use crate::error::ItcError;
use itc_core::encoding::{Decode, Encode};
use itc_core::types::{BlockHeader, ChainId, Permissions, ValidatorSet};
use itc_spv::{
    CommandProof, HeaderUpdate, LampConfig, SignedCommand, StateEntryProof, TransactionProof,
    TrustedState,
};
use std::sync::{Arc, Mutex, MutexGuard};

/// Lock a mutex, recovering from poisoning (a panic inside a lock is a bug
/// that was already reported as an internal error; the data is still valid
/// because every mutation is a single assignment).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How long a trusted header may be relied on and how far clocks may
/// disagree; the caller's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct TrustOptions {
    /// A trusted header older than this verifies nothing (must be shorter
    /// than the unbonding period).
    pub trust_period_ms: u64,
    /// How far in the future a header's time may be.
    pub clock_drift_ms: u64,
}

impl From<TrustOptions> for itc_spv::TrustOptions {
    fn from(options: TrustOptions) -> Self {
        itc_spv::TrustOptions {
            trust_period_ms: options.trust_period_ms,
            clock_drift_ms: options.clock_drift_ms,
        }
    }
}

/// Two weeks of trust and ten seconds of clock drift.
#[uniffi::export]
pub fn default_trust_options() -> TrustOptions {
    let options = itc_spv::TrustOptions::DEFAULT;
    TrustOptions {
        trust_period_ms: options.trust_period_ms,
        clock_drift_ms: options.clock_drift_ms,
    }
}

/// The outcome of a header update.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UpdateVerdict {
    /// The header is now trusted.
    Success,
    /// Too few validators the client trusts signed; verify a header halfway
    /// first (bisect) and retry.
    NotEnoughTrust,
    /// The update is invalid; `code` is a stable number, `reason` says why.
    Invalid {
        /// Stable code of the reason (itc-spv `InvalidReason::code`).
        code: u16,
        /// Human-readable reason.
        reason: String,
    },
}

impl From<itc_spv::Verdict> for UpdateVerdict {
    fn from(verdict: itc_spv::Verdict) -> Self {
        match verdict {
            itc_spv::Verdict::Success => UpdateVerdict::Success,
            itc_spv::Verdict::NotEnoughTrust => UpdateVerdict::NotEnoughTrust,
            itc_spv::Verdict::Invalid(reason) => UpdateVerdict::Invalid {
                code: reason.code(),
                reason: reason.to_string(),
            },
        }
    }
}

/// Why the lamp refused a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DenyReason {
    /// The command is for another chain.
    WrongChain,
    /// The command is for another device.
    WrongDevice,
    /// The proofs are against an old header, or the lamp's header is too old.
    StaleHeader,
    /// The proofs are against a header the lamp has not verified.
    UnknownHeader,
    /// The counter is not above the last accepted one.
    ReplayedCounter,
    /// The sender's signature does not verify (forged or altered command).
    BadSignature,
    /// A proof does not hold against the trusted header.
    BadProof,
    /// The device is unregistered or the grant's maker no longer owns it.
    NotGranted,
    /// The state proves there is no grant (revoked or never made).
    Revoked,
    /// The grant has expired.
    Expired,
    /// The grant lacks a permission the action needs.
    InsufficientPermission,
    /// The counter is further ahead of the lamp's clock than the allowed
    /// drift (it would lock other senders out).
    CounterFromFuture,
    /// A reason newer than these bindings; see the code.
    Other,
}

impl From<itc_spv::DenyReason> for DenyReason {
    fn from(reason: itc_spv::DenyReason) -> Self {
        use itc_spv::DenyReason as Spv;
        match reason {
            Spv::WrongChain => DenyReason::WrongChain,
            Spv::WrongDevice => DenyReason::WrongDevice,
            Spv::StaleHeader => DenyReason::StaleHeader,
            Spv::UnknownHeader => DenyReason::UnknownHeader,
            Spv::ReplayedCounter => DenyReason::ReplayedCounter,
            Spv::BadSignature => DenyReason::BadSignature,
            Spv::BadProof => DenyReason::BadProof,
            Spv::NotGranted => DenyReason::NotGranted,
            Spv::Revoked => DenyReason::Revoked,
            Spv::Expired => DenyReason::Expired,
            Spv::InsufficientPermission => DenyReason::InsufficientPermission,
            Spv::CounterFromFuture => DenyReason::CounterFromFuture,
            _ => DenyReason::Other,
        }
    }
}

/// The lamp's decision on a command.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum LampVerdict {
    /// Run the command; the lamp now remembers `new_counter`.
    Allowed {
        /// The command's counter.
        new_counter: u64,
    },
    /// Refuse it.
    Denied {
        /// Why.
        reason: DenyReason,
        /// Stable code of the reason (itc-spv `DenyReason::code`).
        code: u16,
        /// Human-readable reason.
        message: String,
    },
}

impl From<itc_spv::LampVerdict> for LampVerdict {
    fn from(verdict: itc_spv::LampVerdict) -> Self {
        match verdict {
            itc_spv::LampVerdict::Allowed { new_counter } => LampVerdict::Allowed { new_counter },
            itc_spv::LampVerdict::Denied(reason) => LampVerdict::Denied {
                reason: reason.into(),
                code: reason.code(),
                message: reason.to_string(),
            },
        }
    }
}

/// An access grant proven against the trusted header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GrantInfo {
    /// Permission bits.
    pub permissions: u32,
    /// First height at which the grant no longer holds.
    pub expiry_height: u64,
    /// The owner who made it.
    pub granted_by: Vec<u8>,
}

/// A device registration proven against the trusted header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceInfo {
    /// Current owner.
    pub owner: Vec<u8>,
    /// Security level, 0..=3.
    pub security_level: u8,
    /// Hash of off-chain metadata.
    pub metadata_hash: Vec<u8>,
}

/// A light client: one trusted header and its validator set.
#[derive(Debug, uniffi::Object)]
pub struct LightClient {
    trusted: Mutex<TrustedState>,
    options: itc_spv::TrustOptions,
}

impl LightClient {
    pub(crate) fn trusted(&self) -> TrustedState {
        lock(&self.trusted).clone()
    }
}

#[uniffi::export]
impl LightClient {
    /// Start trusting `header` (canonical bytes) whose hash the caller pinned
    /// out of band, signed by `validators` (canonical validator set bytes).
    ///
    /// # Errors
    /// [`ItcError::Decode`] for malformed bytes, [`ItcError::BootstrapRejected`]
    /// if the header is not the pinned one or the set is not its signer.
    #[uniffi::constructor]
    pub fn bootstrap(
        header: Vec<u8>,
        validators: Vec<u8>,
        pinned_hash: Vec<u8>,
        options: TrustOptions,
    ) -> Result<Arc<Self>, ItcError> {
        let header = BlockHeader::decode(&header)?;
        let validators = ValidatorSet::decode(&validators)?;
        let pinned = hash(&pinned_hash, "pinned hash")?;
        let trusted = TrustedState::bootstrap(header, validators, &pinned).map_err(|e| {
            ItcError::BootstrapRejected {
                reason: e.to_string(),
            }
        })?;
        Ok(Arc::new(LightClient {
            trusted: Mutex::new(trusted),
            options: options.into(),
        }))
    }

    /// Load a trusted state saved with [`LightClient::save`].
    ///
    /// # Errors
    /// [`ItcError::Decode`] for malformed or foreign bytes.
    #[uniffi::constructor]
    pub fn load(state: Vec<u8>, options: TrustOptions) -> Result<Arc<Self>, ItcError> {
        Ok(Arc::new(LightClient {
            trusted: Mutex::new(TrustedState::from_bytes(&state)?),
            options: options.into(),
        }))
    }

    /// The trusted state as versioned bytes, for flash or disk.
    pub fn save(&self) -> Vec<u8> {
        lock(&self.trusted).to_bytes()
    }

    /// Height of the trusted header.
    pub fn height(&self) -> u64 {
        lock(&self.trusted).height()
    }

    /// Hash of the trusted header.
    pub fn header_hash(&self) -> Vec<u8> {
        lock(&self.trusted).header().hash().0.to_vec()
    }

    /// Verify a newer header (an encoded header update: header, commit
    /// certificate, optional validator set) and trust it on success.
    ///
    /// # Errors
    /// [`ItcError::Decode`] if the bytes are not an update; verification
    /// failures are verdicts, not errors.
    pub fn update(&self, update: Vec<u8>, now_ms: u64) -> Result<UpdateVerdict, ItcError> {
        let update = HeaderUpdate::decode(&update)?;
        Ok(lock(&self.trusted)
            .update(&update, &self.options, now_ms)
            .into())
    }

    /// Check that a transaction is in the trusted header's block; returns
    /// the transaction's hash.
    ///
    /// # Errors
    /// [`ItcError::Decode`] or [`ItcError::ProofRejected`].
    pub fn verify_transaction(&self, proof: Vec<u8>) -> Result<Vec<u8>, ItcError> {
        let proof = TransactionProof::decode(&proof)?;
        proof
            .verify(lock(&self.trusted).header())
            .map_err(ItcError::proof_rejected)?;
        Ok(proof.transaction.hash().0.to_vec())
    }

    /// The grant of `device` to `grantee` in the trusted state, or `None`
    /// when the proof shows there is none (never granted, or revoked).
    ///
    /// # Errors
    /// [`ItcError::Decode`] or [`ItcError::ProofRejected`].
    pub fn verify_grant(
        &self,
        device: Vec<u8>,
        grantee: Vec<u8>,
        proof: Vec<u8>,
    ) -> Result<Option<GrantInfo>, ItcError> {
        let proof = StateEntryProof::decode(&proof)?;
        let grant = proof
            .verify_grant(
                lock(&self.trusted).header(),
                &public_key(&device, "device")?,
                &public_key(&grantee, "grantee")?,
            )
            .map_err(ItcError::proof_rejected)?;
        Ok(grant.map(|grant| GrantInfo {
            permissions: grant.permissions.0,
            expiry_height: grant.expiry_height,
            granted_by: grant.granted_by.0.to_vec(),
        }))
    }

    /// The registration of `device` in the trusted state, or `None` when the
    /// proof shows it is not registered.
    ///
    /// # Errors
    /// [`ItcError::Decode`] or [`ItcError::ProofRejected`].
    pub fn verify_device(
        &self,
        device: Vec<u8>,
        proof: Vec<u8>,
    ) -> Result<Option<DeviceInfo>, ItcError> {
        let proof = StateEntryProof::decode(&proof)?;
        let record = proof
            .verify_device(
                lock(&self.trusted).header(),
                &public_key(&device, "device")?,
            )
            .map_err(ItcError::proof_rejected)?;
        Ok(record.map(|record| DeviceInfo {
            owner: record.owner.0.to_vec(),
            security_level: record.security_level.get(),
            metadata_hash: record.metadata_hash.0.to_vec(),
        }))
    }
}

/// A grantee's signed command for a device, as canonical bytes.
///
/// `action` holds the permission bits the command needs (2 = switch);
/// `counter` must rise with every command the grantee sends to the device.
///
/// # Errors
/// [`ItcError::InvalidArgument`] if `device` is not 32 bytes.
#[uniffi::export]
pub fn sign_command(
    grantee: Arc<Keypair>,
    chain_id: u32,
    device: Vec<u8>,
    action: u32,
    counter: u64,
) -> Result<Vec<u8>, ItcError> {
    Ok(SignedCommand::new_signed(
        &grantee.inner,
        ChainId(chain_id),
        public_key(&device, "device")?,
        Permissions(action),
        counter,
    )
    .encode())
}

/// A lamp (or any device): a light client plus its own key, a freshness
/// bound and the last accepted command counter.
#[derive(Debug, uniffi::Object)]
pub struct Lamp {
    inner: Mutex<itc_spv::Lamp>,
}

#[uniffi::export]
impl Lamp {
    /// A device with key `device_public_key` trusting `light_client`'s
    /// current state (copied), obeying only while its trusted header is at
    /// most `freshness_ms` old, having accepted counters up to
    /// `last_counter` (0 for none).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the key is not 32 bytes.
    #[uniffi::constructor]
    pub fn new(
        device_public_key: Vec<u8>,
        freshness_ms: u64,
        light_client: Arc<LightClient>,
        last_counter: u64,
    ) -> Result<Arc<Self>, ItcError> {
        let config = LampConfig {
            device: public_key(&device_public_key, "device public key")?,
            freshness_ms,
        };
        Ok(Arc::new(Lamp {
            inner: Mutex::new(itc_spv::Lamp::new(
                config,
                light_client.options,
                light_client.trusted(),
                last_counter,
            )),
        }))
    }

    /// Adopt a newer header if it verifies.
    ///
    /// # Errors
    /// [`ItcError::Decode`] if the bytes are not a header update.
    pub fn update(&self, update: Vec<u8>, now_ms: u64) -> Result<UpdateVerdict, ItcError> {
        let update = HeaderUpdate::decode(&update)?;
        Ok(lock(&self.inner).update(&update, now_ms).into())
    }

    /// The lamp's whole check of a command in one call: adopt `update` if
    /// one came along and verifies, then check chain, device, header,
    /// freshness, replay counter, signature, registration and grant
    /// (expiry, permissions). On `Allowed` the counter is remembered.
    ///
    /// # Errors
    /// [`ItcError::Decode`] if the command, proof or update bytes are
    /// malformed; every other refusal is a [`LampVerdict::Denied`].
    pub fn handle(
        &self,
        now_ms: u64,
        update: Option<Vec<u8>>,
        command: Vec<u8>,
        proof: Vec<u8>,
    ) -> Result<LampVerdict, ItcError> {
        let update = update
            .map(|bytes| HeaderUpdate::decode(&bytes))
            .transpose()?;
        let command = SignedCommand::decode(&command)?;
        let proof = CommandProof::decode(&proof)?;
        Ok(lock(&self.inner)
            .handle(now_ms, update.as_ref(), &command, &proof)
            .into())
    }

    /// Height of the lamp's trusted header.
    pub fn height(&self) -> u64 {
        lock(&self.inner).trusted().height()
    }

    /// The last accepted counter (persist it before acting on a command).
    pub fn last_counter(&self) -> u64 {
        lock(&self.inner).last_counter()
    }

    /// The trusted state as versioned bytes (persist it).
    pub fn trusted_state(&self) -> Vec<u8> {
        lock(&self.inner).trusted().to_bytes()
    }
}
