//! The DAG transaction: what a device issues, its canonical encoding and id.
//!
//! Layout (every field in [`itc_core::encoding`]'s canonical form):
//!
//! ```text
//! essence   = chain_id u32 | parents (u32 count, 1..=8 hashes, strictly ascending)
//!           | issuer 32 | sequence u64 | payload
//! encoding  = essence | nonce u64 | signature 64
//! signature = issuer's ed25519 over essence, SigningDomain::DagTransaction, chain_id
//! pow value = BLAKE2b-256(Domain::ProofOfWork tag | essence | nonce)
//! id        = BLAKE2b-256(Domain::DagTransaction tag | encoding)
//! ```
//!
//! The signature covers the parents but not the nonce, so a small device can
//! sign first and let a gateway do the proof of work ([`crate::pow`]) without
//! being able to change anything the device signed.

use itc_core::encoding::{write_bytes, write_vec, Decode, DecodeError, Encode, Reader};
use itc_core::hash::{Domain, Hash, Hasher};
use itc_core::keys::{Keypair, PublicKey, Signature, SignatureError, SigningDomain};
use itc_core::keys::{PUBLIC_KEY_LEN, SIGNATURE_LEN};
use itc_core::seal::{SealedPayload, Suite};
use itc_core::types::{Amount, ChainId};

/// Fewest parents a DAG transaction approves.
pub const PARENTS_MIN: usize = 1;
/// Most parents a DAG transaction approves.
pub const PARENTS_MAX: usize = 8;
/// Largest data record a DAG transaction carries, in bytes.
pub const DATA_RECORD_MAX: usize = 1024;
/// Largest device command a DAG transaction carries, in bytes.
pub const COMMAND_MAX: usize = 256;
/// Most recipients of a sealed record.
pub const SEALED_RECIPIENTS_MAX: usize = 4;
/// Largest sealed record's encoding: a [`DATA_RECORD_MAX`]-byte plaintext
/// sealed with the largest suite (X-Wing) to [`SEALED_RECIPIENTS_MAX`]
/// recipients.
pub const SEALED_RECORD_MAX: usize = DATA_RECORD_MAX + Suite::XWing.overhead(SEALED_RECIPIENTS_MAX);
/// Bytes after the essence: nonce and signature.
pub const TRAILER_LEN: usize = 8 + SIGNATURE_LEN;
/// Largest possible encoding of a DAG transaction.
pub const TRANSACTION_ENCODED_MAX: usize =
    4 + 4 + 32 * PARENTS_MAX + PUBLIC_KEY_LEN + 8 + 1 + SEALED_RECORD_MAX + TRAILER_LEN;

const _: () = assert!(PARENTS_MIN >= 1 && PARENTS_MIN <= PARENTS_MAX);
const _: () = assert!(COMMAND_MAX + PUBLIC_KEY_LEN <= DATA_RECORD_MAX);

/// What a DAG transaction carries.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DagPayload {
    /// An opaque data record (telemetry, a reading), at most
    /// [`DATA_RECORD_MAX`] bytes. Applying it changes no balance.
    Data {
        /// The record.
        record: Vec<u8>,
    },
    /// A micro-transfer of DAG balance from the issuer to `to`. Applied only
    /// if the issuer's DAG balance covers it at its place in white-flag order.
    Transfer {
        /// Receiver.
        to: PublicKey,
        /// Amount, more than zero.
        amount: Amount,
    },
    /// A command for a device, at most [`COMMAND_MAX`] bytes. The device
    /// checks authorization itself (access grants on the main chain).
    Command {
        /// The device addressed.
        device: PublicKey,
        /// The command bytes (product-defined).
        command: Vec<u8>,
    },
    /// A data record sealed to its readers ([`itc_core::seal`]): validators
    /// order it and learn only its size. Its [`SealContext`](itc_core::seal::SealContext)
    /// must name this transaction's chain, issuer and sequence, so it opens
    /// only here; at most [`DATA_RECORD_MAX`] bytes of plaintext and
    /// [`SEALED_RECIPIENTS_MAX`] recipients.
    Sealed {
        /// The sealed record.
        payload: SealedPayload,
    },
}

impl DagPayload {
    fn tag(&self) -> u8 {
        match self {
            DagPayload::Data { .. } => 0,
            DagPayload::Transfer { .. } => 1,
            DagPayload::Command { .. } => 2,
            DagPayload::Sealed { .. } => 3,
        }
    }
}

impl Encode for DagPayload {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
        match self {
            DagPayload::Data { record } => write_bytes(out, record),
            DagPayload::Transfer { to, amount } => {
                to.encode_to(out);
                amount.encode_to(out);
            }
            DagPayload::Command { device, command } => {
                device.encode_to(out);
                write_bytes(out, command);
            }
            DagPayload::Sealed { payload } => payload.encode_to(out),
        }
    }
}

impl Decode for DagPayload {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.read_u8()? {
            0 => DagPayload::Data {
                record: r.read_bytes("dag data record", DATA_RECORD_MAX)?,
            },
            1 => {
                let to = Decode::decode_from(r)?;
                let amount: Amount = Decode::decode_from(r)?;
                if amount == Amount::ZERO {
                    return Err(DecodeError::InvalidValue("dag transfer of zero"));
                }
                DagPayload::Transfer { to, amount }
            }
            2 => DagPayload::Command {
                device: Decode::decode_from(r)?,
                command: r.read_bytes("dag command", COMMAND_MAX)?,
            },
            3 => {
                let payload = SealedPayload::decode_from(r)?;
                if !sealed_within_caps(&payload) {
                    return Err(DecodeError::InvalidValue("dag sealed record too large"));
                }
                DagPayload::Sealed { payload }
            }
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "dag payload",
                    tag,
                })
            }
        })
    }
}

/// Whether a sealed record is within the DAG's caps.
fn sealed_within_caps(payload: &SealedPayload) -> bool {
    payload.plaintext_len() <= DATA_RECORD_MAX && payload.recipients.len() <= SEALED_RECIPIENTS_MAX
}

/// Why a DAG transaction is malformed (independent of any DAG state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    /// Fewer than [`PARENTS_MIN`] or more than [`PARENTS_MAX`] parents.
    #[error("{0} parents, expected 1 to 8")]
    ParentCount(usize),
    /// Parents are not strictly ascending (unsorted or repeated).
    #[error("parents not strictly ascending")]
    ParentsNotCanonical,
    /// A data record or command is longer than its cap.
    #[error("payload too large")]
    PayloadTooLarge,
    /// A transfer of zero.
    #[error("transfer of zero")]
    ZeroTransfer,
    /// A sealed record bound to another chain, issuer or sequence than its
    /// transaction's.
    #[error("sealed record bound to another chain, issuer or sequence")]
    SealedContextMismatch,
    /// The transaction is for another chain.
    #[error("wrong chain id {found:?}, expected {expected:?}")]
    WrongChain {
        /// This node's chain.
        expected: ChainId,
        /// The transaction's chain.
        found: ChainId,
    },
    /// The issuer's signature does not verify.
    #[error("invalid signature: {0}")]
    Signature(#[from] SignatureError),
}

/// A signed, proof-of-work-stamped DAG transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DagTransaction {
    /// Network; bound into the signature too.
    pub chain_id: ChainId,
    /// Approved transactions, [`PARENTS_MIN`]`..=`[`PARENTS_MAX`], strictly
    /// ascending.
    pub parents: Vec<Hash>,
    /// Signer; its registered security level sets the proof-of-work difficulty.
    pub issuer: PublicKey,
    /// The issuer's sequence number. Two confirmed transactions with one
    /// issuer and sequence conflict: only the first in white-flag order applies.
    pub sequence: u64,
    /// What the transaction carries.
    pub payload: DagPayload,
    /// Proof-of-work nonce (not signed).
    pub nonce: u64,
    /// The issuer's signature over [`DagTransaction::essence`].
    pub signature: Signature,
}

impl DagTransaction {
    /// Build and sign a transaction with nonce 0; sort and deduplicate
    /// `parents` into canonical order. Run [`DagTransaction::solve_pow`]
    /// (or [`crate::pow::solve`]) before sending.
    pub fn new_signed(
        issuer: &Keypair,
        chain_id: ChainId,
        mut parents: Vec<Hash>,
        sequence: u64,
        payload: DagPayload,
    ) -> Self {
        parents.sort_unstable();
        parents.dedup();
        let mut tx = DagTransaction {
            chain_id,
            parents,
            issuer: issuer.public(),
            sequence,
            payload,
            nonce: 0,
            signature: Signature::EMPTY,
        };
        tx.signature = issuer.sign(SigningDomain::DagTransaction, chain_id, &tx.essence());
        tx
    }

    /// The signed bytes: everything but nonce and signature.
    pub fn essence(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        self.encode_essence(&mut out);
        out
    }

    fn encoded_len_hint(&self) -> usize {
        4 + 4 + 32 * self.parents.len() + 32 + 8 + 48 + TRAILER_LEN
    }

    fn encode_essence(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        write_vec(out, &self.parents);
        self.issuer.encode_to(out);
        self.sequence.encode_to(out);
        self.payload.encode_to(out);
    }

    /// The transaction's id: the [`Domain::DagTransaction`] hash of its full
    /// encoding.
    pub fn id(&self) -> Hash {
        // A data or transfer transaction encodes in a few hundred bytes.
        Hash::of(Domain::DagTransaction, &self.encode_with_capacity(512))
    }

    /// Check everything that needs no DAG state: parents, payload caps and,
    /// when `verify_signature`, the issuer's signature.
    ///
    /// # Errors
    /// The first [`TransactionError`] found.
    pub fn check(&self, chain_id: ChainId, verify_signature: bool) -> Result<(), TransactionError> {
        if self.chain_id != chain_id {
            return Err(TransactionError::WrongChain {
                expected: chain_id,
                found: self.chain_id,
            });
        }
        check_parents(&self.parents)?;
        match &self.payload {
            DagPayload::Data { record } if record.len() > DATA_RECORD_MAX => {
                return Err(TransactionError::PayloadTooLarge)
            }
            DagPayload::Command { command, .. } if command.len() > COMMAND_MAX => {
                return Err(TransactionError::PayloadTooLarge)
            }
            DagPayload::Transfer { amount, .. } if *amount == Amount::ZERO => {
                return Err(TransactionError::ZeroTransfer)
            }
            DagPayload::Sealed { payload } => {
                if !sealed_within_caps(payload) {
                    return Err(TransactionError::PayloadTooLarge);
                }
                let context = &payload.context;
                if context.chain_id != self.chain_id
                    || context.device != self.issuer
                    || context.sequence != self.sequence
                {
                    return Err(TransactionError::SealedContextMismatch);
                }
            }
            _ => {}
        }
        if verify_signature {
            self.verify_signature()?;
        }
        Ok(())
    }

    /// Check the issuer's signature over the essence.
    ///
    /// # Errors
    /// [`SignatureError`] if it does not verify.
    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        self.issuer.verify(
            SigningDomain::DagTransaction,
            self.chain_id,
            &self.essence(),
            &self.signature,
        )
    }

    /// A hasher that has absorbed the proof-of-work domain and the essence;
    /// clone it and feed a nonce to get a proof-of-work value.
    pub fn pow_hasher(&self) -> Hasher {
        let mut hasher = Hasher::new(Domain::ProofOfWork);
        hasher.update(&self.essence());
        hasher
    }

    /// Leading zero bits of this transaction's proof-of-work value.
    pub fn pow_bits(&self) -> u32 {
        crate::pow::value_bits(&self.pow_hasher(), self.nonce)
    }

    /// Search nonces from the current one for a proof of work of at least
    /// `bits` leading zero bits, trying at most `iterations_max` nonces.
    ///
    /// # Errors
    /// [`crate::pow::PowError::IterationsExhausted`] if none was found; the
    /// nonce then points past the last one tried, so calling again resumes.
    pub fn solve_pow(
        &mut self,
        bits: u32,
        iterations_max: u64,
    ) -> Result<(), crate::pow::PowError> {
        let hasher = self.pow_hasher();
        match crate::pow::solve(&hasher, bits, self.nonce, iterations_max) {
            Ok(nonce) => {
                self.nonce = nonce;
                Ok(())
            }
            Err(error) => {
                self.nonce = self.nonce.wrapping_add(iterations_max);
                Err(error)
            }
        }
    }
}

/// Check a parent list: count in range, strictly ascending.
///
/// # Errors
/// [`TransactionError::ParentCount`] or [`TransactionError::ParentsNotCanonical`].
pub fn check_parents(parents: &[Hash]) -> Result<(), TransactionError> {
    if !(PARENTS_MIN..=PARENTS_MAX).contains(&parents.len()) {
        return Err(TransactionError::ParentCount(parents.len()));
    }
    if parents.windows(2).any(|w| w[0] >= w[1]) {
        return Err(TransactionError::ParentsNotCanonical);
    }
    Ok(())
}

impl Encode for DagTransaction {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len_hint());
        self.encode_essence(out);
        self.nonce.encode_to(out);
        self.signature.encode_to(out);
    }
}

impl Decode for DagTransaction {
    /// Strict: parent count 1..=8 and strictly ascending, capped payloads,
    /// no zero transfer.
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let chain_id = Decode::decode_from(r)?;
        let parents: Vec<Hash> = r.read_vec("dag parents", PARENTS_MAX)?;
        check_parents(&parents).map_err(|e| match e {
            TransactionError::ParentsNotCanonical => {
                DecodeError::NonCanonical("dag parents not strictly ascending")
            }
            _ => DecodeError::InvalidValue("dag transaction with no parent or more than eight"),
        })?;
        Ok(DagTransaction {
            chain_id,
            parents,
            issuer: Decode::decode_from(r)?,
            sequence: r.read_u64()?,
            payload: Decode::decode_from(r)?,
            nonce: r.read_u64()?,
            signature: Decode::decode_from(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(payload: DagPayload) -> DagTransaction {
        let issuer = Keypair::from_seed([5; 32]);
        let parents = vec![
            Hash::of(Domain::DagTransaction, b"b"),
            Hash::of(Domain::DagTransaction, b"a"),
        ];
        DagTransaction::new_signed(&issuer, ChainId(3), parents, 7, payload)
    }

    fn payloads() -> Vec<DagPayload> {
        vec![
            DagPayload::Data {
                record: vec![1; 32],
            },
            DagPayload::Transfer {
                to: Keypair::from_seed([6; 32]).public(),
                amount: Amount(9),
            },
            DagPayload::Command {
                device: Keypair::from_seed([7; 32]).public(),
                command: b"on".to_vec(),
            },
        ]
    }

    #[test]
    fn every_payload_round_trips_and_signs() {
        for payload in payloads() {
            let tx = sample(payload);
            let bytes = tx.encode();
            assert!(bytes.len() <= TRANSACTION_ENCODED_MAX);
            let back = DagTransaction::decode(&bytes).unwrap();
            assert_eq!(back, tx);
            assert_eq!(back.id(), tx.id());
            assert!(back.check(ChainId(3), true).is_ok());
            assert_eq!(&bytes[..bytes.len() - TRAILER_LEN], &tx.essence()[..]);
        }
    }

    #[test]
    fn new_signed_sorts_parents_into_canonical_order() {
        let tx = sample(DagPayload::Data { record: vec![] });
        assert!(tx.parents[0] < tx.parents[1]);
    }

    #[test]
    fn nonce_is_not_signed_but_changes_the_id() {
        let mut tx = sample(DagPayload::Data { record: vec![] });
        let id = tx.id();
        tx.nonce = 99;
        assert!(tx.verify_signature().is_ok());
        assert_ne!(tx.id(), id);
    }

    #[test]
    fn signature_binds_parents_sequence_payload_and_chain() {
        let base = sample(DagPayload::Data { record: vec![1] });
        let mut t = base.clone();
        t.sequence += 1;
        assert!(t.verify_signature().is_err());
        let mut t = base.clone();
        t.parents[0] = Hash::ZERO;
        assert!(t.verify_signature().is_err());
        let mut t = base.clone();
        t.payload = DagPayload::Data { record: vec![2] };
        assert!(t.verify_signature().is_err());
        let mut t = base.clone();
        t.chain_id = ChainId(4);
        assert!(t.verify_signature().is_err());
        assert!(matches!(
            base.check(ChainId(4), true),
            Err(TransactionError::WrongChain { .. })
        ));
    }

    #[test]
    fn decoding_rejects_bad_parent_lists_and_oversized_payloads() {
        let tx = sample(DagPayload::Data { record: vec![] });
        // Unsorted parents.
        let mut t = tx.clone();
        t.parents.swap(0, 1);
        assert!(matches!(
            DagTransaction::decode(&t.encode()),
            Err(DecodeError::NonCanonical(_))
        ));
        // Duplicate parents.
        let mut t = tx.clone();
        t.parents[1] = t.parents[0];
        assert!(DagTransaction::decode(&t.encode()).is_err());
        // No parent, nine parents (one is enough: a quiet DAG may offer
        // only one young tip).
        let mut t = tx.clone();
        t.parents.truncate(1);
        assert!(DagTransaction::decode(&t.encode()).is_ok());
        t.parents.clear();
        assert!(DagTransaction::decode(&t.encode()).is_err());
        let mut t = tx.clone();
        t.parents = (0u8..9).map(|i| Hash([i; 32])).collect();
        assert!(matches!(
            DagTransaction::decode(&t.encode()),
            Err(DecodeError::LengthTooLarge { .. })
        ));
        // Oversized record.
        let mut t = tx.clone();
        t.payload = DagPayload::Data {
            record: vec![0; DATA_RECORD_MAX + 1],
        };
        assert!(DagTransaction::decode(&t.encode()).is_err());
        assert_eq!(
            t.check(ChainId(3), false),
            Err(TransactionError::PayloadTooLarge)
        );
        // Zero transfer.
        let mut t = tx.clone();
        t.payload = DagPayload::Transfer {
            to: tx.issuer,
            amount: Amount::ZERO,
        };
        assert!(DagTransaction::decode(&t.encode()).is_err());
        // Trailing byte.
        let mut bytes = tx.encode();
        bytes.push(0);
        assert!(DagTransaction::decode(&bytes).is_err());
    }

    /// Known-answer vector: pins the layout so that any change to the
    /// encoding or the id is deliberate.
    #[test]
    fn known_answer_encoding_length_and_stable_id() {
        let tx = sample(DagPayload::Data {
            record: vec![1; 32],
        });
        // 4 chain + 4 + 64 parents + 32 issuer + 8 sequence + 1 + 4 + 32 record + 8 nonce + 64 sig
        assert_eq!(tx.encode().len(), 221);
        assert_eq!(
            tx.id(),
            sample(DagPayload::Data {
                record: vec![1; 32]
            })
            .id()
        );
        assert_eq!(&tx.encode()[..4], &3u32.to_le_bytes());
        assert_eq!(&tx.encode()[4..8], &2u32.to_le_bytes());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn payload() -> impl Strategy<Value = DagPayload> {
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..64)
                    .prop_map(|record| DagPayload::Data { record }),
                (any::<[u8; 32]>(), 1u64..).prop_map(|(to, amount)| DagPayload::Transfer {
                    to: PublicKey(to),
                    amount: Amount(amount)
                }),
                (
                    any::<[u8; 32]>(),
                    proptest::collection::vec(any::<u8>(), 0..16)
                )
                    .prop_map(|(device, command)| DagPayload::Command {
                        device: PublicKey(device),
                        command
                    }),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn canonical_encoding_round_trips(
                parents in proptest::collection::btree_set(any::<[u8; 32]>(), 1..=8),
                issuer in any::<[u8; 32]>(),
                sequence in any::<u64>(),
                nonce in any::<u64>(),
                payload in payload(),
            ) {
                let tx = DagTransaction {
                    chain_id: ChainId(1),
                    parents: parents.into_iter().map(Hash).collect(),
                    issuer: PublicKey(issuer),
                    sequence,
                    payload,
                    nonce,
                    signature: Signature([7; 64]),
                };
                let bytes = tx.encode();
                prop_assert_eq!(DagTransaction::decode(&bytes).unwrap(), tx);
            }

            #[test]
            fn decoding_arbitrary_bytes_never_panics_and_is_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
                if let Ok(tx) = DagTransaction::decode(&bytes) {
                    prop_assert_eq!(tx.encode(), bytes);
                }
            }
        }
    }
}
