//! The rule pack, tested the way its authors test it: every rule against its cases, the rendered
//! rows as insta snapshots named after the rule (in `tests/snapshots/`, insta's default).
//!
//! `cargo test` in this folder; a new or changed snapshot fails the test and is written beside
//! the old one as `.snap.new`, for `cargo insta review` to accept or reject.

use std::path::Path;

use diag_core::engine::{CheckOptions, check};
use diag_core::rules::RuleSet;
use diag_core::testing::{BuiltinBase, run_dir};

fn rules_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

#[test]
fn every_rule_passes_its_cases() {
    let results = run_dir(&rules_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(results.len(), 2);
    for rule in &results {
        assert!(rule.passed(), "{}: {:?}", rule.snapshot_name, rule.problems);
        insta::assert_snapshot!(rule.snapshot_name.as_str(), rule.snapshot());
    }
}

/// The pack beside the built-in rules, on a bundle shipped with diag_core (nothing copied).
#[test]
fn the_pack_runs_beside_the_builtin_rules() {
    let mut rules = RuleSet::builtin();
    rules.merge(RuleSet::load_dir(&rules_dir()).unwrap_or_else(|e| panic!("{e}")));
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = BuiltinBase::get("diag-fPrz0RnDxRn").unwrap_or_else(|| panic!("shipped base"));
    let bundle = base
        .write_into(scratch.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let cluster = diag_core::Cluster::open(&bundle).unwrap_or_else(|e| panic!("{e}"));
    let outcome = check(&cluster, &rules, &CheckOptions::default());
    // The seed's 21 built-in rules, and the pack's two.
    assert_eq!(outcome.findings.len(), 23);
    let ours: Vec<&str> = outcome
        .findings
        .iter()
        .filter(|f| f.rule.id >= 9000)
        .map(|f| f.rule.name.as_str())
        .collect();
    assert_eq!(
        ours,
        [
            "tikv-block-cache-too-small",
            "pd-max-replicas-above-tikv-count"
        ]
    );
}
