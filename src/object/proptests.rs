//! Property tests for every encoding: decode(encode(x)) == x, and bytes that encode
//! would never produce are rejected.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{ChunkRef, Commit, EntryKind, Manifest, Tree, TreeEntry, decode, encode};
use crate::hash::{CommitId, Hash, TreeId};

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash::from_bytes)
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ._\\-éü]{1,40}".prop_filter("not . or ..", |n| n != "." && n != "..")
}

fn entry() -> impl Strategy<Value = TreeEntry> {
    (name(), 0..3u8, any::<bool>(), any::<u64>(), hash()).prop_map(|(name, k, x, size, id)| {
        let kind = [EntryKind::File, EntryKind::Dir, EntryKind::Symlink][usize::from(k)];
        TreeEntry {
            name,
            kind,
            executable: x && kind == EntryKind::File,
            size,
            id,
        }
    })
}

fn tree() -> impl Strategy<Value = Tree> {
    prop::collection::btree_map(name(), entry(), 0..20).prop_map(|m| {
        Tree::from_entries(
            m.into_iter()
                .map(|(n, mut e)| {
                    e.name = n;
                    e
                })
                .collect(),
        )
        .unwrap()
    })
}

fn commit() -> impl Strategy<Value = Commit> {
    (
        hash(),
        prop::collection::btree_set(hash(), 0..3),
        "[a-z0-9]{0,10}",
        prop::option::of("[a-z0-9][a-z0-9._-]{0,20}"),
        ".{0,50}",
        any::<i64>(),
        prop::collection::btree_map("[a-z]{1,8}", ".{0,12}", 0..4),
    )
        .prop_map(
            |(tree, parents, project, name, description, created_ms, metadata)| Commit {
                tree: TreeId(tree),
                parents: parents.into_iter().map(CommitId).collect(),
                project,
                name,
                description,
                author: "a".into(),
                created_ms,
                metadata: metadata.into_iter().collect::<BTreeMap<_, _>>(),
            },
        )
}

fn manifest() -> impl Strategy<Value = Manifest> {
    prop::collection::vec((hash(), 1..u32::MAX), 2..10).prop_map(|chunks| {
        let chunks: Vec<ChunkRef> = chunks
            .into_iter()
            .map(|(id, len)| ChunkRef { id, len })
            .collect();
        Manifest {
            size: chunks.iter().map(|c| u64::from(c.len)).sum(),
            chunks,
        }
    })
}

/// A tree's layout without its invariants, to forge non-canonical bytes.
#[derive(serde::Serialize)]
struct Raw {
    entries: Vec<TreeEntry>,
}

proptest! {
    #[test]
    fn tree_round_trips(t in tree()) {
        let bytes = encode(&t).unwrap();
        prop_assert_eq!(decode::<Tree>(&bytes).unwrap(), t);
    }

    #[test]
    fn commit_round_trips(c in commit()) {
        let bytes = encode(&c).unwrap();
        prop_assert_eq!(decode::<Commit>(&bytes).unwrap(), c);
    }

    #[test]
    fn manifest_round_trips(m in manifest()) {
        let bytes = encode(&m).unwrap();
        prop_assert_eq!(decode::<Manifest>(&bytes).unwrap(), m);
    }

    #[test]
    fn trailing_bytes_are_rejected(t in tree(), extra in any::<u8>()) {
        let mut bytes = encode(&t).unwrap();
        bytes.push(extra);
        prop_assert!(decode::<Tree>(&bytes).is_err());
    }

    #[test]
    fn unsorted_tree_is_rejected(t in tree().prop_filter("two entries", |t| t.entries().len() >= 2)) {
        let mut entries = t.entries().to_vec();
        entries.swap(0, 1);
        // Encode the raw struct, bypassing validation: same layout as Tree.
        let mut bytes = vec![1u8, 1];
        bytes.extend(postcard::to_allocvec(&Raw { entries }).unwrap());
        prop_assert!(decode::<Tree>(&bytes).is_err());
    }

    /// The fuzz targets' properties (`fuzz/`), on random bytes in every test run: no
    /// decoder panics; what one accepts is canonical, in bounds, or valid.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(t) = decode::<Tree>(&bytes) {
            prop_assert_eq!(encode(&t).unwrap(), bytes.clone());
        }
        if let Ok(c) = decode::<Commit>(&bytes) {
            prop_assert_eq!(encode(&c).unwrap(), bytes.clone());
        }
        if let Ok(m) = decode::<Manifest>(&bytes) {
            prop_assert_eq!(encode(&m).unwrap(), bytes.clone());
        }
        if let Ok(entries) = crate::store::parse_pack(&bytes) {
            for e in entries {
                prop_assert!(e.offset + u64::from(e.stored_len) <= bytes.len() as u64);
            }
        }
        let _ = crate::store::parse_trailer(&bytes);
        if let Ok(config) = crate::engine::config::RepoConfig::parse(&bytes) {
            prop_assert!(config.validate().is_ok());
            let again = crate::engine::config::RepoConfig::parse(&config.to_bytes()).unwrap();
            prop_assert_eq!(again, config);
        }
    }
}

#[test]
fn overlong_varint_is_rejected() {
    // A manifest whose `size` varint is padded with a redundant continuation byte.
    let m = Manifest {
        size: 3,
        chunks: vec![
            ChunkRef {
                id: Hash::EMPTY,
                len: 1,
            },
            ChunkRef {
                id: Hash::EMPTY,
                len: 2,
            },
        ],
    };
    let bytes = encode(&m).unwrap();
    assert_eq!(bytes[2], 3);
    let mut padded = bytes[..2].to_vec();
    padded.extend([0x83, 0x00]);
    padded.extend(&bytes[3..]);
    assert!(decode::<Manifest>(&padded).is_err());
}

#[test]
fn duplicate_names_are_rejected() {
    let e = TreeEntry {
        name: "a".into(),
        kind: EntryKind::File,
        executable: false,
        size: 1,
        id: Hash::EMPTY,
    };
    assert!(Tree::from_entries(vec![e.clone(), e]).is_err());
}

#[test]
fn bad_names_are_rejected() {
    for bad in ["", ".", "..", "a/b", "nul\0"] {
        let e = TreeEntry {
            name: bad.into(),
            kind: EntryKind::File,
            executable: false,
            size: 1,
            id: Hash::EMPTY,
        };
        assert!(Tree::from_entries(vec![e]).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn newer_version_is_reported_as_such() {
    let mut bytes = encode(&Tree::default()).unwrap();
    bytes[1] = 9;
    assert!(matches!(
        decode::<Tree>(&bytes),
        Err(super::ObjectError::Unsupported { found: 9, .. })
    ));
}

/// Golden bytes: a change to the tree encoding fails here by name.
#[test]
fn golden_tree_bytes() {
    let t = Tree::from_entries(vec![TreeEntry {
        name: "a".into(),
        kind: EntryKind::File,
        executable: true,
        size: 300,
        id: Hash::EMPTY,
    }])
    .unwrap();
    let expected = concat!(
        "01",                                                               // tag: tree
        "01",                                                               // format version 1
        "01",                                                               // one entry
        "01",                                                               // name length 1
        "61",                                                               // "a"
        "00",                                                               // kind: file
        "01",                                                               // executable
        "ac02",                                                             // size 300 (varint)
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", // id
    );
    assert_eq!(hex::encode(encode(&t).unwrap()), expected);
}
