//! A node whose data directory was deleted rejoins by state transfer: it
//! reaches the cluster's height with the same headers and state, and keeps
//! committing with the others.

use itc_node::harness::Cluster;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_itc-node");

#[test]
fn a_node_with_its_data_deleted_rejoins_by_state_transfer() {
    let started = Instant::now();
    let mut cluster = Cluster::start(BIN.as_ref(), "rejoin", 4);
    let victim = (cluster.primary(0) + 2) % 4;
    let others: Vec<usize> = (0..4).filter(|i| *i != victim).collect();
    let load = cluster.start_load(&[0, 1], &others, Duration::from_millis(2));
    assert!(load.wait_more(200, Duration::from_secs(20)));
    cluster.kill(victim);
    cluster.delete_data(victim);
    assert!(load.wait_more(300, Duration::from_secs(20)));
    let before = cluster.min_height();
    cluster.restart(victim);
    // It starts from nothing...
    assert!(cluster.client(victim).height().unwrap() < before);
    // ...and reaches the height the cluster had when it came back.
    let reached = cluster.wait_node_height(victim, before, Duration::from_secs(40));
    assert!(load.wait_more(100, Duration::from_secs(20)));
    let logs = load.stop();
    let top = cluster.max_height();
    cluster.wait_node_height(victim, top, Duration::from_secs(30));
    cluster.assert_committed_once(&logs, Duration::from_secs(30));
    let height = cluster.min_height();
    // Headers it serves (from the state-transfer snapshot on) are the
    // cluster's, up to the last one.
    let lowest = cluster
        .lowest_served_header(victim, height)
        .expect("the rejoined node serves the latest header");
    cluster.assert_same_chain_range(lowest, height);
    let others_chain: Vec<usize> = others.clone();
    let first = cluster.header(others_chain[0], 1);
    for &i in &others_chain[1..] {
        assert_eq!(cluster.header(i, 1), first);
    }
    // Same balances and nonces through the rejoined node's API.
    for account in 0..2 {
        let key = cluster.accounts[account].public();
        assert_eq!(
            cluster.client(victim).account(&key).unwrap(),
            cluster.client(others[0]).account(&key).unwrap(),
            "account {account}"
        );
    }
    eprintln!(
        "node {victim} rejoined: height {before} reached ({reached}), serves headers {lowest}..={height}; {:?}",
        started.elapsed()
    );
}
