//! Reason codes never change. The tables below are the committed record of
//! every stable (name, code) pair; each is checked against the canonical
//! enum in its home crate, the UniFFI enum, the C header and the generated
//! Python, Kotlin and Swift bindings. A failure here means a code was
//! renumbered, renamed or removed: put it back. A new reason is added at
//! the end of its list (in the home crate) and of its table here.

use std::path::PathBuf;

const DENY_REASON: &[(&str, u32)] = &[
    ("WrongChain", 1),
    ("WrongDevice", 2),
    ("StaleHeader", 3),
    ("UnknownHeader", 4),
    ("Replayed", 5),
    ("BadSignature", 6),
    ("BadProof", 7),
    ("NotGranted", 8),
    ("Revoked", 9),
    ("Expired", 10),
    ("InsufficientPermission", 11),
    ("CommandFromFuture", 12),
    ("CommandTooOld", 13),
    ("EmptyAction", 14),
    ("BelowReplayFloor", 15),
];

const UPDATE_REFUSAL: &[(&str, u32)] = &[
    ("BadProof", 1),
    ("UnknownProduct", 2),
    ("NoRelease", 3),
    ("WrongProduct", 4),
    ("BadSignature", 5),
    ("Revoked", 6),
    ("NotNewer", 7),
    ("BelowMinimum", 8),
    ("ImageTooLarge", 9),
    ("ImageTooLong", 10),
    ("ImageTooShort", 11),
    ("ImageHashMismatch", 12),
    ("StaleHeader", 13),
];

const SEAL_REFUSAL: &[(&str, u32)] = &[
    ("NoRecipients", 1),
    ("TooManyRecipients", 2),
    ("PlaintextTooLong", 3),
    ("InvalidPublicKey", 4),
    ("SuiteMismatch", 5),
    ("ContextMismatch", 6),
    ("NotARecipient", 7),
    ("OpenFailed", 8),
    ("Encapsulation", 9),
];

const INVALID_REASON: &[(&str, u32)] = &[
    ("WrongChain", 1),
    ("NonIncreasingHeight", 2),
    ("NonMonotonicTime", 3),
    ("HeaderFromFuture", 4),
    ("TrustedStateExpired", 5),
    ("CertificateMismatch", 6),
    ("PreviousHashMismatch", 7),
    ("UnexpectedValidatorSet", 8),
    ("ValidatorSetMismatch", 9),
    ("MissingValidatorSet", 10),
    ("InvalidSignature", 11),
    ("NotEnoughSignatures", 12),
    ("MalformedCertificate", 13),
    ("ConflictingHeader", 14),
];

const BOOTSTRAP_ERROR: &[(&str, u32)] = &[
    ("PinnedHashMismatch", 1),
    ("ValidatorSetMismatch", 2),
    ("HeaderTooOld", 3),
    ("HeaderFromFuture", 4),
];

const RECOVERY_ERROR: &[(&str, u32)] = &[
    ("WrongChain", 1),
    ("NotNewer", 2),
    ("HeaderFromFuture", 3),
    ("HeaderTooOld", 4),
    ("Certificate", 5),
    ("BadProof", 6),
    ("NoProvenOwner", 7),
    ("OwnerChanged", 8),
    ("BadSignature", 9),
];

fn table(pairs: impl IntoIterator<Item = (&'static str, u32)>) -> Vec<(&'static str, u32)> {
    pairs.into_iter().collect()
}

fn repository_file(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn screaming_snake(name: &str) -> String {
    let mut out = String::new();
    for (index, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The lines of the first block in `text` that starts with a line
/// containing `start`, up to the first line (after it) that starts with
/// `end`.
fn block<'a>(text: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|line| !line.contains(start));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no line containing {start:?}"));
    std::iter::once(first)
        .chain(lines.take_while(|line| !line.starts_with(end)))
        .collect()
}

/// `NAME = value` constants of the C header.
fn c_constant(header: &str, name: &str) -> Option<u32> {
    header.lines().find_map(|line| {
        let (left, right) = line.trim().split_once('=')?;
        (left.trim() == name).then(|| right.trim().trim_end_matches(',').trim().parse().ok())?
    })
}

fn check_c_header(c_enum: &str, expected: &[(&str, u32)]) {
    let header = repository_file("bindings/c/itc.h");
    let prefix = screaming_snake(c_enum);
    assert!(
        header.contains(&format!("typedef uint32_t {c_enum};")),
        "{c_enum} is a uint32_t in itc.h"
    );
    for (name, code) in expected {
        let constant = format!("{prefix}_{}", screaming_snake(name));
        assert_eq!(c_constant(&header, &constant), Some(*code), "{constant}");
    }
}

/// The (name, code) pairs the generated bindings give a UniFFI enum.
fn check_foreign_bindings(name: &str, expected: &[(&str, u32)]) {
    let python = repository_file("bindings/python/itc.py");
    let python = block(&python, &format!("class {name}(enum.Enum):"), "class ");
    let kotlin = repository_file("bindings/kotlin/src/main/kotlin/uniffi/itc/itc.kt");
    let kotlin = block(
        &kotlin,
        &format!("enum class {name}(val value: kotlin.UInt)"),
        "}",
    );
    let swift = repository_file("bindings/swift/Sources/ITC/itc.swift");
    let swift = block(&swift, &format!("public enum {name}: UInt32"), "}");
    let python: Vec<(String, u32)> = python
        .iter()
        .filter_map(|line| {
            let (left, right) = line.trim().split_once(" = ")?;
            Some((left.to_string(), right.parse().ok()?))
        })
        .collect();
    let kotlin: Vec<(String, u32)> = kotlin
        .iter()
        .filter_map(|line| {
            let (left, right) = line.trim().trim_end_matches([',', ';']).split_once('(')?;
            Some((left.to_string(), right.strip_suffix("u)")?.parse().ok()?))
        })
        .collect();
    let swift: Vec<(String, u32)> = swift
        .iter()
        .filter_map(|line| {
            let (left, right) = line.trim().strip_prefix("case ")?.split_once(" = ")?;
            Some((left.to_string(), right.parse().ok()?))
        })
        .collect();
    let screaming: Vec<(String, u32)> = expected
        .iter()
        .map(|(name, code)| (screaming_snake(name), *code))
        .collect();
    let camel: Vec<(String, u32)> = expected
        .iter()
        .map(|(name, code)| (lower_camel(name), *code))
        .collect();
    assert_eq!(python, screaming, "Python {name}");
    assert_eq!(kotlin, screaming, "Kotlin {name}");
    assert_eq!(swift, camel, "Swift {name}");
}

#[test]
fn deny_reason_codes_never_change() {
    use itc_ffi::api::light_client::DenyReason;
    let canonical = table(itc_spv::DenyReason::ALL.map(|r| (r.name(), u32::from(r.code()))));
    assert_eq!(canonical, DENY_REASON, "itc_spv::DenyReason");
    for (name, code) in DENY_REASON {
        let reason = itc_spv::DenyReason::from_code(*code as u16).expect("known code");
        assert_eq!(reason.name(), *name);
        let ours = DenyReason::from(reason);
        assert_eq!(
            (format!("{ours:?}"), u32::from(ours.code())),
            (name.to_string(), *code)
        );
        assert_eq!(ours as u32, *code);
    }
    assert_eq!(DenyReason::ALL.len(), DENY_REASON.len());
    check_c_header("ItcDenyReason", DENY_REASON);
    assert_eq!(
        c_constant(&repository_file("bindings/c/itc.h"), "ITC_DENY_REASON_NONE"),
        Some(0)
    );
    check_foreign_bindings("DenyReason", DENY_REASON);
}

#[test]
fn update_refusal_codes_never_change() {
    use itc_ffi::api::firmware::UpdateRefusal;
    let canonical = table(itc_spv::UpdateRefusal::ALL.map(|r| (r.name(), u32::from(r.code()))));
    assert_eq!(canonical, UPDATE_REFUSAL, "itc_spv::UpdateRefusal");
    let ours = table(UpdateRefusal::ALL.map(|r| (r.to_core().name(), r.code())));
    assert_eq!(ours, UPDATE_REFUSAL, "itc_ffi UpdateRefusal");
    check_c_header("ItcUpdateRefusal", UPDATE_REFUSAL);
    check_foreign_bindings("UpdateRefusal", UPDATE_REFUSAL);
}

#[test]
fn seal_refusal_codes_never_change() {
    use itc_ffi::api::seal::SealRefusal;
    let canonical =
        table(itc_core::seal::SealRefusal::ALL.map(|r| (r.name(), u32::from(r.code()))));
    assert_eq!(canonical, SEAL_REFUSAL, "itc_core::seal::SealRefusal");
    let ours = table(SealRefusal::ALL.map(|r| (r.to_core().name(), r.code())));
    assert_eq!(ours, SEAL_REFUSAL, "itc_ffi SealRefusal");
    check_c_header("ItcSealRefusal", SEAL_REFUSAL);
    check_foreign_bindings("SealRefusal", SEAL_REFUSAL);
}

#[test]
fn invalid_reason_codes_never_change() {
    let canonical = table(itc_spv::InvalidReason::ALL.map(|r| (r.name(), u32::from(r.code()))));
    assert_eq!(canonical, INVALID_REASON, "itc_spv::InvalidReason");
    check_c_header("ItcInvalidReason", INVALID_REASON);
    assert_eq!(
        c_constant(
            &repository_file("bindings/c/itc.h"),
            "ITC_INVALID_REASON_NONE"
        ),
        Some(0)
    );
}

#[test]
fn bootstrap_error_codes_never_change() {
    let canonical = table(itc_spv::BootstrapError::ALL.map(|r| (r.name(), u32::from(r.code()))));
    assert_eq!(canonical, BOOTSTRAP_ERROR, "itc_spv::BootstrapError");
    for error in itc_spv::BootstrapError::ALL {
        assert_eq!(
            itc_ffi::ItcError::from(error).reason_code(),
            u32::from(error.code())
        );
    }
    check_c_header("ItcBootstrapError", BOOTSTRAP_ERROR);
}

#[test]
fn recovery_error_codes_never_change() {
    use itc_spv::{InvalidReason, RecoveryError as R};
    let errors = [
        R::WrongChain,
        R::NotNewer,
        R::HeaderFromFuture,
        R::HeaderTooOld,
        R::Certificate(InvalidReason::NotEnoughSignatures),
        R::BadProof,
        R::NoProvenOwner,
        R::OwnerChanged,
        R::BadSignature,
    ];
    let ours: Vec<(String, u32)> = errors
        .into_iter()
        .map(|error| {
            let name = format!("{error:?}");
            let name = name.split('(').next().unwrap_or_default().to_string();
            (name, itc_ffi::ItcError::from(error).reason_code())
        })
        .collect();
    let expected = owned(RECOVERY_ERROR);
    assert_eq!(ours, expected, "ItcError::RecoveryRejected codes");
    check_c_header("ItcRecoveryError", RECOVERY_ERROR);
}

// The C ABI's other numbered enums. Each is one Rust enum that cbindgen
// declares in itc.h; UniFFI sees the signing domains by position (Kotlin and
// Swift give no numbers) and campaign outcomes by name.

const SIGNING_DOMAIN: &[(&str, u32)] = &[
    ("Transaction", 0),
    ("Vote", 1),
    ("Consensus", 2),
    ("DevicePairing", 3),
    ("DeviceCommand", 4),
    ("DagTransaction", 5),
];

const PAYLOAD_KIND: &[(&str, u32)] = &[
    ("Transfer", 0),
    ("RegisterDevice", 1),
    ("TransferDevice", 2),
    ("GrantAccess", 3),
    ("RevokeAccess", 4),
    ("Bond", 5),
    ("Unbond", 6),
    ("DagDeposit", 7),
    ("PublishSealKey", 8),
    ("RegisterProduct", 9),
    ("PublishRelease", 10),
    ("RevokeRelease", 11),
];

const UPDATE_OUTCOME: &[(&str, u32)] = &[("Success", 0), ("NotEnoughTrust", 1), ("Invalid", 2)];

/// (name, code, the UniFFI bindings' outcome string).
const CAMPAIGN_OUTCOME: &[(&str, u32, &str)] = &[
    ("Open", 0, "open"),
    ("Released", 1, "released"),
    ("BelowMinimum", 2, "below_minimum"),
    ("FailedMissingUnmask", 3, "failed_missing_unmask"),
    ("FailedSumMismatch", 4, "failed_sum_mismatch"),
    ("FailedContractUnusable", 5, "failed_contract_unusable"),
];

/// The `NAME = code` constants of a cbindgen enum in itc.h, in order.
fn c_enum_constants(c_enum: &str) -> Vec<(String, u32)> {
    let header = repository_file("bindings/c/itc.h");
    let prefix = format!("{}_", screaming_snake(c_enum));
    block(&header, &format!("enum {c_enum}"), "};")
        .iter()
        .filter_map(|line| {
            let (left, right) = line.trim().split_once(" = ")?;
            let name = left.strip_prefix(&prefix)?.to_string();
            Some((name, right.trim_end_matches(',').parse().ok()?))
        })
        .collect()
}

fn owned(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
    pairs
        .iter()
        .map(|(name, code)| (name.to_string(), *code))
        .collect()
}

fn screaming(expected: &[(&str, u32)]) -> Vec<(String, u32)> {
    expected
        .iter()
        .map(|(name, code)| (screaming_snake(name), *code))
        .collect()
}

#[test]
fn signing_domain_codes_never_change() {
    use itc_ffi::api::keys::{Keypair, SigningDomain};
    use itc_ffi::c_api::keys::{itc_keypair_free, itc_keypair_from_seed, itc_keypair_sign};
    use itc_ffi::c_api::ItcStatus;
    let ours: Vec<(String, u32)> = (0..=SIGNING_DOMAIN.len() as u32)
        .map_while(|code| Some((format!("{:?}", SigningDomain::from_code(code)?), code)))
        .collect();
    let expected = owned(SIGNING_DOMAIN);
    assert_eq!(ours, expected, "SigningDomain::from_code");
    check_c_header("ItcSigningDomain", SIGNING_DOMAIN);
    assert_eq!(
        c_enum_constants("ItcSigningDomain"),
        screaming(SIGNING_DOMAIN)
    );
    // The C number and the UniFFI variant select the same core domain.
    let seed = [9u8; 32];
    let uniffi = Keypair::from_seed(seed.to_vec()).unwrap();
    let mut c = std::ptr::null_mut();
    assert_eq!(
        unsafe { itc_keypair_from_seed(seed.as_ptr(), &mut c) },
        ItcStatus::Ok
    );
    for (name, code) in SIGNING_DOMAIN {
        let mut signature = [0u8; 64];
        let status =
            unsafe { itc_keypair_sign(c, *code, 7, b"m".as_ptr(), 1, signature.as_mut_ptr()) };
        assert_eq!(status, ItcStatus::Ok, "{name}");
        let domain = SigningDomain::from_code(*code).unwrap();
        assert_eq!(
            uniffi.sign(domain, 7, b"m".to_vec()),
            signature.to_vec(),
            "{name}"
        );
    }
    let mut signature = [0u8; 64];
    let past_the_end = SIGNING_DOMAIN.len() as u32;
    let status =
        unsafe { itc_keypair_sign(c, past_the_end, 7, b"m".as_ptr(), 1, signature.as_mut_ptr()) };
    assert_eq!(status, ItcStatus::InvalidArgument);
    assert_eq!(unsafe { itc_keypair_free(c) }, ItcStatus::Ok);
    // Python numbers the variants; Kotlin and Swift keep their order.
    let python = repository_file("bindings/python/itc.py");
    let python: Vec<(String, u32)> = block(&python, "class SigningDomain(enum.Enum):", "class ")
        .iter()
        .filter_map(|line| {
            let (left, right) = line.trim().split_once(" = ")?;
            Some((left.to_string(), right.parse().ok()?))
        })
        .collect();
    assert_eq!(python, screaming(SIGNING_DOMAIN), "Python SigningDomain");
    let kotlin = repository_file("bindings/kotlin/src/main/kotlin/uniffi/itc/itc.kt");
    let kotlin: Vec<String> = block(&kotlin, "enum class SigningDomain {", "}")
        .iter()
        .filter_map(|line| {
            let name = line.trim().strip_suffix([',', ';'])?;
            name.chars()
                .all(|c| c.is_ascii_uppercase() || c == '_')
                .then(|| name.to_string())
        })
        .collect();
    let swift = repository_file("bindings/swift/Sources/ITC/itc.swift");
    let swift: Vec<String> = block(
        &swift,
        "public enum SigningDomain: Equatable, Hashable {",
        "}",
    )
    .iter()
    .filter_map(|line| Some(line.trim().strip_prefix("case ")?.to_string()))
    .collect();
    let names =
        |f: fn(&str) -> String| SIGNING_DOMAIN.iter().map(|(n, _)| f(n)).collect::<Vec<_>>();
    assert_eq!(kotlin, names(screaming_snake), "Kotlin SigningDomain");
    assert_eq!(swift, names(lower_camel), "Swift SigningDomain");
}

#[test]
fn payload_kind_codes_never_change() {
    use itc_ffi::c_api::transaction::ItcPayloadKind;
    let ours: Vec<(String, u32)> = (0..=PAYLOAD_KIND.len() as u32)
        .map_while(ItcPayloadKind::from_code)
        .map(|kind| (format!("{kind:?}"), kind as u32))
        .collect();
    let expected = owned(PAYLOAD_KIND);
    assert_eq!(ours, expected, "ItcPayloadKind");
    assert_eq!(ItcPayloadKind::from_code(PAYLOAD_KIND.len() as u32), None);
    check_c_header("ItcPayloadKind", PAYLOAD_KIND);
    assert_eq!(c_enum_constants("ItcPayloadKind"), screaming(PAYLOAD_KIND));
}

#[test]
fn update_outcome_codes_never_change() {
    use itc_ffi::c_api::light_client::ItcUpdateOutcome as O;
    let ours = [O::Success, O::NotEnoughTrust, O::Invalid].map(|o| (format!("{o:?}"), o as u32));
    let expected = owned(UPDATE_OUTCOME);
    assert_eq!(ours.to_vec(), expected, "ItcUpdateOutcome");
    check_c_header("ItcUpdateOutcome", UPDATE_OUTCOME);
    assert_eq!(
        c_enum_constants("ItcUpdateOutcome"),
        screaming(UPDATE_OUTCOME)
    );
}

#[test]
fn campaign_outcome_codes_and_names_never_change() {
    use itc_chaincode::campaign::{CampaignOutcome as C, FailReason as F};
    use itc_ffi::c_api::chaincode::ItcCampaignOutcome;
    let core = [
        C::Open,
        C::Released,
        C::BelowMinimum,
        C::Failed(F::MissingUnmask),
        C::Failed(F::SumMismatch),
        C::Failed(F::ContractUnusable),
    ];
    let ours: Vec<(String, u32, &str)> = core
        .into_iter()
        .map(ItcCampaignOutcome::from)
        .map(|o| (format!("{o:?}"), o as u32, o.name()))
        .collect();
    let expected: Vec<(String, u32, &str)> = CAMPAIGN_OUTCOME
        .iter()
        .map(|(name, code, text)| (name.to_string(), *code, *text))
        .collect();
    assert_eq!(ours, expected, "ItcCampaignOutcome");
    let header = repository_file("bindings/c/itc.h");
    assert!(header.contains("typedef int32_t ItcCampaignOutcome;"));
    let codes: Vec<(&str, u32)> = CAMPAIGN_OUTCOME.iter().map(|(n, c, _)| (*n, *c)).collect();
    assert_eq!(c_enum_constants("ItcCampaignOutcome"), screaming(&codes));
}

#[test]
fn recovery_error_constants_are_the_reason_codes() {
    use itc_ffi::c_api::light_client::ItcRecoveryError as E;
    let ours = [
        E::WrongChain,
        E::NotNewer,
        E::HeaderFromFuture,
        E::HeaderTooOld,
        E::Certificate,
        E::BadProof,
        E::NoProvenOwner,
        E::OwnerChanged,
        E::BadSignature,
    ]
    .map(|e| (format!("{e:?}"), e as u32));
    let expected = owned(RECOVERY_ERROR);
    assert_eq!(ours.to_vec(), expected, "ItcRecoveryError");
    assert_eq!(E::None as u32, 0);
    assert_eq!(
        c_enum_constants("ItcRecoveryError")[1..],
        screaming(RECOVERY_ERROR)[..]
    );
}
