//! Bundle → model: reads `cluster.json` (or `meta.yaml`), builds instances, parses runtime
//! configs in parallel and indexes every other file. Only an unusable top level is fatal.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use rayon::prelude::*;

use super::data::{DataFile, DataKind, LogKind, parse_json, parse_yaml};
use super::value::{ConfigNode, ConfigValue};
use super::version::{ClusterVersion, VersionOrigin};
use super::{Cluster, ComponentKind, Instance, InstanceConfig, Layout, Sample};
use crate::bundle::ReadPlan;
use crate::bundle::Source;
use crate::error::LoadError;

pub(super) fn load(
    source: Arc<dyn Source>,
    mut warnings: Vec<LoadError>,
    plan: &ReadPlan,
) -> Result<Cluster, LoadError> {
    let entries = source.index();
    let has = |p: &str| entries.contains_key(p);

    // Top level: cluster.json, else meta.yaml; a broken cluster.json falls back to meta.yaml.
    let cluster_json = if has("cluster.json") {
        match source
            .read("cluster.json")
            .and_then(|b| parse_json("cluster.json", &b))
        {
            Ok(tree) if tree.root.as_map().is_some() => Some(tree),
            Ok(tree) => {
                let err = schema("cluster.json", &tree.root, "", "a JSON object");
                if !has("meta.yaml") {
                    return Err(err);
                }
                warnings.push(err);
                None
            }
            Err(e) if !has("meta.yaml") => return Err(e),
            Err(e) => {
                warnings.push(e);
                None
            }
        }
    } else {
        None
    };
    let meta_yaml = if has("meta.yaml") {
        match source
            .read("meta.yaml")
            .and_then(|b| parse_yaml("meta.yaml", b))
        {
            Ok(tree) => Some(tree),
            Err(e) if cluster_json.is_none() => return Err(e),
            Err(e) => {
                warnings.push(e);
                None
            }
        }
    } else {
        None
    };
    let empty = ConfigNode::new(ConfigValue::Map(Default::default()));
    let top = cluster_json.as_ref().map(|t| &t.root).unwrap_or(&empty);
    let mut fields = Fields {
        file: "cluster.json",
        warnings: &mut warnings,
    };
    let name = fields
        .string(top, "cluster_name")
        .or_else(|| {
            meta_yaml
                .as_ref()
                .and_then(|m| m.root.get("cluster_name").map(ConfigNode::to_text))
        })
        .unwrap_or_default();
    let id = fields.string(top, "cluster_id").unwrap_or_default();
    let cluster_type = fields
        .string(top, "cluster_type")
        .unwrap_or_else(|| "tidb-cluster".into());
    let diag_version = fields.string(top, "diag_version");
    let sample = Sample {
        id: fields.string(top, "session").unwrap_or_default(),
        begin_time: fields.string(top, "begin_time").unwrap_or_default(),
        end_time: fields.string(top, "end_time").unwrap_or_default(),
        collectors: fields.string_list(top, "collectors"),
    };
    let mut deploy_type = fields.string(top, "deploy_type").unwrap_or_default();
    let layout = match deploy_type.as_str() {
        "tidb-operator" => Layout::Operator,
        "tiup-cluster" => Layout::Tiup,
        "manual" => Layout::Manual,
        _ if has("tidbcluster.json") => Layout::Operator,
        _ => Layout::Tiup,
    };
    if deploy_type.is_empty() {
        deploy_type = match layout {
            Layout::Operator => "tidb-operator",
            Layout::Tiup => "tiup-cluster",
            Layout::Manual => "manual",
        }
        .into();
    }

    // Topology: cluster.json's, else meta.yaml's (as diag does when it is null).
    let topology = top
        .get("topology")
        .filter(|t| !matches!(t.value, ConfigValue::Null));
    let (mut instances, namespace, topo_version, origin) = match (topology, &meta_yaml) {
        (Some(topo), _) if topo.as_map().is_some() => {
            let version = topo.get("version").map(ConfigNode::to_text);
            let ns = topo
                .get("namespace")
                .and_then(ConfigNode::as_str)
                .map(String::from);
            (
                instances_from_cluster_json(topo, layout, &mut warnings),
                ns,
                version,
                VersionOrigin::Topology,
            )
        }
        (Some(topo), _) => {
            warnings.push(schema(
                "cluster.json",
                topo,
                "topology",
                "an object with pd, tikv, tidb, … lists",
            ));
            (Vec::new(), None, None, VersionOrigin::Topology)
        }
        (None, Some(meta)) => {
            let version = meta.root.get("tidb_version").map(ConfigNode::to_text);
            (
                instances_from_meta_yaml(&meta.root, &mut warnings, &|dir: &str| {
                    // Whether the bundle holds anything under `dir/`.
                    let prefix = format!("{dir}/");
                    entries
                        .range(prefix.clone()..)
                        .next()
                        .is_some_and(|(k, _)| k.starts_with(&prefix))
                }),
                None,
                version,
                VersionOrigin::MetaYaml,
            )
        }
        (None, None) => {
            warnings.push(LoadError::Schema {
                file: "cluster.json".into(),
                line: top.get("topology").map(|t| t.line).unwrap_or(0),
                field: "topology".into(),
                expected:
                    "the cluster topology (or a meta.yaml beside cluster.json); no instances loaded"
                        .into(),
                found: if top.get("topology").is_some() {
                    "null".into()
                } else {
                    "nothing".into()
                },
            });
            (Vec::new(), None, None, VersionOrigin::Topology)
        }
    };
    let image_of = |kind: ComponentKind| {
        instances
            .iter()
            .find(|i: &&Instance| i.component == kind)
            .and_then(|i| i.attribute("image"))
            .map(String::from)
    };
    let version = ClusterVersion::decide(
        topo_version.as_deref(),
        origin,
        image_of(ComponentKind::Tidb).as_deref(),
        image_of(ComponentKind::Pd).as_deref(),
    );
    for inst in &mut instances {
        inst.dir = instance_dir(inst, layout);
    }

    // Runtime configs, in parallel: the bulk of a bundle's bytes.
    let parsed: Vec<(InstanceConfig, Option<LoadError>)> = instances
        .par_iter()
        .map(|inst| {
            let file = format!("{}conf/config.json", dir_prefix(&inst.dir));
            if !entries.contains_key(&file) {
                let missing =
                    inst.component
                        .has_runtime_config()
                        .then(|| LoadError::MissingConfig {
                            file: file.clone(),
                            component: inst.component.to_string(),
                            address: inst.address(),
                        });
                return (InstanceConfig::Absent { file }, missing);
            }
            if !plan.wants(&file, Some(DataKind::RuntimeConfig)) {
                return (InstanceConfig::NotRead { file }, None);
            }
            match source.read(&file).and_then(|b| parse_json(&file, &b)) {
                Ok(tree) if tree.root.as_map().is_some() => {
                    (InstanceConfig::Loaded(Arc::new(tree)), None)
                }
                Ok(tree) => {
                    let err = schema(
                        &file,
                        &tree.root,
                        "",
                        "a JSON object (the component's runtime config)",
                    );
                    (
                        InstanceConfig::Invalid {
                            file,
                            reason: err.to_string(),
                        },
                        Some(err),
                    )
                }
                Err(err) => (
                    InstanceConfig::Invalid {
                        file,
                        reason: err.to_string(),
                    },
                    Some(err),
                ),
            }
        })
        .collect();
    for (inst, (config, warning)) in instances.iter_mut().zip(parsed) {
        inst.config = config;
        warnings.extend(warning);
    }

    let (hosts, files) = index_files(&source, &mut instances, layout);

    warnings.sort_by(|a, b| {
        (a.file().unwrap_or(""), a.to_string()).cmp(&(b.file().unwrap_or(""), b.to_string()))
    });
    Ok(Cluster {
        name,
        id,
        cluster_type,
        deploy_type,
        layout,
        namespace,
        diag_version,
        version,
        sample,
        instances,
        hosts,
        files,
        warnings,
        source,
        slow_logs: std::sync::OnceLock::new(),
    })
}

fn schema(file: &str, node: &ConfigNode, field: &str, expected: &str) -> LoadError {
    LoadError::Schema {
        file: file.to_string(),
        line: node.line,
        field: field.to_string(),
        expected: expected.to_string(),
        found: format!("{} {}", node.type_name(), short(node)),
    }
}

/// The `host` of a topology entry; a warning when it is absent, empty or not a string.
fn host_of<'a>(
    spec: &'a ConfigNode,
    file: &str,
    field: &str,
    warnings: &mut Vec<LoadError>,
) -> Option<&'a str> {
    let host = spec
        .get("host")
        .and_then(ConfigNode::as_str)
        .filter(|h| !h.is_empty());
    if host.is_none() {
        warnings.push(missing_or_wrong(
            file,
            spec,
            "host",
            field,
            "a host name or IP",
        ));
    }
    host
}

/// A required field that is absent (`found nothing`) or of the wrong type.
fn missing_or_wrong(
    file: &str,
    parent: &ConfigNode,
    key: &str,
    field: &str,
    expected: &str,
) -> LoadError {
    let field = format!("{field}.{key}");
    match parent.get(key) {
        Some(node) => schema(file, node, &field, expected),
        None => LoadError::Schema {
            file: file.to_string(),
            line: parent.line,
            field,
            expected: expected.to_string(),
            found: "nothing".into(),
        },
    }
}

fn short(node: &ConfigNode) -> String {
    let text = node.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// Reads top-level fields, recording a warning (not failing) for each wrong type.
struct Fields<'a> {
    file: &'a str,
    warnings: &'a mut Vec<LoadError>,
}

impl Fields<'_> {
    fn string(&mut self, node: &ConfigNode, key: &str) -> Option<String> {
        match node.get(key).map(|n| (n, &n.value)) {
            None | Some((_, ConfigValue::Null)) => None,
            Some((_, ConfigValue::String(s))) => Some(s.clone()),
            Some((n, ConfigValue::Int(_) | ConfigValue::UInt(_))) => Some(n.to_string()),
            Some((n, _)) => {
                self.warnings.push(schema(self.file, n, key, "a string"));
                None
            }
        }
    }

    fn string_list(&mut self, node: &ConfigNode, key: &str) -> Vec<String> {
        match node.get(key) {
            None => Vec::new(),
            Some(n) => match n.as_array() {
                Some(items) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| match item.as_str() {
                        Some(s) => Some(s.to_string()),
                        None => {
                            self.warnings.push(schema(
                                self.file,
                                item,
                                &format!("{key}.{i}"),
                                "a string",
                            ));
                            None
                        }
                    })
                    .collect(),
                None => {
                    self.warnings
                        .push(schema(self.file, n, key, "a list of strings"));
                    Vec::new()
                }
            },
        }
    }
}

fn port_of(
    node: &ConfigNode,
    key: &str,
    file: &str,
    field: &str,
    warnings: &mut Vec<LoadError>,
) -> Option<u16> {
    let n = node.get(key)?;
    match n.to_int().ok().and_then(|p| u16::try_from(p).ok()) {
        Some(0) => None,
        Some(p) => Some(p),
        None => {
            warnings.push(schema(
                file,
                n,
                &format!("{field}.{key}"),
                "a port number (0-65535)",
            ));
            None
        }
    }
}

fn blank_instance(component: ComponentKind, host: String, port: u16) -> Instance {
    Instance {
        component,
        host,
        port,
        status_port: None,
        pod: None,
        deploy_dir: None,
        log_dir: None,
        data_dir: None,
        attributes: ConfigNode::new(ConfigValue::Map(Default::default())),
        dir: String::new(),
        config: InstanceConfig::Absent {
            file: String::new(),
        },
        files: Vec::new(),
    }
}

/// Keeps the first of each (component, host, port); warns for the others.
struct Dedup {
    file: &'static str,
    seen: HashSet<(ComponentKind, String, u16)>,
}

impl Dedup {
    fn admit(&mut self, inst: &Instance, index: usize, warnings: &mut Vec<LoadError>) -> bool {
        if self
            .seen
            .insert((inst.component, inst.host.clone(), inst.port))
        {
            return true;
        }
        warnings.push(LoadError::DuplicateInstance {
            file: self.file.into(),
            component: inst.component.to_string(),
            address: inst.address(),
            index,
        });
        false
    }
}

fn instances_from_cluster_json(
    topo: &ConfigNode,
    layout: Layout,
    warnings: &mut Vec<LoadError>,
) -> Vec<Instance> {
    let file = "cluster.json";
    let mut out = Vec::new();
    let mut dedup = Dedup {
        file,
        seen: HashSet::new(),
    };
    for kind in ComponentKind::ALL {
        let key = kind.topology_key();
        let Some(list) = topo.get(key) else { continue };
        let items = match &list.value {
            ConfigValue::Null => continue,
            ConfigValue::Array(items) => items,
            _ => {
                warnings.push(schema(
                    file,
                    list,
                    &format!("topology.{key}"),
                    "a list of instances",
                ));
                continue;
            }
        };
        for (index, spec) in items.iter().enumerate() {
            let field = format!("topology.{key}.{index}");
            let Some(host) = host_of(spec, file, &field, warnings) else {
                continue;
            };
            let port = port_of(spec, "port", file, &field, warnings).unwrap_or(0);
            let mut inst = blank_instance(kind, host.to_string(), port);
            inst.status_port = port_of(spec, "status_port", file, &field, warnings);
            if let Some(attrs) = spec.get("attributes") {
                if attrs.as_map().is_some() {
                    inst.attributes = attrs.clone();
                } else if !matches!(attrs.value, ConfigValue::Null) {
                    warnings.push(schema(file, attrs, &format!("{field}.attributes"), "a map"));
                }
            }
            if inst.attributes.line == 0 {
                inst.attributes.line = spec.line;
            }
            let attr = |k: &str| {
                inst.attributes
                    .get(k)
                    .and_then(ConfigNode::as_str)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
            };
            inst.pod = attr("pod");
            inst.deploy_dir = attr("deploy_dir");
            inst.log_dir = attr("log_dir");
            inst.data_dir = attr("data_dir");
            if layout == Layout::Operator && inst.pod.is_none() && kind != ComponentKind::Monitor {
                warnings.push(missing_or_wrong(
                    file,
                    &inst.attributes,
                    "pod",
                    &format!("{field}.attributes"),
                    "the Pod name (Operator bundles keep instance data under <pod>/)",
                ));
            }
            if dedup.admit(&inst, index, warnings) {
                out.push(inst);
            }
        }
    }
    out
}

/// Instances of a TiUP `meta.yaml`. A relative `deploy_dir` (clusters imported from TiDB
/// Ansible keep them) is read where diag reads it, `<host>/<deploy_dir>` as written (diag joins
/// it to the host folder as is), else below `global.deploy_dir` (a TiUP topology's meaning),
/// else at TiUP's absolute form `/home/<user>/<deploy_dir>`: the first that the bundle holds.
fn instances_from_meta_yaml(
    meta: &ConfigNode,
    warnings: &mut Vec<LoadError>,
    bundle_has_dir: &dyn Fn(&str) -> bool,
) -> Vec<Instance> {
    let file = "meta.yaml";
    let Some(topo) = meta.get("topology") else {
        warnings.push(schema(
            file,
            meta,
            "topology",
            "the TiUP topology (pd_servers, tikv_servers, …)",
        ));
        return Vec::new();
    };
    let global_deploy = topo
        .lookup("global.deploy_dir")
        .present()
        .map(ConfigNode::to_text)
        .unwrap_or_else(|| "/tidb-deploy".into());
    let global_data = topo
        .lookup("global.data_dir")
        .present()
        .map(ConfigNode::to_text)
        .unwrap_or_else(|| "/tidb-data".into());
    let user = ["user", "topology.global.user"]
        .iter()
        .find_map(|p| meta.lookup(p).present().and_then(ConfigNode::as_str))
        .filter(|u| !u.trim().is_empty())
        .unwrap_or("tidb")
        .trim()
        .to_string();
    let mut out = Vec::new();
    let mut dedup = Dedup {
        file,
        seen: HashSet::new(),
    };
    for kind in ComponentKind::ALL {
        let key = kind.meta_yaml_key();
        let Some(items) = topo.get(key).and_then(ConfigNode::as_array) else {
            continue;
        };
        for (index, spec) in items.iter().enumerate() {
            let field = format!("topology.{key}.{index}");
            let Some(host) = host_of(spec, file, &field, warnings) else {
                continue;
            };
            let port_key = if kind == ComponentKind::Pd {
                "client_port"
            } else {
                "port"
            };
            let port = port_of(spec, port_key, file, &field, warnings)
                .or_else(|| port_of(spec, "port", file, &field, warnings))
                .unwrap_or(0);
            let mut inst = blank_instance(kind, host.to_string(), port);
            inst.status_port = if kind == ComponentKind::Pd {
                Some(port)
            } else {
                port_of(spec, "status_port", file, &field, warnings)
            };
            let text = |k: &str| {
                spec.get(k)
                    .and_then(ConfigNode::as_str)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
            };
            // Relative dirs in TiUP topologies are below the global dirs, in `<component>-<port>`.
            let under = |dir: Option<String>, base: &str| {
                let dir = dir.unwrap_or_else(|| {
                    format!("{}-{port}", kind.topology_key().trim_end_matches('s'))
                });
                if dir.starts_with('/') {
                    dir
                } else {
                    format!("{}/{dir}", base.trim_end_matches('/'))
                }
            };
            let deploy = match text("deploy_dir") {
                Some(written) if !written.starts_with('/') => {
                    let home = match written.strip_prefix("~/") {
                        Some(rest) if user == "root" => format!("/root/{rest}"),
                        Some(rest) => format!("/home/{user}/{rest}"),
                        None => format!("/home/{user}/{written}"),
                    };
                    let expanded = under(Some(written.clone()), &global_deploy);
                    [written.clone(), expanded.clone(), home]
                        .into_iter()
                        .find(|d| bundle_has_dir(&format!("{host}/{}", trim_dir(d))))
                        .unwrap_or(expanded)
                }
                written => under(written, &global_deploy),
            };
            inst.log_dir = Some(
                text("log_dir")
                    .map(|l| {
                        if l.starts_with('/') {
                            l
                        } else {
                            format!("{deploy}/{l}")
                        }
                    })
                    .unwrap_or_else(|| format!("{deploy}/log")),
            );
            inst.data_dir = text("data_dir").map(|d| under(Some(d), &global_data));
            inst.deploy_dir = Some(deploy);
            inst.attributes = spec.clone();
            if dedup.admit(&inst, index, warnings) {
                out.push(inst);
            }
        }
    }
    out
}

fn dir_prefix(dir: &str) -> String {
    if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    }
}

fn trim_dir(dir: &str) -> &str {
    dir.trim_matches('/')
}

fn instance_dir(inst: &Instance, layout: Layout) -> String {
    match (&inst.pod, &inst.deploy_dir) {
        (Some(pod), _) if layout == Layout::Operator => pod.clone(),
        (_, Some(deploy)) => format!("{}/{}", inst.host, trim_dir(deploy)),
        (Some(pod), None) => pod.clone(),
        (None, None) => inst.host.clone(),
    }
}

/// Assigns every file of the bundle to an instance, a host or the cluster, by path.
fn index_files(
    source: &Arc<dyn Source>,
    instances: &mut [Instance],
    layout: Layout,
) -> (BTreeMap<String, Vec<DataFile>>, Vec<DataFile>) {
    let mut by_dir: HashMap<String, usize> = HashMap::new();
    let mut by_log_dir: HashMap<String, usize> = HashMap::new();
    for (i, inst) in instances.iter().enumerate() {
        by_dir.entry(inst.dir.clone()).or_insert(i);
        match layout {
            Layout::Operator => {
                if let Some(pod) = &inst.pod {
                    by_log_dir.entry(format!("logs/{pod}")).or_insert(i);
                }
            }
            Layout::Tiup | Layout::Manual => {
                let log_dir = inst.log_dir.clone().or_else(|| {
                    inst.deploy_dir
                        .as_ref()
                        .map(|d| format!("{}/log", trim_dir(d)))
                });
                if let Some(log_dir) = log_dir {
                    by_log_dir
                        .entry(format!("{}/{}", inst.host, trim_dir(&log_dir)))
                        .or_insert(i);
                }
            }
        }
    }
    let hosts_known: HashSet<&str> = instances.iter().map(|i| i.host.as_str()).collect();
    let mut hosts: BTreeMap<String, Vec<DataFile>> = BTreeMap::new();
    let mut cluster_files = Vec::new();
    let mut per_instance: Vec<Vec<DataFile>> = vec![Vec::new(); instances.len()];

    for (path, entry) in source.index() {
        let file = |kind: DataKind| DataFile::new(source.clone(), path.clone(), entry.size, kind);
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        // Logs first: a TiUP log_dir may sit inside the deploy dir.
        if let Some(&i) = by_log_dir.get(folder) {
            per_instance[i].push(file(DataKind::Log(LogKind::from_file_name(name))));
            continue;
        }
        match entry.kind {
            Some(kind @ (DataKind::ConfigFile | DataKind::PdStores | DataKind::PlacementRules)) => {
                let inst_dir = folder.strip_suffix("/conf").unwrap_or("");
                if let Some(&i) = by_dir.get(inst_dir) {
                    per_instance[i].push(file(kind));
                }
            }
            Some(
                kind @ (DataKind::Insight
                | DataKind::Limits
                | DataKind::Sysctl
                | DataKind::Dmesg
                | DataKind::Sockets),
            ) if hosts_known.contains(folder)
                || kind == DataKind::Insight
                || layout != Layout::Operator =>
            {
                hosts
                    .entry(folder.to_string())
                    .or_default()
                    .push(file(kind));
            }
            Some(
                kind @ (DataKind::DbVars
                | DataKind::Alerts
                | DataKind::Metric
                | DataKind::CustomResource
                | DataKind::MetaYaml),
            ) => cluster_files.push(file(kind)),
            // The runtime config is the instance's `config`; logs outside every instance's log
            // folder belong to no instance.
            _ => {}
        }
    }
    for (inst, files) in instances.iter_mut().zip(per_instance) {
        inst.files = files;
    }
    (hosts, cluster_files)
}
