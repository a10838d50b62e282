//! The user's data node: the contributor side of ChainCode.
//!
//! A [`DataNode`] runs where the user's data lives (the owner's phone app
//! or home gateway). It keeps the user's records, a long-term X25519 mask
//! key and the local privacy budget in the node's own store (any
//! [`Storage`], redb by default in a deployment), and it is the only place
//! where a contract ever sees a raw record:
//!
//! 1. [`DataNode::join`] makes the `Join` transaction (the mask key);
//! 2. [`DataNode::contribute`] runs the contract's `contribute` entry point
//!    over the records under fuel and memory limits, adds this member's
//!    noise share to every cell, commits, proves and masks the result,
//!    charges the campaign's ε to the budget (persisted before anything is
//!    returned) and returns the `Contribute` transaction together with a
//!    report of what was shared;
//! 3. [`DataNode::unmask`] reveals, after the contribution deadline, the
//!    pair seeds shared with members who did not contribute.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use itc_chaincode::node::DataNode;
//! use itc_core::keys::Keypair;
//! use itc_core::storage::MemoryStorage;
//! let account = Keypair::from_seed([7; 32]).public();
//! let mut node = DataNode::open(MemoryStorage::new(), account, 10_000, &mut rand_core::OsRng)?;
//! node.add_records(&[vec![0u8; 16]])?;
//! println!("budget left: {} thousandths of ε", node.budget().remaining_milli());
//! # Ok(()) }
//! ```

use crate::budget::{BudgetError, PrivacyBudget, Spent};
use crate::campaign::{CampaignRecord, ChainCodeTx};
use crate::contract::{Contract, ContractError, Limits, RunStatus};
use crate::contribution::{Contribution, ContributionError};
use crate::noise;
use crate::secagg::{MaskPublic, MaskSecret, Member, SecAggError};
use itc_core::hash::Hash;
use itc_core::keys::PublicKey;
use itc_core::storage::{Storage, StorageError, WriteBatch};
use rand_core::{CryptoRng, RngCore};

/// Storage key of the node's mask secret.
const MASK_KEY: &[u8] = b"chaincode/node/mask";
/// Storage key prefix of the user's records (`prefix || u64 big-endian`).
const RECORD_PREFIX: &[u8] = b"chaincode/records/";
/// The longest record a node stores.
pub const RECORD_BYTES_MAX: usize = 4096;
/// The most records a node feeds one contract run.
pub const RECORDS_PER_RUN_MAX: usize = crate::contract::RECORDS_MAX;

/// Why the data node refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node's store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The privacy budget refused (spent, or this campaign was charged
    /// already).
    #[error(transparent)]
    Budget(#[from] BudgetError),
    /// The contract cannot run here.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// The code given is not the campaign's contract.
    #[error("the code does not hash to the campaign's contract")]
    WrongContract,
    /// This node's account did not join the campaign (or joined with
    /// another mask key).
    #[error("this node is not a member of the cohort with its mask key")]
    NotMember,
    /// Building the contribution failed.
    #[error(transparent)]
    Contribution(#[from] ContributionError),
    /// Masking failed.
    #[error(transparent)]
    SecAgg(#[from] SecAggError),
    /// Noise could not be added.
    #[error("noise: {0}")]
    Noise(String),
    /// This node did not contribute to the campaign (or the list of
    /// contributors given omits it): it must not reveal seeds.
    #[error("this node did not contribute to the campaign")]
    NotContributor,
    /// A record is longer than [`RECORD_BYTES_MAX`].
    #[error("a record of {0} bytes exceeds the maximum")]
    RecordTooLong(usize),
    /// Stored bytes do not decode.
    #[error("corrupted node store: {0}")]
    Corrupted(&'static str),
}

/// What one contribution shared, for the user to see.
#[derive(Debug)]
pub struct ContributionReport {
    /// The transaction to send.
    pub tx: ChainCodeTx,
    /// The cells the contract produced, clamped, before noise (never sent).
    pub clear_cells: Vec<u64>,
    /// How the contract's run ended (a run that did not complete
    /// contributes zeros).
    pub status: RunStatus,
    /// Fuel the contract used.
    pub fuel_used: u64,
    /// ε charged, in thousandths.
    pub epsilon_milli: u32,
    /// Budget left, in thousandths of ε.
    pub remaining_milli: u32,
}

/// A campaign as the node sees it: its record and cohort (read from chain
/// with state proofs by the caller) and the contract's code.
#[derive(Clone, Copy, Debug)]
pub struct CampaignView<'a> {
    /// The campaign id.
    pub id: Hash,
    /// Its record.
    pub record: &'a CampaignRecord,
    /// The cohort, sorted by account.
    pub members: &'a [Member],
    /// The contract's code.
    pub code: &'a [u8],
    /// The chain height now (recorded in the budget's history).
    pub height: u64,
}

/// The contributor side of ChainCode on a user's own node.
pub struct DataNode<S: Storage> {
    account: PublicKey,
    mask: MaskSecret,
    budget: PrivacyBudget<S>,
    records: u64,
}

impl<S: Storage> core::fmt::Debug for DataNode<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DataNode")
            .field("account", &self.account)
            .field("mask_key", &self.mask.public())
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl<S: Storage> DataNode<S> {
    /// Open (or create) the node over its store. A new node draws its mask
    /// key from `rng` and sets its budget to `default_budget_milli`; an
    /// existing one keeps both.
    ///
    /// # Errors
    /// [`NodeError::Storage`], [`NodeError::Budget`] or
    /// [`NodeError::Corrupted`].
    pub fn open<R: RngCore + CryptoRng>(
        storage: S,
        account: PublicKey,
        default_budget_milli: u32,
        rng: &mut R,
    ) -> Result<Self, NodeError> {
        let mut budget = PrivacyBudget::open(storage, default_budget_milli)?;
        let mask = match budget.storage().get(MASK_KEY)? {
            Some(bytes) => {
                let bytes: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| NodeError::Corrupted("mask key"))?;
                MaskSecret::from_bytes(bytes)
            }
            None => {
                let mask = MaskSecret::generate(rng);
                let mut batch = WriteBatch::new();
                batch.put(MASK_KEY.to_vec(), mask.to_bytes().to_vec());
                budget.storage_mut().write(batch)?;
                mask
            }
        };
        let records = count_records(budget.storage())?;
        Ok(DataNode {
            account,
            mask,
            budget,
            records,
        })
    }

    /// The node's account.
    pub fn account(&self) -> PublicKey {
        self.account
    }

    /// The mask key this node publishes when it joins.
    pub fn mask_key(&self) -> MaskPublic {
        self.mask.public()
    }

    /// The node's mask secret (for the node's owner: it never leaves the
    /// node).
    pub fn mask_secret(&self) -> &MaskSecret {
        &self.mask
    }

    /// The privacy budget (what was shared, what is left).
    pub fn budget(&self) -> &PrivacyBudget<S> {
        &self.budget
    }

    /// The privacy budget, to change its total.
    pub fn budget_mut(&mut self) -> &mut PrivacyBudget<S> {
        &mut self.budget
    }

    /// Store records (one durable write).
    ///
    /// # Errors
    /// [`NodeError::RecordTooLong`] or [`NodeError::Storage`]; nothing is
    /// stored then.
    pub fn add_records(&mut self, records: &[Vec<u8>]) -> Result<(), NodeError> {
        let mut batch = WriteBatch::new();
        for (i, record) in records.iter().enumerate() {
            if record.len() > RECORD_BYTES_MAX {
                return Err(NodeError::RecordTooLong(record.len()));
            }
            let mut key = RECORD_PREFIX.to_vec();
            key.extend_from_slice(&(self.records + i as u64).to_be_bytes());
            batch.put(key, record.clone());
        }
        self.budget.storage_mut().write(batch)?;
        self.records += records.len() as u64;
        Ok(())
    }

    /// The number of stored records.
    pub fn record_count(&self) -> u64 {
        self.records
    }

    /// The stored records, oldest first (at most
    /// [`RECORDS_PER_RUN_MAX`]).
    ///
    /// # Errors
    /// [`NodeError::Storage`].
    pub fn records(&self) -> Result<Vec<Vec<u8>>, NodeError> {
        let mut out = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        while out.len() < RECORDS_PER_RUN_MAX {
            let page = self
                .budget
                .storage()
                .scan_prefix(RECORD_PREFIX, after.as_deref(), 1024)?;
            let Some(last) = page.last() else { break };
            after = Some(last.0.clone());
            out.extend(page.into_iter().map(|(_, value)| value));
        }
        out.truncate(RECORDS_PER_RUN_MAX);
        Ok(out)
    }

    /// The `Join` transaction for a campaign.
    pub fn join(&self, campaign: Hash) -> ChainCodeTx {
        ChainCodeTx::Join {
            campaign,
            mask_key: self.mask.public(),
        }
    }

    /// Run the campaign's contract over the stored records and make the
    /// `Contribute` transaction; charges the budget first (durably).
    ///
    /// # Errors
    /// [`NodeError::Budget`] when the budget is spent or this campaign was
    /// charged already (nothing is shared then); the other variants when
    /// the campaign or contract is unusable.
    pub fn contribute<R: RngCore + CryptoRng>(
        &mut self,
        rng: &mut R,
        view: &CampaignView<'_>,
    ) -> Result<ContributionReport, NodeError> {
        let records = self.records()?;
        let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        self.contribute_over(rng, view, &slices)
    }

    /// [`DataNode::contribute`] over records the caller supplies (for
    /// nodes that keep their records elsewhere).
    ///
    /// # Errors
    /// As [`DataNode::contribute`].
    pub fn contribute_over<R: RngCore + CryptoRng>(
        &mut self,
        rng: &mut R,
        view: &CampaignView<'_>,
        records: &[&[u8]],
    ) -> Result<ContributionReport, NodeError> {
        let record = view.record;
        let me = view
            .members
            .iter()
            .position(|m| m.account == self.account && m.mask_key == self.mask.public())
            .ok_or(NodeError::NotMember)?;
        let epsilon = u32::try_from(record.open.epsilon_total_milli()).unwrap_or(u32::MAX);
        // Refuse early, before running anything, when the budget says no.
        if self.budget.has_contributed(&view.id) {
            return Err(NodeError::Budget(BudgetError::AlreadyCharged {
                campaign: view.id,
            }));
        }
        if self.budget.remaining_milli() < epsilon {
            return Err(NodeError::Budget(BudgetError::Exhausted {
                remaining_milli: self.budget.remaining_milli(),
                asked_milli: epsilon,
            }));
        }
        // The hash is cheap; compile only the campaign's own code.
        if crate::contract::code_hash(view.code) != record.open.contract {
            return Err(NodeError::WrongContract);
        }
        let contract = Contract::load(view.code)?;
        let outcome = contract.contribute(
            &record.open.schema,
            &view.id.0,
            &records[..records.len().min(RECORDS_PER_RUN_MAX)],
            &Limits::CONTRIBUTE,
        )?;
        let clear_cells = outcome.cells.clone();
        let mut values = outcome.cells;
        noise::add_noise(rng, &mut values, &record.coins)
            .map_err(|e| NodeError::Noise(e.to_string()))?;
        let contribution = Contribution::build(
            rng,
            &view.id,
            me,
            view.members,
            &self.mask,
            &values,
            &record.bounds(),
        )?;
        self.budget.charge(Spent {
            campaign: view.id,
            epsilon_milli: epsilon,
            cells: clear_cells.len() as u32,
            height: view.height,
            note: describe(record),
        })?;
        Ok(ContributionReport {
            tx: ChainCodeTx::Contribute(contribution),
            clear_cells,
            status: outcome.status,
            fuel_used: outcome.fuel_used,
            epsilon_milli: epsilon,
            remaining_milli: self.budget.remaining_milli(),
        })
    }

    /// The `Unmask` transaction: the pair seeds this node shares with the
    /// members of `members` that are not in `contributed`.
    ///
    /// # Errors
    /// [`NodeError::NotMember`] or [`NodeError::SecAgg`].
    pub fn unmask(
        &self,
        campaign: Hash,
        members: &[Member],
        contributed: &[PublicKey],
    ) -> Result<ChainCodeTx, NodeError> {
        let me = members
            .iter()
            .position(|m| m.account == self.account)
            .ok_or(NodeError::NotMember)?;
        // Never reveal a seed shared with a member that contributed: the
        // caller's list must at least contain this node (which did
        // contribute), and should come from state proven at a height after
        // the contribution deadline.
        if !contributed.contains(&self.account) || !self.budget.has_contributed(&campaign) {
            return Err(NodeError::NotContributor);
        }
        let dropped: Vec<usize> = members
            .iter()
            .enumerate()
            .filter(|(_, m)| !contributed.contains(&m.account))
            .map(|(i, _)| i)
            .collect();
        let unmask = crate::secagg::unmask_for(&self.mask, me, members, &dropped, &campaign)?;
        Ok(ChainCodeTx::Unmask { campaign, unmask })
    }

    /// Give back the store.
    pub fn into_storage(self) -> S {
        self.budget.into_storage()
    }
}

fn describe(record: &CampaignRecord) -> String {
    crate::budget::truncate_note(&format!(
        "{} cells for contract {}",
        record.open.schema.cells(),
        itc_core::hex::encode(&record.open.contract.0[..8])
    ))
}

fn count_records<S: Storage>(storage: &S) -> Result<u64, NodeError> {
    let mut count = 0u64;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = storage.scan_prefix(RECORD_PREFIX, after.as_deref(), 1024)?;
        let Some(last) = page.last() else { break };
        after = Some(last.0.clone());
        count += page.len() as u64;
    }
    Ok(count)
}
