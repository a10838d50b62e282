#![no_main]
// An update offer from arbitrary bytes, as a phone or peer hands it to a
// device: strict decoding, then the device's whole check against a header
// never panics and never accepts (no state root commits to random proofs).
use itc_core::encoding::{Decode, Encode};
use itc_core::types::{BlockHeader, ChainId};
use itc_spv::firmware::{check_release, DeviceFirmware, UpdateOffer};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(offer) = UpdateOffer::decode(data) {
        assert_eq!(offer.encode(), data, "decoded value re-encodes differently");
        let header = BlockHeader {
            chain_id: ChainId(1),
            height: 1,
            previous_hash: Default::default(),
            tx_root: Default::default(),
            tx_count: 0,
            state_root: itc_core::hash::Hash([0x5A; 32]),
            dag_anchor_root: Default::default(),
            dag_anchor_hash: Default::default(),
            validator_set_hash: Default::default(),
            next_validator_set_hash: Default::default(),
            time_ms: 0,
            proposer: itc_core::PublicKey([0; 32]),
            view: 0,
        };
        let device = DeviceFirmware {
            product: 1,
            version: 0,
            image_size_max: 1 << 20,
        };
        assert!(check_release(&header, ChainId(1), &device, &offer).is_err());
    }
});
