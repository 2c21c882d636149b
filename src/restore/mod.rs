//! Restoring a checkpoint into a directory: incrementally, without discarding what the
//! user changed, and never outside the target or inside the repository.

mod materialize;
mod protect;
mod write;

pub(crate) use materialize::{RestoreMode, restore, restore_tree};
pub use materialize::{RestoreOptions, RestoreSummary};
