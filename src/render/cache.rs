//! Bounding the render cache: work directories and `node_modules` installs, least
//! recently used first, and the store files no install links to any more. Sizes count
//! each file once, however many installs link to it.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::deps::{installs, store, try_exclusive};
use super::deps_store;
use crate::engine::blocking;
use crate::error::{Error, Result};

/// What a prune did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    /// Directories removed.
    pub removed: Vec<PathBuf>,
    /// Bytes freed.
    pub freed_bytes: u64,
    /// Bytes the cache holds now.
    pub kept_bytes: u64,
}

/// Bytes under `dirs`, each file counted once however many hard links it has (an
/// install's files are links into the shared store); symlinks not followed.
fn usage(dirs: &[PathBuf]) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    walk_files(dirs, &mut |m| {
        if seen.insert((m.dev(), m.ino())) {
            total += m.len();
        }
    });
    total
}

/// Bytes removing `dir` frees: its files no other directory links to (a link shared
/// only with the store frees the store's copy too, once purged).
fn own_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    walk_files(&[dir.to_path_buf()], &mut |m| {
        if m.nlink() <= 2 {
            total += m.len();
        }
    });
    total
}

fn walk_files(dirs: &[PathBuf], f: &mut dyn FnMut(&std::fs::Metadata)) {
    let mut stack = dirs.to_vec();
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.filter_map(std::result::Result::ok) {
            let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                f(&m);
            }
        }
    }
}

fn last_used(marker: &Path, dir: &Path) -> SystemTime {
    std::fs::metadata(marker)
        .or_else(|_| std::fs::metadata(dir))
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

struct Entry {
    dir: PathBuf,
    marker: PathBuf,
    install: bool,
    used: SystemTime,
    bytes: u64,
}

/// Work directories (`cache/work/*`) and installs (`deps/node_modules/*`), least
/// recently used first. Scratch directories (`.installing-*`) are another install's.
fn entries(cache: &Path, deps: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for (parent, install) in [(cache.join("work"), false), (installs(deps), true)] {
        let Ok(list) = std::fs::read_dir(&parent) else {
            continue;
        };
        for e in list.filter_map(std::result::Result::ok) {
            let dir = e.path();
            let hidden = e.file_name().to_string_lossy().starts_with('.');
            if hidden || !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let marker = if install {
                dir.join(".last-used")
            } else {
                dir.with_extension("last-used")
            };
            out.push(Entry {
                used: last_used(&marker, &dir),
                bytes: own_bytes(&dir),
                install,
                dir,
                marker,
            });
        }
    }
    out.sort_by_key(|e| e.used);
    out
}

/// A scratch install (`.installing-*`) older than this was left by a process killed
/// while installing: no install runs that long.
const STALE_SCRATCH: Duration = Duration::from_secs(24 * 60 * 60);

/// Removes the scratch installs killed processes left under `deps`.
fn remove_stale_scratch(deps: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let Ok(list) = std::fs::read_dir(installs(deps)) else {
        return Ok(removed);
    };
    for e in list.filter_map(std::result::Result::ok) {
        let dir = e.path();
        let stale = e.file_name().to_string_lossy().starts_with(".installing-")
            && last_used(&dir, &dir)
                .elapsed()
                .is_ok_and(|age| age > STALE_SCRATCH);
        if stale {
            std::fs::remove_dir_all(&dir).map_err(Error::io("remove", &dir))?;
            removed.push(dir);
        }
    }
    Ok(removed)
}

/// Removes the scratch installs of killed processes, then least recently used work
/// directories (under `cache`) and installs (under `deps`) until at most `max_bytes`
/// remain in both, never one of `busy` nor an install another process uses (it holds
/// the entry's lock); then the store files no install links to any more.
pub fn prune(cache: &Path, deps: &Path, max_bytes: u64, busy: &[PathBuf]) -> Result<PruneReport> {
    let all = [cache.join("work"), installs(deps), store(deps)];
    let before = usage(&all);
    let mut report = PruneReport {
        removed: remove_stale_scratch(deps)?,
        ..PruneReport::default()
    };
    let mut total = if report.removed.is_empty() {
        before
    } else {
        usage(&all)
    };
    for e in entries(cache, deps) {
        if total <= max_bytes {
            break;
        }
        if busy.contains(&e.dir) {
            continue;
        }
        // Held until the entry is gone: a job of another process waits, then installs.
        let _lock = if e.install {
            match try_exclusive(&e.dir) {
                Some(l) => Some(l),
                None => continue,
            }
        } else {
            None
        };
        std::fs::remove_dir_all(&e.dir).map_err(Error::io("remove", &e.dir))?;
        let _ = std::fs::remove_file(&e.marker);
        total = total.saturating_sub(e.bytes);
        report.removed.push(e.dir);
    }
    deps_store::purge(&store(deps))?;
    report.kept_bytes = usage(&all);
    report.freed_bytes = before.saturating_sub(report.kept_bytes);
    Ok(report)
}

impl super::Renders {
    /// Removes the least recently used work directories and `node_modules` installs
    /// until the cache and the dependency directory hold at most `max_bytes`, then the
    /// store files no install links to. Directories in use (by this process's jobs, or
    /// installs locked by another process's) are kept.
    pub async fn prune_cache(&self, max_bytes: u64) -> Result<PruneReport> {
        let _installs = self.inner.install.lock().await;
        let busy: Vec<PathBuf> = {
            let jobs = self.inner.jobs.lock().expect("jobs lock");
            jobs.values()
                .map(|l| l.tx.borrow().clone())
                .filter(|s| !s.stage.is_final())
                .map(|s| self.workdir(s.project))
                .collect()
        };
        let cache = self.inner.config.cache_dir.clone();
        let deps = self.inner.config.deps_dir.clone();
        blocking(move || {
            // The installs those work dirs link to are in use too.
            let busy: Vec<PathBuf> = busy
                .iter()
                .filter_map(|w| std::fs::read_link(w.join("node_modules")).ok())
                .filter_map(|target| target.parent().map(Path::to_path_buf))
                .chain(busy.iter().cloned())
                .collect();
            prune(&cache, &deps, max_bytes, &busy)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::prune;
    use crate::render::deps::{installs, use_entry};

    #[test]
    fn prune_skips_an_install_another_process_uses_and_frees_its_store_files() {
        let d = tempfile::tempdir().unwrap();
        let (cache, deps) = (d.path().join("cache"), d.path().join("deps"));
        let entry = |name: &str| {
            let e = installs(&deps).join(name);
            std::fs::create_dir_all(e.join("node_modules/pkg")).unwrap();
            std::fs::write(e.join("node_modules/pkg/index.js"), name.repeat(1000)).unwrap();
            std::fs::write(e.join(".complete"), b"").unwrap();
            crate::render::deps_store::dedup(&super::store(&deps), &e.join("node_modules"))
                .unwrap();
            e
        };
        let (used, idle) = (entry("used"), entry("idle"));
        // A job (here: an open file with a shared lock, as another process would hold).
        let lock = use_entry(&used).expect("a complete entry can be used");
        let report = prune(&cache, &deps, 0, &[]).unwrap();
        assert_eq!(report.removed, std::slice::from_ref(&idle));
        assert!(used.join("node_modules/pkg/index.js").is_file());
        assert_eq!(report.kept_bytes, 4000, "{report:?}");
        drop(lock);
        let report = prune(&cache, &deps, 0, &[]).unwrap();
        assert_eq!(report.removed, [used]);
        assert_eq!(
            report.kept_bytes, 0,
            "the store's copies went with the installs"
        );
    }

    #[test]
    fn prune_removes_what_a_killed_install_left_and_keeps_one_that_runs() {
        let d = tempfile::tempdir().unwrap();
        let deps = d.path().join("deps");
        let scratch = |name: &str, age: std::time::Duration| {
            let dir = installs(&deps).join(name);
            std::fs::create_dir_all(dir.join("node_modules")).unwrap();
            std::fs::write(dir.join("node_modules/x.js"), b"half an install").unwrap();
            let when = std::time::SystemTime::now() - age;
            std::fs::File::open(&dir)
                .unwrap()
                .set_modified(when)
                .unwrap();
            dir
        };
        let killed = scratch(".installing-killed", super::STALE_SCRATCH * 2);
        let running = scratch(".installing-running", std::time::Duration::from_secs(60));
        // Even with room to spare: a dead scratch install is garbage.
        let report = prune(&d.path().join("cache"), &deps, u64::MAX, &[]).unwrap();
        assert_eq!(report.removed, std::slice::from_ref(&killed));
        assert!(!killed.exists() && running.join("node_modules/x.js").is_file());
        assert_eq!(report.freed_bytes, 15);
    }
}
