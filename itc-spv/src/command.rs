//! The lamp's check: may this signed command run on this device, right now?
//!
//! A grantee sends the device a [`SignedCommand`] and a [`CommandProof`]: the
//! device's registration (who owns it) and the grantee's grant, both proven
//! against the device's *own trusted header*. [`check_command`] decides,
//! offline, with a reason when it refuses.
//!
//! # Revocation safety
//! Proofs must be against exactly the device's trusted header. A proof
//! against an older header could show a grant the owner has revoked since,
//! so it is refused ([`DenyReason::StaleHeader`]); a proof against a newer
//! header needs the device to verify that header first
//! ([`DenyReason::UnknownHeader`]; [`Lamp::handle`] takes the update in the
//! same call). The trusted header itself must be younger than the device's
//! freshness bound, so a device cut off from headers stops obeying grants it
//! can no longer see revoked.
//!
//! # Example
//! ```
//! # use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
//! # use itc_core::hash::Hash;
//! # use itc_core::keys::{Keypair, SigningDomain};
//! # use itc_core::ledger::{state_key, BlockContext, Ledger};
//! # use itc_core::types::*;
//! use itc_spv::{check_command, CommandProof, LampConfig, LampVerdict, SignedCommand,
//!     StateEntryProof, TrustedState};
//! # let chain = ChainId(7);
//! # let (owner, guest, lamp) = (Keypair::from_seed([1; 32]), Keypair::from_seed([2; 32]),
//! #     Keypair::from_seed([3; 32]));
//! # let validator = Keypair::from_seed([9; 32]).public();
//! # let genesis = Genesis {
//! #     chain_id: chain.0,
//! #     accounts: vec![GenesisAccount { public_key: owner.public(), balance: 1_000 }],
//! #     validators: vec![GenesisValidator { public_key: validator, weight: 10 }],
//! #     ..Genesis::default()
//! # };
//! # let (mut ledger, _) = Ledger::from_genesis(&genesis).unwrap();
//! # let signing_set = ledger.validators().clone();
//! # let level = SecurityLevel::new(1).unwrap();
//! # let pairing = lamp.sign(SigningDomain::DevicePairing, chain,
//! #     &pairing_message(&owner.public(), level));
//! # let register = Transaction::new_signed(&owner, chain, 0, Amount(1), Payload::RegisterDevice {
//! #     device: lamp.public(), security_level: level,
//! #     metadata_hash: Hash::ZERO, pairing_signature: pairing });
//! # let grant = Transaction::new_signed(&owner, chain, 1, Amount(1), Payload::GrantAccess {
//! #     device: lamp.public(), grantee: guest.public(), permissions: Permissions::SWITCH,
//! #     expiry_height: 100 });
//! # let context = BlockContext { height: 1, proposer: validator, time_ms: 5_000 };
//! # let outcome = ledger.apply_block(&context, &[register.clone(), grant.clone()]).unwrap();
//! # let header = BlockHeader { chain_id: chain, height: 1, previous_hash: Hash::ZERO,
//! #     tx_root: Block::compute_tx_root(&[register, grant]), state_root: outcome.state_root,
//! #     dag_anchor_root: Hash::ZERO, dag_anchor_hash: Hash::ZERO, validator_set_hash: signing_set.hash(),
//! #     next_validator_set_hash: ledger.validators().hash(), time_ms: 5_000,
//! #     proposer: validator, view: 0 };
//! // The lamp trusts a header (here: pinned; in the field: updated by certificates).
//! let trusted = TrustedState::bootstrap(header.clone(), signing_set, &header.hash()).unwrap();
//! let config = LampConfig { device: lamp.public(), freshness_ms: 60_000 };
//!
//! // The guest signs a command and proves, at the lamp's header, who owns the
//! // lamp and what it was granted.
//! let command = SignedCommand::new_signed(&guest, chain, lamp.public(), Permissions::SWITCH, 1);
//! let prove = |ledger: &mut Ledger, key| {
//!     let (value, proof) = ledger.prove(&key);
//!     StateEntryProof { value, proof }
//! };
//! let proof = CommandProof {
//!     header_height: header.height,
//!     header_hash: header.hash(),
//!     device: prove(&mut ledger, state_key::device(&lamp.public())),
//!     grant: prove(&mut ledger, state_key::grant(&lamp.public(), &guest.public())),
//! };
//!
//! let now_ms = 6_000;
//! let last_counter = 0;
//! let verdict = check_command(&config, &trusted, last_counter, now_ms, &command, &proof);
//! assert_eq!(verdict, LampVerdict::Allowed { new_counter: 1 });
//! // The same command again is a replay.
//! assert!(matches!(
//!     check_command(&config, &trusted, 1, now_ms, &command, &proof),
//!     LampVerdict::Denied(itc_spv::DenyReason::ReplayedCounter)
//! ));
//! ```

use crate::proof::StateEntryProof;
use crate::trusted::TrustedState;
use crate::update::{HeaderUpdate, TrustOptions, Verdict};
use alloc::vec::Vec;
use itc_core::encoding::{Decode, DecodeError, Encode, Reader};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey, Signature, SignatureError, SigningDomain};
use itc_core::types::{ChainId, Permissions};

/// A command for a device, signed by the grantee under
/// [`SigningDomain::DeviceCommand`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCommand {
    /// Network.
    pub chain_id: ChainId,
    /// The device that is to act.
    pub device: PublicKey,
    /// Who sends the command (the device's owner or a grantee).
    pub grantee: PublicKey,
    /// The permission bits the action needs (switch, configure, ...).
    pub action: Permissions,
    /// Against replay: must exceed the last counter the device accepted.
    /// [`Lamp`] keeps one counter for all senders, so senders that share a
    /// device use a value that grows across senders, such as their clock in
    /// milliseconds, and [`Lamp`] refuses a counter further ahead of its own
    /// clock than [`TrustOptions::clock_drift_ms`] (else one sender could
    /// send `u64::MAX` and lock every other sender out for good); a caller
    /// that wants one counter per sender keeps them itself and passes the
    /// sender's to [`check_command`].
    pub counter: u64,
    /// The grantee's signature over [`SignedCommand::signing_bytes`].
    pub signature: Signature,
}

impl SignedCommand {
    /// Build and sign a command.
    pub fn new_signed(
        grantee: &Keypair,
        chain_id: ChainId,
        device: PublicKey,
        action: Permissions,
        counter: u64,
    ) -> Self {
        let mut command = SignedCommand {
            chain_id,
            device,
            grantee: grantee.public(),
            action,
            counter,
            signature: Signature::EMPTY,
        };
        command.signature = grantee.sign(
            SigningDomain::DeviceCommand,
            chain_id,
            &command.signing_bytes(),
        );
        command
    }

    /// The signed bytes: the canonical encoding without the signature.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(80);
        self.encode_unsigned(&mut out);
        out
    }

    fn encode_unsigned(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.device.encode_to(out);
        self.grantee.encode_to(out);
        self.action.encode_to(out);
        self.counter.encode_to(out);
    }

    /// Check the grantee's signature (strict ed25519, bound to the chain).
    ///
    /// # Errors
    /// [`SignatureError`] if it does not verify.
    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        self.grantee.verify(
            SigningDomain::DeviceCommand,
            self.chain_id,
            &self.signing_bytes(),
            &self.signature,
        )
    }
}

impl Encode for SignedCommand {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.encode_unsigned(out);
        self.signature.encode_to(out);
    }
}

impl Decode for SignedCommand {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedCommand {
            chain_id: Decode::decode_from(reader)?,
            device: Decode::decode_from(reader)?,
            grantee: Decode::decode_from(reader)?,
            action: Decode::decode_from(reader)?,
            counter: reader.read_u64()?,
            signature: Decode::decode_from(reader)?,
        })
    }
}

/// What the grantee proves along with a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandProof {
    /// Height of the header the proofs are against.
    pub header_height: u64,
    /// Hash of that header; must be the device's trusted header.
    pub header_hash: Hash,
    /// The device's registration ([`itc_core::ledger::DeviceRecord`]), which
    /// names its current owner.
    pub device: StateEntryProof,
    /// The grant of the device to the sender ([`itc_core::ledger::Grant`]),
    /// or its absence. Ignored when the sender is the owner.
    pub grant: StateEntryProof,
}

impl Encode for CommandProof {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.header_height.encode_to(out);
        self.header_hash.encode_to(out);
        self.device.encode_to(out);
        self.grant.encode_to(out);
    }
}

impl Decode for CommandProof {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CommandProof {
            header_height: reader.read_u64()?,
            header_hash: Decode::decode_from(reader)?,
            device: Decode::decode_from(reader)?,
            grant: Decode::decode_from(reader)?,
        })
    }
}

/// The device's fixed configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LampConfig {
    /// The device's own key: commands for other devices are refused.
    pub device: PublicKey,
    /// The trusted header must be at most this old (by its `time_ms`,
    /// against the caller's `now_ms`) for any command to be obeyed; a header
    /// more than this far *ahead* of `now_ms` means the device's clock is
    /// wrong, and nothing is obeyed either.
    pub freshness_ms: u64,
}

/// Why a command is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DenyReason {
    /// The command is for another chain.
    #[error("command is for another chain")]
    WrongChain,
    /// The command is for another device.
    #[error("command is for another device")]
    WrongDevice,
    /// The proofs are against a header older than the trusted one, or the
    /// trusted header's time is further than the freshness bound from the
    /// device's clock (older, or ahead of a clock that went backwards).
    #[error("proof header is stale")]
    StaleHeader,
    /// The proofs are against a header the device has not verified.
    #[error("proof header is not the trusted header")]
    UnknownHeader,
    /// The counter is not above the last accepted one.
    #[error("command counter replayed")]
    ReplayedCounter,
    /// The grantee's signature does not verify.
    #[error("bad command signature")]
    BadSignature,
    /// A proof does not hold against the trusted header.
    #[error("bad proof")]
    BadProof,
    /// The device is not registered, or the grant was made by someone who
    /// no longer owns it.
    #[error("not granted")]
    NotGranted,
    /// The state proves there is no grant: revoked, or never made.
    #[error("grant revoked")]
    Revoked,
    /// The grant's expiry height is not above the trusted height.
    #[error("grant expired")]
    Expired,
    /// The grant lacks a permission bit the action needs.
    #[error("insufficient permission")]
    InsufficientPermission,
    /// The counter is further ahead of the device's clock than the allowed
    /// clock drift ([`Lamp`] only: its counter is shared by every sender, so
    /// one sender jumping it far ahead would lock everyone else out).
    #[error("command counter is in the future")]
    CounterFromFuture,
}

impl DenyReason {
    /// A stable numeric code, for the C ABI and for logs.
    pub const fn code(self) -> u16 {
        match self {
            DenyReason::WrongChain => 1,
            DenyReason::WrongDevice => 2,
            DenyReason::StaleHeader => 3,
            DenyReason::UnknownHeader => 4,
            DenyReason::ReplayedCounter => 5,
            DenyReason::BadSignature => 6,
            DenyReason::BadProof => 7,
            DenyReason::NotGranted => 8,
            DenyReason::Revoked => 9,
            DenyReason::Expired => 10,
            DenyReason::InsufficientPermission => 11,
            DenyReason::CounterFromFuture => 12,
        }
    }
}

/// The lamp's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the command may run only on LampVerdict::Allowed"]
pub enum LampVerdict {
    /// Run the command, after storing `new_counter` as the last counter.
    Allowed {
        /// The counter to remember (the command's).
        new_counter: u64,
    },
    /// Refuse it.
    Denied(DenyReason),
}

/// Decide whether `command` may run, given the device's configuration, its
/// trusted state, the last accepted counter and the caller's time.
///
/// Cheap checks (chain, device, header, freshness, counter) run before the
/// signature and the proofs. The owner of the device needs no grant.
/// Allocates only what signature and proof checks need (a few hundred
/// bytes).
pub fn check_command(
    config: &LampConfig,
    trusted: &TrustedState,
    last_counter: u64,
    now_ms: u64,
    command: &SignedCommand,
    proof: &CommandProof,
) -> LampVerdict {
    let counter_range = (last_counter, u64::MAX);
    decide(config, trusted, counter_range, now_ms, command, proof)
}

/// [`check_command`] with the counter bounded on both sides: above
/// `counter_range.0` (the last accepted one) and at most `counter_range.1`.
fn decide(
    config: &LampConfig,
    trusted: &TrustedState,
    counter_range: (u64, u64),
    now_ms: u64,
    command: &SignedCommand,
    proof: &CommandProof,
) -> LampVerdict {
    match deny_reason(config, trusted, counter_range, now_ms, command, proof) {
        Ok(()) => LampVerdict::Allowed {
            new_counter: command.counter,
        },
        Err(reason) => LampVerdict::Denied(reason),
    }
}

fn deny_reason(
    config: &LampConfig,
    trusted: &TrustedState,
    (last_counter, counter_max): (u64, u64),
    now_ms: u64,
    command: &SignedCommand,
    proof: &CommandProof,
) -> Result<(), DenyReason> {
    let header = trusted.header();
    if command.chain_id != header.chain_id {
        return Err(DenyReason::WrongChain);
    }
    if command.device != config.device {
        return Err(DenyReason::WrongDevice);
    }
    if proof.header_height < header.height {
        return Err(DenyReason::StaleHeader);
    }
    if proof.header_height != header.height || proof.header_hash != header.hash() {
        return Err(DenyReason::UnknownHeader);
    }
    // Fresh in both directions: a trusted header further *ahead* of now_ms
    // than the bound means the device's clock went backwards, and without
    // this check it would never find its header stale again.
    if header.time_ms.saturating_add(config.freshness_ms) < now_ms
        || now_ms.saturating_add(config.freshness_ms) < header.time_ms
    {
        return Err(DenyReason::StaleHeader);
    }
    if command.counter <= last_counter {
        return Err(DenyReason::ReplayedCounter);
    }
    if command.counter > counter_max {
        return Err(DenyReason::CounterFromFuture);
    }
    command
        .verify_signature()
        .map_err(|_| DenyReason::BadSignature)?;
    let record = proof
        .device
        .verify_device(header, &command.device)
        .map_err(|_| DenyReason::BadProof)?
        .ok_or(DenyReason::NotGranted)?;
    if command.grantee == record.owner {
        return Ok(());
    }
    let grant = proof
        .grant
        .verify_grant(header, &command.device, &command.grantee)
        .map_err(|_| DenyReason::BadProof)?
        .ok_or(DenyReason::Revoked)?;
    if grant.granted_by != record.owner {
        return Err(DenyReason::NotGranted);
    }
    if grant.expiry_height <= header.height {
        return Err(DenyReason::Expired);
    }
    if !grant.permissions.contains(command.action) {
        return Err(DenyReason::InsufficientPermission);
    }
    Ok(())
}

/// A device's whole light-client state: configuration, trusted header and
/// last accepted counter, with the one call that handles a command.
///
/// The caller persists [`Lamp::trusted`] and [`Lamp::last_counter`] (for
/// example with [`TrustedState::to_bytes`]) *before* acting on an allowed
/// command, so a reboot can neither replay a command nor roll back to an
/// older header.
#[derive(Clone, Debug)]
pub struct Lamp {
    config: LampConfig,
    options: TrustOptions,
    trusted: TrustedState,
    last_counter: u64,
}

impl Lamp {
    /// A device with its configuration, trust options, trusted state and the
    /// last counter it accepted (0 for none).
    pub fn new(
        config: LampConfig,
        options: TrustOptions,
        trusted: TrustedState,
        last_counter: u64,
    ) -> Self {
        Lamp {
            config,
            options,
            trusted,
            last_counter,
        }
    }

    /// The trusted state, to persist.
    pub fn trusted(&self) -> &TrustedState {
        &self.trusted
    }

    /// The last accepted counter, to persist.
    pub fn last_counter(&self) -> u64 {
        self.last_counter
    }

    /// Adopt a newer header if it verifies ([`TrustedState::update`]).
    pub fn update(&mut self, update: &HeaderUpdate, now_ms: u64) -> Verdict {
        self.trusted.update(update, &self.options, now_ms)
    }

    /// Handle a command: first adopt `update` if one came with it and it
    /// verifies (a failed update is ignored; the proofs then no longer match
    /// the trusted header), then decide as [`check_command`] does, except
    /// that a counter more than the clock drift ahead of `now_ms` is refused
    /// ([`DenyReason::CounterFromFuture`]) before the signature and proofs
    /// are checked, because the counter is shared by every sender. On
    /// [`LampVerdict::Allowed`] remember the counter.
    pub fn handle(
        &mut self,
        now_ms: u64,
        update: Option<&HeaderUpdate>,
        command: &SignedCommand,
        proof: &CommandProof,
    ) -> LampVerdict {
        if let Some(update) = update {
            let _ = self.update(update, now_ms);
        }
        let counter_max = now_ms.saturating_add(self.options.clock_drift_ms);
        let verdict = decide(
            &self.config,
            &self.trusted,
            (self.last_counter, counter_max),
            now_ms,
            command,
            proof,
        );
        if let LampVerdict::Allowed { new_counter } = verdict {
            self.last_counter = new_counter;
        }
        verdict
    }
}
