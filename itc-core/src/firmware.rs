//! Firmware updates through the chain, with no update server.
//!
//! A manufacturer registers a product line and its release key on chain
//! ([`Payload::RegisterProduct`](crate::types::Payload::RegisterProduct)).
//! A release is a [`FirmwareManifest`] signed by that key and published in
//! a transaction
//! ([`Payload::PublishRelease`](crate::types::Payload::PublishRelease)); the
//! ledger keeps, per product, the [`ProductRecord`] and the current
//! [`ReleaseRecord`] in the state tree, so a device proves both against a
//! header it trusts. The image itself can come from anywhere (a phone, a
//! gateway, a peer): the device hashes it as it streams in
//! ([`ImageHasher`]) and compares with the manifest.
//!
//! The checks are split as Uptane and IETF SUIT split them:
//!
//! * **Authority** (Uptane's targets role, SUIT's manifest signature): the
//!   manifest is signed by the product's current release key, itself proven
//!   from the chain ([`ProductRecord`]).
//! * **Freshness and consistency** (Uptane's timestamp/snapshot roles,
//!   SUIT's sequence number): the manifest is the one the chain names as
//!   current at a header the device trusts ([`ReleaseRecord`]), not revoked,
//!   and newer than what the device runs ([`FirmwareManifest::version`]).
//!   The ledger refuses a release that is not newer than the current one,
//!   so the chain's versions only grow.
//! * **Integrity** (both): the image hashes to
//!   [`FirmwareManifest::image_hash`] and has exactly
//!   [`FirmwareManifest::image_size`] bytes.
//!
//! The device-side check lives in `itc-spv` (`itc_spv::firmware`).
//!
//! # Example
//! ```
//! use itc_core::firmware::{FirmwareManifest, ImageHasher};
//! use itc_core::keys::Keypair;
//! use itc_core::types::ChainId;
//!
//! let image = vec![0xA5u8; 4096];
//! let manifest = FirmwareManifest {
//!     product: 7,
//!     version: 1_001_000,
//!     image_hash: ImageHasher::hash(&image),
//!     image_size: image.len() as u32,
//!     min_version: 1_000_000,
//! };
//! let release_key = Keypair::from_seed([9; 32]);
//! let signature = manifest.sign(&release_key, ChainId(1));
//! assert!(manifest.verify(&release_key.public(), ChainId(1), &signature).is_ok());
//! // Signed for one chain, it does not verify on another.
//! assert!(manifest.verify(&release_key.public(), ChainId(2), &signature).is_err());
//! ```

use crate::encoding::{Decode, DecodeError, Encode, Reader};
use crate::hash::{Domain, Hash, Hasher};
use crate::keys::{Keypair, PublicKey, Signature, SignatureError, SigningDomain};
use crate::types::ChainId;
use alloc::vec::Vec;

/// Largest firmware image a manifest may describe (16 MiB).
pub const FIRMWARE_IMAGE_MAX: u32 = 16 * 1024 * 1024;

/// A firmware release: what a device needs to decide whether to install an
/// image. Signed by the product's release key
/// ([`SigningDomain::FirmwareRelease`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirmwareManifest {
    /// The product line (registered with
    /// [`Payload::RegisterProduct`](crate::types::Payload::RegisterProduct)).
    pub product: u64,
    /// The release's version: numbers only grow (for example
    /// `major * 1_000_000 + minor * 1_000 + patch`).
    pub version: u32,
    /// BLAKE2b-256 of the image under [`Domain::FirmwareImage`]
    /// ([`ImageHasher`]).
    pub image_hash: Hash,
    /// The image's exact length in bytes, 1 to [`FIRMWARE_IMAGE_MAX`].
    pub image_size: u32,
    /// The oldest version that may install this release directly (older
    /// devices must first install an intermediate release). At most
    /// `version`.
    pub min_version: u32,
}

impl FirmwareManifest {
    /// Whether the fields are consistent on their own: a non-empty image no
    /// larger than [`FIRMWARE_IMAGE_MAX`] and `min_version <= version`.
    pub fn is_well_formed(&self) -> bool {
        self.image_size > 0
            && self.image_size <= FIRMWARE_IMAGE_MAX
            && self.min_version <= self.version
    }

    /// Sign with a release key, for chain `chain_id`.
    pub fn sign(&self, release_key: &Keypair, chain_id: ChainId) -> Signature {
        release_key.sign(SigningDomain::FirmwareRelease, chain_id, &self.encode())
    }

    /// Check a release key's signature over this manifest for `chain_id`.
    ///
    /// # Errors
    /// [`SignatureError`] if it does not verify.
    pub fn verify(
        &self,
        release_key: &PublicKey,
        chain_id: ChainId,
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        release_key.verify(
            SigningDomain::FirmwareRelease,
            chain_id,
            &self.encode(),
            signature,
        )
    }
}

impl Encode for FirmwareManifest {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.product.encode_to(out);
        self.version.encode_to(out);
        self.image_hash.encode_to(out);
        self.image_size.encode_to(out);
        self.min_version.encode_to(out);
    }
}

impl Decode for FirmwareManifest {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let manifest = FirmwareManifest {
            product: Decode::decode_from(r)?,
            version: Decode::decode_from(r)?,
            image_hash: Decode::decode_from(r)?,
            image_size: Decode::decode_from(r)?,
            min_version: Decode::decode_from(r)?,
        };
        if !manifest.is_well_formed() {
            return Err(DecodeError::InvalidValue("firmware manifest"));
        }
        Ok(manifest)
    }
}

/// A product line on chain: who makes it and which key signs its releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProductRecord {
    /// The account that registered the product; only it may rotate the
    /// release key or revoke releases.
    pub manufacturer: PublicKey,
    /// The key that signs [`FirmwareManifest`]s. Rotating it (registering
    /// the product again) leaves releases signed by the old key unverifiable
    /// until a release signed by the new one is published.
    pub release_key: PublicKey,
    /// How many times the release key was rotated.
    pub key_seq: u32,
}

/// A product's current release on chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseRecord {
    /// The manifest.
    pub manifest: FirmwareManifest,
    /// The release key's signature over it.
    pub signature: Signature,
    /// Set by [`Payload::RevokeRelease`](crate::types::Payload::RevokeRelease):
    /// devices must not install it. A later release replaces the record.
    pub revoked: bool,
    /// The height of the block that published it.
    pub published_height: u64,
}

impl Encode for ProductRecord {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.manufacturer.encode_to(out);
        self.release_key.encode_to(out);
        self.key_seq.encode_to(out);
    }
}

impl Decode for ProductRecord {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ProductRecord {
            manufacturer: Decode::decode_from(r)?,
            release_key: Decode::decode_from(r)?,
            key_seq: Decode::decode_from(r)?,
        })
    }
}

impl Encode for ReleaseRecord {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.manifest.encode_to(out);
        self.signature.encode_to(out);
        self.revoked.encode_to(out);
        self.published_height.encode_to(out);
    }
}

impl Decode for ReleaseRecord {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ReleaseRecord {
            manifest: Decode::decode_from(r)?,
            signature: Decode::decode_from(r)?,
            revoked: Decode::decode_from(r)?,
            published_height: Decode::decode_from(r)?,
        })
    }
}

/// Streaming BLAKE2b-256 of a firmware image under
/// [`Domain::FirmwareImage`]: constant memory whatever the image's size.
#[derive(Clone)]
pub struct ImageHasher {
    hasher: Hasher,
    length: u64,
}

impl core::fmt::Debug for ImageHasher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ImageHasher")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl Default for ImageHasher {
    fn default() -> Self {
        ImageHasher::new()
    }
}

impl ImageHasher {
    /// An empty hasher.
    pub fn new() -> Self {
        ImageHasher {
            hasher: Hasher::new(Domain::FirmwareImage),
            length: 0,
        }
    }

    /// Feed the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.length = self.length.saturating_add(chunk.len() as u64);
    }

    /// Bytes fed so far.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The image hash.
    pub fn finalize(self) -> Hash {
        self.hasher.finalize()
    }

    /// The hash of a whole image held in memory.
    pub fn hash(image: &[u8]) -> Hash {
        let mut hasher = ImageHasher::new();
        hasher.update(image);
        hasher.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> FirmwareManifest {
        FirmwareManifest {
            product: 42,
            version: 1_001_000,
            image_hash: ImageHasher::hash(b"image"),
            image_size: 5,
            min_version: 1_000_000,
        }
    }

    #[test]
    fn streaming_hash_equals_one_shot_hash_for_any_chunking() {
        let image: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = ImageHasher::hash(&image);
        for chunk in [1usize, 7, 64, 128, 1000, 10_000] {
            let mut hasher = ImageHasher::new();
            for part in image.chunks(chunk) {
                hasher.update(part);
            }
            assert_eq!(hasher.length(), image.len() as u64);
            assert_eq!(hasher.finalize(), whole, "chunks of {chunk}");
        }
        assert_ne!(ImageHasher::hash(&image[1..]), whole);
    }

    #[test]
    fn records_round_trip_and_bad_manifests_are_refused() {
        let m = manifest();
        assert_eq!(FirmwareManifest::decode(&m.encode()), Ok(m));
        let key = Keypair::from_seed([3; 32]);
        let release = ReleaseRecord {
            manifest: m,
            signature: m.sign(&key, ChainId(1)),
            revoked: true,
            published_height: 9,
        };
        assert_eq!(ReleaseRecord::decode(&release.encode()), Ok(release));
        let product = ProductRecord {
            manufacturer: key.public(),
            release_key: Keypair::from_seed([4; 32]).public(),
            key_seq: 2,
        };
        assert_eq!(ProductRecord::decode(&product.encode()), Ok(product));
        for bad in [
            FirmwareManifest { image_size: 0, ..m },
            FirmwareManifest {
                image_size: FIRMWARE_IMAGE_MAX + 1,
                ..m
            },
            FirmwareManifest {
                min_version: m.version + 1,
                ..m
            },
        ] {
            assert!(FirmwareManifest::decode(&bad.encode()).is_err());
        }
    }

    #[test]
    fn a_signature_covers_every_field() {
        let key = Keypair::from_seed([5; 32]);
        let m = manifest();
        let signature = m.sign(&key, ChainId(1));
        assert!(m.verify(&key.public(), ChainId(1), &signature).is_ok());
        let changed = [
            FirmwareManifest { product: 43, ..m },
            FirmwareManifest {
                version: m.version + 1,
                ..m
            },
            FirmwareManifest {
                image_hash: ImageHasher::hash(b"other"),
                ..m
            },
            FirmwareManifest { image_size: 6, ..m },
            FirmwareManifest {
                min_version: 0,
                ..m
            },
        ];
        for other in changed {
            assert!(other.verify(&key.public(), ChainId(1), &signature).is_err());
        }
        let stranger = Keypair::from_seed([6; 32]);
        assert!(m
            .verify(&stranger.public(), ChainId(1), &signature)
            .is_err());
    }
}
