//! The smart-lighting scenario from the lamp's side: one call decides.

mod common;

use common::*;
use itc_core::encoding::{Decode, Encode};
use itc_core::keys::Keypair;
use itc_core::types::{ChainId, Permissions};
use itc_spv::{
    check_command, CommandProof, DenyReason, Handled, Lamp, LampConfig, LampVerdict, ReplayTable,
    SignedCommand, TrustedState, Verdict,
};

const FRESHNESS_MS: u64 = 60_000;
const WINDOW_MS: u64 = 30_000;

fn config(chain: &LedgerChain) -> LampConfig {
    LampConfig {
        device: chain.lamp.public(),
        freshness_ms: FRESHNESS_MS,
        command_window_ms: WINDOW_MS,
    }
}

fn command(
    sender: &Keypair,
    chain: &LedgerChain,
    action: Permissions,
    time_ms: u64,
) -> SignedCommand {
    SignedCommand::new_signed(sender, CHAIN, chain.lamp.public(), action, time_ms)
}

/// The lamp's clock in these tests: just after its trusted header.
fn now_at(trusted: &TrustedState) -> u64 {
    trusted.header().time_ms + 1
}

/// The latest header's time plus one: the lamp's clock.
fn now(chain: &LedgerChain) -> u64 {
    chain.updates.last().unwrap().header.time_ms + 1
}

/// The lamp's check against the latest header with an empty replay table,
/// at the latest header's time.
fn check(chain: &LedgerChain, command: &SignedCommand, proof: &CommandProof) -> LampVerdict {
    let height = chain.updates.len() as u64;
    check_at(
        chain,
        &chain.trusted_at(height),
        &ReplayTable::new(),
        command,
        proof,
    )
}

fn check_at(
    chain: &LedgerChain,
    trusted: &TrustedState,
    replay: &ReplayTable,
    command: &SignedCommand,
    proof: &CommandProof,
) -> LampVerdict {
    check_command(
        &config(chain),
        trusted,
        replay,
        now_at(trusted),
        command,
        proof,
    )
}

fn lamp(chain: &LedgerChain, height: u64) -> Lamp {
    Lamp::new(
        config(chain),
        OPTIONS,
        chain.trusted_at(height),
        ReplayTable::new(),
    )
}

#[test]
fn granted_guest_switches_the_lamp() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let command = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    assert_eq!(check(&chain, &command, &proof), LampVerdict::Allowed);
}

#[test]
fn owner_needs_no_grant() {
    let mut chain = LedgerChain::new();
    let register = chain.register_lamp();
    chain.apply(vec![register]);
    let owner = chain.owner.public();
    let proof = chain.command_proof_for(&owner);
    assert!(proof.grant.value.is_none());
    let command = command(&chain.owner, &chain, Permissions(u32::MAX), now(&chain));
    assert_eq!(check(&chain, &command, &proof), LampVerdict::Allowed);
}

#[test]
fn a_replayed_or_older_command_of_the_same_sender_is_refused() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let trusted = chain.trusted_at(1);
    let t = now_at(&trusted);
    let mut replay = ReplayTable::new();
    replay.accept(&chain.guest.public(), t);
    for time in [t, t - 1, t - 5_000] {
        let command = command(&chain.guest, &chain, Permissions::SWITCH, time);
        assert_eq!(
            check_at(&chain, &trusted, &replay, &command, &proof),
            LampVerdict::Denied(DenyReason::Replayed)
        );
    }
    let command = command(&chain.guest, &chain, Permissions::SWITCH, t + 1);
    assert_eq!(
        check_at(&chain, &trusted, &replay, &command, &proof),
        LampVerdict::Allowed
    );
}

/// Issue 12, item 1: one sender cannot lock the others out. Before, a
/// guest's command timed at the edge of the allowed drift made the owner's
/// (and every other guest's) commands replays.
#[test]
fn a_guest_whose_clock_runs_ahead_does_not_lock_the_owner_out() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let mut lamp = lamp(&chain, 1);
    let t = now(&chain);
    let guest_proof = chain.command_proof();
    let owner_key = chain.owner.public();
    let owner_proof = chain.command_proof_for(&owner_key);
    let ahead = command(&chain.guest, &chain, Permissions::SWITCH, t + WINDOW_MS);
    assert_eq!(
        lamp.handle(t, None, &ahead, &guest_proof).command,
        LampVerdict::Allowed
    );
    // The owner, at the lamp's own time, well below the guest's.
    let owner_on = command(&chain.owner, &chain, Permissions::SWITCH, t);
    assert_eq!(
        lamp.handle(t, None, &owner_on, &owner_proof).command,
        LampVerdict::Allowed
    );
    // Each sender's own history still holds.
    assert_eq!(
        lamp.handle(t, None, &owner_on, &owner_proof).command,
        LampVerdict::Denied(DenyReason::Replayed)
    );
    let guest_behind = command(&chain.guest, &chain, Permissions::SWITCH, t + 5);
    assert_eq!(
        lamp.handle(t, None, &guest_behind, &guest_proof).command,
        LampVerdict::Denied(DenyReason::Replayed)
    );
    assert_eq!(lamp.replay().len(), 2);
    assert_eq!(
        lamp.replay().last(&chain.guest.public()),
        Some(t + WINDOW_MS)
    );
    assert_eq!(lamp.replay().last(&owner_key), Some(t));
}

/// Issue 12, item 2: a command outside the window of the lamp's clock is
/// refused in both directions, even if no later command was accepted.
#[test]
fn a_command_outside_the_window_is_refused_in_both_directions() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let trusted = chain.trusted_at(1);
    let t = now_at(&trusted);
    let empty = ReplayTable::new();
    let at = |time| command(&chain.guest, &chain, Permissions::SWITCH, time);
    for (time, verdict) in [
        (t - WINDOW_MS, LampVerdict::Allowed),
        (
            t - WINDOW_MS - 1,
            LampVerdict::Denied(DenyReason::CommandTooOld),
        ),
        (t + WINDOW_MS, LampVerdict::Allowed),
        (
            t + WINDOW_MS + 1,
            LampVerdict::Denied(DenyReason::CommandFromFuture),
        ),
        (0, LampVerdict::Denied(DenyReason::CommandTooOld)),
        (u64::MAX, LampVerdict::Denied(DenyReason::CommandFromFuture)),
    ] {
        assert_eq!(
            check_at(&chain, &trusted, &empty, &at(time), &proof),
            verdict,
            "command at now {:+}",
            time as i128 - t as i128
        );
    }
    // Recorded now, delivered after the window: refused although the lamp
    // never accepted a later command.
    let mut lamp = lamp(&chain, 1);
    let recorded = at(t);
    assert_eq!(
        lamp.handle(t + WINDOW_MS + 1, None, &recorded, &proof)
            .command,
        LampVerdict::Denied(DenyReason::CommandTooOld)
    );
    assert!(
        lamp.replay().is_empty(),
        "a refused command leaves no trace"
    );
}

/// Issue 12, item 5.
#[test]
fn an_empty_action_is_refused() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let owner_key = chain.owner.public();
    for (sender, proof) in [
        (chain.guest.clone(), chain.command_proof()),
        (chain.owner.clone(), chain.command_proof_for(&owner_key)),
    ] {
        let command = command(&sender, &chain, Permissions(0), now(&chain));
        assert_eq!(
            check(&chain, &command, &proof),
            LampVerdict::Denied(DenyReason::EmptyAction)
        );
    }
}

/// Issue 12: the signature is checked before anything that depends on the
/// lamp's clock or replay state, and the grant before the clock, so a
/// forger (or a key holder without a grant) learns neither.
#[test]
fn reasons_reveal_nothing_about_clock_or_counters_to_the_unauthorised() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let trusted = chain.trusted_at(1);
    let t = now_at(&trusted);
    let mut replay = ReplayTable::new();
    replay.accept(&chain.guest.public(), t);
    // A forger probing with replayed, too-old and future times.
    for time in [t, 0, t + WINDOW_MS + 1] {
        let mut forged = command(&chain.buyer, &chain, Permissions::SWITCH, time);
        forged.grantee = chain.guest.public();
        assert_eq!(
            check_at(&chain, &trusted, &replay, &forged, &proof),
            LampVerdict::Denied(DenyReason::BadSignature)
        );
    }
    // A stranger with a key but no grant probing the same way.
    let stranger_proof = chain.command_proof_for(&chain.buyer.public());
    for time in [0, t + WINDOW_MS + 1] {
        let probe = command(&chain.buyer, &chain, Permissions::SWITCH, time);
        assert_eq!(
            check_at(&chain, &trusted, &replay, &probe, &stranger_proof),
            LampVerdict::Denied(DenyReason::Revoked)
        );
    }
    // And against a stale lamp, the stranger learns nothing either.
    let late = t + FRESHNESS_MS + 10;
    let probe = command(&chain.buyer, &chain, Permissions::SWITCH, late);
    assert_eq!(
        check_command(
            &config(&chain),
            &trusted,
            &replay,
            late,
            &probe,
            &stranger_proof
        ),
        LampVerdict::Denied(DenyReason::Revoked)
    );
}

#[test]
fn revoked_grant_is_refused_with_an_absence_proof() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let revoke = chain.revoke();
    chain.apply(vec![revoke]);
    let proof = chain.command_proof();
    assert!(proof.grant.value.is_none());
    let command = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    assert_eq!(
        check(&chain, &command, &proof),
        LampVerdict::Denied(DenyReason::Revoked)
    );
}

#[test]
fn proof_from_before_the_revocation_is_stale_once_the_lamp_saw_a_newer_header() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let old_proof = chain.command_proof();
    let revoke = chain.revoke();
    chain.apply(vec![revoke]);
    let lamp_state = chain.trusted_at(2);
    let command = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    assert_eq!(
        check_at(
            &chain,
            &lamp_state,
            &ReplayTable::new(),
            &command,
            &old_proof
        ),
        LampVerdict::Denied(DenyReason::StaleHeader)
    );
}

#[test]
fn expired_grant_is_refused() {
    let mut chain = LedgerChain::with_granted_lamp(3);
    chain.empty_block();
    let proof = chain.command_proof();
    let on = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    assert_eq!(check(&chain, &on, &proof), LampVerdict::Allowed);
    chain.empty_block();
    let proof = chain.command_proof();
    let on = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    assert_eq!(
        check(&chain, &on, &proof),
        LampVerdict::Denied(DenyReason::Expired)
    );
}

#[test]
fn grant_from_a_previous_owner_is_refused() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let sell = chain.sell_lamp();
    chain.apply(vec![sell]);
    let proof = chain.command_proof();
    assert!(
        proof.grant.value.is_some(),
        "the grant record stays in state"
    );
    let command = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    assert_eq!(
        check(&chain, &command, &proof),
        LampVerdict::Denied(DenyReason::NotGranted)
    );
}

/// Issue 12, item 4: before, a grant revived when the lamp came back to the
/// owner who made it.
#[test]
fn a_grant_stays_dead_after_the_lamp_returns_to_its_owner() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let on = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    let proof = chain.command_proof();
    assert_eq!(check(&chain, &on, &proof), LampVerdict::Allowed);
    let sell = chain.sell_lamp();
    chain.apply(vec![sell]);
    let give_back = chain.return_lamp();
    chain.apply(vec![give_back]);
    let proof = chain.command_proof();
    assert!(proof.grant.value.is_some(), "nobody revoked the grant");
    let on = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    assert_eq!(
        check(&chain, &on, &proof),
        LampVerdict::Denied(DenyReason::NotGranted)
    );
    // The owner can grant again; the new grant works.
    let regrant = chain.grant(Permissions::SWITCH, 100);
    chain.apply(vec![regrant]);
    let proof = chain.command_proof();
    let on = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    assert_eq!(check(&chain, &on, &proof), LampVerdict::Allowed);
}

#[test]
fn unregistered_device_grants_nothing() {
    let mut chain = LedgerChain::new();
    chain.empty_block();
    let proof = chain.command_proof();
    let command = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    assert_eq!(
        check(&chain, &command, &proof),
        LampVerdict::Denied(DenyReason::NotGranted)
    );
}

#[test]
fn action_beyond_the_granted_permissions_is_refused() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    for action in [
        Permissions::CONFIGURE,
        Permissions(Permissions::SWITCH.0 | 4),
    ] {
        let command = command(&chain.guest, &chain, action, now(&chain));
        assert_eq!(
            check(&chain, &command, &proof),
            LampVerdict::Denied(DenyReason::InsufficientPermission)
        );
    }
}

#[test]
fn forged_or_tampered_signature_is_refused() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let mut tampered = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    tampered.time_ms += 1;
    assert_eq!(
        check(&chain, &tampered, &proof),
        LampVerdict::Denied(DenyReason::BadSignature)
    );
    // Signed by the buyer but claiming to be the guest.
    let mut impostor = command(&chain.buyer, &chain, Permissions::SWITCH, now(&chain));
    impostor.grantee = chain.guest.public();
    assert_eq!(
        check(&chain, &impostor, &proof),
        LampVerdict::Denied(DenyReason::BadSignature)
    );
}

#[test]
fn command_for_another_device_or_chain_is_refused() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let other = SignedCommand::new_signed(
        &chain.guest,
        CHAIN,
        chain.buyer.public(),
        Permissions::SWITCH,
        now(&chain),
    );
    assert_eq!(
        check(&chain, &other, &proof),
        LampVerdict::Denied(DenyReason::WrongDevice)
    );
    let other_chain = SignedCommand::new_signed(
        &chain.guest,
        ChainId(43),
        chain.lamp.public(),
        Permissions::SWITCH,
        now(&chain),
    );
    assert_eq!(
        check(&chain, &other_chain, &proof),
        LampVerdict::Denied(DenyReason::WrongChain)
    );
}

#[test]
fn proof_for_someone_else_is_a_bad_proof() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    // The guest's valid grant proof, presented by the buyer.
    let proof = chain.command_proof();
    let command = command(&chain.buyer, &chain, Permissions::SWITCH, now(&chain));
    assert_eq!(
        check(&chain, &command, &proof),
        LampVerdict::Denied(DenyReason::BadProof)
    );
}

#[test]
fn tampered_grant_value_is_a_bad_proof() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let mut proof = chain.command_proof();
    let value = proof.grant.value.as_mut().unwrap();
    value[0] |= 4; // add CONFIGURE to the permission bits
    let command = command(&chain.guest, &chain, Permissions::CONFIGURE, now(&chain));
    assert_eq!(
        check(&chain, &command, &proof),
        LampVerdict::Denied(DenyReason::BadProof)
    );
}

#[test]
fn lamp_with_an_old_header_refuses_everything() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let trusted = chain.trusted_at(1);
    let fresh_until = trusted.header().time_ms + FRESHNESS_MS;
    let empty = ReplayTable::new();
    let at = |time| command(&chain.guest, &chain, Permissions::SWITCH, time);
    assert_eq!(
        check_command(
            &config(&chain),
            &trusted,
            &empty,
            fresh_until,
            &at(fresh_until),
            &proof
        ),
        LampVerdict::Allowed
    );
    assert_eq!(
        check_command(
            &config(&chain),
            &trusted,
            &empty,
            fresh_until + 1,
            &at(fresh_until + 1),
            &proof
        ),
        LampVerdict::Denied(DenyReason::StaleHeader)
    );
}

#[test]
fn proof_against_a_header_the_lamp_has_not_seen_needs_the_update() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let update = chain.empty_block();
    let proof = chain.command_proof();
    let now = update.header.time_ms + 1;
    let on = command(&chain.guest, &chain, Permissions::SWITCH, now);
    assert_eq!(
        check_at(
            &chain,
            &chain.trusted_at(1),
            &ReplayTable::new(),
            &on,
            &proof
        ),
        LampVerdict::Denied(DenyReason::UnknownHeader)
    );
    let mut lamp = lamp(&chain, 1);
    assert_eq!(
        lamp.handle(now, None, &on, &proof),
        Handled {
            update: None,
            command: LampVerdict::Denied(DenyReason::UnknownHeader)
        }
    );
    assert_eq!(
        lamp.handle(now, Some(&update), &on, &proof),
        Handled {
            update: Some(Verdict::Success),
            command: LampVerdict::Allowed
        }
    );
    assert_eq!(lamp.trusted().height(), 2);
    assert_eq!(lamp.replay().last(&chain.guest.public()), Some(now));
    assert_eq!(
        lamp.handle(now, None, &on, &proof).command,
        LampVerdict::Denied(DenyReason::Replayed)
    );
}

/// Issue 12, item 3: the update's verdict reaches the application, even
/// when the command is refused because of it.
#[test]
fn handle_reports_the_header_updates_verdict() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let mut good = chain.empty_block();
    let proof = chain.command_proof();
    let now = good.header.time_ms + 1;
    let on = command(&chain.guest, &chain, Permissions::SWITCH, now);
    let mut lamp = lamp(&chain, 1);
    // A header with a broken certificate.
    let mut forged = good.clone();
    forged.header.state_root = itc_core::Hash([7; 32]);
    let handled = lamp.handle(now, Some(&forged), &on, &proof);
    assert!(
        matches!(handled.update, Some(Verdict::Invalid(_))),
        "{handled:?}"
    );
    assert_eq!(
        handled.command,
        LampVerdict::Denied(DenyReason::UnknownHeader)
    );
    assert_eq!(lamp.trusted().height(), 1, "nothing adopted");
    good.validators = None;
    let handled = lamp.handle(now, Some(&good), &on, &proof);
    assert_eq!(handled.update, Some(Verdict::Success));
    assert_eq!(handled.command, LampVerdict::Allowed);
}

#[test]
fn the_whole_scenario_through_one_lamp() {
    // Register and grant, switch, revoke, and the old proof no longer works.
    let mut chain = LedgerChain::with_granted_lamp(100);
    let mut lamp = lamp(&chain, 1);
    let proof = chain.command_proof();
    let now = chain.update_at(1).header.time_ms + 1;
    let on = command(&chain.guest, &chain, Permissions::SWITCH, now);
    assert_eq!(
        lamp.handle(now, None, &on, &proof).command,
        LampVerdict::Allowed
    );

    let revoke = chain.revoke();
    let update = chain.apply(vec![revoke]);
    let now = update.header.time_ms + 1;
    assert!(lamp.update(&update, now).is_success());
    let off = command(&chain.guest, &chain, Permissions::SWITCH, now);
    assert_eq!(
        lamp.handle(now, None, &off, &proof).command,
        LampVerdict::Denied(DenyReason::StaleHeader)
    );
    let fresh_proof = chain.command_proof();
    assert_eq!(
        lamp.handle(now, None, &off, &fresh_proof).command,
        LampVerdict::Denied(DenyReason::Revoked)
    );
}

/// The lamp's whole state survives a reboot through its persisted bytes:
/// the trusted header with the proven owner, and the replay table.
#[test]
fn the_lamp_state_survives_a_reboot() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let mut lamp = lamp(&chain, 1);
    let t = now(&chain);
    let proof = chain.command_proof();
    let on = command(&chain.guest, &chain, Permissions::SWITCH, t);
    assert_eq!(
        lamp.handle(t, None, &on, &proof).command,
        LampVerdict::Allowed
    );
    assert_eq!(
        lamp.trusted().proven_owner().map(|p| p.owner),
        Some(chain.owner.public())
    );
    let trusted = TrustedState::from_bytes(&lamp.trusted().to_bytes()).unwrap();
    let replay = ReplayTable::from_bytes(&lamp.replay().to_bytes()).unwrap();
    assert_eq!(&trusted, lamp.trusted());
    assert_eq!(&replay, lamp.replay());
    let mut rebooted = Lamp::new(config(&chain), OPTIONS, trusted, replay);
    assert_eq!(
        rebooted.handle(t, None, &on, &proof).command,
        LampVerdict::Denied(DenyReason::Replayed)
    );
    // Older layouts are refused, not misread.
    let mut old = lamp.trusted().to_bytes();
    old[0] = 1;
    assert!(TrustedState::from_bytes(&old).is_err());
}

#[test]
fn commands_of_version_one_do_not_decode() {
    let chain = LedgerChain::with_granted_lamp(100);
    let on = command(&chain.guest, &chain, Permissions::SWITCH, now(&chain));
    let mut bytes = on.encode();
    assert_eq!(bytes[0], itc_spv::COMMAND_VERSION);
    assert_eq!(SignedCommand::decode(&bytes).unwrap(), on);
    bytes[0] = 1;
    assert!(SignedCommand::decode(&bytes).is_err());
}

#[test]
fn deny_reason_codes_are_stable() {
    let codes: Vec<u16> = DenyReason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(codes, (1..=15).collect::<Vec<u16>>());
    assert_eq!(DenyReason::Replayed.code(), 5);
    assert_eq!(DenyReason::CommandFromFuture.code(), 12);
    assert_eq!(DenyReason::CommandTooOld.code(), 13);
    assert_eq!(DenyReason::EmptyAction.code(), 14);
    assert_eq!(DenyReason::BelowReplayFloor.code(), 15);
}

/// Issue 12, item 3: a conflicting certified header at the lamp's height is
/// fork evidence; `handle` hands it to the application instead of dropping
/// it, and the application can build the evidence from it.
#[test]
fn a_conflicting_header_reaches_the_application_as_fork_evidence() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let mut lamp = lamp(&chain, 1);
    let genuine = chain.update_at(1).clone();
    let mut conflicting = genuine.clone();
    conflicting.header.state_root = itc_core::Hash([9; 32]);
    let keys = chain.validators.all();
    conflicting.certificate = certify(&conflicting.header, &keys);
    let t = now(&chain);
    let on = command(&chain.guest, &chain, Permissions::SWITCH, t);
    let handled = lamp.handle(t, Some(&conflicting), &on, &proof);
    assert_eq!(
        handled.update,
        Some(Verdict::Invalid(itc_spv::InvalidReason::ConflictingHeader))
    );
    // The command itself is judged against the (unchanged) trusted header.
    assert_eq!(handled.command, LampVerdict::Allowed);
    let mut genuine = genuine;
    genuine.validators = Some(chain.validators.set.clone());
    let evidence = itc_spv::detect_fork(lamp.trusted(), &genuine, &conflicting)
        .expect("both are certified at one height");
    assert!(evidence.verify().is_ok());
}
