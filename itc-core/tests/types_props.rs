//! Property and unit tests of the ITC core types as users rely on them:
//!
//! * every encodable type survives `decode(encode(x))` unchanged;
//! * decoding is strict: any input a decoder accepts re-encodes to exactly the
//!   same bytes, and no input (random or a damaged valid encoding) panics;
//! * non-canonical inputs are refused with a typed [`DecodeError`];
//! * quorum arithmetic in weight is sound (two quorums always overlap in more
//!   than a third of the weight);
//! * signatures bind every field of a transaction or vote;
//! * commit certificates verify exactly when valid member signatures exceed
//!   the threshold.

use std::fmt::Debug;

use itc_core::encoding::{write_len, write_vec, Decode, DecodeError, Encode};
use itc_core::hash::{Domain, Hash};
use itc_core::keys::{Keypair, PublicKey, Signature};
use itc_core::ledger::{AccountState, DeviceRecord, Grant, StakeRecord};
use itc_core::types::{
    Amount, Block, BlockBodyError, BlockHeader, CertificateError, ChainId, CommitCertificate,
    CommitSignature, DagAnchor, Payload, Permissions, SecurityLevel, Threshold, Transaction,
    Validator, ValidatorSet, ValidatorSetError, Vote, VoteKind, ANCHOR_TIPS_MAX,
    BLOCK_TRANSACTIONS_MAX, MODULE_BODY_MAX, SECURITY_LEVEL_MAX, TOTAL_WEIGHT_MAX, VALIDATORS_MAX,
};
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------
// Strategies. Keys and signatures are arbitrary bytes: encoding does not care
// whether they are valid curve points or real signatures.
// ---------------------------------------------------------------------------

fn public_key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}

fn signature() -> impl Strategy<Value = Signature> {
    any::<[u8; 64]>().prop_map(Signature)
}

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

fn chain_id() -> impl Strategy<Value = ChainId> {
    any::<u32>().prop_map(ChainId)
}

fn amount() -> impl Strategy<Value = Amount> {
    any::<u64>().prop_map(Amount)
}

fn security_level() -> impl Strategy<Value = SecurityLevel> {
    (0..=SECURITY_LEVEL_MAX).prop_map(|level| SecurityLevel::new(level).unwrap())
}

fn permissions() -> impl Strategy<Value = Permissions> {
    any::<u32>().prop_map(Permissions)
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        (public_key(), amount()).prop_map(|(to, amount)| Payload::Transfer { to, amount }),
        (public_key(), security_level(), hash(), signature()).prop_map(
            |(device, security_level, metadata_hash, pairing_signature)| {
                Payload::RegisterDevice {
                    device,
                    security_level,
                    metadata_hash,
                    pairing_signature,
                }
            }
        ),
        (public_key(), public_key())
            .prop_map(|(device, new_owner)| Payload::TransferDevice { device, new_owner }),
        (public_key(), public_key(), permissions(), any::<u64>()).prop_map(
            |(device, grantee, permissions, expiry_height)| Payload::GrantAccess {
                device,
                grantee,
                permissions,
                expiry_height,
            }
        ),
        (public_key(), public_key())
            .prop_map(|(device, grantee)| Payload::RevokeAccess { device, grantee }),
        amount().prop_map(|amount| Payload::Bond { amount }),
        amount().prop_map(|amount| Payload::Unbond { amount }),
        amount().prop_map(|amount| Payload::DagDeposit { amount }),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(module, body)| Payload::Module { module, body }),
    ]
}

/// The wire tag of a payload variant (the first encoded byte).
fn payload_tag(payload: &Payload) -> u8 {
    match payload {
        Payload::Transfer { .. } => 0,
        Payload::RegisterDevice { .. } => 1,
        Payload::TransferDevice { .. } => 2,
        Payload::GrantAccess { .. } => 3,
        Payload::RevokeAccess { .. } => 4,
        Payload::Bond { .. } => 5,
        Payload::Unbond { .. } => 6,
        Payload::DagDeposit { .. } => 7,
        Payload::Module { .. } => 8,
        _ => unreachable!("a payload variant this test does not know"),
    }
}

fn transaction() -> impl Strategy<Value = Transaction> {
    (
        chain_id(),
        public_key(),
        any::<u64>(),
        amount(),
        payload(),
        signature(),
    )
        .prop_map(
            |(chain_id, sender, nonce, fee, payload, signature)| Transaction {
                chain_id,
                sender,
                nonce,
                fee,
                payload,
                signature,
            },
        )
}

fn block_header() -> impl Strategy<Value = BlockHeader> {
    (
        chain_id(),
        any::<u64>(),
        hash(),
        hash(),
        hash(),
        hash(),
        hash(),
        hash(),
        hash(),
        any::<u64>(),
        public_key(),
        any::<u64>(),
    )
        .prop_map(
            |(
                chain_id,
                height,
                previous_hash,
                tx_root,
                state_root,
                dag_anchor_root,
                dag_anchor_hash,
                validator_set_hash,
                next_validator_set_hash,
                time_ms,
                proposer,
                view,
            )| BlockHeader {
                chain_id,
                height,
                previous_hash,
                tx_root,
                tx_count: height % (BLOCK_TRANSACTIONS_MAX as u64 + 1),
                state_root,
                dag_anchor_root,
                dag_anchor_hash,
                validator_set_hash,
                next_validator_set_hash,
                time_ms,
                proposer,
                view,
            },
        )
}

/// A valid anchor: distinct tips in strictly ascending order.
fn dag_anchor(max_tips: usize) -> impl Strategy<Value = DagAnchor> {
    prop::collection::btree_set(hash(), 0..=max_tips).prop_map(|tips| DagAnchor {
        tips: tips.into_iter().collect(),
    })
}

fn block() -> impl Strategy<Value = Block> {
    (
        block_header(),
        prop::collection::vec(transaction(), 0..5),
        prop::option::of(dag_anchor(8)),
    )
        .prop_map(|(header, transactions, anchor)| Block {
            header,
            transactions,
            anchor,
        })
}

fn vote_kind() -> impl Strategy<Value = VoteKind> {
    prop_oneof![Just(VoteKind::Prepare), Just(VoteKind::Commit)]
}

fn vote() -> impl Strategy<Value = Vote> {
    (
        chain_id(),
        vote_kind(),
        any::<u64>(),
        any::<u64>(),
        hash(),
        public_key(),
        signature(),
    )
        .prop_map(
            |(chain_id, kind, height, view, block_hash, validator, signature)| Vote {
                chain_id,
                kind,
                height,
                view,
                block_hash,
                validator,
                signature,
            },
        )
}

fn commit_signature() -> impl Strategy<Value = CommitSignature> {
    (public_key(), signature()).prop_map(|(validator, signature)| CommitSignature {
        validator,
        signature,
    })
}

/// A canonical certificate: signatures strictly ascending by validator key.
fn commit_certificate() -> impl Strategy<Value = CommitCertificate> {
    (
        chain_id(),
        any::<u64>(),
        any::<u64>(),
        hash(),
        prop::collection::vec(commit_signature(), 0..8),
    )
        .prop_map(|(chain_id, height, view, block_hash, mut signatures)| {
            signatures.sort_by_key(|s| s.validator);
            signatures.dedup_by(|a, b| a.validator == b.validator);
            CommitCertificate {
                chain_id,
                height,
                view,
                block_hash,
                signatures,
            }
        })
}

fn validator() -> impl Strategy<Value = Validator> {
    (public_key(), any::<u64>()).prop_map(|(key, weight)| Validator { key, weight })
}

/// A valid set built through [`ValidatorSet::new`] (distinct keys, weights
/// 1..=10^12).
fn validator_set() -> impl Strategy<Value = ValidatorSet> {
    prop::collection::btree_map(any::<[u8; 32]>(), 1..=1_000_000_000_000u64, 1..10).prop_map(
        |members| {
            let validators = members
                .into_iter()
                .map(|(key, weight)| Validator {
                    key: PublicKey(key),
                    weight,
                })
                .collect();
            ValidatorSet::new(validators).expect("distinct keys, non-zero bounded weights")
        },
    )
}

fn account_state() -> impl Strategy<Value = AccountState> {
    (amount(), any::<u64>()).prop_map(|(balance, nonce)| AccountState { balance, nonce })
}

fn device_record() -> impl Strategy<Value = DeviceRecord> {
    (public_key(), security_level(), hash(), any::<u64>()).prop_map(
        |(owner, security_level, metadata_hash, ownership_seq)| DeviceRecord {
            owner,
            security_level,
            metadata_hash,
            ownership_seq,
        },
    )
}

fn grant() -> impl Strategy<Value = Grant> {
    (permissions(), any::<u64>(), public_key(), any::<u64>()).prop_map(
        |(permissions, expiry_height, granted_by, ownership_seq)| Grant {
            permissions,
            expiry_height,
            granted_by,
            ownership_seq,
        },
    )
}

fn stake_record() -> impl Strategy<Value = StakeRecord> {
    (amount(), amount()).prop_map(|(bonded, unbonding)| StakeRecord { bonded, unbonding })
}

// ---------------------------------------------------------------------------
// Shared checks.
// ---------------------------------------------------------------------------

/// `decode(encode(x)) == x`.
fn assert_round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Encode + Decode + PartialEq + Debug + Clone,
{
    let bytes = value.encode();
    prop_assert_eq!(T::decode(&bytes), Ok(value.clone()));
    Ok(())
}

/// Decoding never panics, and an accepted input re-encodes to itself.
fn assert_strict<T: Encode + Decode>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(value) = T::decode(bytes) {
        prop_assert_eq!(
            value.encode(),
            bytes,
            "{} accepted bytes that are not its canonical encoding",
            std::any::type_name::<T>()
        );
    }
    Ok(())
}

/// [`assert_strict`] for every encodable type.
fn assert_every_decoder_strict(bytes: &[u8]) -> Result<(), TestCaseError> {
    assert_strict::<Payload>(bytes)?;
    assert_strict::<Transaction>(bytes)?;
    assert_strict::<BlockHeader>(bytes)?;
    assert_strict::<Block>(bytes)?;
    assert_strict::<DagAnchor>(bytes)?;
    assert_strict::<VoteKind>(bytes)?;
    assert_strict::<Vote>(bytes)?;
    assert_strict::<CommitSignature>(bytes)?;
    assert_strict::<CommitCertificate>(bytes)?;
    assert_strict::<Validator>(bytes)?;
    assert_strict::<ValidatorSet>(bytes)?;
    assert_strict::<AccountState>(bytes)?;
    assert_strict::<DeviceRecord>(bytes)?;
    assert_strict::<Grant>(bytes)?;
    assert_strict::<StakeRecord>(bytes)?;
    assert_strict::<ChainId>(bytes)?;
    assert_strict::<Amount>(bytes)?;
    assert_strict::<SecurityLevel>(bytes)?;
    assert_strict::<Permissions>(bytes)?;
    assert_strict::<Hash>(bytes)?;
    assert_strict::<PublicKey>(bytes)?;
    assert_strict::<Signature>(bytes)?;
    assert_strict::<bool>(bytes)?;
    Ok(())
}

/// One way of damaging a valid encoding.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the byte at an index by a different value.
    Replace(Index, u8),
    /// Cut the input at an index.
    Truncate(Index),
    /// Append one byte.
    Append(u8),
    /// Insert one byte at an index.
    Insert(Index, u8),
    /// Remove the byte at an index.
    Remove(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Replace(i, x)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => any::<u8>().prop_map(Mutation::Append),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<Index>().prop_map(Mutation::Remove),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    match mutation {
        Mutation::Replace(i, x) if !bytes.is_empty() => {
            let i = i.index(bytes.len());
            bytes[i] ^= x; // x != 0, so the byte changes
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len() + 1).min(bytes.len())),
        Mutation::Append(b) => bytes.push(*b),
        Mutation::Insert(i, b) => {
            let i = i.index(bytes.len() + 1);
            bytes.insert(i, *b);
        }
        Mutation::Remove(i) if !bytes.is_empty() => {
            let i = i.index(bytes.len());
            bytes.remove(i);
        }
        Mutation::Replace(..) | Mutation::Remove(_) => {}
    }
    bytes
}

/// A damaged valid encoding of `T` is either refused or is itself canonical.
fn assert_damaged_encoding_strict<T: Encode + Decode>(
    value: &T,
    mutation: &Mutation,
) -> Result<(), TestCaseError> {
    let damaged = mutate(value.encode(), mutation);
    assert_strict::<T>(&damaged)?;
    // Other decoders must not panic on it either.
    assert_every_decoder_strict(&damaged)
}

// ---------------------------------------------------------------------------
// 1. Round trips.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_payload_variant_round_trips_under_its_tag(p in payload()) {
        prop_assert_eq!(p.encode()[0], payload_tag(&p));
        assert_round_trip(&p)?;
    }

    #[test]
    fn transactions_round_trip(tx in transaction()) {
        assert_round_trip(&tx)?;
    }

    #[test]
    fn block_headers_round_trip(header in block_header()) {
        assert_round_trip(&header)?;
    }

    #[test]
    fn blocks_round_trip(b in block()) {
        assert_round_trip(&b)?;
    }

    #[test]
    fn dag_anchors_round_trip(anchor in dag_anchor(ANCHOR_TIPS_MAX)) {
        assert_round_trip(&anchor)?;
    }

    #[test]
    fn votes_of_both_kinds_round_trip(v in vote()) {
        assert_round_trip(&v)?;
        assert_round_trip(&v.kind)?;
    }

    #[test]
    fn commit_signatures_round_trip(s in commit_signature()) {
        assert_round_trip(&s)?;
    }

    #[test]
    fn commit_certificates_round_trip(cert in commit_certificate()) {
        assert_round_trip(&cert)?;
    }

    #[test]
    fn validators_round_trip(v in validator()) {
        assert_round_trip(&v)?;
    }

    #[test]
    fn validator_sets_round_trip(set in validator_set()) {
        assert_round_trip(&set)?;
    }

    #[test]
    fn ledger_records_round_trip(
        account in account_state(),
        device in device_record(),
        g in grant(),
        stake in stake_record(),
    ) {
        assert_round_trip(&account)?;
        assert_round_trip(&device)?;
        assert_round_trip(&g)?;
        assert_round_trip(&stake)?;
    }

    #[test]
    fn scalar_newtypes_round_trip(
        chain in chain_id(),
        a in amount(),
        level in security_level(),
        perms in permissions(),
    ) {
        assert_round_trip(&chain)?;
        assert_round_trip(&a)?;
        assert_round_trip(&level)?;
        assert_round_trip(&perms)?;
    }
}

#[test]
fn every_security_level_up_to_the_maximum_round_trips() {
    for level in 0..=SECURITY_LEVEL_MAX {
        let level = SecurityLevel::new(level).unwrap();
        assert_eq!(SecurityLevel::decode(&level.encode()), Ok(level));
    }
    assert_eq!(SecurityLevel::new(SECURITY_LEVEL_MAX + 1), None);
}

// ---------------------------------------------------------------------------
// 2. Strict decoding of arbitrary and damaged inputs.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_bytes_are_canonical(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        // Every prefix, so that each fixed-size type also sees inputs of
        // exactly its length (which it must accept and reproduce).
        for end in 0..=bytes.len() {
            assert_every_decoder_strict(&bytes[..end])?;
        }
    }

    #[test]
    fn random_module_payload_bytes_never_panic_and_accepted_ones_are_canonical(
        module in any::<u8>(),
        len in prop_oneof![0u32..80, Just(MODULE_BODY_MAX as u32), Just(MODULE_BODY_MAX as u32 + 1), any::<u32>()],
        body in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut bytes = vec![8, module];
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&body);
        assert_strict::<Payload>(&bytes)?;
        if len as usize == body.len() {
            prop_assert_eq!(
                Payload::decode(&bytes),
                Ok(Payload::Module { module, body: body.clone() })
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn damaged_payloads_are_refused_or_canonical(p in payload(), m in mutation()) {
        assert_damaged_encoding_strict(&p, &m)?;
    }

    #[test]
    fn damaged_transactions_are_refused_or_canonical(tx in transaction(), m in mutation()) {
        assert_damaged_encoding_strict(&tx, &m)?;
    }

    #[test]
    fn damaged_headers_are_refused_or_canonical(h in block_header(), m in mutation()) {
        assert_damaged_encoding_strict(&h, &m)?;
    }

    #[test]
    fn damaged_blocks_are_refused_or_canonical(b in block(), m in mutation()) {
        assert_damaged_encoding_strict(&b, &m)?;
    }

    #[test]
    fn damaged_anchors_are_refused_or_canonical(a in dag_anchor(ANCHOR_TIPS_MAX), m in mutation()) {
        assert_damaged_encoding_strict(&a, &m)?;
    }

    #[test]
    fn damaged_votes_are_refused_or_canonical(v in vote(), m in mutation()) {
        assert_damaged_encoding_strict(&v, &m)?;
    }

    #[test]
    fn damaged_certificates_are_refused_or_canonical(
        cert in commit_certificate(),
        m in mutation(),
    ) {
        assert_damaged_encoding_strict(&cert, &m)?;
    }

    #[test]
    fn damaged_validators_and_sets_are_refused_or_canonical(
        v in validator(),
        s in commit_signature(),
        set in validator_set(),
        m in mutation(),
    ) {
        assert_damaged_encoding_strict(&v, &m)?;
        assert_damaged_encoding_strict(&s, &m)?;
        assert_damaged_encoding_strict(&set, &m)?;
    }

    #[test]
    fn damaged_ledger_records_are_refused_or_canonical(
        account in account_state(),
        device in device_record(),
        g in grant(),
        stake in stake_record(),
        m in mutation(),
    ) {
        assert_damaged_encoding_strict(&account, &m)?;
        assert_damaged_encoding_strict(&device, &m)?;
        assert_damaged_encoding_strict(&g, &m)?;
        assert_damaged_encoding_strict(&stake, &m)?;
    }

    #[test]
    fn damaged_scalars_are_refused_or_canonical(
        chain in chain_id(),
        a in amount(),
        level in security_level(),
        m in mutation(),
    ) {
        assert_damaged_encoding_strict(&chain, &m)?;
        assert_damaged_encoding_strict(&a, &m)?;
        assert_damaged_encoding_strict(&level, &m)?;
    }
}

// ---------------------------------------------------------------------------
// 3. Canonicality: non-canonical inputs get a typed error.
// ---------------------------------------------------------------------------

fn key(byte: u8) -> PublicKey {
    PublicKey([byte; 32])
}

fn sample_header() -> BlockHeader {
    BlockHeader {
        chain_id: ChainId(7),
        height: 3,
        previous_hash: Hash([1; 32]),
        tx_root: Hash([2; 32]),
        tx_count: 3,
        state_root: Hash([3; 32]),
        dag_anchor_root: Hash([4; 32]),
        dag_anchor_hash: Hash([10; 32]),
        validator_set_hash: Hash([5; 32]),
        next_validator_set_hash: Hash([6; 32]),
        time_ms: 1_000,
        proposer: key(9),
        view: 0,
    }
}

fn certificate_with(signatures: Vec<CommitSignature>) -> CommitCertificate {
    CommitCertificate {
        chain_id: ChainId(7),
        height: 3,
        view: 0,
        block_hash: Hash([8; 32]),
        signatures,
    }
}

fn commit_sig(byte: u8) -> CommitSignature {
    CommitSignature {
        validator: key(byte),
        signature: Signature([byte; 64]),
    }
}

/// Encoding of a validator list as a set, bypassing [`ValidatorSet::new`].
fn raw_validator_set(validators: &[Validator]) -> Vec<u8> {
    let mut out = Vec::new();
    write_vec(&mut out, validators);
    out
}

fn is_non_canonical<T: Debug>(result: Result<T, DecodeError>) -> bool {
    matches!(result, Err(DecodeError::NonCanonical(_)))
}

#[test]
fn certificate_with_unsorted_signatures_is_refused() {
    let cert = certificate_with(vec![commit_sig(2), commit_sig(1)]);
    assert!(is_non_canonical(CommitCertificate::decode(&cert.encode())));
    let sorted = certificate_with(vec![commit_sig(1), commit_sig(2)]);
    assert_eq!(CommitCertificate::decode(&sorted.encode()), Ok(sorted));
}

#[test]
fn certificate_with_two_signatures_from_one_validator_is_refused() {
    let mut second = commit_sig(1);
    second.signature = Signature([0xee; 64]);
    for signatures in [
        vec![commit_sig(1), commit_sig(1)],
        vec![commit_sig(1), second],
        vec![commit_sig(0), commit_sig(1), second, commit_sig(3)],
    ] {
        let cert = certificate_with(signatures);
        assert!(is_non_canonical(CommitCertificate::decode(&cert.encode())));
    }
}

#[test]
fn validator_set_with_unsorted_or_duplicate_keys_is_refused() {
    let a = Validator {
        key: key(1),
        weight: 10,
    };
    let b = Validator {
        key: key(2),
        weight: 10,
    };
    assert!(is_non_canonical(ValidatorSet::decode(&raw_validator_set(
        &[b, a]
    ))));
    assert!(is_non_canonical(ValidatorSet::decode(&raw_validator_set(
        &[a, a]
    ))));
    let set = ValidatorSet::decode(&raw_validator_set(&[a, b])).unwrap();
    assert_eq!(set.total_weight(), 20);
    // The constructor sorts instead of refusing, and refuses duplicates.
    assert_eq!(ValidatorSet::new(vec![b, a]), Ok(set));
    assert_eq!(
        ValidatorSet::new(vec![a, b, a]),
        Err(ValidatorSetError::Duplicate)
    );
}

#[test]
fn validator_set_with_zero_weight_empty_or_overweight_is_refused() {
    let v = |byte, weight| Validator {
        key: key(byte),
        weight,
    };
    assert_eq!(
        ValidatorSet::decode(&raw_validator_set(&[v(1, 5), v(2, 0)])),
        Err(DecodeError::InvalidValue("validator set"))
    );
    assert_eq!(
        ValidatorSet::decode(&raw_validator_set(&[])),
        Err(DecodeError::InvalidValue("validator set"))
    );
    assert_eq!(
        ValidatorSet::decode(&raw_validator_set(&[v(1, TOTAL_WEIGHT_MAX), v(2, 1)])),
        Err(DecodeError::InvalidValue("validator set"))
    );
    assert_eq!(
        ValidatorSet::decode(&raw_validator_set(&[v(1, u64::MAX), v(2, u64::MAX)])),
        Err(DecodeError::InvalidValue("validator set"))
    );
    assert_eq!(
        ValidatorSet::new(vec![v(1, 5), v(2, 0)]),
        Err(ValidatorSetError::ZeroWeight)
    );
    assert_eq!(ValidatorSet::new(vec![]), Err(ValidatorSetError::Empty));
    assert_eq!(
        ValidatorSet::new(vec![v(1, TOTAL_WEIGHT_MAX), v(2, 1)]),
        Err(ValidatorSetError::TotalWeightTooLarge)
    );
    let full = ValidatorSet::new(vec![v(1, TOTAL_WEIGHT_MAX)]).unwrap();
    assert_eq!(ValidatorSet::decode(&full.encode()), Ok(full));
}

#[test]
fn bool_and_vote_kind_accept_only_their_tags() {
    assert_eq!(bool::decode(&[0]), Ok(false));
    assert_eq!(bool::decode(&[1]), Ok(true));
    assert_eq!(
        bool::decode(&[2]),
        Err(DecodeError::InvalidTag {
            what: "bool",
            tag: 2
        })
    );
    let vote = Vote {
        chain_id: ChainId(7),
        kind: VoteKind::Commit,
        height: 1,
        view: 0,
        block_hash: Hash([3; 32]),
        validator: key(1),
        signature: Signature([4; 64]),
    };
    let mut bytes = vote.encode();
    assert_eq!(bytes[4], 1, "kind follows the 4-byte chain id");
    bytes[4] = 2;
    assert_eq!(
        Vote::decode(&bytes),
        Err(DecodeError::InvalidTag {
            what: "vote kind",
            tag: 2
        })
    );
}

#[test]
fn unknown_payload_tag_is_refused() {
    let bond = Payload::Bond { amount: Amount(5) };
    for tag in [13u8, 14, 0x80, 0xff] {
        let mut bytes = bond.encode();
        bytes[0] = tag;
        assert_eq!(
            Payload::decode(&bytes),
            Err(DecodeError::InvalidTag {
                what: "payload",
                tag
            })
        );
    }
    // The same inside a transaction.
    let tx = Transaction {
        chain_id: ChainId(7),
        sender: key(1),
        nonce: 0,
        fee: Amount(1),
        payload: bond,
        signature: Signature([2; 64]),
    };
    let mut bytes = tx.encode();
    let tag_at = 4 + 32 + 8 + 8;
    assert_eq!(bytes[tag_at], 5);
    bytes[tag_at] = 13;
    assert_eq!(
        Transaction::decode(&bytes),
        Err(DecodeError::InvalidTag {
            what: "payload",
            tag: 13
        })
    );
}

#[test]
fn module_payload_encodes_tag_id_and_length_prefixed_body() {
    let payload = Payload::Module {
        module: 3,
        body: vec![0xaa, 0xbb],
    };
    assert_eq!(payload.encode(), vec![8, 3, 2, 0, 0, 0, 0xaa, 0xbb]);
    assert_eq!(Payload::decode(&payload.encode()), Ok(payload));
    // A body of exactly the cap decodes.
    let full = Payload::Module {
        module: 0,
        body: vec![7; MODULE_BODY_MAX],
    };
    assert_eq!(Payload::decode(&full.encode()), Ok(full));
}

#[test]
fn module_body_longer_than_the_cap_is_refused_before_it_is_read() {
    let long = Payload::Module {
        module: 1,
        body: vec![0; MODULE_BODY_MAX + 1],
    };
    assert_eq!(
        Payload::decode(&long.encode()),
        Err(DecodeError::LengthTooLarge {
            what: "module body",
            len: MODULE_BODY_MAX as u64 + 1,
            max: MODULE_BODY_MAX as u64,
        })
    );
    // A huge length prefix on a short input is refused by its cap, without
    // allocating what it claims.
    let mut bytes = vec![8, 1];
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        Payload::decode(&bytes),
        Err(DecodeError::LengthTooLarge {
            what: "module body",
            len: u32::MAX as u64,
            max: MODULE_BODY_MAX as u64,
        })
    );
    // A length within the cap but past the end of the input is refused too.
    let mut bytes = vec![8, 1];
    bytes.extend_from_slice(&10u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 3]);
    assert!(matches!(
        Payload::decode(&bytes),
        Err(DecodeError::UnexpectedEnd { .. })
    ));
}

#[test]
fn a_signature_covers_the_module_id_and_body() {
    let sender = Keypair::from_seed([5; 32]);
    let tx = Transaction::new_signed(
        &sender,
        ChainId(7),
        0,
        Amount(1),
        Payload::Module {
            module: 3,
            body: vec![1, 2, 3],
        },
    );
    assert!(tx.verify_signature().is_ok());
    let mut other_module = tx.clone();
    other_module.payload = Payload::Module {
        module: 4,
        body: vec![1, 2, 3],
    };
    assert!(other_module.verify_signature().is_err());
    let mut other_body = tx.clone();
    other_body.payload = Payload::Module {
        module: 3,
        body: vec![1, 2, 4],
    };
    assert!(other_body.verify_signature().is_err());
}

#[test]
fn security_level_above_the_maximum_is_refused() {
    for level in [SECURITY_LEVEL_MAX + 1, 0xff] {
        assert_eq!(
            SecurityLevel::decode(&[level]),
            Err(DecodeError::InvalidValue("security level"))
        );
    }
    let record = DeviceRecord {
        owner: key(1),
        security_level: SecurityLevel::new(SECURITY_LEVEL_MAX).unwrap(),
        metadata_hash: Hash([2; 32]),
        ownership_seq: 0,
    };
    let mut bytes = record.encode();
    bytes[32] = SECURITY_LEVEL_MAX + 1;
    assert_eq!(
        DeviceRecord::decode(&bytes),
        Err(DecodeError::InvalidValue("security level"))
    );
    let register = Payload::RegisterDevice {
        device: key(1),
        security_level: SecurityLevel::new(0).unwrap(),
        metadata_hash: Hash([2; 32]),
        pairing_signature: Signature([3; 64]),
    };
    let mut bytes = register.encode();
    bytes[1 + 32] = 4;
    assert_eq!(
        Payload::decode(&bytes),
        Err(DecodeError::InvalidValue("security level"))
    );
}

#[test]
fn block_with_option_tag_two_is_refused() {
    let block = Block {
        header: sample_header(),
        transactions: vec![],
        anchor: None,
    };
    let mut bytes = block.encode();
    assert_eq!(*bytes.last().unwrap(), 0);
    *bytes.last_mut().unwrap() = 2;
    assert_eq!(
        Block::decode(&bytes),
        Err(DecodeError::InvalidTag {
            what: "option",
            tag: 2
        })
    );
    // Tag 1 without an anchor behind it is a truncation, not a panic.
    *bytes.last_mut().unwrap() = 1;
    assert!(matches!(
        Block::decode(&bytes),
        Err(DecodeError::UnexpectedEnd { .. })
    ));
}

#[test]
fn anchor_with_more_tips_than_the_cap_is_refused() {
    let tips = |n: usize| -> Vec<Hash> {
        (0..n)
            .map(|i| {
                let mut h = [0u8; 32];
                h[..8].copy_from_slice(&(i as u64).to_be_bytes());
                Hash(h)
            })
            .collect()
    };
    let full = DagAnchor {
        tips: tips(ANCHOR_TIPS_MAX),
    };
    assert_eq!(DagAnchor::decode(&full.encode()), Ok(full));
    let over = DagAnchor {
        tips: tips(ANCHOR_TIPS_MAX + 1),
    };
    assert_eq!(
        DagAnchor::decode(&over.encode()),
        Err(DecodeError::LengthTooLarge {
            what: "anchor tips",
            len: ANCHOR_TIPS_MAX as u64 + 1,
            max: ANCHOR_TIPS_MAX as u64,
        })
    );
    // A huge count with no elements behind it.
    let mut bytes = Vec::new();
    write_len(&mut bytes, u32::MAX as usize);
    assert!(matches!(
        DagAnchor::decode(&bytes),
        Err(DecodeError::LengthTooLarge { len, .. }) if len == u32::MAX as u64
    ));
}

#[test]
fn anchor_with_unsorted_or_repeated_tips_is_refused() {
    let a = Hash([1; 32]);
    let b = Hash([2; 32]);
    for tips in [vec![b, a], vec![a, a], vec![a, b, b]] {
        assert!(is_non_canonical(DagAnchor::decode(
            &DagAnchor { tips }.encode()
        )));
    }
}

#[test]
fn certificate_and_validator_set_lengths_are_capped() {
    let signatures: Vec<CommitSignature> = (0..=VALIDATORS_MAX)
        .map(|i| {
            let mut k = [0u8; 32];
            k[..2].copy_from_slice(&(i as u16).to_be_bytes());
            CommitSignature {
                validator: PublicKey(k),
                signature: Signature([1; 64]),
            }
        })
        .collect();
    let cert = certificate_with(signatures);
    assert_eq!(
        CommitCertificate::decode(&cert.encode()),
        Err(DecodeError::LengthTooLarge {
            what: "certificate signatures",
            len: VALIDATORS_MAX as u64 + 1,
            max: VALIDATORS_MAX as u64,
        })
    );
    let validators: Vec<Validator> = cert
        .signatures
        .iter()
        .map(|s| Validator {
            key: s.validator,
            weight: 1,
        })
        .collect();
    assert_eq!(
        ValidatorSet::new(validators.clone()),
        Err(ValidatorSetError::TooMany(VALIDATORS_MAX + 1))
    );
    assert_eq!(
        ValidatorSet::decode(&raw_validator_set(&validators)),
        Err(DecodeError::LengthTooLarge {
            what: "validators",
            len: VALIDATORS_MAX as u64 + 1,
            max: VALIDATORS_MAX as u64,
        })
    );
    let full = ValidatorSet::new(validators[..VALIDATORS_MAX].to_vec()).unwrap();
    assert_eq!(ValidatorSet::decode(&full.encode()), Ok(full));
}

#[test]
fn block_transaction_count_is_capped_before_reading_transactions() {
    let mut bytes = sample_header().encode();
    write_len(&mut bytes, BLOCK_TRANSACTIONS_MAX + 1);
    assert_eq!(
        Block::decode(&bytes),
        Err(DecodeError::LengthTooLarge {
            what: "block transactions",
            len: BLOCK_TRANSACTIONS_MAX as u64 + 1,
            max: BLOCK_TRANSACTIONS_MAX as u64,
        })
    );
    // A count under the cap with nothing behind it: a clean truncation error.
    let mut bytes = sample_header().encode();
    write_len(&mut bytes, BLOCK_TRANSACTIONS_MAX);
    assert!(matches!(
        Block::decode(&bytes),
        Err(DecodeError::UnexpectedEnd { .. })
    ));
}

#[test]
fn trailing_bytes_after_a_value_are_refused() {
    let tx = Transaction {
        chain_id: ChainId(7),
        sender: key(1),
        nonce: 0,
        fee: Amount(1),
        payload: Payload::Unbond { amount: Amount(9) },
        signature: Signature([2; 64]),
    };
    let mut bytes = tx.encode();
    bytes.push(0);
    assert_eq!(
        Transaction::decode(&bytes),
        Err(DecodeError::TrailingBytes(1))
    );
    let mut bytes = Amount(1).encode();
    bytes.extend_from_slice(&[0, 0]);
    assert_eq!(Amount::decode(&bytes), Err(DecodeError::TrailingBytes(2)));
}

// ---------------------------------------------------------------------------
// 4. Quorum arithmetic in weight.
// ---------------------------------------------------------------------------

/// Weights for 1..=20 validators: tiny ranges hit exact thirds often, large
/// ones exercise big totals.
fn weights() -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        prop::collection::vec(1..=3u64, 1..=20),
        prop::collection::vec(1..=1000u64, 1..=20),
        prop::collection::vec(1..=1_000_000_000_000u64, 1..=20),
    ]
}

fn set_of(weights: &[u64]) -> ValidatorSet {
    let validators = weights
        .iter()
        .enumerate()
        .map(|(i, &weight)| Validator {
            key: key(i as u8),
            weight,
        })
        .collect();
    ValidatorSet::new(validators).unwrap()
}

fn weight_where(weights: &[u64], member: impl Fn(usize) -> bool) -> u64 {
    weights
        .iter()
        .enumerate()
        .filter(|(i, _)| member(*i))
        .map(|(_, w)| w)
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_two_quorums_overlap_in_more_than_a_third(
        weights in weights(),
        a in prop::collection::vec(any::<bool>(), 20),
        b in prop::collection::vec(any::<bool>(), 20),
    ) {
        let set = set_of(&weights);
        prop_assert_eq!(set.total_weight(), weights.iter().sum::<u64>());
        let w_a = weight_where(&weights, |i| a[i]);
        let w_b = weight_where(&weights, |i| b[i]);
        let w_ab = weight_where(&weights, |i| a[i] && b[i]);
        if set.is_quorum(w_a) && set.is_quorum(w_b) {
            prop_assert!(set.exceeds_one_third(w_ab), "{w_a} {w_b} {w_ab} of {}", set.total_weight());
            prop_assert!(w_ab > set.fault_tolerance());
        }
    }

    #[test]
    fn fault_tolerance_is_the_largest_weight_under_a_third(weights in weights()) {
        let set = set_of(&weights);
        let total = set.total_weight();
        let f = set.fault_tolerance();
        prop_assert!(3 * f < total);
        prop_assert!(3 * (f + 1) >= total);
        prop_assert!(!set.exceeds_one_third(f));
        // Everything but f honest weight is a quorum.
        prop_assert!(set.is_quorum(total - f));
    }

    #[test]
    fn quorum_is_strictly_more_than_two_thirds(weights in weights()) {
        let set = set_of(&weights);
        let total = set.total_weight();
        let smallest_quorum = 2 * total / 3 + 1;
        prop_assert!(set.is_quorum(smallest_quorum));
        prop_assert!(!set.is_quorum(smallest_quorum - 1));
        prop_assert!(set.is_quorum(total));
        if total.is_multiple_of(3) {
            prop_assert!(!set.is_quorum(2 * total / 3), "exactly two thirds is a quorum");
            prop_assert!(!set.exceeds_one_third(total / 3), "exactly one third exceeds a third");
        }
        let smallest_third = total / 3 + 1;
        prop_assert!(set.exceeds_one_third(smallest_third));
        prop_assert!(!set.exceeds_one_third(smallest_third - 1));
    }

    #[test]
    fn thresholds_are_monotone_and_never_overflow(
        weight in any::<u64>(),
        total in any::<u64>(),
        numerator in 0..10u64,
        extra in 1..10u64,
    ) {
        let threshold = Threshold { numerator, denominator: numerator + extra };
        if threshold.is_met(weight, total) && weight < u64::MAX {
            prop_assert!(threshold.is_met(weight + 1, total));
        }
        if threshold.is_met(weight, total) && total > 0 {
            prop_assert!(threshold.is_met(weight, total - 1));
        }
        prop_assert!(Threshold::TWO_THIRDS.is_met(u64::MAX, u64::MAX));
        prop_assert!(!Threshold::TWO_THIRDS.is_met(0, total));
    }
}

#[test]
fn exactly_two_thirds_of_the_weight_is_not_a_quorum() {
    for total in [3u64, 6, 99, 300, 3 * (TOTAL_WEIGHT_MAX / 3)] {
        let set = ValidatorSet::new(vec![Validator {
            key: key(1),
            weight: total,
        }])
        .unwrap();
        assert!(!set.is_quorum(total / 3 * 2));
        assert!(set.is_quorum(total / 3 * 2 + 1));
        assert!(!set.exceeds_one_third(total / 3));
        assert!(set.exceeds_one_third(total / 3 + 1));
    }
}

// ---------------------------------------------------------------------------
// 5. Signatures bind every field.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn signed_transaction_verifies_and_any_change_breaks_it(
        seed in any::<[u8; 32]>(),
        chain in chain_id(),
        nonce in any::<u64>(),
        fee in amount(),
        p in payload(),
        other_payload in payload(),
        flip in 1..=255u8,
        at in any::<Index>(),
        other_seed in any::<[u8; 32]>(),
    ) {
        let keypair = Keypair::from_seed(seed);
        let tx = Transaction::new_signed(&keypair, chain, nonce, fee, p.clone());
        prop_assert!(tx.verify_signature().is_ok());
        let decoded = Transaction::decode(&tx.encode()).unwrap();
        prop_assert!(decoded.verify_signature().is_ok());
        prop_assert_eq!(decoded.hash(), tx.hash());

        let broken = |change: &dyn Fn(&mut Transaction)| {
            let mut t = tx.clone();
            change(&mut t);
            t.verify_signature().is_err()
        };
        prop_assert!(broken(&|t| t.chain_id = ChainId(t.chain_id.0 ^ u32::from(flip))));
        prop_assert!(broken(&|t| t.nonce ^= u64::from(flip)));
        prop_assert!(broken(&|t| t.fee = Amount(t.fee.0 ^ u64::from(flip))));
        if other_payload != p {
            prop_assert!(broken(&|t| t.payload = other_payload.clone()));
        }
        prop_assert!(broken(&|t| t.signature.0[at.index(64)] ^= flip));
        prop_assert!(broken(&|t| t.sender.0[at.index(32)] ^= flip));
        if other_seed != seed {
            let other = Keypair::from_seed(other_seed).public();
            prop_assert!(broken(&|t| t.sender = other));
        }
        // A change anywhere in the signed bytes also changes the identifier.
        let mut t = tx.clone();
        t.nonce ^= u64::from(flip);
        prop_assert_ne!(t.hash(), tx.hash());
    }

    #[test]
    fn signed_vote_verifies_and_any_change_breaks_it(
        seed in any::<[u8; 32]>(),
        chain in chain_id(),
        kind in vote_kind(),
        height in any::<u64>(),
        view in any::<u64>(),
        block_hash in hash(),
        flip in 1..=255u8,
        at in any::<Index>(),
    ) {
        let keypair = Keypair::from_seed(seed);
        let vote = Vote::new_signed(&keypair, chain, kind, height, view, block_hash);
        prop_assert!(vote.verify_signature().is_ok());
        prop_assert!(Vote::decode(&vote.encode()).unwrap().verify_signature().is_ok());

        let broken = |change: &dyn Fn(&mut Vote)| {
            let mut v = vote.clone();
            change(&mut v);
            v.verify_signature().is_err()
        };
        prop_assert!(broken(&|v| v.chain_id = ChainId(v.chain_id.0 ^ u32::from(flip))));
        let other_kind = match kind {
            VoteKind::Prepare => VoteKind::Commit,
            VoteKind::Commit => VoteKind::Prepare,
        };
        prop_assert!(broken(&|v| v.kind = other_kind));
        prop_assert!(broken(&|v| v.height ^= u64::from(flip)));
        prop_assert!(broken(&|v| v.view ^= u64::from(flip)));
        prop_assert!(broken(&|v| v.block_hash.0[at.index(32)] ^= flip));
        prop_assert!(broken(&|v| v.signature.0[at.index(64)] ^= flip));
    }
}

#[test]
fn transaction_signature_does_not_verify_as_a_vote_signature() {
    // Signatures are domain-bound: a vote whose signing bytes happened to
    // carry a transaction's signature must not verify.
    let keypair = Keypair::from_seed([5; 32]);
    let vote = Vote::new_signed(&keypair, ChainId(1), VoteKind::Commit, 1, 0, Hash([1; 32]));
    let signed_as_tx = keypair.sign(
        itc_core::keys::SigningDomain::Transaction,
        ChainId(1),
        &vote.signing_bytes(),
    );
    let forged = Vote {
        signature: signed_as_tx,
        ..vote
    };
    assert!(forged.verify_signature().is_err());
}

// ---------------------------------------------------------------------------
// 6. Commit certificates.
// ---------------------------------------------------------------------------

const CHAIN: ChainId = ChainId(42);
const HEIGHT: u64 = 17;
const VIEW: u64 = 3;

struct Committee {
    /// Keypairs of the members with weights 40, 30, 20, 10 (in that order).
    members: Vec<Keypair>,
    set: ValidatorSet,
    block_hash: Hash,
}

impl Committee {
    fn new() -> Self {
        let members: Vec<Keypair> = (1..=4u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let set = ValidatorSet::new(
            members
                .iter()
                .zip([40, 30, 20, 10])
                .map(|(k, weight)| Validator {
                    key: k.public(),
                    weight,
                })
                .collect(),
        )
        .unwrap();
        Committee {
            members,
            set,
            block_hash: Hash::of(Domain::BlockHeader, b"the block"),
        }
    }

    /// The member holding `weight` (40, 30, 20 or 10).
    fn member(&self, weight: u64) -> &Keypair {
        let i = match weight {
            40 => 0,
            30 => 1,
            20 => 2,
            10 => 3,
            _ => panic!("no member of weight {weight}"),
        };
        &self.members[i]
    }

    fn commit_vote(&self, signer: &Keypair) -> Vote {
        Vote::new_signed(
            signer,
            CHAIN,
            VoteKind::Commit,
            HEIGHT,
            VIEW,
            self.block_hash,
        )
    }

    fn votes_of(&self, weights: &[u64]) -> Vec<Vote> {
        weights
            .iter()
            .map(|&w| self.commit_vote(self.member(w)))
            .collect()
    }

    fn certificate(&self, votes: &[Vote]) -> CommitCertificate {
        CommitCertificate::from_votes(CHAIN, HEIGHT, VIEW, self.block_hash, votes)
    }

    fn verify(&self, weights: &[u64]) -> Result<u64, CertificateError> {
        self.certificate(&self.votes_of(weights))
            .verify(&self.set, Threshold::TWO_THIRDS)
    }
}

fn not_enough(signed: u64) -> Result<u64, CertificateError> {
    Err(CertificateError::NotEnoughWeight { signed, total: 100 })
}

#[test]
fn certificate_verifies_only_with_more_than_two_thirds_of_the_weight() {
    let c = Committee::new();
    assert_eq!(c.set.total_weight(), 100);
    // 70 * 3 = 210 > 200: a quorum; 60 * 3 = 180 is not.
    assert_eq!(c.verify(&[40, 30]), Ok(70));
    assert_eq!(c.verify(&[40, 20, 10]), Ok(70));
    assert_eq!(c.verify(&[40, 20]), not_enough(60));
    assert_eq!(c.verify(&[30, 20, 10]), not_enough(60));
    assert_eq!(c.verify(&[40]), not_enough(40));
    assert_eq!(c.verify(&[]), not_enough(0));
    let all = c.verify(&[40, 30, 20, 10]).unwrap();
    assert!(c.set.is_quorum(all) && all <= 100);
    // Order of votes does not matter.
    assert_eq!(c.verify(&[10, 30, 20]), not_enough(60));
    assert_eq!(c.verify(&[30, 10, 40]), c.verify(&[40, 30, 10]));
}

#[test]
fn certificate_one_vote_short_of_the_threshold_fails() {
    let c = Committee::new();
    // {40, 20, 10} = 70 passes; dropping any member falls to 60 or less.
    for short in [[40, 20], [40, 10], [20, 10]] {
        let result = c.verify(&short);
        assert!(
            matches!(
                result,
                Err(CertificateError::NotEnoughWeight { total: 100, .. })
            ),
            "{short:?}: {result:?}"
        );
    }
}

#[test]
fn certificate_passes_the_one_third_threshold_with_more_than_a_third() {
    let c = Committee::new();
    let verify = |weights: &[u64]| {
        c.certificate(&c.votes_of(weights))
            .verify(&c.set, Threshold::ONE_THIRD)
    };
    assert_eq!(verify(&[30, 10]), Ok(40));
    assert_eq!(verify(&[40]), Ok(40));
    assert_eq!(verify(&[30]), not_enough(30));
    assert_eq!(verify(&[20, 10]), not_enough(30));
}

#[test]
fn signatures_from_keys_outside_the_set_count_zero() {
    let c = Committee::new();
    let outsiders: Vec<Keypair> = (100..110u8).map(|i| Keypair::from_seed([i; 32])).collect();
    let mut votes = c.votes_of(&[40, 20]);
    votes.extend(outsiders.iter().map(|k| c.commit_vote(k)));
    let cert = c.certificate(&votes);
    assert_eq!(cert.signatures.len(), 12);
    assert_eq!(cert.verify(&c.set, Threshold::TWO_THIRDS), not_enough(60));

    // An outsider's garbage signature is not even looked at.
    let mut cert = c.certificate(&c.votes_of(&[40, 30]));
    cert.signatures.push(CommitSignature {
        validator: outsiders[0].public(),
        signature: Signature::EMPTY,
    });
    cert.signatures.sort_by_key(|s| s.validator);
    assert_eq!(cert.verify(&c.set, Threshold::TWO_THIRDS), Ok(70));
    assert_eq!(CommitCertificate::decode(&cert.encode()), Ok(cert));
}

#[test]
fn votes_for_another_block_height_view_chain_or_phase_are_excluded_by_from_votes() {
    let c = Committee::new();
    let heavy = c.member(40);
    let others = c.votes_of(&[30]);
    let stray = [
        Vote::new_signed(heavy, CHAIN, VoteKind::Commit, HEIGHT, VIEW, Hash([9; 32])),
        Vote::new_signed(
            heavy,
            CHAIN,
            VoteKind::Commit,
            HEIGHT + 1,
            VIEW,
            c.block_hash,
        ),
        Vote::new_signed(
            heavy,
            CHAIN,
            VoteKind::Commit,
            HEIGHT,
            VIEW + 1,
            c.block_hash,
        ),
        Vote::new_signed(
            heavy,
            ChainId(43),
            VoteKind::Commit,
            HEIGHT,
            VIEW,
            c.block_hash,
        ),
        Vote::new_signed(heavy, CHAIN, VoteKind::Prepare, HEIGHT, VIEW, c.block_hash),
    ];
    for vote in &stray {
        let mut votes = others.clone();
        votes.push(vote.clone());
        let cert = c.certificate(&votes);
        assert_eq!(cert.signatures.len(), 1, "{vote:?} was not excluded");
        assert_eq!(cert.verify(&c.set, Threshold::TWO_THIRDS), not_enough(30));
    }
}

#[test]
fn signature_for_another_block_height_view_chain_or_phase_is_an_invalid_signature() {
    let c = Committee::new();
    let heavy = c.member(40);
    let stray = [
        Vote::new_signed(heavy, CHAIN, VoteKind::Commit, HEIGHT, VIEW, Hash([9; 32])),
        Vote::new_signed(
            heavy,
            CHAIN,
            VoteKind::Commit,
            HEIGHT + 1,
            VIEW,
            c.block_hash,
        ),
        Vote::new_signed(
            heavy,
            CHAIN,
            VoteKind::Commit,
            HEIGHT,
            VIEW + 1,
            c.block_hash,
        ),
        Vote::new_signed(
            heavy,
            ChainId(43),
            VoteKind::Commit,
            HEIGHT,
            VIEW,
            c.block_hash,
        ),
        Vote::new_signed(heavy, CHAIN, VoteKind::Prepare, HEIGHT, VIEW, c.block_hash),
    ];
    for vote in &stray {
        // Smuggle the stray signature in as the heaviest member's commit.
        let mut cert = c.certificate(&c.votes_of(&[40, 30, 20]));
        let slot = cert
            .signatures
            .iter_mut()
            .find(|s| s.validator == heavy.public())
            .unwrap();
        slot.signature = vote.signature;
        assert_eq!(
            cert.verify(&c.set, Threshold::TWO_THIRDS),
            Err(CertificateError::InvalidSignature),
            "{vote:?}"
        );
    }
    // A flipped bit in a member's signature is caught the same way.
    let mut cert = c.certificate(&c.votes_of(&[40, 30]));
    cert.signatures[0].signature.0[10] ^= 1;
    assert_eq!(
        cert.verify(&c.set, Threshold::TWO_THIRDS),
        Err(CertificateError::InvalidSignature)
    );
}

#[test]
fn one_validator_counts_once() {
    let c = Committee::new();
    // from_votes drops repeated votes of one validator.
    let mut votes = c.votes_of(&[40, 40, 40, 20]);
    votes.extend(c.votes_of(&[20]));
    let cert = c.certificate(&votes);
    assert_eq!(cert.signatures.len(), 2);
    assert_eq!(cert.verify(&c.set, Threshold::TWO_THIRDS), not_enough(60));

    // A certificate naming one validator twice cannot be decoded.
    let signature = cert.signatures[0];
    let doubled = certificate_with(vec![signature, signature]);
    assert!(is_non_canonical(CommitCertificate::decode(
        &doubled.encode()
    )));
}

#[test]
fn certificate_round_trips_and_still_verifies_after_decoding() {
    let c = Committee::new();
    let cert = c.certificate(&c.votes_of(&[10, 20, 30, 40]));
    assert!(cert
        .signatures
        .windows(2)
        .all(|w| w[0].validator < w[1].validator));
    let decoded = CommitCertificate::decode(&cert.encode()).unwrap();
    assert_eq!(decoded, cert);
    assert!(decoded.verify(&c.set, Threshold::TWO_THIRDS).is_ok());
    // Against a different set (same keys, other weights) the weights follow that set.
    let reweighted = ValidatorSet::new(
        c.set
            .validators()
            .iter()
            .map(|v| Validator {
                key: v.key,
                weight: if v.key == c.member(10).public() {
                    1000
                } else {
                    v.weight
                },
            })
            .collect(),
    )
    .unwrap();
    let only_small = c.certificate(&c.votes_of(&[10]));
    assert_eq!(
        only_small.verify(&reweighted, Threshold::TWO_THIRDS),
        Ok(1000)
    );
}

#[test]
fn a_block_carries_an_anchor_exactly_when_its_header_commits_to_one() {
    let tip = Hash::of(Domain::DagTransaction, b"tip");
    let anchor = DagAnchor { tips: vec![tip] };
    let mut block = Block {
        header: sample_header(),
        transactions: vec![],
        anchor: None,
    };
    block.header.tx_root = Block::compute_tx_root(&[]);
    block.header.tx_count = 0;
    block.header.dag_anchor_root = Hash::ZERO;
    block.header.dag_anchor_hash = Hash::ZERO;
    assert_eq!(block.check_body(), Ok(()));
    // A root without an anchor, an anchor without a root, an empty anchor.
    block.header.dag_anchor_root = Hash([9; 32]);
    assert_eq!(block.check_body(), Err(BlockBodyError::AnchorRootMismatch));
    block.anchor = Some(anchor.clone());
    block.header.dag_anchor_hash = anchor.hash();
    assert_eq!(block.check_body(), Ok(()));
    block.header.dag_anchor_root = Hash::ZERO;
    assert_eq!(block.check_body(), Err(BlockBodyError::AnchorRootMismatch));
    block.header.dag_anchor_root = Hash([9; 32]);
    block.anchor = Some(DagAnchor { tips: vec![] });
    assert_eq!(block.check_body(), Err(BlockBodyError::AnchorRootMismatch));
    // The transaction root is checked too.
    block.anchor = None;
    block.header.dag_anchor_root = Hash::ZERO;
    block.header.dag_anchor_hash = Hash::ZERO;
    block.header.tx_root = Hash([1; 32]);
    assert_eq!(block.check_body(), Err(BlockBodyError::TxRootMismatch));
}

/// Issue 17, item 1: a tip list swapped under a genuine header (by a relay,
/// a view change or a state-transfer server) is a body that does not match
/// its header, found without the side chain.
#[test]
fn a_tip_list_swapped_under_its_header_fails_the_body_check() {
    let tip = Hash::of(Domain::DagTransaction, b"tip");
    let other = Hash::of(Domain::DagTransaction, b"other tip");
    let anchor = DagAnchor { tips: vec![tip] };
    let mut header = sample_header();
    header.tx_root = Block::compute_tx_root(&[]);
    header.tx_count = 0;
    header.dag_anchor_hash = anchor.hash();
    let genuine = Block {
        header: header.clone(),
        transactions: vec![],
        anchor: Some(anchor),
    };
    assert_eq!(genuine.check_body(), Ok(()));
    for tips in [vec![other], vec![tip, other], vec![other, tip]] {
        let mut tips = tips;
        tips.sort();
        tips.dedup();
        let swapped = Block {
            header: header.clone(),
            transactions: vec![],
            anchor: Some(DagAnchor { tips }),
        };
        assert_eq!(
            swapped.check_body(),
            Err(BlockBodyError::AnchorHashMismatch)
        );
    }
    // An anchor hash without an anchor is refused too.
    let mut bare = genuine.clone();
    bare.anchor = None;
    bare.header.dag_anchor_root = Hash::ZERO;
    assert_eq!(bare.check_body(), Err(BlockBodyError::AnchorHashMismatch));
}

/// Issue 12: the header commits to the number of transactions, so a body
/// with another count fails the body check, and a header announcing more
/// than a block may hold does not decode.
#[test]
fn the_header_pins_the_transaction_count() {
    let mut block = Block {
        header: sample_header(),
        transactions: vec![],
        anchor: None,
    };
    block.header.tx_root = Block::compute_tx_root(&[]);
    block.header.dag_anchor_root = Hash::ZERO;
    block.header.dag_anchor_hash = Hash::ZERO;
    block.header.tx_count = 1;
    assert_eq!(block.check_body(), Err(BlockBodyError::TxCountMismatch));
    block.header.tx_count = 0;
    assert_eq!(block.check_body(), Ok(()));

    let mut header = sample_header();
    header.tx_count = BLOCK_TRANSACTIONS_MAX as u64 + 1;
    assert!(matches!(
        BlockHeader::decode(&header.encode()),
        Err(DecodeError::InvalidValue(_))
    ));
    header.tx_count = BLOCK_TRANSACTIONS_MAX as u64;
    assert_eq!(BlockHeader::decode(&header.encode()), Ok(header));
}
