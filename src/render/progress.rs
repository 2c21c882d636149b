//! Render progress: the stages a job goes through, and parsers that turn a renderer's
//! output lines into progress events.
//!
//! Remotion 4 prints plain lines when stdout is not a terminal (`Bundling 6%`,
//! `Rendered 12/60, time remaining: 7s`, `Encoded 48/60`); on a terminal it draws bars
//! (`Bundling code ━━━╸ 65%`). Both are understood. Lines repeat and the last
//! `Rendered` line is sometimes skipped; events never move backwards.

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Where a render job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Waiting for a render slot.
    Queued,
    /// Materializing the tree and installing `node_modules`.
    Installing,
    /// Bundling the project (Remotion: webpack).
    Bundling,
    /// Rendering frames.
    Rendering,
    /// Encoding the video.
    Encoding,
    /// Reading the output's metadata.
    Probing,
    /// Storing the output.
    Storing,
    /// Finished: the render is stored.
    Done,
    /// Finished with an error.
    Failed,
    /// Cancelled by a caller, or timed out.
    Cancelled,
    /// Was running when the process that ran it stopped.
    Interrupted,
}

impl Stage {
    /// Whether the job has ended.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Stage::Done | Stage::Failed | Stage::Cancelled | Stage::Interrupted
        )
    }

    /// The stage's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Installing => "installing",
            Stage::Bundling => "bundling",
            Stage::Rendering => "rendering",
            Stage::Encoding => "encoding",
            Stage::Probing => "probing",
            Stage::Storing => "storing",
            Stage::Done => "done",
            Stage::Failed => "failed",
            Stage::Cancelled => "cancelled",
            Stage::Interrupted => "interrupted",
        }
    }

    /// Share of the whole job this stage starts at and spans, in percent.
    fn span(self) -> (f64, f64) {
        match self {
            Stage::Queued => (0.0, 0.0),
            Stage::Installing => (0.0, 5.0),
            Stage::Bundling => (5.0, 15.0),
            Stage::Rendering => (20.0, 65.0),
            Stage::Encoding => (85.0, 10.0),
            Stage::Probing => (95.0, 2.0),
            Stage::Storing => (97.0, 3.0),
            Stage::Done | Stage::Failed | Stage::Cancelled | Stage::Interrupted => (100.0, 0.0),
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One progress event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct RenderProgress {
    /// Stage.
    pub stage: Option<Stage>,
    /// Percent done within the stage (bundling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Frames rendered or encoded so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<u64>,
    /// Frames in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// The renderer's estimate of the time left, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_s: Option<u64>,
    /// Installing: lines of output the installer wrote so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_lines: Option<u64>,
    /// Installing: the installer's latest line of output (at most 160 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl RenderProgress {
    /// An event that only names a stage.
    #[must_use]
    pub fn stage(stage: Stage) -> RenderProgress {
        RenderProgress {
            stage: Some(stage),
            ..RenderProgress::default()
        }
    }

    fn frames(stage: Stage, done: u64, total: u64) -> RenderProgress {
        RenderProgress {
            stage: Some(stage),
            done: Some(done),
            total: Some(total),
            ..RenderProgress::default()
        }
    }

    /// Percent of the whole job (0–100), for progress bars and MCP notifications.
    #[must_use]
    pub fn overall(&self) -> f64 {
        let Some(stage) = self.stage else { return 0.0 };
        let (start, span) = stage.span();
        #[allow(clippy::cast_precision_loss)] // counts are far below 2^52
        let within = match (self.percent, self.done, self.total, self.output_lines) {
            (Some(p), ..) => p / 100.0,
            (None, Some(d), Some(t), _) if t > 0 => d as f64 / t as f64,
            // An installer says nothing of how much is left: each line of output moves
            // the bar a little (half the stage at 100 lines), never to its end, so that
            // every line can go out as a progress notification (which must increase).
            (None, _, _, Some(n)) => n as f64 / (n as f64 + 100.0),
            _ => 0.0,
        };
        (start + span * within.clamp(0.0, 1.0)).min(100.0)
    }

    /// A short line for people: `rendering 12/60 (eta 7s)`.
    #[must_use]
    pub fn describe(&self) -> String {
        use std::fmt::Write as _;
        let mut s = self.stage.map_or("starting", Stage::as_str).to_owned();
        if let Some(p) = self.percent {
            let _ = write!(s, " {p:.0}%");
        }
        if let (Some(d), Some(t)) = (self.done, self.total) {
            let _ = write!(s, " {d}/{t}");
        }
        if let Some(e) = self.eta_s {
            let _ = write!(s, " (eta {e}s)");
        }
        if let Some(m) = &self.message {
            let _ = write!(s, ": {m}");
        }
        s
    }
}

/// Turns output lines into progress events.
pub trait LineParser: Send {
    /// The event this line means, if any.
    fn line(&mut self, line: &str) -> Option<RenderProgress>;
}

/// Removes ANSI escape sequences (colours, cursor moves) from a line.
#[must_use]
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // CSI: parameters, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

/// Parses `1h 2m 3s`, `1m 6s`, `32s` into seconds.
#[must_use]
pub fn parse_duration(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut any = false;
    for part in s.split_whitespace() {
        let (n, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit())?);
        let n: u64 = n.parse().ok()?;
        total += n * match unit {
            "h" => 3600,
            "m" => 60,
            "s" => 1,
            _ => return None,
        };
        any = true;
    }
    any.then_some(total)
}

/// Keeps events moving forward: no earlier stage after a later one, no frame count
/// going down, no exact repeats.
#[derive(Debug, Default)]
struct Forward {
    last: Option<RenderProgress>,
}

impl Forward {
    fn admit(&mut self, ev: RenderProgress) -> Option<RenderProgress> {
        if let Some(last) = &self.last {
            if ev.stage < last.stage {
                return None;
            }
            if ev.stage == last.stage {
                let back =
                    |a: Option<f64>, b: Option<f64>| matches!((a, b), (Some(a), Some(b)) if a < b);
                let back_n =
                    |a: Option<u64>, b: Option<u64>| matches!((a, b), (Some(a), Some(b)) if a < b);
                if back(ev.percent, last.percent) || back_n(ev.done, last.done) {
                    return None;
                }
                if ev.percent == last.percent && ev.done == last.done && ev.total == last.total {
                    return None;
                }
            }
        }
        self.last = Some(ev.clone());
        Some(ev)
    }
}

/// Parser for Remotion 4's output.
#[derive(Debug)]
pub struct RemotionParser {
    bundling: Regex,
    rendered: Regex,
    encoded: Regex,
    forward: Forward,
}

impl Default for RemotionParser {
    fn default() -> Self {
        RemotionParser {
            bundling: Regex::new(r"^Bundl(?:ing|ed)\b.*?(\d+(?:\.\d+)?)(%|ms)\s*$")
                .expect("valid regex"),
            rendered: Regex::new(r"^Rendered (\d+)/(\d+)(?:, time remaining: (.+))?$")
                .expect("valid regex"),
            encoded: Regex::new(r"^(?:Encoded|Stitched) (\d+)/(\d+)").expect("valid regex"),
            forward: Forward::default(),
        }
    }
}

impl LineParser for RemotionParser {
    fn line(&mut self, line: &str) -> Option<RenderProgress> {
        let clean = strip_ansi(line);
        let l = clean.trim();
        let ev = if let Some(c) = self.bundling.captures(l) {
            let percent = if &c[2] == "%" {
                c[1].parse().ok()?
            } else {
                100.0 // `Bundled code … 5305ms`
            };
            RenderProgress {
                percent: Some(percent),
                ..RenderProgress::stage(Stage::Bundling)
            }
        } else if let Some(c) = self.rendered.captures(l) {
            RenderProgress {
                eta_s: c.get(3).and_then(|m| parse_duration(m.as_str())),
                ..RenderProgress::frames(Stage::Rendering, c[1].parse().ok()?, c[2].parse().ok()?)
            }
        } else if let Some(c) = self.encoded.captures(l) {
            RenderProgress::frames(Stage::Encoding, c[1].parse().ok()?, c[2].parse().ok()?)
        } else if l == "Getting composition" {
            RenderProgress {
                percent: Some(100.0),
                ..RenderProgress::stage(Stage::Bundling)
            }
        } else {
            return None;
        };
        self.forward.admit(ev)
    }
}

/// Parser for any program: a regex with named groups `done` and `total` (frames) or
/// `percent`, and optionally `stage` (one of the stage names). Lines it does not match
/// fall through to the Remotion parser, so a wrapper around Remotion needs no pattern.
#[derive(Debug)]
pub struct PatternParser {
    pattern: Regex,
    fallback: RemotionParser,
    forward: Forward,
}

impl PatternParser {
    /// Compiles `pattern`; it must have a `done`+`total` or a `percent` group.
    pub fn new(pattern: &str) -> crate::Result<PatternParser> {
        let re = Regex::new(pattern)
            .map_err(|e| super::RenderError::Template(format!("invalid progress pattern: {e}")))?;
        let names: Vec<&str> = re.capture_names().flatten().collect();
        let frames = names.contains(&"done") && names.contains(&"total");
        if !frames && !names.contains(&"percent") {
            return Err(super::RenderError::Template(
                "the progress pattern needs named groups `done` and `total`, or `percent`".into(),
            )
            .into());
        }
        Ok(PatternParser {
            pattern: re,
            fallback: RemotionParser::default(),
            forward: Forward::default(),
        })
    }
}

impl LineParser for PatternParser {
    fn line(&mut self, line: &str) -> Option<RenderProgress> {
        let clean = strip_ansi(line);
        let Some(c) = self.pattern.captures(clean.trim()) else {
            let ev = self.fallback.line(line)?;
            return self.forward.admit(ev);
        };
        let num = |name: &str| c.name(name).and_then(|m| m.as_str().parse::<u64>().ok());
        let stage = c
            .name("stage")
            .and_then(|m| {
                serde_json::from_value(serde_json::Value::String(m.as_str().to_ascii_lowercase()))
                    .ok()
            })
            .unwrap_or(Stage::Rendering);
        let ev = RenderProgress {
            stage: Some(stage),
            percent: c.name("percent").and_then(|m| m.as_str().parse().ok()),
            done: num("done"),
            total: num("total"),
            eta_s: c.name("eta").and_then(|m| parse_duration(m.as_str())),
            ..RenderProgress::default()
        };
        self.forward.admit(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(parser: &mut dyn LineParser, text: &str) -> Vec<RenderProgress> {
        text.lines().filter_map(|l| parser.line(l)).collect()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m 6s"), Some(66));
        assert_eq!(parse_duration("7m 0s"), Some(420));
        assert_eq!(parse_duration("1h 0m 2s"), Some(3602));
        assert_eq!(parse_duration("0s"), Some(0));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[32mRendered 1/2\u{1b}[0m\r"),
            "Rendered 1/2"
        );
    }

    #[test]
    fn terminal_bars_parse_like_plain_lines() {
        let mut p = RemotionParser::default();
        let ev = p
            .line("Bundling code        ━━━━━━━━━━━╸       65%")
            .unwrap();
        assert_eq!((ev.stage, ev.percent), (Some(Stage::Bundling), Some(65.0)));
        let ev = p
            .line("Bundled code         ━━━━━━━━━━━━━━━━━━ 5305ms")
            .unwrap();
        assert_eq!(ev.percent, Some(100.0));
    }

    #[test]
    fn events_never_go_backwards() {
        let mut p = RemotionParser::default();
        let ev = events(
            &mut p,
            "Rendered 5/10\nRendered 5/10\nRendered 4/10\nBundling 50%\nEncoded 3/10\nRendered 9/10\n",
        );
        let seen: Vec<(Stage, u64)> = ev
            .iter()
            .map(|e| (e.stage.unwrap(), e.done.unwrap()))
            .collect();
        assert_eq!(seen, vec![(Stage::Rendering, 5), (Stage::Encoding, 3)]);
    }

    #[test]
    fn pattern_parser_reads_named_groups_and_falls_back() {
        let mut p = PatternParser::new(r"^frame (?P<done>\d+) of (?P<total>\d+)$").unwrap();
        let ev = p.line("frame 3 of 9").unwrap();
        assert_eq!(
            (ev.stage, ev.done, ev.total),
            (Some(Stage::Rendering), Some(3), Some(9))
        );
        assert!(p.line("something else").is_none());
        let ev = p.line("Encoded 9/9").unwrap();
        assert_eq!(ev.stage, Some(Stage::Encoding));
        assert!(PatternParser::new(r"frame (\d+)").is_err());
        assert!(PatternParser::new(r"(").is_err());
    }

    #[test]
    fn overall_percent_rises_through_the_stages() {
        let a = RenderProgress {
            percent: Some(50.0),
            ..RenderProgress::stage(Stage::Bundling)
        };
        let b = RenderProgress::frames(Stage::Rendering, 30, 60);
        let c = RenderProgress::frames(Stage::Encoding, 60, 60);
        assert!(a.overall() < b.overall() && b.overall() < c.overall());
        assert!((b.overall() - 52.5).abs() < 1e-9);
        assert!((RenderProgress::stage(Stage::Done).overall() - 100.0).abs() < 1e-9);
    }
}
