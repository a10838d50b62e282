//! Light-client figures for itc-bench: header verification with 4 and 100
//! validators, a state proof from a 1,000,000-key state, peak heap during
//! verification (a counting global allocator), and the trusted state's size.
//!
//! Included into the itc-bench binary with `#[path]`, so the counting
//! allocator below is that binary's global allocator.

use itc_core::encoding::{Decode, Encode};
use itc_core::hash::Hash;
use itc_core::keys::Keypair;
use itc_core::smt::SparseMerkleTree;
use itc_core::types::{
    BlockHeader, ChainId, CommitCertificate, Validator, ValidatorSet, Vote, VoteKind,
};
use itc_spv::{verify_update, HeaderUpdate, TrustOptions, TrustedState};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Instant;

/// The system allocator, counting bytes allocated while counting is on and
/// their high-water mark. Off, it costs one relaxed load per call, so the
/// other figures of itc-bench are not slowed down.
struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since counting started (frees of older
/// blocks can take it below zero, hence signed).
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static PEAK_BYTES: AtomicIsize = AtomicIsize::new(0);

impl CountingAllocator {
    fn grew(size: usize) {
        if COUNTING.load(Ordering::Relaxed) {
            let size = size as isize;
            let live = LIVE_BYTES.fetch_add(size, Ordering::Relaxed) + size;
            PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
        }
    }

    fn shrank(size: usize) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_sub(size as isize, Ordering::Relaxed);
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counters are bookkeeping only.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            Self::grew(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            Self::grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(pointer, layout) };
        Self::shrank(layout.size());
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            // A moving realloc briefly holds both blocks.
            Self::grew(new_size);
            Self::shrank(layout.size());
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Run `f` and return the most heap it held at once beyond what was live
/// when it started. Single-threaded use only (the bench is).
fn peak_heap_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LIVE_BYTES.store(0, Ordering::Relaxed);
    PEAK_BYTES.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::SeqCst);
    let out = f();
    COUNTING.store(false, Ordering::SeqCst);
    let peak = PEAK_BYTES.load(Ordering::Relaxed);
    (out, peak.max(0) as usize)
}

const CHAIN: ChainId = ChainId(1);
const NOW_MS: u64 = 1_700_000_010_000;

/// A trusted header at height 10 and a fully signed adjacent update, with
/// `validators` validators of equal weight; `state_root` goes into the new
/// header.
fn adjacent_update(validators: usize, state_root: Hash) -> (TrustedState, HeaderUpdate) {
    let keys: Vec<Keypair> = (0..validators)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            Keypair::from_seed(seed)
        })
        .collect();
    let set = ValidatorSet::new(
        keys.iter()
            .map(|k| Validator {
                key: k.public(),
                weight: 100,
            })
            .collect(),
    )
    .expect("valid set");
    let header_at = |height: u64, previous_hash: Hash, state_root: Hash| BlockHeader {
        chain_id: CHAIN,
        height,
        previous_hash,
        tx_root: Hash::ZERO,
        tx_count: 0,
        state_root,
        dag_anchor_root: Hash::ZERO,
        dag_anchor_hash: Hash::ZERO,
        validator_set_hash: set.hash(),
        next_validator_set_hash: set.hash(),
        time_ms: NOW_MS - 1_000 * (12 - height),
        proposer: keys[0].public(),
        view: 0,
    };
    let trusted_header = header_at(10, Hash::ZERO, Hash::ZERO);
    let trusted = TrustedState::bootstrap(
        trusted_header.clone(),
        set.clone(),
        &trusted_header.hash(),
        &TrustOptions::DEFAULT,
        NOW_MS,
    )
    .expect("pinned header");
    let header = header_at(11, trusted_header.hash(), state_root);
    let votes: Vec<Vote> = keys
        .iter()
        .map(|k| Vote::new_signed(k, CHAIN, VoteKind::Commit, 11, 0, header.hash()))
        .collect();
    let certificate = CommitCertificate::from_votes(CHAIN, 11, 0, header.hash(), &votes);
    let update = HeaderUpdate {
        header,
        certificate,
        validators: None,
    };
    (trusted, update)
}

/// Microseconds per adjacent header verification.
fn verify_header_us(validators: usize, iterations: usize) -> f64 {
    let (trusted, update) = adjacent_update(validators, Hash::ZERO);
    let options = TrustOptions::DEFAULT;
    assert!(verify_update(&trusted, &update, &options, NOW_MS).is_success());
    let start = Instant::now();
    for _ in 0..iterations {
        let verdict = verify_update(black_box(&trusted), black_box(&update), &options, NOW_MS);
        assert!(black_box(verdict).is_success());
    }
    start.elapsed().as_secs_f64() * 1e6 / iterations as f64
}

/// The light-client figures. `quick` shrinks the state and the iteration
/// counts (figures are then not comparable).
pub fn figures(quick: bool) -> Vec<(&'static str, f64)> {
    let (state_keys, header_iterations, proofs) = if quick {
        (20_000, 50, 200)
    } else {
        (1_000_000, 1_000, 20_000)
    };
    let mut out = Vec::new();
    out.push((
        "spv_verify_header_us",
        verify_header_us(4, header_iterations),
    ));
    out.push((
        "spv_verify_header_us_100",
        verify_header_us(100, (header_iterations / 10).max(10)),
    ));

    // A state of `state_keys` random keys, built directly in a sparse Merkle
    // tree (the ledger would add nothing but time).
    let mut rng = itc_dag::tips::SplitMix64::new(0x5EED);
    let mut tree = SparseMerkleTree::with_capacity(state_keys);
    let mut entries = Vec::with_capacity(state_keys);
    for _ in 0..state_keys {
        let (key, value) = (
            Hash(super::bytes32(&mut rng)),
            Hash(super::bytes32(&mut rng)),
        );
        tree.insert(key, value);
        entries.push((key, value));
    }
    let root = tree.root();
    let (trusted, update) = adjacent_update(4, root);
    let samples: Vec<_> = (0..proofs.min(1_000))
        .map(|_| {
            let (key, value) = entries[(rng.next_u64() % entries.len() as u64) as usize];
            (key, value, tree.prove(&key))
        })
        .collect();
    let start = Instant::now();
    for i in 0..proofs {
        let (key, value, proof) = &samples[i % samples.len()];
        let ok = proof.verify(black_box(&update.header.state_root), key, Some(value));
        black_box(ok).expect("valid proof");
    }
    out.push((
        "spv_verify_state_proof_us",
        start.elapsed().as_secs_f64() * 1e6 / proofs as f64,
    ));

    // Peak heap: decode and verify a header update, then decode and verify a
    // state proof against it, as a device does with bytes off the radio.
    let update_bytes = update.encode();
    let (key, value, proof) = &samples[0];
    let proof_bytes = proof.encode();
    let options = TrustOptions::DEFAULT;
    let (ok, peak) = peak_heap_during(|| {
        let Ok(update) = HeaderUpdate::decode(&update_bytes) else {
            return false;
        };
        if !verify_update(&trusted, &update, &options, NOW_MS).is_success() {
            return false;
        }
        let Ok(proof) = itc_core::smt::StateProof::decode(&proof_bytes) else {
            return false;
        };
        // The tree holds value hashes directly, so the proof is checked
        // against the entry's value hash (what `verify_state_value` does
        // after hashing a ledger value's bytes).
        proof
            .verify(&update.header.state_root, key, Some(value))
            .is_ok()
    });
    assert!(ok, "header and proof verify");
    out.push(("spv_peak_heap_bytes", peak as f64));
    out.push(("spv_trusted_state_bytes", trusted.to_bytes().len() as f64));
    drop(tree);
    out
}
