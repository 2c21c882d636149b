//! The progress parser and the failure diagnosis over every fixture of real Remotion
//! 4.0.529 output in `tests/fixtures/remotion-4.0.529/`. A new fixture file fails
//! `every_fixture_is_covered` until it gets a case here.

use std::path::PathBuf;

use super::diagnose::diagnose;
use super::progress::{LineParser, RemotionParser, RenderProgress, Stage};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/remotion-4.0.529")
}

fn lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(dir().join(name))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn parse(name: &str) -> Vec<RenderProgress> {
    let mut p = RemotionParser::default();
    lines(name).iter().filter_map(|l| p.line(l)).collect()
}

/// Stages in order of first appearance.
fn stages(events: &[RenderProgress]) -> Vec<Stage> {
    let mut out: Vec<Stage> = Vec::new();
    for s in events.iter().filter_map(|e| e.stage) {
        if out.last() != Some(&s) {
            out.push(s);
        }
    }
    out
}

fn last(events: &[RenderProgress], stage: Stage) -> Option<&RenderProgress> {
    events.iter().rev().find(|e| e.stage == Some(stage))
}

fn assert_monotonic(events: &[RenderProgress]) {
    for w in events.windows(2) {
        assert!(
            w[0].overall() <= w[1].overall(),
            "{:?} then {:?}",
            w[0],
            w[1]
        );
        assert_ne!(w[0], w[1], "duplicate event");
    }
}

/// Every file name and the check that covers it.
const CASES: &[(&str, fn())] = &[
    ("render-notty-default.log", render_default),
    ("render-notty-300frames.log", render_300_frames),
    ("render-notty-verbose.stdout.log", render_verbose),
    ("render-notty-verbose.stderr.log", verbose_stderr_is_noise),
    ("compositions.stdout.log", compositions_bundling),
    ("err-bad-composition.stdout.log", bad_composition),
    ("err-bad-composition.stderr.log", bad_composition),
    ("err-badprops.stdout.log", bad_props),
    ("err-badprops.stderr.log", bad_props),
    ("err-runtime.stdout.log", runtime_error),
    ("err-runtime.stderr.log", runtime_error),
    ("err-syntax-webpack.stderr.log", syntax_error),
    ("no-browser-executable.log", no_browser),
    ("ffprobe-debian.json", ffprobe_json),
];

#[test]
fn every_fixture_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 14, "fixtures missing: {names:?}");
    for name in &names {
        let case = CASES.iter().find(|(n, _)| n == name);
        let Some((_, check)) = case else {
            panic!("fixture {name} has no test case");
        };
        check();
    }
}

fn render_default() {
    let ev = parse("render-notty-default.log");
    assert_eq!(
        stages(&ev),
        [Stage::Bundling, Stage::Rendering, Stage::Encoding]
    );
    assert_monotonic(&ev);
    let first = &ev[0];
    assert_eq!(first.percent, Some(6.0));
    let r = last(&ev, Stage::Rendering).unwrap();
    assert_eq!((r.done, r.total), (Some(60), Some(60)));
    let e = last(&ev, Stage::Encoding).unwrap();
    assert_eq!((e.done, e.total), (Some(60), Some(60)));
    // `Rendered 1/60, time remaining: 1m 41s`
    let eta = ev
        .iter()
        .find(|e| e.done == Some(1) && e.stage == Some(Stage::Rendering))
        .unwrap();
    assert_eq!(eta.eta_s, Some(101));
}

fn render_300_frames() {
    let ev = parse("render-notty-300frames.log");
    assert_eq!(
        stages(&ev),
        [Stage::Bundling, Stage::Rendering, Stage::Encoding]
    );
    assert_monotonic(&ev);
    // Duplicates (`Rendered 267/300` twice) are dropped; the final `Rendered 300/300`
    // never came, encoding follows 299.
    let r = last(&ev, Stage::Rendering).unwrap();
    assert_eq!(r.done, Some(299));
    let rendered: Vec<u64> = ev
        .iter()
        .filter(|e| e.stage == Some(Stage::Rendering))
        .filter_map(|e| e.done)
        .collect();
    assert!(rendered.windows(2).all(|w| w[0] < w[1]));
    let enc: Vec<u64> = ev
        .iter()
        .filter(|e| e.stage == Some(Stage::Encoding))
        .filter_map(|e| e.done)
        .collect();
    assert_eq!(enc, [196, 240, 300]);
}

fn render_verbose() {
    let ev = parse("render-notty-verbose.stdout.log");
    assert_eq!(
        stages(&ev),
        [Stage::Bundling, Stage::Rendering, Stage::Encoding]
    );
    assert_monotonic(&ev);
    assert_eq!(last(&ev, Stage::Encoding).unwrap().done, Some(60));
    // The verbose lines (`[Tab 0, delayRender()] …`) are not events.
    assert!(ev.len() < 80, "{} events", ev.len());
}

fn verbose_stderr_is_noise() {
    let ev = parse("render-notty-verbose.stderr.log");
    assert!(ev.is_empty());
    let d = diagnose(&[], &lines("render-notty-verbose.stderr.log"), None);
    assert!(!d.message.contains("memory"), "{}", d.message);
}

fn compositions_bundling() {
    let ev = parse("compositions.stdout.log");
    assert_eq!(stages(&ev), [Stage::Bundling]);
    assert_eq!(ev.last().unwrap().percent, Some(100.0));
    assert_monotonic(&ev);
}

fn bad_composition() {
    let d = diagnose(
        &lines("err-bad-composition.stdout.log"),
        &lines("err-bad-composition.stderr.log"),
        None,
    );
    assert!(
        d.message
            .starts_with("Could not find composition with ID Nope. Available compositions: Main"),
        "{}",
        d.message
    );
    let ev = parse("err-bad-composition.stdout.log");
    assert_eq!(stages(&ev), [Stage::Bundling]);
}

fn bad_props() {
    let d = diagnose(
        &lines("err-badprops.stdout.log"),
        &lines("err-badprops.stderr.log"),
        None,
    );
    assert!(
        d.message
            .starts_with("You passed --props but it was neither valid JSON"),
        "{}",
        d.message
    );
    assert!(parse("err-badprops.stdout.log").is_empty());
}

fn runtime_error() {
    let d = diagnose(
        &lines("err-runtime.stdout.log"),
        &lines("err-runtime.stderr.log"),
        None,
    );
    assert_eq!(d.message, "boom at frame 30 (frame 30, src/Root.tsx:8)");
    assert!(
        d.details.contains("throw new Error('boom at frame 30')"),
        "{}",
        d.details
    );
    assert!(!d.details.contains("react-dom"), "{}", d.details);
    let ev = parse("err-runtime.stdout.log");
    assert_eq!(last(&ev, Stage::Rendering).unwrap().done, Some(29));
}

fn syntax_error() {
    let d = diagnose(
        &[],
        &lines("err-syntax-webpack.stderr.log"),
        Some("/srv/video-project"),
    );
    assert_eq!(
        d.message,
        "build failed: src/Root.tsx:11:22: ERROR: Unterminated regular expression"
    );
}

fn no_browser() {
    let d = diagnose(&[], &lines("no-browser-executable.log"), None);
    assert!(
        d.message.contains("getaddrinfo ENOTFOUND remotion.media"),
        "{}",
        d.message
    );
    assert!(d.message.contains("REEL_BROWSER"), "{}", d.message);
}

fn ffprobe_json() {
    let m = super::probe::parse(
        &std::fs::read(dir().join("ffprobe-debian.json")).unwrap(),
        "mp4",
    )
    .unwrap();
    assert_eq!(
        (m.codec.as_str(), m.width, m.height, m.frames),
        ("h264", 320, 180, Some(60))
    );
}
