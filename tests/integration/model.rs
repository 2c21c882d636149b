//! Property test: any sequence of write / delete / move / mkdir / checkpoint / restore
//! on a project matches a simple in-memory model of the file tree.

use std::collections::BTreeMap;

use proptest::prelude::*;
use reelstore::{CreateCheckpoint, CreateProject, ProjectPath, Source};

use crate::artifacts::{caller, repo};

#[derive(Debug, Clone)]
enum Op {
    Write(String, u8),
    Delete(String),
    Move(String, String),
    Mkdir(String),
    Checkpoint,
    Restore(usize),
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..4).prop_map(|v| v.join("/"))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (path(), any::<u8>()).prop_map(|(p, b)| Op::Write(p, b)),
        2 => path().prop_map(Op::Delete),
        2 => (path(), path()).prop_map(|(a, b)| Op::Move(a, b)),
        1 => path().prop_map(Op::Mkdir),
        2 => Just(Op::Checkpoint),
        1 => (0..8usize).prop_map(Op::Restore),
    ]
}

/// The model: path → Some(content) for files, None for directories.
type Model = BTreeMap<String, Option<Vec<u8>>>;

fn parents(path: &str) -> Vec<String> {
    path.match_indices('/')
        .map(|(i, _)| path[..i].to_owned())
        .collect()
}

fn is_dir(m: &Model, p: &str) -> bool {
    matches!(m.get(p), Some(None))
}

fn remove_tree(m: &mut Model, p: &str) {
    m.retain(|k, _| k != p && !k.starts_with(&format!("{p}/")));
}

/// Applies an op to the model; `false` when the engine must refuse it.
fn apply(m: &mut Model, op: &Op) -> bool {
    match op {
        Op::Write(p, b) => {
            if is_dir(m, p) || parents(p).iter().any(|a| matches!(m.get(a), Some(Some(_)))) {
                return false;
            }
            for a in parents(p) {
                m.insert(a, None);
            }
            m.insert(p.clone(), Some(vec![*b; 1 + usize::from(*b)]));
            true
        }
        Op::Delete(p) => {
            if !m.contains_key(p) {
                return false;
            }
            remove_tree(m, p);
            true
        }
        Op::Move(from, to) => {
            let into_itself = to == from || to.starts_with(&format!("{from}/"));
            let parent_is_file = parents(to)
                .iter()
                .any(|a| matches!(m.get(a), Some(Some(_))));
            if !m.contains_key(from) || m.contains_key(to) || into_itself || parent_is_file {
                return false;
            }
            let moved: Vec<(String, Option<Vec<u8>>)> = m
                .iter()
                .filter(|(k, _)| *k == from || k.starts_with(&format!("{from}/")))
                .map(|(k, v)| (format!("{to}{}", &k[from.len()..]), v.clone()))
                .collect();
            remove_tree(m, from);
            for a in parents(to) {
                m.insert(a, None);
            }
            m.extend(moved);
            true
        }
        Op::Mkdir(p) => {
            if matches!(m.get(p), Some(Some(_)))
                || parents(p).iter().any(|a| matches!(m.get(a), Some(Some(_))))
            {
                return false;
            }
            for a in parents(p) {
                m.insert(a, None);
            }
            m.insert(p.clone(), None);
            true
        }
        Op::Checkpoint | Op::Restore(_) => true,
    }
}

fn pp(s: &str) -> ProjectPath {
    ProjectPath::parse(s).unwrap()
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let me = caller("sb", Some("u"), None);
    let id = a
        .create_project(
            &me,
            CreateProject {
                name: "model".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    let mut model = Model::new();
    let mut saved: Vec<Model> = Vec::new();
    for op in &ops {
        let mut next = model.clone();
        let ok = apply(&mut next, op);
        let result = match op {
            Op::Write(p, b) => a
                .write_file(
                    &me,
                    id,
                    pp(p),
                    Source::Bytes(vec![*b; 1 + usize::from(*b)]),
                    false,
                )
                .await
                .map(drop),
            Op::Delete(p) => a.delete_file(&me, id, pp(p)).await,
            Op::Move(f, t) => a.move_file(&me, id, pp(f), pp(t)).await,
            Op::Mkdir(p) => a.mkdir(&me, id, pp(p)).await,
            Op::Checkpoint => {
                let name = format!("c{}", saved.len());
                saved.push(model.clone());
                a.create_checkpoint(
                    &me,
                    id,
                    CreateCheckpoint {
                        name,
                        ..Default::default()
                    },
                )
                .await
                .map(drop)
            }
            Op::Restore(i) if saved.is_empty() => {
                let _ = i;
                Ok(())
            }
            Op::Restore(i) => {
                let i = i % saved.len();
                next = saved[i].clone();
                a.restore_checkpoint(&me, id, &format!("c{i}"))
                    .await
                    .map(drop)
            }
        };
        prop_assert_eq!(result.is_ok(), ok, "{:?} -> {:?}", op, result);
        if ok {
            model = next;
        }
        let listed = a.list_files(&me, id, None, true).await.unwrap();
        let actual: Model = {
            let mut out = Model::new();
            for f in listed {
                let content = match f.kind {
                    reelstore::EntryKind::Dir => None,
                    _ => Some(a.read_file(&me, id, pp(&f.path), None).await.unwrap()),
                };
                out.insert(f.path, content);
            }
            out
        };
        prop_assert_eq!(&actual, &model, "after {:?}", op);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn operations_match_the_model(ops in prop::collection::vec(op(), 1..25)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run(ops))?;
    }
}
