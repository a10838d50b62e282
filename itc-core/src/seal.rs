//! Sealed payloads: device readings and user records encrypted to the
//! people entitled to them, with HPKE (RFC 9180).
//!
//! # Format
//! A [`SealedPayload`] is encrypted once and readable by up to
//! [`RECIPIENTS_MAX`] recipients, in the two-layer shape of COSE-HPKE:
//!
//! * a fresh 32-byte content key encrypts the plaintext with
//!   ChaCha20-Poly1305 (the key is used for one message only, so the nonce
//!   is zero); the associated data is the payload's header: format version,
//!   [`Suite`] and [`SealContext`] (chain, device, sequence);
//! * for each recipient, HPKE in base mode (single shot) encrypts the
//!   content key to the recipient's public key, with the same header in
//!   HPKE's `info`, so a wrapped key opens only for that context.
//!
//! A ciphertext moved to another chain, device or position (sequence) fails
//! to open: [`SealedPayload::open`] compares the context with the one the
//! reader expects, and a payload whose context bytes were rewritten fails
//! authentication. Who sent it is not part of the seal: a sealed reading
//! travels inside a transaction signed by its device (an `itc-dag` data
//! transaction), which authenticates it.
//!
//! # Suites
//! * [`Suite::X25519`]: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//!   ChaCha20-Poly1305 (RFC 9180 ids 0x0020, 0x0001, 0x0003).
//! * [`Suite::XWing`]: the X-Wing hybrid KEM (X25519 and ML-KEM-768, KEM id
//!   0x647a), HKDF-SHA256, ChaCha20-Poly1305: confidential unless both X25519
//!   and ML-KEM-768 are broken, so data sealed today stays sealed against a
//!   future quantum computer.
//!
//! # Keys on chain
//! Sealing public keys are published on chain
//! ([`Payload::PublishSealKey`](crate::types::Payload::PublishSealKey)),
//! one per (signing key, suite), rotatable, and stored as a
//! [`SealKeyRecord`]. A sender looks a key up with a state proof against a
//! header it trusts, so a relay cannot substitute its own key. A device's
//! key is published by its owner with the device's signature over
//! [`key_binding_message`], binding it to the device's signing key.
//!
//! The HPKE code is the `hpke` crate (RustCrypto's primitives underneath);
//! the cryptographic functions here need the `seal` feature. The types and
//! their encodings do not, so the ledger and the light client handle sealed
//! payloads and key records without it.
//!
//! # Example (feature `seal`)
//! ```
//! # #[cfg(feature = "seal")] {
//! use itc_core::keys::Keypair;
//! use itc_core::seal::{seal, SealContext, SealSecretKey, Suite};
//! use itc_core::types::ChainId;
//! use itc_core::seal::rand_core::SeedableRng;
//!
//! let owner = Keypair::from_seed([1; 32]);
//! let lamp = Keypair::from_seed([2; 32]).public();
//! // The owner's sealing key, derived from their signing seed (rotation 0).
//! let owner_key = SealSecretKey::derive(&owner.seed(), Suite::XWing, 0);
//! let context = SealContext { chain_id: ChainId(1), device: lamp, sequence: 7 };
//! let mut rng = itc_core::seal::ChaCha20Rng::from_seed([9; 32]); // a device's TRNG in practice
//! let sealed = seal(Suite::XWing, &context, &[&owner_key.public_key()], b"on, 4.2 W", &mut rng).unwrap();
//! assert_eq!(sealed.open(&owner_key, &context).unwrap(), b"on, 4.2 W");
//! // Another position in the device's stream does not open.
//! let moved = SealContext { sequence: 8, ..context };
//! assert!(sealed.open(&owner_key, &moved).is_err());
//! # }
//! ```

use crate::encoding::{write_bytes, Decode, DecodeError, Encode, Reader};
use crate::hash::{Domain, Hash};
use crate::keys::PublicKey;
use crate::types::ChainId;
use alloc::vec::Vec;

/// Version byte of the [`SealedPayload`] encoding.
pub const SEAL_FORMAT_VERSION: u8 = 1;
/// Most recipients of one payload.
pub const RECIPIENTS_MAX: usize = 8;
/// Longest plaintext one payload carries (16 KiB).
pub const SEALED_PLAINTEXT_MAX: usize = 16 * 1024;
/// Length of the content key.
pub const CONTENT_KEY_LEN: usize = 32;
/// Length of an AEAD tag (ChaCha20-Poly1305).
pub const AEAD_TAG_LEN: usize = 16;
/// Length of a wrapped content key: the key and its tag.
pub const WRAPPED_KEY_LEN: usize = CONTENT_KEY_LEN + AEAD_TAG_LEN;
/// Length of a recipient's key identifier ([`key_id`]).
pub const KEY_ID_LEN: usize = 8;
/// Longest sealing public key of any suite (X-Wing's 1,216 bytes).
pub const SEAL_PUBLIC_KEY_MAX: usize = 1216;

/// An HPKE cipher suite for sealed payloads (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Suite {
    /// DHKEM(X25519, HKDF-SHA256) + HKDF-SHA256 + ChaCha20-Poly1305.
    X25519,
    /// X-Wing (X25519 + ML-KEM-768) + HKDF-SHA256 + ChaCha20-Poly1305.
    XWing,
}

impl Suite {
    /// Every suite.
    pub const ALL: [Suite; 2] = [Suite::X25519, Suite::XWing];

    /// The suite's byte in encodings and state keys.
    pub const fn id(self) -> u8 {
        match self {
            Suite::X25519 => 1,
            Suite::XWing => 2,
        }
    }

    /// The suite with byte `id`.
    pub const fn from_id(id: u8) -> Option<Suite> {
        match id {
            1 => Some(Suite::X25519),
            2 => Some(Suite::XWing),
            _ => None,
        }
    }

    /// Length of a public key.
    pub const fn public_key_len(self) -> usize {
        match self {
            Suite::X25519 => 32,
            Suite::XWing => 1216,
        }
    }

    /// Length of an encapsulated key (per recipient).
    pub const fn encapsulated_key_len(self) -> usize {
        match self {
            Suite::X25519 => 32,
            Suite::XWing => 1120,
        }
    }

    /// The RFC 9180 identifiers: (KEM, KDF, AEAD).
    pub const fn hpke_ids(self) -> (u16, u16, u16) {
        match self {
            Suite::X25519 => (0x0020, 0x0001, 0x0003),
            Suite::XWing => (0x647a, 0x0001, 0x0003),
        }
    }

    /// Bytes a [`SealedPayload`] adds to its plaintext for `recipients`
    /// recipients.
    pub const fn overhead(self, recipients: usize) -> usize {
        // version, suite, context, recipient count, ciphertext length prefix, tag
        let fixed = 1 + 1 + SealContext::ENCODED_LEN + 1 + 4 + AEAD_TAG_LEN;
        fixed + recipients * (KEY_ID_LEN + self.encapsulated_key_len() + WRAPPED_KEY_LEN)
    }
}

impl Encode for Suite {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(self.id());
    }
}

impl Decode for Suite {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.read_u8()?;
        Suite::from_id(tag).ok_or(DecodeError::InvalidTag {
            what: "seal suite",
            tag,
        })
    }
}

/// What a sealed payload is bound to: a ciphertext opens only in this
/// context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealContext {
    /// The chain.
    pub chain_id: ChainId,
    /// The device (or account) whose data it is.
    pub device: PublicKey,
    /// The payload's position in that device's stream; a reader tracks the
    /// highest it has seen to refuse replays.
    pub sequence: u64,
}

impl SealContext {
    /// Length of the encoding.
    pub const ENCODED_LEN: usize = 4 + 32 + 8;
}

impl Encode for SealContext {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.device.encode_to(out);
        self.sequence.encode_to(out);
    }
}

impl Decode for SealContext {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SealContext {
            chain_id: Decode::decode_from(r)?,
            device: Decode::decode_from(r)?,
            sequence: Decode::decode_from(r)?,
        })
    }
}

/// A published sealing public key, as the ledger stores it under
/// [`state_key::seal_key`](crate::ledger::state_key::seal_key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealKeyRecord {
    /// The suite.
    pub suite: Suite,
    /// The public key, [`Suite::public_key_len`] bytes.
    pub public_key: Vec<u8>,
    /// How many times this key was rotated (0 for the first).
    pub key_seq: u32,
    /// Height of the block that published it.
    pub published_height: u64,
}

impl Encode for SealKeyRecord {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.suite.encode_to(out);
        write_bytes(out, &self.public_key);
        self.key_seq.encode_to(out);
        self.published_height.encode_to(out);
    }
}

impl Decode for SealKeyRecord {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let suite = Suite::decode_from(r)?;
        let public_key = read_public_key(r, suite)?;
        Ok(SealKeyRecord {
            suite,
            public_key,
            key_seq: Decode::decode_from(r)?,
            published_height: Decode::decode_from(r)?,
        })
    }
}

/// Read a length-prefixed public key of `suite`'s exact length.
pub(crate) fn read_public_key(r: &mut Reader<'_>, suite: Suite) -> Result<Vec<u8>, DecodeError> {
    let key = r.read_bytes("seal public key", SEAL_PUBLIC_KEY_MAX)?;
    if key.len() != suite.public_key_len() {
        return Err(DecodeError::InvalidValue("seal public key length"));
    }
    Ok(key)
}

/// What a device signs ([`SigningDomain::SealKeyBinding`](crate::keys::SigningDomain::SealKeyBinding))
/// to bind a sealing key to its signing key: its own key, the suite, the
/// rotation number and the public key. The rotation number stops an old
/// binding from being published again after a rotation.
pub fn key_binding_message(
    subject: &PublicKey,
    suite: Suite,
    key_seq: u32,
    public_key: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + 1 + 4 + 4 + public_key.len());
    subject.encode_to(&mut out);
    suite.encode_to(&mut out);
    key_seq.encode_to(&mut out);
    write_bytes(&mut out, public_key);
    out
}

/// Whether `public_key` is a usable public key of `suite`, decided without
/// any cryptography (so every validator, with or without the `seal`
/// feature, decides alike): the suite's length, and for X-Wing an ML-KEM-768
/// encapsulation key whose 768 12-bit coefficients are all below the
/// modulus 3,329 (the FIPS 203 input check), followed by 32 bytes of seed
/// and the 32-byte X25519 key. A key that fails it would make every seal
/// that includes it fail.
pub fn public_key_is_valid(suite: Suite, public_key: &[u8]) -> bool {
    if public_key.len() != suite.public_key_len() {
        return false;
    }
    match suite {
        Suite::X25519 => true,
        Suite::XWing => {
            const Q: u16 = 3329;
            const POLY_BYTES: usize = 3 * 384;
            public_key[..POLY_BYTES].chunks_exact(3).all(|b| {
                let first = u16::from(b[0]) | (u16::from(b[1] & 0x0F) << 8);
                let second = u16::from(b[1] >> 4) | (u16::from(b[2]) << 4);
                first < Q && second < Q
            })
        }
    }
}

/// The short identifier of a sealing public key that a payload carries per
/// recipient, so a reader finds its wrapped key without trying each.
pub fn key_id(suite: Suite, public_key: &[u8]) -> [u8; KEY_ID_LEN] {
    let hash = Hash::of_parts(Domain::SealKey, &[b"key id", &[suite.id()], public_key]);
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&hash.0[..KEY_ID_LEN]);
    id
}

/// One recipient's entry in a [`SealedPayload`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// [`key_id`] of the recipient's public key.
    pub key_id: [u8; KEY_ID_LEN],
    /// HPKE's encapsulated key, [`Suite::encapsulated_key_len`] bytes.
    pub encapsulated_key: Vec<u8>,
    /// The content key, sealed by HPKE to the recipient.
    pub wrapped_key: [u8; WRAPPED_KEY_LEN],
}

/// An encrypted payload and its per-recipient wrapped keys (see the
/// [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedPayload {
    /// The suite of every recipient's entry.
    pub suite: Suite,
    /// What the payload is bound to.
    pub context: SealContext,
    /// One entry per recipient, 1 to [`RECIPIENTS_MAX`].
    pub recipients: Vec<Recipient>,
    /// The plaintext under the content key, with its tag.
    pub ciphertext: Vec<u8>,
}

impl SealedPayload {
    /// The header bytes every layer authenticates: version, suite, context.
    #[cfg(feature = "seal")]
    fn header(suite: Suite, context: &SealContext) -> Vec<u8> {
        let mut out = Vec::with_capacity(b"itc-seal".len() + 2 + SealContext::ENCODED_LEN);
        out.extend_from_slice(b"itc-seal");
        out.push(SEAL_FORMAT_VERSION);
        suite.encode_to(&mut out);
        context.encode_to(&mut out);
        out
    }

    /// Length of the plaintext inside.
    pub fn plaintext_len(&self) -> usize {
        self.ciphertext.len().saturating_sub(AEAD_TAG_LEN)
    }
}

impl Encode for SealedPayload {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(SEAL_FORMAT_VERSION);
        self.suite.encode_to(out);
        self.context.encode_to(out);
        out.push(self.recipients.len() as u8);
        for recipient in &self.recipients {
            out.extend_from_slice(&recipient.key_id);
            out.extend_from_slice(&recipient.encapsulated_key);
            out.extend_from_slice(&recipient.wrapped_key);
        }
        write_bytes(out, &self.ciphertext);
    }
}

impl Decode for SealedPayload {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.read_u8()?;
        if version != SEAL_FORMAT_VERSION {
            return Err(DecodeError::InvalidTag {
                what: "sealed payload version",
                tag: version,
            });
        }
        let suite = Suite::decode_from(r)?;
        let context = SealContext::decode_from(r)?;
        let count = usize::from(r.read_u8()?);
        if count == 0 || count > RECIPIENTS_MAX {
            return Err(DecodeError::InvalidValue("sealed payload recipient count"));
        }
        let mut recipients = Vec::with_capacity(count);
        for _ in 0..count {
            recipients.push(Recipient {
                key_id: r.read_array()?,
                encapsulated_key: r.read_slice(suite.encapsulated_key_len())?.to_vec(),
                wrapped_key: r.read_array()?,
            });
        }
        let ciphertext = r.read_bytes("sealed ciphertext", SEALED_PLAINTEXT_MAX + AEAD_TAG_LEN)?;
        if ciphertext.len() < AEAD_TAG_LEN {
            return Err(DecodeError::InvalidValue(
                "sealed ciphertext shorter than a tag",
            ));
        }
        Ok(SealedPayload {
            suite,
            context,
            recipients,
            ciphertext,
        })
    }
}

/// Why sealing or opening failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// No recipient was given.
    #[error("no recipients")]
    NoRecipients,
    /// More than [`RECIPIENTS_MAX`] recipients.
    #[error("{0} recipients, at most 8")]
    TooManyRecipients(usize),
    /// The plaintext is longer than [`SEALED_PLAINTEXT_MAX`].
    #[error("plaintext of {0} bytes is too long")]
    PlaintextTooLong(usize),
    /// A public key is not a valid key of the suite.
    #[error("invalid public key for the suite")]
    InvalidPublicKey,
    /// The key belongs to another suite than the payload.
    #[error("key and payload suites differ")]
    SuiteMismatch,
    /// The payload is bound to another chain, device or sequence than the
    /// reader expects.
    #[error("payload bound to another context")]
    ContextMismatch,
    /// The payload has no entry for this key.
    #[error("not a recipient")]
    NotARecipient,
    /// Authentication failed: the wrong key, or the payload was altered.
    #[error("cannot open: wrong key or altered payload")]
    OpenFailed,
    /// HPKE refused to encapsulate (a degenerate public key).
    #[error("key encapsulation failed")]
    Encapsulation,
    /// The operating system's random generator failed
    /// (`seal_with_os_rng`, with the `std` feature).
    #[error("no randomness from the operating system")]
    Randomness,
}

/// The list of [`SealRefusal`]s and their stable codes, written once (the
/// canonical enum and the bindings' UniFFI enum and C constants
/// `ITC_SEAL_REFUSAL_*` are generated from it; see
/// [`codes`](crate::codes) for the calling convention). Codes are stable:
/// add at the end, never renumber.
#[macro_export]
macro_rules! seal_refusals {
    ($($callback:ident)::+ ! { $($prefix:tt)* }) => {
        $($callback)::+! { $($prefix)* {
            /// No recipient was given.
            NoRecipients = 1 => "no recipients",
            /// More recipients than a payload holds (8; 4 in a DAG record).
            TooManyRecipients = 2 => "too many recipients",
            /// The plaintext is too long (16 KiB; 1 KiB in a DAG record).
            PlaintextTooLong = 3 => "plaintext too long",
            /// A recipient's public key is not a valid key of the suite.
            InvalidPublicKey = 4 => "invalid public key for the suite",
            /// The key and the payload are of different suites.
            SuiteMismatch = 5 => "key and payload suites differ",
            /// The payload is bound to another chain, device or sequence than
            /// the reader expects (moved or replayed elsewhere).
            ContextMismatch = 6 => "payload bound to another context",
            /// The payload has no entry for this key (not sealed to it, or
            /// sealed to an earlier rotation of it).
            NotARecipient = 7 => "not a recipient",
            /// Authentication failed: the wrong key, or the payload was
            /// altered.
            OpenFailed = 8 => "cannot open: wrong key or altered payload",
            /// Key encapsulation failed (a degenerate public key).
            Encapsulation = 9 => "key encapsulation failed",
        } }
    };
}

seal_refusals!(crate::stable_codes! {
    /// Why a payload could not be sealed or opened, as a stable code: the
    /// kind of a [`SealError`] without its data ([`SealError::refusal`]).
    /// The list is [`seal_refusals!`](crate::seal_refusals).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum SealRefusal: u8, code u8
});

impl SealError {
    /// The stable refusal code of this error; `None` for
    /// [`SealError::Randomness`], a failure of the platform rather than a
    /// refusal.
    pub const fn refusal(self) -> Option<SealRefusal> {
        Some(match self {
            SealError::NoRecipients => SealRefusal::NoRecipients,
            SealError::TooManyRecipients(_) => SealRefusal::TooManyRecipients,
            SealError::PlaintextTooLong(_) => SealRefusal::PlaintextTooLong,
            SealError::InvalidPublicKey => SealRefusal::InvalidPublicKey,
            SealError::SuiteMismatch => SealRefusal::SuiteMismatch,
            SealError::ContextMismatch => SealRefusal::ContextMismatch,
            SealError::NotARecipient => SealRefusal::NotARecipient,
            SealError::OpenFailed => SealRefusal::OpenFailed,
            SealError::Encapsulation => SealRefusal::Encapsulation,
            SealError::Randomness => return None,
        })
    }
}

#[cfg(feature = "seal")]
pub use crypto::*;

#[cfg(feature = "seal")]
mod crypto {
    use super::*;
    use crate::hash::Hasher;
    use chacha20poly1305::aead::{Aead, Payload as AeadPayload};
    use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
    use hpke::aead::ChaCha20Poly1305 as HpkeChaCha;
    use hpke::kdf::HkdfSha256;
    use hpke::kem::{X25519HkdfSha256, XWing};
    use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
    use zeroize::Zeroizing;

    /// The ChaCha20-based RNG (rand_core 0.10) to seed from a device's
    /// entropy source where there is no operating system.
    pub use chacha20::ChaCha20Rng;
    /// The RNG traits sealing takes (rand_core 0.10, as `hpke` uses).
    pub use hpke::rand_core;
    use hpke::rand_core::CryptoRng;

    /// A recipient's sealing secret key.
    pub struct SealSecretKey {
        inner: SecretInner,
        public: Vec<u8>,
    }

    enum SecretInner {
        X25519(<X25519HkdfSha256 as Kem>::PrivateKey),
        XWing(alloc::boxed::Box<<XWing as Kem>::PrivateKey>),
    }

    impl core::fmt::Debug for SealSecretKey {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("SealSecretKey")
                .field("suite", &self.suite())
                .field("key_id", &key_id(self.suite(), &self.public))
                .finish_non_exhaustive()
        }
    }

    impl SealSecretKey {
        /// Derive the key pair of rotation `key_seq` for `suite` from a
        /// signing seed (RFC 9180 `DeriveKeyPair` over a BLAKE2b hash of the
        /// seed, the suite and the rotation under [`Domain::SealKey`]), so a
        /// device or an app keeps one secret. Rotating means publishing the
        /// key of the next `key_seq`.
        pub fn derive(seed: &[u8; 32], suite: Suite, key_seq: u32) -> Self {
            let mut hasher = Hasher::new(Domain::SealKey);
            hasher.update(b"derive");
            hasher.update(seed);
            hasher.update(&[suite.id()]);
            hasher.update(&key_seq.to_le_bytes());
            let ikm = Zeroizing::new(hasher.finalize().0);
            Self::from_ikm(suite, &ikm[..])
        }

        /// Derive the key pair of `suite` from 32 bytes of secret input
        /// keying material (RFC 9180 `DeriveKeyPair`).
        pub fn from_ikm(suite: Suite, ikm: &[u8]) -> Self {
            match suite {
                Suite::X25519 => {
                    let (secret, public) = X25519HkdfSha256::derive_keypair(ikm);
                    SealSecretKey {
                        inner: SecretInner::X25519(secret),
                        public: public.to_bytes().to_vec(),
                    }
                }
                Suite::XWing => {
                    let (secret, public) = XWing::derive_keypair(ikm);
                    SealSecretKey {
                        inner: SecretInner::XWing(alloc::boxed::Box::new(secret)),
                        public: public.to_bytes().to_vec(),
                    }
                }
            }
        }

        /// The suite.
        pub fn suite(&self) -> Suite {
            match self.inner {
                SecretInner::X25519(_) => Suite::X25519,
                SecretInner::XWing(_) => Suite::XWing,
            }
        }

        /// The public key to publish.
        pub fn public_key(&self) -> Vec<u8> {
            self.public.clone()
        }

        /// [`key_id`] of the public key.
        pub fn key_id(&self) -> [u8; KEY_ID_LEN] {
            key_id(self.suite(), &self.public)
        }
    }

    /// Check that `public_key` is a valid public key of `suite`.
    ///
    /// # Errors
    /// [`SealError::InvalidPublicKey`].
    pub fn check_public_key(suite: Suite, public_key: &[u8]) -> Result<(), SealError> {
        let ok = match suite {
            Suite::X25519 => <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(public_key).is_ok(),
            Suite::XWing => <XWing as Kem>::PublicKey::from_bytes(public_key).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(SealError::InvalidPublicKey)
        }
    }

    fn wrap<K: Kem>(
        public_key: &[u8],
        info: &[u8],
        aad: &[u8],
        content_key: &[u8; CONTENT_KEY_LEN],
        rng: &mut impl CryptoRng,
    ) -> Result<(Vec<u8>, [u8; WRAPPED_KEY_LEN]), SealError> {
        let public =
            K::PublicKey::from_bytes(public_key).map_err(|_| SealError::InvalidPublicKey)?;
        let (encapsulated, wrapped) = hpke::single_shot_seal_with_rng::<HpkeChaCha, HkdfSha256, K>(
            &OpModeS::Base,
            &public,
            info,
            content_key,
            aad,
            rng,
        )
        .map_err(|_| SealError::Encapsulation)?;
        let wrapped: [u8; WRAPPED_KEY_LEN] = wrapped
            .as_slice()
            .try_into()
            .map_err(|_| SealError::Encapsulation)?;
        Ok((encapsulated.to_bytes().to_vec(), wrapped))
    }

    fn unwrap<K: Kem>(
        secret: &K::PrivateKey,
        recipient: &Recipient,
        info: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let encapsulated = K::EncappedKey::from_bytes(&recipient.encapsulated_key)
            .map_err(|_| SealError::OpenFailed)?;
        hpke::single_shot_open::<HpkeChaCha, HkdfSha256, K>(
            &OpModeR::Base,
            secret,
            &encapsulated,
            info,
            &recipient.wrapped_key,
            &recipient.key_id,
        )
        .map(Zeroizing::new)
        .map_err(|_| SealError::OpenFailed)
    }

    /// Seal `plaintext` in `context` for each of `recipients` (public keys
    /// of `suite`, for example from proven [`SealKeyRecord`]s): encrypted
    /// once, the content key wrapped per recipient. `rng` must be a
    /// cryptographically secure generator (the operating system's, or a
    /// device's TRNG, possibly through [`ChaCha20Rng`]).
    ///
    /// # Errors
    /// [`SealError::NoRecipients`], [`SealError::TooManyRecipients`],
    /// [`SealError::PlaintextTooLong`], [`SealError::InvalidPublicKey`] or
    /// [`SealError::Encapsulation`].
    pub fn seal(
        suite: Suite,
        context: &SealContext,
        recipients: &[&[u8]],
        plaintext: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<SealedPayload, SealError> {
        if recipients.is_empty() {
            return Err(SealError::NoRecipients);
        }
        if recipients.len() > RECIPIENTS_MAX {
            return Err(SealError::TooManyRecipients(recipients.len()));
        }
        if plaintext.len() > SEALED_PLAINTEXT_MAX {
            return Err(SealError::PlaintextTooLong(plaintext.len()));
        }
        let header = SealedPayload::header(suite, context);
        let mut content_key = Zeroizing::new([0u8; CONTENT_KEY_LEN]);
        rng.fill_bytes(&mut content_key[..]);
        let mut entries = Vec::with_capacity(recipients.len());
        for public_key in recipients {
            let id = key_id(suite, public_key);
            let (encapsulated_key, wrapped_key) = match suite {
                Suite::X25519 => {
                    wrap::<X25519HkdfSha256>(public_key, &header, &id, &content_key, rng)?
                }
                Suite::XWing => wrap::<XWing>(public_key, &header, &id, &content_key, rng)?,
            };
            entries.push(Recipient {
                key_id: id,
                encapsulated_key,
                wrapped_key,
            });
        }
        let cipher = ChaCha20Poly1305::new(&(*content_key).into());
        let ciphertext = cipher
            .encrypt(
                &Nonce::default(),
                AeadPayload {
                    msg: plaintext,
                    aad: &header,
                },
            )
            .map_err(|_| SealError::PlaintextTooLong(plaintext.len()))?;
        Ok(SealedPayload {
            suite,
            context: *context,
            recipients: entries,
            ciphertext,
        })
    }

    /// [`seal`] with randomness from the operating system (a ChaCha20
    /// generator seeded with 32 bytes of it).
    ///
    /// # Errors
    /// As [`seal`], and [`SealError::Randomness`] if the operating system
    /// has no random generator to offer.
    #[cfg(feature = "std")]
    pub fn seal_with_os_rng(
        suite: Suite,
        context: &SealContext,
        recipients: &[&[u8]],
        plaintext: &[u8],
    ) -> Result<SealedPayload, SealError> {
        use rand_core::{SeedableRng, TryRng};
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::SysRng
            .try_fill_bytes(&mut seed[..])
            .map_err(|_| SealError::Randomness)?;
        let mut rng = ChaCha20Rng::from_seed(*seed);
        seal(suite, context, recipients, plaintext, &mut rng)
    }

    impl SealedPayload {
        /// Open with a recipient's secret key, if the payload is bound to
        /// `expected` (the chain, device and sequence the reader expects).
        ///
        /// # Errors
        /// [`SealError::ContextMismatch`], [`SealError::SuiteMismatch`],
        /// [`SealError::NotARecipient`] or [`SealError::OpenFailed`].
        pub fn open(
            &self,
            key: &SealSecretKey,
            expected: &SealContext,
        ) -> Result<Vec<u8>, SealError> {
            if &self.context != expected {
                return Err(SealError::ContextMismatch);
            }
            if key.suite() != self.suite {
                return Err(SealError::SuiteMismatch);
            }
            let id = key.key_id();
            let header = SealedPayload::header(self.suite, &self.context);
            let mut found = false;
            for recipient in self.recipients.iter().filter(|r| r.key_id == id) {
                found = true;
                let unwrapped = match &key.inner {
                    SecretInner::X25519(secret) => {
                        unwrap::<X25519HkdfSha256>(secret, recipient, &header)
                    }
                    SecretInner::XWing(secret) => unwrap::<XWing>(secret, recipient, &header),
                };
                let Ok(content_key) = unwrapped else { continue };
                let Ok(content_key) = <[u8; CONTENT_KEY_LEN]>::try_from(content_key.as_slice())
                else {
                    continue;
                };
                let content_key = Zeroizing::new(content_key);
                let cipher = ChaCha20Poly1305::new(&(*content_key).into());
                return cipher
                    .decrypt(
                        &Nonce::default(),
                        AeadPayload {
                            msg: &self.ciphertext,
                            aad: &header,
                        },
                    )
                    .map_err(|_| SealError::OpenFailed);
            }
            Err(if found {
                SealError::OpenFailed
            } else {
                SealError::NotARecipient
            })
        }
    }
}

#[cfg(all(test, feature = "seal"))]
mod tests {
    use super::*;
    use crate::keys::Keypair;
    use rand_core::SeedableRng;

    fn context(sequence: u64) -> SealContext {
        SealContext {
            chain_id: ChainId(7),
            device: Keypair::from_seed([0x44; 32]).public(),
            sequence,
        }
    }

    fn keys(suite: Suite, n: u8) -> Vec<SealSecretKey> {
        (0..n)
            .map(|i| SealSecretKey::derive(&[i + 1; 32], suite, 0))
            .collect()
    }

    #[test]
    fn every_recipient_opens_and_no_one_else() {
        for suite in Suite::ALL {
            let recipients = keys(suite, 4);
            let publics: Vec<Vec<u8>> = recipients.iter().map(|k| k.public_key()).collect();
            let refs: Vec<&[u8]> = publics.iter().map(|k| k.as_slice()).collect();
            let mut rng = ChaCha20Rng::from_seed([1; 32]);
            let sealed = seal(suite, &context(3), &refs, b"reading", &mut rng).unwrap();
            assert_eq!(publics[0].len(), suite.public_key_len());
            let bytes = sealed.encode();
            assert_eq!(
                bytes.len(),
                b"reading".len() + suite.overhead(4),
                "{suite:?}"
            );
            let back = SealedPayload::decode(&bytes).unwrap();
            for key in &recipients {
                assert_eq!(back.open(key, &context(3)).unwrap(), b"reading");
            }
            let stranger = SealSecretKey::derive(&[0x99; 32], suite, 0);
            assert_eq!(
                back.open(&stranger, &context(3)),
                Err(SealError::NotARecipient)
            );
            // The next rotation of a recipient's key is another key.
            let rotated = SealSecretKey::derive(&[1; 32], suite, 1);
            assert_eq!(
                back.open(&rotated, &context(3)),
                Err(SealError::NotARecipient)
            );
        }
    }

    #[test]
    fn a_payload_moved_to_another_context_does_not_open() {
        for suite in Suite::ALL {
            let key = &keys(suite, 1)[0];
            let public = key.public_key();
            let mut rng = ChaCha20Rng::from_seed([2; 32]);
            let sealed = seal(suite, &context(3), &[&public], b"reading", &mut rng).unwrap();
            let other_device = SealContext {
                device: Keypair::from_seed([0x45; 32]).public(),
                ..context(3)
            };
            let other_chain = SealContext {
                chain_id: ChainId(8),
                ..context(3)
            };
            for expected in [context(4), other_device, other_chain] {
                assert_eq!(sealed.open(key, &expected), Err(SealError::ContextMismatch));
                // Rewriting the context in the payload does not help.
                let mut moved = sealed.clone();
                moved.context = expected;
                assert_eq!(moved.open(key, &expected), Err(SealError::OpenFailed));
            }
        }
    }

    #[test]
    fn any_altered_byte_fails_to_open_or_decode() {
        let suite = Suite::X25519;
        let key = &keys(suite, 1)[0];
        let public = key.public_key();
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let sealed = seal(suite, &context(1), &[&public], b"on, 4.2 W", &mut rng).unwrap();
        let bytes = sealed.encode();
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            if let Ok(payload) = SealedPayload::decode(&altered) {
                let opened = payload.open(key, &payload.context.clone());
                assert!(opened.is_err(), "byte {i} altered, still opened");
            }
        }
    }

    #[test]
    fn bounds_and_bad_keys_are_typed_errors() {
        let suite = Suite::X25519;
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        let key = keys(suite, 1).pop().unwrap().public_key();
        assert_eq!(
            seal(suite, &context(0), &[], b"x", &mut rng),
            Err(SealError::NoRecipients)
        );
        let many: Vec<&[u8]> = (0..9).map(|_| key.as_slice()).collect();
        assert_eq!(
            seal(suite, &context(0), &many, b"x", &mut rng),
            Err(SealError::TooManyRecipients(9))
        );
        let long = vec![0u8; SEALED_PLAINTEXT_MAX + 1];
        assert_eq!(
            seal(suite, &context(0), &[&key], &long, &mut rng),
            Err(SealError::PlaintextTooLong(SEALED_PLAINTEXT_MAX + 1))
        );
        assert_eq!(
            seal(suite, &context(0), &[&key[..31]], b"x", &mut rng),
            Err(SealError::InvalidPublicKey)
        );
        assert_eq!(
            seal(Suite::XWing, &context(0), &[&key], b"x", &mut rng),
            Err(SealError::InvalidPublicKey)
        );
        assert!(check_public_key(Suite::X25519, &key).is_ok());
        let xwing = keys(Suite::XWing, 1).pop().unwrap();
        assert!(check_public_key(Suite::XWing, &xwing.public_key()).is_ok());
        assert!(public_key_is_valid(Suite::XWing, &xwing.public_key()));
        assert!(public_key_is_valid(Suite::X25519, &key));
        // The crate-free check agrees with the HPKE library on bad keys.
        let mut bad = xwing.public_key();
        bad[..3].copy_from_slice(&[0xFF, 0xFF, 0xFF]);
        assert!(!public_key_is_valid(Suite::XWing, &bad));
        assert!(check_public_key(Suite::XWing, &bad).is_err());
        assert!(!public_key_is_valid(Suite::XWing, &bad[..1215]));
        let sealed = seal(suite, &context(0), &[&key], b"x", &mut rng).unwrap();
        assert_eq!(
            sealed.open(&xwing, &context(0)),
            Err(SealError::SuiteMismatch)
        );
    }

    #[test]
    fn derivation_is_deterministic_and_separated() {
        for suite in Suite::ALL {
            let a = SealSecretKey::derive(&[7; 32], suite, 0);
            let b = SealSecretKey::derive(&[7; 32], suite, 0);
            assert_eq!(a.public_key(), b.public_key());
            assert_ne!(
                a.public_key(),
                SealSecretKey::derive(&[7; 32], suite, 1).public_key()
            );
            assert_ne!(
                a.public_key(),
                SealSecretKey::derive(&[8; 32], suite, 0).public_key()
            );
        }
    }

    #[test]
    fn key_records_round_trip_and_wrong_lengths_are_refused() {
        let key = keys(Suite::XWing, 1).pop().unwrap();
        let record = SealKeyRecord {
            suite: Suite::XWing,
            public_key: key.public_key(),
            key_seq: 3,
            published_height: 10,
        };
        assert_eq!(SealKeyRecord::decode(&record.encode()), Ok(record.clone()));
        let wrong = SealKeyRecord {
            suite: Suite::X25519,
            ..record
        };
        assert!(SealKeyRecord::decode(&wrong.encode()).is_err());
    }
}

#[cfg(test)]
mod decode_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(payload) = SealedPayload::decode(&bytes) {
                prop_assert_eq!(&payload.encode(), &bytes);
            }
            if let Ok(record) = SealKeyRecord::decode(&bytes) {
                prop_assert_eq!(&record.encode(), &bytes);
            }
        }
    }
}
