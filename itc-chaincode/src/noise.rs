//! Distributed differential privacy with the binomial mechanism.
//!
//! Every cohort member adds, to each cell of its contribution, the number of
//! heads among `k` fair coin flips: a Binomial(k, ½) *share*, always in
//! `[0, k]`. No one (neither a curator nor a validator) ever sees a single
//! share; the sum over the `N` members who contributed carries
//! Binomial(N·k, ½) noise, and validators estimate the clear sum with
//! [`centered`] (subtract N·k/2). This is the mechanism of Dwork, Kenthapadi,
//! McSherry, Mironov and Naor, "Our Data, Ourselves: Privacy via Distributed
//! Noise Generation" (Eurocrypt 2006).
//!
//! * [`coins_per_member`] calibrates `k` from the field's squared L2
//!   sensitivity, the ε spent on it and the smallest cohort that may release,
//!   in integer arithmetic only (every validator must agree on it).
//! * [`binomial_share`] samples a share exactly: `k` fair bits from the RNG,
//!   counted with `popcount`. No floating point, no approximation.
//! * [`add_noise`] adds one share per cell.
//! * [`noise_sd`] and [`expected_abs_noise`] are floating-point figures for
//!   reports and user interfaces only; no protocol value depends on them.
//!
//! Production callers pass [`rand_core::OsRng`]; tests pass a seeded
//! `rand_chacha::ChaCha20Rng`.
//!
//! A member that drops out after masking still counts: the validators learn
//! who contributed, and `contributors` in [`centered`] is that number. If
//! fewer than `min_cohort` members contribute, nothing may be released,
//! because the noise was calibrated for at least `min_cohort` shares.
//!
//! ```
//! use itc_chaincode::noise::{add_noise, centered, coins_per_member};
//! use rand_chacha::rand_core::SeedableRng;
//!
//! // One counter per user (sensitivity 1), ε = 1, at least 100 members.
//! let k = coins_per_member(1, 1000, 100).unwrap();
//! assert_eq!(k, 28);
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
//! let mut sum = 0u64;
//! for member in 0..100u64 {
//!     let mut cells = [member % 2]; // the member's clear value
//!     add_noise(&mut rng, &mut cells, &[k]).unwrap();
//!     sum += cells[0];
//! }
//! let estimate = centered(sum, 100, k); // the clear sum is 50
//! assert!((estimate - 50).abs() < 100);
//! ```

use rand_core::{CryptoRng, RngCore};

/// δ of the (ε, δ) guarantee, as its inverse: δ = 1 / `DELTA_INV` = 10⁻⁶.
///
/// The probability with which the privacy guarantee may fail outright. It
/// must be well below 1 / (number of users of a campaign); 10⁻⁶ covers
/// cohorts up to tens of thousands with a wide margin.
pub const DELTA_INV: u64 = 1_000_000;

/// The most coins one member may be asked to flip for one cell (2²⁰).
///
/// Sampling costs one `u64` of OS randomness per 64 coins, so this bounds a
/// member's work to 16,384 words per cell. A calibration that needs more
/// (ε too small for the cohort) is refused with
/// [`NoiseError::TooManyCoins`].
pub const COINS_MAX: u32 = 1 << 20;

/// The largest ε (×1000) [`coins_per_member`] calibrates for: ε = 10.
///
/// The classical Gaussian-mechanism variance is proven for ε < 1 only
/// (Dwork and Roth, "The Algorithmic Foundations of Differential Privacy",
/// Theorem A.1), and Balle and Wang (ICML 2018) show it does not extend to
/// ε → ∞. With the margins of [`coins_per_member`], the exact privacy profile
/// of the one-dimensional binomial mechanism stays below 5·10⁻⁸ ≪ δ for every
/// ε ≤ 10 and sensitivity checked (see this module's tests, which compute
/// it); at ε = 20 and large sensitivities it exceeds δ. Larger ε is refused.
pub const EPSILON_MILLI_MAX: u32 = 10_000;

/// Numerator of the rational upper bound on 2·ln(1.25/δ) = 2·ln(1.25·10⁶)
/// = 28.077308218557… used by the calibration: the bound is
/// `TWO_LN_NUM / TWO_LN_DEN` = 28.077309, rounded UP in the sixth decimal so
/// the noise is never smaller than the formula asks.
pub const TWO_LN_NUM: u128 = 28_077_309;

/// Denominator of the rational bound, see [`TWO_LN_NUM`].
pub const TWO_LN_DEN: u128 = 1_000_000;

/// Safety margin on the Gaussian variance, as a fraction
/// `VARIANCE_MARGIN_NUM / VARIANCE_MARGIN_DEN` = 5/4.
///
/// The binomial sum is not Gaussian: Agarwal et al., "cpSGD:
/// Communication-efficient and differentially-private distributed SGD"
/// (NeurIPS 2018), Theorem 1, bound its ε by the Gaussian term
/// Δ₂·√(2 ln(1.25/δ)) / σ plus terms of order 1/σ² (in Δ₁, Δ∞, ln(d/δ))
/// from the lattice and the bounded support. Asking for 5/4 of the Gaussian
/// variance shrinks the Gaussian term to ε/√1.25 ≈ 0.894·ε, leaving about a
/// tenth of ε for those terms, which fall as the variance grows.
pub const VARIANCE_MARGIN_NUM: u128 = 5;

/// Denominator of the variance margin, see [`VARIANCE_MARGIN_NUM`].
pub const VARIANCE_MARGIN_DEN: u128 = 4;

/// The fewest coins the whole cohort flips per cell: 2,760, a total variance
/// of at least 690.
///
/// cpSGD's Theorem 1 holds only when the binomial variance N·p·(1−p) is at
/// least max(23·ln(10·d/δ), 2·Δ∞). With d ≤ 2²⁰ cells and δ = 10⁻⁶,
/// 23·ln(10·2²⁰·10⁶) = 689.6, rounded up to 690, i.e. 4·690 coins. Below
/// this floor the binomial's finite support dominates: at ε = 4 and
/// sensitivity 1, the Gaussian formula alone asks for 8 coins, whose exact
/// δ is 3.9·10⁻³. The `2·Δ∞` part is enforced separately in
/// [`coins_per_member`].
pub const MIN_TOTAL_COINS: u64 = 2_760;

/// Why noise could not be calibrated or added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoiseError {
    /// ε is zero: no finite noise gives it.
    #[error("epsilon is zero")]
    ZeroEpsilon,
    /// ε exceeds [`EPSILON_MILLI_MAX`], beyond the calibration's validity.
    #[error("epsilon {epsilon_milli}/1000 exceeds the maximum {max}/1000")]
    EpsilonTooLarge {
        /// The ε asked for, ×1000.
        epsilon_milli: u32,
        /// [`EPSILON_MILLI_MAX`].
        max: u32,
    },
    /// The minimum cohort is zero.
    #[error("minimum cohort is zero")]
    ZeroCohort,
    /// The sensitivity is zero: the field cannot depend on a user's data,
    /// which points to a schema error rather than a field needing no noise.
    #[error("sensitivity is zero")]
    ZeroSensitivity,
    /// The calibration needs more than [`COINS_MAX`] coins per member: ε is
    /// too small, or the cohort too small, for this sensitivity.
    #[error("{needed} coins per member needed, at most {max} allowed (epsilon too small for this cohort)")]
    TooManyCoins {
        /// Coins per member the calibration asks for (saturated at
        /// `u64::MAX`).
        needed: u64,
        /// [`COINS_MAX`].
        max: u32,
    },
    /// `values` and `coins` have different lengths.
    #[error("{values} values but {coins} coin counts")]
    LengthMismatch {
        /// Number of values.
        values: usize,
        /// Number of coin counts.
        coins: usize,
    },
    /// A cell was given more than [`COINS_MAX`] coins.
    #[error("cell {index} asks for {coins} coins, at most {max} allowed")]
    CellCoinsTooMany {
        /// The cell.
        index: usize,
        /// Its coin count.
        coins: u32,
        /// [`COINS_MAX`].
        max: u32,
    },
    /// Adding the noise would overflow a cell.
    #[error("adding noise overflows cell {index}")]
    Overflow {
        /// The cell.
        index: usize,
    },
}

/// Smallest integer whose square is at least `x`.
fn ceil_sqrt(x: u64) -> u64 {
    if x < 2 {
        return x;
    }
    // Integer Newton iteration for ⌊√x⌋ in u128 (no overflow at u64::MAX),
    // then round up.
    let x = u128::from(x);
    let mut r = x;
    let mut y = x.div_ceil(2);
    while y < r {
        r = y;
        y = (r + x / r) / 2;
    }
    let r = if r * r == x { r } else { r + 1 };
    // r ≤ 2³² for any u64 x.
    u64::try_from(r).unwrap_or(u64::MAX)
}

/// How many coins each cohort member flips per cell of a field.
///
/// Deterministic and integer-only, so every validator computes the same
/// value. Inputs: `sensitivity_sq`, the squared L2 sensitivity Δ₂² of the
/// field (the most one user's data can move the field's vector, squared);
/// `epsilon_milli`, the ε spent on the field ×1000; `min_cohort`, the
/// smallest number of contributors with which the aggregate may be released.
///
/// The rule, all in `u128`:
///
/// 1. Gaussian mechanism: total variance σ² ≥ Δ₂²·2·ln(1.25/δ)/ε², with
///    2·ln(1.25·10⁶) bounded above by [`TWO_LN_NUM`]/[`TWO_LN_DEN`], times the
///    [`VARIANCE_MARGIN_NUM`]/[`VARIANCE_MARGIN_DEN`] = 5/4 margin for the
///    binomial's extra terms. The sum of N·k fair coins has variance N·k/4,
///    so the cohort must flip at least 4·(5/4)·σ² = 5·Δ₂²·28.077309·10⁶/ε_milli²
///    coins in total (rounded up).
/// 2. At least [`MIN_TOTAL_COINS`] coins in total (cpSGD's validity
///    condition on the variance).
/// 3. Total variance at least 2·Δ∞ (also cpSGD's condition), with Δ∞ bounded
///    by ⌈√Δ₂²⌉: at least 8·⌈√Δ₂²⌉ coins in total.
///
/// The coins per member are the largest of these totals divided by
/// `min_cohort`, rounded up. Fewer ε or a smaller cohort never give fewer
/// coins.
///
/// The guarantee is (ε, δ)-DP for the sum of any `min_cohort` or more
/// members' shares, *provided* the shares stay secret (secure aggregation)
/// and honest members are at least `min_cohort`: members who skip their noise
/// weaken it for everyone.
///
/// # Errors
/// [`NoiseError::ZeroEpsilon`], [`NoiseError::EpsilonTooLarge`],
/// [`NoiseError::ZeroCohort`], [`NoiseError::ZeroSensitivity`], and
/// [`NoiseError::TooManyCoins`] when more than [`COINS_MAX`] coins per member
/// would be needed.
pub fn coins_per_member(
    sensitivity_sq: u64,
    epsilon_milli: u32,
    min_cohort: u32,
) -> Result<u32, NoiseError> {
    if epsilon_milli == 0 {
        return Err(NoiseError::ZeroEpsilon);
    }
    if epsilon_milli > EPSILON_MILLI_MAX {
        return Err(NoiseError::EpsilonTooLarge {
            epsilon_milli,
            max: EPSILON_MILLI_MAX,
        });
    }
    if min_cohort == 0 {
        return Err(NoiseError::ZeroCohort);
    }
    if sensitivity_sq == 0 {
        return Err(NoiseError::ZeroSensitivity);
    }
    // ε = epsilon_milli / 1000, so 1/ε² = 10⁶ / epsilon_milli². Total coins
    // = 4 · margin · Δ² · (TWO_LN_NUM / TWO_LN_DEN) · 10⁶ / epsilon_milli².
    // Bounds: Δ² < 2⁶⁴, 4·5 < 2⁵, TWO_LN_NUM < 2²⁵, 10⁶ < 2²⁰: < 2¹¹⁴.
    let numerator = 4 * VARIANCE_MARGIN_NUM * u128::from(sensitivity_sq) * TWO_LN_NUM * 1_000_000;
    let eps = u128::from(epsilon_milli);
    let denominator = VARIANCE_MARGIN_DEN * TWO_LN_DEN * eps * eps;
    let gaussian_total = numerator.div_ceil(denominator);
    let support_total = 8 * u128::from(ceil_sqrt(sensitivity_sq));
    let total = gaussian_total
        .max(u128::from(MIN_TOTAL_COINS))
        .max(support_total);
    let per_member = total.div_ceil(u128::from(min_cohort));
    if per_member > u128::from(COINS_MAX) {
        return Err(NoiseError::TooManyCoins {
            needed: u64::try_from(per_member).unwrap_or(u64::MAX),
            max: COINS_MAX,
        });
    }
    // per_member ≤ COINS_MAX < 2³², so the conversion cannot fail.
    u32::try_from(per_member).map_err(|_| NoiseError::TooManyCoins {
        needed: u64::MAX,
        max: COINS_MAX,
    })
}

/// One member's noise share: the number of heads among `coins` fair coins.
///
/// Exact: draws `coins` bits from `rng`, 64 per [`RngCore::next_u64`], and
/// counts the ones; the last partial word is masked to its low bits. The
/// result is Binomial(`coins`, ½), in `[0, coins]`. Uses ⌈coins/64⌉ words
/// of randomness; pass [`rand_core::OsRng`] in production.
pub fn binomial_share<R: RngCore + CryptoRng>(rng: &mut R, coins: u32) -> u32 {
    let full_words = coins / 64;
    let rest = coins % 64;
    let mut heads = 0u32;
    for _ in 0..full_words {
        heads += rng.next_u64().count_ones();
    }
    if rest > 0 {
        let mask = (1u64 << rest) - 1;
        heads += (rng.next_u64() & mask).count_ones();
    }
    heads
}

/// Add one noise share to each cell: `values[i] += binomial_share(coins[i])`.
///
/// All checks happen before any randomness is drawn, and `values` is changed
/// only when every cell succeeds.
///
/// # Errors
/// [`NoiseError::LengthMismatch`] if the slices differ in length,
/// [`NoiseError::CellCoinsTooMany`] if a cell asks for more than
/// [`COINS_MAX`] coins, [`NoiseError::Overflow`] if a cell would exceed
/// `u64::MAX`. `values` is then unchanged.
pub fn add_noise<R: RngCore + CryptoRng>(
    rng: &mut R,
    values: &mut [u64],
    coins: &[u32],
) -> Result<(), NoiseError> {
    if values.len() != coins.len() {
        return Err(NoiseError::LengthMismatch {
            values: values.len(),
            coins: coins.len(),
        });
    }
    for (index, (&value, &k)) in values.iter().zip(coins).enumerate() {
        if k > COINS_MAX {
            return Err(NoiseError::CellCoinsTooMany {
                index,
                coins: k,
                max: COINS_MAX,
            });
        }
        // A share is at most k: check the worst case before drawing, so a
        // failure depends on the inputs only, never on the coins.
        if value.checked_add(u64::from(k)).is_none() {
            return Err(NoiseError::Overflow { index });
        }
    }
    for (value, &k) in values.iter_mut().zip(coins) {
        let share = u64::from(binomial_share(rng, k));
        // Checked above against the largest possible share.
        *value = value.saturating_add(share);
    }
    Ok(())
}

/// The estimate of the clear sum from a noisy sum:
/// `sum − ⌊contributors·coins / 2⌋`.
///
/// The noise in `sum` is Binomial(contributors·coins, ½), whose mean is
/// contributors·coins/2. When that product is odd, subtracting its floor
/// leaves a bias of +½ (the estimate is unbiased up to ≤ ½). The result can
/// be negative (noise below its mean on a small sum). Computed in `i128`
/// and saturated to the `i64` range.
pub fn centered(sum: u64, contributors: u32, coins: u32) -> i64 {
    let mean_floor = (i128::from(contributors) * i128::from(coins)) / 2;
    let estimate = i128::from(sum) - mean_floor;
    i64::try_from(estimate).unwrap_or(if estimate < 0 { i64::MIN } else { i64::MAX })
}

/// Standard deviation of the noise in a sum: √(contributors·coins / 4).
///
/// **For reports only**: floating point, never used for a protocol value.
pub fn noise_sd(contributors: u32, coins: u32) -> f64 {
    (f64::from(contributors) * f64::from(coins) / 4.0).sqrt()
}

/// ln(n!) in floating point: exact sum below 32, Stirling's series above
/// (relative error far below 10⁻¹² there).
fn ln_factorial(n: u64) -> f64 {
    if n < 32 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    x * x.ln() - x + 0.5 * (2.0 * core::f64::consts::PI * x).ln() + inv / 12.0 - inv * inv2 / 360.0
        + inv * inv2 * inv2 / 1260.0
}

/// Expected absolute error of [`centered`]: E|X − n·k/2| for
/// X ~ Binomial(n·k, ½), with n = `contributors` and k = `coins`.
///
/// Uses de Moivre's closed form: for M = n·k and f = ⌊M/2⌋,
/// E|X − M/2| = (f + 1)·C(M, f + 1) / 2ᴹ, which tends to σ·√(2/π) for large
/// M. **For reports only**: floating point, never used for a protocol value.
pub fn expected_abs_noise(contributors: u32, coins: u32) -> f64 {
    let m = u64::from(contributors) * u64::from(coins);
    if m == 0 {
        return 0.0;
    }
    let j = m / 2 + 1;
    let ln_binomial = ln_factorial(m) - ln_factorial(j) - ln_factorial(m - j);
    ((j as f64).ln() + ln_binomial - (m as f64) * core::f64::consts::LN_2).exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{prop_assert, prop_assert_eq, proptest, ProptestConfig};
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn the_two_ln_bound_rounds_up() {
        let exact = 2.0 * (1.25f64 * DELTA_INV as f64).ln();
        let bound = TWO_LN_NUM as f64 / TWO_LN_DEN as f64;
        assert!(bound >= exact, "{bound} < {exact}");
        assert!(bound - exact < 1e-6);
    }

    #[test]
    fn min_total_coins_matches_its_derivation() {
        // 23·ln(10·d/δ) with d = 2²⁰, rounded up, four coins per unit of
        // variance.
        let v = 23.0 * (10.0 * (1u64 << 20) as f64 * DELTA_INV as f64).ln();
        assert_eq!(MIN_TOTAL_COINS, 4 * v.ceil() as u64);
    }

    #[test]
    fn ceil_sqrt_is_exact() {
        for x in 0..10_000u64 {
            let r = ceil_sqrt(x);
            assert!(r * r >= x);
            assert!(r == 0 || (r - 1) * (r - 1) < x);
        }
        assert_eq!(ceil_sqrt(u64::MAX), 1 << 32);
        assert_eq!(ceil_sqrt((1 << 62) + 1), (1 << 31) + 1);
    }

    /// Values computed by hand from the documented rule.
    #[test]
    fn coins_per_member_hand_computed() {
        // Δ²=1, ε=1: Gaussian total ⌈5·28.077309⌉ = 141 < 2760 floor;
        // ⌈2760/100⌉ = 28.
        assert_eq!(coins_per_member(1, 1000, 100), Ok(28));
        // Δ²=1, ε=0.1: ⌈5·28.077309·100⌉ = ⌈14038.6545⌉ = 14039;
        // ⌈14039/100⌉ = 141.
        assert_eq!(coins_per_member(1, 100, 100), Ok(141));
        // Δ²=4, ε=0.5: ⌈5·4·28.077309·4⌉ = ⌈2246.18⌉ = 2247 < 2760;
        // ⌈2760/10⌉ = 276.
        assert_eq!(coins_per_member(4, 500, 10), Ok(276));
        // Δ²=100, ε=1: ⌈5·100·28.077309⌉ = 14039; ⌈14039/1000⌉ = 15.
        assert_eq!(coins_per_member(100, 1000, 1000), Ok(15));
        // Δ²=10⁶ (Δ=1000), ε=10: Gaussian ⌈5·10⁶·28.077309/100⌉ =
        // 1403866 (exact: 1403865.45); support 8·1000 = 8000; two members
        // flip ⌈1403866/2⌉ = 701933 each. One member alone would need more
        // than COINS_MAX.
        assert_eq!(coins_per_member(1_000_000, 10_000, 2), Ok(701_933));
        assert_eq!(
            coins_per_member(1_000_000, 10_000, 1),
            Err(NoiseError::TooManyCoins {
                needed: 1_403_866,
                max: COINS_MAX
            })
        );
        // Support floor: Δ²=2·10⁶ at ε=10 needs Gaussian 2807731 total;
        // the floor 8·⌈√(2·10⁶)⌉ = 8·1415 = 11320 is lower. Where the
        // Gaussian total is below the floor cannot happen for ε ≤ 10 and
        // Δ ≥ 6, and for Δ ≤ 5 the 2760 floor dominates.
        assert_eq!(coins_per_member(2_000_000, 10_000, 3), Ok(935_911));
        // A huge cohort still flips at least one coin each.
        assert_eq!(coins_per_member(1, 1000, u32::MAX), Ok(1));
    }

    #[test]
    fn coins_per_member_errors() {
        assert_eq!(coins_per_member(1, 0, 10), Err(NoiseError::ZeroEpsilon));
        assert_eq!(coins_per_member(1, 1000, 0), Err(NoiseError::ZeroCohort));
        assert_eq!(
            coins_per_member(0, 1000, 10),
            Err(NoiseError::ZeroSensitivity)
        );
        assert_eq!(
            coins_per_member(1, 10_001, 10),
            Err(NoiseError::EpsilonTooLarge {
                epsilon_milli: 10_001,
                max: EPSILON_MILLI_MAX
            })
        );
        // Δ²=1, ε=0.001, cohort 1: 5·28.077309·10⁶ = 140386545 coins.
        assert_eq!(
            coins_per_member(1, 1, 1),
            Err(NoiseError::TooManyCoins {
                needed: 140_386_545,
                max: COINS_MAX
            })
        );
        // The largest inputs do not overflow.
        assert!(matches!(
            coins_per_member(u64::MAX, 1, 1),
            Err(NoiseError::TooManyCoins { .. })
        ));
        // ε ≥ 12 milli is the smallest for Δ²=1 and a cohort of one:
        // 5·28.077309·10⁶/ε² ≤ 2²⁰ ⇔ ε² ≥ 133.9.
        assert!(coins_per_member(1, 11, 1).is_err());
        assert!(coins_per_member(1, 12, 1).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// More ε never needs more coins; a bigger cohort never needs more
        /// coins per member; a bigger sensitivity never needs fewer.
        #[test]
        fn coins_per_member_is_monotone(
            sens in 1u64..1_000_000,
            eps in 1u32..=EPSILON_MILLI_MAX,
            d_eps in 0u32..5_000,
            cohort in 1u32..100_000,
            d_cohort in 0u32..100_000,
            d_sens in 0u64..1_000_000,
        ) {
            let base = coins_per_member(sens, eps, cohort);
            let more_eps = coins_per_member(sens, (eps + d_eps).min(EPSILON_MILLI_MAX), cohort);
            let more_cohort = coins_per_member(sens, eps, cohort + d_cohort);
            let more_sens = coins_per_member(sens + d_sens, eps, cohort);
            match base {
                Ok(k) => {
                    prop_assert!(k >= 1);
                    prop_assert!(more_eps.clone().is_ok_and(|k2| k2 <= k));
                    prop_assert!(more_cohort.clone().is_ok_and(|k2| k2 <= k));
                    if let Ok(k2) = more_sens { prop_assert!(k2 >= k); }
                }
                Err(NoiseError::TooManyCoins { .. }) => {
                    // Less ε or a smaller cohort would need even more.
                    prop_assert!(more_sens.is_err());
                }
                Err(e) => prop_assert!(false, "unexpected {e:?}"),
            }
        }
    }

    /// Exact privacy profile of the one-dimensional binomial mechanism:
    /// δ(ε) = Σₓ max(0, P[X = x] − e^ε·P[X + Δ = x]) for X ~ Bin(m, ½), the
    /// worst case over the two neighbouring outputs (the binomial is
    /// symmetric, so the other direction gives the same value).
    fn exact_delta(m: u64, shift: u64, eps: f64) -> f64 {
        let ln_p = |x: u64| {
            ln_factorial(m)
                - ln_factorial(x)
                - ln_factorial(m - x)
                - m as f64 * core::f64::consts::LN_2
        };
        let e = eps.exp();
        (0..=m + shift)
            .map(|x| {
                let p = if x <= m { ln_p(x).exp() } else { 0.0 };
                let q = if x >= shift {
                    ln_p(x - shift).exp()
                } else {
                    0.0
                };
                (p - e * q).max(0.0)
            })
            .sum()
    }

    /// The calibration delivers (ε, 10⁻⁶)-DP for a scalar field, checked
    /// against the exact privacy loss of the binomial sum at the minimum
    /// cohort (the worst case), over ε from 0.1 to 10 and sensitivities 1 to
    /// 100. Deterministic: no randomness involved.
    #[test]
    fn calibration_meets_delta_exactly_in_one_dimension() {
        let cohort = 20u32;
        let cases: [(u32, u64); 16] = [
            (100, 1),
            (100, 3),
            (500, 1),
            (500, 10),
            (1000, 1),
            (1000, 3),
            (1000, 30),
            (2000, 1),
            (2000, 10),
            (4000, 1),
            (4000, 30),
            (8000, 3),
            (8000, 30),
            (10_000, 1),
            (10_000, 30),
            (10_000, 100),
        ];
        let mut worst = 0.0f64;
        for (eps_milli, shift) in cases {
            let k = coins_per_member(shift * shift, eps_milli, cohort).unwrap();
            let m = u64::from(k) * u64::from(cohort);
            let delta = exact_delta(m, shift, f64::from(eps_milli) / 1000.0);
            assert!(
                delta <= 1.0 / DELTA_INV as f64,
                "eps {eps_milli}, shift {shift}, {m} coins: delta {delta:e}"
            );
            worst = worst.max(delta);
        }
        // Shown with --nocapture: the largest exact δ over the grid.
        eprintln!("largest exact delta over the grid: {worst:e}");
    }

    /// Without the coin floor the Gaussian formula alone fails at large ε:
    /// the floor is load-bearing.
    #[test]
    fn gaussian_formula_alone_fails_at_large_epsilon() {
        // ε = 4, Δ = 1: the bare formula asks for ⌈4·28.077309/16⌉ = 8 coins.
        let delta = exact_delta(8, 1, 4.0);
        assert!(delta > 1e-3, "{delta:e}");
    }

    /// Chi-square critical values at α = 10⁻³ for 1..=20 degrees of freedom.
    const CHI2_CRIT_1E3: [f64; 20] = [
        10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588, 31.264,
        32.909, 34.528, 36.123, 37.697, 39.252, 40.790, 42.312, 43.820, 45.315,
    ];

    /// Pearson's chi-square goodness of fit of `binomial_share(k)` against
    /// Binomial(k, ½), with outcomes merged into bins of probability at
    /// least 1/18 (so at most 18 bins, ≥ 1,100 expected per bin).
    fn chi_square(
        k: u32,
        samples: u32,
        seed: u64,
        mut sampler: impl FnMut(&mut ChaCha20Rng) -> u32,
    ) -> (f64, usize) {
        let pmf: Vec<f64> = (0..=u64::from(k))
            .map(|x| {
                (ln_factorial(u64::from(k))
                    - ln_factorial(x)
                    - ln_factorial(u64::from(k) - x)
                    - f64::from(k) * core::f64::consts::LN_2)
                    .exp()
            })
            .collect();
        // bin_of[x] = bin index of outcome x.
        let mut bin_of = vec![0usize; pmf.len()];
        let mut bin_p = vec![0.0f64];
        for (x, &p) in pmf.iter().enumerate() {
            if *bin_p.last().unwrap() >= 1.0 / 18.0 {
                bin_p.push(0.0);
            }
            *bin_p.last_mut().unwrap() += p;
            bin_of[x] = bin_p.len() - 1;
        }
        // Merge an undersized last bin into the one before it.
        if bin_p.len() > 1 && *bin_p.last().unwrap() < 1.0 / 18.0 {
            let last = bin_p.pop().unwrap();
            *bin_p.last_mut().unwrap() += last;
            let top = bin_p.len() - 1;
            for b in &mut bin_of {
                *b = (*b).min(top);
            }
        }
        let mut counts = vec![0u64; bin_p.len()];
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        for _ in 0..samples {
            let x = sampler(&mut rng).min(k);
            counts[bin_of[x as usize]] += 1;
        }
        let n = f64::from(samples);
        let stat = counts
            .iter()
            .zip(&bin_p)
            .map(|(&c, &p)| (c as f64 - n * p).powi(2) / (n * p))
            .sum();
        (stat, bin_p.len() - 1)
    }

    /// Goodness of fit for several coin counts, including partial words
    /// (1, 7, 100, 1000) and a whole word (64). Each test has a false-alarm
    /// rate of α = 10⁻³ for a correct sampler; the seed is fixed, so the
    /// outcome is deterministic.
    #[test]
    fn binomial_share_fits_binomial_distribution() {
        for (i, &k) in [1u32, 7, 64, 100, 1000].iter().enumerate() {
            let (stat, df) = chi_square(k, 20_000, 0x5eed_0000 + i as u64, |rng| {
                let x = binomial_share(rng, k);
                assert!(x <= k);
                x
            });
            assert!((1..=20).contains(&df), "k {k}: {df} degrees of freedom");
            let crit = CHI2_CRIT_1E3[df - 1];
            assert!(stat < crit, "k {k}: chi2 {stat} >= {crit} (df {df})");
        }
    }

    /// The goodness-of-fit harness has power: it rejects plausible bugs,
    /// one coin too many (a mask off by one) and a biased coin.
    #[test]
    fn chi_square_rejects_wrong_samplers() {
        let (stat, df) = chi_square(64, 20_000, 9, |rng| binomial_share(rng, 65));
        assert!(stat > CHI2_CRIT_1E3[df - 1], "off by one: {stat}");
        let (stat, df) = chi_square(64, 20_000, 9, |rng| {
            // P(head) = 33/64 instead of 1/2.
            (0..64).filter(|_| rng.next_u32() % 64 < 33).count() as u32
        });
        assert!(stat > CHI2_CRIT_1E3[df - 1], "biased coin: {stat}");
    }

    #[test]
    fn binomial_share_edges() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        assert_eq!(binomial_share(&mut rng, 0), 0);
        for k in [1u32, 63, 64, 65, 127, 128, 129] {
            for _ in 0..50 {
                assert!(binomial_share(&mut rng, k) <= k);
            }
        }
        // Uses exactly ⌈k/64⌉ words: two generators stay in step.
        let mut a = ChaCha20Rng::seed_from_u64(3);
        let mut b = ChaCha20Rng::seed_from_u64(3);
        binomial_share(&mut a, 65);
        b.next_u64();
        b.next_u64();
        assert_eq!(a.next_u64(), b.next_u64());
    }

    /// Sum of n = 50 shares of k = 40 coins over T = 2,000 trials: each sum
    /// is Binomial(2000, ½), mean 1000, variance 500. The sample mean has
    /// standard error √(500/2000) = 0.5 and the sample variance about
    /// 500·√(2/1999) ≈ 15.8; both bounds are 5 standard errors, a false-alarm
    /// rate below 10⁻⁵ each (normal approximation). Fixed seed.
    #[test]
    fn sum_of_shares_has_binomial_mean_and_variance() {
        let (n, k, trials) = (50u32, 40u32, 2_000u32);
        let mut rng = ChaCha20Rng::seed_from_u64(0xd1ce);
        let sums: Vec<f64> = (0..trials)
            .map(|_| {
                let mut cells = vec![0u64];
                for _ in 0..n {
                    add_noise(&mut rng, &mut cells, &[k]).unwrap();
                }
                cells[0] as f64
            })
            .collect();
        let t = f64::from(trials);
        let mean = sums.iter().sum::<f64>() / t;
        let var = sums.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (t - 1.0);
        let expected_mean = f64::from(n * k) / 2.0;
        let expected_var = f64::from(n * k) / 4.0;
        assert!((mean - expected_mean).abs() < 5.0 * 0.5, "mean {mean}");
        assert!(
            (var - expected_var).abs() < 5.0 * expected_var * (2.0 / (t - 1.0)).sqrt(),
            "variance {var}"
        );
        // The report figures agree with the samples.
        let sd = noise_sd(n, k);
        assert!((sd * sd - expected_var).abs() < 1e-9);
        let mad = sums.iter().map(|s| (s - expected_mean).abs()).sum::<f64>() / t;
        let expected_mad = expected_abs_noise(n, k);
        // Sample MAD has standard error ≤ σ/√T ≈ 0.5: 5 standard errors.
        assert!(
            (mad - expected_mad).abs() < 2.5,
            "mad {mad} vs {expected_mad}"
        );
    }

    #[test]
    fn centered_is_exact_on_noise_free_input() {
        // With zero coins, the sum is the clear sum.
        assert_eq!(centered(12345, 100, 0), 12345);
        // A sum whose noise came out exactly at its mean: n·k even.
        assert_eq!(centered(777 + 100 * 28 / 2, 100, 28), 777);
        // n·k odd: the floor of the mean is subtracted, bias ½.
        assert_eq!(centered(10 + 3 * 7 / 2, 3, 7), 10);
        // Negative estimates and saturation.
        assert_eq!(centered(0, 100, 28), -1400);
        assert_eq!(centered(u64::MAX, 0, 0), i64::MAX);
        assert_eq!(
            centered(0, u32::MAX, u32::MAX),
            -((u64::from(u32::MAX) * u64::from(u32::MAX) / 2) as i64)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Adding shares of zero coins and centering recovers the clear sum,
        /// and `centered` is the exact inverse of adding the mean.
        #[test]
        fn centered_inverts_the_mean(clear in 0u64..1 << 40, n in 0u32..100_000, k in 0u32..COINS_MAX) {
            let mean_floor = u64::from(n) * u64::from(k) / 2;
            prop_assert_eq!(centered(clear + mean_floor, n, k), clear as i64);
        }
    }

    #[test]
    fn add_noise_checks_before_changing_anything() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let mut values = vec![1u64, 2, 3];
        assert_eq!(
            add_noise(&mut rng, &mut values, &[1, 2]),
            Err(NoiseError::LengthMismatch {
                values: 3,
                coins: 2
            })
        );
        assert_eq!(
            add_noise(&mut rng, &mut values, &[1, COINS_MAX + 1, 1]),
            Err(NoiseError::CellCoinsTooMany {
                index: 1,
                coins: COINS_MAX + 1,
                max: COINS_MAX
            })
        );
        let mut near_max = vec![0u64, u64::MAX - 5];
        assert_eq!(
            add_noise(&mut rng, &mut near_max, &[10, 6]),
            Err(NoiseError::Overflow { index: 1 })
        );
        assert_eq!(near_max, [0, u64::MAX - 5]);
        assert_eq!(values, [1, 2, 3]);
        // Exactly at the limit is fine.
        add_noise(&mut rng, &mut near_max, &[10, 5]).unwrap();
        assert!(near_max[0] <= 10 && near_max[1] >= u64::MAX - 5);
        // Shares stay within [0, k].
        add_noise(&mut rng, &mut values, &[0, 64, 1000]).unwrap();
        assert_eq!(values[0], 1);
        assert!((2..=66).contains(&values[1]));
        assert!((3..=1003).contains(&values[2]));
    }

    #[test]
    fn report_figures() {
        assert_eq!(noise_sd(100, 28), (700.0f64).sqrt());
        assert_eq!(expected_abs_noise(0, 5), 0.0);
        // Bin(1, ½): |X − ½| = ½ always. Bin(2, ½): E|X − 1| = ½.
        assert!((expected_abs_noise(1, 1) - 0.5).abs() < 1e-12);
        assert!((expected_abs_noise(1, 2) - 0.5).abs() < 1e-12);
        // Bin(4, ½): (2·4·1 + 0·6)/16... |X−2| = 2,1,0,1,2 with weights
        // 1,4,6,4,1: (2+4+0+4+2)/16 = 0.75.
        assert!((expected_abs_noise(2, 2) - 0.75).abs() < 1e-12);
        // Large M (Stirling branch): ≈ σ·√(2/π).
        let (n, k) = (10_000u32, 1_000u32);
        let ratio =
            expected_abs_noise(n, k) / (noise_sd(n, k) * (2.0 / core::f64::consts::PI).sqrt());
        assert!((ratio - 1.0).abs() < 1e-6, "{ratio}");
        // Both branches of ln_factorial agree where they meet.
        let direct: f64 = (2..=40u64).map(|i| (i as f64).ln()).sum();
        assert!((ln_factorial(40) - direct).abs() < 1e-10);
    }
}
