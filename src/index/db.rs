//! The index handle. Every method is synchronous; callers run it off the async runtime.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{
    ConcurrencyMode, Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable,
    ReadableTableMetadata, WriteTransaction,
};

use super::error::IndexError;
use super::records::{ObjectLocation, PackRecord, StatRecord};
use super::tables::{
    CHECKPOINT_SEQ, CHECKPOINTS, CONDEMNED, DELETING, IDENTITY, META, NAMES, OBJECTS, PACKS,
    PENDING_PACKS, REFS, STAT_CACHE, WORKTREES, WRITERS,
};
use super::writers::release_in;
use crate::error::ItemKind;

type Result<T, E = IndexError> = std::result::Result<T, E>;
use crate::hash::{CommitId, Hash, PackId, TreeId};
use crate::store::WrittenPack;

const HEAD: &str = "HEAD";
const NEXT_SEQ: &str = "next-checkpoint-seq";
const REBUILT: &str = "rebuilt";

/// The repository index.
#[derive(Debug)]
pub struct Index {
    // Shared for every transaction; exclusive only to compact the file.
    db: std::sync::RwLock<Database>,
    pub(super) writes: std::sync::atomic::AtomicU64,
}

/// One row of the checkpoint list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointRow {
    /// Creation order.
    pub seq: u64,
    /// The commit.
    pub id: CommitId,
}

/// Everything a checkpoint publishes, in one transaction.
#[derive(Debug)]
pub struct NewCheckpoint<'a> {
    /// Packs written for it (already durable).
    pub packs: &'a [WrittenPack],
    /// The commit; its object is in `packs` or already indexed.
    pub commit: CommitId,
    /// HEAD as it was when the commit was built: compare-and-swap.
    pub expect_head: Option<CommitId>,
    /// Its name, unique.
    pub name: Option<&'a str>,
    /// Stat cache rows to record, by absolute path.
    pub stats: &'a [(String, StatRecord)],
    /// The directory it was taken from and its tree.
    pub worktree: Option<(&'a str, TreeId)>,
    /// The writer's pin, released in the same transaction.
    pub pin: u64,
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn open_all(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(OBJECTS)?;
    txn.open_table(PACKS)?;
    txn.open_table(REFS)?;
    txn.open_table(CHECKPOINTS)?;
    txn.open_table(CHECKPOINT_SEQ)?;
    txn.open_table(NAMES)?;
    txn.open_table(STAT_CACHE)?;
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
    Ok(())
}

/// A consistent read view for many lookups (dedup checks, stat cache).
pub struct IndexSnapshot {
    objects: ReadOnlyTable<[u8; 32], &'static [u8]>,
    stats: ReadOnlyTable<&'static str, &'static [u8]>,
    /// Packs a GC plan condemned: their objects do not count as stored for dedup.
    condemned: std::collections::HashSet<PackId>,
}

impl std::fmt::Debug for IndexSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexSnapshot")
    }
}

impl IndexSnapshot {
    /// Where an object is stored, if it is indexed.
    pub fn location(&self, id: &Hash) -> Result<Option<ObjectLocation>> {
        self.objects
            .get(id.as_bytes())?
            .map(|v| ObjectLocation::decode(v.value()))
            .transpose()
    }

    /// Whether a writer may rely on an object being stored: it is indexed, in a pack no
    /// GC plan has condemned. An object only in a condemned pack is stored again.
    pub fn contains(&self, id: &Hash) -> Result<bool> {
        Ok(self
            .location(id)?
            .is_some_and(|loc| !self.condemned.contains(&loc.pack)))
    }

    /// The stat cache row of an absolute path.
    pub fn stat(&self, path: &str) -> Result<Option<StatRecord>> {
        self.stats
            .get(path)?
            .map(|v| StatRecord::decode(v.value()))
            .transpose()
    }
}

const REPOSITORY_ID: &str = "repository-id";

impl Index {
    /// Creates a new index file for the repository `id`, shareable with other processes.
    pub fn create(path: &Path, id: &[u8]) -> Result<Index> {
        let mut builder = Database::builder();
        builder.set_concurrency_mode(ConcurrencyMode::MultiWriter);
        let index = Self::init(builder.create(path)?)?;
        index.set_repository_id(id)?;
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
        let txn = self.read()?;
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
        let txn = self.read()?;
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

    /// Indexes packs found on the backend (a rebuild).
    pub fn add_rebuilt_packs(&self, packs: &[WrittenPack]) -> Result<()> {
        self.write(|txn| insert_packs(txn, packs))
    }

    /// Records recovered checkpoints, oldest first, with their names (a name already
    /// taken stays with the older one); HEAD becomes the last.
    pub fn add_rebuilt_checkpoints(&self, commits: &[(CommitId, Option<String>)]) -> Result<()> {
        self.write(|txn| {
            let mut names = txn.open_table(NAMES)?;
            for (id, name) in commits {
                let seq = next_seq(txn)?;
                txn.open_table(CHECKPOINTS)?.insert(seq, id.0.as_bytes())?;
                txn.open_table(CHECKPOINT_SEQ)?
                    .insert(id.0.as_bytes(), seq)?;
                if let Some(name) = name
                    && names.get(name.as_str())?.is_none()
                {
                    names.insert(name.as_str(), id.0.as_bytes())?;
                }
            }
            if let Some((head, _)) = commits.last() {
                txn.open_table(REFS)?.insert(HEAD, head.0.as_bytes())?;
            }
            Ok(())
        })
    }

    /// Whether the index records any data: packs or checkpoints.
    pub fn is_empty(&self) -> Result<bool> {
        let txn = self.read()?;
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

    /// Returns free pages to the filesystem. Best effort: `false` when a transaction
    /// (of this or another process) is in the way.
    pub fn compact(&self) -> bool {
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

    fn read(&self) -> Result<ReadTransaction> {
        self.begin_read()
    }

    /// Runs `f` in one write transaction and commits it if `f` succeeds. `f`'s error type
    /// is the caller's (an index error converts into it).
    pub(super) fn write<T, E: From<IndexError>>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T, E>,
    ) -> Result<T, E> {
        let txn = self.db().begin_write().map_err(IndexError::from)?;
        let out = f(&txn)?;
        txn.commit().map_err(IndexError::from)?;
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(out)
    }

    /// A read view for many lookups.
    pub fn snapshot(&self) -> Result<IndexSnapshot> {
        let txn = self.read()?;
        let mut condemned = std::collections::HashSet::new();
        for row in txn.open_table(CONDEMNED)?.iter()? {
            condemned.insert(PackId(Hash::from_bytes(row?.0.value())));
        }
        Ok(IndexSnapshot {
            objects: txn.open_table(OBJECTS)?,
            stats: txn.open_table(STAT_CACHE)?,
            condemned,
        })
    }

    /// Where an object is stored, if it is indexed.
    pub fn location(&self, id: &Hash) -> Result<Option<ObjectLocation>> {
        self.snapshot()?.location(id)
    }

    /// The current HEAD checkpoint.
    pub fn head(&self) -> Result<Option<CommitId>> {
        let txn = self.read()?;
        let refs = txn.open_table(REFS)?;
        Ok(refs
            .get(HEAD)?
            .map(|v| CommitId(Hash::from_bytes(v.value()))))
    }

    /// Every live checkpoint, in creation order.
    pub fn checkpoints(&self) -> Result<Vec<CheckpointRow>> {
        let txn = self.read()?;
        let table = txn.open_table(CHECKPOINTS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push(CheckpointRow {
                seq: k.value(),
                id: CommitId(Hash::from_bytes(v.value())),
            });
        }
        Ok(out)
    }

    /// Whether `id` is a live (not deleted) checkpoint.
    pub fn is_checkpoint(&self, id: &CommitId) -> Result<bool> {
        let txn = self.read()?;
        Ok(txn
            .open_table(CHECKPOINT_SEQ)?
            .get(id.0.as_bytes())?
            .is_some())
    }

    /// The checkpoint carrying `name`.
    pub fn named(&self, name: &str) -> Result<Option<CommitId>> {
        let txn = self.read()?;
        let names = txn.open_table(NAMES)?;
        Ok(names
            .get(name)?
            .map(|v| CommitId(Hash::from_bytes(v.value()))))
    }

    /// The tree last checkpointed or restored in `dir` (absolute).
    pub fn worktree(&self, dir: &str) -> Result<Option<TreeId>> {
        let txn = self.read()?;
        let table = txn.open_table(WORKTREES)?;
        Ok(table.get(dir)?.map(|v| TreeId(Hash::from_bytes(v.value()))))
    }

    /// Every worktree's tree (GC roots).
    pub fn worktrees(&self) -> Result<Vec<(String, TreeId)>> {
        let txn = self.read()?;
        let table = txn.open_table(WORKTREES)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((k.value().to_owned(), TreeId(Hash::from_bytes(v.value()))));
        }
        Ok(out)
    }

    /// Publishes a checkpoint: packs, objects, the checkpoint row, name, HEAD, stat cache
    /// and worktree, atomically. Fails with `Conflict` if HEAD moved since the commit was
    /// built, and with `AlreadyExists` if the name is taken; nothing is written then.
    pub fn publish_checkpoint(&self, new: &NewCheckpoint<'_>) -> Result<u64> {
        self.write(|txn| {
            let mut refs = txn.open_table(REFS)?;
            let head = refs
                .get(HEAD)?
                .map(|v| CommitId(Hash::from_bytes(v.value())));
            if head != new.expect_head {
                return Err(IndexError::Conflict(
                    "another checkpoint was made meanwhile".into(),
                ));
            }
            let mut names = txn.open_table(NAMES)?;
            if let Some(name) = new.name {
                if names.get(name)?.is_some() {
                    return Err(IndexError::Exists {
                        kind: ItemKind::Checkpoint,
                        id: name.to_owned(),
                    });
                }
                names.insert(name, new.commit.0.as_bytes())?;
            }
            insert_packs(txn, new.packs)?;
            let seq = next_seq(txn)?;
            txn.open_table(CHECKPOINTS)?
                .insert(seq, new.commit.0.as_bytes())?;
            txn.open_table(CHECKPOINT_SEQ)?
                .insert(new.commit.0.as_bytes(), seq)?;
            refs.insert(HEAD, new.commit.0.as_bytes())?;
            put_stats(txn, new.stats)?;
            if let Some((dir, tree)) = new.worktree {
                txn.open_table(WORKTREES)?.insert(dir, tree.0.as_bytes())?;
            }
            release_in(txn, new.pin)?;
            Ok(seq)
        })
    }

    /// Deletes a checkpoint: its row and any name pointing at it. If it was HEAD, HEAD
    /// moves to the newest remaining checkpoint. The commit object stays until `gc`
    /// finds nothing else needs it; children keep it as their parent, for lineage.
    pub fn delete_checkpoint(&self, id: CommitId) -> Result<()> {
        self.write(|txn| {
            let mut seqs = txn.open_table(CHECKPOINT_SEQ)?;
            let Some(seq) = seqs.remove(id.0.as_bytes())?.map(|v| v.value()) else {
                return Err(IndexError::Missing {
                    kind: ItemKind::Checkpoint,
                    id: id.short(),
                });
            };
            let mut rows = txn.open_table(CHECKPOINTS)?;
            rows.remove(seq)?;
            txn.open_table(NAMES)?
                .retain(|_, v| v != *id.0.as_bytes())?;
            let mut refs = txn.open_table(REFS)?;
            let is_head = refs
                .get(HEAD)?
                .is_some_and(|v| v.value() == *id.0.as_bytes());
            if is_head {
                let newest = rows.last()?.map(|(_, v)| v.value());
                match newest {
                    Some(newest) => refs.insert(HEAD, newest)?,
                    None => refs.remove(HEAD)?,
                };
            }
            Ok(())
        })
    }

    /// Records a restore into `dir`: its tracked tree, the stat rows of what was written,
    /// and optionally a new HEAD.
    pub fn record_restore(
        &self,
        dir: &str,
        tree: TreeId,
        head: Option<CommitId>,
        stats: &[(String, StatRecord)],
    ) -> Result<()> {
        self.write(|txn| {
            txn.open_table(WORKTREES)?.insert(dir, tree.0.as_bytes())?;
            if let Some(head) = head {
                txn.open_table(REFS)?.insert(HEAD, head.0.as_bytes())?;
            }
            put_stats(txn, stats)
        })
    }

    /// Every indexed object.
    pub fn objects(&self) -> Result<Vec<(Hash, ObjectLocation)>> {
        let txn = self.read()?;
        let table = txn.open_table(OBJECTS)?;
        let mut out = Vec::with_capacity(table.len()? as usize);
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((
                Hash::from_bytes(k.value()),
                ObjectLocation::decode(v.value())?,
            ));
        }
        Ok(out)
    }

    /// Every indexed pack.
    pub fn packs(&self) -> Result<Vec<(PackId, PackRecord)>> {
        let txn = self.read()?;
        let table = txn.open_table(PACKS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((
                PackId(Hash::from_bytes(k.value())),
                PackRecord::decode(v.value())?,
            ));
        }
        Ok(out)
    }
}

fn next_seq(txn: &WriteTransaction) -> Result<u64> {
    let mut meta = txn.open_table(META)?;
    let seq = meta.get(NEXT_SEQ)?.map_or(1, |v| v.value());
    meta.insert(NEXT_SEQ, seq + 1)?;
    Ok(seq)
}

fn put_stats(txn: &WriteTransaction, stats: &[(String, StatRecord)]) -> Result<()> {
    let mut table = txn.open_table(STAT_CACHE)?;
    for (path, rec) in stats {
        table.insert(path.as_str(), rec.encode().as_slice())?;
    }
    Ok(())
}

/// Indexes packs: their rows, their objects' locations, and the end of their
/// announcements.
pub(super) fn insert_packs(txn: &WriteTransaction, packs: &[WrittenPack]) -> Result<()> {
    let mut objects = txn.open_table(OBJECTS)?;
    let mut pack_table = txn.open_table(PACKS)?;
    let mut pending = txn.open_table(PENDING_PACKS)?;
    let condemned = txn.open_table(CONDEMNED)?;
    let created_s = now_s();
    for pack in packs {
        pending.remove(pack.id.0.as_bytes())?;
        let rec = PackRecord {
            size: pack.size,
            objects: pack.entries.len() as u32,
            created_s,
        };
        pack_table.insert(pack.id.0.as_bytes(), rec.encode().as_slice())?;
        for e in &pack.entries {
            let loc = ObjectLocation {
                pack: pack.id,
                offset: e.offset,
                stored_len: e.stored_len,
                raw_len: e.raw_len,
                kind: e.kind,
                compression: e.compression,
            };
            // A fresh write of a known object keeps the old copy, unless that copy is in a
            // pack that is gone or condemned (a repack, or a writer that would not rely
            // on a condemned pack and stored the object again).
            let old = objects
                .get(e.id.as_bytes())?
                .map(|v| ObjectLocation::decode(v.value()))
                .transpose()?;
            let moved = match old {
                None => true,
                Some(old) => {
                    let key = old.pack.0.as_bytes();
                    pack_table.get(key)?.is_none() || condemned.get(key)?.is_some()
                }
            };
            if moved {
                objects.insert(e.id.as_bytes(), loc.encode().as_slice())?;
            }
        }
    }
    Ok(())
}
