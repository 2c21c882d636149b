//! Directory walking with ignore rules (`.reelignore`, gitignore syntax).

use std::path::{Path, PathBuf};

use ignore::WalkBuilder;

use crate::error::{Error, Result};
use crate::object::validate_name;

/// The name of the per-directory ignore file.
pub const IGNORE_FILE: &str = ".reelignore";
/// The repository directory, never walked.
pub const REPO_DIR: &str = ".reel";

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

/// One walked path.
#[derive(Debug)]
pub struct WalkEntry {
    /// Relative path with `/` separators; empty for the root.
    pub rel: String,
    /// Absolute path.
    pub abs: PathBuf,
    /// What it is.
    pub kind: WalkKind,
    /// Its lstat.
    pub meta: std::fs::Metadata,
}

/// Walks `root` (absolute), sorted by name, skipping ignored paths and `.reel`.
/// Fails on a name that is not valid UTF-8 or not a valid entry name, naming the path.
pub fn walk(root: &Path) -> Result<Vec<WalkEntry>> {
    let walker = WalkBuilder::new(root)
        .standard_filters(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .follow_links(false)
        .sort_by_file_name(std::cmp::Ord::cmp)
        .filter_entry(|e| e.file_name() != REPO_DIR)
        .build();
    let mut out = Vec::new();
    for item in walker {
        let entry = item.map_err(|e| walk_error(root, &e))?;
        let abs = entry.path().to_path_buf();
        let rel = relative(root, &abs)?;
        let meta = std::fs::symlink_metadata(&abs).map_err(Error::io("stat", &abs))?;
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
        out.push(WalkEntry {
            rel,
            abs,
            kind,
            meta,
        });
    }
    Ok(out)
}

fn relative(root: &Path, abs: &Path) -> Result<String> {
    let rel = abs
        .strip_prefix(root)
        .expect("walked paths are under the root");
    let mut parts = Vec::new();
    for comp in rel.components() {
        let name = comp.as_os_str().to_str().ok_or_else(|| {
            Error::Invalid(format!(
                "{} has a name that is not valid UTF-8",
                abs.display()
            ))
        })?;
        validate_name(name).map_err(|why| Error::Invalid(format!("{}: {why}", abs.display())))?;
        parts.push(name);
    }
    Ok(parts.join("/"))
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
