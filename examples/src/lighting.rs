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
use itc_spv::command::{CommandProof, DenyReason, Lamp, LampConfig, LampVerdict, SignedCommand};
use itc_spv::proof::StateEntryProof;
use itc_spv::trusted::TrustedState;
use itc_spv::update::{HeaderUpdate, TrustOptions};
use std::time::Instant;

/// The chain id of the demo network.
pub const CHAIN: ChainId = ChainId(0x11c);
/// How old the lamp's trusted header may be before it refuses every command.
pub const LAMP_FRESHNESS_MS: u64 = 60_000;
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
            .run_until(|c| c.min_executed_height() >= target)
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
        self.update_at(self.cluster.decisions.len() as u64)
    }

    /// The committed header at `height` with its certificate and the set
    /// that signed it (not today's set if an epoch ended since).
    fn update_at(&self, height: u64) -> HeaderUpdate {
        let decision = &self.cluster.decisions[height as usize - 1];
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

    /// Proofs of the lamp's record and of `grantee`'s grant at the latest
    /// committed state, as a validator serves them.
    fn proof_for(&self, grantee: &PublicKey) -> CommandProof {
        let replica = self.cluster.any_replica();
        let ledger = replica.ledger();
        let device = self.lamp_key.public();
        let entry = |key: Hash| {
            let (value, proof) = ledger
                .prove_committed(&key)
                .expect("committed state is provable");
            StateEntryProof { value, proof }
        };
        let decision = self.cluster.decisions.last().expect("a block committed");
        CommandProof {
            header_height: decision.block.header.height,
            header_hash: decision.block.header.hash(),
            device: entry(state_key::device(&device)),
            grant: entry(state_key::grant(&device, grantee)),
        }
    }

    fn packet(
        &self,
        signer: &Keypair,
        claimed: PublicKey,
        counter: u64,
        proof: &CommandProof,
    ) -> Packet {
        let mut command = SignedCommand::new_signed(
            signer,
            CHAIN,
            self.lamp_key.public(),
            Permissions::SWITCH,
            counter,
        );
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
fn lamp_receives(lamp: &mut Lamp, now_ms: u64, packet: &Packet) -> Result<LampVerdict, String> {
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

fn describe(verdict: &Result<LampVerdict, String>) -> String {
    match verdict {
        Ok(LampVerdict::Allowed { new_counter }) => format!("allowed (counter {new_counter})"),
        Ok(LampVerdict::Denied(reason)) => format!("refused: {reason}"),
        Err(e) => format!("undecodable: {e}"),
    }
}

fn is_denied(verdict: &Result<LampVerdict, String>, reason: DenyReason) -> bool {
    matches!(verdict, Ok(LampVerdict::Denied(r)) if *r == reason)
}

fn is_allowed(verdict: &Result<LampVerdict, String>) -> bool {
    matches!(verdict, Ok(LampVerdict::Allowed { .. }))
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
    let genesis = Genesis {
        chain_id: CHAIN.0,
        genesis_time_ms: 1_795_651_200_000,
        accounts: [&owner, &guest, &attacker]
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
    )
    .expect("pinned header bootstraps");
    let mut lamp = Lamp::new(
        LampConfig {
            device: s.lamp_key.public(),
            freshness_ms: LAMP_FRESHNESS_MS,
        },
        TrustOptions::DEFAULT,
        trusted,
        0,
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
    let on = s.packet(&guest, guest_key, 1, &granted_proof);
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms, &on);
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
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms, &on);
    let ok = is_denied(&verdict, DenyReason::ReplayedCounter);
    s.record(
        "the same packet is replayed",
        "refused: replayed counter",
        describe(&verdict),
        ok,
        t,
    );

    // 5. The attacker forges a command in the guest's name.
    let attacker = s.attacker.clone();
    let forged = s.packet(&attacker, guest_key, 2, &granted_proof);
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms, &forged);
    let ok = is_denied(&verdict, DenyReason::BadSignature);
    s.record(
        "attacker forges the guest's signature",
        "refused: bad signature",
        describe(&verdict),
        ok,
        t,
    );

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
    let again = s.packet(&guest, guest_key, 3, &current);
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms, &again);
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
    let stale = s.packet(&guest, guest_key, 4, &granted_proof);
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms, &stale);
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
    let crash_time = s.cluster.now_ms;
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
    s.report.view_change_virtual_ms = s.cluster.now_ms - crash_time;
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
    let on_again = s.packet(&guest, guest_key, 5, &regranted);
    let t = Instant::now();
    let verdict = lamp_receives(&mut lamp, s.cluster.now_ms, &on_again);
    s.report.lamp_check_us.push(t.elapsed().as_micros());
    let ok = is_allowed(&verdict);
    s.record(
        "guest, granted again, turns the lamp on",
        "allowed",
        describe(&verdict),
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

    s.report.lamp_trusted_state_bytes = lamp.trusted().to_bytes().len();
    s.report
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
        c.nodes
            .iter()
            .filter_map(|n| n.replica.as_ref())
            .all(|r| matches!(r.anchoring().status(&id), TxStatus::Confirmed { .. }))
    };
    if !s.cluster.run_until(anchored) {
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
    let verdict = lamp.update(&update, s.cluster.now_ms);
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
