//! Bounding the render cache: work directories and `node_modules` installs, least
//! recently used first.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

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

/// Bytes under `path`, symlinks not followed.
fn size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map_or(0, |entries| {
        entries
            .filter_map(std::result::Result::ok)
            .map(|e| size(&e.path()))
            .sum()
    })
}

fn last_used(marker: &Path, dir: &Path) -> SystemTime {
    std::fs::metadata(marker)
        .or_else(|_| std::fs::metadata(dir))
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Removes least recently used entries of `root/work` and `root/node_modules` until
/// at most `max_bytes` remain, never one of `busy`.
pub fn prune(root: &Path, max_bytes: u64, busy: &[PathBuf]) -> Result<PruneReport> {
    struct Entry {
        dir: PathBuf,
        marker: PathBuf,
        used: SystemTime,
        bytes: u64,
    }
    let mut entries = Vec::new();
    for (kind, marker_of) in [
        (
            "work",
            (|d: &Path| d.with_extension("last-used")) as fn(&Path) -> PathBuf,
        ),
        ("node_modules", |d: &Path| d.join(".last-used")),
    ] {
        let Ok(list) = std::fs::read_dir(root.join(kind)) else {
            continue;
        };
        for e in list.filter_map(std::result::Result::ok) {
            let dir = e.path();
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let marker = marker_of(&dir);
            entries.push(Entry {
                used: last_used(&marker, &dir),
                bytes: size(&dir),
                dir,
                marker,
            });
        }
    }
    entries.sort_by_key(|e| e.used);
    let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
    let mut report = PruneReport::default();
    for e in entries {
        if total <= max_bytes {
            break;
        }
        if busy.contains(&e.dir) {
            continue;
        }
        std::fs::remove_dir_all(&e.dir).map_err(Error::io("remove", &e.dir))?;
        let _ = std::fs::remove_file(&e.marker);
        total -= e.bytes;
        report.freed_bytes += e.bytes;
        report.removed.push(e.dir);
    }
    report.kept_bytes = total;
    Ok(report)
}

impl super::Renders {
    /// Removes the least recently used work directories and `node_modules` installs
    /// until the cache holds at most `max_bytes`. Directories in use are kept.
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
        let root = self.inner.config.cache_dir.clone();
        blocking(move || {
            // The installs those work dirs link to are in use too.
            let busy: Vec<PathBuf> = busy
                .iter()
                .filter_map(|w| std::fs::read_link(w.join("node_modules")).ok())
                .filter_map(|target| target.parent().map(Path::to_path_buf))
                .chain(busy.iter().cloned())
                .collect();
            prune(&root, max_bytes, &busy)
        })
        .await
    }
}
