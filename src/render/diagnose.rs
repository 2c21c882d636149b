//! Turns a failed renderer's output into one clear sentence plus the lines that matter.

/// Lines a renderer prints that say nothing about the failure: Remotion's cgroup
/// memory warning (printed in containers) and the timing lines of shell wrappers.
fn is_noise(line: &str) -> bool {
    let l = line.trim();
    l.is_empty()
        || l.starts_with("Detected differing memory amounts")
        || l.starts_with("Memory reported by")
        || l.starts_with("You might have inadvertently set the --memory flag")
        || l.starts_with("Using the lower amount of memory")
        || l.starts_with("Command exited with non-zero status")
        || l.starts_with("WALL ")
}

/// What went wrong, from the tail of a failed run's stdout and stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// One sentence.
    pub message: String,
    /// The relevant lines of the output (code frame, location), possibly empty.
    pub details: String,
}

fn strip_prefixes(mut s: &str) -> &str {
    loop {
        let t = s.trim_start();
        if let Some(rest) = t.strip_prefix("Error:") {
            s = rest;
        } else {
            return t.trim_end();
        }
    }
}

/// Removes the work directory from paths so messages show project paths.
fn relative(line: &str, workdir: Option<&str>) -> String {
    match workdir {
        Some(w) if !w.is_empty() => line.replace(&format!("{w}/"), ""),
        _ => line.to_owned(),
    }
}

/// Explains a failure from the renderer's output. `workdir` is removed from paths.
#[must_use]
pub fn diagnose(stdout: &[String], stderr: &[String], workdir: Option<&str>) -> Diagnosis {
    let clean = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|l| relative(&super::progress::strip_ansi(l), workdir))
            .filter(|l| !is_noise(l))
            .collect()
    };
    let (out, err) = (clean(stdout), clean(stderr));
    let mut message = headline(&out, &err);
    let mut details = Vec::new();
    if let Some(start) = out.iter().position(|l| l.starts_with("An error occurred")) {
        message.push_str(&whereabouts(&out, start));
        details.extend(
            out[start..]
                .iter()
                .take_while(|l| !l.trim_start().starts_with("at ") || !l.contains("node_modules/"))
                .take(12)
                .cloned(),
        );
    }
    if err
        .iter()
        .chain(out.iter())
        .any(|l| l.contains("Downloading Chrome Headless Shell"))
    {
        message.push_str(
            " — Remotion tried to download a browser: set --browser (REEL_BROWSER) to a local Chromium",
        );
    }
    if details.is_empty() {
        details = err.iter().rev().take(12).rev().cloned().collect();
    }
    Diagnosis {
        message,
        details: details.join("\n"),
    }
}

/// The one sentence: Remotion's error badge, a build error, a thrown error, or the
/// first (last) line of output.
fn headline(out: &[String], err: &[String]) -> String {
    let all = || err.iter().chain(out.iter());
    // Remotion's error badge: ` Error  <message>`.
    let badge = all().find_map(|l| {
        let t = l.trim_start();
        t.strip_prefix("Error ")
            .filter(|rest| rest.starts_with(' '))
            .map(|rest| strip_prefixes(rest).to_owned())
    });
    // esbuild / webpack: `src/Root.tsx:11:22: ERROR: Unterminated regular expression`.
    let build = all()
        .find(|l| l.contains(": ERROR: "))
        .map(|l| l.trim().to_owned());
    let thrown = all()
        .find(|l| l.trim_start().starts_with("Error:"))
        .map(|l| strip_prefixes(l).to_owned());
    badge
        .or(build.map(|b| format!("build failed: {b}")))
        .or(thrown)
        .or_else(|| err.first().map(|l| l.trim().to_owned()))
        .or_else(|| out.last().map(|l| l.trim().to_owned()))
        .unwrap_or_else(|| "the renderer exited with an error and printed nothing".into())
}

/// Where it happened: Remotion prints `An error occurred while rendering frame N:`
/// (at `start`), then `at src/File.tsx:LINE` and a code frame. Returns ` (frame N,
/// src/File.tsx:LINE)`, or as much of it as is known.
fn whereabouts(out: &[String], start: usize) -> String {
    let frame = out[start]
        .strip_prefix("An error occurred while rendering frame ")
        .map(|r| r.trim_end_matches(':').to_owned());
    let location = out[start + 1..]
        .iter()
        .find_map(|l| l.trim().strip_prefix("at ").map(str::to_owned))
        .filter(|l| !l.contains("node_modules/"));
    match (frame, location) {
        (Some(f), Some(loc)) => format!(" (frame {f}, {loc})"),
        (Some(f), None) => format!(" (frame {f})"),
        (None, Some(loc)) => format!(" ({loc})"),
        (None, None) => String::new(),
    }
}
