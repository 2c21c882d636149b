//! `reel render`'s progress off a terminal (a log, CI): the bar is not drawn there, so
//! progress goes to stderr as lines — each new stage at once, its first detail (the
//! installer's latest line, frames done) at once, later ones at most every two seconds.
//! With `--json`, every change is a JSON event line on stderr instead.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use reelstore::render::JobStatus;

/// The least time between two lines of the same stage.
const EVERY: Duration = Duration::from_secs(2);

/// Progress as lines on stderr.
pub(super) struct ProgressLines {
    started: Instant,
    last: Option<(String, Instant)>,
    stage: Option<reelstore::render::Stage>,
}

impl ProgressLines {
    /// Lines when stderr is not a terminal (where the bar draws nothing) and nothing
    /// asked for silence.
    pub(super) fn off_terminal(quiet: bool) -> Option<ProgressLines> {
        (!quiet && !std::io::stderr().is_terminal()).then(|| ProgressLines {
            started: Instant::now(),
            last: None,
            stage: None,
        })
    }

    /// Writes a line for `s` if its stage is new, or if it says something new and the
    /// last line said only the stage or is old enough.
    pub(super) fn show(&mut self, s: &JobStatus) {
        let text = if s.progress.stage == Some(s.stage) {
            s.progress.describe()
        } else {
            s.stage.to_string()
        };
        let new_stage = self.stage != Some(s.stage);
        // The first detail of a stage goes out at once; later ones every two seconds.
        let bare = s.stage.to_string();
        let changed = self
            .last
            .as_ref()
            .is_none_or(|(t, at)| *t != text && (*t == bare || at.elapsed() >= EVERY));
        if !new_stage && !changed {
            return;
        }
        let elapsed = self.started.elapsed().as_secs();
        let _ = writeln!(std::io::stderr(), "[{elapsed:>4}s] {text}");
        self.stage = Some(s.stage);
        self.last = Some((text, Instant::now()));
    }
}

/// `--json`: every change of the job's progress as one JSON object per line on stderr
/// (stdout keeps the command's one document: the job, or the error).
pub(super) struct JsonEvents {
    started: Instant,
    last: Option<String>,
}

impl JsonEvents {
    /// Events unless `quiet`.
    pub(super) fn new(quiet: bool) -> Option<JsonEvents> {
        (!quiet).then(|| JsonEvents {
            started: Instant::now(),
            last: None,
        })
    }

    /// Writes `{"event": "progress", "job", "stage", "percent", "message", "progress",
    /// "elapsed_ms"}` when the progress says something new.
    pub(super) fn show(&mut self, s: &JobStatus) {
        let message = if s.progress.stage == Some(s.stage) {
            s.progress.describe()
        } else {
            s.stage.to_string()
        };
        if self.last.as_ref() == Some(&message) {
            return;
        }
        let ev = serde_json::json!({
            "event": "progress",
            "job": s.id,
            "stage": s.stage,
            "percent": (s.progress.overall() * 10.0).round() / 10.0,
            "message": message,
            "progress": s.progress,
            "elapsed_ms": u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        let _ = writeln!(std::io::stderr(), "{ev}");
        self.last = Some(message);
    }
}
