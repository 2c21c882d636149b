//! `reel index rebuild`: a new index from the packs alone.
//!
//! Every pack's trailer lists its objects (and on a cloud bucket, index segments list
//! those of whole batches of packs, read first), so object locations come back exactly.
//! Directory checkpoints come back from the commit objects (a commit whose whole tree
//! is still stored; the commit objects GC keeps for lineage of deleted checkpoints have
//! lost their data and stay plain objects), in creation order, with their names; HEAD
//! is the newest. On local storage, what lived only in the index — project records and
//! working trees, asset and render records, the stat cache — cannot come back; the
//! rebuilt index is marked so that `gc` refuses to collect their now-unreferenced bytes
//! until told to (`gc --after-rebuild`). A cloud bucket holds all of those records, and
//! the sync that follows the rebuild takes them in.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::Engine;
use crate::engine::fsck::Problem;
use crate::error::{Error, Result};
use crate::hash::{CommitId, Hash, TreeId};
use crate::object::{EntryKind, ObjectKind};

/// Packs indexed per transaction.
const PACKS_PER_TXN: usize = 256;

/// What a rebuild found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RebuildReport {
    /// Where the previous index file was moved, if there was one.
    pub moved_aside: Option<PathBuf>,
    /// Packs indexed.
    pub packs: u64,
    /// How many of them an index segment described (one GET for a batch of packs).
    pub packs_from_segments: u64,
    /// How many pack trailers were read (packs no segment described).
    pub trailers_read: u64,
    /// Objects indexed.
    pub objects: u64,
    /// Directory checkpoints recovered.
    pub checkpoints: u64,
    /// HEAD, the newest of them.
    pub head: Option<CommitId>,
    /// Commits of project checkpoints found (their projects cannot be recovered).
    pub project_checkpoints: u64,
    /// Packs that could not be read or parsed, left out.
    pub damaged_packs: Vec<Problem>,
    /// The backend is a shared bucket, which holds every checkpoint, project, asset and
    /// render record: the rebuilt index lost nothing (and `gc` runs on it as it is).
    pub from_bucket: bool,
}

/// Moves an index file aside (never deletes it); returns the new name.
pub fn move_aside(path: &Path) -> Result<Option<PathBuf>> {
    if !path.exists() {
        return Ok(None);
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let aside = path.with_extension(format!("redb.old-{secs}"));
    std::fs::rename(path, &aside).map_err(Error::io("rename", path))?;
    Ok(Some(aside))
}

/// Indexes every pack on the backend, then recovers the directory checkpoints.
pub fn rebuild(engine: &Engine, report: &mut RebuildReport) -> Result<()> {
    // Marked first: an index killed half-built knows packs but not yet the checkpoints
    // that reference them, and gc must not take that for garbage.
    engine.index.set_rebuilt(true)?;
    let found = crate::engine::segments::find_packs(engine, true, |_| false)?;
    report.packs = found.packs.len() as u64;
    report.packs_from_segments = found.from_segments;
    report.trailers_read = found.trailers_read;
    report.damaged_packs = found.damaged;
    let mut commits = Vec::new();
    for pack in &found.packs {
        report.objects += pack.entries.len() as u64;
        commits.extend(
            pack.entries
                .iter()
                .filter(|e| e.kind == ObjectKind::Commit)
                .map(|e| CommitId(e.id)),
        );
    }
    let mut batches = found.packs.chunks(PACKS_PER_TXN).peekable();
    while let Some(batch) = batches.next() {
        if batches.peek().is_some() {
            engine.index.add_rebuilt_packs(batch)?;
        } else {
            engine
                .index
                .add_listed_packs(batch, &found.segments_read, &[])?;
        }
    }
    crate::engine::failpoint::hit("rebuild-packs-indexed");
    let checkpoints = recover_checkpoints(engine, &commits, report);
    report.checkpoints = checkpoints.len() as u64;
    report.head = checkpoints.last().map(|(id, _)| *id);
    Ok(engine.index.add_rebuilt_checkpoints(&checkpoints)?)
}

/// Directory commits whose whole tree is indexed, oldest first, with their names.
fn recover_checkpoints(
    engine: &Engine,
    commits: &[CommitId],
    report: &mut RebuildReport,
) -> Vec<(CommitId, Option<String>)> {
    let mut found = Vec::new();
    let mut complete = HashSet::new();
    for id in commits {
        let Ok(commit) = engine.read_commit(id) else {
            continue;
        };
        if !commit.project.is_empty() {
            report.project_checkpoints += 1;
            continue;
        }
        if tree_complete(engine, commit.tree, &mut complete) {
            found.push((commit.created_ms, *id, commit.name));
        }
    }
    found.sort_by_key(|(t, id, _)| (*t, *id));
    found.dedup_by_key(|(_, id, _)| *id);
    found.into_iter().map(|(_, id, name)| (id, name)).collect()
}

/// Whether every object below a tree is indexed (trees and manifests are read; data
/// chunks are only located).
fn tree_complete(engine: &Engine, tree: TreeId, complete: &mut HashSet<Hash>) -> bool {
    if complete.contains(&tree.0) {
        return true;
    }
    let Ok(t) = engine.read_tree(&tree) else {
        return false;
    };
    for e in t.entries() {
        let ok = match e.kind {
            EntryKind::Dir => tree_complete(engine, e.tree_id(), complete),
            EntryKind::Symlink => engine.locate(&e.id).is_ok(),
            EntryKind::File => match engine.read_manifest(&e.id) {
                Ok(Some(m)) => m.chunks.iter().all(|c| engine.locate(&c.id).is_ok()),
                Ok(None) => true,
                Err(_) => false,
            },
        };
        if !ok {
            return false;
        }
    }
    complete.insert(tree.0);
    true
}
