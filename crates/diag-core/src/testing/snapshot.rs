//! Comparing a rule's rendered cases ([`super::RuleCases::snapshot`]) with the insta snapshot
//! stored for it, as `diag-check rules test` does: where snapshots are looked for, how a stored
//! file is read, and a line diff of the two.
//!
//! ```
//! use diag_core::testing::snapshot::{SnapshotCompare, compare};
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("rules__r1.snap"), "---\nsource: x\n---\nrule 1\nok\n").unwrap();
//! let roots = [dir.path().to_path_buf()];
//! assert!(matches!(compare(&roots, "r1", "rule 1\nok\n"), SnapshotCompare::Matches { .. }));
//! let SnapshotCompare::Differs { diff, .. } = compare(&roots, "r1", "rule 1\nbad\n") else { panic!() };
//! assert_eq!(diff, ["  rule 1", "+ bad", "- ok"]);
//! assert!(matches!(compare(&roots, "r2", ""), SnapshotCompare::Missing));
//! ```

use std::path::{Path, PathBuf};

/// How rendered text compares with the stored snapshot of its name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotCompare {
    /// The stored snapshot at `path` holds the same text (trailing whitespace aside).
    Matches {
        /// The snapshot file.
        path: PathBuf,
    },
    /// No `*__<name>.snap` under any root.
    Missing,
    /// The stored snapshot at `path` differs; `diff` from [`line_diff`] (stored → now).
    Differs {
        /// The snapshot file.
        path: PathBuf,
        /// `-` stored, `+` now, two spaces both.
        diff: Vec<String>,
    },
}

/// Compares `text` with the snapshot `*__<name>.snap` found first under `roots`.
pub fn compare(roots: &[PathBuf], name: &str, text: &str) -> SnapshotCompare {
    match find(roots, name) {
        None => SnapshotCompare::Missing,
        Some((path, old)) if old.trim_end() == text.trim_end() => SnapshotCompare::Matches { path },
        Some((path, old)) => SnapshotCompare::Differs {
            path,
            diff: line_diff(&old, text),
        },
    }
}

/// Where snapshots are looked for: `explicit` alone when given, else `dir` itself and insta's
/// default `tests/snapshots/` in `dir`'s parent folders, nearest first (a rule pack's crate is
/// the parent of its `rules/`; this repository's shipped rules have theirs in
/// `crates/diag-core/tests/`).
pub fn roots(dir: &Path, explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    let mut roots = vec![dir.to_path_buf()];
    let absolute = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    for ancestor in absolute.ancestors().skip(1) {
        for candidate in [
            ancestor.join("tests/snapshots"),
            ancestor.join("crates/diag-core/tests/snapshots"),
        ] {
            if candidate.is_dir() {
                roots.push(candidate);
            }
        }
    }
    roots
}

/// The stored insta snapshot `*__<name>.snap` (searched below each root in turn, files in name
/// order): its path and body (after the `---` header).
pub fn find(roots: &[PathBuf], name: &str) -> Option<(PathBuf, String)> {
    let suffix = format!("__{name}.snap");
    for root in roots {
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            entries.sort();
            for p in entries {
                if p.is_dir() {
                    stack.push(p);
                } else if p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().ends_with(&suffix))
                    && let Ok(text) = std::fs::read_to_string(&p)
                {
                    return Some((p, body(&text)));
                }
            }
        }
    }
    None
}

/// The body of an insta snapshot file (`---\n<yaml header>\n---\n<body>`); text without the
/// header is its own body.
pub fn body(text: &str) -> String {
    match text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
    {
        Some((_, body)) => body.to_string(),
        None => text.to_string(),
    }
}

/// A line diff (longest common subsequence) of two snapshot texts: `- ` old, `+ ` new, two
/// spaces both. Cost is lines(old) × lines(new); snapshots are a few dozen lines.
pub fn line_diff(old: &str, new: &str) -> Vec<String> {
    let a: Vec<&str> = old.trim_end().lines().collect();
    let b: Vec<&str> = new.trim_end().lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+ {}", b[j]));
            j += 1;
        } else {
            out.push(format!("- {}", a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_marks_changed_lines() {
        assert_eq!(
            line_diff("a\nb\nc\n", "a\nB\nc\n"),
            ["  a", "+ B", "- b", "  c"]
        );
    }

    #[test]
    fn body_drops_the_insta_header() {
        assert_eq!(body("---\nsource: x\n---\nrule 1\n"), "rule 1\n");
        assert_eq!(body("rule 1\n"), "rule 1\n");
    }

    #[test]
    fn the_first_root_holding_the_snapshot_wins() {
        let (a, b) = (tempfile::tempdir(), tempfile::tempdir());
        let (Ok(a), Ok(b)) = (a, b) else {
            panic!("tempdir")
        };
        let nested = b.path().join("deep");
        let _ = std::fs::create_dir_all(&nested);
        let _ = std::fs::write(nested.join("x__r.snap"), "---\nsource: b\n---\nfrom b\n");
        let roots = [a.path().to_path_buf(), b.path().to_path_buf()];
        assert_eq!(
            find(&roots, "r").map(|(_, t)| t).as_deref(),
            Some("from b\n")
        );
        let _ = std::fs::write(a.path().join("y__r.snap"), "---\nsource: a\n---\nfrom a\n");
        assert_eq!(
            find(&roots, "r").map(|(_, t)| t).as_deref(),
            Some("from a\n")
        );
        assert_eq!(roots_of_explicit(), 1);
    }

    fn roots_of_explicit() -> usize {
        roots(Path::new("."), Some(Path::new("/x"))).len()
    }
}
