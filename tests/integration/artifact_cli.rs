//! The artifact commands through the real binary: a project's life, two processes
//! writing one project, a 2 GiB file streamed in with flat memory.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use predicates::prelude::*;
use predicates::str::contains;

use crate::util::{reel, reel_json, reel_path, tempdir, write};

fn init() -> tempfile::TempDir {
    let dir = tempdir();
    reel(dir.path()).arg("init").assert().success();
    dir
}

fn create(dir: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["project", "create"];
    all.extend_from_slice(args);
    reel_json(dir, &all)["id"].as_str().unwrap().to_owned()
}

#[test]
#[allow(clippy::too_many_lines)] // one workflow, start to end
fn a_project_from_create_to_delete() {
    let dir = init();
    let id = create(
        dir.path(),
        &["Intro", "--meta", "fps=30", "--meta", "theme=dark"],
    );
    let shown = reel_json(dir.path(), &["project", "show", &id]);
    assert_eq!(shown["scope"], "user");
    assert_eq!(shown["owner_user"], "tester");
    assert_eq!(shown["metadata"]["fps"], 30);
    reel(dir.path())
        .args(["file", "write", &id, "src/Root.tsx"])
        .write_stdin("export const A = 1;\n")
        .assert()
        .success();
    write(dir.path(), "clip.bin", vec![9u8; 400_000]);
    reel(dir.path())
        .args([
            "file",
            "write",
            &id,
            "public/clip.bin",
            "--from",
            "clip.bin",
        ])
        .assert()
        .success();
    let ls = reel_json(dir.path(), &["file", "ls", &id, "-r"]);
    let paths: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["public", "public/clip.bin", "src", "src/Root.tsx"]);
    let v1 = reel_json(
        dir.path(),
        &["project", "checkpoint", &id, "--name", "v1", "-m", "first"],
    );
    assert_eq!(v1["files"], 2);
    reel(dir.path())
        .args(["file", "write", &id, "src/Root.tsx"])
        .write_stdin("export const A = 2;\n")
        .assert()
        .success();
    reel(dir.path())
        .args(["file", "mv", &id, "public/clip.bin", "public/intro.bin"])
        .assert()
        .success();
    reel(dir.path())
        .args(["project", "diff", &id, "v1"])
        .assert()
        .success()
        .stdout(
            contains("M  src/Root.tsx").and(contains("R  public/clip.bin -> public/intro.bin")),
        );
    reel(dir.path())
        .args(["project", "checkpoint", &id, "--name", "v2"])
        .assert()
        .success();
    reel(dir.path())
        .args(["project", "checkpoint", &id, "--name", "v2"])
        .assert()
        .code(1)
        .stderr(contains("already exists"));
    assert_eq!(
        reel_json(dir.path(), &["project", "checkpoints", &id])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    reel(dir.path())
        .args(["project", "restore", &id, "v1"])
        .assert()
        .success();
    reel(dir.path())
        .args(["file", "read", &id, "src/Root.tsx"])
        .assert()
        .success()
        .stdout("export const A = 1;\n");
    reel(dir.path())
        .args(["file", "read", &id, "public/clip.bin", "--range", "10:5"])
        .assert()
        .success()
        .stdout(vec![9u8; 5]);
    let out = dir.path().join("exported");
    reel(dir.path())
        .args(["project", "export", &id, "v2", out.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(out.join("src/Root.tsx")).unwrap(),
        b"export const A = 2;\n"
    );
    reel(dir.path())
        .args(["project", "delete-checkpoint", &id, "v2"])
        .assert()
        .success();
    let log = reel_json(dir.path(), &["project", "log", &id]);
    assert_eq!(log.as_array().unwrap().len(), 1);

    // Assets.
    let asset = reel_json(
        dir.path(),
        &[
            "asset",
            "add",
            "clip.bin",
            "--tag",
            "brand",
            "--mime",
            "video/mp4",
        ],
    );
    let aid = asset["id"].as_str().unwrap();
    assert_eq!(
        reel_json(dir.path(), &["asset", "ls", "--tag", "brand"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // `ls` and `list` name the same listing everywhere.
    assert_eq!(
        reel_json(dir.path(), &["asset", "list", "--tag", "brand"]),
        reel_json(dir.path(), &["asset", "ls", "--tag", "brand"])
    );
    assert_eq!(
        reel_json(dir.path(), &["project", "ls"]),
        reel_json(dir.path(), &["project", "list"])
    );
    reel(dir.path())
        .args(["asset", "get", aid])
        .assert()
        .success()
        .stdout(vec![9u8; 400_000]);

    // Another user sees none of it, exactly as if it did not exist.
    reel(dir.path())
        .args(["--user", "mallory", "project", "show", &id])
        .assert()
        .code(1)
        .stderr(contains(format!("project {id} not found")));
    reel(dir.path())
        .args(["--user", "mallory", "file", "read", &id, "src/Root.tsx"])
        .assert()
        .code(1)
        .stderr(contains("not found"));
    reel(dir.path())
        .args(["--user", "mallory", "asset", "get", aid])
        .assert()
        .code(1)
        .stderr(contains("not found"));
    assert!(
        reel_json(dir.path(), &["--user", "mallory", "project", "list"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    reel(dir.path())
        .args(["--user", "../x", "project", "list"])
        .assert()
        .code(1)
        .stderr(contains("invalid user id"));
    reel(dir.path())
        .args(["file", "read", &id, "../etc/passwd"])
        .assert()
        .code(1)
        .stderr(contains("invalid path"));

    reel(dir.path())
        .args(["project", "delete", &id])
        .assert()
        .success();
    reel(dir.path())
        .args(["project", "show", &id])
        .assert()
        .code(1);
    reel(dir.path())
        .args(["fsck", "--read-data"])
        .assert()
        .success();
}

#[test]
fn two_processes_writing_one_project_lose_nothing() {
    let dir = init();
    let id = create(dir.path(), &["shared", "--scope", "sandbox"]);
    let writer = |prefix: &'static str| {
        let (dir, id) = (dir.path().to_path_buf(), id.clone());
        std::thread::spawn(move || {
            for i in 0..15 {
                let status = std::process::Command::new(reel_path())
                    .args(["file", "write", &id, &format!("{prefix}/{i}.txt")])
                    .current_dir(&dir)
                    .env("USER", "tester")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .and_then(|mut c| {
                        c.stdin
                            .take()
                            .unwrap()
                            .write_all(format!("{prefix} {i}").as_bytes())?;
                        c.wait()
                    })
                    .unwrap();
                assert!(status.success());
            }
        })
    };
    let (a, b) = (writer("a"), writer("b"));
    // A checkpoint races the writers; it must hold whole files only.
    std::thread::sleep(Duration::from_millis(100));
    reel(dir.path())
        .args(["project", "checkpoint", &id, "--name", "mid"])
        .assert()
        .success();
    a.join().unwrap();
    b.join().unwrap();
    let files = reel_json(dir.path(), &["file", "ls", &id, "-r"]);
    let names: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .filter(|p| p.starts_with("a/") || p.starts_with("b/"))
        .collect();
    assert_eq!(names.len(), 30, "{names:?}");
    for prefix in ["a", "b"] {
        for i in 0..15 {
            reel(dir.path())
                .args(["file", "read", &id, &format!("{prefix}/{i}.txt")])
                .assert()
                .success()
                .stdout(format!("{prefix} {i}"));
        }
    }
    let out = dir.path().join("mid");
    reel(dir.path())
        .args(["project", "export", &id, "mid", out.to_str().unwrap()])
        .assert()
        .success();
    for entry in crate::util::files_under(&out) {
        let text = std::fs::read_to_string(&entry).unwrap();
        let name = entry
            .strip_prefix(&out)
            .unwrap()
            .to_string_lossy()
            .replace(".txt", "")
            .replace('/', " ");
        assert_eq!(text, name, "a torn or misplaced file in the checkpoint");
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn a_2_gib_file_streamed_in_keeps_memory_flat() {
    let dir = init();
    let id = create(dir.path(), &["big"]);
    let mut child = std::process::Command::new(reel_path())
        .args(["file", "write", &id, "footage/raw.mov"])
        .current_dir(dir.path())
        .env("USER", "tester")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let pid = child.id();
    let feeder = std::thread::spawn(move || {
        // One block in eight incompressible (each salted: no chunk repeats), the rest
        // zeros: every byte streams through, and the repository needs ~300 MiB of disk
        // rather than 2 GiB (CI machines can have only a few GiB free).
        let zeros = vec![0u8; 8 << 20];
        let mut block = vec![0u8; 8 << 20];
        for i in 0u64..256 {
            if i % 8 == 0 {
                let mut h = blake3::Hasher::new();
                h.update(&i.to_le_bytes());
                h.finalize_xof().fill(&mut block);
                stdin.write_all(&block).unwrap();
            } else {
                stdin.write_all(&zeros).unwrap();
            }
        }
    });
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        peak = peak.max(peak_rss_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    feeder.join().unwrap();
    assert!(child.wait().unwrap().success());
    eprintln!("peak RSS while streaming 2 GiB in: {} MiB", peak / 1024);
    assert!(
        peak > 0 && peak < 300 * 1024,
        "peak RSS {} MiB",
        peak / 1024
    );
    let ls = reel_json(dir.path(), &["file", "ls", &id, "footage"]);
    assert_eq!(ls[0]["size"], 2u64 << 30);
    reel(dir.path())
        .args(["file", "read", &id, "footage/raw.mov", "--range", "0:4"])
        .assert()
        .success()
        .stdout(predicate::function(|o: &[u8]| o.len() == 4));
}

/// Project and asset ids take a unique prefix of four or more hex digits, as checkpoint
/// ids do; a shorter one says so; another user's ids are never matched.
#[test]
fn ids_of_every_kind_take_a_prefix() {
    let dir = init();
    let id = create(dir.path(), &["Intro"]);
    let prefix = &id[..6];
    let shown = reel_json(dir.path(), &["project", "show", prefix]);
    assert_eq!(shown["id"], id);
    reel(dir.path())
        .args(["project", "show", prefix])
        .assert()
        .success()
        .stdout(contains("scope:   user\n"));
    reel(dir.path())
        .args(["file", "write", prefix, "a.txt"])
        .write_stdin("hi")
        .assert()
        .success();
    reel(dir.path())
        .args(["file", "read", prefix, "a.txt"])
        .assert()
        .success()
        .stdout("hi");
    reel(dir.path())
        .args(["project", "show", &id[..3]])
        .assert()
        .code(1)
        .stderr(contains("needs at least 4 hex digits"));
    reel(dir.path())
        .args(["--user", "bob", "project", "show", prefix])
        .assert()
        .code(1)
        .stderr(contains("not found"));

    write(dir.path(), "logo.png", b"\x89PNG a logo");
    let asset = reel_json(dir.path(), &["asset", "add", "logo.png"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    reel(dir.path())
        .args(["asset", "get", &asset[..5]])
        .assert()
        .success()
        .stdout(predicate::eq(b"\x89PNG a logo" as &[u8]));
    reel(dir.path())
        .args(["--user", "bob", "asset", "get", &asset[..5]])
        .assert()
        .code(1)
        .stderr(contains("not found"));
    reel(dir.path())
        .args(["asset", "rm", &asset[..8]])
        .assert()
        .success();
}

/// `reel stats` counts projects, their checkpoints and assets, not only the
/// directory's checkpoints, and says how large the index file is.
#[test]
fn stats_count_project_checkpoints_too() {
    let dir = init();
    let id = create(dir.path(), &["Intro"]);
    for n in 0..3 {
        reel(dir.path())
            .args(["file", "write", &id, "a.txt"])
            .write_stdin(format!("v{n}"))
            .assert()
            .success();
        reel(dir.path())
            .args(["project", "checkpoint", &id, "--name", &format!("v{n}")])
            .assert()
            .success();
    }
    let stats = reel_json(dir.path(), &["stats"]);
    assert_eq!(stats["checkpoints"], 0);
    assert_eq!(stats["projects"], 1);
    assert_eq!(stats["project_checkpoints"], 3);
    assert!(stats["index_bytes"].as_u64().unwrap() > 0, "{stats}");
    // The index's share, table by table: three checkpoints of one project.
    let tables = stats["index_tables"].as_array().unwrap();
    let table = |name: &str| tables.iter().find(|t| t["name"] == name).cloned();
    assert_eq!(
        table("project-checkpoints-0").unwrap()["rows"],
        3,
        "{stats}"
    );
    assert!(
        table("objects-1").unwrap()["stored_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(
        table("objects-0").unwrap()["rows"],
        1,
        "the old layout's name holds one row saying where the rows went: {stats}"
    );
    assert!(
        table("checkpoints-0").is_none(),
        "empty tables are left out"
    );
    reel(dir.path())
        .arg("stats")
        .assert()
        .success()
        .stdout(contains("checkpoints  0 of the directory, 3 of 1 project"))
        .stdout(contains("  project-checkpoints-0"));
}
