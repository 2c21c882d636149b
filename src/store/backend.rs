//! The blob backend contract: immutable named blobs, written once.

use std::fmt::Debug;
use std::ops::Range;
use std::time::SystemTime;

use bytes::Bytes;

use super::error::StoreError;
use super::pack_files::PackFiles;

type Result<T> = std::result::Result<T, StoreError>;
use crate::hash::PackId;

/// One stored blob, as listed.
#[derive(Debug, Clone)]
pub struct BlobMeta {
    /// Its name, e.g. `packs/3fa2….pack`.
    pub name: String,
    /// Its length in bytes.
    pub size: u64,
    /// When it was last written.
    pub modified: SystemTime,
    /// Its `ETag`, on stores that have them: a changed tag means changed bytes.
    pub e_tag: Option<String>,
}

/// What [`BlobBackend::create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The blob was written.
    New,
    /// A blob of that name was already there and was left alone.
    Existed,
}

/// The version of a mutable blob that a compare-and-swap expects: the store's `ETag`
/// and object version, as a read returned them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The `ETag`.
    pub e_tag: Option<String>,
    /// The object version, on stores that keep versions.
    pub version: Option<String>,
}

/// What [`BlobBackend::swap`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swapped {
    /// The blob now holds the new bytes.
    Done,
    /// The blob was not at the expected version (or, for a create, existed): nothing
    /// was written.
    Conflict,
}

/// Storage for immutable, content-named blobs (packs).
///
/// The engine is synchronous; implementations over async stores bridge with a runtime
/// handle. Every method must be safe to call from many threads at once.
pub trait BlobBackend: Send + Sync + Debug {
    /// Stores `bytes` under `name` durably, unless a blob of that name exists, and says
    /// which happened. Must not return before the bytes are on stable storage. A store
    /// that ignores conditional writes reports `New` and overwrites (the init probe
    /// detects that).
    fn create(&self, name: &str, bytes: Bytes) -> Result<Created>;
    /// [`create`](Self::create) for content-named blobs: an existing blob of that name
    /// holds the same bytes, so either outcome is success.
    fn put(&self, name: &str, bytes: Bytes) -> Result<()> {
        self.create(name, bytes).map(drop)
    }
    /// Reads a whole blob.
    fn get(&self, name: &str) -> Result<Bytes>;
    /// Reads `range` of a blob.
    fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes>;
    /// Reads `range` of a pack that holds one object the engine is about to use: a
    /// caching backend may serve it from (and fetch) a larger block, as neighbouring
    /// objects are likely to be read next. Other reads (trailers, probes) use
    /// [`get_range`](Self::get_range) and fetch only what they ask for.
    fn get_object(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        self.get_range(name, range)
    }
    /// The length of a blob, or `None` if there is no blob of that name.
    fn size(&self, name: &str) -> Result<Option<u64>>;
    /// Deletes a blob; deleting a missing blob is not an error.
    fn delete(&self, name: &str) -> Result<()>;
    /// Lists every blob whose name starts with `prefix`.
    fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>>;
    /// A short description for `reel stats`, e.g. `file:///srv/repo/packs`.
    fn describe(&self) -> String;
    /// How many reads to keep in flight when many are needed (a restore), for a store
    /// where each request waits on a round trip; `None` for local storage, where the
    /// default (one per core) is right.
    fn parallel_reads(&self) -> Option<usize> {
        None
    }
    /// The files of a local directory backend, where a writer can build a pack in a
    /// staging file and link it under its name instead of holding it in memory for
    /// [`put`](Self::put); `None` for every other store.
    fn pack_files(&self) -> Option<&PackFiles> {
        None
    }
    /// Whether several machines may share this backend, so that refs and checkpoint
    /// records live in it (`refs/HEAD`, `checkpoints/`, `forgotten/`): the cloud stores.
    /// Local storage belongs to one repository directory, whose index holds its refs.
    fn shared(&self) -> bool {
        false
    }
    /// Reads a mutable blob with its version, `None` if there is none. Only backends
    /// that can [`swap`](Self::swap) support it.
    fn get_versioned(&self, name: &str) -> Result<Option<(Bytes, Version)>> {
        Err(StoreError::Unsupported {
            op: "versioned read",
            name: name.to_owned(),
            backend: self.describe(),
        })
    }
    /// Writes `bytes` under `name` whatever is there (a blob only one writer ever
    /// changes, such as a render job's status on the machine that runs it). Only
    /// backends that can [`swap`](Self::swap) support it.
    fn replace(&self, name: &str, bytes: Bytes) -> Result<()> {
        let _ = bytes;
        Err(StoreError::Unsupported {
            op: "overwrite",
            name: name.to_owned(),
            backend: self.describe(),
        })
    }
    /// Compare-and-swap: writes `bytes` under `name` if the blob is at version
    /// `expected`, or, with `None`, if there is no such blob. A store that ignores the
    /// condition reports `Done` (the init probe detects that).
    fn swap(&self, name: &str, bytes: Bytes, expected: Option<&Version>) -> Result<Swapped> {
        let _ = (bytes, expected);
        Err(StoreError::Unsupported {
            op: "conditional update",
            name: name.to_owned(),
            backend: self.describe(),
        })
    }
}

/// Where each machine that uses a shared backend records itself (`machines/<32 hex>`),
/// so that gc knows when it cannot see every writer's references.
pub const MACHINES_PREFIX: &str = "machines/";

/// The blob name of a pack.
#[must_use]
pub fn pack_name(id: &PackId) -> String {
    format!("packs/{}.pack", id.0.to_hex())
}

/// The pack id in a blob name written by [`pack_name`], if it is one.
#[must_use]
pub fn parse_pack_name(name: &str) -> Option<PackId> {
    let hex = name.strip_prefix("packs/")?.strip_suffix(".pack")?;
    hex.parse().ok().map(PackId)
}
