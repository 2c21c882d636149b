//! The one-file backend: pack bytes kept inside a redb database file.

use std::ops::Range;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::backend::{BlobBackend, BlobMeta};
use crate::error::{Error, Result};

/// Blob name → (written at, seconds since the epoch).
const BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs-0");
const WRITTEN: TableDefinition<&str, u64> = TableDefinition::new("blob-times-0");

/// Packs stored as values in one redb file. Every put is a durable redb commit.
#[derive(Debug)]
pub struct RedbBackend {
    db: Database,
    label: String,
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Backend(format!("redb blob file: {e}"))
}

impl RedbBackend {
    /// Opens or creates the blob file at `path`, shareable with other processes.
    pub fn open(path: &Path) -> Result<Self> {
        let mut builder = Database::builder();
        builder.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
        let db = builder.create(path).map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(BLOBS).map_err(err)?;
        txn.open_table(WRITTEN).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(RedbBackend {
            db,
            label: format!("redb://{}", path.display()),
        })
    }

    fn read<T>(&self, name: &str, f: impl FnOnce(&[u8]) -> T) -> Result<T> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(BLOBS).map_err(err)?;
        let value = table
            .get(name)
            .map_err(err)?
            .ok_or_else(|| Error::NotFound {
                what: format!("blob {name}"),
            })?;
        Ok(f(value.value()))
    }
}

impl BlobBackend for RedbBackend {
    fn put(&self, name: &str, bytes: Bytes) -> Result<()> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut table = txn.open_table(BLOBS).map_err(err)?;
            if table.get(name).map_err(err)?.is_some() {
                return Ok(());
            }
            table.insert(name, bytes.as_ref()).map_err(err)?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            txn.open_table(WRITTEN)
                .map_err(err)?
                .insert(name, now)
                .map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    fn get(&self, name: &str) -> Result<Bytes> {
        self.read(name, Bytes::copy_from_slice)
    }

    fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        self.read(name, |v| {
            let (start, end) = (range.start as usize, range.end as usize);
            if end > v.len() || start > end {
                return Err(Error::Corrupt {
                    what: format!("blob {name}"),
                    reason: format!("range {start}..{end} beyond its {} bytes", v.len()),
                });
            }
            Ok(Bytes::copy_from_slice(&v[start..end]))
        })?
    }

    fn size(&self, name: &str) -> Result<Option<u64>> {
        match self.read(name, |v| v.len() as u64) {
            Ok(n) => Ok(Some(n)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn delete(&self, name: &str) -> Result<()> {
        let txn = self.db.begin_write().map_err(err)?;
        txn.open_table(BLOBS)
            .map_err(err)?
            .remove(name)
            .map_err(err)?;
        txn.open_table(WRITTEN)
            .map_err(err)?
            .remove(name)
            .map_err(err)?;
        txn.commit().map_err(err)
    }

    fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>> {
        let txn = self.db.begin_read().map_err(err)?;
        let blobs = txn.open_table(BLOBS).map_err(err)?;
        let times = txn.open_table(WRITTEN).map_err(err)?;
        let mut out = Vec::new();
        for row in blobs.range(prefix..).map_err(err)? {
            let (k, v) = row.map_err(err)?;
            let name = k.value();
            if !name.starts_with(prefix) {
                break;
            }
            let secs = times.get(name).map_err(err)?.map_or(0, |t| t.value());
            out.push(BlobMeta {
                name: name.to_owned(),
                size: v.value().len() as u64,
                modified: UNIX_EPOCH + Duration::from_secs(secs),
            });
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}
