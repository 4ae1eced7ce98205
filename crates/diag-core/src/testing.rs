//! Test cases for rules, the way rule authors write them: small overlays on a base bundle,
//! run through the real engine, rendered as text for snapshots.
//!
//! Next to each rule file `x.yaml` lives `x.cases.yaml`:
//!
//! ```yaml
//! base: minimal                  # a bundle: path relative to this file, a name under some
//!                                # ancestor's `fixtures/` directory, or a base shipped with
//!                                # the library ([`builtin_bases`]: minimal, diag-fPrz0RnDxRn,
//!                                # diag-lili-fNTnz5MGhr6, slowlog)
//! cases:
//!   - name: max-days 0 keeps logs forever
//!     expect: abnormal           # abnormal | ok | nodata | error | not_selected
//!     overlay:
//!       - component: TidbConfig  # which instances: a component…
//!         instance: 0            # …and optionally its n-th instance (0-based, bundle order)
//!         set: {log.file.max-days: 0}
//!         unset: [log.file.max-backups]
//!   - name: on v5.0.0 with TiFlash
//!     expect: abnormal
//!     version: v5.0.0            # the cluster version rules are selected by
//!     add:                       # extra instances (no config unless `config` is given)
//!       - {component: TiflashConfig, host: 127.0.0.1, port: 3930}
//!   - name: a log rule's case
//!     expect: abnormal
//!     window: {begin: "2023-01-10T10:00:00+08:00", end: "-"}   # the sample window ("-": unknown)
//!     logs:                      # log files given to instances (or hosts, for dmesg)
//!       - component: TikvConfig  # or `host: 127.0.0.1` with `file: dmesg.log`
//!         instance: 0
//!         file: tikv.log         # its name decides its kind (tikv_stderr.log, …)
//!         container: false       # true: an Operator container log, `logs/<pod>/<file>`
//!         text: |
//!           [2023/01/10 11:00:00.000 +08:00] [FATAL] [server.rs:1] ["…"]
//! ```
//!
//! The base bundle is loaded fresh for every case and changed in memory only; fixture folders
//! are never written. [`run_dir`] runs every rule of a directory against its cases;
//! [`RuleCases::snapshot`] renders the rows like the report does, for `insta`:
//!
//! ```
//! let results = diag_core::testing::run_dir("../../rules".as_ref()).unwrap();
//! for rule in &results {
//!     assert!(rule.problems.is_empty(), "{}: {:?}", rule.snapshot_name, rule.problems);
//!     // insta::assert_snapshot!(rule.snapshot_name.as_str(), rule.snapshot());
//! }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::Cluster;
use crate::engine::{CheckOptions, Row, RuleStatus, check};
use crate::model::value::{ConfigMap, ConfigNode, ConfigTree, ConfigValue};
use crate::model::version::{ClusterVersion, VersionOrigin};
use crate::model::{ComponentKind, DataFile, DataKind, Instance, InstanceConfig};
use crate::rules::{CheckKind, Rule, RuleLoadErrors, RuleMeta, RuleSet};

pub mod snapshot;

/// What a case expects of the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// At least one row abnormal.
    Abnormal,
    /// Every row OK.
    Ok,
    /// Only `nodata` rows.
    Nodata,
    /// Some row is an `error`, none abnormal.
    Error,
    /// The rule is not selected (version range or kind).
    NotSelected,
}

impl Expect {
    /// `abnormal`, `ok`, `nodata`, `error`, `not_selected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Abnormal => "abnormal",
            Expect::Ok => "ok",
            Expect::Nodata => "nodata",
            Expect::Error => "error",
            Expect::NotSelected => "not_selected",
        }
    }
}

/// A cases file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesFile {
    /// The base bundle.
    pub base: String,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One case: a name, what it expects, and the changes to the base bundle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Says what the case shows.
    pub name: String,
    /// The rule's expected status.
    pub expect: Expect,
    /// Another base bundle for this case (a faulty and a healthy twin of one bundle).
    #[serde(default)]
    pub base: Option<String>,
    /// Overrides the cluster version.
    #[serde(default)]
    pub version: Option<String>,
    /// Instances added to the bundle.
    #[serde(default)]
    pub add: Vec<AddInstance>,
    /// Changes to instance configs.
    #[serde(default)]
    pub overlay: Vec<Overlay>,
    /// Files of the bundle replaced in memory, by bundle-relative path (`172.16.7.86/sysctl.conf`);
    /// `null` removes the file. Only files the bundle already holds can be replaced, except
    /// metric files (`monitor/metrics/<prom>/<metric>-<begin>-<end>.json`), `alerts.json`
    /// files, an instance host's `<host>/insight.json` and an instance's `<dir>/conf/*.toml`,
    /// which a case may add.
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, Option<String>>,
    /// Log files given to instances or hosts.
    #[serde(default)]
    pub logs: Vec<LogOverlay>,
    /// Replaces the sample window.
    #[serde(default)]
    pub window: Option<WindowOverlay>,
}

/// A log file a case gives to an instance (or, with `host`, a `dmesg.log` to a host).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogOverlay {
    /// Which component's instances (`TikvConfig` or `tikv`).
    #[serde(default)]
    pub component: Option<String>,
    /// Which of them (0-based, bundle order); all when absent.
    #[serde(default)]
    pub instance: Option<usize>,
    /// A host, for `dmesg.log`.
    #[serde(default)]
    pub host: Option<String>,
    /// The file name (`tikv.log`, `tidb_stderr.log`, `dmesg.log`, …).
    pub file: String,
    /// An Operator container log (`logs/<pod>/<file>`).
    #[serde(default)]
    pub container: bool,
    /// The content.
    pub text: String,
}

/// A sample window a case sets; `-` leaves an end unknown.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowOverlay {
    /// `begin_time` as written (RFC 3339 or relative like `-4h`).
    pub begin: String,
    /// `end_time` as written.
    pub end: String,
}

/// Files given by cases, served from memory.
#[derive(Debug)]
struct CaseFiles {
    entries: std::collections::BTreeMap<String, crate::bundle::Entry>,
    content: std::collections::BTreeMap<String, Vec<u8>>,
    limits: crate::bundle::Limits,
}

impl crate::bundle::Source for CaseFiles {
    fn location(&self) -> &Path {
        Path::new("<case>")
    }
    /// Not a directory on disk: the bytes are in memory.
    fn kind(&self) -> crate::bundle::SourceKind {
        crate::bundle::SourceKind::Zip
    }
    fn index(&self) -> &std::collections::BTreeMap<String, crate::bundle::Entry> {
        &self.entries
    }
    fn limits(&self) -> &crate::bundle::Limits {
        &self.limits
    }
    fn open(&self, path: &str) -> Result<Box<dyn std::io::Read + Send + '_>, crate::LoadError> {
        match self.content.get(path) {
            Some(bytes) => Ok(Box::new(bytes.as_slice())),
            None => Err(crate::LoadError::Io {
                path: PathBuf::from(path),
                cause: std::io::Error::from(std::io::ErrorKind::NotFound),
            }),
        }
    }
}

/// An instance a case adds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddInstance {
    /// `TiflashConfig`, …
    pub component: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Its runtime config; none when absent.
    #[serde(default)]
    pub config: Option<serde_yaml::Value>,
}

/// A change to the configs of some instances.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// Which component (`PdConfig`, …).
    pub component: String,
    /// Which of its instances (0-based, bundle order); all when absent.
    #[serde(default)]
    pub instance: Option<usize>,
    /// Paths to set (maps are created as needed).
    #[serde(default)]
    pub set: serde_yaml::Mapping,
    /// Paths to remove.
    #[serde(default)]
    pub unset: Vec<String>,
    /// Drop the config file altogether.
    #[serde(default)]
    pub no_config: bool,
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// What it expected.
    pub expect: Expect,
    /// What happened (`None` when the case could not run; see the problems).
    pub got: Option<Expect>,
    /// The rule's rows.
    pub rows: Vec<Row>,
}

/// One rule and its cases' results.
#[derive(Debug, Clone)]
pub struct RuleCases {
    /// The rule file's stem (`tidb-max-days`): the snapshot's name.
    pub snapshot_name: String,
    /// The rule.
    pub rule: Arc<RuleMeta>,
    /// The cases file, when there is one.
    pub cases_file: Option<PathBuf>,
    /// The base bundle as written in the cases file.
    pub base: String,
    /// Each case's outcome, in file order.
    pub results: Vec<CaseResult>,
    /// Everything wrong: missing cases, unmet expectations, bad overlays.
    pub problems: Vec<String>,
}

impl RuleCases {
    /// Whether every case met its expectation and nothing is missing.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// The rows of every case, rendered as the report prints them.
    pub fn snapshot(&self) -> String {
        let mut out = format!(
            "rule {} {}: {}\nbase: {}\n",
            self.rule.id, self.rule.name, self.rule.variation, self.base
        );
        for case in &self.results {
            out.push_str(&format!(
                "\ncase: {}\nexpect: {}\n",
                case.name,
                case.expect.as_str()
            ));
            if case.got == Some(Expect::NotSelected) {
                out.push_str("  (rule not selected)\n");
            }
            for row in &case.rows {
                out.push_str("  ");
                out.push_str(&render_row(row));
                out.push('\n');
                if let Some(a) = &row.aggregate {
                    out.push_str(&format!(
                        "    {} × from {} to {}\n",
                        a.count,
                        a.first.as_deref().unwrap_or("-"),
                        a.last.as_deref().unwrap_or("-")
                    ));
                }
                // Where an abnormal or aggregated row's evidence was read (file:line).
                let cited = row.aggregate.is_some()
                    || matches!(row.state, crate::engine::RowState::Abnormal(_));
                for e in row
                    .evidence
                    .iter()
                    .filter(|e| cited && (e.line > 0 || e.time().is_some()))
                {
                    let mut line = if e.line > 0 {
                        format!("    @ {}:{}", e.file, e.line)
                    } else {
                        format!("    @ {}", e.file)
                    };
                    for part in [e.time(), e.excerpt()].into_iter().flatten() {
                        line.push(' ');
                        line.push_str(part);
                    }
                    out.push_str(line.trim_end());
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// A row as the report prints it (`<tag>   <values>   <state>`), with the reason for `nodata`
/// and `error` rows.
pub fn render_row(row: &Row) -> String {
    let mut line = format!(
        "{}   {}   {}",
        row.tag,
        row.values_display(),
        row.state.as_str()
    );
    if let Some(m) = &row.message {
        line.push_str(&format!("   ({m})"));
    }
    line
}

/// Reads a `*.cases.yaml` text.
pub fn parse_cases(text: &str) -> Result<CasesFile, String> {
    if let Some((line, column)) = crate::model::yaml::too_deep(text) {
        return Err(format!(
            "{} at line {line} column {column}",
            crate::model::yaml::too_deep_message()
        ));
    }
    serde_yaml::from_str(text).map_err(|e| e.to_string())
}

/// A base bundle shipped inside the library, so rule packs outside this repository can build
/// their cases on it without copying anything.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinBase {
    /// The name a cases file gives as `base:`.
    pub name: &'static str,
    /// What it holds.
    pub description: &'static str,
    /// Its files: bundle-relative path and content.
    pub files: &'static [(&'static str, &'static [u8])],
}

/// The files of one shipped base: bundle-relative path and content.
type BaseFiles = &'static [(&'static str, &'static [u8])];

// The fixture bundles, embedded by build.rs: `BASE_FILES`.
include!(concat!(env!("OUT_DIR"), "/builtin_bases.rs"));

/// What each shipped base is, for people choosing one.
const BASE_DESCRIPTIONS: [(&str, &str); 4] = [
    (
        "minimal",
        "v6.5.0, manual (TiUP-like) layout: 1 PD, 1 TiKV, 1 TiDB with short runtime configs; every config rule quiet",
    ),
    (
        "diag-fPrz0RnDxRn",
        "v5.4.0, TiDB Operator layout: 3 PD, 3 TiKV, 1 TiDB with full runtime configs, PD stores and placement rules, alerts and metrics",
    ),
    (
        "diag-lili-fNTnz5MGhr6",
        "v5.3.0, TiUP layout: 1 PD, 3 TiKV, 3 TiDB on 5 hosts, config files, logs, slow logs, system files and db_vars",
    ),
    (
        "slowlog",
        "v6.5.0, as minimal plus a TiDB slow log in the sample window and db_vars (mysql.tidb, GC life time 10m); every performance rule quiet",
    ),
];

/// The bases shipped with the library: the repository's `fixtures/` of the same names.
pub fn builtin_bases() -> impl Iterator<Item = BuiltinBase> {
    BASE_FILES.iter().map(|(name, files)| BuiltinBase {
        name,
        description: BASE_DESCRIPTIONS
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, d)| d),
        files,
    })
}

impl BuiltinBase {
    /// The shipped base called `name`.
    pub fn get(name: &str) -> Option<BuiltinBase> {
        builtin_bases().find(|b| b.name == name)
    }

    /// Writes the bundle into `dir/<name>` (a scratch directory the caller owns) and returns
    /// that path.
    pub fn write_into(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let root = dir.join(self.name);
        for (file, content) in self.files {
            let path = root.join(file);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, content)?;
        }
        Ok(root)
    }
}

/// Copies a bundle directory to `to` (created), leaving out the report directories a check wrote
/// into it (the README's sample command writes `fixtures/diag-fPrz0RnDxRn/report-*`): what a
/// test that checks a copy of a fixture needs, since checking writes into the bundle.
pub fn copy_bundle(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if crate::bundle::is_report_dir(&entry.file_name().to_string_lossy()) {
                continue;
            }
            copy_bundle(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Base bundles found for the cases of one run; shipped ones are written once into a scratch
/// directory that is removed when the run ends.
#[derive(Default)]
struct Bases {
    scratch: Option<tempfile::TempDir>,
    written: Vec<(&'static str, PathBuf)>,
}

impl Bases {
    fn resolve(&mut self, cases_file: &Path, base: &str) -> Result<PathBuf, String> {
        if let Some(found) = resolve_base(cases_file, base) {
            return Ok(found);
        }
        let Some(builtin) = BuiltinBase::get(base) else {
            let known: Vec<&str> = builtin_bases().map(|b| b.name).collect();
            return Err(format!(
                "base bundle `{base}` not found (relative to the file, under an ancestor's fixtures/, or shipped: {})",
                known.join(", ")
            ));
        };
        if let Some((_, path)) = self.written.iter().find(|(n, _)| *n == builtin.name) {
            return Ok(path.clone());
        }
        let failed = |e: std::io::Error| format!("writing the shipped base `{base}`: {e}");
        let scratch = match &self.scratch {
            Some(s) => s,
            None => self.scratch.insert(
                tempfile::Builder::new()
                    .prefix(".diag-bases-")
                    .tempdir()
                    .map_err(failed)?,
            ),
        };
        let path = builtin.write_into(scratch.path()).map_err(failed)?;
        self.written.push((builtin.name, path.clone()));
        Ok(path)
    }
}

/// Loads the rules below `dir` and runs each against its `*.cases.yaml`.
pub fn run_dir(dir: &Path) -> Result<Vec<RuleCases>, RuleLoadErrors> {
    let rules = RuleSet::load_dir(dir)?;
    let mut bases = Bases::default();
    Ok(rules
        .rules()
        .iter()
        .map(|r| run_rule_with(dir, r, &mut bases))
        .collect())
}

/// Runs one rule (loaded from `dir`) against its cases file.
pub fn run_rule(dir: &Path, rule: &Rule) -> RuleCases {
    run_rule_with(dir, rule, &mut Bases::default())
}

fn run_rule_with(dir: &Path, rule: &Rule, bases: &mut Bases) -> RuleCases {
    let rule_file = dir.join(&rule.meta.source);
    let stem = rule_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem
        .trim_end_matches(".yaml")
        .trim_end_matches(".yml")
        .to_string();
    let cases_path = rule_file.with_file_name(format!("{stem}.cases.yaml"));
    let mut out = RuleCases {
        snapshot_name: stem,
        rule: rule.meta.clone(),
        cases_file: None,
        base: String::new(),
        results: Vec::new(),
        problems: Vec::new(),
    };
    // A rule expanded from a table brings its cases; its snapshot is the table's.
    let generated = rule.generated_cases().map(str::to_string);
    if generated.is_some() {
        out.snapshot_name = format!("table-{}", out.snapshot_name);
    }
    let read = generated
        .ok_or(())
        .or_else(|()| std::fs::read_to_string(&cases_path));
    let text = match read {
        Ok(t) => t,
        Err(_) => {
            out.problems
                .push(format!("no cases: write {}", cases_path.display()));
            return out;
        }
    };
    out.cases_file = Some(cases_path.clone());
    let file: CasesFile = match parse_cases(&text) {
        Ok(f) => f,
        Err(e) => {
            out.problems.push(format!("{}: {e}", cases_path.display()));
            return out;
        }
    };
    out.base = file.base.clone();
    let base = match bases.resolve(&cases_path, &file.base) {
        Ok(base) => base,
        Err(e) => {
            out.problems.push(format!("{}: {e}", cases_path.display()));
            return out;
        }
    };
    let set = RuleSet::from_rules(vec![rule.clone()], "cases".into());
    let options = CheckOptions {
        kinds: CheckKind::ALL.to_vec(),
        only: Vec::new(),
        skip: Vec::new(),
    };
    for case in &file.cases {
        let base = match &case.base {
            None => base.clone(),
            Some(name) => match resolve_base(&cases_path, name) {
                Some(b) => b,
                None => {
                    out.problems.push(format!(
                        "case `{}`: base bundle `{name}` not found",
                        case.name
                    ));
                    continue;
                }
            },
        };
        let prepared = Cluster::open(&base)
            .map_err(|e| e.to_string())
            .and_then(|mut c| apply(&mut c, case).map(|()| c));
        let cluster = match prepared {
            Ok(c) => c,
            Err(e) => {
                out.problems.push(format!("case `{}`: {e}", case.name));
                out.results.push(CaseResult {
                    name: case.name.clone(),
                    expect: case.expect,
                    got: None,
                    rows: Vec::new(),
                });
                continue;
            }
        };
        let outcome = check(&cluster, &set, &options);
        let (got, rows) = match outcome.findings.into_iter().next() {
            None => (Expect::NotSelected, Vec::new()),
            Some(f) => (
                match f.status() {
                    RuleStatus::Abnormal => Expect::Abnormal,
                    RuleStatus::Ok => Expect::Ok,
                    RuleStatus::NoData => Expect::Nodata,
                    RuleStatus::Error => Expect::Error,
                },
                f.rows,
            ),
        };
        if got != case.expect {
            out.problems.push(format!(
                "case `{}`: expected {}, got {}",
                case.name,
                case.expect.as_str(),
                got.as_str()
            ));
        }
        out.results.push(CaseResult {
            name: case.name.clone(),
            expect: case.expect,
            got: Some(got),
            rows,
        });
    }
    // A formula default expanded from a table is never compared: its only case is nodata.
    let formula = rule.generated_cases().is_some() && rule.form() == "rhai script";
    for (needed, what) in [
        (Expect::Abnormal, "an abnormal"),
        (Expect::Ok, "a normal (ok)"),
    ] {
        if !formula && !file.cases.iter().any(|c| c.expect == needed) {
            out.problems
                .push(format!("{}: needs {what} case", cases_path.display()));
        }
    }
    out
}

fn resolve_base(cases_file: &Path, base: &str) -> Option<PathBuf> {
    let dir = cases_file.parent()?;
    let direct = dir.join(base);
    if direct.exists() {
        return Some(direct);
    }
    dir.ancestors()
        .map(|a| a.join("fixtures").join(base))
        .find(|p| p.exists())
}

fn apply_logs(cluster: &mut Cluster, case: &Case) -> Result<(), String> {
    use crate::model::{DataFile, DataKind, LogKind};
    if let Some(w) = &case.window {
        let text = |s: &str| {
            if s.trim() == "-" {
                String::new()
            } else {
                s.to_string()
            }
        };
        cluster.sample.begin_time = text(&w.begin);
        cluster.sample.end_time = text(&w.end);
    }
    if case.logs.is_empty() {
        return Ok(());
    }
    // (where, path, text): where = instance index or host.
    let mut placed: Vec<(Result<usize, String>, String, &str)> = Vec::new();
    for log in &case.logs {
        if let Some(host) = &log.host {
            placed.push((Err(host.clone()), format!("{host}/{}", log.file), &log.text));
            continue;
        }
        let name = log
            .component
            .as_deref()
            .ok_or("a log overlay names a `component` or a `host`")?;
        let kind = ComponentKind::from_config_struct(name)
            .or_else(|| ComponentKind::from_topology_key(name))
            .ok_or_else(|| format!("unknown component `{name}`"))?;
        let targets: Vec<usize> = cluster
            .instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.component == kind)
            .map(|(n, _)| n)
            .collect();
        let chosen = match log.instance {
            Some(n) => vec![
                *targets
                    .get(n)
                    .ok_or_else(|| format!("{name} has no instance {n}"))?,
            ],
            None => targets,
        };
        if chosen.is_empty() {
            return Err(format!("the bundle has no {name} instance"));
        }
        for i in chosen {
            let inst = &cluster.instances[i];
            let dir = format!("{}-{}", inst.component.topology_key(), inst.port);
            let path = if log.container {
                format!("logs/case-{dir}/{}", log.file)
            } else {
                format!("{}/case/{dir}/log/{}", inst.host, log.file)
            };
            placed.push((Ok(i), path, &log.text));
        }
    }
    let mut files = CaseFiles {
        entries: Default::default(),
        content: Default::default(),
        limits: Default::default(),
    };
    for (_, path, text) in &placed {
        files.entries.insert(
            path.clone(),
            crate::bundle::Entry::new(path, text.len() as u64, true),
        );
        files.content.insert(path.clone(), text.as_bytes().to_vec());
    }
    let source: Arc<dyn crate::bundle::Source> = Arc::new(files);
    for (at, path, text) in placed {
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        match at {
            Ok(i) => {
                let file = DataFile::new(
                    source.clone(),
                    path,
                    text.len() as u64,
                    DataKind::Log(LogKind::from_file_name(&name)),
                );
                cluster.instances[i].files.push(file);
            }
            Err(host) => {
                let kind = if name == "dmesg.log" {
                    DataKind::Dmesg
                } else {
                    DataKind::Log(LogKind::from_file_name(&name))
                };
                let file = DataFile::new(source.clone(), path, text.len() as u64, kind);
                cluster.hosts.entry(host).or_default().push(file);
            }
        }
    }
    Ok(())
}

/// Applies a case's changes to a loaded cluster.
pub fn apply(cluster: &mut Cluster, case: &Case) -> Result<(), String> {
    if let Some(v) = &case.version {
        cluster.version = ClusterVersion::decide(Some(v), VersionOrigin::Topology, None, None);
    }
    for add in &case.add {
        let component = component(&add.component)?;
        let file = format!("<case>/{}-{}/conf/config.json", add.host, add.port);
        let config = match &add.config {
            Some(v) => InstanceConfig::Loaded(Arc::new(ConfigTree {
                file: Arc::from(file.as_str()),
                root: ConfigNode::from(v),
            })),
            None => InstanceConfig::Absent { file },
        };
        let instance = Instance {
            component,
            host: add.host.clone(),
            port: add.port,
            status_port: None,
            pod: None,
            deploy_dir: None,
            log_dir: None,
            data_dir: None,
            attributes: ConfigNode::new(ConfigValue::Map(ConfigMap::new())),
            // Where TiUP deploys it, so a case can give it config files (`<dir>/conf/*.toml`).
            dir: format!(
                "{}/tidb-deploy/{}-{}",
                add.host,
                component.topology_key(),
                add.port
            ),
            config,
            files: Vec::new(),
        };
        // Keep topology order: after the last instance of the same or an earlier component.
        let at = cluster
            .instances
            .iter()
            .rposition(|i| i.component <= component)
            .map(|p| p + 1)
            .unwrap_or(0);
        cluster.instances.insert(at, instance);
    }
    for overlay in &case.overlay {
        let kind = component(&overlay.component)?;
        let targets: Vec<usize> = cluster
            .instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.component == kind)
            .map(|(n, _)| n)
            .collect();
        let chosen: Vec<usize> = match overlay.instance {
            Some(n) => vec![*targets.get(n).ok_or_else(|| {
                format!(
                    "{} has {} instance(s); there is no instance {n}",
                    overlay.component,
                    targets.len()
                )
            })?],
            None => targets,
        };
        if chosen.is_empty() {
            return Err(format!("the bundle has no {} instance", overlay.component));
        }
        for index in chosen {
            let instance = &mut cluster.instances[index];
            if overlay.no_config {
                instance.config = InstanceConfig::Absent {
                    file: instance.config.file().to_string(),
                };
                continue;
            }
            let InstanceConfig::Loaded(tree) = &mut instance.config else {
                return Err(format!("{} has no config to change", instance.tag()));
            };
            let tree = Arc::make_mut(tree);
            for (path, value) in &overlay.set {
                let path = path
                    .as_str()
                    .ok_or_else(|| format!("`set` keys are dotted paths, found {path:?}"))?;
                set_path(&mut tree.root, path, ConfigNode::from(value))?;
            }
            for path in &overlay.unset {
                unset_path(&mut tree.root, path)?;
            }
        }
    }
    for (path, content) in &case.files {
        replace_file(cluster, path, content.as_deref())?;
    }
    apply_logs(cluster, case)
}

/// Replaces (or with `None` removes) one indexed file of the cluster, in memory.
fn replace_file(cluster: &mut Cluster, path: &str, content: Option<&str>) -> Result<(), String> {
    let lists = cluster
        .hosts
        .values_mut()
        .chain(cluster.instances.iter_mut().map(|i| &mut i.files))
        .chain(std::iter::once(&mut cluster.files));
    for files in lists {
        if let Some(at) = files.iter().position(|f| f.path == path) {
            match content {
                Some(text) => files[at] = files[at].with_content(text.as_bytes()),
                None => {
                    files.remove(at);
                }
            }
            return Ok(());
        }
    }
    // A host's insight.json may be added: formula defaults read the host's CPUs and memory.
    if let (Some(host), Some(text)) = (path.strip_suffix("/insight.json"), content)
        && cluster.instances.iter().any(|i| i.host == host)
    {
        let file = DataFile::in_memory(
            Arc::clone(&cluster.source),
            path.to_string(),
            DataKind::Insight,
            text.as_bytes(),
        );
        cluster
            .hosts
            .entry(host.to_string())
            .or_default()
            .push(file);
        return Ok(());
    }
    // An instance's config file may be added: rules that read config files need one.
    if path.ends_with(".toml")
        && let Some(text) = content
        && let Some(instance) = cluster
            .instances
            .iter_mut()
            .find(|i| path.starts_with(&format!("{}/conf/", i.dir)))
    {
        let file = DataFile::in_memory(
            Arc::clone(&cluster.source),
            path.to_string(),
            DataKind::ConfigFile,
            text.as_bytes(),
        );
        instance.files.push(file);
        return Ok(());
    }
    // Metric and alert files may be added: a case plants the series it needs.
    let kind = if path.starts_with("monitor/metrics/") && path.ends_with(".json") {
        Some(DataKind::Metric)
    } else if path.starts_with("monitor/alerts/") && path.ends_with("/alerts.json") {
        Some(DataKind::Alerts)
    } else {
        None
    };
    match (kind, content) {
        (Some(kind), Some(text)) => {
            let file = DataFile::in_memory(
                Arc::clone(&cluster.source),
                path.to_string(),
                kind,
                text.as_bytes(),
            );
            cluster.files.push(file);
            cluster.files.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(())
        }
        _ => Err(format!(
            "`files`: the bundle has no indexed file `{path}` to replace (only files under monitor/metrics/ and monitor/alerts/, a host's insight.json and an instance's conf/*.toml can be added)"
        )),
    }
}

fn component(name: &str) -> Result<ComponentKind, String> {
    ComponentKind::from_config_struct(name).ok_or_else(|| format!("unknown component `{name}` (expected PdConfig, TikvConfig, TidbConfig, TiflashConfig, …)"))
}

fn set_path(root: &mut ConfigNode, path: &str, value: ConfigNode) -> Result<(), String> {
    let mut node = root;
    let segments: Vec<&str> = path.split('.').collect();
    let Some((last, parents)) = segments.split_last() else {
        return Err("empty path".into());
    };
    for seg in parents {
        let ConfigValue::Map(map) = &mut node.value else {
            return Err(format!(
                "`{path}`: `{seg}` is inside a value that is not a map"
            ));
        };
        node = map.get_or_insert_with(seg, || ConfigNode::new(ConfigValue::Map(ConfigMap::new())));
    }
    let ConfigValue::Map(map) = &mut node.value else {
        return Err(format!("`{path}`: the parent is not a map"));
    };
    map.insert(*last, value);
    Ok(())
}

fn unset_path(root: &mut ConfigNode, path: &str) -> Result<(), String> {
    let mut node = root;
    let segments: Vec<&str> = path.split('.').collect();
    let Some((last, parents)) = segments.split_last() else {
        return Err("empty path".into());
    };
    for seg in parents {
        let ConfigValue::Map(map) = &mut node.value else {
            return Err(format!("`{path}` is not in the config"));
        };
        node = map
            .get_mut(seg)
            .ok_or_else(|| format!("`{path}` is not in the config"))?;
    }
    let ConfigValue::Map(map) = &mut node.value else {
        return Err(format!("`{path}` is not in the config"));
    };
    map.remove(last)
        .map(|_| ())
        .ok_or_else(|| format!("`{path}` is not in the config"))
}
