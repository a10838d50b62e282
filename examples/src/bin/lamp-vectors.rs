//! Test vectors for the lamp's check on a microcontroller.
//!
//! `cargo run -p itc-examples --bin lamp-vectors -- OUT_DIR`
//!
//! Builds a real chain with itc-core's [`Ledger`]: four weighted validators
//! at genesis, an owner who registers a lamp (with the lamp's pairing
//! signature) and grants a guest, a visitor and a friend access, then
//! revokes the guest, then sells the lamp to a buyer who hands it back in the
//! same block (so the friend's grant, made under the first ownership, is
//! dead). Every block gets a header over the ledger's roots and a commit
//! certificate signed by the validators. The lamp trusts the first header
//! (pinned at the factory, bootstrapped at the lamp's first power-on) and is
//! then handed header updates, signed commands and state proofs, in order,
//! as a real lamp would be. The lamp's clock only moves forward, and every
//! sender's command time is its own clock (the guest's phone runs 20 s
//! fast), so the per-sender replay table is exercised as in the field.
//!
//! Everything is written to `OUT_DIR` as canonical encoded bytes:
//!
//! * `trusted_state.bin`: the lamp's flash state ([`TrustedState::to_bytes`],
//!   version 2); the lamp starts with an empty [`ReplayTable`];
//! * `device_key.bin`: the lamp's public key (32 bytes);
//! * `NN-case.update.bin` (when the case brings one): a [`HeaderUpdate`];
//! * `NN-case.command.bin`: a [`SignedCommand`];
//! * `NN-case.proof.bin`: a [`CommandProof`];
//! * `expected.json`: every case with its times and expected verdicts;
//! * `cases.rs`: the same as Rust, for the firmware to `include!`.
//!
//! Before writing, the generator runs every case through [`Lamp`] on the
//! host and refuses to write vectors whose verdict is not the expected one,
//! so the firmware and the host agree by construction.

use itc_core::encoding::Encode;
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, SigningDomain};
use itc_core::ledger::{state_key, BlockContext, Ledger};
use itc_core::types::{
    pairing_message, Amount, Block, BlockHeader, ChainId, CommitCertificate, Payload, Permissions,
    SecurityLevel, Transaction, ValidatorSet, Vote, VoteKind,
};
use itc_core::PublicKey;
use itc_spv::{
    CommandProof, DenyReason, HeaderUpdate, InvalidReason, Lamp, LampConfig, LampVerdict,
    ReplayTable, SignedCommand, StateEntryProof, TrustOptions, TrustedState, Verdict,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const CHAIN: ChainId = ChainId(42);
/// Time of height `h` is `GENESIS_MS + h * BLOCK_MS`.
const GENESIS_MS: u64 = 1_700_000_000_000;
const BLOCK_MS: u64 = 1_000;
/// The lamp obeys nothing once its trusted header is older than this.
const FRESHNESS_MS: u64 = 60_000;
/// A command's time must be within this of the lamp's clock, either way.
const COMMAND_WINDOW_MS: u64 = LampConfig::COMMAND_WINDOW_MS_DEFAULT;
/// How far the guest's phone clock runs ahead of the lamp's (inside the
/// window, and far ahead of everyone else's times).
const GUEST_CLOCK_AHEAD_MS: u64 = 20_000;
/// The lamp's trust options (policy of the device, not of the chain).
const OPTIONS: TrustOptions = TrustOptions {
    trust_period_ms: 3_600_000,
    clock_drift_ms: 5_000,
};
/// Validator seeds and weights. No two validators reach two thirds of the
/// weight (60 of 100), so a header needs three signatures even when the
/// heaviest are checked first: the costly side of four validators.
const VALIDATORS: [(u8, u64); 4] = [(101, 30), (102, 30), (103, 20), (104, 20)];
/// The guest's grant never expires within the scenario.
const GUEST_EXPIRY_HEIGHT: u64 = 1_000;
/// The visitor's grant holds below height 3.
const VISITOR_EXPIRY_HEIGHT: u64 = 3;
/// The friend's grant never expires, but dies with the first ownership.
const FRIEND_EXPIRY_HEIGHT: u64 = 1_000;

fn time_of(height: u64) -> u64 {
    GENESIS_MS + height * BLOCK_MS
}

/// The participants.
struct Keys {
    validators: Vec<Keypair>,
    owner: Keypair,
    guest: Keypair,
    visitor: Keypair,
    /// Granted under the owner's first ownership of the lamp.
    friend: Keypair,
    /// Buys the lamp at height 4 and hands it back in the same block.
    buyer: Keypair,
    lamp: Keypair,
    /// Knows no secret of the chain: forges signatures and certificates.
    stranger: Vec<Keypair>,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            validators: VALIDATORS
                .iter()
                .map(|(seed, _)| Keypair::from_seed([*seed; 32]))
                .collect(),
            owner: Keypair::from_seed([1; 32]),
            guest: Keypair::from_seed([2; 32]),
            lamp: Keypair::from_seed([3; 32]),
            visitor: Keypair::from_seed([5; 32]),
            friend: Keypair::from_seed([6; 32]),
            buyer: Keypair::from_seed([7; 32]),
            stranger: (201..205)
                .map(|seed| Keypair::from_seed([seed; 32]))
                .collect(),
        }
    }
}

/// A ledger that certifies every block it applies.
struct Chain {
    ledger: Ledger,
    keys: Keys,
    nonces: BTreeMap<[u8; 32], u64>,
    updates: Vec<HeaderUpdate>,
}

impl Chain {
    fn new() -> Result<Chain, String> {
        let keys = Keys::new();
        let genesis = Genesis {
            chain_id: CHAIN.0,
            genesis_time_ms: GENESIS_MS,
            epoch_length: 1_000_000,
            accounts: [&keys.owner, &keys.guest, &keys.visitor, &keys.buyer]
                .iter()
                .map(|k| GenesisAccount {
                    public_key: k.public(),
                    balance: 1_000_000,
                })
                .collect(),
            validators: keys
                .validators
                .iter()
                .zip(VALIDATORS)
                .map(|(k, (_, weight))| GenesisValidator {
                    public_key: k.public(),
                    weight,
                })
                .collect(),
            ..Genesis::default()
        };
        let (ledger, _writes) =
            Ledger::from_genesis(&genesis).map_err(|e| format!("genesis: {e}"))?;
        Ok(Chain {
            ledger,
            keys,
            nonces: BTreeMap::new(),
            updates: Vec::new(),
        })
    }

    fn transaction(&mut self, sender: &Keypair, payload: Payload) -> Transaction {
        let nonce = self.nonces.entry(sender.public().0).or_default();
        let transaction = Transaction::new_signed(sender, CHAIN, *nonce, Amount(1), payload);
        *nonce += 1;
        transaction
    }

    fn register_lamp(&mut self) -> Transaction {
        let (owner, lamp) = (self.keys.owner.clone(), &self.keys.lamp);
        let security_level = SecurityLevel::new(1).expect("level 1 is valid");
        let pairing_signature = lamp.sign(
            SigningDomain::DevicePairing,
            CHAIN,
            &pairing_message(&owner.public(), security_level),
        );
        let payload = Payload::RegisterDevice {
            device: lamp.public(),
            security_level,
            metadata_hash: Hash::ZERO,
            pairing_signature,
        };
        self.transaction(&owner, payload)
    }

    fn grant(&mut self, grantee: PublicKey, expiry_height: u64) -> Transaction {
        let owner = self.keys.owner.clone();
        let payload = Payload::GrantAccess {
            device: self.keys.lamp.public(),
            grantee,
            permissions: Permissions::SWITCH,
            expiry_height,
        };
        self.transaction(&owner, payload)
    }

    /// `from` hands the lamp to `to`.
    fn transfer(&mut self, from: &Keypair, to: PublicKey) -> Transaction {
        let payload = Payload::TransferDevice {
            device: self.keys.lamp.public(),
            new_owner: to,
        };
        self.transaction(from, payload)
    }

    fn revoke(&mut self, grantee: PublicKey) -> Transaction {
        let owner = self.keys.owner.clone();
        let payload = Payload::RevokeAccess {
            device: self.keys.lamp.public(),
            grantee,
        };
        self.transaction(&owner, payload)
    }

    /// Apply a block, build its header and certify it with every validator.
    /// The update carries the signing set, as a peer that does not know
    /// what the lamp trusts would send it.
    fn apply(&mut self, transactions: Vec<Transaction>) -> Result<HeaderUpdate, String> {
        let height = self.ledger.height() + 1;
        let signing_set: ValidatorSet = self.ledger.validators().clone();
        let proposer = self.keys.validators[0].public();
        let context = BlockContext {
            height,
            proposer,
            time_ms: time_of(height),
        };
        let outcome = self
            .ledger
            .apply_block(&context, &transactions)
            .map_err(|e| format!("block {height}: {e}"))?;
        let header = BlockHeader {
            chain_id: CHAIN,
            height,
            previous_hash: self.updates.last().map_or(Hash::ZERO, |u| u.header.hash()),
            tx_root: Block::compute_tx_root(&transactions),
            tx_count: transactions.len() as u64,
            state_root: outcome.state_root,
            dag_anchor_root: Hash::ZERO,
            dag_anchor_hash: Hash::ZERO,
            validator_set_hash: signing_set.hash(),
            next_validator_set_hash: self.ledger.validators().hash(),
            time_ms: time_of(height),
            proposer,
            view: 0,
        };
        let update = HeaderUpdate {
            certificate: certify(&header, &self.keys.validators),
            header,
            validators: Some(signing_set),
        };
        self.updates.push(update.clone());
        Ok(update)
    }

    /// `sender`'s command proof (device record and grant) against the
    /// latest header.
    fn command_proof(&mut self, sender: &PublicKey) -> CommandProof {
        let lamp = self.keys.lamp.public();
        let header = &self.updates.last().expect("a block was applied").header;
        let (header_height, header_hash) = (header.height, header.hash());
        let mut prove = |key: Hash| {
            let (value, proof) = self.ledger.prove(&key);
            StateEntryProof { value, proof }
        };
        CommandProof {
            header_height,
            header_hash,
            device: prove(state_key::device(&lamp)),
            grant: prove(state_key::grant(&lamp, sender)),
        }
    }

    /// `sender` asks to switch the lamp, at its clock `time_ms`.
    fn command(&self, sender: &Keypair, time_ms: u64) -> SignedCommand {
        self.command_for(sender, Permissions::SWITCH, time_ms)
    }

    fn command_for(&self, sender: &Keypair, action: Permissions, time_ms: u64) -> SignedCommand {
        let lamp = self.keys.lamp.public();
        SignedCommand::new_signed(sender, CHAIN, lamp, action, time_ms)
    }
}

/// A commit certificate over `header`, one commit vote per signer.
fn certify(header: &BlockHeader, signers: &[Keypair]) -> CommitCertificate {
    let hash = header.hash();
    let votes: Vec<Vote> = signers
        .iter()
        .map(|k| {
            Vote::new_signed(
                k,
                header.chain_id,
                VoteKind::Commit,
                header.height,
                header.view,
                hash,
            )
        })
        .collect();
    CommitCertificate::from_votes(header.chain_id, header.height, header.view, hash, &votes)
}

/// One step of the lamp's life: maybe a header update, then a command.
struct Case {
    name: &'static str,
    what: &'static str,
    now_ms: u64,
    update: Option<(HeaderUpdate, Verdict)>,
    command: SignedCommand,
    proof: CommandProof,
    expected: LampVerdict,
}

/// The scenario. The lamp was pinned to height 1 (register and grants);
/// height 2 is empty; height 3 revokes the guest; height 4 transfers the
/// lamp to the buyer and back. The lamp's clock `now_ms` never goes back.
fn scenario() -> Result<(TrustedState, PublicKey, Vec<Case>), String> {
    let mut chain = Chain::new()?;
    let (guest, visitor, friend) = (
        chain.keys.guest.public(),
        chain.keys.visitor.public(),
        chain.keys.friend.public(),
    );
    let (owner, buyer) = (chain.keys.owner.public(), chain.keys.buyer.public());
    let register = chain.register_lamp();
    let grant_guest = chain.grant(guest, GUEST_EXPIRY_HEIGHT);
    let grant_visitor = chain.grant(visitor, VISITOR_EXPIRY_HEIGHT);
    let grant_friend = chain.grant(friend, FRIEND_EXPIRY_HEIGHT);
    let first = chain.apply(vec![register, grant_guest, grant_visitor, grant_friend])?;
    // First power-on, just after height 1: the pinned header is recent.
    let trusted = TrustedState::bootstrap(
        first.header.clone(),
        first.validators.clone().expect("apply carries the set"),
        &first.header.hash(),
        &OPTIONS,
        time_of(1) + 1,
    )
    .map_err(|e| format!("bootstrap: {e}"))?;

    let second = chain.apply(Vec::new())?;
    let guest_proof_2 = chain.command_proof(&guest);
    let owner_proof_2 = chain.command_proof(&owner);
    let visitor_proof_2 = chain.command_proof(&visitor);
    let revoke = chain.revoke(guest);
    let third = chain.apply(vec![revoke])?;
    let guest_proof_3 = chain.command_proof(&guest);
    let visitor_proof_3 = chain.command_proof(&visitor);
    let owner_proof_3 = chain.command_proof(&owner);
    let (owner_keys, buyer_keys) = (chain.keys.owner.clone(), chain.keys.buyer.clone());
    let sell = chain.transfer(&owner_keys, buyer);
    let give_back = chain.transfer(&buyer_keys, owner);
    let fourth = chain.apply(vec![sell, give_back])?;
    let friend_proof_4 = chain.command_proof(&friend);
    let owner_proof_4 = chain.command_proof(&owner);

    // The real height-3 header, certified by four keys outside the set.
    let mut forged = third.clone();
    forged.certificate = certify(&forged.header, &chain.keys.stranger);

    let at = |height: u64| time_of(height) + 1;
    // The guest's phone runs ahead of everyone (inside the window).
    let guest_time = |now_ms: u64| now_ms + GUEST_CLOCK_AHEAD_MS;
    let keys = &chain.keys;
    // A stranger's signature on a command that names the guest.
    let mut forged_command = chain.command(&keys.stranger[0], guest_time(at(2)) + 1);
    forged_command.grantee = guest;
    let granted = chain.command(&keys.guest, guest_time(at(2)));
    let stale_lamp_now = time_of(4) + FRESHNESS_MS + 1;
    let cases = vec![
        Case {
            name: "granted",
            what: "adjacent header update (4 validators), then the guest (clock 20 s ahead) \
                   switches the lamp",
            now_ms: at(2),
            update: Some((second, Verdict::Success)),
            command: granted.clone(),
            proof: guest_proof_2.clone(),
            expected: LampVerdict::Allowed,
        },
        Case {
            name: "owner_after_guest",
            what: "the owner's command, with a time far below the guest's: each sender has \
                   its own replay state",
            now_ms: at(2),
            update: None,
            command: chain.command(&keys.owner, at(2) - 5_000),
            proof: owner_proof_2.clone(),
            expected: LampVerdict::Allowed,
        },
        Case {
            name: "replayed",
            what: "the guest's granted command again, by the same sender",
            now_ms: at(2),
            update: None,
            command: granted,
            proof: guest_proof_2.clone(),
            expected: LampVerdict::Denied(DenyReason::Replayed),
        },
        Case {
            name: "forged_signature",
            what: "a command naming the guest, signed by a stranger",
            now_ms: at(2),
            update: None,
            command: forged_command,
            proof: guest_proof_2.clone(),
            expected: LampVerdict::Denied(DenyReason::BadSignature),
        },
        Case {
            name: "empty_action",
            what: "the guest's signed command that asks for no permission bit",
            now_ms: at(2),
            update: None,
            command: chain.command_for(&keys.guest, Permissions(0), guest_time(at(2)) + 2),
            proof: guest_proof_2.clone(),
            expected: LampVerdict::Denied(DenyReason::EmptyAction),
        },
        Case {
            name: "command_too_old",
            what: "the visitor's command (none accepted from it before) recorded more than \
                   the window ago",
            now_ms: at(2),
            update: None,
            command: chain.command(&keys.visitor, at(2) - COMMAND_WINDOW_MS - 1),
            proof: visitor_proof_2.clone(),
            expected: LampVerdict::Denied(DenyReason::CommandTooOld),
        },
        Case {
            name: "command_from_future",
            what: "the visitor's command with a time beyond the lamp's clock plus the window",
            now_ms: at(2),
            update: None,
            command: chain.command(&keys.visitor, at(2) + COMMAND_WINDOW_MS + 1),
            proof: visitor_proof_2,
            expected: LampVerdict::Denied(DenyReason::CommandFromFuture),
        },
        Case {
            name: "forged_header",
            what: "height 3 certified by keys outside the set; proofs against it are unknown",
            now_ms: at(3),
            update: Some((forged, Verdict::Invalid(InvalidReason::NotEnoughSignatures))),
            command: chain.command(&keys.guest, guest_time(at(3))),
            proof: guest_proof_3.clone(),
            expected: LampVerdict::Denied(DenyReason::UnknownHeader),
        },
        Case {
            name: "revoked",
            what: "header 3 (revocation), then the guest's command with an absence proof",
            now_ms: at(3),
            update: Some((third, Verdict::Success)),
            command: chain.command(&keys.guest, guest_time(at(3)) + 1),
            proof: guest_proof_3,
            expected: LampVerdict::Denied(DenyReason::Revoked),
        },
        Case {
            name: "stale_proof",
            what: "the guest's proof from before the revocation",
            now_ms: at(3),
            update: None,
            command: chain.command(&keys.guest, guest_time(at(3)) + 2),
            proof: guest_proof_2,
            expected: LampVerdict::Denied(DenyReason::StaleHeader),
        },
        Case {
            name: "expired",
            what: "the visitor's grant held below height 3",
            now_ms: at(3),
            update: None,
            command: chain.command(&keys.visitor, at(3)),
            proof: visitor_proof_3,
            expected: LampVerdict::Denied(DenyReason::Expired),
        },
        Case {
            name: "owner",
            what: "the owner needs no grant",
            now_ms: at(3),
            update: None,
            command: chain.command(&keys.owner, at(3)),
            proof: owner_proof_3,
            expected: LampVerdict::Allowed,
        },
        Case {
            name: "transferred_back",
            what: "header 4 (the lamp sold and handed back), then the friend's grant, made \
                   by the same owner under the earlier ownership",
            now_ms: at(4),
            update: Some((fourth, Verdict::Success)),
            command: chain.command(&keys.friend, at(4)),
            proof: friend_proof_4,
            expected: LampVerdict::Denied(DenyReason::NotGranted),
        },
        Case {
            name: "stale_lamp",
            what: "the lamp's header is older than its freshness bound",
            now_ms: stale_lamp_now,
            update: None,
            command: chain.command(&keys.owner, stale_lamp_now),
            proof: owner_proof_4,
            expected: LampVerdict::Denied(DenyReason::StaleHeader),
        },
    ];
    Ok((trusted, keys.lamp.public(), cases))
}

/// Run the cases through one [`Lamp`] on the host, as the firmware will.
fn check_on_host(trusted: &TrustedState, device: PublicKey, cases: &[Case]) -> Vec<String> {
    let config = LampConfig {
        device,
        freshness_ms: FRESHNESS_MS,
        command_window_ms: COMMAND_WINDOW_MS,
    };
    let mut lamp = Lamp::new(config, OPTIONS, trusted.clone(), ReplayTable::new());
    let mut failures = Vec::new();
    for case in cases {
        if let Some((update, expected)) = &case.update {
            let verdict = lamp.update(update, case.now_ms);
            if verdict != *expected {
                failures.push(format!(
                    "{}: header verdict {verdict:?}, expected {expected:?}",
                    case.name
                ));
            }
        }
        let handled = lamp.handle(case.now_ms, None, &case.command, &case.proof);
        let verdict = handled.command;
        if verdict != case.expected {
            failures.push(format!(
                "{}: lamp verdict {verdict:?}, expected {:?}",
                case.name, case.expected
            ));
        }
    }
    failures
}

fn rust_lamp_verdict(verdict: &LampVerdict) -> String {
    match verdict {
        LampVerdict::Allowed => "LampVerdict::Allowed".to_string(),
        LampVerdict::Denied(reason) => format!("LampVerdict::Denied(DenyReason::{reason:?})"),
    }
}

fn rust_header_verdict(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Success => "Verdict::Success".to_string(),
        Verdict::NotEnoughTrust => "Verdict::NotEnoughTrust".to_string(),
        Verdict::Invalid(reason) => format!("Verdict::Invalid(InvalidReason::{reason:?})"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(dir.join(name), bytes).map_err(|e| format!("write {name}: {e}"))
}

fn write_vectors(
    dir: &Path,
    trusted: &TrustedState,
    device: &PublicKey,
    cases: &[Case],
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    write(dir, "trusted_state.bin", &trusted.to_bytes())?;
    write(dir, "device_key.bin", &device.0)?;

    let mut rust = String::new();
    let mut json_cases = Vec::new();
    let _ = writeln!(
        rust,
        "// Generated by `cargo run -p itc-examples --bin lamp-vectors`. Do not edit.\n\
         // Every byte string is a canonical encoding; see examples/src/bin/lamp-vectors.rs.\n\n\
         /// Chain id of the vectors.\n\
         pub const CHAIN_ID: u32 = {};\n\
         /// The lamp's freshness bound.\n\
         pub const FRESHNESS_MS: u64 = {FRESHNESS_MS};\n\
         /// The lamp's command window.\n\
         pub const COMMAND_WINDOW_MS: u64 = {COMMAND_WINDOW_MS};\n\
         /// The lamp's trust options.\n\
         pub const OPTIONS: TrustOptions = TrustOptions {{ trust_period_ms: {}, clock_drift_ms: {} }};\n\
         /// The lamp's flash state: pinned header and its validator set\n\
         /// (trusted-state version 2). The replay table starts empty.\n\
         pub static TRUSTED_STATE: &[u8] = include_bytes!(\"trusted_state.bin\");\n\
         /// The lamp's public key.\n\
         pub static DEVICE_KEY: &[u8; 32] = include_bytes!(\"device_key.bin\");\n\n\
         /// The cases, in the order the lamp sees them.\n\
         pub static CASES: &[Case] = &[",
        CHAIN.0, OPTIONS.trust_period_ms, OPTIONS.clock_drift_ms
    );
    for (index, case) in cases.iter().enumerate() {
        let stem = format!("{:02}-{}", index + 1, case.name);
        let update = match &case.update {
            Some((update, verdict)) => {
                let file = format!("{stem}.update.bin");
                write(dir, &file, &update.encode())?;
                Some((file, verdict))
            }
            None => None,
        };
        let command_file = format!("{stem}.command.bin");
        let proof_file = format!("{stem}.proof.bin");
        write(dir, &command_file, &case.command.encode())?;
        write(dir, &proof_file, &case.proof.encode())?;

        let (rust_update, rust_update_verdict) = match &update {
            Some((file, verdict)) => (
                format!("Some(include_bytes!(\"{file}\"))"),
                format!("Some({})", rust_header_verdict(verdict)),
            ),
            None => ("None".to_string(), "None".to_string()),
        };
        let _ = writeln!(
            rust,
            "    Case {{\n        name: \"{}\",\n        now_ms: {},\n        update: {rust_update},\n        \
             expected_update: {rust_update_verdict},\n        command: include_bytes!(\"{command_file}\"),\n        \
             proof: include_bytes!(\"{proof_file}\"),\n        expected: {},\n    }},",
            case.name,
            case.now_ms,
            rust_lamp_verdict(&case.expected)
        );
        json_cases.push(serde_json::json!({
            "name": case.name,
            "what": case.what,
            "now_ms": case.now_ms,
            "update": update.as_ref().map(|(file, _)| file.clone()),
            "expected_update": update.as_ref().map(|(_, verdict)| format!("{verdict:?}")),
            "command": command_file,
            "proof": proof_file,
            "sender": hex(&case.command.grantee.0),
            "command_time_ms": case.command.time_ms,
            "action": case.command.action.0,
            "expected": format!("{:?}", case.expected),
        }));
    }
    rust.push_str("];\n");
    write(dir, "cases.rs", rust.as_bytes())?;

    let expected = serde_json::json!({
        "chain_id": CHAIN.0,
        "validators": VALIDATORS.iter().map(|(_, weight)| weight).collect::<Vec<_>>(),
        "freshness_ms": FRESHNESS_MS,
        "command_window_ms": COMMAND_WINDOW_MS,
        "trust_period_ms": OPTIONS.trust_period_ms,
        "clock_drift_ms": OPTIONS.clock_drift_ms,
        "trusted_state": "trusted_state.bin",
        "trusted_state_bytes": trusted.to_bytes().len(),
        "device_key": "device_key.bin",
        "cases": json_cases,
    });
    let text = serde_json::to_string_pretty(&expected).map_err(|e| e.to_string())?;
    write(dir, "expected.json", text.as_bytes())
}

fn run() -> Result<PathBuf, String> {
    let mut args = std::env::args_os().skip(1);
    let dir = match (args.next(), args.next()) {
        (Some(dir), None) => PathBuf::from(dir),
        _ => return Err("usage: lamp-vectors OUT_DIR".to_string()),
    };
    let (trusted, device, cases) = scenario()?;
    let failures = check_on_host(&trusted, device, &cases);
    if !failures.is_empty() {
        return Err(format!(
            "the host disagrees with the expected verdicts:\n  {}",
            failures.join("\n  ")
        ));
    }
    write_vectors(&dir, &trusted, &device, &cases)?;
    Ok(dir)
}

fn main() -> ExitCode {
    match run() {
        Ok(dir) => {
            println!("lamp vectors written to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("lamp-vectors: {message}");
            ExitCode::FAILURE
        }
    }
}
