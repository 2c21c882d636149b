//! The `node_modules` cache: one install per distinct `package.json` +
//! `package-lock.json`, shared by every render and every project that has them.
//!
//! `<cache>/node_modules/<key>/` holds the two files, the installed `node_modules/`,
//! the install's output (`install.log`) and a `.complete` marker. An install runs in a
//! temporary sibling directory and is renamed into place only when it succeeded, so a
//! crash or a failed install never leaves a half-populated entry behind. Work
//! directories link to it with a symlink.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::error::RenderError;
use super::log::JobLog;
use super::process::{CommandSpec, Report, run_parsing};
use super::progress::{LineParser, RenderProgress, Stage, strip_ansi};
use crate::engine::blocking;
use crate::error::{Error, Result};
use crate::hash::Hash;

/// Files that decide what gets installed.
const MANIFESTS: [&str; 2] = ["package.json", "package-lock.json"];
/// The marker of a finished install.
const COMPLETE: &str = ".complete";

/// The cache key: BLAKE3 over both files, each length-prefixed (a missing lockfile
/// hashes differently from an empty one).
#[must_use]
pub fn key(package_json: &[u8], lock: Option<&[u8]>) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"reel node_modules v1\0");
    for part in [Some(package_json), lock] {
        match part {
            Some(b) => {
                h.update(&(b.len() as u64 + 1).to_le_bytes());
                h.update(b);
            }
            None => {
                h.update(&0u64.to_le_bytes());
            }
        }
    }
    Hash::from(h.finalize())
}

/// What [`ensure`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The cache key.
    pub key: Hash,
    /// Whether this call ran the install (false: reused).
    pub ran: bool,
    /// The cache entry: the install's `package-lock.json` beside its `node_modules/`.
    pub entry: PathBuf,
}

/// The complete cache entry under `root` for these manifests, if this machine has one
/// (what an install resolved is known without installing).
#[must_use]
pub fn complete_entry(root: &Path, package_json: &[u8], lock: Option<&[u8]>) -> Option<PathBuf> {
    let entry = root.join(key(package_json, lock).to_hex());
    entry.join(COMPLETE).is_file().then_some(entry)
}

/// Marks a cache entry as used now (cleanup removes the least recently used first).
pub fn touch(dir: &Path) {
    let _ = std::fs::write(dir.join(".last-used"), b"");
}

/// Makes `workdir/node_modules` a link to the cached install for the work dir's
/// `package.json` + `package-lock.json`, installing first if needed. Returns `None`
/// when the project has no `package.json`, or ships its own `node_modules`. File work
/// runs on the blocking pool; only the install itself is awaited here.
pub async fn ensure(
    root: &Path,
    workdir: &Path,
    install: &[String],
    timeout: Option<Duration>,
    cancel: &CancellationToken,
    report: Report,
    log: &Arc<JobLog>,
) -> Result<Option<Installed>> {
    let (r, w) = (root.to_path_buf(), workdir.to_path_buf());
    let Some((key, entry, complete)) = blocking(move || Ok(lookup(&r, &w))).await? else {
        return Ok(None);
    };
    if !complete {
        install_into(root, &entry, workdir, install, timeout, cancel, report, log).await?;
    }
    let (e, link) = (entry.clone(), workdir.join("node_modules"));
    blocking(move || link_install(&e, &link)).await?;
    Ok(Some(Installed {
        key,
        ran: !complete,
        entry,
    }))
}

/// The cache key and entry of a work dir's manifests, and whether that entry is
/// complete; `None` without a `package.json` or with the project's own `node_modules`.
fn lookup(root: &Path, workdir: &Path) -> Option<(Hash, PathBuf, bool)> {
    let package_json = std::fs::read(workdir.join(MANIFESTS[0])).ok()?;
    let link = workdir.join("node_modules");
    if std::fs::symlink_metadata(&link).is_ok_and(|m| m.is_dir()) {
        return None; // the project brings its own
    }
    let lock = std::fs::read(workdir.join(MANIFESTS[1])).ok();
    let key = key(&package_json, lock.as_deref());
    let entry = root.join(key.to_hex());
    let complete = entry.join(COMPLETE).is_file();
    Some((key, entry, complete))
}

/// Marks the entry used and points the work dir's `node_modules` at it.
fn link_install(entry: &Path, link: &Path) -> Result<()> {
    touch(entry);
    let target = entry.join("node_modules");
    if std::fs::read_link(link).ok().as_deref() != Some(target.as_path()) {
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(&target, link).map_err(Error::io("link", link))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // one call site, each argument its own concern
async fn install_into(
    root: &Path,
    entry: &Path,
    workdir: &Path,
    install: &[String],
    timeout: Option<Duration>,
    cancel: &CancellationToken,
    report: Report,
    log: &Arc<JobLog>,
) -> Result<()> {
    let (program, args) = install
        .split_first()
        .ok_or_else(|| RenderError::Setting("the install command is empty".into()))?;
    let (r, w) = (root.to_path_buf(), workdir.to_path_buf());
    let tmp = blocking(move || scratch(&r, &w)).await?;
    let spec = CommandSpec {
        program: PathBuf::from(program),
        args: args.iter().map(Into::into).collect(),
        cwd: tmp.path().to_path_buf(),
        env: Vec::new(),
    };
    tracing::info!(command = %spec.display(), dir = %entry.display(), "installing node_modules");
    // Every line of the installer's output is a progress event (count, latest line).
    let [out, err] = InstallLines::pair();
    let out = run_parsing(
        &spec,
        timeout,
        cancel,
        [Some(out), Some(err)],
        report,
        Some(log),
    )
    .await;
    let entry = entry.to_path_buf();
    // Everything after the run touches files (and may remove a whole failed install):
    // off the async workers, whatever the outcome.
    blocking(move || {
        let out = out?;
        let log = out
            .stdout
            .iter()
            .chain(out.stderr.iter())
            .fold(String::new(), |mut acc, l| {
                acc.push_str(l);
                acc.push('\n');
                acc
            });
        let _ = std::fs::write(tmp.path().join("install.log"), &log);
        out.check(Some("installing node_modules"), None, timeout)?;
        commit_install(tmp, &entry)
    })
    .await
}

/// A scratch directory beside the cache entries, holding copies of the manifests.
fn scratch(root: &Path, workdir: &Path) -> Result<tempfile::TempDir> {
    std::fs::create_dir_all(root).map_err(Error::io("create directory", root))?;
    let tmp = tempfile::Builder::new()
        .prefix(".installing-")
        .tempdir_in(root)
        .map_err(Error::io("create directory", root))?;
    for name in MANIFESTS {
        let from = workdir.join(name);
        if from.is_file() {
            std::fs::copy(&from, tmp.path().join(name)).map_err(Error::io("copy", &from))?;
        }
    }
    Ok(tmp)
}

/// Marks a finished install complete and renames it into place.
fn commit_install(tmp: tempfile::TempDir, entry: &Path) -> Result<()> {
    if !tmp.path().join("node_modules").is_dir() {
        std::fs::create_dir(tmp.path().join("node_modules"))
            .map_err(Error::io("create directory", tmp.path()))?;
    }
    std::fs::write(tmp.path().join(COMPLETE), b"").map_err(Error::io("write", tmp.path()))?;
    let tmp = tmp.keep();
    if std::fs::rename(&tmp, entry).is_err() {
        // Another install of the same key finished first; keep that one.
        let _ = std::fs::remove_dir_all(&tmp);
        if !entry.join(COMPLETE).is_file() {
            return Err(RenderError::Install(entry.to_path_buf()).into());
        }
    }
    Ok(())
}

/// The lines of an installer's output (both streams) as installing progress: a count
/// and the latest line.
pub(super) struct InstallLines {
    seen: Arc<std::sync::atomic::AtomicU64>,
}

impl InstallLines {
    /// A parser for each of the installer's two streams, counting together.
    #[must_use]
    pub(super) fn pair() -> [Box<dyn LineParser>; 2] {
        let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
        [
            Box::new(InstallLines {
                seen: Arc::clone(&seen),
            }),
            Box::new(InstallLines { seen }),
        ]
    }
}

impl LineParser for InstallLines {
    fn line(&mut self, line: &str) -> Option<RenderProgress> {
        let line = strip_ansi(line);
        let line = line.trim();
        if line.is_empty() {
            return None;
        }
        let n = self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        Some(RenderProgress {
            stage: Some(Stage::Installing),
            output_lines: Some(n),
            message: Some(line.chars().take(160).collect()),
            ..RenderProgress::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{InstallLines, key};

    #[test]
    fn install_lines_count_both_streams_and_keep_the_latest() {
        let [mut out, mut err] = InstallLines::pair();
        let a = err.line("\u{1b}[32mnpm http fetch GET 200 https://r/remotion 5ms\u{1b}[0m");
        assert_eq!(err.line("   "), None);
        let b = out.line(&"x".repeat(300)).unwrap();
        let a = a.unwrap();
        assert_eq!((a.output_lines, b.output_lines), (Some(1), Some(2)));
        assert_eq!(
            a.message.as_deref(),
            Some("npm http fetch GET 200 https://r/remotion 5ms")
        );
        assert_eq!(b.message.as_ref().map(String::len), Some(160));
        assert!(a.overall() > 0.0 && a.overall() < b.overall() && b.overall() < 5.0);
        assert_eq!(
            a.describe(),
            "installing: npm http fetch GET 200 https://r/remotion 5ms"
        );
    }

    #[test]
    fn key_depends_on_both_files_and_tells_missing_from_empty() {
        let a = key(b"{}", None);
        assert_ne!(a, key(b"{}", Some(b"")));
        assert_ne!(a, key(b"{ }", None));
        assert_ne!(key(b"{}", Some(b"x")), key(b"{}x", None));
        assert_eq!(a, key(b"{}", None));
    }
}
