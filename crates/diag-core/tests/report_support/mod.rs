//! Hand-built findings for the seed bundle, as the engine must produce them, so the report
//! layer is tested on its own.
#![allow(dead_code)]

use std::sync::Arc;

use diag_core::engine::{CheckOutcome, Evidence, Finding, InstanceRef, Row, RowState, ValueRead};
use diag_core::model::ComponentKind;
use diag_core::rules::{CheckKind, RuleMeta, Severity};

/// The seed report, byte for byte: `/work/shared/reference/seed-check-report.txt`, which is the
/// sample report at the end of the seed text (PingCAP Clinic Operator docs) with its mangled
/// apostrophe restored to U+2019. Copied so tests do not depend on shared/.
pub const SEED_REPORT: &str =
    include_str!("../../../../fixtures/reports/diag-fPrz0RnDxRn.check-report.txt");

pub const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/diag-fPrz0RnDxRn"
);

pub fn rule(
    id: i64,
    name: &str,
    component: ComponentKind,
    variation: &str,
    link: &str,
) -> Arc<RuleMeta> {
    Arc::new(RuleMeta {
        id,
        name: name.into(),
        kind: CheckKind::Config,
        components: vec![component],
        variation: variation.into(),
        severity: Severity::Warning,
        version: String::new(),
        link: link.into(),
        description: format!("checks {variation}"),
        suggestion: "Set it to a positive number of days <= 30 & keep | pipes escaped".into(),
        source: format!("builtin:rules/config/{name}.yaml"),
    })
}

#[allow(clippy::too_many_arguments)] // one argument per column of a report row
pub fn row(
    component: ComponentKind,
    host: &str,
    port: u16,
    pod: &str,
    variation: &str,
    value: &str,
    state: RowState,
) -> Row {
    Row::new(
        format!("{}_{host}:{port}", component.config_struct()),
        vec![InstanceRef {
            component,
            host: host.into(),
            port,
            index: 0,
        }],
        vec![ValueRead {
            variation: variation.into(),
            value: Some(value.into()),
            evidence: Some(Evidence::at(format!("{pod}/conf/config.json"), 12)),
        }],
        state,
        None,
    )
}

const PDS: [(&str, &str); 3] = [
    ("172.20.22.100", "basic-pd-0"),
    ("172.20.14.102", "basic-pd-1"),
    ("172.20.15.222", "basic-pd-2"),
];

/// 21 config rules, 3 abnormal (100, 209, 210), as the seed report says.
pub fn seed_outcome() -> CheckOutcome {
    let warn = RowState::Abnormal(Severity::Warning);
    let tidb = ComponentKind::Tidb;
    let pd = ComponentKind::Pd;
    let tidb_rule = rule(
        100,
        "tidb-max-days",
        tidb,
        "TidbConfig.log.file.max-days",
        "https://s.tidb.io/msmo6awg",
    );
    let mut findings = vec![Finding {
        rule: tidb_rule.clone(),
        rows: vec![row(
            tidb,
            "172.20.21.213",
            4000,
            "basic-tidb-0",
            "TidbConfig.log.file.max-days",
            "0",
            warn,
        )],
    }];
    for (id, name, key, link) in [
        (
            209,
            "pdconfig-max-days",
            "max-days",
            "https://s.tidb.io/jkdqxudq",
        ),
        (
            210,
            "pdconfig-max-backups",
            "max-backups",
            "https://s.tidb.io/brd9zy53",
        ),
    ] {
        let variation = format!("PdConfig.log.file.{key}");
        let meta = rule(id, name, pd, &variation, link);
        findings.push(Finding {
            rows: PDS
                .iter()
                .map(|(h, p)| row(pd, h, 2379, p, &variation, "0", warn))
                .collect(),
            rule: meta,
        });
    }
    for i in 0..18 {
        let id = 101 + i;
        let meta = rule(
            id,
            &format!("ok-rule-{id}"),
            pd,
            "PdConfig.schedule.leader-schedule-limit",
            "",
        );
        findings.push(Finding {
            rule: meta.clone(),
            rows: PDS
                .iter()
                .map(|(h, p)| {
                    row(
                        pd,
                        h,
                        2379,
                        p,
                        "PdConfig.schedule.leader-schedule-limit",
                        "4",
                        RowState::Ok,
                    )
                })
                .collect(),
        });
    }
    findings.sort_by_key(|f| f.rule.id);
    CheckOutcome {
        findings,
        rule_set_version: "test".into(),
    }
}
