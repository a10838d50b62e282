//! Sealed payloads and firmware updates through both layers (UniFFI's Rust
//! API and the C ABI), and the stable numbers they report: the refusal and
//! suite codes and the status codes are part of the ABI and never change.

use itc_ffi::api::dev_chain::{DevChain, FundedAccount};
use itc_ffi::api::firmware::{
    firmware_image_hash, firmware_manifest_sign, DeviceFirmware, FirmwareManifest, UpdateRefusal,
};
use itc_ffi::api::keys::Keypair;
use itc_ffi::api::light_client::{default_trust_options, LightClient};
use itc_ffi::api::seal::{seal, SealContext, SealKey, SealRefusal, SealSuite};
use itc_ffi::api::transaction::{Payload, Transaction};
use itc_ffi::c_api::firmware::*;
use itc_ffi::c_api::light_client::{itc_light_client_bootstrap, itc_light_client_free};
use itc_ffi::c_api::seal::*;
use itc_ffi::c_api::{itc_last_error_reason, itc_status_name, ItcStatus};
use itc_ffi::ItcError;
use std::ffi::CStr;
use std::ptr;
use std::sync::Arc;

const CHAIN: u32 = 7;
const PRODUCT: u64 = 42;

fn key(byte: u8) -> Arc<Keypair> {
    Keypair::from_seed(vec![byte; 32]).unwrap()
}

#[test]
fn refusal_suite_and_status_numbers_never_change() {
    let seal_codes: Vec<(SealRefusal, u32)> =
        SealRefusal::ALL.iter().map(|r| (*r, r.code())).collect();
    assert_eq!(
        seal_codes,
        [
            (SealRefusal::NoRecipients, 1),
            (SealRefusal::TooManyRecipients, 2),
            (SealRefusal::PlaintextTooLong, 3),
            (SealRefusal::InvalidPublicKey, 4),
            (SealRefusal::SuiteMismatch, 5),
            (SealRefusal::ContextMismatch, 6),
            (SealRefusal::NotARecipient, 7),
            (SealRefusal::OpenFailed, 8),
            (SealRefusal::Encapsulation, 9),
        ]
    );
    let update_codes: Vec<(UpdateRefusal, u32)> =
        UpdateRefusal::ALL.iter().map(|r| (*r, r.code())).collect();
    assert_eq!(
        update_codes,
        [
            (UpdateRefusal::BadProof, 1),
            (UpdateRefusal::UnknownProduct, 2),
            (UpdateRefusal::NoRelease, 3),
            (UpdateRefusal::WrongProduct, 4),
            (UpdateRefusal::BadSignature, 5),
            (UpdateRefusal::Revoked, 6),
            (UpdateRefusal::NotNewer, 7),
            (UpdateRefusal::BelowMinimum, 8),
            (UpdateRefusal::ImageTooLarge, 9),
            (UpdateRefusal::ImageTooLong, 10),
            (UpdateRefusal::ImageTooShort, 11),
            (UpdateRefusal::ImageHashMismatch, 12),
            (UpdateRefusal::StaleHeader, 13),
        ]
    );
    assert_eq!(SealSuite::X25519 as u8, 1);
    assert_eq!(SealSuite::XWing as u8, 2);
    assert_eq!(ItcStatus::SealRefused as i32, 17);
    assert_eq!(ItcStatus::UpdateRefused as i32, 18);
    let name = |status: i32| unsafe { CStr::from_ptr(itc_status_name(status)) };
    assert_eq!(name(17).to_str().unwrap(), "seal refused");
    assert_eq!(name(18).to_str().unwrap(), "update refused");
    // The committed header carries the same numbers.
    let header = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bindings/c/itc.h"),
    )
    .unwrap();
    for line in [
        "ITC_SEAL_REFUSAL_CONTEXT_MISMATCH = 6,",
        "ITC_SEAL_REFUSAL_NOT_A_RECIPIENT = 7,",
        "ITC_UPDATE_REFUSAL_IMAGE_HASH_MISMATCH = 12,",
        "ITC_UPDATE_REFUSAL_STALE_HEADER = 13,",
        "ITC_SEAL_SUITE_X_WING = 2,",
        "ITC_STATUS_SEAL_REFUSED = 17,",
        "ITC_STATUS_UPDATE_REFUSED = 18,",
    ] {
        assert!(header.contains(line), "itc.h lacks {line}");
    }
}

fn context(sequence: u64) -> SealContext {
    SealContext {
        chain_id: CHAIN,
        device: key(2).public_key(),
        sequence,
    }
}

#[test]
fn both_layers_report_a_moved_payload_with_the_same_code() {
    let seed = [9u8; 32];
    let owner = SealKey::derive(seed.to_vec(), SealSuite::X25519, 0).unwrap();
    let sealed = seal(
        SealSuite::X25519,
        context(5),
        vec![owner.public_key()],
        b"on".to_vec(),
    )
    .unwrap();
    // UniFFI layer.
    match owner.open(sealed.clone(), context(6)) {
        Err(ItcError::SealRefused { refusal, code, .. }) => {
            assert_eq!((refusal, code), (SealRefusal::ContextMismatch, 6))
        }
        other => panic!("expected a seal refusal, got {other:?}"),
    }
    assert_eq!(owner.open(sealed.clone(), context(5)).unwrap(), b"on");
    // C layer: the same key from the same seed.
    unsafe {
        let mut handle = ptr::null_mut();
        assert_eq!(
            itc_seal_key_derive(seed.as_ptr(), 1, 0, &mut handle),
            ItcStatus::Ok
        );
        let mut device = [0u8; 32];
        device.copy_from_slice(&key(2).public_key());
        let moved = ItcSealContext {
            chain_id: CHAIN,
            device,
            sequence: 6,
        };
        let mut out = [0u8; 16];
        let mut written = 0;
        let status = itc_seal_open(
            handle,
            &moved,
            sealed.as_ptr(),
            sealed.len(),
            out.as_mut_ptr(),
            out.len(),
            &mut written,
        );
        assert_eq!(status, ItcStatus::SealRefused);
        assert_eq!(itc_last_error_reason(), SealRefusal::ContextMismatch.code());
        let expected = ItcSealContext {
            sequence: 5,
            ..moved
        };
        assert_eq!(
            itc_seal_open(
                handle,
                &expected,
                sealed.as_ptr(),
                sealed.len(),
                out.as_mut_ptr(),
                out.len(),
                &mut written,
            ),
            ItcStatus::Ok
        );
        assert_eq!(&out[..written], b"on");
        // An unknown suite is an argument error, not a refusal.
        let mut other = ptr::null_mut();
        assert_eq!(
            itc_seal_key_derive(seed.as_ptr(), 3, 0, &mut other),
            ItcStatus::InvalidArgument
        );
        assert!(other.is_null());
        assert_eq!(itc_seal_key_free(handle), ItcStatus::Ok);
    }
}

#[test]
fn both_layers_refuse_an_old_version_with_the_same_code() {
    let maker = key(3);
    let release_key = key(4);
    let chain = DevChain::new(
        CHAIN,
        4,
        vec![FundedAccount {
            public_key: maker.public_key(),
            balance: 1_000,
        }],
        1_000,
    )
    .unwrap();
    let image = vec![0x5Au8; 10_000];
    let manifest = FirmwareManifest {
        product: PRODUCT,
        version: 2,
        image_hash: firmware_image_hash(image.clone()),
        image_size: image.len() as u32,
        min_version: 1,
    };
    let signature = firmware_manifest_sign(release_key.clone(), CHAIN, manifest.clone()).unwrap();
    let txs = vec![
        Transaction::new_signed(
            maker.clone(),
            CHAIN,
            0,
            1,
            Payload::RegisterProduct {
                product: PRODUCT,
                release_key: release_key.public_key(),
            },
        )
        .unwrap(),
        Transaction::new_signed(
            maker,
            CHAIN,
            1,
            1,
            Payload::PublishRelease {
                manifest,
                signature,
            },
        )
        .unwrap(),
    ];
    let height = chain.commit_block(txs, 2_000).unwrap();
    let offer = chain.firmware_offer(PRODUCT);
    let (header, validators, pinned) = (
        chain.header(height).unwrap(),
        chain.validator_set(height).unwrap(),
        chain.header_hash(height).unwrap(),
    );
    let client = LightClient::bootstrap(
        header.clone(),
        validators.clone(),
        pinned.clone(),
        default_trust_options(),
        2_100,
    )
    .unwrap();
    let current = DeviceFirmware {
        product: PRODUCT,
        version: 2,
        image_size_max: 1 << 20,
    };
    match client.check_firmware_update(current, offer.clone(), 2_200, 60_000) {
        Err(ItcError::UpdateRefused { refusal, code, .. }) => {
            assert_eq!((refusal, code), (UpdateRefusal::NotNewer, 7))
        }
        other => panic!("expected an update refusal, got {other:?}"),
    }
    unsafe {
        let options = default_trust_options();
        let mut c_client = ptr::null_mut();
        assert_eq!(
            itc_light_client_bootstrap(
                header.as_ptr(),
                header.len(),
                validators.as_ptr(),
                validators.len(),
                pinned.as_ptr(),
                options.trust_period_ms,
                options.clock_drift_ms,
                2_100,
                &mut c_client,
            ),
            ItcStatus::Ok
        );
        let mut check = ptr::null_mut();
        let old = ItcDeviceFirmware {
            product: PRODUCT,
            version: 2,
            image_size_max: 1 << 20,
        };
        assert_eq!(
            itc_light_client_check_firmware_update(
                c_client,
                &old,
                offer.as_ptr(),
                offer.len(),
                2_200,
                60_000,
                &mut check
            ),
            ItcStatus::UpdateRefused
        );
        assert_eq!(itc_last_error_reason(), UpdateRefusal::NotNewer.code());
        // A header older than the device accepts: refused before anything
        // else (the release may have been revoked since).
        assert_eq!(
            itc_light_client_check_firmware_update(
                c_client,
                &old,
                offer.as_ptr(),
                offer.len(),
                2_000 + 60_001,
                60_000,
                &mut check
            ),
            ItcStatus::UpdateRefused
        );
        assert_eq!(itc_last_error_reason(), UpdateRefusal::StaleHeader.code());
        assert!(check.is_null());
        // Version 1 accepts; the image streams in two chunks.
        let device = ItcDeviceFirmware { version: 1, ..old };
        assert_eq!(
            itc_light_client_check_firmware_update(
                c_client,
                &device,
                offer.as_ptr(),
                offer.len(),
                2_200,
                60_000,
                &mut check
            ),
            ItcStatus::Ok
        );
        let (first, rest) = image.split_at(4_000);
        assert_eq!(
            itc_image_check_update(check, first.as_ptr(), first.len()),
            ItcStatus::Ok
        );
        assert_eq!(
            itc_image_check_update(check, rest.as_ptr(), rest.len()),
            ItcStatus::Ok
        );
        let mut installed = std::mem::zeroed::<ItcFirmwareManifest>();
        assert_eq!(itc_image_check_finish(check, &mut installed), ItcStatus::Ok);
        assert_eq!(installed.version, 2);
        // The check is over.
        assert_eq!(
            itc_image_check_finish(check, &mut installed),
            ItcStatus::InvalidArgument
        );
        assert_eq!(itc_image_check_free(check), ItcStatus::Ok);
        assert_eq!(
            itc_light_client_check_firmware_update(
                c_client,
                &device,
                b"x".as_ptr(),
                1,
                2_200,
                60_000,
                &mut check
            ),
            ItcStatus::DecodeFailed
        );
        assert_eq!(itc_light_client_free(c_client), ItcStatus::Ok);
    }
}
