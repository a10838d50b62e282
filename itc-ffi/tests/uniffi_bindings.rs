//! The committed UniFFI bindings (bindings/python, bindings/kotlin, and
//! the Swift package's sources in bindings/swift/Sources) must match what
//! uniffi-bindgen generates from the built library. Update them with:
//!
//!     ITC_UPDATE_BINDINGS=1 cargo test -p itc-ffi --test uniffi_bindings

mod common;

use std::path::Path;
use std::process::Command;

/// How a generated file is committed: its name in uniffi-bindgen's output,
/// where it is committed, and how its contents are adjusted (the Swift
/// module map gains a `link` line, so importing the module links the
/// library).
struct Committed {
    generated: &'static str,
    path: &'static str,
    adjust: fn(String) -> String,
}

fn as_generated(contents: String) -> String {
    contents
}

/// The Swift package's module map: the generated one plus `link "itc_ffi"`.
fn with_link_line(generated: String) -> String {
    let mut out = Vec::new();
    for line in generated.split('\n') {
        out.push(line.to_string());
        if line.trim_start().starts_with("header ") {
            out.push("    link \"itc_ffi\"".to_string());
        }
    }
    out.join("\n")
}

/// Each language and where its generated files are committed. The Swift
/// files live only in the Swift package (bindings/swift/Sources).
const LANGUAGES: &[(&str, &[Committed])] = &[
    (
        "python",
        &[Committed {
            generated: "itc.py",
            path: "bindings/python/itc.py",
            adjust: as_generated,
        }],
    ),
    (
        "kotlin",
        &[Committed {
            generated: "uniffi/itc/itc.kt",
            path: "bindings/kotlin/src/main/kotlin/uniffi/itc/itc.kt",
            adjust: as_generated,
        }],
    ),
    (
        "swift",
        &[
            Committed {
                generated: "itc.swift",
                path: "bindings/swift/Sources/ITC/itc.swift",
                adjust: as_generated,
            },
            Committed {
                generated: "itcFFI.h",
                path: "bindings/swift/Sources/itcFFI/itcFFI.h",
                adjust: as_generated,
            },
            Committed {
                generated: "itcFFI.modulemap",
                path: "bindings/swift/Sources/itcFFI/module.modulemap",
                adjust: with_link_line,
            },
        ],
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
    for (language, files) in LANGUAGES {
        let out_dir = common::target_dir().join("uniffi-bindings").join(language);
        generate(&bindgen, language, &out_dir);
        for file in *files {
            let generated = std::fs::read_to_string(out_dir.join(file.generated))
                .unwrap_or_else(|e| panic!("uniffi-bindgen did not write {}: {e}", file.generated));
            let expected = (file.adjust)(generated);
            let committed_path = root.join(file.path);
            let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
            if committed == expected {
                continue;
            }
            if update {
                std::fs::create_dir_all(committed_path.parent().unwrap()).unwrap();
                std::fs::write(&committed_path, expected).unwrap();
            } else {
                stale.push(file.path);
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
