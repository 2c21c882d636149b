//! Compare-and-swap under reordered requests: two "machines" (repositories with their
//! own indexes) on one fault-injecting store, where one machine's conditional write is
//! held at a gate while the other's overtakes it. The held write must be refused and
//! its change redone on top of the other's, never written over it.

use std::path::Path;
use std::sync::Arc;

use super::faults::{Fault, FaultStore, Gate, Op, machine};
use crate::artifact::{Caller, CreateProject, ProjectPath, Source};
use crate::engine::progress::NoProgress;
use crate::{CheckpointOptions, Repository};

async fn checkpoint(repo: &Repository, dir: &Path, message: &str) {
    let opts = CheckpointOptions {
        message: message.to_owned(),
        ..CheckpointOptions::default()
    };
    repo.checkpoint(dir, opts, Arc::new(NoProgress))
        .await
        .unwrap();
}

async fn messages(repo: &Repository) -> Vec<String> {
    repo.log(None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.commit.unwrap().description)
        .collect()
}

/// Machine A's move of `refs/HEAD` is held after A read HEAD; B checkpoints and moves
/// HEAD meanwhile; then A's write arrives, stale. It is refused, and A's checkpoint
/// lands on top of B's; B's next checkpoint follows A's: one history on both machines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_move_overtaken_by_another_machine_is_redone_on_top() {
    let store = Arc::new(FaultStore::new());
    let (a, b) = (machine(&store), machine(&store));
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(da.path().join("a.txt"), "machine A").unwrap();
    std::fs::write(db.path().join("b.txt"), "machine B").unwrap();
    checkpoint(&a, da.path(), "base").await;

    std::fs::write(da.path().join("a.txt"), "machine A, again").unwrap();
    let gate = Gate::default();
    store.inject_at(Op::Put, "refs/HEAD", Fault::Hold(gate.clone()));
    let held = {
        let (a, dir) = (a.clone(), da.path().to_owned());
        tokio::spawn(async move { checkpoint(&a, &dir, "from A").await })
    };
    tokio::task::block_in_place(|| gate.wait_arrived());
    checkpoint(&b, db.path(), "from B").await;
    gate.open();
    held.await.unwrap();

    assert_eq!(messages(&a).await, ["from A", "from B", "base"]);
    std::fs::write(db.path().join("b.txt"), "machine B, again").unwrap();
    checkpoint(&b, db.path(), "B again").await;
    let want = ["B again", "from A", "from B", "base"];
    assert_eq!(messages(&b).await, want);
}

/// Machine A's write of a project's record is held after A changed the project in its
/// index; B writes another file meanwhile; A's record arrives stale, is refused, and A
/// redoes its write on top of B's: both files on both machines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_write_overtaken_by_another_machine_is_redone_on_top() {
    let store = Arc::new(FaultStore::new());
    let (a, b) = (machine(&store).artifacts(), machine(&store).artifacts());
    let ana = Caller::new("team", Some("ana"), None).unwrap();
    let req = CreateProject {
        name: "Intro".into(),
        ..CreateProject::default()
    };
    let id = a.create_project(&ana, req).await.unwrap().id;
    let path = |p: &str| ProjectPath::parse(p).unwrap();
    let bytes = |s: &str| Source::Bytes(s.as_bytes().to_vec());
    b.write_file(&ana, id, path("src/x.tsx"), bytes("x"), false)
        .await
        .unwrap();

    let gate = Gate::default();
    store.inject_at(
        Op::Put,
        &format!("projects/{id}"),
        Fault::Hold(gate.clone()),
    );
    let held = {
        let (a, ana) = (a.clone(), ana.clone());
        tokio::spawn(async move {
            a.write_file(&ana, id, path("src/y.tsx"), bytes("y"), false)
                .await
        })
    };
    tokio::task::block_in_place(|| gate.wait_arrived());
    b.write_file(&ana, id, path("src/z.tsx"), bytes("z"), false)
        .await
        .unwrap();
    gate.open();
    held.await.unwrap().unwrap();

    for side in [&a, &b] {
        let files: Vec<String> = side
            .list_files(&ana, id, Some(path("src")), false)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(files, ["src/x.tsx", "src/y.tsx", "src/z.tsx"]);
    }
}
