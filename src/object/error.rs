//! What can go wrong with objects: bytes that do not decode to a valid value, a format
//! from a newer release, a value that breaks its own invariants.

/// The object layer's error.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Bytes that are not a valid encoding.
    #[error("{what}: {reason}")]
    Corrupt {
        /// What was being decoded: "tree", "commit", "index entry", …
        what: String,
        /// Which invariant failed.
        reason: String,
    },
    /// Bytes written by a newer release.
    #[error("{what} format version {found} is newer than this build supports ({supported})")]
    Unsupported {
        /// What: "object", "pack".
        what: &'static str,
        /// Version found.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// A value that breaks its own invariants (a name, a tree's order) and so cannot be
    /// stored.
    #[error("{0}")]
    Invalid(String),
    /// postcard refused a value (a bug: every stored type is serializable).
    #[error("encoding failed: {source}")]
    Encode {
        /// postcard's error.
        #[source]
        source: postcard::Error,
    },
}

impl ObjectError {
    /// A decoding failure.
    pub fn corrupt(what: impl Into<String>, reason: impl Into<String>) -> ObjectError {
        ObjectError::Corrupt {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

impl From<ObjectError> for crate::error::Error {
    fn from(e: ObjectError) -> Self {
        use crate::error::Error;
        match e {
            ObjectError::Corrupt { what, reason } => Error::Corrupt {
                what,
                pack: None,
                object: None,
                reason,
            },
            ObjectError::Unsupported {
                what,
                found,
                supported,
            } => Error::UnsupportedVersion {
                what,
                found,
                supported,
            },
            ObjectError::Invalid(m) => Error::Invalid(m),
            e @ ObjectError::Encode { .. } => Error::Internal(e.to_string()),
        }
    }
}
