//! Unit tests of the parts and of [`Tangle::check_invariants`] catching a
//! corrupted state.

use super::*;
use itc_core::keys::Keypair;
use itc_core::types::{Amount, ChainId, SecurityLevel};

fn level0(_: &PublicKey) -> Option<SecurityLevel> {
    SecurityLevel::new(0)
}

fn config() -> DagConfig {
    let mut config = DagConfig::new(ChainId(7));
    config.pow = crate::pow::PowParams::none();
    config.persist = true;
    config
}

fn key(i: u8) -> Keypair {
    Keypair::from_seed([i; 32])
}

fn data(i: u64) -> DagPayload {
    DagPayload::Data {
        record: i.to_le_bytes().to_vec(),
    }
}

/// A tangle with a few anchored rounds of traffic and some waiting
/// transactions.
fn busy() -> Tangle {
    let mut node = Tangle::new(config());
    node.credit(key(1).public(), Amount(1_000)).unwrap();
    let mut now = 1_000;
    let mut sequence = 0;
    for height in 1..=6u64 {
        for i in 0..5u8 {
            now += 10;
            sequence += 1;
            node.issue(
                &key(1 + i % 3),
                sequence,
                data(sequence),
                now,
                sequence,
                &level0,
                1,
            )
            .unwrap();
            assert_eq!(node.check_invariants(), Ok(()));
        }
        let anchor = node.propose_anchor(now);
        node.confirm(&anchor, height).unwrap();
        assert_eq!(node.check_invariants(), Ok(()));
    }
    // A transaction waiting for a parent nobody has.
    let unknown = Hash([9; 32]);
    let parents = {
        let mut p = vec![unknown, node.select_tips(now, 1)[0]];
        p.sort_unstable();
        p
    };
    let orphan = DagTransaction::new_signed(&key(5), ChainId(7), parents, 1, data(1));
    assert!(matches!(
        node.attach(orphan, now, &level0),
        Ok(Attached::Pending { missing: 1 })
    ));
    assert_eq!(node.wanted(), vec![unknown]);
    assert_eq!(node.check_invariants(), Ok(()));
    node
}

#[test]
fn a_busy_tangle_keeps_every_invariant_through_pruning_and_restore() {
    let mut node = busy();
    let before = node.memory_bytes();
    let outcome = node.prune(3);
    assert!(outcome.removed > 0);
    assert!(node.memory_bytes() <= before);
    assert_eq!(node.check_invariants(), Ok(()));
    let mut storage = itc_core::storage::MemoryStorage::new();
    itc_core::storage::Storage::write(&mut storage, node.take_writes()).unwrap();
    let restored = Tangle::restore(config(), &storage, 5_000).unwrap();
    assert_eq!(restored.check_invariants(), Ok(()));
    assert_eq!(restored.len(), node.len());
    assert_eq!(restored.latest_height(), node.latest_height());
}

#[test]
fn a_new_tangle_keeps_every_invariant() {
    assert_eq!(Tangle::new(config()).check_invariants(), Ok(()));
}

#[test]
fn a_dangling_approver_edge_is_a_store_violation() {
    let mut node = busy();
    assert!(node.store.corrupt_edge());
    let error = node.check_invariants().unwrap_err();
    assert_eq!(error.part, TanglePart::Store);
    assert!(error.to_string().starts_with("store invariant violated: "));
}

#[test]
fn a_confirmed_transaction_in_the_arrival_list_is_a_store_violation() {
    let mut node = busy();
    let confirmed = node
        .store
        .records()
        .find(|(_, r)| r.confirmed() > 0)
        .map(|(_, r)| r.id())
        .unwrap();
    node.store.corrupt_arrival(confirmed);
    assert_eq!(node.check_invariants().unwrap_err().part, TanglePart::Store);
}

#[test]
fn a_wrong_missing_count_is_a_solidifier_violation() {
    let mut node = busy();
    assert!(node.solidifier.corrupt_missing());
    assert_eq!(
        node.check_invariants().unwrap_err().part,
        TanglePart::Solidifier
    );
}

#[test]
fn too_many_rate_samples_are_a_rates_violation() {
    let mut node = busy();
    node.rates.corrupt();
    assert_eq!(node.check_invariants().unwrap_err().part, TanglePart::Rates);
}

#[test]
fn an_anchor_list_that_disagrees_with_its_commitment_is_a_confirmation_violation() {
    let mut node = busy();
    assert!(node.anchors.corrupt());
    assert_eq!(
        node.check_invariants().unwrap_err().part,
        TanglePart::Confirmation
    );
}

#[test]
fn a_tip_that_is_not_stored_is_a_tip_violation() {
    let mut node = busy();
    let tip = node
        .pool
        .iter_ordered()
        .next()
        .map(|(id, _, _)| *id)
        .unwrap();
    let outcome = node.store.apply_prune(
        &node
            .store
            .records()
            .map(|(_, r)| r.id() == tip)
            .collect::<Vec<_>>(),
        node.store.entry_points().map(|(id, h)| (*id, *h)).collect(),
        &mut Journal::new(false),
        |_| {},
    );
    assert_eq!(outcome, 1);
    let error = node.check_invariants().unwrap_err();
    // The store notices first if the tip had approvers; the tip pool otherwise.
    assert!(matches!(error.part, TanglePart::Store | TanglePart::Tips));
}

#[test]
fn rates_count_the_window_and_stay_bounded() {
    let mut rates = Rates::new(crate::pow::PowParams::default());
    let (level, key) = rates.level_of(&key(1).public(), &level0).unwrap();
    let first = rates.required_bits(level, &key, 0);
    for _ in 0..ISSUER_RATE_SAMPLES_MAX + 10 {
        rates.record_issue(key, 0);
    }
    assert!(rates.required_bits(level, &key, 0) >= first);
    assert_eq!(rates.check_invariants(), Ok(()));
    let window = crate::pow::PowParams::default().window_ms;
    assert_eq!(rates.required_bits(level, &key, window), first);
}

#[test]
fn the_solidifier_requests_missing_parents_once_and_releases_them_on_arrival() {
    let mut solidifier = Solidifier::default();
    let parent = Hash([1; 32]);
    let tx = DagTransaction::new_signed(&key(1), ChainId(7), vec![parent], 0, data(0));
    let id = tx.id();
    solidifier.buffer(id, tx, &[parent], false, 0);
    assert_eq!(solidifier.check_invariants(|_| false), Ok(()));
    assert_eq!(solidifier.poll_request(), Some(parent));
    assert_eq!(solidifier.poll_request(), None);
    let mut ready = Vec::new();
    // The parent is now known.
    solidifier.unrequest(&parent);
    solidifier.arrived(&parent, 1, |h| *h == parent, &mut ready);
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].0, id);
    assert_eq!(solidifier.len(), 0);
    assert_eq!(solidifier.check_invariants(|h| *h == parent), Ok(()));
}

#[test]
fn the_store_keeps_edges_both_ways() {
    let genesis = genesis_entry_points(ChainId(7));
    let mut store = Store::new(genesis);
    let mut journal = Journal::new(false);
    let a = DagTransaction::new_signed(&key(1), ChainId(7), genesis.to_vec(), 0, data(0));
    store.insert(a.id(), &a, (0, 0), 0, &mut journal);
    let b = DagTransaction::new_signed(&key(2), ChainId(7), vec![a.id()], 0, data(1));
    store.insert(b.id(), &b, (0, 0), 0, &mut journal);
    assert_eq!(store.approvers(&a.id()), vec![b.id()]);
    assert_eq!(store.check_invariants(), Ok(()));
    assert_eq!(store.roots_of(&[a.id()]), (0, 0));
}
