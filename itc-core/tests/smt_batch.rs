//! `SparseMerkleTree::update_batch` against one-by-one updates: the same
//! root, the same values and byte-identical proofs, with inserts, updates
//! and deletes, keys touched many times in one batch, and several batches
//! between two roots.

use itc_core::encoding::Encode;
use itc_core::hash::{Domain, Hash};
use itc_core::smt::SparseMerkleTree;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// The canonical root of a sorted entry list whose keys share their first
/// `depth` bits, from the definition.
fn reference_at(entries: &[(Hash, Hash)], depth: usize) -> Hash {
    match entries {
        [] => Hash::ZERO,
        [(key, value)] => Hash::of_parts(Domain::StateLeaf, &[&key.0, &value.0]),
        _ => {
            let split = entries.partition_point(|(key, _)| !key.bit(depth));
            let left = reference_at(&entries[..split], depth + 1);
            let right = reference_at(&entries[split..], depth + 1);
            Hash::of_parts(Domain::StateNode, &[&left.0, &right.0])
        }
    }
}

fn reference(model: &BTreeMap<Hash, Hash>) -> Hash {
    let entries: Vec<(Hash, Hash)> = model.iter().map(|(k, v)| (*k, *v)).collect();
    reference_at(&entries, 0)
}

/// Random keys, and clustered keys sharing long prefixes (deep paths, long
/// compressed edges, keys differing only in their last bits).
fn key_strategy() -> impl Strategy<Value = Hash> {
    prop_oneof![
        any::<[u8; 32]>().prop_map(Hash),
        (0usize..32, 0u8..4, 0u8..4).prop_map(|(byte, x, y)| {
            let mut key = [0x5a; 32];
            key[byte] ^= x;
            key[31] ^= y;
            Hash(key)
        }),
        (0u8..8).prop_map(|x| {
            let mut key = [0u8; 32];
            key[0] = x << 5;
            Hash(key)
        }),
    ]
}

fn value_strategy() -> impl Strategy<Value = Hash> {
    any::<u8>().prop_map(|v| Hash::of(Domain::StateValue, &[v]))
}

/// One update: of a key drawn fresh, or of the `n % len`-th key of the
/// pool (the base keys and the fresh keys seen so far), so that batches
/// revisit keys; `None` deletes.
#[derive(Clone, Debug)]
enum Target {
    Fresh(Hash),
    Pool(usize),
}

fn update_strategy() -> impl Strategy<Value = (Target, Option<Hash>)> {
    (
        prop_oneof![
            1 => key_strategy().prop_map(Target::Fresh),
            2 => any::<usize>().prop_map(Target::Pool),
        ],
        prop_oneof![3 => value_strategy().prop_map(Some), 1 => Just(None)],
    )
}

/// A batch of updates, and whether to take the root after it.
type Batch = (Vec<(Target, Option<Hash>)>, bool);

/// Apply `batches` one by one to a tree and with `update_batch` to another
/// (asking for the root after the batches flagged `true` only), and check
/// roots, values and proofs against each other and the reference.
fn check_batches(
    base: &BTreeMap<Hash, Hash>,
    batches: &[Batch],
    probes: &[Hash],
) -> Result<(), TestCaseError> {
    let mut single = SparseMerkleTree::new();
    let mut batched = SparseMerkleTree::new();
    let mut model = base.clone();
    for (key, value) in base {
        single.insert(*key, *value);
        batched.insert(*key, *value);
    }
    prop_assert_eq!(batched.root(), single.root());
    let mut pool: Vec<Hash> = base.keys().copied().collect();
    let mut touched: Vec<Hash> = Vec::new();
    for (batch, take_root) in batches {
        let mut updates = Vec::with_capacity(batch.len());
        for (target, value) in batch {
            let key = match target {
                Target::Fresh(key) => {
                    pool.push(*key);
                    *key
                }
                Target::Pool(n) if !pool.is_empty() => pool[n % pool.len()],
                Target::Pool(_) => Hash::ZERO,
            };
            updates.push((key, *value));
            touched.push(key);
        }
        for (key, value) in &updates {
            match value {
                Some(value) => {
                    prop_assert_eq!(single.insert(*key, *value), model.insert(*key, *value));
                }
                None => {
                    prop_assert_eq!(single.remove(key), model.remove(key));
                }
            }
        }
        batched.update_batch(&updates);
        prop_assert_eq!(batched.len(), model.len());
        if *take_root {
            let expected = reference(&model);
            prop_assert_eq!(single.root(), expected);
            prop_assert_eq!(batched.root(), expected);
        }
    }
    let root = batched.root();
    prop_assert_eq!(root, reference(&model));
    prop_assert_eq!(single.root(), root);
    for key in touched.iter().chain(probes).chain(model.keys()) {
        prop_assert_eq!(batched.get(key), model.get(key).copied());
        let proof = batched.prove(key);
        let expected = single.prove(key);
        prop_assert_eq!(proof.encode(), expected.encode());
        prop_assert_eq!(proof.verify(&root, key, model.get(key)), Ok(()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Small batches over small trees: every shape of insert, update and
    /// delete, repeated keys, and roots taken after some batches only.
    #[test]
    fn batch_matches_one_by_one(
        base in prop::collection::btree_map(key_strategy(), value_strategy(), 0..60),
        batches in prop::collection::vec(
            (prop::collection::vec(update_strategy(), 0..24), any::<bool>()),
            1..5,
        ),
        probes in prop::collection::vec(key_strategy(), 0..8),
    ) {
        check_batches(&base, &batches, &probes)?;
    }

    /// Batches larger than one group of located keys.
    #[test]
    fn large_batches_match_one_by_one(
        base in prop::collection::btree_map(key_strategy(), value_strategy(), 0..400),
        batches in prop::collection::vec(
            (prop::collection::vec(update_strategy(), 0..200), any::<bool>()),
            1..4,
        ),
    ) {
        check_batches(&base, &batches, &[])?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Batches long enough that subtrees the batch has moved past are
    /// rehashed while it goes on (every 512 keys), with inserts and deletes
    /// before and after those points.
    #[test]
    fn batches_rehashed_midway_match_one_by_one(
        base in prop::collection::btree_map(key_strategy(), value_strategy(), 0..800),
        batches in prop::collection::vec(
            (prop::collection::vec(update_strategy(), 500..1600), any::<bool>()),
            1..3,
        ),
    ) {
        check_batches(&base, &batches, &[])?;
    }
}

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

/// A ledger-sized block over a larger tree: one key updated a thousand
/// times in one batch (like a proposer's account), hundreds of updates,
/// inserts and deletes, and blocks with and without a root in between.
#[test]
fn ledger_sized_batches_match_one_by_one() {
    let mut rng = Rng(15);
    let mut single = SparseMerkleTree::new();
    let mut batched = SparseMerkleTree::new();
    let mut keys = Vec::new();
    for _ in 0..20_000 {
        let (key, value) = (rng.hash(), rng.hash());
        single.insert(key, value);
        batched.insert(key, value);
        keys.push(key);
    }
    let hot = keys[7];
    for block in 0..6u64 {
        let mut updates = Vec::new();
        for i in 0..2_000u64 {
            let pick = rng.next();
            let key = match pick % 8 {
                0 => {
                    let key = rng.hash();
                    keys.push(key);
                    key
                }
                1 | 2 => hot,
                _ => keys[(rng.next() % keys.len() as u64) as usize],
            };
            let value = if pick % 16 == 5 {
                None
            } else {
                Some(Hash::of(
                    Domain::StateValue,
                    &(block * 10_000 + i).to_le_bytes(),
                ))
            };
            updates.push((key, value));
        }
        for (key, value) in &updates {
            match value {
                Some(value) => single.insert(*key, *value),
                None => single.remove(key),
            };
        }
        batched.update_batch(&updates);
        assert_eq!(batched.len(), single.len());
        if block % 2 == 1 {
            assert_eq!(batched.root(), single.root(), "block {block}");
        }
    }
    let root = batched.root();
    assert_eq!(root, single.root());
    for key in keys.iter().step_by(7).chain([&hot]) {
        assert_eq!(batched.get(key), single.get(key));
        assert_eq!(batched.prove(key).encode(), single.prove(key).encode());
    }
}
