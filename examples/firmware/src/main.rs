//! The lamp's check on a Cortex-M4, on test vectors from the host.
//!
//! Boots on QEMU's `mps2-an386`, reads the lamp's trusted state (a pinned
//! header and its validator set) as it would from flash, then plays the
//! host's cases through one [`Lamp`]: a header update when the case brings
//! one, then a signed command with its proofs. The lamp, and with it its
//! per-sender [`ReplayTable`] (a fixed array, no heap), lives in static RAM
//! (`.bss`); the firmware checks that at boot. For every case it prints one
//! JSON object over semihosting with both verdicts, whether they are the
//! expected ones, the instructions each step took, the peak heap and the
//! replay table's state.
//!
//! Then the same lamp checks firmware updates ([`update`]): header updates
//! for the blocks that publish a release or rotate the release key, offers
//! checked at its trusted header, and a 64 KiB image streamed through the
//! hash; one JSON object per update case. Images built with feature
//! `seal-x25519` or `seal-xwing` then seal a reading to the owner's proven
//! key ([`seal`]) and print the sealed payload. At the end the firmware
//! prints the peak stack and heap of the whole run, and exits QEMU with
//! status 0 only if every verdict is the expected one.
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
mod image;
#[cfg(any(feature = "seal-x25519", feature = "seal-xwing"))]
mod seal;
mod stack;
mod update;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use itc_core::encoding::Decode;
use itc_core::keys::PublicKey;
use itc_spv::{
    CommandProof, HeaderUpdate, InvalidReason, Lamp, LampConfig, LampVerdict, ReplayTable,
    SignedCommand, TrustedState, Verdict,
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

/// The host's vectors: `CASES`, `TRUSTED_STATE`, `DEVICE_KEY`, the lamp's
/// settings, `UPDATE_CASES` and the offered image's parameters.
mod vectors {
    use super::Case;
    use crate::update::UpdateCase;
    // What the generated file may name, whether or not this set of cases does.
    #[allow(unused_imports)]
    use itc_spv::{DenyReason, InvalidReason, LampVerdict, TrustOptions, UpdateRefusal, Verdict};
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
    /// Deepest stack during the case, from the top of RAM.
    stack_peak: usize,
    /// Stack already in use by `main` when the case started.
    stack_base: usize,
}

/// Decode and apply the header update, then decode and check the command:
/// what a lamp does with what it receives. Everything decoded is dropped
/// inside the measured steps.
#[inline(never)]
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
        (Ok(command), Ok(proof)) => match lamp.handle(case.now_ms, None, &command, &proof) {
            // The update was applied above, so `handle` must report none.
            handled if handled.update.is_none() => Ok(handled.command),
            _ => Err("handle reported an update it was not given"),
        },
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
        stack_peak: 0,
        stack_base: 0,
    }
}

/// Print one case as a JSON object; true if both verdicts are expected.
/// Kept out of `main` so that the formatting's frame is not part of the
/// stack under the measured steps.
#[inline(never)]
fn report_case(case: &Case, outcome: &Outcome, lamp: &Lamp, instructions_per_tick: u32) -> bool {
    let ok = outcome.update == case.expected_update && outcome.verdict == Ok(case.expected);
    // Debug output of the verdicts has no quotes or backslashes, so it can
    // stand inside a JSON string.
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
        "{{\"case\":\"{}\",\"ok\":{},\"header\":{},\"expected_header\":{},\"verdict\":\"{}\",\"expected\":\"{:?}\",\"update_instructions\":{},\"check_instructions\":{},\"heap_requested_peak_bytes\":{},\"heap_used_peak_bytes\":{},\"stack_peak_bytes\":{},\"stack_harness_bytes\":{},\"trusted_height\":{},\"replay_senders\":{},\"replay_floor_ms\":{}}}",
        case.name,
        ok,
        header,
        expected_header,
        verdict,
        case.expected,
        outcome.update_ticks * instructions_per_tick,
        outcome.check_ticks * instructions_per_tick,
        outcome.heap_requested_peak,
        outcome.heap_used_peak,
        outcome.stack_peak,
        outcome.stack_base,
        lamp.trusted().height(),
        lamp.replay().len(),
        lamp.replay().floor_ms()
    );
    ok
}

/// Calibrate the instruction counter and print the calibration.
#[inline(never)]
fn calibrate() -> u32 {
    let (instructions_per_tick, calibration_ticks) = clock::calibrate();
    hprintln!(
        "{{\"calibration\":{{\"instructions\":{},\"ticks\":{},\"instructions_per_tick\":{}}}}}",
        clock::CALIBRATION_INSTRUCTIONS,
        calibration_ticks,
        instructions_per_tick
    );
    instructions_per_tick
}

/// Where the lamp's replay table is: true if in static RAM (`.data`/`.bss`,
/// below the end of the statics) and outside the heap arena.
fn in_static_ram(address: usize) -> bool {
    extern "C" {
        static __sheap: u32;
    }
    const RAM_ORIGIN: usize = 0x2000_0000;
    // Only the address of the linker symbol is taken.
    let statics_end = core::ptr::addr_of!(__sheap) as usize;
    let arena = heap::arena();
    (RAM_ORIGIN..statics_end).contains(&address)
        && (RAM_ORIGIN..statics_end).contains(&(address + core::mem::size_of::<ReplayTable>() - 1))
        && !arena.contains(&address)
        && !arena.contains(&(address + core::mem::size_of::<ReplayTable>() - 1))
}

/// Read the trusted state "from flash", as the lamp does at power-on, and
/// put the lamp (trusted state, empty replay table) in static RAM.
#[inline(never)]
fn boot(instructions_per_tick: u32) -> Option<&'static mut Lamp> {
    let start = clock::now();
    let trusted = TrustedState::from_bytes(vectors::TRUSTED_STATE);
    let ticks = start.elapsed_ticks();
    let Ok(trusted) = trusted else {
        hprintln!("{{\"error\":\"trusted state does not decode\"}}");
        return None;
    };
    let config = LampConfig {
        device: PublicKey(*vectors::DEVICE_KEY),
        freshness_ms: vectors::FRESHNESS_MS,
        command_window_ms: vectors::COMMAND_WINDOW_MS,
    };
    let height = trusted.height();
    let validators = trusted.validators().validators().len();
    // In .bss (cortex-m's singleton: a MaybeUninit static and a flag), so
    // the replay table's fixed array is static RAM, not heap or stack.
    let lamp: &'static mut Lamp = cortex_m::singleton!(
        LAMP: Lamp = Lamp::new(config, vectors::OPTIONS, trusted, ReplayTable::new())
    )?;
    let replay_address = lamp.replay() as *const ReplayTable as usize;
    let replay_static = in_static_ram(replay_address);
    hprintln!(
        "{{\"boot\":{{\"chain_id\":{},\"trusted_height\":{},\"validators\":{},\"trusted_state_bytes\":{},\"decode_instructions\":{},\"command_window_ms\":{},\"lamp_bytes\":{},\"replay_table_bytes\":{},\"replay_table_address\":{},\"replay_table_in_static_ram\":{}}}}}",
        vectors::CHAIN_ID,
        height,
        validators,
        vectors::TRUSTED_STATE.len(),
        ticks * instructions_per_tick,
        vectors::COMMAND_WINDOW_MS,
        core::mem::size_of::<Lamp>(),
        core::mem::size_of::<ReplayTable>(),
        replay_address,
        replay_static
    );
    if !replay_static {
        return None;
    }
    Some(lamp)
}

/// `Installed(version)` or the refusal's name: no quotes or backslashes.
fn update_verdict(verdict: &Result<u32, itc_spv::UpdateRefusal>) -> String {
    match verdict {
        Ok(version) => format!("Installed({version})"),
        Err(refusal) => format!("{refusal:?}"),
    }
}

/// Print one update case as a JSON object; true if both verdicts are the
/// expected ones. `image_instructions` is the hashing alone: receiving and
/// hashing the chunks, less receiving them again without the hash.
#[inline(never)]
fn report_update_case(
    case: &update::UpdateCase,
    outcome: &update::UpdateOutcome,
    running: u32,
    lamp: &Lamp,
    instructions_per_tick: u32,
) -> bool {
    let ok = outcome.update == case.expected_update && outcome.verdict == case.expected;
    let header = match outcome.update {
        Some(verdict) => format!("\"{verdict:?}\""),
        None => String::from("null"),
    };
    let expected_header = match case.expected_update {
        Some(verdict) => format!("\"{verdict:?}\""),
        None => String::from("null"),
    };
    let image_ticks = outcome.image_ticks.saturating_sub(outcome.receive_ticks);
    hprintln!(
        "{{\"update_case\":\"{}\",\"ok\":{},\"header\":{},\"expected_header\":{},\"verdict\":\"{}\",\"expected\":\"{}\",\"running_version\":{},\"header_update_instructions\":{},\"check_instructions\":{},\"image_instructions\":{},\"receive_instructions\":{},\"image_bytes\":{},\"heap_requested_peak_bytes\":{},\"heap_used_peak_bytes\":{},\"stack_peak_bytes\":{},\"stack_harness_bytes\":{},\"trusted_height\":{}}}",
        case.name,
        ok,
        header,
        expected_header,
        update_verdict(&outcome.verdict),
        update_verdict(&case.expected),
        running,
        outcome.update_ticks * instructions_per_tick,
        outcome.check_ticks * instructions_per_tick,
        image_ticks * instructions_per_tick,
        outcome.receive_ticks * instructions_per_tick,
        outcome.image_bytes,
        outcome.heap_requested_peak,
        outcome.heap_used_peak,
        outcome.stack_peak,
        outcome.stack_base,
        lamp.trusted().height()
    );
    ok
}

/// Print the sealed payload as a JSON object (its bytes in hex, written in
/// pieces so that no large string is allocated); true if there is one.
#[cfg(any(feature = "seal-x25519", feature = "seal-xwing"))]
#[inline(never)]
fn report_seal(outcome: &seal::SealOutcome, instructions_per_tick: u32) -> bool {
    use cortex_m_semihosting::hprint;
    let (sealed, error) = match &outcome.sealed {
        Ok(bytes) => (&bytes[..], None),
        Err(error) => (&[][..], Some(*error)),
    };
    hprint!(
        "{{\"seal\":\"{}\",\"ok\":{},\"error\":\"{}\",\"sealed_bytes\":{},\"key_proof_instructions\":{},\"seal_instructions\":{},\"heap_requested_peak_bytes\":{},\"heap_used_peak_bytes\":{},\"stack_peak_bytes\":{},\"stack_harness_bytes\":{},\"sealed_hex\":\"",
        seal::SUITE_NAME,
        error.is_none(),
        error.unwrap_or(""),
        sealed.len(),
        outcome.key_ticks * instructions_per_tick,
        outcome.seal_ticks * instructions_per_tick,
        outcome.heap_requested_peak,
        outcome.heap_used_peak,
        outcome.stack_peak,
        outcome.stack_base
    );
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for piece in sealed.chunks(64) {
        let mut text = [0u8; 128];
        for (byte, pair) in piece.iter().zip(text.chunks_mut(2)) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
        // Hex digits are ASCII.
        let text = core::str::from_utf8(&text[..2 * piece.len()]).unwrap_or("");
        hprint!("{}", text);
    }
    hprintln!("\"}}");
    error.is_none()
}

/// Peaks over the whole run.
#[derive(Default)]
struct Peaks {
    stack: usize,
    stack_harness: usize,
    heap_used: usize,
    heap_requested: usize,
}

#[inline(never)]
fn report_summary(failures: u32, peaks: &Peaks, instructions_per_tick: u32) {
    hprintln!(
        "{{\"summary\":{{\"cases\":{},\"failures\":{},\"stack_peak_bytes\":{},\"stack_harness_bytes\":{},\"stack_region_bytes\":{},\"heap_arena_bytes\":{},\"heap_used_peak_bytes\":{},\"heap_requested_peak_bytes\":{},\"heap_live_at_end_bytes\":{},\"instructions_per_tick\":{}}}}}",
        vectors::CASES.len() + vectors::UPDATE_CASES.len(),
        failures,
        peaks.stack,
        peaks.stack_harness,
        stack::size(),
        heap::HEAP_BYTES,
        peaks.heap_used,
        peaks.heap_requested,
        heap::HEAP.requested_live(),
        instructions_per_tick
    );
}

fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Not reached under QEMU; on a board without a debugger, stop here.
    #[allow(clippy::empty_loop)]
    loop {}
}

#[entry]
fn main() -> ! {
    heap::init();
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        exit(false)
    };
    clock::start(peripherals.SYST);
    let instructions_per_tick = calibrate();
    let Some(lamp) = boot(instructions_per_tick) else {
        exit(false)
    };
    let mut failures = 0u32;
    let mut peaks = Peaks::default();
    for case in vectors::CASES {
        let stack_base = stack::paint();
        let mut outcome = run_case(lamp, case);
        outcome.stack_peak = stack::peak();
        outcome.stack_base = stack_base;
        if !report_case(case, &outcome, lamp, instructions_per_tick) {
            failures += 1;
        }
        peaks.stack = peaks.stack.max(outcome.stack_peak);
        peaks.stack_harness = peaks.stack_harness.max(outcome.stack_base);
        peaks.heap_used = peaks.heap_used.max(outcome.heap_used_peak);
        peaks.heap_requested = peaks.heap_requested.max(outcome.heap_requested_peak);
    }
    // Firmware updates, on the same lamp, which runs what it installs.
    let mut running = vectors::FIRMWARE_VERSION;
    for case in vectors::UPDATE_CASES {
        let stack_base = stack::paint();
        let mut outcome = update::run_update_case(lamp, running, case);
        outcome.stack_peak = stack::peak();
        outcome.stack_base = stack_base;
        if !report_update_case(case, &outcome, running, lamp, instructions_per_tick) {
            failures += 1;
        }
        if let Ok(version) = outcome.verdict {
            running = version;
        }
        peaks.stack = peaks.stack.max(outcome.stack_peak);
        peaks.stack_harness = peaks.stack_harness.max(outcome.stack_base);
        peaks.heap_used = peaks.heap_used.max(outcome.heap_used_peak);
        peaks.heap_requested = peaks.heap_requested.max(outcome.heap_requested_peak);
    }
    // Sealing, in the images that carry a suite; reported on its own line,
    // its peaks are not part of the summary's.
    #[cfg(any(feature = "seal-x25519", feature = "seal-xwing"))]
    {
        let stack_base = stack::paint();
        let mut outcome = seal::run_seal(lamp);
        outcome.stack_peak = stack::peak();
        outcome.stack_base = stack_base;
        if !report_seal(&outcome, instructions_per_tick) {
            failures += 1;
        }
    }
    report_summary(failures, &peaks, instructions_per_tick);
    exit(failures == 0)
}
