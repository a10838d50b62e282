#![no_main]
// Ledger records of sealing keys, firmware products and releases, and a
// manifest: strict decoding with a canonical round trip for each.
use itc_core::encoding::{Decode, Encode};
use itc_core::firmware::{FirmwareManifest, ProductRecord, ReleaseRecord};
use itc_core::seal::SealKeyRecord;

fn round_trip<T: Decode + Encode>(data: &[u8]) {
    if let Ok(value) = T::decode(data) {
        assert_eq!(value.encode(), data, "decoded value re-encodes differently");
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    round_trip::<SealKeyRecord>(data);
    round_trip::<FirmwareManifest>(data);
    round_trip::<ProductRecord>(data);
    round_trip::<ReleaseRecord>(data);
});
