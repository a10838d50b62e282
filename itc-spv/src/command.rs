//! The lamp's check: may this signed command run on this device, right now?
//!
//! A grantee sends the device a [`SignedCommand`] and a [`CommandProof`]: the
//! device's registration (who owns it) and the grantee's grant, both proven
//! against the device's *own trusted header*. [`check_command`] decides,
//! offline, with a reason when it refuses; [`Lamp`] keeps the state that
//! decision needs (trusted header, [`ReplayTable`]) and updates it.
//!
//! # What a sender puts in a command
//! * `action`: the permission bits the action needs; at least one.
//! * `time_ms`: the sender's clock in milliseconds since the Unix epoch,
//!   strictly greater than in the sender's previous command to this device
//!   (a sender that sends twice within one millisecond uses its last time
//!   plus one). The device refuses a time outside its command window
//!   ([`LampConfig::command_window_ms`]) around its own clock, in either
//!   direction, and a time not above the last one it accepted from this
//!   sender ([`crate::replay`]).
//! * The proofs of the device's registration and of the grant, at the
//!   device's trusted header (a gateway or the chain's API supplies them).
//!
//! # Order of the checks
//! The chain, the device and a non-empty action are checked first (they are
//! public); then the signature; then the proofs, which show the sender is
//! the owner or holds a live grant; only then the header's freshness, the
//! command's time window and the replay table. Someone without a grant
//! learns neither the device's clock nor any sender's last time from the
//! reasons it gets.
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
//! use itc_spv::{check_command, CommandProof, DenyReason, LampConfig, LampVerdict,
//!     ReplayTable, SignedCommand, StateEntryProof, TrustOptions, TrustedState};
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
//! #     tx_root: Block::compute_tx_root(&[register, grant]), tx_count: 2, state_root: outcome.state_root,
//! #     dag_anchor_root: Hash::ZERO, dag_anchor_hash: Hash::ZERO, validator_set_hash: signing_set.hash(),
//! #     next_validator_set_hash: ledger.validators().hash(), time_ms: 5_000,
//! #     proposer: validator, view: 0 };
//! // The lamp trusts a header (here: pinned; in the field: updated by certificates).
//! let now_ms = 6_000;
//! let trusted = TrustedState::bootstrap(header.clone(), signing_set, &header.hash(),
//!     &TrustOptions::default(), now_ms).unwrap();
//! let config = LampConfig { device: lamp.public(), freshness_ms: 60_000,
//!     command_window_ms: 30_000 };
//!
//! // The guest signs a command with its clock and proves, at the lamp's
//! // header, who owns the lamp and what it was granted.
//! let command = SignedCommand::new_signed(&guest, chain, lamp.public(), Permissions::SWITCH,
//!     5_900);
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
//! let mut replay = ReplayTable::new();
//! let verdict = check_command(&config, &trusted, &replay, now_ms, &command, &proof);
//! assert_eq!(verdict, LampVerdict::Allowed);
//! replay.accept(&command.grantee, command.time_ms);
//! // The same command again is a replay.
//! assert_eq!(
//!     check_command(&config, &trusted, &replay, now_ms, &command, &proof),
//!     LampVerdict::Denied(DenyReason::Replayed)
//! );
//! ```

use crate::proof::StateEntryProof;
use crate::replay::{ReplayCheck, ReplayTable};
use crate::trusted::TrustedState;
use crate::update::{HeaderUpdate, TrustOptions, Verdict};
use alloc::vec::Vec;
use itc_core::encoding::{Decode, DecodeError, Encode, Reader};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey, Signature, SignatureError, SigningDomain};
use itc_core::ledger::DeviceRecord;
use itc_core::types::{ChainId, Permissions};

/// Version byte that starts a command's encoding and its signed bytes.
/// Version 2 (this one) carries the sender's time and is checked per sender;
/// a version-1 command (one counter shared by every sender) does not decode.
pub const COMMAND_VERSION: u8 = 2;

/// A command for a device, signed by the sender under
/// [`SigningDomain::DeviceCommand`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCommand {
    /// Network.
    pub chain_id: ChainId,
    /// The device that is to act.
    pub device: PublicKey,
    /// Who sends the command (the device's owner or a grantee).
    pub grantee: PublicKey,
    /// The permission bits the action needs (switch, configure, ...); at
    /// least one.
    pub action: Permissions,
    /// The sender's clock, in milliseconds since the Unix epoch, strictly
    /// greater than in the sender's previous command to this device (see the
    /// [module docs](self)). It bounds how late a recorded command can be
    /// delivered and is the sender's replay counter.
    pub time_ms: u64,
    /// The sender's signature over [`SignedCommand::signing_bytes`].
    pub signature: Signature,
}

impl SignedCommand {
    /// Build and sign a command.
    pub fn new_signed(
        grantee: &Keypair,
        chain_id: ChainId,
        device: PublicKey,
        action: Permissions,
        time_ms: u64,
    ) -> Self {
        let mut command = SignedCommand {
            chain_id,
            device,
            grantee: grantee.public(),
            action,
            time_ms,
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
        let mut out = Vec::with_capacity(81);
        self.encode_unsigned(&mut out);
        out
    }

    fn encode_unsigned(&self, out: &mut Vec<u8>) {
        out.push(COMMAND_VERSION);
        self.chain_id.encode_to(out);
        self.device.encode_to(out);
        self.grantee.encode_to(out);
        self.action.encode_to(out);
        self.time_ms.encode_to(out);
    }

    /// Check the sender's signature (strict ed25519, bound to the chain).
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
        let version = reader.read_u8()?;
        if version != COMMAND_VERSION {
            return Err(DecodeError::InvalidTag {
                what: "command version",
                tag: version,
            });
        }
        Ok(SignedCommand {
            chain_id: Decode::decode_from(reader)?,
            device: Decode::decode_from(reader)?,
            grantee: Decode::decode_from(reader)?,
            action: Decode::decode_from(reader)?,
            time_ms: reader.read_u64()?,
            signature: Decode::decode_from(reader)?,
        })
    }
}

/// What the sender proves along with a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandProof {
    /// Height of the header the proofs are against.
    pub header_height: u64,
    /// Hash of that header; must be the device's trusted header.
    pub header_hash: Hash,
    /// The device's registration ([`itc_core::ledger::DeviceRecord`]), which
    /// names its current owner and ownership sequence.
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
    /// A command's time must lie within this many milliseconds of the
    /// device's clock, in both directions: a recorded command delivered
    /// later than this is refused ([`DenyReason::CommandTooOld`]), and so is
    /// one from a sender whose clock runs this far ahead
    /// ([`DenyReason::CommandFromFuture`]). It must cover the clock
    /// disagreement between senders and the device plus the delivery delay;
    /// [`LampConfig::COMMAND_WINDOW_MS_DEFAULT`] is 30 seconds.
    pub command_window_ms: u64,
}

impl LampConfig {
    /// The default command window: 30 seconds.
    pub const COMMAND_WINDOW_MS_DEFAULT: u64 = 30_000;
}

/// The list of [`DenyReason`]s and their stable codes, written once: the
/// canonical enum below and the bindings (`itc-ffi`: UniFFI enum, C
/// constants `ITC_DENY_REASON_*`) are all generated from it. Pass a
/// callback macro and its leading tokens, as in
/// `deny_reasons!(itc_core::stable_codes! { pub enum DenyReason: u8, code u16 })`.
/// Codes are stable: add new reasons at the end, never renumber.
#[macro_export]
macro_rules! deny_reasons {
    ($($callback:ident)::+ ! { $($prefix:tt)* }) => {
        $($callback)::+! { $($prefix)* {
            /// The command is for another chain.
            WrongChain = 1 => "command is for another chain",
            /// The command is for another device.
            WrongDevice = 2 => "command is for another device",
            /// The proofs are against a header older than the trusted one, or
            /// the trusted header's time is further than the freshness bound
            /// from the device's clock (older, or ahead of a clock that went
            /// backwards).
            StaleHeader = 3 => "proof header is stale",
            /// The proofs are against a header the device has not verified.
            UnknownHeader = 4 => "proof header is not the trusted header",
            /// The sender's time is not above the last one the device accepted
            /// from this sender (a replay).
            Replayed = 5 => "command replayed",
            /// The sender's signature does not verify (forged or altered
            /// command).
            BadSignature = 6 => "bad command signature",
            /// A proof does not hold against the trusted header.
            BadProof = 7 => "bad proof",
            /// The device is not registered, or the grant was made by someone
            /// who no longer owns it, or under an earlier ownership of the
            /// device.
            NotGranted = 8 => "not granted",
            /// The state proves there is no grant: revoked, or never made.
            Revoked = 9 => "grant revoked",
            /// The grant's expiry height is not above the trusted height.
            Expired = 10 => "grant expired",
            /// The grant lacks a permission bit the action needs.
            InsufficientPermission = 11 => "insufficient permission",
            /// The command's time is more than the command window ahead of the
            /// device's clock.
            CommandFromFuture = 12 => "command time is in the future",
            /// The command's time is more than the command window behind the
            /// device's clock (a recorded command delivered late).
            CommandTooOld = 13 => "command is too old",
            /// The command asks for no permission bit.
            EmptyAction = 14 => "command asks for no permission",
            /// The sender is not in the device's full replay table and its time
            /// is not above the table's floor; it is accepted once the sender's
            /// clock passes the floor.
            BelowReplayFloor = 15 => "command is not newer than the replay table's floor",
        } }
    };
}

deny_reasons!(itc_core::stable_codes! {
    /// Why a command is refused. The codes ([`DenyReason::code`]) are stable;
    /// the list is [`deny_reasons!`](crate::deny_reasons).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum DenyReason: u8, code u16
});

/// The lamp's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the command may run only on LampVerdict::Allowed"]
pub enum LampVerdict {
    /// Run the command, after recording it in the replay table
    /// ([`ReplayTable::accept`]; [`Lamp::handle`] does it).
    Allowed,
    /// Refuse it.
    Denied(DenyReason),
}

/// Decide whether `command` may run, given the device's configuration, its
/// trusted state, its replay table and the caller's time. Changes nothing:
/// on [`LampVerdict::Allowed`] the caller records the command with
/// `replay.accept(&command.grantee, command.time_ms)` and persists the table
/// before acting ([`Lamp::handle`] does both steps in one call).
///
/// The owner of the device needs no grant. See the [module docs](self) for
/// the order of the checks. Allocates only what signature and proof checks
/// need (a few hundred bytes).
pub fn check_command(
    config: &LampConfig,
    trusted: &TrustedState,
    replay: &ReplayTable,
    now_ms: u64,
    command: &SignedCommand,
    proof: &CommandProof,
) -> LampVerdict {
    evaluate(config, trusted, replay, now_ms, command, proof, &mut None)
}

/// [`check_command`], also returning the device's registration when its
/// proof was verified against the trusted header (in `proven`).
fn evaluate(
    config: &LampConfig,
    trusted: &TrustedState,
    replay: &ReplayTable,
    now_ms: u64,
    command: &SignedCommand,
    proof: &CommandProof,
    proven: &mut Option<DeviceRecord>,
) -> LampVerdict {
    match deny_reason(config, trusted, replay, now_ms, command, proof, proven) {
        Ok(()) => LampVerdict::Allowed,
        Err(reason) => LampVerdict::Denied(reason),
    }
}

fn deny_reason(
    config: &LampConfig,
    trusted: &TrustedState,
    replay: &ReplayTable,
    now_ms: u64,
    command: &SignedCommand,
    proof: &CommandProof,
    proven: &mut Option<DeviceRecord>,
) -> Result<(), DenyReason> {
    let header = trusted.header();
    // Public facts first.
    if command.chain_id != header.chain_id {
        return Err(DenyReason::WrongChain);
    }
    if command.device != config.device {
        return Err(DenyReason::WrongDevice);
    }
    if command.action.is_empty() {
        return Err(DenyReason::EmptyAction);
    }
    // Then who is asking: nothing below is revealed to a forger.
    command
        .verify_signature()
        .map_err(|_| DenyReason::BadSignature)?;
    if proof.header_height < header.height {
        return Err(DenyReason::StaleHeader);
    }
    if proof.header_height != header.height || proof.header_hash != header.hash() {
        return Err(DenyReason::UnknownHeader);
    }
    authorize(header, command, proof, proven)?;
    // Only an authorised sender learns about the device's clock and its
    // replay state. Fresh in both directions: a trusted header further
    // *ahead* of now_ms than the bound means the device's clock went
    // backwards, and without this check it would never find its header
    // stale again.
    if header.time_ms.saturating_add(config.freshness_ms) < now_ms
        || now_ms.saturating_add(config.freshness_ms) < header.time_ms
    {
        return Err(DenyReason::StaleHeader);
    }
    if command.time_ms.saturating_add(config.command_window_ms) < now_ms {
        return Err(DenyReason::CommandTooOld);
    }
    if command.time_ms > now_ms.saturating_add(config.command_window_ms) {
        return Err(DenyReason::CommandFromFuture);
    }
    match replay.check(&command.grantee, command.time_ms) {
        ReplayCheck::Fresh => Ok(()),
        ReplayCheck::Replayed => Err(DenyReason::Replayed),
        ReplayCheck::BelowFloor => Err(DenyReason::BelowReplayFloor),
    }
}

/// The sender owns the device, or holds a grant made by the current owner
/// under the current ownership, unexpired, with every bit of the action.
fn authorize(
    header: &itc_core::types::BlockHeader,
    command: &SignedCommand,
    proof: &CommandProof,
    proven: &mut Option<DeviceRecord>,
) -> Result<(), DenyReason> {
    let record = proof
        .device
        .verify_device(header, &command.device)
        .map_err(|_| DenyReason::BadProof)?
        .ok_or(DenyReason::NotGranted)?;
    *proven = Some(record);
    if command.grantee == record.owner {
        return Ok(());
    }
    let grant = proof
        .grant
        .verify_grant(header, &command.device, &command.grantee)
        .map_err(|_| DenyReason::BadProof)?
        .ok_or(DenyReason::Revoked)?;
    if !grant.is_current(&record) {
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

/// What [`Lamp::handle`] did: the verdict on the header update that came
/// with the command (if one did), and the verdict on the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the command may run only on LampVerdict::Allowed, and an invalid update may be fork evidence"]
pub struct Handled {
    /// The update's verdict. [`Verdict::Invalid`] with
    /// [`crate::InvalidReason::ConflictingHeader`] is evidence of a fork:
    /// keep the update and build evidence with [`crate::detect_fork`].
    pub update: Option<Verdict>,
    /// The command's verdict.
    pub command: LampVerdict,
}

/// A device's whole light-client state: configuration, trusted header and
/// replay table, with the one call that handles a command.
///
/// The caller persists [`Lamp::trusted`] and [`Lamp::replay`] (with their
/// `to_bytes`) *before* acting on an allowed command, so a reboot can neither
/// replay a command nor roll back to an older header.
#[derive(Clone, Debug)]
pub struct Lamp {
    config: LampConfig,
    options: TrustOptions,
    trusted: TrustedState,
    replay: ReplayTable,
}

impl Lamp {
    /// A device with its configuration, trust options, trusted state and
    /// replay table ([`ReplayTable::new`] for a new device).
    pub fn new(
        config: LampConfig,
        options: TrustOptions,
        trusted: TrustedState,
        replay: ReplayTable,
    ) -> Self {
        Lamp {
            config,
            options,
            trusted,
            replay,
        }
    }

    /// The device's configuration.
    pub fn config(&self) -> &LampConfig {
        &self.config
    }

    /// The trust options.
    pub fn options(&self) -> &TrustOptions {
        &self.options
    }

    /// The trusted state, to persist.
    pub fn trusted(&self) -> &TrustedState {
        &self.trusted
    }

    /// The replay table, to persist.
    pub fn replay(&self) -> &ReplayTable {
        &self.replay
    }

    /// Adopt a newer header if it verifies ([`TrustedState::update`]).
    pub fn update(&mut self, update: &HeaderUpdate, now_ms: u64) -> Verdict {
        self.trusted.update(update, &self.options, now_ms)
    }

    /// Come back after going without headers for a trust period: adopt the
    /// header the device's owner vouches for ([`TrustedState::recover`]).
    ///
    /// # Errors
    /// [`crate::RecoveryError`] naming the check that failed; nothing
    /// changes then.
    pub fn recover(
        &mut self,
        recovery: &crate::recovery::OwnerRecovery,
        now_ms: u64,
    ) -> Result<(), crate::recovery::RecoveryError> {
        self.trusted
            .recover(&self.config.device, recovery, &self.options, now_ms)
    }

    /// Handle a command: first adopt `update` if one came with it and it
    /// verifies, then decide as [`check_command`] does, and on
    /// [`LampVerdict::Allowed`] record the command in the replay table.
    /// Whenever the command's registration proof holds against the trusted
    /// header (from an authenticated sender), the lamp remembers its owner
    /// ([`TrustedState::proven_owner`]) for [`Lamp::recover`].
    /// The update's verdict is returned next to the command's, so an
    /// application sees a bad or conflicting header (fork evidence) even
    /// when the command is refused because of it.
    pub fn handle(
        &mut self,
        now_ms: u64,
        update: Option<&HeaderUpdate>,
        command: &SignedCommand,
        proof: &CommandProof,
    ) -> Handled {
        let update = update.map(|update| self.update(update, now_ms));
        let mut proven = None;
        let verdict = evaluate(
            &self.config,
            &self.trusted,
            &self.replay,
            now_ms,
            command,
            proof,
            &mut proven,
        );
        if let Some(record) = proven {
            // The registration held against the trusted header: remember
            // who owns the device, for the owner's recovery.
            self.trusted.remember_owner(self.config.device, &record);
        }
        if verdict == LampVerdict::Allowed {
            self.replay.accept(&command.grantee, command.time_ms);
        }
        Handled {
            update,
            command: verdict,
        }
    }
}
