//! Summable sketches: HyperLogLog in unary form, Bloom filters and count-min
//! sketches whose per-user cells add up to the sketch of the union.
//!
//! The host fills these cells for a contract (the contract never sets them
//! directly), and validators read the noisy aggregate back with the
//! estimators here. Everything is integer-only and deterministic.
//!
//! Hashing: itc-core's [`Domain`](itc_core::hash::Domain)s are for ledger
//! objects, and none fits a sketch, so items are hashed with BLAKE2b-512 over
//! `label ‖ salt ‖ item`, where `label` is a fixed 16-byte string per sketch
//! kind (`itc:sketch:hll\0\0`, `itc:sketch:bloom`, `itc:sketch:cms\0\0`) and
//! the salt is the campaign id, so every user of one campaign hashes alike and
//! different campaigns' sketches are unlinkable. The label and salt have fixed
//! lengths, so the concatenation is unambiguous.
//!
//! HyperLogLog unary form: with `m = 2^precision` registers and ranks capped
//! at `max_rank`, cell `(j, r)` (at index `j * max_rank + (r - 1)`) is 1 iff
//! register `j >= r`. Summing users' cells gives, per `(j, r)`, the number of
//! users whose register `j` reached `r`; the union register is the largest
//! `r` with a positive count (see [`hll_registers_from_counts`]).

use blake2::{Blake2b512, Digest};

const LABEL_HLL: &[u8; 16] = b"itc:sketch:hll\0\0";
const LABEL_BLOOM: &[u8; 16] = b"itc:sketch:bloom";
const LABEL_CMS: &[u8; 16] = b"itc:sketch:cms\0\0";

/// `BLAKE2b-512(label ‖ salt ‖ item)` as eight big-endian 64-bit words.
fn digest_words(label: &[u8; 16], salt: &[u8; 32], item: &[u8]) -> [u64; 8] {
    let mut hasher = Blake2b512::new();
    hasher.update(label);
    hasher.update(salt);
    hasher.update(item);
    let digest = hasher.finalize();
    let mut words = [0u64; 8];
    for (word, chunk) in words.iter_mut().zip(digest.chunks_exact(8)) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        *word = u64::from_be_bytes(bytes);
    }
    words
}

/// The register index and rank (`1..=max_rank`) of `item` in an HLL with
/// `precision` index bits. `None` if the parameters are out of range.
pub fn hll_position(
    precision: u8,
    max_rank: u8,
    salt: &[u8; 32],
    item: &[u8],
) -> Option<(usize, u8)> {
    if !(4..=8).contains(&precision) || max_rank == 0 {
        return None;
    }
    let h = digest_words(LABEL_HLL, salt, item)[0];
    let register = (h >> (64 - u32::from(precision))) as usize;
    let rest_bits = 64 - u32::from(precision);
    let rest = h << precision;
    // Leading zeros of the remaining `rest_bits` bits (all of them if zero).
    let zeros = if rest == 0 {
        rest_bits
    } else {
        rest.leading_zeros()
    };
    let rank = (zeros + 1).min(u32::from(max_rank));
    Some((register, rank as u8))
}

/// Insert `item` into the unary HLL cells `cells` (`2^precision * max_rank`
/// of them): the item's register `j` gets cells `(j, 1..=rank)` set to 1.
///
/// The 64-bit hash is the first word of `BLAKE2b-512(label ‖ salt ‖ item)`:
/// its first `precision` bits pick the register, and the rank is one plus the
/// number of leading zeros of the rest, capped at `max_rank`. Out-of-range
/// parameters or a too-short `cells` leave `cells` untouched (the host
/// validates schemas first, so this does not happen in practice).
pub fn hll_insert(cells: &mut [u32], precision: u8, max_rank: u8, salt: &[u8; 32], item: &[u8]) {
    let Some((register, rank)) = hll_position(precision, max_rank, salt, item) else {
        return;
    };
    let width = usize::from(max_rank);
    let start = register * width;
    if let Some(run) = cells.get_mut(start..start + usize::from(rank)) {
        for cell in run {
            *cell = 1;
        }
    }
}

/// The union registers from summed unary cells: register `j` is the largest
/// `r` with `counts[(j, r)] >= threshold`, or 0 if none.
///
/// A threshold below 1 is treated as 1 (an empty cell never counts). With
/// threshold 1 and noise-free counts this is exactly the register array of
/// the sketch of the union of all users' items; with noisy counts a larger
/// threshold rejects cells that only noise lifted. Returns an empty vector if
/// `precision` is not in `4..=8` or `max_rank` is 0; missing counts (a short
/// slice) count as 0.
pub fn hll_registers_from_counts(
    counts: &[i64],
    precision: u8,
    max_rank: u8,
    threshold: i64,
) -> Vec<u8> {
    if !(4..=8).contains(&precision) || max_rank == 0 {
        return Vec::new();
    }
    let threshold = threshold.max(1);
    let m = 1usize << precision;
    let width = usize::from(max_rank);
    (0..m)
        .map(|j| {
            (1..=max_rank)
                .rev()
                .find(|&r| {
                    counts
                        .get(j * width + usize::from(r) - 1)
                        .is_some_and(|&c| c >= threshold)
                })
                .unwrap_or(0)
        })
        .collect()
}

/// One in Q64 fixed point (as `u128`).
const Q64_ONE: u128 = 1 << 64;
/// ln 2 in Q64 fixed point: floor(ln(2) · 2^64).
const LN2_Q64: u128 = 0xB172_17F7_D1CF_79AB;

/// `ln(x)` in Q64 fixed point for an integer `x >= 1`, integer-only.
///
/// `x = 2^k · y` with `y` in `[1, 2)`; `ln(y) = 2·atanh(t)` with
/// `t = (y - 1)/(y + 1) <= 1/3`, summed as `2·Σ t^(2i+1)/(2i+1)` until the
/// terms vanish (at most ~40 terms; error below 2^-60).
pub fn ln_q64(x: u64) -> u128 {
    if x <= 1 {
        return 0;
    }
    let k = 63 - x.leading_zeros();
    // y in Q64 within [1, 2): x / 2^k.
    let y: u128 = (u128::from(x) << 64) >> k;
    // t = (y - 1) / (y + 1), Q64.
    let t: u128 = ((y - Q64_ONE) << 64) / (y + Q64_ONE);
    let t2: u128 = (t * t) >> 64;
    let mut power = t; // t^(2i+1)
    let mut sum: u128 = 0;
    let mut i: u128 = 0;
    while power != 0 && i < 64 {
        sum += power / (2 * i + 1);
        power = (power * t2) >> 64;
        i += 1;
    }
    u128::from(k) * LN2_Q64 + 2 * sum
}

/// Integer-only HyperLogLog estimate (Flajolet, Fusy, Gandouet, Meunier 2007)
/// of the number of distinct items, from `m = registers.len()` registers.
///
/// * raw estimate `E = α_m · m² / Σ 2^(-M_j)`, with the sum held exactly in
///   units of `2^-32` (ranks are at most 32) and `α_m` as a rational:
///   `673/1000` (m = 16), `697/1000` (32), `709/1000` (64),
///   `7213·m / (10000·m + 10790)` (m ≥ 128, i.e. `0.7213/(1 + 1.079/m)`);
/// * small range: if `E <= 5m/2` and some register is zero (`V` of them),
///   linear counting `m · ln(m/V)` with [`ln_q64`];
/// * no large-range correction: the hash is 64 bits wide. Ranks are capped at
///   `max_rank`, so the estimate saturates once typical ranks reach the cap.
///
/// Registers above `max_rank` are read as `max_rank`. The result is rounded
/// to the nearest integer. Returns 0 for an empty register slice; `m` that is
/// not 16, 32 or 64 uses the `m ≥ 128` formula for `α_m`.
pub fn hll_estimate(registers: &[u8], max_rank: u8) -> u64 {
    let m = registers.len() as u128;
    if m == 0 {
        return 0;
    }
    let cap = max_rank.min(32);
    let mut sum: u128 = 0; // Σ 2^(32 - M_j), i.e. Σ 2^-M_j in units of 2^-32
    let mut zeros: u64 = 0;
    for &register in registers {
        let rank = register.min(cap);
        if rank == 0 {
            zeros += 1;
        }
        sum += 1u128 << (32 - u32::from(rank));
    }
    let (alpha_num, alpha_den) = match m {
        16 => (673u128, 1000u128),
        32 => (697, 1000),
        64 => (709, 1000),
        _ => (7213 * m, 10000 * m + 10790),
    };
    // E = alpha · m² / (sum / 2^32) = alpha_num · m² · 2^32 / (alpha_den · sum)
    let numerator = (alpha_num * m * m) << 32;
    let denominator = alpha_den * sum;
    // E <= 5m/2  <=>  2 · numerator <= 5m · denominator (exact).
    if zeros > 0 && 2 * numerator <= 5 * m * denominator {
        // m · ln(m / V) = m · (ln m − ln V), Q64, rounded.
        let ln = ln_q64(m as u64) - ln_q64(zeros);
        let value = (m * ln + (Q64_ONE >> 1)) >> 64;
        return value as u64;
    }
    ((numerator + denominator / 2) / denominator) as u64
}

/// The Bloom bit positions of `item`: `h1 + i·h2 mod bits` for `i < hashes`
/// (Kirsch–Mitzenmacher double hashing from one digest; `h2` is forced odd).
fn bloom_positions(
    bits: usize,
    hashes: u8,
    salt: &[u8; 32],
    item: &[u8],
) -> impl Iterator<Item = usize> {
    let words = digest_words(LABEL_BLOOM, salt, item);
    let h1 = words[0];
    let h2 = words[1] | 1;
    let bits = bits.max(1) as u64;
    (0..u64::from(hashes)).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % bits) as usize)
}

/// Insert `item` into a Bloom filter of `bits` 0/1 cells: sets `hashes`
/// positions to 1. Positions beyond `cells` are ignored (never panics).
pub fn bloom_insert(cells: &mut [u32], bits: u16, hashes: u8, salt: &[u8; 32], item: &[u8]) {
    if bits == 0 {
        return;
    }
    for position in bloom_positions(usize::from(bits), hashes, salt, item) {
        if let Some(cell) = cells.get_mut(position) {
            *cell = 1;
        }
    }
}

/// Whether `item` is (probably) in the union filter whose summed cells are
/// `counts` (`bits = counts.len()`): every one of its positions has a count
/// of at least `threshold` (treated as at least 1). False for an empty
/// filter or `hashes == 0`.
pub fn bloom_contains(
    counts: &[i64],
    hashes: u8,
    salt: &[u8; 32],
    item: &[u8],
    threshold: i64,
) -> bool {
    if counts.is_empty() || hashes == 0 {
        return false;
    }
    let threshold = threshold.max(1);
    bloom_positions(counts.len(), hashes, salt, item)
        .all(|p| counts.get(p).is_some_and(|&c| c >= threshold))
}

/// The count-min column of `item` in each row: row `r` uses the `r`-th
/// 64-bit word of the digest, modulo `width` (so `depth <= 8`).
fn cms_columns(
    width: u16,
    depth: u8,
    salt: &[u8; 32],
    item: &[u8],
) -> impl Iterator<Item = (usize, usize)> {
    let words = digest_words(LABEL_CMS, salt, item);
    let width = u64::from(width.max(1));
    (0..usize::from(depth.min(8))).map(move |row| (row, (words[row] % width) as usize))
}

/// Add `count` for `item` into a count-min sketch (`depth` rows of `width`
/// cells, row-major): one cell per row, saturating and clamped at `max`.
/// Cells beyond `cells` are ignored; `depth` above 8 is treated as 8.
pub fn cms_insert(
    cells: &mut [u32],
    width: u16,
    depth: u8,
    max: u32,
    salt: &[u8; 32],
    item: &[u8],
    count: u32,
) {
    if width == 0 {
        return;
    }
    for (row, column) in cms_columns(width, depth, salt, item) {
        if let Some(cell) = cells.get_mut(row * usize::from(width) + column) {
            *cell = cell.saturating_add(count).min(max);
        }
    }
}

/// The count-min estimate of `item` from summed cells `counts`: the minimum
/// over rows of the item's cell. 0 if `width` or `depth` is 0 or a cell is
/// missing from a short slice.
pub fn cms_estimate(counts: &[i64], width: u16, depth: u8, salt: &[u8; 32], item: &[u8]) -> i64 {
    if width == 0 || depth == 0 {
        return 0;
    }
    cms_columns(width, depth, salt, item)
        .map(|(row, column)| {
            counts
                .get(row * usize::from(width) + column)
                .copied()
                .unwrap_or(0)
        })
        .min()
        .unwrap_or(0)
}
