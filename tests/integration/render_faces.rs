//! The render pipeline through its faces: `reel render` and the MCP render tools, with
//! the fake renderer of `render.rs` (a real process, a real video).

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rmcp::model::{
    CallToolRequestParams, NumberOrString, ProgressNotificationParam, ProgressToken,
    ReadResourceRequestParams, RequestMetaObject, ResourceContents,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::mcp::{checked_call, schema_errors};
use crate::render::{PACKAGE_JSON, fake_command, fixture};
use crate::util::{reel, reel_json, reel_path, tempdir};

/// A repository with one project holding a minimal Remotion-shaped source tree.
pub(crate) fn setup(dir: &Path) -> String {
    reel(dir).arg("init").assert().success();
    let id = reel_json(dir, &["project", "create", "clip"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (path, content) in [
        ("package.json", PACKAGE_JSON),
        ("src/index.ts", "import {registerRoot} from 'remotion';\n"),
    ] {
        reel(dir)
            .args(["file", "write", &id, path])
            .write_stdin(content)
            .assert()
            .success();
    }
    id
}

/// The environment that makes `reel` render with the fake renderer and count installs
/// in `installs`.
pub(crate) fn fake_env(installs: &Path) -> [(&'static str, String); 3] {
    [
        ("REEL_RENDER_COMMAND", fake_command()),
        (
            "REEL_DEPS_CACHE",
            installs.with_file_name("deps").display().to_string(),
        ),
        (
            "REEL_INSTALL_COMMAND",
            format!(
                "sh {} {}",
                fixture("fake-install.sh").display(),
                installs.display()
            ),
        ),
    ]
}

fn with_fake(cmd: &mut assert_cmd::Command, dir: &Path) {
    cmd.envs(fake_env(&dir.join("installs")));
}

#[test]
fn reel_render_stores_the_video_and_memoizes() {
    let dir = tempdir();
    let id = setup(dir.path());
    let out = dir.path().join("clip.mp4");
    let mut cmd = reel(dir.path());
    with_fake(&mut cmd, dir.path());
    let first = cmd
        .args(["render", &id, "--composition", "Main", "--quality", "high"])
        .args(["--props", r#"{"color":"green"}"#, "--json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let job: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(job["stage"], "done");
    assert_eq!(job["memo_hit"], false);
    assert_eq!(job["render"]["codec"], Value::Null); // flattened under meta
    assert_eq!(job["render"]["meta"]["codec"], "h264");
    assert_eq!(job["render"]["meta"]["settings"]["settings"]["crf"], 18);
    let video = std::fs::read(&out).unwrap();
    assert_eq!(job["render"]["size"], video.len());
    assert_eq!(
        job["render"]["content"],
        blake3::hash(&video).to_hex().as_str()
    );

    // Again: a memo hit, and the render is listed once.
    let mut cmd = reel(dir.path());
    with_fake(&mut cmd, dir.path());
    let again: Value = serde_json::from_slice(
        &cmd.args(["render", &id, "--composition", "Main", "--crf", "18"])
            .args(["--props", r#"{"color":"green"}"#, "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        again["memo_hit"], true,
        "--crf 18 is --quality high: {again}"
    );
    assert_eq!(again["render"]["id"], job["render"]["id"]);
    let renders = reel_json(dir.path(), &["render", "ls"]);
    assert_eq!(renders.as_array().unwrap().len(), 1);
    let jobs = reel_json(dir.path(), &["render", "jobs"]);
    assert_eq!(jobs.as_array().unwrap().len(), 2);

    // Every id kind takes a prefix: the project, the render, the job.
    let job_id = job["id"].as_str().unwrap();
    let shown = reel_json(dir.path(), &["render", "job", &job_id[..6]]);
    assert_eq!(shown["id"], job["id"]);
    let render_id = job["render"]["id"].as_str().unwrap();
    let render = reel_json(dir.path(), &["render", "show", &render_id[..6]]);
    assert_eq!(render["id"], job["render"]["id"]);
    let mut cmd = reel(dir.path());
    with_fake(&mut cmd, dir.path());
    let by_prefix: Value = serde_json::from_slice(
        &cmd.args(["render", &id[..6], "--composition", "Main", "--crf", "18"])
            .args(["--props", r#"{"color":"green"}"#, "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(by_prefix["memo_hit"], true, "{by_prefix}");
}

#[test]
fn off_a_terminal_reel_render_prints_its_progress_as_lines() {
    let dir = tempdir();
    let id = setup(dir.path());
    let mut cmd = reel(dir.path());
    with_fake(&mut cmd, dir.path());
    let out = cmd
        .args(["render", &id, "--composition", "Main"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with('[')).collect();
    // Stages in order, each with the time since the start; the install says what npm
    // said.
    let at = |what: &str| lines.iter().position(|l| l.contains(what));
    assert!(lines.iter().any(|l| l.contains("s] installing: ")), "{err}");
    assert!(
        matches!(
            (at("installing"), at("bundling"), at("rendering")),
            (Some(i), Some(b), Some(r)) if i < b && b < r
        ),
        "{err}"
    );
    assert!(at("] done").is_some(), "{err}");
    // --json (and --quiet) keep stderr for errors.
    let mut cmd = reel(dir.path());
    with_fake(&mut cmd, dir.path());
    let quiet = cmd
        .args(["render", &id, "--composition", "Main", "--json"])
        .args(["--props", r#"{"color":"red"}"#])
        .output()
        .unwrap();
    assert!(quiet.status.success());
    let err = String::from_utf8_lossy(&quiet.stderr);
    assert!(!err.contains("s] "), "{err}");
    // … and JSON event lines on stderr: one object per line, stages in order, percent
    // never falling; stdout is the job alone.
    let events: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(events.iter().all(|e| e["event"] == "progress"), "{err}");
    let stage_at = |s: &str| events.iter().position(|e| e["stage"] == s);
    assert!(
        matches!((stage_at("bundling"), stage_at("rendering")), (Some(b), Some(r)) if b < r),
        "{err}"
    );
    let percents: Vec<f64> = events
        .iter()
        .map(|e| e["percent"].as_f64().unwrap())
        .collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    let job: Value = serde_json::from_slice(&quiet.stdout).unwrap();
    assert_eq!(job["stage"], "done");
    assert!(events.iter().all(|e| e["job"] == job["id"]));
}

#[test]
fn reel_render_failures_and_bad_settings_exit_nonzero_with_a_reason() {
    let dir = tempdir();
    let id = setup(dir.path());
    let mut cmd = reel(dir.path());
    with_fake(&mut cmd, dir.path());
    cmd.args([
        "render",
        &id,
        "--composition",
        "Main",
        "--props",
        r#"{"mode":"fail"}"#,
    ])
    .assert()
    .code(1)
    .stderr(predicates::str::contains(
        "error: render failed: boom at frame 12 (frame 12, src/Root.tsx:8)",
    ))
    .stderr(predicates::str::contains("  | "));
    let mut cmd = reel(dir.path());
    with_fake(&mut cmd, dir.path());
    cmd.args(["render", &id, "--codec", "gif", "--crf", "20"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("codec gif takes no CRF"));
    // Settings are named as the command line takes them (MCP: as its arguments).
    let mut cmd = reel(dir.path());
    with_fake(&mut cmd, dir.path());
    cmd.args(["render", &id, "--codec", "vp9", "--x264-preset", "fast"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "`--x264-preset` applies to h264 only, not vp9",
        ));
    // An unknown codec is bad usage, caught by the flag parser with the choices.
    reel(dir.path())
        .args(["render", &id, "--codec", "mpeg1"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "invalid value 'mpeg1' for '--codec <CODEC>'",
        ))
        .stderr(predicates::str::contains(
            "h264, h265, vp8, vp9, prores, gif",
        ));
    // No argument in a directory repository without a checkpoint: what to do instead.
    reel(dir.path())
        .args(["render"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no checkpoint yet"))
        .stderr(predicates::str::contains("`reel render --worktree`"))
        .stderr(predicates::str::contains("`reel project ls`"));
}

#[test]
fn a_job_killed_with_its_process_shows_as_interrupted() {
    let dir = tempdir();
    let id = setup(dir.path());
    let pids = dir.path().join("pids");
    let mut cmd = std::process::Command::new(reel_path());
    cmd.current_dir(dir.path())
        .env_remove("REEL_REPO")
        .env("USER", "tester")
        .envs(fake_env(&dir.path().join("installs")))
        .args(["render", &id, "--composition", "Main", "--props"])
        .arg(json!({"mode": "sleep", "pidfile": pids.display().to_string()}).to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    for _ in 0..600 {
        if std::fs::read_to_string(&pids).is_ok_and(|p| p.lines().count() >= 2) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Looking from another process while it runs: the job is unfinished, not
    // interrupted (its process is alive).
    let jobs = reel_json(dir.path(), &["render", "jobs"]);
    assert_eq!(jobs[0]["stage"], "bundling", "{jobs}");
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    // The renderer's processes were orphaned with it; end them so they do not linger.
    for pid in std::fs::read_to_string(&pids).unwrap().lines() {
        let pid = nix::unistd::Pid::from_raw(pid.parse().unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
    let jobs = reel_json(dir.path(), &["render", "jobs"]);
    let job = &jobs[0];
    assert_eq!(job["stage"], "interrupted", "{jobs}");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("stopped before it finished")
    );
    let shown = reel_json(dir.path(), &["render", "job", job["id"].as_str().unwrap()]);
    assert_eq!(shown["stage"], "interrupted");
}

#[test]
fn prune_bounds_the_render_cache() {
    let dir = tempdir();
    let id = setup(dir.path());
    let mut cmd = reel(dir.path());
    with_fake(&mut cmd, dir.path());
    cmd.args(["render", &id, "--composition", "Main"])
        .assert()
        .success();
    let cache = dir.path().join(".reel/cache/render");
    assert!(cache.join("work").join(&id).join("src/index.ts").is_file());
    // node_modules live in the dependency directory, not in the repository.
    let deps = dir.path().join("deps/node_modules");
    assert_eq!(std::fs::read_dir(&deps).unwrap().count(), 1);
    assert!(!cache.join("node_modules").exists());
    let prune = |max: &str| -> Value {
        let mut cmd = reel(dir.path());
        with_fake(&mut cmd, dir.path());
        let out = cmd
            .args(["render", "prune", "--max-size", max, "--json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let kept = prune("100GiB");
    assert_eq!(kept["removed"].as_array().unwrap().len(), 0);
    let pruned = prune("0");
    assert_eq!(pruned["removed"].as_array().unwrap().len(), 2, "{pruned}");
    assert_eq!(pruned["kept_bytes"], 0);
    assert!(!cache.join("work").join(&id).exists());
    assert_eq!(std::fs::read_dir(&deps).unwrap().count(), 0);
    // The stored render is untouched, and a new render rebuilds the cache.
    assert_eq!(
        reel_json(dir.path(), &["render", "ls"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let mut cmd = reel(dir.path());
    with_fake(&mut cmd, dir.path());
    cmd.args(["render", &id, "--composition", "Main", "--quality", "low"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("installs"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

/// The field names (`"name":`) of the JSON block of `docs/mcp.md` that contains
/// `marker`.
fn documented_fields(marker: &str) -> Vec<String> {
    let doc = include_str!("../../docs/mcp.md");
    let block = doc
        .split("```json")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains(marker))
        .expect("the example is in docs/mcp.md");
    let pieces: Vec<&str> = block.split("\":").collect();
    // Every piece but the last ends with a field name in quotes.
    let fields: Vec<String> = pieces[..pieces.len() - 1]
        .iter()
        .filter_map(|before| before.rsplit('"').next())
        .filter(|name| !name.is_empty() && !name.contains(' '))
        .map(str::to_owned)
        .collect();
    assert!(fields.len() > 10, "{fields:?}");
    fields
}

/// Every field name anywhere in `v`.
fn field_names(v: &Value) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                out.extend(m.keys().cloned());
                stack.extend(m.values());
            }
            Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    out
}

/// An MCP client that records progress notifications.
#[derive(Clone, Default)]
pub struct Watcher(pub Arc<Mutex<Vec<ProgressNotificationParam>>>);

impl ClientHandler for Watcher {
    async fn on_progress(&self, p: ProgressNotificationParam, _: NotificationContext<RoleClient>) {
        self.0.lock().unwrap().push(p);
    }
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one session, start to end
async fn the_mcp_render_tool_reports_progress_and_links_the_video() {
    let dir = tempdir();
    let id = setup(dir.path());
    let repo = dir.path().join(".reel");
    let installs = dir.path().join("installs");
    let cmd = tokio::process::Command::new(reel_path()).configure(|c| {
        c.arg("serve")
            .arg("--repo")
            .arg(&repo)
            .env("USER", "tester")
            .envs(fake_env(&installs))
            .stderr(Stdio::null());
    });
    let watcher = Watcher::default();
    let client: RunningService<RoleClient, Watcher> = watcher
        .clone()
        .serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .unwrap();

    let args = json!({"project_id": id, "composition": "Main",
        "props": {"color": "yellow", "warn": "the composition's fonts are not loaded"}});
    assert!(
        schema_errors(&client, "artifact_render_video", &args)
            .await
            .is_empty()
    );
    let mut params = CallToolRequestParams::new("artifact_render_video")
        .with_arguments(args.as_object().unwrap().clone());
    params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
        NumberOrString::Number(7),
    )));
    let r = client.call_tool(params).await.unwrap();
    assert_eq!(r.is_error, Some(false), "{:?}", r.content);
    let job = r.structured_content.clone().unwrap();
    assert_eq!(job["stage"], "done");
    let render_id = job["render"]["id"].as_str().unwrap().to_owned();
    // docs/mcp.md's render result (the values of a real Remotion render, which the
    // opt-in remotion_e2e test checks) names only fields this result has.
    let real = field_names(&serde_json::to_value(&r).unwrap());
    for field in documented_fields("Rendered h264") {
        assert!(
            real.contains(&field),
            "docs/mcp.md shows `{field}`: {real:?}"
        );
    }

    let seen = watcher.0.lock().unwrap().clone();
    assert!(seen.len() >= 3, "progress notifications: {seen:?}");
    // rmcp's client puts its own progress token on each request; the server echoes it.
    assert!(
        seen.iter()
            .all(|p| p.progress_token == seen[0].progress_token),
        "{seen:?}"
    );
    assert!(seen.iter().all(|p| p.total == Some(100.0)));
    assert!(
        seen.windows(2).all(|w| w[0].progress < w[1].progress),
        "{seen:?}"
    );
    assert!(seen.iter().any(|p| {
        p.message
            .as_deref()
            .is_some_and(|m| m.starts_with("rendering"))
    }));
    // The install's lines went out too (the latest at each notification), before the
    // renderer's.
    let install = seen.iter().position(|p| {
        p.message
            .as_deref()
            .is_some_and(|m| m.starts_with("installing: "))
    });
    let render = seen.iter().position(|p| {
        p.message
            .as_deref()
            .is_some_and(|m| m.starts_with("rendering"))
    });
    assert!(
        matches!((install, render), (Some(i), Some(r)) if i < r),
        "{seen:?}"
    );

    // The result links the video; reading the link returns the stored bytes.
    let link = r
        .content
        .iter()
        .find_map(|c| c.as_resource_link().cloned())
        .expect("a resource link");
    assert_eq!(link.uri, format!("reel://renders/{render_id}"));
    assert_eq!(link.mime_type.as_deref(), Some("video/mp4"));
    let res = client
        .read_resource(ReadResourceRequestParams::new(link.uri.clone()))
        .await
        .unwrap();
    let ResourceContents::BlobResourceContents { blob, .. } = &res.contents[0] else {
        panic!("a video reads as a blob")
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .unwrap();
    assert_eq!(Some(bytes.len() as u64), link.size);
    // And a still from the video, as a JPEG resource.
    let poster = r
        .content
        .iter()
        .filter_map(|c| c.as_resource_link())
        .find(|l| l.uri.ends_with("/poster"))
        .expect("a link to the poster frame");
    assert_eq!(poster.uri, format!("reel://renders/{render_id}/poster"));
    let res = client
        .read_resource(ReadResourceRequestParams::new(poster.uri.clone()))
        .await
        .unwrap();
    let ResourceContents::BlobResourceContents {
        blob, mime_type, ..
    } = &res.contents[0]
    else {
        panic!("a poster reads as a blob")
    };
    assert_eq!(mime_type.as_deref(), Some("image/jpeg"));
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .unwrap();
    assert!(jpeg.starts_with(&[0xFF, 0xD8]));
    assert_eq!(Some(jpeg.len() as u64), poster.size);

    // The warnings are in the result's text and structure; the job's log is linked.
    let text = r.content[0].as_text().unwrap().text.clone();
    assert!(
        text.contains("\nWarning: the project has no package-lock.json"),
        "{text}"
    );
    // The renderer's own warning, from its stderr.
    assert!(
        text.contains("\nWarning: Warning: the composition's fonts are not loaded"),
        "{text}"
    );
    assert!(
        job["warnings"][0]
            .as_str()
            .unwrap()
            .contains("package-lock.json")
    );
    assert_eq!(job["resolved"]["packages"]["remotion"], "4.0.529", "{job}");
    let log = r
        .content
        .iter()
        .filter_map(|c| c.as_resource_link())
        .find(|l| l.uri.ends_with("/log"))
        .expect("a link to the job's log");
    assert_eq!(
        log.uri,
        format!("reel://jobs/{}/log", job["id"].as_str().unwrap())
    );
    let res = client
        .read_resource(ReadResourceRequestParams::new(log.uri.clone()))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents { text, .. } = &res.contents[0] else {
        panic!("a log reads as text")
    };
    assert!(text.contains("Rendered 30/30"), "{text}");

    // Status of the job; cancelling a finished job changes nothing; unknown ids fail.
    let job_id = job["id"].as_str().unwrap().to_owned();
    for tool in ["artifact_render_status", "artifact_cancel_render"] {
        let s = checked_call(&client, tool, json!({"job_id": job_id})).await;
        assert_eq!(s.structured_content.unwrap()["stage"], "done", "{tool}");
    }
    let missing = checked_call(
        &client,
        "artifact_render_status",
        json!({"job_id": "00".repeat(16)}),
    )
    .await;
    assert_eq!(missing.is_error, Some(true));

    // Same call again: a memo hit; and a failing render is an isError result with the reason.
    let again = checked_call(&client, "artifact_render_video", args.clone()).await;
    assert_eq!(again.structured_content.unwrap()["memo_hit"], true);
    let failed = checked_call(
        &client,
        "artifact_render_video",
        json!({"project_id": id, "composition": "Main", "props": {"mode": "fail"}}),
    )
    .await;
    assert_eq!(failed.is_error, Some(true));
    let text = failed.content[0].as_text().unwrap().text.clone();
    assert!(text.contains("boom at frame 12"), "{text}");
    let bad = checked_call(
        &client,
        "artifact_render_video",
        json!({"project_id": id, "codec": "gif", "crf": 3}),
    )
    .await;
    assert_eq!(bad.is_error, Some(true));
    // Over MCP a setting is named as its argument, not as the CLI's flag.
    let preset = checked_call(
        &client,
        "artifact_render_video",
        json!({"project_id": id, "codec": "vp9", "x264_preset": "fast"}),
    )
    .await;
    let text = preset.content[0].as_text().unwrap().text.clone();
    assert!(
        text.contains("`x264_preset` applies to h264 only") && !text.contains("--"),
        "{text}"
    );

    // `frames` and the earlier spelling `first_frame`/`last_frame` name the same render.
    let part = checked_call(
        &client,
        "artifact_render_video",
        json!({"project_id": id, "composition": "Main", "frames": [0, 9]}),
    )
    .await;
    let part = part.structured_content.unwrap();
    assert_eq!(part["memo_hit"], false, "{part}");
    let old = checked_call(
        &client,
        "artifact_render_video",
        json!({"project_id": id, "composition": "Main", "first_frame": 0, "last_frame": 9}),
    )
    .await;
    let old = old.structured_content.unwrap();
    assert_eq!(old["memo_hit"], true, "{old}");
    assert_eq!(old["render"]["id"], part["render"]["id"], "{old}");
    for half in [
        json!({"first_frame": 0}),
        json!({"last_frame": 9, "frames": [0, 9]}),
    ] {
        let mut args = json!({"project_id": id, "composition": "Main"});
        args.as_object_mut()
            .unwrap()
            .extend(half.as_object().unwrap().clone());
        let r = checked_call(&client, "artifact_render_video", args).await;
        assert_eq!(r.is_error, Some(true), "{half}");
        let text = r.content[0].as_text().unwrap().text.clone();
        assert!(text.contains("first_frame"), "{text}");
    }
    client.cancel().await.unwrap();
}
