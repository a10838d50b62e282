#![no_main]
// A sealed payload from arbitrary bytes: strict decoding (canonical round
// trip), then opening with a real key of each suite in the payload's own
// context must fail cleanly (a typed error, never a panic).
use itc_core::encoding::{Decode, Encode};
use itc_core::seal::{SealSecretKey, SealedPayload, Suite};
use std::sync::OnceLock;

fn keys() -> &'static [SealSecretKey; 2] {
    static KEYS: OnceLock<[SealSecretKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            SealSecretKey::derive(&[1; 32], Suite::X25519, 0),
            SealSecretKey::derive(&[1; 32], Suite::XWing, 0),
        ]
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = SealedPayload::decode(data) {
        assert_eq!(
            payload.encode(),
            data,
            "decoded value re-encodes differently"
        );
        for key in keys() {
            let _ = payload.open(key, &payload.context);
        }
    }
});
