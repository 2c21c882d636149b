//! Turning a directory into trees: walk, hash what the stat cache cannot vouch for,
//! build trees bottom-up.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use super::cached::{Cached, cached_rows};
use super::file::{ingest_file, ingest_symlink, previous_chunks};
use super::pipeline::Pipeline;
use super::walk::{SkippedPath, WalkEntry, WalkKind, vanished_or_unreadable, walk};
use crate::engine::progress::Progress;
use crate::engine::{Engine, EngineError};
use crate::error::{Error, Result};
use crate::hash::{Hash, TreeId};
use crate::index::StatRecord;
use crate::object::{EntryKind, ObjectKind, Tree, TreeEntry, encode};

/// A file modified this recently (ns) before the scan started is hashed, and its row
/// never vouches for it ([`StatRecord::unvouched`](crate::index::StatRecord::unvouched)): a write in the same tick of the file system's clock as the read could
/// otherwise go unnoticed ("racily clean"). The window must exceed that tick. A file
/// whose modification time has a sub-second part lives on a file system that keeps
/// them (ext4, XFS, btrfs, APFS: a tick of at most 10 ms, the kernel's jiffy); one
/// without may be on a file system that keeps whole seconds (or two, FAT).
const RACY_WINDOW_NS: i64 = 50_000_000;
/// The window for a modification time of whole seconds.
const RACY_WINDOW_COARSE_NS: i64 = 2_000_000_000;
/// Reader threads per core for the scan.
const READER_THREADS_PER_CORE: usize = 4;

/// A scanned directory.
#[derive(Debug)]
pub struct ScanResult {
    /// The root tree.
    pub root: TreeId,
    /// Every tree built, by id (lets a diff read trees that were never stored).
    pub trees: HashMap<TreeId, Tree>,
    /// Files and symlinks seen.
    pub files: u64,
    /// Their logical bytes.
    pub bytes: u64,
    /// Files read and hashed (the stat cache could not vouch for them).
    pub hashed_files: u64,
    /// Their bytes.
    pub hashed_bytes: u64,
    /// Stat cache rows to record, by absolute path.
    pub stat_rows: Vec<(String, StatRecord)>,
    /// Paths left out because they vanished or could not be read.
    pub skipped: Vec<SkippedPath>,
    /// Temporary files of restores found (never part of a tree).
    pub leftovers: Vec<std::path::PathBuf>,
}

struct Leaf {
    entry: TreeEntry,
    hashed: bool,
    stat_row: Option<(String, StatRecord)>,
}

/// Scans `root` (absolute) into trees, offering every new object to `pipe`.
pub fn scan_dir(
    engine: &Engine,
    pipe: &Pipeline,
    root: &Path,
    progress: &dyn Progress,
) -> Result<ScanResult> {
    let walked = walk_root(engine, root)?;
    crate::engine::failpoint::hit("scan-after-walk");
    let entries = &walked.entries;
    let total: u64 = entries
        .iter()
        .filter(|e| e.kind == WalkKind::File)
        .map(|e| e.stat.size)
        .sum();
    progress.start("hashing", Some(total));
    let cached = cached_rows(pipe, root, entries)?;
    let read_all = read_leaves(engine, pipe, root, entries, &cached, progress)?;
    drop(cached);
    let mut out = ScanResult {
        root: TreeId(Hash::EMPTY),
        trees: HashMap::new(),
        files: 0,
        bytes: 0,
        hashed_files: 0,
        hashed_bytes: 0,
        stat_rows: Vec::new(),
        skipped: walked.skipped.clone(),
        leftovers: walked.leftovers.clone(),
    };
    let mut dirs: BTreeMap<&str, Vec<TreeEntry>> = entries
        .iter()
        .filter(|e| e.kind == WalkKind::Dir)
        .map(|e| (e.rel.as_str(), Vec::new()))
        .collect();
    for (i, r) in read_all {
        let l = match r? {
            Read::Leaf(l) => l,
            Read::Stopped => continue,
            Read::Skipped(reason) => {
                tracing::info!(path = %entries[i].rel, "skipped: {reason}");
                let path = entries[i].rel.clone();
                out.skipped.push(SkippedPath { path, reason });
                continue;
            }
        };
        out.count(&l);
        let (parent, _) = split_parent(&entries[i].rel);
        dirs.get_mut(parent)
            .expect("a leaf's parent directory was walked")
            .push(l.entry);
        out.stat_rows.extend(l.stat_row);
    }
    out.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    out.root = build_trees(pipe, dirs, &mut out.trees)?;
    Ok(out)
}

/// What is on disk at one path.
#[derive(Debug)]
pub struct PathScan {
    /// It as a tree entry (named after the path's last name); `None`: nothing there (or
    /// something that is neither a file, a directory nor a symlink).
    pub entry: Option<TreeEntry>,
    /// The trees of a directory, by id.
    pub trees: HashMap<TreeId, Tree>,
    /// Files and symlinks seen.
    pub files: u64,
    /// Temporary files of restores found below a directory.
    pub leftovers: Vec<std::path::PathBuf>,
    /// Stat cache rows of the files read, by absolute path.
    pub stat_rows: Vec<(String, StatRecord)>,
}

/// Scans only `abs` (absolute; its parents are the caller's to check): a directory
/// whole, a file hashed unless the stat cache vouches for it, a symlink read.
pub fn scan_path(engine: &Engine, pipe: &Pipeline, abs: &Path) -> Result<PathScan> {
    let mut out = PathScan {
        entry: None,
        trees: HashMap::new(),
        files: 0,
        leftovers: Vec::new(),
        stat_rows: Vec::new(),
    };
    let meta = match std::fs::symlink_metadata(abs) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io("stat", abs)(e)),
    };
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kind = if meta.is_dir() {
        let scan = scan_dir(engine, pipe, abs, &crate::engine::progress::NoProgress)?;
        out.entry = Some(TreeEntry {
            name,
            kind: EntryKind::Dir,
            executable: false,
            size: scan.trees[&scan.root].total_size(),
            id: scan.root.0,
        });
        (out.trees, out.files, out.leftovers) = (scan.trees, scan.files, scan.leftovers);
        out.stat_rows = scan.stat_rows;
        return Ok(out);
    } else if meta.file_type().is_symlink() {
        WalkKind::Symlink
    } else if meta.is_file() {
        WalkKind::File
    } else {
        return Ok(out);
    };
    let e = WalkEntry::new(name, kind, &meta);
    let parent = abs.parent().unwrap_or(abs);
    let row = cached_rows(pipe, parent, std::slice::from_ref(&e))?
        .pop()
        .unwrap_or(Cached::Unknown);
    let progress = crate::engine::progress::NoProgress;
    let l = leaf(engine, pipe, parent, &e, row, now_ns(), &progress)?;
    out.entry = Some(l.entry);
    out.stat_rows.extend(l.stat_row);
    out.files = 1;
    Ok(out)
}

impl ScanResult {
    fn count(&mut self, l: &Leaf) {
        self.files += 1;
        self.bytes += l.entry.size;
        if l.hashed {
            self.hashed_files += 1;
            self.hashed_bytes += l.entry.size;
        }
    }
}

/// Walks `root`, which must be a directory, leaving out the repository's own
/// directory wherever it lies below (compared canonically: `root` may be reached
/// through a symlink).
fn walk_root(engine: &Engine, root: &Path) -> Result<super::walk::Walked> {
    let meta = std::fs::metadata(root).map_err(Error::io("stat", root))?;
    if !meta.is_dir() {
        return Err(EngineError::NotADirectory {
            path: root.to_path_buf(),
        }
        .into());
    }
    let exclude = engine.repo_dir.as_deref().and_then(|repo| {
        let canonical = std::fs::canonicalize(root).ok()?;
        repo.strip_prefix(canonical).ok().map(|rel| root.join(rel))
    });
    walk(root, exclude.as_deref())
}

/// Reads every file and symlink, by index into `entries`. Small files are bound by I/O
/// latency, not CPU: they are read with more threads than cores. Large ones go
/// through the chunker, whose buffer is the maximum chunk size, so they get one thread
/// per core to keep memory flat.
fn read_leaves(
    engine: &Engine,
    pipe: &Pipeline,
    root: &Path,
    entries: &[WalkEntry],
    cached: &[Cached],
    progress: &dyn Progress,
) -> Result<Vec<(usize, Result<Read>)>> {
    let now_ns = now_ns();
    let small_limit = u64::from(engine.config.chunking.min);
    let (small, large): (Vec<_>, Vec<_>) = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind != WalkKind::Dir)
        .partition(|(_, e)| e.stat.size < small_limit);
    // Results go straight into one vector sized for every file (`collect_into_vec`):
    // a plain `collect` would build per-thread pieces and copy them, holding each
    // result twice at a 200,000-file scan's peak. The first error stops the rest.
    let failed = AtomicBool::new(false);
    let mut read_all = Vec::with_capacity(small.len() + large.len());
    let read = |batch: Vec<(usize, &WalkEntry)>, out: &mut Vec<(usize, Result<Read>)>| {
        batch
            .into_par_iter()
            .map(|(i, e)| {
                if failed.load(Ordering::Relaxed) {
                    return (i, Ok(Read::Stopped));
                }
                let r = read_leaf(engine, pipe, root, e, cached[i], now_ns, progress);
                if r.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                (i, r)
            })
            .collect_into_vec(out);
    };
    let readers = rayon::ThreadPoolBuilder::new()
        .num_threads(READER_THREADS_PER_CORE * rayon::current_num_threads())
        .build()
        .map_err(|e| EngineError::Worker(format!("cannot start reader threads: {e}")))?;
    readers.install(|| read(small, &mut read_all));
    if !failed.load(Ordering::Relaxed) {
        let mut rest = Vec::with_capacity(large.len());
        read(large, &mut rest);
        read_all.append(&mut rest);
    }
    Ok(read_all)
}

/// A file read, or left out.
enum Read {
    Leaf(Leaf),
    /// It vanished or could not be read: why.
    Skipped(String),
    /// Not read: another file's error stops the scan (that error is in the results).
    Stopped,
}

/// Reads one file or symlink; one that vanished or is unreadable is skipped, not an
/// error (restic's behaviour: the checkpoint records what it could read).
fn read_leaf(
    engine: &Engine,
    pipe: &Pipeline,
    root: &Path,
    e: &WalkEntry,
    row: Cached,
    now_ns: i64,
    progress: &dyn Progress,
) -> Result<Read> {
    match leaf(engine, pipe, root, e, row, now_ns, progress) {
        Ok(l) => Ok(Read::Leaf(l)),
        Err(Error::Io { source, .. }) if vanished_or_unreadable(&source) => {
            Ok(Read::Skipped(source.to_string()))
        }
        Err(other) => Err(other),
    }
}

fn leaf(
    engine: &Engine,
    pipe: &Pipeline,
    root: &Path,
    e: &WalkEntry,
    row: Cached,
    now_ns: i64,
    progress: &dyn Progress,
) -> Result<Leaf> {
    let name = split_parent(&e.rel).1.to_owned();
    if e.kind == WalkKind::Symlink {
        let (id, size) = ingest_symlink(pipe, &e.abs(root))?;
        let entry = TreeEntry {
            name,
            kind: EntryKind::Symlink,
            executable: false,
            size,
            id,
        };
        return Ok(Leaf {
            entry,
            hashed: true,
            stat_row: None,
        });
    }
    // `row` was checked against this stat and the index by `cached_rows`; only a file
    // it does not vouch for needs its path (most of a large tree's files do not).
    let (rec, abs) = if let Cached::Vouched(rec) = row {
        (rec, None)
    } else {
        let abs = e.abs(root);
        let previous = match row {
            Cached::Was(id) if e.stat.size >= u64::from(engine.config.chunking.max) => {
                previous_chunks(engine, &id)
            }
            _ => None,
        };
        let cfg = engine.config.chunking;
        (ingest_file(pipe, &abs, cfg, previous.as_ref())?, Some(abs))
    };
    let hashed = abs.is_some();
    progress.advance(rec.size);
    let window = if rec.mtime_ns % 1_000_000_000 == 0 {
        RACY_WINDOW_COARSE_NS
    } else {
        RACY_WINDOW_NS
    };
    let racy = now_ns - rec.mtime_ns < window;
    let entry = TreeEntry {
        name,
        kind: EntryKind::File,
        executable: e.executable,
        size: rec.size,
        id: rec.id,
    };
    let stat_row = abs.map(|abs| {
        let row = if racy { rec.unvouched() } else { rec };
        (abs.to_string_lossy().into_owned(), row)
    });
    Ok(Leaf {
        entry,
        hashed,
        stat_row,
    })
}

/// Builds trees deepest first, so every directory's children have ids before it.
fn build_trees(
    pipe: &Pipeline,
    mut dirs: BTreeMap<&str, Vec<TreeEntry>>,
    trees: &mut HashMap<TreeId, Tree>,
) -> Result<TreeId> {
    let mut order: Vec<&str> = dirs.keys().copied().collect();
    order.sort_by_key(|d| std::cmp::Reverse(depth(d)));
    let mut root = None;
    for dir in order {
        let entries = dirs.remove(dir).expect("each directory is built once");
        let tree = Tree::from_entries(entries)?;
        let bytes = encode(&tree)?;
        let id = TreeId(Hash::of(&bytes));
        pipe.offer(ObjectKind::Tree, id.0, bytes)?;
        if dir.is_empty() {
            root = Some(id);
        } else {
            let (parent, name) = split_parent(dir);
            let entry = TreeEntry {
                name: name.to_owned(),
                kind: EntryKind::Dir,
                executable: false,
                size: tree.total_size(),
                id: id.0,
            };
            dirs.get_mut(parent)
                .expect("a directory's parent was walked")
                .push(entry);
        }
        trees.insert(id, tree);
    }
    Ok(root.expect("the walk always yields the root directory"))
}

fn depth(rel: &str) -> usize {
    if rel.is_empty() {
        0
    } else {
        rel.matches('/').count() + 1
    }
}

/// Splits `a/b/c` into (`a/b`, `c`); a top-level name has parent "".
#[must_use]
pub fn split_parent(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

fn now_ns() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use crate::engine::progress::NoProgress;
    use crate::{CheckpointOptions, RepoConfig, Repository};

    fn set_mtime(path: &std::path::Path, t: SystemTime) {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    /// The stat cache vouches only for files modified longer ago than their file
    /// system's clock tick: just written (with nanoseconds) or a whole second within
    /// the last two (a file system that keeps seconds) is hashed again next time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racily_clean_files_are_not_vouched_for() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init(tmp.path().join("repo"), RepoConfig::default())
            .await
            .unwrap();
        let dir = tmp.path().join("work");
        std::fs::create_dir(&dir).unwrap();
        for name in ["fresh", "settled", "whole-second", "old-whole-second"] {
            std::fs::write(dir.join(name), name).unwrap();
        }
        let now = SystemTime::now();
        // Modified as the scan starts (a slow machine could take 50 ms to get there).
        set_mtime(&dir.join("fresh"), now + Duration::from_secs(1));
        set_mtime(&dir.join("settled"), now - Duration::from_millis(300));
        let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        set_mtime(
            &dir.join("whole-second"),
            UNIX_EPOCH + Duration::from_secs(secs),
        );
        set_mtime(
            &dir.join("old-whole-second"),
            UNIX_EPOCH + Duration::from_secs(secs - 5),
        );
        repo.checkpoint(&dir, CheckpointOptions::default(), Arc::new(NoProgress))
            .await
            .unwrap();
        let snapshot = repo.engine().index.snapshot().unwrap();
        let row = |name: &str| {
            let key = dir.join(name).to_string_lossy().into_owned();
            snapshot.stat(&key).unwrap()
        };
        // A row vouches when its stat is the file's.
        let cached = |name: &str| {
            let meta = std::fs::symlink_metadata(dir.join(name)).unwrap();
            row(name).is_some_and(|r| r.same_stat(&crate::engine::ingest::stat_of(&meta)))
        };
        assert!(!cached("fresh"), "a file written just now is racily clean");
        // Its row still names its content, for the next version's chunker.
        assert_eq!(
            row("fresh").map(|r| r.id),
            Some(crate::hash::Hash::of(b"fresh"))
        );
        assert!(
            cached("settled"),
            "300 ms is past a fine-grained clock's tick"
        );
        assert!(
            !cached("whole-second"),
            "whole seconds may be a coarse clock's"
        );
        assert!(cached("old-whole-second"));
    }
}
