//! Tests of the storage interface: every backend against the same contract,
//! redb durability and crash atomicity, and a model-based property test.

use itc_core::storage::{BatchOp, MemoryStorage, Storage, WriteBatch, SCAN_LIMIT_MAX};
use proptest::prelude::*;
use std::collections::BTreeMap;

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn entries(pairs: &[(&[u8], &[u8])]) -> Entries {
    pairs
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

fn put(storage: &mut impl Storage, key: &[u8], value: &[u8]) {
    let mut batch = WriteBatch::new();
    batch.put(key, value);
    storage.write(batch).unwrap();
}

/// Every entry, read in pages of `page` entries.
fn all_entries(storage: &impl Storage, page: usize) -> Entries {
    let mut out: Entries = Vec::new();
    loop {
        let after = out.last().map(|(k, _)| k.clone());
        let next = storage.scan_prefix(&[], after.as_deref(), page).unwrap();
        assert!(next.len() <= page);
        let done = next.len() < page;
        out.extend(next);
        if done {
            return out;
        }
    }
}

// ---------------------------------------------------------------------------
// The contract, checked on every backend.

fn check_put_get_delete(storage: &mut impl Storage) {
    assert_eq!(storage.get(b"k").unwrap(), None);
    put(storage, b"k", b"v1");
    assert_eq!(storage.get(b"k").unwrap(), Some(b"v1".to_vec()));
    put(storage, b"k", b"v2");
    assert_eq!(storage.get(b"k").unwrap(), Some(b"v2".to_vec()));
    put(storage, b"empty", b"");
    assert_eq!(storage.get(b"empty").unwrap(), Some(Vec::new()));
    put(storage, b"", b"empty key");
    assert_eq!(storage.get(b"").unwrap(), Some(b"empty key".to_vec()));

    let mut batch = WriteBatch::new();
    batch.delete(b"k");
    batch.delete(b"never there");
    storage.write(batch).unwrap();
    assert_eq!(storage.get(b"k").unwrap(), None);
    assert_eq!(storage.get(b"empty").unwrap(), Some(Vec::new()));

    // An empty batch is a no-op.
    storage.write(WriteBatch::new()).unwrap();
    assert_eq!(all_entries(storage, 10).len(), 2);
}

fn check_later_op_wins(storage: &mut impl Storage) {
    let mut batch = WriteBatch::new();
    batch.put(b"a", b"1");
    batch.put(b"a", b"2");
    batch.put(b"b", b"1");
    batch.delete(b"b");
    batch.delete(b"c");
    batch.put(b"c", b"3");
    storage.write(batch).unwrap();
    assert_eq!(
        all_entries(storage, 10),
        entries(&[(b"a", b"2"), (b"c", b"3")])
    );

    // Two batches merged with `extend` behave as if written one after the other.
    let mut first = WriteBatch::new();
    first.put(b"x", b"first");
    first.delete(b"a");
    let mut second = WriteBatch::new();
    second.put(b"a", b"again");
    second.delete(b"x");
    first.extend(second);
    assert_eq!(first.len(), 4);
    storage.write(first).unwrap();
    assert_eq!(
        all_entries(storage, 10),
        entries(&[(b"a", b"again"), (b"c", b"3")])
    );
}

fn check_scan(storage: &mut impl Storage) {
    let keys: [&[u8]; 10] = [
        &[0],
        &[1],
        &[1, 0],
        &[1, 254],
        &[1, 255],
        &[1, 255, 0],
        &[1, 255, 255],
        &[2],
        &[2, 0],
        &[255, 255],
    ];
    let mut batch = WriteBatch::new();
    // Inserted out of order: the scan must sort.
    for key in keys.iter().rev() {
        batch.put(*key, [key.len() as u8]);
    }
    storage.write(batch).unwrap();
    let scan = |prefix: &[u8], after: Option<&[u8]>, limit: usize| -> Vec<Vec<u8>> {
        storage
            .scan_prefix(prefix, after, limit)
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                assert_eq!(v, [k.len() as u8]);
                k
            })
            .collect()
    };
    let owned = |ks: &[&[u8]]| -> Vec<Vec<u8>> { ks.iter().map(|k| k.to_vec()).collect() };

    // Everything, in order.
    assert_eq!(scan(&[], None, 100), owned(&keys));
    // Prefix boundaries: [1, 255] must not run into [2], and [2] must not
    // include [1, 255, ...].
    assert_eq!(
        scan(&[1, 255], None, 100),
        owned(&[&[1, 255], &[1, 255, 0], &[1, 255, 255]])
    );
    assert_eq!(scan(&[2], None, 100), owned(&[&[2], &[2, 0]]));
    assert_eq!(scan(&[255], None, 100), owned(&[&[255, 255]]));
    assert_eq!(scan(&[255, 255, 255], None, 100), owned(&[]));
    assert_eq!(scan(&[3], None, 100), owned(&[]));
    assert_eq!(scan(&[1], None, 100).len(), 6);

    // Limits.
    assert_eq!(scan(&[1], None, 0), owned(&[]));
    assert_eq!(scan(&[1], None, 2), owned(&[&[1], &[1, 0]]));
    assert_eq!(scan(&[], None, usize::MAX).len(), keys.len());

    // start_after: exclusive, may lie before, inside or after the prefix
    // range, and need not be a stored key.
    assert_eq!(scan(&[1], Some(&[1]), 2), owned(&[&[1, 0], &[1, 254]]));
    assert_eq!(
        scan(&[1], Some(&[1, 200]), 100),
        owned(&[&[1, 254], &[1, 255], &[1, 255, 0], &[1, 255, 255]])
    );
    assert_eq!(scan(&[1], Some(&[0, 9]), 1), owned(&[&[1]]));
    assert_eq!(scan(&[1], Some(&[]), 1), owned(&[&[1]]));
    assert_eq!(scan(&[1], Some(&[1, 255, 255]), 100), owned(&[]));
    assert_eq!(scan(&[1], Some(&[2]), 100), owned(&[]));
    assert_eq!(
        scan(&[1, 255], Some(&[1, 255, 0]), 100),
        owned(&[&[1, 255, 255]])
    );

    // Pagination visits every entry exactly once, for every page size.
    for page in 1..=keys.len() + 1 {
        let mut seen = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let next = scan(&[1], after.as_deref(), page);
            seen.extend(next.iter().cloned());
            if next.len() < page {
                break;
            }
            after = next.last().cloned();
        }
        assert_eq!(seen, scan(&[1], None, 100), "page size {page}");
    }
}

fn check_contract(mut make: impl FnMut() -> Box<dyn Storage>) {
    check_put_get_delete(&mut make());
    check_later_op_wins(&mut make());
    check_scan(&mut make());
}

#[test]
fn memory_storage_contract() {
    check_contract(|| Box::new(MemoryStorage::new()));
}

#[test]
fn scan_limit_is_clamped() {
    let mut storage = MemoryStorage::new();
    let mut batch = WriteBatch::new();
    for i in 0..SCAN_LIMIT_MAX as u32 + 10 {
        batch.put(i.to_be_bytes(), []);
    }
    storage.write(batch).unwrap();
    assert_eq!(
        storage.scan_prefix(&[], None, usize::MAX).unwrap().len(),
        SCAN_LIMIT_MAX
    );
    assert_eq!(storage.len(), SCAN_LIMIT_MAX + 10);
    assert_eq!(storage.approximate_bytes(), 4 * (SCAN_LIMIT_MAX + 10));
}

#[test]
fn write_batch_accessors() {
    let mut batch = WriteBatch::new();
    assert!(batch.is_empty());
    batch.put("key", vec![1, 2]);
    batch.delete(b"other".as_slice());
    assert_eq!(batch.len(), 2);
    assert_eq!(
        batch.ops(),
        [
            BatchOp::Put {
                key: b"key".to_vec(),
                value: vec![1, 2]
            },
            BatchOp::Delete {
                key: b"other".to_vec()
            },
        ]
    );
    assert_eq!(batch.ops()[1].key(), b"other");
    assert_eq!(batch.clone().into_ops().len(), 2);
}

#[test]
fn storage_through_mut_reference() {
    fn write_one(mut storage: impl Storage) {
        put(&mut storage, b"k", b"v");
    }
    let mut storage = MemoryStorage::new();
    write_one(&mut storage);
    assert_eq!(storage.get(b"k").unwrap(), Some(b"v".to_vec()));
}

// ---------------------------------------------------------------------------
// FaultyStorage: an injected failure applies nothing.

#[cfg(feature = "std")]
mod faulty {
    use super::*;
    use itc_core::storage::{FaultyStorage, StorageError};

    #[test]
    fn failed_write_applies_nothing_and_crashes() {
        let mut storage = FaultyStorage::new(MemoryStorage::new());
        put(&mut storage, b"a", b"1");
        storage.fail_write(2);

        let mut ok = WriteBatch::new();
        ok.put(b"b", b"1");
        ok.delete(b"a");
        storage.write(ok).unwrap();
        // After a successful write every op is visible.
        assert_eq!(all_entries(&storage, 10), entries(&[(b"b", b"1")]));

        let mut failing = WriteBatch::new();
        failing.put(b"a", b"2");
        failing.delete(b"b");
        failing.put(b"c", b"2");
        assert!(matches!(
            storage.write(failing.clone()),
            Err(StorageError::Backend(_))
        ));
        // After the failure none is.
        assert_eq!(all_entries(&storage, 10), entries(&[(b"b", b"1")]));
        assert!(storage.is_crashed());
        // Crashed: later writes fail too, until recovery.
        assert!(storage.write(failing.clone()).is_err());
        assert_eq!(storage.writes_attempted(), 4);
        storage.recover();
        storage.write(failing).unwrap();
        assert_eq!(
            all_entries(&storage, 10),
            entries(&[(b"a", b"2"), (b"c", b"2")])
        );
        assert_eq!(storage.into_inner().len(), 2);
    }

    #[test]
    fn error_messages_are_lowercase() {
        let mut storage = FaultyStorage::new(MemoryStorage::new());
        storage.fail_next_write();
        let error = storage.write(WriteBatch::new()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "storage backend error: injected fault: write 0 failed"
        );
        assert_eq!(
            StorageError::Corrupted("bad block record").to_string(),
            "storage corrupted: bad block record"
        );
    }
}

// ---------------------------------------------------------------------------
// redb.

#[cfg(feature = "redb")]
mod redb_backend {
    use super::*;
    use itc_core::storage::{RedbStorage, StorageError};
    use std::sync::{Arc, Mutex};

    #[test]
    fn redb_storage_contract() {
        let dir = tempfile::tempdir().unwrap();
        let mut n = 0;
        check_contract(|| {
            n += 1;
            Box::new(RedbStorage::open(dir.path().join(format!("{n}.redb"))).unwrap())
        });
    }

    #[test]
    fn survives_close_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.redb");
        {
            let mut storage = RedbStorage::open(&path).unwrap();
            let mut batch = WriteBatch::new();
            batch.put(b"view", 7u64.to_le_bytes());
            batch.put(b"vote/7", b"prepare");
            batch.put(b"tmp", b"x");
            batch.delete(b"tmp");
            storage.write(batch).unwrap();
        }
        let mut storage = RedbStorage::open(&path).unwrap();
        assert_eq!(
            all_entries(&storage, 10),
            entries(&[(b"view", &7u64.to_le_bytes()), (b"vote/7", b"prepare")])
        );
        // And it stays writable.
        put(&mut storage, b"view", &8u64.to_le_bytes());
        drop(storage);
        let storage = RedbStorage::open(&path).unwrap();
        assert_eq!(
            storage.get(b"view").unwrap(),
            Some(8u64.to_le_bytes().to_vec())
        );
    }

    #[test]
    fn second_open_of_same_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.redb");
        let _first = RedbStorage::open(&path).unwrap();
        assert!(matches!(
            RedbStorage::open(&path),
            Err(StorageError::Backend(_))
        ));
    }

    #[test]
    fn not_a_database_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage");
        std::fs::write(&path, vec![0xAB; 8192]).unwrap();
        assert!(RedbStorage::open(&path).is_err());
    }

    /// A file whose commit slots say redb file format v2 (what redb 2.6,
    /// and so itc 0.1, wrote) is refused with a typed error that says how
    /// to upgrade it, not with an opaque backend error.
    #[test]
    fn redb2_file_format_is_upgrade_required() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.redb");
        {
            let mut storage = RedbStorage::open(&path).unwrap();
            put(&mut storage, b"view", b"1");
        }
        // Layout shared by formats v2 and v3: a 64-byte header, then two
        // 128-byte commit slots whose first byte is the format version.
        let mut bytes = std::fs::read(&path).unwrap();
        assert_eq!((bytes[64], bytes[192]), (3, 3), "redb 5 writes format v3");
        bytes[64] = 2;
        bytes[192] = 2;
        std::fs::write(&path, &bytes).unwrap();

        let error = RedbStorage::open(&path).unwrap_err();
        assert_eq!(error, StorageError::UpgradeRequired { format_version: 2 });
        let message = error.to_string();
        assert!(message.contains("redb 2"), "{message}");
        assert!(message.contains("Database::upgrade()"), "{message}");
    }

    /// An in-memory disk for redb that "loses power" after a budget of
    /// mutating I/O calls: from then on every call fails, and whatever was
    /// written before stays. Reopening on the same bytes is a restart.
    #[derive(Debug, Clone, Default)]
    struct CrashDisk {
        bytes: Arc<Mutex<Vec<u8>>>,
        /// Mutating calls left before the crash; `None` means no crash.
        budget: Arc<Mutex<Option<usize>>>,
    }

    impl CrashDisk {
        fn spend(&self) -> std::io::Result<()> {
            match &mut *self.budget.lock().unwrap() {
                None => Ok(()),
                Some(0) => Err(std::io::Error::other("power lost")),
                Some(left) => {
                    *left -= 1;
                    Ok(())
                }
            }
        }

        fn crashed(&self) -> bool {
            *self.budget.lock().unwrap() == Some(0)
        }

        /// The same bytes, no crash scheduled: a restarted machine.
        fn restart(&self) -> CrashDisk {
            CrashDisk {
                bytes: Arc::new(Mutex::new(self.bytes.lock().unwrap().clone())),
                budget: Arc::default(),
            }
        }
    }

    impl redb::StorageBackend for CrashDisk {
        fn len(&self) -> Result<u64, redb::BackendError> {
            Ok(self.bytes.lock().unwrap().len() as u64)
        }

        fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), redb::BackendError> {
            if self.crashed() {
                return Err(std::io::Error::other("power lost").into());
            }
            let bytes = self.bytes.lock().unwrap();
            let start = offset as usize;
            out.copy_from_slice(
                bytes
                    .get(start..start + out.len())
                    .ok_or_else(|| std::io::Error::other("read past end"))?,
            );
            Ok(())
        }

        fn set_len(&self, len: u64) -> Result<(), redb::BackendError> {
            self.spend()?;
            self.bytes.lock().unwrap().resize(len as usize, 0);
            Ok(())
        }

        fn sync_data(&self) -> Result<(), redb::BackendError> {
            Ok(self.spend()?)
        }

        fn write(&self, offset: u64, data: &[u8]) -> Result<(), redb::BackendError> {
            self.spend()?;
            let mut bytes = self.bytes.lock().unwrap();
            let start = offset as usize;
            bytes
                .get_mut(start..start + data.len())
                .ok_or_else(|| std::io::Error::other("write past end"))?
                .copy_from_slice(data);
            Ok(())
        }
    }

    fn open_on(disk: CrashDisk) -> RedbStorage {
        let db = redb::Builder::new().create_with_backend(disk).unwrap();
        RedbStorage::from_database(db).unwrap()
    }

    /// Cut the power at every I/O call of a batch's commit (and of closing
    /// the database afterwards): after a restart the store holds the state
    /// before the batch or the state after it, never a mix, and always the
    /// state after it once `write` has returned `Ok`.
    #[test]
    fn crash_at_any_io_leaves_batch_all_or_nothing() {
        let mut before = WriteBatch::new();
        let mut after = WriteBatch::new();
        for i in 0u32..200 {
            // Enough data to span several pages.
            before.put(i.to_be_bytes(), vec![1; 100]);
            if i % 3 == 0 {
                after.delete(i.to_be_bytes());
            } else {
                after.put(i.to_be_bytes(), vec![2; 100]);
            }
            after.put((1000 + i).to_be_bytes(), vec![3; 50]);
        }
        let mut model = MemoryStorage::new();
        model.write(before.clone()).unwrap();
        let state_before = all_entries(&model, 1000);
        model.write(after.clone()).unwrap();
        let state_after = all_entries(&model, 1000);

        let mut saw_failure = false;
        for budget in 0..1000 {
            let disk = CrashDisk::default();
            let mut storage = open_on(disk.clone());
            storage.write(before.clone()).unwrap();
            *disk.budget.lock().unwrap() = Some(budget);
            let result = storage.write(after.clone());
            drop(storage);

            let restarted = open_on(disk.restart());
            let state = all_entries(&restarted, 1000);
            if result.is_ok() {
                assert_eq!(state, state_after, "budget {budget}");
                // The whole commit ran; later budgets add nothing new.
                if !disk.crashed() {
                    assert!(saw_failure, "the crash never hit the commit");
                    return;
                }
            } else {
                saw_failure = true;
                assert!(
                    state == state_before || state == state_after,
                    "budget {budget}: partial batch after crash"
                );
            }
        }
        panic!("commit never completed within the I/O budget");
    }

    /// After an I/O error, the open database refuses work with an error
    /// (rather than panicking or serving a half-written state).
    #[test]
    fn io_error_is_reported_as_backend_error() {
        let disk = CrashDisk::default();
        let mut storage = open_on(disk.clone());
        put(&mut storage, b"a", b"1");
        *disk.budget.lock().unwrap() = Some(0);
        let mut batch = WriteBatch::new();
        batch.put(b"b", b"2");
        assert!(matches!(
            storage.write(batch),
            Err(StorageError::Backend(_))
        ));
        drop(storage);
        let storage = open_on(disk.restart());
        assert_eq!(all_entries(&storage, 10), entries(&[(b"a", b"1")]));
    }
}

// ---------------------------------------------------------------------------
// Model-based property test.

/// Keys from a tiny alphabet, so batches collide on keys and prefixes
/// straddle the 0xFF boundary.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, 254, 255]), 0..4)
}

fn op() -> impl Strategy<Value = BatchOp> {
    prop_oneof![
        3 => (key(), prop::collection::vec(any::<u8>(), 0..4))
            .prop_map(|(key, value)| BatchOp::Put { key, value }),
        1 => key().prop_map(|key| BatchOp::Delete { key }),
    ]
}

fn batch() -> impl Strategy<Value = WriteBatch> {
    prop::collection::vec(op(), 0..10).prop_map(|ops| {
        let mut batch = WriteBatch::new();
        for op in ops {
            match op {
                BatchOp::Put { key, value } => batch.put(key, value),
                BatchOp::Delete { key } => batch.delete(key),
            }
        }
        batch
    })
}

fn apply_to_model(model: &mut BTreeMap<Vec<u8>, Vec<u8>>, batch: &WriteBatch) {
    for op in batch.ops() {
        match op {
            BatchOp::Put { key, value } => {
                model.insert(key.clone(), value.clone());
            }
            BatchOp::Delete { key } => {
                model.remove(key);
            }
        }
    }
}

fn model_scan(
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
) -> Entries {
    model
        .iter()
        .filter(|(k, _)| k.starts_with(prefix) && after.is_none_or(|a| k.as_slice() > a))
        .take(limit)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

type Query = (Vec<u8>, Option<Vec<u8>>, usize);

fn query() -> impl Strategy<Value = Query> {
    (key(), prop::option::of(key()), 0usize..6)
}

/// Apply `batches` to `storage` and to a BTreeMap model; after each batch,
/// the full contents (read page by page) and `queries` must agree.
fn check_against_model(storage: &mut impl Storage, batches: &[WriteBatch], queries: &[Query]) {
    let mut model = BTreeMap::new();
    for batch in batches {
        storage.write(batch.clone()).unwrap();
        apply_to_model(&mut model, batch);
        let expected: Entries = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(all_entries(storage, 3), expected);
        for (prefix, after, limit) in queries {
            assert_eq!(
                storage
                    .scan_prefix(prefix, after.as_deref(), *limit)
                    .unwrap(),
                model_scan(&model, prefix, after.as_deref(), *limit),
                "prefix {prefix:?} after {after:?} limit {limit}"
            );
        }
        for key in model.keys() {
            assert_eq!(storage.get(key).unwrap().as_ref(), model.get(key));
        }
    }
}

proptest! {
    #[test]
    fn memory_storage_matches_model(
        batches in prop::collection::vec(batch(), 1..8),
        queries in prop::collection::vec(query(), 0..6),
    ) {
        let mut storage = MemoryStorage::new();
        check_against_model(&mut storage, &batches, &queries);
        let bytes: usize = storage.iter().map(|(k, v)| k.len() + v.len()).sum();
        prop_assert_eq!(storage.approximate_bytes(), bytes);
    }
}

#[cfg(feature = "redb")]
proptest! {
    // Each case creates a database and commits durably per batch: keep the
    // case count modest so the suite stays fast.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn redb_storage_matches_model(
        batches in prop::collection::vec(batch(), 1..8),
        queries in prop::collection::vec(query(), 0..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.redb");
        let mut storage = itc_core::storage::RedbStorage::open(&path).unwrap();
        check_against_model(&mut storage, &batches, &queries);
        // Same contents after a reopen.
        let before = all_entries(&storage, 1000);
        drop(storage);
        let storage = itc_core::storage::RedbStorage::open(&path).unwrap();
        prop_assert_eq!(all_entries(&storage, 1000), before);
    }
}
