//! Repositories on an S3-compatible server: moto, started per test on 127.0.0.1.
//!
//! `scripts/test` installs moto in a venv and runs these with `--ignored`, pointing
//! `REEL_MOTO_SERVER` at its `moto_server`; a plain `cargo test` lists them as ignored.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod deltas;
mod gc;
mod projects;
mod shared;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::util::{
    Failpoints, finish, random_bytes, reel, sample_project, snapshot, spawn_reel_with, tempdir,
    write,
};

/// Credentials moto accepts (any); the variables every AWS tool reads.
const CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "reel-test-key"),
    ("AWS_SECRET_ACCESS_KEY", "reel-test-secret-value"),
    ("AWS_REGION", "us-east-1"),
];

/// A moto server of this test's own, killed when dropped.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let program = std::env::var("REEL_MOTO_SERVER")
            .expect("REEL_MOTO_SERVER names moto_server (scripts/test installs moto and sets it)");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto { child, port };
        let start = Instant::now();
        while moto.request("GET", "/").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    /// One plain HTTP request; the status line, or `None` if the server is not up.
    fn request(&self, method: &str, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        s.write_all(req.as_bytes()).ok()?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).ok()?;
        reply.lines().next().map(str::to_owned)
    }

    /// Creates a bucket (S3 `CreateBucket`).
    pub fn bucket(&self, name: &str) {
        let status = self.request("PUT", &format!("/{name}")).unwrap();
        assert!(status.contains(" 200"), "create bucket {name}: {status}");
    }

    /// The backend URL of `bucket/prefix` on this server.
    pub fn url(&self, bucket: &str, prefix: &str) -> String {
        format!(
            "s3://{bucket}/{prefix}?endpoint=http://127.0.0.1:{}&allow_http=true",
            self.port
        )
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id().cast_signed()), signal).unwrap();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `reel` in `dir` with the test credentials.
fn s3_reel(dir: &Path, args: &[&str]) -> Output {
    reel(dir).envs(CREDENTIALS).args(args).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = s3_reel(dir, args);
    assert!(
        out.status.success(),
        "reel {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The repository id a directory's config records.
fn repo_id(dir: &Path) -> serde_json::Value {
    let config = std::fs::read_to_string(dir.join(".reel/config")).unwrap();
    serde_json::from_str::<serde_json::Value>(&config).unwrap()["id"].clone()
}

/// `reel gc --json ARGS` in `dir`: its report.
fn gc_report(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["gc", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(dir, &all)).unwrap()
}

fn count(report: &serde_json::Value, field: &str) -> usize {
    report[field].as_array().map_or(0, Vec::len)
}

#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn a_repository_on_s3_checkpoints_restores_and_verifies() {
    let moto = Moto::start();
    moto.bucket("reel");
    let work = tempdir();
    sample_project(work.path());
    let url = moto.url("reel", "team/project");
    let init: serde_json::Value =
        serde_json::from_str(&ok(work.path(), &["init", "--backend", &url, "--json"])).unwrap();
    assert_eq!(init["probe"]["conditional_writes"], true, "{init}");
    assert_eq!(init["probe"]["conditional_updates"], true, "{init}");
    ok(work.path(), &["checkpoint", "-m", "first", "--name", "v1"]);
    let v1 = snapshot(work.path());
    write(work.path(), "public/clip.mp4", random_bytes(300_000, 9));
    ok(work.path(), &["checkpoint", "-m", "second"]);
    let out = tempdir();
    ok(
        work.path(),
        &["restore", "v1", "--to", out.path().to_str().unwrap()],
    );
    assert_eq!(snapshot(out.path()), v1);
    ok(work.path(), &["fsck", "--read-data"]);
    // The secrets came from the environment and stay there.
    let config = std::fs::read_to_string(work.path().join(".reel/config")).unwrap();
    assert!(!config.contains("reel-test-secret-value"), "{config}");
}

/// `reel init` on `url`, expected to fail fast and leave nothing: its stderr.
fn init_fails(url: &str) -> String {
    let work = tempdir();
    let started = Instant::now();
    let out = s3_reel(work.path(), &["init", "--backend", url]);
    assert!(!out.status.success(), "init {url} succeeded");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "init {url} took {:?}",
        started.elapsed()
    );
    assert!(
        !work.path().join(".reel").exists(),
        "a failed init left .reel behind"
    );
    String::from_utf8(out.stderr).unwrap()
}

#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn init_probes_the_backend_and_says_what_is_wrong() {
    let moto = Moto::start();
    moto.bucket("reel");
    let port = moto.port;
    // (URL, what the error says, whether the probe ran and a hint follows)
    let cases = [
        // Nothing listens there.
        (
            "s3://reel/p?endpoint=http://127.0.0.1:1&allow_http=true".to_owned(),
            "failed the access probe (write)",
            true,
        ),
        // http:// without allow_http.
        (
            format!("s3://reel/p?endpoint=http://127.0.0.1:{port}"),
            "failed the access probe (write)",
            true,
        ),
        (moto.url("missing-bucket", "p"), "does not exist", true),
        (
            format!("{}&secret_access_key=hunter2", moto.url("reel", "p")),
            "set it in the environment",
            false,
        ),
        (
            format!("{}&alow_http=true", moto.url("reel", "p")),
            "`alow_http` is not a S3 option",
            false,
        ),
    ];
    for (url, says, probed) in cases {
        let err = init_fails(&url);
        assert!(err.contains(says), "{url}: {err}");
        assert_eq!(err.contains("hint: "), probed, "{url}: {err}");
        assert!(!err.contains("hunter2"), "a secret was echoed: {err}");
    }
}

/// Pauses the `reel` child at `failpoint`, stops the server for longer than a request
/// may take, lets the child go on, then resumes the server: the child must succeed.
fn through_a_stall(moto: &Moto, dir: &Path, failpoint: &str, args: &[&str]) -> String {
    let fp = Failpoints::new();
    fp.pause(failpoint);
    let mut child = spawn_reel_with(dir, &fp, args, &CREDENTIALS);
    fp.wait_reached(failpoint, &mut child);
    moto.signal(Signal::SIGSTOP);
    fp.release(failpoint);
    // The stall itself: requests time out after 1 s (`timeout=1s`) while it lasts.
    std::thread::sleep(Duration::from_secs(4));
    moto.signal(Signal::SIGCONT);
    finish(child, &format!("reel {args:?} through a stalled server"))
}

/// A TCP proxy in front of the server; killing it drops every connection at once, and
/// refuses new ones until a new proxy listens on the same port.
struct Proxy {
    port: u16,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Listens on `port` (0: any) and forwards to `target` on 127.0.0.1.
    fn start(port: u16, target: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (stop2, conns2) = (Arc::clone(&stop), Arc::clone(&conns));
        let accept = std::thread::spawn(move || {
            while !stop2.load(Ordering::Acquire) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let mut list = conns2.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy {
            port,
            stop,
            conns,
            accept: Some(accept),
        }
    }

    /// Stops listening and cuts every connection.
    fn kill(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.accept.take() {
            t.join().unwrap();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Pauses the `reel` child at `failpoint`, kills the proxy it talks through (dropping
/// its connections), lets the child go on, and starts a new proxy 3 s later: the child
/// must succeed.
fn through_a_drop(
    proxy: Proxy,
    moto: &Moto,
    dir: &Path,
    failpoint: &str,
    args: &[&str],
) -> (Proxy, String) {
    let fp = Failpoints::new();
    fp.pause(failpoint);
    let mut child = spawn_reel_with(dir, &fp, args, &CREDENTIALS);
    fp.wait_reached(failpoint, &mut child);
    let port = proxy.port;
    proxy.kill();
    fp.release(failpoint);
    std::thread::sleep(Duration::from_secs(3));
    let proxy = Proxy::start(port, moto.port);
    let out = finish(
        child,
        &format!("reel {args:?} through a dropped connection"),
    );
    (proxy, out)
}

#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn a_dropped_connection_delays_a_checkpoint_and_a_restore_but_fails_neither() {
    let moto = Moto::start();
    moto.bucket("reel");
    let proxy = Proxy::start(0, moto.port);
    let work = tempdir();
    write(work.path(), "footage.bin", random_bytes(3_000_000, 2));
    write(work.path(), "src/a.tsx", "export const a = 1;\n");
    let url = format!(
        "s3://reel/drop?endpoint=http://127.0.0.1:{}&allow_http=true",
        proxy.port
    );
    ok(work.path(), &["init", "--backend", &url]);
    let (proxy, _) = through_a_drop(
        proxy,
        &moto,
        work.path(),
        "pack-announced",
        &["checkpoint", "--name", "v1"],
    );
    let v1 = snapshot(work.path());
    let out = tempdir();
    let to = out.path().to_str().unwrap();
    let (proxy, _) = through_a_drop(
        proxy,
        &moto,
        work.path(),
        "restore-planned",
        &["restore", "v1", "--to", to],
    );
    assert_eq!(snapshot(out.path()), v1);
    ok(work.path(), &["fsck", "--read-data"]);
    proxy.kill();
}

#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn a_stalled_server_delays_a_checkpoint_and_a_restore_but_fails_neither() {
    let moto = Moto::start();
    moto.bucket("reel");
    let work = tempdir();
    write(work.path(), "footage.bin", random_bytes(3_000_000, 1));
    write(work.path(), "src/a.tsx", "export const a = 1;\n");
    let url = format!("{}&timeout=1s", moto.url("reel", "stall"));
    ok(work.path(), &["init", "--backend", &url]);
    through_a_stall(
        &moto,
        work.path(),
        "pack-announced",
        &["checkpoint", "--name", "v1"],
    );
    let v1 = snapshot(work.path());
    ok(work.path(), &["fsck", "--read-data"]);
    let out = tempdir();
    let to = out.path().to_str().unwrap();
    through_a_stall(
        &moto,
        work.path(),
        "restore-planned",
        &["restore", "v1", "--to", to],
    );
    assert_eq!(snapshot(out.path()), v1);
}

#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn a_second_machine_attaches_and_gc_on_both_frees_only_dead_packs() {
    let moto = Moto::start();
    moto.bucket("shared");
    let url = moto.url("shared", "team");
    // Machine A: a repository with two checkpoints.
    let a = tempdir();
    sample_project(a.path());
    // Its own seed: seed 7 would repeat sample_project's 600 KB clip as its first
    // bytes, which chunks of 64 KiB and more share with the clip (they stay live).
    write(a.path(), "footage/take1.bin", random_bytes(2_000_000, 17));
    ok(a.path(), &["init", "--backend", &url]);
    ok(a.path(), &["checkpoint", "--name", "v1"]);
    write(
        a.path(),
        "src/Root.tsx",
        "export const Root = () => null; // v2\n",
    );
    std::fs::remove_file(a.path().join("footage/take1.bin")).unwrap();
    ok(a.path(), &["checkpoint", "--name", "v2"]);
    let v2 = snapshot(a.path());

    // Machine B: its own directory and local index, the same prefix.
    let b = tempdir();
    let init: serde_json::Value =
        serde_json::from_str(&ok(b.path(), &["init", "--backend", &url, "--json"])).unwrap();
    assert_eq!(init["attached"]["checkpoints"], 2, "{init}");
    assert_eq!(
        repo_id(a.path()),
        repo_id(b.path()),
        "one repository, not two"
    );
    let names: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&ok(b.path(), &["log", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(names, ["v2", "v1"]);
    let out = tempdir();
    ok(
        b.path(),
        &["restore", "v2", "--to", out.path().to_str().unwrap()],
    );
    assert_eq!(snapshot(out.path()), v2);

    // B's index was rebuilt on attaching, but the bucket holds every record gc reads
    // roots from: its gc below runs without --after-rebuild (and deletes nothing live:
    // fsck and the restores at the end).

    // B checkpoints, and forgets v1: the bucket records both, so A sees B's
    // checkpoint and no longer v1. v1's footage is now unreferenced: a gc on one
    // machine condemns its packs in the bucket, a later one on the other deletes them.
    write(b.path(), "notes.md", "from machine B\n");
    ok(b.path(), &["checkpoint", "--name", "b1"]);
    let b1 = snapshot(b.path());
    ok(b.path(), &["forget", "v1"]);
    let log_names = |dir: &Path| -> Vec<String> {
        serde_json::from_str::<serde_json::Value>(&ok(dir, &["log", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["deleted"] == false)
            .map(|e| e["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(
        log_names(a.path()),
        ["b1", "v2"],
        "A's view after B's changes"
    );
    let gone = s3_reel(a.path(), &["show", "v1"]);
    assert!(
        !gone.status.success(),
        "v1 was forgotten on B, yet A still has it"
    );
    let plan = gc_report(b.path(), &["--dry-run", "--grace", "0s"]);
    assert!(plan["plan"]["dead_objects"].as_u64().unwrap() > 0, "{plan}");
    let first = gc_report(a.path(), &["--grace", "0s"]);
    assert!(count(&first, "packs_condemned") > 0, "{first}");
    assert_eq!(count(&first, "packs_deleted"), 0, "{first}");
    // v1's footage shares its pack with sources v2 keeps: the pack is repacked.
    let second = gc_report(b.path(), &["--grace", "0s"]);
    assert_eq!(
        count(&second, "packs_deleted") + count(&second, "packs_repacked"),
        count(&first, "packs_condemned"),
        "{second}"
    );
    assert!(
        second["bytes_freed"].as_u64().unwrap() > 1_900_000,
        "{second}"
    );
    assert_eq!(count(&second, "packs_condemned"), 0, "{second}");
    // The index segments naming the deleted packs were merged into one that does not.
    assert!(second["segments_merged"].as_u64().unwrap() > 1, "{second}");
    std::fs::remove_file(a.path().join(".reel/index.redb")).unwrap();
    let rebuilt: serde_json::Value =
        serde_json::from_str(&ok(a.path(), &["index", "rebuild", "--json"])).unwrap();
    assert_eq!(rebuilt["trailers_read"], 0, "{rebuilt}");
    assert_eq!(
        rebuilt["packs_from_segments"], rebuilt["packs"],
        "{rebuilt}"
    );
    assert_eq!(rebuilt["checkpoints"], 2, "{rebuilt}");
    for dir in [a.path(), b.path()] {
        ok(dir, &["fsck", "--read-data"]);
    }
    // Each machine restores the other's checkpoints.
    for (dir, rev, want) in [
        (a.path(), "b1", &b1),
        (b.path(), "v2", &v2),
        (a.path(), "v2", &v2),
    ] {
        let out = tempdir();
        ok(dir, &["restore", rev, "--to", out.path().to_str().unwrap()]);
        assert_eq!(&snapshot(out.path()), want, "{rev}");
    }
}

/// Two machines run `reel init` on one empty prefix at once: both find no record, one
/// writes it, the other's create-only write is refused and it attaches. One repository,
/// not two.
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn two_inits_racing_on_one_prefix_make_one_repository() {
    let moto = Moto::start();
    moto.bucket("race");
    let url = moto.url("race", "p");
    let (a, b) = (tempdir(), tempdir());
    write(a.path(), "a.txt", "machine A\n");
    let fp = Failpoints::new();
    fp.pause("init-no-record");
    let mut child = spawn_reel_with(
        a.path(),
        &fp,
        &["init", "--backend", &url, "--json"],
        &CREDENTIALS,
    );
    // A has looked and found nothing; B inits the prefix meanwhile.
    fp.wait_reached("init-no-record", &mut child);
    let b_init: serde_json::Value =
        serde_json::from_str(&ok(b.path(), &["init", "--backend", &url, "--json"])).unwrap();
    assert!(b_init["attached"].is_null(), "{b_init}");
    fp.release("init-no-record");
    let a_init: serde_json::Value =
        serde_json::from_str(&finish(child, "A's racing init")).unwrap();
    assert!(!a_init["attached"].is_null(), "A must attach: {a_init}");
    assert_eq!(
        repo_id(a.path()),
        repo_id(b.path()),
        "one repository, not two"
    );
    ok(a.path(), &["checkpoint", "--name", "a1"]);
    // Nothing is dead: gc on either machine condemns and deletes nothing.
    for dir in [a.path(), b.path()] {
        let report = gc_report(dir, &["--grace", "0s"]);
        assert_eq!(count(&report, "packs_condemned"), 0, "{report}");
        assert_eq!(count(&report, "packs_deleted"), 0, "{report}");
    }
}

/// `reel clone URL` makes a directory named after the prefix, attached to the
/// repository there, with HEAD restored; a prefix without a repository is not found and
/// gets none; a directory that is not empty is refused.
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn clone_attaches_and_restores_head() {
    let moto = Moto::start();
    moto.bucket("reel");
    let a = tempdir();
    sample_project(a.path());
    let url = moto.url("reel", "team/intro");
    ok(a.path(), &["init", "--backend", &url]);
    ok(a.path(), &["checkpoint", "--name", "v1"]);
    let v1 = snapshot(a.path());

    let parent = tempdir();
    let said = ok(parent.path(), &["clone", &url]);
    assert!(said.contains("HEAD"), "{said}");
    let cloned = parent.path().join("intro");
    assert_eq!(snapshot(&cloned), v1);
    let log: serde_json::Value = serde_json::from_str(&ok(&cloned, &["log", "--json"])).unwrap();
    assert_eq!(log[0]["name"], "v1", "{log}");

    // Into a directory that is not empty: refused, untouched.
    let busy = parent.path().join("busy");
    write(&busy, "mine.txt", "keep me\n");
    let refused = s3_reel(parent.path(), &["clone", &url, "busy"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not empty"));
    assert_eq!(snapshot(&busy).len(), 1);

    // A prefix with no repository: not found, no directory, and no repository made
    // there (an init on it then creates one).
    let empty = moto.url("reel", "nothing");
    let missing = s3_reel(parent.path(), &["clone", &empty]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(err.contains("not found"), "{err}");
    assert!(!parent.path().join("nothing").exists());
    let fresh = tempdir();
    let init: serde_json::Value =
        serde_json::from_str(&ok(fresh.path(), &["init", "--backend", &empty, "--json"])).unwrap();
    assert!(init["attached"].is_null(), "{init}");
}
