//! A bounded tip pool and uniform-random tip selection in the spirit of
//! IOTA's URTS (Hornet's "uniform random tip selection").
//!
//! Instead of a random walk through the whole DAG (which took seconds per
//! call on IOTA's main net), a node keeps a small pool of recent tips and
//! draws parents uniformly from it: O(parents) per selection, independent of
//! the DAG's size.
//!
//! Each tip has a *score* from its root snapshot indexes (see
//! [`crate::Tangle`]): `omrsi`/`ymrsi`, the oldest and youngest anchor
//! height among the confirmed transactions its past cone reaches first. With
//! `L` the latest anchor height:
//!
//! * **lazy** if `L - ymrsi > max_delta_young` or `L - omrsi > below_max_depth`:
//!   it approves only old history (a parasite chain, a stale device); it is
//!   never added to or kept in the pool, so it is never selected;
//! * **semi-lazy** if `L - omrsi > max_delta_old`: selected only when there
//!   are not enough non-lazy tips;
//! * **non-lazy** otherwise: selected preferentially.
//!
//! The indexes are computed when a transaction becomes solid, from its
//! parents (a confirmed parent counts with its confirmation height); tips
//! in the pool are recomputed from their parents after every anchor. Deeper
//! transactions keep the values they had, which only ever understate them,
//! so a stale value can make a transaction look lazier, never fresher.
//!
//! A tip leaves the pool after it has been approved more than
//! `references_max` times, after `age_max_ms`, when it turns lazy, when its
//! issuer has more than `per_issuer_max` newer tips in the pool (tip spam from
//! one issuer cannot crowd out others), or when the pool is full and it is
//! the oldest. All of this depends only on the order of calls and their
//! arguments; selection draws from a SplitMix64 generator seeded by the
//! caller, so it is reproducible.

use hashbrown::HashMap;
use itc_core::hash::Hash;
use itc_core::keys::PublicKey;
use std::collections::{BTreeMap, VecDeque};

use crate::transaction::{PARENTS_MAX, PARENTS_MIN};

/// Largest tip pool any configuration may ask for.
pub const TIP_POOL_MAX: usize = 65_536;
/// Most random draws one selection makes before settling for fewer parents.
pub const SELECTION_DRAWS_MAX: usize = 64;

/// Tip-pool and tip-selection parameters.
///
/// The defaults keep the pool from collapsing: each new transaction adds one
/// tip and takes up to `parents` references, and a tip leaves after
/// `references_max + 1`, so with `parents <= references_max` the pool grows
/// (up to `pool_max`, or until tips age out) instead of shrinking to a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TipParams {
    /// Pool size (at most [`TIP_POOL_MAX`]).
    pub pool_max: usize,
    /// Most tips one issuer may have in the pool.
    pub per_issuer_max: usize,
    /// Tips older than this (since they entered the pool) are dropped.
    pub age_max_ms: u64,
    /// A tip approved more than this many times leaves the pool.
    pub references_max: u32,
    /// Lazy if the youngest root is more than this many anchors old.
    pub max_delta_young: u64,
    /// Semi-lazy if the oldest root is more than this many anchors old.
    pub max_delta_old: u64,
    /// Lazy (never selected, never confirmed by an honest proposer, pruned)
    /// if the oldest root is more than this many anchors old.
    pub below_max_depth: u64,
    /// Parents a selection returns when the pool allows (1..=8).
    pub parents: usize,
}

impl Default for TipParams {
    fn default() -> Self {
        TipParams {
            pool_max: 4_096,
            per_issuer_max: 8,
            age_max_ms: 30_000,
            references_max: 4,
            max_delta_young: 8,
            max_delta_old: 13,
            below_max_depth: 15,
            parents: 4,
        }
    }
}

/// How good a tip is to approve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TipScore {
    /// Approves old history only; never selected.
    Lazy,
    /// Selected only when non-lazy tips run short.
    SemiLazy,
    /// Preferred.
    NonLazy,
}

impl TipParams {
    /// The score of a tip with root indexes `(omrsi, ymrsi)` when the latest
    /// anchor is at `latest`.
    pub fn score(&self, omrsi: u64, ymrsi: u64, latest: u64) -> TipScore {
        let young = latest.saturating_sub(ymrsi);
        let old = latest.saturating_sub(omrsi);
        if young > self.max_delta_young || old > self.below_max_depth {
            TipScore::Lazy
        } else if old > self.max_delta_old {
            TipScore::SemiLazy
        } else {
            TipScore::NonLazy
        }
    }
}

/// SplitMix64: tiny, seedable, good enough to spread tip choices.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound > 0`), by multiply-shift.
    pub fn below(&mut self, bound: usize) -> usize {
        debug_assert!(bound > 0);
        ((self.next_u64() as u128 * bound as u128) >> 64) as usize
    }
}

#[derive(Clone, Debug)]
struct Entry {
    order: u64,
    added_ms: u64,
    issuer: PublicKey,
    score: TipScore,
    position: usize,
    references: u32,
}

/// The bounded pool.
#[derive(Clone, Debug, Default)]
pub(crate) struct TipPool {
    entries: HashMap<Hash, Entry>,
    order: BTreeMap<u64, Hash>,
    non_lazy: Vec<Hash>,
    semi_lazy: Vec<Hash>,
    by_issuer: HashMap<PublicKey, VecDeque<Hash>>,
    next_order: u64,
}

impl TipPool {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn contains(&self, id: &Hash) -> bool {
        self.entries.contains_key(id)
    }

    /// The non-lazy tips, in no particular order.
    pub(crate) fn non_lazy(&self) -> &[Hash] {
        &self.non_lazy
    }

    /// When `id` entered the pool.
    pub(crate) fn added_ms(&self, id: &Hash) -> Option<u64> {
        self.entries.get(id).map(|e| e.added_ms)
    }

    fn list(&mut self, score: TipScore) -> &mut Vec<Hash> {
        match score {
            TipScore::NonLazy => &mut self.non_lazy,
            TipScore::SemiLazy => &mut self.semi_lazy,
            TipScore::Lazy => unreachable!("lazy tips are never pooled"),
        }
    }

    /// Add a tip; evicts the issuer's oldest tip or the pool's oldest when
    /// over a bound.
    pub(crate) fn insert(
        &mut self,
        params: &TipParams,
        id: Hash,
        issuer: PublicKey,
        score: TipScore,
        now_ms: u64,
    ) {
        if score == TipScore::Lazy || self.entries.contains_key(&id) || params.pool_max == 0 {
            return;
        }
        let issuer_tips = self.by_issuer.entry(issuer).or_default().len();
        if issuer_tips >= params.per_issuer_max.max(1) {
            let oldest = self.by_issuer[&issuer][0];
            self.remove(&oldest);
        }
        while self.entries.len() >= params.pool_max.min(TIP_POOL_MAX) {
            let oldest = *self.order.first_key_value().expect("pool is not empty").1;
            self.remove(&oldest);
        }
        let order = self.next_order;
        self.next_order += 1;
        let list = self.list(score);
        list.push(id);
        let position = list.len() - 1;
        self.entries.insert(
            id,
            Entry {
                order,
                added_ms: now_ms,
                issuer,
                score,
                position,
                references: 0,
            },
        );
        self.order.insert(order, id);
        self.by_issuer.entry(issuer).or_default().push_back(id);
        debug_assert!(self.entries.len() <= params.pool_max.min(TIP_POOL_MAX));
    }

    /// Remove a tip if present.
    pub(crate) fn remove(&mut self, id: &Hash) {
        let Some(entry) = self.entries.remove(id) else {
            return;
        };
        self.order.remove(&entry.order);
        let list = self.list(entry.score);
        let last = list.pop().expect("entry is listed");
        if last != *id {
            list[entry.position] = last;
            self.entries
                .get_mut(&last)
                .expect("listed tip has an entry")
                .position = entry.position;
        }
        if let Some(tips) = self.by_issuer.get_mut(&entry.issuer) {
            if let Some(i) = tips.iter().position(|t| t == id) {
                tips.remove(i);
            }
            if tips.is_empty() {
                self.by_issuer.remove(&entry.issuer);
            }
        }
    }

    /// A new transaction approves `id`.
    pub(crate) fn referenced(&mut self, params: &TipParams, id: &Hash) {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.references += 1;
            if entry.references > params.references_max {
                self.remove(id);
            }
        }
    }

    /// Drop tips older than `age_max_ms` (oldest first; stops at the first
    /// young one, since pool order is insertion order).
    pub(crate) fn expire(&mut self, params: &TipParams, now_ms: u64) {
        while let Some((_, id)) = self.order.first_key_value() {
            let id = *id;
            let added = self.entries[&id].added_ms;
            if now_ms.saturating_sub(added) <= params.age_max_ms {
                break;
            }
            self.remove(&id);
        }
    }

    /// Re-score every tip (after an anchor), in pool order; lazy ones leave.
    pub(crate) fn rescore(&mut self, mut score_of: impl FnMut(&Hash) -> TipScore) {
        let ids: Vec<Hash> = self.order.values().copied().collect();
        self.non_lazy.clear();
        self.semi_lazy.clear();
        for id in ids {
            let score = score_of(&id);
            if score == TipScore::Lazy {
                let entry = self.entries.remove(&id).expect("ordered tip has an entry");
                self.order.remove(&entry.order);
                if let Some(tips) = self.by_issuer.get_mut(&entry.issuer) {
                    tips.retain(|t| *t != id);
                    if tips.is_empty() {
                        self.by_issuer.remove(&entry.issuer);
                    }
                }
                continue;
            }
            let list = self.list(score);
            list.push(id);
            let position = list.len() - 1;
            let entry = self.entries.get_mut(&id).expect("ordered tip has an entry");
            entry.score = score;
            entry.position = position;
        }
    }

    /// Draw up to `count` distinct tips: non-lazy first, then semi-lazy.
    pub(crate) fn select(&self, count: usize, rng: &mut SplitMix64) -> Vec<Hash> {
        let count = count.clamp(PARENTS_MIN, PARENTS_MAX);
        let mut chosen: Vec<Hash> = Vec::with_capacity(count);
        for list in [&self.non_lazy, &self.semi_lazy] {
            if list.len() + chosen.len() <= count {
                // Everything fits: take it all, no draws needed.
                for id in list {
                    if !chosen.contains(id) {
                        chosen.push(*id);
                    }
                }
                continue;
            }
            let mut draws = 0;
            while chosen.len() < count && draws < SELECTION_DRAWS_MAX {
                draws += 1;
                let id = list[rng.below(list.len())];
                if !chosen.contains(&id) {
                    chosen.push(id);
                }
            }
            if chosen.len() >= count {
                break;
            }
        }
        chosen
    }

    /// Tips in pool order (oldest first) with their approval counts.
    pub(crate) fn iter_ordered(&self) -> impl Iterator<Item = (&Hash, TipScore, u32)> {
        self.order.values().map(|id| {
            let e = &self.entries[id];
            (id, e.score, e.references)
        })
    }

    /// The pool's own invariants under `params` (O(pool)): entries, pool
    /// order and the score lists describe the same tips, each at its
    /// listed position; no tip is lazy; per-issuer lists match the
    /// entries; the bounds hold.
    pub(crate) fn check_invariants(&self, params: &TipParams) -> Result<(), &'static str> {
        if self.entries.len() > params.pool_max.min(TIP_POOL_MAX) {
            return Err("pool beyond its bound");
        }
        if self.order.len() != self.entries.len()
            || self.non_lazy.len() + self.semi_lazy.len() != self.entries.len()
        {
            return Err("pool order, score lists and entries differ in size");
        }
        for (order, id) in &self.order {
            match self.entries.get(id) {
                Some(e) if e.order == *order && *order < self.next_order => {}
                _ => return Err("pool order names a tip without its entry"),
            }
        }
        for (score, list) in [
            (TipScore::NonLazy, &self.non_lazy),
            (TipScore::SemiLazy, &self.semi_lazy),
        ] {
            for (position, id) in list.iter().enumerate() {
                match self.entries.get(id) {
                    Some(e) if e.score == score && e.position == position => {}
                    _ => return Err("a score list disagrees with the tip's entry"),
                }
            }
        }
        let mut by_issuer = 0;
        for (issuer, tips) in &self.by_issuer {
            if tips.is_empty() || tips.len() > params.per_issuer_max.max(1) {
                return Err("an issuer's tip list is empty or beyond its bound");
            }
            for id in tips {
                if self.entries.get(id).map(|e| e.issuer) != Some(*issuer) {
                    return Err("an issuer's tip list names another issuer's tip");
                }
            }
            by_issuer += tips.len();
        }
        if by_issuer != self.entries.len() {
            return Err("issuer lists and entries differ in size");
        }
        Ok(())
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries.allocation_size()
            + self.order.len() * (8 + 32 + 16)
            + (self.non_lazy.capacity() + self.semi_lazy.capacity()) * 32
            + self.by_issuer.allocation_size()
            + self
                .by_issuer
                .values()
                .map(|d| d.capacity() * 32)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u32) -> Hash {
        let mut h = [0u8; 32];
        h[..4].copy_from_slice(&i.to_be_bytes());
        Hash(h)
    }

    fn issuer(i: u8) -> PublicKey {
        PublicKey([i; 32])
    }

    #[test]
    fn score_classifies_by_root_snapshot_indexes() {
        let p = TipParams::default();
        assert_eq!(p.score(100, 100, 100), TipScore::NonLazy);
        assert_eq!(p.score(100 - 13, 100, 100), TipScore::NonLazy);
        assert_eq!(p.score(100 - 14, 100, 100), TipScore::SemiLazy);
        assert_eq!(p.score(100 - 16, 100, 100), TipScore::Lazy);
        assert_eq!(p.score(100, 100 - 9, 100), TipScore::Lazy);
    }

    #[test]
    fn pool_is_bounded_and_evicts_oldest() {
        let params = TipParams {
            pool_max: 10,
            per_issuer_max: 100,
            ..TipParams::default()
        };
        let mut pool = TipPool::default();
        for i in 0..25 {
            pool.insert(&params, id(i), issuer((i % 7) as u8), TipScore::NonLazy, 0);
            assert!(pool.len() <= 10);
        }
        assert!(!pool.contains(&id(14)));
        assert!(pool.contains(&id(15)));
        assert!(pool.contains(&id(24)));
    }

    #[test]
    fn one_issuer_holds_at_most_its_cap() {
        let params = TipParams::default();
        let mut pool = TipPool::default();
        pool.insert(&params, id(1_000), issuer(1), TipScore::NonLazy, 0);
        for i in 0..500 {
            pool.insert(&params, id(i), issuer(9), TipScore::NonLazy, 0);
        }
        assert_eq!(pool.len(), params.per_issuer_max + 1);
        assert!(pool.contains(&id(1_000)));
    }

    #[test]
    fn selection_is_deterministic_given_a_seed_and_prefers_non_lazy() {
        let params = TipParams {
            per_issuer_max: 100,
            ..TipParams::default()
        };
        let mut pool = TipPool::default();
        for i in 0..50 {
            let score = if i < 40 {
                TipScore::NonLazy
            } else {
                TipScore::SemiLazy
            };
            pool.insert(&params, id(i), issuer(i as u8), score, 0);
        }
        let a = pool.select(4, &mut SplitMix64::new(7));
        let b = pool.select(4, &mut SplitMix64::new(7));
        assert_eq!(a, b);
        assert_eq!(a.len(), 4);
        for tip in &a {
            assert!(tip < &id(40), "semi-lazy chosen while non-lazy were plenty");
        }
        let c = pool.select(4, &mut SplitMix64::new(8));
        assert_ne!(a, c);
    }

    #[test]
    fn expiry_references_and_rescoring_remove_tips() {
        let params = TipParams::default();
        let mut pool = TipPool::default();
        pool.insert(&params, id(1), issuer(1), TipScore::NonLazy, 0);
        pool.insert(&params, id(2), issuer(2), TipScore::NonLazy, 20_000);
        pool.insert(&params, id(3), issuer(3), TipScore::NonLazy, 20_000);
        pool.expire(&params, 40_000);
        assert!(!pool.contains(&id(1)) && pool.contains(&id(2)));
        for _ in 0..=params.references_max {
            pool.referenced(&params, &id(2));
        }
        assert!(!pool.contains(&id(2)));
        pool.rescore(|_| TipScore::Lazy);
        assert_eq!(pool.len(), 0);
        assert!(pool.select(2, &mut SplitMix64::new(1)).is_empty());
    }
}
