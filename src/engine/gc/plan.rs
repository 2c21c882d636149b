//! The plan: what a collection would delete and rewrite, decided from one look at the
//! backend and one read of the index. Making a plan changes nothing; `gc --dry-run`
//! prints exactly this.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::mark::{Marker, Roots};
use crate::engine::Engine;
use crate::error::Result;
use crate::hash::{Hash, PackId};
use crate::index::ObjectLocation;
use crate::store::parse_pack_name;

/// Below this share of live bytes, a pack is rewritten with only its live objects.
pub const REPACK_BELOW_LIVE_PERCENT: u64 = 50;

/// One pack the plan would touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackPlan {
    /// The pack.
    pub pack: PackId,
    /// Its size in bytes.
    pub size: u64,
    /// Objects in it that are live (kept, copied on a repack).
    pub live_objects: u64,
    /// Bytes of those objects.
    pub live_bytes: u64,
}

/// What a collection would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcPlan {
    /// Objects reachable from the roots.
    pub live_objects: u64,
    /// Indexed objects no root reaches.
    pub dead_objects: u64,
    /// Indexed packs with no live object: deleted.
    pub delete: Vec<PackPlan>,
    /// Indexed packs under half live: their live objects are copied out, then deleted.
    pub repack: Vec<PackPlan>,
    /// Packs on the backend that were never indexed and whose writer is gone (a killed
    /// or failed write), or that an earlier collection dropped but did not finish
    /// deleting: deleted.
    pub abandoned: Vec<PackPlan>,
    /// Packs on the backend the index knows nothing of: kept (they may be another
    /// index's, e.g. a second machine on a shared bucket) unless `--prune-unknown`.
    pub unknown: Vec<PackPlan>,
    /// Packs of writers still running: kept.
    pub in_progress: u64,
    /// Indexed packs younger than the grace period: not examined.
    pub too_young: u64,
    /// Writers that may still be running (this host: alive; elsewhere: younger than the
    /// grace period).
    pub writers_running: u64,
    /// Bytes the backend would no longer hold.
    pub bytes_freed: u64,
}

/// What the plan needs to remember for its application.
#[derive(Debug)]
pub struct PlanState {
    /// The plan.
    pub plan: GcPlan,
    /// Every live object at planning time.
    pub live: HashSet<Hash>,
    /// The live objects of each pack to repack.
    pub repack_objects: HashMap<PackId, Vec<(Hash, ObjectLocation)>>,
    /// Condemned packs the plan found live again.
    pub uncondemn: Vec<PackId>,
    /// Indexed packs holding a live object.
    pub live_packs: HashSet<PackId>,
    /// Registrations of writers that are gone.
    pub dead_pins: Vec<u64>,
}

/// Seconds since the epoch of `now - grace`.
fn cutoff(grace: Duration) -> (SystemTime, u64) {
    let t = SystemTime::now().checked_sub(grace).unwrap_or(UNIX_EPOCH);
    (
        t,
        t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
    )
}

/// Makes a plan. The backend is listed first: a pack stored after the listing is not
/// in it, and a pack in it was announced (or indexed) before the index is read below.
pub fn plan(engine: &Engine, grace: Duration, own_pin: Option<u64>) -> Result<PlanState> {
    let listed = engine.backend.list("packs/")?;
    let view = engine.index.gc_view()?;
    let grace_s = grace.as_secs();
    let mut state = PlanState {
        plan: GcPlan::default(),
        live: HashSet::new(),
        repack_objects: HashMap::new(),
        uncondemn: Vec::new(),
        live_packs: HashSet::new(),
        dead_pins: Vec::new(),
    };
    let mut running = HashSet::new();
    for (pin, w) in &view.writers {
        if Some(*pin) == own_pin {
            continue;
        }
        if w.may_run(grace_s) {
            running.insert(*pin);
        } else {
            state.dead_pins.push(*pin);
        }
    }
    state.plan.writers_running = running.len() as u64;
    let mut marker = Marker::new();
    marker.mark(engine, &Roots::read(engine)?)?;
    state.live = marker.into_marked();
    classify_indexed(engine, &view, grace, &mut state)?;
    classify_unindexed(&listed, &view, &running, grace, &mut state);
    Ok(state)
}

/// What a solid block holds: its stored bytes, its members' raw bytes, the live ones'.
#[derive(Default)]
struct BlockUse {
    stored: u64,
    raw: u64,
    live_raw: u64,
}

#[derive(Default)]
struct PackUse {
    live: Vec<(Hash, ObjectLocation)>,
    live_bytes: u64,
    dead: u64,
}

fn classify_indexed(
    engine: &Engine,
    view: &crate::index::GcView,
    grace: Duration,
    state: &mut PlanState,
) -> Result<()> {
    let mut usage: HashMap<PackId, PackUse> = HashMap::new();
    // A solid block's stored bytes are shared by its members: its live share is the
    // share of its raw bytes that live members hold.
    let mut blocks: HashMap<(PackId, u64), BlockUse> = HashMap::new();
    for (id, loc) in engine.index.objects()? {
        let u = usage.entry(loc.pack).or_default();
        let live = state.live.contains(&id);
        if loc.compression.in_block() {
            let b = blocks.entry((loc.pack, loc.offset)).or_default();
            b.stored = u64::from(loc.stored_len);
            b.raw += u64::from(loc.raw_len);
            b.live_raw += if live { u64::from(loc.raw_len) } else { 0 };
        } else if live {
            u.live_bytes += u64::from(loc.stored_len);
        }
        if live {
            state.plan.live_objects += 1;
            u.live.push((id, loc));
        } else {
            state.plan.dead_objects += 1;
            u.dead += 1;
        }
    }
    for ((pack, _), b) in blocks {
        let share = u128::from(b.stored) * u128::from(b.live_raw) / u128::from(b.raw.max(1));
        usage.entry(pack).or_default().live_bytes += share as u64;
    }
    let (_, cutoff_s) = cutoff(grace);
    for (pack, rec) in &view.packs {
        let u = usage.remove(pack).unwrap_or_default();
        if !u.live.is_empty() {
            state.live_packs.insert(*pack);
        }
        let entry = PackPlan {
            pack: *pack,
            size: rec.size,
            live_objects: u.live.len() as u64,
            live_bytes: u.live_bytes,
        };
        let condemned = view.condemned.contains_key(pack);
        if rec.created_s > cutoff_s {
            state.plan.too_young += 1;
        } else if u.live.is_empty() {
            state.plan.bytes_freed += rec.size;
            state.plan.delete.push(entry);
            continue;
        } else if u.dead > 0 && u.live_bytes * 100 < rec.size * REPACK_BELOW_LIVE_PERCENT {
            state.plan.bytes_freed += rec.size - u.live_bytes;
            state.plan.repack.push(entry);
            state.repack_objects.insert(*pack, u.live);
            continue;
        }
        if condemned {
            state.uncondemn.push(*pack);
        }
    }
    Ok(())
}

fn classify_unindexed(
    listed: &[crate::store::BlobMeta],
    view: &crate::index::GcView,
    running: &HashSet<u64>,
    grace: Duration,
    state: &mut PlanState,
) {
    let (cutoff_t, _) = cutoff(grace);
    for blob in listed {
        let Some(id) = parse_pack_name(&blob.name) else {
            continue;
        };
        if view.packs.contains_key(&id) {
            continue;
        }
        let entry = PackPlan {
            pack: id,
            size: blob.size,
            live_objects: 0,
            live_bytes: 0,
        };
        match view.pending.get(&id) {
            Some(pin) if running.contains(pin) => state.plan.in_progress += 1,
            Some(_) => {
                state.plan.bytes_freed += blob.size;
                state.plan.abandoned.push(entry);
            }
            None if view.deleting.contains(&id) => {
                state.plan.bytes_freed += blob.size;
                state.plan.abandoned.push(entry);
            }
            None if blob.modified <= cutoff_t => state.plan.unknown.push(entry),
            None => {
                state.plan.too_young += 1;
            }
        }
    }
}
