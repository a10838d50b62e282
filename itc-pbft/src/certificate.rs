//! Prepared certificates and double-vote evidence.

use itc_core::encoding::{write_vec, Decode, DecodeError, Encode, Reader};
use itc_core::keys::PublicKey;
use itc_core::types::{
    read_certificate_signatures, ChainId, CommitSignature, Threshold, ValidatorSet, Vote, VoteKind,
    VoteTarget,
};
use itc_core::Hash;

/// Why a prepared certificate or evidence was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The prepare votes do not make a valid quorum (bad signature,
    /// duplicate signer, or too little weight).
    #[error("{0}")]
    Quorum(#[from] itc_core::types::CertificateError),
    /// A vote of the evidence does not verify.
    #[error("invalid signature from a validator")]
    InvalidSignature,
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
        let target = VoteTarget {
            chain_id,
            kind: VoteKind::Prepare,
            height,
            view,
            block_hash,
        };
        PreparedCertificate {
            chain_id,
            height,
            view,
            block_hash,
            signatures: target.signatures_from(votes),
        }
    }

    /// What the certificate's prepare votes are for.
    pub fn target(&self) -> VoteTarget {
        VoteTarget {
            chain_id: self.chain_id,
            kind: VoteKind::Prepare,
            height: self.height,
            view: self.view,
            block_hash: self.block_hash,
        }
    }

    /// The prepare vote a signature in this certificate is over.
    pub fn vote_for(&self, signature: &CommitSignature) -> Vote {
        self.target().vote(signature)
    }

    /// Verify that member signatures exceed two thirds of `set`'s weight
    /// (heaviest first, stopping once the quorum is reached). Returns the
    /// verified weight.
    ///
    /// # Errors
    /// [`CertificateError`] saying why the certificate does not hold.
    pub fn verify(&self, set: &ValidatorSet) -> Result<u64, CertificateError> {
        Ok(self
            .target()
            .verify_signatures(&self.signatures, set, Threshold::TWO_THIRDS)?)
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
        Ok(PreparedCertificate {
            chain_id: Decode::decode_from(r)?,
            height: r.read_u64()?,
            view: r.read_u64()?,
            block_hash: Decode::decode_from(r)?,
            signatures: read_certificate_signatures(r, "prepared certificate signatures")?,
        })
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
