//! One conformance suite for every blob backend. A new backend is one more test
//! function calling [`suite`].

use std::sync::Arc;

use bytes::Bytes;

use super::StoreError;
use super::backend::Created;
use super::{BlobBackend, ObjectStoreBackend, RedbBackend};

/// The compare-and-swap part of the contract, for the backends that move refs
/// (`refs/HEAD` on a shared bucket): create-only, update at the version read, refusal of
/// a stale version, and versions that change with every write.
fn swap_suite(b: &dyn BlobBackend) {
    use super::Swapped;
    let name = "refs/conformance";
    assert!(b.get_versioned(name).unwrap().is_none());
    assert_eq!(
        b.swap(name, Bytes::from_static(b"one"), None).unwrap(),
        Swapped::Done
    );
    assert_eq!(
        b.swap(name, Bytes::from_static(b"again"), None).unwrap(),
        Swapped::Conflict
    );
    let (bytes, v1) = b.get_versioned(name).unwrap().unwrap();
    assert_eq!(bytes, Bytes::from_static(b"one"));
    assert_eq!(
        b.swap(name, Bytes::from_static(b"two"), Some(&v1)).unwrap(),
        Swapped::Done
    );
    let (bytes, v2) = b.get_versioned(name).unwrap().unwrap();
    assert_eq!(bytes, Bytes::from_static(b"two"));
    assert_ne!(v1, v2, "a write must change the version");
    assert_eq!(
        b.swap(name, Bytes::from_static(b"stale"), Some(&v1))
            .unwrap(),
        Swapped::Conflict
    );
    assert_eq!(b.get(name).unwrap(), Bytes::from_static(b"two"));
    b.delete(name).unwrap();
}

/// Create-only writes: a second write of `packs/a.pack` (holding `data`) is refused and
/// leaves it as it was.
fn create_only(b: &dyn BlobBackend, data: &Bytes) {
    b.put("packs/a.pack", Bytes::from_static(b"other")).unwrap();
    assert_eq!(&b.get("packs/a.pack").unwrap(), data);
    assert_eq!(
        b.create("packs/a.pack", Bytes::from_static(b"more"))
            .unwrap(),
        Created::Existed
    );
    assert_eq!(&b.get("packs/a.pack").unwrap(), data);
}

/// Exercises the whole contract of [`BlobBackend`].
fn suite(b: &dyn BlobBackend) {
    suite_with(b, true);
}

/// The contract, with or without create-only writes (`conditional`): a store that
/// ignores them still serves every other part (reel then refuses a second machine).
fn suite_with(b: &dyn BlobBackend, conditional: bool) {
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
    // (names are content hashes, so a repeat carries the same bytes); `create` says so.
    if conditional {
        create_only(b, &data);
    }

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
    swap_suite(&b);
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

/// A moto server (an S3-compatible server) of this test's own on 127.0.0.1, with one
/// bucket; killed when dropped. `REEL_MOTO_SERVER` names the `moto_server` program.
#[cfg(feature = "s3")]
struct Moto {
    child: std::process::Child,
    port: u16,
}

#[cfg(feature = "s3")]
impl Moto {
    fn start(bucket: &str) -> Moto {
        use std::io::{Read, Write};
        let program =
            std::env::var("REEL_MOTO_SERVER").expect("REEL_MOTO_SERVER names moto_server");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto { child, port };
        let started = std::time::Instant::now();
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let req = format!(
                    "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                s.write_all(req.as_bytes()).unwrap();
                let mut reply = String::new();
                s.read_to_string(&mut reply).unwrap();
                assert!(reply.starts_with("HTTP/1.1 200"), "create bucket: {reply}");
                return moto;
            }
            assert!(started.elapsed().as_secs() < 60, "moto did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

#[cfg(feature = "s3")]
impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(feature = "s3")]
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn s3_backend_conforms() {
    let moto = Moto::start("conformance");
    let rt = runtime();
    let url = format!(
        "s3://conformance/some/prefix?endpoint=http://127.0.0.1:{}&allow_http=true&secret_access_key=x",
        moto.port
    );
    assert!(super::backend_from_url(&url, rt.handle().clone()).is_err());
    // The URL path (environment credentials) is what tests/integration/s3.rs drives;
    // here the builder gets them directly, as the test cannot set its own environment.
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("conformance")
        .with_endpoint(format!("http://127.0.0.1:{}", moto.port))
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    let b = ObjectStoreBackend::new(
        Arc::new(store),
        object_store::path::Path::from("some/prefix"),
        "s3://conformance/some/prefix".into(),
        rt.handle().clone(),
    );
    suite(&b);
    // Under the prefix, and nowhere else.
    assert_eq!(b.list("").unwrap().len(), 10);
    swap_suite(&b);
}

/// Garage 2.5 (`scripts/test-garage` builds and starts it, and sets `REEL_GARAGE_*`):
/// the probe tells what it honours, and the rest of the contract holds.
#[cfg(feature = "s3")]
#[test]
#[ignore = "needs Garage: opt-in, scripts/test-garage builds it (~20 min) and runs this"]
fn garage_backend_conforms() {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} (set by scripts/test-garage)"))
    };
    let rt = runtime();
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(var("REEL_GARAGE_BUCKET"))
        .with_endpoint(var("REEL_GARAGE_ENDPOINT"))
        .with_allow_http(true)
        .with_region(var("REEL_GARAGE_REGION"))
        .with_access_key_id(var("REEL_GARAGE_KEY"))
        .with_secret_access_key(var("REEL_GARAGE_SECRET"))
        .build()
        .unwrap();
    let b = ObjectStoreBackend::new(
        Arc::new(store),
        object_store::path::Path::from(format!(
            "conformance-{}",
            hex::encode(rand::random::<[u8; 4]>())
        )),
        "garage".into(),
        rt.handle().clone(),
    );
    let report = super::probe(&b).unwrap();
    eprintln!("garage probe: {report:?}");
    suite_with(&b, report.conditional_writes);
    if report.conditional_updates {
        swap_suite(&b);
    }
}
