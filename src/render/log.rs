//! A job's renderer log: every line the installer, the composition listing and the
//! renderer wrote, both streams in the order they arrived, each step under a header —
//! bounded, so a renderer that loops printing cannot fill the repository — and the
//! warnings found in it.
//!
//! The first [`HEAD_BYTES`] are kept, then the most recent lines up to [`TAIL_BYTES`];
//! what falls between is counted and named by one line. When the job ends the log is
//! stored as a blob (see `docs/render.md`, "Warnings and logs").

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use crate::artifact::renders;
use crate::artifact::{Caller, RecordId};
use crate::engine::blocking;
use crate::error::{Error, Result};

/// Bytes kept from the start of a log.
pub const HEAD_BYTES: usize = 256 * 1024;
/// Bytes of the most recent lines kept.
pub const TAIL_BYTES: usize = 1024 * 1024;
/// Distinct warnings kept per job.
pub const MAX_WARNINGS: usize = 20;

/// A job's log, written from the stream readers of every process the job runs.
#[derive(Debug, Default)]
pub struct JobLog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    head: String,
    tail: VecDeque<String>,
    tail_bytes: usize,
    left_out: u64,
    warnings: Vec<String>,
    /// The renderer's multi-line `Version mismatch:` block being read: its warning's
    /// index and the versions listed so far, each with its packages.
    block: Option<(usize, Versions)>,
    /// npm's multi-line warning being read: its warning's index and npm's code
    /// (`npm warn install-scripts …` on four lines is one warning).
    npm: Option<(usize, String)>,
}

/// Versions listed in a `Version mismatch:` block, each with its packages.
type Versions = Vec<(String, Vec<String>)>;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Out,
    /// Standard error (its lines are marked `!` in the log).
    Err,
}

impl JobLog {
    /// A header before a step's lines: `== $ npm install … ==`.
    pub fn section(&self, title: &str) {
        self.lock().push(format!("== {title} =="));
    }

    /// One line a process wrote.
    pub fn line(&self, stream: Stream, line: &str) {
        let line = super::progress::strip_ansi(line);
        let mut g = self.lock();
        g.note_warning(&line);
        g.push(match stream {
            Stream::Out => line,
            Stream::Err => format!("! {line}"),
        });
    }

    /// A warning found outside the output (a check of the installed versions).
    pub fn warn(&self, warning: String) {
        let mut g = self.lock();
        g.push(format!("warning: {warning}"));
        add_warning(&mut g.warnings, warning);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("log lock")
    }

    /// The warnings found so far, first first.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        self.lock().warnings.clone()
    }

    /// Whether nothing was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        let g = self.lock();
        g.head.is_empty() && g.tail.is_empty()
    }

    /// The log's text: the head, a line naming what was left out if anything was, the
    /// tail.
    #[must_use]
    pub fn text(&self) -> String {
        let g = self.lock();
        let mut out = g.head.clone();
        if g.left_out > 0 {
            let _ = writeln!(
                out,
                "… {} lines left out (the log keeps its first {} KiB and last {} KiB) …",
                g.left_out,
                HEAD_BYTES / 1024,
                TAIL_BYTES / 1024
            );
        }
        for l in &g.tail {
            out.push_str(l);
        }
        out
    }
}

impl Inner {
    fn push(&mut self, mut line: String) {
        line.push('\n');
        if self.tail.is_empty() && self.head.len() + line.len() <= HEAD_BYTES {
            self.head.push_str(&line);
            return;
        }
        self.tail_bytes += line.len();
        self.tail.push_back(line);
        while self.tail_bytes > TAIL_BYTES {
            let Some(old) = self.tail.pop_front() else {
                break;
            };
            self.tail_bytes -= old.len();
            self.left_out += 1;
        }
    }

    /// Keeps the lines that are warnings: npm's `npm warn …`, Remotion's
    /// `Version mismatch:` block (folded into one warning: `Version mismatch:
    /// remotion 4.0.541; @remotion/cli 4.0.529`), and lines that start with
    /// `warning`/`warn` or Remotion's 🚨.
    fn note_warning(&mut self, line: &str) {
        let t = line.trim();
        if let Some((at, groups)) = &mut self.block {
            // The block lists `- On version: X` lines, each followed by `  - package`.
            if let Some(item) = t.strip_prefix("- ") {
                match item.strip_prefix("On version: ") {
                    Some(v) => groups.push((v.to_owned(), Vec::new())),
                    None => {
                        if let Some((_, pkgs)) = groups.last_mut() {
                            pkgs.push(item.to_owned());
                        }
                    }
                }
                if let Some(w) = self.warnings.get_mut(*at) {
                    *w = mismatch_text(groups);
                }
                return;
            }
            if !t.is_empty() {
                self.block = None;
            }
        }
        if t.contains("Version mismatch") {
            // Once: reelstore's own check of the install may have named it already.
            let named = self
                .warnings
                .iter()
                .any(|w| w.starts_with("Version mismatch"));
            if !named && self.warnings.len() < MAX_WARNINGS {
                self.block = Some((self.warnings.len(), Vec::new()));
                self.warnings.push("Version mismatch".into());
            }
            return;
        }
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("npm warn") {
            let rest = t["npm warn".len()..].trim_start();
            let code = rest.split_whitespace().next().unwrap_or_default();
            if let Some((at, c)) = &self.npm
                && c == code
                && let Some(w) = self.warnings.get_mut(*at)
            {
                let more = rest[code.len()..].trim();
                if !more.is_empty() && w.len() < 600 {
                    w.push(' ');
                    w.push_str(more);
                }
                return;
            }
            if self.warnings.len() < MAX_WARNINGS && !self.warnings.iter().any(|w| w == t) {
                self.npm = Some((self.warnings.len(), code.to_owned()));
                self.warnings.push(t.chars().take(300).collect());
            }
            return;
        }
        self.npm = None;
        if lower.starts_with("warn") || t.starts_with('🚨') {
            add_warning(&mut self.warnings, t.chars().take(300).collect());
        }
    }
}

/// `Version mismatch: remotion, @remotion/bundler 4.0.541; @remotion/cli 4.0.529`.
fn mismatch_text(groups: &[(String, Vec<String>)]) -> String {
    let parts: Vec<String> = groups
        .iter()
        .map(|(v, pkgs)| format!("{} {v}", pkgs.join(", ")))
        .collect();
    format!("Version mismatch: {}", parts.join("; "))
}

fn add_warning(list: &mut Vec<String>, w: String) {
    if list.len() < MAX_WARNINGS && !list.contains(&w) {
        list.push(w);
    }
}

impl super::Renders {
    /// A job's log: the output of its installer, composition listing and renderer
    /// (both streams, bounded; see [`JobLog`]). While the job runs in this process, the
    /// lines so far; once it ended, the blob it was stored as. Not found for a job
    /// answered from the memo when submitted (nothing ran), or whose log was deleted.
    pub async fn log(&self, caller: &Caller, job: RecordId) -> Result<Vec<u8>> {
        if let Some(live) = self.live(caller, job)
            && !live.tx.borrow().stage.is_final()
        {
            return Ok(live.log.text().into_bytes());
        }
        let status = self.status(caller, job).await?;
        let Some(id) = status.log else {
            let why = if status.memo_hit {
                "it was answered from the memo: nothing ran"
            } else if status.stage.is_final() {
                "it ended without one (stored by an older version, or storing it failed)"
            } else {
                "it runs in another process; its log is stored when it ends"
            };
            return Err(Error::Invalid(format!("job {job} has no log: {why}")));
        };
        let (engine, caller) = (Arc::clone(&self.inner.engine), caller.clone());
        blocking(move || renders::read_log(&engine, &caller, &id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::{HEAD_BYTES, JobLog, MAX_WARNINGS, Stream, TAIL_BYTES};

    #[test]
    fn keeps_both_streams_in_order_under_headers() {
        let log = JobLog::default();
        assert!(log.is_empty());
        log.section("installing node_modules: npm install");
        log.line(Stream::Err, "\u{1b}[33mnpm http fetch GET 200 x\u{1b}[0m");
        log.line(Stream::Out, "added 2 packages");
        assert_eq!(
            log.text(),
            "== installing node_modules: npm install ==\n! npm http fetch GET 200 x\nadded 2 packages\n"
        );
    }

    #[test]
    fn a_flood_keeps_the_head_and_the_latest_lines_within_bounds() {
        let log = JobLog::default();
        let line = "x".repeat(99);
        let n = (HEAD_BYTES + TAIL_BYTES) / 100 * 3;
        for i in 0..n {
            log.line(Stream::Out, &format!("{line}{}", i % 10));
        }
        log.line(Stream::Out, "the last line");
        let text = log.text();
        assert!(
            text.len() <= HEAD_BYTES + TAIL_BYTES + 200,
            "{}",
            text.len()
        );
        assert!(text.starts_with(&format!("{line}0\n{line}1\n")));
        assert!(text.ends_with("the last line\n"));
        let kept = text.lines().count() - 1;
        let left: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("… "))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("a line names what was left out");
        assert_eq!(kept + left, n + 1, "every line is kept or counted");
    }

    #[test]
    fn finds_npm_and_remotion_warnings_once_each() {
        let log = JobLog::default();
        for l in [
            "npm warn install-scripts 1 package has install scripts:",
            "npm warn install-scripts   esbuild@0.28.1 (postinstall: node install.js)",
            "npm warn install-scripts",
            "npm warn ERESOLVE overriding peer dependency",
            "npm http fetch GET 200 https://registry.npmjs.org/zod 5ms",
            "npm warn ERESOLVE overriding peer dependency",
            "-------------",
            "Version mismatch:",
            "- On version: 4.0.541",
            "  - remotion",
            "- On version: 4.0.529",
            "  - @remotion/cli",
            "",
            "You may experience breakages such as:",
            "Rendered 1/2",
        ] {
            log.line(Stream::Err, l);
        }
        log.warn("the project has no lockfile".into());
        assert_eq!(
            log.warnings(),
            [
                "npm warn install-scripts 1 package has install scripts: esbuild@0.28.1 (postinstall: node install.js)",
                "npm warn ERESOLVE overriding peer dependency",
                "Version mismatch: remotion 4.0.541; @remotion/cli 4.0.529",
                "the project has no lockfile",
            ]
        );
        for i in 0..2 * MAX_WARNINGS {
            log.line(Stream::Out, &format!("warning: {i}"));
        }
        assert_eq!(log.warnings().len(), MAX_WARNINGS);
    }
}
