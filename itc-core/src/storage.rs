//! A small key-value storage interface with atomic write batches.
//!
//! The protocol cores of ITC never write to storage themselves. The ledger
//! returns its changes as a [`WriteBatch`], the PBFT replica says what must be
//! persisted before a message may be sent, and the caller applies the batch
//! with [`Storage::write`]. Reads go through [`Storage::get`] and the bounded,
//! paginated [`Storage::scan_prefix`].
//!
//! Backends:
//!
//! * [`MemoryStorage`]: a `BTreeMap`, always available (also in `no_std`).
//!   Not durable; for tests, simulators and light clients.
//! * `RedbStorage` (feature `redb`): one table of the [redb] embedded database,
//!   each [`Storage::write`] one durably committed write transaction.
//! * `FaultyStorage` (feature `std` or tests): a test helper that wraps
//!   another backend and fails chosen writes, to simulate a crash.
//!
//! Keys and values are opaque bytes, ordered lexicographically; callers lay
//! out their keys so that related entries share a prefix.
//!
//! [redb]: https://www.redb.org
//!
//! ```
//! use itc_core::storage::{MemoryStorage, Storage, WriteBatch};
//!
//! let mut storage = MemoryStorage::new();
//! let mut batch = WriteBatch::new();
//! batch.put(b"block/1", b"first");
//! batch.put(b"block/2", b"second");
//! batch.put(b"vote/1", b"yes");
//! storage.write(batch).unwrap();
//!
//! let blocks = storage.scan_prefix(b"block/", None, 10).unwrap();
//! assert_eq!(blocks.len(), 2);
//! assert_eq!(storage.get(b"vote/1").unwrap(), Some(b"yes".to_vec()));
//! ```

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Bound;
#[cfg(feature = "redb")]
use redb::{ReadableDatabase as _, ReadableTable as _};

/// Largest number of entries one [`Storage::scan_prefix`] call returns.
/// Larger limits are clamped to this value, so a single scan stays bounded;
/// callers page through bigger ranges with `start_after`.
pub const SCAN_LIMIT_MAX: usize = 65_536;

/// A key and its value, as returned by [`Storage::scan_prefix`].
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// Error returned by a [`Storage`] backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The backend failed (I/O error, lock held by another process, database
    /// refusing work after an earlier I/O error, injected fault, ...). The
    /// text is the backend's own description.
    #[error("storage backend error: {0}")]
    Backend(String),
    /// Stored data is malformed: a value read back does not have the shape
    /// its writer gave it. Raised by callers that decode stored values, and
    /// by backends that detect corruption without further detail.
    #[error("storage corrupted: {0}")]
    Corrupted(&'static str),
    /// The database file is in an older on-disk format that this build can
    /// no longer read. `RedbStorage` raises it for a file written by redb 2
    /// (redb file format v2, as itc 0.1 wrote it): open that file once with
    /// redb 2.6 and call its `Database::upgrade()`, or recreate it.
    #[error(
        "storage file is in redb file format v{format_version}, which this build cannot read \
         (file written by redb 2, as itc 0.1 wrote it): upgrade it once with redb 2.6 \
         `Database::upgrade()`, or recreate it"
    )]
    UpgradeRequired {
        /// The file format version found in the file.
        format_version: u8,
    },
}

/// One operation of a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOp {
    /// Set `key` to `value`, replacing any previous value.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// Remove `key`; nothing happens if it is absent.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
}

impl BatchOp {
    /// The key this operation writes.
    pub fn key(&self) -> &[u8] {
        match self {
            BatchOp::Put { key, .. } | BatchOp::Delete { key } => key,
        }
    }
}

/// An ordered list of puts and deletes that [`Storage::write`] applies
/// atomically: all of them or none. When several operations touch the same
/// key, the later one wins.
#[derive(Default, Clone, Debug, PartialEq, Eq)]
#[must_use = "a write batch changes nothing until it is written to a Storage"]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append a put of `value` under `key`.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(BatchOp::Put {
            key: key.into(),
            value: value.into(),
        });
    }

    /// Append a delete of `key`.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push(BatchOp::Delete { key: key.into() });
    }

    /// Number of operations (not of distinct keys).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations, in the order they will be applied.
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    /// The operations, consuming the batch.
    pub fn into_ops(self) -> Vec<BatchOp> {
        self.ops
    }

    /// Append all operations of `other` after those of `self`, so that
    /// `other` wins where both touch the same key.
    pub fn extend(&mut self, other: WriteBatch) {
        self.ops.extend(other.ops);
    }
}

/// A key-value store with atomic write batches.
///
/// Keys are ordered lexicographically as byte strings. A read sees every
/// write that returned `Ok` before it.
pub trait Storage {
    /// The value stored under `key`, if any.
    ///
    /// # Errors
    /// [`StorageError::Backend`] if the backend cannot be read.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Apply all operations atomically and durably (for durable backends):
    /// all or nothing; later ops win over earlier ones on the same key.
    ///
    /// When this returns `Ok`, a durable backend has made the whole batch
    /// survive a crash; this is what "persist before send" relies on.
    ///
    /// # Errors
    /// [`StorageError::Backend`] if the batch could not be applied. None of
    /// its operations is then visible, neither now nor after a restart,
    /// except that a durable backend failing in its very last step (the
    /// flush that confirms the commit) may find the whole batch applied
    /// after a restart. Either way, never a part of it.
    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError>;

    /// Up to `limit` entries whose key starts with `prefix` and is strictly
    /// greater than `start_after` (if given), in ascending key order. Used
    /// for bounded, paginated scans.
    ///
    /// `limit` is clamped to [`SCAN_LIMIT_MAX`]. To read the next page, pass
    /// the last key returned as `start_after`. An empty `prefix` matches
    /// every key.
    ///
    /// # Errors
    /// [`StorageError::Backend`] if the backend cannot be read.
    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyValue>, StorageError>;
}

impl<S: Storage + ?Sized> Storage for &mut S {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        (**self).get(key)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        (**self).write(batch)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyValue>, StorageError> {
        (**self).scan_prefix(prefix, start_after, limit)
    }
}

impl<S: Storage + ?Sized> Storage for Box<S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        (**self).get(key)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        (**self).write(batch)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyValue>, StorageError> {
        (**self).scan_prefix(prefix, start_after, limit)
    }
}

/// Where a prefix scan starts: at `prefix` itself, or just after
/// `start_after` when that lies at or beyond `prefix`. Keys with a given
/// prefix are contiguous in byte order, so a scan from here can stop at the
/// first key that lacks the prefix.
fn scan_start<'a>(prefix: &'a [u8], start_after: Option<&'a [u8]>) -> Bound<&'a [u8]> {
    match start_after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    }
}

/// An in-memory [`Storage`] on a `BTreeMap`. Writes cannot fail and nothing
/// is durable: dropping it loses everything. Cloning copies the contents,
/// which makes a cheap snapshot in tests and simulators.
///
/// ```
/// use itc_core::storage::{MemoryStorage, Storage, WriteBatch};
///
/// let mut storage = MemoryStorage::new();
/// let mut batch = WriteBatch::new();
/// batch.put(b"k", b"old");
/// batch.put(b"k", b"new"); // later operations win
/// batch.put(b"gone", b"x");
/// batch.delete(b"gone");
/// storage.write(batch).unwrap();
///
/// assert_eq!(storage.get(b"k").unwrap(), Some(b"new".to_vec()));
/// assert_eq!(storage.get(b"gone").unwrap(), None);
/// assert_eq!(storage.len(), 1);
/// assert_eq!(storage.approximate_bytes(), 4); // "k" + "new"
/// ```
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct MemoryStorage {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Sum of key and value lengths over all entries.
    bytes: usize,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Sum of the lengths of all keys and values, in bytes. Excludes the
    /// map's own overhead; a rough measure for memory bounds and metrics.
    pub fn approximate_bytes(&self) -> usize {
        self.bytes
    }

    /// All entries in ascending key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.map.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))
    }
}

impl Storage for MemoryStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.map.get(key).cloned())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        // Nothing below can fail, so the batch is trivially all or nothing.
        for op in batch.ops {
            match op {
                BatchOp::Put { key, value } => {
                    let key_len = key.len();
                    let value_len = value.len();
                    match self.map.insert(key, value) {
                        // Same key: only the value's size changes.
                        Some(old) => self.bytes = self.bytes - old.len() + value_len,
                        None => self.bytes += key_len + value_len,
                    }
                }
                BatchOp::Delete { key } => {
                    if let Some(old) = self.map.remove(&key) {
                        self.bytes -= key.len() + old.len();
                    }
                }
            }
        }
        Ok(())
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyValue>, StorageError> {
        let limit = limit.min(SCAN_LIMIT_MAX);
        let start = scan_start(prefix, start_after);
        Ok(self
            .map
            .range::<[u8], _>((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// A [redb](https://www.redb.org) database used as a [`Storage`]: one table
/// of byte-string keys and values, and one durable write transaction per
/// [`Storage::write`].
///
/// redb is copy-on-write with two commit slots, so a crash at any point
/// leaves either the previous or the new commit, never a mix. Commits use
/// [`redb::Durability::Immediate`] (`fsync` before `write` returns) and
/// redb's two-phase commit, which its authors recommend when the data may
/// be chosen by an attacker, as blocks and transactions from peers are; it
/// costs a second `fsync` per write. Reads use redb read transactions (MVCC
/// snapshots) and never see a partly applied batch.
///
/// After an I/O error redb refuses further work until the database is
/// reopened; [`RedbStorage::open`] then recovers the last durable commit.
///
/// # On-disk format and file lock
///
/// The file is in redb file format v3, which redb 3 and later (this build
/// uses redb 5) read and write. Files written by redb 2 (format v2, as
/// itc 0.1 with redb 2.6 wrote them) are refused with
/// [`StorageError::UpgradeRequired`]: open such a file once with redb 2.6
/// and call its `Database::upgrade()`, or recreate it.
///
/// [`RedbStorage::open`] opens the file in redb's default
/// [`redb::ConcurrencyMode::ExclusiveWriter`] mode: it takes an exclusive
/// lock on the whole file for as long as the `RedbStorage` lives, so a
/// second open of the same file, by this or another process, fails with
/// [`StorageError::Backend`] ("already open") instead of sharing it. The
/// lock is released when the `RedbStorage` is dropped (or its process
/// exits).
#[cfg(feature = "redb")]
#[derive(Debug)]
pub struct RedbStorage {
    db: redb::Database,
}

#[cfg(feature = "redb")]
const REDB_TABLE: redb::TableDefinition<'static, &'static [u8], &'static [u8]> =
    redb::TableDefinition::new("itc");

#[cfg(feature = "redb")]
fn redb_error(error: impl core::fmt::Display) -> StorageError {
    use alloc::string::ToString;
    StorageError::Backend(error.to_string())
}

/// Like [`redb_error`], but a file in an old on-disk format becomes
/// [`StorageError::UpgradeRequired`].
#[cfg(feature = "redb")]
fn redb_open_error(error: redb::DatabaseError) -> StorageError {
    match error {
        redb::DatabaseError::UpgradeRequired(format_version) => {
            StorageError::UpgradeRequired { format_version }
        }
        other => redb_error(other),
    }
}

#[cfg(feature = "redb")]
impl RedbStorage {
    /// Open the database file at `path`, creating it (and its table) if it
    /// does not exist. Recovers the last durable commit if the previous
    /// process crashed.
    ///
    /// # Errors
    /// [`StorageError::UpgradeRequired`] if the file was written by redb 2
    /// (file format v2; see [`RedbStorage`]).
    /// [`StorageError::Backend`] if the file cannot be created or opened,
    /// is not a redb database, or is already open (in this or another
    /// process).
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, StorageError> {
        let db = redb::Database::create(path).map_err(redb_open_error)?;
        Self::from_database(db)
    }

    /// Use an already opened redb database, for example one built with
    /// [`redb::Builder`] (cache size, custom backend). Creates the table if
    /// it does not exist.
    ///
    /// # Errors
    /// [`StorageError::Backend`] if the table cannot be created.
    pub fn from_database(db: redb::Database) -> Result<Self, StorageError> {
        let txn = db.begin_write().map_err(redb_error)?;
        txn.open_table(REDB_TABLE).map_err(redb_error)?;
        txn.commit().map_err(redb_error)?;
        Ok(Self { db })
    }

    /// Apply `ops` inside one write transaction and commit it durably. In
    /// unit tests, `fail_after` makes the transaction fail after that many
    /// operations, to check that nothing of it survives.
    fn write_ops(&self, ops: Vec<BatchOp>, fail_after: Option<usize>) -> Result<(), StorageError> {
        let mut txn = self.db.begin_write().map_err(redb_error)?;
        txn.set_durability(redb::Durability::Immediate)
            .map_err(redb_error)?;
        // Values come from untrusted peers. redb's default one-phase commit
        // trusts a non-cryptographic checksum to detect a torn commit, and
        // its documentation recommends two-phase commit for malicious input.
        txn.set_two_phase_commit(true);
        let applied = (|| {
            let mut table = txn.open_table(REDB_TABLE).map_err(redb_error)?;
            for (index, op) in ops.iter().enumerate() {
                if fail_after == Some(index) {
                    return Err(StorageError::Backend(String::from("injected fault")));
                }
                match op {
                    BatchOp::Put { key, value } => {
                        table
                            .insert(key.as_slice(), value.as_slice())
                            .map_err(redb_error)?;
                    }
                    BatchOp::Delete { key } => {
                        table.remove(key.as_slice()).map_err(redb_error)?;
                    }
                }
            }
            Ok(())
        })();
        match applied {
            Ok(()) => txn.commit().map_err(redb_error),
            Err(error) => {
                // Report the first error; an abort failure adds nothing.
                let _ = txn.abort();
                Err(error)
            }
        }
    }
}

#[cfg(feature = "redb")]
impl Storage for RedbStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let txn = self.db.begin_read().map_err(redb_error)?;
        let table = txn.open_table(REDB_TABLE).map_err(redb_error)?;
        let value = table.get(key).map_err(redb_error)?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write_ops(batch.into_ops(), None)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyValue>, StorageError> {
        let limit = limit.min(SCAN_LIMIT_MAX);
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let txn = self.db.begin_read().map_err(redb_error)?;
        let table = txn.open_table(REDB_TABLE).map_err(redb_error)?;
        let start = scan_start(prefix, start_after);
        let range = table
            .range((start, Bound::<&[u8]>::Unbounded))
            .map_err(redb_error)?;
        for entry in range {
            let (key, value) = entry.map_err(redb_error)?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key.to_vec(), value.value().to_vec()));
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }
}

/// **Test helper.** Wraps a [`Storage`] and makes chosen writes fail without
/// applying anything, to simulate a crash in the middle of a write.
///
/// Writes are counted from 0 since creation (failed ones included). Once a
/// scheduled write has failed, the wrapper is *crashed*: every later write
/// fails too, until [`FaultyStorage::recover`] (or the simulator takes the
/// inner storage back with [`FaultyStorage::into_inner`] to restart a node
/// from it). Reads always pass through.
///
/// ```
/// use itc_core::storage::{FaultyStorage, MemoryStorage, Storage, WriteBatch};
///
/// let mut storage = FaultyStorage::new(MemoryStorage::new());
/// storage.fail_next_write();
/// let mut batch = WriteBatch::new();
/// batch.put(b"a", b"1");
/// assert!(storage.write(batch).is_err());
/// assert!(storage.is_crashed());
/// assert_eq!(storage.get(b"a").unwrap(), None);
/// ```
#[cfg(any(test, feature = "std"))]
#[derive(Clone, Debug, Default)]
pub struct FaultyStorage<S> {
    inner: S,
    writes_attempted: u64,
    fail_at: Option<u64>,
    crashed: bool,
}

#[cfg(any(test, feature = "std"))]
impl<S> FaultyStorage<S> {
    /// Wrap `inner`; no fault is scheduled.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            writes_attempted: 0,
            fail_at: None,
            crashed: false,
        }
    }

    /// Make the write with index `index` fail (see
    /// [`FaultyStorage::writes_attempted`]); replaces any earlier schedule.
    pub fn fail_write(&mut self, index: u64) {
        self.fail_at = Some(index);
    }

    /// Make the next write fail.
    pub fn fail_next_write(&mut self) {
        self.fail_at = Some(self.writes_attempted);
    }

    /// Number of writes attempted so far, failed ones included; also the
    /// index of the next write.
    pub fn writes_attempted(&self) -> u64 {
        self.writes_attempted
    }

    /// Whether a scheduled fault has fired and writes are failing.
    pub fn is_crashed(&self) -> bool {
        self.crashed
    }

    /// Let writes through again (the scheduled fault is consumed).
    pub fn recover(&mut self) {
        self.crashed = false;
    }

    /// The wrapped storage.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped storage, mutably (bypasses fault injection).
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwrap, for example to restart a simulated node from its storage.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

#[cfg(any(test, feature = "std"))]
impl<S: Storage> Storage for FaultyStorage<S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(key)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        let index = self.writes_attempted;
        self.writes_attempted += 1;
        if self.fail_at == Some(index) {
            self.fail_at = None;
            self.crashed = true;
        }
        if self.crashed {
            return Err(StorageError::Backend(alloc::format!(
                "injected fault: write {index} failed"
            )));
        }
        self.inner.write(batch)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyValue>, StorageError> {
        self.inner.scan_prefix(prefix, start_after, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_start_is_prefix_or_after() {
        assert_eq!(scan_start(b"b", None), Bound::Included(&b"b"[..]));
        assert_eq!(scan_start(b"b", Some(b"a")), Bound::Included(&b"b"[..]));
        assert_eq!(scan_start(b"b", Some(b"b")), Bound::Excluded(&b"b"[..]));
        assert_eq!(scan_start(b"b", Some(b"bz")), Bound::Excluded(&b"bz"[..]));
        assert_eq!(scan_start(b"b", Some(b"c")), Bound::Excluded(&b"c"[..]));
    }

    #[test]
    fn memory_byte_count_follows_puts_and_deletes() {
        let mut storage = MemoryStorage::new();
        let mut batch = WriteBatch::new();
        batch.put(b"ab", b"xyz"); // 5
        batch.put(b"c", b""); // 1
        batch.put(b"ab", b"x"); // 3 instead of 5
        storage.write(batch).unwrap();
        assert_eq!(storage.approximate_bytes(), 4);
        let mut batch = WriteBatch::new();
        batch.delete(b"ab");
        batch.delete(b"missing");
        storage.write(batch).unwrap();
        assert_eq!(storage.approximate_bytes(), 1);
        assert_eq!(storage.len(), 1);
    }

    /// A redb write transaction that fails after some of its operations were
    /// applied is aborted: nothing is visible, now or after reopening.
    #[cfg(feature = "redb")]
    #[test]
    fn redb_failed_transaction_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let mut storage = RedbStorage::open(&path).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(b"a", b"1");
        storage.write(batch).unwrap();

        let mut batch = WriteBatch::new();
        batch.put(b"a", b"2");
        batch.put(b"b", b"2");
        batch.delete(b"a");
        batch.put(b"c", b"2");
        for fail_after in 0..batch.len() {
            let result = storage.write_ops(batch.clone().into_ops(), Some(fail_after));
            assert!(result.is_err());
            assert_eq!(storage.get(b"a").unwrap(), Some(b"1".to_vec()));
            assert_eq!(storage.scan_prefix(b"", None, 10).unwrap().len(), 1);
        }
        drop(storage);
        let storage = RedbStorage::open(&path).unwrap();
        assert_eq!(
            storage.scan_prefix(b"", None, 10).unwrap(),
            [(b"a".to_vec(), b"1".to_vec())]
        );
    }
}
