//! Known-answer tests of the sealing suites against published vectors.
//!
//! * RFC 9180, Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//!   ChaCha20Poly1305, mode_base ([`Suite::X25519`]).
//! * draft-ietf-hpke-pq-04, section "Test Vectors", "MLKEM768-X25519,
//!   HKDF-SHA256, ChaCha20Poly1305" (mode_base): the X-Wing suite of HPKE
//!   ([`Suite::XWing`], KEM id 0x647a).
//! * draft-connolly-cfrg-xwing-kem-10, appendix "Test vectors" (the first
//!   vector): the X-Wing KEM itself, seed to public key and deterministic
//!   encapsulation.
//!
//! Every hex value below is copied from those documents (the IETF drafts'
//! `test-vectors.json`, as published with them), never produced by running
//! this code. The sender's ephemeral randomness is the vectors' `ikmE`
//! (`eseed` for the KEM), fed through a generator that yields exactly those
//! bytes and fails the test if asked for more: the `hpke` crate draws the
//! ephemeral key material from the generator it is given (32 bytes run
//! through DeriveKeyPair for X25519, 64 bytes of encapsulation randomness
//! for X-Wing).
#![cfg(feature = "seal")]

use core::convert::Infallible;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::{X25519HkdfSha256, XWing};
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use itc_core::hex;
use itc_core::seal::rand_core::{TryCryptoRng, TryRng};
use itc_core::seal::{SealSecretKey, Suite};

fn bytes(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text).expect("test vector hex")
}

/// A "random" generator that yields the given bytes once, in order, and
/// panics when asked for more: a sender that draws anything beyond the
/// vector's ephemeral input cannot reproduce the vector silently.
struct FixedRng {
    bytes: Vec<u8>,
    position: usize,
}

impl FixedRng {
    fn new(bytes: Vec<u8>) -> FixedRng {
        FixedRng { bytes, position: 0 }
    }

    fn is_exhausted(&self) -> bool {
        self.position == self.bytes.len()
    }
}

impl TryRng for FixedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut word = [0u8; 4];
        self.try_fill_bytes(&mut word)?;
        Ok(u32::from_le_bytes(word))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut word = [0u8; 8];
        self.try_fill_bytes(&mut word)?;
        Ok(u64::from_le_bytes(word))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let end = self.position + dst.len();
        assert!(
            end <= self.bytes.len(),
            "the sender drew {end} random bytes, the vector has {}",
            self.bytes.len()
        );
        dst.copy_from_slice(&self.bytes[self.position..end]);
        self.position = end;
        Ok(())
    }
}

impl TryCryptoRng for FixedRng {}

// ---------------------------------------------------------------------------
// RFC 9180, Appendix A.2.1 (Base Setup Information) and A.2.1.1
// (Encryptions), A.2.1.2 (Exported Values).

const A21_INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
const A21_IKM_E: &str = "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b";
const A21_PKEM: &str = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
const A21_IKM_R: &str = "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df";
const A21_PKRM: &str = "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a";
const A21_SKRM: &str = "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb";
const A21_PT: &str = "4265617574792069732074727574682c20747275746820626561757479";
/// (sequence number, aad, ct) of A.2.1.1.
const A21_ENCRYPTIONS: [(u64, &str, &str); 3] = [
    (
        0,
        "436f756e742d30",
        "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28",
    ),
    (
        1,
        "436f756e742d31",
        "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c",
    ),
    (
        2,
        "436f756e742d32",
        "71146bd6795ccc9c49ce25dda112a48f202ad220559502cef1f34271e0cb4b02b4f10ecac6f48c32f878fae86b",
    ),
];
/// (exporter_context, exported_value) of A.2.1.2, L = 32.
const A21_EXPORTS: [(&str, &str); 3] = [
    (
        "",
        "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e",
    ),
    (
        "00",
        "8c1df14732580e5501b00f82b10a1647b40713191b7c1240ac80e2b68808ba69",
    ),
    (
        "54657374436f6e74657874",
        "5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53",
    ),
];

#[test]
fn rfc9180_a21_key_derivation_gives_the_published_public_keys() {
    // Our recipient key from the vector's ikmR is the vector's pkRm, and the
    // sender's ephemeral key from ikmE is pkEm (DeriveKeyPair, RFC 9180 7.1.3).
    let recipient = SealSecretKey::from_ikm(Suite::X25519, &bytes(A21_IKM_R));
    assert_eq!(recipient.suite(), Suite::X25519);
    assert_eq!(hex::encode(&recipient.public_key()), A21_PKRM);
    let ephemeral = SealSecretKey::from_ikm(Suite::X25519, &bytes(A21_IKM_E));
    assert_eq!(hex::encode(&ephemeral.public_key()), A21_PKEM);
    assert_eq!(Suite::X25519.hpke_ids(), (0x0020, 0x0001, 0x0003));
    assert_eq!(Suite::X25519.public_key_len(), bytes(A21_PKRM).len());
    assert_eq!(Suite::X25519.encapsulated_key_len(), bytes(A21_PKEM).len());
}

#[test]
fn rfc9180_a21_single_shot_seal_reproduces_enc_and_first_ciphertext() {
    let pk_r = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&bytes(A21_PKRM)).unwrap();
    let (_, aad, ct) = A21_ENCRYPTIONS[0];
    let mut rng = FixedRng::new(bytes(A21_IKM_E));
    let (enc, ciphertext) =
        hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeS::Base,
            &pk_r,
            &bytes(A21_INFO),
            &bytes(A21_PT),
            &bytes(aad),
            &mut rng,
        )
        .unwrap();
    assert!(rng.is_exhausted(), "the sender drew fewer bytes than ikmE");
    // enc = pkEm (RFC 9180 A.2.1: "enc: 1afa08d3...").
    assert_eq!(hex::encode(&enc.to_bytes()), A21_PKEM);
    assert_eq!(hex::encode(&ciphertext), ct);

    // The recipient, with the published skRm, opens it.
    let sk_r = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&bytes(A21_SKRM)).unwrap();
    let opened = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk_r,
        &enc,
        &bytes(A21_INFO),
        &ciphertext,
        &bytes(aad),
    )
    .unwrap();
    assert_eq!(opened, bytes(A21_PT));
    // One altered byte of the ciphertext does not open.
    let mut altered = ciphertext.clone();
    altered[0] ^= 1;
    assert!(
        hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk_r,
            &enc,
            &bytes(A21_INFO),
            &altered,
            &bytes(aad),
        )
        .is_err()
    );
}

#[test]
fn rfc9180_a21_context_reproduces_the_sequence_and_exports() {
    let pk_r = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&bytes(A21_PKRM)).unwrap();
    let mut rng = FixedRng::new(bytes(A21_IKM_E));
    let (enc, mut sender) = hpke::setup_sender_with_rng::<
        ChaCha20Poly1305,
        HkdfSha256,
        X25519HkdfSha256,
    >(&OpModeS::Base, &pk_r, &bytes(A21_INFO), &mut rng)
    .unwrap();
    assert_eq!(hex::encode(&enc.to_bytes()), A21_PKEM);
    for (sequence, aad, ct) in A21_ENCRYPTIONS {
        let ciphertext = sender.seal(&bytes(A21_PT), &bytes(aad)).unwrap();
        assert_eq!(hex::encode(&ciphertext), ct, "sequence number {sequence}");
    }
    for (context, value) in A21_EXPORTS {
        let mut out = [0u8; 32];
        sender.export(&bytes(context), &mut out).unwrap();
        assert_eq!(hex::encode(&out), value, "exporter context {context:?}");
    }
}

// ---------------------------------------------------------------------------
// draft-ietf-hpke-pq-04, section "Test Vectors", subsection
// "MLKEM768-X25519, HKDF-SHA256, ChaCha20Poly1305" (mode 0, kem_id 0x647a,
// kdf_id 1, aead_id 3): Base Setup Information, Encryptions (sequence
// numbers 0 and 1), Exported Values (the first).

const PQ_INFO: &str = concat!(
    "3466363436353230366636653230363132303437373236353633363936313665",
    "3230353537323665",
);
const PQ_IKME: &str = concat!(
    "2a1c0a3745fe8a48fb62034d300f54dfe1974a5b2e169e580a8789cb1cf5fd19",
    "0fc00f3fd899594e01a8b15334b9f3fa03d8de44da86e19f5776850fb689e6c8",
);
const PQ_IKMR: &str = "b86e76a59fabfc87b30cd7b1f7aaa28a834eb64e7a261c197b9a842893fbce56";
const PQ_PKRM: &str = concat!(
    "f5fb01a5db909ac907ecc9524de9b9eaf4997dac7d22c961267c964403825160",
    "5a105ba7216669a8a1208ecaaf3a706fa7a7c4d7492260ca88c42a19732869f3",
    "b4c383477cd51c1da5c13a400244ec4b5c25ba350ed1509731bf801a7cfc92c4",
    "9650269405931b05c584f8737252141d2a9d1b02ad1b05afc18083681818e2bc",
    "324fc0403bb96447959a0a4aa874481f6444cdaa5c6f7010c841b99170d9b575",
    "fb2da199c038e62672334048d33ed5d84c6193c5ad69b92310bd1359a662da65",
    "db688c33eb2f98f627f4b4600b4002611693a0e581aad6a5454a424af00cc44c",
    "6cb09a8100838cbabb16e39acf88d41733785f531a141961ad64588e87d5c252",
    "eb101934a56f38316984cd6ea3a635218d560b5e0df4aa77a58d70aaaa0b36b5",
    "3c783e6eb59b1fa5990db51402c03a55829775a45be2cbc3f3914f2d1869ff64",
    "643ae777d74a47966537b7315d06dc29812004daa7b9a406b12cdb744bfc5ba5",
    "ca602261785e38939c530d8cdc33020b4a2f77761e64985271ca1ea4a0b5f0a7",
    "51704e705a94fd238c0770c262946758d5a5cd1cb82931771c4376f7887a1e77",
    "bd7b772d39c991de6c00093c87e5880bb82a0ea101b00ddb81c15684eaeb5c72",
    "784e0b1979f2c991b602b25a727b1ef8925ac96d0f993badeb3602b181faa8b7",
    "dfd38ba32c420d1b02eff996c8954c5e732cc5149b9c35262e27c25d1979cbb8",
    "77735212d7bbb759f72e54155260950962d475a3d7a1f354c378038a5633b0a8",
    "698ba579a88a403cb3cba9b3e563d3c25cc89b143fcc16a9284655253ec7db8b",
    "2dbb7b3e3a6d49cb220ebbb18ea635d6b2016d0a2f4b775d659a5ad59b9e68cb",
    "b8bdf0b69aca1d5670520552574b812b66d23a67270d1163a250a54c37aa3aa8",
    "68b318185412f84b11b16ebfdc3509eb805bb4536d63a920e0921c3209678751",
    "f9d782368490de2693aaf8390d7a2a3d831fb48009a104422889891915aad657",
    "9950a91be324755d299a30f8baa8babe21081ce0e0cc7f8826174c6d71b44e5f",
    "6c1d15f250b63b930c0703b22cb9d1493e65918ae3137e4e91c6ea9a83b90606",
    "228698b83480c0a77f72a3c628f48621b4b7ff497e5c7307ebc7586495b1724b",
    "158311421a5ac8539651c0012dffbb01f9350e63104be9294e61ba9889e17691",
    "c9c572c4a9cc8759359b2b4f73bd19f97fc935895dba7e4fe43aa5b629edaa82",
    "5ce7c1ca430e006228c4649de0414fdf5a5a53eb27965cb5840644ce0ab5c0db",
    "ab89f048b6677b9d8b8f933ab4f14b296cf184b9eb660c14b0a8a8c5c7b371a2",
    "87a0a67354c9295646e36d4b13c65eb2bcb90728b0c71e9ff801ccbb13119b5c",
    "d6380fc193a5baf1998b231a59c3517b196263694fb9da3904e67fab95c251c0",
    "47ac698fa000a045e764a3598f0cd84b83e3ca5366cf6f6ba1b8fb38166bc165",
    "466e94e50c354546bd912b3d6c44e2e46fb6c244e5527b3948aecb8a1865ab90",
    "ac44a6bcc13606641831a836be96b00a403f8ddc8e88bb9a1ad774dd251861ba",
    "b6bfd180ae7c2c94107259e7b5bbf92ca836b496aab97794bf3e5797013b1605",
    "8c7d7c38c118034c39201fae92c79773361747ba2b8aac31a9afc7b53a36d74a",
    "e3415e3526c23f98bfc6584d1069019dd977c37e950ed90f14f52991b2b28d0b",
    "f571686619612d7bc8206650c1d2fc9072220e7f4d4f557f15b33dcf32e5c837",
);
const PQ_ENC: &str = concat!(
    "26759c7b22923ea5cc9c78e3e14c8fc62dcb0a66ce44460966978a7fe9685e0c",
    "6d22999d99a3f112c307a6d5b2e63591f41e8a3516ba62908376d664557206e6",
    "96ae870305ff6ba08125266bc0765672beca90fd5c6dae0d3ddad1506065a9d4",
    "f297e0c3e70bb441961df26d7a19d79d1ef7e2ac5e53b32a3c7b4e07f2af2ae6",
    "5830a3e8d1cb2ac1932fc19ec5434303b62c9d010645cf95a475913da5d77a28",
    "2b88402e4a77ab17b09559dce8a96c67a27bea8f653ceaca3d278b6ed150fe93",
    "6dda28b1726665c946cab30363ef89eb878ffcc74caa277a5dab1994193a6796",
    "7125ebd50986dc16997b8f7484d7d0e27c79ff4b68201c1b4102f5a73322fd3d",
    "a96bf655d90c9b1e6305e01ab1b3449ea3f458b0e98e1f2d1632825c3b30018b",
    "b5eefbcc80f767d0b9e7f9f731e1958083879ebcc1b5bb061e89302c444a85ee",
    "ed169b10d2520fd47b6a111914f3bda2f31d04f250522ba951012a629fa2cd21",
    "92583cc9abd75d02b7a11fd18056c414b8f0e0936535bf9b637c7e614a1ae9b9",
    "e907fe9d14243f13625ec92a97599eaa491b9da918b586e27d34c7279205dd76",
    "cf0ecdbf60b5aea4cfb9dca41069f3e2fc8f371a7cf3b089ea469d8417bda314",
    "9159992399ccd5baf776a0f8966d4742cbedaeac131dde853cb1fbb7b869a4c0",
    "1cea8a487a2e52e757bf4dfcec23995e5f088804d2cf99c82f087454144cc586",
    "845d7cf81249e7ad919ea1b06001ad13501da118ee19859595015b4b1872912d",
    "d2d4f5dd854f144ae07038bd8bb2b498f8edcb1c70c2102af768d508a1b42372",
    "38c0c6e34a9c819b0ebf28f49505d374095b2b58c7a810cf1e806cb3c79af3bc",
    "84c8b657787804e374df2b49be6ac510d43024e65fd031540a7cd45c9348ad9f",
    "5511b969be6f9c4d849c1428f611225b0d9a3ae341669ba645baa877cdc34c39",
    "f5975f4991a77f86eca2c25ebee63a06928c1bbc9513f35547645e835544c1e4",
    "a8f33d7f29c1cfbde6425fa05aeff69f373aa8a281c92817cbe5be9305795354",
    "efc71a89462e87ce83919d679dcbfded88f7fff9177f4b49e8a959d9aa78b63f",
    "eb99fa56735df0f4fc253653a9177f767b307bb2a9e7e4d9042f22cc6c4f177d",
    "b80efaebfef8a3baa6f1423335c830308c2496118263f0bd361d93f8b4e75a7c",
    "ba94c2af72dd13ee8926524cfe9df14f79165a3498b9fd631cbb874d25b11315",
    "f9acb442512561cf7dc6098a08874fcc704cdd5e84e57811a49e78fbd56e5a8e",
    "767617321c295095595ea2b0f4aaca30dd38749ab83532be1bdcf4c32a119e03",
    "5558bb427dbdb806b4e15cea8df3c098728c2b5e40209c5138531db1b6607775",
    "44e6a014477a7d1b93eb0f245fe9e7053997c10504ef692f21639c86d8926ddc",
    "e6886d0c39eb7c59357ee54f81871019593713f4a6df37bf7003358694cff59a",
    "f9872ca02bf762e20499227dba2f552203459dcc69780ef08d9bab4140d96e1c",
    "478f06b63b60c9bfb10d90e31d47570ea949ab8e9b99db6ec2f8a2a77dcb25cc",
    "36b733dfc09b8299a9d7b19e68c09ad82703f9b47d34d1a3cbafe42c73f57d0e",
);
const PQ_PT: &str = concat!(
    "3432363536313735373437393230363937333230373437323735373436383263",
    "3230373437323735373436383230363236353631373537343739",
);
const PQ_AAD0: &str = "436f756e742d30";
const PQ_CT0: &str = concat!(
    "c5c591f99092d5e38df0a52699af249c66f8275a863423c076de8147a53e65cc",
    "584041c963b77a7e59ea93841b1339b5efda8909b71f74bb0073ad62e899de31",
    "0c1566dea2fd29eba377",
);
const PQ_AAD1: &str = "436f756e742d31";
const PQ_CT1: &str = concat!(
    "ce339b2b956509cf9a9d3d736e8529f4eb87f27483e0c647869bd1d32c6c95ab",
    "3ff3f151abb11f863e5ea7cb852dc0c92346b46ac340ab390f8d3b6bd85d5d2d",
    "11c77499e006e36e3699",
);
const PQ_EXPORT_CONTEXT0: &str = "70736575646f72616e646f6d30";
const PQ_EXPORT0: &str = "5a78d37f40e078c17ef43fa40963f1ff7dcdee56e366da9099dc181c3eccaee5";
const XW_SEED: &str = "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26";
const XW_PK: &str = concat!(
    "e2236b35a8c24b39b10aa1323a96a919a2ced88400633a7b07131713fc14b2b5",
    "b19cfc3da5fa1a92c49f25513e0fd30d6b1611c9ab9635d7086727a4b7d21d34",
    "244e66969cf15b3b2a785329f61b096b277ea037383479a6b556de7231fe4b7f",
    "a9c9ac24c0699a0018a5253401bacfa905ca816573e56a2d2e067e9b7287533b",
    "a13a937dedb31fa44baced40769923610034ae31e619a170245199b3c5c39864",
    "859fe1b4c9717a07c30495bdfb98a0a002ccf56c1286cef5041dede3c44cf16b",
    "f562c7448518026b3d8b9940680abd38a1575fd27b58da063bfac32c39c30869",
    "374c05c1aeb1898b6b303cc68be455346ee0af699636224a148ca2aea1046311",
    "1c709f69b69c70ce8538746698c4c60a9aef0030c7924ceec42a5d36816f545e",
    "ae13293460b3acb37ea0e13d70e4aa78686da398a8397c08eaf96882113fe4f7",
    "bad4da40b0501e1c753efe73053c87014e8661c33099afe8bede414a5b1aa27d",
    "8392b3e131e9a70c1055878240cad0f40d5fe3cdf85236ead97e2a97448363b2",
    "808caafd516cd25052c5c362543c2517e4acd0e60ec07163009b6425fc32277a",
    "cee71c24bab53ed9f29e74c66a0a3564955998d76b96a9a8b50d1635a4d7a67e",
    "b42df5644d330457293a8042f53cc7a69288f17ed55827e82b28e82665a86a14",
    "fbd96645eca8172c044f83bc0d8c0b4c8626985631ca87af829068f1358963cb",
    "333664ca482763ba3b3bb208577f9ba6ac62c25f76592743b64be519317714cb",
    "4102cb7b2f9a25b2b4f0615de31decd9ca55026d6da0b65111b16fe52feed8a4",
    "87e144462a6dba93728f500b6ffc49e515569ef25fed17aff520507368253525",
    "860f58be3be61c964604a6ac814e6935596402a520a4670b3d284318866593d1",
    "5a4bb01c35e3e587ee0c67d2880d6f2407fb7a70712b838deb96c5d7bf2b44bc",
    "f6038ccbe33fbcf51a54a584fe90083c91c7a6d43d4fb15f48c60c2fd66e0a8a",
    "ad4ad64e5c42bb8877c0ebec2b5e387c8a988fdc23beb9e16c8757781e0a1499",
    "c61e138c21f216c29d076979871caa6942bafc090544bee99b54b16cb9a9a364",
    "d6246d9f42cce53c66b59c45c8f9ae9299a75d15180c3c952151a91b7a107724",
    "29dc4cbae6fcc622fa8018c63439f890630b9928db6bb7f9438ae4065ed34d73",
    "d486f3f52f90f0807dc88dfdd8c728e954f1ac35c06c000ce41a0582580e3bb5",
    "7b672972890ac5e7988e7850657116f1b57d0809aaedec0bede1ae148148311c",
    "6f7e317346e5189fb8cd635b986f8c0bdd27641c584b778b3a911a80be1c9692",
    "ab8e1bbb12839573cce19df183b45835bbb55052f9fc66a1678ef2a36dea7841",
    "1e6c8d60501b4e60592d13698a943b509185db912e2ea10be06171236b327c71",
    "716094c964a68b03377f513a05bcd99c1f346583bb052977a10a12adfc758034",
    "e5617da4c1276585e5774e1f3b9978b09d0e9c44d3bc86151c43aad185712717",
    "340223ac381d21150a04294e97bb13bbda21b5a182b6da969e19a7fd072737fa",
    "8e880a53c2428e3d049b7d2197405296ddb361912a7bcf4827ced611d0c7a7da",
    "104dde4322095339f64a61d5bb108ff0bf4d780cae509fb22c256914193ff734",
    "9042581237d522828824ee3bdfd07fb03f1f942d2ea179fe722f06cc03de5b69",
    "859edb06eff389b27dce59844570216223593d4ba32d9abac8cd049040ef6534",
);
const XW_ESEED: &str = concat!(
    "3cb1eea988004b93103cfb0aeefd2a686e01fa4a58e8a3639ca8a1e3f9ae57e2",
    "35b8cc873c23dc62b8d260169afa2f75ab916a58d974918835d25e6a435085b2",
);
const XW_CT: &str = concat!(
    "b83aa828d4d62b9a83ceffe1d3d3bb1ef31264643c070c5798927e41fb07914a",
    "273f8f96e7826cd5375a283d7da885304c5de0516a0f0654243dc5b97f8bfeb8",
    "31f68251219aabdd723bc6512041acbaef8af44265524942b902e68ffd23221c",
    "da70b1b55d776a92d1143ea3a0c475f63ee6890157c7116dae3f62bf72f60acd",
    "2bb8cc31ce2ba0de364f52b8ed38c79d719715963a5dd3842d8e8b43ab704e47",
    "59b5327bf027c63c8fa857c4908d5a8a7b88ac7f2be394d93c3706ddd4e698cc",
    "6ce370101f4d0213254238b4a2e8821b6e414a1cf20f6c1244b699046f5a01ca",
    "a0a1a55516300b40d2048c77cc73afba79afeea9d2c0118bdf2adb8870dc328c",
    "5516cc45b1a2058141039e2c90a110a9e16b318dfb53bd49a126d6b73f215787",
    "517b8917cc01cabd107d06859854ee8b4f9861c226d3764c87339ab16c3667d2",
    "f49384e55456dd40414b70a6af841585f4c90c68725d57704ee8ee7ce6e2f9be",
    "582dbee985e038ffc346ebfb4e22158b6c84374a9ab4a44e1f91de5aac5197f8",
    "9bc5e5442f51f9a5937b102ba3beaebf6e1c58380a4a5fedce4a4e5026f88f52",
    "8f59ffd2db41752b3a3d90efabe463899b7d40870c530c8841e8712b733668ed",
    "033adbfafb2d49d37a44d4064e5863eb0af0a08d47b3cc888373bc05f7a33b84",
    "1bc2587c57eb69554e8a3767b7506917b6b70498727f16eac1a36ec8d8cfaf75",
    "1549f2277db277e8a55a9a5106b23a0206b4721fa9b3048552c5bd5b594d6e24",
    "7f38c18c591aea7f56249c72ce7b117afcc3a8621582f9cf71787e183dee0936",
    "7976e98409ad9217a497df888042384d7707a6b78f5f7fb8409e3b5351753734",
    "61b776002d799cbad62860be70573ecbe13b246e0da7e93a52168e0fb6a9756b",
    "895ef7f0147a0dc81bfa644b088a9228160c0f9acf1379a2941cd28c06ebc80e",
    "44e17aa2f8177010afd78a97ce0868d1629ebb294c5151812c583daeb8868522",
    "0f4da9118112e07041fcc24d5564a99fdbde28869fe0722387d7a9a4d16e1cc8",
    "555917e09944aa5ebaaaec2cf62693afad42a3f518fce67d273cc6c9fb5472b3",
    "80e8573ec7de06a3ba2fd5f931d725b493026cb0acbd3fe62d00e4c790d965d7",
    "a03a3c0b4222ba8c2a9a16e2ac658f572ae0e746eafc4feba023576f08942278",
    "a041fb82a70a595d5bacbf297ce2029898a71e5c3b0d1c6228b485b1ade509b3",
    "5fbca7eca97b2132e7cb6bc465375146b7dceac969308ac0c2ac89e7863eb894",
    "3015b24314cafb9c7c0e85fe543d56658c213632599efabfc1ec49dd8c88547b",
    "b2cc40c9d38cbd3099b4547840560531d0188cd1e9c23a0ebee0a03d5577d66b",
    "1d2bcb4baaf21cc7fef1e03806ca96299df0dfbc56e1b2b43e4fc20c37f834c4",
    "af62127e7dae86c3c25a2f696ac8b589dec71d595bfbe94b5ed4bc07d800b330",
    "796fda89edb77be0294136139354eb8cd37591578f9c600dd9be8ec6219fdd50",
    "7adf3397ed4d68707b8d13b24ce4cd8fb22851bfe9d632407f31ed6f7cb1600d",
    "e56f17576740ce2a32fc5145030145cfb97e63e0e41d354274a079d3e6fb2e15",
);
const XW_SS: &str = "d2df0522128f09dd8e2c92b1e905c793d8f57a54c3da25861f10bf4ca613e384";

#[test]
fn hpke_pq_xwing_key_derivation_gives_the_published_public_key() {
    let recipient = SealSecretKey::from_ikm(Suite::XWing, &bytes(PQ_IKMR));
    assert_eq!(recipient.suite(), Suite::XWing);
    let public = recipient.public_key();
    assert_eq!(public.len(), Suite::XWing.public_key_len());
    assert_eq!(hex::encode(&public), PQ_PKRM);
    assert_eq!(Suite::XWing.hpke_ids(), (0x647a, 0x0001, 0x0003));
    assert_eq!(Suite::XWing.encapsulated_key_len(), bytes(PQ_ENC).len());
}

#[test]
fn hpke_pq_xwing_context_reproduces_enc_ciphertexts_and_export() {
    let pk_r = <XWing as Kem>::PublicKey::from_bytes(&bytes(PQ_PKRM)).unwrap();
    // Single shot: enc and the ciphertext of sequence number 0.
    let mut rng = FixedRng::new(bytes(PQ_IKME));
    let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, XWing>(
        &OpModeS::Base,
        &pk_r,
        &bytes(PQ_INFO),
        &bytes(PQ_PT),
        &bytes(PQ_AAD0),
        &mut rng,
    )
    .unwrap();
    assert!(rng.is_exhausted(), "the sender drew fewer bytes than ikmE");
    assert_eq!(hex::encode(&enc.to_bytes()), PQ_ENC);
    assert_eq!(hex::encode(&ciphertext), PQ_CT0);

    // A context: sequence numbers 0 and 1, and the first exported value.
    let mut rng = FixedRng::new(bytes(PQ_IKME));
    let (_, mut sender) = hpke::setup_sender_with_rng::<ChaCha20Poly1305, HkdfSha256, XWing>(
        &OpModeS::Base,
        &pk_r,
        &bytes(PQ_INFO),
        &mut rng,
    )
    .unwrap();
    for (aad, ct) in [(PQ_AAD0, PQ_CT0), (PQ_AAD1, PQ_CT1)] {
        let sealed = sender.seal(&bytes(PQ_PT), &bytes(aad)).unwrap();
        assert_eq!(hex::encode(&sealed), ct);
    }
    let mut out = [0u8; 32];
    sender.export(&bytes(PQ_EXPORT_CONTEXT0), &mut out).unwrap();
    assert_eq!(hex::encode(&out), PQ_EXPORT0);

    // The recipient derived from ikmR opens it (the same derivation as
    // `SealSecretKey::from_ikm`, whose public key is checked above).
    let (sk_r, pk_again) = XWing::derive_keypair(&bytes(PQ_IKMR));
    assert_eq!(hex::encode(&pk_again.to_bytes()), PQ_PKRM);
    let opened = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, XWing>(
        &OpModeR::Base,
        &sk_r,
        &enc,
        &bytes(PQ_INFO),
        &ciphertext,
        &bytes(PQ_AAD0),
    )
    .unwrap();
    assert_eq!(opened, bytes(PQ_PT));
}

// ---------------------------------------------------------------------------
// draft-connolly-cfrg-xwing-kem-10, appendix "Test vectors", the first
// vector: seed (the decapsulation key), pk, eseed, ct, ss.

#[test]
fn xwing_kem_seed_gives_the_published_key_and_encapsulation() {
    let sk = <XWing as Kem>::PrivateKey::from_bytes(&bytes(XW_SEED)).unwrap();
    let pk = XWing::sk_to_pk(&sk);
    assert_eq!(hex::encode(&pk.to_bytes()), XW_PK);
    let mut rng = FixedRng::new(bytes(XW_ESEED));
    let (shared, ct) = XWing::encap_with_rng(&pk, None, &mut rng).unwrap();
    assert!(
        rng.is_exhausted(),
        "encapsulation drew fewer bytes than eseed"
    );
    assert_eq!(hex::encode(&ct.to_bytes()), XW_CT);
    assert_eq!(hex::encode(&shared.0), XW_SS);
    let decapsulated = XWing::decap(&sk, None, &ct).unwrap();
    assert_eq!(hex::encode(&decapsulated.0), XW_SS);
}
