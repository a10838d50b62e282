//! Secure aggregation with dropouts: pairwise masks agreed over X25519.
//!
//! This is the single-masking protocol of Bonawitz et al. (2017, "Practical
//! Secure Aggregation for Privacy-Preserving Machine Learning") without its
//! Shamir part: a contribution that arrives after the contribution deadline
//! is refused rather than recovered, so no member ever has to reveal a seed
//! it shares with a *survivor*.
//!
//! # Protocol
//!
//! Every cohort member publishes an X25519 key ([`MaskPublic`]) on chain. The
//! cohort is the list of [`Member`]s sorted by account, strictly increasing;
//! a member's index in that list is its position. Members `i` and `j` share
//! a [`PairSeed`] (see [`pair_seed`]) that both compute from their own secret
//! and the other's public key. The seed is expanded by [`expand`] into one
//! `u64` mask and one scalar mask per cell.
//!
//! Member `i` publishes, for each cell `c`,
//!
//! ```text
//! masked[c]   = y[c] + Σ_{j≠i} s(i,j) · value_mask_ij[c]    (mod 2^64)
//! blinding[c] = r[c] + Σ_{j≠i} s(i,j) · scalar_mask_ij[c]   (mod ℓ)
//! ```
//!
//! with `s(i,j) = +1` if `i < j` and `−1` if `i > j`. Summed over the whole
//! cohort the masks cancel pairwise. When members drop out, every survivor
//! `i` reveals the seeds it shares with each dropped member `j` (an
//! [`Unmask`]), and [`aggregate`] removes the now unbalanced terms. Seeds
//! between two survivors are never revealed: [`aggregate`] refuses an
//! [`Unmask`] that carries one.
//!
//! A wrong or tampered seed makes the aggregate wrong; it is caught by the
//! Pedersen commitment check of [`crate::proof::check_sum`] at close.

use blake2::digest::consts::U32;
use blake2::digest::Mac;
use blake2::Blake2bMac;
use curve25519_dalek::scalar::Scalar;
use itc_core::encoding::{write_len, Decode, DecodeError, Encode, Reader};
use itc_core::{Hash, PublicKey};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Domain label of the pair-seed derivation (the BLAKE2b MAC's first input).
pub const PAIR_SEED_LABEL: &[u8] = b"itc:chaincode:mask:v1";

/// Largest cohort the masking code accepts (and the cap on the number of
/// seeds an [`Unmask`] may carry).
pub const COHORT_MAX: usize = 1024;

/// Why masking, unmasking or aggregation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecAggError {
    /// The cohort is not sorted by account, strictly increasing.
    #[error("cohort is not sorted by account (strictly increasing)")]
    UnsortedCohort,
    /// The cohort has more than [`COHORT_MAX`] members.
    #[error("cohort of {len} members exceeds the maximum {max}")]
    CohortTooLarge {
        /// Members given.
        len: usize,
        /// [`COHORT_MAX`].
        max: usize,
    },
    /// A member index is outside the cohort.
    #[error("member index {index} outside a cohort of {len}")]
    IndexOutOfRange {
        /// Index given.
        index: usize,
        /// Cohort size.
        len: usize,
    },
    /// The secret's public key is not the mask key the cohort lists for us.
    #[error("mask secret does not match the member's published mask key")]
    KeyMismatch,
    /// A pair of a member with itself was asked for.
    #[error("a member has no pair seed with itself")]
    SelfPair,
    /// The X25519 shared secret with this member is all zero (its published
    /// key is a low-order point).
    #[error("weak (low-order) mask key of member {member:?}")]
    WeakKey {
        /// The member whose key is weak.
        member: PublicKey,
    },
    /// A vector does not have the expected number of cells.
    #[error("expected {expected} cells, found {found}")]
    LengthMismatch {
        /// Cells expected.
        expected: usize,
        /// Cells found.
        found: usize,
    },
    /// Two contributions name the same member.
    #[error("two contributions from member index {index}")]
    DuplicateContribution {
        /// The member index.
        index: usize,
    },
    /// No contribution at all: there is nothing to aggregate.
    #[error("no surviving contribution")]
    NoSurvivors,
    /// A dropped-member index is listed twice, or is the unmasking member.
    #[error("invalid dropout list at index {index}")]
    InvalidDropout {
        /// The offending index.
        index: usize,
    },
    /// A survivor did not reveal the seed it shares with a dropped member.
    #[error("survivor {survivor:?} did not reveal its seed with dropped member {dropped:?}")]
    MissingSeed {
        /// The survivor.
        survivor: PublicKey,
        /// The dropped member.
        dropped: PublicKey,
    },
    /// An unmask comes from an account that is not a survivor.
    #[error("unmask from {member:?}, who is not a surviving contributor")]
    UnmaskFromNonSurvivor {
        /// The account named by the unmask.
        member: PublicKey,
    },
    /// Two unmasks from the same survivor.
    #[error("two unmasks from {member:?}")]
    DuplicateUnmask {
        /// The survivor.
        member: PublicKey,
    },
    /// An unmask reveals a seed about a member that did not drop out
    /// (revealing it would expose two survivors' vectors) or that is not in
    /// the cohort.
    #[error(
        "unmask from {survivor:?} reveals a seed about {other:?}, who is not a dropped member"
    )]
    SeedNotAboutDropped {
        /// The survivor who revealed it.
        survivor: PublicKey,
        /// The member the seed is about.
        other: PublicKey,
    },
    /// An unmask reveals the same seed twice.
    #[error("unmask from {survivor:?} lists its seed with {dropped:?} twice")]
    DuplicateSeed {
        /// The survivor.
        survivor: PublicKey,
        /// The dropped member.
        dropped: PublicKey,
    },
}

/// A member's X25519 mask secret. Zeroized on drop; its `Debug` output does
/// not show the secret.
pub struct MaskSecret(x25519_dalek::StaticSecret);

impl MaskSecret {
    /// A fresh random secret.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        MaskSecret(x25519_dalek::StaticSecret::random_from_rng(rng))
    }

    /// The secret from its 32 bytes (clamped by X25519 when used).
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let secret = x25519_dalek::StaticSecret::from(bytes);
        bytes.zeroize();
        MaskSecret(secret)
    }

    /// The secret's 32 bytes, for storage. Keep them secret.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public key to publish on chain.
    pub fn public(&self) -> MaskPublic {
        MaskPublic(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }
}

impl fmt::Debug for MaskSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskSecret")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// A member's published X25519 mask key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MaskPublic(pub [u8; 32]);

impl MaskPublic {
    /// Whether a key agreement with this key is contributory (the key is
    /// not of low order): checked when a member joins, so that no member
    /// can publish a key that makes every other member's masking fail.
    pub fn is_contributory(&self) -> bool {
        // Any fixed non-zero scalar works: a low-order point gives the
        // all-zero shared secret whatever the scalar.
        let probe = x25519_dalek::StaticSecret::from([0x5a; 32]);
        probe
            .diffie_hellman(&x25519_dalek::PublicKey::from(self.0))
            .was_contributory()
    }
}

impl Encode for MaskPublic {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for MaskPublic {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(MaskPublic(reader.read_array()?))
    }
}

/// A cohort member: its account and its published mask key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// The member's account.
    pub account: PublicKey,
    /// The member's X25519 mask key.
    pub mask_key: MaskPublic,
}

/// The secret seed two members share, from which their masks are expanded.
#[derive(Clone, Copy, PartialEq, Eq, Zeroize)]
pub struct PairSeed(pub [u8; 32]);

impl fmt::Debug for PairSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PairSeed(..)")
    }
}

impl Encode for PairSeed {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for PairSeed {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PairSeed(reader.read_array()?))
    }
}

/// Check that the cohort is sorted by account, strictly increasing, and not
/// larger than [`COHORT_MAX`].
///
/// # Errors
/// [`SecAggError::UnsortedCohort`] or [`SecAggError::CohortTooLarge`].
pub fn check_cohort(cohort: &[Member]) -> Result<(), SecAggError> {
    if cohort.len() > COHORT_MAX {
        return Err(SecAggError::CohortTooLarge {
            len: cohort.len(),
            max: COHORT_MAX,
        });
    }
    if cohort.windows(2).any(|w| w[0].account >= w[1].account) {
        return Err(SecAggError::UnsortedCohort);
    }
    Ok(())
}

/// The seed `me` shares with `other` for `campaign`.
///
/// `seed = BLAKE2b-256-MAC(key = X25519(secret, other.mask_key),
/// PAIR_SEED_LABEL ‖ campaign ‖ min(account) ‖ max(account))`, so both sides
/// obtain the same seed.
///
/// # Errors
/// [`SecAggError::KeyMismatch`] if `secret` is not `me`'s mask secret,
/// [`SecAggError::SelfPair`] if both are the same account,
/// [`SecAggError::WeakKey`] if the shared secret is all zero.
pub fn pair_seed(
    secret: &MaskSecret,
    me: &Member,
    other: &Member,
    campaign: &Hash,
) -> Result<PairSeed, SecAggError> {
    if secret.public() != me.mask_key {
        return Err(SecAggError::KeyMismatch);
    }
    if me.account == other.account {
        return Err(SecAggError::SelfPair);
    }
    let shared = secret
        .0
        .diffie_hellman(&x25519_dalek::PublicKey::from(other.mask_key.0));
    if !shared.was_contributory() {
        return Err(SecAggError::WeakKey {
            member: other.account,
        });
    }
    let (low, high) = if me.account < other.account {
        (&me.account, &other.account)
    } else {
        (&other.account, &me.account)
    };
    // A 32-byte key is always a valid BLAKE2b key (at most 64 bytes).
    let mut mac = <Blake2bMac<U32> as Mac>::new_from_slice(shared.as_bytes())
        .map_err(|_| SecAggError::KeyMismatch)?;
    mac.update(PAIR_SEED_LABEL);
    mac.update(&campaign.0);
    mac.update(&low.0);
    mac.update(&high.0);
    let out = mac.finalize().into_bytes();
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&out);
    Ok(PairSeed(seed))
}

/// Expand a pair seed into `cells` value masks and `cells` scalar masks.
///
/// Wire-level contract (both sides and the validators must agree): the
/// ChaCha20 keystream of `rand_chacha` 0.3's `ChaCha20Rng::from_seed(seed)`
/// (20 rounds, stream 0, counter from 0) is read in order:
///
/// 1. `cells` value masks, each `next_u64()` (8 keystream bytes, little
///    endian);
/// 2. then `cells` scalar masks, each 64 keystream bytes reduced with
///    `Scalar::from_bytes_mod_order_wide`.
pub fn expand(seed: &PairSeed, cells: usize) -> (Vec<u64>, Vec<Scalar>) {
    let mut rng = ChaCha20Rng::from_seed(seed.0);
    let values = (0..cells).map(|_| rng.next_u64()).collect();
    let mut wide = Zeroizing::new([0u8; 64]);
    let scalars = (0..cells)
        .map(|_| {
            rng.fill_bytes(&mut wide[..]);
            Scalar::from_bytes_mod_order_wide(&wide)
        })
        .collect();
    (values, scalars)
}

fn check_index(index: usize, cohort: &[Member]) -> Result<(), SecAggError> {
    if index >= cohort.len() {
        return Err(SecAggError::IndexOutOfRange {
            index,
            len: cohort.len(),
        });
    }
    Ok(())
}

/// Add (`plus`) or subtract the masks expanded from `seed` into the vectors.
fn apply(seed: &PairSeed, plus: bool, values: &mut [u64], blindings: &mut [Scalar]) {
    let (value_masks, scalar_masks) = expand(seed, values.len());
    for (v, m) in values.iter_mut().zip(value_masks) {
        *v = if plus {
            v.wrapping_add(m)
        } else {
            v.wrapping_sub(m)
        };
    }
    for (b, m) in blindings.iter_mut().zip(scalar_masks) {
        *b = if plus { *b + m } else { *b - m };
    }
}

/// Mask member `me`'s values and blindings for the cohort.
///
/// # Errors
/// Any cohort or index error, [`SecAggError::LengthMismatch`] if the two
/// vectors differ in length, [`SecAggError::KeyMismatch`] if `secret` is not
/// the mask secret of `cohort[me]`, [`SecAggError::WeakKey`].
pub fn mask(
    values: &[u64],
    blindings: &[Scalar],
    me: usize,
    cohort: &[Member],
    secret: &MaskSecret,
    campaign: &Hash,
) -> Result<(Vec<u64>, Vec<Scalar>), SecAggError> {
    check_cohort(cohort)?;
    check_index(me, cohort)?;
    if values.len() != blindings.len() {
        return Err(SecAggError::LengthMismatch {
            expected: values.len(),
            found: blindings.len(),
        });
    }
    if secret.public() != cohort[me].mask_key {
        return Err(SecAggError::KeyMismatch);
    }
    let mut masked_values = values.to_vec();
    let mut masked_blindings = blindings.to_vec();
    for (j, other) in cohort.iter().enumerate() {
        if j == me {
            continue;
        }
        let mut seed = pair_seed(secret, &cohort[me], other, campaign)?;
        apply(&seed, me < j, &mut masked_values, &mut masked_blindings);
        seed.zeroize();
    }
    Ok((masked_values, masked_blindings))
}

/// A survivor's reveal of the seeds it shares with each dropped member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmask {
    /// The surviving member revealing the seeds.
    pub member: PublicKey,
    /// One seed per dropped member: (dropped member's account, seed).
    pub seeds: Vec<(PublicKey, PairSeed)>,
}

impl Encode for Unmask {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.member.encode_to(out);
        write_len(out, self.seeds.len());
        for (account, seed) in &self.seeds {
            account.encode_to(out);
            seed.encode_to(out);
        }
    }
}

impl Decode for Unmask {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let member = PublicKey::decode_from(reader)?;
        let len = reader.read_len("unmask seeds", COHORT_MAX)?;
        let mut seeds = Vec::with_capacity(len.min(reader.remaining() / 64));
        for _ in 0..len {
            let account = PublicKey::decode_from(reader)?;
            let seed = PairSeed::decode_from(reader)?;
            seeds.push((account, seed));
        }
        Ok(Unmask { member, seeds })
    }
}

/// The [`Unmask`] survivor `me` publishes: its seed with every member of
/// `dropped` (indices into `cohort`), in the order given.
///
/// # Errors
/// Cohort and index errors, [`SecAggError::InvalidDropout`] if `dropped`
/// lists `me` or an index twice, [`SecAggError::KeyMismatch`],
/// [`SecAggError::WeakKey`].
pub fn unmask_for(
    secret: &MaskSecret,
    me: usize,
    cohort: &[Member],
    dropped: &[usize],
    campaign: &Hash,
) -> Result<Unmask, SecAggError> {
    check_cohort(cohort)?;
    check_index(me, cohort)?;
    let mut seen = vec![false; cohort.len()];
    seen[me] = true;
    let mut seeds = Vec::with_capacity(dropped.len());
    for &j in dropped {
        check_index(j, cohort)?;
        if seen[j] {
            return Err(SecAggError::InvalidDropout { index: j });
        }
        seen[j] = true;
        let seed = pair_seed(secret, &cohort[me], &cohort[j], campaign)?;
        seeds.push((cohort[j].account, seed));
    }
    Ok(Unmask {
        member: cohort[me].account,
        seeds,
    })
}

fn position(cohort: &[Member], account: &PublicKey) -> Option<usize> {
    cohort.binary_search_by(|m| m.account.cmp(account)).ok()
}

/// Sum the survivors' masked vectors and remove the masks toward dropped
/// members.
///
/// `contributions` are `(member index, masked values, masked blindings)`;
/// every cohort member without a contribution is a dropped member. For every
/// survivor `i` and dropped member `j`, `i` must have revealed its seed with
/// `j` in `unmasks`. The result is the sum of the survivors' clear values
/// (mod 2^64) and of their blindings (mod ℓ).
///
/// # Errors
/// Cohort and index errors, [`SecAggError::LengthMismatch`],
/// [`SecAggError::DuplicateContribution`], [`SecAggError::NoSurvivors`],
/// [`SecAggError::UnmaskFromNonSurvivor`], [`SecAggError::DuplicateUnmask`],
/// [`SecAggError::SeedNotAboutDropped`], [`SecAggError::DuplicateSeed`],
/// [`SecAggError::MissingSeed`].
pub fn aggregate(
    cells: usize,
    cohort: &[Member],
    contributions: &[(usize, &[u64], &[Scalar])],
    unmasks: &[Unmask],
    campaign: &Hash,
) -> Result<(Vec<u64>, Vec<Scalar>), SecAggError> {
    let _ = campaign; // seeds are already campaign-bound; kept for symmetry
    check_cohort(cohort)?;
    if contributions.is_empty() {
        return Err(SecAggError::NoSurvivors);
    }
    let mut survivor = vec![false; cohort.len()];
    let mut values = vec![0u64; cells];
    let mut blindings = vec![Scalar::ZERO; cells];
    for &(index, v, b) in contributions {
        check_index(index, cohort)?;
        if survivor[index] {
            return Err(SecAggError::DuplicateContribution { index });
        }
        survivor[index] = true;
        for len in [v.len(), b.len()] {
            if len != cells {
                return Err(SecAggError::LengthMismatch {
                    expected: cells,
                    found: len,
                });
            }
        }
        for (acc, x) in values.iter_mut().zip(v) {
            *acc = acc.wrapping_add(*x);
        }
        for (acc, x) in blindings.iter_mut().zip(b) {
            *acc += x;
        }
    }
    let dropped: Vec<usize> = (0..cohort.len()).filter(|&j| !survivor[j]).collect();

    // seeds[i][k]: survivor i's seed with the k-th dropped member.
    let mut by_survivor: Vec<Option<Vec<Option<PairSeed>>>> = vec![None; cohort.len()];
    for unmask in unmasks {
        let i = match position(cohort, &unmask.member) {
            Some(i) if survivor[i] => i,
            _ => {
                return Err(SecAggError::UnmaskFromNonSurvivor {
                    member: unmask.member,
                })
            }
        };
        if by_survivor[i].is_some() {
            return Err(SecAggError::DuplicateUnmask {
                member: unmask.member,
            });
        }
        let mut slots: Vec<Option<PairSeed>> = vec![None; dropped.len()];
        for (other, seed) in &unmask.seeds {
            let k = position(cohort, other)
                .and_then(|j| dropped.binary_search(&j).ok())
                .ok_or(SecAggError::SeedNotAboutDropped {
                    survivor: unmask.member,
                    other: *other,
                })?;
            if slots[k].is_some() {
                return Err(SecAggError::DuplicateSeed {
                    survivor: unmask.member,
                    dropped: *other,
                });
            }
            slots[k] = Some(*seed);
        }
        by_survivor[i] = Some(slots);
    }

    for &(i, _, _) in contributions {
        for (k, &j) in dropped.iter().enumerate() {
            let seed = by_survivor[i].as_ref().and_then(|slots| slots[k]).ok_or(
                SecAggError::MissingSeed {
                    survivor: cohort[i].account,
                    dropped: cohort[j].account,
                },
            )?;
            // Survivor i added s(i,j)·mask: remove it.
            apply(&seed, i > j, &mut values, &mut blindings);
        }
    }
    for slots in by_survivor.iter_mut().flatten() {
        for seed in slots.iter_mut().flatten() {
            seed.zeroize();
        }
    }
    Ok((values, blindings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_core::RngCore;

    fn campaign() -> Hash {
        Hash([7u8; 32])
    }

    /// A cohort of `n` members (sorted accounts) with their secrets.
    fn cohort(n: usize, seed: u64) -> (Vec<Member>, Vec<MaskSecret>) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut members: Vec<(Member, MaskSecret)> = (0..n)
            .map(|i| {
                let secret = MaskSecret::generate(&mut rng);
                let mut account = [0u8; 32];
                rng.fill_bytes(&mut account);
                account[0] = i as u8; // distinct accounts
                (
                    Member {
                        account: PublicKey(account),
                        mask_key: secret.public(),
                    },
                    secret,
                )
            })
            .collect();
        members.sort_by_key(|m| m.0.account);
        members.into_iter().unzip()
    }

    #[test]
    fn pair_seed_is_symmetric_and_campaign_bound() {
        let (c, s) = cohort(3, 1);
        let ab = pair_seed(&s[0], &c[0], &c[1], &campaign()).unwrap();
        let ba = pair_seed(&s[1], &c[1], &c[0], &campaign()).unwrap();
        assert!(ab == ba);
        let ac = pair_seed(&s[0], &c[0], &c[2], &campaign()).unwrap();
        assert!(ab != ac);
        let other = pair_seed(&s[0], &c[0], &c[1], &Hash([8u8; 32])).unwrap();
        assert!(ab != other);
        assert_eq!(
            pair_seed(&s[0], &c[0], &c[0], &campaign()),
            Err(SecAggError::SelfPair)
        );
        assert_eq!(
            pair_seed(&s[1], &c[0], &c[1], &campaign()),
            Err(SecAggError::KeyMismatch)
        );
    }

    #[test]
    fn low_order_key_is_refused() {
        let (mut c, s) = cohort(2, 2);
        c[1].mask_key = MaskPublic([0u8; 32]);
        assert_eq!(
            pair_seed(&s[0], &c[0], &c[1], &campaign()),
            Err(SecAggError::WeakKey {
                member: c[1].account
            })
        );
        // Masking toward that member fails too rather than using a public seed.
        assert!(matches!(
            mask(&[1], &[Scalar::ONE], 0, &c, &s[0], &campaign()),
            Err(SecAggError::WeakKey { .. })
        ));
    }

    #[test]
    fn secret_round_trips_and_debug_hides_it() {
        let s = MaskSecret::from_bytes([9u8; 32]);
        let t = MaskSecret::from_bytes(*s.to_bytes());
        assert_eq!(s.public(), t.public());
        let printed = format!("{s:?}");
        assert!(!printed.contains("9, 9"));
        assert_eq!(format!("{:?}", PairSeed([1; 32])), "PairSeed(..)");
    }

    #[test]
    fn expand_follows_the_documented_keystream_layout() {
        let seed = PairSeed([3u8; 32]);
        let (v, s) = expand(&seed, 3);
        let mut stream = vec![0u8; 3 * 8 + 3 * 64];
        ChaCha20Rng::from_seed(seed.0).fill_bytes(&mut stream);
        for c in 0..3 {
            let mut w = [0u8; 8];
            w.copy_from_slice(&stream[8 * c..8 * c + 8]);
            assert_eq!(v[c], u64::from_le_bytes(w));
            let mut wide = [0u8; 64];
            wide.copy_from_slice(&stream[24 + 64 * c..24 + 64 * c + 64]);
            assert_eq!(s[c], Scalar::from_bytes_mod_order_wide(&wide));
        }
    }

    #[test]
    fn unsorted_cohort_is_refused() {
        let (mut c, s) = cohort(3, 3);
        c.swap(0, 1);
        assert_eq!(
            mask(&[1], &[Scalar::ONE], 0, &c, &s[1], &campaign()),
            Err(SecAggError::UnsortedCohort)
        );
        let dup = vec![c[0], c[0]];
        assert_eq!(check_cohort(&dup), Err(SecAggError::UnsortedCohort));
    }

    #[test]
    fn masked_vector_differs_from_the_clear_one() {
        let (c, s) = cohort(3, 4);
        let values = [5u64, 0, 17, 1];
        let blindings = [Scalar::ONE; 4];
        let (mv, mb) = mask(&values, &blindings, 1, &c, &s[1], &campaign()).unwrap();
        for k in 0..4 {
            assert_ne!(mv[k], values[k]);
            assert_ne!(mb[k], blindings[k]);
        }
    }

    /// Per member: (values, blindings).
    type Vectors = Vec<(Vec<u64>, Vec<Scalar>)>;

    /// Cohort, secrets, survivors, dropped, clear vectors, masked vectors.
    type Run = (
        Vec<Member>,
        Vec<MaskSecret>,
        Vec<usize>,
        Vec<usize>,
        Vectors,
        Vectors,
    );

    fn run(n: usize, seed: u64, cells: usize, drop_mask: u8) -> Run {
        let (c, s) = cohort(n, seed);
        let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0x55);
        let clear: Vectors = (0..n)
            .map(|_| {
                let v = (0..cells).map(|_| rng.next_u64()).collect();
                let b = (0..cells).map(|_| Scalar::random(&mut rng)).collect();
                (v, b)
            })
            .collect();
        let survivors: Vec<usize> = (0..n).filter(|i| drop_mask & (1 << i) == 0).collect();
        let dropped: Vec<usize> = (0..n).filter(|i| drop_mask & (1 << i) != 0).collect();
        let masked = (0..n)
            .map(|i| mask(&clear[i].0, &clear[i].1, i, &c, &s[i], &campaign()).unwrap())
            .collect();
        (c, s, survivors, dropped, clear, masked)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn aggregate_equals_the_survivors_sum(
            n in 2usize..=8,
            seed in any::<u64>(),
            cells in 1usize..=4,
            drop_mask in any::<u8>(),
        ) {
            let mut drop_mask = drop_mask & ((1u16 << n) - 1) as u8;
            if drop_mask.count_ones() as usize == n {
                drop_mask &= !(1 << (seed as usize % n)); // keep one survivor
            }
            let (c, s, survivors, dropped, clear, masked) = run(n, seed, cells, drop_mask);
            let unmasks: Vec<Unmask> = survivors
                .iter()
                .map(|&i| unmask_for(&s[i], i, &c, &dropped, &campaign()).unwrap())
                .collect();
            let contributions: Vec<(usize, &[u64], &[Scalar])> = survivors
                .iter()
                .map(|&i| (i, &masked[i].0[..], &masked[i].1[..]))
                .collect();
            let (sum, blind) = aggregate(cells, &c, &contributions, &unmasks, &campaign()).unwrap();
            for k in 0..cells {
                let want = survivors.iter().fold(0u64, |a, &i| a.wrapping_add(clear[i].0[k]));
                let want_b = survivors.iter().fold(Scalar::ZERO, |a, &i| a + clear[i].1[k]);
                prop_assert_eq!(sum[k], want);
                prop_assert_eq!(blind[k], want_b);
            }
            // Unmask encoding round-trips.
            for u in &unmasks {
                prop_assert_eq!(&Unmask::decode(&u.encode()).unwrap(), u);
            }
            if !dropped.is_empty() {
                // A tampered seed changes the sum.
                let mut bad = unmasks.clone();
                bad[0].seeds[0].1 .0[0] ^= 1;
                let (sum2, blind2) =
                    aggregate(cells, &c, &contributions, &bad, &campaign()).unwrap();
                prop_assert!(sum2 != sum || blind2 != blind);
                // A missing unmask is reported.
                let missing = aggregate(cells, &c, &contributions, &unmasks[1..], &campaign());
                let is_missing_seed = matches!(missing, Err(SecAggError::MissingSeed { .. }));
                prop_assert!(is_missing_seed);
            }
        }
    }

    #[test]
    fn seeds_between_survivors_and_stray_unmasks_are_refused() {
        let (c, s, survivors, dropped, _clear, masked) = run(4, 11, 2, 0b0100);
        assert_eq!(dropped, vec![2]);
        let contributions: Vec<(usize, &[u64], &[Scalar])> = survivors
            .iter()
            .map(|&i| (i, &masked[i].0[..], &masked[i].1[..]))
            .collect();
        let good: Vec<Unmask> = survivors
            .iter()
            .map(|&i| unmask_for(&s[i], i, &c, &dropped, &campaign()).unwrap())
            .collect();
        // Survivor 0 also reveals its seed with survivor 1: refused.
        let mut leak = good.clone();
        leak[0] = unmask_for(&s[0], 0, &c, &[2, 1], &campaign()).unwrap();
        assert_eq!(
            aggregate(2, &c, &contributions, &leak, &campaign()),
            Err(SecAggError::SeedNotAboutDropped {
                survivor: c[0].account,
                other: c[1].account
            })
        );
        // An unmask from the dropped member: refused.
        let mut stray = good.clone();
        stray.push(unmask_for(&s[2], 2, &c, &[0], &campaign()).unwrap());
        assert_eq!(
            aggregate(2, &c, &contributions, &stray, &campaign()),
            Err(SecAggError::UnmaskFromNonSurvivor {
                member: c[2].account
            })
        );
        // Duplicates.
        let mut dup = good.clone();
        dup.push(good[0].clone());
        assert!(matches!(
            aggregate(2, &c, &contributions, &dup, &campaign()),
            Err(SecAggError::DuplicateUnmask { .. })
        ));
        let mut dup_seed = good.clone();
        let extra = dup_seed[0].seeds[0];
        dup_seed[0].seeds.push(extra);
        assert!(matches!(
            aggregate(2, &c, &contributions, &dup_seed, &campaign()),
            Err(SecAggError::DuplicateSeed { .. })
        ));
        let mut twice = contributions.clone();
        twice.push(contributions[0]);
        assert_eq!(
            aggregate(2, &c, &twice, &good, &campaign()),
            Err(SecAggError::DuplicateContribution { index: 0 })
        );
        assert_eq!(
            aggregate(2, &c, &[], &good, &campaign()),
            Err(SecAggError::NoSurvivors)
        );
        assert_eq!(
            unmask_for(&s[0], 0, &c, &[0], &campaign()),
            Err(SecAggError::InvalidDropout { index: 0 })
        );
        assert!(aggregate(2, &c, &contributions, &good, &campaign()).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn unmask_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(u) = Unmask::decode(&bytes) {
                prop_assert_eq!(u.encode(), bytes);
            }
        }
    }
}
