//! Restoring a checkpoint into a directory, incrementally and safely.
//!
//! Only paths whose content, kind or executable bit differ are written; each file goes
//! to a temporary file in its final directory and is renamed into place, so a reader
//! never sees half a file. Files tracked in the directory's previous tree but absent
//! from the checkpoint are removed; untracked files are left alone. Nothing is written
//! outside the target: every directory on the way is checked with `lstat`, and a
//! symlink found where a directory belongs is replaced, never followed.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::diff::{Overlay, TreeLoader};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::hash::{CommitId, TreeId};
use crate::index::StatRecord;
use crate::ingest::scan_dir;
use crate::object::{EntryKind, TreeEntry};
use crate::progress::Progress;

/// What a restore did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RestoreSummary {
    /// Files and symlinks written.
    pub written: u64,
    /// Their bytes.
    pub written_bytes: u64,
    /// Paths already identical, left untouched.
    pub unchanged: u64,
    /// Tracked paths removed.
    pub removed: u64,
    /// Directories created.
    pub dirs_created: u64,
}

/// Flattens a tree into path → entry (files, symlinks and directories).
pub fn flatten(loader: &dyn TreeLoader, tree: TreeId) -> Result<BTreeMap<String, TreeEntry>> {
    let mut out = BTreeMap::new();
    flatten_into(loader, tree, "", &mut out)?;
    Ok(out)
}

fn flatten_into(
    loader: &dyn TreeLoader,
    tree: TreeId,
    prefix: &str,
    out: &mut BTreeMap<String, TreeEntry>,
) -> Result<()> {
    for e in loader.load(&tree)?.entries() {
        let path = if prefix.is_empty() {
            e.name.clone()
        } else {
            format!("{prefix}/{}", e.name)
        };
        if e.kind == EntryKind::Dir {
            flatten_into(loader, e.tree_id(), &path, out)?;
        }
        out.insert(path, e.clone());
    }
    Ok(())
}

/// Refuses a target whose path passes through a symlink: writing there would land
/// outside the directory the caller named.
pub fn check_target(dir: &Path) -> Result<PathBuf> {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(Error::io("read current directory", "."))?
            .join(dir)
    };
    let mut walked = PathBuf::new();
    for comp in abs.components() {
        match comp {
            Component::ParentDir => {
                return Err(Error::Invalid(format!(
                    "{}: `..` is not allowed in a restore target",
                    dir.display()
                )));
            }
            Component::CurDir => continue,
            other => walked.push(other.as_os_str()),
        }
        if let Ok(meta) = fs::symlink_metadata(&walked)
            && meta.file_type().is_symlink()
        {
            return Err(Error::Invalid(format!(
                "{} passes through the symlink {}; restore refuses to write through links",
                dir.display(),
                walked.display()
            )));
        }
    }
    Ok(walked)
}

/// Restores checkpoint `commit` into `dir` (created if missing).
pub fn restore(
    engine: &Engine,
    commit: CommitId,
    dir: &Path,
    move_head: bool,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    let tree = engine.read_commit(&commit)?.tree;
    materialize(engine, tree, dir, move_head.then_some(commit), progress)
}

/// Materializes a tree into `dir` (created if missing), incrementally.
pub fn restore_tree(
    engine: &Engine,
    tree: TreeId,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    materialize(engine, tree, dir, None, progress)
}

fn materialize(
    engine: &Engine,
    tree: TreeId,
    dir: &Path,
    head: Option<CommitId>,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    let root = check_target(dir)?;
    fs::create_dir_all(&root).map_err(Error::io("create directory", &root))?;
    let wanted = flatten(engine, tree)?;
    let key = root.to_string_lossy().into_owned();
    let previous = match engine.index.worktree(&key)? {
        Some(t) => flatten(engine, t).unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let mut summary = RestoreSummary::default();
    remove_untracked_by(&root, &previous, &wanted, &mut summary)?;
    for (path, e) in &wanted {
        if e.kind == EntryKind::Dir && ensure_dir(&root, path)? {
            summary.dirs_created += 1;
        }
    }
    let current = current_ids(engine, &root)?;
    let files: Vec<(&String, &TreeEntry)> = wanted
        .iter()
        .filter(|(_, e)| e.kind != EntryKind::Dir)
        .collect();
    progress.start("restoring", Some(files.iter().map(|(_, e)| e.size).sum()));
    let results: Vec<Written> = files
        .par_iter()
        .map(|(path, e)| {
            let r = restore_one(engine, &root, path, e, current.get(path.as_str()));
            progress.advance(e.size);
            r
        })
        .collect::<Result<_>>()?;
    let mut stats = Vec::new();
    for ((_, e), r) in files.iter().zip(results) {
        match r {
            Written::Unchanged => summary.unchanged += 1,
            Written::Link => {
                summary.written += 1;
                summary.written_bytes += e.size;
            }
            Written::File(row) => {
                summary.written += 1;
                summary.written_bytes += e.size;
                stats.push(row);
            }
        }
    }
    progress.finish();
    engine.index.record_restore(&key, tree, head, &stats)?;
    Ok(summary)
}

/// The content of what is on disk now, path → (kind, id, executable), via the scanner
/// (which trusts the stat cache and hashes the rest) without storing anything.
fn current_ids(engine: &Engine, root: &Path) -> Result<BTreeMap<String, TreeEntry>> {
    let pipe = crate::ingest::Pipeline::start(engine, false)?;
    let scan = scan_dir(engine, &pipe, root, &crate::progress::NoProgress)?;
    flatten(
        &Overlay {
            engine,
            trees: &scan.trees,
        },
        scan.root,
    )
}

/// Removes tracked paths that the checkpoint does not have, deepest first.
fn remove_untracked_by(
    root: &Path,
    previous: &BTreeMap<String, TreeEntry>,
    wanted: &BTreeMap<String, TreeEntry>,
    summary: &mut RestoreSummary,
) -> Result<()> {
    for (path, e) in previous.iter().rev() {
        if wanted.get(path).is_some_and(|w| w.kind == e.kind) {
            continue;
        }
        let abs = root.join(path);
        let Ok(meta) = fs::symlink_metadata(&abs) else {
            continue;
        };
        if meta.is_dir() {
            // Only if empty: untracked files inside are not ours to delete.
            if fs::remove_dir(&abs).is_ok() {
                summary.removed += 1;
            }
        } else {
            fs::remove_file(&abs).map_err(Error::io("remove", &abs))?;
            summary.removed += 1;
        }
    }
    Ok(())
}

/// Makes `root/rel` a real directory; returns whether it had to be created.
fn ensure_dir(root: &Path, rel: &str) -> Result<bool> {
    let abs = root.join(rel);
    match fs::symlink_metadata(&abs) {
        Ok(m) if m.is_dir() => return Ok(false),
        Ok(m) if m.file_type().is_symlink() || m.is_file() => {
            fs::remove_file(&abs).map_err(Error::io("remove", &abs))?;
        }
        _ => {}
    }
    fs::create_dir(&abs).map_err(Error::io("create directory", &abs))?;
    Ok(true)
}

/// What restoring one path did.
enum Written {
    /// The disk already had it.
    Unchanged,
    /// A symlink was (re)created.
    Link,
    /// A file was written; its stat cache row.
    File((String, StatRecord)),
}

/// Writes one file or symlink unless the disk already has it.
fn restore_one(
    engine: &Engine,
    root: &Path,
    rel: &str,
    e: &TreeEntry,
    now: Option<&TreeEntry>,
) -> Result<Written> {
    if now.is_some_and(|n| n.kind == e.kind && n.id == e.id && n.executable == e.executable) {
        return Ok(Written::Unchanged);
    }
    let abs = root.join(rel);
    let parent = abs.parent().expect("a restored path has a parent");
    if fs::symlink_metadata(&abs).is_ok_and(|m| m.is_dir()) {
        fs::remove_dir_all(&abs).map_err(Error::io("remove directory", &abs))?;
    }
    if e.kind == EntryKind::Symlink {
        use std::os::unix::ffi::OsStrExt;
        let target = engine.read_file(&e.id)?;
        let _ = fs::remove_file(&abs);
        std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&target), &abs)
            .map_err(Error::io("create symlink", &abs))?;
        return Ok(Written::Link);
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".reel-restore-")
        .tempfile_in(parent)
        .map_err(Error::io("create temporary file in", parent))?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        engine.read_file_to(&e.id, &mut w)?;
        w.flush().map_err(Error::io("write", &abs))?;
    }
    let mode = if e.executable { 0o755 } else { 0o644 };
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(Error::io("chmod", &abs))?;
    let file = tmp.persist(&abs).map_err(|e| Error::Io {
        op: "rename into",
        path: abs.clone(),
        source: e.error,
    })?;
    let meta = file.metadata().map_err(Error::io("stat", &abs))?;
    let rec = StatRecord {
        id: e.id,
        ..crate::ingest::stat_of(&meta)
    };
    Ok(Written::File((abs.to_string_lossy().into_owned(), rec)))
}
