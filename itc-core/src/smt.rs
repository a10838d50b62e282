//! Sparse Merkle tree over the ledger state, with compressed membership and
//! non-membership proofs.
//!
//! # The tree
//! Conceptually a binary tree of depth 256 indexed by the bits of a 32-byte
//! key (bit 0 is the most significant bit of byte 0; `0` goes left). Its
//! hash has one canonical shape, so the root depends only on the set of
//! `(key, value hash)` pairs, never on the order of updates:
//!
//! * an empty subtree hashes to [`Hash::ZERO`];
//! * a subtree holding exactly one entry is that entry's leaf,
//!   [`leaf_hash`]`(key, value_hash)`, whatever its depth;
//! * a subtree holding two or more entries is
//!   [`node_hash`]`(left, right)` of its two halves (one of which may be
//!   empty).
//!
//! Keys are already hashed state keys ([`Domain::StateKey`]) and values are
//! represented by their hash ([`Domain::StateValue`]); computing both is the
//! caller's job.
//!
//! # The implementation
//! [`SparseMerkleTree`] keeps a path-compressed binary trie in arenas
//! (`u32` indices, free lists). A branch exists only where two keys first
//! differ, so `n` entries use `n` leaves and `n - 1` branches. Each branch
//! stores the hashes of its two children as seen from it (a child branch's
//! hash is extended over the levels its edge skips, where the other side is
//! empty). An update refreshes its leaf's slot and marks the slots on its
//! path stale; [`SparseMerkleTree::root`] recomputes only stale slots, so a
//! block of updates costs about one hash per distinct changed branch (plus
//! one per level a changed edge skips) and touches about one cache line each.
//! The trie structure that lookups walk (12 bytes a branch) is kept apart
//! from the hashes so that it stays cache-resident.
//!
//! # Proofs
//! A [`StateProof`] names the *terminal* at the end of the key's path (an
//! empty subtree, the key's own leaf, or another key's leaf) and the sibling
//! hashes from the terminal up to the root. Empty siblings are left out and
//! marked in a bitmap, so a proof carries about `log2(n)` hashes.
//! [`StateProof::verify`] allocates nothing and needs no `std`.
//!
//! ```
//! use itc_core::hash::{Domain, Hash};
//! use itc_core::smt::SparseMerkleTree;
//! let key = |s: &str| Hash::of(Domain::StateKey, s.as_bytes());
//! let value = |s: &str| Hash::of(Domain::StateValue, s.as_bytes());
//!
//! let mut tree = SparseMerkleTree::new();
//! tree.insert(key("alice"), value("100"));
//! tree.insert(key("bob"), value("7"));
//! let root = tree.root();
//!
//! let proof = tree.prove(&key("alice"));
//! assert!(proof.verify(&root, &key("alice"), Some(&value("100"))).is_ok());
//! assert!(proof.verify(&root, &key("alice"), Some(&value("5"))).is_err());
//!
//! let absent = tree.prove(&key("carol"));
//! assert!(absent.verify(&root, &key("carol"), None).is_ok());
//! ```

use crate::encoding::{Decode, DecodeError, Encode, Reader};
use crate::hash::{hash_each, hash_pairs, Domain, Hash, HASH_LEN};
use alloc::vec::Vec;
use core::fmt;

/// Depth of the tree: the number of bits in a key, and the most siblings a
/// proof can have.
pub const SMT_DEPTH_MAX: usize = HASH_LEN * 8;

/// Bytes of a full sibling bitmap.
const BITMAP_LEN: usize = SMT_DEPTH_MAX / 8;

const _: () = assert!(SMT_DEPTH_MAX == 256);
const _: () = assert!(SMT_DEPTH_MAX <= u16::MAX as usize);

/// Hash of the leaf for one entry.
#[inline]
pub fn leaf_hash(key: &Hash, value_hash: &Hash) -> Hash {
    Hash::of_parts(Domain::StateLeaf, &[&key.0, &value_hash.0])
}

/// [`leaf_hash`] of each `(key, value hash)`, appended to `out`, hashed
/// side by side.
fn leaf_hashes<'a>(entries: impl Iterator<Item = (&'a Hash, &'a Hash)>, out: &mut Vec<Hash>) {
    let inputs: Vec<[&[u8]; 2]> = entries
        .map(|(key, value_hash)| [&key.0[..], &value_hash.0[..]])
        .collect();
    hash_each(Domain::StateLeaf, &inputs, out);
}

/// Hash of an inner node from its two halves.
#[inline]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Hash::of_parts(Domain::StateNode, &[&left.0, &right.0])
}

/// The first bit index at which `a` and `b` differ, if any.
#[inline]
fn first_difference(a: &Hash, b: &Hash) -> Option<usize> {
    for (i, (x, y)) in a.0.chunks_exact(8).zip(b.0.chunks_exact(8)).enumerate() {
        let x = u64::from_be_bytes(x.try_into().expect("chunk of 8"));
        let y = u64::from_be_bytes(y.try_into().expect("chunk of 8"));
        if x != y {
            return Some(i * 64 + (x ^ y).leading_zeros() as usize);
        }
    }
    None
}

/// Whether `a` and `b` agree on their first `length` bits.
#[inline]
fn shares_prefix(a: &Hash, b: &Hash, length: usize) -> bool {
    first_difference(a, b).is_none_or(|d| d >= length)
}

/// The child a key takes at a branch on `bit`: 0 left, 1 right.
#[inline]
fn direction(key: &Hash, bit: usize) -> usize {
    usize::from(key.bit(bit))
}

/// Hash `hash` of a subtree whose root sits at depth `to` up to depth
/// `from`, through the levels where the other side is empty. `key` is any key
/// inside the subtree; its bits say on which side the subtree lies.
#[inline]
fn extend(mut hash: Hash, key: &Hash, from: usize, to: usize) -> Hash {
    for depth in (from..to).rev() {
        hash = if key.bit(depth) {
            node_hash(&Hash::ZERO, &hash)
        } else {
            node_hash(&hash, &Hash::ZERO)
        };
    }
    hash
}

/// Ask the CPU to bring `item` into cache without waiting for it: unlike a
/// load, a prefetch holds up nothing that follows, so a walk can issue the
/// misses the next steps will take and move on. A no-op off x86_64.
///
/// The crate's one `unsafe` block (the workspace denies `unsafe_code`):
/// the intrinsic takes a raw pointer and needs a target feature.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has (it is
    // in the target's baseline features). It does not dereference its
    // pointer: a prefetch is a hint that never faults, reads nothing into
    // the program and writes nothing; and the pointer comes from a live
    // reference anyway.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (item as *const T).cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// How many groups of [`BATCH_LANES`] keys [`SparseMerkleTree::update_batch`]
/// applies before it rehashes the subtrees it has moved past: often enough
/// that their nodes are still cached, seldom enough that each level of a
/// rehash fills the hashing lanes. Tuned on a million-entry tree.
const SETTLE_CHUNKS: usize = 8;

/// Most branches of one level [`SparseMerkleTree::refresh_many`] hashes in
/// one go (its scratch memory is a few hundred bytes a branch).
const LEVEL_SLICE: usize = 4096;

/// How many keys [`SparseMerkleTree::update_batch`] locates side by side.
const BATCH_LANES: usize = 64;

/// Tag bit of a [`NodeRef`] that points into the leaf arena.
const LEAF_TAG: u32 = 1 << 31;

/// Most entries (and so leaves, and branches) the arenas can index.
const ARENA_INDEX_MAX: usize = LEAF_TAG as usize;

/// A reference to a leaf or a branch: an arena index, tagged.
#[derive(Clone, Copy, PartialEq, Eq)]
struct NodeRef(u32);

/// A decoded [`NodeRef`].
enum Node {
    Leaf(usize),
    Branch(usize),
}

impl NodeRef {
    fn leaf(index: usize) -> Self {
        debug_assert!(index < ARENA_INDEX_MAX);
        NodeRef(index as u32 | LEAF_TAG)
    }

    fn branch(index: usize) -> Self {
        debug_assert!(index < ARENA_INDEX_MAX);
        NodeRef(index as u32)
    }

    #[inline]
    fn get(self) -> Node {
        if self.0 & LEAF_TAG != 0 {
            Node::Leaf((self.0 & !LEAF_TAG) as usize)
        } else {
            Node::Branch(self.0 as usize)
        }
    }
}

/// One entry: exactly one cache line.
#[derive(Clone)]
#[repr(align(64))]
struct Leaf {
    key: Hash,
    value_hash: Hash,
}

/// A point where keys split: every key below shares the first `bit` bits,
/// and `children[b]` holds those whose bit `bit` is `b`. Both children are
/// non-empty.
///
/// This is the part every lookup walks, so it is kept small (12 bytes); the
/// hashes live apart in [`ChildHashes`].
#[derive(Clone)]
struct Branch {
    children: [NodeRef; 2],
    bit: u8,
    /// Bit `side` set: the child on `side` is a branch whose hash in
    /// [`ChildHashes`] is out of date. A branch with a stale slot is itself
    /// stale in its parent (or the root is stale).
    stale: u8,
}

/// The hashes of a branch's two children, each as seen from the branch
/// (depth `bit + 1`): exactly one cache line.
///
/// A leaf child's slot is always current. A branch child's slot is current
/// unless marked stale in [`Branch`]; [`SparseMerkleTree::root`] refreshes
/// those.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct ChildHashes([Hash; 2]);

/// A sparse Merkle tree of `key -> value hash` entries.
///
/// Memory per entry is a 64-byte leaf, a 12-byte branch and its 64 bytes of
/// child hashes, plus arena slack ([`SparseMerkleTree::heap_bytes`]; itc-bench
/// reports it as `smt_bytes_per_key`).
///
/// # Panics
/// Inserting more than 2^31 entries panics.
#[derive(Clone, Default)]
pub struct SparseMerkleTree {
    leaves: Vec<Leaf>,
    branches: Vec<Branch>,
    /// `child_hashes[i]` belongs to `branches[i]`.
    child_hashes: Vec<ChildHashes>,
    free_leaves: Vec<u32>,
    free_branches: Vec<u32>,
    root: Option<NodeRef>,
    /// The root hash when the root is a branch and `root_stale` is false.
    root_hash: Hash,
    /// Whether some cached hash must be recomputed by `root()`.
    root_stale: bool,
    len: usize,
    /// How many times `settle_before` rehashed something (tests only).
    #[cfg(test)]
    settled: usize,
}

impl fmt::Debug for SparseMerkleTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SparseMerkleTree")
            .field("len", &self.len)
            .field("heap_bytes", &self.heap_bytes())
            .finish_non_exhaustive()
    }
}

/// A child slot: a branch index and a side (0 left, 1 right).
type Slot = (usize, usize);

/// [`Pending::parent`] of a branch that [`SparseMerkleTree::refresh_many`]
/// was asked to refresh.
const NO_PARENT: u32 = u32::MAX;

/// [`Pending::inside`] while no leaf of the subtree is known.
const NO_LEAF: u32 = u32::MAX;

/// A stale branch that [`SparseMerkleTree::refresh_many`] rehashes.
#[derive(Clone, Copy)]
struct Pending {
    branch: u32,
    /// Its [`Branch::bit`].
    bit: u16,
    /// The depth its parent's children sit at (its hash is wanted there).
    top: u16,
    /// The entry of its parent in the pending list, or [`NO_PARENT`].
    parent: u32,
    /// Its side under its parent.
    side: u8,
    /// A leaf of its subtree (to extend its hash over skipped levels), or
    /// [`NO_LEAF`].
    inside: u32,
}

impl SparseMerkleTree {
    /// An empty tree; its root is [`Hash::ZERO`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tree with room for `entries` entries without reallocating.
    pub fn with_capacity(entries: usize) -> Self {
        let branches = entries.saturating_sub(1);
        SparseMerkleTree {
            leaves: Vec::with_capacity(entries),
            branches: Vec::with_capacity(branches),
            child_hashes: Vec::with_capacity(branches),
            ..Self::default()
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the tree has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap memory held by the tree, in bytes (arena capacity included).
    pub fn heap_bytes(&self) -> usize {
        self.leaves.capacity() * core::mem::size_of::<Leaf>()
            + self.branches.capacity() * core::mem::size_of::<Branch>()
            + self.child_hashes.capacity() * core::mem::size_of::<ChildHashes>()
            + (self.free_leaves.capacity() + self.free_branches.capacity())
                * core::mem::size_of::<u32>()
    }

    /// The value hash stored under `key`.
    pub fn get(&self, key: &Hash) -> Option<Hash> {
        let (index, _) = self.find_leaf(self.root?, key);
        let leaf = &self.leaves[index];
        (leaf.key == *key).then_some(leaf.value_hash)
    }

    /// Set `key` to `value_hash`; returns the previous value hash.
    ///
    /// # Panics
    /// If the tree already holds 2^31 entries.
    pub fn insert(&mut self, key: Hash, value_hash: Hash) -> Option<Hash> {
        self.insert_hashed(key, value_hash, leaf_hash(&key, &value_hash))
    }

    /// [`Self::insert`] with the entry's [`leaf_hash`] computed already.
    fn insert_hashed(&mut self, key: Hash, value_hash: Hash, leaf: Hash) -> Option<Hash> {
        let Some(root) = self.root else {
            self.root = Some(self.allocate_leaf(Leaf { key, value_hash }));
            self.len = 1;
            return None;
        };
        let (found, found_slot) = self.find_leaf(root, &key);
        let existing = &mut self.leaves[found];
        if existing.key == key {
            let old = existing.value_hash;
            if old != value_hash {
                existing.value_hash = value_hash;
                if let Some((parent, side)) = found_slot {
                    self.child_hashes[parent].0[side] = leaf;
                    self.mark_path_stale(&key, NodeRef::leaf(found));
                }
            }
            return Some(old);
        }
        let split = first_difference(&key, &existing.key).expect("distinct keys differ");
        // Walk the path again, marking slots stale, down to the edge the new
        // branch cuts: the first node whose keys all agree past `split`.
        self.root_stale = true;
        let mut slot: Option<Slot> = None;
        let mut current = root;
        while let Node::Branch(index) = current.get() {
            let branch = &mut self.branches[index];
            let bit = branch.bit as usize;
            debug_assert_ne!(bit, split, "key followed the path of a key it differs from");
            if bit > split {
                break;
            }
            let side = direction(&key, bit);
            branch.stale |= 1 << side;
            slot = Some((index, side));
            current = branch.children[side];
        }
        let (current_hash, current_stale) = match (current.get(), slot) {
            (Node::Leaf(_), Some((parent, side))) => (self.child_hashes[parent].0[side], 0),
            (Node::Leaf(index), None) => {
                let leaf = &self.leaves[index];
                (leaf_hash(&leaf.key, &leaf.value_hash), 0)
            }
            // The subtree hangs lower: its hash extends over fewer levels.
            (Node::Branch(_), _) => (Hash::ZERO, 1),
        };
        let new_hash = leaf;
        let new_leaf = self.allocate_leaf(Leaf { key, value_hash });
        let (children, hashes, stale) = if key.bit(split) {
            ([current, new_leaf], [current_hash, new_hash], current_stale)
        } else {
            (
                [new_leaf, current],
                [new_hash, current_hash],
                current_stale << 1,
            )
        };
        let new_branch = self.allocate_branch(
            Branch {
                children,
                bit: split as u8,
                stale,
            },
            ChildHashes(hashes),
        );
        self.set_child(slot, new_branch, Hash::ZERO);
        self.len += 1;
        None
    }

    /// Remove `key`; returns its value hash if it was present.
    pub fn remove(&mut self, key: &Hash) -> Option<Hash> {
        let mut current = self.root?;
        let mut parent: Option<Slot> = None;
        let mut grandparent: Option<Slot> = None;
        let leaf_index = loop {
            match current.get() {
                Node::Leaf(index) => break index,
                Node::Branch(index) => {
                    let branch = &self.branches[index];
                    let side = direction(key, branch.bit as usize);
                    grandparent = parent;
                    parent = Some((index, side));
                    current = branch.children[side];
                }
            }
        };
        if self.leaves[leaf_index].key != *key {
            return None;
        }
        let old = self.leaves[leaf_index].value_hash;
        self.free_leaves.push(leaf_index as u32);
        self.len -= 1;
        match parent {
            None => self.root = None,
            Some((parent_index, side)) => {
                // The parent branch goes; the sibling takes its place.
                let sibling = self.branches[parent_index].children[1 - side];
                let sibling_hash = self.child_hashes[parent_index].0[1 - side];
                self.free_branches.push(parent_index as u32);
                self.set_child(grandparent, sibling, sibling_hash);
                // Marks the sibling's new slot too: if it is a branch, it
                // hangs higher and its hash extends over more levels.
                self.mark_path_stale(key, sibling);
            }
        }
        Some(old)
    }

    /// Apply `updates` in order: `Some(value_hash)` as [`Self::insert`],
    /// `None` as [`Self::remove`]. A key updated several times ends with its
    /// last update, exactly as if the updates were applied one by one (the
    /// root depends only on the final set of entries).
    ///
    /// Faster than one-by-one updates on a large tree: the updates are
    /// applied in key order, so paths shared near the root are walked while
    /// cached; each group of 64 keys is located with interleaved walks, so
    /// that their cache misses overlap instead of following one another,
    /// and values of present keys are changed where the walk found them.
    /// The new leaves' hashes are computed side by side, and each changed
    /// node is rehashed once, level by level: the subtrees the batch has
    /// moved past every 512 keys, while cached, the rest by the next
    /// [`Self::root`].
    ///
    /// # Panics
    /// If the tree would hold more than 2^31 entries.
    pub fn update_batch(&mut self, updates: &[(Hash, Option<Hash>)]) {
        // Key order, the last update of each key winning: a stable sort
        // keeps a key's updates in their order, and only the last is kept.
        let mut sorted: Vec<(Hash, Option<Hash>)> = updates.to_vec();
        sorted.sort_by_key(|(key, _)| *key);
        let mut write = 0;
        for read in 0..sorted.len() {
            if read + 1 < sorted.len() && sorted[read + 1].0 == sorted[read].0 {
                continue;
            }
            sorted[write] = sorted[read];
            write += 1;
        }
        sorted.truncate(write);
        let mut chunks = sorted.chunks(BATCH_LANES).enumerate().peekable();
        let mut found = [(NodeRef(0), None); BATCH_LANES];
        let mut new_leaves = Vec::with_capacity(BATCH_LANES);
        while let Some((done, chunk)) = chunks.next() {
            // Until an entry is added or removed, the located leaves and
            // slots stay valid and value changes are made in place.
            let mut reshaped = !self.locate(chunk, &mut found);
            // The new leaves' hashes, side by side.
            new_leaves.clear();
            leaf_hashes(
                chunk
                    .iter()
                    .filter_map(|(key, value_hash)| value_hash.as_ref().map(|v| (key, v))),
                &mut new_leaves,
            );
            let mut new_leaves = new_leaves.iter();
            for ((key, value_hash), (node, slot)) in chunk.iter().zip(found) {
                let len = self.len;
                match value_hash {
                    Some(value_hash) => {
                        let leaf = *new_leaves.next().expect("one leaf hash a set");
                        if reshaped || !self.update_located(key, value_hash, leaf, node, slot) {
                            self.insert_hashed(*key, *value_hash, leaf);
                        }
                    }
                    None => {
                        self.remove(key);
                    }
                }
                reshaped |= self.len != len;
            }
            if (done + 1) % SETTLE_CHUNKS == 0 {
                if let Some((_, next)) = chunks.peek() {
                    self.settle_before(&next[0].0);
                }
            }
        }
    }

    /// Recompute now the stale subtrees that lie before `key` in key order,
    /// while the updates just applied to them are still cached: the left
    /// children of the branches on `key`'s path where the path goes right.
    /// Later updates of a sorted batch (all at or after `key`) do not reach
    /// them, except where `key` leaves a compressed edge (the walk follows
    /// `key`'s bit at each branch only); such an update marks the slot
    /// stale again, costing only its hashes twice.
    ///
    /// Leaves the tree as [`Self::root`] would find it, only with fewer
    /// stale slots: a settled slot is current, and its branch stays stale
    /// in its parent for its other side.
    fn settle_before(&mut self, key: &Hash) {
        if !self.root_stale {
            return;
        }
        let mut tasks = Vec::new();
        let mut slots = Vec::new();
        let mut current = self.root;
        while let Some(Node::Branch(index)) = current.map(NodeRef::get) {
            let branch = &mut self.branches[index];
            let bit = branch.bit as usize;
            let side = direction(key, bit);
            let children = branch.children;
            if side == 1 && branch.stale & 1 != 0 {
                branch.stale &= !1;
                if let Node::Branch(left) = children[0].get() {
                    tasks.push((left, bit + 1));
                    slots.push(index);
                }
            }
            current = Some(children[side]);
        }
        if tasks.is_empty() {
            return;
        }
        #[cfg(test)]
        {
            self.settled += 1;
        }
        let hashes = self.refresh_many(&tasks);
        for (index, hash) in slots.into_iter().zip(hashes) {
            self.child_hashes[index].0[0] = hash;
        }
    }

    /// Walk the paths of up to `BATCH_LANES` keys side by side, so that the
    /// memory latency of the walks overlaps, and record in `found` the leaf
    /// each path ends at with the slot pointing at it. Marks stale the path
    /// of every key to be set (a no-op update only costs its path's hashes
    /// again), and prefetches the child hashes the next [`Self::root`] will
    /// need and the leaves found. Returns false, locating nothing, on an
    /// empty tree.
    fn locate(
        &mut self,
        keys: &[(Hash, Option<Hash>)],
        found: &mut [(NodeRef, Option<Slot>); BATCH_LANES],
    ) -> bool {
        let Some(root) = self.root else {
            return false;
        };
        let lanes = &mut found[..keys.len().min(BATCH_LANES)];
        lanes.fill((root, None));
        let mut walking = true;
        while walking {
            walking = false;
            for ((node, slot), (key, value_hash)) in lanes.iter_mut().zip(keys) {
                if let Node::Branch(index) = node.get() {
                    let branch = &mut self.branches[index];
                    let side = direction(key, branch.bit as usize);
                    if value_hash.is_some() {
                        branch.stale |= 1 << side;
                        self.root_stale = true;
                    }
                    prefetch(&self.child_hashes[index]);
                    *slot = Some((index, side));
                    *node = branch.children[side];
                    walking = true;
                    // The next round reads the child: start its miss now,
                    // while the other lanes take their step.
                    match node.get() {
                        Node::Branch(child) => prefetch(&self.branches[child]),
                        Node::Leaf(leaf) => prefetch(&self.leaves[leaf]),
                    }
                }
            }
        }
        true
    }

    /// Set `key` to `value_hash` in place if `node`, located by
    /// [`Self::locate`] (which marked the path stale), is `key`'s leaf.
    /// Returns false, changing nothing, if the key is absent.
    fn update_located(
        &mut self,
        key: &Hash,
        value_hash: &Hash,
        leaf_hash: Hash,
        node: NodeRef,
        slot: Option<Slot>,
    ) -> bool {
        let Node::Leaf(index) = node.get() else {
            return false;
        };
        let leaf = &mut self.leaves[index];
        if leaf.key != *key {
            return false;
        }
        if leaf.value_hash != *value_hash {
            leaf.value_hash = *value_hash;
            if let Some((parent, side)) = slot {
                self.child_hashes[parent].0[side] = leaf_hash;
            }
        }
        true
    }

    /// The root hash. Recomputes only the hashes of subtrees that changed
    /// since the last call.
    pub fn root(&mut self) -> Hash {
        match self.root.map(NodeRef::get) {
            None => {
                self.root_stale = false;
                Hash::ZERO
            }
            Some(Node::Leaf(index)) => {
                self.root_stale = false;
                let leaf = &self.leaves[index];
                leaf_hash(&leaf.key, &leaf.value_hash)
            }
            Some(Node::Branch(index)) => {
                if self.root_stale {
                    self.root_hash = self.refresh_many(&[(index, 0)])[0];
                    self.root_stale = false;
                }
                self.root_hash
            }
        }
    }

    /// A proof of `key`'s value, or of its absence, against [`Self::root`].
    pub fn prove(&mut self, key: &Hash) -> StateProof {
        self.root();
        self.prove_fresh(key)
            .expect("root() leaves no stale hashes behind")
    }

    /// Whether every cached hash is current, so [`Self::prove_fresh`] works
    /// without `&mut self`.
    pub fn is_fresh(&self) -> bool {
        !self.root_stale
    }

    /// Like [`Self::prove`] for a shared tree, or `None` if updates since the
    /// last [`Self::root`] left stale hashes.
    pub fn prove_fresh(&self, key: &Hash) -> Option<StateProof> {
        if self.root_stale {
            return None;
        }
        let mut bitmap = [0u8; BITMAP_LEN];
        let mut siblings = Vec::new();
        let mut depth = 0usize;
        let mut current = self.root;
        let terminal = loop {
            let Some(node) = current else {
                break ProofTerminal::Empty;
            };
            match node.get() {
                Node::Leaf(index) => {
                    let leaf = &self.leaves[index];
                    break ProofTerminal::Leaf {
                        key: leaf.key,
                        value_hash: leaf.value_hash,
                    };
                }
                Node::Branch(index) => {
                    let branch = &self.branches[index];
                    let bit = branch.bit as usize;
                    let children = branch.children;
                    let hashes = self.child_hashes[index].0;
                    if depth < bit {
                        // Levels depth..bit have an empty side. If the key
                        // leaves the subtree's common prefix there, its path
                        // ends in that empty side.
                        let inside = &self.leaves[self.leftmost_leaf(node)].key;
                        if let Some(split) = first_difference(key, inside).filter(|&d| d < bit) {
                            debug_assert!(split >= depth);
                            let own = node_hash(&hashes[0], &hashes[1]);
                            set_bit(&mut bitmap, split);
                            siblings.push(extend(own, inside, split + 1, bit));
                            depth = split + 1;
                            break ProofTerminal::Empty;
                        }
                    }
                    let side = direction(key, bit);
                    set_bit(&mut bitmap, bit);
                    siblings.push(hashes[1 - side]);
                    depth = bit + 1;
                    current = Some(children[side]);
                }
            }
        };
        siblings.reverse();
        Some(StateProof {
            terminal,
            depth: depth as u16,
            bitmap,
            siblings,
        })
    }

    /// The leaf at the end of `key`'s path (which may hold another key), and
    /// the slot pointing at it (`None` when it is the root).
    #[inline]
    fn find_leaf(&self, mut current: NodeRef, key: &Hash) -> (usize, Option<Slot>) {
        let mut slot = None;
        loop {
            match current.get() {
                Node::Leaf(index) => return (index, slot),
                Node::Branch(index) => {
                    let branch = &self.branches[index];
                    let side = direction(key, branch.bit as usize);
                    slot = Some((index, side));
                    current = branch.children[side];
                }
            }
        }
    }

    /// Mark stale the root and every slot on `key`'s path down to `stop`.
    fn mark_path_stale(&mut self, key: &Hash, stop: NodeRef) {
        self.root_stale = true;
        let mut current = self.root.expect("a path exists");
        while current != stop {
            let Node::Branch(index) = current.get() else {
                unreachable!("stop lies on the key's path");
            };
            let branch = &mut self.branches[index];
            let side = direction(key, branch.bit as usize);
            branch.stale |= 1 << side;
            current = branch.children[side];
        }
    }

    /// Point `slot` (or the root when `None`) at `child`, whose hash as seen
    /// from there is `hash` (ignored for the root and for stale slots).
    fn set_child(&mut self, slot: Option<Slot>, child: NodeRef, hash: Hash) {
        match slot {
            None => self.root = Some(child),
            Some((index, side)) => {
                self.branches[index].children[side] = child;
                self.child_hashes[index].0[side] = hash;
            }
        }
    }

    fn allocate_leaf(&mut self, leaf: Leaf) -> NodeRef {
        if let Some(index) = self.free_leaves.pop() {
            self.leaves[index as usize] = leaf;
            return NodeRef::leaf(index as usize);
        }
        let index = self.leaves.len();
        assert!(index < ARENA_INDEX_MAX, "sparse merkle tree is full");
        self.leaves.push(leaf);
        NodeRef::leaf(index)
    }

    fn allocate_branch(&mut self, branch: Branch, hashes: ChildHashes) -> NodeRef {
        if let Some(index) = self.free_branches.pop() {
            self.branches[index as usize] = branch;
            self.child_hashes[index as usize] = hashes;
            return NodeRef::branch(index as usize);
        }
        let index = self.branches.len();
        assert!(index < ARENA_INDEX_MAX, "sparse merkle tree is full");
        self.branches.push(branch);
        self.child_hashes.push(hashes);
        NodeRef::branch(index)
    }

    /// The leftmost leaf of `node`'s subtree.
    fn leftmost_leaf(&self, mut node: NodeRef) -> usize {
        loop {
            match node.get() {
                Node::Leaf(index) => return index,
                Node::Branch(index) => node = self.branches[index].children[0],
            }
        }
    }

    /// Recompute the hashes of the branches `tasks` names, each `(index,
    /// top)`: a branch whose slot in its parent (or the root) is stale, and
    /// the depth its parent's children sit at. Refreshes the stale slots
    /// below them first, and returns each task's hash at its `top`, in order.
    ///
    /// Works level by level, deepest first: the branches at one distance
    /// from their task are independent of each other, so their hashes (and
    /// then, round by round, the extensions over skipped levels) are
    /// computed side by side ([`hash_pairs`]).
    fn refresh_many(&mut self, tasks: &[(usize, usize)]) -> Vec<Hash> {
        // Breadth first from the tasks: each level is a contiguous range.
        let mut pending: Vec<Pending> = tasks
            .iter()
            .map(|&(index, top)| Pending {
                branch: index as u32,
                bit: u16::from(self.branches[index].bit),
                top: top as u16,
                parent: NO_PARENT,
                side: 0,
                inside: NO_LEAF,
            })
            .collect();
        let mut levels = alloc::vec![0, pending.len()];
        let mut next = 0;
        while next < pending.len() {
            let end = pending.len();
            for item in next..end {
                let branch = &self.branches[pending[item].branch as usize];
                let bit = branch.bit as usize;
                let (children, stale) = (branch.children, branch.stale);
                let extends = pending[item].bit > pending[item].top;
                for (side, child) in children.into_iter().enumerate() {
                    let stale = stale & (1 << side) != 0;
                    match child.get() {
                        // Prefer a leaf on a changed path: the batch that
                        // marked it stale has just read it.
                        Node::Leaf(leaf) => {
                            if pending[item].inside == NO_LEAF || stale {
                                pending[item].inside = leaf as u32;
                                if extends {
                                    // Its key is read to extend the hash.
                                    prefetch(&self.leaves[leaf]);
                                }
                            }
                        }
                        Node::Branch(child) if stale => {
                            // Hashed (and written into) on the way back up.
                            prefetch(&self.child_hashes[child]);
                            pending.push(Pending {
                                branch: child as u32,
                                bit: u16::from(self.branches[child].bit),
                                top: (bit + 1) as u16,
                                parent: item as u32,
                                side: side as u8,
                                inside: NO_LEAF,
                            });
                        }
                        Node::Branch(_) => {}
                    }
                }
            }
            next = end;
            if pending.len() > end {
                levels.push(pending.len());
            }
        }
        let mut results = alloc::vec![Hash::ZERO; tasks.len()];
        let mut pairs: Vec<[Hash; 2]> = Vec::new();
        let mut hashes: Vec<Hash> = Vec::new();
        let mut extended: Vec<Hash> = Vec::new();
        // (offset in the slice, a key inside, its bit, its top)
        let mut extending: Vec<(usize, Hash, usize, usize)> = Vec::new();
        for range in levels.windows(2).rev() {
            // A level can hold most of the tree (the first root after a
            // load rehashes all of it): hash it a slice at a time, so that
            // the scratch buffers stay small.
            let mut start = range[0];
            while start < range[1] {
                let items = start..(start + LEVEL_SLICE).min(range[1]);
                start = items.end;
                // The branches' own hashes: their slots below are current.
                pairs.clear();
                pairs.extend(
                    items
                        .clone()
                        .map(|item| self.child_hashes[pending[item].branch as usize].0),
                );
                hashes.clear();
                hash_pairs(Domain::StateNode, &pairs, &mut hashes);
                // Extend those whose edge skips levels over them, one level
                // a round, along the bits of a key inside; each round hashes
                // only the branches still extending.
                extending.clear();
                for (offset, item) in items.clone().enumerate() {
                    let Pending { bit, top, .. } = pending[item];
                    if bit <= top {
                        continue;
                    }
                    if pending[item].inside == NO_LEAF {
                        let children = self.branches[pending[item].branch as usize].children;
                        pending[item].inside = self.leftmost_leaf(children[0]) as u32;
                    }
                    let key = self.leaves[pending[item].inside as usize].key;
                    extending.push((offset, key, usize::from(bit), usize::from(top)));
                }
                let mut round = 0;
                while !extending.is_empty() {
                    pairs.clear();
                    pairs.extend(extending.iter().map(|&(offset, key, bit, _)| {
                        let hash = hashes[offset];
                        if key.bit(bit - round - 1) {
                            [Hash::ZERO, hash]
                        } else {
                            [hash, Hash::ZERO]
                        }
                    }));
                    extended.clear();
                    hash_pairs(Domain::StateNode, &pairs, &mut extended);
                    for (&(offset, ..), hash) in extending.iter().zip(&extended) {
                        hashes[offset] = *hash;
                    }
                    round += 1;
                    extending.retain(|&(_, _, bit, top)| bit > top + round);
                }
                for (offset, item) in items.enumerate() {
                    let Pending {
                        branch,
                        parent,
                        side,
                        inside,
                        ..
                    } = pending[item];
                    self.branches[branch as usize].stale = 0;
                    if parent == NO_PARENT {
                        results[item] = hashes[offset];
                        continue;
                    }
                    let parent = &mut pending[parent as usize];
                    self.child_hashes[parent.branch as usize].0[side as usize] = hashes[offset];
                    if parent.inside == NO_LEAF {
                        parent.inside = inside;
                    }
                }
            }
        }
        results
    }

    /// Check the structural invariants, and after [`Self::root`] the cached
    /// hashes (tests only).
    #[cfg(test)]
    pub(crate) fn assert_invariants(&self) {
        let Some(root) = self.root else {
            assert_eq!(self.len, 0);
            return;
        };
        if let Node::Branch(index) = root.get() {
            assert!(self.root_stale || self.branches[index].stale == 0);
        }
        let key_of = |node: NodeRef| self.leaves[self.leftmost_leaf(node)].key;
        let mut leaves = 0;
        let mut branches = 0;
        // (node, depth of the node's top, a key it must share `top` bits with)
        let mut stack = alloc::vec![(root, 0usize, key_of(root))];
        while let Some((node, top, prefix)) = stack.pop() {
            let inside = key_of(node);
            assert!(shares_prefix(&inside, &prefix, top));
            match node.get() {
                Node::Leaf(_) => leaves += 1,
                Node::Branch(index) => {
                    branches += 1;
                    let branch = &self.branches[index];
                    let bit = branch.bit as usize;
                    assert!(bit >= top, "branch bits increase down the tree");
                    for (side, child) in branch.children.iter().enumerate() {
                        let child_key = key_of(*child);
                        assert!(shares_prefix(&child_key, &inside, bit));
                        assert_eq!(direction(&child_key, bit), side);
                        match child.get() {
                            Node::Leaf(leaf) => {
                                let leaf = &self.leaves[leaf];
                                let expected = leaf_hash(&leaf.key, &leaf.value_hash);
                                assert_eq!(self.child_hashes[index].0[side], expected);
                            }
                            Node::Branch(child) => {
                                let child_stale = branch.stale & (1 << side) != 0;
                                assert!(child_stale || self.branches[child].stale == 0);
                            }
                        }
                        stack.push((*child, bit + 1, child_key));
                    }
                }
            }
        }
        assert_eq!(leaves, self.len);
        assert_eq!(branches, self.len - 1);
        assert_eq!(self.leaves.len() - self.free_leaves.len(), self.len);
        assert_eq!(self.branches.len() - self.free_branches.len(), self.len - 1);
    }
}

#[inline]
fn get_bit(bitmap: &[u8; BITMAP_LEN], level: usize) -> bool {
    bitmap[level / 8] & (0x80 >> (level % 8)) != 0
}

#[inline]
fn set_bit(bitmap: &mut [u8; BITMAP_LEN], level: usize) {
    bitmap[level / 8] |= 0x80 >> (level % 8);
}

/// What a proof finds at the end of the key's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofTerminal {
    /// An empty subtree: the key is absent.
    Empty,
    /// A subtree holding one entry. If its key is the queried key, this is
    /// the key's value; otherwise the key is absent, because this entry is
    /// the only one sharing the key's path down to here.
    Leaf {
        /// The entry's key.
        key: Hash,
        /// The entry's value hash.
        value_hash: Hash,
    },
}

/// Why a [`StateProof`] was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// A value was expected but the proof shows the key is absent.
    #[error("proof shows the key is absent")]
    KeyAbsent,
    /// Absence was expected but the proof shows the key is present.
    #[error("proof shows the key is present")]
    KeyPresent,
    /// The proof holds the key with a different value hash.
    #[error("value hash does not match the proof")]
    ValueMismatch,
    /// The proof's other leaf does not lie on the key's path.
    #[error("proof leaf is not on the key's path")]
    TerminalOffPath,
    /// The bitmap and the sibling list disagree, or the depth is too large.
    #[error("malformed proof")]
    Malformed,
    /// The recomputed root differs from the expected one.
    #[error("state root mismatch")]
    RootMismatch,
}

/// A proof that a key holds a value hash, or is absent, in the tree with a
/// given root.
///
/// Encoding: terminal tag (`0` empty, `1` leaf followed by key and value
/// hash), depth as `u16`, a bitmap of `ceil(depth / 8)` bytes whose bit
/// `level` (most significant bit first) marks a non-empty sibling at that
/// level, then those siblings, deepest first. Decoding is strict: depth at
/// most [`SMT_DEPTH_MAX`], no bits set past the depth, the deepest sibling
/// non-empty, no empty sibling stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateProof {
    terminal: ProofTerminal,
    /// Depth of the terminal: the number of levels above it.
    depth: u16,
    /// Bit `level` set iff the sibling at `level` is not empty.
    bitmap: [u8; BITMAP_LEN],
    /// The non-empty siblings, deepest first.
    siblings: Vec<Hash>,
}

impl StateProof {
    /// Ok if `key` holds `value_hash` in the tree whose root is `root` (for
    /// `Some`), or if `key` is absent from it (for `None`).
    ///
    /// Costs one hash per level above the terminal (at most
    /// [`SMT_DEPTH_MAX`]) and allocates nothing.
    ///
    /// # Errors
    /// [`ProofError`] naming the first check that failed.
    pub fn verify(
        &self,
        root: &Hash,
        key: &Hash,
        value_hash: Option<&Hash>,
    ) -> Result<(), ProofError> {
        let depth = self.depth as usize;
        if depth > SMT_DEPTH_MAX {
            return Err(ProofError::Malformed);
        }
        let mut hash = match (&self.terminal, value_hash) {
            (ProofTerminal::Empty, Some(_)) => return Err(ProofError::KeyAbsent),
            (ProofTerminal::Empty, None) => Hash::ZERO,
            (ProofTerminal::Leaf { key: found, .. }, Some(_)) if found != key => {
                return Err(ProofError::KeyAbsent)
            }
            (ProofTerminal::Leaf { key: found, .. }, None) if found == key => {
                return Err(ProofError::KeyPresent)
            }
            (
                ProofTerminal::Leaf {
                    value_hash: found, ..
                },
                Some(expected),
            ) if found != expected => return Err(ProofError::ValueMismatch),
            (
                ProofTerminal::Leaf {
                    key: found,
                    value_hash: found_value,
                },
                _,
            ) => {
                if !shares_prefix(found, key, depth) {
                    return Err(ProofError::TerminalOffPath);
                }
                leaf_hash(found, found_value)
            }
        };
        let mut siblings = self.siblings.iter();
        for level in (0..depth).rev() {
            let sibling = if get_bit(&self.bitmap, level) {
                siblings.next().ok_or(ProofError::Malformed)?
            } else {
                &Hash::ZERO
            };
            hash = if key.bit(level) {
                node_hash(sibling, &hash)
            } else {
                node_hash(&hash, sibling)
            };
        }
        if siblings.next().is_some() {
            return Err(ProofError::Malformed);
        }
        if hash != *root {
            return Err(ProofError::RootMismatch);
        }
        Ok(())
    }

    /// Number of (non-empty) sibling hashes the proof carries.
    pub fn sibling_count(&self) -> usize {
        self.siblings.len()
    }

    /// Depth of the terminal: how many levels the verifier hashes.
    pub fn depth(&self) -> usize {
        self.depth as usize
    }

    /// What the proof finds at the end of the key's path.
    pub fn terminal(&self) -> &ProofTerminal {
        &self.terminal
    }
}

impl Encode for StateProof {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match &self.terminal {
            ProofTerminal::Empty => out.push(0),
            ProofTerminal::Leaf { key, value_hash } => {
                out.push(1);
                key.encode_to(out);
                value_hash.encode_to(out);
            }
        }
        self.depth.encode_to(out);
        out.extend_from_slice(&self.bitmap[..(self.depth as usize).div_ceil(8)]);
        for sibling in &self.siblings {
            sibling.encode_to(out);
        }
    }
}

impl Decode for StateProof {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let terminal = match reader.read_u8()? {
            0 => ProofTerminal::Empty,
            1 => ProofTerminal::Leaf {
                key: Hash::decode_from(reader)?,
                value_hash: Hash::decode_from(reader)?,
            },
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "state proof terminal",
                    tag,
                })
            }
        };
        let depth = reader.read_u16()?;
        if depth as usize > SMT_DEPTH_MAX {
            return Err(DecodeError::LengthTooLarge {
                what: "state proof depth",
                len: depth.into(),
                max: SMT_DEPTH_MAX as u64,
            });
        }
        let depth_bytes = (depth as usize).div_ceil(8);
        let mut bitmap = [0u8; BITMAP_LEN];
        bitmap[..depth_bytes].copy_from_slice(reader.read_slice(depth_bytes)?);
        if depth % 8 != 0 && bitmap[depth_bytes - 1] & (0xff >> (depth % 8)) != 0 {
            return Err(DecodeError::NonCanonical(
                "state proof bitmap has bits past the depth",
            ));
        }
        if depth > 0 && !get_bit(&bitmap, depth as usize - 1) {
            return Err(DecodeError::NonCanonical(
                "state proof deepest sibling is empty",
            ));
        }
        let count = bitmap
            .iter()
            .map(|b| b.count_ones() as usize)
            .sum::<usize>();
        let mut siblings = Vec::with_capacity(count.min(reader.remaining() / HASH_LEN));
        for _ in 0..count {
            let sibling = Hash::decode_from(reader)?;
            if sibling == Hash::ZERO {
                return Err(DecodeError::NonCanonical(
                    "state proof stores an empty sibling",
                ));
            }
            siblings.push(sibling);
        }
        Ok(StateProof {
            terminal,
            depth,
            bitmap,
            siblings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;

    /// splitmix64: deterministic test randomness.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn hash(&mut self) -> Hash {
            let mut out = [0u8; 32];
            for chunk in out.chunks_exact_mut(8) {
                chunk.copy_from_slice(&self.next().to_le_bytes());
            }
            Hash(out)
        }
    }

    /// The canonical root computed directly from the definition.
    fn reference_root(entries: &[(Hash, Hash)], depth: usize) -> Hash {
        match entries {
            [] => Hash::ZERO,
            [(key, value)] => leaf_hash(key, value),
            _ => {
                let split = entries.partition_point(|(key, _)| !key.bit(depth));
                node_hash(
                    &reference_root(&entries[..split], depth + 1),
                    &reference_root(&entries[split..], depth + 1),
                )
            }
        }
    }

    fn reference(model: &BTreeMap<Hash, Hash>) -> Hash {
        let entries: Vec<(Hash, Hash)> = model.iter().map(|(k, v)| (*k, *v)).collect();
        reference_root(&entries, 0)
    }

    /// Keys that share long prefixes, to exercise deep paths and long edges.
    fn clustered_key(rng: &mut Rng) -> Hash {
        let mut key = Hash([0xa5; 32]);
        let choice = rng.next();
        let byte = [0usize, 1, 15, 30, 31][(choice % 5) as usize];
        key.0[byte] ^= (choice >> 8) as u8 & 0x0f;
        key.0[31] ^= (choice >> 16) as u8 & 0x03;
        key
    }

    #[test]
    fn empty_and_single_entry_roots() {
        let mut tree = SparseMerkleTree::new();
        assert_eq!(tree.root(), Hash::ZERO);
        let key = Hash([0x11; 32]);
        let value = Hash([0x22; 32]);
        assert_eq!(tree.insert(key, value), None);
        assert_eq!(tree.root(), leaf_hash(&key, &value));
        assert_eq!(tree.get(&key), Some(value));
        assert_eq!(tree.remove(&key), Some(value));
        assert_eq!(tree.root(), Hash::ZERO);
        assert!(tree.is_empty());
    }

    #[test]
    fn two_entries_differing_deep_hash_through_empty_levels() {
        let a = Hash([0; 32]);
        let mut b = Hash([0; 32]);
        b.0[0] = 0b0001_0000; // differs at bit 3
        let value = Hash([7; 32]);
        let mut tree = SparseMerkleTree::new();
        tree.insert(b, value);
        tree.insert(a, value);
        let mut expected = node_hash(&leaf_hash(&a, &value), &leaf_hash(&b, &value));
        for _ in 0..3 {
            expected = node_hash(&expected, &Hash::ZERO);
        }
        assert_eq!(tree.root(), expected);
        tree.assert_invariants();
    }

    #[test]
    fn random_operations_match_reference() {
        let mut rng = Rng(1);
        let mut tree = SparseMerkleTree::new();
        let mut model = BTreeMap::new();
        for step in 0..3000 {
            let key = if rng.next().is_multiple_of(2) {
                rng.hash()
            } else {
                clustered_key(&mut rng)
            };
            let key = if rng.next().is_multiple_of(3) && !model.is_empty() {
                let nth = (rng.next() % model.len() as u64) as usize;
                *model.keys().nth(nth).unwrap()
            } else {
                key
            };
            if rng.next().is_multiple_of(3) {
                assert_eq!(tree.remove(&key), model.remove(&key));
            } else {
                let value = rng.hash();
                assert_eq!(tree.insert(key, value), model.insert(key, value));
            }
            assert_eq!(tree.len(), model.len());
            if step % 7 == 0 {
                assert_eq!(tree.root(), reference(&model), "step {step}");
                tree.assert_invariants();
            }
        }
        assert_eq!(tree.root(), reference(&model));
        for (key, value) in &model {
            assert_eq!(tree.get(key), Some(*value));
        }
    }

    /// A tree wide enough that the first root rehashes levels of more than
    /// one slice ([`LEVEL_SLICE`]) of branches.
    #[test]
    fn wide_levels_match_reference() {
        let mut rng = Rng(8);
        let mut model = BTreeMap::new();
        for i in 0..60_000 {
            let key = if i % 10 == 0 {
                clustered_key(&mut rng)
            } else {
                rng.hash()
            };
            model.insert(key, rng.hash());
        }
        // One by one: nothing is rehashed before the root.
        let mut tree = SparseMerkleTree::new();
        for (key, value) in &model {
            tree.insert(*key, *value);
        }
        assert_eq!(tree.root(), reference(&model));
        tree.assert_invariants();
    }

    #[test]
    fn batches_keep_invariants_and_match_reference() {
        let mut rng = Rng(3);
        let mut tree = SparseMerkleTree::new();
        let mut model = BTreeMap::new();
        for round in 0..40 {
            let mut updates = Vec::new();
            // Every fifth batch is long enough to be rehashed midway.
            let size = if round % 5 == 4 { 1_500 } else { 120 };
            for _ in 0..(rng.next() % size) {
                let key = match rng.next() % 3 {
                    0 => rng.hash(),
                    1 => clustered_key(&mut rng),
                    _ if !model.is_empty() => {
                        let nth = (rng.next() % model.len() as u64) as usize;
                        *model.keys().nth(nth).unwrap()
                    }
                    _ => clustered_key(&mut rng),
                };
                let value = (!rng.next().is_multiple_of(4)).then(|| rng.hash());
                updates.push((key, value));
            }
            for (key, value) in &updates {
                match value {
                    Some(value) => model.insert(*key, *value),
                    None => model.remove(key),
                };
            }
            tree.update_batch(&updates);
            // Stale flags stay consistent between batches, without a root.
            tree.assert_invariants();
            assert_eq!(tree.len(), model.len());
            if round % 3 == 0 {
                assert_eq!(tree.root(), reference(&model), "round {round}");
                tree.assert_invariants();
            }
        }
        assert_eq!(tree.root(), reference(&model));
        // The long batches were rehashed midway, not only by `root`.
        assert!(tree.settled > 0);
    }

    #[test]
    fn proofs_verify_for_present_and_absent_keys() {
        let mut rng = Rng(2);
        let mut tree = SparseMerkleTree::new();
        let mut keys = Vec::new();
        for i in 0..300 {
            let key = if i % 2 == 0 {
                rng.hash()
            } else {
                clustered_key(&mut rng)
            };
            tree.insert(key, Hash::of(Domain::StateValue, &key.0));
            keys.push(key);
        }
        let root = tree.root();
        for key in &keys {
            let value = Hash::of(Domain::StateValue, &key.0);
            let proof = tree.prove(key);
            assert_eq!(proof.verify(&root, key, Some(&value)), Ok(()));
            assert_eq!(
                proof.verify(&root, key, Some(&Hash([1; 32]))),
                Err(ProofError::ValueMismatch)
            );
            assert_eq!(proof.verify(&root, key, None), Err(ProofError::KeyPresent));
            assert_eq!(StateProof::decode(&proof.encode()), Ok(proof));
        }
        for _ in 0..300 {
            let key = if rng.next().is_multiple_of(2) {
                rng.hash()
            } else {
                clustered_key(&mut rng)
            };
            let proof = tree.prove(&key);
            match tree.get(&key) {
                Some(value) => assert_eq!(proof.verify(&root, &key, Some(&value)), Ok(())),
                None => {
                    assert_eq!(proof.verify(&root, &key, None), Ok(()));
                    assert!(proof.verify(&root, &key, Some(&Hash([1; 32]))).is_err());
                }
            }
            assert_eq!(StateProof::decode(&proof.encode()), Ok(proof));
        }
    }

    #[test]
    fn decode_rejects_non_canonical_proofs() {
        let mut tree = SparseMerkleTree::new();
        tree.insert(Hash([0; 32]), Hash([1; 32]));
        tree.insert(Hash([0xff; 32]), Hash([2; 32]));
        let proof = tree.prove(&Hash([0; 32]));
        let bytes = proof.encode();
        // tag, key, value, depth = 1, bitmap = 0x80, one sibling.
        assert_eq!(bytes.len(), 1 + 64 + 2 + 1 + 32);
        let mut padded = bytes.clone();
        padded[67] |= 0x01;
        assert!(StateProof::decode(&padded).is_err());
        let mut too_deep = bytes.clone();
        too_deep[65..67].copy_from_slice(&257u16.to_le_bytes());
        assert!(StateProof::decode(&too_deep).is_err());
        let mut zero_sibling = bytes.clone();
        zero_sibling[68..].fill(0);
        assert!(StateProof::decode(&zero_sibling).is_err());
        let mut empty_deepest = bytes;
        empty_deepest[67] = 0;
        empty_deepest.truncate(68);
        assert!(StateProof::decode(&empty_deepest).is_err());
    }
}
