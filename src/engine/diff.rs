//! Tree diff. Walks two trees together and never descends into equal subtree ids, so the
//! cost is proportional to what changed, not to the size of the trees.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::engine::Engine;
use crate::error::Result;
use crate::hash::{Hash, TreeId};
use crate::object::{EntryKind, Tree, TreeEntry};

/// Loads trees by id. The engine reads stored ones; an overlay adds unstored ones.
pub trait TreeLoader {
    /// The tree with this id.
    fn load(&self, id: &TreeId) -> Result<Tree>;
}

impl TreeLoader for Engine {
    fn load(&self, id: &TreeId) -> Result<Tree> {
        self.read_tree(id)
    }
}

/// Stored trees plus trees only built in memory (a scanned directory).
#[derive(Debug)]
pub struct Overlay<'a> {
    /// Where stored trees come from.
    pub engine: &'a Engine,
    /// Trees that may not be stored.
    pub trees: &'a HashMap<TreeId, Tree>,
}

impl TreeLoader for Overlay<'_> {
    fn load(&self, id: &TreeId) -> Result<Tree> {
        match self.trees.get(id) {
            Some(t) => Ok(t.clone()),
            None => self.engine.read_tree(id),
        }
    }
}

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Only on the new side.
    Added,
    /// Only on the old side.
    Removed,
    /// On both sides with different content, kind or executable bit.
    Modified,
    /// Removed at `from`, added at `path` with the same content id.
    Renamed,
}

/// One changed path (files and symlinks; directories are expanded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct Change {
    /// What happened.
    pub change: ChangeKind,
    /// The path on the new side (on the old side for removals).
    pub path: String,
    /// The old path of a rename.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// File or symlink.
    pub kind: EntryKind,
    /// Size on the old side.
    pub old_size: Option<u64>,
    /// Size on the new side.
    pub new_size: Option<u64>,
    /// Content id on the old side.
    pub old_id: Option<Hash>,
    /// Content id on the new side.
    pub new_id: Option<Hash>,
    /// For a rename: how much of the old content the new one keeps, in percent (100:
    /// the same bytes; less: a rename with edits, found by line similarity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<u8>,
}

/// Totals for `--stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiffStat {
    /// Added paths.
    pub added: usize,
    /// Removed paths.
    pub removed: usize,
    /// Modified paths.
    pub modified: usize,
    /// Renamed paths.
    pub renamed: usize,
    /// Bytes on the new side of added and modified paths.
    pub bytes_added: u64,
    /// Bytes on the old side of removed and modified paths.
    pub bytes_removed: u64,
}

impl DiffStat {
    /// Sums a change list.
    #[must_use]
    pub fn of(changes: &[Change]) -> DiffStat {
        let mut s = DiffStat::default();
        for c in changes {
            match c.change {
                ChangeKind::Added => s.added += 1,
                ChangeKind::Removed => s.removed += 1,
                ChangeKind::Modified => s.modified += 1,
                ChangeKind::Renamed => s.renamed += 1,
            }
            if c.change != ChangeKind::Renamed {
                s.bytes_added += c.new_size.unwrap_or(0);
                s.bytes_removed += c.old_size.unwrap_or(0);
            }
        }
        s
    }
}

/// The changes that turn tree `old` into tree `new`, sorted by path, renames paired.
pub fn diff_trees(loader: &dyn TreeLoader, old: TreeId, new: TreeId) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    walk(loader, "", old, new, &mut out)?;
    pair_renames(&mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// `prefix/name`, or `name` at the root.
pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

fn walk(
    loader: &dyn TreeLoader,
    prefix: &str,
    old: TreeId,
    new: TreeId,
    out: &mut Vec<Change>,
) -> Result<()> {
    if old == new {
        return Ok(());
    }
    let (old_tree, new_tree) = (loader.load(&old)?, loader.load(&new)?);
    let (mut i, mut j) = (0, 0);
    let (ae, be) = (old_tree.entries(), new_tree.entries());
    while i < ae.len() || j < be.len() {
        let order = match (ae.get(i), be.get(j)) {
            (Some(x), Some(y)) => x.name.as_bytes().cmp(y.name.as_bytes()),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                one_side(loader, prefix, &ae[i], ChangeKind::Removed, out)?;
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                one_side(loader, prefix, &be[j], ChangeKind::Added, out)?;
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                both(loader, prefix, &ae[i], &be[j], out)?;
                i += 1;
                j += 1;
            }
        }
    }
    Ok(())
}

fn both(
    loader: &dyn TreeLoader,
    prefix: &str,
    x: &TreeEntry,
    y: &TreeEntry,
    out: &mut Vec<Change>,
) -> Result<()> {
    let path = join(prefix, &x.name);
    match (x.kind, y.kind) {
        (EntryKind::Dir, EntryKind::Dir) => walk(loader, &path, x.tree_id(), y.tree_id(), out),
        (a, b) if a == b => {
            if x.id != y.id || x.executable != y.executable {
                out.push(Change {
                    change: ChangeKind::Modified,
                    path,
                    from: None,
                    kind: y.kind,
                    old_size: Some(x.size),
                    new_size: Some(y.size),
                    old_id: Some(x.id),
                    new_id: Some(y.id),
                    similarity: None,
                });
            }
            Ok(())
        }
        _ => {
            one_side(loader, prefix, x, ChangeKind::Removed, out)?;
            one_side(loader, prefix, y, ChangeKind::Added, out)
        }
    }
}

fn one_side(
    loader: &dyn TreeLoader,
    prefix: &str,
    e: &TreeEntry,
    change: ChangeKind,
    out: &mut Vec<Change>,
) -> Result<()> {
    let path = join(prefix, &e.name);
    if e.kind == EntryKind::Dir {
        for child in loader.load(&e.tree_id())?.entries() {
            one_side(loader, &path, child, change, out)?;
        }
        return Ok(());
    }
    let added = change == ChangeKind::Added;
    out.push(Change {
        change,
        path,
        from: None,
        kind: e.kind,
        old_size: (!added).then_some(e.size),
        new_size: added.then_some(e.size),
        old_id: (!added).then_some(e.id),
        new_id: added.then_some(e.id),
        similarity: None,
    });
    Ok(())
}

/// Pairs each removal with an addition of the same content id and kind, one to one.
fn pair_renames(changes: &mut Vec<Change>) {
    let mut removed: HashMap<(Hash, EntryKind), Vec<usize>> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        if c.change == ChangeKind::Removed {
            let id = c.old_id.expect("removals carry an old id");
            removed.entry((id, c.kind)).or_default().push(i);
        }
    }
    let mut pairs = Vec::new();
    for (a, c) in changes.iter().enumerate() {
        if c.change == ChangeKind::Added {
            let id = c.new_id.expect("additions carry a new id");
            if let Some(r) = removed.get_mut(&(id, c.kind)).and_then(Vec::pop) {
                pairs.push((a, r));
            }
        }
    }
    let consumed: HashSet<usize> = pairs.iter().map(|&(_, r)| r).collect();
    for (a, r) in pairs {
        let from = changes[r].path.clone();
        let c = &mut changes[a];
        c.change = ChangeKind::Renamed;
        c.from = Some(from);
        c.old_id = c.new_id;
        c.old_size = c.new_size;
        c.similarity = Some(100);
    }
    let mut i = 0;
    changes.retain(|_| {
        i += 1;
        !consumed.contains(&(i - 1))
    });
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::object::encode;

    /// Trees in memory, counting loads.
    #[derive(Default)]
    struct Counting {
        trees: HashMap<TreeId, Tree>,
        loads: Cell<usize>,
    }

    impl Counting {
        fn add(&mut self, entries: Vec<TreeEntry>) -> TreeId {
            let tree = Tree::from_entries(entries).unwrap();
            let id = TreeId(Hash::of(&encode(&tree).unwrap()));
            self.trees.insert(id, tree);
            id
        }
    }

    impl TreeLoader for Counting {
        fn load(&self, id: &TreeId) -> Result<Tree> {
            self.loads.set(self.loads.get() + 1);
            Ok(self.trees[id].clone())
        }
    }

    fn file(name: &str, content: &str) -> TreeEntry {
        TreeEntry {
            name: name.into(),
            kind: EntryKind::File,
            executable: false,
            size: content.len() as u64,
            id: Hash::of(content.as_bytes()),
        }
    }

    fn dir(name: &str, id: TreeId) -> TreeEntry {
        TreeEntry {
            name: name.into(),
            kind: EntryKind::Dir,
            executable: false,
            size: 0,
            id: id.0,
        }
    }

    #[test]
    fn equal_subtrees_are_never_loaded() {
        let mut store = Counting::default();
        // 200 directories of 50 files each, shared by both sides.
        let mut big = Vec::new();
        for d in 0..200 {
            let files = (0..50)
                .map(|f| file(&format!("f{f}"), &format!("{d}/{f}")))
                .collect();
            let id = store.add(files);
            big.push(dir(&format!("d{d:03}"), id));
        }
        let shared = store.add(big);
        let old_src = store.add(vec![file("Root.tsx", "v1")]);
        let new_src = store.add(vec![file("Root.tsx", "v2")]);
        let old = store.add(vec![dir("assets", shared), dir("src", old_src)]);
        let new = store.add(vec![dir("assets", shared), dir("src", new_src)]);

        let changes = diff_trees(&store, old, new).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, "src/Root.tsx");
        assert_eq!(changes[0].change, ChangeKind::Modified);
        // Two roots and the two `src` trees: none of the 201 shared trees.
        assert_eq!(store.loads.get(), 4);
    }
}
