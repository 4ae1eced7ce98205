//! The bad-input corpus: every case under `fixtures/bad/` either loads with the warnings it
//! should, or fails with the one error it should. Nothing panics, nothing is lost, nothing is
//! written. Each case's outcome is a snapshot named after it.
//!
//! A case's name says what reads it (see `fixtures/README.md`): a bundle whose bad file only
//! rules read (`log-`, `dmesg-`, `slowlog-`, `metric-`, `alert-`, `insight-`, `limits-`,
//! `sysctl-`, `system-`, `store-`, `placement-`) is also checked with the rules that read that
//! source, and its snapshot shows their rows: a bad file costs its own rows, a healthy sibling
//! file in the same case still gives its rows. `waivers-*.yaml` is read as a waiver file,
//! `rules-*/` as a rule directory. Cases that need big data are built at run time (the
//! `generated` tests below); they assert their bounds by counting, never by timing.

use std::fmt::Write as _;
use std::path::Path;

use diag_core::Cluster;
use diag_core::bundle::Limits;
use diag_core::engine::{self, CheckOptions, CheckOutcome, RowState};
use diag_core::model::slowlog::PerformanceAccumulator;
use diag_core::model::{DataKind, InstanceConfig, LoadOptions, LogKind};
use diag_core::rules::{CheckKind, RuleSet};
use diag_core::testing::render_row;
use diag_core::waivers::WaiverSet;

/// The shipped rules, compiled once for the whole corpus.
fn builtin() -> &'static RuleSet {
    static RULES: std::sync::LazyLock<RuleSet> = std::sync::LazyLock::new(RuleSet::builtin);
    &RULES
}

/// Tight limits so the corpus can hold small bombs.
fn options() -> LoadOptions {
    LoadOptions::default().limits(limits())
}

fn limits() -> Limits {
    Limits::default()
        .with_max_entry_bytes(4 << 20)
        .with_max_total_bytes(16 << 20)
        .with_max_ratio(100)
        .with_max_entries(10_000)
        .with_max_read_bytes(4 << 20)
}

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bad")
}

/// What a case is read as, from its name.
enum Probe {
    /// Loaded only.
    Load,
    /// Loaded, then checked with these kinds, restricted to these rules.
    Check(Vec<CheckKind>, Vec<String>),
    /// A waiver file.
    Waivers,
    /// A rule directory.
    RuleDir,
}

fn probe(name: &str) -> Probe {
    let strs = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let prefix = name.split('-').next().unwrap_or_default();
    match prefix {
        "log" | "dmesg" => Probe::Check(
            vec![CheckKind::Log],
            strs(&[
                "fatal-log-line",
                "go-panic",
                "rust-panic",
                "kernel-oom-kill",
            ]),
        ),
        "slowlog" => Probe::Check(vec![CheckKind::Performance], Vec::new()),
        "metric" => Probe::Check(
            vec![CheckKind::Metric],
            strs(&["tikv-store-space", "tidb-heap-memory"]),
        ),
        "alert" => Probe::Check(
            vec![CheckKind::Metric],
            builtin()
                .rules()
                .iter()
                .filter(|r| r.meta.name.starts_with("alert-"))
                .map(|r| r.meta.name.clone())
                .collect(),
        ),
        "insight" | "limits" | "sysctl" | "system" => Probe::Check(
            vec![CheckKind::System],
            strs(&[
                "host-sizing",
                "swap-enabled",
                "time-offset",
                "os-version",
                "limits-nofile-soft",
                "sysctl-vm-swappiness",
            ]),
        ),
        "store" | "placement" => Probe::Check(
            vec![CheckKind::Topology],
            strs(&[
                "store-down",
                "store-offline",
                "store-tombstone",
                "store-low-space",
                "store-region-skew",
                "max-replicas-vs-stores",
                "placement-unsatisfiable",
            ]),
        ),
        "waivers" => Probe::Waivers,
        "rules" => Probe::RuleDir,
        _ => Probe::Load,
    }
}

/// Paths as the snapshot shows them: the corpus as `fixtures/bad`, a temporary directory as
/// `<tmp>`.
fn tidy(text: &str, tmp: Option<&Path>) -> String {
    let mut text = text.replace(&corpus().display().to_string(), "fixtures/bad");
    if let Some(t) = tmp {
        text = text.replace(&t.display().to_string(), "<tmp>");
    }
    text
}

/// The outcome of the case at `path`, read as its name says.
fn outcome(name: &str, path: &Path, tmp: Option<&Path>) -> String {
    let text = match probe(name) {
        Probe::Load => load_outcome(path, None, true).0,
        Probe::Check(kinds, only) => {
            let (mut out, cluster) = load_outcome(path, None, true);
            if let Some(cluster) = cluster {
                out.push_str(&check_outcome(&cluster, kinds, only));
            }
            out
        }
        Probe::Waivers => waivers_outcome(path),
        Probe::RuleDir => rule_dir_outcome(path),
    };
    tidy(&text, tmp)
}

/// Renders what loading a bundle gives: the hard error, or the model summary, the warnings,
/// and the errors of every lazily parsed file.
fn load_outcome(path: &Path, load: Option<&LoadOptions>, lazy: bool) -> (String, Option<Cluster>) {
    let mut out = String::new();
    let cluster = match Cluster::open_with(path, load.unwrap_or(&options())) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "error ({}): {e}", e.kind());
            return (out, None);
        }
    };
    let _ = writeln!(
        out,
        "loaded: cluster `{}` version {} layout {:?}",
        cluster.name, cluster.version.text, cluster.layout
    );
    for inst in &cluster.instances {
        let state = match &inst.config {
            InstanceConfig::Loaded(_) => "config loaded",
            InstanceConfig::Absent { .. } => "no config",
            InstanceConfig::Invalid { .. } => "config invalid",
            _ => "config not read",
        };
        let _ = writeln!(out, "  {} [{}] {state}", inst.tag(), inst.dir);
    }
    let _ = writeln!(out, "warnings: {}", cluster.warnings.len());
    for w in &cluster.warnings {
        let _ = writeln!(out, "  ({}) {w}", w.kind());
    }
    let files = cluster
        .instances
        .iter()
        .flat_map(|i| &i.files)
        .chain(cluster.hosts.values().flatten())
        .chain(&cluster.files);
    let mut errors = Vec::new();
    for f in files.filter(|_| lazy) {
        if let Err(e) = f.tree() {
            errors.push(format!("  ({}) {e}", e.kind()));
        }
    }
    errors.sort();
    if !errors.is_empty() {
        let _ = writeln!(out, "lazy parse errors: {}", errors.len());
        for l in errors {
            let _ = writeln!(out, "{l}");
        }
    }
    (out, Some(cluster))
}

/// The check of `kinds` (restricted to `only`) over `cluster`, rendered; for the performance
/// rules, first what each slow log gave on its own.
fn check_outcome(cluster: &Cluster, kinds: Vec<CheckKind>, only: Vec<String>) -> String {
    let mut out = String::new();
    if kinds.contains(&CheckKind::Performance) {
        for f in cluster
            .instances
            .iter()
            .flat_map(|i| i.files_of(DataKind::Log(LogKind::Slow)))
        {
            let mut acc = PerformanceAccumulator::new(None);
            match f.reader() {
                Ok(r) => acc.read(&f.path, std::io::BufReader::new(r)),
                Err(e) => acc.feed_problem(e.to_string()),
            }
            let p = acc.finish();
            let _ = writeln!(out, "slow log {}: {} entries", f.path, p.entries);
            for problem in &p.problems {
                let _ = writeln!(out, "  problem: {problem}");
            }
        }
    }
    let options = CheckOptions {
        kinds,
        only,
        ..CheckOptions::default()
    };
    out.push_str(&render_outcome(&engine::check(
        cluster,
        builtin(),
        &options,
    )));
    out
}

/// Every row of every finding, as the report prints it, with where an abnormal row's first
/// piece of evidence was read.
fn render_outcome(outcome: &CheckOutcome) -> String {
    let mut out = format!("checked: {} rules\n", outcome.findings.len());
    for f in &outcome.findings {
        let _ = writeln!(out, "rule {} {}", f.rule.id, f.rule.name);
        for row in &f.rows {
            let _ = writeln!(out, "  {}", render_row(row));
            if matches!(row.state, RowState::Abnormal(_))
                && let Some(e) = row.evidence.first()
            {
                let _ = writeln!(out, "    @ {}:{}", e.file, e.line);
            }
        }
    }
    out
}

/// A waiver file: its error, or its waivers applied to the seed bundle's config check.
fn waivers_outcome(path: &Path) -> String {
    let set = match WaiverSet::load(path) {
        Ok(s) => s,
        Err(e) => return format!("error: {e}\n"),
    };
    let mut out = format!("waivers: {}\n", set.waivers().len());
    for w in set.waivers() {
        let _ = writeln!(out, "  {}", w.describe());
    }
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/diag-fPrz0RnDxRn");
    let cluster = match Cluster::open(&seed) {
        Ok(c) => c,
        Err(e) => return format!("{out}the seed bundle: {e}\n"),
    };
    let mut outcome = engine::check(&cluster, builtin(), &CheckOptions::default());
    let report = set.apply(&mut outcome, jiff::civil::date(2026, 1, 1));
    for n in report.notices() {
        let _ = writeln!(out, "notice: {n}");
    }
    for f in &outcome.findings {
        for r in f
            .rows
            .iter()
            .filter(|r| matches!(r.state, RowState::Waived(_)))
        {
            let _ = writeln!(out, "waived: {} {}", f.rule.name, r.tag);
        }
    }
    out
}

/// A rule directory: its load errors, or its rules run over the minimal bundle.
fn rule_dir_outcome(path: &Path) -> String {
    let rules = match RuleSet::load_dir(path) {
        Ok(r) => r,
        Err(e) => return format!("rule load errors:\n{e}\n"),
    };
    let mut out = format!("rules: {}\n", rules.rules().len());
    let minimal = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/minimal");
    let cluster = match Cluster::open(&minimal) {
        Ok(c) => c,
        Err(e) => return format!("{out}the minimal bundle: {e}\n"),
    };
    let options = CheckOptions {
        kinds: CheckKind::ALL.to_vec(),
        ..CheckOptions::default()
    };
    out.push_str(&render_outcome(&engine::check(&cluster, &rules, &options)));
    out
}

#[test]
fn every_bad_input_gives_its_expected_outcome() {
    let mut names: Vec<String> = std::fs::read_dir(corpus())
        .unwrap_or_else(|e| panic!("fixtures/bad: {e}"))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    assert!(
        names.len() + generated::CASES >= 100,
        "the corpus must hold at least 100 cases, found {} and {} generated",
        names.len(),
        generated::CASES
    );
    let before = tree_listing(&corpus());
    for name in &names {
        insta::assert_snapshot!(name.as_str(), outcome(name, &corpus().join(name), None));
    }
    assert_eq!(
        before,
        tree_listing(&corpus()),
        "loading wrote into the corpus"
    );
}

fn tree_listing(root: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = walkdir(root);
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p));
            } else {
                out.push((
                    p.display().to_string(),
                    e.metadata().map(|m| m.len()).unwrap_or(0),
                ));
            }
        }
    }
    out
}

/// Cases too big to commit, built into a temporary directory at run time from the minimal (or
/// slowlog) bundle. Each snapshot is named `generated-<case>`; sizes are asserted by counting.
mod generated {
    use std::io::Write as _;
    use std::path::{Path, PathBuf};

    use diag_core::Cluster;
    use diag_core::model::metrics::MetricData;
    use diag_core::model::{DataKind, LoadOptions};
    use diag_core::rules::CheckKind;

    use super::{check_outcome, limits, load_outcome, options, tidy};

    /// How many generated cases there are (the corpus count includes them).
    pub const CASES: usize = 9;

    const PD_LOG: &str = "127.0.0.1/tidb-deploy/pd-2379/log/pd.log";
    const TIDB_LOG: &str = "127.0.0.1/tidb-deploy/tidb-4000/log/tidb.log";
    const HEALTHY_PD: &str = "[2023/01/10 11:00:00.000 +08:00] [FATAL] [server.go:2] [\"run server failed\"] [error=\"bind: address already in use\"]\n";
    const METRICS: &str = "monitor/metrics/127.0.0.1_9090";
    const SPAN: &str = "-2023-01-10T10:00:00+08:00-2023-01-10T12:00:00+08:00.json";
    /// 2023-01-10T10:00:00+08:00, the minimal bundle's window start.
    const BEGIN: u64 = 1_673_316_000;

    fn log_rules() -> (Vec<CheckKind>, Vec<String>) {
        match super::probe("log-") {
            super::Probe::Check(kinds, only) => (kinds, only),
            _ => (Vec::new(), Vec::new()),
        }
    }

    /// A copy of a committed bundle in a fresh temporary directory.
    fn copy_of(base: &str) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures")
            .join(base);
        let to = tmp.path().join("bundle");
        copy_dir(&from, &to);
        (tmp, to)
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
        for e in std::fs::read_dir(from)
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
        {
            let target = to.join(e.file_name());
            if e.path().is_dir() {
                copy_dir(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }

    fn create(bundle: &Path, rel: &str) -> std::io::BufWriter<std::fs::File> {
        let path = bundle.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        }
        std::io::BufWriter::new(std::fs::File::create(path).unwrap_or_else(|e| panic!("{e}")))
    }

    fn write(bundle: &Path, rel: &str, data: &[u8]) {
        create(bundle, rel)
            .write_all(data)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Loads `bundle` (no lazy parse of every file: some are too big to parse twice) and checks
    /// it with `rules`.
    fn run(
        bundle: &Path,
        tmp: &Path,
        load: &LoadOptions,
        rules: Option<(Vec<CheckKind>, Vec<String>)>,
    ) -> String {
        let (mut out, cluster) = load_outcome(bundle, Some(load), false);
        if let (Some(cluster), Some((kinds, only))) = (cluster, rules) {
            out.push_str(&check_outcome(&cluster, kinds, only));
        }
        tidy(&out, Some(tmp))
    }

    #[test]
    fn a_300_mb_log_line_without_newline_is_cut_and_costs_only_its_file() {
        let (tmp, bundle) = copy_of("minimal");
        write(&bundle, PD_LOG, HEALTHY_PD.as_bytes());
        let mut log = create(&bundle, TIDB_LOG);
        let chunk = vec![b'x'; 1 << 20];
        let _ =
            log.write_all(b"[2023/01/10 11:00:00.000 +08:00] [FATAL] [x.go:1] [\"critical error ");
        for _ in 0..300 {
            log.write_all(&chunk).unwrap_or_else(|e| panic!("{e}"));
        }
        drop(log);
        let out = run(
            &bundle,
            tmp.path(),
            &LoadOptions::default(),
            Some(log_rules()),
        );
        assert!(
            out.contains("longer than 1048576 bytes, cut there"),
            "{out}"
        );
        insta::assert_snapshot!("log-300-mb-line", out);
    }

    #[test]
    fn a_log_with_50_000_matches_keeps_a_count_and_five_examples() {
        let (tmp, bundle) = copy_of("minimal");
        write(&bundle, PD_LOG, HEALTHY_PD.as_bytes());
        let mut log = create(&bundle, TIDB_LOG);
        for i in 0..50_000u32 {
            let (m, s) = (i / 60 % 60, i % 60);
            let _ = writeln!(
                log,
                "[2023/01/10 11:{m:02}:{s:02}.000 +08:00] [FATAL] [x.go:1] [\"critical error\"] [n={i}]"
            );
        }
        drop(log);
        let cluster = Cluster::open(&bundle).unwrap_or_else(|e| panic!("{e}"));
        let (kinds, only) = log_rules();
        let check = diag_core::engine::CheckOptions {
            kinds,
            only,
            ..Default::default()
        };
        let outcome = diag_core::engine::check(&cluster, super::builtin(), &check);
        let row = outcome
            .findings
            .iter()
            .flat_map(|f| f.rows.iter().map(move |r| r.key(&f.rule)).zip(&f.rows))
            .find(|(key, _)| key.contains("fatal-log-line/TidbConfig"))
            .map(|(_, row)| row)
            .unwrap_or_else(|| panic!("no TiDB fatal-log-line row"));
        let aggregate = row
            .aggregate
            .as_ref()
            .unwrap_or_else(|| panic!("no aggregate"));
        assert_eq!(aggregate.count, 50_000);
        assert_eq!(
            aggregate.examples.len(),
            diag_core::engine::Aggregate::MAX_EXAMPLES
        );
        assert_eq!(
            row.evidence.len(),
            diag_core::engine::Aggregate::MAX_EXAMPLES
        );
        let out = tidy(&super::render_outcome(&outcome), Some(tmp.path()));
        insta::assert_snapshot!("log-50k-matches", out);
    }

    /// `[[t, "v"], …]` of `n` samples a second apart from the window's start.
    fn samples(n: usize, value: &str) -> String {
        let mut out = String::with_capacity(n * 24);
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!("[{},\"{value}\"]", BEGIN + i as u64));
        }
        out
    }

    #[test]
    fn a_million_metric_samples_decode_and_check() {
        let (tmp, bundle) = copy_of("minimal");
        let series = |kind: &str, value: &str| {
            format!(
                "{{\"metric\":{{\"__name__\":\"tikv_store_size_bytes\",\"instance\":\"127.0.0.1:20180\",\"job\":\"tikv\",\"type\":\"{kind}\"}},\"values\":[{}]}}",
                samples(500_000, value)
            )
        };
        let body = format!(
            "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{},{}]}}}}",
            series("available", "5"),
            series("capacity", "100")
        );
        write(
            &bundle,
            &format!("{METRICS}/tikv_store_size_bytes{SPAN}"),
            body.as_bytes(),
        );
        let cluster = Cluster::open(&bundle).unwrap_or_else(|e| panic!("{e}"));
        let data = MetricData::load("tikv_store_size_bytes", cluster.files_of(DataKind::Metric));
        let total: usize = data.series.iter().map(|s| s.samples.len()).sum();
        assert_eq!(total, 1_000_000);
        let rules = (
            vec![CheckKind::Metric],
            vec!["tikv-store-space".to_string()],
        );
        let out = run(&bundle, tmp.path(), &LoadOptions::default(), Some(rules));
        insta::assert_snapshot!("metric-million-samples", out);
    }

    #[test]
    fn many_tiny_files_load_below_the_entry_cap_and_trip_it_above() {
        let (tmp, bundle) = copy_of("minimal");
        let load = LoadOptions::default().limits(limits().with_max_entries(3_000));
        for i in 0..2_996 {
            write(
                &bundle,
                &format!("127.0.0.1/junk/{:02}/{i}.txt", i % 60),
                b"x",
            );
        }
        let below = run(&bundle, tmp.path(), &load, None);
        write(&bundle, "127.0.0.1/junk/one-too-many.txt", b"x");
        let above = run(&bundle, tmp.path(), &load, None);
        assert!(above.contains("max_entries"), "{above}");
        insta::assert_snapshot!(
            "many-tiny-files",
            format!("3,000 files, max_entries 3,000:\n{below}\n3,001 files:\n{above}")
        );
    }

    #[test]
    fn a_tar_gz_of_20_000_entries_trips_the_entry_cap_by_name() {
        let (tmp, bundle) = copy_of("minimal");
        let archive = tmp.path().join("many.tar.gz");
        let file = std::fs::File::create(&archive).unwrap_or_else(|e| panic!("{e}"));
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        tar.append_dir_all("diag-many", &bundle)
            .unwrap_or_else(|e| panic!("{e}"));
        for i in 0..20_000 {
            let mut header = tar::Header::new_gnu();
            header.set_size(0);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, format!("diag-many/junk/{i}"), &b""[..])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        tar.into_inner()
            .and_then(|gz| gz.finish())
            .unwrap_or_else(|e| panic!("{e}"));
        let out = run(&archive, tmp.path(), &options(), None);
        assert!(out.contains("max_entries"), "{out}");
        insta::assert_snapshot!("tar-gz-20000-entries", out);
    }

    #[test]
    fn a_200_000_key_insight_object_is_read_in_linear_time() {
        let (tmp, bundle) = copy_of("minimal");
        let mut f = create(&bundle, "127.0.0.1/insight.json");
        let _ = f.write_all(b"{\"sysinfo\":{\"os\":{\"vendor\":\"rocky\",\"version\":\"9.3\"},\"memory\":{\"size\":131072,\"swap\":0},\"cpu\":{\"threads\":48}}");
        for i in 0..200_000 {
            let _ = write!(f, ",\"k{i}\":{i}");
        }
        let _ = f.write_all(b"}\n");
        drop(f);
        let rules = match super::probe("insight-") {
            super::Probe::Check(kinds, only) => (kinds, only),
            _ => (Vec::new(), Vec::new()),
        };
        let out = run(&bundle, tmp.path(), &options(), Some(rules));
        insta::assert_snapshot!("insight-200k-keys", out);
    }

    #[test]
    fn alerts_nested_a_million_levels_deep_are_refused_at_the_depth_limit() {
        let (tmp, bundle) = copy_of("minimal");
        let deep = "[".repeat(1_000_000);
        write(
            &bundle,
            "monitor/alerts/127.0.0.1_9090/alerts.json",
            deep.as_bytes(),
        );
        let rules = (vec![CheckKind::Metric], vec!["alert-tidb".to_string()]);
        let out = run(&bundle, tmp.path(), &options(), Some(rules));
        insta::assert_snapshot!("alerts-million-deep", out);
    }

    const ROTATED_SLOW_LOG: &str =
        "127.0.0.1/tidb-deploy/tidb-4000/log/tidb_slow_query-2023-01-10T11-30-00.000.log";

    /// One slow query in the window that the old-version rule counts.
    fn slow_entry(out: &mut impl std::io::Write, i: u32) {
        let _ = write!(
            out,
            "# Time: 2023-01-10T11:{:02}:{:02}.000000+08:00\n# Query_time: 1.5\n# Process_time: 1.5 Process_keys: 20000 Total_keys: 90000 Rocksdb_delete_skipped_count: 20000\n# Digest: d{}\n# Plan_digest: p1\nselect * from t where id = {i};\n",
            i / 60 % 60,
            i % 60,
            i % 3
        );
    }

    #[test]
    fn slow_logs_past_max_read_bytes_are_streamed_not_refused() {
        // Read whole, a slow log over `max_read_bytes` (4 MiB here, 256 MiB by default) was
        // refused and its queries lost; streamed, it counts like any other.
        let (tmp, bundle) = copy_of("slowlog");
        let mut f = create(&bundle, ROTATED_SLOW_LOG);
        for i in 0..6_000 {
            slow_entry(&mut f, i);
        }
        drop(f);
        let load = LoadOptions::default().limits(limits().with_max_read_bytes(1 << 20));
        let size = std::fs::metadata(bundle.join(ROTATED_SLOW_LOG))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(size > 1 << 20, "{size}");
        let out = run(
            &bundle,
            tmp.path(),
            &load,
            Some((vec![CheckKind::Performance], Vec::new())),
        );
        assert!(out.contains("6000 entries"), "{out}");
        insta::assert_snapshot!("slowlog-past-max-read-bytes", out);
    }

    #[test]
    fn a_64_mb_slow_log_line_is_cut_at_the_line_limit() {
        let (tmp, bundle) = copy_of("slowlog");
        let mut f = create(&bundle, ROTATED_SLOW_LOG);
        slow_entry(&mut f, 1);
        let _ = f.write_all(b"# Time: 2023-01-10T11:30:00.000000+08:00\n# Digest: huge\nselect '");
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            f.write_all(&chunk).unwrap_or_else(|e| panic!("{e}"));
        }
        let _ = f.write_all(b"';\n");
        slow_entry(&mut f, 2);
        drop(f);
        let out = run(
            &bundle,
            tmp.path(),
            &LoadOptions::default(),
            Some((vec![CheckKind::Performance], Vec::new())),
        );
        assert!(
            out.contains("longer than 1048576 bytes, cut there (1 cut)"),
            "{out}"
        );
        insta::assert_snapshot!("slowlog-64-mb-line", out);
    }
}

/// One test per bug the corpus found, named after it, asserting the fixed behaviour directly
/// (the snapshots above show it too).
mod regressions {
    use diag_core::Cluster;
    use diag_core::engine::{self, CheckOptions, Row, RowState};
    use diag_core::rules::CheckKind;

    use super::{builtin, corpus, options};

    fn open(name: &str) -> Cluster {
        Cluster::open_with(&corpus().join(name), &options())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn rows(cluster: &Cluster, kinds: Vec<CheckKind>, rule: &str) -> Vec<Row> {
        let check = CheckOptions {
            kinds,
            only: vec![rule.to_string()],
            ..CheckOptions::default()
        };
        engine::check(cluster, builtin(), &check)
            .findings
            .into_iter()
            .flat_map(|f| f.rows)
            .collect()
    }

    #[test]
    fn a_tar_gz_cut_inside_an_entry_keeps_the_entries_before_it() {
        // Was: the whole bundle refused ("unreadable tar.gz archive: …: incomplete deflate
        // stream") for an archive cut in its last log.
        let cluster = open("log-in-tar-gz-cut-mid-entry.tar.gz");
        assert_eq!(cluster.instances.len(), 3);
        assert!(
            cluster
                .warnings
                .iter()
                .any(|w| w.to_string().contains("ends early, in or after entry")),
            "{:?}",
            cluster.warnings
        );
        let rows = rows(&cluster, vec![CheckKind::Log], "fatal-log-line");
        let pd = rows
            .iter()
            .find(|r| r.tag.starts_with("PdConfig"))
            .map(|r| r.state);
        assert!(matches!(pd, Some(RowState::Abnormal(_))), "{rows:?}");
        let tidb = rows.iter().find(|r| r.tag.starts_with("TidbConfig"));
        let note = tidb.and_then(|r| r.message.as_deref()).unwrap_or_default();
        assert!(note.contains("archive ends inside this entry"), "{note}");
    }

    #[test]
    fn unknown_store_states_are_nodata_not_ok() {
        // Was: `state_name: Exploded` (or none at all) read as a store that is fine, and as Up
        // when counting Up stores.
        let cluster = open("store-unknown-states");
        let rows = rows(&cluster, vec![CheckKind::Topology], "store-down");
        let states: Vec<(&str, RowState)> = rows.iter().map(|r| (&*r.tag, r.state)).collect();
        assert_eq!(states[0], ("Store_1", RowState::NoData));
        assert_eq!(states[1], ("Store_2", RowState::NoData));
        assert!(
            matches!(states[2], ("Store_3", RowState::Abnormal(_))),
            "`down` is Down"
        );
        let replicas = super::topology_states(&cluster, "max-replicas-vs-stores");
        assert_eq!(replicas, vec![RowState::NoData]);
    }

    #[test]
    fn a_store_list_that_is_not_a_list_is_nodata_not_zero_up_stores() {
        // Was: no rows at all for the store rules, and "only 0 TiKV store(s) are Up" (critical).
        let cluster = open("store-stores-not-a-list");
        let down = rows(&cluster, vec![CheckKind::Topology], "store-down");
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].state, RowState::NoData);
        assert!(
            down[0]
                .message
                .as_deref()
                .unwrap_or_default()
                .contains("`stores` is not a list")
        );
        assert_eq!(
            super::topology_states(&cluster, "max-replicas-vs-stores"),
            vec![RowState::NoData]
        );
    }

    #[test]
    fn an_insight_json_that_is_not_an_object_is_nodata_not_an_unsupported_os() {
        // Was: `[1, 2, 3]` gave "OS vendor  not supported" (warning) and a time source of none.
        for case in ["insight-not-an-object", "insight-nulls-everywhere"] {
            let cluster = open(case);
            for rule in ["os-version", "time-offset"] {
                let rows = rows(&cluster, vec![CheckKind::System], rule);
                let host2 = rows
                    .iter()
                    .find(|r| &*r.tag == "Host_10.0.1.2")
                    .map(|r| r.state);
                assert_eq!(host2, Some(RowState::NoData), "{case} {rule}: {rows:?}");
                let host1 = rows
                    .iter()
                    .find(|r| &*r.tag == "Host_10.0.1.1")
                    .map(|r| r.state);
                assert_eq!(host1, Some(RowState::Ok), "{case} {rule}: the healthy host");
            }
        }
    }

    #[test]
    fn read_errors_name_the_file_once() {
        // Was: `<file>: read failed: <file>: incomplete deflate stream`.
        let cluster = open("log-truncated-gzip");
        let rows = rows(&cluster, vec![CheckKind::Log], "fatal-log-line");
        for r in &rows {
            let m = r.message.as_deref().unwrap_or_default();
            let file = "tidb-2023-01-10T11-30-00.000.log.gz";
            assert!(m.matches(file).count() <= 1, "{m}");
        }
        for f in cluster.instances.iter().flat_map(|i| &i.files) {
            if let Err(e) = f.tree() {
                assert_eq!(e.to_string().matches(f.path.as_str()).count(), 1, "{e}");
            }
        }
    }

    #[test]
    fn a_binary_log_is_noted_even_when_nothing_in_it_matched() {
        // Was: a TiKV log of random bytes gave a plain OK, as if it had been read as a log.
        let cluster = open("log-binary-garbage");
        let rows = rows(&cluster, vec![CheckKind::Log], "rust-panic");
        let m = rows
            .first()
            .and_then(|r| r.message.as_deref())
            .unwrap_or_default();
        assert!(
            m.contains("tikv.log: line 4: NUL bytes (binary data; 7 lines)"),
            "{m}"
        );
    }

    #[test]
    fn a_bad_file_of_a_ratio_metric_is_one_row_not_two() {
        // Was: available/capacity read the same file twice and gave its error row twice.
        let cluster = open("metric-html-error-page");
        let rows = rows(&cluster, vec![CheckKind::Metric], "tikv-store-space");
        let file_rows = rows.iter().filter(|r| r.tag.starts_with("file=")).count();
        assert_eq!(file_rows, 1, "{rows:?}");
    }

    #[test]
    fn a_truncated_zstd_file_says_it_is_cut_short() {
        // Was: `Failed to parse block header: BlockContentReadError(Error { kind: UnexpectedEof, … })`.
        let cluster = open("metric-zstd-truncated");
        let rows = rows(&cluster, vec![CheckKind::Metric], "tikv-store-space");
        let row = rows
            .iter()
            .find(|r| r.tag.starts_with("file=monitor/metrics/"));
        let m = row.and_then(|r| r.message.as_deref()).unwrap_or_default();
        assert!(
            m.ends_with("zstd data ends inside a frame (the file is cut short)"),
            "{m}"
        );
    }

    #[test]
    fn yaml_nested_50_000_levels_deep_is_refused_before_serde_yaml() {
        // Was: about a minute in serde_yaml's scanner before "recursion limit exceeded".
        let err = diag_core::waivers::WaiverSet::load(&corpus().join("waivers-deep-nesting.yaml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("nested deeper than 128 levels"), "{err}");
        let rules = diag_core::rules::RuleSet::load_dir(&corpus().join("rules-deep-condition"));
        let err = rules.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains("a.yaml:9: nested deeper than 128 levels"),
            "{err}"
        );
    }
}

/// The states of a cluster-wide topology rule's rows.
fn topology_states(cluster: &Cluster, rule: &str) -> Vec<RowState> {
    let check = CheckOptions {
        kinds: vec![CheckKind::Topology],
        only: vec![rule.to_string()],
        ..CheckOptions::default()
    };
    engine::check(cluster, builtin(), &check)
        .findings
        .iter()
        .flat_map(|f| f.rows.iter().map(|r| r.state))
        .collect()
}
