//! The MCP Apps (`io.modelcontextprotocol/ui`) in a real headless Chromium. No MCP
//! Apps host runs on this machine, so the test plays the host's part as the extension
//! describes it: a page that loads the app's HTML (read from `reel serve` with
//! `resources/read`) into a sandboxed iframe, answers `ui/initialize`, sends the tool's
//! input and result, and relays the app's `resources/read` and `tools/call` requests to
//! the real server through this test's MCP client. Opt-in (`#[ignore]`) like the other
//! browser test; screenshots go to `target/ui-screenshots/`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::Client;
use rmcp::model::{CallToolRequestParams, ReadResourceRequestParams};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::mcp::checked_call;
use crate::render_faces::{fake_env, setup};
use crate::ui_browser::{browser, shot};
use crate::util::{reel_path, tempdir};

type Mcp = RunningService<RoleClient, ()>;

/// The host page: one sandboxed iframe for the app, and the host's side of the
/// protocol. Requests the app sends to the server wait in `window.outbox` for the
/// test to relay; `window.answer` sends the server's reply back.
const HOST: &str = r#"<!doctype html>
<html><body>
<iframe id="app" sandbox="allow-scripts" style="width:960px;height:820px;border:1px solid #ccc"></iframe>
<script>
window.outbox = []; window.seen = [];
let input = null, result = null;
const frame = document.getElementById("app");
const send = (m) => frame.contentWindow.postMessage(Object.assign({ jsonrpc: "2.0" }, m), "*");
window.addEventListener("message", (ev) => {
  if (ev.source !== frame.contentWindow) return;
  const m = ev.data;
  window.seen.push(m.method || "response");
  if (m.method === "ui/initialize") {
    send({ id: m.id, result: { protocolVersion: m.params.protocolVersion,
      hostInfo: { name: "reelstore test host", version: "1" },
      hostCapabilities: { serverTools: {}, serverResources: {} },
      hostContext: { theme: "light", displayMode: "inline" } } });
  } else if (m.method === "ui/notifications/initialized") {
    send({ method: "ui/notifications/tool-input", params: { arguments: input } });
    send({ method: "ui/notifications/tool-result", params: result });
  } else if (m.method === "tools/call" || m.method === "resources/read") {
    window.outbox.push(m);
  }
});
window.answer = (id, reply) => send(Object.assign({ id }, reply));
window.openApp = (html, args, res) => { input = args; result = res; frame.srcdoc = html; };
</script></body></html>"#;

async fn serve(dir: &std::path::Path) -> Mcp {
    let repo = dir.join(".reel");
    let installs = dir.join("installs");
    let cmd = tokio::process::Command::new(reel_path()).configure(|c| {
        c.arg("serve")
            .arg("--repo")
            .arg(&repo)
            .env("USER", "tester")
            .envs(fake_env(&installs))
            .stderr(Stdio::null());
    });
    ().serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .unwrap()
}

/// Relays what the app asked the host for to the server; returns the requests.
async fn relay(c: &Client, mcp: &Mcp) -> Vec<Value> {
    let asked = c
        .execute("return window.outbox.splice(0);", vec![])
        .await
        .unwrap();
    let asked = asked.as_array().cloned().unwrap_or_default();
    for m in &asked {
        let params = m["params"].clone();
        let reply = if m["method"] == "resources/read" {
            let uri = params["uri"].as_str().unwrap().to_owned();
            match mcp.read_resource(ReadResourceRequestParams::new(uri)).await {
                Ok(r) => json!({ "result": r }),
                Err(e) => json!({ "error": { "code": -32002, "message": e.to_string() } }),
            }
        } else {
            let name = params["name"].as_str().unwrap().to_owned();
            let args = params["arguments"].as_object().cloned().unwrap_or_default();
            let r = mcp
                .call_tool(CallToolRequestParams::new(name).with_arguments(args))
                .await
                .unwrap();
            json!({ "result": r })
        };
        c.execute(
            "window.answer(arguments[0], arguments[1]); return true;",
            vec![m["id"].clone(), reply],
        )
        .await
        .unwrap();
    }
    asked
}

/// Relays until `script`, run inside the app's frame, returns true; every request
/// relayed meanwhile.
async fn pump_until(c: &Client, mcp: &Mcp, script: &str, what: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut relayed = Vec::new();
    loop {
        relayed.extend(relay(c, mcp).await);
        c.enter_frame(0).await.unwrap();
        let done = c.execute(script, vec![]).await.unwrap();
        c.enter_parent_frame().await.unwrap();
        if done == Value::Bool(true) {
            return relayed;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens app `uri` (read from the server) with a tool call's input and result.
async fn open(c: &Client, mcp: &Mcp, uri: &str, args: &Value, result: &Value) {
    let page = mcp
        .read_resource(ReadResourceRequestParams::new(uri.to_owned()))
        .await
        .unwrap();
    let page = serde_json::to_value(&page.contents[0]).unwrap();
    assert_eq!(page["mimeType"], "text/html;profile=mcp-app");
    c.execute(
        "window.openApp(arguments[0], arguments[1], arguments[2]); return true;",
        vec![page["text"].clone(), args.clone(), result.clone()],
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs chromium and chromium-driver (scripts/test installs them)"]
async fn the_mcp_apps_play_a_render_and_show_a_diff_in_a_browser() {
    let dir = tempdir();
    let id = setup(dir.path());
    let mcp = serve(dir.path()).await;
    for (content, name) in [("null", "v1"), ("<div>hello world</div>", "v2")] {
        let text = format!("export const Root = () => {{\n  return {content};\n}};\n");
        let write = json!({"project_id": id, "path": "src/Root.tsx", "content": text});
        checked_call(&mcp, "artifact_write_file", write).await;
        checked_call(
            &mcp,
            "artifact_create_checkpoint",
            json!({"project_id": id, "name": name}),
        )
        .await;
    }
    std::fs::write(dir.path().join("host.html"), HOST).unwrap();
    let (_driver, c) = browser().await;
    c.goto(&format!(
        "file://{}",
        dir.path().join("host.html").display()
    ))
    .await
    .unwrap();

    // The diff: the model asked for paths only, so the app asks again with lines.
    let args = json!({"project_id": id, "from": "v1", "to": "v2"});
    let result = checked_call(&mcp, "artifact_diff", args.clone()).await;
    assert!(
        result
            .structured_content
            .as_ref()
            .unwrap()
            .get("patches")
            .is_none()
    );
    let result = serde_json::to_value(&result).unwrap();
    open(
        &c,
        &mcp,
        "ui://reelstore/checkpoint-diff.html",
        &args,
        &result,
    )
    .await;
    let relayed = pump_until(
        &c,
        &mcp,
        "return [...document.querySelectorAll('tr.add td')].some(td => td.textContent.includes('hello world'))
            && [...document.querySelectorAll('tr.del td')].some(td => td.textContent.includes('return null;'));",
        "the diff's lines",
    )
    .await;
    assert!(
        relayed.iter().any(|m| m["method"] == "tools/call"
            && m["params"]["name"] == "artifact_diff"
            && m["params"]["arguments"]["lines"] == true),
        "{relayed:?}"
    );
    c.enter_frame(0).await.unwrap();
    let numbers = c
        .execute(
            "return [...document.querySelector('tr.add').cells].map(td => td.textContent);",
            vec![],
        )
        .await
        .unwrap();
    c.enter_parent_frame().await.unwrap();
    assert_eq!(
        numbers,
        json!(["", "2", "+   return <div>hello world</div>;"])
    );
    shot(&c, "mcp-app-diff").await;

    // The render: the player shows the poster, loads the video through the host and
    // plays it.
    let args = json!({"project_id": id, "composition": "Main", "props": {"seconds": "3"}});
    let result = checked_call(&mcp, "artifact_render_video", args.clone()).await;
    assert_eq!(result.is_error, Some(false), "{:?}", result.content);
    let render = result.structured_content.as_ref().unwrap()["render"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let result = serde_json::to_value(&result).unwrap();
    open(
        &c,
        &mcp,
        "ui://reelstore/render-player.html",
        &args,
        &result,
    )
    .await;
    let relayed = pump_until(
        &c,
        &mcp,
        "const v = document.getElementById('player'); return v.readyState >= 1 && v.poster.startsWith('data:image/jpeg;base64,');",
        "the video's metadata and poster",
    )
    .await;
    let read: Vec<&str> = relayed
        .iter()
        .filter(|m| m["method"] == "resources/read")
        .filter_map(|m| m["params"]["uri"].as_str())
        .collect();
    assert_eq!(
        read,
        [
            format!("reel://renders/{render}/poster"),
            format!("reel://renders/{render}")
        ]
    );
    c.enter_frame(0).await.unwrap();
    c.execute(
        "const v = document.getElementById('player'); v.muted = true; v.play(); return true;",
        vec![],
    )
    .await
    .unwrap();
    c.enter_parent_frame().await.unwrap();
    pump_until(
        &c,
        &mcp,
        "const v = document.getElementById('player'); return v.readyState >= 3 && v.currentTime > 0.3 && !v.paused;",
        "the video to play",
    )
    .await;
    c.enter_frame(0).await.unwrap();
    let meta = c
        .execute(
            "return document.getElementById('meta').textContent;",
            vec![],
        )
        .await
        .unwrap();
    c.enter_parent_frame().await.unwrap();
    let meta = meta.as_str().unwrap();
    assert!(
        meta.contains("h264") && meta.contains("640×360") && meta.contains(&render),
        "{meta}"
    );
    shot(&c, "mcp-app-player").await;
    let seen = c.execute("return window.seen;", vec![]).await.unwrap();
    assert!(
        seen.as_array()
            .unwrap()
            .iter()
            .any(|m| m == "ui/notifications/size-changed"),
        "{seen}"
    );
    c.close().await.unwrap();
}
