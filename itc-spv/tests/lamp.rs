//! The smart-lighting scenario from the lamp's side: one call decides.

mod common;

use common::*;
use itc_core::keys::Keypair;
use itc_core::types::{ChainId, Permissions};
use itc_spv::{
    check_command, CommandProof, DenyReason, Lamp, LampConfig, LampVerdict, SignedCommand,
    TrustedState,
};

const FRESHNESS_MS: u64 = 60_000;

fn config(chain: &LedgerChain) -> LampConfig {
    LampConfig {
        device: chain.lamp.public(),
        freshness_ms: FRESHNESS_MS,
    }
}

fn command(
    sender: &Keypair,
    chain: &LedgerChain,
    action: Permissions,
    counter: u64,
) -> SignedCommand {
    SignedCommand::new_signed(sender, CHAIN, chain.lamp.public(), action, counter)
}

/// The lamp's check against the latest header, `last_counter` 0, at the
/// latest header's time.
fn check(chain: &LedgerChain, command: &SignedCommand, proof: &CommandProof) -> LampVerdict {
    let height = chain.updates.len() as u64;
    check_at(chain, &chain.trusted_at(height), 0, command, proof)
}

fn check_at(
    chain: &LedgerChain,
    trusted: &TrustedState,
    last_counter: u64,
    command: &SignedCommand,
    proof: &CommandProof,
) -> LampVerdict {
    let now = trusted.header().time_ms + 1;
    check_command(&config(chain), trusted, last_counter, now, command, proof)
}

#[test]
fn granted_guest_switches_the_lamp() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let command = command(&chain.guest, &chain, Permissions::SWITCH, 1);
    assert_eq!(
        check(&chain, &command, &proof),
        LampVerdict::Allowed { new_counter: 1 }
    );
}

#[test]
fn owner_needs_no_grant() {
    let mut chain = LedgerChain::new();
    let register = chain.register_lamp();
    chain.apply(vec![register]);
    let owner = chain.owner.public();
    let proof = chain.command_proof_for(&owner);
    assert!(proof.grant.value.is_none());
    let command = command(&chain.owner, &chain, Permissions(u32::MAX), 7);
    assert_eq!(
        check(&chain, &command, &proof),
        LampVerdict::Allowed { new_counter: 7 }
    );
}

#[test]
fn replayed_or_old_counter_is_refused() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let trusted = chain.trusted_at(1);
    for counter in [5, 4, 0] {
        let command = command(&chain.guest, &chain, Permissions::SWITCH, counter);
        assert_eq!(
            check_at(&chain, &trusted, 5, &command, &proof),
            LampVerdict::Denied(DenyReason::ReplayedCounter)
        );
    }
    let command = command(&chain.guest, &chain, Permissions::SWITCH, 6);
    assert!(matches!(
        check_at(&chain, &trusted, 5, &command, &proof),
        LampVerdict::Allowed { new_counter: 6 }
    ));
}

#[test]
fn revoked_grant_is_refused_with_an_absence_proof() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let revoke = chain.revoke();
    chain.apply(vec![revoke]);
    let proof = chain.command_proof();
    assert!(proof.grant.value.is_none());
    let command = command(&chain.guest, &chain, Permissions::SWITCH, 1);
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
    let command = command(&chain.guest, &chain, Permissions::SWITCH, 1);
    assert_eq!(
        check_at(&chain, &lamp_state, 0, &command, &old_proof),
        LampVerdict::Denied(DenyReason::StaleHeader)
    );
}

#[test]
fn expired_grant_is_refused() {
    let mut chain = LedgerChain::with_granted_lamp(3);
    chain.empty_block();
    let command = command(&chain.guest, &chain, Permissions::SWITCH, 1);
    let proof = chain.command_proof();
    assert!(matches!(
        check(&chain, &command, &proof),
        LampVerdict::Allowed { .. }
    ));
    chain.empty_block();
    let proof = chain.command_proof();
    assert_eq!(
        check(&chain, &command, &proof),
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
    let command = command(&chain.guest, &chain, Permissions::SWITCH, 1);
    assert_eq!(
        check(&chain, &command, &proof),
        LampVerdict::Denied(DenyReason::NotGranted)
    );
}

#[test]
fn unregistered_device_grants_nothing() {
    let mut chain = LedgerChain::new();
    chain.empty_block();
    let proof = chain.command_proof();
    let command = command(&chain.guest, &chain, Permissions::SWITCH, 1);
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
        let command = command(&chain.guest, &chain, action, 1);
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
    let mut tampered = command(&chain.guest, &chain, Permissions::SWITCH, 1);
    tampered.counter = 2;
    assert_eq!(
        check(&chain, &tampered, &proof),
        LampVerdict::Denied(DenyReason::BadSignature)
    );
    // Signed by the buyer but claiming to be the guest.
    let mut impostor = command(&chain.buyer, &chain, Permissions::SWITCH, 1);
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
        1,
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
        1,
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
    let command = command(&chain.buyer, &chain, Permissions::SWITCH, 1);
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
    let command = command(&chain.guest, &chain, Permissions::CONFIGURE, 1);
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
    let command = command(&chain.guest, &chain, Permissions::SWITCH, 1);
    let fresh_until = trusted.header().time_ms + FRESHNESS_MS;
    assert!(matches!(
        check_command(&config(&chain), &trusted, 0, fresh_until, &command, &proof),
        LampVerdict::Allowed { .. }
    ));
    assert_eq!(
        check_command(
            &config(&chain),
            &trusted,
            0,
            fresh_until + 1,
            &command,
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
    let command = command(&chain.guest, &chain, Permissions::SWITCH, 1);
    let now = update.header.time_ms + 1;
    assert_eq!(
        check_at(&chain, &chain.trusted_at(1), 0, &command, &proof),
        LampVerdict::Denied(DenyReason::UnknownHeader)
    );
    let mut lamp = Lamp::new(config(&chain), OPTIONS, chain.trusted_at(1), 0);
    assert_eq!(
        lamp.handle(now, None, &command, &proof),
        LampVerdict::Denied(DenyReason::UnknownHeader)
    );
    assert_eq!(
        lamp.handle(now, Some(&update), &command, &proof),
        LampVerdict::Allowed { new_counter: 1 }
    );
    assert_eq!(lamp.trusted().height(), 2);
    assert_eq!(lamp.last_counter(), 1);
    assert_eq!(
        lamp.handle(now, Some(&update), &command, &proof),
        LampVerdict::Denied(DenyReason::ReplayedCounter)
    );
}

#[test]
fn the_whole_scenario_through_one_lamp() {
    // Register and grant, switch, revoke, and the old proof no longer works.
    let mut chain = LedgerChain::with_granted_lamp(100);
    let mut lamp = Lamp::new(config(&chain), OPTIONS, chain.trusted_at(1), 0);
    let proof = chain.command_proof();
    let now = chain.update_at(1).header.time_ms + 1;
    let on = command(&chain.guest, &chain, Permissions::SWITCH, 1);
    assert!(matches!(
        lamp.handle(now, None, &on, &proof),
        LampVerdict::Allowed { .. }
    ));

    let revoke = chain.revoke();
    let update = chain.apply(vec![revoke]);
    let now = update.header.time_ms + 1;
    assert!(lamp.update(&update, now).is_success());
    let off = command(&chain.guest, &chain, Permissions::SWITCH, 2);
    assert_eq!(
        lamp.handle(now, None, &off, &proof),
        LampVerdict::Denied(DenyReason::StaleHeader)
    );
    let fresh_proof = chain.command_proof();
    assert_eq!(
        lamp.handle(now, None, &off, &fresh_proof),
        LampVerdict::Denied(DenyReason::Revoked)
    );
}

#[test]
fn deny_reason_codes_are_distinct() {
    use DenyReason::*;
    let all = [
        WrongChain,
        WrongDevice,
        StaleHeader,
        UnknownHeader,
        ReplayedCounter,
        BadSignature,
        BadProof,
        NotGranted,
        Revoked,
        Expired,
        InsufficientPermission,
    ];
    let mut codes: Vec<u16> = all.iter().map(|r| r.code()).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
}
