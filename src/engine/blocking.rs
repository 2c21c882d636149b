//! The bridge from async callers to the synchronous engine: blocking work runs on
//! tokio's blocking pool, never on an async worker.

use std::sync::Arc;

use super::Engine;
use crate::error::{Error, Result};

/// Runs blocking work (redb, file I/O, hashing) on tokio's blocking pool. A panic in
/// the work is returned as an error, not propagated into the caller's task.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("a worker thread failed: {e}")))?
}

/// Runs `f` against the engine on the blocking pool. The blocks decompressed by the
/// operations before are forgotten first (see [`super::BlockCache`]).
pub async fn on_engine<T: Send + 'static>(
    engine: &Arc<Engine>,
    f: impl FnOnce(&Engine) -> Result<T> + Send + 'static,
) -> Result<T> {
    let engine = Arc::clone(engine);
    blocking(move || {
        engine.blocks.clear();
        f(&engine)
    })
    .await
}
