//! Stage benchmarks on a generated 200-instance bundle: bundle load (directory vs zip vs
//! tar.gz), config parse (`diag_core`'s line-keeping parser vs plain `serde_json`) and rule
//! evaluation (one rule, declarative vs Rhai, over every instance of its component, on one
//! thread). Rendering is not benchmarked: the report module is not on this branch yet.
//!
//! `cargo bench -p diag-bundlegen --bench stages`. Ratios between stages are printed by the
//! `end_to_end` bench; this one gives criterion's per-stage detail.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use diag_bundlegen::{BundleSpec, Format, Layout, MemorySink, generate, measure, write_bundle};
use diag_core::Cluster;
use diag_core::engine::check;
use diag_core::model::ConfigTree;

const INSTANCES: usize = 200;

fn load(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = BundleSpec::with_instances(INSTANCES, Layout::Tiup, 1);
    let mut group = c.benchmark_group(format!("load/{INSTANCES}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    for (name, format) in [
        ("dir", Format::Dir),
        ("zip", Format::Zip),
        ("tar.gz", Format::TarGz),
    ] {
        let written =
            write_bundle(&spec, format, &dir.path().join(name)).unwrap_or_else(|e| panic!("{e}"));
        group.throughput(Throughput::Bytes(written.summary.config_bytes));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| Cluster::open(&written.bundle).unwrap_or_else(|e| panic!("{e}")));
        });
    }
    group.finish();
}

fn parse(c: &mut Criterion) {
    let mut sink = MemorySink::default();
    generate(
        &BundleSpec::with_instances(INSTANCES, Layout::Operator, 2),
        &mut &mut sink,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let configs: Vec<(String, Vec<u8>)> = sink
        .files
        .into_iter()
        .filter(|(p, _)| p.ends_with("/conf/config.json"))
        .collect();
    let bytes: u64 = configs.iter().map(|(_, b)| b.len() as u64).sum();
    let mut group = c.benchmark_group(format!("parse/{INSTANCES}-configs"));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("diag_core", |b| {
        b.iter(|| {
            configs
                .iter()
                .map(|(path, bytes)| {
                    ConfigTree::parse_json(path, bytes)
                        .map(|t| t.root.line)
                        .unwrap_or(0)
                })
                .sum::<u32>()
        });
    });
    group.bench_function("serde_json", |b| {
        b.iter(|| {
            configs
                .iter()
                .filter(|(_, bytes)| serde_json::from_slice::<serde_json::Value>(bytes).is_ok())
                .count()
        });
    });
    group.finish();
}

/// One object of `n` keys, as the JSON reader gets it.
fn wide_object(n: usize) -> Vec<u8> {
    let mut doc = String::from("{");
    for i in 0..n {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!("\n  \"store-{i}\": {{\"add-peer\": {i}}}"));
    }
    doc.push_str("\n}\n");
    doc.into_bytes()
}

/// A 200,000-key object against a 20,000-key one (linear: ≤ 12×) and against serde_json.
fn wide(c: &mut Criterion) {
    let mut group = c.benchmark_group("wide-object");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    for n in [20_000, 200_000] {
        let doc = wide_object(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("diag_core", n), |b| {
            b.iter(|| {
                ConfigTree::parse_json("wide.json", &doc)
                    .map(|t| t.root.line)
                    .unwrap_or(0)
            });
        });
        group.bench_function(BenchmarkId::new("serde_json", n), |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(&doc).is_ok());
        });
    }
    group.finish();
}

fn rules(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut spec = BundleSpec::with_instances(INSTANCES, Layout::Tiup, 3).violation_share(0.1);
    spec.counts.pd = 20;
    let written = write_bundle(&spec, Format::Dir, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let cluster = Cluster::open(&written.bundle).unwrap_or_else(|e| panic!("{e}"));
    let options = measure::only_bench_rule();
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut group = c.benchmark_group("rule");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for pair in measure::rule_pairs().unwrap_or_else(|e| panic!("{e}")) {
        let rows = check(&cluster, &pair.declarative, &options)
            .findings
            .iter()
            .map(|f| f.rows.len())
            .sum::<usize>();
        group.throughput(Throughput::Elements(rows as u64));
        for (form, set) in [("declarative", &pair.declarative), ("rhai", &pair.rhai)] {
            group.bench_function(BenchmarkId::new(form, pair.label), |b| {
                b.iter(|| one_thread.install(|| check(&cluster, set, &options)));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, load, parse, wide, rules);
criterion_main!(benches);
