//! The immutable object model: chunks, file manifests, trees and commits.

pub mod block;
mod chunker;
pub mod codec;
mod commit;
pub mod delta;
mod encoding;
mod error;
mod manifest;
mod names;
mod previous;
mod tree;

pub use chunker::{Chunker, ChunkerConfig, Round, chunks};
pub use commit::Commit;
pub use encoding::{Canonical, EnvelopeTag, ObjectKind, decode, encode};
pub use error::ObjectError;
pub use manifest::{ChunkRef, Manifest};
pub use names::validate_checkpoint_name;
pub use previous::PreviousChunks;
pub use tree::{EntryKind, Tree, TreeEntry, empty_tree_id, validate_name};

#[cfg(test)]
mod proptests;
