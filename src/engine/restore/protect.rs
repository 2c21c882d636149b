//! What a restore must not touch: the user's changes, and the repository itself.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use crate::engine::ingest::is_repo_dir_name;
use crate::engine::{Engine, EngineError};
use crate::error::Result;
use crate::object::{EntryKind, TreeEntry};

/// Refuses a target inside the repository directory, and a tree that would write into
/// it (a `.reel` at any depth, or the path of a repository kept elsewhere).
pub fn check_paths(
    engine: &Engine,
    root: &Path,
    wanted: &BTreeMap<String, TreeEntry>,
) -> Result<()> {
    let repo = engine.repo_dir.as_deref();
    let inside_repo = |p: &Path| {
        repo.is_some_and(|r| {
            let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            p.starts_with(r)
        })
    };
    if inside_repo(root)
        || root
            .components()
            .any(|c| is_repo_dir_name(&c.as_os_str().to_string_lossy()))
    {
        return Err(EngineError::InsideRepository {
            target: root.to_path_buf(),
        }
        .into());
    }
    // The repository directory as a path relative to the target, if it lies below it.
    let repo_rel = repo.and_then(|r| {
        let root = std::fs::canonicalize(root).ok()?;
        r.strip_prefix(root).ok().map(Path::to_path_buf)
    });
    for path in wanted.keys() {
        let hits_repo = path.split('/').any(is_repo_dir_name)
            || repo_rel
                .as_deref()
                .is_some_and(|r| Path::new(path).starts_with(r));
        if hits_repo {
            return Err(EngineError::TreeIntoRepository { path: path.clone() }.into());
        }
    }
    Ok(())
}

fn same(a: &TreeEntry, b: &TreeEntry) -> bool {
    a.kind == b.kind && a.id == b.id && a.executable == b.executable
}

/// The paths (relative to the target) whose content on disk is the user's — it differs
/// from what the repository last checkpointed or restored there — and that restoring
/// `wanted` would overwrite or remove. Empty when the restore loses nothing.
#[must_use]
pub fn discarded(
    current: &BTreeMap<String, TreeEntry>,
    previous: &BTreeMap<String, TreeEntry>,
    wanted: &BTreeMap<String, TreeEntry>,
) -> Vec<String> {
    // Paths that become a file or symlink: whatever is below them on disk goes.
    let leaves: HashSet<&str> = wanted
        .iter()
        .filter(|(_, e)| e.kind != EntryKind::Dir)
        .map(|(p, _)| p.as_str())
        .collect();
    let mut out = Vec::new();
    for (path, cur) in current {
        if cur.kind == EntryKind::Dir {
            continue; // directories hold nothing of their own; their files are checked
        }
        let want = wanted.get(path);
        if want.is_some_and(|w| same(w, cur)) {
            continue; // already what the restore wants: untouched
        }
        if previous.get(path).is_some_and(|p| same(p, cur)) {
            continue; // what the repository wrote there: nothing of the user's
        }
        let touched = want.is_some()
            || previous.contains_key(path)
            || ancestors(path).any(|a| leaves.contains(a));
        if touched {
            out.push(path.clone());
        }
    }
    out
}

/// `a/b/c` → `a/b`, `a`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash;

    fn file(id: &[u8]) -> TreeEntry {
        TreeEntry {
            name: "x".into(),
            kind: EntryKind::File,
            executable: false,
            size: id.len() as u64,
            id: Hash::of(id),
        }
    }

    fn map(entries: &[(&str, TreeEntry)]) -> BTreeMap<String, TreeEntry> {
        entries
            .iter()
            .map(|(p, e)| ((*p).to_owned(), e.clone()))
            .collect()
    }

    #[test]
    fn only_changes_the_restore_would_touch_count() {
        let previous = map(&[("a", file(b"1")), ("b", file(b"1")), ("gone", file(b"1"))]);
        let current = map(&[
            ("a", file(b"edited")),       // tracked, edited, overwritten: discarded
            ("b", file(b"1")),            // tracked, unchanged: fine
            ("gone", file(b"edited")),    // tracked, edited, removed: discarded
            ("mine", file(b"untracked")), // untracked, not in the tree: left alone
            ("new", file(b"untracked")),  // untracked, the tree has another: discarded
            ("same", file(b"2")),         // untracked but identical to the tree: fine
            ("d/inner", file(b"u")),      // below a path that becomes a file: discarded
        ]);
        let wanted = map(&[
            ("a", file(b"2")),
            ("b", file(b"2")),
            ("new", file(b"2")),
            ("same", file(b"2")),
            ("d", file(b"2")),
        ]);
        assert_eq!(
            discarded(&current, &previous, &wanted),
            vec!["a", "d/inner", "gone", "new"]
        );
    }
}
