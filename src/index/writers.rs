//! The index side of the GC protocol: registered writers, packs announced but not yet
//! indexed, packs a GC plan condemned, and packs whose deletion is pending.
//!
//! The rules these tables serve are stated in `docs/architecture.md` ("GC"); in short:
//! a writer registers (with its process identity and the current GC epoch) before it
//! reads the index to deduplicate, announces every pack before storing it, and leaves
//! the tables in the transaction that indexes its packs or when it gives up. A GC plan
//! condemns packs under a new epoch; writers that registered after that never
//! deduplicate against condemned packs, and a condemned pack is only dropped once no
//! live writer of an older epoch remains.

use std::collections::{HashMap, HashSet};

use redb::{ReadableTable, WriteTransaction};

use super::db::{Index, now_s};
use super::error::IndexError;
use super::objects::insert_packs;
use super::records::PackRecord;
use super::tables::{CONDEMNED, DELETING, META, OBJECTS, PACKS, PENDING_PACKS, WRITERS};
pub use super::writer_record::{WriterKind, WriterRecord};
use crate::error::Error;

type Result<T, E = IndexError> = std::result::Result<T, E>;
use crate::hash::{Hash, PackId};
use crate::liveness::{Liveness, ProcessId};
use crate::store::WrittenPack;

const GC_EPOCH: &str = "gc-epoch";
/// How long a gc this host cannot look up (another machine or container) counts as
/// running, for the one-gc-at-a-time rule.
const GC_ELSEWHERE_S: u64 = 24 * 3600;

fn epoch(txn: &WriteTransaction) -> Result<u64> {
    Ok(txn
        .open_table(META)?
        .get(GC_EPOCH)?
        .map_or(0, |v| v.value()))
}

/// The GC's view of the index, read in one transaction so that the tables agree.
#[derive(Debug, Default)]
pub struct GcView {
    /// Registered writers.
    pub writers: Vec<(u64, WriterRecord)>,
    /// Announced packs not yet indexed, with their writer's pin.
    pub pending: HashMap<PackId, u64>,
    /// Condemned packs, with their epoch.
    pub condemned: HashMap<PackId, u64>,
    /// Packs dropped whose blobs may remain.
    pub deleting: HashSet<PackId>,
    /// Indexed packs.
    pub packs: HashMap<PackId, PackRecord>,
}

/// What the apply step of a GC plan asks the index to do.
#[derive(Debug)]
pub struct SweepRequest<'a> {
    /// Packs to drop: no object in them was live when the plan was made.
    pub delete: &'a [PackId],
    /// Packs rewritten: their live objects were copied into `written`.
    pub repacked: &'a [PackId],
    /// The copies, to index (they take over the live objects' locations).
    pub written: &'a [WrittenPack],
    /// The GC's own registration, which does not hold anything back.
    pub own_pin: u64,
    /// How long a writer this host cannot look up counts as running.
    pub grace_s: u64,
}

/// What the apply step did.
#[derive(Debug, Default)]
pub struct SweepOutcome {
    /// Packs dropped from the index; their blobs are to be deleted now.
    pub dropped: Vec<PackId>,
    /// Packs left condemned: a writer registered before they were condemned still runs
    /// and may rely on them. A later `gc` drops them.
    pub deferred: Vec<PackId>,
    /// Packs that hold an object something published after the plan reaches: no longer
    /// condemned.
    pub spared: Vec<PackId>,
}

impl Index {
    /// Registers a writer (or a GC) of this process; returns its pin and the GC epoch
    /// it registered at. Must happen before the writer reads the index to deduplicate.
    pub fn register(&self, kind: WriterKind) -> Result<(u64, u64)> {
        let pin = rand::random::<u64>();
        self.write(|txn| {
            if kind == WriterKind::Gc {
                for row in txn.open_table(WRITERS)?.iter()? {
                    let rec = WriterRecord::decode(row?.1.value())?;
                    if rec.kind == WriterKind::Gc && rec.may_run(GC_ELSEWHERE_S) {
                        return Err(IndexError::Conflict("another gc is running".into()));
                    }
                }
            }
            let epoch = epoch(txn)?;
            let rec = WriterRecord {
                process: ProcessId::current(),
                epoch,
                created_s: now_s(),
                kind,
            };
            txn.open_table(WRITERS)?
                .insert(pin, rec.encode().as_slice())?;
            Ok((pin, epoch))
        })
    }

    /// The current GC epoch: it moves on whenever packs are condemned here (a gc plan,
    /// or marks learned from a shared bucket).
    pub fn gc_epoch(&self) -> Result<u64> {
        let txn = self.begin_read()?;
        Ok(txn
            .open_table(META)?
            .get(GC_EPOCH)?
            .map_or(0, |v| v.value()))
    }

    /// The epoch from which a publication of this process must be checked: the oldest
    /// at which a writer of this process that is still registered started (what it
    /// stored may be relied on by what is published now), or the current epoch.
    pub fn publication_epoch(&self) -> Result<u64> {
        let here = ProcessId::current();
        let view = self.gc_view()?;
        let current = self.gc_epoch()?;
        Ok(view
            .writers
            .iter()
            .filter(|(_, w)| w.kind == WriterKind::Writer && here.is_some() && w.process == here)
            .map(|(_, w)| w.epoch)
            .fold(current, u64::min))
    }

    /// Indexes packs a writer stored, before it publishes (see `engine::gc::guard`):
    /// their objects can then be read and judged like any other.
    pub fn insert_written(&self, packs: &[WrittenPack]) -> Result<()> {
        if packs.is_empty() {
            return Ok(());
        }
        self.write(|txn| insert_packs(txn, packs))
    }

    /// Announces that the writer `pin` is about to store `pack`.
    pub fn announce_pack(&self, pin: u64, pack: &PackId) -> Result<()> {
        self.write(|txn| {
            txn.open_table(PENDING_PACKS)?
                .insert(pack.0.as_bytes(), pin)?;
            Ok(())
        })
    }

    /// Removes a writer's registration and its announcements (it published, or it gave
    /// up after deleting what it had stored).
    pub fn release(&self, pin: u64) -> Result<()> {
        self.write(|txn| release_in(txn, pin))
    }

    /// Ends a registration without publishing: the `kept` packs are indexed (their
    /// objects are stored, for a later writer to deduplicate against), the
    /// announcements of `deleted` packs go (their blobs are gone or indexed); any other
    /// announcement stays, with no registered writer, for GC to delete.
    pub fn abandon(&self, pin: u64, deleted: &[PackId], kept: &[WrittenPack]) -> Result<()> {
        self.write(|txn| {
            insert_packs(txn, kept)?;
            txn.open_table(WRITERS)?.remove(pin)?;
            let mut pending = txn.open_table(PENDING_PACKS)?;
            for p in deleted {
                pending.remove(p.0.as_bytes())?;
            }
            Ok(())
        })
    }

    /// Writers of this host that died registered (killed, say), with the packs they
    /// announced and that no gc is deleting: what a new writer may adopt.
    pub fn dead_writers(&self) -> Result<Vec<(u64, Vec<PackId>)>> {
        let txn = self.begin_read()?;
        let mut dead: HashMap<u64, Vec<PackId>> = HashMap::new();
        for row in txn.open_table(WRITERS)?.iter()? {
            let (pin, v) = row?;
            let rec = WriterRecord::decode(v.value())?;
            if rec.process.map(ProcessId::liveness) == Some(Liveness::Dead) {
                dead.insert(pin.value(), Vec::new());
            }
        }
        if dead.is_empty() {
            return Ok(Vec::new());
        }
        let deleting = txn.open_table(DELETING)?;
        for row in txn.open_table(PENDING_PACKS)?.iter()? {
            let (k, pin) = row?;
            if let Some(packs) = dead.get_mut(&pin.value())
                && deleting.get(k.value())?.is_none()
            {
                packs.push(PackId(Hash::from_bytes(k.value())));
            }
        }
        Ok(dead.into_iter().collect())
    }

    /// Adopts what dead writers stored: indexes `packs` (each still announced by one of
    /// the writers `dead` and not claimed by a gc meanwhile; the others are left out)
    /// and ends the registrations `finished` (writers all of whose stored packs are
    /// among `packs`) with their remaining announcements (packs never stored).
    /// Returns how many packs were indexed.
    pub fn adopt(&self, dead: &[u64], finished: &[u64], packs: &[WrittenPack]) -> Result<usize> {
        self.write(|txn| {
            let mut take = Vec::new();
            {
                let pending = txn.open_table(PENDING_PACKS)?;
                let deleting = txn.open_table(DELETING)?;
                for p in packs {
                    let key = p.id.0.as_bytes();
                    let announced = pending
                        .get(key)?
                        .is_some_and(|pin| dead.contains(&pin.value()));
                    if announced && deleting.get(key)?.is_none() {
                        take.push(p.clone());
                    }
                }
            }
            insert_packs(txn, &take)?;
            for pin in finished {
                release_in(txn, *pin)?;
            }
            Ok(take.len())
        })
    }

    /// Claims abandoned packs for deletion: those still not indexed (a writer may have
    /// adopted one since the plan) are marked as being deleted, so that nothing indexes
    /// them any more, and returned.
    pub fn claim_abandoned(&self, packs: &[PackId]) -> Result<Vec<PackId>> {
        if packs.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|txn| {
            let indexed = txn.open_table(PACKS)?;
            let mut deleting = txn.open_table(DELETING)?;
            let mut claimed = Vec::new();
            for p in packs {
                if indexed.get(p.0.as_bytes())?.is_none() {
                    deleting.insert(p.0.as_bytes(), now_s())?;
                    claimed.push(*p);
                }
            }
            Ok(claimed)
        })
    }

    /// Whether a pack is indexed.
    pub fn has_pack(&self, pack: &PackId) -> Result<bool> {
        let txn = self.begin_read()?;
        Ok(txn.open_table(PACKS)?.get(pack.0.as_bytes())?.is_some())
    }

    /// Every registered writer.
    pub fn writers(&self) -> Result<Vec<(u64, WriterRecord)>> {
        Ok(self.gc_view()?.writers)
    }

    /// Writers, announcements, condemned, deleting and indexed packs, as of one moment.
    pub fn gc_view(&self) -> Result<GcView> {
        let txn = self.begin_read()?;
        let mut view = GcView::default();
        for row in txn.open_table(WRITERS)?.iter()? {
            let (k, v) = row?;
            view.writers
                .push((k.value(), WriterRecord::decode(v.value())?));
        }
        for row in txn.open_table(PENDING_PACKS)?.iter()? {
            let (k, v) = row?;
            view.pending
                .insert(PackId(Hash::from_bytes(k.value())), v.value());
        }
        for row in txn.open_table(CONDEMNED)?.iter()? {
            let (k, v) = row?;
            view.condemned
                .insert(PackId(Hash::from_bytes(k.value())), v.value());
        }
        for row in txn.open_table(DELETING)?.iter()? {
            view.deleting
                .insert(PackId(Hash::from_bytes(row?.0.value())));
        }
        for row in txn.open_table(PACKS)?.iter()? {
            let (k, v) = row?;
            view.packs.insert(
                PackId(Hash::from_bytes(k.value())),
                PackRecord::decode(v.value())?,
            );
        }
        Ok(view)
    }

    /// Condemns packs under a new GC epoch (a pack condemned before keeps its older
    /// epoch) and lifts the condemnation of packs found live again; returns the epoch.
    pub fn condemn(&self, packs: &[PackId], live_again: &[PackId]) -> Result<u64> {
        self.write(|txn| {
            let next = epoch(txn)? + 1;
            txn.open_table(META)?.insert(GC_EPOCH, next)?;
            let indexed = txn.open_table(PACKS)?;
            let mut condemned = txn.open_table(CONDEMNED)?;
            for p in live_again {
                condemned.remove(p.0.as_bytes())?;
            }
            let mut newly = HashSet::new();
            for p in packs {
                let known = indexed.get(p.0.as_bytes())?.is_some();
                if known && condemned.get(p.0.as_bytes())?.is_none() {
                    condemned.insert(p.0.as_bytes(), next)?;
                    newly.insert(*p);
                }
            }
            drop((indexed, condemned));
            if !newly.is_empty() {
                let lost = super::stat_trust::objects_in(txn, &newly)?;
                super::stat_trust::removed(txn, &lost)?;
            }
            Ok(next)
        })
    }

    /// The apply step of a GC plan, in one transaction. `rescue` runs inside it, while
    /// no other transaction can commit, and returns the packs holding an object that is
    /// reachable now but was not when the plan was made: those are spared.
    pub fn apply_sweep(
        &self,
        req: &SweepRequest<'_>,
        rescue: impl FnOnce() -> Result<HashSet<PackId>, Error>,
    ) -> Result<SweepOutcome, Error> {
        self.write(|txn| {
            let oldest_running = oldest_running(txn, req)?;
            let spare = rescue()?;
            Ok(sweep_in(txn, req, oldest_running, &spare)?)
        })
    }
}

/// The oldest epoch a writer that may still run (other than the GC itself) registered
/// at: it may have deduplicated against anything condemned after that.
fn oldest_running(txn: &WriteTransaction, req: &SweepRequest<'_>) -> Result<u64> {
    let mut oldest = u64::MAX;
    for row in txn.open_table(WRITERS)?.iter()? {
        let (pin, v) = row?;
        let rec = WriterRecord::decode(v.value())?;
        if pin.value() != req.own_pin && rec.may_run(req.grace_s) {
            oldest = oldest.min(rec.epoch);
        }
    }
    Ok(oldest)
}

/// Drops what can be dropped, defers and spares the rest (see [`Index::apply_sweep`]).
fn sweep_in(
    txn: &WriteTransaction,
    req: &SweepRequest<'_>,
    oldest_running: u64,
    spare: &HashSet<PackId>,
) -> Result<SweepOutcome> {
    let mut out = SweepOutcome::default();
    let mut condemned = txn.open_table(CONDEMNED)?;
    let indexed = txn.open_table(PACKS)?;
    let mut dropped = Vec::new();
    for p in req.delete.iter().chain(req.repacked) {
        let Some(at) = condemned.get(p.0.as_bytes())?.map(|v| v.value()) else {
            continue; // not condemned (any more): leave it
        };
        if indexed.get(p.0.as_bytes())?.is_none() {
            condemned.remove(p.0.as_bytes())?;
        } else if spare.contains(p) {
            condemned.remove(p.0.as_bytes())?;
            out.spared.push(*p);
        } else if oldest_running < at {
            out.deferred.push(*p);
        } else {
            condemned.remove(p.0.as_bytes())?;
            dropped.push(*p);
        }
    }
    drop((condemned, indexed));
    drop_packs_in(txn, &dropped)?;
    let mut deleting = txn.open_table(DELETING)?;
    for p in &dropped {
        deleting.insert(p.0.as_bytes(), now_s())?;
    }
    drop(deleting);
    insert_packs(txn, req.written)?;
    out.dropped = dropped;
    Ok(out)
}

impl Index {
    /// Forgets packs whose blobs are gone: pending deletions done, and announcements of
    /// dead writers (with the writers themselves).
    pub fn forget_deleted(&self, packs: &[PackId], dead_pins: &[u64]) -> Result<()> {
        self.write(|txn| {
            let mut deleting = txn.open_table(DELETING)?;
            let mut pending = txn.open_table(PENDING_PACKS)?;
            for p in packs {
                deleting.remove(p.0.as_bytes())?;
                pending.remove(p.0.as_bytes())?;
            }
            drop(deleting);
            drop(pending);
            for pin in dead_pins {
                release_in(txn, *pin)?;
            }
            Ok(())
        })
    }
}

/// Removes a registration and its remaining announcements.
pub(super) fn release_in(txn: &WriteTransaction, pin: u64) -> Result<()> {
    txn.open_table(WRITERS)?.remove(pin)?;
    txn.open_table(PENDING_PACKS)?.retain(|_, v| v != pin)?;
    Ok(())
}

/// Drops packs and every object located in them (returned), and the stat cache rows
/// naming those objects.
pub(super) fn drop_packs_in(txn: &WriteTransaction, removed: &[PackId]) -> Result<HashSet<Hash>> {
    if removed.is_empty() {
        return Ok(HashSet::new());
    }
    let mut packs = txn.open_table(PACKS)?;
    for id in removed {
        packs.remove(id.0.as_bytes())?;
    }
    drop(packs);
    let gone = super::pack_numbers::forget(txn, removed)?;
    let mut lost = HashSet::new();
    let mut objects = txn.open_table(OBJECTS)?;
    objects.retain(|k, v| {
        let keep =
            super::records::ObjectLocation::pack_number(v).map_or(true, |n| !gone.contains(&n));
        if !keep {
            lost.insert(Hash::from_bytes(k));
        }
        keep
    })?;
    drop(objects);
    super::stat_trust::removed(txn, &lost)?;
    Ok(lost)
}
