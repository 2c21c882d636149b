//! Directory listings and file views, shared by checkpoints and project working trees.

use maud::{Markup, html};

use super::highlight::Highlighter;
use super::layout::bytes;
use crate::hash::Hash;
use crate::object::EntryKind;

/// Entries shown per page of a directory: a 15,000-file `node_modules` directory loads
/// a page at a time.
pub const PAGE: usize = 500;

/// Files larger than this are not shown inline as text (download them).
pub const TEXT_VIEW_LIMIT: u64 = 2 * 1024 * 1024;

/// One row of a listing.
pub struct Row {
    /// Its name in the directory.
    pub name: String,
    /// File, directory or symlink.
    pub kind: EntryKind,
    /// Bytes (a directory: all below it).
    pub size: u64,
    /// Content id, when known.
    pub id: Option<Hash>,
    /// Where it opens.
    pub href: String,
}

/// How a file is shown, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// `<img>`.
    Image,
    /// `<video>`.
    Video,
    /// `<audio>`.
    Audio,
    /// Text if it decodes as UTF-8, else a download.
    Other,
}

/// How the file named `name` is shown.
pub fn shown(name: &str) -> Shown {
    let mime = crate::artifact::mime_of_name(name);
    if mime.starts_with("image/") {
        Shown::Image
    } else if mime.starts_with("video/") {
        Shown::Video
    } else if mime.starts_with("audio/") {
        Shown::Audio
    } else {
        Shown::Other
    }
}

/// Whether a file's bytes are read to be shown as text (not media, not too large).
pub fn read_for_text(path: &str, size: u64) -> bool {
    size <= TEXT_VIEW_LIMIT && shown(path) == Shown::Other
}

/// Whether `bytes` read as text: UTF-8 without NUL bytes.
pub fn as_text(bytes: &[u8]) -> Option<&str> {
    (!bytes.contains(&0))
        .then(|| std::str::from_utf8(bytes).ok())
        .flatten()
}

/// A directory's rows, page `page` of them; `page_href(n)` links page `n`.
pub fn listing(rows: &[Row], page: usize, page_href: &dyn Fn(usize) -> String) -> Markup {
    let pages = rows.len().div_ceil(PAGE).max(1);
    let page = page.min(pages - 1);
    let shown = rows.iter().skip(page * PAGE).take(PAGE);
    html! {
        @if pages > 1 {
            (pager(page, pages, rows.len(), page_href))
        }
        table.listing {
            thead { tr { th { "name" } th.num { "size" } th { "content id (b3sum)" } } }
            tbody {
                @for row in shown {
                    tr {
                        td {
                            a href=(row.href) {
                                (row.name)
                                @if row.kind == EntryKind::Dir { "/" }
                            }
                            @if row.kind == EntryKind::Symlink { span.badge { "symlink" } }
                        }
                        td.num { (bytes(row.size)) }
                        td.mono.muted {
                            @if row.kind != EntryKind::Dir {
                                @if let Some(id) = &row.id { (id.to_hex()) }
                            }
                        }
                    }
                }
            }
        }
        @if pages > 1 {
            (pager(page, pages, rows.len(), page_href))
        }
    }
}

fn pager(page: usize, pages: usize, total: usize, href: &dyn Fn(usize) -> String) -> Markup {
    html! {
        nav.pages {
            @if page > 0 { a href=(href(page - 1)) { "← previous" } }
            span.muted { "page " (page + 1) " of " (pages) " (" (total) " entries)" }
            @if page + 1 < pages { a href=(href(page + 1)) { "next →" } }
        }
    }
}

/// A file: its size and id, then the bytes shown as what they are. `text` holds the
/// bytes when they were read (files up to [`TEXT_VIEW_LIMIT`] not shown as media).
pub fn file(
    hl: &Highlighter,
    name: &str,
    size: u64,
    id: Option<&Hash>,
    raw: &str,
    text: Option<&[u8]>,
) -> Markup {
    let body = match shown(name) {
        Shown::Image => html! { img.preview src=(raw) alt=(name); },
        Shown::Video => html! {
            video.player controls preload="metadata" src=(raw) {}
        },
        Shown::Audio => html! { audio controls preload="metadata" src=(raw) {} },
        Shown::Other => match text.and_then(as_text) {
            Some(text) => code(hl, name, text),
            None if text.is_some() => html! { p.muted { "binary file" } },
            None => html! { p.muted { "too large to show here" } },
        },
    };
    html! {
        dl.meta {
            dt { "size" } dd { (bytes(size)) " (" (size) " bytes)" }
            @if let Some(id) = id { dt { "content id (b3sum)" } dd.mono { (id.to_hex()) } }
        }
        p { a href=(raw) download=(name) { "download" } " · " a href=(raw) { "raw" } }
        div.file { (body) }
    }
}

/// Text with line numbers, highlighted by its name.
pub fn code(hl: &Highlighter, name: &str, text: &str) -> Markup {
    let lines = hl.lines(name, text);
    html! {
        table.code {
            @for (n, line) in lines.iter().enumerate() {
                tr { td.ln { (n + 1) } td { (line) } }
            }
        }
    }
}
