//! `diag-check rules …`: list, show, lint and test rule files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use diag_core::rules::{Rule, RuleSet};
use diag_core::testing;
use diag_core::testing::snapshot::{self, SnapshotCompare};

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
    let roots = snapshot::roots(dir, snapshots);
    let mut failed = 0;
    for rule in &results {
        let text = rule.snapshot();
        let compared = snapshot::compare(&roots, &rule.snapshot_name, &text);
        let cases = rule.results.len();
        if rule.passed() && matches!(compared, SnapshotCompare::Matches { .. }) {
            say!(o, "ok    {} ({cases} cases)", rule.snapshot_name);
            continue;
        }
        failed += 1;
        say!(o, "FAIL  {} ({cases} cases)", rule.snapshot_name);
        for p in &rule.problems {
            say!(o, "      {p}");
        }
        match compared {
            SnapshotCompare::Missing => {
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
            SnapshotCompare::Differs { path, diff } => {
                say!(
                    o,
                    "      snapshot {} differs (- stored, + now):",
                    path.display()
                );
                for line in diff {
                    say!(o, "      {line}");
                }
            }
            _ => {}
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
