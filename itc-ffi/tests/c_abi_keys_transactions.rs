//! The C ABI for keys and transactions, called the way C calls it.

use itc_ffi::c_api::firmware::ItcFirmwareManifest;
use itc_ffi::c_api::keys::*;
use itc_ffi::c_api::transaction::*;
use itc_ffi::c_api::{itc_last_error_message, itc_status_name, ItcStatus};
use std::ffi::CStr;
use std::ptr;

const CHAIN: u32 = 7;

fn keypair(seed: u8) -> *mut ItcKeypair {
    let mut out = ptr::null_mut();
    let status = unsafe { itc_keypair_from_seed([seed; ITC_SEED_LEN].as_ptr(), &mut out) };
    assert_eq!(status, ItcStatus::Ok);
    assert!(!out.is_null());
    out
}

fn public_key(keypair: *const ItcKeypair) -> [u8; ITC_PUBLIC_KEY_LEN] {
    let mut out = [0u8; ITC_PUBLIC_KEY_LEN];
    assert_eq!(
        unsafe { itc_keypair_public_key(keypair, out.as_mut_ptr()) },
        ItcStatus::Ok
    );
    out
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(itc_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

fn encode(tx: *const ItcTransaction) -> Vec<u8> {
    let mut needed = 0usize;
    assert_eq!(
        unsafe { itc_transaction_encode(tx, ptr::null_mut(), 0, &mut needed) },
        ItcStatus::BufferTooSmall
    );
    let mut bytes = vec![0u8; needed];
    let mut written = 0usize;
    assert_eq!(
        unsafe { itc_transaction_encode(tx, bytes.as_mut_ptr(), bytes.len(), &mut written) },
        ItcStatus::Ok
    );
    assert_eq!(written, needed);
    bytes
}

#[test]
fn seed_export_and_import_give_the_same_key() {
    let original = keypair(3);
    let mut seed = [0u8; ITC_SEED_LEN];
    assert_eq!(
        unsafe { itc_keypair_seed(original, seed.as_mut_ptr()) },
        ItcStatus::Ok
    );
    assert_eq!(seed, [3; 32]);
    let imported = keypair(3);
    assert_eq!(public_key(original), public_key(imported));
    unsafe {
        assert_eq!(itc_keypair_free(original), ItcStatus::Ok);
        assert_eq!(itc_keypair_free(imported), ItcStatus::Ok);
    }
}

#[test]
fn generated_keys_differ() {
    let mut a = ptr::null_mut();
    let mut b = ptr::null_mut();
    unsafe {
        assert_eq!(itc_keypair_generate(&mut a), ItcStatus::Ok);
        assert_eq!(itc_keypair_generate(&mut b), ItcStatus::Ok);
    }
    assert_ne!(public_key(a), public_key(b));
    unsafe {
        itc_keypair_free(a);
        itc_keypair_free(b);
    }
}

#[test]
fn signature_verifies_only_for_its_domain_chain_and_message() {
    let key = keypair(1);
    let public = public_key(key);
    let message = b"switch on";
    let mut signature = [0u8; ITC_SIGNATURE_LEN];
    let domain = ItcSigningDomain::DeviceCommand as u32;
    unsafe {
        assert_eq!(
            itc_keypair_sign(
                key,
                domain,
                CHAIN,
                message.as_ptr(),
                message.len(),
                signature.as_mut_ptr()
            ),
            ItcStatus::Ok
        );
        let verify = |domain: u32, chain: u32, message: &[u8]| {
            itc_verify(
                public.as_ptr(),
                domain,
                chain,
                message.as_ptr(),
                message.len(),
                signature.as_ptr(),
            )
        };
        assert_eq!(verify(domain, CHAIN, message), ItcStatus::Ok);
        assert_eq!(
            verify(domain, CHAIN + 1, message),
            ItcStatus::InvalidSignature
        );
        assert_eq!(
            verify(ItcSigningDomain::Transaction as u32, CHAIN, message),
            ItcStatus::InvalidSignature
        );
        assert_eq!(
            verify(domain, CHAIN, b"switch off"),
            ItcStatus::InvalidSignature
        );
        assert_eq!(verify(77, CHAIN, message), ItcStatus::InvalidArgument);
        itc_keypair_free(key);
    }
}

#[test]
fn null_pointers_are_refused_with_a_status_and_a_message() {
    let mut out = ptr::null_mut();
    unsafe {
        assert_eq!(
            itc_keypair_from_seed(ptr::null(), &mut out),
            ItcStatus::NullPointer
        );
        assert!(out.is_null());
        assert!(last_error().contains("seed"), "{}", last_error());
        assert_eq!(
            itc_keypair_from_seed([1; 32].as_ptr(), ptr::null_mut()),
            ItcStatus::NullPointer
        );
        assert_eq!(
            itc_keypair_public_key(ptr::null(), [0; 32].as_mut_ptr()),
            ItcStatus::NullPointer
        );
        assert_eq!(
            itc_transaction_verify_signature(ptr::null()),
            ItcStatus::NullPointer
        );
        // Freeing null is a no-op, as with free(3).
        assert_eq!(itc_keypair_free(ptr::null_mut()), ItcStatus::Ok);
    }
}

/// With two bad arguments, a null pointer is reported first (the pointers
/// are checked before any value is parsed).
#[test]
fn a_null_pointer_wins_over_an_invalid_value() {
    let owner = keypair(1);
    let device_keypair = keypair(2);
    let device = public_key(device_keypair);
    let mut out = ptr::null_mut();
    unsafe {
        // Security level 9 does not exist, and the metadata hash is null.
        assert_eq!(
            itc_transaction_new_register_device(
                owner,
                CHAIN,
                0,
                1,
                device.as_ptr(),
                9,
                ptr::null(),
                [0u8; 64].as_ptr(),
                &mut out,
            ),
            ItcStatus::NullPointer
        );
        assert!(out.is_null());
        assert!(last_error().contains("metadata"), "{}", last_error());
        // An X25519 key given as 3 bytes, and the subject null.
        assert_eq!(
            itc_transaction_new_publish_seal_key(
                owner,
                CHAIN,
                0,
                1,
                ptr::null(),
                1,
                [7u8; 3].as_ptr(),
                3,
                0,
                [0u8; 64].as_ptr(),
                &mut out,
            ),
            ItcStatus::NullPointer
        );
        assert!(out.is_null());
        assert!(last_error().contains("subject"), "{}", last_error());
        assert_eq!(itc_keypair_free(owner), ItcStatus::Ok);
        assert_eq!(itc_keypair_free(device_keypair), ItcStatus::Ok);
    }
}

#[test]
fn a_handle_of_the_wrong_kind_is_refused() {
    let key = keypair(1);
    unsafe {
        assert_eq!(
            itc_transaction_verify_signature(key.cast::<ItcTransaction>()),
            ItcStatus::InvalidHandle
        );
        assert!(last_error().contains("transaction"));
        assert_eq!(itc_transaction_free(key.cast()), ItcStatus::InvalidHandle);
        assert_eq!(itc_keypair_free(key), ItcStatus::Ok);
    }
}

#[test]
fn status_names_are_stable() {
    let name = |s: i32| {
        unsafe { CStr::from_ptr(itc_status_name(s)) }
            .to_str()
            .unwrap()
    };
    assert_eq!(name(0), "ok");
    assert_eq!(name(ItcStatus::DecodeFailed as i32), "decode failed");
    assert_eq!(name(12345), "unknown status");
}

#[test]
fn every_payload_round_trips_through_encoding_and_fields() {
    let owner = keypair(1);
    let device = keypair(2);
    let guest_key = keypair(3);
    let guest = public_key(guest_key);
    let owner_public = public_key(owner);
    let device_public = public_key(device);
    let mut pairing = [0u8; ITC_SIGNATURE_LEN];
    let mut message = [0u8; ITC_PAIRING_MESSAGE_LEN];
    unsafe {
        assert_eq!(
            itc_pairing_signature(
                device,
                CHAIN,
                owner_public.as_ptr(),
                2,
                pairing.as_mut_ptr()
            ),
            ItcStatus::Ok
        );
        assert_eq!(
            itc_pairing_message(owner_public.as_ptr(), 2, message.as_mut_ptr()),
            ItcStatus::Ok
        );
        assert_eq!(message[..32], owner_public);
        assert_eq!(message[32], 2);
        // The pairing signature covers the owner's key and the level ...
        assert_eq!(
            itc_verify(
                device_public.as_ptr(),
                ItcSigningDomain::DevicePairing as u32,
                CHAIN,
                message.as_ptr(),
                message.len(),
                pairing.as_ptr()
            ),
            ItcStatus::Ok
        );
        // ... not the owner's key alone.
        assert_ne!(
            itc_verify(
                device_public.as_ptr(),
                ItcSigningDomain::DevicePairing as u32,
                CHAIN,
                owner_public.as_ptr(),
                owner_public.len(),
                pairing.as_ptr()
            ),
            ItcStatus::Ok
        );
        // Levels above 3 do not exist.
        assert_eq!(
            itc_pairing_message(owner_public.as_ptr(), 4, message.as_mut_ptr()),
            ItcStatus::InvalidArgument
        );
        assert_eq!(
            itc_pairing_signature(
                device,
                CHAIN,
                owner_public.as_ptr(),
                4,
                pairing.as_mut_ptr()
            ),
            ItcStatus::InvalidArgument
        );
    }
    let metadata = [9u8; ITC_HASH_LEN];
    let mut transactions: Vec<(*mut ItcTransaction, ItcPayloadKind)> = Vec::new();
    let mut push = |kind, build: &dyn Fn(*mut *mut ItcTransaction) -> ItcStatus| {
        let mut tx = ptr::null_mut();
        assert_eq!(build(&mut tx), ItcStatus::Ok, "{kind:?}: {}", last_error());
        transactions.push((tx, kind));
    };
    unsafe {
        push(ItcPayloadKind::Transfer, &|out| {
            itc_transaction_new_transfer(owner, CHAIN, 0, 1, guest.as_ptr(), 100, out)
        });
        push(ItcPayloadKind::RegisterDevice, &|out| {
            itc_transaction_new_register_device(
                owner,
                CHAIN,
                1,
                1,
                device_public.as_ptr(),
                2,
                metadata.as_ptr(),
                pairing.as_ptr(),
                out,
            )
        });
        push(ItcPayloadKind::TransferDevice, &|out| {
            itc_transaction_new_transfer_device(
                owner,
                CHAIN,
                2,
                1,
                device_public.as_ptr(),
                guest.as_ptr(),
                out,
            )
        });
        push(ItcPayloadKind::GrantAccess, &|out| {
            itc_transaction_new_grant_access(
                owner,
                CHAIN,
                3,
                1,
                device_public.as_ptr(),
                guest.as_ptr(),
                2,
                50,
                out,
            )
        });
        push(ItcPayloadKind::RevokeAccess, &|out| {
            itc_transaction_new_revoke_access(
                owner,
                CHAIN,
                4,
                1,
                device_public.as_ptr(),
                guest.as_ptr(),
                out,
            )
        });
        push(ItcPayloadKind::Bond, &|out| {
            itc_transaction_new_bond(owner, CHAIN, 5, 1, 1000, out)
        });
        push(ItcPayloadKind::Unbond, &|out| {
            itc_transaction_new_unbond(owner, CHAIN, 6, 1, 400, out)
        });
        push(ItcPayloadKind::DagDeposit, &|out| {
            itc_transaction_new_dag_deposit(owner, CHAIN, 7, 1, 25, out)
        });
    }
    for (nonce, (tx, kind)) in transactions.into_iter().enumerate() {
        unsafe {
            assert_eq!(itc_transaction_verify_signature(tx), ItcStatus::Ok);
            let bytes = encode(tx);
            let mut decoded = ptr::null_mut();
            assert_eq!(
                itc_transaction_decode(bytes.as_ptr(), bytes.len(), &mut decoded),
                ItcStatus::Ok
            );
            let mut fields = std::mem::MaybeUninit::<ItcTransactionFields>::uninit();
            assert_eq!(
                itc_transaction_fields(decoded, fields.as_mut_ptr()),
                ItcStatus::Ok
            );
            let fields = fields.assume_init();
            assert_eq!(fields.payload.kind, kind as u32);
            assert_eq!(fields.nonce, nonce as u64);
            assert_eq!(fields.chain_id, CHAIN);
            assert_eq!(fields.sender, owner_public);
            match kind {
                ItcPayloadKind::Transfer => {
                    assert_eq!(
                        (fields.payload.account, fields.payload.amount),
                        (guest, 100)
                    )
                }
                ItcPayloadKind::RegisterDevice => {
                    assert_eq!(fields.payload.device, device_public);
                    assert_eq!(fields.payload.security_level, 2);
                    assert_eq!(fields.payload.metadata_hash, metadata);
                    assert_eq!(fields.payload.pairing_signature, pairing);
                }
                ItcPayloadKind::GrantAccess => {
                    assert_eq!(fields.payload.permissions, 2);
                    assert_eq!(fields.payload.expiry_height, 50);
                }
                ItcPayloadKind::Unbond => assert_eq!(fields.payload.amount, 400),
                ItcPayloadKind::DagDeposit => assert_eq!(fields.payload.amount, 25),
                _ => {}
            }
            // Rebuilding from the plain fields signs the same bytes.
            let mut rebuilt = ptr::null_mut();
            assert_eq!(
                itc_transaction_new(
                    owner,
                    fields.chain_id,
                    fields.nonce,
                    fields.fee,
                    &fields.payload,
                    &mut rebuilt
                ),
                ItcStatus::Ok
            );
            assert_eq!(encode(rebuilt), bytes);
            let (mut h1, mut h2) = ([0u8; 32], [0u8; 32]);
            itc_transaction_hash(tx, h1.as_mut_ptr());
            itc_transaction_hash(decoded, h2.as_mut_ptr());
            assert_eq!(h1, h2);
            for handle in [tx, decoded, rebuilt] {
                assert_eq!(itc_transaction_free(handle), ItcStatus::Ok);
            }
        }
    }
    unsafe {
        itc_keypair_free(owner);
        itc_keypair_free(device);
        itc_keypair_free(guest_key);
    }
}

#[test]
fn tampered_or_truncated_bytes_are_refused() {
    let owner = keypair(1);
    let mut tx = ptr::null_mut();
    unsafe {
        itc_transaction_new_bond(owner, CHAIN, 0, 1, 10, &mut tx);
        let mut bytes = encode(tx);
        let mut decoded = ptr::null_mut();
        assert_eq!(
            itc_transaction_decode(bytes.as_ptr(), bytes.len() - 1, &mut decoded),
            ItcStatus::DecodeFailed
        );
        assert!(decoded.is_null());
        assert!(
            last_error().starts_with("decode failed"),
            "{}",
            last_error()
        );
        let last = bytes.len() - 1;
        bytes[last] ^= 1; // flip a signature bit
        assert_eq!(
            itc_transaction_decode(bytes.as_ptr(), bytes.len(), &mut decoded),
            ItcStatus::Ok
        );
        assert_eq!(
            itc_transaction_verify_signature(decoded),
            ItcStatus::InvalidSignature
        );
        let mut small = [0u8; 8];
        let mut written = 0;
        assert_eq!(
            itc_transaction_encode(tx, small.as_mut_ptr(), small.len(), &mut written),
            ItcStatus::BufferTooSmall
        );
        assert_eq!(written, bytes.len());
        let bad_payload = ItcTransactionFields {
            chain_id: 0,
            sender: [0; 32],
            nonce: 0,
            fee: 0,
            payload: ItcPayload {
                kind: 42,
                device: [0; 32],
                account: [0; 32],
                amount: 0,
                security_level: 0,
                metadata_hash: [0; 32],
                pairing_signature: [0; 64],
                permissions: 0,
                expiry_height: 0,
                product: 0,
                version: 0,
                manifest: ItcFirmwareManifest {
                    product: 0,
                    version: 0,
                    image_hash: [0; 32],
                    image_size: 0,
                    min_version: 0,
                },
                has_signature: false,
                signature: [0; 64],
                suite: 0,
                key_seq: 0,
            },
            signature: [0; 64],
        };
        let mut out = ptr::null_mut();
        assert_eq!(
            itc_transaction_new(owner, CHAIN, 0, 0, &bad_payload.payload, &mut out),
            ItcStatus::InvalidArgument
        );
        itc_transaction_free(tx);
        itc_transaction_free(decoded);
        itc_keypair_free(owner);
    }
}
