//! The packer: collects compressed objects into packs of about the target size and
//! writes each finished pack to the backend.

use std::sync::Arc;

use bytes::Bytes;

use super::backend::{BlobBackend, pack_name};
use super::pack::{PackEntry, PackWriter};
use crate::codec::Compression;
use crate::error::Result;
use crate::hash::{Hash, PackId};
use crate::object::ObjectKind;

/// A pack that is durably stored and not yet in the index.
#[derive(Debug, Clone)]
pub struct WrittenPack {
    /// Its name.
    pub id: PackId,
    /// Its length in bytes.
    pub size: u64,
    /// Its objects.
    pub entries: Vec<PackEntry>,
}

/// Something that accepts compressed objects.
pub trait PackSink {
    /// Adds one object.
    fn add(
        &mut self,
        kind: ObjectKind,
        id: Hash,
        compression: Compression,
        stored: &[u8],
        raw_len: u32,
    ) -> Result<()>;
}

/// Fills packs up to `target` bytes and stores each one as soon as it is full.
#[derive(Debug)]
pub struct Packer {
    backend: Arc<dyn BlobBackend>,
    target: usize,
    current: PackWriter,
    written: Vec<WrittenPack>,
}

impl Packer {
    /// A packer writing to `backend`.
    #[must_use]
    pub fn new(backend: Arc<dyn BlobBackend>, target: usize) -> Self {
        Packer {
            backend,
            target,
            current: PackWriter::default(),
            written: Vec::new(),
        }
    }

    fn flush(&mut self) -> Result<()> {
        if self.current.is_empty() {
            return Ok(());
        }
        let writer = std::mem::take(&mut self.current);
        let (id, bytes, entries) = writer.finish()?;
        let size = bytes.len() as u64;
        self.backend.put(&pack_name(&id), Bytes::from(bytes))?;
        tracing::debug!(pack = %id.short(), size, objects = entries.len(), "pack written");
        self.written.push(WrittenPack { id, size, entries });
        Ok(())
    }

    /// Writes the last partial pack and returns every pack written.
    pub fn finish(mut self) -> Result<Vec<WrittenPack>> {
        self.flush()?;
        Ok(self.written)
    }
}

impl PackSink for Packer {
    fn add(
        &mut self,
        kind: ObjectKind,
        id: Hash,
        compression: Compression,
        stored: &[u8],
        raw_len: u32,
    ) -> Result<()> {
        if !self.current.is_empty() && self.current.len() + stored.len() > self.target {
            self.flush()?;
        }
        self.current.add(kind, id, compression, stored, raw_len);
        Ok(())
    }
}
