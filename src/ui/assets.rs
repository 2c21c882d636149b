//! The style sheets and script, embedded in the binary (no CDN: the viewer works
//! offline).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::UiError;
use super::server::Ui;

const APP_CSS: &str = include_str!("assets/app.css");
const APP_JS: &str = include_str!("assets/app.js");

/// `GET /static/NAME`.
pub(super) async fn serve(State(ui): State<Arc<Ui>>, Path(name): Path<String>) -> Response {
    let (body, mime) = match name.as_str() {
        "app.css" => (APP_CSS.to_owned(), "text/css; charset=utf-8"),
        "highlight.css" => (ui.highlighter.css().to_owned(), "text/css; charset=utf-8"),
        "app.js" => (APP_JS.to_owned(), "text/javascript; charset=utf-8"),
        _ => return UiError::not_found(format!("/static/{name}")).into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}
