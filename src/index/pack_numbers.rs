//! Pack numbers: an object row names its pack by a number this index gave the pack (a
//! varint of one or two bytes) instead of the pack's 32-byte id, which made up most of
//! a 50-byte row of `objects-0`. `pack-ids-0` maps a number to its pack and
//! `pack-numbers-0` back. Numbers belong to this index file alone: they never leave
//! it, a rebuilt index numbers its packs afresh, and a number is never given twice.

use std::collections::{HashMap, HashSet};

use redb::{ReadableTable, ReadableTableMetadata, TableError, WriteTransaction};

use super::error::IndexError;
use super::records::ObjectLocation;
use super::tables::{META, OBJECTS, OBJECTS_0, OBJECTS_0_MOVED, PACK_IDS, PACK_NUMBERS};
use crate::hash::{Hash, PackId};

type Result<T, E = IndexError> = std::result::Result<T, E>;

/// `meta-0` key: the number the next pack gets.
const NEXT: &str = "next-pack-number";

/// Every pack's number and id, read once for many rows (a snapshot, a pass over the
/// object table).
#[derive(Debug)]
pub(super) struct PackIds(HashMap<u32, PackId>);

impl PackIds {
    pub(super) fn read(table: &impl ReadableTable<u32, [u8; 32]>) -> Result<PackIds> {
        let mut ids = HashMap::with_capacity(usize::try_from(table.len()?).unwrap_or(0));
        for row in table.iter()? {
            let (k, v) = row?;
            ids.insert(k.value(), PackId(Hash::from_bytes(v.value())));
        }
        Ok(PackIds(ids))
    }

    /// The pack numbered `number`.
    pub(super) fn id(&self, number: u32) -> Result<PackId> {
        self.0
            .get(&number)
            .copied()
            .ok_or(IndexError::UnknownPack { number })
    }
}

/// The pack numbered `number`, by one lookup.
pub(super) fn id_in(table: &impl ReadableTable<u32, [u8; 32]>, number: u32) -> Result<PackId> {
    table
        .get(number)?
        .map(|v| PackId(Hash::from_bytes(v.value())))
        .ok_or(IndexError::UnknownPack { number })
}

/// The number of pack `id`, if it has one.
pub(super) fn number_of(txn: &WriteTransaction, id: &PackId) -> Result<Option<u32>> {
    Ok(txn
        .open_table(PACK_NUMBERS)?
        .get(id.0.as_bytes())?
        .map(|v| v.value()))
}

/// The number of pack `id`, given to it now if it has none.
pub(super) fn assign(txn: &WriteTransaction, id: &PackId) -> Result<u32> {
    if let Some(n) = number_of(txn, id)? {
        return Ok(n);
    }
    let mut meta = txn.open_table(META)?;
    let next = meta.get(NEXT)?.map_or(0, |v| v.value());
    let n = u32::try_from(next).map_err(|_| IndexError::Conflict("pack numbers ran out".into()))?;
    meta.insert(NEXT, next + 1)?;
    txn.open_table(PACK_NUMBERS)?.insert(id.0.as_bytes(), n)?;
    txn.open_table(PACK_IDS)?.insert(n, id.0.as_bytes())?;
    Ok(n)
}

/// Forgets the numbers of `packs` (dropped from the index); returns those numbers.
pub(super) fn forget(txn: &WriteTransaction, packs: &[PackId]) -> Result<HashSet<u32>> {
    let mut numbers = txn.open_table(PACK_NUMBERS)?;
    let mut ids = txn.open_table(PACK_IDS)?;
    let mut gone = HashSet::new();
    for id in packs {
        if let Some(n) = numbers.remove(id.0.as_bytes())?.map(|v| v.value()) {
            ids.remove(n)?;
            gone.insert(n);
        }
    }
    Ok(gone)
}

/// Brings an index to `objects-1`: the rows of an `objects-0` table (an index written
/// by an earlier release) move to `objects-1` with their packs numbered, in the
/// transaction that opens the index; then `objects-0` becomes a table of another type
/// (`OBJECTS_0_MOVED`), so that such a release refuses this index ("table type
/// mismatch") rather than read an object table it would find empty. A new index gets
/// that table at once.
pub(super) fn migrate(txn: &WriteTransaction) -> Result<()> {
    let legacy: Vec<(Hash, ObjectLocation)> = match txn.open_table(OBJECTS_0) {
        Ok(table) => {
            let mut rows = Vec::with_capacity(usize::try_from(table.len()?).unwrap_or(0));
            for row in table.iter()? {
                let (k, v) = row?;
                rows.push((
                    Hash::from_bytes(k.value()),
                    ObjectLocation::decode_legacy(v.value())?,
                ));
            }
            rows
        }
        Err(TableError::TableTypeMismatch { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut objects = txn.open_table(OBJECTS)?;
    let mut numbers: HashMap<PackId, u32> = HashMap::new();
    for (id, loc) in &legacy {
        let n = if let Some(&n) = numbers.get(&loc.pack) {
            n
        } else {
            let n = assign(txn, &loc.pack)?;
            numbers.insert(loc.pack, n);
            n
        };
        objects.insert(id.as_bytes(), loc.encode(n).as_slice())?;
    }
    drop(objects);
    txn.delete_table(OBJECTS_0)?;
    txn.open_table(OBJECTS_0_MOVED)?.insert(
        "moved",
        "to objects-1 (objects name their pack by number); this index needs a newer reel",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::db::Index;
    use super::super::objects::insert_packs;
    use super::super::objects::tests::pack;
    use super::super::tables::PACKS;
    use super::*;

    fn ids(range: std::ops::Range<u32>) -> Vec<Hash> {
        range.map(|n| Hash::of(&n.to_le_bytes())).collect()
    }

    /// Rewrites `index` as a release before `objects-1` left it: rows in `objects-0`
    /// naming packs by id, no pack numbers.
    fn make_legacy(index: &Index) {
        index
            .write(|txn| {
                let rows: Vec<([u8; 32], ObjectLocation)> = {
                    let packs = PackIds::read(&txn.open_table(PACK_IDS)?)?;
                    let objects = txn.open_table(OBJECTS)?;
                    let mut rows = Vec::new();
                    for row in objects.iter()? {
                        let (k, v) = row?;
                        rows.push((
                            k.value(),
                            ObjectLocation::decode(v.value(), |n| packs.id(n))?,
                        ));
                    }
                    rows
                };
                txn.delete_table(OBJECTS)?;
                txn.delete_table(PACK_IDS)?;
                txn.delete_table(PACK_NUMBERS)?;
                txn.delete_table(OBJECTS_0_MOVED)?;
                txn.open_table(META)?.remove(NEXT)?;
                let mut legacy = txn.open_table(OBJECTS_0)?;
                for (k, loc) in &rows {
                    legacy.insert(k, loc.encode_legacy().as_slice())?;
                }
                Ok::<_, IndexError>(())
            })
            .unwrap();
    }

    /// An index of the earlier layout is moved on open: every object keeps its
    /// location, a release that reads `objects-0` is refused, and new packs get numbers
    /// of their own.
    #[test]
    fn an_objects_0_index_moves_to_objects_1() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        let (a, b) = (pack(1, &ids(0..300)), pack(2, &ids(300..400)));
        let before = {
            let index = Index::create(&path, b"test").unwrap();
            index
                .write(|txn| insert_packs(txn, &[a.clone(), b.clone()]))
                .unwrap();
            let before = index.objects().unwrap();
            make_legacy(&index);
            let txn = index.begin_read().unwrap();
            assert!(txn.open_table(OBJECTS).is_err(), "objects-1 is gone");
            before
        };
        assert_eq!(before.len(), 400);
        let index = Index::open(&path).unwrap();
        assert_eq!(index.objects().unwrap(), before);
        let old_release = index.begin_read().unwrap();
        assert!(matches!(
            old_release.open_table(OBJECTS_0),
            Err(TableError::TableTypeMismatch { .. })
        ));
        let c = pack(3, &ids(400..410));
        index
            .write(|txn| insert_packs(txn, std::slice::from_ref(&c)))
            .unwrap();
        let snapshot = index.snapshot().unwrap();
        for (p, n) in [(&a, 0), (&b, 300), (&c, 400)] {
            let id = Hash::of(&u32::to_le_bytes(n));
            assert_eq!(snapshot.location(&id).unwrap().unwrap().pack, p.id);
        }
        drop(snapshot);
        drop(old_release);
        drop(index);
        let again = Index::open(&path).unwrap();
        assert_eq!(
            again.objects().unwrap().len(),
            410,
            "a second open moves nothing"
        );
    }

    /// A row is a fifth of the 50 bytes `objects-0` took.
    #[test]
    fn an_object_row_is_short() {
        let p = pack(1, &ids(0..1));
        let loc = ObjectLocation::in_pack(p.id, &p.entries[0]);
        let row = loc.encode(1234);
        assert!(row.as_slice().len() <= 12, "{} bytes", row.as_slice().len());
        let back = ObjectLocation::decode(row.as_slice(), |n| {
            assert_eq!(n, 1234);
            Ok(p.id)
        })
        .unwrap();
        assert_eq!(back, loc);
        assert!(ObjectLocation::decode(&row.as_slice()[..5], |_| Ok(p.id)).is_err());
    }

    /// A dropped pack takes its rows and its number with it; the next pack gets a new
    /// number, so no row can come to name it.
    #[test]
    fn numbers_are_never_given_twice() {
        let index = Index::in_memory().unwrap();
        let (a, b) = (pack(1, &ids(0..5)), pack(2, &ids(5..10)));
        index
            .write(|txn| insert_packs(txn, &[a.clone(), b.clone()]))
            .unwrap();
        let lost = index.drop_packs(&[a.id]).unwrap();
        assert_eq!(lost.len(), 5);
        assert_eq!(index.objects().unwrap().len(), 5);
        let c = pack(3, &ids(10..12));
        let numbers = index
            .write(|txn| {
                insert_packs(txn, std::slice::from_ref(&c))?;
                Ok::<_, IndexError>([
                    number_of(txn, &a.id)?,
                    number_of(txn, &b.id)?,
                    number_of(txn, &c.id)?,
                ])
            })
            .unwrap();
        assert_eq!(numbers, [None, Some(1), Some(2)]);
        let txn = index.begin_read().unwrap();
        assert!(
            txn.open_table(PACKS)
                .unwrap()
                .get(a.id.0.as_bytes())
                .unwrap()
                .is_none()
        );
    }
}
