//! The bundle loader over an in-memory bundle (`Cluster::from_source` on a `MemSource`), then
//! the whole check: every built-in rule of every kind, and the JSON and text reports.
//!
//! The input is a list of files (`diag_fuzz::decode_files`: path, content); seeds are the
//! fixture bundles in that format. Beyond "no panic" it checks:
//! - the loader refuses the bundle with an error or loads it; warnings never stop it;
//! - `inspect --format json` of what loaded is valid JSON;
//! - the check is deterministic: one thread and three give the same findings, and the JSON
//!   report is byte-identical;
//! - the JSON report parses; the text report renders;
//! - the whole input (load, check, render) stays under the time bound.
#![no_main]

use std::time::Instant;

use diag_core::Cluster;
use diag_core::bundle::ReadPlan;
use diag_core::model::inspect::Inspection;
use diag_core::report::{Format, Renderer, ReportDocument};
use diag_fuzz::{MemSource, all_kinds, builtin_rules, check_on, decode_files};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rules = builtin_rules();
    let start = Instant::now();
    let files = decode_files(data);
    let Ok(cluster) = Cluster::from_source(MemSource::new(files).opened(), &ReadPlan::everything())
    else {
        return;
    };
    let inspection = Inspection::of(&cluster).to_json();
    serde_json::from_str::<serde_json::Value>(&inspection).expect("inspect JSON parses");
    let options = all_kinds();
    let one = check_on(1, &cluster, rules, &options);
    let three = check_on(3, &cluster, rules, &options);
    assert_eq!(
        format!("{:?}", one.findings),
        format!("{:?}", three.findings),
        "thread count changes findings"
    );
    let renderer = Renderer::new();
    let doc = ReportDocument::new(&cluster, &one);
    let json = renderer
        .render(Format::Json, &doc)
        .expect("the JSON report renders");
    serde_json::from_str::<serde_json::Value>(&json).expect("the JSON report parses");
    let json3 = renderer
        .render(Format::Json, &ReportDocument::new(&cluster, &three))
        .expect("renders");
    assert_eq!(json, json3, "JSON report differs with the thread count");
    renderer
        .render(Format::Text, &doc)
        .expect("the text report renders");
    diag_fuzz::within_bound(start, "loading, checking and rendering a bundle");
});
