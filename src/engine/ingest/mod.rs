//! The write path: walk a directory, hash and chunk what changed, pack new objects,
//! build trees, publish a checkpoint.

mod bases;
mod cached;
mod checkpoint;
mod file;
mod pipeline;
mod scan;
mod walk;

pub(crate) use checkpoint::write_single;
pub use checkpoint::{CheckpointOptions, CheckpointSummary, checkpoint};
pub use file::{chunk_into, stat_of};
pub(crate) use pipeline::Pipeline;
pub use scan::{scan_dir, scan_path};
pub use walk::{SkippedPath, TEMP_PREFIX, is_repo_dir_name};
