//! Pedersen commitments and Bulletproofs range proofs over a contribution's
//! cells, and the commitment check of the revealed sum.
//!
//! Each cell value `y` is committed as `C = y·B + r·B̃` with
//! [`PedersenGens::default()`] (`B` the Ristretto basepoint, `B̃` its
//! SHA3-512 hash-to-group) and a fresh random blinding `r`.
//!
//! # What is proven
//!
//! A cell with public bound `bound` (at most [`BOUND_MAX`] = 2^32 − 1) gets
//! the width `n`, the smallest of 8, 16 and 32 with `bound < 2^n`.
//!
//! * Non-exact cell: `y ∈ [0, 2^n)`. The bound is *soft*: a value in
//!   `(bound, 2^n)` is accepted (the contract clamps on the user's side; the
//!   proof only stops a contribution from dominating the sum or wrapping it).
//! * Exact cell: `y ∈ [0, 2^n)` **and** `y + (2^n − 1 − bound) ∈ [0, 2^n)`,
//!   together `0 ≤ y ≤ bound`. The second statement is proven on the derived
//!   commitment `C' = C + (2^n − 1 − bound)·B` (same blinding), which the
//!   verifier computes from `C` itself. When `bound = 2^n − 1` the first
//!   statement already is exact and the second is omitted.
//!
//! # Layout of the proofs
//!
//! Statements are grouped by width; each non-empty group, in increasing
//! width, gets one aggregated `RangeProof`. Inside a group the statements are
//! ordered: first the cells' own commitments (cell order), then the derived
//! upper-bound commitments of the exact cells (cell order), then padding up to
//! the next power of two. Padding is the value 0 with blinding 0, whose
//! commitment is the identity point (Bulletproofs accepts it as a value
//! commitment); the verifier appends identity points itself.
//!
//! All group proofs share one merlin transcript, labelled
//! [`TRANSCRIPT_LABEL`], that first absorbs the caller's `context` (campaign
//! id ‖ member account), the number of cells and every cell's bound and
//! exactness, then each group's width before its proof. A proof therefore
//! does not verify for another member, campaign or schema.

use bulletproofs::{BulletproofGens, PedersenGens, RangeProof};
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use itc_core::encoding::{write_bytes, write_len, Decode, DecodeError, Encode, Reader};
use merlin::Transcript;
use rand_core::{CryptoRng, RngCore};
use std::sync::OnceLock;

/// Largest number of statements in one aggregated proof (the Bulletproofs
/// generators' party capacity).
pub const PROOF_VALUES_MAX: usize = 256;

/// Largest number of cells in a contribution: every cell can need two
/// statements (exact cells), and all may share one width.
pub const CELLS_MAX: usize = PROOF_VALUES_MAX / 2;

/// Largest cell bound: values are proven in at most 32 bits.
pub const BOUND_MAX: u64 = u32::MAX as u64;

/// The widths used, in the order their proofs appear.
pub const WIDTHS: [usize; 3] = [8, 16, 32];

/// The merlin transcript label of a contribution's range proofs.
pub const TRANSCRIPT_LABEL: &[u8] = b"itc:chaincode:range:v1";

/// Largest encoded size of one range proof: `(2·lg(32·PROOF_VALUES_MAX) + 9)`
/// 32-byte elements.
pub const PROOF_BYTES_MAX: usize = (2 * 13 + 9) * 32;

/// Largest encoded size of [`RangeProofs`].
pub const RANGE_PROOFS_BYTES_MAX: usize = 4 + WIDTHS.len() * (4 + PROOF_BYTES_MAX);

/// Why proving, verifying or the sum check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// More cells than [`CELLS_MAX`].
    #[error("{len} cells exceed the maximum {max}")]
    TooManyCells {
        /// Cells given.
        len: usize,
        /// [`CELLS_MAX`].
        max: usize,
    },
    /// Two inputs that must have the same length do not.
    #[error("expected {expected} entries, found {found}")]
    LengthMismatch {
        /// Entries expected.
        expected: usize,
        /// Entries found.
        found: usize,
    },
    /// A cell's bound exceeds [`BOUND_MAX`].
    #[error("cell {cell}: bound {bound} exceeds the maximum {max}", max = BOUND_MAX)]
    BoundTooLarge {
        /// The cell.
        cell: usize,
        /// Its bound.
        bound: u64,
    },
    /// A value to prove exceeds its cell's bound.
    #[error("cell {cell}: value {value} exceeds its bound {bound}")]
    ValueOutOfRange {
        /// The cell.
        cell: usize,
        /// The value.
        value: u64,
        /// The bound.
        bound: u64,
    },
    /// The number of group proofs is not the number of non-empty width
    /// groups.
    #[error("expected {expected} range proofs, found {found}")]
    WrongProofCount {
        /// Proofs expected.
        expected: usize,
        /// Proofs found.
        found: usize,
    },
    /// A commitment is not a valid compressed Ristretto point.
    #[error("commitment {index} is not a valid Ristretto point")]
    InvalidCommitment {
        /// Its position.
        index: usize,
    },
    /// The range proof of a width group does not verify.
    #[error("the {width}-bit range proof does not verify")]
    Verification {
        /// The group's width.
        width: usize,
    },
    /// The Bulletproofs prover failed.
    #[error("range proof creation failed: {0}")]
    Proving(bulletproofs::ProofError),
    /// A revealed sum does not open its commitment column.
    #[error("cell {cell}: the revealed sum does not match the commitments")]
    SumMismatch {
        /// The first cell that does not match.
        cell: usize,
    },
}

/// A cell's public bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellBound {
    /// Largest value the cell may hold (at most [`BOUND_MAX`]).
    pub bound: u64,
    /// Whether the proof enforces `value ≤ bound` exactly (otherwise only
    /// `value < 2^width`).
    pub exact: bool,
}

impl CellBound {
    /// The proof width: the smallest of 8, 16, 32 with `bound < 2^width`.
    ///
    /// # Errors
    /// [`ProofError::BoundTooLarge`] (reported for cell 0; callers that know
    /// the cell use their own index).
    pub fn width(&self) -> Result<usize, ProofError> {
        WIDTHS
            .iter()
            .copied()
            .find(|&w| self.bound < (1u64 << w))
            .ok_or(ProofError::BoundTooLarge {
                cell: 0,
                bound: self.bound,
            })
    }

    /// The offset `2^n − 1 − bound` of the upper-bound statement, if the
    /// cell needs one (exact and `bound ≠ 2^n − 1`).
    fn upper_offset(&self, width: usize) -> Option<u64> {
        let top = (1u64 << width) - 1;
        (self.exact && self.bound != top).then(|| top - self.bound)
    }
}

/// The range proofs of one contribution: one aggregated Bulletproof per
/// non-empty width group, in increasing width.
#[derive(Clone, Debug)]
pub struct RangeProofs(pub Vec<RangeProof>);

impl PartialEq for RangeProofs {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.to_bytes() == b.to_bytes())
    }
}

impl Eq for RangeProofs {}

impl Encode for RangeProofs {
    fn encode_to(&self, out: &mut Vec<u8>) {
        write_len(out, self.0.len());
        for proof in &self.0 {
            write_bytes(out, &proof.to_bytes());
        }
    }
}

impl Decode for RangeProofs {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count = reader.read_len("range proofs", WIDTHS.len())?;
        let mut proofs = Vec::with_capacity(count);
        for _ in 0..count {
            let bytes = reader.read_bytes("range proof", PROOF_BYTES_MAX)?;
            let proof = RangeProof::from_bytes(&bytes)
                .map_err(|_| DecodeError::InvalidValue("malformed range proof"))?;
            proofs.push(proof);
        }
        Ok(RangeProofs(proofs))
    }
}

fn bp_gens() -> &'static BulletproofGens {
    static GENS: OnceLock<BulletproofGens> = OnceLock::new();
    GENS.get_or_init(|| BulletproofGens::new(32, PROOF_VALUES_MAX))
}

/// Statement kinds of a width group.
#[derive(Clone, Copy)]
enum Statement {
    /// `y[cell] ∈ [0, 2^n)`.
    Value(usize),
    /// `y[cell] + offset ∈ [0, 2^n)`.
    Upper(usize, u64),
}

/// The statements of each width group (in [`WIDTHS`] order; empty groups
/// included), after checking the bounds.
fn plan(bounds: &[CellBound]) -> Result<[Vec<Statement>; 3], ProofError> {
    if bounds.len() > CELLS_MAX {
        return Err(ProofError::TooManyCells {
            len: bounds.len(),
            max: CELLS_MAX,
        });
    }
    let mut groups: [Vec<Statement>; 3] = Default::default();
    let mut widths = Vec::with_capacity(bounds.len());
    for (cell, b) in bounds.iter().enumerate() {
        let w = b.width().map_err(|_| ProofError::BoundTooLarge {
            cell,
            bound: b.bound,
        })?;
        let g = WIDTHS.iter().position(|&x| x == w).unwrap_or(0);
        groups[g].push(Statement::Value(cell));
        widths.push((g, w));
    }
    for (cell, (b, &(g, w))) in bounds.iter().zip(&widths).enumerate() {
        if let Some(offset) = b.upper_offset(w) {
            groups[g].push(Statement::Upper(cell, offset));
        }
    }
    Ok(groups)
}

fn transcript(bounds: &[CellBound], context: &[u8]) -> Transcript {
    let mut t = Transcript::new(TRANSCRIPT_LABEL);
    t.append_message(b"context", context);
    t.append_u64(b"cells", bounds.len() as u64);
    for b in bounds {
        t.append_u64(b"bound", b.bound);
        t.append_u64(b"exact", u64::from(b.exact));
    }
    t
}

/// Commit to `values` and prove them within `bounds`.
///
/// Returns the commitments (one per cell), their fresh random blindings and
/// the proofs. `context` must be what the verifier will pass (campaign id ‖
/// member account).
///
/// # Errors
/// [`ProofError::LengthMismatch`], [`ProofError::TooManyCells`],
/// [`ProofError::BoundTooLarge`], [`ProofError::ValueOutOfRange`] if a value
/// exceeds its bound (exact or not), [`ProofError::Proving`].
pub fn prove<R: RngCore + CryptoRng>(
    rng: &mut R,
    values: &[u64],
    bounds: &[CellBound],
    context: &[u8],
) -> Result<(Vec<CompressedRistretto>, Vec<Scalar>, RangeProofs), ProofError> {
    if values.len() != bounds.len() {
        return Err(ProofError::LengthMismatch {
            expected: bounds.len(),
            found: values.len(),
        });
    }
    plan(bounds)?;
    for (cell, (&value, b)) in values.iter().zip(bounds).enumerate() {
        if value > b.bound {
            return Err(ProofError::ValueOutOfRange {
                cell,
                value,
                bound: b.bound,
            });
        }
    }
    prove_unchecked(rng, values, bounds, context, |w| w)
}

/// The prover without the value check, proving each group at
/// `proof_width(group width)` bits. Only [`prove`] (identity widths) and the
/// forgery tests call it.
pub(crate) fn prove_unchecked<R: RngCore + CryptoRng>(
    rng: &mut R,
    values: &[u64],
    bounds: &[CellBound],
    context: &[u8],
    proof_width: impl Fn(usize) -> usize,
) -> Result<(Vec<CompressedRistretto>, Vec<Scalar>, RangeProofs), ProofError> {
    let groups = plan(bounds)?;
    let gens = PedersenGens::default();
    let blindings: Vec<Scalar> = values.iter().map(|_| Scalar::random(rng)).collect();
    let commitments: Vec<CompressedRistretto> = values
        .iter()
        .zip(&blindings)
        .map(|(&v, &r)| gens.commit(Scalar::from(v), r).compress())
        .collect();
    let mut t = transcript(bounds, context);
    let mut proofs = Vec::new();
    for (group, &width) in groups.iter().zip(&WIDTHS) {
        if group.is_empty() {
            continue;
        }
        t.append_u64(b"width", width as u64);
        let m = group.len().next_power_of_two();
        let mut vs = Vec::with_capacity(m);
        let mut rs = Vec::with_capacity(m);
        for s in group {
            match *s {
                Statement::Value(c) => vs.push(values[c]),
                Statement::Upper(c, offset) => vs.push(values[c].wrapping_add(offset)),
            }
            let (Statement::Value(c) | Statement::Upper(c, _)) = *s;
            rs.push(blindings[c]);
        }
        vs.resize(m, 0);
        rs.resize(m, Scalar::ZERO);
        let (proof, _) = RangeProof::prove_multiple_with_rng(
            bp_gens(),
            &gens,
            &mut t,
            &vs,
            &rs,
            proof_width(width),
            rng,
        )
        .map_err(ProofError::Proving)?;
        proofs.push(proof);
    }
    Ok((commitments, blindings, RangeProofs(proofs)))
}

/// Verify a contribution's range proofs against its commitments and the
/// schema's bounds (see the module documentation for what is proven).
///
/// # Errors
/// [`ProofError::LengthMismatch`], [`ProofError::TooManyCells`],
/// [`ProofError::BoundTooLarge`], [`ProofError::WrongProofCount`],
/// [`ProofError::InvalidCommitment`], [`ProofError::Verification`].
pub fn verify(
    commitments: &[CompressedRistretto],
    bounds: &[CellBound],
    proofs: &RangeProofs,
    context: &[u8],
) -> Result<(), ProofError> {
    if commitments.len() != bounds.len() {
        return Err(ProofError::LengthMismatch {
            expected: bounds.len(),
            found: commitments.len(),
        });
    }
    let groups = plan(bounds)?;
    let expected = groups.iter().filter(|g| !g.is_empty()).count();
    if proofs.0.len() != expected {
        return Err(ProofError::WrongProofCount {
            expected,
            found: proofs.0.len(),
        });
    }
    let points = commitments
        .iter()
        .enumerate()
        .map(|(index, c)| {
            c.decompress()
                .ok_or(ProofError::InvalidCommitment { index })
        })
        .collect::<Result<Vec<RistrettoPoint>, _>>()?;
    let gens = PedersenGens::default();
    let mut t = transcript(bounds, context);
    let mut proofs_iter = proofs.0.iter();
    for (group, &width) in groups.iter().zip(&WIDTHS) {
        if group.is_empty() {
            continue;
        }
        let Some(proof) = proofs_iter.next() else {
            return Err(ProofError::WrongProofCount {
                expected,
                found: proofs.0.len(),
            });
        };
        t.append_u64(b"width", width as u64);
        let m = group.len().next_power_of_two();
        let mut vs = Vec::with_capacity(m);
        for s in group {
            vs.push(match *s {
                Statement::Value(c) => commitments[c],
                Statement::Upper(c, offset) => {
                    (points[c] + gens.B * Scalar::from(offset)).compress()
                }
            });
        }
        vs.resize(m, CompressedRistretto::identity());
        // The verifier's batching randomness is derived from everything it
        // checks (as Fiat-Shamir derives a challenge), never from the OS:
        // block execution stays a pure function of its inputs, and every
        // validator reaches the same verdict.
        let mut rng = verifier_rng(context, &vs, proof);
        proof
            .verify_multiple_with_rng(bp_gens(), &gens, &mut t, &vs, width, &mut rng)
            .map_err(|_| ProofError::Verification { width })?;
    }
    Ok(())
}

/// A ChaCha20 RNG keyed by BLAKE2b-256 of the proof context, the
/// commitments and the proof bytes.
fn verifier_rng(
    context: &[u8],
    commitments: &[CompressedRistretto],
    proof: &RangeProof,
) -> rand_chacha::ChaCha20Rng {
    use blake2::digest::{consts::U32, Digest};
    use rand_core::SeedableRng;
    let mut hasher = blake2::Blake2b::<U32>::new();
    hasher.update(b"itc:chaincode:verify:v1");
    hasher.update((context.len() as u64).to_le_bytes());
    hasher.update(context);
    for c in commitments {
        hasher.update(c.as_bytes());
    }
    hasher.update(proof.to_bytes());
    rand_chacha::ChaCha20Rng::from_seed(hasher.finalize().into())
}

/// Add a member's commitments into the per-cell columns.
///
/// Nothing is added unless every commitment decompresses.
///
/// # Errors
/// [`ProofError::LengthMismatch`], [`ProofError::InvalidCommitment`].
pub fn add_columns(
    acc: &mut [RistrettoPoint],
    commitments: &[CompressedRistretto],
) -> Result<(), ProofError> {
    if acc.len() != commitments.len() {
        return Err(ProofError::LengthMismatch {
            expected: acc.len(),
            found: commitments.len(),
        });
    }
    let points = commitments
        .iter()
        .enumerate()
        .map(|(index, c)| {
            c.decompress()
                .ok_or(ProofError::InvalidCommitment { index })
        })
        .collect::<Result<Vec<RistrettoPoint>, _>>()?;
    for (a, p) in acc.iter_mut().zip(points) {
        *a += p;
    }
    Ok(())
}

/// Check that each revealed sum and blinding sum open the column of
/// commitments: `column[c] = sums[c]·B + blinding_sums[c]·B̃`.
///
/// # Errors
/// [`ProofError::LengthMismatch`], [`ProofError::SumMismatch`] naming the
/// first cell that does not open.
pub fn check_sum(
    columns: &[RistrettoPoint],
    sums: &[u64],
    blinding_sums: &[Scalar],
) -> Result<(), ProofError> {
    for len in [sums.len(), blinding_sums.len()] {
        if len != columns.len() {
            return Err(ProofError::LengthMismatch {
                expected: columns.len(),
                found: len,
            });
        }
    }
    let gens = PedersenGens::default();
    for (cell, ((column, &sum), &blinding)) in
        columns.iter().zip(sums).zip(blinding_sums).enumerate()
    {
        if gens.commit(Scalar::from(sum), blinding) != *column {
            return Err(ProofError::SumMismatch { cell });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{OsRng, SeedableRng};

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(42)
    }

    fn b(bound: u64, exact: bool) -> CellBound {
        CellBound { bound, exact }
    }

    #[test]
    fn widths_follow_the_bound() {
        assert_eq!(b(0, false).width(), Ok(8));
        assert_eq!(b(255, false).width(), Ok(8));
        assert_eq!(b(256, false).width(), Ok(16));
        assert_eq!(b(65_535, true).width(), Ok(16));
        assert_eq!(b(65_536, true).width(), Ok(32));
        assert_eq!(b(BOUND_MAX, true).width(), Ok(32));
        assert!(b(BOUND_MAX + 1, true).width().is_err());
    }

    #[test]
    fn honest_proofs_verify_with_identity_padding() {
        // 3 cells in the 8-bit group (padded to 4), 1 exact 16-bit cell with
        // its upper statement (2 statements), 1 exact 32-bit cell whose bound
        // is 2^32 − 1 (no upper statement).
        let bounds = [
            b(10, false),
            b(240, true),
            b(255, true),
            b(1000, true),
            b(BOUND_MAX, true),
        ];
        let values = [10, 240, 0, 999, BOUND_MAX];
        let (c, r, p) = prove(&mut rng(), &values, &bounds, b"ctx").unwrap();
        assert_eq!(p.0.len(), 3);
        verify(&c, &bounds, &p, b"ctx").unwrap();
        let gens = PedersenGens::default();
        for k in 0..values.len() {
            assert_eq!(gens.commit(Scalar::from(values[k]), r[k]).compress(), c[k]);
        }
        // Context binding: another member or campaign does not verify.
        assert!(verify(&c, &bounds, &p, b"other").is_err());
        // Bounds are bound too: relaxing one does not verify.
        let mut relaxed = bounds;
        relaxed[1].exact = false;
        assert!(verify(&c, &relaxed, &p, b"ctx").is_err());
        // Encoding round-trips.
        let bytes = p.encode();
        assert!(bytes.len() <= RANGE_PROOFS_BYTES_MAX);
        assert_eq!(RangeProofs::decode(&bytes).unwrap(), p);
    }

    #[test]
    fn the_largest_contribution_fits_the_generators() {
        let bounds = vec![b(200, true); CELLS_MAX];
        let values = vec![7u64; CELLS_MAX];
        let (c, _, p) = prove(&mut rng(), &values, &bounds, b"x").unwrap();
        verify(&c, &bounds, &p, b"x").unwrap();
        assert!(p.encode().len() <= RANGE_PROOFS_BYTES_MAX);
        let too_many = vec![b(200, true); CELLS_MAX + 1];
        assert!(matches!(
            prove(&mut rng(), &vec![0; CELLS_MAX + 1], &too_many, b"x"),
            Err(ProofError::TooManyCells { .. })
        ));
    }

    #[test]
    fn out_of_range_values_are_refused_and_forgeries_do_not_verify() {
        // Exact cell, bound 240, value 300: the prover refuses.
        let exact = [b(240, true)];
        assert_eq!(
            prove(&mut rng(), &[300], &exact, b"c").map(|_| ()),
            Err(ProofError::ValueOutOfRange {
                cell: 0,
                value: 300,
                bound: 240
            })
        );
        // A forger skipping the check: neither 300 (≥ 2^8) nor 250 (< 2^8 but
        // above the exact bound) verifies at the schema's width...
        for v in [300u64, 250] {
            let (c, _, p) = prove_unchecked(&mut rng(), &[v], &exact, b"c", |w| w).unwrap();
            assert_eq!(
                verify(&c, &exact, &p, b"c"),
                Err(ProofError::Verification { width: 8 })
            );
            // ... nor at a larger width.
            let (c, _, p) = prove_unchecked(&mut rng(), &[v], &exact, b"c", |_| 16).unwrap();
            assert_eq!(
                verify(&c, &exact, &p, b"c"),
                Err(ProofError::Verification { width: 8 })
            );
        }
        // Non-exact 8-bit cell, value 2^16.
        let soft = [b(200, false)];
        assert!(matches!(
            prove(&mut rng(), &[1 << 16], &soft, b"c"),
            Err(ProofError::ValueOutOfRange { .. })
        ));
        for width in [8, 32] {
            let (c, _, p) =
                prove_unchecked(&mut rng(), &[1 << 16], &soft, b"c", |_| width).unwrap();
            assert_eq!(
                verify(&c, &soft, &p, b"c"),
                Err(ProofError::Verification { width: 8 })
            );
        }
        // The soft bound lets a value in (bound, 2^8) through, as documented.
        let (c, _, p) = prove_unchecked(&mut rng(), &[255], &soft, b"c", |w| w).unwrap();
        assert!(verify(&c, &soft, &p, b"c").is_ok());
    }

    #[test]
    fn tampered_inputs_do_not_verify() {
        let bounds = [b(100, true), b(5000, false)];
        let (c, _, p) = prove(&mut rng(), &[3, 4000], &bounds, b"c").unwrap();
        let mut swapped = c.clone();
        swapped.swap(0, 1);
        assert!(verify(&swapped, &bounds, &p, b"c").is_err());
        let mut other = c.clone();
        other[0] = PedersenGens::default()
            .commit(Scalar::from(3u64), Scalar::ONE)
            .compress();
        assert!(verify(&other, &bounds, &p, b"c").is_err());
        let mut bad = c.clone();
        bad[1] = CompressedRistretto([0xff; 32]);
        assert_eq!(
            verify(&bad, &bounds, &p, b"c"),
            Err(ProofError::InvalidCommitment { index: 1 })
        );
        let fewer = RangeProofs(p.0[..1].to_vec());
        assert_eq!(
            verify(&c, &bounds, &fewer, b"c"),
            Err(ProofError::WrongProofCount {
                expected: 2,
                found: 1
            })
        );
        let mut flipped = p.encode();
        let last = flipped.len() - 40;
        flipped[last] ^= 1;
        if let Ok(q) = RangeProofs::decode(&flipped) {
            assert!(verify(&c, &bounds, &q, b"c").is_err());
        }
    }

    #[test]
    fn sums_check_against_commitment_columns() {
        let bounds = [b(100, true), b(70_000, false)];
        let mut columns = vec![RistrettoPoint::identity(); 2];
        let mut sums = [0u64; 2];
        let mut blinds = [Scalar::ZERO; 2];
        for (k, v) in [[1u64, 60_000], [100, 7], [0, 0]].iter().enumerate() {
            let (c, r, _) =
                prove(&mut ChaCha20Rng::seed_from_u64(k as u64), v, &bounds, b"c").unwrap();
            add_columns(&mut columns, &c).unwrap();
            for i in 0..2 {
                sums[i] += v[i];
                blinds[i] += r[i];
            }
        }
        check_sum(&columns, &sums, &blinds).unwrap();
        let mut wrong = sums;
        wrong[1] += 1;
        assert_eq!(
            check_sum(&columns, &wrong, &blinds),
            Err(ProofError::SumMismatch { cell: 1 })
        );
        let mut wrong_b = blinds;
        wrong_b[0] += Scalar::ONE;
        assert_eq!(
            check_sum(&columns, &sums, &wrong_b),
            Err(ProofError::SumMismatch { cell: 0 })
        );
        assert!(matches!(
            add_columns(&mut columns, &[CompressedRistretto([0xff; 32]); 2]),
            Err(ProofError::InvalidCommitment { index: 0 })
        ));
        assert!(matches!(
            check_sum(&columns, &sums[..1], &blinds),
            Err(ProofError::LengthMismatch { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn range_proofs_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(p) = RangeProofs::decode(&bytes) {
                prop_assert_eq!(p.encode(), bytes);
            }
        }
    }

    /// Timings; run with
    /// `cargo test --release -p itc-chaincode --lib proof::tests::timings -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timings() {
        use std::time::Instant;
        let _ = bp_gens();
        let cases: [(&str, Vec<u64>, Vec<CellBound>); 2] = [
            ("64 cells x 8 bits", vec![100; 64], vec![b(255, false); 64]),
            (
                "2 cells x 16 bits exact",
                vec![1000, 2],
                vec![b(40_000, true); 2],
            ),
        ];
        for (name, values, bounds) in cases {
            let runs = 20;
            let start = Instant::now();
            let mut last = None;
            for _ in 0..runs {
                last = Some(prove(&mut OsRng, &values, &bounds, b"t").unwrap());
            }
            let prove_t = start.elapsed() / runs;
            let (c, _, p) = last.unwrap();
            let start = Instant::now();
            for _ in 0..runs {
                verify(&c, &bounds, &p, b"t").unwrap();
            }
            let verify_t = start.elapsed() / runs;
            println!(
                "{name}: prove {prove_t:?}, verify {verify_t:?}, proofs {} bytes",
                p.encode().len()
            );
        }
    }
}
