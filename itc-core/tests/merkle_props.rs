//! Property tests of the transaction Merkle tree (`merkle`) and the sparse
//! Merkle state tree (`smt`) against naive reference models.

use itc_core::encoding::{Decode, Encode};
use itc_core::hash::{Domain, Hash};
use itc_core::merkle::{self, InclusionProof};
use itc_core::smt::{ProofTerminal, SparseMerkleTree, StateProof};
use proptest::prelude::*;
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------
// Reference models, written from the definitions with no shared code.

/// RFC 6962 section 2.1 MTH over leaf hashes.
fn merkle_reference(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Hash::of(Domain::MerkleEmpty, b""),
        1 => leaves[0],
        n => {
            let k = (1..)
                .map(|i| 1usize << i)
                .take_while(|&p| p < n)
                .last()
                .unwrap_or(1);
            let left = merkle_reference(&leaves[..k]);
            let right = merkle_reference(&leaves[k..]);
            Hash::of_parts(Domain::MerkleNode, &[&left.0, &right.0])
        }
    }
}

/// The canonical sparse Merkle root of a sorted entry list whose keys share
/// their first `depth` bits.
fn smt_reference_at(entries: &[(Hash, Hash)], depth: usize) -> Hash {
    match entries {
        [] => Hash::ZERO,
        [(key, value)] => Hash::of_parts(Domain::StateLeaf, &[&key.0, &value.0]),
        _ => {
            let split = entries.partition_point(|(key, _)| !key.bit(depth));
            let left = smt_reference_at(&entries[..split], depth + 1);
            let right = smt_reference_at(&entries[split..], depth + 1);
            Hash::of_parts(Domain::StateNode, &[&left.0, &right.0])
        }
    }
}

fn smt_reference(model: &BTreeMap<Hash, Hash>) -> Hash {
    let entries: Vec<(Hash, Hash)> = model.iter().map(|(k, v)| (*k, *v)).collect();
    smt_reference_at(&entries, 0)
}

fn leaves(n: usize, salt: u8) -> Vec<Hash> {
    (0..n as u32)
        .map(|i| merkle::leaf_hash(&[&i.to_le_bytes()[..], &[salt]].concat()))
        .collect()
}

/// Keys from a small alphabet of shapes: uniformly random, or clustered so
/// that they share long prefixes (deep paths, long compressed edges, keys
/// differing only in the last bit).
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

#[derive(Clone, Debug)]
enum Op {
    Insert(Hash, Hash),
    Remove(Hash),
    /// Remove the `n % len`-th present key.
    RemovePresent(usize),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (key_strategy(), value_strategy()).prop_map(|(k, v)| Op::Insert(k, v)),
        1 => key_strategy().prop_map(Op::Remove),
        1 => any::<usize>().prop_map(Op::RemovePresent),
    ]
}

// ---------------------------------------------------------------------------
// RFC 6962 transaction trees.

#[test]
fn merkle_root_matches_reference_up_to_70() {
    for n in 0..=70 {
        let l = leaves(n, 0);
        assert_eq!(merkle::root(&l), merkle_reference(&l), "n = {n}");
    }
}

#[test]
fn merkle_every_inclusion_proof_verifies() {
    for n in 1..=70 {
        let l = leaves(n, 1);
        let root = merkle::root(&l);
        for (i, leaf) in l.iter().enumerate() {
            let proof = merkle::prove(&l, i).unwrap();
            assert_eq!(proof.verify(leaf, &root), Ok(()), "n = {n}, i = {i}");
        }
    }
}

/// Every byte of an encoded proof matters, except that a tree size may be
/// replaced by another in which the leaf's path has the same shape: the root
/// does not commit to the size, so callers check it against a trusted count.
#[test]
fn merkle_flipped_bytes_fail() {
    let mut decoded = 0;
    for n in [1usize, 2, 3, 5, 8, 13, 64, 70] {
        let l = leaves(n, 2);
        let root = merkle::root(&l);
        for (i, leaf) in l.iter().enumerate() {
            let proof = merkle::prove(&l, i).unwrap();
            let bytes = proof.encode();
            for position in 0..bytes.len() {
                for mask in [0x01u8, 0x80, 0xff] {
                    let mut flipped = bytes.clone();
                    flipped[position] ^= mask;
                    if let Ok(mutant) = InclusionProof::decode(&flipped) {
                        decoded += 1;
                        if mutant.verify(leaf, &root).is_ok() {
                            assert!((8..16).contains(&position), "n {n} i {i} byte {position}");
                            assert_eq!(mutant.leaf_index, proof.leaf_index);
                            assert_eq!(mutant.path, proof.path);
                        }
                    }
                }
            }
            for position in 0..32 {
                let mut bad_leaf = *leaf;
                bad_leaf.0[position] ^= 1;
                assert!(proof.verify(&bad_leaf, &root).is_err());
                let mut bad_root = root;
                bad_root.0[position] ^= 1;
                assert!(proof.verify(leaf, &bad_root).is_err());
            }
        }
    }
    assert!(decoded > 0, "no flipped proof decodes: nothing was checked");
}

proptest! {
    #[test]
    fn merkle_proof_round_trips(n in 1usize..300, index in any::<prop::sample::Index>(), salt in any::<u8>()) {
        let l = leaves(n, salt);
        let i = index.index(n);
        let proof = merkle::prove(&l, i).unwrap();
        prop_assert_eq!(InclusionProof::decode(&proof.encode()), Ok(proof.clone()));
        prop_assert!(proof.verify(&l[i], &merkle::root(&l)).is_ok());
        prop_assert_eq!(merkle::root(&l), merkle_reference(&l));
    }

    #[test]
    fn merkle_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(proof) = InclusionProof::decode(&bytes) {
            prop_assert_eq!(proof.encode(), bytes);
        }
    }

    #[test]
    fn merkle_arbitrary_headers_never_panic(
        leaf_index in any::<u64>(),
        tree_size in any::<u64>(),
        path_len in 0usize..70,
    ) {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&leaf_index.to_le_bytes());
        bytes.extend_from_slice(&tree_size.to_le_bytes());
        bytes.extend_from_slice(&(path_len as u32).to_le_bytes());
        bytes.resize(bytes.len() + 32 * path_len, 7);
        if let Ok(proof) = InclusionProof::decode(&bytes) {
            prop_assert_eq!(proof.encode(), bytes);
            prop_assert!(proof.verify(&Hash::ZERO, &Hash::ZERO).is_err());
        }
    }
}

// ---------------------------------------------------------------------------
// Sparse Merkle state tree.

fn apply(tree: &mut SparseMerkleTree, model: &mut BTreeMap<Hash, Hash>, op: &Op) {
    match op {
        Op::Insert(key, value) => assert_eq!(tree.insert(*key, *value), model.insert(*key, *value)),
        Op::Remove(key) => assert_eq!(tree.remove(key), model.remove(key)),
        Op::RemovePresent(n) => {
            if !model.is_empty() {
                let key = *model.keys().nth(n % model.len()).unwrap();
                assert_eq!(tree.remove(&key), model.remove(&key));
            }
        }
    }
}

/// Check every kind of proof against the model: present keys with the right
/// and a wrong value, and absent keys.
fn check_proofs(tree: &mut SparseMerkleTree, model: &BTreeMap<Hash, Hash>, probes: &[Hash]) {
    let root = tree.root();
    let wrong = Hash::of(Domain::StateValue, b"wrong");
    for (key, value) in model {
        let proof = tree.prove(key);
        assert_eq!(proof.verify(&root, key, Some(value)), Ok(()));
        assert!(proof.verify(&root, key, Some(&wrong)).is_err());
        assert!(proof.verify(&root, key, None).is_err());
        assert_eq!(StateProof::decode(&proof.encode()).as_ref(), Ok(&proof));
    }
    for key in probes {
        let proof = tree.prove(key);
        match model.get(key) {
            Some(value) => assert_eq!(proof.verify(&root, key, Some(value)), Ok(())),
            None => {
                assert_eq!(proof.verify(&root, key, None), Ok(()));
                assert!(proof.verify(&root, key, Some(&wrong)).is_err());
            }
        }
        assert_eq!(StateProof::decode(&proof.encode()).as_ref(), Ok(&proof));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn smt_matches_reference_under_random_updates(
        ops in prop::collection::vec(op_strategy(), 0..120),
        probes in prop::collection::vec(key_strategy(), 0..8),
    ) {
        let mut tree = SparseMerkleTree::new();
        let mut model = BTreeMap::new();
        for (step, op) in ops.iter().enumerate() {
            apply(&mut tree, &mut model, op);
            prop_assert_eq!(tree.len(), model.len());
            if step % 5 == 0 {
                prop_assert_eq!(tree.root(), smt_reference(&model));
            }
        }
        prop_assert_eq!(tree.root(), smt_reference(&model));
        for (key, value) in &model {
            prop_assert_eq!(tree.get(key), Some(*value));
        }
        for key in &probes {
            prop_assert_eq!(tree.get(key), model.get(key).copied());
        }
        check_proofs(&mut tree, &model, &probes);
    }

    #[test]
    fn smt_root_is_independent_of_insertion_order(
        entries in prop::collection::btree_map(key_strategy(), value_strategy(), 0..60)
            .prop_flat_map(|m| {
                let list: Vec<(Hash, Hash)> = m.into_iter().collect();
                (Just(list.clone()), Just(list).prop_shuffle())
            }),
    ) {
        let (sorted, shuffled) = entries;
        let mut a = SparseMerkleTree::new();
        let mut b = SparseMerkleTree::new();
        for (key, value) in &sorted {
            a.insert(*key, *value);
        }
        for (key, value) in &shuffled {
            b.insert(*key, *value);
        }
        prop_assert_eq!(a.root(), b.root());
    }

    #[test]
    fn smt_insert_then_remove_restores_root(
        base in prop::collection::btree_map(key_strategy(), value_strategy(), 0..40),
        extra in key_strategy(),
        value in value_strategy(),
    ) {
        let mut tree = SparseMerkleTree::new();
        for (key, value) in &base {
            tree.insert(*key, *value);
        }
        let before = tree.root();
        let old = tree.insert(extra, value);
        match old {
            Some(old) => prop_assert_eq!(tree.insert(extra, old), Some(value)),
            None => prop_assert_eq!(tree.remove(&extra), Some(value)),
        }
        prop_assert_eq!(tree.root(), before);
    }

    #[test]
    fn smt_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(proof) = StateProof::decode(&bytes) {
            prop_assert_eq!(proof.encode(), bytes);
        }
    }

    #[test]
    fn smt_structured_bytes_never_panic(
        tag in 0u8..3,
        depth in 0u16..300,
        bitmap in prop::collection::vec(any::<u8>(), 0..40),
        siblings in 0usize..40,
    ) {
        let mut bytes = vec![tag];
        if tag == 1 {
            bytes.extend_from_slice(&[3; 64]);
        }
        bytes.extend_from_slice(&depth.to_le_bytes());
        bytes.extend_from_slice(&bitmap);
        bytes.resize(bytes.len() + 32 * siblings, 9);
        if let Ok(proof) = StateProof::decode(&bytes) {
            prop_assert_eq!(proof.encode(), bytes);
            prop_assert!(proof.verify(&Hash::ZERO, &Hash::ZERO, None).is_err());
        }
    }
}

/// A tree of random keys and probes that hit every kind of terminal.
fn random_tree(n: usize, seed: u8) -> (SparseMerkleTree, BTreeMap<Hash, Hash>) {
    let mut tree = SparseMerkleTree::new();
    let mut model = BTreeMap::new();
    for i in 0..n as u32 {
        let key = Hash::of(Domain::StateKey, &[&i.to_le_bytes()[..], &[seed]].concat());
        let value = Hash::of(Domain::StateValue, &i.to_le_bytes());
        tree.insert(key, value);
        model.insert(key, value);
    }
    (tree, model)
}

#[test]
fn smt_proofs_have_about_log2_n_siblings() {
    let n = 10_000usize;
    let (mut tree, model) = random_tree(n, 0);
    assert_eq!(tree.root(), smt_reference(&model));
    let bound = 2 * n.ilog2() as usize + 8;
    let mut total = 0;
    for key in model.keys() {
        let proof = tree.prove(key);
        assert!(
            proof.sibling_count() <= bound,
            "{} siblings",
            proof.sibling_count()
        );
        total += proof.sibling_count();
    }
    let average = total as f64 / n as f64;
    assert!(average < n.ilog2() as f64 + 3.0, "average {average}");
    for i in 0..1000u32 {
        let key = Hash::of(Domain::StateKey, &i.to_be_bytes());
        let proof = tree.prove(&key);
        assert!(proof.sibling_count() <= bound);
        assert!(proof.verify(&tree.root(), &key, None).is_ok());
    }
}

#[test]
fn smt_flipped_bytes_fail() {
    let mut decoded = 0;
    let (mut tree, model) = random_tree(200, 1);
    let root = tree.root();
    let mut claims: Vec<(Hash, Option<Hash>)> =
        model.iter().take(40).map(|(k, v)| (*k, Some(*v))).collect();
    let (mut empty_terminals, mut other_leaf_terminals) = (0, 0);
    for i in 0..200u32 {
        let key = Hash::of(
            Domain::StateKey,
            &[&i.to_le_bytes()[..], b"absent"].concat(),
        );
        match tree.prove(&key).terminal() {
            ProofTerminal::Empty if empty_terminals < 20 => empty_terminals += 1,
            ProofTerminal::Leaf { .. } if other_leaf_terminals < 20 => other_leaf_terminals += 1,
            _ => continue,
        }
        claims.push((key, None));
    }
    assert!(empty_terminals > 5 && other_leaf_terminals > 5);
    // The one-entry and empty trees too.
    let mut single = SparseMerkleTree::new();
    let (only_key, only_value) = model.iter().next().unwrap();
    single.insert(*only_key, *only_value);
    let mut cases: Vec<(Hash, Hash, Option<Hash>, StateProof)> = vec![
        (
            single.root(),
            *only_key,
            Some(*only_value),
            single.prove(only_key),
        ),
        (
            single.root(),
            Hash([9; 32]),
            None,
            single.prove(&Hash([9; 32])),
        ),
        (
            Hash::ZERO,
            Hash([9; 32]),
            None,
            SparseMerkleTree::new().prove(&Hash([9; 32])),
        ),
    ];
    for (key, value) in claims {
        cases.push((root, key, value, tree.prove(&key)));
    }
    for (root, key, value, proof) in &cases {
        assert_eq!(proof.verify(root, key, value.as_ref()), Ok(()));
        let bytes = proof.encode();
        for position in 0..bytes.len() {
            for mask in [0x01u8, 0x10, 0x80, 0xff] {
                let mut flipped = bytes.clone();
                flipped[position] ^= mask;
                if let Ok(mutant) = StateProof::decode(&flipped) {
                    decoded += 1;
                    assert!(
                        mutant.verify(root, key, value.as_ref()).is_err(),
                        "byte {position} mask {mask:#x} of {proof:?}"
                    );
                }
            }
        }
        for position in 0..32 {
            let mut bad_root = *root;
            bad_root.0[position] ^= 1;
            assert!(proof.verify(&bad_root, key, value.as_ref()).is_err());
            let mut bad_key = *key;
            bad_key.0[position] ^= 1;
            let still_ok = proof.verify(root, &bad_key, value.as_ref()).is_ok();
            // A non-membership proof for an empty subtree also proves the
            // absence of other keys below it; membership never transfers.
            assert!(!still_ok || value.is_none());
        }
    }
    assert!(decoded > 0, "no flipped proof decodes: nothing was checked");
}
