//! Ledger modules: application logic that runs inside block execution
//! without the ledger depending on it.
//!
//! A module (ChainCode's analytics campaigns, for example) is registered on
//! a [`Ledger`](crate::ledger::Ledger) with
//! [`Ledger::with_module`](crate::ledger::Ledger::with_module). It then
//!
//! * executes the [`Payload::Module`](crate::types::Payload::Module)
//!   transactions that carry its id ([`LedgerModule::execute`]), after the
//!   ledger has charged the fee and bumped the sender's nonce exactly as for
//!   any other payload;
//! * runs once at the end of every block ([`LedgerModule::end_block`]), after
//!   the block's transactions and before the proposer's fees and the epoch
//!   boundary, for deadline-driven work;
//! * keeps its state in the ledger's sparse Merkle tree under
//!   [`state_key::module`] keys, so a
//!   light client proves a module's record against a header's state root
//!   like any other state;
//! * holds tokens in an escrow whose total is itself state
//!   ([`state_key::module_escrow`]):
//!   tokens only move between balances and escrows, so the supply is
//!   conserved (balances + stakes + unbonding + DAG deposits + escrows).
//!
//! A transaction whose module fails leaves no trace: block builders drop it
//! ([`Ledger::select_valid`](crate::ledger::Ledger::select_valid)) and a
//! block that carries it is invalid, exactly as for any other payload.
//!
//! # Determinism
//!
//! Every validator runs every module on every block and must reach the same
//! state root. A module must therefore be a pure function of its inputs
//! (the context's state, height and chain id, the sender and the body):
//! integer arithmetic only, no clocks, randomness, I/O, hash-map iteration
//! order or other host-dependent behaviour, and the same error (or success)
//! on every machine.

use crate::encoding::{Decode, Encode};
use crate::hash::Hash;
use crate::keys::PublicKey;
use crate::ledger::{state_key, AccountState};
use crate::types::{Amount, ChainId};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Why a module refused a transaction or failed at the end of a block.
///
/// `code` is the module's own (codes from [`ModuleError::RESERVED_CODES`]
/// on are reserved for the errors of [`ModuleContext`] itself); `reason` is
/// for people. Both must be deterministic: they end up in rejected-block
/// reports that validators compare.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("module {module} error {code}: {reason}")]
pub struct ModuleError {
    /// The module's id.
    pub module: u8,
    /// The module's error code.
    pub code: u16,
    /// A readable explanation.
    pub reason: String,
}

impl ModuleError {
    /// First code reserved for [`ModuleContext`]'s own errors; modules use
    /// codes below it.
    pub const RESERVED_CODES: u16 = 0xFF00;
    /// [`ModuleContext::debit`]: the account holds less than the amount.
    pub const INSUFFICIENT_BALANCE: u16 = 0xFF01;
    /// [`ModuleContext::credit`]: the module's escrow holds less than the
    /// amount.
    pub const INSUFFICIENT_ESCROW: u16 = 0xFF02;
    /// A balance or the escrow would overflow (cannot happen on a ledger
    /// made from a valid genesis; kept as a defence).
    pub const AMOUNT_OVERFLOW: u16 = 0xFF03;
    /// A ledger record (an account or the escrow total) does not decode.
    pub const CORRUPTED_STATE: u16 = 0xFF04;

    /// An error of module `module` with `code` and `reason`.
    pub fn new(module: u8, code: u16, reason: impl Into<String>) -> Self {
        ModuleError {
            module,
            code,
            reason: reason.into(),
        }
    }
}

/// A ledger module: deterministic logic that runs inside block execution
/// over its own part of the state tree (see the [module docs](self)).
///
/// Implementations must be deterministic (same inputs, same writes and the
/// same result on every machine); see the module docs for what that rules
/// out.
pub trait LedgerModule: Send + Sync + fmt::Debug {
    /// The module's id: [`Payload::Module`](crate::types::Payload::Module)
    /// transactions with this id go to it, and its state keys are
    /// namespaced by it. Must never change for a given chain.
    fn id(&self) -> u8;

    /// Cheap stateless validation of a transaction body (decoding, size
    /// caps), run before [`LedgerModule::execute`] and on mempool admission
    /// ([`Ledger::check_transaction`](crate::ledger::Ledger::check_transaction)).
    ///
    /// # Errors
    /// A [`ModuleError`] that rejects the transaction.
    fn check(&self, sender: &PublicKey, body: &[u8]) -> Result<(), ModuleError>;

    /// Execute a transaction body for `sender`, after the ledger has charged
    /// the fee and bumped the nonce. State reads see the block's earlier
    /// writes.
    ///
    /// # Errors
    /// A [`ModuleError`] rejects the transaction: none of its writes (nor
    /// its fee or nonce) take effect, and a block carrying it is invalid.
    fn execute(
        &self,
        ctx: &mut ModuleContext<'_>,
        sender: &PublicKey,
        body: &[u8],
    ) -> Result<(), ModuleError>;

    /// Run once at the end of every block, after its transactions and before
    /// the proposer's fees and the epoch boundary (for deadlines: closing
    /// campaigns, paying out). Does nothing by default.
    ///
    /// # Errors
    /// A [`ModuleError`] means the module's state is corrupted: the block
    /// cannot be applied ([`BlockError::ModuleEndBlock`](crate::ledger::BlockError::ModuleEndBlock)).
    fn end_block(&self, ctx: &mut ModuleContext<'_>) -> Result<(), ModuleError> {
        let _ = ctx;
        Ok(())
    }
}

/// The ledger's pending state as a module sees it (implemented by the
/// ledger's block view).
pub(crate) trait ModuleState {
    /// The value of a state key, including the block's pending writes.
    fn state_get(&self, key: &Hash) -> Option<&[u8]>;
    /// Write (`Some`) or delete (`None`) a state key, undoably.
    fn state_write(&mut self, key: Hash, value: Option<Vec<u8>>);
}

/// What a module may read and write while it runs: its own records, its
/// escrow and account balances, with the block's pending writes visible.
pub struct ModuleContext<'a> {
    module: u8,
    height: u64,
    chain_id: ChainId,
    state: &'a mut (dyn ModuleState + 'a),
}

impl fmt::Debug for ModuleContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleContext")
            .field("module", &self.module)
            .field("height", &self.height)
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

impl<'a> ModuleContext<'a> {
    pub(crate) fn new(
        module: u8,
        height: u64,
        chain_id: ChainId,
        state: &'a mut (dyn ModuleState + 'a),
    ) -> Self {
        ModuleContext {
            module,
            height,
            chain_id,
            state,
        }
    }

    /// The id of the module this context belongs to.
    pub fn module(&self) -> u8 {
        self.module
    }

    /// The height of the block being executed.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The chain's id.
    pub fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    /// The module's record under `key` (state key
    /// [`state_key::module`]`(id, key)`).
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.state
            .state_get(&state_key::module(self.module, key))
            .map(<[u8]>::to_vec)
    }

    /// Store the module's record under `key`.
    pub fn put(&mut self, key: &[u8], value: Vec<u8>) {
        self.state
            .state_write(state_key::module(self.module, key), Some(value));
    }

    /// Delete the module's record under `key` (nothing if absent).
    pub fn delete(&mut self, key: &[u8]) {
        let key = state_key::module(self.module, key);
        if self.state.state_get(&key).is_some() {
            self.state.state_write(key, None);
        }
    }

    /// An account's spendable balance (zero for an unknown account or an
    /// undecodable record).
    pub fn balance(&self, account: &PublicKey) -> Amount {
        self.account(account).map(|a| a.balance).unwrap_or_default()
    }

    /// The tokens the module holds in escrow.
    pub fn escrow(&self) -> Amount {
        self.read_escrow().unwrap_or_default()
    }

    /// Move `amount` from `account`'s balance into the module's escrow.
    ///
    /// Modules must only debit accounts that authorised it (normally the
    /// transaction's sender, who signed the body).
    ///
    /// # Errors
    /// [`ModuleError::INSUFFICIENT_BALANCE`] if the account holds less;
    /// [`ModuleError::AMOUNT_OVERFLOW`] or [`ModuleError::CORRUPTED_STATE`]
    /// on a broken ledger. Nothing moves on error.
    pub fn debit(&mut self, account: &PublicKey, amount: Amount) -> Result<(), ModuleError> {
        if amount == Amount::ZERO {
            return Ok(());
        }
        let mut state = self.account(account)?;
        let escrow = self.read_escrow()?;
        state.balance = state.balance.checked_sub(amount).ok_or_else(|| {
            self.error(
                ModuleError::INSUFFICIENT_BALANCE,
                format!(
                    "insufficient balance: needed {}, available {}",
                    amount.0, state.balance.0
                ),
            )
        })?;
        let escrow = escrow
            .checked_add(amount)
            .ok_or_else(|| self.error(ModuleError::AMOUNT_OVERFLOW, "escrow overflow"))?;
        self.state
            .state_write(state_key::account(account), Some(state.encode()));
        self.write_escrow(escrow);
        Ok(())
    }

    /// Move `amount` from the module's escrow to `account`'s balance.
    ///
    /// # Errors
    /// [`ModuleError::INSUFFICIENT_ESCROW`] if the escrow holds less;
    /// [`ModuleError::AMOUNT_OVERFLOW`] or [`ModuleError::CORRUPTED_STATE`]
    /// on a broken ledger. Nothing moves on error.
    pub fn credit(&mut self, account: &PublicKey, amount: Amount) -> Result<(), ModuleError> {
        if amount == Amount::ZERO {
            return Ok(());
        }
        let escrow = self.read_escrow()?;
        let mut state = self.account(account)?;
        let escrow = escrow.checked_sub(amount).ok_or_else(|| {
            self.error(
                ModuleError::INSUFFICIENT_ESCROW,
                format!(
                    "insufficient escrow: needed {}, held {}",
                    amount.0, escrow.0
                ),
            )
        })?;
        state.balance = state
            .balance
            .checked_add(amount)
            .ok_or_else(|| self.error(ModuleError::AMOUNT_OVERFLOW, "balance overflow"))?;
        self.state
            .state_write(state_key::account(account), Some(state.encode()));
        self.write_escrow(escrow);
        Ok(())
    }

    fn error(&self, code: u16, reason: impl Into<String>) -> ModuleError {
        ModuleError::new(self.module, code, reason)
    }

    fn account(&self, account: &PublicKey) -> Result<AccountState, ModuleError> {
        match self.state.state_get(&state_key::account(account)) {
            None => Ok(AccountState::default()),
            Some(bytes) => AccountState::decode(bytes)
                .map_err(|_| self.error(ModuleError::CORRUPTED_STATE, "account record")),
        }
    }

    fn read_escrow(&self) -> Result<Amount, ModuleError> {
        match self.state.state_get(&state_key::module_escrow(self.module)) {
            None => Ok(Amount::ZERO),
            Some(bytes) => Amount::decode(bytes)
                .map_err(|_| self.error(ModuleError::CORRUPTED_STATE, "escrow record")),
        }
    }

    /// An empty escrow has no record (its proof is a non-membership proof).
    fn write_escrow(&mut self, escrow: Amount) {
        let key = state_key::module_escrow(self.module);
        if escrow == Amount::ZERO {
            self.state.state_write(key, None);
        } else {
            self.state.state_write(key, Some(escrow.encode()));
        }
    }
}
