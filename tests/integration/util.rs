//! Shared helpers: project trees, directory comparison, the `reel` binary.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// What a path holds, for comparing directories.
#[derive(Debug, PartialEq, Eq)]
pub enum Node {
    File { content: Vec<u8>, executable: bool },
    Dir,
    Link(PathBuf),
}

/// A directory as [`snapshot`] sees it.
pub type Tree = BTreeMap<String, Node>;

/// Checkpoint options that only name the checkpoint.
pub fn named(name: &str) -> reelstore::CheckpointOptions {
    reelstore::CheckpointOptions {
        name: Some(name.into()),
        ..Default::default()
    }
}

/// A new repository (default settings) in a temporary directory, kept while the
/// returned guard lives.
pub async fn new_repo() -> (tempfile::TempDir, reelstore::Repository) {
    let root = tempdir();
    let repo =
        reelstore::Repository::init(root.path().join("repo"), reelstore::RepoConfig::default())
            .await
            .unwrap();
    (root, repo)
}

/// GC options without a grace period: collect now.
pub fn gc_now() -> reelstore::GcOptions {
    reelstore::GcOptions {
        grace: std::time::Duration::ZERO,
        ..reelstore::GcOptions::default()
    }
}

/// Every file below `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// What `rev` restores to in a fresh directory.
pub async fn restored(repo: &reelstore::Repository, rev: &str) -> Tree {
    let out = tempdir();
    repo.restore(rev, out.path(), std::sync::Arc::new(reelstore::NoProgress))
        .await
        .unwrap();
    snapshot(out.path())
}

/// The format a repository config (or a bucket's record) names.
pub fn format_of(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["format"]
        .as_u64()
        .unwrap()
}

/// Makes a repository config (or a bucket's record) name `format`, as an older release
/// wrote it.
pub fn set_format(path: &Path, format: u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["format"] = format.into();
    std::fs::write(path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
}

/// Every path under `root` except `.reel`, with what it holds.
pub fn snapshot(root: &Path) -> Tree {
    let mut out = BTreeMap::new();
    visit(root, root, &mut out);
    out
}

fn visit(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_name() == ".reel" {
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            out.insert(rel, Node::Link(fs::read_link(&path).unwrap()));
        } else if meta.is_dir() {
            out.insert(rel, Node::Dir);
            visit(root, &path, out);
        } else {
            let executable = meta.permissions().mode() & 0o100 != 0;
            out.insert(
                rel,
                Node::File {
                    content: fs::read(&path).unwrap(),
                    executable,
                },
            );
        }
    }
}

/// Writes a file, creating parent directories.
pub fn write(root: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// Deterministic pseudo-random bytes.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut hasher = blake3::Hasher::new();
    hasher.update(&seed.to_le_bytes());
    hasher.finalize_xof().fill(&mut out);
    out
}

/// A small Remotion-like project: sources, JSON, an executable script, a symlink,
/// an empty directory, a duplicated media file.
pub fn sample_project(root: &Path) {
    write(
        root,
        "package.json",
        r#"{"name":"hello","dependencies":{"remotion":"4.0.529"}}"#,
    );
    write(
        root,
        "src/Root.tsx",
        "export const Root = () => <Composition id=\"Hello\" />;\n",
    );
    write(
        root,
        "src/Video.tsx",
        "export const Video = ({title}) => <h1>{title}</h1>;\n".repeat(40),
    );
    write(
        root,
        "scripts/render.sh",
        "#!/bin/sh\nnpx remotion render\n",
    );
    fs::set_permissions(
        root.join("scripts/render.sh"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let media = random_bytes(600_000, 7);
    write(root, "public/clip.mp4", &media);
    write(root, "public/copy/clip.mp4", &media);
    std::os::unix::fs::symlink("src/Root.tsx", root.join("entry.tsx")).unwrap();
    fs::create_dir_all(root.join("public/empty")).unwrap();
}

/// The `reel` binary, with the repository in `dir/.reel`, run from `dir`.
pub fn reel(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("reel").unwrap();
    cmd.current_dir(dir)
        .env_remove("REEL_REPO")
        .env("USER", "tester");
    cmd
}

/// Runs `reel` and parses its stdout as JSON.
pub fn reel_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = reel(dir).args(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "reel {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The names of the checkpoints `reel log` lists in `dir`, newest first.
pub fn log_names(dir: &Path) -> Vec<String> {
    reel_json(dir, &["log"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Path to the built `reel` binary.
pub fn reel_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("reel")
}

/// A fresh runtime-independent temp dir.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Failpoints of `reel` processes (see `src/failpoint.rs`): a directory of handshake
/// files, passed to each process as `REEL_FAILPOINTS`.
pub struct Failpoints {
    dir: tempfile::TempDir,
}

/// How long a test waits for a process to reach a failpoint or leave it.
const FAILPOINT_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

impl Failpoints {
    pub fn new() -> Failpoints {
        Failpoints { dir: tempdir() }
    }

    /// The directory to pass as `REEL_FAILPOINTS`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Processes that reach `name` from now on pause there.
    pub fn pause(&self, name: &str) {
        fs::write(self.dir.path().join(format!("{name}.pause")), b"").unwrap();
    }

    /// Processes that reach `name` from now on kill themselves there.
    pub fn kill(&self, name: &str) {
        fs::write(self.dir.path().join(format!("{name}.kill")), b"").unwrap();
    }

    fn reached_file(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.reached"))
    }

    /// Waits until a process is paused at `name`; panics if `child` exits first.
    pub fn wait_reached(&self, name: &str, child: &mut std::process::Child) {
        let start = std::time::Instant::now();
        while !self.reached_file(name).exists() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the process exited ({status}) before reaching failpoint {name}");
            }
            assert!(
                start.elapsed() < FAILPOINT_WAIT,
                "failpoint {name} never reached"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// Lets the process paused at `name` go on, and waits until it has left.
    pub fn release(&self, name: &str) {
        let _ = fs::remove_file(self.dir.path().join(format!("{name}.pause")));
        let start = std::time::Instant::now();
        while self.reached_file(name).exists() {
            assert!(
                start.elapsed() < FAILPOINT_WAIT,
                "failpoint {name} never left"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

/// `reel` as a child process with failpoints, output captured.
pub fn spawn_reel(dir: &Path, fp: &Failpoints, args: &[&str]) -> std::process::Child {
    spawn_reel_with(dir, fp, args, &[])
}

/// [`spawn_reel`] with more environment variables.
pub fn spawn_reel_with(
    dir: &Path,
    fp: &Failpoints,
    args: &[&str],
    envs: &[(&str, &str)],
) -> std::process::Child {
    std::process::Command::new(reel_path())
        .args(args)
        .current_dir(dir)
        .env_remove("REEL_REPO")
        .env("USER", "tester")
        .env("REEL_FAILPOINTS", fp.path())
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a child; panics with its stderr unless it succeeded; returns its stdout.
pub fn finish(child: std::process::Child, what: &str) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
