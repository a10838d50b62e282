//! The installable packages stay consistent with the code:
//!
//! * the Swift package (bindings/swift/Package.swift) declares the
//!   UniFFI-generated modules in Sources/ (whose contents the test
//!   `uniffi_bindings` keeps equal to what uniffi-bindgen generates) and
//!   finds the library through pkg-config;
//! * the JVM artefact (bindings/kotlin) and its consumer example carry the
//!   workspace's version, and the Python wheel takes it from Cargo.

mod common;

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
