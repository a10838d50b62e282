//! What the replica keeps in storage, next to the ledger's own keys.
//!
//! | key | value |
//! |---|---|
//! | `pbft/view` | [`ViewRecord`]: current view, whether changing view |
//! | `pbft/slot/<height BE>` | [`SlotRecord`]: accepted proposal, prepared certificate, own votes |
//! | `pbft/decision/<height BE>` | [`crate::Decision`]: committed block and certificate |
//! | `pbft/own_view_change` | the last view change sent |
//! | `pbft/own_new_view` | the new view that started the current view (sent or accepted), with the view changes it names |
//! | `pbft/set/<height BE>` | a validator set, by the first height it signs (the last [`crate::config::VALIDATOR_SETS_RETAINED_MAX`]) |
//!
//! Every record is written in the same atomic batch as the messages that
//! depend on it are released (see [`crate::Ready`]).

use crate::message::{Decision, NewView, PreparedEntry, ViewChange};
use crate::replica::OpenError;
use itc_core::encoding::{write_option, write_vec, Decode, DecodeError, Encode, Reader};
use itc_core::storage::{Storage, StorageError};
use itc_core::types::{Block, ValidatorSet};
use itc_core::Hash;
use std::collections::BTreeMap;

/// Key of the [`ViewRecord`].
pub const VIEW_KEY: &[u8] = b"pbft/view";
/// Prefix of slot records.
pub const SLOT_PREFIX: &[u8] = b"pbft/slot/";
/// Prefix of committed blocks with certificates.
pub const DECISION_PREFIX: &[u8] = b"pbft/decision/";
/// Key of the last view change this replica sent.
pub const OWN_VIEW_CHANGE_KEY: &[u8] = b"pbft/own_view_change";
/// Key of the new view that started this replica's current view (sent or
/// accepted), with the view changes it names.
pub const OWN_NEW_VIEW_KEY: &[u8] = b"pbft/own_new_view";
/// Prefix of the retained validator sets, by the first height each signs.
pub const SET_PREFIX: &[u8] = b"pbft/set/";
/// Most slot records read back on restart (one per sequence number in the
/// watermark window, with room for stale ones being deleted).
const SLOT_RECORDS_MAX: usize = 4 * crate::message::WATERMARK_WINDOW as usize;

/// Storage key of the slot record at `height`.
pub fn slot_key(height: u64) -> Vec<u8> {
    let mut key = SLOT_PREFIX.to_vec();
    key.extend_from_slice(&height.to_be_bytes());
    key
}

/// Storage key of the validator set that signs from `first_height` on.
pub fn set_key(first_height: u64) -> Vec<u8> {
    let mut key = SET_PREFIX.to_vec();
    key.extend_from_slice(&first_height.to_be_bytes());
    key
}

/// Storage key of the committed block at `height`.
pub fn decision_key(height: u64) -> Vec<u8> {
    let mut key = DECISION_PREFIX.to_vec();
    key.extend_from_slice(&height.to_be_bytes());
    key
}

/// The replica's view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViewRecord {
    /// Current view.
    pub view: u64,
    /// Whether a view change to `view` is in progress.
    pub in_view_change: bool,
    /// Highest sequence number settled by the current view's new view.
    pub floor: u64,
}

impl Encode for ViewRecord {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.view.encode_to(out);
        self.in_view_change.encode_to(out);
        self.floor.encode_to(out);
    }
}

impl Decode for ViewRecord {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ViewRecord {
            view: r.read_u64()?,
            in_view_change: r.read_bool()?,
            floor: r.read_u64()?,
        })
    }
}

/// The durable part of one sequence number's log entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotRecord {
    /// Accepted proposal: view, block, whether carried by a new view.
    pub proposal: Option<(u64, Block, bool)>,
    /// Highest-view prepared certificate.
    pub prepared: Option<PreparedEntry>,
    /// The prepare vote sent: view and block hash.
    pub prepare_vote: Option<(u64, Hash)>,
    /// The commit vote sent: view and block hash.
    pub commit_vote: Option<(u64, Hash)>,
}

fn write_vote(out: &mut Vec<u8>, vote: &Option<(u64, Hash)>) {
    match vote {
        None => out.push(0),
        Some((view, hash)) => {
            out.push(1);
            view.encode_to(out);
            hash.encode_to(out);
        }
    }
}

fn read_vote(r: &mut Reader<'_>) -> Result<Option<(u64, Hash)>, DecodeError> {
    match r.read_u8()? {
        0 => Ok(None),
        1 => Ok(Some((r.read_u64()?, Hash::decode_from(r)?))),
        tag => Err(DecodeError::InvalidTag {
            what: "vote record",
            tag,
        }),
    }
}

impl Encode for SlotRecord {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match &self.proposal {
            None => out.push(0),
            Some((view, block, certified)) => {
                out.push(1);
                view.encode_to(out);
                block.encode_to(out);
                certified.encode_to(out);
            }
        }
        write_option(out, &self.prepared);
        write_vote(out, &self.prepare_vote);
        write_vote(out, &self.commit_vote);
    }
}

impl Decode for SlotRecord {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let proposal = match r.read_u8()? {
            0 => None,
            1 => Some((r.read_u64()?, Block::decode_from(r)?, r.read_bool()?)),
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "proposal record",
                    tag,
                })
            }
        };
        Ok(SlotRecord {
            proposal,
            prepared: r.read_option()?,
            prepare_vote: read_vote(r)?,
            commit_vote: read_vote(r)?,
        })
    }
}

fn height_of(key: &[u8], prefix: &[u8]) -> Result<u64, OpenError> {
    let bytes: [u8; 8] = key[prefix.len()..]
        .try_into()
        .map_err(|_| OpenError::Corrupted("record key"))?;
    Ok(u64::from_be_bytes(bytes))
}

pub(crate) fn load_view<S: Storage + ?Sized>(storage: &S) -> Result<Option<ViewRecord>, OpenError> {
    storage
        .get(VIEW_KEY)?
        .map(|bytes| ViewRecord::decode(&bytes).map_err(|_| OpenError::Corrupted("view record")))
        .transpose()
}

pub(crate) fn load_slots<S: Storage + ?Sized>(
    storage: &S,
) -> Result<Vec<(u64, SlotRecord)>, OpenError> {
    storage
        .scan_prefix(SLOT_PREFIX, None, SLOT_RECORDS_MAX)?
        .into_iter()
        .map(|(key, value)| {
            let height = height_of(&key, SLOT_PREFIX)?;
            let record =
                SlotRecord::decode(&value).map_err(|_| OpenError::Corrupted("slot record"))?;
            Ok((height, record))
        })
        .collect()
}

/// The retained validator sets, by the first height each signs (a few
/// more than retained are read, in case a crash left one to delete).
pub(crate) fn load_sets<S: Storage + ?Sized>(
    storage: &S,
) -> Result<BTreeMap<u64, ValidatorSet>, OpenError> {
    let mut out = BTreeMap::new();
    for (key, value) in storage.scan_prefix(
        SET_PREFIX,
        None,
        2 * crate::config::VALIDATOR_SETS_RETAINED_MAX,
    )? {
        let height = height_of(&key, SET_PREFIX)?;
        let set =
            ValidatorSet::decode(&value).map_err(|_| OpenError::Corrupted("validator set"))?;
        out.insert(height, set);
    }
    Ok(out)
}

pub(crate) fn load_decisions<S: Storage + ?Sized>(
    storage: &S,
    from_height: u64,
) -> Result<BTreeMap<u64, Decision>, OpenError> {
    let start_after = decision_key(from_height.saturating_sub(1));
    let mut out = BTreeMap::new();
    for (key, value) in storage.scan_prefix(
        DECISION_PREFIX,
        Some(&start_after),
        crate::config::COMMITTED_BLOCKS_RETAINED_MAX,
    )? {
        let height = height_of(&key, DECISION_PREFIX)?;
        let decision = Decision::decode(&value).map_err(|_| OpenError::Corrupted("decision"))?;
        out.insert(height, decision);
    }
    Ok(out)
}

/// Up to `max` committed blocks with their certificates, read from
/// `storage` from `from_height` on: ascending and contiguous, so the result
/// stops before the first height that is not stored. Empty if `from_height`
/// itself is not stored (or is 0).
///
/// This is how a driver answers a state request for blocks older than the
/// replica keeps in memory; [`crate::Ready::persist`] calls it for every
/// such request (see [`crate::Ready`]), and it is public for drivers that
/// want to serve blocks themselves (an archive node, a bootstrap tool).
///
/// # Errors
/// [`StorageError::Backend`] if storage cannot be read;
/// [`StorageError::Corrupted`] if a stored decision does not decode or is
/// stored under another height.
pub fn load_decision_range<S: Storage + ?Sized>(
    storage: &S,
    from_height: u64,
    max: usize,
) -> Result<Vec<Decision>, StorageError> {
    if from_height == 0 || max == 0 {
        return Ok(Vec::new());
    }
    let start_after = decision_key(from_height - 1);
    let mut out = Vec::new();
    for (key, value) in storage.scan_prefix(DECISION_PREFIX, Some(&start_after), max)? {
        let height = height_of(&key, DECISION_PREFIX)
            .map_err(|_| StorageError::Corrupted("decision key"))?;
        if height != from_height.saturating_add(out.len() as u64) {
            break;
        }
        let decision = Decision::decode(&value).map_err(|_| StorageError::Corrupted("decision"))?;
        if decision.block.header.height != height {
            return Err(StorageError::Corrupted("decision height"));
        }
        out.push(decision);
    }
    Ok(out)
}

pub(crate) fn load_own_view_change<S: Storage + ?Sized>(
    storage: &S,
) -> Result<Option<ViewChange>, OpenError> {
    storage
        .get(OWN_VIEW_CHANGE_KEY)?
        .map(|b| ViewChange::decode(&b).map_err(|_| OpenError::Corrupted("own view change")))
        .transpose()
}

/// The record stored under [`OWN_NEW_VIEW_KEY`]: the new view and the view
/// changes it names, so that a restarted primary can still hand them out.
pub(crate) fn encode_own_new_view(new_view: &NewView, view_changes: &[ViewChange]) -> Vec<u8> {
    let mut out = new_view.encode();
    write_vec(&mut out, view_changes);
    out
}

pub(crate) fn load_own_new_view<S: Storage + ?Sized>(
    storage: &S,
) -> Result<Option<(NewView, Vec<ViewChange>)>, OpenError> {
    let Some(bytes) = storage.get(OWN_NEW_VIEW_KEY)? else {
        return Ok(None);
    };
    let corrupted = |_| OpenError::Corrupted("own new view");
    let mut reader = Reader::new(&bytes);
    let new_view = NewView::decode_from(&mut reader).map_err(corrupted)?;
    let view_changes: Vec<ViewChange> = reader
        .read_vec(
            "own new view changes",
            crate::message::NEW_VIEW_VIEW_CHANGES_MAX,
        )
        .map_err(corrupted)?;
    reader.finish().map_err(corrupted)?;
    Ok(Some((new_view, view_changes)))
}
