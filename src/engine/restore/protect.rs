//! What a restore must not touch: the user's changes, and the repository itself.

use std::path::Path;

use super::plan::{Lookup, Step, same};
use crate::engine::ingest::{is_repo_dir_name, stat_of};
use crate::engine::{Engine, EngineError};
use crate::error::Result;
use crate::index::IndexSnapshot;
use crate::object::{EntryKind, TreeEntry};

/// Refuses a target inside the repository directory, and a tree that would write into
/// it (a `.reel` at any depth, or the path of a repository kept elsewhere).
pub fn check_paths<'p>(
    engine: &Engine,
    root: &Path,
    wanted: impl IntoIterator<Item = &'p str>,
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
    for path in wanted {
        let hits_repo = path.split('/').any(is_repo_dir_name)
            || repo_rel
                .as_deref()
                .is_some_and(|r| Path::new(path).starts_with(r));
        if hits_repo {
            return Err(EngineError::TreeIntoRepository {
                path: path.to_owned(),
            }
            .into());
        }
    }
    Ok(())
}

/// The paths (relative to the target) whose content on disk is the user's and that
/// the restore's `steps` would overwrite or remove. Empty when the restore loses
/// nothing. What the repository put there is not the user's: what it last checkpointed
/// or restored there (`previous`), or what `known` says it wrote or checkpointed at that
/// path and that has not changed since (a file a restore of some paths wrote).
/// Untracked files the restore does not touch are not the restore's business.
pub fn discarded(
    steps: &[Step],
    previous: &mut Lookup<'_>,
    known: &mut dyn FnMut(&str, &TreeEntry) -> Result<bool>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for step in steps {
        let Some(cur) = step.cur.as_ref().filter(|c| c.kind != EntryKind::Dir) else {
            continue; // directories hold nothing of their own; their files are checked
        };
        let prev = previous.get(&step.path)?;
        if prev.as_ref().is_some_and(|p| same(p, cur)) {
            continue; // what the repository wrote there: nothing of the user's
        }
        if (step.want.is_some() || prev.is_some() || step.under_new_leaf)
            && !known(&step.path, cur)?
        {
            out.push(step.path.clone());
        }
    }
    out.sort();
    Ok(out)
}

/// Whether the file at `root/rel` is, as the stat cache vouches, unchanged since the
/// repository wrote it there or checkpointed it, with content `cur` still stored: a
/// restore that replaces it loses nothing. (The row is only written by a checkpoint
/// for what it stored and by a restore for what it wrote; the stat must still match.)
pub fn known_to_repository(
    snapshot: &IndexSnapshot,
    root: &Path,
    rel: &str,
    cur: &TreeEntry,
) -> Result<bool> {
    if cur.kind != EntryKind::File {
        return Ok(false);
    }
    let abs = root.join(rel);
    let Ok(meta) = std::fs::symlink_metadata(&abs) else {
        return Ok(false);
    };
    let Some(row) = snapshot.stat(&abs.to_string_lossy())? else {
        return Ok(false);
    };
    Ok(row.id == cur.id && row.same_stat(&stat_of(&meta)) && snapshot.contains(&row.id)?)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::engine::diff::TreeLoader;
    use crate::engine::restore::plan::plan;
    use crate::hash::{Hash, TreeId};
    use crate::object::{Tree, TreeEntry, encode};

    #[derive(Default)]
    struct Trees(HashMap<TreeId, Tree>);

    impl TreeLoader for Trees {
        fn load(&self, id: &TreeId) -> crate::error::Result<Tree> {
            Ok(self.0[id].clone())
        }
    }

    fn file(id: &[u8]) -> TreeEntry {
        TreeEntry {
            name: String::new(),
            kind: EntryKind::File,
            executable: false,
            size: id.len() as u64,
            id: Hash::of(id),
        }
    }

    /// Stores the tree of `paths` (leaves at `/`-separated paths) and returns its id.
    fn tree(trees: &mut Trees, paths: &[(&str, TreeEntry)]) -> TreeId {
        let mut here: Vec<TreeEntry> = Vec::new();
        let mut subdirs: Vec<(&str, Vec<(&str, TreeEntry)>)> = Vec::new();
        for (path, e) in paths {
            match path.split_once('/') {
                None => here.push(TreeEntry {
                    name: (*path).to_owned(),
                    ..e.clone()
                }),
                Some((dir, rest)) => match subdirs.iter_mut().find(|(d, _)| *d == dir) {
                    Some((_, v)) => v.push((rest, e.clone())),
                    None => subdirs.push((dir, vec![(rest, e.clone())])),
                },
            }
        }
        for (dir, below) in subdirs {
            let id = tree(trees, &below);
            here.push(TreeEntry {
                name: dir.to_owned(),
                kind: EntryKind::Dir,
                executable: false,
                size: 0,
                id: id.0,
            });
        }
        let t = Tree::from_entries(here).unwrap();
        let id = TreeId(Hash::of(&encode(&t).unwrap()));
        trees.0.insert(id, t);
        id
    }

    #[test]
    fn only_changes_the_restore_would_touch_count() {
        let mut t = Trees::default();
        let previous = tree(
            &mut t,
            &[("a", file(b"1")), ("b", file(b"1")), ("gone", file(b"1"))],
        );
        let current = tree(
            &mut t,
            &[
                ("a", file(b"edited")),       // tracked, edited, overwritten: discarded
                ("b", file(b"1")),            // tracked, unchanged: fine
                ("gone", file(b"edited")),    // tracked, edited, removed: discarded
                ("mine", file(b"untracked")), // untracked, not in the tree: left alone
                ("new", file(b"untracked")),  // untracked, the tree has another: discarded
                ("same", file(b"2")),         // untracked but identical to the tree: fine
                ("d/inner", file(b"u")),      // below a path that becomes a file: discarded
                ("k/deep/x", file(b"u")),     // untracked, in a directory the tree keeps
            ],
        );
        let wanted = tree(
            &mut t,
            &[
                ("a", file(b"2")),
                ("b", file(b"2")),
                ("new", file(b"2")),
                ("same", file(b"2")),
                ("d", file(b"2")),
                ("k/deep/y", file(b"2")),
            ],
        );
        let steps = plan(&t, current, wanted).unwrap();
        let mut previous = Lookup::new(&t, Some(previous));
        assert_eq!(
            discarded(&steps, &mut previous, &mut |_, _| Ok(false)).unwrap(),
            vec!["a", "d/inner", "gone", "new"]
        );
        // A file the stat cache vouches the repository wrote (a restore of some paths)
        // is not the user's, wherever it is.
        assert_eq!(
            discarded(
                &steps,
                &mut previous,
                &mut |p, _| Ok(p == "a" || p == "new")
            )
            .unwrap(),
            vec!["d/inner", "gone"]
        );
        let paths: Vec<&str> = steps.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "a", "b", "d", "d/inner", "gone", "k/deep/x", "k/deep/y", "mine", "new"
            ],
            "a step for each path that differs, parents first, nothing that is equal"
        );
    }
}
