//! Registered writers: the engine's half of the GC protocol.
//!
//! Everything that stores packs holds a [`Writer`]. Creating one registers this process
//! in the index (with the current GC epoch) *before* the writer reads the index to
//! deduplicate; every pack is announced before its blob is stored. While the process
//! lives, GC neither deletes the writer's packs that are not yet indexed nor drops a
//! pack condemned after the writer registered (the writer may rely on its objects).
//! Dropping the writer ends the registration: packs it stored but never indexed are
//! deleted first (pack names are unique per write, so nobody else can rely on them).
//! A writer killed before that leaves its registration behind; GC sees the process is
//! gone and cleans up after it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::engine::Engine;
use crate::error::Result;
use crate::hash::PackId;
use crate::index::{Index, WriterKind};
use crate::store::{BlobBackend, PackJournal, pack_name};

/// A registered writer. Cheap to clone; the registration ends when the last clone is
/// dropped (or in the transaction that publishes the writer's work).
#[derive(Clone)]
pub struct Writer {
    inner: Arc<Inner>,
}

struct Inner {
    index: Arc<Index>,
    backend: Arc<dyn BlobBackend>,
    pin: u64,
    epoch: u64,
    stored: Mutex<Vec<PackId>>,
    released: AtomicBool,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("pin", &self.inner.pin)
            .field("epoch", &self.inner.epoch)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Registers a writer of this process.
    pub fn writer(&self) -> Result<Writer> {
        self.register(WriterKind::Writer)
    }

    /// Registers a writer or a GC.
    pub fn register(&self, kind: WriterKind) -> Result<Writer> {
        let (pin, epoch) = self.index.register(kind)?;
        crate::engine::failpoint::hit("writer-registered");
        Ok(Writer {
            inner: Arc::new(Inner {
                index: Arc::clone(&self.index),
                backend: Arc::clone(&self.backend),
                pin,
                epoch,
                stored: Mutex::default(),
                released: AtomicBool::new(false),
            }),
        })
    }
}

impl Writer {
    /// The registration's key in the index.
    #[must_use]
    pub fn pin(&self) -> u64 {
        self.inner.pin
    }

    /// What packers announce their packs to.
    #[must_use]
    pub fn journal(&self) -> Arc<dyn PackJournal> {
        Arc::clone(&self.inner) as Arc<dyn PackJournal>
    }

    /// The registration was removed by the transaction that published the work.
    pub fn published(&self) {
        self.inner.released.store(true, Ordering::Release);
    }
}

impl PackJournal for Inner {
    fn will_store(&self, pack: &PackId) -> Result<()> {
        self.index.announce_pack(self.pin, pack)?;
        self.stored
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(*pack);
        crate::engine::failpoint::hit("pack-announced");
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.released.load(Ordering::Acquire) {
            return;
        }
        let stored = std::mem::take(
            self.stored
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut deleted = Vec::new();
        for pack in stored {
            // Indexed packs are referenced (this writer published part of its work);
            // the rest nobody else knows, so they go. A failed delete stays announced,
            // for GC to retry once this registration is gone.
            match self.index.has_pack(&pack) {
                Ok(true) => deleted.push(pack),
                Ok(false) => match self.backend.delete(&pack_name(&pack)) {
                    Ok(()) => deleted.push(pack),
                    Err(e) => {
                        tracing::warn!(pack = %pack.short(), "cannot delete an unused pack: {e}");
                    }
                },
                Err(e) => tracing::warn!("cannot check the index: {e}"),
            }
        }
        if let Err(e) = self.index.abandon(self.pin, &deleted) {
            tracing::warn!("cannot end a writer's registration (gc will): {e}");
        }
    }
}
