//! The lamp's check on a Cortex-M4, on test vectors from the host.
//!
//! Boots on QEMU's `mps2-an386`, reads the lamp's trusted state (a pinned
//! header and its validator set) as it would from flash, then plays the
//! host's cases through one [`Lamp`]: a header update when the case brings
//! one, then a signed command with its proofs. For every case it prints one
//! JSON object over semihosting with both verdicts, whether they are the
//! expected ones, the instructions each step took and the peak heap; at the
//! end the peak stack and heap of the whole run. It exits QEMU with status 0
//! only if every verdict is the expected one.
//!
//! Vectors: `cargo run -p itc-examples --bin lamp-vectors -- DIR`, then build
//! with `ITC_LAMP_VECTORS_DIR=DIR` (default `target/vectors`).
//! `scripts/m4-lamp.sh` does all of it.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;

mod clock;
mod heap;
mod stack;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use itc_core::encoding::Decode;
use itc_core::keys::PublicKey;
use itc_spv::{
    CommandProof, DenyReason, HeaderUpdate, InvalidReason, Lamp, LampConfig, LampVerdict,
    SignedCommand, TrustOptions, TrustedState, Verdict,
};
use panic_semihosting as _;

/// One step of the lamp's life, as the host wrote it.
struct Case {
    name: &'static str,
    now_ms: u64,
    update: Option<&'static [u8]>,
    expected_update: Option<Verdict>,
    command: &'static [u8],
    proof: &'static [u8],
    expected: LampVerdict,
}

mod vectors {
    use super::*;
    include!(concat!(env!("ITC_LAMP_VECTORS_DIR"), "/cases.rs"));
}

/// What one case measured.
struct Outcome {
    update: Option<Verdict>,
    verdict: Result<LampVerdict, &'static str>,
    update_ticks: u32,
    check_ticks: u32,
    heap_requested_peak: usize,
    heap_used_peak: usize,
}

/// Decode and apply the header update, then decode and check the command:
/// what a lamp does with what it receives. Everything decoded is dropped
/// inside the measured steps.
fn run_case(lamp: &mut Lamp, case: &Case) -> Outcome {
    heap::HEAP.reset_peaks();
    let start = clock::now();
    let update = case.update.map(|bytes| match HeaderUpdate::decode(bytes) {
        Ok(update) => lamp.update(&update, case.now_ms),
        // Undecodable: the lamp ignores it, as `Lamp::handle` does.
        Err(_) => Verdict::Invalid(InvalidReason::CertificateMismatch),
    });
    let update_ticks = start.elapsed_ticks();
    let start = clock::now();
    let verdict = match (
        SignedCommand::decode(case.command),
        CommandProof::decode(case.proof),
    ) {
        (Ok(command), Ok(proof)) => Ok(lamp.handle(case.now_ms, None, &command, &proof)),
        _ => Err("undecodable command or proof"),
    };
    let check_ticks = start.elapsed_ticks();
    Outcome {
        update,
        verdict,
        update_ticks,
        check_ticks,
        heap_requested_peak: heap::HEAP.requested_peak(),
        heap_used_peak: heap::HEAP.used_peak(),
    }
}

#[entry]
fn main() -> ! {
    heap::init();
    stack::paint();
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        hprintln!("peripherals already taken");
        debug::exit(debug::EXIT_FAILURE);
        unreachable!()
    };
    clock::start(peripherals.SYST);
    let (instructions_per_tick, calibration_ticks) = clock::calibrate();
    hprintln!(
        "{{\"calibration\":{{\"instructions\":{},\"ticks\":{},\"instructions_per_tick\":{}}}}}",
        4_000_000,
        calibration_ticks,
        instructions_per_tick
    );

    heap::HEAP.reset_peaks();
    let start = clock::now();
    let trusted = TrustedState::from_bytes(vectors::TRUSTED_STATE);
    let boot_ticks = start.elapsed_ticks();
    let Ok(trusted) = trusted else {
        hprintln!("{{\"error\":\"trusted state does not decode\"}}");
        debug::exit(debug::EXIT_FAILURE);
        unreachable!()
    };
    hprintln!(
        "{{\"boot\":{{\"chain_id\":{},\"trusted_height\":{},\"validators\":{},\"trusted_state_bytes\":{},\"decode_instructions\":{}}}}}",
        vectors::CHAIN_ID,
        trusted.height(),
        trusted.validators().validators().len(),
        vectors::TRUSTED_STATE.len(),
        boot_ticks * instructions_per_tick
    );

    let config = LampConfig {
        device: PublicKey(*vectors::DEVICE_KEY),
        freshness_ms: vectors::FRESHNESS_MS,
    };
    let mut lamp = Lamp::new(config, vectors::OPTIONS, trusted, 0);
    let mut failures = 0u32;
    let mut heap_used_peak = 0;
    let mut heap_requested_peak = 0;
    for case in vectors::CASES {
        let outcome = run_case(&mut lamp, case);
        let update_ok = outcome.update == case.expected_update;
        let verdict_ok = outcome.verdict == Ok(case.expected);
        if !(update_ok && verdict_ok) {
            failures += 1;
        }
        heap_used_peak = heap_used_peak.max(outcome.heap_used_peak);
        heap_requested_peak = heap_requested_peak.max(outcome.heap_requested_peak);
        // Debug output of the verdicts has no quotes or backslashes, so it
        // can stand inside a JSON string.
        let header = match outcome.update {
            Some(verdict) => format!("\"{verdict:?}\""),
            None => String::from("null"),
        };
        let expected_header = match case.expected_update {
            Some(verdict) => format!("\"{verdict:?}\""),
            None => String::from("null"),
        };
        let verdict = match outcome.verdict {
            Ok(verdict) => format!("{verdict:?}"),
            Err(error) => String::from(error),
        };
        hprintln!(
            "{{\"case\":\"{}\",\"ok\":{},\"header\":{},\"expected_header\":{},\"verdict\":\"{}\",\"expected\":\"{:?}\",\"update_instructions\":{},\"check_instructions\":{},\"heap_requested_peak_bytes\":{},\"heap_used_peak_bytes\":{},\"trusted_height\":{},\"last_counter\":{}}}",
            case.name,
            update_ok && verdict_ok,
            header,
            expected_header,
            verdict,
            case.expected,
            outcome.update_ticks * instructions_per_tick,
            outcome.check_ticks * instructions_per_tick,
            outcome.heap_requested_peak,
            outcome.heap_used_peak,
            lamp.trusted().height(),
            lamp.last_counter()
        );
    }
    drop(lamp);
    hprintln!(
        "{{\"summary\":{{\"cases\":{},\"failures\":{},\"stack_peak_bytes\":{},\"stack_region_bytes\":{},\"heap_arena_bytes\":{},\"heap_used_peak_bytes\":{},\"heap_requested_peak_bytes\":{},\"heap_live_at_end_bytes\":{},\"instructions_per_tick\":{}}}}}",
        vectors::CASES.len(),
        failures,
        stack::peak(),
        stack::size(),
        heap::HEAP_BYTES,
        heap_used_peak,
        heap_requested_peak,
        heap::HEAP.requested_live(),
        instructions_per_tick
    );
    debug::exit(if failures == 0 {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Keep the names used by the generated vectors in scope.
#[allow(dead_code)]
fn _names(_: DenyReason, _: TrustOptions) {}
