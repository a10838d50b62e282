//! The smart-lighting scenario, end to end: four weighted PBFT validators, an
//! owner, a guest, an attacker, and a lamp that trusts only its light-client
//! state. The lamp also reports a reading on the DAG side chain, which a
//! main-chain anchor finalizes. Used by the `lighting` binary and by its test.

use crate::cluster::Cluster;
use itc_core::encoding::{Decode, Encode};
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey, SigningDomain};
use itc_core::ledger::state_key;
use itc_core::types::{
    pairing_message, Amount, ChainId, Payload, Permissions, SecurityLevel, Transaction,
};
use itc_dag::{DagFinality, DagFinalityProof, DagPayload, DagTransaction, TxStatus};
use itc_pbft::primary_of;
use itc_spv::command::{
    CommandProof, DenyReason, Handled, Lamp, LampConfig, LampVerdict, SignedCommand,
};
use itc_spv::proof::StateEntryProof;
use itc_spv::recovery::{OwnerRecovery, RecoveryError};
use itc_spv::replay::ReplayTable;
use itc_spv::trusted::{BootstrapError, TrustedState};
use itc_spv::update::{HeaderUpdate, InvalidReason, TrustOptions, Verdict};
use std::time::Instant;

mod firmware;
mod sealed;

/// The chain id of the demo network.
pub const CHAIN: ChainId = ChainId(0x11c);
/// How old the lamp's trusted header may be before it refuses every command.
pub const LAMP_FRESHNESS_MS: u64 = 60_000;
/// How far a command's time may be from the lamp's clock.
pub const LAMP_COMMAND_WINDOW_MS: u64 = LampConfig::COMMAND_WINDOW_MS_DEFAULT;
/// Blocks per epoch on the demo chain: short, so the demo crosses an epoch
/// boundary where the validator set changes.
pub const EPOCH_LENGTH: u64 = 16;
/// The trust period the lamp uses (the default, two weeks).
pub const LAMP_TRUST: TrustOptions = TrustOptions::DEFAULT;
/// Most proof-of-work attempts the lamp makes for one DAG transaction.
pub const LAMP_POW_ITERATIONS_MAX: u64 = 1 << 22;

/// One step of the scenario.
#[derive(Clone, Debug)]
pub struct Step {
    /// What happened.
    pub name: String,
    /// The expected outcome, in words.
    pub expected: String,
    /// The actual outcome, in words.
    pub outcome: String,
    /// Whether the outcome was the expected one.
    pub ok: bool,
    /// Wall-clock time of the step in microseconds.
    pub micros: u128,
}

/// The whole run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The steps in order.
    pub steps: Vec<Step>,
    /// Submit-to-commit wall-clock latencies of the transactions, in µs.
    pub commit_latencies_us: Vec<u128>,
    /// Wall-clock times of the lamp's checks (header update plus command), µs.
    pub lamp_check_us: Vec<u128>,
    /// Bytes of the lamp's persisted trusted state.
    pub lamp_trusted_state_bytes: usize,
    /// Virtual milliseconds from the primary's crash to the next commit.
    pub view_change_virtual_ms: u64,
    /// Wall-clock µs from the lamp's DAG reading reaching the validators to
    /// its anchor committed at every running validator.
    pub dag_finality_us: u128,
    /// Blocks committed.
    pub height: u64,
}

impl Report {
    /// Whether every step had its expected outcome.
    pub fn all_ok(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.ok)
    }

    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let median = |v: &[u128]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(0)
        };
        serde_json::json!({
            "ok": self.all_ok(),
            "steps": self.steps.iter().map(|s| serde_json::json!({
                "name": s.name,
                "expected": s.expected,
                "outcome": s.outcome,
                "ok": s.ok,
                "micros": s.micros as u64,
            })).collect::<Vec<_>>(),
            "summary": {
                "blocks_committed": self.height,
                "commit_latency_us_p50": median(&self.commit_latencies_us) as u64,
                "commit_latency_us_max": self.commit_latencies_us.iter().max().copied().unwrap_or(0) as u64,
                "lamp_check_us_p50": median(&self.lamp_check_us) as u64,
                "lamp_trusted_state_bytes": self.lamp_trusted_state_bytes,
                "view_change_virtual_ms": self.view_change_virtual_ms,
                "dag_finality_us": self.dag_finality_us as u64,
            }
        })
    }
}

struct Scenario {
    cluster: Cluster,
    owner: Keypair,
    guest: Keypair,
    attacker: Keypair,
    manufacturer: Keypair,
    lamp_key: Keypair,
    nonces: std::collections::HashMap<PublicKey, u64>,
    report: Report,
}

/// What a guest's phone sends to the lamp, as bytes over the air.
struct Packet {
    update: Vec<u8>,
    command: Vec<u8>,
    proof: Vec<u8>,
}

impl Scenario {
    fn record(&mut self, name: &str, expected: &str, outcome: String, ok: bool, started: Instant) {
        self.report.steps.push(Step {
            name: name.to_string(),
            expected: expected.to_string(),
            outcome,
            ok,
            micros: started.elapsed().as_micros(),
        });
    }

    fn transaction(&mut self, who: &Keypair, payload: Payload) -> Transaction {
        let nonce = self.nonces.entry(who.public()).or_default();
        let tx = Transaction::new_signed(who, CHAIN, *nonce, Amount(1), payload);
        *nonce += 1;
        tx
    }

    /// Submit and wait until every running validator has executed it.
    fn commit(&mut self, tx: Transaction) -> Result<u64, String> {
        let started = Instant::now();
        let target = self.cluster.min_executed_height() + 1;
        self.cluster.submit(tx)?;
        if !self
            .cluster
            .run_until(|c| c.min_executed_height() >= target)?
        {
            return Err("no commit: cluster stalled".into());
        }
        self.report
            .commit_latencies_us
            .push(started.elapsed().as_micros());
        self.report.height = self.cluster.min_executed_height();
        Ok(self.report.height)
    }

    /// The latest committed header with its certificate, as the lamp gets it.
    fn latest_update(&self) -> HeaderUpdate {
        self.update_at(self.cluster.decisions().len() as u64)
    }

    /// The committed header at `height` with its certificate and the set
    /// that signed it (not today's set if an epoch ended since).
    fn update_at(&self, height: u64) -> HeaderUpdate {
        let decision = &self.cluster.decisions()[height as usize - 1];
        let validators = self
            .cluster
            .any_replica()
            .validator_set_at(height)
            .expect("a recent height's set is known")
            .clone();
        HeaderUpdate {
            header: decision.block.header.clone(),
            certificate: decision.certificate.clone(),
            validators: Some(validators),
        }
    }

    /// The value of state key `key` (or its absence) with its proof at the
    /// latest committed state, as a validator serves it.
    fn entry(&self, key: Hash) -> StateEntryProof {
        let (value, proof) = self
            .cluster
            .any_replica()
            .ledger()
            .prove_committed(&key)
            .expect("committed state is provable");
        StateEntryProof { value, proof }
    }

    /// Proofs of the lamp's record and of `grantee`'s grant at the latest
    /// committed state, as a validator serves them.
    fn proof_for(&self, grantee: &PublicKey) -> CommandProof {
        let device = self.lamp_key.public();
        let decision = self.cluster.decisions().last().expect("a block committed");
        CommandProof {
            header_height: decision.block.header.height,
            header_hash: decision.block.header.hash(),
            device: self.entry(state_key::device(&device)),
            grant: self.entry(state_key::grant(&device, grantee)),
        }
    }

    /// A command to switch the lamp, signed by `signer` at its clock
    /// `time_ms`, claiming to come from `claimed`.
    fn packet(
        &self,
        signer: &Keypair,
        claimed: PublicKey,
        time_ms: u64,
        proof: &CommandProof,
    ) -> Packet {
        self.packet_for(signer, claimed, Permissions::SWITCH, time_ms, proof)
    }

    fn packet_for(
        &self,
        signer: &Keypair,
        claimed: PublicKey,
        action: Permissions,
        time_ms: u64,
        proof: &CommandProof,
    ) -> Packet {
        let mut command =
            SignedCommand::new_signed(signer, CHAIN, self.lamp_key.public(), action, time_ms);
        if claimed != signer.public() {
            // The attacker claims to be the guest but cannot sign as her.
            command.grantee = claimed;
        }
        Packet {
            update: self.latest_update().encode(),
            command: command.encode(),
            proof: proof.encode(),
        }
    }
}

/// The lamp side: decodes what arrives over the air and decides.
fn lamp_receives(lamp: &mut Lamp, now_ms: u64, packet: &Packet) -> Result<Handled, String> {
    let update = HeaderUpdate::decode(&packet.update).map_err(|e| e.to_string())?;
    let command = SignedCommand::decode(&packet.command).map_err(|e| e.to_string())?;
    let proof = CommandProof::decode(&packet.proof).map_err(|e| e.to_string())?;
    Ok(lamp.handle(now_ms, Some(&update), &command, &proof))
}

fn committed(result: &Result<u64, String>) -> String {
    match result {
        Ok(height) => format!("committed at height {height}"),
        Err(e) => e.clone(),
    }
}

fn describe(handled: &Result<Handled, String>) -> String {
    let handled = match handled {
        Ok(handled) => handled,
        Err(e) => return format!("undecodable: {e}"),
    };
    let update = match handled.update {
        // A header the lamp already trusts, sent again: nothing to say.
        None
        | Some(Verdict::Success)
        | Some(Verdict::Invalid(InvalidReason::NonIncreasingHeight)) => String::new(),
        Some(Verdict::Invalid(reason)) => format!(" (header update refused: {reason})"),
        Some(Verdict::NotEnoughTrust) => " (header update needs bisection)".to_string(),
    };
    match handled.command {
        LampVerdict::Allowed => format!("allowed{update}"),
        LampVerdict::Denied(reason) => format!("refused: {reason}{update}"),
    }
}

fn is_denied(handled: &Result<Handled, String>, reason: DenyReason) -> bool {
    matches!(handled, Ok(Handled { command: LampVerdict::Denied(r), .. }) if *r == reason)
}

fn is_allowed(handled: &Result<Handled, String>) -> bool {
    matches!(
        handled,
        Ok(Handled {
            command: LampVerdict::Allowed,
            ..
        })
    )
}

/// Run the whole scenario. Deterministic apart from wall-clock timings.
pub fn run() -> Report {
    let validators: Vec<Keypair> = (0..4u8)
        .map(|i| Keypair::from_seed([0x50 + i; 32]))
        .collect();
    let weights = [40u64, 30, 20, 10];
    let owner = Keypair::from_seed([0x01; 32]);
    let guest = Keypair::from_seed([0x02; 32]);
    let attacker = Keypair::from_seed([0x03; 32]);
    let lamp_key = Keypair::from_seed([0x04; 32]);
    let manufacturer = Keypair::from_seed([0x05; 32]);
    let genesis = Genesis {
        chain_id: CHAIN.0,
        genesis_time_ms: 1_795_651_200_000,
        epoch_length: EPOCH_LENGTH,
        accounts: [&owner, &guest, &attacker, &manufacturer, &validators[3]]
            .iter()
            .map(|k| GenesisAccount {
                public_key: k.public(),
                balance: 1_000_000,
            })
            .collect(),
        validators: validators
            .iter()
            .zip(weights)
            .map(|(k, weight)| GenesisValidator {
                public_key: k.public(),
                weight,
            })
            .collect(),
        ..Genesis::default()
    };
    let mut s = Scenario {
        cluster: Cluster::new(&validators, genesis),
        owner,
        guest,
        attacker,
        manufacturer,
        lamp_key,
        nonces: Default::default(),
        report: Report::default(),
    };

    // 1. Register the lamp with its pairing proof.
    let t = Instant::now();
    let owner = s.owner.clone();
    // The lamp signs its owner's key and its security level.
    let level = SecurityLevel::new(1).expect("valid level");
    let pairing = s.lamp_key.sign(
        SigningDomain::DevicePairing,
        CHAIN,
        &pairing_message(&owner.public(), level),
    );
    let register = s.transaction(
        &owner,
        Payload::RegisterDevice {
            device: s.lamp_key.public(),
            security_level: level,
            metadata_hash: Hash::of(itc_core::Domain::StateValue, b"lamp model L1"),
            pairing_signature: pairing,
        },
    );
    let result = s.commit(register);
    s.record(
        "owner registers the lamp (pairing proof)",
        "committed",
        committed(&result),
        result.is_ok(),
        t,
    );
    if result.is_err() {
        return s.report;
    }

    // The lamp is paired: it pins the header that registered it.
    let first = s.latest_update();
    let pinned = first.header.hash();
    let trusted = TrustedState::bootstrap(
        first.header.clone(),
        first.validators.clone().expect("set included"),
        &pinned,
        &LAMP_TRUST,
        s.cluster.now_ms(),
    )
    .expect("pinned header bootstraps");
    let mut lamp = Lamp::new(
        LampConfig {
            device: s.lamp_key.public(),
            freshness_ms: LAMP_FRESHNESS_MS,
            command_window_ms: LAMP_COMMAND_WINDOW_MS,
        },
        LAMP_TRUST,
        trusted,
        ReplayTable::new(),
    );

    // 2. Grant the guest.
    let t = Instant::now();
    let guest_key = s.guest.public();
    let grant = s.transaction(
        &owner,
        Payload::GrantAccess {
            device: s.lamp_key.public(),
            grantee: guest_key,
            permissions: Permissions::SWITCH,
            expiry_height: 1_000,
        },
    );
    let result = s.commit(grant);
    s.record(
        "owner grants the guest SWITCH until height 1000",
        "committed",
        committed(&result),
        result.is_ok(),
        t,
    );

    // 3. The guest turns the lamp on.
    let guest = s.guest.clone();
    let granted_proof = s.proof_for(&guest_key);
    let on = s.packet(&guest, guest_key, s.cluster.now_ms(), &granted_proof);
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms(), &on);
    s.report.lamp_check_us.push(t.elapsed().as_micros());
    let ok = is_allowed(&verdict);
    s.record(
        "guest turns the lamp on",
        "allowed",
        describe(&verdict),
        ok,
        t,
    );

    // 4. Someone replays the guest's packet.
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms(), &on);
    let ok = is_denied(&verdict, DenyReason::Replayed);
    s.record(
        "the same packet is replayed",
        "refused: command replayed",
        describe(&verdict),
        ok,
        t,
    );

    // 5. The attacker forges a command in the guest's name.
    let attacker = s.attacker.clone();
    let forged = s.packet(&attacker, guest_key, s.cluster.now_ms() + 1, &granted_proof);
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms(), &forged);
    let ok = is_denied(&verdict, DenyReason::BadSignature);
    s.record(
        "attacker forges the guest's signature",
        "refused: bad signature",
        describe(&verdict),
        ok,
        t,
    );

    // The guest's phone runs ahead (within the window); the owner's command,
    // at the lamp's own time, is not a replay: each sender has its own entry.
    let ahead = s.packet(
        &guest,
        guest_key,
        s.cluster.now_ms() + LAMP_COMMAND_WINDOW_MS - 1_000,
        &granted_proof,
    );
    let t = Instant::now();
    let guest_ahead = lamp_receives(&mut lamp, s.cluster.now_ms(), &ahead);
    let owner_key = owner.public();
    let owner_proof = s.proof_for(&owner_key);
    let owner_on = s.packet(&owner, owner_key, s.cluster.now_ms(), &owner_proof);
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms(), &owner_on);
    let ok = is_allowed(&guest_ahead) && is_allowed(&verdict);
    s.record(
        "guest's clock runs 29 s ahead; then the owner switches at the lamp's time",
        "both allowed (replay state is per sender)",
        format!(
            "guest {}, owner {}",
            describe(&guest_ahead),
            describe(&verdict)
        ),
        ok,
        t,
    );

    // A command asking for no permission at all.
    let empty = s.packet_for(
        &guest,
        guest_key,
        Permissions(0),
        s.cluster.now_ms() + LAMP_COMMAND_WINDOW_MS,
        &granted_proof,
    );
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms(), &empty);
    let ok = is_denied(&verdict, DenyReason::EmptyAction);
    s.record(
        "guest sends a command that asks for no permission",
        "refused: asks for no permission",
        describe(&verdict),
        ok,
        t,
    );

    // A command recorded now and delivered after the window.
    let recorded = s.packet(&owner, owner_key, s.cluster.now_ms() + 1, &owner_proof);
    let t = Instant::now();
    let later = s.cluster.now_ms() + LAMP_COMMAND_WINDOW_MS + 1_000;
    let verdict = lamp_receives(&mut lamp, later, &recorded);
    let ok = is_denied(&verdict, DenyReason::CommandTooOld);
    s.record(
        "the owner's command is recorded and delivered 31 s later",
        "refused: too old",
        describe(&verdict),
        ok,
        t,
    );
    s.cluster.advance_clock_to(later);

    // 6. The owner revokes.
    let t = Instant::now();
    let revoke = s.transaction(
        &owner,
        Payload::RevokeAccess {
            device: s.lamp_key.public(),
            grantee: guest_key,
        },
    );
    let result = s.commit(revoke);
    s.record(
        "owner revokes the guest",
        "committed",
        committed(&result),
        result.is_ok(),
        t,
    );

    // 7. The guest tries again with a proof of the current state.
    let current = s.proof_for(&guest_key);
    let again = s.packet(&guest, guest_key, s.cluster.now_ms(), &current);
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms(), &again);
    s.report.lamp_check_us.push(t.elapsed().as_micros());
    let ok = is_denied(&verdict, DenyReason::Revoked);
    s.record(
        "guest tries again",
        "refused: revoked",
        describe(&verdict),
        ok,
        t,
    );

    // 8. The guest replays an old proof, from before the revocation.
    let stale = s.packet(&guest, guest_key, s.cluster.now_ms() + 1, &granted_proof);
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms(), &stale);
    let ok = is_denied(&verdict, DenyReason::StaleHeader);
    s.record(
        "guest proves with state older than the revocation",
        "refused: stale header",
        describe(&verdict),
        ok,
        t,
    );

    // 9. The primary crashes; the owner grants again; the chain goes on.
    let t = Instant::now();
    let replica = s.cluster.any_replica();
    let primary = primary_of(replica.view(), replica.validators());
    let primary_index = s.cluster.index_of(&primary).expect("primary is a node");
    let view_before = replica.view();
    s.cluster.crash(primary_index);
    let crash_time = s.cluster.now_ms();
    let regrant = s.transaction(
        &owner,
        Payload::GrantAccess {
            device: s.lamp_key.public(),
            grantee: guest_key,
            permissions: Permissions::SWITCH,
            expiry_height: 1_000,
        },
    );
    let result = s.commit(regrant);
    s.report.view_change_virtual_ms = s.cluster.now_ms() - crash_time;
    let view_after = s.cluster.any_replica().view();
    let ok = result.is_ok() && view_after > view_before;
    s.record(
        "primary validator crashes; owner grants again",
        "committed after a view change",
        format!(
            "{} (view {view_before} -> {view_after}, {} virtual ms)",
            committed(&result),
            s.report.view_change_virtual_ms
        ),
        ok,
        t,
    );

    let regranted = s.proof_for(&guest_key);
    let on_again = s.packet(&guest, guest_key, s.cluster.now_ms(), &regranted);
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms(), &on_again);
    s.report.lamp_check_us.push(t.elapsed().as_micros());
    let ok = is_allowed(&verdict);
    s.record(
        "guest, granted again, turns the lamp on",
        "allowed",
        describe(&verdict),
        ok,
        t,
    );

    // The lamp goes to the guest and comes back: the old grant stays dead.
    let t = Instant::now();
    let away = s.transaction(
        &owner,
        Payload::TransferDevice {
            device: s.lamp_key.public(),
            new_owner: guest_key,
        },
    );
    let back = s.transaction(
        &guest,
        Payload::TransferDevice {
            device: s.lamp_key.public(),
            new_owner: owner_key,
        },
    );
    let moved = s.commit(away).and_then(|_| s.commit(back));
    let after_return = s.proof_for(&guest_key);
    let stale_grant = s.packet(&guest, guest_key, s.cluster.now_ms(), &after_return);
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms(), &stale_grant);
    let ok = moved.is_ok() && is_denied(&verdict, DenyReason::NotGranted);
    s.record(
        "lamp is transferred to the guest and back; guest uses the earlier grant",
        "refused: not granted (the grant belongs to the earlier ownership)",
        format!("{}; {}", committed(&moved), describe(&verdict)),
        ok,
        t,
    );

    // The validator set changes at an epoch boundary; the lamp follows.
    let t = Instant::now();
    let (ok, outcome) = epoch_change(&mut s, &mut lamp);
    s.record(
        "a validator bonds more stake; the set changes at the epoch boundary",
        "lamp follows the new set; owner's command allowed",
        outcome,
        ok,
        t,
    );

    // Fifteen days without headers: the lamp's trust period runs out.
    let t = Instant::now();
    let (ok, outcome) = recovery(&mut s, &mut lamp, &first);
    s.record(
        "lamp hears nothing for 15 days; the owner brings it back",
        "update refused (trust expired), new lamp refuses the old pin, owner recovery accepted",
        outcome,
        ok,
        t,
    );

    // 11. The lamp reports a reading on the DAG; an anchor finalizes it.
    let t = Instant::now();
    let (outcome, ok) = match dag_reading(&mut s, &mut lamp) {
        Ok((height, finality)) => (
            format!("final ({finality:?}) under anchor at height {height}"),
            finality == DagFinality::Applied,
        ),
        Err(e) => (e, false),
    };
    s.record(
        "lamp posts a reading on the DAG, checks it is final",
        "final: applied under a main-chain anchor",
        outcome,
        ok,
        t,
    );

    // 12. Readings sealed to the people entitled to them.
    let t = Instant::now();
    let (outcome, ok) = match sealed::sealed_readings(&mut s, &mut lamp) {
        Ok(outcome) => (outcome, true),
        Err(e) => (e, false),
    };
    s.record(
        "lamp seals readings to the owner and a READ grantee, then the grantee is revoked",
        "both open the first reading; after the revocation only the owner opens the next; validators see ciphertext",
        outcome,
        ok,
        t,
    );

    // 13. Firmware 1.1 through the chain.
    let t = Instant::now();
    let (outcome, ok) = match firmware::firmware_update(&mut s, &mut lamp) {
        Ok(outcome) => (outcome, true),
        Err(e) => (e, false),
    };
    s.record(
        "the manufacturer publishes firmware 1.1; the lamp checks the manifest on chain and streams the image",
        "installed; tampered image, old version and a manifest signed by another key refused",
        outcome,
        ok,
        t,
    );

    s.report.lamp_trusted_state_bytes = lamp.trusted().to_bytes().len();
    s.report
}

/// A validator bonds more stake; blocks go on past the next epoch boundary;
/// the owner's command comes with the header after the boundary (signed by
/// the new set), which the lamp verifies before it decides.
fn epoch_change(s: &mut Scenario, lamp: &mut Lamp) -> (bool, String) {
    let before = lamp.trusted().validators().hash();
    // The validator of weight 10 (keys from seed 0x53, funded at genesis).
    let bonder_keys = Keypair::from_seed([0x53; 32]);
    let bonder = bonder_keys.public();
    let bond = s.transaction(&bonder_keys, Payload::Bond { amount: Amount(25) });
    if let Err(e) = s.commit(bond) {
        return (false, e);
    }
    let boundary = (s.cluster.min_executed_height() / EPOCH_LENGTH + 1) * EPOCH_LENGTH;
    let owner = s.owner.clone();
    let guest = s.guest.public();
    while s.cluster.min_executed_height() <= boundary {
        let filler = s.transaction(
            &owner,
            Payload::Transfer {
                to: guest,
                amount: Amount(1),
            },
        );
        if let Err(e) = s.commit(filler) {
            return (false, e);
        }
    }
    let owner_key = owner.public();
    let proof = s.proof_for(&owner_key);
    let packet = s.packet(&owner, owner_key, s.cluster.now_ms(), &proof);
    let verdict = lamp_receives(lamp, s.cluster.now_ms(), &packet);
    let after = lamp.trusted().validators().clone();
    let weight = after.weight_of(&bonder).unwrap_or(0);
    let ok = is_allowed(&verdict) && after.hash() != before && weight == 35;
    (
        ok,
        format!(
            "boundary at height {boundary}; lamp at height {} with a new set (bonder's weight {weight}); owner's command {}",
            lamp.trusted().height(),
            describe(&verdict)
        ),
    )
}

/// The lamp hears nothing for longer than its trust period. The next
/// header is refused and the application sees why; a new lamp pinned at
/// the registration header refuses to start; the owner, whom the lamp
/// proved before, signs a recovery to a recent header and the lamp obeys
/// again. A recovery signed by anyone else is refused.
fn recovery(s: &mut Scenario, lamp: &mut Lamp, pinned: &HeaderUpdate) -> (bool, String) {
    s.cluster
        .advance_clock_to(s.cluster.now_ms() + LAMP_TRUST.trust_period_ms + 24 * 3600 * 1000);
    let owner = s.owner.clone();
    let guest = s.guest.clone();
    let filler = s.transaction(
        &owner,
        Payload::Transfer {
            to: guest.public(),
            amount: Amount(1),
        },
    );
    if let Err(e) = s.commit(filler) {
        return (false, e);
    }
    let now = s.cluster.now_ms();
    let owner_key = owner.public();
    let proof = s.proof_for(&owner_key);
    let packet = s.packet(&owner, owner_key, now, &proof);
    let expired = lamp_receives(lamp, now, &packet);
    let update_refused = matches!(
        expired,
        Ok(Handled {
            update: Some(Verdict::Invalid(InvalidReason::TrustedStateExpired)),
            ..
        })
    );
    let fresh_lamp = TrustedState::bootstrap(
        pinned.header.clone(),
        pinned
            .validators
            .clone()
            .unwrap_or_else(|| lamp.trusted().validators().clone()),
        &pinned.header.hash(),
        &LAMP_TRUST,
        now,
    );
    let old_pin_refused = fresh_lamp == Err(BootstrapError::HeaderTooOld);
    let latest = s.latest_update();
    let device_proof = proof.device.clone();
    let lamp_header = lamp.trusted().header().clone();
    let by_guest = OwnerRecovery::new_signed(
        &guest,
        &s.lamp_key.public(),
        &lamp_header,
        latest.clone(),
        device_proof.clone(),
    );
    // Over the air, as bytes.
    let by_guest = OwnerRecovery::decode(&by_guest.encode()).expect("round trip");
    let guest_refused = lamp.recover(&by_guest, now) == Err(RecoveryError::BadSignature);
    let by_owner = OwnerRecovery::new_signed(
        &owner,
        &s.lamp_key.public(),
        &lamp_header,
        latest,
        device_proof,
    );
    let by_owner = OwnerRecovery::decode(&by_owner.encode()).expect("round trip");
    let recovered = lamp.recover(&by_owner, now);
    let packet = s.packet(&owner, owner_key, now + 1, &proof);
    let verdict = lamp_receives(lamp, now + 1, &packet);
    let ok = update_refused
        && old_pin_refused
        && guest_refused
        && recovered.is_ok()
        && is_allowed(&verdict);
    (
        ok,
        format!(
            "first packet {}; new lamp with the old pin: {:?}; guest's recovery refused: {guest_refused}; owner's recovery: {recovered:?}; owner's command {}",
            describe(&expired),
            fresh_lamp.map(|_| "started"),
            describe(&verdict)
        ),
    )
}

/// The lamp signs a reading as a DAG transaction with its own proof of
/// work, a gateway gossips it to the validators, the primary's next block
/// anchors it, and the lamp checks, from bytes, the anchoring header and
/// the finality proof of its reading. Returns the anchor height and what
/// the lamp concluded.
fn dag_reading(s: &mut Scenario, lamp: &mut Lamp) -> Result<(u64, DagFinality), String> {
    let lamp_key = s.lamp_key.public();
    let (parents, bits) = s.cluster.dag_work(&lamp_key, 0x11c)?;
    let mut reading = DagTransaction::new_signed(
        &s.lamp_key,
        CHAIN,
        parents,
        0,
        DagPayload::Data {
            record: b"lamp L1: on, 4.2 W, 2700 K".to_vec(),
        },
    );
    reading
        .solve_pow(bits, LAMP_POW_ITERATIONS_MAX)
        .map_err(|e| e.to_string())?;
    let id = reading.id();
    let sent = Instant::now();
    s.cluster.attach_dag(&reading)?;
    let anchored = |c: &Cluster| {
        c.replicas()
            .all(|r| matches!(r.anchoring().status(&id), TxStatus::Confirmed { .. }))
    };
    if !s.cluster.run_until(anchored)? {
        return Err("not anchored: cluster stalled".into());
    }
    s.report.dag_finality_us = sent.elapsed().as_micros();
    s.report.height = s.cluster.min_executed_height();
    let TxStatus::Confirmed { height } = s.cluster.any_replica().anchoring().status(&id) else {
        return Err("not confirmed".into());
    };
    let proof = s
        .cluster
        .any_replica()
        .anchoring()
        .prove(&id)
        .ok_or("no finality proof")?;
    // Over the air: the anchoring header with its certificate, then the proof.
    let update_bytes = s.update_at(height).encode();
    let proof_bytes = proof.encode();
    let update = HeaderUpdate::decode(&update_bytes).map_err(|e| e.to_string())?;
    let verdict = lamp.update(&update, s.cluster.now_ms());
    if !verdict.is_success() {
        return Err(format!("lamp refused the anchoring header: {verdict:?}"));
    }
    let proof = DagFinalityProof::decode(&proof_bytes).map_err(|e| e.to_string())?;
    let finality = proof
        .verify(lamp.trusted().header(), &id)
        .map_err(|e| format!("lamp refused the proof: {e}"))?;
    // The same proof does not pass for a reading the lamp did not send.
    let other = Hash::of(itc_core::Domain::DagTransaction, b"forged reading");
    if proof.verify(lamp.trusted().header(), &other).is_ok() {
        return Err("a proof passed for another transaction".into());
    }
    Ok((height, finality))
}
