//! The typed cluster a bundle describes: [`Cluster`], its [`Sample`], its [`Instance`]s with
//! their runtime configuration, and an index of every other file the bundle holds.

pub mod data;
pub mod inspect;
pub mod json;
mod load;
pub mod log;
pub mod metrics;
pub mod slowlog;
pub mod units;
pub mod value;
pub mod version;
pub mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::bundle::{Limits, ReadPlan, Source, open_source};
use crate::error::LoadError;
pub use data::{DataFile, DataKind, LogKind};
pub use value::{ConfigNode, ConfigTree, ConfigValue, Lookup, ValueError};
pub use version::{ClusterVersion, VersionConstraint, VersionOrigin};

/// The components a TiDB cluster topology can list, in the order diag lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ComponentKind {
    /// Placement Driver.
    Pd,
    /// TiKV storage.
    Tikv,
    /// TiDB SQL layer.
    Tidb,
    /// TiFlash columnar storage.
    Tiflash,
    /// TiCDC change capture.
    Ticdc,
    /// TiDB Binlog pump.
    Pump,
    /// TiDB Binlog drainer.
    Drainer,
    /// TiSpark.
    Tispark,
    /// DM master.
    DmMaster,
    /// DM worker.
    DmWorker,
    /// Prometheus (and other monitoring) servers.
    Monitor,
}

impl ComponentKind {
    /// Every kind, in topology order.
    pub const ALL: [ComponentKind; 11] = [
        ComponentKind::Pd,
        ComponentKind::Tikv,
        ComponentKind::Tidb,
        ComponentKind::Tiflash,
        ComponentKind::Ticdc,
        ComponentKind::Pump,
        ComponentKind::Drainer,
        ComponentKind::Tispark,
        ComponentKind::DmMaster,
        ComponentKind::DmWorker,
        ComponentKind::Monitor,
    ];

    /// The key in `cluster.json` `topology` (`pd`, `tikv`, …, `dm-master`, `monitors`).
    pub fn topology_key(self) -> &'static str {
        match self {
            ComponentKind::Pd => "pd",
            ComponentKind::Tikv => "tikv",
            ComponentKind::Tidb => "tidb",
            ComponentKind::Tiflash => "tiflash",
            ComponentKind::Ticdc => "ticdc",
            ComponentKind::Pump => "pump",
            ComponentKind::Drainer => "drainer",
            ComponentKind::Tispark => "tispark",
            ComponentKind::DmMaster => "dm-master",
            ComponentKind::DmWorker => "dm-worker",
            ComponentKind::Monitor => "monitors",
        }
    }

    /// The key in TiUP `meta.yaml` `topology` (`pd_servers`, …).
    pub fn meta_yaml_key(self) -> &'static str {
        match self {
            ComponentKind::Pd => "pd_servers",
            ComponentKind::Tikv => "tikv_servers",
            ComponentKind::Tidb => "tidb_servers",
            ComponentKind::Tiflash => "tiflash_servers",
            ComponentKind::Ticdc => "cdc_servers",
            ComponentKind::Pump => "pump_servers",
            ComponentKind::Drainer => "drainer_servers",
            ComponentKind::Tispark => "tispark_workers",
            ComponentKind::DmMaster => "dm_master_servers",
            ComponentKind::DmWorker => "dm_worker_servers",
            ComponentKind::Monitor => "monitoring_servers",
        }
    }

    /// The name diag's rules use for this component's runtime config (`TidbConfig`, …).
    pub fn config_struct(self) -> &'static str {
        match self {
            ComponentKind::Pd => "PdConfig",
            ComponentKind::Tikv => "TikvConfig",
            ComponentKind::Tidb => "TidbConfig",
            ComponentKind::Tiflash => "TiflashConfig",
            ComponentKind::Ticdc => "TicdcConfig",
            ComponentKind::Pump => "PumpConfig",
            ComponentKind::Drainer => "DrainerConfig",
            ComponentKind::Tispark => "TisparkConfig",
            ComponentKind::DmMaster => "DmMasterConfig",
            ComponentKind::DmWorker => "DmWorkerConfig",
            ComponentKind::Monitor => "MonitorConfig",
        }
    }

    /// The kind whose [`ComponentKind::config_struct`] is `name`.
    pub fn from_config_struct(name: &str) -> Option<ComponentKind> {
        ComponentKind::ALL
            .into_iter()
            .find(|k| k.config_struct() == name)
    }

    /// The kind whose [`ComponentKind::topology_key`] is `key`.
    pub fn from_topology_key(key: &str) -> Option<ComponentKind> {
        ComponentKind::ALL
            .into_iter()
            .find(|k| k.topology_key() == key)
    }

    /// Whether diag collects a runtime `config.json` for this component.
    pub fn has_runtime_config(self) -> bool {
        matches!(
            self,
            ComponentKind::Pd | ComponentKind::Tikv | ComponentKind::Tidb | ComponentKind::Tiflash
        )
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ComponentKind::Pd => "PD",
            ComponentKind::Tikv => "TiKV",
            ComponentKind::Tidb => "TiDB",
            ComponentKind::Tiflash => "TiFlash",
            ComponentKind::Ticdc => "TiCDC",
            ComponentKind::Pump => "Pump",
            ComponentKind::Drainer => "Drainer",
            ComponentKind::Tispark => "TiSpark",
            ComponentKind::DmMaster => "DM master",
            ComponentKind::DmWorker => "DM worker",
            ComponentKind::Monitor => "Monitor",
        })
    }
}

/// How the cluster was deployed, which decides where instance data sits in the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// TiUP: `<host>/<deploy_dir>/conf/config.json`, logs under `<host>/<log_dir>/`.
    Tiup,
    /// TiDB Operator: `<pod>/conf/config.json`, logs under `logs/<pod>/`.
    Operator,
    /// `diag collect` with explicit endpoints: the TiUP layout.
    Manual,
}

/// The collection run a bundle is: `cluster.json`'s `session`, time range and collectors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// The sample (session) id, e.g. `fPrz0RnDxRn`.
    pub id: String,
    /// Start of the collected range, as written (RFC 3339, or relative like `-4h` in old bundles).
    pub begin_time: String,
    /// End of the collected range, as written.
    pub end_time: String,
    /// Collectors as written: coarse (`monitor`) or dotted (`monitor.metric`).
    pub collectors: Vec<String>,
}

impl Sample {
    /// Whether a collector group or leaf was enabled, accepting either spelling on both sides:
    /// `has_collector("monitor")` is true for `monitor.metric`, and `has_collector("log.slow")`
    /// for a coarse `log`.
    pub fn has_collector(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.collectors.iter().any(|c| {
            let c = c.to_ascii_lowercase();
            c == name || c.starts_with(&format!("{name}.")) || name.starts_with(&format!("{c}."))
        })
    }

    /// True when `begin_time` is relative (`-4h`) rather than a timestamp.
    pub fn begin_is_relative(&self) -> bool {
        self.begin_time.trim_start().starts_with('-')
    }

    /// The collected range as instants. A relative `begin_time` (`-4h`, old bundles) is taken
    /// back from `end_time`, as diag computed it at collection; `None` ends are unknown.
    ///
    /// ```
    /// # let mut s = diag_core::model::Sample { id: "x".into(), begin_time: "-4h".into(),
    /// #     end_time: "2022-02-07T12:00:00+08:00".into(), collectors: vec![] };
    /// let w = s.window();
    /// assert_eq!(w.begin.unwrap().to_string(), "2022-02-07T08:00:00.000+08:00");
    /// assert_eq!(w.begin_relative.as_deref(), Some("-4h"));
    /// ```
    pub fn window(&self) -> SampleWindow {
        let end = log::LogTime::parse_rfc3339(&self.end_time);
        if self.begin_is_relative() {
            let begin = end
                .zip(log::parse_span(&self.begin_time))
                .map(|(e, span)| e.plus_ms(-span));
            return SampleWindow {
                begin,
                end,
                begin_relative: Some(self.begin_time.trim().to_string()),
            };
        }
        SampleWindow {
            begin: log::LogTime::parse_rfc3339(&self.begin_time),
            end,
            begin_relative: None,
        }
    }
}

/// The sample's time range as instants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleWindow {
    /// Start; `None` when unknown or unreadable.
    pub begin: Option<log::LogTime>,
    /// End; `None` when unknown or unreadable.
    pub end: Option<log::LogTime>,
    /// The relative `begin_time` as written (`-4h`), when it was one.
    pub begin_relative: Option<String>,
}

impl SampleWindow {
    /// Whether `t` is inside the window (unknown ends are open).
    pub fn contains(&self, t: log::LogTime) -> bool {
        self.begin.is_none_or(|b| t >= b) && self.end.is_none_or(|e| t <= e)
    }
}

/// How a bundle is loaded: the archive [`Limits`] and the [`ReadPlan`] of what the check will
/// read. The default reads everything under the default limits.
///
/// ```
/// use diag_core::bundle::{DataKind, Limits, ReadPlan};
/// use diag_core::model::LoadOptions;
/// let options = LoadOptions::default()
///     .limits(Limits::default().with_max_entries(10_000))
///     .plan(ReadPlan::metadata().with(DataKind::RuntimeConfig));
/// let cluster = diag_core::Cluster::open_with("../../fixtures/minimal".as_ref(), &options).unwrap();
/// assert!(cluster.instances.iter().any(|i| i.config.tree().is_some()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Caps on what the bundle may hold.
    pub limits: Limits,
    /// What to read; everything else is only indexed.
    pub plan: ReadPlan,
}

impl LoadOptions {
    /// Sets the limits.
    pub fn limits(mut self, limits: Limits) -> LoadOptions {
        self.limits = limits;
        self
    }

    /// Sets the read plan.
    pub fn plan(mut self, plan: ReadPlan) -> LoadOptions {
        self.plan = plan;
        self
    }
}

/// An instance's runtime configuration (`conf/config.json`), or why there is none.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum InstanceConfig {
    /// Parsed.
    Loaded(Arc<ConfigTree>),
    /// No file where the layout puts it (`file` is where the loader looked).
    Absent {
        /// Bundle-relative path looked at.
        file: String,
    },
    /// The file exists but could not be used; the reason is also among the cluster's warnings.
    Invalid {
        /// Bundle-relative path.
        file: String,
        /// The load error, as text.
        reason: String,
    },
    /// The file exists but the read plan did not ask for runtime configs.
    NotRead {
        /// Bundle-relative path.
        file: String,
    },
}

impl InstanceConfig {
    /// The parsed tree, if any.
    pub fn tree(&self) -> Option<&ConfigTree> {
        match self {
            InstanceConfig::Loaded(t) => Some(t),
            _ => None,
        }
    }

    /// Where the configuration is (or was expected).
    pub fn file(&self) -> &str {
        match self {
            InstanceConfig::Loaded(t) => &t.file,
            InstanceConfig::Absent { file }
            | InstanceConfig::Invalid { file, .. }
            | InstanceConfig::NotRead { file } => file,
        }
    }
}

/// One running process of a component.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Its component.
    pub component: ComponentKind,
    /// Host (TiUP) or Pod IP (Operator).
    pub host: String,
    /// Service port (PD: client port).
    pub port: u16,
    /// Status port, when the topology gives one.
    pub status_port: Option<u16>,
    /// Pod name (Operator).
    pub pod: Option<String>,
    /// Deploy directory on the host (TiUP).
    pub deploy_dir: Option<String>,
    /// Log directory on the host (TiUP).
    pub log_dir: Option<String>,
    /// Data directory on the host (PD, TiKV, …).
    pub data_dir: Option<String>,
    /// The topology entry's `attributes`, as written.
    pub attributes: ConfigNode,
    /// Folder of this instance's data inside the bundle (`<pod>` or `<host>/<deploy_dir>`).
    pub dir: String,
    /// Runtime configuration.
    pub config: InstanceConfig,
    /// Everything else found for this instance: config files, logs, PD stores and placement rules.
    pub files: Vec<DataFile>,
}

impl Instance {
    /// `host:port`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// diag's row tag: `TidbConfig_172.20.21.213:4000`.
    pub fn tag(&self) -> String {
        format!(
            "{}_{}:{}",
            self.component.config_struct(),
            self.host,
            self.port
        )
    }

    /// A string attribute (`image`, `id`, `name`, …).
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(ConfigNode::as_str)
    }

    /// Files of one kind.
    pub fn files_of(&self, kind: DataKind) -> impl Iterator<Item = &DataFile> {
        self.files.iter().filter(move |f| f.kind == kind)
    }
}

/// A loaded bundle: the cluster, its sample, instances, indexed files and the loading warnings.
#[derive(Debug)]
pub struct Cluster {
    /// `cluster_name`.
    pub name: String,
    /// `cluster_id` (PD cluster id; may be empty for DM).
    pub id: String,
    /// `cluster_type`: `tidb-cluster` or `dm-cluster`.
    pub cluster_type: String,
    /// `deploy_type` as written: `tiup-cluster`, `tidb-operator`, `manual`.
    pub deploy_type: String,
    /// The layout the loader used.
    pub layout: Layout,
    /// Kubernetes namespace (Operator).
    pub namespace: Option<String>,
    /// `diag_version` of the collector, if recorded.
    pub diag_version: Option<String>,
    /// The version rules are selected by.
    pub version: ClusterVersion,
    /// The collection run.
    pub sample: Sample,
    /// Every instance, components in topology order, instances in bundle order.
    pub instances: Vec<Instance>,
    /// Per-host system files (`insight.json`, `limits.conf`, `sysctl.conf`, `dmesg.log`, `ss.txt`).
    pub hosts: BTreeMap<String, Vec<DataFile>>,
    /// Cluster-wide files: `tidbcluster.json`, `meta.yaml`, `db_vars/*.csv`, alerts, metrics.
    pub files: Vec<DataFile>,
    /// Everything that could not be used, in file order. Loading went on past each of them.
    pub warnings: Vec<LoadError>,
    /// The bundle's bytes.
    pub source: Arc<dyn Source>,
    /// What the performance rules read of the TiDB slow logs, computed on first use.
    pub(crate) slow_logs: std::sync::OnceLock<slowlog::Performance>,
}

impl Drop for Cluster {
    /// Frees the instances' config trees in parallel: a large bundle holds millions of nodes,
    /// and freeing them one by one is a serial tail after a parallel load.
    fn drop(&mut self) {
        use rayon::prelude::*;
        std::mem::take(&mut self.instances)
            .into_par_iter()
            .for_each(drop);
    }
}

impl Cluster {
    /// Opens a bundle (directory, `.zip`, `.tar.gz`/`.tgz`, `.tar.zst`, `.tar`) with the
    /// default [`LoadOptions`]: every file, default [`Limits`].
    ///
    /// ```
    /// let cluster = diag_core::Cluster::open("../../fixtures/minimal".as_ref()).unwrap();
    /// assert_eq!(cluster.name, "mini");
    /// ```
    pub fn open(path: &Path) -> Result<Cluster, LoadError> {
        Cluster::open_with(path, &LoadOptions::default())
    }

    /// Opens a bundle with caller-chosen limits and read plan. Runtime configs are parsed only
    /// when the plan wants [`DataKind::RuntimeConfig`]; every other file is indexed and parsed
    /// when asked.
    pub fn open_with(path: &Path, options: &LoadOptions) -> Result<Cluster, LoadError> {
        let opened = open_source(path, &options.limits, &options.plan)?;
        load::load(opened.source, opened.warnings, &options.plan)
    }

    /// Loads a bundle from an already opened source, such as one written outside this crate
    /// (an in-memory bundle): what [`Cluster::open_with`] does after [`open_source`].
    pub fn from_source(
        opened: crate::bundle::Opened,
        plan: &ReadPlan,
    ) -> Result<Cluster, LoadError> {
        load::load(opened.source, opened.warnings, plan)
    }

    /// Instances of one component, in bundle order.
    pub fn instances_of(&self, kind: ComponentKind) -> impl Iterator<Item = &Instance> {
        self.instances.iter().filter(move |i| i.component == kind)
    }

    /// Cluster-wide files of one kind.
    pub fn files_of(&self, kind: DataKind) -> impl Iterator<Item = &DataFile> {
        self.files.iter().filter(move |f| f.kind == kind)
    }

    /// What the performance rules read of every TiDB slow log in the sample window: each
    /// file streamed once on first use (the three rules and their CSV files share it), memory
    /// bounded by what [`slowlog::PerformanceAccumulator`] keeps.
    pub fn slow_log_performance(&self) -> &slowlog::Performance {
        self.slow_logs.get_or_init(|| slowlog::read_cluster(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(collectors: &[&str]) -> Sample {
        Sample {
            id: "f".into(),
            begin_time: "-4h".into(),
            end_time: String::new(),
            collectors: collectors.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn collectors_match_in_coarse_and_dotted_forms() {
        let coarse = sample(&["monitor", "config"]);
        assert!(coarse.has_collector("monitor.metric"));
        assert!(coarse.has_collector("config"));
        assert!(!coarse.has_collector("log.slow"));
        let dotted = sample(&["system", "monitor.metric", "log.std", "config.runtime"]);
        assert!(dotted.has_collector("monitor"));
        assert!(dotted.has_collector("LOG"));
        assert!(!dotted.has_collector("monitor.alert"));
        assert!(!dotted.has_collector("db_vars"));
        assert!(dotted.begin_is_relative());
    }

    #[test]
    fn component_names_round_trip() {
        for kind in ComponentKind::ALL {
            assert_eq!(
                ComponentKind::from_config_struct(kind.config_struct()),
                Some(kind)
            );
            assert_eq!(
                ComponentKind::from_topology_key(kind.topology_key()),
                Some(kind)
            );
        }
    }
}
