//! `reel serve` driven by MCP clients no one here wrote: the official Python SDK
//! (`PyPI` `mcp`, `tests/clients/python_sdk.py`), over stdio and streamable HTTP, at
//! protocol 2025-11-25 (initialize) and 2026-07-28 (discover, stateless). The SDK
//! validates every successful result against the tool's outputSchema itself.
//!
//! `#[ignore]`d so that a plain `cargo test` without the SDK reports them as ignored;
//! `scripts/test` installs the SDK into a venv and runs them (`REEL_MCP_PYTHON`).

use std::process::Command;

use crate::mcp::{http_server, http_server_with, init_repo};
use crate::render::{PACKAGE_JSON, fake_command, fixture};
use crate::util::reel_path;

/// The venv's python with the SDK installed.
fn python() -> String {
    std::env::var("REEL_MCP_PYTHON")
        .expect("REEL_MCP_PYTHON names a python with the MCP SDK (scripts/test sets it)")
}

fn script() -> String {
    format!("{}/tests/clients/python_sdk.py", env!("CARGO_MANIFEST_DIR"))
}

/// Runs the SDK script; asserts it finished every step.
fn run(args: &[&str]) {
    let out = Command::new(python())
        .arg(script())
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all ok"),
        "python SDK {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

fn over_stdio(mode: &str) {
    let dir = init_repo();
    let repo = dir.path().join(".reel");
    run(&[
        "stdio",
        &reel_path().to_string_lossy(),
        &repo.to_string_lossy(),
        mode,
    ]);
}

fn over_http(mode: &str) {
    let dir = init_repo();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "ana tok\n").unwrap();
    let server = http_server(&dir.path().join(".reel"), &tokens);
    run(&["http", &server.url, "tok", mode]);
}

#[test]
#[ignore = "needs the MCP Python SDK: scripts/test installs it and runs this"]
fn python_sdk_over_stdio_at_2025_11_25() {
    over_stdio("legacy");
}

#[test]
#[ignore = "needs the MCP Python SDK: scripts/test installs it and runs this"]
fn python_sdk_over_stdio_at_2026_07_28() {
    over_stdio("2026-07-28");
}

#[test]
#[ignore = "needs the MCP Python SDK: scripts/test installs it and runs this"]
fn python_sdk_over_http_at_2025_11_25() {
    over_http("legacy");
}

#[test]
#[ignore = "needs the MCP Python SDK: scripts/test installs it and runs this"]
fn python_sdk_over_http_at_2026_07_28() {
    over_http("2026-07-28");
}

/// The MCP Inspector CLI (npm `@modelcontextprotocol/inspector`, 2.x): its path.
fn inspector() -> String {
    std::env::var("REEL_MCP_INSPECTOR")
        .expect("REEL_MCP_INSPECTOR names the Inspector CLI (scripts/test sets it)")
}

/// How the Inspector reaches the server: the stdio command, or the HTTP URL and token.
enum Target<'a> {
    Stdio(&'a std::path::Path),
    /// Over stdio, with these variables set for the server and its stderr appended to
    /// a file (the Inspector passes a server neither by default).
    StdioLogged(
        &'a std::path::Path,
        &'a [(&'a str, &'a str)],
        &'a std::path::Path,
    ),
    Http(&'a str, &'a str),
}

/// One Inspector CLI run (one client process, and over stdio one server process, per
/// call): its JSON output and stderr.
fn inspect(target: &Target, era: &str, args: &[&str]) -> (serde_json::Value, String) {
    let mut cmd = Command::new(inspector());
    cmd.args(["--cli", "--format", "json", "--protocol-era", era]);
    match target {
        Target::Stdio(repo) => {
            cmd.arg(reel_path()).arg("serve").arg("--repo").arg(repo);
        }
        Target::StdioLogged(repo, envs, log) => {
            for (k, v) in *envs {
                cmd.arg("-e").arg(format!("{k}={v}"));
            }
            cmd.args(["sh", "-c", r#"exec "$0" serve --repo "$1" 2>>"$2""#])
                .arg(reel_path())
                .arg(repo)
                .arg(log);
        }
        Target::Http(url, token) => {
            cmd.args(["--transport", "http", "--server-url", url, "--header"])
                .arg(format!("Authorization: Bearer {token}"));
        }
    }
    let out = cmd
        .args(args)
        .env("REEL_USER", "inspector")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "inspector {args:?} printed no JSON ({e}, {}):\n{stdout}\n{stderr}",
            out.status
        )
    });
    (json, stderr)
}

/// A tool call through the Inspector; the `tools/call` result.
fn inspect_call(
    target: &Target,
    era: &str,
    tool: &str,
    args: &serde_json::Value,
) -> serde_json::Value {
    let (out, stderr) = inspect(
        target,
        era,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            tool,
            "--tool-args-json",
            &args.to_string(),
        ],
    );
    let result = out.get("result").cloned().unwrap_or(out);
    assert!(
        result.get("content").is_some(),
        "{tool}: {result}\n{stderr}"
    );
    result
}

/// tools/list with the Inspector's portability check (`--strict`), a workflow of one
/// process per call, a `{+path}` resource read and a refused unknown argument.
fn inspector_workflow(target: &Target, era: &str) {
    let (init, stderr) = inspect(target, era, &["--method", "initialize"]);
    let version = if era == "modern" {
        "2026-07-28"
    } else {
        "2025-11-25"
    };
    assert_eq!(init["result"]["protocolVersion"], version, "{init}");
    assert_eq!(init["result"]["serverInfo"]["name"], "reelstore", "{init}");
    // The server ends quietly when a client that never initializes goes away.
    assert!(!stderr.contains("error"), "{stderr}");
    let (list, stderr) = inspect(target, era, &["--method", "tools/list", "--strict"]);
    let tools = list["result"]["tools"].as_array().expect("tools listed");
    assert_eq!(tools.len(), 26, "{list}");
    assert!(
        !stderr.contains("Warning") && !stderr.contains("Error"),
        "the Inspector's strict check found schema problems:\n{stderr}"
    );
    for t in tools {
        assert!(
            t["outputSchema"].is_object() && t["title"].is_string(),
            "{t}"
        );
    }
    let p = inspect_call(
        target,
        era,
        "artifact_create_project",
        &serde_json::json!({"name": "Insp"}),
    );
    let p = &p["structuredContent"];
    assert_eq!(p["scope"], "user", "{p}");
    let id = p["id"].as_str().unwrap();
    let root = "export const Root = () => null;\n";
    let w = inspect_call(
        target,
        era,
        "artifact_write_file",
        &serde_json::json!({"project_id": id, "path": "src/Root.tsx", "content": root}),
    );
    assert_eq!(w["isError"], false, "{w}");
    let c = inspect_call(
        target,
        era,
        "artifact_create_checkpoint",
        &serde_json::json!({"project_id": id, "name": "v1"}),
    );
    assert_eq!(c["structuredContent"]["files"], 1, "{c}");
    let uri = format!("reel://projects/{id}/files/src/Root.tsx");
    let (read, stderr) = inspect(target, era, &["--method", "resources/read", "--uri", &uri]);
    assert_eq!(
        read["result"]["contents"][0]["text"], root,
        "{read}\n{stderr}"
    );
    let bad = inspect_call(
        target,
        era,
        "artifact_list_files",
        &serde_json::json!({"project_id": id, "recursve": true}),
    );
    assert_eq!(bad["isError"], true, "{bad}");
    assert_eq!(
        bad["structuredContent"]["error"]["code"], "invalid_argument",
        "{bad}"
    );
}

#[test]
#[ignore = "needs the MCP Inspector CLI (npm): scripts/test installs it and runs this"]
fn inspector_cli_over_stdio_in_both_eras() {
    for era in ["legacy", "modern"] {
        let dir = init_repo();
        inspector_workflow(&Target::Stdio(&dir.path().join(".reel")), era);
    }
}

#[test]
#[ignore = "needs the MCP Inspector CLI (npm): scripts/test installs it and runs this"]
fn inspector_cli_over_http_in_both_eras() {
    for era in ["legacy", "modern"] {
        let dir = init_repo();
        let tokens = dir.path().join("tokens");
        std::fs::write(&tokens, "ana tok\n").unwrap();
        let server = http_server(&dir.path().join(".reel"), &tokens);
        inspector_workflow(&Target::Http(&server.url, "tok"), era);
    }
}

/// A render through the Inspector's own client for the tasks extension (its package
/// ships `@modelcontextprotocol/ext-tasks`), over HTTP and stdio: at 2026-07-28 it
/// declares the extension, gets a task handle, polls `tasks/get` and prints the result
/// it carries; at 2025-11-25, where the extension is not defined, the call waits.
#[test]
#[ignore = "needs the MCP Inspector CLI (npm): scripts/test installs it and runs this"]
fn inspector_cli_renders_through_a_task() {
    let dir = init_repo();
    let repo = dir.path().join(".reel");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "inspector tok\n").unwrap();
    let install = format!(
        "sh {} {}",
        fixture("fake-install.sh").display(),
        dir.path().join("installs").display()
    );
    let command = fake_command();
    let deps = dir.path().join("deps").display().to_string();
    let envs = [
        ("REEL_RENDER_COMMAND", command.as_str()),
        ("REEL_DEPS_CACHE", deps.as_str()),
        ("REEL_INSTALL_COMMAND", install.as_str()),
        ("REEL_LOG", "info"),
        ("REEL_USER", "inspector"),
    ];
    let server = http_server_with(&repo, &tokens, &envs);
    let stdio_log = dir.path().join("stdio.log");
    let http = Target::Http(&server.url, "tok");
    let stdio = Target::StdioLogged(&repo, &envs, &stdio_log);
    // One project of user `inspector`, reached over both.
    let p = inspect_call(
        &http,
        "modern",
        "artifact_create_project",
        &serde_json::json!({"name": "Clip"}),
    );
    let id = p["structuredContent"]["id"].as_str().unwrap().to_owned();
    for (path, content) in [
        ("package.json", PACKAGE_JSON),
        ("src/index.ts", "import {registerRoot} from 'remotion';\n"),
    ] {
        let w = inspect_call(
            &stdio,
            "modern",
            "artifact_write_file",
            &serde_json::json!({"project_id": id, "path": path, "content": content}),
        );
        assert_eq!(w["isError"], false, "{w}");
    }
    let logs = || {
        let mut log = server.log.lock().unwrap().clone();
        log.extend(
            std::fs::read_to_string(&stdio_log)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned),
        );
        log
    };
    let tasks = || {
        logs()
            .iter()
            .filter(|l| l.contains("render job answered as a task"))
            .count()
    };
    let mut expected = 0;
    for (target, era, colour) in [
        (&http, "modern", "yellow"),
        (&http, "legacy", "green"),
        (&stdio, "modern", "red"),
        (&stdio, "legacy", "blue"),
    ] {
        let r = inspect_call(
            target,
            era,
            "artifact_render_video",
            &serde_json::json!({"project_id": id, "composition": "Main",
                "props": {"color": colour}}),
        );
        assert_eq!(r["isError"], false, "{era} {colour}: {r}");
        let job = &r["structuredContent"];
        assert_eq!(job["stage"], "done", "{era} {colour}: {r}");
        assert_eq!(job["memo_hit"], false, "{era} {colour}: {r}");
        assert!(
            r["content"].to_string().contains("reel://renders/"),
            "{era} {colour}: {r}"
        );
        expected += usize::from(era == "modern");
        assert_eq!(tasks(), expected, "{era} {colour}:\n{}", logs().join("\n"));
    }
}
