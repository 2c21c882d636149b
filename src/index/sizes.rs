//! What each table of the index takes: rows and bytes, for `reel stats`.

use redb::{ReadableTableMetadata, TableHandle};
use serde::Serialize;

use super::db::Index;
use super::error::IndexError;

/// One table's share of the index file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSize {
    /// The table's name (with its layout version, as in `docs/format.md`).
    pub name: String,
    /// Rows.
    pub rows: u64,
    /// Bytes of keys and values.
    pub stored_bytes: u64,
    /// Bytes the table's B-tree takes beyond them: page headers and offsets, and the
    /// unused part of its pages.
    pub overhead_bytes: u64,
}

impl Index {
    /// The tables that hold rows, largest first.
    pub fn table_sizes(&self) -> Result<Vec<TableSize>, IndexError> {
        let txn = self.begin_read()?;
        let mut sizes = Vec::new();
        for handle in txn.list_tables()? {
            let name = handle.name().to_owned();
            let table = txn.open_untyped_table(handle)?;
            let rows = table.len()?;
            if rows == 0 {
                continue;
            }
            let stats = table.stats()?;
            sizes.push(TableSize {
                name,
                rows,
                stored_bytes: stats.stored_bytes(),
                overhead_bytes: stats.metadata_bytes() + stats.fragmented_bytes(),
            });
        }
        sizes.sort_by(|a, b| {
            (b.stored_bytes + b.overhead_bytes).cmp(&(a.stored_bytes + a.overhead_bytes))
        });
        Ok(sizes)
    }
}

#[cfg(test)]
mod tests {
    use super::super::StatRecord;
    use super::*;

    /// Every row is counted in its table, and a table's bytes grow with its rows.
    #[test]
    fn table_sizes_count_rows_and_bytes() {
        let index = Index::in_memory().unwrap();
        let rec = StatRecord {
            size: 1,
            mtime_ns: 2,
            ctime_ns: 3,
            inode: 4,
            id: crate::hash::Hash::of(b"x"),
        };
        let rows: Vec<(String, StatRecord)> = (0..500)
            .map(|i| (format!("/work/project/src/file{i:04}.tsx"), rec))
            .collect();
        index.record_stats(&rows).unwrap();
        let sizes = index.table_sizes().unwrap();
        let stat = sizes
            .iter()
            .find(|t| t.name == "stat-cache-3")
            .expect("the stat cache has rows");
        // The directory's pieces: a key and its files each.
        let files: Vec<(String, StatRecord)> = (0..500)
            .map(|i| (format!("/work/project/src/\0file{i:04}.tsx"), rec))
            .collect();
        let pieces = super::super::stat_dirs::pieces(&files);
        assert_eq!(stat.rows, pieces.len() as u64);
        let bytes: usize = pieces.iter().map(|(k, value)| k.len() + value.len()).sum();
        assert_eq!(stat.stored_bytes, bytes as u64);
        assert!(sizes.iter().all(|t| t.rows > 0), "{sizes:?}");
        assert_eq!(sizes[0].name, "stat-cache-3", "the largest comes first");
    }
}
