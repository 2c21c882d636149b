//! The stat cache's layout: the files of a directory in rows of about a kilobyte.
//!
//! A row per file keyed by its absolute path (`stat-cache-0`) cost about 180 bytes of
//! index a file (the path, 64 bytes of record, redb's per-entry overhead and half-full
//! pages): 5.3 MiB for the two work trees of `scripts/compare`'s 15,327-file workload,
//! 61 MiB for two of 200,000 files, more than the object index. One row per directory
//! (`stat-cache-1`) made that 2.5 MiB, of which 0.9 MiB was the unused part of pages:
//! a row of 50 files is 2.7 KB, and a 4 KiB page holds one. Now (`stat-cache-2`) a
//! directory's files are cut into pieces of about [`PIECE_BYTES`], so three or four
//! share a page: 1.7 MiB for the same work trees.
//!
//! A piece is keyed by the directory's absolute path with its trailing `/`, a NUL (no
//! file name holds one, so a directory's pieces sort together and before its
//! subdirectories) and a name no greater than the piece's first file and greater than
//! the files of the piece before it. Its value is its files in name order, each name
//! front-coded against the one before it, the numbers as postcard varints: the mtime
//! as its distance from the mtime before it, the ctime as its distance from the mtime,
//! the inode as its distance from the inode before it (files written one after another
//! have near times and inodes), the content id whole.
//!
//! A write of some files of a directory reads its pieces, merges and cuts them again,
//! keeping the rest. Lookups read a directory's pieces once for all the files asked
//! of it.

use std::collections::BTreeMap;
use std::sync::PoisonError;

use redb::{ReadableTable, ReadableTableMetadata, Table};
use serde::{Deserialize, Serialize};

use super::error::IndexError;
use super::objects::IndexSnapshot;
use super::records::StatRecord;
use super::tables::STAT_CACHE;
use crate::hash::Hash;

type Result<T, E = IndexError> = std::result::Result<T, E>;

/// A directory's rows: file name → record, sorted by name, names unique.
pub(super) type DirRows = Vec<(String, StatRecord)>;

/// About how many bytes of files a piece holds before the next begins: small enough
/// that three share a 4 KiB page, large enough that the key repeated per piece costs
/// little.
pub(super) const PIECE_BYTES: usize = 1_200;

/// One file of a piece, as encoded.
#[derive(Serialize, Deserialize)]
struct Entry {
    /// Bytes of the name shared with the name before it.
    shared: u32,
    /// The rest of the name.
    rest: Vec<u8>,
    size: u64,
    /// `mtime_ns` less the mtime of the file before it (zero before the first), wrapping.
    mtime_step: i64,
    /// `ctime_ns - mtime_ns` (wrapping): zero or small for most files.
    ctime_after_mtime: i64,
    /// The inode less the inode of the file before it (zero before the first), wrapping.
    inode_step: i64,
    id: [u8; 32],
}

fn corrupt(bytes: &[u8]) -> IndexError {
    IndexError::Layout {
        table: "stat-cache",
        len: bytes.len(),
    }
}

/// Splits an absolute file path into its directory (with its trailing `/`) and the
/// file's name.
pub(super) fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    }
}

/// The key of the piece of `dir` that begins at `first`.
fn key(dir: &str, first: &str) -> String {
    format!("{dir}\0{first}")
}

/// The directory a piece's key belongs to (`None`: not a key of this layout).
pub(super) fn dir_of(key: &str) -> Option<&str> {
    key.find('\0').map(|i| &key[..i])
}

/// The range of keys holding `dir`'s pieces.
fn range_of(dir: &str) -> (String, String) {
    (format!("{dir}\0"), format!("{dir}\u{1}"))
}

/// Encodes one piece: files sorted by name, names unique.
pub(super) fn encode(rows: &[(String, StatRecord)]) -> Vec<u8> {
    let mut prev: (&[u8], i64, u64) = (&[], 0, 0);
    let entries: Vec<Entry> = rows
        .iter()
        .map(|(name, rec)| {
            let name = name.as_bytes();
            let shared = prev.0.iter().zip(name).take_while(|(a, b)| a == b).count();
            let entry = Entry {
                shared: u32::try_from(shared).expect("a file name is shorter than 4 GiB"),
                rest: name[shared..].to_vec(),
                size: rec.size,
                mtime_step: rec.mtime_ns.wrapping_sub(prev.1),
                ctime_after_mtime: rec.ctime_ns.wrapping_sub(rec.mtime_ns),
                inode_step: rec.inode.wrapping_sub(prev.2).cast_signed(),
                id: *rec.id.as_bytes(),
            };
            prev = (name, rec.mtime_ns, rec.inode);
            entry
        })
        .collect();
    postcard::to_allocvec(&entries).expect("encoding into a vector cannot fail")
}

/// Decodes a piece written by [`encode`].
pub(super) fn decode(bytes: &[u8]) -> Result<DirRows> {
    let entries: Vec<Entry> = postcard::from_bytes(bytes).map_err(|_| corrupt(bytes))?;
    let mut rows: DirRows = Vec::with_capacity(entries.len());
    let (mut mtime, mut inode) = (0i64, 0u64);
    for e in entries {
        let prev = rows.last().map_or(&[][..], |(n, _)| n.as_bytes());
        let Some(head) = prev.get(..e.shared as usize) else {
            return Err(corrupt(bytes));
        };
        let mut name = head.to_vec();
        name.extend_from_slice(&e.rest);
        let name = String::from_utf8(name).map_err(|_| corrupt(bytes))?;
        mtime = mtime.wrapping_add(e.mtime_step);
        inode = inode.wrapping_add(e.inode_step.cast_unsigned());
        let rec = StatRecord {
            size: e.size,
            mtime_ns: mtime,
            ctime_ns: mtime.wrapping_add(e.ctime_after_mtime),
            inode,
            id: Hash::from_bytes(e.id),
        };
        rows.push((name, rec));
    }
    Ok(rows)
}

/// Cuts a directory's rows into pieces of about [`PIECE_BYTES`]: (first name, bytes).
pub(super) fn pieces(rows: &[(String, StatRecord)]) -> Vec<(&str, Vec<u8>)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, (name, _)) in rows.iter().enumerate() {
        // A file costs its name and about 50 bytes of numbers and id.
        bytes += name.len() + 50;
        if bytes >= PIECE_BYTES || i + 1 == rows.len() {
            out.push((rows[start].0.as_str(), encode(&rows[start..=i])));
            start = i + 1;
            bytes = 0;
        }
    }
    out
}

/// The rows of `dir`, its pieces read in key order.
pub(super) fn read_dir(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    dir: &str,
) -> Result<DirRows> {
    let (from, to) = range_of(dir);
    let mut rows = DirRows::new();
    for piece in table.range(from.as_str()..to.as_str())? {
        rows.extend(decode(piece?.1.value())?);
    }
    Ok(rows)
}

/// Replaces the pieces of `dir` with `rows` (none: the directory's rows go).
fn write_dir(
    table: &mut Table<&str, &[u8]>,
    dir: &str,
    rows: &[(String, StatRecord)],
) -> Result<()> {
    let (from, to) = range_of(dir);
    table.retain_in(from.as_str()..to.as_str(), |_, _| false)?;
    for (first, bytes) in pieces(rows) {
        table.insert(key(dir, first).as_str(), bytes.as_slice())?;
    }
    Ok(())
}

/// Writes the rows of absolute file paths, each merged into its directory's rows.
pub(super) fn put(table: &mut Table<&str, &[u8]>, rows: &[(String, StatRecord)]) -> Result<()> {
    let mut by_dir: BTreeMap<&str, Vec<(&str, StatRecord)>> = BTreeMap::new();
    for (path, rec) in rows {
        let (dir, name) = split(path);
        by_dir.entry(dir).or_default().push((name, *rec));
    }
    for (dir, new) in by_dir {
        let mut merged: BTreeMap<String, StatRecord> = read_dir(table, dir)?.into_iter().collect();
        for (name, rec) in new {
            merged.insert(name.to_owned(), rec);
        }
        let merged: DirRows = merged.into_iter().collect();
        write_dir(table, dir, &merged)?;
    }
    Ok(())
}

/// Drops every file whose record `goes` says so; pieces left empty go too. A piece
/// keeps its key: it is still no greater than its first file.
pub(super) fn retain(
    table: &mut Table<&str, &[u8]>,
    mut goes: impl FnMut(&StatRecord) -> Result<bool>,
) -> Result<()> {
    let mut changed: Vec<(String, DirRows)> = Vec::new();
    for row in table.iter()? {
        let (key, v) = row?;
        let rows = decode(v.value())?;
        let before = rows.len();
        let mut kept = Vec::with_capacity(before);
        for (name, rec) in rows {
            if !goes(&rec)? {
                kept.push((name, rec));
            }
        }
        if kept.len() != before {
            changed.push((key.value().to_owned(), kept));
        }
    }
    for (key, rows) in changed {
        if rows.is_empty() {
            table.remove(key.as_str())?;
        } else {
            table.insert(key.as_str(), encode(&rows).as_slice())?;
        }
    }
    Ok(())
}

impl super::Index {
    /// Rewrites the stat cache in key order when its pages are sparse
    /// (`super::objects::sparse`); returns whether it did. Directories are written in
    /// the order checkpoints and restores reach them, and the leaves they split stay
    /// partly empty: after the comparison's checkpoints and restores, its 1.4 MiB of
    /// rows took 2.1 MiB. One write transaction: readers see the table before or after.
    pub fn tighten_stats(&self) -> Result<bool> {
        if !super::objects::sparse(&self.begin_read()?.open_table(STAT_CACHE)?.stats()?) {
            return Ok(false);
        }
        self.write(|txn| {
            let mut rows: Vec<(String, Vec<u8>)> = Vec::new();
            for row in txn.open_table(STAT_CACHE)?.iter()? {
                let (k, v) = row?;
                rows.push((k.value().to_owned(), v.value().to_vec()));
            }
            txn.delete_table(STAT_CACHE)?;
            let mut table = txn.open_table(STAT_CACHE)?;
            for (k, v) in &rows {
                table.insert(k.as_str(), v.as_slice())?;
            }
            Ok(true)
        })
    }

    /// Drops the rows of directories that are no longer there (deleted work trees and
    /// restore targets, removed subdirectories): rows are written for every directory a
    /// checkpoint or restore touched and nothing else ever removes them. A directory
    /// that cannot be checked for another reason keeps its rows. Returns how many
    /// directories went. The rows are a cache: those dropped for a directory made again
    /// only cost a read of its files.
    pub fn drop_stat_rows_of_missing_dirs(&self) -> Result<u64> {
        let gone: Vec<String> = {
            let txn = self.begin_read()?;
            let table = txn.open_table(STAT_CACHE)?;
            let mut gone: Vec<String> = Vec::new();
            let mut last: Option<String> = None;
            for row in table.iter()? {
                let row = row?;
                let Some(dir) = dir_of(row.0.value()) else {
                    continue;
                };
                if last.as_deref() == Some(dir) {
                    continue;
                }
                last = Some(dir.to_owned());
                let missing = match std::fs::symlink_metadata(dir) {
                    Ok(meta) => !meta.is_dir(),
                    Err(e) => matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                    ),
                };
                if missing {
                    gone.push(dir.to_owned());
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
                write_dir(&mut table, dir, &[])?;
            }
            Ok(gone.len() as u64)
        })
    }
}

impl IndexSnapshot {
    /// The stat cache rows of absolute file paths, in their order: each directory's
    /// rows are read once for all the paths in it.
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
            let rows = read_dir(&self.stats, group[0].0)?;
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
    /// so asking for many files of one directory reads its rows once.
    pub fn stat(&self, path: &str) -> Result<Option<StatRecord>> {
        let (dir, name) = split(path);
        let mut last = self.last_dir.lock().unwrap_or_else(PoisonError::into_inner);
        let rows = match &*last {
            Some((d, rows)) if d == dir => rows,
            _ => &last.insert((dir.to_owned(), read_dir(&self.stats, dir)?)).1,
        };
        Ok(rows
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| rows[i].1))
    }
}

#[cfg(test)]
#[path = "stat_dirs_tests.rs"]
pub(super) mod tests;
