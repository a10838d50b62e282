//! Pruning below finalized anchors keeps the store bounded however many
//! transactions flow through.
//!
//! The default run pushes 20,000 transactions; `ITC_DAG_SOAK=1` pushes
//! 1,000,000 (a few minutes on two cores).

mod common;

use common::*;
use itc_dag::{genesis_entry_points, Tangle, TxStatus};

/// Transactions between two anchors.
const ANCHOR_EVERY: usize = 500;
/// Anchors kept unpruned behind the latest.
const PRUNE_DELAY: u64 = 2;

/// The bound the store must stay under: transactions confirmed in the
/// unpruned anchors, plus unconfirmed ones until they turn lazy below max
/// depth (15 anchors by default), plus one anchor of slack.
fn retained_transactions_max(below_max_depth: u64) -> usize {
    (below_max_depth as usize + PRUNE_DELAY as usize + 2) * ANCHOR_EVERY
}

/// Bytes per retained transaction allowed for the whole store (indexes,
/// tip pool, anchor lists included), from the 512-byte goal plus slack for
/// table growth.
const BYTES_PER_RETAINED_MAX: usize = 1_024;

#[test]
fn pruning_keeps_storage_bounded_under_a_stream_of_transactions() {
    let total: usize = if std::env::var("ITC_DAG_SOAK").is_ok_and(|v| v == "1") {
        1_000_000
    } else {
        20_000
    };
    let mut node = Tangle::new(config_without_pow());
    let bound = retained_transactions_max(node.config().tips.below_max_depth);
    let issuers: Vec<_> = (0..100).map(key).collect();
    let mut sequences = vec![0u64; issuers.len()];
    let mut height = 0;
    let mut first = None;
    let mut peak = 0;
    let mut peak_bytes = 0;
    for i in 0..total {
        let who = i % issuers.len();
        let now = i as u64;
        let tx = issue(
            &mut node,
            &issuers[who],
            sequences[who],
            data(i as u64),
            now,
            i as u64,
        );
        sequences[who] += 1;
        first.get_or_insert(tx.id());
        if (i + 1) % ANCHOR_EVERY == 0 {
            height += 1;
            let anchor = node.propose_anchor(now);
            node.confirm(&anchor, height).unwrap();
            node.prune(height.saturating_sub(PRUNE_DELAY));
            assert_invariants(&node);
            peak = peak.max(node.len() + node.pending_len());
            peak_bytes = peak_bytes.max(node.memory_bytes());
            assert!(
                node.len() <= bound,
                "{} transactions retained after {} pushed (bound {bound})",
                node.len(),
                i + 1
            );
            assert!(node.memory_bytes() <= bound * BYTES_PER_RETAINED_MAX);
        }
    }
    let first = first.unwrap();
    assert_eq!(node.status(&first), TxStatus::Unknown, "old history pruned");
    assert!(node.entry_point_count() >= genesis_entry_points(CHAIN).len());
    // Entry points: ids confirmed in the last `anchor_depth_max` anchors
    // (tombstones) plus the boundary of what is kept.
    let entry_points_max = (node.config().anchor_depth_max as usize + 2) * ANCHOR_EVERY;
    assert!(node.entry_point_count() <= entry_points_max);
    // Most of the stream was confirmed, not merely dropped.
    let confirmed_heights = height;
    assert!(confirmed_heights as usize >= total / ANCHOR_EVERY);
    eprintln!(
        "pushed {total}, peak retained {peak} (bound {bound}), peak {peak_bytes} bytes, {} entry points",
        node.entry_point_count()
    );
}
