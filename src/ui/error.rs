//! Failures as pages: a status and a sentence, in the viewer's layout.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::error::Error;

/// A failed request: what the browser is told.
#[derive(Debug)]
pub struct UiError {
    status: StatusCode,
    message: String,
}

/// What a handler returns.
pub type UiResult<T> = std::result::Result<T, UiError>;

impl UiError {
    /// A failure with this status and message.
    pub fn new(status: StatusCode, message: String) -> UiError {
        UiError { status, message }
    }

    /// `404` naming what was not found.
    pub fn not_found(what: impl std::fmt::Display) -> UiError {
        UiError::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }
}

impl From<Error> for UiError {
    fn from(e: Error) -> UiError {
        let status = match e.code() {
            "not_found" => StatusCode::NOT_FOUND,
            "invalid_argument" | "ambiguous" => StatusCode::BAD_REQUEST,
            "conflict" | "already_exists" => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        UiError::new(status, e.to_string())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("error");
        let body = super::layout::page(
            title,
            &maud::html! {
                h1 { (self.status.as_u16()) " " (title) }
                p.error { (self.message) }
            },
        );
        (self.status, Html(body.into_string())).into_response()
    }
}
