//! Peak stack use by painting: fill the unused stack with a pattern at the
//! start, and later find the deepest word that no longer holds it.
//!
//! The stack grows down from the top of RAM (`_stack_start`, from
//! cortex-m-rt) towards the end of the static data (`__sheap`). Everything
//! between is painted, except a margin below the painter's own frame.

use core::ptr::{addr_of, read_volatile, write_volatile};

const PATTERN: u32 = 0xC0DE_57AC;
/// Left unpainted below the stack pointer, for `paint`'s own frame.
const MARGIN_BYTES: usize = 64;

extern "C" {
    static __sheap: u32;
    static _stack_start: u32;
}

fn bounds() -> (usize, usize) {
    // Only the addresses of the linker symbols are taken.
    (addr_of!(__sheap) as usize, addr_of!(_stack_start) as usize)
}

/// Bytes between the end of static data and the top of the stack.
pub fn size() -> usize {
    let (bottom, top) = bounds();
    top - bottom
}

/// Paint the free stack, and return how deep the stack already is (the
/// callers' frames), to tell a step's own use from its harness.
#[inline(never)]
pub fn paint() -> usize {
    let (bottom, top) = bounds();
    let sp = cortex_m::register::msp::read() as usize;
    let mut address = (bottom + 3) & !3;
    while address + MARGIN_BYTES < sp {
        // SAFETY: [bottom, sp - MARGIN) is RAM that no static and no live
        // frame uses: statics end at `__sheap`, the stack is above sp.
        unsafe { write_volatile(address as *mut u32, PATTERN) };
        address += 4;
    }
    top - sp
}

/// Deepest stack use since `paint`, in bytes from the top of RAM.
#[inline(never)]
pub fn peak() -> usize {
    let (bottom, top) = bounds();
    let mut address = (bottom + 3) & !3;
    // SAFETY: reads words of RAM between the statics and the stack top.
    while address < top && unsafe { read_volatile(address as *const u32) } == PATTERN {
        address += 4;
    }
    top - address
}
