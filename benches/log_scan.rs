//! The log checker against ripgrep: all shipped log rules over 1 GB of generated TiKV logs,
//! against `rg -c -F -e <literal> …` counting the same rules' literals over the same files.
//! Both sides use every core; runs alternate (A, B, A, B, …) and medians are compared.
//!
//! `cargo bench -p diag-bundlegen --bench log_scan` (`-- --quick`: 256 MiB, 3 runs). Needs `rg`
//! on PATH. Prints the ratio rg ÷ ours (≥ 1 means the checker is at least as fast) and the
//! checker's peak memory (VmHWM of this process) against the bytes scanned.

#[path = "measure.rs"]
mod measure;

use std::process::Command;
use std::time::Instant;

use diag_bundlegen::logs::write_scan_corpus;
use diag_bundlegen::{BundleSpec, Format, Layout, write_bundle};
use diag_core::Cluster;
use diag_core::engine::{CheckOptions, check};
use diag_core::model::ComponentKind;
use diag_core::model::log::LogFileKind;
use diag_core::rules::{CheckKind, RuleSet};
use measure::{cpu_time, load, median};

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) of this process's threads so far: the sum of each thread's
/// `schedstat` run time, in nanoseconds.
fn own_cpu_ns() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| {
                    let stat = std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok()?;
                    stat.split(' ').next()?.parse::<u64>().ok()
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (bytes, runs): (u64, usize) = if quick { (256 << 20, 3) } else { (1 << 30, 5) };
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // 12 instances: 3 PD, 8 TiKV, 1 TiDB; the corpus goes into the TiKV log folders.
    let spec = BundleSpec::with_instances(12, Layout::Tiup, 42);
    let written = write_bundle(&spec, Format::Dir, tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    let cluster = Cluster::open(&written.bundle).unwrap_or_else(|e| panic!("{e}"));
    let tikv: Vec<_> = cluster.instances_of(ComponentKind::Tikv).collect();
    let mut files = Vec::new();
    for (n, inst) in tikv.iter().enumerate() {
        let dir = written.bundle.join(&inst.host).join(
            inst.log_dir
                .as_deref()
                .unwrap_or("log")
                .trim_start_matches('/'),
        );
        files.extend(
            write_scan_corpus(&dir, bytes / tikv.len() as u64, 1, 100 + n as u64)
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    drop(cluster);
    let cluster = Cluster::open(&written.bundle).unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin();
    let mut literals: Vec<&str> = rules
        .rules()
        .iter()
        .flat_map(|r| r.log_literals(ComponentKind::Tikv, LogFileKind::Main))
        .collect();
    literals.sort_unstable();
    literals.dedup();
    let options = CheckOptions {
        kinds: vec![CheckKind::Log],
        only: Vec::new(),
        skip: Vec::new(),
    };
    let mut rg_args: Vec<String> = vec!["-c".into(), "-F".into(), "--no-filename".into()];
    for l in &literals {
        rg_args.push("-e".into());
        rg_args.push((*l).to_string());
    }
    // The extra column: rg given the 8 log folders, which it walks and reads with read(2), as
    // the checker does, instead of memory-mapping explicit files.
    let mut rg_dir_args = rg_args.clone();
    rg_args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    rg_dir_args.extend(
        files
            .iter()
            .filter_map(|f| f.parent().map(|d| d.to_string_lossy().into_owned())),
    );
    let run_rg = |args: &[String]| {
        let t = Instant::now();
        let cpu = cpu_time(true).map_or(0, |d| d.as_nanos() as u64);
        let status = Command::new("rg")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("rg: {e}"));
        let took = (
            t.elapsed(),
            cpu_time(true).map_or(0, |d| d.as_nanos() as u64) - cpu,
        );
        // rg exits 1 when nothing matched, which is what ordinary logs give.
        assert!(
            status.status.code().is_some_and(|c| c <= 1),
            "rg failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        took
    };
    let before = vm_hwm_kib();
    let load_start = load();
    let (mut ours, mut rg, mut rg_dirs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ours_cpu, mut rg_cpu, mut rg_dirs_cpu) = (0u64, 0u64, 0u64);
    for round in 0..=runs {
        let t = Instant::now();
        let cpu = own_cpu_ns();
        let outcome = check(&cluster, &rules, &options);
        let took = (t.elapsed(), own_cpu_ns() - cpu);
        assert!(outcome.findings.len() >= 70);
        let rg_took = run_rg(&rg_args);
        let rg_dirs_took = run_rg(&rg_dir_args);
        if round > 0 {
            ours.push(took.0);
            rg.push(rg_took.0);
            rg_dirs.push(rg_dirs_took.0);
            ours_cpu += took.1;
            rg_cpu += rg_took.1;
            rg_dirs_cpu += rg_dirs_took.1;
        }
    }
    let load_end = load();
    let (ours, rg, rg_dirs) = (median(ours), median(rg), median(rg_dirs));
    let per_run = |ns: u64| ns as f64 / 1e6 / runs as f64;
    let peak = vm_hwm_kib();
    println!(
        "log scan: {} MiB in {} files, {} log rules, {} literals for TiKV main logs, {} cores",
        bytes >> 20,
        files.len(),
        rules
            .rules()
            .iter()
            .filter(|r| r.meta.kind == CheckKind::Log)
            .count(),
        literals.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("  load average (1 min): {load_start} → {load_end}");
    println!("  median wall time; CPU time (user + system) per run beside it");
    println!(
        "  ours (all log rules, engine::check):  {:>8.1} ms   cpu {:>7.1} ms",
        ours.as_secs_f64() * 1e3,
        per_run(ours_cpu)
    );
    println!(
        "  rg -c -F -e … (same literals, files): {:>8.1} ms   cpu {:>7.1} ms",
        rg.as_secs_f64() * 1e3,
        per_run(rg_cpu)
    );
    println!(
        "  rg, the same over the 8 log folders:  {:>8.1} ms   cpu {:>7.1} ms (read, not mmap)",
        rg_dirs.as_secs_f64() * 1e3,
        per_run(rg_dirs_cpu)
    );
    println!(
        "  ratio rg ÷ ours: {:.2} wall, {:.2} cpu (≥ 1.0: at least as fast as ripgrep); folders: {:.2} wall",
        rg.as_secs_f64() / ours.as_secs_f64(),
        rg_cpu as f64 / ours_cpu.max(1) as f64,
        rg_dirs.as_secs_f64() / ours.as_secs_f64()
    );
    println!(
        "  peak memory (VmHWM): {} MiB before the scans, {} MiB after, for {} MiB scanned",
        before >> 10,
        peak >> 10,
        bytes >> 20
    );
}
