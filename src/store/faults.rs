//! A fault-injecting, request-counting `ObjectStore` for tests of the engine's request
//! economy, retries and conditional writes.
//!
//! It wraps a real store (`InMemory`) and, per kind of request, counts every request and
//! applies the faults queued for it, in order: refuse it, or fail it with a timeout
//! before it reaches the store (either way the outcome is known: nothing happened),
//! fail it after it did (the outcome is in doubt: the write landed, the answer was
//! lost), or hold it until the test opens a [`Gate`] — a delay of any length, which lets
//! a test reorder requests deterministically (another machine's request overtakes the
//! held one). A fault can be queued for requests of one name only.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// A kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Put,
    Get,
    Head,
    List,
}

/// Where a held request waits: the test waits until the request has arrived, lets other
/// requests through, then opens the gate.
#[derive(Debug, Clone, Default)]
pub struct Gate(std::sync::Arc<GateState>);

#[derive(Debug, Default)]
pub struct GateState {
    arrived: Mutex<bool>,
    arrival: std::sync::Condvar,
    open: tokio::sync::Notify,
}

impl Gate {
    /// Blocks until a request is held here (panics after 30 s).
    pub fn wait_arrived(&self) {
        let arrived = self.0.arrived.lock().unwrap();
        let (arrived, timeout) = self
            .0
            .arrival
            .wait_timeout_while(arrived, std::time::Duration::from_secs(30), |a| !*a)
            .unwrap();
        assert!(
            *arrived && !timeout.timed_out(),
            "no request reached the gate"
        );
    }

    /// Lets the held request go on.
    pub fn open(&self) {
        self.0.open.notify_one();
    }

    /// Waits until the gate opens — or a minute, so that a test that failed before
    /// opening it ends instead of waiting forever for the held request.
    async fn hold(&self) {
        let opened = self.0.open.notified();
        *self.0.arrived.lock().unwrap() = true;
        self.0.arrival.notify_all();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(60), opened).await;
    }
}

/// What happens to one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Runs as usual (queued before another fault, to let requests through first).
    Pass,
    /// Refused by the store (as a 403 would be): the outcome is known, retrying is
    /// pointless.
    Refuse,
    /// Fails with a timeout before reaching the store.
    Before,
    /// Reaches the store, then fails with a timeout: the outcome is in doubt. (Only the
    /// cloud stores' errors say "in doubt"; without them no test injects this.)
    #[cfg_attr(
        not(any(feature = "s3", feature = "gcs", feature = "azure")),
        allow(dead_code)
    )]
    After,
    /// Waits at the gate until the test opens it, then runs as usual.
    Hold(Gate),
}

/// How many requests of each kind were made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub put: u64,
    pub get: u64,
    pub head: u64,
    pub delete: u64,
    pub list: u64,
}

/// The wrapper.
pub struct FaultStore {
    inner: InMemory,
    counts: std::sync::Arc<Mutex<Counts>>,
    faults: Mutex<VecDeque<(Op, Option<String>, Fault)>>,
    /// Treats updates conditional on a version as plain overwrites, as a store that
    /// ignores `If-Match` does (Garage 2.5, measured).
    ignore_updates: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for FaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FaultStore")
    }
}

impl fmt::Display for FaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FaultStore")
    }
}

impl FaultStore {
    pub fn new() -> Self {
        FaultStore {
            inner: InMemory::new(),
            counts: std::sync::Arc::new(Mutex::new(Counts::default())),
            faults: Mutex::new(VecDeque::new()),
            ignore_updates: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// From now on, ignores the version of conditional updates.
    pub fn ignore_updates(&self) {
        self.ignore_updates
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Queues a fault for the next request of kind `op` not yet given one.
    pub fn inject(&self, op: Op, fault: Fault) {
        self.faults.lock().unwrap().push_back((op, None, fault));
    }

    /// Queues a fault for the next request of kind `op` on the blob `name` (the path in
    /// the store, e.g. `refs/HEAD`); a name ending in `/` (`index/`) stands for every
    /// blob under it.
    pub fn inject_at(&self, op: Op, name: &str, fault: Fault) {
        self.faults
            .lock()
            .unwrap()
            .push_back((op, Some(name.to_owned()), fault));
    }

    /// The names of the blobs under `prefix` (bypassing the faults and the counts).
    pub async fn names(&self, prefix: &str) -> Vec<String> {
        self.inner
            .list(Some(&Path::from(prefix)))
            .map(|m| m.unwrap().location.to_string())
            .collect()
            .await
    }

    /// The requests counted so far.
    pub fn counts(&self) -> Counts {
        *self.counts.lock().unwrap()
    }

    /// Counts a request and takes its fault, if one is queued.
    fn arrive(&self, op: Op, location: Option<&Path>) -> Option<Fault> {
        {
            let mut c = self.counts.lock().unwrap();
            match op {
                Op::Put => c.put += 1,
                Op::Get => c.get += 1,
                Op::Head => c.head += 1,
                Op::List => c.list += 1,
            }
        }
        let mut faults = self.faults.lock().unwrap();
        let at = faults.iter().position(|(o, name, _)| {
            *o == op
                && name
                    .as_deref()
                    .is_none_or(|n| location.is_some_and(|l| matches(l.as_ref(), n)))
        })?;
        faults.remove(at).map(|(_, _, f)| f)
    }

    /// Runs `request` under `op`'s next fault.
    async fn run<T>(
        &self,
        op: Op,
        location: Option<&Path>,
        request: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match self.arrive(op, location) {
            None | Some(Fault::Pass) => request.await,
            Some(Fault::Refuse) => Err(object_store::Error::Generic {
                store: "FaultStore",
                source: "refused (an injected fault)".into(),
            }),
            Some(Fault::Before) => Err(timeout()),
            Some(Fault::After) => {
                request.await?;
                Err(timeout())
            }
            Some(Fault::Hold(gate)) => {
                gate.hold().await;
                request.await
            }
        }
    }
}

/// Whether the blob `location` is the one a fault names (a name ending in `/`: any
/// blob under it).
fn matches(location: &str, name: &str) -> bool {
    if let Some(dir) = name.strip_suffix('/') {
        // A listing's location is its prefix, without the slash.
        location.starts_with(name) || location == dir
    } else {
        location == name
    }
}

/// The error a request that timed out gets from an HTTP store.
fn timeout() -> object_store::Error {
    #[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
    let source: Box<dyn std::error::Error + Send + Sync> =
        Box::new(object_store::client::HttpError::new(
            object_store::client::HttpErrorKind::Timeout,
            std::io::Error::from(std::io::ErrorKind::TimedOut),
        ));
    #[cfg(not(any(feature = "s3", feature = "gcs", feature = "azure")))]
    let source: Box<dyn std::error::Error + Send + Sync> = "injected timeout".into();
    object_store::Error::Generic {
        store: "FaultStore",
        source,
    }
}

#[async_trait]
impl ObjectStore for FaultStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        mut opts: PutOptions,
    ) -> Result<PutResult> {
        if matches!(opts.mode, object_store::PutMode::Update(_))
            && self
                .ignore_updates
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            opts.mode = object_store::PutMode::Overwrite;
        }
        self.run(
            Op::Put,
            Some(location),
            self.inner.put_opts(location, payload, opts),
        )
        .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.run(
            Op::Put,
            Some(location),
            self.inner.put_multipart_opts(location, opts),
        )
        .await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let op = if options.head { Op::Head } else { Op::Get };
        self.run(op, Some(location), self.inner.get_opts(location, options))
            .await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        // Counted per location; faults are not applied to deletes here.
        let counts = std::sync::Arc::clone(&self.counts);
        self.inner
            .delete_stream(locations)
            .inspect(move |_| counts.lock().unwrap().delete += 1)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        // Only a hold applies to a listing here: the listing is taken once the gate opens.
        if let Some(Fault::Hold(gate)) = self.arrive(Op::List, prefix) {
            let (inner, prefix) = (self.inner.clone(), prefix.cloned());
            return futures::stream::once(async move {
                gate.hold().await;
                inner.list(prefix.as_ref())
            })
            .flatten()
            .boxed();
        }
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.run(Op::List, None, self.inner.list_with_delimiter(prefix))
            .await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.run(Op::Put, Some(to), self.inner.copy_opts(from, to, options))
            .await
    }
}

/// A "machine" on `store`: a repository with its own in-memory index on the shared
/// store (remote, so refs, projects and records live in it).
pub fn machine(store: &std::sync::Arc<FaultStore>) -> crate::Repository {
    let backend = super::ObjectStoreBackend::new(
        store.clone(),
        Path::default(),
        "fault://".into(),
        tokio::runtime::Handle::current(),
    )
    .with_parallel_reads(4);
    crate::Repository::on_backend(crate::RepoConfig::default(), std::sync::Arc::new(backend))
}
