//! Thread-safety promises of the C ABI: shared immutable handles, and one
//! error message per thread.

use itc_ffi::c_api::keys::*;
use itc_ffi::c_api::{itc_last_error_message, ItcStatus};
use std::ffi::CStr;
use std::ptr;

/// A handle pointer that tests move across threads (the C ABI documents
/// key pairs as shareable).
#[derive(Clone, Copy)]
struct Shared(*mut ItcKeypair);
// SAFETY: ItcKeypair is immutable after creation; the test frees it only
// after every thread has joined.
unsafe impl Send for Shared {}

#[test]
fn a_keypair_handle_signs_from_several_threads_at_once() {
    let mut keypair = ptr::null_mut();
    assert_eq!(
        unsafe { itc_keypair_from_seed([5; 32].as_ptr(), &mut keypair) },
        ItcStatus::Ok
    );
    let shared = Shared(keypair);
    let signatures: Vec<[u8; ITC_SIGNATURE_LEN]> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let shared = shared;
                let mut signature = [0u8; ITC_SIGNATURE_LEN];
                for _ in 0..50 {
                    let status = unsafe {
                        itc_keypair_sign(shared.0, 4, 7, b"on".as_ptr(), 2, signature.as_mut_ptr())
                    };
                    assert_eq!(status, ItcStatus::Ok);
                }
                signature
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .collect();
    assert!(signatures.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(unsafe { itc_keypair_free(keypair) }, ItcStatus::Ok);
}

#[test]
fn each_thread_sees_only_its_own_error_message() {
    let message = || {
        unsafe { CStr::from_ptr(itc_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    };
    let mut out = ptr::null_mut();
    assert_eq!(
        unsafe { itc_keypair_from_seed(ptr::null(), &mut out) },
        ItcStatus::NullPointer
    );
    let here = message();
    let there = std::thread::spawn(move || {
        let mut out = ptr::null_mut();
        let status = unsafe { itc_keypair_from_seed([1; 32].as_ptr(), &mut out) };
        assert_eq!(status, ItcStatus::Ok);
        unsafe { itc_keypair_free(out) };
        message()
    })
    .join()
    .unwrap();
    assert!(here.contains("seed"), "{here}");
    assert_eq!(there, "", "a thread with no failure has no message");
    assert_eq!(
        message(),
        here,
        "other threads' calls leave this thread's message"
    );
}
