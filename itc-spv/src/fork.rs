//! Fork detection: two certified headers at one height.
//!
//! PBFT never commits two blocks at one height unless more than a third of
//! the weight is faulty. When a light client meets two such headers (from two
//! peers, or a peer contradicting its trusted header), [`detect_fork`] checks
//! both and returns [`ForkEvidence`] naming every validator whose commit
//! signature is valid on both in the *same view*: each of them equivocated,
//! and the evidence convinces anyone ([`ForkEvidence::verify`]) without
//! trusting the client.
//!
//! Commits at one height in different views are not equivocation: PBFT lets
//! an honest replica sign a commit for block A in view `v` and, after a view
//! change whose new-view message does not carry A, a commit for block B at
//! the same height in view `v + 1` (itc-pbft signs a new commit whenever its
//! last one is from an older view). Two certified blocks at one height then
//! come from more than a third of faulty weight lying in the view change,
//! which two certificates alone cannot attribute, so no one is named.

use crate::trusted::TrustedState;
use crate::update::{
    check_certificate_binding, signing_set, verify_quorum, HeaderUpdate, InvalidReason,
};
use alloc::vec::Vec;
use itc_core::encoding::{write_vec, Decode, DecodeError, Encode, Reader};
use itc_core::keys::PublicKey;
use itc_core::types::{BlockHeader, CommitCertificate, VALIDATORS_MAX};

/// Why two headers are not a fork, or evidence does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForkError {
    /// A header belongs to another chain than the trusted one.
    #[error("header is for another chain")]
    WrongChain,
    /// The headers are at different heights.
    #[error("headers are at different heights")]
    DifferentHeights,
    /// The headers are the same header.
    #[error("headers are identical")]
    SameHeader,
    /// The first header is not validly certified.
    #[error("first header invalid: {0}")]
    FirstInvalid(InvalidReason),
    /// The second header is not validly certified.
    #[error("second header invalid: {0}")]
    SecondInvalid(InvalidReason),
    /// A named double signer's signature does not verify on both headers,
    /// or the certificates are from different views.
    #[error("named validator did not sign both headers in one view")]
    NotADoubleSigner,
    /// The evidence names no double signer, so on its own it proves nothing
    /// (its certificates are not checked against any validator set).
    #[error("evidence names no double signer")]
    NoDoubleSigner,
}

/// Two conflicting certified headers at one height, and who signed both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkEvidence {
    /// One header.
    pub first_header: BlockHeader,
    /// Its certificate.
    pub first_certificate: CommitCertificate,
    /// The conflicting header at the same height.
    pub second_header: BlockHeader,
    /// Its certificate.
    pub second_certificate: CommitCertificate,
    /// Validators with valid commit signatures on both in one view,
    /// ascending. Empty when the certificates are from different views (see
    /// the module documentation), or when the two signing sets share no
    /// signer, which means one of the headers comes from a set the client
    /// never trusted (a long-range attack).
    pub double_signers: Vec<PublicKey>,
}

/// Check two headers at one height, each against its own signing set (the
/// update's, or the trusted set when the update leaves it out), and collect
/// the validators that signed both.
///
/// # Errors
/// [`ForkError`] if the headers are not two distinct, validly certified
/// headers of the trusted chain at one height.
pub fn detect_fork(
    trusted: &TrustedState,
    first: &HeaderUpdate,
    second: &HeaderUpdate,
) -> Result<ForkEvidence, ForkError> {
    let chain_id = trusted.chain_id();
    if first.header.chain_id != chain_id || second.header.chain_id != chain_id {
        return Err(ForkError::WrongChain);
    }
    if first.header.height != second.header.height {
        return Err(ForkError::DifferentHeights);
    }
    if first.header == second.header {
        return Err(ForkError::SameHeader);
    }
    certified(trusted, first).map_err(ForkError::FirstInvalid)?;
    certified(trusted, second).map_err(ForkError::SecondInvalid)?;
    let same_view = first.certificate.view == second.certificate.view;
    let double_signers = first
        .certificate
        .signatures
        .iter()
        .filter(|_| same_view)
        .filter(|signature| {
            signed_both(
                &signature.validator,
                &first.certificate,
                &second.certificate,
            )
        })
        .map(|signature| signature.validator)
        .collect();
    Ok(ForkEvidence {
        first_header: first.header.clone(),
        first_certificate: first.certificate.clone(),
        second_header: second.header.clone(),
        second_certificate: second.certificate.clone(),
        double_signers,
    })
}

fn certified(trusted: &TrustedState, update: &HeaderUpdate) -> Result<(), InvalidReason> {
    check_certificate_binding(update)?;
    verify_quorum(&update.certificate, signing_set(update, trusted)?)
}

/// Whether `validator` has a valid signature in both certificates.
fn signed_both(
    validator: &PublicKey,
    first: &CommitCertificate,
    second: &CommitCertificate,
) -> bool {
    valid_signature_in(validator, first) && valid_signature_in(validator, second)
}

fn valid_signature_in(validator: &PublicKey, certificate: &CommitCertificate) -> bool {
    certificate
        .signatures
        .binary_search_by(|s| s.validator.cmp(validator))
        .ok()
        .map(|i| certificate.vote_for(&certificate.signatures[i]))
        .is_some_and(|vote| vote.verify_signature().is_ok())
}

impl ForkEvidence {
    /// Check the evidence on its own: two different headers of one chain at
    /// one height, certificates bound to them and from one view, at least
    /// one named validator, and every named validator's signature valid on
    /// both. Needs no validator set, and so proves only that the named keys
    /// equivocated: evidence naming nobody proves nothing and is refused.
    ///
    /// # Errors
    /// [`ForkError`] naming what does not hold.
    pub fn verify(&self) -> Result<(), ForkError> {
        if self.first_header.chain_id != self.second_header.chain_id {
            return Err(ForkError::WrongChain);
        }
        if self.first_header.height != self.second_header.height {
            return Err(ForkError::DifferentHeights);
        }
        if self.first_header == self.second_header {
            return Err(ForkError::SameHeader);
        }
        let bound = |header: &BlockHeader, certificate: &CommitCertificate| {
            certificate.chain_id == header.chain_id
                && certificate.height == header.height
                && certificate.block_hash == header.hash()
        };
        if !bound(&self.first_header, &self.first_certificate) {
            return Err(ForkError::FirstInvalid(InvalidReason::CertificateMismatch));
        }
        if !bound(&self.second_header, &self.second_certificate) {
            return Err(ForkError::SecondInvalid(InvalidReason::CertificateMismatch));
        }
        if self.double_signers.is_empty() {
            return Err(ForkError::NoDoubleSigner);
        }
        // Signatures from two views are no equivocation (module docs).
        if self.first_certificate.view != self.second_certificate.view
            || self.double_signers.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(ForkError::NotADoubleSigner);
        }
        for validator in &self.double_signers {
            if !signed_both(validator, &self.first_certificate, &self.second_certificate) {
                return Err(ForkError::NotADoubleSigner);
            }
        }
        Ok(())
    }
}

impl Encode for ForkEvidence {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.first_header.encode_to(out);
        self.first_certificate.encode_to(out);
        self.second_header.encode_to(out);
        self.second_certificate.encode_to(out);
        write_vec(out, &self.double_signers);
    }
}

impl Decode for ForkEvidence {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let evidence = ForkEvidence {
            first_header: Decode::decode_from(reader)?,
            first_certificate: Decode::decode_from(reader)?,
            second_header: Decode::decode_from(reader)?,
            second_certificate: Decode::decode_from(reader)?,
            double_signers: reader.read_vec("double signers", VALIDATORS_MAX)?,
        };
        if evidence.double_signers.windows(2).any(|w| w[0] >= w[1]) {
            return Err(DecodeError::NonCanonical(
                "double signers not strictly ascending",
            ));
        }
        Ok(evidence)
    }
}
