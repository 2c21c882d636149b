//! Refs and checkpoint records in a shared backend (the cloud stores), where several
//! machines meet. The bucket is the truth; each machine's index is a cache of it,
//! brought up to date by [`sync`].
//!
//! - `refs/HEAD`: JSON `{"commit": hex or null, "nonce": hex}`, moved only by
//!   compare-and-swap on the store's version (`PutMode::Update`), created create-only.
//!   The nonce makes every write's bytes unique, so a retried write that did land is
//!   recognised as ours.
//! - `checkpoints/<commit hex>`: create-only, written once HEAD moved to the commit
//!   (the move is the commit point; a machine killed in between is repaired by the
//!   next sync, which walks back from HEAD).
//! - `forgotten/<commit hex>`: create-only tombstone, written before a checkpoint is
//!   deleted; it beats the record on every machine.

use std::collections::HashSet;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::hash::CommitId;
use crate::store::{Swapped, Version};

/// The shared HEAD.
pub const HEAD_REF: &str = "refs/HEAD";
/// Where checkpoint records live.
pub const CHECKPOINTS_PREFIX: &str = "checkpoints/";
/// Where tombstones of deleted checkpoints live.
pub const FORGOTTEN_PREFIX: &str = "forgotten/";

/// How often a HEAD move re-reads after losing a race on the version alone.
const SWAP_ATTEMPTS: usize = 64;
/// How far a sync walks back from HEAD looking for checkpoints without records.
const CHAIN_LIMIT: usize = 10_000;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadRecord {
    commit: Option<String>,
    nonce: String,
}

/// `refs/HEAD` as read: its commit and version (`None` when there is no such key).
struct Head {
    commit: Option<CommitId>,
    version: Option<Version>,
}

/// Whether the engine's refs live in its backend.
#[must_use]
pub fn enabled(engine: &Engine) -> bool {
    engine.backend.shared()
}

fn read_head(engine: &Engine) -> Result<Head> {
    let Some((bytes, version)) = engine.backend.get_versioned(HEAD_REF)? else {
        return Ok(Head {
            commit: None,
            version: None,
        });
    };
    let corrupt = |reason: String| Error::Corrupt {
        what: format!("`{HEAD_REF}` of {}", engine.backend.describe()),
        pack: None,
        object: None,
        reason,
    };
    let record: HeadRecord = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let commit = record
        .commit
        .map(|hex| {
            hex.parse()
                .map_err(|_| corrupt(format!("bad commit id {hex:?}")))
        })
        .transpose()?;
    Ok(Head {
        commit,
        version: Some(version),
    })
}

fn write_head(
    engine: &Engine,
    commit: Option<CommitId>,
    expected: Option<&Version>,
) -> Result<Swapped> {
    let record = HeadRecord {
        commit: commit.map(|c| c.0.to_hex()),
        nonce: hex::encode(rand::random::<[u8; 16]>()),
    };
    let bytes = serde_json::to_vec(&record).expect("the record serializes");
    Ok(engine.backend.swap(HEAD_REF, bytes.into(), expected)?)
}

/// Moves the shared HEAD from `from` to `to`; `false` (nothing written) when HEAD is
/// not at `from`: another checkpoint landed first.
pub fn advance(engine: &Engine, from: Option<CommitId>, to: Option<CommitId>) -> Result<bool> {
    swap_head(engine, to, |current| current == from)
}

/// Sets the shared HEAD to `to`, whatever it was (a restore moves HEAD back).
pub fn set_head(engine: &Engine, to: CommitId) -> Result<()> {
    swap_head(engine, Some(to), |_| true).map(drop)
}

/// Writes HEAD `to` at the version read, if `accept` takes the commit HEAD is at
/// (`false` otherwise); a write that loses to another on the version alone re-reads.
fn swap_head(
    engine: &Engine,
    to: Option<CommitId>,
    accept: impl Fn(Option<CommitId>) -> bool,
) -> Result<bool> {
    for _ in 0..SWAP_ATTEMPTS {
        let head = read_head(engine)?;
        if !accept(head.commit) {
            return Ok(false);
        }
        if write_head(engine, to, head.version.as_ref())? == Swapped::Done {
            return Ok(true);
        }
    }
    Err(crate::engine::EngineError::TooManyConflicts.into())
}

/// A random pause that grows with the attempts, so that machines racing for one
/// compare-and-swap spread out.
pub fn backoff(attempt: usize) {
    let cap_ms = 10u64 << attempt.min(6);
    std::thread::sleep(std::time::Duration::from_millis(
        rand::random::<u64>() % cap_ms,
    ));
}

/// Writes the create-only marker `<prefix><id hex>` (a repeat is a no-op).
fn mark(engine: &Engine, prefix: &str, id: CommitId) -> Result<()> {
    let name = format!("{prefix}{}", id.0.to_hex());
    engine.backend.put(&name, Bytes::from_static(b"{}"))?;
    Ok(())
}

/// Records checkpoint `id`.
pub fn record(engine: &Engine, id: CommitId) -> Result<()> {
    mark(engine, CHECKPOINTS_PREFIX, id)
}

/// Deletes checkpoint `id` everywhere: its tombstone first, then the local row, then
/// HEAD moves off it if it was there.
pub fn forget(engine: &Engine, id: CommitId) -> Result<()> {
    mark(engine, FORGOTTEN_PREFIX, id)?;
    engine.index.delete_checkpoint(id)?;
    let newest = engine.index.head()?;
    advance(engine, Some(id), newest)?;
    Ok(())
}

/// The ids named by the keys under `prefix` (keys that do not parse are skipped).
pub fn listed_ids<T: std::str::FromStr + Eq + std::hash::Hash>(
    engine: &Engine,
    prefix: &str,
) -> Result<HashSet<T>> {
    Ok(engine
        .backend
        .list(prefix)?
        .into_iter()
        .filter_map(|b| b.name.strip_prefix(prefix)?.parse().ok())
        .collect())
}

/// Brings the local index up to date with the bucket: takes in gc's marks (packs
/// condemned or deleted by any machine), indexes packs other machines wrote, adds
/// their checkpoints (with names), deletes the ones forgotten anywhere, sets HEAD to
/// the bucket's. Local checkpoints the bucket has no record of (a
/// repository from before records, a machine killed after moving HEAD) are recorded.
pub fn sync(engine: &Engine) -> Result<()> {
    crate::engine::gc::learn(engine)?;
    let mut head = read_head(engine)?;
    let records: HashSet<CommitId> = listed_ids(engine, CHECKPOINTS_PREFIX)?;
    let forgotten: HashSet<CommitId> = listed_ids(engine, FORGOTTEN_PREFIX)?;
    let local: HashSet<CommitId> = engine
        .index
        .checkpoints()?
        .into_iter()
        .map(|r| r.id)
        .collect();
    for id in local.difference(&records) {
        if !forgotten.contains(id) {
            record(engine, *id)?;
        }
    }
    if head.version.is_none()
        && let Some(mine) = engine.index.head()?
    {
        // No shared HEAD yet: this machine's becomes it (or a racing one's).
        if write_head(engine, Some(mine), None)? == Swapped::Conflict {
            head = read_head(engine)?;
        } else {
            head.commit = Some(mine);
        }
    }
    let mut missing: HashSet<CommitId> = records
        .iter()
        .filter(|id| !local.contains(id) && !forgotten.contains(id))
        .copied()
        .collect();
    let head_known = head.commit.is_none_or(|h| local.contains(&h));
    if !missing.is_empty() || !head_known {
        index_new_packs(engine)?;
    }
    let mut cursor = head.commit;
    for _ in 0..CHAIN_LIMIT {
        let Some(id) = cursor else { break };
        if local.contains(&id) || forgotten.contains(&id) || !missing.insert(id) {
            break;
        }
        cursor = engine
            .read_commit(&id)
            .ok()
            .and_then(|c| c.parents.first().copied());
    }
    let mut add = Vec::new();
    for id in missing {
        match engine.read_commit(&id) {
            Ok(c) => add.push((c.created_ms, id, c.name)),
            Err(e) => tracing::warn!("checkpoint {} is recorded but unreadable: {e}", id.short()),
        }
    }
    add.sort_by_key(|(t, id, _)| (*t, *id));
    let add: Vec<_> = add.into_iter().map(|(_, id, name)| (id, name)).collect();
    let gone: Vec<CommitId> = local.intersection(&forgotten).copied().collect();
    let head = head.commit.filter(|h| !forgotten.contains(h));
    Ok(engine.index.sync_checkpoints(&add, &gone, head)?)
}

/// Indexes the packs in the bucket this index does not know, from the index segments
/// it has not read yet or else their trailers. A pack a gc here is deleting (or has
/// condemned) is left out; one deleted meanwhile fails its trailer read and is left out
/// too (the listing comes first, then the index, then the reads).
pub fn index_new_packs(engine: &Engine) -> Result<()> {
    let view = engine.index.gc_view()?;
    let found = crate::engine::segments::find_packs(engine, false, |id| {
        view.packs.contains_key(id) || view.deleting.contains(id) || view.condemned.contains_key(id)
    })?;
    for p in &found.damaged {
        tracing::debug!("pack left out of the sync: {}", p.message);
    }
    Ok(engine
        .index
        .add_listed_packs(&found.packs, &found.segments_read, &found.segments_gone)?)
}
