//! Marking: every object the roots reach.
//!
//! Roots are the live checkpoints, HEAD, what the services above hold (the artifact
//! layer, through [`crate::engine::roots::RootSource`]: project checkpoints and heads,
//! working-tree bases and overlays, asset and render records) and the trees recorded
//! for worktree directories that still exist. Parent links are
//! lineage, not roots: deleting a checkpoint frees what only it held, but the commit
//! objects of deleted ancestors (a few hundred bytes each) are kept so `log` can show
//! the whole history.

use std::collections::HashSet;

use crate::engine::Engine;
use crate::error::Result;
use crate::hash::{CommitId, Hash, TreeId};
use crate::index::ObjectLocation;
use crate::object::EntryKind;
use crate::object::codec::Compression;

/// What the roots are, read at one moment.
#[derive(Debug, Default)]
pub struct Roots {
    commits: Vec<CommitId>,
    trees: Vec<TreeId>,
    files: Vec<Hash>,
}

impl Roots {
    /// The roots of one publication: commits, trees and files it is about to make
    /// reachable.
    #[must_use]
    pub fn of(commits: Vec<CommitId>, trees: Vec<TreeId>, files: Vec<Hash>) -> Roots {
        Roots {
            commits,
            trees,
            files,
        }
    }

    /// Reads every root now.
    pub fn read(engine: &Engine) -> Result<Roots> {
        let mut roots = Roots::default();
        roots
            .commits
            .extend(engine.index.checkpoints()?.into_iter().map(|r| r.id));
        roots.commits.extend(engine.index.head()?);
        // A tagged checkpoint cannot be deleted; its tag keeps it all the same.
        roots
            .commits
            .extend(engine.index.tags()?.into_iter().map(|(_, c)| c));
        for source in &engine.root_sources {
            let held = source.roots(engine)?;
            roots.commits.extend(held.commits);
            roots.trees.extend(held.trees);
            roots.files.extend(held.files);
        }
        for (dir, tree) in engine.index.worktrees()? {
            // A directory that is gone no longer needs its tree; a tree that is not
            // indexed (its checkpoint was collected) is only a stale cache entry.
            if std::path::Path::new(&dir).is_dir() && engine.index.location(&tree.0)?.is_some() {
                roots.trees.push(tree);
            }
        }
        Ok(roots)
    }
}

/// A marking in progress. With a base, objects in the base count as already marked:
/// only what is new is visited (and collected).
pub struct Marker<'a> {
    base: Option<&'a HashSet<Hash>>,
    marked: HashSet<Hash>,
}

impl<'a> Marker<'a> {
    /// A marking from nothing.
    #[must_use]
    pub fn new() -> Marker<'static> {
        Marker {
            base: None,
            marked: HashSet::new(),
        }
    }

    /// A marking of what `base` does not hold yet.
    #[must_use]
    pub fn beyond(base: &'a HashSet<Hash>) -> Marker<'a> {
        Marker {
            base: Some(base),
            marked: HashSet::new(),
        }
    }

    /// Everything marked (beyond the base).
    #[must_use]
    pub fn into_marked(self) -> HashSet<Hash> {
        self.marked
    }

    fn visit(&mut self, id: Hash) -> bool {
        !self.base.is_some_and(|b| b.contains(&id)) && self.marked.insert(id)
    }

    /// Marks everything `roots` reach.
    pub fn mark(&mut self, engine: &Engine, roots: &Roots) -> Result<()> {
        let mut parents = Vec::new();
        for id in &roots.commits {
            if self.visit(id.0) {
                let commit = engine.read_commit(id)?;
                self.tree(engine, commit.tree)?;
                parents.extend(commit.parents);
            }
        }
        for tree in &roots.trees {
            self.tree(engine, *tree)?;
        }
        for file in &roots.files {
            self.file(engine, *file)?;
        }
        self.lineage(engine, parents)
    }

    fn tree(&mut self, engine: &Engine, id: TreeId) -> Result<()> {
        if !self.visit(id.0) {
            return Ok(());
        }
        for e in engine.read_tree(&id)?.entries() {
            match e.kind {
                EntryKind::Dir => self.tree(engine, e.tree_id())?,
                EntryKind::Symlink => {
                    self.visit(e.id);
                }
                EntryKind::File => self.file(engine, e.id)?,
            }
        }
        Ok(())
    }

    /// A file's content: the chunk, or the manifest and its chunks; and the bases of
    /// every delta among them.
    fn file(&mut self, engine: &Engine, id: Hash) -> Result<()> {
        if !self.visit(id) {
            return Ok(());
        }
        let loc = engine.locate(&id)?;
        let Some(manifest) = engine.read_manifest_at(&id, &loc)? else {
            return self.bases(engine, id, &loc);
        };
        for c in manifest.chunks {
            // A chunk the index lacks is damage for fsck to report, not gc's to stop on.
            if self.visit(c.id)
                && let Some(loc) = engine.index.location(&c.id)?
            {
                self.bases(engine, c.id, &loc)?;
            }
        }
        Ok(())
    }

    /// Marks the bases a delta at `loc` is decoded against, and theirs: a base lives
    /// as long as a live delta names it.
    fn bases(&mut self, engine: &Engine, id: Hash, loc: &ObjectLocation) -> Result<()> {
        let mut deltas = vec![(id, *loc)];
        while let Some((id, loc)) = deltas.pop() {
            if loc.compression != Compression::Delta {
                continue;
            }
            for base in engine.delta_header(&id, &loc)?.bases {
                if self.visit(base)
                    && let Some(loc) = engine.index.location(&base)?
                {
                    deltas.push((base, loc));
                }
            }
        }
        Ok(())
    }

    /// Keeps the commit objects of ancestors that are still indexed.
    fn lineage(&mut self, engine: &Engine, mut stack: Vec<CommitId>) -> Result<()> {
        while let Some(id) = stack.pop() {
            // An ancestor already marked (or in the base) has had its ancestors kept.
            if self.visit(id.0) {
                if engine.index.location(&id.0)?.is_none() {
                    self.marked.remove(&id.0);
                    continue;
                }
                stack.extend(engine.read_commit(&id)?.parents);
            }
        }
        Ok(())
    }
}
