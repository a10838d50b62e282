//! Ledger modules on real replicas ([`Config::modules`]) and the block byte
//! budget ([`BLOCK_BYTES_MAX`]): module transactions commit on every
//! validator (fresh and reopened), a pool of large transactions is split
//! across blocks that each fit, and an oversized proposal is refused.

mod common;

use common::{keypair, tick_all, weighted_genesis, Cluster, CHAIN};
use itc_core::encoding::Encode;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::ledger::{state_key, LedgerError, TxError};
use itc_core::module::{LedgerModule, ModuleContext, ModuleError};
use itc_core::storage::MemoryStorage;
use itc_core::types::{
    Amount, Block, BlockHeader, ChainId, CommitCertificate, Payload, Transaction, Vote, VoteKind,
    MODULE_BODY_MAX,
};
use itc_core::Hash;
use itc_pbft::config::BLOCK_BYTES_MAX;
use itc_pbft::message::{MESSAGE_BYTES_MAX, STATE_TRANSFER_BLOCKS_MAX};
use itc_pbft::{
    Decision, Message, MessageError, NoAnchoring, OpenError, PrePrepare, ProposalError, Replica,
    SubmitError,
};
use std::sync::Arc;

const TALLY: u8 = 0x42;

/// A tiny module: counts its transactions and the bytes of their bodies.
#[derive(Debug)]
struct Tally(u8);

impl LedgerModule for Tally {
    fn id(&self) -> u8 {
        self.0
    }

    fn check(&self, _: &PublicKey, body: &[u8]) -> Result<(), ModuleError> {
        if body.first() == Some(&0xFF) {
            return Err(ModuleError::new(self.0, 1, "refused body"));
        }
        Ok(())
    }

    fn execute(
        &self,
        ctx: &mut ModuleContext<'_>,
        _: &PublicKey,
        body: &[u8],
    ) -> Result<(), ModuleError> {
        let (count, bytes) = read_tally(ctx.get(b"tally"));
        let mut value = (count + 1).to_le_bytes().to_vec();
        value.extend_from_slice(&(bytes + body.len() as u64).to_le_bytes());
        ctx.put(b"tally", value);
        Ok(())
    }
}

fn read_tally(value: Option<Vec<u8>>) -> (u64, u64) {
    match value {
        Some(v) if v.len() == 16 => (
            u64::from_le_bytes(v[..8].try_into().unwrap()),
            u64::from_le_bytes(v[8..].try_into().unwrap()),
        ),
        _ => (0, 0),
    }
}

fn tally_of(replica: &Replica) -> (u64, u64) {
    read_tally(
        replica
            .ledger()
            .get_raw(&state_key::module(TALLY, b"tally"))
            .map(<[u8]>::to_vec),
    )
}

fn module_tx(from: &Keypair, nonce: u64, body_len: usize) -> Transaction {
    Transaction::new_signed(
        from,
        ChainId(CHAIN),
        nonce,
        Amount(1),
        Payload::Module {
            module: TALLY,
            body: vec![(nonce % 200) as u8; body_len],
        },
    )
}

/// Four validators with the tally module registered on each.
fn cluster_with_tally() -> Cluster {
    let keys: Vec<Keypair> = (0..4).map(keypair).collect();
    let client = Keypair::from_seed([200; 32]);
    let genesis = weighted_genesis(&keys, &[1; 4], vec![(client.public(), 1_000_000)]);
    Cluster::open(keys, genesis, client, 100_000, (), |config| {
        *config = config.clone().with_module(Arc::new(Tally(TALLY)));
    })
}

/// Submit `tx` to the primary and deliver everything.
fn submit(c: &mut Cluster, now: u64, tx: Transaction) {
    let primary = c.primary_index();
    c.submit(primary, now, tx).unwrap();
    let out = c.persist(primary);
    c.flood(now, out.into_iter().map(|m| (primary, m)).collect());
}

#[test]
fn validators_without_the_module_refuse_its_transactions() {
    let mut c = Cluster::new(&[1; 4]);
    let tx = module_tx(&c.client.clone(), 0, 10);
    assert_eq!(
        c.submit(0, 1, tx),
        Err(SubmitError::Invalid(TxError::UnknownModule {
            module: TALLY
        }))
    );
    let _ = c.persist(0);
    assert_eq!(c.replica(0).pool_len(), 0);
}

#[test]
fn registered_modules_run_on_every_validator_and_after_a_restart() {
    let mut c = cluster_with_tally();
    let client = c.client.clone();
    submit(&mut c, 1, module_tx(&client, 0, 100));
    for r in c.replicas() {
        assert_eq!(r.executed_height(), 1, "{}", r.debug_summary());
        assert_eq!(tally_of(r), (1, 100));
    }
    // The module's own check runs on admission.
    let refused = Transaction::new_signed(
        &client,
        ChainId(CHAIN),
        1,
        Amount(1),
        Payload::Module {
            module: TALLY,
            body: vec![0xFF],
        },
    );
    assert!(matches!(
        c.submit(0, 2, refused),
        Err(SubmitError::Invalid(TxError::Module(_)))
    ));
    let _ = c.persist(0);
    // A backup restarts from storage: the module is registered again, so it
    // validates and votes for the next module transaction.
    let backup = (c.primary_index() + 1) % 4;
    c.restart(backup);
    assert_eq!(c.replica(backup).ledger().modules().len(), 1);
    let _ = c.persist(backup);
    assert_eq!(tally_of(c.replica(backup)), (1, 100));
    // Only the restarted backup and two others: its vote is needed.
    let down = (backup + 1) % 4;
    let down = if down == c.primary_index() {
        (down + 1) % 4
    } else {
        down
    };
    let primary = c.primary_index();
    c.submit(primary, 3, module_tx(&client, 1, 50)).unwrap();
    let out = c.persist(primary);
    c.flood_filtered(
        3,
        out.into_iter().map(|m| (primary, m)).collect(),
        move |from, to, _| from != down && to != down,
    );
    assert_eq!(c.replica(backup).executed_height(), 2);
    assert_eq!(tally_of(c.replica(backup)), (2, 150));
    assert_eq!(
        c.replica(backup).decision(2).unwrap().block.header,
        c.replica(primary).decision(2).unwrap().block.header
    );
}

#[test]
fn two_modules_with_one_id_are_an_open_error() {
    let c = Cluster::new(&[1; 4]);
    let config = c
        .config(0)
        .with_module(Arc::new(Tally(7)))
        .with_module(Arc::new(Tally(7)));
    // On a fresh chain and on a reopened one.
    for storage in [MemoryStorage::new(), c.storage(0).inner().clone()] {
        assert!(matches!(
            Replica::open(config.clone(), &storage),
            Err(OpenError::Ledger(LedgerError::DuplicateModule {
                module: 7
            }))
        ));
    }
    // Distinct ids, in any order, open.
    let config = c
        .config(0)
        .with_module(Arc::new(Tally(8)))
        .with_module(Arc::new(Tally(7)));
    let replica = Replica::<NoAnchoring>::open(config, &MemoryStorage::new()).unwrap();
    assert_eq!(replica.ledger().modules().len(), 2);
}

#[test]
fn large_module_transactions_are_split_across_blocks_within_the_byte_budget() {
    let mut c = cluster_with_tally();
    let client = c.client.clone();
    let body = 200 * 1024;
    let count = 20u64;
    let txs: Vec<Transaction> = (0..count).map(|n| module_tx(&client, n, body)).collect();
    let tx_bytes = txs[0].encode().len();
    let per_block = BLOCK_BYTES_MAX / tx_bytes;
    assert!(per_block >= 2 && (per_block as u64) < count);
    // All pooled on every replica before the primary proposes: delivered
    // as requests, without flooding the primary's proposals in between.
    let primary = c.primary_index();
    let mut outgoing = Vec::new();
    for tx in txs {
        c.submit(primary, 1, tx).unwrap();
        outgoing.extend(c.persist(primary).into_iter().map(|m| (primary, m)));
    }
    c.flood(1, outgoing);
    let mut now = 1;
    while c.replica(0).executed_height() < 20 && tally_of(c.replica(0)).0 < count {
        now += 100_000;
        let out = tick_all(&mut c, now);
        c.flood(now, out);
        if now > 100 * 100_000 {
            break;
        }
    }
    let height = c.replica(0).executed_height();
    for r in c.replicas() {
        assert_eq!(
            tally_of(r),
            (count, count * body as u64),
            "{}",
            r.debug_summary()
        );
        assert_eq!(r.executed_height(), height);
        assert_eq!(r.pool_len(), 0);
    }
    let mut sizes = Vec::new();
    for h in 1..=height {
        let block = &c.replica(0).decision(h).unwrap().block;
        let bytes: usize = block.transactions.iter().map(|t| t.encode().len()).sum();
        assert!(bytes <= BLOCK_BYTES_MAX, "block {h}: {bytes} bytes");
        sizes.push(block.transactions.len());
    }
    // The budget, not the count limit, cut the blocks: full blocks hold
    // exactly as many as fit, and it took at least ceil(total / budget).
    assert!(sizes.iter().all(|&n| n <= per_block), "{sizes:?}");
    assert!(sizes.contains(&per_block), "{sizes:?}");
    let total = tx_bytes * count as usize;
    assert!(
        height as usize >= total.div_ceil(BLOCK_BYTES_MAX),
        "{sizes:?}"
    );
    // Each block's pre-prepare (the block plus a few hundred bytes) fits
    // a message with room to spare.
    let block = &c.replica(0).decision(2).unwrap().block;
    let pp = PrePrepare::new_signed(&c.keys[primary], ChainId(CHAIN), 0, block.clone());
    assert!(Message::PrePrepare(pp).encode().len() < MESSAGE_BYTES_MAX);
}

fn oversized_block(c: &Cluster, primary: usize) -> Block {
    let client = c.client.clone();
    let txs: Vec<Transaction> = (0..7)
        .map(|n| module_tx(&client, n, MODULE_BODY_MAX))
        .collect();
    let bytes: usize = txs.iter().map(|t| t.encode().len()).sum();
    assert!(bytes > BLOCK_BYTES_MAX);
    let header = BlockHeader {
        chain_id: ChainId(CHAIN),
        height: 1,
        previous_hash: Hash::ZERO,
        tx_root: Block::compute_tx_root(&txs),
        tx_count: txs.len() as u64,
        state_root: Hash::ZERO,
        dag_anchor_root: Hash::ZERO,
        dag_anchor_hash: Hash::ZERO,
        validator_set_hash: c.replica(0).validators().hash(),
        next_validator_set_hash: c.replica(0).validators().hash(),
        time_ms: c.genesis.genesis_time_ms,
        proposer: c.keys[primary].public(),
        view: 0,
    };
    Block {
        header,
        transactions: txs,
        anchor: None,
    }
}

#[test]
fn a_forged_oversized_pre_prepare_is_refused_without_a_vote() {
    let mut c = cluster_with_tally();
    let primary = c.primary_index();
    let backup = (primary + 1) % 4;
    let block = oversized_block(&c, primary);
    // Signed by the real primary and with a matching transaction root, so
    // only the byte budget stands in the way.
    assert_eq!(block.check_body(), Ok(()));
    let pp = PrePrepare::new_signed(&c.keys[primary], ChainId(CHAIN), 0, block);
    let bytes = Message::PrePrepare(pp).encode();
    assert!(bytes.len() < MESSAGE_BYTES_MAX);
    let from = c.keys[primary].public();
    let result = c.replica_mut(backup).handle_message(1, from, &bytes);
    assert!(
        matches!(
            result,
            Err(MessageError::InvalidProposal(ProposalError::TooManyBytes(n))) if n > BLOCK_BYTES_MAX
        ),
        "{result:?}"
    );
    let out = c.persist(backup);
    assert!(
        out.iter().all(|m| !matches!(m.message, Message::Vote(_))),
        "{:?}",
        common::kinds(&out)
    );
    // The chain goes on with an honest block at that height.
    let client = c.client.clone();
    submit(&mut c, 2, module_tx(&client, 0, 10));
    assert_eq!(c.replica(backup).executed_height(), 1);
    assert_eq!(tally_of(c.replica(backup)), (1, 10));
}

#[test]
fn a_state_response_of_full_blocks_fits_a_message() {
    let c = Cluster::new(&[1; 4]);
    let client = c.client.clone();
    // Five largest module bodies fill a block's budget as far as they go.
    let txs: Vec<Transaction> = (0..5)
        .map(|n| module_tx(&client, n, MODULE_BODY_MAX))
        .collect();
    let bytes: usize = txs.iter().map(|t| t.encode().len()).sum();
    assert!(bytes <= BLOCK_BYTES_MAX && bytes + txs[0].encode().len() > BLOCK_BYTES_MAX);
    let mut template = oversized_block(&c, 0);
    template.transactions = txs;
    template.header.tx_root = Block::compute_tx_root(&template.transactions);
    template.header.tx_count = template.transactions.len() as u64;
    // Contiguous heights, as a response must have; one commit certificate
    // of every validator each.
    let decisions: Vec<Decision> = (1..=STATE_TRANSFER_BLOCKS_MAX as u64)
        .map(|height| {
            let mut block = template.clone();
            block.header.height = height;
            let hash = block.header.hash();
            let votes: Vec<Vote> = c
                .keys
                .iter()
                .map(|k| Vote::new_signed(k, ChainId(CHAIN), VoteKind::Commit, height, 0, hash))
                .collect();
            let certificate =
                CommitCertificate::from_votes(ChainId(CHAIN), height, 0, hash, &votes);
            Decision { block, certificate }
        })
        .collect();
    let message = Message::StateResponse(decisions);
    let bytes = message.encode();
    assert!(bytes.len() <= MESSAGE_BYTES_MAX, "{}", bytes.len());
    // (Not `assert_eq!`: a failure would print 24 MiB of blocks.)
    let decoded = Message::from_bytes(&bytes);
    assert!(
        decoded.as_ref().is_ok_and(|m| *m == message),
        "{:?}",
        decoded.err()
    );
}
