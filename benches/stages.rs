//! Per-stage micro-benchmarks: hashing, chunking, compression, pack writing, tree
//! building and restore. `cargo bench --bench stages`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use reelstore::internals::{
    ChunkRef, Chunker, PackWriter, PreviousChunks, Tree, TreeEntry, chunks, compress, encode,
};
use reelstore::{
    CheckpointOptions, ChunkerConfig, Compression, EntryKind, Hash, NoProgress, RepoConfig,
    Repository,
};

fn random(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    blake3::Hasher::new().finalize_xof().fill(&mut v);
    v
}

fn source_text(len: usize) -> Vec<u8> {
    b"export const Scene = ({title}: {title: string}) => <AbsoluteFill>{title}</AbsoluteFill>;\n"
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

fn hashing(c: &mut Criterion) {
    let data = random(16 << 20);
    let mut g = c.benchmark_group("hash");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("blake3 16 MiB", |b| b.iter(|| Hash::of(black_box(&data))));
    g.finish();
}

fn chunking(c: &mut Criterion) {
    let data = random(32 << 20);
    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("fastcdc 32 MiB", |b| {
        b.iter(|| chunks(black_box(&data[..]), ChunkerConfig::default()).count());
    });
    // The checkpoint's chunker: the same cuts, chunks lent from one reused buffer.
    g.bench_function("reusable-buffer chunker 32 MiB", |b| {
        b.iter(|| {
            let mut reader = black_box(&data[..]);
            let mut chunker = Chunker::new(&mut reader, ChunkerConfig::default());
            let mut n = 0;
            while let Some(mut round) = chunker.next_round().unwrap() {
                n += round.chunks().len();
            }
            n
        });
    });
    // An edited file: 4 KiB inserted in the middle, the old version's chunks known
    // (what an incremental checkpoint of edited footage does): hashing, no scan.
    let mut refs = Vec::new();
    let mut reader = &data[..];
    let mut chunker = Chunker::new(&mut reader, ChunkerConfig::default());
    while let Some(mut round) = chunker.next_round().unwrap() {
        refs.extend(round.chunks().iter().map(|c| ChunkRef {
            id: Hash::of(c),
            len: c.len() as u32,
        }));
    }
    let mut edited = data.clone();
    edited.splice(16 << 20..16 << 20, [7u8; 4096]);
    g.bench_function("edited 32 MiB, previous chunks known", |b| {
        b.iter(|| {
            let mut reader = black_box(&edited[..]);
            let previous = PreviousChunks::new(&refs, ChunkerConfig::default().max);
            let mut chunker =
                Chunker::new(&mut reader, ChunkerConfig::default()).with_previous(previous);
            let mut n = 0;
            while let Some(mut round) = chunker.next_round().unwrap() {
                round.cut(|_, _, _| -> Result<(), ()> { Ok(()) }).unwrap();
                n += 1;
            }
            n
        });
    });
    g.bench_function("edited 32 MiB, cut and hashed without them", |b| {
        b.iter(|| {
            let mut reader = black_box(&edited[..]);
            let mut chunker = Chunker::new(&mut reader, ChunkerConfig::default());
            let mut n = 0;
            while let Some(mut round) = chunker.next_round().unwrap() {
                round.cut(|_, _, _| -> Result<(), ()> { Ok(()) }).unwrap();
                n += 1;
            }
            n
        });
    });
    g.finish();
}

fn compression(c: &mut Criterion) {
    let mut g = c.benchmark_group("compress");
    for (name, data) in [
        ("text 2 KiB (a node_modules file)", source_text(2 << 10)),
        ("text 1 MiB", source_text(1 << 20)),
        ("media 1 MiB", random(1 << 20)),
    ] {
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &data, |b, d| {
            b.iter(|| compress(black_box(d.clone()), 3));
        });
    }
    g.finish();
}

fn pack_writing(c: &mut Criterion) {
    let objects: Vec<(Hash, Vec<u8>)> = (0..256u32)
        .map(|i| {
            let data = random(64 * 1024 + i as usize);
            (Hash::of(&data), data)
        })
        .collect();
    let total: usize = objects.iter().map(|(_, d)| d.len()).sum();
    let mut g = c.benchmark_group("pack");
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("256 objects", |b| {
        b.iter(|| {
            let mut w = PackWriter::default();
            for (id, d) in &objects {
                w.add(
                    reelstore::internals::ObjectKind::Chunk,
                    *id,
                    Compression::Raw,
                    d,
                    d.len() as u32,
                )
                .unwrap();
            }
            w.finish().unwrap()
        });
    });
    g.finish();
}

fn tree_building(c: &mut Criterion) {
    let entries: Vec<TreeEntry> = (0..2000u32)
        .map(|i| TreeEntry {
            name: format!("scene-{i:05}.tsx"),
            kind: EntryKind::File,
            executable: false,
            size: 1000,
            id: Hash::of(&i.to_le_bytes()),
        })
        .rev()
        .collect();
    c.bench_function("tree: sort, validate, encode, hash 2000 entries", |b| {
        b.iter(|| {
            let tree = Tree::from_entries(black_box(entries.clone())).unwrap();
            Hash::of(&encode(&tree).unwrap())
        });
    });
}

fn restore(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let src = tempfile::tempdir().unwrap();
    for i in 0..500 {
        let dir = src.path().join(format!("src/scene{}", i % 20));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("s{i}.tsx")), source_text(4096 + i)).unwrap();
    }
    std::fs::write(src.path().join("footage.mov"), random(16 << 20)).unwrap();
    let repo = rt
        .block_on(Repository::in_memory(RepoConfig::default()))
        .unwrap();
    rt.block_on(repo.checkpoint(
        src.path(),
        CheckpointOptions::default(),
        Arc::new(NoProgress),
    ))
    .unwrap();
    let mut g = c.benchmark_group("restore");
    g.sample_size(10);
    g.bench_function("500 sources + 16 MiB media into an empty dir", |b| {
        b.iter(|| {
            let dst = tempfile::tempdir().unwrap();
            rt.block_on(repo.restore("HEAD", dst.path(), Arc::new(NoProgress)))
                .unwrap()
        });
    });
    g.finish();
}

criterion_group!(
    benches,
    hashing,
    chunking,
    compression,
    pack_writing,
    tree_building,
    restore
);
criterion_main!(benches);
