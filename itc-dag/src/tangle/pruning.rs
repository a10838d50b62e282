//! Pruning: which stored transactions the anchors up to a height made
//! unnecessary, and which ids stay as solid entry points. The plan reads
//! the store only; [`super::Tangle::prune`] applies it.

use hashbrown::HashMap;
use itc_core::hash::Hash;

use super::store::Store;
use super::ROOT_WALK_MAX;

/// What a prune removes and keeps.
pub(super) struct Plan {
    /// Per slot: whether it is forgotten.
    pub(super) forget: Vec<bool>,
    /// The entry points afterwards.
    pub(super) entry_points: HashMap<Hash, u64>,
}

/// The plan for pruning through `height` (at most `latest_height`), with
/// `fallback` the latest anchors' tips, `below_max_depth` the tip
/// parameter and `anchor_depth_max` the depth rule.
pub(super) fn plan(
    store: &Store,
    fallback: &[Hash],
    height: u64,
    latest_height: u64,
    below_max_depth: u64,
    anchor_depth_max: u64,
) -> Plan {
    let lazy_below = height.saturating_sub(below_max_depth);
    let mut forget = vec![false; store.slot_count()];
    // The stored oldest root understates outside the tip pool: one
    // that looks too old is recomputed, and kept if the walk runs out.
    let mut memo = HashMap::new();
    let mut budget = ROOT_WALK_MAX;
    for (i, r) in store.records() {
        forget[i as usize] = if r.confirmed() > 0 {
            r.confirmed() <= height
        } else {
            r.stored_roots().0 < lazy_below
                && store
                    .fresh_oldest_root(i, &mut memo, &mut budget)
                    .is_some_and(|root| root < lazy_below)
        };
    }
    // Keep unconfirmed ancestors of kept transactions, so nothing kept
    // ever points at a forgotten unconfirmed parent.
    let mut work: Vec<u32> = store
        .records()
        .filter(|(i, _)| !forget[*i as usize])
        .map(|(i, _)| i)
        .collect();
    while let Some(slot) = work.pop() {
        for parent in store.slot(slot).parents() {
            if let Some(p) = store.slot_of(&parent) {
                if forget[p as usize] && store.slot(p).confirmed() == 0 {
                    forget[p as usize] = false;
                    work.push(p);
                }
            }
        }
    }
    let mut entry_points: HashMap<Hash, u64> = HashMap::new();
    for id in store.genesis() {
        entry_points.insert(*id, 0);
    }
    let mut keep_point = |id: &Hash, forget: &[bool]| {
        if let Some(p) = store.slot_of(id) {
            if forget[p as usize] {
                entry_points.insert(*id, store.slot(p).confirmed());
            }
        } else if let Some(h) = store.entry_point(id) {
            entry_points.insert(*id, h);
        }
    };
    for (i, r) in store.records() {
        if !forget[i as usize] {
            for parent in r.parents() {
                keep_point(&parent, &forget);
            }
        }
    }
    for id in fallback {
        keep_point(id, &forget);
    }
    // Tombstones: every id confirmed within the last `anchor_depth_max`
    // anchors, so a late approval of one is recognised as confirmed
    // (not re-fetched as new) by every node alike.
    let recent = |h: u64| h > 0 && h.saturating_add(anchor_depth_max) > latest_height;
    for (i, r) in store.records() {
        if forget[i as usize] && r.confirmed() > 0 && recent(r.confirmed()) {
            entry_points.insert(r.id(), r.confirmed());
        }
    }
    for (id, h) in store.entry_points() {
        if recent(*h) {
            entry_points.insert(*id, *h);
        }
    }
    Plan {
        forget,
        entry_points,
    }
}
