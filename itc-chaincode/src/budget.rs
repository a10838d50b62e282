//! The user's local privacy budget.
//!
//! Each contribution to a campaign spends some ε of the user's privacy
//! (its noise is calibrated for that ε, see [`crate::noise`]). The user's
//! data node keeps a running total in its own store, behind itc-core's
//! [`Storage`] trait, and refuses to contribute once the budget the user set
//! is spent. Nothing here is on chain or seen by validators: the budget is
//! the user's own protection, enforced on the user's own device.
//!
//! The order that makes it safe: [`PrivacyBudget::charge`] persists the
//! charge with one atomic [`Storage::write`] and returns `Ok` only after it;
//! the caller releases the noised, masked contribution only after that. A
//! crash can then lose a contribution that was charged, never release one
//! that was not.
//!
//! Stored layout, all under [`KEY_PREFIX`] (`chaincode/budget/`):
//!
//! * `chaincode/budget/total`: the budget ε×1000 as a `u32`, little-endian.
//! * `chaincode/budget/history/` + 4-byte big-endian index: one [`Spent`]
//!   per charge in itc-core's canonical encoding (campaign hash, ε×1000,
//!   cells, height, length-prefixed UTF-8 note). Big-endian indices make the
//!   key order the charge order.
//!
//! ```
//! use itc_chaincode::budget::{PrivacyBudget, Spent};
//! use itc_core::hash::{Domain, Hash};
//! use itc_core::storage::MemoryStorage;
//!
//! let mut budget = PrivacyBudget::open(MemoryStorage::new(), 3_000).unwrap();
//! let campaign = Hash::of(Domain::Transaction, b"campaign");
//! budget
//!     .charge(Spent {
//!         campaign,
//!         epsilon_milli: 1_000,
//!         cells: 24,
//!         height: 42,
//!         note: "hourly lamp use".into(),
//!     })
//!     .unwrap();
//! assert_eq!(budget.remaining_milli(), 2_000);
//! assert!(budget.has_contributed(&campaign));
//! ```

use std::collections::BTreeSet;

use itc_core::encoding::{write_bytes, Decode, DecodeError, Encode, Reader};
use itc_core::hash::Hash;
use itc_core::storage::{Storage, StorageError, WriteBatch};

/// Prefix of every key the budget stores.
pub const KEY_PREFIX: &[u8] = b"chaincode/budget/";

/// Key of the stored total.
const TOTAL_KEY: &[u8] = b"chaincode/budget/total";

/// Prefix of the stored charges.
const HISTORY_PREFIX: &[u8] = b"chaincode/budget/history/";

/// Longest [`Spent::note`], in bytes of UTF-8. Use [`truncate_note`] to fit
/// a longer description.
pub const NOTE_MAX_BYTES: usize = 512;

/// Most charges one budget records. Each charge costs at least 0.001 ε, so
/// this is only reached by a budget far larger than any sensible one; it
/// bounds the memory and the time [`PrivacyBudget::open`] takes.
pub const HISTORY_MAX: u32 = 100_000;

/// Entries read per storage scan while opening.
const SCAN_PAGE: usize = 1_024;

/// One contribution's charge: what was shared, when, and what it cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spent {
    /// The campaign contributed to.
    pub campaign: Hash,
    /// ε×1000 charged (the ε of the campaign's noise calibration). At least 1.
    pub epsilon_milli: u32,
    /// Number of cells the contribution had.
    pub cells: u32,
    /// Main-chain height when the contribution was made.
    pub height: u64,
    /// A human description of what was shared, such as the contract's field
    /// names; at most [`NOTE_MAX_BYTES`] bytes.
    pub note: String,
}

impl Encode for Spent {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.campaign.encode_to(out);
        self.epsilon_milli.encode_to(out);
        self.cells.encode_to(out);
        self.height.encode_to(out);
        // Callers check the note's length first (see `charge`); a longer one
        // is never encoded.
        write_bytes(out, self.note.as_bytes());
    }
}

impl Decode for Spent {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let campaign = Hash::decode_from(r)?;
        let epsilon_milli = u32::decode_from(r)?;
        let cells = u32::decode_from(r)?;
        let height = u64::decode_from(r)?;
        let note = r.read_bytes("budget note", NOTE_MAX_BYTES)?;
        let note =
            String::from_utf8(note).map_err(|_| DecodeError::InvalidValue("note is not UTF-8"))?;
        Ok(Spent {
            campaign,
            epsilon_milli,
            cells,
            height,
            note,
        })
    }
}

/// The longest prefix of `note` that fits [`NOTE_MAX_BYTES`], cut at a
/// character boundary.
pub fn truncate_note(note: &str) -> String {
    if note.len() <= NOTE_MAX_BYTES {
        return note.into();
    }
    let mut end = NOTE_MAX_BYTES;
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    note[..end].into()
}

/// Why the budget refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// The store failed; the budget in memory is unchanged.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The stored budget does not decode, or contradicts itself.
    #[error("stored privacy budget corrupted: {0}")]
    Corrupted(&'static str),
    /// Less budget remains than the charge asks.
    #[error("privacy budget exhausted: {remaining_milli}/1000 remain, {asked_milli}/1000 asked")]
    Exhausted {
        /// ε×1000 remaining.
        remaining_milli: u32,
        /// ε×1000 the charge asked.
        asked_milli: u32,
    },
    /// This campaign was already charged (and so already contributed to).
    #[error("campaign {campaign} already charged")]
    AlreadyCharged {
        /// The campaign.
        campaign: Hash,
    },
    /// A charge of zero ε: every contribution must cost something.
    #[error("a charge must cost at least 1/1000 epsilon")]
    ZeroCharge,
    /// The note is longer than [`NOTE_MAX_BYTES`].
    #[error("note of {len} bytes exceeds {max}")]
    NoteTooLong {
        /// The note's length in bytes.
        len: usize,
        /// [`NOTE_MAX_BYTES`].
        max: usize,
    },
    /// [`HISTORY_MAX`] charges are recorded already.
    #[error("privacy budget history full ({max} charges)")]
    HistoryFull {
        /// [`HISTORY_MAX`].
        max: u32,
    },
    /// The new total is below what was already spent.
    #[error("total {asked_milli}/1000 is below the {spent_milli}/1000 already spent")]
    BelowSpent {
        /// ε×1000 already spent.
        spent_milli: u32,
        /// The total asked for.
        asked_milli: u32,
    },
}

/// A user's privacy budget, persisted in `S` under [`KEY_PREFIX`].
///
/// Every change is written with one [`Storage::write`] before it shows in
/// memory: after an error, memory and store both hold the state before the
/// call.
#[derive(Debug)]
pub struct PrivacyBudget<S: Storage> {
    storage: S,
    total_milli: u32,
    spent_milli: u32,
    history: Vec<Spent>,
    campaigns: BTreeSet<Hash>,
}

fn history_key(index: u32) -> Vec<u8> {
    let mut key = HISTORY_PREFIX.to_vec();
    key.extend_from_slice(&index.to_be_bytes());
    key
}

impl<S: Storage> PrivacyBudget<S> {
    /// Open the budget kept in `storage`. The first open (no stored total)
    /// persists `default_total_milli` as the total; later opens ignore it
    /// and read the stored total and history.
    ///
    /// # Errors
    /// [`BudgetError::Storage`] if the store fails, and
    /// [`BudgetError::Corrupted`] if what it holds does not decode or
    /// contradicts itself (history without a total, gaps in the charge
    /// indices, a campaign charged twice, more spent than the total).
    pub fn open(mut storage: S, default_total_milli: u32) -> Result<Self, BudgetError> {
        let stored_total = storage.get(TOTAL_KEY)?;
        let history = Self::read_history(&storage)?;
        let total_milli = match stored_total {
            Some(bytes) => u32::decode(&bytes).map_err(|_| BudgetError::Corrupted("total"))?,
            None => {
                if !history.is_empty() {
                    return Err(BudgetError::Corrupted("history without a total"));
                }
                let mut batch = WriteBatch::new();
                batch.put(TOTAL_KEY, default_total_milli.encode());
                storage.write(batch)?;
                default_total_milli
            }
        };
        let mut campaigns = BTreeSet::new();
        let mut spent: u64 = 0;
        for entry in &history {
            if entry.epsilon_milli == 0 {
                return Err(BudgetError::Corrupted("charge of zero epsilon"));
            }
            if !campaigns.insert(entry.campaign) {
                return Err(BudgetError::Corrupted("campaign charged twice"));
            }
            spent += u64::from(entry.epsilon_milli);
        }
        if spent > u64::from(total_milli) {
            return Err(BudgetError::Corrupted("more spent than the total"));
        }
        Ok(Self {
            storage,
            total_milli,
            // spent ≤ total_milli, a u32.
            spent_milli: u32::try_from(spent)
                .map_err(|_| BudgetError::Corrupted("more spent than the total"))?,
            history,
            campaigns,
        })
    }

    /// Read every stored charge, in index order, checking that the indices
    /// are exactly 0, 1, 2, ….
    fn read_history(storage: &S) -> Result<Vec<Spent>, BudgetError> {
        let mut history = Vec::new();
        let mut last_key: Option<Vec<u8>> = None;
        loop {
            let page = storage.scan_prefix(HISTORY_PREFIX, last_key.as_deref(), SCAN_PAGE)?;
            let page_len = page.len();
            for (key, value) in page {
                let expected = u32::try_from(history.len())
                    .ok()
                    .filter(|&i| i < HISTORY_MAX)
                    .ok_or(BudgetError::Corrupted("too many charges"))?;
                if key != history_key(expected) {
                    return Err(BudgetError::Corrupted("charge keys out of sequence"));
                }
                let spent =
                    Spent::decode(&value).map_err(|_| BudgetError::Corrupted("charge record"))?;
                history.push(spent);
                last_key = Some(key);
            }
            if page_len < SCAN_PAGE {
                return Ok(history);
            }
        }
    }

    /// The budget, ε×1000.
    pub fn total_milli(&self) -> u32 {
        self.total_milli
    }

    /// ε×1000 spent so far (the sum of the history's charges).
    pub fn spent_milli(&self) -> u32 {
        self.spent_milli
    }

    /// ε×1000 left to spend.
    pub fn remaining_milli(&self) -> u32 {
        self.total_milli.saturating_sub(self.spent_milli)
    }

    /// Every charge, oldest first.
    pub fn history(&self) -> &[Spent] {
        &self.history
    }

    /// Whether `campaign` was charged (and so contributed to).
    pub fn has_contributed(&self, campaign: &Hash) -> bool {
        self.campaigns.contains(campaign)
    }

    /// Charge a contribution. Refuses, changing nothing, when the campaign
    /// was already charged or less budget remains than `spent.epsilon_milli`.
    /// Otherwise persists the charge with one [`Storage::write`] and returns
    /// `Ok` only once it is stored: release the contribution after this, and
    /// only if it succeeded.
    ///
    /// # Errors
    /// [`BudgetError::AlreadyCharged`], [`BudgetError::Exhausted`],
    /// [`BudgetError::ZeroCharge`], [`BudgetError::NoteTooLong`],
    /// [`BudgetError::HistoryFull`], or [`BudgetError::Storage`] if the write
    /// fails (the budget in memory is then unchanged).
    pub fn charge(&mut self, spent: Spent) -> Result<(), BudgetError> {
        if self.campaigns.contains(&spent.campaign) {
            return Err(BudgetError::AlreadyCharged {
                campaign: spent.campaign,
            });
        }
        if spent.epsilon_milli == 0 {
            return Err(BudgetError::ZeroCharge);
        }
        if spent.note.len() > NOTE_MAX_BYTES {
            return Err(BudgetError::NoteTooLong {
                len: spent.note.len(),
                max: NOTE_MAX_BYTES,
            });
        }
        let remaining_milli = self.remaining_milli();
        if spent.epsilon_milli > remaining_milli {
            return Err(BudgetError::Exhausted {
                remaining_milli,
                asked_milli: spent.epsilon_milli,
            });
        }
        let index = u32::try_from(self.history.len())
            .ok()
            .filter(|&i| i < HISTORY_MAX)
            .ok_or(BudgetError::HistoryFull { max: HISTORY_MAX })?;
        let mut batch = WriteBatch::new();
        batch.put(history_key(index), spent.encode());
        self.storage.write(batch)?;
        // epsilon_milli ≤ remaining = total − spent: no overflow.
        self.spent_milli += spent.epsilon_milli;
        self.campaigns.insert(spent.campaign);
        self.history.push(spent);
        Ok(())
    }

    /// Change the total. The user may raise or lower it, never below what is
    /// already spent. Persisted before it takes effect.
    ///
    /// # Errors
    /// [`BudgetError::BelowSpent`], or [`BudgetError::Storage`] if the write
    /// fails (the total is then unchanged).
    pub fn set_total_milli(&mut self, total: u32) -> Result<(), BudgetError> {
        if total < self.spent_milli {
            return Err(BudgetError::BelowSpent {
                spent_milli: self.spent_milli,
                asked_milli: total,
            });
        }
        let mut batch = WriteBatch::new();
        batch.put(TOTAL_KEY, total.encode());
        self.storage.write(batch)?;
        self.total_milli = total;
        Ok(())
    }

    /// The store (the data node keeps its records and keys beside the
    /// budget, under other prefixes).
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The store, to write under other prefixes than [`KEY_PREFIX`]; a
    /// caller must never write under that prefix.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// The store, for example to reopen the budget from it.
    pub fn into_storage(self) -> S {
        self.storage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_core::hash::Domain;
    use itc_core::storage::{FaultyStorage, MemoryStorage};

    fn campaign(i: u32) -> Hash {
        Hash::of(Domain::Transaction, &i.to_le_bytes())
    }

    fn spent(i: u32, epsilon_milli: u32) -> Spent {
        Spent {
            campaign: campaign(i),
            epsilon_milli,
            cells: 10 + i,
            height: 100 + u64::from(i),
            note: format!("campaign {i}: steps, sleep hours"),
        }
    }

    /// Every key and value under the budget's prefix.
    fn stored<S: Storage>(storage: &S) -> Vec<(Vec<u8>, Vec<u8>)> {
        storage.scan_prefix(KEY_PREFIX, None, 10_000).unwrap()
    }

    #[test]
    fn first_open_persists_the_default_total() {
        let budget = PrivacyBudget::open(MemoryStorage::new(), 5_000).unwrap();
        assert_eq!(budget.total_milli(), 5_000);
        assert_eq!(budget.spent_milli(), 0);
        assert_eq!(budget.remaining_milli(), 5_000);
        assert!(budget.history().is_empty());
        let storage = budget.into_storage();
        assert_eq!(
            storage.get(TOTAL_KEY).unwrap(),
            Some(5_000u32.to_le_bytes().to_vec())
        );
        // A later open ignores the default.
        let budget = PrivacyBudget::open(storage, 9_999).unwrap();
        assert_eq!(budget.total_milli(), 5_000);
    }

    #[test]
    fn charges_until_exhausted_then_refuses_without_change() {
        let mut budget = PrivacyBudget::open(MemoryStorage::new(), 2_500).unwrap();
        budget.charge(spent(1, 1_000)).unwrap();
        budget.charge(spent(2, 1_000)).unwrap();
        assert_eq!(budget.remaining_milli(), 500);
        let before = stored(&budget.storage);
        assert_eq!(
            budget.charge(spent(3, 501)),
            Err(BudgetError::Exhausted {
                remaining_milli: 500,
                asked_milli: 501
            })
        );
        assert_eq!(budget.spent_milli(), 2_000);
        assert_eq!(budget.history().len(), 2);
        assert!(!budget.has_contributed(&campaign(3)));
        assert_eq!(stored(&budget.storage), before);
        // Exactly the remainder is fine; then nothing is left.
        budget.charge(spent(3, 500)).unwrap();
        assert_eq!(budget.remaining_milli(), 0);
        assert!(matches!(
            budget.charge(spent(4, 1)),
            Err(BudgetError::Exhausted {
                remaining_milli: 0,
                asked_milli: 1
            })
        ));
        assert_eq!(
            budget
                .history()
                .iter()
                .map(|s| s.campaign)
                .collect::<Vec<_>>(),
            [campaign(1), campaign(2), campaign(3)]
        );
    }

    #[test]
    fn double_charge_and_bad_charges_are_refused() {
        let mut budget = PrivacyBudget::open(MemoryStorage::new(), 10_000).unwrap();
        budget.charge(spent(1, 1_000)).unwrap();
        let before = stored(&budget.storage);
        assert_eq!(
            budget.charge(spent(1, 10)),
            Err(BudgetError::AlreadyCharged {
                campaign: campaign(1)
            })
        );
        assert_eq!(budget.charge(spent(2, 0)), Err(BudgetError::ZeroCharge));
        let mut long = spent(3, 10);
        long.note = "é".repeat(NOTE_MAX_BYTES); // 2 bytes each
        assert_eq!(
            budget.charge(long.clone()),
            Err(BudgetError::NoteTooLong {
                len: 2 * NOTE_MAX_BYTES,
                max: NOTE_MAX_BYTES
            })
        );
        assert_eq!(stored(&budget.storage), before);
        assert_eq!(budget.spent_milli(), 1_000);
        // A truncated note fits, cut at a character boundary.
        long.note = truncate_note(&long.note);
        assert_eq!(long.note.len(), NOTE_MAX_BYTES);
        budget.charge(long).unwrap();
        let mut odd = "x".to_string();
        odd.push_str(&"é".repeat(NOTE_MAX_BYTES));
        assert_eq!(truncate_note(&odd).len(), NOTE_MAX_BYTES - 1);
    }

    #[test]
    fn total_can_move_but_not_below_spent() {
        let mut budget = PrivacyBudget::open(MemoryStorage::new(), 2_000).unwrap();
        budget.charge(spent(1, 1_500)).unwrap();
        assert_eq!(
            budget.set_total_milli(1_499),
            Err(BudgetError::BelowSpent {
                spent_milli: 1_500,
                asked_milli: 1_499
            })
        );
        assert_eq!(budget.total_milli(), 2_000);
        budget.set_total_milli(1_500).unwrap();
        assert_eq!(budget.remaining_milli(), 0);
        budget.set_total_milli(u32::MAX).unwrap();
        assert_eq!(budget.remaining_milli(), u32::MAX - 1_500);
        let budget = PrivacyBudget::open(budget.into_storage(), 0).unwrap();
        assert_eq!(budget.total_milli(), u32::MAX);
    }

    #[test]
    fn reopened_budget_keeps_its_history() {
        let mut budget = PrivacyBudget::open(MemoryStorage::new(), 10_000).unwrap();
        for i in 0..5 {
            budget.charge(spent(i, 100 * (i + 1))).unwrap();
        }
        let history = budget.history().to_vec();
        let mut budget = PrivacyBudget::open(budget.into_storage(), 1).unwrap();
        assert_eq!(budget.history(), history.as_slice());
        assert_eq!(budget.total_milli(), 10_000);
        assert_eq!(budget.spent_milli(), 1_500);
        assert!(budget.has_contributed(&campaign(4)));
        // Still refuses a campaign charged before the restart.
        assert!(matches!(
            budget.charge(spent(2, 1)),
            Err(BudgetError::AlreadyCharged { .. })
        ));
        budget.charge(spent(5, 1)).unwrap();
        let budget = PrivacyBudget::open(budget.into_storage(), 1).unwrap();
        assert_eq!(budget.history().len(), 6);
        assert_eq!(budget.spent_milli(), 1_501);
    }

    /// Histories longer than one scan page reopen whole and in order.
    #[test]
    fn reopen_pages_through_long_histories() {
        let n = SCAN_PAGE as u32 * 2 + 3;
        let mut budget = PrivacyBudget::open(MemoryStorage::new(), n).unwrap();
        for i in 0..n {
            budget.charge(spent(i, 1)).unwrap();
        }
        let budget = PrivacyBudget::open(budget.into_storage(), 0).unwrap();
        assert_eq!(budget.history().len(), n as usize);
        assert_eq!(budget.remaining_milli(), 0);
        assert!(budget
            .history()
            .iter()
            .enumerate()
            .all(|(i, s)| s.campaign == campaign(i as u32)));
    }

    #[test]
    fn failed_write_changes_nothing() {
        let mut budget =
            PrivacyBudget::open(FaultyStorage::new(MemoryStorage::new()), 3_000).unwrap();
        budget.charge(spent(1, 1_000)).unwrap();
        let before = stored(&budget.storage);

        budget.storage.fail_next_write();
        assert!(matches!(
            budget.charge(spent(2, 1_000)),
            Err(BudgetError::Storage(_))
        ));
        assert_eq!(budget.spent_milli(), 1_000);
        assert_eq!(budget.history().len(), 1);
        assert!(!budget.has_contributed(&campaign(2)));
        assert_eq!(stored(&budget.storage), before);

        assert!(matches!(
            budget.set_total_milli(9_000),
            Err(BudgetError::Storage(_))
        ));
        assert_eq!(budget.total_milli(), 3_000);
        assert_eq!(stored(&budget.storage), before);

        // After recovery the same charge goes through.
        budget.storage.recover();
        budget.charge(spent(2, 1_000)).unwrap();
        let budget = PrivacyBudget::open(budget.into_storage().into_inner(), 0).unwrap();
        assert_eq!(budget.spent_milli(), 2_000);
        assert_eq!(budget.history().len(), 2);

        // A failure on the very first open leaves nothing stored.
        let mut storage = FaultyStorage::new(MemoryStorage::new());
        storage.fail_next_write();
        assert!(matches!(
            PrivacyBudget::open(&mut storage, 1_000),
            Err(BudgetError::Storage(_))
        ));
        assert!(storage.inner().is_empty());
    }

    #[test]
    fn corrupted_bytes_are_errors_not_panics() {
        let mut budget = PrivacyBudget::open(MemoryStorage::new(), 3_000).unwrap();
        budget.charge(spent(1, 1_000)).unwrap();
        budget.charge(spent(2, 1_000)).unwrap();
        let good = budget.into_storage();

        let corrupt = |key: &[u8], value: Option<&[u8]>| {
            let mut storage = good.clone();
            let mut batch = WriteBatch::new();
            match value {
                Some(v) => batch.put(key, v),
                None => batch.delete(key),
            }
            storage.write(batch).unwrap();
            PrivacyBudget::open(storage, 3_000).map(|_| ())
        };
        let record = good.get(&history_key(0)).unwrap().unwrap();

        // Total of the wrong length.
        assert!(matches!(
            corrupt(TOTAL_KEY, Some(&[1, 2, 3])),
            Err(BudgetError::Corrupted(_))
        ));
        // Total below what is spent.
        assert!(matches!(
            corrupt(TOTAL_KEY, Some(&1_999u32.to_le_bytes())),
            Err(BudgetError::Corrupted(_))
        ));
        // History without a total.
        assert!(matches!(
            corrupt(TOTAL_KEY, None),
            Err(BudgetError::Corrupted(_))
        ));
        // Every truncation of a record, and trailing bytes.
        for len in 0..record.len() {
            assert!(matches!(
                corrupt(&history_key(0), Some(&record[..len])),
                Err(BudgetError::Corrupted(_))
            ));
        }
        let mut longer = record.clone();
        longer.push(0);
        assert!(matches!(
            corrupt(&history_key(0), Some(&longer)),
            Err(BudgetError::Corrupted(_))
        ));
        // A note that is not UTF-8 (last byte of the note replaced).
        let mut bad_utf8 = record.clone();
        *bad_utf8.last_mut().unwrap() = 0xff;
        assert!(matches!(
            corrupt(&history_key(0), Some(&bad_utf8)),
            Err(BudgetError::Corrupted(_))
        ));
        // A huge note length.
        let mut huge = record.clone();
        huge[48..52].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            corrupt(&history_key(0), Some(&huge)),
            Err(BudgetError::Corrupted(_))
        ));
        // A gap in the indices, a stray key, a duplicate campaign.
        assert!(matches!(
            corrupt(&history_key(0), None),
            Err(BudgetError::Corrupted(_))
        ));
        assert!(matches!(
            corrupt(b"chaincode/budget/history/x", Some(&record)),
            Err(BudgetError::Corrupted(_))
        ));
        assert!(matches!(
            corrupt(&history_key(1), Some(&record)),
            Err(BudgetError::Corrupted(_))
        ));
        // A zero charge.
        let mut zero = record.clone();
        zero[32..36].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            corrupt(&history_key(0), Some(&zero)),
            Err(BudgetError::Corrupted(_))
        ));
        // Random bytes anywhere never panic.
        for seed in 0u32..200 {
            let mut bytes = record.clone();
            let h = Hash::of(Domain::Transaction, &seed.to_le_bytes());
            for (i, b) in h.0.iter().enumerate().take(4) {
                let at = (usize::from(*b) + i * 13) % bytes.len();
                bytes[at] ^= h.0[31 - i] | 1;
            }
            let _ = corrupt(&history_key(0), Some(&bytes));
        }
        // Keys outside the prefix are not the budget's business.
        let mut other = good.clone();
        let mut batch = WriteBatch::new();
        batch.put(b"chaincode/budgets", b"not ours".to_vec());
        other.write(batch).unwrap();
        assert!(PrivacyBudget::open(other, 0).is_ok());
    }

    #[test]
    fn record_layout_is_stable() {
        let s = Spent {
            campaign: Hash([7; 32]),
            epsilon_milli: 0x0102_0304,
            cells: 5,
            height: 6,
            note: "ab".into(),
        };
        let mut expected = vec![7u8; 32];
        expected.extend_from_slice(&[4, 3, 2, 1, 5, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[2, 0, 0, 0, b'a', b'b']);
        assert_eq!(s.encode(), expected);
        assert_eq!(Spent::decode(&expected).unwrap(), s);
        assert_eq!(
            history_key(258),
            b"chaincode/budget/history/\x00\x00\x01\x02"
        );
    }
}
