//! SIGKILL `reel checkpoint` at varied points; the repository stays consistent and
//! every published checkpoint restores byte-identically.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use crate::util::{
    Node, random_bytes, reel, reel_json, reel_path, sample_project, snapshot, tempdir, write,
};

#[test]
fn killed_checkpoints_leave_a_consistent_repository() {
    let dir = tempdir();
    sample_project(dir.path());
    reel(dir.path()).arg("init").assert().success();
    reel(dir.path())
        .args(["checkpoint", "--name", "base"])
        .assert()
        .success();
    let mut expected: BTreeMap<String, BTreeMap<String, Node>> = BTreeMap::new();
    expected.insert(
        reel_json(dir.path(), &["show", "HEAD"])["id"]
            .as_str()
            .unwrap()
            .into(),
        snapshot(dir.path()),
    );

    for (round, delay_ms) in [5u64, 30, 80, 150, 300, 600, 1200].into_iter().enumerate() {
        write(
            dir.path(),
            &format!("footage/take{round}.mov"),
            random_bytes(24 << 20, round as u64),
        );
        write(
            dir.path(),
            "src/Root.tsx",
            format!("export const round = {round};\n"),
        );
        let before = snapshot(dir.path());
        let mut child = std::process::Command::new(reel_path())
            .args(["checkpoint", "-q", "-m", &format!("round {round}")])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL; may race with a normal exit
        child.wait().unwrap();
        let head = reel_json(dir.path(), &["show", "HEAD"])["id"]
            .as_str()
            .unwrap()
            .to_owned();
        expected.entry(head).or_insert(before);
        // fsck must be clean after every kill (unreferenced packs are only notes).
        reel(dir.path()).args(["fsck"]).assert().success();
    }
    reel(dir.path())
        .args(["fsck", "--read-data"])
        .assert()
        .success();
    reel(dir.path())
        .args(["gc", "--grace", "0s"])
        .assert()
        .success();
    let report = reel_json(dir.path(), &["fsck", "--read-data"]);
    assert!(report["unreferenced_packs"].as_array().unwrap().is_empty());
    assert!(expected.len() >= 2, "at least one checkpoint should finish");
    for (id, tree) in &expected {
        let out = tempdir();
        reel(dir.path())
            .args(["restore", id, "--to", out.path().to_str().unwrap()])
            .assert()
            .success();
        assert_eq!(
            &snapshot(out.path()),
            tree,
            "checkpoint {id} differs after the crashes"
        );
    }
}
