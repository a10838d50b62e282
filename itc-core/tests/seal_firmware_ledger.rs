//! Ledger behaviour of issue 14's payloads, through real signed transactions
//! and applied blocks, read back with state proofs as a light client would:
//!
//! * sealing keys ([`Payload::PublishSealKey`]): an account's own keys, a
//!   device's keys published by its owner with the device's binding
//!   signature, rotation numbers that only step by one;
//! * firmware products and releases ([`Payload::RegisterProduct`],
//!   [`Payload::PublishRelease`], [`Payload::RevokeRelease`]): one
//!   manufacturer per product, manifests signed by the current release key,
//!   versions that only grow, revocation;
//! * a block with a refused transaction changes nothing;
//! * strict canonical encoding of the four payloads.

use itc_core::encoding::{Decode, DecodeError, Encode};
use itc_core::firmware::{FirmwareManifest, ImageHasher, ProductRecord, ReleaseRecord};
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::{Keypair, PublicKey, Signature, SigningDomain};
use itc_core::ledger::{state_key, value_hash, BlockContext, BlockError, Ledger, TxError};
use itc_core::seal::{key_binding_message, SealKeyRecord, Suite};
use itc_core::storage::{MemoryStorage, Storage};
use itc_core::types::{pairing_message, Amount, ChainId, Payload, SecurityLevel, Transaction};
use itc_core::Hash;
use proptest::prelude::*;

const CHAIN: ChainId = ChainId(42);

// ---------------------------------------------------------------------------
// A small chain (the helpers follow tests/ledger.rs).
// ---------------------------------------------------------------------------

struct Net {
    owner: Keypair,
    guest: Keypair,
    lamp: Keypair,
    maker: Keypair,
    validator: Keypair,
    ledger: Ledger,
    storage: MemoryStorage,
    nonces: std::collections::HashMap<PublicKey, u64>,
}

impl Net {
    fn new() -> Net {
        let owner = Keypair::from_seed([1; 32]);
        let guest = Keypair::from_seed([2; 32]);
        let lamp = Keypair::from_seed([3; 32]);
        let maker = Keypair::from_seed([4; 32]);
        let validator = Keypair::from_seed([9; 32]);
        let account = |key: &Keypair| GenesisAccount {
            public_key: key.public(),
            balance: 10_000,
        };
        let genesis = Genesis {
            chain_id: CHAIN.0,
            epoch_length: 1000,
            accounts: vec![account(&owner), account(&guest), account(&maker)],
            validators: vec![GenesisValidator {
                public_key: validator.public(),
                weight: 100,
            }],
            ..Genesis::default()
        };
        let (ledger, writes) = Ledger::from_genesis(&genesis).unwrap();
        let mut storage = MemoryStorage::default();
        storage.write(writes).unwrap();
        Net {
            owner,
            guest,
            lamp,
            maker,
            validator,
            ledger,
            storage,
            nonces: Default::default(),
        }
    }

    fn tx(&mut self, who: &Keypair, payload: Payload) -> Transaction {
        let nonce = self.nonces.entry(who.public()).or_default();
        let tx = Transaction::new_signed(who, CHAIN, *nonce, Amount(1), payload);
        *nonce += 1;
        tx
    }

    fn context(&self) -> BlockContext {
        BlockContext {
            height: self.ledger.height() + 1,
            proposer: self.validator.public(),
            time_ms: 0,
        }
    }

    fn apply(&mut self, txs: &[Transaction]) -> Result<Hash, BlockError> {
        let context = self.context();
        let outcome = self.ledger.apply_block(&context, txs)?;
        self.storage.write(outcome.writes).unwrap();
        Ok(outcome.state_root)
    }

    /// Apply a block of one transaction by `who`, expecting it to be refused:
    /// the reason, with the sender's nonce given back.
    fn refused(&mut self, who: &Keypair, payload: Payload) -> TxError {
        let tx = self.tx(who, payload);
        let error = invalid(self.apply(&[tx]));
        *self.nonces.get_mut(&who.public()).unwrap() -= 1;
        error
    }

    /// Apply a block of one transaction by `who` that must be accepted.
    fn accepted(&mut self, who: &Keypair, payload: Payload) -> Hash {
        let tx = self.tx(who, payload);
        self.apply(&[tx]).expect("transaction accepted")
    }

    fn register_lamp(&mut self) {
        let level = SecurityLevel::new(1).unwrap();
        let pairing = self.lamp.sign(
            SigningDomain::DevicePairing,
            CHAIN,
            &pairing_message(&self.owner.public(), level),
        );
        let owner = self.owner.clone();
        let payload = Payload::RegisterDevice {
            device: self.lamp.public(),
            security_level: level,
            metadata_hash: Hash::ZERO,
            pairing_signature: pairing,
        };
        self.accepted(&owner, payload);
    }

    /// The value under `key`, proven against `root` (membership or absence)
    /// as a light client checks it, then decoded.
    fn proven<T: Decode>(&mut self, root: &Hash, key: &Hash) -> Option<T> {
        assert_eq!(
            &self.ledger.state_root(),
            root,
            "proof against a stale root"
        );
        let (value, proof) = self.ledger.prove(key);
        match value {
            Some(bytes) => {
                proof
                    .verify(root, key, Some(&value_hash(&bytes)))
                    .expect("membership proof");
                assert!(proof.verify(root, key, None).is_err());
                Some(T::decode(&bytes).expect("stored record decodes"))
            }
            None => {
                proof.verify(root, key, None).expect("absence proof");
                None
            }
        }
    }
}

fn invalid(result: Result<Hash, BlockError>) -> TxError {
    match result {
        Err(BlockError::InvalidTransaction { error, .. }) => error,
        other => panic!("expected an invalid transaction, got {other:?}"),
    }
}

/// A public key of `suite` (its exact length; the ledger does not run the
/// suite's arithmetic, so any bytes of that length do).
fn seal_key(suite: Suite, fill: u8) -> Vec<u8> {
    vec![fill; suite.public_key_len()]
}

fn own_key(subject: &Keypair, suite: Suite, key_seq: u32, public_key: Vec<u8>) -> Payload {
    Payload::PublishSealKey {
        subject: subject.public(),
        suite,
        public_key,
        key_seq,
        subject_signature: None,
    }
}

/// The device's binding signature over its key.
fn binding(device: &Keypair, suite: Suite, key_seq: u32, public_key: &[u8]) -> Signature {
    device.sign(
        SigningDomain::SealKeyBinding,
        CHAIN,
        &key_binding_message(&device.public(), suite, key_seq, public_key),
    )
}

fn device_key(
    device: &PublicKey,
    suite: Suite,
    key_seq: u32,
    public_key: Vec<u8>,
    signature: Signature,
) -> Payload {
    Payload::PublishSealKey {
        subject: *device,
        suite,
        public_key,
        key_seq,
        subject_signature: Some(signature),
    }
}

fn manifest(product: u64, version: u32) -> FirmwareManifest {
    let image = version.to_le_bytes().repeat(1024);
    FirmwareManifest {
        product,
        version,
        image_hash: ImageHasher::hash(&image),
        image_size: image.len() as u32,
        min_version: version.saturating_sub(1000),
    }
}

fn release(manifest: FirmwareManifest, key: &Keypair) -> Payload {
    Payload::PublishRelease {
        manifest,
        signature: manifest.sign(key, CHAIN),
    }
}

// ---------------------------------------------------------------------------
// Sealing keys.
// ---------------------------------------------------------------------------

#[test]
fn an_account_publishes_and_rotates_its_own_keys_one_step_at_a_time() {
    let mut net = Net::new();
    let owner = net.owner.clone();
    let x0 = seal_key(Suite::X25519, 0x10);
    let w0 = seal_key(Suite::XWing, 0x20);
    let a = net.tx(&owner, own_key(&owner, Suite::X25519, 0, x0.clone()));
    let b = net.tx(&owner, own_key(&owner, Suite::XWing, 0, w0.clone()));
    let root = net.apply(&[a, b]).unwrap();
    let x_key = state_key::seal_key(&owner.public(), Suite::X25519);
    let w_key = state_key::seal_key(&owner.public(), Suite::XWing);
    assert_eq!(
        net.proven::<SealKeyRecord>(&root, &x_key),
        Some(SealKeyRecord {
            suite: Suite::X25519,
            public_key: x0,
            key_seq: 0,
            published_height: 1,
        })
    );
    assert_eq!(
        net.proven::<SealKeyRecord>(&root, &w_key),
        Some(SealKeyRecord {
            suite: Suite::XWing,
            public_key: w0.clone(),
            key_seq: 0,
            published_height: 1,
        })
    );
    // Nobody else has a key.
    let guest_key = state_key::seal_key(&net.guest.public(), Suite::X25519);
    assert_eq!(net.proven::<SealKeyRecord>(&root, &guest_key), None);

    // Rotation: key_seq 1 replaces the X25519 key; the X-Wing key stays.
    let x1 = seal_key(Suite::X25519, 0x11);
    let root = net.accepted(&owner, own_key(&owner, Suite::X25519, 1, x1.clone()));
    let record = net.proven::<SealKeyRecord>(&root, &x_key).unwrap();
    assert_eq!(record.public_key, x1);
    assert_eq!((record.key_seq, record.published_height), (1, 2));
    let record = net.proven::<SealKeyRecord>(&root, &w_key).unwrap();
    assert_eq!((record.public_key, record.key_seq), (w0, 0));

    // Anything but the next rotation number is refused, per suite.
    for (suite, found, expected) in [
        (Suite::X25519, 0, 2),
        (Suite::X25519, 1, 2),
        (Suite::X25519, 5, 2),
        (Suite::XWing, 0, 1),
        (Suite::XWing, u32::MAX, 1),
    ] {
        assert_eq!(
            net.refused(&owner, own_key(&owner, suite, found, seal_key(suite, 0x33))),
            TxError::SealKeySequence { expected, found },
            "{suite:?} key_seq {found}"
        );
    }
    // A first key must be number 0.
    let guest = net.guest.clone();
    assert_eq!(
        net.refused(
            &guest,
            own_key(&guest, Suite::X25519, 1, seal_key(Suite::X25519, 1))
        ),
        TxError::SealKeySequence {
            expected: 0,
            found: 1
        }
    );
    // Nothing changed.
    let root = net.ledger.state_root();
    let record = net.proven::<SealKeyRecord>(&root, &x_key).unwrap();
    assert_eq!((record.public_key, record.key_seq), (x1, 1));
}

#[test]
fn keys_of_others_and_bindings_on_ones_own_key_are_refused() {
    let mut net = Net::new();
    let owner = net.owner.clone();
    let guest = net.guest.clone();
    let key = seal_key(Suite::X25519, 7);

    // A binding signature on one's own key is refused, even a valid one.
    let signature = binding(&owner, Suite::X25519, 0, &key);
    let own_with_signature = device_key(&owner.public(), Suite::X25519, 0, key.clone(), signature);
    assert_eq!(
        net.refused(&owner, own_with_signature),
        TxError::BadSealKeyBinding
    );
    // Another account's key without its signature.
    assert_eq!(
        net.refused(&owner, own_key(&guest, Suite::X25519, 0, key.clone())),
        TxError::BadSealKeyBinding
    );
    // With the other account's binding signature: it is not a device the
    // sender owns.
    let signature = binding(&guest, Suite::X25519, 0, &key);
    assert_eq!(
        net.refused(
            &owner,
            device_key(&guest.public(), Suite::X25519, 0, key.clone(), signature)
        ),
        TxError::UnknownDevice
    );
    let root = net.ledger.state_root();
    for who in [&owner, &guest] {
        let state_key = state_key::seal_key(&who.public(), Suite::X25519);
        assert_eq!(net.proven::<SealKeyRecord>(&root, &state_key), None);
    }
}

#[test]
fn a_public_key_of_the_wrong_length_does_not_decode_and_is_refused() {
    // Encoded for the wire (a transaction carrying it), a key whose length is
    // not its suite's does not decode.
    let owner = Keypair::from_seed([1; 32]);
    for (suite, len) in [
        (Suite::X25519, 31),
        (Suite::X25519, 33),
        (Suite::X25519, Suite::XWing.public_key_len()),
        (Suite::XWing, Suite::X25519.public_key_len()),
        (Suite::XWing, Suite::XWing.public_key_len() - 1),
        (Suite::X25519, 0),
        (Suite::XWing, Suite::XWing.public_key_len() + 1),
    ] {
        let payload = own_key(&owner, suite, 0, vec![5; len]);
        let decoded = Payload::decode(&payload.encode());
        if len > Suite::XWing.public_key_len() {
            assert!(
                matches!(decoded, Err(DecodeError::LengthTooLarge { .. })),
                "{suite:?} with a {len}-byte key: {decoded:?}"
            );
        } else {
            assert_eq!(
                decoded,
                Err(DecodeError::InvalidValue("seal public key length")),
                "{suite:?} with a {len}-byte key"
            );
        }
        let tx = Transaction::new_signed(&owner, CHAIN, 0, Amount(1), payload);
        assert!(Transaction::decode(&tx.encode()).is_err());
    }
    // The right lengths decode back to the same payload.
    for suite in Suite::ALL {
        let payload = own_key(&owner, suite, 3, seal_key(suite, 9));
        assert_eq!(Payload::decode(&payload.encode()), Ok(payload));
    }
    // Built in memory and handed to the ledger, it is refused too.
    let mut net = Net::new();
    let owner = net.owner.clone();
    let root = net.ledger.state_root();
    assert_eq!(
        net.refused(&owner, own_key(&owner, Suite::X25519, 0, vec![5; 33])),
        TxError::InvalidSealKey
    );
    // An X-Wing key of the right length whose ML-KEM part is out of range
    // (it would make every seal that includes it fail) is refused.
    assert_eq!(
        net.refused(&owner, own_key(&owner, Suite::XWing, 0, vec![0xFF; 1216])),
        TxError::InvalidSealKey
    );
    assert_eq!(net.ledger.state_root(), root);
}

#[test]
fn an_owner_publishes_its_devices_key_with_the_devices_binding() {
    let mut net = Net::new();
    net.register_lamp();
    let owner = net.owner.clone();
    let guest = net.guest.clone();
    let lamp = net.lamp.clone();
    let suite = Suite::X25519;
    let k0 = seal_key(suite, 0x40);

    // Without the device's signature, or with a wrong one: refused.
    assert_eq!(
        net.refused(&owner, own_key(&lamp, suite, 0, k0.clone())),
        TxError::BadSealKeyBinding
    );
    let other_chain = lamp.sign(
        SigningDomain::SealKeyBinding,
        ChainId(43),
        &key_binding_message(&lamp.public(), suite, 0, &k0),
    );
    let other_domain = lamp.sign(
        SigningDomain::DevicePairing,
        CHAIN,
        &key_binding_message(&lamp.public(), suite, 0, &k0),
    );
    let bad_signatures = [
        ("signed by the owner", binding(&owner, suite, 0, &k0)),
        ("over key_seq 1", binding(&lamp, suite, 1, &k0)),
        (
            "over another key",
            binding(&lamp, suite, 0, &seal_key(suite, 0x41)),
        ),
        ("over the other suite", binding(&lamp, Suite::XWing, 0, &k0)),
        ("for another chain", other_chain),
        ("in another domain", other_domain),
        ("garbage", Signature([7; 64])),
    ];
    for (what, signature) in bad_signatures {
        assert_eq!(
            net.refused(
                &owner,
                device_key(&lamp.public(), suite, 0, k0.clone(), signature)
            ),
            TxError::BadSealKeyBinding,
            "{what}"
        );
    }
    // A valid binding, but the sender does not own the device.
    let good = binding(&lamp, suite, 0, &k0);
    assert_eq!(
        net.refused(
            &guest,
            device_key(&lamp.public(), suite, 0, k0.clone(), good)
        ),
        TxError::NotOwner
    );
    // A valid binding of a device nobody registered.
    let stray = Keypair::from_seed([0x77; 32]);
    let stray_binding = binding(&stray, suite, 0, &k0);
    assert_eq!(
        net.refused(
            &owner,
            device_key(&stray.public(), suite, 0, k0.clone(), stray_binding)
        ),
        TxError::UnknownDevice
    );
    let key = state_key::seal_key(&lamp.public(), suite);
    let root = net.ledger.state_root();
    assert_eq!(net.proven::<SealKeyRecord>(&root, &key), None);

    // The owner with the lamp's binding: stored, provable.
    let height = net.ledger.height() + 1;
    let root = net.accepted(
        &owner,
        device_key(&lamp.public(), suite, 0, k0.clone(), good),
    );
    assert_eq!(
        net.proven::<SealKeyRecord>(&root, &key),
        Some(SealKeyRecord {
            suite,
            public_key: k0.clone(),
            key_seq: 0,
            published_height: height,
        })
    );
    // Published under the lamp, not the owner.
    let owner_key = state_key::seal_key(&owner.public(), suite);
    assert_eq!(net.proven::<SealKeyRecord>(&root, &owner_key), None);

    // The same binding again (a replay) is not the next rotation.
    assert_eq!(
        net.refused(
            &owner,
            device_key(&lamp.public(), suite, 0, k0.clone(), good)
        ),
        TxError::SealKeySequence {
            expected: 1,
            found: 0
        }
    );
    // Rotation needs the lamp's signature over key_seq 1.
    let k1 = seal_key(suite, 0x42);
    let reused = binding(&lamp, suite, 0, &k1);
    assert_eq!(
        net.refused(
            &owner,
            device_key(&lamp.public(), suite, 1, k1.clone(), reused)
        ),
        TxError::BadSealKeyBinding
    );
    let rotation = binding(&lamp, suite, 1, &k1);
    let root = net.accepted(
        &owner,
        device_key(&lamp.public(), suite, 1, k1.clone(), rotation),
    );
    let record = net.proven::<SealKeyRecord>(&root, &key).unwrap();
    assert_eq!(
        (record.public_key, record.key_seq, record.published_height),
        (k1, 1, height + 1)
    );

    // Once the lamp is handed over, only its new owner publishes its keys.
    net.accepted(
        &owner,
        Payload::TransferDevice {
            device: lamp.public(),
            new_owner: guest.public(),
        },
    );
    let k2 = seal_key(suite, 0x43);
    let next = binding(&lamp, suite, 2, &k2);
    assert_eq!(
        net.refused(
            &owner,
            device_key(&lamp.public(), suite, 2, k2.clone(), next)
        ),
        TxError::NotOwner
    );
    let root = net.accepted(
        &guest,
        device_key(&lamp.public(), suite, 2, k2.clone(), next),
    );
    let record = net.proven::<SealKeyRecord>(&root, &key).unwrap();
    assert_eq!((record.public_key, record.key_seq), (k2, 2));
}

#[test]
fn a_devices_xwing_key_is_bound_the_same_way() {
    let mut net = Net::new();
    net.register_lamp();
    let owner = net.owner.clone();
    let lamp = net.lamp.clone();
    let key = seal_key(Suite::XWing, 0x55);
    // A binding made for the X25519 suite does not publish an X-Wing key.
    let x_binding = binding(&lamp, Suite::X25519, 0, &key);
    assert_eq!(
        net.refused(
            &owner,
            device_key(&lamp.public(), Suite::XWing, 0, key.clone(), x_binding)
        ),
        TxError::BadSealKeyBinding
    );
    let good = binding(&lamp, Suite::XWing, 0, &key);
    let root = net.accepted(
        &owner,
        device_key(&lamp.public(), Suite::XWing, 0, key.clone(), good),
    );
    let record = net
        .proven::<SealKeyRecord>(&root, &state_key::seal_key(&lamp.public(), Suite::XWing))
        .unwrap();
    assert_eq!(
        (record.suite, record.public_key, record.key_seq),
        (Suite::XWing, key, 0)
    );
    let x_key = state_key::seal_key(&lamp.public(), Suite::X25519);
    assert_eq!(net.proven::<SealKeyRecord>(&root, &x_key), None);
}

// ---------------------------------------------------------------------------
// Firmware products and releases.
// ---------------------------------------------------------------------------

#[test]
fn a_product_belongs_to_its_first_registrant_who_alone_rotates_its_key() {
    let mut net = Net::new();
    let maker = net.maker.clone();
    let owner = net.owner.clone();
    let r0 = Keypair::from_seed([0x50; 32]).public();
    let r1 = Keypair::from_seed([0x51; 32]).public();
    let key = state_key::product(7);
    let root = net.ledger.state_root();
    assert_eq!(net.proven::<ProductRecord>(&root, &key), None);

    let root = net.accepted(
        &maker,
        Payload::RegisterProduct {
            product: 7,
            release_key: r0,
        },
    );
    assert_eq!(
        net.proven::<ProductRecord>(&root, &key),
        Some(ProductRecord {
            manufacturer: maker.public(),
            release_key: r0,
            key_seq: 0,
        })
    );
    // Registering again rotates the release key.
    let root = net.accepted(
        &maker,
        Payload::RegisterProduct {
            product: 7,
            release_key: r1,
        },
    );
    assert_eq!(
        net.proven::<ProductRecord>(&root, &key),
        Some(ProductRecord {
            manufacturer: maker.public(),
            release_key: r1,
            key_seq: 1,
        })
    );
    // Another account cannot take the product or its key.
    for release_key in [r0, owner.public()] {
        assert_eq!(
            net.refused(
                &owner,
                Payload::RegisterProduct {
                    product: 7,
                    release_key
                }
            ),
            TxError::NotManufacturer
        );
    }
    let root = net.ledger.state_root();
    assert_eq!(
        net.proven::<ProductRecord>(&root, &key)
            .unwrap()
            .release_key,
        r1
    );
    // Another product id is another product.
    let root = net.accepted(
        &owner,
        Payload::RegisterProduct {
            product: 8,
            release_key: r0,
        },
    );
    let other = net
        .proven::<ProductRecord>(&root, &state_key::product(8))
        .unwrap();
    assert_eq!((other.manufacturer, other.key_seq), (owner.public(), 0));
    assert_eq!(
        net.proven::<ProductRecord>(&root, &key)
            .unwrap()
            .manufacturer,
        maker.public()
    );
}

#[test]
fn releases_are_signed_by_the_current_release_key_and_only_grow() {
    let mut net = Net::new();
    let maker = net.maker.clone();
    let r0 = Keypair::from_seed([0x50; 32]);
    let r1 = Keypair::from_seed([0x51; 32]);
    net.accepted(
        &maker,
        Payload::RegisterProduct {
            product: 7,
            release_key: r0.public(),
        },
    );
    let key = state_key::release(7);
    let root = net.ledger.state_root();
    assert_eq!(net.proven::<ReleaseRecord>(&root, &key), None);

    let v1 = manifest(7, 1_001_000);
    let height = net.ledger.height() + 1;
    let root = net.accepted(&maker, release(v1, &r0));
    assert_eq!(
        net.proven::<ReleaseRecord>(&root, &key),
        Some(ReleaseRecord {
            manifest: v1,
            signature: v1.sign(&r0, CHAIN),
            revoked: false,
            published_height: height,
        })
    );

    // Not newer: the same version (even another image) or an older one.
    for version in [1_001_000, 1_000_999, 0] {
        let stale = FirmwareManifest {
            image_hash: ImageHasher::hash(b"another image"),
            ..manifest(7, version)
        };
        assert_eq!(
            net.refused(&maker, release(stale, &r0)),
            TxError::StaleRelease {
                current: 1_001_000,
                found: version
            },
            "version {version}"
        );
    }
    // Not signed by the release key, or not over this manifest or chain.
    let v2 = manifest(7, 1_002_000);
    let stranger = Keypair::from_seed([0x66; 32]);
    let over_v1 = Payload::PublishRelease {
        manifest: v2,
        signature: v1.sign(&r0, CHAIN),
    };
    let tampered = Payload::PublishRelease {
        manifest: FirmwareManifest {
            image_hash: ImageHasher::hash(b"tampered"),
            ..v2
        },
        signature: v2.sign(&r0, CHAIN),
    };
    let other_chain = Payload::PublishRelease {
        manifest: v2,
        signature: v2.sign(&r0, ChainId(43)),
    };
    let by_manufacturer = release(v2, &maker);
    for (what, payload) in [
        ("another key", release(v2, &stranger)),
        ("the manufacturer's account key", by_manufacturer),
        ("a signature over another manifest", over_v1),
        ("a tampered image hash", tampered),
        ("another chain", other_chain),
    ] {
        assert_eq!(
            net.refused(&maker, payload),
            TxError::BadReleaseSignature,
            "{what}"
        );
    }
    // A product nobody registered.
    assert_eq!(
        net.refused(&maker, release(manifest(9, 1), &r0)),
        TxError::UnknownProduct
    );
    // Inconsistent fields (only a manifest built in memory can be: it does
    // not decode).
    let malformed = FirmwareManifest {
        min_version: v2.version + 1,
        ..v2
    };
    assert!(FirmwareManifest::decode(&malformed.encode()).is_err());
    assert_eq!(
        net.refused(&maker, release(malformed, &r0)),
        TxError::MalformedManifest
    );
    let root = net.ledger.state_root();
    assert_eq!(
        net.proven::<ReleaseRecord>(&root, &key).unwrap().manifest,
        v1
    );

    // After the release key rotates, the old key signs nothing new.
    net.accepted(
        &maker,
        Payload::RegisterProduct {
            product: 7,
            release_key: r1.public(),
        },
    );
    assert_eq!(
        net.refused(&maker, release(v2, &r0)),
        TxError::BadReleaseSignature
    );
    let root = net.accepted(&maker, release(v2, &r1));
    let current = net.proven::<ReleaseRecord>(&root, &key).unwrap();
    assert_eq!(current.manifest, v2);
    assert!(v2.verify(&r1.public(), CHAIN, &current.signature).is_ok());
    assert!(!current.revoked);
}

#[test]
fn only_the_manufacturer_revokes_the_current_release_and_a_newer_one_replaces_it() {
    let mut net = Net::new();
    let maker = net.maker.clone();
    let owner = net.owner.clone();
    let r0 = Keypair::from_seed([0x50; 32]);
    let revoke = |version| Payload::RevokeRelease {
        product: 7,
        version,
    };
    assert_eq!(net.refused(&maker, revoke(1)), TxError::UnknownProduct);
    net.accepted(
        &maker,
        Payload::RegisterProduct {
            product: 7,
            release_key: r0.public(),
        },
    );
    // Nothing published yet.
    assert_eq!(net.refused(&maker, revoke(0)), TxError::NoSuchRelease);

    let v1 = manifest(7, 1_001_000);
    let published_at = net.ledger.height() + 1;
    net.accepted(&maker, release(v1, &r0));
    let key = state_key::release(7);

    assert_eq!(
        net.refused(&owner, revoke(v1.version)),
        TxError::NotManufacturer
    );
    for version in [v1.version - 1, v1.version + 1] {
        assert_eq!(
            net.refused(&maker, revoke(version)),
            TxError::NoSuchRelease,
            "version {version}"
        );
    }
    let root = net.ledger.state_root();
    assert!(!net.proven::<ReleaseRecord>(&root, &key).unwrap().revoked);

    let root = net.accepted(&maker, revoke(v1.version));
    assert_eq!(
        net.proven::<ReleaseRecord>(&root, &key),
        Some(ReleaseRecord {
            manifest: v1,
            signature: v1.sign(&r0, CHAIN),
            revoked: true,
            published_height: published_at,
        })
    );
    // Twice: there is no unrevoked release of that version left.
    assert_eq!(
        net.refused(&maker, revoke(v1.version)),
        TxError::NoSuchRelease
    );
    // The revoked manifest cannot be published again to un-revoke it.
    assert_eq!(
        net.refused(&maker, release(v1, &r0)),
        TxError::StaleRelease {
            current: v1.version,
            found: v1.version
        }
    );
    let root = net.ledger.state_root();
    assert!(net.proven::<ReleaseRecord>(&root, &key).unwrap().revoked);

    // A newer release replaces the revoked one and is not revoked.
    let v2 = manifest(7, 1_001_001);
    let height = net.ledger.height() + 1;
    let root = net.accepted(&maker, release(v2, &r0));
    assert_eq!(
        net.proven::<ReleaseRecord>(&root, &key),
        Some(ReleaseRecord {
            manifest: v2,
            signature: v2.sign(&r0, CHAIN),
            revoked: false,
            published_height: height,
        })
    );
    // Revoking the old version now names no current release.
    assert_eq!(
        net.refused(&maker, revoke(v1.version)),
        TxError::NoSuchRelease
    );
}

// ---------------------------------------------------------------------------
// Blocks are atomic.
// ---------------------------------------------------------------------------

#[test]
fn a_block_with_a_refused_transaction_changes_nothing() {
    let mut net = Net::new();
    let owner = net.owner.clone();
    let maker = net.maker.clone();
    let r0 = Keypair::from_seed([0x50; 32]);
    let stranger = Keypair::from_seed([0x66; 32]);
    let root_before = net.ledger.state_root();
    let height_before = net.ledger.height();

    let key = net.tx(
        &owner,
        own_key(&owner, Suite::X25519, 0, seal_key(Suite::X25519, 1)),
    );
    let product = net.tx(
        &maker,
        Payload::RegisterProduct {
            product: 7,
            release_key: r0.public(),
        },
    );
    let bad_release = net.tx(&maker, release(manifest(7, 1), &stranger));
    let result = net.apply(&[key.clone(), product.clone(), bad_release]);
    assert!(matches!(
        result,
        Err(BlockError::InvalidTransaction {
            index: 2,
            error: TxError::BadReleaseSignature
        })
    ));
    assert_eq!(net.ledger.state_root(), root_before);
    assert_eq!(net.ledger.height(), height_before);
    let seal = state_key::seal_key(&owner.public(), Suite::X25519);
    assert_eq!(net.proven::<SealKeyRecord>(&root_before, &seal), None);
    assert_eq!(
        net.proven::<ProductRecord>(&root_before, &state_key::product(7)),
        None
    );
    assert_eq!(net.ledger.account(&owner.public()).nonce, 0);
    assert_eq!(net.ledger.account(&maker.public()).balance, Amount(10_000));

    // Inside one block, a second first key for the same subject is not the
    // next rotation: the whole block goes.
    let again = Transaction::new_signed(
        &owner,
        CHAIN,
        1,
        Amount(1),
        own_key(&owner, Suite::X25519, 0, seal_key(Suite::X25519, 2)),
    );
    let result = net.apply(&[key.clone(), again]);
    assert!(matches!(
        result,
        Err(BlockError::InvalidTransaction {
            index: 1,
            error: TxError::SealKeySequence {
                expected: 1,
                found: 0
            }
        })
    ));
    assert_eq!(net.ledger.state_root(), root_before);

    // The valid transactions alone still apply (no nonce was used up).
    let root = net.apply(&[key, product]).unwrap();
    assert_ne!(root, root_before);
    assert_eq!(
        net.proven::<SealKeyRecord>(&root, &seal).unwrap().key_seq,
        0
    );
    assert!(net
        .proven::<ProductRecord>(&root, &state_key::product(7))
        .is_some());
}

// ---------------------------------------------------------------------------
// Canonical encoding.
// ---------------------------------------------------------------------------

fn public_key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}

fn signature() -> impl Strategy<Value = Signature> {
    any::<[u8; 64]>().prop_map(Signature)
}

fn suite() -> impl Strategy<Value = Suite> {
    prop_oneof![Just(Suite::X25519), Just(Suite::XWing)]
}

fn well_formed_manifest() -> impl Strategy<Value = FirmwareManifest> {
    (
        any::<u64>(),
        any::<u32>(),
        any::<[u8; 32]>(),
        1..=itc_core::firmware::FIRMWARE_IMAGE_MAX,
        any::<u32>(),
    )
        .prop_map(
            |(product, version, hash, image_size, min)| FirmwareManifest {
                product,
                version,
                image_hash: Hash(hash),
                image_size,
                min_version: if version == 0 { 0 } else { min % (version + 1) },
            },
        )
}

fn new_payload() -> impl Strategy<Value = Payload> {
    let seal_key = (suite(), any::<u8>())
        .prop_flat_map(|(suite, _)| {
            (
                Just(suite),
                proptest::collection::vec(any::<u8>(), suite.public_key_len()),
            )
        })
        .boxed();
    prop_oneof![
        (
            public_key(),
            seal_key,
            any::<u32>(),
            proptest::option::of(signature())
        )
            .prop_map(
                |(subject, (suite, public_key), key_seq, subject_signature)| {
                    Payload::PublishSealKey {
                        subject,
                        suite,
                        public_key,
                        key_seq,
                        subject_signature,
                    }
                }
            ),
        (any::<u64>(), public_key()).prop_map(|(product, release_key)| {
            Payload::RegisterProduct {
                product,
                release_key,
            }
        }),
        (well_formed_manifest(), signature()).prop_map(|(manifest, signature)| {
            Payload::PublishRelease {
                manifest,
                signature,
            }
        }),
        (any::<u64>(), any::<u32>())
            .prop_map(|(product, version)| Payload::RevokeRelease { product, version }),
    ]
}

proptest! {
    #[test]
    fn new_payloads_round_trip(payload in new_payload()) {
        let bytes = payload.encode();
        prop_assert_eq!(Payload::decode(&bytes), Ok(payload.clone()));
        // Inside a signed transaction too.
        let sender = Keypair::from_seed([1; 32]);
        let tx = Transaction::new_signed(&sender, CHAIN, 3, Amount(1), payload);
        prop_assert_eq!(Transaction::decode(&tx.encode()), Ok(tx));
        // A truncated or extended encoding does not decode.
        prop_assert!(Payload::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(Payload::decode(&longer).is_err());
    }

    #[test]
    fn fixed_size_bodies_decode_strictly(
        (tag, body) in prop_oneof![
            // RegisterProduct: product and release key, any bytes.
            proptest::collection::vec(any::<u8>(), 8 + 32).prop_map(|b| (10u8, b)),
            // RevokeRelease: product and version, any bytes.
            proptest::collection::vec(any::<u8>(), 8 + 4).prop_map(|b| (12u8, b)),
            // PublishRelease: a manifest (often not well formed) and a signature.
            proptest::collection::vec(any::<u8>(), 8 + 4 + 32 + 4 + 4 + 64).prop_map(|b| (11u8, b)),
        ],
    ) {
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&body);
        match Payload::decode(&bytes) {
            Ok(payload) => prop_assert_eq!(payload.encode(), bytes.clone()),
            Err(error) => prop_assert!(tag == 11, "tag {} refused: {:?}", tag, error),
        }
        // One byte more or less never decodes.
        prop_assert!(Payload::decode(&bytes[..bytes.len() - 1]).is_err());
        bytes.push(0);
        prop_assert!(Payload::decode(&bytes).is_err());
    }

    #[test]
    fn any_altered_byte_of_a_new_payload_decodes_to_another_payload_or_not_at_all(
        payload in new_payload(),
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut bytes = payload.encode();
        let i = position.index(bytes.len());
        bytes[i] ^= flip;
        if let Ok(decoded) = Payload::decode(&bytes) {
            prop_assert_ne!(&decoded, &payload);
            prop_assert_eq!(decoded.encode(), bytes);
        }
    }
}
