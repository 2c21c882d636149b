//! The public error of the library, by meaning.
//!
//! Each layer keeps its own detail; what reaches a caller is one of these variants,
//! carrying the id, path or pack it is about, and a sentence a person can act on.

use std::path::PathBuf;

use crate::hash::Hash;

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, grouped by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An object, ref or path that does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. "object 3fa2…" or "path src/a.tsx".
        what: String,
    },
    /// A reference that matches more than one checkpoint.
    #[error("`{rev}` is ambiguous: it matches {candidates}")]
    Ambiguous {
        /// The reference as given.
        rev: String,
        /// The matching ids, shortened.
        candidates: String,
    },
    /// Stored bytes that fail verification.
    #[error("corrupt data: {what}: {reason}")]
    Corrupt {
        /// Which object or pack.
        what: String,
        /// What did not verify.
        reason: String,
    },
    /// Input the engine refuses: a bad name, path, ref or option.
    #[error("{0}")]
    Invalid(String),
    /// A name or object that already exists where a new one was asked for.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A concurrent change got in the way; retrying may succeed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A file changed while it was being read, so its snapshot would be torn.
    #[error("{path} changed while it was being read")]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The repository was written by a newer format than this build understands.
    #[error("repository format version {found} is newer than this build supports ({supported})")]
    UnsupportedVersion {
        /// Version found on disk.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// No repository where one was expected.
    #[error("no reel repository found at or above {0}")]
    NoRepository(PathBuf),
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done, e.g. "read".
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The blob backend (object store or redb file) failed.
    #[error("storage backend: {0}")]
    Backend(String),
    /// The redb index failed.
    #[error("index: {0}")]
    Index(String),
    /// The index file cannot stand for the repository: missing, empty, unreadable or
    /// another repository's. Never silently replaced by an empty one.
    #[error("the index {path} is {reason}")]
    IndexUnusable {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A restore would discard changes that were never checkpointed.
    #[error("{} would be overwritten or removed by the restore: {}", count_files(.paths.len()), list_paths(.paths))]
    WouldDiscard {
        /// The paths with changes, relative to the target.
        paths: Vec<String>,
    },
    /// The operation was cancelled by its caller.
    #[error("cancelled")]
    Cancelled,
    /// A renderer (or its install step) failed; `details` holds the relevant lines of
    /// its output.
    #[error("render failed: {message}")]
    Render {
        /// One sentence: what went wrong.
        message: String,
        /// The lines of the renderer's output that show where (may be empty).
        details: String,
    },
    /// A bounded queue is full; retry later.
    #[error("busy: {0}")]
    Busy(String),
}

impl Error {
    /// A `NotFound` for an object id.
    #[must_use]
    pub fn object_not_found(id: &Hash) -> Error {
        Error::NotFound {
            what: format!("object {}", id.short()),
        }
    }

    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }

    /// A hint a person can act on, when there is an obvious one.
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::NoRepository(_) => Some("run `reel init` here, or pass --repo PATH"),
            Error::Ambiguous { .. } => Some("give more hex digits of the id"),
            Error::NotFound { .. } => Some("`reel log` lists the checkpoints"),
            Error::Corrupt { .. } => {
                Some("run `reel fsck --read-data` to find every damaged object")
            }
            Error::UnsupportedVersion { .. } => Some("upgrade reel to open this repository"),
            Error::IndexUnusable { .. } => Some(
                "`reel index rebuild` rebuilds it from the packs (an unusable file is kept aside, never deleted)",
            ),
            Error::WouldDiscard { .. } => {
                Some("checkpoint them first, move them away, or pass --force to discard them")
            }
            Error::Changed { .. } => {
                Some("stop whatever is writing the file and run the command again")
            }
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
                Some("free some disk space; nothing was lost")
            }
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                Some("check the permissions of the repository and target directory")
            }
            _ => None,
        }
    }
}

fn count_files(n: usize) -> String {
    if n == 1 {
        "1 file with changes not in any checkpoint".into()
    } else {
        format!("{n} files with changes not in any checkpoint")
    }
}

/// The first few paths, then how many more.
fn list_paths(paths: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut out = paths
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        let more = paths.len() - SHOWN;
        out.push_str(" and ");
        out.push_str(&more.to_string());
        out.push_str(" more");
    }
    out
}
