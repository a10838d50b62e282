//! Optional persistence of a [`Tangle`] through itc-core's [`Storage`].
//!
//! With [`DagConfig::persist`] on, every change that must survive a restart
//! is appended to a [`WriteBatch`] the caller drains with
//! [`Tangle::take_writes`] and writes with [`Storage::write`] (the tangle
//! never touches storage itself). **Persist before acting**: write the batch
//! before voting on a block whose anchor was just confirmed, or before
//! announcing transactions as stored.
//!
//! Layout (all under `dag/`):
//!
//! | key | value |
//! |---|---|
//! | `dag/t/` id | confirmed height u64, position u32, omrsi u64, ymrsi u64, transaction encoding |
//! | `dag/e/` id | height u64 of a solid entry point |
//! | `dag/l/` owner | [`crate::DagAccount`] encoding |
//! | `dag/a/` height (big-endian u64) | anchor commitment, order (count + ids), applied flags |
//! | `dag/m` | latest height u64, fallback tips (count + ids) |
//!
//! Soft state is not stored: the solidification buffer and requests (peers
//! resend), issue-rate samples, and the tip pool, which [`Tangle::restore`]
//! rebuilds from stored transactions nobody approves yet.

use itc_core::encoding::{write_vec, Decode, DecodeError, Encode, Reader};
use itc_core::hash::Hash;
use itc_core::keys::PublicKey;
use itc_core::storage::{Storage, StorageError, WriteBatch, SCAN_LIMIT_MAX};

use super::confirmation::AnchorRecord;
use super::store::{Record, StoredRecord};
use super::{DagConfig, Tangle, CONFIRMATION_CONE_MAX, FALLBACK_TIPS_MAX};
use crate::finality::AnchorCommitment;
use crate::ledger::DagAccount;
use crate::transaction::{DagTransaction, TRANSACTION_ENCODED_MAX};

const TRANSACTION_PREFIX: &[u8] = b"dag/t/";
const ENTRY_POINT_PREFIX: &[u8] = b"dag/e/";
const ACCOUNT_PREFIX: &[u8] = b"dag/l/";
const ANCHOR_PREFIX: &[u8] = b"dag/a/";
const META_KEY: &[u8] = b"dag/m";

/// Why a tangle could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The backend failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// Stored data does not decode.
    #[error("corrupted dag storage: {0}")]
    Corrupted(#[from] DecodeError),
}

fn key(prefix: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + body.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(body);
    out
}

/// The storage writes a tangle collects (when [`DagConfig::persist`] is
/// on) in the layout above; every part hands its changes here.
#[derive(Debug, Default)]
pub(super) struct Journal {
    enabled: bool,
    batch: WriteBatch,
}

impl Journal {
    /// A journal that collects writes only if `enabled`.
    pub(super) fn new(enabled: bool) -> Self {
        Journal {
            enabled,
            batch: WriteBatch::new(),
        }
    }

    /// Whether writes are collected.
    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    /// The writes collected since the last call.
    pub(super) fn take(&mut self) -> WriteBatch {
        std::mem::take(&mut self.batch)
    }

    /// Store a transaction record.
    pub(super) fn put_record(&mut self, record: &Record) {
        if self.enabled {
            let (omrsi, ymrsi) = record.stored_roots();
            let encoded = record.encoded();
            let mut out = Vec::with_capacity(28 + encoded.len());
            record.confirmed().encode_to(&mut out);
            record.position().encode_to(&mut out);
            omrsi.encode_to(&mut out);
            ymrsi.encode_to(&mut out);
            out.extend_from_slice(encoded);
            self.batch.put(key(TRANSACTION_PREFIX, &record.id().0), out);
        }
    }

    /// Delete a transaction record.
    pub(super) fn delete_record(&mut self, id: &Hash) {
        if self.enabled {
            self.batch.delete(key(TRANSACTION_PREFIX, &id.0));
        }
    }

    /// Store an entry point.
    pub(super) fn put_entry_point(&mut self, id: &Hash, height: u64) {
        if self.enabled {
            self.batch
                .put(key(ENTRY_POINT_PREFIX, &id.0), height.encode());
        }
    }

    /// Delete an entry point.
    pub(super) fn delete_entry_point(&mut self, id: &Hash) {
        if self.enabled {
            self.batch.delete(key(ENTRY_POINT_PREFIX, &id.0));
        }
    }

    /// Store a ledger account.
    pub(super) fn put_account(&mut self, owner: &PublicKey, account: &DagAccount) {
        if self.enabled {
            self.batch
                .put(key(ACCOUNT_PREFIX, &owner.0), account.encode());
        }
    }

    /// Store an anchor's lists.
    pub(super) fn put_anchor(&mut self, height: u64, anchor: &AnchorRecord) {
        if self.enabled {
            let order = anchor.order();
            let mut out = Vec::with_capacity(113 + 33 * order.len() + 8);
            anchor.commitment().encode_to(&mut out);
            write_vec(&mut out, order);
            let flags: Vec<u8> = anchor.applied().iter().map(|a| u8::from(*a)).collect();
            itc_core::encoding::write_bytes(&mut out, &flags);
            self.batch.put(anchor_key(height), out);
        }
    }

    /// Delete an anchor's lists.
    pub(super) fn delete_anchor(&mut self, height: u64) {
        if self.enabled {
            self.batch.delete(anchor_key(height));
        }
    }

    /// Store the latest height and fallback tips.
    pub(super) fn put_meta(&mut self, latest_height: u64, fallback: &[Hash]) {
        if self.enabled {
            let mut out = Vec::new();
            latest_height.encode_to(&mut out);
            write_vec(&mut out, fallback);
            self.batch.put(META_KEY.to_vec(), out);
        }
    }
}

fn anchor_key(height: u64) -> Vec<u8> {
    key(ANCHOR_PREFIX, &height.to_be_bytes())
}

fn scan_all(
    storage: &impl Storage,
    prefix: &[u8],
    mut each: impl FnMut(&[u8], &[u8]) -> Result<(), RestoreError>,
) -> Result<(), RestoreError> {
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = storage.scan_prefix(prefix, after.as_deref(), SCAN_LIMIT_MAX)?;
        for (k, v) in &page {
            each(&k[prefix.len()..], v)?;
        }
        match page.last() {
            Some((k, _)) if page.len() == SCAN_LIMIT_MAX => after = Some(k.clone()),
            _ => return Ok(()),
        }
    }
}

fn hash_suffix(bytes: &[u8]) -> Result<Hash, RestoreError> {
    Ok(Hash::decode(bytes)?)
}

impl Tangle {
    /// The writes accumulated since the last call (empty unless
    /// [`DagConfig::persist`]). Write them with [`Storage::write`] before
    /// acting on what produced them.
    #[must_use = "unwritten changes are lost on restart"]
    pub fn take_writes(&mut self) -> WriteBatch {
        self.journal.take()
    }

    /// Rebuild a tangle from what [`Tangle::take_writes`] stored. `now_ms`
    /// stamps the rebuilt tip pool. Pending transactions, requests and
    /// issue-rate samples start empty.
    ///
    /// # Errors
    /// [`RestoreError`] if the backend fails or stored data is corrupt.
    pub fn restore(
        config: DagConfig,
        storage: &impl Storage,
        now_ms: u64,
    ) -> Result<Tangle, RestoreError> {
        let mut tangle = Tangle::new(config);
        if let Some(meta) = storage.get(META_KEY)? {
            let mut r = Reader::new(&meta);
            let latest_height = r.read_u64()?;
            let fallback: Vec<Hash> = r.read_vec("fallback tips", FALLBACK_TIPS_MAX)?;
            r.finish()?;
            tangle.anchors.restore_meta(latest_height, fallback);
        }
        scan_all(storage, ENTRY_POINT_PREFIX, |k, v| {
            tangle
                .store
                .restore_entry_point(hash_suffix(k)?, u64::decode(v)?);
            Ok(())
        })?;
        scan_all(storage, ACCOUNT_PREFIX, |k, v| {
            let owner = PublicKey::decode(k)?;
            tangle.ledger.restore_account(owner, DagAccount::decode(v)?);
            Ok(())
        })?;
        scan_all(storage, ANCHOR_PREFIX, |k, v| {
            let height = u64::from_be_bytes(
                k.try_into()
                    .map_err(|_| DecodeError::InvalidValue("anchor key"))?,
            );
            let mut r = Reader::new(v);
            let commitment = AnchorCommitment::decode_from(&mut r)?;
            let order: Vec<Hash> = r.read_vec("anchor order", CONFIRMATION_CONE_MAX)?;
            let flags = r.read_bytes("anchor flags", CONFIRMATION_CONE_MAX)?;
            r.finish()?;
            if flags.len() != order.len() || flags.iter().any(|f| *f > 1) {
                return Err(DecodeError::InvalidValue("anchor flags").into());
            }
            let applied = flags.into_iter().map(|f| f == 1).collect();
            tangle
                .anchors
                .restore_anchor(height, AnchorRecord::new(commitment, order, applied));
            Ok(())
        })?;
        scan_all(storage, TRANSACTION_PREFIX, |k, v| {
            let id = hash_suffix(k)?;
            let mut r = Reader::new(v);
            let confirmed = r.read_u64()?;
            let position = r.read_u32()?;
            let omrsi = r.read_u64()?;
            let ymrsi = r.read_u64()?;
            let encoded = r.read_slice(r.remaining().min(TRANSACTION_ENCODED_MAX))?;
            r.finish()?;
            let tx = DagTransaction::decode(encoded)?;
            if tx.id() != id {
                return Err(DecodeError::InvalidValue("stored transaction id").into());
            }
            tangle.store.restore_record(
                StoredRecord {
                    id,
                    encoded,
                    confirmed,
                    position,
                    omrsi,
                    ymrsi,
                },
                now_ms,
            );
            Ok(())
        })?;
        // Approvers, in slot (= id) order.
        tangle.store.restore_edges();
        // Tips: restored transactions nobody approves, in id order.
        tangle.restore_tips(now_ms);
        Ok(tangle)
    }
}
