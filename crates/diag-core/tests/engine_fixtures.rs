//! The engine on the three fixture bundles: selection counts, abnormal rules, row order,
//! determinism across thread counts, and hostile rules that must not stop the others.

use diag_core::Cluster;
use diag_core::engine::{CheckOptions, CheckOutcome, RowState, RuleStatus, check};
use diag_core::rules::{CheckKind, RuleSet};

fn open(name: &str) -> Cluster {
    Cluster::open(format!("../../fixtures/{name}").as_ref())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn abnormal_ids(outcome: &CheckOutcome) -> Vec<i64> {
    outcome.abnormal().map(|f| f.rule.id).collect()
}

fn render(outcome: &CheckOutcome) -> String {
    let mut out = String::new();
    for f in &outcome.findings {
        out.push_str(&format!("{} {} {:?}\n", f.rule.id, f.rule.name, f.status()));
        for r in &f.rows {
            out.push_str(&format!(
                "  {}   {}   {}   {:?} {:?}\n",
                r.tag,
                r.values_display(),
                r.state.as_str(),
                r.message,
                r.values.iter().map(|v| &v.evidence).collect::<Vec<_>>()
            ));
        }
    }
    out
}

#[test]
fn seed_bundle_runs_21_rules_and_finds_100_209_210() {
    let cluster = open("diag-fPrz0RnDxRn");
    let outcome = check(&cluster, &RuleSet::builtin(), &CheckOptions::default());
    assert_eq!(outcome.findings.len(), 21);
    assert_eq!(abnormal_ids(&outcome), [100, 209, 210]);
    let pd = outcome.findings.iter().find(|f| f.rule.id == 209).map(|f| {
        f.rows
            .iter()
            .map(|r| format!("{}   {}   {}", r.tag, r.values_display(), r.state.as_str()))
            .collect::<Vec<_>>()
    });
    assert_eq!(
        pd.unwrap_or_default(),
        [
            "PdConfig_172.20.22.100:2379   PdConfig.log.file.max-days:0   warning",
            "PdConfig_172.20.14.102:2379   PdConfig.log.file.max-days:0   warning",
            "PdConfig_172.20.15.222:2379   PdConfig.log.file.max-days:0   warning",
        ]
    );
    // tikv-log-level is counted once, and it is rule 9 (log.level) on v5.4.0.
    let tikv: Vec<i64> = outcome
        .findings
        .iter()
        .filter(|f| f.rule.name == "tikv-log-level")
        .map(|f| f.rule.id)
        .collect();
    assert_eq!(tikv, [9]);
    // Everything else is OK: no nodata, no error rows.
    for f in &outcome.findings {
        assert!(
            matches!(f.status(), RuleStatus::Ok | RuleStatus::Abnormal),
            "{} {:?}: {:?}",
            f.rule.name,
            f.status(),
            f.rows
        );
    }
}

#[test]
fn rows_carry_their_evidence() {
    let cluster = open("diag-fPrz0RnDxRn");
    let outcome = check(&cluster, &RuleSet::builtin(), &CheckOptions::default());
    let row = outcome
        .findings
        .iter()
        .find(|f| f.rule.id == 100)
        .and_then(|f| f.rows.first())
        .cloned();
    let value = row.as_ref().and_then(|r| r.values.first()).cloned();
    let evidence = value.and_then(|v| v.evidence);
    assert!(
        evidence
            .as_ref()
            .is_some_and(|e| &*e.file == "basic-tidb-0/conf/config.json" && e.line > 0),
        "{evidence:?}"
    );
}

#[test]
fn tiup_bundle_runs_22_rules_and_finds_only_100() {
    let cluster = open("diag-lili-fNTnz5MGhr6");
    let outcome = check(&cluster, &RuleSet::builtin(), &CheckOptions::default());
    assert_eq!(outcome.findings.len(), 22);
    assert_eq!(abnormal_ids(&outcome), [100]);
    let rows = outcome
        .findings
        .iter()
        .find(|f| f.rule.id == 100)
        .map(|f| f.rows.len());
    assert_eq!(rows, Some(3));
    let tikv: Vec<i64> = outcome
        .findings
        .iter()
        .filter(|f| f.rule.name == "tikv-log-level")
        .map(|f| f.rule.id)
        .collect();
    assert_eq!(tikv, [7]);
}

#[test]
fn minimal_bundle_runs_21_rules_all_ok() {
    let cluster = open("minimal");
    let outcome = check(&cluster, &RuleSet::builtin(), &CheckOptions::default());
    assert_eq!(outcome.findings.len(), 21);
    assert_eq!(abnormal_ids(&outcome), Vec::<i64>::new());
    assert!(
        outcome
            .findings
            .iter()
            .all(|f| f.status() == RuleStatus::Ok),
        "{}",
        render(&outcome)
    );
}

#[test]
fn output_is_identical_at_1_and_4_threads() {
    for name in ["diag-fPrz0RnDxRn", "diag-lili-fNTnz5MGhr6", "minimal"] {
        let cluster = open(name);
        let rules = RuleSet::builtin();
        let run = |n: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            pool.install(|| render(&check(&cluster, &rules, &CheckOptions::default())))
        };
        let one = run(1);
        for _ in 0..3 {
            assert_eq!(one, run(4), "{name}");
        }
    }
}

#[test]
fn only_and_skip_take_ids_or_names() {
    let cluster = open("diag-fPrz0RnDxRn");
    let rules = RuleSet::builtin();
    let only = CheckOptions {
        only: vec!["100".into(), "pdconfig-max-days".into()],
        ..CheckOptions::default()
    };
    assert_eq!(
        check(&cluster, &rules, &only)
            .findings
            .iter()
            .map(|f| f.rule.id)
            .collect::<Vec<_>>(),
        [100, 209]
    );
    let skip = CheckOptions {
        skip: vec!["tidb-max-days".into()],
        ..CheckOptions::default()
    };
    assert_eq!(abnormal_ids(&check(&cluster, &rules, &skip)), [209, 210]);
}

#[test]
fn default_config_on_the_seed_bundle_flags_exactly_the_keys_changed_from_default() {
    let cluster = open("diag-fPrz0RnDxRn");
    let rules = RuleSet::builtin();
    let defaults = CheckOptions {
        kinds: vec![CheckKind::DefaultConfig],
        ..CheckOptions::default()
    };
    let outcome = check(&cluster, &rules, &defaults);
    assert!(outcome.findings.len() >= 250, "{}", outcome.findings.len());
    // The operator set these (TiKV pipelined write and pending-compaction limits, TiDB log
    // backups); every other key of the v5.4.0 runtime configs is at its default.
    assert_eq!(abnormal_ids(&outcome), [2125, 2204, 2237, 2270, 3062]);
}

const HOSTILE: &str = r#"
id: 900
name: spins-forever
kind: config
component: PdConfig
variation: PdConfig.log.level
severity: critical
link: https://example.com/spin
description: An infinite loop.
abnormal_when:
  rhai: 'loop { } ; true'
"#;

const THROWS: &str = r#"
id: 901
name: throws
kind: config
component: TidbConfig
variation: TidbConfig.log.level
severity: warning
link: https://example.com/throw
description: Throws, and reads a string as an int.
abnormal_when:
  rhai: 'if cfg.port == 4000 { throw "boom" } else { cfg.int("log.level") > 0 }'
"#;

const BAD_SCRIPT: &str = r#"
id: 902
name: bad-script
kind: config
component: TikvConfig
severity: info
link: https://example.com/bad
description: Returns a number where rows are expected, and builds a huge string.
rhai_script: |
  let s = "x";
  for i in 0..40 { s += s; }
  [1]
"#;

#[test]
fn hostile_rules_end_in_error_rows_and_the_others_still_run() {
    let cluster = open("diag-fPrz0RnDxRn");
    let mut rules = RuleSet::builtin();
    let extra = RuleSet::from_files(
        vec![
            ("spin.yaml".into(), HOSTILE.into()),
            ("throw.yaml".into(), THROWS.into()),
            ("bad.yaml".into(), BAD_SCRIPT.into()),
        ],
        "hostile",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    rules.merge(extra);
    let outcome = check(&cluster, &rules, &CheckOptions::default());
    assert_eq!(outcome.findings.len(), 24);
    assert_eq!(abnormal_ids(&outcome), [100, 209, 210]);
    let spin = rows_of(&outcome, 900);
    assert_eq!(spin.len(), 3);
    assert!(
        spin.iter().all(|r| r.state == RowState::Error
            && r.message
                .as_deref()
                .is_some_and(|m| m == "script stopped: more than 200000 operations")),
        "{spin:?}"
    );
    let throws = rows_of(&outcome, 901);
    assert!(
        throws.iter().all(|r| r.state == RowState::Error
            && r.message.as_deref().is_some_and(|m| m.contains("boom"))),
        "{throws:?}"
    );
    let bad = rows_of(&outcome, 902);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].state, RowState::Error, "{bad:?}");
}

/// The rows of rule `id` in an outcome (none when the rule did not run).
fn rows_of(outcome: &diag_core::engine::CheckOutcome, id: i64) -> Vec<diag_core::engine::Row> {
    outcome
        .findings
        .iter()
        .find(|f| f.rule.id == id)
        .map(|f| f.rows.clone())
        .unwrap_or_default()
}

fn rules(yaml: &str) -> RuleSet {
    RuleSet::from_files(vec![("test.yaml".into(), yaml.into())], "test")
        .unwrap_or_else(|e| panic!("{e}"))
}

fn all_kinds() -> CheckOptions {
    CheckOptions {
        kinds: CheckKind::ALL.to_vec(),
        ..CheckOptions::default()
    }
}

#[test]
fn a_declarative_rule_over_sysctl_conf_reports_each_host_with_the_line_it_read() {
    let cluster = open("diag-lili-fNTnz5MGhr6");
    let set = rules(
        "id: 9001\nname: somaxconn-small\nkind: system\nsource: system\nfile: sysctl.conf\n\
         variation: net.core.somaxconn\nseverity: warning\ndescription: d\n\
         abnormal_when: {path: net.core.somaxconn, lt: 65535}\n",
    );
    let outcome = check(&cluster, &set, &all_kinds());
    let rows = &outcome.findings[0].rows;
    let tags: Vec<&str> = rows.iter().map(|r| &*r.tag).collect();
    assert_eq!(
        tags,
        [
            "Host_172.16.7.86",
            "Host_172.16.7.87",
            "Host_172.16.7.88",
            "Host_172.16.7.89",
            "Host_172.16.7.129",
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r.state == RowState::Abnormal(diag_core::rules::Severity::Warning))
    );
    let evidence = rows[0].values[0]
        .evidence
        .as_ref()
        .map(|e| (&*e.file, e.line));
    assert_eq!(evidence, Some(("172.16.7.86/sysctl.conf", 3)));
    assert_eq!(
        rows[0].key(&outcome.findings[0].rule),
        "9001/somaxconn-small/Host_172.16.7.86"
    );
    // The rows name the instances on each host (.86 runs a TiDB and a TiKV).
    assert_eq!(rows[0].instances.len(), 2);
}

#[test]
fn a_cluster_rule_over_two_components_is_one_row_not_a_cross_product() {
    use diag_core::testing::{AddInstance, Case, Expect, apply};
    let mut cluster = open("minimal");
    let add = (0..1000)
        .map(|i| AddInstance {
            component: "TikvConfig".into(),
            host: format!("10.0.{}.{}", i / 250, i % 250),
            port: 20160,
            config: Some(
                serde_yaml::from_str(if i == 999 {
                    "{raftstore: {capacity: 1}}"
                } else {
                    "{raftstore: {capacity: 0}}"
                })
                .unwrap_or_else(|e| panic!("{e}")),
            ),
        })
        .collect();
    let case = Case {
        name: "1,001 TiKV".into(),
        expect: Expect::Abnormal,
        base: None,
        version: None,
        add,
        // The bundle's own TiKV states it too: `each` over a member without the path is nodata.
        overlay: serde_yaml::from_str(
            "[{component: TikvConfig, instance: 0, set: {raftstore.capacity: 0}}]",
        )
        .unwrap_or_else(|e| panic!("{e}")),
        files: Default::default(),
        logs: Vec::new(),
        window: None,
    };
    apply(&mut cluster, &case).unwrap_or_else(|e| panic!("{e}"));
    let set = rules(
        "id: 9002\nname: tikv-capacity-set\nkind: topology\ncomponent: [PdConfig, TikvConfig]\n\
         subject: cluster\nvariation: TikvConfig.raftstore.capacity\nseverity: info\n\
         description: d\nabnormal_when: {each: TikvConfig, any: {path: raftstore.capacity, gt: 0}}\n",
    );
    let outcome = check(&cluster, &set, &all_kinds());
    let rows = &outcome.findings[0].rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(&*rows[0].tag, "cluster");
    assert_eq!(rows[0].instances.len(), 1 + 1001);
    assert_eq!(
        rows[0].values_display(),
        "TikvConfig.raftstore.capacity:0×1000|1×1"
    );
    assert_eq!(
        rows[0].state,
        RowState::Abnormal(diag_core::rules::Severity::Info)
    );
}

#[test]
fn sources_and_subjects_that_do_not_fit_are_load_errors_with_did_you_mean() {
    let errors = |yaml: &str| {
        RuleSet::from_files(vec![("bad.yaml".into(), yaml.into())], "t")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let head = "id: 1\nname: x\nkind: system\nseverity: info\ndescription: d\nabnormal_when: {path: a, eq: 1}\n";
    assert_eq!(
        errors(&format!("{head}source: sytem\nfile: sysctl.conf\n")),
        "bad.yaml:7: field `source`: unknown source `sytem`, expected one of `config`, `config_file`, `system`, `store`, `placement`, `db_vars`, `alert`, `metric`, `kubernetes`, `slow_log`, `facts`, `log` (did you mean `system`?)"
    );
    assert_eq!(
        errors(&format!("{head}source: facts\nfacts: hots\n")),
        "bad.yaml:8: field `facts`: unknown facts `hots`, expected one of `host`, `data_dir`, `store`, `replication`, `versions`, `shape`, `drift`, `kubernetes`, `host_data` (did you mean `host`?)"
    );
    assert_eq!(
        errors(&format!(
            "{head}source: facts\nfacts: host\nallow: [name]\n"
        )),
        "bad.yaml:9: field `allow`: only `facts: drift` rules take an allowlist of keys"
    );
    assert_eq!(
        errors(&format!("{head}source: system\nfile: sysctl.cnf\n")),
        "bad.yaml:8: field `file`: unknown system file `sysctl.cnf`, expected one of `sysctl.conf`, `limits.conf`, `insight.json` (did you mean `sysctl.conf`?)"
    );
    assert_eq!(
        errors(&format!(
            "{head}source: system\nfile: limits.conf\nsubject: component\n"
        )),
        "bad.yaml:9: field `subject`: a `system` rule cannot have `subject: component`; it allows `host`"
    );
}

#[test]
fn formula_defaults_are_compared_with_the_formula_on_each_host_from_insight_json() {
    use diag_core::testing::{Case, Expect, apply};
    // v7.5.1; every TiKV host has 48 CPUs and 128 GiB (its insight.json). The operator set the
    // block cache to 48GiB / 24GiB: 45% of 128 GiB is 57.6 GiB, so each differs from the formula.
    let mut cluster = open("diag-system-healthy");
    let case = Case {
        name: "the first TiKV at the formula's value".into(),
        expect: Expect::Ok,
        base: None,
        version: None,
        add: Vec::new(),
        overlay: serde_yaml::from_str(
            "[{component: TikvConfig, instance: 0, set: {storage.block-cache.capacity: 57.6GiB}}]",
        )
        .unwrap_or_else(|e| panic!("{e}")),
        files: Default::default(),
        logs: Vec::new(),
        window: None,
    };
    apply(&mut cluster, &case).unwrap_or_else(|e| panic!("{e}"));
    // One host without insight.json: not compared, never a false "differs".
    if let Some(files) = cluster.hosts.get_mut("10.0.1.5") {
        files.retain(|f| f.kind != diag_core::model::DataKind::Insight);
    }
    let options = CheckOptions {
        kinds: vec![CheckKind::DefaultConfig],
        only: vec!["2336".into()],
        ..CheckOptions::default()
    };
    let outcome = check(&cluster, &RuleSet::builtin(), &options);
    let rows: Vec<String> = rows_of(&outcome, 2336)
        .iter()
        .map(|r| {
            let cited: Vec<String> = r
                .values
                .iter()
                .filter_map(|v| v.evidence.as_ref())
                .map(|e| format!("{}:{}", e.file, e.line))
                .collect();
            format!(
                "{} {} {} {} {}",
                r.tag,
                r.values_display(),
                r.state.as_str(),
                r.message.as_deref().unwrap_or("-"),
                cited.join(",")
            )
        })
        .collect();
    insta::assert_snapshot!(rows.join("\n"));
}

/// A `host_formula` rule on the block cache with `body` as its `host_formula:` block.
fn block_cache_formula(id: i64, body: &str) -> String {
    format!(
        "id: {id}\nname: formula-{id}\nkind: default_config\ncomponent: TikvConfig\nvariation: TikvConfig.storage.block-cache.capacity\nseverity: warning\nlink: https://example.com/f\ndescription: d\nhost_formula: {body}\n"
    )
}

#[test]
fn host_formulas_name_every_value_they_give_and_why_they_did_not_compare() {
    // diag-system-healthy: every TiKV host has 48 CPUs and 128 GiB; the block caches are set to
    // 48GiB (10.0.1.3) and 24GiB (10.0.1.4).
    let cluster = open("diag-system-healthy");
    let files = [
        // Several defaults: a value near any of them is the default.
        "{formula: 45% or 30% of the memory, as: size, expr: '[memory * 45 / 100, memory * 30 / 100, 48 * 1073741824]'}",
        "{formula: a word, as: size, expr: '\"half\"'}",
        "{formula: CPUs, expr: 'cpus'}",
        "{formula: named only}",
        "{formula: reads a missing key, as: size, expr: 'cfg.size(\"no.such.key\")'}",
        "{formula: throws, as: size, expr: 'throw \"no default on this host\"'}",
    ]
    .iter()
    .enumerate()
    .map(|(n, body)| (format!("f{n}.yaml"), block_cache_formula(950 + n as i64, body)))
    .collect();
    let set = RuleSet::from_files(files, "t").unwrap_or_else(|e| panic!("{e}"));
    let options = CheckOptions {
        kinds: vec![CheckKind::DefaultConfig],
        ..CheckOptions::default()
    };
    let outcome = check(&cluster, &set, &options);
    let rows: Vec<String> = outcome
        .findings
        .iter()
        .flat_map(|f| {
            f.rows.iter().map(move |r| {
                format!(
                    "{} {} {} {}",
                    f.rule.id,
                    r.tag,
                    r.state.as_str(),
                    r.message.as_deref().unwrap_or("-")
                )
            })
        })
        .collect();
    insta::assert_snapshot!(rows.join("\n"));
}

const SPINNING_SCRIPT: &str = r#"
id: 903
name: spins
kind: config
component: TikvConfig
severity: info
link: https://example.com/spins
description: A cluster script that never ends.
rhai_script: |
  loop { }
  []
"#;

#[test]
fn cluster_scripts_get_operations_per_instance_beyond_the_fixed_limit() {
    // Regression: one fixed limit of 200,000 operations stopped the formula defaults (a loop
    // over the instances, ≈ 40 operations each) on clusters of 5,000 TiKV. A cluster script
    // may take OPERATIONS_PER_INSTANCE more per instance of the cluster; an expression keeps
    // the fixed limit (rule 900 above).
    use diag_core::rules::script::{MAX_OPERATIONS, OPERATIONS_PER_INSTANCE};
    let cluster = open("diag-fPrz0RnDxRn");
    let budget = MAX_OPERATIONS + OPERATIONS_PER_INSTANCE * cluster.instances.len() as u64;
    let set = RuleSet::from_files(vec![("spins.yaml".into(), SPINNING_SCRIPT.into())], "t")
        .unwrap_or_else(|e| panic!("{e}"));
    let outcome = check(&cluster, &set, &CheckOptions::default());
    let rows = &outcome.findings[0].rows;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].state, RowState::Error);
    assert_eq!(
        rows[0].message.as_deref(),
        Some(format!("script stopped: more than {budget} operations").as_str())
    );
}
