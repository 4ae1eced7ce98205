//! The log checker against ripgrep: all shipped log rules over 1 GB of generated TiKV logs,
//! against `rg -c -F -e <literal> …` counting the same rules' literals over the same files.
//! Both sides use every core; runs alternate (A, B, A, B, …) and medians are compared.
//!
//! `cargo bench -p diag-bundlegen --bench log_scan` (`-- --quick`: 256 MiB, 3 runs). Needs `rg`
//! on PATH. Prints the ratio rg ÷ ours (≥ 1 means the checker is at least as fast) and the
//! checker's peak memory (VmHWM of this process) against the bytes scanned.

use std::process::Command;
use std::time::{Duration, Instant};

use diag_bundlegen::logs::write_scan_corpus;
use diag_bundlegen::{BundleSpec, Format, Layout, write_bundle};
use diag_core::Cluster;
use diag_core::engine::{CheckOptions, check};
use diag_core::model::ComponentKind;
use diag_core::model::log::LogFileKind;
use diag_core::rules::{CheckKind, RuleSet};

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
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
    rg_args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    let before = vm_hwm_kib();
    let (mut ours, mut rg) = (Vec::new(), Vec::new());
    for round in 0..=runs {
        let t = Instant::now();
        let outcome = check(&cluster, &rules, &options);
        let took = t.elapsed();
        assert!(outcome.findings.len() >= 70);
        let t = Instant::now();
        let status = Command::new("rg")
            .args(&rg_args)
            .output()
            .unwrap_or_else(|e| panic!("rg: {e}"));
        let rg_took = t.elapsed();
        // rg exits 1 when nothing matched, which is what ordinary logs give.
        assert!(
            status.status.code().is_some_and(|c| c <= 1),
            "rg failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        if round > 0 {
            ours.push(took);
            rg.push(rg_took);
        }
    }
    let (ours, rg) = (median(ours), median(rg));
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
    println!(
        "  ours (all log rules, engine::check): {:>8.1} ms",
        ours.as_secs_f64() * 1e3
    );
    println!(
        "  rg -c -F -e … (same literals):       {:>8.1} ms",
        rg.as_secs_f64() * 1e3
    );
    println!(
        "  ratio rg ÷ ours: {:.2} (≥ 1.0: at least as fast as ripgrep)",
        rg.as_secs_f64() / ours.as_secs_f64()
    );
    println!(
        "  peak memory (VmHWM): {} MiB before the scans, {} MiB after, for {} MiB scanned",
        before >> 10,
        peak >> 10,
        bytes >> 20
    );
}
