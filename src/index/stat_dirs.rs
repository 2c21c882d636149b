//! The stat cache's layout: every work tree's files in one sorted stream, cut into
//! pieces that two to a page fill redb's 4 KiB leaves.
//!
//! A row per file keyed by its absolute path (`stat-cache-0`) cost about 180 bytes of
//! index a file (the path, 64 bytes of record, redb's per-entry overhead and half-full
//! pages): 5.3 MiB for the two work trees of `scripts/compare`'s 15,327-file workload,
//! 61 MiB for two of 200,000 files, more than the object index. One row per directory
//! (`stat-cache-1`) made that 2.5 MiB, of which 0.9 MiB was the unused part of pages.
//! Pieces of about 1,200 bytes of one directory's files (`stat-cache-2`) made it
//! 1.7–1.9 MiB, of which 0.3–0.5 MiB was still unused: redb splits a full leaf where its
//! bytes are halved, and a 50-file package cut into pieces of about a kilobyte and a
//! short last one left leaves that a key-order write never filled (an estimate from
//! that rule and the pieces' sizes, not measured leaf by leaf).
//!
//! Now (`stat-cache-3`) a file's key is its directory's absolute path with its trailing
//! `/`, a NUL and its name (no file name holds one, so a directory's files sort
//! together and before its subdirectories'), and the files of all directories in key
//! order are cut into pieces of at most [`PIECE_SHARE`] bytes with their key, which is
//! the key of their first file. A leaf holds two; when a write in key order (what a
//! checkpoint or a restore does) overfills one, the split keeps two full pieces on the
//! left. A piece's value is its files in key order, each key front-coded against the
//! one before it (the first against the piece's key), the numbers as postcard varints:
//! the mtime as its distance from the mtime before it, the ctime as its distance from
//! the mtime, the inode as its distance from the inode before it (files written one
//! after another have near times and inodes), the content id whole.
//!
//! A directory's files are in the piece before the keys of its directory (whose last
//! files may be its first) and the pieces keyed within them. A write of some files of
//! a directory reads those pieces, merges and cuts them again, keeping the rest; lookups
//! read a directory's pieces once for all the files asked of it.

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

/// Files by key (directory, NUL, name), sorted, keys unique.
pub(super) type KeyRows = Vec<(String, StatRecord)>;

/// The most bytes a piece and its key take: two fill a 4 KiB leaf (4 bytes of header
/// and 8 a pair besides). A file whose key alone is longer gets a piece of its own.
pub(super) const PIECE_SHARE: usize = 2_030;

/// One file of a piece, as encoded (`stat-cache-2`'s too, whose names stand where the
/// keys do).
#[derive(Serialize, Deserialize)]
pub(super) struct Entry {
    /// Bytes of the key shared with the key before it (the piece's for the first).
    shared: u32,
    /// The rest of the key.
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

impl Entry {
    /// `rec` under `key`, after the file `prev` (its key, mtime and inode).
    pub(super) fn new(prev: (&[u8], i64, u64), key: &[u8], rec: &StatRecord) -> Entry {
        let shared = prev.0.iter().zip(key).take_while(|(a, b)| a == b).count();
        Entry {
            shared: u32::try_from(shared).expect("a path is shorter than 4 GiB"),
            rest: key[shared..].to_vec(),
            size: rec.size,
            mtime_step: rec.mtime_ns.wrapping_sub(prev.1),
            ctime_after_mtime: rec.ctime_ns.wrapping_sub(rec.mtime_ns),
            inode_step: rec.inode.wrapping_sub(prev.2).cast_signed(),
            id: *rec.id.as_bytes(),
        }
    }
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

/// The key of file `name` of `dir`.
fn key(dir: &str, name: &str) -> String {
    format!("{dir}\0{name}")
}

/// The directory and name of a key (`None`: not a key of this layout).
pub(super) fn split_key(key: &str) -> Option<(&str, &str)> {
    key.find('\0').map(|i| (&key[..i], &key[i + 1..]))
}

/// The range of keys holding `dir`'s files.
fn range_of(dir: &str) -> (String, String) {
    (format!("{dir}\0"), format!("{dir}\u{1}"))
}

/// Encodes the piece keyed `key` of `rows` (sorted by key, none less than `key`).
pub(super) fn encode(key: &str, rows: &[(String, StatRecord)]) -> Vec<u8> {
    let mut prev: (&[u8], i64, u64) = (key.as_bytes(), 0, 0);
    let entries: Vec<Entry> = rows
        .iter()
        .map(|(k, rec)| {
            let entry = Entry::new(prev, k.as_bytes(), rec);
            prev = (k.as_bytes(), rec.mtime_ns, rec.inode);
            entry
        })
        .collect();
    postcard::to_allocvec(&entries).expect("encoding into a vector cannot fail")
}

/// Decodes the piece keyed `key` written by [`encode`]: its files by key, each greater
/// than the one before and none less than `key`.
pub(super) fn decode(key: &str, bytes: &[u8]) -> Result<KeyRows> {
    let rows = decode_entries(key.as_bytes(), bytes).ok_or_else(|| corrupt(bytes))?;
    let mut prev = key;
    for (i, (k, _)) in rows.iter().enumerate() {
        if (i > 0 && k.as_str() <= prev) || k.as_str() < prev || split_key(k).is_none() {
            return Err(corrupt(bytes));
        }
        prev = k;
    }
    Ok(rows)
}

/// Decodes entries front-coded from `first` (what the first is coded against): each
/// key (or name) with its record, in order; `None` when they do not decode.
pub(super) fn decode_entries(first: &[u8], bytes: &[u8]) -> Option<KeyRows> {
    let entries: Vec<Entry> = postcard::from_bytes(bytes).ok()?;
    let mut rows: KeyRows = Vec::with_capacity(entries.len());
    let (mut mtime, mut inode) = (0i64, 0u64);
    for e in entries {
        let prev = rows.last().map_or(first, |(k, _)| k.as_bytes());
        let mut k = prev.get(..e.shared as usize)?.to_vec();
        k.extend_from_slice(&e.rest);
        mtime = mtime.wrapping_add(e.mtime_step);
        inode = inode.wrapping_add(e.inode_step.cast_unsigned());
        let rec = StatRecord {
            size: e.size,
            mtime_ns: mtime,
            ctime_ns: mtime.wrapping_add(e.ctime_after_mtime),
            inode,
            id: Hash::from_bytes(e.id),
        };
        rows.push((String::from_utf8(k).ok()?, rec));
    }
    Some(rows)
}

/// Cuts files (sorted by key) into pieces of at most [`PIECE_SHARE`] bytes with their
/// key: (key, value), the key being the first file's.
pub(super) fn pieces(rows: &[(String, StatRecord)]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let first = rows[start].0.as_str();
        // The value's bytes: the count's varint (at most 3 here) and the entries.
        let mut len = 3;
        let mut end = start;
        let mut prev: (&[u8], i64, u64) = (first.as_bytes(), 0, 0);
        while let Some((k, rec)) = rows.get(end) {
            let entry = Entry::new(prev, k.as_bytes(), rec);
            let n = postcard::experimental::serialized_size(&entry).expect("an entry encodes");
            if end > start && first.len() + len + n > PIECE_SHARE {
                break;
            }
            len += n;
            prev = (k.as_bytes(), rec.mtime_ns, rec.inode);
            end += 1;
        }
        out.push((first.to_owned(), encode(first, &rows[start..end])));
        start = end;
    }
    out
}

/// The pieces that may hold `dir`'s files: the piece before its keys (whose last files
/// may be its first) and those keyed within them, in key order, (key, files).
fn pieces_of(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    dir: &str,
) -> Result<Vec<(String, KeyRows)>> {
    let (from, to) = range_of(dir);
    let mut out = Vec::new();
    if let Some(before) = table.range::<&str>(..from.as_str())?.next_back() {
        let (k, v) = before?;
        out.push((k.value().to_owned(), decode(k.value(), v.value())?));
    }
    for piece in table.range(from.as_str()..to.as_str())? {
        let (k, v) = piece?;
        out.push((k.value().to_owned(), decode(k.value(), v.value())?));
    }
    Ok(out)
}

/// The rows of `dir`, by name.
pub(super) fn read_dir(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    dir: &str,
) -> Result<DirRows> {
    let mut rows = DirRows::new();
    for (_, files) in pieces_of(table, dir)? {
        rows.extend(
            files
                .into_iter()
                .filter_map(|(k, rec)| match split_key(&k) {
                    Some((d, name)) if d == dir => Some((name.to_owned(), rec)),
                    _ => None,
                }),
        );
    }
    Ok(rows)
}

/// Rewrites the files of `dir` with what `change` makes of them (by name): the pieces
/// that held them are cut again with the files of other directories they held, and
/// only the pieces that changed are written.
fn rewrite_dir(
    table: &mut Table<&str, &[u8]>,
    dir: &str,
    change: impl FnOnce(DirRows) -> DirRows,
) -> Result<()> {
    let old = pieces_of(table, dir)?;
    let (from, to) = range_of(dir);
    let (mut before, mut mine, mut after) = (KeyRows::new(), DirRows::new(), KeyRows::new());
    for (k, rec) in old.iter().flat_map(|(_, files)| files.iter().cloned()) {
        if k < from {
            before.push((k, rec));
        } else if k < to {
            let name = k[from.len()..].to_owned();
            mine.push((name, rec));
        } else {
            after.push((k, rec));
        }
    }
    let mut files = before;
    files.extend(
        change(mine)
            .into_iter()
            .map(|(name, rec)| (key(dir, &name), rec)),
    );
    files.extend(after);
    let old: BTreeMap<String, Vec<u8>> = old
        .into_iter()
        .map(|(k, files)| {
            let bytes = encode(&k, &files);
            (k, bytes)
        })
        .collect();
    let new: BTreeMap<String, Vec<u8>> = pieces(&files).into_iter().collect();
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        table.remove(k.as_str())?;
    }
    for (k, bytes) in &new {
        if old.get(k) != Some(bytes) {
            table.insert(k.as_str(), bytes.as_slice())?;
        }
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
        rewrite_dir(table, dir, |old| {
            let mut merged: BTreeMap<String, StatRecord> = old.into_iter().collect();
            for (name, rec) in new {
                merged.insert(name.to_owned(), rec);
            }
            merged.into_iter().collect()
        })?;
    }
    Ok(())
}

/// Drops every file whose record `goes` says so; pieces left empty go too. A piece
/// keeps its key: it is still no greater than its first file.
pub(super) fn retain(
    table: &mut Table<&str, &[u8]>,
    mut goes: impl FnMut(&StatRecord) -> Result<bool>,
) -> Result<()> {
    let mut changed: Vec<(String, KeyRows)> = Vec::new();
    for row in table.iter()? {
        let (key, v) = row?;
        let rows = decode(key.value(), v.value())?;
        let before = rows.len();
        let mut kept = Vec::with_capacity(before);
        for (k, rec) in rows {
            if !goes(&rec)? {
                kept.push((k, rec));
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
            table.insert(key.as_str(), encode(&key, &rows).as_slice())?;
        }
    }
    Ok(())
}

impl super::Index {
    /// Cuts the stat cache again in key order when a tenth of its pages is unused;
    /// returns whether it did. Pieces cut in key order fill 95% of their leaves (two
    /// to a page), but writes since reach directories in the order checkpoints and
    /// restores do, and leaves they split stay part empty: after the comparison's
    /// checkpoints and restores, 1.5 MiB for 1.3 MiB of rows. (The object table waits
    /// for a third, `super::objects::sparse`.) One write transaction: readers see the
    /// table before or after.
    pub fn tighten_stats(&self) -> Result<bool> {
        let stats = self.begin_read()?.open_table(STAT_CACHE)?.stats()?;
        let slack = stats.metadata_bytes() + stats.fragmented_bytes();
        if stats.stored_bytes() < 64 * 1024 || slack * 10 <= stats.stored_bytes() {
            return Ok(false);
        }
        self.write(|txn| {
            let mut files = KeyRows::new();
            for row in txn.open_table(STAT_CACHE)?.iter()? {
                let (k, v) = row?;
                files.extend(decode(k.value(), v.value())?);
            }
            txn.delete_table(STAT_CACHE)?;
            let mut table = txn.open_table(STAT_CACHE)?;
            for (k, v) in pieces(&files) {
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
                let (k, v) = row?;
                for (file, _) in decode(k.value(), v.value())? {
                    let Some((dir, _)) = split_key(&file) else {
                        continue;
                    };
                    if last.as_deref() == Some(dir) {
                        continue;
                    }
                    last = Some(dir.to_owned());
                    if missing_dir(dir) {
                        gone.push(dir.to_owned());
                    }
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
                rewrite_dir(&mut table, dir, |_| DirRows::new())?;
            }
            Ok(gone.len() as u64)
        })
    }
}

/// Whether `dir` is no longer a directory (an error other than its absence: not known,
/// so not missing).
fn missing_dir(dir: &str) -> bool {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => !meta.is_dir(),
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
        ),
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
