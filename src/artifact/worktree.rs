//! The working tree: base tree + overlay. Reads look in the overlay, then the base.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::error::ArtifactError;
use super::overlay::{self, OverlayEntry, OverlayRow};
use super::path::ProjectPath;
use super::project::ProjectRecord;
use crate::engine::Engine;
use crate::engine::ingest::Pipeline;
use crate::error::{Error, ItemKind, Result};
use crate::hash::{Hash, TreeId};
use crate::index::ArtifactTx;
use crate::object::{EntryKind, ObjectKind, Tree, TreeEntry, encode};

/// What a path holds in a working tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A file.
    File {
        /// Owner-execute bit.
        executable: bool,
        /// Length.
        size: u64,
        /// Content id.
        id: Hash,
        /// Bytes kept in the overlay, if any.
        inline: Option<Vec<u8>>,
    },
    /// A symlink with its target.
    Symlink {
        /// Target id.
        id: Hash,
        /// Target length.
        size: u64,
    },
    /// A directory; `base` is the stored tree it inherits, if any.
    Dir {
        /// Inherited tree.
        base: Option<TreeId>,
        /// Its size, when known from the base entry.
        size: Option<u64>,
    },
}

/// One listed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct FileInfo {
    /// Path in the project.
    pub path: String,
    /// File, dir or symlink.
    pub kind: EntryKind,
    /// Size in bytes (files and symlinks).
    pub size: u64,
    /// Content id (files and symlinks).
    pub id: Option<Hash>,
    /// Executable bit.
    pub executable: bool,
}

fn from_base(e: &TreeEntry) -> Node {
    match e.kind {
        EntryKind::File => Node::File {
            executable: e.executable,
            size: e.size,
            id: e.id,
            inline: None,
        },
        EntryKind::Symlink => Node::Symlink {
            id: e.id,
            size: e.size,
        },
        EntryKind::Dir => Node::Dir {
            base: Some(e.tree_id()),
            size: Some(e.size),
        },
    }
}

fn from_overlay(entry: &OverlayEntry) -> Option<Node> {
    Some(match entry {
        OverlayEntry::Deleted => return None,
        OverlayEntry::Dir => Node::Dir {
            base: None,
            size: Some(0),
        },
        OverlayEntry::Tree(t) => Node::Dir {
            base: Some(*t),
            size: None,
        },
        OverlayEntry::File {
            executable,
            size,
            id,
            inline,
        } => Node::File {
            executable: *executable,
            size: *size,
            id: *id,
            inline: inline.clone(),
        },
        OverlayEntry::Symlink { target } => Node::Symlink {
            id: Hash::of(target),
            size: target.len() as u64,
        },
    })
}

/// A working tree seen through one transaction.
pub struct Worktree<'a> {
    /// The engine (for base trees).
    pub engine: &'a Engine,
    /// The transaction.
    pub tx: &'a ArtifactTx<'a>,
    /// The project.
    pub project: &'a ProjectRecord,
}

impl Worktree<'_> {
    fn row(&self, path: &str) -> Result<Option<OverlayRow>> {
        self.tx
            .overlay(&overlay::key(self.project, path))?
            .map(|b| OverlayRow::from_bytes(&b))
            .transpose()
    }

    /// What `path` holds, or `None`.
    pub fn lookup(&self, path: &ProjectPath) -> Result<Option<Node>> {
        let segments: Vec<&str> = path.segments().collect();
        let mut base_dir = Some(self.project.base);
        let mut at = String::new();
        for (i, seg) in segments.iter().enumerate() {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(seg);
            let last = i + 1 == segments.len();
            let node = match self.row(&at)? {
                Some(row) => from_overlay(&row.entry),
                None => match base_dir {
                    Some(t) => self.engine.read_tree(&t)?.get(seg).map(from_base),
                    None => None,
                },
            };
            match node {
                Some(n) if last => return Ok(Some(n)),
                Some(Node::Dir { base, .. }) => base_dir = base,
                None | Some(_) => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The children of directory `dir` (the root when `None`), by name.
    pub fn children(&self, dir: Option<&ProjectPath>) -> Result<BTreeMap<String, Node>> {
        let base = match dir {
            None => Some(self.project.base),
            Some(d) => match self.lookup(d)? {
                Some(Node::Dir { base, .. }) => base,
                Some(_) => return Err(ArtifactError::NotADirectory(d.to_string()).into()),
                None => return Err(Error::not_found(ItemKind::Path, d.as_str())),
            },
        };
        let mut out = BTreeMap::new();
        if let Some(t) = base {
            for e in self.engine.read_tree(&t)?.entries() {
                out.insert(e.name.clone(), from_base(e));
            }
        }
        let prefix = match dir {
            None => overlay::generation_prefix(self.project),
            Some(d) => format!("{}/", overlay::key(self.project, d.as_str())),
        };
        for (key, bytes) in self.tx.overlay_prefix(&prefix)? {
            let name = &key[prefix.len()..];
            if name.contains('/') {
                continue;
            }
            match from_overlay(&OverlayRow::from_bytes(&bytes)?.entry) {
                Some(node) => out.insert(name.to_owned(), node),
                None => out.remove(name),
            };
        }
        Ok(out)
    }

    /// Lists a directory, or everything below it when `recursive`.
    pub fn list(&self, dir: Option<&ProjectPath>, recursive: bool) -> Result<Vec<FileInfo>> {
        let mut out = Vec::new();
        self.list_into(dir, recursive, &mut out)?;
        Ok(out)
    }

    fn list_into(
        &self,
        dir: Option<&ProjectPath>,
        recursive: bool,
        out: &mut Vec<FileInfo>,
    ) -> Result<()> {
        for (name, node) in self.children(dir)? {
            let path = match dir {
                Some(d) => format!("{d}/{name}"),
                None => name,
            };
            let info = match &node {
                Node::File {
                    executable,
                    size,
                    id,
                    ..
                } => FileInfo {
                    path: path.clone(),
                    kind: EntryKind::File,
                    size: *size,
                    id: Some(*id),
                    executable: *executable,
                },
                Node::Symlink { id, size } => FileInfo {
                    path: path.clone(),
                    kind: EntryKind::Symlink,
                    size: *size,
                    id: Some(*id),
                    executable: false,
                },
                Node::Dir { size, .. } => FileInfo {
                    path: path.clone(),
                    kind: EntryKind::Dir,
                    size: size.unwrap_or(0),
                    id: None,
                    executable: false,
                },
            };
            out.push(info);
            if recursive && matches!(node, Node::Dir { .. }) {
                self.list_into(Some(&ProjectPath::parse(&path)?), true, out)?;
            }
        }
        Ok(())
    }

    /// Writes a row for `path` with the next sequence number (the caller saves the
    /// project record afterwards).
    pub fn put(&self, project: &mut ProjectRecord, path: &str, entry: OverlayEntry) -> Result<()> {
        project.overlay_seq += 1;
        let row = OverlayRow {
            seq: project.overlay_seq,
            entry,
        };
        self.tx
            .put_overlay(&overlay::key(project, path), &row.to_bytes())
    }

    /// Makes every ancestor of `path` a directory, creating missing ones; fails if one
    /// is a file.
    pub fn ensure_parents(&self, project: &mut ProjectRecord, path: &ProjectPath) -> Result<()> {
        for anc in path.ancestors() {
            let anc_path = ProjectPath::parse(anc)?;
            match self.lookup(&anc_path)? {
                Some(Node::Dir { .. }) => {}
                Some(_) => return Err(ArtifactError::IsAFile(anc.to_owned()).into()),
                None => self.put(project, anc, OverlayEntry::Dir)?,
            }
        }
        Ok(())
    }

    /// Rows of the current generation below `path` (its descendants).
    pub fn descendants(&self, path: &str) -> Result<Vec<(String, OverlayRow)>> {
        let prefix = format!("{}/", overlay::key(self.project, path));
        self.tx
            .overlay_prefix(&prefix)?
            .into_iter()
            .map(|(k, b)| Ok((k[prefix.len()..].to_owned(), OverlayRow::from_bytes(&b)?)))
            .collect()
    }

    /// Every row of the current generation, by path.
    pub fn rows(&self) -> Result<Vec<(String, OverlayRow)>> {
        let prefix = overlay::generation_prefix(self.project);
        self.tx
            .overlay_prefix(&prefix)?
            .into_iter()
            .map(|(k, b)| Ok((k[prefix.len()..].to_owned(), OverlayRow::from_bytes(&b)?)))
            .collect()
    }
}

/// Folds overlay `rows` onto `base` into new trees, visiting only the directories the
/// rows touch; offers every new tree and inline content to `pipe`. Returns the root.
pub fn fold(
    engine: &Engine,
    pipe: &Pipeline,
    base: TreeId,
    rows: &[(String, OverlayRow)],
) -> Result<(TreeId, HashMap<TreeId, Tree>)> {
    let mut dirty: HashSet<&str> = HashSet::from([""]);
    let mut by_parent: HashMap<&str, Vec<(&str, &OverlayEntry)>> = HashMap::new();
    for (path, row) in rows {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        by_parent
            .entry(parent)
            .or_default()
            .push((name, &row.entry));
        let mut p = parent;
        loop {
            dirty.insert(p);
            match p.rsplit_once('/') {
                Some((up, _)) => p = up,
                None if !p.is_empty() => p = "",
                None => break,
            }
        }
        if matches!(row.entry, OverlayEntry::Dir | OverlayEntry::Tree(_)) {
            dirty.insert(path);
        }
    }
    let mut built = HashMap::new();
    let folder = Folder {
        engine,
        pipe,
        dirty: &dirty,
        by_parent: &by_parent,
    };
    let root = folder.build("", Some(base), &mut built)?;
    Ok((root, built))
}

struct Folder<'a> {
    engine: &'a Engine,
    pipe: &'a Pipeline,
    dirty: &'a HashSet<&'a str>,
    by_parent: &'a HashMap<&'a str, Vec<(&'a str, &'a OverlayEntry)>>,
}

impl Folder<'_> {
    /// Builds (and offers) the tree of `dir`: its base's entries with the overlay's
    /// edits applied, dirty subdirectories rebuilt, clean ones reused by id.
    fn build(
        &self,
        dir: &str,
        base: Option<TreeId>,
        built: &mut HashMap<TreeId, Tree>,
    ) -> Result<TreeId> {
        let mut tree_entries = Vec::new();
        for (name, node) in self.merged(dir, base)? {
            tree_entries.push(self.entry(dir, name, &node, built)?);
        }
        let tree = Tree::from_entries(tree_entries)?;
        let bytes = encode(&tree)?;
        let id = TreeId(Hash::of(&bytes));
        self.pipe.offer(ObjectKind::Tree, id.0, bytes)?;
        built.insert(id, tree);
        Ok(id)
    }

    /// The entries of `dir`: the base tree's, then the overlay's edits (offering the
    /// bytes of inline files and symlink targets, which have no stored object yet).
    fn merged(&self, dir: &str, base: Option<TreeId>) -> Result<BTreeMap<String, Node>> {
        let mut entries: BTreeMap<String, Node> = BTreeMap::new();
        if let Some(t) = base {
            for e in self.engine.read_tree(&t)?.entries() {
                entries.insert(e.name.clone(), from_base(e));
            }
        }
        for (name, entry) in self.by_parent.get(dir).into_iter().flatten() {
            if let OverlayEntry::File {
                inline: Some(bytes),
                id,
                ..
            } = entry
            {
                self.pipe.offer(ObjectKind::Chunk, *id, bytes.clone())?;
            }
            if let OverlayEntry::Symlink { target } = entry {
                self.pipe
                    .offer(ObjectKind::Chunk, Hash::of(target), target.clone())?;
            }
            match from_overlay(entry) {
                Some(node) => entries.insert((*name).to_owned(), node),
                None => entries.remove(*name),
            };
        }
        Ok(entries)
    }

    /// One tree entry of `dir`; a directory is rebuilt when dirty.
    fn entry(
        &self,
        dir: &str,
        name: String,
        node: &Node,
        built: &mut HashMap<TreeId, Tree>,
    ) -> Result<TreeEntry> {
        let (kind, executable, size, id) = match *node {
            Node::File {
                executable,
                size,
                id,
                ..
            } => (EntryKind::File, executable, size, id),
            Node::Symlink { id, size } => (EntryKind::Symlink, false, size, id),
            Node::Dir { base, size } => {
                let child = if dir.is_empty() {
                    name.clone()
                } else {
                    format!("{dir}/{name}")
                };
                let (id, size) = if self.dirty.contains(child.as_str()) {
                    let id = self.build(&child, base, built)?;
                    (id, built[&id].total_size())
                } else if let Some(b) = base {
                    let size = match size {
                        Some(s) => s,
                        None => self.engine.read_tree(&b)?.total_size(),
                    };
                    (b, size)
                } else {
                    (self.build(&child, None, built)?, 0)
                };
                (EntryKind::Dir, false, size, id.0)
            }
        };
        Ok(TreeEntry {
            name,
            kind,
            executable,
            size,
            id,
        })
    }
}
