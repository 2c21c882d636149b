//! What the artifact layer refuses: malformed ids, names, scopes and paths, operations
//! a working tree's shape does not allow, and records that do not decode.

use crate::error::Error;

/// The artifact layer's error.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// Text that is not a project, record or job id.
    #[error("`{0}` is not an id (32 hex digits)")]
    NotAnId(String),
    /// A sandbox, user or session id that is not valid.
    #[error("invalid {what} {value:?}: use 1-64 letters, digits, `_` or `-`")]
    BadIdent {
        /// Which id: "sandbox", "user", "session".
        what: &'static str,
        /// As given.
        value: String,
    },
    /// A scope name that is not one.
    #[error("unknown scope `{0}`: use session, user or sandbox")]
    BadScope(String),
    /// A scope that needs an id the caller lacks.
    #[error("{scope} scope needs a {scope} id")]
    ScopeNeedsId {
        /// "user" or "session".
        scope: &'static str,
    },
    /// A project name that is not valid.
    #[error("invalid project name {0:?}: 1-256 printable characters")]
    BadProjectName(String),
    /// A checkpoint name that is not valid.
    #[error("{0}")]
    BadCheckpointName(String),
    /// A project path that is not valid.
    #[error("invalid path {path:?}: {why}")]
    BadPath {
        /// As given.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// A file operation on a directory.
    #[error("{0} is a directory")]
    IsADirectory(String),
    /// A file operation on a symlink.
    #[error("{0} is a symlink")]
    IsASymlink(String),
    /// A path below a file.
    #[error("{0} is a file, not a directory")]
    IsAFile(String),
    /// A path whose parent is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(String),
    /// A directory moved into itself.
    #[error("cannot move {0} into itself")]
    MoveIntoItself(String),
    /// A stored record that does not decode.
    #[error("{what}: {reason}")]
    BadRecord {
        /// "project record", "overlay row", "blob record".
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
}

impl From<ArtifactError> for Error {
    fn from(e: ArtifactError) -> Self {
        match e {
            ArtifactError::BadRecord { what, reason } => Error::Corrupt {
                what: what.into(),
                pack: None,
                object: None,
                reason,
            },
            other => Error::Invalid(other.to_string()),
        }
    }
}
