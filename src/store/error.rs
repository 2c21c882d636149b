//! What can go wrong storing blobs: the backend's own errors (kept as sources), names
//! that are not there, ranges past a blob's end, malformed packs.

use std::path::PathBuf;

use crate::error::{Error, ItemKind};
use crate::object::ObjectError;

/// The store layer's error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An `object_store` request failed.
    #[error("{op} {name}: {source}")]
    ObjectStore {
        /// The request: "put", "get", "list", …
        op: &'static str,
        /// The blob (or prefix).
        name: String,
        /// The store's error (boxed: it is large).
        #[source]
        source: Box<object_store::Error>,
    },
    /// The redb blob file failed.
    #[error("{op} {name} in the redb blob file: {source}")]
    Redb {
        /// What was being done.
        op: &'static str,
        /// The blob.
        name: String,
        /// redb's error (boxed: it is large).
        #[source]
        source: Box<redb::Error>,
    },
    /// No blob of that name.
    #[error("blob {name} not found")]
    NotFound {
        /// The blob.
        name: String,
    },
    /// A range past the blob's end.
    #[error("{name}: range {start}..{end} beyond its {len} bytes")]
    Range {
        /// The blob.
        name: String,
        /// Range start.
        start: u64,
        /// Range end.
        end: u64,
        /// The blob's length.
        len: u64,
    },
    /// A local file operation failed.
    #[error("{op} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A backend URL that names no usable store.
    #[error("backend URL `{url}`: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The access probe of a backend failed at `step`.
    #[error("{backend} failed the access probe ({step}): {source}")]
    Probe {
        /// The backend.
        backend: String,
        /// "write", "read back", "conditional write" or "delete".
        step: &'static str,
        /// What failed.
        #[source]
        source: Box<StoreError>,
    },
    /// The backend cannot do what was asked (a conditional update on a local directory).
    #[error("{backend} does not support {op} ({name})")]
    Unsupported {
        /// The request.
        op: &'static str,
        /// The blob.
        name: String,
        /// The backend.
        backend: String,
    },
    /// A pack whose structure is wrong.
    #[error("pack: {0}")]
    Pack(String),
    /// A pack written by a newer release.
    #[error("pack format version {found} is newer than this build supports ({supported})")]
    PackVersion {
        /// Version found.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// A pack's trailer does not decode.
    #[error(transparent)]
    Object(#[from] ObjectError),
}

impl StoreError {
    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| StoreError::Io { op, path, source }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ObjectStore { op, name, source } => Error::Backend {
                op: format!("{op} {name}"),
                source,
            },
            StoreError::Redb { op, name, source } => Error::Backend {
                op: format!("{op} {name}"),
                source,
            },
            StoreError::NotFound { name } => Error::not_found(ItemKind::Blob, name),
            e @ StoreError::Range { .. } => Error::Corrupt {
                what: "blob".into(),
                pack: None,
                object: None,
                reason: e.to_string(),
            },
            StoreError::Io { op, path, source } => Error::Io { op, path, source },
            e @ (StoreError::Url { .. } | StoreError::Unsupported { .. }) => {
                Error::Invalid(e.to_string())
            }
            StoreError::Probe {
                backend,
                step,
                source,
            } => Error::Backend {
                op: format!("{backend} failed the access probe ({step})"),
                source,
            },
            StoreError::Pack(reason) => Error::Corrupt {
                what: "pack".into(),
                pack: None,
                object: None,
                reason,
            },
            StoreError::PackVersion { found, supported } => Error::UnsupportedVersion {
                what: "pack",
                found,
                supported,
            },
            StoreError::Object(o) => o.into(),
        }
    }
}
