//! Decompressed solid blocks, kept for the reads that come next.
//!
//! Every member of a block is read from the whole block: a restore of 15,000 small
//! files, an fsck or a gc repack reads a block's members one after another, and
//! decompressing the block for each would cost its 256 KiB every time. A block is
//! named by its pack (whose name is the hash of its bytes) and offset, so an entry can
//! never hold other bytes than the pack.
//!
//! Each operation starts with an empty cache ([`super::on_engine`]): on a shared
//! bucket, a pack another machine's gc repacked and deleted is noticed by the next
//! operation that reads it (which then learns where its objects went, see
//! `engine::read`), not hidden behind a block kept from an earlier one.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::hash::PackId;

/// Blocks kept: about 8 MiB at most.
const BLOCKS: usize = 32;

/// Decompressed blocks by pack and offset, the most recently used first.
type Recent = VecDeque<((PackId, u64), Arc<Vec<u8>>)>;

/// Buffers of blocks the cache let go of, kept for the next decompressions.
const SPARE: usize = 8;

/// The most recently used decompressed blocks.
#[derive(Default)]
pub(crate) struct BlockCache {
    recent: Mutex<Recent>,
    /// Buffers of forgotten blocks: a decompression reuses one rather than allocating
    /// (see `object::block::decompress_into`).
    spare: Mutex<Vec<Vec<u8>>>,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache").finish_non_exhaustive()
    }
}

impl BlockCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The block at `offset` of `pack`, if kept (it becomes the most recent).
    pub(crate) fn get(&self, pack: &PackId, offset: u64) -> Option<Arc<Vec<u8>>> {
        let mut recent = self.lock();
        let at = recent.iter().position(|(k, _)| *k == (*pack, offset))?;
        let hit = recent.remove(at).expect("found just above");
        let block = Arc::clone(&hit.1);
        recent.push_front(hit);
        Some(block)
    }

    /// Forgets every block.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// A buffer to decompress a block into: one a forgotten block left, or a new one.
    pub(crate) fn buffer(&self) -> Vec<u8> {
        self.spares().pop().unwrap_or_default()
    }

    fn spares(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        self.spare
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps a block, forgetting the least recently used beyond [`BLOCKS`] (whose
    /// buffer, once no reader holds it, serves a later decompression).
    pub(crate) fn insert(&self, pack: &PackId, offset: u64, block: Arc<Vec<u8>>) {
        let forgotten = {
            let mut recent = self.lock();
            if recent.iter().any(|(k, _)| *k == (*pack, offset)) {
                return;
            }
            recent.push_front(((*pack, offset), block));
            if recent.len() > BLOCKS {
                recent.pop_back()
            } else {
                None
            }
        };
        if let Some((_, old)) = forgotten
            && let Ok(buffer) = Arc::try_unwrap(old)
        {
            let mut spare = self.spares();
            if spare.len() < SPARE {
                spare.push(buffer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash;

    #[test]
    fn keeps_the_most_recent_blocks() {
        let cache = BlockCache::default();
        let pack = PackId(Hash::of(b"pack"));
        for offset in 0..BLOCKS as u64 {
            cache.insert(&pack, offset, Arc::new(vec![offset as u8]));
        }
        // Reading the oldest makes it the most recent: the next insert drops offset 1.
        assert_eq!(*cache.get(&pack, 0).unwrap(), vec![0]);
        cache.insert(&pack, 999, Arc::new(vec![9]));
        assert!(cache.get(&pack, 1).is_none());
        assert!(cache.get(&pack, 0).is_some() && cache.get(&pack, 999).is_some());
        assert!(cache.get(&PackId(Hash::of(b"other")), 0).is_none());
    }

    /// A forgotten block's buffer serves the next decompression, unless a reader
    /// still holds the block.
    #[test]
    fn buffers_of_forgotten_blocks_are_reused() {
        let cache = BlockCache::default();
        let pack = PackId(Hash::of(b"pack"));
        let held = Arc::new(Vec::with_capacity(2000));
        cache.insert(&pack, 0, Arc::clone(&held));
        for offset in 1..=BLOCKS as u64 {
            cache.insert(&pack, offset, Arc::new(Vec::with_capacity(1000)));
        }
        assert_eq!(cache.buffer().capacity(), 0, "a held block is not reused");
        cache.insert(&pack, 999, Arc::new(Vec::new()));
        assert!(cache.buffer().capacity() >= 1000);
        assert_eq!(cache.buffer().capacity(), 0);
    }
}
