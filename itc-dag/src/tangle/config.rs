//! [`DagConfig`]: a tangle's parameters, and the genesis entry points.

use itc_core::hash::{Domain, Hash};
use itc_core::types::ChainId;

use super::{GENESIS_ENTRY_POINTS, STORE_TRANSACTIONS_MAX};
use crate::pow::PowParams;
use crate::tips::TipParams;

/// The ids every chain's DAG starts from. They are solid entry points
/// confirmed at height 0; the first transactions approve them.
pub fn genesis_entry_points(chain_id: ChainId) -> [Hash; GENESIS_ENTRY_POINTS] {
    let mut out = [Hash::ZERO; GENESIS_ENTRY_POINTS];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = Hash::of_parts(
            Domain::DagTransaction,
            &[b"genesis\0", &chain_id.0.to_le_bytes(), &[i as u8]],
        );
    }
    out.sort_unstable();
    out
}

/// Configuration of a [`Tangle`](super::Tangle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DagConfig {
    /// The network.
    pub chain_id: ChainId,
    /// Proof-of-work rules.
    pub pow: PowParams,
    /// Tip pool and selection.
    pub tips: TipParams,
    /// Most solid transactions held (at most [`STORE_TRANSACTIONS_MAX`]).
    pub transactions_max: usize,
    /// Collect storage writes for [`Tangle::take_writes`](super::Tangle::take_writes) (see
    /// [`Tangle::restore`](super::Tangle::restore)); off by default.
    pub persist: bool,
    /// As a PBFT primary ([`itc_core::anchoring::Anchoring`]): the least time between
    /// two anchors proposed in blocks that carry no main-chain transaction,
    /// so steady DAG traffic does not make a block per DAG transaction.
    /// A block built for main-chain transactions anchors whenever there is
    /// something to anchor. Local policy, not a consensus parameter.
    pub anchor_interval_ms: u64,
    /// As a PBFT validator ([`itc_core::anchoring::Anchoring`]): after committing the
    /// anchor at height `H`, prune at `H - k` ([`Tangle::prune`](super::Tangle::prune)), so the
    /// store stays bounded without the caller's help; finality proofs stay
    /// available for the last `k` heights. `None`: the caller prunes. Local
    /// policy: pruned and unpruned nodes judge every anchor alike.
    pub prune_keep_heights: Option<u64>,
    /// Consensus parameter (identical on all validators): with the last
    /// anchor applied at height `L`, the next anchor is invalid if its new
    /// cone approves a transaction confirmed at or below
    /// `L - anchor_depth_max` ([`ConfirmError::TooDeep`](super::ConfirmError::TooDeep)); main-chain blocks
    /// without an anchor do not count. Pruning keeps
    /// the ids of everything confirmed in the last `anchor_depth_max`
    /// anchors, so every node decides this the same way. Must exceed
    /// [`TipParams::below_max_depth`], so honest (non-lazy) tips never trip it.
    pub anchor_depth_max: u64,
}

/// Default [`DagConfig::anchor_depth_max`]: five heights beyond the default
/// below-max-depth (the genesis default).
pub const ANCHOR_DEPTH_MAX_DEFAULT: u64 = itc_core::genesis::DAG_ANCHOR_DEPTH_MAX_DEFAULT;

/// Default [`DagConfig::anchor_interval_ms`].
pub const ANCHOR_INTERVAL_MS_DEFAULT: u64 = 100;

/// Default [`DagConfig::prune_keep_heights`].
pub const PRUNE_KEEP_HEIGHTS_DEFAULT: u64 = 1_000;

impl DagConfig {
    /// Defaults for the chain whose ledger parameters are `params` (from
    /// its genesis): the chain id and the consensus parameter
    /// `anchor_depth_max` come from there, so every validator agrees.
    /// Use this for a validator's tangle.
    /// Persistence is on: a validator's tangle must be restored
    /// ([`Tangle::restore`](super::Tangle::restore)) from the storage its replica uses.
    pub fn for_chain(params: &itc_core::ledger::LedgerParams) -> Self {
        DagConfig {
            anchor_depth_max: params.dag_anchor_depth_max,
            persist: true,
            ..DagConfig::new(params.chain_id)
        }
    }

    /// Defaults for `chain_id`.
    pub fn new(chain_id: ChainId) -> Self {
        DagConfig {
            chain_id,
            pow: PowParams::default(),
            tips: TipParams::default(),
            transactions_max: STORE_TRANSACTIONS_MAX,
            persist: false,
            anchor_depth_max: ANCHOR_DEPTH_MAX_DEFAULT,
            anchor_interval_ms: ANCHOR_INTERVAL_MS_DEFAULT,
            prune_keep_heights: Some(PRUNE_KEEP_HEIGHTS_DEFAULT),
        }
    }
}
