//! Trees: one directory's entries, sorted bytewise by name.

use serde::{Deserialize, Serialize};

use super::encoding::{Canonical, EnvelopeTag};
use crate::hash::{Hash, TreeId};

/// Longest entry name, in bytes (the common filesystem limit).
pub const MAX_NAME_LEN: usize = 255;

/// What a tree entry points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file; `id` is the BLAKE3 of its content.
    File,
    /// A directory; `id` is a tree id.
    Dir,
    /// A symbolic link; `id` is the BLAKE3 of the target, stored as a chunk.
    Symlink,
}

impl EntryKind {
    /// Lowercase name, for messages and JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
        }
    }
}

/// One name in a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// UTF-8, no `/`, not `.` or `..`, no NUL, at most 255 bytes.
    pub name: String,
    /// File, directory or symlink.
    pub kind: EntryKind,
    /// The owner-execute bit (files only).
    pub executable: bool,
    /// File: its length; symlink: the target's length; dir: total bytes of files below.
    pub size: u64,
    /// Content id (file, symlink target) or tree id (dir).
    pub id: Hash,
}

impl TreeEntry {
    /// The entry's id as a tree id (meaningful for directories).
    #[must_use]
    pub fn tree_id(&self) -> TreeId {
        TreeId(self.id)
    }
}

/// A directory listing. Entries are sorted bytewise by name and unique.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    entries: Vec<TreeEntry>,
}

impl Tree {
    /// Builds a tree from entries in any order; fails on a bad or duplicate name.
    pub fn from_entries(mut entries: Vec<TreeEntry>) -> Result<Tree, super::ObjectError> {
        entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        let tree = Tree { entries };
        tree.validate().map_err(super::ObjectError::Invalid)?;
        Ok(tree)
    }

    /// The entries, sorted by name.
    #[must_use]
    pub fn entries(&self) -> &[TreeEntry] {
        &self.entries
    }

    /// Finds an entry by name (binary search).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&TreeEntry> {
        self.entries
            .binary_search_by(|e| e.name.as_bytes().cmp(name.as_bytes()))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Total bytes of the files in this tree and below.
    #[must_use]
    pub fn total_size(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.kind != EntryKind::Symlink)
            .map(|e| e.size)
            .sum()
    }
}

/// Checks one entry name; the message names the rule it breaks.
pub fn validate_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not a valid entry name"));
    }
    if name.contains('/') || name.contains('\0') {
        return Err(format!("name {name:?} contains `/` or NUL"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("name {name:?} is longer than {MAX_NAME_LEN} bytes"));
    }
    Ok(())
}

impl Canonical for Tree {
    const TAG: EnvelopeTag = EnvelopeTag::Tree;

    fn validate(&self) -> std::result::Result<(), String> {
        for e in &self.entries {
            validate_name(&e.name)?;
            if e.executable && e.kind != EntryKind::File {
                return Err(format!("{:?}: only files carry an executable bit", e.name));
            }
        }
        for pair in self.entries.windows(2) {
            if pair[0].name.as_bytes() >= pair[1].name.as_bytes() {
                return Err(format!(
                    "entries {:?} and {:?} are unsorted or duplicate",
                    pair[0].name, pair[1].name
                ));
            }
        }
        Ok(())
    }
}

/// The id of the empty tree (no entries). It needs no storage: every project starts
/// from it, and readers answer it without a lookup.
#[must_use]
pub fn empty_tree_id() -> TreeId {
    static ID: std::sync::OnceLock<TreeId> = std::sync::OnceLock::new();
    *ID.get_or_init(|| {
        let bytes = super::encode(&Tree::default()).expect("the empty tree encodes");
        TreeId(Hash::of(&bytes))
    })
}
