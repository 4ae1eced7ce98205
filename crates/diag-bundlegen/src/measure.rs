//! The stages the benchmarks time, as plain functions, so the criterion benches, the end-to-end
//! comparison and the `measure` child process (for peak memory) run the same code.

use std::path::Path;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use diag_core::Cluster;
use diag_core::bundle::{Limits, ReadPlan, open_source};
use diag_core::engine::{CheckOptions, check};
use diag_core::rules::RuleSet;

/// One stage of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Nothing: the process's own footprint.
    Baseline,
    /// `Cluster::open`: index, read and parse every runtime config.
    Load,
    /// The floor: read every `conf/config.json` and `serde_json::from_slice` it into a `Value`.
    SerdeFloor,
    /// What `diag-check` does: load, then run the shipped config rules.
    Check,
}

impl Stage {
    /// Parses `baseline`, `load`, `serde`.
    pub fn parse(text: &str) -> Option<Stage> {
        match text {
            "baseline" => Some(Stage::Baseline),
            "load" => Some(Stage::Load),
            "serde" => Some(Stage::SerdeFloor),
            "check" => Some(Stage::Check),
            _ => None,
        }
    }
}

/// What a stage produced, kept small so callers can print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageResult {
    /// Wall time of the stage.
    pub elapsed: Duration,
    /// Runtime configs parsed.
    pub configs: usize,
    /// Their bytes.
    pub config_bytes: u64,
}

/// Runs a stage once.
pub fn run(stage: Stage, bundle: &Path) -> anyhow::Result<StageResult> {
    let start = Instant::now();
    let (configs, config_bytes) = match stage {
        Stage::Baseline => (0, 0),
        Stage::Load => {
            let cluster = Cluster::open(bundle)?;
            let configs = cluster
                .instances
                .iter()
                .filter(|i| i.config.tree().is_some())
                .count();
            let bytes = config_bytes(&cluster);
            std::hint::black_box(&cluster);
            (configs, bytes)
        }
        Stage::SerdeFloor => serde_floor(bundle)?,
        Stage::Check => {
            let cluster = Cluster::open(bundle)?;
            let outcome = check(&cluster, &RuleSet::builtin(), &CheckOptions::default());
            std::hint::black_box(&outcome);
            (
                cluster
                    .instances
                    .iter()
                    .filter(|i| i.config.tree().is_some())
                    .count(),
                config_bytes(&cluster),
            )
        }
    };
    Ok(StageResult {
        elapsed: start.elapsed(),
        configs,
        config_bytes,
    })
}

/// Total size of the runtime configs a loaded cluster parsed.
pub fn config_bytes(cluster: &Cluster) -> u64 {
    let entries = cluster.source.index();
    cluster
        .instances
        .iter()
        .filter(|i| i.config.tree().is_some())
        .filter_map(|i| entries.get(i.config.file()))
        .map(|e| e.size)
        .sum()
}

/// Reads and parses every `conf/config.json` with serde_json, in parallel as the loader does,
/// keeping the values alive until all are parsed (the memory a plain approach would hold).
pub fn serde_floor(bundle: &Path) -> anyhow::Result<(usize, u64)> {
    let opened = open_source(bundle, &Limits::default(), &ReadPlan::everything())?;
    let source = opened.source;
    let files: Vec<&String> = source
        .index()
        .keys()
        .filter(|p| p.ends_with("/conf/config.json"))
        .collect();
    let parsed: Vec<(serde_json::Value, u64)> = files
        .par_iter()
        .map(|path| {
            let bytes = source.read(path)?;
            let len = bytes.len() as u64;
            Ok((serde_json::from_slice::<serde_json::Value>(&bytes)?, len))
        })
        .collect::<anyhow::Result<_>>()?;
    let bytes = parsed.iter().map(|(_, len)| len).sum();
    std::hint::black_box(&parsed);
    Ok((parsed.len(), bytes))
}

/// The process's peak resident set (`VmHWM`), in bytes; `None` off Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// One rule written twice, as a declarative condition and as a Rhai expression, for timing the
/// two forms on the same rows.
#[derive(Debug)]
pub struct RulePair {
    /// What the rule checks.
    pub label: &'static str,
    /// The rule's name in both sets (`--only`).
    pub name: &'static str,
    /// The declarative form.
    pub declarative: RuleSet,
    /// The Rhai form.
    pub rhai: RuleSet,
}

const PAIRS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "TiKV log.level in [debug, trace]",
        "TikvConfig",
        "log.level",
        "path: log.level\n  in: [debug, trace]",
        r#"rhai: 'let l = cfg.text("log.level"); l == "debug" || l == "trace"'"#,
    ),
    (
        "TiDB log.file.max-days < 1",
        "TidbConfig",
        "log.file.max-days",
        "path: log.file.max-days\n  lt: 1",
        r#"rhai: 'cfg.int("log.file.max-days") < 1'"#,
    ),
    (
        "PD replica- > region-schedule-limit",
        "PdConfig",
        "schedule.replica-schedule-limit",
        "path: schedule.replica-schedule-limit\n  gt: {path: schedule.region-schedule-limit}",
        r#"rhai: 'cfg.int("schedule.replica-schedule-limit") > cfg.int("schedule.region-schedule-limit")'"#,
    ),
];

/// The rules the benches time in both forms.
pub fn rule_pairs() -> anyhow::Result<Vec<RulePair>> {
    PAIRS
        .iter()
        .map(|&(label, component, path, declarative, rhai)| {
            let file = |condition: &str| {
                format!(
                    "id: 9000\nname: bench-rule\nkind: config\ncomponent: {component}\nvariation: {component}.{path}\nseverity: info\nversion: \"\"\nlink: https://example.invalid/bench\ndescription: Benchmark rule.\nsuggestion: None.\nabnormal_when:\n  {condition}\n"
                )
            };
            let set = |condition: &str| RuleSet::from_files(vec![("bench-rule.yaml".into(), file(condition))], "bench").map_err(|e| anyhow::anyhow!("{e:?}"));
            Ok(RulePair { label, name: "bench-rule", declarative: set(declarative)?, rhai: set(rhai)? })
        })
        .collect()
}

/// Options that run only the paired benchmark rule.
pub fn only_bench_rule() -> CheckOptions {
    CheckOptions {
        only: vec!["bench-rule".into()],
        ..CheckOptions::default()
    }
}
