//! The lamp protocol of issue 12 through the bindings' Rust API (what
//! Python, Kotlin and Swift call): per-sender replay state, the command
//! window, empty actions, grants bound to the ownership, the update's
//! verdict next to the command's, bootstrap from a too-old header, owner
//! recovery after a trust period of silence, and a lamp crossing an epoch
//! boundary with a changed validator set.

use itc_ffi::api::dev_chain::{DevChain, FundedAccount};
use itc_ffi::api::keys::Keypair;
use itc_ffi::api::light_client::{
    default_command_window_ms, default_trust_options, sign_command, sign_owner_recovery,
    DenyReason, Handled, Lamp, LampVerdict, LightClient, UpdateVerdict,
};
use itc_ffi::api::transaction::{pairing_signature, Payload, Transaction};
use itc_ffi::ItcError;
use std::sync::Arc;

const CHAIN: u32 = 7;
const SWITCH: u32 = 2;
const FRESHNESS_MS: u64 = 60_000;
const WINDOW_MS: u64 = 30_000;
const GENESIS_MS: u64 = 1_000_000;

fn key(byte: u8) -> Arc<Keypair> {
    Keypair::from_seed(vec![byte; 32]).unwrap()
}

struct World {
    owner: Arc<Keypair>,
    lamp_key: Arc<Keypair>,
    guest: Arc<Keypair>,
    buyer: Arc<Keypair>,
    chain: Arc<DevChain>,
    client: Arc<LightClient>,
    now: u64,
}

impl World {
    fn new() -> World {
        let (owner, buyer) = (key(1), key(4));
        let funded = |k: &Arc<Keypair>| FundedAccount {
            public_key: k.public_key(),
            balance: 1_000_000,
        };
        let chain =
            DevChain::new(CHAIN, 4, vec![funded(&owner), funded(&buyer)], GENESIS_MS).unwrap();
        let client = LightClient::bootstrap(
            chain.header(0).unwrap(),
            chain.validator_set(0).unwrap(),
            chain.header_hash(0).unwrap(),
            default_trust_options(),
            GENESIS_MS + 10,
        )
        .unwrap();
        World {
            owner,
            lamp_key: key(2),
            guest: key(3),
            buyer,
            chain,
            client,
            now: GENESIS_MS,
        }
    }

    fn tick(&mut self, ms: u64) -> u64 {
        self.now += ms;
        self.now
    }

    fn lamp_pk(&self) -> Vec<u8> {
        self.lamp_key.public_key()
    }

    fn commit_from(&mut self, sender: &Arc<Keypair>, payloads: Vec<Payload>) -> u64 {
        let nonce = self.chain.nonce(sender.public_key()).unwrap();
        let txs = payloads
            .into_iter()
            .enumerate()
            .map(|(i, p)| Transaction::new_signed(sender.clone(), CHAIN, nonce + i as u64, 1, p))
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let time = self.tick(1_000);
        self.chain.commit_block(txs, time).unwrap()
    }

    fn register_and_grant(&mut self) -> u64 {
        let pairing =
            pairing_signature(self.lamp_key.clone(), CHAIN, self.owner.public_key(), 1).unwrap();
        let payloads = vec![
            Payload::RegisterDevice {
                device: self.lamp_pk(),
                security_level: 1,
                metadata_hash: vec![0; 32],
                pairing_signature: pairing,
            },
            Payload::GrantAccess {
                device: self.lamp_pk(),
                grantee: self.guest.public_key(),
                permissions: SWITCH,
                expiry_height: 1_000,
            },
        ];
        let owner = self.owner.clone();
        self.commit_from(&owner, payloads)
    }

    /// A lamp following the chain to its latest header.
    fn lamp(&mut self) -> Arc<Lamp> {
        let lamp = Lamp::new(
            self.lamp_pk(),
            FRESHNESS_MS,
            WINDOW_MS,
            self.client.clone(),
            vec![],
        )
        .unwrap();
        let height = self.chain.height();
        if height > 0 {
            let update = self.chain.header_update(height).unwrap();
            let now = self.tick(10);
            assert_eq!(lamp.update(update, now).unwrap(), UpdateVerdict::Success);
        }
        lamp
    }

    fn command(&self, sender: &Arc<Keypair>, action: u32, time_ms: u64) -> Vec<u8> {
        sign_command(sender.clone(), CHAIN, self.lamp_pk(), action, time_ms).unwrap()
    }

    fn proof(&self, sender: &Arc<Keypair>) -> Vec<u8> {
        self.chain
            .command_proof(self.lamp_pk(), sender.public_key())
            .unwrap()
    }
}

fn command_verdict(handled: Handled) -> LampVerdict {
    assert_eq!(handled.update, None, "no update came along");
    handled.command
}

fn denied(verdict: &LampVerdict) -> Option<(DenyReason, u16)> {
    match verdict {
        LampVerdict::Denied { reason, code, .. } => Some((*reason, *code)),
        LampVerdict::Allowed => None,
    }
}

#[test]
fn each_sender_has_its_own_replay_state_and_a_guest_ahead_does_not_lock_the_owner_out() {
    let mut world = World::new();
    world.register_and_grant();
    let lamp = world.lamp();
    let now = world.tick(100);
    let (guest, owner) = (world.guest.clone(), world.owner.clone());

    // The guest's clock runs as far ahead as the window allows.
    let ahead = world.command(&guest, SWITCH, now + WINDOW_MS);
    let verdict = command_verdict(lamp.handle(now, None, ahead, world.proof(&guest)).unwrap());
    assert_eq!(verdict, LampVerdict::Allowed);
    // Further ahead than the window is refused.
    let too_far = world.command(&guest, SWITCH, now + WINDOW_MS + 10_000);
    let verdict = command_verdict(
        lamp.handle(now, None, too_far, world.proof(&guest))
            .unwrap(),
    );
    assert_eq!(denied(&verdict), Some((DenyReason::CommandFromFuture, 12)));

    // The owner's honest clock is behind the guest's time: still allowed.
    let owner_command = world.command(&owner, SWITCH, now);
    let verdict = command_verdict(
        lamp.handle(now, None, owner_command.clone(), world.proof(&owner))
            .unwrap(),
    );
    assert_eq!(verdict, LampVerdict::Allowed);
    assert_eq!(lamp.last_time_ms(owner.public_key()).unwrap(), Some(now));
    assert_eq!(
        lamp.last_time_ms(guest.public_key()).unwrap(),
        Some(now + WINDOW_MS)
    );

    // A replay of the owner's command is refused, and so is the guest's
    // command with a time below its own last one.
    let verdict = command_verdict(
        lamp.handle(now + 1, None, owner_command, world.proof(&owner))
            .unwrap(),
    );
    assert_eq!(denied(&verdict), Some((DenyReason::Replayed, 5)));
    let behind = world.command(&guest, SWITCH, now + 5);
    let verdict = command_verdict(
        lamp.handle(now + 1, None, behind, world.proof(&guest))
            .unwrap(),
    );
    assert_eq!(denied(&verdict), Some((DenyReason::Replayed, 5)));

    // The replay table survives a reboot through its bytes.
    let saved = lamp.replay_table();
    let rebooted = Lamp::new(
        world.lamp_pk(),
        FRESHNESS_MS,
        WINDOW_MS,
        LightClient::load(lamp.trusted_state(), default_trust_options()).unwrap(),
        saved.clone(),
    )
    .unwrap();
    assert_eq!(rebooted.replay_table(), saved);
    assert_eq!(
        rebooted.last_time_ms(owner.public_key()).unwrap(),
        Some(now)
    );
    let mut corrupt = saved;
    corrupt[0] ^= 0xff;
    assert!(matches!(
        Lamp::new(
            world.lamp_pk(),
            FRESHNESS_MS,
            WINDOW_MS,
            world.client.clone(),
            corrupt
        ),
        Err(ItcError::Decode { .. })
    ));
}

#[test]
fn a_late_command_and_an_empty_action_are_refused() {
    let mut world = World::new();
    world.register_and_grant();
    let lamp = world.lamp();
    let guest = world.guest.clone();
    let signed_at = world.tick(100);
    let recorded = world.command(&guest, SWITCH, signed_at);
    // Delivered after the window, with no later command accepted before.
    let late = signed_at + WINDOW_MS + 1;
    let verdict = command_verdict(
        lamp.handle(late, None, recorded.clone(), world.proof(&guest))
            .unwrap(),
    );
    assert_eq!(denied(&verdict), Some((DenyReason::CommandTooOld, 13)));
    // Within the window it would have been allowed.
    let verdict = command_verdict(
        lamp.handle(signed_at + WINDOW_MS, None, recorded, world.proof(&guest))
            .unwrap(),
    );
    assert_eq!(verdict, LampVerdict::Allowed);

    let empty = world.command(&guest, 0, signed_at + 1);
    let verdict = command_verdict(
        lamp.handle(signed_at + 2, None, empty, world.proof(&guest))
            .unwrap(),
    );
    assert_eq!(denied(&verdict), Some((DenyReason::EmptyAction, 14)));
    assert_eq!(default_command_window_ms(), WINDOW_MS);
}

#[test]
fn a_grant_made_before_the_lamp_went_away_and_came_back_stays_dead() {
    let mut world = World::new();
    world.register_and_grant();
    let (owner, buyer, guest) = (
        world.owner.clone(),
        world.buyer.clone(),
        world.guest.clone(),
    );
    let device = world.lamp_pk();
    world
        .client
        .update(world.chain.header_update(1).unwrap(), world.now + 1)
        .unwrap();
    let status = world
        .client
        .verify_grant(
            device.clone(),
            guest.public_key(),
            world.chain.device_proof(device.clone()).unwrap(),
            world
                .chain
                .grant_proof(device.clone(), guest.public_key())
                .unwrap(),
        )
        .unwrap();
    assert!(status.live);
    assert_eq!(status.grant.as_ref().unwrap().ownership_seq, 0);
    assert_eq!(status.device.as_ref().unwrap().ownership_seq, 0);

    world.commit_from(
        &owner,
        vec![Payload::TransferDevice {
            device: device.clone(),
            new_owner: buyer.public_key(),
        }],
    );
    world.commit_from(
        &buyer,
        vec![Payload::TransferDevice {
            device: device.clone(),
            new_owner: owner.public_key(),
        }],
    );
    let lamp = world.lamp();
    let now = world.tick(100);
    let verdict = command_verdict(
        lamp.handle(
            now,
            None,
            world.command(&guest, SWITCH, now),
            world.proof(&guest),
        )
        .unwrap(),
    );
    assert_eq!(denied(&verdict), Some((DenyReason::NotGranted, 8)));
    // The owner, back in possession, still needs no grant.
    let verdict = command_verdict(
        lamp.handle(
            now,
            None,
            world.command(&owner, SWITCH, now),
            world.proof(&owner),
        )
        .unwrap(),
    );
    assert_eq!(verdict, LampVerdict::Allowed);

    // The light client sees the record, made by the current owner, yet dead.
    let height = world.chain.height();
    world
        .client
        .update(world.chain.header_update(height).unwrap(), now)
        .unwrap();
    let status = world
        .client
        .verify_grant(
            device.clone(),
            guest.public_key(),
            world.chain.device_proof(device.clone()).unwrap(),
            world
                .chain
                .grant_proof(device.clone(), guest.public_key())
                .unwrap(),
        )
        .unwrap();
    let grant = status.grant.expect("the grant record is still there");
    assert_eq!(grant.granted_by, owner.public_key());
    assert_eq!(grant.ownership_seq, 0);
    assert_eq!(status.device.unwrap().ownership_seq, 2);
    assert!(!status.live);
    // A device proof for another device is rejected.
    assert!(matches!(
        world.client.verify_grant(
            device.clone(),
            guest.public_key(),
            world.chain.device_proof(guest.public_key()).unwrap(),
            world.chain.grant_proof(device, guest.public_key()).unwrap(),
        ),
        Err(ItcError::ProofRejected { .. })
    ));
}

#[test]
fn handle_reports_the_update_verdict_and_a_conflicting_header_reaches_the_app() {
    let mut world = World::new();
    world.register_and_grant();
    let lamp = world.lamp();
    let guest = world.guest.clone();
    // A second dev chain with the same chain id and genesis has the same
    // simulated validators: its block 1 is a certified conflicting header.
    let fork = DevChain::new(CHAIN, 4, vec![], GENESIS_MS).unwrap();
    let forked_at = fork.commit_block(vec![], GENESIS_MS + 500).unwrap();
    assert_eq!(forked_at, lamp.height());
    let now = world.tick(100);
    let handled = lamp
        .handle(
            now,
            Some(fork.header_update(1).unwrap()),
            world.command(&guest, SWITCH, now),
            world.proof(&guest),
        )
        .unwrap();
    match handled.update {
        Some(UpdateVerdict::Invalid { code, .. }) => assert_eq!(code, 14),
        other => panic!("expected a conflicting header, got {other:?}"),
    }
    // The command itself is judged on the lamp's own header.
    assert_eq!(handled.command, LampVerdict::Allowed);

    // A valid update with the command: Success next to the verdict.
    world.commit_from(
        &world.owner.clone(),
        vec![Payload::Transfer {
            to: vec![9; 32],
            amount: 10,
        }],
    );
    let update = world.chain.header_update(world.chain.height()).unwrap();
    let now = world.tick(100);
    let handled = lamp
        .handle(
            now,
            Some(update),
            world.command(&guest, SWITCH, now),
            world.proof(&guest),
        )
        .unwrap();
    assert_eq!(handled.update, Some(UpdateVerdict::Success));
    assert_eq!(handled.command, LampVerdict::Allowed);
}

#[test]
fn bootstrap_from_a_header_older_than_the_trust_period_is_refused_with_its_code() {
    let world = World::new();
    let options = default_trust_options();
    let result = LightClient::bootstrap(
        world.chain.header(0).unwrap(),
        world.chain.validator_set(0).unwrap(),
        world.chain.header_hash(0).unwrap(),
        options,
        GENESIS_MS + options.trust_period_ms,
    );
    match result {
        Err(ItcError::BootstrapRejected { code, reason }) => {
            assert_eq!(code, 3);
            assert!(reason.contains("older than the trust period"), "{reason}");
        }
        other => panic!("expected HeaderTooOld, got {other:?}"),
    }
    match LightClient::bootstrap(
        world.chain.header(0).unwrap(),
        world.chain.validator_set(0).unwrap(),
        world.chain.header_hash(0).unwrap(),
        options,
        GENESIS_MS - options.clock_drift_ms - 1,
    ) {
        Err(ItcError::BootstrapRejected { code: 4, .. }) => {}
        other => panic!("expected HeaderFromFuture, got {other:?}"),
    }
}

#[test]
fn the_owner_recovers_a_lamp_that_went_without_headers_for_a_trust_period() {
    let mut world = World::new();
    world.register_and_grant();
    let lamp = world.lamp();
    let trusted_height = lamp.height();
    let trust_period = default_trust_options().trust_period_ms;
    let (owner, guest) = (world.owner.clone(), world.guest.clone());
    // A lamp that never handled a command has no proven owner to recover
    // with; one guest command proves the registration (and the owner).
    let now = world.tick(100);
    let verdict = command_verdict(
        lamp.handle(
            now,
            None,
            world.command(&guest, SWITCH, now),
            world.proof(&guest),
        )
        .unwrap(),
    );
    assert_eq!(verdict, LampVerdict::Allowed);

    // Silence for longer than the trust period; the chain moves on.
    world.tick(trust_period + 60_000);
    world.commit_from(
        &owner,
        vec![Payload::Transfer {
            to: vec![9; 32],
            amount: 10,
        }],
    );
    let height = world.chain.height();
    let update = world.chain.header_update(height).unwrap();
    let now = world.tick(100);
    match lamp.update(update.clone(), now).unwrap() {
        UpdateVerdict::Invalid { code, .. } => assert_eq!(code, 5, "trusted state expired"),
        other => panic!("expected an expired trusted state, got {other:?}"),
    }

    let device = world.lamp_pk();
    let device_proof = world.chain.device_proof(device.clone()).unwrap();

    // Someone else's signature is refused, and changes nothing.
    let forged = sign_owner_recovery(
        guest.clone(),
        device.clone(),
        lamp.trusted_header(),
        update.clone(),
        device_proof.clone(),
    )
    .unwrap();
    assert!(matches!(
        lamp.recover(forged, now),
        Err(ItcError::RecoveryRejected { code: 9, .. })
    ));
    assert_eq!(lamp.height(), trusted_height);

    let recovery = sign_owner_recovery(
        owner.clone(),
        device.clone(),
        lamp.trusted_header(),
        update,
        device_proof,
    )
    .unwrap();
    lamp.recover(recovery.clone(), now).unwrap();
    assert_eq!(lamp.height(), height);
    // The same recovery cannot move the lamp again (it names the old header).
    assert!(matches!(
        lamp.recover(recovery, now),
        Err(ItcError::RecoveryRejected { .. })
    ));
    let verdict = command_verdict(
        lamp.handle(
            now,
            None,
            world.command(&guest, SWITCH, now),
            world.proof(&guest),
        )
        .unwrap(),
    );
    assert_eq!(verdict, LampVerdict::Allowed);
}

#[test]
fn a_lamp_follows_the_chain_across_an_epoch_boundary_with_a_new_validator_set() {
    let mut world = World::new();
    world.register_and_grant();
    let lamp = world.lamp();
    let behind = world.lamp(); // will skip the boundary and bisect
    let guest = world.guest.clone();
    let old_set = world.chain.validator_set(world.chain.height()).unwrap();

    let new_set = world.chain.rotate_validators().unwrap();
    assert_ne!(new_set, old_set);
    let owner = world.owner.clone();
    let announced = world.commit_from(
        &owner,
        vec![Payload::Transfer {
            to: vec![9; 32],
            amount: 1,
        }],
    );
    assert_eq!(world.chain.validator_set(announced).unwrap(), old_set);
    let first_new = world.commit_from(
        &owner,
        vec![Payload::Transfer {
            to: vec![9; 32],
            amount: 1,
        }],
    );
    assert_eq!(world.chain.validator_set(first_new).unwrap(), new_set);
    let latest = world.commit_from(
        &owner,
        vec![Payload::Transfer {
            to: vec![9; 32],
            amount: 1,
        }],
    );

    for height in [announced, first_new, latest] {
        let update = world.chain.header_update(height).unwrap();
        let now = world.tick(10);
        assert_eq!(
            lamp.update(update, now).unwrap(),
            UpdateVerdict::Success,
            "{height}"
        );
    }
    let now = world.tick(10);
    let verdict = command_verdict(
        lamp.handle(
            now,
            None,
            world.command(&guest, SWITCH, now),
            world.proof(&guest),
        )
        .unwrap(),
    );
    assert_eq!(verdict, LampVerdict::Allowed);

    // A lamp that skips straight to the latest header cannot trust the new
    // set yet (none of its keys are known) and bisects down to the boundary.
    let now = world.tick(10);
    let mut target = latest;
    let mut rounds = 0;
    while behind.height() < latest {
        rounds += 1;
        assert!(rounds < 10);
        match behind
            .update(world.chain.header_update(target).unwrap(), now)
            .unwrap()
        {
            UpdateVerdict::Success => target = latest,
            UpdateVerdict::NotEnoughTrust => {
                target = behind.height() + ((target - behind.height()) / 2).max(1);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(rounds > 1, "the skip needed a bisection");
}
