//! Bad input and faults: clear errors, nothing lost.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use predicates::prelude::*;
use predicates::str::contains;
use reelstore::{CheckpointOptions, Error, NoProgress, RepoConfig, Repository};

use crate::util::{random_bytes, reel, sample_project, snapshot, tempdir, write};

#[test]
fn newer_repository_format_is_refused_clearly() {
    let dir = tempdir();
    reel(dir.path()).arg("init").assert().success();
    let config = dir.path().join(".reel/config");
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("\"format\": 5", "\"format\": 6");
    fs::write(&config, text).unwrap();
    reel(dir.path()).arg("log").assert().code(1).stderr(
        contains("format version 6 is newer than this build supports (5)")
            .and(contains("upgrade reel")),
    );
}

#[test]
fn non_utf8_file_name_fails_naming_the_path() {
    let dir = tempdir();
    sample_project(dir.path());
    reel(dir.path()).arg("init").assert().success();
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff-name.txt");
    fs::write(dir.path().join("src").join(name), "x").unwrap();
    reel(dir.path())
        .arg("checkpoint")
        .assert()
        .code(1)
        .stderr(contains("not valid UTF-8").and(contains("src/bad-")));
    // Nothing was published.
    reel(dir.path())
        .arg("log")
        .assert()
        .success()
        .stdout(contains("no checkpoints yet"));
}

#[test]
fn restore_into_a_path_through_a_symlink_is_refused() {
    let dir = tempdir();
    sample_project(dir.path());
    reel(dir.path()).arg("init").assert().success();
    reel(dir.path())
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    let outside = tempdir();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    let target = dir.path().join("link/sub");
    reel(dir.path())
        .args(["restore", "v1", "--to", target.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(contains("passes through the symlink"));
    assert!(fs::read_dir(outside.path()).unwrap().next().is_none());
}

#[tokio::test]
async fn a_file_that_changes_while_read_is_detected_not_torn() {
    let repo = Repository::in_memory(RepoConfig::default()).await.unwrap();
    let dir = tempdir();
    write(dir.path(), "growing.mov", random_bytes(48 << 20, 5));
    write(dir.path(), "steady.txt", "steady");
    let stop = Arc::new(AtomicBool::new(false));
    let path = dir.path().join("growing.mov");
    let writer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
            while !stop.load(Ordering::Relaxed) {
                f.write_all(&[1u8; 512]).unwrap();
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    let result = repo
        .checkpoint(
            dir.path(),
            CheckpointOptions::default(),
            Arc::new(NoProgress),
        )
        .await;
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    match result {
        Err(Error::Changed { path }) => assert!(path.ends_with("growing.mov")),
        other => panic!("expected the change to be detected, got {other:?}"),
    }
    assert!(
        repo.log(None, 10).await.unwrap().is_empty(),
        "no checkpoint was published"
    );
}

/// Mounts a small tmpfs; `None` where this process may not mount.
fn tmpfs(size: &str) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    let holder = tempdir();
    let mnt = holder.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            mnt.to_str().unwrap(),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if ok { Some((holder, mnt)) } else { None }
}

fn umount(mnt: &std::path::Path) {
    let _ = std::process::Command::new("umount").arg(mnt).status();
}

#[test]
#[ignore = "needs root to mount a tmpfs; scripts/test runs it with --ignored as root"]
fn a_full_disk_fails_cleanly_and_loses_nothing() {
    let (_holder, mnt) = tmpfs("6m").expect("mount a tmpfs (this test needs root)");
    let project = tempdir();
    sample_project(project.path());
    let repo = mnt.join("repo");
    let repo_arg = repo.to_str().unwrap();
    reel(project.path())
        .args(["init", "--repo", repo_arg])
        .assert()
        .success();
    reel(project.path())
        .args(["checkpoint", "--repo", repo_arg, "--name", "v1"])
        .assert()
        .success();
    write(project.path(), "public/big.mov", random_bytes(12 << 20, 9));
    reel(project.path())
        .args(["checkpoint", "--repo", repo_arg, "--name", "v2"])
        .assert()
        .code(1)
        .stderr(contains("error:"));
    let out = tempdir();
    reel(project.path())
        .args([
            "restore",
            "--repo",
            repo_arg,
            "v1",
            "--to",
            out.path().to_str().unwrap(),
        ])
        .assert()
        .success();
    fs::remove_file(project.path().join("public/big.mov")).unwrap();
    assert_eq!(snapshot(out.path()), snapshot(project.path()));
    reel(project.path())
        .args(["fsck", "--repo", repo_arg, "--read-data"])
        .assert()
        .success();
    umount(&mnt);
}

#[test]
#[ignore = "needs root to mount a tmpfs; scripts/test runs it with --ignored as root"]
fn a_read_only_disk_fails_cleanly_and_loses_nothing() {
    let (_holder, mnt) = tmpfs("64m").expect("mount a tmpfs (this test needs root)");
    let project = tempdir();
    sample_project(project.path());
    let repo = mnt.join("repo");
    let repo_arg = repo.to_str().unwrap();
    reel(project.path())
        .args(["init", "--repo", repo_arg])
        .assert()
        .success();
    reel(project.path())
        .args(["checkpoint", "--repo", repo_arg, "--name", "v1"])
        .assert()
        .success();
    let remount = |mode: &str| {
        assert!(
            std::process::Command::new("mount")
                .args(["-o", &format!("remount,{mode}"), mnt.to_str().unwrap()])
                .status()
                .unwrap()
                .success()
        );
    };
    remount("ro");
    write(project.path(), "src/New.tsx", "new");
    reel(project.path())
        .args(["checkpoint", "--repo", repo_arg, "--name", "v2"])
        .assert()
        .code(1)
        .stderr(contains("error:").and(contains("panicked").not()));
    remount("rw");
    reel(project.path())
        .args(["fsck", "--repo", repo_arg, "--read-data"])
        .assert()
        .success();
    reel(project.path())
        .args(["log", "--repo", repo_arg])
        .assert()
        .success()
        .stdout(contains("(v1)"));
    umount(&mnt);
}
