//! The layering rules of `docs/architecture.md`, checked on the source: imports run only
//! downward, each foreign crate stays inside its layer, `mod.rs` files hold only `mod`
//! and `use` lines, and no file grows past 500 lines (test modules aside).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The library's layers, lowest first. A module may import from its own layer and the
/// ones before it.
const LAYERS: &[&[&str]] = &[
    &["error", "hash", "liveness"],
    &["object"],
    &["store"],
    &["index"],
    &["engine"],
    &["artifact"],
    &["render"],
    &["repo"],
    &["mcp", "ui"],
];

/// Foreign crates and the only places that may name them.
const CONFINED: &[(&str, &[&str])] = &[
    (
        "redb::",
        &[
            "src/index/",
            "src/store/redb_backend.rs",
            "src/store/error.rs",
        ],
    ),
    ("object_store::", &["src/store/"]),
    ("clap::", &["src/cli/"]),
    ("indicatif::", &["src/cli/"]),
    ("tracing_subscriber::", &["src/cli/"]),
    ("rmcp::", &["src/mcp/"]),
    ("axum::", &["src/mcp/", "src/ui/"]),
    ("tokio::process", &["src/render/"]),
    // Renderer processes, the command line's pager, and the browser `reel ui --open`
    // starts.
    (
        "Command::new(",
        &["src/render/", "src/cli/output.rs", "src/cli/ui.rs"],
    ),
    ("anyhow", &[]),
];

const MAX_FILE_LINES: usize = 500;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Files declared as `#[cfg(test)] mod NAME;`: test code, held to no layer.
fn test_only(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        let dir = f.parent().unwrap();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if line.trim() == "#[cfg(test)]"
                && let Some(next) = lines.peek()
                && let Some(name) = next
                    .trim()
                    .strip_prefix("mod ")
                    .and_then(|n| n.strip_suffix(';'))
            {
                out.push(dir.join(format!("{name}.rs")));
            }
        }
    }
    out
}

/// Every source file (relative, `/`-separated) with its text up to its test module;
/// test-only files are left out.
fn sources() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let tests = test_only(&files);
    files
        .into_iter()
        .filter(|p| !tests.contains(p))
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            let code = match text.find("#[cfg(test)]\nmod ") {
                Some(at) => text[..at].to_owned(),
                None => text,
            };
            (rel, code)
        })
        .collect()
}

/// The top-level module a file belongs to (`src/engine/gc/plan.rs` → `engine`).
fn module_of(file: &str) -> &str {
    let rest = file.strip_prefix("src/").unwrap();
    let first = rest.split('/').next().unwrap();
    first.strip_suffix(".rs").unwrap_or(first)
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Modules named by `crate::NAME` in a line, including `use crate::{a, b::c}` groups.
fn crate_refs(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
            }
        } else {
            out.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    out
}

fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("//")
}

#[test]
fn imports_run_only_downward() {
    let mut bad = Vec::new();
    for (file, code) in sources() {
        let module = module_of(&file);
        // The binary (main.rs, cli/) sees the library only through its public API.
        if module == "main" || module == "cli" || module == "lib" {
            continue;
        }
        let own =
            layer_of(module).unwrap_or_else(|| panic!("{file}: module {module} has no layer"));
        for (n, line) in code.lines().enumerate() {
            if is_comment(line) {
                continue;
            }
            for target in crate_refs(line) {
                if let Some(l) = layer_of(&target)
                    && l > own
                {
                    bad.push(format!("{file}:{}: {module} imports {target}", n + 1));
                }
            }
        }
    }
    assert!(bad.is_empty(), "upward imports:\n{}", bad.join("\n"));
}

#[test]
fn the_binary_uses_only_the_public_api() {
    let mut bad = Vec::new();
    for (file, code) in sources() {
        let module = module_of(&file);
        if module != "main" && module != "cli" {
            continue;
        }
        for (n, line) in code.lines().enumerate() {
            if !is_comment(line) && line.contains("crate::") {
                bad.push(format!("{file}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "the binary reaches into the crate:\n{}",
        bad.join("\n")
    );
}

#[test]
fn foreign_crates_stay_in_their_layer() {
    let mut bad = Vec::new();
    for (file, code) in sources() {
        for (needle, allowed) in CONFINED {
            if allowed.iter().any(|a| file.starts_with(a)) {
                continue;
            }
            for (n, line) in code.lines().enumerate() {
                // A derive behind the face's feature is a view of a library type (one
                // definition for flags and API), not a use of the face.
                let face_view = line
                    .trim_start()
                    .starts_with("#[cfg_attr(feature = \"cli\"");
                if !is_comment(line) && !face_view && line.contains(needle) {
                    bad.push(format!("{file}:{}: `{needle}` outside {allowed:?}", n + 1));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn mod_files_hold_only_mod_and_use_lines() {
    let mut bad = Vec::new();
    for (file, code) in sources() {
        if !file.ends_with("/mod.rs") {
            continue;
        }
        for (n, line) in code.lines().enumerate() {
            let t = line.trim();
            let fine = t.is_empty()
                || t.starts_with("//")
                || t.starts_with("#[")
                || t.starts_with("mod ")
                || t.starts_with("pub mod ")
                || t.starts_with("pub(crate) mod ")
                || t.starts_with("use ")
                || t.starts_with("pub use ")
                || t.starts_with("pub(crate) use ")
                // continuation lines of a multi-line `pub use a::{…};`
                || t.ends_with(',')
                || t.starts_with('}')
                || t.chars().next().is_some_and(char::is_alphanumeric) && !t.contains(' ');
            if !fine {
                bad.push(format!("{file}:{}: {t}", n + 1));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "mod.rs with more than mod and use lines:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_file_is_too_long() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|(_, code)| code.lines().count() > MAX_FILE_LINES)
        .map(|(file, code)| format!("{file}: {} lines", code.lines().count()))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checker_sees_an_upward_import() {
    // The checks above must be able to fail: a line as an upward import would be.
    let refs = crate_refs("use crate::{artifact::Caller, hash::Hash};");
    assert_eq!(refs, ["artifact", "hash"]);
    assert!(layer_of("artifact") > layer_of(module_of("src/engine/gc/plan.rs")));
}
