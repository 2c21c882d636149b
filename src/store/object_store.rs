//! The blob backend over `object_store`: memory, local directory, S3, GCS, Azure.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use tokio::runtime::Handle;

use super::backend::{BlobBackend, BlobMeta, Created, Swapped, Version};
use super::cloud::{self, Settings};
use super::error::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// Blobs in any `object_store` store, under an optional prefix.
#[derive(Debug)]
pub struct ObjectStoreBackend {
    store: Arc<dyn ObjectStore>,
    prefix: StorePath,
    label: String,
    handle: Handle,
    settings: Settings,
    /// Whether requests go over the network (the cloud stores).
    remote: bool,
    /// A local directory's ranged reads, by `pread` on files kept open.
    local: Option<super::local_reads::LocalReads>,
    /// A local directory's files, for packs built in place.
    files: Option<super::pack_files::PackFiles>,
}

impl ObjectStoreBackend {
    /// Wraps a store; `handle` runs its futures (the engine itself is synchronous).
    #[must_use]
    pub fn new(
        store: Arc<dyn ObjectStore>,
        prefix: StorePath,
        label: String,
        handle: Handle,
    ) -> Self {
        ObjectStoreBackend {
            store,
            prefix,
            label,
            handle,
            settings: Settings::default(),
            remote: false,
            local: None,
            files: None,
        }
    }

    /// Treats the store as remote: a restore keeps `n` reads in flight (see
    /// [`BlobBackend::parallel_reads`]). Stores built from cloud URLs are remote already.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn with_parallel_reads(mut self, n: usize) -> Self {
        self.remote = true;
        self.settings.parallel_reads = n.max(1);
        self
    }

    /// An in-memory store, for tests and embedding.
    #[must_use]
    pub fn memory(handle: Handle) -> Self {
        Self::new(
            Arc::new(InMemory::new()),
            StorePath::default(),
            "memory://".into(),
            handle,
        )
    }

    /// A local directory, created if missing, with fsync after every write.
    pub fn local(dir: &std::path::Path, handle: Handle) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            op: "create directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(backend_err("open", &dir.display().to_string()))?
            .with_fsync(true);
        let label = format!("file://{}", dir.display());
        let fs = Arc::new(fs);
        let mut backend = Self::new(fs.clone(), StorePath::default(), label, handle);
        backend.local = Some(super::local_reads::LocalReads::new(fs));
        backend.files = Some(super::pack_files::PackFiles::new(dir));
        Ok(backend)
    }

    fn path(&self, name: &str) -> StorePath {
        self.prefix
            .parts()
            .chain(StorePath::from(name).parts())
            .collect()
    }

    fn relative(&self, path: &StorePath) -> String {
        path.prefix_match(&self.prefix).map_or_else(
            || path.to_string(),
            |parts| {
                parts
                    .map(|p| p.as_ref().to_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            },
        )
    }
}

impl ObjectStoreBackend {
    /// Runs a request that is safe to repeat, retrying it while its outcome is in doubt
    /// (it timed out or was cut off after it was sent), within the retry deadline. The
    /// store does not retry those itself for create-only writes and bulk deletes, as it
    /// cannot know they are idempotent; ours are: a pack's name is its content (a
    /// repeat after a write that did land finds it and reports `AlreadyExists`), and a
    /// delete of what is gone succeeds.
    fn idempotent<T, F>(
        &self,
        op: &str,
        name: &str,
        mut request: impl FnMut() -> F,
    ) -> std::result::Result<T, object_store::Error>
    where
        F: std::future::Future<Output = std::result::Result<T, object_store::Error>>,
    {
        let deadline = Instant::now() + self.settings.retry_timeout;
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.handle.block_on(request()) {
                Err(e) if cloud::in_doubt(&e) && Instant::now() < deadline => {
                    tracing::warn!("{op} {name} failed, retrying in {backoff:?}: {e}");
                    std::thread::sleep(backoff.min(deadline - Instant::now()));
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                res => return res,
            }
        }
    }
}

/// Maps a failed request on `name`, keeping the store's error as the source.
fn backend_err(op: &'static str, name: &str) -> impl FnOnce(object_store::Error) -> StoreError {
    let name = name.to_owned();
    move |e| match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound { name },
        source => StoreError::ObjectStore {
            op,
            name,
            source: Box::new(source),
        },
    }
}

impl BlobBackend for ObjectStoreBackend {
    fn create(&self, name: &str, bytes: Bytes) -> Result<Created> {
        let path = self.path(name);
        let payload = PutPayload::from_bytes(bytes);
        let res = self.idempotent("put", name, || {
            let opts = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            self.store.put_opts(&path, payload.clone(), opts)
        });
        match res {
            Ok(_) => Ok(Created::New),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Created::Existed),
            Err(e) => Err(backend_err("put", name)(e)),
        }
    }

    fn get(&self, name: &str) -> Result<Bytes> {
        let path = self.path(name);
        self.handle
            .block_on(async { self.store.get(&path).await?.bytes().await })
            .map_err(backend_err("get", name))
    }

    fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        // Object stores reject empty ranges; an empty object (an empty file) is legal.
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        if let Some(local) = &self.local {
            return local.read(name, range);
        }
        let path = self.path(name);
        self.handle
            .block_on(self.store.get_range(&path, range))
            .map_err(backend_err("get a range of", name))
    }

    fn size(&self, name: &str) -> Result<Option<u64>> {
        let path = self.path(name);
        match self.handle.block_on(self.store.head(&path)) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend_err("head", name)(e)),
        }
    }

    fn delete(&self, name: &str) -> Result<()> {
        if let Some(local) = &self.local {
            local.forget(name);
        }
        let path = self.path(name);
        match self.idempotent("delete", name, || self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend_err("delete", name)(e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>> {
        let full = self.path(prefix.trim_end_matches('/'));
        let metas: Vec<_> = self
            .handle
            .block_on(self.store.list(Some(&full)).try_collect::<Vec<_>>())
            .map_err(backend_err("list", prefix))?;
        Ok(metas
            .into_iter()
            .map(|m| BlobMeta {
                name: self.relative(&m.location),
                size: m.size,
                modified: m.last_modified.into(),
                e_tag: m.e_tag,
            })
            .collect())
    }

    fn describe(&self) -> String {
        self.label.clone()
    }

    fn parallel_reads(&self) -> Option<usize> {
        self.remote.then_some(self.settings.parallel_reads)
    }

    fn pack_files(&self) -> Option<&super::pack_files::PackFiles> {
        self.files.as_ref()
    }

    fn shared(&self) -> bool {
        self.remote
    }

    fn get_versioned(&self, name: &str) -> Result<Option<(Bytes, Version)>> {
        let path = self.path(name);
        let res = self.handle.block_on(async {
            let got = self.store.get(&path).await?;
            let version = Version {
                e_tag: got.meta.e_tag.clone(),
                version: got.meta.version.clone(),
            };
            Ok((got.bytes().await?, version))
        });
        match res {
            Ok(found) => Ok(Some(found)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend_err("get", name)(e)),
        }
    }

    fn replace(&self, name: &str, bytes: Bytes) -> Result<()> {
        let path = self.path(name);
        let payload = PutPayload::from_bytes(bytes);
        // The same bytes again are the same outcome: retried while in doubt.
        self.idempotent("put", name, || {
            self.store
                .put_opts(&path, payload.clone(), PutOptions::default())
        })
        .map(drop)
        .map_err(backend_err("put", name))
    }

    fn swap(&self, name: &str, bytes: Bytes, expected: Option<&Version>) -> Result<Swapped> {
        let path = self.path(name);
        let payload = PutPayload::from_bytes(bytes.clone());
        let mode = match expected {
            None => PutMode::Create,
            Some(v) => PutMode::Update(UpdateVersion {
                e_tag: v.e_tag.clone(),
                version: v.version.clone(),
            }),
        };
        // Retried while in doubt; a retry of a write that did land meets its own
        // version and is refused, so a refusal is checked against what is there.
        let res = self.idempotent("conditional put", name, || {
            let opts = PutOptions {
                mode: mode.clone(),
                ..PutOptions::default()
            };
            self.store.put_opts(&path, payload.clone(), opts)
        });
        match res {
            Ok(_) => Ok(Swapped::Done),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => {
                let now = self.get_versioned(name)?;
                Ok(if now.is_some_and(|(b, _)| b == bytes) {
                    Swapped::Done
                } else {
                    Swapped::Conflict
                })
            }
            Err(object_store::Error::NotImplemented { .. }) => Err(StoreError::Unsupported {
                op: "conditional update",
                name: name.to_owned(),
                backend: self.describe(),
            }),
            Err(e) => Err(backend_err("conditional put", name)(e)),
        }
    }
}

/// Builds a backend from a URL: `memory://`, `file:///dir`, or (with the matching cargo
/// feature, on in the `reel` binary) `s3://bucket/prefix`, `gs://…`, `az://…` with the
/// settings of the environment and the URL's query options (see `docs/backends.md`).
pub fn backend_from_url(url: &str, handle: Handle) -> Result<ObjectStoreBackend> {
    from_url(url, handle, None)
}

/// The deadline of the access probe's requests: a wrong endpoint must fail `reel init`
/// in seconds, not after the minutes a checkpoint may wait out a stalled server.
pub const PROBE_RETRY_TIMEOUT: Duration = Duration::from_secs(10);

/// [`backend_from_url`] with its retry deadline capped at [`PROBE_RETRY_TIMEOUT`].
pub fn backend_for_probe(url: &str, handle: Handle) -> Result<ObjectStoreBackend> {
    from_url(url, handle, Some(PROBE_RETRY_TIMEOUT))
}

fn from_url(url: &str, handle: Handle, cap: Option<Duration>) -> Result<ObjectStoreBackend> {
    let parsed = url::Url::parse(url).map_err(|e| StoreError::Url {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let no_query = || {
        if parsed.query().is_some() {
            return Err(StoreError::Url {
                url: url.to_owned(),
                reason: "this backend takes no options".into(),
            });
        }
        Ok(())
    };
    match parsed.scheme() {
        "memory" => {
            no_query()?;
            Ok(ObjectStoreBackend::memory(handle))
        }
        "file" => {
            no_query()?;
            let dir = parsed.to_file_path().map_err(|()| StoreError::Url {
                url: url.to_owned(),
                reason: "not an absolute file URL".into(),
            })?;
            ObjectStoreBackend::local(&dir, handle)
        }
        _ => {
            let (store, prefix, settings) = cloud::open(&parsed, cap)?;
            let mut backend = ObjectStoreBackend::new(store, prefix, url.to_owned(), handle);
            backend.settings = settings;
            backend.remote = true;
            Ok(backend)
        }
    }
}
