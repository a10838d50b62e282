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
use itc_core::types::ANCHOR_TIPS_MAX;

use super::{AnchorRecord, DagConfig, Record, Tangle, CONFIRMATION_CONE_MAX, FALLBACK_TIPS_MAX};
use crate::finality::AnchorCommitment;
use crate::ledger::DagAccount;
use crate::transaction::{DagTransaction, TRANSACTION_ENCODED_MAX};

const TRANSACTION_PREFIX: &[u8] = b"dag/t/";
const ENTRY_POINT_PREFIX: &[u8] = b"dag/e/";
const ACCOUNT_PREFIX: &[u8] = b"dag/l/";
const ANCHOR_PREFIX: &[u8] = b"dag/a/";
pub(crate) const META_KEY: &[u8] = b"dag/m";

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

pub(super) fn transaction_key(id: &Hash) -> Vec<u8> {
    key(TRANSACTION_PREFIX, &id.0)
}

pub(super) fn entry_point_key(id: &Hash) -> Vec<u8> {
    key(ENTRY_POINT_PREFIX, &id.0)
}

pub(super) fn account_key(owner: &PublicKey) -> Vec<u8> {
    key(ACCOUNT_PREFIX, &owner.0)
}

pub(super) fn anchor_key(height: u64) -> Vec<u8> {
    key(ANCHOR_PREFIX, &height.to_be_bytes())
}

pub(super) fn record_value(record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(28 + record.encoded.len());
    record.confirmed.encode_to(&mut out);
    record.position.encode_to(&mut out);
    record.omrsi.encode_to(&mut out);
    record.ymrsi.encode_to(&mut out);
    out.extend_from_slice(&record.encoded);
    out
}

pub(super) fn anchor_value(anchor: &AnchorRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(113 + 33 * anchor.order.len() + 8);
    anchor.commitment.encode_to(&mut out);
    write_vec(&mut out, &anchor.order);
    let flags: Vec<u8> = anchor.applied.iter().map(|a| u8::from(*a)).collect();
    itc_core::encoding::write_bytes(&mut out, &flags);
    out
}

pub(super) fn meta_value(tangle: &Tangle) -> Vec<u8> {
    let mut out = Vec::new();
    tangle.latest_height.encode_to(&mut out);
    write_vec(&mut out, &tangle.fallback);
    out
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
        std::mem::take(&mut self.writes)
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
            tangle.latest_height = r.read_u64()?;
            let fallback: Vec<Hash> = r.read_vec("fallback tips", FALLBACK_TIPS_MAX)?;
            r.finish()?;
            if !fallback.is_empty() {
                tangle.fallback = fallback;
            }
        }
        scan_all(storage, ENTRY_POINT_PREFIX, |k, v| {
            tangle.entry_points.insert(hash_suffix(k)?, u64::decode(v)?);
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
            tangle.anchors.insert(
                height,
                AnchorRecord {
                    commitment,
                    order,
                    applied,
                },
            );
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
            let slot = tangle.slots.len() as u32;
            tangle.slots.push(Some(Record {
                id,
                encoded: encoded.into(),
                approvers: Vec::new(),
                confirmed,
                position,
                omrsi,
                ymrsi,
                arrival: tangle.next_arrival,
            }));
            if confirmed == 0 {
                // Arrival order is not stored: restored in id order.
                tangle.unconfirmed.insert(tangle.next_arrival, (id, now_ms));
            }
            tangle.next_arrival += 1;
            tangle.index.insert(id, slot);
            Ok(())
        })?;
        // Approvers, in slot (= id) order.
        for slot in 0..tangle.slots.len() as u32 {
            let parents: Vec<Hash> = tangle.slot(slot).parents().collect();
            for parent in parents {
                if let Some(&p) = tangle.index.get(&parent) {
                    tangle.slots[p as usize]
                        .as_mut()
                        .expect("restored slot")
                        .approvers
                        .push(slot);
                }
            }
        }
        // Tips: restored transactions nobody approves, in id order.
        let latest = tangle.latest_height;
        for slot in 0..tangle.slots.len() {
            let record = tangle.slots[slot].as_ref().expect("restored slot");
            if !record.approvers.is_empty() {
                continue;
            }
            let (oldest, youngest) = record.roots();
            let score = config.tips.score(oldest, youngest, latest);
            let (id, issuer) = (record.id, record.issuer());
            tangle.pool.insert(&config.tips, id, issuer, score, now_ms);
        }
        debug_assert!(tangle.fallback.len() <= ANCHOR_TIPS_MAX);
        Ok(tangle)
    }
}
