//! Prometheus data for a generated bundle: metric matrices in blocks of two hours (zstd under a
//! `.json` name, as diag writes them by default, or plain), one per-instance fallback block, and
//! `alerts.json`; optionally with planted faults the metric and alert rules must name.

use std::io;

use crate::sink::BundleSink;
use crate::{BundleSpec, Component, Layout, Version, plan};

/// Start of the generated bundles' window (`2022-02-07T12:00:00+08:00`), unix seconds.
const WINDOW_START: u64 = 1_644_206_400;
/// The Prometheus server folder under `monitor/metrics/` and `monitor/alerts/`.
const PROM: &str = "prometheus-0_9090";
const BLOCK: u64 = 7200;

/// What Prometheus data to write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricsSpec {
    /// Hours of data from the window start (blocks of at most two hours).
    pub hours: u64,
    /// Seconds between samples (Prometheus scrapes every 15 s by default).
    pub step: u64,
    /// zstd-compress the files (diag's default) or write plain JSON.
    pub compress: bool,
    /// Plant the faults of [`Faults`]; without them the data is healthy.
    pub faults: bool,
}

impl Default for MetricsSpec {
    fn default() -> MetricsSpec {
        MetricsSpec {
            hours: 6,
            step: 60,
            compress: true,
            faults: false,
        }
    }
}

/// The faults a faulty bundle carries, and where (for tests to name them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Faults {
    /// `instance` label of the TiKV whose store falls to 9% free space.
    pub low_space_tikv: Option<String>,
    /// `instance` label of the TiKV that restarts 4 times within 30 minutes.
    pub restarted_tikv: Option<String>,
    /// `instance` label of the PD leader reporting 500 miss-peer Regions.
    pub miss_peer_pd: Option<String>,
    /// Alerts in `alerts.json`: `(alertname, alertstate)`.
    pub alerts: Vec<(String, String)>,
}

/// What [`write_metrics`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsSummary {
    /// Metric files written (alerts.json not counted).
    pub files: usize,
    /// Bytes written, as stored (compressed when compressed).
    pub bytes: u64,
    /// Bytes of JSON before compression.
    pub json_bytes: u64,
    /// The planted faults.
    pub faults: Faults,
}

struct Target {
    component: Component,
    instance: String,
}

/// Writes `spec`'s bundle and its Prometheus data as a directory at `root`.
pub fn write_bundle_with_metrics(
    spec: &BundleSpec,
    metrics: &MetricsSpec,
    root: &std::path::Path,
) -> io::Result<MetricsSummary> {
    let mut sink: Box<dyn crate::sink::BundleSink> = Box::new(crate::sink::DirSink::create(root)?);
    crate::generate(spec, sink.as_mut())?;
    let written = write_metrics(spec, metrics, sink.as_mut())?;
    sink.finish()?;
    Ok(written)
}

/// Writes the Prometheus data of `spec`'s cluster into `sink`.
pub fn write_metrics(
    spec: &BundleSpec,
    metrics: &MetricsSpec,
    sink: &mut dyn BundleSink,
) -> io::Result<MetricsSummary> {
    let version = Version::parse(&spec.version)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "version is not vX.Y.Z"))?;
    let (planned, _) = plan(spec, version);
    let targets: Vec<Target> = planned
        .iter()
        .map(|p| Target {
            component: p.component,
            instance: match (&p.pod, spec.layout) {
                (Some(pod), Layout::Operator) => pod.clone(),
                _ => format!("{}:{}", p.host, p.status_port),
            },
        })
        .collect();
    let of = |c: Component| targets.iter().filter(move |t| t.component == c);
    let tikv: Vec<&Target> = of(Component::Tikv).collect();
    let pd: Vec<&Target> = of(Component::Pd).collect();
    let mut faults = Faults::default();
    if metrics.faults {
        faults.low_space_tikv = tikv.first().map(|t| t.instance.clone());
        faults.restarted_tikv = tikv.get(1).or(tikv.first()).map(|t| t.instance.clone());
        faults.miss_peer_pd = pd.first().map(|t| t.instance.clone());
        faults.alerts = vec![
            ("TiKV_server_is_down".into(), "firing".into()),
            ("PD_miss_peer_region_count".into(), "firing".into()),
            ("TiKV_low_space".into(), "pending".into()),
        ];
    }
    let end = WINDOW_START + metrics.hours * 3600;
    let times = |from: u64, to: u64| (from..to).step_by(metrics.step.max(1) as usize);
    let mut out = MetricsSummary {
        faults: faults.clone(),
        ..MetricsSummary::default()
    };
    let mut block_start = WINDOW_START;
    let mut last_block = false;
    while block_start < end {
        let block_end = (block_start + BLOCK).min(end);
        last_block |= block_end == end;
        let ts: Vec<u64> = times(block_start, block_end).collect();
        let frac = |t: u64| (t - WINDOW_START) as f64 / (end - WINDOW_START).max(1) as f64;
        let name = |metric: &str, suffix: &str| {
            format!(
                "monitor/metrics/{PROM}/{metric}-{}-{}{suffix}.json",
                rfc3339(block_start),
                rfc3339(block_end)
            )
        };

        // tikv_store_size_bytes: available and capacity per TiKV.
        let capacity = 2_000_000_000_000.0;
        let mut m = Matrix::new("tikv_store_size_bytes");
        for t in &tikv {
            let low = faults.low_space_tikv.as_deref() == Some(&t.instance);
            m.series(
                &[
                    ("instance", &t.instance),
                    ("job", "tikv"),
                    ("type", "available"),
                ],
                &ts,
                |x| {
                    let free = if low {
                        (0.40 - 0.35 * frac(x)).max(0.09)
                    } else {
                        0.70 - 0.01 * frac(x)
                    };
                    (capacity * free).round()
                },
            );
            m.series(
                &[
                    ("instance", &t.instance),
                    ("job", "tikv"),
                    ("type", "capacity"),
                ],
                &ts,
                |_| capacity,
            );
        }
        put(
            sink,
            &name("tikv_store_size_bytes", ""),
            &m.finish(),
            metrics,
            &mut out,
        )?;

        // process_start_time_seconds: restarts at four moments 6 minutes apart for the crash
        // looping TiKV, in the last block; the last block is written per instance (diag's
        // fallback when the series count query fails).
        let restarts: Vec<u64> = (0..4).map(|k| end - 40 * 60 + k * 360).collect();
        let started = |inst: &str, x: u64| -> f64 {
            let base = (WINDOW_START - 86_400) as f64;
            if faults.restarted_tikv.as_deref() != Some(inst) {
                return base;
            }
            restarts
                .iter()
                .rfind(|r| **r <= x)
                .map_or(base, |r| (*r - 3) as f64)
        };
        if last_block {
            for t in &targets {
                let mut m = Matrix::new("process_start_time_seconds");
                m.series(
                    &[("instance", &t.instance), ("job", t.component.key())],
                    &ts,
                    |x| started(&t.instance, x),
                );
                let suffix = format!(".{}", t.instance.replace(':', "-"));
                put(
                    sink,
                    &name("process_start_time_seconds", &suffix),
                    &m.finish(),
                    metrics,
                    &mut out,
                )?;
            }
        } else {
            let mut m = Matrix::new("process_start_time_seconds");
            for t in &targets {
                m.series(
                    &[("instance", &t.instance), ("job", t.component.key())],
                    &ts,
                    |x| started(&t.instance, x),
                );
            }
            put(
                sink,
                &name("process_start_time_seconds", ""),
                &m.finish(),
                metrics,
                &mut out,
            )?;
        }

        // PD: leader, region health and store counts. The first PD leads.
        let mut leader = Matrix::new("etcd_server_is_leader");
        let mut regions = Matrix::new("pd_regions_status");
        let mut stores = Matrix::new("pd_cluster_status");
        for (n, p) in pd.iter().enumerate() {
            let is_leader = if n == 0 { 1.0 } else { 0.0 };
            leader.series(&[("instance", &p.instance), ("job", "pd")], &ts, |_| {
                is_leader
            });
            for kind in [
                "miss-peer-region-count",
                "pending-peer-region-count",
                "down-peer-region-count",
            ] {
                let planted =
                    kind.starts_with("miss") && faults.miss_peer_pd.as_deref() == Some(&p.instance);
                regions.series(
                    &[("instance", &p.instance), ("job", "pd"), ("type", kind)],
                    &ts,
                    |x| {
                        if planted && frac(x) > 0.5 { 500.0 } else { 0.0 }
                    },
                );
            }
            for kind in ["store_up_count", "store_down_count", "store_slow_count"] {
                let up = if kind == "store_up_count" {
                    tikv.len() as f64
                } else {
                    0.0
                };
                stores.series(
                    &[("instance", &p.instance), ("job", "pd"), ("type", kind)],
                    &ts,
                    |_| up,
                );
            }
        }
        put(
            sink,
            &name("etcd_server_is_leader", ""),
            &leader.finish(),
            metrics,
            &mut out,
        )?;
        put(
            sink,
            &name("pd_regions_status", ""),
            &regions.finish(),
            metrics,
            &mut out,
        )?;
        put(
            sink,
            &name("pd_cluster_status", ""),
            &stores.finish(),
            metrics,
            &mut out,
        )?;

        // TiKV slow score and TiDB heap: healthy in both bundles.
        let mut slow = Matrix::new("tikv_raftstore_slow_score");
        for t in &tikv {
            slow.series(&[("instance", &t.instance), ("job", "tikv")], &ts, |_| 1.0);
        }
        put(
            sink,
            &name("tikv_raftstore_slow_score", ""),
            &slow.finish(),
            metrics,
            &mut out,
        )?;
        let mut heap = Matrix::new("go_memstats_heap_inuse_bytes");
        for t in of(Component::Tidb) {
            heap.series(&[("instance", &t.instance), ("job", "tidb")], &ts, |x| {
                2.0e9 + 1.0e8 * frac(x)
            });
        }
        put(
            sink,
            &name("go_memstats_heap_inuse_bytes", ""),
            &heap.finish(),
            metrics,
            &mut out,
        )?;
        block_start = block_end;
    }

    // alerts.json: the instant ALERTS query at collection time.
    let mut result = Vec::new();
    for (alert, state) in &faults.alerts {
        let (level, instance, expr) = match alert.as_str() {
            "TiKV_server_is_down" => (
                "emergency",
                faults.restarted_tikv.clone().unwrap_or_default(),
                "probe_success{group=\\\"tikv\\\"} == 0",
            ),
            "PD_miss_peer_region_count" => (
                "critical",
                faults.miss_peer_pd.clone().unwrap_or_default(),
                "(sum(pd_regions_status{type=\\\"miss-peer-region-count\\\"}) by (instance) > 100) and (sum(etcd_server_is_leader) by (instance) > 0)",
            ),
            _ => (
                "warning",
                faults.low_space_tikv.clone().unwrap_or_default(),
                "sum(tikv_store_size_bytes{type=\\\"available\\\"}) by (instance) / sum(tikv_store_size_bytes{type=\\\"capacity\\\"}) by (instance) < 0.2",
            ),
        };
        result.push(format!(
            r#"{{"metric":{{"__name__":"ALERTS","alertname":"{alert}","alertstate":"{state}","env":"{}","expr":"{expr}","instance":"{instance}","level":"{level}"}},"value":[{end}.5,"1"]}}"#,
            spec.cluster_name
        ));
    }
    let alerts = format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
        result.join(",")
    );
    let path = format!("monitor/alerts/{PROM}/alerts.json");
    let bytes = stored(alerts.into_bytes(), metrics.compress);
    sink.file(&path, &bytes)?;
    Ok(out)
}

fn put(
    sink: &mut dyn BundleSink,
    path: &str,
    json: &str,
    metrics: &MetricsSpec,
    out: &mut MetricsSummary,
) -> io::Result<()> {
    out.json_bytes += json.len() as u64;
    let bytes = stored(json.as_bytes().to_vec(), metrics.compress);
    out.files += 1;
    out.bytes += bytes.len() as u64;
    sink.file(path, &bytes)
}

fn stored(json: Vec<u8>, compress: bool) -> Vec<u8> {
    if compress {
        // Level 1: fast; compressing a slice does not fail (the API returns a Result all the same).
        zstd::bulk::compress(&json, 1).unwrap_or(json)
    } else {
        json
    }
}

/// A range-query response being written, compact as Prometheus writes it.
struct Matrix {
    metric: &'static str,
    body: String,
    first: bool,
}

impl Matrix {
    fn new(metric: &'static str) -> Matrix {
        Matrix {
            metric,
            body: String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#),
            first: true,
        }
    }

    fn series(&mut self, labels: &[(&str, &str)], times: &[u64], value: impl Fn(u64) -> f64) {
        use std::fmt::Write as _;
        if !self.first {
            self.body.push(',');
        }
        self.first = false;
        let _ = write!(self.body, r#"{{"metric":{{"__name__":"{}""#, self.metric);
        for (k, v) in labels {
            let _ = write!(self.body, r#","{k}":"{v}""#);
        }
        self.body.push_str(r#"},"values":["#);
        for (i, t) in times.iter().enumerate() {
            if i > 0 {
                self.body.push(',');
            }
            let v = value(*t);
            if v.fract() == 0.0 && v.abs() < 1e15 {
                let _ = write!(self.body, r#"[{t},"{}"]"#, v as i64);
            } else {
                let _ = write!(self.body, r#"[{t},"{v}"]"#);
            }
        }
        self.body.push_str("]}");
    }

    fn finish(mut self) -> String {
        self.body.push_str("]}}");
        self.body
    }
}

/// Unix seconds as diag names blocks: RFC 3339 in the cluster's +08:00.
fn rfc3339(t: u64) -> String {
    let local = t + 8 * 3600;
    let days = local / 86_400;
    let secs = local % 86_400;
    let (y, m, d) = civil(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+08:00",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_named_in_the_clusters_time_zone() {
        assert_eq!(rfc3339(WINDOW_START), "2022-02-07T12:00:00+08:00");
        assert_eq!(rfc3339(WINDOW_START + 7200), "2022-02-07T14:00:00+08:00");
    }
}
