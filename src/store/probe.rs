//! The access probe `reel init` runs against a backend before it trusts it: write,
//! read back, a conditional write that must not replace what is there, delete.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use super::backend::{BlobBackend, Created, Swapped};
use super::error::StoreError;

/// What the probe found.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The backend probed.
    pub backend: String,
    /// Whether a create-only write on an existing name was refused (the store honours
    /// conditional writes). A store that ignores them overwrote the probe blob.
    pub conditional_writes: bool,
    /// Whether an update conditional on the blob's version replaced it when the version
    /// matched and was refused when it was stale (what moves `refs/HEAD`). A store
    /// without such updates, or one that ignores the condition, refuses a second
    /// machine.
    pub conditional_updates: bool,
    /// How long the four requests took.
    #[serde(with = "millis")]
    pub elapsed: Duration,
}

/// Whether an update at the current version lands and one at a stale version is
/// refused, leaving the blob as the first update wrote it.
fn updates_honoured(backend: &dyn BlobBackend, name: &str) -> Result<bool, StoreError> {
    let version = match backend.get_versioned(name) {
        Ok(Some((_, v))) => v,
        Ok(None) | Err(StoreError::Unsupported { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    let update = Bytes::from(rand::random::<[u8; 32]>().to_vec());
    match backend.swap(name, update.clone(), Some(&version)) {
        Ok(Swapped::Done) => {}
        Ok(Swapped::Conflict) | Err(StoreError::Unsupported { .. }) => return Ok(false),
        Err(e) => return Err(e),
    }
    let stale = Bytes::from(rand::random::<[u8; 32]>().to_vec());
    let refused = backend.swap(name, stale, Some(&version))? == Swapped::Conflict;
    Ok(refused && backend.get(name)? == update)
}

mod millis {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

/// Where probe blobs are written (and deleted again).
pub const PROBE_PREFIX: &str = "probe/";

/// Writes, reads, conditionally re-writes and deletes one small blob. The first failing
/// step is the error, naming the step.
pub fn probe(backend: &dyn BlobBackend) -> Result<ProbeReport, StoreError> {
    let started = Instant::now();
    let name = format!("{PROBE_PREFIX}{}", hex::encode(rand::random::<[u8; 16]>()));
    let first = Bytes::from(rand::random::<[u8; 32]>().to_vec());
    let second = Bytes::from(rand::random::<[u8; 32]>().to_vec());
    let step = |step: &'static str| {
        let backend = backend.describe();
        move |source: StoreError| StoreError::Probe {
            backend,
            step,
            source: Box::new(source),
        }
    };
    let mismatch = |step: &'static str, reason: &str| StoreError::Probe {
        backend: backend.describe(),
        step,
        source: Box::new(StoreError::Pack(reason.to_owned())),
    };
    backend.create(&name, first.clone()).map_err(|e| match e {
        StoreError::NotFound { .. } => step("write: the bucket or container does not exist")(e),
        e => step("write")(e),
    })?;
    let read = backend.get(&name).map_err(step("read back"))?;
    if read != first {
        return Err(mismatch(
            "read back",
            "the bytes read differ from those written",
        ));
    }
    let created = backend
        .create(&name, second)
        .map_err(step("conditional write"))?;
    let kept = backend.get(&name).map_err(step("read back"))? == first;
    let conditional_writes = created == Created::Existed && kept;
    let conditional_updates = conditional_writes
        && updates_honoured(backend, &name).map_err(step("conditional update"))?;
    backend.delete(&name).map_err(step("delete"))?;
    if backend.size(&name).map_err(step("delete"))?.is_some() {
        return Err(mismatch("delete", "the blob is still there after a delete"));
    }
    Ok(ProbeReport {
        backend: backend.describe(),
        conditional_writes,
        conditional_updates,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::path::Path as StorePath;

    use super::probe;
    use crate::store::ObjectStoreBackend;
    use crate::store::faults::FaultStore;

    fn backend(store: &Arc<FaultStore>) -> ObjectStoreBackend {
        ObjectStoreBackend::new(
            store.clone(),
            StorePath::default(),
            "faults://".into(),
            tokio::runtime::Handle::current(),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_probe_tells_honoured_ignored_and_missing_conditional_updates() {
        let store = Arc::new(FaultStore::new());
        let b = backend(&store);
        let report = tokio::task::block_in_place(|| probe(&b)).unwrap();
        assert!(report.conditional_writes && report.conditional_updates);

        let ignoring = Arc::new(FaultStore::new());
        ignoring.ignore_updates();
        let b = backend(&ignoring);
        let report = tokio::task::block_in_place(|| probe(&b)).unwrap();
        assert!(report.conditional_writes);
        assert!(
            !report.conditional_updates,
            "a stale update landed unnoticed"
        );

        let dir = tempfile::tempdir().unwrap();
        let local =
            ObjectStoreBackend::local(dir.path(), tokio::runtime::Handle::current()).unwrap();
        let report = tokio::task::block_in_place(|| probe(&local)).unwrap();
        assert!(
            !report.conditional_updates,
            "a local directory has no versions"
        );
    }

    /// An update whose reply is lost (done, then a timeout) is retried, refused as
    /// stale, and still reported done: the bytes there are its own.
    #[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_update_in_doubt_that_landed_is_done_and_a_stale_one_conflicts() {
        use bytes::Bytes;

        use crate::store::faults::{Fault, Op};
        use crate::store::{BlobBackend, Swapped};

        let store = Arc::new(FaultStore::new());
        let b = backend(&store);
        tokio::task::block_in_place(|| {
            assert_eq!(
                b.swap("refs/x", Bytes::from_static(b"1"), None).unwrap(),
                Swapped::Done
            );
            let (_, v1) = b.get_versioned("refs/x").unwrap().unwrap();
            store.inject(Op::Put, Fault::After);
            assert_eq!(
                b.swap("refs/x", Bytes::from_static(b"2"), Some(&v1))
                    .unwrap(),
                Swapped::Done
            );
            assert_eq!(b.get("refs/x").unwrap(), Bytes::from_static(b"2"));
            assert_eq!(
                b.swap("refs/x", Bytes::from_static(b"3"), Some(&v1))
                    .unwrap(),
                Swapped::Conflict
            );
            assert_eq!(
                b.swap("refs/x", Bytes::from_static(b"4"), None).unwrap(),
                Swapped::Conflict
            );
            assert_eq!(b.get("refs/x").unwrap(), Bytes::from_static(b"2"));
        });
    }
}
