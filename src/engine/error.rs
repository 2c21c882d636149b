//! What the engine itself refuses or runs into, beyond what the layers below report:
//! restore targets it will not write, files that change under a checkpoint, an index
//! that cannot stand for its repository, objects of the wrong kind.

use std::path::PathBuf;

use crate::error::{Error, ItemKind};

/// The engine layer's error.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A restore target reached through a symlink.
    #[error("{} passes through the symlink {}; restore refuses to write through links", .target.display(), .link.display())]
    ThroughSymlink {
        /// The target as given.
        target: PathBuf,
        /// The symlink on its path.
        link: PathBuf,
    },
    /// A restore target with `..` in it.
    #[error("{}: `..` is not allowed in a restore target", .target.display())]
    ParentDir {
        /// The target as given.
        target: PathBuf,
    },
    /// A restore target inside a repository directory.
    #[error("{} is inside a repository directory; restores never write there", .target.display())]
    InsideRepository {
        /// The target.
        target: PathBuf,
    },
    /// A tree holding a path inside a repository directory.
    #[error(
        "the tree holds `{path}`, which is inside a repository directory; restores never write there (delete it from the project first)"
    )]
    TreeIntoRepository {
        /// The path in the tree.
        path: String,
    },
    /// A file a restore was replacing changed after the restore's scan looked at it; it
    /// was left as the user had it.
    #[error(
        "`{path}` changed on disk while the restore ran; it was left as it is and the restore stopped (restore again: the change is then protected like any other)"
    )]
    ChangedDuringRestore {
        /// The path, relative to the target.
        path: String,
    },
    /// A directory was expected.
    #[error("{} is not a directory", .path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// An object of another kind than asked for.
    #[error("{id} is a {found}, not a {wanted}")]
    WrongKind {
        /// The object (short id).
        id: String,
        /// What it is.
        found: &'static str,
        /// What was asked for.
        wanted: &'static str,
    },
    /// A checkpoint name that is taken.
    #[error("a checkpoint named `{0}` already exists")]
    NameTaken(String),
    /// HEAD kept moving while a checkpoint tried to publish.
    #[error("too many concurrent checkpoints; try again")]
    TooManyConflicts,
    /// The index was rebuilt and must be collected knowingly.
    #[error("this index was rebuilt from the packs")]
    RebuiltIndex,
    /// A worker thread died (a bug).
    #[error("{0}")]
    Worker(String),
}

impl From<EngineError> for Error {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NameTaken(name) => Error::exists(ItemKind::Checkpoint, name),
            e @ (EngineError::TooManyConflicts | EngineError::ChangedDuringRestore { .. }) => {
                Error::Conflict(e.to_string())
            }
            e @ EngineError::Worker(_) => Error::Internal(e.to_string()),
            EngineError::RebuiltIndex => Error::Rebuilt,
            e => Error::Invalid(e.to_string()),
        }
    }
}
