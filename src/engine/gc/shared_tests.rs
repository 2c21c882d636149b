//! GC across machines on one shared (fault-injecting, in-memory) store: two phases,
//! marks every writer reads, and writers held at the commit point while gc runs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStoreExt;
use object_store::path::Path as StorePath;

use crate::artifact::{AssetInput, Caller, Source};
use crate::engine::progress::NoProgress;
use crate::store::faults::{Fault, FaultStore, Gate, Op, machine};
use crate::{CheckpointOptions, GcOptions, GcReport, Repository};

/// The bytes only the asset holds (and, later, a checkpoint's file).
const FOOTAGE: &[u8] = b"footage no checkpoint holds, several words long";

/// A store two machines have joined (two `machines/` keys).
async fn shared_store() -> Arc<FaultStore> {
    let store = Arc::new(FaultStore::new());
    for m in ["machines/a", "machines/b"] {
        store
            .put(&StorePath::from(m), b"{}".to_vec().into())
            .await
            .unwrap();
    }
    store
}

async fn gc(repo: &Repository) -> GcReport {
    let opts = GcOptions {
        grace: Duration::ZERO,
        ..GcOptions::default()
    };
    repo.gc(opts).await.unwrap()
}

/// Machine `repo` stores FOOTAGE as an asset and deletes it: its pack is dead.
async fn dead_footage(repo: &Repository) {
    let ana = Caller::new("team", Some("ana"), None).unwrap();
    let input = AssetInput {
        mime: "video/mp4".into(),
        original_name: "take1.mp4".into(),
        ..AssetInput::default()
    };
    let arts = repo.artifacts();
    let info = arts
        .store_asset(&ana, Source::Bytes(FOOTAGE.to_vec()), input)
        .await
        .unwrap();
    arts.delete_blob(&ana, info.id).await.unwrap();
}

async fn packs(store: &FaultStore) -> usize {
    store.names("packs").await.len()
}

async fn checkpoint(repo: &Repository, dir: &Path) {
    let opts = CheckpointOptions::default();
    repo.checkpoint(dir, opts, Arc::new(NoProgress))
        .await
        .unwrap();
}

/// Starts a checkpoint of `dir` on `repo` and returns once it is held at its commit
/// point (its `refs/HEAD` write waits at the gate): it has staged everything, relying
/// on the packs its index knows, and published nothing.
fn hold_checkpoint(
    store: &FaultStore,
    repo: &Repository,
    dir: &Path,
) -> (Gate, tokio::task::JoinHandle<()>) {
    let gate = Gate::default();
    store.inject_at(Op::Put, "refs/HEAD", Fault::Hold(gate.clone()));
    let held = {
        let (repo, dir) = (repo.clone(), dir.to_owned());
        tokio::spawn(async move { checkpoint(&repo, &dir).await })
    };
    tokio::task::block_in_place(|| gate.wait_arrived());
    (gate, held)
}

/// Restores HEAD on a machine that never saw anything: every byte must be there.
async fn restore_on_a_fresh_machine(store: &Arc<FaultStore>) -> Vec<u8> {
    let fresh = machine(store);
    tokio::task::block_in_place(|| crate::engine::shared::sync(fresh.engine())).unwrap();
    let out = tempfile::tempdir().unwrap();
    let to = out.path().join("r");
    fresh
        .restore("HEAD", &to, Arc::new(NoProgress))
        .await
        .unwrap();
    std::fs::read(to.join("take1.mp4")).unwrap()
}

/// A dead pack is condemned by one run and deleted by a later run on another machine;
/// the first machine's index then forgets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_pack_is_condemned_then_deleted_by_a_later_run() {
    let store = shared_store().await;
    let (a, b) = (machine(&store), machine(&store));
    dead_footage(&a).await;
    let before = packs(&store).await;

    let first = gc(&b).await;
    assert_eq!(first.packs_condemned.len(), 1, "{first:?}");
    assert!(first.packs_deleted.is_empty(), "{first:?}");
    assert_eq!(
        packs(&store).await,
        before,
        "nothing is deleted in the first phase"
    );

    let second = gc(&a).await;
    assert_eq!(second.packs_deleted, first.packs_condemned, "{second:?}");
    assert_eq!(packs(&store).await, before - 1);
    tokio::task::block_in_place(|| crate::engine::shared::sync(b.engine())).unwrap();
    for m in [&a, &b] {
        let report = m.fsck(false).await.unwrap();
        assert!(report.is_clean(), "{report:?}");
    }
}

/// A checkpoint that relied on a pack (deduplicated against it) before gc condemned it
/// publishes before the pack's mark is ripe: the next run finds the pack live again,
/// rescues it, and deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_relied_on_before_it_was_condemned_is_rescued() {
    let store = shared_store().await;
    let (a, b) = (machine(&store), machine(&store));
    dead_footage(&a).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("take1.mp4"), FOOTAGE).unwrap();
    tokio::task::block_in_place(|| crate::engine::shared::sync(b.engine())).unwrap();
    tokio::task::block_in_place(|| crate::engine::shared::index_new_packs(b.engine())).unwrap();

    let (gate, held) = hold_checkpoint(&store, &b, dir.path());
    let first = gc(&a).await;
    gate.open();
    held.await.unwrap();
    // The footage's pack, and the pack the held checkpoint stored (indexed by this gc,
    // unreferenced until the checkpoint publishes; the grace of 0 s lets it be judged).
    assert_eq!(first.packs_condemned.len(), 2, "{first:?}");

    let mut second = gc(&a).await;
    assert!(second.packs_deleted.is_empty(), "{second:?}");
    second.packs_rescued.sort();
    let mut condemned = first.packs_condemned.clone();
    condemned.sort();
    assert_eq!(second.packs_rescued, condemned, "{second:?}");
    assert_eq!(restore_on_a_fresh_machine(&store).await, FOOTAGE);
}

/// A checkpoint that starts after the mark does not rely on the condemned pack: held
/// at its commit point while another machine's gc deletes the pack, it still publishes
/// a checkpoint whose every byte is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_starts_after_the_mark_stores_the_bytes_again() {
    let store = shared_store().await;
    let (a, b) = (machine(&store), machine(&store));
    dead_footage(&a).await;
    tokio::task::block_in_place(|| crate::engine::shared::sync(b.engine())).unwrap();
    tokio::task::block_in_place(|| crate::engine::shared::index_new_packs(b.engine())).unwrap();
    let first = gc(&a).await;
    assert_eq!(first.packs_condemned.len(), 1, "{first:?}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("take1.mp4"), FOOTAGE).unwrap();
    let (gate, held) = hold_checkpoint(&store, &b, dir.path());
    let second = gc(&a).await;
    gate.open();
    held.await.unwrap();
    assert_eq!(second.packs_deleted, first.packs_condemned, "{second:?}");

    assert_eq!(restore_on_a_fresh_machine(&store).await, FOOTAGE);
}

/// On `repo`, a pack that is mostly dead: v1 stored small notes with 200 KB of
/// footage in one pack, the checkpoint after it keeps only the notes, and v1 is
/// deleted. Returns the notes.
async fn mostly_dead_pack(repo: &Repository, dir: &Path) -> Vec<u8> {
    let notes = b"notes every checkpoint keeps".to_vec();
    std::fs::write(dir.join("notes.txt"), &notes).unwrap();
    std::fs::write(dir.join("take1.mp4"), vec![7u8; 200_000]).unwrap();
    let v1 = CheckpointOptions {
        name: Some("v1".into()),
        ..CheckpointOptions::default()
    };
    repo.checkpoint(dir, v1, Arc::new(NoProgress))
        .await
        .unwrap();
    std::fs::remove_file(dir.join("take1.mp4")).unwrap();
    std::fs::write(dir.join("more.txt"), b"v2").unwrap();
    checkpoint(repo, dir).await;
    repo.delete_checkpoint("v1").await.unwrap();
    notes
}

/// A mostly dead pack is condemned, then repacked by a later run on another machine:
/// its live objects are copied into a new pack before it is deleted. The first
/// machine, whose index still places them in the old pack, reads them anyway (the read
/// that finds the pack gone learns of the repack and reads again), and its fsck is
/// clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mostly_dead_pack_is_repacked_and_other_machines_follow() {
    let store = shared_store().await;
    let (a, b) = (machine(&store), machine(&store));
    let dir = tempfile::tempdir().unwrap();
    let notes = mostly_dead_pack(&a, dir.path()).await;
    // B reads everything now, so its index places the notes in the old pack.
    tokio::task::block_in_place(|| crate::engine::shared::sync(b.engine())).unwrap();

    let first = gc(&b).await;
    assert_eq!(first.plan.repack.len(), 1, "{first:?}");
    assert_eq!(first.packs_condemned.len(), 1, "{first:?}");
    let second = gc(&a).await;
    assert_eq!(second.packs_repacked, first.packs_condemned, "{second:?}");

    let out = tempfile::tempdir().unwrap();
    let to = out.path().join("r");
    b.restore("HEAD", &to, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(std::fs::read(to.join("notes.txt")).unwrap(), notes);
    for m in [&a, &b] {
        let report = m.fsck(true).await.unwrap();
        assert!(report.is_clean(), "{report:?}");
    }
}

/// A machine that indexed a repack's copy while the old pack still stood keeps the
/// old location (the old pack was indexed and, on that machine, not condemned). When
/// it learns the old pack was deleted, it finds the objects again in the copy it
/// already indexed: without that, dropping the pack loses them ("object not found").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_a_deleted_pack_are_found_in_a_copy_already_indexed() {
    let store = shared_store().await;
    let (a, b) = (machine(&store), machine(&store));
    let dir = tempfile::tempdir().unwrap();
    let notes = mostly_dead_pack(&a, dir.path()).await;
    tokio::task::block_in_place(|| crate::engine::shared::sync(b.engine())).unwrap();

    // A condemns the mostly dead pack, then repacks it: the notes are copied out, the
    // old pack is deleted and marked deleted.
    let first = gc(&a).await;
    assert_eq!(first.packs_condemned.len(), 1, "{first:?}");
    let second = gc(&a).await;
    assert_eq!(second.packs_repacked, first.packs_condemned, "{second:?}");
    // B indexes the copy without learning of the marks: it keeps the old location.
    tokio::task::block_in_place(|| crate::engine::shared::index_new_packs(b.engine())).unwrap();
    let engine = b.engine();
    let notes_id = crate::hash::Hash::of(&notes);
    let old = engine.index.location(&notes_id).unwrap().unwrap();
    assert_eq!(
        old.pack, first.packs_condemned[0],
        "B still places the notes in the old pack"
    );

    tokio::task::block_in_place(|| crate::engine::gc::learn(engine)).unwrap();
    let moved = engine.index.location(&notes_id).unwrap();
    assert!(
        moved.is_some_and(|l| l.pack != old.pack),
        "the notes are located in the copy: {moved:?}"
    );
    let out = tempfile::tempdir().unwrap();
    let to = out.path().join("r");
    b.restore("HEAD", &to, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(std::fs::read(to.join("notes.txt")).unwrap(), notes);
    let report = b.fsck(true).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
}
