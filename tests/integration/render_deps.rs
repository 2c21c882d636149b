//! The shared dependency store: installs of different `package.json` variants share
//! every file they have in common (hard links into one content-addressed store), and a
//! prune bounds the whole directory, counting each file once.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use reelstore::{ProjectPath, Source};

use crate::render::{env, sources};

/// Bytes under the cache's work directories, installs and store, each inode once
/// (what the disk holds).
fn disk_bytes(cache: &Path) -> u64 {
    let mut stack: Vec<PathBuf> = ["work", "node_modules", "store"]
        .iter()
        .map(|d| cache.join(d))
        .collect();
    let (mut seen, mut total) = (HashSet::new(), 0);
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else if seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

fn install_dirs(deps: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(deps.join("node_modules"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    v.sort();
    v
}

const VARIANT_1: &str = r#"{"name":"clip","keywords":["bulky"],"dependencies":{"remotion":"4.0.529","@remotion/cli":"4.0.529"}}"#;
const VARIANT_2: &str = r#"{"name":"clip","keywords":["bulky"],"dependencies":{"remotion":"4.0.529","@remotion/cli":"4.0.529","left-pad":"1.3.0"}}"#;

#[tokio::test]
async fn a_second_dependency_variant_costs_its_changes_not_another_install() {
    let e = env().await;
    let deps = e.path("cache"); // the library default: the dependency dir is the cache
    let mut files = sources();
    files[0] = ("package.json", VARIANT_1);
    let id = e.project(&files).await;
    let render = |props| e.renders.render(&e.me, e.request(id, props), |_| {});
    render(serde_json::json!({})).await.unwrap();
    let first = disk_bytes(&deps);
    assert!(
        (2_000_000..2_200_000).contains(&first),
        "the install holds the 2 MiB package once: {first}"
    );

    e.repo
        .artifacts()
        .write_file(
            &e.me,
            id,
            ProjectPath::parse("package.json").unwrap(),
            Source::Bytes(VARIANT_2.as_bytes().to_vec()),
            false,
        )
        .await
        .unwrap();
    let second_job = render(serde_json::json!({})).await.unwrap();
    assert!(
        second_job.installed,
        "another package.json is another install"
    );
    assert_eq!(e.installs(), 2);
    let both = disk_bytes(&deps);
    let added = both - first;
    println!("first install {first} bytes; the second variant added {added} bytes");
    assert!(
        added * 20 < first,
        "the second variant added {added} bytes to the first's {first}"
    );
    let installs = install_dirs(&deps);
    assert_eq!(installs.len(), 2);
    let variant_2 = |d: &PathBuf| {
        std::fs::read_to_string(d.join("package.json"))
            .unwrap()
            .contains("left-pad")
    };
    let newer = installs.iter().find(|d| variant_2(d)).unwrap().clone();
    let inode = |d: &Path| {
        std::fs::metadata(d.join("node_modules/bulky/f7.js"))
            .unwrap()
            .ino()
    };
    assert_eq!(
        inode(&installs[0]),
        inode(&installs[1]),
        "one file, two links"
    );
    let f = installs[0].join("node_modules/bulky/f7.js");
    assert!(
        std::fs::metadata(&f).unwrap().permissions().readonly(),
        "installed files are read-only: editing one in place would change every install"
    );

    // Bounded below both: the least recently used install goes, the shared files stay
    // for the other, and the store keeps nothing only the removed one linked.
    let report = e.renders.prune_cache(both - 1).await.unwrap();
    assert!(report.kept_bytes < both, "{report:?}");
    assert_eq!(report.kept_bytes, disk_bytes(&deps));
    let left = install_dirs(&deps);
    assert_eq!(
        left,
        std::slice::from_ref(&newer),
        "the older variant goes first: {report:?}"
    );
    let f7 = std::fs::read_to_string(newer.join("node_modules/bulky/f7.js")).unwrap();
    assert!(
        f7.starts_with("// file 7\n") && f7.len() == 10250,
        "{}",
        f7.len()
    );
    assert_eq!(report.freed_bytes, both - report.kept_bytes);
    // The remaining install still renders without installing again.
    let again = render(serde_json::json!({"color": "green"})).await.unwrap();
    assert!(!again.installed);
    assert_eq!(e.installs(), 2);
}
