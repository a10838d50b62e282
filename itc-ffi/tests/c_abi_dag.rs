//! The C ABI for DAG transactions: build, proof of work with a bound,
//! encode, decode.

use itc_ffi::c_api::dag::*;
use itc_ffi::c_api::keys::{itc_keypair_free, itc_keypair_from_seed};
use itc_ffi::c_api::ItcStatus;
use std::ptr;

const CHAIN: u32 = 7;

fn parents() -> Vec<u8> {
    let mut parents = vec![1u8; 32];
    parents.extend([2u8; 32]);
    parents
}

#[test]
fn a_dag_transaction_gets_its_work_within_the_bound_and_round_trips() {
    unsafe {
        let mut issuer = ptr::null_mut();
        assert_eq!(
            itc_keypair_from_seed([4; 32].as_ptr(), &mut issuer),
            ItcStatus::Ok
        );
        let parents = parents();
        let record = b"21.5 C";
        let mut tx = ptr::null_mut();
        assert_eq!(
            itc_dag_transaction_new_data(
                issuer,
                CHAIN,
                parents.as_ptr(),
                2,
                0,
                record.as_ptr(),
                record.len(),
                &mut tx
            ),
            ItcStatus::Ok
        );
        let mut bits = 0;
        assert_eq!(itc_dag_required_pow_bits(0, 0, &mut bits), ItcStatus::Ok);
        assert!(bits > 0 && bits <= 16, "level 0 is cheap: {bits}");
        let mut nonce = 0;
        assert_eq!(
            itc_dag_transaction_solve_pow(tx, bits, 1 << 24, &mut nonce),
            ItcStatus::Ok
        );
        let mut found = 0;
        assert_eq!(itc_dag_transaction_pow_bits(tx, &mut found), ItcStatus::Ok);
        assert!(found >= bits);

        let mut bytes = vec![0u8; 4096];
        let mut written = 0;
        assert_eq!(
            itc_dag_transaction_encode(tx, bytes.as_mut_ptr(), bytes.len(), &mut written),
            ItcStatus::Ok
        );
        let mut decoded = ptr::null_mut();
        assert_eq!(
            itc_dag_transaction_decode(bytes.as_ptr(), written, &mut decoded),
            ItcStatus::Ok
        );
        assert_eq!(itc_dag_transaction_verify_signature(decoded), ItcStatus::Ok);
        let (mut id, mut id_again) = ([0u8; 32], [0u8; 32]);
        itc_dag_transaction_id(tx, id.as_mut_ptr());
        itc_dag_transaction_id(decoded, id_again.as_mut_ptr());
        assert_eq!(id, id_again);

        assert_eq!(itc_dag_transaction_free(tx), ItcStatus::Ok);
        assert_eq!(itc_dag_transaction_free(decoded), ItcStatus::Ok);
        itc_keypair_free(issuer);
    }
}

#[test]
fn proof_of_work_stops_at_the_iteration_bound() {
    unsafe {
        let mut issuer = ptr::null_mut();
        itc_keypair_from_seed([4; 32].as_ptr(), &mut issuer);
        let parents = parents();
        let mut tx = ptr::null_mut();
        assert_eq!(
            itc_dag_transaction_new_transfer(
                issuer,
                CHAIN,
                parents.as_ptr(),
                2,
                0,
                [9; 32].as_ptr(),
                5,
                &mut tx
            ),
            ItcStatus::Ok
        );
        let mut nonce = 0;
        assert_eq!(
            itc_dag_transaction_solve_pow(tx, 40, 100, &mut nonce),
            ItcStatus::PowExhausted
        );
        itc_dag_transaction_free(tx);
        itc_keypair_free(issuer);
    }
}

#[test]
fn malformed_dag_transactions_are_refused() {
    unsafe {
        let mut issuer = ptr::null_mut();
        itc_keypair_from_seed([4; 32].as_ptr(), &mut issuer);
        let parents = parents();
        let mut tx = ptr::null_mut();
        // No parent is too few (one is enough since itc-dag allows 1..=8).
        assert_eq!(
            itc_dag_transaction_new_command(
                issuer,
                CHAIN,
                parents.as_ptr(),
                0,
                0,
                [9; 32].as_ptr(),
                b"on".as_ptr(),
                2,
                &mut tx
            ),
            ItcStatus::InvalidArgument
        );
        assert!(tx.is_null());
        // A zero transfer is refused.
        assert_eq!(
            itc_dag_transaction_new_transfer(
                issuer,
                CHAIN,
                parents.as_ptr(),
                2,
                0,
                [9; 32].as_ptr(),
                0,
                &mut tx
            ),
            ItcStatus::InvalidArgument
        );
        assert_eq!(
            itc_dag_transaction_decode(b"junk".as_ptr(), 4, &mut tx),
            ItcStatus::DecodeFailed
        );
        itc_keypair_free(issuer);
    }
}
