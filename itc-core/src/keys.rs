//! Ed25519 keys and domain-bound signatures (ed25519-compact, strict verification).
//!
//! A signature never covers bare bytes: the signed message is always
//! `"itc-sig1" || domain tag || chain id || message`, so a signature made for
//! one purpose or one chain is worthless for any other.
//!
//! ```
//! use itc_core::keys::{Keypair, SigningDomain};
//! use itc_core::types::ChainId;
//! let alice = Keypair::from_seed([7u8; 32]);
//! let sig = alice.sign(SigningDomain::Transaction, ChainId(1), b"hello");
//! assert!(alice.public().verify(SigningDomain::Transaction, ChainId(1), b"hello", &sig).is_ok());
//! // Same bytes, other chain or other purpose: rejected.
//! assert!(alice.public().verify(SigningDomain::Transaction, ChainId(2), b"hello", &sig).is_err());
//! assert!(alice.public().verify(SigningDomain::Vote, ChainId(1), b"hello", &sig).is_err());
//! ```
//!
//! # Secret hygiene
//! A [`Keypair`] overwrites its secret key (seed included) with zeros when
//! it is dropped, with writes the compiler may not elide ([`zeroize`]).
//! [`Keypair::seed`] hands out a [`Zeroizing`] copy that wipes itself too.
//! Copies the program makes itself (a seed array passed by value, bytes
//! copied out of a [`Zeroizing`]) are the caller's to wipe, and moves may
//! leave stale stack copies that no library can reach: wiping on drop
//! narrows the window in which a secret lingers in memory, it does not
//! close every one.

use crate::encoding::{Decode, DecodeError, Encode, Reader};
use crate::types::ChainId;
use alloc::vec::Vec;
use core::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Length of a public key in bytes.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of a signature in bytes.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a secret seed in bytes.
pub const SEED_LEN: usize = 32;

const SIGNATURE_PREFIX: &[u8; 8] = b"itc-sig1";

/// What a signature is for. Each purpose has its own tag in the signed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningDomain {
    /// A main-chain transaction.
    Transaction,
    /// A consensus vote (prepare or commit).
    Vote,
    /// Any other consensus message (pre-prepare, checkpoint, view change, new view).
    Consensus,
    /// A device's proof of pairing: the device signs its owner's key and its
    /// security level ([`crate::types::pairing_message`]).
    DevicePairing,
    /// A command sent to a device by a grantee.
    DeviceCommand,
    /// A DAG side-chain transaction.
    DagTransaction,
    /// A device owner's vouching for a new trusted header, to bring a light
    /// client back after it went without headers for a trust period.
    DeviceRecovery,
    /// A device's binding of a sealing (encryption) public key to its
    /// signing key ([`crate::seal::key_binding_message`]).
    SealKeyBinding,
    /// A manufacturer's release key signing a firmware manifest
    /// ([`crate::firmware::FirmwareManifest`]).
    FirmwareRelease,
}

impl SigningDomain {
    /// The 8-byte tag of this purpose.
    pub const fn tag(self) -> &'static [u8; 8] {
        match self {
            SigningDomain::Transaction => b"tx\0\0\0\0\0\0",
            SigningDomain::Vote => b"vote\0\0\0\0",
            SigningDomain::Consensus => b"pbft\0\0\0\0",
            SigningDomain::DevicePairing => b"pairing\0",
            SigningDomain::DeviceCommand => b"command\0",
            SigningDomain::DagTransaction => b"dagtx\0\0\0",
            SigningDomain::DeviceRecovery => b"recover\0",
            SigningDomain::SealKeyBinding => b"sealkey\0",
            SigningDomain::FirmwareRelease => b"firmware",
        }
    }
}

/// Why a secret seed was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// Every byte is zero: almost certainly an uninitialised buffer.
    #[error("seed is all zeros")]
    AllZero,
}

/// Why a signature was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The public key is not a valid (or is a weak, small-order) curve point.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// The signature does not verify under the key and message.
    #[error("signature verification failed")]
    VerificationFailed,
}

/// An ed25519 public key (also the identity of accounts, devices and validators).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; PUBLIC_KEY_LEN]);

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl Signature {
    /// An all-zero placeholder, for unsigned values under construction.
    pub const EMPTY: Signature = Signature([0u8; SIGNATURE_LEN]);
}

/// An ed25519 key pair derived from a 32-byte seed.
///
/// The secret is wiped when the key pair is dropped; each clone holds its own
/// copy and wipes it when it is dropped.
#[derive(Clone)]
pub struct Keypair {
    /// The expanded key pair. Its secret key is `seed || public key`
    /// (ed25519-compact's layout), so the seed lives here and nowhere else;
    /// signing hashes it per call as RFC 8032 does, without the scalar
    /// multiplication that deriving the public key costs.
    inner: ed25519_compact::KeyPair,
}

fn signed_message(domain: SigningDomain, chain_id: ChainId, message: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(20 + message.len());
    bytes.extend_from_slice(SIGNATURE_PREFIX);
    bytes.extend_from_slice(domain.tag());
    bytes.extend_from_slice(&chain_id.0.to_le_bytes());
    bytes.extend_from_slice(message);
    bytes
}

impl Keypair {
    /// Derive the key pair from a secret seed (RFC 8032 "private key").
    ///
    /// The seed is copied into the key pair, which wipes it on drop; the
    /// caller's own copy of `seed` is the caller's to wipe.
    ///
    /// # Panics
    /// On the all-zero seed, which ed25519-compact refuses (it is what an
    /// uninitialised buffer looks like). Use [`Keypair::try_from_seed`] for
    /// seeds from outside the program.
    pub fn from_seed(seed: [u8; SEED_LEN]) -> Self {
        match Self::try_from_seed(seed) {
            Ok(keypair) => keypair,
            Err(_) => panic!("all-zero ed25519 seed"),
        }
    }

    /// [`Keypair::from_seed`] for seeds from outside the program.
    ///
    /// # Errors
    /// [`SeedError::AllZero`] for the all-zero seed.
    pub fn try_from_seed(mut seed: [u8; SEED_LEN]) -> Result<Self, SeedError> {
        if seed == [0; SEED_LEN] {
            return Err(SeedError::AllZero);
        }
        let mut compact_seed = ed25519_compact::Seed::new(seed);
        let inner = ed25519_compact::KeyPair::from_seed(compact_seed);
        // Both are copies (`Seed` is `Copy`); the key pair holds its own.
        let compact_bytes: &mut [u8; SEED_LEN] = &mut compact_seed;
        compact_bytes.zeroize();
        seed.zeroize();
        Ok(Keypair { inner })
    }

    /// The secret seed, for export. Keep it secret.
    ///
    /// The returned copy wipes itself when dropped. Bytes copied out of it
    /// (`*keypair.seed()`, `.to_vec()`) are ordinary memory that the caller
    /// must wipe.
    pub fn seed(&self) -> Zeroizing<[u8; SEED_LEN]> {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        seed.copy_from_slice(&self.inner.sk[..SEED_LEN]);
        seed
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(*self.inner.pk)
    }

    /// Sign `message` for `domain` on chain `chain_id` (deterministic, RFC 8032).
    pub fn sign(&self, domain: SigningDomain, chain_id: ChainId, message: &[u8]) -> Signature {
        self.sign_raw(&signed_message(domain, chain_id, message))
    }

    /// Plain RFC 8032 signature, without domain binding. Only for the
    /// known-answer tests.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> Signature {
        #[cfg(all(fuzzing, feature = "std"))]
        return fuzz_memo::sign(&self.public(), message, || {
            Signature(*self.inner.sk.sign(message, None))
        });
        #[cfg(not(all(fuzzing, feature = "std")))]
        Signature(*self.inner.sk.sign(message, None))
    }
}

impl Keypair {
    /// Overwrite the secret key (seed and its public half) with zeros. The
    /// key pair signs garbage afterwards, so only [`Drop`] calls it.
    fn wipe(&mut self) {
        // `SecretKey` derefs mutably to its `seed || public key` bytes.
        let secret: &mut [u8; ed25519_compact::SecretKey::BYTES] = &mut self.inner.sk;
        secret.zeroize();
    }
}

impl Drop for Keypair {
    fn drop(&mut self) {
        self.wipe();
        #[cfg(test)]
        tests::observe_drop(self);
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Verify a domain-bound signature strictly: canonical encodings only,
    /// small-order keys rejected.
    ///
    /// # Errors
    /// [`SignatureError`] saying why the signature is not acceptable.
    pub fn verify(
        &self,
        domain: SigningDomain,
        chain_id: ChainId,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        self.verify_raw(&signed_message(domain, chain_id, message), signature)
    }

    /// Plain RFC 8032 verification, without domain binding.
    pub(crate) fn verify_raw(
        &self,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        #[cfg(all(fuzzing, feature = "std"))]
        return fuzz_memo::verify(self, message, signature, || {
            self.verify_uncached(message, signature)
        });
        #[cfg(not(all(fuzzing, feature = "std")))]
        self.verify_uncached(message, signature)
    }

    fn verify_uncached(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        let pk = ed25519_compact::PublicKey::new(self.0);
        let sig = ed25519_compact::Signature::new(signature.0);
        pk.verify(message, &sig).map_err(|e| match e {
            ed25519_compact::Error::WeakPublicKey | ed25519_compact::Error::InvalidPublicKey => {
                SignatureError::InvalidPublicKey
            }
            _ => SignatureError::VerificationFailed,
        })
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        for b in &self.0[..6] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(")?;
        for b in &self.0[..6] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

impl Encode for PublicKey {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for PublicKey {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PublicKey(reader.read_array()?))
    }
}

impl Encode for Signature {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for Signature {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Signature(reader.read_array()?))
    }
}

/// Fuzzing builds only (cargo-fuzz sets `--cfg fuzzing`): memoized ed25519.
///
/// Signing (RFC 8032 signatures are deterministic) and verification are
/// pure functions of their inputs, and the stateful fuzz targets sign and
/// verify the same few keys' messages over and over: without this, most of
/// their time goes to curve arithmetic rather than to the code under test.
/// The first call for given inputs runs the real arithmetic and records the
/// result; a repeat returns that result, so behaviour is unchanged. The
/// tables are cleared when they hold [`ENTRIES_MAX`](fuzz_memo::ENTRIES_MAX)
/// entries. Never compiled into a normal build.
#[cfg(all(fuzzing, feature = "std"))]
mod fuzz_memo {
    use super::{PublicKey, Signature, SignatureError};
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::vec::Vec;

    /// Entries per table before it is cleared.
    pub(super) const ENTRIES_MAX: usize = 1 << 16;

    type Verified = HashMap<([u8; 32], [u8; 64], Vec<u8>), Result<(), SignatureError>>;
    type Signed = HashMap<([u8; 32], Vec<u8>), Signature>;

    static VERIFIED: Mutex<Option<Verified>> = Mutex::new(None);
    static SIGNED: Mutex<Option<Signed>> = Mutex::new(None);

    pub(super) fn verify(
        key: &PublicKey,
        message: &[u8],
        signature: &Signature,
        compute: impl FnOnce() -> Result<(), SignatureError>,
    ) -> Result<(), SignatureError> {
        memoized(&VERIFIED, (key.0, signature.0, message.to_vec()), compute)
    }

    pub(super) fn sign(
        key: &PublicKey,
        message: &[u8],
        compute: impl FnOnce() -> Signature,
    ) -> Signature {
        memoized(&SIGNED, (key.0, message.to_vec()), compute)
    }

    /// The recorded value for `entry`, or `compute()`'s, recorded.
    fn memoized<K: core::hash::Hash + Eq, V: Copy>(
        table: &Mutex<Option<HashMap<K, V>>>,
        entry: K,
        compute: impl FnOnce() -> V,
    ) -> V {
        let known = table
            .lock()
            .ok()
            .and_then(|table| table.as_ref()?.get(&entry).copied());
        if let Some(value) = known {
            return value;
        }
        let value = compute();
        if let Ok(mut table) = table.lock() {
            let table = table.get_or_insert_with(HashMap::new);
            if table.len() >= ENTRIES_MAX {
                table.clear();
            }
            table.insert(entry, value);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;
    use core::cell::Cell;
    // Without the `std` feature the crate is `no_std`; the test harness
    // links std regardless.
    #[cfg(not(feature = "std"))]
    extern crate std;

    std::thread_local! {
        /// The secret key bytes of the last key pair dropped on this thread,
        /// as they were at the end of its `Drop` (after the wipe).
        static LAST_DROPPED: Cell<Option<[u8; ed25519_compact::SecretKey::BYTES]>> =
            const { Cell::new(None) };
    }

    #[test]
    fn an_all_zero_seed_is_refused_without_a_panic() {
        assert_eq!(
            Keypair::try_from_seed([0; SEED_LEN]).err(),
            Some(SeedError::AllZero)
        );
        let one = Keypair::try_from_seed([1; SEED_LEN]).unwrap();
        assert_eq!(one.public(), Keypair::from_seed([1; SEED_LEN]).public());
    }

    /// Called by `Keypair`'s `Drop` in test builds.
    pub(super) fn observe_drop(keypair: &Keypair) {
        LAST_DROPPED.with(|last| last.set(Some(*keypair.inner.sk)));
    }

    fn take_last_dropped() -> Option<[u8; ed25519_compact::SecretKey::BYTES]> {
        LAST_DROPPED.with(Cell::take)
    }

    struct Vector {
        secret: &'static str,
        public: &'static str,
        message: &'static str,
        signature: &'static str,
    }

    /// RFC 8032 section 7.1, tests 1, 2, 3 and "SHA(abc)".
    const RFC8032_VECTORS: &[Vector] = &[
        Vector {
            secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: "",
            signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        },
        Vector {
            secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: "72",
            signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        },
        Vector {
            secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            message: "af82",
            signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        },
        Vector {
            secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
            public: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
            message: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            signature: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
        },
    ];

    #[test]
    fn rfc8032_section_7_1_vectors() {
        for v in RFC8032_VECTORS {
            let kp = Keypair::from_seed(hex::decode_array(v.secret).unwrap());
            assert_eq!(kp.public().0, hex::decode_array::<32>(v.public).unwrap());
            let message = hex::decode(v.message).unwrap();
            let sig = kp.sign_raw(&message);
            assert_eq!(sig.0, hex::decode_array::<64>(v.signature).unwrap());
            assert!(kp.public().verify_raw(&message, &sig).is_ok());
            let mut bad = sig;
            bad.0[0] ^= 1;
            assert!(kp.public().verify_raw(&message, &bad).is_err());
        }
    }

    #[test]
    fn seed_round_trips() {
        let seed = hex::decode_array(RFC8032_VECTORS[1].secret).unwrap();
        let kp = Keypair::from_seed(seed);
        assert_eq!(*kp.seed(), seed);
        assert_eq!(Keypair::from_seed(*kp.seed()).public(), kp.public());
    }

    #[test]
    fn drop_wipes_the_secret_key() {
        let kp = Keypair::from_seed([7; SEED_LEN]);
        // The secret key holds the seed (then the public key) until the drop.
        assert_eq!(kp.inner.sk[..SEED_LEN], [7; SEED_LEN]);
        assert_eq!(kp.inner.sk[SEED_LEN..], kp.public().0);
        assert_eq!(take_last_dropped(), None);
        drop(kp);
        let left = take_last_dropped().expect("Keypair's Drop ran");
        assert_eq!(left, [0u8; ed25519_compact::SecretKey::BYTES]);
    }

    #[test]
    fn each_clone_wipes_only_itself() {
        let original = Keypair::from_seed([9; SEED_LEN]);
        let message = b"still signs";
        let expected = original.sign(SigningDomain::Transaction, ChainId(3), message);
        let clone = original.clone();
        drop(original);
        assert_eq!(take_last_dropped(), Some([0u8; 64]));
        // The clone's secret is its own: untouched by the original's wipe.
        assert_eq!(*clone.seed(), [9; SEED_LEN]);
        assert_eq!(
            clone.sign(SigningDomain::Transaction, ChainId(3), message),
            expected
        );
        drop(clone);
        assert_eq!(take_last_dropped(), Some([0u8; 64]));
    }

    #[test]
    fn non_canonical_s_is_rejected() {
        // S + L (the group order) verifies under lax verifiers; strict must refuse.
        let v = &RFC8032_VECTORS[0];
        let kp = Keypair::from_seed(hex::decode_array(v.secret).unwrap());
        let mut sig = kp.sign_raw(b"");
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (s_byte, l_byte) in sig.0[32..].iter_mut().zip(L) {
            let sum = *s_byte as u16 + l_byte as u16 + carry;
            *s_byte = sum as u8;
            carry = sum >> 8;
        }
        assert!(kp.public().verify_raw(b"", &sig).is_err());
    }

    #[test]
    fn small_order_public_key_is_rejected() {
        // The identity point (y = 1) has order 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let pk = PublicKey(identity);
        assert!(pk
            .verify(SigningDomain::Vote, ChainId(1), b"x", &Signature::EMPTY)
            .is_err());
    }

    #[test]
    fn signature_binds_domain_and_chain() {
        let kp = Keypair::from_seed([1; 32]);
        let sig = kp.sign(SigningDomain::DeviceCommand, ChainId(9), b"on");
        let pk = kp.public();
        assert!(pk
            .verify(SigningDomain::DeviceCommand, ChainId(9), b"on", &sig)
            .is_ok());
        assert!(pk
            .verify(SigningDomain::DeviceCommand, ChainId(8), b"on", &sig)
            .is_err());
        assert!(pk
            .verify(SigningDomain::DevicePairing, ChainId(9), b"on", &sig)
            .is_err());
        assert!(pk
            .verify(SigningDomain::DeviceCommand, ChainId(9), b"off", &sig)
            .is_err());
    }
}
