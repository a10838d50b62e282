//! `lamp_analytics` in Rust: the reference ChainCode contract
//! (`contracts/lamp_analytics.wat`), written the way a company would write
//! its own. Same schema, same cells, same outputs.
//!
//! Records (one household, one month), 16 bytes little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | `0..8` | `time_s: u64`, seconds since the month's start, local time |
//! | `8..12` | `lamp_model: u32` |
//! | `12` | `event: u8`, 1 = on, 0 = off |
//! | `13..16` | padding |
//!
//! A record is kept when `record_read` copies 16 bytes of it (shorter ones
//! are skipped; longer ones are read as their first 16 bytes); at most
//! [`RECORDS_READ_MAX`] records are read.
//!
//! Schema:
//!
//! | field | kind | cell |
//! |---|---|---|
//! | 0 | `Sum { max: 1 }` | 1 if a light was switched on in 00:00..05:00 |
//! | 1 | `Sum { max: 1 }` | 1 (the household counter) |
//! | 2 | `Sum { max: 240 }` | mean daily on-time in tenths of an hour: `total_on_seconds / (30 * 360)` |
//! | 3 | `Hll { precision: 4, max_rank: 4, items_max: 8 }` | lamp models (the model id's 4 little-endian bytes) |
//!
//! Each "on" is paired with the next "off" of the same model in record order
//! (at the same time or later); an "on" never switched off is not counted.
//!
//! `finalize` outputs: after-midnight count, the noisy household counter,
//! the mean on-time in hundredths of an hour (`10 * sum / contributors`, 0
//! when no one contributed), and the distinct lamp models (`hll_estimate`).
//!
//! The crate is `no_std`, has no dependencies, uses no floats and has no
//! panicking path: bounds are carried by slices and iterators, so the module
//! holds no panic message or source path.
#![no_std]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]

use core::cell::UnsafeCell;

// The host API this contract uses (import module `"itc"`). Pointers are
// offsets into the contract's own linear memory (`i32` on wasm32).
#[link(wasm_import_module = "itc")]
extern "C" {
    /// Number of the user's records.
    fn record_count() -> i32;
    /// Copy at most `len` bytes of record `i` to `ptr`; bytes copied, or -1.
    fn record_read(i: i32, ptr: *mut u8, len: i32) -> i32;
    /// Add `value` to cell `cell` (a `Sum` or `Histogram` cell).
    fn cell_add(cell: i32, value: i64);
    /// Insert the item `ptr[..len]` into HLL field `field`.
    fn hll_add(field: i32, ptr: *const u8, len: i32);
    /// Centered noisy aggregate cell `i`.
    fn agg_get(i: i32) -> i64;
    /// Set output `i`.
    fn result_set(i: i32, value: i64);
    /// Distinct-count estimate of HLL field `field`.
    fn hll_estimate(field: i32) -> i64;
    /// Number of valid contributions summed.
    fn contributors() -> i64;
}

/// Bytes of one record.
const RECORD_BYTES: usize = 16;
/// Most records read (as the WAT contract).
pub const RECORDS_READ_MAX: usize = 4000;
/// 00:00..05:00, in seconds since midnight.
const AFTER_MIDNIGHT_END_S: u64 = 5 * 3600;
/// Seconds per day.
const DAY_S: u64 = 86_400;
/// 30 days × 360 s: total seconds to tenths of an hour per day.
const TENTHS_PER_DAY_DIVISOR: u64 = 30 * 360;

/// Field indices of the schema.
const FIELD_AFTER_MIDNIGHT: i32 = 0;
const FIELD_HOUSEHOLDS: i32 = 1;
const FIELD_ON_TIME: i32 = 2;
const FIELD_MODELS: i32 = 3;

type Record = [u8; RECORD_BYTES];

/// The kept records, in linear memory (zero-initialized, so it costs no
/// instructions at start). A contract instance runs one entry point once,
/// single-threaded: nothing else ever touches the buffer.
struct Buffer(UnsafeCell<[Record; RECORDS_READ_MAX]>);

// SAFETY: wasm32-unknown-unknown without the atomics feature has one thread.
unsafe impl Sync for Buffer {}

static RECORDS: Buffer = Buffer(UnsafeCell::new([[0; RECORD_BYTES]; RECORDS_READ_MAX]));

fn time_s(r: &Record) -> u64 {
    u64::from_le_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]])
}

fn model(r: &Record) -> u32 {
    u32::from_le_bytes([r[8], r[9], r[10], r[11]])
}

fn event(r: &Record) -> u8 {
    r[12]
}

/// The contribution: one household's cells.
#[no_mangle]
pub extern "C" fn contribute() {
    // SAFETY: the only reference to the buffer during this run (see Buffer).
    let buffer = unsafe { &mut *RECORDS.0.get() };
    // SAFETY: host calls with no memory arguments.
    let count = unsafe { record_count() };
    let n = usize::try_from(count).unwrap_or(0).min(RECORDS_READ_MAX);

    // Copy the well-formed records, inserting each lamp model into the HLL
    // (the host ignores repeats and items beyond items_max).
    let mut kept = 0;
    for i in 0..n {
        let Some(slot) = buffer.get_mut(kept) else {
            break;
        };
        // SAFETY: `slot` is 16 writable bytes of our memory; `i < n <= 4000`.
        let read = unsafe { record_read(i as i32, slot.as_mut_ptr(), RECORD_BYTES as i32) };
        if read == RECORD_BYTES as i32 {
            // SAFETY: bytes 8..12 of the slot, inside our memory.
            unsafe { hll_add(FIELD_MODELS, slot[8..12].as_ptr(), 4) };
            kept += 1;
        }
    }
    let records = buffer.get(..kept).unwrap_or(&[]);

    // Scan the "on" events, pairing each with the next "off" of its model.
    let mut after_midnight = 0i64;
    let mut total_on_s = 0u64;
    let mut rest = records;
    while let Some((on, later)) = rest.split_first() {
        rest = later;
        if event(on) != 1 {
            continue;
        }
        let t = time_s(on);
        if t % DAY_S < AFTER_MIDNIGHT_END_S {
            after_midnight = 1;
        }
        let lamp = model(on);
        if let Some(off) = later
            .iter()
            .find(|q| model(q) == lamp && event(q) == 0 && time_s(q) >= t)
        {
            total_on_s = total_on_s.wrapping_add(time_s(off) - t);
        }
    }

    // SAFETY: host calls with no memory arguments.
    unsafe {
        cell_add(FIELD_AFTER_MIDNIGHT, after_midnight);
        cell_add(FIELD_HOUSEHOLDS, 1);
        // At most u64::MAX / 10_800 < 2^50: fits an i64. The host clamps
        // the cell to 240.
        cell_add(FIELD_ON_TIME, (total_on_s / TENTHS_PER_DAY_DIVISOR) as i64);
    }
}

/// The published result, from the noisy aggregate.
#[no_mangle]
pub extern "C" fn finalize() {
    // SAFETY: host calls with no memory arguments; cells 0..3 and outputs
    // 0..4 exist in the campaign's schema.
    unsafe {
        // The number of contributors is public and exact: divide by it, not
        // by the noisy household counter (published as output 1 beside it).
        let count = contributors();
        result_set(0, agg_get(0));
        result_set(1, agg_get(1));
        if count > 0 {
            // `count > 0`: neither a division by zero nor i64::MIN / -1.
            result_set(2, agg_get(2).wrapping_mul(10) / count);
        }
        result_set(3, hll_estimate(FIELD_MODELS));
    }
}

/// Never reached (no path of this crate panics); a trap if it were, which
/// the host turns into an all-zero contribution.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
