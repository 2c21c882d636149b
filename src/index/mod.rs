//! The redb index: object locations, packs, refs, checkpoints, stat cache, worktrees.
//! No redb type leaves this module.

mod artifact;
mod db;
mod error;
mod records;
mod tables;
mod writers;

pub use artifact::ArtifactTx;
pub use db::{Index, IndexSnapshot, NewCheckpoint};
pub use error::IndexError;
pub use records::{ObjectLocation, StatRecord};
pub use writers::{GcView, SweepRequest, WriterKind};
