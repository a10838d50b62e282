//! The committed UniFFI bindings (bindings/python, bindings/kotlin,
//! bindings/swift) must match what uniffi-bindgen generates from the built
//! library. Update them with:
//!
//!     ITC_UPDATE_BINDINGS=1 cargo test -p itc-ffi --test uniffi_bindings

mod common;

use std::path::Path;
use std::process::Command;

/// Where each language's generated files are committed, and which files.
const LANGUAGES: &[(&str, &str, &[&str])] = &[
    ("python", "bindings/python", &["itc.py"]),
    (
        "kotlin",
        "bindings/kotlin/src/main/kotlin",
        &["uniffi/itc/itc.kt"],
    ),
    (
        "swift",
        "bindings/swift",
        &["itc.swift", "itcFFI.h", "itcFFI.modulemap"],
    ),
];

fn generate(bindgen: &Path, language: &str, out_dir: &Path) {
    let _ = std::fs::remove_dir_all(out_dir);
    let output = Command::new(bindgen)
        .arg("generate")
        .arg(common::cdylib_path())
        .args(["--language", language, "--no-format", "--out-dir"])
        .arg(out_dir)
        .current_dir(common::workspace_root())
        .output()
        .expect("run uniffi-bindgen");
    assert!(
        output.status.success(),
        "uniffi-bindgen {language} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn committed_uniffi_bindings_match_the_library() {
    let bindgen = common::bindgen_path();
    let root = common::workspace_root();
    let update = std::env::var_os("ITC_UPDATE_BINDINGS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (language, committed_dir, files) in LANGUAGES {
        let out_dir = common::target_dir().join("uniffi-bindings").join(language);
        generate(&bindgen, language, &out_dir);
        for file in *files {
            let generated = std::fs::read_to_string(out_dir.join(file))
                .unwrap_or_else(|e| panic!("uniffi-bindgen did not write {file}: {e}"));
            let committed_path = root.join(committed_dir).join(file);
            let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
            if committed == generated {
                continue;
            }
            if update {
                std::fs::create_dir_all(committed_path.parent().unwrap()).unwrap();
                std::fs::write(&committed_path, generated).unwrap();
            } else {
                stale.push(format!("{committed_dir}/{file}"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated UniFFI bindings are out of date: {stale:?}\n\
         Regenerate them with:\n\n    ITC_UPDATE_BINDINGS=1 cargo test -p itc-ffi --test uniffi_bindings\n\n\
         and commit the result."
    );
}
