//! `kill -9` under load: a backup restarts from its database and catches
//! up; when the primary dies, the others change view, lose no committed
//! block and commit every acknowledged transaction exactly once; the old
//! primary then restarts and catches up.

use itc_node::harness::{assert_blocks_hold_once, Cluster};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_itc-node");
const PACE: Duration = Duration::from_millis(5);

#[test]
fn a_backup_killed_under_load_restarts_and_catches_up() {
    let started = Instant::now();
    let mut cluster = Cluster::start(BIN.as_ref(), "crash-backup", 4);
    let primary = cluster.primary(0);
    let victim = (primary + 1) % 4;
    let others: Vec<usize> = (0..4).filter(|i| *i != victim).collect();
    let load = cluster.start_load(&[0, 1, 2, 3], &others, PACE);
    assert!(
        load.wait_more(200, Duration::from_secs(20)),
        "no load before the kill"
    );
    cluster.kill(victim);
    let at_kill = cluster.max_height();
    // The three others keep committing without it.
    assert!(
        load.wait_more(300, Duration::from_secs(20)),
        "no load after the kill"
    );
    cluster.wait_height(at_kill + 3, Duration::from_secs(20));
    cluster.restart(victim);
    assert!(
        load.wait_more(200, Duration::from_secs(20)),
        "no load after the restart"
    );
    let logs = load.stop();
    let top = cluster.max_height();
    cluster.wait_node_height(victim, top, Duration::from_secs(30));
    cluster.assert_committed_once(&logs, Duration::from_secs(30));
    let height = cluster.min_height();
    cluster.assert_same_chain(height);
    let acknowledged: usize = logs.iter().map(|l| l.acknowledged.len()).sum();
    eprintln!(
        "backup {victim} killed at height {at_kill}; {acknowledged} acknowledged; chain {height}; {:?}",
        started.elapsed()
    );
}

#[test]
fn the_primary_killed_under_load_loses_nothing_and_commits_each_acknowledged_once() {
    let started = Instant::now();
    let mut cluster = Cluster::start(BIN.as_ref(), "crash-primary", 4);
    let old_primary = cluster.primary(0);
    let backups: Vec<usize> = (0..4).filter(|i| *i != old_primary).collect();
    let load = cluster.start_load(&[0, 1, 2, 3], &backups, PACE);
    assert!(
        load.wait_more(300, Duration::from_secs(20)),
        "no load before the kill"
    );
    cluster.kill(old_primary);
    // Blocks committed before the kill, as a survivor saw them.
    let before = cluster.min_height();
    assert!(before > 0, "nothing committed before the kill");
    let committed_before: Vec<(String, String)> = (1..=before)
        .map(|h| cluster.header(backups[0], h))
        .collect();

    // View change: a view above 0 with another primary, on every survivor.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let views: Vec<(u64, usize)> = backups
            .iter()
            .map(|&i| {
                (
                    cluster.status(i)["view"].as_u64().unwrap(),
                    cluster.primary(i),
                )
            })
            .collect();
        if views
            .iter()
            .all(|(v, p)| *v > 0 && *p != old_primary && (*v, *p) == views[0])
        {
            break;
        }
        assert!(Instant::now() < deadline, "no view change: {views:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The new view commits.
    assert!(
        load.wait_more(300, Duration::from_secs(30)),
        "no load after the view change"
    );
    cluster.wait_height(before + 3, Duration::from_secs(30));

    cluster.restart(old_primary);
    assert!(
        load.wait_more(100, Duration::from_secs(20)),
        "no load after the restart"
    );
    let logs = load.stop();
    let top = cluster.max_height();
    cluster.wait_node_height(old_primary, top, Duration::from_secs(30));
    cluster.assert_committed_once(&logs, Duration::from_secs(30));
    let height = cluster.min_height();
    cluster.assert_same_chain(height);
    for (k, header) in committed_before.iter().enumerate() {
        assert_eq!(
            &cluster.header(old_primary, k as u64 + 1),
            header,
            "block {} committed before the kill changed",
            k + 1
        );
    }
    // Scan the blocks of a survivor: each acknowledged transaction once.
    let survivor = backups[0];
    assert!(
        cluster.terminate(survivor),
        "clean stop\n{}",
        cluster.log_tail(survivor)
    );
    let blocks = cluster.stored_blocks(survivor).unwrap();
    assert!(blocks.len() as u64 >= height);
    let scanned = assert_blocks_hold_once(&blocks, &logs);
    let acknowledged: usize = logs.iter().map(|l| l.acknowledged.len()).sum();
    eprintln!(
        "primary {old_primary} killed at height {before}; {acknowledged} acknowledged; \
         {scanned} transactions in {} blocks; {:?}",
        blocks.len(),
        started.elapsed()
    );
}
