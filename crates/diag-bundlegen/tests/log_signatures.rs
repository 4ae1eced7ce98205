//! Log rules on generated bundles: every rule's signature, planted once at a known file:line,
//! is cited exactly there; the same lines dated a day before the window are cited nowhere; a
//! bundle whose logs hold only ordinary lines gives no warning or critical log finding.

use std::path::Path;

use diag_bundlegen::logs::{Planted, plant, signatures};
use diag_bundlegen::{BundleSpec, Format, Layout, write_bundle};
use diag_core::Cluster;
use diag_core::engine::{CheckOptions, CheckOutcome, RowState, check};
use diag_core::rules::{CheckKind, RuleSet};

fn log_check(cluster: &Cluster) -> CheckOutcome {
    let options = CheckOptions {
        kinds: vec![CheckKind::Log],
        only: Vec::new(),
        skip: Vec::new(),
    };
    check(cluster, &RuleSet::builtin(), &options)
}

fn planted_bundle(layout: Layout, log_bytes: u64) -> (Cluster, Vec<Planted>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = BundleSpec::with_instances(40, layout, 5).log_bytes(log_bytes);
    let written = write_bundle(&spec, Format::Dir, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let cluster = Cluster::open(&written.bundle).unwrap_or_else(|e| panic!("{e}"));
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/log");
    let sigs = signatures(&rules).unwrap_or_else(|e| panic!("{e}"));
    assert!(sigs.len() >= 70, "{} signatures", sigs.len());
    let planted = plant(&written.bundle, &cluster, &sigs, 9).unwrap_or_else(|e| panic!("{e}"));
    drop(cluster);
    let cluster = Cluster::open(&written.bundle).unwrap_or_else(|e| panic!("{e}"));
    (cluster, planted, dir)
}

/// Rules that also require a state (`requires:`) are raised only with it, which the generator
/// does not plant; their rule cases cover signal and state together.
fn requires_a_state(rule: &str) -> bool {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../rules/log/{rule}.yaml"));
    std::fs::read_to_string(file).is_ok_and(|text| text.contains("\nrequires:"))
}

fn each_signature_is_cited_where_it_was_planted(layout: Layout, log_bytes: u64, at_least: usize) {
    let (cluster, planted, _dir) = planted_bundle(layout, log_bytes);
    let outcome = log_check(&cluster);
    let mut checked = 0;
    let mut problems = Vec::new();
    for p in planted
        .iter()
        .filter(|p| p.inside && !requires_a_state(&p.rule))
    {
        let Some(finding) = outcome.findings.iter().find(|f| f.rule.name == p.rule) else {
            problems.push(format!("{}: not selected", p.rule));
            continue;
        };
        // Cluster-wide rules (PD leader changes, TiCDC owner churn) have one `cluster` row.
        let row = finding.rows.iter().find(|r| *r.tag == *p.tag);
        let Some(row) = row.or_else(|| finding.rows.iter().find(|r| &*r.tag == "cluster")) else {
            problems.push(format!("{}: no row {}", p.rule, p.tag));
            continue;
        };
        let cited = row
            .evidence
            .first()
            .is_some_and(|e| *e.file == *p.file && u64::from(e.line) == p.line);
        if !matches!(row.state, RowState::Abnormal(_)) || !cited {
            problems.push(format!(
                "{}: {} {} not cited at {}:{} (cited: {:?})",
                p.rule,
                p.tag,
                row.state.as_str(),
                p.file,
                p.line,
                row.evidence
                    .iter()
                    .map(|e| format!("{}:{}", e.file, e.line))
                    .collect::<Vec<_>>()
            ));
        }
        checked += 1;
    }
    // Nothing dated before the window is cited by any rule.
    for p in planted.iter().filter(|p| !p.inside) {
        for f in &outcome.findings {
            for r in &f.rows {
                if r.evidence.iter().any(|e| *e.file == *p.file) {
                    problems.push(format!(
                        "{} cites {} (dated before the window)",
                        f.rule.name, p.file
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= at_least, "{checked} planted");
}

#[test]
fn planted_signatures_are_cited_exactly_there_in_a_tiup_bundle() {
    each_signature_is_cited_where_it_was_planted(Layout::Tiup, 0, 60);
}

/// Logs over a mebibyte are searched for needle tails fitted to their first bytes, not for the
/// whole needles: the same lines are cited.
#[test]
fn planted_signatures_are_cited_exactly_there_in_logs_over_a_mebibyte() {
    each_signature_is_cited_where_it_was_planted(Layout::Tiup, 40 * (1_200 << 10), 60);
}

#[test]
fn planted_signatures_are_cited_exactly_there_in_an_operator_bundle() {
    each_signature_is_cited_where_it_was_planted(Layout::Operator, 0, 60);
}

#[test]
fn ordinary_logs_give_no_warning_or_critical_log_finding() {
    for layout in [Layout::Tiup, Layout::Operator] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spec = BundleSpec::with_instances(20, layout, 3).log_bytes(2_000_000);
        let written =
            write_bundle(&spec, Format::Dir, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let cluster = Cluster::open(&written.bundle).unwrap_or_else(|e| panic!("{e}"));
        let outcome = log_check(&cluster);
        assert!(outcome.findings.len() >= 70);
        let loud: Vec<String> = outcome.abnormal().map(|f| f.rule.name.clone()).collect();
        assert!(loud.is_empty(), "{layout:?}: {loud:?}");
        // The rules did read the logs: rows are OK, not nodata.
        assert!(
            outcome
                .findings
                .iter()
                .any(|f| f.rows.iter().any(|r| r.state == RowState::Ok))
        );
    }
}
