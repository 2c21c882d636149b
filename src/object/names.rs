//! Checkpoint names: what a commit may be called.

/// Longest checkpoint name.
pub const MAX_NAME: usize = 128;

/// Checks a checkpoint name: 1–128 of `[A-Za-z0-9._-]`, starting with a letter or digit,
/// not `HEAD`.
pub fn validate_checkpoint_name(name: &str) -> std::result::Result<(), String> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    let starts_well = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    if !valid_chars || !starts_well || name.len() > MAX_NAME {
        return Err(format!(
            "invalid checkpoint name {name:?}: use 1-{MAX_NAME} letters, digits, `.`, `_` or `-`, starting with a letter or digit"
        ));
    }
    if name == "HEAD" {
        return Err("`HEAD` is reserved".into());
    }
    Ok(())
}
