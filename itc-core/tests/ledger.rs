//! Ledger state machine: what users of the chain rely on.

use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::{Keypair, PublicKey, SigningDomain};
use itc_core::ledger::{state_key, value_hash, BlockContext, BlockError, Ledger, TxError};
use itc_core::storage::{MemoryStorage, Storage};
use itc_core::types::{
    pairing_message, Amount, ChainId, Payload, Permissions, SecurityLevel, Transaction,
};
use itc_core::Hash;

const CHAIN: ChainId = ChainId(42);

struct Net {
    owner: Keypair,
    guest: Keypair,
    lamp: Keypair,
    validator: Keypair,
    validator2: Keypair,
    ledger: Ledger,
    storage: MemoryStorage,
    nonces: std::collections::HashMap<PublicKey, u64>,
}

impl Net {
    fn new() -> Net {
        Net::with_epoch(1000)
    }

    fn with_epoch(epoch_length: u64) -> Net {
        let owner = Keypair::from_seed([1; 32]);
        let guest = Keypair::from_seed([2; 32]);
        let lamp = Keypair::from_seed([3; 32]);
        let validator = Keypair::from_seed([9; 32]);
        let validator2 = Keypair::from_seed([10; 32]);
        let genesis = Genesis {
            chain_id: CHAIN.0,
            epoch_length,
            accounts: vec![
                GenesisAccount {
                    public_key: owner.public(),
                    balance: 10_000,
                },
                GenesisAccount {
                    public_key: guest.public(),
                    balance: 500,
                },
                GenesisAccount {
                    public_key: validator2.public(),
                    balance: 1_000,
                },
            ],
            validators: vec![GenesisValidator {
                public_key: validator.public(),
                weight: 100,
            }],
            ..Genesis::default()
        };
        let (ledger, writes) = Ledger::from_genesis(&genesis).unwrap();
        let mut storage = MemoryStorage::default();
        storage.write(writes).unwrap();
        Net {
            owner,
            guest,
            lamp,
            validator,
            validator2,
            ledger,
            storage,
            nonces: Default::default(),
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
            proposer: self.validator.public(),
            time_ms: 0,
        }
    }

    fn apply(&mut self, txs: &[Transaction]) -> Result<Hash, BlockError> {
        let context = self.context();
        let outcome = self.ledger.apply_block(&context, txs)?;
        self.storage.write(outcome.writes).unwrap();
        Ok(outcome.state_root)
    }

    fn register_lamp(&mut self) -> Transaction {
        let level = SecurityLevel::new(1).unwrap();
        let pairing = self.lamp.sign(
            SigningDomain::DevicePairing,
            CHAIN,
            &pairing_message(&self.owner.public(), level),
        );
        let owner = self.owner.clone();
        self.tx(
            &owner,
            Payload::RegisterDevice {
                device: self.lamp.public(),
                security_level: level,
                metadata_hash: Hash::ZERO,
                pairing_signature: pairing,
            },
        )
    }

    fn grant(&mut self, expiry_height: u64) -> Transaction {
        let owner = self.owner.clone();
        self.tx(
            &owner,
            Payload::GrantAccess {
                device: self.lamp.public(),
                grantee: self.guest.public(),
                permissions: Permissions::SWITCH,
                expiry_height,
            },
        )
    }

    fn unuse_nonce(&mut self, who: &PublicKey) {
        *self.nonces.get_mut(who).unwrap() -= 1;
    }
}

fn invalid(result: Result<Hash, BlockError>) -> TxError {
    match result {
        Err(BlockError::InvalidTransaction { error, .. }) => error,
        other => panic!("expected an invalid transaction, got {other:?}"),
    }
}

#[test]
fn transfer_moves_amount_and_pays_fee_to_proposer() {
    let mut net = Net::new();
    let owner = net.owner.clone();
    let guest = net.guest.public();
    let tx = net.tx(
        &owner,
        Payload::Transfer {
            to: guest,
            amount: Amount(300),
        },
    );
    net.apply(&[tx]).unwrap();
    assert_eq!(
        net.ledger.account(&owner.public()).balance,
        Amount(10_000 - 301)
    );
    assert_eq!(net.ledger.account(&owner.public()).nonce, 1);
    assert_eq!(net.ledger.account(&guest).balance, Amount(800));
    assert_eq!(
        net.ledger.account(&net.validator.public()).balance,
        Amount(1)
    );
}

#[test]
fn invalid_transactions_are_rejected_with_reasons_and_leave_state_unchanged() {
    let mut net = Net::new();
    let root_before = net.ledger.state_root();
    let owner = net.owner.clone();
    let guest = net.guest.public();
    let transfer = |amount| Payload::Transfer {
        to: guest,
        amount: Amount(amount),
    };

    let tx = Transaction::new_signed(&owner, ChainId(1), 0, Amount(1), transfer(1));
    assert!(matches!(
        invalid(net.apply(&[tx])),
        TxError::WrongChain { .. }
    ));
    let mut tx = Transaction::new_signed(&owner, CHAIN, 0, Amount(1), transfer(1));
    tx.signature.0[5] ^= 1;
    assert_eq!(invalid(net.apply(&[tx])), TxError::BadSignature);
    let tx = Transaction::new_signed(&owner, CHAIN, 5, Amount(1), transfer(1));
    assert!(matches!(
        invalid(net.apply(&[tx])),
        TxError::FutureNonce {
            expected: 0,
            found: 5
        }
    ));
    // Amount plus fee exceeds the balance by exactly one.
    let tx = Transaction::new_signed(&owner, CHAIN, 0, Amount(1), transfer(10_000));
    assert!(matches!(
        invalid(net.apply(&[tx])),
        TxError::InsufficientBalance {
            needed: 10_001,
            available: 10_000
        }
    ));
    let tx = Transaction::new_signed(&owner, CHAIN, 0, Amount(0), transfer(1));
    assert!(matches!(
        invalid(net.apply(&[tx])),
        TxError::FeeTooLow { .. }
    ));
    let tx = Transaction::new_signed(&owner, CHAIN, 0, Amount(1), transfer(0));
    assert_eq!(invalid(net.apply(&[tx])), TxError::ZeroAmount);
    // A valid transaction followed by its replay: the whole block is refused.
    let good = Transaction::new_signed(&owner, CHAIN, 0, Amount(1), transfer(1));
    match net.apply(&[good.clone(), good.clone()]) {
        Err(BlockError::InvalidTransaction { index: 1, error }) => {
            assert!(matches!(
                error,
                TxError::StaleNonce {
                    expected: 1,
                    found: 0
                }
            ))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(net.ledger.state_root(), root_before);
    assert_eq!(net.ledger.height(), 0);
    net.apply(std::slice::from_ref(&good)).unwrap();
    assert!(matches!(
        invalid(net.apply(&[good])),
        TxError::StaleNonce { .. }
    ));
}

#[test]
fn wrong_height_is_refused() {
    let mut net = Net::new();
    let context = BlockContext {
        height: 5,
        proposer: net.validator.public(),
        time_ms: 0,
    };
    assert!(matches!(
        net.ledger.apply_block(&context, &[]),
        Err(BlockError::UnexpectedHeight {
            expected: 1,
            found: 5
        })
    ));
}

#[test]
fn device_lifecycle_register_grant_revoke_with_proofs() {
    let mut net = Net::new();
    let register = net.register_lamp();
    let grant = net.grant(100);
    let root = net.apply(&[register, grant]).unwrap();
    let lamp = net.lamp.public();
    let guest = net.guest.public();
    assert_eq!(net.ledger.device(&lamp).unwrap().owner, net.owner.public());
    let g = net.ledger.grant(&lamp, &guest).unwrap();
    assert_eq!(g.permissions, Permissions::SWITCH);
    assert_eq!(g.expiry_height, 100);
    assert_eq!(g.granted_by, net.owner.public());

    // A light client can check the grant against the state root.
    let key = state_key::grant(&lamp, &guest);
    let (value, proof) = net.ledger.prove(&key);
    let value = value.unwrap();
    proof
        .verify(&root, &key, Some(&value_hash(&value)))
        .unwrap();
    assert!(proof.verify(&root, &key, None).is_err());

    // Revoke: the grant is gone and its absence is provable.
    let owner = net.owner.clone();
    let revoke = net.tx(
        &owner,
        Payload::RevokeAccess {
            device: lamp,
            grantee: guest,
        },
    );
    let root2 = net.apply(&[revoke]).unwrap();
    assert!(net.ledger.grant(&lamp, &guest).is_none());
    let (value2, absent) = net.ledger.prove(&key);
    assert!(value2.is_none());
    absent.verify(&root2, &key, None).unwrap();
    // The old membership proof no longer holds against the new root.
    assert!(proof
        .verify(&root2, &key, Some(&value_hash(&value)))
        .is_err());

    let revoke = net.tx(
        &owner,
        Payload::RevokeAccess {
            device: lamp,
            grantee: guest,
        },
    );
    assert_eq!(invalid(net.apply(&[revoke])), TxError::NoSuchGrant);
}

#[test]
fn device_rules_pairing_ownership_expiry() {
    let mut net = Net::new();
    let lamp = net.lamp.public();
    let owner = net.owner.clone();
    let guest = net.guest.clone();
    // Pairing signed by the owner instead of the lamp.
    let forged = owner.sign(
        SigningDomain::DevicePairing,
        CHAIN,
        &pairing_message(&owner.public(), SecurityLevel::new(0).unwrap()),
    );
    let tx = Transaction::new_signed(
        &owner,
        CHAIN,
        0,
        Amount(1),
        Payload::RegisterDevice {
            device: lamp,
            security_level: SecurityLevel::new(0).unwrap(),
            metadata_hash: Hash::ZERO,
            pairing_signature: forged,
        },
    );
    assert_eq!(invalid(net.apply(&[tx])), TxError::BadPairingProof);
    let tx = net.grant(10);
    assert_eq!(invalid(net.apply(&[tx])), TxError::UnknownDevice);
    net.unuse_nonce(&owner.public());

    let register = net.register_lamp();
    net.apply(&[register]).unwrap();
    let again = net.register_lamp();
    assert_eq!(
        invalid(net.apply(&[again])),
        TxError::DeviceAlreadyRegistered
    );
    net.unuse_nonce(&owner.public());
    // Expiry must lie above the block's height (the next block is 2).
    let tx = net.grant(2);
    assert_eq!(invalid(net.apply(&[tx])), TxError::GrantExpired);
    net.unuse_nonce(&owner.public());
    let tx = net.tx(
        &guest,
        Payload::TransferDevice {
            device: lamp,
            new_owner: guest.public(),
        },
    );
    assert_eq!(invalid(net.apply(&[tx])), TxError::NotOwner);
    net.unuse_nonce(&guest.public());
    let tx = net.tx(
        &owner,
        Payload::TransferDevice {
            device: lamp,
            new_owner: guest.public(),
        },
    );
    net.apply(&[tx]).unwrap();
    assert_eq!(net.ledger.device(&lamp).unwrap().owner, guest.public());
    let tx = net.grant(100);
    assert_eq!(invalid(net.apply(&[tx])), TxError::NotOwner);
}

#[test]
fn bonded_weight_changes_validator_set_at_the_epoch_boundary() {
    let mut net = Net::with_epoch(3);
    let v2 = net.validator2.clone();
    let bond = net.tx(
        &v2,
        Payload::Bond {
            amount: Amount(300),
        },
    );
    net.apply(&[bond]).unwrap(); // height 1
    assert_eq!(
        net.ledger.validators().len(),
        1,
        "no change inside the epoch"
    );
    assert_eq!(net.ledger.stake(&v2.public()).bonded, Amount(300));
    assert_eq!(
        net.ledger.account(&v2.public()).balance,
        Amount(1_000 - 301)
    );
    net.apply(&[]).unwrap(); // height 2
    let context = net.context();
    let outcome = net.ledger.apply_block(&context, &[]).unwrap(); // 3: epoch end
    let set = outcome
        .next_validator_set
        .expect("epoch boundary changes the set");
    assert_eq!(set.total_weight(), 400);
    assert_eq!(set.weight_of(&v2.public()), Some(300));
    assert_eq!(net.ledger.validators(), &set);

    // Unbond: weight drops and tokens return only at the next boundary.
    let unbond = net.tx(
        &v2,
        Payload::Unbond {
            amount: Amount(300),
        },
    );
    net.apply(&[unbond]).unwrap(); // 4
    assert_eq!(net.ledger.validators().weight_of(&v2.public()), Some(300));
    let balance_before = net.ledger.account(&v2.public()).balance;
    net.apply(&[]).unwrap(); // 5
    net.apply(&[]).unwrap(); // 6: boundary
    assert_eq!(net.ledger.validators().weight_of(&v2.public()), None);
    assert_eq!(
        net.ledger.account(&v2.public()).balance,
        balance_before.checked_add(Amount(300)).unwrap()
    );
    let unbond = net.tx(&v2, Payload::Unbond { amount: Amount(1) });
    assert!(matches!(
        invalid(net.apply(&[unbond])),
        TxError::InsufficientStake { .. }
    ));
}

#[test]
fn same_blocks_give_same_root_and_state_survives_reopen() {
    let mut a = Net::new();
    let mut b = Net::new();
    let txs_a = vec![a.register_lamp(), a.grant(50)];
    let txs_b = vec![b.register_lamp(), b.grant(50)];
    assert_eq!(txs_a, txs_b, "signing is deterministic");
    let root_a = a.apply(&txs_a).unwrap();
    let root_b = b.apply(&txs_b).unwrap();
    assert_eq!(root_a, root_b);

    let mut reopened = Ledger::open(&a.storage).unwrap();
    assert_eq!(reopened.height(), 1);
    assert_eq!(reopened.state_root(), root_a);
    assert_eq!(reopened.validators(), a.ledger.validators());
    assert_eq!(
        reopened.grant(&a.lamp.public(), &a.guest.public()),
        a.ledger.grant(&a.lamp.public(), &a.guest.public())
    );
}

#[test]
fn preview_matches_apply_and_changes_nothing() {
    let mut net = Net::new();
    let txs = vec![net.register_lamp(), net.grant(50)];
    let before = net.ledger.state_root();
    let context = net.context();
    let (previewed, _) = net.ledger.preview_block(&context, &txs).unwrap();
    assert_eq!(net.ledger.state_root(), before);
    assert_eq!(net.ledger.height(), 0);
    let applied = net.apply(&txs).unwrap();
    assert_eq!(previewed, applied);
}

#[test]
fn select_valid_drops_invalid_transactions_in_sequence() {
    let net = Net::new();
    let owner = net.owner.clone();
    let guest = net.guest.public();
    let t = |nonce, amount| {
        Transaction::new_signed(
            &owner,
            CHAIN,
            nonce,
            Amount(1),
            Payload::Transfer {
                to: guest,
                amount: Amount(amount),
            },
        )
    };
    let candidates = vec![t(0, 10), t(0, 11), t(1, 1_000_000), t(1, 5), t(3, 1)];
    let (kept, rejected) = net.ledger.select_valid(&net.context(), candidates);
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].nonce, 0);
    assert_eq!(kept[1].nonce, 1);
    assert_eq!(rejected.len(), 3);
    assert!(net.ledger.check_transaction(&t(0, 1)).is_ok());
    assert!(net.ledger.check_transaction(&t(1, 1)).is_err());
}

#[test]
fn a_dag_deposit_debits_the_main_chain_account_with_its_fee() {
    let mut net = Net::new();
    let guest = net.guest.clone();
    let before = net.ledger.account(&guest.public()).balance;
    let deposit = net.tx(
        &guest,
        Payload::DagDeposit {
            amount: Amount(120),
        },
    );
    net.apply(&[deposit]).unwrap();
    assert_eq!(
        net.ledger.account(&guest.public()).balance,
        Amount(before.0 - 120 - 1)
    );
    // Nothing, or more than the balance, is refused.
    let zero = net.tx(&guest, Payload::DagDeposit { amount: Amount(0) });
    assert_eq!(invalid(net.apply(&[zero])), TxError::ZeroAmount);
    net.nonces.insert(guest.public(), 1);
    let too_much = net.tx(
        &guest,
        Payload::DagDeposit {
            amount: Amount(10_000),
        },
    );
    assert!(matches!(
        invalid(net.apply(&[too_much])),
        TxError::InsufficientBalance { .. }
    ));
}

#[test]
fn genesis_round_trips_through_json() {
    let json = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/genesis.json"
    ))
    .unwrap();
    let genesis = Genesis::from_json(&json).unwrap();
    assert_eq!(Genesis::from_json(&genesis.to_json()).unwrap(), genesis);
    let (mut a, _) = Ledger::from_genesis(&genesis).unwrap();
    let (mut b, _) = Ledger::from_genesis(&genesis).unwrap();
    assert_eq!(a.state_root(), b.state_root());
    assert!(Genesis::from_json("{\"chain_id\": 1, \"validators\": [], \"bogus\": 1}").is_err());
    let no_validators = Genesis::from_json("{\"chain_id\": 1, \"validators\": []}").unwrap();
    assert!(Ledger::from_genesis(&no_validators).is_err());
}

#[test]
fn the_dag_anchor_depth_is_a_genesis_parameter_every_validator_shares() {
    let genesis = Genesis::from_json("{\"chain_id\": 1, \"validators\": []}").unwrap();
    assert_eq!(genesis.dag_anchor_depth_max, 20, "default");
    let set =
        Genesis::from_json("{\"chain_id\": 1, \"dag_anchor_depth_max\": 7, \"validators\": []}")
            .unwrap();
    assert_eq!(set.params().unwrap().dag_anchor_depth_max, 7);
    let zero = Genesis {
        dag_anchor_depth_max: 0,
        ..set
    };
    assert_eq!(
        zero.params(),
        Err(itc_core::genesis::GenesisError::ZeroAnchorDepth)
    );
    // It is part of the ledger's persisted parameters.
    let mut net = Net::new();
    net.apply(&[]).unwrap();
    let reopened = Ledger::open(&net.storage).unwrap();
    assert_eq!(reopened.params(), net.ledger.params());
    assert_eq!(reopened.params().dag_anchor_depth_max, 20);
}

#[test]
fn committed_state_can_be_proven_through_a_shared_reference() {
    let mut net = Net::new();
    let txs = vec![net.register_lamp(), net.grant(50)];
    let context = net.context();
    let (_, _) = net.ledger.preview_block(&context, &txs).unwrap();
    let root = net.apply(&txs).unwrap();
    let key = state_key::grant(&net.lamp.public(), &net.guest.public());
    let shared: &Ledger = &net.ledger;
    let (value, proof) = shared.prove_committed(&key).expect("fresh after apply");
    proof
        .verify(&root, &key, Some(&value_hash(&value.unwrap())))
        .unwrap();
    let reopened = Ledger::open(&net.storage).unwrap();
    assert!(reopened.prove_committed(&key).is_some());
}

#[test]
fn preverified_variants_skip_only_the_signature_check() {
    let mut net = Net::new();
    let owner = net.owner.clone();
    let guest = net.guest.public();
    let mut tx = Transaction::new_signed(
        &owner,
        CHAIN,
        0,
        Amount(1),
        Payload::Transfer {
            to: guest,
            amount: Amount(5),
        },
    );
    tx.signature.0[0] ^= 1;
    let context = net.context();
    assert!(net.ledger.preview_block(&context, &[tx.clone()]).is_err());
    assert!(net
        .ledger
        .preview_block_preverified(&context, &[tx.clone()])
        .is_ok());
    let (kept, _) = net.ledger.select_valid(&context, vec![tx.clone()]);
    assert!(kept.is_empty());
    let (kept, _) = net
        .ledger
        .select_valid_preverified(&context, vec![tx.clone()]);
    assert_eq!(kept.len(), 1);
    // Everything else is still checked.
    let mut future = tx;
    future.nonce = 7;
    assert!(net
        .ledger
        .preview_block_preverified(&context, &[future])
        .is_err());
}

/// Issue 12, item 4: a grant belongs to the ownership it was made in. After
/// the device changes hands and comes back, the old grant's record is still
/// in state (nobody revoked it) but no longer authorises anything.
#[test]
fn a_grant_stays_dead_after_the_device_returns_to_its_old_owner() {
    let mut net = Net::new();
    let (owner, guest) = (net.owner.clone(), net.guest.clone());
    let lamp = net.lamp.public();
    let txs = vec![net.register_lamp(), net.grant(100)];
    net.apply(&txs).unwrap();
    let record = net.ledger.device(&lamp).unwrap();
    assert_eq!(record.ownership_seq, 0);
    let grant = net.ledger.grant(&lamp, &guest.public()).unwrap();
    assert_eq!(grant.ownership_seq, 0);
    assert!(grant.is_live(&record, net.ledger.height()));

    // Owner -> guest -> owner: the same owner as when the grant was made.
    let away = net.tx(
        &owner,
        Payload::TransferDevice {
            device: lamp,
            new_owner: guest.public(),
        },
    );
    net.apply(&[away]).unwrap();
    let back = net.tx(
        &guest,
        Payload::TransferDevice {
            device: lamp,
            new_owner: owner.public(),
        },
    );
    net.apply(&[back]).unwrap();
    let record = net.ledger.device(&lamp).unwrap();
    assert_eq!(record.owner, owner.public());
    assert_eq!(record.ownership_seq, 2);
    let stale = net.ledger.grant(&lamp, &guest.public()).unwrap();
    assert_eq!(stale.granted_by, owner.public());
    assert!(
        !stale.is_live(&record, net.ledger.height()),
        "a grant from an earlier ownership must not revive"
    );

    // A new grant by the returning owner is live again.
    let regrant = net.grant(100);
    net.apply(&[regrant]).unwrap();
    let fresh = net.ledger.grant(&lamp, &guest.public()).unwrap();
    assert_eq!(fresh.ownership_seq, 2);
    assert!(fresh.is_live(&record, net.ledger.height()));
    // And it expires at its height.
    assert!(!fresh.is_live(&record, 100));
}

/// Issue 12: parameters read back from disk with an epoch length of 0 would
/// make every block a division by zero; `Ledger::open` refuses them.
#[test]
fn open_refuses_a_stored_epoch_length_of_zero() {
    let mut net = Net::new();
    net.apply(&[]).unwrap();
    let meta = net
        .storage
        .get(itc_core::ledger::STORAGE_META_KEY)
        .unwrap()
        .unwrap();
    // The metadata starts with the parameters: chain id (u32), then the
    // epoch length (u64).
    let mut corrupted = meta.clone();
    corrupted[4..12].copy_from_slice(&0u64.to_le_bytes());
    let mut batch = itc_core::storage::WriteBatch::new();
    batch.put(itc_core::ledger::STORAGE_META_KEY.to_vec(), corrupted);
    net.storage.write(batch).unwrap();
    assert!(matches!(
        Ledger::open(&net.storage),
        Err(itc_core::ledger::LedgerError::Corrupted(
            "epoch length is 0"
        ))
    ));
}
