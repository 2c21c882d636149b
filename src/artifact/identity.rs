//! Who is calling, and who may see what.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::ArtifactError;
use crate::error::{Error, Result};

/// A validated identifier: 1–64 of `[A-Za-z0-9_-]`. Safe to show, log and compare;
/// never used to build a filesystem path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ident(String);

impl Ident {
    /// Validates `s`; `what` names it in the error ("user id", "session id", …).
    pub fn parse(s: &str, what: &'static str) -> Result<Ident> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Ident(s.to_owned()))
        } else {
            Err(ArtifactError::BadIdent {
                what,
                value: s.to_owned(),
            }
            .into())
        }
    }

    /// The identifier.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Ident {
    type Error = Error;
    fn try_from(s: String) -> Result<Ident> {
        Ident::parse(&s, "identifier")
    }
}

impl From<Ident> for String {
    fn from(i: Ident) -> String {
        i.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity every artifact call carries. The engine checks it on every operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The sandbox (tenant) the call comes from.
    pub sandbox: Ident,
    /// The authenticated user, if any.
    pub user: Option<Ident>,
    /// The session, if any.
    pub session: Option<Ident>,
}

impl Caller {
    /// Builds a caller from raw strings, validating each.
    pub fn new(sandbox: &str, user: Option<&str>, session: Option<&str>) -> Result<Caller> {
        Ok(Caller {
            sandbox: Ident::parse(sandbox, "sandbox id")?,
            user: user.map(|u| Ident::parse(u, "user id")).transpose()?,
            session: session.map(|s| Ident::parse(s, "session id")).transpose()?,
        })
    }

    /// The scope of what this caller creates without naming one: `user` when a user is
    /// known (it outlives the session, so a client that runs one process per call
    /// still finds its projects), else `session`, else `sandbox`.
    #[must_use]
    pub fn default_scope(&self) -> Scope {
        if self.user.is_some() {
            Scope::User
        } else if self.session.is_some() {
            Scope::Session
        } else {
            Scope::Sandbox
        }
    }
}

/// Who can see a project, asset or render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub enum Scope {
    /// Only the session (and user) that created it, in its sandbox; expires after a TTL.
    Session,
    /// Only its user, in any of their sessions, in its sandbox.
    User,
    /// Every caller of its sandbox.
    Sandbox,
}

impl std::str::FromStr for Scope {
    type Err = Error;
    fn from_str(s: &str) -> Result<Scope> {
        match s {
            "session" => Ok(Scope::Session),
            "user" => Ok(Scope::User),
            "sandbox" => Ok(Scope::Sandbox),
            _ => Err(ArtifactError::BadScope(s.to_owned()).into()),
        }
    }
}

impl std::fmt::Display for Scope {
    /// The word `--scope` takes and JSON shows: `session`, `user`, `sandbox`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scope::Session => "session",
            Scope::User => "user",
            Scope::Sandbox => "sandbox",
        })
    }
}

/// The owner recorded on a project or blob: what the scope is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Scope.
    pub scope: Scope,
    /// Sandbox it lives in.
    pub sandbox: Ident,
    /// User who created it.
    pub user: Option<Ident>,
    /// Session that created it.
    pub session: Option<Ident>,
}

impl Owner {
    /// The owner for something `caller` creates with `scope`; refuses a scope the caller
    /// cannot hold (user scope without a user id, session scope without a session id).
    pub fn for_caller(caller: &Caller, scope: Scope) -> Result<Owner> {
        match scope {
            Scope::User if caller.user.is_none() => {
                return Err(ArtifactError::ScopeNeedsId { scope: "user" }.into());
            }
            Scope::Session if caller.session.is_none() => {
                return Err(ArtifactError::ScopeNeedsId { scope: "session" }.into());
            }
            _ => {}
        }
        Ok(Owner {
            scope,
            sandbox: caller.sandbox.clone(),
            user: caller.user.clone(),
            session: caller.session.clone(),
        })
    }

    /// Whether `caller` may see (and so act on) what this owner holds.
    #[must_use]
    pub fn visible_to(&self, caller: &Caller) -> bool {
        if self.sandbox != caller.sandbox {
            return false;
        }
        match self.scope {
            Scope::Sandbox => true,
            Scope::User => self.user.is_some() && self.user == caller.user,
            Scope::Session => {
                self.session.is_some() && self.session == caller.session && self.user == caller.user
            }
        }
    }
}
