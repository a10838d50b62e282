//! A single-process chain for development and tests.
//!
//! `DevChain` runs the real ledger state machine and signs real commit
//! certificates, but its validators are simulated in-process (their keys are
//! derived from the chain id) and there is no network and no consensus
//! protocol. It lets partners walk the whole flow (register, grant, command,
//! revoke) against light clients without running a node. Not for
//! production.
//!
//! The ledger runs the ChainCode module
//! ([`itc_chaincode::campaign::ChainCode`]), so a whole analytics campaign
//! (deploy, open, join, contribute, unmask, close, payouts) can be walked
//! from a binding: [`DevChain::submit_chaincode`] sends a module
//! transaction, [`DevChain::advance_to`] moves the chain to a deadline, and
//! the `campaign_*` methods read the campaign's state.
//!
//! # Validator sets
//! The simulated validators start as the genesis set and stay until
//! [`DevChain::rotate_validators`] simulates an epoch boundary: the next
//! block names a new, disjoint set of simulated keys as its
//! `next_validator_set_hash`, and the block after it is signed by that set.
//! A light client follows across with the adjacent update of the first
//! block of the new set (or bisects to it), which carries the new set.

use super::chaincode::{campaign_id, PaymentReceiptProof};
use super::keys::Keypair as FfiKeypair;
use super::light_client::lock;
use super::seal::SealSuite;
use super::transaction::Transaction;
use crate::error::ItcError;
use crate::facade::public_key;
use itc_chaincode::campaign::{keys as cc_keys, ChainCode, ChainCodeTx, MODULE_ID};
use itc_core::encoding::Decode;
use itc_core::encoding::Encode;
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Hash;
use itc_core::keys::Keypair;
use itc_core::ledger::{state_key, BlockContext, Ledger};
use itc_core::merkle;
use itc_core::types::{Amount, Payload};
use itc_core::types::{
    BlockHeader, ChainId, CommitCertificate, Validator, ValidatorSet, Vote, VoteKind,
    VALIDATORS_MAX,
};
use itc_spv::firmware::UpdateOffer;
use itc_spv::{CommandProof, HeaderUpdate, StateEntryProof, TransactionProof};
use std::sync::{Arc, Mutex};

/// Blocks per epoch of the dev chain's *ledger*: large, so the ledger's own
/// epoch logic never changes the simulated validators; epoch boundaries are
/// simulated by [`DevChain::rotate_validators`].
const DEV_EPOCH_LENGTH: u64 = 1 << 40;

/// Weight of each simulated validator.
const DEV_VALIDATOR_WEIGHT: u64 = 10;

/// The most empty blocks one [`DevChain::advance_to`] call commits.
pub const ADVANCE_BLOCKS_MAX: u64 = 100_000;

/// The fee of the transactions [`DevChain::chaincode_transaction`] builds
/// (the dev chain's minimum fee).
pub const DEV_CHAIN_FEE: u64 = 1;

/// An account funded at genesis.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FundedAccount {
    /// The account's public key (32 bytes).
    pub public_key: Vec<u8>,
    /// Its balance in base units.
    pub balance: u64,
}

#[derive(Debug)]
struct Block {
    header: BlockHeader,
    certificate: CommitCertificate,
    validators: ValidatorSet,
    transaction_hashes: Vec<Hash>,
}

#[derive(Debug)]
struct State {
    chain_id: ChainId,
    /// The simulated keys that sign the next block, and their set.
    validator_keys: Vec<Keypair>,
    validators: ValidatorSet,
    /// The set announced by [`DevChain::rotate_validators`], which takes
    /// over after the next block.
    next: Option<(Vec<Keypair>, ValidatorSet)>,
    /// How many times the set rotated (part of the simulated keys' seeds).
    generation: u32,
    ledger: Ledger,
    blocks: Vec<Block>,
}

/// `count` simulated validator keys of `chain_id` for a set generation.
fn simulated_keys(chain_id: u32, count: u32, generation: u32) -> Vec<Keypair> {
    (0..count)
        .map(|index| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(b"devchain");
            seed[8..12].copy_from_slice(&chain_id.to_le_bytes());
            seed[12..16].copy_from_slice(&index.to_le_bytes());
            seed[16..20].copy_from_slice(&generation.to_le_bytes());
            Keypair::from_seed(seed)
        })
        .collect()
}

/// The set of `keys`, each of weight [`DEV_VALIDATOR_WEIGHT`].
fn simulated_set(keys: &[Keypair]) -> Result<ValidatorSet, ItcError> {
    ValidatorSet::new(
        keys.iter()
            .map(|key| Validator {
                key: key.public(),
                weight: DEV_VALIDATOR_WEIGHT,
            })
            .collect(),
    )
    .map_err(|e| ItcError::Internal {
        reason: format!("simulated validator set: {e}"),
    })
}

impl State {
    fn certify(&mut self, mut header: BlockHeader, transaction_hashes: Vec<Hash>) {
        // The current set signs; the header announces the rotated set, if
        // one is pending, as the next one, which then takes over.
        let validators = self.validators.clone();
        header.validator_set_hash = validators.hash();
        header.next_validator_set_hash = match &self.next {
            Some((_, next)) => next.hash(),
            None => validators.hash(),
        };
        header.proposer = self.validator_keys[0].public();
        let hash = header.hash();
        let votes: Vec<Vote> = self
            .validator_keys
            .iter()
            .map(|key| {
                Vote::new_signed(key, self.chain_id, VoteKind::Commit, header.height, 0, hash)
            })
            .collect();
        let certificate =
            CommitCertificate::from_votes(self.chain_id, header.height, 0, hash, &votes);
        self.blocks.push(Block {
            header,
            certificate,
            validators,
            transaction_hashes,
        });
        if let Some((keys, set)) = self.next.take() {
            self.validator_keys = keys;
            self.validators = set;
        }
    }

    fn block(&self, height: u64) -> Result<&Block, ItcError> {
        usize::try_from(height)
            .ok()
            .and_then(|h| self.blocks.get(h))
            .ok_or_else(|| ItcError::invalid_argument(format!("no block at height {height}")))
    }

    fn entry(&mut self, key: &Hash) -> StateEntryProof {
        let (value, proof) = self.ledger.prove(key);
        StateEntryProof { value, proof }
    }

    /// A ChainCode module value by its module key.
    fn module_value(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.ledger
            .get_raw(&state_key::module(MODULE_ID, key))
            .map(<[u8]>::to_vec)
    }

    fn latest_header(&self) -> Result<BlockHeader, ItcError> {
        self.blocks
            .last()
            .map(|b| b.header.clone())
            .ok_or_else(|| ItcError::Internal {
                reason: "dev chain without genesis".into(),
            })
    }

    /// Apply `transactions` as the next block and certify it.
    fn commit(
        &mut self,
        transactions: &[itc_core::types::Transaction],
        time_ms: u64,
    ) -> Result<u64, ItcError> {
        let previous = self.latest_header()?;
        let proposer = self.validator_keys[0].public();
        let height = previous.height + 1;
        let context = BlockContext {
            height,
            proposer,
            time_ms,
        };
        let outcome = self
            .ledger
            .apply_block(&context, transactions)
            .map_err(|e| ItcError::TransactionRejected {
                reason: e.to_string(),
            })?;
        let transaction_hashes: Vec<Hash> = transactions.iter().map(|t| t.hash()).collect();
        let header = BlockHeader {
            chain_id: self.chain_id,
            height,
            previous_hash: previous.hash(),
            tx_root: merkle::root(&transaction_hashes),
            tx_count: transaction_hashes.len() as u64,
            state_root: outcome.state_root,
            dag_anchor_root: Hash::ZERO,
            dag_anchor_hash: Hash::ZERO,
            validator_set_hash: Hash::ZERO,
            next_validator_set_hash: Hash::ZERO,
            time_ms,
            proposer,
            view: 0,
        };
        self.certify(header, transaction_hashes);
        Ok(height)
    }

    /// A signed ChainCode module transaction from `sender` with its next
    /// nonce.
    fn chaincode_tx(&self, sender: &FfiKeypair, body: Vec<u8>) -> itc_core::types::Transaction {
        let nonce = self.ledger.account(&sender.inner.public()).nonce;
        itc_core::types::Transaction::new_signed(
            &sender.inner,
            self.chain_id,
            nonce,
            Amount(DEV_CHAIN_FEE),
            Payload::Module {
                module: MODULE_ID,
                body,
            },
        )
    }
}

/// Check that `body` decodes as a ChainCode transaction, so a malformed
/// body is a decode error at the binding instead of a refused block.
fn check_chaincode_body(body: &[u8]) -> Result<(), ItcError> {
    ChainCodeTx::decode(body)?;
    Ok(())
}

/// A single-process development chain (see the module docs).
#[derive(Debug, uniffi::Object)]
pub struct DevChain {
    state: Mutex<State>,
}

#[uniffi::export]
impl DevChain {
    /// A chain with `validator_count` simulated validators of equal weight,
    /// the given funded accounts, a genesis header at height 0 certified at
    /// `genesis_time_ms`, and a minimum fee of 1.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] for a bad key or validator count.
    #[uniffi::constructor]
    pub fn new(
        chain_id: u32,
        validator_count: u32,
        accounts: Vec<FundedAccount>,
        genesis_time_ms: u64,
    ) -> Result<Arc<Self>, ItcError> {
        if validator_count == 0 || validator_count as usize > VALIDATORS_MAX {
            return Err(ItcError::invalid_argument(format!(
                "validator count must be 1..={VALIDATORS_MAX}"
            )));
        }
        let validator_keys = simulated_keys(chain_id, validator_count, 0);
        let validators = simulated_set(&validator_keys)?;
        let accounts = accounts
            .iter()
            .map(|account| {
                Ok(GenesisAccount {
                    public_key: public_key(&account.public_key, "account public key")?,
                    balance: account.balance,
                })
            })
            .collect::<Result<Vec<_>, ItcError>>()?;
        let genesis = Genesis {
            chain_id,
            genesis_time_ms,
            epoch_length: DEV_EPOCH_LENGTH,
            accounts,
            validators: validator_keys
                .iter()
                .map(|key| GenesisValidator {
                    public_key: key.public(),
                    weight: DEV_VALIDATOR_WEIGHT,
                })
                .collect(),
            ..Genesis::default()
        };
        let (ledger, _writes) = Ledger::from_genesis(&genesis)
            .map_err(|e| ItcError::invalid_argument(e.to_string()))?;
        let mut ledger = ledger
            .with_module(Arc::new(ChainCode::new()))
            .map_err(|e| ItcError::Internal {
                reason: e.to_string(),
            })?;
        let header = BlockHeader {
            chain_id: ChainId(chain_id),
            height: 0,
            previous_hash: Hash::ZERO,
            tx_root: merkle::empty_root(),
            tx_count: 0,
            state_root: ledger.state_root(),
            dag_anchor_root: Hash::ZERO,
            dag_anchor_hash: Hash::ZERO,
            validator_set_hash: Hash::ZERO,
            next_validator_set_hash: Hash::ZERO,
            time_ms: genesis_time_ms,
            proposer: validator_keys[0].public(),
            view: 0,
        };
        let mut state = State {
            chain_id: ChainId(chain_id),
            validator_keys,
            validators,
            next: None,
            generation: 0,
            ledger,
            blocks: Vec::new(),
        };
        state.certify(header, Vec::new());
        Ok(Arc::new(DevChain {
            state: Mutex::new(state),
        }))
    }

    /// Apply `transactions` as the next block at `time_ms`, certify its
    /// header, and return its height. The block is atomic: if any
    /// transaction is invalid nothing changes.
    ///
    /// # Errors
    /// [`ItcError::TransactionRejected`] naming the first invalid
    /// transaction and why.
    pub fn commit_block(
        &self,
        transactions: Vec<Arc<Transaction>>,
        time_ms: u64,
    ) -> Result<u64, ItcError> {
        let transactions: Vec<_> = transactions.iter().map(|t| t.inner.clone()).collect();
        lock(&self.state).commit(&transactions, time_ms)
    }

    /// Height of the latest block (0 = genesis).
    pub fn height(&self) -> u64 {
        lock(&self.state).ledger.height()
    }

    /// The header at `height` (canonical bytes).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] for a height not yet reached.
    pub fn header(&self, height: u64) -> Result<Vec<u8>, ItcError> {
        Ok(lock(&self.state).block(height)?.header.encode())
    }

    /// Hash of the header at `height`: the value a device pins.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] for a height not yet reached.
    pub fn header_hash(&self, height: u64) -> Result<Vec<u8>, ItcError> {
        Ok(lock(&self.state).block(height)?.header.hash().0.to_vec())
    }

    /// The validator set that signed the header at `height` (canonical
    /// bytes).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] for a height not yet reached.
    pub fn validator_set(&self, height: u64) -> Result<Vec<u8>, ItcError> {
        Ok(lock(&self.state).block(height)?.validators.encode())
    }

    /// The header update for `height`: header, commit certificate and
    /// signing set, as a light client takes it. The signing set is always
    /// carried (so the update serves an adjacent step, a skip, a step across
    /// a validator-set rotation and an owner recovery alike).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] for a height not yet reached.
    pub fn header_update(&self, height: u64) -> Result<Vec<u8>, ItcError> {
        let state = lock(&self.state);
        let block = state.block(height)?;
        Ok(HeaderUpdate {
            header: block.header.clone(),
            certificate: block.certificate.clone(),
            validators: Some(block.validators.clone()),
        }
        .encode())
    }

    /// An account's next nonce.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the key is not 32 bytes.
    pub fn nonce(&self, account: Vec<u8>) -> Result<u64, ItcError> {
        let account = public_key(&account, "account")?;
        Ok(lock(&self.state).ledger.account(&account).nonce)
    }

    /// An account's balance.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the key is not 32 bytes.
    pub fn balance(&self, account: Vec<u8>) -> Result<u64, ItcError> {
        let account = public_key(&account, "account")?;
        Ok(lock(&self.state).ledger.account(&account).balance.0)
    }

    /// What a grantee sends with a command: proofs of the device's
    /// registration and of the grant (or its absence) at the latest header.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if a key is not 32 bytes.
    pub fn command_proof(&self, device: Vec<u8>, grantee: Vec<u8>) -> Result<Vec<u8>, ItcError> {
        let device = public_key(&device, "device")?;
        let grantee = public_key(&grantee, "grantee")?;
        let mut state = lock(&self.state);
        let header = state.blocks.last().map(|b| b.header.clone());
        let header = header.ok_or_else(|| ItcError::Internal {
            reason: "dev chain without genesis".into(),
        })?;
        Ok(CommandProof {
            header_height: header.height,
            header_hash: header.hash(),
            device: state.entry(&state_key::device(&device)),
            grant: state.entry(&state_key::grant(&device, &grantee)),
        }
        .encode())
    }

    /// Proof of the grant of `device` to `grantee` (or of its absence) at the
    /// latest header.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if a key is not 32 bytes.
    pub fn grant_proof(&self, device: Vec<u8>, grantee: Vec<u8>) -> Result<Vec<u8>, ItcError> {
        let key = state_key::grant(
            &public_key(&device, "device")?,
            &public_key(&grantee, "grantee")?,
        );
        Ok(lock(&self.state).entry(&key).encode())
    }

    /// Proof of the registration of `device` (or of its absence) at the
    /// latest header.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the key is not 32 bytes.
    pub fn device_proof(&self, device: Vec<u8>) -> Result<Vec<u8>, ItcError> {
        let key = state_key::device(&public_key(&device, "device")?);
        Ok(lock(&self.state).entry(&key).encode())
    }

    /// Proof of the sealing key of `subject` for `suite` (or of its absence)
    /// at the latest header, for
    /// [`LightClient::verify_seal_key`](super::light_client::LightClient::verify_seal_key).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the key is not 32 bytes.
    pub fn seal_key_proof(&self, subject: Vec<u8>, suite: SealSuite) -> Result<Vec<u8>, ItcError> {
        let key = state_key::seal_key(&public_key(&subject, "subject")?, suite.to_core());
        Ok(lock(&self.state).entry(&key).encode())
    }

    /// The update offer for `product` at the latest header: the proofs of
    /// the product's record and of its current release (or of their
    /// absence), encoded as a device's
    /// [`LightClient::check_firmware_update`](super::light_client::LightClient::check_firmware_update)
    /// takes them.
    pub fn firmware_offer(&self, product: u64) -> Vec<u8> {
        let mut state = lock(&self.state);
        UpdateOffer {
            product: state.entry(&state_key::product(product)),
            release: state.entry(&state_key::release(product)),
        }
        .encode()
    }

    /// Simulate an epoch boundary with a new validator set: the next
    /// committed block is still signed by the current set but names a new,
    /// disjoint set of simulated keys (as many, of equal weight) as its next
    /// set, and every block after it is signed by the new set. Returns the
    /// new set's canonical bytes. Calling it twice before a block replaces
    /// the announced set.
    ///
    /// # Errors
    /// [`ItcError::Internal`] if the set cannot be built (a bug).
    pub fn rotate_validators(&self) -> Result<Vec<u8>, ItcError> {
        let mut state = lock(&self.state);
        let generation = state.generation.checked_add(1).ok_or_else(|| {
            ItcError::invalid_argument("the dev chain rotated its validators too often")
        })?;
        let count = state.validator_keys.len() as u32;
        let keys = simulated_keys(state.chain_id.0, count, generation);
        let set = simulated_set(&keys)?;
        let bytes = set.encode();
        state.generation = generation;
        state.next = Some((keys, set));
        Ok(bytes)
    }

    /// Proof that `transaction` is in the block at `height`.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the block does not hold it.
    pub fn transaction_proof(
        &self,
        transaction: Arc<Transaction>,
        height: u64,
    ) -> Result<Vec<u8>, ItcError> {
        let state = lock(&self.state);
        let block = state.block(height)?;
        let wanted = transaction.inner.hash();
        let index = block
            .transaction_hashes
            .iter()
            .position(|h| *h == wanted)
            .ok_or_else(|| {
                ItcError::invalid_argument(format!("transaction not in block {height}"))
            })?;
        let inclusion =
            merkle::prove(&block.transaction_hashes, index).ok_or_else(|| ItcError::Internal {
                reason: "inclusion proof out of range".into(),
            })?;
        Ok(TransactionProof {
            transaction: transaction.inner.clone(),
            inclusion,
        }
        .encode())
    }

    /// A signed ChainCode transaction (`Payload::Module` with the ChainCode
    /// module id) from `sender` carrying `body` (from a data node or the
    /// company helpers), with the sender's next nonce and fee 1. Commit it
    /// with [`DevChain::commit_block`] together with others in one block.
    ///
    /// # Errors
    /// [`ItcError::Decode`] if `body` is not a ChainCode transaction.
    pub fn chaincode_transaction(
        &self,
        sender: Arc<FfiKeypair>,
        body: Vec<u8>,
    ) -> Result<Arc<Transaction>, ItcError> {
        check_chaincode_body(&body)?;
        let inner = lock(&self.state).chaincode_tx(&sender, body);
        Ok(Arc::new(Transaction { inner }))
    }

    /// Sign `body` as a ChainCode transaction from `sender` and commit it
    /// alone in the next block at `time_ms`; returns the block's height.
    ///
    /// # Errors
    /// [`ItcError::Decode`] for a malformed body;
    /// [`ItcError::TransactionRejected`] when the ledger refuses it (wrong
    /// phase, not a member, duplicate contribution, bad proof, too poor to
    /// escrow, ...): nothing changes then and no block is added.
    pub fn submit_chaincode(
        &self,
        sender: Arc<FfiKeypair>,
        body: Vec<u8>,
        time_ms: u64,
    ) -> Result<u64, ItcError> {
        check_chaincode_body(&body)?;
        let mut state = lock(&self.state);
        let tx = state.chaincode_tx(&sender, body);
        state.commit(&[tx], time_ms)
    }

    /// Commit empty blocks at `time_ms` until the chain is at `height`
    /// (campaigns close in the block after their unmask deadline); returns
    /// the height reached. A height already passed commits nothing.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if more than [`ADVANCE_BLOCKS_MAX`]
    /// blocks would be needed.
    pub fn advance_to(&self, height: u64, time_ms: u64) -> Result<u64, ItcError> {
        let mut state = lock(&self.state);
        let now = state.ledger.height();
        if height.saturating_sub(now) > ADVANCE_BLOCKS_MAX {
            return Err(ItcError::invalid_argument(format!(
                "advancing from {now} to {height} exceeds {ADVANCE_BLOCKS_MAX} blocks"
            )));
        }
        while state.ledger.height() < height {
            state.commit(&[], time_ms)?;
        }
        Ok(state.ledger.height())
    }

    /// A campaign's record as stored on chain (decode it with
    /// [`decode_campaign_record`](super::chaincode::decode_campaign_record),
    /// pass it to [`DataNode::contribute`](super::chaincode::DataNode::contribute)),
    /// or `None` for an unknown campaign.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the id is not 32 bytes.
    pub fn campaign_record(&self, campaign_id: Vec<u8>) -> Result<Option<Vec<u8>>, ItcError> {
        let id = campaign_id_arg(&campaign_id)?;
        Ok(lock(&self.state).module_value(&cc_keys::campaign(&id)))
    }

    /// A campaign's cohort (canonical bytes, as a data node takes them); an
    /// empty cohort when nobody joined or the campaign has closed (the
    /// cohort is deleted at close).
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the id is not 32 bytes.
    pub fn campaign_members(&self, campaign_id: Vec<u8>) -> Result<Vec<u8>, ItcError> {
        let id = campaign_id_arg(&campaign_id)?;
        Ok(lock(&self.state)
            .module_value(&cc_keys::members(&id))
            .unwrap_or_else(|| 0u32.encode()))
    }

    /// The accounts (32-byte keys) whose contribution to a campaign was
    /// accepted and is still held (until close): what a contributor needs
    /// to unmask.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the id is not 32 bytes;
    /// [`ItcError::Decode`] if the stored cohort is corrupted.
    pub fn campaign_contributors(&self, campaign_id: Vec<u8>) -> Result<Vec<Vec<u8>>, ItcError> {
        let id = campaign_id_arg(&campaign_id)?;
        let state = lock(&self.state);
        let Some(members) = state.module_value(&cc_keys::members(&id)) else {
            return Ok(Vec::new());
        };
        let members =
            itc_chaincode::campaign::decode_members(&members).map_err(|e| ItcError::Decode {
                reason: e.to_string(),
            })?;
        Ok(members
            .iter()
            .filter(|m| {
                state
                    .module_value(&cc_keys::contribution(&id, &m.account))
                    .is_some()
            })
            .map(|m| m.account.0.to_vec())
            .collect())
    }

    /// A closed campaign's published result (decode it with
    /// [`decode_campaign_result`](super::chaincode::decode_campaign_result)),
    /// or `None` while it is open or for an unknown campaign.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the id is not 32 bytes.
    pub fn campaign_result(&self, campaign_id: Vec<u8>) -> Result<Option<Vec<u8>>, ItcError> {
        let id = campaign_id_arg(&campaign_id)?;
        Ok(lock(&self.state).module_value(&cc_keys::result(&id)))
    }

    /// The payment receipt of `member` in a campaign, with a state proof at
    /// the latest header: check it with
    /// [`verify_payment_receipt`](super::chaincode::verify_payment_receipt)
    /// against a header your light client trusts.
    ///
    /// # Errors
    /// [`ItcError::InvalidArgument`] if the id or key is not 32 bytes.
    pub fn payment_receipt_proof(
        &self,
        campaign_id: Vec<u8>,
        member: Vec<u8>,
    ) -> Result<PaymentReceiptProof, ItcError> {
        let id = campaign_id_arg(&campaign_id)?;
        let member = public_key(&member, "member")?;
        let mut state = lock(&self.state);
        let header = state.latest_header()?;
        let key = state_key::module(MODULE_ID, &cc_keys::paid(&id, &member));
        let entry = state.entry(&key);
        let amount = match &entry.value {
            Some(bytes) => Some(u64::decode(bytes)?),
            None => None,
        };
        Ok(PaymentReceiptProof {
            height: header.height,
            amount,
            proof: entry.encode(),
        })
    }
}

fn campaign_id_arg(bytes: &[u8]) -> Result<Hash, ItcError> {
    campaign_id(bytes)
}
