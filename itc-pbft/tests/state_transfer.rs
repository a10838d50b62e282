//! State transfer (Castro & Liskov, TOCS 2002, "state transfer"): a replica
//! that missed blocks catches up from peers with blocks and commit
//! certificates it verifies itself, so a lying peer cannot mislead it.

mod common;

use common::*;
use itc_core::keys::Keypair;
use itc_core::types::{Amount, ChainId, CommitCertificate, Payload, Transaction, VoteKind};
use itc_pbft::{Decision, Message, MessageError};

/// Commit `blocks` blocks among replicas 0..3 while replica `absent` sees nothing.
fn cluster_with_laggard(blocks: u64, absent: usize) -> Cluster {
    let mut c = Cluster::new(&[1; 4]);
    for nonce in 0..blocks {
        let tx = c.tx(nonce);
        let entry = (0..4).find(|i| *i != absent).unwrap();
        c.replicas[entry].submit_transaction(0, tx).unwrap();
        let out: Vec<_> = c.persist(entry).into_iter().map(|m| (entry, m)).collect();
        c.flood_filtered(0, out, &|from, to, _| from != absent && to != absent);
    }
    c
}

#[test]
fn a_lagging_replica_catches_up_by_anti_entropy() {
    let absent = 3;
    let mut c = cluster_with_laggard(3, absent);
    let height = c.replicas[0].executed_height();
    assert!(height >= 1);
    assert_eq!(c.replicas[absent].executed_height(), 0);
    let mut now = 0;
    while c.replicas[absent].executed_height() < height {
        now += 100_000;
        assert!(now < 100_000 * 50, "no catch-up");
        c.replicas[absent].tick(now);
        let out: Vec<_> = c
            .persist(absent)
            .into_iter()
            .filter(|m| matches!(m.message, Message::StateRequest { .. }))
            .map(|m| (absent, m))
            .collect();
        c.flood(now, out);
    }
    assert_eq!(
        c.replicas[absent].last_block_hash(),
        c.replicas[0].last_block_hash()
    );
}

#[test]
fn a_lying_peer_cannot_mislead_a_lagging_replica() {
    let absent = 3;
    let mut c = cluster_with_laggard(1, absent);
    let honest = c.replicas[0].decision(1).unwrap().clone();
    let liar = c.keys[2].public();

    // 1. A different body under the honest certificate.
    let mut body = honest.clone();
    body.block.transactions = vec![Transaction::new_signed(
        &Keypair::from_seed([200; 32]),
        ChainId(CHAIN),
        0,
        Amount(1),
        Payload::Transfer {
            to: Keypair::from_seed([9; 32]).public(),
            amount: Amount(999),
        },
    )];
    assert!(c.replicas[absent]
        .handle(0, liar, Message::StateResponse(vec![body]))
        .is_err());

    // 2. A forged block "certified" by too little weight (the liar alone).
    let mut forged = honest.clone();
    forged.block.header.time_ms += 1;
    let hash = forged.block.header.hash();
    let vote =
        itc_core::types::Vote::new_signed(&c.keys[2], ChainId(CHAIN), VoteKind::Commit, 1, 0, hash);
    forged.certificate = CommitCertificate::from_votes(ChainId(CHAIN), 1, 0, hash, [&vote]);
    let result = c.replicas[absent].handle(0, liar, Message::StateResponse(vec![forged]));
    assert!(
        matches!(result, Err(MessageError::InvalidViewChange(_))),
        "{result:?}"
    );

    // 3. Signatures copied onto another block do not verify either.
    let mut copied = honest.clone();
    copied.block.header.time_ms += 1;
    copied.certificate.block_hash = copied.block.header.hash();
    assert!(c.replicas[absent]
        .handle(0, liar, Message::StateResponse(vec![copied]))
        .is_err());
    assert_eq!(c.replicas[absent].executed_height(), 0);

    // The honest block is accepted.
    c.replicas[absent]
        .handle(
            0,
            c.keys[0].public(),
            Message::StateResponse(vec![Decision { ..honest }]),
        )
        .unwrap();
    assert_eq!(c.replicas[absent].executed_height(), 1);
    assert_eq!(
        c.replicas[absent].last_block_hash(),
        c.replicas[0].last_block_hash()
    );
}
