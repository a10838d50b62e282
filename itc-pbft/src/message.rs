//! Wire messages of the protocol and their canonical encoding.
//!
//! Every message is one [`Message`] value encoded with itc-core's canonical
//! encoding: a tag byte, then the variant's fields. Prepare and commit votes
//! are itc-core [`Vote`]s (signed under [`SigningDomain::Vote`]); pre-prepare,
//! view-change and new-view messages are signed under
//! [`SigningDomain::Consensus`] over a tag byte and their canonical body, so a
//! signature for one kind of message is worthless for another.
//!
//! Decoding is strict and bounded: the whole input is capped by
//! [`MESSAGE_BYTES_MAX`] and every sequence inside by its own named constant.

use crate::certificate::PreparedCertificate;
use itc_core::encoding::{write_option, write_vec, Decode, DecodeError, Encode, Reader};
use itc_core::hash::{Domain, Hash};
use itc_core::keys::{Keypair, PublicKey, Signature, SignatureError, SigningDomain};
use itc_core::types::{Block, ChainId, CommitCertificate, Transaction, Vote, VALIDATORS_MAX};

/// Largest encoded message accepted, in bytes.
pub const MESSAGE_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Most sequence numbers in flight above the last executed one: the width of
/// the watermark window `(executed, executed + WATERMARK_WINDOW]`.
pub const WATERMARK_WINDOW: u64 = 8;
/// Most prepared certificates one view-change message carries.
pub const VIEW_CHANGE_PREPARED_MAX: usize = WATERMARK_WINDOW as usize;
/// Most view-change references one new-view message carries.
pub const NEW_VIEW_VIEW_CHANGES_MAX: usize = VALIDATORS_MAX;
/// Largest encoded [`NewView`]: a view, a signer, a signature and at most
/// [`NEW_VIEW_VIEW_CHANGES_MAX`] references of 64 bytes. A new view carries
/// digests, not the view changes themselves, so its size does not grow
/// with the prepared blocks they report (a view change alone is at most
/// [`VIEW_CHANGE_PREPARED_MAX`] blocks and certificates, well inside
/// [`MESSAGE_BYTES_MAX`]).
pub const NEW_VIEW_BYTES_MAX: usize = 8 + 4 + NEW_VIEW_VIEW_CHANGES_MAX * 64 + 32 + 64;
/// Most committed blocks one state-transfer response carries.
pub const STATE_TRANSFER_BLOCKS_MAX: usize = 16;

const TAG_PRE_PREPARE: u8 = 1;
const TAG_VIEW_CHANGE: u8 = 3;
const TAG_NEW_VIEW: u8 = 4;

/// A block together with the commit certificate that finalized it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The committed block.
    pub block: Block,
    /// Commit votes for its header with more than two thirds of the weight.
    pub certificate: CommitCertificate,
}

impl Encode for Decision {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.block.encode_to(out);
        self.certificate.encode_to(out);
    }
}

impl Decode for Decision {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Decision {
            block: Decode::decode_from(r)?,
            certificate: Decode::decode_from(r)?,
        })
    }
}

/// The primary's proposal of `block` for sequence number
/// `block.header.height` in `view`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrePrepare {
    /// The view.
    pub view: u64,
    /// The proposed block.
    pub block: Block,
    /// The primary.
    pub signer: PublicKey,
    /// Signature over `(tag, view, height, header hash)`; the body is bound by
    /// the header's transaction root.
    pub signature: Signature,
}

impl PrePrepare {
    /// Sign a pre-prepare.
    pub fn new_signed(keypair: &Keypair, chain_id: ChainId, view: u64, block: Block) -> Self {
        let mut message = PrePrepare {
            view,
            block,
            signer: keypair.public(),
            signature: Signature::EMPTY,
        };
        message.signature =
            keypair.sign(SigningDomain::Consensus, chain_id, &message.signing_bytes());
        message
    }

    /// The signed bytes.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = vec![TAG_PRE_PREPARE];
        self.view.encode_to(&mut out);
        self.block.header.height.encode_to(&mut out);
        self.block.header.hash().encode_to(&mut out);
        out
    }

    /// Check the signer's signature.
    ///
    /// # Errors
    /// [`SignatureError`] if it does not verify.
    pub fn verify_signature(&self, chain_id: ChainId) -> Result<(), SignatureError> {
        self.signer.verify(
            SigningDomain::Consensus,
            chain_id,
            &self.signing_bytes(),
            &self.signature,
        )
    }
}

impl Encode for PrePrepare {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.view.encode_to(out);
        self.block.encode_to(out);
        self.signer.encode_to(out);
        self.signature.encode_to(out);
    }
}

impl Decode for PrePrepare {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PrePrepare {
            view: r.read_u64()?,
            block: Decode::decode_from(r)?,
            signer: Decode::decode_from(r)?,
            signature: Decode::decode_from(r)?,
        })
    }
}

/// A block with the prepare certificate showing it was prepared in some
/// view; carried by view-change messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedEntry {
    /// The prepared block.
    pub block: Block,
    /// Prepare votes for its header.
    pub certificate: PreparedCertificate,
}

impl Encode for PreparedEntry {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.block.encode_to(out);
        self.certificate.encode_to(out);
    }
}

impl Decode for PreparedEntry {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PreparedEntry {
            block: Decode::decode_from(r)?,
            certificate: Decode::decode_from(r)?,
        })
    }
}

/// A replica's request to move to `view`, with what it knows: its last
/// committed block's certificate (instead of the paper's checkpoint proof:
/// every block carries its own certificate) and its prepared certificates
/// above it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewChange {
    /// The view the replica moves to.
    pub view: u64,
    /// Height of the replica's last executed block (0 at genesis).
    pub committed_height: u64,
    /// Certificate of that block (`None` at genesis).
    pub committed_certificate: Option<CommitCertificate>,
    /// Prepared certificates for heights above `committed_height`,
    /// strictly ascending by height.
    pub prepared: Vec<PreparedEntry>,
    /// The replica.
    pub signer: PublicKey,
    /// Signature over the tag and the fields above.
    pub signature: Signature,
}

impl ViewChange {
    fn encode_body(&self, out: &mut Vec<u8>) {
        self.view.encode_to(out);
        self.committed_height.encode_to(out);
        write_option(out, &self.committed_certificate);
        write_vec(out, &self.prepared);
        self.signer.encode_to(out);
    }

    /// The signed bytes.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = vec![TAG_VIEW_CHANGE];
        self.encode_body(&mut out);
        out
    }

    /// What a [`NewView`] names this view change by: the hash of its whole
    /// encoding, signature included.
    pub fn digest(&self) -> Hash {
        Hash::of(Domain::ViewChange, &self.encode())
    }

    /// Fill in the signature.
    pub fn sign(mut self, keypair: &Keypair, chain_id: ChainId) -> Self {
        self.signer = keypair.public();
        self.signature = keypair.sign(SigningDomain::Consensus, chain_id, &self.signing_bytes());
        self
    }

    /// Check the signer's signature.
    ///
    /// # Errors
    /// [`SignatureError`] if it does not verify.
    pub fn verify_signature(&self, chain_id: ChainId) -> Result<(), SignatureError> {
        self.signer.verify(
            SigningDomain::Consensus,
            chain_id,
            &self.signing_bytes(),
            &self.signature,
        )
    }
}

impl Encode for ViewChange {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.encode_body(out);
        self.signature.encode_to(out);
    }
}

impl Decode for ViewChange {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let message = ViewChange {
            view: r.read_u64()?,
            committed_height: r.read_u64()?,
            committed_certificate: r.read_option()?,
            prepared: r.read_vec("view change prepared", VIEW_CHANGE_PREPARED_MAX)?,
            signer: Decode::decode_from(r)?,
            signature: Decode::decode_from(r)?,
        };
        if message
            .prepared
            .windows(2)
            .any(|w| w[0].block.header.height >= w[1].block.header.height)
        {
            return Err(DecodeError::NonCanonical(
                "prepared entries not strictly ascending by height",
            ));
        }
        Ok(message)
    }
}

/// A view change named inside a [`NewView`]: its signer and its
/// [`ViewChange::digest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewChangeRef {
    /// The validator that signed the view change.
    pub signer: PublicKey,
    /// Its digest.
    pub digest: Hash,
}

impl Encode for ViewChangeRef {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.signer.encode_to(out);
        self.digest.encode_to(out);
    }
}

impl Decode for ViewChangeRef {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ViewChangeRef {
            signer: Decode::decode_from(r)?,
            digest: Decode::decode_from(r)?,
        })
    }
}

/// The new primary's announcement of `view`, justified by view-change
/// messages from more than two thirds of the weight. It names them by
/// digest: replicas have received most of them already (view changes go
/// to every validator), and ask the new primary for the ones they lack
/// ([`Message::ViewChangeRequest`]). So a new view stays small however
/// large the prepared blocks its view changes carry ([`NEW_VIEW_BYTES_MAX`]).
/// The blocks it re-proposes are computed from the view changes
/// deterministically by every replica
/// ([`crate::replica::new_view_decision`]), so they are not sent separately.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewView {
    /// The new view.
    pub view: u64,
    /// The view changes, strictly ascending by signer.
    pub view_changes: Vec<ViewChangeRef>,
    /// The new primary.
    pub signer: PublicKey,
    /// Signature over the tag and the fields above.
    pub signature: Signature,
}

impl NewView {
    fn encode_body(&self, out: &mut Vec<u8>) {
        self.view.encode_to(out);
        write_vec(out, &self.view_changes);
        self.signer.encode_to(out);
    }

    /// The signed bytes.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = vec![TAG_NEW_VIEW];
        self.encode_body(&mut out);
        out
    }

    /// Build and sign a new-view message naming `view_changes` (at most
    /// one per signer; they are named in ascending signer order).
    pub fn new_signed(
        keypair: &Keypair,
        chain_id: ChainId,
        view: u64,
        view_changes: &[ViewChange],
    ) -> Self {
        let mut refs: Vec<ViewChangeRef> = view_changes
            .iter()
            .map(|vc| ViewChangeRef {
                signer: vc.signer,
                digest: vc.digest(),
            })
            .collect();
        refs.sort_by_key(|r| r.signer);
        refs.dedup_by_key(|r| r.signer);
        let mut message = NewView {
            view,
            view_changes: refs,
            signer: keypair.public(),
            signature: Signature::EMPTY,
        };
        message.signature =
            keypair.sign(SigningDomain::Consensus, chain_id, &message.signing_bytes());
        message
    }

    /// Check the signer's signature.
    ///
    /// # Errors
    /// [`SignatureError`] if it does not verify.
    pub fn verify_signature(&self, chain_id: ChainId) -> Result<(), SignatureError> {
        self.signer.verify(
            SigningDomain::Consensus,
            chain_id,
            &self.signing_bytes(),
            &self.signature,
        )
    }
}

impl Encode for NewView {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.encode_body(out);
        self.signature.encode_to(out);
    }
}

impl Decode for NewView {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let message = NewView {
            view: r.read_u64()?,
            view_changes: r.read_vec("new view view changes", NEW_VIEW_VIEW_CHANGES_MAX)?,
            signer: Decode::decode_from(r)?,
            signature: Decode::decode_from(r)?,
        };
        if message
            .view_changes
            .windows(2)
            .any(|w| w[0].signer >= w[1].signer)
        {
            return Err(DecodeError::NonCanonical(
                "view changes not strictly ascending by signer",
            ));
        }
        Ok(message)
    }
}

/// Everything replicas send each other.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A client transaction, forwarded to the other replicas.
    Request(Transaction),
    /// The primary's proposal.
    PrePrepare(PrePrepare),
    /// A prepare or commit vote.
    Vote(Vote),
    /// A request to change view.
    ViewChange(ViewChange),
    /// The new primary's start of a view.
    NewView(NewView),
    /// Ask a replica in `view` for the view changes its new view names
    /// (answered with [`Message::ViewChange`]s).
    ViewChangeRequest {
        /// The view whose new view is missing view changes.
        view: u64,
    },
    /// Ask for committed blocks from `from_height` on (state transfer).
    StateRequest {
        /// First height wanted.
        from_height: u64,
    },
    /// Committed blocks with their certificates, ascending and contiguous.
    StateResponse(Vec<Decision>),
}

impl Message {
    /// Decode a message received from the network.
    ///
    /// # Errors
    /// [`DecodeError`] for anything that is not a canonical message no longer
    /// than [`MESSAGE_BYTES_MAX`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Message, DecodeError> {
        if bytes.len() > MESSAGE_BYTES_MAX {
            return Err(DecodeError::LengthTooLarge {
                what: "message",
                len: bytes.len() as u64,
                max: MESSAGE_BYTES_MAX as u64,
            });
        }
        Message::decode(bytes)
    }

    /// Short name of the message kind, for logs and statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Request(_) => "request",
            Message::PrePrepare(_) => "pre_prepare",
            Message::Vote(v) if v.kind == itc_core::types::VoteKind::Prepare => "prepare",
            Message::Vote(_) => "commit",
            Message::ViewChange(_) => "view_change",
            Message::NewView(_) => "new_view",
            Message::ViewChangeRequest { .. } => "view_change_request",
            Message::StateRequest { .. } => "state_request",
            Message::StateResponse(_) => "state_response",
        }
    }
}

impl Encode for Message {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(tx) => {
                out.push(0);
                tx.encode_to(out);
            }
            Message::PrePrepare(m) => {
                out.push(1);
                m.encode_to(out);
            }
            Message::Vote(v) => {
                out.push(2);
                v.encode_to(out);
            }
            Message::ViewChange(m) => {
                out.push(3);
                m.encode_to(out);
            }
            Message::NewView(m) => {
                out.push(4);
                m.encode_to(out);
            }
            Message::StateRequest { from_height } => {
                out.push(5);
                from_height.encode_to(out);
            }
            Message::StateResponse(decisions) => {
                out.push(6);
                write_vec(out, decisions);
            }
            Message::ViewChangeRequest { view } => {
                out.push(7);
                view.encode_to(out);
            }
        }
    }
}

impl Decode for Message {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.read_u8()? {
            0 => Message::Request(Decode::decode_from(r)?),
            1 => Message::PrePrepare(Decode::decode_from(r)?),
            2 => Message::Vote(Decode::decode_from(r)?),
            3 => Message::ViewChange(Decode::decode_from(r)?),
            4 => Message::NewView(Decode::decode_from(r)?),
            5 => Message::StateRequest {
                from_height: r.read_u64()?,
            },
            6 => {
                let decisions: Vec<Decision> =
                    r.read_vec("state response blocks", STATE_TRANSFER_BLOCKS_MAX)?;
                if decisions.windows(2).any(|w| {
                    w[0].block.header.height.checked_add(1) != Some(w[1].block.header.height)
                }) {
                    return Err(DecodeError::NonCanonical(
                        "state response blocks not contiguous",
                    ));
                }
                Message::StateResponse(decisions)
            }
            7 => Message::ViewChangeRequest {
                view: r.read_u64()?,
            },
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "message",
                    tag,
                })
            }
        })
    }
}
