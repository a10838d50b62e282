//! The committed C header must match what cbindgen generates from the code.

use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate_header() -> String {
    let crate_dir = crate_dir();
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("read itc-ffi/cbindgen.toml");
    // The reason enums come from macros (one list per enum, in its home
    // crate), which cbindgen does not expand: declare them verbatim.
    let after_includes = config.after_includes.get_or_insert_with(String::new);
    after_includes
        .push_str("\n\n/* Reason codes: stable, generated from their one definition. */\n");
    after_includes.push_str(&itc_ffi::codes::c_declarations());
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

/// The value of `#define`-like enum constant `name` in the committed header
/// (cbindgen writes `NAME = value,` lines).
fn header_constant(header: &str, name: &str) -> Option<u32> {
    header.lines().find_map(|line| {
        let (left, right) = line.trim().split_once('=')?;
        (left.trim() == name).then(|| right.trim().trim_end_matches(',').trim().parse().ok())?
    })
}

fn screaming(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[test]
fn every_deny_and_update_reason_code_is_a_c_constant_with_itc_spv_value() {
    let header = std::fs::read_to_string(header_path()).expect("read itc.h");
    for reason in itc_spv::DenyReason::ALL {
        let name = format!("ITC_DENY_REASON_{}", screaming(&format!("{reason:?}")));
        assert_eq!(
            header_constant(&header, &name),
            Some(u32::from(reason.code())),
            "{name}"
        );
    }
    use itc_spv::InvalidReason as R;
    let invalid = [
        R::WrongChain,
        R::NonIncreasingHeight,
        R::NonMonotonicTime,
        R::HeaderFromFuture,
        R::TrustedStateExpired,
        R::CertificateMismatch,
        R::PreviousHashMismatch,
        R::UnexpectedValidatorSet,
        R::ValidatorSetMismatch,
        R::MissingValidatorSet,
        R::InvalidSignature,
        R::NotEnoughSignatures,
        R::MalformedCertificate,
        R::ConflictingHeader,
    ];
    let codes: Vec<u16> = invalid.iter().map(|r| r.code()).collect();
    assert_eq!(codes, (1..=14).collect::<Vec<u16>>());
    for reason in invalid {
        let name = format!("ITC_INVALID_REASON_{}", screaming(&format!("{reason:?}")));
        assert_eq!(
            header_constant(&header, &name),
            Some(u32::from(reason.code())),
            "{name}"
        );
    }
    for (name, value) in [
        ("ITC_BOOTSTRAP_ERROR_PINNED_HASH_MISMATCH", 1),
        ("ITC_BOOTSTRAP_ERROR_VALIDATOR_SET_MISMATCH", 2),
        ("ITC_BOOTSTRAP_ERROR_HEADER_TOO_OLD", 3),
        ("ITC_BOOTSTRAP_ERROR_HEADER_FROM_FUTURE", 4),
        ("ITC_RECOVERY_ERROR_WRONG_CHAIN", 1),
        ("ITC_RECOVERY_ERROR_NOT_NEWER", 2),
        ("ITC_RECOVERY_ERROR_HEADER_FROM_FUTURE", 3),
        ("ITC_RECOVERY_ERROR_HEADER_TOO_OLD", 4),
        ("ITC_RECOVERY_ERROR_CERTIFICATE", 5),
        ("ITC_RECOVERY_ERROR_BAD_PROOF", 6),
        ("ITC_RECOVERY_ERROR_NO_PROVEN_OWNER", 7),
        ("ITC_RECOVERY_ERROR_OWNER_CHANGED", 8),
        ("ITC_RECOVERY_ERROR_BAD_SIGNATURE", 9),
        ("ITC_STATUS_BOOTSTRAP_REJECTED", 9),
        ("ITC_STATUS_RECOVERY_REJECTED", 16),
    ] {
        assert_eq!(header_constant(&header, name), Some(value), "{name}");
    }
}
