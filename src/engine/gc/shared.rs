//! GC across machines that share a bucket, without locks: two phases with a grace
//! period between them, marks in the bucket that every writer reads.
//!
//! A run *condemns* each pack its plan finds dead by writing `gc/condemned/<pack>`
//! (create-only; the store's modification time dates it). A writer on any machine
//! lists the marks when it starts and stores an object again rather than rely on a
//! condemned pack. A later run — on any machine — deletes a condemned pack only when
//! its mark is older than the grace period *and* the pack is still dead in a plan made
//! from the bucket's roots (every checkpoint, project and record synced first), both
//! times by the store's clock ([`store_time`]): a writer that relied on it lists the
//! marks again just before it publishes and copies what it needs out of a pack
//! condemned meanwhile ([`super::guard`]); one whose last check came before the mark
//! has published by the time the mark is ripe (the assumption: a publication lands
//! within the grace period of the check before it), and what it published is a root.
//! A mark whose pack is live again is removed (the pack is rescued).
//! `gc/deleted/<pack>` is written before the pack is deleted, so that other machines
//! drop it from their indexes. A mostly dead pack is condemned the same way; when its
//! mark is ripe its live objects are copied into a new pack first, which other
//! machines index when they learn of the deletion (and a read that finds its pack gone
//! learns at once and reads again). Packs the local index does not know are never
//! deleted on that basis alone.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use bytes::Bytes;

use super::apply::{GcOptions, GcReport, rescue, rewrite};
use super::plan::{PlanState, plan};
use crate::engine::Engine;
use crate::error::Result;
use crate::hash::{Hash, PackId};
use crate::index::{ObjectLocation, SweepRequest, WriterKind};
use crate::store::pack_name;

/// Where condemned packs are marked.
pub const CONDEMNED_PREFIX: &str = "gc/condemned/";
/// Where deleted packs are recorded.
pub const DELETED_PREFIX: &str = "gc/deleted/";

/// The marks in the bucket.
#[derive(Debug, Default)]
pub struct Marks {
    /// Condemned packs, with when they were condemned (the mark's time in the store).
    pub condemned: HashMap<PackId, SystemTime>,
    /// Packs deleted by a gc.
    pub deleted: HashSet<PackId>,
}

impl Marks {
    /// Lists every mark: one listing.
    pub fn list(engine: &Engine) -> Result<Marks> {
        let mut marks = Marks::default();
        for blob in engine.backend.list("gc/")? {
            if let Some(id) = parse(&blob.name, CONDEMNED_PREFIX) {
                marks.condemned.insert(id, blob.modified);
            } else if let Some(id) = parse(&blob.name, DELETED_PREFIX) {
                marks.deleted.insert(id);
            }
        }
        Ok(marks)
    }
}

fn parse(name: &str, prefix: &str) -> Option<PackId> {
    name.strip_prefix(prefix)?.parse().ok()
}

fn mark_name(prefix: &str, pack: &PackId) -> String {
    format!("{prefix}{}", pack.0.to_hex())
}

fn mark(engine: &Engine, prefix: &str, pack: &PackId) -> Result<()> {
    engine
        .backend
        .put(&mark_name(prefix, pack), Bytes::from_static(b"{}"))?;
    Ok(())
}

/// What a writer does first on a shared backend: takes the bucket's marks into its
/// index, so that it deduplicates against no condemned pack and forgets deleted ones.
/// Writes the index only for marks it has not taken yet (a writer starts on every
/// project change; the marks of past runs stay in the bucket).
pub fn learn(engine: &Engine) -> Result<()> {
    take(engine, &Marks::list(engine)?)
}

/// Takes marks listed from the bucket into the index (see [`learn`]).
pub(super) fn take(engine: &Engine, marks: &Marks) -> Result<()> {
    if marks.condemned.is_empty() && marks.deleted.is_empty() {
        return Ok(());
    }
    let view = engine.index.gc_view()?;
    let condemn: Vec<PackId> = marks
        .condemned
        .keys()
        .copied()
        .filter(|p| view.packs.contains_key(p) && !view.condemned.contains_key(p))
        .collect();
    if !condemn.is_empty() {
        engine.index.condemn(&condemn, &[])?;
    }
    let deleted: Vec<PackId> = marks
        .deleted
        .iter()
        .filter(|p| view.packs.contains_key(p))
        .copied()
        .collect();
    if !deleted.is_empty() {
        // The live objects of a repacked pack are in the packs its repack wrote: new
        // ones are indexed now; a copy in a pack this index already knows (it indexed
        // the copy while the old pack still stood, and kept the old location) is found
        // again from the packs' contents.
        let lost = engine.index.drop_packs(&deleted)?;
        crate::engine::shared::index_new_packs(engine)?;
        relocate(engine, lost, &marks.deleted)?;
    }
    Ok(())
}

/// Finds copies, in indexed packs, of objects whose pack another machine's gc deleted.
fn relocate(engine: &Engine, lost: Vec<Hash>, deleted: &HashSet<PackId>) -> Result<()> {
    let mut lost: HashSet<Hash> = lost.into_iter().collect();
    lost.retain(|id| matches!(engine.index.location(id), Ok(None)));
    if lost.is_empty() {
        return Ok(());
    }
    let view = engine.index.gc_view()?;
    let found = crate::engine::segments::find_packs(engine, true, |id| {
        deleted.contains(id) || !view.packs.contains_key(id)
    })?;
    let mut copies = Vec::new();
    for pack in &found.packs {
        for e in pack.entries.iter().filter(|e| lost.contains(&e.id)) {
            copies.push((e.id, ObjectLocation::in_pack(pack.id, e)));
        }
    }
    let n = engine.index.relocate(&copies)?;
    tracing::debug!(
        "{n} of {} objects of deleted packs found in other packs",
        lost.len()
    );
    Ok(())
}

/// Where a gc run takes the store's time (see [`store_time`]).
pub const CLOCK_PREFIX: &str = "clock/";

/// The store's time now, by its own clock: the modification time of a blob written
/// and listed for it (then deleted). A mark is judged by the store's time of the mark
/// against this, so no machine's clock enters the judgement. Taken before the run
/// reads its roots: a publication that lands after that is seen by the plan or by the
/// apply transaction's re-mark, and one that landed before `started - grace` is older
/// than any mark found ripe.
pub fn store_time(engine: &Engine) -> Result<SystemTime> {
    let name = format!("{CLOCK_PREFIX}{}", hex::encode(rand::random::<[u8; 16]>()));
    engine.backend.create(&name, Bytes::from_static(b"{}"))?;
    let listed = engine.backend.list(CLOCK_PREFIX);
    if let Err(e) = engine.backend.delete(&name) {
        tracing::debug!("cannot delete the clock probe `{name}`: {e}");
    }
    listed?
        .into_iter()
        .find(|b| b.name == name)
        .map(|b| b.modified)
        .ok_or_else(|| {
            crate::error::Error::Invalid(format!(
                "{} does not list `{name}` just written: cannot read the store's time",
                engine.backend.describe()
            ))
        })
}

/// Rescues condemned packs found live, condemns dead packs not condemned yet, and
/// returns those whose mark is older than the grace period at `started` (the store's
/// time before the roots were read): to delete now.
fn judge(
    engine: &Engine,
    state: &PlanState,
    opts: &GcOptions,
    started: SystemTime,
    report: &mut GcReport,
) -> Result<Vec<PackId>> {
    let marks = Marks::list(engine)?;
    let now = started;
    let repack: HashSet<PackId> = state.plan.repack.iter().map(|p| p.pack).collect();
    for pack in marks.condemned.keys() {
        if state.live_packs.contains(pack) && !repack.contains(pack) {
            engine.backend.delete(&mark_name(CONDEMNED_PREFIX, pack))?;
            report.packs_rescued.push(*pack);
        }
    }
    let mut ripe = Vec::new();
    for pack in state
        .plan
        .delete
        .iter()
        .chain(&state.plan.repack)
        .map(|p| p.pack)
    {
        match marks.condemned.get(&pack) {
            None => {
                mark(engine, CONDEMNED_PREFIX, &pack)?;
                report.packs_condemned.push(pack);
            }
            Some(at) if *at + opts.grace <= now => ripe.push(pack),
            Some(_) => report.packs_deferred.push(pack),
        }
    }
    Ok(ripe)
}

/// One run of the two-phase collection (see the module docs); `started` is the store's
/// time taken before the roots were synced ([`store_time`]).
pub fn collect(engine: &Engine, opts: &GcOptions, started: SystemTime) -> Result<GcReport> {
    // Every pack in the bucket is judged, not only those this index wrote or read:
    // one indexed now counts as written now, so it is too young for this run.
    crate::engine::shared::index_new_packs(engine)?;
    let gc = engine.register(WriterKind::Gc)?;
    let state = plan(engine, opts.grace, Some(gc.pin()))?;
    let mut report = GcReport {
        plan: state.plan.clone(),
        ..GcReport::default()
    };
    let ripe = judge(engine, &state, opts, started, &mut report)?;
    crate::engine::failpoint::hit("gc-after-condemn");
    engine.index.condemn(&ripe, &state.uncondemn)?;
    let (mut repacked, delete): (Vec<PackId>, Vec<PackId>) = ripe
        .iter()
        .copied()
        .partition(|p| state.repack_objects.contains_key(p));
    let written = rewrite(engine, &gc, &state, &mut repacked, true)?;
    let outcome = engine.index.apply_sweep(
        &SweepRequest {
            delete: &delete,
            repacked: &repacked,
            written: &written,
            own_pin: gc.pin(),
            grace_s: opts.grace.as_secs(),
        },
        || rescue(engine, &state.live, &ripe),
    )?;
    let mut gone = outcome.dropped.clone();
    let abandoned: Vec<PackId> = state.plan.abandoned.iter().map(|p| p.pack).collect();
    // A pack a writer adopted (or a sync indexed) since the plan is not deleted.
    gone.extend(engine.index.claim_abandoned(&abandoned)?);
    for pack in &gone {
        mark(engine, DELETED_PREFIX, pack)?;
        engine.backend.delete(&pack_name(pack))?;
    }
    engine.index.forget_deleted(&gone, &state.dead_pins)?;
    let freed: HashMap<PackId, u64> = state
        .plan
        .delete
        .iter()
        .chain(&state.plan.abandoned)
        .map(|p| (p.pack, p.size))
        .chain(
            state
                .plan
                .repack
                .iter()
                .map(|p| (p.pack, p.size - p.live_bytes)),
        )
        .collect();
    report.bytes_freed = gone.iter().filter_map(|p| freed.get(p)).sum();
    let (repacked, deleted): (Vec<PackId>, Vec<PackId>) =
        gone.into_iter().partition(|p| repacked.contains(p));
    report.packs_repacked = repacked;
    report.packs_deleted = deleted;
    report.packs_deferred.extend(outcome.deferred);
    report.packs_spared = outcome.spared;
    drop(gc);
    report.stale_stat_dirs = engine.index.drop_stat_rows_of_missing_dirs()?;
    engine.index.compact();
    Ok(report)
}
