//! A generated bundle with planted Prometheus faults gets each one named by an abnormal finding
//! citing the file it came from; its healthy twin raises nothing above info.

use diag_bundlegen::metrics::{MetricsSpec, write_bundle_with_metrics};
use diag_bundlegen::{BundleSpec, Layout};
use diag_core::Cluster;
use diag_core::engine::{CheckOptions, CheckOutcome, Row, RowState, check};
use diag_core::rules::{CheckKind, RuleSet, Severity};

fn checked(layout: Layout, faults: bool) -> (CheckOutcome, tempfile::TempDir, Cluster) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = BundleSpec::with_instances(12, layout, 7).violation_share(0.0);
    let root = dir.path().join(spec.bundle_name());
    let metrics = MetricsSpec {
        faults,
        ..MetricsSpec::default()
    };
    let written =
        write_bundle_with_metrics(&spec, &metrics, &root).unwrap_or_else(|e| panic!("{e}"));
    assert!(written.files > 10);
    let cluster = Cluster::open(&root).unwrap_or_else(|e| panic!("{e}"));
    let options = CheckOptions {
        kinds: vec![CheckKind::Metric],
        ..CheckOptions::default()
    };
    let outcome = check(&cluster, &RuleSet::builtin(), &options);
    (outcome, dir, cluster)
}

fn abnormal_rows<'a>(outcome: &'a CheckOutcome, rule: &str) -> Vec<&'a Row> {
    outcome
        .findings
        .iter()
        .filter(|f| f.rule.name == rule)
        .flat_map(|f| &f.rows)
        .filter(|r| matches!(r.state, RowState::Abnormal(_)))
        .collect()
}

fn worst(rows: &[&Row]) -> Option<Severity> {
    rows.iter()
        .filter_map(|r| match r.state {
            RowState::Abnormal(s) => Some(s),
            _ => None,
        })
        .max()
}

#[test]
fn planted_faults_are_each_named_with_their_file() {
    for layout in [Layout::Tiup, Layout::Operator] {
        let (outcome, _dir, _cluster) = checked(layout, true);
        let space = abnormal_rows(&outcome, "tikv-store-space");
        assert_eq!(space.len(), 1, "{layout:?}: {space:?}");
        assert_eq!(worst(&space), Some(Severity::Critical));
        assert!(
            space[0].values[0].value.as_deref() == Some("9%"),
            "{:?}",
            space[0]
        );
        assert!(space[0].evidence[0].file.contains("monitor/metrics/prometheus-0_9090/tikv_store_size_bytes-2022-02-07T16:00:00+08:00-2022-02-07T18:00:00+08:00.json"), "{:?}", space[0].evidence);

        let restarts = abnormal_rows(&outcome, "component-restarts");
        assert_eq!(restarts.len(), 1, "{restarts:?}");
        assert_eq!(restarts[0].values[0].value.as_deref(), Some("4"));
        assert_eq!(worst(&restarts), Some(Severity::Critical));
        // The last block came per instance (diag's fallback): the row cites that file.
        assert!(
            restarts[0].evidence[0].file.contains(
                "process_start_time_seconds-2022-02-07T16:00:00+08:00-2022-02-07T18:00:00+08:00."
            ),
            "{:?}",
            restarts[0].evidence
        );

        let miss = abnormal_rows(&outcome, "pd-miss-peer-regions");
        assert_eq!(miss.len(), 1);
        assert_eq!(miss[0].values[0].value.as_deref(), Some("500"));
        assert!(miss[0].evidence[0].file.contains("pd_regions_status-"));

        let down = abnormal_rows(&outcome, "alert-server-down");
        assert_eq!(down.len(), 1);
        assert!(down[0].tag.starts_with("TiKV_server_is_down_"));
        assert_eq!(worst(&down), Some(Severity::Critical));
        assert!(
            down[0].evidence[0]
                .file
                .ends_with("monitor/alerts/prometheus-0_9090/alerts.json")
        );
        let region = abnormal_rows(&outcome, "alert-pd-region-health");
        assert_eq!(worst(&region), Some(Severity::Critical));
        let pending = abnormal_rows(&outcome, "alert-tikv-resources");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].state, RowState::Abnormal(Severity::Info));
        assert!(pending[0].tag.starts_with("TiKV_low_space_"));
    }
}

#[test]
fn the_healthy_twin_raises_nothing_above_info() {
    for layout in [Layout::Tiup, Layout::Operator] {
        let (outcome, _dir, cluster) = checked(layout, false);
        assert!(cluster.warnings.is_empty(), "{:?}", cluster.warnings);
        let loud: Vec<String> = outcome
            .findings
            .iter()
            .flat_map(|f| f.rows.iter().map(move |r| (f, r)))
            .filter(|(_, r)| {
                matches!(r.state, RowState::Abnormal(s) if s > Severity::Info)
                    || r.state == RowState::Error
            })
            .map(|(f, r)| format!("{}: {} {:?} {:?}", f.rule.name, r.tag, r.state, r.message))
            .collect();
        assert!(loud.is_empty(), "{layout:?}: {loud:#?}");
        // The rules with data say OK, not nodata.
        for rule in [
            "tikv-store-space",
            "component-restarts",
            "pd-miss-peer-regions",
            "tikv-slow-score",
        ] {
            let f = outcome.findings.iter().find(|f| f.rule.name == rule);
            assert!(
                f.is_some_and(|f| f.rows.iter().all(|r| r.state == RowState::Ok)),
                "{rule}: {f:?}"
            );
        }
    }
}

#[test]
fn metric_findings_are_identical_at_any_thread_count() {
    // The metric rules start as their metrics are decoded, on whichever thread completes them;
    // the rows, their order and the rendered report stay the same at 1, 2 and 4 threads. A
    // 60-instance bundle with faults: per-instance fallback files (decoded in runs), ratios,
    // sliding windows, the PD leader, alerts.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = BundleSpec::with_instances(60, Layout::Tiup, 11).violation_share(0.0);
    let root = dir.path().join(spec.bundle_name());
    let metrics = MetricsSpec {
        hours: 2,
        step: 15,
        compress: true,
        faults: true,
    };
    let written =
        write_bundle_with_metrics(&spec, &metrics, &root).unwrap_or_else(|e| panic!("{e}"));
    assert!(written.files > 60, "{written:?}");
    let cluster = Cluster::open(&root).unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin();
    let options = CheckOptions {
        kinds: vec![CheckKind::Metric],
        ..CheckOptions::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let outcome = pool.install(|| check(&cluster, &rules, &options));
        let doc = diag_core::report::ReportDocument::new(&cluster, &outcome);
        let text = diag_core::report::Renderer::new()
            .render(diag_core::report::Format::Text, &doc)
            .unwrap_or_else(|e| panic!("{e}"));
        (outcome, text)
    };
    let (one, one_text) = run(1);
    assert!(one.abnormal().count() >= 4);
    for threads in [2, 4] {
        let (outcome, text) = run(threads);
        assert!(outcome == one, "{threads} threads: the outcome differs");
        assert_eq!(text, one_text, "{threads} threads");
    }
}
