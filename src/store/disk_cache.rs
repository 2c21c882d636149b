//! Pack blocks kept on local disk between processes, with a size bound.
//!
//! A block's file holds the BLAKE3 of its bytes, then the bytes; a file that is short or
//! does not hash to what it says (a torn write, bit rot, a hand edit) is deleted and
//! read as a miss, so the cache can never return other bytes than the store holds.
//! Files are written to a temporary name and renamed (no fsync: a lost write is only a
//! miss). When the files pass the bound, the least recently used go until a fifth is
//! free (a read refreshes a file's modification time). Several processes may share one
//! directory: one deleting a file another is about to read only makes that a miss.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::Bytes;

/// The default bound of a repository's disk cache.
pub const DEFAULT_DISK_CACHE_BYTES: u64 = 1 << 30;

const HASH_LEN: usize = 32;

/// A directory of cached blocks.
#[derive(Debug)]
pub struct DiskBlocks {
    dir: PathBuf,
    bound: u64,
    /// Bytes the directory holds, as far as this process knows.
    used: Mutex<u64>,
}

impl DiskBlocks {
    /// Opens (creating) the cache in `dir`, bounded to `bound` bytes. `None` if the
    /// directory cannot be made: the cache is an optimisation, never a failure.
    #[must_use]
    pub fn open(dir: &Path, bound: u64) -> Option<DiskBlocks> {
        if let Err(e) = fs::create_dir_all(dir) {
            tracing::warn!("no pack cache in {}: {e}", dir.display());
            return None;
        }
        let used = files(dir).iter().map(|(_, len, _)| len).sum();
        Some(DiskBlocks {
            dir: dir.to_path_buf(),
            bound,
            used: Mutex::new(used),
        })
    }

    fn path(&self, pack: &str, index: u64) -> PathBuf {
        let shard = pack.get(..2).unwrap_or("xx");
        self.dir.join(shard).join(format!("{pack}-{index}.blk"))
    }

    /// A block, if cached and intact.
    pub fn get(&self, pack: &str, index: u64) -> Option<Bytes> {
        let path = self.path(pack, index);
        let bytes = fs::read(&path).ok()?;
        let intact = bytes.len() >= HASH_LEN
            && blake3::hash(&bytes[HASH_LEN..]).as_bytes()[..] == bytes[..HASH_LEN];
        if !intact {
            tracing::warn!("dropping a damaged cached block {}", path.display());
            let _ = fs::remove_file(&path);
            return None;
        }
        if let Ok(f) = fs::File::options().write(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(Bytes::from(bytes).slice(HASH_LEN..))
    }

    /// Keeps a block; failures are only logged.
    pub fn put(&self, pack: &str, index: u64, block: &[u8]) {
        let path = self.path(pack, index);
        if let Err(e) = self.write(&path, block) {
            tracing::debug!("cannot cache {}: {e}", path.display());
            return;
        }
        let over = {
            let mut used = self
                .used
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *used += (HASH_LEN + block.len()) as u64;
            *used > self.bound
        };
        if over {
            self.evict();
        }
    }

    fn write(&self, path: &Path, block: &[u8]) -> std::io::Result<()> {
        let parent = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent)?;
        let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
        tmp.write_all(blake3::hash(block).as_bytes())?;
        tmp.write_all(block)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Deletes the least recently used blocks until a fifth of the bound is free.
    fn evict(&self) {
        let mut all = files(&self.dir);
        all.sort_by_key(|(_, _, used)| *used);
        let mut total: u64 = all.iter().map(|(_, len, _)| len).sum();
        let target = self.bound - self.bound / 5;
        for (path, len, _) in all {
            if total <= target {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
        *self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = total;
    }

    /// Forgets every block of a pack (it was deleted).
    pub fn forget(&self, pack: &str) {
        let Some(shard) = pack.get(..2) else { return };
        let Ok(entries) = fs::read_dir(self.dir.join(shard)) else {
            return;
        };
        let prefix = format!("{pack}-");
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Every block file below `dir`: path, length, last use.
fn files(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let mut out = Vec::new();
    let Ok(shards) = fs::read_dir(dir) else {
        return out;
    };
    for shard in shards.flatten() {
        let Ok(entries) = fs::read_dir(shard.path()) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(meta) = e.metadata()
                && meta.is_file()
            {
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                out.push((e.path(), meta.len(), used));
            }
        }
    }
    out
}
