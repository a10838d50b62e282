//! SIGTERM stops a node cleanly (exit code 0, "stopped cleanly" in its
//! log), and a restart continues the chain from its database: one node
//! alone, then the whole cluster.

use itc_node::harness::Cluster;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_itc-node");

fn stop_cleanly(cluster: &mut Cluster, i: usize) {
    let status = cluster.terminate_status(i);
    assert!(
        status.is_some_and(|s| s.success()),
        "node {i} exited with {status:?}\n{}",
        cluster.log_tail(i)
    );
    assert!(
        cluster.log(i).contains("stopped cleanly"),
        "node {i}\n{}",
        cluster.log_tail(i)
    );
}

#[test]
fn sigterm_stops_cleanly_and_a_restart_continues_the_chain() {
    let started = Instant::now();
    let mut cluster = Cluster::start(BIN.as_ref(), "shutdown", 4);
    // One node, under load from clients of the other nodes (a node that
    // stops takes the transactions only it holds with it: see the report
    // of issue 13's fault tests).
    let one = (cluster.primary(0) + 1) % 4;
    let others: Vec<usize> = (0..4).filter(|i| *i != one).collect();
    let load = cluster.start_load(&[0, 1, 2, 3], &others, Duration::from_millis(5));
    assert!(load.wait_more(200, Duration::from_secs(20)));
    stop_cleanly(&mut cluster, one);
    assert!(load.wait_more(100, Duration::from_secs(20)));
    cluster.restart(one);
    assert!(load.wait_more(100, Duration::from_secs(20)));
    let logs = load.stop();
    let top = cluster.max_height();
    cluster.wait_node_height(one, top, Duration::from_secs(30));
    cluster.assert_committed_once(&logs, Duration::from_secs(30));

    // The whole cluster: every node stops cleanly and reopens at the
    // height it stopped at, with the same chain.
    let height = cluster.min_height();
    cluster.assert_same_chain(height);
    let last = cluster.header(0, height);
    let mut stopped_at = Vec::new();
    for i in 0..4 {
        stopped_at.push(cluster.client(i).height().unwrap());
        stop_cleanly(&mut cluster, i);
    }
    for i in 0..4 {
        cluster.spawn(i);
    }
    for (i, stopped) in stopped_at.iter().enumerate() {
        cluster.wait_ready(i);
        let reopened = cluster.client(i).height().unwrap();
        assert!(
            reopened >= *stopped,
            "node {i} reopened at {reopened}, stopped at {stopped}"
        );
    }
    assert_eq!(cluster.header(1, height), last);
    // And the chain goes on from there.
    let load = cluster.start_load(&[0, 1, 2, 3], &[0, 1, 2, 3], Duration::from_millis(5));
    assert!(load.wait_more(100, Duration::from_secs(30)));
    let logs = load.stop();
    cluster.assert_committed_once(&logs, Duration::from_secs(30));
    let after = cluster.min_height();
    assert!(after > height, "no block after the restart");
    cluster.assert_same_chain(after);
    eprintln!(
        "stopped at {height}, continued to {after}; {:?}",
        started.elapsed()
    );
}
