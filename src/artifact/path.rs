//! Validated project paths.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::ArtifactError;
use crate::error::{Error, Result};
use crate::object::validate_name;

/// Longest path, in bytes.
pub const MAX_PATH: usize = 4096;

/// A path inside a project: relative, `/`-separated, every segment a valid entry name
/// (no empty, `.` or `..` segments, no NUL) and none named `.reel` (in any case: an
/// export must never write into a repository), at most 4096 bytes. Never normalized: a
/// path that is not already in this form is refused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectPath(String);

impl ProjectPath {
    /// Validates a path.
    pub fn parse(s: &str) -> Result<ProjectPath> {
        let bad = |why: String| {
            Error::from(ArtifactError::BadPath {
                path: s.to_owned(),
                why,
            })
        };
        if s.is_empty() {
            return Err(bad("empty".into()));
        }
        if s.len() > MAX_PATH {
            return Err(bad(format!("longer than {MAX_PATH} bytes")));
        }
        if s.starts_with('/') {
            return Err(bad("absolute paths are not allowed".into()));
        }
        for seg in s.split('/') {
            validate_name(seg).map_err(bad)?;
            if crate::engine::ingest::is_repo_dir_name(seg) {
                return Err(bad(
                    "`.reel` is the repository directory's name; no project may hold one".into(),
                ));
            }
        }
        Ok(ProjectPath(s.to_owned()))
    }

    /// The path as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The parent directory (`""` for a top-level name) and the last segment.
    #[must_use]
    pub fn split(&self) -> (&str, &str) {
        self.0.rsplit_once('/').unwrap_or(("", &self.0))
    }

    /// Every proper ancestor, shallowest first (`a`, `a/b` for `a/b/c`).
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        self.0.match_indices('/').map(|(i, _)| &self.0[..i])
    }
}

impl TryFrom<String> for ProjectPath {
    type Error = Error;
    fn try_from(s: String) -> Result<ProjectPath> {
        ProjectPath::parse(&s)
    }
}

impl From<ProjectPath> for String {
    fn from(p: ProjectPath) -> String {
        p.0
    }
}

impl fmt::Display for ProjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A MIME type guessed from a file name's extension (`application/octet-stream` when
/// unknown).
#[must_use]
pub fn mime_of_name(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "json" => "application/json",
        "txt" => "text/plain",
        "md" => "text/markdown",
        "ts" | "tsx" => "text/typescript",
        "js" | "jsx" | "mjs" => "text/javascript",
        "css" => "text/css",
        "html" => "text/html",
        "ttf" => "font/ttf",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_clean_relative_paths() {
        for ok in ["a", "src/Root.tsx", "public/media/clip 01.mp4", "é/ü"] {
            assert_eq!(ProjectPath::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_rather_than_normalizes() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a/",
            "a/.",
            "nul\0",
            ".reel/index.redb",
            "src/.REEL/config",
        ] {
            assert!(ProjectPath::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ProjectPath::parse(&"a/".repeat(2049)).is_err());
    }

    #[test]
    fn ancestors_and_split() {
        let p = ProjectPath::parse("a/b/c").unwrap();
        assert_eq!(p.ancestors().collect::<Vec<_>>(), vec!["a", "a/b"]);
        assert_eq!(p.split(), ("a/b", "c"));
    }
}
