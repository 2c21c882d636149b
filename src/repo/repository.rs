//! [`Repository`]: the library's front door.
//!
//! Every method is async and runs the synchronous engine on tokio's blocking pool, so
//! redb, file I/O and hashing never stall the caller's runtime.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::engine::config::RepoConfig;
use crate::engine::diff::{Change, Overlay, diff_trees};
use crate::engine::fsck::FsckReport;
use crate::engine::gc::{GcOptions, GcReport};
use crate::engine::ingest::{CheckpointOptions, CheckpointSummary, Pipeline, scan_dir};
use crate::engine::progress::{NoProgress, Progress};
use crate::engine::refs::{CommitView, LogEntry};
use crate::engine::restore::{RestoreOptions, RestoreSummary};
use crate::engine::stats::RepoStats;
use crate::engine::{Engine, on_engine};
use crate::error::{Error, Result};
use crate::hash::{CommitId, Hash, TreeId};
use crate::object::EntryKind;

/// The repository directory's name inside a project.
pub const REPO_DIR_NAME: &str = ".reel";
pub(super) const CONFIG_FILE: &str = "config";
pub(super) const INDEX_FILE: &str = "index.redb";

/// The other side of a diff.
#[derive(Debug, Clone)]
pub enum DiffTarget {
    /// A checkpoint.
    Rev(String),
    /// A directory as it is now (hashed, not stored).
    Dir(PathBuf),
}

/// One entry listed by [`Repository::ls`].
#[derive(Debug, Clone, Serialize)]
pub struct ListEntry {
    /// Path from the root of the checkpoint.
    pub path: String,
    /// File, dir or symlink.
    pub kind: EntryKind,
    /// Size in bytes (a directory: the files below it).
    pub size: u64,
    /// Executable bit.
    pub executable: bool,
    /// Content or tree id.
    pub id: Hash,
}

/// An open repository. Cheap to clone; safe to share between tasks.
#[derive(Debug, Clone)]
pub struct Repository {
    pub(super) engine: Arc<Engine>,
    pub(super) dir: Option<PathBuf>,
    /// What the access probe found, for a repository just created on a remote backend.
    pub(super) probe: Option<crate::store::ProbeReport>,
    /// What attaching found, for a repository `init` attached to an existing one.
    pub(super) attached: Option<crate::engine::rebuild::RebuildReport>,
}

impl Repository {
    /// Finds the repository for `start`: the nearest `.reel` at or above it.
    pub fn discover(start: &Path) -> Result<PathBuf> {
        let mut at = Some(start);
        while let Some(dir) = at {
            let candidate = dir.join(REPO_DIR_NAME);
            if candidate.join(CONFIG_FILE).is_file() {
                return Ok(candidate);
            }
            at = dir.parent();
        }
        Err(Error::NoRepository(start.to_path_buf()))
    }

    /// The repository directory, if it has one.
    #[must_use]
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The project directory a `.reel` repository belongs to (its parent).
    #[must_use]
    pub fn workdir(&self) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        (dir.file_name()? == REPO_DIR_NAME)
            .then(|| dir.parent().map(Path::to_path_buf))
            .flatten()
    }

    /// The engine (for tests below the repository).
    #[cfg(test)]
    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The artifact layer: projects, working trees, checkpoints, assets and renders.
    #[must_use]
    pub fn artifacts(&self) -> crate::artifact::Artifacts {
        crate::artifact::Artifacts::new(Arc::clone(&self.engine))
    }

    /// Where caches that can be rebuilt live (render work directories, the
    /// `node_modules` cache): `<repository>/cache`, or `None` for a repository
    /// without a directory.
    #[must_use]
    pub fn cache_dir(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join("cache"))
    }

    /// Starts the render service (one per process: it owns the job queue). Jobs left
    /// running by a previous process are marked interrupted.
    #[cfg(feature = "render")]
    pub async fn renders(
        &self,
        config: crate::render::RenderConfig,
    ) -> Result<crate::render::Renders> {
        crate::render::Renders::start(Arc::clone(&self.engine), config).await
    }

    /// Whether the backend is shared by machines (a cloud store), so that refs and
    /// checkpoint records live in it (see `docs/format.md`).
    #[must_use]
    pub fn shared_backend(&self) -> bool {
        self.engine.backend.shared()
    }

    /// The fixed settings.
    #[must_use]
    pub fn config(&self) -> &RepoConfig {
        &self.engine.config
    }

    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        on_engine(&self.engine, f).await
    }

    /// Checkpoints directory `dir` and moves HEAD to the new checkpoint.
    pub async fn checkpoint(
        &self,
        dir: impl AsRef<Path>,
        opts: CheckpointOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<CheckpointSummary> {
        let dir = absolute(dir.as_ref())?;
        self.run(move |e| crate::engine::ingest::checkpoint(e, &dir, &opts, progress.as_ref()))
            .await
    }

    /// Resolves a revision (`HEAD`, `HEAD~2`, a name, an id or a unique id prefix).
    pub async fn resolve(&self, rev: &str) -> Result<CommitId> {
        let rev = rev.to_owned();
        self.run(move |e| crate::engine::refs::resolve(e, &rev))
            .await
    }

    /// Restores a checkpoint into `dir`, incrementally. HEAD moves to it when `dir` is
    /// the repository's own working directory. Refuses with [`Error::WouldDiscard`]
    /// (changing nothing) when a file it would overwrite or remove has changes that
    /// were never checkpointed; see [`Repository::restore_with`] to force.
    pub async fn restore(
        &self,
        rev: &str,
        dir: impl AsRef<Path>,
        progress: Arc<dyn Progress>,
    ) -> Result<RestoreSummary> {
        self.restore_with(rev, dir, RestoreOptions::default(), progress)
            .await
    }

    /// [`Repository::restore`] with options.
    pub async fn restore_with(
        &self,
        rev: &str,
        dir: impl AsRef<Path>,
        opts: RestoreOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<RestoreSummary> {
        let mode = opts.mode();
        let rev = rev.to_owned();
        let dir = dir.as_ref().to_path_buf();
        let move_head = self
            .workdir()
            .is_some_and(|w| absolute(&dir).is_ok_and(|d| d == w));
        self.run(move |e| {
            let id = crate::engine::refs::resolve(e, &rev)?;
            crate::engine::restore::restore(e, id, &dir, move_head, mode, progress.as_ref())
        })
        .await
    }

    /// Restores only `paths` of a checkpoint into `dir` (relative to it, `/`-separated;
    /// `.` is all of it), as `git checkout REF -- PATH` does: each becomes what the
    /// checkpoint has there, or goes when the checkpoint has nothing there and the
    /// repository last wrote it. Only those paths are read. HEAD does not move, and the
    /// restored paths count as changes until the next checkpoint. The user's changes
    /// at those paths are protected as by [`Repository::restore`].
    pub async fn restore_paths(
        &self,
        rev: &str,
        dir: impl AsRef<Path>,
        paths: Vec<String>,
        opts: RestoreOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<RestoreSummary> {
        let mode = opts.mode();
        let rev = rev.to_owned();
        let dir = dir.as_ref().to_path_buf();
        self.run(move |e| {
            let id = crate::engine::refs::resolve(e, &rev)?;
            crate::engine::restore::restore_paths(e, id, &dir, &paths, mode, progress.as_ref())
        })
        .await
    }

    /// Every live checkpoint, newest first, whether or not HEAD's line holds it.
    pub async fn log_all(&self, limit: usize) -> Result<Vec<LogEntry>> {
        self.run(move |e| crate::engine::refs::log_all(e, limit))
            .await
    }

    /// History from `rev` (default HEAD), newest first.
    pub async fn log(&self, rev: Option<&str>, limit: usize) -> Result<Vec<LogEntry>> {
        let rev = rev.unwrap_or("HEAD").to_owned();
        self.run(move |e| {
            if rev == "HEAD" && e.index.head()?.is_none() {
                return Ok(Vec::new());
            }
            let id = crate::engine::refs::resolve(e, &rev)?;
            crate::engine::refs::log(e, id, limit)
        })
        .await
    }

    /// One checkpoint in full.
    pub async fn show(&self, rev: &str) -> Result<(CommitId, CommitView)> {
        let rev = rev.to_owned();
        self.run(move |e| {
            let id = crate::engine::refs::resolve(e, &rev)?;
            let view = CommitView::load(e, e.read_commit(&id)?)?;
            Ok((id, view))
        })
        .await
    }

    /// The changes from checkpoint `old` to `new` (a checkpoint or a directory).
    pub async fn diff(&self, old: &str, new: DiffTarget) -> Result<Vec<Change>> {
        let old = old.to_owned();
        self.run(move |e| {
            let old_tree = e.read_commit(&crate::engine::refs::resolve(e, &old)?)?.tree;
            match new {
                DiffTarget::Rev(rev) => {
                    let new_tree = e.read_commit(&crate::engine::refs::resolve(e, &rev)?)?.tree;
                    diff_trees(e, old_tree, new_tree)
                }
                DiffTarget::Dir(dir) => diff_with_dir(e, old_tree, &absolute(&dir)?),
            }
        })
        .await
    }

    /// Deletes a checkpoint. Its data is freed by the next [`Repository::gc`] unless
    /// another checkpoint shares it; `log` keeps showing it, marked deleted.
    pub async fn delete_checkpoint(&self, rev: &str) -> Result<CommitId> {
        let rev = rev.to_owned();
        self.run(move |e| {
            let id = crate::engine::refs::resolve(e, &rev)?;
            crate::engine::tags::ensure_untagged(e, id)?;
            if crate::engine::shared::enabled(e) {
                crate::engine::shared::forget(e, id)?;
            } else {
                e.index.delete_checkpoint(id)?;
            }
            Ok(id)
        })
        .await
    }

    /// Collects garbage: first removes expired session projects and stale overlay rows
    /// (unless a dry run), then plans and applies a collection.
    pub async fn gc(&self, opts: GcOptions) -> Result<GcReport> {
        self.run(move |e| {
            let sweep = if opts.dry_run {
                crate::artifact::SweepReport::default()
            } else {
                crate::artifact::sweep(e)?
            };
            let mut report = crate::engine::gc::gc(e, &opts)?;
            report.expired_projects = sweep.expired_projects;
            report.stale_overlay_rows = sweep.stale_overlay_rows;
            Ok(report)
        })
        .await
    }

    /// Checks integrity; with `read_data`, reads and verifies every byte.
    pub async fn fsck(&self, read_data: bool) -> Result<FsckReport> {
        self.run(move |e| crate::engine::fsck::fsck(e, read_data))
            .await
    }

    /// Counts and sizes.
    pub async fn stats(&self) -> Result<RepoStats> {
        self.run(crate::engine::stats::stats).await
    }

    /// The tree of a checkpoint.
    pub async fn tree_of(&self, rev: &str) -> Result<TreeId> {
        let rev = rev.to_owned();
        self.run(move |e| Ok(e.read_commit(&crate::engine::refs::resolve(e, &rev)?)?.tree))
            .await
    }
}

/// The changes from `tree` to directory `dir` (absolute) as it is now, scanned
/// without storing anything.
pub(super) fn diff_with_dir(e: &Engine, tree: TreeId, dir: &Path) -> Result<Vec<Change>> {
    let pipe = Pipeline::hashing(e)?;
    let scan = scan_dir(e, &pipe, dir, &NoProgress)?;
    let overlay = Overlay {
        engine: e,
        trees: &scan.trees,
    };
    diff_trees(&overlay, tree, scan.root)
}

pub(super) fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(Error::io("resolve", p))
}
