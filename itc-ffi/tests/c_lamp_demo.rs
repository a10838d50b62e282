//! bindings/c/lamp_demo.c, compiled with the system C compiler against the
//! static library and run: the lamp's side of the lighting flow from C.

mod common;

#[test]
fn c_lamp_demo_compiles_against_the_header_and_passes_every_check() {
    common::run_c_demo(
        "lamp_demo",
        &[
            "fresh command allowed",
            "replayed command denied",
            "forged command denied",
            "command after revocation denied",
        ],
    );
}
