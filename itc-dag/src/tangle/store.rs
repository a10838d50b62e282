//! The store: solid transactions (as their canonical encodings), their
//! approver edges, the solid entry points left by pruning, and the arrival
//! order of unconfirmed transactions.
//!
//! Slots are reused after pruning; an approver edge is a slot number, so
//! pruning drops every edge into a forgotten slot before freeing it.

use hashbrown::{HashMap, HashSet};
use itc_core::hash::Hash;
use itc_core::keys::PublicKey;
use itc_core::{Decode, Encode};
use std::collections::{BTreeMap, VecDeque};

use super::persist::Journal;
use super::{InvariantViolation, PreConfirmation, TanglePart, TxStatus, GENESIS_ENTRY_POINTS};
use super::{PRECONFIRMATION_WALK_MAX, STORE_TRANSACTIONS_MAX};
use crate::transaction::DagTransaction;

fn violation(what: &'static str) -> InvariantViolation {
    InvariantViolation::new(TanglePart::Store, what)
}

/// A stored solid transaction. The transaction is kept as its canonical
/// encoding (about 221 bytes for two parents and a 32-byte record), which is
/// smaller than the decoded struct and its heap parts; parents and issuer
/// are read from it in place.
#[derive(Clone, Debug)]
pub(super) struct Record {
    id: Hash,
    encoded: Box<[u8]>,
    approvers: Vec<u32>,
    /// Height of the confirming anchor; 0 while unconfirmed.
    confirmed: u64,
    /// Position in the confirming anchor's white-flag order.
    position: u32,
    /// Oldest and youngest root snapshot index (see [`crate::tips`]).
    omrsi: u64,
    ymrsi: u64,
    /// Key in the store's arrival-ordered list of unconfirmed transactions.
    arrival: u64,
}

impl Record {
    /// The transaction's id.
    pub(super) fn id(&self) -> Hash {
        self.id
    }

    /// Height of the confirming anchor; 0 while unconfirmed.
    pub(super) fn confirmed(&self) -> u64 {
        self.confirmed
    }

    /// Position in the confirming anchor's white-flag order.
    pub(super) fn position(&self) -> u32 {
        self.position
    }

    /// The stored (oldest, youngest) root snapshot indexes.
    pub(super) fn stored_roots(&self) -> (u64, u64) {
        (self.omrsi, self.ymrsi)
    }

    /// The canonical encoding of the transaction.
    pub(super) fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// The (oldest, youngest) root snapshot indexes that score this record:
    /// its confirming anchor's height once confirmed, its own otherwise.
    pub(super) fn roots(&self) -> (u64, u64) {
        if self.confirmed > 0 {
            (self.confirmed, self.confirmed)
        } else {
            (self.omrsi, self.ymrsi)
        }
    }

    fn tx_heap_bytes(&self) -> usize {
        self.encoded.len()
    }

    /// The transaction, decoded from its stored encoding.
    pub(super) fn transaction(&self) -> DagTransaction {
        DagTransaction::decode(&self.encoded).expect("stored encodings are canonical")
    }

    fn parent_count(&self) -> usize {
        u32::from_le_bytes(self.encoded[4..8].try_into().expect("4 bytes")) as usize
    }

    /// The parent at `index` (canonical order), if there is one.
    pub(super) fn parent(&self, index: usize) -> Option<Hash> {
        if index >= self.parent_count() {
            return None;
        }
        let start = 8 + 32 * index;
        Some(Hash(
            self.encoded[start..start + 32]
                .try_into()
                .expect("32 bytes"),
        ))
    }

    /// The parents in canonical order.
    pub(super) fn parents(&self) -> impl Iterator<Item = Hash> + '_ {
        (0..self.parent_count()).map(|i| self.parent(i).expect("in range"))
    }

    /// The issuer's key.
    pub(super) fn issuer(&self) -> PublicKey {
        let start = 8 + 32 * self.parent_count();
        PublicKey(
            self.encoded[start..start + 32]
                .try_into()
                .expect("32 bytes"),
        )
    }
}

/// What a restore read for one stored transaction.
pub(super) struct StoredRecord<'a> {
    /// The id (checked against the encoding by the caller).
    pub(super) id: Hash,
    /// The canonical encoding.
    pub(super) encoded: &'a [u8],
    /// Confirming height, 0 if unconfirmed.
    pub(super) confirmed: u64,
    /// Position in the confirming anchor's order.
    pub(super) position: u32,
    /// Oldest root snapshot index.
    pub(super) omrsi: u64,
    /// Youngest root snapshot index.
    pub(super) ymrsi: u64,
}

/// Solid transactions, approver edges, entry points and arrival order.
#[derive(Debug)]
pub(super) struct Store {
    slots: Vec<Option<Record>>,
    free: Vec<u32>,
    index: HashMap<Hash, u32>,
    entry_points: HashMap<Hash, u64>,
    genesis: [Hash; GENESIS_ENTRY_POINTS],
    /// Unconfirmed stored transactions by arrival: (id, arrival time).
    /// Holds no more than the store (a proposal may drop ones it will
    /// never anchor; they stay stored until pruned).
    unconfirmed: BTreeMap<u64, (Hash, u64)>,
    next_arrival: u64,
}

impl Store {
    /// An empty store: only the genesis entry points (height 0).
    pub(super) fn new(genesis: [Hash; GENESIS_ENTRY_POINTS]) -> Self {
        let mut entry_points = HashMap::new();
        for id in genesis {
            entry_points.insert(id, 0);
        }
        Store {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            entry_points,
            genesis,
            unconfirmed: BTreeMap::new(),
            next_arrival: 0,
        }
    }

    /// Solid transactions stored.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// Solid entry points.
    pub(super) fn entry_point_count(&self) -> usize {
        self.entry_points.len()
    }

    /// The genesis entry points.
    pub(super) fn genesis(&self) -> &[Hash; GENESIS_ENTRY_POINTS] {
        &self.genesis
    }

    /// The height of the entry point `id`.
    pub(super) fn entry_point(&self, id: &Hash) -> Option<u64> {
        self.entry_points.get(id).copied()
    }

    /// All entry points (no particular order).
    pub(super) fn entry_points(&self) -> impl Iterator<Item = (&Hash, &u64)> {
        self.entry_points.iter()
    }

    /// The stored record of `id`.
    pub(super) fn record(&self, id: &Hash) -> Option<&Record> {
        let slot = *self.index.get(id)?;
        self.slots[slot as usize].as_ref()
    }

    /// The slot of the stored `id`.
    pub(super) fn slot_of(&self, id: &Hash) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The record in a live `slot`.
    pub(super) fn slot(&self, slot: u32) -> &Record {
        self.slots[slot as usize].as_ref().expect("live slot")
    }

    /// Number of slots, live or free (slot numbers are below it).
    pub(super) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Live records with their slots, in slot order.
    pub(super) fn records(&self) -> impl Iterator<Item = (u32, &Record)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| slot.as_ref().map(|r| (i as u32, r)))
    }

    /// Whether `id` is stored or an entry point.
    pub(super) fn known(&self, id: &Hash) -> bool {
        self.index.contains_key(id) || self.entry_points.contains_key(id)
    }

    /// Where `id` stands if it is stored or an entry point.
    pub(super) fn status(&self, id: &Hash) -> Option<TxStatus> {
        if let Some(r) = self.record(id) {
            return Some(if r.confirmed > 0 {
                TxStatus::Confirmed {
                    height: r.confirmed,
                }
            } else {
                TxStatus::Solid
            });
        }
        self.entry_points
            .get(id)
            .map(|&height| TxStatus::EntryPoint { height })
    }

    /// Ids approving `id` directly (stored ones), in attach order.
    pub(super) fn approvers(&self, id: &Hash) -> Vec<Hash> {
        self.record(id)
            .map(|r| {
                r.approvers
                    .iter()
                    .filter_map(|s| self.slots[*s as usize].as_ref().map(|a| a.id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a stored transaction approves `record`.
    pub(super) fn is_approved(&self, record: &Record) -> bool {
        record
            .approvers
            .iter()
            .any(|a| self.slots[*a as usize].is_some())
    }

    /// Unconfirmed stored transactions, oldest arrival first: (arrival key,
    /// id, arrival time).
    pub(super) fn unconfirmed(&self) -> impl Iterator<Item = (u64, &Hash, u64)> {
        self.unconfirmed
            .iter()
            .map(|(arrival, (id, added))| (*arrival, id, *added))
    }

    /// Drop an arrival from the unconfirmed list (the transaction stays
    /// stored).
    pub(super) fn forget_arrival(&mut self, arrival: u64) {
        self.unconfirmed.remove(&arrival);
    }

    /// Root snapshot indexes a transaction with these parents gets.
    pub(super) fn roots_of(&self, parents: &[Hash]) -> (u64, u64) {
        let mut oldest = u64::MAX;
        let mut youngest = 0;
        for parent in parents {
            let (o, y) = if let Some(&height) = self.entry_points.get(parent) {
                (height, height)
            } else if let Some(r) = self.record(parent) {
                r.roots()
            } else {
                (0, 0)
            };
            oldest = oldest.min(o);
            youngest = youngest.max(y);
        }
        (oldest, youngest)
    }

    /// Store a solid transaction (every parent known), with root indexes
    /// `roots`, arrived at `now_ms`, and add its approver edges.
    pub(super) fn insert(
        &mut self,
        id: Hash,
        tx: &DagTransaction,
        roots: (u64, u64),
        now_ms: u64,
        journal: &mut Journal,
    ) {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                u32::try_from(self.slots.len() - 1).expect("store below 2^32 slots")
            }
        };
        for parent in &tx.parents {
            if let Some(&p) = self.index.get(parent) {
                self.slots[p as usize]
                    .as_mut()
                    .expect("indexed slot holds a record")
                    .approvers
                    .push(slot);
            }
        }
        self.index.insert(id, slot);
        let record = Record {
            id,
            encoded: tx.encode().into_boxed_slice(),
            approvers: Vec::new(),
            confirmed: 0,
            position: 0,
            omrsi: roots.0,
            ymrsi: roots.1,
            arrival: self.next_arrival,
        };
        self.unconfirmed.insert(self.next_arrival, (id, now_ms));
        self.next_arrival += 1;
        journal.put_record(&record);
        self.slots[slot as usize] = Some(record);
    }

    /// Mark the unconfirmed `slot` confirmed at `height`, at `position` of
    /// the anchor's order.
    pub(super) fn confirm(&mut self, slot: u32, height: u64, position: u32, journal: &mut Journal) {
        let record = self.slots[slot as usize].as_mut().expect("live slot");
        self.unconfirmed.remove(&record.arrival);
        record.confirmed = height;
        record.position = position;
        journal.put_record(record);
    }

    /// Recompute the stored root indexes of `slot` from its parents; returns
    /// the roots that score it now.
    pub(super) fn refresh_roots(&mut self, slot: u32) -> (u64, u64) {
        let parents: Vec<Hash> = self.slot(slot).parents().collect();
        let (omrsi, ymrsi) = self.roots_of(&parents);
        let record = self.slots[slot as usize].as_mut().expect("live slot");
        record.omrsi = omrsi;
        record.ymrsi = ymrsi;
        record.roots()
    }

    /// The oldest root of the unconfirmed stored `slot`, recomputed: the
    /// lowest confirmation height (of a confirmed transaction or an entry
    /// point; 0 for a parent not here) reached from it through unconfirmed
    /// transactions. `memo` keeps results between calls; each record
    /// walked costs one of `budget`, and `None` means it ran out.
    pub(super) fn fresh_oldest_root(
        &self,
        slot: u32,
        memo: &mut HashMap<u32, u64>,
        budget: &mut usize,
    ) -> Option<u64> {
        if let Some(root) = memo.get(&slot) {
            return Some(*root);
        }
        // (slot, next parent, lowest root so far), post-order.
        let mut stack: Vec<(u32, usize, u64)> = vec![(slot, 0, u64::MAX)];
        while let Some(&(current, next, lowest)) = stack.last() {
            let Some(parent) = self.slot(current).parent(next) else {
                stack.pop();
                memo.insert(current, lowest);
                if let Some(top) = stack.last_mut() {
                    top.2 = top.2.min(lowest);
                }
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            let height = if let Some(height) = self.entry_points.get(&parent) {
                *height
            } else if let Some(&p) = self.index.get(&parent) {
                let record = self.slot(p);
                if record.confirmed > 0 {
                    record.confirmed
                } else if let Some(root) = memo.get(&p) {
                    *root
                } else {
                    if *budget == 0 {
                        return None;
                    }
                    *budget -= 1;
                    stack.push((p, 0, u64::MAX));
                    continue;
                }
            } else {
                0
            };
            if let Some(top) = stack.last_mut() {
                top.2 = top.2.min(height);
            }
        }
        memo.get(&slot).copied()
    }

    /// Cumulative approval of `id` (see [`PreConfirmation`]); `None` if it
    /// is neither stored nor an entry point.
    pub(super) fn pre_confirmation(&self, id: &Hash) -> Option<PreConfirmation> {
        if let Some(&height) = self.entry_points.get(id) {
            return Some(PreConfirmation {
                approvers: 0,
                issuers: 0,
                complete: false,
                confirmed_height: Some(height),
            });
        }
        let start = *self.index.get(id)?;
        let record = self.slot(start);
        let mut visited: HashSet<u32> = HashSet::new();
        let mut issuers: HashSet<PublicKey> = HashSet::new();
        let mut queue: VecDeque<u32> = record.approvers.iter().copied().collect();
        let mut complete = true;
        while let Some(slot) = queue.pop_front() {
            let Some(approver) = self.slots[slot as usize].as_ref() else {
                continue;
            };
            if visited.contains(&slot) {
                continue;
            }
            if visited.len() >= PRECONFIRMATION_WALK_MAX {
                complete = false;
                break;
            }
            visited.insert(slot);
            issuers.insert(approver.issuer());
            queue.extend(approver.approvers.iter().copied());
        }
        Some(PreConfirmation {
            approvers: visited.len() as u32,
            issuers: issuers.len() as u32,
            complete,
            confirmed_height: (record.confirmed > 0).then_some(record.confirmed),
        })
    }

    /// Drop every slot marked in `forget` (calling `removed` with its id),
    /// drop edges into them, and make `entry_points` the entry points.
    /// Returns how many transactions were removed.
    pub(super) fn apply_prune(
        &mut self,
        forget: &[bool],
        entry_points: HashMap<Hash, u64>,
        journal: &mut Journal,
        mut removed: impl FnMut(&Hash),
    ) -> usize {
        let mut count = 0;
        for (i, dropped) in forget.iter().enumerate() {
            if !*dropped {
                if let Some(r) = self.slots[i].as_mut() {
                    r.approvers.retain(|a| !forget[*a as usize]);
                }
                continue;
            }
            if let Some(r) = self.slots[i].take() {
                if r.confirmed == 0 {
                    self.unconfirmed.remove(&r.arrival);
                }
                self.index.remove(&r.id);
                removed(&r.id);
                self.free.push(i as u32);
                count += 1;
                journal.delete_record(&r.id);
            }
        }
        if journal.enabled() {
            // Sorted, so that the batch is the same on every run.
            let mut added: Vec<(&Hash, &u64)> = entry_points
                .iter()
                .filter(|(id, _)| !self.entry_points.contains_key(*id))
                .collect();
            added.sort_unstable();
            for (id, height) in added {
                journal.put_entry_point(id, *height);
            }
            let mut gone: Vec<&Hash> = self
                .entry_points
                .keys()
                .filter(|id| !entry_points.contains_key(*id))
                .collect();
            gone.sort_unstable();
            for id in gone {
                journal.delete_entry_point(id);
            }
        }
        self.entry_points = entry_points;
        count
    }

    /// Restore an entry point read from storage.
    pub(super) fn restore_entry_point(&mut self, id: Hash, height: u64) {
        self.entry_points.insert(id, height);
    }

    /// Restore a transaction read from storage; arrival order is not
    /// stored, so unconfirmed ones arrive in restore order at `now_ms`.
    /// Approver edges come from [`Store::restore_edges`].
    pub(super) fn restore_record(&mut self, stored: StoredRecord<'_>, now_ms: u64) {
        let slot = self.slots.len() as u32;
        self.slots.push(Some(Record {
            id: stored.id,
            encoded: stored.encoded.into(),
            approvers: Vec::new(),
            confirmed: stored.confirmed,
            position: stored.position,
            omrsi: stored.omrsi,
            ymrsi: stored.ymrsi,
            arrival: self.next_arrival,
        }));
        if stored.confirmed == 0 {
            self.unconfirmed
                .insert(self.next_arrival, (stored.id, now_ms));
        }
        self.next_arrival += 1;
        self.index.insert(stored.id, slot);
    }

    /// Rebuild every approver edge after a restore, in slot order.
    pub(super) fn restore_edges(&mut self) {
        for slot in 0..self.slots.len() as u32 {
            let parents: Vec<Hash> = self.slot(slot).parents().collect();
            for parent in parents {
                if let Some(&p) = self.index.get(&parent) {
                    self.slots[p as usize]
                        .as_mut()
                        .expect("restored slot")
                        .approvers
                        .push(slot);
                }
            }
        }
    }

    /// Heap and inline bytes held by the slots, records, indexes, entry
    /// points and the arrival list (computed from capacities).
    pub(super) fn memory_bytes(&self) -> usize {
        let record_heap: usize = self
            .slots
            .iter()
            .flatten()
            .map(|r| r.tx_heap_bytes() + r.approvers.capacity() * 4)
            .sum();
        self.slots.capacity() * std::mem::size_of::<Option<Record>>()
            + record_heap
            + self.free.capacity() * 4
            + self.index.allocation_size()
            + self.entry_points.allocation_size()
            + self.unconfirmed.len() * (8 + 32 + 8 + 16)
    }

    /// Checks that need nothing but the counts: O(1).
    pub(super) fn check_bounds(&self) -> Result<(), InvariantViolation> {
        if self.index.len() + self.free.len() != self.slots.len() {
            return Err(violation("live and free slots do not add up to the slots"));
        }
        if self.index.len() > STORE_TRANSACTIONS_MAX.saturating_mul(2) {
            return Err(violation("store far beyond its bound"));
        }
        if self.unconfirmed.len() > self.index.len() {
            return Err(violation(
                "more unconfirmed arrivals than stored transactions",
            ));
        }
        Ok(())
    }

    /// What the store alone guarantees (O(stored transactions + edges)):
    /// the index and the free list describe the slots exactly; approver
    /// edges are exact both ways (every edge joins two stored transactions,
    /// one a parent of the other, and every stored parent lists its stored
    /// children once); every parent of a stored transaction is stored or an
    /// entry point; entry points are disjoint from the store, include
    /// genesis at height 0, and others are above 0; the arrival list names
    /// stored unconfirmed transactions at their own arrival key.
    pub(super) fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.check_bounds()?;
        let mut live = 0usize;
        for (slot, record) in self.records() {
            live += 1;
            if self.index.get(&record.id) != Some(&slot) {
                return Err(violation("a stored transaction is not indexed at its slot"));
            }
            if record.arrival >= self.next_arrival {
                return Err(violation("arrival key not yet handed out"));
            }
            for (i, &a) in record.approvers.iter().enumerate() {
                if record.approvers[..i].contains(&a) {
                    return Err(violation("an approver edge is listed twice"));
                }
                let Some(approver) = self.slots.get(a as usize).and_then(Option::as_ref) else {
                    return Err(violation("an approver edge points at a free slot"));
                };
                if !approver.parents().any(|p| p == record.id) {
                    return Err(violation("an approver does not approve its parent"));
                }
            }
            for parent in record.parents() {
                if let Some(&p) = self.index.get(&parent) {
                    if !self.slot(p).approvers.contains(&slot) {
                        return Err(violation("a stored parent does not list its approver"));
                    }
                } else if !self.entry_points.contains_key(&parent) {
                    return Err(violation("a stored transaction has an unknown parent"));
                }
            }
        }
        if live != self.index.len() {
            return Err(violation("index and live slots differ"));
        }
        let mut free: HashSet<u32> = HashSet::with_capacity(self.free.len());
        for &slot in &self.free {
            if !free.insert(slot) || self.slots.get(slot as usize).is_none_or(Option::is_some) {
                return Err(violation("the free list names a live or unknown slot"));
            }
        }
        for id in &self.genesis {
            if self.entry_points.get(id) != Some(&0) {
                return Err(violation("a genesis entry point is missing"));
            }
        }
        for (id, height) in &self.entry_points {
            if self.index.contains_key(id) {
                return Err(violation("an entry point is also stored"));
            }
            if *height == 0 && !self.genesis.contains(id) {
                return Err(violation("an entry point other than genesis at height 0"));
            }
        }
        for (arrival, (id, _)) in &self.unconfirmed {
            match self.record(id) {
                Some(r) if r.confirmed == 0 && r.arrival == *arrival => {}
                Some(_) => {
                    return Err(violation(
                        "the arrival list names a confirmed transaction or the wrong key",
                    ))
                }
                None => return Err(violation("the arrival list names a transaction not stored")),
            }
        }
        Ok(())
    }

    /// The highest height any stored transaction or entry point was
    /// confirmed at.
    pub(super) fn highest_confirmation(&self) -> u64 {
        let records = self.records().map(|(_, r)| r.confirmed).max().unwrap_or(0);
        let points = self.entry_points.values().copied().max().unwrap_or(0);
        records.max(points)
    }

    /// Test support: corrupt the store so that one approver edge dangles.
    #[cfg(test)]
    pub(super) fn corrupt_edge(&mut self) -> bool {
        let Some(record) = self.slots.iter_mut().flatten().next() else {
            return false;
        };
        record.approvers.push(u32::MAX);
        true
    }

    /// Test support: forget one arrival key's record (store the arrival of a
    /// confirmed one).
    #[cfg(test)]
    pub(super) fn corrupt_arrival(&mut self, id: Hash) {
        self.unconfirmed.insert(u64::MAX - 1, (id, 0));
    }
}
