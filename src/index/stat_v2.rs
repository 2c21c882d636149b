//! The stat cache's previous layout (`stat-cache-2`: pieces of one directory's files,
//! their names front-coded), read once to move its rows into `stat-cache-3` when an
//! index is opened.
//!
//! An older release keeps writing `stat-cache-2` if it runs on the index again; the
//! next open moves those rows too, over the ones they replace (they are the newer).
//! Whether rows may be trusted without confirming their objects is counted apart for
//! each table (`super::stat_trust`): the moved rows stay trusted only if both tables
//! were, so an older release's removals, which purge only its own table, leave them to
//! be confirmed.

use redb::{ReadableTable, ReadableTableMetadata, TableHandle, WriteTransaction};

use super::error::IndexError;
use super::tables::{META, STAT_CACHE, STAT_CACHE_2};

type Result<T, E = IndexError> = std::result::Result<T, E>;

/// What `stat-cache-2`'s releases recorded when its rows named only stored content
/// (`super::stat_trust`).
pub(super) const PURGED_AT_2: &str = "stat-cache-2-purged-at";

/// Moves the rows of `stat-cache-2`, if the index has that table, into
/// `stat-cache-3` and deletes it. A piece that does not decode is dropped with a
/// warning: the cache only spares reading a file again.
pub(super) fn migrate(txn: &WriteTransaction) -> Result<()> {
    if !txn.list_tables()?.any(|t| t.name() == STAT_CACHE_2.name()) {
        return Ok(());
    }
    let both_trusted = {
        let meta = txn.open_table(META)?;
        let removed = meta
            .get(super::stat_trust::REMOVED)?
            .map_or(0, |v| v.value());
        let old = meta.get(PURGED_AT_2)?.is_some_and(|v| v.value() == removed);
        let new = txn.open_table(STAT_CACHE)?.is_empty()? || super::stat_trust::trusted(&meta)?;
        old && new
    };
    super::stat_v1::move_rows(txn, STAT_CACHE_2, |bytes| {
        super::stat_dirs::decode_entries(b"", bytes)
    })?;
    super::stat_trust::set_trusted(txn, both_trusted)
}

#[cfg(test)]
mod tests {
    use redb::ReadableTableMetadata;

    use super::*;
    use crate::index::Index;
    use crate::index::StatRecord;
    use crate::index::stat_dirs::Entry;
    use crate::index::stat_dirs::tests::rec;
    use crate::index::stat_trust::REMOVED;

    /// Encodes a `stat-cache-2` piece as the releases before `stat-cache-3` did: the
    /// names front-coded, the first against nothing.
    fn encode(rows: &[(String, StatRecord)]) -> Vec<u8> {
        let mut prev: (&[u8], i64, u64) = (&[], 0, 0);
        let entries: Vec<Entry> = rows
            .iter()
            .map(|(name, rec)| {
                let e = Entry::new(prev, name.as_bytes(), rec);
                prev = (name.as_bytes(), rec.mtime_ns, rec.inode);
                e
            })
            .collect();
        postcard::to_allocvec(&entries).unwrap()
    }

    /// An older release's pieces and its record of having purged them, after it
    /// counted `removals` more removals of objects.
    fn write_old(index: &Index, pieces: &[(&str, Vec<u8>)], removals: u64) {
        index
            .write(|txn| {
                let mut old = txn.open_table(STAT_CACHE_2)?;
                for (key, bytes) in pieces {
                    old.insert(*key, bytes.as_slice())?;
                }
                let mut meta = txn.open_table(META)?;
                let removed = meta.get(REMOVED)?.map_or(0, |v| v.value()) + removals;
                meta.insert(REMOVED, removed)?;
                meta.insert(PURGED_AT_2, removed)?;
                Ok::<_, IndexError>(())
            })
            .unwrap();
    }

    fn has_old_table(index: &Index) -> bool {
        let txn = index.begin_read().unwrap();
        txn.list_tables()
            .unwrap()
            .any(|t| t.name() == STAT_CACHE_2.name())
    }

    /// An index a `stat-cache-2` release wrote has every row found again once opened,
    /// still trusted, the old table gone; a piece that does not decode is dropped, not
    /// an error. Rows the older release writes after that, having removed objects (and
    /// purged only its own table), are moved by the next open over the ones they
    /// replace, and the rows are no longer trusted.
    #[test]
    fn stat_cache_2_rows_move_to_stat_cache_3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        let files: Vec<(String, StatRecord)> =
            (0..120).map(|i| (format!("m{i:05}.js"), rec(i))).collect();
        let index = Index::create(&path, b"test").unwrap();
        write_old(
            &index,
            &[
                ("/w/lib/\0m00000.js", encode(&files[..60])),
                ("/w/lib/\0m00060.js", encode(&files[60..])),
                ("/w/\0a.tsx", encode(&[("a.tsx".to_owned(), rec(500))])),
                ("/w/bad/\0x", vec![0xff, 0xff]),
            ],
            0,
        );
        drop(index);
        let index = Index::open(&path).unwrap();
        assert!(!has_old_table(&index));
        let snap = index.snapshot().unwrap();
        for (name, rec) in &files {
            assert_eq!(snap.stat(&format!("/w/lib/{name}")).unwrap(), Some(*rec));
        }
        assert_eq!(snap.stat("/w/a.tsx").unwrap(), Some(rec(500)));
        assert!(
            snap.stats.len().unwrap() < 6,
            "cut again across directories"
        );
        assert!(snap.stat_rows_trusted());
        drop((snap, index));

        let index = Index::open(&path).unwrap();
        write_old(
            &index,
            &[(
                "/w/lib/\0m00007.js",
                encode(&[("m00007.js".to_owned(), rec(7000))]),
            )],
            1,
        );
        drop(index);
        let index = Index::open(&path).unwrap();
        let snap = index.snapshot().unwrap();
        assert_eq!(snap.stat("/w/lib/m00007.js").unwrap(), Some(rec(7000)));
        assert_eq!(snap.stat("/w/lib/m00008.js").unwrap(), Some(rec(8)));
        assert!(!snap.stat_rows_trusted());
    }
}
