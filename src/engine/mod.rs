//! The synchronous engine and its operations: what every face and service runs on.
//!
//! [`crate::Repository`] is the async front door; it moves each call onto a blocking
//! thread ([`blocking`]) and runs it here, so redb and file I/O never block the async
//! runtime.

mod block_cache;
mod blocking;
pub(crate) mod config;
mod core;
pub(crate) mod diff;
mod error;
pub(crate) mod failpoint;
pub(crate) mod fsck;
pub(crate) mod gc;
pub(crate) mod ingest;
pub(crate) mod patch;
pub(crate) mod progress;
pub(crate) mod read;
pub(crate) mod rebuild;
pub(crate) mod refs;
pub(crate) mod restore;
pub(crate) mod roots;
pub(crate) mod segments;
#[cfg(test)]
mod segments_tests;
pub(crate) mod shared;
pub(crate) mod stats;
pub(crate) mod stream_hash;
pub(crate) mod tags;
pub(crate) mod writer;

pub(crate) use block_cache::BlockCache;
pub(crate) use blocking::{blocking, on_engine};
pub use core::Engine;
pub use error::EngineError;
