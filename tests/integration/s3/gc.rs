//! GC across machines, through the binary on moto: both machines checkpoint, forget
//! and collect at once, and no live object is ever deleted.

use std::path::Path;

use super::{Moto, ok};
use crate::util::{random_bytes, sample_project, tempdir, write};

/// The checkpoints a machine lists (not deleted), by id.
fn live_checkpoints(dir: &Path) -> Vec<String> {
    let log: serde_json::Value =
        serde_json::from_str(&ok(dir, &["log", "-n", "100000", "--json"])).unwrap();
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["deleted"] == false)
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Two machines, each with one process checkpointing new footage (and forgetting the
/// checkpoint before last, so dead data piles up) and one running `reel gc` in a loop,
/// all at once on one prefix. The grace period (3 s) is longer than any checkpoint
/// here takes, as the protocol assumes. Afterwards every checkpoint either machine
/// lists restores on both (restore verifies every byte), fsck reads everything clean,
/// and the collections did delete or repack packs.
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn gc_on_two_machines_beside_checkpoints_deletes_no_live_object() {
    const STEPS: usize = 10;
    let moto = Moto::start();
    moto.bucket("collect");
    let url = moto.url("collect", "p");
    let (a, b) = (tempdir(), tempdir());
    for dir in [a.path(), b.path()] {
        sample_project(dir);
        ok(dir, &["init", "--backend", &url]);
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let freed = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let writers: Vec<_> = [(a.path(), 1u64), (b.path(), 2)]
            .into_iter()
            .map(|(dir, seed)| {
                scope.spawn(move || {
                    for i in 0..STEPS {
                        let name = format!("footage/take{i}.bin");
                        write(dir, &name, random_bytes(300_000, seed * 100 + i as u64));
                        if i > 0 {
                            std::fs::remove_file(dir.join(format!("footage/take{}.bin", i - 1)))
                                .unwrap();
                        }
                        let tag = format!("m{seed}-{i}");
                        ok(dir, &["checkpoint", "-q", "--name", &tag]);
                        if i > 1 {
                            ok(dir, &["forget", &format!("m{seed}-{}", i - 2)]);
                        }
                    }
                })
            })
            .collect();
        for dir in [a.path(), b.path()] {
            let (done, freed) = (&done, &freed);
            scope.spawn(move || {
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let report: serde_json::Value =
                        serde_json::from_str(&ok(dir, &["gc", "--grace", "3s", "--json"])).unwrap();
                    let n = |f: &str| report[f].as_array().map_or(0, Vec::len);
                    freed.fetch_add(
                        n("packs_deleted") + n("packs_repacked"),
                        std::sync::atomic::Ordering::SeqCst,
                    );
                }
            });
        }
        for w in writers {
            w.join().unwrap();
        }
        // Past the grace period, so the last marks ripen; then the collectors stop.
        std::thread::sleep(std::time::Duration::from_secs(4));
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    for dir in [a.path(), b.path()] {
        ok(dir, &["gc", "--grace", "0s"]);
    }
    assert!(
        freed.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the collections freed nothing"
    );
    for dir in [a.path(), b.path()] {
        ok(dir, &["fsck", "--read-data"]);
        let live = live_checkpoints(dir);
        assert_eq!(live.len(), 4, "{live:?}");
        for id in live {
            let out = tempdir();
            ok(dir, &["restore", &id, "--to", out.path().to_str().unwrap()]);
        }
    }
}
