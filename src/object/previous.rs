//! The chunks of a file's previous version, found again in its new version by their
//! hashes instead of `FastCDC`'s rolling hash.
//!
//! `FastCDC` (2020) cuts where the rolling hash of the bytes since the chunk's start
//! first matches a mask, or at the maximum size. Given a whole window of `max` bytes
//! ahead of the start (the chunker waits for one before every cut but those in the
//! stream's last `max` bytes), the cut depends on the bytes up to it and on the byte
//! right after it: the position it returns is that of the byte whose hash matched,
//! and that byte begins the next chunk. So where a new version holds, at a chunk
//! start, the same bytes as a chunk of the old version that was cut with a whole
//! window, `FastCDC` cuts nowhere before the old cut, and cuts there exactly when the
//! rolling hash at the byte after it still matches (or the chunk is a maximum one).
//! That hash covers at most the 64 bytes up to that byte, so it is checked alone
//! ([`cuts_at`]), and the chunk taken as it is once its hash is checked too — the hash
//! every chunk needs anyway. The rolling hash, the
//! chunker's other pass over every byte, runs only around the edits. Which old chunk
//! to try is a guess (the one at the same offset, shifted by what was inserted or
//! removed before it); a wrong guess costs a hash and never changes a cut. The test
//! below checks the whole claim on random edits.

use std::collections::HashMap;

use fastcdc::v2020::{Normalization, get_gear_with_seed, select_masks};

use super::ChunkerConfig;
use super::manifest::ChunkRef;
use crate::hash::Hash;

/// The previous version's chunks, for [`Chunker::with_previous`](super::Chunker::with_previous).
#[derive(Debug, Clone, Default)]
pub struct PreviousChunks {
    /// Old offset → length and id, for the chunks cut with a whole window.
    starts: HashMap<u64, (u32, Hash)>,
    /// Old id → old offset, for every chunk (the first, if repeated).
    offsets: HashMap<Hash, u64>,
    /// Every old chunk in order: offset, length, id (for [`PreviousChunks::replaced`]).
    all: Vec<(u64, u32, Hash)>,
    /// New offset minus old offset where the streams were last seen to agree.
    shift: i64,
    /// Chunks found by their hash so far.
    found: usize,
}

impl PreviousChunks {
    /// The chunks of a stream of that list, cut by a chunker whose largest chunk is
    /// `max` bytes (the one that will cut the new version).
    #[must_use]
    pub fn new(chunks: &[ChunkRef], max: u32) -> PreviousChunks {
        let total: u64 = chunks.iter().map(|c| u64::from(c.len)).sum();
        let mut starts = HashMap::with_capacity(chunks.len());
        let mut offsets = HashMap::with_capacity(chunks.len());
        let mut all = Vec::with_capacity(chunks.len());
        let mut at = 0u64;
        for c in chunks {
            if total - at >= u64::from(max) {
                starts.insert(at, (c.len, c.id));
            }
            offsets.entry(c.id).or_insert(at);
            all.push((at, c.len, c.id));
            at += u64::from(c.len);
        }
        PreviousChunks {
            starts,
            offsets,
            all,
            shift: 0,
            found: 0,
        }
    }

    /// The old chunk that `window` (the new stream's bytes from offset `at`) starts
    /// with, if the guess for `at` is one and `FastCDC` with `config`'s limits cuts it
    /// there too: its length and id.
    pub(super) fn find(
        &mut self,
        at: u64,
        window: &[u8],
        config: ChunkerConfig,
    ) -> Option<(usize, Hash)> {
        let old = u64::try_from(i64::try_from(at).ok()? - self.shift).ok()?;
        let &(len, id) = self.starts.get(&old)?;
        let len = len as usize;
        let found = cuts_at(window, len, config) && Hash::of(&window[..len]) == id;
        self.found += usize::from(found);
        found.then_some((len, id))
    }

    /// How many chunks were found by their hash (not searched for).
    #[must_use]
    pub fn found(&self) -> usize {
        self.found
    }

    /// The old chunks a new chunk of `len` bytes at new offset `at` most likely replaced
    /// (those overlapping where it would sit in the old version, at the shift last
    /// seen): the `limit` most overlapped, in the old version's order. They are the
    /// bases a delta of it is compressed against.
    #[must_use]
    pub fn replaced(&self, at: u64, len: usize, limit: usize) -> Vec<Hash> {
        let start = i128::from(at) - i128::from(self.shift);
        let end = start + len as i128;
        let first = self
            .all
            .partition_point(|&(off, l, _)| i128::from(off + u64::from(l)) <= start);
        let mut overlaps: Vec<(i128, usize)> = self.all[first..]
            .iter()
            .enumerate()
            .take_while(|(_, (off, _, _))| i128::from(*off) < end)
            .map(|(i, &(off, l, _))| {
                let (o_start, o_end) = (i128::from(off), i128::from(off + u64::from(l)));
                (o_end.min(end) - o_start.max(start), first + i)
            })
            .collect();
        overlaps.sort_by_key(|&(overlap, i)| (std::cmp::Reverse(overlap), i));
        overlaps.truncate(limit);
        overlaps.sort_by_key(|&(_, i)| i);
        let mut ids: Vec<Hash> = overlaps.into_iter().map(|(_, i)| self.all[i].2).collect();
        ids.dedup();
        ids
    }

    /// Notes that the chunk cut at new offset `at` has id `id`: if the old version has
    /// it, the streams agree again from there, shifted by the difference.
    pub(super) fn align(&mut self, at: u64, id: &Hash) {
        if let Some(&old) = self.offsets.get(id)
            && let (Ok(new), Ok(old)) = (i64::try_from(at), i64::try_from(old))
        {
            self.shift = new - old;
        }
    }
}

/// Whether `FastCDC` (2020, normalization level 1, `config`'s limits), cutting the
/// chunk that starts at `window[0]` with a whole window of `max` bytes, cuts it at
/// `len`, given that it makes no cut before (the old version's chunk of these bytes
/// ended at `len`). A maximum chunk ends at `max` whatever follows; a shorter one ends
/// where the rolling hash of the byte at `len` matches the mask, and that hash holds
/// the bytes from `min` on, of which the last 64 only (each step shifts it by one).
fn cuts_at(window: &[u8], len: usize, config: ChunkerConfig) -> bool {
    let (min, avg, max) = (
        config.min as usize,
        config.avg as usize,
        config.max as usize,
    );
    if window.len() < max || len < min || len > max {
        return false;
    }
    if len == max {
        return true;
    }
    let (gear, _) = get_gear_with_seed(0);
    let mut hash = 0u64;
    for &b in &window[min.max(len.saturating_sub(63))..=len] {
        hash = (hash << 1).wrapping_add(gear[usize::from(b)]);
    }
    // `cut_gear` tests the even positions with the hash and the mask shifted by one.
    let (mask_s, mask_l) = select_masks(avg, Normalization::Level1);
    let mask = if len < avg { mask_s } else { mask_l };
    if len.is_multiple_of(2) {
        (hash << 1) & (mask << 1) == 0
    } else {
        hash & mask == 0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::object::{Chunker, ChunkerConfig};

    const CFG: ChunkerConfig = ChunkerConfig {
        min: 4 * 1024,
        avg: 16 * 1024,
        max: 64 * 1024,
    };

    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut data = vec![0u8; len];
        blake3::Hasher::new_derive_key("previous chunks test")
            .update(&seed.to_le_bytes())
            .finalize_xof()
            .fill(&mut data);
        data
    }

    /// The chunks of `data`, and how many were found by hash.
    fn cut(data: &[u8], previous: Option<PreviousChunks>) -> (Vec<ChunkRef>, usize) {
        let mut reader = data;
        let mut chunker = Chunker::new(&mut reader, CFG);
        let mut previous = previous;
        if let Some(p) = previous.take() {
            chunker = chunker.with_previous(p);
        }
        let mut refs = Vec::new();
        while let Some(mut round) = chunker.next_round().unwrap() {
            round
                .cut(|c, id, _| -> Result<(), ()> {
                    assert_eq!(id, Hash::of(c));
                    refs.push(ChunkRef {
                        id,
                        len: c.len() as u32,
                    });
                    Ok(())
                })
                .unwrap();
        }
        (refs, chunker.previous().map_or(0, PreviousChunks::found))
    }

    /// The chunks of `new` cut alone and cut knowing `old`'s, and how many of those
    /// were found by hash.
    fn fresh_and_hinted(old: &[u8], new: &[u8]) -> (Vec<ChunkRef>, Vec<ChunkRef>, usize) {
        let (old_chunks, _) = cut(old, None);
        let (fresh, _) = cut(new, None);
        let (hinted, found) = cut(new, Some(PreviousChunks::new(&old_chunks, CFG.max)));
        (fresh, hinted, found)
    }

    /// An edit: at some thousandths of the length, remove some bytes and insert others.
    #[derive(Debug, Clone)]
    struct Edit {
        at: usize,
        remove: usize,
        insert: usize,
        seed: u64,
    }

    /// Edits anywhere, and often at either end: appending and truncating are what
    /// move a file's last chunks, which are cut with less than a whole window.
    fn edit() -> impl Strategy<Value = Edit> {
        let at = prop_oneof![Just(0), Just(1000), 900..=1000usize, 0..=1000usize];
        let len = prop_oneof![Just(0usize), 1usize..4096, 0usize..200_000];
        (at, len.clone(), len, any::<u64>()).prop_map(|(at, remove, insert, seed)| Edit {
            at,
            remove,
            insert,
            seed,
        })
    }

    fn apply(data: &[u8], e: &Edit) -> Vec<u8> {
        let at = data.len() * e.at / 1000;
        let end = (at + e.remove).min(data.len());
        [&data[..at], &bytes(e.seed, e.insert)[..], &data[end..]].concat()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Whatever the edits (inside, at either end, appended, truncated, none), the
        /// new version is cut exactly where it is cut without knowing the old one: a
        /// difference would store files differently depending on their history.
        #[test]
        fn the_previous_version_never_changes_a_cut(
            len in 0usize..1_200_000,
            seed in any::<u64>(),
            repeat in any::<bool>(),
            edits in proptest::collection::vec(edit(), 0..4),
        ) {
            let mut old = bytes(seed, len);
            if repeat && len > 300_000 {
                // Runs of one byte cut at the maximum size, into chunks that repeat.
                old[50_000..300_000].fill(7);
            }
            let new = edits.iter().fold(old.clone(), |d, e| apply(&d, e));
            let (fresh, hinted, _) = fresh_and_hinted(&old, &new);
            prop_assert_eq!(hinted, fresh);
        }
    }

    /// The chunks cut around an insertion name, as what they replaced, the old chunk
    /// that held the insertion point.
    #[test]
    fn a_changed_chunk_names_the_old_chunk_it_replaced() {
        let old = bytes(3, 2 << 20);
        let at = old.len() / 2;
        let new = [&old[..at], &bytes(4, 4096)[..], &old[at..]].concat();
        let (old_chunks, _) = cut(&old, None);
        let mut offset = 0u64;
        let holder = old_chunks
            .iter()
            .find(|c| {
                offset += u64::from(c.len);
                offset > at as u64
            })
            .unwrap()
            .id;
        let mut reader = &new[..];
        let mut chunker =
            Chunker::new(&mut reader, CFG).with_previous(PreviousChunks::new(&old_chunks, CFG.max));
        let mut named = Vec::new();
        while let Some(mut round) = chunker.next_round().unwrap() {
            round
                .cut(|c, id, replaced| -> Result<(), ()> {
                    // (A chunk of the old version cut near the end, not found by hash,
                    // may name some too: the pipeline has it already and ignores them.)
                    assert!(replaced.len() <= 2 && !replaced.contains(&id));
                    named.push((Hash::of(c), replaced.to_vec()));
                    Ok(())
                })
                .unwrap();
        }
        assert!(
            named.iter().any(|(_, r)| r.contains(&holder)),
            "no new chunk names the chunk that held the insertion point"
        );
    }

    /// After bytes inserted mid-file, every chunk but those around the edit and the
    /// file's last ones is found by its hash, before and after the shift.
    #[test]
    fn an_insertion_leaves_the_rest_found_by_hash() {
        let old = bytes(1, 4 << 20);
        let new = apply(
            &old,
            &Edit {
                at: 500,
                remove: 0,
                insert: 4096,
                seed: 2,
            },
        );
        let (fresh, hinted, found) = fresh_and_hinted(&old, &new);
        assert_eq!(hinted, fresh);
        let n = fresh.len();
        assert!(n > 100, "{n} chunks");
        assert!(found + 8 >= n, "{found} of {n} chunks found by hash");
    }

    /// One byte inserted right where an old chunk was cut changes the byte the cut was
    /// decided on: the chunk is found by its hash, and must not be taken (the case the
    /// property test found in CI on 2026-12-07).
    #[test]
    fn an_insertion_right_after_a_chunk_moves_its_cut() {
        let old = bytes(5_927_765_647_134_303_949, 1_009_202);
        let edit = Edit {
            at: 968,
            remove: 0,
            insert: 1,
            seed: 0,
        };
        let (fresh, hinted, _) = fresh_and_hinted(&old, &apply(&old, &edit));
        assert_eq!(hinted, fresh);
    }

    /// [`cuts_at`] says yes where `FastCDC` cuts a chunk and no at every position
    /// before it, on random windows and on runs that cut at the maximum.
    #[test]
    fn cuts_at_agrees_with_fastcdc() {
        let (min, avg, max) = (CFG.min as usize, CFG.avg as usize, CFG.max as usize);
        for seed in 0..300u64 {
            let mut window = bytes(seed, max + 1 + (seed as usize % 7));
            if seed % 50 == 0 {
                window[..max].fill(7);
            }
            let (_, end) =
                fastcdc::v2020::FastCDC::new(&window, min, avg, max).cut(0, window.len());
            assert!(cuts_at(&window, end, CFG), "seed {seed}: no cut at {end}");
            for p in min..end {
                assert!(
                    !cuts_at(&window, p, CFG),
                    "seed {seed}: a cut at {p}, before {end}"
                );
            }
        }
    }
}
