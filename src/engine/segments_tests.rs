//! Index segments on a shared (fault-injecting, in-memory) store: a rebuild and a
//! second machine's sync learn packs from them, not from every pack's trailer; a
//! damaged or missing segment costs only trailer reads; gc merges them and leaves out
//! deleted packs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStoreExt;
use object_store::path::Path as StorePath;

use crate::engine::progress::NoProgress;
use crate::engine::rebuild::{RebuildReport, rebuild};
use crate::store::faults::FaultStore;
use crate::store::{ObjectStoreBackend, SEGMENTS_PREFIX, parse_segment};
use crate::{CheckpointOptions, GcOptions, RepoConfig, Repository};

/// A machine on `store` (a remote one, so shared) writing packs of about 1 MiB.
fn machine(store: &Arc<FaultStore>) -> Repository {
    let backend = ObjectStoreBackend::new(
        store.clone(),
        StorePath::default(),
        "fault://".into(),
        tokio::runtime::Handle::current(),
    )
    .with_parallel_reads(4);
    let config = RepoConfig {
        pack_target: 1 << 20,
        ..RepoConfig::default()
    };
    Repository::on_backend(config, Arc::new(backend))
}

/// Writes `n` incompressible 64 KiB files named `<tag><i>.bin` into `dir`.
fn footage(dir: &Path, tag: &str, n: usize) {
    for i in 0..n {
        let bytes: Vec<u8> = (0..64 * 1024).map(|_| rand::random::<u8>()).collect();
        std::fs::write(dir.join(format!("{tag}{i}.bin")), bytes).unwrap();
    }
}

async fn checkpoint(repo: &Repository, dir: &Path) {
    repo.checkpoint(dir, CheckpointOptions::default(), Arc::new(NoProgress))
        .await
        .unwrap();
}

/// Every file under `dir`, sorted, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// HEAD on `repo` restores exactly the files of `dir`.
async fn restores(repo: &Repository, dir: &Path) {
    let out = tempfile::tempdir().unwrap();
    repo.restore("HEAD", out.path(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(files(out.path()), files(dir));
}

/// Brings `repo`'s index in line with the bucket (what opening a repository does).
fn sync(repo: &Repository) {
    tokio::task::block_in_place(|| crate::engine::shared::sync(repo.engine())).unwrap();
}

/// A rebuild on a new machine's empty index, and what it cost in GETs.
fn rebuild_on(repo: &Repository, store: &FaultStore) -> (RebuildReport, u64) {
    let before = store.counts().get;
    let mut report = RebuildReport::default();
    rebuild(repo.engine(), &mut report).unwrap();
    (report, store.counts().get - before)
}

/// Two checkpoints on machine A: the packs of both, in a directory it keeps.
async fn two_checkpoints(store: &Arc<FaultStore>) -> (Repository, tempfile::TempDir) {
    let a = machine(store);
    let dir = tempfile::tempdir().unwrap();
    footage(dir.path(), "a", 60);
    checkpoint(&a, dir.path()).await;
    footage(dir.path(), "b", 30);
    checkpoint(&a, dir.path()).await;
    (a, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_learns_every_pack_from_the_segments() {
    let store = Arc::new(FaultStore::new());
    let (_a, dir) = two_checkpoints(&store).await;
    let packs = store.names("packs").await.len() as u64;
    let segments = store.names("index").await.len() as u64;
    assert!(packs >= 5, "{packs} packs");
    assert_eq!(segments, 2, "one segment per checkpoint");

    let b = machine(&store);
    let (report, gets) = tokio::task::block_in_place(|| rebuild_on(&b, &store));
    eprintln!("{packs} packs, {segments} segments: {report:?}, {gets} GETs");
    assert_eq!((report.packs, report.packs_from_segments), (packs, packs));
    assert_eq!(report.trailers_read, 0);
    assert_eq!(report.checkpoints, 2);
    // The segments, then the two commits and their trees: no trailer (two GETs each).
    assert!(gets <= segments + 6, "{gets} GETs");

    restores(&b, dir.path()).await;
    assert!(b.fsck(true).await.unwrap().is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_missing_segment_costs_only_trailer_reads() {
    let store = Arc::new(FaultStore::new());
    let (_a, dir) = two_checkpoints(&store).await;
    let packs = store.names("packs").await.len() as u64;
    let names = store.names("index").await;
    let [first, second] = names.as_slice() else {
        panic!("{names:?}");
    };
    let bytes = store.get(&StorePath::from(first.as_str())).await.unwrap();
    let first_packs = parse_segment(first, &bytes.bytes().await.unwrap())
        .unwrap()
        .len() as u64;
    let bytes = store.get(&StorePath::from(second.as_str())).await.unwrap();
    let mut damaged = bytes.bytes().await.unwrap().to_vec();
    let second_packs = parse_segment(second, &damaged).unwrap().len() as u64;
    damaged[40] ^= 0xff;
    store
        .put(&StorePath::from(second.as_str()), damaged.into())
        .await
        .unwrap();
    store
        .delete(&StorePath::from(first.as_str()))
        .await
        .unwrap();
    assert_eq!(first_packs + second_packs, packs);

    let b = machine(&store);
    let (report, _) = tokio::task::block_in_place(|| rebuild_on(&b, &store));
    assert_eq!(report.packs, packs);
    assert_eq!(report.trailers_read, packs, "{report:?}");
    assert!(report.damaged_packs.is_empty(), "{report:?}");
    restores(&b, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_reads_each_segment_once_and_forgets_merged_ones() {
    let store = Arc::new(FaultStore::new());
    let (a, dir) = two_checkpoints(&store).await;
    let b = machine(&store);
    sync(&b);
    assert_eq!(b.log(None, 10).await.unwrap().len(), 2);
    let read = |repo: &Repository| repo.engine().index.segments_read().unwrap();
    let first: std::collections::HashSet<String> = store.names("index").await.into_iter().collect();
    assert_eq!(read(&b), first);

    // A third checkpoint; one of the segments B read is gone meanwhile (merged).
    footage(dir.path(), "c", 20);
    checkpoint(&a, dir.path()).await;
    let gone = first.iter().next().unwrap().clone();
    store.delete(&StorePath::from(gone.as_str())).await.unwrap();
    let before = store.counts().get;
    sync(&b);
    let gets = store.counts().get - before;
    assert_eq!(b.log(None, 10).await.unwrap().len(), 3);
    let now: std::collections::HashSet<String> = store.names("index").await.into_iter().collect();
    assert_eq!(read(&b), now);
    assert!(!read(&b).contains(&gone));
    // HEAD, the new segment, the new commit: the segments read before are not again.
    assert!(gets <= 3, "{gets} GETs");
    restores(&b, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_merges_the_segments_without_the_packs_it_deleted() {
    let store = Arc::new(FaultStore::new());
    let (a, dir) = two_checkpoints(&store).await;
    // An asset stored and deleted: its packs are dead.
    let ana = crate::artifact::Caller::new("team", Some("ana"), None).unwrap();
    let footage: Vec<u8> = (0..3 << 20).map(|_| rand::random::<u8>()).collect();
    let input = crate::artifact::AssetInput {
        mime: "video/mp4".into(),
        original_name: "take1.mp4".into(),
        ..crate::artifact::AssetInput::default()
    };
    let arts = a.artifacts();
    let info = arts
        .store_asset(&ana, crate::artifact::Source::Bytes(footage), input)
        .await
        .unwrap();
    arts.delete_blob(&ana, info.id).await.unwrap();
    assert_eq!(store.names("index").await.len(), 3);
    let opts = GcOptions {
        grace: Duration::ZERO,
        ..GcOptions::default()
    };
    let report = a.gc(opts).await.unwrap();
    assert!(!report.packs_deleted.is_empty(), "{report:?}");
    assert_eq!(report.segments_merged, 3, "{report:?}");
    let names = store.names("index").await;
    let [merged] = names.as_slice() else {
        panic!("{names:?}");
    };
    let bytes = store.get(&StorePath::from(merged.as_str())).await.unwrap();
    let listed: Vec<_> = parse_segment(merged, &bytes.bytes().await.unwrap())
        .unwrap()
        .into_iter()
        .map(|p| crate::store::pack_name(&p.id))
        .collect();
    let mut packs = store.names("packs").await;
    packs.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        sorted, packs,
        "the merged segment names exactly the packs left"
    );

    let b = machine(&store);
    let (report, _) = tokio::task::block_in_place(|| rebuild_on(&b, &store));
    assert_eq!(report.trailers_read, 0, "{report:?}");
    assert_eq!(report.checkpoints, 2);
    restores(&b, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_segments_are_merged_even_when_nothing_was_deleted() {
    let store = Arc::new(FaultStore::new());
    let a = machine(&store);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..16 {
        std::fs::write(dir.path().join(format!("f{i}.txt")), format!("step {i}")).unwrap();
        checkpoint(&a, dir.path()).await;
    }
    assert_eq!(store.names(SEGMENTS_PREFIX).await.len(), 16);
    let report = a.gc(GcOptions::default()).await.unwrap();
    assert!(report.packs_deleted.is_empty(), "{report:?}");
    assert_eq!(report.segments_merged, 16);
    assert_eq!(store.names(SEGMENTS_PREFIX).await.len(), 1);
    let b = machine(&store);
    let (report, _) = tokio::task::block_in_place(|| rebuild_on(&b, &store));
    assert_eq!((report.checkpoints, report.trailers_read), (16, 0));
}
