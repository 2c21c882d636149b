//! Render jobs in a shared bucket: the machine running a job publishes its status at
//! every stage and, while it runs, its progress every [`CANCEL_POLL`] (`jobs/<id>`,
//! overwritten by that machine alone), so a server behind a load balancer answers for a
//! job another server runs; a process asked to cancel a job it does not run writes
//! `jobs-cancel/<id>`, which the running process looks for as often (on any backend:
//! two servers on one local repository share the index, not their processes).
//!
//! Statuses read from the bucket are kept in this index as read, marked as another
//! host's (see [`super::job::JobRecord`]): that host marks them interrupted, never this
//! one. A status known here as final is never read again.

use std::sync::Arc;
use std::time::Duration;

use super::job::{decode, decode_record, encode};
use super::service::Live;
use crate::artifact::RecordId;
use crate::artifact::renders;
use crate::engine::{Engine, blocking};
use crate::error::Result;
use crate::liveness::Liveness;

/// How often the machine running a job looks for a cancel request from another
/// machine (a HEAD request), on a shared bucket.
pub const CANCEL_POLL: Duration = Duration::from_secs(2);

/// A job's persisted status; on a shared bucket, when this index has no final status
/// for it, the status its running machine last published (kept here).
pub(super) fn pull_job(engine: &Engine, id: &RecordId) -> Result<Option<Vec<u8>>> {
    let local = renders::job(engine, id)?;
    if local.as_deref().is_some_and(is_final) || !crate::engine::shared::enabled(engine) {
        return Ok(local);
    }
    let Some(remote) = renders::fetch_job(engine, id)? else {
        return Ok(local);
    };
    let mut record = match decode_record(&remote) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(job = %id, "a job status in the bucket does not decode: {e}");
            return Ok(local);
        }
    };
    let newer = local
        .as_deref()
        .and_then(|l| decode(l).ok())
        .is_none_or(|(l, _)| record.status.updated_ms >= l.updated_ms);
    if !newer {
        return Ok(local);
    }
    // A runner this host can look up is one of its own processes (this machine's job):
    // kept as ours. Any other is another host's.
    record.remote = record
        .runner
        .is_none_or(|r| r.liveness() == Liveness::Unknown);
    let row = serde_json::to_vec(&record).expect("job records serialize");
    renders::put_local_jobs(engine, &[(*id, row.clone())])?;
    Ok(Some(row))
}

/// Brings the statuses of the bucket's jobs into this index, before a listing: one
/// listing, and one read per job not known here as finished.
pub(super) fn pull_jobs(engine: &Engine) -> Result<()> {
    for id in renders::listed_jobs(engine)? {
        pull_job(engine, &id)?;
    }
    Ok(())
}

fn is_final(bytes: &[u8]) -> bool {
    decode(bytes).is_ok_and(|(s, _)| s.stage.is_final())
}

/// While `live` runs, every [`CANCEL_POLL`]: persists its status if it moved on since
/// the last time (in the index, and on a shared bucket in `jobs/<id>`: stage changes
/// reported by the renderer's output and progress within a stage are otherwise only in
/// this process), and cancels it if another process asked to (another server on this
/// repository, or another machine).
pub(super) fn share_running_job(engine: &Arc<Engine>, live: &Arc<Live>) {
    let (engine, live) = (Arc::clone(engine), Arc::clone(live));
    let id = live.tx.borrow().id;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CANCEL_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is at once
        let mut published = live.tx.borrow().updated_ms;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = live.cancel.cancelled() => return,
            }
            let order = live.persisting.lock().await;
            let status = live.tx.borrow().clone();
            if status.stage.is_final() {
                return;
            }
            if status.updated_ms != published {
                published = status.updated_ms;
                let row = vec![(id, encode(&status, &live.owner))];
                let e = Arc::clone(&engine);
                if let Err(e) = blocking(move || renders::put_jobs(&e, &row)).await {
                    tracing::debug!(job = %id, "cannot publish the job's progress: {e}");
                }
            }
            drop(order);
            let e = Arc::clone(&engine);
            match blocking(move || renders::cancel_requested(&e, &id)).await {
                Ok(true) => {
                    tracing::info!(job = %id, "cancelled from another machine");
                    live.cancel.cancel();
                    return;
                }
                Ok(false) => {}
                Err(e) => tracing::debug!(job = %id, "cannot check for a cancel request: {e}"),
            }
        }
    });
}
