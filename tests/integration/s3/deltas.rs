//! Delta chunks on a bucket: a second machine attaching rebuilds its index from the
//! bucket and reads them; gc on both machines keeps the bases a live delta needs.

use super::{Moto, gc_report, ok};
use crate::util::{random_bytes, snapshot, tempdir, write};

/// Machine A stores footage, then an edit of it as a delta; machine B attaches (its
/// index built from the bucket's segments) and restores both; v1 is forgotten, and
/// the two-phase collection (one machine condemns, the other deletes) rewrites the
/// pack holding v1 (mostly a dead take) without losing the delta's base.
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn a_delta_on_a_bucket_is_read_by_a_second_machine_and_survives_gc() {
    let moto = Moto::start();
    moto.bucket("deltas");
    let url = moto.url("deltas", "p");
    let a = tempdir();
    let footage = random_bytes(1 << 20, 21);
    write(a.path(), "footage.mov", &footage);
    write(a.path(), "take-2.mov", random_bytes(3 << 20, 22));
    ok(a.path(), &["init", "--backend", &url]);
    ok(a.path(), &["checkpoint", "--name", "v1"]);
    let v1 = snapshot(a.path());
    std::fs::remove_file(a.path().join("take-2.mov")).unwrap();
    let mid = footage.len() / 2;
    let edited = [
        &footage[..mid],
        &random_bytes(4096, 23)[..],
        &footage[mid..],
    ]
    .concat();
    write(a.path(), "footage.mov", edited);
    let v2_summary: serde_json::Value =
        serde_json::from_str(&ok(a.path(), &["checkpoint", "--name", "v2", "--json"])).unwrap();
    assert!(
        v2_summary["stored_bytes"].as_u64().unwrap() < 64 * 1024,
        "no delta: {v2_summary}"
    );
    let v2 = snapshot(a.path());

    let b = tempdir();
    ok(b.path(), &["init", "--backend", &url]);
    let stats: serde_json::Value =
        serde_json::from_str(&ok(b.path(), &["stats", "--json"])).unwrap();
    assert!(stats["deltas"].as_u64().unwrap() >= 1, "{stats}");
    for (rev, want) in [("v1", &v1), ("v2", &v2)] {
        let out = tempdir();
        ok(
            b.path(),
            &["restore", rev, "--to", out.path().to_str().unwrap()],
        );
        assert_eq!(&snapshot(out.path()), want, "{rev} on machine B");
    }

    ok(a.path(), &["forget", "v1"]);
    let first = gc_report(a.path(), &["--grace", "0s"]);
    let second = gc_report(b.path(), &["--grace", "0s"]);
    assert!(
        second["bytes_freed"].as_u64().unwrap() > 2_000_000,
        "the dead take was not freed: {first} {second}"
    );
    for dir in [a.path(), b.path()] {
        ok(dir, &["fsck", "--read-data"]);
        let out = tempdir();
        ok(
            dir,
            &["restore", "v2", "--to", out.path().to_str().unwrap()],
        );
        assert_eq!(snapshot(out.path()), v2);
    }
}
