//! Prepared certificates and double-vote evidence.

use itc_core::encoding::{write_vec, Decode, DecodeError, Encode, Reader};
use itc_core::keys::PublicKey;
use itc_core::types::{
    ChainId, CommitSignature, Threshold, ValidatorSet, Vote, VoteKind, VALIDATORS_MAX,
};
use itc_core::Hash;

/// Why a prepared certificate or evidence was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// A validator's signature does not verify.
    #[error("invalid signature from a validator")]
    InvalidSignature,
    /// Signatures are not strictly ascending by validator.
    #[error("duplicate or unsorted validator signatures")]
    DuplicateOrUnsorted,
    /// The valid signatures from set members do not reach a quorum.
    #[error("not enough voting weight: {signed} of {total}")]
    NotEnoughWeight {
        /// Weight of valid member signatures.
        signed: u64,
        /// Total weight of the set.
        total: u64,
    },
    /// The evidence's two votes do not conflict.
    #[error("votes do not conflict")]
    NotConflicting,
    /// The evidence's voter is not in the validator set.
    #[error("voter is not a validator")]
    NotAValidator,
}

/// Proof that a block was *prepared* in a view: prepare votes for its header
/// whose weight exceeds two thirds of the validator set (the paper's
/// pre-prepare plus 2f matching prepares; here the primary also sends a
/// prepare vote, so the certificate is a plain weighted quorum).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedCertificate {
    /// Network.
    pub chain_id: ChainId,
    /// Sequence number (block height).
    pub height: u64,
    /// View of the prepare votes.
    pub view: u64,
    /// Hash of the prepared header.
    pub block_hash: Hash,
    /// Signatures, strictly ascending by validator key.
    pub signatures: Vec<CommitSignature>,
}

impl PreparedCertificate {
    /// Assemble a certificate from matching prepare votes (others are
    /// ignored, duplicates dropped).
    pub fn from_votes<'a>(
        chain_id: ChainId,
        height: u64,
        view: u64,
        block_hash: Hash,
        votes: impl IntoIterator<Item = &'a Vote>,
    ) -> Self {
        let mut signatures: Vec<CommitSignature> = votes
            .into_iter()
            .filter(|v| {
                v.kind == VoteKind::Prepare
                    && v.chain_id == chain_id
                    && v.height == height
                    && v.view == view
                    && v.block_hash == block_hash
            })
            .map(|v| CommitSignature {
                validator: v.validator,
                signature: v.signature,
            })
            .collect();
        signatures.sort_by_key(|s| s.validator);
        signatures.dedup_by(|a, b| a.validator == b.validator);
        PreparedCertificate {
            chain_id,
            height,
            view,
            block_hash,
            signatures,
        }
    }

    /// The prepare vote a signature in this certificate is over.
    pub fn vote_for(&self, signature: &CommitSignature) -> Vote {
        Vote {
            chain_id: self.chain_id,
            kind: VoteKind::Prepare,
            height: self.height,
            view: self.view,
            block_hash: self.block_hash,
            validator: signature.validator,
            signature: signature.signature,
        }
    }

    /// Verify that member signatures exceed two thirds of `set`'s weight
    /// (heaviest first, stopping once the quorum is reached). Returns the
    /// verified weight.
    ///
    /// # Errors
    /// [`CertificateError`] saying why the certificate does not hold.
    pub fn verify(&self, set: &ValidatorSet) -> Result<u64, CertificateError> {
        if self
            .signatures
            .windows(2)
            .any(|w| w[0].validator >= w[1].validator)
        {
            return Err(CertificateError::DuplicateOrUnsorted);
        }
        let total = set.total_weight();
        let mut members: Vec<(u64, &CommitSignature)> = self
            .signatures
            .iter()
            .filter_map(|s| set.weight_of(&s.validator).map(|w| (w, s)))
            .collect();
        members.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.validator.cmp(&b.1.validator)));
        let mut signed = 0u64;
        for (weight, signature) in members {
            if Threshold::TWO_THIRDS.is_met(signed, total) {
                break;
            }
            self.vote_for(signature)
                .verify_signature()
                .map_err(|_| CertificateError::InvalidSignature)?;
            signed += weight;
        }
        if Threshold::TWO_THIRDS.is_met(signed, total) {
            Ok(signed)
        } else {
            Err(CertificateError::NotEnoughWeight { signed, total })
        }
    }
}

impl Encode for PreparedCertificate {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.height.encode_to(out);
        self.view.encode_to(out);
        self.block_hash.encode_to(out);
        write_vec(out, &self.signatures);
    }
}

impl Decode for PreparedCertificate {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let certificate = PreparedCertificate {
            chain_id: Decode::decode_from(r)?,
            height: r.read_u64()?,
            view: r.read_u64()?,
            block_hash: Decode::decode_from(r)?,
            signatures: r.read_vec("prepared certificate signatures", VALIDATORS_MAX)?,
        };
        if certificate
            .signatures
            .windows(2)
            .any(|w| w[0].validator >= w[1].validator)
        {
            return Err(DecodeError::NonCanonical(
                "prepared certificate signatures not strictly ascending",
            ));
        }
        Ok(certificate)
    }
}

/// Two signed votes of one validator for different blocks at the same
/// height, view and phase: verifiable proof of misbehaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoubleVoteEvidence {
    /// The vote seen first.
    pub first: Vote,
    /// The conflicting vote.
    pub second: Vote,
}

impl DoubleVoteEvidence {
    /// The misbehaving validator.
    pub fn validator(&self) -> PublicKey {
        self.first.validator
    }

    /// Check that both votes are signed by the same member of `set` and
    /// conflict.
    ///
    /// # Errors
    /// [`CertificateError`] if the evidence does not prove a double vote.
    pub fn verify(&self, set: &ValidatorSet) -> Result<(), CertificateError> {
        let (a, b) = (&self.first, &self.second);
        if a.validator != b.validator
            || a.chain_id != b.chain_id
            || a.kind != b.kind
            || a.height != b.height
            || a.view != b.view
            || a.block_hash == b.block_hash
        {
            return Err(CertificateError::NotConflicting);
        }
        if set.weight_of(&a.validator).is_none() {
            return Err(CertificateError::NotAValidator);
        }
        a.verify_signature()
            .map_err(|_| CertificateError::InvalidSignature)?;
        b.verify_signature()
            .map_err(|_| CertificateError::InvalidSignature)?;
        Ok(())
    }
}

impl Encode for DoubleVoteEvidence {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.first.encode_to(out);
        self.second.encode_to(out);
    }
}

impl Decode for DoubleVoteEvidence {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(DoubleVoteEvidence {
            first: Decode::decode_from(r)?,
            second: Decode::decode_from(r)?,
        })
    }
}
