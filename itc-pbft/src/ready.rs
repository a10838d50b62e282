//! The replica's output batch and the persist-before-send discipline.

use crate::certificate::DoubleVoteEvidence;
use crate::message::{Decision, Message};
use itc_core::encoding::Encode;
use itc_core::keys::PublicKey;
use itc_core::storage::{Storage, StorageError, WriteBatch};

/// Where an outgoing message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// Every other validator of the current set.
    AllValidators,
    /// One replica.
    One(PublicKey),
}

/// A message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// Destination.
    pub to: Recipient,
    /// The message.
    pub message: Message,
}

impl Outgoing {
    /// The message's canonical bytes, ready for the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.message.encode()
    }
}

/// What the replica produced since the last [`crate::Replica::ready`]:
/// messages that may be sent at once, a batch of writes, and everything that
/// may only leave after those writes are durable.
///
/// The messages that depend on persistence (votes, pre-prepares, view
/// changes, new views) and the committed blocks are not reachable until
/// [`Ready::persist`] has written the batch: a replica therefore cannot send a
/// vote that a crash could make it forget, and cannot announce a commit it
/// could lose.
///
/// If `persist` fails, drop the replica and reopen it from storage
/// ([`crate::Replica::open`]): its memory is ahead of its disk.
#[derive(Debug, Default)]
#[must_use = "outputs are lost unless persisted and sent"]
pub struct Ready {
    pub(crate) messages: Vec<Outgoing>,
    pub(crate) writes: WriteBatch,
    pub(crate) held: Vec<Outgoing>,
    pub(crate) committed: Vec<Decision>,
    pub(crate) evidence: Vec<DoubleVoteEvidence>,
}

/// The part of a [`Ready`] released once its writes are durable.
#[derive(Debug, Default)]
#[must_use = "messages must be sent"]
pub struct Persisted {
    /// Messages to send now (the caller may send them in any order).
    pub messages: Vec<Outgoing>,
    /// Blocks committed and executed by the replica's ledger, ascending.
    pub committed: Vec<Decision>,
    /// Double votes observed, for the application to report.
    pub evidence: Vec<DoubleVoteEvidence>,
}

impl Ready {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
            && self.writes.is_empty()
            && self.held.is_empty()
            && self.committed.is_empty()
            && self.evidence.is_empty()
    }

    /// Messages that carry no promise of the replica (state transfer,
    /// forwarded transactions). They may be sent before persisting.
    pub fn take_messages(&mut self) -> Vec<Outgoing> {
        core::mem::take(&mut self.messages)
    }

    /// The writes to make durable.
    pub fn writes(&self) -> &WriteBatch {
        &self.writes
    }

    /// Write the batch atomically to `storage` (the storage the replica was
    /// opened from), then release the messages that depended on it, together
    /// with any messages not yet taken by [`Ready::take_messages`].
    ///
    /// # Errors
    /// The storage's error; the held messages are then dropped, unsent.
    pub fn persist<S: Storage + ?Sized>(self, storage: &mut S) -> Result<Persisted, StorageError> {
        if !self.writes.is_empty() {
            storage.write(self.writes)?;
        }
        let mut messages = self.messages;
        messages.extend(self.held);
        Ok(Persisted {
            messages,
            committed: self.committed,
            evidence: self.evidence,
        })
    }
}
