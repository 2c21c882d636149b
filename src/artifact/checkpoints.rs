//! Project checkpoints: create (fold the overlay), list, restore in O(1), delete, diff,
//! log, import and export.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::ArtifactError;
use super::identity::Caller;
use super::overlay::{self, OverlayRow};
use super::project::{ProjectId, ProjectInfo, ProjectRecord};
use super::projects::{load_visible, now_ms, save};
use super::worktree::{Worktree, fold};
use crate::engine::Engine;
use crate::engine::diff::{Change, Overlay, diff_trees};
use crate::engine::ingest::{Pipeline, scan_dir};
use crate::engine::patch::{FilePatch, NewSide, find_similar_renames, patches};
use crate::engine::progress::NoProgress;
use crate::engine::refs::{LogEntry, validate_checkpoint_name};
use crate::error::{Error, ItemKind, Result};
use crate::hash::{CommitId, Hash, TreeId};
use crate::index::ArtifactTx;
use crate::object::{Commit, ObjectKind, Tree, encode};

/// What to record with a checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateCheckpoint {
    /// Name, unique in the project.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// User metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A checkpoint as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct CheckpointInfo {
    /// Its id.
    pub id: CommitId,
    /// Its name.
    pub name: Option<String>,
    /// Description.
    pub description: String,
    /// Created, ms since the epoch.
    pub created_ms: i64,
    /// Files (and symlinks) in it.
    pub files: u64,
    /// Their total bytes.
    pub size: u64,
    /// Its root tree.
    pub tree: TreeId,
}

fn count_files(engine: &Engine, tree: TreeId) -> Result<u64> {
    let mut n = 0;
    for e in engine.read_tree(&tree)?.entries() {
        n += match e.kind {
            crate::object::EntryKind::Dir => count_files(engine, e.tree_id())?,
            _ => 1,
        };
    }
    Ok(n)
}

fn info(engine: &Engine, id: CommitId) -> Result<CheckpointInfo> {
    let c = engine.read_commit(&id)?;
    let tree = engine.read_tree(&c.tree)?;
    Ok(CheckpointInfo {
        id,
        name: c.name,
        description: c.description,
        created_ms: c.created_ms,
        files: count_files(engine, c.tree)?,
        size: tree.total_size(),
        tree: c.tree,
    })
}

/// Folds the working tree into a checkpoint. Writes made while it runs are kept in the
/// overlay on top of the new base: the checkpoint sees each write entirely or not at all.
pub fn create(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    req: &CreateCheckpoint,
) -> Result<CheckpointInfo> {
    validate_checkpoint_name(&req.name).map_err(ArtifactError::BadCheckpointName)?;
    let (project, rows) = engine.index.artifact_read(|tx| {
        let p = load_visible(tx, caller, id)?;
        if tx.name(&p.id.to_string(), &req.name)?.is_some() {
            return Err(name_taken(&req.name, &p.id));
        }
        let rows = Worktree {
            engine,
            tx,
            project: &p,
        }
        .rows()?;
        Ok((p, rows))
    })?;
    fold_and_publish(engine, caller, &project, &rows, req)
}

fn fold_and_publish(
    engine: &Engine,
    caller: &Caller,
    project: &ProjectRecord,
    rows: &[(String, OverlayRow)],
    req: &CreateCheckpoint,
) -> Result<CheckpointInfo> {
    let writer = engine.writer()?;
    let pipe = Pipeline::storing(engine, &writer)?;
    let tree = match fold(engine, &pipe, project.base, rows) {
        Ok((tree, _)) => tree,
        Err(e) => return Err(pipe.finish().err().unwrap_or(e)),
    };
    let commit = Commit {
        tree,
        parents: project.head.into_iter().collect(),
        project: project.id.to_string(),
        name: Some(req.name.clone()),
        description: req.description.clone(),
        author: caller
            .user
            .as_ref()
            .map_or_else(|| caller.sandbox.to_string(), ToString::to_string),
        created_ms: now_ms(),
        metadata: req.metadata.clone(),
    };
    let bytes = encode(&commit)?;
    let commit_id = CommitId(Hash::of(&bytes));
    pipe.offer(ObjectKind::Commit, commit_id.0, bytes)?;
    let packs = pipe.finish()?;
    let folded_seq = rows.iter().map(|(_, r)| r.seq).max().unwrap_or(0);
    engine.index.artifact_write(|tx| {
        let mut p = load_visible(tx, caller, &project.id)?;
        let hex = p.id.to_string();
        if tx.name(&hex, &req.name)?.is_some() {
            return Err(name_taken(&req.name, &p.id));
        }
        tx.add_packs(&packs)?;
        p.checkpoint_seq += 1;
        tx.add_checkpoint(&p.id.0, p.checkpoint_seq, &commit_id)?;
        tx.put_name(&hex, &req.name, &commit_id)?;
        if p.generation == project.generation {
            // Fold: the new base holds every row read; rows written since stay.
            p.base = tree;
            let folded: Vec<String> = Worktree {
                engine,
                tx,
                project: &p,
            }
            .rows()?
            .into_iter()
            .filter(|(_, r)| r.seq <= folded_seq)
            .map(|(path, _)| overlay::key(&p, &path))
            .collect();
            tx.remove_overlay(&folded)?;
            p.head = Some(commit_id);
        }
        p.touch(now_ms());
        save(tx, &p)
    })?;
    info(engine, commit_id)
}

fn name_taken(name: &str, project: &ProjectId) -> Error {
    Error::AlreadyExists {
        kind: ItemKind::Checkpoint,
        id: name.to_owned(),
        within: Some(format!("project {project}")),
    }
}

fn checkpoint_not_found(rev: &str, project: &ProjectId) -> Error {
    Error::not_found_in(ItemKind::Checkpoint, rev, format!("project {project}"))
}

/// The project's live checkpoints, in creation order.
pub fn list(engine: &Engine, caller: &Caller, id: &ProjectId) -> Result<Vec<CheckpointInfo>> {
    let ids = engine.index.artifact_read(|tx| {
        let p = load_visible(tx, caller, id)?;
        tx.checkpoints(&p.id.0)
    })?;
    ids.into_iter().map(|(_, c)| info(engine, c)).collect()
}

/// Resolves a checkpoint of `p`: a name, a full id or a unique id prefix (≥ 4 digits).
pub fn resolve(tx: &ArtifactTx<'_>, p: &ProjectRecord, rev: &str) -> Result<CommitId> {
    if let Some(id) = tx.name(&p.id.to_string(), rev)? {
        return Ok(id);
    }
    let live = tx.checkpoints(&p.id.0)?.into_iter().map(|(_, c)| c);
    crate::engine::refs::match_prefix(rev, live, || checkpoint_not_found(rev, &p.id))
}

/// What restoring a project checkpoint did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct ProjectRestore {
    /// The project as it is now.
    #[serde(flatten)]
    pub project: ProjectInfo,
    /// The checkpoint restored.
    pub checkpoint: CommitId,
    /// Paths of the working tree changed since the last checkpoint or restore, whose
    /// changes the restore discarded.
    pub discarded_edits: u64,
}

/// Restores a checkpoint: base := its tree, a fresh (empty) overlay generation. One
/// small index write, whatever the project's size; the edits it discards are counted
/// (one read of the overlay rows).
pub fn restore(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    rev: &str,
) -> Result<ProjectRestore> {
    let commit = engine.index.artifact_read(|tx| {
        let p = load_visible(tx, caller, id)?;
        resolve(tx, &p, rev)
    })?;
    let tree = engine.read_commit(&commit)?.tree;
    engine.index.artifact_write(|tx| {
        let mut p = load_visible(tx, caller, id)?;
        // Checked again inside the transaction: a concurrent delete wins cleanly.
        if tx.checkpoint_owner(&commit)? != Some(p.id.0) {
            return Err(checkpoint_not_found(rev, &p.id));
        }
        let discarded_edits = tx.overlay_prefix(&overlay::generation_prefix(&p))?.len() as u64;
        p.base = tree;
        p.head = Some(commit);
        p.generation += 1;
        p.touch(now_ms());
        save(tx, &p)?;
        Ok(ProjectRestore {
            project: p.info(),
            checkpoint: commit,
            discarded_edits,
        })
    })
}

/// Reads a file of a checkpoint (or a range: offset, length).
pub fn read_file(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    rev: &str,
    path: &super::path::ProjectPath,
    range: Option<(u64, u64)>,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    super::checkpoint_files::read_to(engine, caller, id, rev, path, range, &mut out)?;
    Ok(out)
}

/// Deletes a checkpoint; `gc` frees the data only it held.
pub fn delete(engine: &Engine, caller: &Caller, id: &ProjectId, rev: &str) -> Result<CommitId> {
    engine.index.artifact_write(|tx| {
        let p = load_visible(tx, caller, id)?;
        let commit = resolve(tx, &p, rev)?;
        tx.remove_checkpoint(&commit)?;
        Ok(commit)
    })
}

/// A project the caller may see, with its overlay rows, from one read transaction.
fn snapshot(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
) -> Result<(ProjectRecord, Vec<(String, OverlayRow)>)> {
    engine.index.artifact_read(|tx| {
        let p = load_visible(tx, caller, id)?;
        let rows = Worktree {
            engine,
            tx,
            project: &p,
        }
        .rows()?;
        Ok((p, rows))
    })
}

/// The working tree's root, folded in memory (nothing stored), with its trees.
fn working_tree(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
) -> Result<(TreeId, std::collections::HashMap<TreeId, Tree>)> {
    let (p, rows) = snapshot(engine, caller, id)?;
    let pipe = Pipeline::hashing(engine)?;
    let folded = fold(engine, &pipe, p.base, &rows)?;
    pipe.finish()?;
    Ok(folded)
}

/// The checkpoints `from` and `to` (if any) of a project the caller may see.
fn resolve_pair(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    from: &str,
    to: Option<&str>,
) -> Result<(CommitId, Option<CommitId>)> {
    engine.index.artifact_read(|tx| {
        let p = load_visible(tx, caller, id)?;
        Ok((
            resolve(tx, &p, from)?,
            to.map(|t| resolve(tx, &p, t)).transpose()?,
        ))
    })
}

/// Changes from checkpoint `from` to checkpoint `to`, or to the working tree.
pub fn diff(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    from: &str,
    to: Option<&str>,
) -> Result<Vec<Change>> {
    let (old, new) = resolve_pair(engine, caller, id, from, to)?;
    let old_tree = engine.read_commit(&old)?.tree;
    if let Some(n) = new {
        diff_trees(engine, old_tree, engine.read_commit(&n)?.tree)
    } else {
        {
            let (root, trees) = working_tree(engine, caller, id)?;
            diff_trees(
                &Overlay {
                    engine,
                    trees: &trees,
                },
                old_tree,
                root,
            )
        }
    }
}

/// History from the project's head, newest first; deleted checkpoints are marked.
pub fn log(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    limit: usize,
) -> Result<Vec<LogEntry>> {
    let (head, live): (Option<CommitId>, Vec<CommitId>) = engine.index.artifact_read(|tx| {
        let p = load_visible(tx, caller, id)?;
        Ok((
            p.head,
            tx.checkpoints(&p.id.0)?
                .into_iter()
                .map(|(_, c)| c)
                .collect(),
        ))
    })?;
    let Some(head) = head else {
        return Ok(Vec::new());
    };
    let mut entries = crate::engine::refs::log_with(engine, head, limit, &|c| live.contains(c))?;
    entries.truncate(limit);
    Ok(entries)
}

/// Imports a directory as the working tree: base := its tree (stat cache makes this
/// incremental), overlay cleared.
pub fn import(engine: &Engine, caller: &Caller, id: &ProjectId, dir: &Path) -> Result<ProjectInfo> {
    engine
        .index
        .artifact_read(|tx| load_visible(tx, caller, id))?;
    let dir = std::path::absolute(dir).map_err(Error::io("resolve", dir))?;
    let writer = engine.writer()?;
    let pipe = Pipeline::storing(engine, &writer)?;
    let scan = match scan_dir(engine, &pipe, &dir, &NoProgress) {
        Ok(s) => s,
        Err(e) => return Err(pipe.finish().err().unwrap_or(e)),
    };
    let packs = pipe.finish()?;
    engine.index.artifact_write(|tx| {
        let mut p = load_visible(tx, caller, id)?;
        tx.add_packs(&packs)?;
        p.base = scan.root;
        p.generation += 1;
        p.touch(now_ms());
        save(tx, &p)?;
        Ok(p.info())
    })
}

/// Makes a stored tree the working tree (unsaved edits are dropped, as by
/// [`import`]): how a directory repository's checkpoint is rendered as a project.
pub fn set_worktree(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    tree: TreeId,
) -> Result<ProjectInfo> {
    // A tree this repository does not hold is refused before anything changes.
    engine.read_tree(&tree)?;
    engine.index.artifact_write(|tx| {
        let mut p = load_visible(tx, caller, id)?;
        // A new generation: the overlay's edits of the old one are dropped.
        p.base = tree;
        p.generation += 1;
        p.touch(now_ms());
        save(tx, &p)?;
        Ok(p.info())
    })
}

/// Materializes a checkpoint (or the working tree when `rev` is `None`) into `dir`,
/// incrementally.
pub fn export(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    rev: Option<&str>,
    dir: &Path,
    opts: &crate::engine::restore::RestoreOptions,
) -> Result<crate::engine::restore::RestoreSummary> {
    let tree = if let Some(r) = rev {
        let commit = engine.index.artifact_read(|tx| {
            let p = load_visible(tx, caller, id)?;
            resolve(tx, &p, r)
        })?;
        engine.read_commit(&commit)?.tree
    } else {
        working_tree_stored(engine, caller, id)?
    };
    crate::engine::restore::restore_tree(engine, tree, dir, opts.mode(), &NoProgress)
}

/// Line diffs from checkpoint `from` to checkpoint `to`, or to the working tree
/// (folded into stored trees first, so both sides read the same way), with renames of
/// files at least half alike paired as `git diff -M` does.
pub fn patch(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    from: &str,
    to: Option<&str>,
) -> Result<Vec<FilePatch>> {
    let (old, new) = resolve_pair(engine, caller, id, from, to)?;
    let old_tree = engine.read_commit(&old)?.tree;
    let new_tree = match new {
        Some(n) => engine.read_commit(&n)?.tree,
        None => working_tree_stored(engine, caller, id)?,
    };
    let mut changes = diff_trees(engine, old_tree, new_tree)?;
    find_similar_renames(engine, &mut changes, NewSide::Stored, RENAME_SIMILARITY)?;
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    patches(engine, changes, NewSide::Stored)
}

/// How alike (percent of lines) a removed and an added file must be to show as a
/// rename: git's default.
const RENAME_SIMILARITY: u8 = 50;

/// The working tree folded into stored trees (so it can be materialized), its root id.
pub fn working_tree_stored(engine: &Engine, caller: &Caller, id: &ProjectId) -> Result<TreeId> {
    let (p, rows) = snapshot(engine, caller, id)?;
    if rows.is_empty() {
        return Ok(p.base);
    }
    let writer = engine.writer()?;
    let pipe = Pipeline::storing(engine, &writer)?;
    let folded = fold(engine, &pipe, p.base, &rows);
    let packs = pipe.finish()?;
    engine.index.artifact_write(|tx| tx.add_packs(&packs))?;
    Ok(folded?.0)
}
