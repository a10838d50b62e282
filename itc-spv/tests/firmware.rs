//! Firmware updates through the chain, from the device's side: a release
//! proven at the trusted header is installed only if it is current, signed
//! by the product's release key, newer, and its image matches as it
//! streams in; sealing keys are proven the same way.

mod common;

use common::*;
use itc_core::firmware::{FirmwareManifest, ImageHasher};
use itc_core::keys::{Keypair, SigningDomain};
use itc_core::ledger::state_key;
use itc_core::seal::{key_binding_message, SealSecretKey, Suite};
use itc_core::types::{BlockHeader, Payload};
use itc_spv::{check_release, check_release_at, DeviceFirmware, UpdateOffer, UpdateRefusal};

const PRODUCT: u64 = 0x1A4B;
const V1_0: u32 = 1_000_000;
const V1_1: u32 = 1_001_000;

struct Release {
    chain: LedgerChain,
    manufacturer: Keypair,
    release_key: Keypair,
    image: Vec<u8>,
}

fn image(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ salt)
        .collect()
}

fn manifest(version: u32, image: &[u8]) -> FirmwareManifest {
    FirmwareManifest {
        product: PRODUCT,
        version,
        image_hash: ImageHasher::hash(image),
        image_size: image.len() as u32,
        min_version: V1_0,
    }
}

/// The owner (as manufacturer) registers the product and publishes 1.1.
fn released() -> Release {
    let mut chain = LedgerChain::new();
    let manufacturer = chain.owner.clone();
    let release_key = Keypair::from_seed([0x77; 32]);
    let image = image(64 * 1024, 0x5A);
    let m = manifest(V1_1, &image);
    let register = chain.tx(
        &manufacturer,
        Payload::RegisterProduct {
            product: PRODUCT,
            release_key: release_key.public(),
        },
    );
    let publish = chain.tx(
        &manufacturer,
        Payload::PublishRelease {
            manifest: m,
            signature: m.sign(&release_key, CHAIN),
        },
    );
    chain.apply(vec![register, publish]);
    Release {
        chain,
        manufacturer,
        release_key,
        image,
    }
}

fn current_offer(chain: &mut LedgerChain) -> (BlockHeader, UpdateOffer) {
    let header = chain.updates.last().unwrap().header.clone();
    let offer = UpdateOffer {
        product: chain.prove(&state_key::product(PRODUCT)),
        release: chain.prove(&state_key::release(PRODUCT)),
    };
    (header, offer)
}

fn lamp_at(version: u32) -> DeviceFirmware {
    DeviceFirmware {
        product: PRODUCT,
        version,
        image_size_max: 128 * 1024,
    }
}

#[test]
fn the_current_release_installs_over_a_streamed_image() {
    let mut r = released();
    let (header, offer) = current_offer(&mut r.chain);
    let mut check = check_release(&header, CHAIN, &lamp_at(V1_0), &offer).unwrap();
    assert_eq!(check.manifest().version, V1_1);
    for chunk in r.image.chunks(1000) {
        check.update(chunk).unwrap();
    }
    assert_eq!(check.finish().unwrap().version, V1_1);
}

#[test]
fn a_tampered_short_or_long_image_is_refused() {
    let mut r = released();
    let (header, offer) = current_offer(&mut r.chain);
    let start = || check_release(&header, CHAIN, &lamp_at(V1_0), &offer).unwrap();

    let mut tampered = r.image.clone();
    tampered[40_000] ^= 1;
    let mut check = start();
    check.update(&tampered).unwrap();
    assert_eq!(check.finish(), Err(UpdateRefusal::ImageHashMismatch));

    let mut check = start();
    check.update(&r.image[..r.image.len() - 1]).unwrap();
    assert_eq!(check.finish(), Err(UpdateRefusal::ImageTooShort));

    let mut check = start();
    check.update(&r.image).unwrap();
    assert_eq!(check.update(&[0]), Err(UpdateRefusal::ImageTooLong));
}

#[test]
fn no_rollback_no_reinstall_and_the_minimum_version_holds() {
    let mut r = released();
    let (header, offer) = current_offer(&mut r.chain);
    for (version, refusal) in [
        (V1_1, UpdateRefusal::NotNewer),
        (V1_1 + 5, UpdateRefusal::NotNewer),
        (V1_0 - 1, UpdateRefusal::BelowMinimum),
    ] {
        assert_eq!(
            check_release(&header, CHAIN, &lamp_at(version), &offer).err(),
            Some(refusal),
            "device at {version}"
        );
    }
    let small = DeviceFirmware {
        image_size_max: 1024,
        ..lamp_at(V1_0)
    };
    assert_eq!(
        check_release(&header, CHAIN, &small, &offer).err(),
        Some(UpdateRefusal::ImageTooLarge)
    );
    let other_product = DeviceFirmware {
        product: PRODUCT + 1,
        ..lamp_at(V1_0)
    };
    assert_eq!(
        check_release(&header, CHAIN, &other_product, &offer).err(),
        Some(UpdateRefusal::BadProof),
        "the proofs are for another product's keys"
    );
}

#[test]
fn a_superseded_or_revoked_release_is_refused() {
    let mut r = released();
    let (old_header, old_offer) = current_offer(&mut r.chain);
    // 1.2 supersedes 1.1.
    let image_12 = image(4096, 0x12);
    let m12 = manifest(V1_1 + 1000, &image_12);
    let publish = r.chain.tx(
        &r.manufacturer,
        Payload::PublishRelease {
            manifest: m12,
            signature: m12.sign(&r.release_key, CHAIN),
        },
    );
    r.chain.apply(vec![publish]);
    let (header, offer) = current_offer(&mut r.chain);
    // The old offer does not hold at the new header: 1.1 is not current.
    assert_eq!(
        check_release(&header, CHAIN, &lamp_at(V1_0), &old_offer).err(),
        Some(UpdateRefusal::BadProof)
    );
    assert!(check_release(&old_header, CHAIN, &lamp_at(V1_0), &old_offer).is_ok());
    assert_eq!(
        check_release(&header, CHAIN, &lamp_at(V1_0), &offer)
            .unwrap()
            .manifest()
            .version,
        V1_1 + 1000
    );
    // The manufacturer revokes 1.2.
    let revoke = r.chain.tx(
        &r.manufacturer,
        Payload::RevokeRelease {
            product: PRODUCT,
            version: V1_1 + 1000,
        },
    );
    r.chain.apply(vec![revoke]);
    let (header, offer) = current_offer(&mut r.chain);
    assert_eq!(
        check_release(&header, CHAIN, &lamp_at(V1_0), &offer).err(),
        Some(UpdateRefusal::Revoked)
    );
}

#[test]
fn after_a_key_rotation_what_the_old_key_signed_is_refused() {
    let mut r = released();
    let rotate = r.chain.tx(
        &r.manufacturer,
        Payload::RegisterProduct {
            product: PRODUCT,
            release_key: Keypair::from_seed([0x78; 32]).public(),
        },
    );
    r.chain.apply(vec![rotate]);
    let (header, offer) = current_offer(&mut r.chain);
    assert_eq!(
        check_release(&header, CHAIN, &lamp_at(V1_0), &offer).err(),
        Some(UpdateRefusal::BadSignature)
    );
}

#[test]
fn a_stale_trusted_header_is_refused_at_the_devices_clock() {
    let mut r = released();
    let (header, offer) = current_offer(&mut r.chain);
    let window = 60_000;
    let fresh = check_release_at(
        &header,
        CHAIN,
        &lamp_at(V1_0),
        &offer,
        header.time_ms + window,
        window,
    );
    assert!(fresh.is_ok());
    assert_eq!(
        check_release_at(
            &header,
            CHAIN,
            &lamp_at(V1_0),
            &offer,
            header.time_ms + window + 1,
            window
        )
        .err(),
        Some(UpdateRefusal::StaleHeader)
    );
}

#[test]
fn forged_offers_are_refused() {
    let mut r = released();
    let (header, offer) = current_offer(&mut r.chain);
    // A release record a relay made up, signed by its own key: not in the
    // state, so its proof fails.
    let mut forged = offer.clone();
    let value = forged.release.value.as_mut().unwrap();
    let last = value.len() - 9; // inside the signature
    value[last] ^= 1;
    assert_eq!(
        check_release(&header, CHAIN, &lamp_at(V1_0), &forged).err(),
        Some(UpdateRefusal::BadProof)
    );
    // Proofs swapped between the two records.
    let swapped = UpdateOffer {
        product: offer.release.clone(),
        release: offer.product.clone(),
    };
    assert_eq!(
        check_release(&header, CHAIN, &lamp_at(V1_0), &swapped).err(),
        Some(UpdateRefusal::BadProof)
    );
    // A product that was never registered: a valid absence proof.
    let mut chain = LedgerChain::new();
    chain.empty_block();
    let (header, absent) = current_offer(&mut chain);
    assert_eq!(
        check_release(&header, CHAIN, &lamp_at(V1_0), &absent).err(),
        Some(UpdateRefusal::UnknownProduct)
    );
}

#[test]
fn a_sealing_key_is_proven_from_the_chain() {
    let mut chain = LedgerChain::new();
    let register = chain.register_lamp();
    let owner_key = SealSecretKey::derive(&chain.owner.seed(), Suite::XWing, 0);
    let lamp_key = SealSecretKey::derive(&chain.lamp.seed(), Suite::X25519, 0);
    let owner = chain.owner.clone();
    let own = chain.tx(
        &owner,
        Payload::PublishSealKey {
            subject: owner.public(),
            suite: Suite::XWing,
            public_key: owner_key.public_key(),
            key_seq: 0,
            subject_signature: None,
        },
    );
    let binding = chain.lamp.sign(
        SigningDomain::SealKeyBinding,
        CHAIN,
        &key_binding_message(
            &chain.lamp.public(),
            Suite::X25519,
            0,
            &lamp_key.public_key(),
        ),
    );
    let device = chain.tx(
        &owner,
        Payload::PublishSealKey {
            subject: chain.lamp.public(),
            suite: Suite::X25519,
            public_key: lamp_key.public_key(),
            key_seq: 0,
            subject_signature: Some(binding),
        },
    );
    chain.apply(vec![register, own, device]);
    let header = chain.updates.last().unwrap().header.clone();
    let entry = chain.prove(&state_key::seal_key(&owner.public(), Suite::XWing));
    let record = entry
        .verify_seal_key(&header, &owner.public(), Suite::XWing)
        .unwrap()
        .unwrap();
    assert_eq!(record.public_key, owner_key.public_key());
    assert_eq!(record.key_seq, 0);
    // The same proof does not serve another subject or suite.
    assert!(entry
        .verify_seal_key(&header, &chain.guest.public(), Suite::XWing)
        .is_err());
    assert!(entry
        .verify_seal_key(&header, &owner.public(), Suite::X25519)
        .is_err());
    let lamp = chain.lamp.public();
    let entry = chain.prove(&state_key::seal_key(&lamp, Suite::X25519));
    let record = entry
        .verify_seal_key(&header, &lamp, Suite::X25519)
        .unwrap()
        .unwrap();
    assert_eq!(record.public_key, lamp_key.public_key());
    // The guest published nothing: proven absent.
    let guest = chain.guest.public();
    let entry = chain.prove(&state_key::seal_key(&guest, Suite::XWing));
    assert_eq!(
        entry.verify_seal_key(&header, &guest, Suite::XWing),
        Ok(None)
    );
}
