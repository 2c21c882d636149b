//! The repository config file (`config`): format version, chunking, compression, backend.
//!
//! JSON, so a person can read it; unknown fields are refused so a newer writer's
//! settings are never silently ignored.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::object::ChunkerConfig;

/// The newest repository format this build reads and writes. Format 1 repositories are
/// upgraded when opened (see `docs/format.md`, "Version changes").
pub const REPO_FORMAT: u32 = 5;

/// The first repository format whose packs may hold solid blocks (older releases
/// refuse it).
pub const BLOCK_FORMAT: u32 = 4;
/// The first repository format whose packs may end with the compact trailer (older
/// releases refuse it).
pub const COMPACT_TRAILER_FORMAT: u32 = 5;
/// Default pack target size.
pub const DEFAULT_PACK_TARGET: u32 = 16 * 1024 * 1024;

/// Where pack bytes go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BackendConfig {
    /// `packs/` next to the config (`object_store`'s local filesystem, fsync on).
    Local,
    /// `packs.redb` next to the config: pack bytes inside one redb file.
    Redb,
    /// Any `object_store` URL: `memory://`, `file:///…`, `s3://…`, `gs://…`, `az://…`.
    Url(String),
}

/// The repository's fixed settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Repository format version.
    pub format: u32,
    /// Chunk size limits, fixed at init.
    pub chunking: ChunkerConfig,
    /// zstd level for new objects.
    pub compression_level: i32,
    /// Target pack size in bytes.
    pub pack_target: u32,
    /// Where packs are stored.
    pub backend: BackendConfig,
    /// The repository's id (32 hex digits), set at init; its index records the same id.
    /// `None` in format 1 configs and in configs not yet initialized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Who checkpoints made here are by, unless a checkpoint names its author or
    /// `REEL_AUTHOR` is set (default: the OS user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

impl Default for RepoConfig {
    fn default() -> Self {
        RepoConfig {
            format: REPO_FORMAT,
            chunking: ChunkerConfig::default(),
            compression_level: 3,
            pack_target: DEFAULT_PACK_TARGET,
            backend: BackendConfig::Local,
            id: None,
            author: None,
        }
    }
}

impl RepoConfig {
    /// Whether small objects are stored in solid blocks (format 4 and later).
    #[must_use]
    pub fn blocks(&self) -> bool {
        self.format >= BLOCK_FORMAT
    }

    /// Whether packs end with the compact trailer (format 5 and later).
    #[must_use]
    pub fn compact_trailers(&self) -> bool {
        self.format >= COMPACT_TRAILER_FORMAT
    }

    /// Checks every setting.
    pub fn validate(&self) -> Result<()> {
        self.chunking.validate().map_err(Error::Invalid)?;
        if !(1..=22).contains(&self.compression_level) {
            return Err(Error::Invalid(format!(
                "compression level {} is outside zstd's 1..=22",
                self.compression_level
            )));
        }
        if self.pack_target < 1024 * 1024 {
            return Err(Error::Invalid("pack target below 1 MiB".into()));
        }
        if let Some(id) = &self.id
            && (id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(Error::Invalid(format!(
                "repository id `{id}` is not 32 hex digits"
            )));
        }
        Ok(())
    }

    /// Parses a config file, refusing newer formats and invalid settings.
    pub fn parse(bytes: &[u8]) -> Result<RepoConfig> {
        #[derive(Deserialize)]
        struct VersionOnly {
            format: u32,
        }
        let bad = |e: serde_json::Error| Error::Corrupt {
            what: "repository config".into(),
            pack: None,
            object: None,
            reason: e.to_string(),
        };
        let version: VersionOnly = serde_json::from_slice(bytes).map_err(bad)?;
        if version.format > REPO_FORMAT {
            return Err(Error::UnsupportedVersion {
                what: "repository",
                found: version.format,
                supported: REPO_FORMAT,
            });
        }
        let config: RepoConfig = serde_json::from_slice(bytes).map_err(bad)?;
        config.validate()?;
        Ok(config)
    }

    /// The file's bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("config serializes to JSON");
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = RepoConfig::default();
        assert_eq!(RepoConfig::parse(&c.to_bytes()).unwrap(), c);
    }

    #[test]
    fn newer_format_is_refused_by_version() {
        let c = RepoConfig {
            format: REPO_FORMAT + 1,
            ..RepoConfig::default()
        };
        let err = RepoConfig::parse(&c.to_bytes()).unwrap_err();
        assert!(matches!(
            err,
            Error::UnsupportedVersion {
                what: "repository",
                found,
                supported: REPO_FORMAT
            } if found == REPO_FORMAT + 1
        ));
    }

    #[test]
    fn unknown_field_is_refused() {
        let text = String::from_utf8(RepoConfig::default().to_bytes()).unwrap();
        let text = text.replacen('{', "{\"future\": 1,", 1);
        assert!(RepoConfig::parse(text.as_bytes()).is_err());
    }
}
