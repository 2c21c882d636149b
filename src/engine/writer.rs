//! Registered writers: the engine's half of the GC protocol.
//!
//! Everything that stores packs holds a [`Writer`]. Creating one registers this process
//! in the index (with the current GC epoch) *before* the writer reads the index to
//! deduplicate; every pack is announced before its blob is stored. While the process
//! lives, GC neither deletes the writer's packs that are not yet indexed nor drops a
//! pack condemned after the writer registered (the writer may rely on its objects).
//! Dropping the writer ends the registration: packs it stored but never indexed are
//! indexed then, in the same transaction (a re-run deduplicates against them); a pack
//! that cannot be read back is deleted (pack names are unique per write, so nobody
//! else can rely on it).
//! A writer killed before that leaves its registration behind; GC sees the process is
//! gone and cleans up after it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::engine::Engine;
use crate::error::Result;
use crate::hash::PackId;
use crate::index::{Index, WriterKind};
use crate::store::{BlobBackend, PackJournal, WrittenPack, pack_name, read_trailer};

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
    /// Registers a writer of this process, then adopts what writers of this host
    /// stored before they died (see [`Engine::adopt_dead_writers`]).
    pub fn writer(&self) -> Result<Writer> {
        if crate::engine::shared::enabled(self) {
            // Before anything deduplicates: no condemned pack is relied on.
            crate::engine::gc::learn(self)?;
        }
        let writer = self.register(WriterKind::Writer)?;
        match self.adopt_dead_writers() {
            Ok(0) => {}
            Ok(n) => tracing::info!("took in {n} packs a killed writer had stored"),
            Err(e) => {
                tracing::warn!("cannot take in a killed writer's packs (gc removes them): {e}");
            }
        }
        Ok(writer)
    }

    /// Indexes the packs that writers of this host stored before they died (a
    /// `kill -9` in the middle of a checkpoint), so that a re-run deduplicates against
    /// them instead of storing (uploading) everything again, and ends those
    /// registrations. Runs after this writer registered: a gc that condemns an adopted
    /// pack later defers it while this writer runs. A pack a gc claimed meanwhile, or
    /// whose trailer cannot be read, is left to gc. Returns how many packs were indexed.
    pub fn adopt_dead_writers(&self) -> Result<usize> {
        let dead = self.index.dead_writers()?;
        if dead.is_empty() {
            return Ok(0);
        }
        let (mut pins, mut finished, mut packs) = (Vec::new(), Vec::new(), Vec::new());
        for (pin, announced) in dead {
            let mut whole = true;
            for pack in announced {
                let name = pack_name(&pack);
                let Some(size) = self.backend.size(&name)? else {
                    continue; // never stored
                };
                match read_trailer(self.backend.as_ref(), &name, size) {
                    Ok(entries) => packs.push(WrittenPack {
                        id: pack,
                        size,
                        entries,
                    }),
                    Err(e) => {
                        tracing::debug!(pack = %pack.short(), "a killed writer's pack is left to gc: {e}");
                        whole = false;
                    }
                }
            }
            pins.push(pin);
            if whole {
                finished.push(pin);
            }
        }
        crate::engine::failpoint::hit("writer-before-adopt");
        Ok(self.index.adopt(&pins, &finished, &packs)?)
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

    /// The GC epoch the writer registered at: packs condemned at a later epoch may be
    /// relied on by what it stored.
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.inner.epoch
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

impl Inner {
    /// A pack this writer announced, if its blob is stored: its trailer lists what it
    /// holds. `None` if it never reached the store.
    fn stored_pack(&self, pack: &PackId) -> Result<Option<WrittenPack>> {
        let name = pack_name(pack);
        let Some(size) = self.backend.size(&name)? else {
            return Ok(None);
        };
        let entries = read_trailer(self.backend.as_ref(), &name, size)?;
        Ok(Some(WrittenPack {
            id: *pack,
            size,
            entries,
        }))
    }

    /// Deletes a pack nobody can rely on; a failed delete stays announced, for GC to
    /// retry once this registration is gone.
    fn delete(&self, pack: PackId, done: &mut Vec<PackId>) {
        match self.backend.delete(&pack_name(&pack)) {
            Ok(()) => done.push(pack),
            Err(e) => tracing::warn!(pack = %pack.short(), "cannot delete an unused pack: {e}"),
        }
    }
}

impl Drop for Inner {
    /// A writer that gives up keeps what it stored: its packs are indexed, so that a
    /// re-run (after a network fault, say) deduplicates against them instead of
    /// uploading them again; `gc` removes them later if nothing comes to need them.
    /// A pack that cannot be read back is deleted, as nobody else can rely on it.
    fn drop(&mut self) {
        if self.released.load(Ordering::Acquire) {
            return;
        }
        let stored = std::mem::take(
            self.stored
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut done = Vec::new();
        let mut kept = Vec::new();
        for pack in stored {
            match self.index.has_pack(&pack) {
                // Indexed: this writer published part of its work.
                Ok(true) => done.push(pack),
                Ok(false) => match self.stored_pack(&pack) {
                    Ok(Some(written)) => kept.push(written),
                    Ok(None) => done.push(pack),
                    Err(e) => {
                        tracing::warn!(pack = %pack.short(), "cannot read back a stored pack: {e}");
                        self.delete(pack, &mut done);
                    }
                },
                Err(e) => tracing::warn!("cannot check the index: {e}"),
            }
        }
        if let Err(e) = self.index.abandon(self.pin, &done, &kept) {
            tracing::warn!("cannot keep the packs of a writer that gave up: {e}");
            // Not indexed, so nobody can rely on them: delete them (or leave them
            // announced, for gc, if that fails too).
            for pack in kept {
                self.delete(pack.id, &mut done);
            }
            if let Err(e) = self.index.abandon(self.pin, &done, &[]) {
                tracing::warn!("cannot end a writer's registration (gc will): {e}");
            }
        }
    }
}
