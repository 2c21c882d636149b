//! A diff as HTML: per file, what happened (added, removed, modified, renamed with its
//! similarity), then unified lines with both line numbers and highlighting, or images
//! side by side. Shared by the repository's and the projects' diff pages.

use maud::{Markup, html};

use super::highlight::Highlighter;
use super::layout::{bytes, path_url};
use super::tree_view::{self, Shown};
use crate::engine::diff::ChangeKind;
use crate::engine::patch::{FilePatch, PatchBody};

/// A side of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// Before.
    Old,
    /// After.
    New,
}

/// The changed lines of a set of patches: added, removed.
pub(super) fn counts(patches: &[FilePatch]) -> (usize, usize) {
    patches.iter().fold((0, 0), |(a, r), p| {
        let (pa, pr) = p.body.counts();
        (a + pa, r + pr)
    })
}

/// The word for a change.
pub(super) fn kind_word(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => "added",
        ChangeKind::Removed => "removed",
        ChangeKind::Modified => "modified",
        ChangeKind::Renamed => "renamed",
    }
}

/// One file of a diff: what happened, then its lines (or its images side by side).
/// `raw` gives the URL of a side's bytes by path.
pub(super) fn file_patch(
    hl: &Highlighter,
    p: &FilePatch,
    raw: &dyn Fn(Side, &str) -> String,
) -> Markup {
    let c = &p.change;
    let old_path = c.from.as_deref().unwrap_or(&c.path);
    let images = tree_view::shown(&c.path) == Shown::Image;
    html! {
        section.file id=(format!("file-{}", path_url(&c.path))) {
            header {
                span.kind { (kind_word(c.change)) }
                @if let Some(from) = &c.from {
                    span.mono { (from) " → " (c.path) }
                    @if let Some(s) = c.similarity { span.badge { (s) "% similar" } }
                } @else {
                    span.mono { (c.path) }
                }
                span.muted { " "
                    (c.old_size.map(bytes).unwrap_or_default())
                    @if c.old_size.is_some() && c.new_size.is_some() { " → " }
                    (c.new_size.map(bytes).unwrap_or_default())
                }
            }
            @match &p.body {
                PatchBody::Text { hunks, .. } => {
                    table.code {
                        @for h in hunks {
                            tr.hunk { td.ln {} td.ln {} td { "@@ -" (h.old_start) "," (h.old_lines) " +" (h.new_start) "," (h.new_lines) " @@" } }
                            @let (mut o, mut n) = (h.old_start, h.new_start);
                            @for l in &h.lines {
                                @let class = match l.op { '+' => "add", '-' => "del", _ => "ctx" };
                                @let (ol, nl) = match l.op {
                                    '+' => { n += 1; (None, Some(n - 1)) }
                                    '-' => { o += 1; (Some(o - 1), None) }
                                    _ => { o += 1; n += 1; (Some(o - 1), Some(n - 1)) }
                                };
                                tr class=(class) {
                                    td.ln { (ol.map(|v| v.to_string()).unwrap_or_default()) }
                                    td.ln { (nl.map(|v| v.to_string()).unwrap_or_default()) }
                                    td { (l.op) " " (hl.lines(&c.path, &l.text).into_iter().next().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
                PatchBody::Binary if images => {
                    div.side-by-side {
                        @if c.change != ChangeKind::Added {
                            figure { figcaption { "before" } img.preview src=(raw(Side::Old, old_path)) alt="before"; }
                        }
                        @if c.change != ChangeKind::Removed {
                            figure { figcaption { "after" } img.preview src=(raw(Side::New, &c.path)) alt="after"; }
                        }
                    }
                }
                PatchBody::Binary => { p.muted { "binary content differs" } }
            }
        }
    }
}
