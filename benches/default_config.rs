//! Issue 11's speed claims, each a ratio of two figures measured in this run:
//!
//! - `default_config` ÷ `config`: the whole check (`Cluster::open` + the selected rules) of a
//!   generated 1,000-instance bundle with `--types default_config` against `--types config`
//!   (target ≤ 1.5).
//! - slow-log parsing throughput ÷ reading the same bytes line by line (`BufRead::read_until`),
//!   on a generated 64 MiB TiDB slow log in memory.
//! - the performance rules' pass over that slow log in a bundle on disk
//!   (`Cluster::slow_log_performance`: `DataFile::reader`, parser, accumulators) ÷ reading the
//!   same file through `DataFile::reader` into `io::sink`.
//!
//! `cargo bench -p diag-bundlegen --bench default_config` (`-- --quick`: 3 rounds instead of 7;
//! `-- --check-only`: the first measure only). The first measure is printed as wall time and
//! as the process's CPU time (user + sys), the figure to trust on a loaded machine. Each check
//! of it runs in a process of its own (this binary, `--child <kind> <bundle>`), as the CLI runs
//! one: in one process, glibc's malloc left the frees of one side's outcome to be consolidated
//! by the other side's allocations, so the two sides paid for each other and the ratio moved
//! with any change to either's allocation pattern (1.3 to 2.2 with the sum of both unchanged).

#[path = "measure.rs"]
mod measure;

use std::io::BufRead;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use diag_bundlegen::{BundleSpec, Format, Layout, write_bundle};
use diag_core::Cluster;
use diag_core::engine::{CheckOptions, check};
use diag_core::model::slowlog::SlowLogReader;
use diag_core::rules::{CheckKind, RuleSet};
use measure::{cpu_time, load};

type Job<'a> = Box<dyn FnMut() + 'a>;

/// Round-robin runs (one warm-up round), each job's median wall time.
fn alternate(runs: usize, jobs: &mut [Job<'_>]) -> Vec<Duration> {
    alternate_cpu(runs, jobs)
        .into_iter()
        .map(|(w, _)| w)
        .collect()
}

/// Round-robin runs (one warm-up round), each job's median wall time and median CPU time of
/// the process (user + sys, all threads; `None` where `/proc/self/stat` is not readable).
fn alternate_cpu(runs: usize, jobs: &mut [Job<'_>]) -> Vec<(Duration, Option<Duration>)> {
    let mut samples: Vec<Vec<(Duration, Option<Duration>)>> = vec![Vec::new(); jobs.len()];
    for round in 0..=runs {
        for (job, out) in jobs.iter_mut().zip(&mut samples) {
            let (start, cpu) = (Instant::now(), cpu_time(false));
            job();
            if round > 0 {
                let used = cpu.zip(cpu_time(false)).map(|(a, b)| b.saturating_sub(a));
                out.push((start.elapsed(), used));
            }
        }
    }
    samples.into_iter().map(medians).collect()
}

/// Round-robin runs (one warm-up round) of two jobs that time themselves; each one's median
/// wall and CPU time.
fn measured_twice(
    runs: usize,
    jobs: [&mut dyn FnMut() -> (Duration, Option<Duration>); 2],
) -> Vec<(Duration, Option<Duration>)> {
    let mut samples: Vec<Vec<(Duration, Option<Duration>)>> = vec![Vec::new(); 2];
    let [a, b] = jobs;
    for round in 0..=runs {
        for (job, out) in [&mut *a, &mut *b].into_iter().zip(&mut samples) {
            let sample = job();
            if round > 0 {
                out.push(sample);
            }
        }
    }
    samples.into_iter().map(medians).collect()
}

fn medians(s: Vec<(Duration, Option<Duration>)>) -> (Duration, Option<Duration>) {
    let mut wall: Vec<Duration> = s.iter().map(|(w, _)| *w).collect();
    let mut cpu: Vec<Duration> = s.iter().filter_map(|(_, c)| *c).collect();
    wall.sort();
    cpu.sort();
    (wall[wall.len() / 2], cpu.get(cpu.len() / 2).copied())
}

fn full_check(bundle: &Path, rules: &RuleSet, kind: CheckKind) -> usize {
    let cluster = Cluster::open(bundle).unwrap_or_else(|e| panic!("{e}"));
    let options = CheckOptions {
        kinds: vec![kind],
        ..CheckOptions::default()
    };
    check(&cluster, rules, &options).findings.len()
}

/// The child's side: one whole check of `bundle`, printed as `<wall µs> <CPU ms> <rules>`.
fn child(kind: &str, bundle: &Path) {
    let rules = RuleSet::builtin();
    let kind = match kind {
        "config" => CheckKind::Config,
        _ => CheckKind::DefaultConfig,
    };
    let (start, cpu) = (Instant::now(), cpu_time(false));
    let n = full_check(bundle, &rules, kind);
    let wall = start.elapsed();
    let used = cpu.zip(cpu_time(false)).map(|(a, b)| b.saturating_sub(a));
    println!(
        "{} {} {n}",
        wall.as_micros(),
        used.map_or(-1, |c| c.as_millis() as i64)
    );
}

/// The table rows of `default_config` (`times[1]`) ÷ `config` (`times[0]`): wall time, then
/// CPU time where it was read.
fn ratio_rows(wall_label: &str, times: &[(Duration, Option<Duration>)]) {
    let row = |label: &str, ours: Duration, floor: Duration| {
        let ratio = ours.as_secs_f64() / floor.as_secs_f64().max(1e-3);
        println!(
            "| {label} | {ratio:.2} | ≤ 1.5 | {} | {:.0} ms ÷ {:.0} ms |",
            if ratio <= 1.5 { "yes" } else { "no" },
            ours.as_secs_f64() * 1e3,
            floor.as_secs_f64() * 1e3
        );
    };
    row(wall_label, times[1].0, times[0].0);
    if let (Some(ours), Some(floor)) = (times[1].1, times[0].1) {
        row("the same, CPU (user + sys)", ours, floor);
    }
}

/// One whole check in a fresh process: its wall time, CPU time and rule count.
fn in_child(kind: &str, bundle: &Path) -> (Duration, Option<Duration>, usize) {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(exe)
        .args(["--child", kind])
        .arg(bundle)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<i64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    match fields.as_slice() {
        [wall, cpu, n] => (
            Duration::from_micros(*wall as u64),
            (*cpu >= 0).then(|| Duration::from_millis(*cpu as u64)),
            *n as usize,
        ),
        _ => panic!(
            "child check of {kind} printed {text:?} ({})",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// A slow log of about `bytes` bytes: entries like TiDB v6–v8 writes them.
fn slow_log(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 4096);
    let mut i = 0u64;
    while out.len() < bytes {
        let entry = format!(
            "# Time: 2023-01-10T10:{:02}:{:02}.{:06}+08:00\n# Txn_start_ts: {}\n# User@Host: app[app] @ 10.0.1.{} [10.0.1.{}]\n# Conn_ID: {}\n# Query_time: 0.{:06}\n# Parse_time: 0.000041\n# Compile_time: 0.000310\n# Process_time: 0.{:03} Wait_time: 0.001 Request_count: 4 Process_keys: {} Total_keys: {} Rocksdb_delete_skipped_count: {} Rocksdb_key_skipped_count: {}\n# DB: shop\n# Is_internal: false\n# Digest: {:064x}\n# Num_cop_tasks: 4\n# Mem_max: 40960\n# Prepared: false\n# Plan_from_cache: false\n# Succ: true\n# Plan: tidb_decode_plan('fPBhMAkzXzMJMAkxCXNsZWVwKDIpLT5Db2x1bW4jMQkxCXRpbWU6MnMsIGxvb3BzOjI=')\n# Plan_digest: {:064x}\nuse shop;\nselect * from orders where id between {} and {};\n",
            (i / 60) % 60,
            i % 60,
            i % 1_000_000,
            437_000_000_000_000_000u64 + i,
            i % 250,
            i % 250,
            4000 + i % 97,
            i % 999_999,
            i % 1000,
            i * 37 % 3_000_000,
            i * 53 % 6_000_000,
            i % 20_000,
            i % 40_000,
            i % 5000,
            i % 3,
            i,
            i + 100
        );
        out.extend_from_slice(entry.as_bytes());
        i += 1;
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child")
        && let [kind, bundle] = &args[at + 1..(at + 3).min(args.len())]
    {
        child(kind, Path::new(bundle));
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 3 } else { 7 };
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = BundleSpec::with_instances(1000, Layout::Tiup, 42);
    let dir =
        write_bundle(&spec, Format::Dir, &tmp.path().join("dir")).unwrap_or_else(|e| panic!("{e}"));
    let b = dir.bundle.as_path();
    let (mut n_config, mut n_defaults) = (0, 0);
    let load_before = load();
    let times = measured_twice(
        runs,
        [
            &mut || {
                let (wall, cpu, n) = in_child("config", b);
                n_config = n;
                (wall, cpu)
            },
            &mut || {
                let (wall, cpu, n) = in_child("default_config", b);
                n_defaults = n;
                (wall, cpu)
            },
        ],
    );
    println!(
        "## default_config ÷ config, 1,000 instances (medians of {runs} interleaved runs; load {load_before} → {})\n",
        load()
    );
    println!("| Measure | Ratio | Target | Met | Sides (this run) |");
    println!("|---|---|---|---|---|");
    ratio_rows(
        &format!("default_config ({n_defaults} rules) ÷ config ({n_config} rules), wall"),
        &times,
    );

    // The same in this process, each side run back to back with itself (a server checking
    // bundle after bundle): each pays for its own garbage, and the heap is warm.
    let rules = RuleSet::builtin();
    let steady: Vec<(Duration, Option<Duration>)> = [CheckKind::Config, CheckKind::DefaultConfig]
        .into_iter()
        .map(|kind| {
            alternate_cpu(
                runs,
                &mut [Box::new(|| {
                    full_check(b, &rules, kind);
                })],
            )[0]
        })
        .collect();
    ratio_rows(
        "the same in one process, each side repeated (warm heap), wall",
        &steady,
    );

    if std::env::args().any(|a| a == "--check-only") {
        return;
    }
    let log = slow_log(64 << 20);
    let (mut entries, mut lines) = (0usize, 0usize);
    let times = alternate(
        runs,
        &mut [
            Box::new(|| {
                entries = SlowLogReader::new(log.as_slice())
                    .filter(Result::is_ok)
                    .count();
            }),
            Box::new(|| {
                let mut input = log.as_slice();
                let mut buf = Vec::new();
                lines = 0;
                while input.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
                    lines += 1;
                    buf.clear();
                }
            }),
        ],
    );
    let mib = log.len() as f64 / (1 << 20) as f64;
    let (parse, read) = (times[0].as_secs_f64(), times[1].as_secs_f64());
    println!(
        "| slow-log parse throughput ÷ line-read floor ({mib:.0} MiB, {entries} entries, {lines} lines) | {:.2} | — | — | {:.0} MiB/s ÷ {:.0} MiB/s |",
        read / parse,
        mib / parse,
        mib / read
    );

    // The same log as a bundle's TiDB slow log, read as the performance rules read it.
    let bundle = tmp.path().join("slowlog");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/slowlog"),
        &bundle,
    );
    let slow = bundle.join("127.0.0.1/tidb-deploy/tidb-4000/log/tidb_slow_query.log");
    std::fs::File::create(&slow)
        .and_then(|mut f| f.write_all(&log))
        .unwrap_or_else(|e| panic!("{e}"));
    drop(log);
    let (mut passed, mut copied) = (0u64, 0u64);
    let times = alternate(
        runs,
        &mut [
            Box::new(|| {
                let cluster = Cluster::open(&bundle).unwrap_or_else(|e| panic!("{e}"));
                passed = cluster.slow_log_performance().entries;
            }),
            Box::new(|| {
                let cluster = Cluster::open(&bundle).unwrap_or_else(|e| panic!("{e}"));
                copied = 0;
                for file in cluster.instances.iter().flat_map(|i| &i.files) {
                    let mut reader = file.reader().unwrap_or_else(|e| panic!("{e}"));
                    copied += std::io::copy(&mut reader, &mut std::io::sink()).unwrap_or(0);
                }
            }),
        ],
    );
    let (pass, read) = (times[0].as_secs_f64(), times[1].as_secs_f64());
    let mib = copied as f64 / (1 << 20) as f64;
    println!(
        "| performance pass from disk ÷ reading the same bytes ({mib:.0} MiB, {passed} entries) | {:.2} | — | — | {:.0} MiB/s ÷ {:.0} MiB/s |",
        read / pass,
        mib / pass,
        mib / read
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
