//! Printing changes for people: the patch (git's unified format), the stat (changed
//! lines per file) and the name-status (one letter and path per file).

use std::fmt::Write as _;

use super::args::{Cli, ColorWhen};
use super::output::bytes;
use reelstore::{ChangeKind, FilePatch, Hunk, PatchBody};

/// Colour codes, or nothing: on a terminal unless `NO_COLOR`, or as `--color` says.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// Whether the command's standard output gets colour.
    pub fn new(cli: &Cli) -> Paint {
        let on = match cli.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                !cli.json
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::IsTerminal::is_terminal(&std::io::stdout())
            }
        };
        Paint { on }
    }

    fn wrap(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[m")
        } else {
            text.to_owned()
        }
    }

    /// File headers.
    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }
    /// Hunk headers.
    pub fn cyan(self, text: &str) -> String {
        self.wrap("36", text)
    }
    /// Removed lines.
    pub fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }
    /// Added lines.
    pub fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }
    /// Ids.
    pub fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }
}

/// The old and new path of a patch, as `a/…` and `b/…` (or `/dev/null`).
fn names(p: &FilePatch) -> (String, String) {
    let c = &p.change;
    let old = c.from.as_deref().unwrap_or(&c.path);
    match c.change {
        ChangeKind::Added => ("/dev/null".into(), format!("b/{}", c.path)),
        ChangeKind::Removed => (format!("a/{}", c.path), "/dev/null".into()),
        _ => (format!("a/{old}"), format!("b/{}", c.path)),
    }
}

/// Every patch in git's unified format.
pub fn patch_text(patches: &[FilePatch], paint: Paint) -> String {
    let mut out = String::new();
    for p in patches {
        file_patch(&mut out, p, paint);
    }
    out
}

fn file_patch(out: &mut String, p: &FilePatch, paint: Paint) {
    let c = &p.change;
    let old = c.from.as_deref().unwrap_or(&c.path);
    let mut head = format!("diff --reel a/{old} b/{}\n", c.path);
    match c.change {
        ChangeKind::Added => head.push_str("new file\n"),
        ChangeKind::Removed => head.push_str("deleted file\n"),
        ChangeKind::Renamed => {
            let _ = write!(
                head,
                "similarity index {}%\nrename from {old}\nrename to {}\n",
                c.similarity.unwrap_or(100),
                c.path
            );
        }
        ChangeKind::Modified if c.old_id == c.new_id => {
            head.push_str("executable bit changed\n");
        }
        ChangeKind::Modified => {}
    }
    if c.old_id != c.new_id {
        let short = |h: Option<reelstore::Hash>| h.map_or_else(|| "0".repeat(12), |h| h.short());
        let _ = writeln!(head, "index {}..{}", short(c.old_id), short(c.new_id));
    }
    let (a, b) = names(p);
    match &p.body {
        PatchBody::Binary => {
            out.push_str(&paint.bold(&head));
            let _ = writeln!(out, "Binary files {a} and {b} differ");
        }
        PatchBody::Text { hunks, .. } if hunks.is_empty() => out.push_str(&paint.bold(&head)),
        PatchBody::Text { hunks, .. } => {
            let _ = write!(head, "--- {a}\n+++ {b}\n");
            out.push_str(&paint.bold(&head));
            for h in hunks {
                hunk(out, h, paint);
            }
        }
    }
}

/// `3` for one line, `3,4` for more, as git writes a range.
fn range(start: usize, lines: usize) -> String {
    if lines == 1 {
        start.to_string()
    } else {
        format!("{start},{lines}")
    }
}

fn hunk(out: &mut String, h: &Hunk, paint: Paint) {
    let header = format!(
        "@@ -{} +{} @@",
        range(h.old_start, h.old_lines),
        range(h.new_start, h.new_lines)
    );
    out.push_str(&paint.cyan(&header));
    out.push('\n');
    for line in &h.lines {
        let text = format!("{}{}", line.op, line.text);
        match line.op {
            '+' => out.push_str(&paint.green(&text)),
            '-' => out.push_str(&paint.red(&text)),
            _ => out.push_str(&text),
        }
        out.push('\n');
        if !line.newline {
            out.push_str("\\ No newline at end of file\n");
        }
    }
}

/// The name a stat line shows: `path`, or `old => new` for a rename.
fn stat_name(p: &FilePatch) -> String {
    match (&p.change.change, &p.change.from) {
        (ChangeKind::Renamed, Some(from)) => format!("{from} => {}", p.change.path),
        _ => p.change.path.clone(),
    }
}

/// What git's `--stat` prints: each file with its changed lines and a bar of `+` and
/// `-` (binary files with their sizes), then the totals.
pub fn stat_text(patches: &[FilePatch], paint: Paint) -> String {
    let width = patches
        .iter()
        .map(|p| stat_name(p).chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    let bars = Bars::of(patches);
    let (mut added, mut removed) = (0, 0);
    let mut out = String::new();
    for p in patches {
        let name = stat_name(p);
        let _ = write!(out, " {name:<width$} | ");
        match &p.body {
            PatchBody::Binary => {
                let size = |s: Option<u64>| s.map_or_else(|| "0 B".into(), bytes);
                let _ = writeln!(
                    out,
                    "Bin {} -> {}",
                    size(p.change.old_size),
                    size(p.change.new_size)
                );
            }
            PatchBody::Text {
                added: a,
                removed: r,
                ..
            } => {
                added += a;
                removed += r;
                out.push_str(&bars.line(*a, *r, paint));
                out.push('\n');
            }
        }
    }
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let _ = writeln!(
        out,
        " {}, {}, {}",
        plural(patches.len(), "file changed", "files changed"),
        plural(added, "insertion(+)", "insertions(+)"),
        plural(removed, "deletion(-)", "deletions(-)")
    );
    out
}

/// The `+`/`-` bars of a stat, scaled to [`Bars::WIDTH`] when the largest change would
/// not fit.
struct Bars {
    most: usize,
    digits: usize,
}

impl Bars {
    const WIDTH: usize = 40;

    fn of(patches: &[FilePatch]) -> Bars {
        let most = patches
            .iter()
            .map(|p| {
                let (a, r) = p.body.counts();
                a + r
            })
            .max()
            .unwrap_or(0);
        Bars {
            most,
            digits: most.to_string().len(),
        }
    }

    fn scale(&self, n: usize) -> usize {
        if self.most <= Self::WIDTH || n == 0 {
            n
        } else {
            (n * Self::WIDTH).div_ceil(self.most)
        }
    }

    /// `  4 ++--`.
    fn line(&self, added: usize, removed: usize, paint: Paint) -> String {
        format!(
            "{:>digits$} {}{}",
            added + removed,
            paint.green(&"+".repeat(self.scale(added))),
            paint.red(&"-".repeat(self.scale(removed))),
            digits = self.digits
        )
    }
}
