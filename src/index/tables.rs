//! Every redb table, in one place. Names carry a version suffix: a change of value
//! layout gets a new name, never a silent reinterpretation.

use redb::TableDefinition;

/// Object id → [`super::ObjectLocation`] bytes, the pack named by its number
/// ([`PACK_IDS`]).
pub const OBJECTS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("objects-1");
/// The object table as it was before `objects-1` (50-byte rows naming the pack by its
/// id), moved to `objects-1` when an index is opened (`super::pack_numbers::migrate`).
pub const OBJECTS_0: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("objects-0");
/// What takes the name `objects-0` once the rows moved: a table of another type, so a
/// release that only knows `objects-0` stops at opening the index instead of taking an
/// empty object table for the truth (its `gc` would then delete every pack).
pub const OBJECTS_0_MOVED: TableDefinition<&str, &str> = TableDefinition::new("objects-0");
/// Pack number → pack id: the numbers object rows name packs by.
pub const PACK_IDS: TableDefinition<u32, [u8; 32]> = TableDefinition::new("pack-ids-0");
/// Pack id → pack number (the reverse of [`PACK_IDS`]).
pub const PACK_NUMBERS: TableDefinition<[u8; 32], u32> = TableDefinition::new("pack-numbers-0");
/// Pack id → [`super::PackRecord`] bytes.
pub const PACKS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("packs-0");
/// Ref name (`HEAD`) → commit id.
pub const REFS: TableDefinition<&str, [u8; 32]> = TableDefinition::new("refs-0");
/// Creation sequence number → checkpoint (commit) id. Every row is a GC root.
pub const CHECKPOINTS: TableDefinition<u64, [u8; 32]> = TableDefinition::new("checkpoints-0");
/// Checkpoint id → its sequence number (the reverse of [`CHECKPOINTS`]).
pub const CHECKPOINT_SEQ: TableDefinition<[u8; 32], u64> = TableDefinition::new("checkpoint-seq-0");
/// Checkpoint name → checkpoint id.
pub const NAMES: TableDefinition<&str, [u8; 32]> = TableDefinition::new("names-0");
/// Tag name → checkpoint id (`engine::tags`).
pub const TAGS: TableDefinition<&str, [u8; 32]> = TableDefinition::new("tags-0");
/// The key (absolute directory path with its trailing `/`, a NUL and a file name) of
/// a piece's first file → a piece of the stat rows of all work trees' files in key
/// order (`super::stat_dirs`).
pub const STAT_CACHE: TableDefinition<&str, &[u8]> = TableDefinition::new("stat-cache-3");
/// The stat cache as it was before `stat-cache-3`: the same keys, each piece holding
/// files of one directory, their names front-coded. Moved when an index is opened
/// (`super::stat_v2`).
pub const STAT_CACHE_2: TableDefinition<&str, &[u8]> = TableDefinition::new("stat-cache-2");
/// The stat cache as it was before `stat-cache-2`: absolute directory path, with its
/// trailing `/` → the stat rows of all its files. Moved when an index is opened
/// (`super::stat_v1`).
pub const STAT_CACHE_1: TableDefinition<&str, &[u8]> = TableDefinition::new("stat-cache-1");
/// The stat cache as it was before `stat-cache-1` and `stat-cache-2`: absolute file path → 64-byte
/// [`super::StatRecord`]. Dropped when an index is opened (a cache: the first scan
/// after reads every file once).
pub const STAT_CACHE_0: TableDefinition<&str, &[u8]> = TableDefinition::new("stat-cache-0");
/// Absolute directory → the tree last checkpointed or restored there (its tracked files).
pub const WORKTREES: TableDefinition<&str, [u8; 32]> = TableDefinition::new("worktrees-0");
/// Counters: the next checkpoint sequence number, the GC epoch.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta-0");
/// `"repository-id"` → the id (32 hex digits, as ASCII) of the repository this index belongs to (also in
/// the config). An index without it was never initialized: it is not this repository's.
pub const IDENTITY: TableDefinition<&str, &[u8]> = TableDefinition::new("identity-0");

/// Random pin → registered writer or GC (`writers::WriterRecord`, 38 bytes): its
/// process, the GC epoch it registered at, its registration time, its kind.
pub const WRITERS: TableDefinition<u64, &[u8]> = TableDefinition::new("writers-0");
/// Pack id → pin of the writer about to store it: announced before the blob is written,
/// removed in the transaction that indexes the pack.
pub const PENDING_PACKS: TableDefinition<[u8; 32], u64> = TableDefinition::new("pending-packs-0");
/// Pack id → GC epoch of the plan that condemned it. Writers registered at that epoch or
/// later never deduplicate against it.
pub const CONDEMNED: TableDefinition<[u8; 32], u64> = TableDefinition::new("condemned-0");
/// Pack id → time (seconds) GC dropped it from the index; its blob is being deleted.
pub const DELETING: TableDefinition<[u8; 32], u64> = TableDefinition::new("deleting-0");

/// Index segment blob name (`index/<hex>.seg`) → when this index took it in (seconds):
/// the segments a sync need not read again.
pub const SEGMENTS: TableDefinition<&str, u64> = TableDefinition::new("segments-0");

/// Project id (16 bytes) → project record (JSON).
pub const PROJECTS: TableDefinition<[u8; 16], &[u8]> = TableDefinition::new("projects-0");
/// `<project hex>/<generation hex>/<path>` → overlay entry (see `artifact::overlay`).
pub const OVERLAY: TableDefinition<&str, &[u8]> = TableDefinition::new("overlay-0");
/// Project id ‖ sequence (big-endian) → checkpoint (commit) id. Every row is a GC root.
pub const PROJECT_CHECKPOINTS: TableDefinition<&[u8], [u8; 32]> =
    TableDefinition::new("project-checkpoints-0");
/// Commit id → project id ‖ sequence (the reverse of [`PROJECT_CHECKPOINTS`]).
pub const PROJECT_CHECKPOINT_KEYS: TableDefinition<[u8; 32], &[u8]> =
    TableDefinition::new("project-checkpoint-keys-0");
/// `<project hex>/<checkpoint name>` → commit id.
pub const PROJECT_NAMES: TableDefinition<&str, [u8; 32]> = TableDefinition::new("project-names-0");
/// Blob record id (16 bytes) → asset or render record (JSON).
pub const BLOB_RECORDS: TableDefinition<[u8; 16], &[u8]> = TableDefinition::new("blob-records-0");
/// Render key (BLAKE3 of tree, settings, renderer) → the render's blob record id.
pub const RENDER_MEMO: TableDefinition<[u8; 32], [u8; 16]> = TableDefinition::new("render-memo-0");
/// Project id (16 bytes) → what this index last took from or gave to the project's
/// record in a shared bucket (JSON: its nonce and `ETag`; see `artifact::shared`).
pub const SHARED_PROJECTS: TableDefinition<[u8; 16], &[u8]> =
    TableDefinition::new("shared-projects-0");
/// Render job id (16 bytes) → job status (JSON).
pub const RENDER_JOBS: TableDefinition<[u8; 16], &[u8]> = TableDefinition::new("render-jobs-0");
