//! A flipped byte in a pack: fsck names it, reads fail cleanly, the rest still restores.

use std::fs;

use predicates::prelude::*;
use predicates::str::contains;

use crate::util::{random_bytes, reel, reel_json, sample_project, snapshot, tempdir, write};

#[test]
fn flipped_byte_is_found_and_unaffected_checkpoints_restore() {
    let dir = tempdir();
    sample_project(dir.path());
    reel(dir.path()).arg("init").assert().success();
    reel(dir.path())
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    let v1 = tempdir();
    reel(dir.path())
        .args(["restore", "v1", "--to", v1.path().to_str().unwrap()])
        .assert()
        .success();

    write(dir.path(), "public/big.mov", random_bytes(2 << 20, 4));
    reel(dir.path())
        .args(["checkpoint", "--name", "v2"])
        .assert()
        .success();

    // The largest pack is v2's: it holds big.mov.
    let packs_dir = dir.path().join(".reel/packs/packs");
    let mut packs: Vec<_> = fs::read_dir(&packs_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    packs.sort_by_key(|p| fs::metadata(p).unwrap().len());
    let victim = packs.last().unwrap();
    let pack_name = victim.file_stem().unwrap().to_str().unwrap()[..12].to_owned();
    let mut bytes = fs::read(victim).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    fs::write(victim, bytes).unwrap();

    let out = reel(dir.path())
        .args(["fsck", "--read-data"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("pack {pack_name}")), "{text}");
    assert!(text.contains("object "), "{text}");
    assert!(text.contains("DAMAGED"), "{text}");
    let json = reel(dir.path())
        .args(["fsck", "--read-data", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let errors = report["errors"].as_array().unwrap();
    assert!(errors.iter().any(|e| e["object"].is_string() && e["pack"].as_str().unwrap().starts_with(&pack_name)));

    reel(dir.path())
        .args(["cat", "v2:public/big.mov"])
        .assert()
        .code(1)
        .stderr(contains("corrupt data").and(contains("panicked").not()));
    let broken = tempdir();
    reel(dir.path())
        .args(["restore", "v2", "--to", broken.path().to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(contains("corrupt"));

    let again = tempdir();
    reel(dir.path())
        .args(["restore", "v1", "--to", again.path().to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(snapshot(again.path()), snapshot(v1.path()));
    assert_eq!(reel_json(dir.path(), &["log"]).as_array().unwrap().len(), 2);
}
