//! Link settings of the contract: a 64 KiB stack instead of rustc's default
//! 1 MiB for wasm, so the module's initial memory stays far below the
//! 16 pages ChainCode accepts at deploy time.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=65536");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
