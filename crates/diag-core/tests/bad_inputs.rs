//! The bad-input corpus: every case under `fixtures/bad/` either loads with the warnings it
//! should, or fails with the one error it should. Nothing panics, nothing is lost, nothing is
//! written. Each case's outcome is a snapshot named after it.
//!
//! A case's name says what reads it (see `fixtures/README.md`): a bundle whose bad file only
//! rules read (`log-`, `dmesg-`, `slowlog-`, `metric-`, `alert-`, `insight-`, `limits-`,
//! `sysctl-`, `system-`, `store-`, `placement-`) is also checked with the rules that read that
//! source, and its snapshot shows their rows: a bad file costs its own rows, a healthy sibling
//! file in the same case still gives its rows. `waivers-*.yaml` is read as a waiver file,
//! `rules-*/` as a rule directory. Cases that need big data are built at run time (the
//! `generated` tests below); they assert their bounds by counting, never by timing.

use std::fmt::Write as _;
use std::path::Path;

use diag_core::Cluster;
use diag_core::bundle::Limits;
use diag_core::engine::{self, CheckOptions, CheckOutcome, RowState};
use diag_core::model::{InstanceConfig, LoadOptions};
use diag_core::rules::{CheckKind, RuleSet};
use diag_core::testing::render_row;
use diag_core::waivers::WaiverSet;

/// The shipped rules, compiled once for the whole corpus.
fn builtin() -> &'static RuleSet {
    static RULES: std::sync::LazyLock<RuleSet> = std::sync::LazyLock::new(RuleSet::builtin);
    &RULES
}

/// Tight limits so the corpus can hold small bombs.
fn options() -> LoadOptions {
    LoadOptions::default().limits(limits())
}

fn limits() -> Limits {
    Limits::default()
        .with_max_entry_bytes(4 << 20)
        .with_max_total_bytes(16 << 20)
        .with_max_ratio(100)
        .with_max_entries(10_000)
        .with_max_read_bytes(4 << 20)
}

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bad")
}

/// What a case is read as, from its name.
enum Probe {
    /// Loaded only.
    Load,
    /// Loaded, then checked with these kinds, restricted to these rules.
    Check(Vec<CheckKind>, Vec<String>),
    /// A waiver file.
    Waivers,
    /// A rule directory.
    RuleDir,
}

fn probe(name: &str) -> Probe {
    let strs = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let prefix = name.split('-').next().unwrap_or_default();
    match prefix {
        "log" | "dmesg" => Probe::Check(
            vec![CheckKind::Log],
            strs(&["fatal-log-line", "go-panic", "rust-panic", "kernel-oom-kill"]),
        ),
        "slowlog" => Probe::Check(vec![CheckKind::Performance], Vec::new()),
        "metric" => Probe::Check(
            vec![CheckKind::Metric],
            strs(&["tikv-store-space", "tidb-heap-memory"]),
        ),
        "alert" => Probe::Check(
            vec![CheckKind::Metric],
            builtin()
                .rules()
                .iter()
                .filter(|r| r.meta.name.starts_with("alert-"))
                .map(|r| r.meta.name.clone())
                .collect(),
        ),
        "insight" | "limits" | "sysctl" | "system" => Probe::Check(
            vec![CheckKind::System],
            strs(&[
                "host-sizing",
                "swap-enabled",
                "time-offset",
                "os-version",
                "limits-nofile-soft",
                "sysctl-vm-swappiness",
            ]),
        ),
        "store" | "placement" => Probe::Check(
            vec![CheckKind::Topology],
            strs(&[
                "store-down",
                "store-offline",
                "store-tombstone",
                "store-low-space",
                "store-region-skew",
                "max-replicas-vs-stores",
                "placement-unsatisfiable",
            ]),
        ),
        "waivers" => Probe::Waivers,
        "rules" => Probe::RuleDir,
        _ => Probe::Load,
    }
}

/// Paths as the snapshot shows them: the corpus as `fixtures/bad`, a temporary directory as
/// `<tmp>`.
fn tidy(text: &str, tmp: Option<&Path>) -> String {
    let mut text = text.replace(&corpus().display().to_string(), "fixtures/bad");
    if let Some(t) = tmp {
        text = text.replace(&t.display().to_string(), "<tmp>");
    }
    text
}

/// The outcome of the case at `path`, read as its name says.
fn outcome(name: &str, path: &Path, tmp: Option<&Path>) -> String {
    let text = match probe(name) {
        Probe::Load => load_outcome(path, None).0,
        Probe::Check(kinds, only) => {
            let (mut out, cluster) = load_outcome(path, None);
            if let Some(cluster) = cluster {
                let options = CheckOptions {
                    kinds,
                    only,
                    ..CheckOptions::default()
                };
                let outcome = engine::check(&cluster, builtin(), &options);
                out.push_str(&render_outcome(&outcome));
            }
            out
        }
        Probe::Waivers => waivers_outcome(path),
        Probe::RuleDir => rule_dir_outcome(path),
    };
    tidy(&text, tmp)
}

/// Renders what loading a bundle gives: the hard error, or the model summary, the warnings,
/// and the errors of every lazily parsed file.
fn load_outcome(path: &Path, load: Option<&LoadOptions>) -> (String, Option<Cluster>) {
    let mut out = String::new();
    let cluster = match Cluster::open_with(path, load.unwrap_or(&options())) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "error ({}): {e}", e.kind());
            return (out, None);
        }
    };
    let _ = writeln!(
        out,
        "loaded: cluster `{}` version {} layout {:?}",
        cluster.name, cluster.version.text, cluster.layout
    );
    for inst in &cluster.instances {
        let state = match &inst.config {
            InstanceConfig::Loaded(_) => "config loaded",
            InstanceConfig::Absent { .. } => "no config",
            InstanceConfig::Invalid { .. } => "config invalid",
            _ => "config not read",
        };
        let _ = writeln!(out, "  {} [{}] {state}", inst.tag(), inst.dir);
    }
    let _ = writeln!(out, "warnings: {}", cluster.warnings.len());
    for w in &cluster.warnings {
        let _ = writeln!(out, "  ({}) {w}", w.kind());
    }
    let files = cluster
        .instances
        .iter()
        .flat_map(|i| &i.files)
        .chain(cluster.hosts.values().flatten())
        .chain(&cluster.files);
    let mut lazy = Vec::new();
    for f in files {
        if let Err(e) = f.tree() {
            lazy.push(format!("  ({}) {e}", e.kind()));
        }
    }
    lazy.sort();
    if !lazy.is_empty() {
        let _ = writeln!(out, "lazy parse errors: {}", lazy.len());
        for l in lazy {
            let _ = writeln!(out, "{l}");
        }
    }
    (out, Some(cluster))
}

/// Every row of every finding, as the report prints it, with where an abnormal row's first
/// piece of evidence was read.
fn render_outcome(outcome: &CheckOutcome) -> String {
    let mut out = format!("checked: {} rules\n", outcome.findings.len());
    for f in &outcome.findings {
        let _ = writeln!(out, "rule {} {}", f.rule.id, f.rule.name);
        for row in &f.rows {
            let _ = writeln!(out, "  {}", render_row(row));
            if matches!(row.state, RowState::Abnormal(_))
                && let Some(e) = row.evidence.first()
            {
                let _ = writeln!(out, "    @ {}:{}", e.file, e.line);
            }
        }
    }
    out
}

/// A waiver file: its error, or its waivers applied to the seed bundle's config check.
fn waivers_outcome(path: &Path) -> String {
    let set = match WaiverSet::load(path) {
        Ok(s) => s,
        Err(e) => return format!("error: {e}\n"),
    };
    let mut out = format!("waivers: {}\n", set.waivers().len());
    for w in set.waivers() {
        let _ = writeln!(out, "  {}", w.describe());
    }
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/diag-fPrz0RnDxRn");
    let cluster = match Cluster::open(&seed) {
        Ok(c) => c,
        Err(e) => return format!("{out}the seed bundle: {e}\n"),
    };
    let mut outcome = engine::check(&cluster, builtin(), &CheckOptions::default());
    let report = set.apply(&mut outcome, jiff::civil::date(2026, 1, 1));
    for n in report.notices() {
        let _ = writeln!(out, "notice: {n}");
    }
    for f in &outcome.findings {
        for r in f.rows.iter().filter(|r| matches!(r.state, RowState::Waived(_))) {
            let _ = writeln!(out, "waived: {} {}", f.rule.name, r.tag);
        }
    }
    out
}

/// A rule directory: its load errors, or its rules run over the minimal bundle.
fn rule_dir_outcome(path: &Path) -> String {
    let rules = match RuleSet::load_dir(path) {
        Ok(r) => r,
        Err(e) => return format!("rule load errors:\n{e}\n"),
    };
    let mut out = format!("rules: {}\n", rules.rules().len());
    let minimal = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/minimal");
    let cluster = match Cluster::open(&minimal) {
        Ok(c) => c,
        Err(e) => return format!("{out}the minimal bundle: {e}\n"),
    };
    let options = CheckOptions {
        kinds: CheckKind::ALL.to_vec(),
        ..CheckOptions::default()
    };
    out.push_str(&render_outcome(&engine::check(&cluster, &rules, &options)));
    out
}

#[test]
fn every_bad_input_gives_its_expected_outcome() {
    let mut names: Vec<String> = std::fs::read_dir(corpus())
        .unwrap_or_else(|e| panic!("fixtures/bad: {e}"))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    assert!(
        names.len() + generated::CASES >= 100,
        "the corpus must hold at least 100 cases, found {} and {} generated",
        names.len(),
        generated::CASES
    );
    let before = tree_listing(&corpus());
    for name in &names {
        insta::assert_snapshot!(name.as_str(), outcome(name, &corpus().join(name), None));
    }
    assert_eq!(
        before,
        tree_listing(&corpus()),
        "loading wrote into the corpus"
    );
}

fn tree_listing(root: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = walkdir(root);
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p));
            } else {
                out.push((
                    p.display().to_string(),
                    e.metadata().map(|m| m.len()).unwrap_or(0),
                ));
            }
        }
    }
    out
}

/// Cases too big to commit, built into a temporary directory at run time from the minimal
/// bundle. Each snapshot is named `generated-<case>`.
mod generated {
    /// How many generated cases there are (the corpus count includes them).
    pub const CASES: usize = 0;
}
