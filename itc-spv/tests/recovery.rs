//! Issue 12: a lamp's way back after a trust period without headers, the
//! refusal of a too-old pinned header, the per-sender replay table's
//! guarantees, epoch boundaries with a changed validator set, and inclusion
//! proofs pinned to the header's transaction count.

mod common;

use common::*;
use itc_core::encoding::{Decode, Encode};
use itc_core::keys::{Keypair, PublicKey};
use itc_core::ledger::state_key;
use itc_core::merkle;
use itc_core::types::{Amount, Payload, Permissions};
use itc_spv::update::InvalidReason;
use itc_spv::{
    BootstrapError, CommandProof, Lamp, LampConfig, LampVerdict, OwnerRecovery, RecoveryError,
    ReplayCheck, ReplayTable, SignedCommand, SpvProofError, TrustedState, Verdict,
    REPLAY_SENDERS_MAX,
};
use proptest::prelude::*;

const HOUR_MS: u64 = 3_600_000;

fn config(chain: &LedgerChain) -> LampConfig {
    LampConfig {
        device: chain.lamp.public(),
        freshness_ms: 60_000,
        command_window_ms: 30_000,
    }
}

fn on(sender: &Keypair, chain: &LedgerChain, time_ms: u64) -> SignedCommand {
    SignedCommand::new_signed(
        sender,
        CHAIN,
        chain.lamp.public(),
        Permissions::SWITCH,
        time_ms,
    )
}

/// A lamp that handled one of the guest's commands at height 1, so it has
/// proven its owner; then the chain goes quiet for two trust periods (the
/// test options trust one hour) and commits one block.
fn silent_lamp() -> (LedgerChain, Lamp) {
    let mut chain = LedgerChain::with_granted_lamp(1_000);
    let mut lamp = Lamp::new(
        config(&chain),
        OPTIONS,
        chain.trusted_at(1),
        ReplayTable::new(),
    );
    let t = time_of(1) + 1;
    let proof = chain.command_proof();
    let handled = lamp.handle(t, None, &on(&chain.guest, &chain, t), &proof);
    assert_eq!(handled.command, LampVerdict::Allowed);
    assert_eq!(
        lamp.trusted().proven_owner().map(|p| p.owner),
        Some(chain.owner.public())
    );
    chain.time_offset_ms = 2 * HOUR_MS;
    chain.empty_block();
    (chain, lamp)
}

fn now(chain: &LedgerChain) -> u64 {
    chain.updates.last().unwrap().header.time_ms + 1
}

fn recovery_by(signer: &Keypair, chain: &mut LedgerChain, lamp: &Lamp) -> OwnerRecovery {
    let device = chain.lamp.public();
    let proof = chain.prove(&state_key::device(&device));
    OwnerRecovery::new_signed(
        signer,
        &device,
        lamp.trusted().header(),
        chain.latest_with_set(),
        proof,
    )
}

#[test]
fn after_a_trust_period_without_headers_the_owner_brings_the_lamp_back() {
    let (mut chain, mut lamp) = silent_lamp();
    let now = now(&chain);
    // Certificates alone no longer move it, and the application sees why.
    let latest = chain.latest_with_set();
    let proof = chain.command_proof();
    let command = on(&chain.guest, &chain, now);
    let handled = lamp.handle(now, Some(&latest), &command, &proof);
    assert_eq!(
        handled.update,
        Some(Verdict::Invalid(InvalidReason::TrustedStateExpired))
    );
    assert_eq!(
        handled.command,
        LampVerdict::Denied(itc_spv::DenyReason::UnknownHeader)
    );
    // The owner signs a recovery; it travels as bytes.
    let owner = chain.owner.clone();
    let recovery = recovery_by(&owner, &mut chain, &lamp);
    let recovery = OwnerRecovery::decode(&recovery.encode()).unwrap();
    let before = lamp.trusted().header().clone();
    assert_eq!(lamp.recover(&recovery, now), Ok(()));
    assert_eq!(lamp.trusted().header(), &latest.header);
    let proven = lamp.trusted().proven_owner().unwrap();
    assert_eq!(
        (proven.owner, proven.height),
        (owner.public(), latest.header.height)
    );
    // The guest's grant works again, at the new header.
    assert_eq!(
        lamp.handle(now, None, &command, &proof).command,
        LampVerdict::Allowed
    );
    // The same recovery cannot be used twice, nor to move the lamp back.
    assert_eq!(lamp.recover(&recovery, now), Err(RecoveryError::NotNewer));
    assert_ne!(lamp.trusted().header(), &before);
}

#[test]
fn only_the_proven_owner_can_recover_the_lamp() {
    let (mut chain, mut lamp) = silent_lamp();
    let now = now(&chain);
    for signer in [chain.guest.clone(), chain.buyer.clone()] {
        let recovery = recovery_by(&signer, &mut chain, &lamp);
        assert_eq!(
            lamp.recover(&recovery, now),
            Err(RecoveryError::BadSignature)
        );
    }
    // A signature for another trusted header (an older lamp state) fails.
    let owner = chain.owner.clone();
    let device = chain.lamp.public();
    let other_header = chain.update_at(2).header.clone();
    let recovery = OwnerRecovery::new_signed(
        &owner,
        &device,
        &other_header,
        chain.latest_with_set(),
        chain.prove(&state_key::device(&device)),
    );
    assert_eq!(
        lamp.recover(&recovery, now),
        Err(RecoveryError::BadSignature)
    );
    assert_eq!(lamp.trusted().height(), 1, "nothing changed");
}

#[test]
fn a_lamp_that_never_proved_its_owner_cannot_be_recovered() {
    let mut chain = LedgerChain::with_granted_lamp(1_000);
    let mut lamp = Lamp::new(
        config(&chain),
        OPTIONS,
        chain.trusted_at(1),
        ReplayTable::new(),
    );
    chain.time_offset_ms = 2 * HOUR_MS;
    chain.empty_block();
    let owner = chain.owner.clone();
    let recovery = recovery_by(&owner, &mut chain, &lamp);
    assert_eq!(
        lamp.recover(&recovery, now(&chain)),
        Err(RecoveryError::NoProvenOwner)
    );
}

#[test]
fn a_transfer_during_the_silence_ends_the_old_owners_power() {
    // Sold: the new header shows another owner.
    let (mut chain, mut lamp) = silent_lamp();
    let sell = chain.sell_lamp();
    chain.apply(vec![sell]);
    let owner = chain.owner.clone();
    let recovery = recovery_by(&owner, &mut chain, &lamp);
    assert_eq!(
        lamp.recover(&recovery, now(&chain)),
        Err(RecoveryError::OwnerChanged)
    );
    // Sold and given back: the same owner, but another ownership.
    let give_back = chain.return_lamp();
    chain.apply(vec![give_back]);
    let recovery = recovery_by(&owner, &mut chain, &lamp);
    assert_eq!(
        lamp.recover(&recovery, now(&chain)),
        Err(RecoveryError::OwnerChanged)
    );
}

#[test]
fn a_recovery_needs_a_certified_recent_header_with_its_set() {
    let (mut chain, mut lamp) = silent_lamp();
    let now = now(&chain);
    let owner = chain.owner.clone();
    let device = chain.lamp.public();
    let proof = chain.prove(&state_key::device(&device));
    let header = lamp.trusted().header().clone();
    let sign = |update| OwnerRecovery::new_signed(&owner, &device, &header, update, proof.clone());
    // Without its signing set.
    let mut update = chain.latest_with_set();
    update.validators = None;
    assert_eq!(
        lamp.recover(&sign(update), now),
        Err(RecoveryError::Certificate(
            InvalidReason::MissingValidatorSet
        ))
    );
    // Signed by too few validators (the owner cannot invent a header the
    // chain did not certify with this set).
    let mut update = chain.latest_with_set();
    update.certificate.signatures.truncate(1);
    assert!(matches!(
        lamp.recover(&sign(update), now),
        Err(RecoveryError::Certificate(_))
    ));
    // A header itself older than the trust period.
    let update = chain.latest_with_set();
    assert_eq!(
        lamp.recover(&sign(update.clone()), now + HOUR_MS),
        Err(RecoveryError::HeaderTooOld)
    );
    // From the future.
    assert_eq!(
        lamp.recover(&sign(update), now - 10 * 60_000),
        Err(RecoveryError::HeaderFromFuture)
    );
    assert_eq!(lamp.trusted().height(), 1);
}

#[test]
fn bootstrap_refuses_a_pinned_header_older_than_the_trust_period() {
    let chain = LedgerChain::with_granted_lamp(100);
    let header = chain.update_at(1).header.clone();
    let set = chain.validators.set.clone();
    let boot =
        |now| TrustedState::bootstrap(header.clone(), set.clone(), &header.hash(), &OPTIONS, now);
    assert!(boot(header.time_ms + OPTIONS.trust_period_ms - 1).is_ok());
    assert_eq!(
        boot(header.time_ms + OPTIONS.trust_period_ms),
        Err(BootstrapError::HeaderTooOld)
    );
    assert_eq!(
        boot(header.time_ms - OPTIONS.clock_drift_ms - 1),
        Err(BootstrapError::HeaderFromFuture)
    );
    assert!(BootstrapError::HeaderTooOld
        .to_string()
        .contains("recent header"));
}

// ---------------------------------------------------------------------------
// Epoch boundaries
// ---------------------------------------------------------------------------

/// A validator bonds stake; at the epoch boundary the set changes; the first
/// header signed by the new set carries it, and the lamp follows adjacent
/// and skipping updates across the boundary.
#[test]
fn the_lamp_follows_the_chain_across_an_epoch_with_a_changed_set() {
    let mut chain = LedgerChain::with_epoch(4);
    let register = chain.register_lamp();
    chain.apply(vec![register]);
    let bonder = chain.validators.keys[3].clone();
    let bond = chain.tx(&bonder, Payload::Bond { amount: Amount(50) });
    chain.apply(vec![bond]);
    for _ in 3..=6 {
        chain.empty_block();
    }
    let old_set = chain.validators.set.clone();
    let boundary = chain.update_at(5).clone();
    let new_set = boundary.validators.clone().expect("the new set travels");
    assert_ne!(new_set.hash(), old_set.hash());
    assert_eq!(new_set.weight_of(&bonder.public()), Some(60));
    assert_eq!(
        chain.update_at(4).header.next_validator_set_hash,
        new_set.hash()
    );
    assert!(chain.update_at(6).validators.is_none(), "only where needed");

    // Adjacent steps.
    let mut trusted = chain.trusted_at(1);
    for height in 2..=6 {
        let update = chain.update_at(height);
        let verdict = trusted.update(update, &OPTIONS, update.header.time_ms + 1);
        assert_eq!(verdict, Verdict::Success, "height {height}");
    }
    assert_eq!(trusted.validators(), &new_set);
    // Without the set, the first header of the epoch cannot be checked.
    let mut trusted = chain.trusted_at(4);
    let mut bare = boundary.clone();
    bare.validators = None;
    assert_eq!(
        trusted.update(&bare, &OPTIONS, bare.header.time_ms + 1),
        Verdict::Invalid(InvalidReason::MissingValidatorSet)
    );
    // One skip from height 1 to 6 with the set included.
    let mut trusted = chain.trusted_at(1);
    let mut skip = chain.update_at(6).clone();
    skip.validators = Some(new_set.clone());
    assert_eq!(
        trusted.update(&skip, &OPTIONS, skip.header.time_ms + 1),
        Verdict::Success
    );
    // The owner's command at the new header is allowed.
    let owner = chain.owner.clone();
    let proof: CommandProof = chain.command_proof_for(&owner.public());
    let mut lamp = Lamp::new(config(&chain), OPTIONS, trusted, ReplayTable::new());
    let t = now(&chain);
    assert_eq!(
        lamp.handle(t, None, &on(&owner, &chain, t), &proof).command,
        LampVerdict::Allowed
    );
}

// ---------------------------------------------------------------------------
// Transaction inclusion pinned to the header's count
// ---------------------------------------------------------------------------

#[test]
fn an_inclusion_proof_must_be_for_the_headers_transaction_count() {
    let mut chain = LedgerChain::new();
    let register = chain.register_lamp();
    let grant = chain.grant(Permissions::SWITCH, 100);
    let revoke = chain.revoke();
    let txs = vec![register, grant, revoke];
    let update = chain.apply(txs.clone());
    assert_eq!(update.header.tx_count, 3);
    let leaves: Vec<_> = txs.iter().map(|tx| tx.hash()).collect();
    let proof = merkle::prove(&leaves, 0).unwrap();
    assert_eq!(
        itc_spv::verify_transaction(&update.header, &txs[0], &proof),
        Ok(())
    );
    // Leaf 0 of a 3-leaf tree and of a 4-leaf tree share a path shape: a
    // proof claiming another size is refused before the path is walked.
    let mut resized = proof.clone();
    resized.tree_size = 4;
    assert_eq!(
        itc_spv::verify_transaction(&update.header, &txs[0], &resized),
        Err(SpvProofError::TreeSizeMismatch)
    );
}

// ---------------------------------------------------------------------------
// The replay table
// ---------------------------------------------------------------------------

fn sender(i: u8) -> PublicKey {
    PublicKey([i; 32])
}

#[test]
fn a_full_table_evicts_the_oldest_and_never_accepts_its_replays() {
    let mut table = ReplayTable::new();
    for i in 0..REPLAY_SENDERS_MAX as u8 {
        table.accept(&sender(i), 1_000 + u64::from(i));
    }
    assert_eq!(table.len(), REPLAY_SENDERS_MAX);
    assert_eq!(table.floor_ms(), 0);
    // A new sender takes the slot of sender 0 (the oldest time, 1000).
    table.accept(&sender(200), 5_000);
    assert_eq!(table.len(), REPLAY_SENDERS_MAX);
    assert_eq!(table.last(&sender(0)), None);
    assert_eq!(table.floor_ms(), 1_000);
    // Sender 0's old command is still refused; its new one is fine.
    assert_eq!(table.check(&sender(0), 1_000), ReplayCheck::BelowFloor);
    assert_eq!(table.check(&sender(0), 1_001), ReplayCheck::Fresh);
    // The rest keep their own history.
    assert_eq!(table.check(&sender(5), 1_005), ReplayCheck::Replayed);
    assert_eq!(table.check(&sender(5), 1_006), ReplayCheck::Fresh);
    // The table's bytes round-trip and stay within their bound.
    let bytes = table.to_bytes();
    assert!(bytes.len() <= itc_spv::replay::REPLAY_TABLE_BYTES_MAX);
    assert_eq!(ReplayTable::from_bytes(&bytes).unwrap(), table);
}

#[test]
fn corrupted_replay_table_bytes_are_refused() {
    let mut table = ReplayTable::new();
    table.accept(&sender(1), 10);
    table.accept(&sender(2), 20);
    let bytes = table.to_bytes();
    let mut version = bytes.clone();
    version[0] = 9;
    assert!(ReplayTable::from_bytes(&version).is_err());
    let mut too_many = bytes.clone();
    too_many[9..13].copy_from_slice(&(REPLAY_SENDERS_MAX as u32 + 1).to_le_bytes());
    assert!(ReplayTable::from_bytes(&too_many).is_err());
    let mut twice = bytes.clone();
    twice[13 + 40..13 + 72].copy_from_slice(&[1; 32]);
    assert!(ReplayTable::from_bytes(&twice).is_err());
    assert!(ReplayTable::from_bytes(&bytes[..bytes.len() - 1]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever senders come and go (more than the table holds), a time
    /// at or below one already accepted from that sender is never fresh,
    /// and a time above everything ever accepted always is.
    #[test]
    fn the_table_never_accepts_a_replay(
        ops in prop::collection::vec((0u8..48, 0u64..10_000), 1..400),
    ) {
        let mut table = ReplayTable::new();
        let mut accepted: std::collections::HashMap<u8, u64> = Default::default();
        let mut highest = 0u64;
        for (who, time) in ops {
            let key = sender(who);
            let check = table.check(&key, time);
            if let Some(last) = accepted.get(&who) {
                if time <= *last {
                    prop_assert_ne!(check, ReplayCheck::Fresh, "sender {} replayed {}", who, time);
                }
            }
            if check == ReplayCheck::Fresh {
                table.accept(&key, time);
                let entry = accepted.entry(who).or_default();
                *entry = (*entry).max(time);
                highest = highest.max(time);
            }
            prop_assert!(table.len() <= REPLAY_SENDERS_MAX);
            prop_assert_eq!(table.check(&key, highest + 1), ReplayCheck::Fresh);
        }
        prop_assert_eq!(ReplayTable::from_bytes(&table.to_bytes()).unwrap(), table);
    }

    #[test]
    fn replay_table_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = ReplayTable::from_bytes(&bytes);
    }
}
