//! `reel log --graph`: the lanes git draws to the left of the history when it branches
//! (a restore of an older checkpoint, then a new checkpoint on it).

use reelstore::CommitId;

/// What to print for one checkpoint: the lines joining lanes into it (`|/`), drawn
/// before it, and the prefix of its own line (`| * `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GraphRow {
    /// Lines drawn before the checkpoint's own (lanes that end in it), no trailing
    /// blanks.
    pub(super) joins: Vec<String>,
    /// The prefix of the checkpoint's line.
    pub(super) prefix: String,
}

/// The graph rows of `commits` (each with its parents), listed children before parents
/// (newest first).
pub(super) fn rows(commits: &[(CommitId, Vec<CommitId>)]) -> Vec<GraphRow> {
    // Each lane holds the checkpoint its line leads to next.
    let mut lanes: Vec<Option<CommitId>> = Vec::new();
    let mut out = Vec::with_capacity(commits.len());
    for (id, parents) in commits {
        let expecting: Vec<usize> = (0..lanes.len())
            .filter(|&i| lanes[i] == Some(*id))
            .collect();
        let lane = match expecting.first() {
            Some(&i) => i,
            None => free_lane(&mut lanes),
        };
        let mut joins = Vec::new();
        // Lanes beyond the first that lead here end here: git's `|/`, the slash
        // between the lane it leaves and the one to its left.
        for &j in expecting.iter().skip(1) {
            lanes[j] = None;
            let mut cols: Vec<char> = draw(&lanes, |_| None).chars().collect();
            cols.resize(cols.len().max(2 * j), ' ');
            cols[2 * j - 1] = '/';
            joins.push(cols.into_iter().collect::<String>().trim_end().to_owned());
        }
        let prefix = draw(&lanes, |k| (k == lane).then_some('*'));
        let mut parents = parents.iter();
        lanes[lane] = parents.next().copied();
        for p in parents {
            // A second parent continues in a lane of its own unless one leads to it.
            if !lanes.contains(&Some(*p)) {
                let l = free_lane(&mut lanes);
                lanes[l] = Some(*p);
            }
        }
        while lanes.last() == Some(&None) {
            lanes.pop();
        }
        out.push(GraphRow { joins, prefix });
    }
    out
}

/// The first empty lane, or a new one.
fn free_lane(lanes: &mut Vec<Option<CommitId>>) -> usize {
    if let Some(i) = lanes.iter().position(Option::is_none) {
        i
    } else {
        lanes.push(None);
        lanes.len() - 1
    }
}

/// One line of lanes: `mark(k)` where it says, `|` for other live lanes, two columns
/// per lane, trailing blanks trimmed but one space kept before the text.
fn draw(lanes: &[Option<CommitId>], mark: impl Fn(usize) -> Option<char>) -> String {
    let width = lanes.len().max(1);
    let mut s = String::with_capacity(2 * width);
    for k in 0..width {
        let c = mark(k).unwrap_or(if lanes.get(k).copied().flatten().is_some() {
            '|'
        } else {
            ' '
        });
        s.push(c);
        s.push(' ');
    }
    let trimmed = s.trim_end().len();
    s.truncate(trimmed);
    s.push(' ');
    s
}

#[cfg(test)]
mod tests {
    use super::{GraphRow, rows};
    use reelstore::{CommitId, Hash};

    fn id(n: u8) -> CommitId {
        CommitId(Hash::of(&[n]))
    }

    fn render(rows: &[GraphRow], names: &[&str]) -> String {
        let mut s = String::new();
        for (r, name) in rows.iter().zip(names) {
            for j in &r.joins {
                s.push_str(j.trim_end());
                s.push('\n');
            }
            s.push_str(&r.prefix);
            s.push_str(name);
            s.push('\n');
        }
        s
    }

    #[test]
    fn a_line_is_one_lane() {
        let r = rows(&[(id(3), vec![id(2)]), (id(2), vec![id(1)]), (id(1), vec![])]);
        assert_eq!(render(&r, &["v3", "v2", "v1"]), "* v3\n* v2\n* v1\n");
    }

    #[test]
    fn a_restore_then_a_checkpoint_branches_as_git_draws_it() {
        // v1 <- v2; restore v1; v1 <- v3 (newest first: v3, v2, v1).
        let r = rows(&[(id(3), vec![id(1)]), (id(2), vec![id(1)]), (id(1), vec![])]);
        assert_eq!(render(&r, &["v3", "v2", "v1"]), "* v3\n| * v2\n|/\n* v1\n");
    }

    #[test]
    fn two_branches_off_one_checkpoint_and_a_longer_one() {
        // v1 <- v2 <- v4; v1 <- v3 <- v5; v1 <- v6 (newest first: v6, v5, v4, v3, v2, v1).
        let r = rows(&[
            (id(6), vec![id(1)]),
            (id(5), vec![id(3)]),
            (id(4), vec![id(2)]),
            (id(3), vec![id(1)]),
            (id(2), vec![id(1)]),
            (id(1), vec![]),
        ]);
        assert_eq!(
            render(&r, &["v6", "v5", "v4", "v3", "v2", "v1"]),
            // Each lane that ends in v1 turns into it on a line of its own.
            "* v6\n| * v5\n| | * v4\n| * | v3\n| | * v2\n|/  |\n|  /\n* v1\n"
        );
    }
}
