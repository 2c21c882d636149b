//! GC across machines and delta chunks: a writer's check before it publishes copies
//! the bases of its deltas with everything else it relies on.

use std::sync::Arc;

use super::shared_tests::{fresh_restore, gc, hold_after_staging, shared_store};
use crate::engine::progress::NoProgress;
use crate::store::faults::{Fault, Gate, Op, machine};
use crate::{CheckpointOptions, Repository};

/// 1 MiB of incompressible bytes: footage, several chunks long.
fn footage() -> Vec<u8> {
    let mut bytes = vec![0u8; 1 << 20];
    blake3::Hasher::new()
        .update(b"footage")
        .finalize_xof()
        .fill(&mut bytes);
    bytes
}

async fn checkpoint(repo: &Repository, dir: &std::path::Path) -> crate::CommitId {
    let opts = CheckpointOptions::default();
    repo.checkpoint(dir, opts, Arc::new(NoProgress))
        .await
        .unwrap()
        .id
}

/// Machine B restores A's footage and edits it in the middle; its checkpoint stores the
/// changed chunk as a delta against the old one, in the pack A's checkpoint wrote. A
/// has meanwhile forgotten that checkpoint, and its gc condemns the pack while B is held
/// before its check of the marks, then deletes it while B is held before publishing.
/// B's check copied the old chunk (the delta's base, which no tree names) with the
/// chunks it deduplicated, so B's checkpoint restores whole on a fresh machine.
/// (With gc's marking of bases off, the base is not copied and the restore fails.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_copies_the_bases_of_its_deltas_out_of_a_condemned_pack() {
    let store = shared_store().await;
    let (a, b) = (machine(&store), machine(&store));
    let footage = footage();
    let on_a = tempfile::tempdir().unwrap();
    std::fs::write(on_a.path().join("take.mov"), &footage).unwrap();
    let first = checkpoint(&a, on_a.path()).await;

    let on_b = tempfile::tempdir().unwrap();
    let work = on_b.path().join("w");
    tokio::task::block_in_place(|| crate::engine::shared::sync(b.engine())).unwrap();
    b.restore("HEAD", &work, Arc::new(NoProgress))
        .await
        .unwrap();

    // A moves on without the footage and forgets the checkpoint that held it.
    std::fs::remove_file(on_a.path().join("take.mov")).unwrap();
    std::fs::write(on_a.path().join("notes.txt"), b"cut the take").unwrap();
    checkpoint(&a, on_a.path()).await;
    a.delete_checkpoint(&first.0.to_hex()).await.unwrap();

    let mid = footage.len() / 2;
    let edited = [
        &footage[..mid],
        b"a new frame, four KiB or so".repeat(150).as_slice(),
        &footage[mid..],
    ]
    .concat();
    std::fs::write(work.join("take.mov"), &edited).unwrap();
    let head_move = Gate::default();
    store.inject_at(Op::Put, "refs/HEAD", Fault::Hold(head_move.clone()));
    let (staged, held) = hold_after_staging(&store, &b, &work);
    let condemned = gc(&a).await;
    assert!(!condemned.packs_condemned.is_empty(), "{condemned:?}");
    staged.open();
    tokio::task::block_in_place(|| head_move.wait_arrived());
    let deleted = gc(&a).await;
    assert!(
        condemned
            .packs_condemned
            .iter()
            .all(|p| deleted.packs_deleted.contains(p) || deleted.packs_repacked.contains(p)),
        "{condemned:?} {deleted:?}"
    );
    head_move.open();
    held.await.unwrap().unwrap();
    assert!(b.stats().await.unwrap().deltas >= 1, "B stored no delta");

    assert!(fresh_restore(&store, "take.mov").await == edited);
}
