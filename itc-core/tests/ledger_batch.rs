//! Block application as batches: signatures checked ahead of execution
//! still fail a block at the same transaction with the same error, and the
//! state tree updated one batch per block has the root and proofs of the
//! same state rebuilt entry by entry.

use itc_core::encoding::Encode;
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::{Keypair, PublicKey};
use itc_core::ledger::{state_key, BlockContext, BlockError, Ledger, TxError};
use itc_core::storage::{MemoryStorage, Storage};
use itc_core::types::{Amount, ChainId, Payload, Transaction};

const CHAIN: ChainId = ChainId(5);

fn keypair(i: u8) -> Keypair {
    Keypair::from_seed([i; 32])
}

fn ledger(accounts: &[(PublicKey, u64)], proposer: PublicKey) -> (Ledger, MemoryStorage) {
    let genesis = Genesis {
        chain_id: CHAIN.0,
        epoch_length: 1_000,
        accounts: accounts
            .iter()
            .map(|(public_key, balance)| GenesisAccount {
                public_key: *public_key,
                balance: *balance,
            })
            .collect(),
        validators: vec![GenesisValidator {
            public_key: proposer,
            weight: 10,
        }],
        ..Genesis::default()
    };
    let (ledger, writes) = Ledger::from_genesis(&genesis).unwrap();
    let mut storage = MemoryStorage::default();
    storage.write(writes).unwrap();
    (ledger, storage)
}

fn transfer(from: &Keypair, nonce: u64, to: PublicKey, amount: u64) -> Transaction {
    Transaction::new_signed(
        from,
        CHAIN,
        nonce,
        Amount(1),
        Payload::Transfer {
            to,
            amount: Amount(amount),
        },
    )
}

fn forged(mut tx: Transaction) -> Transaction {
    tx.signature.0[7] ^= 1;
    tx
}

#[test]
fn the_first_invalid_transaction_is_reported_whatever_fails_later() {
    let (alice, bob, carol) = (keypair(1), keypair(2), keypair(3));
    let proposer = keypair(9).public();
    let (mut ledger, _) = ledger(
        &[
            (alice.public(), 1_000),
            (bob.public(), 1_000),
            (carol.public(), 5),
        ],
        proposer,
    );
    let root = ledger.state_root();
    let context = BlockContext {
        height: 1,
        proposer,
        time_ms: 0,
    };
    let ok = transfer(&alice, 0, bob.public(), 10);
    let cases: Vec<(Vec<Transaction>, usize, TxError)> = vec![
        // A bad signature before a bad nonce: the signature.
        (
            vec![
                ok.clone(),
                forged(transfer(&bob, 0, alice.public(), 1)),
                transfer(&carol, 7, alice.public(), 1),
            ],
            1,
            TxError::BadSignature,
        ),
        // A bad nonce before a bad signature: the nonce.
        (
            vec![
                ok.clone(),
                transfer(&carol, 7, alice.public(), 1),
                forged(transfer(&bob, 0, alice.public(), 1)),
            ],
            1,
            TxError::FutureNonce {
                expected: 0,
                found: 7,
            },
        ),
        // A forged transaction that cannot pay either: the balance, which
        // is checked before the signature.
        (
            vec![ok.clone(), forged(transfer(&carol, 0, alice.public(), 100))],
            1,
            TxError::InsufficientBalance {
                needed: 101,
                available: 5,
            },
        ),
        // A bad signature on the last transaction, after valid ones.
        (
            vec![
                ok.clone(),
                transfer(&bob, 0, carol.public(), 1),
                forged(transfer(&alice, 1, carol.public(), 1)),
            ],
            2,
            TxError::BadSignature,
        ),
    ];
    for (block, index, error) in cases {
        let expected = BlockError::InvalidTransaction {
            index,
            error: error.clone(),
        };
        assert_eq!(
            ledger.preview_block(&context, &block).unwrap_err(),
            expected
        );
        assert_eq!(ledger.apply_block(&context, &block).unwrap_err(), expected);
        assert_eq!(ledger.state_root(), root);
        assert_eq!(ledger.height(), 0);
    }
    // The preverified path trusts the signatures.
    let block = vec![ok, forged(transfer(&bob, 0, carol.public(), 1))];
    let (preview, _) = ledger.preview_block_preverified(&context, &block).unwrap();
    let outcome = ledger.apply_block_preverified(&context, &block).unwrap();
    assert_eq!(outcome.state_root, preview);
}

/// splitmix64: deterministic test randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn batched_blocks_match_the_state_rebuilt_entry_by_entry() {
    let mut rng = Rng(15);
    let senders: Vec<Keypair> = (1..=40).map(keypair).collect();
    let proposer = senders[0].public();
    let mut accounts: Vec<(PublicKey, u64)> =
        senders.iter().map(|k| (k.public(), 1_000_000)).collect();
    let mut recipients: Vec<PublicKey> = (0..2_000u32)
        .map(|i| {
            let mut key = [0u8; 32];
            key[..4].copy_from_slice(&i.to_le_bytes());
            key[31] = 0xee;
            PublicKey(key)
        })
        .collect();
    accounts.extend(recipients.iter().map(|k| (*k, 1)));
    let (mut ledger, mut storage) = ledger(&accounts, proposer);
    // Fresh recipients create accounts; one hot recipient is paid by many
    // transactions of the same block; the proposer sends and receives too.
    for i in 0..200u32 {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(&i.to_le_bytes());
        key[31] = 0xfe;
        recipients.push(PublicKey(key));
    }
    let hot = recipients[3];
    for height in 1..=6u64 {
        let block: Vec<Transaction> = senders
            .iter()
            .map(|sender| {
                let to = match rng.next() % 4 {
                    0 => hot,
                    1 => proposer,
                    _ => recipients[(rng.next() % recipients.len() as u64) as usize],
                };
                transfer(sender, height - 1, to, 1 + rng.next() % 50)
            })
            .collect();
        let context = BlockContext {
            height,
            proposer,
            time_ms: 0,
        };
        let (preview, _) = ledger.preview_block(&context, &block).unwrap();
        let outcome = ledger.apply_block(&context, &block).unwrap();
        assert_eq!(outcome.state_root, preview);
        storage.write(outcome.writes).unwrap();
    }
    let root = ledger.state_root();
    // `open` rebuilds the tree with one insert per entry.
    let mut reopened = Ledger::open(&storage).unwrap();
    assert_eq!(reopened.state_root(), root);
    assert_eq!(reopened.state_len(), ledger.state_len());
    let sender_keys: Vec<PublicKey> = senders.iter().map(Keypair::public).collect();
    for key in recipients.iter().chain(&sender_keys) {
        let state_key = state_key::account(key);
        let (value, proof) = ledger.prove(&state_key);
        let (reopened_value, reopened_proof) = reopened.prove(&state_key);
        assert_eq!(value, reopened_value);
        assert_eq!(proof.encode(), reopened_proof.encode());
    }
}
