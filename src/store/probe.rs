//! The access probe `reel init` runs against a backend before it trusts it: write,
//! read back, a conditional write that must not replace what is there, delete.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use super::backend::{BlobBackend, Created};
use super::error::StoreError;

/// What the probe found.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The backend probed.
    pub backend: String,
    /// Whether a create-only write on an existing name was refused (the store honours
    /// conditional writes). A store that ignores them overwrote the probe blob.
    pub conditional_writes: bool,
    /// How long the four requests took.
    #[serde(with = "millis")]
    pub elapsed: Duration,
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
    backend.delete(&name).map_err(step("delete"))?;
    if backend.size(&name).map_err(step("delete"))?.is_some() {
        return Err(mismatch("delete", "the blob is still there after a delete"));
    }
    Ok(ProbeReport {
        backend: backend.describe(),
        conditional_writes,
        elapsed: started.elapsed(),
    })
}
