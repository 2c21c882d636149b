//! The public error of the library, by meaning.
//!
//! Each layer keeps its own error enum with the detail it knows (`object::ObjectError`,
//! `store::StoreError`, `index::IndexError`, `engine::EngineError`,
//! `artifact::ArtifactError`, `render::RenderError`); each converts into this one with
//! `From`, keeping the underlying error as the `source` where there is one. What reaches
//! a caller says what happened — which id, path or pack — and never what to type: the
//! faces (CLI, MCP) add their own hints and codes.

use std::path::PathBuf;
use std::time::Duration;

use crate::hash::{Hash, PackId};

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from a dependency, kept whole as a source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a `NotFound` or `AlreadyExists` is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemKind {
    /// A stored object (chunk, manifest, tree, commit), by id.
    Object,
    /// A pack, by id.
    Pack,
    /// A blob in the backend, by name.
    Blob,
    /// A checkpoint, by name, id or prefix.
    Checkpoint,
    /// A path in a tree or working tree.
    Path,
    /// A project, by id.
    Project,
    /// An asset or render record, by id.
    Record,
    /// A render job, by id.
    Job,
    /// A repository, by location.
    Repository,
    /// A tag, by name.
    Tag,
}

impl ItemKind {
    fn noun(self) -> &'static str {
        match self {
            ItemKind::Object => "object",
            ItemKind::Pack => "pack",
            ItemKind::Blob => "blob",
            ItemKind::Checkpoint => "checkpoint",
            ItemKind::Path => "path",
            ItemKind::Project => "project",
            ItemKind::Record => "record",
            ItemKind::Job => "render job",
            ItemKind::Repository => "repository",
            ItemKind::Tag => "tag",
        }
    }

    /// Ids of these kinds are hex and shown bare; the others are names, shown quoted.
    fn is_hex(self) -> bool {
        matches!(
            self,
            ItemKind::Object
                | ItemKind::Pack
                | ItemKind::Project
                | ItemKind::Record
                | ItemKind::Job
        )
    }
}

impl std::fmt::Display for ItemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.noun())
    }
}

fn did_you_mean(suggestion: Option<&String>) -> String {
    suggestion.map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
}

/// The candidate closest to `given`, if it is close enough to be a typo of it: at most
/// one edit in three characters (at least one edit allowed, never the whole word).
#[must_use]
pub fn closest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let len = given.chars().count();
    let allowed = (len / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != given)
        .map(|c| (strsim::levenshtein(given, c), c))
        .filter(|(d, _)| *d <= allowed && *d < len)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_owned())
}

fn item(kind: ItemKind, id: &str, within: Option<&String>) -> String {
    let mut s = if kind.is_hex() {
        format!("{kind} {id}")
    } else {
        format!("{kind} `{id}`")
    };
    if let Some(w) = within {
        s.push_str(" in ");
        s.push_str(w);
    }
    s
}

/// Everything that can go wrong, grouped by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Something that does not exist (or that the caller may not see).
    #[error("{} not found{}", item(*.kind, .id, .within.as_ref()), did_you_mean(.suggestion.as_ref()))]
    NotFound {
        /// What kind of thing.
        kind: ItemKind,
        /// Its id or name, as given.
        id: String,
        /// Where it was looked for (e.g. "project 0a56…"), if not the repository.
        within: Option<String>,
        /// The closest existing name, when one is close (a typo).
        suggestion: Option<String>,
    },
    /// A reference that matches more than one thing.
    #[error("`{rev}` is ambiguous: it matches {}", .candidates.join(", "))]
    Ambiguous {
        /// The reference as given.
        rev: String,
        /// The matching ids, shortened.
        candidates: Vec<String>,
    },
    /// A name or thing that already exists where a new one was asked for.
    #[error("{} already exists", item(*.kind, .id, .within.as_ref()))]
    AlreadyExists {
        /// What kind of thing.
        kind: ItemKind,
        /// Its id or name.
        id: String,
        /// Where, if not the repository.
        within: Option<String>,
    },
    /// Input the engine refuses: a bad name, path, ref, option or setting.
    #[error("{0}")]
    Invalid(String),
    /// A concurrent change got in the way; retrying may succeed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored bytes that fail verification, or a pack that is missing or short.
    #[error("corrupt data: {what}: {reason}")]
    Corrupt {
        /// Which thing, for a person: e.g. "tree 3fa2… in pack 9c01…".
        what: String,
        /// The pack involved, if known.
        pack: Option<PackId>,
        /// The object involved, if known.
        object: Option<Hash>,
        /// What did not verify.
        reason: String,
    },
    /// A file changed while it was being read, so its snapshot would be torn.
    #[error("{path} changed while it was being read")]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// A restore would discard changes that were never checkpointed.
    #[error("{} would be overwritten or removed by the restore: {}", count_files(.paths.len()), list_paths(.paths))]
    WouldDiscard {
        /// The paths with changes, relative to the target.
        paths: Vec<String>,
    },
    /// Data written by a newer format than this build understands.
    #[error("{what} format version {found} is newer than this build supports ({supported})")]
    UnsupportedVersion {
        /// What: "repository", "pack", "object".
        what: &'static str,
        /// Version found.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// No repository where one was expected.
    #[error("no reel repository found at or above {0}")]
    NoRepository(PathBuf),
    /// The index file cannot stand for the repository: missing, empty, unreadable or
    /// another repository's. Never silently replaced by an empty one.
    #[error("the index {path} is {reason}")]
    IndexUnusable {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// GC refused: the index was rebuilt from the packs, and the data only the lost
    /// index referenced (project records, assets, renders) would look unreferenced.
    #[error(
        "this index was rebuilt from the packs: project records, assets and renders lived only in the lost index, so their data looks unreferenced now"
    )]
    Rebuilt,
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
    #[error("storage backend: {op}: {source}")]
    Backend {
        /// What was being done, e.g. "put packs/3fa2….pack".
        op: String,
        /// The backend's error.
        source: BoxError,
    },
    /// The redb index failed.
    #[error("index: {source}")]
    Index {
        /// redb's error.
        source: BoxError,
    },
    /// Something took longer than it may.
    #[error("{what} did not finish within {}", humanize(*.after))]
    Timeout {
        /// What, e.g. "the render".
        what: String,
        /// The limit.
        after: Duration,
    },
    /// A child process could not be started.
    #[error("cannot start `{}`: {source}", .program.display())]
    Process {
        /// The program.
        program: PathBuf,
        /// The OS error.
        source: std::io::Error,
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
    /// A bug: an invariant did not hold, or a worker thread died.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A `NotFound` in the repository.
    #[must_use]
    pub fn not_found(kind: ItemKind, id: impl Into<String>) -> Error {
        Error::NotFound {
            kind,
            id: id.into(),
            within: None,
            suggestion: None,
        }
    }

    /// A `NotFound` inside something (a project, a checkpoint).
    #[must_use]
    pub fn not_found_in(kind: ItemKind, id: impl Into<String>, within: impl Into<String>) -> Error {
        Error::NotFound {
            kind,
            id: id.into(),
            within: Some(within.into()),
            suggestion: None,
        }
    }

    /// A `NotFound` with the closest of `candidates` suggested, if one is close; any
    /// other error unchanged.
    #[must_use]
    pub fn suggesting<'a>(self, candidates: impl IntoIterator<Item = &'a str>) -> Error {
        let suggestion = match &self {
            Error::NotFound {
                id,
                suggestion: None,
                ..
            } => closest(id, candidates),
            _ => return self,
        };
        self.with_suggestion(suggestion)
    }

    /// A `NotFound` suggesting `suggestion`; any other error unchanged.
    #[must_use]
    pub fn with_suggestion(self, suggestion: Option<String>) -> Error {
        match self {
            Error::NotFound {
                kind, id, within, ..
            } => Error::NotFound {
                kind,
                id,
                within,
                suggestion,
            },
            other => other,
        }
    }

    /// An `AlreadyExists` in the repository.
    #[must_use]
    pub fn exists(kind: ItemKind, id: impl Into<String>) -> Error {
        Error::AlreadyExists {
            kind,
            id: id.into(),
            within: None,
        }
    }

    /// A `NotFound` for an object id.
    #[must_use]
    pub fn object_not_found(id: &Hash) -> Error {
        Error::not_found(ItemKind::Object, id.short())
    }

    /// The stable code of this error, for a program to branch on (the MCP face's
    /// `code`, `reel --json`'s `error.code`): `not_found`, `already_exists`,
    /// `ambiguous`, `invalid_argument`, `conflict`, `corrupt`, `busy`, `cancelled`,
    /// `timeout`, `render_failed`, `unsupported`, `no_repository`, `io` or `internal`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::AlreadyExists { .. } => "already_exists",
            Error::Ambiguous { .. } => "ambiguous",
            Error::Invalid(_) => "invalid_argument",
            Error::Conflict(_) | Error::WouldDiscard { .. } | Error::Changed { .. } => "conflict",
            Error::Corrupt { .. } | Error::IndexUnusable { .. } => "corrupt",
            Error::Busy(_) => "busy",
            Error::Cancelled => "cancelled",
            Error::Timeout { .. } => "timeout",
            Error::Render { .. } => "render_failed",
            Error::UnsupportedVersion { .. } => "unsupported",
            Error::NoRepository(_) => "no_repository",
            Error::Io { .. } => "io",
            _ => "internal",
        }
    }

    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
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

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else if s > 0 {
        format!("{s} s")
    } else {
        format!("{} ms", d.as_millis())
    }
}
