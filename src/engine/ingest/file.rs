//! One file in: chunk, hash, offer each chunk, and the manifest if there is more than one.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::pipeline::Pipeline;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::index::StatRecord;
use crate::object::{
    ChunkRef, Chunker, ChunkerConfig, Manifest, ObjectKind, PreviousChunks, encode,
};

/// How often a file that changes under us is re-read before giving up.
const READ_ATTEMPTS: usize = 3;

/// The stat fields the cache compares, with the id left empty.
#[must_use]
pub fn stat_of(meta: &std::fs::Metadata) -> StatRecord {
    StatRecord {
        size: meta.len(),
        mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        inode: meta.ino(),
        id: Hash::EMPTY,
    }
}

/// The chunks of content `id`, to look for first in the new version of its file;
/// `None` when it is a single chunk or cannot be read (it is only a hint: the cuts are
/// the same without it).
pub fn previous_chunks(engine: &Engine, id: &Hash) -> Option<PreviousChunks> {
    match engine.read_manifest(id) {
        Ok(Some(manifest)) => Some(PreviousChunks::new(
            &manifest.chunks,
            engine.config.chunking.max,
        )),
        Ok(None) => None,
        Err(e) => {
            tracing::debug!(%id, "previous version unreadable, chunking without it: {e}");
            None
        }
    }
}

/// Reads a regular file into the pipeline; returns its content id, size and the stat
/// it had while read. A file that changes while being read is re-read, then refused.
pub fn ingest_file(
    pipe: &Pipeline,
    path: &Path,
    cfg: ChunkerConfig,
    previous: Option<&PreviousChunks>,
) -> Result<StatRecord> {
    for _ in 0..READ_ATTEMPTS {
        if let Some(rec) = try_ingest(pipe, path, cfg, previous.cloned())? {
            return Ok(rec);
        }
        tracing::debug!(path = %path.display(), "file changed while being read; reading again");
    }
    Err(Error::Changed {
        path: path.to_path_buf(),
    })
}

fn try_ingest(
    pipe: &Pipeline,
    path: &Path,
    cfg: ChunkerConfig,
    previous: Option<PreviousChunks>,
) -> Result<Option<StatRecord>> {
    let mut file = File::open(path).map_err(Error::io("open", path))?;
    let before = stat_of(&file.metadata().map_err(Error::io("stat", path))?);
    if before.size < u64::from(cfg.min) {
        return ingest_small(pipe, path, file, before);
    }
    let (id, size) = chunk_into(pipe, &mut file, cfg, previous).map_err(|e| match e {
        Error::Io { source, .. } => Error::io("read", path)(source),
        other => other,
    })?;
    let after = stat_of(&std::fs::symlink_metadata(path).map_err(Error::io("stat", path))?);
    if !before.same_stat(&after) || size != before.size {
        return Ok(None);
    }
    Ok(Some(StatRecord { id, ..before }))
}

/// Cuts a stream into chunks and offers them, and the manifest when there is more than
/// one chunk; returns the content id (BLAKE3 of the whole stream) and length. Memory
/// stays at one buffer of a few maximum-size chunks whatever the stream's length. The
/// whole-stream hash and the cutting with the chunks' hashes are two passes over the
/// same bytes: they run side by side on the rayon pool when a core is free. With the
/// chunks of the stream's previous version, those still there are found by their
/// hashes alone ([`PreviousChunks`]).
pub fn chunk_into(
    pipe: &Pipeline,
    reader: &mut dyn std::io::Read,
    cfg: ChunkerConfig,
    previous: Option<PreviousChunks>,
) -> Result<(Hash, u64)> {
    let mut whole = blake3::Hasher::new();
    let mut refs = Vec::new();
    let mut size = 0u64;
    let mut chunker = Chunker::new(reader, cfg);
    if let Some(previous) = previous {
        chunker = chunker.with_previous(previous);
    }
    while let Some(mut round) = chunker.next_round().map_err(Error::io("read", "input"))? {
        let fresh = round.fresh;
        let ((), offered) = rayon::join(
            || {
                whole.update(fresh);
            },
            || {
                round.cut(|data, id, replaced| {
                    refs.push(ChunkRef {
                        id,
                        len: data.len() as u32,
                    });
                    size += data.len() as u64;
                    pipe.offer_chunk(id, data, replaced)
                })
            },
        );
        offered?;
    }
    if let Some(previous) = chunker.previous() {
        let stats = pipe.stats();
        let found = previous.found() as u64;
        stats.recognised_chunks.fetch_add(found, Ordering::Relaxed);
    }
    let id = Hash::from(whole.finalize());
    match refs.len() {
        0 => pipe.offer(ObjectKind::Chunk, id, Vec::new())?,
        1 => {}
        _ => pipe.offer(
            ObjectKind::Manifest,
            id,
            encode(&Manifest { size, chunks: refs })?,
        )?,
    }
    Ok((id, size))
}

/// A file below the minimum chunk size is one chunk: one read into a buffer of its
/// size, no chunker (whose buffer is the maximum chunk size). The stat after the read
/// is taken on the open file: it describes the bytes read even if the path was
/// replaced meanwhile (the next scan sees the new inode and reads it again), and costs
/// no path lookup.
fn ingest_small(
    pipe: &Pipeline,
    path: &Path,
    mut file: File,
    before: StatRecord,
) -> Result<Option<StatRecord>> {
    use std::io::Read;
    let mut data = vec![0u8; before.size as usize];
    match file.read_exact(&mut data) {
        Ok(()) => {}
        // It shrank while we read: read it again.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(Error::io("read", path)(e)),
    }
    // A file that grew shows a new size (and mtime) here.
    let after = stat_of(&file.metadata().map_err(Error::io("stat", path))?);
    if !before.same_stat(&after) {
        return Ok(None);
    }
    let id = Hash::of(&data);
    pipe.offer(ObjectKind::Chunk, id, data)?;
    Ok(Some(StatRecord { id, ..before }))
}

/// Reads a symlink's target into the pipeline; returns its id and length.
pub fn ingest_symlink(pipe: &Pipeline, path: &Path) -> Result<(Hash, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let target = std::fs::read_link(path).map_err(Error::io("read link", path))?;
    let bytes = target.as_os_str().as_bytes().to_vec();
    let id = Hash::of(&bytes);
    let len = bytes.len() as u64;
    pipe.offer(ObjectKind::Chunk, id, bytes)?;
    Ok((id, len))
}
