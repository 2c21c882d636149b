//! The stat cache's layout: one row per directory.
//!
//! A row per file keyed by its absolute path (`stat-cache-0`) cost about 180 bytes of
//! index a file (the path, 64 bytes of record, redb's per-entry overhead and half-full
//! pages): 5.3 MiB for the two work trees of `scripts/compare`'s 15,327-file workload,
//! 61 MiB for two of 200,000 files, more than the object index. Now the files of one
//! directory share a row (`stat-cache-1`), keyed by the directory's absolute path with
//! its trailing `/`; its value is the files in name order, each name front-coded
//! against the one before it, the numbers as postcard varints (the mtime fixed, the
//! ctime as its distance from the mtime), the content id whole.
//!
//! Rows are merged, never replaced wholesale: a write of some files of a directory
//! keeps the rest of its row. Lookups read a directory's row once for all the files
//! asked of it.

use std::collections::BTreeMap;
use std::sync::PoisonError;

use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::error::IndexError;
use super::objects::IndexSnapshot;
use super::records::StatRecord;
use super::tables::STAT_CACHE;
use crate::hash::Hash;

type Result<T, E = IndexError> = std::result::Result<T, E>;

/// A directory's rows: file name → record, sorted by name, names unique.
pub(super) type DirRows = Vec<(String, StatRecord)>;

/// One file of a row, as encoded.
#[derive(Serialize, Deserialize)]
struct Entry {
    /// Bytes of the name shared with the name before it.
    shared: u32,
    /// The rest of the name.
    rest: Vec<u8>,
    size: u64,
    #[serde(with = "postcard::fixint::le")]
    mtime_ns: i64,
    /// `ctime_ns - mtime_ns` (wrapping): zero or small for most files.
    ctime_after_mtime: i64,
    inode: u64,
    id: [u8; 32],
}

fn corrupt(bytes: &[u8]) -> IndexError {
    IndexError::Layout {
        table: "stat-cache",
        len: bytes.len(),
    }
}

/// Splits an absolute file path into its row's key (the directory, with its trailing
/// `/`) and the file's name.
pub(super) fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    }
}

/// Encodes a directory's rows (sorted by name, names unique).
pub(super) fn encode(rows: &[(String, StatRecord)]) -> Vec<u8> {
    let mut prev: &[u8] = &[];
    let entries: Vec<Entry> = rows
        .iter()
        .map(|(name, rec)| {
            let name = name.as_bytes();
            let shared = prev.iter().zip(name).take_while(|(a, b)| a == b).count();
            prev = name;
            Entry {
                shared: u32::try_from(shared).expect("a file name is shorter than 4 GiB"),
                rest: name[shared..].to_vec(),
                size: rec.size,
                mtime_ns: rec.mtime_ns,
                ctime_after_mtime: rec.ctime_ns.wrapping_sub(rec.mtime_ns),
                inode: rec.inode,
                id: *rec.id.as_bytes(),
            }
        })
        .collect();
    postcard::to_allocvec(&entries).expect("encoding into a vector cannot fail")
}

/// Decodes a row written by [`encode`].
pub(super) fn decode(bytes: &[u8]) -> Result<DirRows> {
    let entries: Vec<Entry> = postcard::from_bytes(bytes).map_err(|_| corrupt(bytes))?;
    let mut rows: DirRows = Vec::with_capacity(entries.len());
    let mut prev: &[u8] = &[];
    for e in entries {
        let shared = e.shared as usize;
        let Some(head) = prev.get(..shared) else {
            return Err(corrupt(bytes));
        };
        let mut name = head.to_vec();
        name.extend_from_slice(&e.rest);
        let name = String::from_utf8(name).map_err(|_| corrupt(bytes))?;
        let rec = StatRecord {
            size: e.size,
            mtime_ns: e.mtime_ns,
            ctime_ns: e.mtime_ns.wrapping_add(e.ctime_after_mtime),
            inode: e.inode,
            id: Hash::from_bytes(e.id),
        };
        rows.push((name, rec));
        prev = rows.last().map_or(&[], |(n, _)| n.as_bytes());
    }
    Ok(rows)
}

/// Writes the rows of absolute file paths, each merged into its directory's row.
pub(super) fn put(table: &mut Table<&str, &[u8]>, rows: &[(String, StatRecord)]) -> Result<()> {
    let mut by_dir: BTreeMap<&str, Vec<(&str, StatRecord)>> = BTreeMap::new();
    for (path, rec) in rows {
        let (dir, name) = split(path);
        by_dir.entry(dir).or_default().push((name, *rec));
    }
    for (dir, new) in by_dir {
        let old = table.get(dir)?.map(|v| decode(v.value())).transpose()?;
        let mut merged: BTreeMap<String, StatRecord> =
            old.unwrap_or_default().into_iter().collect();
        for (name, rec) in new {
            merged.insert(name.to_owned(), rec);
        }
        let merged: DirRows = merged.into_iter().collect();
        table.insert(dir, encode(&merged).as_slice())?;
    }
    Ok(())
}

/// Drops every file whose record `goes` says so; rows left empty go too.
pub(super) fn retain(
    table: &mut Table<&str, &[u8]>,
    mut goes: impl FnMut(&StatRecord) -> Result<bool>,
) -> Result<()> {
    let mut changed: Vec<(String, DirRows)> = Vec::new();
    for row in table.iter()? {
        let (dir, v) = row?;
        let rows = decode(v.value())?;
        let before = rows.len();
        let mut kept = Vec::with_capacity(before);
        for (name, rec) in rows {
            if !goes(&rec)? {
                kept.push((name, rec));
            }
        }
        if kept.len() != before {
            changed.push((dir.value().to_owned(), kept));
        }
    }
    for (dir, rows) in changed {
        if rows.is_empty() {
            table.remove(dir.as_str())?;
        } else {
            table.insert(dir.as_str(), encode(&rows).as_slice())?;
        }
    }
    Ok(())
}

impl super::Index {
    /// Drops the rows of directories that are no longer there (deleted work trees and
    /// restore targets, removed subdirectories): a row is written for every directory a
    /// checkpoint or restore touched and nothing else ever removes it. A directory that
    /// cannot be checked for another reason keeps its row. Returns how many went. The
    /// rows are a cache: one dropped for a directory made again only costs a read of
    /// its files.
    pub fn drop_stat_rows_of_missing_dirs(&self) -> Result<u64> {
        let gone: Vec<String> = {
            let txn = self.begin_read()?;
            let table = txn.open_table(STAT_CACHE)?;
            let mut gone = Vec::new();
            for row in table.iter()? {
                let dir = row?.0.value().to_owned();
                let missing = match std::fs::symlink_metadata(&dir) {
                    Ok(meta) => !meta.is_dir(),
                    Err(e) => matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                    ),
                };
                if missing {
                    gone.push(dir);
                }
            }
            gone
        };
        if gone.is_empty() {
            return Ok(0);
        }
        self.write(|txn| {
            let mut table = txn.open_table(STAT_CACHE)?;
            for dir in &gone {
                table.remove(dir.as_str())?;
            }
            Ok(gone.len() as u64)
        })
    }
}

impl IndexSnapshot {
    /// The stat cache rows of absolute file paths, in their order: each directory's
    /// row is read once for all the paths in it.
    pub fn stats_of(&self, paths: &[&str]) -> Result<Vec<Option<StatRecord>>> {
        let mut order: Vec<(&str, &str, usize)> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (dir, name) = split(p);
                (dir, name, i)
            })
            .collect();
        order.sort_unstable();
        let mut out = vec![None; paths.len()];
        for group in order.chunk_by(|a, b| a.0 == b.0) {
            let rows = self.dir_rows(group[0].0)?;
            let mut r = 0;
            for &(_, name, i) in group {
                while rows.get(r).is_some_and(|(n, _)| n.as_str() < name) {
                    r += 1;
                }
                out[i] = rows.get(r).filter(|(n, _)| n == name).map(|(_, rec)| *rec);
            }
        }
        Ok(out)
    }

    /// The stat cache row of an absolute file path. The last directory read is kept,
    /// so asking for many files of one directory reads its row once.
    pub fn stat(&self, path: &str) -> Result<Option<StatRecord>> {
        let (dir, name) = split(path);
        let mut last = self.last_dir.lock().unwrap_or_else(PoisonError::into_inner);
        let rows = match &*last {
            Some((d, rows)) if d == dir => rows,
            _ => &last.insert((dir.to_owned(), self.dir_rows(dir)?)).1,
        };
        Ok(rows
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| rows[i].1))
    }

    fn dir_rows(&self, dir: &str) -> Result<DirRows> {
        Ok(self
            .stats
            .get(dir)?
            .map(|v| decode(v.value()))
            .transpose()?
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use redb::{ReadableTableMetadata, TableHandle};

    use super::*;
    use crate::index::Index;

    fn rec(n: u64) -> StatRecord {
        StatRecord {
            size: n,
            mtime_ns: 1_764_000_000_000_000_000 + n.cast_signed(),
            ctime_ns: 1_764_000_000_000_000_000 - 7,
            inode: 1000 + n,
            id: Hash::of(&n.to_le_bytes()),
        }
    }

    /// Rows come back exactly as written, names front-coded (shared prefixes, names
    /// that are prefixes of others, multi-byte characters split by the prefix).
    #[test]
    fn a_row_decodes_to_what_was_encoded() {
        let mut rows: DirRows = ["a", "ab", "abc", "abd", "b", "é1", "é2", "ê", "z"]
            .iter()
            .enumerate()
            .map(|(i, n)| ((*n).to_owned(), rec(i as u64)))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let bytes = encode(&rows);
        assert_eq!(decode(&bytes).unwrap(), rows);
        assert!(
            decode(&bytes[..bytes.len() - 1]).is_err(),
            "a cut row decodes"
        );
    }

    /// Writes merge into a directory's row; lookups one by one and many at once find
    /// every file and nothing else; a purge drops what it names and empty rows.
    #[test]
    fn rows_merge_by_directory_and_are_found_again() {
        let index = Index::in_memory().unwrap();
        let first: Vec<(String, StatRecord)> = (0..300)
            .map(|i| (format!("/w/src/f{i:03}.tsx"), rec(i)))
            .chain([("/w/src.tsx".to_owned(), rec(900))])
            .chain([("/w/src/sub/x".to_owned(), rec(901))])
            .collect();
        index.record_stats(&first).unwrap();
        index
            .record_stats(&[("/w/src/f007.tsx".to_owned(), rec(7000))])
            .unwrap();
        let snap = index.snapshot().unwrap();
        assert_eq!(snap.stat("/w/src/f006.tsx").unwrap(), Some(rec(6)));
        assert_eq!(snap.stat("/w/src/f007.tsx").unwrap(), Some(rec(7000)));
        assert_eq!(snap.stat("/w/src/f300.tsx").unwrap(), None);
        assert_eq!(snap.stat("/w/src.tsx").unwrap(), Some(rec(900)));
        let paths = [
            "/w/src/sub/x",
            "/w/src/f299.tsx",
            "/w/nope",
            "/w/src.tsx",
            "/w/src/f000.tsx",
        ];
        let want = [
            Some(rec(901)),
            Some(rec(299)),
            None,
            Some(rec(900)),
            Some(rec(0)),
        ];
        assert_eq!(snap.stats_of(&paths).unwrap(), want);
        drop(snap);
        let gone = [rec(901).id, rec(3).id];
        index
            .write(|txn| {
                let mut t = txn.open_table(super::super::tables::STAT_CACHE)?;
                retain(&mut t, |r| Ok(gone.contains(&r.id)))
            })
            .unwrap();
        let snap = index.snapshot().unwrap();
        assert_eq!(snap.stat("/w/src/f003.tsx").unwrap(), None);
        assert_eq!(snap.stat("/w/src/f004.tsx").unwrap(), Some(rec(4)));
        assert_eq!(snap.stat("/w/src/sub/x").unwrap(), None);
        assert_eq!(snap.stats.len().unwrap(), 2, "the emptied row went");
    }

    /// An index from before `stat-cache-1` loses its per-file rows when opened: none
    /// of them is ever read as a directory's row.
    #[test]
    fn opening_an_older_index_drops_its_per_file_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        let index = Index::create(&path, b"test").unwrap();
        index
            .write(|txn| {
                let mut old = txn.open_table(super::super::tables::STAT_CACHE_0)?;
                old.insert("/w/a", [0u8; 64].as_slice())?;
                Ok::<_, IndexError>(())
            })
            .unwrap();
        let names = |index: &Index| -> Vec<String> {
            let txn = index.begin_read().unwrap();
            txn.list_tables()
                .unwrap()
                .map(|t| t.name().to_owned())
                .collect()
        };
        assert!(names(&index).contains(&"stat-cache-0".to_owned()));
        drop(index);
        let index = Index::open(&path).unwrap();
        assert!(!names(&index).contains(&"stat-cache-0".to_owned()));
        assert_eq!(index.snapshot().unwrap().stat("/w/a").unwrap(), None);
    }

    /// gc's pass drops the rows of directories gone from disk (or no longer
    /// directories) and keeps the others.
    #[test]
    fn rows_of_directories_no_longer_there_are_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_string_lossy().into_owned();
        for d in ["kept", "gone", "now-a-file"] {
            std::fs::create_dir(tmp.path().join(d)).unwrap();
        }
        let index = Index::in_memory().unwrap();
        let rows: Vec<(String, StatRecord)> = ["kept", "gone", "now-a-file"]
            .iter()
            .map(|d| (format!("{root}/{d}/f"), rec(1)))
            .collect();
        index.record_stats(&rows).unwrap();
        std::fs::remove_dir(tmp.path().join("gone")).unwrap();
        std::fs::remove_dir(tmp.path().join("now-a-file")).unwrap();
        std::fs::write(tmp.path().join("now-a-file"), b"x").unwrap();
        assert_eq!(index.drop_stat_rows_of_missing_dirs().unwrap(), 2);
        let snap = index.snapshot().unwrap();
        assert_eq!(snap.stat(&rows[0].0).unwrap(), Some(rec(1)));
        assert_eq!(snap.stats.len().unwrap(), 1);
        assert_eq!(index.drop_stat_rows_of_missing_dirs().unwrap(), 0);
    }
}
