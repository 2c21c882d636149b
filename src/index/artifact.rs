//! Transactions for the artifact layer: projects, overlays, project checkpoints and
//! blob records. The layer above sees only [`ArtifactTx`] and plain bytes.

use std::sync::atomic::Ordering;

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::db::Index;
use super::error::IndexError;
use super::objects::insert_packs;
use super::tables::{
    BLOB_RECORDS, OVERLAY, PROJECT_CHECKPOINT_KEYS, PROJECT_CHECKPOINTS, PROJECT_NAMES, PROJECTS,
    RENDER_JOBS, RENDER_MEMO, SHARED_PROJECTS,
};
use crate::error::Error;

type Result<T, E = Error> = std::result::Result<T, E>;
use crate::hash::{CommitId, Hash};
use crate::store::WrittenPack;

enum Kind<'t> {
    Read(ReadTransaction),
    Write(&'t WriteTransaction),
}

/// A read or write transaction over the artifact tables.
pub struct ArtifactTx<'t> {
    kind: Kind<'t>,
}

macro_rules! with_table {
    ($self:ident, $def:expr, |$t:ident| $body:expr) => {
        match &$self.kind {
            Kind::Read(txn) => {
                let $t = txn.open_table($def)?;
                $body
            }
            Kind::Write(txn) => {
                let $t = txn.open_table($def)?;
                $body
            }
        }
    };
}

fn checkpoint_key(project: &[u8; 16], seq: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..16].copy_from_slice(project);
    k[16..].copy_from_slice(&seq.to_be_bytes());
    k
}

impl ArtifactTx<'_> {
    fn writer(&self) -> Result<&WriteTransaction> {
        match &self.kind {
            Kind::Write(txn) => Ok(txn),
            Kind::Read(_) => Err(IndexError::ReadOnly.into()),
        }
    }

    /// A project record.
    pub fn project(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>> {
        with_table!(self, PROJECTS, |t| Ok(t
            .get(id)?
            .map(|v| v.value().to_vec())))
    }

    /// Every project record.
    pub fn projects(&self) -> Result<Vec<([u8; 16], Vec<u8>)>> {
        with_table!(self, PROJECTS, |t| {
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                out.push((k.value(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// Writes a project record.
    pub fn put_project(&self, id: &[u8; 16], record: &[u8]) -> Result<()> {
        self.writer()?.open_table(PROJECTS)?.insert(id, record)?;
        Ok(())
    }

    /// Removes a project record.
    pub fn remove_project(&self, id: &[u8; 16]) -> Result<()> {
        self.writer()?.open_table(PROJECTS)?.remove(id)?;
        Ok(())
    }

    /// One overlay row.
    pub fn overlay(&self, key: &str) -> Result<Option<Vec<u8>>> {
        with_table!(self, OVERLAY, |t| Ok(t
            .get(key)?
            .map(|v| v.value().to_vec())))
    }

    /// Every overlay row whose key starts with `prefix`, in key order.
    pub fn overlay_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        with_table!(self, OVERLAY, |t| {
            let mut out = Vec::new();
            for row in t.range(prefix..)? {
                let (k, v) = row?;
                if !k.value().starts_with(prefix) {
                    break;
                }
                out.push((k.value().to_owned(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// Writes an overlay row.
    pub fn put_overlay(&self, key: &str, value: &[u8]) -> Result<()> {
        self.writer()?.open_table(OVERLAY)?.insert(key, value)?;
        Ok(())
    }

    /// Removes overlay rows.
    pub fn remove_overlay(&self, keys: &[String]) -> Result<()> {
        let mut t = self.writer()?.open_table(OVERLAY)?;
        for k in keys {
            t.remove(k.as_str())?;
        }
        Ok(())
    }

    /// A project's checkpoints in creation order: (sequence, commit).
    pub fn checkpoints(&self, project: &[u8; 16]) -> Result<Vec<(u64, CommitId)>> {
        let (lo, hi) = (
            checkpoint_key(project, 0),
            checkpoint_key(project, u64::MAX),
        );
        with_table!(self, PROJECT_CHECKPOINTS, |t| {
            let mut out = Vec::new();
            for row in t.range(&lo[..]..=&hi[..])? {
                let (k, v) = row?;
                let seq = u64::from_be_bytes(k.value()[16..].try_into().expect("24-byte key"));
                out.push((seq, CommitId(Hash::from_bytes(v.value()))));
            }
            Ok(out)
        })
    }

    /// Every project checkpoint (GC roots).
    pub fn all_checkpoints(&self) -> Result<Vec<CommitId>> {
        with_table!(self, PROJECT_CHECKPOINTS, |t| {
            let mut out = Vec::new();
            for row in t.iter()? {
                out.push(CommitId(Hash::from_bytes(row?.1.value())));
            }
            Ok(out)
        })
    }

    /// The project a checkpoint belongs to, if it is live.
    pub fn checkpoint_owner(&self, id: &CommitId) -> Result<Option<[u8; 16]>> {
        with_table!(self, PROJECT_CHECKPOINT_KEYS, |t| Ok(t
            .get(id.0.as_bytes())?
            .map(|v| v.value()[..16].try_into().expect("24-byte key"))))
    }

    /// Records a checkpoint.
    pub fn add_checkpoint(&self, project: &[u8; 16], seq: u64, id: &CommitId) -> Result<()> {
        let key = checkpoint_key(project, seq);
        let w = self.writer()?;
        w.open_table(PROJECT_CHECKPOINTS)?
            .insert(&key[..], id.0.as_bytes())?;
        w.open_table(PROJECT_CHECKPOINT_KEYS)?
            .insert(id.0.as_bytes(), &key[..])?;
        Ok(())
    }

    /// Removes a checkpoint and any name pointing at it; `false` if it was not live.
    pub fn remove_checkpoint(&self, id: &CommitId) -> Result<bool> {
        let w = self.writer()?;
        let Some(key) = w
            .open_table(PROJECT_CHECKPOINT_KEYS)?
            .remove(id.0.as_bytes())?
            .map(|v| v.value().to_vec())
        else {
            return Ok(false);
        };
        w.open_table(PROJECT_CHECKPOINTS)?.remove(&key[..])?;
        w.open_table(PROJECT_NAMES)?
            .retain(|_, v| v != *id.0.as_bytes())?;
        Ok(true)
    }

    /// The checkpoint named `name` in a project.
    pub fn name(&self, project_hex: &str, name: &str) -> Result<Option<CommitId>> {
        let key = format!("{project_hex}/{name}");
        with_table!(self, PROJECT_NAMES, |t| Ok(t
            .get(key.as_str())?
            .map(|v| CommitId(Hash::from_bytes(v.value())))))
    }

    /// Names a checkpoint.
    pub fn put_name(&self, project_hex: &str, name: &str, id: &CommitId) -> Result<()> {
        let key = format!("{project_hex}/{name}");
        self.writer()?
            .open_table(PROJECT_NAMES)?
            .insert(key.as_str(), id.0.as_bytes())?;
        Ok(())
    }

    /// A project's checkpoint names: (name, commit).
    pub fn names(&self, project_hex: &str) -> Result<Vec<(String, CommitId)>> {
        let lo = format!("{project_hex}/");
        let hi = format!("{project_hex}0");
        with_table!(self, PROJECT_NAMES, |t| {
            let mut out = Vec::new();
            for row in t.range(lo.as_str()..hi.as_str())? {
                let (k, v) = row?;
                let name = k.value()[lo.len()..].to_owned();
                out.push((name, CommitId(Hash::from_bytes(v.value()))));
            }
            Ok(out)
        })
    }

    /// What this index last saw of a project's record in a shared bucket.
    pub fn shared_project(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>> {
        with_table!(self, SHARED_PROJECTS, |t| Ok(t
            .get(id)?
            .map(|v| v.value().to_vec())))
    }

    /// Every project's [`Self::shared_project`] row.
    pub fn shared_projects(&self) -> Result<Vec<([u8; 16], Vec<u8>)>> {
        with_table!(self, SHARED_PROJECTS, |t| {
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                out.push((k.value(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// Records what this index last saw of a project's record in a shared bucket.
    pub fn put_shared_project(&self, id: &[u8; 16], seen: &[u8]) -> Result<()> {
        self.writer()?
            .open_table(SHARED_PROJECTS)?
            .insert(id, seen)?;
        Ok(())
    }

    /// A blob record.
    pub fn blob(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>> {
        with_table!(self, BLOB_RECORDS, |t| Ok(t
            .get(id)?
            .map(|v| v.value().to_vec())))
    }

    /// Every blob record.
    pub fn blobs(&self) -> Result<Vec<([u8; 16], Vec<u8>)>> {
        with_table!(self, BLOB_RECORDS, |t| {
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                out.push((k.value(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// Writes a blob record.
    pub fn put_blob(&self, id: &[u8; 16], record: &[u8]) -> Result<()> {
        self.writer()?
            .open_table(BLOB_RECORDS)?
            .insert(id, record)?;
        Ok(())
    }

    /// Removes a blob record.
    pub fn remove_blob(&self, id: &[u8; 16]) -> Result<()> {
        self.writer()?.open_table(BLOB_RECORDS)?.remove(id)?;
        Ok(())
    }

    /// The render a render key was memoized to.
    pub fn render_memo(&self, key: &[u8; 32]) -> Result<Option<[u8; 16]>> {
        with_table!(self, RENDER_MEMO, |t| Ok(t.get(key)?.map(|v| v.value())))
    }

    /// Memoizes a render key.
    pub fn put_render_memo(&self, key: &[u8; 32], blob: &[u8; 16]) -> Result<()> {
        self.writer()?.open_table(RENDER_MEMO)?.insert(key, blob)?;
        Ok(())
    }

    /// A render job's status.
    pub fn render_job(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>> {
        with_table!(self, RENDER_JOBS, |t| Ok(t
            .get(id)?
            .map(|v| v.value().to_vec())))
    }

    /// Every render job's status.
    pub fn render_jobs(&self) -> Result<Vec<([u8; 16], Vec<u8>)>> {
        with_table!(self, RENDER_JOBS, |t| {
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                out.push((k.value(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// Writes a render job's status.
    pub fn put_render_job(&self, id: &[u8; 16], status: &[u8]) -> Result<()> {
        self.writer()?.open_table(RENDER_JOBS)?.insert(id, status)?;
        Ok(())
    }

    /// Indexes durably written packs in this transaction.
    pub fn add_packs(&self, packs: &[WrittenPack]) -> Result<()> {
        Ok(insert_packs(self.writer()?, packs)?)
    }
}

impl Index {
    /// Runs `f` in a read transaction over the artifact tables.
    pub fn artifact_read<T>(
        &self,
        f: impl FnOnce(&ArtifactTx<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let tx = ArtifactTx {
            kind: Kind::Read(self.begin_read()?),
        };
        f(&tx)
    }

    /// Runs `f` in one write transaction over the artifact tables; commits if it succeeds.
    pub fn artifact_write<T>(
        &self,
        f: impl FnOnce(&ArtifactTx<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.write(|txn| {
            let tx = ArtifactTx {
                kind: Kind::Write(txn),
            };
            f(&tx)
        })
    }

    /// Every project record, from one read transaction.
    pub fn project_records(&self) -> Result<Vec<([u8; 16], Vec<u8>)>> {
        ArtifactTx {
            kind: Kind::Read(self.begin_read()?),
        }
        .projects()
    }

    /// Every project's [`ArtifactTx::shared_project`] row, from one read transaction.
    pub fn shared_project_rows(&self) -> Result<Vec<([u8; 16], Vec<u8>)>> {
        ArtifactTx {
            kind: Kind::Read(self.begin_read()?),
        }
        .shared_projects()
    }

    /// Every blob record, from one read transaction.
    pub fn blob_records(&self) -> Result<Vec<([u8; 16], Vec<u8>)>> {
        ArtifactTx {
            kind: Kind::Read(self.begin_read()?),
        }
        .blobs()
    }

    /// How many projects, project checkpoints and asset/render records the index holds.
    pub fn artifact_counts(&self) -> Result<(u64, u64, u64)> {
        use redb::ReadableTableMetadata;
        let txn = self.begin_read()?;
        Ok((
            txn.open_table(PROJECTS)?.len()?,
            txn.open_table(PROJECT_CHECKPOINTS)?.len()?,
            txn.open_table(BLOB_RECORDS)?.len()?,
        ))
    }

    /// Write transactions committed by this handle (for tests that count redb writes).
    #[must_use]
    pub fn write_transactions(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
}
