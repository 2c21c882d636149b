//! Tests of the pack format (`super`): round trips, golden bytes, the trailer's rules.

use super::*;

#[test]
fn pack_round_trip_and_name_is_hash() {
    let mut w = PackWriter::default();
    w.add(ObjectKind::Chunk, Hash::of(b"a"), Compression::Raw, b"a", 1)
        .unwrap();
    w.add(
        ObjectKind::Chunk,
        Hash::of(b"bc"),
        Compression::Raw,
        b"bc",
        2,
    )
    .unwrap();
    let (id, body, entries) = w.finish().unwrap();
    let bytes = body.into_bytes().unwrap();
    assert_eq!(id.0, Hash::of(&bytes));
    assert_eq!(parse_pack(&bytes).unwrap(), entries);
    assert_eq!(entries[1].offset, 26);
    assert_eq!(&bytes[26..28], b"bc");
}

#[test]
fn the_same_objects_never_make_the_same_pack_twice() {
    let pack = || {
        let mut w = PackWriter::default();
        w.add(ObjectKind::Chunk, Hash::of(b"a"), Compression::Raw, b"a", 1)
            .unwrap();
        w.finish().unwrap().0
    };
    assert_ne!(pack(), pack());
}

#[test]
fn truncated_pack_is_corrupt() {
    let mut w = PackWriter::default();
    w.add(ObjectKind::Chunk, Hash::of(b"a"), Compression::Raw, b"a", 1)
        .unwrap();
    let bytes = w.finish().unwrap().1.into_bytes().unwrap();
    for cut in [0, 5, bytes.len() - 1] {
        assert!(parse_pack(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

/// Golden bytes: changing the pack or trailer encoding fails here, by name.
#[test]
fn golden_pack_bytes() {
    let mut w = PackWriter::with_nonce(0, [0x11; NONCE_LEN]);
    w.add(ObjectKind::Chunk, Hash::EMPTY, Compression::Raw, b"", 0)
        .unwrap();
    let bytes = w.finish().unwrap().1.into_bytes().unwrap();
    let expected = concat!(
        "5245454c5041434b02",               // "REELPACK" + version 2
        "11111111111111111111111111111111", // nonce
        "0401",                             // trailer envelope: tag 4, version 1
        "01",                               // one entry
        "00",                               // kind: chunk
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", // id
        "19",                               // offset 25
        "00",                               // stored_len 0
        "00",                               // raw_len 0
        "00",                               // compression: raw
        "28000000",                         // trailer length 40, u32 LE
        "5245454c54524c52",                 // "REELTRLR"
    );
    assert_eq!(hex::encode(&bytes), expected);
    assert_eq!(parse_pack(&bytes).unwrap()[0].offset, 25);
}

fn sealed(raws: &[&[u8]]) -> crate::object::block::Sealed {
    let mut b = crate::object::block::Builder::default();
    for raw in raws {
        b.push(ObjectKind::Chunk, Hash::of(raw), raw);
    }
    b.seal(3).unwrap().unwrap()
}

#[test]
fn a_solid_block_between_objects_round_trips() {
    let mut w = PackWriter::default();
    w.add(ObjectKind::Chunk, Hash::of(b"a"), Compression::Raw, b"a", 1)
        .unwrap();
    let block = sealed(&[b"first", b"second"]);
    w.add_block(&block).unwrap();
    w.add(ObjectKind::Chunk, Hash::of(b"z"), Compression::Raw, b"z", 1)
        .unwrap();
    let bytes = w.finish().unwrap().1.into_bytes().unwrap();
    let entries = parse_pack(&bytes).unwrap();
    let (one, two) = (entries[1], entries[2]);
    assert_eq!((one.offset, two.offset), (26, 26));
    assert_eq!(one.stored_len as usize, block.stored.len());
    assert_eq!(two.compression, Compression::Block { start: 5 });
    assert_eq!(entries[3].offset, 26 + block.stored.len() as u64);
    let stored = &bytes[26..26 + block.stored.len()];
    let raw = crate::object::codec::decompress(stored, two.compression, 6).unwrap();
    assert_eq!(raw, b"second");
}

/// Members that skip bytes, overlap, or disagree on their block are refused.
#[test]
fn block_members_out_of_order_are_corrupt() {
    let mut w = PackWriter::default();
    w.add_block(&sealed(&[b"first", b"second", b"third"]))
        .unwrap();
    let (_, _, entries) = w.finish().unwrap();
    assert!(check_entries(&entries).is_ok());
    let broken: [fn(&mut Vec<PackEntry>); 4] = [
        |e| e[1].compression = Compression::Block { start: 6 },
        |e| e[0].compression = Compression::Block { start: 1 },
        |e| e[2].stored_len += 1,
        |e| {
            e.swap(1, 2);
        },
    ];
    for (i, damage) in broken.iter().enumerate() {
        let mut e = entries.clone();
        damage(&mut e);
        assert!(check_entries(&e).is_err(), "damage {i} accepted");
    }
}

/// Golden bytes of a block member's trailer entry: compression 3, then its start.
#[test]
fn golden_block_entry_bytes() {
    let entry = PackEntry {
        kind: ObjectKind::Tree,
        id: Hash::EMPTY,
        offset: 25,
        stored_len: 300,
        raw_len: 7,
        compression: Compression::Block { start: 200 },
    };
    let bytes = postcard::to_allocvec(&entry).unwrap();
    let expected = concat!(
        "01",                                                               // kind: tree
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", // id
        "19",                                                               // offset 25
        "ac02",                                                             // stored_len 300
        "07",                                                               // raw_len 7
        "03",   // compression: block member
        "c801", // start 200
    );
    assert_eq!(hex::encode(bytes), expected);
}

/// A version 1 pack, as the first release wrote it, still parses.
#[test]
fn version_1_packs_are_read() {
    let bytes = hex::decode(concat!(
        "5245454c5041434b01", // "REELPACK" + version 1
        "0401",               // trailer envelope: tag 4, version 1
        "01",                 // one entry
        "00",                 // kind: chunk
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", // id
        "09",                 // offset 9
        "00",                 // stored_len 0
        "00",                 // raw_len 0
        "00",                 // compression: raw
        "28000000",           // trailer length 40, u32 LE
        "5245454c54524c52",   // "REELTRLR"
    ))
    .unwrap();
    let entries = parse_pack(&bytes).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].offset, 9);
    assert_eq!(entries[0].id, Hash::EMPTY);
}
