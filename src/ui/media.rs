//! File bytes over HTTP: checkpoint files, project files and renders, streamed with
//! `Range` support so a `<video>` seeks without downloading the whole file.
//!
//! A file's bytes are served as what they are only when the browser can show them
//! safely (images, audio, video, and plain text as `text/plain`); anything else is a
//! download. Every answer carries `Content-Security-Policy: sandbox`, so even an SVG or
//! HTML file from a project, opened directly, runs no script in the viewer's origin.

use std::io::Write;
use std::sync::Arc;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use tokio::sync::mpsc;

use super::auth::Viewer;
use super::error::{UiError, UiResult};
use super::range::{RangeRequest, parse_range};
use super::server::Ui;
use crate::artifact::{BlobKind, ProjectPath, mime_of_name};
use crate::error::Result;
use crate::object::EntryKind;

/// Bytes handed to the connection at a time.
const PIECE: usize = 256 * 1024;

/// A `Write` that feeds a response body through a channel. Runs on the blocking thread
/// the library reads on; a closed channel (the browser went away, as it does when a
/// player seeks) ends the read with an error instead of reading on.
struct BodyWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.blocking_send(Ok(piece)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

/// The library does not flush a writer it is given (`read_blob_to`, `read_file_to`):
/// the last piece goes when the writer is dropped, at the end of the read on the same
/// blocking thread. Without this a body lost its last bytes short of its length.
impl Drop for BodyWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// What to read for a body: given a writer, the library call that fills it.
type Reader = Box<dyn FnOnce(BodyWriter) -> BoxFuture<'static, Result<u64>> + Send>;

/// A streamed answer of a body of `size` bytes named `name`, honouring `Range`.
fn stream(
    headers: &HeaderMap,
    name: &str,
    mime: Option<&str>,
    size: u64,
    read: impl FnOnce(Option<(u64, u64)>) -> Reader,
) -> Response {
    let requested = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    );
    let (status, range, len) = match requested {
        RangeRequest::Whole => (StatusCode::OK, None, size),
        RangeRequest::Part { start, len } => (StatusCode::PARTIAL_CONTENT, Some((start, len)), len),
        RangeRequest::Unsatisfiable => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Some(v) = requested
                .content_range(size)
                .and_then(|v| HeaderValue::from_str(&v).ok())
            {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    tracing::info!(
        target: "reel::ui::media",
        "{name}: {} {}",
        status.as_u16(),
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()).unwrap_or("whole")
    );
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
    let errors = tx.clone();
    let reader = read(range);
    tokio::spawn(async move {
        let writer = BodyWriter {
            tx,
            buf: Vec::with_capacity(PIECE),
        };
        if let Err(e) = reader(writer).await {
            // The status is sent already: cut the body short so the browser sees a
            // failed transfer, not a complete file.
            let _ = errors.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    let body = Body::from_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    describe(
        response.headers_mut(),
        name,
        mime,
        len,
        requested.content_range(size),
    );
    response
}

/// The headers of a file's bytes: type, length, ranges, and the sandbox.
fn describe(h: &mut HeaderMap, name: &str, mime: Option<&str>, len: u64, range: Option<String>) {
    let (content_type, inline) = shown_as(name, mime);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'",
        ),
    );
    if !inline {
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    if let Some(v) = range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        h.insert(header::CONTENT_RANGE, v);
    }
}

/// The `Content-Type` a file is served with, and whether it is shown inline.
fn shown_as(name: &str, mime: Option<&str>) -> (&'static str, bool) {
    let mime = mime.unwrap_or_else(|| mime_of_name(name));
    match mime {
        "image/png" => ("image/png", true),
        "image/jpeg" => ("image/jpeg", true),
        "image/gif" => ("image/gif", true),
        "image/webp" => ("image/webp", true),
        "image/svg+xml" => ("image/svg+xml", true),
        "video/mp4" => ("video/mp4", true),
        "video/webm" => ("video/webm", true),
        "video/quicktime" => ("video/quicktime", true),
        "audio/mpeg" => ("audio/mpeg", true),
        "audio/wav" => ("audio/wav", true),
        "audio/ogg" => ("audio/ogg", true),
        m if m.starts_with("text/") || m == "application/json" => {
            ("text/plain; charset=utf-8", true)
        }
        _ => ("application/octet-stream", false),
    }
}

/// `GET /repo/raw/REV/PATH`: a file of a checkpoint of the directory repository.
pub(super) async fn repo_raw(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path((rev, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> UiResult<Response> {
    Ui::local_only(&viewer)?;
    // One checkpoint for the size and the bytes, even if `rev` (HEAD, a tag) moves
    // between the two reads.
    let rev = ui.repo.resolve(&rev).await?.to_string();
    let entry = ui
        .repo
        .ls(&rev, Some(&path), false)
        .await?
        .into_iter()
        .find(|e| e.path == path.trim_matches('/'))
        .ok_or_else(|| UiError::not_found(format!("file `{path}`")))?;
    let repo = ui.repo.clone();
    let name = path.clone();
    Ok(stream(&headers, &name, None, entry.size, move |range| {
        Box::new(move |w| Box::pin(async move { repo.cat_range(&rev, &path, range, w).await }))
    }))
}

/// `GET /repo/worktree/PATH`: a file of the directory repository's working directory
/// (the new side of a diff against it). The library opens it without following
/// symlinks and refuses paths outside the directory or into the repository.
pub(super) async fn worktree_raw(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> UiResult<Response> {
    Ui::local_only(&viewer)?;
    let (file, size) = ui.repo.open_workdir_file(&path).await?;
    let name = path.clone();
    Ok(stream(&headers, &name, None, size, move |range| {
        Box::new(move |mut w| {
            Box::pin(crate::engine::blocking(move || {
                use std::io::{Read, Seek, SeekFrom};
                let mut file = file;
                let (start, len) = range.unwrap_or((0, size));
                file.seek(SeekFrom::Start(start))
                    .map_err(crate::error::Error::io("seek", &path))?;
                std::io::copy(&mut file.take(len), &mut w)
                    .map_err(crate::error::Error::io("read", &path))
            }))
        })
    }))
}

/// `GET /projects/ID/raw/PATH`: a file of a project's working tree.
pub(super) async fn project_raw(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path((id, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> UiResult<Response> {
    let me = viewer.caller;
    let project = ui.artifacts.resolve_project(&me, &id).await?;
    let file = ProjectPath::parse(&path)?;
    let (dir, _) = path.rsplit_once('/').unwrap_or(("", &path));
    let parent = (!dir.is_empty())
        .then(|| ProjectPath::parse(dir))
        .transpose()?;
    let info = ui
        .artifacts
        .list_files(&me, project, parent, false)
        .await?
        .into_iter()
        .find(|f| f.path == file.as_str())
        .ok_or_else(|| UiError::not_found(format!("file `{path}`")))?;
    let artifacts = ui.artifacts.clone();
    Ok(stream(
        &headers,
        &path.clone(),
        None,
        info.size,
        move |range| {
            Box::new(move |w| {
                Box::pin(async move { artifacts.read_file_to(&me, project, file, range, w).await })
            })
        },
    ))
}

/// `GET /projects/ID/checkpoint/REV/raw/PATH`: a file of a project's checkpoint.
pub(super) async fn checkpoint_raw(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path((id, rev, path)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> UiResult<Response> {
    let me = viewer.caller;
    let project = ui.artifacts.resolve_project(&me, &id).await?;
    let file = ProjectPath::parse(&path)?;
    // One checkpoint for the size and the bytes, even if a name moves in between.
    let (commit, listed) = ui
        .artifacts
        .list_checkpoint_files(&me, project, &rev, Some(file.clone()))
        .await?;
    let info = listed
        .into_iter()
        .find(|f| f.path == file.as_str() && f.kind == EntryKind::File)
        .ok_or_else(|| UiError::not_found(format!("file `{path}`")))?;
    let (artifacts, commit) = (ui.artifacts.clone(), commit.to_string());
    Ok(stream(&headers, &path, None, info.size, move |range| {
        Box::new(move |w| {
            Box::pin(async move {
                artifacts
                    .read_checkpoint_file_to(&me, project, &commit, file, range, w)
                    .await
            })
        })
    }))
}

/// `GET /renders/ID/video` (a render's video) and `GET /assets/ID/raw` (an asset's
/// bytes, served as its MIME type allows).
pub(super) async fn render_video(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> UiResult<Response> {
    let me = viewer.caller;
    let record = ui.artifacts.resolve_blob(&me, &id).await?;
    let info = ui.artifacts.get_blob(&me, record).await?;
    let (name, mime) = match &info.kind {
        BlobKind::Render { meta, .. } => (format!("render.{}", meta.container), None),
        BlobKind::Asset {
            mime,
            original_name,
            ..
        } => (original_name.clone(), Some(mime.clone())),
    };
    let artifacts = ui.artifacts.clone();
    Ok(stream(
        &headers,
        &name,
        mime.as_deref(),
        info.size,
        move |range| {
            Box::new(move |w| {
                Box::pin(async move { artifacts.read_blob_to(&me, record, range, w).await })
            })
        },
    ))
}

/// `GET /renders/ID/poster`: a render's poster frame (small: read whole).
pub(super) async fn render_poster(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> UiResult<Response> {
    let me = viewer.caller;
    let record = ui.artifacts.resolve_blob(&me, &id).await?;
    let jpeg = ui.artifacts.read_poster(&me, record).await?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response())
}
