//! Canonical encoding: a type tag, a format version byte, then postcard.
//!
//! Decoding re-encodes what it read and rejects the input unless the bytes are equal, so
//! overlong varints, trailing bytes and any other second spelling of a value are refused:
//! one value has exactly one encoding, and therefore exactly one id.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ObjectError;

type Result<T> = std::result::Result<T, ObjectError>;

/// The format version written into every envelope. Readers reject newer versions.
pub const FORMAT_VERSION: u8 = 1;

/// The first byte of every encoded structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EnvelopeTag {
    /// A [`crate::object::Tree`].
    Tree = 1,
    /// A [`crate::object::Commit`].
    Commit = 2,
    /// A [`crate::object::Manifest`].
    Manifest = 3,
    /// A pack trailer.
    PackTrailer = 4,
    /// An index segment (`store::segment`): the trailers of a batch of packs.
    IndexSegment = 5,
    /// A compact pack trailer (`store::trailer`, format 5 repositories).
    PackItems = 6,
}

/// What a stored object is; recorded in the index and in pack trailers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum ObjectKind {
    /// Raw file bytes: a whole small file, or one chunk of a large one; also symlink targets.
    Chunk = 0,
    /// A directory listing.
    Tree = 1,
    /// A checkpoint.
    Commit = 2,
    /// The ordered chunk list of a file with more than one chunk.
    Manifest = 3,
}

impl ObjectKind {
    /// Parses the byte stored in the index.
    pub fn from_byte(b: u8) -> Result<ObjectKind> {
        Ok(match b {
            0 => ObjectKind::Chunk,
            1 => ObjectKind::Tree,
            2 => ObjectKind::Commit,
            3 => ObjectKind::Manifest,
            _ => {
                return Err(ObjectError::corrupt(
                    "index entry",
                    format!("unknown object kind {b}"),
                ));
            }
        })
    }

    /// Whether an object of this kind has the BLAKE3 of its bytes as its id: every kind
    /// but a manifest, whose id is that of the file it lists.
    #[must_use]
    pub fn id_is_hash(self) -> bool {
        self != ObjectKind::Manifest
    }

    /// Lowercase name, for messages and JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Chunk => "chunk",
            ObjectKind::Tree => "tree",
            ObjectKind::Commit => "commit",
            ObjectKind::Manifest => "manifest",
        }
    }
}

/// A structure with invariants beyond what its type expresses.
pub trait Canonical {
    /// Which envelope tag it is stored under.
    const TAG: EnvelopeTag;
    /// Checks the invariants; the message says which one failed.
    fn validate(&self) -> std::result::Result<(), String>;
}

/// Encodes `value` behind its tag and the current format version.
///
/// Fails only when `value` breaks its own invariants.
pub fn encode<T: Canonical + Serialize>(value: &T) -> Result<Vec<u8>> {
    value.validate().map_err(ObjectError::Invalid)?;
    let mut out = vec![T::TAG as u8, FORMAT_VERSION];
    let body = postcard::to_allocvec(value).map_err(|source| ObjectError::Encode { source })?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes bytes written by [`encode`], refusing anything [`encode`] would not produce.
pub fn decode<T: Canonical + Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let corrupt =
        |reason: String| ObjectError::corrupt(format!("{:?}", T::TAG).to_lowercase(), reason);
    let [tag, version, body @ ..] = bytes else {
        return Err(corrupt("shorter than its two-byte header".into()));
    };
    if *tag != T::TAG as u8 {
        return Err(corrupt(format!(
            "type tag {tag}, expected {}",
            T::TAG as u8
        )));
    }
    if *version > FORMAT_VERSION {
        return Err(ObjectError::Unsupported {
            what: "object",
            found: u32::from(*version),
            supported: u32::from(FORMAT_VERSION),
        });
    }
    if *version != FORMAT_VERSION {
        return Err(corrupt(format!("format version {version}")));
    }
    let (value, rest): (T, _) =
        postcard::take_from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
    if !rest.is_empty() {
        return Err(corrupt(format!("{} trailing bytes", rest.len())));
    }
    value.validate().map_err(corrupt)?;
    let again = postcard::to_allocvec(&value).map_err(|e| corrupt(e.to_string()))?;
    if again != body {
        return Err(corrupt("not in canonical form".into()));
    }
    Ok(value)
}
