//! The synchronous engine every operation runs on: config, index and backend together.

use std::path::PathBuf;
use std::sync::Arc;

use super::config::RepoConfig;
use super::roots::RootSource;
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
    /// What the services above keep alive, besides the engine's own roots.
    pub root_sources: Vec<Arc<dyn RootSource>>,
    /// Solid blocks recently decompressed, for the reads of their other members.
    pub(crate) blocks: super::block_cache::BlockCache,
}
