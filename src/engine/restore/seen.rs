//! What the scan saw of each file a restore replaces, so that the moment the restore
//! swaps its version in it can tell whether the user changed the file since: the scan
//! and the swap can be seconds apart in a large restore, and an edit saved between them
//! would otherwise be thrown away unseen.

use std::collections::HashMap;
use std::path::Path;

use super::plan::Step;
use crate::error::Result;
use crate::index::{IndexSnapshot, StatRecord};
use crate::object::EntryKind;

/// The stat each replaced file had when the scan looked, by relative path.
#[derive(Debug, Default)]
pub struct Seen(HashMap<String, StatRecord>);

impl Seen {
    /// The stats of the files `steps` replace with a file, below `root`: from `scanned`
    /// (the rows of the files the scan read, by absolute path) or else from the stat
    /// cache, whose row the scan found equal to the file's stat when it vouched for it.
    pub fn collect(
        snapshot: &IndexSnapshot,
        root: &Path,
        steps: &[Step],
        scanned: &[(String, StatRecord)],
    ) -> Result<Seen> {
        // Relative path by absolute path, for the files replaced by a file.
        let replaced: HashMap<String, &str> = steps
            .iter()
            .filter(|s| s.cur.as_ref().is_some_and(|c| c.kind == EntryKind::File))
            .filter(|s| s.want.as_ref().is_some_and(|w| w.kind == EntryKind::File))
            .map(|s| {
                (
                    root.join(&s.path).to_string_lossy().into_owned(),
                    s.path.as_str(),
                )
            })
            .collect();
        let mut out = HashMap::with_capacity(replaced.len());
        if replaced.is_empty() {
            return Ok(Seen(out));
        }
        for (abs, rec) in scanned {
            if let Some(rel) = replaced.get(abs) {
                out.insert((*rel).to_owned(), *rec);
            }
        }
        let rest: Vec<(&str, &str)> = replaced
            .iter()
            .filter(|(_, rel)| !out.contains_key(**rel))
            .map(|(abs, rel)| (abs.as_str(), *rel))
            .collect();
        let abs: Vec<&str> = rest.iter().map(|(abs, _)| *abs).collect();
        for ((_, rel), rec) in rest.iter().zip(snapshot.stats_of(&abs)?) {
            if let Some(rec) = rec {
                out.insert((*rel).to_owned(), rec);
            }
        }
        Ok(Seen(out))
    }

    /// What the scan saw at `rel`, if it replaces a file.
    #[must_use]
    pub fn get(&self, rel: &str) -> Option<&StatRecord> {
        self.0.get(rel)
    }
}

/// Whether `now` is still the file the scan saw as `seen`: the same inode, modification
/// time and size (a row too recent to vouch for its file keeps no size). The change
/// time is not compared: moving a file, as the swap does, sets it.
#[must_use]
pub fn unchanged(seen: &StatRecord, now: &std::fs::Metadata) -> bool {
    let now = crate::engine::ingest::stat_of(now);
    let size_known = seen.size != u64::MAX;
    now.inode == seen.inode
        && now.mtime_ns == seen.mtime_ns
        && (!size_known || now.size == seen.size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ingest::stat_of;

    /// The file the scan saw is recognised by inode, mtime and size; a new mtime, a new
    /// inode or a new size is another file, and a row without a size (too recent to
    /// vouch) is judged by the rest.
    #[test]
    fn a_file_is_the_one_seen_until_its_inode_mtime_or_size_moves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        std::fs::write(&path, b"one").unwrap();
        let meta = || std::fs::symlink_metadata(&path).unwrap();
        let seen = stat_of(&meta());
        assert!(unchanged(&seen, &meta()));
        let moved = |f: fn(&mut StatRecord)| {
            let mut other = seen;
            f(&mut other);
            unchanged(&other, &meta())
        };
        assert!(!moved(|r| r.mtime_ns += 1));
        assert!(!moved(|r| r.inode += 1));
        assert!(!moved(|r| r.size += 1));
        assert!(moved(|r| r.ctime_ns += 1), "the swap sets the ctime");
        assert!(unchanged(&seen.unvouched(), &meta()));
        let mut unvouched_elsewhere = seen.unvouched();
        unvouched_elsewhere.mtime_ns += 1;
        assert!(!unchanged(&unvouched_elsewhere, &meta()));
    }
}
