//! The object pipeline: dedup → compress (one thread per core) → pack (one thread).
//!
//! Channels between the stages are bounded, so memory stays flat however large the
//! input: at most a few chunks per core are in flight, plus the pack being filled.

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
use crate::object::codec::{self, Compression};
use crate::store::{PackSink, Packer, WrittenPack};

struct RawObject {
    kind: ObjectKind,
    id: Hash,
    raw: Vec<u8>,
}

struct Compressed {
    kind: ObjectKind,
    id: Hash,
    compression: Compression,
    stored: Vec<u8>,
    raw_len: u32,
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
}

/// A running pipeline. Offer objects from any thread, then [`Pipeline::finish`].
pub struct Pipeline {
    tx: Option<SyncSender<RawObject>>,
    workers: Vec<JoinHandle<()>>,
    packer: Option<JoinHandle<Result<Vec<WrittenPack>>>>,
    seen: Mutex<HashSet<Hash>>,
    snapshot: IndexSnapshot,
    stats: Arc<PipelineStats>,
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
                workers: Vec::new(),
                packer: None,
                seen: Mutex::default(),
                snapshot,
                stats,
            });
        };
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let (raw_tx, raw_rx) = sync_channel::<RawObject>(threads);
        let (packed_tx, packed_rx) = sync_channel::<Compressed>(threads);
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
        drop(packed_tx);
        let packer = Packer::new(
            Arc::clone(&engine.backend),
            writer.journal(),
            engine.config.pack_target as usize,
        );
        let packer = std::thread::spawn(move || pack_loop(&packed_rx, packer));
        Ok(Pipeline {
            tx: Some(raw_tx),
            workers,
            packer: Some(packer),
            seen: Mutex::default(),
            snapshot,
            stats,
        })
    }

    /// The index snapshot the pipeline dedups against (also used for the stat cache).
    pub fn snapshot(&self) -> &IndexSnapshot {
        &self.snapshot
    }

    /// Stores an object unless the repository or this run already has it.
    pub fn offer(&self, kind: ObjectKind, id: Hash, raw: Vec<u8>) -> Result<()> {
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
        tx.send(RawObject { kind, id, raw })
            .map_err(|_| EngineError::Worker("the pack writer stopped".into()).into())
    }

    /// Counters, shared: read them after [`Pipeline::finish`] for final figures.
    pub fn stats(&self) -> Arc<PipelineStats> {
        Arc::clone(&self.stats)
    }

    /// Drains the pipeline, writes the last pack, and returns every pack written.
    pub fn finish(mut self) -> Result<Vec<WrittenPack>> {
        drop(self.tx.take());
        for w in self.workers.drain(..) {
            w.join()
                .map_err(|_| EngineError::Worker("a compressor thread panicked".into()))?;
        }
        match self.packer.take() {
            Some(p) => p
                .join()
                .map_err(|_| EngineError::Worker("the pack writer panicked".into()))?,
            None => Ok(Vec::new()),
        }
    }
}

fn compress_loop(
    rx: &Mutex<Receiver<RawObject>>,
    tx: &SyncSender<Compressed>,
    level: i32,
    stats: &PipelineStats,
) {
    loop {
        let next = rx.lock().expect("receiver lock is never poisoned").recv();
        let Ok(obj) = next else { return };
        let raw_len = obj.raw.len();
        let (compression, stored) = codec::compress(obj.raw, level);
        stats.objects.fetch_add(1, Ordering::Relaxed);
        stats.raw_bytes.fetch_add(raw_len as u64, Ordering::Relaxed);
        stats
            .stored_bytes
            .fetch_add(stored.len() as u64, Ordering::Relaxed);
        let out = Compressed {
            kind: obj.kind,
            id: obj.id,
            compression,
            stored,
            raw_len: raw_len as u32,
        };
        if tx.send(out).is_err() {
            return;
        }
    }
}

fn pack_loop(rx: &Receiver<Compressed>, mut packer: Packer) -> Result<Vec<WrittenPack>> {
    while let Ok(obj) = rx.recv() {
        packer.add(obj.kind, obj.id, obj.compression, &obj.stored, obj.raw_len)?;
    }
    packer.finish()
}
