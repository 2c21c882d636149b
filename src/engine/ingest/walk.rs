//! Directory walking with ignore rules (`.reelignore`, gitignore syntax).
//!
//! Never walked: the repository directory (`.reel` at any depth, whatever the case, and
//! the repository's own path wherever it is kept) and the temporary files of restores
//! (`.reel-restore-*`), which are reported apart so a restore can clean up after one
//! that was interrupted. A path that vanishes or cannot be read while the walk runs is
//! skipped and reported, not an error: the walk records what it could see.

use std::path::{Path, PathBuf};

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use ignore::Match;
use ignore::gitignore::Gitignore;
use rayon::prelude::*;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
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
    /// Every path, the root first, then each directory's entries in name order, each
    /// directory before what is below it.
    pub entries: Vec<WalkEntry>,
    /// Temporary files of restores (absolute).
    pub leftovers: Vec<PathBuf>,
    /// Paths left out.
    pub skipped: Vec<SkippedPath>,
}

/// Walks `root` (absolute; a directory, possibly reached through a symlink), skipping
/// ignored paths, repository directories and `exclude` (the repository's own path).
/// Fails on a name that is not valid UTF-8 or not a valid entry name, naming the path.
///
/// Directories are walked in parallel, each listed once and every name in it
/// `lstat`ed relative to the open directory (`fstatat`), so the kernel resolves one
/// name, not the whole path, and no path is built for a name that needs none. On a
/// 200,000-file tree the `ignore` crate's walker and an `lstat` of each full path took
/// 310 ms of an incremental checkpoint; with this walk the whole checkpoint went from
/// 0.68 s to 0.52 s on 2 cores (`docs/performance.md`). The rules of `.reelignore`
/// files are the `ignore` crate's gitignore matchers, the deepest file deciding first.
pub fn walk(root: &Path, exclude: Option<&Path>) -> Result<Walked> {
    let meta = std::fs::metadata(root).map_err(Error::io("stat", root))?;
    let fd = open_dir(rustix::fs::CWD, root, OFlags::empty())
        .map_err(|e| Error::io("open directory", root)(e.into()))?;
    let ctx = Ctx { exclude };
    let parts = walk_dir(&ctx, &fd, root, "", &[])?;
    let mut out = Walked::default();
    out.entries
        .reserve(parts.iter().map(|p| p.entries.len()).sum::<usize>() + 1);
    out.entries
        .push(WalkEntry::new(String::new(), WalkKind::Dir, &meta));
    for part in parts {
        out.entries.extend(part.entries);
        out.leftovers.extend(part.leftovers);
        out.skipped.extend(part.skipped);
    }
    Ok(out)
}

/// What stays the same across a walk.
struct Ctx<'a> {
    exclude: Option<&'a Path>,
}

/// One directory's share of a walk.
#[derive(Default)]
struct Part {
    entries: Vec<WalkEntry>,
    leftovers: Vec<PathBuf>,
    skipped: Vec<SkippedPath>,
}

fn open_dir(
    at: impl std::os::fd::AsFd,
    path: impl rustix::path::Arg,
    extra: OFlags,
) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        at,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | extra,
        Mode::empty(),
    )
}

/// Walks the open directory `fd` at `abs` (relative path `rel`) under the ignore
/// matchers of the directories above (`ignores`, outermost first). Returns its part,
/// then those of its subdirectories in name order.
fn walk_dir(
    ctx: &Ctx<'_>,
    fd: &OwnedFd,
    abs: &Path,
    rel: &str,
    ignores: &[Arc<Gitignore>],
) -> Result<Vec<Part>> {
    let names = list(fd).map_err(|e| Error::io("list", abs)(e.into()))?;
    let mut stack = ignores.to_vec();
    if names.iter().any(|n| n.to_bytes() == IGNORE_FILE.as_bytes()) {
        let file = abs.join(IGNORE_FILE);
        let (rules, err) = Gitignore::new(&file);
        if let Some(err) = err {
            return Err(Error::Invalid(format!("{}: {err}", file.display())));
        }
        stack.push(Arc::new(rules));
    }
    let mut part = Part::default();
    let mut subdirs = Vec::new();
    for name in &names {
        let Some(entry) = visit(ctx, fd, abs, rel, &stack, name, &mut part)? else {
            continue;
        };
        if entry.kind == WalkKind::Dir {
            subdirs.push((name.as_c_str(), entry.rel.clone()));
        }
        part.entries.push(entry);
    }
    let below: Vec<Vec<Part>> = subdirs
        .par_iter()
        .map(|(name, sub_rel)| {
            let sub_abs = abs.join(OsStr::from_bytes(name.to_bytes()));
            match open_dir(fd, *name, OFlags::NOFOLLOW) {
                Ok(sub) => walk_dir(ctx, &sub, &sub_abs, sub_rel, &stack),
                Err(e) => {
                    let e = std::io::Error::from(e);
                    if gone_or_replaced(&e) {
                        let mut p = Part::default();
                        p.skipped.push(skip(sub_rel.clone(), &e.to_string()));
                        Ok(vec![p])
                    } else {
                        Err(Error::io("open directory", &sub_abs)(e))
                    }
                }
            }
        })
        .collect::<Result<_>>()?;
    let mut parts = vec![part];
    parts.extend(below.into_iter().flatten());
    Ok(parts)
}

/// The names in a directory, sorted by their bytes, without `.` and `..`.
fn list(fd: &OwnedFd) -> rustix::io::Result<Vec<CString>> {
    let mut names = Vec::new();
    for entry in Dir::read_from(fd)? {
        let name = entry?.file_name().to_owned();
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name);
        }
    }
    names.sort_unstable_by(|a, b| a.to_bytes().cmp(b.to_bytes()));
    Ok(names)
}

/// One name of a directory: its entry, or `None` when it is left out (recorded in
/// `part` when it is a leftover or skipped).
fn visit(
    ctx: &Ctx<'_>,
    fd: &OwnedFd,
    abs: &Path,
    rel: &str,
    ignores: &[Arc<Gitignore>],
    name: &CStr,
    part: &mut Part,
) -> Result<Option<WalkEntry>> {
    let os_name = OsStr::from_bytes(name.to_bytes());
    if is_repo_dir_name(&os_name.to_string_lossy())
        || ctx
            .exclude
            .is_some_and(|x| x.parent() == Some(abs) && x.file_name() == Some(os_name))
    {
        return Ok(None);
    }
    let child_rel = |n: &str| {
        if rel.is_empty() {
            n.to_owned()
        } else {
            format!("{rel}/{n}")
        }
    };
    let stat = match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(e) => {
            let e = std::io::Error::from(e);
            if vanished_or_unreadable(&e) {
                let rel = child_rel(&os_name.to_string_lossy());
                part.skipped.push(skip(rel, &e.to_string()));
                return Ok(None);
            }
            return Err(Error::io("stat", abs.join(os_name))(e));
        }
    };
    let kind = match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => WalkKind::File,
        FileType::Directory => WalkKind::Dir,
        FileType::Symlink => WalkKind::Symlink,
        _ => {
            let path = abs.join(os_name);
            tracing::warn!(path = %path.display(), "skipping a special file (socket, fifo or device)");
            return Ok(None);
        }
    };
    if !ignores.is_empty() && ignored(ignores, &abs.join(os_name), kind == WalkKind::Dir) {
        return Ok(None);
    }
    if name.to_bytes().starts_with(TEMP_PREFIX.as_bytes()) {
        part.leftovers.push(abs.join(os_name));
        return Ok(None);
    }
    let Some(name) = os_name.to_str() else {
        return Err(Error::Invalid(format!(
            "{} has a name that is not valid UTF-8",
            abs.join(os_name).display()
        )));
    };
    validate_name(name)
        .map_err(|why| Error::Invalid(format!("{}: {why}", abs.join(name).display())))?;
    Ok(Some(WalkEntry {
        rel: child_rel(name),
        kind,
        executable: stat.st_mode & 0o100 != 0,
        stat: record_of(&stat),
    }))
}

/// Whether the ignore files of the directories above (`ignores`, outermost first) leave
/// `path` out: the deepest file with a rule for it decides, as in git.
fn ignored(ignores: &[Arc<Gitignore>], path: &Path, is_dir: bool) -> bool {
    for rules in ignores.iter().rev() {
        match rules.matched(path, is_dir) {
            Match::Ignore(_) => return true,
            Match::Whitelist(_) => return false,
            Match::None => {}
        }
    }
    false
}

/// The stat cache's view of an `lstat` (what [`super::file::stat_of`] makes of a
/// `Metadata`). The field types differ between targets, hence the conversions.
#[allow(clippy::useless_conversion)]
fn record_of(st: &rustix::fs::Stat) -> StatRecord {
    let ns = |s, ns| {
        let s = i64::try_from(s).unwrap_or(i64::MAX);
        let ns = i64::try_from(ns).unwrap_or(0);
        s.saturating_mul(1_000_000_000).saturating_add(ns)
    };
    StatRecord {
        size: u64::try_from(st.st_size).unwrap_or(0),
        mtime_ns: ns(st.st_mtime, st.st_mtime_nsec),
        ctime_ns: ns(st.st_ctime, st.st_ctime_nsec),
        inode: u64::try_from(st.st_ino).unwrap_or(0),
        id: crate::hash::Hash::EMPTY,
    }
}

/// A directory that vanished, cannot be read, or was replaced by something else (a
/// symlink: never followed) between its listing and its opening.
fn gone_or_replaced(e: &std::io::Error) -> bool {
    vanished_or_unreadable(e)
        || matches!(
            e.raw_os_error(),
            Some(code) if code == rustix::io::Errno::LOOP.raw_os_error()
                || code == rustix::io::Errno::NOTDIR.raw_os_error()
        )
}

fn skip(rel: String, reason: &str) -> SkippedPath {
    tracing::info!(path = %rel, "skipped: {reason}");
    SkippedPath {
        path: rel,
        reason: reason.to_owned(),
    }
}

/// Whether an I/O error means "gone" or "not ours to read" (skip) rather than a fault.
pub fn vanished_or_unreadable(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
    )
}

#[cfg(test)]
#[path = "walk_tests.rs"]
mod tests;
