//! Arbitrary bytes as a repository config: never panics; accepted configs are valid
//! and round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelstore::internals::RepoConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = RepoConfig::parse(data) {
        assert!(config.validate().is_ok());
        assert_eq!(RepoConfig::parse(&config.to_bytes()).unwrap(), config);
    }
});
