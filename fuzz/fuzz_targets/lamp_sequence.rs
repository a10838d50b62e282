//! Stateful: the lamp's light client fed an arbitrary sequence of the
//! Cortex-M4 lamp's real vectors (a 4-validator chain: header updates,
//! signed commands and their proofs), corrupted copies of them, clock
//! jumps and reboots from its persisted state.
//!
//! After every operation: the trusted height and the replay floor never go
//! back; no command runs twice and no sender's commands run out of order; a
//! corrupted command, proof or update is never allowed or adopted; the
//! persisted state reads back to the same bytes; a header is adopted only
//! as the chain signed it; nothing panics.
//!
//! Regenerate `fuzz/vectors/lamp` and `lamp_cases.rs` with
//! `cargo run -p itc-examples --bin lamp-vectors -- DIR` when a wire format
//! changes (the target refuses stale vectors at start).
#![no_main]

use itc_core::encoding::Decode;
use itc_core::keys::PublicKey;
use itc_spv::command::{CommandProof, Lamp, LampConfig, LampVerdict, SignedCommand};
use itc_spv::replay::ReplayTable;
use itc_spv::trusted::TrustedState;
use itc_spv::update::{HeaderUpdate, TrustOptions};
use itc_spv::Verdict;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

pub struct Case {
    #[allow(dead_code)]
    name: &'static str,
    now_ms: u64,
    update: Option<&'static [u8]>,
    command: &'static [u8],
    proof: &'static [u8],
}

include!("lamp_cases.rs");

const TRUSTED: &[u8] = include_bytes!("../vectors/lamp/trusted_state.bin");
const DEVICE: &[u8] = include_bytes!("../vectors/lamp/device_key.bin");
/// As in the vectors' generator.
const OPTIONS: TrustOptions = TrustOptions {
    trust_period_ms: 3_600_000,
    clock_drift_ms: 5_000,
};

struct Decoded {
    update: Option<HeaderUpdate>,
    command: SignedCommand,
    proof: CommandProof,
}

fn cases() -> &'static [Decoded] {
    static DECODED: OnceLock<Vec<Decoded>> = OnceLock::new();
    DECODED.get_or_init(|| {
        CASES
            .iter()
            .map(|c| Decoded {
                update: c
                    .update
                    .map(|u| HeaderUpdate::decode(u).expect("stale vectors: regenerate")),
                command: SignedCommand::decode(c.command).expect("stale vectors: regenerate"),
                proof: CommandProof::decode(c.proof).expect("stale vectors: regenerate"),
            })
            .collect()
    })
}

fn new_lamp() -> Lamp {
    let device = PublicKey::decode(DEVICE).expect("stale vectors: regenerate");
    let trusted = TrustedState::from_bytes(TRUSTED).expect("stale vectors: regenerate");
    let config = LampConfig {
        device,
        freshness_ms: 60_000,
        command_window_ms: LampConfig::COMMAND_WINDOW_MS_DEFAULT,
    };
    Lamp::new(config, OPTIONS, trusted, ReplayTable::new())
}

/// Flip one bit of `bytes` at a position the input picks.
fn corrupt(bytes: &[u8], at: u8, bit: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if !out.is_empty() {
        let i = (usize::from(at) * 131 + usize::from(bit)) % out.len();
        out[i] ^= 1 << (bit % 8);
    }
    out
}

struct Run {
    lamp: Lamp,
    now: u64,
    /// Commands allowed so far: (sender, time).
    allowed: Vec<(PublicKey, u64)>,
}

impl Run {
    /// Handle `command` with `proof`; `genuine` is the case's own pair when
    /// these are corrupted copies of it.
    fn handle(
        &mut self,
        update: Option<&HeaderUpdate>,
        command: &SignedCommand,
        proof: &CommandProof,
        genuine: Option<(&SignedCommand, &CommandProof)>,
    ) {
        let shadow = genuine.map(|_| self.lamp.clone());
        let handled = self.lamp.handle(self.now, update, command, proof);
        if handled.command == LampVerdict::Allowed {
            // A corruption may touch what the verdict does not read (the
            // grant proof of the owner's own command), never turn a refusal
            // into a run: the genuine pair is allowed in the same state.
            if let (Some(mut shadow), Some((command, proof))) = (shadow, genuine) {
                let verdict = shadow.handle(self.now, update, command, proof).command;
                assert_eq!(
                    verdict,
                    LampVerdict::Allowed,
                    "a corrupted command or proof was allowed"
                );
            }
            let key = (command.grantee, command.time_ms);
            assert!(!self.allowed.contains(&key), "a command ran twice");
            assert!(
                self.allowed
                    .iter()
                    .filter(|(s, _)| *s == command.grantee)
                    .all(|(_, t)| *t < command.time_ms),
                "a sender's command ran out of order"
            );
            self.allowed.push(key);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let cases = cases();
    let mut run = Run {
        lamp: new_lamp(),
        now: CASES[0].now_ms,
        allowed: Vec::new(),
    };
    let mut input = data.iter().copied();
    while let Some(op) = input.next() {
        let arg = input.next().unwrap_or(0);
        let k = usize::from(arg) % cases.len();
        let before_height = run.lamp.trusted().height();
        let before_floor = run.lamp.replay().floor_ms();
        match op % 8 {
            // A case as the vectors have it, at the case's time or at the
            // lamp's own (which may have moved on).
            0..=2 => {
                if op & 0x80 != 0 {
                    run.now = run.now.max(CASES[k].now_ms);
                }
                let case = &cases[k];
                let update = if op & 0x40 != 0 {
                    case.update.as_ref()
                } else {
                    None
                };
                run.handle(update, &case.command, &case.proof, None);
            }
            // A corrupted command.
            3 => {
                let at = input.next().unwrap_or(0);
                let bytes = corrupt(CASES[k].command, at, arg);
                if let Ok(command) = SignedCommand::decode(&bytes) {
                    let case = &cases[k];
                    run.handle(
                        None,
                        &command,
                        &case.proof,
                        Some((&case.command, &case.proof)),
                    );
                }
            }
            // A corrupted proof.
            4 => {
                let at = input.next().unwrap_or(0);
                let bytes = corrupt(CASES[k].proof, at, arg);
                if let Ok(proof) = CommandProof::decode(&bytes) {
                    let case = &cases[k];
                    run.handle(
                        None,
                        &case.command,
                        &proof,
                        Some((&case.command, &case.proof)),
                    );
                }
            }
            // A header update alone, genuine or corrupted.
            5 => {
                if let Some(update) = CASES[k].update {
                    let at = input.next().unwrap_or(0);
                    let bytes = if op & 0x80 != 0 {
                        corrupt(update, at, arg)
                    } else {
                        update.to_vec()
                    };
                    if let Ok(decoded) = HeaderUpdate::decode(&bytes) {
                        let genuine = cases[k].update.as_ref().expect("has an update");
                        let trusted_before = run.lamp.trusted().to_bytes();
                        let verdict = run.lamp.update(&decoded, run.now);
                        // Certificates are checked heaviest signer first,
                        // up to the threshold: a corrupted signature the
                        // quorum did not need goes unchecked, and the
                        // genuine header is adopted. A changed header, set
                        // or needed signature never is.
                        if verdict == Verdict::Success {
                            assert_eq!(
                                decoded.header, genuine.header,
                                "a corrupted header adopted"
                            );
                            assert_eq!(run.lamp.trusted().header(), &genuine.header);
                        } else {
                            assert_eq!(run.lamp.trusted().to_bytes(), trusted_before);
                        }
                    }
                }
            }
            // The clock moves forward.
            6 => run.now += u64::from(arg) * 1_000,
            // Reboot from the persisted state.
            _ => {
                let trusted = run.lamp.trusted().to_bytes();
                let replay = run.lamp.replay().to_bytes();
                let config = run.lamp.config().clone();
                let restored_trusted = TrustedState::from_bytes(&trusted).expect("own state");
                let restored_replay = ReplayTable::from_bytes(&replay).expect("own state");
                assert_eq!(restored_trusted.to_bytes(), trusted);
                assert_eq!(restored_replay.to_bytes(), replay);
                run.lamp = Lamp::new(config, OPTIONS, restored_trusted, restored_replay);
            }
        }
        assert!(
            run.lamp.trusted().height() >= before_height,
            "trusted height went back"
        );
        assert!(
            run.lamp.replay().floor_ms() >= before_floor,
            "replay floor went back"
        );
        // What the lamp persists reads back the same.
        let bytes = run.lamp.trusted().to_bytes();
        let back = TrustedState::from_bytes(&bytes).expect("own state");
        assert_eq!(back.to_bytes(), bytes);
    }
});
