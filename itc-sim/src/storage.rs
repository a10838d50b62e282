//! Storage that fails on command: the simulator's disk.
//!
//! [`FaultyStorage`] is a [`MemoryStorage`] (what survives a crash) with
//! faults the simulator arms from its seed before a replica writes or
//! reads:
//!
//! * [`WriteFault::Fail`]: the write returns an error and applies nothing
//!   (a full disk, an I/O error before the commit point);
//! * [`WriteFault::FailApplied`]: the write returns an error although the
//!   batch was applied (a durable backend failing in its very last step,
//!   the flush that confirms the commit, which the [`Storage::write`]
//!   contract allows);
//! * [`WriteFault::Torn`]: the process dies in the middle of the write; an
//!   atomic backend then holds none of the batch (the write reports an
//!   error, and the simulator crashes the node as the power cut would);
//! * failed reads ([`FaultyStorage::fail_reads`]): the next reads return an
//!   error, so opening a replica or serving old blocks fails.
//!
//! The storage keeps counts of what it injected for the run's report.

use std::cell::Cell;

use itc_core::storage::{KeyValue, MemoryStorage, Storage, StorageError, WriteBatch};

/// What the next [`Storage::write`] does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriteFault {
    /// The write succeeds.
    #[default]
    None,
    /// The write fails and applies nothing.
    Fail,
    /// The write fails after applying the whole batch (the last flush
    /// failed): after a restart the batch is there.
    FailApplied,
    /// The process dies during the write: an atomic backend applies none of
    /// the batch.
    Torn,
}

/// A [`MemoryStorage`] with injectable write and read failures.
#[derive(Debug, Default)]
pub struct FaultyStorage {
    inner: MemoryStorage,
    next_write: WriteFault,
    failing_reads: Cell<u32>,
    /// The last write fault that fired, until taken.
    fired: Option<WriteFault>,
    injected_writes: u64,
    injected_reads: Cell<u64>,
}

impl FaultyStorage {
    /// An empty storage with no fault armed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Arm `fault` for the next write (replacing one still armed).
    pub fn arm_write(&mut self, fault: WriteFault) {
        self.next_write = fault;
    }

    /// Make the next `count` reads (`get` or `scan_prefix`) fail.
    pub fn fail_reads(&self, count: u32) {
        self.failing_reads.set(count);
    }

    /// Disarm every fault (the disk was replaced, or faults healed).
    pub fn disarm(&mut self) {
        self.next_write = WriteFault::None;
        self.failing_reads.set(0);
    }

    /// The write fault that fired since the last call, if any.
    pub fn take_fired(&mut self) -> Option<WriteFault> {
        self.fired.take()
    }

    /// Write faults injected so far.
    pub fn injected_writes(&self) -> u64 {
        self.injected_writes
    }

    /// Read faults injected so far.
    pub fn injected_reads(&self) -> u64 {
        self.injected_reads.get()
    }

    /// What survives a crash.
    pub fn inner(&self) -> &MemoryStorage {
        &self.inner
    }

    fn read_fault(&self) -> Result<(), StorageError> {
        let left = self.failing_reads.get();
        if left == 0 {
            return Ok(());
        }
        self.failing_reads.set(left - 1);
        self.injected_reads.set(self.injected_reads.get() + 1);
        Err(StorageError::Backend("simulated read failure".into()))
    }
}

impl Storage for FaultyStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.read_fault()?;
        self.inner.get(key)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        let fault = core::mem::take(&mut self.next_write);
        match fault {
            WriteFault::None => self.inner.write(batch),
            WriteFault::Fail | WriteFault::Torn => {
                self.injected_writes += 1;
                self.fired = Some(fault);
                Err(StorageError::Backend("simulated write failure".into()))
            }
            WriteFault::FailApplied => {
                self.injected_writes += 1;
                self.fired = Some(fault);
                self.inner.write(batch)?;
                Err(StorageError::Backend(
                    "simulated failure of the final flush".into(),
                ))
            }
        }
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyValue>, StorageError> {
        self.read_fault()?;
        self.inner.scan_prefix(prefix, start_after, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(key: &str) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(key.as_bytes(), b"v".to_vec());
        b
    }

    #[test]
    fn write_faults_apply_nothing_or_everything_and_fire_once() {
        let mut s = FaultyStorage::new();
        s.arm_write(WriteFault::Fail);
        assert!(s.write(batch("a")).is_err());
        assert_eq!(s.get(b"a").unwrap(), None);
        assert_eq!(s.take_fired(), Some(WriteFault::Fail));
        s.arm_write(WriteFault::Torn);
        assert!(s.write(batch("b")).is_err());
        assert_eq!(s.get(b"b").unwrap(), None);
        s.arm_write(WriteFault::FailApplied);
        assert!(s.write(batch("c")).is_err());
        assert_eq!(s.get(b"c").unwrap(), Some(b"v".to_vec()));
        // Disarmed after firing.
        assert!(s.write(batch("d")).is_ok());
        assert_eq!(s.injected_writes(), 3);
    }

    #[test]
    fn read_faults_fail_the_next_reads_only() {
        let mut s = FaultyStorage::new();
        s.write(batch("a")).unwrap();
        s.fail_reads(2);
        assert!(s.get(b"a").is_err());
        assert!(s.scan_prefix(b"", None, 10).is_err());
        assert_eq!(s.get(b"a").unwrap(), Some(b"v".to_vec()));
        assert_eq!(s.injected_reads(), 2);
    }
}
