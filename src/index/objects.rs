//! Object locations and packs: the dedup snapshot writers read, and indexing packs.

use rayon::prelude::*;
use redb::{ReadOnlyTable, ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::db::{Index, now_s};
use super::error::IndexError;
use super::pack_numbers::{PackIds, assign, id_in};
use super::records::{ObjectLocation, PackRecord};
use super::tables::{
    CONDEMNED, DELETING, META, OBJECTS, PACK_IDS, PACKS, PENDING_PACKS, SEGMENTS, STAT_CACHE,
};
use crate::hash::{Hash, PackId};
use crate::store::WrittenPack;

type Result<T, E = IndexError> = std::result::Result<T, E>;

/// A consistent read view for many lookups (dedup checks, stat cache).
pub struct IndexSnapshot {
    objects: ReadOnlyTable<[u8; 32], &'static [u8]>,
    pub(super) stats: ReadOnlyTable<&'static str, &'static [u8]>,
    /// The directory [`IndexSnapshot::stat`] read last, and its rows.
    pub(super) last_dir: std::sync::Mutex<Option<(String, super::stat_dirs::DirRows)>>,
    /// Every pack's number (object rows name packs by number).
    packs: PackIds,
    /// Packs a GC plan condemned: their objects do not count as stored for dedup.
    condemned: std::collections::HashSet<PackId>,
    /// Whether every stat row names stored content (`stat_trust`).
    stats_trusted: bool,
}

impl std::fmt::Debug for IndexSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexSnapshot")
    }
}

impl IndexSnapshot {
    /// Whether every stat cache row names content that is stored and not condemned,
    /// so a row's content id needs no confirmation (see `index::stat_trust`).
    #[must_use]
    pub fn stat_rows_trusted(&self) -> bool {
        self.stats_trusted
    }

    /// Where an object is stored, if it is indexed.
    pub fn location(&self, id: &Hash) -> Result<Option<ObjectLocation>> {
        self.objects
            .get(id.as_bytes())?
            .map(|v| ObjectLocation::decode(v.value(), |n| self.packs.id(n)))
            .transpose()
    }

    /// Whether a writer may rely on an object being stored: it is indexed, in a pack no
    /// GC plan has condemned. An object only in a condemned pack is stored again.
    pub fn contains(&self, id: &Hash) -> Result<bool> {
        Ok(self.location_relied_on(id)?.is_some())
    }

    /// Where an object is stored, if a writer may rely on it ([`IndexSnapshot::contains`]).
    pub fn location_relied_on(&self, id: &Hash) -> Result<Option<ObjectLocation>> {
        Ok(self
            .location(id)?
            .filter(|loc| !self.condemned.contains(&loc.pack)))
    }

    /// [`IndexSnapshot::contains`] for many ids at once, in their order. When they are
    /// a good share of the index, one ordered pass over it is cheaper than a lookup
    /// each (an incremental checkpoint of a 200,000-file tree confirms every file); the
    /// pass is split in key ranges read on as many threads as there are cores.
    pub fn contains_many(&self, ids: &[Hash]) -> Result<Vec<bool>> {
        let total = self.objects.len()?;
        if (ids.len() as u64).saturating_mul(8) < total || ids.len() < 256 {
            return ids.iter().map(|id| self.contains(id)).collect();
        }
        let mut order: Vec<(&[u8; 32], usize)> = ids.iter().map(Hash::as_bytes).zip(0..).collect();
        order.sort_unstable();
        let parts = rayon::current_num_threads().clamp(1, 16);
        let per = order.len().div_ceil(parts);
        let found: Vec<Vec<(usize, bool)>> = order
            .par_chunks(per)
            .map(|chunk| self.contains_sorted(chunk))
            .collect::<Result<_>>()?;
        let mut out = vec![false; ids.len()];
        for (i, ok) in found.into_iter().flatten() {
            out[i] = ok;
        }
        Ok(out)
    }

    /// One ordered pass over the objects from the first of `sorted` to its last.
    fn contains_sorted(&self, sorted: &[(&[u8; 32], usize)]) -> Result<Vec<(usize, bool)>> {
        let mut out = Vec::with_capacity(sorted.len());
        let Some(first) = sorted.first() else {
            return Ok(out);
        };
        let mut rows = self.objects.range::<&[u8; 32]>(first.0..)?;
        let mut row = rows.next().transpose()?;
        for &(want, i) in sorted {
            let mut ok = false;
            while let Some((k, v)) = &row {
                match k.value().as_slice().cmp(want.as_slice()) {
                    std::cmp::Ordering::Less => row = rows.next().transpose()?,
                    std::cmp::Ordering::Equal => {
                        let loc = ObjectLocation::decode(v.value(), |n| self.packs.id(n))?;
                        ok = !self.condemned.contains(&loc.pack);
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            out.push((i, ok));
        }
        Ok(out)
    }
}

/// Whether a table's pages are sparse enough to be worth rewriting in key order: it
/// holds at least 64 KiB of keys and values, and they fill less than three quarters of
/// its pages (written in key order they fill 85-90%).
pub(super) fn sparse(stats: &redb::TableStats) -> bool {
    let slack = stats.metadata_bytes() + stats.fragmented_bytes();
    stats.stored_bytes() >= 64 * 1024 && slack * 3 > stats.stored_bytes()
}

impl Index {
    /// A read view for many lookups.
    pub fn snapshot(&self) -> Result<IndexSnapshot> {
        let txn = self.begin_read()?;
        let mut condemned = std::collections::HashSet::new();
        for row in txn.open_table(CONDEMNED)?.iter()? {
            condemned.insert(PackId(Hash::from_bytes(row?.0.value())));
        }
        let stats_trusted = super::stat_trust::trusted(&txn.open_table(META)?)?;
        Ok(IndexSnapshot {
            objects: txn.open_table(OBJECTS)?,
            packs: PackIds::read(&txn.open_table(PACK_IDS)?)?,
            stats: txn.open_table(STAT_CACHE)?,
            last_dir: std::sync::Mutex::new(None),
            condemned,
            stats_trusted,
        })
    }

    /// Where an object is stored, if it is indexed (one read of the object table; a
    /// [`IndexSnapshot`] serves many lookups from one transaction).
    pub fn location(&self, id: &Hash) -> Result<Option<ObjectLocation>> {
        let txn = self.begin_read()?;
        let pack_ids = txn.open_table(PACK_IDS)?;
        txn.open_table(OBJECTS)?
            .get(id.as_bytes())?
            .map(|v| ObjectLocation::decode(v.value(), |n| id_in(&pack_ids, n)))
            .transpose()
    }

    /// Every indexed object.
    pub fn objects(&self) -> Result<Vec<(Hash, ObjectLocation)>> {
        let txn = self.begin_read()?;
        let table = txn.open_table(OBJECTS)?;
        let packs = PackIds::read(&txn.open_table(PACK_IDS)?)?;
        let mut out = Vec::with_capacity(table.len()? as usize);
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((
                Hash::from_bytes(k.value()),
                ObjectLocation::decode(v.value(), |n| packs.id(n))?,
            ));
        }
        Ok(out)
    }

    /// Rewrites the object table in key order when its pages are sparse ([`sparse`]);
    /// returns whether it did. Checkpoints add ids at random places in
    /// the table, and the B-tree leaves they split stay partly empty: after the
    /// comparison's 11 checkpoints its 673 KiB of rows took 1.1 MiB, and rewritten in
    /// key order 768 KiB. One write transaction: readers see the table before or after.
    pub fn tighten_objects(&self) -> Result<bool> {
        if !sparse(&self.begin_read()?.open_table(OBJECTS)?.stats()?) {
            return Ok(false);
        }
        self.write(|txn| {
            let rows = {
                let table = txn.open_table(OBJECTS)?;
                let mut rows = Vec::with_capacity(usize::try_from(table.len()?).unwrap_or(0));
                for row in table.iter()? {
                    let (k, v) = row?;
                    rows.push((k.value(), v.value().to_vec()));
                }
                rows
            };
            txn.delete_table(OBJECTS)?;
            let mut table = txn.open_table(OBJECTS)?;
            for (k, v) in &rows {
                table.insert(k, v.as_slice())?;
            }
            Ok(true)
        })
    }

    /// Every indexed pack.
    pub fn packs(&self) -> Result<Vec<(PackId, PackRecord)>> {
        let txn = self.begin_read()?;
        let table = txn.open_table(PACKS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((
                PackId(Hash::from_bytes(k.value())),
                PackRecord::decode(v.value())?,
            ));
        }
        Ok(out)
    }

    /// Indexes packs found on the backend (a rebuild), except those a gc here is
    /// deleting.
    pub fn add_rebuilt_packs(&self, packs: &[WrittenPack]) -> Result<()> {
        self.write(|txn| insert_found(txn, packs))
    }

    /// Drops packs another machine's gc deleted, and every object located in them;
    /// returns those objects (some may have a copy in another pack, see
    /// [`Index::relocate`]).
    pub fn drop_packs(&self, packs: &[PackId]) -> Result<Vec<Hash>> {
        if packs.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|txn| {
            let mut lost: Vec<Hash> = super::writers::drop_packs_in(txn, packs)?
                .into_iter()
                .collect();
            lost.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            Ok(lost)
        })
    }

    /// Locates objects that have no location (their pack was dropped) in another
    /// indexed pack that holds a copy: `found` pairs an object with where a copy is.
    /// An object located meanwhile, or a copy in a pack no longer indexed, is left.
    pub fn relocate(&self, found: &[(Hash, ObjectLocation)]) -> Result<usize> {
        self.write(|txn| {
            let packs = txn.open_table(PACKS)?;
            let mut objects = txn.open_table(OBJECTS)?;
            let mut n = 0;
            for (id, loc) in found {
                if objects.get(id.as_bytes())?.is_none()
                    && packs.get(loc.pack.0.as_bytes())?.is_some()
                {
                    let number = assign(txn, &loc.pack)?;
                    objects.insert(id.as_bytes(), loc.encode(number).as_slice())?;
                    n += 1;
                }
            }
            Ok(n)
        })
    }

    /// The index segments this index has taken in.
    pub fn segments_read(&self) -> Result<std::collections::HashSet<String>> {
        let txn = self.begin_read()?;
        let mut out = std::collections::HashSet::new();
        for row in txn.open_table(SEGMENTS)?.iter()? {
            out.insert(row?.0.value().to_owned());
        }
        Ok(out)
    }

    /// Indexes packs found on the backend and notes the segments that described them
    /// as read (`read`) and the ones the backend no longer lists as gone (`gone`), in
    /// one transaction.
    pub fn add_listed_packs(
        &self,
        packs: &[WrittenPack],
        read: &[String],
        gone: &[String],
    ) -> Result<()> {
        self.write(|txn| {
            insert_found(txn, packs)?;
            let mut segments = txn.open_table(SEGMENTS)?;
            let now = now_s();
            for name in read {
                segments.insert(name.as_str(), now)?;
            }
            for name in gone {
                segments.remove(name.as_str())?;
            }
            Ok(())
        })
    }
}

/// Indexes packs found on the backend, leaving out those a gc here claimed for deletion
/// after the caller listed them (checked in the transaction, so none comes back).
fn insert_found(txn: &WriteTransaction, packs: &[WrittenPack]) -> Result<()> {
    let deleting = txn.open_table(DELETING)?;
    if deleting.is_empty()? {
        drop(deleting);
        return insert_packs(txn, packs);
    }
    let mut keep = Vec::with_capacity(packs.len());
    for p in packs {
        if deleting.get(p.id.0.as_bytes())?.is_none() {
            keep.push(p.clone());
        }
    }
    drop(deleting);
    insert_packs(txn, &keep)
}

/// Indexes packs: their rows, their objects' locations, and the end of their
/// announcements.
pub(super) fn insert_packs(txn: &WriteTransaction, packs: &[WrittenPack]) -> Result<()> {
    let numbers: Vec<u32> = packs
        .iter()
        .map(|p| assign(txn, &p.id))
        .collect::<Result<_>>()?;
    let pack_ids = txn.open_table(PACK_IDS)?;
    let mut objects = txn.open_table(OBJECTS)?;
    let mut pack_table = txn.open_table(PACKS)?;
    let mut pending = txn.open_table(PENDING_PACKS)?;
    let condemned = txn.open_table(CONDEMNED)?;
    let created_s = now_s();
    for (pack, &number) in packs.iter().zip(&numbers) {
        pending.remove(pack.id.0.as_bytes())?;
        let rec = PackRecord {
            size: pack.size,
            objects: pack.entries.len() as u32,
            created_s,
        };
        pack_table.insert(pack.id.0.as_bytes(), rec.encode().as_slice())?;
        for e in &pack.entries {
            let loc = ObjectLocation::in_pack(pack.id, e);
            // A fresh write of a known object keeps the old copy, unless that copy is in a
            // pack that is gone or condemned (a repack, or a writer that would not rely
            // on a condemned pack and stored the object again).
            let old = match objects.get(e.id.as_bytes())? {
                Some(row) => pack_ids
                    .get(ObjectLocation::pack_number(row.value())?)?
                    .map(|id| id.value()),
                None => None,
            };
            let moved = match old {
                None => true,
                Some(key) => pack_table.get(&key)?.is_none() || condemned.get(&key)?.is_some(),
            };
            if moved {
                objects.insert(e.id.as_bytes(), loc.encode(number).as_slice())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::object::ObjectKind;
    use crate::object::codec::Compression;
    use crate::store::PackEntry;

    /// A pack of chunks `ids`, 70,000 bytes each stored (a quarter of their raw size),
    /// back to back from the end of a version 2 header.
    pub(in crate::index) fn pack(seed: u8, ids: &[Hash]) -> WrittenPack {
        WrittenPack {
            id: PackId(Hash::of(&[seed])),
            size: 1 << 24,
            entries: ids
                .iter()
                .zip(0u64..)
                .map(|(id, n)| PackEntry {
                    kind: ObjectKind::Chunk,
                    id: *id,
                    offset: 25 + n * 70_000,
                    stored_len: 70_000,
                    raw_len: 262_144,
                    compression: Compression::Zstd,
                })
                .collect(),
        }
    }

    /// The ordered passes (split across threads) answer what a lookup each answers:
    /// stored, absent, and only in a condemned pack — whatever the order asked in.
    #[test]
    fn contains_many_agrees_with_contains() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::create(&dir.path().join("index.redb"), b"test").unwrap();
        let id = |n: u32| Hash::of(&n.to_le_bytes());
        let kept: Vec<Hash> = (0..3000).map(id).collect();
        let doomed: Vec<Hash> = (3000..4000).map(id).collect();
        let (a, b) = (pack(1, &kept), pack(2, &doomed));
        index
            .write(|txn| insert_packs(txn, &[a.clone(), b.clone()]))
            .unwrap();
        index.condemn(&[b.id], &[]).unwrap();
        let asked: Vec<Hash> = (0..5000).rev().map(id).collect();
        let snapshot = index.snapshot().unwrap();
        let many = snapshot.contains_many(&asked).unwrap();
        let one_by_one: Vec<bool> = asked
            .iter()
            .map(|h| snapshot.contains(h).unwrap())
            .collect();
        assert_eq!(many, one_by_one);
        assert_eq!(many.iter().filter(|&&ok| ok).count(), 3000);
    }

    fn objects_bytes(index: &Index) -> u64 {
        let txn = index.begin_read().unwrap();
        let stats = txn.open_table(OBJECTS).unwrap().stats().unwrap();
        stats.stored_bytes() + stats.metadata_bytes() + stats.fragmented_bytes()
    }

    /// Rows added pack by pack land at random places and leave the table's pages
    /// sparse; compacting rewrites it in key order, smaller, every location kept, and a
    /// table already tight is left alone.
    #[test]
    fn compacting_tightens_a_sparse_object_table() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::create(&dir.path().join("index.redb"), b"test").unwrap();
        for p in 0..40u8 {
            let ids: Vec<Hash> = (0..500u32)
                .map(|n| Hash::of(&(u32::from(p) * 1000 + n).to_le_bytes()))
                .collect();
            let pack = pack(p, &ids);
            index.write(|txn| insert_packs(txn, &[pack])).unwrap();
        }
        let before = (index.objects().unwrap(), objects_bytes(&index));
        index.compact();
        let after = (index.objects().unwrap(), objects_bytes(&index));
        assert_eq!(after.0, before.0);
        assert!(
            after.1 * 10 < before.1 * 8,
            "{} bytes before, {} after",
            before.1,
            after.1
        );
        assert!(!index.tighten_objects().unwrap(), "a tight table stays");
    }
}
