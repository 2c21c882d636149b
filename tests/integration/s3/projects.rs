//! Projects in the bucket: machines with their own indexes see each other's projects,
//! files and checkpoints, and a change racing another machine's is redone on top of
//! it, never lost.

use std::path::Path;

use serde_json::json;

use super::{CREDENTIALS, Moto, ok};
use crate::mcp::{Client, http_client, http_server_with, user_project};
use crate::util::{Failpoints, spawn_reel_with, tempdir, write};

/// A moto server with `bucket` and two machines attached to its prefix.
fn two_machines(bucket: &str) -> (Moto, tempfile::TempDir, tempfile::TempDir) {
    let moto = Moto::start();
    moto.bucket(bucket);
    let url = moto.url(bucket, "p");
    let (a, b) = (tempdir(), tempdir());
    ok(a.path(), &["init", "--backend", &url]);
    ok(b.path(), &["init", "--backend", &url]);
    (moto, a, b)
}

fn paths(dir: &Path, project: &str) -> Vec<String> {
    let ls: serde_json::Value =
        serde_json::from_str(&ok(dir, &["file", "ls", project, "-r", "--json"])).unwrap();
    ls.as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "file")
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect()
}

fn write_file(dir: &Path, project: &str, path: &str, text: &str) {
    write(dir, "in.txt", text);
    ok(dir, &["file", "write", project, path, "--from", "in.txt"]);
}

/// Machine A is paused after changing a project in its index, before it publishes;
/// machine B changes the project meanwhile. A's publish meets B's write, takes it, and
/// makes its change again on top: both files are there on both machines.
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn a_project_change_racing_another_machine_is_redone_not_lost() {
    let (_moto, a, b) = two_machines("projects-race");
    let created: serde_json::Value =
        serde_json::from_str(&ok(a.path(), &["project", "create", "Intro", "--json"])).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    write_file(b.path(), &id, "src/a.tsx", "export const A = 1;\n");

    write(a.path(), "b.txt", "export const B = 2;\n");
    let fp = Failpoints::new();
    fp.pause("project-before-push");
    let mut child = spawn_reel_with(
        a.path(),
        &fp,
        &["file", "write", &id, "src/b.tsx", "--from", "b.txt"],
        &CREDENTIALS,
    );
    fp.wait_reached("project-before-push", &mut child);
    write_file(b.path(), &id, "src/c.tsx", "export const C = 3;\n");
    fp.release("project-before-push");
    let status = child.wait().unwrap();
    assert!(status.success());

    let all = ["src/a.tsx", "src/b.tsx", "src/c.tsx"];
    assert_eq!(paths(a.path(), &id), all);
    assert_eq!(paths(b.path(), &id), all);
    ok(b.path(), &["project", "checkpoint", &id, "--name", "v1"]);
    let listed: serde_json::Value =
        serde_json::from_str(&ok(a.path(), &["project", "checkpoints", &id, "--json"])).unwrap();
    assert_eq!(listed[0]["name"], "v1", "{listed}");
    assert_eq!(listed[0]["files"], 3, "{listed}");
}

/// A project deleted on one machine is gone on the other, and a write there fails
/// cleanly instead of bringing it back.
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn a_project_deleted_on_one_machine_is_gone_on_the_other() {
    let (_moto, a, b) = two_machines("projects-delete");
    let created: serde_json::Value =
        serde_json::from_str(&ok(a.path(), &["project", "create", "Intro", "--json"])).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    write_file(b.path(), &id, "src/a.tsx", "export const A = 1;\n");
    ok(a.path(), &["project", "delete", &id]);
    let listed: serde_json::Value =
        serde_json::from_str(&ok(b.path(), &["project", "list", "--json"])).unwrap();
    assert_eq!(listed["total"], 0, "{listed}");
    write(b.path(), "in.txt", "again");
    let out = super::s3_reel(
        b.path(),
        &["file", "write", &id, "x.txt", "--from", "in.txt"],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value =
        serde_json::from_str(&ok(a.path(), &["project", "list", "--json"])).unwrap();
    assert_eq!(listed["total"], 0, "{listed}");
}

async fn call(client: &Client, tool: &'static str, args: serde_json::Value) -> serde_json::Value {
    crate::mcp::ok(client, tool, args).await
}

async fn read(client: &Client, id: &str, path: &str) -> String {
    call(
        client,
        "artifact_read_file",
        json!({"project_id": id, "path": path}),
    )
    .await["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Two `reel serve --http` processes, each with its own directory and index, on one
/// bucket serve one user as one: a project created on the first is written and
/// checkpointed on the second, restored on the first, and the second sees the restore;
/// an asset stored through the first is read and deleted through the second.
#[tokio::test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
async fn two_mcp_servers_on_one_bucket_serve_one_user() {
    let (_moto, a, b) = two_machines("projects-mcp");
    let tokens = a.path().join("tokens");
    std::fs::write(&tokens, "ana tok\n").unwrap();
    let server_a = http_server_with(&a.path().join(".reel"), &tokens, &CREDENTIALS);
    let server_b = http_server_with(&b.path().join(".reel"), &tokens, &CREDENTIALS);
    let one = http_client(&server_a.url, "tok").await;
    let two = http_client(&server_b.url, "tok").await;

    let id = user_project(&one, "Intro").await;
    let write = |text: &str| json!({"project_id": id, "path": "src/Root.tsx", "content": text});
    call(&two, "artifact_write_file", write("export const v = 1;\n")).await;
    call(
        &two,
        "artifact_create_checkpoint",
        json!({"project_id": id, "name": "v1"}),
    )
    .await;
    call(&two, "artifact_write_file", write("export const v = 2;\n")).await;
    call(
        &two,
        "artifact_create_checkpoint",
        json!({"project_id": id, "name": "v2"}),
    )
    .await;

    let listed = call(&one, "artifact_list_projects", json!({})).await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(
        read(&one, &id, "src/Root.tsx").await,
        "export const v = 2;\n"
    );
    let restored = call(
        &one,
        "artifact_restore_checkpoint",
        json!({"project_id": id, "checkpoint": "v1"}),
    )
    .await;
    assert_eq!(restored["checkpoint"].as_str().map(str::len), Some(64));
    assert_eq!(
        read(&one, &id, "src/Root.tsx").await,
        "export const v = 1;\n"
    );
    assert_eq!(
        read(&two, &id, "src/Root.tsx").await,
        "export const v = 1;\n"
    );
    let checkpoints = call(&two, "artifact_list_checkpoints", json!({"project_id": id})).await;
    let names: Vec<&str> = checkpoints["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["v1", "v2"], "{checkpoints}");

    // An asset stored through one is read, listed and deleted through the other.
    let asset = json!({"content_base64": "iVBORw0KGgo=", "mime_type": "image/png", "name": "logo.png", "scope": "user"});
    let stored = call(&one, "artifact_store_asset", asset).await;
    let asset_id = stored["id"].as_str().unwrap().to_owned();
    let got = call(&two, "artifact_get_asset", json!({"id": asset_id})).await;
    assert_eq!(got["content"], stored["content"], "{got}");
    let listed = call(&two, "artifact_list_assets", json!({})).await;
    assert_eq!(listed["assets"][0]["id"], asset_id.as_str(), "{listed}");
    call(&two, "artifact_delete_asset", json!({"id": asset_id})).await;
    let (code, _) = crate::mcp::failure(&one, "artifact_get_asset", json!({"id": asset_id})).await;
    assert_eq!(code, "not_found");
    one.cancel().await.unwrap();
    two.cancel().await.unwrap();
}

/// Two machines, two processes on each, one project: each process writes its own files
/// and checkpoints after each write, all at once. Every file and every checkpoint is
/// there on both machines, and fsck is clean.
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn racing_writes_and_checkpoints_on_one_project_lose_none() {
    const PER_PROCESS: usize = 25;
    let (_moto, a, b) = two_machines("projects-many");
    let created: serde_json::Value =
        serde_json::from_str(&ok(a.path(), &["project", "create", "Intro", "--json"])).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    std::thread::scope(|scope| {
        for (machine, dir) in [("a", a.path()), ("b", b.path())] {
            for process in 0..2 {
                let id = &id;
                scope.spawn(move || {
                    let input = format!("in-{process}.txt");
                    for i in 0..PER_PROCESS {
                        let name = format!("{machine}{process}-{i}");
                        write(dir, &input, &name);
                        let path = format!("{machine}{process}/{i}.txt");
                        ok(dir, &["file", "write", id, &path, "--from", &input]);
                        ok(dir, &["project", "checkpoint", id, "--name", &name]);
                    }
                });
            }
        }
    });
    for dir in [a.path(), b.path()] {
        assert_eq!(paths(dir, &id).len(), 4 * PER_PROCESS);
        let listed: serde_json::Value =
            serde_json::from_str(&ok(dir, &["project", "checkpoints", &id, "--json"])).unwrap();
        let names: std::collections::BTreeSet<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 4 * PER_PROCESS, "{names:?}");
        ok(dir, &["fsck", "--read-data"]);
    }
}

/// With its index deleted and rebuilt, a machine finds its projects again in the
/// bucket: files, checkpoints and names, and a restore works.
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn projects_come_back_from_the_bucket_after_an_index_rebuild() {
    let (_moto, a, _b) = two_machines("projects-rebuild");
    let created: serde_json::Value =
        serde_json::from_str(&ok(a.path(), &["project", "create", "Intro", "--json"])).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    write_file(a.path(), &id, "src/Root.tsx", "one");
    ok(a.path(), &["project", "checkpoint", &id, "--name", "v1"]);
    write_file(a.path(), &id, "src/Root.tsx", "two");

    std::fs::remove_file(a.path().join(".reel/index.redb")).unwrap();
    ok(a.path(), &["index", "rebuild"]);
    let listed: serde_json::Value =
        serde_json::from_str(&ok(a.path(), &["project", "list", "--json"])).unwrap();
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(ok(a.path(), &["file", "read", &id, "src/Root.tsx"]), "two");
    ok(a.path(), &["project", "restore", &id, "v1"]);
    assert_eq!(ok(a.path(), &["file", "read", &id, "src/Root.tsx"]), "one");
}
