//! Replica configuration and the named bounds of its in-memory structures.

use itc_core::genesis::Genesis;
use itc_core::keys::Keypair;

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

/// Settings of one replica. Build with [`Config::new`] and adjust fields.
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
}

impl Config {
    /// Defaults: 1 s view-change timeout, 200 ms retransmission, blocks of
    /// up to 1000 transactions, 10 s clock drift.
    pub fn new(keypair: Keypair, genesis: Genesis) -> Self {
        Config {
            keypair,
            genesis,
            view_change_timeout_ms: 1_000,
            retransmit_interval_ms: 200,
            block_transactions_max: 1_000,
            block_time_drift_ms_max: 10_000,
        }
    }
}
