//! diag's Check Result Report, byte for byte, from hand-built findings.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod report_support;

use diag_core::Cluster;
use diag_core::report::{Format, Renderer, ReportDocument, TemplateName};
use report_support::{SEED, SEED_REPORT, seed_outcome};

fn seed_doc() -> ReportDocument {
    let cluster = Cluster::open(SEED.as_ref()).expect("seed bundle loads");
    ReportDocument::new(&cluster, &seed_outcome())
}

#[test]
fn seed_report_is_byte_for_byte_diags() {
    let text = Renderer::new()
        .render(Format::Text, &seed_doc())
        .expect("renders");
    similar_asserts_eq(&text, SEED_REPORT);
}

#[test]
fn seed_report_keeps_diag_quirks() {
    assert!(SEED_REPORT.contains("PingCAP\u{2019}s OnCall Service"));
    assert!(SEED_REPORT.contains("- Sample Content:: [monitor config]\n"));
    assert!(SEED_REPORT.contains("- Check Result:\n  "));
}

#[test]
fn record_lists_every_rule_with_every_row() {
    let record = Renderer::new()
        .render_template(TemplateName::Record, &seed_doc())
        .expect("renders");
    assert!(record.starts_with(
        "## Check Result Log\n\n### Configuration\n\n#### Rule Name: tidb-max-days\n"
    ));
    assert_eq!(record.matches("#### Rule Name:").count(), 21);
    assert!(record.contains(
        "  PdConfig_172.20.15.222:2379   PdConfig.schedule.leader-schedule-limit:4   OK\n"
    ));
    insta::assert_snapshot!("seed-detailed-check-record", record);
}

#[test]
fn a_replaced_template_gets_the_same_document() {
    let mut renderer = Renderer::new();
    renderer
        .set_template(
            TemplateName::Text,
            "{{ cluster.name }}: {{ summary.rules_abnormal }}/{{ summary.rules_executed }}\n"
                .into(),
        )
        .expect("compiles");
    assert_eq!(
        renderer.render(Format::Text, &seed_doc()).expect("renders"),
        "basic: 3/21\n"
    );
}

#[test]
fn a_broken_template_names_itself() {
    let mut renderer = Renderer::new();
    let err = renderer
        .set_template(TemplateName::Markdown, "{% for %}".into())
        .expect_err("does not compile");
    assert!(
        err.to_string().starts_with("template `check-report.md`"),
        "{err}"
    );
}

fn similar_asserts_eq(actual: &str, expected: &str) {
    if actual != expected {
        for (i, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
            if a != e {
                panic!(
                    "line {}: got {a:?}, want {e:?}\n--- got ---\n{actual}",
                    i + 1
                );
            }
        }
        panic!(
            "lengths differ: got {} bytes, want {}\n--- got ---\n{actual}",
            actual.len(),
            expected.len()
        );
    }
}
