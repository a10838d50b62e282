//! Unit tests of the replica's parts and of `check_invariants` on states
//! corrupted on purpose.

use super::*;
use crate::message::ViewChange;
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::Signature;
use itc_core::storage::MemoryStorage;
use itc_core::types::Amount;

fn alice() -> Keypair {
    Keypair::from_seed([2; 32])
}

fn genesis(validators: &[&Keypair]) -> Genesis {
    Genesis {
        chain_id: 7,
        accounts: vec![GenesisAccount {
            public_key: alice().public(),
            balance: 1_000_000,
        }],
        validators: validators
            .iter()
            .map(|k| GenesisValidator {
                public_key: k.public(),
                weight: 1,
            })
            .collect(),
        ..Genesis::default()
    }
}

/// A single validator: its own quorum, so blocks commit at once.
fn solo() -> (Replica, MemoryStorage) {
    let validator = Keypair::from_seed([1; 32]);
    let storage = MemoryStorage::new();
    let replica = Replica::open(
        Config::new(validator.clone(), genesis(&[&validator])),
        &storage,
    )
    .expect("opens");
    (replica, storage)
}

/// Four validators, so nothing commits without the others.
fn one_of_four() -> Replica {
    let keys: Vec<Keypair> = (10..14).map(|i| Keypair::from_seed([i; 32])).collect();
    let refs: Vec<&Keypair> = keys.iter().collect();
    let storage = MemoryStorage::new();
    Replica::open(Config::new(keys[0].clone(), genesis(&refs)), &storage).expect("opens")
}

fn transfer(nonce: u64) -> Transaction {
    Transaction::new_signed(
        &alice(),
        ChainId(7),
        nonce,
        Amount(1),
        Payload::Transfer {
            to: Keypair::from_seed([3; 32]).public(),
            amount: Amount(5),
        },
    )
}

fn violated_part(replica: &Replica) -> ReplicaPart {
    replica
        .check_invariants()
        .expect_err("the corruption is detected")
        .part()
}

#[test]
fn fresh_and_committing_replicas_hold_their_invariants() {
    let (mut replica, mut storage) = solo();
    assert_eq!(replica.check_invariants(), Ok(()));
    for nonce in 0..3 {
        replica
            .submit_transaction(nonce, transfer(nonce))
            .expect("admitted");
        let _persisted = replica.ready().persist(&mut storage).expect("persists");
        assert_eq!(replica.check_invariants(), Ok(()));
    }
    assert_eq!(replica.executed_height(), 3);
    assert_eq!(replica.pool_len(), 0);
}

#[test]
fn pool_tracks_ready_senders() {
    let mut replica = one_of_four();
    let sender = alice().public();
    replica
        .submit_transaction(0, transfer(1))
        .expect("admitted");
    assert!(!replica.pool.has_executable(), "nonce 1 waits for nonce 0");
    assert_eq!(replica.check_invariants(), Ok(()));
    replica
        .submit_transaction(0, transfer(0))
        .expect("admitted");
    assert!(replica.pool.has_executable());
    assert_eq!(
        replica.submit_transaction(0, transfer(0)),
        Err(SubmitError::Duplicate)
    );
    let candidates = replica
        .pool
        .executable_candidates(10, usize::MAX, &replica.ledger);
    let nonces: Vec<u64> = candidates.iter().map(|tx| tx.nonce).collect();
    assert_eq!(nonces, vec![0, 1]);
    // The ledger refuses nonce 0: nonce 1 is not executable any more.
    replica.pool.remove(sender, 0, &replica.ledger);
    assert!(!replica.pool.has_executable());
    assert_eq!(replica.check_invariants(), Ok(()));
}

#[test]
fn pool_refuses_nonces_too_far_ahead() {
    let mut replica = one_of_four();
    assert_eq!(
        replica.submit_transaction(0, transfer(crate::config::POOL_NONCE_AHEAD_MAX)),
        Err(SubmitError::NonceTooFarAhead)
    );
}

#[test]
fn check_invariants_detects_a_pool_out_of_step() {
    let mut replica = one_of_four();
    // The sender's next transaction, pooled without marking it ready.
    replica.pool.insert_unchecked(transfer(0));
    assert_eq!(violated_part(&replica), ReplicaPart::Pool);
}

#[test]
fn check_invariants_detects_a_broken_log() {
    let (mut replica, mut storage) = solo();
    replica
        .submit_transaction(0, transfer(0))
        .expect("admitted");
    let _persisted = replica.ready().persist(&mut storage).expect("persists");
    assert_eq!(replica.check_invariants(), Ok(()));
    replica.log.decisions_mut().clear();
    let violation = replica.check_invariants().expect_err("detected");
    assert_eq!(violation.part(), ReplicaPart::Log);
    assert_eq!(
        violation.to_string(),
        "log invariant violated: executed blocks but none retained"
    );
}

#[test]
fn check_invariants_detects_a_view_change_for_a_left_view() {
    let mut replica = one_of_four();
    let signer = Keypair::from_seed([11; 32]).public();
    replica.views.insert_unchecked(ViewChange {
        view: 0,
        committed_height: 0,
        committed_certificate: None,
        prepared: Vec::new(),
        signer,
        signature: Signature::EMPTY,
    });
    assert_eq!(violated_part(&replica), ReplicaPart::ViewChange);
}

#[test]
fn check_invariants_detects_an_answer_awaited_from_itself() {
    let mut replica = one_of_four();
    let me = replica.id();
    replica.transfer.await_unchecked(me, 1);
    assert_eq!(violated_part(&replica), ReplicaPart::StateTransfer);
}

#[test]
fn check_invariants_detects_a_deadline_beyond_the_longest_timeout() {
    let mut replica = one_of_four();
    replica.timers.set_view_deadline_unchecked(Some(u64::MAX));
    assert_eq!(violated_part(&replica), ReplicaPart::Timers);
}

#[test]
fn view_change_state_keeps_one_view_change_per_validator() {
    let mut replica = one_of_four();
    replica.tick(0);
    // The timer runs only with pending work: give it some, then let it fire.
    replica
        .submit_transaction(0, transfer(0))
        .expect("admitted");
    let deadline = replica.next_deadline().expect("a deadline");
    replica.tick(deadline);
    let deadline = replica.timers.view_deadline().expect("view timer runs");
    replica.tick(deadline);
    assert_eq!(replica.status(), Status::ViewChange);
    assert_eq!(replica.view(), 1);
    let own = replica
        .views
        .own_view_change()
        .expect("own view change")
        .clone();
    assert_eq!((own.view, own.signer), (1, replica.id()));
    assert_eq!(replica.check_invariants(), Ok(()));
}

#[test]
fn timers_back_off_and_reset_on_progress() {
    let mut timers = Timers::new(100, 10, 0);
    assert_eq!(timers.timeout_ms(), 100);
    timers.note_view_change();
    timers.note_view_change();
    assert_eq!(timers.timeout_ms(), 400);
    for _ in 0..100 {
        timers.note_view_change();
    }
    assert_eq!(
        timers.timeout_ms(),
        100 << crate::config::TIMEOUT_DOUBLINGS_MAX
    );
    timers.note_progress();
    assert_eq!(timers.timeout_ms(), 100);

    timers.advance(50);
    timers.advance(20);
    assert_eq!(timers.now(), 50, "the clock never goes back");
    timers.arm_view_timer();
    assert_eq!(timers.view_deadline(), Some(150));
    assert!(!timers.take_view_timeout());
    timers.advance(150);
    assert!(timers.take_view_timeout());
    assert_eq!(timers.view_deadline(), None);
    assert!(timers.take_retransmit());
    assert!(!timers.take_retransmit());
    assert_eq!(timers.next_deadline(), 160);
    assert_eq!(timers.check_invariants(0), Ok(()));
}

#[test]
fn state_transfer_limits_serves_and_matches_answers() {
    let mut transfer = StateTransfer::default();
    let peer = Keypair::from_seed([9; 32]).public();
    for _ in 0..crate::config::STATE_SERVES_PER_INTERVAL_MAX {
        assert!(transfer.take_serve(peer));
    }
    assert!(!transfer.take_serve(peer));
    assert!(transfer.mark_asked(peer));
    assert!(!transfer.mark_asked(peer));
    transfer.new_interval();
    assert!(transfer.take_serve(peer));
    assert!(transfer.mark_asked(peer));

    transfer.await_answer(peer, 5);
    assert!(!transfer.take_answer(peer, Some(6)), "not what was asked");
    assert!(transfer.take_answer(peer, Some(5)));
    assert!(!transfer.take_answer(peer, Some(5)), "answered once");
    let me = Keypair::from_seed([1; 32]).public();
    assert_eq!(transfer.check_invariants(me, 5), Ok(()));
}

#[test]
fn halted_replica_reports_the_reason_as_an_enum() {
    let (mut replica, _) = solo();
    replica.halted = Some(HaltReason::StateRootMismatch);
    assert_eq!(replica.halted(), Some(HaltReason::StateRootMismatch));
    assert_eq!(replica.next_deadline(), None);
    let error = replica
        .handle(0, alice().public(), Message::ViewChangeRequest { view: 0 })
        .expect_err("halted");
    assert_eq!(error, MessageError::Halted(HaltReason::StateRootMismatch));
    assert_eq!(
        error.to_string(),
        "replica halted: state root of a committed block differs"
    );
    assert_eq!(replica.check_invariants(), Ok(()));
}
