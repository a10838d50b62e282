//! The solidifier: transactions waiting for missing parents, what each
//! missing parent holds up, and the request table (gossip-driven requests
//! that age out, anchor-driven ones with reserved room), with the queues
//! [`super::Tangle::poll_request`] drains.
//!
//! Whether an id is known (stored or an entry point) is the store's
//! business: the methods that need it take it as an argument.

use hashbrown::{HashMap, HashSet};
use itc_core::hash::Hash;
use std::collections::{BTreeMap, VecDeque};

use super::{InvariantViolation, TanglePart};
use super::{
    GOSSIP_REQUESTS_MAX, GOSSIP_REQUEST_TTL_MS, MISSING_WALK_MAX, REQUESTS_MAX,
    SOLIDIFICATION_BUFFER_MAX,
};
use crate::transaction::{DagPayload, DagTransaction};

fn violation(what: &'static str) -> InvariantViolation {
    InvariantViolation::new(TanglePart::Solidifier, what)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RequestKind {
    /// Wanted to solidify gossip: full rate-based difficulty applies. Ages
    /// out [`GOSSIP_REQUEST_TTL_MS`] after `since_ms`.
    Gossip {
        /// When it was requested.
        since_ms: u64,
    },
    /// Wanted to confirm an anchor: only the base difficulty applies, so all
    /// validators can complete the cone whatever traffic they saw.
    Anchor,
}

#[derive(Clone, Debug)]
struct Pending {
    tx: DagTransaction,
    /// Parents this transaction is listed under in `waiting`.
    missing: u8,
    order: u64,
}

/// Waiting transactions and parent requests.
#[derive(Debug, Default)]
pub(super) struct Solidifier {
    pending: HashMap<Hash, Pending>,
    pending_order: BTreeMap<u64, Hash>,
    next_pending_order: u64,
    /// Missing parent -> the waiting transactions it holds up.
    waiting: HashMap<Hash, Vec<Hash>>,
    requested: HashMap<Hash, RequestKind>,
    /// Gossip-driven requests in request order, for ageing out (entries
    /// whose request is gone or was upgraded are skipped).
    gossip_requests: VecDeque<(u64, Hash)>,
    /// Outstanding anchor-driven requests (at most [`REQUESTS_MAX`]).
    anchor_request_count: usize,
    outbox: VecDeque<Hash>,
    /// Requests an anchor needs, sent before any gossip request.
    anchor_outbox: VecDeque<Hash>,
}

impl Solidifier {
    /// Transactions waiting for parents.
    pub(super) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether `id` waits for parents.
    pub(super) fn contains(&self, id: &Hash) -> bool {
        self.pending.contains_key(id)
    }

    /// Whether `id` is requested for an anchor (so only the base difficulty
    /// applies to it).
    pub(super) fn is_anchor_request(&self, id: &Hash) -> bool {
        self.requested.get(id) == Some(&RequestKind::Anchor)
    }

    /// The next id to request from peers (see [`super::Tangle::poll_request`]).
    pub(super) fn poll_request(&mut self) -> Option<Hash> {
        // Answered, cancelled or aged-out requests are skipped; a gossip
        // request upgraded for an anchor leaves from the anchor queue.
        while let Some(id) = self.anchor_outbox.pop_front() {
            if self.requested.get(&id) == Some(&RequestKind::Anchor) {
                return Some(id);
            }
        }
        while let Some(id) = self.outbox.pop_front() {
            if matches!(self.requested.get(&id), Some(RequestKind::Gossip { .. })) {
                return Some(id);
            }
        }
        None
    }

    /// All ids currently wanted, sorted.
    pub(super) fn wanted(&self) -> Vec<Hash> {
        let mut ids: Vec<Hash> = self.requested.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Forget the request for `id` (answered, or no longer needed).
    pub(super) fn unrequest(&mut self, id: &Hash) -> Option<RequestKind> {
        let kind = self.requested.remove(id)?;
        if kind == RequestKind::Anchor {
            self.anchor_request_count -= 1;
        }
        Some(kind)
    }

    fn gossip_request_count(&self) -> usize {
        self.requested.len() - self.anchor_request_count
    }

    /// Most gossip requests the table takes now: [`GOSSIP_REQUESTS_MAX`],
    /// less whatever anchor requests hold beyond their reserve, so the
    /// table never exceeds [`REQUESTS_MAX`].
    fn gossip_request_room(&self) -> usize {
        GOSSIP_REQUESTS_MAX.min(REQUESTS_MAX.saturating_sub(self.anchor_request_count))
    }

    /// Forget gossip-driven requests older than [`GOSSIP_REQUEST_TTL_MS`]
    /// at `now_ms`, and (with `room_for_one`) the oldest one while the
    /// gossip share of the table is full.
    fn age_gossip_requests(&mut self, now_ms: u64, room_for_one: bool) {
        while let Some(&(since_ms, id)) = self.gossip_requests.front() {
            let live = self.requested.get(&id) == Some(&RequestKind::Gossip { since_ms });
            let full = room_for_one && self.gossip_request_count() >= self.gossip_request_room();
            if live && !full && now_ms.saturating_sub(since_ms) < GOSSIP_REQUEST_TTL_MS {
                break;
            }
            self.gossip_requests.pop_front();
            if live {
                self.requested.remove(&id);
            }
        }
        if self.gossip_requests.len() > 2 * REQUESTS_MAX {
            let requested = &self.requested;
            self.gossip_requests.retain(|(since_ms, id)| {
                requested.get(id)
                    == Some(&RequestKind::Gossip {
                        since_ms: *since_ms,
                    })
            });
        }
    }

    /// Request `id` (not `known` to the store) to complete an anchor's
    /// cone: it gets room gossip cannot take (evicting the oldest gossip
    /// request if need be), and is sent before gossip requests. Asked again
    /// if it was asked before.
    pub(super) fn request_anchor(&mut self, id: Hash, known: bool) {
        if known || self.pending.contains_key(&id) {
            return;
        }
        match self.requested.get(&id) {
            Some(RequestKind::Anchor) => {}
            Some(RequestKind::Gossip { .. }) => {
                self.requested.insert(id, RequestKind::Anchor);
                self.anchor_request_count += 1;
            }
            None => {
                if self.anchor_request_count >= REQUESTS_MAX {
                    return;
                }
                // Only gossip can be in the way: drop its oldest until
                // there is room (every live gossip request is queued).
                while self.requested.len() >= REQUESTS_MAX {
                    let Some((since_ms, old)) = self.gossip_requests.pop_front() else {
                        break;
                    };
                    if self.requested.get(&old) == Some(&RequestKind::Gossip { since_ms }) {
                        self.requested.remove(&old);
                    }
                }
                if self.requested.len() >= REQUESTS_MAX {
                    return;
                }
                self.requested.insert(id, RequestKind::Anchor);
                self.anchor_request_count += 1;
            }
        }
        if !self.anchor_outbox.contains(&id) {
            if self.anchor_outbox.len() >= REQUESTS_MAX {
                self.anchor_outbox.pop_front();
            }
            self.anchor_outbox.push_back(id);
        }
    }

    /// Request `id` (not `known` to the store), a missing parent of
    /// gossip, at `now_ms`.
    fn request_gossip(&mut self, id: Hash, known: bool, now_ms: u64) {
        if known || self.requested.contains_key(&id) || self.pending.contains_key(&id) {
            return;
        }
        self.age_gossip_requests(now_ms, true);
        if self.gossip_request_count() >= self.gossip_request_room() {
            return;
        }
        let kind = RequestKind::Gossip { since_ms: now_ms };
        self.requested.insert(id, kind);
        self.gossip_requests.push_back((now_ms, id));
        if self.outbox.len() >= GOSSIP_REQUESTS_MAX {
            self.outbox.pop_front();
        }
        self.outbox.push_back(id);
    }

    /// Make the anchor-driven requests exactly those for `needed` (sorted,
    /// without duplicates; see [`super::Tangle::confirm`]). Every other
    /// anchor request is cancelled, so proposals that are never checked
    /// again cannot fill the table, and the anchor being checked always
    /// gets the room (gossip is evicted for it).
    pub(super) fn scope_anchor_requests(&mut self, needed: &[Hash], known: impl Fn(&Hash) -> bool) {
        let kept = needed
            .iter()
            .filter(|id| self.requested.get(*id) == Some(&RequestKind::Anchor))
            .count();
        if kept < self.anchor_request_count {
            let keep: HashSet<Hash> = needed.iter().copied().collect();
            self.requested
                .retain(|id, kind| *kind != RequestKind::Anchor || keep.contains(id));
            self.anchor_request_count = kept;
            let requested = &self.requested;
            self.anchor_outbox
                .retain(|id| requested.get(id) == Some(&RequestKind::Anchor));
        }
        for id in needed {
            self.request_anchor(*id, known(id));
        }
    }

    /// Buffer the valid `tx` (id `id`) until its `missing` parents (none
    /// known to the store) arrive, and request them: at base difficulty if
    /// `relaxed` (an anchor needs it), as gossip at `now_ms` otherwise. The
    /// oldest waiting transaction makes room if the buffer is full.
    pub(super) fn buffer(
        &mut self,
        id: Hash,
        tx: DagTransaction,
        missing: &[Hash],
        relaxed: bool,
        now_ms: u64,
    ) {
        if self.pending.len() >= SOLIDIFICATION_BUFFER_MAX {
            let oldest = *self
                .pending_order
                .first_key_value()
                .expect("buffer is full")
                .1;
            self.evict(&oldest);
        }
        for parent in missing {
            self.waiting.entry(*parent).or_default().push(id);
            if relaxed {
                self.request_anchor(*parent, false);
            } else {
                self.request_gossip(*parent, false, now_ms);
            }
        }
        let order = self.next_pending_order;
        self.next_pending_order += 1;
        self.pending_order.insert(order, id);
        self.pending.insert(
            id,
            Pending {
                tx,
                missing: missing.len() as u8,
                order,
            },
        );
    }

    fn evict(&mut self, id: &Hash) {
        let Some(pending) = self.pending.remove(id) else {
            return;
        };
        self.pending_order.remove(&pending.order);
        for parent in &pending.tx.parents {
            if let Some(children) = self.waiting.get_mut(parent) {
                children.retain(|c| c != id);
                if children.is_empty() {
                    self.waiting.remove(parent);
                    self.unrequest(parent);
                }
            }
        }
    }

    /// `id` was just stored: every waiting transaction it completes is
    /// pushed on `ready` (id and transaction) after leaving the buffer. A
    /// parent `known` when a child arrived may have been pruned since: the
    /// child then waits (and asks at `now_ms`) for it again, never becoming
    /// solid on an unknown parent.
    pub(super) fn arrived(
        &mut self,
        id: &Hash,
        now_ms: u64,
        known: impl Fn(&Hash) -> bool,
        ready: &mut Vec<(Hash, DagTransaction)>,
    ) {
        let Some(children) = self.waiting.remove(id) else {
            return;
        };
        for child in children {
            let complete = match self.pending.get_mut(&child) {
                Some(p) => {
                    p.missing = p.missing.saturating_sub(1);
                    p.missing == 0
                }
                None => false,
            };
            if !complete {
                continue;
            }
            let gone: Vec<Hash> = self.pending[&child]
                .tx
                .parents
                .iter()
                .filter(|p| !known(p))
                .copied()
                .collect();
            if !gone.is_empty() {
                if let Some(p) = self.pending.get_mut(&child) {
                    p.missing = gone.len() as u8;
                }
                for parent in gone {
                    self.waiting.entry(parent).or_default().push(child);
                    self.request_gossip(parent, false, now_ms);
                }
                continue;
            }
            let p = self.pending.remove(&child).expect("checked above");
            self.pending_order.remove(&p.order);
            ready.push((child, p.tx));
        }
    }

    /// The ids an anchor whose unknown tips are `unknown_tips` still
    /// misses: those tips and the unknown ancestors reached through waiting
    /// transactions (sorted, without duplicates; the walk stops after
    /// [`MISSING_WALK_MAX`] ids).
    pub(super) fn missing_cone(
        &self,
        unknown_tips: Vec<Hash>,
        known: impl Fn(&Hash) -> bool,
    ) -> Vec<Hash> {
        let mut missing = Vec::new();
        let mut seen: HashSet<Hash> = HashSet::new();
        let mut stack = unknown_tips;
        while let Some(id) = stack.pop() {
            if seen.len() >= MISSING_WALK_MAX {
                break;
            }
            if !seen.insert(id) {
                continue;
            }
            match self.pending.get(&id) {
                Some(p) => stack.extend(p.tx.parents.iter().filter(|x| !known(x))),
                None => missing.push(id),
            }
        }
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// Heap bytes of the buffer, the waiting lists and the request table
    /// and queues (computed from capacities).
    pub(super) fn memory_bytes(&self) -> usize {
        let pending_heap: usize = self
            .pending
            .values()
            .map(|p| p.tx.parents.capacity() * 32 + payload_heap(&p.tx.payload))
            .sum();
        self.pending.allocation_size()
            + pending_heap
            + self.pending_order.len() * 64
            + self.waiting.allocation_size()
            + self
                .waiting
                .values()
                .map(|w| w.capacity() * 32)
                .sum::<usize>()
            + self.requested.allocation_size()
            + self.outbox.capacity() * 32
            + self.anchor_outbox.capacity() * 32
            + self.gossip_requests.capacity() * 40
    }

    /// Checks that need nothing but the counts: O(1).
    pub(super) fn check_bounds(&self) -> Result<(), InvariantViolation> {
        if self.pending.len() > SOLIDIFICATION_BUFFER_MAX {
            return Err(violation("buffer beyond its bound"));
        }
        if self.pending_order.len() != self.pending.len() {
            return Err(violation("buffer order and buffer differ in size"));
        }
        if self.requested.len() > REQUESTS_MAX {
            return Err(violation("request table beyond its bound"));
        }
        if self.anchor_request_count > self.requested.len() {
            return Err(violation("more anchor requests counted than requests"));
        }
        if self.gossip_request_count() > GOSSIP_REQUESTS_MAX {
            return Err(violation("gossip requests beyond their bound"));
        }
        if self.outbox.len() > GOSSIP_REQUESTS_MAX || self.anchor_outbox.len() > REQUESTS_MAX {
            return Err(violation("request queue beyond its bound"));
        }
        if self.gossip_requests.len() > 2 * REQUESTS_MAX + 1 {
            return Err(violation("gossip request queue beyond its bound"));
        }
        Ok(())
    }

    /// What the solidifier alone guarantees, given what the store `known`s
    /// (O(buffer + requests)): the buffer and its order agree; each waiting
    /// transaction is listed under exactly `missing` parents, none of them
    /// known, and every listed transaction waits; the anchor request count
    /// is exact; no request is for a known or waiting id; every gossip
    /// request is for a parent something waits on, and is queued for
    /// ageing.
    pub(super) fn check_invariants(
        &self,
        known: impl Fn(&Hash) -> bool,
    ) -> Result<(), InvariantViolation> {
        self.check_bounds()?;
        for (order, id) in &self.pending_order {
            match self.pending.get(id) {
                Some(p) if p.order == *order => {}
                _ => return Err(violation("buffer order names a transaction not waiting")),
            }
            if *order >= self.next_pending_order {
                return Err(violation("buffer order key not yet handed out"));
            }
        }
        let mut listed: HashMap<Hash, usize> = HashMap::with_capacity(self.pending.len());
        for (parent, children) in &self.waiting {
            if children.is_empty() {
                return Err(violation("an empty waiting list is kept"));
            }
            if known(parent) {
                return Err(violation("a known id is still waited for"));
            }
            for child in children {
                let Some(p) = self.pending.get(child) else {
                    return Err(violation("a waiting list names a transaction not waiting"));
                };
                if !p.tx.parents.contains(parent) {
                    return Err(violation(
                        "a transaction waits for an id it does not approve",
                    ));
                }
                *listed.entry(*child).or_default() += 1;
            }
        }
        for (id, p) in &self.pending {
            if known(id) {
                return Err(violation("a waiting transaction is also known"));
            }
            if p.missing == 0 || listed.get(id).copied().unwrap_or(0) != usize::from(p.missing) {
                return Err(violation(
                    "missing-parent count differs from the waiting lists",
                ));
            }
        }
        let anchors = self
            .requested
            .values()
            .filter(|k| **k == RequestKind::Anchor)
            .count();
        if anchors != self.anchor_request_count {
            return Err(violation("anchor request count is not exact"));
        }
        let queued: HashSet<(u64, Hash)> = self.gossip_requests.iter().copied().collect();
        for (id, kind) in &self.requested {
            if known(id) || self.pending.contains_key(id) {
                return Err(violation("a known or waiting id is requested"));
            }
            if let RequestKind::Gossip { since_ms } = kind {
                if !self.waiting.contains_key(id) {
                    return Err(violation("a gossip request nothing waits for"));
                }
                if !queued.contains(&(*since_ms, *id)) {
                    return Err(violation("a gossip request is not queued for ageing"));
                }
            }
        }
        Ok(())
    }

    /// Test support: make one waiting transaction's count disagree.
    #[cfg(test)]
    pub(super) fn corrupt_missing(&mut self) -> bool {
        let Some(p) = self.pending.values_mut().next() else {
            return false;
        };
        p.missing = p.missing.wrapping_add(1);
        true
    }
}

fn payload_heap(payload: &DagPayload) -> usize {
    match payload {
        DagPayload::Data { record } => record.capacity(),
        DagPayload::Command { command, .. } => command.capacity(),
        DagPayload::Transfer { .. } => 0,
        DagPayload::Sealed { payload } => {
            payload.ciphertext.capacity()
                + payload
                    .recipients
                    .iter()
                    .map(|r| core::mem::size_of_val(r) + r.encapsulated_key.capacity())
                    .sum::<usize>()
        }
    }
}
