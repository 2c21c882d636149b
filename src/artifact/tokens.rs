//! Bearer tokens for the HTTP faces (`reel serve --http`, `reel ui --tokens`), mapped
//! to user ids. Tokens are kept only as BLAKE3 hashes and compared in constant time
//! (`blake3::Hash` equality is constant-time).

use super::identity::Ident;
use crate::error::{Error, Result};

/// Token hashes → user ids.
#[derive(Debug, Clone, Default)]
pub struct TokenTable {
    entries: Vec<(blake3::Hash, Ident)>,
}

impl TokenTable {
    /// Parses `USER TOKEN` or `USER b3:HEX` lines (the hash form keeps secrets out of the
    /// file); `#` starts a comment.
    pub fn parse(text: &str) -> Result<TokenTable> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, secret) = line.split_once(char::is_whitespace).ok_or_else(|| {
                Error::Invalid(format!("tokens line {}: expected `USER TOKEN`", n + 1))
            })?;
            let user = Ident::parse(user, "user id")?;
            let secret = secret.trim();
            let hash = match secret.strip_prefix("b3:") {
                Some(hex) => blake3::Hash::from_hex(hex)
                    .map_err(|_| Error::Invalid(format!("tokens line {}: bad b3: hash", n + 1)))?,
                None => blake3::hash(secret.as_bytes()),
            };
            entries.push((hash, user));
        }
        if entries.is_empty() {
            return Err(Error::Invalid("the tokens file holds no tokens".into()));
        }
        Ok(TokenTable { entries })
    }

    /// The user a presented token belongs to.
    #[must_use]
    pub fn user(&self, token: &str) -> Option<Ident> {
        let presented = blake3::hash(token.as_bytes());
        let mut found = None;
        // Compare with every entry, so timing does not depend on which one matches.
        for (hash, user) in &self.entries {
            if *hash == presented {
                found = Some(user.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_hashed_tokens() {
        let hashed = blake3::hash(b"s3cret").to_hex();
        let t = TokenTable::parse(&format!("# users\nana tok-ana\nbob b3:{hashed}\n")).unwrap();
        assert_eq!(t.user("tok-ana").unwrap().as_str(), "ana");
        assert_eq!(t.user("s3cret").unwrap().as_str(), "bob");
        assert!(t.user("tok-bob").is_none());
        assert!(TokenTable::parse("../x tok").is_err());
        assert!(TokenTable::parse("").is_err());
    }
}
