//! Generated bundles at v5.3, v5.4, v6.1 and v7.5 hold each version's stock runtime configs
//! except the keys the generator tunes on purpose (`configs::TUNED`): `--types default_config`
//! flags exactly those, and nothing else. TiFlash's rows read the `tiflash.toml` TiUP writes for
//! the version (not the `tiflash-learner.toml` beside it).

use std::collections::BTreeSet;

use diag_bundlegen::configs::TUNED;
use diag_bundlegen::{BundleSpec, Format, Layout, write_bundle};
use diag_core::Cluster;
use diag_core::engine::{CheckOptions, RowState, check, select};
use diag_core::rules::{CheckKind, RuleSet};

/// `(component, path)` keys: `("TikvConfig", "raft-engine.enable")`.
type Keys = BTreeSet<(String, String)>;

/// The keys of the flagged rows, and of the selected rules.
fn flagged_and_checked(version: &str) -> (Keys, Keys) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut spec = BundleSpec::with_instances(12, Layout::Tiup, 5).violation_share(0.0);
    spec.version = version.to_string();
    // Two TiFlash, with the `tiflash.toml` and `tiflash-learner.toml` TiUP writes.
    spec.counts.tikv -= 2;
    spec.counts.tiflash += 2;
    let written = write_bundle(&spec, Format::Dir, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let cluster = Cluster::open(&written.bundle).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cluster.version.text, version);
    let options = CheckOptions {
        kinds: vec![CheckKind::DefaultConfig],
        ..CheckOptions::default()
    };
    let rules = RuleSet::builtin();
    let key = |text: &str| {
        let (component, path) = text.split_once('.').unwrap_or((text, ""));
        (component.to_string(), path.to_string())
    };
    let checked = select(&cluster, &rules, &options)
        .iter()
        .flat_map(|r| r.meta.variation.split(',').map(|v| key(v.trim())))
        .collect();
    let outcome = check(&cluster, &rules, &options);
    assert!(
        outcome.findings.len() >= 250,
        "{version}: {}",
        outcome.findings.len()
    );
    let flagged = outcome
        .findings
        .iter()
        .filter(|f| {
            f.rows
                .iter()
                .any(|r| matches!(r.state, RowState::Abnormal(_)))
        })
        .flat_map(|f| f.rows[0].values.iter().map(|v| key(&v.variation)))
        .collect();
    (flagged, checked)
}

#[test]
fn generated_bundles_flag_exactly_the_tuned_keys_at_every_version() {
    for version in ["v5.3.0", "v5.4.0", "v6.1.0", "v7.5.0"] {
        let (flagged, checked) = flagged_and_checked(version);
        let expected: Keys = TUNED
            .iter()
            .map(|(c, p)| (c.to_string(), p.to_string()))
            .filter(|k| checked.contains(k))
            .collect();
        assert!(expected.len() >= 6, "{version}: {expected:?}");
        assert_eq!(flagged, expected, "{version}");
    }
}

/// A cluster script's rows were one Rhai array whose messages counted against the 64 KiB string
/// limit together: on a 1,000-instance bundle without `insight.json` every formula rule (845
/// TiKV `nodata` rows with a note each) failed as a whole with "Length of string too large".
#[test]
fn formula_rules_decide_every_instance_of_a_thousand_instance_cluster() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = BundleSpec::with_instances(1_000, Layout::Tiup, 3).violation_share(0.0);
    let written = write_bundle(&spec, Format::Dir, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let cluster = Cluster::open(&written.bundle).unwrap_or_else(|e| panic!("{e}"));
    let options = CheckOptions {
        kinds: vec![CheckKind::DefaultConfig],
        only: vec!["2336".into(), "2038".into()],
        ..CheckOptions::default()
    };
    let outcome = check(&cluster, &RuleSet::builtin(), &options);
    assert_eq!(outcome.findings.len(), 2);
    for finding in &outcome.findings {
        let tikv = spec.counts.tikv;
        assert_eq!(finding.rows.len(), tikv, "{}", finding.rule.name);
        assert!(
            finding.rows.iter().all(|r| r.state == RowState::NoData
                && r.message
                    .as_deref()
                    .is_some_and(|m| m.contains("no insight.json"))),
            "{}: {:?}",
            finding.rule.name,
            finding.rows.first()
        );
    }
}
