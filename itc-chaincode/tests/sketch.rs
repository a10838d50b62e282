//! Summable sketches: unions, the integer HyperLogLog estimator against a
//! floating-point reference, Bloom and count-min behaviour.

use itc_chaincode::sketch::{
    bloom_contains, bloom_insert, cms_estimate, cms_insert, hll_estimate, hll_insert,
    hll_registers_from_counts, ln_q64,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

const SALT: [u8; 32] = [3u8; 32];

/// The unary cells of one user's set of items.
fn hll_of(items: &[u64], precision: u8, max_rank: u8) -> Vec<u32> {
    let mut cells = vec![0u32; (1usize << precision) * usize::from(max_rank)];
    for item in items {
        hll_insert(&mut cells, precision, max_rank, &SALT, &item.to_le_bytes());
    }
    cells
}

fn counts_of(users: &[Vec<u32>]) -> Vec<i64> {
    let mut counts = vec![0i64; users.first().map_or(0, Vec::len)];
    for user in users {
        for (c, &v) in counts.iter_mut().zip(user) {
            *c += i64::from(v);
        }
    }
    counts
}

/// The textbook estimator in f64, for comparison.
fn reference_estimate(registers: &[u8]) -> f64 {
    let m = registers.len() as f64;
    let alpha = match registers.len() {
        16 => 0.673,
        32 => 0.697,
        64 => 0.709,
        _ => 0.7213 / (1.0 + 1.079 / m),
    };
    let z: f64 = registers.iter().map(|&r| 2f64.powi(-i32::from(r))).sum();
    let raw = alpha * m * m / z;
    let zeros = registers.iter().filter(|&&r| r == 0).count() as f64;
    if raw <= 2.5 * m && zeros > 0.0 {
        m * (m / zeros).ln()
    } else {
        raw
    }
}

#[test]
fn ln_matches_f64() {
    for x in 1u64..=300 {
        let fixed = ln_q64(x) as f64 / 2f64.powi(64);
        assert!((fixed - (x as f64).ln()).abs() < 1e-12, "ln({x})");
    }
    let big = ln_q64(u64::MAX) as f64 / 2f64.powi(64);
    assert!((big - (u64::MAX as f64).ln()).abs() < 1e-9);
}

#[test]
fn unary_cells_encode_the_register() {
    let cells = hll_of(&[1, 2, 3, 4, 5], 4, 8);
    for register in cells.chunks(8) {
        // unary: a run of ones, then zeros
        let ones = register.iter().take_while(|&&c| c == 1).count();
        assert!(register[ones..].iter().all(|&c| c == 0));
    }
    let touched = cells.chunks(8).filter(|r| r[0] == 1).count();
    assert!(
        (1..=5).contains(&touched),
        "{touched} registers touched by 5 items"
    );
    // inserting twice changes nothing
    let mut again = cells.clone();
    hll_insert(&mut again, 4, 8, &SALT, &3u64.to_le_bytes());
    assert_eq!(again, cells);
    // the salt matters
    let mut other = vec![0u32; 128];
    for item in 1u64..=5 {
        hll_insert(&mut other, 4, 8, &[4u8; 32], &item.to_le_bytes());
    }
    assert_ne!(other, cells);
}

#[test]
fn helpers_never_panic_on_bad_shapes() {
    let mut short = vec![0u32; 3];
    hll_insert(&mut short, 8, 32, &SALT, b"x");
    hll_insert(&mut short, 3, 32, &SALT, b"x");
    hll_insert(&mut short, 9, 0, &SALT, b"x");
    bloom_insert(&mut short, 1000, 16, &SALT, b"x");
    bloom_insert(&mut short, 0, 16, &SALT, b"x");
    cms_insert(&mut short, 1000, 8, 5, &SALT, b"x", 3);
    cms_insert(&mut short, 0, 200, 5, &SALT, b"x", 3);
    assert!(hll_registers_from_counts(&[1, 2], 8, 32, 1).len() == 256);
    assert!(hll_registers_from_counts(&[1, 2], 9, 32, 1).is_empty());
    assert_eq!(hll_estimate(&[], 32), 0);
    assert!(!bloom_contains(&[], 3, &SALT, b"x", 1));
    assert_eq!(cms_estimate(&[1], 5, 3, &SALT, b"x"), 0);
}

#[test]
fn estimator_matches_the_f64_reference() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (4u8..=8).prop_flat_map(|p| {
        proptest::collection::vec(
            prop_oneof![Just(0u8), 1u8..=4, 1u8..=32],
            1usize << p..=1usize << p,
        )
    });
    for _ in 0..400 {
        let registers = strategy.new_tree(&mut runner).expect("strategy").current();
        let ours = hll_estimate(&registers, 32) as f64;
        let reference = reference_estimate(&registers);
        let tolerance = (reference * 0.01).max(1.0);
        assert!(
            (ours - reference).abs() <= tolerance,
            "registers {registers:?}: {ours} vs {reference}"
        );
    }
}

#[test]
fn relative_error_at_precision_6_is_near_theory() {
    // m = 64: the standard error is 1.04 / sqrt(64) = 0.13.
    let trials = 150u64;
    let n = 2_000u64;
    let mut sum_sq = 0f64;
    for trial in 0..trials {
        let items: Vec<u64> = (0..n).map(|i| trial * 1_000_000 + i).collect();
        let cells = hll_of(&items, 6, 32);
        let counts: Vec<i64> = cells.iter().map(|&c| i64::from(c)).collect();
        let registers = hll_registers_from_counts(&counts, 6, 32, 1);
        let estimate = hll_estimate(&registers, 32) as f64;
        let err = (estimate - n as f64) / n as f64;
        sum_sq += err * err;
    }
    let rms = (sum_sq / trials as f64).sqrt();
    println!(
        "hll precision 6: rms relative error {rms:.4} over {trials} sets of {n} (theory 0.130)"
    );
    assert!((0.07..=0.20).contains(&rms), "rms relative error {rms}");
}

#[test]
fn small_cardinalities_use_linear_counting() {
    for n in [1u64, 3, 10, 30] {
        let items: Vec<u64> = (0..n).collect();
        let cells = hll_of(&items, 8, 1);
        let counts: Vec<i64> = cells.iter().map(|&c| i64::from(c)).collect();
        let registers = hll_registers_from_counts(&counts, 8, 1, 1);
        let estimate = hll_estimate(&registers, 1);
        let diff = estimate.abs_diff(n);
        assert!(diff <= 1 + n / 10, "n = {n}: estimate {estimate}");
    }
}

#[test]
fn noisy_counts_need_the_threshold() {
    let users: Vec<Vec<u32>> = (0..20u64).map(|u| hll_of(&[u], 5, 8)).collect();
    let mut counts = counts_of(&users);
    let clean = hll_registers_from_counts(&counts, 5, 8, 1);
    // noise lifts empty cells to 1 or 2, and lowers real ones by up to 2
    for (i, c) in counts.iter_mut().enumerate() {
        *c += [2, -2, 1, 0, -1][i % 5];
    }
    let noisy_low = hll_registers_from_counts(&counts, 5, 8, 1);
    assert_ne!(noisy_low, clean);
    // a threshold of 0 or below acts as 1
    assert_eq!(hll_registers_from_counts(&counts, 5, 8, -5), noisy_low);
}

#[test]
fn bloom_has_no_false_negatives_and_few_false_positives() {
    let bits = 256u16;
    let hashes = 4u8;
    let mut cells = vec![0u32; usize::from(bits)];
    for i in 0u32..20 {
        bloom_insert(&mut cells, bits, hashes, &SALT, &i.to_le_bytes());
    }
    let counts: Vec<i64> = cells.iter().map(|&c| i64::from(c)).collect();
    for i in 0u32..20 {
        assert!(bloom_contains(&counts, hashes, &SALT, &i.to_le_bytes(), 1));
        assert!(!bloom_contains(&counts, hashes, &SALT, &i.to_le_bytes(), 2));
    }
    let false_positives = (1000u32..3000)
        .filter(|i| bloom_contains(&counts, hashes, &SALT, &i.to_le_bytes(), 1))
        .count();
    // (1 - e^{-kn/m})^k = (1 - e^{-80/256})^4 ≈ 0.0050
    assert!(
        false_positives < 60,
        "{false_positives} false positives of 2000"
    );
    assert!(cells.iter().all(|&c| c <= 1));
}

#[test]
fn count_min_overestimates_and_clamps() {
    let (width, depth, max) = (16u16, 4u8, 1_000u32);
    let mut total = vec![0i64; 64];
    let mut truth = [0i64; 40];
    for user in 0u32..10 {
        let mut cells = vec![0u32; 64];
        for item in 0u32..40 {
            let count = (item * 7 + user) % 5;
            truth[item as usize] += i64::from(count);
            cms_insert(
                &mut cells,
                width,
                depth,
                max,
                &SALT,
                &item.to_le_bytes(),
                count,
            );
        }
        for (t, &c) in total.iter_mut().zip(&cells) {
            *t += i64::from(c);
        }
    }
    for item in 0u32..40 {
        let estimate = cms_estimate(&total, width, depth, &SALT, &item.to_le_bytes());
        assert!(estimate >= truth[item as usize]);
    }
    // saturating and clamped
    let mut cells = vec![0u32; 16];
    cms_insert(&mut cells, 8, 2, 5, &SALT, b"a", u32::MAX);
    cms_insert(&mut cells, 8, 2, 5, &SALT, b"a", u32::MAX);
    assert!(cells.iter().all(|&c| c <= 5));
    let counts: Vec<i64> = cells.iter().map(|&c| i64::from(c)).collect();
    assert_eq!(cms_estimate(&counts, 8, 2, &SALT, b"a"), 5);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// With threshold 1 and noise-free counts, the union of users' sketches
    /// is the sketch of the union of their items.
    #[test]
    fn union_of_sketches_is_sketch_of_union(
        users in proptest::collection::vec(proptest::collection::vec(0u64..500, 0..30), 1..8),
        precision in 4u8..=6,
        max_rank in 1u8..=12,
    ) {
        let sketches: Vec<Vec<u32>> = users.iter().map(|u| hll_of(u, precision, max_rank)).collect();
        let counts = counts_of(&sketches);
        let union_items: Vec<u64> = users.concat();
        let union = hll_of(&union_items, precision, max_rank);
        let union_counts: Vec<i64> = union.iter().map(|&c| i64::from(c)).collect();
        prop_assert_eq!(
            hll_registers_from_counts(&counts, precision, max_rank, 1),
            hll_registers_from_counts(&union_counts, precision, max_rank, 1)
        );
        // and the estimate is a pure function of the registers
        let registers = hll_registers_from_counts(&counts, precision, max_rank, 1);
        prop_assert_eq!(hll_estimate(&registers, max_rank), hll_estimate(&registers, max_rank));
    }
}
