//! The one-file backend: pack bytes kept inside a redb database file.

use std::ops::Range;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::backend::{BlobBackend, BlobMeta, Created};
use super::error::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// Blob name → (written at, seconds since the epoch).
const BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs-0");
const WRITTEN: TableDefinition<&str, u64> = TableDefinition::new("blob-times-0");

/// Packs stored as values in one redb file. Every put is a durable redb commit.
#[derive(Debug)]
pub struct RedbBackend {
    db: Database,
    label: String,
}

/// Maps a redb failure while doing `op` to `name`, keeping redb's error as the source.
fn err<E: Into<redb::Error>>(op: &'static str, name: &str) -> impl FnOnce(E) -> StoreError {
    let name = name.to_owned();
    move |e| StoreError::Redb {
        op,
        name,
        source: Box::new(e.into()),
    }
}

impl RedbBackend {
    /// Opens or creates the blob file at `path`, shareable with other processes.
    pub fn open(path: &Path) -> Result<Self> {
        let mut builder = Database::builder();
        builder.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
        let shown = path.display().to_string();
        let db = builder.create(path).map_err(err("open", &shown))?;
        let txn = db.begin_write().map_err(err("open", &shown))?;
        txn.open_table(BLOBS).map_err(err("open", &shown))?;
        txn.open_table(WRITTEN).map_err(err("open", &shown))?;
        txn.commit().map_err(err("open", &shown))?;
        Ok(RedbBackend {
            db,
            label: format!("redb://{}", path.display()),
        })
    }

    fn read<T>(&self, name: &str, f: impl FnOnce(&[u8]) -> T) -> Result<T> {
        let txn = self.db.begin_read().map_err(err("read", name))?;
        let table = txn.open_table(BLOBS).map_err(err("read", name))?;
        let value =
            table
                .get(name)
                .map_err(err("read", name))?
                .ok_or_else(|| StoreError::NotFound {
                    name: name.to_owned(),
                })?;
        Ok(f(value.value()))
    }
}

impl BlobBackend for RedbBackend {
    fn create(&self, name: &str, bytes: Bytes) -> Result<Created> {
        let txn = self.db.begin_write().map_err(err("put", name))?;
        {
            let mut table = txn.open_table(BLOBS).map_err(err("put", name))?;
            if table.get(name).map_err(err("put", name))?.is_some() {
                return Ok(Created::Existed);
            }
            table
                .insert(name, bytes.as_ref())
                .map_err(err("put", name))?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            txn.open_table(WRITTEN)
                .map_err(err("put", name))?
                .insert(name, now)
                .map_err(err("put", name))?;
        }
        txn.commit().map_err(err("put", name))?;
        Ok(Created::New)
    }

    fn get(&self, name: &str) -> Result<Bytes> {
        self.read(name, Bytes::copy_from_slice)
    }

    fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        self.read(name, |v| {
            let (start, end) = (range.start as usize, range.end as usize);
            if end > v.len() || start > end {
                return Err(StoreError::Range {
                    name: name.to_owned(),
                    start: range.start,
                    end: range.end,
                    len: v.len() as u64,
                });
            }
            Ok(Bytes::copy_from_slice(&v[start..end]))
        })?
    }

    fn size(&self, name: &str) -> Result<Option<u64>> {
        match self.read(name, |v| v.len() as u64) {
            Ok(n) => Ok(Some(n)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn delete(&self, name: &str) -> Result<()> {
        let txn = self.db.begin_write().map_err(err("delete", name))?;
        txn.open_table(BLOBS)
            .map_err(err("delete", name))?
            .remove(name)
            .map_err(err("delete", name))?;
        txn.open_table(WRITTEN)
            .map_err(err("delete", name))?
            .remove(name)
            .map_err(err("delete", name))?;
        txn.commit().map_err(err("delete", name))
    }

    fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>> {
        let txn = self.db.begin_read().map_err(err("list", prefix))?;
        let blobs = txn.open_table(BLOBS).map_err(err("list", prefix))?;
        let times = txn.open_table(WRITTEN).map_err(err("list", prefix))?;
        let mut out = Vec::new();
        for row in blobs.range(prefix..).map_err(err("list", prefix))? {
            let (k, v) = row.map_err(err("list", prefix))?;
            let name = k.value();
            if !name.starts_with(prefix) {
                break;
            }
            let secs = times
                .get(name)
                .map_err(err("list", prefix))?
                .map_or(0, |t| t.value());
            out.push(BlobMeta {
                name: name.to_owned(),
                size: v.value().len() as u64,
                modified: UNIX_EPOCH + Duration::from_secs(secs),
                e_tag: None,
            });
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}
