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
fn a_replaced_template_reads_rows_as_the_document_serializes_them() {
    // Rows reach templates one at a time (not as one value of the whole document): indexing,
    // slicing, filters, `length` and `tojson` must see what serializing the document gives.
    let doc = seed_doc();
    let mut renderer = Renderer::new();
    renderer
        .set_template(
            TemplateName::Text,
            concat!(
                "{% set f = findings[0] %}{{ f.rows|length }} {{ f.rows[0].tag }} ",
                "{{ f.rows[-1].state }} {{ f.rows[:2]|map(attribute='tag')|join(',') }} ",
                "{{ findings|map(attribute='rows')|map('length')|sum }}\n",
                "{{ f.rows|tojson }}"
            )
            .into(),
        )
        .expect("compiles");
    let text = renderer.render(Format::Text, &doc).expect("renders");
    let f = &doc.findings[0];
    let total: usize = doc.findings.iter().map(|f| f.rows.len()).sum();
    let head = format!(
        "{} {} {} {} {total}",
        f.rows.len(),
        f.rows[0].tag,
        f.rows[f.rows.len() - 1].state,
        f.rows
            .iter()
            .take(2)
            .map(|r| r.tag.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let (first, json) = text.split_once('\n').expect("two lines");
    assert_eq!(first, head);
    let got: serde_json::Value = serde_json::from_str(json).expect("tojson gives JSON");
    assert_eq!(got, serde_json::to_value(&*f.rows).expect("serializes"));
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
