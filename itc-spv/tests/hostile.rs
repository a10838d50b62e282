//! Hostile input: random bytes never panic a decoder or a verifier, and no
//! single flipped byte of a valid header or proof is accepted.

mod common;

use common::*;
use itc_core::encoding::{Decode, Encode};
use itc_core::hash::{Domain, Hash};
use itc_core::ledger::state_key;
use itc_core::merkle::{self, InclusionProof};
use itc_core::smt::StateProof;
use itc_core::types::{BlockHeader, CommitCertificate, Permissions};
use itc_spv::{
    check_command, detect_fork, verify_update, AnchorCommitment, CommandProof, DagFinalityProof,
    ForkEvidence, HeaderUpdate, LampConfig, LampVerdict, SignedCommand, StateEntryProof,
    TransactionProof, TrustedState, Verdict,
};
use proptest::prelude::*;

/// Decode `bytes` as every wire type of the light client; none may panic.
fn decode_everything(bytes: &[u8]) {
    let _ = BlockHeader::decode(bytes);
    let _ = CommitCertificate::decode(bytes);
    let _ = HeaderUpdate::decode(bytes);
    let _ = TrustedState::from_bytes(bytes);
    let _ = StateProof::decode(bytes);
    let _ = StateEntryProof::decode(bytes);
    let _ = InclusionProof::decode(bytes);
    let _ = TransactionProof::decode(bytes);
    let _ = AnchorCommitment::decode(bytes);
    let _ = DagFinalityProof::decode(bytes);
    let _ = SignedCommand::decode(bytes);
    let _ = CommandProof::decode(bytes);
    let _ = ForkEvidence::decode(bytes);
}

/// A lamp with a valid grant, and everything a guest would send it.
struct Scenario {
    chain: LedgerChain,
    config: LampConfig,
    command: SignedCommand,
    proof: CommandProof,
    next: HeaderUpdate,
}

fn scenario() -> Scenario {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let command = SignedCommand::new_signed(
        &chain.guest,
        CHAIN,
        chain.lamp.public(),
        Permissions::SWITCH,
        time_of(2),
    );
    let next = chain.empty_block();
    let config = LampConfig {
        device: chain.lamp.public(),
        freshness_ms: 60_000,
        command_window_ms: 30_000,
    };
    Scenario {
        chain,
        config,
        command,
        proof,
        next,
    }
}

impl Scenario {
    fn now(&self) -> u64 {
        time_of(2)
    }

    fn lamp_check(&self, command: &SignedCommand, proof: &CommandProof) -> LampVerdict {
        check_command(
            &self.config,
            &self.chain.trusted_at(1),
            &itc_spv::ReplayTable::new(),
            self.now(),
            command,
            proof,
        )
    }

    fn update_check(&self, update: &HeaderUpdate) -> Verdict {
        verify_update(&self.chain.trusted_at(1), update, &OPTIONS, self.now())
    }
}

/// Every byte of `bytes`, with each of a few masks applied.
fn single_byte_flips(bytes: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    (0..bytes.len()).flat_map(move |i| {
        [0x01u8, 0x80, 0xff].into_iter().map(move |mask| {
            let mut flipped = bytes.to_vec();
            flipped[i] ^= mask;
            flipped
        })
    })
}

/// The single-byte flips of `value`'s encoding that still decode. At least
/// one must, or a test looping over them would check nothing.
fn decodable_flips<T: Encode + Decode>(value: &T) -> Vec<T> {
    let flips: Vec<T> = single_byte_flips(&value.encode())
        .filter_map(|bytes| T::decode(&bytes).ok())
        .collect();
    assert!(
        !flips.is_empty(),
        "no flipped encoding decodes: the loop over them would check nothing"
    );
    flips
}

#[test]
fn every_flipped_byte_of_a_valid_header_is_refused() {
    let s = scenario();
    assert_eq!(s.update_check(&s.next), Verdict::Success);
    for header in decodable_flips(&s.next.header) {
        let update = HeaderUpdate {
            header,
            ..s.next.clone()
        };
        assert_ne!(s.update_check(&update), Verdict::Success);
    }
}

#[test]
fn every_flipped_byte_of_a_valid_command_or_its_proof_is_refused() {
    let s = scenario();
    assert!(matches!(
        s.lamp_check(&s.command, &s.proof),
        LampVerdict::Allowed
    ));
    for proof in decodable_flips::<CommandProof>(&s.proof) {
        assert!(matches!(
            s.lamp_check(&s.command, &proof),
            LampVerdict::Denied(_)
        ));
    }
    for command in decodable_flips::<SignedCommand>(&s.command) {
        assert!(matches!(
            s.lamp_check(&command, &s.proof),
            LampVerdict::Denied(_)
        ));
    }
}

#[test]
fn every_flipped_byte_of_an_absence_proof_is_refused() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let revoke = chain.revoke();
    let update = chain.apply(vec![revoke]);
    let key = state_key::grant(&chain.lamp.public(), &chain.guest.public());
    let entry = chain.prove(&key);
    assert_eq!(entry.verify(&update.header, &key), Ok(None));
    for entry in decodable_flips::<StateEntryProof>(&entry) {
        assert_ne!(entry.verify(&update.header, &key), Ok(None));
    }
}

#[test]
fn every_flipped_byte_of_a_transaction_or_dag_proof_is_refused() {
    let mut chain = LedgerChain::new();
    let register = chain.register_lamp();
    let grant = chain.grant(Permissions::SWITCH, 9);
    let update = chain.apply(vec![register, grant]);
    let leaves: Vec<Hash> = chain.blocks[0].iter().map(|t| t.hash()).collect();
    let proof = TransactionProof {
        transaction: chain.blocks[0][1].clone(),
        inclusion: merkle::prove(&leaves, 1).unwrap(),
    };
    assert!(proof.verify(&update.header).is_ok());
    for proof in decodable_flips::<TransactionProof>(&proof) {
        assert!(proof.verify(&update.header).is_err());
    }

    let ids: Vec<Hash> = (0u32..5)
        .map(|i| Hash::of(Domain::DagTransaction, &i.to_le_bytes()))
        .collect();
    let anchor = AnchorCommitment {
        tips_hash: Hash::ZERO,
        confirmed_root: merkle::root(&ids),
        confirmed_count: 5,
        applied_root: merkle::root(&ids),
        applied_count: 5,
    };
    let mut header = update.header.clone();
    header.dag_anchor_root = anchor.hash();
    let dag = DagFinalityProof {
        anchor,
        confirmed: merkle::prove(&ids, 3).unwrap(),
        applied: Some(merkle::prove(&ids, 3).unwrap()),
    };
    let full = dag.verify(&header, &ids[3]).unwrap();
    for dag in decodable_flips::<DagFinalityProof>(&dag) {
        assert_ne!(dag.verify(&header, &ids[3]), Ok(full));
    }
}

#[test]
fn huge_length_prefixes_are_refused_without_allocating() {
    // A certificate claiming u32::MAX signatures in a few bytes.
    let s = scenario();
    let mut bytes = s.next.header.encode();
    bytes.extend_from_slice(&[0u8; 4 + 8 + 8 + 32]);
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(HeaderUpdate::decode(&bytes).is_err());
    let mut value = vec![1u8];
    value.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(StateEntryProof::decode(&value).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_bytes_never_panic_a_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        decode_everything(&bytes);
    }
}

/// Valid wire bytes of every type, to mutate.
fn valid_encodings(s: &Scenario) -> Vec<Vec<u8>> {
    let trusted = s.chain.trusted_at(1);
    vec![
        s.next.encode(),
        trusted.to_bytes(),
        s.command.encode(),
        s.proof.encode(),
        s.proof.grant.encode(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Mutated valid inputs get far past the decoders; whatever decodes is
    /// run through the verifiers, which must not panic and must not accept a
    /// forged command.
    #[test]
    fn mutated_inputs_never_panic_a_verifier(
        which in 0usize..5,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let s = scenario_cached();
        let mut bytes = valid_encodings(s)[which].clone();
        for (index, byte, kind) in edits {
            match kind {
                0 if !bytes.is_empty() => { let i = index.index(bytes.len()); bytes[i] = byte; }
                1 if !bytes.is_empty() => { let i = index.index(bytes.len()); bytes.truncate(i); }
                _ => { let i = index.index(bytes.len() + 1); bytes.insert(i, byte); }
            }
        }
        decode_everything(&bytes);
        if let Ok(update) = HeaderUpdate::decode(&bytes) {
            // Edits outside the header (a signature past the early stop, the
            // optional set) may still verify; an edited header must not.
            if s.update_check(&update) == Verdict::Success {
                prop_assert_eq!(&update.header, &s.next.header);
            }
            let _ = detect_fork(&s.chain.trusted_at(1), &update, &s.next);
        }
        if let Ok(proof) = CommandProof::decode(&bytes) {
            let verdict = s.lamp_check(&s.command, &proof);
            prop_assert!(proof == s.proof || matches!(verdict, LampVerdict::Denied(_)));
        }
        if let Ok(command) = SignedCommand::decode(&bytes) {
            let verdict = s.lamp_check(&command, &s.proof);
            prop_assert!(command == s.command || matches!(verdict, LampVerdict::Denied(_)));
        }
        if let Ok(entry) = StateEntryProof::decode(&bytes) {
            let header = &s.chain.update_at(1).header;
            let _ = entry.verify_grant(header, &s.chain.lamp.public(), &s.chain.guest.public());
        }
    }
}

fn scenario_cached() -> &'static Scenario {
    static SCENARIO: std::sync::OnceLock<Scenario> = std::sync::OnceLock::new();
    SCENARIO.get_or_init(scenario)
}

#[test]
fn wire_types_round_trip() {
    let s = scenario_cached();
    assert_eq!(HeaderUpdate::decode(&s.next.encode()).unwrap(), s.next);
    assert_eq!(CommandProof::decode(&s.proof.encode()).unwrap(), s.proof);
    assert_eq!(
        SignedCommand::decode(&s.command.encode()).unwrap(),
        s.command
    );
    let mut without_set = s.next.clone();
    without_set.validators = None;
    assert_eq!(
        HeaderUpdate::decode(&without_set.encode()).unwrap(),
        without_set
    );
}

proptest! {
    #[test]
    fn signed_command_round_trips(
        chain in any::<u32>(),
        device in any::<[u8; 32]>(),
        action in any::<u32>(),
        time_ms in any::<u64>(),
        seed in any::<[u8; 32]>(),
    ) {
        let command = SignedCommand::new_signed(
            &itc_core::Keypair::from_seed(seed),
            itc_core::types::ChainId(chain),
            itc_core::PublicKey(device),
            Permissions(action),
            time_ms,
        );
        prop_assert!(command.verify_signature().is_ok());
        prop_assert_eq!(SignedCommand::decode(&command.encode()).unwrap(), command);
    }

    #[test]
    fn anchor_commitment_round_trips(
        roots in any::<[[u8; 32]; 3]>(),
        applied_count in any::<u64>(),
        extra in any::<u64>(),
    ) {
        let anchor = AnchorCommitment {
            tips_hash: Hash(roots[0]),
            confirmed_root: Hash(roots[1]),
            confirmed_count: applied_count.saturating_add(extra),
            applied_root: Hash(roots[2]),
            applied_count,
        };
        let bytes = anchor.encode();
        prop_assert_eq!(bytes.len(), 113);
        prop_assert_eq!(AnchorCommitment::decode(&bytes).unwrap(), anchor);
    }
}
