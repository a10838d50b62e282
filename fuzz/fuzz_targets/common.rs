// Shared by every target: decode arbitrary bytes; whatever decodes must
// re-encode to exactly the same bytes (the encoding is canonical).
macro_rules! round_trip_target {
    ($t:ty) => {
        libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            use itc_core::encoding::{Decode, Encode};
            if let Ok(value) = <$t>::decode(data) {
                assert_eq!(value.encode(), data, "decoded value re-encodes differently");
            }
        });
    };
}
