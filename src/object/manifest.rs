//! File manifests: the ordered chunks of a file that was cut into more than one.

use serde::{Deserialize, Serialize};

use super::encoding::{Canonical, EnvelopeTag};
use crate::hash::Hash;

/// One chunk of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// BLAKE3 of the chunk's bytes.
    pub id: Hash,
    /// Its length in bytes.
    pub len: u32,
}

/// The chunks of one file, in order. Stored under the file's content id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The file's length: the sum of the chunk lengths.
    pub size: u64,
    /// At least two chunks (a one-chunk file is stored as the chunk itself).
    pub chunks: Vec<ChunkRef>,
}

impl Canonical for Manifest {
    const TAG: EnvelopeTag = EnvelopeTag::Manifest;

    fn validate(&self) -> std::result::Result<(), String> {
        if self.chunks.len() < 2 {
            return Err("a manifest lists at least two chunks".into());
        }
        let sum: u64 = self.chunks.iter().map(|c| u64::from(c.len)).sum();
        if sum != self.size {
            return Err(format!(
                "chunks add up to {sum} bytes, size says {}",
                self.size
            ));
        }
        if self.chunks.iter().any(|c| c.len == 0) {
            return Err("empty chunk".into());
        }
        Ok(())
    }
}
