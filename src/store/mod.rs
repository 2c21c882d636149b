//! Where pack bytes live: blob backends and the pack format.

mod backend;
mod error;
mod object_store;
mod pack;
mod packer;
mod redb_backend;

pub use backend::{BlobBackend, BlobMeta, pack_name, parse_pack_name};
pub use error::StoreError;
pub use object_store::{ObjectStoreBackend, backend_from_url};
pub use pack::{PackEntry, PackWriter, parse_pack, parse_trailer, read_trailer};
pub use packer::{PackJournal, PackSink, Packer, WrittenPack};
pub use redb_backend::RedbBackend;

#[cfg(test)]
mod conformance;
