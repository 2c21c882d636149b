//! Printing: text for people, JSON for programs, progress bars on terminals only.

use std::io::{IsTerminal, Write};
use std::time::{Duration, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use reelstore::{Error, Progress};

/// Writes to stdout; a closed pipe (`reel log | head`) is reported as `BrokenPipe`.
pub fn out(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// Writes long text (a patch, a log) through a pager when stdout is a terminal:
/// `REEL_PAGER`, else `PAGER`, else `less` (with `LESS=FRX` unless set: it exits at
/// once when the text fits the screen and keeps colours); `--no-pager`, an empty
/// pager or `cat` print directly, as does a pager that cannot start.
pub fn page(text: &str, no_pager: bool) -> std::io::Result<()> {
    use std::io::IsTerminal;
    let pager = std::env::var("REEL_PAGER")
        .or_else(|_| std::env::var("PAGER"))
        .unwrap_or_else(|_| "less".into());
    if no_pager
        || pager.trim().is_empty()
        || pager.trim() == "cat"
        || !std::io::stdout().is_terminal()
    {
        return out(text);
    }
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &pager]).stdin(std::process::Stdio::piped());
    if std::env::var_os("LESS").is_none() {
        cmd.env("LESS", "FRX");
    }
    let Ok(mut child) = cmd.spawn() else {
        return out(text);
    };
    if let Some(mut stdin) = child.stdin.take() {
        match stdin.write_all(text.as_bytes()) {
            // The reader quit early (`q` in less): not an error.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e),
            _ => {}
        }
    }
    child.wait()?;
    Ok(())
}

/// Prints a value as pretty JSON.
pub fn json<T: Serialize>(value: &T) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).expect("report types serialize to JSON");
    text.push('\n');
    out(&text)
}

/// `1.5 MiB`.
#[must_use]
#[allow(clippy::cast_precision_loss)] // for display: one decimal is all that is shown
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Milliseconds since the epoch as RFC 3339, UTC.
#[must_use]
pub fn time(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// A progress bar on stderr, drawn only when stderr is a terminal and not `-q`.
///
/// A bar that will not be drawn is not made at all: a hidden indicatif bar still reads
/// the clock and counts on every `advance`, once per file, which was 3% of an
/// incremental checkpoint of 200,000 files run with `-q` (`ProgressBar::inc` and
/// `clock_gettime` in `perf record`).
pub struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar that is hidden when `quiet` or when stderr is not a terminal.
    pub fn new(quiet: bool) -> Bar {
        if quiet || !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .expect("template is valid")
            .progress_chars("=> "),
        );
        Bar(Some(bar))
    }
}

impl Progress for Bar {
    fn start(&self, phase: &str, total: Option<u64>) {
        if let Some(bar) = &self.0 {
            bar.set_message(phase.to_owned());
            bar.set_position(0);
            bar.set_length(total.unwrap_or(0));
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Prints an error as one sentence plus a hint, to stderr.
pub fn error(e: &Error) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {e}");
    if let Error::Render { details, .. } = e
        && !details.is_empty()
    {
        for line in details.lines() {
            let _ = writeln!(stderr, "  | {line}");
        }
    }
    if let Some(hint) = super::hints::hint(e) {
        let _ = writeln!(stderr, "hint: {hint}");
    }
}

/// Prints an error for `--json`: one object on stdout, where the caller reads the
/// command's JSON, `{"error": {"code", "message", "hint", "details"}}` (`hint` and
/// `details` only when there are some).
pub fn json_error(e: &Error) {
    let mut err = serde_json::json!({ "code": e.code(), "message": e.to_string() });
    if let Some(hint) = super::hints::hint(e) {
        err["hint"] = hint.into();
    }
    if let Error::Render { details, .. } = e
        && !details.is_empty()
    {
        err["details"] = details.as_str().into();
    }
    let doc = serde_json::json!({ "error": err });
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{doc:#}");
}
