//! bindings/c/seal_firmware_demo.c, compiled with the system C compiler
//! against the static library and run: sealed readings and a firmware
//! update from C.

mod common;

#[test]
fn c_seal_firmware_demo_compiles_against_the_header_and_passes_every_check() {
    common::run_c_demo(
        "seal_firmware_demo",
        &[
            "owner's sealing key proven",
            "owner opens the sealed reading",
            "moved reading refused (context mismatch)",
            "firmware 1.1 verified and installed",
            "tampered image refused",
            "old version refused (not newer)",
            "revoked release refused",
            "update at a stale header refused",
        ],
    );
}
