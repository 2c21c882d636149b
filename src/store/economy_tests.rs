//! Request economy and retries, counted on a fault-injecting store: a checkpoint of
//! 15,000 small files costs a PUT per pack, a restore a GET per block of its packs, an
//! `fsck --read-data` a GET per pack; a write whose answer was lost is retried and found.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use object_store::path::Path as StorePath;
use tokio::runtime::Handle;

use super::faults::{Counts, Fault, FaultStore, Op};
use super::{BlobBackend, DEFAULT_CACHE_BYTES, ObjectStoreBackend, ReadCache};
use crate::engine::progress::NoProgress;
use crate::{CheckpointOptions, RepoConfig, Repository};

const FILES: usize = 15_000;

fn backend(store: &Arc<FaultStore>) -> ObjectStoreBackend {
    ObjectStoreBackend::new(
        store.clone(),
        StorePath::default(),
        "fault://".into(),
        Handle::current(),
    )
    .with_parallel_reads(16)
}

/// A `node_modules`-like tree: 150 directories of 100 files of 200 B – 4 KiB.
fn small_files(root: &Path) -> u64 {
    let mut total = 0;
    for i in 0..FILES {
        let dir = root.join(format!("node_modules/pkg-{:03}/lib", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        let len = 200 + (i * 7919) % 3900;
        // Source-like text: half repeated words, half hex noise (compresses about 2×).
        let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut body = String::with_capacity(len + 32);
        while body.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            writeln!(body, "export const v{} = 0x{:08x};", x % 97, x as u32).unwrap();
        }
        body.truncate(len);
        std::fs::write(dir.join(format!("m{i}.js")), body).unwrap();
        total += len as u64;
    }
    total
}

fn since(store: &FaultStore, before: Counts) -> Counts {
    let now = store.counts();
    Counts {
        put: now.put - before.put,
        get: now.get - before.get,
        head: now.head - before.head,
        delete: now.delete - before.delete,
        list: now.list - before.list,
    }
}

fn tree_of(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_files_cost_requests_per_pack_and_block_not_per_file() {
    let store = Arc::new(FaultStore::new());
    let cached: Arc<dyn BlobBackend> = Arc::new(ReadCache::new(
        Arc::new(backend(&store)),
        DEFAULT_CACHE_BYTES,
    ));
    // Small packs, so that the restore spans several.
    let config = RepoConfig {
        pack_target: 4 << 20,
        ..RepoConfig::default()
    };
    let repo = Repository::on_backend(config, cached);
    let src = tempfile::tempdir().unwrap();
    small_files(src.path());

    let before = store.counts();
    repo.checkpoint(
        src.path(),
        CheckpointOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    let c = since(&store, before);
    let packs = store_packs(&store).await;
    let pack_bytes: u64 = packs.iter().sum();
    assert!(!packs.is_empty());
    eprintln!(
        "{FILES} files, {} packs of {pack_bytes} B; checkpoint: {c:?}",
        packs.len()
    );
    // One PUT per pack, one for their index segment, one for `refs/HEAD` and one for
    // the checkpoint's record; nothing per file. Reads: `refs/HEAD` before the scan and
    // before it moves, the listings of records and tombstones, and of gc's marks (at
    // the sync, as the writer registers, and just before HEAD moves); no pack is read
    // back.
    assert_eq!(c.put, packs.len() as u64 + 3, "{c:?}");
    assert_eq!((c.get, c.delete), (2, 0), "{c:?}");
    assert!(c.list <= 5, "{c:?}");

    let before = store.counts();
    assert!(repo.fsck(true).await.unwrap().is_clean());
    let c = since(&store, before);
    eprintln!("fsck --read-data: {c:?}");
    // Every pack read once, whole; the checkpoint walk reads nothing again (and it
    // runs on a cold cache: whole reads do not fill it).
    assert_eq!(c.get, packs.len() as u64, "{c:?}");

    let dst = tempfile::tempdir().unwrap();
    let before = store.counts();
    repo.restore("HEAD", dst.path(), Arc::new(NoProgress))
        .await
        .unwrap();
    let c = since(&store, before);
    assert_eq!(tree_of(src.path()), tree_of(dst.path()));
    eprintln!("restore: {c:?}");
    // At most one GET per block of the packs (plus the block a boundary splits) and one
    // HEAD per pack; without the block cache this was one GET per file.
    let blocks = pack_bytes.div_ceil(super::cache::BLOCK) + packs.len() as u64;
    assert!(c.get <= blocks, "{c:?} for {blocks} blocks");
    assert!(c.head <= packs.len() as u64, "{c:?}");
    assert_eq!(c.put, 0, "{c:?}");
}

async fn store_packs(store: &FaultStore) -> Vec<u64> {
    use futures::TryStreamExt;
    use object_store::ObjectStore;
    store
        .list(Some(&StorePath::from("packs")))
        .map_ok(|m| m.size)
        .try_collect()
        .await
        .unwrap()
}

/// A create-only write whose answer was lost (it landed) is retried and found; one that
/// failed before reaching the store is retried and written.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_in_doubt_are_retried_until_their_outcome_is_known() {
    use super::Created;
    let store = Arc::new(FaultStore::new());
    let b = backend(&store);
    let bytes = bytes::Bytes::from_static(b"pack bytes");

    store.inject(Op::Put, Fault::After);
    let got = tokio::task::block_in_place(|| b.create("packs/a.pack", bytes.clone())).unwrap();
    assert_eq!(got, Created::Existed);
    assert_eq!(store.counts().put, 2);

    store.inject(Op::Put, Fault::Before);
    store.inject(Op::Put, Fault::Before);
    let got = tokio::task::block_in_place(|| b.create("packs/b.pack", bytes.clone())).unwrap();
    assert_eq!(got, Created::New);
    assert_eq!(store.counts().put, 5);
    let read = tokio::task::block_in_place(|| b.get("packs/b.pack")).unwrap();
    assert_eq!(read, bytes);
}

/// Reads are not retried by us (the store's retry policy covers them), but a failed
/// block fetch is not cached: the next read fetches it again and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_block_read_is_not_remembered() {
    let store = Arc::new(FaultStore::new());
    let cache = ReadCache::new(Arc::new(backend(&store)), DEFAULT_CACHE_BYTES);
    let data: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    tokio::task::block_in_place(|| cache.put("packs/c.pack", data.clone().into())).unwrap();

    store.inject(Op::Get, Fault::Before);
    let at = 1_048_000..1_049_000;
    assert!(tokio::task::block_in_place(|| cache.get_object("packs/c.pack", at.clone())).is_err());
    let got = tokio::task::block_in_place(|| cache.get_object("packs/c.pack", at.clone())).unwrap();
    assert_eq!(&got[..], &data[at.start as usize..at.end as usize]);
    // The range spans two blocks: both fetched once, then served from memory.
    let gets = store.counts().get;
    let again =
        tokio::task::block_in_place(|| cache.get_object("packs/c.pack", 1_048_500..1_048_600))
            .unwrap();
    assert_eq!(&again[..], &data[1_048_500..1_048_600]);
    assert_eq!(store.counts().get, gets);
}

/// A checkpoint that fails midway (the store refuses its fourth pack) keeps the packs
/// it stored; the re-run uploads only the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_checkpoint_rerun_reuses_the_packs_already_uploaded() {
    let src = tempfile::tempdir().unwrap();
    small_files(src.path());
    let config = || RepoConfig {
        pack_target: 1 << 20,
        ..RepoConfig::default()
    };
    let opts = CheckpointOptions::default;

    // A clean run on its own store: how many packs the whole tree takes.
    let clean = Arc::new(FaultStore::new());
    let repo = Repository::on_backend(config(), Arc::new(backend(&clean)));
    repo.checkpoint(src.path(), opts(), Arc::new(NoProgress))
        .await
        .unwrap();
    let whole = clean.counts().put;
    assert!(whole >= 6, "{whole} packs");

    let store = Arc::new(FaultStore::new());
    let repo = Repository::on_backend(config(), Arc::new(backend(&store)));
    for _ in 0..3 {
        store.inject(Op::Put, Fault::Pass);
    }
    store.inject(Op::Put, Fault::Refuse);
    let err = repo
        .checkpoint(src.path(), opts(), Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    let first = store.counts().put;
    let landed = store_packs(&store).await.len() as u64;
    assert!(landed >= 3, "{landed} packs landed");

    repo.checkpoint(src.path(), opts(), Arc::new(NoProgress))
        .await
        .unwrap();
    let rerun = store.counts().put - first;
    eprintln!(
        "whole tree: {whole} packs; failed run: {first} PUTs, {landed} landed; re-run: {rerun} PUTs"
    );
    // The packs that landed are not uploaded again (the last, partial one may differ).
    assert!(rerun + landed <= whole + 1, "re-run uploaded {rerun}");
    assert!(repo.fsck(true).await.unwrap().is_clean());
    let dst = tempfile::tempdir().unwrap();
    repo.restore("HEAD", dst.path(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(tree_of(src.path()), tree_of(dst.path()));
}

/// Reads that are not object reads (a rebuild's trailers) fetch only what they ask
/// for: a rebuild must not download a block of every pack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_range_reads_bypass_the_blocks() {
    let store = Arc::new(FaultStore::new());
    let cache = ReadCache::new(Arc::new(backend(&store)), DEFAULT_CACHE_BYTES);
    let data: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 241) as u8).collect();
    tokio::task::block_in_place(|| cache.put("packs/d.pack", data.clone().into())).unwrap();
    let tail = (3 << 20) - 12..3 << 20;
    for _ in 0..2 {
        let got =
            tokio::task::block_in_place(|| cache.get_range("packs/d.pack", tail.clone())).unwrap();
        assert_eq!(got.len(), 12);
    }
    // Two GETs of 12 bytes each, no HEAD, nothing cached.
    let c = store.counts();
    assert_eq!((c.get, c.head), (2, 0), "{c:?}");
    assert!(
        format!("{cache:?}").contains("cached_bytes: 0"),
        "{cache:?}"
    );
}

/// Blocks kept on disk serve the next process without a request; a damaged block file
/// is detected, dropped and fetched again; the files stay within their bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_on_disk_serve_the_next_process_and_are_verified() {
    use super::DiskBlocks;
    let store = Arc::new(FaultStore::new());
    let dir = tempfile::tempdir().unwrap();
    let cache = || {
        ReadCache::new(Arc::new(backend(&store)), DEFAULT_CACHE_BYTES)
            .with_disk(DiskBlocks::open(dir.path(), 3 << 20))
    };
    let data: Vec<u8> = (0..5 << 20).map(|i: u32| (i % 239) as u8).collect();
    let name = format!("packs/{}.pack", "ab".repeat(32));
    tokio::task::block_in_place(|| cache().put(&name, data.clone().into())).unwrap();
    let read = |c: &ReadCache, at: u64| {
        let r = at..at + 1000;
        let got = tokio::task::block_in_place(|| c.get_object(&name, r.clone())).unwrap();
        assert_eq!(&got[..], &data[r.start as usize..r.end as usize]);
    };

    let first = cache();
    read(&first, 10);
    read(&first, (1 << 20) + 10);
    assert_eq!(store.counts().get, 2);
    // Another process (a fresh cache on the same directory): no GET.
    let second = cache();
    read(&second, 10);
    read(&second, (1 << 20) + 10);
    assert_eq!(store.counts().get, 2);

    // Damage block 0 on disk: the next process notices, fetches it again, and the
    // bytes it returns are the store's.
    let block0 = dir
        .path()
        .join("ab")
        .join(format!("{}-0.blk", "ab".repeat(32)));
    let mut bytes = std::fs::read(&block0).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&block0, bytes).unwrap();
    read(&cache(), 10);
    assert_eq!(store.counts().get, 3);

    // Five blocks through a 3 MiB bound: what stays on disk fits in it.
    let third = cache();
    for i in 0..5 {
        read(&third, i * (1 << 20) + 5);
    }
    let on_disk: u64 = walk(dir.path());
    assert!(on_disk <= 3 << 20, "{on_disk} bytes cached");
}

fn walk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            if m.is_dir() { walk(&e.path()) } else { m.len() }
        })
        .sum()
}
