//! End-to-end ratios on generated bundles, every figure measured in this run and printed as a
//! ratio against another figure of this run (a noisy machine shifts both sides alike).
//!
//! `cargo bench -p diag-bundlegen --bench end_to_end` (or `benches/compare.sh`, which also
//! prints the machine). `-- --quick` runs fewer repetitions and skips the 5,000-instance bundle.
//!
//! - check ÷ load: `Cluster::open` + the shipped config rules, against `Cluster::open` alone.
//! - load ÷ floor: `Cluster::open` against reading every `conf/config.json` and
//!   `serde_json::from_slice` into `Value`, with the same threads (throughput = floor ÷ load).
//! - 1 thread ÷ 2 threads for the whole check.
//! - peak RSS of a child process that runs the check, ÷ the runtime config bytes.
//! - Rhai ÷ declarative per rule × instance, one thread.
//! - check cost per instance at 10, 100, 1,000 and 5,000 instances.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use diag_bundlegen::measure::{self, only_bench_rule, rule_pairs};
use diag_bundlegen::{BundleSpec, Format, Layout, write_bundle};
use diag_core::Cluster;
use diag_core::engine::{CheckOptions, check};
use diag_core::rules::RuleSet;

type Job<'a> = Box<dyn FnMut() + 'a>;

/// Runs the jobs round-robin (one warm-up round, then `runs` rounds) and returns each job's
/// median, so drift on a shared machine hits every job alike.
fn alternate(runs: usize, jobs: &mut [Job<'_>]) -> Vec<Duration> {
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); jobs.len()];
    for round in 0..=runs {
        for (job, out) in jobs.iter_mut().zip(&mut samples) {
            let start = Instant::now();
            job();
            if round > 0 {
                out.push(start.elapsed());
            }
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort();
            s[s.len() / 2]
        })
        .collect()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn full_check(bundle: &Path) -> usize {
    let cluster = Cluster::open(bundle).unwrap_or_else(|e| panic!("{e}"));
    let outcome = check(&cluster, &RuleSet::builtin(), &CheckOptions::default());
    outcome.findings.len()
}

fn load(bundle: &Path) -> usize {
    Cluster::open(bundle)
        .unwrap_or_else(|e| panic!("{e}"))
        .instances
        .len()
}

fn floor(bundle: &Path) -> usize {
    measure::serde_floor(bundle)
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

/// Peak RSS (bytes) of `diag-bundlegen measure --stage <stage>` on `bundle`.
fn child_peak(stage: &str, bundle: &Path) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_diag-bundlegen"))
        .args(["measure", "--stage", stage, "--threads", "2"])
        .arg(bundle)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    line["peak_rss_bytes"].as_u64().unwrap_or(0)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 3 } else { 7 };
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = BundleSpec::with_instances(1000, Layout::Tiup, 42);
    let started = Instant::now();
    let dir =
        write_bundle(&spec, Format::Dir, &tmp.path().join("dir")).unwrap_or_else(|e| panic!("{e}"));
    let zip =
        write_bundle(&spec, Format::Zip, &tmp.path().join("zip")).unwrap_or_else(|e| panic!("{e}"));
    let targz = write_bundle(&spec, Format::TarGz, &tmp.path().join("targz"))
        .unwrap_or_else(|e| panic!("{e}"));
    let config_bytes = dir.summary.config_bytes;
    let c = spec.counts;
    eprintln!(
        "generated 1,000 instances ({:.1} MiB of configs) in {:.1}s",
        mib(config_bytes),
        started.elapsed().as_secs_f64()
    );

    let (one, two) = (pool(1), pool(2));
    let b = dir.bundle.as_path();

    // check vs load vs the serde_json floor, 2 threads, interleaved.
    let times = two.install(|| {
        alternate(
            runs,
            &mut [
                Box::new(|| {
                    std::hint::black_box(full_check(b));
                }),
                Box::new(|| {
                    std::hint::black_box(load(b));
                }),
                Box::new(|| {
                    std::hint::black_box(floor(b));
                }),
            ],
        )
    });
    let (t_check, t_load, t_floor) = (times[0], times[1], times[2]);

    // 1 thread vs 2 threads for the whole check.
    let medians = alternate(
        runs,
        &mut [
            Box::new(|| _ = one.install(|| full_check(b))),
            Box::new(|| _ = two.install(|| full_check(b))),
        ],
    );
    let (t1, t2) = (medians[0], medians[1]);

    // Containers, 2 threads.
    let containers = two.install(|| {
        alternate(
            runs.min(5),
            &mut [
                Box::new(|| {
                    std::hint::black_box(load(b));
                }),
                Box::new(|| {
                    std::hint::black_box(load(&zip.bundle));
                }),
                Box::new(|| {
                    std::hint::black_box(load(&targz.bundle));
                }),
            ],
        )
    });

    // Rule forms, per rule × instance, 1 thread. A check that selects no rule gives the fixed
    // cost of one call (selection, the script view of the cluster), taken off both forms.
    let cluster = Cluster::open(b).unwrap_or_else(|e| panic!("{e}"));
    let options = only_bench_rule();
    let nothing = CheckOptions {
        only: vec!["no-such-rule".into()],
        ..CheckOptions::default()
    };
    let pairs = rule_pairs().unwrap_or_else(|e| panic!("{e}"));
    let mut forms = Vec::new();
    for pair in &pairs {
        let rows = check(&cluster, &pair.declarative, &options)
            .findings
            .iter()
            .map(|f| f.rows.len())
            .sum::<usize>()
            .max(1);
        let reps = 20;
        let t = one.install(|| {
            alternate(
                runs,
                &mut [
                    Box::new(|| {
                        (0..reps).for_each(|_| {
                            _ = std::hint::black_box(check(&cluster, &pair.declarative, &options))
                        })
                    }),
                    Box::new(|| {
                        (0..reps).for_each(|_| {
                            _ = std::hint::black_box(check(&cluster, &pair.rhai, &options))
                        })
                    }),
                    Box::new(|| {
                        (0..reps).for_each(|_| {
                            _ = std::hint::black_box(check(&cluster, &pair.declarative, &nothing))
                        })
                    }),
                ],
            )
        });
        let per = |d: Duration| secs(d.saturating_sub(t[2])) * 1e9 / (reps * rows) as f64;
        forms.push((
            pair.label,
            rows,
            per(t[0]),
            per(t[1]),
            secs(t[2]) * 1e6 / reps as f64,
        ));
    }
    drop(cluster);

    // What parallelism this machine gives at all: the floor on 1 thread vs 2.
    let floor_threads = alternate(
        runs,
        &mut [
            Box::new(|| _ = one.install(|| floor(b))),
            Box::new(|| _ = two.install(|| floor(b))),
        ],
    );

    // Peak memory, in fresh processes.
    let baseline = child_peak("baseline", b);
    let peak_check = child_peak("check", b);
    let peak_floor = child_peak("serde", b);

    // Scaling.
    let mut scaling = Vec::new();
    let sizes: &[usize] = if quick {
        &[10, 100, 1000]
    } else {
        &[10, 100, 1000, 5000]
    };
    for &n in sizes {
        let s = BundleSpec::with_instances(n, Layout::Tiup, 42);
        let w = if n == 1000 {
            dir.clone()
        } else {
            write_bundle(&s, Format::Dir, &tmp.path().join(format!("scale-{n}")))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let reps = (2000 / n).clamp(1, 50);
        let t = two.install(|| {
            alternate(
                if n >= 5000 { 3 } else { runs },
                &mut [Box::new(|| {
                    (0..reps).for_each(|_| {
                        std::hint::black_box(full_check(&w.bundle));
                    })
                })],
            )
        })[0];
        scaling.push((n, w.summary.config_bytes, secs(t) / reps as f64));
    }

    println!(
        "## diag-check end to end ({} run, medians of {runs} interleaved runs)\n",
        if quick { "quick" } else { "full" }
    );
    println!(
        "Bundle: generated, TiUP layout, 1,000 instances ({} PD, {} TiKV, {} TiDB, {} TiFlash), {:.1} MiB of runtime configs, v5.4.0, 5% rule-violating values, seed 42; files in the page cache.\n",
        c.pd,
        c.tikv,
        c.tidb,
        c.tiflash,
        mib(config_bytes)
    );
    println!("| Measure | Ratio | Target | Met | Sides (this run) |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, ratio: f64, target: &str, met: bool, sides: String| {
        println!(
            "| {name} | {ratio:.2} | {target} | {} | {sides} |",
            if met { "yes" } else { "**no**" }
        );
    };
    let r = secs(t_check) / secs(t_load);
    row(
        "check ÷ load alone (2 threads)",
        r,
        "≤ 1.3",
        r <= 1.3,
        format!(
            "{:.0} ms ÷ {:.0} ms",
            secs(t_check) * 1e3,
            secs(t_load) * 1e3
        ),
    );
    let r = secs(t_floor) / secs(t_load);
    row(
        "load throughput ÷ serde_json::from_slice floor",
        r,
        "≥ 0.7",
        r >= 0.7,
        format!(
            "{:.0} ms floor ÷ {:.0} ms load",
            secs(t_floor) * 1e3,
            secs(t_load) * 1e3
        ),
    );
    let r = secs(t1) / secs(t2);
    row(
        "speed-up, 2 threads vs 1 (whole check)",
        r,
        "≥ 1.7",
        r >= 1.7,
        format!("{:.0} ms ÷ {:.0} ms", secs(t1) * 1e3, secs(t2) * 1e3),
    );
    let r = peak_check as f64 / config_bytes as f64;
    row(
        "peak RSS of a check ÷ config bytes",
        r,
        "≤ 3",
        r <= 3.0,
        format!("{:.1} MiB ÷ {:.1} MiB", mib(peak_check), mib(config_bytes)),
    );
    let r = peak_check.saturating_sub(baseline) as f64 / config_bytes as f64;
    row(
        "… less the idle process's RSS",
        r,
        "≤ 3",
        r <= 3.0,
        format!(
            "({:.1} − {:.1} MiB idle) ÷ {:.1} MiB",
            mib(peak_check),
            mib(baseline),
            mib(config_bytes)
        ),
    );
    let r = peak_floor as f64 / config_bytes as f64;
    println!(
        "| serde_json floor's peak RSS ÷ config bytes (reference) | {r:.2} | — | — | {:.1} MiB |",
        mib(peak_floor)
    );
    let r = secs(floor_threads[0]) / secs(floor_threads[1]);
    println!(
        "| speed-up of the serde_json floor, 2 threads vs 1 (what this machine gives; reference) | {r:.2} | — | — | {:.0} ms ÷ {:.0} ms |",
        secs(floor_threads[0]) * 1e3,
        secs(floor_threads[1]) * 1e3
    );
    for (label, rows, decl, rhai, fixed) in &forms {
        let r = rhai / decl;
        row(
            &format!("Rhai ÷ declarative per rule × instance: {label} ({rows} rows, 1 thread)"),
            r,
            "≥ 5",
            r >= 5.0,
            format!(
                "{rhai:.0} ns ÷ {decl:.0} ns per row, after {fixed:.0} µs fixed per check call"
            ),
        );
    }
    let r = secs(containers[1]) / secs(containers[0]);
    println!(
        "| load .zip ÷ load directory | {r:.2} | — | — | {:.0} ms ÷ {:.0} ms |",
        secs(containers[1]) * 1e3,
        secs(containers[0]) * 1e3
    );
    let r = secs(containers[2]) / secs(containers[0]);
    println!(
        "| load .tar.gz ÷ load directory | {r:.2} | — | — | {:.0} ms ÷ {:.0} ms |",
        secs(containers[2]) * 1e3,
        secs(containers[0]) * 1e3
    );

    println!(
        "\nScaling (whole check, 2 threads; cost per instance relative to the 1,000-instance bundle):\n"
    );
    println!("| Instances | Config MiB | Check | Per instance | ÷ per instance at 1,000 |");
    println!("|---|---|---|---|---|");
    let at_1000 = scaling
        .iter()
        .find(|(n, _, _)| *n == 1000)
        .map(|(n, _, t)| t / *n as f64)
        .unwrap_or(1.0);
    for (n, bytes, t) in &scaling {
        let per = t / *n as f64;
        println!(
            "| {n} | {:.1} | {:.1} ms | {:.0} µs | {:.2} |",
            mib(*bytes),
            t * 1e3,
            per * 1e6,
            per / at_1000
        );
    }
    eprintln!(
        "end_to_end finished in {:.0}s",
        started.elapsed().as_secs_f64()
    );
}
