//! Restoring some paths of a checkpoint (`reel restore REF -- PATH…`, as
//! `git checkout REF -- PATH`): each path becomes what the checkpoint has there (or goes,
//! when the checkpoint has nothing there and the repository last wrote it), and only
//! those paths are scanned, so the cost does not grow with the rest of the directory.
//! HEAD and the record of what was last checkpointed or restored in the directory stay
//! as they were: the restored paths show as changes until the next checkpoint. The
//! user's changes at those paths are protected as in a whole restore.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use super::materialize::{RestoreMode, RestoreSummary, apply, check_target, differing, protect};
use super::plan::{Lookup, plan_at};
use super::protect::check_paths;
use super::write::ensure_dir;
use crate::engine::diff::Overlay;
use crate::engine::ingest::{Pipeline, scan_path};
use crate::engine::progress::Progress;
use crate::engine::{Engine, EngineError};
use crate::error::{Error, ItemKind, Result};
use crate::hash::{CommitId, TreeId};
use crate::object::{EntryKind, Tree, TreeEntry};

/// Restores `paths` (relative to `dir`, `/`-separated; `.` is the whole directory) of
/// checkpoint `commit` into `dir`.
pub(crate) fn restore_paths(
    engine: &Engine,
    commit: CommitId,
    dir: &Path,
    paths: &[String],
    mode: RestoreMode,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    let paths = normalize(paths)?;
    let root = check_target(dir)?;
    check_paths(engine, &root, paths.iter().map(String::as_str))?;
    let last = engine.index.worktree(&root.to_string_lossy())?;
    let found = look(engine, commit, &root, last, &paths)?;
    let disk = Overlay {
        engine,
        trees: &found.trees,
    };
    let mut steps = Vec::new();
    for (path, cur, want) in &found.paths {
        steps.extend(plan_at(&disk, path, cur.as_ref(), want.as_ref())?);
    }
    let mut previous = Lookup::new(engine, last);
    let mut summary = protect(engine, &root, &steps, &mut previous, &found.leftovers, mode)?;
    // Created only now: a refused restore of some paths leaves no new directory behind.
    fs::create_dir_all(&root).map_err(Error::io("create directory", &root))?;
    for (path, _, want) in &found.paths {
        if want.is_some() {
            for parent in parents(path) {
                summary.dirs_created += u64::from(ensure_dir(&root, parent)?);
            }
        }
    }
    let rows = &found.stat_rows;
    let stats = apply(
        engine,
        &root,
        &steps,
        &mut previous,
        rows,
        progress,
        &mut summary,
    )?;
    summary.unchanged = found.files.saturating_sub(differing(&steps));
    engine.index.record_stats(&stats)?;
    Ok(summary)
}

/// What a restore of some paths found: for each path, what is on disk and what the
/// checkpoint has there.
struct Found<'p> {
    paths: Vec<(&'p str, Option<TreeEntry>, Option<TreeEntry>)>,
    /// The trees of the directories scanned.
    trees: HashMap<TreeId, Tree>,
    /// Files and symlinks scanned.
    files: u64,
    leftovers: Vec<std::path::PathBuf>,
    /// The stat rows of the files the scans read.
    stat_rows: Vec<(String, crate::index::StatRecord)>,
}

/// Looks each path up in the checkpoint and in what was last written (`last`), and
/// scans it on disk. A path in neither is an error: most likely a typo.
fn look<'p>(
    engine: &Engine,
    commit: CommitId,
    root: &Path,
    last: Option<TreeId>,
    paths: &'p [String],
) -> Result<Found<'p>> {
    let tree = engine.read_commit(&commit)?.tree;
    let pipe = Pipeline::hashing(engine)?;
    let (mut wanted, mut previous) = (Lookup::new(engine, Some(tree)), Lookup::new(engine, last));
    let mut found = Found {
        paths: Vec::new(),
        trees: HashMap::new(),
        files: 0,
        leftovers: Vec::new(),
        stat_rows: Vec::new(),
    };
    for path in paths {
        let want = entry_at(&mut wanted, tree, path)?;
        let tracked = match last {
            Some(last) => entry_at(&mut previous, last, path)?.is_some(),
            None => false,
        };
        if want.is_none() && !tracked {
            return Err(Error::NotFound {
                kind: ItemKind::Path,
                id: path.clone(),
                within: Some(format!(
                    "checkpoint {} (nor is it tracked in {})",
                    commit.short(),
                    root.display()
                )),
                suggestion: None,
            });
        }
        check_parents(root, path)?;
        let scan = scan_path(engine, &pipe, &root.join(path))?;
        found.trees.extend(scan.trees);
        found.leftovers.extend(scan.leftovers);
        found.stat_rows.extend(scan.stat_rows);
        found.files += scan.files;
        found.paths.push((path.as_str(), scan.entry, want));
    }
    Ok(found)
}

/// The entry at `path` of the tree `root` (`""`: the root itself).
fn entry_at(lookup: &mut Lookup<'_>, root: TreeId, path: &str) -> Result<Option<TreeEntry>> {
    if path.is_empty() {
        return Ok(Some(TreeEntry {
            name: String::new(),
            kind: EntryKind::Dir,
            executable: false,
            size: 0,
            id: root.0,
        }));
    }
    lookup.get(path)
}

/// `a/b/c` → `a`, `a/b`.
fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Refuses a path whose parent on disk is a file or a symlink: writing there would
/// replace it (a file the user may have put there) or follow it (out of the target).
/// A parent that is missing is created later.
fn check_parents(root: &Path, path: &str) -> Result<()> {
    for parent in parents(path) {
        let abs = root.join(parent);
        match fs::symlink_metadata(&abs) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(EngineError::ThroughSymlink {
                    target: root.join(path),
                    link: abs,
                }
                .into());
            }
            Ok(_) => {
                return Err(Error::Invalid(format!(
                    "cannot restore `{path}`: `{parent}` is not a directory on disk \
                     (restore `{parent}` itself to replace it)"
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("stat", &abs)(e)),
        }
    }
    Ok(())
}

/// Paths as given on a command line, checked and made canonical (`./src/` → `src`, `.`
/// → `""`), sorted, without those below another.
fn normalize(paths: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for raw in paths {
        let mut p = raw.trim_end_matches('/');
        while let Some(rest) = p.strip_prefix("./") {
            p = rest.trim_start_matches('/');
        }
        let p = if p == "." { "" } else { p };
        let bad = raw.starts_with('/')
            || (!p.is_empty()
                && p.split('/')
                    .any(|part| part.is_empty() || part == "." || part == ".."));
        if bad || raw.is_empty() {
            return Err(Error::Invalid(format!(
                "`{raw}` is not a path inside the directory: paths are relative to it, \
                 `/`-separated, without `..`"
            )));
        }
        out.push(p.to_owned());
    }
    out.sort();
    out.dedup();
    let all = out.clone();
    out.retain(|p| {
        !all.iter().any(|q| {
            q != p
                && (q.is_empty()
                    || p.strip_prefix(q.as_str())
                        .is_some_and(|r| r.starts_with('/')))
        })
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(paths: &[&str]) -> Result<Vec<String>> {
        normalize(&paths.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn paths_are_canonical_and_none_is_below_another() {
        assert_eq!(
            norm(&["./src/", "src/a.tsx", "public", "srcx"]).unwrap(),
            ["public", "src", "srcx"]
        );
        assert_eq!(norm(&["a/b", ".", "c"]).unwrap(), [""]);
        for bad in ["/etc/passwd", "../x", "a/../b", "a//b", "", "a/./b"] {
            let err = norm(&[bad]).unwrap_err().to_string();
            assert!(err.contains("not a path inside"), "{bad}: {err}");
        }
    }

    #[test]
    fn parents_of_a_path() {
        assert_eq!(parents("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert!(parents("a").next().is_none());
    }
}
