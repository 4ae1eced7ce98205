//! Every shipped rule against its cases (`rules/**/<rule>.cases.yaml`), through the real
//! engine; the rendered rows are insta snapshots named after the rule file.

use diag_core::testing::run_dir;

#[test]
fn every_rule_has_passing_abnormal_and_normal_cases() {
    let results = run_dir("../../rules".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    // diag's 25 config rules stay exactly those; other kinds add to the set.
    let config = results
        .iter()
        .filter(|r| r.rule.kind == diag_core::rules::CheckKind::Config)
        .count();
    assert_eq!(config, 25);
    let problems: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.problems
                .iter()
                .map(move |p| format!("{}: {p}", r.snapshot_name))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Rules expanded from one table share its snapshot, in rule order.
    let mut snapshots: std::collections::BTreeMap<&str, String> = Default::default();
    for rule in &results {
        let text = snapshots.entry(rule.snapshot_name.as_str()).or_default();
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&rule.snapshot());
    }
    for (name, text) in &snapshots {
        insta::assert_snapshot!(*name, text);
    }
}

#[test]
fn no_snapshot_outlives_its_rule() {
    let results = run_dir("../../rules".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = results
        .iter()
        .map(|r| format!("rule_cases__{}.snap", r.snapshot_name))
        .collect();
    let dir = std::path::Path::new("tests/snapshots");
    let mut orphans = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("rule_cases__") && !names.contains(&name) {
            orphans.push(name);
        }
    }
    assert!(orphans.is_empty(), "snapshots without a rule: {orphans:?}");
}
