//! Tags: names that point at checkpoints and can be moved or deleted, as git's tags.
//!
//! A checkpoint's own name (`--name`) is part of its commit and never changes; a tag
//! is a separate pointer: several per checkpoint, made after the fact (`reel tag
//! release v3`), usable wherever a checkpoint is named. Tag names and checkpoint names
//! share one namespace: neither may take a name the other has. A tagged checkpoint
//! cannot be deleted until its tags are.
//!
//! The index keeps them (`tags-0`). On a shared bucket each is also `tags/<name>`:
//! JSON `{"commit": hex or null, "nonce": hex}`, created create-only and then moved
//! only by compare-and-swap on its version (a deleted tag is `"commit": null`), so two
//! machines never lose each other's tag moves. There the bucket decides: a lookup reads
//! the tag's key (one GET, only for a word that is no checkpoint name), a listing reads
//! every key, and both bring the index in line.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{Error, ItemKind, Result};
use crate::hash::CommitId;
use crate::store::Swapped;

/// Where tags live in a shared bucket.
pub const TAGS_PREFIX: &str = "tags/";
/// How often a tag write re-reads after losing a race.
const ATTEMPTS: usize = 16;

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// Its name.
    pub name: String,
    /// The checkpoint it points at.
    pub commit: CommitId,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagRecord {
    commit: Option<String>,
    nonce: String,
}

fn key(name: &str) -> String {
    format!("{TAGS_PREFIX}{name}")
}

fn shared(engine: &Engine) -> bool {
    crate::engine::shared::enabled(engine)
}

/// The bucket's record of tag `name`: its commit (`None`: no tag, or deleted) and the
/// version to swap from (`None`: no key yet).
fn read(engine: &Engine, name: &str) -> Result<(Option<CommitId>, Option<crate::store::Version>)> {
    let Some((bytes, version)) = engine.backend.get_versioned(&key(name))? else {
        return Ok((None, None));
    };
    let corrupt = |reason: String| Error::Corrupt {
        what: format!("`{}` of {}", key(name), engine.backend.describe()),
        pack: None,
        object: None,
        reason,
    };
    let record: TagRecord = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let commit = record
        .commit
        .map(|h| {
            h.parse()
                .map_err(|_| corrupt(format!("bad commit id {h:?}")))
        })
        .transpose()?;
    Ok((commit, Some(version)))
}

/// Writes tag `name` (`None`: deleted) in the bucket, from the version read; `false`
/// when another machine moved it first.
fn write(
    engine: &Engine,
    name: &str,
    commit: Option<CommitId>,
    from: Option<&crate::store::Version>,
) -> Result<bool> {
    let record = TagRecord {
        commit: commit.map(|c| c.to_string()),
        nonce: hex::encode(rand::random::<[u8; 16]>()),
    };
    let bytes = Bytes::from(serde_json::to_vec(&record).expect("tags serialize"));
    Ok(engine.backend.swap(&key(name), bytes, from)? == Swapped::Done)
}

/// The checkpoint tag `name` points at, if there is such a tag (the bucket's answer on
/// a shared backend, taken into the index).
pub fn lookup(engine: &Engine, name: &str) -> Result<Option<CommitId>> {
    if !shared(engine) {
        return Ok(engine.index.tag(name)?);
    }
    let (commit, _) = read(engine, name)?;
    match commit {
        Some(c) => engine.index.set_tag(name, c)?,
        None => engine.index.remove_tag(name)?,
    }
    Ok(commit)
}

/// Every tag, by name (on a shared backend, the bucket's, taken into the index).
pub fn list(engine: &Engine) -> Result<Vec<Tag>> {
    if shared(engine) {
        let mut bucket = BTreeMap::new();
        for blob in engine.backend.list(TAGS_PREFIX)? {
            let Some(name) = blob.name.strip_prefix(TAGS_PREFIX) else {
                continue;
            };
            if let (Some(commit), _) = read(engine, name)? {
                bucket.insert(name.to_owned(), commit);
            }
        }
        engine.index.replace_tags(&bucket)?;
    }
    Ok(engine
        .index
        .tags()?
        .into_iter()
        .map(|(name, commit)| Tag { name, commit })
        .collect())
}

/// Points tag `name` at `commit`. An existing tag is moved only with `force`; a name a
/// checkpoint carries is refused.
pub fn create(engine: &Engine, name: &str, commit: CommitId, force: bool) -> Result<Tag> {
    crate::object::validate_checkpoint_name(name)
        .map_err(|why| Error::Invalid(why.replace("checkpoint name", "tag name")))?;
    if engine.index.named(name)?.is_some() {
        return Err(Error::Invalid(format!(
            "`{name}` is the name of a checkpoint: a tag needs another name"
        )));
    }
    let exists = |at: CommitId| Error::AlreadyExists {
        kind: ItemKind::Tag,
        id: name.to_owned(),
        within: Some(format!("at {}", at.short())),
    };
    if shared(engine) {
        for _ in 0..ATTEMPTS {
            let (now, version) = read(engine, name)?;
            if let Some(at) = now.filter(|at| *at != commit && !force) {
                return Err(exists(at));
            }
            if write(engine, name, Some(commit), version.as_ref())? {
                engine.index.set_tag(name, commit)?;
                return Ok(Tag {
                    name: name.to_owned(),
                    commit,
                });
            }
        }
        return Err(Error::Conflict(format!(
            "tag `{name}` kept changing on other machines; try again"
        )));
    }
    if let Some(at) = engine.index.tag(name)?.filter(|at| *at != commit && !force) {
        return Err(exists(at));
    }
    engine.index.set_tag(name, commit)?;
    Ok(Tag {
        name: name.to_owned(),
        commit,
    })
}

/// Deletes tag `name`; returns what it pointed at.
pub fn delete(engine: &Engine, name: &str) -> Result<Tag> {
    let missing = || {
        let names = engine.index.tags().unwrap_or_default();
        Error::not_found(ItemKind::Tag, name).suggesting(names.iter().map(|(n, _)| n.as_str()))
    };
    if shared(engine) {
        for _ in 0..ATTEMPTS {
            let (Some(commit), version) = read(engine, name)? else {
                engine.index.remove_tag(name)?;
                return Err(missing());
            };
            if write(engine, name, None, version.as_ref())? {
                engine.index.remove_tag(name)?;
                return Ok(Tag {
                    name: name.to_owned(),
                    commit,
                });
            }
        }
        return Err(Error::Conflict(format!(
            "tag `{name}` kept changing on other machines; try again"
        )));
    }
    let commit = engine.index.tag(name)?.ok_or_else(missing)?;
    engine.index.remove_tag(name)?;
    Ok(Tag {
        name: name.to_owned(),
        commit,
    })
}

/// Refuses to delete checkpoint `id` while tags point at it.
pub fn ensure_untagged(engine: &Engine, id: CommitId) -> Result<()> {
    let on: Vec<String> = list(engine)?
        .into_iter()
        .filter(|t| t.commit == id)
        .map(|t| t.name)
        .collect();
    if on.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "checkpoint {} is tagged {}: `reel tag -d` them first",
        id.short(),
        on.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{create, delete, list, lookup};
    use crate::engine::progress::NoProgress;
    use crate::error::Error;
    use crate::store::faults::{Fault, FaultStore, Gate, Op, machine};
    use crate::{CheckpointOptions, Repository};

    async fn checkpoint(repo: &Repository, text: &str) -> crate::hash::CommitId {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), text).unwrap();
        let opts = CheckpointOptions::default();
        repo.checkpoint(dir.path(), opts, Arc::new(NoProgress))
            .await
            .unwrap()
            .id
    }

    /// Tags live in the bucket: made on one machine, they resolve, list, move and go on
    /// the other.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tags_are_shared_by_machines() {
        let store = Arc::new(FaultStore::new());
        let (a, b) = (machine(&store), machine(&store));
        let one = checkpoint(&a, "one").await;
        let two = checkpoint(&a, "two").await;
        tokio::task::block_in_place(|| {
            crate::engine::shared::sync(b.engine()).unwrap();
            create(a.engine(), "release", one, false).unwrap();
            assert_eq!(lookup(b.engine(), "release").unwrap(), Some(one));
            assert_eq!(list(b.engine()).unwrap().len(), 1);
            assert!(matches!(
                create(b.engine(), "release", two, false),
                Err(Error::AlreadyExists { .. })
            ));
            create(b.engine(), "release", two, true).unwrap();
            assert_eq!(lookup(a.engine(), "release").unwrap(), Some(two));
            delete(a.engine(), "release").unwrap();
            assert_eq!(lookup(b.engine(), "release").unwrap(), None);
            assert!(list(b.engine()).unwrap().is_empty());
            // Re-made after its deletion, from the deleted record's version.
            create(b.engine(), "release", one, false).unwrap();
            assert_eq!(lookup(a.engine(), "release").unwrap(), Some(one));
        });
    }

    /// Two machines moving one tag at once: the one that loses the compare-and-swap
    /// re-reads, so the tag ends where the later move put it and no move is lost
    /// silently (without -f, the loser is refused because the tag now exists).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_racing_tag_write_is_redone_on_the_new_version() {
        let store = Arc::new(FaultStore::new());
        let (a, b) = (machine(&store), machine(&store));
        let one = checkpoint(&a, "one").await;
        let two = checkpoint(&a, "two").await;
        tokio::task::block_in_place(|| crate::engine::shared::sync(b.engine()).unwrap());
        // A's create is held at its write; B creates the tag meanwhile.
        let gate = Gate::default();
        store.inject_at(Op::Put, "tags/release", Fault::Hold(gate.clone()));
        let held = {
            let a = a.clone();
            tokio::task::spawn_blocking(move || create(a.engine(), "release", one, false))
        };
        tokio::task::block_in_place(|| gate.wait_arrived());
        tokio::task::block_in_place(|| create(b.engine(), "release", two, false)).unwrap();
        gate.open();
        let lost = held.await.unwrap();
        assert!(
            matches!(lost, Err(Error::AlreadyExists { .. })),
            "A re-read and found B's tag: {lost:?}"
        );
        let at = tokio::task::block_in_place(|| lookup(a.engine(), "release")).unwrap();
        assert_eq!(at, Some(two));
    }
}
