//! The DAG ledger: micro-balances and issuer sequence windows, changed only
//! at anchor time, in white-flag order.
//!
//! # How DAG transfers touch balances
//!
//! The DAG keeps its own balance state, separate from the main-chain
//! [`itc_core::ledger::Ledger`]. It changes only when a main-chain anchor
//! confirms a cone: [`crate::Tangle::confirm`] walks the cone in white-flag
//! order and calls [`LedgerView::apply`] for each transaction, so every
//! validator computes the same balances from the same anchors. Funds enter
//! through [`DagLedger::credit`] (at genesis, or when the main chain applies a
//! deposit into the DAG; see the crate docs for the hook itc-core would need).
//!
//! Rules, in order, for a confirmed transaction from issuer `i` with sequence `s`:
//!
//! 1. `s` must be fresh for `i` ([`SequenceWindow`]): not used before, and
//!    not [`SEQUENCE_WINDOW`] or more below the highest used. Otherwise it is
//!    ignored ([`IgnoredReason::SequenceReused`], [`IgnoredReason::SequenceStale`]).
//!    This makes "same issuer, same sequence" conflicts and replays of pruned
//!    transactions harmless.
//! 2. A transfer needs `balance(i) >= amount` at that point of the order,
//!    else it is ignored ([`IgnoredReason::InsufficientBalance`]).
//! 3. Data records and commands change no balance; they only use the sequence.
//!
//! An ignored transaction stays confirmed (it is in the confirmed Merkle
//! set) but is not applied (not in the applied set) and changes nothing.

use itc_core::encoding::{Decode, DecodeError, Encode, Reader};
use itc_core::hash::{Domain, Hash};
use itc_core::keys::PublicKey;
use itc_core::smt::SparseMerkleTree;
use itc_core::types::Amount;
use std::collections::BTreeMap;

use crate::transaction::{DagPayload, DagTransaction};

/// How far below an issuer's highest used sequence number a fresh sequence
/// may still be (out-of-order delivery inside one or across cones).
pub const SEQUENCE_WINDOW: u64 = 128;
/// Most *funded* accounts (positive balance) that DAG transfers may bring
/// about: only money creates them, so unfunded keys can never take this
/// room. A transfer that would fund one more is ignored
/// ([`IgnoredReason::AccountsFull`]): nothing moves. A main-chain deposit is
/// a paid creation (its main-chain transaction paid a fee) and is always
/// credited ([`DagLedger::credit`]), even beyond this count, so no deposit
/// is ever refused or burned: deposits grow the ledger only as fast as
/// paid main-chain transactions do.
pub const DAG_ACCOUNTS_MAX: usize = 1 << 24;
/// Most new zero-balance accounts (only a sequence window: issuers of data
/// and commands that hold no DAG balance). A data record or command from a
/// new unfunded issuer beyond it is ignored ([`IgnoredReason::AccountsFull`]).
/// Accounts drained to zero by their own transfers keep their window (replay
/// protection) whatever this count.
pub const DAG_UNFUNDED_ACCOUNTS_MAX: usize = 1 << 24;

const _: () = assert!(SEQUENCE_WINDOW == u128::BITS as u64);

/// Which sequence numbers of one issuer are used: the highest, and a bitmap
/// of the [`SEQUENCE_WINDOW`] numbers at and below it (bit `k` = `highest - k`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SequenceWindow {
    highest: Option<u64>,
    used: u128,
}

impl SequenceWindow {
    /// Whether `sequence` may be used now.
    ///
    /// # Errors
    /// [`IgnoredReason::SequenceReused`] or [`IgnoredReason::SequenceStale`].
    pub fn check(&self, sequence: u64) -> Result<(), IgnoredReason> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if sequence > highest {
            return Ok(());
        }
        let distance = highest - sequence;
        if distance >= SEQUENCE_WINDOW {
            return Err(IgnoredReason::SequenceStale);
        }
        if self.used >> distance & 1 == 1 {
            return Err(IgnoredReason::SequenceReused);
        }
        Ok(())
    }

    /// Mark `sequence` used (after [`SequenceWindow::check`] passed).
    pub fn record(&mut self, sequence: u64) {
        match self.highest {
            Some(highest) if sequence <= highest => {
                let distance = highest - sequence;
                debug_assert!(distance < SEQUENCE_WINDOW);
                self.used |= 1 << distance;
            }
            Some(highest) => {
                let shift = sequence - highest;
                self.used = if shift >= SEQUENCE_WINDOW {
                    0
                } else {
                    self.used << shift
                };
                self.used |= 1;
                self.highest = Some(sequence);
            }
            None => {
                self.used = 1;
                self.highest = Some(sequence);
            }
        }
    }

    /// The highest sequence used so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

/// One account of the DAG ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DagAccount {
    /// Spendable DAG balance.
    pub balance: Amount,
    /// Sequence numbers used as an issuer.
    pub sequences: SequenceWindow,
}

impl Encode for DagAccount {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.balance.encode_to(out);
        match self.sequences.highest {
            None => out.push(0),
            Some(h) => {
                out.push(1);
                h.encode_to(out);
                out.extend_from_slice(&self.sequences.used.to_le_bytes());
            }
        }
    }
}

impl Decode for DagAccount {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let balance = Decode::decode_from(r)?;
        let sequences = match r.read_u8()? {
            0 => SequenceWindow::default(),
            1 => {
                let highest = r.read_u64()?;
                let used = u128::from_le_bytes(r.read_array()?);
                if used & 1 == 0 {
                    return Err(DecodeError::InvalidValue(
                        "sequence window without its highest",
                    ));
                }
                if highest < SEQUENCE_WINDOW - 1 && used >> (highest + 1) != 0 {
                    return Err(DecodeError::InvalidValue("sequence window below zero"));
                }
                SequenceWindow {
                    highest: Some(highest),
                    used,
                }
            }
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "sequence window",
                    tag,
                })
            }
        };
        Ok(DagAccount { balance, sequences })
    }
}

/// Why a confirmed transaction was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum IgnoredReason {
    /// The issuer already used this sequence number (a conflict, or a replay).
    #[error("sequence number already used")]
    SequenceReused,
    /// The sequence number is too far below the issuer's highest.
    #[error("sequence number below the issuer's window")]
    SequenceStale,
    /// The issuer's balance does not cover the transfer.
    #[error("insufficient dag balance")]
    InsufficientBalance,
    /// The receiver's balance would overflow.
    #[error("dag balance overflow")]
    BalanceOverflow,
    /// The ledger holds [`DAG_ACCOUNTS_MAX`] funded accounts (or
    /// [`DAG_UNFUNDED_ACCOUNTS_MAX`] unfunded ones, for a new unfunded issuer).
    #[error("dag ledger full")]
    AccountsFull,
}

impl IgnoredReason {
    /// A stable numeric code (for C callers and logs).
    pub fn code(self) -> u8 {
        match self {
            IgnoredReason::SequenceReused => 1,
            IgnoredReason::SequenceStale => 2,
            IgnoredReason::InsufficientBalance => 3,
            IgnoredReason::BalanceOverflow => 4,
            IgnoredReason::AccountsFull => 5,
        }
    }
}

/// Why a direct ledger operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DagLedgerError {
    /// The balance would overflow.
    #[error("dag balance overflow")]
    Overflow,
}

/// The DAG's balance state, with a sparse Merkle root over its accounts.
#[derive(Clone, Debug)]
pub struct DagLedger {
    accounts: BTreeMap<PublicKey, DagAccount>,
    tree: SparseMerkleTree,
    /// Accounts with a positive balance.
    funded: usize,
    /// Caps: [`DAG_ACCOUNTS_MAX`] and [`DAG_UNFUNDED_ACCOUNTS_MAX`] (smaller
    /// only in unit tests).
    funded_max: usize,
    unfunded_max: usize,
}

impl Default for DagLedger {
    fn default() -> Self {
        DagLedger {
            accounts: BTreeMap::new(),
            tree: SparseMerkleTree::default(),
            funded: 0,
            funded_max: DAG_ACCOUNTS_MAX,
            unfunded_max: DAG_UNFUNDED_ACCOUNTS_MAX,
        }
    }
}

fn account_key(owner: &PublicKey) -> Hash {
    Hash::of_parts(Domain::StateKey, &[b"dagacct\0", &owner.0])
}

impl DagLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// The account of `owner` (default if absent).
    pub fn account(&self, owner: &PublicKey) -> DagAccount {
        self.accounts.get(owner).copied().unwrap_or_default()
    }

    /// The DAG balance of `owner`.
    pub fn balance(&self, owner: &PublicKey) -> Amount {
        self.account(owner).balance
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Number of accounts with a positive balance (what
    /// [`DAG_ACCOUNTS_MAX`] bounds).
    pub fn funded_len(&self) -> usize {
        self.funded
    }

    /// Number of zero-balance accounts (sequence windows only).
    pub fn unfunded_len(&self) -> usize {
        self.accounts.len() - self.funded
    }

    /// Whether there are no accounts.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Add funds (genesis, or a main-chain deposit into the DAG). Every
    /// validator must call it at the same point between anchors.
    ///
    /// A credit of zero creates no account. A positive one always lands,
    /// also when [`DAG_ACCOUNTS_MAX`] funded accounts exist (a deposit is a
    /// paid creation); DAG transfers to new accounts are then ignored until
    /// accounts drain.
    ///
    /// # Errors
    /// [`DagLedgerError::Overflow`] if the balance would overflow (not
    /// reachable from deposits: the main chain's total supply is at most
    /// `itc_core::ledger::SUPPLY_MAX`); nothing changes then.
    pub fn credit(&mut self, owner: PublicKey, amount: Amount) -> Result<(), DagLedgerError> {
        if amount == Amount(0) {
            return Ok(());
        }
        let mut account = self.account(&owner);
        account.balance = account
            .balance
            .checked_add(amount)
            .ok_or(DagLedgerError::Overflow)?;
        self.put(owner, account);
        Ok(())
    }

    fn put(&mut self, owner: PublicKey, account: DagAccount) {
        self.tree.insert(
            account_key(&owner),
            itc_core::ledger::value_hash(&account.encode()),
        );
        let was_funded = self
            .accounts
            .get(&owner)
            .is_some_and(|a| a.balance > Amount(0));
        let is_funded = account.balance > Amount(0);
        match (was_funded, is_funded) {
            (false, true) => self.funded += 1,
            (true, false) => self.funded -= 1,
            _ => {}
        }
        self.accounts.insert(owner, account);
    }

    /// Sparse Merkle root over all accounts (key: `StateKey("dagacct\0" ||
    /// owner)`, value: the account's encoding). Not yet in any header; see
    /// the crate docs.
    pub fn state_root(&mut self) -> Hash {
        self.tree.root()
    }

    /// All accounts in key order.
    pub fn accounts(&self) -> impl Iterator<Item = (&PublicKey, &DagAccount)> {
        self.accounts.iter()
    }

    /// The ledger's own invariant (O(accounts)): the funded count is the
    /// number of accounts with a positive balance.
    pub(crate) fn check_invariants(&self) -> Result<(), &'static str> {
        let funded = self
            .accounts
            .values()
            .filter(|a| a.balance > Amount(0))
            .count();
        if funded != self.funded {
            return Err("funded account count is not exact");
        }
        Ok(())
    }

    pub(crate) fn restore_account(&mut self, owner: PublicKey, account: DagAccount) {
        self.put(owner, account);
    }

    pub(crate) fn commit(&mut self, changes: LedgerChanges) {
        for (owner, account) in changes.accounts {
            self.put(owner, account);
        }
    }
}

/// Account changes computed by a [`LedgerView`], committed with a confirmation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerChanges {
    accounts: BTreeMap<PublicKey, DagAccount>,
}

impl LedgerChanges {
    /// Changed accounts in key order, with their new state.
    pub fn iter(&self) -> impl Iterator<Item = (&PublicKey, &DagAccount)> {
        self.accounts.iter()
    }

    /// Number of accounts changed.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }
}

/// Pending changes layered over a [`DagLedger`]; used while applying one
/// cone in white-flag order.
#[derive(Debug)]
pub struct LedgerView<'a> {
    ledger: &'a DagLedger,
    changes: LedgerChanges,
    /// Funded accounts after the changes so far.
    funded: usize,
    /// Accounts after the changes so far.
    total: usize,
}

impl<'a> LedgerView<'a> {
    /// A view with no changes yet.
    pub fn new(ledger: &'a DagLedger) -> Self {
        LedgerView {
            ledger,
            changes: LedgerChanges::default(),
            funded: ledger.funded,
            total: ledger.accounts.len(),
        }
    }

    /// The account as changed so far.
    pub fn account(&self, owner: &PublicKey) -> DagAccount {
        self.changes
            .accounts
            .get(owner)
            .copied()
            .unwrap_or_else(|| self.ledger.account(owner))
    }

    fn exists(&self, owner: &PublicKey) -> bool {
        self.changes.accounts.contains_key(owner) || self.ledger.accounts.contains_key(owner)
    }

    /// Whether funding `newly_funded` more accounts fits [`DAG_ACCOUNTS_MAX`].
    fn room_for_funded(&self, newly_funded: usize) -> bool {
        newly_funded == 0 || self.funded + newly_funded <= self.ledger.funded_max
    }

    /// Whether one more zero-balance account fits [`DAG_UNFUNDED_ACCOUNTS_MAX`].
    fn room_for_unfunded(&self) -> bool {
        self.total - self.funded < self.ledger.unfunded_max
    }

    fn put(&mut self, owner: PublicKey, account: DagAccount) {
        if !self.exists(&owner) {
            self.total += 1;
        }
        let was_funded = self.account(&owner).balance > Amount(0);
        let is_funded = account.balance > Amount(0);
        match (was_funded, is_funded) {
            (false, true) => self.funded += 1,
            (true, false) => self.funded -= 1,
            _ => {}
        }
        self.changes.accounts.insert(owner, account);
    }

    /// Apply one confirmed transaction, or say why it is ignored. An
    /// ignored transaction changes nothing.
    ///
    /// # Errors
    /// The [`IgnoredReason`].
    pub fn apply(&mut self, tx: &DagTransaction) -> Result<(), IgnoredReason> {
        let mut issuer = self.account(&tx.issuer);
        issuer.sequences.check(tx.sequence)?;
        let issuer_is_new = !self.exists(&tx.issuer);
        // A new issuer holds no balance: it would be one more unfunded account.
        if issuer_is_new && !self.room_for_unfunded() {
            return Err(IgnoredReason::AccountsFull);
        }
        let issuer_was_funded = issuer.balance > Amount(0);
        match &tx.payload {
            DagPayload::Transfer { to, amount } => {
                issuer.balance = issuer
                    .balance
                    .checked_sub(*amount)
                    .ok_or(IgnoredReason::InsufficientBalance)?;
                issuer.sequences.record(tx.sequence);
                if *to == tx.issuer {
                    // A transfer to oneself: the balance check above is the
                    // only effect besides the sequence.
                    issuer.balance = issuer
                        .balance
                        .checked_add(*amount)
                        .expect("just subtracted");
                    self.put(tx.issuer, issuer);
                    return Ok(());
                }
                let mut receiver = self.account(to);
                let receiver_was_funded = receiver.balance > Amount(0);
                receiver.balance = receiver
                    .balance
                    .checked_add(*amount)
                    .ok_or(IgnoredReason::BalanceOverflow)?;
                // Only money creates (funds) an account: the receiver may
                // take one more funded slot, the issuer may free its own.
                let funds = usize::from(!receiver_was_funded && receiver.balance > Amount(0));
                let frees = usize::from(issuer_was_funded && issuer.balance == Amount(0));
                if !self.room_for_funded(funds.saturating_sub(frees)) {
                    return Err(IgnoredReason::AccountsFull);
                }
                self.put(tx.issuer, issuer);
                if receiver.balance > Amount(0) || self.exists(to) {
                    // A zero transfer to an unknown key creates nothing.
                    self.put(*to, receiver);
                }
            }
            DagPayload::Data { .. } | DagPayload::Command { .. } | DagPayload::Sealed { .. } => {
                issuer.sequences.record(tx.sequence);
                self.put(tx.issuer, issuer);
            }
        }
        Ok(())
    }

    /// The changes, to commit later.
    pub fn into_changes(self) -> LedgerChanges {
        self.changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_core::keys::Keypair;
    use itc_core::types::ChainId;

    #[test]
    fn sequence_window_accepts_each_number_once_and_out_of_order() {
        let mut w = SequenceWindow::default();
        for s in [5u64, 3, 7, 4, 6] {
            assert_eq!(w.check(s), Ok(()));
            w.record(s);
        }
        for s in 3..=7 {
            assert_eq!(w.check(s), Err(IgnoredReason::SequenceReused));
        }
        assert_eq!(w.check(2), Ok(()));
        w.record(1000);
        assert_eq!(w.check(7), Err(IgnoredReason::SequenceStale));
        assert_eq!(w.check(1000 - 127), Ok(()));
        assert_eq!(w.check(1000 - 128), Err(IgnoredReason::SequenceStale));
        assert_eq!(w.check(1000), Err(IgnoredReason::SequenceReused));
        assert_eq!(w.highest(), Some(1000));
    }

    #[test]
    fn account_decoding_rejects_sequences_below_zero() {
        let mut bytes = DagAccount::default().balance.encode();
        bytes.push(1);
        bytes.extend_from_slice(&3u64.to_le_bytes());
        bytes.extend_from_slice(&0b1_0001u128.to_le_bytes());
        assert!(DagAccount::decode(&bytes).is_err());
    }

    fn issued(issuer: &Keypair, sequence: u64, payload: DagPayload) -> DagTransaction {
        let parents = vec![Hash([1; 32]), Hash([2; 32])];
        DagTransaction::new_signed(issuer, ChainId(1), parents, sequence, payload)
    }

    /// Issue 17 item 10: unfunded issuers fill only their own class; a
    /// deposit (or a transfer) to a new key still has room.
    #[test]
    fn unfunded_issuers_never_take_the_room_deposits_need() {
        let mut ledger = DagLedger::new();
        ledger.funded_max = 4;
        ledger.unfunded_max = 8;
        let rich = Keypair::from_seed([1; 32]);
        ledger.credit(rich.public(), Amount(100)).unwrap();
        // Many unfunded keys post data: they fill the unfunded class only.
        let mut changes = Vec::new();
        {
            let mut view = LedgerView::new(&ledger);
            for i in 0..20u8 {
                let key = Keypair::from_seed([100 + i; 32]);
                let record = DagPayload::Data { record: vec![i] };
                changes.push(view.apply(&issued(&key, 0, record)));
            }
            ledger.commit(view.into_changes());
        }
        assert_eq!(changes.iter().filter(|c| c.is_ok()).count(), 8);
        assert!(changes[8..]
            .iter()
            .all(|c| *c == Err(IgnoredReason::AccountsFull)));
        assert_eq!((ledger.funded_len(), ledger.unfunded_len()), (1, 8));
        // Deposits to new keys are still credited; a zero one creates nothing.
        let newcomer = Keypair::from_seed([50; 32]).public();
        ledger.credit(newcomer, Amount(7)).unwrap();
        assert_eq!(ledger.balance(&newcomer), Amount(7));
        ledger
            .credit(Keypair::from_seed([51; 32]).public(), Amount(0))
            .unwrap();
        assert_eq!(ledger.len(), 10);
        // A zero transfer to an unknown key creates no account either.
        let mut view = LedgerView::new(&ledger);
        let nobody = Keypair::from_seed([52; 32]).public();
        let zero = DagPayload::Transfer {
            to: nobody,
            amount: Amount(0),
        };
        assert_eq!(view.apply(&issued(&rich, 0, zero)), Ok(()));
        ledger.commit(view.into_changes());
        assert_eq!(ledger.len(), 10);
        // Transfers may fund accounts up to the cap; a deposit (a paid
        // creation) is credited beyond it, never refused or burned.
        for i in 0..2u8 {
            ledger
                .credit(Keypair::from_seed([60 + i; 32]).public(), Amount(1))
                .unwrap();
        }
        assert_eq!(ledger.funded_len(), 4);
        let late = Keypair::from_seed([70; 32]).public();
        assert_eq!(ledger.credit(late, Amount(3)), Ok(()));
        assert_eq!(ledger.balance(&late), Amount(3));
        assert_eq!(ledger.funded_len(), 5);
        // Over the cap, a transfer to a new key is ignored (nothing moves)...
        let fresh = Keypair::from_seed([71; 32]).public();
        let newcomer_key = Keypair::from_seed([50; 32]);
        let mut view = LedgerView::new(&ledger);
        let to_fresh = DagPayload::Transfer {
            to: fresh,
            amount: Amount(2),
        };
        assert_eq!(
            view.apply(&issued(&newcomer_key, 0, to_fresh)),
            Err(IgnoredReason::AccountsFull)
        );
        // ... while draining an account into another frees its funded slot.
        let all = DagPayload::Transfer {
            to: late,
            amount: Amount(7),
        };
        assert_eq!(view.apply(&issued(&newcomer_key, 1, all)), Ok(()));
        ledger.commit(view.into_changes());
        assert_eq!(ledger.balance(&late), Amount(10));
        assert_eq!(ledger.balance(&fresh), Amount(0));
        assert_eq!(ledger.funded_len(), 4);
    }

    #[test]
    fn account_encoding_round_trips() {
        let mut a = DagAccount {
            balance: Amount(77),
            ..DagAccount::default()
        };
        assert_eq!(DagAccount::decode(&a.encode()), Ok(a));
        a.sequences.record(9);
        a.sequences.record(4);
        assert_eq!(DagAccount::decode(&a.encode()), Ok(a));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn account_round_trips_after_any_sequence_history(
                balance in any::<u64>(),
                sequences in proptest::collection::vec(0u64..400, 0..40),
            ) {
                let mut account = DagAccount { balance: Amount(balance), ..DagAccount::default() };
                for s in sequences {
                    if account.sequences.check(s).is_ok() {
                        account.sequences.record(s);
                        prop_assert!(account.sequences.check(s).is_err(), "used twice");
                    }
                }
                prop_assert_eq!(DagAccount::decode(&account.encode()), Ok(account));
            }
        }
    }

    #[test]
    fn overspending_transfer_is_ignored_and_changes_nothing() {
        let alice = Keypair::from_seed([1; 32]);
        let bob = Keypair::from_seed([2; 32]).public();
        let mut ledger = DagLedger::new();
        ledger.credit(alice.public(), Amount(10)).unwrap();
        let transfer = |seq, amount| {
            DagTransaction::new_signed(
                &alice,
                ChainId(1),
                vec![Hash([1; 32]), Hash([2; 32])],
                seq,
                DagPayload::Transfer {
                    to: bob,
                    amount: Amount(amount),
                },
            )
        };
        let mut view = LedgerView::new(&ledger);
        assert_eq!(view.apply(&transfer(0, 7)), Ok(()));
        assert_eq!(
            view.apply(&transfer(1, 7)),
            Err(IgnoredReason::InsufficientBalance)
        );
        assert_eq!(
            view.apply(&transfer(0, 1)),
            Err(IgnoredReason::SequenceReused)
        );
        assert_eq!(view.apply(&transfer(1, 3)), Ok(()));
        let changes = view.into_changes();
        ledger.commit(changes);
        assert_eq!(ledger.balance(&alice.public()), Amount(0));
        assert_eq!(ledger.balance(&bob), Amount(10));
    }

    #[test]
    fn state_root_depends_on_balances_only_through_accounts() {
        let a = Keypair::from_seed([1; 32]).public();
        let mut one = DagLedger::new();
        let mut two = DagLedger::new();
        one.credit(a, Amount(5)).unwrap();
        two.credit(a, Amount(2)).unwrap();
        assert_ne!(one.state_root(), two.state_root());
        two.credit(a, Amount(3)).unwrap();
        assert_eq!(one.state_root(), two.state_root());
    }
}
