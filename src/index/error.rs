//! What can go wrong in the index: redb's own errors (kept as sources), records with the
//! wrong layout, an index that cannot stand for the repository, and the conflicts and
//! absences its transactions detect.

use std::path::PathBuf;

use crate::error::{Error, ItemKind};
use crate::object::ObjectError;

/// The index layer's error.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// redb failed.
    #[error("index: {source}")]
    Redb {
        /// redb's error (boxed: it is large).
        #[source]
        source: Box<redb::Error>,
    },
    /// A value whose length does not fit its table's layout.
    #[error("index table {table}: a value of {len} bytes has the wrong layout")]
    Layout {
        /// The table.
        table: &'static str,
        /// The value's length.
        len: usize,
    },
    /// An object row naming a pack number no pack has.
    #[error("index: an object row names pack number {number}, which no indexed pack has")]
    UnknownPack {
        /// The number.
        number: u32,
    },
    /// A value that does not decode.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// The index file cannot stand for the repository.
    #[error("the index {} is {reason}", .path.display())]
    Unusable {
        /// The file.
        path: PathBuf,
        /// Missing, empty, unreadable, …
        reason: String,
    },
    /// A compare-and-swap lost: something changed since it was read.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A name or row that must be new already exists.
    #[error("{kind} `{id}` already exists")]
    Exists {
        /// What.
        kind: ItemKind,
        /// Its name or id.
        id: String,
    },
    /// A row that must exist does not.
    #[error("{kind} {id} not found")]
    Missing {
        /// What.
        kind: ItemKind,
        /// Its name or id.
        id: String,
    },
    /// A write through a read transaction (a bug).
    #[error("write attempted in a read transaction")]
    ReadOnly,
    /// The index file could not be examined.
    #[error("{op} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for IndexError {
            fn from(e: $t) -> Self {
                IndexError::Redb {
                    source: Box::new(e.into()),
                }
            }
        }
        // The artifact tables' transactions speak the public error (see
        // `index::artifact`); redb's errors reach it through `IndexError`.
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                IndexError::from(e).into()
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<IndexError> for Error {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::Redb { source } => Error::Index { source },
            e @ (IndexError::Layout { .. } | IndexError::UnknownPack { .. }) => Error::Corrupt {
                what: "index".into(),
                pack: None,
                object: None,
                reason: e.to_string(),
            },
            IndexError::Object(o) => o.into(),
            IndexError::Unusable { path, reason } => Error::IndexUnusable { path, reason },
            IndexError::Conflict(m) => Error::Conflict(m),
            IndexError::Exists { kind, id } => Error::exists(kind, id),
            IndexError::Missing { kind, id } => Error::not_found(kind, id),
            e @ IndexError::ReadOnly => Error::Internal(e.to_string()),
            IndexError::Io { op, path, source } => Error::Io { op, path, source },
        }
    }
}
