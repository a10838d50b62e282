//! Header updates: moving the trusted state forward by commit certificates.
//!
//! * **Adjacent** (`height = trusted + 1`): the header must link to the
//!   trusted one (`previous_hash`), be signed by the set the trusted header
//!   named as next (`next_validator_set_hash`), and that set must have signed
//!   more than two thirds of its weight.
//! * **Skipping** (`height > trusted + 1`): more than one third of the
//!   trusted set's weight (so at least one honest validator we know vouches
//!   for it) *and* more than two thirds of the new header's own set must have
//!   signed. When the first condition fails the verdict is
//!   [`Verdict::NotEnoughTrust`] and the caller bisects
//!   ([`bisection_pivot`]). Trust is checked first, so a header signed only
//!   by keys the device does not know costs no signature verification.
//!
//! Certificates are verified with `CommitCertificate::verify`: heaviest
//! signers first, stopping once the threshold is met, each validator once,
//! keys outside the set counted as zero.
//!
//! Both kinds need the trusted header to be younger than the trust period, a
//! new header no older than the trusted one and not further in the future
//! than the allowed clock drift.

use crate::trusted::TrustedState;
use alloc::vec::Vec;
use itc_core::encoding::{write_option, Decode, DecodeError, Encode, Reader};
use itc_core::types::{BlockHeader, CertificateError, CommitCertificate, Threshold, ValidatorSet};

/// How long a trusted header may be relied on, and how far clocks may
/// disagree. Both are the caller's policy; the light client has no clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustOptions {
    /// A trusted header older than this (by its `time_ms`) is no longer used
    /// to verify anything: validators that have since unbonded could sign a
    /// false history without risk. Must be shorter than the unbonding period.
    pub trust_period_ms: u64,
    /// How far in the future (relative to the caller's `now_ms`) a header's
    /// time may be.
    pub clock_drift_ms: u64,
}

impl TrustOptions {
    /// Two weeks of trust, ten seconds of drift.
    pub const DEFAULT: TrustOptions = TrustOptions {
        trust_period_ms: 14 * 24 * 3600 * 1000,
        clock_drift_ms: 10_000,
    };
}

impl Default for TrustOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A new header with the evidence to trust it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderUpdate {
    /// The header.
    pub header: BlockHeader,
    /// Commit certificate over `header.hash()`.
    pub certificate: CommitCertificate,
    /// The set that signed `header` (whose hash is
    /// `header.validator_set_hash`). May be left out when it is the trusted
    /// set.
    pub validators: Option<ValidatorSet>,
}

impl Encode for HeaderUpdate {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.header.encode_to(out);
        self.certificate.encode_to(out);
        write_option(out, &self.validators);
    }
}

impl Decode for HeaderUpdate {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(HeaderUpdate {
            header: Decode::decode_from(reader)?,
            certificate: Decode::decode_from(reader)?,
            validators: reader.read_option()?,
        })
    }
}

/// The list of [`InvalidReason`]s and their stable codes, written once (the
/// canonical enum and the bindings' C constants `ITC_INVALID_REASON_*` are
/// generated from it; see [`deny_reasons!`](crate::deny_reasons) for the
/// calling convention). Codes are stable: add at the end, never renumber.
#[macro_export]
macro_rules! invalid_reasons {
    ($($callback:ident)::+ ! { $($prefix:tt)* }) => {
        $($callback)::+! { $($prefix)* {
            /// The header belongs to another chain.
            WrongChain = 1 => "header is for another chain",
            /// The header is not above the trusted height.
            NonIncreasingHeight = 2 => "header height is not above the trusted height",
            /// The header's time is before the trusted header's time.
            NonMonotonicTime = 3 => "header time goes backwards",
            /// The header's time is further ahead of `now_ms` than the clock
            /// drift.
            HeaderFromFuture = 4 => "header time is in the future",
            /// The trusted header is older than the trust period (an owner
            /// recovery is the way back).
            TrustedStateExpired = 5 => "trusted state has expired",
            /// The certificate's chain, height or block hash is not the
            /// header's.
            CertificateMismatch = 6 => "certificate is for another header",
            /// An adjacent header does not name the trusted header as its
            /// previous.
            PreviousHashMismatch = 7 => "previous hash does not link to the trusted header",
            /// An adjacent header is signed by another set than the trusted
            /// header announced as next.
            UnexpectedValidatorSet = 8 => "validator set is not the one the trusted header announced",
            /// The supplied validator set does not hash to the header's
            /// `validator_set_hash`.
            ValidatorSetMismatch = 9 => "validator set does not match the header",
            /// The update left out the signing set, and it is not the trusted
            /// set.
            MissingValidatorSet = 10 => "update is missing the validator set",
            /// A checked signature in the certificate does not verify.
            InvalidSignature = 11 => "invalid signature in certificate",
            /// The header's own set did not sign more than two thirds of its
            /// weight.
            NotEnoughSignatures = 12 => "not enough signatures from the header's validator set",
            /// The certificate's signatures are not strictly ascending by
            /// validator (a validator listed twice would be counted twice).
            MalformedCertificate = 13 => "certificate lists a validator twice or out of order",
            /// A different header at the trusted height, validly certified by
            /// the trusted set: the chain has forked (more than a third of the
            /// weight is faulty). Keep the update as evidence (itc-spv's
            /// `detect_fork`).
            ConflictingHeader = 14 => "conflicting certified header at the trusted height",
        } }
    };
}

invalid_reasons!(itc_core::stable_codes! {
    /// Why an update is invalid. Bisecting cannot fix any of these. The codes
    /// ([`InvalidReason::code`]) are stable; the list is
    /// [`invalid_reasons!`](crate::invalid_reasons).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum InvalidReason: u8, code u16
});

/// The outcome of verifying a header update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a header is trusted only on Verdict::Success"]
pub enum Verdict {
    /// The header can be trusted.
    Success,
    /// The header may be valid but too little of the trusted set signed it;
    /// verify a header between the two first ([`bisection_pivot`]).
    NotEnoughTrust,
    /// The header must not be trusted.
    Invalid(InvalidReason),
}

impl Verdict {
    /// Whether the verdict is [`Verdict::Success`].
    pub fn is_success(self) -> bool {
        self == Verdict::Success
    }
}

/// Check `update` against `trusted` at the caller's time `now_ms`
/// (milliseconds since the Unix epoch).
///
/// Nothing changes; see [`TrustedState::update`] to also adopt the header.
/// Costs at most two certificate verifications, each checking the heaviest
/// signers first and stopping at the threshold.
pub fn verify_update(
    trusted: &TrustedState,
    update: &HeaderUpdate,
    options: &TrustOptions,
    now_ms: u64,
) -> Verdict {
    match check(trusted, update, options, now_ms) {
        Ok(()) => Verdict::Success,
        Err(Failure::NotEnoughTrust) => Verdict::NotEnoughTrust,
        Err(Failure::Invalid(reason)) => Verdict::Invalid(reason),
    }
}

enum Failure {
    NotEnoughTrust,
    Invalid(InvalidReason),
}

impl From<InvalidReason> for Failure {
    fn from(reason: InvalidReason) -> Self {
        Failure::Invalid(reason)
    }
}

fn check(
    trusted: &TrustedState,
    update: &HeaderUpdate,
    options: &TrustOptions,
    now_ms: u64,
) -> Result<(), Failure> {
    let old = trusted.header();
    let new = &update.header;
    if new.chain_id != old.chain_id {
        return Err(InvalidReason::WrongChain.into());
    }
    if new.height == old.height && new != old && certified_by_trusted_set(trusted, update) {
        return Err(InvalidReason::ConflictingHeader.into());
    }
    if new.height <= old.height {
        return Err(InvalidReason::NonIncreasingHeight.into());
    }
    if now_ms.saturating_sub(old.time_ms) >= options.trust_period_ms {
        return Err(InvalidReason::TrustedStateExpired.into());
    }
    if new.time_ms < old.time_ms {
        return Err(InvalidReason::NonMonotonicTime.into());
    }
    if new.time_ms > now_ms.saturating_add(options.clock_drift_ms) {
        return Err(InvalidReason::HeaderFromFuture.into());
    }
    check_certificate_binding(update)?;
    let new_set = signing_set(update, trusted)?;
    if new.height == old.height + 1 {
        if new.previous_hash != old.hash() {
            return Err(InvalidReason::PreviousHashMismatch.into());
        }
        if new.validator_set_hash != old.next_validator_set_hash {
            return Err(InvalidReason::UnexpectedValidatorSet.into());
        }
        verify_quorum(&update.certificate, new_set)?;
        return Ok(());
    }
    // Trust first: a forged header signed by keys the device does not know
    // is turned away without verifying a single signature. A set identical
    // to the trusted one is covered by the quorum check below.
    if new.validator_set_hash != old.validator_set_hash {
        match update
            .certificate
            .verify(trusted.validators(), Threshold::ONE_THIRD)
        {
            Ok(_) => {}
            Err(CertificateError::NotEnoughWeight { .. }) => return Err(Failure::NotEnoughTrust),
            Err(_) => return Err(InvalidReason::InvalidSignature.into()),
        }
    }
    verify_quorum(&update.certificate, new_set)?;
    Ok(())
}

/// Whether `update` is a validly certified header signed by the trusted set
/// (used to tell a conflicting header at the trusted height from a replay).
fn certified_by_trusted_set(trusted: &TrustedState, update: &HeaderUpdate) -> bool {
    update.header.validator_set_hash == trusted.header().validator_set_hash
        && check_certificate_binding(update).is_ok()
        && verify_quorum(&update.certificate, trusted.validators()).is_ok()
}

/// The certificate must be about exactly this header.
pub(crate) fn check_certificate_binding(update: &HeaderUpdate) -> Result<(), InvalidReason> {
    let certificate = &update.certificate;
    let header = &update.header;
    if certificate.chain_id != header.chain_id
        || certificate.height != header.height
        || certificate.block_hash != header.hash()
    {
        return Err(InvalidReason::CertificateMismatch);
    }
    if certificate
        .signatures
        .windows(2)
        .any(|pair| pair[0].validator >= pair[1].validator)
    {
        return Err(InvalidReason::MalformedCertificate);
    }
    Ok(())
}

/// The set that signed `update.header`: the one carried, or the trusted one
/// when the header names it.
pub(crate) fn signing_set<'a>(
    update: &'a HeaderUpdate,
    trusted: &'a TrustedState,
) -> Result<&'a ValidatorSet, InvalidReason> {
    match &update.validators {
        Some(set) => {
            if set.hash() != update.header.validator_set_hash {
                return Err(InvalidReason::ValidatorSetMismatch);
            }
            Ok(set)
        }
        None if update.header.validator_set_hash == trusted.header().validator_set_hash => {
            Ok(trusted.validators())
        }
        None => Err(InvalidReason::MissingValidatorSet),
    }
}

/// More than two thirds of `set` signed.
pub(crate) fn verify_quorum(
    certificate: &CommitCertificate,
    set: &ValidatorSet,
) -> Result<(), InvalidReason> {
    match certificate.verify(set, Threshold::TWO_THIRDS) {
        Ok(_) => Ok(()),
        Err(CertificateError::NotEnoughWeight { .. }) => Err(InvalidReason::NotEnoughSignatures),
        Err(_) => Err(InvalidReason::InvalidSignature),
    }
}

/// The height to try next after [`Verdict::NotEnoughTrust`] while moving
/// from `trusted_height` to `target_height`: the midpoint, so a bisection
/// takes `O(log(target - trusted))` rounds. Returns `target_height` when no
/// height lies strictly between.
pub fn bisection_pivot(trusted_height: u64, target_height: u64) -> u64 {
    if target_height <= trusted_height.saturating_add(1) {
        return target_height;
    }
    trusted_height + (target_height - trusted_height) / 2
}

impl TrustedState {
    /// Verify `update` ([`verify_update`]) and, on [`Verdict::Success`],
    /// adopt its header and signing set. On any other verdict nothing changes.
    pub fn update(
        &mut self,
        update: &HeaderUpdate,
        options: &TrustOptions,
        now_ms: u64,
    ) -> Verdict {
        let verdict = verify_update(self, update, options, now_ms);
        if verdict == Verdict::Success {
            let set = match &update.validators {
                Some(set) => set.clone(),
                None => self.validators().clone(),
            };
            // verify_update checked the set against the header.
            self.advance(update.header.clone(), set);
        }
        verdict
    }
}
