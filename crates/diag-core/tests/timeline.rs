//! The incident timeline over hand-built log findings on the seed bundle: order across
//! instances and sources, the window, the cap per rule, and the likely first cause.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod report_support;

use std::sync::Arc;

use diag_core::Cluster;
use diag_core::engine::{Aggregate, CheckOutcome, Evidence, Finding, InstanceRef, Row, RowState};
use diag_core::model::ComponentKind;
use diag_core::rules::{CheckKind, RuleMeta, Severity};
use diag_core::timeline::{MAX_EVENTS_PER_RULE, Timeline, Window};

fn log_rule(id: i64, name: &str, component: ComponentKind, severity: Severity) -> Arc<RuleMeta> {
    let mut meta =
        (*report_support::rule(id, name, component, "log", "https://example.com/kb")).clone();
    meta.kind = CheckKind::Log;
    meta.severity = severity;
    Arc::new(meta)
}

fn log_row(
    rule: &RuleMeta,
    component: ComponentKind,
    host: &str,
    port: u16,
    matches: &[(&str, u32, &str)],
) -> Row {
    let mut row = Row::new(
        format!("{}_{host}:{port}", component.config_struct()),
        vec![InstanceRef {
            component,
            host: host.into(),
            port,
            index: 0,
        }],
        Vec::new(),
        RowState::Abnormal(rule.severity),
        None,
    );
    let file = format!("{host}/log/{}.log", component.topology_key());
    let mut aggregate = Aggregate::new();
    for (time, line, text) in matches {
        aggregate.add(
            Evidence::at(file.as_str(), *line)
                .with_time(*time)
                .with_excerpt(*text),
        );
    }
    row.evidence = aggregate.examples.first().cloned().into_iter().collect();
    row.aggregate = Some(Box::new(aggregate));
    row
}

fn incident() -> (Cluster, CheckOutcome) {
    let cluster = Cluster::open(report_support::SEED.as_ref()).unwrap();
    let panic = log_rule(5101, "tikv-panic", ComponentKind::Tikv, Severity::Critical);
    let stall = log_rule(
        5102,
        "tikv-write-stall",
        ComponentKind::Tikv,
        Severity::Warning,
    );
    let pd_down = log_rule(
        5201,
        "tidb-pd-unreachable",
        ComponentKind::Tidb,
        Severity::Critical,
    );
    let outcome = CheckOutcome {
        findings: vec![
            Finding {
                rule: panic.clone(),
                rows: vec![log_row(
                    &panic,
                    ComponentKind::Tikv,
                    "172.20.12.47",
                    20160,
                    &[(
                        "[2022/02/07 13:00:05.120 +08:00]",
                        812,
                        "[FATAL] [lib.rs:465] [\"disk full\"]",
                    )],
                )],
            },
            Finding {
                rule: stall.clone(),
                rows: vec![log_row(
                    &stall,
                    ComponentKind::Tikv,
                    "172.20.12.47",
                    20160,
                    &[
                        (
                            "[2022/02/07 12:59:40.000 +08:00]",
                            790,
                            "[WARN] [write stall]",
                        ),
                        (
                            "[2022/02/07 11:00:00.000 +08:00]",
                            10,
                            "[WARN] [before the window]",
                        ),
                    ],
                )],
            },
            Finding {
                rule: pd_down.clone(),
                rows: vec![log_row(
                    &pd_down,
                    ComponentKind::Tidb,
                    "172.20.21.213",
                    4000,
                    &[
                        (
                            "[2022/02/07 13:00:09.000 +08:00]",
                            40,
                            "[ERROR] [pd unreachable]",
                        ),
                        (
                            "[2022/02/07 16:30:00.000 +08:00]",
                            90,
                            "[ERROR] [pd unreachable again]",
                        ),
                    ],
                )],
            },
        ],
        rule_set_version: "test".into(),
    };
    (cluster, outcome)
}

#[test]
fn events_from_every_instance_and_source_in_time_order_with_the_first_cause_marked() {
    let (cluster, outcome) = incident();
    let timeline = Timeline::build(&cluster, &outcome, &Window::default()).unwrap();
    insta::assert_snapshot!("timeline-incident-text", timeline.to_text());
    let json: serde_json::Value = serde_json::from_str(&timeline.to_json()).unwrap();
    let first = &json["events"][0];
    assert_eq!(first["time"], "2022-02-07T12:59:40+08:00");
    assert_eq!(first["rule"]["id"], 5102);
    assert_eq!(first["instance"], "172.20.12.47:20160");
    assert_eq!(first["evidence"][0]["line"], 790);
    let causes: Vec<i64> = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["first_cause"] == true)
        .map(|e| e["rule"]["id"].as_i64().unwrap())
        .collect();
    // The panic opens the 13:00 burst (the stall before it is a warning); 16:30 is a burst of its own.
    assert_eq!(causes, [5101, 5201]);
    let html = timeline.to_html();
    assert!(html.contains("<svg") && html.contains("href=\"#e1\"") && html.contains("id=\"e1\""));
    assert!(html.contains("likely first cause"));
}

#[test]
fn since_and_until_narrow_the_window_and_bad_times_are_named() {
    let (cluster, outcome) = incident();
    let window = Window {
        since: Some("2022-02-07T13:00:00+08:00".into()),
        until: Some("2022-02-07T14:00:00+08:00".into()),
    };
    let timeline = Timeline::build(&cluster, &outcome, &window).unwrap();
    let rules: Vec<i64> = timeline
        .events
        .iter()
        .map(|e| e.rule.as_ref().unwrap().id)
        .collect();
    assert_eq!(rules, [5101, 5201]);
    let bad = Window {
        since: Some("noon".into()),
        until: None,
    };
    let err = Timeline::build(&cluster, &outcome, &bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`noon` is not a time (expected RFC 3339, e.g. 2022-02-07T12:00:00+08:00)"
    );
}

#[test]
fn a_rule_citing_many_lines_is_capped_and_the_rest_counted() {
    let cluster = Cluster::open(report_support::SEED.as_ref()).unwrap();
    let noisy = log_rule(5300, "noisy", ComponentKind::Tikv, Severity::Warning);
    let mut row = log_row(&noisy, ComponentKind::Tikv, "172.20.12.47", 20160, &[]);
    row.evidence = (0..60u32)
        .map(|m| {
            Evidence::at("172.20.12.47/log/tikv.log", m + 1)
                .with_time(format!("2022-02-07T13:{m:02}:00+08:00"))
        })
        .collect();
    let outcome = CheckOutcome {
        findings: vec![Finding {
            rule: noisy.clone(),
            rows: vec![row],
        }],
        rule_set_version: "test".into(),
    };
    let timeline = Timeline::build(&cluster, &outcome, &Window::default()).unwrap();
    let ruled: Vec<_> = timeline
        .events
        .iter()
        .filter(|e| e.rule.is_some())
        .collect();
    assert_eq!(ruled.len(), MAX_EVENTS_PER_RULE);
    assert_eq!(timeline.capped.get("noisy"), Some(&10));
    assert_eq!(ruled[0].evidence[0].line, 1);
    assert!(
        timeline
            .to_text()
            .contains("(10 more events of noisy not shown)")
    );
}

#[test]
fn the_seed_bundle_timeline_holds_its_alerts() {
    let cluster = Cluster::open(report_support::SEED.as_ref()).unwrap();
    let outcome = diag_core::engine::check(
        &cluster,
        &diag_core::rules::RuleSet::builtin(),
        &Default::default(),
    );
    let timeline = Timeline::build(&cluster, &outcome, &Window::default()).unwrap();
    insta::assert_snapshot!("timeline-seed-json", timeline.to_json());
}
