//! What to do about an error, in the command line's words: the library says what
//! happened, this says which command or flag helps.

use reelstore::{Error, ItemKind};

/// A hint for `e`, when there is an obvious one.
#[must_use]
pub fn hint(e: &Error) -> Option<&'static str> {
    Some(match e {
        Error::NoRepository(_) => "run `reel init` here, or pass --repo PATH",
        Error::Ambiguous { .. } => "give more hex digits of the id",
        Error::NotFound { kind, .. } => return not_found(*kind),
        Error::AlreadyExists {
            kind: ItemKind::Checkpoint,
            ..
        } => "choose another name, or `reel forget` the checkpoint that has it",
        Error::AlreadyExists {
            kind: ItemKind::Repository,
            ..
        } => "open it with --repo, or create the new repository somewhere else",
        Error::Corrupt { .. } => "run `reel fsck --read-data` to find every damaged object",
        Error::UnsupportedVersion { .. } => "upgrade reel to open this repository",
        Error::IndexUnusable { .. } => {
            "`reel index rebuild` rebuilds it from the packs (an unusable file is kept aside, never deleted)"
        }
        Error::Rebuilt => "`reel gc --after-rebuild` collects it anyway",
        Error::WouldDiscard { .. } => {
            "checkpoint them first, move them away, or pass --force to discard them"
        }
        Error::Changed { .. } => "stop whatever is writing the file and run the command again",
        Error::Conflict(_) | Error::Busy(_) => "run the command again",
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
            "free some disk space; nothing was lost"
        }
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            "check the permissions of the repository and target directory"
        }
        Error::Backend { .. } => {
            "for a cloud backend, check the URL's endpoint, region and credentials (the AWS_*, GOOGLE_* or AZURE_* variables), and allow_http=true for an http:// endpoint: see docs/backends.md"
        }
        Error::Process { .. } => "check that the program is installed and on PATH",
        Error::Internal(_) => "this is a bug in reel; please report it with the command you ran",
        _ => return None,
    })
}

fn not_found(kind: ItemKind) -> Option<&'static str> {
    Some(match kind {
        ItemKind::Checkpoint => "`reel log` lists the checkpoints",
        ItemKind::Path => "`reel ls REF -r` lists the files of a checkpoint",
        ItemKind::Project => "`reel project list` lists the projects you can see",
        ItemKind::Record => "`reel asset list` and `reel render ls` list what you can see",
        ItemKind::Job => "`reel render jobs` lists the render jobs",
        ItemKind::Object | ItemKind::Pack => {
            "run `reel fsck --read-data` to find every damaged object"
        }
        _ => return None,
    })
}
