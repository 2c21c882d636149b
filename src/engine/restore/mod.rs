//! Restoring a checkpoint into a directory: incrementally, without discarding what the
//! user changed, and never outside the target or inside the repository.

mod materialize;
mod paths;
mod plan;
mod protect;
mod seen;
mod write;

#[cfg(feature = "render")]
pub(crate) use materialize::restore_cache_dir;
pub use materialize::{RestoreOptions, RestoreSummary};
pub(crate) use materialize::{restore, restore_tree};
pub(crate) use paths::restore_paths;
