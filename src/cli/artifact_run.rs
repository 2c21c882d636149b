//! Running the artifact commands: validate, call one library method, print.

use std::fmt::Write as _;

use super::args::Cli;
use super::output::{json, out, time};
use super::run::{Outcome, open};
use reelstore::{
    Artifacts, Caller, ChangeKind, DiffStat, Error, ProjectId, ProjectInfo, ProjectPath, RecordId,
};

/// The OS user: `$USER`, else `$LOGNAME`, else the name of this process's uid in
/// `/etc/passwd`.
pub(super) fn os_user() -> Option<String> {
    let from_env = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()));
    from_env.or_else(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))?
            .split_whitespace()
            .next()?
            .to_owned();
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid).then(|| name.to_owned())
        })
    })
}

/// The caller: `--sandbox` (default `local`), `--user` (default: the OS user), `--session`.
pub(super) fn caller(cli: &Cli) -> Result<Caller, Error> {
    let user = cli.user.clone().or_else(os_user);
    Caller::new(
        cli.sandbox.as_deref().unwrap_or("local"),
        user.as_deref(),
        cli.session.as_deref(),
    )
}

pub(super) fn meta(pairs: &[String]) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let mut out = serde_json::Map::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("`{pair}`: expected KEY=VALUE")))?;
        let value =
            serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_owned()));
        out.insert(k.to_owned(), value);
    }
    Ok(out)
}

/// A project by id or unique prefix among those the caller can see.
pub(super) async fn pid(a: &Artifacts, me: &Caller, s: &str) -> Result<ProjectId, Error> {
    a.resolve_project(me, s).await
}

/// An asset or render by id or unique prefix among those the caller can see.
pub(super) async fn rid(a: &Artifacts, me: &Caller, s: &str) -> Result<RecordId, Error> {
    a.resolve_blob(me, s).await
}

pub(super) fn path(s: &str) -> Result<ProjectPath, Error> {
    ProjectPath::parse(s)
}

pub(super) async fn setup(cli: &Cli) -> Result<(Artifacts, Caller), Error> {
    let who = caller(cli)?;
    Ok((open(cli).await?.artifacts(), who))
}

pub(super) fn print_project(cli: &Cli, p: &ProjectInfo) -> Outcome {
    if cli.json {
        return Ok(json(p)?);
    }
    let mut text = format!(
        "project {}\nname:    {}\nscope:   {}\ncreated: {}\n",
        p.id,
        p.name,
        p.scope,
        time(p.created_ms)
    );
    if let Some(e) = p.expires_ms {
        let _ = writeln!(text, "expires: {}", time(e));
    }
    if let Some(h) = p.head {
        let _ = writeln!(text, "head:    {}", h.short());
    }
    for (k, v) in &p.metadata {
        let _ = writeln!(text, "meta:    {k}={v}");
    }
    Ok(out(&text)?)
}

pub(super) fn print_changes(cli: &Cli, changes: &[reelstore::Change], stat: bool) -> Outcome {
    let totals = DiffStat::of(changes);
    if cli.json {
        return if stat {
            Ok(json(&totals)?)
        } else {
            Ok(json(&changes)?)
        };
    }
    let mut text = String::new();
    if !stat {
        for c in changes {
            let tag = match c.change {
                ChangeKind::Added => "A",
                ChangeKind::Removed => "D",
                ChangeKind::Modified => "M",
                ChangeKind::Renamed => "R",
            };
            let from = c
                .from
                .as_deref()
                .map(|f| format!("{f} -> "))
                .unwrap_or_default();
            let _ = writeln!(text, "{tag}  {from}{}", c.path);
        }
    }
    let _ = writeln!(
        text,
        "{} added, {} removed, {} modified, {} renamed",
        totals.added, totals.removed, totals.modified, totals.renamed
    );
    Ok(out(&text)?)
}
