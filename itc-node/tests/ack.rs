//! A `202 Accepted` is durable: a node killed with `kill -9` right after it
//! acknowledged transactions, before any other node saw them, commits them
//! after it restarts.

use itc_node::harness::Cluster;
use std::time::{Duration, Instant};

#[test]
fn acknowledged_transactions_survive_kill_9_of_the_only_node_that_saw_them() {
    let mut cluster = Cluster::init(env!("CARGO_BIN_EXE_itc-node").as_ref(), "ack", 4, |_| {});
    // Only node 0 runs: no quorum, no peer to gossip to, nothing commits.
    cluster.spawn(0);
    cluster.wait_ready(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let hashes: Vec<_> = (0..5)
        .map(|nonce| {
            let tx = cluster.transfer(0, nonce);
            cluster.submit_retrying(0, &tx, deadline).unwrap()
        })
        .collect();
    assert_eq!(cluster.client(0).height().unwrap(), 0);
    cluster.kill(0);
    // Everyone starts; node 0 puts what it acknowledged back into its pool.
    for i in 0..4 {
        cluster.spawn(i);
    }
    for i in 0..4 {
        cluster.wait_ready(i);
    }
    for hash in &hashes {
        let height = cluster
            .client(1)
            .wait_committed(hash, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}\n{}", cluster.log_tail(0)));
        assert!(height >= 1);
    }
    let (_, nonce) = cluster
        .client(2)
        .account(&cluster.accounts[0].public())
        .unwrap();
    assert_eq!(nonce, 5, "each acknowledged transaction committed once");
    assert!(cluster
        .log_tail(0)
        .contains("acknowledged transactions back in the pool"));
}
