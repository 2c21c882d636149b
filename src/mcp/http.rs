//! Streamable HTTP transport (axum, path `/mcp`) with bearer-token authentication.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use rmcp::transport::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::tower::StreamableHttpService;

use super::auth::AuthUser;
use super::server::ReelServer;
use crate::artifact::TokenTable;
use crate::error::{Error, Result};

/// What the auth layer knows.
#[derive(Clone)]
struct AuthState {
    tokens: Option<Arc<TokenTable>>,
}

async fn authenticate(
    State(state): State<AuthState>,
    mut request: Request,
    next: Next,
) -> std::result::Result<Response, StatusCode> {
    let Some(tokens) = &state.tokens else {
        // --allow-anonymous (loopback only): everyone is the same local user.
        request.extensions_mut().insert(AuthUser(
            crate::artifact::Ident::parse("anonymous", "user id").expect("valid"),
        ));
        return Ok(next.run(request).await);
    };
    let presented = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented.and_then(|t| tokens.user(t)) {
        Some(user) => {
            request.extensions_mut().insert(AuthUser(user));
            Ok(next.run(request).await)
        }
        // No detail: the same bare 401 for a missing, malformed or unknown token.
        None => Err(StatusCode::UNAUTHORIZED),
    }
}

/// The largest request body accepted: a payload of `max_inline` bytes in base64 (4/3 of
/// it) with room for the rest of the JSON-RPC message, and never less than rmcp's own
/// 4 MiB. A bigger payload fails in the tool with a clear error before this limit cuts
/// the connection with a 413.
fn body_limit(max_inline: usize) -> usize {
    (max_inline.div_ceil(3) * 4 + (1 << 20)).max(4 << 20)
}

/// The most of an oversized body read (and dropped) before answering, so that a client
/// still sending sees the answer instead of a reset connection.
const DRAIN_LIMIT: usize = 64 << 20;

/// Answers a request whose declared length is over `limit` with a JSON-RPC error
/// (HTTP 413) naming the limit, before rmcp would cut it off with a plain-text 413.
async fn refuse_oversized(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(length) = declared.filter(|&n| n > limit as u64) else {
        return next.run(request).await;
    };
    let _ = axum::body::to_bytes(request.into_body(), DRAIN_LIMIT).await;
    let message = format!(
        "request too large: {length} bytes, the limit is {limit} (a tool payload of up to \
         --max-inline bytes, base64-encoded, fits; send larger files through the CLI or \
         server_path)"
    );
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32600, "message": message, "data": {"code": "too_large"}},
    });
    Response::builder()
        .status(StatusCode::PAYLOAD_TOO_LARGE)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .expect("a valid response")
}

/// Serves MCP over streamable HTTP at `http://ADDR/mcp` until `shutdown` resolves.
/// `tokens: None` means anonymous access, which is refused unless `addr` is loopback.
pub async fn serve_http(
    server: ReelServer,
    addr: SocketAddr,
    tokens: Option<TokenTable>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<()> {
    if tokens.is_none() && !addr.ip().is_loopback() {
        return Err(Error::Invalid(
            "anonymous access is only allowed on a loopback address".into(),
        ));
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let limit = body_limit(server.max_inline());
    let mut config = StreamableHttpServerConfig::default().with_max_request_body_bytes(limit);
    config.cancellation_token = cancel.clone();
    // Stateless for every protocol version: no request depends on an earlier one (the
    // session handle travels in each request's _meta), so any server process behind a
    // load balancer can answer any request. Plain JSON answers unless the tool sends
    // progress first (then an event stream, so no notification is lost).
    config.legacy_session_mode = false;
    config.json_response = true;
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        LocalSessionManager::default().into(),
        config,
    );
    let state = AuthState {
        tokens: tokens.map(Arc::new),
    };
    let app = Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(limit, refuse_oversized))
        .layer(middleware::from_fn_with_state(state, authenticate));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::io("bind", addr.to_string())(e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io("bind", addr.to_string())(e))?;
    on_bound(bound);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            cancel.cancel();
        })
        .await
        .map_err(|e| Error::Backend {
            op: "serve HTTP".into(),
            source: Box::new(e),
        })
}
