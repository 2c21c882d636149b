//! What a restore must change: the directory as scanned against the wanted tree, walked
//! together and never below equal subtree ids, so the work after the scan is
//! proportional to what differs, not to the size of the tree (a restore of a
//! 200,000-file tree that differs in one file looks at one path, not 200,000).

use std::collections::HashMap;

use crate::engine::diff::{TreeLoader, join};
use crate::error::Result;
use crate::hash::TreeId;
use crate::object::{EntryKind, Tree, TreeEntry};

/// One path where the disk and the wanted tree differ. Directories appear when one
/// side lacks them or has something else there; below them every path is listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Relative, `/`-separated. Parents come before what is below them.
    pub path: String,
    /// What is on disk (as scanned); `None`: nothing.
    pub cur: Option<TreeEntry>,
    /// What the restore wants there; `None`: nothing.
    pub want: Option<TreeEntry>,
    /// On disk below a path the restore turns into a file or symlink: it goes whether
    /// tracked or not.
    pub under_new_leaf: bool,
}

/// Whether two entries are the same thing on disk.
#[must_use]
pub fn same(a: &TreeEntry, b: &TreeEntry) -> bool {
    a.kind == b.kind && a.id == b.id && a.executable == b.executable
}

/// The steps that turn tree `current` (the scanned directory) into `wanted`.
pub fn plan(loader: &dyn TreeLoader, current: TreeId, wanted: TreeId) -> Result<Vec<Step>> {
    let mut out = Vec::new();
    walk(loader, "", Some(current), Some(wanted), false, &mut out)?;
    Ok(out)
}

/// The steps that turn what is on disk at `path` (`current`; `None`: nothing) into
/// `wanted` (`None`: nothing). The entries' names are not read: `path` names both.
pub fn plan_at(
    loader: &dyn TreeLoader,
    path: &str,
    current: Option<&TreeEntry>,
    wanted: Option<&TreeEntry>,
) -> Result<Vec<Step>> {
    let mut out = Vec::new();
    pair(loader, path, current, wanted, false, &mut out)?;
    Ok(out)
}

fn listing(loader: &dyn TreeLoader, id: Option<TreeId>) -> Result<Tree> {
    id.map_or_else(|| Ok(Tree::default()), |id| loader.load(&id))
}

fn walk(
    loader: &dyn TreeLoader,
    prefix: &str,
    cur: Option<TreeId>,
    want: Option<TreeId>,
    under_new_leaf: bool,
    out: &mut Vec<Step>,
) -> Result<()> {
    if cur.is_some() && cur == want {
        return Ok(());
    }
    let (cur_tree, want_tree) = (listing(loader, cur)?, listing(loader, want)?);
    let (ours, theirs) = (cur_tree.entries(), want_tree.entries());
    let (mut i, mut j) = (0, 0);
    while i < ours.len() || j < theirs.len() {
        let order = match (ours.get(i), theirs.get(j)) {
            (Some(x), Some(y)) => x.name.as_bytes().cmp(y.name.as_bytes()),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        let (c, w) = match order {
            std::cmp::Ordering::Less => (Some(&ours[i]), None),
            std::cmp::Ordering::Greater => (None, Some(&theirs[j])),
            std::cmp::Ordering::Equal => (Some(&ours[i]), Some(&theirs[j])),
        };
        i += usize::from(c.is_some());
        j += usize::from(w.is_some());
        let name = c.or(w).map(|e| e.name.as_str()).unwrap_or_default();
        pair(loader, &join(prefix, name), c, w, under_new_leaf, out)?;
    }
    Ok(())
}

/// The steps for one path: what is on disk there (`c`) against what is wanted (`w`).
fn pair(
    loader: &dyn TreeLoader,
    path: &str,
    c: Option<&TreeEntry>,
    w: Option<&TreeEntry>,
    under_new_leaf: bool,
    out: &mut Vec<Step>,
) -> Result<()> {
    match (dir(c), dir(w)) {
        (Some(c), Some(w)) => {
            return walk(
                loader,
                path,
                Some(c.tree_id()),
                Some(w.tree_id()),
                under_new_leaf,
                out,
            );
        }
        _ if c.zip(w).is_some_and(|(c, w)| same(c, w)) => return Ok(()),
        _ => {}
    }
    // A leaf where the other side has another leaf, a directory, or nothing.
    let below_leaf = under_new_leaf || w.is_some_and(|w| w.kind != EntryKind::Dir);
    out.push(Step {
        path: path.to_owned(),
        cur: c.cloned(),
        want: w.cloned(),
        under_new_leaf,
    });
    if let Some(c) = dir(c) {
        walk(loader, path, Some(c.tree_id()), None, below_leaf, out)?;
    }
    if let Some(w) = dir(w) {
        walk(loader, path, None, Some(w.tree_id()), false, out)?;
    }
    Ok(())
}

fn dir(e: Option<&TreeEntry>) -> Option<&TreeEntry> {
    e.filter(|e| e.kind == EntryKind::Dir)
}

/// Entries of one tree by path, loading each directory once.
pub struct Lookup<'a> {
    loader: &'a dyn TreeLoader,
    root: Option<TreeId>,
    trees: HashMap<TreeId, Tree>,
}

impl<'a> Lookup<'a> {
    /// Looks paths up in `root` (`None`: an empty tree).
    pub fn new(loader: &'a dyn TreeLoader, root: Option<TreeId>) -> Self {
        Lookup {
            loader,
            root,
            trees: HashMap::new(),
        }
    }

    /// The entry at `path`, if the tree has one.
    pub fn get(&mut self, path: &str) -> Result<Option<TreeEntry>> {
        let Some(mut tree) = self.root else {
            return Ok(None);
        };
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            if !self.trees.contains_key(&tree) {
                let loaded = self.loader.load(&tree)?;
                self.trees.insert(tree, loaded);
            }
            let Some(e) = self.trees[&tree].get(part) else {
                return Ok(None);
            };
            if parts.peek().is_none() {
                return Ok(Some(e.clone()));
            }
            if e.kind != EntryKind::Dir {
                return Ok(None);
            }
            tree = e.tree_id();
        }
        Ok(None)
    }
}
