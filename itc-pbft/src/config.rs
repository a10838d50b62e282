//! Replica configuration and the named bounds of its in-memory structures.

use crate::message::{MESSAGE_BYTES_MAX, STATE_TRANSFER_BLOCKS_MAX, VIEW_CHANGE_PREPARED_MAX};
use itc_core::genesis::Genesis;
use itc_core::keys::Keypair;
use itc_core::module::LedgerModule;
use itc_core::types::{ANCHOR_TIPS_MAX, MODULE_BODY_MAX, VALIDATORS_MAX};
use std::sync::Arc;

/// Most transactions waiting in a replica's pool.
pub const POOL_TRANSACTIONS_MAX: usize = 20_000;
/// How far ahead of a sender's next nonce the pool accepts transactions.
pub const POOL_NONCE_AHEAD_MAX: u64 = 64;
/// Committed blocks (with certificates) kept in memory to serve state
/// transfer and to answer lagging peers. Older blocks stay in storage.
pub const COMMITTED_BLOCKS_RETAINED_MAX: usize = 64;
/// Double-vote evidence objects waiting to be collected by the caller.
pub const EVIDENCE_PENDING_MAX: usize = 64;
/// Validator sets of past epochs kept for checking old certificates.
pub const VALIDATOR_SETS_RETAINED_MAX: usize = 8;
/// Cap on the exponent of the view-change timeout: the timeout is
/// `view_change_timeout_ms << min(attempts, TIMEOUT_DOUBLINGS_MAX)`.
pub const TIMEOUT_DOUBLINGS_MAX: u32 = 6;
/// Every this many retransmission rounds a replica asks a rotating peer for
/// blocks above its own height (anti-entropy for replicas that missed every
/// message about later blocks).
pub const ANTI_ENTROPY_RETRANSMISSIONS: u64 = 5;
/// State requests served per peer per retransmission interval. Each answer
/// holds up to [`crate::message::STATE_TRANSFER_BLOCKS_MAX`] blocks and a
/// lagging replica asks again at once after a full answer, so this many
/// answers in a row let it catch up several chunks per interval, while a
/// peer cannot make this replica read and send blocks without bound.
pub const STATE_SERVES_PER_INTERVAL_MAX: u32 = 4;
/// State requests older than the blocks kept in memory, waiting in a
/// [`crate::Ready`] to be answered from storage; further ones are dropped
/// (the peer asks again).
pub const STATE_SERVES_PENDING_MAX: usize = 64;
/// Most pooled transactions re-forwarded to the primary per retransmission.
pub const FORWARD_TRANSACTIONS_MAX: usize = 256;

/// Most bytes of a block's encoded transactions (the sum of each
/// transaction's canonical encoding): 1.5 MiB.
///
/// The primary stops adding transactions before this budget is exceeded
/// (the rest stay pooled for the next block), and a replica refuses a
/// proposal above it ([`crate::ProposalError::TooManyBytes`]). Without it a
/// block of [`itc_core::types::BLOCK_TRANSACTIONS_MAX`] module transactions
/// of [`MODULE_BODY_MAX`] bytes each could never be sent: the chain would
/// stall.
///
/// # Why every message that carries blocks fits
///
/// A block adds to its transactions at most [`BLOCK_OVERHEAD_BYTES_MAX`]
/// (header, transaction count, an anchor of `ANCHOR_TIPS_MAX` tips), and a
/// certificate (commit or prepared) at most [`CERTIFICATE_BYTES_MAX`]
/// (`VALIDATORS_MAX` signatures). Then, with [`MESSAGE_BYTES_MAX`] = 32 MiB:
///
/// * a pre-prepare carries one block:
///   1.5 MiB + a few KiB;
/// * a state-transfer response carries at most
///   [`STATE_TRANSFER_BLOCKS_MAX`] = 16 blocks, each with a commit
///   certificate: 16 × (1.5 MiB + 2.4 KiB + 24.1 KiB) ≈ 24.4 MiB;
/// * a view change carries at most [`VIEW_CHANGE_PREPARED_MAX`] = 8
///   prepared blocks with their certificates, plus one commit certificate:
///   about 12.2 MiB;
/// * a new view carries digests only
///   ([`crate::message::NEW_VIEW_BYTES_MAX`]).
///
/// The largest case, `(max(16, 8)) × (BLOCK_BYTES_MAX + overhead) +`
/// [`MESSAGE_FRAME_BYTES_MAX`], is checked against [`MESSAGE_BYTES_MAX`] at
/// compile time, and so is that one transaction of the largest module body
/// ([`TRANSACTION_BYTES_MAX`]) fits the budget (else it could never be
/// included).
pub const BLOCK_BYTES_MAX: usize = 3 * 512 * 1024;

/// Upper bound of a block's encoding beyond its transactions: the header
/// (284 bytes), the transaction count (4), and an optional anchor of up to
/// `ANCHOR_TIPS_MAX` 32-byte tips (1 + 4 + 64 × 32).
pub const BLOCK_OVERHEAD_BYTES_MAX: usize = 284 + 4 + 1 + 4 + ANCHOR_TIPS_MAX * 32;

/// Upper bound of an encoded commit or prepared certificate: chain id,
/// height, view, block hash, signature count and `VALIDATORS_MAX`
/// (validator key, signature) pairs of 96 bytes.
pub const CERTIFICATE_BYTES_MAX: usize = 4 + 8 + 8 + 32 + 4 + VALIDATORS_MAX * 96;

/// Upper bound of what a message that carries blocks adds around them: a
/// tag, a count, and for a view change its view, committed height, commit
/// certificate, signer and signature (rounded up generously).
pub const MESSAGE_FRAME_BYTES_MAX: usize = 1024 + CERTIFICATE_BYTES_MAX;

/// Upper bound of one encoded transaction: a module body of
/// [`MODULE_BODY_MAX`] bytes plus the transaction's fixed fields (chain id,
/// sender, nonce, fee, payload tag, module id, length, signature), rounded
/// up generously.
pub const TRANSACTION_BYTES_MAX: usize = MODULE_BODY_MAX + 1024;

const BLOCKS_PER_MESSAGE_MAX: usize = if STATE_TRANSFER_BLOCKS_MAX > VIEW_CHANGE_PREPARED_MAX {
    STATE_TRANSFER_BLOCKS_MAX
} else {
    VIEW_CHANGE_PREPARED_MAX
};

const _: () = assert!(
    BLOCKS_PER_MESSAGE_MAX * (BLOCK_BYTES_MAX + BLOCK_OVERHEAD_BYTES_MAX + CERTIFICATE_BYTES_MAX)
        + MESSAGE_FRAME_BYTES_MAX
        <= MESSAGE_BYTES_MAX,
    "blocks of BLOCK_BYTES_MAX would not fit a state-transfer response or a view change"
);
const _: () = assert!(
    TRANSACTION_BYTES_MAX <= BLOCK_BYTES_MAX,
    "a transaction of the largest module body would fit no block"
);

/// Settings of one replica. Build with [`Config::new`] and adjust fields
/// (for example push modules with [`Config::with_module`]).
#[derive(Clone, Debug)]
pub struct Config {
    /// This replica's validator key.
    pub keypair: Keypair,
    /// The chain's genesis (used when storage is empty).
    pub genesis: Genesis,
    /// Base view-change timeout: how long a backup waits for progress while
    /// it has work pending before it asks for a new primary. Doubles with
    /// each view change that brings no progress; resets on the next commit.
    pub view_change_timeout_ms: u64,
    /// How often unacknowledged messages (own votes, proposals, view
    /// changes, state requests) are sent again, for lossy networks.
    pub retransmit_interval_ms: u64,
    /// Most transactions the primary puts into one block
    /// (at most [`itc_core::types::BLOCK_TRANSACTIONS_MAX`]).
    pub block_transactions_max: usize,
    /// How far a proposed block's time may be ahead of this replica's clock.
    pub block_time_drift_ms_max: u64,
    /// Ledger modules (ChainCode, for example) registered on the replica's
    /// ledger, on a fresh chain and on a reopened one alike, with
    /// [`itc_core::ledger::Ledger::with_module`]. Empty by default: the
    /// ledger then refuses every module transaction
    /// ([`itc_core::ledger::TxError::UnknownModule`]).
    ///
    /// Every validator of a chain must register the same modules (in any
    /// order): a module's transactions and end-of-block work change the
    /// state root, so a validator without it would reject blocks the others
    /// commit. Two modules with one id make [`crate::Replica::open`] fail.
    pub modules: Vec<Arc<dyn LedgerModule>>,
}

impl Config {
    /// Defaults: 1 s view-change timeout, 200 ms retransmission, blocks of
    /// up to 1000 transactions, 10 s clock drift, no ledger modules.
    pub fn new(keypair: Keypair, genesis: Genesis) -> Self {
        Config {
            keypair,
            genesis,
            view_change_timeout_ms: 1_000,
            retransmit_interval_ms: 200,
            block_transactions_max: 1_000,
            block_time_drift_ms_max: 10_000,
            modules: Vec::new(),
        }
    }

    /// This configuration with `module` added to [`Config::modules`].
    #[must_use]
    pub fn with_module(mut self, module: Arc<dyn LedgerModule>) -> Self {
        self.modules.push(module);
        self
    }
}
