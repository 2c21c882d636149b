//! Line diffs of changed files (what `reel diff` prints as a patch, and an agent reads
//! as hunks), and renames with edits found by line similarity, as git finds them.
//!
//! Text is what is valid UTF-8 with no NUL byte in its first 8,000 bytes, up to
//! [`TEXT_LIMIT`]; anything else is named binary and never read whole for a diff (a
//! 100 MiB footage file costs nothing here). Lines are diffed with Myers' algorithm
//! (the `similar` crate) under a time limit, with three lines of context.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use similar::{Algorithm, ChangeTag, TextDiff};

use super::diff::{Change, ChangeKind};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::object::EntryKind;

/// Files larger than this are not diffed line by line.
pub const TEXT_LIMIT: u64 = 4 * 1024 * 1024;
/// Lines of context around each change.
pub const CONTEXT: usize = 3;
/// Files larger than this are not compared for renames with edits.
const RENAME_LIMIT: u64 = 1024 * 1024;
/// At most this many removed and added files are compared for renames with edits (the
/// comparison is quadratic); beyond, only renames of identical content are found.
const RENAME_CANDIDATES: usize = 256;
/// How long one line diff may take before it settles for a coarser answer.
const DIFF_TIMEOUT: Duration = Duration::from_secs(2);
/// How much of a file git's heuristic looks at for a NUL byte.
const SNIFF: usize = 8000;

/// One changed file with its line diff.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct FilePatch {
    /// The change (path, kind, sizes, ids, rename).
    #[serde(flatten)]
    pub change: Change,
    /// Its lines, or why there are none.
    pub body: PatchBody,
}

/// What a patch shows of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub enum PatchBody {
    /// A text file (or a symlink, its target): the hunks and their counts. No hunks
    /// when only the name or the executable bit changed.
    Text {
        /// Lines added.
        added: usize,
        /// Lines removed.
        removed: usize,
        /// The changed regions with their context.
        hunks: Vec<Hunk>,
    },
    /// Not text (or larger than [`TEXT_LIMIT`]): the contents differ, nothing more.
    Binary,
}

impl PatchBody {
    /// Lines added and removed (0 for binary files).
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        match self {
            PatchBody::Text { added, removed, .. } => (*added, *removed),
            PatchBody::Binary => (0, 0),
        }
    }
}

/// One region of a unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct Hunk {
    /// First line on the old side (1-based; 0 when the old side is empty).
    pub old_start: usize,
    /// Lines on the old side.
    pub old_lines: usize,
    /// First line on the new side (1-based; 0 when the new side is empty).
    pub new_start: usize,
    /// Lines on the new side.
    pub new_lines: usize,
    /// The lines.
    pub lines: Vec<Line>,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct Line {
    /// `' '` context, `'+'` added, `'-'` removed.
    pub op: char,
    /// The line, without its `\n` (a `\r` before it stays: the patch shows what is
    /// there).
    pub text: String,
    /// False for a last line with no newline at its end.
    #[serde(skip_serializing_if = "std::clone::Clone::clone")]
    pub newline: bool,
}

/// Where the new side of a change is read: the repository (its content id), or a
/// directory on disk (a diff against the working directory).
#[derive(Debug, Clone, Copy)]
pub enum NewSide<'a> {
    /// Stored content, by the change's `new_id`.
    Stored,
    /// The file at the change's path below this directory.
    Dir(&'a Path),
}

/// The content of one side, read only if it can be text.
enum Content {
    None,
    Text(String),
    Binary,
}

impl Content {
    /// The text, if this is text.
    fn into_text(self) -> Option<String> {
        match self {
            Content::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The text (empty for a side that is not there), `None` when binary.
    fn text(&self) -> Option<&str> {
        match self {
            Content::None => Some(""),
            Content::Text(s) => Some(s),
            Content::Binary => None,
        }
    }
}

fn classify(bytes: Vec<u8>) -> Content {
    if bytes[..bytes.len().min(SNIFF)].contains(&0) {
        return Content::Binary;
    }
    match String::from_utf8(bytes) {
        Ok(s) => Content::Text(s),
        Err(_) => Content::Binary,
    }
}

fn read_stored(engine: &Engine, id: Option<Hash>, size: Option<u64>) -> Result<Content> {
    match (id, size) {
        (None, _) => Ok(Content::None),
        (Some(_), Some(size)) if size > TEXT_LIMIT => Ok(Content::Binary),
        (Some(id), _) => Ok(classify(engine.read_file(&id)?)),
    }
}

fn read_disk(path: &Path, kind: EntryKind) -> Result<Content> {
    if kind == EntryKind::Symlink {
        let target = std::fs::read_link(path).map_err(Error::io("read link", path))?;
        return Ok(classify(target.into_os_string().into_encoded_bytes()));
    }
    let meta = std::fs::metadata(path).map_err(Error::io("stat", path))?;
    if meta.len() > TEXT_LIMIT {
        return Ok(Content::Binary);
    }
    Ok(classify(
        std::fs::read(path).map_err(Error::io("read", path))?,
    ))
}

/// The old and new content of a change.
fn sides(engine: &Engine, c: &Change, new: NewSide<'_>) -> Result<(Content, Content)> {
    let old = read_stored(engine, c.old_id, c.old_size)?;
    let new = match (new, c.change) {
        (_, ChangeKind::Removed) => Content::None,
        (NewSide::Stored, _) => read_stored(engine, c.new_id, c.new_size)?,
        (NewSide::Dir(dir), _) => read_disk(&dir.join(&c.path), c.kind)?,
    };
    Ok((old, new))
}

/// The line diff of one change.
pub fn patch(engine: &Engine, c: &Change, new: NewSide<'_>) -> Result<PatchBody> {
    if c.old_id.is_some() && c.old_id == c.new_id {
        // A rename or a mode change: the bytes are the same.
        return Ok(PatchBody::Text {
            added: 0,
            removed: 0,
            hunks: Vec::new(),
        });
    }
    let (old, new) = sides(engine, c, new)?;
    match (old.text(), new.text()) {
        (Some(a), Some(b)) => Ok(line_diff(a, b)),
        _ => Ok(PatchBody::Binary),
    }
}

/// The patches of `changes`.
pub fn patches(engine: &Engine, changes: Vec<Change>, new: NewSide<'_>) -> Result<Vec<FilePatch>> {
    changes
        .into_iter()
        .map(|change| {
            let body = patch(engine, &change, new)?;
            Ok(FilePatch { change, body })
        })
        .collect()
}

/// A unified diff of two texts.
#[must_use]
pub fn line_diff(old: &str, new: &str) -> PatchBody {
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old, new);
    let (mut added, mut removed) = (0, 0);
    let mut hunks = Vec::new();
    for group in diff.grouped_ops(CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (old_range, new_range) = (
            first.old_range().start..last.old_range().end,
            first.new_range().start..last.new_range().end,
        );
        let mut lines = Vec::new();
        for op in &group {
            for change in diff.iter_changes(op) {
                let op = match change.tag() {
                    ChangeTag::Equal => ' ',
                    ChangeTag::Insert => {
                        added += 1;
                        '+'
                    }
                    ChangeTag::Delete => {
                        removed += 1;
                        '-'
                    }
                };
                let value = change.value();
                let text = value.strip_suffix('\n').unwrap_or(value);
                lines.push(Line {
                    op,
                    text: text.to_owned(),
                    newline: value.ends_with('\n'),
                });
            }
        }
        hunks.push(Hunk {
            old_start: if old_range.is_empty() {
                old_range.start
            } else {
                old_range.start + 1
            },
            old_lines: old_range.len(),
            new_start: if new_range.is_empty() {
                new_range.start
            } else {
                new_range.start + 1
            },
            new_lines: new_range.len(),
            lines,
        });
    }
    PatchBody::Text {
        added,
        removed,
        hunks,
    }
}

/// Pairs removed and added text files whose lines are at least `threshold` percent
/// alike into renames (with their similarity), as `git diff -M` does. Files over 1 MiB,
/// binary files and symlinks are not compared, nor more than 256 files a side.
pub fn find_similar_renames(
    engine: &Engine,
    changes: &mut Vec<Change>,
    new: NewSide<'_>,
    threshold: u8,
) -> Result<()> {
    let (removed, added) = (
        candidates(changes, ChangeKind::Removed),
        candidates(changes, ChangeKind::Added),
    );
    if removed.is_empty() || added.is_empty() {
        return Ok(());
    }
    if removed.len() > RENAME_CANDIDATES || added.len() > RENAME_CANDIDATES {
        tracing::debug!("too many added and removed files to look for renames with edits");
        return Ok(());
    }
    let mut old_texts = Vec::new();
    for &i in &removed {
        let c = &changes[i];
        old_texts.push(read_stored(engine, c.old_id, c.old_size)?.into_text());
    }
    let mut new_texts = Vec::new();
    for &i in &added {
        let c = &changes[i];
        let content = match new {
            NewSide::Stored => read_stored(engine, c.new_id, c.new_size)?,
            NewSide::Dir(dir) => read_disk(&dir.join(&c.path), c.kind)?,
        };
        new_texts.push(content.into_text());
    }
    let pairs = best_pairs(&old_texts, &new_texts, threshold);
    let mut gone = Vec::new();
    for (r, a, score) in pairs {
        let from = changes[removed[r]].clone();
        let c = &mut changes[added[a]];
        c.change = ChangeKind::Renamed;
        c.from = Some(from.path);
        c.old_id = from.old_id;
        c.old_size = from.old_size;
        c.similarity = Some(score);
        gone.push(removed[r]);
    }
    let mut i = 0;
    changes.retain(|_| {
        i += 1;
        !gone.contains(&(i - 1))
    });
    Ok(())
}

/// The changes of `kind` that may pair as a rename with edits: files small enough (one
/// more than [`RENAME_CANDIDATES`] at most, to tell there are too many).
fn candidates(changes: &[Change], kind: ChangeKind) -> Vec<usize> {
    changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.change == kind && c.kind == EntryKind::File)
        .filter(|(_, c)| {
            let size = if kind == ChangeKind::Added {
                c.new_size
            } else {
                c.old_size
            };
            size.is_some_and(|s| s <= RENAME_LIMIT)
        })
        .map(|(i, _)| i)
        .take(RENAME_CANDIDATES + 1)
        .collect()
}

/// For each old text in turn, the most alike new text not taken yet, if at least
/// `threshold` percent alike: (old index, new index, similarity).
fn best_pairs(
    old_texts: &[Option<String>],
    new_texts: &[Option<String>],
    threshold: u8,
) -> Vec<(usize, usize, u8)> {
    let mut taken = vec![false; new_texts.len()];
    let mut pairs = Vec::new();
    for (r, old) in old_texts.iter().enumerate() {
        let Some(old) = old else { continue };
        let mut best: Option<(usize, u8)> = None;
        for (a, new) in new_texts.iter().enumerate() {
            let Some(new) = new else { continue };
            if taken[a] || !sizes_allow(old.len(), new.len(), threshold) {
                continue;
            }
            let score = similarity(old, new);
            if score >= threshold && best.is_none_or(|(_, b)| score > b) {
                best = Some((a, score));
            }
        }
        if let Some((a, score)) = best {
            taken[a] = true;
            pairs.push((r, a, score));
        }
    }
    pairs
}

/// Whether two lengths can be `threshold` percent alike at all (a cheap bound).
fn sizes_allow(a: usize, b: usize, threshold: u8) -> bool {
    let (small, large) = (a.min(b), a.max(b));
    large == 0 || small * 100 >= large * usize::from(threshold)
}

/// How alike two texts are, in percent of lines (`similar`'s ratio).
fn similarity(old: &str, new: &str) -> u8 {
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old, new);
    // The ratio is in 0..=1.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let percent = (diff.ratio() * 100.0).floor() as u8;
    percent
}
