//! Reading a checkpoint of a project file by file: a directory's entries and a file's
//! bytes (or a range of them), for callers who may see the project.

use std::io::Write;

use super::checkpoints::resolve;
use super::identity::Caller;
use super::path::ProjectPath;
use super::project::ProjectId;
use super::projects::load_visible;
use super::worktree::FileInfo;
use crate::engine::Engine;
use crate::error::{Error, ItemKind, Result};
use crate::hash::{CommitId, TreeId};
use crate::object::{EntryKind, TreeEntry};

/// The checkpoint `rev` of a project the caller may see: its id and root tree.
fn root(engine: &Engine, caller: &Caller, id: &ProjectId, rev: &str) -> Result<(CommitId, TreeId)> {
    let commit = engine.index.artifact_read(|tx| {
        let p = load_visible(tx, caller, id)?;
        resolve(tx, &p, rev)
    })?;
    Ok((commit, engine.read_commit(&commit)?.tree))
}

/// The entry at `path` below `root`.
fn lookup(engine: &Engine, root: TreeId, path: &ProjectPath, rev: &str) -> Result<TreeEntry> {
    let not_found =
        || Error::not_found_in(ItemKind::Path, path.as_str(), format!("checkpoint `{rev}`"));
    let mut tree = root;
    let mut segments = path.segments().peekable();
    while let Some(seg) = segments.next() {
        let entry = engine
            .read_tree(&tree)?
            .get(seg)
            .cloned()
            .ok_or_else(not_found)?;
        if segments.peek().is_none() {
            return Ok(entry);
        }
        if entry.kind != EntryKind::Dir {
            return Err(not_found());
        }
        tree = entry.tree_id();
    }
    Err(not_found())
}

fn info(path: String, e: &TreeEntry) -> FileInfo {
    FileInfo {
        path,
        kind: e.kind,
        size: e.size,
        id: (e.kind != EntryKind::Dir).then_some(e.id),
        executable: e.executable,
    }
}

/// The entries of directory `dir` (the root when `None`) of checkpoint `rev`, with
/// the checkpoint's id; a file's path lists that one file.
pub fn list(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    rev: &str,
    dir: Option<&ProjectPath>,
) -> Result<(CommitId, Vec<FileInfo>)> {
    let (commit, root) = root(engine, caller, id, rev)?;
    let (prefix, tree) = match dir {
        None => (String::new(), root),
        Some(d) => {
            let entry = lookup(engine, root, d, rev)?;
            if entry.kind != EntryKind::Dir {
                return Ok((commit, vec![info(d.to_string(), &entry)]));
            }
            (format!("{d}/"), entry.tree_id())
        }
    };
    let entries = engine
        .read_tree(&tree)?
        .entries()
        .iter()
        .map(|e| info(format!("{prefix}{}", e.name), e))
        .collect();
    Ok((commit, entries))
}

/// Streams the file at `path` of checkpoint `rev` (or `range` of it: offset and
/// length) into `out`, verified; returns the length written.
pub fn read_to(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    rev: &str,
    path: &ProjectPath,
    range: Option<(u64, u64)>,
    out: &mut dyn Write,
) -> Result<u64> {
    let (_, root) = root(engine, caller, id, rev)?;
    let entry = lookup(engine, root, path, rev)?;
    if entry.kind != EntryKind::File {
        return Err(Error::not_found_in(
            ItemKind::Path,
            path.as_str(),
            format!("checkpoint `{rev}` (not a file)"),
        ));
    }
    super::files::read_content(engine, &entry.id, entry.size, range, out)
}
