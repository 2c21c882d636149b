//! Where pack bytes live: blob backends and the pack format.

mod backend;
mod cache;
mod cloud;
mod disk_cache;
mod error;
mod local_reads;
mod object_store;
mod pack;
mod pack_files;
mod packer;
mod probe;
mod redb_backend;
mod segment;
mod trailer;

pub use backend::{
    BlobBackend, BlobMeta, Created, MACHINES_PREFIX, Swapped, Version, pack_name, parse_pack_name,
};
pub use cache::{DEFAULT_CACHE_BYTES, ReadCache};
pub use disk_cache::{DEFAULT_DISK_CACHE_BYTES, DiskBlocks};
pub use error::StoreError;
pub use object_store::{ObjectStoreBackend, backend_for_probe, backend_from_url};
pub use pack::{PackBody, PackEntry, PackWriter, parse_pack, parse_trailer, read_trailer};
pub use packer::{PackJournal, PackSink, Packer, WrittenPack};
pub use probe::{ProbeReport, probe};
pub use redb_backend::RedbBackend;
pub use segment::{SEGMENTS_PREFIX, is_segment_name, parse_segment, write_segment};
pub use trailer::ParsedTrailer;

#[cfg(test)]
mod cas_tests;
#[cfg(test)]
mod conformance;
#[cfg(test)]
mod economy_tests;
#[cfg(test)]
pub(crate) mod faults;
