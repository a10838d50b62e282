#![no_main]
// Stored ledger records: the first byte picks the type, the rest is decoded.
use itc_core::encoding::{Decode, Encode};
use itc_core::ledger::{AccountState, DeviceRecord, Grant, StakeRecord};

fn check<T: Decode + Encode>(data: &[u8]) {
    if let Ok(value) = T::decode(data) {
        assert_eq!(value.encode(), data);
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => check::<AccountState>(rest),
        1 => check::<DeviceRecord>(rest),
        2 => check::<Grant>(rest),
        _ => check::<StakeRecord>(rest),
    }
});
