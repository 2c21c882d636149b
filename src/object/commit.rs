//! Commits: immutable checkpoints of a tree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::encoding::{Canonical, EnvelopeTag};
use crate::hash::{CommitId, TreeId};

/// A checkpoint: a root tree plus who, when, why and what came before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// The root tree.
    pub tree: TreeId,
    /// Earlier checkpoints this one follows (lineage; not a GC root).
    pub parents: Vec<CommitId>,
    /// The project this checkpoint belongs to.
    pub project: String,
    /// Optional name, unique within the project.
    pub name: Option<String>,
    /// Free-form description (the `-m` message).
    pub description: String,
    /// Who made it.
    pub author: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// User metadata, sorted by key.
    pub metadata: BTreeMap<String, String>,
}

impl Canonical for Commit {
    const TAG: EnvelopeTag = EnvelopeTag::Commit;

    fn validate(&self) -> std::result::Result<(), String> {
        if let Some(name) = &self.name {
            super::validate_checkpoint_name(name)?;
        }
        let mut parents = self.parents.clone();
        parents.sort();
        parents.dedup();
        if parents.len() != self.parents.len() {
            return Err("duplicate parent".into());
        }
        Ok(())
    }
}
