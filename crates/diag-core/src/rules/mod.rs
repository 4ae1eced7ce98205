//! Rule files: schema, loading, linting, the condition language and the Rhai glue.
//!
//! A rule is one YAML file (`rules/config/tidb-max-days.yaml`). It names the component whose
//! runtime config it reads and either a declarative condition (`abnormal_when`) or a Rhai script
//! that sees the whole cluster (`rhai_script`). Rules are compiled once when loaded; every
//! problem a rule file has is reported at once, with file, line, field and a did-you-mean.
//!
//! ```
//! use diag_core::rules::{CheckKind, RuleSet};
//! let rules = RuleSet::builtin();
//! let config = rules.rules().iter().filter(|r| r.meta.kind == CheckKind::Config).count();
//! assert_eq!(config, 25);
//! assert!(rules.rules().iter().any(|r| r.meta.name == "tidb-max-days"));
//! ```

pub mod condition;
mod defaults;
pub(crate) mod formula;
mod load;
mod log_rule;
pub mod metric_rule;
pub mod script;

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::ComponentKind;
use crate::model::data::DataKind;
use crate::model::version::VersionConstraint;
pub use condition::Condition;
pub(crate) use load::nearest;
pub use load::{RuleLoadError, RuleLoadErrors};
pub(crate) use log_rule::LogRule;
pub(crate) use log_rule::{Requirement, StateSource};

/// What a rule checks; `--types` selects by this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckKind {
    /// diag's on-call configuration rules.
    Config,
    /// "Is this setting still at its default?" rules (diag's `defaultConfig`).
    #[serde(alias = "defaultConfig")]
    DefaultConfig,
    /// Slow-log and plan rules.
    Performance,
    /// Log content rules.
    Log,
    /// Host system rules (limits, sysctl, insight).
    System,
    /// Topology shape rules.
    Topology,
    /// Prometheus metric rules.
    Metric,
}

impl CheckKind {
    /// The name used in rule files and on the command line (`config`, `default_config`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Config => "config",
            CheckKind::DefaultConfig => "default_config",
            CheckKind::Performance => "performance",
            CheckKind::Log => "log",
            CheckKind::System => "system",
            CheckKind::Topology => "topology",
            CheckKind::Metric => "metric",
        }
    }

    /// Every kind.
    pub const ALL: [CheckKind; 7] = [
        CheckKind::Config,
        CheckKind::DefaultConfig,
        CheckKind::Performance,
        CheckKind::Log,
        CheckKind::System,
        CheckKind::Topology,
        CheckKind::Metric,
    ];

    /// Reads a kind as written on the command line or in diag's rule files (`defaultConfig`).
    ///
    /// ```
    /// use diag_core::rules::CheckKind;
    /// assert_eq!(CheckKind::parse("default_config"), Some(CheckKind::DefaultConfig));
    /// assert_eq!(CheckKind::parse("defaultConfig"), Some(CheckKind::DefaultConfig));
    /// assert_eq!(CheckKind::parse("banana"), None);
    /// ```
    pub fn parse(text: &str) -> Option<CheckKind> {
        let text = text.trim();
        if text == "defaultConfig" {
            return Some(CheckKind::DefaultConfig);
        }
        CheckKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Where a rule's data comes from (`source:` in a rule file). One checker serves each source,
/// walking its data once per check for all the rules that read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DataSource {
    /// An instance's runtime configuration (`conf/config.json`); the default.
    Config,
    /// An instance's config files as deployed (`conf/tidb.toml`, …).
    ConfigFile,
    /// A host's system file: `sysctl.conf`, `limits.conf` or `insight.json` (`file:` says which).
    System(SystemFile),
    /// PD's store list (`store.json`).
    Store,
    /// PD's placement rules (`placement-rule.json`).
    Placement,
    /// System variables dumped from TiDB (`db_vars/*.csv`).
    DbVars,
    /// Prometheus alerts: firing or pending at collection time (`alerts.json`), and fired during
    /// the window (the `ALERTS` metric history).
    Alerts,
    /// Prometheus metric matrices (`monitor/metrics/**`).
    Metric,
    /// The Operator's custom resources (`tidbcluster.json`).
    Kubernetes,
    /// TiDB slow query logs in the sample window, with the GC life time from `db_vars`: the
    /// counts of diag's performance rules (see [`crate::model::slowlog::Performance`]).
    SlowLog,
    /// Component logs, stderr and container logs, RocksDB info logs, `dmesg.log`.
    Log,
    /// Facts a combiner derives from several files at once (`facts:` says which), e.g. a
    /// host's memory beside the block caches of the TiKV instances on it.
    Facts(FactSet),
}

/// Which combiner a `source: facts` rule reads (`facts:` in a rule file). Each builds one
/// document per row (a host, a data dir, a store, a component, the cluster) from the files it
/// joins; the rule's condition reads that document like any other, and each fact cites the
/// file and line it came from. The fields of each document are listed in
/// `rules/FACTS.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FactSet {
    /// Per host: `insight.json` (OS, CPU, memory, swap, NICs, clock, epoll, time zone vs the
    /// first PD host), `limits.conf` of the deploy user, and the configs of the instances on it.
    Host,
    /// Per TiKV/TiFlash/PD data dir: the mount that holds it (longest prefix), its options and
    /// how many TiKV/TiFlash data dirs share it.
    DataDir,
    /// Per store of PD's `store.json`: state, space, balance, duplicates.
    Store,
    /// The cluster's replication: `max-replicas`, location labels, placement rules vs the
    /// stores that are Up.
    Replication,
    /// The cluster's versions: topology, images, stores, PD `cluster-version`.
    Versions,
    /// The cluster's shape: instance counts per component.
    Shape,
    /// Per component: runtime config keys whose value differs between instances.
    Drift,
    /// Per component of an Operator bundle: `tidbcluster.json` status vs spec vs `cluster.json`.
    Kubernetes,
    /// The cluster: which hosts have system data at all.
    HostData,
}

impl FactSet {
    /// Every fact set, in documentation order.
    pub const ALL: [FactSet; 9] = [
        FactSet::Host,
        FactSet::DataDir,
        FactSet::Store,
        FactSet::Replication,
        FactSet::Versions,
        FactSet::Shape,
        FactSet::Drift,
        FactSet::Kubernetes,
        FactSet::HostData,
    ];

    /// The name used after `facts:`.
    pub fn as_str(self) -> &'static str {
        match self {
            FactSet::Host => "host",
            FactSet::DataDir => "data_dir",
            FactSet::Store => "store",
            FactSet::Replication => "replication",
            FactSet::Versions => "versions",
            FactSet::Shape => "shape",
            FactSet::Drift => "drift",
            FactSet::Kubernetes => "kubernetes",
            FactSet::HostData => "host_data",
        }
    }

    /// What one row is about.
    pub fn subject(self) -> Subject {
        match self {
            FactSet::Host => Subject::Host,
            FactSet::DataDir => Subject::Instance,
            FactSet::Drift | FactSet::Kubernetes => Subject::Component,
            _ => Subject::Cluster,
        }
    }
}

/// Which host system file a `source: system` rule reads (`file:` in a rule file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SystemFile {
    /// `sysctl.conf`: a map of kernel parameter → value.
    Sysctl,
    /// `limits.conf`: a list of `{domain, type, item, value}` rows.
    Limits,
    /// `insight.json`: the host facts TiUP's insight collects.
    Insight,
}

impl SystemFile {
    /// Every system file, in documentation order.
    pub const ALL: [SystemFile; 3] = [SystemFile::Sysctl, SystemFile::Limits, SystemFile::Insight];

    /// The file name as it sits in a host folder.
    pub fn file_name(self) -> &'static str {
        match self {
            SystemFile::Sysctl => "sysctl.conf",
            SystemFile::Limits => "limits.conf",
            SystemFile::Insight => "insight.json",
        }
    }

    /// The kind the bundle index gives the file.
    pub fn data_kind(self) -> DataKind {
        match self {
            SystemFile::Sysctl => DataKind::Sysctl,
            SystemFile::Limits => DataKind::Limits,
            SystemFile::Insight => DataKind::Insight,
        }
    }
}

impl DataSource {
    /// The name used in rule files (`config`, `system`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DataSource::Config => "config",
            DataSource::ConfigFile => "config_file",
            DataSource::System(_) => "system",
            DataSource::Store => "store",
            DataSource::Placement => "placement",
            DataSource::DbVars => "db_vars",
            DataSource::Alerts => "alert",
            DataSource::Metric => "metric",
            DataSource::Kubernetes => "kubernetes",
            DataSource::SlowLog => "slow_log",
            DataSource::Facts(_) => "facts",
            DataSource::Log => "log",
        }
    }

    /// Names accepted after `source:`.
    pub const NAMES: [&'static str; 12] = [
        "config",
        "config_file",
        "system",
        "store",
        "placement",
        "db_vars",
        "alert",
        "metric",
        "kubernetes",
        "slow_log",
        "facts",
        "log",
    ];

    /// The subjects a rule of this source may have; the first is the default.
    pub fn subjects(self) -> &'static [Subject] {
        match self {
            DataSource::Config => &[Subject::Instance, Subject::Component, Subject::Cluster],
            DataSource::ConfigFile => &[Subject::Instance],
            DataSource::Metric => &[Subject::Instance, Subject::Cluster],
            DataSource::System(_) => &[Subject::Host],
            DataSource::Store
            | DataSource::Placement
            | DataSource::DbVars
            | DataSource::Alerts
            | DataSource::Kubernetes
            | DataSource::SlowLog => &[Subject::Cluster],
            DataSource::Facts(f) => match f.subject() {
                Subject::Host => &[Subject::Host],
                Subject::Instance => &[Subject::Instance],
                Subject::Component => &[Subject::Component],
                Subject::Cluster => &[Subject::Cluster],
            },
            DataSource::Log => &[Subject::Instance, Subject::Cluster, Subject::Host],
        }
    }

    /// The kinds of bundle files this source reads: what a read plan must keep.
    pub fn data_kinds(self) -> Vec<DataKind> {
        match self {
            DataSource::Config => Vec::new(),
            DataSource::ConfigFile => vec![DataKind::ConfigFile],
            DataSource::System(f) => vec![f.data_kind()],
            DataSource::Store => vec![DataKind::PdStores],
            DataSource::Placement => vec![DataKind::PlacementRules],
            DataSource::DbVars => vec![DataKind::DbVars],
            DataSource::Alerts => vec![DataKind::Alerts, DataKind::Metric],
            DataSource::Metric => vec![DataKind::Metric],
            DataSource::Kubernetes => vec![DataKind::CustomResource],
            DataSource::SlowLog => vec![
                DataKind::Log(crate::model::data::LogKind::Slow),
                DataKind::DbVars,
            ],
            DataSource::Facts(_) => vec![
                DataKind::ConfigFile,
                DataKind::Insight,
                DataKind::Limits,
                DataKind::Sysctl,
                DataKind::PdStores,
                DataKind::PlacementRules,
                DataKind::CustomResource,
                DataKind::MetaYaml,
            ],
            DataSource::Log => vec![
                DataKind::Log(crate::model::LogKind::Std),
                DataKind::Log(crate::model::LogKind::Rocksdb),
                DataKind::Dmesg,
            ],
        }
    }
}

/// What one row of a rule is about (`subject:` in a rule file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Subject {
    /// One row per instance of the rule's component(s).
    Instance,
    /// One row per host.
    Host,
    /// One row per component: the condition sees every instance of it at once (a map
    /// `host:port` → data), e.g. `{differ: storage.block-cache.capacity}`.
    Component,
    /// One row for the whole cluster: the condition sees a map component → (`host:port` → data).
    Cluster,
}

impl Subject {
    /// The name used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Instance => "instance",
            Subject::Host => "host",
            Subject::Component => "component",
            Subject::Cluster => "cluster",
        }
    }

    /// Every subject.
    pub const ALL: [Subject; 4] = [
        Subject::Instance,
        Subject::Host,
        Subject::Component,
        Subject::Cluster,
    ];
}

/// How serious an abnormal result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Likely to cause trouble.
    Warning,
    /// Act now.
    Critical,
}

impl Severity {
    /// `info`, `warning` or `critical`, as printed in report rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What every rule says about itself: the part reports print.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleMeta {
    /// diag's numeric id (100, 209, …); not unique (206 is used twice).
    pub id: i64,
    /// diag's rule name, the key selection de-duplicates on.
    pub name: String,
    /// What it checks.
    pub kind: CheckKind,
    /// The components whose data it reads, in tuple order.
    pub components: Vec<ComponentKind>,
    /// The value(s) printed, e.g. `TidbConfig.log.file.max-days`.
    pub variation: String,
    /// Severity of an abnormal row.
    pub severity: Severity,
    /// Version constraint as written (empty = all versions).
    pub version: String,
    /// Knowledge-base link.
    pub link: String,
    /// What the rule checks and why, in prose.
    pub description: String,
    /// What to do about an abnormal result.
    pub suggestion: String,
    /// The rule file it was loaded from (path inside the rule directory, or `builtin:<path>`).
    pub source: String,
}

/// A loaded, compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// What reports print about it.
    pub meta: Arc<RuleMeta>,
    pub(crate) version: VersionConstraint,
    /// `(component, path)` for each variation item that names a config struct.
    pub(crate) variation: Vec<VariationItem>,
    pub(crate) body: RuleBody,
    /// Where its data comes from.
    pub(crate) data: DataSource,
    /// What one row is about.
    pub(crate) subject: Subject,
    /// The file as written, for `rules show`.
    pub(crate) text: Arc<str>,
    /// Position in load order: ties between rules sharing a name go to the later one.
    pub(crate) order: usize,
    /// Cases generated with the rule (rules expanded from a `default_config` table).
    pub(crate) cases: Option<Arc<str>>,
    /// The message of an abnormal row, with `{path}` placeholders filled from its document
    /// (`message:` in a rule file).
    pub(crate) message: Option<String>,
    /// Keys a `facts: drift` rule does not report (`allow:`), besides the built-in ones.
    pub(crate) allow: Vec<String>,
    /// The config file a `source: config_file` rule reads (`file: tiflash.toml`); without it,
    /// the instance's `<component>.toml`.
    pub(crate) conf_file: Option<String>,
}

/// One item of a rule's `variation`: `PdConfig.log.file.max-days`, or a plain label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VariationItem {
    pub(crate) text: Arc<str>,
    pub(crate) component: Option<ComponentKind>,
    pub(crate) path: String,
}

/// How a rule decides.
#[derive(Debug, Clone)]
pub(crate) enum RuleBody {
    /// Evaluated per instance (or per tuple of instances).
    Condition(Condition),
    /// A Rhai script that sees the whole cluster and returns the rows.
    ClusterScript(Arc<rhai::AST>),
    /// A value whose default is a formula of the host (`host_formula:`).
    HostFormula(Arc<formula::HostFormula>),
    /// A function over metric series and a threshold (`source: metric`).
    Metric(Arc<metric_rule::MetricRule>),
    /// Alerts by name (`source: alert`).
    Alert(Arc<metric_rule::AlertRule>),
    /// A `source: log` rule, run by the log checker with every other log rule.
    Log(Arc<LogRule>),
}

impl Rule {
    /// The version constraint, parsed.
    pub fn version_constraint(&self) -> &VersionConstraint {
        &self.version
    }

    /// Where the rule's data comes from.
    pub fn data_source(&self) -> DataSource {
        self.data
    }

    /// What one of its rows is about.
    pub fn subject(&self) -> Subject {
        self.subject
    }

    /// The rule file as written.
    pub fn definition(&self) -> &str {
        &self.text
    }

    /// `declarative`, `rhai expression` or `rhai script`: how the rule decides.
    pub fn form(&self) -> &'static str {
        match &self.body {
            RuleBody::Condition(Condition::Rhai(_)) => "rhai expression",
            RuleBody::Condition(_) => "declarative",
            RuleBody::ClusterScript(_) => "rhai script",
            RuleBody::HostFormula(_) => "host formula",
            RuleBody::Log(_) => "log match",
            RuleBody::Metric(_) => "metric function",
            RuleBody::Alert(_) => "alert names",
        }
    }

    /// The kinds of bundle files the rule reads: its source's, and those of the states a log
    /// rule's `requires:` reads (runtime configs are always read).
    pub fn data_kinds(&self) -> Vec<DataKind> {
        let mut kinds = self.data.data_kinds();
        if let RuleBody::Log(l) = &self.body {
            for r in &l.requires {
                let source = match r.state {
                    StateSource::Config => continue,
                    StateSource::Store => DataSource::Facts(FactSet::Store),
                    StateSource::Topology => DataSource::Facts(FactSet::Shape),
                };
                kinds.extend(source.data_kinds());
            }
        }
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }

    /// The metric names the rule reads (`ALERTS` for alert rules); empty for other sources.
    pub fn metrics(&self) -> Vec<&str> {
        match &self.body {
            RuleBody::Metric(m) => m.metrics(),
            RuleBody::Alert(_) => vec!["ALERTS"],
            _ => Vec::new(),
        }
    }

    /// The cases file generated with the rule, for rules expanded from a table.
    pub fn generated_cases(&self) -> Option<&str> {
        self.cases.as_deref()
    }

    /// Whether `id` is this rule's numeric id or its name.
    pub fn is_called(&self, id: &str) -> bool {
        let id = id.trim();
        self.meta.name == id || self.meta.id.to_string() == id
    }

    /// For a log rule that reads `kind` files of `component`, the literals its prefilter looks
    /// for (what a line must contain to be parsed); empty otherwise. Benches hand the same
    /// patterns to other tools.
    pub fn log_literals(
        &self,
        component: ComponentKind,
        kind: crate::model::log::LogFileKind,
    ) -> Vec<&str> {
        match &self.body {
            RuleBody::Log(l) if l.components.contains(&component) && l.files.contains(&kind) => {
                l.literals.iter().map(String::as_str).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// A set of loaded rules, in a stable order (id, then name, then source).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    version: String,
}

impl RuleSet {
    /// The rules shipped in the repository's `rules/` tree, embedded at build time.
    ///
    /// The shipped rules are tested to load without errors; should one ever fail, the others
    /// are still returned (see [`RuleSet::builtin_checked`] for the errors).
    pub fn builtin() -> RuleSet {
        RuleSet::builtin_checked().unwrap_or_else(|errors| errors.partial)
    }

    /// The built-in rules, or every error they have.
    pub fn builtin_checked() -> Result<RuleSet, RuleLoadErrors> {
        let files = load::BUILTIN
            .iter()
            .map(|(path, text)| (format!("builtin:{path}"), (*text).to_string()));
        load::load_files(
            files.collect(),
            format!("builtin-{}", env!("CARGO_PKG_VERSION")),
        )
    }

    /// Loads every rule file (`*.yaml`, `*.yml`, except `*.cases.yaml`) below `dir`, reporting
    /// every error at once.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RuleLoadErrors> {
        load::load_dir(dir)
    }

    /// Loads rules from in-memory files: `(name, YAML text)`.
    pub fn from_files(
        files: Vec<(String, String)>,
        version: &str,
    ) -> Result<RuleSet, RuleLoadErrors> {
        load::load_files(files, version.to_string())
    }

    /// Adds the rules of `other`; rules sharing a name with an existing one come later, so they
    /// win selection where both apply.
    pub fn merge(&mut self, other: RuleSet) {
        let base = self.rules.iter().map(|r| r.order + 1).max().unwrap_or(0);
        self.rules.extend(other.rules.into_iter().map(|mut r| {
            r.order += base;
            r
        }));
        self.rules.sort_by(|a, b| {
            (a.meta.id, &a.meta.name, a.order).cmp(&(b.meta.id, &b.meta.name, b.order))
        });
        if self.version.is_empty() {
            self.version = other.version;
        } else if !other.version.is_empty() {
            self.version = format!("{}+{}", self.version, other.version);
        }
    }

    /// The rules, sorted by id, then name.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule set's version: `builtin-0.1.0`, `dir:<path>`, or both joined by `+`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Rules whose id or name is `id`.
    pub fn find<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |r| r.is_called(id))
    }

    /// The rule name closest to `word`, when it looks like a typo of one (did-you-mean).
    pub fn nearest_name(&self, word: &str) -> Option<String> {
        let names: Vec<&str> = self.rules.iter().map(|r| r.meta.name.as_str()).collect();
        load::nearest(word, &names)
    }

    pub(crate) fn from_rules(mut rules: Vec<Rule>, version: String) -> RuleSet {
        rules.sort_by(|a, b| {
            (a.meta.id, &a.meta.name, a.order).cmp(&(b.meta.id, &b.meta.name, b.order))
        });
        RuleSet { rules, version }
    }
}
