//! The synchronous engine every operation runs on: config, index and backend together.
//!
//! [`crate::Repository`] is the async front door; it moves each call onto a blocking
//! thread and runs it here, so redb and file I/O never block the async runtime.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::RepoConfig;
use crate::index::Index;
use crate::store::BlobBackend;

/// Config, index and backend of one open repository.
#[derive(Debug)]
pub struct Engine {
    /// Fixed settings.
    pub config: RepoConfig,
    /// The redb index.
    pub index: Arc<Index>,
    /// Where packs live.
    pub backend: Arc<dyn BlobBackend>,
    /// The repository directory (absolute), if it has one: off limits to every restore,
    /// export and project path, and never walked by a checkpoint.
    pub repo_dir: Option<PathBuf>,
}
