//! Per-sender replay protection in a fixed-size table.
//!
//! Every command carries its sender's time in milliseconds
//! ([`crate::SignedCommand::time_ms`]), which must grow strictly from one
//! command of that sender to the device to the next. The device remembers,
//! for up to [`REPLAY_SENDERS_MAX`] senders, the time of the last command it
//! accepted from each, so one sender's clock (or a guest who sends a time far
//! ahead) never affects another sender.
//!
//! # When the table is full
//! A sender not in the table takes the slot of the sender whose last accepted
//! time is the oldest, and that time becomes the table's *floor*: a sender
//! not in the table is accepted only with a time above the floor. Any command
//! an evicted sender sent before is at or below its last accepted time, which
//! is at or below the floor, so **a replay is never accepted**, however many
//! senders come and go. The cost is on the honest side and small: a sender
//! that is not in the table and whose clock is behind the floor (the oldest
//! remembered command, normally minutes or hours ago) is refused with
//! [`crate::DenyReason::BelowReplayFloor`] until its clock passes it.
//!
//! The device's command window ([`crate::LampConfig::command_window_ms`])
//! refuses old commands on its own; the table is what refuses a replay inside
//! the window, and what still holds when the device's clock is reset.
//!
//! # Memory
//! [`REPLAY_SENDERS_MAX`] entries of 40 bytes in a fixed array (no heap):
//! 1,288 bytes with the floor and the length. [`ReplayTable::to_bytes`] is
//! at most [`REPLAY_TABLE_BYTES_MAX`] bytes, for the device's flash.

use alloc::vec::Vec;
use itc_core::encoding::{Decode, DecodeError, Encode, Reader};
use itc_core::keys::PublicKey;

/// How many senders the table remembers individually (the bound of the
/// device's replay state). 32 covers a household's phones, switches and
/// automations; beyond it the floor takes over (see the module docs).
pub const REPLAY_SENDERS_MAX: usize = 32;

/// Version byte of [`ReplayTable::to_bytes`].
pub const REPLAY_TABLE_VERSION: u8 = 1;

/// The longest [`ReplayTable::to_bytes`] output: version, floor, count, and
/// 40 bytes per sender.
pub const REPLAY_TABLE_BYTES_MAX: usize = 1 + 8 + 4 + REPLAY_SENDERS_MAX * 40;

/// The last accepted command time of one sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    sender: PublicKey,
    time_ms: u64,
}

const EMPTY: Entry = Entry {
    sender: PublicKey([0; 32]),
    time_ms: 0,
};

/// What the table says about a command's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayCheck {
    /// The time is above what the table remembers for this sender.
    Fresh,
    /// The sender is in the table and the time is not above its last
    /// accepted one.
    Replayed,
    /// The sender is not in the table and the time is not above the floor.
    BelowFloor,
}

/// The device's replay state: the last accepted time of up to
/// [`REPLAY_SENDERS_MAX`] senders, and a floor for everyone else.
///
/// ```
/// use itc_spv::replay::{ReplayCheck, ReplayTable};
/// # use itc_core::keys::PublicKey;
/// let (alice, bob) = (PublicKey([1; 32]), PublicKey([2; 32]));
/// let mut table = ReplayTable::new();
/// table.accept(&alice, 5_000);
/// // Alice's later command is fresh; her old one is a replay.
/// assert_eq!(table.check(&alice, 5_001), ReplayCheck::Fresh);
/// assert_eq!(table.check(&alice, 5_000), ReplayCheck::Replayed);
/// // Bob is not held back by Alice's time.
/// assert_eq!(table.check(&bob, 10), ReplayCheck::Fresh);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayTable {
    entries: [Entry; REPLAY_SENDERS_MAX],
    len: usize,
    floor_ms: u64,
}

impl Default for ReplayTable {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayTable {
    /// An empty table (a new device) with floor 0.
    pub const fn new() -> Self {
        ReplayTable {
            entries: [EMPTY; REPLAY_SENDERS_MAX],
            len: 0,
            floor_ms: 0,
        }
    }

    /// How many senders are remembered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no sender is remembered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Times at or below this are refused from senders not in the table.
    pub fn floor_ms(&self) -> u64 {
        self.floor_ms
    }

    /// The last accepted time of `sender`, if the table remembers it.
    pub fn last(&self, sender: &PublicKey) -> Option<u64> {
        self.position(sender).map(|i| self.entries[i].time_ms)
    }

    fn position(&self, sender: &PublicKey) -> Option<usize> {
        self.entries[..self.len]
            .iter()
            .position(|entry| entry.sender == *sender)
    }

    /// Whether a command of `sender` at `time_ms` would be a replay. Changes
    /// nothing.
    pub fn check(&self, sender: &PublicKey, time_ms: u64) -> ReplayCheck {
        match self.position(sender) {
            Some(i) if time_ms <= self.entries[i].time_ms => ReplayCheck::Replayed,
            Some(_) => ReplayCheck::Fresh,
            None if time_ms <= self.floor_ms => ReplayCheck::BelowFloor,
            None => ReplayCheck::Fresh,
        }
    }

    /// Remember that a command of `sender` at `time_ms` was accepted. Call
    /// only after [`ReplayTable::check`] returned [`ReplayCheck::Fresh`] (a
    /// time that is not fresh is ignored, so the table never moves back).
    ///
    /// A new sender in a full table evicts the one with the oldest time and
    /// raises the floor to that time.
    pub fn accept(&mut self, sender: &PublicKey, time_ms: u64) {
        if self.check(sender, time_ms) != ReplayCheck::Fresh {
            return;
        }
        if let Some(i) = self.position(sender) {
            self.entries[i].time_ms = time_ms;
            return;
        }
        let entry = Entry {
            sender: *sender,
            time_ms,
        };
        if self.len < REPLAY_SENDERS_MAX {
            self.entries[self.len] = entry;
            self.len += 1;
            return;
        }
        let mut oldest = 0;
        for (i, candidate) in self.entries.iter().enumerate() {
            if candidate.time_ms < self.entries[oldest].time_ms {
                oldest = i;
            }
        }
        self.floor_ms = self.floor_ms.max(self.entries[oldest].time_ms);
        self.entries[oldest] = entry;
    }

    /// The versioned bytes to store in flash ([`REPLAY_TABLE_VERSION`], the
    /// floor, then the senders in table order).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }

    /// Read back what [`ReplayTable::to_bytes`] wrote.
    ///
    /// # Errors
    /// [`DecodeError`] for an unknown version, more than
    /// [`REPLAY_SENDERS_MAX`] senders, a sender listed twice, or malformed
    /// bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(bytes)
    }
}

impl Encode for ReplayTable {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(REPLAY_TABLE_VERSION);
        self.floor_ms.encode_to(out);
        (self.len as u32).encode_to(out);
        for entry in &self.entries[..self.len] {
            entry.sender.encode_to(out);
            entry.time_ms.encode_to(out);
        }
    }
}

impl Decode for ReplayTable {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = reader.read_u8()?;
        if version != REPLAY_TABLE_VERSION {
            return Err(DecodeError::InvalidTag {
                what: "replay table version",
                tag: version,
            });
        }
        let mut table = ReplayTable::new();
        table.floor_ms = reader.read_u64()?;
        let len = reader.read_u32()? as usize;
        if len > REPLAY_SENDERS_MAX {
            return Err(DecodeError::InvalidValue(
                "replay table has too many senders",
            ));
        }
        for i in 0..len {
            let sender = PublicKey::decode_from(reader)?;
            let time_ms = reader.read_u64()?;
            if table.position(&sender).is_some() {
                return Err(DecodeError::InvalidValue(
                    "replay table lists a sender twice",
                ));
            }
            table.entries[i] = Entry { sender, time_ms };
            table.len = i + 1;
        }
        Ok(table)
    }
}
