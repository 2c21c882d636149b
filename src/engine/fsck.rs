//! Integrity checks.
//!
//! Always: every indexed pack exists with the recorded size; every object of every live
//! checkpoint (directory and project checkpoints: commits, trees, manifests) is indexed
//! and readable. With `read_data`: every pack is read whole, once: its name must equal
//! the BLAKE3 of its bytes, its trailer must match the index, and every object is
//! decompressed from those bytes and verified against its id. A damaged pack is
//! reported with every checkpoint that needs it; damage never aborts the check.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::hash::{CommitId, Hash, PackId, TreeId};
use crate::index::ObjectLocation;
use crate::object::{EntryKind, Manifest, ObjectKind};
use crate::store::{pack_name, parse_pack, parse_pack_name};

/// One problem found.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// The pack involved, if known.
    pub pack: Option<PackId>,
    /// The object involved, if known.
    pub object: Option<Hash>,
    /// What is wrong.
    pub message: String,
}

/// A pack that is missing, truncated or fails verification, and who needs it.
#[derive(Debug, Clone, Serialize)]
pub struct DamagedPack {
    /// The pack.
    pub pack: PackId,
    /// What is wrong with it (the first problem found).
    pub reason: String,
    /// Live checkpoints with an object in it: they cannot be restored whole.
    pub needed_by: Vec<CommitId>,
}

/// What fsck checked and found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FsckReport {
    /// Packs checked.
    pub packs: u64,
    /// Objects checked.
    pub objects: u64,
    /// Checkpoints walked.
    pub checkpoints: u64,
    /// Problems: the repository is damaged if this is not empty.
    pub errors: Vec<Problem>,
    /// Damaged packs and the checkpoints that need them.
    pub damaged_packs: Vec<DamagedPack>,
    /// Packs on the backend the index does not know (a crashed writer's, or another
    /// index's; see `reel gc`).
    pub unreferenced_packs: Vec<PackId>,
}

impl FsckReport {
    /// Whether nothing is wrong.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    fn problem(&mut self, pack: Option<PackId>, object: Option<Hash>, message: String) {
        self.errors.push(Problem {
            pack,
            object,
            message,
        });
    }
}

/// Packs found damaged so far, with the first reason.
type Damaged = HashMap<PackId, String>;

/// Commits, trees and manifests already read and verified by `read_data`, so the walk
/// of the checkpoints does not read them again: fsck reads each byte once.
type Preloaded = HashMap<Hash, Vec<u8>>;

/// Checks the repository.
pub fn fsck(engine: &Engine, read_data: bool) -> Result<FsckReport> {
    let mut report = FsckReport::default();
    let mut damaged = Damaged::new();
    let mut preloaded = Preloaded::new();
    let blobs: HashMap<PackId, u64> = engine
        .backend
        .list("packs/")?
        .into_iter()
        .filter_map(|b| parse_pack_name(&b.name).map(|id| (id, b.size)))
        .collect();
    let packs = engine.index.packs()?;
    let indexed: HashSet<PackId> = packs.iter().map(|(id, _)| *id).collect();
    for (id, rec) in &packs {
        report.packs += 1;
        let why = match blobs.get(id) {
            None => Some("missing from the backend".to_owned()),
            Some(&size) if size != rec.size => {
                Some(format!("{size} bytes, the index says {}", rec.size))
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            report.problem(Some(*id), None, format!("pack is {why}"));
            damaged.entry(*id).or_insert(why);
        }
    }
    report.unreferenced_packs = blobs
        .keys()
        .filter(|id| !indexed.contains(id))
        .copied()
        .collect();
    let objects = engine.index.objects()?;
    for (id, loc) in &objects {
        if !indexed.contains(&loc.pack) {
            report.problem(
                Some(loc.pack),
                Some(*id),
                "object's pack is not indexed".into(),
            );
        }
    }
    if read_data {
        let mut by_pack: HashMap<PackId, Vec<(Hash, ObjectLocation)>> = HashMap::new();
        for (id, loc) in objects {
            by_pack.entry(loc.pack).or_default().push((id, loc));
        }
        for (pack, objs) in by_pack {
            if blobs.contains_key(&pack) {
                let found = read_pack(engine, pack, &objs, &mut report, &mut damaged);
                preloaded.extend(found);
            }
        }
    }
    walk_checkpoints(engine, &mut report, &damaged, &preloaded)?;
    Ok(report)
}

/// Walks every live checkpoint; records what it cannot read and which damaged packs it
/// needs.
fn walk_checkpoints(
    engine: &Engine,
    report: &mut FsckReport,
    damaged: &Damaged,
    preloaded: &Preloaded,
) -> Result<()> {
    let mut roots: Vec<CommitId> = engine
        .index
        .checkpoints()?
        .into_iter()
        .map(|r| r.id)
        .collect();
    for source in &engine.root_sources {
        roots.extend(source.roots(engine)?.commits);
    }
    let mut walker = Walker {
        engine,
        damaged,
        preloaded,
        memo: HashMap::new(),
        problems: Vec::new(),
    };
    let mut needed: HashMap<PackId, BTreeSet<CommitId>> = HashMap::new();
    let mut seen = HashSet::new();
    for id in roots {
        if !seen.insert(id) {
            continue;
        }
        report.checkpoints += 1;
        for pack in walker.commit(id)? {
            needed.entry(pack).or_default().insert(id);
        }
    }
    for (object, message) in walker.problems {
        report.problem(None, object, message);
    }
    let mut list: Vec<DamagedPack> = damaged
        .iter()
        .map(|(pack, reason)| DamagedPack {
            pack: *pack,
            reason: reason.clone(),
            needed_by: needed
                .remove(pack)
                .map(|s| s.into_iter().collect())
                .unwrap_or_default(),
        })
        .collect();
    list.sort_by_key(|d| d.pack);
    report.damaged_packs = list;
    Ok(())
}

struct Walker<'a> {
    engine: &'a Engine,
    damaged: &'a Damaged,
    preloaded: &'a Preloaded,
    /// Tree → the damaged packs something below it needs.
    memo: HashMap<TreeId, BTreeSet<PackId>>,
    problems: Vec<(Option<Hash>, String)>,
}

impl Walker<'_> {
    /// The damaged packs a checkpoint needs (its unreadable objects are recorded).
    fn commit(&mut self, id: CommitId) -> Result<BTreeSet<PackId>> {
        let mut needs = BTreeSet::new();
        self.object(&id.0, &mut needs)?;
        match self
            .preloaded(&id.0)
            .map_or_else(|| self.engine.read_commit(&id), Ok)
        {
            Ok(c) => needs.extend(self.tree(c.tree)?),
            Err(e) => self.unreadable(id.0, e, &format!("checkpoint {}", id.short()))?,
        }
        Ok(needs)
    }

    /// Locates an object; notes its pack if damaged.
    fn object(&mut self, id: &Hash, needs: &mut BTreeSet<PackId>) -> Result<bool> {
        let Some(loc) = self.engine.index.location(id)? else {
            self.problems
                .push((Some(*id), format!("object {} is not indexed", id.short())));
            return Ok(false);
        };
        if self.damaged.contains_key(&loc.pack) {
            needs.insert(loc.pack);
        }
        if loc.compression == crate::object::codec::Compression::Delta {
            self.delta_bases(id, &loc, needs)?;
        }
        Ok(true)
    }

    /// Locates the bases of delta `id` (and theirs, at most a chain's limit deep):
    /// a delta needs them to be read.
    fn delta_bases(
        &mut self,
        id: &Hash,
        loc: &ObjectLocation,
        needs: &mut BTreeSet<PackId>,
    ) -> Result<()> {
        let mut deltas = vec![(*id, *loc)];
        for _ in 0..crate::object::delta::MAX_DEPTH {
            let mut next = Vec::new();
            for (id, loc) in deltas {
                let header = match self.engine.delta_header(&id, &loc) {
                    Ok(h) => h,
                    Err(e) => return self.unreadable(id, e, &format!("delta {}", id.short())),
                };
                for base in header.bases {
                    let Some(base_loc) = self.engine.index.location(&base)? else {
                        let why = format!(
                            "delta base {} of {} is not indexed",
                            base.short(),
                            id.short()
                        );
                        self.problems.push((Some(id), why));
                        continue;
                    };
                    if self.damaged.contains_key(&base_loc.pack) {
                        needs.insert(base_loc.pack);
                    }
                    if base_loc.compression == crate::object::codec::Compression::Delta {
                        next.push((base, base_loc));
                    }
                }
            }
            if next.is_empty() {
                return Ok(());
            }
            deltas = next;
        }
        self.problems.push((
            Some(*id),
            format!("delta {} has a chain too deep", id.short()),
        ));
        Ok(())
    }

    fn tree(&mut self, id: TreeId) -> Result<BTreeSet<PackId>> {
        if let Some(n) = self.memo.get(&id) {
            return Ok(n.clone());
        }
        let mut needs = BTreeSet::new();
        if self.object(&id.0, &mut needs)? {
            match self
                .preloaded(&id.0)
                .map_or_else(|| self.engine.read_tree(&id), Ok)
            {
                Ok(tree) => {
                    for e in tree.entries() {
                        match e.kind {
                            EntryKind::Dir => needs.extend(self.tree(e.tree_id())?),
                            EntryKind::Symlink => {
                                self.object(&e.id, &mut needs)?;
                            }
                            EntryKind::File => self.file(e.id, &mut needs)?,
                        }
                    }
                }
                Err(e) => self.unreadable(id.0, e, &format!("tree {}", id.short()))?,
            }
        }
        self.memo.insert(id, needs.clone());
        Ok(needs)
    }

    fn file(&mut self, id: Hash, needs: &mut BTreeSet<PackId>) -> Result<()> {
        if !self.object(&id, needs)? {
            return Ok(());
        }
        let preloaded = self.preloaded(&id).map(Some);
        match preloaded.map_or_else(|| self.engine.read_manifest(&id), Ok) {
            Ok(Some(m)) => {
                for c in m.chunks {
                    self.object(&c.id, needs)?;
                }
            }
            Ok(None) => {}
            Err(e) => self.unreadable(id, e, &format!("file {}", id.short()))?,
        }
        Ok(())
    }

    /// An object `read_data` read and verified already, decoded (`None` if it has not,
    /// or if it does not decode: the engine's read then reports the damage).
    fn preloaded<T>(&self, id: &Hash) -> Option<T>
    where
        T: crate::object::Canonical + serde::Serialize + serde::de::DeserializeOwned,
    {
        crate::object::decode(self.preloaded.get(id)?).ok()
    }

    /// Records damage; any other error (the backend is unreachable, say) stops fsck,
    /// which could otherwise not tell damage from an outage.
    fn unreadable(&mut self, id: Hash, e: Error, what: &str) -> Result<()> {
        match e {
            Error::NotFound { .. } | Error::Corrupt { .. } => {
                self.problems.push((Some(id), format!("{what}: {e}")));
                Ok(())
            }
            other => Err(other),
        }
    }
}

/// Reads a pack once and verifies it and every object in it from those bytes; returns
/// the raw bytes of its verified commits, trees and manifests.
fn read_pack(
    engine: &Engine,
    pack: PackId,
    objs: &[(Hash, ObjectLocation)],
    report: &mut FsckReport,
    damaged: &mut Damaged,
) -> Preloaded {
    let mut found = Preloaded::new();
    let mut fail = |report: &mut FsckReport, object: Option<Hash>, message: String| {
        damaged.entry(pack).or_insert_with(|| message.clone());
        report.problem(Some(pack), object, message);
    };
    let bytes = match engine.backend.get(&pack_name(&pack)) {
        Ok(b) => b,
        Err(e) => {
            fail(report, None, format!("unreadable: {e}"));
            return found;
        }
    };
    if Hash::of(&bytes) != pack.0 {
        fail(report, None, "pack bytes do not hash to its name".into());
    }
    match parse_pack(&bytes) {
        Ok(entries) => {
            let listed: HashSet<Hash> = entries.iter().map(|e| e.id).collect();
            for (id, _) in objs {
                if !listed.contains(id) {
                    fail(
                        report,
                        Some(*id),
                        "object is not in the pack's trailer".into(),
                    );
                }
            }
        }
        Err(e) => fail(report, None, format!("trailer: {e}")),
    }
    // In pack order, so the members of a solid block are read one after another and
    // their block is decompressed once (the index lists them by id).
    let mut in_order: Vec<&(Hash, ObjectLocation)> = objs.iter().collect();
    in_order.sort_by_key(|(_, loc)| loc.offset);
    for (id, loc) in in_order {
        report.objects += 1;
        match verify_object(engine, &bytes, id, loc) {
            Ok(raw) if loc.kind != ObjectKind::Chunk => {
                found.insert(*id, raw);
            }
            Ok(_) => {}
            Err(e) => fail(report, Some(*id), e),
        }
    }
    found
}

/// Decompresses one object from its pack's bytes (a delta against its bases, read
/// through `engine`) and checks it against its id; returns its raw bytes.
fn verify_object(
    engine: &Engine,
    pack: &[u8],
    id: &Hash,
    loc: &ObjectLocation,
) -> std::result::Result<Vec<u8>, String> {
    let start = loc.offset as usize;
    let end = start + loc.stored_len as usize;
    let stored = pack
        .get(start..end)
        .ok_or_else(|| format!("object ends at {end}, past the pack's {} bytes", pack.len()))?;
    let raw = engine
        .decode_stored(id, loc, stored, crate::object::delta::MAX_DEPTH)
        .map_err(|e| e.to_string())?;
    crate::engine::read::verify(id, loc, &raw).map_err(|e| e.to_string())?;
    if loc.kind == ObjectKind::Manifest {
        crate::object::decode::<Manifest>(&raw).map_err(|e| e.to_string())?;
    }
    Ok(raw)
}
