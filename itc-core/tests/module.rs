//! Ledger modules: a module's transactions run inside block execution, its
//! state is proven like any other state, a failing module transaction leaves
//! no trace, `end_block` runs every block, and tokens are conserved between
//! balances and the module's escrow.
//!
//! The test module is an escrowed "pay later": a transaction moves tokens
//! from the sender into escrow and schedules a payment to a payee at a due
//! height; `end_block` at that height pays the payee and deletes the record.

use std::collections::BTreeMap;
use std::sync::Arc;

use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::{Keypair, PublicKey};
use itc_core::ledger::{
    state_key, value_hash, BlockContext, BlockError, Ledger, LedgerError, TxError,
};
use itc_core::module::{LedgerModule, ModuleContext, ModuleError};
use itc_core::storage::{MemoryStorage, Storage};
use itc_core::types::{Amount, ChainId, Payload, Transaction, MODULE_BODY_MAX};
use itc_core::Hash;
use proptest::prelude::*;

const CHAIN: ChainId = ChainId(42);
const PAY_LATER: u8 = 3;

/// Body codes of the pay-later module.
const OP_SCHEDULE: u8 = 0;
/// Take tokens out of the escrow for the sender (refused beyond the escrow).
const OP_CLAIM: u8 = 1;
/// Write a record, debit the sender, then fail.
const OP_WRITE_THEN_FAIL: u8 = 2;

const BAD_BODY: u16 = 1;
const ZERO_AMOUNT: u16 = 2;
const DUE_NOT_AHEAD: u16 = 3;
const DELIBERATE: u16 = 4;

/// An escrowed "pay later" module.
#[derive(Debug)]
struct PayLater {
    id: u8,
    /// `end_block` fails at this height (to test corrupted-state handling).
    fail_at: Option<u64>,
}

impl PayLater {
    fn new() -> Arc<PayLater> {
        Arc::new(PayLater {
            id: PAY_LATER,
            fail_at: None,
        })
    }
}

fn due_key(height: u64) -> Vec<u8> {
    let mut key = b"due/".to_vec();
    key.extend_from_slice(&height.to_be_bytes());
    key
}

fn paid_key(payee: &PublicKey) -> Vec<u8> {
    let mut key = b"paid/".to_vec();
    key.extend_from_slice(&payee.0);
    key
}

fn schedule(payee: &PublicKey, amount: u64, due: u64) -> Payload {
    let mut body = vec![OP_SCHEDULE];
    body.extend_from_slice(&payee.0);
    body.extend_from_slice(&amount.to_le_bytes());
    body.extend_from_slice(&due.to_le_bytes());
    Payload::Module {
        module: PAY_LATER,
        body,
    }
}

fn claim(amount: u64) -> Payload {
    let mut body = vec![OP_CLAIM];
    body.extend_from_slice(&amount.to_le_bytes());
    Payload::Module {
        module: PAY_LATER,
        body,
    }
}

fn write_then_fail(amount: u64) -> Payload {
    let mut body = vec![OP_WRITE_THEN_FAIL];
    body.extend_from_slice(&amount.to_le_bytes());
    Payload::Module {
        module: PAY_LATER,
        body,
    }
}

enum Op {
    Schedule {
        payee: PublicKey,
        amount: u64,
        due: u64,
    },
    Claim(u64),
    WriteThenFail(u64),
}

impl PayLater {
    fn err(&self, code: u16, reason: &str) -> ModuleError {
        ModuleError::new(self.id, code, reason)
    }

    fn decode(&self, body: &[u8]) -> Result<Op, ModuleError> {
        let bad = || self.err(BAD_BODY, "bad body");
        let u64_at = |at: usize| -> Result<u64, ModuleError> {
            let bytes: [u8; 8] = body
                .get(at..at + 8)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(bad)?;
            Ok(u64::from_le_bytes(bytes))
        };
        match body.first() {
            Some(&OP_SCHEDULE) if body.len() == 49 => {
                let payee = PublicKey(body[1..33].try_into().map_err(|_| bad())?);
                let amount = u64_at(33)?;
                if amount == 0 {
                    return Err(self.err(ZERO_AMOUNT, "zero amount"));
                }
                Ok(Op::Schedule {
                    payee,
                    amount,
                    due: u64_at(41)?,
                })
            }
            Some(&OP_CLAIM) if body.len() == 9 => Ok(Op::Claim(u64_at(1)?)),
            Some(&OP_WRITE_THEN_FAIL) if body.len() == 9 => Ok(Op::WriteThenFail(u64_at(1)?)),
            _ => Err(bad()),
        }
    }
}

impl LedgerModule for PayLater {
    fn id(&self) -> u8 {
        self.id
    }

    fn check(&self, _sender: &PublicKey, body: &[u8]) -> Result<(), ModuleError> {
        self.decode(body).map(|_| ())
    }

    fn execute(
        &self,
        ctx: &mut ModuleContext<'_>,
        sender: &PublicKey,
        body: &[u8],
    ) -> Result<(), ModuleError> {
        match self.decode(body)? {
            Op::Schedule { payee, amount, due } => {
                if due <= ctx.height() {
                    return Err(self.err(DUE_NOT_AHEAD, "due height not ahead"));
                }
                ctx.debit(sender, Amount(amount))?;
                let key = due_key(due);
                let mut list = ctx.get(&key).unwrap_or_default();
                list.extend_from_slice(&payee.0);
                list.extend_from_slice(&amount.to_le_bytes());
                ctx.put(&key, list);
                Ok(())
            }
            Op::Claim(amount) => ctx.credit(sender, Amount(amount)),
            Op::WriteThenFail(amount) => {
                ctx.put(b"scratch", vec![1, 2, 3]);
                ctx.debit(sender, Amount(amount))?;
                Err(self.err(DELIBERATE, "deliberate failure after writing"))
            }
        }
    }

    fn end_block(&self, ctx: &mut ModuleContext<'_>) -> Result<(), ModuleError> {
        if self.fail_at == Some(ctx.height()) {
            return Err(self.err(DELIBERATE, "corrupted"));
        }
        let key = due_key(ctx.height());
        let Some(list) = ctx.get(&key) else {
            return Ok(());
        };
        for entry in list.chunks(40) {
            let payee = PublicKey(entry[..32].try_into().map_err(|_| self.err(0, "list"))?);
            let amount =
                u64::from_le_bytes(entry[32..].try_into().map_err(|_| self.err(0, "list"))?);
            ctx.credit(&payee, Amount(amount))?;
            let paid_key = paid_key(&payee);
            let before = ctx
                .get(&paid_key)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .unwrap_or(0);
            ctx.put(&paid_key, (before + amount).to_le_bytes().to_vec());
        }
        ctx.delete(&key);
        Ok(())
    }
}

struct Net {
    alice: Keypair,
    bob: Keypair,
    carol: Keypair,
    validator: Keypair,
    ledger: Ledger,
    storage: MemoryStorage,
    nonces: BTreeMap<PublicKey, u64>,
}

const SUPPLY: u64 = 10_000 + 5_000 + 100 + 100;

impl Net {
    fn new(module: Option<Arc<PayLater>>) -> Net {
        let alice = Keypair::from_seed([1; 32]);
        let bob = Keypair::from_seed([2; 32]);
        let carol = Keypair::from_seed([3; 32]);
        let validator = Keypair::from_seed([9; 32]);
        let genesis = Genesis {
            chain_id: CHAIN.0,
            epoch_length: 4,
            accounts: vec![
                GenesisAccount {
                    public_key: alice.public(),
                    balance: 10_000,
                },
                GenesisAccount {
                    public_key: bob.public(),
                    balance: 5_000,
                },
                GenesisAccount {
                    public_key: carol.public(),
                    balance: 100,
                },
            ],
            validators: vec![GenesisValidator {
                public_key: validator.public(),
                weight: 100,
            }],
            ..Genesis::default()
        };
        let (mut ledger, writes) = Ledger::from_genesis(&genesis).unwrap();
        if let Some(module) = module {
            ledger = ledger.with_module(module).unwrap();
        }
        let mut storage = MemoryStorage::default();
        storage.write(writes).unwrap();
        Net {
            alice,
            bob,
            carol,
            validator,
            ledger,
            storage,
            nonces: BTreeMap::new(),
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

    fn balance(&self, who: &PublicKey) -> u64 {
        self.ledger.account(who).balance.0
    }

    /// Balances of every account that can hold tokens, stake and escrow.
    fn supply(&self) -> u64 {
        let stake = self.ledger.stake(&self.validator.public());
        [&self.alice, &self.bob, &self.carol, &self.validator]
            .iter()
            .map(|k| self.balance(&k.public()))
            .sum::<u64>()
            + stake.bonded.0
            + stake.unbonding.0
            + self.ledger.module_escrow(PAY_LATER).0
    }
}

fn module_error(result: Result<Hash, BlockError>) -> ModuleError {
    match result {
        Err(BlockError::InvalidTransaction {
            error: TxError::Module(error),
            ..
        }) => error,
        other => panic!("expected a module error, got {other:?}"),
    }
}

#[test]
fn a_module_transaction_executes_and_its_state_is_provable_at_the_new_root() {
    let mut net = Net::new(Some(PayLater::new()));
    let (alice, bob) = (net.alice.clone(), net.bob.public());
    let tx = net.tx(&alice, schedule(&bob, 700, 3));
    let root = net.apply(&[tx]).unwrap();
    // Fee and nonce as for any payload, amount moved into escrow.
    assert_eq!(
        net.ledger.account(&alice.public()).balance,
        Amount(10_000 - 700 - 1)
    );
    assert_eq!(net.ledger.account(&alice.public()).nonce, 1);
    assert_eq!(net.ledger.module_escrow(PAY_LATER), Amount(700));
    assert_eq!(net.supply(), SUPPLY);

    // The scheduled record is proven against the header's state root, with
    // the key a light client computes from the module id and its own key.
    let key = state_key::module(PAY_LATER, &due_key(3));
    let (value, proof) = net.ledger.prove(&key);
    let value = value.expect("record present");
    assert_eq!(
        Some(value.as_slice()),
        net.ledger.module_value(PAY_LATER, &due_key(3))
    );
    proof
        .verify(&root, &key, Some(&value_hash(&value)))
        .unwrap();
    assert!(proof.verify(&root, &key, None).is_err());
    let mut forged = value.clone();
    forged[32] ^= 1;
    assert!(proof
        .verify(&root, &key, Some(&value_hash(&forged)))
        .is_err());
    // So is the escrow total.
    let escrow_key = state_key::module_escrow(PAY_LATER);
    let (escrow, escrow_proof) = net.ledger.prove(&escrow_key);
    let escrow = escrow.unwrap();
    assert_eq!(escrow, 700u64.to_le_bytes().to_vec());
    escrow_proof
        .verify(&root, &escrow_key, Some(&value_hash(&escrow)))
        .unwrap();
    // Another module's namespace does not see it.
    assert_eq!(net.ledger.module_value(PAY_LATER + 1, &due_key(3)), None);
    assert_ne!(key, state_key::module(PAY_LATER + 1, &due_key(3)));

    // The state survives a reopen (with the module registered again).
    let mut reopened = Ledger::open(&net.storage)
        .unwrap()
        .with_module(PayLater::new())
        .unwrap();
    assert_eq!(reopened.state_root(), root);
    assert_eq!(reopened.module_escrow(PAY_LATER), Amount(700));
}

#[test]
fn without_the_module_registered_the_same_transaction_is_refused() {
    let mut with = Net::new(Some(PayLater::new()));
    let mut without = Net::new(None);
    let (alice, bob) = (with.alice.clone(), with.bob.public());
    let tx = with.tx(&alice, schedule(&bob, 700, 3));
    assert_eq!(with.ledger.check_transaction(&tx), Ok(()));
    assert_eq!(
        without.ledger.check_transaction(&tx),
        Err(TxError::UnknownModule { module: PAY_LATER })
    );
    let root = without.ledger.state_root();
    assert_eq!(
        without.apply(std::slice::from_ref(&tx)),
        Err(BlockError::InvalidTransaction {
            index: 0,
            error: TxError::UnknownModule { module: PAY_LATER }
        })
    );
    assert_eq!(without.ledger.state_root(), root);
    assert!(without.ledger.modules().is_empty());
    // A module with another id does not take it either.
    let other = Arc::new(PayLater {
        id: PAY_LATER + 1,
        fail_at: None,
    });
    let other_ledger = without.ledger.clone().with_module(other).unwrap();
    assert_eq!(
        other_ledger.check_transaction(&tx),
        Err(TxError::UnknownModule { module: PAY_LATER })
    );
}

#[test]
fn registering_two_modules_with_one_id_is_refused() {
    let net = Net::new(Some(PayLater::new()));
    match net.ledger.clone().with_module(PayLater::new()) {
        Err(LedgerError::DuplicateModule { module }) => assert_eq!(module, PAY_LATER),
        other => panic!("expected DuplicateModule, got {other:?}"),
    }
    let two = net
        .ledger
        .with_module(Arc::new(PayLater {
            id: 1,
            fail_at: None,
        }))
        .unwrap();
    let ids: Vec<u8> = two.modules().iter().map(|m| m.id()).collect();
    assert_eq!(ids, vec![1, PAY_LATER]);
}

#[test]
fn a_failing_module_transaction_changes_nothing_and_select_valid_drops_it() {
    let mut net = Net::new(Some(PayLater::new()));
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    let before = net.ledger.state_root();
    let escrow_before = net.ledger.module_escrow(PAY_LATER);

    // Writes and debits, then fails: the block is invalid, nothing changed.
    let failing = net.tx(&bob, write_then_fail(50));
    let error = module_error(net.apply(std::slice::from_ref(&failing)));
    assert_eq!(error.module, PAY_LATER);
    assert_eq!(error.code, DELIBERATE);
    assert_eq!(net.ledger.state_root(), before);
    assert_eq!(net.ledger.module_escrow(PAY_LATER), escrow_before);
    assert_eq!(net.ledger.module_value(PAY_LATER, b"scratch"), None);

    // Too little balance: typed by the context.
    let broke = net.tx(&carol, schedule(&alice.public(), 1_000, 5));
    assert_eq!(
        module_error(net.apply(std::slice::from_ref(&broke))).code,
        ModuleError::INSUFFICIENT_BALANCE
    );
    // Taking out more than the escrow holds.
    let thief = Transaction::new_signed(&carol, CHAIN, 1, Amount(1), claim(1));
    // A body the module's check refuses, and a due height in the past.
    let garbage = Transaction::new_signed(
        &carol,
        CHAIN,
        0,
        Amount(1),
        Payload::Module {
            module: PAY_LATER,
            body: vec![9, 9],
        },
    );
    assert_eq!(
        net.ledger.check_transaction(&garbage),
        Err(TxError::Module(ModuleError::new(
            PAY_LATER, BAD_BODY, "bad body"
        )))
    );
    let late = net.tx(&alice, schedule(&bob.public(), 10, 1));
    assert_eq!(
        module_error(net.apply(std::slice::from_ref(&late))).code,
        DUE_NOT_AHEAD
    );
    assert_eq!(net.ledger.state_root(), before);

    // The block builder keeps the good ones, in sequence.
    let good = Transaction::new_signed(&alice, CHAIN, 0, Amount(1), schedule(&bob.public(), 10, 4));
    let good2 =
        Transaction::new_signed(&bob, CHAIN, 0, Amount(1), schedule(&carol.public(), 20, 4));
    let failing = Transaction::new_signed(&carol, CHAIN, 0, Amount(1), write_then_fail(5));
    let context = net.context();
    let (kept, rejected) = net.ledger.select_valid(
        &context,
        vec![good.clone(), failing, thief, good2.clone(), garbage],
    );
    assert_eq!(kept, vec![good, good2]);
    assert_eq!(rejected.len(), 3);
    assert_eq!(
        rejected.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        vec![
            TxError::Module(ModuleError::new(
                PAY_LATER,
                DELIBERATE,
                "deliberate failure after writing"
            )),
            // Carol's nonce 0 was rolled back with the failing transaction.
            TxError::FutureNonce {
                expected: 0,
                found: 1
            },
            TxError::Module(ModuleError::new(PAY_LATER, BAD_BODY, "bad body")),
        ]
    );
    net.apply(&kept).unwrap();
    assert_eq!(net.ledger.module_escrow(PAY_LATER), Amount(30));
    assert_eq!(net.ledger.module_value(PAY_LATER, b"scratch"), None);
    assert_eq!(net.ledger.account(&carol.public()).nonce, 0);
    assert_eq!(net.supply(), SUPPLY);

    // Claiming more than the escrow holds is refused by the context.
    let thief = Transaction::new_signed(&carol, CHAIN, 0, Amount(1), claim(31));
    assert_eq!(
        net.ledger.check_transaction(&thief).map_err(|e| match e {
            TxError::Module(e) => e.code,
            _ => 0,
        }),
        Err(ModuleError::INSUFFICIENT_ESCROW)
    );
}

#[test]
fn an_oversized_body_built_in_memory_is_refused() {
    let net = Net::new(Some(PayLater::new()));
    let tx = Transaction::new_signed(
        &net.alice,
        CHAIN,
        0,
        Amount(1),
        Payload::Module {
            module: PAY_LATER,
            body: vec![0; MODULE_BODY_MAX + 1],
        },
    );
    assert_eq!(
        net.ledger.check_transaction(&tx),
        Err(TxError::ModuleBodyTooLarge {
            len: MODULE_BODY_MAX + 1,
            max: MODULE_BODY_MAX
        })
    );
}

#[test]
fn end_block_runs_every_block_and_pays_at_the_deadline() {
    let mut net = Net::new(Some(PayLater::new()));
    let (alice, bob, carol) = (net.alice.clone(), net.bob.public(), net.carol.public());
    let first = net.tx(&alice, schedule(&bob, 300, 3));
    let second = net.tx(&alice, schedule(&carol, 200, 3));
    let third = net.tx(&alice, schedule(&carol, 50, 5));
    net.apply(&[first, second, third]).unwrap(); // height 1
    assert_eq!(net.ledger.module_escrow(PAY_LATER), Amount(550));
    net.apply(&[]).unwrap(); // height 2: nothing due
    assert_eq!(net.balance(&bob), 5_000);
    assert_eq!(net.ledger.module_escrow(PAY_LATER), Amount(550));
    // Height 3: due payments are made in a block without any transaction.
    let root = net.apply(&[]).unwrap();
    assert_eq!(net.balance(&bob), 5_300);
    assert_eq!(net.balance(&carol), 300);
    assert_eq!(net.ledger.module_escrow(PAY_LATER), Amount(50));
    assert_eq!(net.ledger.module_value(PAY_LATER, &due_key(3)), None);
    // The payout is provable, and so is the record's deletion.
    let key = state_key::module(PAY_LATER, &paid_key(&carol));
    let (value, proof) = net.ledger.prove(&key);
    let value = value.unwrap();
    assert_eq!(value, 200u64.to_le_bytes().to_vec());
    proof
        .verify(&root, &key, Some(&value_hash(&value)))
        .unwrap();
    let gone = state_key::module(PAY_LATER, &due_key(3));
    let (absent, absence) = net.ledger.prove(&gone);
    assert_eq!(absent, None);
    absence.verify(&root, &gone, None).unwrap();
    assert_eq!(net.supply(), SUPPLY);
    net.apply(&[]).unwrap(); // 4 (an epoch boundary)
    net.apply(&[]).unwrap(); // 5
    assert_eq!(net.balance(&carol), 350);
    // An empty escrow leaves no record: its proof is a non-membership proof.
    assert_eq!(net.ledger.module_escrow(PAY_LATER), Amount::ZERO);
    let root = net.ledger.state_root();
    let escrow_key = state_key::module_escrow(PAY_LATER);
    let (escrow, proof) = net.ledger.prove(&escrow_key);
    assert_eq!(escrow, None);
    proof.verify(&root, &escrow_key, None).unwrap();
    assert_eq!(net.supply(), SUPPLY);
}

#[test]
fn an_end_block_failure_makes_the_block_invalid() {
    let mut net = Net::new(Some(Arc::new(PayLater {
        id: PAY_LATER,
        fail_at: Some(2),
    })));
    net.apply(&[]).unwrap();
    let root = net.ledger.state_root();
    assert_eq!(
        net.apply(&[]),
        Err(BlockError::ModuleEndBlock(ModuleError::new(
            PAY_LATER,
            DELIBERATE,
            "corrupted"
        )))
    );
    assert_eq!(net.ledger.height(), 1);
    assert_eq!(net.ledger.state_root(), root);
}

#[test]
fn preview_and_apply_give_the_same_root_with_a_module() {
    let mut net = Net::new(Some(PayLater::new()));
    let (alice, bob) = (net.alice.clone(), net.bob.public());
    for height in 1..=6u64 {
        let tx = net.tx(&alice, schedule(&bob, 10 * height, height + 2));
        let context = net.context();
        let before = net.ledger.state_root();
        let (preview, _) = net
            .ledger
            .preview_block(&context, std::slice::from_ref(&tx))
            .unwrap();
        assert_eq!(net.ledger.state_root(), before, "preview changes nothing");
        // A second, independent ledger with the same module agrees.
        let mut twin = net.ledger.clone();
        let twin_root = twin
            .apply_block(&context, std::slice::from_ref(&tx))
            .unwrap();
        let root = net.apply(&[tx]).unwrap();
        assert_eq!(preview, root);
        assert_eq!(twin_root.state_root, root);
    }
}

/// One random action in the supply property.
#[derive(Clone, Debug)]
enum Action {
    Schedule {
        from: usize,
        to: usize,
        amount: u64,
        delay: u64,
    },
    Fail {
        from: usize,
        amount: u64,
    },
    Transfer {
        from: usize,
        to: usize,
        amount: u64,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0..3usize, 0..4usize, 0..3_000u64, 0..4u64).prop_map(|(from, to, amount, delay)| {
            Action::Schedule { from, to, amount, delay }
        }),
        1 => (0..3usize, 0..2_000u64).prop_map(|(from, amount)| Action::Fail { from, amount }),
        2 => (0..3usize, 0..4usize, 1..3_000u64)
            .prop_map(|(from, to, amount)| Action::Transfer { from, to, amount }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Across random blocks built by `select_valid`: every selected block
    /// applies, the escrow equals the payments still scheduled (never
    /// negative), due payments are made at their height, and the supply is
    /// conserved.
    #[test]
    fn supply_is_conserved_and_escrow_matches_scheduled_payments(
        blocks in prop::collection::vec(prop::collection::vec(action(), 0..6), 1..10),
    ) {
        let mut net = Net::new(Some(PayLater::new()));
        let keys = [net.alice.clone(), net.bob.clone(), net.carol.clone(), net.validator.clone()];
        // Outstanding payments by due height (a model of the module).
        let mut scheduled: BTreeMap<u64, u64> = BTreeMap::new();
        let mut nonces = [0u64; 3];
        for actions in blocks {
            let context = net.context();
            let candidates: Vec<Transaction> = actions
                .iter()
                .map(|action| {
                    let (from, payload) = match *action {
                        Action::Schedule { from, to, amount, delay } => (
                            from,
                            schedule(&keys[to].public(), amount, context.height + delay),
                        ),
                        Action::Fail { from, amount } => (from, write_then_fail(amount)),
                        Action::Transfer { from, to, amount } => (
                            from,
                            Payload::Transfer { to: keys[to].public(), amount: Amount(amount) },
                        ),
                    };
                    let tx = Transaction::new_signed(&keys[from], CHAIN, nonces[from], Amount(1), payload);
                    nonces[from] += 1;
                    tx
                })
                .collect();
            let (kept, _) = net.ledger.select_valid(&context, candidates);
            for tx in &kept {
                if let Payload::Module { body, .. } = &tx.payload {
                    prop_assert_eq!(body[0], OP_SCHEDULE, "failing transactions are dropped");
                    let amount = u64::from_le_bytes(body[33..41].try_into().unwrap());
                    let due = u64::from_le_bytes(body[41..49].try_into().unwrap());
                    *scheduled.entry(due).or_default() += amount;
                }
            }
            // Kept transactions of a sender are consecutive from its nonce.
            for (i, key) in keys[..3].iter().enumerate() {
                nonces[i] = net.ledger.account(&key.public()).nonce
                    + kept.iter().filter(|tx| tx.sender == key.public()).count() as u64;
            }
            let (preview, _) = net.ledger.preview_block(&context, &kept).unwrap();
            let root = net.apply(&kept).unwrap();
            prop_assert_eq!(preview, root);
            scheduled.remove(&context.height);
            let outstanding: u64 = scheduled.values().sum();
            prop_assert_eq!(net.ledger.module_escrow(PAY_LATER).0, outstanding);
            prop_assert_eq!(net.supply(), SUPPLY);
        }
    }
}
