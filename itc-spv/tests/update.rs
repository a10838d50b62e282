//! Header updates: adjacent and skipping verification, verdicts and reasons.

mod common;

use common::*;
use itc_core::hash::Hash;
use itc_core::types::{ChainId, CommitSignature};
use itc_spv::{bisection_pivot, verify_update, HeaderUpdate, InvalidReason, TrustedState, Verdict};

fn now(height: u64) -> u64 {
    time_of(height) + 1
}

fn resign(update: &mut HeaderUpdate, signers: &[&itc_core::Keypair]) {
    update.certificate = certify(&update.header, signers);
}

#[test]
fn adjacent_header_signed_by_the_announced_set_is_adopted() {
    let a = Validators::four(1);
    let chain = synthetic_chain(3, |_| &a);
    let mut trusted = trust(&chain[0]);
    assert_eq!(
        trusted.update(&chain[1], &OPTIONS, now(2)),
        Verdict::Success
    );
    assert_eq!(trusted.height(), 2);
    assert_eq!(trusted.header(), &chain[1].header);
}

#[test]
fn adjacent_update_may_leave_out_an_unchanged_set() {
    let a = Validators::four(1);
    let chain = synthetic_chain(2, |_| &a);
    let mut update = chain[1].clone();
    update.validators = None;
    let mut trusted = trust(&chain[0]);
    assert_eq!(trusted.update(&update, &OPTIONS, now(2)), Verdict::Success);
}

#[test]
fn adjacent_update_to_a_new_set_must_carry_it() {
    let (a, b) = (Validators::four(1), Validators::four(11));
    let chain = synthetic_chain(3, |h| if h < 2 { &a } else { &b });
    let trusted = trust(&chain[0]);
    assert_eq!(
        verify_update(&trusted, &chain[1], &OPTIONS, now(2)),
        Verdict::Success
    );
    let mut missing = chain[1].clone();
    missing.validators = None;
    assert_eq!(
        verify_update(&trusted, &missing, &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::MissingValidatorSet)
    );
    let mut wrong = chain[1].clone();
    wrong.validators = Some(a.set.clone());
    assert_eq!(
        verify_update(&trusted, &wrong, &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::ValidatorSetMismatch)
    );
}

#[test]
fn adjacent_header_signed_by_an_unannounced_set_is_invalid() {
    // Header 1 announces set A for height 2; a header 2 signed by B is refused
    // even though B signed it fully.
    let (a, b) = (Validators::four(1), Validators::four(11));
    let chain = synthetic_chain(1, |_| &a);
    let trusted = trust(&chain[0]);
    let header = bare_header(2, chain[0].header.hash(), &b.set, &b.set);
    let update = HeaderUpdate {
        certificate: certify(&header, &b.all()),
        header,
        validators: Some(b.set.clone()),
    };
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::UnexpectedValidatorSet)
    );
}

#[test]
fn adjacent_header_must_link_to_the_trusted_header() {
    let a = Validators::four(1);
    let chain = synthetic_chain(2, |_| &a);
    let trusted = trust(&chain[0]);
    let mut update = chain[1].clone();
    update.header.previous_hash = Hash([7; 32]);
    resign(&mut update, &a.all());
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::PreviousHashMismatch)
    );
}

#[test]
fn certificate_one_vote_short_of_two_thirds_is_invalid() {
    // Weights 40, 30, 20, 10 (total 100): 40 + 20 + 10 = 70 passes,
    // 40 + 20 = 60 and 30 + 20 + 10 = 60 do not.
    let v = Validators::new(&[(1, 40), (2, 30), (3, 20), (4, 10)]);
    let chain = synthetic_chain(3, |_| &v);
    let trusted = trust(&chain[0]);
    let k = &v.keys;
    for (target, signers, expected) in [
        (1usize, vec![&k[0], &k[2], &k[3]], Verdict::Success),
        (
            1,
            vec![&k[0], &k[2]],
            Verdict::Invalid(InvalidReason::NotEnoughSignatures),
        ),
        (
            1,
            vec![&k[1], &k[2], &k[3]],
            Verdict::Invalid(InvalidReason::NotEnoughSignatures),
        ),
        (2, vec![&k[0], &k[1]], Verdict::Success),
        (
            2,
            vec![&k[0], &k[3]],
            Verdict::Invalid(InvalidReason::NotEnoughSignatures),
        ),
    ] {
        let mut update = chain[target].clone();
        resign(&mut update, &signers);
        assert_eq!(
            verify_update(&trusted, &update, &OPTIONS, now(3)),
            expected,
            "height {} signers {}",
            target + 1,
            signers.len()
        );
    }
}

#[test]
fn equal_weights_need_three_of_four() {
    let v = Validators::four(1);
    let chain = synthetic_chain(2, |_| &v);
    let trusted = trust(&chain[0]);
    let mut update = chain[1].clone();
    resign(&mut update, &v.all()[..3]);
    assert!(verify_update(&trusted, &update, &OPTIONS, now(2)).is_success());
    resign(&mut update, &v.all()[..2]);
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::NotEnoughSignatures)
    );
}

#[test]
fn signatures_from_keys_outside_the_set_count_as_zero() {
    let v = Validators::four(1);
    let outsiders = Validators::four(51);
    let chain = synthetic_chain(2, |_| &v);
    let trusted = trust(&chain[0]);
    let mut update = chain[1].clone();
    let mut signers = v.all()[..2].to_vec();
    signers.extend(outsiders.all());
    resign(&mut update, &signers);
    assert_eq!(update.certificate.signatures.len(), 6);
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::NotEnoughSignatures)
    );
}

#[test]
fn a_validator_listed_twice_is_not_counted_twice() {
    let v = Validators::four(1);
    let chain = synthetic_chain(2, |_| &v);
    let trusted = trust(&chain[0]);
    let mut update = chain[1].clone();
    resign(&mut update, &v.all()[..2]);
    let first: CommitSignature = update.certificate.signatures[0];
    update.certificate.signatures.insert(0, first);
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::MalformedCertificate)
    );
}

#[test]
fn a_forged_signature_makes_the_update_invalid() {
    let v = Validators::new(&[(1, 40), (2, 30), (3, 20), (4, 10)]);
    let chain = synthetic_chain(2, |_| &v);
    let trusted = trust(&chain[0]);
    let mut update = chain[1].clone();
    let heaviest = v.keys[0].public();
    for signature in &mut update.certificate.signatures {
        if signature.validator == heaviest {
            signature.signature.0[5] ^= 1;
        }
    }
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::InvalidSignature)
    );
}

#[test]
fn skipping_within_one_set_is_adopted() {
    let v = Validators::four(1);
    let chain = synthetic_chain(50, |_| &v);
    let mut trusted = trust(&chain[0]);
    assert_eq!(
        trusted.update(&chain[49], &OPTIONS, now(50)),
        Verdict::Success
    );
    assert_eq!(trusted.height(), 50);
}

#[test]
fn skipping_needs_more_than_a_third_of_the_trusted_set() {
    // From set A (seeds 1..=4) to sets sharing one or two members with A.
    let a = Validators::four(1);
    let one_shared = Validators::new(&[(1, 10), (21, 10), (22, 10), (23, 10)]);
    let two_shared = Validators::new(&[(1, 10), (2, 10), (22, 10), (23, 10)]);
    for (new, expected) in [
        (&one_shared, Verdict::NotEnoughTrust),
        (&two_shared, Verdict::Success),
    ] {
        let chain = synthetic_chain(10, |h| if h < 5 { &a } else { new });
        let trusted = trust(&chain[0]);
        assert_eq!(
            verify_update(&trusted, &chain[9], &OPTIONS, now(10)),
            expected
        );
    }
}

#[test]
fn skipping_to_a_disjoint_set_needs_bisection() {
    let (a, b) = (Validators::four(1), Validators::four(11));
    let chain = synthetic_chain(40, |h| if h < 20 { &a } else { &b });
    let mut trusted = trust(&chain[0]);
    let latest = 40;
    let mut target = latest;
    let mut rounds = 0;
    while trusted.height() < latest {
        rounds += 1;
        assert!(rounds < 20, "bisection does not terminate");
        match trusted.update(&chain[target as usize - 1], &OPTIONS, now(40)) {
            Verdict::Success => target = latest,
            Verdict::NotEnoughTrust => target = bisection_pivot(trusted.height(), target),
            Verdict::Invalid(reason) => panic!("{reason}"),
        }
    }
    assert_eq!(trusted.header(), &chain[39].header);
    assert_eq!(trusted.validators(), &b.set);
}

#[test]
fn skipping_needs_two_thirds_of_the_new_set_too() {
    let (a, b) = (
        Validators::four(1),
        Validators::new(&[(1, 10), (2, 10), (22, 10), (23, 10)]),
    );
    let chain = synthetic_chain(10, |h| if h < 5 { &a } else { &b });
    let trusted = trust(&chain[0]);
    let mut update = chain[9].clone();
    // Both shared members sign: 2/4 of A (trust ok) but only 2/4 of B.
    resign(&mut update, &[&b.keys[0], &b.keys[1]]);
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(10)),
        Verdict::Invalid(InvalidReason::NotEnoughSignatures)
    );
}

#[test]
fn header_of_another_chain_is_invalid() {
    let v = Validators::four(1);
    let chain = synthetic_chain(2, |_| &v);
    let trusted = trust(&chain[0]);
    let mut update = chain[1].clone();
    update.header.chain_id = ChainId(43);
    resign(&mut update, &v.all());
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::WrongChain)
    );
}

#[test]
fn certificate_for_another_header_is_invalid() {
    let v = Validators::four(1);
    let chain = synthetic_chain(3, |_| &v);
    let trusted = trust(&chain[0]);
    let mut update = chain[2].clone();
    update.certificate = chain[1].certificate.clone();
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(3)),
        Verdict::Invalid(InvalidReason::CertificateMismatch)
    );
}

#[test]
fn height_must_increase() {
    let v = Validators::four(1);
    let chain = synthetic_chain(3, |_| &v);
    let trusted = trust(&chain[1]);
    for update in [&chain[0], &chain[1]] {
        assert_eq!(
            verify_update(&trusted, update, &OPTIONS, now(3)),
            Verdict::Invalid(InvalidReason::NonIncreasingHeight)
        );
    }
}

#[test]
fn header_time_must_not_go_backwards() {
    let v = Validators::four(1);
    let chain = synthetic_chain(3, |_| &v);
    let trusted = trust(&chain[1]);
    let mut update = chain[2].clone();
    update.header.time_ms = time_of(2) - 1;
    resign(&mut update, &v.all());
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(3)),
        Verdict::Invalid(InvalidReason::NonMonotonicTime)
    );
}

#[test]
fn header_from_beyond_the_clock_drift_is_invalid() {
    let v = Validators::four(1);
    let chain = synthetic_chain(2, |_| &v);
    let trusted = trust(&chain[0]);
    let time = chain[1].header.time_ms;
    assert!(
        verify_update(&trusted, &chain[1], &OPTIONS, time - OPTIONS.clock_drift_ms).is_success()
    );
    assert_eq!(
        verify_update(
            &trusted,
            &chain[1],
            &OPTIONS,
            time - OPTIONS.clock_drift_ms - 1
        ),
        Verdict::Invalid(InvalidReason::HeaderFromFuture)
    );
}

#[test]
fn trusted_header_older_than_the_trust_period_verifies_nothing() {
    let v = Validators::four(1);
    let chain = synthetic_chain(2, |_| &v);
    let trusted = trust(&chain[0]);
    let expiry = chain[0].header.time_ms + OPTIONS.trust_period_ms;
    assert!(verify_update(&trusted, &chain[1], &OPTIONS, expiry - 1).is_success());
    assert_eq!(
        verify_update(&trusted, &chain[1], &OPTIONS, expiry),
        Verdict::Invalid(InvalidReason::TrustedStateExpired)
    );
}

#[test]
fn failed_update_leaves_the_trusted_state_unchanged() {
    let v = Validators::four(1);
    let chain = synthetic_chain(2, |_| &v);
    let mut trusted = trust(&chain[0]);
    let before = trusted.clone();
    let mut update = chain[1].clone();
    resign(&mut update, &v.all()[..1]);
    assert!(!trusted.update(&update, &OPTIONS, now(2)).is_success());
    assert_eq!(trusted, before);
}

#[test]
fn update_from_a_real_ledger_verifies() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    chain.empty_block();
    chain.empty_block();
    let mut trusted = chain.trusted_at(1);
    assert_eq!(
        trusted.update(chain.update_at(2), &OPTIONS, now(3)),
        Verdict::Success
    );
    assert_eq!(
        trusted.update(chain.update_at(3), &OPTIONS, now(3)),
        Verdict::Success
    );
    let mut skipping = chain.trusted_at(1);
    assert_eq!(
        skipping.update(chain.update_at(3), &OPTIONS, now(3)),
        Verdict::Success
    );
}

#[test]
fn bisection_pivot_is_the_midpoint() {
    assert_eq!(bisection_pivot(1, 8), 4);
    assert_eq!(bisection_pivot(4, 6), 5);
    assert_eq!(bisection_pivot(4, 5), 5);
    assert_eq!(bisection_pivot(u64::MAX - 2, u64::MAX), u64::MAX - 1);
}

#[test]
fn invalid_reason_codes_are_distinct() {
    use InvalidReason::*;
    let all = [
        WrongChain,
        NonIncreasingHeight,
        NonMonotonicTime,
        HeaderFromFuture,
        TrustedStateExpired,
        CertificateMismatch,
        PreviousHashMismatch,
        UnexpectedValidatorSet,
        ValidatorSetMismatch,
        MissingValidatorSet,
        InvalidSignature,
        NotEnoughSignatures,
        MalformedCertificate,
        ConflictingHeader,
    ];
    let mut codes: Vec<u16> = all.iter().map(|r| r.code()).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
}

#[test]
fn trusted_state_survives_flash_round_trip_and_fits_in_one_kib() {
    let v = Validators::four(1);
    let chain = synthetic_chain(1, |_| &v);
    let trusted = trust(&chain[0]);
    let bytes = trusted.to_bytes();
    assert!(bytes.len() <= 1024, "{} bytes", bytes.len());
    assert_eq!(bytes[0], itc_spv::TRUSTED_STATE_VERSION);
    assert_eq!(TrustedState::from_bytes(&bytes).unwrap(), trusted);
    let mut other_version = bytes.clone();
    other_version[0] = 1;
    assert!(TrustedState::from_bytes(&other_version).is_err());
}

#[test]
fn bootstrap_refuses_an_unpinned_header_or_a_foreign_set() {
    let (a, b) = (Validators::four(1), Validators::four(11));
    let chain = synthetic_chain(2, |_| &a);
    let header = chain[0].header.clone();
    assert_eq!(
        TrustedState::bootstrap(
            header.clone(),
            a.set.clone(),
            &chain[1].header.hash(),
            &OPTIONS,
            header.time_ms
        ),
        Err(itc_spv::BootstrapError::PinnedHashMismatch)
    );
    assert_eq!(
        TrustedState::bootstrap(
            header.clone(),
            b.set.clone(),
            &header.hash(),
            &OPTIONS,
            header.time_ms
        ),
        Err(itc_spv::BootstrapError::ValidatorSetMismatch)
    );
    // A set that does not belong to the header cannot be smuggled in via flash.
    let mut bytes = vec![itc_spv::TRUSTED_STATE_VERSION];
    bytes.extend(itc_core::Encode::encode(&header));
    bytes.extend(itc_core::Encode::encode(&b.set));
    assert!(TrustedState::from_bytes(&bytes).is_err());
}

#[test]
fn trusted_state_layout_is_version_then_header_then_set() {
    let v = Validators::four(1);
    let chain = synthetic_chain(1, |_| &v);
    let bytes = trust(&chain[0]).to_bytes();
    let header = itc_core::Encode::encode(&chain[0].header);
    let set = itc_core::Encode::encode(&v.set);
    // 1 version byte, a 292-byte header, a 4-byte count and 4 x (key,
    // weight), and no proven owner (one 0 byte).
    assert_eq!(header.len(), 292);
    assert_eq!(bytes.len(), 1 + 292 + 4 + 4 * 40 + 1);
    assert_eq!(&bytes[1..293], &header[..]);
    assert_eq!(&bytes[293..bytes.len() - 1], &set[..]);
    assert_eq!(bytes[bytes.len() - 1], 0);
}

#[test]
fn certified_conflicting_header_at_the_trusted_height_is_reported_as_a_fork() {
    let v = Validators::four(1);
    let chain = synthetic_chain(2, |_| &v);
    let trusted = trust(&chain[1]);
    let mut conflicting = chain[1].clone();
    conflicting.header.state_root = Hash([5; 32]);
    resign(&mut conflicting, &v.all());
    assert_eq!(
        verify_update(&trusted, &conflicting, &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::ConflictingHeader)
    );
    // Without a quorum it is only an old or bogus header.
    resign(&mut conflicting, &v.all()[..2]);
    assert_eq!(
        verify_update(&trusted, &conflicting, &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::NonIncreasingHeight)
    );
    // The trusted header itself, replayed, is not a fork.
    assert_eq!(
        verify_update(&trusted, &chain[1], &OPTIONS, now(2)),
        Verdict::Invalid(InvalidReason::NonIncreasingHeight)
    );
}

#[test]
fn forged_header_from_unknown_keys_is_turned_away_as_untrusted() {
    let (a, forgers) = (Validators::four(1), Validators::four(61));
    let chain = synthetic_chain(1, |_| &a);
    let trusted = trust(&chain[0]);
    let forged = synthetic_chain(10, |_| &forgers);
    let mut update = forged[9].clone();
    update.header.time_ms = time_of(10);
    resign(&mut update, &forgers.all());
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(10)),
        Verdict::NotEnoughTrust
    );
}

#[test]
fn verification_stops_once_the_heaviest_signers_reach_the_threshold() {
    // 50 + 20 > 2/3 of 100: the two light validators' signatures are never
    // checked, so corrupting them changes nothing.
    let v = Validators::new(&[(1, 50), (2, 20), (3, 15), (4, 15)]);
    let chain = synthetic_chain(2, |_| &v);
    let trusted = trust(&chain[0]);
    let mut update = chain[1].clone();
    let light = [v.keys[2].public(), v.keys[3].public()];
    for signature in &mut update.certificate.signatures {
        if light.contains(&signature.validator) {
            signature.signature.0[0] ^= 1;
        }
    }
    assert_eq!(
        verify_update(&trusted, &update, &OPTIONS, now(2)),
        Verdict::Success
    );
}

#[test]
fn hundred_validators_verify() {
    let seeds: Vec<(u8, u64)> = (1..=100).map(|s| (s, 1 + u64::from(s % 7))).collect();
    let v = Validators::new(&seeds);
    let chain = synthetic_chain(3, |_| &v);
    let mut trusted = trust(&chain[0]);
    assert_eq!(
        trusted.update(&chain[2], &OPTIONS, now(3)),
        Verdict::Success
    );
    let mut short = chain[2].clone();
    // Drop the heaviest signers until just below two thirds.
    let total = v.set.total_weight();
    let mut signers: Vec<_> = v.set.validators().to_vec();
    signers.sort_by_key(|validator| validator.weight);
    let mut kept = Vec::new();
    let mut weight = 0;
    for validator in signers {
        if 3 * (weight + validator.weight) > 2 * total {
            break;
        }
        weight += validator.weight;
        kept.push(validator.key);
    }
    let keys: Vec<&itc_core::Keypair> = v
        .keys
        .iter()
        .filter(|k| kept.contains(&k.public()))
        .collect();
    resign(&mut short, &keys);
    let trusted = trust(&chain[1]);
    assert_eq!(
        verify_update(&trusted, &short, &OPTIONS, now(3)),
        Verdict::Invalid(InvalidReason::NotEnoughSignatures)
    );
}
