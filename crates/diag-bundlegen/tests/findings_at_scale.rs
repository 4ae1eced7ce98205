//! The shipped rules find exactly what the generator broke, on bundles of hundreds of instances.

use std::collections::BTreeMap;

use diag_bundlegen::{BundleSpec, ExpectedFindings, Format, Layout, write_bundle};
use diag_core::Cluster;
use diag_core::engine::{CheckOptions, RowState, check};
use diag_core::rules::RuleSet;

/// Rule name → abnormal row tags, as the engine reports them.
fn abnormal_by_rule(cluster: &Cluster) -> (BTreeMap<String, Vec<String>>, usize) {
    let outcome = check(cluster, &RuleSet::builtin(), &CheckOptions::default());
    let mut out = BTreeMap::new();
    for finding in &outcome.findings {
        for row in &finding.rows {
            assert!(
                !matches!(row.state, RowState::Error | RowState::NoData),
                "{} {}: {:?} {:?}",
                finding.rule.name,
                row.tag,
                row.state,
                row.message
            );
        }
        let tags: Vec<String> = finding
            .rows
            .iter()
            .filter(|r| matches!(r.state, RowState::Abnormal(_)))
            .map(|r| r.tag.to_string())
            .collect();
        out.insert(finding.rule.name.clone(), tags);
    }
    (out, outcome.findings.len())
}

fn assert_matches(spec: &BundleSpec) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let written = write_bundle(spec, Format::Dir, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let expected: ExpectedFindings =
        serde_json::from_slice(&std::fs::read(&written.expected).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let cluster = Cluster::open(&written.bundle).unwrap_or_else(|e| panic!("{e}"));
    assert!(cluster.warnings.is_empty(), "{:?}", cluster.warnings);
    let (found, executed) = abnormal_by_rule(&cluster);
    // The generator leaves rule 104 out (its version range changed in 2022) and never breaks it.
    let extra: Vec<&String> = found
        .keys()
        .filter(|name| expected.rule(name).is_none())
        .collect();
    assert!(
        extra
            .iter()
            .all(|name| name.as_str() == "new_collations_enabled_on_first_bootstrap"),
        "unexpected rules: {extra:?}"
    );
    assert!(extra.iter().all(|name| found[*name].is_empty()));
    assert_eq!(executed, expected.rules.len() + extra.len());
    assert!(
        expected.abnormal_rules().count() >= 10,
        "the spec breaks most rules somewhere"
    );
    for rule in &expected.rules {
        let got = found
            .get(&rule.name)
            .unwrap_or_else(|| panic!("rule {} {} was not run", rule.id, rule.name));
        assert_eq!(
            got, &rule.abnormal,
            "rule {} {}: abnormal instances",
            rule.id, rule.name
        );
    }
}

#[test]
fn tiup_bundle_of_300_instances() {
    assert_matches(&BundleSpec::with_instances(300, Layout::Tiup, 21).violation_share(0.1));
}

#[test]
fn operator_bundle_of_200_instances_with_many_broken_pds() {
    let mut spec = BundleSpec::with_instances(200, Layout::Operator, 22).violation_share(0.3);
    spec.counts.pd = 7;
    assert_matches(&spec);
}

#[test]
fn v5_0_1_selects_the_compaction_filter_rule_and_flags_it_beside_tiflash() {
    let spec = BundleSpec {
        version: "v5.0.1".into(),
        ..BundleSpec::with_instances(200, Layout::Tiup, 23).violation_share(0.1)
    };
    assert_matches(&spec);
}

#[test]
fn v4_0_9_selects_the_old_tikv_log_level_and_trace_region_flow() {
    let mut spec = BundleSpec {
        version: "v4.0.9".into(),
        ..BundleSpec::with_instances(200, Layout::Tiup, 24).violation_share(0.2)
    };
    spec.counts.pd = 9;
    assert_matches(&spec);
}

#[test]
fn the_benchmarked_rule_pairs_agree_row_for_row() {
    let mut spec = BundleSpec::with_instances(120, Layout::Operator, 25).violation_share(0.3);
    spec.counts.pd = 20;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let written = write_bundle(&spec, Format::Dir, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let cluster = Cluster::open(&written.bundle).unwrap_or_else(|e| panic!("{e}"));
    let options = diag_bundlegen::measure::only_bench_rule();
    for pair in diag_bundlegen::measure::rule_pairs().unwrap_or_else(|e| panic!("{e}")) {
        let states = |set: &RuleSet| {
            check(&cluster, set, &options)
                .findings
                .iter()
                .flat_map(|f| f.rows.iter().map(|r| (r.tag.clone(), r.state)))
                .collect::<Vec<_>>()
        };
        let declarative = states(&pair.declarative);
        assert!(!declarative.is_empty(), "{}", pair.label);
        assert!(
            declarative
                .iter()
                .any(|(_, s)| matches!(s, RowState::Abnormal(_))),
            "{}: some rows abnormal",
            pair.label
        );
        assert_eq!(declarative, states(&pair.rhai), "{}", pair.label);
    }
}
