//! Proof-of-work admission: whose recent issue rate a transaction pays
//! (its owner's, shared by all the owner's devices; one class for every
//! unregistered issuer) and the bounded issue-time samples per class.

use itc_core::keys::PublicKey;
use itc_core::types::SecurityLevel;
use std::collections::{BTreeMap, VecDeque};

use super::{AttachError, InvariantViolation, TanglePart};
use super::{ISSUERS_TRACKED_MAX, ISSUER_RATE_SAMPLES_MAX};
use crate::pow::{PowParams, SecurityLevels};

fn violation(what: &'static str) -> InvariantViolation {
    InvariantViolation::new(TanglePart::Rates, what)
}

/// Whose recent issue rate sets the proof-of-work rate term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum RateKey {
    /// Every issuer that is not a registered device, as one class.
    Unregistered,
    /// A registered device whose owner is not known to the lookup.
    Issuer(PublicKey),
    /// Every registered device of this owner, as one class.
    Owner(PublicKey),
}

/// Recent issue times per rate class.
#[derive(Debug)]
pub(super) struct Rates {
    params: PowParams,
    samples: BTreeMap<RateKey, VecDeque<u64>>,
}

impl Rates {
    /// No samples yet, under `params`.
    pub(super) fn new(params: PowParams) -> Self {
        Rates {
            params,
            samples: BTreeMap::new(),
        }
    }

    /// The issuer's level and whose rate it pays: its owner's (shared by
    /// all devices of that owner) if it is a registered device, else the
    /// one shared by all unregistered issuers, so rotating keys, minting
    /// identities or registering more devices does not reset the rate.
    ///
    /// # Errors
    /// [`AttachError::UnregisteredIssuer`] if unregistered issuers are
    /// refused.
    pub(super) fn level_of(
        &self,
        issuer: &PublicKey,
        levels: &impl SecurityLevels,
    ) -> Result<(SecurityLevel, RateKey), AttachError> {
        match levels.security_level(issuer) {
            Some(level) => Ok((
                level,
                levels
                    .owner(issuer)
                    .map_or(RateKey::Issuer(*issuer), RateKey::Owner),
            )),
            None => self
                .params
                .unregistered_level
                .map(|level| (level, RateKey::Unregistered))
                .ok_or(AttachError::UnregisteredIssuer),
        }
    }

    /// Proof-of-work bits required now from a `level` issuer of class
    /// `key` for gossip.
    pub(super) fn required_bits(
        &mut self,
        level: SecurityLevel,
        key: &RateKey,
        now_ms: u64,
    ) -> u32 {
        let recent = self.recent_issues(key, now_ms);
        self.params.required_bits(level, recent)
    }

    /// Accepted transactions counted under `key` within the rate window
    /// ending at `now_ms`.
    fn recent_issues(&mut self, key: &RateKey, now_ms: u64) -> u32 {
        let window = self.params.window_ms;
        let Some(times) = self.samples.get_mut(key) else {
            return 0;
        };
        while times
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= window)
        {
            times.pop_front();
        }
        times.len() as u32
    }

    /// Count an accepted transaction of class `issuer` at `now_ms`.
    pub(super) fn record_issue(&mut self, issuer: RateKey, now_ms: u64) {
        if !self.samples.contains_key(&issuer) && self.samples.len() >= ISSUERS_TRACKED_MAX {
            let window = self.params.window_ms;
            self.samples.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now_ms.saturating_sub(*t) < window)
            });
            if self.samples.len() >= ISSUERS_TRACKED_MAX {
                // Forget the least recently active issuer.
                let quietest = self
                    .samples
                    .iter()
                    .min_by_key(|(key, times)| (times.back().copied().unwrap_or(0), **key))
                    .map(|(key, _)| *key)
                    .expect("map is full");
                self.samples.remove(&quietest);
            }
        }
        let times = self.samples.entry(issuer).or_default();
        if times.len() >= ISSUER_RATE_SAMPLES_MAX {
            times.pop_front();
        }
        times.push_back(now_ms);
    }

    /// Bytes held by the samples (an estimate per map node, plus capacities).
    pub(super) fn memory_bytes(&self) -> usize {
        self.samples.len() * (33 + 48 + 32)
            + self
                .samples
                .values()
                .map(|r| r.capacity() * 8)
                .sum::<usize>()
    }

    /// The bounds: at most [`ISSUERS_TRACKED_MAX`] classes of at most
    /// [`ISSUER_RATE_SAMPLES_MAX`] samples each (O(classes)).
    pub(super) fn check_invariants(&self) -> Result<(), InvariantViolation> {
        if self.samples.len() > ISSUERS_TRACKED_MAX {
            return Err(violation("more rate classes than tracked"));
        }
        if self
            .samples
            .values()
            .any(|times| times.len() > ISSUER_RATE_SAMPLES_MAX)
        {
            return Err(violation("more samples than kept per class"));
        }
        Ok(())
    }

    /// Test support: push one class beyond its sample bound.
    #[cfg(test)]
    pub(super) fn corrupt(&mut self) {
        let times = self.samples.entry(RateKey::Unregistered).or_default();
        times.extend(std::iter::repeat_n(0, ISSUER_RATE_SAMPLES_MAX + 1));
    }
}
