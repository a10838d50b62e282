//! RFC 6962-style Merkle trees over transaction lists, with inclusion proofs.
//!
//! The tree is the one of RFC 6962 section 2.1 (RFC 9162 section 2.1.1):
//! a list of `n > 1` leaves is split at the largest power of two strictly
//! below `n`, the last node is never duplicated, and leaves and inner nodes
//! are hashed under different domains ([`Domain::MerkleLeaf`],
//! [`Domain::MerkleNode`]). The empty list has its own root,
//! [`Domain::MerkleEmpty`] over no bytes.
//!
//! [`root`] takes *leaf hashes*: either [`leaf_hash`] of raw data, or any
//! other domain-separated hash (ITC uses transaction ids directly), which can
//! never be confused with an inner node because domains differ.
//!
//! ```
//! use itc_core::merkle::{leaf_hash, prove, root};
//! let leaves: Vec<_> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
//! let root = root(&leaves);
//! let proof = prove(&leaves, 3).unwrap();
//! assert!(proof.verify(&leaves[3], &root).is_ok());
//! assert!(proof.verify(&leaves[2], &root).is_err());
//! ```

use crate::encoding::{write_vec, Decode, DecodeError, Encode, Reader};
use crate::hash::{Domain, Hash};
use alloc::vec::Vec;

/// Most hashes an inclusion proof path may hold: the depth of a tree with
/// `u64::MAX` leaves.
pub const MERKLE_PATH_MAX: usize = 64;

/// Hash of a leaf's data.
#[inline]
pub fn leaf_hash(data: &[u8]) -> Hash {
    Hash::of(Domain::MerkleLeaf, data)
}

/// Hash of an inner node from its children.
#[inline]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Hash::of_parts(Domain::MerkleNode, &[&left.0, &right.0])
}

/// Root of the empty tree.
pub fn empty_root() -> Hash {
    Hash::of(Domain::MerkleEmpty, b"")
}

/// The largest power of two strictly below `n` (`n >= 2`).
#[inline]
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Merkle root of a list of leaf hashes.
///
/// Runs in `O(n)` hashes with no heap allocation: complete subtrees are
/// folded on a stack of at most 64 hashes as leaves arrive, then the stack is
/// folded right to left, which yields exactly the RFC 6962 shape.
pub fn root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return empty_root();
    }
    // stack[i] is the root of a complete subtree; sizes strictly decrease.
    let mut stack = [Hash::ZERO; MERKLE_PATH_MAX + 1];
    let mut height = 0usize;
    for (i, leaf) in leaves.iter().enumerate() {
        let mut current = *leaf;
        // After leaf i, merge once per trailing one bit of i (equivalently,
        // per trailing zero bit of i + 1).
        let mut merges = (i as u64 + 1).trailing_zeros();
        while merges > 0 {
            height -= 1;
            current = node_hash(&stack[height], &current);
            merges -= 1;
        }
        stack[height] = current;
        height += 1;
    }
    let mut current = stack[height - 1];
    for left in stack[..height - 1].iter().rev() {
        current = node_hash(left, &current);
    }
    current
}

/// Number of path hashes for `leaf_index` in a tree of `tree_size` leaves
/// (`leaf_index < tree_size`): the leaf's depth in the RFC 6962 tree.
fn path_length(leaf_index: u64, tree_size: u64) -> usize {
    debug_assert!(leaf_index < tree_size);
    let (mut low, mut high) = (0u64, tree_size);
    let mut length = 0;
    while high - low > 1 {
        let k = split(high - low);
        if leaf_index < low + k {
            high = low + k;
        } else {
            low += k;
        }
        length += 1;
    }
    length
}

/// Why an inclusion proof was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {leaf_index} out of range for tree size {tree_size}")]
    IndexOutOfRange {
        /// Claimed index.
        leaf_index: u64,
        /// Claimed tree size.
        tree_size: u64,
    },
    /// The path has more hashes than the leaf's depth.
    #[error("inclusion path too long")]
    PathTooLong,
    /// The path has fewer hashes than the leaf's depth.
    #[error("inclusion path too short")]
    PathTooShort,
    /// The recomputed root differs from the expected one.
    #[error("merkle root mismatch")]
    RootMismatch,
}

/// Proof that a leaf hash sits at `leaf_index` in a tree of `tree_size`
/// leaves (RFC 9162 section 2.1.3).
///
/// The root does not commit to `tree_size`: some positions look alike in
/// trees of different sizes (leaf 0 of 3 and of 4 leaves, for example). A
/// caller for whom the position matters checks `tree_size` against a trusted
/// count, such as the number of transactions its header announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// Position of the leaf, `0..tree_size`.
    pub leaf_index: u64,
    /// Number of leaves in the tree.
    pub tree_size: u64,
    /// Sibling hashes from the leaf up to the root.
    pub path: Vec<Hash>,
}

/// Inclusion proof for `leaves[index]`, or `None` if `index` is out of range.
///
/// Costs `O(n)` hashes.
pub fn prove(leaves: &[Hash], index: usize) -> Option<InclusionProof> {
    if index >= leaves.len() {
        return None;
    }
    // Walk down from the root (RFC 6962 PATH), collecting the root of the
    // other half at each split, then reverse to order the path leaf-first.
    let mut path = Vec::with_capacity(path_length(index as u64, leaves.len() as u64));
    let (mut low, mut high) = (0usize, leaves.len());
    while high - low > 1 {
        let k = split((high - low) as u64) as usize;
        if index < low + k {
            path.push(root(&leaves[low + k..high]));
            high = low + k;
        } else {
            path.push(root(&leaves[low..low + k]));
            low += k;
        }
    }
    path.reverse();
    Some(InclusionProof {
        leaf_index: index as u64,
        tree_size: leaves.len() as u64,
        path,
    })
}

impl InclusionProof {
    /// Check that `leaf` (a leaf hash, as given to [`root`]) is at
    /// `leaf_index` in the tree of `tree_size` leaves whose root is `root`.
    ///
    /// This is the algorithm of RFC 9162 section 2.1.3.2. It allocates
    /// nothing.
    ///
    /// # Errors
    /// [`MerkleError`] naming the first check that failed.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), MerkleError> {
        if self.leaf_index >= self.tree_size {
            return Err(MerkleError::IndexOutOfRange {
                leaf_index: self.leaf_index,
                tree_size: self.tree_size,
            });
        }
        // RFC 9162 names these fn and sn: the node's index and the last index
        // at the current level.
        let mut index = self.leaf_index;
        let mut last = self.tree_size - 1;
        let mut current = *leaf;
        for sibling in &self.path {
            if last == 0 {
                return Err(MerkleError::PathTooLong);
            }
            if index & 1 == 1 || index == last {
                current = node_hash(sibling, &current);
                // Skip the levels where this subtree is the lone right edge.
                while index & 1 == 0 && index != 0 {
                    index >>= 1;
                    last >>= 1;
                }
            } else {
                current = node_hash(&current, sibling);
            }
            index >>= 1;
            last >>= 1;
        }
        if last != 0 {
            return Err(MerkleError::PathTooShort);
        }
        if current != *root {
            return Err(MerkleError::RootMismatch);
        }
        Ok(())
    }
}

impl Encode for InclusionProof {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.leaf_index.encode_to(out);
        self.tree_size.encode_to(out);
        write_vec(out, &self.path);
    }
}

impl Decode for InclusionProof {
    /// Strict: the index must be below the size and the path must have
    /// exactly the leaf's depth in hashes.
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let leaf_index = reader.read_u64()?;
        let tree_size = reader.read_u64()?;
        if leaf_index >= tree_size {
            return Err(DecodeError::InvalidValue(
                "merkle leaf index not below tree size",
            ));
        }
        let path: Vec<Hash> = reader.read_vec("merkle path", MERKLE_PATH_MAX)?;
        if path.len() != path_length(leaf_index, tree_size) {
            return Err(DecodeError::NonCanonical(
                "merkle path length does not match leaf index and tree size",
            ));
        }
        Ok(InclusionProof {
            leaf_index,
            tree_size,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// RFC 6962 section 2.1 MTH, written as the recursive definition.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u32).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    #[test]
    fn split_is_largest_power_of_two_below() {
        assert_eq!(split(2), 1);
        assert_eq!(split(3), 2);
        assert_eq!(split(4), 2);
        assert_eq!(split(5), 4);
        assert_eq!(split(8), 4);
        assert_eq!(split(9), 8);
        assert_eq!(split(u64::MAX), 1 << 63);
    }

    #[test]
    fn root_matches_reference_for_small_trees() {
        for n in 0..=70 {
            let l = leaves(n);
            assert_eq!(root(&l), reference_root(&l), "n = {n}");
        }
        let l = leaves(1000);
        assert_eq!(root(&l), reference_root(&l));
    }

    #[test]
    fn known_shapes() {
        let l = leaves(3);
        assert_eq!(root(&l[..1]), l[0]);
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        assert_eq!(empty_root(), Hash::of(Domain::MerkleEmpty, b""));
        assert_ne!(leaf_hash(b"x"), Hash::of(Domain::MerkleNode, b"x"));
    }

    #[test]
    fn rfc9162_every_proof_verifies() {
        for n in 1..=70 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let proof = prove(&l, i).unwrap();
                assert_eq!(proof.path.len(), path_length(i as u64, n as u64));
                assert_eq!(proof.verify(&l[i], &r), Ok(()), "n = {n}, i = {i}");
                let other = leaf_hash(b"other");
                assert_eq!(proof.verify(&other, &r), Err(MerkleError::RootMismatch));
                assert_eq!(InclusionProof::decode(&proof.encode()), Ok(proof));
            }
            assert!(prove(&l, n).is_none());
        }
    }

    #[test]
    fn rfc9162_rejects_malformed_proofs() {
        let l = leaves(7);
        let r = root(&l);
        let proof = prove(&l, 4).unwrap();
        let mut long = proof.clone();
        long.path.push(Hash::ZERO);
        assert_eq!(long.verify(&l[4], &r), Err(MerkleError::PathTooLong));
        let mut short = proof.clone();
        short.path.pop();
        assert_eq!(short.verify(&l[4], &r), Err(MerkleError::PathTooShort));
        let mut out_of_range = proof.clone();
        out_of_range.leaf_index = 7;
        assert!(matches!(
            out_of_range.verify(&l[4], &r),
            Err(MerkleError::IndexOutOfRange { .. })
        ));
        assert!(InclusionProof::decode(&long.encode()).is_err());
        assert!(InclusionProof::decode(&short.encode()).is_err());
        assert!(InclusionProof::decode(&out_of_range.encode()).is_err());
    }

    #[test]
    fn huge_tree_sizes_decode_and_verify_cheaply() {
        let proof = InclusionProof {
            leaf_index: 0,
            tree_size: u64::MAX,
            path: vec![Hash::ZERO; 64],
        };
        assert_eq!(
            path_length(proof.leaf_index, proof.tree_size),
            MERKLE_PATH_MAX
        );
        assert_eq!(path_length(u64::MAX - 1, u64::MAX), 63);
        let decoded = InclusionProof::decode(&proof.encode()).unwrap();
        assert_eq!(decoded, proof);
        assert_eq!(
            decoded.verify(&Hash::ZERO, &Hash::ZERO),
            Err(MerkleError::RootMismatch)
        );
    }
}
