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
    let log = results
        .iter()
        .filter(|r| r.rule.kind == diag_core::rules::CheckKind::Log)
        .count();
    assert_eq!(log, 80);
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

/// Issue 8: `base: minimal` resolved only inside this repository (an ancestor's `fixtures/`);
/// a pack elsewhere builds on the bases shipped with the library.
#[test]
fn a_pack_outside_the_repo_builds_on_the_shipped_bases() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap_or_else(|e| panic!("{e}"));
    let example = std::path::Path::new("../../examples/rule-pack/rules");
    for entry in std::fs::read_dir(example).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let name = path.file_name().unwrap_or_default();
        std::fs::copy(&path, rules.join(name)).unwrap_or_else(|e| panic!("{e}"));
    }
    let results = run_dir(&rules).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r.base, "minimal");
        assert!(r.passed(), "{}: {:?}", r.snapshot_name, r.problems);
    }
}

#[test]
fn an_unknown_base_names_the_shipped_ones() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap_or_else(|e| panic!("{e}"));
    let rule = std::fs::read_to_string("../../rules/config/tidb-max-days.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(rules.join("tidb-max-days.yaml"), rule).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        rules.join("tidb-max-days.cases.yaml"),
        "base: minimall\ncases:\n  - {name: x, expect: ok}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let results = run_dir(&rules).unwrap_or_else(|e| panic!("{e}"));
    let problems = results[0].problems.join("\n");
    assert!(
        problems.contains("base bundle `minimall` not found")
            && problems.contains("shipped: minimal, diag-fPrz0RnDxRn, diag-lili-fNTnz5MGhr6"),
        "{problems}"
    );
}

/// The shipped bases are the repository's fixtures of the same name, file for file.
#[test]
fn shipped_bases_are_the_fixtures() {
    for base in diag_core::testing::builtin_bases() {
        let root = std::path::Path::new("../../fixtures").join(base.name);
        let mut on_disk: Vec<String> = walk(&root)
            .into_iter()
            .map(|p| {
                p.strip_prefix(&root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            // A report a previous run wrote into the fixture is not part of it.
            .filter(|p| !p.starts_with("report-"))
            .collect();
        on_disk.sort();
        let mut shipped: Vec<String> = base.files.iter().map(|(p, _)| (*p).to_owned()).collect();
        shipped.sort();
        assert_eq!(shipped, on_disk, "{}", base.name);
        for (path, content) in base.files {
            assert_eq!(
                std::fs::read(root.join(path)).unwrap_or_else(|e| panic!("{e}")),
                *content,
                "{}/{path}",
                base.name
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `--rule 7005`, a waiver and a bundle diff name a rule by its id, so no two shipped rules
/// share one, whatever their kinds (metric rules once reused the log rules' 7001–7023). diag's
/// own rule set gives 206 to both store-limit rules; that pair is kept as diag numbers it.
#[test]
fn shipped_rule_ids_are_unique_across_kinds() {
    let rules = diag_core::rules::RuleSet::builtin();
    let mut by_id: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
    for rule in rules.rules() {
        by_id
            .entry(rule.meta.id)
            .or_default()
            .push(format!("{} ({:?})", rule.meta.name, rule.meta.kind));
    }
    let shared: Vec<String> = by_id
        .into_iter()
        .filter(|(id, names)| names.len() > 1 && *id != 206)
        .map(|(id, names)| format!("{id}: {}", names.join(", ")))
        .collect();
    assert!(shared.is_empty(), "ids used twice:\n{}", shared.join("\n"));
}
