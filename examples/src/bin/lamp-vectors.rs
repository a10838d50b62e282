//! Test vectors for the lamp's check on a microcontroller.
//!
//! `cargo run -p itc-examples --bin lamp-vectors -- OUT_DIR`
//! `cargo run -p itc-examples --bin lamp-vectors -- --open x25519|xwing SEALED_HEX_FILE`
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
//! Then firmware updates: at height 5 a manufacturer registers the lamp's
//! product line with release key K1 and publishes release 1.1 (the manifest
//! of a 64 KiB image), and the owner publishes its sealing keys (X25519 and
//! X-Wing); at height 6 the manufacturer publishes 1.2, still signed by K1,
//! and rotates the release key to K2 in the same block. The lamp, at 1.0,
//! verifies both headers and is offered: 1.1 with one image byte flipped
//! (`ImageHashMismatch`), 1.1 (installed), 1.1 again (`NotNewer`), a relay's
//! release record signed by its own key (`BadProof`), 1.2 under the rotated
//! key (`BadSignature`) and the superseded offer of 1.1 at header 6
//! (`BadProof`). The image is not written: [`image_byte`] computes it, and the
//! firmware has the same function.
//!
//! Everything is written to `OUT_DIR` as canonical encoded bytes:
//!
//! * `trusted_state.bin`: the lamp's flash state ([`TrustedState::to_bytes`],
//!   version 2); the lamp starts with an empty [`ReplayTable`];
//! * `device_key.bin`: the lamp's public key (32 bytes);
//! * `NN-case.update.bin` (when the case brings one): a [`HeaderUpdate`];
//! * `NN-case.command.bin`: a [`SignedCommand`];
//! * `NN-case.proof.bin`: a [`CommandProof`];
//! * `uNN-case.update.bin`, `uNN-case.offer.bin`: the update cases' header
//!   updates and [`UpdateOffer`]s (one file per distinct offer);
//! * `expected.json`: every case with its times and expected verdicts;
//! * `cases.rs`: the same as Rust, for the firmware to `include!`, with
//!   `UPDATE_CASES` and the image's parameters;
//! * `seal.rs`, `seal_key_*.proof.bin`, `owner_key.bin`, `seal_reading.bin`,
//!   `seal_rng_seed.bin`: what the seal images need (the reading, its
//!   context, the RNG seed standing for the TRNG, and the proofs of the
//!   owner's sealing keys at the lamp's last header).
//!
//! `--open SUITE FILE` is the host's side of the seal images: it opens the
//! payload the firmware printed (hex) with the owner's secret key
//! (`SealSecretKey::derive(owner seed, suite, 0)`), fails unless it opens to
//! the reading in the lamp's context, and says whether the bytes equal the
//! host's own seal with the same RNG seed.
//!
//! Before writing, the generator runs every case through [`Lamp`] on the
//! host and refuses to write vectors whose verdict is not the expected one,
//! so the firmware and the host agree by construction.

use itc_core::encoding::{Decode, Encode};
use itc_core::firmware::{FirmwareManifest, ImageHasher, ReleaseRecord};
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, SigningDomain};
use itc_core::ledger::{state_key, BlockContext, Ledger};
use itc_core::seal::rand_core::SeedableRng;
use itc_core::seal::{seal, ChaCha20Rng, SealContext, SealSecretKey, SealedPayload, Suite};
use itc_core::types::{
    pairing_message, Amount, Block, BlockHeader, ChainId, CommitCertificate, Payload, Permissions,
    SecurityLevel, Transaction, ValidatorSet, Vote, VoteKind,
};
use itc_core::PublicKey;
use itc_spv::{
    check_release, CommandProof, DenyReason, DeviceFirmware, HeaderUpdate, InvalidReason, Lamp,
    LampConfig, LampVerdict, ReplayTable, SignedCommand, StateEntryProof, TrustOptions,
    TrustedState, UpdateOffer, UpdateRefusal, Verdict,
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

/// The lamp's product line on chain.
const PRODUCT: u64 = 0x1A4B;
/// Versions are `major * 1_000_000 + minor * 1_000 + patch`: the lamp runs
/// 1.0, the manufacturer publishes 1.1, then 1.2.
const V1_0: u32 = 1_000_000;
const V1_1: u32 = 1_001_000;
const V1_2: u32 = 1_002_000;
/// Size of the 1.1 image.
const IMAGE_BYTES: u32 = 64 * 1024;
/// The image arrives in chunks of this size, as over a radio link.
const IMAGE_CHUNK_BYTES: u32 = 256;
/// Seed of the image's byte generator ([`image_byte`]).
const IMAGE_SEED: u32 = 0x11A4_0B01;
/// The byte the "tampered" case flips (XOR 1).
const TAMPERED_OFFSET: u32 = 40_000;
/// The largest image the lamp's update slot holds.
const SLOT_BYTES: u32 = 128 * 1024;
/// The sealed reading's position in the lamp's stream.
const SEAL_SEQUENCE: u64 = 1;
/// The lamp's reading that the seal firmware images seal to the owner.
const SEAL_READING: &[u8; 64] =
    b"{\"on\":true,\"mw\":4200,\"lux\":310,\"mdegc\":41250,\"seq\":1,\"v\":1}     ";
/// Stands for the lamp's TRNG: the seed of the `ChaCha20Rng` the firmware
/// seals with. Fixed, so the host can reproduce the device's sealed bytes.
const SEAL_RNG_SEED: [u8; 32] = [0x5E; 32];

/// The 1.1 image's bytes: computed, not stored (the firmware cannot hold
/// 64 KiB of vectors, so it generates each chunk as it would receive it),
/// by the firmware's own function.
#[path = "../../firmware/src/image.rs"]
mod image;
use image::image_byte;

/// The 1.1 image, with byte `tamper` flipped if given.
fn image(tamper: Option<u32>) -> Vec<u8> {
    let mut image: Vec<u8> = (0..IMAGE_BYTES)
        .map(|i| image_byte(IMAGE_SEED, i))
        .collect();
    if let Some(offset) = tamper {
        image[offset as usize] ^= 1;
    }
    image
}

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
    /// Makes the lamp: registers its product line and publishes releases.
    manufacturer: Keypair,
    /// Signs the product's releases until it is rotated out at height 6.
    release_key: Keypair,
    /// The release key from height 6 on.
    next_release_key: Keypair,
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
            manufacturer: Keypair::from_seed([8; 32]),
            release_key: Keypair::from_seed([9; 32]),
            next_release_key: Keypair::from_seed([10; 32]),
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
            accounts: [
                &keys.owner,
                &keys.guest,
                &keys.visitor,
                &keys.buyer,
                &keys.manufacturer,
            ]
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

    /// The manufacturer registers the lamp's product line, or rotates its
    /// release key.
    fn register_product(&mut self, release_key: PublicKey) -> Transaction {
        let manufacturer = self.keys.manufacturer.clone();
        let payload = Payload::RegisterProduct {
            product: PRODUCT,
            release_key,
        };
        self.transaction(&manufacturer, payload)
    }

    /// The manufacturer publishes `manifest`, signed by `release_key`.
    fn publish_release(
        &mut self,
        manifest: FirmwareManifest,
        release_key: &Keypair,
    ) -> Transaction {
        let manufacturer = self.keys.manufacturer.clone();
        let payload = Payload::PublishRelease {
            manifest,
            signature: manifest.sign(release_key, CHAIN),
        };
        self.transaction(&manufacturer, payload)
    }

    /// The owner publishes its first sealing key of `suite`.
    fn publish_seal_key(&mut self, suite: Suite) -> Transaction {
        let owner = self.keys.owner.clone();
        let key = SealSecretKey::derive(&owner.seed(), suite, 0);
        let payload = Payload::PublishSealKey {
            subject: owner.public(),
            suite,
            public_key: key.public_key(),
            key_seq: 0,
            subject_signature: None,
        };
        self.transaction(&owner, payload)
    }

    /// The proof of state entry `key` at the latest header.
    fn prove(&mut self, key: &Hash) -> StateEntryProof {
        let (value, proof) = self.ledger.prove(key);
        StateEntryProof { value, proof }
    }

    /// The proofs of the product's record and current release at the latest
    /// header: what a phone hands the lamp with an image.
    fn update_offer(&mut self) -> UpdateOffer {
        UpdateOffer {
            product: self.prove(&state_key::product(PRODUCT)),
            release: self.prove(&state_key::release(PRODUCT)),
        }
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

/// A firmware update the lamp is offered after the command cases: maybe a
/// header update first, then the offer (checked at the lamp's trusted
/// header) and the 1.1 image streamed in chunks.
struct UpdateCase {
    name: &'static str,
    what: &'static str,
    now_ms: u64,
    update: Option<(HeaderUpdate, Verdict)>,
    offer: UpdateOffer,
    /// The image byte flipped on the way, if any.
    tamper: Option<u32>,
    /// The version installed, or the refusal. The lamp starts at 1.0 and
    /// runs what it installed from then on.
    expected: Result<u32, UpdateRefusal>,
}

/// The owner's sealing key of a suite, with its proof at the lamp's last
/// trusted header.
struct SealKeyCase {
    suite: Suite,
    public_key: Vec<u8>,
    proof: StateEntryProof,
}

/// Everything the generator writes.
struct Scenario {
    trusted: TrustedState,
    device: PublicKey,
    cases: Vec<Case>,
    updates: Vec<UpdateCase>,
    owner: PublicKey,
    seal_keys: Vec<SealKeyCase>,
}

/// The scenario. The lamp was pinned to height 1 (register and grants);
/// height 2 is empty; height 3 revokes the guest; height 4 transfers the
/// lamp to the buyer and back. The lamp's clock `now_ms` never goes back.
///
/// Then the firmware update: height 5 registers the product (release key
/// K1), publishes 1.1 (a 64 KiB image, signed by K1) and the owner's sealing
/// keys; height 6 publishes 1.2, still signed by K1, and rotates the release
/// key to K2 in the same block, so 1.2 is current but no longer verifiable.
fn scenario() -> Result<Scenario, String> {
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

    // Heights 5 and 6: the firmware releases and the owner's sealing keys.
    let release_key = chain.keys.release_key.clone();
    let manifest_11 = FirmwareManifest {
        product: PRODUCT,
        version: V1_1,
        image_hash: ImageHasher::hash(&image(None)),
        image_size: IMAGE_BYTES,
        min_version: V1_0,
    };
    let register = chain.register_product(release_key.public());
    let publish = chain.publish_release(manifest_11, &release_key);
    let seal_x25519 = chain.publish_seal_key(Suite::X25519);
    let seal_xwing = chain.publish_seal_key(Suite::XWing);
    let fifth = chain.apply(vec![register, publish, seal_x25519, seal_xwing])?;
    let offer_5 = chain.update_offer();
    // A relay's own release record for a 1.2 it signed, in place of the
    // proven one.
    let mut forged_offer = offer_5.clone();
    let relay_manifest = FirmwareManifest {
        version: V1_2,
        image_hash: ImageHasher::hash(b"the relay's image"),
        ..manifest_11
    };
    forged_offer.release.value = Some(
        ReleaseRecord {
            manifest: relay_manifest,
            signature: relay_manifest.sign(&chain.keys.stranger[1], CHAIN),
            revoked: false,
            published_height: 5,
        }
        .encode(),
    );
    let manifest_12 = FirmwareManifest {
        version: V1_2,
        image_hash: ImageHasher::hash(b"firmware 1.2"),
        image_size: 12,
        ..manifest_11
    };
    let publish = chain.publish_release(manifest_12, &release_key);
    let next_release_key = chain.keys.next_release_key.public();
    let rotate = chain.register_product(next_release_key);
    let sixth = chain.apply(vec![publish, rotate])?;
    let offer_6 = chain.update_offer();
    let owner_key = chain.keys.owner.clone();
    let mut seal_keys = Vec::new();
    for suite in Suite::ALL {
        seal_keys.push(SealKeyCase {
            suite,
            public_key: SealSecretKey::derive(&owner_key.seed(), suite, 0).public_key(),
            proof: chain.prove(&state_key::seal_key(&owner, suite)),
        });
    }

    // The lamp's clock went on from the last command case.
    let now_ms = stale_lamp_now + 1_000;
    let updates = vec![
        UpdateCase {
            name: "update_tampered",
            what: "header 5 (release 1.1 published), then the 1.1 image with one byte flipped",
            now_ms,
            update: Some((fifth, Verdict::Success)),
            offer: offer_5.clone(),
            tamper: Some(TAMPERED_OFFSET),
            expected: Err(UpdateRefusal::ImageHashMismatch),
        },
        UpdateCase {
            name: "update_installed",
            what: "the current release 1.1 over the 64 KiB image, streamed in chunks: installed",
            now_ms,
            update: None,
            offer: offer_5.clone(),
            tamper: None,
            expected: Ok(V1_1),
        },
        UpdateCase {
            name: "update_reinstall",
            what: "the same offer again, now that the lamp runs 1.1",
            now_ms,
            update: None,
            offer: offer_5.clone(),
            tamper: None,
            expected: Err(UpdateRefusal::NotNewer),
        },
        UpdateCase {
            name: "update_forged_release",
            what: "a relay's release record for a 1.2 signed by its own key, with the proof of 1.1",
            now_ms,
            update: None,
            offer: forged_offer,
            tamper: None,
            expected: Err(UpdateRefusal::BadProof),
        },
        UpdateCase {
            name: "update_rotated_key",
            what: "header 6: 1.2 is current but signed by the release key rotated out in the \
                   same block",
            now_ms,
            update: Some((sixth, Verdict::Success)),
            offer: offer_6,
            tamper: None,
            expected: Err(UpdateRefusal::BadSignature),
        },
        UpdateCase {
            name: "update_superseded",
            what: "the offer of 1.1 (proofs at height 5) replayed at header 6",
            now_ms,
            update: None,
            offer: offer_5,
            tamper: None,
            expected: Err(UpdateRefusal::BadProof),
        },
    ];
    Ok(Scenario {
        trusted,
        device: chain.keys.lamp.public(),
        cases,
        updates,
        owner,
        seal_keys,
    })
}

/// Run the cases through one [`Lamp`] on the host, as the firmware will:
/// the command cases, then the update cases, then the sealing keys' proofs
/// at the last trusted header.
fn check_on_host(scenario: &Scenario) -> Vec<String> {
    let Scenario {
        trusted,
        device,
        cases,
        ..
    } = scenario;
    let config = LampConfig {
        device: *device,
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
    let mut running = V1_0;
    for case in &scenario.updates {
        if let Some((update, expected)) = &case.update {
            let verdict = lamp.update(update, case.now_ms);
            if verdict != *expected {
                failures.push(format!(
                    "{}: header verdict {verdict:?}, expected {expected:?}",
                    case.name
                ));
            }
        }
        let verdict = check_update(lamp.trusted().header(), running, case);
        if verdict != case.expected {
            failures.push(format!(
                "{}: update verdict {verdict:?}, expected {:?}",
                case.name, case.expected
            ));
        }
        if let Ok(version) = verdict {
            running = version;
        }
    }
    for key in &scenario.seal_keys {
        let proven = key
            .proof
            .verify_seal_key(lamp.trusted().header(), &scenario.owner, key.suite);
        match proven {
            Ok(Some(record)) if record.public_key == key.public_key => {}
            other => failures.push(format!(
                "{:?} sealing key: proof gives {other:?}",
                key.suite
            )),
        }
    }
    failures
}

/// The lamp's update check at `header` for a device running `running`:
/// the offer, then the image in chunks.
fn check_update(
    header: &BlockHeader,
    running: u32,
    case: &UpdateCase,
) -> Result<u32, UpdateRefusal> {
    let device = DeviceFirmware {
        product: PRODUCT,
        version: running,
        image_size_max: SLOT_BYTES,
    };
    let mut check = check_release(header, CHAIN, &device, &case.offer)?;
    for chunk in image(case.tamper).chunks(IMAGE_CHUNK_BYTES as usize) {
        check.update(chunk)?;
    }
    check.finish().map(|manifest| manifest.version)
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

fn write_vectors(dir: &Path, scenario: &Scenario) -> Result<(), String> {
    let Scenario {
        trusted,
        device,
        cases,
        ..
    } = scenario;
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
    let json_updates = write_update_cases(dir, &scenario.updates, &mut rust)?;
    write(dir, "cases.rs", rust.as_bytes())?;
    write_seal_vectors(dir, scenario)?;

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
        "case_count": json_cases.len(),
        "cases": json_cases,
        "product": PRODUCT,
        "firmware_version": V1_0,
        "image_bytes": IMAGE_BYTES,
        "image_chunk_bytes": IMAGE_CHUNK_BYTES,
        "image_seed": IMAGE_SEED,
        "update_case_count": json_updates.len(),
        "update_cases": json_updates,
        "seal_sequence": SEAL_SEQUENCE,
        "seal_reading": String::from_utf8_lossy(SEAL_READING),
        "seal_suites": scenario.seal_keys.iter().map(|k| suite_name(k.suite)).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&expected).map_err(|e| e.to_string())?;
    write(dir, "expected.json", text.as_bytes())
}

/// The update cases: `UPDATE_CASES` and the image's parameters in
/// `cases.rs`, one `.offer.bin` per distinct offer (and `.update.bin` per
/// header update); returns their JSON descriptions.
fn write_update_cases(
    dir: &Path,
    updates: &[UpdateCase],
    rust: &mut String,
) -> Result<Vec<serde_json::Value>, String> {
    let _ = writeln!(
        rust,
        "\n/// The lamp's product line.\n\
         pub const PRODUCT: u64 = {PRODUCT};\n\
         /// The version the lamp runs before the update cases.\n\
         pub const FIRMWARE_VERSION: u32 = {V1_0};\n\
         /// The largest image the lamp's update slot holds.\n\
         pub const SLOT_BYTES: u32 = {SLOT_BYTES};\n\
         /// Size of the offered image.\n\
         pub const IMAGE_BYTES: u32 = {IMAGE_BYTES};\n\
         /// The image arrives in chunks of this size.\n\
         pub const IMAGE_CHUNK_BYTES: usize = {IMAGE_CHUNK_BYTES};\n\
         /// Seed of the image's byte generator.\n\
         pub const IMAGE_SEED: u32 = {IMAGE_SEED:#010x};\n\n\
         /// The firmware update cases, after the command cases.\n\
         pub static UPDATE_CASES: &[UpdateCase] = &["
    );
    let mut offers: BTreeMap<Vec<u8>, String> = BTreeMap::new();
    let mut json = Vec::new();
    for (index, case) in updates.iter().enumerate() {
        let stem = format!("u{:02}-{}", index + 1, case.name);
        let (rust_update, rust_update_verdict, update_file) = match &case.update {
            Some((update, verdict)) => {
                let file = format!("{stem}.update.bin");
                write(dir, &file, &update.encode())?;
                (
                    format!("Some(include_bytes!(\"{file}\"))"),
                    format!("Some({})", rust_header_verdict(verdict)),
                    Some(file),
                )
            }
            None => ("None".to_string(), "None".to_string(), None),
        };
        let offer = case.offer.encode();
        let offer_file = match offers.get(&offer) {
            Some(file) => file.clone(),
            None => {
                let file = format!("{stem}.offer.bin");
                write(dir, &file, &offer)?;
                offers.insert(offer, file.clone());
                file
            }
        };
        let rust_expected = match case.expected {
            Ok(version) => format!("Ok({version})"),
            Err(refusal) => format!("Err(UpdateRefusal::{refusal:?})"),
        };
        let rust_tamper = match case.tamper {
            Some(offset) => format!("Some({offset})"),
            None => "None".to_string(),
        };
        let _ = writeln!(
            rust,
            "    UpdateCase {{\n        name: \"{}\",\n        now_ms: {},\n        update: {rust_update},\n        \
             expected_update: {rust_update_verdict},\n        offer: include_bytes!(\"{offer_file}\"),\n        \
             tamper: {rust_tamper},\n        expected: {rust_expected},\n    }},",
            case.name, case.now_ms
        );
        json.push(serde_json::json!({
            "update_case": case.name,
            "what": case.what,
            "now_ms": case.now_ms,
            "update": update_file,
            "expected_update": case.update.as_ref().map(|(_, verdict)| format!("{verdict:?}")),
            "offer": offer_file,
            "tamper": case.tamper,
            "expected": match case.expected {
                Ok(version) => format!("Installed({version})"),
                Err(refusal) => format!("{refusal:?}"),
            },
        }));
    }
    rust.push_str("];\n");
    Ok(json)
}

/// The lowercase name of a suite, as the script's JSON and `--open` use it.
fn suite_name(suite: Suite) -> &'static str {
    match suite {
        Suite::X25519 => "x25519",
        _ => "xwing",
    }
}

fn parse_suite(name: &str) -> Option<Suite> {
    Suite::ALL
        .into_iter()
        .find(|suite| suite_name(*suite) == name)
}

/// `seal.rs`, which only the seal firmware images include: the reading,
/// its context, the RNG seed and, per suite, the proof of the owner's
/// sealing key at the lamp's last trusted header.
fn write_seal_vectors(dir: &Path, scenario: &Scenario) -> Result<(), String> {
    write(dir, "owner_key.bin", &scenario.owner.0)?;
    write(dir, "seal_reading.bin", SEAL_READING)?;
    write(dir, "seal_rng_seed.bin", &SEAL_RNG_SEED)?;
    let mut rust = format!(
        "// Generated by `cargo run -p itc-examples --bin lamp-vectors`. Do not edit.\n\n\
         /// The sealed reading's position in the lamp's stream.\n\
         pub const SEAL_SEQUENCE: u64 = {SEAL_SEQUENCE};\n\
         /// The reading the lamp seals to its owner.\n\
         pub static SEAL_READING: &[u8; 64] = include_bytes!(\"seal_reading.bin\");\n\
         /// Stands for the lamp's TRNG output: the seed of its ChaCha20Rng.\n\
         pub static SEAL_RNG_SEED: &[u8; 32] = include_bytes!(\"seal_rng_seed.bin\");\n\
         /// The owner's signing key: whose sealing key the proofs show.\n\
         pub static OWNER_KEY: &[u8; 32] = include_bytes!(\"owner_key.bin\");\n"
    );
    for key in &scenario.seal_keys {
        let name = suite_name(key.suite);
        let file = format!("seal_key_{name}.proof.bin");
        write(dir, &file, &key.proof.encode())?;
        let _ = writeln!(
            rust,
            "/// Proof of the owner's {name} sealing key at the lamp's last trusted header.\n\
             pub static SEAL_KEY_PROOF_{}: &[u8] = include_bytes!(\"{file}\");",
            name.to_uppercase()
        );
    }
    write(dir, "seal.rs", rust.as_bytes())
}

/// The context the lamp seals its reading in.
fn seal_context() -> SealContext {
    SealContext {
        chain_id: CHAIN,
        device: Keys::new().lamp.public(),
        sequence: SEAL_SEQUENCE,
    }
}

/// `--open SUITE FILE`: open what the firmware sealed (hex in FILE) with the
/// owner's secret key, derived here, and compare with the reading; also seal
/// on the host with the firmware's RNG seed and compare the bytes. Prints
/// one JSON object; fails unless the payload opens to the reading.
fn open(suite: &str, file: &Path) -> Result<(), String> {
    let suite = parse_suite(suite).ok_or_else(|| format!("unknown suite {suite}"))?;
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("read {}: {e}", file.display()))?;
    let sealed = itc_core::hex::decode(text.trim()).map_err(|_| "the sealed payload is not hex")?;
    let payload = SealedPayload::decode(&sealed).map_err(|e| format!("the sealed payload: {e}"))?;
    let owner = Keys::new().owner;
    let key = SealSecretKey::derive(&owner.seed(), suite, 0);
    let context = seal_context();
    let opened = payload.open(&key, &context);
    let mut rng = ChaCha20Rng::from_seed(SEAL_RNG_SEED);
    let host = seal(
        suite,
        &context,
        &[&key.public_key()],
        SEAL_READING,
        &mut rng,
    )
    .map_err(|e| format!("sealing on the host: {e}"))?
    .encode();
    let opens_to_reading = opened.as_deref() == Ok(&SEAL_READING[..]);
    println!(
        "{}",
        serde_json::json!({
            "suite": suite_name(suite),
            "sealed_bytes": sealed.len(),
            "expected_sealed_bytes": SEAL_READING.len() + suite.overhead(1),
            "opened": opens_to_reading,
            "error": opened.err().map(|e| e.to_string()),
            "same_bytes_as_host_seal": host == sealed,
        })
    );
    if !opens_to_reading {
        return Err(format!(
            "the {} payload from the firmware does not open to the reading",
            suite_name(suite)
        ));
    }
    Ok(())
}

fn run() -> Result<(), String> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let dir = match args.as_slice() {
        [dir] => PathBuf::from(dir),
        [flag, suite, file] if flag == "--open" => {
            let suite = suite.to_str().ok_or("the suite is not UTF-8")?;
            return open(suite, Path::new(file));
        }
        _ => return Err(USAGE.to_string()),
    };
    let scenario = scenario()?;
    let failures = check_on_host(&scenario);
    if !failures.is_empty() {
        return Err(format!(
            "the host disagrees with the expected verdicts:\n  {}",
            failures.join("\n  ")
        ));
    }
    write_vectors(&dir, &scenario)?;
    println!("lamp vectors written to {}", dir.display());
    Ok(())
}

const USAGE: &str =
    "usage: lamp-vectors OUT_DIR | lamp-vectors --open x25519|xwing SEALED_HEX_FILE";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lamp-vectors: {message}");
            ExitCode::FAILURE
        }
    }
}
