//! Garbage collection: plan, then apply.
//!
//! Roots are the live checkpoints, HEAD and the trees recorded for worktrees. Parent
//! links are lineage, not roots: deleting a checkpoint frees what only it held. The plan
//! marks every reachable object, then sorts packs into keep / delete / repack. Packs
//! younger than the grace period are never touched, and nothing is swept while a
//! writer's pin is young, so a checkpoint in flight loses nothing.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::hash::{CommitId, Hash, PackId, TreeId};
use crate::index::ObjectLocation;
use crate::object::EntryKind;
use crate::store::{PackSink, Packer, pack_name, parse_pack_name};

/// Below this share of live bytes, a pack is rewritten with only its live objects.
pub const REPACK_BELOW_LIVE_PERCENT: u64 = 50;

/// GC settings.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Packs younger than this are never deleted or rewritten.
    pub grace: Duration,
    /// Plan only; change nothing.
    pub dry_run: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            grace: Duration::from_secs(3600),
            dry_run: false,
        }
    }
}

/// What GC found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// Objects reachable from the roots.
    pub live_objects: u64,
    /// Indexed objects no root reaches.
    pub dead_objects: u64,
    /// Packs deleted because nothing in them is live (or the index never knew them).
    pub packs_deleted: Vec<PackId>,
    /// Packs rewritten because they were mostly dead.
    pub packs_repacked: Vec<PackId>,
    /// Packs spared because they are younger than the grace period.
    pub packs_too_young: u64,
    /// Bytes the backend no longer holds (or would not, on a dry run).
    pub bytes_freed: u64,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Session projects removed because their lifetime was over.
    pub expired_projects: u64,
    /// Overlay rows dropped (earlier generations, deleted projects).
    pub stale_overlay_rows: u64,
}

/// Every object reachable from the roots.
pub fn mark(engine: &Engine) -> Result<HashSet<Hash>> {
    let mut live = HashSet::new();
    let mut roots: Vec<CommitId> = engine
        .index
        .checkpoints()?
        .into_iter()
        .map(|r| r.id)
        .collect();
    roots.extend(engine.index.head()?);
    for id in &roots {
        if live.insert(id.0) {
            let commit = engine.read_commit(id)?;
            mark_tree(engine, commit.tree, &mut live)?;
        }
    }
    let artifacts = crate::artifact::roots(engine)?;
    for id in &artifacts.commits {
        if live.insert(id.0) {
            mark_tree(engine, engine.read_commit(id)?.tree, &mut live)?;
        }
    }
    for tree in artifacts.trees {
        mark_tree(engine, tree, &mut live)?;
    }
    for file in artifacts.files {
        mark_file(engine, file, &mut live)?;
    }
    roots.extend(artifacts.commits);
    mark_lineage(engine, &roots, &mut live)?;
    for (dir, tree) in engine.index.worktrees()? {
        // A directory that is gone no longer needs its tree kept.
        if std::path::Path::new(&dir).is_dir() && engine.index.location(&tree.0)?.is_some() {
            mark_tree(engine, tree, &mut live)?;
        }
    }
    Ok(live)
}

/// Marks a file's content: the chunk, or the manifest and its chunks.
fn mark_file(engine: &Engine, id: Hash, live: &mut HashSet<Hash>) -> Result<()> {
    if live.insert(id)
        && let Some(m) = engine.read_manifest(&id)?
    {
        live.extend(m.chunks.iter().map(|c| c.id));
    }
    Ok(())
}

/// Keeps the commit objects of deleted ancestors (a few hundred bytes each) so `log`
/// can still show the whole history; their trees and data are not kept.
fn mark_lineage(engine: &Engine, roots: &[CommitId], live: &mut HashSet<Hash>) -> Result<()> {
    let mut stack: Vec<CommitId> = roots.to_vec();
    let mut seen: HashSet<CommitId> = HashSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) || engine.index.location(&id.0)?.is_none() {
            continue;
        }
        live.insert(id.0);
        stack.extend(engine.read_commit(&id)?.parents);
    }
    Ok(())
}

fn mark_tree(engine: &Engine, id: TreeId, live: &mut HashSet<Hash>) -> Result<()> {
    if !live.insert(id.0) {
        return Ok(());
    }
    for e in engine.read_tree(&id)?.entries() {
        match e.kind {
            EntryKind::Dir => mark_tree(engine, e.tree_id(), live)?,
            EntryKind::Symlink => {
                live.insert(e.id);
            }
            EntryKind::File => mark_file(engine, e.id, live)?,
        }
    }
    Ok(())
}

#[derive(Default)]
struct PackUse {
    live: Vec<(Hash, ObjectLocation)>,
    live_bytes: u64,
    dead: u64,
}

/// Plans and (unless `dry_run`) applies a collection.
pub fn gc(engine: &Engine, opts: &GcOptions) -> Result<GcReport> {
    let sweep = if opts.dry_run {
        crate::artifact::SweepReport::default()
    } else {
        crate::artifact::sweep(engine)?
    };
    let live = mark(engine)?;
    let mut usage: HashMap<PackId, PackUse> = HashMap::new();
    let mut report = GcReport {
        dry_run: opts.dry_run,
        expired_projects: sweep.expired_projects,
        stale_overlay_rows: sweep.stale_overlay_rows,
        ..GcReport::default()
    };
    for (id, loc) in engine.index.objects()? {
        let u = usage.entry(loc.pack).or_default();
        if live.contains(&id) {
            report.live_objects += 1;
            u.live_bytes += u64::from(loc.stored_len);
            u.live.push((id, loc));
        } else {
            report.dead_objects += 1;
            u.dead += 1;
        }
    }
    let cutoff = SystemTime::now()
        .checked_sub(opts.grace)
        .unwrap_or(UNIX_EPOCH);
    let cutoff_s = cutoff
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let indexed: HashMap<PackId, u64> = engine
        .index
        .packs()?
        .into_iter()
        .map(|(id, r)| (id, r.size))
        .collect();
    let mut delete = Vec::new();
    let mut repack = Vec::new();
    for (pack, rec) in engine.index.packs()? {
        let u = usage.remove(&pack).unwrap_or_default();
        if rec.created_s > cutoff_s {
            report.packs_too_young += 1;
        } else if u.live.is_empty() {
            delete.push(pack);
            report.bytes_freed += rec.size;
        } else if u.dead > 0 && u.live_bytes * 100 < rec.size * REPACK_BELOW_LIVE_PERCENT {
            report.bytes_freed += rec.size - u.live_bytes;
            repack.push((pack, u.live));
        }
    }
    // Packs on the backend the index never learned of: a crashed writer's leftovers.
    let mut orphans = Vec::new();
    for blob in engine.backend.list("packs/")? {
        if let Some(id) = parse_pack_name(&blob.name) {
            if !indexed.contains_key(&id) && blob.modified <= cutoff {
                orphans.push(id);
                report.bytes_freed += blob.size;
            } else if !indexed.contains_key(&id) {
                report.packs_too_young += 1;
            }
        }
    }
    report.packs_deleted = delete.iter().chain(&orphans).copied().collect();
    report.packs_repacked = repack.iter().map(|(p, _)| *p).collect();
    if opts.dry_run {
        return Ok(report);
    }
    let written = rewrite(engine, &repack)?;
    let mut removed = delete.clone();
    removed.extend(repack.iter().map(|(p, _)| *p));
    engine
        .index
        .apply_sweep(&written, &removed, opts.grace.as_secs())?;
    for pack in removed.iter().chain(&orphans) {
        engine.backend.delete(&pack_name(pack))?;
    }
    engine.index.compact();
    Ok(report)
}

/// Copies live objects out of mostly-dead packs into new packs (no recompression).
fn rewrite(
    engine: &Engine,
    repack: &[(PackId, Vec<(Hash, ObjectLocation)>)],
) -> Result<Vec<crate::store::WrittenPack>> {
    let mut packer = Packer::new(engine.backend.clone(), engine.config.pack_target as usize);
    for (pack, objects) in repack {
        let bytes: Bytes = engine.backend.get(&pack_name(pack))?;
        for (id, loc) in objects {
            let start = loc.offset as usize;
            let end = start + loc.stored_len as usize;
            let stored = bytes.get(start..end).ok_or_else(|| Error::Corrupt {
                what: format!("pack {}", pack.short()),
                reason: "shorter than the index says".into(),
            })?;
            // Verify before copying, so a repack never launders a damaged object.
            let raw = crate::codec::decompress(stored, loc.compression, loc.raw_len as usize)?;
            crate::read::verify(id, loc, &raw)?;
            packer.add(loc.kind, *id, loc.compression, stored, loc.raw_len)?;
        }
    }
    packer.finish()
}
