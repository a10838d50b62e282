//! ChainCode figures for `itc-bench`.
//!
//! * `chaincode_contribute_ms`, `chaincode_verify_contribution_ms`,
//!   `chaincode_contribution_bytes`, `chaincode_close_ms`: from one run of
//!   the analytics scenario on one thread (1,000 households; 100 with
//!   `--quick`), so one contribution masks against a cohort of that size
//!   (`chaincode_close_ms_1000` at the full size).
//! * `chaincode_relative_error_count` (ε = 1, the scenario's cohort) beside
//!   `chaincode_relative_error_count_theory`: the deployed noise (each
//!   member's binomial share from the OS RNG, summed and centered) drawn
//!   again and again over the scenario's clear sums; theory is E|noise| /
//!   exact.
//! * `chaincode_hll_relative_error` beside `chaincode_hll_relative_error_own`:
//!   the distinct-model estimate from noisy summed sketches, and HyperLogLog's
//!   own error over the exact union sketch, both over many random
//!   populations at the same register count.

use crate::analytics::{self, Config, EPSILON_PER_FIELD_MILLI};
use itc_chaincode::campaign::coins_per_cell;
use itc_chaincode::{noise, sketch};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_core::OsRng;

/// The figures.
pub fn figures(quick: bool) -> Vec<(&'static str, f64)> {
    let households = if quick { 100 } else { 1000 };
    let config = Config {
        households,
        dropouts: 4,
        threads: 1,
        seed: 7,
    };
    let report = analytics::run(config);
    let mut out = vec![
        ("chaincode_scenario_ok", f64::from(u8::from(report.ok()))),
        ("chaincode_cohort", households as f64),
        ("chaincode_contribute_ms", report.contribute_ms),
        ("chaincode_verify_contribution_ms", report.verify_ms),
        (
            "chaincode_contribution_bytes",
            report.contribution_bytes as f64,
        ),
        (
            if households == 1000 {
                "chaincode_close_ms_1000"
            } else {
                "chaincode_close_ms"
            },
            report.close_ms,
        ),
    ];
    let (count, count_theory) = count_error(households, if quick { 200 } else { 2000 });
    out.push(("chaincode_relative_error_count", count));
    out.push(("chaincode_relative_error_count_theory", count_theory));
    let (hll_noisy, hll_own) = hll_error(households, if quick { 20 } else { 200 });
    out.push(("chaincode_hll_relative_error", hll_noisy));
    out.push(("chaincode_hll_relative_error_own", hll_own));
    out
}

/// Mean relative error of the after-midnight count over `trials` noise
/// draws, and its theoretical value.
fn count_error(households: usize, trials: usize) -> (f64, f64) {
    let schema = analytics::lamp_schema();
    let min_cohort = (households as u32 / 2).max(2);
    let coins = coins_per_cell(&schema, &[EPSILON_PER_FIELD_MILLI; 4], min_cohort)
        .expect("the demo's ε calibrates");
    let k = coins[0];
    // The clear count: households of the scenario that switch on after
    // midnight (about a quarter are night owls).
    let exact = (0..households)
        .filter(|&i| {
            let (records, _) = analytics::household_records(7, i);
            records.iter().any(|r| {
                let t = u64::from_le_bytes(r[..8].try_into().expect("16-byte record"));
                r[12] == 1 && t % 86_400 < 5 * 3600
            })
        })
        .count() as u64;
    let mut total = 0.0;
    for _ in 0..trials {
        let mut sum = exact;
        for _ in 0..households {
            sum += u64::from(noise::binomial_share(&mut OsRng, k));
        }
        let estimate = noise::centered(sum, households as u32, k);
        total += (estimate as f64 - exact as f64).abs();
    }
    let exact = exact.max(1) as f64;
    (
        total / trials as f64 / exact,
        noise::expected_abs_noise(households as u32, k) / exact,
    )
}

/// Mean relative error of the distinct-count estimate from noisy sketches
/// and of HyperLogLog itself over the exact union, over `trials` random
/// populations of the scenario's shape (each household 1–4 of the market's
/// models; 5 to 12 models on the market).
fn hll_error(households: usize, trials: usize) -> (f64, f64) {
    let schema = analytics::lamp_schema();
    let min_cohort = (households as u32 / 2).max(2);
    let coins = coins_per_cell(&schema, &[EPSILON_PER_FIELD_MILLI; 4], min_cohort)
        .expect("the demo's ε calibrates");
    let range = schema.field_range(3).expect("hll field");
    let k = coins[range.start];
    let threshold =
        itc_chaincode::campaign::presence_thresholds(&schema, &coins, households as u32)[3];
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let (mut noisy_total, mut own_total) = (0.0, 0.0);
    for trial in 0..trials {
        let salt = [trial as u8; 32];
        let market = 5 + rng.next_u32() % 8;
        let mut counts = vec![0i64; range.len()];
        let mut sum = vec![0u64; range.len()];
        let mut present = std::collections::BTreeSet::new();
        for _ in 0..households {
            let mut cells = vec![0u32; range.len()];
            for _ in 0..1 + rng.next_u32() % 4 {
                let model = 1000 + rng.next_u32() % market;
                present.insert(model);
                sketch::hll_insert(&mut cells, 4, 3, &salt, &model.to_le_bytes());
            }
            for (c, &v) in cells.iter().enumerate() {
                counts[c] += i64::from(v);
                sum[c] += u64::from(v) + u64::from(noise::binomial_share(&mut OsRng, k));
            }
        }
        let truth = present.len() as f64;
        let own = sketch::hll_estimate(&sketch::hll_registers_from_counts(&counts, 4, 3, 1), 3);
        let centered: Vec<i64> = sum
            .iter()
            .map(|&s| noise::centered(s, households as u32, k))
            .collect();
        let noisy = sketch::hll_estimate(
            &sketch::hll_registers_from_counts(&centered, 4, 3, threshold),
            3,
        );
        own_total += (own as f64 - truth).abs() / truth;
        noisy_total += (noisy as f64 - truth).abs() / truth;
    }
    (noisy_total / trials as f64, own_total / trials as f64)
}
