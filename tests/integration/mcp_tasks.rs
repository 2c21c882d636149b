//! Renders as tasks (the `io.modelcontextprotocol/tasks` extension, SEP-2663) through
//! the real `reel serve` with rmcp's client at protocol 2026-07-28, over stdio and HTTP,
//! with the fake renderer of `render.rs`. The MCP Inspector's own task client is driven
//! in `mcp_clients.rs`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ClientCapabilities,
    ClientConfig, ErrorCode, GetTaskParams, GetTaskResult, Implementation, ProtocolVersion,
    TaskStatus,
};
use rmcp::service::{Peer, RunningService, ServiceError};
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient};
use serde_json::{Value, json};

use crate::mcp::{assert_output_valid, http_server_with, init_repo};
use crate::render::{PACKAGE_JSON, fake_command, fixture, gone, pids, wait_for_pids};
use crate::util::reel_path;

/// A client that declares the tasks extension (and, when `modern`, speaks 2026-07-28).
#[derive(Clone)]
struct TaskClient;

impl ClientHandler for TaskClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_tasks().build(),
            Implementation::new("reel-tests", "1"),
        )
    }
}

type Client = RunningService<RoleClient, TaskClient>;

fn lifecycle(modern: bool) -> ClientLifecycleMode {
    if modern {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        }
    } else {
        ClientLifecycleMode::Initialize
    }
}

/// The environment that makes `reel serve` render with the fake renderer.
fn fake_env(dir: &Path) -> Vec<(String, String)> {
    vec![
        ("REEL_RENDER_COMMAND".into(), fake_command()),
        (
            "REEL_DEPS_CACHE".into(),
            dir.join("deps").display().to_string(),
        ),
        (
            "REEL_INSTALL_COMMAND".into(),
            format!(
                "sh {} {}",
                fixture("fake-install.sh").display(),
                dir.join("installs").display()
            ),
        ),
    ]
}

async fn stdio(dir: &Path, modern: bool) -> Client {
    let (repo, envs) = (dir.join(".reel"), fake_env(dir));
    let cmd = tokio::process::Command::new(reel_path()).configure(|c| {
        c.arg("serve")
            .arg("--repo")
            .arg(&repo)
            .env("USER", "tester")
            .envs(envs.clone())
            .stderr(Stdio::null());
    });
    TaskClient
        .serve_with_lifecycle(TokioChildProcess::new(cmd).unwrap(), lifecycle(modern))
        .await
        .unwrap()
}

async fn http(url: &str, token: &str) -> Client {
    let config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            url.to_owned(),
        )
        .auth_header(token);
    TaskClient
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_config(config),
            lifecycle(true),
        )
        .await
        .unwrap()
}

fn params(tool: &'static str, args: Value) -> CallToolRequestParams {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    CallToolRequestParams::new(tool).with_arguments(args)
}

/// A successful tool call's structured content.
async fn ok(peer: &Peer<RoleClient>, tool: &'static str, args: Value) -> Value {
    let r = peer.call_tool(params(tool, args)).await.unwrap();
    assert_eq!(r.is_error, Some(false), "{tool}: {:?}", r.content);
    r.structured_content.unwrap()
}

/// A project holding a minimal Remotion-shaped source tree, made over MCP.
async fn project(peer: &Peer<RoleClient>) -> String {
    let p = ok(peer, "artifact_create_project", json!({"name": "clip"})).await;
    let id = p["id"].as_str().unwrap().to_owned();
    for (path, content) in [
        ("package.json", PACKAGE_JSON),
        ("src/index.ts", "import {registerRoot} from 'remotion';\n"),
    ] {
        ok(
            peer,
            "artifact_write_file",
            json!({"project_id": id, "path": path, "content": content}),
        )
        .await;
    }
    id
}

fn render_args(project: &str, props: &Value) -> Value {
    json!({"project_id": project, "composition": "Main", "props": props})
}

/// Starts a render; asserts it was answered with a task handle, and returns its id.
async fn render_task(peer: &Peer<RoleClient>, args: Value) -> String {
    render_handle(peer, args).await["taskId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Starts a render; asserts it was answered with a task handle, and returns it as sent.
async fn render_handle(peer: &Peer<RoleClient>, args: Value) -> Value {
    let r = peer
        .call_tool_once(params("artifact_render_video", args))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = r else {
        panic!("expected a task handle, got {r:?}")
    };
    let task = &created.task;
    assert_eq!(task.status, TaskStatus::Working);
    assert_eq!(task.task_id.len(), 32, "the job id: {}", task.task_id);
    assert_eq!(task.poll_interval_ms, Some(500));
    serde_json::to_value(&created).unwrap()
}

/// Starts a render that hangs at frame 10 (recording its processes in `pidfile`) as a
/// task, and waits until its renderer and that renderer's child run.
async fn sleeping_task(peer: &Peer<RoleClient>, project: &str, pidfile: &Path) -> String {
    let props = json!({"mode": "sleep", "pidfile": pidfile.display().to_string()});
    let task = render_task(peer, render_args(project, &props)).await;
    wait_for_pids(pidfile, 2).await;
    task
}

fn assert_no_renderer_left(pidfile: &Path) {
    for pid in pids(pidfile) {
        assert!(gone(&pid), "renderer process {pid} is still running");
    }
}

async fn get(peer: &Peer<RoleClient>, id: &str) -> Result<GetTaskResult, ServiceError> {
    peer.get_task(GetTaskParams::new(id)).await
}

/// Polls a task until `done` holds for it; returns the status messages seen (each change)
/// and the last answer.
async fn poll_until(
    peer: &Peer<RoleClient>,
    id: &str,
    done: impl Fn(&GetTaskResult) -> bool,
) -> (Vec<String>, GetTaskResult) {
    let mut messages = Vec::new();
    for _ in 0..1200 {
        let t = get(peer, id).await.unwrap();
        if let Some(m) = &t.task.task.status_message
            && messages.last() != Some(m)
        {
            messages.push(m.clone());
        }
        if done(&t) {
            return (messages, t);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} never got there: {messages:?}")
}

async fn until_terminal(peer: &Peer<RoleClient>, id: &str) -> (Vec<String>, GetTaskResult) {
    poll_until(peer, id, |t| t.task.status().is_terminal()).await
}

/// The tool result a completed task carries.
fn result(t: &GetTaskResult) -> CallToolResult {
    let v = serde_json::to_value(t).unwrap();
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["resultType"], "complete", "{v}");
    serde_json::from_value(v["result"].clone()).unwrap()
}

/// The task handle `docs/mcp.md` shows under "Renders as tasks".
fn documented_handle() -> Value {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mcp.md")).unwrap();
    let section = &doc[doc.find("#### Renders as tasks").expect("the section")..];
    let block = &section[section.find("```json\n").unwrap() + 8..];
    serde_json::from_str(&block[..block.find("```").unwrap()]).unwrap()
}

fn error_code(e: &ServiceError) -> ErrorCode {
    match e {
        ServiceError::McpError(e) => e.code,
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one session, start to end
async fn a_render_is_a_task_for_a_client_that_takes_tasks() {
    let dir = init_repo();
    let client = stdio(dir.path(), true).await;
    let id = project(&client).await;

    // Answered at once with a handle (as docs/mcp.md shows it); polled to the very
    // result a waiting call returns.
    let handle = render_handle(&client, render_args(&id, &json!({"color": "yellow"}))).await;
    let documented = documented_handle();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&handle), keys(&documented), "{handle}");
    for constant in [
        "resultType",
        "status",
        "statusMessage",
        "ttlMs",
        "pollIntervalMs",
    ] {
        assert_eq!(handle[constant], documented[constant], "{constant}");
    }
    let task = handle["taskId"].as_str().unwrap().to_owned();
    let (messages, done) = until_terminal(&client, &task).await;
    let r = result(&done);
    assert_eq!(r.is_error, Some(false), "{:?}", r.content);
    assert_output_valid(&client, "artifact_render_video", &r).await;
    let job = r.structured_content.clone().unwrap();
    assert_eq!(job["id"], task.as_str());
    assert_eq!(job["stage"], "done");
    assert!(
        r.content.iter().any(|c| c
            .as_resource_link()
            .is_some_and(|l| l.uri.starts_with("reel://renders/"))),
        "{:?}",
        r.content
    );
    assert!(
        messages.iter().any(|m| m.starts_with("rendering")),
        "status messages: {messages:?}"
    );
    let t = &done.task.task;
    assert!(
        t.created_at.ends_with('Z') && t.last_updated_at >= t.created_at,
        "{t:?}"
    );
    // The job behind the task is the one artifact_render_status knows.
    let status = ok(&client, "artifact_render_status", json!({"job_id": task})).await;
    assert_eq!(status["render"], job["render"]);

    // A memo hit needs no task: the result comes at once.
    let again = client
        .call_tool_once(params(
            "artifact_render_video",
            render_args(&id, &json!({"color": "yellow"})),
        ))
        .await
        .unwrap();
    let CallToolResponse::Complete(again) = again else {
        panic!("a memo hit is answered at once: {again:?}")
    };
    assert_eq!(again.structured_content.unwrap()["memo_hit"], true);

    // `wait: true` keeps the waiting call.
    let mut args = render_args(&id, &json!({"color": "red"}));
    args["wait"] = json!(true);
    let waited = client
        .call_tool_once(params("artifact_render_video", args))
        .await
        .unwrap();
    assert!(
        matches!(waited, CallToolResponse::Complete(ref r) if r.is_error == Some(false)),
        "{waited:?}"
    );

    // A failing render is a completed task carrying an isError result with the reason.
    let failing = render_task(&client, render_args(&id, &json!({"mode": "fail"}))).await;
    let (_, failed) = until_terminal(&client, &failing).await;
    let r = result(&failed);
    assert_eq!(r.is_error, Some(true));
    let text = r.content[0].as_text().unwrap().text.clone();
    assert!(text.contains("boom at frame 12"), "{text}");
    assert!(
        failed
            .task
            .task
            .status_message
            .as_deref()
            .is_some_and(|m| m.starts_with("failed")),
        "{failed:?}"
    );

    // Cancelled while it renders: the task ends cancelled and no renderer process is left.
    let pidfile = dir.path().join("pids");
    let sleeping = sleeping_task(&client, &id, &pidfile).await;
    client
        .cancel_task(CancelTaskParams::new(sleeping.clone()))
        .await
        .unwrap();
    let (_, cancelled) = until_terminal(&client, &sleeping).await;
    assert_eq!(cancelled.task.status(), TaskStatus::Cancelled);
    let v = serde_json::to_value(&cancelled).unwrap();
    assert!(v.get("result").is_none(), "{v}");
    assert_no_renderer_left(&pidfile);
    // Cancelling a finished task changes nothing.
    client
        .cancel_task(CancelTaskParams::new(task.clone()))
        .await
        .unwrap();
    assert_eq!(
        get(&client, &task).await.unwrap().task.status(),
        TaskStatus::Completed
    );

    // Ids that name no task the caller may see: -32602, as the extension requires.
    for unknown in ["0123456789abcdef0123456789abcdef", "not-a-task", &id] {
        let e = get(&client, unknown).await.unwrap_err();
        assert_eq!(error_code(&e), ErrorCode::INVALID_PARAMS, "{unknown}: {e}");
        let e = client
            .cancel_task(CancelTaskParams::new(unknown))
            .await
            .unwrap_err();
        assert_eq!(error_code(&e), ErrorCode::INVALID_PARAMS, "{unknown}: {e}");
    }
    client.cancel().await.unwrap();
}

/// The extension is not defined at 2025-11-25: a client declaring it at `initialize`
/// (the Inspector CLI does, and then reads a task handle as an empty result) waits for
/// the render as any other, and `tasks/get` is refused as from a non-declaring client.
#[tokio::test]
async fn at_2025_11_25_the_extension_does_not_apply() {
    let dir = init_repo();
    let client = stdio(dir.path(), false).await;
    let id = project(&client).await;
    let r = client
        .call_tool_once(params(
            "artifact_render_video",
            render_args(&id, &json!({"color": "blue"})),
        ))
        .await
        .unwrap();
    let CallToolResponse::Complete(r) = r else {
        panic!("a 2025-11-25 client must get the result, not a task: {r:?}")
    };
    let job = r.structured_content.unwrap();
    assert_eq!(job["stage"], "done", "{job}");
    let e = get(&client, job["id"].as_str().unwrap()).await.unwrap_err();
    assert_eq!(
        error_code(&e),
        ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
    );
    client.cancel().await.unwrap();
}

/// Two HTTP servers on one repository, called in turn: a task started on one is read
/// and cancelled through the other (which asks the running one through the repository),
/// and another user can neither read nor cancel it.
#[tokio::test]
async fn a_task_is_one_users_on_every_server_of_the_repository() {
    let dir = init_repo();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "ana tok-ana\nbob tok-bob\n").unwrap();
    let envs = fake_env(dir.path());
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let repo = dir.path().join(".reel");
    let (a, b) = (
        http_server_with(&repo, &tokens, &envs),
        http_server_with(&repo, &tokens, &envs),
    );
    let ana_a = http(&a.url, "tok-ana").await;
    let ana_b = http(&b.url, "tok-ana").await;
    let bob_b = http(&b.url, "tok-bob").await;

    let id = project(&ana_a).await;
    let pidfile = dir.path().join("pids");
    let task = sleeping_task(&ana_a, &id, &pidfile).await;
    // The other server reads it from the repository's index.
    let (_, seen) = poll_until(&ana_b, &task, |t| {
        t.task
            .task
            .status_message
            .as_deref()
            .is_some_and(|m| m.starts_with("rendering"))
    })
    .await;
    assert_eq!(seen.task.status(), TaskStatus::Working);

    // Another user: the same answer as for a task that does not exist, and no effect.
    for e in [
        get(&bob_b, &task).await.unwrap_err(),
        bob_b
            .cancel_task(CancelTaskParams::new(task.clone()))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(error_code(&e), ErrorCode::INVALID_PARAMS, "{e}");
    }
    // Refused before anything is asked of the running server: no cancel request exists.
    assert!(!repo.join("packs/jobs-cancel").join(&task).exists());
    assert_eq!(
        get(&ana_a, &task).await.unwrap().task.status(),
        TaskStatus::Working
    );

    // Cancelled through the server that does not run it.
    ana_b
        .cancel_task(CancelTaskParams::new(task.clone()))
        .await
        .unwrap();
    // (the path the refusal above was checked against is the one a cancel writes)
    assert!(repo.join("packs/jobs-cancel").join(&task).exists());
    let (_, cancelled) = until_terminal(&ana_a, &task).await;
    assert_eq!(cancelled.task.status(), TaskStatus::Cancelled);
    assert_no_renderer_left(&pidfile);
    for c in [ana_a, ana_b, bob_b] {
        c.cancel().await.unwrap();
    }
}
