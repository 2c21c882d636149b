//! The packer: collects compressed objects into packs of about the target size and
//! stores each finished pack from a writer thread, so the next pack fills while the
//! last one is written and fsynced.

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use bytes::Bytes;

use super::backend::{BlobBackend, pack_name};
use super::pack::{PackBody, PackEntry, PackWriter, TRAILER_ENTRY_MAX};
use super::pack_files::PackFiles;
use crate::error::{Error, Result};
use crate::hash::{Hash, PackId};
use crate::object::ObjectKind;
use crate::object::block;
use crate::object::codec::{self, Compression};

/// Finished packs queued for the writer thread beyond the one it is writing: zero, a
/// hand-off, so at most two packs are in memory (one filling, one being written).
const PACKS_IN_FLIGHT: usize = 0;

/// Room past the target: an object larger than the target alone in a pack (at most a
/// maximum-size chunk). The trailer is counted in the target.
const PACK_SLACK: usize = 4 * 1024 * 1024 + 64 * 1024;

/// A pack that is durably stored and not yet in the index.
#[derive(Debug, Clone)]
pub struct WrittenPack {
    /// Its name.
    pub id: PackId,
    /// Its length in bytes.
    pub size: u64,
    /// Its objects.
    pub entries: Vec<PackEntry>,
}

/// Told of every pack before its blob is stored, so a pack that is stored but not yet
/// indexed always has a known owner (GC deletes such a pack only once its owner is gone).
pub trait PackJournal: Send + Sync {
    /// `pack` is about to be stored; an error stops the write.
    fn will_store(&self, pack: &PackId) -> Result<()>;
}

/// Something that accepts compressed objects.
pub trait PackSink {
    /// Adds one object.
    fn add(
        &mut self,
        kind: ObjectKind,
        id: Hash,
        compression: Compression,
        stored: &[u8],
        raw_len: u32,
    ) -> Result<()>;

    /// Adds a sealed solid block (every member).
    fn add_block(&mut self, block: &block::Sealed) -> Result<()>;
}

struct Writer {
    tx: SyncSender<(PackId, PackBody)>,
    thread: JoinHandle<Result<()>>,
}

/// Fills packs up to `target` bytes and stores each one as soon as it is full. On a
/// local directory backend a pack is built in a staging file ([`PackFiles`]); elsewhere
/// in memory.
pub struct Packer {
    backend: Arc<dyn BlobBackend>,
    journal: Arc<dyn PackJournal>,
    /// The backend's files, where packs are built if it has them.
    files: Option<PackFiles>,
    target: usize,
    current: Option<PackWriter>,
    written: Vec<WrittenPack>,
    writer: Option<Writer>,
    /// The zstd level small objects are compressed at, together in solid blocks when
    /// `blocks` (a format 4 repository), else one by one.
    level: i32,
    blocks: Option<block::Builder>,
    /// Whether packs end with the compact trailer (format 5 repositories).
    compact: bool,
}

impl std::fmt::Debug for Packer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packer")
            .field("target", &self.target)
            .field("written", &self.written.len())
            .finish_non_exhaustive()
    }
}

impl Packer {
    /// A packer writing to `backend`, announcing every pack to `journal` first.
    #[must_use]
    pub fn new(
        backend: Arc<dyn BlobBackend>,
        journal: Arc<dyn PackJournal>,
        target: usize,
    ) -> Self {
        Packer {
            files: backend.pack_files().cloned(),
            backend,
            journal,
            target,
            current: None,
            written: Vec::new(),
            writer: None,
            level: 3,
            blocks: None,
            compact: false,
        }
    }

    /// Small objects given to [`add_small`](Self::add_small) are compressed at `level`,
    /// in solid blocks if `blocks` (the repository's format allows them).
    #[must_use]
    pub fn with_small_objects(mut self, level: i32, blocks: bool) -> Self {
        self.level = level;
        self.blocks = blocks.then(block::Builder::default);
        self
    }

    /// Packs end with the compact trailer if `compact` (the repository's format allows
    /// it; older releases read only the listing one).
    #[must_use]
    pub fn with_compact_trailers(mut self, compact: bool) -> Self {
        self.compact = compact;
        self
    }

    /// Adds an object by its raw bytes: into the open solid block when blocks are on
    /// and it is small, else compressed on its own.
    pub fn add_small(&mut self, kind: ObjectKind, id: Hash, raw: &[u8]) -> Result<()> {
        if let Some(builder) = &mut self.blocks
            && raw.len() <= block::MEMBER_MAX
        {
            if builder.push(kind, id, raw) {
                self.seal_block()?;
            }
            return Ok(());
        }
        let (compression, stored) = codec::compress(raw.to_vec(), self.level);
        self.add(kind, id, compression, &stored, raw.len() as u32)
    }

    /// Compresses the open block (if any object is in it) into the current pack.
    fn seal_block(&mut self) -> Result<()> {
        let level = self.level;
        let sealed = match &mut self.blocks {
            Some(builder) => builder.seal(level)?,
            None => None,
        };
        match sealed {
            Some(sealed) => self.add_block(&sealed),
            None => Ok(()),
        }
    }

    /// The pack being filled, started on first use.
    fn current(&mut self) -> Result<&mut PackWriter> {
        if self.current.is_none() {
            let mut pack = match &self.files {
                Some(files) => files.create()?,
                None => PackWriter::with_capacity(self.target + PACK_SLACK),
            };
            pack.compact_trailer(self.compact);
            self.current = Some(pack);
        }
        Ok(self.current.as_mut().expect("just set"))
    }

    fn writer(&mut self) -> &SyncSender<(PackId, PackBody)> {
        let (backend, files) = (&self.backend, &self.files);
        &self
            .writer
            .get_or_insert_with(|| {
                let (backend, files) = (Arc::clone(backend), files.clone());
                let (tx, rx) = sync_channel::<(PackId, PackBody)>(PACKS_IN_FLIGHT);
                let thread = std::thread::spawn(move || {
                    for (id, body) in rx {
                        let name = pack_name(&id);
                        match (body, &files) {
                            (PackBody::File { file, .. }, Some(files)) => {
                                files.publish(file, &name)?;
                            }
                            (PackBody::Memory(bytes), _) => {
                                backend.put(&name, Bytes::from(bytes))?;
                            }
                            (PackBody::File { .. }, None) => {
                                unreachable!("only PackFiles make file packs")
                            }
                        }
                        tracing::debug!(pack = %id.short(), "pack written");
                    }
                    Ok(())
                });
                Writer { tx, thread }
            })
            .tx
    }

    fn flush(&mut self) -> Result<()> {
        let Some(full) = self.current.take().filter(|p| !p.is_empty()) else {
            return Ok(());
        };
        let (id, body, entries) = full.finish()?;
        let size = body.size();
        self.journal.will_store(&id)?;
        if self.writer().send((id, body)).is_err() {
            // The writer stopped on an error; `finish` reports it.
            return self
                .join_writer()
                .and(Err(Error::Internal("the pack writer stopped".into())));
        }
        self.written.push(WrittenPack { id, size, entries });
        Ok(())
    }

    fn join_writer(&mut self) -> Result<()> {
        match self.writer.take() {
            Some(Writer { tx, thread }) => {
                drop(tx);
                thread
                    .join()
                    .map_err(|_| Error::Internal("the pack writer panicked".into()))?
            }
            None => Ok(()),
        }
    }

    /// Writes the last partial pack, waits until every pack is durably stored, and
    /// returns them. On a shared backend it then stores one index segment listing them
    /// (see [`super::segment`]); a segment that cannot be stored is only logged, as
    /// readers fall back to the packs' own trailers.
    pub fn finish(mut self) -> Result<Vec<WrittenPack>> {
        self.seal_block()?;
        self.flush()?;
        self.join_writer()?;
        let written = std::mem::take(&mut self.written);
        if self.backend.shared() {
            match super::segment::write_segment(self.backend.as_ref(), &written) {
                Ok(Some(name)) => tracing::debug!("index segment {name} written"),
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    "cannot store an index segment (rebuilds read the packs' trailers instead): {e}"
                ),
            }
        }
        Ok(written)
    }
}

impl PackSink for Packer {
    fn add(
        &mut self,
        kind: ObjectKind,
        id: Hash,
        compression: Compression,
        stored: &[u8],
        raw_len: u32,
    ) -> Result<()> {
        let current = self.current()?;
        let grown = current.finished_len_max() + stored.len() + TRAILER_ENTRY_MAX;
        if !current.is_empty() && grown > self.target {
            self.flush()?;
        }
        Ok(self
            .current()?
            .add(kind, id, compression, stored, raw_len)?)
    }

    fn add_block(&mut self, block: &block::Sealed) -> Result<()> {
        let current = self.current()?;
        let grown = current.finished_len_max()
            + block.stored.len()
            + block.members.len() * TRAILER_ENTRY_MAX;
        if !current.is_empty() && grown > self.target {
            self.flush()?;
        }
        Ok(self.current()?.add_block(block)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RedbBackend;

    struct NoJournal;

    impl PackJournal for NoJournal {
        fn will_store(&self, _: &PackId) -> Result<()> {
            Ok(())
        }
    }

    /// A pack of many small objects has a trailer of many entries: it counts toward the
    /// target, or the pack outgrows its buffer (a reallocation to twice its size, the
    /// largest allocation of a 200,000-file checkpoint).
    #[test]
    fn packs_of_small_objects_stay_within_the_target_trailer_included() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(RedbBackend::open(&dir.path().join("packs.redb")).unwrap());
        let target = 64 * 1024;
        let mut packer = Packer::new(backend.clone(), Arc::new(NoJournal), target);
        for i in 0u32..20_000 {
            let stored = i.to_le_bytes();
            let id = Hash::of(&stored);
            packer
                .add(ObjectKind::Chunk, id, Compression::Raw, &stored, 4)
                .unwrap();
        }
        let written = packer.finish().unwrap();
        assert!(written.len() > 1);
        for pack in &written {
            assert!(
                pack.size <= target as u64,
                "a pack of {} objects is {} bytes, over the {target}-byte target",
                pack.entries.len(),
                pack.size
            );
        }
        assert_eq!(
            written.iter().map(|p| p.entries.len()).sum::<usize>(),
            20_000
        );
    }
}
