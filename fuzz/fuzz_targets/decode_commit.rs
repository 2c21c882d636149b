//! Arbitrary bytes into the commit decoder: never panics; whatever it accepts
//! re-encodes to exactly the same bytes (one value, one encoding).
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelstore::internals::{Commit, decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = decode::<Commit>(data) {
        let again = encode(&value).expect("a decoded value is valid");
        assert_eq!(again, data, "accepted a non-canonical encoding");
    }
});
