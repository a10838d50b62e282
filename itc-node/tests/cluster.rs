//! Four `itc-node` processes on loopback: transactions submitted over HTTP
//! are committed on every node, with equal headers (hence state roots) at
//! every height.

use itc_node::harness::Cluster;
use std::time::{Duration, Instant};

#[test]
fn four_processes_commit_a_thousand_http_transactions_with_equal_state() {
    let cluster = Cluster::start(env!("CARGO_BIN_EXE_itc-node").as_ref(), "cluster", 4);
    let senders = 4;
    let per_sender = 250u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    let hashes: Vec<Vec<itc_core::hash::Hash>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..senders)
            .map(|s| {
                let cluster = &cluster;
                scope.spawn(move || {
                    (0..per_sender)
                        .map(|nonce| {
                            let tx = cluster.transfer(s, nonce);
                            cluster
                                .submit_retrying(s % 4, &tx, deadline)
                                .unwrap_or_else(|e| panic!("sender {s} nonce {nonce}: {e}"))
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Every transaction is committed, once, at one height on every node.
    let last = hashes.iter().flatten().last().copied().unwrap();
    let mut top = 0;
    for i in 0..4 {
        top = top.max(
            cluster
                .client(i)
                .wait_committed(&last, Duration::from_secs(60))
                .unwrap(),
        );
    }
    for (s, list) in hashes.iter().enumerate() {
        for hash in list {
            let heights: Vec<Option<u64>> = (0..4)
                .map(|i| cluster.client(i).committed_at(hash).unwrap())
                .collect();
            assert!(heights[0].is_some(), "sender {s}: {hash:?} not committed");
            assert!(heights.iter().all(|h| *h == heights[0]), "{heights:?}");
        }
    }
    let height = (0..4)
        .map(|i| cluster.client(i).height().unwrap())
        .min()
        .unwrap();
    cluster.assert_same_chain(height);
    // Balances moved: every sender paid 250 transfers of 1 plus fees.
    let (_, nonce) = cluster
        .client(0)
        .account(&cluster.accounts[0].public())
        .unwrap();
    assert_eq!(nonce, per_sender);
}
