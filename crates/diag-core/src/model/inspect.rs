//! What `diag-check inspect` shows rule authors: the model as loaded, as stable JSON or text.
//!
//! The JSON shape (`"schema": "diag-check/inspect/v1"`) only ever gains fields:
//!
//! ```text
//! {
//!   "schema": "diag-check/inspect/v1",
//!   "source":  { "kind": "directory|zip|tar_gz", "location": "<path given>" },
//!   "cluster": { "name", "id", "type", "deploy_type", "layout": "tiup|operator|manual", "namespace"?, "diag_version"? },
//!   "version": { "text": "v5.4.0", "origin": "topology|meta_yaml|tidb_image|pd_image|nightly", "reason": "…" },
//!   "sample":  { "id", "begin_time", "end_time", "collectors": [..] },
//!   "window":  { "begin": RFC 3339 | null, "end": RFC 3339 | null, "begin_relative": "-4h" | null },
//!   "instances": [ { "component": "pd", "tag": "PdConfig_1.2.3.4:2379", "host", "port", "status_port"?,
//!                    "pod"?, "dir", "config": { "state": "loaded|absent|invalid|not_read", "file", "keys"?, "reason"? },
//!                    "files": [ { "kind", "path", "size" } ], "system": [ { "kind", "path", "size" } ],
//!                    "metrics": <count of metric files named after this instance>,
//!                    "sources": [ { "kind", "files", "bytes" } ] } ],
//!   "cluster_files": [ { "kind", "path", "size" } ],
//!   "hosts": [ { "host", "instances": [tag..], "files": [ { "kind", "path", "size" } ], "missing": [file name..],
//!                "sources": [ { "kind", "files", "bytes" } ] } ],
//!   "summary": { "instances", "configs_loaded", "logs", "system_files", "metric_files", "warnings",
//!                "indexed_files", "indexed_bytes" },
//!   "warnings": [ { "kind", "file"?, "message" } ]
//! }
//! ```

use std::fmt::Write as _;

use serde::Serialize;

use super::data::{DataFile, DataKind};
use super::{Cluster, InstanceConfig, Layout};
use crate::bundle::SourceKind;

/// Identifies the JSON shape below.
pub const SCHEMA: &str = "diag-check/inspect/v1";

/// The whole inspection.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The container.
    pub source: SourceInfo,
    /// Cluster identity.
    pub cluster: ClusterInfo,
    /// The version rules select by, and why.
    pub version: super::ClusterVersion,
    /// The collection run.
    pub sample: super::Sample,
    /// The sample's time range as parsed (a relative `begin_time` taken back from `end_time`).
    pub window: WindowInfo,
    /// Every instance with the data present for it.
    pub instances: Vec<InstanceInfo>,
    /// Cluster-wide files.
    pub cluster_files: Vec<FileInfo>,
    /// Every host with the system data it has (none for an Operator bundle).
    pub hosts: Vec<HostInfo>,
    /// Counts.
    pub summary: Summary,
    /// Loading warnings, in file order.
    pub warnings: Vec<WarningInfo>,
}

/// The sample window as instants.
#[derive(Debug, Clone, Serialize)]
pub struct WindowInfo {
    /// Start, RFC 3339; `None` when unknown.
    pub begin: Option<String>,
    /// End, RFC 3339; `None` when unknown.
    pub end: Option<String>,
    /// `begin_time` as written when it was relative (`-4h`).
    pub begin_relative: Option<String>,
}

/// Where the bundle came from.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    /// Container kind.
    pub kind: SourceKind,
    /// The path as given.
    pub location: String,
}

/// Cluster identity.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterInfo {
    /// `cluster_name`.
    pub name: String,
    /// `cluster_id`.
    pub id: String,
    /// `cluster_type`.
    #[serde(rename = "type")]
    pub cluster_type: String,
    /// `deploy_type` as written.
    pub deploy_type: String,
    /// The layout the loader used.
    pub layout: Layout,
    /// Kubernetes namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The collector's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diag_version: Option<String>,
}

/// One instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceInfo {
    /// Component (`pd`, `tikv`, …).
    pub component: super::ComponentKind,
    /// diag's row tag.
    pub tag: String,
    /// Host or Pod IP.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Status port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_port: Option<u16>,
    /// Pod name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Folder in the bundle.
    pub dir: String,
    /// Runtime config state.
    pub config: ConfigInfo,
    /// Config files, logs, PD stores/placement rules.
    pub files: Vec<FileInfo>,
    /// System files of the instance's host.
    pub system: Vec<FileInfo>,
    /// Metric files whose name carries this instance's address.
    pub metrics: usize,
    /// Every data source present for the instance (its runtime config, config files, logs by
    /// type, PD dumps), with file counts and bytes.
    pub sources: Vec<SourceSummary>,
}

/// One kind of data present, with how many files and bytes.
#[derive(Debug, Clone, Serialize)]
pub struct SourceSummary {
    /// The kind (`runtime_config`, `config_file`, `log.std`, `sysctl`, …).
    pub kind: String,
    /// Files of that kind.
    pub files: usize,
    /// Their bytes in the bundle.
    pub bytes: u64,
}

/// File counts and bytes by kind, in kind order.
fn summarise<'a>(files: impl Iterator<Item = (String, u64)> + 'a) -> Vec<SourceSummary> {
    let mut by_kind: std::collections::BTreeMap<String, (usize, u64)> = Default::default();
    for (kind, size) in files {
        let slot = by_kind.entry(kind).or_default();
        slot.0 += 1;
        slot.1 += size;
    }
    by_kind
        .into_iter()
        .map(|(kind, (files, bytes))| SourceSummary { kind, files, bytes })
        .collect()
}

/// Bytes for people: `512 B`, `12.3 KiB`, `1.2 GiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Runtime config state of an instance.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigInfo {
    /// `loaded`, `absent` or `invalid`.
    pub state: &'static str,
    /// Where it is (or was looked for).
    pub file: String,
    /// Top-level keys, when loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<usize>,
    /// Why it is invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One indexed file.
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    /// What it holds (`config_file`, `log.std`, `insight`, `metric`, …).
    pub kind: String,
    /// Bundle-relative path.
    pub path: String,
    /// Bytes.
    pub size: u64,
}

/// Counts over the whole bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Instances.
    pub instances: usize,
    /// Instances whose runtime config loaded.
    pub configs_loaded: usize,
    /// Log files.
    pub logs: usize,
    /// Per-host system files.
    pub system_files: usize,
    /// Metric files.
    pub metric_files: usize,
    /// Loading warnings.
    pub warnings: usize,
    /// Files in the bundle's index (everything, used or not).
    pub indexed_files: usize,
    /// Their bytes.
    pub indexed_bytes: u64,
}

/// One loading warning.
#[derive(Debug, Clone, Serialize)]
pub struct WarningInfo {
    /// Stable short name of the error variant.
    pub kind: &'static str,
    /// The file it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The full message.
    pub message: String,
}

fn file_info(f: &DataFile) -> FileInfo {
    FileInfo {
        kind: f.kind.to_string(),
        path: f.path.clone(),
        size: f.size,
    }
}

impl Inspection {
    /// Builds the inspection of a loaded cluster.
    pub fn of(cluster: &Cluster) -> Inspection {
        let metrics: Vec<&DataFile> = cluster.files_of(DataKind::Metric).collect();
        let instances = cluster
            .instances
            .iter()
            .map(|inst| {
                let config = match &inst.config {
                    InstanceConfig::Loaded(t) => ConfigInfo {
                        state: "loaded",
                        file: t.file.to_string(),
                        keys: t.root.as_map().map(|m| m.len()),
                        reason: None,
                    },
                    InstanceConfig::Absent { file } => ConfigInfo {
                        state: "absent",
                        file: file.clone(),
                        keys: None,
                        reason: None,
                    },
                    InstanceConfig::Invalid { file, reason } => ConfigInfo {
                        state: "invalid",
                        file: file.clone(),
                        keys: None,
                        reason: Some(reason.clone()),
                    },
                    InstanceConfig::NotRead { file } => ConfigInfo {
                        state: "not_read",
                        file: file.clone(),
                        keys: None,
                        reason: None,
                    },
                };
                let suffix = format!(".{}-{}.json", inst.host, inst.port);
                let config_size = cluster
                    .source
                    .index()
                    .get(inst.config.file())
                    .map(|e| e.size);
                let sources = summarise(
                    config_size
                        .map(|size| (DataKind::RuntimeConfig.to_string(), size))
                        .into_iter()
                        .chain(inst.files.iter().map(|f| (f.kind.to_string(), f.size))),
                );
                InstanceInfo {
                    component: inst.component,
                    tag: inst.tag(),
                    host: inst.host.clone(),
                    port: inst.port,
                    status_port: inst.status_port,
                    pod: inst.pod.clone(),
                    dir: inst.dir.clone(),
                    config,
                    files: inst.files.iter().map(file_info).collect(),
                    system: cluster
                        .hosts
                        .get(&inst.host)
                        .map(|fs| fs.iter().map(file_info).collect())
                        .unwrap_or_default(),
                    metrics: metrics.iter().filter(|m| m.path.ends_with(&suffix)).count(),
                    sources,
                }
            })
            .collect();
        let summary = Summary {
            instances: cluster.instances.len(),
            configs_loaded: cluster
                .instances
                .iter()
                .filter(|i| i.config.tree().is_some())
                .count(),
            logs: cluster
                .instances
                .iter()
                .flat_map(|i| &i.files)
                .filter(|f| matches!(f.kind, DataKind::Log(_)))
                .count(),
            system_files: cluster.hosts.values().map(Vec::len).sum(),
            metric_files: metrics.len(),
            warnings: cluster.warnings.len(),
            indexed_files: cluster.source.index().len(),
            indexed_bytes: cluster.source.index().values().map(|e| e.size).sum(),
        };
        Inspection {
            schema: SCHEMA,
            source: SourceInfo {
                kind: cluster.source.kind(),
                location: cluster.source.location().display().to_string(),
            },
            cluster: ClusterInfo {
                name: cluster.name.clone(),
                id: cluster.id.clone(),
                cluster_type: cluster.cluster_type.clone(),
                deploy_type: cluster.deploy_type.clone(),
                layout: cluster.layout,
                namespace: cluster.namespace.clone(),
                diag_version: cluster.diag_version.clone(),
            },
            version: cluster.version.clone(),
            sample: cluster.sample.clone(),
            window: {
                let w = cluster.sample.window();
                WindowInfo {
                    begin: w.begin.map(|t| t.to_string()),
                    end: w.end.map(|t| t.to_string()),
                    begin_relative: w.begin_relative,
                }
            },
            instances,
            cluster_files: cluster.files.iter().map(file_info).collect(),
            hosts: hosts_of(cluster),
            summary,
            warnings: cluster
                .warnings
                .iter()
                .map(|w| WarningInfo {
                    kind: w.kind(),
                    file: w.file().map(String::from),
                    message: w.to_string(),
                })
                .collect(),
        }
    }

    /// Pretty JSON (two-space indent, trailing newline).
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        out.push('\n');
        out
    }

    /// A human-readable summary for the terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let c = &self.cluster;
        let _ = writeln!(
            out,
            "Bundle   {} ({})",
            self.source.location, self.source.kind
        );
        let _ = writeln!(
            out,
            "         {} files, {}",
            self.summary.indexed_files,
            human(self.summary.indexed_bytes)
        );
        let _ = writeln!(
            out,
            "Cluster  {} (id {}, {}, {})",
            c.name,
            if c.id.is_empty() { "-" } else { &c.id },
            c.cluster_type,
            c.deploy_type
        );
        if let Some(ns) = &c.namespace {
            let _ = writeln!(out, "         namespace {ns}");
        }
        let _ = writeln!(
            out,
            "Version  {} ({})",
            self.version.text, self.version.reason
        );
        let s = &self.sample;
        let begin = match (&self.window.begin_relative, &self.window.begin) {
            (Some(rel), Some(at)) => format!("{at} (begin_time `{rel}`, relative to end_time)"),
            (Some(rel), None) => {
                format!("{rel} (relative, and end_time is unknown: start unknown)")
            }
            (None, _) => s.begin_time.clone(),
        };
        let _ = writeln!(out, "Sample   {} from {} to {}", s.id, begin, s.end_time);
        let _ = writeln!(out, "         collectors [{}]", s.collectors.join(" "));
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Instances ({}, {} with runtime config)",
            self.summary.instances, self.summary.configs_loaded
        );
        for i in &self.instances {
            let sized = |pred: &dyn Fn(&str) -> bool| {
                i.sources
                    .iter()
                    .filter(|s| pred(&s.kind))
                    .fold((0, 0), |(n, b), s| (n + s.files, b + s.bytes))
            };
            let mut data = Vec::new();
            data.push(match i.config.state {
                "loaded" => format!(
                    "config ({} keys, {})",
                    i.config.keys.unwrap_or(0),
                    human(sized(&|k| k == "runtime_config").1)
                ),
                "invalid" => "config INVALID".to_string(),
                "not_read" => "config not read".to_string(),
                _ => "no config".to_string(),
            });
            let logs = sized(&|k| k.starts_with("log."));
            let conf = sized(&|k| k == "config_file");
            let pd = sized(&|k| k == "pd_stores" || k == "placement_rules");
            if conf.0 > 0 {
                data.push(format!("{} config file(s) {}", conf.0, human(conf.1)));
            }
            if pd.0 > 0 {
                data.push(format!("{} PD API dump(s) {}", pd.0, human(pd.1)));
            }
            if logs.0 > 0 {
                data.push(format!("{} log(s) {}", logs.0, human(logs.1)));
            }
            if !i.system.is_empty() {
                data.push(format!("{} system file(s)", i.system.len()));
            }
            if i.metrics > 0 {
                data.push(format!("{} metric file(s)", i.metrics));
            }
            let where_ = i
                .pod
                .as_deref()
                .map(|p| format!("pod {p}"))
                .unwrap_or_else(|| i.dir.clone());
            let _ = writeln!(out, "  {:<40} {:<28} {}", i.tag, where_, data.join(", "));
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "Cluster files ({})", self.cluster_files.len());
        for s in summarise(self.cluster_files.iter().map(|f| (f.kind.clone(), f.size))) {
            let _ = writeln!(out, "  {:<16} {:<5} {}", s.kind, s.files, human(s.bytes));
        }
        let _ = writeln!(out);
        write_hosts(&mut out, self);
        let _ = writeln!(out);
        if self.warnings.is_empty() {
            let _ = writeln!(out, "Warnings: none");
        } else {
            let _ = writeln!(out, "Warnings ({})", self.warnings.len());
            for w in &self.warnings {
                let _ = writeln!(out, "  {}", w.message);
            }
        }
        out
    }
}

/// One host and the system data collected on it.
#[derive(Debug, Clone, Serialize)]
pub struct HostInfo {
    /// Host address or name, as the host folder is named.
    pub host: String,
    /// Tags of the instances on it, in bundle order.
    pub instances: Vec<String>,
    /// Its system files (`insight.json`, `limits.conf`, `sysctl.conf`, `dmesg.log`, `ss.txt`).
    pub files: Vec<FileInfo>,
    /// The system files diag writes per host that this host lacks.
    pub missing: Vec<&'static str>,
    /// Its files by kind, with counts and bytes.
    pub sources: Vec<SourceSummary>,
}

/// The system files `diag collect --include system` writes for each host.
const HOST_FILES: [(DataKind, &str); 5] = [
    (DataKind::Insight, "insight.json"),
    (DataKind::Limits, "limits.conf"),
    (DataKind::Sysctl, "sysctl.conf"),
    (DataKind::Dmesg, "dmesg.log"),
    (DataKind::Sockets, "ss.txt"),
];

/// Hosts of a TiUP or manual bundle (host folders and instance hosts; addresses in numeric
/// order, then names). An Operator bundle's pod IPs are not hosts: it has none.
fn hosts_of(cluster: &Cluster) -> Vec<HostInfo> {
    if cluster.layout == Layout::Operator {
        return Vec::new();
    }
    let mut hosts: Vec<&str> = cluster.hosts.keys().map(String::as_str).collect();
    hosts.extend(cluster.instances.iter().map(|i| i.host.as_str()));
    hosts.sort_unstable_by_key(|h| (h.parse::<std::net::IpAddr>().ok(), *h));
    hosts.dedup();
    hosts
        .into_iter()
        .map(|host| {
            let files = cluster.hosts.get(host).map(Vec::as_slice).unwrap_or(&[]);
            HostInfo {
                host: host.to_string(),
                instances: cluster
                    .instances
                    .iter()
                    .filter(|i| i.host == host)
                    .map(|i| i.tag())
                    .collect(),
                files: files.iter().map(file_info).collect(),
                missing: HOST_FILES
                    .iter()
                    .filter(|(k, _)| !files.iter().any(|f| f.kind == *k))
                    .map(|(_, name)| *name)
                    .collect(),
                sources: summarise(files.iter().map(|f| (f.kind.to_string(), f.size))),
            }
        })
        .collect()
}

fn write_hosts(out: &mut String, inspection: &Inspection) {
    if inspection.cluster.layout == Layout::Operator {
        let _ = writeln!(
            out,
            "Hosts: none (an Operator bundle has no host data: system rules have nothing to read)"
        );
        return;
    }
    let _ = writeln!(out, "Hosts ({})", inspection.hosts.len());
    for h in &inspection.hosts {
        let have: Vec<String> = h
            .sources
            .iter()
            .map(|s| format!("{} {}", s.kind, human(s.bytes)))
            .collect();
        let data = if have.is_empty() {
            "no system data".to_string()
        } else if h.missing.is_empty() {
            have.join(", ")
        } else {
            format!("{} (missing {})", have.join(", "), h.missing.join(" "))
        };
        let _ = writeln!(
            out,
            "  {:<28} {:>2} instance(s)  {data}",
            h.host,
            h.instances.len()
        );
    }
}
