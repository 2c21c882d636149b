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
pub(super) async fn shared_store() -> Arc<FaultStore> {
    let store = Arc::new(FaultStore::new());
    for m in ["machines/a", "machines/b"] {
        store
            .put(&StorePath::from(m), b"{}".to_vec().into())
            .await
            .unwrap();
    }
    store
}

pub(super) async fn gc(repo: &Repository) -> GcReport {
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

/// Restores HEAD on a machine that never saw anything (every byte must be there) and
/// returns its `file`.
pub(super) async fn fresh_restore(store: &Arc<FaultStore>, file: &str) -> Vec<u8> {
    let fresh = machine(store);
    tokio::task::block_in_place(|| crate::engine::shared::sync(fresh.engine())).unwrap();
    let out = tempfile::tempdir().unwrap();
    let to = out.path().join("r");
    fresh
        .restore("HEAD", &to, Arc::new(NoProgress))
        .await
        .unwrap();
    std::fs::read(to.join(file)).unwrap()
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
    assert_eq!(fresh_restore(&store, "take1.mp4").await, FOOTAGE);
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

    assert_eq!(fresh_restore(&store, "take1.mp4").await, FOOTAGE);
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

/// The pack that holds FOOTAGE on machine `repo`.
fn footage_pack(repo: &Repository) -> crate::hash::PackId {
    let id = crate::hash::Hash::of(FOOTAGE);
    repo.engine().index.location(&id).unwrap().unwrap().pack
}

/// Starts a checkpoint of `dir` on `repo` that relies on the footage's pack, and
/// returns once it is held right after staging (its index segment's write waits at
/// the gate): it has deduplicated and stored its own pack, and not yet checked the
/// marks before publishing.
pub(super) fn hold_after_staging(
    store: &FaultStore,
    repo: &Repository,
    dir: &Path,
) -> (Gate, tokio::task::JoinHandle<crate::Result<()>>) {
    let gate = Gate::default();
    store.inject_at(Op::Put, "index/", Fault::Hold(gate.clone()));
    let held = {
        let (repo, dir) = (repo.clone(), dir.to_owned());
        tokio::spawn(async move {
            let opts = CheckpointOptions::default();
            repo.checkpoint(&dir, opts, Arc::new(NoProgress))
                .await
                .map(drop)
        })
    };
    tokio::task::block_in_place(|| gate.wait_arrived());
    (gate, held)
}

/// Machine B, with the footage's pack indexed, and a directory holding the footage.
async fn b_relying_on_the_footage(
    store: &Arc<FaultStore>,
) -> (Repository, Repository, tempfile::TempDir) {
    let (a, b) = (machine(store), machine(store));
    dead_footage(&a).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("take1.mp4"), FOOTAGE).unwrap();
    tokio::task::block_in_place(|| crate::engine::shared::sync(b.engine())).unwrap();
    tokio::task::block_in_place(|| crate::engine::shared::index_new_packs(b.engine())).unwrap();
    (a, b, dir)
}

/// A writer that outlives a mark: it deduplicated against a pack, then another
/// machine's gc condemned the pack and, in a later run, deleted it — after the
/// writer's last check of the marks and before it published. The check found the mark
/// and copied what the checkpoint relies on into a pack of its own, so the checkpoint
/// it publishes has every byte. (Without the check, its footage is gone.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_outlives_a_mark_copies_what_it_relies_on() {
    let store = shared_store().await;
    let (a, b, dir) = b_relying_on_the_footage(&store).await;
    let footage = footage_pack(&b);

    let head_move = Gate::default();
    store.inject_at(Op::Put, "refs/HEAD", Fault::Hold(head_move.clone()));
    let (staged, held) = hold_after_staging(&store, &b, dir.path());
    let first = gc(&a).await;
    assert!(first.packs_condemned.contains(&footage), "{first:?}");
    staged.open();
    // B checked the marks and is about to move HEAD.
    tokio::task::block_in_place(|| head_move.wait_arrived());
    let second = gc(&a).await;
    assert!(
        second.packs_deleted.contains(&footage),
        "B has published nothing yet, so the footage's pack is dead: {second:?}"
    );
    head_move.open();
    held.await.unwrap().unwrap();

    assert_eq!(fresh_restore(&store, "take1.mp4").await, FOOTAGE);
    // B learns of the deletions (as opening the repository would) and is clean.
    tokio::task::block_in_place(|| crate::engine::shared::sync(b.engine())).unwrap();
    let report = b.fsck(true).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
}

/// A writer whose relied-on pack was deleted before its last check publishes nothing:
/// its checkpoint fails with a conflict, and running it again stores the bytes anew.
/// (Without the check it publishes a checkpoint whose footage is gone.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_whose_pack_was_deleted_meanwhile_publishes_nothing() {
    let store = shared_store().await;
    let (a, b, dir) = b_relying_on_the_footage(&store).await;
    let footage = footage_pack(&b);

    let (staged, held) = hold_after_staging(&store, &b, dir.path());
    let first = gc(&a).await;
    assert!(first.packs_condemned.contains(&footage), "{first:?}");
    let second = gc(&a).await;
    assert!(second.packs_deleted.contains(&footage), "{second:?}");
    staged.open();
    let failed = held.await.unwrap();
    assert!(
        matches!(failed, Err(crate::Error::Conflict(_))),
        "the checkpoint must fail: {failed:?}"
    );
    assert!(
        store.names("checkpoints/").await.is_empty(),
        "nothing was published"
    );

    checkpoint(&b, dir.path()).await;
    assert_eq!(fresh_restore(&store, "take1.mp4").await, FOOTAGE);
}

/// The store's time is read by writing, listing and deleting a probe: it is close to
/// this machine's (the in-memory store's clock is this machine's) and leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stores_time_is_read_and_leaves_nothing() {
    let store = shared_store().await;
    let a = machine(&store);
    let t = tokio::task::block_in_place(|| super::shared::store_time(a.engine())).unwrap();
    let skew = t
        .duration_since(std::time::SystemTime::now())
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap();
    assert!(skew < Duration::from_secs(5), "{skew:?}");
    assert!(store.names(super::shared::CLOCK_PREFIX).await.is_empty());
}

/// With a writer on another machine held at `before_check` (it has deduplicated),
/// `repo` condemns the dead packs; with the writer then held at `before_publish` (it
/// has checked the marks), `repo` deletes them. Each gate is opened after its run.
async fn condemn_then_delete(repo: &Repository, before_check: &Gate, before_publish: &Gate) {
    tokio::task::block_in_place(|| before_check.wait_arrived());
    let first = gc(repo).await;
    assert!(!first.packs_condemned.is_empty(), "{first:?}");
    before_check.open();
    tokio::task::block_in_place(|| before_publish.wait_arrived());
    let second = gc(repo).await;
    assert!(!second.packs_deleted.is_empty(), "{second:?}");
    before_publish.open();
}

/// Machine `repo` stores `bytes` as an asset of ana's and deletes it: its pack is dead.
async fn dead_asset(repo: &Repository, bytes: &[u8]) {
    let ana = Caller::new("team", Some("ana"), None).unwrap();
    let arts = repo.artifacts();
    let info = arts
        .store_asset(&ana, Source::Bytes(bytes.to_vec()), AssetInput::default())
        .await
        .unwrap();
    arts.delete_blob(&ana, info.id).await.unwrap();
}

/// The same check guards a project's record: a file written on B whose bytes B found
/// stored (in a pack A's gc then condemns) is copied before the record is published,
/// so A's next run may delete the pack while B's write is in flight and the file is
/// still there. (Without the check in the project's push, its bytes are gone.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_write_copies_what_it_relies_on_before_its_record() {
    use crate::artifact::{CreateProject, ProjectPath, Source};
    let clip: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let store = shared_store().await;
    let (a, b) = (machine(&store), machine(&store));
    let ana = Caller::new("team", Some("ana"), None).unwrap();
    dead_asset(&a, &clip).await;
    let req = CreateProject {
        name: "intro".into(),
        ..CreateProject::default()
    };
    let project = b.artifacts().create_project(&ana, req).await.unwrap().id;
    tokio::task::block_in_place(|| crate::engine::shared::index_new_packs(b.engine())).unwrap();

    // B's write deduplicates the clip, folds its tree (held at the segment's write),
    // checks the marks, then writes the record (held).
    let folded = Gate::default();
    store.inject_at(Op::Put, "index/", Fault::Hold(folded.clone()));
    let record = Gate::default();
    store.inject_at(
        Op::Put,
        &format!("projects/{project}"),
        Fault::Hold(record.clone()),
    );
    let path = ProjectPath::parse("public/clip.mp4").unwrap();
    let held = {
        let (arts, ana, path, clip) = (b.artifacts(), ana.clone(), path.clone(), clip.clone());
        tokio::spawn(async move {
            arts.write_file(&ana, project, path, Source::Bytes(clip), false)
                .await
        })
    };
    condemn_then_delete(&a, &folded, &record).await;
    held.await.unwrap().unwrap();

    let fresh = machine(&store);
    let read = fresh.artifacts().read_file(&ana, project, path, None).await;
    assert_eq!(read.unwrap(), clip);
}

/// And an asset's record: an asset stored on B whose bytes B found stored (in a pack
/// A's gc condemns while B's store runs, held at its check of the marks) is copied
/// before the record is published. (Without the check its bytes are gone.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asset_copies_what_it_relies_on_before_its_record() {
    let clip: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let store = shared_store().await;
    let (a, b) = (machine(&store), machine(&store));
    let ana = Caller::new("team", Some("ana"), None).unwrap();
    let input = AssetInput::default();
    dead_asset(&a, &clip).await;
    tokio::task::block_in_place(|| crate::engine::shared::index_new_packs(b.engine())).unwrap();

    // B's writer lists the marks as it starts (let through), then again before the
    // record (held); the record's write is held too.
    let checked = Gate::default();
    store.inject_at(Op::List, "gc/", Fault::Pass);
    store.inject_at(Op::List, "gc/", Fault::Hold(checked.clone()));
    let record = Gate::default();
    store.inject_at(Op::Put, "records/", Fault::Hold(record.clone()));
    let held = {
        let (arts, ana, clip) = (b.artifacts(), ana.clone(), clip.clone());
        tokio::spawn(async move { arts.store_asset(&ana, Source::Bytes(clip), input).await })
    };
    condemn_then_delete(&a, &checked, &record).await;
    let info = held.await.unwrap().unwrap();

    let fresh = machine(&store);
    let read = fresh.artifacts().read_blob(&ana, info.id, None).await;
    assert_eq!(read.unwrap(), clip);
}
