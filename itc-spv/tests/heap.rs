//! Bounded memory: a device's whole job (decode and verify a header update,
//! then decode and check a command with its proofs) stays far below the
//! 16 KiB heap budget. One test in this binary, so the counting allocator
//! sees nothing else.

mod common;

use common::*;
use itc_core::encoding::{Decode, Encode};
use itc_core::types::Permissions;
use itc_spv::{
    check_command, CommandProof, HeaderUpdate, LampConfig, LampVerdict, SignedCommand, Verdict,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// Heap budget of the light client on a device.
const HEAP_BYTES_MAX: usize = 16 * 1024;

struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn count(delta: isize) {
    if ON.load(Ordering::Relaxed) {
        let live = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to `System` unchanged; counting is bookkeeping.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn peak_during(f: impl FnOnce()) -> usize {
    LIVE.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    ON.store(true, Ordering::SeqCst);
    f();
    ON.store(false, Ordering::SeqCst);
    PEAK.load(Ordering::SeqCst).max(0) as usize
}

#[test]
fn header_update_and_lamp_check_fit_the_heap_budget() {
    let mut chain = LedgerChain::with_granted_lamp(100);
    let mut update = chain.empty_block();
    update.validators = Some(chain.validators.set.clone());
    let proof = chain.command_proof();
    let command = SignedCommand::new_signed(
        &chain.guest,
        CHAIN,
        chain.lamp.public(),
        Permissions::SWITCH,
        time_of(2),
    );
    let (update_bytes, proof_bytes, command_bytes) =
        (update.encode(), proof.encode(), command.encode());
    let config = LampConfig {
        device: chain.lamp.public(),
        freshness_ms: 60_000,
        command_window_ms: 30_000,
    };
    let mut trusted = chain.trusted_at(1);
    let replay = itc_spv::ReplayTable::new();
    let now = time_of(2);
    let peak = peak_during(|| {
        let update = HeaderUpdate::decode(&update_bytes).unwrap();
        assert_eq!(trusted.update(&update, &OPTIONS, now), Verdict::Success);
        let proof = CommandProof::decode(&proof_bytes).unwrap();
        let command = SignedCommand::decode(&command_bytes).unwrap();
        assert_eq!(
            check_command(&config, &trusted, &replay, now, &command, &proof),
            LampVerdict::Allowed
        );
    });
    eprintln!("peak heap: {peak} bytes");
    assert!(peak > 0, "the allocator counted nothing");
    assert!(peak <= HEAP_BYTES_MAX, "peak heap {peak} bytes");
}
