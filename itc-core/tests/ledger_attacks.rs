//! Ledger attacks from issue #17: cheap transactions or a careless genesis
//! must never lock newcomers out of staking, halt the chain at an epoch
//! boundary, leave it without a staked validator set, or let an owner pick a
//! device's security level behind the device's back.

use itc_core::genesis::{Genesis, GenesisAccount, GenesisError, GenesisValidator};
use itc_core::keys::{Keypair, PublicKey, SigningDomain};
use itc_core::ledger::{
    BlockContext, BlockError, Ledger, LedgerError, TxError, CANDIDATES_MAX, STAKE_MAX, SUPPLY_MAX,
};
use itc_core::types::{
    pairing_message, Amount, ChainId, Payload, SecurityLevel, Transaction, TOTAL_WEIGHT_MAX,
    VALIDATORS_MAX,
};
use itc_core::Hash;
use std::collections::HashMap;

const CHAIN: ChainId = ChainId(17);

fn key(n: u32) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    seed[4] = 0xa7;
    Keypair::from_seed(seed)
}

fn account(who: &Keypair, balance: u64) -> GenesisAccount {
    GenesisAccount {
        public_key: who.public(),
        balance,
    }
}

fn validator(who: &Keypair, weight: u64) -> GenesisValidator {
    GenesisValidator {
        public_key: who.public(),
        weight,
    }
}

/// A ledger with a proposer and nonce bookkeeping.
struct Chain {
    ledger: Ledger,
    proposer: PublicKey,
    nonces: HashMap<PublicKey, u64>,
}

impl Chain {
    fn new(genesis: &Genesis) -> Chain {
        let (ledger, _writes) = Ledger::from_genesis(genesis).unwrap();
        Chain {
            proposer: genesis.validators[0].public_key,
            ledger,
            nonces: HashMap::new(),
        }
    }

    fn tx(&mut self, who: &Keypair, payload: Payload) -> Transaction {
        let nonce = self.nonces.entry(who.public()).or_default();
        let tx = Transaction::new_signed(who, CHAIN, *nonce, Amount(1), payload);
        *nonce += 1;
        tx
    }

    fn context(&self) -> BlockContext {
        BlockContext {
            height: self.ledger.height() + 1,
            proposer: self.proposer,
            time_ms: 0,
        }
    }

    /// Apply a block; on failure the nonces of its transactions are given
    /// back so the caller can retry without them.
    fn apply(&mut self, txs: &[Transaction]) -> Result<(), BlockError> {
        let context = self.context();
        match self.ledger.apply_block_preverified(&context, txs) {
            Ok(_outcome) => Ok(()),
            Err(error) => {
                for tx in txs {
                    *self.nonces.get_mut(&tx.sender).unwrap() -= 1;
                }
                Err(error)
            }
        }
    }

    /// Apply empty blocks up to and including the next epoch boundary.
    fn finish_epoch(&mut self) {
        let epoch = self.ledger.params().epoch_length;
        loop {
            self.apply(&[]).unwrap();
            if self.ledger.height().is_multiple_of(epoch) {
                break;
            }
        }
    }
}

fn invalid(result: Result<(), BlockError>) -> TxError {
    match result {
        Err(BlockError::InvalidTransaction { error, .. }) => error,
        other => panic!("expected an invalid transaction, got {other:?}"),
    }
}

// ---- 13. dust bonds squatting the candidate list ----

#[test]
fn dust_bonds_cannot_lock_a_newcomer_with_real_stake_out() {
    let boss = key(0);
    let newcomer = key(1);
    let dust: Vec<Keypair> = (0..CANDIDATES_MAX as u32 - 1)
        .map(|i| key(1000 + i))
        .collect();
    let mut accounts: Vec<GenesisAccount> = dust.iter().map(|k| account(k, 3)).collect();
    accounts.push(account(&newcomer, 10_000));
    let genesis = Genesis {
        chain_id: CHAIN.0,
        epoch_length: 4,
        accounts,
        validators: vec![validator(&boss, 100)],
        ..Genesis::default()
    };
    let mut chain = Chain::new(&genesis);
    // 1,023 one-unit bonds fill the candidate list (the genesis validator is
    // the 1,024th).
    let bonds: Vec<Transaction> = dust
        .iter()
        .map(|k| chain.tx(k, Payload::Bond { amount: Amount(1) }))
        .collect();
    chain.apply(&bonds).unwrap();

    // The newcomer with real stake gets in: the smallest candidate (ties
    // broken by the lowest key) is evicted and paid back.
    let smallest = dust.iter().map(Keypair::public).min().unwrap();
    let before = chain.ledger.account(&smallest).balance;
    let bond = chain.tx(
        &newcomer,
        Payload::Bond {
            amount: Amount(1_000),
        },
    );
    chain.apply(&[bond]).unwrap();
    assert_eq!(chain.ledger.stake(&smallest).bonded, Amount::ZERO);
    assert_eq!(
        chain.ledger.account(&smallest).balance,
        before.checked_add(Amount(1)).unwrap(),
        "the evicted candidate gets its stake back"
    );
    chain.finish_epoch();
    assert_eq!(
        chain.ledger.validators().weight_of(&newcomer.public()),
        Some(1_000)
    );

    // A bond no larger than the smallest candidate does not evict anyone.
    let evicted = dust.iter().find(|k| k.public() == smallest).unwrap();
    let retry = chain.tx(evicted, Payload::Bond { amount: Amount(1) });
    assert_eq!(invalid(chain.apply(&[retry])), TxError::TooManyCandidates);
}

#[test]
fn candidates_below_the_minimum_stake_are_dropped_and_paid_back_at_epoch_end() {
    let boss = key(0);
    let small = key(1);
    let genesis = Genesis {
        chain_id: CHAIN.0,
        epoch_length: 3,
        min_validator_stake: 10,
        accounts: vec![account(&small, 100)],
        validators: vec![validator(&boss, 100)],
        ..Genesis::default()
    };
    let mut chain = Chain::new(&genesis);
    let bond = chain.tx(&small, Payload::Bond { amount: Amount(9) });
    chain.apply(&[bond]).unwrap();
    assert_eq!(chain.ledger.stake(&small.public()).bonded, Amount(9));
    chain.finish_epoch();
    assert_eq!(chain.ledger.stake(&small.public()).bonded, Amount::ZERO);
    assert_eq!(chain.ledger.account(&small.public()).balance, Amount(99));
    assert_eq!(chain.ledger.validators().len(), 1);
}

// ---- 14. genesis weights capped only in total ----

#[test]
fn genesis_caps_each_validator_weight_as_bond_caps_stake() {
    let boss = key(0);
    let bonder = key(1);
    // Legal in total, but then one 1-unit bond pushes the next set past the
    // total cap and every epoch-boundary block becomes invalid.
    let attack = Genesis {
        chain_id: CHAIN.0,
        epoch_length: 2,
        accounts: vec![account(&bonder, 10)],
        validators: vec![validator(&boss, TOTAL_WEIGHT_MAX)],
        ..Genesis::default()
    };
    assert!(matches!(
        Ledger::from_genesis(&attack),
        Err(LedgerError::Genesis(
            GenesisError::ValidatorWeightTooLarge {
                weight: TOTAL_WEIGHT_MAX,
                maximum: STAKE_MAX
            }
        ))
    ));

    // At the per-validator cap, a newcomer at the cap completing a full set
    // keeps every epoch boundary executable.
    let cap = STAKE_MAX;
    assert_eq!(cap * VALIDATORS_MAX as u64, TOTAL_WEIGHT_MAX);
    let validators: Vec<Keypair> = (1..VALIDATORS_MAX as u32).map(|i| key(100 + i)).collect();
    let genesis = Genesis {
        chain_id: CHAIN.0,
        epoch_length: 2,
        accounts: vec![account(&bonder, cap + 10)],
        validators: validators.iter().map(|v| validator(v, cap)).collect(),
        ..Genesis::default()
    };
    let mut chain = Chain::new(&genesis);
    let too_much = chain.tx(
        &bonder,
        Payload::Bond {
            amount: Amount(cap + 1),
        },
    );
    assert_eq!(invalid(chain.apply(&[too_much])), TxError::AmountOverflow);
    let bond = chain.tx(
        &bonder,
        Payload::Bond {
            amount: Amount(cap),
        },
    );
    chain.apply(&[bond]).unwrap();
    chain.finish_epoch();
    assert_eq!(chain.ledger.validators().total_weight(), TOTAL_WEIGHT_MAX);
    assert_eq!(
        chain.ledger.validators().weight_of(&bonder.public()),
        Some(cap)
    );
}

// ---- 15. everyone unbonds ----

#[test]
fn the_last_stake_able_to_form_a_validator_set_cannot_unbond() {
    let a = key(0);
    let b = key(1);
    let attacker = key(2);
    let genesis = Genesis {
        chain_id: CHAIN.0,
        epoch_length: 3,
        accounts: vec![account(&a, 10), account(&b, 10), account(&attacker, 10)],
        validators: vec![validator(&a, 100), validator(&b, 100)],
        ..Genesis::default()
    };
    let mut chain = Chain::new(&genesis);
    let first = chain.tx(
        &a,
        Payload::Unbond {
            amount: Amount(100),
        },
    );
    chain.apply(&[first]).unwrap();
    let last = chain.tx(
        &b,
        Payload::Unbond {
            amount: Amount(100),
        },
    );
    assert_eq!(
        invalid(chain.apply(&[last])),
        TxError::LastValidatorStake,
        "the last bonded stake may not leave"
    );
    // Keeping less than the minimum stake would leave nobody either.
    let most = chain.tx(&b, Payload::Unbond { amount: Amount(99) });
    chain.apply(&[most]).unwrap();
    chain.finish_epoch();
    assert_eq!(chain.ledger.validators().len(), 1);
    assert_eq!(chain.ledger.validators().weight_of(&b.public()), Some(1));
    let rest = chain.tx(&b, Payload::Unbond { amount: Amount(1) });
    assert_eq!(invalid(chain.apply(&[rest])), TxError::LastValidatorStake);

    // Once someone else holds enough stake, the last one may leave.
    let bond = chain.tx(&attacker, Payload::Bond { amount: Amount(5) });
    chain.apply(&[bond]).unwrap();
    let rest = chain.tx(&b, Payload::Unbond { amount: Amount(1) });
    chain.apply(&[rest]).unwrap();
    chain.finish_epoch();
    assert_eq!(
        chain.ledger.validators().weight_of(&attacker.public()),
        Some(5)
    );
    assert_eq!(chain.ledger.validators().len(), 1);
}

#[test]
fn genesis_validators_must_hold_the_minimum_stake() {
    let genesis = Genesis {
        chain_id: CHAIN.0,
        min_validator_stake: 10,
        validators: vec![validator(&key(0), 10), validator(&key(1), 9)],
        ..Genesis::default()
    };
    assert!(matches!(
        Ledger::from_genesis(&genesis),
        Err(LedgerError::Genesis(
            GenesisError::ValidatorWeightTooSmall {
                weight: 9,
                minimum: 10
            }
        ))
    ));
}

// ---- 16. genesis supply ----

#[test]
fn genesis_bounds_the_total_supply_so_no_credit_can_overflow() {
    let boss = key(0);
    let payer = key(1);
    // The proposer's own balance at the top: its first fee would overflow and
    // every block carrying a transaction would be rejected.
    let attack = Genesis {
        chain_id: CHAIN.0,
        accounts: vec![account(&boss, u64::MAX), account(&payer, 10)],
        validators: vec![validator(&boss, 10)],
        ..Genesis::default()
    };
    let too_large = GenesisError::SupplyTooLarge {
        maximum: SUPPLY_MAX,
    };
    assert!(matches!(
        Ledger::from_genesis(&attack),
        Err(LedgerError::Genesis(e)) if e == too_large
    ));
    // Each account fits, the sum does not.
    let split = Genesis {
        chain_id: CHAIN.0,
        accounts: vec![account(&boss, u64::MAX / 2), account(&payer, u64::MAX / 2)],
        validators: vec![validator(&boss, 10)],
        ..Genesis::default()
    };
    assert!(matches!(
        Ledger::from_genesis(&split),
        Err(LedgerError::Genesis(e)) if e == too_large
    ));

    // At the cap exactly, with the proposer holding almost everything, fees
    // and unbonds are still credited.
    let full = Genesis {
        chain_id: CHAIN.0,
        epoch_length: 2,
        accounts: vec![account(&boss, SUPPLY_MAX - 20), account(&payer, 10)],
        validators: vec![validator(&boss, 5), validator(&payer, 5)],
        ..Genesis::default()
    };
    assert_eq!(full.total_supply(), Ok(SUPPLY_MAX));
    let mut chain = Chain::new(&full);
    let unbond = chain.tx(&payer, Payload::Unbond { amount: Amount(5) });
    chain.apply(&[unbond]).unwrap();
    chain.finish_epoch();
    assert_eq!(
        chain.ledger.account(&boss.public()).balance,
        Amount(SUPPLY_MAX - 19)
    );
    assert_eq!(chain.ledger.account(&payer.public()).balance, Amount(14));
}

// ---- 11. the security level is bound to the device's pairing signature ----

#[test]
fn a_registration_whose_level_changed_after_the_device_signed_is_refused() {
    let owner = key(0);
    let lamp = key(1);
    let genesis = Genesis {
        chain_id: CHAIN.0,
        accounts: vec![account(&owner, 100)],
        validators: vec![validator(&key(2), 10)],
        ..Genesis::default()
    };
    let mut chain = Chain::new(&genesis);
    // The lamp agreed to level 3 (hardest proof of work) ...
    let level3 = SecurityLevel::new(3).unwrap();
    let message = pairing_message(&owner.public(), level3);
    assert_eq!(message[..32], owner.public().0);
    assert_eq!(message[32..], [3]);
    let pairing = lamp.sign(SigningDomain::DevicePairing, CHAIN, &message);
    // ... the owner claims level 0.
    let register = |level| Payload::RegisterDevice {
        device: lamp.public(),
        security_level: SecurityLevel::new(level).unwrap(),
        metadata_hash: Hash::ZERO,
        pairing_signature: pairing,
    };
    for level in 0..3 {
        let tx = chain.tx(&owner, register(level));
        assert_eq!(invalid(chain.apply(&[tx])), TxError::BadPairingProof);
    }
    // A signature over the owner's key alone does not bind any level.
    let unbound = lamp.sign(SigningDomain::DevicePairing, CHAIN, &owner.public().0);
    let tx = chain.tx(
        &owner,
        Payload::RegisterDevice {
            device: lamp.public(),
            security_level: SecurityLevel::new(0).unwrap(),
            metadata_hash: Hash::ZERO,
            pairing_signature: unbound,
        },
    );
    assert_eq!(invalid(chain.apply(&[tx])), TxError::BadPairingProof);
    // The level the lamp signed is accepted.
    let tx = chain.tx(&owner, register(3));
    chain.apply(&[tx]).unwrap();
    assert_eq!(
        chain.ledger.device(&lamp.public()).unwrap().security_level,
        level3
    );
}

// ---- 14/16. any reachable staking state keeps every block executable ----

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever bonds and unbonds are attempted, the transactions a proposer
    /// selects always form a block that applies, epoch boundaries included.
    #[test]
    fn selected_staking_blocks_always_apply(
        min_stake in 0u64..50,
        weights in proptest::collection::vec(50u64..=STAKE_MAX, 1..4),
        balances in proptest::collection::vec(0u64..=SUPPLY_MAX / 8, 4),
        blocks in proptest::collection::vec(
            proptest::collection::vec((0usize..7, proptest::bool::ANY, 0u64..=STAKE_MAX), 0..6),
            1..12,
        ),
    ) {
        let validators: Vec<Keypair> = (0..weights.len() as u32).map(key).collect();
        let accounts: Vec<Keypair> = (0..balances.len() as u32).map(|i| key(50 + i)).collect();
        let genesis = Genesis {
            chain_id: CHAIN.0,
            epoch_length: 2,
            min_validator_stake: min_stake,
            accounts: accounts
                .iter()
                .zip(&balances)
                .map(|(k, b)| account(k, *b))
                .chain(validators.iter().map(|k| account(k, 1_000)))
                .collect(),
            validators: validators
                .iter()
                .zip(&weights)
                .map(|(k, w)| validator(k, *w))
                .collect(),
            ..Genesis::default()
        };
        let mut chain = Chain::new(&genesis);
        let everyone: Vec<&Keypair> = validators.iter().chain(&accounts).collect();
        for ops in blocks {
            let txs: Vec<Transaction> = ops
                .into_iter()
                .map(|(who, bond, amount)| {
                    let who = everyone[who % everyone.len()];
                    let payload = if bond {
                        Payload::Bond { amount: Amount(amount % (STAKE_MAX / 4)) }
                    } else {
                        Payload::Unbond { amount: Amount(amount % (STAKE_MAX / 4)) }
                    };
                    chain.tx(who, payload)
                })
                .collect();
            let context = chain.context();
            let (kept, rejected) = chain.ledger.select_valid(&context, txs);
            for (tx, _) in &rejected {
                // Rejected transactions do not use their nonce; later ones
                // from the same sender are rejected as future nonces.
                chain.nonces.insert(tx.sender, chain.ledger.account(&tx.sender).nonce);
            }
            chain.apply(&kept).unwrap();
            for tx in &kept {
                let next = chain.ledger.account(&tx.sender).nonce;
                chain.nonces.insert(tx.sender, next);
            }
            let set = chain.ledger.validators();
            proptest::prop_assert!(set.total_weight() > 0);
            proptest::prop_assert!(set.validators().iter().all(|v| v.weight <= STAKE_MAX));
        }
    }
}
