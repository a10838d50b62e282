//! Adversarial review of itc-spv: each test pins down an attack on the light
//! client (or a boundary an attack would probe) and the answer it must get.

mod common;

use common::*;
use itc_core::encoding::{Decode, Encode};
use itc_core::hash::Hash;
use itc_core::keys::Keypair;
use itc_core::types::{CommitCertificate, Permissions};
use itc_spv::{
    check_command, detect_fork, DenyReason, ForkError, ForkEvidence, HeaderUpdate, Lamp,
    LampConfig, LampVerdict, ReplayTable, SignedCommand,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

const FRESHNESS_MS: u64 = 60_000;

/// Records the largest single allocation made on each thread, so a test can
/// see what a decoder reserves while other tests run in parallel.
struct LargestOnThisThread;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; the thread-local is
// const-initialized and needs no allocation.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for LargestOnThisThread {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(layout.size())));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestOnThisThread = LargestOnThisThread;

/// The largest single allocation `f` makes on this thread.
fn largest_allocation_during(f: impl FnOnce()) -> usize {
    LARGEST.with(|largest| largest.set(0));
    f();
    LARGEST.with(Cell::get)
}

fn config(chain: &LedgerChain) -> LampConfig {
    LampConfig {
        device: chain.lamp.public(),
        freshness_ms: FRESHNESS_MS,
        command_window_ms: WINDOW_MS,
    }
}

const WINDOW_MS: u64 = 30_000;

fn command(sender: &Keypair, chain: &LedgerChain, time_ms: u64) -> SignedCommand {
    SignedCommand::new_signed(
        sender,
        CHAIN,
        chain.lamp.public(),
        Permissions::SWITCH,
        time_ms,
    )
}

fn new_lamp(chain: &LedgerChain, config: LampConfig, options: itc_spv::TrustOptions) -> Lamp {
    Lamp::new(config, options, chain.trusted_at(1), ReplayTable::new())
}

// ---------------------------------------------------------------------------
// Fork evidence
// ---------------------------------------------------------------------------

/// PBFT lets an honest replica send a commit for block A in view v (A then
/// fails to commit everywhere) and, after a view change whose new-view
/// certificate does not carry A, a commit for block B at the same height in
/// view v + 1 (itc-pbft's replica signs a new commit whenever its last one is
/// from an older view). Two commits at one height in *different* views are
/// therefore not equivocation, and evidence must not name their signers.
#[test]
fn commits_in_different_views_name_no_double_signer() {
    let v = Validators::four(1);
    let chain = synthetic_chain(3, |_| &v);
    let trusted = trust(&chain[0]);
    let mut later_view = chain[2].clone();
    later_view.header.state_root = Hash([9; 32]);
    later_view.header.view = 1;
    later_view.certificate = certify(&later_view.header, &v.all());
    assert_eq!(later_view.certificate.view, 1);
    assert_eq!(chain[2].certificate.view, 0);

    let evidence = detect_fork(&trusted, &chain[2], &later_view).unwrap();
    assert!(
        evidence.double_signers.is_empty(),
        "validators blamed for commits in different views: {:?}",
        evidence.double_signers
    );

    // Evidence that names them anyway must not verify.
    let mut blaming = evidence.clone();
    let mut everyone: Vec<_> = v.keys.iter().map(Keypair::public).collect();
    everyone.sort();
    blaming.double_signers = everyone;
    assert!(blaming.verify().is_err());
}

/// Same-view equivocation is still named and verifies (the fix must not
/// lose the real case).
#[test]
fn commits_in_one_view_still_name_the_double_signers() {
    let v = Validators::four(1);
    let chain = synthetic_chain(3, |_| &v);
    let trusted = trust(&chain[0]);
    let mut conflicting = chain[2].clone();
    conflicting.header.state_root = Hash([9; 32]);
    conflicting.certificate = certify(&conflicting.header, &v.all());
    let evidence = detect_fork(&trusted, &chain[2], &conflicting).unwrap();
    assert_eq!(evidence.double_signers.len(), 4);
    assert_eq!(evidence.verify(), Ok(()));
}

/// `ForkEvidence::verify` checks only the named signers' signatures, so
/// evidence naming nobody would "verify" for any two made-up headers with
/// empty certificates: a forged fork anyone can produce.
#[test]
fn evidence_naming_nobody_does_not_verify() {
    let v = Validators::four(1);
    let first = bare_header(5, Hash::ZERO, &v.set, &v.set);
    let mut second = first.clone();
    second.state_root = Hash([7; 32]);
    let unsigned = |header: &itc_core::types::BlockHeader| CommitCertificate {
        chain_id: CHAIN,
        height: header.height,
        view: 0,
        block_hash: header.hash(),
        signatures: Vec::new(),
    };
    let forged = ForkEvidence {
        first_certificate: unsigned(&first),
        first_header: first,
        second_certificate: unsigned(&second),
        second_header: second,
        double_signers: Vec::new(),
    };
    assert_eq!(forged.verify(), Err(ForkError::NoDoubleSigner));
}

// ---------------------------------------------------------------------------
// The lamp's replay state
// ---------------------------------------------------------------------------

/// Before issue 12 the lamp kept one counter for every sender. A guest with
/// a valid (even short-lived) grant who sent a time far ahead made the
/// lamp refuse everyone else's commands. Now a time outside the window is
/// refused outright, and replay state is per sender: even the furthest time
/// the window allows does not touch the owner's.
#[test]
fn a_guest_cannot_burn_anyone_elses_replay_state() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let owner = chain.owner.clone();
    let guest_proof = chain.command_proof();
    let owner_proof = chain.command_proof_for(&owner.public());
    let now = time_of(1) + 1;
    let mut lamp = new_lamp(&chain, config(&chain), OPTIONS);

    let burn = command(&chain.guest, &chain, u64::MAX);
    assert_eq!(
        lamp.handle(now, None, &burn, &guest_proof).command,
        LampVerdict::Denied(DenyReason::CommandFromFuture)
    );
    assert!(lamp.replay().is_empty());
    let edge = command(&chain.guest, &chain, now + WINDOW_MS);
    assert_eq!(
        lamp.handle(now, None, &edge, &guest_proof).command,
        LampVerdict::Allowed
    );

    let on = command(&owner, &chain, now);
    assert_eq!(
        lamp.handle(now, None, &on, &owner_proof).command,
        LampVerdict::Allowed
    );
}

/// The codes of the reasons that existed before issue 12 did not move.
#[test]
fn earlier_reason_codes_keep_their_numbers() {
    assert_eq!(DenyReason::CommandFromFuture.code(), 12);
    assert_eq!(DenyReason::InsufficientPermission.code(), 11);
    assert_eq!(DenyReason::Replayed.code(), 5);
}

#[test]
fn a_time_up_to_the_window_ahead_is_accepted_once() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let now = time_of(1) + 1;
    let limit = now + WINDOW_MS;
    let mut lamp = new_lamp(&chain, config(&chain), OPTIONS);
    assert_eq!(
        lamp.handle(now, None, &command(&chain.guest, &chain, limit + 1), &proof)
            .command,
        LampVerdict::Denied(DenyReason::CommandFromFuture)
    );
    assert_eq!(
        lamp.handle(now, None, &command(&chain.guest, &chain, limit), &proof)
            .command,
        LampVerdict::Allowed
    );
    // An equal time is a replay, even at the limit.
    assert_eq!(
        lamp.handle(now, None, &command(&chain.guest, &chain, limit), &proof)
            .command,
        LampVerdict::Denied(DenyReason::Replayed)
    );
}

// ---------------------------------------------------------------------------
// Boundaries an attacker would probe (these hold; kept as regression guards)
// ---------------------------------------------------------------------------

/// `expiry_height` is the first height at which the grant no longer holds:
/// a grant expiring at `h + 1` works at trusted height `h`, not at `h + 1`.
#[test]
fn grant_expiry_is_exclusive_at_the_trusted_height() {
    let mut chain = LedgerChain::with_granted_lamp(2);
    let proof = chain.command_proof();
    let trusted = chain.trusted_at(1);
    let now = time_of(1) + 1;
    let on = command(&chain.guest, &chain, now);
    let empty = ReplayTable::new();
    assert_eq!(
        check_command(&config(&chain), &trusted, &empty, now, &on, &proof),
        LampVerdict::Allowed
    );
    chain.empty_block();
    let proof = chain.command_proof();
    let trusted = chain.trusted_at(2);
    let now = time_of(2) + 1;
    assert_eq!(
        check_command(&config(&chain), &trusted, &empty, now, &on, &proof),
        LampVerdict::Denied(DenyReason::Expired)
    );
}

/// A proof that names the trusted height but another header's hash (a
/// sibling fork, or a header the lamp never verified) is refused.
#[test]
fn proof_naming_the_trusted_height_with_another_hash_is_refused() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let mut proof = chain.command_proof();
    proof.header_hash = Hash([1; 32]);
    let now = time_of(1) + 1;
    let on = command(&chain.guest, &chain, now);
    assert_eq!(
        check_command(
            &config(&chain),
            &chain.trusted_at(1),
            &ReplayTable::new(),
            now,
            &on,
            &proof
        ),
        LampVerdict::Denied(DenyReason::UnknownHeader)
    );
}

/// Skipping counts the trust check in the *trusted* set's weights and the
/// quorum in the *new* set's weights, even when both sets hold the same keys.
#[test]
fn skipping_weighs_each_check_in_its_own_set() {
    let old = Validators::new(&[(1, 40), (2, 30), (3, 20), (4, 10)]);
    let new = Validators::new(&[(1, 10), (2, 20), (3, 30), (4, 40)]);
    let chain = synthetic_chain(4, |h| if h < 3 { &old } else { &new });
    let trusted = trust(&chain[0]);
    let verdict = |signers: &[usize]| {
        let mut update = chain[3].clone();
        let keys: Vec<&Keypair> = signers.iter().map(|&i| &old.keys[i]).collect();
        update.certificate = certify(&update.header, &keys);
        itc_spv::verify_update(&trusted, &update, &OPTIONS, time_of(4) + 1)
    };
    // 30 of the trusted 100 (not above a third), 70 of the new 100.
    assert_eq!(verdict(&[2, 3]), itc_spv::Verdict::NotEnoughTrust);
    // 50 of the trusted, 50 of the new (not above two thirds).
    assert_eq!(
        verdict(&[0, 3]),
        itc_spv::Verdict::Invalid(itc_spv::InvalidReason::NotEnoughSignatures)
    );
    // 60 of the trusted, 90 of the new.
    assert_eq!(verdict(&[1, 2, 3]), itc_spv::Verdict::Success);
}

/// A skipping update carrying a set other than the one its header names is
/// refused before any signature counts, even when that set is the trusted
/// one and every trusted validator signed.
#[test]
fn skipping_update_with_a_substituted_set_is_refused() {
    let old = Validators::four(1);
    let new = Validators::four(11);
    let chain = synthetic_chain(4, |h| if h < 3 { &old } else { &new });
    let trusted = trust(&chain[0]);
    let mut update = chain[3].clone();
    update.validators = Some(old.set.clone());
    update.certificate = certify(&update.header, &old.all());
    assert_eq!(
        itc_spv::verify_update(&trusted, &update, &OPTIONS, time_of(4) + 1),
        itc_spv::Verdict::Invalid(itc_spv::InvalidReason::ValidatorSetMismatch)
    );
    update.validators = None;
    assert_eq!(
        itc_spv::verify_update(&trusted, &update, &OPTIONS, time_of(4) + 1),
        itc_spv::Verdict::Invalid(itc_spv::InvalidReason::MissingValidatorSet)
    );
}

/// Extreme times and options saturate instead of overflowing (a debug build
/// would panic on overflow).
#[test]
fn extreme_times_do_not_overflow() {
    let v = Validators::four(1);
    let chain = synthetic_chain(2, |_| &v);
    let mut trusted_update = chain[0].clone();
    trusted_update.header.time_ms = u64::MAX;
    let trusted = trust(&trusted_update);
    let options = itc_spv::TrustOptions {
        trust_period_ms: u64::MAX,
        clock_drift_ms: u64::MAX,
    };
    // The next header is older than a trusted header stamped u64::MAX.
    let verdict = itc_spv::verify_update(&trusted, &chain[1], &options, u64::MAX);
    assert!(!verdict.is_success(), "{verdict:?}");

    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let lamp_config = LampConfig {
        device: chain.lamp.public(),
        freshness_ms: u64::MAX,
        command_window_ms: u64::MAX,
    };
    let mut lamp = new_lamp(&chain, lamp_config, options);
    let on = command(&chain.guest, &chain, u64::MAX);
    assert_eq!(
        lamp.handle(u64::MAX, None, &on, &proof).command,
        LampVerdict::Allowed
    );
    assert_eq!(
        lamp.handle(u64::MAX, None, &on, &proof).command,
        LampVerdict::Denied(DenyReason::Replayed)
    );
    let zero = command(&chain.guest, &chain, 0);
    assert_eq!(
        lamp.handle(0, None, &zero, &proof).command,
        LampVerdict::Denied(DenyReason::Replayed)
    );
}

// ---------------------------------------------------------------------------
// Memory on hostile input (itc-core)
// ---------------------------------------------------------------------------

/// A lamp decodes a `HeaderUpdate` from the air before it can verify
/// anything. This ~500-byte packet claims 256 certificate signatures;
/// `itc_core::encoding::Reader::read_vec` reserves
/// `len.min(self.remaining())` *elements* (bounded by the remaining *bytes*,
/// not by how many elements they can hold), so it reserves 256 x 96 bytes =
/// 24 KiB at once: more than the device's 16 KiB heap budget, from a packet
/// anyone in radio range can send, before any signature is checked. On a
/// firmware heap that is an allocation failure, i.e. a crash. The same holds
/// for validator sets (256 x 40 bytes) and every other `read_vec` caller.
///
/// Fixed in itc-core: the reservation is now bounded in bytes by the
/// remaining input.
#[test]
fn a_short_update_does_not_reserve_more_than_its_own_size() {
    let v = Validators::four(1);
    let header = bare_header(2, Hash::ZERO, &v.set, &v.set);
    let mut bytes = header.encode();
    CHAIN.encode_to(&mut bytes);
    header.height.encode_to(&mut bytes);
    0u64.encode_to(&mut bytes);
    header.hash().encode_to(&mut bytes);
    bytes.extend_from_slice(&256u32.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 256]);
    let largest = largest_allocation_during(|| {
        assert!(HeaderUpdate::decode(&bytes).is_err());
    });
    assert!(
        largest <= bytes.len(),
        "decoding {} bytes reserved {largest} bytes at once",
        bytes.len()
    );
}

// ---------------------------------------------------------------------------
// The device's clock going backwards
// ---------------------------------------------------------------------------

/// The freshness bound only checks that the trusted header is not too *old*
/// (`header.time_ms + freshness_ms < now_ms`). A lamp whose clock falls
/// behind its trusted header (no RTC battery after a power cut, a spoofed
/// time beacon) then never finds its header stale, and cannot adopt any
/// newer header either (every one looks "from the future"): it would obey a
/// revoked grant for good. A trusted header further ahead of `now_ms` than
/// the freshness bound proves the clock wrong, so the lamp refuses.
#[test]
fn a_clock_behind_the_trusted_header_does_not_keep_a_revoked_grant_alive() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let proof = chain.command_proof();
    let mut lamp = new_lamp(&chain, config(&chain), OPTIONS);
    let revoke = chain.revoke();
    let revocation = chain.apply(vec![revoke]);

    let reset_clock = 0;
    assert!(!lamp.update(&revocation, reset_clock).is_success());
    let on = command(&chain.guest, &chain, reset_clock);
    assert_eq!(
        lamp.handle(reset_clock, None, &on, &proof).command,
        LampVerdict::Denied(DenyReason::StaleHeader)
    );
    // Just inside the bound (either side) the lamp still works.
    let header_time = time_of(1);
    let at = |now: u64| {
        check_command(
            &config(&chain),
            &chain.trusted_at(1),
            &ReplayTable::new(),
            now,
            &command(&chain.guest, &chain, now),
            &proof,
        )
    };
    assert_eq!(at(header_time - FRESHNESS_MS), LampVerdict::Allowed);
    assert_eq!(
        at(header_time - FRESHNESS_MS - 1),
        LampVerdict::Denied(DenyReason::StaleHeader)
    );
}
