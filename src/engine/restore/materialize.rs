//! Making a directory match a tree.
//!
//! Only paths whose content, kind or executable bit differ are written; each file goes
//! to a temporary file in its final directory and is renamed into place, so a reader
//! never sees half a file. Files tracked in the directory's previous tree (what the
//! repository last checkpointed or restored there) but absent from the tree are
//! removed; untracked files are left alone. Before anything is touched, every path the
//! restore would overwrite or remove is compared with what the repository last wrote
//! there: a difference is the user's work, and the restore refuses (unless forced).
//! Nothing is written outside the target — every directory on the way is checked with
//! `lstat`, a symlink where a directory belongs is replaced, never followed — and
//! nothing inside the repository directory.

use std::fs;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::plan::{Lookup, Step, plan};
use super::protect::{check_paths, discarded, known_to_repository};
use super::seen::Seen;
use super::write::{Written, ensure_dir, remove_leftovers, remove_tracked, restore_one};
use crate::engine::diff::Overlay;
use crate::engine::ingest::scan_dir;
use crate::engine::progress::Progress;
use crate::engine::{Engine, EngineError};
use crate::error::{Error, Result};
use crate::hash::{CommitId, TreeId};
use crate::index::StatRecord;
use crate::object::{EntryKind, TreeEntry};

/// Files a restore from local storage writes at once.
const LOCAL_WRITERS: usize = 8;

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
    /// Paths with changes of the user's that a forced restore overwrote or removed.
    pub discarded: Vec<String>,
    /// Temporary files of interrupted restores that were cleaned up.
    pub leftovers_removed: u64,
}

/// How a restore treats the user's changes.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Overwrite or remove files whose changes were never checkpointed (`--force`)
    /// instead of refusing. The repository directory stays off limits.
    pub force: bool,
}

impl RestoreOptions {
    pub(crate) fn mode(&self) -> RestoreMode {
        if self.force {
            RestoreMode::Force
        } else {
            RestoreMode::Protect
        }
    }
}

/// Whose directory a restore writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestoreMode {
    /// A user's directory: refuse to discard changes, refuse the repository directory.
    Protect,
    /// A user's directory, discarding changes (`--force`); the repository directory is
    /// still refused.
    Force,
    /// A directory the engine owns (a render work directory inside the repository's
    /// cache): written as asked.
    Cache,
}

/// Refuses a target whose path passes through a symlink: writing there would land
/// outside the directory the caller named. Returns the absolute path.
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
                return Err(EngineError::ParentDir {
                    target: dir.to_path_buf(),
                }
                .into());
            }
            Component::CurDir => continue,
            other => walked.push(other.as_os_str()),
        }
        if let Ok(meta) = fs::symlink_metadata(&walked)
            && meta.file_type().is_symlink()
        {
            return Err(EngineError::ThroughSymlink {
                target: dir.to_path_buf(),
                link: walked,
            }
            .into());
        }
    }
    Ok(walked)
}

/// Restores checkpoint `commit` into `dir` (created if missing).
pub(crate) fn restore(
    engine: &Engine,
    commit: CommitId,
    dir: &Path,
    move_head: bool,
    mode: RestoreMode,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    let tree = engine.read_commit(&commit)?.tree;
    materialize(
        engine,
        tree,
        dir,
        move_head.then_some(commit),
        mode,
        progress,
    )
}

/// Materializes a tree into a directory the engine owns (a render work directory in
/// the cache): written as asked, without the protection of the user's changes.
#[cfg(feature = "render")]
pub(crate) fn restore_cache_dir(
    engine: &Engine,
    tree: TreeId,
    dir: &Path,
) -> Result<RestoreSummary> {
    materialize(
        engine,
        tree,
        dir,
        None,
        RestoreMode::Cache,
        &crate::engine::progress::NoProgress,
    )
}

/// Materializes a tree into `dir` (created if missing), incrementally.
pub(crate) fn restore_tree(
    engine: &Engine,
    tree: TreeId,
    dir: &Path,
    mode: RestoreMode,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    materialize(engine, tree, dir, None, mode, progress)
}

fn materialize(
    engine: &Engine,
    tree: TreeId,
    dir: &Path,
    head: Option<CommitId>,
    mode: RestoreMode,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    let root = check_target(dir)?;
    if mode != RestoreMode::Cache {
        check_paths(engine, &root, std::iter::empty())?;
    }
    fs::create_dir_all(&root).map_err(Error::io("create directory", &root))?;
    let key = root.to_string_lossy().into_owned();
    // What is on disk now, via the scanner (which trusts the stat cache and hashes the
    // rest) without storing anything, against what the restore wants.
    let pipe = crate::engine::ingest::Pipeline::hashing(engine)?;
    let scan = scan_dir(engine, &pipe, &root, &crate::engine::progress::NoProgress)?;
    let disk = Overlay {
        engine,
        trees: &scan.trees,
    };
    let steps = plan(&disk, scan.root, tree)?;
    let mut previous = Lookup::new(engine, engine.index.worktree(&key)?);
    let mut summary = protect(engine, &root, &steps, &mut previous, &scan.leftovers, mode)?;
    let rows = &scan.stat_rows;
    let stats = apply(
        engine,
        &root,
        &steps,
        &mut previous,
        rows,
        progress,
        &mut summary,
    )?;
    summary.unchanged = scan.files.saturating_sub(differing(&steps));
    if let Some(head) = head
        && crate::engine::shared::enabled(engine)
    {
        crate::engine::shared::set_head(engine, head)?;
    }
    engine.index.record_restore(&key, tree, head, &stats)?;
    Ok(summary)
}

/// What a restore checks before it touches anything, given its `steps` in `root` and
/// what was last written there (`previous`): no wanted path inside the repository, and
/// (unless `mode` says otherwise) nothing of the user's overwritten or removed. Also
/// removes the `leftovers` of interrupted restores. Returns the summary so far.
pub(super) fn protect(
    engine: &Engine,
    root: &Path,
    steps: &[Step],
    previous: &mut Lookup<'_>,
    leftovers: &[PathBuf],
    mode: RestoreMode,
) -> Result<RestoreSummary> {
    if mode != RestoreMode::Cache {
        let wanted = steps.iter().filter(|s| s.want.is_some());
        check_paths(engine, root, wanted.map(|s| s.path.as_str()))?;
    }
    let snapshot = engine.index.snapshot()?;
    let mut summary = RestoreSummary {
        discarded: discarded(steps, previous, &mut |rel, cur| {
            known_to_repository(&snapshot, root, rel, cur)
        })?,
        leftovers_removed: remove_leftovers(leftovers),
        ..RestoreSummary::default()
    };
    if mode == RestoreMode::Protect && !summary.discarded.is_empty() {
        return Err(Error::WouldDiscard {
            paths: std::mem::take(&mut summary.discarded),
        });
    }
    Ok(summary)
}

/// Carries out checked `steps` in `root`: removes what the repository put there and the
/// tree lacks, makes directories, writes files and symlinks; returns the stat cache
/// rows of what was written. `scanned` holds the stat rows of the files the scan read
/// (by absolute path): with the stat cache they tell what the scan saw of each file
/// the restore replaces.
pub(super) fn apply(
    engine: &Engine,
    root: &Path,
    steps: &[Step],
    previous: &mut Lookup<'_>,
    scanned: &[(String, StatRecord)],
    progress: &dyn Progress,
    summary: &mut RestoreSummary,
) -> Result<Vec<(String, StatRecord)>> {
    remove_tracked(root, steps, previous, summary)?;
    for step in steps {
        if step.want.as_ref().is_some_and(|w| w.kind == EntryKind::Dir)
            && ensure_dir(root, &step.path)?
        {
            summary.dirs_created += 1;
        }
    }
    crate::engine::failpoint::hit("restore-planned");
    write_files(engine, root, steps, scanned, progress, summary)
}

/// How many files and symlinks on disk the steps change or remove.
pub(super) fn differing(steps: &[Step]) -> u64 {
    steps
        .iter()
        .filter(|s| s.cur.as_ref().is_some_and(|c| c.kind != EntryKind::Dir))
        .count() as u64
}

/// Writes every file and symlink the steps want, in parallel; returns the stat cache
/// rows of what was written.
fn write_files(
    engine: &Engine,
    root: &Path,
    steps: &[Step],
    scanned: &[(String, StatRecord)],
    progress: &dyn Progress,
    summary: &mut RestoreSummary,
) -> Result<Vec<(String, StatRecord)>> {
    let mut files: Vec<(&Step, &TreeEntry)> = steps
        .iter()
        .filter_map(|s| s.want.as_ref().map(|w| (s, w)))
        .filter(|(_, w)| w.kind != EntryKind::Dir)
        .collect();
    progress.start("restoring", Some(files.iter().map(|(_, e)| e.size).sum()));
    // Every object is looked up in one read transaction, not one per object.
    let snapshot = engine.index.snapshot()?;
    let seen = Seen::collect(&snapshot, root, steps, scanned)?;
    // In pack order: each restore thread takes a run of consecutive files, so the small
    // files of one solid block are written by one thread one after another and the
    // block is decompressed once (in tree order, 200,000 files made it once a file or
    // so: a restore 1.6x as long, with 250 MiB of peak RSS).
    let mut at = Vec::with_capacity(files.len());
    for (_, e) in &files {
        at.push(snapshot.location(&e.id)?.map(|l| (l.pack, l.offset)));
    }
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| at[i]);
    files = order.into_iter().map(|i| files[i]).collect();
    let write_all = || {
        files
            .par_iter()
            .map(|(step, e)| {
                let (now, was) = (step.cur.as_ref(), seen.get(&step.path));
                let r = restore_one(engine, &snapshot, root, &step.path, e, now, was);
                progress.advance(e.size);
                r
            })
            .collect::<Result<Vec<Written>>>()
    };
    // Creating a small file waits on the file system more than it computes, and a read
    // from a cloud store waits on a round trip: more files in flight than cores.
    let threads = engine.backend.parallel_reads().unwrap_or(LOCAL_WRITERS);
    let results = match threads {
        n if files.len() > 1 => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("reel-restore-{i}"))
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start the restore's threads: {e}")))?
            .install(write_all),
        _ => write_all(),
    }?;
    progress.finish();
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
    Ok(stats)
}
