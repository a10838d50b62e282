//! Deterministic simulation of PBFT validators anchoring the DAG under
//! faults, on the one simulator (`itc_sim::Simulation<Tangle>`, see
//! `itc_sim::dag` for the DAG's devices, gossip, promotion and spam): lost,
//! delayed and duplicated consensus and DAG messages (validators fetch
//! what an anchor needs); validators that crash anywhere around
//! `ready()`/`persist()` and restart from storage; validators that prune
//! differently; a Byzantine validator whose proposals carry a forged anchor
//! root, and which plants another tip list under certified headers
//! wherever it can (issue 17): in the prepared blocks of its view changes,
//! in the blocks it serves by state transfer, and in a copy of every
//! anchored proposal it receives, relayed to the others; a spammer
//! (bogus parents, rotated keys, unfunded keys). A second scenario adds
//! storage faults, clock skew and Twins on opposite sides of partitions.
//! None of that may halt an honest validator.
//!
//! Checked after every step: agreement, validity, no double commit, no
//! lost committed block, every anchored block's root equal to the
//! commitment each honest validator recorded. After the faults heal:
//! every main-chain transaction (deposits funding the devices among them)
//! committed and every DAG transaction issued confirmed on every honest
//! validator, with identical DAG ledgers.
//!
//! `ITC_SIM_SEEDS=N` runs N seeds; `ITC_SIM_SEED=S` replays one (a failure
//! prints the command).

use itc_dag::Tangle;
use itc_sim::dag::DagWorkload;
use itc_sim::{run_seeds_with_workload, Behavior, Scenario, SimReport, TestId};

/// Validators of weights 1, 2, 3, 4 (the forger, 0, holds 1 of 10), lossy
/// links, crashes, a spammer.
fn forging_validator_scenario() -> Scenario {
    let mut scenario = Scenario::basic(4);
    scenario.weights = vec![1, 2, 3, 4];
    scenario.byzantine = vec![(0, Behavior::AnchorForger)];
    scenario.transactions = 8;
    scenario.delay_ms = (1, 8);
    scenario.loss_percent = 10;
    scenario.duplicate_percent = 5;
    scenario.crashes = true;
    scenario.heal_ms = 3_000;
    scenario.view_change_timeout_ms = 400;
    scenario.retransmit_interval_ms = 50;
    scenario
}

/// Four equal validators, one of them twinned; partitions, crashes,
/// storage faults and clock skew.
fn twins_and_storage_faults_scenario() -> Scenario {
    let mut scenario = Scenario::basic(4);
    scenario.twin_of = Some(3);
    scenario.transactions = 8;
    scenario.delay_ms = (1, 8);
    scenario.loss_percent = 5;
    scenario.duplicate_percent = 5;
    scenario.partitions = true;
    scenario.crashes = true;
    scenario.storage_faults = true;
    scenario.clock_skew_ms = 50;
    scenario.heal_ms = 3_000;
    scenario.view_change_timeout_ms = 400;
    scenario.retransmit_interval_ms = 50;
    scenario
}

fn total(reports: &[SimReport], counter: impl Fn(&SimReport) -> u64) -> u64 {
    reports.iter().map(counter).sum()
}

#[test]
fn validators_agree_on_every_anchor_under_loss_crashes_and_a_forging_validator() {
    let reports = run_seeds_with_workload::<Tangle>(
        TestId::new(
            "itc-dag",
            "anchoring_simulation",
            "validators_agree_on_every_anchor_under_loss_crashes_and_a_forging_validator",
        ),
        24,
        |_| {
            // Promote early, so promotions and reattachments happen.
            let workload = DagWorkload {
                promote_after_ms: 400,
                ..DagWorkload::default()
            };
            (forging_validator_scenario(), workload)
        },
    );
    eprintln!(
        "{} seeds: anchors tampered with {:?}",
        reports.len(),
        reports
            .iter()
            .fold(std::collections::BTreeMap::new(), |mut all, r| {
                for (kind, n) in &r.anchor_tamperings {
                    *all.entry(*kind).or_insert(0) += n;
                }
                all
            })
    );
    let tampered = |kind: &str| {
        total(&reports, |r| {
            r.anchor_tamperings.get(kind).copied().unwrap_or(0)
        })
    };
    assert!(
        tampered("pre_prepare") > 0,
        "the forger never forged an anchor root"
    );
    assert!(
        tampered("relayed") > 0,
        "the forger never relayed a planted tip list"
    );
    assert!(
        tampered("state_response") > 0,
        "the forger never planted a tip list in a state-transfer answer"
    );
    assert!(total(&reports, |r| r.restarts) > 0, "no validator crashed");
    let side = |name: &str| {
        total(&reports, |r| {
            r.side_counters.get(name).copied().unwrap_or(0)
        })
    };
    assert!(
        side("issued") > 0 && side("spam") > 0,
        "the DAG workload did not run"
    );
    assert!(side("promotions") > 0, "no transaction was ever promoted");
}

#[test]
fn validators_agree_on_every_anchor_with_twins_storage_faults_and_clock_skew() {
    let reports = run_seeds_with_workload::<Tangle>(
        TestId::new(
            "itc-dag",
            "anchoring_simulation",
            "validators_agree_on_every_anchor_with_twins_storage_faults_and_clock_skew",
        ),
        16,
        |_| (twins_and_storage_faults_scenario(), DagWorkload::default()),
    );
    assert!(total(&reports, |r| r.write_faults) > 0, "no write failed");
    assert!(total(&reports, |r| r.read_faults) > 0, "no read failed");
    assert!(
        total(&reports, |r| r.twin_partitions) > 0,
        "the twins never split"
    );
    assert!(
        total(&reports, |r| r.restarts) > 0,
        "no validator restarted"
    );
}
