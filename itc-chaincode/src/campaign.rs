//! Campaigns on chain: the ChainCode ledger module.
//!
//! [`ChainCode`] implements itc-core's [`LedgerModule`]: validators run it
//! inside block execution, and everything it stores lives in the ledger's
//! state tree under [`state_key::module`](itc_core::ledger::state_key::module)
//! with the id [`MODULE_ID`], so a light client proves a campaign's result
//! or a user's payment receipt like any other state.
//!
//! A campaign's life, in heights:
//!
//! | phase | heights | transactions accepted |
//! |---|---|---|
//! | join | `..= join_deadline` | [`ChainCodeTx::Join`] (a member publishes its X25519 mask key) |
//! | contribute | `join_deadline + 1 ..= contribute_deadline` | [`ChainCodeTx::Contribute`] (masked cells, commitments, range proofs; proofs checked on entry) |
//! | unmask | `contribute_deadline + 1 ..= unmask_deadline` | [`ChainCodeTx::Unmask`] (a contributor reveals the pair seeds it shared with members who did not contribute) |
//! | close | at `unmask_deadline + 1`, in `end_block` | none: validators sum, check, finalize, pay, refund |
//!
//! At close the campaign either releases the checked aggregate or fails
//! safe, and says which in its [`CampaignOutcome`]:
//!
//! * fewer valid contributors than `min_cohort`: nothing is released, the
//!   company is refunded in full ([`CampaignOutcome::BelowMinimum`]);
//! * a contributor did not unmask, or the revealed sum does not match the
//!   product of the commitments: nothing is released, the company is
//!   refunded ([`CampaignOutcome::Failed`]);
//! * otherwise the noisy, centered aggregate and the contract's `finalize`
//!   outputs are published, each contributor is paid `price` from escrow
//!   (with a provable receipt under [`keys::paid`]) and the rest of the
//!   escrow goes back to the company ([`CampaignOutcome::Released`]).
//!
//! Contributions that fail their checks never enter the state (the
//! transaction is refused), so an invalid contributor is handled exactly
//! like a member who dropped out.

use crate::contract::{Contract, ContractError, FinalizeInput, Limits};
use crate::contribution::{self, Contribution};
use crate::noise;
use crate::proof::CellBound;
use crate::schema::{Field, Schema, SchemaError};
use crate::secagg::{MaskPublic, Member, Unmask};
use itc_core::encoding::{self, Decode, DecodeError, Encode, Reader};
use itc_core::hash::Hash;
use itc_core::keys::PublicKey;
use itc_core::module::{LedgerModule, ModuleContext, ModuleError};
use itc_core::types::Amount;

/// The ChainCode module's id in `Payload::Module` and in state keys.
pub const MODULE_ID: u8 = 1;
/// The largest cohort a campaign may ask for.
pub const COHORT_MAX: u32 = crate::secagg::COHORT_MAX as u32;
/// The most heights a campaign's phases may span in all (about a week at
/// one block per second would be 604,800; this allows a month).
pub const CAMPAIGN_SPAN_MAX: u64 = 3_000_000;
/// The most ε (in thousandths) one campaign may charge each member.
pub const EPSILON_MILLI_MAX: u32 = 10_000;
/// The most campaigns that may close at one height.
///
/// A close costs about one mask expansion per (contributor, dropout) pair
/// besides the sum; the worst case at [`COHORT_MAX`] (half the cohort
/// contributing, half dropping out) is about 5 s on the development
/// machine, so at most two closes share a block. Fees are not yet
/// proportional to that work.
pub const CLOSES_PER_HEIGHT_MAX: usize = 2;

/// State keys of the ChainCode module (passed to
/// [`ModuleContext::get`]; the ledger's state key is
/// `state_key::module(MODULE_ID, key)`).
pub mod keys {
    use super::*;

    fn with(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut key = prefix.to_vec();
        for part in parts {
            key.extend_from_slice(part);
        }
        key
    }

    /// A deployed contract's code, by its hash.
    pub fn code(hash: &Hash) -> Vec<u8> {
        with(b"code/", &[&hash.0])
    }
    /// A campaign's record ([`CampaignRecord`]).
    pub fn campaign(id: &Hash) -> Vec<u8> {
        with(b"campaign/", &[&id.0])
    }
    /// A campaign's cohort (the members who joined, sorted by account).
    pub fn members(id: &Hash) -> Vec<u8> {
        with(b"members/", &[&id.0])
    }
    /// A member's stored contribution (deleted at close).
    pub fn contribution(id: &Hash, member: &PublicKey) -> Vec<u8> {
        with(b"contribution/", &[&id.0, &member.0])
    }
    /// A contributor's unmask message (deleted at close).
    pub fn unmask(id: &Hash, member: &PublicKey) -> Vec<u8> {
        with(b"unmask/", &[&id.0, &member.0])
    }
    /// The campaigns that close at a height.
    pub fn due(height: u64) -> Vec<u8> {
        with(b"due/", &[&height.to_le_bytes()])
    }
    /// A campaign's published result ([`CampaignResult`]).
    pub fn result(id: &Hash) -> Vec<u8> {
        with(b"result/", &[&id.0])
    }
    /// A contributor's payment receipt (the amount paid, a `u64`).
    pub fn paid(id: &Hash, member: &PublicKey) -> Vec<u8> {
        with(b"paid/", &[&id.0, &member.0])
    }
}

/// What a company asks for when it opens a campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenCampaign {
    /// The deployed contract (its code hash).
    pub contract: Hash,
    /// The contribution's shape.
    pub schema: Schema,
    /// ε (in thousandths) spent on each field, one per schema field; each
    /// member is charged their sum.
    pub epsilon_milli: Vec<u32>,
    /// Fewer valid contributors than this release nothing.
    pub min_cohort: u32,
    /// At most this many members may join; the escrow is `price ×
    /// max_cohort`.
    pub max_cohort: u32,
    /// Paid to each valid contributor.
    pub price: Amount,
    /// Last height at which members may join.
    pub join_deadline: u64,
    /// Last height at which members may contribute.
    pub contribute_deadline: u64,
    /// Last height at which contributors may unmask; the campaign closes at
    /// the next height.
    pub unmask_deadline: u64,
    /// Free number that tells apart two otherwise equal campaigns of one
    /// company.
    pub label: u64,
}

impl Encode for OpenCampaign {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.contract.encode_to(out);
        self.schema.encode_to(out);
        encoding::write_vec(out, &self.epsilon_milli);
        self.min_cohort.encode_to(out);
        self.max_cohort.encode_to(out);
        self.price.encode_to(out);
        self.join_deadline.encode_to(out);
        self.contribute_deadline.encode_to(out);
        self.unmask_deadline.encode_to(out);
        self.label.encode_to(out);
    }
}

impl Decode for OpenCampaign {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(OpenCampaign {
            contract: Decode::decode_from(r)?,
            schema: Decode::decode_from(r)?,
            epsilon_milli: r.read_vec("epsilon per field", crate::schema::FIELDS_MAX)?,
            min_cohort: Decode::decode_from(r)?,
            max_cohort: Decode::decode_from(r)?,
            price: Decode::decode_from(r)?,
            join_deadline: Decode::decode_from(r)?,
            contribute_deadline: Decode::decode_from(r)?,
            unmask_deadline: Decode::decode_from(r)?,
            label: Decode::decode_from(r)?,
        })
    }
}

impl OpenCampaign {
    /// The campaign's id: a hash of the company and everything it asked
    /// for.
    pub fn id(&self, company: &PublicKey) -> Hash {
        labelled_hash(b"itc:chaincode:campaign:v1", &[&company.0, &self.encode()])
    }

    /// The total ε each member is charged.
    pub fn epsilon_total_milli(&self) -> u64 {
        self.epsilon_milli.iter().map(|&e| u64::from(e)).sum()
    }
}

/// A ChainCode transaction (the body of `Payload::Module` with module id
/// [`MODULE_ID`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum ChainCodeTx {
    /// Deploy a contract; it is validated and stored by its hash.
    Deploy {
        /// The WebAssembly module.
        code: Vec<u8>,
    },
    /// Open a campaign; the sender (the company) escrows `price ×
    /// max_cohort`.
    Open(OpenCampaign),
    /// Join a campaign's cohort.
    Join {
        /// The campaign.
        campaign: Hash,
        /// The member's X25519 key for pairwise masks.
        mask_key: MaskPublic,
    },
    /// A member's masked, committed and range-proven contribution.
    Contribute(Contribution),
    /// A contributor's pair seeds with the members who did not contribute.
    Unmask {
        /// The campaign.
        campaign: Hash,
        /// The seeds.
        unmask: Unmask,
    },
}

impl Encode for ChainCodeTx {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            ChainCodeTx::Deploy { code } => {
                out.push(0);
                encoding::write_bytes(out, code);
            }
            ChainCodeTx::Open(open) => {
                out.push(1);
                open.encode_to(out);
            }
            ChainCodeTx::Join { campaign, mask_key } => {
                out.push(2);
                campaign.encode_to(out);
                mask_key.encode_to(out);
            }
            ChainCodeTx::Contribute(contribution) => {
                out.push(3);
                contribution.encode_to(out);
            }
            ChainCodeTx::Unmask { campaign, unmask } => {
                out.push(4);
                campaign.encode_to(out);
                unmask.encode_to(out);
            }
        }
    }
}

impl Decode for ChainCodeTx {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.read_u8()? {
            0 => ChainCodeTx::Deploy {
                code: r.read_bytes("contract code", crate::contract::CODE_BYTES_MAX)?,
            },
            1 => ChainCodeTx::Open(Decode::decode_from(r)?),
            2 => ChainCodeTx::Join {
                campaign: Decode::decode_from(r)?,
                mask_key: Decode::decode_from(r)?,
            },
            3 => ChainCodeTx::Contribute(Decode::decode_from(r)?),
            4 => ChainCodeTx::Unmask {
                campaign: Decode::decode_from(r)?,
                unmask: Decode::decode_from(r)?,
            },
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "chaincode transaction",
                    tag,
                })
            }
        })
    }
}

/// Where a campaign stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CampaignOutcome {
    /// Not closed yet.
    Open,
    /// The checked aggregate was released and contributors were paid.
    Released,
    /// Fewer valid contributors than the minimum: nothing released, the
    /// company refunded.
    BelowMinimum,
    /// Failed safe: nothing released, the company refunded.
    Failed(FailReason),
}

/// Why a campaign failed safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailReason {
    /// A contributor did not reveal its seeds with the dropouts in time.
    MissingUnmask,
    /// The unmasked sum does not match the product of the commitments (a
    /// revealed seed was wrong).
    SumMismatch,
    /// The contract's code or schema could not be used at close.
    ContractUnusable,
}

impl Encode for CampaignOutcome {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(match self {
            CampaignOutcome::Open => 0,
            CampaignOutcome::Released => 1,
            CampaignOutcome::BelowMinimum => 2,
            CampaignOutcome::Failed(FailReason::MissingUnmask) => 3,
            CampaignOutcome::Failed(FailReason::SumMismatch) => 4,
            CampaignOutcome::Failed(FailReason::ContractUnusable) => 5,
        });
    }
}

impl Decode for CampaignOutcome {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.read_u8()? {
            0 => CampaignOutcome::Open,
            1 => CampaignOutcome::Released,
            2 => CampaignOutcome::BelowMinimum,
            3 => CampaignOutcome::Failed(FailReason::MissingUnmask),
            4 => CampaignOutcome::Failed(FailReason::SumMismatch),
            5 => CampaignOutcome::Failed(FailReason::ContractUnusable),
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "campaign outcome",
                    tag,
                })
            }
        })
    }
}

/// A campaign as stored on chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignRecord {
    /// Who opened it and pays.
    pub company: PublicKey,
    /// What the company asked for.
    pub open: OpenCampaign,
    /// Noise coins each member flips per cell (from the field's ε, its
    /// sensitivity and `min_cohort`).
    pub coins: Vec<u32>,
    /// Tokens still held for this campaign.
    pub escrow: Amount,
    /// Members who joined.
    pub members: u32,
    /// Members whose contribution was accepted.
    pub contributors: u32,
    /// Where it stands.
    pub outcome: CampaignOutcome,
}

impl Encode for CampaignRecord {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.company.encode_to(out);
        self.open.encode_to(out);
        encoding::write_vec(out, &self.coins);
        self.escrow.encode_to(out);
        self.members.encode_to(out);
        self.contributors.encode_to(out);
        self.outcome.encode_to(out);
    }
}

impl Decode for CampaignRecord {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CampaignRecord {
            company: Decode::decode_from(r)?,
            open: Decode::decode_from(r)?,
            coins: r.read_vec("coins per cell", crate::schema::CELLS_MAX)?,
            escrow: Decode::decode_from(r)?,
            members: Decode::decode_from(r)?,
            contributors: Decode::decode_from(r)?,
            outcome: Decode::decode_from(r)?,
        })
    }
}

impl CampaignRecord {
    /// The bound each cell's value (clamped cell plus noise share) is
    /// proven against.
    pub fn bounds(&self) -> Vec<CellBound> {
        cell_bounds(&self.open.schema, &self.coins)
    }
}

/// The proven bound of every cell: the cell's clamp bound plus the noise
/// coins.
///
/// The bound is exact (both ends proven) for counters, sums, histograms
/// and count-min cells, and for HyperLogLog and Bloom cells whose bound
/// needs more than 8 bits. HyperLogLog and Bloom cells within 8 bits (the
/// usual case: they are 0/1 plus a few coins, and the most numerous) are
/// proven only below 2^8, to keep one contribution's proof within its time
/// budget: a dishonest contributor can put up to 255 into every such cell,
/// enough to set registers or bits of the union sketch on its own. Sketch
/// answers resist the noise, not a cheating contributor.
pub fn cell_bounds(schema: &Schema, coins: &[u32]) -> Vec<CellBound> {
    let max = schema.cell_max();
    let mut bounds = Vec::with_capacity(max.len());
    for (field, kind) in schema.fields.iter().enumerate() {
        let sketch = matches!(kind, Field::Hll { .. } | Field::Bloom { .. });
        for cell in schema.field_range(field).unwrap_or(0..0) {
            let (Some(&max), Some(&k)) = (max.get(cell), coins.get(cell)) else {
                continue;
            };
            let bound = u64::from(max) + u64::from(k);
            bounds.push(CellBound {
                bound,
                exact: !sketch || bound > 255,
            });
        }
    }
    bounds
}

/// The noise coins per cell for a schema, its ε per field and the minimum
/// cohort.
///
/// # Errors
/// [`ChainCodeError::Noise`] when a field's ε is too small for the cohort.
pub fn coins_per_cell(
    schema: &Schema,
    epsilon_milli: &[u32],
    min_cohort: u32,
) -> Result<Vec<u32>, ChainCodeError> {
    let mut coins = Vec::with_capacity(schema.cells());
    for (field, &epsilon) in epsilon_milli.iter().enumerate() {
        let range = schema
            .field_range(field)
            .ok_or(ChainCodeError::EpsilonPerField)?;
        let sensitivity = schema
            .sensitivity_sq(field)
            .ok_or(ChainCodeError::EpsilonPerField)?;
        let k = noise::coins_per_member(sensitivity, epsilon, min_cohort)
            .map_err(|e| ChainCodeError::Noise(e.to_string()))?;
        coins.extend(range.map(|_| k));
    }
    Ok(coins)
}

/// The presence threshold of each field (used by the sketch estimators at
/// finalize): about four standard deviations of the summed noise, so a
/// sketch cell counts as set only when more members set it than noise
/// alone would explain (false alarm below 1 in 30,000 per cell).
pub fn presence_thresholds(schema: &Schema, coins: &[u32], contributors: u32) -> Vec<i64> {
    (0..schema.fields.len())
        .map(|field| {
            let k = schema
                .field_range(field)
                .and_then(|r| coins.get(r.start).copied())
                .unwrap_or(0);
            // 4σ with σ² = n·k/4  ⇒  (4σ)² = 4·n·k.
            let var4 = 4u128 * u128::from(contributors) * u128::from(k);
            i64::try_from(isqrt(var4))
                .unwrap_or(i64::MAX)
                .saturating_add(1)
        })
        .collect()
}

fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    // Newton's method from an upper bound.
    let mut x = 1u128 << (128 - n.leading_zeros()).div_ceil(2);
    loop {
        let y = (x + n / x) / 2;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// A closed campaign's published result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignResult {
    /// How it ended.
    pub outcome: CampaignOutcome,
    /// Valid contributors (paid when released).
    pub contributors: u32,
    /// The noisy aggregate, centered (empty unless released).
    pub aggregate: Vec<i64>,
    /// The contract's `finalize` outputs (empty unless released and
    /// finalize succeeded).
    pub outputs: Vec<i64>,
    /// Why finalize failed, if it did (the aggregate is still released: it
    /// carries its noise whatever the contract does with it).
    pub finalize_error: Option<String>,
    /// Paid to each contributor.
    pub paid_each: Amount,
    /// Returned to the company.
    pub refunded: Amount,
}

/// Cap on a stored error message.
const ERROR_TEXT_MAX: usize = 256;

impl Encode for CampaignResult {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.outcome.encode_to(out);
        self.contributors.encode_to(out);
        encoding::write_len(out, self.aggregate.len());
        for v in &self.aggregate {
            (*v as u64).encode_to(out);
        }
        encoding::write_len(out, self.outputs.len());
        for v in &self.outputs {
            (*v as u64).encode_to(out);
        }
        match &self.finalize_error {
            None => out.push(0),
            Some(text) => {
                out.push(1);
                encoding::write_bytes(out, text.as_bytes());
            }
        }
        self.paid_each.encode_to(out);
        self.refunded.encode_to(out);
    }
}

fn read_i64s(r: &mut Reader<'_>, what: &'static str, max: usize) -> Result<Vec<i64>, DecodeError> {
    let len = r.read_len(what, max)?;
    let mut out = Vec::with_capacity(len.min(r.remaining() / 8));
    for _ in 0..len {
        out.push(r.read_u64()? as i64);
    }
    Ok(out)
}

impl Decode for CampaignResult {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let outcome = Decode::decode_from(r)?;
        let contributors = Decode::decode_from(r)?;
        let aggregate = read_i64s(r, "aggregate", crate::schema::CELLS_MAX)?;
        let outputs = read_i64s(r, "outputs", usize::from(crate::schema::OUTPUTS_MAX))?;
        let finalize_error = match r.read_u8()? {
            0 => None,
            1 => {
                let bytes = r.read_bytes("finalize error", ERROR_TEXT_MAX)?;
                Some(
                    String::from_utf8(bytes)
                        .map_err(|_| DecodeError::InvalidValue("finalize error is not UTF-8"))?,
                )
            }
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "option",
                    tag,
                })
            }
        };
        Ok(CampaignResult {
            outcome,
            contributors,
            aggregate,
            outputs,
            finalize_error,
            paid_each: Decode::decode_from(r)?,
            refunded: Decode::decode_from(r)?,
        })
    }
}

/// Why a ChainCode transaction was refused. Every refusal changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainCodeError {
    /// The body does not decode.
    #[error("malformed chaincode transaction: {0}")]
    Malformed(DecodeError),
    /// The contract was refused at deploy.
    #[error("contract refused: {0}")]
    Contract(String),
    /// A contract with this hash is already deployed.
    #[error("contract already deployed")]
    AlreadyDeployed,
    /// No contract with this hash is deployed.
    #[error("unknown contract")]
    UnknownContract,
    /// The schema is invalid.
    #[error("invalid schema: {0}")]
    Schema(String),
    /// ε must be given for every field, each above zero.
    #[error("one ε per schema field is required, each above zero")]
    EpsilonPerField,
    /// The total ε asked of each member is above [`EPSILON_MILLI_MAX`].
    #[error("total ε {asked_milli}/1000 exceeds the cap {max_milli}/1000")]
    EpsilonTooLarge {
        /// Asked.
        asked_milli: u64,
        /// Cap.
        max_milli: u32,
    },
    /// The noise cannot be calibrated (ε too small for the cohort).
    #[error("noise calibration: {0}")]
    Noise(String),
    /// Cohort bounds must satisfy 2 ≤ min ≤ max ≤ [`COHORT_MAX`].
    #[error("cohort bounds must satisfy 2 <= min <= max <= {COHORT_MAX}")]
    CohortBounds,
    /// Deadlines must be increasing, in the future and within
    /// [`CAMPAIGN_SPAN_MAX`].
    #[error(
        "deadlines must be increasing, in the future and span at most {CAMPAIGN_SPAN_MAX} heights"
    )]
    Deadlines,
    /// Too many campaigns already close at that height.
    #[error("too many campaigns close at height {0}")]
    CloseSlotFull(u64),
    /// The escrow (price × max cohort) overflows.
    #[error("escrow overflows")]
    EscrowOverflow,
    /// A campaign with this id exists.
    #[error("campaign already exists")]
    DuplicateCampaign,
    /// No such campaign.
    #[error("unknown campaign")]
    UnknownCampaign,
    /// The transaction is not accepted in the campaign's current phase.
    #[error("not accepted at height {height}: the phase for it is {from}..={until}")]
    WrongPhase {
        /// The block's height.
        height: u64,
        /// First height of the phase.
        from: u64,
        /// Last height of the phase.
        until: u64,
    },
    /// The cohort is full.
    #[error("cohort is full")]
    CohortFull,
    /// The sender already joined.
    #[error("already a member")]
    AlreadyMember,
    /// The sender is not a member of the cohort.
    #[error("not a member of the cohort")]
    NotMember,
    /// The sender already contributed.
    #[error("already contributed")]
    AlreadyContributed,
    /// The message names someone other than its sender.
    #[error("the message names another member than its sender")]
    WrongSender,
    /// The contribution does not verify (bad proof, wrong shape, ...).
    #[error("invalid contribution: {0}")]
    InvalidContribution(String),
    /// Only contributors unmask.
    #[error("only contributors unmask")]
    NotContributor,
    /// The sender already unmasked.
    #[error("already unmasked")]
    AlreadyUnmasked,
    /// An unmask must carry exactly one seed for each member who did not
    /// contribute, and none for contributors.
    #[error("unmask must reveal exactly the seeds shared with the members who did not contribute")]
    UnmaskSeeds,
    /// Moving tokens failed.
    #[error("{0}")]
    Tokens(String),
    /// Stored state does not decode.
    #[error("corrupted chaincode state: {0}")]
    Corrupted(&'static str),
    /// A mask key of low order: key agreement with it is not contributory,
    /// and every other member's masking would fail.
    #[error("the mask key is of low order")]
    WeakMaskKey,
}

impl ChainCodeError {
    /// A stable numeric code (in [`ModuleError::code`]).
    pub fn code(&self) -> u16 {
        match self {
            ChainCodeError::Malformed(_) => 1,
            ChainCodeError::Contract(_) => 2,
            ChainCodeError::AlreadyDeployed => 3,
            ChainCodeError::UnknownContract => 4,
            ChainCodeError::Schema(_) => 5,
            ChainCodeError::EpsilonPerField => 6,
            ChainCodeError::EpsilonTooLarge { .. } => 7,
            ChainCodeError::Noise(_) => 8,
            ChainCodeError::CohortBounds => 9,
            ChainCodeError::Deadlines => 10,
            ChainCodeError::CloseSlotFull(_) => 11,
            ChainCodeError::EscrowOverflow => 12,
            ChainCodeError::DuplicateCampaign => 13,
            ChainCodeError::UnknownCampaign => 14,
            ChainCodeError::WrongPhase { .. } => 15,
            ChainCodeError::CohortFull => 16,
            ChainCodeError::AlreadyMember => 17,
            ChainCodeError::NotMember => 18,
            ChainCodeError::AlreadyContributed => 19,
            ChainCodeError::WrongSender => 20,
            ChainCodeError::InvalidContribution(_) => 21,
            ChainCodeError::NotContributor => 22,
            ChainCodeError::AlreadyUnmasked => 23,
            ChainCodeError::UnmaskSeeds => 24,
            ChainCodeError::Tokens(_) => 25,
            ChainCodeError::Corrupted(_) => 26,
            ChainCodeError::WeakMaskKey => 27,
        }
    }

    fn into_module(self) -> ModuleError {
        ModuleError {
            module: MODULE_ID,
            code: self.code(),
            reason: self.to_string(),
        }
    }
}

impl From<SchemaError> for ChainCodeError {
    fn from(error: SchemaError) -> Self {
        ChainCodeError::Schema(error.to_string())
    }
}

impl From<ContractError> for ChainCodeError {
    fn from(error: ContractError) -> Self {
        ChainCodeError::Contract(error.to_string())
    }
}

fn labelled_hash(label: &[u8], parts: &[&[u8]]) -> Hash {
    use blake2::digest::{consts::U32, Digest};
    let mut hasher = blake2::Blake2b::<U32>::new();
    hasher.update((label.len() as u32).to_le_bytes());
    hasher.update(label);
    for part in parts {
        hasher.update((part.len() as u32).to_le_bytes());
        hasher.update(part);
    }
    Hash(hasher.finalize().into())
}

/// The ChainCode ledger module. Register it with
/// `Ledger::with_module(Arc::new(ChainCode::default()))`.
#[derive(Clone, Debug, Default)]
pub struct ChainCode {
    _private: (),
}

impl ChainCode {
    /// The module.
    pub fn new() -> Self {
        ChainCode::default()
    }
}

fn get<T: Decode>(ctx: &ModuleContext<'_>, key: &[u8]) -> Result<Option<T>, ChainCodeError> {
    ctx.get(key)
        .map(|bytes| T::decode(&bytes).map_err(|_| ChainCodeError::Corrupted("record")))
        .transpose()
}

fn put<T: Encode>(ctx: &mut ModuleContext<'_>, key: &[u8], value: &T) {
    ctx.put(key, value.encode());
}

fn load_members(ctx: &ModuleContext<'_>, id: &Hash) -> Result<Vec<Member>, ChainCodeError> {
    match ctx.get(&keys::members(id)) {
        None => Ok(Vec::new()),
        Some(bytes) => decode_members(&bytes),
    }
}

/// Decode a stored cohort (the value under [`keys::members`]).
///
/// # Errors
/// [`ChainCodeError::Corrupted`] when the bytes are not a member list.
pub fn decode_members(bytes: &[u8]) -> Result<Vec<Member>, ChainCodeError> {
    let mut r = Reader::new(bytes);
    let len = r
        .read_len("members", COHORT_MAX as usize)
        .map_err(|_| ChainCodeError::Corrupted("members"))?;
    let mut members = Vec::with_capacity(len);
    for _ in 0..len {
        let account =
            PublicKey::decode_from(&mut r).map_err(|_| ChainCodeError::Corrupted("members"))?;
        let mask_key =
            MaskPublic::decode_from(&mut r).map_err(|_| ChainCodeError::Corrupted("members"))?;
        members.push(Member { account, mask_key });
    }
    r.finish()
        .map_err(|_| ChainCodeError::Corrupted("members"))?;
    Ok(members)
}

fn encode_members(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + members.len() * 64);
    encoding::write_len(&mut out, members.len());
    for member in members {
        member.account.encode_to(&mut out);
        member.mask_key.encode_to(&mut out);
    }
    out
}

fn phase(height: u64, from: u64, until: u64) -> Result<(), ChainCodeError> {
    if height < from || height > until {
        return Err(ChainCodeError::WrongPhase {
            height,
            from,
            until,
        });
    }
    Ok(())
}

impl ChainCode {
    fn apply(
        &self,
        ctx: &mut ModuleContext<'_>,
        sender: &PublicKey,
        tx: ChainCodeTx,
    ) -> Result<(), ChainCodeError> {
        match tx {
            ChainCodeTx::Deploy { code } => {
                let contract = Contract::load(&code)?;
                let key = keys::code(&contract.hash());
                if ctx.get(&key).is_some() {
                    return Err(ChainCodeError::AlreadyDeployed);
                }
                ctx.put(&key, code);
                Ok(())
            }
            ChainCodeTx::Open(open) => self.open(ctx, sender, open),
            ChainCodeTx::Join { campaign, mask_key } => {
                if !mask_key.is_contributory() {
                    return Err(ChainCodeError::WeakMaskKey);
                }
                let mut record = self.campaign(ctx, &campaign)?;
                phase(ctx.height(), 0, record.open.join_deadline)?;
                let mut members = load_members(ctx, &campaign)?;
                let at = match members.binary_search_by(|m| m.account.cmp(sender)) {
                    Ok(_) => return Err(ChainCodeError::AlreadyMember),
                    Err(at) => at,
                };
                if record.members >= record.open.max_cohort {
                    return Err(ChainCodeError::CohortFull);
                }
                members.insert(
                    at,
                    Member {
                        account: *sender,
                        mask_key,
                    },
                );
                record.members += 1;
                ctx.put(&keys::members(&campaign), encode_members(&members));
                put(ctx, &keys::campaign(&campaign), &record);
                Ok(())
            }
            ChainCodeTx::Contribute(contribution) => {
                let id = contribution.campaign;
                let mut record = self.campaign(ctx, &id)?;
                phase(
                    ctx.height(),
                    record.open.join_deadline + 1,
                    record.open.contribute_deadline,
                )?;
                if contribution.member != *sender {
                    return Err(ChainCodeError::WrongSender);
                }
                let members = load_members(ctx, &id)?;
                if members.binary_search_by(|m| m.account.cmp(sender)).is_err() {
                    return Err(ChainCodeError::NotMember);
                }
                let key = keys::contribution(&id, sender);
                if ctx.get(&key).is_some() {
                    return Err(ChainCodeError::AlreadyContributed);
                }
                contribution
                    .verify(&members, &record.bounds())
                    .map_err(|e| ChainCodeError::InvalidContribution(e.to_string()))?;
                record.contributors += 1;
                put(ctx, &key, &contribution);
                put(ctx, &keys::campaign(&id), &record);
                Ok(())
            }
            ChainCodeTx::Unmask {
                campaign: id,
                unmask,
            } => {
                if unmask.member != *sender {
                    return Err(ChainCodeError::WrongSender);
                }
                let record = self.campaign(ctx, &id)?;
                phase(
                    ctx.height(),
                    record.open.contribute_deadline + 1,
                    record.open.unmask_deadline,
                )?;
                if ctx.get(&keys::contribution(&id, sender)).is_none() {
                    return Err(ChainCodeError::NotContributor);
                }
                let key = keys::unmask(&id, sender);
                if ctx.get(&key).is_some() {
                    return Err(ChainCodeError::AlreadyUnmasked);
                }
                let members = load_members(ctx, &id)?;
                let mut dropped: Vec<PublicKey> = Vec::new();
                for m in &members {
                    if ctx.get(&keys::contribution(&id, &m.account)).is_none() {
                        dropped.push(m.account);
                    }
                }
                let mut named: Vec<PublicKey> = unmask.seeds.iter().map(|(k, _)| *k).collect();
                named.sort();
                named.dedup();
                if named != dropped || named.len() != unmask.seeds.len() {
                    return Err(ChainCodeError::UnmaskSeeds);
                }
                put(ctx, &key, &unmask);
                Ok(())
            }
        }
    }

    fn campaign(
        &self,
        ctx: &ModuleContext<'_>,
        id: &Hash,
    ) -> Result<CampaignRecord, ChainCodeError> {
        get(ctx, &keys::campaign(id))?.ok_or(ChainCodeError::UnknownCampaign)
    }

    fn open(
        &self,
        ctx: &mut ModuleContext<'_>,
        sender: &PublicKey,
        open: OpenCampaign,
    ) -> Result<(), ChainCodeError> {
        open.schema.validate()?;
        if open.schema.cells() > crate::proof::CELLS_MAX {
            return Err(ChainCodeError::Schema(format!(
                "{} cells; a contribution proves at most {}",
                open.schema.cells(),
                crate::proof::CELLS_MAX
            )));
        }
        if ctx.get(&keys::code(&open.contract)).is_none() {
            return Err(ChainCodeError::UnknownContract);
        }
        if open.epsilon_milli.len() != open.schema.fields.len() || open.epsilon_milli.contains(&0) {
            return Err(ChainCodeError::EpsilonPerField);
        }
        let total = open.epsilon_total_milli();
        if total > u64::from(EPSILON_MILLI_MAX) {
            return Err(ChainCodeError::EpsilonTooLarge {
                asked_milli: total,
                max_milli: EPSILON_MILLI_MAX,
            });
        }
        if open.min_cohort < 2 || open.min_cohort > open.max_cohort || open.max_cohort > COHORT_MAX
        {
            return Err(ChainCodeError::CohortBounds);
        }
        let height = ctx.height();
        if open.join_deadline < height
            || open.contribute_deadline <= open.join_deadline
            || open.unmask_deadline <= open.contribute_deadline
            || open.unmask_deadline - height > CAMPAIGN_SPAN_MAX
        {
            return Err(ChainCodeError::Deadlines);
        }
        let coins = coins_per_cell(&open.schema, &open.epsilon_milli, open.min_cohort)?;
        // Every proven bound must fit the widest proof.
        for bound in cell_bounds(&open.schema, &coins) {
            if bound.bound >= 1 << 32 {
                return Err(ChainCodeError::Noise(
                    "a cell's bound plus its noise exceeds 2^32".to_string(),
                ));
            }
        }
        let escrow = open
            .price
            .0
            .checked_mul(u64::from(open.max_cohort))
            .map(Amount)
            .ok_or(ChainCodeError::EscrowOverflow)?;
        let id = open.id(sender);
        if ctx.get(&keys::campaign(&id)).is_some() {
            return Err(ChainCodeError::DuplicateCampaign);
        }
        let close_at = open.unmask_deadline + 1;
        let mut due: Vec<Hash> = match ctx.get(&keys::due(close_at)) {
            None => Vec::new(),
            Some(bytes) => decode_hashes(&bytes)?,
        };
        if due.len() >= CLOSES_PER_HEIGHT_MAX {
            return Err(ChainCodeError::CloseSlotFull(close_at));
        }
        ctx.debit(sender, escrow)
            .map_err(|e| ChainCodeError::Tokens(e.reason))?;
        due.push(id);
        ctx.put(&keys::due(close_at), encode_hashes(&due));
        let record = CampaignRecord {
            company: *sender,
            open,
            coins,
            escrow,
            members: 0,
            contributors: 0,
            outcome: CampaignOutcome::Open,
        };
        put(ctx, &keys::campaign(&id), &record);
        Ok(())
    }

    /// Close one campaign: sum, check, finalize, pay, refund.
    fn close(&self, ctx: &mut ModuleContext<'_>, id: &Hash) -> Result<(), ChainCodeError> {
        let mut record = self.campaign(ctx, id)?;
        if record.outcome != CampaignOutcome::Open {
            return Ok(());
        }
        let members = load_members(ctx, id)?;
        let mut contributions = Vec::new();
        let mut unmasks = Vec::new();
        let mut contributors = Vec::new();
        for m in &members {
            if let Some(c) = get::<Contribution>(ctx, &keys::contribution(id, &m.account))? {
                contributions.push(c);
                contributors.push(m.account);
                if let Some(u) = get::<Unmask>(ctx, &keys::unmask(id, &m.account))? {
                    unmasks.push(u);
                }
            }
        }
        let n = contributions.len() as u32;
        let dropped = members.len() - contributions.len();
        let mut result = CampaignResult {
            outcome: CampaignOutcome::Released,
            contributors: n,
            aggregate: Vec::new(),
            outputs: Vec::new(),
            finalize_error: None,
            paid_each: Amount::ZERO,
            refunded: Amount::ZERO,
        };
        let sums = if n < record.open.min_cohort {
            result.outcome = CampaignOutcome::BelowMinimum;
            None
        } else if dropped > 0 && unmasks.len() < contributions.len() {
            result.outcome = CampaignOutcome::Failed(FailReason::MissingUnmask);
            None
        } else {
            match contribution::close(id, &members, &record.bounds(), &contributions, &unmasks) {
                Ok(sums) => Some(sums),
                Err(_) => {
                    result.outcome = CampaignOutcome::Failed(FailReason::SumMismatch);
                    None
                }
            }
        };
        if let Some(sums) = sums {
            let aggregate: Vec<i64> = sums
                .iter()
                .zip(&record.coins)
                .map(|(&sum, &k)| noise::centered(sum, n, k))
                .collect();
            let thresholds = presence_thresholds(&record.open.schema, &record.coins, n);
            match ctx.get(&keys::code(&record.open.contract)) {
                Some(code) => match Contract::load(&code) {
                    Ok(contract) => {
                        let input = FinalizeInput {
                            aggregate: &aggregate,
                            contributors: n,
                            presence_threshold: &thresholds,
                            salt: &id.0,
                        };
                        match contract.finalize(&record.open.schema, &input, &Limits::FINALIZE) {
                            Ok(outputs) => result.outputs = outputs,
                            Err(e) => {
                                let mut text = e.to_string();
                                text.truncate(ERROR_TEXT_MAX);
                                result.finalize_error = Some(text);
                            }
                        }
                    }
                    Err(e) => {
                        let mut text = e.to_string();
                        text.truncate(ERROR_TEXT_MAX);
                        result.finalize_error = Some(text);
                    }
                },
                None => result.outcome = CampaignOutcome::Failed(FailReason::ContractUnusable),
            }
            if result.outcome == CampaignOutcome::Released {
                result.aggregate = aggregate;
            }
        }
        let mut escrow = record.escrow;
        if result.outcome == CampaignOutcome::Released {
            for account in &contributors {
                ctx.credit(account, record.open.price)
                    .map_err(|_| ChainCodeError::Corrupted("escrow below payouts"))?;
                ctx.put(&keys::paid(id, account), record.open.price.0.encode());
                escrow = Amount(escrow.0.saturating_sub(record.open.price.0));
            }
            result.paid_each = record.open.price;
        }
        if escrow != Amount::ZERO {
            ctx.credit(&record.company, escrow)
                .map_err(|_| ChainCodeError::Corrupted("escrow below refund"))?;
        }
        result.refunded = escrow;
        // Drop what is no longer needed; keep the record, the result and
        // the receipts.
        for m in &members {
            ctx.delete(&keys::contribution(id, &m.account));
            ctx.delete(&keys::unmask(id, &m.account));
        }
        ctx.delete(&keys::members(id));
        record.escrow = Amount::ZERO;
        record.outcome = result.outcome;
        put(ctx, &keys::campaign(id), &record);
        put(ctx, &keys::result(id), &result);
        Ok(())
    }
}

fn decode_hashes(bytes: &[u8]) -> Result<Vec<Hash>, ChainCodeError> {
    let mut r = Reader::new(bytes);
    let hashes = r
        .read_vec("campaign ids", CLOSES_PER_HEIGHT_MAX)
        .map_err(|_| ChainCodeError::Corrupted("due list"))?;
    r.finish()
        .map_err(|_| ChainCodeError::Corrupted("due list"))?;
    Ok(hashes)
}

fn encode_hashes(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::new();
    encoding::write_vec(&mut out, hashes);
    out
}

impl LedgerModule for ChainCode {
    fn id(&self) -> u8 {
        MODULE_ID
    }

    fn check(&self, _sender: &PublicKey, body: &[u8]) -> Result<(), ModuleError> {
        ChainCodeTx::decode(body)
            .map(|_| ())
            .map_err(|e| ChainCodeError::Malformed(e).into_module())
    }

    fn execute(
        &self,
        ctx: &mut ModuleContext<'_>,
        sender: &PublicKey,
        body: &[u8],
    ) -> Result<(), ModuleError> {
        let tx =
            ChainCodeTx::decode(body).map_err(|e| ChainCodeError::Malformed(e).into_module())?;
        self.apply(ctx, sender, tx)
            .map_err(ChainCodeError::into_module)
    }

    fn end_block(&self, ctx: &mut ModuleContext<'_>) -> Result<(), ModuleError> {
        let key = keys::due(ctx.height());
        let Some(bytes) = ctx.get(&key) else {
            return Ok(());
        };
        let due = decode_hashes(&bytes).map_err(ChainCodeError::into_module)?;
        for id in &due {
            self.close(ctx, id).map_err(ChainCodeError::into_module)?;
        }
        ctx.delete(&key);
        Ok(())
    }
}

/// Read a campaign's record from raw state bytes (for clients holding a
/// state proof of [`keys::campaign`]).
///
/// # Errors
/// [`DecodeError`] when the bytes are not a record.
pub fn decode_campaign(bytes: &[u8]) -> Result<CampaignRecord, DecodeError> {
    CampaignRecord::decode(bytes)
}

/// Read a campaign's result from raw state bytes (for clients holding a
/// state proof of [`keys::result`]).
///
/// # Errors
/// [`DecodeError`] when the bytes are not a result.
pub fn decode_result(bytes: &[u8]) -> Result<CampaignResult, DecodeError> {
    CampaignResult::decode(bytes)
}
