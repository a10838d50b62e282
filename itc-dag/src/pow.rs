//! Proof of work: a small anti-spam stamp, never mining.
//!
//! The value is `BLAKE2b-256(Domain::ProofOfWork tag | essence | nonce)` and
//! the work is the number of leading zero bits of that value. The required
//! number of bits is
//!
//! ```text
//! required = level_bits[security level]
//!          + min(extra_bits_max, max(0, recent - free_per_window) / step)
//! ```
//!
//! where `recent` counts the transactions this node accepted during the last
//! `window_ms` (see [`PowParams`]) from the issuer's class: every registered
//! device of the same owner ([`SecurityLevels::owner`]) counts as one, and
//! every unregistered issuer as one, so minting keys (registered or not)
//! buys no fresh allowance. A device that issues slowly pays only its
//! level's base; a class that bursts pays one more bit (twice the work) for
//! every `step` transactions above the allowance.
//!
//! The rate term is node-local admission control: a node that *requested* a
//! transaction because it is the missing parent of another checks only the
//! base difficulty, so nodes that saw different traffic still agree on every
//! cone an anchor confirms.

use itc_core::hash::Hasher;
use itc_core::keys::PublicKey;
use itc_core::types::{SecurityLevel, SECURITY_LEVEL_MAX};

/// Number of security levels (`0..=SECURITY_LEVEL_MAX`).
pub const SECURITY_LEVELS: usize = SECURITY_LEVEL_MAX as usize + 1;
/// Highest difficulty any rule may require, in bits.
pub const DIFFICULTY_BITS_MAX: u32 = 40;
/// Default nonces a solver tries before giving up (`2^28`, about a minute
/// on a desktop core; far more than level 3 needs on average).
pub const SOLVE_ITERATIONS_MAX: u64 = 1 << 28;

/// Why proof of work failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PowError {
    /// The solver tried its whole budget of nonces without success.
    #[error("no nonce found within {iterations} iterations")]
    IterationsExhausted {
        /// Nonces tried.
        iterations: u64,
    },
    /// The transaction's work is below the requirement.
    #[error("proof of work has {found} bits, {required} required")]
    TooLittleWork {
        /// Bits found.
        found: u32,
        /// Bits required.
        required: u32,
    },
}

/// Difficulty rules. All integers, identical on every node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowParams {
    /// Base bits per security level (index = level).
    pub level_bits: [u32; SECURITY_LEVELS],
    /// Length of the issue-rate window in milliseconds.
    pub window_ms: u64,
    /// Transactions an issuer may send per window at base difficulty.
    pub free_per_window: u32,
    /// Transactions above the allowance that cost one more bit.
    pub step: u32,
    /// Most extra bits the rate can add.
    pub extra_bits_max: u32,
    /// Level assumed for issuers that are not registered devices (accounts,
    /// phones); `None` rejects them.
    pub unregistered_level: Option<SecurityLevel>,
}

impl Default for PowParams {
    /// Level 0 (a sensor on a microcontroller) needs 8 bits, each level 4
    /// more; unregistered issuers pay level 3. Ten transactions per 10 s are
    /// free, then one bit per ten more, at most 12 extra bits.
    fn default() -> Self {
        PowParams {
            level_bits: [8, 12, 16, 20],
            window_ms: 10_000,
            free_per_window: 10,
            step: 10,
            extra_bits_max: 12,
            unregistered_level: SecurityLevel::new(SECURITY_LEVEL_MAX),
        }
    }
}

impl PowParams {
    /// No work at all: for tests that are not about proof of work.
    pub fn none() -> Self {
        PowParams {
            level_bits: [0; SECURITY_LEVELS],
            extra_bits_max: 0,
            ..PowParams::default()
        }
    }

    /// Bits required from an issuer at `level` that had `recent`
    /// transactions accepted during the current window.
    pub fn required_bits(&self, level: SecurityLevel, recent: u32) -> u32 {
        let base = self.level_bits[level.get() as usize];
        let over = recent.saturating_sub(self.free_per_window);
        let extra = (over / self.step.max(1)).min(self.extra_bits_max);
        (base + extra).min(DIFFICULTY_BITS_MAX)
    }

    /// Base bits for `level` (the requirement at a low issue rate).
    pub fn base_bits(&self, level: SecurityLevel) -> u32 {
        self.required_bits(level, 0)
    }
}

/// Where a node learns issuers' security levels: the ledger's device
/// registry, or a caller-supplied lookup.
pub trait SecurityLevels {
    /// The registered level of `issuer`, or `None` if it is not a device.
    fn security_level(&self, issuer: &PublicKey) -> Option<SecurityLevel>;

    /// The owner of the registered device `issuer`: its issue rate is
    /// counted in one window with every device of that owner, so minting
    /// and registering more keys does not buy more cheap transactions.
    /// `None` (the default) counts the device alone.
    fn owner(&self, issuer: &PublicKey) -> Option<PublicKey> {
        let _ = issuer;
        None
    }
}

impl SecurityLevels for itc_core::ledger::Ledger {
    fn security_level(&self, issuer: &PublicKey) -> Option<SecurityLevel> {
        self.device(issuer).map(|record| record.security_level)
    }

    fn owner(&self, issuer: &PublicKey) -> Option<PublicKey> {
        self.device(issuer).map(|record| record.owner)
    }
}

impl<F: Fn(&PublicKey) -> Option<SecurityLevel>> SecurityLevels for F {
    fn security_level(&self, issuer: &PublicKey) -> Option<SecurityLevel> {
        self(issuer)
    }
}

/// Leading zero bits of a 32-byte value.
pub fn leading_zero_bits(value: &[u8; 32]) -> u32 {
    let mut bits = 0;
    for chunk in value.chunks_exact(8) {
        let word = u64::from_be_bytes(chunk.try_into().expect("8-byte chunk"));
        bits += word.leading_zeros();
        if word != 0 {
            break;
        }
    }
    bits
}

/// Leading zero bits of the proof-of-work value for `nonce`, given a hasher
/// that has absorbed the domain and essence
/// ([`crate::DagTransaction::pow_hasher`]).
pub fn value_bits(essence_hasher: &Hasher, nonce: u64) -> u32 {
    let mut hasher = essence_hasher.clone();
    hasher.update(&nonce.to_le_bytes());
    leading_zero_bits(&hasher.finalize().0)
}

/// Find a nonce, starting at `start`, whose value has at least `bits`
/// leading zero bits; try at most `iterations_max` nonces. This is the work
/// a gateway does on behalf of a small device: it needs only the essence.
///
/// # Errors
/// [`PowError::IterationsExhausted`] if the budget ran out.
pub fn solve(
    essence_hasher: &Hasher,
    bits: u32,
    start: u64,
    iterations_max: u64,
) -> Result<u64, PowError> {
    let mut nonce = start;
    for _ in 0..iterations_max {
        if value_bits(essence_hasher, nonce) >= bits {
            return Ok(nonce);
        }
        nonce = nonce.wrapping_add(1);
    }
    Err(PowError::IterationsExhausted {
        iterations: iterations_max,
    })
}

/// Check that `found` bits meet `required`.
///
/// # Errors
/// [`PowError::TooLittleWork`].
pub fn check(found: u32, required: u32) -> Result<(), PowError> {
    if found >= required {
        Ok(())
    } else {
        Err(PowError::TooLittleWork { found, required })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_core::hash::Domain;

    fn level(l: u8) -> SecurityLevel {
        SecurityLevel::new(l).unwrap()
    }

    #[test]
    fn leading_zero_bits_counts_across_words() {
        let mut v = [0u8; 32];
        assert_eq!(leading_zero_bits(&v), 256);
        v[0] = 0x80;
        assert_eq!(leading_zero_bits(&v), 0);
        v[0] = 0;
        v[1] = 0x10;
        assert_eq!(leading_zero_bits(&v), 11);
        v[1] = 0;
        v[9] = 1;
        assert_eq!(leading_zero_bits(&v), 79);
    }

    #[test]
    fn difficulty_follows_level_and_rises_with_issue_rate() {
        let p = PowParams::default();
        assert_eq!(p.required_bits(level(0), 0), 8);
        assert_eq!(p.required_bits(level(3), 0), 20);
        assert_eq!(p.required_bits(level(0), 10), 8);
        assert_eq!(p.required_bits(level(0), 19), 8);
        assert_eq!(p.required_bits(level(0), 20), 9);
        assert_eq!(p.required_bits(level(0), 50), 12);
        assert_eq!(p.required_bits(level(0), u32::MAX), 8 + 12);
        for l in 0..3 {
            assert!(p.base_bits(level(l)) < p.base_bits(level(l + 1)));
        }
    }

    #[test]
    fn solver_finds_work_that_checks_and_respects_its_budget() {
        let mut hasher = Hasher::new(Domain::ProofOfWork);
        hasher.update(b"essence");
        let nonce = solve(&hasher, 10, 0, 1 << 20).unwrap();
        assert!(value_bits(&hasher, nonce) >= 10);
        assert!(check(value_bits(&hasher, nonce), 10).is_ok());
        assert_eq!(
            solve(&hasher, 64, 0, 100),
            Err(PowError::IterationsExhausted { iterations: 100 })
        );
        assert_eq!(
            check(3, 4),
            Err(PowError::TooLittleWork {
                found: 3,
                required: 4
            })
        );
    }
}
