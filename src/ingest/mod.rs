//! The write path: walk a directory, hash and chunk what changed, pack new objects,
//! build trees, publish a checkpoint.

mod checkpoint;
mod file;
mod pipeline;
mod scan;
mod walk;

pub use checkpoint::{CheckpointOptions, CheckpointSummary, checkpoint};
pub use file::stat_of;
pub(crate) use pipeline::Pipeline;
pub use scan::scan_dir;
