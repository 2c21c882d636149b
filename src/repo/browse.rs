//! Reading a checkpoint's files and directories.

use std::io::Write;

use super::repository::{ListEntry, Repository};
use crate::engine::Engine;
use crate::error::{Error, ItemKind, Result};
use crate::hash::TreeId;
use crate::object::{EntryKind, TreeEntry};

impl Repository {
    /// Lists a directory of a checkpoint (the root when `path` is `None`).
    pub async fn ls(
        &self,
        rev: &str,
        path: Option<&str>,
        recursive: bool,
    ) -> Result<Vec<ListEntry>> {
        let rev = rev.to_owned();
        let path = path.map(str::to_owned);
        self.run(move |e| {
            let root = e.read_commit(&crate::engine::refs::resolve(e, &rev)?)?.tree;
            let (prefix, tree) = match path
                .as_deref()
                .map(|p| p.trim_matches('/'))
                .filter(|p| !p.is_empty())
            {
                None => (String::new(), root),
                Some(p) => {
                    let entry = lookup(e, root, p)?;
                    if entry.kind != EntryKind::Dir {
                        return Ok(vec![list_entry(p.to_owned(), &entry)]);
                    }
                    (p.to_owned(), entry.tree_id())
                }
            };
            let mut out = Vec::new();
            list_into(e, tree, &prefix, recursive, &mut out)?;
            Ok(out)
        })
        .await
    }

    /// Streams the file at `path` in checkpoint `rev` into `out`, verified.
    pub async fn cat<W: Write + Send + 'static>(
        &self,
        rev: &str,
        path: &str,
        mut out: W,
    ) -> Result<u64> {
        let rev = rev.to_owned();
        let path = path.to_owned();
        self.run(move |e| {
            let root = e.read_commit(&crate::engine::refs::resolve(e, &rev)?)?.tree;
            let entry = lookup(e, root, &path)?;
            if entry.kind == EntryKind::Dir {
                return Err(Error::Invalid(format!(
                    "{path} is a directory; use `reel ls`"
                )));
            }
            let n = e.read_file_to(&entry.id, &mut out)?;
            out.flush().map_err(Error::io("write", "output"))?;
            Ok(n)
        })
        .await
    }

    /// Streams bytes `range` (offset and length, clamped to the file; `None`: all) of
    /// the file at `path` in checkpoint `rev` into `out`. Each chunk read is verified
    /// against its id, and a whole file against its own.
    pub async fn cat_range<W: Write + Send + 'static>(
        &self,
        rev: &str,
        path: &str,
        range: Option<(u64, u64)>,
        mut out: W,
    ) -> Result<u64> {
        let rev = rev.to_owned();
        let path = path.to_owned();
        self.run(move |e| {
            let root = e.read_commit(&crate::engine::refs::resolve(e, &rev)?)?.tree;
            let entry = lookup(e, root, &path)?;
            if entry.kind != EntryKind::File {
                return Err(Error::Invalid(format!("{path} is not a file")));
            }
            let n = crate::artifact::read_content(e, &entry.id, entry.size, range, &mut out)?;
            out.flush().map_err(Error::io("write", "output"))?;
            Ok(n)
        })
        .await
    }

    /// Reads the whole file at `path` in checkpoint `rev` into memory, verified.
    /// For large files prefer [`Repository::cat`], which streams.
    pub async fn read(&self, rev: &str, path: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        let rev = rev.to_owned();
        let path = path.to_owned();
        let bytes = self
            .run(move |e| {
                let root = e.read_commit(&crate::engine::refs::resolve(e, &rev)?)?.tree;
                let entry = lookup(e, root, &path)?;
                if entry.kind == EntryKind::Dir {
                    return Err(Error::Invalid(format!("{path} is a directory")));
                }
                e.read_file_to(&entry.id, &mut buf)?;
                Ok(buf)
            })
            .await?;
        Ok(bytes)
    }
}

/// Finds the entry at `path` (`a/b/c`) under tree `root`.
fn lookup(e: &Engine, root: TreeId, path: &str) -> Result<TreeEntry> {
    let mut tree = root;
    let mut found = None;
    let mut walked = String::new();
    for part in path.trim_matches('/').split('/') {
        crate::object::validate_name(part)
            .map_err(|why| Error::Invalid(format!("path `{path}`: {why}")))?;
        if found
            .as_ref()
            .is_some_and(|f: &TreeEntry| f.kind != EntryKind::Dir)
        {
            return Err(Error::not_found(ItemKind::Path, path));
        }
        let listing = e.read_tree(&tree)?;
        let Some(entry) = listing.get(part).cloned() else {
            // A typo in this part: the closest name here, with the path walked so far.
            let near: Vec<String> = listing
                .entries()
                .iter()
                .map(|n| format!("{walked}{}", n.name))
                .collect();
            let given = format!("{walked}{part}");
            let suggestion = crate::error::closest(&given, near.iter().map(String::as_str));
            return Err(Error::not_found(ItemKind::Path, path).with_suggestion(suggestion));
        };
        walked.push_str(part);
        walked.push('/');
        tree = entry.tree_id();
        found = Some(entry);
    }
    found.ok_or_else(|| Error::Invalid("empty path".into()))
}

fn list_entry(path: String, e: &TreeEntry) -> ListEntry {
    ListEntry {
        path,
        kind: e.kind,
        size: e.size,
        executable: e.executable,
        id: e.id,
    }
}

fn list_into(
    e: &Engine,
    tree: TreeId,
    prefix: &str,
    recursive: bool,
    out: &mut Vec<ListEntry>,
) -> Result<()> {
    for entry in e.read_tree(&tree)?.entries() {
        let path = if prefix.is_empty() {
            entry.name.clone()
        } else {
            format!("{prefix}/{}", entry.name)
        };
        out.push(list_entry(path.clone(), entry));
        if recursive && entry.kind == EntryKind::Dir {
            list_into(e, entry.tree_id(), &path, true, out)?;
        }
    }
    Ok(())
}

impl Repository {
    /// Opens the working directory's file at `path` (relative, `/`-separated) to read,
    /// with its length. No symlink is followed on the way, and `..`, absolute paths and
    /// the repository's own directory are refused: a caller naming a path reads nothing
    /// outside the working directory and nothing of the repository.
    pub async fn open_workdir_file(&self, path: &str) -> Result<(std::fs::File, u64)> {
        let root = self
            .workdir()
            .ok_or_else(|| Error::not_found(ItemKind::Path, "the working directory"))?;
        let path = path.to_owned();
        crate::engine::blocking(move || open_below(&root, &path)).await
    }
}

/// `rel` below `root`, opened without following symlinks.
fn open_below(root: &std::path::Path, rel: &str) -> Result<(std::fs::File, u64)> {
    use rustix::fs::{Mode, OFlags};
    let refused = || {
        Error::Invalid(format!(
            "`{rel}` is not a path inside the working directory"
        ))
    };
    let parts: Vec<&str> = rel.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
        || crate::engine::ingest::is_repo_dir_name(parts[0])
    {
        return Err(refused());
    }
    let io = |e: rustix::io::Errno| match e {
        // A symlink on the way (O_NOFOLLOW), or a file where a directory should be.
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => refused(),
        rustix::io::Errno::NOENT => Error::not_found(ItemKind::Path, rel),
        e => Error::io("open", root.join(rel))(e.into()),
    };
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    // The working directory itself may be reached through a symlink; nothing below it.
    let mut dir = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .map_err(io)?;
    let (last, dirs) = parts.split_last().expect("split yields one part");
    for part in dirs {
        dir = rustix::fs::openat(&dir, *part, flags | OFlags::DIRECTORY, Mode::empty())
            .map_err(io)?;
    }
    let fd =
        rustix::fs::openat(&dir, *last, flags | OFlags::NONBLOCK, Mode::empty()).map_err(io)?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata().map_err(Error::io("stat", root.join(rel)))?;
    if !meta.is_file() {
        return Err(refused());
    }
    Ok((file, meta.len()))
}
