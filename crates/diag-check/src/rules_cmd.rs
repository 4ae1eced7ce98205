//! `diag-check rules …`: list, show, lint and test rule files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use diag_core::rules::{Rule, RuleSet};
use diag_core::testing;

/// Arguments of `rules`.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RulesCommand {
    /// List rules: id, name, kind, severity, versions.
    List {
        /// Also load the rules under this directory (repeatable).
        #[arg(long = "rules", value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
    /// Show one rule's full definition and documentation.
    Show {
        /// Rule id (`100`) or name (`tidb-max-days`).
        rule: String,
        /// Also look in the rules under this directory (repeatable).
        #[arg(long = "rules", value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
    /// Check rule files and print every problem at once (built-in rules when no DIR).
    Lint {
        /// The rule directory.
        dir: Option<PathBuf>,
    },
    /// Run each rule's cases (`<rule>.cases.yaml`) and show what differs from expectations and
    /// stored snapshots.
    Test {
        /// The rule directory (default `rules`).
        dir: Option<PathBuf>,
        /// Where the insta snapshots (`*__<rule>.snap`) live (default: searched below DIR, then
        /// in `tests/snapshots/` (insta's default) of DIR's parent folders, nearest first).
        #[arg(long, value_name = "DIR")]
        snapshots: Option<PathBuf>,
    },
}

/// Appends a line to the output buffer.
macro_rules! say {
    ($o:expr) => {
        $o.push('\n')
    };
    ($o:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($o, $($arg)*);
    }};
}

pub fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    let mut o = String::new();
    let code = match args.command {
        RulesCommand::List { dirs } => list(&mut o, &with_dirs(&dirs)?),
        RulesCommand::Show { rule, dirs } => show(&mut o, &with_dirs(&dirs)?, &rule)?,
        RulesCommand::Lint { dir } => lint(&mut o, dir.as_deref()),
        RulesCommand::Test { dir, snapshots } => test(
            &mut o,
            &dir.unwrap_or_else(|| PathBuf::from("rules")),
            snapshots.as_deref(),
        )?,
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), o.as_bytes());
    Ok(code)
}

fn with_dirs(dirs: &[PathBuf]) -> anyhow::Result<RuleSet> {
    let mut set = RuleSet::builtin();
    for dir in dirs {
        let extra = RuleSet::load_dir(dir)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("loading rules from {}", dir.display()))?;
        set.merge(extra);
    }
    Ok(set)
}

fn versions(rule: &Rule) -> String {
    rule.version_constraint().to_string()
}

fn list(o: &mut String, set: &RuleSet) -> ExitCode {
    let rows: Vec<[String; 6]> = set
        .rules()
        .iter()
        .map(|r| {
            [
                r.meta.id.to_string(),
                r.meta.name.clone(),
                r.meta.kind.as_str().to_string(),
                r.meta.severity.as_str().to_string(),
                versions(r),
                r.form().to_string(),
            ]
        })
        .collect();
    let header = ["ID", "NAME", "KIND", "SEVERITY", "VERSIONS", "FORM"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        say!(o, "{}", line.join("  ").trim_end());
    }
    say!(o, "\n{} rules ({})", rows.len(), set.version());
    ExitCode::SUCCESS
}

fn show(o: &mut String, set: &RuleSet, id: &str) -> anyhow::Result<ExitCode> {
    let found: Vec<&Rule> = set.find(id).collect();
    if found.is_empty() {
        match set.nearest_name(id) {
            Some(name) => anyhow::bail!(
                "no rule has id or name `{id}` (did you mean `{name}`? see `diag-check rules list`)"
            ),
            None => anyhow::bail!("no rule has id or name `{id}` (see `diag-check rules list`)"),
        }
    }
    for (i, r) in found.iter().enumerate() {
        if i > 0 {
            say!(o);
        }
        let m = &r.meta;
        say!(o, "Rule {} {}", m.id, m.name);
        say!(o, "  Kind:        {}", m.kind.as_str());
        say!(
            o,
            "  Components:  {}",
            m.components
                .iter()
                .map(|c| c.config_struct())
                .collect::<Vec<_>>()
                .join(", ")
        );
        say!(o, "  Variation:   {}", m.variation);
        say!(o, "  Severity:    {}", m.severity.as_str());
        say!(o, "  Versions:    {}", versions(r));
        say!(o, "  Form:        {}", r.form());
        say!(o, "  Link:        {}", m.link);
        say!(o, "  Source:      {}", m.source);
        say!(o, "\nWhat it checks\n  {}", m.description);
        if !m.suggestion.is_empty() {
            say!(o, "\nFix\n  {}", m.suggestion);
        }
        say!(
            o,
            "\nDefinition\n{}",
            r.definition()
                .lines()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn lint(o: &mut String, dir: Option<&Path>) -> ExitCode {
    let (loaded, what) = match dir {
        Some(d) => (RuleSet::load_dir(d), d.display().to_string()),
        None => (RuleSet::builtin_checked(), "built-in rules".to_string()),
    };
    match loaded {
        Ok(set) => {
            say!(o, "{what}: {} rules, no problems", set.rules().len());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.errors {
                say!(o, "{e}");
            }
            say!(
                o,
                "\n{what}: {} problem(s); {} rules loaded cleanly",
                errors.errors.len(),
                errors.partial.rules().len()
            );
            ExitCode::from(1)
        }
    }
}

fn test(o: &mut String, dir: &Path, snapshots: Option<&Path>) -> anyhow::Result<ExitCode> {
    let results = testing::run_dir(dir)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("loading rules from {}", dir.display()))?;
    let roots = snapshot_roots(dir, snapshots);
    let mut failed = 0;
    for rule in &results {
        let text = rule.snapshot();
        let stored = find_snapshot(&roots, &rule.snapshot_name);
        let snapshot_diff = stored
            .as_ref()
            .and_then(|(_, old)| (old.trim_end() != text.trim_end()).then(|| diff(old, &text)));
        let cases = rule.results.len();
        if rule.passed() && stored.is_some() && snapshot_diff.is_none() {
            say!(o, "ok    {} ({cases} cases)", rule.snapshot_name);
            continue;
        }
        failed += 1;
        say!(o, "FAIL  {} ({cases} cases)", rule.snapshot_name);
        for p in &rule.problems {
            say!(o, "      {p}");
        }
        if stored.is_none() {
            // A case nobody has looked at is not a pass: show what the snapshot would hold.
            let looked: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            say!(
                o,
                "      no snapshot for {} (`*__{}.snap`; looked in {}); accept one with `cargo insta test --review`, or pass --snapshots DIR. It would read:",
                rule.snapshot_name,
                rule.snapshot_name,
                looked.join(", ")
            );
            for line in text.trim_end().lines() {
                say!(o, "      + {line}");
            }
        }
        if let (Some(d), Some((path, _))) = (snapshot_diff, &stored) {
            say!(
                o,
                "      snapshot {} differs (- stored, + now):",
                path.display()
            );
            for line in d {
                say!(o, "      {line}");
            }
        }
    }
    say!(
        o,
        "\n{} rules, {} passed, {failed} failed",
        results.len(),
        results.len() - failed
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Where snapshots are looked for: `--snapshots DIR` alone, else DIR itself and insta's default
/// `tests/snapshots/` in DIR's parent folders, nearest first (a rule pack's crate is the parent
/// of its `rules/`; this repository's shipped rules have theirs in `crates/diag-core/tests/`).
fn snapshot_roots(dir: &Path, explicit: Option<&Path>) -> Vec<PathBuf> {
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

/// The stored insta snapshot `*__<name>.snap`: its path and body (after the `---` header).
fn find_snapshot(roots: &[PathBuf], name: &str) -> Option<(PathBuf, String)> {
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
                    return Some((p, snapshot_body(&text)));
                }
            }
        }
    }
    None
}

fn snapshot_body(text: &str) -> String {
    // insta files: `---\n<yaml header>\n---\n<body>`.
    match text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
    {
        Some((_, body)) => body.to_string(),
        None => text.to_string(),
    }
}

/// A line diff (longest common subsequence), `-` old, `+` new, ` ` both.
fn diff(old: &str, new: &str) -> Vec<String> {
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
        assert_eq!(diff("a\nb\nc\n", "a\nB\nc\n"), ["  a", "+ B", "- b", "  c"]);
    }

    #[test]
    fn snapshot_body_drops_the_insta_header() {
        assert_eq!(snapshot_body("---\nsource: x\n---\nrule 1\n"), "rule 1\n");
    }
}
