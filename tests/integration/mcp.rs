//! The real `reel serve` binary with rmcp's client: stdio and streamable HTTP.

use std::fmt::Write as _;
use std::io::{BufRead, Read, Write};
use std::process::Stdio;

use base64::Engine as _;
use rmcp::model::{CallToolRequestParams, CallToolResult, ReadResourceRequestParams};
use rmcp::service::{Peer, RunningService};
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::util::{reel, reel_path, tempdir};

pub(crate) type Client = RunningService<RoleClient, ()>;

const TOOLS: [&str; 26] = [
    "artifact_create_project",
    "artifact_get_project",
    "artifact_list_projects",
    "artifact_delete_project",
    "artifact_update_project",
    "artifact_write_file",
    "artifact_read_file",
    "artifact_list_files",
    "artifact_delete_file",
    "artifact_move_file",
    "artifact_create_checkpoint",
    "artifact_list_checkpoints",
    "artifact_restore_checkpoint",
    "artifact_delete_checkpoint",
    "artifact_diff",
    "artifact_log",
    "artifact_store_asset",
    "artifact_get_asset",
    "artifact_list_assets",
    "artifact_delete_asset",
    "artifact_store_render",
    "artifact_get_render",
    "artifact_list_renders",
    "artifact_render_video",
    "artifact_render_status",
    "artifact_cancel_render",
];

/// Every tool's input and output schemas, as the server lists them (the same for every
/// server).
static SCHEMAS: tokio::sync::OnceCell<std::collections::HashMap<String, (Value, Value)>> =
    tokio::sync::OnceCell::const_new();

async fn schemas(
    peer: &Peer<RoleClient>,
) -> &'static std::collections::HashMap<String, (Value, Value)> {
    SCHEMAS
        .get_or_init(|| async {
            peer.list_all_tools()
                .await
                .unwrap()
                .into_iter()
                .map(|t| {
                    let output = t.output_schema.map_or_else(
                        || panic!("{} lists no outputSchema", t.name),
                        |o| Value::Object((*o).clone()),
                    );
                    (
                        t.name.to_string(),
                        (Value::Object((*t.input_schema).clone()), output),
                    )
                })
                .collect()
        })
        .await
}

/// The problems `value` has against `schema` (empty: valid).
fn problems(schema: &Value, value: &Value, what: &str) -> Vec<String> {
    let validator = jsonschema::validator_for(schema)
        .unwrap_or_else(|e| panic!("{what} is not a valid JSON schema: {e}"));
    validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect()
}

/// The problems `args` has against `tool`'s input schema (empty: valid).
pub async fn schema_errors(peer: &Peer<RoleClient>, tool: &str, args: &Value) -> Vec<String> {
    let (input, _) = schemas(peer)
        .await
        .get(tool)
        .unwrap_or_else(|| panic!("no tool {tool}"));
    problems(input, args, &format!("{tool}'s input schema"))
}

/// Asserts that a successful result's structured content matches `tool`'s
/// `outputSchema`, as a client validating results would check.
pub async fn assert_output_valid(peer: &Peer<RoleClient>, tool: &str, result: &CallToolResult) {
    if result.is_error == Some(true) {
        return;
    }
    let (_, output) = schemas(peer)
        .await
        .get(tool)
        .unwrap_or_else(|| panic!("no tool {tool}"));
    let content = result
        .structured_content
        .as_ref()
        .unwrap_or_else(|| panic!("{tool} returned no structured content"));
    let errors = problems(output, content, &format!("{tool}'s output schema"));
    assert!(
        errors.is_empty(),
        "{tool}'s result does not match its outputSchema: {errors:?}\n{content}"
    );
}

/// Calls a tool after checking that the arguments match its input schema: the tests
/// send what an LLM following the schema would send.
pub async fn checked_call(
    peer: &Peer<RoleClient>,
    tool: &'static str,
    args: Value,
) -> CallToolResult {
    let errors = schema_errors(peer, tool, &args).await;
    assert!(
        errors.is_empty(),
        "{tool} arguments {args} do not match its input schema: {errors:?}"
    );
    unchecked_call(peer, tool, args).await
}

/// Calls a tool with arguments as given (for tests of arguments the schema rejects).
async fn unchecked_call(
    peer: &Peer<RoleClient>,
    tool: &'static str,
    args: Value,
) -> CallToolResult {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    let result = peer
        .call_tool(CallToolRequestParams::new(tool).with_arguments(map))
        .await
        .unwrap();
    assert_output_valid(peer, tool, &result).await;
    result
}

async fn call(client: &Client, tool: &'static str, args: Value) -> CallToolResult {
    checked_call(client, tool, args).await
}

pub(crate) async fn ok(client: &Client, tool: &'static str, args: Value) -> Value {
    let r = call(client, tool, args).await;
    assert_eq!(r.is_error, Some(false), "{tool} failed: {:?}", r.content);
    r.structured_content.expect("structured output")
}

/// Creates a user-scope project; its id.
pub(crate) async fn user_project(client: &Client, name: &str) -> String {
    ok(
        client,
        "artifact_create_project",
        json!({"name": name, "scope": "user"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn fails(client: &Client, tool: &'static str, args: Value) -> String {
    failure(client, tool, args).await.1
}

/// A failing call's stable error code and its sentence; the structured error carries
/// the same sentence as the text.
pub(crate) async fn failure(client: &Client, tool: &'static str, args: Value) -> (String, String) {
    let r = call(client, tool, args).await;
    assert_eq!(
        r.is_error,
        Some(true),
        "{tool} should fail: {:?}",
        r.content
    );
    let text = r.content[0]
        .as_text()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    let error = &r.structured_content.expect("a structured error")["error"];
    assert_eq!(error["message"], text.as_str(), "{error}");
    (error["code"].as_str().unwrap_or_default().to_owned(), text)
}

pub(crate) async fn stdio_client(repo: &std::path::Path, extra: &[&str]) -> Client {
    let repo = repo.to_path_buf();
    let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    let cmd = tokio::process::Command::new(reel_path()).configure(|c| {
        c.arg("serve")
            .arg("--repo")
            .arg(&repo)
            .args(&extra)
            .env("USER", "tester")
            .stderr(Stdio::null());
    });
    ().serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .unwrap()
}

pub(crate) fn init_repo() -> tempfile::TempDir {
    let dir = tempdir();
    reel(dir.path()).arg("init").assert().success();
    dir
}

#[tokio::test]
async fn a_whole_workflow_over_stdio() {
    let dir = init_repo();
    let client = stdio_client(&dir.path().join(".reel"), &[]).await;
    workflow(&client).await;
    client.cancel().await.unwrap();
}

/// A repository served over HTTP to one user, `ana` (token `tok`), and her client.
async fn one_user_over_http() -> (tempfile::TempDir, HttpServer, Client) {
    let dir = init_repo();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "ana tok\n").unwrap();
    let server = http_server(&dir.path().join(".reel"), &tokens);
    let client = http_client(&server.url, "tok").await;
    (dir, server, client)
}

#[tokio::test]
async fn the_same_workflow_over_http() {
    let (_dir, _server, client) = one_user_over_http().await;
    workflow(&client).await;
}

/// Over HTTP a payload up to `--max-inline` (8 MiB by default) fits, although base64
/// makes it a third bigger than rmcp's default 4 MiB body limit; one past `--max-inline`
/// gets the tool's clear error, not a 413 or a reset connection.
#[tokio::test]
async fn payloads_up_to_max_inline_fit_over_http() {
    let (_dir, _server, client) = one_user_over_http().await;
    let id = user_project(&client, "big").await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = vec![0u8; 6 << 20];
    blake3::Hasher::new().finalize_xof().fill(&mut bytes);
    ok(
        &client,
        "artifact_write_file",
        json!({"project_id": id, "path": "footage/clip.bin", "content_base64": b64.encode(&bytes)}),
    )
    .await;
    let back = ok(
        &client,
        "artifact_read_file",
        json!({"project_id": id, "path": "footage/clip.bin", "base64": true}),
    )
    .await;
    assert_eq!(
        b64.decode(back["content_base64"].as_str().unwrap())
            .unwrap(),
        bytes
    );
    let too_big = vec![7u8; (8 << 20) + (512 << 10)];
    let err = fails(
        &client,
        "artifact_write_file",
        json!({"project_id": id, "path": "footage/big.bin", "content_base64": b64.encode(&too_big)}),
    )
    .await;
    assert!(err.contains("max-inline") || err.contains("limit"), "{err}");
    client.cancel().await.unwrap();
}

/// Create, write, checkpoint, edit, checkpoint, diff, restore, read back, assets, lists.
#[allow(clippy::too_many_lines)] // one workflow, start to end
async fn workflow(client: &Client) {
    let p = ok(
        client,
        "artifact_create_project",
        json!({"name": "Intro", "fps": 30, "width": 1280, "height": 720, "theme": "dark"}),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(
        p["scope"], "user",
        "a caller whose user is known gets user scope (it outlives the session)"
    );
    assert_eq!(p["metadata"]["fps"], 30);
    let root = "import {Composition} from 'remotion';\nexport const Root = () => <Composition id=\"Intro\" />;\n";
    ok(
        client,
        "artifact_write_file",
        json!({"project_id": id, "path": "src/Root.tsx", "content": root}),
    )
    .await;
    ok(
        client,
        "artifact_write_file",
        json!({"project_id": id, "path": "props.json", "content": "{\"title\":\"Hello\"}"}),
    )
    .await;
    let png = vec![0x89, b'P', b'N', b'G', 0, 1, 2, 3, 255];
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    ok(
        client,
        "artifact_write_file",
        json!({"project_id": id, "path": "public/logo.png", "content_base64": b64}),
    )
    .await;
    let v1 = ok(
        client,
        "artifact_create_checkpoint",
        json!({"project_id": id, "name": "v1", "description": "first"}),
    )
    .await;
    assert_eq!(v1["files"], 3);
    ok(
        client,
        "artifact_write_file",
        json!({"project_id": id, "path": "props.json", "content": "{\"title\":\"Bye\"}"}),
    )
    .await;
    ok(
        client,
        "artifact_move_file",
        json!({"project_id": id, "from": "public/logo.png", "to": "public/brand.png"}),
    )
    .await;
    ok(
        client,
        "artifact_create_checkpoint",
        json!({"project_id": id, "name": "v2"}),
    )
    .await;
    let diff = ok(
        client,
        "artifact_diff",
        json!({"project_id": id, "from": "v1", "to": "v2"}),
    )
    .await;
    let changes: Vec<(&str, &str)> = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["change"].as_str().unwrap(), c["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [("modified", "props.json"), ("renamed", "public/brand.png")]
    );
    // An unsaved edit, discarded by the restore: the result says so.
    ok(
        client,
        "artifact_write_file",
        json!({"project_id": id, "path": "scratch.txt", "content": "unsaved"}),
    )
    .await;
    let restored = ok(
        client,
        "artifact_restore_checkpoint",
        json!({"project_id": id, "checkpoint": "v1"}),
    )
    .await;
    assert_eq!(restored["discarded_edits"], 1, "{restored}");
    let back = ok(
        client,
        "artifact_read_file",
        json!({"project_id": id, "path": "src/Root.tsx"}),
    )
    .await;
    assert_eq!(back["content"], root);
    let logo = ok(
        client,
        "artifact_read_file",
        json!({"project_id": id, "path": "public/logo.png", "base64": true}),
    )
    .await;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(logo["content_base64"].as_str().unwrap())
            .unwrap(),
        png
    );
    let props = client
        .read_resource(ReadResourceRequestParams::new(format!(
            "reel://projects/{id}/files/props.json"
        )))
        .await
        .unwrap();
    assert!(format!("{:?}", props.contents[0]).contains("Hello"));

    let asset = ok(client, "artifact_store_asset", json!({"content_base64": b64, "mime_type": "image/png", "name": "logo.png", "tags": ["brand"]})).await;
    let aid = asset["id"].as_str().unwrap().to_owned();
    let got = call(client, "artifact_get_asset", json!({"id": aid})).await;
    assert!(
        got.content
            .iter()
            .any(|c| format!("{c:?}").contains(&format!("reel://assets/{aid}"))),
        "a resource link"
    );
    let res = client
        .read_resource(ReadResourceRequestParams::new(format!(
            "reel://assets/{aid}"
        )))
        .await
        .unwrap();
    assert!(format!("{:?}", res.contents[0]).contains(&b64));

    assert_eq!(
        ok(client, "artifact_list_projects", json!({})).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ok(
            client,
            "artifact_list_files",
            json!({"project_id": id, "recursive": true})
        )
        .await["files"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        ok(
            client,
            "artifact_list_checkpoints",
            json!({"project_id": id})
        )
        .await["checkpoints"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        ok(client, "artifact_list_assets", json!({"tags": ["brand"]})).await["assets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ok(client, "artifact_log", json!({"project_id": id})).await["log"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn tools_list_describes_every_tool() {
    let dir = init_repo();
    let client = stdio_client(&dir.path().join(".reel"), &[]).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    let mut expected = TOOLS.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for t in &tools {
        assert!(
            t.description.as_ref().is_some_and(|d| d.len() > 20),
            "{} has no description",
            t.name
        );
        assert_eq!(
            t.input_schema.get("type"),
            Some(&json!("object")),
            "{}",
            t.name
        );
        assert!(
            t.title.as_ref().is_some_and(|x| !x.is_empty()),
            "{} has no title",
            t.name
        );
        assert_eq!(
            t.input_schema.get("additionalProperties"),
            Some(&json!(false)),
            "{}: unknown arguments are refused, so the schema says so",
            t.name
        );
        let schema = Value::Object((*t.input_schema).clone());
        assert!(
            !schema.to_string().contains("\"null\""),
            "{}: optional arguments are not typed nullable: {schema}",
            t.name
        );
        let output = t
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no outputSchema", t.name));
        jsonschema::validator_for(&Value::Object((**output).clone()))
            .unwrap_or_else(|e| panic!("{}'s outputSchema is not a schema: {e}", t.name));
        let a = t
            .annotations
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no annotations", t.name));
        let read_only = a.read_only_hint.unwrap();
        let destructive = a.destructive_hint.unwrap();
        assert!(!(read_only && destructive), "{}", t.name);
        let name = t.name.as_ref();
        assert_eq!(
            read_only,
            name.contains("get_")
                || name.contains("list_")
                || name.ends_with("read_file")
                || name.ends_with("diff")
                || name.ends_with("_log")
                || name.ends_with("render_status"),
            "{name}"
        );
        assert_eq!(
            destructive,
            name.contains("delete")
                || name.ends_with("restore_checkpoint")
                || name.ends_with("write_file"),
            "{name}"
        );
    }
    let create = tools
        .iter()
        .find(|t| t.name == "artifact_create_project")
        .unwrap();
    let props = create.input_schema.get("properties").unwrap();
    for field in [
        "name",
        "scope",
        "theme",
        "fps",
        "width",
        "height",
        "metadata",
        "ttl_seconds",
    ] {
        assert!(
            props.get(field).is_some(),
            "create_project schema lacks {field}"
        );
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one session, many cases
async fn bad_input_gets_is_error_results_and_the_server_keeps_serving() {
    let dir = init_repo();
    let client = stdio_client(&dir.path().join(".reel"), &["--max-inline", "1000"]).await;
    let id = ok(&client, "artifact_create_project", json!({"name": "x"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = "00112233445566778899aabbccddeeff";
    assert!(
        fails(
            &client,
            "artifact_get_project",
            json!({"project_id": unknown})
        )
        .await
        .contains("not found")
    );
    assert!(
        fails(
            &client,
            "artifact_get_project",
            json!({"project_id": "nope"})
        )
        .await
        .contains("not an id")
    );
    for bad in [
        "../etc/passwd",
        "/abs",
        "a/../b",
        "a//b",
        ".reel/index.redb",
        "x/.REEL/y",
    ] {
        let msg = fails(
            &client,
            "artifact_write_file",
            json!({"project_id": id, "path": bad, "content": "x"}),
        )
        .await;
        assert!(msg.contains("invalid path"), "{bad}: {msg}");
    }
    let big = "x".repeat(2000);
    assert!(
        fails(
            &client,
            "artifact_write_file",
            json!({"project_id": id, "path": "big.txt", "content": big})
        )
        .await
        .contains("inline limit")
    );
    assert!(
        fails(
            &client,
            "artifact_write_file",
            json!({"project_id": id, "path": "a.bin", "content_base64": "%%%not base64"})
        )
        .await
        .contains("base64")
    );
    let (code, msg) = failure(
        &client,
        "artifact_restore_checkpoint",
        json!({"project_id": id, "checkpoint": "missing"}),
    )
    .await;
    assert!(msg.contains("not found"), "{msg}");
    assert_eq!(code, "not_found");
    let (code, msg) = failure(
        &client,
        "artifact_write_file",
        json!({"project_id": id, "path": "big.txt", "content": "x".repeat(2000)}),
    )
    .await;
    assert_eq!(code, "too_large", "{msg}");
    // Wrong types and missing fields — which the input schemas reject — are isError
    // results too, naming the problem.
    for (tool, args, says) in [
        (
            "artifact_create_project",
            json!({"name": "x", "fps": "thirty"}),
            "invalid type",
        ),
        (
            "artifact_write_file",
            json!({"path": "a.txt", "content": "x"}),
            "project_id",
        ),
        // Scopes are an enum in the schema.
        (
            "artifact_create_project",
            json!({"name": "x", "scope": "galaxy"}),
            "unknown variant `galaxy`",
        ),
    ] {
        assert!(
            !schema_errors(&client, tool, &args).await.is_empty(),
            "the schema of {tool} should reject {args}"
        );
        let r = unchecked_call(&client, tool, args).await;
        assert_eq!(r.is_error, Some(true));
        let msg = r.content[0].as_text().unwrap().text.clone();
        assert!(
            msg.contains("invalid arguments") && msg.contains(says),
            "{msg}"
        );
        let code = &r.structured_content.unwrap()["error"]["code"];
        assert_eq!(code, "invalid_argument", "{msg}");
    }
    // Still serving.
    ok(
        &client,
        "artifact_write_file",
        json!({"project_id": id, "path": "ok.txt", "content": "fine"}),
    )
    .await;

    // Content over the inline limit comes back as a resource link, readable as a resource.
    let shared = ok(
        &client,
        "artifact_create_project",
        json!({"name": "big", "scope": "user"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    reel(dir.path())
        .args(["file", "write", &shared, "big.txt"])
        .write_stdin("y".repeat(5000))
        .assert()
        .success();
    let r = ok(
        &client,
        "artifact_read_file",
        json!({"project_id": shared, "path": "big.txt"}),
    )
    .await;
    let uri = r["resource"].as_str().unwrap().to_owned();
    assert!(r.get("content").is_none());
    let res = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap();
    assert!(format!("{:?}", res.contents[0]).contains(&"y".repeat(5000)));
    ok(
        &client,
        "artifact_create_checkpoint",
        json!({"project_id": shared, "name": "v1"}),
    )
    .await;
    reel(dir.path())
        .args(["file", "rm", &shared, "big.txt"])
        .assert()
        .success();
    let at_v1 = client
        .read_resource(ReadResourceRequestParams::new(format!(
            "reel://projects/{shared}/checkpoints/v1/files/big.txt"
        )))
        .await
        .unwrap();
    assert!(format!("{:?}", at_v1.contents[0]).contains(&"y".repeat(5000)));
    client.cancel().await.unwrap();
}

pub(crate) struct HttpServer {
    child: std::process::Child,
    pub(crate) url: String,
    /// What the server printed on stderr after its address (`REEL_LOG` decides how
    /// much), as it comes.
    pub(crate) log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn http_server(repo: &std::path::Path, tokens: &std::path::Path) -> HttpServer {
    http_server_with(repo, tokens, &[])
}

/// `reel serve --http` on `repo` with `tokens`, and `envs` (credentials) set.
pub(crate) fn http_server_with(
    repo: &std::path::Path,
    tokens: &std::path::Path,
    envs: &[(&str, &str)],
) -> HttpServer {
    let mut child = std::process::Command::new(reel_path())
        .envs(envs.iter().copied())
        .args(["serve", "--http", "0", "--repo"])
        .arg(repo)
        .arg("--tokens")
        .arg(tokens)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.to_owned();
        }
    };
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    HttpServer { child, url, log }
}

pub(crate) async fn http_client(url: &str, token: &str) -> Client {
    let config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            url.to_owned(),
        )
        .auth_header(token);
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .unwrap()
}

fn raw_post(url: &str, auth: Option<&str>) -> String {
    let addr = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let auth = auth
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(s, "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one workflow, start to end
async fn two_users_over_http_cannot_reach_each_other() {
    let dir = init_repo();
    let tokens = dir.path().join("tokens");
    let hashed = blake3::hash(b"bob-secret").to_hex();
    std::fs::write(&tokens, format!("ana ana-secret\nbob b3:{hashed}\n")).unwrap();
    let server = http_server(&dir.path().join(".reel"), &tokens);

    // No token, a wrong token: a bare 401.
    for auth in [None, Some("wrong")] {
        let reply = raw_post(&server.url, auth);
        assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
        assert!(!reply.contains("ana"), "no detail leaked");
    }

    let ana = http_client(&server.url, "ana-secret").await;
    let bob = http_client(&server.url, "bob-secret").await;
    let p = ok(
        &ana,
        "artifact_create_project",
        json!({"name": "ana's", "scope": "user"}),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(p["owner_user"], "ana");
    ok(
        &ana,
        "artifact_write_file",
        json!({"project_id": id, "path": "src/Root.tsx", "content": "secret"}),
    )
    .await;
    ok(
        &ana,
        "artifact_create_checkpoint",
        json!({"project_id": id, "name": "v1"}),
    )
    .await;
    let asset = ok(&ana, "artifact_store_asset", json!({"content_base64": "c2VjcmV0", "mime_type": "text/plain", "name": "s.txt", "scope": "user"})).await;
    let aid = asset["id"].as_str().unwrap().to_owned();
    let render = ok(&ana, "artifact_store_render", json!({"project_id": id, "checkpoint": "v1", "content_base64": "dmlkZW8=", "container": "mp4"})).await;
    let rid = render["id"].as_str().unwrap().to_owned();

    assert!(
        ok(&bob, "artifact_list_projects", json!({})).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        ok(&bob, "artifact_list_assets", json!({})).await["assets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        ok(&bob, "artifact_list_renders", json!({})).await["renders"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for (tool, args) in [
        ("artifact_get_project", json!({"project_id": id})),
        (
            "artifact_read_file",
            json!({"project_id": id, "path": "src/Root.tsx"}),
        ),
        ("artifact_list_files", json!({"project_id": id})),
        (
            "artifact_write_file",
            json!({"project_id": id, "path": "x", "content": "x"}),
        ),
        (
            "artifact_restore_checkpoint",
            json!({"project_id": id, "checkpoint": "v1"}),
        ),
        (
            "artifact_delete_checkpoint",
            json!({"project_id": id, "checkpoint": "v1"}),
        ),
        ("artifact_delete_project", json!({"project_id": id})),
        ("artifact_get_asset", json!({"id": aid})),
        ("artifact_delete_asset", json!({"id": aid})),
        ("artifact_get_render", json!({"id": rid})),
    ] {
        assert!(
            fails(&bob, tool, args).await.contains("not found"),
            "{tool}"
        );
    }
    for uri in [
        format!("reel://projects/{id}/files/src/Root.tsx"),
        format!("reel://assets/{aid}"),
        format!("reel://renders/{rid}"),
    ] {
        assert!(
            bob.read_resource(ReadResourceRequestParams::new(uri.clone()))
                .await
                .is_err(),
            "{uri}"
        );
        assert!(
            ana.read_resource(ReadResourceRequestParams::new(uri.clone()))
                .await
                .is_ok(),
            "{uri}"
        );
    }
    assert_eq!(
        ok(
            &ana,
            "artifact_read_file",
            json!({"project_id": id, "path": "src/Root.tsx"})
        )
        .await["content"],
        "secret"
    );

    // Load: 4 users × 50 concurrent calls, no error, no leak.
    let mut tokens_text = String::new();
    for u in 0..4 {
        let _ = writeln!(tokens_text, "user{u} tok{u}");
    }
    drop((ana, bob));
    drop(server);
    std::fs::write(&tokens, tokens_text).unwrap();
    let server = http_server(&dir.path().join(".reel"), &tokens);
    let mut users = Vec::new();
    for u in 0..4 {
        let c = http_client(&server.url, &format!("tok{u}")).await;
        let id = ok(
            &c,
            "artifact_create_project",
            json!({"name": format!("p{u}"), "scope": "user"}),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        users.push((c, id));
    }
    let calls = users.iter().enumerate().flat_map(|(u, (c, id))| {
        (0..50).map(move |i| async move {
            let path = format!("f{i}.txt");
            ok(
                c,
                "artifact_write_file",
                json!({"project_id": id, "path": path, "content": format!("{u}:{i}")}),
            )
            .await;
            let read = ok(
                c,
                "artifact_read_file",
                json!({"project_id": id, "path": path}),
            )
            .await;
            assert_eq!(read["content"], format!("{u}:{i}"));
        })
    });
    futures::future::join_all(calls).await;
    for (u, (c, id)) in users.iter().enumerate() {
        let listed = ok(c, "artifact_list_projects", json!({})).await;
        let ids: Vec<&str> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [id.as_str()], "user{u} sees only their project");
        assert_eq!(
            ok(c, "artifact_list_files", json!({"project_id": id})).await["files"]
                .as_array()
                .unwrap()
                .len(),
            50
        );
    }
    let _ = std::io::stdout().flush();
}

#[tokio::test]
async fn a_write_over_the_quota_fails_and_stores_nothing() {
    let dir = init_repo();
    let client = stdio_client(&dir.path().join(".reel"), &["--quota", "1000"]).await;
    let id = user_project(&client, "q").await;
    ok(
        &client,
        "artifact_write_file",
        json!({"project_id": id, "path": "a.txt", "content": "a".repeat(600)}),
    )
    .await;
    let msg = fails(
        &client,
        "artifact_write_file",
        json!({"project_id": id, "path": "b.txt", "content": "b".repeat(600)}),
    )
    .await;
    assert!(
        msg.contains("quota of 1000 bytes") && msg.contains("600 in use"),
        "{msg}"
    );
    let (code, msg) = failure(
        &client,
        "artifact_store_asset",
        json!({"content_base64": base64::engine::general_purpose::STANDARD.encode(vec![1u8; 500]), "mime_type": "x/y", "name": "n"}),
    )
    .await;
    assert!(msg.contains("quota"), "{msg}");
    assert_eq!(code, "quota_exceeded");
    let files = ok(&client, "artifact_list_files", json!({"project_id": id})).await;
    assert_eq!(
        files["files"].as_array().unwrap().len(),
        1,
        "nothing of the refused write was stored"
    );
    assert!(
        ok(&client, "artifact_list_assets", json!({})).await["assets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Room is made by deleting.
    ok(
        &client,
        "artifact_delete_file",
        json!({"project_id": id, "path": "a.txt"}),
    )
    .await;
    ok(
        &client,
        "artifact_write_file",
        json!({"project_id": id, "path": "b.txt", "content": "b".repeat(600)}),
    )
    .await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_call_past_the_request_timeout_is_abandoned_with_an_error() {
    let dir = init_repo();
    let client = stdio_client(&dir.path().join(".reel"), &["--timeout", "1ms"]).await;
    // Decoding, chunking and storing 6 MiB takes well over a millisecond.
    let big =
        base64::engine::general_purpose::STANDARD.encode(crate::util::random_bytes(6 << 20, 1));
    let r = call(
        &client,
        "artifact_store_asset",
        json!({"content_base64": big, "mime_type": "video/mp4", "name": "x.mp4"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(
        format!("{:?}", r.content).contains("took longer than"),
        "{:?}",
        r.content
    );
    assert_eq!(r.structured_content.unwrap()["error"]["code"], "timeout");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn sigterm_stops_the_http_server_cleanly() {
    let dir = init_repo();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "ana tok\n").unwrap();
    let mut server = http_server(&dir.path().join(".reel"), &tokens);
    let client = http_client(&server.url, "tok").await;
    let id = ok(
        &client,
        "artifact_create_project",
        json!({"name": "p", "scope": "user"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &client,
        "artifact_write_file",
        json!({"project_id": id, "path": "a.txt", "content": "kept"}),
    )
    .await;
    drop(client);
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the server did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // What was written is intact.
    reel(dir.path())
        .args(["--user", "ana", "file", "read", &id, "a.txt"])
        .assert()
        .success()
        .stdout("kept");
    reel(dir.path())
        .args(["fsck", "--read-data"])
        .assert()
        .success();
}

#[tokio::test]
async fn concurrent_writes_cannot_overrun_the_quota_together() {
    let dir = init_repo();
    let client = stdio_client(&dir.path().join(".reel"), &["--quota", "1000"]).await;
    let id = user_project(&client, "q").await;
    // Twelve writes of 300 bytes at once: only three fit.
    let calls = (0..12).map(|i| {
        let args =
            json!({"project_id": id, "path": format!("f{i}.txt"), "content": "x".repeat(300)});
        call(&client, "artifact_write_file", args)
    });
    let results = futures::future::join_all(calls).await;
    let stored = results.iter().filter(|r| r.is_error == Some(false)).count();
    assert_eq!(stored, 3, "the quota admits exactly three 300-byte files");
    let files = ok(&client, "artifact_list_files", json!({"project_id": id})).await;
    assert_eq!(files["files"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn resources_list_names_what_the_caller_can_read() {
    let dir = init_repo();
    let repo = dir.path().join(".reel");
    let ana = stdio_client(&repo, &["--user", "ana"]).await;
    let id = user_project(&ana, "clip").await;
    for (path, content) in [
        ("src/Root.tsx", "export {};\n"),
        ("data.json", "{}"),
        ("notes/to do #1.md", "- cut\n"),
    ] {
        ok(
            &ana,
            "artifact_write_file",
            json!({"project_id": id, "path": path, "content": content}),
        )
        .await;
    }
    let asset = ok(
        &ana,
        "artifact_store_asset",
        json!({"content_base64": base64::engine::general_purpose::STANDARD.encode([1u8, 2, 3]),
               "mime_type": "image/png", "name": "dot.png", "scope": "user"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut listed: Vec<(String, Option<String>, Option<u64>)> = ana
        .list_all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.uri.clone(), r.mime_type.clone(), r.size))
        .collect();
    listed.sort();
    // The MCP Apps' pages are listed for everyone; the rest is the caller's.
    let apps: Vec<_> = listed
        .iter()
        .filter(|(uri, ..)| uri.starts_with("ui://"))
        .map(|(uri, mime, _)| (uri.as_str(), mime.as_deref()))
        .collect();
    let app = Some("text/html;profile=mcp-app");
    assert_eq!(
        apps,
        [
            ("ui://reelstore/checkpoint-diff.html", app),
            ("ui://reelstore/render-player.html", app)
        ]
    );
    listed.retain(|(uri, ..)| !uri.starts_with("ui://"));
    let mut want = vec![
        (
            format!("reel://assets/{asset}"),
            Some("image/png".to_owned()),
            Some(3),
        ),
        (
            format!("reel://projects/{id}/files/data.json"),
            Some("application/json".to_owned()),
            Some(2),
        ),
        (
            format!("reel://projects/{id}/files/notes/to%20do%20%231.md"),
            Some("text/markdown".to_owned()),
            Some(6),
        ),
        (
            format!("reel://projects/{id}/files/src/Root.tsx"),
            Some("text/typescript".to_owned()),
            Some(11),
        ),
    ];
    want.sort();
    assert_eq!(listed, want);
    // The server names itself, and its templates expand paths with `/` kept (RFC 6570
    // `{+path}`); a read takes the path as listed, or with `/` as `%2F` (what a client
    // sends that expands `{path}`), and says the type the list said.
    let info = ana.peer_info().unwrap();
    let server = info.server_info.as_ref().unwrap();
    assert_eq!(
        (server.name.as_str(), server.version.as_str()),
        ("reelstore", env!("CARGO_PKG_VERSION"))
    );
    let templates: Vec<String> = ana
        .list_all_resource_templates()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.uri_template.clone())
        .collect();
    assert!(
        templates.contains(&"reel://projects/{project_id}/files/{+path}".to_owned()),
        "{templates:?}"
    );
    for (uri, mime, text) in [
        (
            format!("reel://projects/{id}/files/src/Root.tsx"),
            "text/typescript",
            "export {};\n",
        ),
        (
            format!("reel://projects/{id}/files/src%2FRoot.tsx"),
            "text/typescript",
            "export {};\n",
        ),
        (
            format!("reel://projects/{id}/files/notes/to%20do%20%231.md"),
            "text/markdown",
            "- cut\n",
        ),
    ] {
        let read = ana
            .read_resource(ReadResourceRequestParams::new(uri.clone()))
            .await
            .unwrap();
        match &read.contents[0] {
            rmcp::model::ResourceContents::TextResourceContents {
                text: got,
                mime_type,
                ..
            } => {
                assert_eq!(got, text, "{uri}");
                assert_eq!(mime_type.as_deref(), Some(mime), "{uri}");
            }
            other => panic!("{uri}: {other:?}"),
        }
    }
    ana.cancel().await.unwrap();
    // Another user lists none of it: only the apps' pages.
    let bob = stdio_client(&repo, &["--user", "bob"]).await;
    let theirs = bob.list_all_resources().await.unwrap();
    assert!(
        theirs.iter().all(|r| r.uri.starts_with("ui://")),
        "{theirs:?}"
    );
    bob.cancel().await.unwrap();
}
