//! The replica's output batch and the persist-before-send discipline.

use crate::certificate::DoubleVoteEvidence;
use crate::message::{Decision, Message, STATE_TRANSFER_BLOCKS_MAX};
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

/// A state request the replica accepted but cannot answer from memory: the
/// blocks are older than the last
/// [`crate::config::COMMITTED_BLOCKS_RETAINED_MAX`] it keeps there. The
/// answer is read from storage by [`Ready::persist`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StateServe {
    /// The validator that asked.
    pub(crate) peer: PublicKey,
    /// First height it asked for.
    pub(crate) from_height: u64,
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
/// A `Ready` may also carry *state reads*: a lagging validator asked for
/// committed blocks older than the replica keeps in memory
/// ([`crate::config::COMMITTED_BLOCKS_RETAINED_MAX`]). Every committed block
/// is in storage, and the replica itself does no I/O, so [`Ready::persist`]
/// reads up to [`STATE_TRANSFER_BLOCKS_MAX`] of them
/// ([`crate::persist::load_decision_range`]) after writing the batch and
/// adds a [`Message::StateResponse`] for that peer to the messages it
/// releases. A driver therefore serves old blocks by calling `persist`, the
/// one way to reach a `Ready`'s messages; there is nothing else to wire.
/// This is what lets a replica that was offline or partitioned for any
/// number of blocks catch up.
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
    /// State requests to answer from storage (at most
    /// [`crate::config::STATE_SERVES_PENDING_MAX`]).
    pub(crate) state_serves: Vec<StateServe>,
}

/// The part of a [`Ready`] released once its writes are durable.
#[derive(Debug, Default)]
#[must_use = "messages must be sent"]
pub struct Persisted {
    /// Messages to send now (the caller may send them in any order),
    /// including the answers to state requests read from storage.
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
            && self.state_serves.is_empty()
    }

    /// Messages that carry no promise of the replica (state transfer,
    /// forwarded transactions). They may be sent before persisting.
    pub fn take_messages(&mut self) -> Vec<Outgoing> {
        core::mem::take(&mut self.messages)
    }

    /// Add a driver's own writes (for example a node's record of the
    /// transactions it acknowledged) to this batch, so that they become
    /// durable in the same atomic write as the replica's, with no extra
    /// flush. They must not use the replica's key prefixes.
    pub fn add_writes(&mut self, batch: WriteBatch) {
        self.writes.extend(batch);
    }

    /// The writes to make durable.
    pub fn writes(&self) -> &WriteBatch {
        &self.writes
    }

    /// Write the batch atomically to `storage` (the storage the replica was
    /// opened from), then release the messages that depended on it, together
    /// with any messages not yet taken by [`Ready::take_messages`], and the
    /// answers to state requests, read from `storage`.
    ///
    /// # Errors
    /// The storage's error from writing the batch; the held messages are
    /// then dropped, unsent. A failed read for a state request only skips
    /// that answer (the peer asks again): the batch is durable by then, so
    /// the votes and commits it released still come out.
    pub fn persist<S: Storage + ?Sized>(self, storage: &mut S) -> Result<Persisted, StorageError> {
        if !self.writes.is_empty() {
            storage.write(self.writes)?;
        }
        let mut messages = self.messages;
        messages.extend(self.held);
        for serve in self.state_serves {
            let Ok(decisions) = crate::persist::load_decision_range(
                &*storage,
                serve.from_height,
                STATE_TRANSFER_BLOCKS_MAX,
            ) else {
                continue;
            };
            if !decisions.is_empty() {
                messages.push(Outgoing {
                    to: Recipient::One(serve.peer),
                    message: Message::StateResponse(decisions),
                });
            }
        }
        Ok(Persisted {
            messages,
            committed: self.committed,
            evidence: self.evidence,
        })
    }
}
