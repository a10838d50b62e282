//! bindings/c/chaincode_demo.c, compiled with the system C compiler against
//! the static library and run: a ChainCode campaign from C.

mod common;

#[test]
fn c_chaincode_demo_compiles_against_the_header_and_passes_every_check() {
    common::run_c_demo(
        "chaincode_demo",
        &[
            "campaign released",
            "second contribution refused",
            "payment proven",
            "contribution over budget refused",
            "budget history shows the charge",
        ],
    );
}
