//! The object pipeline: dedup → compress (one thread per core) → pack (one thread).
//!
//! Channels between the stages are bounded, so memory stays flat however large the
//! input: at most a few chunks per core are in flight, plus the pack being filled.
//! Small objects (the thousands of sources and `node_modules` files of a project) skip
//! the compressor threads: the thread that offers one compresses it and adds it to a
//! batch, and the packer receives whole batches. Handing each small object across two
//! channels cost two thread wake-ups per object (105,000 `futex` calls for a
//! 15,000-file checkpoint).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::engine::Engine;
use crate::engine::EngineError;
use crate::engine::writer::Writer;
use crate::error::Result;
use crate::hash::Hash;
use crate::index::IndexSnapshot;
use crate::object::ObjectKind;
use crate::object::block;
use crate::object::codec::{self, Compression};
use crate::object::delta;
use crate::store::{BlobBackend, PackSink, Packer, WrittenPack};

use super::bases::{self, DeltaInput};

/// The first repository format whose packs may hold deltas (older releases refuse it).
pub const DELTA_FORMAT: u32 = 3;

struct RawObject {
    kind: ObjectKind,
    id: Hash,
    raw: Vec<u8>,
    /// The old chunks to try compressing it against.
    delta: Option<DeltaInput>,
}

struct Compressed {
    kind: ObjectKind,
    id: Hash,
    compression: Compression,
    stored: Vec<u8>,
    raw_len: u32,
}

/// What goes to the packer: objects compressed one by one, or a solid block.
enum Packed {
    One(Compressed),
    Block(block::Sealed),
}

/// Counters of what the pipeline stored.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Objects not already in the repository.
    pub objects: AtomicU64,
    /// Their raw bytes.
    pub raw_bytes: AtomicU64,
    /// Their bytes after compression.
    pub stored_bytes: AtomicU64,
    /// Chunks of changed files recognised by their hash as chunks of the files'
    /// previous versions, without searching for their cut points.
    pub recognised_chunks: AtomicU64,
}

/// A running pipeline. Offer objects from any thread, then [`Pipeline::finish`].
pub struct Pipeline {
    tx: Option<SyncSender<RawObject>>,
    packed_tx: Option<SyncSender<Vec<Packed>>>,
    small: Mutex<SmallBatch>,
    /// Small objects waiting for their solid block, when the format has blocks.
    block: Option<Mutex<block::Builder>>,
    level: i32,
    workers: Vec<JoinHandle<()>>,
    packer: Option<JoinHandle<Result<Vec<WrittenPack>>>>,
    seen: Mutex<HashSet<Hash>>,
    snapshot: IndexSnapshot,
    stats: Arc<PipelineStats>,
    /// Where bases are read from, when the repository's format allows deltas.
    deltas: Option<Arc<dyn BlobBackend>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline that keeps nothing: objects are only hashed (for diffing a directory
    /// against a checkpoint).
    pub fn hashing(engine: &Engine) -> Result<Pipeline> {
        Self::start(engine, None)
    }

    /// Starts the compressor and packer threads, storing packs for `writer` (which must
    /// have registered before this call: the index snapshot taken here is what the
    /// writer deduplicates against).
    pub fn storing(engine: &Engine, writer: &Writer) -> Result<Pipeline> {
        Self::start(engine, Some(writer))
    }

    fn start(engine: &Engine, writer: Option<&Writer>) -> Result<Pipeline> {
        let snapshot = engine.index.snapshot()?;
        let stats = Arc::new(PipelineStats::default());
        let Some(writer) = writer else {
            return Ok(Pipeline {
                tx: None,
                packed_tx: None,
                small: Mutex::default(),
                block: None,
                level: engine.config.compression_level,
                workers: Vec::new(),
                packer: None,
                seen: Mutex::default(),
                snapshot,
                stats,
                deltas: None,
            });
        };
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let (raw_tx, raw_rx) = sync_channel::<RawObject>(threads);
        let (packed_tx, packed_rx) = sync_channel::<Vec<Packed>>(threads);
        let raw_rx = Arc::new(Mutex::new(raw_rx));
        let level = engine.config.compression_level;
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&raw_rx);
                let tx = packed_tx.clone();
                let stats = Arc::clone(&stats);
                std::thread::spawn(move || compress_loop(&rx, &tx, level, &stats))
            })
            .collect();
        let packer = Packer::new(
            Arc::clone(&engine.backend),
            writer.journal(),
            engine.config.pack_target as usize,
        )
        .with_compact_trailers(engine.config.compact_trailers());
        let packer = std::thread::spawn(move || pack_loop(&packed_rx, packer));
        Ok(Pipeline {
            tx: Some(raw_tx),
            packed_tx: Some(packed_tx),
            small: Mutex::default(),
            block: engine.config.blocks().then(Mutex::default),
            level,
            workers,
            packer: Some(packer),
            seen: Mutex::default(),
            snapshot,
            stats,
            deltas: (engine.config.format >= DELTA_FORMAT).then(|| Arc::clone(&engine.backend)),
        })
    }

    /// The index snapshot the pipeline dedups against (also used for the stat cache).
    pub fn snapshot(&self) -> &IndexSnapshot {
        &self.snapshot
    }

    /// Stores an object unless the repository or this run already has it.
    pub fn offer(&self, kind: ObjectKind, id: Hash, raw: Vec<u8>) -> Result<()> {
        self.offer_with(kind, id, || raw, &[])
    }

    /// Stores a chunk, borrowed (copied only if it is to be stored), unless the
    /// repository or this run already has it; `replaced` are the old chunks it most
    /// likely replaced, to store it as a delta against when that is much smaller.
    pub fn offer_chunk(&self, id: Hash, raw: &[u8], replaced: &[Hash]) -> Result<()> {
        self.offer_with(ObjectKind::Chunk, id, || raw.to_vec(), replaced)
    }

    fn offer_with(
        &self,
        kind: ObjectKind,
        id: Hash,
        raw: impl FnOnce() -> Vec<u8>,
        replaced: &[Hash],
    ) -> Result<()> {
        let Some(tx) = &self.tx else { return Ok(()) };
        if !self
            .seen
            .lock()
            .expect("seen-set lock is never poisoned")
            .insert(id)
        {
            return Ok(());
        }
        if self.snapshot.contains(&id)? {
            return Ok(());
        }
        let raw = raw();
        let delta = match &self.deltas {
            Some(backend) if !replaced.is_empty() && raw.len() >= delta::MIN_CHUNK => {
                bases::prepare(&self.snapshot, &**backend, replaced)
            }
            _ => None,
        };
        let obj = RawObject {
            kind,
            id,
            raw,
            delta,
        };
        if let Some(builder) = &self.block
            && obj.delta.is_none()
            && obj.raw.len() <= block::MEMBER_MAX
        {
            self.stats.objects.fetch_add(1, Ordering::Relaxed);
            let len = obj.raw.len() as u64;
            self.stats.raw_bytes.fetch_add(len, Ordering::Relaxed);
            let full = {
                let mut b = builder.lock().expect("block lock is never poisoned");
                b.push(obj.kind, obj.id, &obj.raw)
                    .then(|| std::mem::take(&mut *b))
            };
            return match full {
                Some(full) => self.send_block(full),
                None => Ok(()),
            };
        }
        if obj.raw.len() <= SMALL_OBJECT {
            let obj = compress_one(obj, self.level, &self.stats);
            let full = {
                let mut batch = self.small.lock().expect("batch lock is never poisoned");
                batch.bytes += obj.stored.len();
                batch.objects.push(obj);
                (batch.bytes >= SMALL_BATCH_BYTES || batch.objects.len() >= SMALL_BATCH_OBJECTS)
                    .then(|| std::mem::take(&mut *batch))
            };
            return match full {
                Some(batch) => self.send_batch(batch.objects),
                None => Ok(()),
            };
        }
        tx.send(obj)
            .map_err(|_| EngineError::Worker("the pack writer stopped".into()).into())
    }

    fn send_batch(&self, objects: Vec<Compressed>) -> Result<()> {
        self.send(objects.into_iter().map(Packed::One).collect())
    }

    /// Compresses a full (or last) block in the calling thread and hands it on.
    fn send_block(&self, mut full: block::Builder) -> Result<()> {
        let Some(sealed) = full.seal(self.level)? else {
            return Ok(());
        };
        let stored = sealed.stored.len() as u64;
        self.stats.stored_bytes.fetch_add(stored, Ordering::Relaxed);
        self.send(vec![Packed::Block(sealed)])
    }

    fn send(&self, packed: Vec<Packed>) -> Result<()> {
        let Some(tx) = &self.packed_tx else {
            return Ok(());
        };
        if packed.is_empty() {
            return Ok(());
        }
        tx.send(packed)
            .map_err(|_| EngineError::Worker("the pack writer stopped".into()).into())
    }

    /// Counters, shared: read them after [`Pipeline::finish`] for final figures.
    pub fn stats(&self) -> Arc<PipelineStats> {
        Arc::clone(&self.stats)
    }

    /// Drains the pipeline, writes the last pack, and returns every pack written.
    pub fn finish(mut self) -> Result<Vec<WrittenPack>> {
        let rest = std::mem::take(&mut *self.small.lock().expect("batch lock is never poisoned"));
        // Refused only by a packer that stopped on an error, which its join reports.
        let mut sent = self.send_batch(rest.objects);
        if let Some(builder) = &self.block {
            let last = std::mem::take(&mut *builder.lock().expect("block lock is never poisoned"));
            sent = sent.and_then(|()| self.send_block(last));
        }
        drop(self.packed_tx.take());
        drop(self.tx.take());
        for w in self.workers.drain(..) {
            w.join()
                .map_err(|_| EngineError::Worker("a compressor thread panicked".into()))?;
        }
        let packs = match self.packer.take() {
            Some(p) => p
                .join()
                .map_err(|_| EngineError::Worker("the pack writer panicked".into()))??,
            None => Vec::new(),
        };
        sent.map(|()| packs)
    }
}

/// Objects up to this size are compressed by the thread offering them and batched.
const SMALL_OBJECT: usize = 64 * 1024;
/// A batch of small objects goes to the packer at this many stored bytes…
const SMALL_BATCH_BYTES: usize = 1024 * 1024;
/// …or this many objects, whichever comes first.
const SMALL_BATCH_OBJECTS: usize = 256;

/// Small objects compressed and waiting to go to the packer together.
#[derive(Default)]
struct SmallBatch {
    objects: Vec<Compressed>,
    bytes: usize,
}

fn compress_one(obj: RawObject, level: i32, stats: &PipelineStats) -> Compressed {
    let raw_len = obj.raw.len();
    let as_delta = obj
        .delta
        .and_then(|d| delta::encode(&obj.raw, level, &d.header, &d.prefix).ok());
    let (mut compression, mut stored) = codec::compress(obj.raw, level);
    // A delta is kept only when it saves a tenth at least: reading it costs its bases.
    if let Some(d) = as_delta
        && d.len() * 10 < stored.len() * 9
    {
        (compression, stored) = (Compression::Delta, d);
    }
    stats.objects.fetch_add(1, Ordering::Relaxed);
    stats.raw_bytes.fetch_add(raw_len as u64, Ordering::Relaxed);
    stats
        .stored_bytes
        .fetch_add(stored.len() as u64, Ordering::Relaxed);
    Compressed {
        kind: obj.kind,
        id: obj.id,
        compression,
        stored,
        raw_len: raw_len as u32,
    }
}

fn compress_loop(
    rx: &Mutex<Receiver<RawObject>>,
    tx: &SyncSender<Vec<Packed>>,
    level: i32,
    stats: &PipelineStats,
) {
    loop {
        let next = rx.lock().expect("receiver lock is never poisoned").recv();
        let Ok(obj) = next else { return };
        if tx
            .send(vec![Packed::One(compress_one(obj, level, stats))])
            .is_err()
        {
            return;
        }
    }
}

fn pack_loop(rx: &Receiver<Vec<Packed>>, mut packer: Packer) -> Result<Vec<WrittenPack>> {
    while let Ok(batch) = rx.recv() {
        for packed in batch {
            match packed {
                Packed::One(o) => packer.add(o.kind, o.id, o.compression, &o.stored, o.raw_len)?,
                Packed::Block(b) => packer.add_block(&b)?,
            }
        }
    }
    packer.finish()
}
