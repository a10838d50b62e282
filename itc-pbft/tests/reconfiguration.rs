//! Reconfiguration: validator weights bonded on the ledger take effect at
//! epoch boundaries; the certificate of an epoch's last block is signed by
//! the old set and names the next one.

use itc_sim::{run_seeds, Behavior, Scenario, TestId};

const TARGET: &str = "reconfiguration";

fn epochs() -> Scenario {
    let mut s = Scenario::basic(4);
    s.epoch_length = 3;
    s.transactions = 14;
    s.block_transactions_max = 2;
    // Validator 0 becomes heavier; a newcomer without a replica joins as a
    // silent member of the next sets (within the tolerated weight).
    s.validator_bonds = vec![(0, 2)];
    s.newcomer_bonds = vec![1];
    s
}

#[test]
fn bonded_weights_take_effect_at_epoch_boundaries() {
    let reports = run_seeds(
        TestId::new(
            "itc-pbft",
            TARGET,
            "bonded_weights_take_effect_at_epoch_boundaries",
        ),
        10,
        |_| epochs(),
    );
    // Whether a boundary follows the bonds depends on the seed's timing.
    assert!(
        reports
            .iter()
            .filter(|r| r.validator_set_changes >= 1)
            .count()
            >= 5,
        "{reports:?}"
    );
}

#[test]
fn reconfiguration_under_faults() {
    run_seeds(
        TestId::new("itc-pbft", TARGET, "reconfiguration_under_faults"),
        10,
        |seed| {
            let mut s = epochs();
            s.loss_percent = 10;
            s.delay_ms = (1, 30);
            s.partitions = true;
            s.crashes = seed % 2 == 0;
            if seed % 2 == 1 {
                // A silent newcomer and a Byzantine replica together would
                // exceed f; here the fault budget goes to the Byzantine one.
                s.newcomer_bonds.clear();
                s.byzantine = vec![(3, Behavior::DoubleVote)];
            }
            s
        },
    );
}
