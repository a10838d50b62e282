//! The light client and the lamp's check, for the UniFFI bindings.

use super::firmware::{DeviceFirmware, ImageCheck};
use super::keys::Keypair;
use super::seal::SealSuite;
use crate::error::ItcError;
use crate::facade::{firmware, light_client as facade};
use crate::facade::{hash, public_key};
use itc_core::encoding::{Decode, Encode};
use itc_core::types::{BlockHeader, ValidatorSet};
use itc_spv::{
    CommandProof, HeaderUpdate, LampConfig, OwnerRecovery, ReplayTable, SignedCommand,
    StateEntryProof, TransactionProof, TrustedState,
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

pub use crate::codes::DenyReason;

/// The lamp's decision on a command.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum LampVerdict {
    /// Run the command; the lamp has recorded the sender's time in its
    /// replay table (persist [`Lamp::replay_table`] before acting).
    Allowed,
    /// Refuse it.
    Denied {
        /// Why.
        reason: DenyReason,
        /// Stable code of the reason (itc-spv `DenyReason::code`, 1..=15).
        code: u16,
        /// Human-readable reason.
        message: String,
    },
}

impl From<itc_spv::LampVerdict> for LampVerdict {
    fn from(verdict: itc_spv::LampVerdict) -> Self {
        match verdict {
            itc_spv::LampVerdict::Allowed => LampVerdict::Allowed,
            itc_spv::LampVerdict::Denied(reason) => LampVerdict::Denied {
                reason: reason.into(),
                code: reason.code(),
                message: reason.to_string(),
            },
        }
    }
}

/// What [`Lamp::handle`] did: the verdict on the header update that came
/// with the command (if one did) and the verdict on the command.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Handled {
    /// The update's verdict, `None` when no update came along. An
    /// [`UpdateVerdict::Invalid`] with code 14 (conflicting header) is
    /// evidence of a fork: keep the update and report it.
    pub update: Option<UpdateVerdict>,
    /// The command's verdict.
    pub command: LampVerdict,
}

impl From<itc_spv::Handled> for Handled {
    fn from(handled: itc_spv::Handled) -> Self {
        Handled {
            update: handled.update.map(Into::into),
            command: handled.command.into(),
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
    /// The device's ownership sequence when the grant was made: the grant
    /// counts only while the device's [`DeviceInfo::ownership_seq`] is still
    /// this one.
    pub ownership_seq: u64,
}

/// What [`LightClient::verify_grant`] proved about a grant at the trusted
/// header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GrantStatus {
    /// The grant record, `None` when the proof shows there is none (never
    /// made, or revoked).
    pub grant: Option<GrantInfo>,
    /// Whether the grant authorises its grantee now: present, made by the
    /// device's current owner under the device's current ownership sequence
    /// (so a grant made before the device changed hands, even if it came
    /// back, is dead), and not expired at the trusted height. Permissions
    /// are not judged here: compare [`GrantInfo::permissions`] with the
    /// action.
    pub live: bool,
    /// The device's registration at the trusted header, `None` when the
    /// device is not registered (then no grant is live).
    pub device: Option<DeviceInfo>,
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
    /// How many times the device changed hands (0 at registration, one more
    /// per transfer).
    pub ownership_seq: u64,
}

impl From<&itc_core::ledger::DeviceRecord> for DeviceInfo {
    fn from(record: &itc_core::ledger::DeviceRecord) -> Self {
        DeviceInfo {
            owner: record.owner.0.to_vec(),
            security_level: record.security_level.get(),
            metadata_hash: record.metadata_hash.0.to_vec(),
            ownership_seq: record.ownership_seq,
        }
    }
}

impl From<&itc_core::ledger::Grant> for GrantInfo {
    fn from(grant: &itc_core::ledger::Grant) -> Self {
        GrantInfo {
            permissions: grant.permissions.0,
            expiry_height: grant.expiry_height,
            granted_by: grant.granted_by.0.to_vec(),
            ownership_seq: grant.ownership_seq,
        }
    }
}

/// A sealing key proven at a light client's trusted header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SealKeyInfo {
    /// The suite.
    pub suite: SealSuite,
    /// The public key to seal to.
    pub public_key: Vec<u8>,
    /// Its rotation number (0 for the first key).
    pub key_seq: u32,
    /// The height of the block that published it.
    pub published_height: u64,
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
    /// out of band, signed by `validators` (canonical validator set bytes),
    /// at the caller's time `now_ms` (milliseconds since the Unix epoch).
    ///
    /// # Errors
    /// [`ItcError::Decode`] for malformed bytes, [`ItcError::InvalidArgument`]
    /// for a pinned hash that is not 32 bytes, [`ItcError::BootstrapRejected`]
    /// with code 1 if the header is not the pinned one, 2 if the set is not
    /// its signer, 3 if the header is older than the trust period (a state
    /// that could never be updated: bootstrap from a recent header whose
    /// hash the owner's app supplies over the pairing channel), 4 if the
    /// header is further in the future than the clock drift.
    #[uniffi::constructor]
    pub fn bootstrap(
        header: Vec<u8>,
        validators: Vec<u8>,
        pinned_hash: Vec<u8>,
        options: TrustOptions,
        now_ms: u64,
    ) -> Result<Arc<Self>, ItcError> {
        let header = BlockHeader::decode(&header)?;
        let validators = ValidatorSet::decode(&validators)?;
        let pinned = hash(&pinned_hash, "pinned hash")?;
        let options: itc_spv::TrustOptions = options.into();
        let trusted = TrustedState::bootstrap(header, validators, &pinned, &options, now_ms)?;
        Ok(Arc::new(LightClient {
            trusted: Mutex::new(trusted),
            options,
        }))
    }

    /// Load a trusted state saved with [`LightClient::save`] (or
    /// [`Lamp::trusted_state`]).
    ///
    /// # Errors
    /// [`ItcError::Decode`] for malformed or foreign bytes (including a
    /// state saved by an older version).
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

    /// The trusted header (canonical bytes).
    pub fn header(&self) -> Vec<u8> {
        lock(&self.trusted).header().encode()
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

    /// Whether the grant of `device` to `grantee` authorises its grantee
    /// now, from two state proofs at the trusted header: `device_proof`, the
    /// device's registration (who owns it, under which ownership sequence),
    /// and `grant_proof`, the grant or its absence (see [`GrantStatus`]).
    ///
    /// # Errors
    /// [`ItcError::Decode`], [`ItcError::InvalidArgument`] for a key that is
    /// not 32 bytes, or [`ItcError::ProofRejected`] if a proof does not hold
    /// against the trusted header (or is for another key).
    pub fn verify_grant(
        &self,
        device: Vec<u8>,
        grantee: Vec<u8>,
        device_proof: Vec<u8>,
        grant_proof: Vec<u8>,
    ) -> Result<GrantStatus, ItcError> {
        let device_proof = StateEntryProof::decode(&device_proof)?;
        let grant_proof = StateEntryProof::decode(&grant_proof)?;
        let device = public_key(&device, "device")?;
        let grantee = public_key(&grantee, "grantee")?;
        let trusted = lock(&self.trusted);
        let header = trusted.header();
        let record = device_proof
            .verify_device(header, &device)
            .map_err(ItcError::proof_rejected)?;
        let grant = grant_proof
            .verify_grant(header, &device, &grantee)
            .map_err(ItcError::proof_rejected)?;
        let live = match (&grant, &record) {
            (Some(grant), Some(record)) => grant.is_live(record, header.height),
            _ => false,
        };
        Ok(GrantStatus {
            grant: grant.as_ref().map(GrantInfo::from),
            live,
            device: record.as_ref().map(DeviceInfo::from),
        })
    }

    /// The sealing key of `subject` for `suite` proven at the trusted header
    /// (a state proof, for example from a node or
    /// [`DevChain::seal_key_proof`](super::dev_chain::DevChain::seal_key_proof)),
    /// or `None` when the proof shows the subject has published none. Seal
    /// to the returned key: a relay cannot substitute its own.
    ///
    /// # Errors
    /// [`ItcError::Decode`], [`ItcError::InvalidArgument`] for a subject that
    /// is not 32 bytes, [`ItcError::ProofRejected`] if the proof does not
    /// hold against the trusted header or holds another suite's record.
    pub fn verify_seal_key(
        &self,
        subject: Vec<u8>,
        suite: SealSuite,
        proof: Vec<u8>,
    ) -> Result<Option<SealKeyInfo>, ItcError> {
        let proof = StateEntryProof::decode(&proof)?;
        let subject = public_key(&subject, "subject")?;
        let record = proof
            .verify_seal_key(lock(&self.trusted).header(), &subject, suite.to_core())
            .map_err(ItcError::proof_rejected)?;
        Ok(record.map(|record| SealKeyInfo {
            suite,
            public_key: record.public_key,
            key_seq: record.key_seq,
            published_height: record.published_height,
        }))
    }

    /// Whether the release an update offer (the encoded proofs of the
    /// product's record and of its current release, from a phone, a gateway,
    /// a peer or [`DevChain::firmware_offer`](super::dev_chain::DevChain::firmware_offer))
    /// may be installed on `device`, at the trusted header and for its
    /// chain, at the device's clock `now_ms`. A trusted header more than
    /// `header_age_max_ms` older than `now_ms` is refused
    /// ([`UpdateRefusal::StaleHeader`](super::firmware::UpdateRefusal::StaleHeader)):
    /// a relay that withholds newer headers cannot get a since-revoked
    /// release installed (use the age the device accepts for commands). On
    /// success, stream the image into the returned [`ImageCheck`].
    ///
    /// # Errors
    /// [`ItcError::Decode`] for bytes that are not an offer;
    /// [`ItcError::UpdateRefused`] with the first check that failed
    /// ([`UpdateRefusal`](super::firmware::UpdateRefusal) 1..=9 or 13).
    pub fn check_firmware_update(
        &self,
        device: DeviceFirmware,
        offer: Vec<u8>,
        now_ms: u64,
        header_age_max_ms: u64,
    ) -> Result<Arc<ImageCheck>, ItcError> {
        let header = lock(&self.trusted).header().clone();
        let device = device.into();
        let check = firmware::check_offer(&header, &device, &offer, now_ms, header_age_max_ms)?;
        Ok(ImageCheck::wrap(check))
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
        Ok(record.as_ref().map(DeviceInfo::from))
    }
}

/// A sender's signed command for a device (the owner's or a grantee's), as
/// canonical bytes.
///
/// What the sender puts in it:
/// * `action`: the permission bits the command needs (2 = switch); at least
///   one, or the device refuses it ([`DenyReason::EmptyAction`]).
/// * `time_ms`: the sender's clock in milliseconds since the Unix epoch,
///   strictly greater than in this sender's previous command to this device
///   (a sender that sends twice within one millisecond uses its last time
///   plus one). The device refuses a time more than its command window
///   (default 30 s) away from its own clock in either direction
///   ([`DenyReason::CommandTooOld`], [`DenyReason::CommandFromFuture`]) and a
///   time not above the last one it accepted from this sender
///   ([`DenyReason::Replayed`]). Senders are tracked separately: one
///   sender's time never affects another's.
///
/// # Errors
/// [`ItcError::InvalidArgument`] if `device` is not 32 bytes.
#[uniffi::export]
pub fn sign_command(
    sender: Arc<Keypair>,
    chain_id: u32,
    device: Vec<u8>,
    action: u32,
    time_ms: u64,
) -> Result<Vec<u8>, ItcError> {
    facade::sign_command(&sender.inner, chain_id, &device, action, time_ms)
}

/// The owner's way back for a device that went without headers for longer
/// than its trust period: the owner signs a recent certified header for the
/// device, and the device adopts it with [`Lamp::recover`].
///
/// * `trusted_header`: the device's current trusted header (canonical
///   bytes; the device reports it, [`Lamp::trusted_header`]).
/// * `update`: a recent header update (header, certificate and its signing
///   set, which must be present).
/// * `device_proof`: the device's registration proof at the new header,
///   showing the signer still owns it, under the same ownership. (The
///   device checks the signer against the owner it proved itself, from the
///   commands it handled.)
///
/// Returns the encoded recovery, to send to the device.
///
/// # Errors
/// [`ItcError::Decode`] for malformed bytes, [`ItcError::InvalidArgument`]
/// for a device key that is not 32 bytes or an update without its
/// validator set.
#[uniffi::export]
pub fn sign_owner_recovery(
    owner: Arc<Keypair>,
    device: Vec<u8>,
    trusted_header: Vec<u8>,
    update: Vec<u8>,
    device_proof: Vec<u8>,
) -> Result<Vec<u8>, ItcError> {
    facade::sign_owner_recovery(
        &owner.inner,
        &device,
        &trusted_header,
        &update,
        &device_proof,
    )
}

/// The default command window: 30 seconds.
#[uniffi::export]
pub fn default_command_window_ms() -> u64 {
    LampConfig::COMMAND_WINDOW_MS_DEFAULT
}

/// A lamp (or any device): a light client plus its own key, a freshness
/// bound, a command window and a per-sender replay table.
#[derive(Debug, uniffi::Object)]
pub struct Lamp {
    inner: Mutex<itc_spv::Lamp>,
}

impl Lamp {
    /// The lamp's trusted header and freshness bound.
    pub(crate) fn header_and_freshness(&self) -> (BlockHeader, u64) {
        let lamp = lock(&self.inner);
        (lamp.trusted().header().clone(), lamp.config().freshness_ms)
    }
}

#[uniffi::export]
impl Lamp {
    /// A device with key `device_public_key` trusting `light_client`'s
    /// current state (copied) and its trust options, obeying only while its
    /// trusted header is at most `freshness_ms` old, refusing a command
    /// whose time is more than `command_window_ms` away from its clock
    /// ([`default_command_window_ms`]: 30 s), with the replay table
    /// `replay_table` (bytes saved from [`Lamp::replay_table`]; empty for a
    /// new device).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the key is not 32 bytes,
    /// [`ItcError::Decode`] for a malformed replay table.
    #[uniffi::constructor]
    pub fn new(
        device_public_key: Vec<u8>,
        freshness_ms: u64,
        command_window_ms: u64,
        light_client: Arc<LightClient>,
        replay_table: Vec<u8>,
    ) -> Result<Arc<Self>, ItcError> {
        let config = LampConfig {
            device: public_key(&device_public_key, "device public key")?,
            freshness_ms,
            command_window_ms,
        };
        let replay = if replay_table.is_empty() {
            ReplayTable::new()
        } else {
            ReplayTable::from_bytes(&replay_table)?
        };
        Ok(Arc::new(Lamp {
            inner: Mutex::new(itc_spv::Lamp::new(
                config,
                light_client.options,
                light_client.trusted(),
                replay,
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
    /// one came along and verifies, then check chain, device, a non-empty
    /// action, the signature, the header, registration and grant (current
    /// owner, current ownership, expiry, permissions), freshness, the
    /// command window and the sender's replay state. On
    /// [`LampVerdict::Allowed`] the sender's time is recorded. The call can
    /// change both the replay table and the trusted state (an adopted
    /// header, the owner the lamp proved, which [`Lamp::recover`] needs):
    /// persist [`Lamp::replay_table`] *and* [`Lamp::trusted_state`] after
    /// every call, before acting on an allowed command. The update's verdict
    /// is returned too: a conflicting header (code 14) is fork evidence.
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
    ) -> Result<Handled, ItcError> {
        let update = update
            .map(|bytes| HeaderUpdate::decode(&bytes))
            .transpose()?;
        let command = SignedCommand::decode(&command)?;
        let proof = CommandProof::decode(&proof)?;
        Ok(lock(&self.inner)
            .handle(now_ms, update.as_ref(), &command, &proof)
            .into())
    }

    /// Adopt the header an owner recovery (from [`sign_owner_recovery`])
    /// vouches for: the way back after a trust period without headers.
    /// Persist [`Lamp::trusted_state`] afterwards.
    ///
    /// # Errors
    /// [`ItcError::Decode`] for malformed bytes;
    /// [`ItcError::RecoveryRejected`] with its code when a check fails
    /// (nothing changes then).
    pub fn recover(&self, recovery: Vec<u8>, now_ms: u64) -> Result<(), ItcError> {
        let recovery = OwnerRecovery::decode(&recovery)?;
        lock(&self.inner).recover(&recovery, now_ms)?;
        Ok(())
    }

    /// Height of the lamp's trusted header.
    pub fn height(&self) -> u64 {
        lock(&self.inner).trusted().height()
    }

    /// The lamp's trusted header (canonical bytes): what the owner's app
    /// signs a recovery against.
    pub fn trusted_header(&self) -> Vec<u8> {
        lock(&self.inner).trusted().header().encode()
    }

    /// The replay table as versioned bytes (at most a few kilobytes):
    /// persist it before acting on an allowed command and pass it back to
    /// [`Lamp::new`] after a reboot.
    pub fn replay_table(&self) -> Vec<u8> {
        lock(&self.inner).replay().to_bytes()
    }

    /// The last time the lamp accepted from `sender`, or `None` if its
    /// replay table does not remember the sender.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the key is not 32 bytes.
    pub fn last_time_ms(&self, sender: Vec<u8>) -> Result<Option<u64>, ItcError> {
        let sender = public_key(&sender, "sender")?;
        Ok(lock(&self.inner).replay().last(&sender))
    }

    /// The trusted state as versioned bytes (persist it).
    pub fn trusted_state(&self) -> Vec<u8> {
        lock(&self.inner).trusted().to_bytes()
    }

    /// The lamp's firmware update check against its trusted header (see
    /// [`LightClient::check_firmware_update`]), at its clock `now_ms`, with
    /// its freshness bound as the oldest header it accepts (as for a
    /// command).
    ///
    /// # Errors
    /// As [`LightClient::check_firmware_update`].
    pub fn check_firmware_update(
        &self,
        device: DeviceFirmware,
        offer: Vec<u8>,
        now_ms: u64,
    ) -> Result<Arc<ImageCheck>, ItcError> {
        let (header, freshness_ms) = self.header_and_freshness();
        let device = device.into();
        let check = firmware::check_offer(&header, &device, &offer, now_ms, freshness_ms)?;
        Ok(ImageCheck::wrap(check))
    }
}
