//! Checkpoints, names, HEAD and worktrees: publishing and deleting checkpoints.

use redb::{ReadableTable, WriteTransaction};

use super::db::Index;
use super::error::IndexError;
use super::objects::insert_packs;
use super::records::StatRecord;
use super::tables::{CHECKPOINT_SEQ, CHECKPOINTS, META, NAMES, REFS, STAT_CACHE, TAGS, WORKTREES};
use super::writers::release_in;
use crate::error::ItemKind;
use crate::hash::{CommitId, Hash, TreeId};
use crate::store::WrittenPack;

type Result<T, E = IndexError> = std::result::Result<T, E>;

const HEAD: &str = "HEAD";
const NEXT_SEQ: &str = "next-checkpoint-seq";

/// One row of the checkpoint list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointRow {
    /// Creation order.
    pub seq: u64,
    /// The commit.
    pub id: CommitId,
}

/// Everything a checkpoint publishes, in one transaction.
#[derive(Debug)]
pub struct NewCheckpoint<'a> {
    /// Packs written for it (already durable).
    pub packs: &'a [WrittenPack],
    /// The commit; its object is in `packs` or already indexed.
    pub commit: CommitId,
    /// HEAD as it was when the commit was built: compare-and-swap.
    pub expect_head: Option<CommitId>,
    /// Its name, unique.
    pub name: Option<&'a str>,
    /// Stat cache rows to record, by absolute path.
    pub stats: &'a [(String, StatRecord)],
    /// The directory it was taken from and its tree.
    pub worktree: Option<(&'a str, TreeId)>,
    /// The writer's pin, released in the same transaction.
    pub pin: u64,
    /// HEAD already moved to the commit in the shared backend (`refs/HEAD`), which
    /// decides: the local HEAD is not compared, a checkpoint row a sync by another
    /// process added already is kept, and the local HEAD moves only if it still is
    /// `expect_head` (a sync may have moved it past the commit).
    pub shared: bool,
}

impl Index {
    /// The current HEAD checkpoint.
    pub fn head(&self) -> Result<Option<CommitId>> {
        let txn = self.begin_read()?;
        let refs = txn.open_table(REFS)?;
        Ok(refs
            .get(HEAD)?
            .map(|v| CommitId(Hash::from_bytes(v.value()))))
    }

    /// Every live checkpoint, in creation order.
    pub fn checkpoints(&self) -> Result<Vec<CheckpointRow>> {
        let txn = self.begin_read()?;
        let table = txn.open_table(CHECKPOINTS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push(CheckpointRow {
                seq: k.value(),
                id: CommitId(Hash::from_bytes(v.value())),
            });
        }
        Ok(out)
    }

    /// Whether `id` is a live (not deleted) checkpoint.
    pub fn is_checkpoint(&self, id: &CommitId) -> Result<bool> {
        let txn = self.begin_read()?;
        Ok(txn
            .open_table(CHECKPOINT_SEQ)?
            .get(id.0.as_bytes())?
            .is_some())
    }

    /// The checkpoint carrying `name`.
    pub fn named(&self, name: &str) -> Result<Option<CommitId>> {
        let txn = self.begin_read()?;
        let names = txn.open_table(NAMES)?;
        Ok(names
            .get(name)?
            .map(|v| CommitId(Hash::from_bytes(v.value()))))
    }

    /// The checkpoint tag `name` points at.
    pub fn tag(&self, name: &str) -> Result<Option<CommitId>> {
        let txn = self.begin_read()?;
        Ok(txn
            .open_table(TAGS)?
            .get(name)?
            .map(|v| CommitId(Hash::from_bytes(v.value()))))
    }

    /// Every tag, by name.
    pub fn tags(&self) -> Result<Vec<(String, CommitId)>> {
        let txn = self.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(TAGS)?.iter()? {
            let (k, v) = row?;
            out.push((k.value().to_owned(), CommitId(Hash::from_bytes(v.value()))));
        }
        Ok(out)
    }

    /// Points tag `name` at `commit`.
    pub fn set_tag(&self, name: &str, commit: CommitId) -> Result<()> {
        self.write(|txn| {
            txn.open_table(TAGS)?.insert(name, commit.0.as_bytes())?;
            Ok(())
        })
    }

    /// Removes tag `name` (if there is one).
    pub fn remove_tag(&self, name: &str) -> Result<()> {
        self.write(|txn| {
            txn.open_table(TAGS)?.remove(name)?;
            Ok(())
        })
    }

    /// Makes the tags exactly `tags` (a shared bucket's, after listing them).
    pub fn replace_tags(&self, tags: &std::collections::BTreeMap<String, CommitId>) -> Result<()> {
        self.write(|txn| {
            let mut t = txn.open_table(TAGS)?;
            t.retain(|name, _| tags.contains_key(name))?;
            for (name, commit) in tags {
                t.insert(name.as_str(), commit.0.as_bytes())?;
            }
            Ok(())
        })
    }

    /// Every checkpoint name.
    pub fn names(&self) -> Result<Vec<String>> {
        let txn = self.begin_read()?;
        let names = txn.open_table(NAMES)?;
        let mut out = Vec::new();
        for row in names.iter()? {
            out.push(row?.0.value().to_owned());
        }
        Ok(out)
    }

    /// The tree last checkpointed or restored in `dir` (absolute).
    pub fn worktree(&self, dir: &str) -> Result<Option<TreeId>> {
        let txn = self.begin_read()?;
        let table = txn.open_table(WORKTREES)?;
        Ok(table.get(dir)?.map(|v| TreeId(Hash::from_bytes(v.value()))))
    }

    /// Every worktree's tree (GC roots).
    pub fn worktrees(&self) -> Result<Vec<(String, TreeId)>> {
        let txn = self.begin_read()?;
        let table = txn.open_table(WORKTREES)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((k.value().to_owned(), TreeId(Hash::from_bytes(v.value()))));
        }
        Ok(out)
    }

    /// Publishes a checkpoint: packs, objects, the checkpoint row, name, HEAD, stat cache
    /// and worktree, atomically. Fails with `Conflict` if HEAD moved since the commit was
    /// built, and with `AlreadyExists` if the name is taken; nothing is written then.
    pub fn publish_checkpoint(&self, new: &NewCheckpoint<'_>) -> Result<u64> {
        self.write(|txn| {
            let mut refs = txn.open_table(REFS)?;
            let head = refs
                .get(HEAD)?
                .map(|v| CommitId(Hash::from_bytes(v.value())));
            if head != new.expect_head && !new.shared {
                return Err(IndexError::Conflict(
                    "another checkpoint was made meanwhile".into(),
                ));
            }
            insert_packs(txn, new.packs)?;
            let known = txn
                .open_table(CHECKPOINT_SEQ)?
                .get(new.commit.0.as_bytes())?
                .map(|v| v.value());
            let seq = match known {
                Some(seq) if new.shared => seq,
                _ => {
                    if let Some(name) = new.name {
                        claim_name(txn, name, new.commit)?;
                    }
                    add_row(txn, new.commit)?
                }
            };
            if head == new.expect_head {
                refs.insert(HEAD, new.commit.0.as_bytes())?;
            }
            put_stats(txn, new.stats)?;
            super::stat_trust::establish(txn)?;
            if let Some((dir, tree)) = new.worktree {
                txn.open_table(WORKTREES)?.insert(dir, tree.0.as_bytes())?;
            }
            release_in(txn, new.pin)?;
            Ok(seq)
        })
    }

    /// Brings the checkpoints in line with the shared backend's records: adds `add`
    /// (oldest first, with their names; a name already taken stays with its holder),
    /// deletes `forget` (those still here) and sets HEAD to `head`.
    pub fn sync_checkpoints(
        &self,
        add: &[(CommitId, Option<String>)],
        forget: &[CommitId],
        head: Option<CommitId>,
    ) -> Result<()> {
        self.write(|txn| {
            for (id, name) in add {
                let known = txn
                    .open_table(CHECKPOINT_SEQ)?
                    .get(id.0.as_bytes())?
                    .is_some();
                if known || forget.contains(id) {
                    continue;
                }
                add_row(txn, *id)?;
                let mut names = txn.open_table(NAMES)?;
                if let Some(name) = name {
                    let taken = names.get(name.as_str())?.is_some();
                    if !taken {
                        names.insert(name.as_str(), id.0.as_bytes())?;
                    }
                }
            }
            for id in forget {
                delete_in(txn, *id)?;
            }
            let mut refs = txn.open_table(REFS)?;
            match head {
                Some(head) => refs.insert(HEAD, head.0.as_bytes())?,
                None => refs.remove(HEAD)?,
            };
            Ok(())
        })
    }

    /// Deletes a checkpoint: its row and any name pointing at it. If it was HEAD, HEAD
    /// moves to the newest remaining checkpoint. The commit object stays until `gc`
    /// finds nothing else needs it; children keep it as their parent, for lineage.
    pub fn delete_checkpoint(&self, id: CommitId) -> Result<()> {
        self.write(|txn| {
            if delete_in(txn, id)? {
                Ok(())
            } else {
                Err(IndexError::Missing {
                    kind: ItemKind::Checkpoint,
                    id: id.short(),
                })
            }
        })
    }

    /// Records a restore into `dir`: its tracked tree, the stat rows of what was written,
    /// and optionally a new HEAD.
    pub fn record_restore(
        &self,
        dir: &str,
        tree: TreeId,
        head: Option<CommitId>,
        stats: &[(String, StatRecord)],
    ) -> Result<()> {
        self.write(|txn| {
            txn.open_table(WORKTREES)?.insert(dir, tree.0.as_bytes())?;
            if let Some(head) = head {
                txn.open_table(REFS)?.insert(HEAD, head.0.as_bytes())?;
            }
            put_stats(txn, stats)
        })
    }

    /// Records stat cache rows only (files a restore of some paths wrote).
    pub fn record_stats(&self, stats: &[(String, StatRecord)]) -> Result<()> {
        if stats.is_empty() {
            return Ok(());
        }
        self.write(|txn| put_stats(txn, stats))
    }

    /// Records recovered checkpoints, oldest first, with their names (a name already
    /// taken stays with the older one); HEAD becomes the last.
    pub fn add_rebuilt_checkpoints(&self, commits: &[(CommitId, Option<String>)]) -> Result<()> {
        self.write(|txn| {
            let mut names = txn.open_table(NAMES)?;
            for (id, name) in commits {
                let seq = next_seq(txn)?;
                txn.open_table(CHECKPOINTS)?.insert(seq, id.0.as_bytes())?;
                txn.open_table(CHECKPOINT_SEQ)?
                    .insert(id.0.as_bytes(), seq)?;
                if let Some(name) = name
                    && names.get(name.as_str())?.is_none()
                {
                    names.insert(name.as_str(), id.0.as_bytes())?;
                }
            }
            if let Some((head, _)) = commits.last() {
                txn.open_table(REFS)?.insert(HEAD, head.0.as_bytes())?;
            }
            Ok(())
        })
    }
}

/// Deletes checkpoint `id` (false if it is not one), as
/// [`Index::delete_checkpoint`] describes.
fn delete_in(txn: &WriteTransaction, id: CommitId) -> Result<bool> {
    let mut seqs = txn.open_table(CHECKPOINT_SEQ)?;
    let Some(seq) = seqs.remove(id.0.as_bytes())?.map(|v| v.value()) else {
        return Ok(false);
    };
    let mut rows = txn.open_table(CHECKPOINTS)?;
    rows.remove(seq)?;
    txn.open_table(NAMES)?
        .retain(|_, v| v != *id.0.as_bytes())?;
    let mut refs = txn.open_table(REFS)?;
    let is_head = refs
        .get(HEAD)?
        .is_some_and(|v| v.value() == *id.0.as_bytes());
    if is_head {
        let newest = rows.last()?.map(|(_, v)| v.value());
        match newest {
            Some(newest) => refs.insert(HEAD, newest)?,
            None => refs.remove(HEAD)?,
        };
    }
    Ok(true)
}

/// A new checkpoint row for `id`; returns its sequence.
fn add_row(txn: &WriteTransaction, id: CommitId) -> Result<u64> {
    let seq = next_seq(txn)?;
    txn.open_table(CHECKPOINTS)?.insert(seq, id.0.as_bytes())?;
    txn.open_table(CHECKPOINT_SEQ)?
        .insert(id.0.as_bytes(), seq)?;
    Ok(seq)
}

/// Gives `name` to `id`; `Exists` if another checkpoint holds it.
fn claim_name(txn: &WriteTransaction, name: &str, id: CommitId) -> Result<()> {
    let mut names = txn.open_table(NAMES)?;
    if names
        .get(name)?
        .is_some_and(|v| v.value() != *id.0.as_bytes())
    {
        return Err(IndexError::Exists {
            kind: ItemKind::Checkpoint,
            id: name.to_owned(),
        });
    }
    names.insert(name, id.0.as_bytes())?;
    Ok(())
}

fn next_seq(txn: &WriteTransaction) -> Result<u64> {
    let mut meta = txn.open_table(META)?;
    let seq = meta.get(NEXT_SEQ)?.map_or(1, |v| v.value());
    meta.insert(NEXT_SEQ, seq + 1)?;
    Ok(seq)
}

pub(super) fn put_stats(txn: &WriteTransaction, stats: &[(String, StatRecord)]) -> Result<()> {
    super::stat_dirs::put(&mut txn.open_table(STAT_CACHE)?, stats)
}
