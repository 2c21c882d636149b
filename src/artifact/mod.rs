//! The artifact layer: many projects in one repository, each with a virtual working
//! tree (base tree + overlay) and named checkpoints, plus assets and renders — each
//! visible only to whom it belongs. Every call carries a [`Caller`]; the engine checks
//! visibility itself on every operation.

mod blobs;
#[cfg(all(test, feature = "render"))]
mod blobs_tests;
mod checkpoint_files;
mod checkpoints;
mod error;
mod facade;
mod facade_blobs;
mod files;
mod identity;
mod ids;
mod lifecycle;
mod overlay;
mod path;
mod project;
mod projects;
#[cfg(feature = "render")]
pub(crate) mod renders;
pub(crate) mod shared;
mod shared_records;
#[cfg(test)]
mod shared_tests;
mod tokens;
mod worktree;

pub use blobs::{AssetInput, Attachment, BlobInfo, BlobKind, ListBlobs, Rational, RenderMeta};
pub use checkpoints::{CheckpointInfo, CreateCheckpoint, ProjectRestore};
#[allow(unused_imports)] // named in docs and by embedders matching on the layer
pub use error::ArtifactError;
pub use facade::{Artifacts, Source};
pub(crate) use files::read_content;
pub use identity::{Caller, Ident, Scope};
pub use lifecycle::SweepReport;
pub(crate) use lifecycle::{ArtifactRoots, sweep};
pub use path::{ProjectPath, mime_of_name};

pub use project::{ProjectId, ProjectInfo, RecordId};
pub use projects::{CreateProject, ListProjects, Page, SortBy, UpdateProject};
pub use tokens::TokenTable;
pub use worktree::FileInfo;
