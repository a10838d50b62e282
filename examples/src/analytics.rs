//! The ChainCode reference use case: a lighting company asks 1,000
//! households three questions about a month of lamp use, sees only noisy
//! aggregates, and pays every household that contributed.
//!
//! Every household is a [`DataNode`] with its own store; its records never
//! leave it. The chain is the ledger with the ChainCode module, driven block
//! by block the way a validator executes blocks (`select_valid` then
//! `apply_block`); the PBFT network around it is exercised elsewhere
//! (`lighting`, `itc-pbft`).
//!
//! Then the attacks: a contract that tries to exfiltrate, one that loops, one
//! that imports a forbidden host call, a contributor with an out-of-range
//! value, dropouts, a cohort below the minimum and a user whose budget is
//! spent. [`run`] returns a [`Report`] whose steps say, each, what was
//! expected and what happened.

use itc_chaincode::campaign::{
    self, keys, CampaignOutcome, CampaignRecord, CampaignResult, ChainCode, ChainCodeTx,
    OpenCampaign, MODULE_ID,
};
use itc_chaincode::contract::{Contract, Limits, RunStatus};
use itc_chaincode::contribution::Contribution;
use itc_chaincode::node::{CampaignView, DataNode, NodeError};
use itc_chaincode::proof::CellBound;
use itc_chaincode::schema::{Field, Schema};
use itc_chaincode::secagg::Member;
use itc_chaincode::{noise, sketch};
use itc_core::encoding::Encode;
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::ledger::{state_key, value_hash, BlockContext, Ledger, TxError};
use itc_core::storage::MemoryStorage;
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_core::OsRng;
use std::sync::Arc;
use std::time::Instant;

/// The chain id of the analytics demo.
pub const CHAIN: ChainId = ChainId(0xA11);
/// The reference contract (WAT source in `itc-chaincode/contracts`).
pub const LAMP_ANALYTICS_WASM: &[u8] =
    include_bytes!("../../itc-chaincode/contracts/lamp_analytics.wasm");
/// A contract that writes a raw timestamp into a cell.
pub const EXFILTRATE_WASM: &[u8] = include_bytes!("../../itc-chaincode/contracts/exfiltrate.wasm");
/// A contract that never stops.
pub const LOOP_WASM: &[u8] = include_bytes!("../../itc-chaincode/contracts/loop.wasm");
/// A contract that imports a host call that does not exist.
pub const FORBIDDEN_IMPORT_WASM: &[u8] =
    include_bytes!("../../itc-chaincode/contracts/forbidden_import.wasm");
/// Lamp models on the market in the simulation.
pub const MODELS: u32 = 10;
/// Days of records per household.
pub const DAYS: u64 = 30;
/// Each household's privacy budget, in thousandths of ε.
pub const BUDGET_MILLI: u32 = 10_000;
/// ε per field of the main campaign, in thousandths.
pub const EPSILON_PER_FIELD_MILLI: u32 = 1_000;
/// Paid to each contributor.
pub const PRICE: u64 = 50;
/// Fee per transaction.
pub const FEE: u64 = 1;

/// How big a run is.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Households that contribute to the main campaign.
    pub households: usize,
    /// Members that join the main campaign and then drop out.
    pub dropouts: usize,
    /// Threads that compute contributions (each household's node is
    /// independent).
    pub threads: usize,
    /// Seed of the simulated lamp data (never of noise, masks or proofs:
    /// those come from the OS).
    pub seed: u64,
}

impl Config {
    /// The reference run: 1,000 households.
    pub fn reference() -> Self {
        Config {
            households: 1000,
            dropouts: 12,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            seed: 2026,
        }
    }
}

/// One step of the scenario.
#[derive(Clone, Debug)]
pub struct Step {
    /// What happened.
    pub name: String,
    /// The expected outcome.
    pub expected: String,
    /// The actual outcome.
    pub outcome: String,
    /// Whether it was the expected one.
    pub ok: bool,
}

/// One answer of the company's question set.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The question.
    pub question: String,
    /// What the campaign released.
    pub released: f64,
    /// The exact value (computed here from the households' clear cells,
    /// which no one else ever sees).
    pub exact: f64,
    /// The expected absolute error from the noise (or the sketch).
    pub expected_error: f64,
}

/// The whole run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Steps in order.
    pub steps: Vec<Step>,
    /// The answers.
    pub answers: Vec<Answer>,
    /// Lines that describe what each party saw.
    pub notes: Vec<String>,
    /// Milliseconds to compute one contribution (mean over households).
    pub contribute_ms: f64,
    /// Milliseconds for a validator to check one contribution (mean).
    pub verify_ms: f64,
    /// Bytes of one contribution transaction body.
    pub contribution_bytes: usize,
    /// Milliseconds of the block that closed the main campaign.
    pub close_ms: f64,
    /// Relative error of the after-midnight count.
    pub count_relative_error: f64,
    /// Its theoretical value (expected |noise| / exact).
    pub count_relative_error_theory: f64,
    /// Relative error of the distinct-models estimate.
    pub hll_relative_error: f64,
    /// HyperLogLog's own relative error at this register count (1.04/√m).
    pub hll_relative_error_theory: f64,
}

impl Report {
    /// Whether every step had its expected outcome.
    pub fn ok(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.ok)
    }

    fn step(&mut self, name: &str, expected: &str, outcome: String, ok: bool) {
        self.steps.push(Step {
            name: name.to_string(),
            expected: expected.to_string(),
            outcome,
            ok,
        });
    }
}

/// The main campaign's schema (what `lamp_analytics.wat` fills).
pub fn lamp_schema() -> Schema {
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

/// One household's month of lamp events, as 16-byte records (`time_s`
/// u64, `lamp_model` u32, `event` u8, 3 bytes padding, little-endian),
/// sorted by time; and its lamp models.
pub fn household_records(seed: u64, index: usize) -> (Vec<Vec<u8>>, Vec<u32>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ ((index as u64) << 20) ^ 0x5eed);
    let lamps = 1 + (rng.next_u32() % 4) as usize;
    let mut models: Vec<u32> = Vec::new();
    while models.len() < lamps {
        let model = 1000 + rng.next_u32() % MODELS;
        if !models.contains(&model) {
            models.push(model);
        }
    }
    let night_owl = rng.next_u32() % 4 == 0;
    let mut events: Vec<(u64, u32, u8)> = Vec::new();
    for day in 0..DAYS {
        let base = day * 86_400;
        for &model in &models {
            if rng.next_u32() % 10 < 8 {
                // Evening: on between 18:00 and 21:00, for 0.5 to 2.9 hours.
                let on = base + 18 * 3600 + u64::from(rng.next_u32() % (3 * 3600));
                let off = on + 1800 + u64::from(rng.next_u32() % (144 * 60));
                events.push((on, model, 1));
                events.push((off, model, 0));
            }
        }
        if night_owl && rng.next_u32() % 10 == 0 {
            let model = models[0];
            let on = base + u64::from(rng.next_u32() % (4 * 3600));
            events.push((on, model, 1));
            events.push((on + 1800, model, 0));
        }
    }
    events.sort();
    let records = events
        .into_iter()
        .map(|(t, model, event)| {
            let mut r = Vec::with_capacity(16);
            r.extend_from_slice(&t.to_le_bytes());
            r.extend_from_slice(&model.to_le_bytes());
            r.push(event);
            r.extend_from_slice(&[0, 0, 0]);
            r
        })
        .collect();
    (records, models)
}

struct Chain {
    ledger: Ledger,
    proposer: PublicKey,
}

impl Chain {
    fn new(accounts: &[PublicKey], company: PublicKey, proposer: PublicKey) -> Chain {
        let mut genesis = Genesis {
            chain_id: CHAIN.0,
            min_fee: FEE,
            ..Genesis::default()
        };
        genesis.accounts.push(GenesisAccount {
            public_key: company,
            balance: 10_000_000,
        });
        for account in accounts {
            genesis.accounts.push(GenesisAccount {
                public_key: *account,
                balance: 1_000,
            });
        }
        genesis.validators.push(GenesisValidator {
            public_key: proposer,
            weight: 1,
        });
        let (ledger, _) = Ledger::from_genesis(&genesis).expect("demo genesis is valid");
        let ledger = ledger
            .with_module(Arc::new(ChainCode::new()))
            .expect("one module");
        Chain { ledger, proposer }
    }

    fn height(&self) -> u64 {
        self.ledger.height()
    }

    fn tx(&self, sender: &Keypair, body: &ChainCodeTx) -> Transaction {
        let nonce = self.ledger.account(&sender.public()).nonce;
        Transaction::new_signed(
            sender,
            CHAIN,
            nonce,
            Amount(FEE),
            Payload::Module {
                module: MODULE_ID,
                body: body.encode(),
            },
        )
    }

    /// Execute one block of the given transactions as a validator would:
    /// the valid ones are applied, the others are returned with their
    /// errors.
    fn block(&mut self, txs: Vec<Transaction>) -> Vec<(Transaction, TxError)> {
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
        rejected
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
        campaign::decode_campaign(&self.get(&keys::campaign(id)).expect("campaign exists"))
            .expect("campaign decodes")
    }

    fn members(&self, id: &Hash) -> Vec<Member> {
        self.get(&keys::members(id))
            .map(|b| campaign::decode_members(&b).expect("members decode"))
            .unwrap_or_default()
    }

    fn balance(&self, account: &PublicKey) -> u64 {
        self.ledger.account(account).balance.0
    }
}

struct Household {
    keys: Keypair,
    node: DataNode<MemoryStorage>,
    models: Vec<u32>,
}

fn keypair(tag: u8, index: usize) -> Keypair {
    let mut seed = [tag; 32];
    seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
    Keypair::from_seed(seed)
}

fn household(seed: u64, index: usize) -> Household {
    let keys = keypair(0x48, index);
    let (records, models) = household_records(seed, index);
    let mut node = DataNode::open(
        MemoryStorage::new(),
        keys.public(),
        BUDGET_MILLI,
        &mut OsRng,
    )
    .expect("a fresh node opens");
    node.add_records(&records).expect("records fit");
    Household { keys, node, models }
}

fn open_campaign(
    chain: &mut Chain,
    company: &Keypair,
    contract: Hash,
    min_cohort: u32,
    max_cohort: u32,
    label: u64,
) -> Result<Hash, TxError> {
    let h = chain.height();
    let open = OpenCampaign {
        contract,
        schema: lamp_schema(),
        epsilon_milli: vec![EPSILON_PER_FIELD_MILLI; 4],
        min_cohort,
        max_cohort,
        price: Amount(PRICE),
        join_deadline: h + 2,
        contribute_deadline: h + 4,
        unmask_deadline: h + 6,
        label,
    };
    let id = open.id(&company.public());
    let tx = chain.tx(company, &ChainCodeTx::Open(open));
    match chain.block(vec![tx]).pop() {
        Some((_, error)) => Err(error),
        None => Ok(id),
    }
}

fn deploy(chain: &mut Chain, company: &Keypair, code: &[u8]) -> Result<Hash, TxError> {
    let tx = chain.tx(
        company,
        &ChainCodeTx::Deploy {
            code: code.to_vec(),
        },
    );
    match chain.block(vec![tx]).pop() {
        Some((_, error)) => Err(error),
        None => Contract::load(code)
            .map(|c| c.hash())
            .map_err(|_| TxError::CorruptedState),
    }
}

/// Run the scenario.
pub fn run(config: Config) -> Report {
    let mut report = Report::default();
    let company = keypair(0xC0, 0);
    let proposer = keypair(0x56, 0);
    let total = config.households + config.dropouts + 1;
    let mut households: Vec<Household> = (0..total).map(|i| household(config.seed, i)).collect();
    let accounts: Vec<PublicKey> = households.iter().map(|h| h.keys.public()).collect();
    let mut chain = Chain::new(&accounts, company.public(), proposer.public());
    let company_start = chain.balance(&company.public());

    // Deploy: the reference contract and the hostile ones.
    let lamp = deploy(&mut chain, &company, LAMP_ANALYTICS_WASM);
    report.step(
        "deploy the lamp analytics contract",
        "accepted",
        match &lamp {
            Ok(h) => format!("accepted, hash {}", itc_core::hex::encode(&h.0[..6])),
            Err(e) => format!("refused: {e}"),
        },
        lamp.is_ok(),
    );
    let Ok(lamp) = lamp else { return report };
    let forbidden = deploy(&mut chain, &company, FORBIDDEN_IMPORT_WASM);
    report.step(
        "deploy a contract importing a forbidden host call",
        "refused at deploy with a reason",
        match &forbidden {
            Ok(_) => "accepted".to_string(),
            Err(e) => format!("refused: {e}"),
        },
        forbidden.is_err(),
    );

    // The main campaign.
    let max_cohort = total as u32;
    let min_cohort = (config.households as u32 / 2).max(2);
    let id = match open_campaign(&mut chain, &company, lamp, min_cohort, max_cohort, 1) {
        Ok(id) => id,
        Err(e) => {
            report.step(
                "open the campaign",
                "accepted",
                format!("refused: {e}"),
                false,
            );
            return report;
        }
    };
    let record = chain.campaign(&id);
    report.step(
        "open the campaign (ε 4.0 per household, escrow price × max cohort)",
        "escrow held by the module",
        format!(
            "escrow {} tokens, noise coins per member {:?}",
            record.escrow.0,
            field_coins(&record)
        ),
        record.escrow.0 == PRICE * u64::from(max_cohort),
    );
    let joins: Vec<Transaction> = households
        .iter()
        .map(|h| chain.tx(&h.keys, &h.node.join(id)))
        .collect();
    let rejected = chain.block(joins);
    report.step(
        "every household joins with its mask key",
        "all joins accepted",
        format!(
            "{} joined, {} refused",
            total - rejected.len(),
            rejected.len()
        ),
        rejected.is_empty(),
    );
    let record = chain.campaign(&id);
    chain.advance_to(record.open.join_deadline);
    let members = chain.members(&id);
    let height = chain.height();

    // Contributions, computed on each household's own node, in parallel.
    let contributors = config.households;
    let started = Instant::now();
    let code = LAMP_ANALYTICS_WASM;
    type Timed = (
        Result<itc_chaincode::node::ContributionReport, NodeError>,
        f64,
    );
    let results: Vec<Timed> = {
        let chunk = contributors.div_ceil(config.threads.max(1));
        let record_ref = &record;
        let members_ref = &members;
        std::thread::scope(|scope| {
            let handles: Vec<_> = households[..contributors]
                .chunks_mut(chunk.max(1))
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter_mut()
                            .map(|h| {
                                let view = CampaignView {
                                    id,
                                    record: record_ref,
                                    members: members_ref,
                                    code,
                                    height,
                                };
                                let started = Instant::now();
                                let result = h.node.contribute(&mut OsRng, &view);
                                (result, started.elapsed().as_secs_f64() * 1000.0)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("contribution thread"))
                .collect()
        })
    };
    let wall_s = started.elapsed().as_secs_f64();
    report.contribute_ms =
        results.iter().map(|(_, ms)| ms).sum::<f64>() / contributors.max(1) as f64;
    report.notes.push(format!(
        "{contributors} contributions computed in {wall_s:.1} s on {} threads",
        config.threads.max(1)
    ));
    let mut clear: Vec<Vec<u64>> = Vec::new();
    let mut txs = Vec::new();
    let mut failures = 0;
    let mut sampled: Vec<Contribution> = Vec::new();
    for (h, (result, _)) in households.iter().zip(results) {
        match result {
            Ok(r) => {
                clear.push(r.clear_cells.clone());
                if let ChainCodeTx::Contribute(c) = &r.tx {
                    if sampled.len() < 50 {
                        sampled.push(c.clone());
                    }
                }
                if report.contribution_bytes == 0 {
                    if let ChainCodeTx::Contribute(c) = &r.tx {
                        report.contribution_bytes = r.tx.encode().len();
                        report.notes.push(format!(
                            "validators see of household 0: cell 0 masked as {:#018x} (its clear value never leaves the node), {} commitments, {} bytes",
                            c.masked_values[0],
                            c.commitments.len(),
                            report.contribution_bytes
                        ));
                    }
                }
                txs.push(chain.tx(&h.keys, &r.tx));
            }
            Err(_) => failures += 1,
        }
    }
    report.step(
        "households compute contributions on their own nodes",
        "every node contributes; ε charged locally",
        format!(
            "{} contributions, {} failures, budget left {} / {}",
            txs.len(),
            failures,
            households[0].node.budget().remaining_milli(),
            BUDGET_MILLI
        ),
        failures == 0,
    );
    // The cheater: a member whose contribution claims 1,000,000 tenths of
    // an hour. `build` refuses above the bound, so it proves against a
    // widened bound: the validators check the real one.
    let cheater = &households[total - 1];
    let cheat = forged_contribution(&id, &members, cheater, &record);
    // What one validator spends on one contribution (proofs, shape,
    // membership), measured directly on a sample.
    let bounds = record.bounds();
    let sample: Vec<&Contribution> = sampled.iter().take(50).collect();
    let verify_started = Instant::now();
    let verified = sample
        .iter()
        .filter(|c| c.verify(&members, &bounds).is_ok())
        .count();
    report.verify_ms = verify_started.elapsed().as_secs_f64() * 1000.0 / sample.len().max(1) as f64;
    if verified != sample.len() {
        report.step(
            "validators verify honest contributions",
            "all verify",
            format!("{verified} of {} verify", sample.len()),
            false,
        );
    }
    txs.push(chain.tx(&cheater.keys, &ChainCodeTx::Contribute(cheat)));
    let rejected = chain.block(txs);
    let cheater_refused = rejected.len() == 1 && rejected[0].0.sender == cheater.keys.public();
    report.step(
        "a contributor claims an out-of-range value (forged proof)",
        "refused by the range proof; treated as a dropout",
        match rejected.first() {
            Some((_, e)) => format!("{} refused: {e}", rejected.len()),
            None => "accepted".to_string(),
        },
        cheater_refused,
    );

    // Unmask: contributors reveal their seeds with the dropouts.
    chain.advance_to(record.open.contribute_deadline);
    let contributed: Vec<PublicKey> = households[..contributors]
        .iter()
        .map(|h| h.keys.public())
        .collect();
    let unmasks: Vec<Transaction> = households[..contributors]
        .iter()
        .map(|h| {
            let tx = h.node.unmask(id, &members, &contributed).expect("member");
            chain.tx(&h.keys, &tx)
        })
        .collect();
    let rejected = chain.block(unmasks);
    report.step(
        "contributors reveal their pair seeds with the dropouts",
        "all accepted",
        format!(
            "{} unmasks for {} dropouts, {} refused",
            contributors,
            total - contributors,
            rejected.len()
        ),
        rejected.is_empty(),
    );
    chain.advance_to(record.open.unmask_deadline);
    let close_started = Instant::now();
    chain.block(Vec::new());
    report.close_ms = close_started.elapsed().as_secs_f64() * 1000.0;
    let result: CampaignResult = chain
        .get(&keys::result(&id))
        .and_then(|b| campaign::decode_result(&b).ok())
        .expect("a closed campaign has a result");
    report.step(
        "the campaign closes: sum, check against commitments, finalize, pay",
        "released; dropouts recovered",
        format!(
            "{:?}, {} contributors, finalize {}",
            result.outcome,
            result.contributors,
            result.finalize_error.as_deref().unwrap_or("ok")
        ),
        result.outcome == CampaignOutcome::Released
            && result.contributors as usize == contributors
            && result.outputs.len() == 4,
    );
    if result.outputs.len() != 4 {
        return report;
    }

    // The answers beside the exact values.
    let n = contributors as f64;
    let exact_sum = |cell: usize| clear.iter().map(|c| c[cell]).sum::<u64>() as f64;
    let k = &record.coins;
    let noise_abs = |cell: usize| noise::expected_abs_noise(contributors as u32, k[cell]);
    let night_exact = exact_sum(0);
    report.answers.push(Answer {
        question: "households that switch a light on after midnight".into(),
        released: result.outputs[0] as f64,
        exact: night_exact,
        expected_error: noise_abs(0),
    });
    report.answers.push(Answer {
        question: "mean daily on-time per household, hours".into(),
        released: result.outputs[2] as f64 / 100.0,
        exact: exact_sum(2) / n / 10.0,
        expected_error: noise_abs(2) / n / 10.0,
    });
    let mut distinct: Vec<u32> = households[..contributors]
        .iter()
        .flat_map(|h| h.models.clone())
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    let schema = lamp_schema();
    let hll_range = schema.field_range(3).expect("hll field");
    let union_counts: Vec<i64> = hll_range
        .clone()
        .map(|c| i64::from(clear.iter().any(|v| v[c] > 0)))
        .collect();
    let exact_registers = sketch::hll_registers_from_counts(&union_counts, 4, 3, 1);
    let hll_own = sketch::hll_estimate(&exact_registers, 3) as f64;
    report.answers.push(Answer {
        question: "distinct lamp models (HyperLogLog, 16 registers)".into(),
        released: result.outputs[3] as f64,
        exact: distinct.len() as f64,
        expected_error: 1.04 / 4.0 * distinct.len() as f64,
    });
    report.notes.push(format!(
        "HyperLogLog over the exact union (no noise) estimates {hll_own}; the noisy union gives {}",
        result.outputs[3]
    ));
    report.count_relative_error =
        (result.outputs[0] as f64 - night_exact).abs() / night_exact.max(1.0);
    report.count_relative_error_theory = noise_abs(0) / night_exact.max(1.0);
    report.hll_relative_error =
        (result.outputs[3] as f64 - distinct.len() as f64).abs() / distinct.len() as f64;
    report.hll_relative_error_theory = 1.04 / 4.0;
    for a in report.answers.clone() {
        let within = (a.released - a.exact).abs() <= 4.0 * a.expected_error.max(0.5);
        report.step(
            &format!("answer: {}", a.question),
            "within 4× the expected error of the exact value",
            format!(
                "released {:.2}, exact {:.2}, expected error ±{:.2}",
                a.released, a.exact, a.expected_error
            ),
            within,
        );
    }
    report.notes.push(format!(
        "the company and the validators saw: the {} masked vectors' commitments and proofs, then only the sum; published: {} noisy cells and {} outputs",
        contributors,
        result.aggregate.len(),
        result.outputs.len()
    ));

    // Payouts, with a state proof a light client checks.
    let paid: u64 = households[..contributors]
        .iter()
        .filter(|h| chain.balance(&h.keys.public()) > 1_000 - 3 * FEE)
        .count() as u64;
    let company_spent = company_start - chain.balance(&company.public());
    let receipt_key = state_key::module(MODULE_ID, &keys::paid(&id, &households[0].keys.public()));
    let root = chain.ledger.state_root();
    let (value, proof) = chain.ledger.prove(&receipt_key);
    let proven = value.as_ref().is_some_and(|v| {
        proof
            .verify(&root, &receipt_key, Some(&value_hash(v)))
            .is_ok()
    });
    report.step(
        "every valid contributor is paid; the rest of the escrow is refunded",
        "payouts = contributors × price, a payment proven by a state proof",
        format!(
            "{paid} households paid {PRICE} each, company spent {company_spent} (incl. fees), receipt proven: {proven}"
        ),
        paid as usize == contributors
            && result.paid_each.0 == PRICE
            && result.refunded.0 == PRICE * (u64::from(max_cohort) - contributors as u64)
            && proven,
    );

    // A contract that tries to exfiltrate a raw value.
    let exfil = Contract::load(EXFILTRATE_WASM);
    let records = households[0].node.records().unwrap_or_default();
    let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    match exfil {
        Ok(contract) => {
            let outcome = contract.contribute(&schema, &id.0, &slices, &Limits::CONTRIBUTE);
            let bounded = outcome.as_ref().is_ok_and(|o| {
                o.cells
                    .iter()
                    .zip(schema.cell_max())
                    .all(|(&c, max)| c <= u64::from(max))
            });
            report.step(
                "a contract writes a raw timestamp into a cell",
                "the host clamps it to the cell's bound (then noise and masking)",
                match &outcome {
                    Ok(o) => format!("cells {:?}", &o.cells[..3]),
                    Err(e) => format!("error {e}"),
                },
                bounded,
            );
        }
        Err(e) => report.step(
            "a contract writes a raw timestamp into a cell",
            "loads",
            format!("refused: {e}"),
            false,
        ),
    }
    match Contract::load(LOOP_WASM) {
        Ok(contract) => {
            let outcome = contract.contribute(&schema, &id.0, &slices, &Limits::CONTRIBUTE);
            let contained = outcome
                .as_ref()
                .is_ok_and(|o| o.status == RunStatus::OutOfFuel && o.cells.iter().all(|&c| c == 0));
            report.step(
                "a contract loops forever",
                "out of fuel; the node contributes zeros",
                match &outcome {
                    Ok(o) => format!("{:?} after {} fuel", o.status, o.fuel_used),
                    Err(e) => format!("error {e}"),
                },
                contained,
            );
        }
        Err(e) => report.step(
            "a contract loops forever",
            "loads",
            format!("refused: {e}"),
            false,
        ),
    }

    // A cohort below the minimum: nothing released, the company refunded.
    let small = 6usize.min(contributors);
    let before = chain.balance(&company.public());
    match open_campaign(&mut chain, &company, lamp, 20, 40, 2) {
        Ok(small_id) => {
            let joins = households[..small]
                .iter()
                .map(|h| chain.tx(&h.keys, &h.node.join(small_id)))
                .collect();
            chain.block(joins);
            let rec = chain.campaign(&small_id);
            chain.advance_to(rec.open.unmask_deadline + 1);
            let res = chain
                .get(&keys::result(&small_id))
                .and_then(|b| campaign::decode_result(&b).ok());
            let after = chain.balance(&company.public());
            report.step(
                "a campaign whose cohort stays below its minimum",
                "nothing released, escrow refunded",
                format!(
                    "{:?}, company balance change {}",
                    res.as_ref().map(|r| r.outcome),
                    after as i64 - before as i64
                ),
                res.is_some_and(|r| {
                    r.outcome == CampaignOutcome::BelowMinimum && r.aggregate.is_empty()
                }) && before - after == FEE,
            );
        }
        Err(e) => report.step(
            "open a small campaign",
            "accepted",
            format!("refused: {e}"),
            false,
        ),
    }

    // A user whose budget is spent: household 0 spent 4.0 of 10.0; two more
    // campaigns of 4.0 each: the second is refused before anything runs.
    let mut refusals = Vec::new();
    for label in [3u64, 4] {
        let Ok(cid) = open_campaign(&mut chain, &company, lamp, 20, 40, label) else {
            refusals.push("open refused".to_string());
            continue;
        };
        let h0 = &households[0];
        chain.block(vec![chain.tx(&h0.keys, &h0.node.join(cid))]);
        let rec = chain.campaign(&cid);
        chain.advance_to(rec.open.join_deadline);
        let members = chain.members(&cid);
        let view = CampaignView {
            id: cid,
            record: &rec,
            members: &members,
            code: LAMP_ANALYTICS_WASM,
            height: chain.height(),
        };
        match households[0].node.contribute(&mut OsRng, &view) {
            Ok(r) => refusals.push(format!("contributed, {} left", r.remaining_milli)),
            Err(e) => refusals.push(format!("refused: {e}")),
        }
    }
    report.step(
        "a household asked for more ε than its budget has left",
        "first campaign accepted (8.0 of 10.0 spent), second refused locally",
        refusals.join("; "),
        refusals.len() == 2
            && refusals[0].starts_with("contributed")
            && refusals[1].starts_with("refused"),
    );
    report.notes.push(format!(
        "household 0's budget history: {:?}",
        households[0]
            .node
            .budget()
            .history()
            .iter()
            .map(|s| (s.epsilon_milli, s.cells))
            .collect::<Vec<_>>()
    ));
    report
}

fn field_coins(record: &CampaignRecord) -> Vec<u32> {
    (0..record.open.schema.fields.len())
        .filter_map(|f| {
            record
                .open
                .schema
                .field_range(f)
                .map(|r| record.coins[r.start])
        })
        .collect()
}

/// A contribution whose on-time cell is far above its bound, proven
/// against a widened bound (what a cheater who patched its node would
/// send).
fn forged_contribution(
    id: &Hash,
    members: &[Member],
    cheater: &Household,
    record: &CampaignRecord,
) -> Contribution {
    let me = members
        .iter()
        .position(|m| m.account == cheater.keys.public())
        .expect("the cheater joined");
    let mut values = vec![0u64; record.open.schema.cells()];
    values[2] = 1_000_000;
    // Only the claimed cell's bound is widened, so the proofs keep the
    // shape the validators expect and fail on the bound itself.
    let mut widened: Vec<CellBound> = record.bounds();
    widened[2].bound = widened[2].bound.max(2_000_000);
    Contribution::build(
        &mut OsRng,
        id,
        me,
        members,
        cheater.node.mask_secret(),
        &values,
        &widened,
    )
    .expect("a forged contribution builds against its own bounds")
}
