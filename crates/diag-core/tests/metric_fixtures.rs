//! Metric and alert rules over the fixture bundles as collected: zstd and plain metric files,
//! alerts.json snapshots, the text report's Metric Summary and the HTML sparkline.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use diag_core::Cluster;
use diag_core::engine::{CheckOptions, RowState, check};
use diag_core::model::DataKind;
use diag_core::model::metrics::MetricData;
use diag_core::report::{Format, Renderer, ReportDocument};
use diag_core::rules::{CheckKind, RuleSet, Severity};

const SEED: &str = "../../fixtures/diag-fPrz0RnDxRn";
const LILI: &str = "../../fixtures/diag-lili-fNTnz5MGhr6";

fn metric_options() -> CheckOptions {
    CheckOptions {
        kinds: vec![CheckKind::Metric],
        ..CheckOptions::default()
    }
}

#[test]
fn a_zstd_metric_file_named_json_decodes_like_a_plain_one() {
    let cluster = Cluster::open(SEED.as_ref()).unwrap();
    let files: Vec<_> = cluster.files_of(DataKind::Metric).collect();
    let zstd = MetricData::load("tidb_server_query_total", files.iter().copied());
    assert!(zstd.problems.is_empty(), "{:?}", zstd.problems);
    assert!(!zstd.series.is_empty());
    let s = &zstd.series[0];
    assert_eq!(s.label("instance"), Some("basic-tidb-0"));
    assert!(s.samples.windows(2).all(|w| w[0].t < w[1].t));
    // A counter: the first samples climb.
    assert!(s.samples[1].v > s.samples[0].v);
    let plain = MetricData::load("pd_cluster_status", files.iter().copied());
    assert!(plain.problems.is_empty());
    assert!(
        plain
            .series
            .iter()
            .any(|s| s.label("type") == Some("store_up_count"))
    );
    // Nothing else is decoded for a name no file has.
    assert!(
        MetricData::load("no_such_metric", files.iter().copied())
            .files
            .is_empty()
    );
}

#[test]
fn the_seed_bundles_alerts_become_rows_at_their_level() {
    let cluster = Cluster::open(SEED.as_ref()).unwrap();
    let outcome = check(&cluster, &RuleSet::builtin(), &metric_options());
    let rows_of = |name: &str| {
        outcome
            .findings
            .iter()
            .find(|f| f.rule.name == name)
            .map(|f| f.rows.clone())
            .unwrap_or_default()
    };
    let region = rows_of("alert-tikv-resources");
    assert_eq!(region.len(), 1);
    assert_eq!(&*region[0].tag, "TiKV_approximate_region_size_basic-tikv-1");
    assert_eq!(region[0].state, RowState::Abnormal(Severity::Warning));
    assert!(
        region[0].evidence[0]
            .file
            .ends_with("alerts/basic-prometheus_9090/alerts.json")
    );
    let pending = rows_of("alert-pd-region-health");
    assert_eq!(pending[0].state, RowState::Abnormal(Severity::Info));
    // No store size metric in this bundle: nodata, not OK.
    let space = rows_of("tikv-store-space");
    assert_eq!(space[0].state, RowState::NoData);
}

#[test]
fn the_lili_bundle_reports_metric_findings_in_the_text_and_html_reports() {
    let cluster = Cluster::open(LILI.as_ref()).unwrap();
    let outcome = check(&cluster, &RuleSet::builtin(), &metric_options());
    let doc = ReportDocument::new(&cluster, &outcome);
    let renderer = Renderer::new();
    let text = renderer.render(Format::Text, &doc).unwrap();
    assert!(text.contains("### Metric Summary\n"), "{text}");
    // TiDB_server_panic_total fires at level critical in lili's alerts.json.
    assert!(text.contains("#### Rule Name: alert-tidb\n"), "{text}");
    assert!(
        text.contains("TiDB_server_panic_total_172.16.7.86:10080"),
        "{text}"
    );
    insta::assert_snapshot!("lili-metric-report", text);
    let html = renderer.render(Format::Html, &doc).unwrap();
    assert!(html.contains("<svg class=\"spark\""));
}

#[test]
fn metric_rules_are_not_run_by_default() {
    let cluster = Cluster::open(SEED.as_ref()).unwrap();
    let outcome = check(&cluster, &RuleSet::builtin(), &CheckOptions::default());
    assert!(
        outcome
            .findings
            .iter()
            .all(|f| f.rule.kind != CheckKind::Metric)
    );
}
