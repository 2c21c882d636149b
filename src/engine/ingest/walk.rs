//! Directory walking with ignore rules (`.reelignore`, gitignore syntax).
//!
//! Never walked: the repository directory (`.reel` at any depth, whatever the case, and
//! the repository's own path wherever it is kept) and the temporary files of restores
//! (`.reel-restore-*`), which are reported apart so a restore can clean up after one
//! that was interrupted. A path that vanishes or cannot be read while the walk runs is
//! skipped and reported, not an error: the walk records what it could see.

use std::path::{Path, PathBuf};

use ignore::WalkBuilder;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::index::StatRecord;
use crate::object::validate_name;

/// The name of the per-directory ignore file.
pub const IGNORE_FILE: &str = ".reelignore";
/// The repository directory's name, never walked.
pub const REPO_DIR: &str = ".reel";
/// How the temporary files of a restore begin; never walked.
pub const TEMP_PREFIX: &str = ".reel-restore-";

/// Whether a path component names a repository directory (in any case: some
/// filesystems fold it).
#[must_use]
pub fn is_repo_dir_name(name: &str) -> bool {
    name.eq_ignore_ascii_case(REPO_DIR)
}

/// What a walked path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
}

/// One walked path: what a checkpoint needs of its lstat and nothing more (a tree
/// of 200,000 files keeps 200,000 of these until its trees are built; a full
/// `Metadata` and the absolute path cost ~250 bytes more each).
#[derive(Debug, Clone)]
pub struct WalkEntry {
    /// Relative path with `/` separators; empty for the root.
    pub rel: String,
    /// What it is.
    pub kind: WalkKind,
    /// Whether its owner may execute it.
    pub executable: bool,
    /// Its lstat (the content id left empty).
    pub stat: StatRecord,
}

impl WalkEntry {
    /// An entry from an lstat.
    #[must_use]
    pub fn new(rel: String, kind: WalkKind, meta: &std::fs::Metadata) -> WalkEntry {
        use std::os::unix::fs::PermissionsExt;
        WalkEntry {
            rel,
            kind,
            executable: meta.permissions().mode() & 0o100 != 0,
            stat: super::file::stat_of(meta),
        }
    }

    /// Its absolute path below `root`, the walked directory.
    #[must_use]
    pub fn abs(&self, root: &Path) -> PathBuf {
        if self.rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&self.rel)
        }
    }
}

/// A path left out because it vanished or could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedPath {
    /// The path, relative to the walked directory.
    pub path: String,
    /// Why, as the OS said it.
    pub reason: String,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walked {
    /// Every path, sorted by name, the root first.
    pub entries: Vec<WalkEntry>,
    /// Temporary files of restores (absolute).
    pub leftovers: Vec<PathBuf>,
    /// Paths left out.
    pub skipped: Vec<SkippedPath>,
}

/// Walks `root` (absolute), sorted by name, skipping ignored paths, repository
/// directories and `exclude` (the repository's own path). Fails on a name that is not
/// valid UTF-8 or not a valid entry name, naming the path.
pub fn walk(root: &Path, exclude: Option<&Path>) -> Result<Walked> {
    let exclude = exclude.map(Path::to_path_buf);
    let walker = WalkBuilder::new(root)
        .standard_filters(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .follow_links(false)
        .sort_by_file_name(std::cmp::Ord::cmp)
        .filter_entry(move |e| {
            !is_repo_dir_name(&e.file_name().to_string_lossy())
                && exclude.as_deref() != Some(e.path())
        })
        .build();
    let mut out = Walked::default();
    let mut found = Vec::new();
    for item in walker {
        let entry = match item {
            Ok(entry) => entry,
            Err(e) => {
                skip_or_fail(root, &e, &mut out)?;
                continue;
            }
        };
        let abs = entry.path().to_path_buf();
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            out.leftovers.push(abs);
            continue;
        }
        let rel = relative(root, &abs)?;
        found.push((rel, abs));
    }
    stat_all(found, &mut out)?;
    Ok(out)
}

/// The lstat of every path the listing found, in parallel (it is most of a walk's cost
/// on a large tree, and the kernel answers it on any core), kept in the walk's order.
fn stat_all(found: Vec<(String, PathBuf)>, out: &mut Walked) -> Result<()> {
    let stats: Vec<std::io::Result<std::fs::Metadata>> = found
        .par_iter()
        .map(|(_, abs)| std::fs::symlink_metadata(abs))
        .collect();
    out.entries.reserve(found.len());
    for ((rel, abs), meta) in found.into_iter().zip(stats) {
        let meta = match meta {
            Ok(m) => m,
            Err(e) if !rel.is_empty() && vanished_or_unreadable(&e) => {
                skipped(out, rel, &e.to_string());
                continue;
            }
            Err(e) => return Err(Error::io("stat", &abs)(e)),
        };
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            WalkKind::Symlink
        } else if ft.is_dir() {
            WalkKind::Dir
        } else if ft.is_file() {
            WalkKind::File
        } else {
            tracing::warn!(path = %abs.display(), "skipping a special file (socket, fifo or device)");
            continue;
        };
        out.entries.push(WalkEntry::new(rel, kind, &meta));
    }
    Ok(())
}

/// Whether an I/O error means "gone" or "not ours to read" (skip) rather than a fault.
pub fn vanished_or_unreadable(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
    )
}

/// Records a skipped path and says so.
pub fn skipped(out: &mut Walked, rel: String, reason: &str) {
    tracing::info!(path = %rel, "skipped: {reason}");
    out.skipped.push(SkippedPath {
        path: rel,
        reason: reason.to_owned(),
    });
}

fn skip_or_fail(root: &Path, e: &ignore::Error, out: &mut Walked) -> Result<()> {
    let io = e.io_error();
    if let Some(io) = io
        && vanished_or_unreadable(io)
    {
        let rel = error_path(e)
            .and_then(|p| {
                p.strip_prefix(root)
                    .ok()
                    .map(|r| r.to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        if !rel.is_empty() {
            skipped(out, rel, &io.to_string());
            return Ok(());
        }
    }
    Err(walk_error(root, e))
}

/// The path an `ignore` error is about, if it names one.
fn error_path(e: &ignore::Error) -> Option<&Path> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// `abs` relative to `root`, `/`-separated. The walk yields `root` joined with names,
/// and every directory before what is below it: only the last name is new, so only it
/// is checked (the others were when their directory was walked).
fn relative(root: &Path, abs: &Path) -> Result<String> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = abs.as_os_str().as_bytes();
    let rel = bytes
        .strip_prefix(root.as_os_str().as_bytes())
        .expect("walked paths are under the root");
    let rel = rel.strip_prefix(b"/").unwrap_or(rel);
    let rel = std::str::from_utf8(rel).map_err(|_| {
        Error::Invalid(format!(
            "{} has a name that is not valid UTF-8",
            abs.display()
        ))
    })?;
    if let Some(name) = rel.rsplit('/').next().filter(|n| !n.is_empty()) {
        validate_name(name).map_err(|why| Error::Invalid(format!("{}: {why}", abs.display())))?;
    }
    Ok(rel.to_owned())
}

fn walk_error(root: &Path, e: &ignore::Error) -> Error {
    match e.io_error() {
        Some(io) => Error::Io {
            op: "walk",
            path: root.to_path_buf(),
            source: std::io::Error::new(io.kind(), e.to_string()),
        },
        None => Error::Invalid(format!("walking {}: {e}", root.display())),
    }
}
