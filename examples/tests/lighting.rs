//! The smart-lighting scenario must have every expected outcome.

#[test]
fn smart_lighting_scenario_has_every_expected_outcome() {
    let report = itc_examples::lighting::run();
    for step in &report.steps {
        assert!(
            step.ok,
            "step {:?}: expected {:?}, got {:?}",
            step.name, step.expected, step.outcome
        );
    }
    assert_eq!(report.steps.len(), 19, "every step ran");
    assert!(report.view_change_virtual_ms > 0);
    assert!(report.dag_finality_us > 0);
}
