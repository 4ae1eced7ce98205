//! Peak memory and time of the real `diag-check` (release build) against bundle size and
//! container form, each time as a ratio to the decompression floor measured in the same run on
//! the same bytes: `cat` of every file of the directory, `unzip -p` of the zip, `gzip -dc` of the
//! tar.gz, `zstd -dc` of the tar.zst, `cat` of the tar.
//!
//! Bundles: the seed cluster (`fixtures/diag-fPrz0RnDxRn`) plus N GB of generated unified-format
//! logs in its pods' log folders (`diag_bundlegen::bulk`). Archives are written with the system
//! tools (`zip -1`, `gzip -1`, `zstd -3 -T0`, `tar`); only reading is measured.
//!
//! ```sh
//! cargo build --release -p diag-check
//! cargo bench -p diag-bundlegen --bench streaming -- --sizes 0.1,1,4 --forms dir,zip,tar.gz,tar.zst
//! cargo bench -p diag-bundlegen --bench streaming -- --sizes 1.2 --forms dir,zip,tar,tar.gz,tar.zst
//! ```
//!
//! Flags: `--work DIR` (default `target/streaming-bench`; needs about 2.5 × the largest size of
//! free disk: the directory, one archive at a time, and the check's spool file), `--runs N`
//! (default 2; the minimum of N runs is kept for every figure), `--bin PATH` (default
//! `target/release/diag-check`), `--all-rules` (each form is also checked with `--types all`,
//! which reads every log, slow log and metric: the bound must hold for that check too). Peak RSS
//! is GNU time's `%M` (`/usr/bin/time`); CPU is its user + system seconds, which say more than
//! wall time when the machine is shared.

#[path = "measure.rs"]
mod measure;

use measure::load;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Args {
    sizes: Vec<f64>,
    forms: Vec<String>,
    work: PathBuf,
    runs: usize,
    bin: PathBuf,
    all_rules: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn args() -> Args {
    let mut args = Args {
        sizes: vec![0.1, 1.0, 4.0],
        forms: ["dir", "zip", "tar.gz", "tar.zst"]
            .map(String::from)
            .to_vec(),
        work: root().join("target/streaming-bench"),
        runs: 2,
        bin: root().join("target/release/diag-check"),
        all_rules: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match a.as_str() {
            "--sizes" => {
                args.sizes = value()
                    .split(',')
                    .filter_map(|s| s.trim().parse().ok())
                    .collect()
            }
            "--forms" => args.forms = value().split(',').map(String::from).collect(),
            "--work" => args.work = PathBuf::from(value()),
            "--runs" => args.runs = value().parse().unwrap_or(2),
            "--bin" => args.bin = PathBuf::from(value()),
            "--all-rules" => args.all_rules = true,
            // cargo bench passes --bench
            _ => {}
        }
    }
    args
}

/// One run of a command: wall seconds, peak RSS (KiB), user + system CPU seconds.
#[derive(Clone, Copy)]
struct Run {
    wall: f64,
    kib: u64,
    cpu: f64,
}

impl Run {
    const NONE: Run = Run {
        wall: f64::MAX,
        kib: 0,
        cpu: f64::MAX,
    };

    /// The best of two runs: the lower wall time, the lower CPU time, the higher peak.
    fn best(self, other: Run) -> Run {
        Run {
            wall: self.wall.min(other.wall),
            kib: self.kib.max(other.kib),
            cpu: self.cpu.min(other.cpu),
        }
    }
}

/// Runs one shell command, its output discarded.
fn measure(shell: &str) -> Run {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "@@%e %M %U %S", "sh", "-c", shell])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("/usr/bin/time: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "`{shell}` failed: {stderr}");
    let line = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("@@"))
        .unwrap_or_else(|| panic!("no timing in {stderr}"));
    let mut parts = line.split_whitespace();
    let mut next = || {
        parts
            .next()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let wall = next();
    let kib = next() as u64;
    let cpu = next() + next();
    Run { wall, kib, cpu }
}

fn run(shell: &str) {
    let status = Command::new("sh")
        .args(["-c", shell])
        .status()
        .unwrap_or_else(|e| panic!("{shell}: {e}"));
    assert!(status.success(), "`{shell}` failed");
}

fn copy_dir(from: &Path, to: &Path) {
    run(&format!(
        "mkdir -p '{}' && cp -r '{}/.' '{}'",
        to.display(),
        from.display(),
        to.display()
    ));
}

fn du(path: &Path) -> u64 {
    let out = Command::new("du")
        .args(["-sb"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("du: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args = args();
    assert!(
        args.bin.exists(),
        "{} not found: run `cargo build --release -p diag-check` first",
        args.bin.display()
    );
    println!(
        "| Logs | Form | Rules | Bundle on disk | Floor | Floor wall / CPU | check wall / CPU | check ÷ floor, wall / CPU | check peak RSS | floor peak RSS | load |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for &gb in &args.sizes {
        eprintln!("bundle with {gb} GB of logs …");
        let dir = args.work.join(format!("{gb}gb"));
        let name = "diag-fPrz0RnDxRn";
        let bundle = dir.join(name);
        if !bundle.join("cluster.json").exists() {
            let _ = std::fs::remove_dir_all(&dir);
            copy_dir(&root().join("fixtures").join(name), &bundle);
            diag_bundlegen::bulk::write_bulk_logs(&bundle, (gb * 1e9) as u64, 42)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let d = dir.display();
        for form in &args.forms {
            let (path, build, floor_name, floor) = match form.as_str() {
                "dir" => (
                    bundle.clone(),
                    String::new(),
                    "cat (every file)",
                    format!(
                        "find '{}' -type f -exec cat {{}} + > /dev/null",
                        bundle.display()
                    ),
                ),
                "zip" => (
                    dir.join("b.zip"),
                    format!("cd '{d}' && zip -q -r -1 b.zip {name}"),
                    "unzip -p",
                    format!("unzip -p '{d}/b.zip' > /dev/null"),
                ),
                "tar" => (
                    dir.join("b.tar"),
                    format!("cd '{d}' && tar -cf b.tar {name}"),
                    "cat",
                    format!("cat '{d}/b.tar' > /dev/null"),
                ),
                "tar.gz" => (
                    dir.join("b.tar.gz"),
                    format!("cd '{d}' && tar -cf - {name} | gzip -1 > b.tar.gz"),
                    "gzip -dc",
                    format!("gzip -dc '{d}/b.tar.gz' > /dev/null"),
                ),
                "tar.zst" => (
                    dir.join("b.tar.zst"),
                    format!("cd '{d}' && tar -cf - {name} | zstd -q -3 -T0 > b.tar.zst"),
                    "zstd -dc",
                    format!("zstd -dc '{d}/b.tar.zst' > /dev/null"),
                ),
                other => panic!("unknown form {other}"),
            };
            if !path.exists() {
                eprintln!("  writing {form} …");
                run(&build);
            }
            let out = dir.join("report");
            let check = |types: &str| {
                format!(
                    "rm -rf '{o}' && '{}' '{}' --output '{o}'{types}",
                    args.bin.display(),
                    path.display(),
                    o = out.display()
                )
            };
            let mut checks = vec![("default", check(""))];
            if args.all_rules {
                checks.push(("all", check(" --types all")));
            }
            // Warm the page cache, then interleave floor and check runs.
            measure(&floor);
            let mut rows = Vec::new();
            for (rules, check) in &checks {
                let at_start = load();
                let mut floor_best = Run::NONE;
                let mut check_best = Run::NONE;
                for _ in 0..args.runs.max(1) {
                    floor_best = floor_best.best(measure(&floor));
                    check_best = check_best.best(measure(check));
                }
                rows.push((
                    *rules,
                    floor_best,
                    check_best,
                    format!("{at_start} → {}", load()),
                ));
            }
            let _ = std::fs::remove_dir_all(&out);
            let on_disk = du(&path);
            if form != "dir" {
                // Disk is shared: one archive at a time.
                let _ = std::fs::remove_file(&path);
            }
            for (rules, floor, check, load) in rows {
                println!(
                    "| {gb} GB | {form} | {rules} | {:.2} GB | `{floor_name}` | {:.2} / {:.2} s | {:.2} / {:.2} s | {:.2} / {:.2} | {} MiB | {} MiB | {load} |",
                    on_disk as f64 / 1e9,
                    floor.wall,
                    floor.cpu,
                    check.wall,
                    check.cpu,
                    check.wall / floor.wall.max(0.01),
                    check.cpu / floor.cpu.max(0.01),
                    check.kib / 1024,
                    floor.kib / 1024,
                );
            }
        }
    }
}
