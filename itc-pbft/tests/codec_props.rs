//! Round-trip and robustness properties of the wire encoding.

use itc_core::encoding::{Decode, Encode};
use itc_core::keys::Keypair;
use itc_core::types::{
    Amount, Block, BlockHeader, ChainId, CommitCertificate, Payload, Transaction, Vote, VoteKind,
};
use itc_core::Hash;
use itc_pbft::persist::{SlotRecord, ViewRecord};
use itc_pbft::{
    Decision, DoubleVoteEvidence, Message, NewView, PrePrepare, PreparedCertificate, PreparedEntry,
    ViewChange,
};
use proptest::prelude::*;

const CHAIN: ChainId = ChainId(3);

fn key(seed: u8) -> Keypair {
    Keypair::from_seed([seed; 32])
}

fn block(height: u64, view: u64, txs: u8) -> Block {
    let transactions: Vec<Transaction> = (0..txs)
        .map(|i| {
            Transaction::new_signed(
                &key(100),
                CHAIN,
                u64::from(i),
                Amount(1),
                Payload::Transfer {
                    to: key(101).public(),
                    amount: Amount(5),
                },
            )
        })
        .collect();
    Block {
        header: BlockHeader {
            chain_id: CHAIN,
            height,
            previous_hash: Hash([height as u8; 32]),
            tx_root: Block::compute_tx_root(&transactions),
            tx_count: transactions.len() as u64,
            state_root: Hash([7; 32]),
            dag_anchor_root: Hash::ZERO,
            dag_anchor_hash: Hash::ZERO,
            validator_set_hash: Hash([8; 32]),
            next_validator_set_hash: Hash([9; 32]),
            time_ms: height * 10,
            proposer: key(1).public(),
            view,
        },
        transactions,
        anchor: None,
    }
}

fn votes(kind: VoteKind, height: u64, view: u64, hash: Hash, n: u8) -> Vec<Vote> {
    (1..=n)
        .map(|i| Vote::new_signed(&key(i), CHAIN, kind, height, view, hash))
        .collect()
}

fn message(choice: u8, height: u64, view: u64, txs: u8) -> Message {
    let b = block(height, view, txs);
    let hash = b.header.hash();
    let prepared = PreparedEntry {
        block: b.clone(),
        certificate: PreparedCertificate::from_votes(
            CHAIN,
            height,
            view,
            hash,
            &votes(VoteKind::Prepare, height, view, hash, 3),
        ),
    };
    let commit = CommitCertificate::from_votes(
        CHAIN,
        height,
        view,
        hash,
        &votes(VoteKind::Commit, height, view, hash, 3),
    );
    let vc = |signer: u8| {
        ViewChange {
            view: view + 1,
            committed_height: height.saturating_sub(1),
            committed_certificate: None,
            prepared: vec![prepared.clone()],
            signer: key(signer).public(),
            signature: itc_core::keys::Signature::EMPTY,
        }
        .sign(&key(signer), CHAIN)
    };
    match choice % 8 {
        0 => Message::Request(
            b.transactions
                .first()
                .cloned()
                .unwrap_or_else(|| block(1, 0, 1).transactions[0].clone()),
        ),
        1 => Message::PrePrepare(PrePrepare::new_signed(&key(1), CHAIN, view, b)),
        2 => Message::Vote(votes(VoteKind::Commit, height, view, hash, 1).remove(0)),
        3 => Message::ViewChange(vc(2)),
        4 => {
            let vcs = vec![vc(1), vc(2), vc(3)];
            Message::NewView(NewView::new_signed(&key(1), CHAIN, view + 1, &vcs))
        }
        5 => Message::StateRequest {
            from_height: height,
        },
        6 => Message::ViewChangeRequest { view },
        _ => Message::StateResponse(vec![Decision {
            block: b,
            certificate: commit,
        }]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn messages_round_trip(choice in 0u8..8, height in 1u64..1_000, view in 0u64..50, txs in 0u8..3) {
        let m = message(choice, height, view, txs);
        let bytes = m.encode();
        prop_assert_eq!(Message::from_bytes(&bytes).unwrap(), m);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(m) = Message::from_bytes(&bytes) {
            // Whatever decodes is canonical: it re-encodes to the same bytes.
            prop_assert_eq!(m.encode(), bytes);
        }
    }

    #[test]
    fn mutated_messages_never_panic(choice in 0u8..7, at in any::<usize>(), bit in 0u8..8) {
        let mut bytes = message(choice, 5, 2, 1).encode();
        let i = at % bytes.len();
        bytes[i] ^= 1 << bit;
        if let Ok(m) = Message::from_bytes(&bytes) {
            prop_assert_eq!(m.encode(), bytes);
        }
    }

    #[test]
    fn records_round_trip(view in any::<u64>(), floor in any::<u64>(), flag in any::<bool>()) {
        let record = ViewRecord { view, in_view_change: flag, floor };
        prop_assert_eq!(ViewRecord::decode(&record.encode()).unwrap(), record);
        let b = block(3, view % 100, 1);
        let slot = SlotRecord {
            proposal: Some((view, b.clone(), flag)),
            prepared: None,
            prepare_vote: Some((view, b.header.hash())),
            commit_vote: None,
        };
        prop_assert_eq!(SlotRecord::decode(&slot.encode()).unwrap(), slot);
    }
}

#[test]
fn double_vote_evidence_verifies_only_real_conflicts() {
    let set = itc_core::types::ValidatorSet::new(
        (1..=4)
            .map(|i| itc_core::types::Validator {
                key: key(i).public(),
                weight: 1,
            })
            .collect(),
    )
    .unwrap();
    let a = Vote::new_signed(&key(1), CHAIN, VoteKind::Prepare, 4, 1, Hash([1; 32]));
    let b = Vote::new_signed(&key(1), CHAIN, VoteKind::Prepare, 4, 1, Hash([2; 32]));
    let evidence = DoubleVoteEvidence {
        first: a.clone(),
        second: b.clone(),
    };
    evidence.verify(&set).unwrap();
    assert_eq!(
        DoubleVoteEvidence::decode(&evidence.encode()).unwrap(),
        evidence
    );
    // Same block twice, or different views: no evidence.
    let same = DoubleVoteEvidence {
        first: a.clone(),
        second: a.clone(),
    };
    assert!(same.verify(&set).is_err());
    let other_view = Vote::new_signed(&key(1), CHAIN, VoteKind::Prepare, 4, 2, Hash([2; 32]));
    assert!(DoubleVoteEvidence {
        first: a.clone(),
        second: other_view
    }
    .verify(&set)
    .is_err());
    // A forged second vote does not verify.
    let mut forged = b;
    forged.signature.0[0] ^= 1;
    assert!(DoubleVoteEvidence {
        first: a,
        second: forged
    }
    .verify(&set)
    .is_err());
}

#[test]
fn prepared_certificate_needs_a_weighted_quorum() {
    let weights = [3u64, 1, 1, 1];
    let set = itc_core::types::ValidatorSet::new(
        (1..=4u8)
            .map(|i| itc_core::types::Validator {
                key: key(i).public(),
                weight: weights[usize::from(i) - 1],
            })
            .collect(),
    )
    .unwrap();
    let hash = Hash([5; 32]);
    let light: Vec<Vote> = (2..=4u8)
        .map(|i| Vote::new_signed(&key(i), CHAIN, VoteKind::Prepare, 1, 0, hash))
        .collect();
    let cert = PreparedCertificate::from_votes(CHAIN, 1, 0, hash, &light);
    assert!(cert.verify(&set).is_err(), "3 of 6 is not a quorum");
    let mut with_heavy = light.clone();
    with_heavy.push(Vote::new_signed(
        &key(1),
        CHAIN,
        VoteKind::Prepare,
        1,
        0,
        hash,
    ));
    let cert = PreparedCertificate::from_votes(CHAIN, 1, 0, hash, &with_heavy);
    assert!(cert.verify(&set).unwrap() > 4);
}
