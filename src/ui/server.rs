//! The viewer's HTTP server: routes, shared state, and the listener.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};

pub use super::auth::UiAccess;
use super::auth::Viewer;
use super::error::UiError;
use super::highlight::Highlighter;
use super::{assets, jobs, media, project_files, project_pages, render_pages, repo_pages};
use crate::artifact::Artifacts;
use crate::error::{Error, Result};
use crate::render::Renders;
use crate::repo::Repository;

/// How `reel ui` runs.
#[derive(Debug, Clone)]
pub struct UiOptions {
    /// Who may use it.
    pub access: UiAccess,
    /// The render service, for rendering from the page (`None`: the viewer only shows
    /// renders).
    pub renders: Option<Renders>,
}

/// What every handler shares.
pub(super) struct Ui {
    pub repo: Repository,
    pub artifacts: Artifacts,
    pub access: UiAccess,
    /// The session cookie's name: one per port, since cookies are shared across the
    /// ports of a host.
    pub cookie: String,
    /// The `Host` values accepted (loopback: the bound address under its names);
    /// `None`: any (a server bound elsewhere with `--tokens`).
    pub hosts: Option<Vec<String>>,
    pub highlighter: Highlighter,
    pub renders: Option<Renders>,
}

impl Ui {
    /// The repository view is the local user's only (see [`UiAccess`]).
    pub(super) fn local_only(viewer: &Viewer) -> std::result::Result<(), UiError> {
        if viewer.local {
            Ok(())
        } else {
            Err(UiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "the repository view is only offered to the local user (reel ui without --tokens)"
                    .into(),
            ))
        }
    }
}

fn routes() -> Router<Arc<Ui>> {
    Router::new()
        .route("/", get(home))
        .route("/repo", get(repo_pages::timeline))
        .route("/repo/show/{rev}", get(repo_pages::show))
        .route("/repo/tree/{rev}", get(repo_pages::tree_root))
        .route("/repo/tree/{rev}/{*path}", get(repo_pages::tree))
        .route("/repo/raw/{rev}/{*path}", get(media::repo_raw))
        .route("/repo/diff", get(repo_pages::diff))
        .route("/repo/worktree/{*path}", get(media::worktree_raw))
        .route("/projects", get(project_pages::list))
        .route("/projects/{id}", get(project_pages::show))
        .route("/projects/{id}/files", get(project_files::files_root))
        .route("/projects/{id}/files/{*path}", get(project_files::files))
        .route("/projects/{id}/raw/{*path}", get(media::project_raw))
        .route(
            "/projects/{id}/checkpoint/{rev}/files",
            get(project_files::checkpoint_root),
        )
        .route(
            "/projects/{id}/checkpoint/{rev}/files/{*path}",
            get(project_files::checkpoint_files),
        )
        .route(
            "/projects/{id}/checkpoint/{rev}/raw/{*path}",
            get(media::checkpoint_raw),
        )
        .route("/projects/{id}/diff", get(project_pages::diff))
        .route("/projects/{id}/render", post(jobs::submit))
        .route("/jobs/{id}", get(jobs::show))
        .route("/jobs/{id}/events", get(jobs::events))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/renders", get(render_pages::gallery))
        .route("/renders/{id}", get(render_pages::show))
        .route("/renders/{id}/video", get(media::render_video))
        .route("/renders/{id}/poster", get(media::render_poster))
        .route("/assets/{id}/raw", get(media::render_video))
        .route("/static/{name}", get(assets::serve))
}

async fn home(axum::Extension(viewer): axum::Extension<Viewer>) -> Redirect {
    Redirect::to(if viewer.local { "/repo" } else { "/projects" })
}

/// The `Host` values a browser sends for `addr` (loopback only; `None` otherwise).
fn loopback_hosts(addr: SocketAddr) -> Option<Vec<String>> {
    if !addr.ip().is_loopback() {
        return None;
    }
    let port = addr.port();
    Some(vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        addr.to_string(),
    ])
}

/// Serves the viewer on `addr` until `shutdown` resolves. A single-user viewer
/// ([`UiAccess::Local`]) is refused on an address other than loopback; `on_bound` gets
/// the address bound (port 0 picks one).
pub async fn serve_ui(
    repo: Repository,
    addr: SocketAddr,
    options: UiOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<()> {
    if matches!(options.access, UiAccess::Local { .. }) && !addr.ip().is_loopback() {
        return Err(Error::Invalid(format!(
            "reel ui serves {} only with --tokens FILE (without them it listens on loopback only)",
            addr.ip()
        )));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::io("bind", addr.to_string())(e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io("bind", addr.to_string())(e))?;
    let ui = Arc::new(Ui {
        artifacts: repo.artifacts(),
        repo,
        access: options.access,
        cookie: format!("reel_ui_{}", bound.port()),
        hosts: loopback_hosts(bound),
        highlighter: Highlighter::new(),
        renders: options.renders,
    });
    let app = routes()
        .layer(middleware::from_fn_with_state(
            ui.clone(),
            super::auth::admit,
        ))
        .layer(middleware::from_fn(super::auth::harden))
        .with_state(ui);
    on_bound(bound);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::Backend {
            op: "serve HTTP".into(),
            source: Box::new(e),
        })
}
