//! The page shell and the small formatting helpers every page uses.

use maud::{DOCTYPE, Markup, html};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Characters escaped in a path segment of a URL (RFC 3986 `pchar` minus what is safe).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']')
    .add(b'&')
    .add(b'+')
    .add(b';')
    .add(b'=');

/// A whole page: the navigation, then `body`.
pub fn page(title: &str, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · reel" }
                link rel="stylesheet" href="/static/app.css";
                link rel="stylesheet" href="/static/highlight.css";
                script src="/static/app.js" defer {}
            }
            body {
                nav.top {
                    a.brand href="/" { "reel" }
                    a href="/repo" { "Repository" }
                    a href="/projects" { "Projects" }
                    a href="/renders" { "Renders" }
                }
                main { (body) }
            }
        }
    }
}

/// `a/b c` as `a/b%20c`: each segment of a `/`-separated path escaped for a URL.
pub fn path_url(path: &str) -> String {
    path.split('/')
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// One URL segment escaped (a revision, an id).
pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// `1.5 MiB`.
#[allow(clippy::cast_precision_loss)] // a figure for people, one decimal
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Milliseconds since the epoch as `2026-12-06 00:10:00 UTC`.
pub fn time(ms: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replacen('T', " ", 1)
        .replace('Z', " UTC")
}

/// The parameters of a query string.
pub fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of parameter `name`.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find_map(|(k, v)| (k == name).then_some(v.as_str()))
}

/// Breadcrumbs for `path` under `base` (`base` is the URL of the root).
pub fn crumbs(root_label: &str, base: &str, path: &str) -> Markup {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    html! {
        nav.crumbs {
            a href=(base) { (root_label) }
            @for (n, part) in parts.iter().enumerate() {
                " / "
                @if n + 1 == parts.len() {
                    span { (part) }
                } @else {
                    a href=(format!("{base}/{}", path_url(&parts[..=n].join("/")))) { (part) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_escaped_segment_by_segment() {
        assert_eq!(path_url("src/a b/#x?.tsx"), "src/a%20b/%23x%3F.tsx");
        assert_eq!(segment("HEAD~1"), "HEAD~1");
        assert_eq!(segment("a/b"), "a%2Fb");
    }

    #[test]
    fn times_read_as_utc() {
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
    }
}
