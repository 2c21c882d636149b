//! Naming checkpoints: names, revision syntax (`HEAD~N`, names, ids, id prefixes), log.

use serde::Serialize;

use crate::engine::Engine;
use crate::error::{Error, ItemKind, Result};
use crate::hash::{CommitId, TreeId};
use crate::object::Commit;
pub use crate::object::validate_checkpoint_name;

/// Shortest id prefix accepted.
pub const MIN_PREFIX: usize = 4;
/// Resolves a revision: `HEAD`, a name, a full id or a unique prefix of at least four hex
/// digits, each optionally followed by steps back: `~N` (N first parents back), `^N`
/// (the Nth parent), `~` and `^` alone for one; e.g. `HEAD~2`, `v3^`, `HEAD^^`.
pub fn resolve(engine: &Engine, rev: &str) -> Result<CommitId> {
    let (base, steps) = split_steps(rev)?;
    let mut id = resolve_base(engine, base)?;
    let mut walked = 0;
    for step in steps {
        match step {
            Step::Back(n) => {
                for _ in 0..n {
                    let commit = engine.read_commit(&id)?;
                    id = *commit.parents.first().ok_or_else(|| {
                        Error::Invalid(format!(
                            "`{rev}` goes back further than the history: {base} has {walked} \
                             checkpoint{} before it",
                            if walked == 1 { "" } else { "s" }
                        ))
                    })?;
                    walked += 1;
                }
            }
            Step::Parent(0) => {}
            Step::Parent(n) => {
                let commit = engine.read_commit(&id)?;
                let count = commit.parents.len();
                id = *commit.parents.get(n - 1).ok_or_else(|| {
                    Error::Invalid(if count == 0 {
                        format!(
                            "`{rev}`: checkpoint {} is the first, it has no parent",
                            id.short()
                        )
                    } else {
                        format!(
                            "`{rev}`: checkpoint {} has {count} parent{}, not {n}",
                            id.short(),
                            if count == 1 { "" } else { "s" }
                        )
                    })
                })?;
                walked += 1;
            }
        }
    }
    Ok(id)
}

/// One step of a revision's suffix: `~N` (N first parents back), `^N` (the Nth parent;
/// `^0` the checkpoint itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Back(usize),
    Parent(usize),
}

/// Splits `HEAD~2^` into `HEAD` and its steps (`~` and `^` alone count 1).
fn split_steps(rev: &str) -> Result<(&str, Vec<Step>)> {
    let Some(at) = rev.find(['~', '^']) else {
        return Ok((rev, Vec::new()));
    };
    let (base, mut rest) = rev.split_at(at);
    let mut steps = Vec::new();
    while let Some(op) = rest.chars().next() {
        let digits = rest[1..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest.len() - 1, |i| i);
        let n = &rest[1..=digits];
        let n = if n.is_empty() {
            1
        } else {
            n.parse()
                .map_err(|_| Error::Invalid(format!("`{rev}`: bad number {n:?}")))?
        };
        steps.push(match op {
            '~' => Step::Back(n),
            '^' => Step::Parent(n),
            _ => {
                return Err(Error::Invalid(format!(
                    "`{rev}`: expected ~N or ^N after the checkpoint, found {rest:?}"
                )));
            }
        });
        rest = &rest[1 + digits..];
    }
    Ok((base, steps))
}

fn resolve_base(engine: &Engine, rev: &str) -> Result<CommitId> {
    if rev == "HEAD" {
        return engine.index.head()?.ok_or_else(|| {
            Error::not_found_in(ItemKind::Checkpoint, "HEAD", "an empty repository")
        });
    }
    if let Some(id) = engine.index.named(rev)? {
        return Ok(id);
    }
    if crate::object::validate_checkpoint_name(rev).is_ok()
        && let Some(id) = crate::engine::tags::lookup(engine, rev)?
    {
        return Ok(id);
    }
    if let Ok(id) = rev.to_ascii_lowercase().parse::<CommitId>() {
        return Ok(id);
    }
    let live = engine.index.checkpoints()?.into_iter().map(|row| row.id);
    match_prefix(rev, live, || {
        if !rev.is_empty() && rev.len() < MIN_PREFIX && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
            Error::Invalid(format!(
                "checkpoint `{rev}` not found: an id prefix needs at least {MIN_PREFIX} hex digits"
            ))
        } else {
            let mut names = engine.index.names().unwrap_or_default();
            names.extend(
                engine
                    .index
                    .tags()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(n, _)| n),
            );
            Error::not_found(ItemKind::Checkpoint, rev)
                .suggesting(names.iter().map(String::as_str).chain(["HEAD"]))
        }
    })
}

/// The one id among `live` that starts with `rev` (at least [`MIN_PREFIX`] hex
/// digits); `not_found` when none does, `Ambiguous` naming them when several do.
pub fn match_prefix(
    rev: &str,
    live: impl IntoIterator<Item = CommitId>,
    not_found: impl Fn() -> Error,
) -> Result<CommitId> {
    let lower = rev.to_ascii_lowercase();
    if lower.len() < MIN_PREFIX || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let matches: Vec<CommitId> = live
        .into_iter()
        .filter(|id| id.0.has_hex_prefix(&lower))
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(not_found()),
        many => Err(Error::Ambiguous {
            rev: rev.to_owned(),
            candidates: many.iter().map(CommitId::short).collect(),
        }),
    }
}

/// One line of history.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct LogEntry {
    /// The checkpoint.
    pub id: CommitId,
    /// Whether it was deleted (kept for lineage, no longer a GC root).
    pub deleted: bool,
    /// Its commit, unless it was deleted and collected.
    #[serde(flatten)]
    pub commit: Option<CommitView>,
}

/// A commit as shown by `log` and `show`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct CommitView {
    /// Root tree.
    pub tree: TreeId,
    /// Parents.
    pub parents: Vec<CommitId>,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: String,
    /// Author.
    pub author: String,
    /// Created, milliseconds since the epoch.
    pub created_ms: i64,
    /// Total bytes of the files in the tree; `None` once a deleted checkpoint's tree
    /// has been collected.
    pub size: Option<u64>,
    /// User metadata.
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl CommitView {
    /// Reads the tree's size to complete the view.
    pub fn load(engine: &Engine, commit: Commit) -> Result<CommitView> {
        let size = match engine.read_tree(&commit.tree) {
            Ok(tree) => Some(tree.total_size()),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(CommitView {
            tree: commit.tree,
            parents: commit.parents,
            name: commit.name,
            description: commit.description,
            author: commit.author,
            created_ms: commit.created_ms,
            size,
            metadata: commit.metadata,
        })
    }
}

/// History from `start` along first parents, newest first, at most `limit` entries.
pub fn log(engine: &Engine, start: CommitId, limit: usize) -> Result<Vec<LogEntry>> {
    log_with(engine, start, limit, &|id| {
        engine.index.is_checkpoint(id).unwrap_or(false)
    })
}

/// Every live checkpoint, newest first (`reel log --all`): also those no longer on
/// HEAD's line, e.g. after a restore of an older one and a new checkpoint on it.
pub fn log_all(engine: &Engine, limit: usize) -> Result<Vec<LogEntry>> {
    let mut out = Vec::new();
    for row in engine.index.checkpoints()?.into_iter().rev().take(limit) {
        let commit = engine.read_commit(&row.id)?;
        out.push(LogEntry {
            id: row.id,
            deleted: false,
            commit: Some(CommitView::load(engine, commit)?),
        });
    }
    Ok(out)
}

/// [`log`] with the caller's notion of which checkpoints are live.
pub fn log_with(
    engine: &Engine,
    start: CommitId,
    limit: usize,
    live: &dyn Fn(&CommitId) -> bool,
) -> Result<Vec<LogEntry>> {
    let mut out = Vec::new();
    let mut next = Some(start);
    while let Some(id) = next.take() {
        if out.len() >= limit {
            break;
        }
        let deleted = !live(&id);
        let commit = match engine.read_commit(&id) {
            Ok(c) => Some(c),
            Err(Error::NotFound { .. }) if deleted => None,
            Err(e) => return Err(e),
        };
        next = commit.as_ref().and_then(|c| c.parents.first().copied());
        let view = commit.map(|c| CommitView::load(engine, c)).transpose()?;
        out.push(LogEntry {
            id,
            deleted,
            commit: view,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{Step, split_steps};

    #[test]
    fn suffixes_split_into_steps() {
        assert_eq!(split_steps("v1").unwrap(), ("v1", vec![]));
        assert_eq!(split_steps("HEAD~").unwrap(), ("HEAD", vec![Step::Back(1)]));
        assert_eq!(
            split_steps("HEAD~12").unwrap(),
            ("HEAD", vec![Step::Back(12)])
        );
        assert_eq!(
            split_steps("HEAD^^2~3").unwrap(),
            (
                "HEAD",
                vec![Step::Parent(1), Step::Parent(2), Step::Back(3)]
            )
        );
        assert_eq!(
            split_steps("ab12^0").unwrap(),
            ("ab12", vec![Step::Parent(0)])
        );
        assert!(split_steps("HEAD~x").is_err());
        assert!(split_steps("HEAD~99999999999999999999999").is_err());
    }
}
