//! Integrity checks.
//!
//! Always: every indexed pack exists with the recorded size; every object of every live
//! checkpoint (commits, trees, manifests) is indexed, and trees and commits verify.
//! With `read_data`: every pack is read whole, its name must equal the BLAKE3 of its
//! bytes, its trailer must match the index, and every object is decompressed and
//! verified against its id.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::hash::{Hash, PackId};
use crate::index::ObjectLocation;
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
    /// Packs on the backend the index does not know (left by a crash; `gc` removes them).
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

/// Checks the repository.
pub fn fsck(engine: &Engine, read_data: bool) -> Result<FsckReport> {
    let mut report = FsckReport::default();
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
        match blobs.get(id) {
            None => report.problem(Some(*id), None, "pack is missing from the backend".into()),
            Some(&size) if size != rec.size => {
                report.problem(
                    Some(*id),
                    None,
                    format!("pack is {size} bytes, the index says {}", rec.size),
                );
            }
            Some(_) => {}
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
    walk_checkpoints(engine, &mut report)?;
    if read_data {
        let mut by_pack: HashMap<PackId, Vec<(Hash, ObjectLocation)>> = HashMap::new();
        for (id, loc) in objects {
            by_pack.entry(loc.pack).or_default().push((id, loc));
        }
        for (pack, objs) in by_pack {
            if blobs.contains_key(&pack) {
                read_pack(engine, pack, &objs, &mut report);
            }
        }
    }
    Ok(report)
}

fn walk_checkpoints(engine: &Engine, report: &mut FsckReport) -> Result<()> {
    let mut seen = HashSet::new();
    for row in engine.index.checkpoints()? {
        report.checkpoints += 1;
        if let Err(e) = check_commit(engine, row.id.0, &mut seen) {
            let object = match &e {
                Error::NotFound { .. } | Error::Corrupt { .. } => None,
                _ => return Err(e),
            };
            report.problem(None, object, format!("checkpoint {}: {e}", row.id.short()));
        }
    }
    Ok(())
}

fn check_commit(engine: &Engine, id: Hash, seen: &mut HashSet<Hash>) -> Result<()> {
    let commit = engine.read_commit(&crate::hash::CommitId(id))?;
    check_tree(engine, commit.tree.0, seen)
}

fn check_tree(engine: &Engine, id: Hash, seen: &mut HashSet<Hash>) -> Result<()> {
    if !seen.insert(id) {
        return Ok(());
    }
    for e in engine.read_tree(&crate::hash::TreeId(id))?.entries() {
        match e.kind {
            crate::object::EntryKind::Dir => check_tree(engine, e.id, seen)?,
            _ if seen.insert(e.id) => {
                if let Some(m) = engine.read_manifest(&e.id)? {
                    for c in m.chunks {
                        engine.locate(&c.id)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn read_pack(
    engine: &Engine,
    pack: PackId,
    objs: &[(Hash, ObjectLocation)],
    report: &mut FsckReport,
) {
    let bytes = match engine.backend.get(&pack_name(&pack)) {
        Ok(b) => b,
        Err(e) => {
            report.problem(Some(pack), None, format!("unreadable: {e}"));
            return;
        }
    };
    if Hash::of(&bytes) != pack.0 {
        report.problem(
            Some(pack),
            None,
            "pack bytes do not hash to its name".into(),
        );
    }
    match parse_pack(&bytes) {
        Ok(entries) => {
            let listed: HashSet<Hash> = entries.iter().map(|e| e.id).collect();
            for (id, _) in objs {
                if !listed.contains(id) {
                    report.problem(
                        Some(pack),
                        Some(*id),
                        "object is not in the pack's trailer".into(),
                    );
                }
            }
        }
        Err(e) => report.problem(Some(pack), None, format!("trailer: {e}")),
    }
    for (id, loc) in objs {
        report.objects += 1;
        let checked = engine
            .read_unverified(id, loc)
            .and_then(|raw| crate::read::verify(id, loc, &raw).map(|()| raw))
            .and_then(|raw| match loc.kind {
                crate::object::ObjectKind::Manifest => {
                    crate::object::decode::<crate::object::Manifest>(&raw).map(drop)
                }
                _ => Ok(()),
            });
        if let Err(e) = checked {
            report.problem(Some(pack), Some(*id), e.to_string());
        }
    }
}
