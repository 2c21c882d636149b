//! The index handle. Every method is synchronous; callers run it off the async runtime.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{
    ConcurrencyMode, Database, ReadTransaction, ReadableDatabase, ReadableTable,
    ReadableTableMetadata, WriteTransaction,
};

use super::error::IndexError;
use super::tables::{
    CHECKPOINT_SEQ, CHECKPOINTS, CONDEMNED, DELETING, IDENTITY, META, NAMES, OBJECTS, PACKS,
    PENDING_PACKS, REFS, STAT_CACHE, WORKTREES, WRITERS,
};

type Result<T, E = IndexError> = std::result::Result<T, E>;

const REBUILT: &str = "rebuilt";

/// The repository index.
#[derive(Debug)]
pub struct Index {
    // Shared for every transaction; exclusive only to compact the file.
    db: std::sync::RwLock<Database>,
    pub(super) writes: std::sync::atomic::AtomicU64,
}

pub(super) fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn open_all(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(OBJECTS)?;
    txn.open_table(super::tables::PACK_IDS)?;
    txn.open_table(super::tables::PACK_NUMBERS)?;
    super::pack_numbers::migrate(txn)?;
    txn.open_table(PACKS)?;
    txn.open_table(REFS)?;
    txn.open_table(CHECKPOINTS)?;
    txn.open_table(CHECKPOINT_SEQ)?;
    txn.open_table(NAMES)?;
    txn.open_table(STAT_CACHE)?;
    txn.delete_table(super::tables::STAT_CACHE_0)?;
    super::stat_v2::migrate(txn)?;
    super::stat_v1::migrate(txn)?;
    txn.open_table(WORKTREES)?;
    txn.open_table(WRITERS)?;
    txn.open_table(PENDING_PACKS)?;
    txn.open_table(CONDEMNED)?;
    txn.open_table(DELETING)?;
    txn.open_table(IDENTITY)?;
    txn.open_table(META)?;
    txn.open_table(super::tables::PROJECTS)?;
    txn.open_table(super::tables::OVERLAY)?;
    txn.open_table(super::tables::PROJECT_CHECKPOINTS)?;
    txn.open_table(super::tables::PROJECT_CHECKPOINT_KEYS)?;
    txn.open_table(super::tables::PROJECT_NAMES)?;
    txn.open_table(super::tables::BLOB_RECORDS)?;
    txn.open_table(super::tables::RENDER_MEMO)?;
    txn.open_table(super::tables::RENDER_JOBS)?;
    txn.open_table(super::tables::SHARED_PROJECTS)?;
    txn.open_table(super::tables::SEGMENTS)?;
    txn.open_table(super::tables::TAGS)?;
    Ok(())
}

const REPOSITORY_ID: &str = "repository-id";

impl Index {
    /// Creates a new index file for the repository `id`, shareable with other processes.
    pub fn create(path: &Path, id: &[u8]) -> Result<Index> {
        let mut builder = Database::builder();
        builder.set_concurrency_mode(ConcurrencyMode::MultiWriter);
        let index = Self::init(builder.create(path)?)?;
        index.set_repository_id(id)?;
        index.write(super::stat_trust::init)?;
        Ok(index)
    }

    /// Opens an existing index file, shareable with other processes. A missing, empty
    /// or unreadable file is an error, never a new empty index: an index that looks
    /// empty next to existing packs would let `gc` delete them.
    pub fn open(path: &Path) -> Result<Index> {
        let unusable = |reason: String| IndexError::Unusable {
            path: path.to_path_buf(),
            reason,
        };
        match std::fs::metadata(path) {
            Ok(m) if m.len() == 0 => return Err(unusable("empty".into())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(unusable("missing".into()));
            }
            Err(source) => {
                return Err(IndexError::Io {
                    op: "stat",
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        let mut builder = Database::builder();
        builder.set_concurrency_mode(ConcurrencyMode::MultiWriter);
        let db = builder
            .open(path)
            .map_err(|e| unusable(format!("unreadable ({e})")))?;
        Self::init(db)
    }

    /// The id of the repository this index was created for (`None`: an index written
    /// before ids existed, or one that was never initialized).
    pub fn repository_id(&self) -> Result<Option<Vec<u8>>> {
        let txn = self.begin_read()?;
        Ok(txn
            .open_table(IDENTITY)?
            .get(REPOSITORY_ID)?
            .map(|v| v.value().to_vec()))
    }

    /// Records the repository id (at init, or when an older index is upgraded).
    pub fn set_repository_id(&self, id: &[u8]) -> Result<()> {
        self.write(|txn| {
            txn.open_table(IDENTITY)?.insert(REPOSITORY_ID, id)?;
            Ok(())
        })
    }

    /// Records `candidate` as the repository id unless one is recorded; returns the id
    /// recorded now (one transaction, so concurrent upgrades agree).
    pub fn ensure_repository_id(&self, candidate: &[u8]) -> Result<Vec<u8>> {
        self.write(|txn| {
            let mut t = txn.open_table(IDENTITY)?;
            if let Some(v) = t.get(REPOSITORY_ID)? {
                return Ok(v.value().to_vec());
            }
            t.insert(REPOSITORY_ID, candidate)?;
            Ok(candidate.to_vec())
        })
    }

    /// Whether this index was rebuilt from the packs and not yet collected with
    /// `gc --after-rebuild`.
    pub fn rebuilt(&self) -> Result<bool> {
        let txn = self.begin_read()?;
        Ok(txn
            .open_table(META)?
            .get(REBUILT)?
            .is_some_and(|v| v.value() != 0))
    }

    /// Sets or clears the rebuilt mark.
    pub fn set_rebuilt(&self, rebuilt: bool) -> Result<()> {
        self.write(|txn| {
            txn.open_table(META)?.insert(REBUILT, u64::from(rebuilt))?;
            Ok(())
        })
    }

    /// Whether the index records any data: packs or checkpoints.
    pub fn is_empty(&self) -> Result<bool> {
        let txn = self.begin_read()?;
        Ok(txn.open_table(PACKS)?.is_empty()? && txn.open_table(CHECKPOINTS)?.is_empty()?)
    }

    /// An index that lives in memory only.
    pub fn in_memory() -> Result<Index> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
        Self::init(db)
    }

    fn init(db: Database) -> Result<Index> {
        let txn = db.begin_write()?;
        open_all(&txn)?;
        txn.commit()?;
        Ok(Index {
            db: std::sync::RwLock::new(db),
            writes: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn db(&self) -> std::sync::RwLockReadGuard<'_, Database> {
        self.db
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Rewrites the object table and the stat cache in key order if their pages are
    /// sparse ([`Index::tighten_objects`], [`Index::tighten_stats`]), then returns free
    /// pages to the filesystem. Best
    /// effort: `false` when a transaction (of this or another process) is in the way.
    pub fn compact(&self) -> bool {
        if let Err(e) = self.tighten_objects() {
            tracing::warn!("the object table was left as it is: {e}");
        }
        if let Err(e) = self.tighten_stats() {
            tracing::warn!("the stat cache was left as it is: {e}");
        }
        let mut db = self
            .db
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut compacted = false;
        while let Ok(true) = db.compact() {
            compacted = true;
        }
        compacted
    }

    pub(super) fn begin_read(&self) -> Result<ReadTransaction> {
        Ok(self.db().begin_read()?)
    }

    /// Runs `f` in one write transaction and commits it if `f` succeeds. `f`'s error type
    /// is the caller's (an index error converts into it).
    pub(super) fn write<T, E: From<IndexError>>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T, E>,
    ) -> Result<T, E> {
        let txn = self.db().begin_write().map_err(IndexError::from)?;
        let out = {
            let _writing = Writing::enter();
            f(&txn)?
        };
        txn.commit().map_err(IndexError::from)?;
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(out)
    }
}

thread_local! {
    /// Write transactions open on this thread (a second would wait for the first).
    static WRITING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Marks this thread as inside a write transaction while it lives.
struct Writing;

impl Writing {
    fn enter() -> Writing {
        WRITING.with(|w| w.set(w.get() + 1));
        Writing
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        WRITING.with(|w| w.set(w.get() - 1));
    }
}

/// Whether this thread is inside a write transaction of an index (so that it must not
/// begin another: it would wait for itself).
#[must_use]
pub fn writing_here() -> bool {
    WRITING.with(|w| w.get() > 0)
}
