//! The run's one random generator.

use itc_dag::tips::SplitMix64;

/// The simulator's deterministic generator: itc-dag's SplitMix64 under a
/// seed of the simulator's own (so a run's seed and a tip selection's seed
/// never give the same stream).
#[derive(Clone, Debug)]
pub struct Rng(SplitMix64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed ^ 0x5EED_0F1C_0FFE_E000))
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[low, high]`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.next_u64() % (high - low + 1)
    }

    /// An index into something `len` long (0 when `len` is 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.range(0, (len as u64).saturating_sub(1)) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.next_u64() % 100 < u64::from(percent)
    }
}
