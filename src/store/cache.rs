//! A read cache for stores where every request costs a round trip (object stores).
//!
//! Small object reads — the objects of small files, trees, manifests — are served from
//! aligned blocks of [`BLOCK`] bytes fetched once: restoring a tree of thousands of small
//! files costs one GET per block of its packs instead of one per object. Reads of more
//! than half a block go to the store as they are (they are efficient already). Blocks
//! are kept in memory up to a size bound; a block being fetched is fetched once, the
//! other threads that need it wait for it. With a repository directory, blocks are also
//! kept on disk (`.reel/cache/packs/`, see [`DiskBlocks`]), so the next process reads
//! them locally. Packs are immutable and content-named, so a cached block is never
//! stale; every object read from one is still verified against its id by the engine.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use super::backend::{BlobBackend, BlobMeta, Created, Swapped, Version};
use super::disk_cache::DiskBlocks;
use super::error::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// The block size: one GET of a pack fetches this much (or the rest of the pack).
pub const BLOCK: u64 = 1 << 20;

/// How many blob lengths are remembered.
const SIZES: usize = 4096;

/// The default bound of the cached blocks.
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

#[derive(Clone)]
struct ByLength;

impl Weighter<(String, u64), Bytes> for ByLength {
    fn weight(&self, _key: &(String, u64), block: &Bytes) -> u64 {
        block.len() as u64
    }
}

/// A [`BlobBackend`] that serves small object reads ([`BlobBackend::get_object`]) from
/// cached blocks of the one it wraps; everything else passes through.
pub struct ReadCache {
    inner: Arc<dyn BlobBackend>,
    blocks: Cache<(String, u64), Bytes, ByLength>,
    /// Blob lengths looked up so far (blobs are immutable), each looked up once.
    sizes: Cache<String, u64>,
    /// Blocks kept on disk between processes, if the repository has a directory.
    disk: Option<DiskBlocks>,
}

impl fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadCache")
            .field("inner", &self.inner)
            .field("cached_bytes", &self.blocks.weight())
            .finish_non_exhaustive()
    }
}

impl ReadCache {
    /// Wraps `inner`, keeping at most `bytes` of blocks.
    #[must_use]
    pub fn new(inner: Arc<dyn BlobBackend>, bytes: u64) -> Self {
        let items = usize::try_from((bytes / BLOCK).max(1)).unwrap_or(usize::MAX);
        ReadCache {
            inner,
            blocks: Cache::with_weighter(items, bytes.max(BLOCK), ByLength),
            sizes: Cache::new(SIZES),
            disk: None,
        }
    }

    /// Also keeps blocks on disk, in `disk` (shared by every process of the repository).
    #[must_use]
    pub fn with_disk(mut self, disk: Option<DiskBlocks>) -> Self {
        self.disk = disk;
        self
    }

    fn blob_size(&self, name: &str) -> Result<u64> {
        self.sizes.get_or_insert_with(name, || {
            self.inner
                .size(name)?
                .ok_or_else(|| StoreError::NotFound { name: name.into() })
        })
    }

    fn block(&self, name: &str, index: u64, size: u64) -> Result<Bytes> {
        let key = (name.to_owned(), index);
        self.blocks.get_or_insert_with(&key, || {
            let pack = pack_hex(name);
            if let (Some(disk), Some(pack)) = (&self.disk, pack)
                && let Some(block) = disk.get(pack, index)
            {
                return Ok(block);
            }
            let start = index * BLOCK;
            let block = self
                .inner
                .get_range(name, start..(start + BLOCK).min(size))?;
            if let (Some(disk), Some(pack)) = (&self.disk, pack) {
                disk.put(pack, index, &block);
            }
            Ok(block)
        })
    }
}

impl BlobBackend for ReadCache {
    fn create(&self, name: &str, bytes: Bytes) -> Result<Created> {
        self.inner.create(name, bytes)
    }

    fn get(&self, name: &str) -> Result<Bytes> {
        self.inner.get(name)
    }

    fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        self.inner.get_range(name, range)
    }

    fn get_object(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        if range.is_empty() || range.end - range.start > BLOCK / 2 {
            return self.inner.get_range(name, range);
        }
        let size = self.blob_size(name)?;
        if range.end > size {
            // Past the end: let the store say what is wrong.
            return self.inner.get_range(name, range);
        }
        let (first, last) = (range.start / BLOCK, (range.end - 1) / BLOCK);
        let mut out = BytesMut::with_capacity((range.end - range.start) as usize);
        for index in first..=last {
            let block = self.block(name, index, size)?;
            let base = index * BLOCK;
            if block.len() as u64 != BLOCK.min(size - base) {
                // The store returned a block of the wrong length: read exactly what
                // was asked, and let the engine judge it.
                self.blocks.remove(&(name.to_owned(), index));
                if let (Some(disk), Some(pack)) = (&self.disk, pack_hex(name)) {
                    disk.forget(pack);
                }
                return self.inner.get_range(name, range);
            }
            let from = (range.start.max(base) - base) as usize;
            let to = (range.end.min(base + BLOCK) - base) as usize;
            out.extend_from_slice(&block[from..to]);
        }
        // A copy, so that an evicted block is freed even while its objects are in use.
        Ok(out.freeze())
    }

    fn size(&self, name: &str) -> Result<Option<u64>> {
        self.inner.size(name)
    }

    fn delete(&self, name: &str) -> Result<()> {
        self.sizes.remove(name);
        if let (Some(disk), Some(pack)) = (&self.disk, pack_hex(name)) {
            disk.forget(pack);
        }
        self.inner.delete(name)
    }

    fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>> {
        self.inner.list(prefix)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn parallel_reads(&self) -> Option<usize> {
        self.inner.parallel_reads()
    }

    fn shared(&self) -> bool {
        self.inner.shared()
    }

    fn get_versioned(&self, name: &str) -> Result<Option<(Bytes, Version)>> {
        self.inner.get_versioned(name)
    }

    fn replace(&self, name: &str, bytes: Bytes) -> Result<()> {
        self.inner.replace(name, bytes)
    }

    fn swap(&self, name: &str, bytes: Bytes, expected: Option<&Version>) -> Result<Swapped> {
        self.inner.swap(name, bytes, expected)
    }
}

/// The hex name of a pack blob (`packs/<hex>.pack`), the key of its blocks on disk.
fn pack_hex(name: &str) -> Option<&str> {
    name.strip_prefix("packs/")?.strip_suffix(".pack")
}
