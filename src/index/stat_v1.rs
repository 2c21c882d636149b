//! The stat cache's previous layout (`stat-cache-1`: one row per directory), read
//! once to move its rows into `stat-cache-2` when an index is opened.
//!
//! An older release keeps writing `stat-cache-1` if it runs on the index again; the
//! next open moves those rows too, over the ones they replace (they are the newer).
//! Whether rows may be trusted without confirming their objects is counted apart for
//! `stat-cache-2` (`super::stat_trust`), so an older release's removals, which purge
//! only its own table, leave the moved rows to be confirmed.

use redb::{ReadableTable, TableDefinition, TableHandle, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::error::IndexError;
use super::records::StatRecord;
use super::tables::{STAT_CACHE, STAT_CACHE_1};
use crate::hash::Hash;

type Result<T, E = IndexError> = std::result::Result<T, E>;

/// One file of a `stat-cache-1` row, as encoded.
#[derive(Serialize, Deserialize)]
struct Entry {
    shared: u32,
    rest: Vec<u8>,
    size: u64,
    #[serde(with = "postcard::fixint::le")]
    mtime_ns: i64,
    ctime_after_mtime: i64,
    inode: u64,
    id: [u8; 32],
}

/// Decodes a `stat-cache-1` row (`None`: not one).
fn decode(bytes: &[u8]) -> Option<Vec<(String, StatRecord)>> {
    let entries: Vec<Entry> = postcard::from_bytes(bytes).ok()?;
    let mut rows: Vec<(String, StatRecord)> = Vec::with_capacity(entries.len());
    for e in entries {
        let prev = rows.last().map_or(&[][..], |(n, _)| n.as_bytes());
        let mut name = prev.get(..e.shared as usize)?.to_vec();
        name.extend_from_slice(&e.rest);
        let rec = StatRecord {
            size: e.size,
            mtime_ns: e.mtime_ns,
            ctime_ns: e.mtime_ns.wrapping_add(e.ctime_after_mtime),
            inode: e.inode,
            id: Hash::from_bytes(e.id),
        };
        rows.push((String::from_utf8(name).ok()?, rec));
    }
    Some(rows)
}

/// Moves the rows of `stat-cache-1`, if the index has that table, into
/// `stat-cache-2` and deletes it. A row that does not decode is dropped with a
/// warning: the cache only spares reading a file again.
pub(super) fn migrate(txn: &WriteTransaction) -> Result<()> {
    if !txn.list_tables()?.any(|t| t.name() == STAT_CACHE_1.name()) {
        return Ok(());
    }
    move_rows(txn, STAT_CACHE_1, decode)
}

/// Moves the rows of an older stat cache table (keyed by a directory, or by one and a
/// NUL and more) into the current one and deletes it; `decode` gives a row's files by
/// name, `None` for a row that does not decode, which is dropped with a warning.
pub(super) fn move_rows(
    txn: &WriteTransaction,
    table: TableDefinition<&str, &[u8]>,
    decode: impl Fn(&[u8]) -> Option<Vec<(String, StatRecord)>>,
) -> Result<()> {
    let mut rows: Vec<(String, StatRecord)> = Vec::new();
    for row in txn.open_table(table)?.iter()? {
        let (key, value) = row?;
        let key = key.value();
        let dir = key.find('\0').map_or(key, |i| &key[..i]);
        let Some(files) = decode(value.value()) else {
            tracing::warn!("{}: the row {key:?} does not decode; dropped", table.name());
            continue;
        };
        rows.extend(
            files
                .into_iter()
                .map(|(name, rec)| (format!("{dir}{name}"), rec)),
        );
    }
    super::stat_dirs::put(&mut txn.open_table(STAT_CACHE)?, &rows)?;
    txn.delete_table(table)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::ReadableTableMetadata;

    use super::*;
    use crate::index::Index;
    use crate::index::stat_dirs::tests::rec;

    /// Encodes a `stat-cache-1` row as the release before `stat-cache-2` did.
    fn encode(rows: &[(String, StatRecord)]) -> Vec<u8> {
        let mut prev: &[u8] = &[];
        let entries: Vec<Entry> = rows
            .iter()
            .map(|(name, rec)| {
                let name = name.as_bytes();
                let shared = prev.iter().zip(name).take_while(|(a, b)| a == b).count();
                prev = name;
                Entry {
                    shared: shared as u32,
                    rest: name[shared..].to_vec(),
                    size: rec.size,
                    mtime_ns: rec.mtime_ns,
                    ctime_after_mtime: rec.ctime_ns.wrapping_sub(rec.mtime_ns),
                    inode: rec.inode,
                    id: *rec.id.as_bytes(),
                }
            })
            .collect();
        postcard::to_allocvec(&entries).unwrap()
    }

    fn table_names(index: &Index) -> Vec<String> {
        let txn = index.begin_read().unwrap();
        txn.list_tables()
            .unwrap()
            .map(|t| t.name().to_owned())
            .collect()
    }

    /// An index an older release wrote (`stat-cache-1`, one row per directory) has
    /// every row found again after it is opened, the old table gone; rows the older
    /// release writes after that are moved by the next open, over the ones they
    /// replace; a row that does not decode is dropped, not an error.
    #[test]
    fn stat_cache_1_rows_move_to_stat_cache_2() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        let files: Vec<(String, StatRecord)> =
            (0..120).map(|i| (format!("m{i:05}.js"), rec(i))).collect();
        let write_old = |index: &Index, rows: &[(&str, Vec<u8>)]| {
            index
                .write(|txn| {
                    let mut old = txn.open_table(STAT_CACHE_1)?;
                    for (dir, bytes) in rows {
                        old.insert(*dir, bytes.as_slice())?;
                    }
                    Ok::<_, IndexError>(())
                })
                .unwrap();
        };
        let index = Index::create(&path, b"test").unwrap();
        write_old(
            &index,
            &[
                ("/w/lib/", encode(&files)),
                ("/w/", encode(&[("a.tsx".to_owned(), rec(500))])),
                ("/w/bad/", vec![0xff; 7]),
            ],
        );
        drop(index);
        let index = Index::open(&path).unwrap();
        assert!(!table_names(&index).contains(&"stat-cache-1".to_owned()));
        let snap = index.snapshot().unwrap();
        for (name, rec) in &files {
            assert_eq!(snap.stat(&format!("/w/lib/{name}")).unwrap(), Some(*rec));
        }
        assert_eq!(snap.stat("/w/a.tsx").unwrap(), Some(rec(500)));
        assert!(
            snap.stats.len().unwrap() > 2,
            "120 files are cut into pieces"
        );
        drop(snap);
        // The older release runs again and rewrites one file's row.
        write_old(
            &index,
            &[("/w/lib/", encode(&[(files[7].0.clone(), rec(7000))]))],
        );
        drop(index);
        let index = Index::open(&path).unwrap();
        let snap = index.snapshot().unwrap();
        assert_eq!(snap.stat("/w/lib/m00007.js").unwrap(), Some(rec(7000)));
        assert_eq!(snap.stat("/w/lib/m00008.js").unwrap(), Some(rec(8)));
        assert!(!table_names(&index).contains(&"stat-cache-1".to_owned()));
    }

    /// A removal by a release before `stat-cache-2` purges `stat-cache-1` only and
    /// then records `stat-rows-purged-at`: the rows of `stat-cache-2` are no longer
    /// trusted, so a scan confirms their objects.
    #[test]
    fn an_older_release_s_removal_leaves_the_rows_to_be_confirmed() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::create(&dir.path().join("index.redb"), b"test").unwrap();
        assert!(index.snapshot().unwrap().stat_rows_trusted());
        index
            .write(|txn| {
                let mut meta = txn.open_table(super::super::tables::META)?;
                let next = meta.get("objects-removed")?.map_or(0, |v| v.value()) + 1;
                meta.insert("objects-removed", next)?;
                meta.insert("stat-rows-purged-at", next)?;
                Ok::<_, IndexError>(())
            })
            .unwrap();
        assert!(!index.snapshot().unwrap().stat_rows_trusted());
    }
}
