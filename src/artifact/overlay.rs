//! Overlay rows: the edits a working tree holds on top of its base tree.
//!
//! Key: `<project hex>/<generation, 16 hex>/<path>`. Restore starts a new generation, so
//! it never has to delete rows (old generations are dropped by `gc`). Each row carries
//! the sequence number of the write that made it, so a checkpoint folds exactly the
//! rows it read and keeps the ones written while it ran.

use serde::{Deserialize, Serialize};

use super::error::ArtifactError;
use super::project::ProjectRecord;
use crate::error::Result;
use crate::hash::{Hash, TreeId};

/// What an overlay row says about a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverlayEntry {
    /// The path is gone (whatever the base has).
    Deleted,
    /// A new, empty directory: nothing below it comes from the base.
    Dir,
    /// A directory grafted from a stored tree (a moved directory).
    Tree(TreeId),
    /// A file. Small contents live in the row until the next checkpoint packs them.
    File {
        /// Owner-execute bit.
        executable: bool,
        /// Length.
        size: u64,
        /// Content id.
        id: Hash,
        /// The bytes, when small enough to keep in the index.
        inline: Option<Vec<u8>>,
    },
    /// A symbolic link; the target is always inline.
    Symlink {
        /// The target's bytes.
        target: Vec<u8>,
    },
}

/// A row: the entry and the sequence number of the write that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayRow {
    /// Write sequence (per project).
    pub seq: u64,
    /// The entry.
    pub entry: OverlayEntry,
}

impl OverlayRow {
    /// Bytes for the index.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("overlay rows serialize")
    }

    /// Parses index bytes.
    pub fn from_bytes(b: &[u8]) -> Result<OverlayRow> {
        postcard::from_bytes(b).map_err(|e| {
            ArtifactError::BadRecord {
                what: "overlay row",
                reason: e.to_string(),
            }
            .into()
        })
    }
}

/// The key prefix of a project's current generation.
#[must_use]
pub fn generation_prefix(p: &ProjectRecord) -> String {
    format!("{}/{:016x}/", p.id, p.generation)
}

/// The key prefix of every generation of a project.
#[must_use]
pub fn project_prefix(p: &ProjectRecord) -> String {
    format!("{}/", p.id)
}

/// The row key of `path` in the current generation.
#[must_use]
pub fn key(p: &ProjectRecord, path: &str) -> String {
    format!("{}{path}", generation_prefix(p))
}
