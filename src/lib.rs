//! # reelstore
//!
//! A content-addressed storage engine with git-like checkpoints, built for
//! video-project workspaces (Remotion sources, JSON, images, audio, footage).
//!
//! Files are cut into content-defined chunks (`FastCDC`), named by BLAKE3, compressed
//! with zstd when it pays, and appended to pack files on a pluggable blob backend (a
//! local directory, memory, a single redb file, or S3 / GCS / Azure through
//! `object_store`). A redb index maps ids to pack locations. A checkpoint is an
//! immutable commit over a Merkle tree: identical bytes are stored once, and every
//! read is verified against its id.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> reelstore::Result<()> {
//! use std::sync::Arc;
//! use reelstore::{CheckpointOptions, NoProgress, RepoConfig, Repository};
//!
//! let work = tempfile::tempdir().unwrap();
//! std::fs::write(work.path().join("Root.tsx"), "export const Root = () => null;\n").unwrap();
//!
//! let repo = Repository::in_memory(RepoConfig::default()).await?;
//! let opts = CheckpointOptions { message: "first".into(), name: Some("v1".into()), ..Default::default() };
//! let summary = repo.checkpoint(work.path(), opts, Arc::new(NoProgress)).await?;
//! assert_eq!(summary.files, 1);
//!
//! let bytes = repo.read("v1", "Root.tsx").await?;
//! assert_eq!(bytes, b"export const Root = () => null;\n");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The layers, in the order data flows; each imports only from the ones above it in this
// list (`tests/layers.rs` checks). See `docs/architecture.md`.
mod artifact;
mod engine;
mod error;
mod hash;
mod index;
mod liveness;
#[cfg(feature = "mcp")]
pub mod mcp;
mod object;
#[cfg(feature = "render")]
pub mod render;
mod repo;
mod store;
#[cfg(feature = "ui")]
pub mod ui;

pub use artifact::{
    Artifacts, AssetInput, Attachment, BlobInfo, BlobKind, Caller, CheckpointInfo,
    CreateCheckpoint, CreateProject, FileInfo, Ident, ListBlobs, ListProjects, Page, ProjectId,
    ProjectInfo, ProjectPath, ProjectRestore, Rational, RecordId, RenderMeta, Scope, SortBy,
    Source, SweepReport, TokenTable, UpdateProject, mime_of_name,
};
pub use engine::config::{BackendConfig, REPO_FORMAT, RepoConfig};
pub use engine::diff::{Change, ChangeKind, DiffStat};
pub use engine::fsck::{DamagedPack, FsckReport, Problem};
pub use engine::gc::{GcOptions, GcPlan, GcReport, PackPlan};
pub use engine::ingest::{CheckpointOptions, CheckpointSummary, SkippedPath};
pub use engine::patch::{FilePatch, Hunk, Line, PatchBody};
pub use engine::progress::{NoProgress, Progress};
pub use engine::rebuild::RebuildReport;
pub use engine::refs::{CommitView, LogEntry};
pub use engine::restore::{RestoreOptions, RestoreSummary};
pub use engine::stats::{RepoStats, StoredByKind};
pub use engine::tags::Tag;
pub use error::{BoxError, Error, ItemKind, Result};
pub use hash::{CommitId, Hash, PackId, TreeId};
pub use object::codec::Compression;
pub use object::{ChunkerConfig, EntryKind};
pub use repo::{DiffOptions, DiffTarget, ListEntry, REPO_DIR_NAME, Repository, Status, StatusBase};
pub use store::ProbeReport;

/// Internals exposed for the fuzz targets and benchmarks; not a stable API.
#[doc(hidden)]
pub mod internals {
    pub use crate::engine::config::RepoConfig;
    pub use crate::object::codec::{compress, decompress};
    pub use crate::object::{
        ChunkRef, Chunker, Commit, Manifest, ObjectKind, PreviousChunks, Round, Tree, TreeEntry,
        chunks, decode, encode,
    };
    pub use crate::store::{
        PackBody, PackEntry, PackWriter, ParsedTrailer, parse_pack, parse_trailer,
    };
}
