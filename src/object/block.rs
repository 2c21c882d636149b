//! Solid blocks: small objects compressed together as one zstd frame (format 4).
//!
//! A project's thousands of small sources and `node_modules` files say the same things
//! again and again (licence headers, imports, `package.json` keys), but a file
//! compressed on its own never sees its neighbours: 112 bytes a file on the comparison
//! workload, against 29 in blocks of 256 KiB (`docs/performance.md`). A block is the
//! members' raw bytes back to back, compressed as one frame; each member keeps its own
//! id and entry, which names the block (its offset and stored length) and where the
//! member starts in it (see [`Compression::Block`](super::codec::Compression::Block)).

use super::ObjectKind;
use super::codec;
use super::error::ObjectError;
use crate::hash::Hash;

/// Objects up to this many raw bytes go into blocks (larger ones compress well alone,
/// and chunks from 16 KiB may be stored as deltas).
pub const MEMBER_MAX: usize = 16 * 1024 - 1;
/// A block is sealed once its members' raw bytes reach this.
pub const TARGET_RAW: usize = 256 * 1024;
/// The largest decompressed block a reader accepts (a writer's blocks stay under
/// [`TARGET_RAW`] + [`MEMBER_MAX`]); it bounds what a crafted frame makes a reader
/// allocate.
pub const MAX_RAW: usize = 4 * 1024 * 1024;

fn corrupt(reason: String) -> ObjectError {
    ObjectError::Corrupt {
        what: "solid block".into(),
        reason,
    }
}

/// One object of a block: what the pack's trailer says of it besides the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// What it is.
    pub kind: ObjectKind,
    /// Its id.
    pub id: Hash,
    /// Its length.
    pub raw_len: u32,
}

/// A compressed block, ready for a pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Its members, in the order of their bytes.
    pub members: Vec<Member>,
    /// The zstd frame of their bytes.
    pub stored: Vec<u8>,
}

/// Collects small objects until a block is full.
#[derive(Debug, Default)]
pub struct Builder {
    raw: Vec<u8>,
    members: Vec<Member>,
}

impl Builder {
    /// Adds an object of at most [`MEMBER_MAX`] bytes; true when the block is full.
    pub fn push(&mut self, kind: ObjectKind, id: Hash, raw: &[u8]) -> bool {
        debug_assert!(raw.len() <= MEMBER_MAX, "{} bytes is not small", raw.len());
        if self.raw.capacity() == 0 {
            self.raw.reserve_exact(TARGET_RAW + MEMBER_MAX);
        }
        self.raw.extend_from_slice(raw);
        self.members.push(Member {
            kind,
            id,
            raw_len: raw.len() as u32,
        });
        self.is_full()
    }

    /// Whether the block has reached its target.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.raw.len() >= TARGET_RAW
    }

    /// Compresses the block at `level` and starts an empty one; `None` when empty.
    pub fn seal(&mut self, level: i32) -> Result<Option<Sealed>, ObjectError> {
        if self.members.is_empty() {
            return Ok(None);
        }
        let stored = codec::compress_always(&self.raw, level)
            .map_err(|e| corrupt(format!("zstd could not compress a block: {e}")))?;
        self.raw.clear();
        Ok(Some(Sealed {
            members: std::mem::take(&mut self.members),
            stored,
        }))
    }
}

/// Decompresses a whole block: a zstd frame that records its size, at most
/// [`MAX_RAW`].
pub fn decompress(stored: &[u8]) -> Result<Vec<u8>, ObjectError> {
    let mut raw = Vec::new();
    decompress_into(stored, &mut raw)?;
    Ok(raw)
}

/// [`decompress`] into `out`, reusing its allocation (a restore of 200,000 files
/// decompresses thousands of blocks: a fresh 256 KiB buffer each left 100 MiB of peak
/// RSS in the allocator's per-thread arenas).
pub fn decompress_into(stored: &[u8], out: &mut Vec<u8>) -> Result<(), ObjectError> {
    let size = match zstd::zstd_safe::get_frame_content_size(stored) {
        Ok(Some(size)) => size,
        Ok(None) => return Err(corrupt("its frame does not record its size".into())),
        Err(_) => return Err(corrupt("not a zstd frame".into())),
    };
    if size > MAX_RAW as u64 {
        return Err(corrupt(format!(
            "declared size {size} exceeds the {MAX_RAW}-byte limit"
        )));
    }
    let got = codec::zstd_decompress_into(stored, size as usize, out)
        .map_err(|e| corrupt(format!("zstd: {e}")))?;
    if got as u64 != size || out.len() != got {
        return Err(corrupt(format!("expected {size} bytes, got {got}")));
    }
    Ok(())
}

/// The `raw_len` bytes of a member starting at `start` of a decompressed block.
pub fn member(block: &[u8], start: u32, raw_len: usize) -> Result<&[u8], ObjectError> {
    let start = start as usize;
    block.get(start..start + raw_len).ok_or_else(|| {
        corrupt(format!(
            "a member of {raw_len} bytes from {start} is past its {} bytes",
            block.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(i: u32) -> Vec<u8> {
        format!("// SPDX-License-Identifier: MIT\nexport const value{i} = {i};\n")
            .repeat(20)
            .into_bytes()
    }

    #[test]
    fn members_come_back_from_their_block() {
        let mut b = Builder::default();
        let raws: Vec<Vec<u8>> = (0..50).map(source).collect();
        for raw in &raws {
            assert!(!b.push(ObjectKind::Chunk, Hash::of(raw), raw));
        }
        let sealed = b.seal(3).unwrap().unwrap();
        assert!(
            b.seal(3).unwrap().is_none(),
            "sealing starts an empty block"
        );
        let block = decompress(&sealed.stored).unwrap();
        let mut start = 0u32;
        for (m, raw) in sealed.members.iter().zip(&raws) {
            assert_eq!(m.id, Hash::of(raw));
            assert_eq!(member(&block, start, m.raw_len as usize).unwrap(), &raw[..]);
            start += m.raw_len;
        }
        assert!(member(&block, start, 1).is_err());
    }

    /// The point of blocks: similar small files cost far less together than alone.
    #[test]
    fn similar_small_files_compress_better_together() {
        let raws: Vec<Vec<u8>> = (0..200).map(source).collect();
        let alone: usize = raws
            .iter()
            .map(|r| codec::compress(r.clone(), 3).1.len())
            .sum();
        let mut b = Builder::default();
        for raw in &raws {
            b.push(ObjectKind::Chunk, Hash::of(raw), raw);
        }
        let together = b.seal(3).unwrap().unwrap().stored.len();
        assert!(together * 5 < alone, "{together} together, {alone} alone");
    }

    #[test]
    fn a_block_is_sealed_at_its_target() {
        let mut b = Builder::default();
        let raw = vec![7u8; MEMBER_MAX];
        let mut pushed = 0;
        while !b.push(ObjectKind::Chunk, Hash::of(&raw), &raw) {
            pushed += 1;
        }
        assert_eq!(pushed + 1, TARGET_RAW.div_ceil(MEMBER_MAX));
    }

    #[test]
    fn damaged_or_oversized_frames_are_corrupt() {
        let mut b = Builder::default();
        b.push(ObjectKind::Chunk, Hash::of(b"x"), &source(1));
        let stored = b.seal(3).unwrap().unwrap().stored;
        assert!(decompress(&stored[..stored.len() - 3]).is_err());
        assert!(decompress(b"not zstd").is_err());
        let huge = codec::compress_always(&vec![0u8; MAX_RAW + 1], 1).unwrap();
        let err = decompress(&huge).unwrap_err().to_string();
        assert!(err.contains("limit"), "{err}");
    }
}
