//! [`Repository`]: the library's front door.
//!
//! Every method is async and runs the synchronous engine on tokio's blocking pool, so
//! redb, file I/O and hashing never stall the caller's runtime.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tokio::runtime::Handle;

use crate::engine::config::{BackendConfig, RepoConfig};
use crate::engine::diff::{Change, Overlay, diff_trees};
use crate::engine::fsck::FsckReport;
use crate::engine::gc::{GcOptions, GcReport};
use crate::engine::ingest::{CheckpointOptions, CheckpointSummary, Pipeline, scan_dir};
use crate::engine::progress::{NoProgress, Progress};
use crate::engine::refs::{CommitView, LogEntry};
use crate::engine::restore::{RestoreOptions, RestoreSummary};
use crate::engine::stats::RepoStats;
use crate::engine::{Engine, blocking, on_engine};
use crate::error::{Error, ItemKind, Result};
use crate::hash::{CommitId, Hash, TreeId};
use crate::index::{Index, IndexError};
use crate::object::{EntryKind, TreeEntry};
use crate::store::{BlobBackend, ObjectStoreBackend, RedbBackend, backend_from_url};

/// The repository directory's name inside a project.
pub const REPO_DIR_NAME: &str = ".reel";
const CONFIG_FILE: &str = "config";
const INDEX_FILE: &str = "index.redb";

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
    engine: Arc<Engine>,
    dir: Option<PathBuf>,
}

fn open_backend(
    dir: Option<&Path>,
    config: &RepoConfig,
    handle: Handle,
) -> Result<Arc<dyn BlobBackend>> {
    let need_dir =
        || dir.ok_or_else(|| Error::Invalid("this backend needs a repository directory".into()));
    Ok(match &config.backend {
        BackendConfig::Local => Arc::new(ObjectStoreBackend::local(
            &need_dir()?.join("packs"),
            handle,
        )?),
        BackendConfig::Redb => Arc::new(RedbBackend::open(&need_dir()?.join("packs.redb"))?),
        BackendConfig::Url(url) => Arc::new(backend_from_url(url, handle)?),
    })
}

impl Repository {
    /// Creates a repository in `dir` (usually `<project>/.reel`). Fails if one exists,
    /// and refuses a backend that already holds packs (another repository's data).
    pub async fn init(dir: impl AsRef<Path>, config: RepoConfig) -> Result<Repository> {
        let dir = dir.as_ref().to_path_buf();
        let handle = Handle::current();
        blocking(move || {
            let mut config = config;
            config.format = crate::engine::config::REPO_FORMAT;
            let id = config
                .id
                .get_or_insert_with(|| hex::encode(rand::random::<[u8; 16]>()))
                .clone();
            config.validate()?;
            let config_path = dir.join(CONFIG_FILE);
            if config_path.exists() || dir.join(INDEX_FILE).exists() {
                return Err(Error::exists(
                    ItemKind::Repository,
                    dir.display().to_string(),
                ));
            }
            std::fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
            let backend = open_backend(Some(&dir), &config, handle)?;
            let existing = count_packs(backend.as_ref())?;
            if existing > 0 {
                // Another repository's data: a new one there would call it garbage.
                return Err(Error::AlreadyExists {
                    kind: ItemKind::Repository,
                    id: backend.describe(),
                    within: Some(format!("{existing} packs")),
                });
            }
            let index = Index::create(&dir.join(INDEX_FILE), id.as_bytes())?;
            // The config goes last: a directory without one is not a repository yet.
            write_config(&dir, &config)?;
            Self::assemble(dir, config, backend, index)
        })
        .await
    }

    fn assemble(
        dir: PathBuf,
        config: RepoConfig,
        backend: Arc<dyn BlobBackend>,
        index: Index,
    ) -> Result<Repository> {
        let repo_dir = std::fs::canonicalize(&dir).map_err(Error::io("resolve", &dir))?;
        Ok(Repository {
            engine: wire(config, index, backend, Some(repo_dir)),
            dir: Some(dir),
        })
    }

    /// Opens the repository in `dir`. An index that is missing, empty, unreadable or
    /// another repository's is an error (naming `reel index rebuild`) whenever the
    /// backend holds packs: never a silently new, empty repository.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Repository> {
        let dir = dir.as_ref().to_path_buf();
        let handle = Handle::current();
        blocking(move || {
            let config_path = dir.join(CONFIG_FILE);
            let bytes = match std::fs::read(&config_path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::NoRepository(dir));
                }
                Err(e) => return Err(Error::io("read", &config_path)(e)),
            };
            let mut config = RepoConfig::parse(&bytes)?;
            let backend = open_backend(Some(&dir), &config, handle)?;
            let index = open_index(&dir, &config, backend.as_ref())?;
            check_identity(&dir, &mut config, &index, backend.as_ref())?;
            Self::assemble(dir, config, backend, index)
        })
        .await
    }

    /// Rebuilds the index of the repository in `dir` from its packs. Refuses while the
    /// index is readable and this repository's (move it aside to rebuild anyway); an
    /// unusable one is moved aside, never deleted.
    pub async fn rebuild_index(
        dir: impl AsRef<Path>,
    ) -> Result<crate::engine::rebuild::RebuildReport> {
        let dir = dir.as_ref().to_path_buf();
        let handle = Handle::current();
        blocking(move || {
            let config_path = dir.join(CONFIG_FILE);
            let bytes = std::fs::read(&config_path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::NoRepository(dir.clone()),
                _ => Error::io("read", &config_path)(e),
            })?;
            let mut config = RepoConfig::parse(&bytes)?;
            let backend = open_backend(Some(&dir), &config, handle)?;
            let path = dir.join(INDEX_FILE);
            if let Ok(index) = Index::open(&path) {
                let ours = index
                    .repository_id()?
                    .is_some_and(|id| config.id.as_deref().is_some_and(|c| c.as_bytes() == id));
                if ours && !index.is_empty()? {
                    return Err(Error::Invalid(format!(
                        "the index {} is readable and this repository's: there is nothing to rebuild (move it aside to rebuild anyway)",
                        path.display()
                    )));
                }
            }
            let mut report = crate::engine::rebuild::RebuildReport {
                moved_aside: crate::engine::rebuild::move_aside(&path)?,
                ..Default::default()
            };
            if config.id.is_none() {
                config.id = Some(hex::encode(rand::random::<[u8; 16]>()));
                config.format = crate::engine::config::REPO_FORMAT;
                write_config(&dir, &config)?;
            }
            let id = config.id.clone().unwrap_or_default();
            let index = Index::create(&path, id.as_bytes())?;
            let repo = Self::assemble(dir, config, backend, index)?;
            crate::engine::rebuild::rebuild(&repo.engine, &mut report)?;
            Ok(report)
        })
        .await
    }

    /// A repository held entirely in memory (index and packs), for tests and embedding.
    /// `config.backend` may be any URL-based backend (`memory://` keeps everything in RAM).
    pub async fn in_memory(mut config: RepoConfig) -> Result<Repository> {
        if matches!(config.backend, BackendConfig::Local | BackendConfig::Redb) {
            config.backend = BackendConfig::Url("memory://".into());
        }
        let handle = Handle::current();
        blocking(move || {
            config.validate()?;
            let backend = open_backend(None, &config, handle)?;
            let index = Index::in_memory()?;
            Ok(Repository {
                engine: wire(config, index, backend, None),
                dir: None,
            })
        })
        .await
    }

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
    pub fn renders(&self, config: crate::render::RenderConfig) -> Result<crate::render::Renders> {
        crate::render::Renders::new(Arc::clone(&self.engine), config)
    }

    /// The fixed settings.
    #[must_use]
    pub fn config(&self) -> &RepoConfig {
        &self.engine.config
    }

    async fn run<T: Send + 'static>(
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
                DiffTarget::Dir(dir) => {
                    let pipe = Pipeline::hashing(e)?;
                    let scan = scan_dir(e, &pipe, &absolute(&dir)?, &NoProgress)?;
                    diff_trees(
                        &Overlay {
                            engine: e,
                            trees: &scan.trees,
                        },
                        old_tree,
                        scan.root,
                    )
                }
            }
        })
        .await
    }

    /// Lists a directory of a checkpoint (the root when `path` is `None`).
    pub async fn ls(
        &self,
        rev: &str,
        path: Option<&str>,
        recursive: bool,
    ) -> Result<Vec<ListEntry>> {
        let rev = rev.to_owned();
        let path = path.map(str::to_owned);
        self.run(move |e| {
            let root = e.read_commit(&crate::engine::refs::resolve(e, &rev)?)?.tree;
            let (prefix, tree) = match path
                .as_deref()
                .map(|p| p.trim_matches('/'))
                .filter(|p| !p.is_empty())
            {
                None => (String::new(), root),
                Some(p) => {
                    let entry = lookup(e, root, p)?;
                    if entry.kind != EntryKind::Dir {
                        return Ok(vec![list_entry(p.to_owned(), &entry)]);
                    }
                    (p.to_owned(), entry.tree_id())
                }
            };
            let mut out = Vec::new();
            list_into(e, tree, &prefix, recursive, &mut out)?;
            Ok(out)
        })
        .await
    }

    /// Streams the file at `path` in checkpoint `rev` into `out`, verified.
    pub async fn cat<W: Write + Send + 'static>(
        &self,
        rev: &str,
        path: &str,
        mut out: W,
    ) -> Result<u64> {
        let rev = rev.to_owned();
        let path = path.to_owned();
        self.run(move |e| {
            let root = e.read_commit(&crate::engine::refs::resolve(e, &rev)?)?.tree;
            let entry = lookup(e, root, &path)?;
            if entry.kind == EntryKind::Dir {
                return Err(Error::Invalid(format!(
                    "{path} is a directory; use `reel ls`"
                )));
            }
            let n = e.read_file_to(&entry.id, &mut out)?;
            out.flush().map_err(Error::io("write", "output"))?;
            Ok(n)
        })
        .await
    }

    /// Reads the whole file at `path` in checkpoint `rev` into memory, verified.
    /// For large files prefer [`Repository::cat`], which streams.
    pub async fn read(&self, rev: &str, path: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        let rev = rev.to_owned();
        let path = path.to_owned();
        let bytes = self
            .run(move |e| {
                let root = e.read_commit(&crate::engine::refs::resolve(e, &rev)?)?.tree;
                let entry = lookup(e, root, &path)?;
                if entry.kind == EntryKind::Dir {
                    return Err(Error::Invalid(format!("{path} is a directory")));
                }
                e.read_file_to(&entry.id, &mut buf)?;
                Ok(buf)
            })
            .await?;
        Ok(bytes)
    }

    /// Deletes a checkpoint. Its data is freed by the next [`Repository::gc`] unless
    /// another checkpoint shares it; `log` keeps showing it, marked deleted.
    pub async fn delete_checkpoint(&self, rev: &str) -> Result<CommitId> {
        let rev = rev.to_owned();
        self.run(move |e| {
            let id = crate::engine::refs::resolve(e, &rev)?;
            e.index.delete_checkpoint(id)?;
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

/// The engine with the services above it registered as root sources.
fn wire(
    config: RepoConfig,
    index: Index,
    backend: Arc<dyn BlobBackend>,
    repo_dir: Option<PathBuf>,
) -> Arc<Engine> {
    Arc::new(Engine {
        config,
        index: Arc::new(index),
        backend,
        repo_dir,
        root_sources: vec![Arc::new(crate::artifact::ArtifactRoots)],
    })
}

fn count_packs(backend: &dyn BlobBackend) -> Result<usize> {
    Ok(backend
        .list("packs/")?
        .iter()
        .filter(|b| crate::store::parse_pack_name(&b.name).is_some())
        .count())
}

/// Writes the config atomically (a temporary file renamed over it).
fn write_config(dir: &Path, config: &RepoConfig) -> Result<()> {
    let path = dir.join(CONFIG_FILE);
    let mut tmp = tempfile::Builder::new()
        .prefix("config.")
        .tempfile_in(dir)
        .map_err(Error::io("create a temporary file in", dir))?;
    std::io::Write::write_all(tmp.as_file_mut(), &config.to_bytes())
        .map_err(Error::io("write", tmp.path().to_path_buf()))?;
    tmp.as_file()
        .sync_all()
        .map_err(Error::io("sync", tmp.path().to_path_buf()))?;
    tmp.persist(&path).map_err(|e| Error::Io {
        op: "rename into",
        path: path.clone(),
        source: e.error,
    })?;
    Ok(())
}

/// Opens the index; one that is missing or empty is recreated only when the backend
/// holds no pack at all (then nothing can be lost).
fn open_index(dir: &Path, config: &RepoConfig, backend: &dyn BlobBackend) -> Result<Index> {
    let path = dir.join(INDEX_FILE);
    match Index::open(&path) {
        Err(IndexError::Unusable { reason, .. })
            if (reason == "missing" || reason == "empty") && count_packs(backend)? == 0 =>
        {
            let id = config.id.clone().unwrap_or_default();
            let _ = std::fs::remove_file(&path);
            Ok(Index::create(&path, id.as_bytes())?)
        }
        Err(IndexError::Unusable { path, reason }) => {
            let packs = count_packs(backend).unwrap_or(0);
            Err(Error::IndexUnusable {
                path,
                reason: format!("{reason}, but the repository holds {packs} packs"),
            })
        }
        other => Ok(other?),
    }
}

/// Checks that the index is this repository's (same id as the config), and upgrades a
/// format 1 repository (no id yet) to the current format.
fn check_identity(
    dir: &Path,
    config: &mut RepoConfig,
    index: &Index,
    backend: &dyn BlobBackend,
) -> Result<()> {
    let unusable = |reason: String| Error::IndexUnusable {
        path: dir.join(INDEX_FILE),
        reason,
    };
    let recorded = index.repository_id()?;
    match (&config.id, recorded) {
        (Some(id), Some(rec)) if rec == id.as_bytes() => Ok(()),
        (Some(_), Some(_)) => Err(unusable("another repository's index".into())),
        (Some(id), None) if index.is_empty()? && count_packs(backend)? == 0 => {
            Ok(index.set_repository_id(id.as_bytes())?)
        }
        (Some(_), None) => Err(unusable(
            "not this repository's index (it records no repository id)".into(),
        )),
        (None, _) => {
            if index.is_empty()? && count_packs(backend)? > 0 {
                return Err(unusable(format!(
                    "empty, but the repository holds {} packs",
                    count_packs(backend)?
                )));
            }
            // Format 1: whichever process upgrades first picks the id; the others
            // adopt it, so the config and the index always agree.
            let candidate = hex::encode(rand::random::<[u8; 16]>());
            let id = index.ensure_repository_id(candidate.as_bytes())?;
            config.id = Some(String::from_utf8_lossy(&id).into_owned());
            config.format = crate::engine::config::REPO_FORMAT;
            config.validate()?;
            write_config(dir, config)?;
            tracing::info!(
                "upgraded the repository at {} to format {}",
                dir.display(),
                config.format
            );
            Ok(())
        }
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(Error::io("resolve", p))
}

/// Finds the entry at `path` (`a/b/c`) under tree `root`.
fn lookup(e: &Engine, root: TreeId, path: &str) -> Result<TreeEntry> {
    let mut tree = root;
    let mut found = None;
    for part in path.trim_matches('/').split('/') {
        crate::object::validate_name(part)
            .map_err(|why| Error::Invalid(format!("path `{path}`: {why}")))?;
        if found
            .as_ref()
            .is_some_and(|f: &TreeEntry| f.kind != EntryKind::Dir)
        {
            return Err(Error::not_found(ItemKind::Path, path));
        }
        let entry = e
            .read_tree(&tree)?
            .get(part)
            .cloned()
            .ok_or_else(|| Error::not_found(ItemKind::Path, path))?;
        tree = entry.tree_id();
        found = Some(entry);
    }
    found.ok_or_else(|| Error::Invalid("empty path".into()))
}

fn list_entry(path: String, e: &TreeEntry) -> ListEntry {
    ListEntry {
        path,
        kind: e.kind,
        size: e.size,
        executable: e.executable,
        id: e.id,
    }
}

fn list_into(
    e: &Engine,
    tree: TreeId,
    prefix: &str,
    recursive: bool,
    out: &mut Vec<ListEntry>,
) -> Result<()> {
    for entry in e.read_tree(&tree)?.entries() {
        let path = if prefix.is_empty() {
            entry.name.clone()
        } else {
            format!("{prefix}/{}", entry.name)
        };
        out.push(list_entry(path.clone(), entry));
        if recursive && entry.kind == EntryKind::Dir {
            list_into(e, entry.tree_id(), &path, true, out)?;
        }
    }
    Ok(())
}
