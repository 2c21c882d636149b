//! The artifact layer: many projects in one repository, each with a virtual working
//! tree (base tree + overlay) and named checkpoints, plus assets and renders — each
//! visible only to whom it belongs. Every call carries a [`Caller`]; the engine checks
//! visibility itself on every operation.

mod blobs;
mod checkpoints;
mod facade;
mod files;
mod identity;
mod lifecycle;
mod overlay;
mod path;
mod project;
mod projects;
pub(crate) mod renders;
mod worktree;

pub use blobs::{AssetInput, BlobInfo, BlobKind, ListBlobs, Rational, RenderMeta};
pub use checkpoints::{CheckpointInfo, CreateCheckpoint, ProjectRestore};
pub use facade::{Artifacts, Source};
pub(crate) use files::store_stream;
pub use identity::{Caller, Ident, Owner, Scope};
pub use lifecycle::SweepReport;
pub(crate) use lifecycle::{roots, sweep};
pub use path::{ProjectPath, mime_of_name};
pub(crate) use project::empty_tree_id as empty_tree;
pub use project::{ProjectId, ProjectInfo, RecordId};
pub(crate) use projects::now_ms;
pub use projects::{CreateProject, ListProjects, Page, SortBy, UpdateProject};
pub use worktree::FileInfo;
