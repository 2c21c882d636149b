//! BLAKE3 ids and the typed ids built on them.
//!
//! Every object in a repository is named by the BLAKE3-256 hash of its bytes. A file's
//! content id is the BLAKE3 of the whole file, the value `b3sum` prints, so a user can
//! check any stored file with a standard tool.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Length of an id in bytes.
pub const HASH_LEN: usize = 32;

/// A BLAKE3-256 hash: the name of every object, pack and file in a repository.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash([u8; HASH_LEN]);

impl Hash {
    /// The hash of zero bytes.
    pub const EMPTY: Hash = Hash([
        0xaf, 0x13, 0x49, 0xb9, 0xf5, 0xf9, 0xa1, 0xa6, 0xa0, 0x40, 0x4d, 0xea, 0x36, 0xdc, 0xc9,
        0x49, 0x9b, 0xcb, 0x25, 0xc9, 0xad, 0xc1, 0x12, 0xb7, 0xcc, 0x9a, 0x93, 0xca, 0xe4, 0x1f,
        0x32, 0x62,
    ]);

    /// Hashes `data` with BLAKE3.
    #[must_use]
    pub fn of(data: &[u8]) -> Hash {
        Hash(*blake3::hash(data).as_bytes())
    }

    /// Wraps raw hash bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; HASH_LEN]) -> Hash {
        Hash(bytes)
    }

    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Full lowercase hex.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 12 hex digits, for humans.
    #[must_use]
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_owned()
    }

    /// Whether the hex form starts with `prefix` (lowercase hex digits).
    #[must_use]
    pub fn has_hex_prefix(&self, prefix: &str) -> bool {
        self.to_hex().starts_with(prefix)
    }
}

impl From<blake3::Hash> for Hash {
    fn from(h: blake3::Hash) -> Self {
        Hash(*h.as_bytes())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.short())
    }
}

/// The reason a string is not a hash.
#[derive(Debug, thiserror::Error)]
#[error("`{input}` is not a 64-digit hex BLAKE3 id")]
pub struct ParseHashError {
    input: String,
}

impl FromStr for Hash {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; HASH_LEN];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseHashError {
            input: s.to_owned(),
        })?;
        Ok(Hash(bytes))
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            // A fixed-size tuple: postcard writes the 32 bytes with no length prefix.
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let s = String::deserialize(deserializer)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            <[u8; HASH_LEN]>::deserialize(deserializer).map(Hash)
        }
    }
}

/// A hex string of `digits` lower-case hex digits, as the MCP tools' schemas show ids.
#[cfg(feature = "mcp")]
pub(crate) fn hex_schema(digits: usize, what: &str) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": format!("^[0-9a-f]{{{digits}}}$"),
        "description": what,
    })
}

#[cfg(feature = "mcp")]
impl schemars::JsonSchema for Hash {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Hash".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        hex_schema(2 * HASH_LEN, "BLAKE3-256 id (64 hex digits)")
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        pub struct $name(pub Hash);

        impl $name {
            /// The untyped hash.
            #[must_use]
            pub const fn hash(&self) -> Hash {
                self.0
            }

            /// The first 12 hex digits, for humans.
            #[must_use]
            pub fn short(&self) -> String {
                self.0.short()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.short())
            }
        }

        impl FromStr for $name {
            type Err = ParseHashError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

typed_id!(
    /// The id of a tree object.
    TreeId
);
typed_id!(
    /// The id of a commit (a checkpoint).
    CommitId
);
typed_id!(
    /// The id of a pack file: the BLAKE3 of its bytes.
    PackId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_constant_is_blake3_of_nothing() {
        assert_eq!(Hash::EMPTY, Hash::of(b""));
    }

    #[test]
    fn matches_b3sum_for_known_input() {
        // `printf abc | b3sum`
        assert_eq!(
            Hash::of(b"abc").to_hex(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
    }

    #[test]
    fn hex_round_trip_and_rejects_bad_input() {
        let h = Hash::of(b"x");
        assert_eq!(h.to_hex().parse::<Hash>().unwrap(), h);
        assert!("zz".parse::<Hash>().is_err());
        assert!(h.to_hex()[..63].parse::<Hash>().is_err());
    }

    #[test]
    fn postcard_is_32_raw_bytes_json_is_hex() {
        let h = Hash::of(b"x");
        let bytes = postcard::to_allocvec(&h).unwrap();
        assert_eq!(bytes, h.as_bytes());
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", h.to_hex()));
    }
}
