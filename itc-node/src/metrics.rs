//! Prometheus metrics (the OpenMetrics text format, served at `/metrics`).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Every metric the node exports.
pub struct Metrics {
    registry: Registry,
    /// Microseconds from a transaction's admission through this node's API
    /// to its commit on this node.
    pub commit_latency_us: Histogram,
    /// Height of the last committed block.
    pub height: Gauge,
    /// Current view.
    pub view: Gauge,
    /// Connected peers.
    pub peers: Gauge,
    /// Transactions in the pool.
    pub pool: Gauge,
    /// DAG transactions held by the tangle.
    pub dag_transactions: Gauge,
    /// Committed transactions.
    pub committed_transactions: Counter,
    /// Consensus messages dropped because their sender is not a validator.
    pub dropped_non_validator: Counter,
    /// Consensus messages dropped because a queue was full.
    pub dropped_queue_full: Counter<u64, AtomicU64>,
    /// Frames refused by the codec (oversized or malformed).
    pub refused_frames: Counter,
    /// Of `dropped_queue_full`: messages the replica thread released that
    /// did not fit the channel to the network task.
    pub dropped_outbound_channel: Counter,
    /// Of `dropped_queue_full`: consensus messages not sent because the
    /// peer already had `outbound_queue_per_peer` requests in flight.
    pub dropped_outbound_in_flight: Counter,
    /// Of `dropped_queue_full`: consensus messages received from a peer
    /// whose inbound queue was full.
    pub dropped_inbound_queue: Counter,
    /// Of `dropped_queue_full`: gossiped transactions that did not reach
    /// the replica thread (its control channel stayed full).
    pub dropped_gossip: Counter,
    /// Forwards of a pooled transaction to the primary that the node did
    /// not send because it forwarded the same one less than
    /// [`crate::consensus::FORWARD_REPEAT`] ago.
    pub forwards_skipped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Register every metric under the `itc` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("itc");
        let buckets = [
            250.0,
            500.0,
            1_000.0,
            2_000.0,
            3_000.0,
            5_000.0,
            10_000.0,
            20_000.0,
            50_000.0,
            100_000.0,
            500_000.0,
            2_000_000.0,
        ];
        let metrics = Metrics {
            commit_latency_us: Histogram::new(buckets),
            height: Gauge::default(),
            view: Gauge::default(),
            peers: Gauge::default(),
            pool: Gauge::default(),
            dag_transactions: Gauge::default(),
            committed_transactions: Counter::default(),
            dropped_non_validator: Counter::default(),
            dropped_queue_full: Counter::default(),
            refused_frames: Counter::default(),
            dropped_outbound_channel: Counter::default(),
            dropped_outbound_in_flight: Counter::default(),
            dropped_inbound_queue: Counter::default(),
            dropped_gossip: Counter::default(),
            forwards_skipped: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "commit_latency_us",
            "Microseconds from API admission to commit on this node",
            metrics.commit_latency_us.clone(),
        );
        registry.register(
            "height",
            "Height of the last committed block",
            metrics.height.clone(),
        );
        registry.register("view", "Current PBFT view", metrics.view.clone());
        registry.register("peers", "Connected peers", metrics.peers.clone());
        registry.register(
            "pool_transactions",
            "Transactions in the pool",
            metrics.pool.clone(),
        );
        registry.register(
            "dag_transactions",
            "DAG transactions held by the tangle",
            metrics.dag_transactions.clone(),
        );
        registry.register(
            "committed_transactions",
            "Transactions committed since start",
            metrics.committed_transactions.clone(),
        );
        registry.register(
            "dropped_non_validator",
            "Consensus messages dropped: sender not in the validator set",
            metrics.dropped_non_validator.clone(),
        );
        registry.register(
            "dropped_queue_full",
            "Consensus messages dropped: a bounded queue was full",
            metrics.dropped_queue_full.clone(),
        );
        registry.register(
            "refused_frames",
            "Peer frames refused: oversized or malformed",
            metrics.refused_frames.clone(),
        );
        registry.register(
            "dropped_outbound_channel",
            "Of dropped_queue_full: released by the replica, the channel to the network was full",
            metrics.dropped_outbound_channel.clone(),
        );
        registry.register(
            "dropped_outbound_in_flight",
            "Of dropped_queue_full: consensus sends over the per-peer in-flight cap",
            metrics.dropped_outbound_in_flight.clone(),
        );
        registry.register(
            "dropped_inbound_queue",
            "Of dropped_queue_full: consensus messages over a peer's inbound queue",
            metrics.dropped_inbound_queue.clone(),
        );
        registry.register(
            "dropped_gossip",
            "Of dropped_queue_full: gossiped transactions not delivered to the replica",
            metrics.dropped_gossip.clone(),
        );
        registry.register(
            "forwards_skipped",
            "Transactions not forwarded to the primary again: forwarded less than a second ago",
            metrics.forwards_skipped.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}
