//! [`Repository::status`]: what changed in a directory since the repository last
//! checkpointed or restored it (`reel status`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::repository::{Repository, absolute, diff_with_dir};
use crate::engine::diff::Change;
use crate::error::Result;
use crate::hash::{CommitId, TreeId};

/// What the changes of a [`Status`] are measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusBase {
    /// The tree the repository last checkpointed or restored into the directory.
    LastWritten,
    /// HEAD's tree: the repository never checkpointed or restored this directory.
    Head,
    /// Nothing: no checkpoint yet, every file is new.
    Empty,
}

/// The state of a directory against the repository.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The directory (absolute).
    pub dir: PathBuf,
    /// HEAD, if there is a checkpoint.
    pub head: Option<CommitId>,
    /// HEAD's name, if it has one.
    pub head_name: Option<String>,
    /// What the changes are measured against.
    pub base: StatusBase,
    /// The tree of that base (the empty tree for [`StatusBase::Empty`]).
    pub base_tree: TreeId,
    /// Whether the base is HEAD's tree (the directory was last written at HEAD).
    pub at_head: bool,
    /// Changes from the base to the directory as it is now (what `reel checkpoint`
    /// would store), renames found.
    pub changes: Vec<Change>,
}

impl Repository {
    /// Compares directory `dir` with what the repository last checkpointed or
    /// restored there (or HEAD, for a directory it never wrote), without storing
    /// anything.
    pub async fn status(&self, dir: impl AsRef<Path>) -> Result<Status> {
        let dir = absolute(dir.as_ref())?;
        self.run(move |e| {
            let head = e.index.head()?;
            let head_commit = head.map(|h| e.read_commit(&h)).transpose()?;
            let head_tree = head_commit.as_ref().map(|c| c.tree);
            let recorded = e.index.worktree(&dir.to_string_lossy())?;
            let (base, base_tree) = match (recorded, head_tree) {
                (Some(t), _) => (StatusBase::LastWritten, t),
                (None, Some(t)) => (StatusBase::Head, t),
                (None, None) => (StatusBase::Empty, crate::object::empty_tree_id()),
            };
            let mut changes = diff_with_dir(e, base_tree, &dir)?;
            // Renames with edits, as `git status` finds them.
            let renames = super::diffs::DiffOptions::default().renames;
            if let Some(threshold) = renames {
                let side = crate::engine::patch::NewSide::Dir(&dir);
                crate::engine::patch::find_similar_renames(e, &mut changes, side, threshold)?;
                changes.sort_by(|a, b| a.path.cmp(&b.path));
            }
            Ok(Status {
                dir,
                head,
                head_name: head_commit.and_then(|c| c.name),
                base,
                base_tree,
                at_head: head_tree == Some(base_tree),
                changes,
            })
        })
        .await
    }
}
