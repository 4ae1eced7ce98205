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
//!   "instances": [ { "component": "pd", "tag": "PdConfig_1.2.3.4:2379", "host", "port", "status_port"?,
//!                    "pod"?, "dir", "config": { "state": "loaded|absent|invalid", "file", "keys"?, "reason"? },
//!                    "files": [ { "kind", "path", "size" } ], "system": [ { "kind", "path", "size" } ],
//!                    "metrics": <count of metric files named after this instance> } ],
//!   "cluster_files": [ { "kind", "path", "size" } ],
//!   "hosts": [ { "host", "instances": [tag..], "files": [ { "kind", "path", "size" } ], "missing": [file name..] } ],
//!   "summary": { "instances", "configs_loaded", "logs", "system_files", "metric_files", "warnings" },
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
                };
                let suffix = format!(".{}-{}.json", inst.host, inst.port);
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
        let _ = writeln!(
            out,
            "Sample   {} from {} to {}",
            s.id, s.begin_time, s.end_time
        );
        let _ = writeln!(out, "         collectors [{}]", s.collectors.join(" "));
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Instances ({}, {} with runtime config)",
            self.summary.instances, self.summary.configs_loaded
        );
        for i in &self.instances {
            let mut data = Vec::new();
            data.push(match i.config.state {
                "loaded" => format!("config ({} keys)", i.config.keys.unwrap_or(0)),
                "invalid" => "config INVALID".to_string(),
                _ => "no config".to_string(),
            });
            let count =
                |pred: &dyn Fn(&FileInfo) -> bool| i.files.iter().filter(|f| pred(f)).count();
            let logs = count(&|f| f.kind.starts_with("log."));
            let conf = count(&|f| f.kind == "config_file");
            let pd = count(&|f| f.kind == "pd_stores" || f.kind == "placement_rules");
            if conf > 0 {
                data.push(format!("{conf} config file(s)"));
            }
            if pd > 0 {
                data.push(format!("{pd} PD API dump(s)"));
            }
            if logs > 0 {
                data.push(format!("{logs} log(s)"));
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
        let mut kinds: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for f in &self.cluster_files {
            *kinds.entry(f.kind.as_str()).or_default() += 1;
        }
        for (kind, n) in kinds {
            let _ = writeln!(out, "  {kind:<16} {n}");
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
        let have: Vec<&str> = HOST_FILES
            .iter()
            .map(|(_, name)| *name)
            .filter(|name| !h.missing.contains(name))
            .collect();
        let data = if have.is_empty() {
            "no system data".to_string()
        } else if h.missing.is_empty() {
            have.join(" ")
        } else {
            format!("{} (missing {})", have.join(" "), h.missing.join(" "))
        };
        let _ = writeln!(
            out,
            "  {:<28} {:>2} instance(s)  {data}",
            h.host,
            h.instances.len()
        );
    }
}
