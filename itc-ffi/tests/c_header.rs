//! The committed C header must match what cbindgen generates from the code.

use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate_header() -> String {
    let crate_dir = crate_dir();
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("read itc-ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

fn header_path() -> PathBuf {
    crate_dir().join("../bindings/c/itc.h")
}

fn update_requested() -> bool {
    std::env::var_os("ITC_UPDATE_BINDINGS").is_some_and(|v| v == "1")
}

fn write_if_changed(path: &Path, contents: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
        std::fs::write(path, contents).expect("write header");
    }
}

#[test]
fn committed_header_matches_the_code() {
    let generated = generate_header();
    let path = header_path();
    if update_requested() {
        write_if_changed(&path, &generated);
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        panic!(
            "bindings/c/itc.h is out of date with itc-ffi's C ABI.\n\
             Regenerate it with:\n\n    ITC_UPDATE_BINDINGS=1 cargo test -p itc-ffi --test c_header\n\n\
             and commit the result."
        );
    }
}
