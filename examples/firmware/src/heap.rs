//! The heap itc-spv allocates from, with a counter of what it holds.
//!
//! A linked-list allocator over a static arena of [`HEAP_BYTES`], wrapped so
//! that every allocation and release updates the live byte count and its
//! peak. Two peaks are kept: the bytes the library asked for, and the bytes
//! the allocator had in use (requests rounded up, plus its own bookkeeping),
//! which is what the arena must really hold.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};
use embedded_alloc::LlffHeap;

/// Size of the heap arena (in .bss). The host's budget for the light client
/// is 16 KiB; the lamp's check needs far less (see the measured peak).
pub const HEAP_BYTES: usize = 8 * 1024;

/// The arena, handed to the allocator once by [`init`].
struct Arena(UnsafeCell<[MaybeUninit<u8>; HEAP_BYTES]>);

// SAFETY: only `init` touches the arena, once, before anything allocates;
// afterwards the allocator owns it behind its own lock.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([MaybeUninit::uninit(); HEAP_BYTES]));

/// A heap that counts.
pub struct CountingHeap {
    heap: LlffHeap,
    requested_live: AtomicUsize,
    requested_peak: AtomicUsize,
    used_peak: AtomicUsize,
}

impl CountingHeap {
    const fn new() -> Self {
        CountingHeap {
            heap: LlffHeap::empty(),
            requested_live: AtomicUsize::new(0),
            requested_peak: AtomicUsize::new(0),
            used_peak: AtomicUsize::new(0),
        }
    }

    /// Forget the peaks (the live count stays), to measure one step.
    pub fn reset_peaks(&self) {
        self.requested_peak.store(
            self.requested_live.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        self.used_peak.store(self.heap.used(), Ordering::Relaxed);
    }

    /// Peak bytes requested since the last [`CountingHeap::reset_peaks`].
    pub fn requested_peak(&self) -> usize {
        self.requested_peak.load(Ordering::Relaxed)
    }

    /// Peak bytes the allocator had in use (with rounding and bookkeeping).
    pub fn used_peak(&self) -> usize {
        self.used_peak.load(Ordering::Relaxed)
    }

    /// Bytes requested and not yet released.
    pub fn requested_live(&self) -> usize {
        self.requested_live.load(Ordering::Relaxed)
    }
}

// SAFETY: every call is forwarded unchanged to `LlffHeap`, a correct
// allocator; the wrapper only updates counters after it returns.
unsafe impl GlobalAlloc for CountingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let pointer = unsafe { self.heap.alloc(layout) };
        if !pointer.is_null() {
            let live = self
                .requested_live
                .fetch_add(layout.size(), Ordering::Relaxed)
                + layout.size();
            self.requested_peak.fetch_max(live, Ordering::Relaxed);
            self.used_peak
                .fetch_max(self.heap.used(), Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { self.heap.dealloc(pointer, layout) };
        self.requested_live
            .fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

/// The global allocator.
#[global_allocator]
pub static HEAP: CountingHeap = CountingHeap::new();

/// The arena's addresses.
pub fn arena() -> core::ops::Range<usize> {
    let start = ARENA.0.get() as usize;
    start..start + HEAP_BYTES
}

/// Give the arena to the allocator. Call once, first thing in `main`.
pub fn init() {
    // SAFETY: called once before any allocation; the arena is a static that
    // nothing else references.
    unsafe { HEAP.heap.init(ARENA.0.get() as usize, HEAP_BYTES) }
}
