//! Diffs with options and patches (path filters, renames with edits, line diffs), and
//! tags.

use std::path::PathBuf;

use serde::Serialize;

use super::repository::{DiffTarget, Repository, absolute, diff_with_dir};
use crate::engine::Engine;
use crate::engine::diff::{Change, diff_trees};
use crate::engine::patch::{FilePatch, NewSide, find_similar_renames, patches};
use crate::engine::tags::Tag;
use crate::error::Result;
use crate::hash::{CommitId, TreeId};

/// What a diff covers and what it looks for.
#[derive(Debug, Clone, Serialize)]
pub struct DiffOptions {
    /// Only paths at or below these (relative to the root, `/`-separated); empty: all.
    pub paths: Vec<String>,
    /// Pair a removed and an added text file at least this alike (percent of lines)
    /// as a rename with edits, as `git diff -M` does; `None`: only renames of identical
    /// content. Default 50, as git.
    pub renames: Option<u8>,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            paths: Vec::new(),
            renames: Some(50),
        }
    }
}

impl DiffOptions {
    /// Whether `path` is at or below one of the paths asked for.
    #[must_use]
    pub fn covers(&self, path: &str) -> bool {
        self.paths.is_empty()
            || self.paths.iter().any(|p| {
                let p = p.trim_start_matches("./").trim_end_matches('/');
                p.is_empty()
                    || p == "."
                    || path == p
                    || path
                        .strip_prefix(p)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
    }
}

/// The new side of a diff, resolved.
enum NewTree {
    Tree(TreeId),
    Dir(PathBuf),
}

/// The changes from tree `old` to `new` under `opts`.
fn changes(e: &Engine, old: TreeId, new: &NewTree, opts: &DiffOptions) -> Result<Vec<Change>> {
    let mut changes = match new {
        NewTree::Tree(t) => diff_trees(e, old, *t)?,
        NewTree::Dir(dir) => diff_with_dir(e, old, dir)?,
    };
    changes.retain(|c| opts.covers(&c.path) || c.from.as_deref().is_some_and(|f| opts.covers(f)));
    if let Some(threshold) = opts.renames {
        find_similar_renames(e, &mut changes, side(new), threshold)?;
        changes.sort_by(|a, b| a.path.cmp(&b.path));
    }
    Ok(changes)
}

fn side(new: &NewTree) -> NewSide<'_> {
    match new {
        NewTree::Tree(_) => NewSide::Stored,
        NewTree::Dir(d) => NewSide::Dir(d),
    }
}

fn resolve(e: &Engine, old: &str, new: DiffTarget) -> Result<(TreeId, NewTree)> {
    let tree = |rev: &str| -> Result<TreeId> {
        Ok(e.read_commit(&crate::engine::refs::resolve(e, rev)?)?.tree)
    };
    let new = match new {
        DiffTarget::Rev(rev) => NewTree::Tree(tree(&rev)?),
        DiffTarget::Dir(dir) => NewTree::Dir(absolute(&dir)?),
    };
    Ok((tree(old)?, new))
}

/// The tree a checkpoint's first parent had (the empty tree for the first one).
fn parent_tree(e: &Engine, id: &CommitId) -> Result<(TreeId, TreeId)> {
    let commit = e.read_commit(id)?;
    let old = match commit.parents.first() {
        Some(p) => e.read_commit(p)?.tree,
        None => crate::object::empty_tree_id(),
    };
    Ok((old, commit.tree))
}

impl Repository {
    /// Every tag, by name.
    pub async fn tags(&self) -> Result<Vec<Tag>> {
        self.run(crate::engine::tags::list).await
    }

    /// Points tag `name` at checkpoint `rev`; moves an existing tag only with `force`.
    pub async fn tag(&self, name: &str, rev: &str, force: bool) -> Result<Tag> {
        let (name, rev) = (name.to_owned(), rev.to_owned());
        self.run(move |e| {
            let id = crate::engine::refs::resolve(e, &rev)?;
            crate::engine::tags::create(e, &name, id, force)
        })
        .await
    }

    /// Deletes tag `name`; returns what it pointed at.
    pub async fn delete_tag(&self, name: &str) -> Result<Tag> {
        let name = name.to_owned();
        self.run(move |e| crate::engine::tags::delete(e, &name))
            .await
    }

    /// The changes from checkpoint `old` to `new` (a checkpoint or a directory), under
    /// `opts`: only the paths asked for, renames with edits paired.
    pub async fn diff_with(
        &self,
        old: &str,
        new: DiffTarget,
        opts: DiffOptions,
    ) -> Result<Vec<Change>> {
        let old = old.to_owned();
        self.run(move |e| {
            let (old, new) = resolve(e, &old, new)?;
            changes(e, old, &new, &opts)
        })
        .await
    }

    /// [`Repository::diff_with`] with each change's line diff.
    pub async fn patch(
        &self,
        old: &str,
        new: DiffTarget,
        opts: DiffOptions,
    ) -> Result<Vec<FilePatch>> {
        let old = old.to_owned();
        self.run(move |e| {
            let (old, new) = resolve(e, &old, new)?;
            patches(e, changes(e, old, &new, &opts)?, side(&new))
        })
        .await
    }

    /// What checkpoint `rev` changed from its first parent (everything, for the first
    /// checkpoint).
    pub async fn checkpoint_changes(&self, rev: &str, opts: DiffOptions) -> Result<Vec<Change>> {
        let rev = rev.to_owned();
        self.run(move |e| {
            let id = crate::engine::refs::resolve(e, &rev)?;
            let (old, new) = parent_tree(e, &id)?;
            changes(e, old, &NewTree::Tree(new), &opts)
        })
        .await
    }

    /// What checkpoint `rev` changed from its first parent (everything, for the first
    /// checkpoint), with line diffs.
    pub async fn checkpoint_patch(
        &self,
        rev: &str,
        opts: DiffOptions,
    ) -> Result<(CommitId, Vec<FilePatch>)> {
        let rev = rev.to_owned();
        self.run(move |e| {
            let id = crate::engine::refs::resolve(e, &rev)?;
            let (old, new) = parent_tree(e, &id)?;
            let new = NewTree::Tree(new);
            Ok((id, patches(e, changes(e, old, &new, &opts)?, side(&new))?))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::DiffOptions;

    #[test]
    fn paths_cover_themselves_and_what_is_below() {
        let opts = DiffOptions {
            paths: vec!["src".into(), "./public/clip.mp4".into()],
            ..DiffOptions::default()
        };
        assert!(opts.covers("src"));
        assert!(opts.covers("src/Root.tsx"));
        assert!(opts.covers("public/clip.mp4"));
        assert!(!opts.covers("srcx/Root.tsx"));
        assert!(!opts.covers("public/clip.mp4.bak"));
        assert!(!opts.covers("package.json"));
        assert!(DiffOptions::default().covers("anything"));
    }
}
