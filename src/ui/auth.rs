//! Who a request is. `reel ui` prints a URL carrying a token; opening it swaps the token
//! for an HTTP-only, same-site cookie and redirects to the same page without it, so the
//! token leaves the address bar and the history. Every request without a valid cookie
//! gets `401`. The `Host` header must name the loopback address the server listens on,
//! so a page elsewhere cannot reach it through DNS rebinding.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::UiError;
use super::server::Ui;
use crate::artifact::{Caller, TokenTable};

/// Who may use the viewer.
#[derive(Debug, Clone)]
pub enum UiAccess {
    /// One local user, the command line's caller, admitted by a token drawn at random
    /// for this run. Loopback only. Sees the directory repository and its projects.
    Local {
        /// Whom every admitted request acts as.
        caller: Caller,
        /// The token printed in the URL.
        token: String,
    },
    /// A user per token of a tokens file (as `reel serve --tokens`); each request acts
    /// as its token's user in `sandbox`, session-less. The directory repository's view
    /// is not offered: its checkpoints belong to no user.
    Tokens {
        /// The sandbox every user is in.
        sandbox: crate::artifact::Ident,
        /// Tokens and their users.
        table: TokenTable,
    },
}

/// The request's identity, put in its extensions by [`admit`].
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Whom the request acts as.
    pub caller: Caller,
    /// Whether this is the local user of a single-user viewer (the repository view).
    pub local: bool,
}

impl UiAccess {
    /// The viewer a presented token admits.
    pub(super) fn admit(&self, presented: &str) -> Option<Viewer> {
        match self {
            UiAccess::Local { caller, token } => {
                // Hash equality is constant-time: the comparison leaks no prefix.
                (blake3::hash(presented.as_bytes()) == blake3::hash(token.as_bytes())).then(|| {
                    Viewer {
                        caller: caller.clone(),
                        local: true,
                    }
                })
            }
            UiAccess::Tokens { sandbox, table } => table.user(presented).map(|user| Viewer {
                caller: Caller {
                    sandbox: sandbox.clone(),
                    user: Some(user),
                    session: None,
                },
                local: false,
            }),
        }
    }
}

/// The `token` query parameter and the rest of the query without it.
fn query_token(query: &str) -> Option<(String, String)> {
    let mut token = None;
    let mut rest = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k == "token" {
            token = Some(v.into_owned());
        } else {
            rest.append_pair(&k, &v);
        }
    }
    token.map(|t| (t, rest.finish()))
}

/// The value of cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// The middleware in front of every route: Host check, token → cookie, 401.
pub(super) async fn admit(State(ui): State<Arc<Ui>>, mut request: Request, next: Next) -> Response {
    if let Some(hosts) = &ui.hosts {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !hosts.iter().any(|h| h == host) {
            return UiError::new(
                StatusCode::FORBIDDEN,
                format!("unexpected Host `{host}`: open the address `reel ui` printed"),
            )
            .into_response();
        }
    }
    if let Some((token, rest)) = request.uri().query().and_then(query_token) {
        if ui.access.admit(&token).is_none() {
            return unauthorized();
        }
        let path = request.uri().path();
        let location = if rest.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{rest}")
        };
        // The token only contains URL-safe characters we drew, or a tokens-file line;
        // a value a header cannot hold is refused rather than mangled.
        let Ok(set) = HeaderValue::from_str(&format!(
            "{}={token}; HttpOnly; SameSite=Strict; Path=/",
            ui.cookie
        )) else {
            return unauthorized();
        };
        return (
            StatusCode::SEE_OTHER,
            [
                (
                    header::LOCATION,
                    HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/")),
                ),
                (header::SET_COOKIE, set),
            ],
        )
            .into_response();
    }
    match cookie(request.headers(), &ui.cookie).and_then(|t| ui.access.admit(t)) {
        Some(viewer) => {
            request.extensions_mut().insert(viewer);
            next.run(request).await
        }
        None => unauthorized(),
    }
}

fn unauthorized() -> Response {
    UiError::new(
        StatusCode::UNAUTHORIZED,
        "not signed in: open the address `reel ui` printed (it carries the token)".into(),
    )
    .into_response()
}

/// Headers on every answer: nothing loads from elsewhere, nothing runs inline, the page
/// is not framed, and no address (with its query) leaks to another site.
pub(super) async fn harden(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: with it a browser sends `Origin: null` on the viewer's own form
    // posts, which the origin check of `jobs` must then refuse.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_taken_out_of_the_query() {
        assert_eq!(
            query_token("token=abc&old=v1"),
            Some(("abc".into(), "old=v1".into()))
        );
        assert_eq!(query_token("old=v1"), None);
        assert_eq!(
            query_token("token=a%2Bb"),
            Some(("a+b".into(), String::new()))
        );
    }

    #[test]
    fn only_the_named_cookie_counts() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; reel_ui_80=tok"),
        );
        assert_eq!(cookie(&h, "reel_ui_80"), Some("tok"));
        assert_eq!(cookie(&h, "reel_ui_81"), None);
    }

    #[test]
    fn a_local_viewer_needs_the_exact_token() {
        let access = UiAccess::Local {
            caller: Caller::new("local", Some("ana"), None).unwrap(),
            token: "s3cret".into(),
        };
        assert!(access.admit("s3cret").is_some_and(|v| v.local));
        assert!(access.admit("s3cre").is_none());
        assert!(access.admit("").is_none());
        let table = TokenTable::parse("bob tok-bob\n").unwrap();
        let access = UiAccess::Tokens {
            sandbox: crate::artifact::Ident::parse("local", "sandbox id").unwrap(),
            table,
        };
        let bob = access.admit("tok-bob").unwrap();
        assert_eq!(bob.caller.user.unwrap().as_str(), "bob");
        assert!(!bob.local);
        assert!(access.admit("s3cret").is_none());
    }
}
