//! Per-object compression: zstd, or raw when compression saves too little.
//!
//! Media (video, audio, images) is mostly incompressible. Compressing it costs time and
//! gains nothing, so the codec first compresses a small sample; only when the sample
//! shrinks by at least [`MIN_SAVING_PERCENT`] is the whole object compressed, and the
//! result is kept only when it is actually smaller by that margin.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use super::error::ObjectError;

thread_local! {
    /// One zstd compression context per thread and level, reused: creating a context
    /// costs more than compressing a small file with it.
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
    /// This thread's output buffer for compression, reused: a frame is compressed into
    /// it and copied out at its exact length. Compressing into a fresh vector sized for
    /// the worst case kept that size with every stored object (a 19 KiB source that
    /// compressed to 1 KiB held 19 KiB while queued for its pack).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// One zstd decompression context per thread, reused (`ZSTD_createDCtx` was 14% of
    /// the time of a restore of 15,000 small files when made per object).
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// Objects up to this size are compressed through the thread's scratch buffer.
const SCRATCH_LIMIT: usize = 256 * 1024;

/// Compresses with this thread's context for `level`.
fn zstd_compress(raw: &[u8], level: i32) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level)?));
        }
        let (_, c) = slot.as_mut().expect("set just above");
        if raw.len() > SCRATCH_LIMIT {
            // Few large chunks are in flight at a time: no copy for them.
            return c.compress(raw);
        }
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            scratch.clear();
            scratch.reserve(zstd::zstd_safe::compress_bound(raw.len()));
            c.compress_to_buffer(raw, &mut *scratch)?;
            Ok(scratch.to_vec())
        })
    })
}

/// Compresses `raw` as one zstd frame at `level`, however little it saves (a solid
/// block: its frame records its content size).
pub(super) fn compress_always(raw: &[u8], level: i32) -> std::io::Result<Vec<u8>> {
    zstd_compress(raw, level)
}

/// Runs `f` with this thread's decompression context.
fn with_decompressor<T>(
    f: impl FnOnce(&mut zstd::bulk::Decompressor<'static>) -> std::io::Result<T>,
) -> std::io::Result<T> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        f(slot.as_mut().expect("set just above"))
    })
}

/// Decompresses one frame into `out` (cleared first; grown only when its capacity is
/// short of `size`, what the frame declares) with this thread's context.
pub(super) fn zstd_decompress_into(
    stored: &[u8],
    size: usize,
    out: &mut Vec<u8>,
) -> std::io::Result<usize> {
    out.clear();
    out.reserve_exact(size);
    with_decompressor(|d| d.decompress_to_buffer(stored, out))
}

/// Decompresses one frame of at most `capacity` bytes with this thread's context.
pub(super) fn zstd_decompress(stored: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    with_decompressor(|d| d.decompress(stored, capacity))
}

type Result<T> = std::result::Result<T, ObjectError>;

/// Below this saving (percent of the raw size), an object is stored raw.
pub const MIN_SAVING_PERCENT: usize = 3;
/// Bytes sampled to decide whether a large object is worth compressing.
const SAMPLE_LEN: usize = 64 * 1024;
/// Largest object this codec will decompress (a chunk is at most 16 MiB by config).
pub const MAX_RAW_LEN: usize = 64 * 1024 * 1024;

/// How an object's bytes are stored in a pack.
///
/// In a trailer (postcard) the variant is its index as a varint, followed for
/// [`Block`](Compression::Block) by its start: the first three encode as they did
/// before blocks existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compression {
    /// Stored as is.
    Raw,
    /// One zstd frame.
    Zstd,
    /// A zstd frame compressed against other chunks (its bases): see
    /// [`delta`](super::delta). Only the engine's read path, which can fetch the bases,
    /// decodes it.
    Delta,
    /// One member of a solid block (format 4): the location's offset and stored length
    /// are the block's, one zstd frame of its members' raw bytes back to back; this
    /// object is the `raw_len` bytes from `start` of the decompressed block. See
    /// [`block`](super::block).
    Block {
        /// Where the object starts in the decompressed block.
        start: u32,
    },
}

impl Compression {
    /// The byte used in the index (a block member's start is stored beside it).
    #[must_use]
    pub fn to_byte(self) -> u8 {
        match self {
            Compression::Raw => 0,
            Compression::Zstd => 1,
            Compression::Delta => 2,
            Compression::Block { .. } => 3,
        }
    }

    /// Parses the index byte and, for a block member, its start.
    pub fn from_parts(b: u8, start: Option<u32>) -> Result<Compression> {
        match (b, start) {
            (0, None) => Ok(Compression::Raw),
            (1, None) => Ok(Compression::Zstd),
            (2, None) => Ok(Compression::Delta),
            (3, Some(start)) => Ok(Compression::Block { start }),
            _ => Err(ObjectError::Corrupt {
                what: "index entry".into(),
                reason: format!("unknown compression {b}"),
            }),
        }
    }

    /// Parses the index byte of a layout without block members.
    pub fn from_byte(b: u8) -> Result<Compression> {
        Self::from_parts(b, None)
    }

    /// Whether this is a member of a solid block.
    #[must_use]
    pub fn in_block(self) -> bool {
        matches!(self, Compression::Block { .. })
    }
}

/// Compresses `raw` at `level`, or hands it back untouched when zstd would save too
/// little.
#[must_use]
pub fn compress(raw: Vec<u8>, level: i32) -> (Compression, Vec<u8>) {
    if raw.len() < 64 {
        return (Compression::Raw, raw);
    }
    if raw.len() > 4 * SAMPLE_LEN && !worth_compressing(&raw[..SAMPLE_LEN], level) {
        return (Compression::Raw, raw);
    }
    match zstd_compress(&raw, level) {
        Ok(z) if saves_enough(raw.len(), z.len()) => (Compression::Zstd, z),
        _ => (Compression::Raw, raw),
    }
}

fn worth_compressing(sample: &[u8], level: i32) -> bool {
    zstd_compress(sample, level).is_ok_and(|z| saves_enough(sample.len(), z.len()))
}

fn saves_enough(raw: usize, stored: usize) -> bool {
    stored * 100 <= raw * (100 - MIN_SAVING_PERCENT)
}

/// Restores an object's raw bytes; `raw_len` is the length recorded in the index.
pub fn decompress(stored: &[u8], compression: Compression, raw_len: usize) -> Result<Vec<u8>> {
    if raw_len > MAX_RAW_LEN {
        return Err(ObjectError::Corrupt {
            what: "object".into(),
            reason: format!("declared size {raw_len} exceeds the {MAX_RAW_LEN}-byte limit"),
        });
    }
    let out = match compression {
        Compression::Raw => stored.to_vec(),
        Compression::Zstd => {
            zstd_decompress(stored, raw_len).map_err(|e| ObjectError::Corrupt {
                what: "object".into(),
                reason: format!("zstd: {e}"),
            })?
        }
        Compression::Delta => {
            return Err(ObjectError::Corrupt {
                what: "object".into(),
                reason: "a delta object cannot be decoded without its bases".into(),
            });
        }
        Compression::Block { start } => {
            let block = super::block::decompress(stored)?;
            return super::block::member(&block, start, raw_len).map(<[u8]>::to_vec);
        }
    };
    if out.len() != raw_len {
        return Err(ObjectError::Corrupt {
            what: "object".into(),
            reason: format!("expected {raw_len} bytes, got {}", out.len()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_compressed_and_round_trips() {
        let raw = b"import {Composition} from 'remotion';\n".repeat(200);
        let (c, stored) = compress(raw.clone(), 3);
        assert_eq!(c, Compression::Zstd);
        assert!(stored.len() < raw.len() / 4);
        assert_eq!(decompress(&stored, c, raw.len()).unwrap(), raw);
    }

    /// A stored small object holds only its bytes: thousands of them wait in pack
    /// batches during a large checkpoint (a worst-case-sized buffer each made a
    /// 200,000-file checkpoint's peak RSS 274 MiB).
    #[test]
    fn a_compressed_small_object_holds_only_its_bytes() {
        let raw = b"export const frame = 42;\n".repeat(800);
        let (c, stored) = compress(raw.clone(), 3);
        assert_eq!(c, Compression::Zstd);
        assert!(stored.len() < 1024, "{} bytes", stored.len());
        assert_eq!(stored.capacity(), stored.len());
        assert_eq!(decompress(&stored, c, raw.len()).unwrap(), raw);
    }

    #[test]
    fn random_bytes_are_stored_raw() {
        let mut noise = vec![0u8; 1_000_000];
        blake3::Hasher::new().finalize_xof().fill(&mut noise);
        let (c, stored) = compress(noise.clone(), 3);
        assert_eq!(c, Compression::Raw);
        assert_eq!(stored, noise);
    }

    #[test]
    fn truncated_zstd_is_corrupt_not_panic() {
        let raw = vec![7u8; 10_000];
        let (c, stored) = compress(raw.clone(), 3);
        let err = decompress(&stored[..stored.len() / 2], c, raw.len()).unwrap_err();
        assert!(matches!(err, ObjectError::Corrupt { .. }));
    }
}
