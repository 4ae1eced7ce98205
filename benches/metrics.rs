//! Metric rules against `zstd -dc`: decoding and evaluating every shipped metric and alert rule
//! over a generated 1,000-instance bundle's Prometheus data (zstd matrices, 2 h at 15 s), as a
//! ratio to `zstd -dc` of the same files to /dev/null, measured in the same run (medians of 9
//! interleaved runs), by wall time and by CPU time (user + sys, the mean of the runs: of this
//! process for the check, of the `zstd` child for the floor). Target (issue 13): ≤ 2×.
//!
//! `cargo bench -p diag-bundlegen --bench metrics` (needs `zstd` on the PATH).

#[path = "measure.rs"]
mod measure;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diag_bundlegen::metrics::{MetricsSpec, write_bundle_with_metrics};
use diag_bundlegen::{BundleSpec, Layout};
use diag_core::Cluster;
use diag_core::engine::{CheckOptions, check};
use diag_core::model::DataKind;
use diag_core::rules::{CheckKind, RuleSet};
use measure::{cpu_time, load, median};

/// A `/proc/self/status` figure in KiB (0 where there is none).
fn vm_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = BundleSpec::with_instances(1000, Layout::Tiup, 42);
    let root = dir.path().join(spec.bundle_name());
    let metrics = MetricsSpec {
        hours: 2,
        step: 15,
        compress: true,
        faults: true,
    };
    let written =
        write_bundle_with_metrics(&spec, &metrics, &root).unwrap_or_else(|e| panic!("{e}"));
    let cluster = Cluster::open(&root).unwrap_or_else(|e| panic!("{e}"));
    let files: Vec<String> = cluster
        .files_of(DataKind::Metric)
        .map(|f| root.join(&f.path).display().to_string())
        .collect();
    let rules = RuleSet::builtin();
    let options = CheckOptions {
        kinds: vec![CheckKind::Metric],
        ..CheckOptions::default()
    };
    let metric_rules = diag_core::engine::select(&cluster, &rules, &options).len();
    println!(
        "bundle: 1,000 instances, {} metric files, {:.1} MiB stored, {:.1} MiB of JSON; {metric_rules} metric and alert rules",
        written.files,
        written.bytes as f64 / (1 << 20) as f64,
        written.json_bytes as f64 / (1 << 20) as f64
    );
    // Each side returns its wall time and the CPU time it used (in ticks of 10 ms).
    let zstd = || {
        let cpu = cpu_time(true);
        let start = Instant::now();
        let status = Command::new("zstd")
            .arg("-dcq")
            .args(&files)
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("zstd: {e}"));
        assert!(status.success());
        let wall = start.elapsed();
        let used = cpu.zip(cpu_time(true)).map(|(a, b)| b.saturating_sub(a));
        (wall, used.unwrap_or_default())
    };
    let ours = || {
        let cpu = cpu_time(false);
        let start = Instant::now();
        let outcome = check(&cluster, &rules, &options);
        let wall = start.elapsed();
        let used = cpu.zip(cpu_time(false)).map(|(a, b)| b.saturating_sub(a));
        assert!(outcome.abnormal().count() >= 4);
        (wall, used.unwrap_or_default())
    };
    let mut names: Vec<&str> = cluster
        .files_of(DataKind::Metric)
        .filter_map(|f| f.metric_name())
        .collect();
    names.sort_unstable();
    names.dedup();
    let decode_only = || {
        let start = Instant::now();
        for name in &names {
            let data = diag_core::model::metrics::MetricData::load(
                name,
                cluster.files_of(DataKind::Metric),
            );
            assert!(data.problems.is_empty());
        }
        start.elapsed()
    };
    // Peak memory of one check alone: the generator's peak is cleared first (Linux: writing 5
    // to clear_refs resets VmHWM), and the cache of decoded metrics goes with the check.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = vm_kib("VmRSS");
    ours();
    let peak = vm_kib("VmHWM");
    let series_bytes: usize = names
        .iter()
        .map(|name| {
            let data = diag_core::model::metrics::MetricData::load(
                name,
                cluster.files_of(DataKind::Metric),
            );
            data.series
                .iter()
                .map(|s| s.samples.len() * std::mem::size_of::<diag_core::model::metrics::Point>())
                .sum::<usize>()
        })
        .sum();
    println!(
        "peak RSS of one check: {:.1} MiB ({:.1} MiB before it{}); the samples of every metric decoded take {:.1} MiB, the JSON {:.1} MiB",
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
        if reset {
            ""
        } else {
            "; VmHWM could not be reset: the figure includes generating the bundle"
        },
        series_bytes as f64 / (1 << 20) as f64,
        written.json_bytes as f64 / (1 << 20) as f64
    );
    let load_start = load();
    let (mut floor, mut mine) = (Vec::new(), Vec::new());
    zstd();
    ours();
    for _ in 0..9 {
        floor.push(zstd());
        mine.push(ours());
    }
    let load_end = load();
    let f = median(floor.iter().map(|r| r.0).collect());
    let m = median(mine.iter().map(|r| r.0).collect());
    // CPU as the mean over the runs: ticks of 10 ms are too coarse for one run of either.
    let mean = |runs: &[(Duration, Duration)]| {
        runs.iter().map(|r| r.1).sum::<Duration>() / runs.len().max(1) as u32
    };
    let (f_cpu, m_cpu) = (mean(&floor), mean(&mine));
    let d = median((0..3).map(|_| decode_only()).collect());
    println!(
        "decoding every metric file alone: {:.0} ms ({:.2} × zstd -dc)",
        d.as_secs_f64() * 1e3,
        d.as_secs_f64() / f.as_secs_f64()
    );
    let ratio = m.as_secs_f64() / f.as_secs_f64();
    println!(
        "decode + evaluate ÷ zstd -dc: {ratio:.2} (target ≤ 2: {}) — {:.0} ms ÷ {:.0} ms, {} rayon threads vs one zstd process",
        if ratio <= 2.0 { "met" } else { "NOT met" },
        m.as_secs_f64() * 1e3,
        f.as_secs_f64() * 1e3,
        rayon::current_num_threads()
    );
    println!(
        "CPU (user + sys, mean of 9): {:.0} ms ÷ {:.0} ms = {:.2}; load (1 min) {load_start} → {load_end}",
        m_cpu.as_secs_f64() * 1e3,
        f_cpu.as_secs_f64() * 1e3,
        m_cpu.as_secs_f64() / f_cpu.as_secs_f64().max(1e-3),
    );
}
