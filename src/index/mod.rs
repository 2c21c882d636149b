//! The redb index: object locations, packs, refs, checkpoints, stat cache, worktrees.
//! No redb type leaves this module.

mod artifact;
mod checkpoints;
mod db;
mod error;
mod objects;
mod pack_numbers;
mod records;
mod sizes;
mod stat_dirs;
mod stat_trust;
mod stat_v1;
mod stat_v2;
mod tables;
mod writer_record;
mod writers;

pub use artifact::ArtifactTx;
pub use checkpoints::NewCheckpoint;
pub use db::{Index, writing_here};
pub use error::IndexError;
pub use objects::IndexSnapshot;
pub use records::{ObjectLocation, StatRecord};
pub use sizes::TableSize;
pub use writers::{GcView, SweepRequest, WriterKind};
