//! Castro & Liskov, OSDI'99, section 4.5 (correctness: safety and liveness),
//! checked by the deterministic simulator under seeded faults.
//!
//! Each test runs a bounded number of seeds; `ITC_SIM_SEEDS=N` runs `N`
//! seeds per scenario, `ITC_SIM_SEED=S` replays one.

use itc_sim::{run_seeds, Behavior, Scenario, TestId};

const TARGET: &str = "section_4_5_simulation";

fn lossy(n: usize) -> Scenario {
    let mut s = Scenario::basic(n);
    s.loss_percent = 30;
    s.duplicate_percent = 10;
    s.delay_ms = (1, 40);
    s
}

#[test]
fn lossy_duplicating_reordering_network() {
    run_seeds(
        TestId::new("itc-pbft", TARGET, "lossy_duplicating_reordering_network"),
        30,
        |_| lossy(4),
    );
}

#[test]
fn partitions_and_crash_restarts() {
    run_seeds(
        TestId::new("itc-pbft", TARGET, "partitions_and_crash_restarts"),
        30,
        |_| {
            let mut s = lossy(4);
            s.loss_percent = 10;
            s.partitions = true;
            s.crashes = true;
            s
        },
    );
}

#[test]
fn byzantine_replica_behaviors() {
    let behaviors = [
        Behavior::EquivocatingPrimary,
        Behavior::DoubleVote,
        Behavior::ForgedSignatures,
        Behavior::Garbage,
        Behavior::Silent,
        Behavior::FutureViews,
        Behavior::StaleReplay,
    ];
    run_seeds(
        TestId::new("itc-pbft", TARGET, "byzantine_replica_behaviors"),
        42,
        |seed| {
            let mut s = lossy(4);
            s.loss_percent = 10;
            s.byzantine = vec![((seed % 4) as usize, behaviors[(seed / 4 % 7) as usize])];
            s
        },
    );
}

#[test]
fn weighted_validators_with_a_heavy_member() {
    run_seeds(
        TestId::new(
            "itc-pbft",
            TARGET,
            "weighted_validators_with_a_heavy_member",
        ),
        20,
        |seed| {
            let mut s = lossy(5);
            s.weights = vec![5, 2, 2, 1, 1];
            s.loss_percent = 10;
            s.partitions = true;
            // f = 3 of 11: two light replicas may be Byzantine together.
            if seed % 2 == 0 {
                s.byzantine = vec![
                    (3, Behavior::DoubleVote),
                    (4, Behavior::EquivocatingPrimary),
                ];
            }
            s
        },
    );
}

#[test]
fn seven_replicas_two_byzantine_with_every_fault() {
    run_seeds(
        TestId::new(
            "itc-pbft",
            TARGET,
            "seven_replicas_two_byzantine_with_every_fault",
        ),
        12,
        |seed| {
            let mut s = lossy(7);
            s.loss_percent = 15;
            s.partitions = true;
            s.crashes = true;
            s.byzantine = vec![
                ((seed % 7) as usize, Behavior::EquivocatingPrimary),
                (((seed + 3) % 7) as usize, Behavior::Garbage),
            ];
            s
        },
    );
}

/// The scenarios above really exercise the machinery they claim to.
#[test]
fn faults_are_actually_injected() {
    let reports = run_seeds(
        TestId::new("itc-pbft", TARGET, "faults_are_actually_injected"),
        10,
        |_| {
            let mut s = lossy(4);
            s.partitions = true;
            s.crashes = true;
            s
        },
    );
    assert!(reports.iter().any(|r| r.restarts > 0), "{reports:?}");
    assert!(reports.iter().any(|r| r.max_view > 0), "{reports:?}");
    let double = run_seeds(
        TestId::new("itc-pbft", TARGET, "faults_are_actually_injected"),
        10,
        |seed| {
            let mut s = Scenario::basic(4);
            s.byzantine = vec![((seed % 4) as usize, Behavior::DoubleVote)];
            s
        },
    );
    assert!(double.iter().all(|r| r.evidence > 0), "{double:?}");
}

#[test]
fn twins_share_a_validator_key() {
    run_seeds(
        TestId::new("itc-pbft", TARGET, "twins_share_a_validator_key"),
        20,
        |seed| {
            let mut s = lossy(4);
            s.loss_percent = 10;
            s.partitions = true;
            s.twin_of = Some((seed % 4) as usize);
            s
        },
    );
}

/// Timeouts shorter than some link delays: view changes race with commits.
#[test]
fn view_changes_racing_commits() {
    run_seeds(
        TestId::new("itc-pbft", TARGET, "view_changes_racing_commits"),
        20,
        |seed| {
            let mut s = lossy(4);
            s.delay_ms = (1, 120);
            s.loss_percent = 20;
            s.view_change_timeout_ms = 60;
            s.retransmit_interval_ms = 50;
            s.crashes = seed % 2 == 0;
            s
        },
    );
}

/// Storage that fails (writes applying nothing or everything, torn writes,
/// failed reads when opening or serving old blocks), crashes at every point
/// around `ready()` and `persist()`, and clocks that disagree: nothing
/// committed is lost, no two replicas disagree, and the chain goes on once
/// the faults heal.
#[test]
fn storage_faults_crash_points_and_clock_skew() {
    let reports = run_seeds(
        TestId::new(
            "itc-pbft",
            TARGET,
            "storage_faults_crash_points_and_clock_skew",
        ),
        24,
        |seed| {
            let mut s = lossy(4);
            s.loss_percent = 10;
            s.partitions = true;
            s.crashes = true;
            s.storage_faults = true;
            s.clock_skew_ms = 250;
            s.heal_ms = 4_000;
            s.transactions = 20;
            if seed % 3 == 0 {
                s.byzantine = vec![((seed % 4) as usize, Behavior::EquivocatingPrimary)];
            }
            s
        },
    );
    let sum = |f: fn(&itc_sim::SimReport) -> u64| reports.iter().map(f).sum::<u64>();
    assert!(sum(|r| r.write_faults) > 0, "{reports:?}");
    assert!(sum(|r| r.read_faults) > 0, "{reports:?}");
    assert!(sum(|r| r.failed_opens) > 0, "{reports:?}");
    for point in 0..3 {
        assert!(
            reports.iter().any(|r| r.crashes_at[point] > 0),
            "crash point {point} never struck: {reports:?}"
        );
    }
}

/// Twins (two replicas sharing one key, each with its own storage) on
/// opposite sides of coming and going partitions, with failing storage
/// and skewed clocks: the twins together equivocate, the honest replicas
/// still agree.
#[test]
fn twins_across_partitions_with_storage_faults() {
    let reports = run_seeds(
        TestId::new(
            "itc-pbft",
            TARGET,
            "twins_across_partitions_with_storage_faults",
        ),
        16,
        |seed| {
            let mut s = lossy(4);
            s.loss_percent = 10;
            s.partitions = true;
            s.crashes = true;
            s.storage_faults = true;
            s.clock_skew_ms = 100;
            s.twin_of = Some((seed % 4) as usize);
            s
        },
    );
    assert!(
        reports.iter().filter(|r| r.twin_partitions > 0).count() >= 8,
        "{reports:?}"
    );
}
