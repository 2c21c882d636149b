//! The immutable object model: chunks, file manifests, trees and commits.

mod chunker;
mod commit;
mod encoding;
mod manifest;
mod tree;

pub use chunker::{ChunkerConfig, chunks};
pub use commit::Commit;
pub use encoding::{Canonical, EnvelopeTag, ObjectKind, decode, encode};
pub use manifest::{ChunkRef, Manifest};
pub use tree::{EntryKind, Tree, TreeEntry, validate_name};

#[cfg(test)]
mod proptests;
