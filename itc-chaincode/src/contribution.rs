//! A member's contribution as validators receive it, and the close of a
//! campaign's aggregation.
//!
//! A [`Contribution`] carries, per cell, a Pedersen commitment to the clear
//! value, the range proofs over those commitments (see [`crate::proof`]), and
//! the value and the commitment's blinding, both masked (see
//! [`crate::secagg`]). Validators [`Contribution::verify`] each contribution
//! when it arrives; at the deadline [`close`] sums the masked vectors, removes
//! the dropped members' masks and checks the revealed sums against the sum of
//! the commitments, so a wrong masked value, blinding or revealed seed is
//! caught before anything is released.
//!
//! # Encoding
//!
//! ```text
//! campaign (32) ‖ member (32)
//! ‖ u32 n ‖ n × commitment (32, a valid compressed Ristretto point)
//! ‖ range proofs (see RangeProofs)
//! ‖ u32 n ‖ n × masked value (u64 LE)
//! ‖ u32 n ‖ n × masked blinding (32, canonical scalar)
//! ```
//!
//! The three counts must be equal and at most [`CELLS_MAX`].

use crate::proof::{
    self, add_columns, check_sum, CellBound, ProofError, RangeProofs, CELLS_MAX,
    RANGE_PROOFS_BYTES_MAX,
};
use crate::secagg::{self, check_cohort, MaskSecret, Member, SecAggError, Unmask};
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use itc_core::encoding::{write_len, Decode, DecodeError, Encode, Reader};
use itc_core::{Hash, PublicKey};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

/// Largest encoded [`Contribution`].
pub const CONTRIBUTION_BYTES_MAX: usize = 32
    + 32
    + (4 + CELLS_MAX * 32)
    + RANGE_PROOFS_BYTES_MAX
    + (4 + CELLS_MAX * 8)
    + (4 + CELLS_MAX * 32);

/// Why a contribution could not be built, was refused, or the close failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContributionError {
    /// A value exceeds its cell's bound: no contribution is built.
    #[error("cell {cell}: value {value} exceeds its bound {bound}")]
    ValueOutOfRange {
        /// The cell.
        cell: usize,
        /// The value.
        value: u64,
        /// The bound.
        bound: u64,
    },
    /// The number of cells does not match the schema's bounds.
    #[error("expected {expected} cells, found {found}")]
    LengthMismatch {
        /// Cells in the schema.
        expected: usize,
        /// Cells found.
        found: usize,
    },
    /// The contributing member is not in the cohort.
    #[error("member {member:?} is not in the cohort")]
    NotInCohort {
        /// The account named by the contribution.
        member: PublicKey,
    },
    /// The contribution is for another campaign.
    #[error("contribution from {member:?} is for another campaign")]
    WrongCampaign {
        /// The account named by the contribution.
        member: PublicKey,
    },
    /// The revealed sum of a cell does not open the sum of its commitments:
    /// a masked value, masked blinding or revealed seed is wrong. Nothing may
    /// be released.
    #[error("cell {cell}: the aggregate does not match the commitments")]
    SumMismatch {
        /// The first cell that does not match.
        cell: usize,
    },
    /// A commitment, range proof or bound error.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// A masking or aggregation error.
    #[error(transparent)]
    SecAgg(#[from] SecAggError),
    /// The thread that expands the masks panicked (a bug; nothing is
    /// built).
    #[error("the masking thread panicked")]
    MaskingPanicked,
}

/// One member's contribution to a campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    /// The campaign.
    pub campaign: Hash,
    /// The contributing member's account.
    pub member: PublicKey,
    /// One Pedersen commitment per cell.
    pub commitments: Vec<CompressedRistretto>,
    /// Range proofs over the commitments.
    pub proofs: RangeProofs,
    /// The masked values.
    pub masked_values: Vec<u64>,
    /// The masked commitment blindings.
    pub masked_blindings: Vec<Scalar>,
}

/// The transcript context of a member's proofs: campaign ‖ account.
fn context(campaign: &Hash, member: &PublicKey) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&campaign.0);
    out[32..].copy_from_slice(&member.0);
    out
}

fn position(cohort: &[Member], account: &PublicKey) -> Option<usize> {
    cohort.binary_search_by(|m| m.account.cmp(account)).ok()
}

fn check_len(expected: usize, found: usize) -> Result<(), ContributionError> {
    if expected != found {
        return Err(ContributionError::LengthMismatch { expected, found });
    }
    Ok(())
}

impl Contribution {
    /// Build member `me`'s contribution: commit to and prove `values` within
    /// `bounds`, then mask the values and the commitments' blindings.
    ///
    /// # Errors
    /// [`ContributionError::LengthMismatch`],
    /// [`ContributionError::ValueOutOfRange`] (checked for every cell, exact
    /// or not), cohort errors and [`SecAggError::KeyMismatch`] as
    /// [`ContributionError::SecAgg`], proof errors as
    /// [`ContributionError::Proof`].
    pub fn build<R: RngCore + CryptoRng>(
        rng: &mut R,
        campaign: &Hash,
        me: usize,
        cohort: &[Member],
        secret: &MaskSecret,
        values: &[u64],
        bounds: &[CellBound],
    ) -> Result<Contribution, ContributionError> {
        check_cohort(cohort)?;
        let member = cohort.get(me).ok_or(SecAggError::IndexOutOfRange {
            index: me,
            len: cohort.len(),
        })?;
        if secret.public() != member.mask_key {
            return Err(SecAggError::KeyMismatch.into());
        }
        check_len(bounds.len(), values.len())?;
        if bounds.len() > CELLS_MAX {
            return Err(ProofError::TooManyCells {
                len: bounds.len(),
                max: CELLS_MAX,
            }
            .into());
        }
        for (cell, (&value, b)) in values.iter().zip(bounds).enumerate() {
            if value > b.bound {
                return Err(ContributionError::ValueOutOfRange {
                    cell,
                    value,
                    bound: b.bound,
                });
            }
        }
        // The pairwise masks do not depend on the values: expand them on a
        // second thread while this one proves (a phone or gateway has
        // several cores; the two halves cost about the same for a cohort
        // of a thousand).
        let cells = values.len();
        let (proved, masks) = std::thread::scope(|scope| {
            let masks = scope.spawn(|| {
                secagg::mask(
                    &vec![0u64; cells],
                    &vec![Scalar::ZERO; cells],
                    me,
                    cohort,
                    secret,
                    campaign,
                )
            });
            let proved = proof::prove(rng, values, bounds, &context(campaign, &member.account));
            (proved, masks.join())
        });
        let (commitments, mut blindings, proofs) = proved?;
        let (value_masks, mut blinding_masks) = match masks {
            Ok(masks) => masks?,
            Err(_) => return Err(ContributionError::MaskingPanicked),
        };
        let masked_values = values
            .iter()
            .zip(&value_masks)
            .map(|(v, m)| v.wrapping_add(*m))
            .collect();
        let masked_blindings = blindings
            .iter()
            .zip(&blinding_masks)
            .map(|(b, m)| b + m)
            .collect();
        blindings.zeroize();
        blinding_masks.zeroize();
        Ok(Contribution {
            campaign: *campaign,
            member: member.account,
            commitments,
            proofs,
            masked_values,
            masked_blindings,
        })
    }

    /// Check a contribution on arrival: its member is in the cohort, its
    /// vectors match the schema's bounds, and its range proofs verify for
    /// this member and campaign.
    ///
    /// The caller must also check that `self.campaign` is the campaign it
    /// is collecting for ([`close`] does).
    ///
    /// # Errors
    /// Cohort errors, [`ContributionError::NotInCohort`],
    /// [`ContributionError::LengthMismatch`], [`ContributionError::Proof`].
    pub fn verify(&self, cohort: &[Member], bounds: &[CellBound]) -> Result<(), ContributionError> {
        check_cohort(cohort)?;
        if position(cohort, &self.member).is_none() {
            return Err(ContributionError::NotInCohort {
                member: self.member,
            });
        }
        self.check_lengths(bounds)?;
        proof::verify(
            &self.commitments,
            bounds,
            &self.proofs,
            &context(&self.campaign, &self.member),
        )?;
        Ok(())
    }

    fn check_lengths(&self, bounds: &[CellBound]) -> Result<(), ContributionError> {
        check_len(bounds.len(), self.commitments.len())?;
        check_len(bounds.len(), self.masked_values.len())?;
        check_len(bounds.len(), self.masked_blindings.len())
    }
}

/// Close the aggregation: sum the contributions, remove the dropped
/// members' masks with the survivors' `unmasks`, and check each revealed sum
/// against the sum of the commitments. Returns the cohort's sum per cell.
///
/// Every contribution must have passed [`Contribution::verify`] when it was
/// accepted (the range proofs are not re-verified here). Cohort members
/// without a contribution are the dropped members.
///
/// # Errors
/// [`ContributionError::WrongCampaign`], [`ContributionError::NotInCohort`],
/// [`ContributionError::LengthMismatch`], aggregation errors (duplicate
/// contributions, missing or misplaced seeds) as
/// [`ContributionError::SecAgg`], and [`ContributionError::SumMismatch`]
/// when the aggregate does not open the commitments; the caller must then
/// release nothing.
pub fn close(
    campaign: &Hash,
    cohort: &[Member],
    bounds: &[CellBound],
    contributions: &[Contribution],
    unmasks: &[Unmask],
) -> Result<Vec<u64>, ContributionError> {
    check_cohort(cohort)?;
    let cells = bounds.len();
    let mut entries: Vec<(usize, &[u64], &[Scalar])> = Vec::with_capacity(contributions.len());
    let mut columns = vec![RistrettoPoint::identity(); cells];
    for c in contributions {
        if c.campaign != *campaign {
            return Err(ContributionError::WrongCampaign { member: c.member });
        }
        let index = position(cohort, &c.member)
            .ok_or(ContributionError::NotInCohort { member: c.member })?;
        c.check_lengths(bounds)?;
        entries.push((index, &c.masked_values, &c.masked_blindings));
    }
    let (sums, blinding_sums) = secagg::aggregate(cells, cohort, &entries, unmasks, campaign)?;
    for c in contributions {
        add_columns(&mut columns, &c.commitments)?;
    }
    match check_sum(&columns, &sums, &blinding_sums) {
        Ok(()) => Ok(sums),
        Err(ProofError::SumMismatch { cell }) => Err(ContributionError::SumMismatch { cell }),
        Err(e) => Err(e.into()),
    }
}

impl Encode for Contribution {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.campaign.encode_to(out);
        self.member.encode_to(out);
        write_len(out, self.commitments.len());
        for c in &self.commitments {
            out.extend_from_slice(c.as_bytes());
        }
        self.proofs.encode_to(out);
        write_len(out, self.masked_values.len());
        for v in &self.masked_values {
            v.encode_to(out);
        }
        write_len(out, self.masked_blindings.len());
        for b in &self.masked_blindings {
            out.extend_from_slice(b.as_bytes());
        }
    }
}

impl Decode for Contribution {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let campaign = Hash::decode_from(reader)?;
        let member = PublicKey::decode_from(reader)?;
        let cells = reader.read_len("contribution commitments", CELLS_MAX)?;
        let mut commitments = Vec::with_capacity(cells.min(reader.remaining() / 32));
        for _ in 0..cells {
            let c = CompressedRistretto(reader.read_array()?);
            if c.decompress().is_none() {
                return Err(DecodeError::InvalidValue(
                    "commitment is not a valid Ristretto point",
                ));
            }
            commitments.push(c);
        }
        let proofs = RangeProofs::decode_from(reader)?;
        let values_len = reader.read_len("contribution masked values", CELLS_MAX)?;
        if values_len != cells {
            return Err(DecodeError::InvalidValue(
                "masked values and commitments differ in number",
            ));
        }
        let mut masked_values = Vec::with_capacity(cells.min(reader.remaining() / 8));
        for _ in 0..cells {
            masked_values.push(reader.read_u64()?);
        }
        let blindings_len = reader.read_len("contribution masked blindings", CELLS_MAX)?;
        if blindings_len != cells {
            return Err(DecodeError::InvalidValue(
                "masked blindings and commitments differ in number",
            ));
        }
        let mut masked_blindings = Vec::with_capacity(cells.min(reader.remaining() / 32));
        for _ in 0..cells {
            let bytes = reader.read_array()?;
            let scalar = Option::<Scalar>::from(Scalar::from_canonical_bytes(bytes)).ok_or(
                DecodeError::NonCanonical("masked blinding is not a reduced scalar"),
            )?;
            masked_blindings.push(scalar);
        }
        Ok(Contribution {
            campaign,
            member,
            commitments,
            proofs,
            masked_values,
            masked_blindings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secagg::unmask_for;
    use bulletproofs::PedersenGens;
    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{RngCore, SeedableRng};

    fn campaign() -> Hash {
        Hash([0x42; 32])
    }

    fn b(bound: u64, exact: bool) -> CellBound {
        CellBound { bound, exact }
    }

    fn bounds() -> Vec<CellBound> {
        vec![b(240, true), b(1000, false), b(70_000, true), b(1, true)]
    }

    fn cohort(n: usize) -> (Vec<Member>, Vec<MaskSecret>) {
        let mut rng = ChaCha20Rng::seed_from_u64(n as u64);
        let mut all: Vec<(Member, MaskSecret)> = (0..n)
            .map(|i| {
                let secret = MaskSecret::generate(&mut rng);
                let mut account = [0u8; 32];
                rng.fill_bytes(&mut account);
                account[0] = i as u8;
                (
                    Member {
                        account: PublicKey(account),
                        mask_key: secret.public(),
                    },
                    secret,
                )
            })
            .collect();
        all.sort_by_key(|m| m.0.account);
        all.into_iter().unzip()
    }

    struct Run {
        cohort: Vec<Member>,
        secrets: Vec<MaskSecret>,
        contributions: Vec<Contribution>,
        unmasks: Vec<Unmask>,
        want: Vec<u64>,
    }

    /// 5 members, members 1 and 3 drop out after joining.
    fn run() -> Run {
        let (cohort, secrets) = cohort(5);
        let mut rng = ChaCha20Rng::seed_from_u64(99);
        let values: Vec<Vec<u64>> = vec![
            vec![240, 1000, 70_000, 1],
            vec![1, 2, 3, 0],
            vec![0, 999, 12_345, 0],
            vec![7, 7, 7, 1],
            vec![100, 0, 1, 1],
        ];
        let dropped = [1usize, 3];
        let survivors = [0usize, 2, 4];
        let contributions: Vec<Contribution> = survivors
            .iter()
            .map(|&i| {
                let c = Contribution::build(
                    &mut rng,
                    &campaign(),
                    i,
                    &cohort,
                    &secrets[i],
                    &values[i],
                    &bounds(),
                )
                .unwrap();
                c.verify(&cohort, &bounds()).unwrap();
                c
            })
            .collect();
        let unmasks = survivors
            .iter()
            .map(|&i| unmask_for(&secrets[i], i, &cohort, &dropped, &campaign()).unwrap())
            .collect();
        let want = (0..4)
            .map(|k| survivors.iter().map(|&i| values[i][k]).sum())
            .collect();
        Run {
            cohort,
            secrets,
            contributions,
            unmasks,
            want,
        }
    }

    #[test]
    fn five_members_two_dropouts_give_the_exact_sum() {
        let r = run();
        let sums = close(
            &campaign(),
            &r.cohort,
            &bounds(),
            &r.contributions,
            &r.unmasks,
        )
        .unwrap();
        assert_eq!(sums, r.want);
        assert_eq!(sums, vec![340, 1999, 82_346, 2]);
        // A masked value does not show the clear one.
        assert_ne!(r.contributions[0].masked_values, vec![240, 1000, 70_000, 1]);
        // Without the dropped members' seeds nothing is released.
        assert!(matches!(
            close(
                &campaign(),
                &r.cohort,
                &bounds(),
                &r.contributions,
                &r.unmasks[..2]
            ),
            Err(ContributionError::SecAgg(SecAggError::MissingSeed { .. }))
        ));
    }

    #[test]
    fn tampering_is_refused_at_verify_or_close() {
        let r = run();
        let close_with =
            |cs: &[Contribution], us: &[Unmask]| close(&campaign(), &r.cohort, &bounds(), cs, us);
        // Commitment: replaced by another valid point.
        let mut cs = r.contributions.clone();
        cs[1].commitments[2] = PedersenGens::default()
            .commit(Scalar::from(5u64), Scalar::from(9u64))
            .compress();
        assert!(matches!(
            cs[1].verify(&r.cohort, &bounds()),
            Err(ContributionError::Proof(ProofError::Verification { .. }))
        ));
        // Proofs: another member's proofs.
        let mut cs = r.contributions.clone();
        cs[1].proofs = cs[0].proofs.clone();
        assert!(cs[1].verify(&r.cohort, &bounds()).is_err());
        // Masked value and masked blinding: caught by the sum check.
        let mut cs = r.contributions.clone();
        cs[2].masked_values[0] = cs[2].masked_values[0].wrapping_add(1);
        assert!(cs[2].verify(&r.cohort, &bounds()).is_ok());
        assert_eq!(
            close_with(&cs, &r.unmasks),
            Err(ContributionError::SumMismatch { cell: 0 })
        );
        let mut cs = r.contributions.clone();
        cs[0].masked_blindings[3] += Scalar::ONE;
        assert_eq!(
            close_with(&cs, &r.unmasks),
            Err(ContributionError::SumMismatch { cell: 3 })
        );
        // A revealed seed: caught by the sum check.
        let mut us = r.unmasks.clone();
        us[1].seeds[0].1 .0[5] ^= 0x10;
        assert_eq!(
            close_with(&r.contributions, &us),
            Err(ContributionError::SumMismatch { cell: 0 })
        );
        // Wrong campaign, unknown member, duplicate, wrong length.
        let mut cs = r.contributions.clone();
        cs[0].campaign = Hash([1; 32]);
        assert!(matches!(
            close_with(&cs, &r.unmasks),
            Err(ContributionError::WrongCampaign { .. })
        ));
        let mut cs = r.contributions.clone();
        cs.push(cs[0].clone());
        assert!(matches!(
            close_with(&cs, &r.unmasks),
            Err(ContributionError::SecAgg(
                SecAggError::DuplicateContribution { .. }
            ))
        ));
        let mut cs = r.contributions.clone();
        cs[0].member = PublicKey([0xee; 32]);
        assert!(matches!(
            cs[0].verify(&r.cohort, &bounds()),
            Err(ContributionError::NotInCohort { .. })
        ));
        assert!(matches!(
            r.contributions[0].verify(&r.cohort, &bounds()[..3]),
            Err(ContributionError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn replay_under_another_members_name_fails() {
        let r = run();
        let mut replay = r.contributions[0].clone();
        replay.member = r.cohort[1].account;
        assert!(matches!(
            replay.verify(&r.cohort, &bounds()),
            Err(ContributionError::Proof(ProofError::Verification { .. }))
        ));
        let mut other_campaign = r.contributions[0].clone();
        other_campaign.campaign = Hash([3; 32]);
        assert!(other_campaign.verify(&r.cohort, &bounds()).is_err());
    }

    #[test]
    fn out_of_range_values_cannot_make_a_verifying_contribution() {
        let (cohort, secrets) = cohort(3);
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let exact = [b(240, true)];
        assert_eq!(
            Contribution::build(
                &mut rng,
                &campaign(),
                0,
                &cohort,
                &secrets[0],
                &[300],
                &exact
            ),
            Err(ContributionError::ValueOutOfRange {
                cell: 0,
                value: 300,
                bound: 240
            })
        );
        let soft = [b(200, false)];
        assert_eq!(
            Contribution::build(
                &mut rng,
                &campaign(),
                0,
                &cohort,
                &secrets[0],
                &[1 << 16],
                &soft
            ),
            Err(ContributionError::ValueOutOfRange {
                cell: 0,
                value: 1 << 16,
                bound: 200
            })
        );
        // Forgeries skipping the check, proving at the schema's width or a
        // larger one, then masking as an honest member would.
        for (value, bounds, width) in [
            (300u64, exact, 8usize),
            (300, exact, 16),
            (250, exact, 8),
            (1 << 16, soft, 8),
            (1 << 16, soft, 32),
        ] {
            let ctx = context(&campaign(), &cohort[0].account);
            let (commitments, blindings, proofs) =
                proof::prove_unchecked(&mut rng, &[value], &bounds, &ctx, |_| width).unwrap();
            let (masked_values, masked_blindings) =
                secagg::mask(&[value], &blindings, 0, &cohort, &secrets[0], &campaign()).unwrap();
            let forged = Contribution {
                campaign: campaign(),
                member: cohort[0].account,
                commitments,
                proofs,
                masked_values,
                masked_blindings,
            };
            assert!(matches!(
                forged.verify(&cohort, &bounds),
                Err(ContributionError::Proof(ProofError::Verification {
                    width: 8
                }))
            ));
        }
    }

    #[test]
    fn decoding_is_strict_and_round_trips() {
        let r = run();
        let c = &r.contributions[0];
        let bytes = c.encode();
        assert!(bytes.len() <= CONTRIBUTION_BYTES_MAX);
        assert_eq!(&Contribution::decode(&bytes).unwrap(), c);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            Contribution::decode(&trailing),
            Err(DecodeError::TrailingBytes(1))
        );
        // A non-canonical masked blinding (the last 32 bytes).
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - 32..].copy_from_slice(&[0xff; 32]);
        assert!(matches!(
            Contribution::decode(&bad),
            Err(DecodeError::NonCanonical(_))
        ));
        // A masked-value count that disagrees with the commitments.
        let mut short = c.clone();
        short.masked_values.pop();
        assert!(matches!(
            Contribution::decode(&short.encode()),
            Err(DecodeError::InvalidValue(_))
        ));
        // An invalid commitment point.
        let mut point = bytes.clone();
        point[68..100].copy_from_slice(&[0xff; 32]);
        assert!(matches!(
            Contribution::decode(&point),
            Err(DecodeError::InvalidValue(_))
        ));
        // Too many cells.
        let mut big = bytes[..64].to_vec();
        big.extend_from_slice(&((CELLS_MAX + 1) as u32).to_le_bytes());
        assert!(matches!(
            Contribution::decode(&big),
            Err(DecodeError::LengthTooLarge { .. })
        ));
        // The largest contribution fits CONTRIBUTION_BYTES_MAX.
        let (cohort, secrets) = cohort(2);
        let wide = vec![b(u32::MAX as u64, false); CELLS_MAX];
        let max = Contribution::build(
            &mut ChaCha20Rng::seed_from_u64(1),
            &campaign(),
            0,
            &cohort,
            &secrets[0],
            &vec![u32::MAX as u64; CELLS_MAX],
            &wide,
        )
        .unwrap();
        assert!(max.encode().len() <= CONTRIBUTION_BYTES_MAX);
        let _ = r.secrets;
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            if let Ok(c) = Contribution::decode(&bytes) {
                prop_assert_eq!(c.encode(), bytes);
            }
        }

        #[test]
        fn mutated_contributions_never_panic(pos in any::<usize>(), xor in 1u8..=255) {
            let (cohort, encoded) = sample();
            let mut bytes = encoded.clone();
            let i = pos % bytes.len();
            bytes[i] ^= xor;
            if let Ok(d) = Contribution::decode(&bytes) {
                prop_assert_eq!(d.encode(), bytes);
                // A mutation verifies only if it touched the masked vectors
                // alone (those are checked at close, by the sum check).
                if d.verify(cohort, &sample_bounds()).is_ok() {
                    let original = Contribution::decode(encoded).unwrap();
                    prop_assert_eq!(d.campaign, original.campaign);
                    prop_assert_eq!(d.member, original.member);
                    prop_assert_eq!(&d.commitments, &original.commitments);
                    prop_assert_eq!(&d.proofs, &original.proofs);
                }
            }
        }
    }

    fn sample_bounds() -> [CellBound; 2] {
        [b(10, true), b(300, false)]
    }

    /// A valid contribution's encoding and its cohort, built once.
    fn sample() -> &'static (Vec<Member>, Vec<u8>) {
        static SAMPLE: std::sync::OnceLock<(Vec<Member>, Vec<u8>)> = std::sync::OnceLock::new();
        SAMPLE.get_or_init(|| {
            let (cohort, secrets) = cohort(2);
            let c = Contribution::build(
                &mut ChaCha20Rng::seed_from_u64(3),
                &campaign(),
                1,
                &cohort,
                &secrets[1],
                &[3, 4],
                &sample_bounds(),
            )
            .unwrap();
            c.verify(&cohort, &sample_bounds()).unwrap();
            (cohort, c.encode())
        })
    }
}
