//! Step 13 of the scenario: the manufacturer publishes firmware 1.1 on
//! chain and the lamp installs it without an update server; a tampered
//! image, an old version and a manifest signed by another key are refused.

use super::*;
use itc_core::firmware::{FirmwareManifest, ImageHasher};
use itc_spv::firmware::{check_release_at, DeviceFirmware, UpdateOffer, UpdateRefusal};

/// The lamp's product line.
pub(super) const LAMP_PRODUCT: u64 = 0x4C31;
/// The version the lamp runs (1.0.0).
pub(super) const LAMP_VERSION: u32 = 1_000_000;
/// The published release (1.1.0).
const RELEASE_VERSION: u32 = 1_001_000;
/// The image's size: 64 KiB.
const IMAGE_BYTES: usize = 64 * 1024;
/// The chunk size of the image over the air.
const CHUNK_BYTES: usize = 256;

/// The 1.1 image (any bytes: the lamp only checks them).
fn image() -> Vec<u8> {
    (0..IMAGE_BYTES)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect()
}

/// What the phone hands the lamp: proofs of the product and its current
/// release at the latest committed state.
fn offer(s: &Scenario) -> UpdateOffer {
    UpdateOffer {
        product: s.entry(state_key::product(LAMP_PRODUCT)),
        release: s.entry(state_key::release(LAMP_PRODUCT)),
    }
}

/// Submit a transaction that must be refused; its nonce is not used.
fn refused(s: &mut Scenario, who: &Keypair, payload: Payload) -> Result<String, String> {
    let tx = s.transaction(who, payload);
    match s.cluster.submit(tx) {
        Ok(()) => Err("the chain accepted it".into()),
        Err(reason) => {
            *s.nonces.entry(who.public()).or_default() -= 1;
            Ok(reason)
        }
    }
}

/// Stream `image` into the lamp's check of `offer` at its trusted header.
fn install(
    lamp: &Lamp,
    now_ms: u64,
    firmware: &DeviceFirmware,
    offer: &UpdateOffer,
    image: &[u8],
) -> Result<FirmwareManifest, UpdateRefusal> {
    // Over the air: the offer travels as bytes.
    let offer = UpdateOffer::decode(&offer.encode()).map_err(|_| UpdateRefusal::BadProof)?;
    // The header must be as fresh as for a command: a relay that withholds
    // newer headers cannot get a since-revoked release installed.
    let mut check = check_release_at(
        lamp.trusted().header(),
        CHAIN,
        firmware,
        &offer,
        now_ms,
        LAMP_FRESHNESS_MS,
    )?;
    for chunk in image.chunks(CHUNK_BYTES) {
        check.update(chunk)?;
    }
    check.finish()
}

/// Run the step; returns what happened, or why it went wrong.
pub(super) fn firmware_update(s: &mut Scenario, lamp: &mut Lamp) -> Result<String, String> {
    let manufacturer = s.manufacturer.clone();
    let release_key = Keypair::from_seed([0x4D; 32]);
    let image = image();
    let manifest = FirmwareManifest {
        product: LAMP_PRODUCT,
        version: RELEASE_VERSION,
        image_hash: ImageHasher::hash(&image),
        image_size: IMAGE_BYTES as u32,
        min_version: LAMP_VERSION,
    };
    let register = s.transaction(
        &manufacturer,
        Payload::RegisterProduct {
            product: LAMP_PRODUCT,
            release_key: release_key.public(),
        },
    );
    s.commit(register)?;
    let publish = s.transaction(
        &manufacturer,
        Payload::PublishRelease {
            manifest,
            signature: manifest.sign(&release_key, CHAIN),
        },
    );
    s.commit(publish)?;

    // The chain refuses an old version and a manifest signed by another key.
    let old = FirmwareManifest {
        version: LAMP_VERSION,
        ..manifest
    };
    let old_refused = refused(
        s,
        &manufacturer,
        Payload::PublishRelease {
            manifest: old,
            signature: old.sign(&release_key, CHAIN),
        },
    )?;
    let rogue = FirmwareManifest {
        version: RELEASE_VERSION + 1,
        ..manifest
    };
    let attacker = s.attacker.clone();
    let rogue_refused = refused(
        s,
        &attacker,
        Payload::PublishRelease {
            manifest: rogue,
            signature: rogue.sign(&attacker, CHAIN),
        },
    )?;

    // The lamp follows the chain, then checks what the phone offers.
    let update = s.latest_update();
    let verdict = lamp.update(&update, s.cluster.now_ms());
    if !verdict.is_success() {
        return Err(format!("lamp refused the header: {verdict:?}"));
    }
    let offer = offer(s);
    let now = s.cluster.now_ms();
    let mut firmware = DeviceFirmware {
        product: LAMP_PRODUCT,
        version: LAMP_VERSION,
        image_size_max: 128 * 1024,
    };
    let mut tampered = image.clone();
    tampered[IMAGE_BYTES / 2] ^= 0x01;
    let tampered_result = install(lamp, now, &firmware, &offer, &tampered);
    if tampered_result != Err(UpdateRefusal::ImageHashMismatch) {
        return Err(format!("tampered image: {tampered_result:?}"));
    }
    // A manifest the relay signed itself, in place of the chain's record.
    let mut forged = offer.clone();
    if let Some(value) = forged.release.value.as_mut() {
        let mut record =
            itc_core::firmware::ReleaseRecord::decode(value).map_err(|e| e.to_string())?;
        record.signature = rogue.sign(&attacker, CHAIN);
        record.manifest = rogue;
        *value = record.encode();
    }
    let forged_result = install(lamp, now, &firmware, &forged, &image);
    if forged_result != Err(UpdateRefusal::BadProof) {
        return Err(format!("forged manifest: {forged_result:?}"));
    }
    let installed = install(lamp, now, &firmware, &offer, &image)
        .map_err(|e| format!("genuine image refused: {e}"))?;
    firmware.version = installed.version;
    // The same release again, now that the lamp runs it.
    let again = install(lamp, now, &firmware, &offer, &image);
    if again != Err(UpdateRefusal::NotNewer) {
        return Err(format!("reinstall: {again:?}"));
    }
    Ok(format!(
        "1.1 installed ({} KiB image streamed in {}-byte chunks); tampered image: {}; \
         manifest signed by the attacker: refused by the chain ({}) and, forged into the offer, \
         by the lamp ({}); old version: refused by the chain ({}); the same release again: {}",
        IMAGE_BYTES / 1024,
        CHUNK_BYTES,
        UpdateRefusal::ImageHashMismatch,
        rogue_refused,
        UpdateRefusal::BadProof,
        old_refused,
        UpdateRefusal::NotNewer,
    ))
}
