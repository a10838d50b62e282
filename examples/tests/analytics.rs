//! The ChainCode scenario at a small size: every step (the campaign, the
//! payouts and each attack) must have its expected outcome.

use itc_examples::analytics::{self, Config};

#[test]
fn the_analytics_scenario_passes_every_step_at_a_small_size() {
    let report = analytics::run(Config {
        households: 40,
        dropouts: 3,
        threads: 2,
        seed: 11,
    });
    for step in &report.steps {
        assert!(
            step.ok,
            "step '{}' expected '{}', got '{}'",
            step.name, step.expected, step.outcome
        );
    }
    assert!(report.ok());
    assert_eq!(report.answers.len(), 3);
    // A contribution stays far below the transaction body cap and the
    // issue's 16 KiB goal.
    assert!(report.contribution_bytes > 0 && report.contribution_bytes <= 16 * 1024);
}
