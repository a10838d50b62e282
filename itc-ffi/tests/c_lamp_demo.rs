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
            "owner not locked out by the guest's time",
            "recorded command delivered after the window denied (command too old)",
            "command asking for no permission denied (empty action)",
            "grant made before the lamp was transferred away and back denied (not granted)",
            "lamp follows the chain across the epoch boundary",
            "the owner's recovery brings the lamp back to a recent header",
            "bootstrap from a pinned header older than the trust period refused (header too old)",
            "deny reasons 1..15 and update reasons 1..14 all named",
        ],
    );
}
