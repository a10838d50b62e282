//! The ledger state machine.
//!
//! [`Ledger`] applies blocks of transactions to state kept in a
//! [`SparseMerkleTree`] and returns the new state root together with the
//! storage writes the caller must persist (the ledger itself does no I/O).
//! Application is deterministic and integer-only: the same blocks give the
//! same root on every machine.
//!
//! A block is applied atomically: if any transaction is invalid, the block is
//! rejected with the index of the first invalid transaction and the reason,
//! and the state is unchanged. Block builders use [`Ledger::select_valid`] to
//! drop invalid transactions before proposing. Fees are credited to the
//! block's proposer after the block's last transaction.
//!
//! # Modules
//!
//! Ledger modules registered with [`Ledger::with_module`] execute the
//! [`Payload::Module`] transactions carrying their id and run
//! [`LedgerModule::end_block`] after the block's transactions, before the
//! proposer's fees and the epoch boundary; their records and escrows live in
//! the same state tree ([`state_key::module`], [`state_key::module_escrow`]).
//! See [`crate::module`].
//!
//! # Staking
//!
//! `Bond` moves tokens from the balance to the sender's stake (at most
//! [`STAKE_MAX`]) and makes the sender a candidate; `Unbond` moves stake to
//! "unbonding", paid back at the next epoch boundary. At each boundary the
//! next validator set is the [`VALIDATORS_MAX`] candidates with the most
//! bonded stake (ties by key) among those with at least the chain's
//! `min_validator_stake`. Three rules keep this list usable and the chain
//! live:
//!
//! - **No squatting.** At each boundary, candidates below the minimum stake
//!   are dropped and their stake is paid back. When the list already holds
//!   [`CANDIDATES_MAX`] candidates, a `Bond` that leaves its sender with more
//!   stake than the smallest candidate outside the current validator set
//!   (smallest bonded stake, ties by lowest key) evicts that candidate, whose
//!   whole stake is paid back at once; otherwise it fails with
//!   [`TxError::TooManyCandidates`]. Members of the current set are never
//!   evicted, and at most [`VALIDATORS_MAX`] of the candidates are members, so
//!   a newcomer with real stake can always get in.
//! - **Someone is always electable.** An `Unbond` that would leave no
//!   candidate with at least the minimum stake (and more than zero) is
//!   refused with [`TxError::LastValidatorStake`]. Genesis validators must
//!   all hold at least the minimum, so the next set is never empty and the
//!   chain never keeps a set whose stake has left.
//! - **The set is always valid.** Genesis weights and bonded stakes are at
//!   most [`STAKE_MAX`], so no set of [`VALIDATORS_MAX`] validators exceeds
//!   [`TOTAL_WEIGHT_MAX`]; computing the set at a boundary cannot fail, and a
//!   boundary block cannot be made invalid by anyone's bond.
//!
//! Genesis also caps the total supply at [`SUPPLY_MAX`], and tokens are
//! only ever moved, so crediting a fee, an unbond or an eviction can never
//! overflow (the checked additions stay as a defence).
//!
//! ```
//! use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
//! use itc_core::keys::Keypair;
//! use itc_core::ledger::{BlockContext, Ledger};
//! use itc_core::types::{Amount, ChainId, Payload, Transaction};
//!
//! let alice = Keypair::from_seed([1; 32]);
//! let bob = Keypair::from_seed([2; 32]).public();
//! let validator = Keypair::from_seed([9; 32]).public();
//! let genesis = Genesis {
//!     chain_id: 7,
//!     accounts: vec![GenesisAccount { public_key: alice.public(), balance: 1_000 }],
//!     validators: vec![GenesisValidator { public_key: validator, weight: 10 }],
//!     ..Genesis::default()
//! };
//! let (mut ledger, _initial_writes) = Ledger::from_genesis(&genesis).unwrap();
//! let tx = Transaction::new_signed(&alice, ChainId(7), 0, Amount(1),
//!     Payload::Transfer { to: bob, amount: Amount(100) });
//! let context = BlockContext { height: 1, proposer: validator, time_ms: 0 };
//! let outcome = ledger.apply_block(&context, &[tx]).unwrap();
//! assert_eq!(outcome.state_root, ledger.state_root());
//! assert_eq!(ledger.account(&bob).balance, Amount(100));
//! assert_eq!(ledger.account(&validator).balance, Amount(1)); // the fee
//! ```

use crate::encoding::{write_vec, Decode, DecodeError, Encode, Reader};
use crate::firmware::{ProductRecord, ReleaseRecord};
use crate::genesis::{Genesis, GenesisError};
use crate::hash::{hash_each, Domain, Hash};
use crate::keys::{PublicKey, SigningDomain};
use crate::module::{LedgerModule, ModuleContext, ModuleError, ModuleState};
use crate::seal::SealKeyRecord;
use crate::smt::{SparseMerkleTree, StateProof};
use crate::storage::{Storage, StorageError, WriteBatch};
use crate::types::{
    pairing_message, Amount, ChainId, Payload, Permissions, SecurityLevel, Transaction, Validator,
    ValidatorSet, ValidatorSetError, MODULE_BODY_MAX, TOTAL_WEIGHT_MAX, VALIDATORS_MAX,
};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Most validator candidates (accounts with any stake) tracked at once.
///
/// When the list is full, a `Bond` that makes its sender's stake larger than
/// the smallest candidate's evicts that candidate (see the module docs).
pub const CANDIDATES_MAX: usize = 1024;
/// Most stake one candidate may bond, and most weight one genesis validator
/// may have: [`VALIDATORS_MAX`] validators at this weight add up to exactly
/// [`TOTAL_WEIGHT_MAX`], so computing the next validator set at an epoch
/// boundary can never fail on its total weight.
pub const STAKE_MAX: u64 = TOTAL_WEIGHT_MAX / VALIDATORS_MAX as u64;
/// Most tokens a genesis may create (account balances plus validator
/// weights, which are bonded as stake).
///
/// After genesis, tokens only move (transfers, fees to the proposer, bonds,
/// unbonds, evictions, ledger-module escrows) or leave the main chain (DAG
/// deposits), so every
/// balance, stake and per-block fee total stays at or below the genesis
/// supply, and a credit can never overflow. The quarter of the `u64` range
/// leaves room for amounts computed next to balances (amount plus fee).
pub const SUPPLY_MAX: u64 = 1 << 62;
/// Storage key prefix of state entries (`prefix || state key hash`).
pub const STORAGE_STATE_PREFIX: &[u8] = b"ledger/state/";
/// Storage key of the ledger's metadata (chain id, parameters, height).
pub const STORAGE_META_KEY: &[u8] = b"ledger/meta";
/// Page size used when loading state from storage.
const LOAD_PAGE: usize = 4096;

/// State keys: where each kind of record lives in the state tree.
///
/// Light clients use these to know which key a proof must be about.
pub mod state_key {
    use super::*;

    fn key(tag: u8, parts: &[&[u8]]) -> Hash {
        let mut hasher = crate::hash::Hasher::new(Domain::StateKey);
        hasher.update(&[tag]);
        for p in parts {
            hasher.update(p);
        }
        hasher.finalize()
    }

    /// The tag byte of [`account`] keys.
    const ACCOUNT_TAG: u8 = 1;

    /// An account's balance and nonce ([`AccountState`]).
    pub fn account(owner: &PublicKey) -> Hash {
        key(ACCOUNT_TAG, &[&owner.0])
    }

    /// [`account`] of each owner, appended to `out`, hashed side by side.
    pub(crate) fn accounts(owners: &[&PublicKey], out: &mut Vec<Hash>) {
        let inputs: Vec<[&[u8]; 2]> = owners
            .iter()
            .map(|owner| [&[ACCOUNT_TAG][..], &owner.0[..]])
            .collect();
        crate::hash::hash_each(Domain::StateKey, &inputs, out);
    }

    /// A device's registration ([`DeviceRecord`]).
    pub fn device(device: &PublicKey) -> Hash {
        key(2, &[&device.0])
    }

    /// A grant of `device` to `grantee` ([`Grant`]).
    pub fn grant(device: &PublicKey, grantee: &PublicKey) -> Hash {
        key(3, &[&device.0, &grantee.0])
    }

    /// A validator's stake ([`StakeRecord`]).
    pub fn stake(validator: &PublicKey) -> Hash {
        key(4, &[&validator.0])
    }

    /// The list of staking candidates.
    pub fn candidates() -> Hash {
        key(5, &[])
    }

    /// The validator set that signs the next block.
    pub fn validator_set() -> Hash {
        key(6, &[])
    }

    /// A ledger module's record under its own `key` (any bytes; see
    /// [`crate::module::ModuleContext::put`]): the hash of tag 7, the
    /// module's id and the key bytes.
    pub fn module(module: u8, key: &[u8]) -> Hash {
        self::key(7, &[&[module], key])
    }

    /// A ledger module's escrow total (an [`Amount`]; absent when zero).
    pub fn module_escrow(module: u8) -> Hash {
        key(8, &[&[module]])
    }

    /// The sealing public key of an account or device for a suite
    /// ([`crate::seal::SealKeyRecord`]).
    pub fn seal_key(subject: &PublicKey, suite: crate::seal::Suite) -> Hash {
        key(9, &[&subject.0, &[suite.id()]])
    }

    /// A firmware product line ([`crate::firmware::ProductRecord`]).
    pub fn product(product: u64) -> Hash {
        key(10, &[&product.to_le_bytes()])
    }

    /// A firmware product's current release
    /// ([`crate::firmware::ReleaseRecord`]).
    pub fn release(product: u64) -> Hash {
        key(11, &[&product.to_le_bytes()])
    }
}

/// The hash of a state value as stored in the tree.
pub fn value_hash(value: &[u8]) -> Hash {
    Hash::of(Domain::StateValue, value)
}

/// [`value_hash`] of each value, appended to `out`, hashed side by side.
fn value_hashes(values: &[&[u8]], out: &mut Vec<Hash>) {
    let inputs: Vec<[&[u8]; 1]> = values.iter().map(|value| [*value]).collect();
    hash_each(Domain::StateValue, &inputs, out);
}

/// An account's balance and next nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AccountState {
    /// Spendable balance.
    pub balance: Amount,
    /// Nonce the next transaction must carry.
    pub nonce: u64,
}

/// A registered device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// Current owner.
    pub owner: PublicKey,
    /// Security level (sets DAG proof-of-work difficulty).
    pub security_level: SecurityLevel,
    /// Hash of off-chain metadata.
    pub metadata_hash: Hash,
    /// How many times the device changed hands: 0 at registration, one more
    /// at every [`Payload::TransferDevice`]. A grant is valid only under the
    /// ownership it was made in ([`Grant::ownership_seq`]), so a grant never
    /// revives when the device returns to an earlier owner.
    pub ownership_seq: u64,
}

/// Access granted on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Permission bits.
    pub permissions: Permissions,
    /// First height at which the grant no longer holds.
    pub expiry_height: u64,
    /// The owner who granted it; the grant counts only while they own the device.
    pub granted_by: PublicKey,
    /// The device's [`DeviceRecord::ownership_seq`] when the grant was made:
    /// the grant counts only while the device's sequence is still this one
    /// (any transfer, even back to the same owner, ends it).
    pub ownership_seq: u64,
}

impl Grant {
    /// Whether the grant authorises anything on a device whose current
    /// registration is `device`, at a state of height `height`: made by the
    /// current owner under the current ownership, and not expired.
    pub fn is_live(&self, device: &DeviceRecord, height: u64) -> bool {
        self.is_current(device) && self.expiry_height > height
    }

    /// Whether the grant was made by the device's current owner under its
    /// current ownership (`device` is its current registration); expiry
    /// aside, this is what makes a grant count.
    pub fn is_current(&self, device: &DeviceRecord) -> bool {
        self.granted_by == device.owner && self.ownership_seq == device.ownership_seq
    }
}

/// Stake of a validator candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StakeRecord {
    /// Bonded amount (the weight from the next epoch on).
    pub bonded: Amount,
    /// Amount released to the balance at the next epoch boundary.
    pub unbonding: Amount,
}

macro_rules! record_codec {
    ($t:ident { $($field:ident),* }) => {
        impl Encode for $t {
            fn encode_to(&self, out: &mut Vec<u8>) {
                $(self.$field.encode_to(out);)*
            }
        }
        impl Decode for $t {
            fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($t { $($field: Decode::decode_from(r)?,)* })
            }
        }
    };
}
record_codec!(AccountState { balance, nonce });
record_codec!(DeviceRecord {
    owner,
    security_level,
    metadata_hash,
    ownership_seq
});
record_codec!(Grant {
    permissions,
    expiry_height,
    granted_by,
    ownership_seq
});
record_codec!(StakeRecord { bonded, unbonding });

/// Why a transaction was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// The transaction is for another chain.
    #[error("wrong chain: expected {expected:?}, found {found:?}")]
    WrongChain {
        /// This ledger's chain.
        expected: ChainId,
        /// The transaction's chain.
        found: ChainId,
    },
    /// The sender's signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The nonce was already used.
    #[error("stale nonce: expected {expected}, found {found}")]
    StaleNonce {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's nonce.
        found: u64,
    },
    /// The nonce is ahead of the account's next nonce.
    #[error("future nonce: expected {expected}, found {found}")]
    FutureNonce {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's nonce.
        found: u64,
    },
    /// The fee is below the chain's minimum.
    #[error("fee {found} below minimum {minimum}")]
    FeeTooLow {
        /// Minimum fee.
        minimum: u64,
        /// Offered fee.
        found: u64,
    },
    /// The sender cannot pay amount plus fee.
    #[error("insufficient balance: needed {needed}, available {available}")]
    InsufficientBalance {
        /// Amount plus fee.
        needed: u64,
        /// Sender's balance.
        available: u64,
    },
    /// A balance would overflow.
    #[error("amount overflow")]
    AmountOverflow,
    /// A zero amount where a positive one is required.
    #[error("zero amount")]
    ZeroAmount,
    /// The device is already registered.
    #[error("device already registered")]
    DeviceAlreadyRegistered,
    /// The device's pairing signature does not cover the sender as owner and
    /// the registered security level ([`crate::types::pairing_message`]).
    #[error("bad pairing proof")]
    BadPairingProof,
    /// The device is not registered.
    #[error("unknown device")]
    UnknownDevice,
    /// The sender does not own the device.
    #[error("sender is not the device owner")]
    NotOwner,
    /// The grant's expiry height has already passed.
    #[error("grant expired")]
    GrantExpired,
    /// There is no such grant to revoke.
    #[error("no such grant")]
    NoSuchGrant,
    /// Unbonding more than is bonded.
    #[error("insufficient stake: bonded {bonded}, requested {requested}")]
    InsufficientStake {
        /// Bonded amount.
        bonded: u64,
        /// Requested amount.
        requested: u64,
    },
    /// The candidate list is full and the sender's stake would not exceed
    /// the smallest evictable candidate's.
    #[error("too many staking candidates")]
    TooManyCandidates,
    /// The unbond would leave no candidate with the minimum validator stake,
    /// so no validator set could be elected.
    #[error("unbonding would leave no candidate with the minimum stake")]
    LastValidatorStake,
    /// Stored state could not be decoded (a bug or corrupted storage).
    #[error("corrupted state record")]
    CorruptedState,
    /// No registered ledger module has the payload's module id.
    #[error("unknown ledger module {module}")]
    UnknownModule {
        /// The payload's module id.
        module: u8,
    },
    /// A module payload's body is longer than
    /// [`MODULE_BODY_MAX`] (only a payload
    /// built in memory can be: decoding refuses it).
    #[error("module body of {len} bytes exceeds {max}")]
    ModuleBodyTooLarge {
        /// The body's length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The ledger module refused the transaction.
    #[error("{0}")]
    Module(ModuleError),
    /// A sealing key's rotation number is not the next one (0 for a first
    /// key, then the current one plus 1).
    #[error("seal key sequence: expected {expected}, found {found}")]
    SealKeySequence {
        /// The next rotation number.
        expected: u32,
        /// The payload's.
        found: u32,
    },
    /// The sealing public key is not a usable key of its suite
    /// ([`crate::seal::public_key_is_valid`]).
    #[error("invalid seal public key")]
    InvalidSealKey,
    /// A device's sealing key came without a valid binding signature of the
    /// device, or the sender's own key came with one.
    #[error("bad seal key binding")]
    BadSealKeyBinding,
    /// The product is registered by another manufacturer.
    #[error("product registered by another manufacturer")]
    NotManufacturer,
    /// No such product is registered.
    #[error("unknown product")]
    UnknownProduct,
    /// The manifest is not signed by the product's release key.
    #[error("bad release signature")]
    BadReleaseSignature,
    /// The manifest's fields are inconsistent (empty or oversized image, or
    /// a minimum version above its version).
    #[error("malformed firmware manifest")]
    MalformedManifest,
    /// The release is not newer than the product's current release.
    #[error("release {found} not newer than current {current}")]
    StaleRelease {
        /// The current release's version.
        current: u32,
        /// The manifest's version.
        found: u32,
    },
    /// There is no unrevoked current release of that version to revoke.
    #[error("no such release")]
    NoSuchRelease,
}

/// Why a block could not be applied. The ledger is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// The block's height does not follow the ledger's.
    #[error("unexpected height: expected {expected}, found {found}")]
    UnexpectedHeight {
        /// Next height.
        expected: u64,
        /// Block's height.
        found: u64,
    },
    /// A transaction is invalid.
    #[error("transaction {index} invalid: {error}")]
    InvalidTransaction {
        /// Its position in the block.
        index: usize,
        /// Why.
        error: TxError,
    },
    /// The epoch's new validator set is invalid.
    #[error("invalid validator set: {0}")]
    ValidatorSet(ValidatorSetError),
    /// A ledger module failed at the end of the block
    /// ([`LedgerModule::end_block`]): its state is corrupted.
    #[error("module end of block: {0}")]
    ModuleEndBlock(ModuleError),
}

/// Errors opening or creating a ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The genesis configuration is invalid.
    #[error("invalid genesis: {0}")]
    Genesis(#[from] GenesisError),
    /// The storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// Stored ledger data is corrupted or missing.
    #[error("corrupted ledger storage: {0}")]
    Corrupted(&'static str),
    /// A ledger module with this id is already registered.
    #[error("ledger module {module} already registered")]
    DuplicateModule {
        /// The module id.
        module: u8,
    },
}

/// Where and when a block is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockContext {
    /// The block's height.
    pub height: u64,
    /// The proposer, who receives the fees.
    pub proposer: PublicKey,
    /// The block's time (informational; not used by state transitions).
    pub time_ms: u64,
}

/// Chain parameters fixed at genesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerParams {
    /// The chain id.
    pub chain_id: ChainId,
    /// Blocks per epoch; the validator set changes after heights that are
    /// multiples of this.
    pub epoch_length: u64,
    /// Minimum fee per transaction.
    pub min_fee: Amount,
    /// Minimum bonded stake to be a validator.
    pub min_validator_stake: Amount,
    /// The DAG side chain's depth rule (see
    /// [`crate::genesis::Genesis::dag_anchor_depth_max`]).
    pub dag_anchor_depth_max: u64,
}

record_codec!(LedgerParams {
    chain_id,
    epoch_length,
    min_fee,
    min_validator_stake,
    dag_anchor_depth_max
});

/// The result of applying a block.
#[derive(Clone, Debug)]
#[must_use = "the writes must be persisted"]
pub struct BlockOutcome {
    /// The state root after the block.
    pub state_root: Hash,
    /// Set when the block ended an epoch: the validator set that signs the
    /// next block.
    pub next_validator_set: Option<ValidatorSet>,
    /// Total fees credited to the proposer.
    pub fees: Amount,
    /// The storage writes that make this block's state durable.
    pub writes: WriteBatch,
}

/// The ledger: committed state, its sparse Merkle tree, the current
/// validator set and the registered ledger modules.
#[derive(Clone, Debug)]
pub struct Ledger {
    params: LedgerParams,
    height: u64,
    values: hashbrown::HashMap<Hash, Vec<u8>>,
    tree: SparseMerkleTree,
    validators: ValidatorSet,
    /// Sorted by id, so `end_block` runs in the same order everywhere.
    modules: Vec<Arc<dyn LedgerModule>>,
}

/// A block's writes, one per key, sorted by key (deterministic order):
/// `None` deletes.
type Overlay = Vec<(Hash, Option<Vec<u8>>)>;

/// Committed state plus the block's pending writes, with an undo log so that
/// a failed transaction leaves no trace.
struct View<'a> {
    ledger: &'a Ledger,
    pending: hashbrown::HashMap<Hash, Option<Vec<u8>>>,
    undo: Vec<(Hash, Option<Option<Vec<u8>>>)>,
    /// Account state keys computed ahead by [`View::prefetch_accounts`].
    account_keys: hashbrown::HashMap<PublicKey, Hash>,
}

impl<'a> View<'a> {
    fn new(ledger: &'a Ledger) -> Self {
        View {
            ledger,
            pending: hashbrown::HashMap::new(),
            undo: Vec::new(),
            account_keys: hashbrown::HashMap::new(),
        }
    }

    /// Compute the account state keys of the block's senders and transfer
    /// recipients, and read their committed records in one pass: the reads
    /// are independent, so their cache misses overlap here instead of
    /// stalling each transaction in turn. Changes no state.
    fn prefetch_accounts(&mut self, transactions: &[Transaction]) {
        // The keys are hashed side by side; a repeated owner is hashed again
        // and its second key dropped, which is cheaper than looking for
        // repeats first.
        let owners: Vec<&PublicKey> = transactions
            .iter()
            .flat_map(|tx| {
                let to = match &tx.payload {
                    Payload::Transfer { to, .. } => Some(to),
                    _ => None,
                };
                core::iter::once(&tx.sender).chain(to)
            })
            .collect();
        let mut keys = Vec::with_capacity(owners.len());
        state_key::accounts(&owners, &mut keys);
        self.account_keys.reserve(owners.len());
        for (owner, key) in owners.into_iter().zip(keys) {
            self.account_keys.entry(*owner).or_insert(key);
        }
        let mut touched = 0u8;
        for key in self.account_keys.values() {
            if let Some(value) = self.ledger.values.get(key) {
                touched ^= value.first().copied().unwrap_or(0);
            }
        }
        core::hint::black_box(touched);
    }

    /// An account's state key ([`state_key::account`]).
    fn account_key(&self, owner: &PublicKey) -> Hash {
        match self.account_keys.get(owner) {
            Some(key) => *key,
            None => state_key::account(owner),
        }
    }

    /// Start a transaction: later writes can be rolled back to this point.
    fn begin(&mut self) {
        self.undo.clear();
    }

    /// Undo every write since [`View::begin`].
    fn rollback(&mut self) {
        while let Some((key, previous)) = self.undo.pop() {
            match previous {
                Some(value) => {
                    self.pending.insert(key, value);
                }
                None => {
                    self.pending.remove(&key);
                }
            }
        }
    }

    /// The pending writes in key order (the map itself is only looked up,
    /// never iterated in its own order).
    fn into_overlay(self) -> Overlay {
        let mut overlay: Overlay = self.pending.into_iter().collect();
        overlay.sort_unstable_by_key(|(key, _)| *key);
        overlay
    }

    fn get_raw(&self, key: &Hash) -> Option<&[u8]> {
        match self.pending.get(key) {
            Some(value) => value.as_deref(),
            None => self.ledger.values.get(key).map(Vec::as_slice),
        }
    }

    fn write(&mut self, key: Hash, value: Option<Vec<u8>>) {
        let previous = self.pending.insert(key, value);
        self.undo.push((key, previous));
    }

    fn get<T: Decode>(&self, key: &Hash) -> Result<Option<T>, TxError> {
        self.get_raw(key)
            .map(|bytes| T::decode(bytes).map_err(|_| TxError::CorruptedState))
            .transpose()
    }

    fn put<T: Encode>(&mut self, key: Hash, value: &T) {
        self.write(key, Some(value.encode()));
    }

    fn delete(&mut self, key: Hash) {
        self.write(key, None);
    }

    /// Add to a balance. Cannot overflow on a ledger made by
    /// [`Ledger::from_genesis`]: every credited amount was debited from
    /// another balance or stake first, so no balance exceeds the genesis
    /// supply, itself at most [`SUPPLY_MAX`]. The check stays as a defence.
    fn credit(&mut self, owner: &PublicKey, amount: Amount) -> Result<(), TxError> {
        if amount == Amount::ZERO {
            return Ok(());
        }
        let key = self.account_key(owner);
        let mut account: AccountState = self.get(&key)?.unwrap_or_default();
        account.balance = account
            .balance
            .checked_add(amount)
            .ok_or(TxError::AmountOverflow)?;
        self.put(key, &account);
        Ok(())
    }
}

impl ModuleState for View<'_> {
    fn state_get(&self, key: &Hash) -> Option<&[u8]> {
        self.get_raw(key)
    }

    fn state_write(&mut self, key: Hash, value: Option<Vec<u8>>) {
        self.write(key, value);
    }
}

impl Ledger {
    /// Create the ledger at height 0 from a genesis configuration; also
    /// returns the writes that persist it.
    ///
    /// # Errors
    /// [`LedgerError::Genesis`] if the configuration is invalid.
    pub fn from_genesis(genesis: &Genesis) -> Result<(Ledger, WriteBatch), LedgerError> {
        let params = genesis.params()?;
        let validators = genesis.validator_set()?;
        let mut overlay = BTreeMap::new();
        let mut candidates = Vec::new();
        for v in validators.validators() {
            let stake = StakeRecord {
                bonded: Amount(v.weight),
                unbonding: Amount::ZERO,
            };
            overlay.insert(state_key::stake(&v.key), Some(stake.encode()));
            candidates.push(v.key);
        }
        candidates.sort();
        overlay.insert(state_key::candidates(), Some(encode_keys(&candidates)));
        overlay.insert(state_key::validator_set(), Some(validators.encode()));
        let mut balances: BTreeMap<PublicKey, Amount> = BTreeMap::new();
        for account in &genesis.accounts {
            let entry = balances.entry(account.public_key).or_default();
            *entry = entry
                .checked_add(Amount(account.balance))
                .ok_or(GenesisError::BalanceOverflow)?;
        }
        for (key, balance) in balances {
            let state = AccountState { balance, nonce: 0 };
            overlay.insert(state_key::account(&key), Some(state.encode()));
        }
        let mut ledger = Ledger {
            params,
            height: 0,
            values: hashbrown::HashMap::new(),
            tree: SparseMerkleTree::new(),
            validators,
            modules: Vec::new(),
        };
        let mut writes = WriteBatch::new();
        ledger.commit_overlay(overlay.into_iter().collect(), &mut writes);
        ledger.tree.root();
        writes.put(STORAGE_META_KEY.to_vec(), ledger.meta_bytes());
        Ok((ledger, writes))
    }

    /// Reload a ledger persisted by applying the writes this type returned.
    ///
    /// # Errors
    /// [`LedgerError::Storage`] or [`LedgerError::Corrupted`].
    pub fn open<S: Storage + ?Sized>(storage: &S) -> Result<Ledger, LedgerError> {
        let meta = storage
            .get(STORAGE_META_KEY)?
            .ok_or(LedgerError::Corrupted("missing ledger metadata"))?;
        let mut reader = Reader::new(&meta);
        let params = LedgerParams::decode_from(&mut reader)
            .map_err(|_| LedgerError::Corrupted("ledger metadata"))?;
        let height = reader
            .read_u64()
            .map_err(|_| LedgerError::Corrupted("ledger metadata"))?;
        reader
            .finish()
            .map_err(|_| LedgerError::Corrupted("ledger metadata"))?;
        if params.epoch_length == 0 {
            return Err(LedgerError::Corrupted("epoch length is 0"));
        }
        let mut values = hashbrown::HashMap::new();
        let mut tree = SparseMerkleTree::new();
        let mut start_after: Option<Vec<u8>> = None;
        loop {
            let page =
                storage.scan_prefix(STORAGE_STATE_PREFIX, start_after.as_deref(), LOAD_PAGE)?;
            let done = page.len() < LOAD_PAGE;
            for (key, value) in page {
                let hash_bytes: [u8; 32] = key[STORAGE_STATE_PREFIX.len()..]
                    .try_into()
                    .map_err(|_| LedgerError::Corrupted("state key length"))?;
                let key_hash = Hash(hash_bytes);
                tree.insert(key_hash, value_hash(&value));
                values.insert(key_hash, value);
                start_after = Some(key);
            }
            if done {
                break;
            }
        }
        let validators = values
            .get(&state_key::validator_set())
            .and_then(|bytes| ValidatorSet::decode(bytes).ok())
            .ok_or(LedgerError::Corrupted("validator set"))?;
        tree.root();
        Ok(Ledger {
            params,
            height,
            values,
            tree,
            validators,
            modules: Vec::new(),
        })
    }

    /// Register a ledger module: from now on the ledger executes its
    /// [`Payload::Module`] transactions and runs its
    /// [`LedgerModule::end_block`] in every block. Every node of a chain must
    /// register the same modules (a module's state is part of the state
    /// root). Without any module, module payloads are refused with
    /// [`TxError::UnknownModule`].
    ///
    /// # Errors
    /// [`LedgerError::DuplicateModule`] if a module with the same id is
    /// already registered.
    pub fn with_module(mut self, module: Arc<dyn LedgerModule>) -> Result<Self, LedgerError> {
        let id = module.id();
        match self.modules.binary_search_by_key(&id, |m| m.id()) {
            Ok(_) => Err(LedgerError::DuplicateModule { module: id }),
            Err(position) => {
                self.modules.insert(position, module);
                Ok(self)
            }
        }
    }

    /// The registered ledger modules, in id order.
    pub fn modules(&self) -> &[Arc<dyn LedgerModule>] {
        &self.modules
    }

    fn module(&self, id: u8) -> Option<&Arc<dyn LedgerModule>> {
        self.modules
            .binary_search_by_key(&id, |m| m.id())
            .ok()
            .map(|index| &self.modules[index])
    }

    /// A ledger module's committed record under its own `key`
    /// ([`state_key::module`]).
    pub fn module_value(&self, module: u8, key: &[u8]) -> Option<&[u8]> {
        self.get_raw(&state_key::module(module, key))
    }

    /// The tokens a ledger module holds in escrow
    /// ([`state_key::module_escrow`]; zero if none or unreadable).
    pub fn module_escrow(&self, module: u8) -> Amount {
        self.decoded(&state_key::module_escrow(module))
            .unwrap_or_default()
    }

    fn meta_bytes(&self) -> Vec<u8> {
        let mut out = self.params.encode();
        self.height.encode_to(&mut out);
        out
    }

    /// Chain parameters.
    pub fn params(&self) -> &LedgerParams {
        &self.params
    }

    /// The chain id.
    pub fn chain_id(&self) -> ChainId {
        self.params.chain_id
    }

    /// Height of the last applied block (0 at genesis).
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The validator set that signs the next block.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// Current state root.
    pub fn state_root(&mut self) -> Hash {
        self.tree.root()
    }

    /// Number of entries in the state.
    pub fn state_len(&self) -> usize {
        self.tree.len()
    }

    /// Raw bytes of a state entry.
    pub fn get_raw(&self, key: &Hash) -> Option<&[u8]> {
        self.values.get(key).map(Vec::as_slice)
    }

    /// An account's state (default if it never received anything).
    pub fn account(&self, owner: &PublicKey) -> AccountState {
        self.decoded(&state_key::account(owner)).unwrap_or_default()
    }

    /// A device's registration.
    pub fn device(&self, device: &PublicKey) -> Option<DeviceRecord> {
        self.decoded(&state_key::device(device))
    }

    /// A grant on a device.
    pub fn grant(&self, device: &PublicKey, grantee: &PublicKey) -> Option<Grant> {
        self.decoded(&state_key::grant(device, grantee))
    }

    /// A candidate's stake.
    pub fn stake(&self, validator: &PublicKey) -> StakeRecord {
        self.decoded(&state_key::stake(validator))
            .unwrap_or_default()
    }

    fn decoded<T: Decode>(&self, key: &Hash) -> Option<T> {
        self.values.get(key).and_then(|b| T::decode(b).ok())
    }

    /// A proof of the value (or absence) of a state key against the current
    /// root, together with the raw value if present.
    pub fn prove(&mut self, key: &Hash) -> (Option<Vec<u8>>, StateProof) {
        let proof = self.tree.prove(key);
        (self.values.get(key).cloned(), proof)
    }

    /// Like [`Ledger::prove`] for a shared ledger: available whenever the
    /// last block has been applied (which computes the root), `None` if the
    /// tree has uncommitted changes.
    pub fn prove_committed(&self, key: &Hash) -> Option<(Option<Vec<u8>>, StateProof)> {
        let proof = self.tree.prove_fresh(key)?;
        Some((self.values.get(key).cloned(), proof))
    }

    /// Check a transaction against the committed state as if it were the only
    /// one in the next block (mempool admission).
    ///
    /// # Errors
    /// The [`TxError`] that would reject it.
    pub fn check_transaction(&self, tx: &Transaction) -> Result<(), TxError> {
        let mut view = View::new(self);
        let context = BlockContext {
            height: self.height + 1,
            proposer: PublicKey([0; 32]),
            time_ms: 0,
        };
        self.execute(&mut view, &context, tx, true)
    }

    /// Keep the transactions that are valid in sequence on top of the
    /// committed state, for a proposer building the next block. Returns the
    /// kept transactions and the rejected ones with reasons.
    pub fn select_valid(
        &self,
        context: &BlockContext,
        candidates: Vec<Transaction>,
    ) -> (Vec<Transaction>, Vec<(Transaction, TxError)>) {
        self.select_valid_inner(context, candidates, true)
    }

    /// Like [`Ledger::select_valid`] for transactions whose signatures the
    /// caller has already verified (for example on admission to its pool).
    pub fn select_valid_preverified(
        &self,
        context: &BlockContext,
        candidates: Vec<Transaction>,
    ) -> (Vec<Transaction>, Vec<(Transaction, TxError)>) {
        self.select_valid_inner(context, candidates, false)
    }

    fn select_valid_inner(
        &self,
        context: &BlockContext,
        candidates: Vec<Transaction>,
        verify_signatures: bool,
    ) -> (Vec<Transaction>, Vec<(Transaction, TxError)>) {
        let mut view = View::new(self);
        let mut kept = Vec::new();
        let mut rejected = Vec::new();
        for tx in candidates {
            view.begin();
            match self.execute(&mut view, context, &tx, verify_signatures) {
                Ok(()) => kept.push(tx),
                Err(error) => {
                    view.rollback();
                    rejected.push((tx, error));
                }
            }
        }
        (kept, rejected)
    }

    /// Apply a block's transactions atomically.
    ///
    /// # Errors
    /// [`BlockError`] if the height is wrong or any transaction is invalid;
    /// the ledger is then unchanged.
    pub fn apply_block(
        &mut self,
        context: &BlockContext,
        transactions: &[Transaction],
    ) -> Result<BlockOutcome, BlockError> {
        self.apply_block_inner(context, transactions, true)
    }

    /// Like [`Ledger::apply_block`] but trusting that every signature was
    /// already verified (for example by the consensus layer before voting).
    ///
    /// # Errors
    /// As [`Ledger::apply_block`], except that signatures are not checked.
    pub fn apply_block_preverified(
        &mut self,
        context: &BlockContext,
        transactions: &[Transaction],
    ) -> Result<BlockOutcome, BlockError> {
        self.apply_block_inner(context, transactions, false)
    }

    /// The state root and next validator set a block would produce, without
    /// changing the ledger (for proposing and for checking a proposal).
    ///
    /// # Errors
    /// As [`Ledger::apply_block`].
    pub fn preview_block(
        &mut self,
        context: &BlockContext,
        transactions: &[Transaction],
    ) -> Result<(Hash, Option<ValidatorSet>), BlockError> {
        self.preview_block_inner(context, transactions, true)
    }

    /// Like [`Ledger::preview_block`] for transactions whose signatures the
    /// caller has already verified.
    ///
    /// # Errors
    /// As [`Ledger::preview_block`], except that signatures are not checked.
    pub fn preview_block_preverified(
        &mut self,
        context: &BlockContext,
        transactions: &[Transaction],
    ) -> Result<(Hash, Option<ValidatorSet>), BlockError> {
        self.preview_block_inner(context, transactions, false)
    }

    fn preview_block_inner(
        &mut self,
        context: &BlockContext,
        transactions: &[Transaction],
        verify_signatures: bool,
    ) -> Result<(Hash, Option<ValidatorSet>), BlockError> {
        let (overlay, next_set, _fees) =
            self.execute_block(context, transactions, verify_signatures)?;
        let undo: Overlay = overlay
            .iter()
            .map(|(key, _)| (*key, self.values.get(key).cloned()))
            .collect();
        let mut scratch = WriteBatch::new();
        self.commit_overlay(overlay, &mut scratch);
        let root = self.tree.root();
        self.commit_overlay(undo, &mut scratch);
        // Leave the tree fresh so shared readers can keep proving.
        self.tree.root();
        Ok((root, next_set))
    }

    fn apply_block_inner(
        &mut self,
        context: &BlockContext,
        transactions: &[Transaction],
        verify_signatures: bool,
    ) -> Result<BlockOutcome, BlockError> {
        let (overlay, next_validator_set, fees) =
            self.execute_block(context, transactions, verify_signatures)?;
        let mut writes = WriteBatch::new();
        self.commit_overlay(overlay, &mut writes);
        self.height = context.height;
        if let Some(set) = &next_validator_set {
            self.validators = set.clone();
        }
        writes.put(STORAGE_META_KEY.to_vec(), self.meta_bytes());
        Ok(BlockOutcome {
            state_root: self.tree.root(),
            next_validator_set,
            fees,
            writes,
        })
    }

    fn execute_block(
        &self,
        context: &BlockContext,
        transactions: &[Transaction],
        verify_signatures: bool,
    ) -> Result<(Overlay, Option<ValidatorSet>, Amount), BlockError> {
        if context.height != self.height + 1 {
            return Err(BlockError::UnexpectedHeight {
                expected: self.height + 1,
                found: context.height,
            });
        }
        // Check the signatures first, in one tight loop, up to the first bad
        // one. Execution then checks again only that transaction's, at the
        // point it always does, so the block fails with the same index and
        // error as if each signature were checked during execution.
        let first_bad_signature = if verify_signatures {
            transactions
                .iter()
                .position(|tx| tx.verify_signature().is_err())
        } else {
            None
        };
        let mut view = View::new(self);
        view.prefetch_accounts(transactions);
        let mut fees = Amount::ZERO;
        for (index, tx) in transactions.iter().enumerate() {
            let verify_signature = first_bad_signature == Some(index);
            self.execute(&mut view, context, tx, verify_signature)
                .map_err(|error| BlockError::InvalidTransaction { index, error })?;
            fees = fees
                .checked_add(tx.fee)
                .ok_or(BlockError::InvalidTransaction {
                    index,
                    error: TxError::AmountOverflow,
                })?;
        }
        for module in &self.modules {
            let mut ctx =
                ModuleContext::new(module.id(), context.height, self.params.chain_id, &mut view);
            module
                .end_block(&mut ctx)
                .map_err(BlockError::ModuleEndBlock)?;
        }
        view.credit(&context.proposer, fees)
            .map_err(|error| BlockError::InvalidTransaction {
                index: transactions.len().saturating_sub(1),
                error,
            })?;
        let mut next_set = None;
        if context.height.is_multiple_of(self.params.epoch_length) {
            next_set = self.end_epoch(&mut view)?;
        }
        let block = view.into_overlay();
        Ok((block, next_set, fees))
    }

    /// Release unbonding stake, pay back and drop candidates below the
    /// minimum stake, and compute the next validator set from the bonded
    /// stakes (heaviest first, at most [`VALIDATORS_MAX`]).
    ///
    /// Cannot fail on a state reached from a valid genesis: candidates are
    /// distinct, weights are positive and at most [`STAKE_MAX`] (clamped
    /// again here), so the set is valid; credits cannot overflow (see
    /// [`SUPPLY_MAX`]); only corrupted storage returns an error.
    fn end_epoch(&self, view: &mut View<'_>) -> Result<Option<ValidatorSet>, BlockError> {
        let corrupted = BlockError::InvalidTransaction {
            index: usize::MAX,
            error: TxError::CorruptedState,
        };
        let candidates = read_candidates(view).map_err(|_| corrupted.clone())?;
        let mut remaining = Vec::with_capacity(candidates.len());
        let mut weighted = Vec::new();
        for key in candidates {
            let mut stake: StakeRecord = view
                .get(&state_key::stake(&key))
                .map_err(|_| corrupted.clone())?
                .unwrap_or_default();
            if stake.unbonding != Amount::ZERO {
                let released = stake.unbonding;
                stake.unbonding = Amount::ZERO;
                view.credit(&key, released)
                    .map_err(|error| BlockError::InvalidTransaction {
                        index: usize::MAX,
                        error,
                    })?;
            }
            if !self.electable(stake.bonded) {
                // Below the minimum: no longer a candidate, stake paid back.
                view.credit(&key, stake.bonded).map_err(|error| {
                    BlockError::InvalidTransaction {
                        index: usize::MAX,
                        error,
                    }
                })?;
                view.delete(state_key::stake(&key));
                continue;
            }
            view.put(state_key::stake(&key), &stake);
            remaining.push(key);
            weighted.push(Validator {
                key,
                weight: stake.bonded.0.min(STAKE_MAX),
            });
        }
        view.put_raw(state_key::candidates(), encode_keys(&remaining));
        weighted.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.key.cmp(&b.key)));
        weighted.truncate(VALIDATORS_MAX);
        if weighted.is_empty() {
            // Never halt the chain by electing nobody: keep the current set.
            return Ok(None);
        }
        let set = ValidatorSet::new(weighted).map_err(BlockError::ValidatorSet)?;
        if set == self.validators {
            return Ok(None);
        }
        view.put(state_key::validator_set(), &set);
        Ok(Some(set))
    }

    /// Apply a block's writes to the values and to the tree (one batch, so
    /// the next root hashes each changed node once), and record them in
    /// `writes`. The values go first, while execution has left their map
    /// entries in cache; the tree's update would push them out.
    fn commit_overlay(&mut self, overlay: Overlay, writes: &mut WriteBatch) {
        let present: Vec<&[u8]> = overlay
            .iter()
            .filter_map(|(_, value)| value.as_deref())
            .collect();
        let mut hashes = Vec::with_capacity(present.len());
        value_hashes(&present, &mut hashes);
        let mut hashes = hashes.into_iter();
        let updates: Vec<(Hash, Option<Hash>)> = overlay
            .iter()
            .map(|(key, value)| {
                let hash = value
                    .as_ref()
                    .map(|_| hashes.next().expect("one hash a value"));
                (*key, hash)
            })
            .collect();
        for (key, value) in overlay {
            let mut storage_key = Vec::with_capacity(STORAGE_STATE_PREFIX.len() + 32);
            storage_key.extend_from_slice(STORAGE_STATE_PREFIX);
            storage_key.extend_from_slice(&key.0);
            match value {
                Some(bytes) => {
                    match self.values.get_mut(&key) {
                        // Reuse the stored buffer rather than freeing it and
                        // allocating another.
                        Some(stored) => {
                            stored.clear();
                            stored.extend_from_slice(&bytes);
                        }
                        None => {
                            self.values.insert(key, bytes.clone());
                        }
                    }
                    writes.put(storage_key, bytes);
                }
                None => {
                    self.values.remove(&key);
                    writes.delete(storage_key);
                }
            }
        }
        self.tree.update_batch(&updates);
    }

    fn execute(
        &self,
        view: &mut View<'_>,
        context: &BlockContext,
        tx: &Transaction,
        verify_signature: bool,
    ) -> Result<(), TxError> {
        if tx.chain_id != self.params.chain_id {
            return Err(TxError::WrongChain {
                expected: self.params.chain_id,
                found: tx.chain_id,
            });
        }
        let sender_key = view.account_key(&tx.sender);
        let mut sender: AccountState = view.get(&sender_key)?.unwrap_or_default();
        if tx.nonce < sender.nonce {
            return Err(TxError::StaleNonce {
                expected: sender.nonce,
                found: tx.nonce,
            });
        }
        if tx.nonce > sender.nonce {
            return Err(TxError::FutureNonce {
                expected: sender.nonce,
                found: tx.nonce,
            });
        }
        if tx.fee < self.params.min_fee {
            return Err(TxError::FeeTooLow {
                minimum: self.params.min_fee.0,
                found: tx.fee.0,
            });
        }
        let spent = match tx.payload {
            Payload::Transfer { amount, .. }
            | Payload::Bond { amount }
            | Payload::DagDeposit { amount } => amount,
            _ => Amount::ZERO,
        };
        let needed = spent.checked_add(tx.fee).ok_or(TxError::AmountOverflow)?;
        if sender.balance < needed {
            return Err(TxError::InsufficientBalance {
                needed: needed.0,
                available: sender.balance.0,
            });
        }
        if verify_signature {
            tx.verify_signature().map_err(|_| TxError::BadSignature)?;
        }
        sender.balance = sender
            .balance
            .checked_sub(needed)
            .ok_or(TxError::AmountOverflow)?;
        sender.nonce += 1;
        view.put(sender_key, &sender);
        // Fees are credited to the proposer once, after the block's last
        // transaction (see `execute_block`).
        self.execute_payload(view, context, tx)
    }

    fn execute_payload(
        &self,
        view: &mut View<'_>,
        context: &BlockContext,
        tx: &Transaction,
    ) -> Result<(), TxError> {
        let owned_device = |view: &View<'_>, device: &PublicKey| -> Result<DeviceRecord, TxError> {
            let record: DeviceRecord = view
                .get(&state_key::device(device))?
                .ok_or(TxError::UnknownDevice)?;
            if record.owner != tx.sender {
                return Err(TxError::NotOwner);
            }
            Ok(record)
        };
        match &tx.payload {
            Payload::Transfer { to, amount } => {
                if *amount == Amount::ZERO {
                    return Err(TxError::ZeroAmount);
                }
                view.credit(to, *amount)
            }
            Payload::RegisterDevice {
                device,
                security_level,
                metadata_hash,
                pairing_signature,
            } => {
                if view.get_raw(&state_key::device(device)).is_some() {
                    return Err(TxError::DeviceAlreadyRegistered);
                }
                device
                    .verify(
                        SigningDomain::DevicePairing,
                        self.params.chain_id,
                        &pairing_message(&tx.sender, *security_level),
                        pairing_signature,
                    )
                    .map_err(|_| TxError::BadPairingProof)?;
                let record = DeviceRecord {
                    owner: tx.sender,
                    security_level: *security_level,
                    metadata_hash: *metadata_hash,
                    ownership_seq: 0,
                };
                view.put(state_key::device(device), &record);
                Ok(())
            }
            Payload::TransferDevice { device, new_owner } => {
                let mut record = owned_device(view, device)?;
                record.owner = *new_owner;
                record.ownership_seq = record
                    .ownership_seq
                    .checked_add(1)
                    .ok_or(TxError::AmountOverflow)?;
                view.put(state_key::device(device), &record);
                Ok(())
            }
            Payload::GrantAccess {
                device,
                grantee,
                permissions,
                expiry_height,
            } => {
                let record = owned_device(view, device)?;
                if *expiry_height <= context.height {
                    return Err(TxError::GrantExpired);
                }
                let grant = Grant {
                    permissions: *permissions,
                    expiry_height: *expiry_height,
                    granted_by: tx.sender,
                    ownership_seq: record.ownership_seq,
                };
                view.put(state_key::grant(device, grantee), &grant);
                Ok(())
            }
            Payload::RevokeAccess { device, grantee } => {
                owned_device(view, device)?;
                let key = state_key::grant(device, grantee);
                if view.get_raw(&key).is_none() {
                    return Err(TxError::NoSuchGrant);
                }
                view.delete(key);
                Ok(())
            }
            Payload::Bond { amount } => {
                if *amount == Amount::ZERO {
                    return Err(TxError::ZeroAmount);
                }
                let key = state_key::stake(&tx.sender);
                let mut stake: StakeRecord = view.get(&key)?.unwrap_or_default();
                stake.bonded = stake
                    .bonded
                    .checked_add(*amount)
                    .filter(|b| b.0 <= STAKE_MAX)
                    .ok_or(TxError::AmountOverflow)?;
                view.put(key, &stake);
                let mut candidates = read_candidates(view)?;
                if candidates.binary_search(&tx.sender).is_err() {
                    if candidates.len() >= CANDIDATES_MAX {
                        self.evict_smaller_candidate(view, &mut candidates, stake.bonded)?;
                    }
                    if let Err(position) = candidates.binary_search(&tx.sender) {
                        candidates.insert(position, tx.sender);
                    }
                    view.put_raw(state_key::candidates(), encode_keys(&candidates));
                }
                Ok(())
            }
            Payload::Unbond { amount } => {
                if *amount == Amount::ZERO {
                    return Err(TxError::ZeroAmount);
                }
                let key = state_key::stake(&tx.sender);
                let mut stake: StakeRecord = view.get(&key)?.unwrap_or_default();
                stake.bonded =
                    stake
                        .bonded
                        .checked_sub(*amount)
                        .ok_or(TxError::InsufficientStake {
                            bonded: stake.bonded.0,
                            requested: amount.0,
                        })?;
                stake.unbonding = stake
                    .unbonding
                    .checked_add(*amount)
                    .ok_or(TxError::AmountOverflow)?;
                view.put(key, &stake);
                if !self.electable(stake.bonded)
                    && !self.someone_else_electable(view, &tx.sender)?
                {
                    return Err(TxError::LastValidatorStake);
                }
                Ok(())
            }
            // Debited with the fee above; the side chain credits it.
            Payload::DagDeposit { amount } => {
                if *amount == Amount::ZERO {
                    return Err(TxError::ZeroAmount);
                }
                Ok(())
            }
            Payload::PublishSealKey {
                subject,
                suite,
                public_key,
                key_seq,
                subject_signature,
            } => {
                if !crate::seal::public_key_is_valid(*suite, public_key) {
                    return Err(TxError::InvalidSealKey);
                }
                match subject_signature {
                    None if *subject == tx.sender => {}
                    Some(signature) if *subject != tx.sender => {
                        owned_device(view, subject)?;
                        subject
                            .verify(
                                SigningDomain::SealKeyBinding,
                                self.params.chain_id,
                                &crate::seal::key_binding_message(
                                    subject, *suite, *key_seq, public_key,
                                ),
                                signature,
                            )
                            .map_err(|_| TxError::BadSealKeyBinding)?;
                    }
                    _ => return Err(TxError::BadSealKeyBinding),
                }
                let key = state_key::seal_key(subject, *suite);
                let current: Option<SealKeyRecord> = view.get(&key)?;
                let expected = match current {
                    None => 0,
                    Some(record) => record
                        .key_seq
                        .checked_add(1)
                        .ok_or(TxError::AmountOverflow)?,
                };
                if *key_seq != expected {
                    return Err(TxError::SealKeySequence {
                        expected,
                        found: *key_seq,
                    });
                }
                let record = SealKeyRecord {
                    suite: *suite,
                    public_key: public_key.clone(),
                    key_seq: *key_seq,
                    published_height: context.height,
                };
                view.put(key, &record);
                Ok(())
            }
            Payload::RegisterProduct {
                product,
                release_key,
            } => {
                let key = state_key::product(*product);
                let record = match view.get::<ProductRecord>(&key)? {
                    None => ProductRecord {
                        manufacturer: tx.sender,
                        release_key: *release_key,
                        key_seq: 0,
                    },
                    Some(current) if current.manufacturer == tx.sender => ProductRecord {
                        release_key: *release_key,
                        key_seq: current
                            .key_seq
                            .checked_add(1)
                            .ok_or(TxError::AmountOverflow)?,
                        ..current
                    },
                    Some(_) => return Err(TxError::NotManufacturer),
                };
                view.put(key, &record);
                Ok(())
            }
            Payload::PublishRelease {
                manifest,
                signature,
            } => {
                if !manifest.is_well_formed() {
                    return Err(TxError::MalformedManifest);
                }
                let product: ProductRecord = view
                    .get(&state_key::product(manifest.product))?
                    .ok_or(TxError::UnknownProduct)?;
                manifest
                    .verify(&product.release_key, self.params.chain_id, signature)
                    .map_err(|_| TxError::BadReleaseSignature)?;
                let key = state_key::release(manifest.product);
                if let Some(current) = view.get::<ReleaseRecord>(&key)? {
                    if manifest.version <= current.manifest.version {
                        return Err(TxError::StaleRelease {
                            current: current.manifest.version,
                            found: manifest.version,
                        });
                    }
                }
                let record = ReleaseRecord {
                    manifest: *manifest,
                    signature: *signature,
                    revoked: false,
                    published_height: context.height,
                };
                view.put(key, &record);
                Ok(())
            }
            Payload::RevokeRelease { product, version } => {
                let record: ProductRecord = view
                    .get(&state_key::product(*product))?
                    .ok_or(TxError::UnknownProduct)?;
                if record.manufacturer != tx.sender {
                    return Err(TxError::NotManufacturer);
                }
                let key = state_key::release(*product);
                let mut release: ReleaseRecord = view
                    .get(&key)?
                    .filter(|r: &ReleaseRecord| r.manifest.version == *version && !r.revoked)
                    .ok_or(TxError::NoSuchRelease)?;
                release.revoked = true;
                view.put(key, &release);
                Ok(())
            }
            Payload::Module { module, body } => {
                let handler = self
                    .module(*module)
                    .ok_or(TxError::UnknownModule { module: *module })?;
                if body.len() > MODULE_BODY_MAX {
                    return Err(TxError::ModuleBodyTooLarge {
                        len: body.len(),
                        max: MODULE_BODY_MAX,
                    });
                }
                handler.check(&tx.sender, body).map_err(TxError::Module)?;
                let mut ctx =
                    ModuleContext::new(*module, context.height, self.params.chain_id, view);
                handler
                    .execute(&mut ctx, &tx.sender, body)
                    .map_err(TxError::Module)
            }
        }
    }
}

impl Ledger {
    /// Whether a bonded stake can be elected at the next boundary.
    fn electable(&self, bonded: Amount) -> bool {
        bonded != Amount::ZERO && bonded >= self.params.min_validator_stake
    }

    /// Whether a candidate other than `except` holds an electable stake.
    fn someone_else_electable(&self, view: &View<'_>, except: &PublicKey) -> Result<bool, TxError> {
        for key in read_candidates(view)? {
            if key == *except {
                continue;
            }
            let stake: StakeRecord = view.get(&state_key::stake(&key))?.unwrap_or_default();
            if self.electable(stake.bonded) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Make room in a full candidate list for a stake of `bonded`: evict the
    /// candidate outside the current validator set with the smallest bonded
    /// stake (ties by lowest key) if `bonded` is larger, paying its whole
    /// stake back to its balance.
    fn evict_smaller_candidate(
        &self,
        view: &mut View<'_>,
        candidates: &mut Vec<PublicKey>,
        bonded: Amount,
    ) -> Result<(), TxError> {
        let mut smallest: Option<(Amount, usize, StakeRecord)> = None;
        for (index, key) in candidates.iter().enumerate() {
            if self.validators.weight_of(key).is_some() {
                continue;
            }
            let stake: StakeRecord = view.get(&state_key::stake(key))?.unwrap_or_default();
            // Keys are sorted, so the first of equal stakes has the lowest key.
            if smallest.is_none_or(|(least, _, _)| stake.bonded < least) {
                smallest = Some((stake.bonded, index, stake));
            }
        }
        match smallest {
            Some((least, index, stake)) if least < bonded => {
                let evicted = candidates.remove(index);
                let owed = stake
                    .bonded
                    .checked_add(stake.unbonding)
                    .ok_or(TxError::AmountOverflow)?;
                view.credit(&evicted, owed)?;
                view.delete(state_key::stake(&evicted));
                Ok(())
            }
            _ => Err(TxError::TooManyCandidates),
        }
    }
}

impl View<'_> {
    fn put_raw(&mut self, key: Hash, value: Vec<u8>) {
        self.write(key, Some(value));
    }
}

fn read_candidates(view: &View<'_>) -> Result<Vec<PublicKey>, TxError> {
    Ok(view
        .get_raw(&state_key::candidates())
        .map(decode_keys)
        .transpose()
        .map_err(|_| TxError::CorruptedState)?
        .unwrap_or_default())
}

fn encode_keys(keys: &[PublicKey]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + keys.len() * 32);
    write_vec(&mut out, keys);
    out
}

fn decode_keys(bytes: &[u8]) -> Result<Vec<PublicKey>, DecodeError> {
    let mut reader = Reader::new(bytes);
    let keys: Vec<PublicKey> = reader.read_vec("candidates", CANDIDATES_MAX)?;
    reader.finish()?;
    Ok(keys)
}
