//! ChainCode on the real validators: four itc-pbft replicas with the
//! ChainCode module registered, a company deploys the lamp analytics
//! contract and opens a small campaign, five users join from their own data
//! nodes, four contribute, unmask, and at the deadline every validator holds
//! the same state and the same released result, with payouts, including a
//! backup that crashed in the middle and caught up from its storage and its
//! peers.

use itc_chaincode::campaign::{
    self, keys, CampaignOutcome, CampaignRecord, CampaignResult, ChainCode, ChainCodeTx,
    OpenCampaign, MODULE_ID,
};
use itc_chaincode::contract::Contract;
use itc_chaincode::node::{CampaignView, DataNode};
use itc_chaincode::secagg::Member;
use itc_core::encoding::Encode;
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::ledger::state_key;
use itc_core::storage::MemoryStorage;
use itc_core::types::{Amount, ChainId, Payload, Transaction};
use itc_dag::Tangle;
use itc_examples::analytics::{household_records, lamp_schema};
use itc_examples::cluster::Cluster;
use itc_pbft::Replica;
use rand_core::OsRng;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHAIN: ChainId = ChainId(0xCC1);
const LAMP_ANALYTICS_WASM: &[u8] =
    include_bytes!("../../itc-chaincode/contracts/lamp_analytics.wasm");
const FEE: u64 = 1;
const PRICE: u64 = 50;
const USER_BALANCE: u64 = 1_000;
const USERS: usize = 5;
const CONTRIBUTORS: usize = 4;
const MAX_COHORT: u32 = 6;
/// Wall-clock bound of the whole scenario (debug build, CI machine).
const TIME_LIMIT: Duration = Duration::from_secs(30);

struct User {
    keys: Keypair,
    node: DataNode<MemoryStorage>,
}

struct Scenario {
    cluster: Cluster,
    company: Keypair,
    ticker: Keypair,
    sink: PublicKey,
    started: Instant,
}

impl Scenario {
    /// The running replica with the highest height.
    fn replica(&self) -> &Replica<Tangle> {
        self.cluster.any_replica()
    }

    fn nonce(&self, account: &PublicKey) -> u64 {
        self.replica().ledger().account(account).nonce
    }

    fn tx(&self, sender: &Keypair, nonce: u64, body: &ChainCodeTx) -> Transaction {
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

    /// Submit `txs` and run until every running validator has executed
    /// them (each sender's nonce moved past them).
    fn commit(&mut self, txs: Vec<Transaction>) {
        let expected: Vec<(PublicKey, u64)> = txs.iter().map(|t| (t.sender, t.nonce + 1)).collect();
        for tx in txs {
            self.cluster.submit(tx).expect("admitted");
        }
        let done = self.cluster.run_until(|c| {
            c.replicas().all(|r| {
                expected
                    .iter()
                    .all(|(who, nonce)| r.ledger().account(who).nonce >= *nonce)
            })
        });
        assert!(
            done.expect("invariants hold"),
            "transactions did not commit"
        );
        assert!(self.started.elapsed() < TIME_LIMIT, "too slow");
    }

    /// Produce blocks (one filler transfer each) until every running
    /// validator has executed `height`.
    fn advance_to(&mut self, height: u64) {
        while self.cluster.min_executed_height() < height {
            let nonce = self.nonce(&self.ticker.public());
            let tx = Transaction::new_signed(
                &self.ticker,
                CHAIN,
                nonce,
                Amount(FEE),
                Payload::Transfer {
                    to: self.sink,
                    amount: Amount(1),
                },
            );
            self.cluster.submit(tx).expect("filler admitted");
            let target = self.cluster.min_executed_height() + 1;
            assert!(
                self.cluster
                    .run_until(|c| c.min_executed_height() >= target)
                    .expect("invariants hold"),
                "no block"
            );
        }
    }

    fn module_get(replica: &Replica<Tangle>, key: &[u8]) -> Option<Vec<u8>> {
        replica
            .ledger()
            .get_raw(&state_key::module(MODULE_ID, key))
            .map(<[u8]>::to_vec)
    }

    fn campaign(&self, id: &Hash) -> CampaignRecord {
        let bytes = Self::module_get(self.replica(), &keys::campaign(id)).expect("campaign");
        campaign::decode_campaign(&bytes).expect("campaign decodes")
    }

    fn members(&self, id: &Hash) -> Vec<Member> {
        let bytes = Self::module_get(self.replica(), &keys::members(id)).expect("members");
        campaign::decode_members(&bytes).expect("members decode")
    }
}

fn keypair(tag: u8, index: usize) -> Keypair {
    let mut seed = [tag; 32];
    seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
    Keypair::from_seed(seed)
}

#[test]
fn a_campaign_runs_to_payout_on_four_validators_with_a_crash_and_restart() {
    let started = Instant::now();
    let validators: Vec<Keypair> = (0..4).map(|i| keypair(0x56, i)).collect();
    let company = keypair(0xC0, 0);
    let ticker = keypair(0x71, 0);
    let sink = keypair(0x72, 0).public();
    let mut users: Vec<User> = (0..USERS)
        .map(|i| {
            let keys = keypair(0x48, i);
            let mut node = DataNode::open(MemoryStorage::new(), keys.public(), 10_000, &mut OsRng)
                .expect("a fresh node opens");
            let (records, _) = household_records(7, i);
            node.add_records(&records).expect("records fit");
            User { keys, node }
        })
        .collect();
    let mut genesis = Genesis {
        chain_id: CHAIN.0,
        min_fee: FEE,
        ..Genesis::default()
    };
    for (account, balance) in [(company.public(), 1_000_000), (ticker.public(), 1_000_000)]
        .into_iter()
        .chain(users.iter().map(|u| (u.keys.public(), USER_BALANCE)))
    {
        genesis.accounts.push(GenesisAccount {
            public_key: account,
            balance,
        });
    }
    for v in &validators {
        genesis.validators.push(GenesisValidator {
            public_key: v.public(),
            weight: 1,
        });
    }
    let chaincode = Arc::new(ChainCode::new());
    let mut s = Scenario {
        cluster: Cluster::with_modules(&validators, genesis, vec![chaincode]),
        company,
        ticker,
        sink,
        started,
    };

    // Deploy the contract through consensus.
    let company = s.company.clone();
    let deploy = s.tx(
        &company,
        0,
        &ChainCodeTx::Deploy {
            code: LAMP_ANALYTICS_WASM.to_vec(),
        },
    );
    s.commit(vec![deploy]);
    let contract = Contract::load(LAMP_ANALYTICS_WASM)
        .expect("the contract loads")
        .hash();
    assert!(
        Scenario::module_get(s.replica(), &keys::code(&contract)).is_some(),
        "the contract is stored by its hash"
    );

    // Open a small campaign with generous phase windows (blocks are made
    // only when there is work, so heights move as the test drives them).
    let h = s.cluster.min_executed_height();
    let open = OpenCampaign {
        contract,
        schema: lamp_schema(),
        epsilon_milli: vec![2_500; 4],
        min_cohort: 3,
        max_cohort: MAX_COHORT,
        price: Amount(PRICE),
        join_deadline: h + 6,
        contribute_deadline: h + 12,
        unmask_deadline: h + 18,
        label: 1,
    };
    let id = open.id(&company.public());
    let open_tx = s.tx(&company, 1, &ChainCodeTx::Open(open.clone()));
    s.commit(vec![open_tx]);
    assert_eq!(
        s.campaign(&id).escrow,
        Amount(PRICE * u64::from(MAX_COHORT))
    );

    // Five users join with their mask keys.
    let joins: Vec<Transaction> = users
        .iter()
        .map(|u| s.tx(&u.keys, 0, &u.node.join(id)))
        .collect();
    s.commit(joins);
    assert_eq!(s.members(&id).len(), USERS);

    // A backup crashes before the contributions.
    let primary = s
        .cluster
        .index_of(&s.replica().primary())
        .expect("the primary is a validator");
    let crashed = (primary + 1) % 4;
    s.cluster.crash(crashed);

    // Four contribute from their own nodes once joining has closed.
    s.advance_to(open.join_deadline);
    let record = s.campaign(&id);
    let members = s.members(&id);
    let height = s.cluster.min_executed_height();
    let mut contributions = Vec::new();
    for user in users.iter_mut().take(CONTRIBUTORS) {
        let view = CampaignView {
            id,
            record: &record,
            members: &members,
            code: LAMP_ANALYTICS_WASM,
            height,
        };
        let report = user
            .node
            .contribute(&mut OsRng, &view)
            .expect("the node contributes");
        assert_eq!(report.remaining_milli, 0, "ε 4 × 2.5 charged locally");
        contributions.push(s.tx(&user.keys, 1, &report.tx));
    }
    s.commit(contributions);

    // The backup restarts from its storage and catches up.
    s.cluster.restart(crashed).expect("restarts");
    let restarted_at = s
        .cluster
        .replica(crashed)
        .expect("running")
        .executed_height();
    assert!(
        restarted_at < s.replica().executed_height(),
        "the restarted backup starts behind"
    );
    s.advance_to(open.contribute_deadline);
    let contributed: Vec<PublicKey> = users[..CONTRIBUTORS]
        .iter()
        .map(|u| u.keys.public())
        .collect();
    let unmasks: Vec<Transaction> = users[..CONTRIBUTORS]
        .iter()
        .map(|u| {
            let tx = u
                .node
                .unmask(id, &members, &contributed)
                .expect("a member unmasks");
            s.tx(&u.keys, 2, &tx)
        })
        .collect();
    s.commit(unmasks);

    // The campaign closes in the block after the unmask deadline.
    s.advance_to(open.unmask_deadline + 1);
    // Every validator, the restarted one included, is at one height.
    let top = s.replica().executed_height();
    assert!(s
        .cluster
        .run_until(|c| c.min_executed_height() >= top)
        .expect("invariants hold"));
    let mut results: Vec<CampaignResult> = Vec::new();
    let mut headers = Vec::new();
    for i in 0..4 {
        let replica = s.cluster.replica(i).expect("every validator runs");
        assert_eq!(replica.executed_height(), top);
        headers.push(
            replica
                .decision(top)
                .expect("last block")
                .block
                .header
                .clone(),
        );
        let bytes = Scenario::module_get(replica, &keys::result(&id)).expect("a result");
        results.push(campaign::decode_result(&bytes).expect("result decodes"));
        // Payouts and receipts on this validator's ledger.
        for (i, user) in users.iter().enumerate() {
            let balance = replica.ledger().account(&user.keys.public()).balance.0;
            let receipt = Scenario::module_get(replica, &keys::paid(&id, &user.keys.public()));
            if i < CONTRIBUTORS {
                assert_eq!(balance, USER_BALANCE - 3 * FEE + PRICE, "user {i}");
                assert!(receipt.is_some(), "user {i} has a receipt");
            } else {
                assert_eq!(balance, USER_BALANCE - FEE, "the dropout is not paid");
                assert!(receipt.is_none());
            }
        }
    }
    // Same state root (the headers are equal, and commit to it) and same
    // result everywhere.
    assert!(headers.windows(2).all(|w| w[0] == w[1]));
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    let result = &results[0];
    assert_eq!(result.outcome, CampaignOutcome::Released, "{result:?}");
    assert_eq!(result.contributors, CONTRIBUTORS as u32);
    assert_eq!(result.paid_each, Amount(PRICE));
    assert_eq!(
        result.refunded,
        Amount(PRICE * u64::from(MAX_COHORT - CONTRIBUTORS as u32))
    );
    assert_eq!(result.outputs.len(), 4, "{:?}", result.finalize_error);
    assert!(
        started.elapsed() < TIME_LIMIT,
        "took {:?}",
        started.elapsed()
    );
}
