//! Campaigns on chain, end to end through the ledger: the lifecycle, every
//! refusal (which must change nothing), the fail-safe outcomes, payouts
//! proven by state proofs, and the user's data node.

use itc_chaincode::budget::BudgetError;
use itc_chaincode::campaign::{
    self, keys, CampaignOutcome, CampaignRecord, CampaignResult, ChainCode, ChainCodeTx,
    FailReason, OpenCampaign, MODULE_ID,
};
use itc_chaincode::contribution::Contribution;
use itc_chaincode::node::{CampaignView, DataNode, NodeError};
use itc_chaincode::schema::{Field, Schema};
use itc_chaincode::secagg::{Member, PairSeed, Unmask};
use itc_core::encoding::Encode;
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::ledger::{state_key, value_hash, BlockContext, Ledger, TxError};
use itc_core::storage::MemoryStorage;
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use rand_core::OsRng;
use std::sync::Arc;

const CHAIN: ChainId = ChainId(77);
const LAMP: &[u8] = include_bytes!("../contracts/lamp_analytics.wasm");
const FORBIDDEN: &[u8] = include_bytes!("../contracts/forbidden_import.wasm");
const PRICE: u64 = 30;
const START_BALANCE: u64 = 1_000;
const COMPANY_BALANCE: u64 = 1_000_000;
const BUDGET: u32 = 20_000;

fn schema() -> Schema {
    Schema {
        fields: vec![
            Field::Sum { max: 1 },
            Field::Sum { max: 1 },
            Field::Sum { max: 240 },
            Field::Hll {
                precision: 4,
                max_rank: 3,
                items_max: 4,
            },
        ],
        outputs: 4,
    }
}

/// Records of a household: `nights` after-midnight switch-ons, and an
/// evening of two hours each day for `days` days, on lamp model `model`.
fn records(nights: u64, days: u64, model: u32) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    for d in 0..days {
        events.push((d * 86_400 + 19 * 3600, model, 1u8));
        events.push((d * 86_400 + 21 * 3600, model, 0u8));
    }
    for d in 0..nights {
        events.push((d * 86_400 + 3600, model, 1));
        events.push((d * 86_400 + 3600 + 600, model, 0));
    }
    events.sort();
    events
        .into_iter()
        .map(|(t, m, e)| {
            let mut r = t.to_le_bytes().to_vec();
            r.extend_from_slice(&m.to_le_bytes());
            r.push(e);
            r.extend_from_slice(&[0; 3]);
            r
        })
        .collect()
}

struct User {
    keys: Keypair,
    node: DataNode<MemoryStorage>,
}

struct World {
    ledger: Ledger,
    company: Keypair,
    proposer: PublicKey,
    users: Vec<User>,
}

fn keypair(tag: u8, i: usize) -> Keypair {
    let mut seed = [tag; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Keypair::from_seed(seed)
}

impl World {
    fn new(users: usize) -> World {
        let company = keypair(1, 0);
        let proposer = keypair(2, 0).public();
        let users: Vec<User> = (0..users)
            .map(|i| {
                let keys = keypair(3, i);
                let mut node =
                    DataNode::open(MemoryStorage::new(), keys.public(), BUDGET, &mut OsRng)
                        .expect("node opens");
                node.add_records(&records(i as u64 % 3, 10, 1000 + i as u32 % 4))
                    .expect("records stored");
                User { keys, node }
            })
            .collect();
        let mut genesis = Genesis {
            chain_id: CHAIN.0,
            ..Genesis::default()
        };
        genesis.accounts.push(GenesisAccount {
            public_key: company.public(),
            balance: COMPANY_BALANCE,
        });
        for u in &users {
            genesis.accounts.push(GenesisAccount {
                public_key: u.keys.public(),
                balance: START_BALANCE,
            });
        }
        genesis.validators.push(GenesisValidator {
            public_key: proposer,
            weight: 1,
        });
        let (ledger, _) = Ledger::from_genesis(&genesis).expect("genesis");
        let ledger = ledger
            .with_module(Arc::new(ChainCode::new()))
            .expect("module registers");
        World {
            ledger,
            company,
            proposer,
            users,
        }
    }

    fn tx(&self, sender: &Keypair, body: &ChainCodeTx) -> Transaction {
        let nonce = self.ledger.account(&sender.public()).nonce;
        Transaction::new_signed(
            sender,
            CHAIN,
            nonce,
            Amount(1),
            Payload::Module {
                module: MODULE_ID,
                body: body.encode(),
            },
        )
    }

    /// Apply a block; return the refused transactions' errors.
    fn block(&mut self, txs: Vec<Transaction>) -> Vec<TxError> {
        let context = BlockContext {
            height: self.ledger.height() + 1,
            proposer: self.proposer,
            time_ms: 0,
        };
        let (valid, rejected) = self.ledger.select_valid(&context, txs);
        let _ = self
            .ledger
            .apply_block(&context, &valid)
            .expect("selected transactions apply");
        rejected.into_iter().map(|(_, e)| e).collect()
    }

    /// One transaction alone in a block: its error, or `None`.
    fn one(&mut self, sender: &Keypair, body: &ChainCodeTx) -> Option<TxError> {
        let tx = self.tx(sender, body);
        self.block(vec![tx]).pop()
    }

    /// A refused transaction leaves the state root unchanged (but for the
    /// block itself advancing the height, which changes nothing in state
    /// here: no fees are credited for an empty block).
    fn refused(&mut self, sender: &Keypair, body: &ChainCodeTx) -> TxError {
        let before = self.ledger.state_root();
        let error = self.one(sender, body).expect("refused");
        assert_eq!(
            self.ledger.state_root(),
            before,
            "a refusal changed state: {error}"
        );
        error
    }

    fn advance_to(&mut self, height: u64) {
        while self.ledger.height() < height {
            self.block(Vec::new());
        }
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.ledger
            .get_raw(&state_key::module(MODULE_ID, key))
            .map(<[u8]>::to_vec)
    }

    fn campaign(&self, id: &Hash) -> CampaignRecord {
        campaign::decode_campaign(&self.get(&keys::campaign(id)).expect("exists")).expect("decodes")
    }

    fn members(&self, id: &Hash) -> Vec<Member> {
        self.get(&keys::members(id))
            .map(|b| campaign::decode_members(&b).expect("decodes"))
            .unwrap_or_default()
    }

    fn result(&self, id: &Hash) -> Option<CampaignResult> {
        self.get(&keys::result(id))
            .map(|b| campaign::decode_result(&b).expect("decodes"))
    }

    fn balance(&self, who: &PublicKey) -> u64 {
        self.ledger.account(who).balance.0
    }

    fn deploy(&mut self) -> Hash {
        let company = self.company.clone();
        assert_eq!(
            self.one(
                &company,
                &ChainCodeTx::Deploy {
                    code: LAMP.to_vec()
                }
            ),
            None
        );
        itc_chaincode::contract::code_hash(LAMP)
    }

    fn open_request(&self, contract: Hash, min: u32, max: u32, label: u64) -> OpenCampaign {
        self.open_request_spanning(contract, min, max, label, 4)
    }

    fn open_request_spanning(
        &self,
        contract: Hash,
        min: u32,
        max: u32,
        label: u64,
        span: u64,
    ) -> OpenCampaign {
        let h = self.ledger.height();
        OpenCampaign {
            contract,
            schema: schema(),
            epsilon_milli: vec![2_500; 4],
            min_cohort: min,
            max_cohort: max,
            price: Amount(PRICE),
            join_deadline: h + span,
            contribute_deadline: h + 2 * span,
            unmask_deadline: h + 3 * span,
            label,
        }
    }

    fn open(&mut self, contract: Hash, min: u32, max: u32, label: u64) -> Hash {
        let open = self.open_request(contract, min, max, label);
        let id = open.id(&self.company.public());
        let company = self.company.clone();
        assert_eq!(self.one(&company, &ChainCodeTx::Open(open)), None);
        id
    }

    fn join(&mut self, id: Hash, who: &[usize]) {
        let txs = who
            .iter()
            .map(|&i| self.tx(&self.users[i].keys, &self.users[i].node.join(id)))
            .collect();
        assert!(self.block(txs).is_empty());
    }

    /// The members in `who` contribute; returns their clear cells.
    fn contribute(&mut self, id: Hash, who: &[usize]) -> Vec<Vec<u64>> {
        let record = self.campaign(&id);
        self.advance_to(record.open.join_deadline);
        let members = self.members(&id);
        let height = self.ledger.height();
        let mut clear = Vec::new();
        let mut txs = Vec::new();
        for &i in who {
            let view = CampaignView {
                id,
                record: &record,
                members: &members,
                code: LAMP,
                height,
            };
            let report = self.users[i]
                .node
                .contribute(&mut OsRng, &view)
                .expect("contributes");
            clear.push(report.clear_cells.clone());
            txs.push(self.tx(&self.users[i].keys, &report.tx));
        }
        assert!(self.block(txs).is_empty());
        clear
    }

    /// The members in `who` unmask; `contributed` are the members that
    /// contributed.
    fn unmask(&mut self, id: Hash, who: &[usize], contributed: &[usize]) {
        let record = self.campaign(&id);
        self.advance_to(record.open.contribute_deadline);
        let members = self.members(&id);
        let contributed: Vec<PublicKey> = contributed
            .iter()
            .map(|&i| self.users[i].keys.public())
            .collect();
        let txs = who
            .iter()
            .map(|&i| {
                let body = self.users[i]
                    .node
                    .unmask(id, &members, &contributed)
                    .expect("member");
                self.tx(&self.users[i].keys, &body)
            })
            .collect();
        let refused = self.block(txs);
        assert!(refused.is_empty(), "{refused:?}");
    }

    fn close(&mut self, id: Hash) -> CampaignResult {
        let record = self.campaign(&id);
        self.advance_to(record.open.unmask_deadline + 1);
        self.result(&id).expect("closed")
    }
}

fn module_code(error: &TxError) -> u16 {
    match error {
        TxError::Module(e) => {
            assert_eq!(e.module, MODULE_ID);
            e.code
        }
        other => panic!("expected a module error, got {other}"),
    }
}

#[test]
fn a_campaign_releases_the_noisy_sum_pays_contributors_and_refunds_the_rest() {
    let mut w = World::new(6);
    let contract = w.deploy();
    let id = w.open(contract, 3, 8, 1);
    let company_after_open = w.balance(&w.company.public());
    assert_eq!(w.ledger.module_escrow(MODULE_ID), Amount(PRICE * 8));
    w.join(id, &[0, 1, 2, 3, 4, 5]);
    // Users 4 and 5 drop out.
    let clear = w.contribute(id, &[0, 1, 2, 3]);
    w.unmask(id, &[0, 1, 2, 3], &[0, 1, 2, 3]);
    let result = w.close(id);
    assert_eq!(result.outcome, CampaignOutcome::Released);
    assert_eq!(result.contributors, 4);
    assert_eq!(result.finalize_error, None);
    assert_eq!(result.outputs.len(), 4);
    // The released aggregate is the clear sum plus centered noise, within
    // the noise's support.
    let record = w.campaign(&id);
    for (cell, &released) in result.aggregate.iter().enumerate() {
        let exact: u64 = clear.iter().map(|c| c[cell]).sum();
        let half_support = (4 * u64::from(record.coins[cell])).div_ceil(2) as i64;
        let error = released - exact as i64;
        assert!(
            error.abs() <= half_support,
            "cell {cell}: released {released}, exact {exact}"
        );
    }
    // Payouts and refund.
    for i in 0..4 {
        // fees: join, contribute, unmask.
        assert_eq!(
            w.balance(&w.users[i].keys.public()),
            START_BALANCE - 3 + PRICE
        );
    }
    for i in 4..6 {
        assert_eq!(w.balance(&w.users[i].keys.public()), START_BALANCE - 1);
    }
    assert_eq!(result.paid_each, Amount(PRICE));
    assert_eq!(result.refunded, Amount(PRICE * 4));
    assert_eq!(
        w.balance(&w.company.public()),
        company_after_open + PRICE * 4
    );
    assert_eq!(w.ledger.module_escrow(MODULE_ID), Amount::ZERO);
    assert_eq!(w.campaign(&id).outcome, CampaignOutcome::Released);
    // Nothing per-member is left in state but the receipts.
    for i in 0..6 {
        let who = w.users[i].keys.public();
        assert!(w.get(&keys::contribution(&id, &who)).is_none());
        assert!(w.get(&keys::unmask(&id, &who)).is_none());
    }
    assert!(w.get(&keys::members(&id)).is_none());

    // A user proves the payment, and the company the result, with state
    // proofs against the state root (what itc-spv checks under a header).
    let root = w.ledger.state_root();
    let paid_key = state_key::module(MODULE_ID, &keys::paid(&id, &w.users[0].keys.public()));
    let (value, proof) = w.ledger.prove(&paid_key);
    let value = value.expect("receipt stored");
    assert_eq!(value, PRICE.encode());
    proof
        .verify(&root, &paid_key, Some(&value_hash(&value)))
        .expect("payment proven");
    let unpaid_key = state_key::module(MODULE_ID, &keys::paid(&id, &w.users[5].keys.public()));
    let (none, proof) = w.ledger.prove(&unpaid_key);
    assert!(none.is_none());
    proof
        .verify(&root, &unpaid_key, None)
        .expect("absence proven");
    let result_key = state_key::module(MODULE_ID, &keys::result(&id));
    let (value, proof) = w.ledger.prove(&result_key);
    let value = value.expect("result stored");
    proof
        .verify(&root, &result_key, Some(&value_hash(&value)))
        .expect("result proven");
    assert_eq!(campaign::decode_result(&value).expect("decodes"), result);
}

#[test]
fn below_the_minimum_nothing_is_released_and_the_company_is_refunded() {
    let mut w = World::new(4);
    let contract = w.deploy();
    let company_before = w.balance(&w.company.public());
    let id = w.open(contract, 3, 5, 1);
    w.join(id, &[0, 1, 2]);
    w.contribute(id, &[0, 1]);
    w.unmask(id, &[0, 1], &[0, 1]);
    let result = w.close(id);
    assert_eq!(result.outcome, CampaignOutcome::BelowMinimum);
    assert!(result.aggregate.is_empty() && result.outputs.is_empty());
    assert_eq!(result.paid_each, Amount::ZERO);
    assert_eq!(result.refunded, Amount(PRICE * 5));
    // Only the open transaction's fee is gone.
    assert_eq!(w.balance(&w.company.public()), company_before - 1);
    assert_eq!(w.ledger.module_escrow(MODULE_ID), Amount::ZERO);
}

#[test]
fn a_missing_unmask_or_a_wrong_seed_fails_safe() {
    // A contributor that does not unmask while someone dropped.
    let mut w = World::new(5);
    let contract = w.deploy();
    let id = w.open(contract, 3, 5, 1);
    w.join(id, &[0, 1, 2, 3, 4]);
    w.contribute(id, &[0, 1, 2, 3]);
    w.unmask(id, &[0, 1, 2], &[0, 1, 2, 3]);
    let result = w.close(id);
    assert_eq!(
        result.outcome,
        CampaignOutcome::Failed(FailReason::MissingUnmask)
    );
    assert!(result.aggregate.is_empty() && result.outputs.is_empty());
    assert_eq!(result.refunded, Amount(PRICE * 5));
    assert_eq!(w.balance(&w.users[0].keys.public()), START_BALANCE - 3);

    // A contributor that reveals a wrong seed: the sum does not open the
    // commitments, nothing is released.
    let id = w.open(contract, 3, 5, 2);
    w.join(id, &[0, 1, 2, 3, 4]);
    w.contribute(id, &[0, 1, 2, 3]);
    let record = w.campaign(&id);
    w.advance_to(record.open.contribute_deadline);
    let members = w.members(&id);
    let contributed: Vec<PublicKey> = (0..4).map(|i| w.users[i].keys.public()).collect();
    let mut txs = Vec::new();
    for i in 0..4 {
        let mut body = w.users[i]
            .node
            .unmask(id, &members, &contributed)
            .expect("member");
        if i == 0 {
            if let ChainCodeTx::Unmask { unmask, .. } = &mut body {
                unmask.seeds[0].1 = PairSeed([9; 32]);
            }
        }
        txs.push(w.tx(&w.users[i].keys, &body));
    }
    assert!(w.block(txs).is_empty());
    let result = w.close(id);
    assert_eq!(
        result.outcome,
        CampaignOutcome::Failed(FailReason::SumMismatch)
    );
    assert!(result.aggregate.is_empty() && result.outputs.is_empty());
    assert_eq!(w.ledger.module_escrow(MODULE_ID), Amount::ZERO);
}

#[test]
fn every_bad_transaction_is_refused_with_its_reason_and_changes_nothing() {
    let mut w = World::new(5);
    let company = w.company.clone();
    // Deploy: a forbidden import, then a duplicate.
    let e = w.refused(
        &company,
        &ChainCodeTx::Deploy {
            code: FORBIDDEN.to_vec(),
        },
    );
    assert_eq!(module_code(&e), 2);
    let contract = w.deploy();
    let e = w.refused(
        &company,
        &ChainCodeTx::Deploy {
            code: LAMP.to_vec(),
        },
    );
    assert_eq!(module_code(&e), 3);
    // Open with bad parameters.
    let good = w.open_request_spanning(contract, 3, 4, 1, 40);
    let bad = |f: &dyn Fn(&mut OpenCampaign)| {
        let mut o = good.clone();
        f(&mut o);
        ChainCodeTx::Open(o)
    };
    let cases: Vec<(ChainCodeTx, u16)> = vec![
        (bad(&|o| o.contract = Hash([7; 32])), 4),
        (
            bad(&|o| {
                o.epsilon_milli.pop();
            }),
            6,
        ),
        (bad(&|o| o.epsilon_milli[0] = 0), 6),
        (bad(&|o| o.epsilon_milli = vec![3_000; 4]), 7),
        (bad(&|o| o.min_cohort = 1), 9),
        (bad(&|o| o.min_cohort = 5), 9),
        (bad(&|o| o.max_cohort = 5_000), 9),
        (bad(&|o| o.contribute_deadline = o.join_deadline), 10),
        (bad(&|o| o.join_deadline = 0), 10),
        (bad(&|o| o.price = Amount(u64::MAX / 2)), 12),
        (bad(&|o| o.price = Amount(COMPANY_BALANCE)), 25),
        (bad(&|o| o.epsilon_milli = vec![1; 4]), 8),
    ];
    for (tx, code) in cases {
        let e = w.refused(&company, &tx);
        assert_eq!(module_code(&e), code, "{e}");
    }
    let id = good.id(&company.public());
    assert_eq!(w.one(&company, &ChainCodeTx::Open(good.clone())), None);
    let e = w.refused(&company, &ChainCodeTx::Open(good.clone()));
    assert_eq!(module_code(&e), 13);
    // Join: twice; unknown campaign; a full cohort.
    w.join(id, &[0, 1, 2, 3]);
    let u0 = w.users[0].keys.clone();
    let body = w.users[0].node.join(id);
    let e = w.refused(&u0, &body);
    assert_eq!(module_code(&e), 17);
    let body = w.users[0].node.join(Hash([5; 32]));
    let e = w.refused(&u0, &body);
    assert_eq!(module_code(&e), 14);
    let u4 = w.users[4].keys.clone();
    let body = w.users[4].node.join(id);
    let e = w.refused(&u4, &body);
    assert_eq!(module_code(&e), 16);
    // A contribution before the contribution phase.
    let record = w.campaign(&id);
    let members = w.members(&id);
    let view = CampaignView {
        id,
        record: &record,
        members: &members,
        code: LAMP,
        height: w.ledger.height(),
    };
    let report = w.users[1]
        .node
        .contribute(&mut OsRng, &view)
        .expect("builds");
    let report2 = w.users[2]
        .node
        .contribute(&mut OsRng, &view)
        .expect("builds");
    let u1 = w.users[1].keys.clone();
    let u2 = w.users[2].keys.clone();
    let e = w.refused(&u1, &report.tx);
    assert_eq!(module_code(&e), 15);
    w.advance_to(record.open.join_deadline);
    // Joining after the deadline.
    let body = w.users[0].node.join(id);
    let e = w.refused(&u0, &body);
    assert_eq!(module_code(&e), 15);
    // The early contribution is now in phase: accepted once, then refused.
    assert_eq!(w.one(&u1, &report.tx), None);
    let e = w.refused(&u1, &report.tx);
    assert_eq!(module_code(&e), 19);
    // Someone else's contribution sent by another member.
    let e = w.refused(&u2, &report.tx);
    assert_eq!(module_code(&e), 20);
    // A tampered proof.
    let ChainCodeTx::Contribute(mut c) = report2.tx.clone() else {
        panic!("a contribution")
    };
    c.commitments.swap(0, 2);
    let e = w.refused(&u2, &ChainCodeTx::Contribute(c));
    assert_eq!(module_code(&e), 21);
    // A contribution from a non-member.
    let ChainCodeTx::Contribute(mut c) = report2.tx.clone() else {
        panic!("a contribution")
    };
    c.member = company.public();
    let e = w.refused(&company, &ChainCodeTx::Contribute(c));
    assert_eq!(module_code(&e), 18);
    assert_eq!(w.one(&u2, &report2.tx), None);
    // Unmask: too early, then by a non-contributor, then with the wrong
    // set of seeds, then twice.
    let contributed = [w.users[1].keys.public(), w.users[2].keys.public()];
    let unmask = w.users[1]
        .node
        .unmask(id, &members, &contributed)
        .expect("member");
    let e = w.refused(&u1, &unmask);
    assert_eq!(module_code(&e), 15);
    w.advance_to(record.open.contribute_deadline);
    let ChainCodeTx::Unmask {
        campaign,
        unmask: u,
    } = unmask.clone()
    else {
        panic!("an unmask")
    };
    // User 3 joined but did not contribute: its node refuses to make an
    // unmask, and a hand-made one is refused on chain.
    let u3 = w.users[3].keys.clone();
    assert!(w.users[3].node.unmask(id, &members, &contributed).is_err());
    let body = ChainCodeTx::Unmask {
        campaign,
        unmask: Unmask {
            member: u3.public(),
            seeds: u.seeds.clone(),
        },
    };
    let e = w.refused(&u3, &body);
    assert_eq!(module_code(&e), 22);
    let short = Unmask {
        member: u.member,
        seeds: u.seeds[..1].to_vec(),
    };
    let e = w.refused(
        &u1,
        &ChainCodeTx::Unmask {
            campaign,
            unmask: short,
        },
    );
    assert_eq!(module_code(&e), 24);
    assert_eq!(w.one(&u1, &unmask), None);
    let e = w.refused(&u1, &unmask);
    assert_eq!(module_code(&e), 23);
    // Garbage bodies are refused at the module's stateless check.
    let garbage = Transaction::new_signed(
        &u1,
        CHAIN,
        w.ledger.account(&u1.public()).nonce,
        Amount(1),
        Payload::Module {
            module: MODULE_ID,
            body: vec![3, 1, 2],
        },
    );
    assert!(w.ledger.check_transaction(&garbage).is_err());
}

#[test]
fn the_data_node_keeps_its_budget_key_and_records_and_refuses_when_spent() {
    let mut w = World::new(3);
    let contract = w.deploy();
    let a = w.open(contract, 2, 3, 1);
    let b = w.open(contract, 2, 3, 2);
    w.join(a, &[0, 1]);
    w.join(b, &[0, 1]);
    let key_before = w.users[0].node.mask_key();
    let records_before = w.users[0].node.records().expect("records");
    w.contribute(a, &[0]);
    // 10.0 of 20.0 spent: a second campaign of 10.0 fits, a third does not.
    assert_eq!(w.users[0].node.budget().remaining_milli(), BUDGET - 10_000);
    assert_eq!(w.users[0].node.budget().history().len(), 1);
    // The same campaign again is refused before anything runs.
    let record = w.campaign(&a);
    let members = w.members(&a);
    let view = CampaignView {
        id: a,
        record: &record,
        members: &members,
        code: LAMP,
        height: w.ledger.height(),
    };
    assert!(matches!(
        w.users[0].node.contribute(&mut OsRng, &view),
        Err(NodeError::Budget(BudgetError::AlreadyCharged { .. }))
    ));
    // The wrong code is refused.
    let wrong = CampaignView {
        code: FORBIDDEN,
        ..view
    };
    assert!(w.users[1].node.contribute(&mut OsRng, &wrong).is_err());
    w.contribute(b, &[0]);
    assert_eq!(w.users[0].node.budget().remaining_milli(), 0);
    // Reopen the node from its store: same key, same records, same budget.
    let user = w.users.remove(0);
    let storage = user.node.into_storage();
    let node = DataNode::open(storage, user.keys.public(), BUDGET, &mut OsRng).expect("reopens");
    assert_eq!(node.mask_key(), key_before);
    assert_eq!(node.records().expect("records"), records_before);
    assert_eq!(node.budget().remaining_milli(), 0);
    assert_eq!(node.budget().history().len(), 2);
    // A third campaign is refused by the spent budget.
    let mut node = node;
    let c = w.open(contract, 2, 3, 3);
    let tx = w.tx(&user.keys, &node.join(c));
    assert!(w.block(vec![tx]).is_empty());
    let record = w.campaign(&c);
    w.advance_to(record.open.join_deadline);
    let members = w.members(&c);
    let view = CampaignView {
        id: c,
        record: &record,
        members: &members,
        code: LAMP,
        height: w.ledger.height(),
    };
    assert!(matches!(
        node.contribute(&mut OsRng, &view),
        Err(NodeError::Budget(BudgetError::Exhausted { .. }))
    ));
    // A node that did not join is refused.
    assert!(matches!(
        w.users[1].node.contribute(&mut OsRng, &view),
        Err(NodeError::NotMember)
    ));
}

#[test]
fn chaincode_transactions_round_trip_and_random_bytes_never_panic() {
    use itc_core::encoding::Decode;
    let open = OpenCampaign {
        contract: Hash([1; 32]),
        schema: schema(),
        epsilon_milli: vec![1_000; 4],
        min_cohort: 2,
        max_cohort: 9,
        price: Amount(3),
        join_deadline: 5,
        contribute_deadline: 6,
        unmask_deadline: 7,
        label: 42,
    };
    let txs = vec![
        ChainCodeTx::Deploy {
            code: vec![0, 97, 115, 109],
        },
        ChainCodeTx::Open(open),
        ChainCodeTx::Join {
            campaign: Hash([2; 32]),
            mask_key: itc_chaincode::secagg::MaskPublic([3; 32]),
        },
        ChainCodeTx::Unmask {
            campaign: Hash([2; 32]),
            unmask: Unmask {
                member: keypair(9, 0).public(),
                seeds: vec![(keypair(9, 1).public(), PairSeed([4; 32]))],
            },
        },
    ];
    for tx in txs {
        let bytes = tx.encode();
        assert_eq!(ChainCodeTx::decode(&bytes).expect("decodes"), tx);
        for cut in 0..bytes.len() {
            assert!(ChainCodeTx::decode(&bytes[..cut]).is_err());
        }
    }
    let mut state = 0x1234_5678u64;
    for len in 0..600 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (state >> 56) as u8
            })
            .collect();
        let _ = ChainCodeTx::decode(&bytes);
        let _ = Contribution::decode(&bytes);
        let _ = campaign::decode_result(&bytes);
        let _ = campaign::decode_campaign(&bytes);
    }
}

#[test]
fn a_counter_above_its_bound_is_refused_by_the_proof() {
    let mut w = World::new(3);
    let contract = w.deploy();
    let id = w.open(contract, 2, 3, 1);
    w.join(id, &[0, 1, 2]);
    let record = w.campaign(&id);
    w.advance_to(record.open.join_deadline);
    let members = w.members(&id);
    let me = members
        .iter()
        .position(|m| m.account == w.users[0].keys.public())
        .expect("joined");
    let bounds = record.bounds();
    // The after-midnight counter: at most 1 plus the noise coins, proven
    // exactly even though its width leaves room above the bound.
    assert!(bounds[0].exact);
    let claimed = bounds[0].bound + 1;
    assert!(claimed < 1 << bounds[0].width().expect("width"));
    let mut values = vec![0u64; bounds.len()];
    values[0] = claimed;
    // An honest node cannot even build it...
    assert!(Contribution::build(
        &mut OsRng,
        &id,
        me,
        &members,
        w.users[0].node.mask_secret(),
        &values,
        &bounds
    )
    .is_err());
    // ...and one proven against a widened bound of the same width is
    // refused by the validators.
    let mut widened = bounds.clone();
    widened[0].bound = claimed;
    let forged = Contribution::build(
        &mut OsRng,
        &id,
        me,
        &members,
        w.users[0].node.mask_secret(),
        &values,
        &widened,
    )
    .expect("builds against its own bounds");
    let u0 = w.users[0].keys.clone();
    let e = w.refused(&u0, &ChainCodeTx::Contribute(forged));
    assert_eq!(module_code(&e), 21);
}

#[test]
fn a_low_order_mask_key_is_refused_at_join() {
    let mut w = World::new(2);
    let contract = w.deploy();
    let id = w.open(contract, 2, 3, 1);
    let u0 = w.users[0].keys.clone();
    // The identity and a point of order 8 (both give an all-zero shared
    // secret): one such member would make every other member's masking
    // fail and stall the campaign.
    let mut order8 = [0u8; 32];
    order8[0] = 1;
    for key in [[0u8; 32], order8] {
        let body = ChainCodeTx::Join {
            campaign: id,
            mask_key: itc_chaincode::secagg::MaskPublic(key),
        };
        let e = w.refused(&u0, &body);
        assert_eq!(module_code(&e), 27);
    }
    w.join(id, &[0, 1]);
}
