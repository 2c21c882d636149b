//! The repository record in a shared backend, and attaching a second machine to it.
//!
//! `reel init` on a URL backend writes `repository` (the settings every writer must
//! share, and the repository id) with a create-only write. An init that finds one
//! there — or loses the race to write it — attaches instead: it adopts that id and
//! those settings, and rebuilds its local index from the packs. Two repositories are
//! never created over one prefix.

use serde::{Deserialize, Serialize};

use crate::engine::config::{REPO_FORMAT, RepoConfig};
use crate::error::{Error, Result};
use crate::object::ChunkerConfig;
use crate::store::{BlobBackend, Created, MACHINES_PREFIX, StoreError};

/// The blob name of the repository record.
pub const REPOSITORY_BLOB: &str = "repository";

/// What the backend records about its repository (JSON).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    format: u32,
    id: String,
    chunking: ChunkerConfig,
    compression_level: i32,
    pack_target: u32,
}

/// The outcome of claiming a backend for a new repository.
#[derive(Debug)]
pub enum Claim {
    /// This init wrote the record: a new repository.
    Created,
    /// Another repository's record was there: `config` now carries its id and settings.
    Attach,
    /// The backend holds packs but no record (a repository from before records, or
    /// not a repository at all): nothing was written.
    Foreign,
    /// Only attaching was asked for (`reel clone`) and there is no record: nothing was
    /// written.
    Absent,
}

/// Attaches to the repository recorded in the backend, or, when there is none, the
/// backend holds no packs (`packs`) and not only attaching was asked for, writes the
/// record of a new one. Losing the race
/// to write it to another init attaches to that one.
pub fn claim(
    backend: &dyn BlobBackend,
    config: &mut RepoConfig,
    packs: usize,
    attach_only: bool,
) -> Result<Claim> {
    if let Some(theirs) = read(backend)? {
        return adopt(backend, theirs, config);
    }
    if attach_only {
        return Ok(Claim::Absent);
    }
    if packs > 0 {
        return Ok(Claim::Foreign);
    }
    crate::engine::failpoint::hit("init-no-record");
    let ours = Record {
        format: REPO_FORMAT,
        id: config.id.clone().unwrap_or_default(),
        chunking: config.chunking,
        compression_level: config.compression_level,
        pack_target: config.pack_target,
    };
    let bytes = serde_json::to_vec_pretty(&ours).expect("the record serializes");
    if backend.create(REPOSITORY_BLOB, bytes.into())? == Created::New {
        join(backend, false)?;
        return Ok(Claim::Created);
    }
    // Refused as existing, yet gone: someone deleted it in between.
    let theirs = read(backend)?.ok_or_else(|| {
        Error::Conflict(format!(
            "the repository record of {} vanished while init read it",
            backend.describe()
        ))
    })?;
    adopt(backend, theirs, config)
}

fn adopt(backend: &dyn BlobBackend, theirs: Record, config: &mut RepoConfig) -> Result<Claim> {
    config.id = Some(theirs.id);
    // A bucket of format 2 stays readable by the releases that share it: no deltas.
    config.format = theirs.format.max(2);
    config.chunking = theirs.chunking;
    config.compression_level = theirs.compression_level;
    config.pack_target = theirs.pack_target;
    config.validate()?;
    // Before the rebuild relies on anything: from now on no machine's gc deletes.
    join(backend, true)?;
    Ok(Claim::Attach)
}

/// Records this machine under `machines/` (create-only, a random name). An attaching
/// machine that finds no record there (the repository was made by a release that wrote
/// none) records the first machine too, so that gc sees two.
fn join(backend: &dyn BlobBackend, attaching: bool) -> Result<()> {
    #[derive(Serialize)]
    struct Machine {
        joined_s: u64,
        attached: bool,
    }
    let joined_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let record = |attached| {
        serde_json::to_vec(&Machine { joined_s, attached })
            .expect("the record serializes")
            .into()
    };
    if attaching && backend.list(MACHINES_PREFIX)?.is_empty() {
        backend.create(&format!("{MACHINES_PREFIX}first"), record(false))?;
    }
    let name = format!(
        "{MACHINES_PREFIX}{}",
        hex::encode(rand::random::<[u8; 16]>())
    );
    backend.create(&name, record(attaching))?;
    Ok(())
}

/// Whether the backend holds a repository record.
pub fn recorded(backend: &dyn BlobBackend) -> Result<bool> {
    Ok(read(backend)?.is_some())
}

fn read(backend: &dyn BlobBackend) -> Result<Option<Record>> {
    #[derive(Deserialize)]
    struct VersionOnly {
        format: u32,
    }
    let bytes = match backend.get(REPOSITORY_BLOB) {
        Ok(b) => b,
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let corrupt = |reason: String| Error::Corrupt {
        what: format!(
            "the repository record `{REPOSITORY_BLOB}` of {}",
            backend.describe()
        ),
        pack: None,
        object: None,
        reason,
    };
    let version: VersionOnly =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if version.format > REPO_FORMAT {
        return Err(Error::UnsupportedVersion {
            what: "repository",
            found: version.format,
            supported: REPO_FORMAT,
        });
    }
    let record: Record = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    Ok(Some(record))
}
