//! BLAKE2b-256 hashing, always under a [`Domain`].
//!
//! Every hash in ITC is `BLAKE2b-256(domain_tag || data)`, where the tag is a
//! fixed 8-byte string unique to the purpose. Two hashes of the same bytes for
//! different purposes therefore never collide, and there is deliberately no
//! public "bare" hash function.
//!
//! ```
//! use itc_core::hash::{Domain, Hash};
//! let a = Hash::of(Domain::Transaction, b"payload");
//! let b = Hash::of(Domain::BlockHeader, b"payload");
//! assert_ne!(a, b);
//! ```

use blake2::digest::consts::U32;
use blake2::digest::Digest;
use core::fmt;

/// Length of a hash in bytes.
pub const HASH_LEN: usize = 32;

type Blake2b256 = blake2::Blake2b<U32>;

/// The purpose a hash is computed for. Each has a distinct 8-byte tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Domain {
    /// Identifier of a main-chain transaction.
    Transaction,
    /// Identifier of a block header.
    BlockHeader,
    /// A consensus vote.
    Vote,
    /// A leaf of a transaction Merkle tree (RFC 6962 style).
    MerkleLeaf,
    /// An inner node of a transaction Merkle tree.
    MerkleNode,
    /// The root of an empty transaction Merkle tree.
    MerkleEmpty,
    /// Identifier of a DAG side-chain transaction.
    DagTransaction,
    /// The proof of work of a DAG transaction.
    ProofOfWork,
    /// A key in the state tree.
    StateKey,
    /// A value stored in the state tree.
    StateValue,
    /// A leaf of the sparse Merkle state tree.
    StateLeaf,
    /// An inner node of the sparse Merkle state tree.
    StateNode,
    /// A validator set.
    ValidatorSet,
    /// A DAG anchor carried by a main-chain block.
    DagAnchor,
    /// Genesis configuration.
    Genesis,
    /// A view-change message, referenced by its digest in a new view.
    ViewChange,
    /// A firmware image, hashed as it streams in ([`crate::firmware`]).
    FirmwareImage,
    /// Derivation of a sealing (HPKE) key pair from a signing seed, and the
    /// short identifier of a sealing public key ([`crate::seal`]).
    SealKey,
}

impl Domain {
    /// The 8-byte tag prepended to the hashed data.
    pub const fn tag(self) -> &'static [u8; 8] {
        match self {
            Domain::Transaction => b"itc:tx\0\0",
            Domain::BlockHeader => b"itc:hdr\0",
            Domain::Vote => b"itc:vote",
            Domain::MerkleLeaf => b"itc:mlf\0",
            Domain::MerkleNode => b"itc:mnd\0",
            Domain::MerkleEmpty => b"itc:mem\0",
            Domain::DagTransaction => b"itc:dag\0",
            Domain::ProofOfWork => b"itc:pow\0",
            Domain::StateKey => b"itc:skey",
            Domain::StateValue => b"itc:sval",
            Domain::StateLeaf => b"itc:slf\0",
            Domain::StateNode => b"itc:snd\0",
            Domain::ValidatorSet => b"itc:vset",
            Domain::DagAnchor => b"itc:anch",
            Domain::Genesis => b"itc:gen\0",
            Domain::ViewChange => b"itc:vchg",
            Domain::FirmwareImage => b"itc:fwim",
            Domain::SealKey => b"itc:seal",
        }
    }
}

/// A 32-byte BLAKE2b-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_LEN]);

impl Hash {
    /// The all-zero hash, used as the "empty" placeholder in trees and as the
    /// previous hash of the first block.
    pub const ZERO: Hash = Hash([0u8; HASH_LEN]);

    /// Hash `data` under `domain`.
    pub fn of(domain: Domain, data: &[u8]) -> Hash {
        Hash::of_parts(domain, &[data])
    }

    /// Hash the concatenation of `parts` under `domain`, without copying.
    pub fn of_parts(domain: Domain, parts: &[&[u8]]) -> Hash {
        let mut hasher = Hasher::new(domain);
        for part in parts {
            hasher.update(part);
        }
        hasher.finalize()
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Bit `index` (0 = most significant bit of byte 0).
    #[inline]
    pub fn bit(&self, index: usize) -> bool {
        debug_assert!(index < HASH_LEN * 8);
        (self.0[index / 8] >> (7 - (index % 8))) & 1 == 1
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Incremental domain-separated hasher.
///
/// ```
/// use itc_core::hash::{Domain, Hash, Hasher};
/// let mut h = Hasher::new(Domain::StateKey);
/// h.update(b"ab");
/// h.update(b"c");
/// assert_eq!(h.finalize(), Hash::of(Domain::StateKey, b"abc"));
/// ```
#[derive(Clone)]
pub struct Hasher(Blake2b256);

impl Hasher {
    /// Start a hash under `domain`.
    pub fn new(domain: Domain) -> Self {
        let mut inner = Blake2b256::new();
        inner.update(domain.tag());
        Hasher(inner)
    }

    /// Feed more bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Finish and return the digest.
    pub fn finalize(self) -> Hash {
        Hash(self.0.finalize().into())
    }
}

/// `Hash::of_parts(domain, parts)` for each `parts` of `inputs`, appended to
/// `out` in order.
///
/// With `std`, the inputs are hashed several at a time in SIMD lanes (AVX2
/// or SSE4.1, detected at run time) by `blake2b_simd`; the digests are the
/// same BLAKE2b-256 as [`Hash::of_parts`]'s.
pub(crate) fn hash_each<const N: usize>(
    domain: Domain,
    inputs: &[[&[u8]; N]],
    out: &mut alloc::vec::Vec<Hash>,
) {
    #[cfg(feature = "std")]
    if inputs.len() > 1 {
        // Each input, tag first, one after another.
        let mut bytes = alloc::vec::Vec::new();
        let mut ends = alloc::vec::Vec::with_capacity(inputs.len());
        for parts in inputs {
            bytes.extend_from_slice(domain.tag());
            for part in parts {
                bytes.extend_from_slice(part);
            }
            ends.push(bytes.len());
        }
        let mut start = 0;
        hash_tagged_many(
            ends.iter().map(|&end| {
                let input = &bytes[start..end];
                start = end;
                input
            }),
            out,
        );
        return;
    }
    out.extend(inputs.iter().map(|parts| Hash::of_parts(domain, parts)));
}

/// [`hash_each`] of pairs of hashes: `Hash::of_parts(domain, &[&a.0,
/// &b.0])` for each `[a, b]`.
pub(crate) fn hash_pairs(domain: Domain, pairs: &[[Hash; 2]], out: &mut alloc::vec::Vec<Hash>) {
    #[cfg(feature = "std")]
    if pairs.len() > 1 {
        const INPUT_LEN: usize = 8 + 2 * HASH_LEN;
        let inputs: alloc::vec::Vec<[u8; INPUT_LEN]> = pairs
            .iter()
            .map(|[a, b]| {
                let mut input = [0u8; INPUT_LEN];
                input[..8].copy_from_slice(domain.tag());
                input[8..8 + HASH_LEN].copy_from_slice(&a.0);
                input[8 + HASH_LEN..].copy_from_slice(&b.0);
                input
            })
            .collect();
        hash_tagged_many(inputs.iter().map(|input| &input[..]), out);
        return;
    }
    out.extend(
        pairs
            .iter()
            .map(|[a, b]| Hash::of_parts(domain, &[&a.0, &b.0])),
    );
}

/// BLAKE2b-256 of each input (its domain tag included already), side by
/// side in SIMD lanes, appended to `out` in order.
#[cfg(feature = "std")]
fn hash_tagged_many<'a>(inputs: impl Iterator<Item = &'a [u8]>, out: &mut alloc::vec::Vec<Hash>) {
    use blake2b_simd::many::{hash_many, HashManyJob};
    let mut params = blake2b_simd::Params::new();
    params.hash_length(HASH_LEN);
    let mut jobs: alloc::vec::Vec<HashManyJob<'_>> = inputs
        .map(|input| HashManyJob::new(&params, input))
        .collect();
    hash_many(jobs.iter_mut());
    out.extend(jobs.iter().map(|job| {
        let mut hash = Hash::ZERO;
        hash.0
            .copy_from_slice(&job.to_hash().as_bytes()[..HASH_LEN]);
        hash
    }));
}

/// Plain BLAKE2b-256 without a domain tag. Crate-private on purpose: only the
/// known-answer tests use it.
#[cfg(test)]
pub(crate) fn blake2b_256_raw(data: &[u8]) -> Hash {
    Hash(Blake2b256::digest(data).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn unhex(s: &str) -> Vec<u8> {
        crate::hex::decode(s).unwrap()
    }

    /// The lane-parallel path gives the digests of the one-at-a-time path,
    /// for every count (partial groups of lanes included), and appends.
    #[test]
    fn hash_pairs_match_of_parts() {
        let hash = |i: u32| Hash::of(Domain::StateValue, &i.to_le_bytes());
        for count in 0..19u32 {
            let pairs: Vec<[Hash; 2]> =
                (0..count).map(|i| [hash(2 * i), hash(2 * i + 1)]).collect();
            let mut out = alloc::vec![Hash::ZERO];
            hash_pairs(Domain::StateNode, &pairs, &mut out);
            assert_eq!(out.len(), 1 + pairs.len());
            assert_eq!(out[0], Hash::ZERO);
            for ([a, b], got) in pairs.iter().zip(&out[1..]) {
                assert_eq!(*got, Hash::of_parts(Domain::StateNode, &[&a.0, &b.0]));
            }
        }
    }

    /// Inputs of different lengths (several blocks, empty parts) in one
    /// call hash as they do one at a time.
    #[test]
    fn hash_each_matches_of_parts_for_mixed_lengths() {
        let data: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        let inputs: Vec<[&[u8]; 2]> = [0usize, 1, 55, 119, 120, 121, 128, 300, 650]
            .iter()
            .map(|&len| [&data[..len], &data[len..len + 50]])
            .collect();
        let mut out = Vec::new();
        hash_each(Domain::StateValue, &inputs, &mut out);
        assert_eq!(out.len(), inputs.len());
        for (parts, got) in inputs.iter().zip(&out) {
            assert_eq!(*got, Hash::of_parts(Domain::StateValue, parts));
        }
    }

    /// Known answers for BLAKE2b with a 32-byte digest (parameter block
    /// digest_length = 32, no key), as published for BLAKE2b-256.
    #[test]
    fn blake2b_256_known_answers() {
        assert_eq!(
            blake2b_256_raw(b"").0.to_vec(),
            unhex("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
        );
        assert_eq!(
            blake2b_256_raw(b"abc").0.to_vec(),
            unhex("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
        );
    }

    /// RFC 7693 appendix A: BLAKE2b-512("abc"), and the first entries of the
    /// official keyed known-answer file (blake2b-kat.txt, key = 00..3f).
    #[test]
    fn blake2b_official_vectors() {
        let digest = blake2::Blake2b512::digest(b"abc");
        assert_eq!(
            digest.to_vec(),
            unhex(
                "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
                 7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
            )
        );
        use blake2::digest::Mac;
        let key: Vec<u8> = (0u8..64).collect();
        let mut mac = blake2::Blake2bMac512::new_from_slice(&key).unwrap();
        mac.update(b"");
        assert_eq!(
            mac.finalize().into_bytes().to_vec(),
            unhex(
                "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786\
                 b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568"
            )
        );
        let mut mac = blake2::Blake2bMac512::new_from_slice(&key).unwrap();
        mac.update(&[0u8]);
        assert_eq!(
            mac.finalize().into_bytes().to_vec(),
            unhex(
                "961f6dd1e4dd30f63901690c512e78e4b45e4742ed197c3c5e45c549fd25f2e4\
                 187b0bc9fe30492b16b0d0bc4ef9b0f34c7003fac09a5ef1532e69430234cebd"
            )
        );
    }

    #[test]
    fn domain_hash_is_tag_then_data() {
        let mut tagged = Domain::Vote.tag().to_vec();
        tagged.extend_from_slice(b"xyz");
        assert_eq!(Hash::of(Domain::Vote, b"xyz"), blake2b_256_raw(&tagged));
    }

    #[test]
    fn domains_are_distinct() {
        let all = [
            Domain::Transaction,
            Domain::BlockHeader,
            Domain::Vote,
            Domain::MerkleLeaf,
            Domain::MerkleNode,
            Domain::MerkleEmpty,
            Domain::DagTransaction,
            Domain::ProofOfWork,
            Domain::StateKey,
            Domain::StateValue,
            Domain::StateLeaf,
            Domain::StateNode,
            Domain::ValidatorSet,
            Domain::DagAnchor,
            Domain::Genesis,
            Domain::ViewChange,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.tag(), b.tag());
                assert_ne!(Hash::of(*a, b"same"), Hash::of(*b, b"same"));
            }
        }
    }
}
