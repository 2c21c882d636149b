//! Two processes on one repository at once.

use std::process::Stdio;

use crate::util::{
    log_names, random_bytes, reel, reel_json, reel_path, sample_project, tempdir, write,
};

#[test]
fn log_runs_while_another_process_checkpoints() {
    let dir = tempdir();
    sample_project(dir.path());
    reel(dir.path()).arg("init").assert().success();
    reel(dir.path())
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    for i in 0..4 {
        write(
            dir.path(),
            &format!("footage/{i}.mov"),
            random_bytes(32 << 20, i),
        );
    }
    let mut writer = std::process::Command::new(reel_path())
        .args(["checkpoint", "-q", "--name", "v2"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut reads = 0;
    while writer.try_wait().unwrap().is_none() {
        let log = reel_json(dir.path(), &["log"]);
        assert!(!log.as_array().unwrap().is_empty());
        reads += 1;
    }
    assert!(writer.wait().unwrap().success());
    assert!(
        reads >= 1,
        "log never ran while the checkpoint was in progress"
    );
    assert_eq!(reel_json(dir.path(), &["log"]).as_array().unwrap().len(), 2);
}

#[test]
fn two_concurrent_checkpoints_both_land() {
    let dir = tempdir();
    sample_project(dir.path());
    let other = tempdir();
    write(other.path(), "other.txt", random_bytes(8 << 20, 1));
    reel(dir.path()).arg("init").assert().success();
    let spawn = |args: &[&str]| {
        std::process::Command::new(reel_path())
            .args(args)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let a = spawn(&["checkpoint", "-q", "--name", "a"]);
    let b = spawn(&[
        "checkpoint",
        "-q",
        "--name",
        "b",
        other.path().to_str().unwrap(),
    ]);
    for mut child in [a, b] {
        assert!(child.wait().unwrap().success());
    }
    let names = log_names(dir.path());
    assert_eq!(
        names.len(),
        2,
        "one checkpoint follows the other: {names:?}"
    );
    reel(dir.path())
        .args(["fsck", "--read-data"])
        .assert()
        .success();
}
