//! ChainCode from a binding: the user's data node and the company's
//! campaign transactions.
//!
//! * User side: a [`DataNode`] keeps the user's records, mask key and
//!   privacy budget (in memory in this release: itc-ffi exposes no on-disk
//!   store), makes the `Join`, `Contribute` and `Unmask` transaction bodies,
//!   and says what was shared ([`DataNode::budget_history`]) and what
//!   budget is left.
//! * Company side: [`deploy_tx_body`], [`open_campaign_tx_body`],
//!   [`decode_campaign_record`] and [`decode_campaign_result`].
//! * The bundled reference contract ([`lamp_analytics_contract`], its
//!   schema [`lamp_analytics_schema`] and the record helper
//!   [`encode_lamp_event`]).
//!
//! Transaction bodies are sent as `Payload::Module` with module id
//! [`chaincode_module_id`]; on a [`DevChain`](super::dev_chain::DevChain)
//! use `submit_chaincode` or `chaincode_transaction`.

use crate::error::ItcError;
use crate::facade::{chaincode, hash, public_key};
use itc_chaincode::campaign::{
    self, CampaignOutcome, CampaignRecord, ChainCodeTx, OpenCampaign, MODULE_ID,
};
use itc_chaincode::contract::RunStatus;
use itc_chaincode::node::{self, CampaignView};
use itc_chaincode::schema::{Field, Schema};
use itc_core::encoding::Encode;
use itc_core::hash::Hash;
use itc_core::storage::MemoryStorage;
use itc_core::types::Amount;
use std::sync::{Arc, Mutex};

/// The reference contract's WebAssembly (shipped by itc-chaincode, so that
/// this crate packages on its own).
const LAMP_ANALYTICS_WASM: &[u8] = itc_chaincode::reference::LAMP_ANALYTICS_WASM;

/// Bytes of one lamp event record.
pub const LAMP_EVENT_BYTES: usize = 16;

pub(crate) fn campaign_id(bytes: &[u8]) -> Result<Hash, ItcError> {
    hash(bytes, "campaign id")
}

/// The ChainCode module's id in `Payload::Module`.
#[uniffi::export]
pub fn chaincode_module_id() -> u8 {
    MODULE_ID
}

/// The bundled reference contract, `lamp_analytics.wasm`: over a month of
/// lamp events it counts after-midnight use, households, mean daily on-time
/// and distinct lamp models. Deploy it with [`deploy_tx_body`].
#[uniffi::export]
pub fn lamp_analytics_contract() -> Vec<u8> {
    LAMP_ANALYTICS_WASM.to_vec()
}

/// The schema (canonical bytes) the reference contract is written for:
/// two counters, a mean on-time clamped to 240 tenths of an hour, and a
/// HyperLogLog over lamp models; 4 outputs.
#[uniffi::export]
pub fn lamp_analytics_schema() -> Vec<u8> {
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
    .encode()
}

/// One lamp event as the reference contract reads it: 16 bytes,
/// little-endian `time_s` (u64, seconds since the month's start), `model`
/// (u32), the event (1 = on, 0 = off) and 3 bytes of padding.
#[uniffi::export]
pub fn encode_lamp_event(time_s: u64, model: u32, on: bool) -> Vec<u8> {
    chaincode::lamp_event(time_s, model, on).to_vec()
}

/// The hash a deployed contract is known by (32 bytes).
#[uniffi::export]
pub fn contract_hash(code: Vec<u8>) -> Vec<u8> {
    chaincode::contract_hash(&code).to_vec()
}

/// The `Deploy` transaction body for a contract (validated by the chain
/// when the transaction is applied).
///
/// # Errors
/// [`ItcError::InvalidArgument`] if the code is empty or longer than the
/// chain accepts.
#[uniffi::export]
pub fn deploy_tx_body(code: Vec<u8>) -> Result<Vec<u8>, ItcError> {
    chaincode::deploy_tx_body(&code)
}

/// What a company asks for when it opens a campaign.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OpenCampaignParams {
    /// The deployed contract's hash (32 bytes, [`contract_hash`]).
    pub contract: Vec<u8>,
    /// The contribution's schema (canonical bytes, e.g.
    /// [`lamp_analytics_schema`]).
    pub schema: Vec<u8>,
    /// ε in thousandths per schema field; each member is charged the sum.
    pub epsilon_milli: Vec<u32>,
    /// Fewer valid contributors than this release nothing.
    pub min_cohort: u32,
    /// At most this many members; the company escrows `price × max_cohort`.
    pub max_cohort: u32,
    /// Paid to each valid contributor.
    pub price: u64,
    /// Last height at which members may join.
    pub join_deadline: u64,
    /// Last height at which members may contribute.
    pub contribute_deadline: u64,
    /// Last height at which contributors may unmask; the campaign closes in
    /// the next block.
    pub unmask_deadline: u64,
    /// Free number that tells apart two otherwise equal campaigns.
    pub label: u64,
}

/// An `Open` transaction body and the id the campaign will have.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OpenedCampaign {
    /// The transaction body, to send from the company's account.
    pub tx_body: Vec<u8>,
    /// The campaign's id (32 bytes).
    pub campaign_id: Vec<u8>,
}

/// The `Open` transaction body for `params`, sent by `company_public_key`
/// (the id depends on the sender).
///
/// # Errors
/// [`ItcError::InvalidArgument`] for a bad key or contract hash, or a
/// schema that does not decode or validate (its reason is given). The
/// chain checks the rest (deadlines, ε, cohort bounds, escrow).
#[uniffi::export]
pub fn open_campaign_tx_body(
    company_public_key: Vec<u8>,
    params: OpenCampaignParams,
) -> Result<OpenedCampaign, ItcError> {
    let company = public_key(&company_public_key, "company public key")?;
    let schema = Schema::from_bytes(&params.schema)
        .map_err(|e| ItcError::invalid_argument(format!("schema: {e}")))?;
    let open = OpenCampaign {
        contract: hash(&params.contract, "contract hash")?,
        schema,
        epsilon_milli: params.epsilon_milli,
        min_cohort: params.min_cohort,
        max_cohort: params.max_cohort,
        price: Amount(params.price),
        join_deadline: params.join_deadline,
        contribute_deadline: params.contribute_deadline,
        unmask_deadline: params.unmask_deadline,
        label: params.label,
    };
    let id = open.id(&company);
    Ok(OpenedCampaign {
        tx_body: ChainCodeTx::Open(open).encode(),
        campaign_id: id.0.to_vec(),
    })
}

/// A campaign outcome as a stable lower-case name: `"open"`,
/// `"released"`, `"below_minimum"`, `"failed_missing_unmask"`,
/// `"failed_sum_mismatch"` or `"failed_contract_unusable"`.
fn outcome_name(outcome: CampaignOutcome) -> String {
    crate::c_api::chaincode::ItcCampaignOutcome::from(outcome)
        .name()
        .into()
}

/// A campaign as stored on chain, decoded.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CampaignInfo {
    /// The company that opened it (32 bytes).
    pub company: Vec<u8>,
    /// The contract's hash (32 bytes).
    pub contract: Vec<u8>,
    /// ε in thousandths each member is charged.
    pub epsilon_total_milli: u64,
    /// Minimum valid contributors to release anything.
    pub min_cohort: u32,
    /// Most members.
    pub max_cohort: u32,
    /// Paid to each valid contributor.
    pub price: u64,
    /// Last join height.
    pub join_deadline: u64,
    /// Last contribution height.
    pub contribute_deadline: u64,
    /// Last unmask height.
    pub unmask_deadline: u64,
    /// Tokens still held in escrow.
    pub escrow: u64,
    /// Members who joined.
    pub members: u32,
    /// Members whose contribution was accepted.
    pub contributors: u32,
    /// Where it stands (names as in [`CampaignResultInfo::outcome`]).
    pub outcome: String,
}

/// Decode a campaign record (from `DevChain::campaign_record` or a state
/// proof).
///
/// # Errors
/// [`ItcError::Decode`] if the bytes are not a campaign record.
#[uniffi::export]
pub fn decode_campaign_record(bytes: Vec<u8>) -> Result<CampaignInfo, ItcError> {
    let record = campaign::decode_campaign(&bytes)?;
    Ok(CampaignInfo {
        company: record.company.0.to_vec(),
        contract: record.open.contract.0.to_vec(),
        epsilon_total_milli: record.open.epsilon_total_milli(),
        min_cohort: record.open.min_cohort,
        max_cohort: record.open.max_cohort,
        price: record.open.price.0,
        join_deadline: record.open.join_deadline,
        contribute_deadline: record.open.contribute_deadline,
        unmask_deadline: record.open.unmask_deadline,
        escrow: record.escrow.0,
        members: record.members,
        contributors: record.contributors,
        outcome: outcome_name(record.outcome),
    })
}

/// A closed campaign's published result, decoded.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CampaignResultInfo {
    /// `"released"`, `"below_minimum"`, `"failed_missing_unmask"`,
    /// `"failed_sum_mismatch"` or `"failed_contract_unusable"`.
    pub outcome: String,
    /// Valid contributors (paid when released).
    pub contributors: u32,
    /// The noisy aggregate per cell, centered (empty unless released).
    pub aggregate: Vec<i64>,
    /// The contract's `finalize` outputs (empty unless released and
    /// finalize succeeded).
    pub outputs: Vec<i64>,
    /// Why finalize failed, if it did.
    pub finalize_error: Option<String>,
    /// Paid to each contributor.
    pub paid_each: u64,
    /// Returned to the company.
    pub refunded: u64,
}

/// Decode a campaign result (from `DevChain::campaign_result` or a state
/// proof).
///
/// # Errors
/// [`ItcError::Decode`] if the bytes are not a campaign result.
#[uniffi::export]
pub fn decode_campaign_result(bytes: Vec<u8>) -> Result<CampaignResultInfo, ItcError> {
    let result = campaign::decode_result(&bytes)?;
    Ok(CampaignResultInfo {
        outcome: outcome_name(result.outcome),
        contributors: result.contributors,
        aggregate: result.aggregate,
        outputs: result.outputs,
        finalize_error: result.finalize_error,
        paid_each: result.paid_each.0,
        refunded: result.refunded.0,
    })
}

/// A payment receipt and its state proof, from
/// `DevChain::payment_receipt_proof`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PaymentReceiptProof {
    /// Height of the header the proof is against.
    pub height: u64,
    /// The amount paid, or `None` if the member was not paid (the proof
    /// then proves the absence).
    pub amount: Option<u64>,
    /// The state proof (canonical bytes).
    pub proof: Vec<u8>,
}

/// Check a payment receipt proof against a header (canonical bytes) the
/// caller trusts — the header at the proof's height, whose hash a
/// [`LightClient`](super::light_client::LightClient) has verified — and
/// return the proven amount, or `None` when it proves the member was not
/// paid.
///
/// # Errors
/// [`ItcError::Decode`] for malformed header or proof bytes;
/// [`ItcError::InvalidArgument`] for a bad id or key;
/// [`ItcError::ProofRejected`] if the proof does not hold against the
/// header's state root.
#[uniffi::export]
pub fn verify_payment_receipt(
    header: Vec<u8>,
    campaign_id: Vec<u8>,
    member: Vec<u8>,
    proof: Vec<u8>,
) -> Result<Option<u64>, ItcError> {
    chaincode::verify_payment_receipt(&header, &campaign_id, &member, &proof)
}

/// What one contribution shared, for the user to see.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ContributionSummary {
    /// The `Contribute` transaction body to send from the user's account.
    pub tx_body: Vec<u8>,
    /// The cells the contract computed, clamped, before noise and masking
    /// (never sent).
    pub clear_cells: Vec<u64>,
    /// How the contract's run ended: `"completed"`, or why it stopped (a
    /// run that did not complete contributes zeros).
    pub status: String,
    /// ε charged, in thousandths.
    pub epsilon_milli: u32,
    /// Budget left, in thousandths of ε.
    pub remaining_milli: u32,
}

/// One charge of the privacy budget: what was shared, when, at what cost.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SpentRecord {
    /// The campaign contributed to (32 bytes).
    pub campaign: Vec<u8>,
    /// ε charged, in thousandths.
    pub epsilon_milli: u32,
    /// Cells the contribution had.
    pub cells: u32,
    /// Chain height when it was made.
    pub height: u64,
    /// What was shared, in words.
    pub note: String,
}

fn run_status_name(status: &RunStatus) -> String {
    match status {
        RunStatus::Completed => "completed".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The user's data node: records, mask key and privacy budget, kept in
/// memory (itc-ffi exposes no on-disk store yet: a node lives as long as
/// the object). Records never leave it; only masked, noised, range-proven
/// contributions do.
#[derive(Debug, uniffi::Object)]
pub struct DataNode {
    inner: Mutex<node::DataNode<MemoryStorage>>,
}

impl DataNode {
    fn node(&self) -> std::sync::MutexGuard<'_, node::DataNode<MemoryStorage>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[uniffi::export]
impl DataNode {
    /// A new node for the account `account_public_key` with a privacy
    /// budget of `budget_milli` thousandths of ε and a fresh mask key from
    /// the operating system's randomness.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the key is not 32 bytes;
    /// [`ItcError::ChainCode`] if the budget cannot be set up.
    #[uniffi::constructor]
    pub fn new(account_public_key: Vec<u8>, budget_milli: u32) -> Result<Arc<Self>, ItcError> {
        let account = public_key(&account_public_key, "account public key")?;
        let node = node::DataNode::open(
            MemoryStorage::new(),
            account,
            budget_milli,
            &mut rand_core::OsRng,
        )?;
        Ok(Arc::new(DataNode {
            inner: Mutex::new(node),
        }))
    }

    /// Store one record (for the reference contract, see
    /// [`encode_lamp_event`]).
    ///
    /// # Errors
    /// [`ItcError::ChainCode`] if the record is longer than 4096 bytes.
    pub fn add_record(&self, record: Vec<u8>) -> Result<(), ItcError> {
        self.node().add_records(&[record])?;
        Ok(())
    }

    /// Store several records in one write (all or none).
    ///
    /// # Errors
    /// [`ItcError::ChainCode`] if a record is longer than 4096 bytes.
    pub fn add_records(&self, records: Vec<Vec<u8>>) -> Result<(), ItcError> {
        self.node().add_records(&records)?;
        Ok(())
    }

    /// The number of stored records.
    pub fn record_count(&self) -> u64 {
        self.node().record_count()
    }

    /// The account this node contributes for (32 bytes).
    pub fn account(&self) -> Vec<u8> {
        self.node().account().0.to_vec()
    }

    /// The X25519 mask key the node publishes when it joins (32 bytes).
    pub fn mask_key(&self) -> Vec<u8> {
        self.node().mask_key().0.to_vec()
    }

    /// The `Join` transaction body for a campaign.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the id is not 32 bytes.
    pub fn join_tx_body(&self, campaign_id: Vec<u8>) -> Result<Vec<u8>, ItcError> {
        let id = self::campaign_id(&campaign_id)?;
        Ok(self.node().join(id).encode())
    }

    /// Run the campaign's contract over the stored records and make the
    /// `Contribute` transaction body. The budget is charged first: a
    /// contribution is made at most once per campaign, even if its
    /// transaction is never sent.
    ///
    /// `campaign_record` and `members` are the bytes of
    /// `DevChain::campaign_record` and `DevChain::campaign_members` (read
    /// with state proofs from a real chain); `code` is the contract
    /// (checked against the campaign's hash); `height` is the chain height
    /// now (kept in the budget history).
    ///
    /// # Errors
    /// [`ItcError::AlreadyContributed`] for a second contribution to the
    /// same campaign; [`ItcError::BudgetExhausted`] when the budget left is
    /// below the campaign's ε (nothing is shared then);
    /// [`ItcError::Decode`] for malformed record or members bytes;
    /// [`ItcError::ChainCode`] when the node is not a member, the code is
    /// not the campaign's contract, or the contract cannot run.
    pub fn contribute(
        &self,
        campaign_id: Vec<u8>,
        campaign_record: Vec<u8>,
        members: Vec<u8>,
        code: Vec<u8>,
        height: u64,
    ) -> Result<ContributionSummary, ItcError> {
        let id = self::campaign_id(&campaign_id)?;
        let record: CampaignRecord = campaign::decode_campaign(&campaign_record)?;
        let members = campaign::decode_members(&members).map_err(|e| ItcError::Decode {
            reason: e.to_string(),
        })?;
        let view = CampaignView {
            id,
            record: &record,
            members: &members,
            code: &code,
            height,
        };
        let report = self.node().contribute(&mut rand_core::OsRng, &view)?;
        Ok(ContributionSummary {
            tx_body: report.tx.encode(),
            clear_cells: report.clear_cells,
            status: run_status_name(&report.status),
            epsilon_milli: report.epsilon_milli,
            remaining_milli: report.remaining_milli,
        })
    }

    /// The `Unmask` transaction body: after the contribution deadline, the
    /// pair seeds this node shares with the members that did not
    /// contribute. `contributed` lists the contributors' accounts
    /// (`DevChain::campaign_contributors`).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] for a bad id or key;
    /// [`ItcError::Decode`] for malformed members bytes;
    /// [`ItcError::ChainCode`] if this node is not a member.
    pub fn unmask_tx_body(
        &self,
        campaign_id: Vec<u8>,
        members: Vec<u8>,
        contributed: Vec<Vec<u8>>,
    ) -> Result<Vec<u8>, ItcError> {
        let id = self::campaign_id(&campaign_id)?;
        let members = campaign::decode_members(&members).map_err(|e| ItcError::Decode {
            reason: e.to_string(),
        })?;
        let contributed = contributed
            .iter()
            .map(|key| public_key(key, "contributor"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.node().unmask(id, &members, &contributed)?.encode())
    }

    /// The budget's total, in thousandths of ε.
    pub fn budget_total_milli(&self) -> u32 {
        self.node().budget().total_milli()
    }

    /// The budget left, in thousandths of ε.
    pub fn budget_remaining_milli(&self) -> u32 {
        self.node().budget().remaining_milli()
    }

    /// Every charge so far, oldest first: what was shared.
    pub fn budget_history(&self) -> Vec<SpentRecord> {
        self.node()
            .budget()
            .history()
            .iter()
            .map(|spent| SpentRecord {
                campaign: spent.campaign.0.to_vec(),
                epsilon_milli: spent.epsilon_milli,
                cells: spent.cells,
                height: spent.height,
                note: spent.note.clone(),
            })
            .collect()
    }

    /// Whether this node contributed to (was charged for) a campaign.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the id is not 32 bytes.
    pub fn has_contributed(&self, campaign_id: Vec<u8>) -> Result<bool, ItcError> {
        let id = self::campaign_id(&campaign_id)?;
        Ok(self.node().budget().has_contributed(&id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::dev_chain::{DevChain, FundedAccount};
    use crate::api::keys::Keypair;

    const PRICE: u64 = 30;
    const START: u64 = 1_000;

    fn key(tag: u8) -> Arc<Keypair> {
        Keypair::from_seed(vec![tag; 32]).expect("seed")
    }

    /// A household's records: an evening each day for ten days, and
    /// after-midnight use on `nights` nights.
    fn fill(node: &DataNode, nights: u64, model: u32) {
        let mut records = Vec::new();
        for d in 0..10u64 {
            records.push(encode_lamp_event(d * 86_400 + 19 * 3600, model, true));
            records.push(encode_lamp_event(d * 86_400 + 21 * 3600, model, false));
        }
        for d in 0..nights {
            records.push(encode_lamp_event(d * 86_400 + 3600, model, true));
            records.push(encode_lamp_event(d * 86_400 + 4200, model, false));
        }
        node.add_records(records).expect("records");
    }

    struct World {
        chain: Arc<DevChain>,
        company: Arc<Keypair>,
        users: Vec<(Arc<Keypair>, Arc<DataNode>)>,
    }

    fn world(users: u8, budget_milli: u32) -> World {
        let company = key(200);
        let users: Vec<_> = (0..users)
            .map(|i| {
                let k = key(i + 1);
                let node = DataNode::new(k.public_key(), budget_milli).expect("node");
                fill(&node, u64::from(i % 2), 1000 + u32::from(i % 3));
                (k, node)
            })
            .collect();
        let mut accounts = vec![FundedAccount {
            public_key: company.public_key(),
            balance: 1_000_000,
        }];
        accounts.extend(users.iter().map(|(k, _)| FundedAccount {
            public_key: k.public_key(),
            balance: START,
        }));
        let chain = DevChain::new(9, 4, accounts, 0).expect("chain");
        World {
            chain,
            company,
            users,
        }
    }

    fn open(w: &World, min: u32, label: u64) -> Vec<u8> {
        let code = lamp_analytics_contract();
        let h = w.chain.height();
        let opened = open_campaign_tx_body(
            w.company.public_key(),
            OpenCampaignParams {
                contract: contract_hash(code),
                schema: lamp_analytics_schema(),
                epsilon_milli: vec![2_500; 4],
                min_cohort: min,
                max_cohort: 8,
                price: PRICE,
                join_deadline: h + 3,
                contribute_deadline: h + 5,
                unmask_deadline: h + 7,
                label,
            },
        )
        .expect("open body");
        w.chain
            .submit_chaincode(w.company.clone(), opened.tx_body, 0)
            .expect("opened");
        opened.campaign_id
    }

    #[test]
    fn a_campaign_runs_end_to_end_through_the_dev_chain() {
        let w = world(4, 20_000);
        let code = lamp_analytics_contract();
        w.chain
            .submit_chaincode(w.company.clone(), deploy_tx_body(code.clone()).unwrap(), 0)
            .expect("deployed");
        let id = open(&w, 3, 1);
        let record = decode_campaign_record(w.chain.campaign_record(id.clone()).unwrap().unwrap())
            .expect("record");
        assert_eq!(record.outcome, "open");
        assert_eq!(record.escrow, PRICE * 8);
        let joins = w
            .users
            .iter()
            .map(|(k, n)| {
                w.chain
                    .chaincode_transaction(k.clone(), n.join_tx_body(id.clone()).unwrap())
                    .unwrap()
            })
            .collect();
        w.chain.commit_block(joins, 0).expect("joined");
        w.chain.advance_to(record.join_deadline, 0).unwrap();
        let members = w.chain.campaign_members(id.clone()).unwrap();
        let record_bytes = w.chain.campaign_record(id.clone()).unwrap().unwrap();
        // Users 0..3 contribute, user 3 drops out.
        let mut bodies = Vec::new();
        for (k, n) in &w.users[..3] {
            let summary = n
                .contribute(
                    id.clone(),
                    record_bytes.clone(),
                    members.clone(),
                    code.clone(),
                    w.chain.height(),
                )
                .expect("contributes");
            assert_eq!(summary.status, "completed");
            assert_eq!(summary.epsilon_milli, 10_000);
            assert_eq!(summary.remaining_milli, 10_000);
            assert_eq!(summary.clear_cells[1], 1, "household counter");
            bodies.push(
                w.chain
                    .chaincode_transaction(k.clone(), summary.tx_body)
                    .unwrap(),
            );
        }
        // A second contribution is refused by the node itself.
        let again = w.users[0].1.contribute(
            id.clone(),
            record_bytes.clone(),
            members.clone(),
            code.clone(),
            w.chain.height(),
        );
        assert!(matches!(again, Err(ItcError::AlreadyContributed { .. })));
        w.chain.commit_block(bodies, 0).expect("contributed");
        let contributors = w.chain.campaign_contributors(id.clone()).unwrap();
        assert_eq!(contributors.len(), 3);
        w.chain.advance_to(record.contribute_deadline, 0).unwrap();
        let unmasks = w.users[..3]
            .iter()
            .map(|(k, n)| {
                let body = n
                    .unmask_tx_body(id.clone(), members.clone(), contributors.clone())
                    .unwrap();
                w.chain.chaincode_transaction(k.clone(), body).unwrap()
            })
            .collect();
        w.chain.commit_block(unmasks, 0).expect("unmasked");
        assert!(w.chain.campaign_result(id.clone()).unwrap().is_none());
        w.chain.advance_to(record.unmask_deadline + 1, 0).unwrap();
        let result =
            decode_campaign_result(w.chain.campaign_result(id.clone()).unwrap().unwrap()).unwrap();
        assert_eq!(result.outcome, "released");
        assert_eq!(result.contributors, 3);
        assert_eq!(result.outputs.len(), 4);
        assert_eq!(result.paid_each, PRICE);
        assert_eq!(result.refunded, PRICE * 5);
        // Contributors paid (minus join, contribute and unmask fees); the
        // dropout paid only its join fee.
        for (k, _) in &w.users[..3] {
            assert_eq!(w.chain.balance(k.public_key()).unwrap(), START - 3 + PRICE);
        }
        assert_eq!(
            w.chain.balance(w.users[3].0.public_key()).unwrap(),
            START - 1
        );
        // The budget history shows the charge.
        let history = w.users[0].1.budget_history();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].campaign, id);
        assert_eq!(history[0].epsilon_milli, 10_000);
        // The receipt is proven against the latest header; the dropout's
        // absence too; a proof for another member does not verify.
        let paid = w
            .chain
            .payment_receipt_proof(id.clone(), w.users[0].0.public_key())
            .unwrap();
        assert_eq!(paid.amount, Some(PRICE));
        let header = w.chain.header(paid.height).unwrap();
        assert_eq!(
            verify_payment_receipt(
                header.clone(),
                id.clone(),
                w.users[0].0.public_key(),
                paid.proof.clone()
            ),
            Ok(Some(PRICE))
        );
        let unpaid = w
            .chain
            .payment_receipt_proof(id.clone(), w.users[3].0.public_key())
            .unwrap();
        assert_eq!(unpaid.amount, None);
        assert_eq!(
            verify_payment_receipt(
                header.clone(),
                id.clone(),
                w.users[3].0.public_key(),
                unpaid.proof
            ),
            Ok(None)
        );
        assert!(matches!(
            verify_payment_receipt(header, id, w.users[1].0.public_key(), paid.proof),
            Err(ItcError::ProofRejected { .. })
        ));
    }

    #[test]
    fn a_node_over_budget_shares_nothing_and_refusals_are_typed() {
        let w = world(1, 5_000);
        let code = lamp_analytics_contract();
        w.chain
            .submit_chaincode(w.company.clone(), deploy_tx_body(code.clone()).unwrap(), 0)
            .unwrap();
        let id = open(&w, 2, 1);
        let (k, n) = &w.users[0];
        w.chain
            .submit_chaincode(k.clone(), n.join_tx_body(id.clone()).unwrap(), 0)
            .unwrap();
        let record = w.chain.campaign_record(id.clone()).unwrap().unwrap();
        let members = w.chain.campaign_members(id.clone()).unwrap();
        let refused = n.contribute(id.clone(), record.clone(), members.clone(), code, 5);
        let code_again = lamp_analytics_contract;
        assert_eq!(
            refused,
            Err(ItcError::BudgetExhausted {
                remaining_milli: 5_000,
                asked_milli: 10_000
            })
        );
        assert!(n.budget_history().is_empty());
        assert_eq!(n.budget_remaining_milli(), 5_000);
        // A node with another mask key is not a member: a ChainCode error.
        let stranger = DataNode::new(k.public_key(), 50_000).unwrap();
        assert!(matches!(
            stranger.contribute(id.clone(), record, members, code_again(), 5),
            Err(ItcError::ChainCode { .. })
        ));
        // A joined-twice transaction is refused by the chain, typed.
        let again = w
            .chain
            .submit_chaincode(k.clone(), n.join_tx_body(id.clone()).unwrap(), 0);
        assert!(matches!(again, Err(ItcError::TransactionRejected { .. })));
        // Malformed inputs are typed errors.
        assert!(matches!(
            w.chain.submit_chaincode(k.clone(), vec![9, 9], 0),
            Err(ItcError::Decode { .. })
        ));
        assert!(matches!(
            n.join_tx_body(vec![1; 3]),
            Err(ItcError::InvalidArgument { .. })
        ));
        assert!(matches!(
            decode_campaign_result(vec![1, 2, 3]),
            Err(ItcError::Decode { .. })
        ));
        assert!(matches!(
            deploy_tx_body(Vec::new()),
            Err(ItcError::InvalidArgument { .. })
        ));
        assert!(matches!(
            w.chain.advance_to(u64::MAX, 0),
            Err(ItcError::InvalidArgument { .. })
        ));
    }

    #[test]
    fn lamp_events_and_schema_are_what_the_contract_reads() {
        let event = encode_lamp_event(0x0102, 7, true);
        assert_eq!(event.len(), LAMP_EVENT_BYTES);
        assert_eq!(&event[..8], &0x0102u64.to_le_bytes());
        assert_eq!(&event[8..12], &7u32.to_le_bytes());
        assert_eq!(event[12], 1);
        assert_eq!(encode_lamp_event(0, 0, false)[12], 0);
        assert!(Schema::from_bytes(&lamp_analytics_schema()).is_ok());
        assert_eq!(
            contract_hash(lamp_analytics_contract()),
            itc_chaincode::contract::code_hash(LAMP_ANALYTICS_WASM)
                .0
                .to_vec()
        );
    }
}
