//! Puts memory.x on the linker's search path (cortex-m-rt's link.x includes
//! it) and tells the firmware where the host's test vectors are.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::copy(manifest.join("memory.x"), out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");

    // Written by `cargo run -p itc-examples --bin lamp-vectors -- DIR`.
    let vectors = match std::env::var_os("ITC_LAMP_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => manifest.join("target/vectors"),
    };
    let vectors = vectors.canonicalize().unwrap_or_else(|_| {
        panic!(
            "no lamp vectors in {}: run `cargo run -p itc-examples --bin lamp-vectors -- {0}` \
             first, or set ITC_LAMP_VECTORS_DIR (scripts/m4-lamp.sh does both)",
            vectors.display()
        )
    });
    if !vectors.join("cases.rs").is_file() {
        panic!(
            "{} has no cases.rs: regenerate the lamp vectors",
            vectors.display()
        );
    }
    println!("cargo:rustc-env=ITC_LAMP_VECTORS_DIR={}", vectors.display());
    println!("cargo:rerun-if-env-changed=ITC_LAMP_VECTORS_DIR");
    println!("cargo:rerun-if-changed={}", vectors.display());
    for entry in std::fs::read_dir(&vectors).expect("read the vectors directory") {
        let path = entry.expect("directory entry").path();
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
