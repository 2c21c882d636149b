//! When the stat cache's rows name only stored content, so a scan may take a row's
//! content id without confirming its object (16% of the samples of an incremental
//! checkpoint of a 200,000-file tree at `a237c77`).
//!
//! A row is written only for content that is stored: by a checkpoint for what it
//! stored, by a restore for what it wrote. Content goes only when a transaction drops
//! objects from the index (a sweep, or another machine's deletions learnt at a sync) or
//! condemns packs (their objects count as absent to writers). Each such transaction
//! counts itself (`objects-removed`) and drops the rows naming what went; when every
//! earlier one did as well, it records the count (`stat-cache-3-purged-at`). While
//! the two are equal the rows are trusted; otherwise (an index from before this rule,
//! or a removal that did not purge) a scan confirms every object as before, and the
//! next checkpoint or removal purges every row whose object is missing, which makes
//! them equal again.
//!
//! The count is named after the table it vouches for. Releases before `stat-cache-2`
//! recorded `stat-rows-purged-at` after purging `stat-cache-1` only; one that runs on
//! an index after the move counts its removals in `objects-removed` too, so the rows
//! it could not purge are confirmed again. Likewise releases of `stat-cache-2` record
//! `stat-cache-2-purged-at`: rows moved from that table stay trusted only if it and
//! `stat-cache-3` both were (`super::stat_v2`).

use std::collections::HashSet;

use redb::{ReadableTable, WriteTransaction};

use super::error::IndexError;
use super::records::ObjectLocation;
use super::tables::{CONDEMNED, META, OBJECTS, PACK_IDS, PACK_NUMBERS, STAT_CACHE};
use crate::hash::{Hash, PackId};

type Result<T, E = IndexError> = std::result::Result<T, E>;

/// Transactions that removed objects or condemned packs.
pub(super) const REMOVED: &str = "objects-removed";
/// The value of [`REMOVED`] when the stat rows were last known to name only stored
/// content. Absent: never known (an index from before this rule).
const PURGED_AT: &str = "stat-cache-3-purged-at";

/// Marks a new index (no rows yet) as trusted.
pub(super) fn init(txn: &WriteTransaction) -> Result<()> {
    let mut meta = txn.open_table(META)?;
    meta.insert(REMOVED, 0)?;
    meta.insert(PURGED_AT, 0)?;
    Ok(())
}

/// Whether the stat rows name only stored content, as of `meta`'s transaction.
pub(super) fn trusted(meta: &impl ReadableTable<&'static str, u64>) -> Result<bool> {
    let removed = meta.get(REMOVED)?.map_or(0, |v| v.value());
    Ok(meta.get(PURGED_AT)?.is_some_and(|v| v.value() == removed))
}

/// Records whether the rows are trusted as of now (`super::stat_v2`, after moving rows
/// of an older table in).
pub(super) fn set_trusted(txn: &WriteTransaction, trusted: bool) -> Result<()> {
    let mut meta = txn.open_table(META)?;
    if trusted {
        let removed = meta.get(REMOVED)?.map_or(0, |v| v.value());
        meta.insert(PURGED_AT, removed)?;
    } else {
        meta.remove(PURGED_AT)?;
    }
    Ok(())
}

/// Makes the rows trusted if they are not (an index from before the rule): one pass
/// over them, dropping those whose object is missing or condemned. The first
/// checkpoint after an upgrade pays it, once.
pub(super) fn establish(txn: &WriteTransaction) -> Result<()> {
    if trusted(&txn.open_table(META)?)? {
        return Ok(());
    }
    removed(txn, &HashSet::new())
}

/// Counts a removal of the objects `gone` (objects dropped, or those of packs just
/// condemned) and drops the stat rows naming them. When the rows were not trusted
/// before, every row whose object is missing or condemned goes too.
pub(super) fn removed(txn: &WriteTransaction, gone: &HashSet<Hash>) -> Result<()> {
    let was_trusted = trusted(&txn.open_table(META)?)?;
    {
        let objects = txn.open_table(OBJECTS)?;
        let pack_ids = txn.open_table(PACK_IDS)?;
        let condemned = txn.open_table(CONDEMNED)?;
        let mut stats = txn.open_table(STAT_CACHE)?;
        super::stat_dirs::retain(&mut stats, |rec| {
            Ok(gone.contains(&rec.id)
                || (!was_trusted && !stored(&objects, &pack_ids, &condemned, &rec.id)?))
        })?;
    }
    let mut meta = txn.open_table(META)?;
    let next = meta.get(REMOVED)?.map_or(0, |v| v.value()) + 1;
    meta.insert(REMOVED, next)?;
    meta.insert(PURGED_AT, next)?;
    Ok(())
}

/// Whether `id` is indexed in a pack that is not condemned (a row naming a pack number
/// no pack has is not stored).
fn stored(
    objects: &impl ReadableTable<[u8; 32], &'static [u8]>,
    pack_ids: &impl ReadableTable<u32, [u8; 32]>,
    condemned: &impl ReadableTable<[u8; 32], u64>,
    id: &Hash,
) -> Result<bool> {
    let Some(row) = objects.get(id.as_bytes())? else {
        return Ok(false);
    };
    let Some(pack) = pack_ids.get(ObjectLocation::pack_number(row.value())?)? else {
        return Ok(false);
    };
    Ok(condemned.get(&pack.value())?.is_none())
}

/// The objects located in `packs`.
pub(super) fn objects_in(txn: &WriteTransaction, packs: &HashSet<PackId>) -> Result<HashSet<Hash>> {
    let mut out = HashSet::new();
    if packs.is_empty() {
        return Ok(out);
    }
    let numbers = txn.open_table(PACK_NUMBERS)?;
    let mut wanted = HashSet::with_capacity(packs.len());
    for pack in packs {
        if let Some(n) = numbers.get(pack.0.as_bytes())? {
            wanted.insert(n.value());
        }
    }
    for row in txn.open_table(OBJECTS)?.iter()? {
        let (k, v) = row?;
        if wanted.contains(&ObjectLocation::pack_number(v.value())?) {
            out.insert(Hash::from_bytes(k.value()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Index, StatRecord};

    fn row(id: Hash) -> StatRecord {
        StatRecord {
            size: 1,
            mtime_ns: 1,
            ctime_ns: 1,
            inode: 1,
            id,
        }
    }

    /// An index from before the rule is not trusted; the next checkpoint (or removal)
    /// purges every row naming a missing object and makes it trusted; a new index is
    /// trusted.
    #[test]
    fn old_indexes_are_checked_until_a_removal_purges_them() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::create(&dir.path().join("index.redb"), b"test").unwrap();
        assert!(index.snapshot().unwrap().stat_rows_trusted());
        let missing = Hash::of(b"never stored");
        index
            .write(|txn| {
                super::super::checkpoints::put_stats(txn, &[("/w/a".into(), row(missing))])?;
                txn.open_table(META)?.remove(PURGED_AT)?;
                Ok::<_, IndexError>(())
            })
            .unwrap();
        let snapshot = index.snapshot().unwrap();
        assert!(
            !snapshot.stat_rows_trusted(),
            "an index from before the rule"
        );
        assert!(snapshot.stat("/w/a").unwrap().is_some());
        drop(snapshot);
        index.write(|txn| removed(txn, &HashSet::new())).unwrap();
        let snapshot = index.snapshot().unwrap();
        assert!(snapshot.stat_rows_trusted());
        assert!(
            snapshot.stat("/w/a").unwrap().is_none(),
            "a row naming a missing object survived the purge"
        );
    }
}
