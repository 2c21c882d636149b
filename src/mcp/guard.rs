//! The limits every tool call runs under: the inline size limit, the per-user quota
//! (checked and held until the write it guards is done), and the request timeout.

use std::future::Future;
use std::sync::Arc;

use super::error::{ToolError, ToolResult};
use super::server::ReelServer;
use crate::artifact::{Caller, Ident};

/// Quota locks: a fixed set, a user hashed onto one. Bounded whatever the number of
/// users; two users sharing a stripe only wait for each other's quota checks.
pub const QUOTA_STRIPES: usize = 64;

/// The stripes, shared by clones of a server.
pub type QuotaLocks = Arc<[tokio::sync::Mutex<()>; QUOTA_STRIPES]>;

/// A fresh set of quota locks.
#[must_use]
pub fn quota_locks() -> QuotaLocks {
    Arc::new(std::array::from_fn(|_| tokio::sync::Mutex::new(())))
}

impl ReelServer {
    /// Refuses a payload over the inline limit.
    pub(super) fn check_size(&self, n: usize) -> ToolResult<()> {
        let limit = self.options().max_inline;
        if n > limit {
            return Err(ToolError::TooLarge {
                size: n as u64,
                limit: limit as u64,
            });
        }
        Ok(())
    }

    /// Refuses a write of `adding` bytes that would take the caller past the quota,
    /// before anything is stored. Returns the user's quota lock: hold it until the
    /// write is done, so that two writes of one user cannot both pass the check.
    pub(super) async fn check_quota(
        &self,
        me: &Caller,
        adding: u64,
    ) -> ToolResult<Option<tokio::sync::MutexGuard<'_, ()>>> {
        let Some(quota) = self.options().quota else {
            return Ok(None);
        };
        let key = format!(
            "{}/{}",
            me.sandbox,
            me.user.as_ref().map_or("", Ident::as_str)
        );
        let stripe = blake3::hash(key.as_bytes()).as_bytes()[0] as usize % QUOTA_STRIPES;
        let guard = self.quota_locks()[stripe].lock().await;
        let used = self.artifacts().usage(me).await?;
        if used.saturating_add(adding) > quota {
            return Err(ToolError::Quota {
                adding,
                quota,
                used,
            });
        }
        Ok(Some(guard))
    }

    /// Runs a tool's work under the request timeout. Work abandoned at the timeout holds
    /// no lock: use [`ReelServer::timed_owned`] for work that does.
    pub(super) async fn timed<T>(
        &self,
        work: impl Future<Output = ToolResult<T>>,
    ) -> ToolResult<T> {
        let after = self.options().timeout;
        tokio::time::timeout(after, work)
            .await
            .unwrap_or(Err(ToolError::Timeout { after }))
    }

    /// Runs work that holds a lock (a quota check and the write it guards) as a task of
    /// its own: at the timeout the caller is answered, and the work still finishes —
    /// releasing its lock only when its write is done, never early.
    pub(super) async fn timed_owned<T: Send + 'static>(
        &self,
        work: impl Future<Output = ToolResult<T>> + Send + 'static,
    ) -> ToolResult<T> {
        let after = self.options().timeout;
        let task = tokio::spawn(work);
        match tokio::time::timeout(after, task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(crate::Error::Internal(format!("a tool's task failed: {e}")).into()),
            Err(_) => Err(ToolError::Timeout { after }),
        }
    }
}

impl ReelServer {
    /// The shape of nearly every tool: its arguments (or an `isError` naming what is
    /// wrong with them), its caller, its work under the request timeout, its reply with
    /// a one-line summary.
    pub(super) async fn call<A, T: serde::Serialize>(
        &self,
        args: super::params::Lenient<A>,
        ctx: &rmcp::service::RequestContext<rmcp::RoleServer>,
        work: impl AsyncFnOnce(Caller, A) -> ToolResult<T>,
        summary: impl FnOnce(&T) -> String,
    ) -> std::result::Result<rmcp::model::CallToolResult, rmcp::ErrorData> {
        self.call_then(args, ctx, work, |r| match r {
            Ok(v) => {
                let s = summary(&v);
                super::reply::success(&v, s)
            }
            Err(e) => super::reply::failure(&e),
        })
        .await
    }

    /// [`ReelServer::call`] with a reply of the tool's own making.
    pub(super) async fn call_then<A, T>(
        &self,
        args: super::params::Lenient<A>,
        ctx: &rmcp::service::RequestContext<rmcp::RoleServer>,
        work: impl AsyncFnOnce(Caller, A) -> ToolResult<T>,
        respond: impl FnOnce(ToolResult<T>) -> rmcp::model::CallToolResult,
    ) -> std::result::Result<rmcp::model::CallToolResult, rmcp::ErrorData> {
        let args = match args.0 {
            Ok(a) => a,
            Err(e) => return Ok(super::reply::failure(&ToolError::Arguments(e))),
        };
        let r = self
            .timed(async {
                let me = self.caller(ctx)?;
                work(me, args).await
            })
            .await;
        Ok(respond(r))
    }
}

impl ReelServer {
    /// [`ReelServer::call`] for writes under a quota lock: the work runs as a task of
    /// its own (on a clone of the server), so at the timeout the caller is answered and
    /// the write still finishes before its lock is released.
    pub(super) async fn call_owned<A, T, F>(
        &self,
        args: super::params::Lenient<A>,
        ctx: &rmcp::service::RequestContext<rmcp::RoleServer>,
        work: impl FnOnce(ReelServer, Caller, A) -> F,
        summary: impl FnOnce(&T) -> String,
    ) -> std::result::Result<rmcp::model::CallToolResult, rmcp::ErrorData>
    where
        T: serde::Serialize + Send + 'static,
        F: Future<Output = ToolResult<T>> + Send + 'static,
    {
        let args = match args.0 {
            Ok(a) => a,
            Err(e) => return Ok(super::reply::failure(&ToolError::Arguments(e))),
        };
        let me = match self.caller(ctx) {
            Ok(me) => me,
            Err(e) => return Ok(super::reply::failure(&e)),
        };
        let r = self.timed_owned(work(self.clone(), me, args)).await;
        super::reply::reply(r, summary)
    }
}
