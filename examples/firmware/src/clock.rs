//! Counting instructions with SysTick under `qemu -icount shift=0`.
//!
//! With `-icount shift=0`, QEMU's virtual clock advances exactly 1 ns per
//! executed guest instruction, and SysTick counts that virtual clock at the
//! board's 25 MHz core clock: one tick per 40 instructions. The other
//! candidates do not work on QEMU 7.2: the DWT cycle counter reads 0 on
//! M-profile cores, and semihosting's SYS_CLOCK counts centiseconds of the
//! host's time (it varies from run to run).
//!
//! [`calibrate`] runs a loop of a known number of instructions and returns
//! how many instructions one tick stands for, so the conversion is measured,
//! not assumed. The 24-bit counter wraps every 2^24 ticks (about 671 million
//! instructions); every measured step is far shorter, and differences are
//! taken modulo 2^24.
//!
//! Cross-check: `M4_LAMP_TRACE=1 scripts/m4-lamp.sh` also counts the
//! instructions of the first case one by one (`qemu -singlestep -d
//! exec,nochain`); the two agree to within a few hundred instructions, the
//! cost of the timing calls and the tick granularity.

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;

const RELOAD: u32 = 0x00FF_FFFF;

/// Start SysTick free-running on the core clock, without interrupts.
pub fn start(mut systick: SYST) {
    systick.set_clock_source(SystClkSource::Core);
    systick.set_reload(RELOAD);
    systick.clear_current();
    systick.enable_counter();
}

/// A point in time, in ticks.
#[derive(Clone, Copy)]
pub struct Instant(u32);

/// Now.
#[inline(always)]
pub fn now() -> Instant {
    Instant(SYST::get_current())
}

impl Instant {
    /// Ticks from `self` to now (SysTick counts down).
    #[inline(always)]
    pub fn elapsed_ticks(self) -> u32 {
        self.0.wrapping_sub(SYST::get_current()) & RELOAD
    }
}

/// Iterations of the calibration loop (two instructions each).
const CALIBRATION_ITERATIONS: u32 = 2_000_000;
/// Instructions the calibration loop executes.
pub const CALIBRATION_INSTRUCTIONS: u32 = 2 * CALIBRATION_ITERATIONS;

/// Instructions per tick, and the ticks the calibration loop took.
pub fn calibrate() -> (u32, u32) {
    let start = now();
    spin(CALIBRATION_ITERATIONS);
    let ticks = start.elapsed_ticks().max(1);
    ((CALIBRATION_INSTRUCTIONS + ticks / 2) / ticks, ticks)
}

/// Exactly `2 * iterations` instructions in the loop (`subs`, `bne`).
#[inline(never)]
fn spin(iterations: u32) {
    // SAFETY: a register-only countdown loop; no memory, no flags kept.
    unsafe {
        core::arch::asm!(
            "1:",
            "subs {0}, {0}, #1",
            "bne 1b",
            inout(reg) iterations => _,
            options(nomem, nostack),
        );
    }
}
