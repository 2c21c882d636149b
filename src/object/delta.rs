//! Delta objects: a changed chunk stored as a zstd frame compressed against the chunks
//! it replaced.
//!
//! Bytes inserted into the middle of a 100 MiB footage file change the one or two
//! content-defined chunks around the edit (a few hundred KiB of incompressible bytes).
//! Stored alone they cost their whole size again; compressed with the old chunks as a
//! zstd *prefix* (a dictionary of raw content, `ZSTD_CCtx_refPrefix`) they cost about
//! the bytes that are really new. The old chunks are the delta's *bases*: reading it
//! needs them, so gc keeps a base as long as a live delta names it.
//!
//! Stored layout (compression byte [`Compression::Delta`](super::codec::Compression)):
//!
//! ```text
//! depth: u8 | count: u8 | count × base id (32 bytes) | zstd frame
//! ```
//!
//! `depth` is one more than the deepest base's (a base stored whole has depth 0), at
//! most [`MAX_DEPTH`]: reading an object follows at most that many deltas, and a
//! writer stores a chunk whole rather than go deeper. The prefix is the bases' raw
//! bytes concatenated in the order listed.

use super::error::ObjectError;
use crate::hash::Hash;

type Result<T> = std::result::Result<T, ObjectError>;

/// The longest chain of deltas a read follows (a delta of a delta … of a whole chunk).
pub const MAX_DEPTH: u8 = 8;
/// The most bases one delta names.
pub const MAX_BASES: usize = 2;
/// Chunks smaller than this are stored whole (compressed on their own as before).
pub const MIN_CHUNK: usize = 16 * 1024;

/// What a delta object names before its frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaHeader {
    /// One more than the deepest base's depth.
    pub depth: u8,
    /// The chunks whose raw bytes, concatenated, are the frame's prefix.
    pub bases: Vec<Hash>,
}

fn corrupt(reason: impl Into<String>) -> ObjectError {
    ObjectError::Corrupt {
        what: "delta object".into(),
        reason: reason.into(),
    }
}

/// Splits a delta object's stored bytes into its header and its zstd frame, checking
/// the header's limits.
pub fn parse(stored: &[u8]) -> Result<(DeltaHeader, &[u8])> {
    let [depth, count, rest @ ..] = stored else {
        return Err(corrupt("shorter than its header"));
    };
    let count = usize::from(*count);
    if *depth == 0 || *depth > MAX_DEPTH || count == 0 || count > MAX_BASES {
        return Err(corrupt(format!(
            "depth {depth} with {count} bases is outside 1..={MAX_DEPTH} and 1..={MAX_BASES}"
        )));
    }
    if rest.len() < count * 32 {
        return Err(corrupt("shorter than its list of bases"));
    }
    let (ids, frame) = rest.split_at(count * 32);
    let bases = ids
        .chunks_exact(32)
        .map(|b| Hash::from_bytes(b.try_into().expect("chunks of 32")))
        .collect();
    Ok((
        DeltaHeader {
            depth: *depth,
            bases,
        },
        frame,
    ))
}

/// Compresses `raw` at `level` against `prefix` (the raw bytes of `header.bases`, in
/// order) and returns the delta object's stored bytes.
pub fn encode(raw: &[u8], level: i32, header: &DeltaHeader, prefix: &[u8]) -> Result<Vec<u8>> {
    use zstd::zstd_safe::{CCtx, CParameter};
    let count = u8::try_from(header.bases.len())
        .ok()
        .filter(|n| (1..=MAX_BASES).contains(&usize::from(*n)));
    let Some(count) = count.filter(|_| (1..=MAX_DEPTH).contains(&header.depth)) else {
        return Err(ObjectError::Invalid(format!(
            "a delta of depth {} with {} bases",
            header.depth,
            header.bases.len()
        )));
    };
    let zerr = |what: &str, code: usize| {
        ObjectError::Invalid(format!(
            "zstd {what}: {}",
            zstd::zstd_safe::get_error_name(code)
        ))
    };
    let mut out = Vec::with_capacity(2 + header.bases.len() * 32 + raw.len() / 8 + 64);
    out.extend_from_slice(&[header.depth, count]);
    for b in &header.bases {
        out.extend_from_slice(b.as_bytes());
    }
    let mut cctx = CCtx::create();
    cctx.set_parameter(CParameter::CompressionLevel(level))
        .map_err(|c| zerr("level", c))?;
    cctx.set_parameter(CParameter::HashLog(hash_log(prefix.len())))
        .map_err(|c| zerr("hash log", c))?;
    cctx.ref_prefix(prefix).map_err(|c| zerr("prefix", c))?;
    let mut frame = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
    cctx.compress2(&mut frame, raw)
        .map_err(|c| zerr("compress", c))?;
    out.extend_from_slice(&frame);
    Ok(out)
}

/// The hash log that has zstd index all of a `prefix`-byte prefix. zstd indexes only
/// the last 2^(hash log + 3) bytes of a prefix, 1 MiB with level 3's hash log of 17: the
/// start of a larger prefix (the largest chunk and a neighbour) was never matched and
/// what repeated it was stored again (267,004 bytes of a 1,010,986-byte chunk against
/// 1,300,208 bytes of bases, in the comparison's footage). Never below level 3's own.
fn hash_log(prefix: usize) -> u32 {
    let log2_ceil = usize::BITS - prefix.saturating_sub(1).leading_zeros();
    log2_ceil.saturating_sub(3).clamp(17, 24)
}

/// Decompresses a delta's `frame` (from [`parse`]) against `prefix`, the raw bytes of
/// its bases in order; `raw_len` is the length the index records.
pub fn decode(frame: &[u8], prefix: &[u8], raw_len: usize) -> Result<Vec<u8>> {
    use zstd::zstd_safe::DCtx;
    if raw_len > super::codec::MAX_RAW_LEN {
        return Err(corrupt(format!("declared size {raw_len} is too large")));
    }
    let mut dctx = DCtx::create();
    dctx.ref_prefix(prefix).map_err(|c| {
        corrupt(format!(
            "zstd prefix: {}",
            zstd::zstd_safe::get_error_name(c)
        ))
    })?;
    let mut out = Vec::with_capacity(raw_len);
    dctx.decompress(&mut out, frame)
        .map_err(|c| corrupt(format!("zstd: {}", zstd::zstd_safe::get_error_name(c))))?;
    if out.len() != raw_len {
        return Err(corrupt(format!(
            "expected {raw_len} bytes, got {}",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: u8, len: usize) -> Vec<u8> {
        let mut data = vec![0u8; len];
        blake3::Hasher::new()
            .update(&[seed])
            .finalize_xof()
            .fill(&mut data);
        data
    }

    /// A chunk with 4 KiB inserted is stored in about 4 KiB against the chunk it
    /// replaced, and decodes to itself only with that prefix.
    #[test]
    fn an_insertion_costs_about_what_was_inserted() {
        let old = noise(1, 300 * 1024);
        let new = [&old[..150_000], &noise(2, 4096)[..], &old[150_000..]].concat();
        let header = DeltaHeader {
            depth: 1,
            bases: vec![Hash::of(&old)],
        };
        let stored = encode(&new, 3, &header, &old).unwrap();
        assert!(stored.len() < 5000, "{} bytes", stored.len());
        let (parsed, frame) = parse(&stored).unwrap();
        assert_eq!(parsed, header);
        assert_eq!(decode(frame, &old, new.len()).unwrap(), new);
        let with_wrong_base = decode(frame, &noise(3, old.len()), new.len());
        assert!(!matches!(with_wrong_base, Ok(bytes) if bytes == new));
    }

    /// The same for the largest chunks with a second base: a 1 MiB chunk edited in the
    /// middle, with its old 1 MiB neighbour as the second base. zstd indexed only the
    /// last 1 MiB of the prefix at level 3, so the chunk's first half was stored again
    /// (267,004 bytes for one such edit of the comparison's footage).
    #[test]
    fn a_largest_chunk_with_two_bases_costs_about_what_was_inserted() {
        let old = noise(1, 1 << 20);
        let neighbour = noise(4, 1 << 20);
        let new = [&old[..500_000], &noise(2, 4096)[..], &old[500_000..]].concat();
        let header = DeltaHeader {
            depth: 1,
            bases: vec![Hash::of(&old), Hash::of(&neighbour)],
        };
        let prefix = [&old[..], &neighbour[..]].concat();
        let stored = encode(&new, 3, &header, &prefix).unwrap();
        assert!(stored.len() < 6000, "{} bytes", stored.len());
        let (_, frame) = parse(&stored).unwrap();
        assert_eq!(decode(frame, &prefix, new.len()).unwrap(), new);
    }

    #[test]
    fn headers_outside_the_limits_are_corrupt() {
        let id = Hash::of(b"base");
        let mut ok = vec![1u8, 1];
        ok.extend_from_slice(id.as_bytes());
        assert!(parse(&ok).is_ok());
        for bad in [
            vec![0u8, 1],                   // depth 0
            vec![MAX_DEPTH + 1, 1],         // too deep
            vec![1, 0],                     // no base
            vec![1, (MAX_BASES + 1) as u8], // too many
            vec![1, 1, 7],                  // truncated id
            vec![1],                        // truncated header
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }
}
