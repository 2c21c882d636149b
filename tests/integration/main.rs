//! Integration tests, one binary; modules mirror the features.

mod util;

mod cli;
mod concurrency;
mod corruption;
mod crash;
mod dedup;
mod faults;
mod gc;
mod memory;
mod roundtrip;
