//! Applying a plan: condemn, copy live objects out of mostly dead packs, drop packs in
//! one index transaction that first re-checks what is reachable now, then delete blobs.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use super::mark::{Marker, Roots};
use super::plan::{GcPlan, PlanState, plan};
use crate::engine::writer::Writer;
use crate::engine::{Engine, EngineError};
use crate::error::{Error, Result};
use crate::hash::{Hash, PackId};
use crate::index::{ObjectLocation, SweepRequest, WriterKind};
use crate::store::{MACHINES_PREFIX, PackSink, Packer, WrittenPack, pack_name};

/// GC settings.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Indexed packs younger than this are not examined; writers this host cannot look
    /// up (another machine or container) count as running for this long; unknown packs
    /// younger than this are never deleted. Defence in depth only: on this host a
    /// running writer is protected whatever the grace.
    pub grace: Duration,
    /// Plan only; change nothing.
    pub dry_run: bool,
    /// Also delete packs the index knows nothing of (older than the grace period).
    pub prune_unknown: bool,
    /// Collect an index that `reel index rebuild` made from the packs, accepting that
    /// data only the lost index referenced (project working trees, assets, renders)
    /// is deleted. Without it, GC refuses to run on a rebuilt index.
    pub after_rebuild: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            grace: Duration::from_secs(3600),
            dry_run: false,
            prune_unknown: false,
            after_rebuild: false,
        }
    }
}

/// What GC planned and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// The plan (what `--dry-run` prints).
    pub plan: GcPlan,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Packs deleted whole (or that would be, on a dry run): no live object, or never
    /// indexed and abandoned.
    pub packs_deleted: Vec<PackId>,
    /// Packs rewritten because they were mostly dead (or would be): their live objects
    /// were copied into new packs, then they were deleted.
    pub packs_repacked: Vec<PackId>,
    /// Condemned packs left for a later run: a writer that registered before they were
    /// condemned still runs.
    pub packs_deferred: Vec<PackId>,
    /// Packs the plan wanted but something published meanwhile needs: kept.
    pub packs_spared: Vec<PackId>,
    /// On a bucket other machines share: packs found dead and marked condemned in the
    /// bucket, deleted by a run after the grace period if still dead then.
    pub packs_condemned: Vec<PackId>,
    /// On a bucket other machines share: condemned packs found live again, whose mark
    /// was removed.
    pub packs_rescued: Vec<PackId>,
    /// Bytes the backend no longer holds (or would not, on a dry run).
    pub bytes_freed: u64,
    /// Session projects removed because their lifetime was over.
    pub expired_projects: u64,
    /// Overlay rows dropped (earlier generations, deleted projects).
    pub stale_overlay_rows: u64,
    /// On a cloud bucket: index segments replaced by one merged segment.
    pub segments_merged: u64,
    /// Stat cache rows dropped because their directory is no longer there.
    pub stale_stat_dirs: u64,
}

/// Refuses a collection that could delete what something this index does not know
/// needs: the index was rebuilt (unless `after_rebuild`) from packs that are not in a
/// shared bucket.
fn may_collect(engine: &Engine, opts: &GcOptions) -> Result<()> {
    // On a cloud backend the bucket holds every record (synced before the roots are
    // read): a rebuilt index lost nothing gc needs.
    if engine.index.rebuilt()? && !opts.after_rebuild && !crate::engine::shared::enabled(engine) {
        return Err(EngineError::RebuiltIndex.into());
    }
    Ok(())
}

/// Whether other machines share the backend (two or more `machines/` keys): then only
/// the two-phase collection of [`super::shared`] is safe.
fn shared_by_machines(engine: &Engine) -> Result<bool> {
    Ok(crate::engine::shared::enabled(engine) && engine.backend.list(MACHINES_PREFIX)?.len() > 1)
}

/// On a shared backend, brings the index in line with the bucket, whose records are
/// the roots: a checkpoint, project or record this index lacks (after a rebuild, or
/// made by another process) must count.
fn sync_roots(engine: &Engine) -> Result<()> {
    if crate::engine::shared::enabled(engine) {
        crate::engine::shared::sync(engine)?;
        crate::engine::tags::list(engine)?;
        for source in &engine.root_sources {
            source.sync(engine)?;
        }
    }
    Ok(())
}

/// How old a pack's staging file (on a local backend) must be for gc to remove it: a
/// writer appends to its file as it fills and publishes it seconds after the last write,
/// so a file untouched this long belongs to a writer that was killed.
const STAGING_STALE: Duration = Duration::from_secs(3600);

/// Plans and (unless `dry_run`) applies a collection.
pub fn gc(engine: &Engine, opts: &GcOptions) -> Result<GcReport> {
    if opts.dry_run {
        sync_roots(engine)?;
        let state = plan(engine, opts.grace, None)?;
        return Ok(dry_report(state.plan, opts));
    }
    // The store's time before the roots are read: what judges a mark ripe.
    let started = if shared_by_machines(engine)? {
        Some(super::shared::store_time(engine)?)
    } else {
        None
    };
    sync_roots(engine)?;
    may_collect(engine, opts)?;
    let mut report = if let Some(started) = started {
        super::shared::collect(engine, opts, started)?
    } else {
        collect_alone(engine, opts)?
    };
    let deleted = !report.packs_deleted.is_empty() || !report.packs_repacked.is_empty();
    report.segments_merged = crate::engine::segments::merge(engine, deleted)?;
    if opts.after_rebuild {
        engine.index.set_rebuilt(false)?;
    }
    Ok(report)
}

/// A collection by the only machine on the backend: condemn, copy, drop and delete in
/// one run.
fn collect_alone(engine: &Engine, opts: &GcOptions) -> Result<GcReport> {
    let gc = engine.register(WriterKind::Gc)?;
    let state = plan(engine, opts.grace, Some(gc.pin()))?;
    let mut report = GcReport {
        plan: state.plan.clone(),
        ..GcReport::default()
    };
    let condemned: Vec<PackId> = doomed(&state.plan).collect();
    engine.index.condemn(&condemned, &state.uncondemn)?;
    crate::engine::failpoint::hit("gc-after-plan");
    let mut repack_sources: Vec<PackId> = state.plan.repack.iter().map(|p| p.pack).collect();
    let written = rewrite(engine, &gc, &state, &mut repack_sources, false)?;
    let delete: Vec<PackId> = state.plan.delete.iter().map(|p| p.pack).collect();
    let outcome = engine.index.apply_sweep(
        &SweepRequest {
            delete: &delete,
            repacked: &repack_sources,
            written: &written,
            own_pin: gc.pin(),
            grace_s: opts.grace.as_secs(),
        },
        || rescue(engine, &state.live, &condemned),
    )?;
    crate::engine::failpoint::hit("gc-after-apply");
    let mut gone: Vec<PackId> = outcome.dropped.clone();
    let mut unindexed: Vec<PackId> = state.plan.abandoned.iter().map(|p| p.pack).collect();
    if opts.prune_unknown {
        unindexed.extend(state.plan.unknown.iter().map(|p| p.pack));
    }
    // A pack a writer adopted (or a sync indexed) since the plan is not deleted.
    gone.extend(engine.index.claim_abandoned(&unindexed)?);
    for pack in &gone {
        engine.backend.delete(&pack_name(pack))?;
    }
    engine.index.forget_deleted(&gone, &state.dead_pins)?;
    report.bytes_freed = freed(&state.plan, &gone, &outcome.dropped, opts.prune_unknown);
    report.packs_repacked = outcome
        .dropped
        .iter()
        .filter(|p| state.repack_objects.contains_key(p))
        .copied()
        .collect();
    report.packs_deleted = gone
        .into_iter()
        .filter(|p| !state.repack_objects.contains_key(p))
        .collect();
    report.packs_deferred = outcome.deferred;
    report.packs_spared = outcome.spared;
    drop(gc);
    report.stale_stat_dirs = engine.index.drop_stat_rows_of_missing_dirs()?;
    if let Some(files) = engine.backend.pack_files() {
        let swept = files.sweep(STAGING_STALE)?;
        if swept > 0 {
            tracing::info!("removed {swept} staging files left by killed writers");
        }
    }
    engine.index.compact();
    Ok(report)
}

/// Indexed packs the plan deletes or rewrites.
fn doomed(plan: &GcPlan) -> impl Iterator<Item = PackId> + '_ {
    plan.delete.iter().chain(&plan.repack).map(|p| p.pack)
}

fn dry_report(plan: GcPlan, opts: &GcOptions) -> GcReport {
    let mut deleted: Vec<PackId> = plan
        .delete
        .iter()
        .chain(&plan.abandoned)
        .map(|p| p.pack)
        .collect();
    if opts.prune_unknown {
        deleted.extend(plan.unknown.iter().map(|p| p.pack));
    }
    let unknown_bytes: u64 = plan.unknown.iter().map(|p| p.size).sum();
    GcReport {
        bytes_freed: plan.bytes_freed + if opts.prune_unknown { unknown_bytes } else { 0 },
        packs_deleted: deleted,
        packs_repacked: plan.repack.iter().map(|p| p.pack).collect(),
        dry_run: true,
        plan,
        ..GcReport::default()
    }
}

/// Bytes actually freed: dropped packs as planned (less the live bytes a repack kept),
/// abandoned and (if asked) unknown packs.
fn freed(plan: &GcPlan, gone: &[PackId], dropped: &[PackId], prune_unknown: bool) -> u64 {
    let gone: HashSet<&PackId> = gone.iter().collect();
    let dropped: HashSet<&PackId> = dropped.iter().collect();
    let mut total = 0;
    for p in &plan.delete {
        if dropped.contains(&p.pack) {
            total += p.size;
        }
    }
    for p in &plan.repack {
        if dropped.contains(&p.pack) {
            total += p.size - p.live_bytes;
        }
    }
    let extra = plan
        .abandoned
        .iter()
        .chain(plan.unknown.iter().filter(|_| prune_unknown));
    for p in extra {
        if gone.contains(&p.pack) {
            total += p.size;
        }
    }
    total
}

/// Inside the apply transaction (no other writer can commit): the condemned packs
/// holding an object that is reachable now but was not when the plan was made.
pub(super) fn rescue(
    engine: &Engine,
    live: &HashSet<Hash>,
    condemned: &[PackId],
) -> Result<HashSet<PackId>> {
    let condemned: HashSet<&PackId> = condemned.iter().collect();
    let mut marker = Marker::beyond(live);
    marker.mark(engine, &Roots::read(engine)?)?;
    let mut spare = HashSet::new();
    for id in marker.into_marked() {
        if let Some(loc) = engine.index.location(&id)?
            && condemned.contains(&loc.pack)
        {
            spare.insert(loc.pack);
        }
    }
    Ok(spare)
}

/// Copies live objects out of mostly-dead packs into new packs (no recompression),
/// verifying each first so a repack never launders a damaged object. With `skip_gone`
/// (a shared bucket), a pack already deleted is left out of `sources`.
pub(super) fn rewrite(
    engine: &Engine,
    gc: &Writer,
    state: &PlanState,
    sources: &mut Vec<PackId>,
    skip_gone: bool,
) -> Result<Vec<WrittenPack>> {
    let mut packer = Packer::new(
        engine.backend.clone(),
        gc.journal(),
        engine.config.pack_target as usize,
    )
    .with_small_objects(engine.config.compression_level, engine.config.blocks())
    .with_compact_trailers(engine.config.compact_trailers());
    let mut gone = Vec::new();
    for pack in sources.iter() {
        let objects = &state.repack_objects[pack];
        let bytes: Bytes = match engine.backend.get(&pack_name(pack)) {
            Ok(bytes) => bytes,
            // Another machine's gc repacked it first: nothing to copy, nothing to drop.
            Err(crate::store::StoreError::NotFound { .. }) if skip_gone => {
                gone.push(*pack);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // In pack order: a solid block's live members are read one after another
        // (their block decompressed once) and stay neighbours in their new block.
        let mut in_order: Vec<&(Hash, ObjectLocation)> = objects.iter().collect();
        in_order.sort_by_key(|(_, loc)| (loc.offset, block_start(loc)));
        for (id, loc) in in_order {
            let stored = stored_bytes(&bytes, pack, loc)?;
            let raw = engine.decode_stored(id, loc, stored, crate::object::delta::MAX_DEPTH)?;
            crate::engine::read::verify(id, loc, &raw)?;
            copy_verified(&mut packer, id, loc, stored, &raw)?;
        }
    }
    sources.retain(|p| !gone.contains(p));
    packer.finish()
}

/// Adds a verified object to `packer`: its stored bytes as they are, or a solid block's
/// member by its raw bytes, into a new block (its old block's other members may be
/// dead, and its stored bytes are the whole block's).
pub(super) fn copy_verified(
    packer: &mut Packer,
    id: &Hash,
    loc: &ObjectLocation,
    stored: &[u8],
    raw: &[u8],
) -> Result<()> {
    if loc.compression.in_block() {
        packer.add_small(loc.kind, *id, raw)
    } else {
        packer.add(loc.kind, *id, loc.compression, stored, loc.raw_len)
    }
}

/// Where a block member starts in its block (0 for other objects).
fn block_start(loc: &ObjectLocation) -> u32 {
    match loc.compression {
        crate::object::codec::Compression::Block { start } => start,
        _ => 0,
    }
}

fn stored_bytes<'a>(bytes: &'a Bytes, pack: &PackId, loc: &ObjectLocation) -> Result<&'a [u8]> {
    let start = loc.offset as usize;
    let end = start + loc.stored_len as usize;
    bytes.get(start..end).ok_or_else(|| Error::Corrupt {
        what: format!("pack {}", pack.short()),
        pack: Some(*pack),
        object: None,
        reason: "shorter than the index says".into(),
    })
}
