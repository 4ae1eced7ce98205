//! Prometheus metric matrices (`monitor/metrics/**`, plain or zstd) and `alerts.json`
//! (`monitor/alerts/**`): `metrics::decode`, the functions rules compute over samples, and the
//! metric and alert rules over a bundle holding the file. First byte: which file it is.
//!
//! Beyond "no panic" it checks:
//! - decoded samples are in strictly increasing time order (one per timestamp);
//! - `min ≤ avg ≤ max` over the non-NaN samples (when the mean is finite); `increase ≥ 0` for
//!   a non-negative counter; `sliding` gives at most one point per sample, at a sample's time,
//!   and over an unbounded range one per sample after the first;
//! - `histogram_quantile` for `q` in [0, 1] lies within the finite bucket bounds (or 0..first
//!   bound) when it is finite;
//! - an error names the file;
//! - the built-in rules (every kind) over a bundle with the file run without a panic;
//! - under the time bound (zstd bombs are refused by the reader's caps).
#![no_main]

use std::time::Instant;

use diag_core::Cluster;
use diag_core::bundle::ReadPlan;
use diag_core::model::metrics::{self, Point, Windowed};
use diag_fuzz::{MemSource, all_kinds, builtin_rules, check_on, fixtures};
use libfuzzer_sys::fuzz_target;

const FILES: [&str; 4] = [
    "monitor/alerts/p_9090/alerts.json",
    "monitor/metrics/p_9090/tikv_store_size_bytes-2022-01-24T07:33:57+08:00-2022-01-24T09:33:57+08:00.json",
    "monitor/metrics/p_9090/pd_cluster_status-2022-02-07T12:00:00+08:00-2022-02-07T14:00:00+08:00.json",
    "monitor/metrics/p_9090/ALERTS-2022-02-07T12:00:00+08:00-2022-02-07T14:00:00+08:00.json",
];

fn cluster_json() -> &'static [u8] {
    static JSON: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    JSON.get_or_init(|| std::fs::read(fixtures().join("minimal/cluster.json")).expect("fixture"))
}

fn functions(samples: &[Point]) {
    let values: Vec<f64> = samples
        .iter()
        .map(|p| p.v)
        .filter(|v| !v.is_nan())
        .collect();
    if let (Some(lo), Some(hi)) = (metrics::min(samples), metrics::max(samples)) {
        assert!(lo.v <= hi.v, "min {} > max {}", lo.v, hi.v);
        if let Some(mean) = metrics::avg(samples).filter(|m| m.is_finite()) {
            let slack = 1e-9 * lo.v.abs().max(hi.v.abs()).max(1.0);
            assert!(
                mean >= lo.v - slack && mean <= hi.v + slack,
                "avg {mean} outside [{}, {}]",
                lo.v,
                hi.v
            );
        }
    }
    if values.iter().all(|v| v.is_finite() && *v >= 0.0)
        && let Some(i) = metrics::increase(samples)
    {
        assert!(i >= 0.0, "increase {i} of a non-negative counter");
    }
    let _ = (
        metrics::last(samples),
        metrics::changes(samples),
        metrics::rate(samples),
        metrics::delta(samples),
    );
    for f in [
        Windowed::Increase,
        Windowed::Rate,
        Windowed::Changes,
        Windowed::Delta,
    ] {
        for range in [0.0, 60.0, 600.0] {
            let out = metrics::sliding(samples, range, f);
            assert!(
                out.len() <= samples.len(),
                "sliding gave more points than samples"
            );
            assert!(
                out.iter().all(|p| samples.iter().any(|s| s.t == p.t)),
                "a point off the samples' times"
            );
        }
        let all = metrics::sliding(samples, f64::INFINITY, f);
        assert_eq!(
            all.len(),
            values.len().saturating_sub(1),
            "an unbounded window skips samples"
        );
    }
    let buckets: Vec<(f64, f64)> = samples
        .iter()
        .map(|p| (p.t, p.v))
        .chain([(f64::INFINITY, f64::MAX)])
        .collect();
    let bounds: Vec<f64> = buckets
        .iter()
        .map(|b| b.0)
        .filter(|b| b.is_finite())
        .collect();
    for q in [0.0, 0.5, 0.99, 1.0] {
        if let Some(x) = metrics::histogram_quantile(q, &buckets).filter(|x| x.is_finite()) {
            let lo = bounds.iter().copied().fold(0.0f64, f64::min);
            let hi = bounds.iter().copied().fold(0.0f64, f64::max);
            assert!(
                x >= lo && x <= hi,
                "quantile {q} = {x} outside [{lo}, {hi}]"
            );
        }
    }
    let _ = metrics::ratio(samples, samples);
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let file = FILES[pick as usize % FILES.len()];
    let start = Instant::now();
    match metrics::decode(file, rest) {
        Ok(series) => {
            for s in &series {
                assert!(
                    s.samples.windows(2).all(|w| w[0].t < w[1].t),
                    "samples out of time order"
                );
                functions(&s.samples);
            }
        }
        Err(e) => assert!(
            e.to_string().contains(file),
            "error does not name the file: {e}"
        ),
    }
    let source = MemSource::new(vec![
        ("cluster.json".into(), cluster_json().to_vec()),
        (file.to_string(), rest.to_vec()),
    ]);
    let cluster = Cluster::from_source(source.opened(), &ReadPlan::everything())
        .expect("the minimal bundle loads");
    check_on(1, &cluster, builtin_rules(), &all_kinds());
    diag_fuzz::within_bound(start, "decoding metrics and checking them");
});
