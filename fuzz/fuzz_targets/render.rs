//! The renderers with arbitrary strings: the seed bundle's report document with rule texts,
//! row tags, values, messages and the cluster name replaced by fuzzed strings, rendered in
//! every format (text, markdown, JSON, HTML, JUnit XML, SARIF).
//!
//! Every format stays valid, beyond "no panic":
//! - JSON parses, and each fuzzed string comes back unchanged where it was put;
//! - SARIF parses as JSON;
//! - JUnit is well-formed XML (so control characters are handled, not passed through);
//! - HTML escapes: each fuzzed string is prefixed with `<fz`, which must never appear as is
//!   (not escaped) in the page, whatever the string holds;
//! - under the time bound.
#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use diag_core::engine::{CheckOptions, CheckOutcome};
use diag_core::report::{Format, Renderer, ReportDocument};
use diag_fuzz::{assert_xml, builtin_rules, check_on, seed_cluster};
use libfuzzer_sys::fuzz_target;

fn base() -> &'static (ReportDocument, Renderer) {
    static BASE: OnceLock<(ReportDocument, Renderer)> = OnceLock::new();
    BASE.get_or_init(|| {
        let cluster = seed_cluster();
        let outcome: CheckOutcome = check_on(1, cluster, builtin_rules(), &CheckOptions::default());
        (ReportDocument::new(cluster, &outcome), Renderer::new())
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1f}').map(|s| format!("<fz{s}"));
    let mut next = || parts.next().unwrap_or_else(|| "<fz".to_string());
    let (base, renderer) = base();
    let start = Instant::now();
    let mut doc = base.clone();
    doc.cluster.name = next();
    // The first abnormal finding (it prints its rows in every format) and the first finding.
    let pick = doc
        .findings
        .iter()
        .position(|f| f.status == "abnormal")
        .unwrap_or(0);
    let description = next();
    let row_message = next();
    let tag = next();
    if let Some(f) = doc.findings.get_mut(pick) {
        f.rule.description = description.clone();
        f.rule.suggestion = next();
        f.rule.variation = next();
        f.rule.link = next();
        f.rule.name = next();
        if let Some(row) = std::sync::Arc::make_mut(&mut f.rows).first_mut() {
            row.tag = tag.clone();
            row.values_text = next();
            row.message = Some(row_message.clone());
        }
    }
    if let Some(f) = doc.findings.first_mut() {
        f.rule.source = next();
    }
    for format in Format::ALL {
        let out = renderer
            .render(format, &doc)
            .unwrap_or_else(|e| panic!("{format:?} fails to render: {e}"));
        match format {
            Format::Json => {
                let v: serde_json::Value =
                    serde_json::from_str(&out).expect("the JSON report parses");
                assert_eq!(
                    v["cluster"]["name"],
                    serde_json::Value::String(doc.cluster.name.clone())
                );
                let f = &v["findings"][pick];
                if !f.is_null() {
                    assert_eq!(
                        f["rule"]["description"],
                        serde_json::Value::String(description.clone())
                    );
                    if !f["rows"][0].is_null() {
                        assert_eq!(f["rows"][0]["tag"], serde_json::Value::String(tag.clone()));
                        assert_eq!(
                            f["rows"][0]["message"],
                            serde_json::Value::String(row_message.clone())
                        );
                    }
                }
            }
            Format::Sarif => {
                serde_json::from_str::<serde_json::Value>(&out).expect("SARIF parses as JSON");
            }
            Format::Junit => assert_xml(&out, "the JUnit report"),
            Format::Html => assert!(
                !out.contains("<fz"),
                "a string reached the HTML page unescaped"
            ),
            Format::Text | Format::Markdown => {}
        }
    }
    diag_fuzz::within_bound(start, "rendering every format");
});
