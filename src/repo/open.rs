//! Creating, opening and rebuilding a repository: its config, its backend, and an
//! index that must be this repository's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::runtime::Handle;

use super::attach;
use super::repository::{CONFIG_FILE, INDEX_FILE, Repository};
use crate::engine::config::{BackendConfig, RepoConfig};
use crate::engine::{Engine, blocking};
use crate::error::{Error, ItemKind, Result};
use crate::index::{Index, IndexError};
use crate::store::{
    BlobBackend, DEFAULT_CACHE_BYTES, DEFAULT_DISK_CACHE_BYTES, DiskBlocks, ObjectStoreBackend,
    ProbeReport, ReadCache, RedbBackend, backend_for_probe, backend_from_url, probe,
};

impl Repository {
    /// Creates a repository in `dir` (usually `<project>/.reel`). Fails if one exists
    /// there. On a URL backend that holds a repository already (its `repository`
    /// record), attaches to it instead: same id and settings, the index rebuilt from
    /// its packs. Refuses a backend that holds packs but no record (another
    /// repository's data).
    pub async fn init(dir: impl AsRef<Path>, config: RepoConfig) -> Result<Repository> {
        Self::init_or_attach(dir.as_ref().to_path_buf(), config, false).await
    }

    /// Attaches a new local repository directory (`.reel`) to the repository already on
    /// `config`'s URL backend, as `init` does on such a prefix (`reel clone`); a prefix
    /// without one is `NotFound`, and nothing is written to it.
    pub async fn attach(dir: impl AsRef<Path>, config: RepoConfig) -> Result<Repository> {
        if !matches!(config.backend, BackendConfig::Url(_)) {
            return Err(Error::Invalid(
                "only a URL backend holds a repository to attach to".into(),
            ));
        }
        Self::init_or_attach(dir.as_ref().to_path_buf(), config, true).await
    }

    async fn init_or_attach(
        dir: PathBuf,
        config: RepoConfig,
        attach_only: bool,
    ) -> Result<Repository> {
        let handle = Handle::current();
        blocking(move || {
            let mut config = config;
            config.format = crate::engine::config::REPO_FORMAT;
            config
                .id
                .get_or_insert_with(|| hex::encode(rand::random::<[u8; 16]>()));
            config.validate()?;
            let config_path = dir.join(CONFIG_FILE);
            if config_path.exists() || dir.join(INDEX_FILE).exists() {
                return Err(Error::exists(
                    ItemKind::Repository,
                    dir.display().to_string(),
                ));
            }
            let created = !dir.exists();
            std::fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
            let attempt = Self::create_in(&dir, config, handle, attach_only);
            if attempt.is_err() && created {
                // Leave nothing behind: the directory held nothing before.
                let _ = std::fs::remove_dir_all(&dir);
            }
            attempt
        })
        .await
    }

    /// `init` once `dir` exists: probe and claim the backend, then a new index (or, on
    /// a backend that holds a repository already, one rebuilt from its packs).
    fn create_in(
        dir: &Path,
        mut config: RepoConfig,
        handle: Handle,
        attach_only: bool,
    ) -> Result<Repository> {
        let (backend, probe) = prepare_backend(dir, &config, handle)?;
        let packs = count_packs(backend.as_ref())?;
        // Refused before claiming anything (a `machines/` key would stop the first
        // machine's gc): a second machine needs conditional updates.
        if let Some(p) = &probe
            && backend.shared()
            && !p.conditional_updates
            && attach::recorded(backend.as_ref())?
        {
            return Err(Error::Invalid(format!(
                "{} holds a repository but does not honour conditional updates (an update with a stale version replaced the object), so two machines on it could lose each other's checkpoints: it serves only the machine that created the repository",
                p.backend
            )));
        }
        let claim = match config.backend {
            BackendConfig::Url(_) => {
                attach::claim(backend.as_ref(), &mut config, packs, attach_only)?
            }
            BackendConfig::Local | BackendConfig::Redb if packs > 0 => attach::Claim::Foreign,
            BackendConfig::Local | BackendConfig::Redb => attach::Claim::Created,
        };
        if let attach::Claim::Absent = claim {
            return Err(Error::not_found(ItemKind::Repository, backend.describe()));
        }
        if let attach::Claim::Foreign = claim {
            // Another repository's data, and no record to attach to: a new one there
            // would call it garbage.
            return Err(Error::AlreadyExists {
                kind: ItemKind::Repository,
                id: backend.describe(),
                within: Some(format!("{packs} packs")),
            });
        }
        let id = config.id.clone().unwrap_or_default();
        let index = Index::create(&dir.join(INDEX_FILE), id.as_bytes())?;
        let mut repo = Self::assemble(dir.to_path_buf(), config, backend, index)?;
        repo.probe = probe;
        if let attach::Claim::Attach = claim {
            let mut report = crate::engine::rebuild::RebuildReport::default();
            crate::engine::rebuild::rebuild(&repo.engine, &mut report)?;
            resync(&repo.engine, &mut report)?;
            repo.attached = Some(report);
        }
        // The config goes last: a directory without one is not a repository yet (an
        // attach killed mid-rebuild leaves none).
        write_config(dir, repo.config())?;
        Ok(repo)
    }

    /// What `init` did on a backend that held a repository already: attached to it and
    /// rebuilt the local index from its packs (`None` for a new repository).
    #[must_use]
    pub fn attached(&self) -> Option<&crate::engine::rebuild::RebuildReport> {
        self.attached.as_ref()
    }

    /// What the access probe found when this repository was created on a URL backend
    /// (`None` for local and redb repositories, and for repositories opened later).
    #[must_use]
    pub fn init_probe(&self) -> Option<&ProbeReport> {
        self.probe.as_ref()
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
            probe: None,
            attached: None,
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
            let repo = Self::assemble(dir, config, backend, index)?;
            // A sync that fails (the store unreachable) leaves this machine's view: what
            // changes refs syncs again and fails on its own.
            if crate::engine::shared::enabled(&repo.engine)
                && let Err(e) = crate::engine::shared::sync(&repo.engine)
            {
                tracing::warn!("showing this machine's view: could not sync with the bucket: {e}");
            }
            Ok(repo)
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
            resync(&repo.engine, &mut report)?;
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
                probe: None,
                attached: None,
            })
        })
        .await
    }
}

impl Repository {
    /// Moves a repository on this machine (a local directory or a redb file) to the
    /// newest format; returns the format before and after. From format 3 on, changed
    /// chunks of large files are stored as deltas, and releases that know only format
    /// 2 refuse to open the repository; from format 4 on, small objects are compressed
    /// together in solid blocks, and releases that know only format 3 refuse it; from
    /// format 5 on, packs end with the compact trailer, and releases that know only
    /// format 4 refuse it. A repository on a bucket keeps the format it was created
    /// with: every machine sharing it would have to be upgraded at once.
    pub async fn upgrade(&self) -> Result<(u32, u32)> {
        let mut config = self.engine.config.clone();
        let from = config.format;
        if from >= crate::engine::config::REPO_FORMAT {
            return Ok((from, from));
        }
        if matches!(config.backend, BackendConfig::Url(_)) {
            return Err(Error::Invalid(format!(
                "a repository on a bucket keeps its format ({from}): every machine sharing \
                 it would have to move at once"
            )));
        }
        let dir = self
            .dir
            .clone()
            .ok_or_else(|| Error::Invalid("this repository has no directory to upgrade".into()))?;
        config.format = crate::engine::config::REPO_FORMAT;
        let to = config.format;
        blocking(move || write_config(&dir, &config)).await?;
        Ok((from, to))
    }

    /// A repository with an in-memory index on the given backend (tests that watch the
    /// requests a backend gets).
    #[cfg(test)]
    pub(crate) fn on_backend(config: RepoConfig, backend: Arc<dyn BlobBackend>) -> Repository {
        Repository {
            engine: wire(config, Index::in_memory().unwrap(), backend, None),
            dir: None,
            probe: None,
            attached: None,
        }
    }
}

/// After a rebuild from the packs on a shared backend: the bucket's records decide
/// (checkpoints forgotten on any machine go, HEAD is the bucket's).
fn resync(
    engine: &crate::engine::Engine,
    report: &mut crate::engine::rebuild::RebuildReport,
) -> Result<()> {
    if crate::engine::shared::enabled(engine) {
        crate::engine::shared::sync(engine)?;
        report.from_bucket = true;
        report.checkpoints = engine.index.checkpoints()?.len() as u64;
        report.head = engine.index.head()?;
    }
    Ok(())
}

/// Where a URL backend's pack blocks are cached, inside the repository directory.
const PACK_CACHE_DIR: &str = "cache/packs";

/// Opens the backend of a new repository; a URL backend must pass the access probe
/// first (a store that cannot be written is an error now, not at the first checkpoint).
fn prepare_backend(
    dir: &Path,
    config: &RepoConfig,
    handle: Handle,
) -> Result<(Arc<dyn BlobBackend>, Option<ProbeReport>)> {
    let probe = match &config.backend {
        BackendConfig::Url(url) => {
            let report = probe(&backend_for_probe(url, handle.clone())?)?;
            if !report.conditional_writes {
                tracing::warn!(
                    "{} does not honour conditional writes (a create-only write replaced an existing object)",
                    report.backend
                );
            }
            Some(report)
        }
        BackendConfig::Local | BackendConfig::Redb => None,
    };
    Ok((open_backend(Some(dir), config, handle)?, probe))
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
        BackendConfig::Url(url) => {
            Arc::new(
                ReadCache::new(
                    Arc::new(backend_from_url(url, handle)?),
                    DEFAULT_CACHE_BYTES,
                )
                .with_disk(dir.and_then(|d| {
                    DiskBlocks::open(&d.join(PACK_CACHE_DIR), DEFAULT_DISK_CACHE_BYTES)
                })),
            )
        }
    })
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
        blocks: crate::engine::BlockCache::default(),
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
