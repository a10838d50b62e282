//! The installable packages stay consistent with the code:
//!
//! * the Swift package (bindings/swift/Package.swift) carries copies of the
//!   UniFFI-generated Swift sources, header and module map; they must equal
//!   what uniffi-bindgen generates from the built library. Update them with
//!
//!       ITC_UPDATE_BINDINGS=1 cargo test -p itc-ffi --test packages
//!
//! * the JVM artefact (bindings/kotlin) and its consumer example carry the
//!   workspace's version, and the Python wheel takes it from Cargo.

mod common;

use std::path::Path;
use std::process::Command;

/// Generated file -> its copy in the Swift package.
const SWIFT_COPIES: &[(&str, &str)] = &[
    ("itc.swift", "bindings/swift/Sources/ITC/itc.swift"),
    ("itcFFI.h", "bindings/swift/Sources/itcFFI/itcFFI.h"),
];

/// The package's module map: the generated one, plus a `link` line so that
/// a module import links the library.
fn package_modulemap(generated: &str) -> String {
    let mut out = Vec::new();
    for line in generated.split('\n') {
        out.push(line.to_string());
        if line.trim_start().starts_with("header ") {
            out.push("    link \"itc_ffi\"".to_string());
        }
    }
    out.join("\n")
}

fn generate_swift(out_dir: &Path) {
    let _ = std::fs::remove_dir_all(out_dir);
    let output = Command::new(common::bindgen_path())
        .arg("generate")
        .arg(common::cdylib_path())
        .args(["--language", "swift", "--no-format", "--out-dir"])
        .arg(out_dir)
        .current_dir(common::workspace_root())
        .output()
        .expect("run uniffi-bindgen");
    assert!(
        output.status.success(),
        "uniffi-bindgen swift failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn swift_package_copies_match_the_generated_bindings() {
    let root = common::workspace_root();
    let out_dir = common::target_dir()
        .join("uniffi-bindings")
        .join("swift-package");
    generate_swift(&out_dir);
    let read = |path: &Path| {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    };
    let mut expected: Vec<(String, String)> = SWIFT_COPIES
        .iter()
        .map(|(generated, copy)| (copy.to_string(), read(&out_dir.join(generated))))
        .collect();
    let modulemap = read(&out_dir.join("itcFFI.modulemap"));
    assert!(
        modulemap.contains("module itcFFI") && modulemap.contains("header \"itcFFI.h\""),
        "unexpected generated module map:\n{modulemap}"
    );
    expected.push((
        "bindings/swift/Sources/itcFFI/module.modulemap".into(),
        package_modulemap(&modulemap),
    ));

    let update = std::env::var_os("ITC_UPDATE_BINDINGS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (copy, contents) in &expected {
        let path = root.join(copy);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(contents.as_str()) {
            continue;
        }
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, contents).unwrap();
        } else {
            stale.push(copy.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "the Swift package's copies of the generated bindings are out of date: {stale:?}\n\
         Regenerate them with:\n\n    ITC_UPDATE_BINDINGS=1 cargo test -p itc-ffi --test packages\n\n\
         and commit the result."
    );
}

#[test]
fn swift_package_declares_the_generated_modules_and_finds_the_library_by_pkg_config() {
    let root = common::workspace_root();
    let manifest = std::fs::read_to_string(root.join("bindings/swift/Package.swift")).unwrap();
    assert!(manifest.starts_with("// swift-tools-version:"));
    // itc.swift imports `itcFFI`; the system-library target provides it, its
    // flags come from the pkg-config file scripts/install-c.sh installs.
    let swift = std::fs::read_to_string(root.join("bindings/swift/Sources/ITC/itc.swift")).unwrap();
    assert!(swift.contains("import itcFFI"));
    for needle in [
        "name: \"itcFFI\"",
        "path: \"Sources/itcFFI\"",
        "pkgConfig: \"itc\"",
        "name: \"ITC\"",
        "path: \"Sources/ITC\"",
        "dependencies: [\"itcFFI\"]",
    ] {
        assert!(manifest.contains(needle), "Package.swift lacks {needle}");
    }
    let installer = std::fs::read_to_string(root.join("scripts/install-c.sh")).unwrap();
    assert!(installer.contains("lib/pkgconfig/itc.pc"));
    assert!(installer.contains("-litc_ffi"));
}

/// The text of the first `<tag>...</tag>` after `after` in `xml`.
fn xml_value<'a>(xml: &'a str, after: &str, tag: &str) -> &'a str {
    let start = xml
        .find(after)
        .unwrap_or_else(|| panic!("{after} not found"));
    let rest = &xml[start..];
    let open = format!("<{tag}>");
    let from = rest
        .find(&open)
        .unwrap_or_else(|| panic!("<{tag}> not found"))
        + open.len();
    let to = rest[from..].find(&format!("</{tag}>")).unwrap() + from;
    &rest[from..to]
}

#[test]
fn jvm_and_python_packages_carry_the_workspace_version() {
    let root = common::workspace_root();
    let version = env!("CARGO_PKG_VERSION");
    let pom = std::fs::read_to_string(root.join("bindings/kotlin/pom.xml")).unwrap();
    assert_eq!(
        xml_value(&pom, "<artifactId>itc-kotlin</artifactId>", "version"),
        version
    );
    let consumer = std::fs::read_to_string(root.join("bindings/kotlin-consumer/pom.xml")).unwrap();
    assert_eq!(xml_value(&consumer, "<properties>", "itc.version"), version);
    // maturin reads the version from Cargo; a static one would drift.
    let pyproject = std::fs::read_to_string(root.join("bindings/python/pyproject.toml")).unwrap();
    assert!(pyproject.contains("dynamic = [\"version\"]"));
    assert!(!pyproject
        .lines()
        .any(|l| l.trim_start().starts_with("version")));
    assert!(pyproject.contains("manifest-path = \"../../itc-ffi/Cargo.toml\""));
}
