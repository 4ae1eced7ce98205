//! An out-of-tree rule pack, tested the way its authors would: every rule against its cases,
//! the rendered rows as insta snapshots named after the rule.
//!
//! Run with `cargo test -p diag-core --test rule_pack`, or without Rust:
//! `diag-check rules test examples/rule-pack/rules --snapshots examples/rule-pack/snapshots`.

use std::path::Path;

#[test]
fn rule_pack_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rule-pack/rules");
    let results = diag_core::testing::run_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(results.len(), 2);
    for rule in &results {
        assert!(rule.passed(), "{}: {:?}", rule.snapshot_name, rule.problems);
        insta::assert_snapshot!(rule.snapshot_name.as_str(), rule.snapshot());
    }
}

#[test]
fn the_pack_runs_beside_the_builtin_rules() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rule-pack/rules");
    let mut rules = diag_core::rules::RuleSet::builtin();
    rules.merge(diag_core::rules::RuleSet::load_dir(&dir).unwrap_or_else(|e| panic!("{e}")));
    let cluster = diag_core::Cluster::open(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/diag-fPrz0RnDxRn"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let outcome = diag_core::engine::check(
        &cluster,
        &rules,
        &diag_core::engine::CheckOptions::default(),
    );
    assert_eq!(outcome.findings.len(), 23);
    assert_eq!(
        outcome.rule_set_version,
        format!(
            "builtin-{}+dir:{}",
            env!("CARGO_PKG_VERSION"),
            dir.display()
        )
    );
}
