//! What the services above the engine keep alive. The engine's own roots are its
//! checkpoints, HEAD and worktrees; a service (the artifact layer) adds its own through
//! [`RootSource`], so GC and fsck never import the layers above them.

use std::fmt::Debug;

use super::Engine;
use crate::error::Result;
use crate::hash::{CommitId, Hash, TreeId};

/// Objects a service holds: commits (with their trees), trees, file contents.
#[derive(Debug, Default)]
pub struct RootSet {
    /// Commits kept with their trees (a service's checkpoints and heads).
    pub commits: Vec<CommitId>,
    /// Trees kept whole.
    pub trees: Vec<TreeId>,
    /// File contents kept (a chunk, or a manifest and its chunks).
    pub files: Vec<Hash>,
}

/// A service that keeps objects alive.
pub trait RootSource: Send + Sync + Debug {
    /// Everything the service holds now, read in one consistent view.
    fn roots(&self, engine: &Engine) -> Result<RootSet>;

    /// Brings the service's rows up to date with a shared backend, whose records are
    /// the truth, before GC reads the roots (outside any index transaction).
    fn sync(&self, _engine: &Engine) -> Result<()> {
        Ok(())
    }
}
