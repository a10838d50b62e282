//! Sealing a reading to the lamp's owner (features `seal-x25519` and
//! `seal-xwing`, one suite per image).
//!
//! The lamp takes the owner's sealing key from the chain, not from whoever
//! hands it one: it checks the state proof of the owner's `SealKeyRecord`
//! for the image's suite against its trusted header
//! (`StateEntryProof::verify_seal_key`). It then seals its 64-byte reading
//! to that key with `itc_core::seal::seal`, bound to the chain, the lamp's
//! key and the reading's sequence number, drawing randomness from a
//! `ChaCha20Rng` seeded with a fixed seed that stands for the TRNG (so the
//! host can reproduce the bytes), and prints the sealed payload in hex. The
//! script has the host open it with the owner's secret key.

use crate::{clock, heap};
use alloc::vec::Vec;
use itc_core::encoding::{Decode, Encode};
use itc_core::keys::PublicKey;
use itc_core::seal::rand_core::SeedableRng;
use itc_core::seal::{seal, ChaCha20Rng, SealContext, Suite};
use itc_spv::{Lamp, StateEntryProof};

/// The host's seal vectors: the reading, its sequence, the RNG seed, the
/// owner's key and the proofs of the owner's sealing keys (one per suite;
/// an image uses its own suite's).
#[allow(dead_code)]
mod vectors {
    include!(concat!(env!("ITC_LAMP_VECTORS_DIR"), "/seal.rs"));
}

#[cfg(all(feature = "seal-x25519", feature = "seal-xwing"))]
compile_error!("features seal-x25519 and seal-xwing make separate images: enable one");

/// The image's suite.
#[cfg(feature = "seal-x25519")]
pub const SUITE: Suite = Suite::X25519;
/// The image's suite.
#[cfg(feature = "seal-xwing")]
pub const SUITE: Suite = Suite::XWing;

/// The suite's name in the JSON.
#[cfg(feature = "seal-x25519")]
pub const SUITE_NAME: &str = "x25519";
/// The suite's name in the JSON.
#[cfg(feature = "seal-xwing")]
pub const SUITE_NAME: &str = "xwing";

#[cfg(feature = "seal-x25519")]
const KEY_PROOF: &[u8] = vectors::SEAL_KEY_PROOF_X25519;
#[cfg(feature = "seal-xwing")]
const KEY_PROOF: &[u8] = vectors::SEAL_KEY_PROOF_XWING;

/// What sealing measured.
pub struct SealOutcome {
    /// The encoded `SealedPayload`, or why there is none.
    pub sealed: Result<Vec<u8>, &'static str>,
    /// Decoding and checking the proof of the owner's key.
    pub key_ticks: u32,
    /// `seal` and encoding the payload.
    pub seal_ticks: u32,
    pub heap_requested_peak: usize,
    pub heap_used_peak: usize,
    pub stack_peak: usize,
    pub stack_base: usize,
}

/// Prove the owner's sealing key at the lamp's trusted header, then seal
/// the reading to it.
#[inline(never)]
pub fn run_seal(lamp: &Lamp) -> SealOutcome {
    heap::HEAP.reset_peaks();
    let owner = PublicKey(*vectors::OWNER_KEY);
    let start = clock::now();
    let record = match StateEntryProof::decode(KEY_PROOF) {
        Ok(proof) => match proof.verify_seal_key(lamp.trusted().header(), &owner, SUITE) {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err("the owner has no sealing key of this suite"),
            Err(_) => Err("the sealing key's proof does not hold"),
        },
        Err(_) => Err("the sealing key's proof does not decode"),
    };
    let key_ticks = start.elapsed_ticks();

    let context = SealContext {
        chain_id: lamp.trusted().chain_id(),
        device: lamp.config().device,
        sequence: vectors::SEAL_SEQUENCE,
    };
    // A device would seed this from its TRNG.
    let mut rng = ChaCha20Rng::from_seed(*vectors::SEAL_RNG_SEED);
    let start = clock::now();
    let sealed = record.and_then(|record| {
        seal(
            SUITE,
            &context,
            &[&record.public_key],
            vectors::SEAL_READING,
            &mut rng,
        )
        .map(|payload| payload.encode())
        .map_err(|_| "sealing failed")
    });
    let seal_ticks = start.elapsed_ticks();
    SealOutcome {
        sealed,
        key_ticks,
        seal_ticks,
        heap_requested_peak: heap::HEAP.requested_peak(),
        heap_used_peak: heap::HEAP.used_peak(),
        stack_peak: 0,
        stack_base: 0,
    }
}
