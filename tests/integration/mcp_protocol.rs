//! The MCP contract a client can rely on, through the real `reel serve`: strict inputs,
//! session handles in `_meta` (never the transport's connection), a default scope that
//! outlives one-process-per-call clients.

use rmcp::model::{CallToolRequestParams, CallToolResult, RequestMetaObject};
use serde_json::{Value, json};

use crate::mcp::{
    Client, assert_output_valid, failure, http_client, http_server, init_repo, ok, stdio_client,
};

/// Calls `tool` with `args` and, when given, the session handle in the request's `_meta`.
async fn call_in(
    client: &Client,
    session: Option<&str>,
    tool: &'static str,
    args: Value,
) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    let mut params = CallToolRequestParams::new(tool).with_arguments(args);
    if let Some(s) = session {
        let Value::Object(meta) = json!({"reelstore/session": s}) else {
            unreachable!()
        };
        params.meta = Some(RequestMetaObject::from(meta));
    }
    let r = client.call_tool(params).await.unwrap();
    assert_output_valid(client, tool, &r).await;
    r
}

#[tokio::test]
async fn unknown_arguments_are_refused_by_name() {
    let dir = init_repo();
    let client = stdio_client(&dir.path().join(".reel"), &[]).await;
    let p = ok(
        &client,
        "artifact_create_project",
        json!({"name": "Strict"}),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    // A misspelt optional argument would otherwise be ignored: the file would be
    // written as text instead of executable, the list would not recurse, ….
    for (tool, args, bad) in [
        (
            "artifact_list_files",
            json!({"project_id": id, "recursve": true}),
            "`recursve`",
        ),
        (
            "artifact_create_project",
            json!({"name": "x", "scop": "user"}),
            "`scop`",
        ),
        (
            "artifact_render_video",
            json!({"project_id": id, "codecs": "h264"}),
            "`codecs`",
        ),
    ] {
        let r = client
            .call_tool(
                CallToolRequestParams::new(tool).with_arguments(args.as_object().unwrap().clone()),
            )
            .await
            .unwrap();
        assert_eq!(r.is_error, Some(true), "{tool} accepted {args}");
        let error = &r.structured_content.unwrap()["error"];
        assert_eq!(error["code"], "invalid_argument", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(bad) && message.contains("unknown argument"),
            "{message}"
        );
        assert!(
            message.contains("it takes"),
            "names what the tool takes: {message}"
        );
    }
    // A flattened argument group (render settings) still counts as known.
    let r = client
        .call_tool(
            CallToolRequestParams::new("artifact_render_video").with_arguments(
                json!({"project_id": id, "codec": "h264", "wait": false})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    let text = format!("{:?}", r.content);
    assert!(!text.contains("unknown argument"), "{text}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn session_projects_belong_to_the_handle_in_meta_not_the_connection() {
    let dir = init_repo();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "ana tok\n").unwrap();
    let server = http_server(&dir.path().join(".reel"), &tokens);
    let first = http_client(&server.url, "tok").await;
    let created = call_in(
        &first,
        Some("draft-1"),
        "artifact_create_project",
        json!({"name": "Scratch", "scope": "session"}),
    )
    .await;
    assert_eq!(created.is_error, Some(false), "{:?}", created.content);
    let id = created.structured_content.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    first.cancel().await.unwrap();

    // Another connection (a new client, as a load balancer or a restarted agent would
    // open) with the same handle reaches it; another handle and no handle do not.
    let second = http_client(&server.url, "tok").await;
    let got = call_in(
        &second,
        Some("draft-1"),
        "artifact_get_project",
        json!({"project_id": id}),
    )
    .await;
    assert_eq!(got.is_error, Some(false), "{:?}", got.content);
    for session in [Some("draft-2"), None] {
        let r = call_in(
            &second,
            session,
            "artifact_get_project",
            json!({"project_id": id}),
        )
        .await;
        assert_eq!(
            r.is_error,
            Some(true),
            "{session:?} reached another session's project"
        );
        assert_eq!(r.structured_content.unwrap()["error"]["code"], "not_found");
    }
    // Session scope without a handle is refused with a clear error, not guessed.
    let (code, message) = failure(
        &second,
        "artifact_create_project",
        json!({"name": "x", "scope": "session"}),
    )
    .await;
    assert_eq!(code, "invalid_argument", "{message}");
    assert!(message.contains("session"), "{message}");
    // A handle that is not a string is an error naming the key.
    let r = client_with_bad_meta(&second).await;
    assert!(r.contains("reelstore/session"), "{r}");
    second.cancel().await.unwrap();
}

async fn client_with_bad_meta(client: &Client) -> String {
    let mut params =
        CallToolRequestParams::new("artifact_list_projects").with_arguments(serde_json::Map::new());
    let Value::Object(meta) = json!({"reelstore/session": 7}) else {
        unreachable!()
    };
    params.meta = Some(RequestMetaObject::from(meta));
    let r = client.call_tool(params).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    format!("{:?}", r.content)
}

/// A client that starts one server process per call (the MCP Inspector CLI does) finds
/// the project it created one call earlier: the default scope is the user's.
#[tokio::test]
async fn one_process_per_call_keeps_its_project() {
    let dir = init_repo();
    let repo = dir.path().join(".reel");
    let client = stdio_client(&repo, &[]).await;
    let p = ok(
        &client,
        "artifact_create_project",
        json!({"name": "Per call"}),
    )
    .await;
    assert_eq!(p["scope"], "user");
    let id = p["id"].as_str().unwrap().to_owned();
    client.cancel().await.unwrap();
    let client = stdio_client(&repo, &[]).await;
    ok(
        &client,
        "artifact_write_file",
        json!({"project_id": id, "path": "src/Root.tsx", "content": "export {};\n"}),
    )
    .await;
    client.cancel().await.unwrap();
    let client = stdio_client(&repo, &[]).await;
    let files = ok(&client, "artifact_list_files", json!({"project_id": id})).await;
    assert_eq!(files["files"][0]["path"], "src", "{files}");
    client.cancel().await.unwrap();
}

/// Two `reel serve --http` processes on one repository, called in turn as a round-robin
/// balancer without sticky sessions would: every call sees what the one before it did
/// on the other server, session handle included.
#[tokio::test]
async fn two_http_servers_on_one_repository_serve_one_user_in_turn() {
    let dir = init_repo();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "ana tok\n").unwrap();
    let repo = dir.path().join(".reel");
    let servers = [http_server(&repo, &tokens), http_server(&repo, &tokens)];
    let clients = [
        http_client(&servers[0].url, "tok").await,
        http_client(&servers[1].url, "tok").await,
    ];
    let session = Some("rr");
    let r = call_in(
        &clients[0],
        session,
        "artifact_create_project",
        json!({"name": "RR", "scope": "session"}),
    )
    .await;
    let id = r.structured_content.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..6 {
        let c = &clients[(i + 1) % 2];
        let r = call_in(
            c,
            session,
            "artifact_write_file",
            json!({"project_id": id, "path": format!("src/s{i}.tsx"), "content": format!("export const S{i} = {i};\n")}),
        )
        .await;
        assert_eq!(r.is_error, Some(false), "write {i}: {:?}", r.content);
        let c = &clients[i % 2];
        let r = call_in(
            c,
            session,
            "artifact_create_checkpoint",
            json!({"project_id": id, "name": format!("c{i}")}),
        )
        .await;
        assert_eq!(r.is_error, Some(false), "checkpoint {i}: {:?}", r.content);
        assert_eq!(
            r.structured_content.unwrap()["files"],
            i + 1,
            "checkpoint {i} saw every write"
        );
    }
    let log = call_in(
        &clients[1],
        session,
        "artifact_log",
        json!({"project_id": id}),
    )
    .await;
    let names: Vec<String> = log.structured_content.unwrap()["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["c5", "c4", "c3", "c2", "c1", "c0"]);
    for c in clients {
        c.cancel().await.unwrap();
    }
}

/// A request body past the HTTP limit (derived from `--max-inline`) is answered with a
/// JSON-RPC error naming the limit, read to its end first: not a plain-text 413, not a
/// reset connection.
#[test]
fn a_body_past_the_limit_gets_a_json_rpc_error_not_a_reset() {
    use std::io::{BufRead, Read, Write};
    let dir = init_repo();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "ana tok\n").unwrap();
    let mut child = std::process::Command::new(crate::util::reel_path())
        .args(["serve", "--http", "0", "--max-inline", "1000", "--tokens"])
        .arg(&tokens)
        .arg("--repo")
        .arg(dir.path().join(".reel"))
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.to_owned();
        }
    };
    let addr = url.trim_start_matches("http://").trim_end_matches("/mcp");
    // 4 MiB is the floor of the limit; one byte more.
    let body = vec![b' '; (4 << 20) + 1];
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer tok\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body)
        .expect("the whole body is read, not cut off");
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    let json: serde_json::Value =
        serde_json::from_str(reply.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap();
    assert_eq!(json["jsonrpc"], "2.0", "{json}");
    assert_eq!(json["error"]["data"]["code"], "too_large", "{json}");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max-inline"),
        "{json}"
    );
}

/// The example calls of `docs/mcp.md` ("### Example"), run as written there: each
/// input and each answer shown is checked to be in the document, then against the
/// real server, so the document cannot drift from what the server does.
#[tokio::test]
async fn the_documented_example_gives_the_documented_answers() {
    const DOC: &str = include_str!("../../docs/mcp.md");
    let shown = |snippet: &str| {
        assert!(
            DOC.contains(snippet),
            "docs/mcp.md no longer shows {snippet}"
        );
    };
    let dir = init_repo();
    let client = stdio_client(&dir.path().join(".reel"), &[]).await;

    shown(
        r#""arguments": {"name": "Intro", "fps": 30, "width": 1280, "height": 720, "theme": "dark"}"#,
    );
    let p = ok(
        &client,
        "artifact_create_project",
        json!({"name": "Intro", "fps": 30, "width": 1280, "height": 720, "theme": "dark"}),
    )
    .await;
    shown(
        r#""scope": "user", "metadata": {"fps": 30, "width": 1280, "height": 720, "theme": "dark"}"#,
    );
    shown(r#""expires_ms": null, "head": null"#);
    assert_eq!(p["scope"], "user");
    assert_eq!(
        p["metadata"],
        json!({"fps": 30, "width": 1280, "height": 720, "theme": "dark"})
    );
    assert_eq!(p["expires_ms"], Value::Null);
    assert_eq!(p["head"], Value::Null);
    let id = p["id"].as_str().unwrap();

    shown(r#""path": "src/Root.tsx", "content": "export const Root = () => null;\n"}}"#);
    let f = ok(
        &client,
        "artifact_write_file",
        json!({"project_id": id, "path": "src/Root.tsx", "content": "export const Root = () => null;\n"}),
    )
    .await;
    shown(r#"{"path": "src/Root.tsx", "kind": "file", "size": 32, "id": "…"}"#);
    assert_eq!(
        (f["path"].as_str(), f["kind"].as_str(), f["size"].as_u64()),
        (Some("src/Root.tsx"), Some("file"), Some(32))
    );

    shown(r#""arguments": {"project_id": "575d…6223", "name": "v1"}}"#);
    let c = ok(
        &client,
        "artifact_create_checkpoint",
        json!({"project_id": id, "name": "v1"}),
    )
    .await;
    shown(r#""name": "v1", "files": 1, "size": 32"#);
    assert_eq!(
        (c["name"].as_str(), c["files"].as_u64(), c["size"].as_u64()),
        (Some("v1"), Some(1), Some(32))
    );

    shown(r#""path": "../x", "content": ""}}"#);
    let (code, message) = failure(
        &client,
        "artifact_write_file",
        json!({"project_id": id, "path": "../x", "content": ""}),
    )
    .await;
    shown(r#""text": "invalid path \"../x\": `..` is not a valid entry name""#);
    assert_eq!(
        message,
        "invalid path \"../x\": `..` is not a valid entry name"
    );
    assert_eq!(code, "invalid_argument");
    client.cancel().await.unwrap();
}
