//! One conformance suite for every blob backend. A new backend is one more test
//! function calling [`suite`].

use std::sync::Arc;

use bytes::Bytes;

use super::StoreError;
use super::{BlobBackend, ObjectStoreBackend, RedbBackend};

/// Exercises the whole contract of [`BlobBackend`].
fn suite(b: &dyn BlobBackend) {
    // Empty at first.
    assert!(b.list("packs/").unwrap().is_empty());
    assert!(matches!(
        b.get("packs/missing.pack"),
        Err(StoreError::NotFound { .. })
    ));

    // Put, then read whole and by range.
    let data = Bytes::from_static(b"0123456789abcdef");
    b.put("packs/a.pack", data.clone()).unwrap();
    assert_eq!(b.get("packs/a.pack").unwrap(), data);
    assert_eq!(
        b.get_range("packs/a.pack", 4..10).unwrap(),
        Bytes::from_static(b"456789")
    );
    assert_eq!(b.get_range("packs/a.pack", 0..0).unwrap().len(), 0);

    // A second put of an existing name is a success and keeps the first bytes
    // (names are content hashes, so a repeat carries the same bytes).
    b.put("packs/a.pack", Bytes::from_static(b"other")).unwrap();
    assert_eq!(b.get("packs/a.pack").unwrap(), data);

    // Listing is by prefix and reports sizes.
    b.put("packs/b.pack", Bytes::from_static(b"xyz")).unwrap();
    b.put("other/c", Bytes::from_static(b"c")).unwrap();
    let mut listed: Vec<(String, u64)> = b
        .list("packs/")
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.size))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        vec![("packs/a.pack".into(), 16), ("packs/b.pack".into(), 3)]
    );

    // Delete is idempotent.
    b.delete("packs/a.pack").unwrap();
    b.delete("packs/a.pack").unwrap();
    assert!(matches!(
        b.get("packs/a.pack"),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(b.list("packs/").unwrap().len(), 1);

    // Many threads at once.
    let shared: Vec<_> = (0..8u8)
        .map(|i| {
            let name = format!("packs/t{i}.pack");
            (name, Bytes::from(vec![i; 1000 + usize::from(i)]))
        })
        .collect();
    std::thread::scope(|s| {
        for (name, bytes) in &shared {
            s.spawn(move || b.put(name, bytes.clone()).unwrap());
        }
    });
    for (name, bytes) in &shared {
        assert_eq!(&b.get(name).unwrap(), bytes);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn memory_backend_conforms() {
    let rt = runtime();
    let b = ObjectStoreBackend::memory(rt.handle().clone());
    suite(&b);
}

#[test]
fn local_directory_backend_conforms() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let b = ObjectStoreBackend::local(dir.path(), rt.handle().clone()).unwrap();
    suite(&b);
    // Stored as plain files under the directory.
    assert!(dir.path().join("packs/b.pack").is_file());
}

#[test]
fn redb_file_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let b = Arc::new(RedbBackend::open(&dir.path().join("packs.redb")).unwrap());
    suite(b.as_ref());
    // Reopening sees the same blobs.
    drop(b);
    let again = RedbBackend::open(&dir.path().join("packs.redb")).unwrap();
    assert_eq!(
        again.get("packs/b.pack").unwrap(),
        Bytes::from_static(b"xyz")
    );
}
