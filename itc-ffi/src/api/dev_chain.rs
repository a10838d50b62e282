//! A single-process chain for development and tests.
//!
//! `DevChain` runs the real ledger state machine and signs real commit
//! certificates, but its validators are simulated in-process (their keys are
//! derived from the chain id) and there is no network and no consensus
//! protocol. It lets partners walk the whole flow (register, grant, command,
//! revoke) against light clients without running a node. Not for
//! production.

use super::light_client::lock;
use super::public_key;
use super::transaction::Transaction;
use crate::error::ItcError;
use itc_core::encoding::Encode;
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Hash;
use itc_core::keys::Keypair;
use itc_core::ledger::{state_key, BlockContext, Ledger};
use itc_core::merkle;
use itc_core::types::{
    BlockHeader, ChainId, CommitCertificate, ValidatorSet, Vote, VoteKind, VALIDATORS_MAX,
};
use itc_spv::{CommandProof, HeaderUpdate, StateEntryProof, TransactionProof};
use std::sync::{Arc, Mutex};

/// Blocks per epoch on a dev chain: large, so the validator set stays the
/// simulated one.
const DEV_EPOCH_LENGTH: u64 = 1 << 40;

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
    validator_keys: Vec<Keypair>,
    ledger: Ledger,
    blocks: Vec<Block>,
}

impl State {
    fn certify(&mut self, mut header: BlockHeader, transaction_hashes: Vec<Hash>) {
        // The epoch is never reached, so the genesis set signs every block.
        let validators = self.ledger.validators().clone();
        header.validator_set_hash = validators.hash();
        header.next_validator_set_hash = validators.hash();
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
        let validator_keys: Vec<Keypair> = (0..validator_count)
            .map(|index| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(b"devchain");
                seed[8..12].copy_from_slice(&chain_id.to_le_bytes());
                seed[12..16].copy_from_slice(&index.to_le_bytes());
                Keypair::from_seed(seed)
            })
            .collect();
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
                    weight: 10,
                })
                .collect(),
            ..Genesis::default()
        };
        let (mut ledger, _writes) = Ledger::from_genesis(&genesis)
            .map_err(|e| ItcError::invalid_argument(e.to_string()))?;
        let header = BlockHeader {
            chain_id: ChainId(chain_id),
            height: 0,
            previous_hash: Hash::ZERO,
            tx_root: merkle::empty_root(),
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
        let mut state = lock(&self.state);
        let previous = state.blocks.last().map(|b| b.header.clone());
        let previous = previous.ok_or_else(|| ItcError::Internal {
            reason: "dev chain without genesis".into(),
        })?;
        let proposer = state.validator_keys[0].public();
        let height = previous.height + 1;
        let context = BlockContext {
            height,
            proposer,
            time_ms,
        };
        let outcome = state
            .ledger
            .apply_block(&context, &transactions)
            .map_err(|e| ItcError::TransactionRejected {
                reason: e.to_string(),
            })?;
        let transaction_hashes: Vec<Hash> = transactions.iter().map(|t| t.hash()).collect();
        let header = BlockHeader {
            chain_id: state.chain_id,
            height,
            previous_hash: previous.hash(),
            tx_root: merkle::root(&transaction_hashes),
            state_root: outcome.state_root,
            dag_anchor_root: Hash::ZERO,
            dag_anchor_hash: Hash::ZERO,
            validator_set_hash: Hash::ZERO,
            next_validator_set_hash: Hash::ZERO,
            time_ms,
            proposer,
            view: 0,
        };
        state.certify(header, transaction_hashes);
        Ok(height)
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
    /// signing set, as a light client takes it.
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
}
