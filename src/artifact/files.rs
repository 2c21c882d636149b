//! File operations on a project's working tree.

use std::io::{Read, Write};

use super::error::ArtifactError;
use super::identity::Caller;
use super::overlay::{self, OverlayEntry};
use super::path::ProjectPath;
use super::project::ProjectId;
use super::projects::{load_visible, now_ms, save};
use super::worktree::{FileInfo, Node, Worktree};
use crate::engine::Engine;
use crate::engine::ingest::{Pipeline, chunk_into};
use crate::engine::writer::Writer;
use crate::error::{Error, ItemKind, Result};
use crate::hash::Hash;
use crate::object::EntryKind;
use crate::store::WrittenPack;

/// Content that is stored before the index transaction that references it.
pub struct Stored {
    /// Content id.
    pub id: Hash,
    /// Length.
    pub size: u64,
    /// The bytes, when small enough to keep inline.
    pub inline: Option<Vec<u8>>,
    /// Packs written for it (to index in the same transaction).
    pub packs: Vec<WrittenPack>,
    /// The registration that protects those packs (and any stored object the content
    /// relies on) until that transaction commits; dropped with this value.
    pub writer: Option<Writer>,
}

/// Stores bytes: small ones stay inline (packed at the next checkpoint), large ones are
/// chunked and packed now.
pub fn store_bytes(engine: &Engine, bytes: Vec<u8>) -> Result<Stored> {
    if bytes.len() < engine.config.chunking.min as usize {
        return Ok(Stored {
            id: Hash::of(&bytes),
            size: bytes.len() as u64,
            inline: Some(bytes),
            packs: Vec::new(),
            writer: None,
        });
    }
    store_stream(engine, &mut bytes.as_slice())
}

/// Stores a stream through the chunker, with flat memory whatever its length.
pub fn store_stream(engine: &Engine, reader: &mut dyn Read) -> Result<Stored> {
    let writer = engine.writer()?;
    let pipe = Pipeline::storing(engine, &writer)?;
    let chunked = chunk_into(&pipe, reader, engine.config.chunking, None);
    let packs = pipe.finish()?;
    let (id, size) = chunked?;
    Ok(Stored {
        id,
        size,
        inline: None,
        packs,
        writer: Some(writer),
    })
}

/// Runs one edit of a project's working tree in one write transaction: loads the
/// project the caller may see, gives the edit a view of the tree as it was and the
/// record to advance, then renews the expiry and saves the record — only if the edit
/// changed it (a no-op writes nothing).
fn edit<T>(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    f: impl FnOnce(&Worktree<'_>, &mut super::project::ProjectRecord) -> Result<T>,
) -> Result<T> {
    engine.index.artifact_write(|tx| {
        let mut p = load_visible(tx, caller, id)?;
        let before = p.clone();
        let out = f(
            &Worktree {
                engine,
                tx,
                project: &before,
            },
            &mut p,
        )?;
        if p != before {
            p.touch(now_ms());
            save(tx, &p)?;
        }
        Ok(out)
    })
}

/// Writes a file (creating parent directories).
pub fn write(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    path: &ProjectPath,
    stored: &Stored,
    executable: bool,
) -> Result<FileInfo> {
    edit(engine, caller, id, |wt, p| {
        if let Some(Node::Dir { .. }) = wt.lookup(path)? {
            return Err(ArtifactError::IsADirectory(path.to_string()).into());
        }
        wt.ensure_parents(p, path)?;
        wt.tx.add_packs(&stored.packs)?;
        let entry = OverlayEntry::File {
            executable,
            size: stored.size,
            id: stored.id,
            inline: stored.inline.clone(),
        };
        wt.put(p, path.as_str(), entry)?;
        Ok(FileInfo {
            path: path.to_string(),
            kind: EntryKind::File,
            size: stored.size,
            id: Some(stored.id),
            executable,
        })
    })
}

/// Streams a file (or `range` of it: offset, length) into `out`; returns bytes written.
pub fn read_to(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    path: &ProjectPath,
    range: Option<(u64, u64)>,
    out: &mut dyn Write,
) -> Result<u64> {
    let node = engine.index.artifact_read(|tx| {
        let p = load_visible(tx, caller, id)?;
        Worktree {
            engine,
            tx,
            project: &p,
        }
        .lookup(path)
    })?;
    match node {
        Some(Node::File {
            inline: Some(bytes),
            ..
        }) => write_range(&bytes, range, out),
        Some(Node::File { id, size, .. }) => read_content(engine, &id, size, range, out),
        Some(Node::Symlink { .. }) => Err(ArtifactError::IsASymlink(path.to_string()).into()),
        Some(Node::Dir { .. }) => Err(ArtifactError::IsADirectory(path.to_string()).into()),
        None => Err(Error::not_found(ItemKind::Path, path.as_str())),
    }
}

fn write_range(bytes: &[u8], range: Option<(u64, u64)>, out: &mut dyn Write) -> Result<u64> {
    let (start, len) = clamp(range, bytes.len() as u64);
    let slice = &bytes[start as usize..(start + len) as usize];
    out.write_all(slice).map_err(Error::io("write", "output"))?;
    Ok(len)
}

fn clamp(range: Option<(u64, u64)>, size: u64) -> (u64, u64) {
    match range {
        None => (0, size),
        Some((start, len)) => {
            let start = start.min(size);
            (start, len.min(size - start))
        }
    }
}

/// Streams stored content, whole (verified against its id) or a range (each chunk read
/// is verified against its own id).
pub fn read_content(
    engine: &Engine,
    id: &Hash,
    size: u64,
    range: Option<(u64, u64)>,
    out: &mut dyn Write,
) -> Result<u64> {
    if range.is_none() {
        return engine.read_file_to(id, out);
    }
    let (start, len) = clamp(range, size);
    let end = start + len;
    let Some(manifest) = engine.read_manifest(id)? else {
        return write_range(&engine.read_file(id)?, Some((start, len)), out);
    };
    let mut at = 0u64;
    for chunk in &manifest.chunks {
        let next = at + u64::from(chunk.len);
        if next > start && at < end {
            let (_, bytes) = engine.read_object(&chunk.id)?;
            let from = start.saturating_sub(at) as usize;
            let to = (end.min(next) - at) as usize;
            out.write_all(&bytes[from..to])
                .map_err(Error::io("write", "output"))?;
        }
        at = next;
        if at >= end {
            break;
        }
    }
    Ok(len)
}

/// Lists a directory (or the root), optionally recursively.
pub fn list(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    dir: Option<&ProjectPath>,
    recursive: bool,
) -> Result<Vec<FileInfo>> {
    engine.index.artifact_read(|tx| {
        let p = load_visible(tx, caller, id)?;
        Worktree {
            engine,
            tx,
            project: &p,
        }
        .list(dir, recursive)
    })
}

/// Deletes a file, symlink or directory (with everything below it).
pub fn delete(engine: &Engine, caller: &Caller, id: &ProjectId, path: &ProjectPath) -> Result<()> {
    edit(engine, caller, id, |wt, p| {
        if wt.lookup(path)?.is_none() {
            return Err(Error::not_found(ItemKind::Path, path.as_str()));
        }
        let below: Vec<String> = wt
            .descendants(path.as_str())?
            .into_iter()
            .map(|(rel, _)| overlay::key(p, &format!("{path}/{rel}")))
            .collect();
        wt.tx.remove_overlay(&below)?;
        wt.put(p, path.as_str(), OverlayEntry::Deleted)?;
        Ok(())
    })
}

/// Creates a directory (and its parents); a no-op if it exists.
pub fn mkdir(engine: &Engine, caller: &Caller, id: &ProjectId, path: &ProjectPath) -> Result<()> {
    edit(engine, caller, id, |wt, p| {
        match wt.lookup(path)? {
            Some(Node::Dir { .. }) => return Ok(()),
            Some(_) => return Err(Error::exists(ItemKind::Path, path.as_str())),
            None => {}
        }
        wt.ensure_parents(p, path)?;
        wt.put(p, path.as_str(), OverlayEntry::Dir)?;
        Ok(())
    })
}

/// Moves a file or directory; the destination must not exist.
pub fn rename(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    from: &ProjectPath,
    to: &ProjectPath,
) -> Result<()> {
    if to.as_str() == from.as_str() || to.as_str().starts_with(&format!("{from}/")) {
        return Err(ArtifactError::MoveIntoItself(from.to_string()).into());
    }
    edit(engine, caller, id, |wt, p| {
        let node = wt
            .lookup(from)?
            .ok_or_else(|| Error::not_found(ItemKind::Path, from.as_str()))?;
        if wt.lookup(to)?.is_some() {
            return Err(Error::exists(ItemKind::Path, to.as_str()));
        }
        wt.ensure_parents(p, to)?;
        let entry = match node {
            Node::File {
                executable,
                size,
                id,
                inline,
            } => OverlayEntry::File {
                executable,
                size,
                id,
                inline,
            },
            Node::Symlink { id, .. } => OverlayEntry::Symlink {
                target: engine.read_file(&id)?,
            },
            Node::Dir { base: Some(t), .. } => OverlayEntry::Tree(t),
            Node::Dir { base: None, .. } => OverlayEntry::Dir,
        };
        let below = wt.descendants(from.as_str())?;
        wt.put(p, to.as_str(), entry)?;
        let mut old_keys = Vec::with_capacity(below.len());
        for (rel, row) in below {
            old_keys.push(overlay::key(p, &format!("{from}/{rel}")));
            wt.put(p, &format!("{to}/{rel}"), row.entry)?;
        }
        wt.tx.remove_overlay(&old_keys)?;
        wt.put(p, from.as_str(), OverlayEntry::Deleted)?;
        Ok(())
    })
}
