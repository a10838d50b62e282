//! Castro & Liskov, OSDI'99, section 4.2: normal-case operation.

use itc_pbft::sim::{run_seeds, Scenario, Simulation};

#[test]
fn four_replicas_commit_every_transaction() {
    let report = Simulation::new(Scenario::basic(4), 7).run().unwrap();
    assert!(report.height >= 3, "{report:?}");
    assert_eq!(
        report.max_view, 0,
        "no view change without faults: {report:?}"
    );
}

#[test]
fn seven_replicas_commit_every_transaction() {
    run_seeds(
        "section_4_2_normal_case",
        "seven_replicas_commit_every_transaction",
        3,
        |_| Scenario::basic(7),
    );
}
