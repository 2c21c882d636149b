//! Project records: identity, ownership, metadata, lifetime and working-tree state.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::ArtifactError;
use super::identity::{Caller, Owner};
use crate::error::{Error, Result};
use crate::hash::{CommitId, TreeId};

/// Default lifetime of a session-scope project: 24 hours.
pub const DEFAULT_SESSION_TTL_S: u64 = 24 * 3600;

/// A 128-bit random id, shown as 32 hex digits. Unguessable.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub [u8; 16]);

impl RecordId {
    /// A fresh random id.
    #[must_use]
    pub fn random() -> RecordId {
        RecordId(rand::random())
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({self})")
    }
}

impl FromStr for RecordId {
    type Err = Error;
    fn from_str(s: &str) -> Result<RecordId> {
        let mut b = [0u8; 16];
        hex::decode_to_slice(s, &mut b).map_err(|_| ArtifactError::NotAnId(s.to_owned()))?;
        Ok(RecordId(b))
    }
}

impl Serialize for RecordId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(feature = "mcp")]
impl schemars::JsonSchema for RecordId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RecordId".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::hash::hex_schema(32, "record id (32 hex digits)")
    }
}

impl<'de> Deserialize<'de> for RecordId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl RecordId {
    /// The id `text` names among `visible`: all 32 hex digits (taken as given: the
    /// operation checks visibility), or a prefix of at least four hex digits that one
    /// visible id alone starts with. None: `NotFound` (saying when the prefix is too
    /// short); several: `Ambiguous`, naming only ids the caller may see.
    pub fn resolve(
        text: &str,
        kind: crate::error::ItemKind,
        visible: impl IntoIterator<Item = RecordId>,
    ) -> Result<RecordId> {
        if let Ok(id) = text.parse() {
            return Ok(id);
        }
        let lower = text.to_ascii_lowercase();
        let hex = !lower.is_empty() && lower.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex {
            return Err(ArtifactError::NotAnId(text.to_owned()).into());
        }
        if lower.len() < crate::engine::refs::MIN_PREFIX {
            return Err(Error::Invalid(format!(
                "{kind} `{text}` not found: an id prefix needs at least {} hex digits",
                crate::engine::refs::MIN_PREFIX
            )));
        }
        let found: Vec<RecordId> = visible
            .into_iter()
            .filter(|id| id.to_string().starts_with(&lower))
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(Error::not_found(kind, text)),
            many => Err(Error::Ambiguous {
                rev: text.to_owned(),
                candidates: many
                    .iter()
                    .map(|id| id.to_string()[..12].to_owned())
                    .collect(),
            }),
        }
    }
}

/// A project's id.
pub type ProjectId = RecordId;

/// A project as stored: public fields plus working-tree state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectRecord {
    /// Id.
    pub id: ProjectId,
    /// Name (free text, not unique).
    pub name: String,
    /// Who may see it.
    pub owner: Owner,
    /// User metadata: a JSON object (theme, fps, width, height, …).
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Created, ms since the epoch.
    pub created_ms: i64,
    /// Last changed, ms since the epoch.
    pub updated_ms: i64,
    /// When it stops existing, ms since the epoch (session scope).
    pub expires_ms: Option<i64>,
    /// Lifetime in seconds, renewed on every write (session scope).
    pub ttl_s: Option<u64>,
    /// The immutable tree the working tree starts from.
    pub base: TreeId,
    /// The checkpoint the working tree was last checkpointed at or restored to.
    pub head: Option<CommitId>,
    /// Overlay generation: restore starts a new one, leaving the old rows to `gc`.
    pub generation: u64,
    /// Sequence of the last overlay write.
    pub overlay_seq: u64,
    /// Sequence of the last checkpoint.
    pub checkpoint_seq: u64,
}

impl ProjectRecord {
    /// Whether `caller` may see it at `now_ms` (expired projects are invisible).
    #[must_use]
    pub fn visible_to(&self, caller: &Caller, now_ms: i64) -> bool {
        self.owner.visible_to(caller) && !self.expired(now_ms)
    }

    /// Whether its lifetime is over.
    #[must_use]
    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_ms.is_some_and(|t| t <= now_ms)
    }

    /// Renews the expiry after a change.
    pub fn touch(&mut self, now_ms: i64) {
        self.updated_ms = now_ms;
        if let Some(ttl) = self.ttl_s {
            self.expires_ms =
                Some(now_ms.saturating_add(i64::try_from(ttl * 1000).unwrap_or(i64::MAX)));
        }
    }

    /// JSON bytes for the index.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("project records serialize")
    }

    /// Parses index bytes.
    pub fn from_bytes(b: &[u8]) -> Result<ProjectRecord> {
        serde_json::from_slice(b).map_err(|e| {
            ArtifactError::BadRecord {
                what: "project record",
                reason: e.to_string(),
            }
            .into()
        })
    }

    /// The public view.
    #[must_use]
    pub fn info(&self) -> ProjectInfo {
        ProjectInfo {
            id: self.id,
            name: self.name.clone(),
            scope: self.owner.scope,
            owner_user: self.owner.user.as_ref().map(ToString::to_string),
            metadata: self.metadata.clone(),
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            expires_ms: self.expires_ms,
            head: self.head,
            base: self.base,
        }
    }
}

/// A project as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct ProjectInfo {
    /// Id.
    pub id: ProjectId,
    /// Name.
    pub name: String,
    /// Scope.
    pub scope: super::identity::Scope,
    /// The user who created it.
    pub owner_user: Option<String>,
    /// User metadata.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Created, ms since the epoch.
    pub created_ms: i64,
    /// Last changed, ms since the epoch.
    pub updated_ms: i64,
    /// Expiry, ms since the epoch (session scope).
    pub expires_ms: Option<i64>,
    /// Last checkpoint checkpointed or restored.
    pub head: Option<CommitId>,
    /// Base tree of the working tree.
    pub base: TreeId,
}

#[cfg(test)]
mod tests {
    use super::RecordId;
    use crate::error::{Error, ItemKind};

    fn id(hex: &str) -> RecordId {
        format!("{hex:0<32}").parse().unwrap()
    }

    #[test]
    fn prefixes_resolve_among_the_visible_ids_only() {
        let visible = [id("abcd1"), id("abcd2"), id("beef")];
        let resolve = |t: &str| RecordId::resolve(t, ItemKind::Project, visible);
        assert_eq!(resolve("beef").unwrap(), id("beef"));
        assert_eq!(resolve("ABCD1").unwrap(), id("abcd1"));
        assert!(matches!(
            resolve("abcd"),
            Err(Error::Ambiguous { candidates, .. }) if candidates.len() == 2
        ));
        assert!(matches!(resolve("dead"), Err(Error::NotFound { .. })));
        assert!(matches!(resolve("abc"), Err(Error::Invalid(m)) if m.contains("at least 4")));
        assert!(resolve("not-hex").is_err());
        // A whole id is taken as given: the operation checks who may see it.
        let other = "f".repeat(32);
        assert_eq!(resolve(&other).unwrap(), other.parse().unwrap());
    }
}
