//! Arbitrary bytes as a pack and as a bare trailer: never panics; every accepted
//! entry lies inside the pack.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelstore::internals::{parse_pack, parse_trailer};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = parse_pack(data) {
        for e in entries {
            assert!(e.offset + u64::from(e.stored_len) <= data.len() as u64);
        }
    }
    let _ = parse_trailer(data);
});
