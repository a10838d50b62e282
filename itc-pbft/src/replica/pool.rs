//! The transaction pool: client transactions waiting for a block, keyed by
//! (sender, nonce), with the set of senders whose next transaction is
//! pooled so that finding executable work never scans the whole pool.

use super::error::SubmitError;
use super::invariant::{ensure, InvariantViolation, ReplicaPart};
use crate::config::{POOL_NONCE_AHEAD_MAX, POOL_TRANSACTIONS_MAX};
use itc_core::encoding::Encode;
use itc_core::keys::PublicKey;
use itc_core::ledger::{Ledger, TxError};
use itc_core::types::{ChainId, Payload, Transaction};
use std::collections::{BTreeMap, BTreeSet};

/// Pooled transactions and the bookkeeping that finds the executable ones.
#[derive(Debug, Default)]
pub(super) struct TxPool {
    /// At most [`POOL_TRANSACTIONS_MAX`], none below its sender's account
    /// nonce, none [`POOL_NONCE_AHEAD_MAX`] or more above it.
    transactions: BTreeMap<(PublicKey, u64), Transaction>,
    /// Senders whose next transaction (their account's nonce) is pooled:
    /// exactly those, kept in step with every change to the pool or a
    /// nonce.
    ready: BTreeSet<PublicKey>,
    /// Where the primary's next scan of `ready` starts (rotates, so no
    /// sender is starved by senders with smaller keys).
    propose_cursor: Option<PublicKey>,
}

impl TxPool {
    /// Number of pooled transactions.
    pub(super) fn len(&self) -> usize {
        self.transactions.len()
    }

    /// Whether the pool is empty.
    pub(super) fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// Whether exactly `tx` is pooled (so its signature was verified on
    /// admission).
    pub(super) fn holds(&self, tx: &Transaction) -> bool {
        self.transactions
            .get(&(tx.sender, tx.nonce))
            .is_some_and(|pooled| pooled == tx)
    }

    /// Whether some pooled transaction carries its sender's next nonce (one
    /// waiting for an earlier nonce does not make the primary late).
    pub(super) fn has_executable(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The first `max` pooled transactions in key order (forwarded to the
    /// primary when nothing executes).
    pub(super) fn first(&self, max: usize) -> Vec<Transaction> {
        self.transactions.values().take(max).cloned().collect()
    }

    /// Admit `tx` against the ledger's state: deduplicated by (sender,
    /// nonce), nonce within [`POOL_NONCE_AHEAD_MAX`] of the account's,
    /// pool bounded by [`POOL_TRANSACTIONS_MAX`]; the sender's next
    /// transaction is checked in full by the ledger, later ones for chain
    /// and signature.
    pub(super) fn admit(
        &mut self,
        tx: Transaction,
        ledger: &Ledger,
        chain_id: ChainId,
    ) -> Result<(), SubmitError> {
        let key = (tx.sender, tx.nonce);
        if self.transactions.contains_key(&key) {
            return Err(SubmitError::Duplicate);
        }
        let next_nonce = ledger.account(&tx.sender).nonce;
        if tx.nonce < next_nonce {
            return Err(SubmitError::Invalid(TxError::StaleNonce {
                expected: next_nonce,
                found: tx.nonce,
            }));
        }
        if tx.nonce >= next_nonce.saturating_add(POOL_NONCE_AHEAD_MAX) {
            return Err(SubmitError::NonceTooFarAhead);
        }
        if self.transactions.len() >= POOL_TRANSACTIONS_MAX {
            return Err(SubmitError::PoolFull);
        }
        if tx.nonce == next_nonce {
            ledger.check_transaction(&tx)?;
        } else {
            if tx.chain_id != chain_id {
                return Err(SubmitError::Invalid(TxError::WrongChain {
                    expected: chain_id,
                    found: tx.chain_id,
                }));
            }
            tx.verify_signature()
                .map_err(|_| SubmitError::Invalid(TxError::BadSignature))?;
        }
        self.transactions.insert(key, tx);
        if key.1 == next_nonce {
            self.ready.insert(key.0);
        }
        Ok(())
    }

    /// Drop one transaction (the ledger refused it for a block).
    pub(super) fn remove(&mut self, sender: PublicKey, nonce: u64, ledger: &Ledger) {
        self.transactions.remove(&(sender, nonce));
        self.refresh_ready(sender, ledger);
    }

    /// Bring `sender`'s membership of the ready set in step with the pool
    /// and its account's nonce.
    fn refresh_ready(&mut self, sender: PublicKey, ledger: &Ledger) {
        let nonce = ledger.account(&sender).nonce;
        if self.transactions.contains_key(&(sender, nonce)) {
            self.ready.insert(sender);
        } else {
            self.ready.remove(&sender);
        }
    }

    /// After a block moved `sender`'s nonce: drop its pooled transactions
    /// that can no longer execute, that is used nonces, and a next
    /// transaction the sender can no longer pay for (so that an invalid
    /// transaction does not keep the request timer running).
    pub(super) fn clean(&mut self, sender: PublicKey, ledger: &Ledger) {
        let account = ledger.account(&sender);
        let stale: Vec<(PublicKey, u64)> = self
            .transactions
            .range((sender, 0)..(sender, account.nonce))
            .map(|(k, _)| *k)
            .collect();
        for key in stale {
            self.transactions.remove(&key);
        }
        let Some(next) = self.transactions.get(&(sender, account.nonce)) else {
            self.refresh_ready(sender, ledger);
            return;
        };
        let payable = match &next.payload {
            Payload::Transfer { amount, .. }
            | Payload::Bond { amount }
            | Payload::DagDeposit { amount } => amount
                .checked_add(next.fee)
                .is_some_and(|needed| needed <= account.balance),
            // Other payloads depend on more state: ask the ledger (this
            // verifies the signature once more).
            _ => ledger.check_transaction(next).is_ok(),
        };
        if !payable {
            self.transactions.remove(&(sender, account.nonce));
        }
        self.refresh_ready(sender, ledger);
    }

    /// Up to `max` pooled transactions that can execute in order: each
    /// ready sender's run of consecutive nonces from its account's nonce,
    /// senders taken in key order from a rotating start. Transactions
    /// waiting for an earlier nonce are never looked at, so they cannot
    /// crowd out executable ones.
    ///
    /// Stops too once the candidates' encodings reach `bytes_max`, so large
    /// module transactions are not all executed for a block that can hold
    /// only a few of them.
    pub(super) fn executable_candidates(
        &self,
        max: usize,
        bytes_max: usize,
        ledger: &Ledger,
    ) -> Vec<Transaction> {
        let start = self.propose_cursor.unwrap_or(PublicKey([0; 32]));
        let mut out = Vec::new();
        let mut bytes = 0usize;
        // Lazily: a block reads only as many senders as it needs.
        'senders: for sender in self.ready.range(start..).chain(self.ready.range(..start)) {
            let first = ledger.account(sender).nonce;
            let run = self
                .transactions
                .range((*sender, first)..=(*sender, u64::MAX))
                .enumerate()
                .take_while(|(i, ((_, nonce), _))| *nonce == first + *i as u64)
                .map(|(_, (_, tx))| tx);
            for tx in run {
                if out.len() >= max || bytes >= bytes_max {
                    break 'senders;
                }
                bytes = bytes.saturating_add(transaction_bytes(tx));
                out.push(tx.clone());
            }
        }
        out
    }

    /// The next block's scan starts after `last_served`, the last sender
    /// this block serves (from the start if none).
    pub(super) fn rotate_after(&mut self, last_served: Option<PublicKey>) {
        self.propose_cursor = last_served.and_then(|sender| {
            self.ready
                .range((
                    core::ops::Bound::Excluded(sender),
                    core::ops::Bound::Unbounded,
                ))
                .next()
                .copied()
        });
    }

    /// The pool's own invariants; with `ledger` (the state the pool is kept
    /// in step with) also those against account nonces, which scan the
    /// whole pool.
    pub(super) fn check_invariants(
        &self,
        ledger: Option<&Ledger>,
    ) -> Result<(), InvariantViolation> {
        let part = ReplicaPart::Pool;
        ensure(
            self.transactions.len() <= POOL_TRANSACTIONS_MAX,
            part,
            "more transactions than POOL_TRANSACTIONS_MAX",
        )?;
        ensure(
            self.ready.len() <= self.transactions.len(),
            part,
            "more ready senders than transactions",
        )?;
        let Some(ledger) = ledger else {
            return Ok(());
        };
        let mut sender_nonce: Option<(PublicKey, u64)> = None;
        for ((sender, nonce), tx) in &self.transactions {
            ensure(
                tx.sender == *sender && tx.nonce == *nonce,
                part,
                "transaction stored under another (sender, nonce)",
            )?;
            let next = match sender_nonce {
                Some((known, next)) if known == *sender => next,
                _ => {
                    let next = ledger.account(sender).nonce;
                    sender_nonce = Some((*sender, next));
                    ensure(
                        self.ready.contains(sender)
                            == self.transactions.contains_key(&(*sender, next)),
                        part,
                        "ready set out of step with the pool",
                    )?;
                    next
                }
            };
            ensure(
                *nonce >= next,
                part,
                "transaction below its account's nonce",
            )?;
            ensure(
                *nonce < next.saturating_add(POOL_NONCE_AHEAD_MAX),
                part,
                "transaction too far above its account's nonce",
            )?;
        }
        for sender in &self.ready {
            let next = ledger.account(sender).nonce;
            ensure(
                self.transactions.contains_key(&(*sender, next)),
                part,
                "ready sender without its next transaction",
            )?;
        }
        Ok(())
    }

    /// Test-only: put `tx` in the pool with no check and no bookkeeping.
    #[cfg(test)]
    pub(super) fn insert_unchecked(&mut self, tx: Transaction) {
        self.transactions.insert((tx.sender, tx.nonce), tx);
    }
}

/// One transaction's share of a block's bytes: its canonical encoding.
pub(super) fn transaction_bytes(tx: &Transaction) -> usize {
    tx.encode().len()
}
