//! Asset and render records and the render memo in a shared backend (the cloud
//! stores), so that every machine on the bucket sees the same assets and renders and
//! none renders again what another already did.
//!
//! A record is immutable once made: `records/<id hex>` holds its JSON (as the local
//! row), written create-only *before* the local row, so a row this machine has is
//! always one other machines can find. Deleting writes the tombstone
//! `records-deleted/<id hex>` first (the delete is then final everywhere), then drops
//! the row and the record's key. The local rows are a cache: a record missing here is
//! fetched when asked for, a tombstoned one is dropped when met, and a listing brings
//! every row in line with the bucket. `render-memo/<key hex>` holds the id of the
//! render a render key produced, create-only: the first machine's render wins and
//! later ones are read from it.

use std::collections::HashSet;

use bytes::Bytes;

use super::project::RecordId;
use crate::engine::Engine;
use crate::engine::shared::{enabled, index_new_packs, listed_ids};
use crate::error::Result;

/// Where asset and render records live.
pub const RECORDS_PREFIX: &str = "records/";
/// Where the tombstones of deleted records live.
pub const DELETED_PREFIX: &str = "records-deleted/";
/// Where the render memo lives.
#[cfg(feature = "render")]
pub const MEMO_PREFIX: &str = "render-memo/";

fn key(prefix: &str, id: &RecordId) -> String {
    format!("{prefix}{id}")
}

/// Publishes record `id`, made here, before its local row is written.
pub fn publish(engine: &Engine, id: &RecordId, record: &[u8]) -> Result<()> {
    if enabled(engine) {
        // The id is random and new: a record already there can only be this one,
        // written by an earlier attempt.
        engine
            .backend
            .put(&key(RECORDS_PREFIX, id), Bytes::copy_from_slice(record))?;
    }
    Ok(())
}

/// Deletes record `id` everywhere: the tombstone, then the local row, then the record.
pub fn delete(engine: &Engine, id: &RecordId) -> Result<()> {
    if enabled(engine) {
        engine
            .backend
            .put(&key(DELETED_PREFIX, id), Bytes::from_static(b"{}"))?;
    }
    engine.index.artifact_write(|tx| tx.remove_blob(&id.0))?;
    if enabled(engine) {
        engine.backend.delete(&key(RECORDS_PREFIX, id))?;
    }
    Ok(())
}

/// Record `id` as the bucket has it, brought into the local index: a row deleted on
/// another machine is dropped, one made there is fetched (with the packs it needs).
pub fn load(engine: &Engine, id: &RecordId) -> Result<Option<Vec<u8>>> {
    let local = engine.index.artifact_read(|tx| tx.blob(&id.0))?;
    if !enabled(engine) {
        return Ok(local);
    }
    if engine.backend.size(&key(DELETED_PREFIX, id))?.is_some() {
        if local.is_some() {
            engine.index.artifact_write(|tx| tx.remove_blob(&id.0))?;
        }
        return Ok(None);
    }
    if local.is_some() {
        return Ok(local);
    }
    let Some((bytes, _)) = engine.backend.get_versioned(&key(RECORDS_PREFIX, id))? else {
        return Ok(None);
    };
    add(engine, &[(*id, bytes.to_vec())])?;
    Ok(Some(bytes.to_vec()))
}

/// Brings every local row in line with the bucket (before a listing, and before GC
/// reads its roots): two listings, and one read per record made elsewhere. A local
/// row the bucket has neither a record nor a tombstone of predates shared records and
/// is published now.
pub fn pull_all(engine: &Engine) -> Result<()> {
    if !enabled(engine) {
        return Ok(());
    }
    let listed: HashSet<RecordId> = listed_ids(engine, RECORDS_PREFIX)?;
    let deleted: HashSet<RecordId> = listed_ids(engine, DELETED_PREFIX)?;
    let local = engine.index.blob_records()?;
    let mut gone = Vec::new();
    let mut have = HashSet::new();
    for (id, bytes) in &local {
        let id = RecordId(*id);
        have.insert(id);
        if deleted.contains(&id) {
            gone.push(id);
        } else if !listed.contains(&id) {
            publish(engine, &id, bytes)?;
        }
    }
    if !gone.is_empty() {
        engine
            .index
            .artifact_write(|tx| gone.iter().try_for_each(|id| tx.remove_blob(&id.0)))?;
    }
    let mut fetched = Vec::new();
    for id in listed.difference(&have) {
        if deleted.contains(id) {
            continue;
        }
        // Gone meanwhile (deleted on another machine): nothing to add.
        if let Some((bytes, _)) = engine.backend.get_versioned(&key(RECORDS_PREFIX, id))? {
            fetched.push((*id, bytes.to_vec()));
        }
    }
    add(engine, &fetched)
}

/// Adds rows fetched from the bucket, after indexing the packs other machines wrote
/// (their contents are in them).
fn add(engine: &Engine, rows: &[(RecordId, Vec<u8>)]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    index_new_packs(engine)?;
    engine.index.artifact_write(|tx| {
        rows.iter()
            .try_for_each(|(id, bytes)| tx.put_blob(&id.0, bytes))
    })?;
    Ok(())
}

/// The render memoized for render key `key`, here or (fetched into the local memo)
/// in the bucket.
#[cfg(feature = "render")]
pub fn memo(engine: &Engine, key: &crate::hash::Hash) -> Result<Option<RecordId>> {
    let local = engine
        .index
        .artifact_read(|tx| tx.render_memo(key.as_bytes()))?;
    if local.is_some() || !enabled(engine) {
        return Ok(local.map(RecordId));
    }
    let name = format!("{MEMO_PREFIX}{key}");
    let Some((bytes, _)) = engine.backend.get_versioned(&name)? else {
        return Ok(None);
    };
    let Ok(id) = std::str::from_utf8(&bytes)
        .unwrap_or("")
        .trim()
        .parse::<RecordId>()
    else {
        tracing::warn!("`{name}` does not hold a record id; rendering again");
        return Ok(None);
    };
    engine
        .index
        .artifact_write(|tx| tx.put_render_memo(key.as_bytes(), &id.0))?;
    Ok(Some(id))
}

/// Memoizes render key `key` to render `id`, in the bucket (unless another machine
/// did first: its render serves as well) and here.
#[cfg(feature = "render")]
pub fn put_memo(engine: &Engine, key: &crate::hash::Hash, id: &RecordId) -> Result<()> {
    if enabled(engine) {
        let name = format!("{MEMO_PREFIX}{key}");
        engine
            .backend
            .create(&name, Bytes::from(id.to_string().into_bytes()))?;
    }
    engine
        .index
        .artifact_write(|tx| tx.put_render_memo(key.as_bytes(), &id.0))?;
    Ok(())
}
