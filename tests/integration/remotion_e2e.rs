//! End to end with real Remotion 4.0.529 — opt-in, because Remotion is not open source
//! and is never installed by the CI suite:
//!
//! ```sh
//! cargo test --test integration remotion_e2e -- --ignored --nocapture
//! ```
//!
//! Installs Debian's chromium and ffmpeg when missing, then renders
//! `examples/hello-video` through `reel render` and through the MCP tool; `npm install`
//! fetches Remotion from the registry into the test's own render cache.

use std::path::Path;
use std::process::Stdio;

use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::mcp::checked_call;
use crate::render_faces::Watcher;
use crate::util::{reel, reel_json, reel_path, tempdir};

const BROWSER: &str = "/usr/bin/chromium";

fn ensure_installed() {
    let missing: Vec<&str> = [("chromium", BROWSER), ("ffmpeg", "/usr/bin/ffprobe")]
        .iter()
        .filter(|(_, path)| !Path::new(path).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return;
    }
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {}",
            missing.join(" ")
        ))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "could not install {missing:?} with apt-get");
}

/// The checks both faces must pass: what Root.tsx declares, as ffprobe reads it.
fn assert_hello_video(meta: &Value) {
    assert_eq!(meta["container"], "mp4", "{meta}");
    assert_eq!(meta["codec"], "h264", "{meta}");
    assert_eq!(
        (meta["width"].as_u64(), meta["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(meta["fps"], json!({"num": 30, "den": 1}));
    assert_eq!(meta["frames"], 60);
    let duration = meta["duration_s"].as_f64().unwrap();
    assert!((duration - 2.0).abs() < 0.05, "duration {duration}");
}

fn setup(dir: &Path) -> String {
    reel(dir).arg("init").assert().success();
    let id = reel_json(dir, &["project", "create", "hello"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello-video");
    reel(dir)
        .args(["project", "import", &id])
        .arg(&example)
        .assert()
        .success();
    id
}

#[tokio::test]
#[ignore = "opt-in: installs Remotion 4.0.529 from npm and renders with Chromium (docs/render.md)"]
async fn remotion_renders_hello_video_through_the_cli_and_mcp() {
    ensure_installed();
    let dir = tempdir();
    let id = setup(dir.path());

    // The CLI, composition named.
    let out = dir.path().join("hello.mp4");
    let t = std::time::Instant::now();
    let run = reel(dir.path())
        .env("REEL_BROWSER", BROWSER)
        .env("REEL_DEPS_CACHE", dir.path().join("deps"))
        .args([
            "render",
            &id,
            "--composition",
            "HelloWorld",
            "--quality",
            "low",
        ])
        .args(["--props", r#"{"title":"reel e2e"}"#, "--json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    eprintln!(
        "reel render (cold cache, npm install included): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let job: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(job["stage"], "done");
    assert_eq!(job["renderer"], "remotion@4.0.529");
    assert_hello_video(&job["render"]["meta"]);
    let video = std::fs::read(&out).unwrap();
    assert_eq!(
        job["render"]["content"],
        blake3::hash(&video).to_hex().as_str()
    );

    // The MCP tool, composition discovered, other props; progress reported.
    let repo = dir.path().join(".reel");
    let cmd = tokio::process::Command::new(reel_path()).configure(|c| {
        c.arg("serve")
            .arg("--repo")
            .arg(&repo)
            .env("USER", "tester")
            .env("REEL_BROWSER", BROWSER)
            .env("REEL_DEPS_CACHE", dir.path().join("deps"))
            .stderr(Stdio::null());
    });
    let watcher = Watcher::default();
    let client: RunningService<RoleClient, Watcher> = watcher
        .clone()
        .serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .unwrap();
    let args = json!({"project_id": id, "quality": "low", "props": {"title": "via MCP"}});
    let t = std::time::Instant::now();
    let r = checked_call(&client, "artifact_render_video", args.clone()).await;
    eprintln!(
        "artifact_render_video (warm cache): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(r.is_error, Some(false), "{:?}", r.content);
    let s = r.structured_content.unwrap();
    assert_eq!(s["render"]["meta"]["settings"]["composition"], "HelloWorld");
    assert_hello_video(&s["render"]["meta"]);
    let seen = watcher.0.lock().unwrap().clone();
    for stage in ["bundling", "rendering", "encoding"] {
        assert!(
            seen.iter()
                .any(|p| p.message.as_deref().is_some_and(|m| m.starts_with(stage))),
            "no {stage} progress in {seen:?}"
        );
    }
    // Unchanged inputs: a memo hit, nothing runs.
    let again = checked_call(&client, "artifact_render_video", args.clone()).await;
    assert_eq!(again.structured_content.unwrap()["memo_hit"], true);
    client.cancel().await.unwrap();
}

/// The version `node_modules/<package>/package.json` of the one install under `deps`
/// says.
fn installed_version(deps: &Path, package: &str) -> String {
    let installs: Vec<_> = std::fs::read_dir(deps.join("node_modules"))
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(installs.len(), 1, "one install");
    let pj = installs[0]
        .path()
        .join("node_modules")
        .join(package)
        .join("package.json");
    let v: Value = serde_json::from_slice(&std::fs::read(&pj).unwrap()).unwrap();
    v["version"].as_str().unwrap().to_owned()
}

#[test]
#[ignore = "opt-in: installs the newest Remotion 4 from npm and renders with Chromium (docs/render.md)"]
fn a_template_with_version_ranges_records_what_npm_installed() {
    ensure_installed();
    let dir = tempdir();
    let id = setup(dir.path());
    // The published template's shape: `^` ranges, no lockfile.
    let ranged = r#"{"name":"hello-video","private":true,"dependencies":{"@remotion/cli":"^4.0.0","react":"^19.0.0","react-dom":"^19.0.0","remotion":"^4.0.0"}}"#;
    reel(dir.path())
        .args(["file", "write", &id, "package.json"])
        .write_stdin(ranged)
        .assert()
        .success();
    let deps = dir.path().join("deps");
    let run = reel(dir.path())
        .env("REEL_BROWSER", BROWSER)
        .env("REEL_DEPS_CACHE", &deps)
        .args([
            "render",
            &id,
            "--composition",
            "HelloWorld",
            "--quality",
            "low",
        ])
        .args(["--json"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let job: Value = serde_json::from_slice(&run.stdout).unwrap();
    let cli = installed_version(&deps, "@remotion/cli");
    let remotion = installed_version(&deps, "remotion");
    eprintln!("npm installed @remotion/cli {cli}, remotion {remotion}");
    // What was installed, not the range: in the identity, the job and the render.
    assert_eq!(job["renderer"], format!("remotion@{cli}"));
    assert_eq!(job["resolved"]["packages"]["@remotion/cli"], cli.as_str());
    assert_eq!(job["resolved"]["packages"]["remotion"], remotion.as_str());
    assert_eq!(
        job["render"]["meta"]["settings"]["resolved"], job["resolved"],
        "{job}"
    );
    assert!(
        job["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("no package-lock.json")),
        "{job}"
    );
    eprintln!("warnings: {}", job["warnings"]);
    if cli != remotion {
        // npm resolved the ranges apart: said once, by reelstore or by Remotion.
        let mismatch = job["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w.as_str().unwrap().starts_with("Version mismatch"))
            .count();
        assert_eq!(mismatch, 1, "{job}");
    }
    assert_hello_video(&job["render"]["meta"]);
    // What a person reads: the installed versions, Remotion's first.
    let shown = reel(dir.path())
        .args(["render", "job", job["id"].as_str().unwrap()])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    let installed = shown
        .lines()
        .find(|l| l.starts_with("installed:"))
        .unwrap_or_else(|| panic!("{shown}"));
    eprintln!("{installed}");
    assert!(
        installed.starts_with(&format!(
            "installed:  remotion {remotion}, @remotion/cli {cli}, "
        )),
        "{installed}"
    );
    // The log holds npm's and Remotion's lines.
    let log = reel(dir.path())
        .args(["render", "log", job["id"].as_str().unwrap()])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.contains("npm http fetch") && log.contains("Rendered"),
        "{log}"
    );
}
