//! The `node_modules` cache: one install per distinct `package.json` +
//! `package-lock.json` + install command, shared by every render and every project
//! that has them — and by every repository of the user: it lives in the dependency
//! directory (`~/.cache/reelstore/deps` for `reel`), not in a repository.
//!
//! `<deps>/node_modules/<key>/` holds the two files, the installed `node_modules/`
//! and a `.complete` marker (the install's output is in the job's log). An install runs in a
//! temporary sibling directory and is renamed into place only when it succeeded, so a
//! crash or a failed install never leaves a half-populated entry behind; before that,
//! its files are linked into the shared store (`<deps>/store`, see
//! [`super::deps_store`]). Work directories link to an entry with a symlink; a job
//! using an entry holds a shared lock on its `.complete` marker, which a prune (of any
//! process) must take exclusively to remove it.

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

/// Where the installs are, under the dependency directory.
#[must_use]
pub fn installs(deps: &Path) -> PathBuf {
    deps.join("node_modules")
}

/// Where the shared file store is, under the dependency directory.
#[must_use]
pub fn store(deps: &Path) -> PathBuf {
    deps.join("store")
}

/// The cache key: BLAKE3 over both files and the install command, each
/// length-prefixed (a missing lockfile hashes differently from an empty one; another
/// command, e.g. `--omit=dev`, is another install).
#[must_use]
pub fn key(package_json: &[u8], lock: Option<&[u8]>, install: &[String]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"reel node_modules v2\0");
    let command = install.join("\0");
    for part in [Some(package_json), lock, Some(command.as_bytes())] {
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
#[derive(Debug)]
pub struct Installed {
    /// Whether this call ran the install (false: reused).
    pub ran: bool,
    /// The cache entry: the install's `package-lock.json` beside its `node_modules/`.
    pub entry: PathBuf,
    /// The shared lock on the entry's marker: no prune removes the entry while held.
    _in_use: std::fs::File,
}

/// The cache entry under `deps` for these manifests and install command.
fn entry_of(deps: &Path, package_json: &[u8], lock: Option<&[u8]>, install: &[String]) -> PathBuf {
    installs(deps).join(key(package_json, lock, install).to_hex())
}

/// The complete cache entry under `deps` for these manifests and install command, if
/// this machine has one (what an install resolved is known without installing).
#[must_use]
pub fn complete_entry(
    deps: &Path,
    package_json: &[u8],
    lock: Option<&[u8]>,
    install: &[String],
) -> Option<PathBuf> {
    let entry = entry_of(deps, package_json, lock, install);
    entry.join(COMPLETE).is_file().then_some(entry)
}

/// A manifest's bytes when it is a regular file. A symlink (a tree may hold one) is
/// never followed: its target, perhaps outside the work directory, would be installed
/// from and stored with the render.
#[must_use]
pub fn read_manifest(path: &Path) -> Option<Vec<u8>> {
    if !std::fs::symlink_metadata(path).ok()?.is_file() {
        return None;
    }
    std::fs::read(path).ok()
}

/// Takes a shared lock on a complete entry's marker (waiting out a prune removing it);
/// `None` when the entry is not (or no longer) complete.
pub(super) fn use_entry(entry: &Path) -> Option<std::fs::File> {
    let marker = entry.join(COMPLETE);
    let f = std::fs::File::open(&marker).ok()?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockShared).ok()?;
    // A prune that held the lock removed the entry: the open file is all that is left.
    marker.is_file().then_some(f)
}

/// Takes the exclusive lock a prune needs to remove `entry`, if no job uses it.
#[must_use]
pub fn try_exclusive(entry: &Path) -> Option<std::fs::File> {
    let f = std::fs::File::open(entry.join(COMPLETE)).ok()?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).ok()?;
    Some(f)
}

/// Marks a cache entry as used now (cleanup removes the least recently used first).
pub fn touch(dir: &Path) {
    let _ = std::fs::write(dir.join(".last-used"), b"");
}

/// Makes `workdir/node_modules` a link to the install (under the dependency directory
/// `deps`) for the work dir's `package.json` + `package-lock.json` and the install
/// command, installing first if needed, and holds it in use until the returned value
/// is dropped. Returns `None` when the project has no `package.json`, or ships its own
/// `node_modules`. File work runs on the blocking pool; only the install itself is
/// awaited here.
pub async fn ensure(
    deps: &Path,
    workdir: &Path,
    install: &[String],
    timeout: Option<Duration>,
    cancel: &CancellationToken,
    report: Report,
    log: &Arc<JobLog>,
) -> Result<Option<Installed>> {
    let (d, w, cmd) = (deps.to_path_buf(), workdir.to_path_buf(), install.to_vec());
    let Some(entry) = blocking(move || Ok(lookup(&d, &w, &cmd))).await? else {
        return Ok(None);
    };
    let mut ran = false;
    let in_use = loop {
        let e = entry.clone();
        if let Some(f) = blocking(move || Ok(use_entry(&e))).await? {
            break f;
        }
        if ran {
            // Installed, then removed before it could be used (a prune elsewhere).
            return Err(RenderError::Install(entry).into());
        }
        let report = Arc::clone(&report);
        install_into(deps, &entry, workdir, install, timeout, cancel, report, log).await?;
        ran = true;
    };
    let (e, link) = (entry.clone(), workdir.join("node_modules"));
    blocking(move || link_install(&e, &link)).await?;
    Ok(Some(Installed {
        ran,
        entry,
        _in_use: in_use,
    }))
}

/// The cache key and entry of a work dir's manifests; `None` without a `package.json`
/// or with the project's own `node_modules`.
fn lookup(deps: &Path, workdir: &Path, install: &[String]) -> Option<PathBuf> {
    let package_json = read_manifest(&workdir.join(MANIFESTS[0]))?;
    let link = workdir.join("node_modules");
    if std::fs::symlink_metadata(&link).is_ok_and(|m| m.is_dir()) {
        return None; // the project brings its own
    }
    let lock = read_manifest(&workdir.join(MANIFESTS[1]));
    Some(entry_of(deps, &package_json, lock.as_deref(), install))
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
    deps: &Path,
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
    let (r, w) = (installs(deps), workdir.to_path_buf());
    let tmp = blocking(move || scratch(&r, &w)).await?;
    let store = store(deps);
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
        out?.check(Some("installing node_modules"), None, timeout)?;
        let modules = tmp.path().join("node_modules");
        if modules.is_dir() {
            // Sharing files with other installs saves space; an install that could not
            // share them all is still whole.
            match super::deps_store::dedup(&store, &modules) {
                Ok(l) => tracing::info!(
                    files = l.files,
                    new_bytes = l.new_bytes,
                    shared_bytes = l.shared_bytes,
                    "install linked into the dependency store"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot link the install into the dependency store");
                }
            }
        }
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
        if let Some(bytes) = read_manifest(&workdir.join(name)) {
            let to = tmp.path().join(name);
            std::fs::write(&to, bytes).map_err(Error::io("write", &to))?;
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
    fn a_symlinked_manifest_is_never_read_through() {
        let d = tempfile::tempdir().unwrap();
        let (work, deps) = (d.path().join("work"), d.path().join("deps"));
        std::fs::create_dir(&work).unwrap();
        std::fs::write(d.path().join("secret"), b"outside the work dir").unwrap();
        std::fs::write(work.join("package.json"), b"{}").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), work.join("package-lock.json"))
            .unwrap();
        let npm = ["npm".to_owned()];
        // Keyed as a project without a lockfile; the scratch install gets no copy of it.
        assert_eq!(
            super::lookup(&deps, &work, &npm),
            Some(super::entry_of(&deps, b"{}", None, &npm))
        );
        let tmp = super::scratch(&super::installs(&deps), &work).unwrap();
        assert!(tmp.path().join("package.json").is_file());
        assert!(!tmp.path().join("package-lock.json").exists());
        assert_eq!(super::read_manifest(&work.join("package-lock.json")), None);
    }

    #[test]
    fn key_depends_on_both_files_and_tells_missing_from_empty() {
        let npm = ["npm".to_owned(), "install".to_owned()];
        let a = key(b"{}", None, &npm);
        assert_ne!(a, key(b"{}", Some(b""), &npm));
        assert_ne!(a, key(b"{ }", None, &npm));
        assert_ne!(key(b"{}", Some(b"x"), &npm), key(b"{}x", None, &npm));
        assert_ne!(
            a,
            key(b"{}", None, &npm[..1]),
            "another command, another install"
        );
        assert_eq!(a, key(b"{}", None, &npm));
    }
}
