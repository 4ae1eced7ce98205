//! Cluster combiners: PD's `store.json` and `placement-rule.json` × PD's config × the topology,
//! config drift between instances, and the Operator's `tidbcluster.json` status.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Facts, count, text, texts};
use crate::model::data::DataKind;
use crate::model::value::{ConfigNode, ConfigTree, ConfigValue};
use crate::model::version::parse_version;
use crate::model::{Cluster, ComponentKind, InstanceConfig};

/// The first PD's file of `kind` (`store.json`, `placement-rule.json`), parsed.
fn pd_file(cluster: &Cluster, kind: DataKind) -> Option<Result<Arc<ConfigTree>, String>> {
    cluster.instances.iter().find_map(|i| {
        let file = i.files_of(kind).next()?;
        Some(
            file.shared_tree()
                .map_err(|e| format!("`{}` unusable: {e}", file.path)),
        )
    })
}

/// The first PD's loaded runtime config.
fn pd_config(cluster: &Cluster) -> Option<&ConfigTree> {
    cluster
        .instances
        .iter()
        .filter(|i| i.component == ComponentKind::Pd)
        .find_map(|i| i.config.tree())
}

/// One store of `store.json`, as the combiners use it.
struct Store<'t> {
    node: &'t ConfigNode,
    id: String,
    address: String,
    state: String,
    /// Why `state` is not a state PD reports (then it is neither Up nor anything else).
    unknown_state: Option<String>,
    engine: &'static str,
    labels: Vec<(String, String)>,
}

/// The store states PD's API reports (`state_name`), and metapb's numbers for the first three.
const STORE_STATES: [&str; 9] = [
    "Up",
    "Offline",
    "Tombstone",
    "Disconnected",
    "Down",
    "Preparing",
    "Serving",
    "Removing",
    "Removed",
];

/// A store's state: `state_name` in PD's spelling (any case), else metapb's numeric `state`.
fn store_state(store: &ConfigNode, id: &str) -> Result<String, (String, String)> {
    let id = if id.is_empty() { "(without id)" } else { id };
    let name = store
        .get("state_name")
        .map(ConfigNode::to_text)
        .unwrap_or_default();
    if let Some(known) = STORE_STATES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(name.trim()))
    {
        return Ok(known.to_string());
    }
    if name.is_empty()
        && let Some(n) = store.get("state").and_then(|n| n.to_int().ok())
        && let Some(known) = usize::try_from(n)
            .ok()
            .and_then(|n| STORE_STATES.get(n))
            .filter(|_| n < 3)
    {
        return Ok(known.to_string());
    }
    let why = if name.is_empty() {
        format!("store {id} has no `state_name` PD reports (nor a `state` of 0, 1 or 2)")
    } else {
        format!(
            "store {id}: state `{name}` is not one PD reports (expected one of {})",
            STORE_STATES.join(", ")
        )
    };
    Err((name, why))
}

/// Why `store.json` has no store list to read, if it has none.
fn stores_problem(tree: &ConfigTree) -> Option<String> {
    match tree.lookup("stores").present() {
        Some(n) if n.as_array().is_some() => None,
        Some(n) => Some(format!(
            "`{}`:{}: `stores` is not a list (expected a list of stores)",
            tree.file, n.line
        )),
        None => Some(format!("`{}`: no `stores` list", tree.file)),
    }
}

fn stores_of(tree: &ConfigTree) -> Vec<Store<'_>> {
    let list = tree
        .lookup("stores")
        .present()
        .and_then(ConfigNode::as_array)
        .unwrap_or(&[]);
    list.iter()
        .filter_map(|entry| {
            let store = entry.get("store")?;
            let field = |k: &str| store.get(k).map(ConfigNode::to_text).unwrap_or_default();
            let labels: Vec<(String, String)> = store
                .get("labels")
                .and_then(ConfigNode::as_array)
                .unwrap_or(&[])
                .iter()
                .map(|l| {
                    let g = |k: &str| l.get(k).map(ConfigNode::to_text).unwrap_or_default();
                    (g("key"), g("value"))
                })
                .collect();
            let engine = if labels.iter().any(|(k, v)| k == "engine" && v == "tiflash") {
                "tiflash"
            } else {
                "tikv"
            };
            let id = field("id");
            let (state, unknown_state) = match store_state(store, &id) {
                Ok(s) => (s, None),
                Err((name, why)) => (name, Some(why)),
            };
            Some(Store {
                node: entry,
                id,
                address: field("address"),
                state,
                unknown_state,
                engine,
                labels,
            })
        })
        .collect()
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    values.sort_unstable();
    values
        .get(values.len() / 2)
        .copied()
        .filter(|_| !values.is_empty())
}

/// Per store: state, engine, version, space, balance against the median of its engine's Up
/// stores, and whether another listed store has its address.
pub(super) fn stores(cluster: &Cluster) -> Vec<Facts> {
    let tree = match pd_file(cluster, DataKind::PdStores) {
        None => return Vec::new(),
        Some(Err(why)) => {
            let mut f = Facts::new("cluster", Vec::new());
            f.absent = Some(why);
            return vec![f];
        }
        Some(Ok(tree)) => tree,
    };
    if let Some(why) = stores_problem(&tree) {
        let mut f = Facts::new("cluster", Vec::new());
        f.absent = Some(why);
        return vec![f];
    }
    let stores = stores_of(&tree);
    let status_int = |s: &Store<'_>, k: &str| {
        s.node
            .get("status")
            .and_then(|st| st.get(k))
            .and_then(|n| n.to_int().ok())
    };
    // The medians per (engine, count), computed once.
    let mut median_of: BTreeMap<(&str, &str), Option<i64>> = BTreeMap::new();
    for engine in ["tikv", "tiflash"] {
        for k in ["leader_count", "region_count"] {
            let values = stores
                .iter()
                .filter(|s| s.engine == engine && s.state == "Up")
                .filter_map(|s| status_int(s, k))
                .collect();
            median_of.insert((engine, k), median(values));
        }
    }
    let medians = |engine: &str, k: &str| median_of.get(&(engine, k)).copied().flatten();
    let mut addresses: BTreeMap<&str, usize> = BTreeMap::new();
    for s in stores.iter().filter(|s| s.state != "Tombstone") {
        *addresses.entry(s.address.as_str()).or_default() += 1;
    }
    let mut by_address: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, instance) in cluster.instances.iter().enumerate() {
        by_address.entry(instance.address()).or_default().push(i);
    }
    stores
        .iter()
        .map(|s| {
            let instances = by_address.get(&s.address).cloned().unwrap_or_default();
            let mut f = Facts::new(format!("Store_{}", s.id), instances);
            let store = s.node.get("store");
            let status = s.node.get("status");
            f.put("id", text(s.id.as_str()));
            f.put("address", text(s.address.as_str()));
            match &s.unknown_state {
                None => f.put("state_name", text(s.state.as_str())),
                Some(why) => f.absent = Some(why.clone()),
            }
            f.put("engine", text(s.engine));
            let line_of = |n: Option<&ConfigNode>, k: &str| n.and_then(|n| n.get(k)).map_or(s.node.line, |n| n.line);
            f.cite("state_name", &tree.file, line_of(store, "state_name"));
            f.cite("address", &tree.file, line_of(store, "address"));
            for k in ["version", "git_hash"] {
                if let Some(n) = store.and_then(|st| st.get(k)) {
                    f.put(k, text(n.to_text()));
                    f.cite(k, &tree.file, n.line);
                }
            }
            for (k, v) in &s.labels {
                f.put(&format!("labels.{k}"), text(v.as_str()));
            }
            let duplicates = addresses.get(s.address.as_str()).copied().unwrap_or(0);
            f.put("duplicate_address", ConfigValue::Bool(s.state != "Tombstone" && duplicates > 1));
            let size = |k: &str| status.and_then(|st| st.get(k)).and_then(|n| n.to_size().ok().map(|b| (b, n.line)));
            if let (Some((cap, _)), Some((avail, line))) = (size("capacity"), size("available"))
                && cap > 0
            {
                let ratio = avail as f64 / cap as f64;
                f.put("available_ratio", ConfigValue::Float((ratio * 1000.0).round() / 1000.0));
                f.cite("available_ratio", &tree.file, line);
            }
            for (k, ratio) in [("leader_count", "leader_ratio"), ("region_count", "region_ratio")] {
                let Some(n) = status.and_then(|st| st.get(k)) else { continue };
                let Ok(v) = n.to_int() else { continue };
                f.put(k, ConfigValue::Int(v));
                f.cite(k, &tree.file, n.line);
                f.cite(ratio, &tree.file, n.line);
                // Balance is judged only where there is something to balance.
                if s.state != "Up" {
                    continue;
                }
                match medians(s.engine, k).filter(|m| *m >= 100) {
                    Some(m) => {
                        f.put(&format!("{k}_median"), ConfigValue::Int(m));
                        f.put(ratio, ConfigValue::Float(((v as f64 / m as f64) * 100.0).round() / 100.0));
                    }
                    None => {
                        f.absent = Some(format!(
                            "the median {k} of Up {} stores is below 100: too little to judge balance",
                            s.engine
                        ));
                    }
                }
            }
            f
        })
        .collect()
}

/// Whether a store satisfies one label constraint of a placement rule.
fn satisfies(labels: &[(String, String)], constraint: &ConfigNode) -> bool {
    let key = constraint
        .get("key")
        .map(ConfigNode::to_text)
        .unwrap_or_default();
    let op = constraint
        .get("op")
        .map(ConfigNode::to_text)
        .unwrap_or_default();
    let values: Vec<String> = constraint
        .get("values")
        .and_then(ConfigNode::as_array)
        .unwrap_or(&[])
        .iter()
        .map(ConfigNode::to_text)
        .collect();
    let value = labels.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
    match op.as_str() {
        "in" => value.is_some_and(|v| values.contains(v)),
        "notIn" => value.is_none_or(|v| !values.contains(v)),
        "exists" => value.is_some(),
        "notExists" => value.is_none(),
        _ => true,
    }
}

/// The cluster's replication: PD's `max-replicas` and `location-labels`, the Up stores and
/// their labels, and the placement rules no set of Up stores can satisfy.
pub(super) fn replication(cluster: &Cluster) -> Vec<Facts> {
    let mut f = Facts::new("cluster", Vec::new());
    if let Some(cfg) = pd_config(cluster) {
        f.copy("max_replicas", cfg, "replication.max-replicas");
        f.copy("isolation_level", cfg, "replication.isolation-level");
        if let Some(n) = cfg.lookup("replication.location-labels").present() {
            let labels: Vec<String> = match &n.value {
                ConfigValue::Array(items) => items.iter().map(ConfigNode::to_text).collect(),
                ConfigValue::String(s) => s
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                _ => Vec::new(),
            };
            f.put("location_labels_count", count(labels.len()));
            f.put("location_labels", texts(labels));
            f.cite("location_labels", &cfg.file, n.line);
            f.cite("location_labels_count", &cfg.file, n.line);
        }
    }
    let tiflash = cluster.instances_of(ComponentKind::Tiflash).count();
    f.put("tiflash_count", count(tiflash));
    let location: Vec<String> = f
        .doc
        .get("location_labels")
        .and_then(ConfigNode::as_array)
        .unwrap_or(&[])
        .iter()
        .map(ConfigNode::to_text)
        .collect();
    match pd_file(cluster, DataKind::PdStores) {
        Some(Ok(tree)) if let Some(why) = stores_problem(&tree) => f.absent = Some(why),
        // Which stores are Up is not known when one store's state is not.
        Some(Ok(tree))
            if let Some(why) = stores_of(&tree).into_iter().find_map(|s| s.unknown_state) =>
        {
            f.absent = Some(why)
        }
        Some(Ok(tree)) => {
            let stores = stores_of(&tree);
            let up: Vec<&Store<'_>> = stores.iter().filter(|s| s.state == "Up").collect();
            let up_tikv = up.iter().filter(|s| s.engine == "tikv").count();
            f.put("up_tikv_stores", count(up_tikv));
            f.cite("up_tikv_stores", &tree.file, 0);
            let mut keys: Vec<String> = Vec::new();
            let mut missing: Vec<String> = Vec::new();
            for s in up.iter().filter(|s| s.engine == "tikv") {
                for (k, _) in &s.labels {
                    if k != "engine" && !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
                let lacks: Vec<&str> = location
                    .iter()
                    .filter(|l| !s.labels.iter().any(|(k, _)| k == *l))
                    .map(String::as_str)
                    .collect();
                if !lacks.is_empty() {
                    missing.push(format!(
                        "store {} ({}) lacks {}",
                        s.id,
                        s.address,
                        lacks.join(", ")
                    ));
                    let line = s.node.get("store").map_or(s.node.line, |n| n.line);
                    f.cite("stores_missing_labels", &tree.file, line);
                }
            }
            // Hosts running several Up TiKV stores that PD cannot tell apart from separate
            // machines: no location labels, or stores of the host whose location-label values
            // differ (PD then puts replicas of one Region on one machine).
            let mut per_host: BTreeMap<&str, Vec<&Store<'_>>> = BTreeMap::new();
            for s in up.iter().filter(|s| s.engine == "tikv") {
                let ip = s
                    .address
                    .rsplit_once(':')
                    .map_or(s.address.as_str(), |(h, _)| h);
                per_host.entry(ip).or_default().push(s);
            }
            let mut unseparated = Vec::new();
            for (ip, on_host) in per_host.iter().filter(|(_, v)| v.len() > 1) {
                let tuple = |s: &Store<'_>| -> Vec<Option<String>> {
                    location
                        .iter()
                        .map(|l| {
                            s.labels
                                .iter()
                                .find(|(k, _)| k == l)
                                .map(|(_, v)| v.clone())
                        })
                        .collect()
                };
                let first = tuple(on_host[0]);
                let same =
                    on_host.iter().all(|s| tuple(s) == first) && first.iter().all(Option::is_some);
                if location.is_empty() || !same {
                    unseparated.push(format!(
                        "{ip} runs stores {}",
                        on_host
                            .iter()
                            .map(|s| s.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    for s in on_host {
                        let line = s.node.get("store").map_or(s.node.line, |n| n.line);
                        f.cite("unseparated_hosts", &tree.file, line);
                    }
                }
            }
            f.put("unseparated_hosts_count", count(unseparated.len()));
            f.put("unseparated_hosts", texts(unseparated));
            let unused: Vec<String> = keys
                .iter()
                .filter(|k| !location.contains(k))
                .cloned()
                .collect();
            f.put("store_label_keys_count", count(keys.len()));
            f.put("store_label_keys", texts(keys));
            f.put("unused_label_keys", texts(unused));
            f.put("stores_missing_labels_count", count(missing.len()));
            f.put("stores_missing_labels", texts(missing));
            match pd_file(cluster, DataKind::PlacementRules) {
                Some(Ok(rules)) => {
                    let mut bad = Vec::new();
                    for group in rules.root.as_array().unwrap_or(&[]) {
                        for rule in group
                            .get("rules")
                            .and_then(ConfigNode::as_array)
                            .unwrap_or(&[])
                        {
                            let Some(want) = rule.get("count").and_then(|n| n.to_int().ok()) else {
                                continue;
                            };
                            let constraints = rule
                                .get("label_constraints")
                                .and_then(ConfigNode::as_array)
                                .unwrap_or(&[]);
                            let tiflash_rule = constraints.iter().any(|c| {
                                c.get("key").is_some_and(|k| k.to_text() == "engine")
                                    && c.get("op").is_some_and(|o| o.to_text() == "in")
                            });
                            let able = up
                                .iter()
                                .filter(|s| tiflash_rule || s.engine == "tikv")
                                .filter(|s| constraints.iter().all(|c| satisfies(&s.labels, c)))
                                .count();
                            if (able as i64) < want {
                                let id = |k: &str| {
                                    rule.get(k).map(ConfigNode::to_text).unwrap_or_default()
                                };
                                bad.push(format!(
                                    "{}/{} wants {want} {} peer(s), {able} Up store(s) match",
                                    id("group_id"),
                                    id("id"),
                                    id("role")
                                ));
                                f.cite("placement.unsatisfiable", &rules.file, rule.line);
                            }
                        }
                    }
                    f.put("placement.unsatisfiable_count", count(bad.len()));
                    f.put("placement.unsatisfiable", texts(bad));
                }
                Some(Err(why)) => f.absent = Some(why),
                None => {}
            }
        }
        Some(Err(why)) => f.absent = Some(why),
        None => f.absent = Some("no PD store.json in the bundle".into()),
    }
    vec![f]
}

/// The version text without a leading `v` and build suffix: `v5.2.1` and `5.2.1` agree.
fn plain(version: &str) -> String {
    parse_version(version).map_or_else(
        || version.trim().to_string(),
        |v| format!("{}.{}.{}", v.major, v.minor, v.patch),
    )
}

/// `cluster.json` as a tree, for the lines of topology entries (read again; it is small).
fn topology_tree(cluster: &Cluster) -> Option<ConfigTree> {
    let bytes = cluster.source.read("cluster.json").ok()?;
    ConfigTree::parse_json("cluster.json", &bytes).ok()
}

/// The cluster's versions: topology, image tags, store versions and git hashes, PD
/// `cluster-version`, and how many distinct versions they make.
pub(super) fn versions(cluster: &Cluster) -> Vec<Facts> {
    let mut f = Facts::new("cluster", Vec::new());
    let mut all: Vec<String> = Vec::new();
    let mut parts: Vec<String> = Vec::new();
    let topology = cluster.version.text.clone();
    if parse_version(&topology).is_some() {
        all.push(plain(&topology));
        let origin = match cluster.version.origin {
            crate::model::VersionOrigin::TidbImage | crate::model::VersionOrigin::PdImage => {
                "image"
            }
            _ => "topology",
        };
        parts.push(format!("{origin} {topology}"));
        f.put("cluster", text(topology.as_str()));
    }
    let mut images: Vec<String> = Vec::new();
    let topology_lines = topology_tree(cluster);
    for i in &cluster.instances {
        if let Some(image) = i.attribute("image")
            && let Some((_, tag)) = image.rsplit_once(':')
            && parse_version(tag).is_some()
            && !images.contains(&image.to_string())
        {
            images.push(image.to_string());
            all.push(plain(tag));
            if let Some(t) = &topology_lines
                && let Some(n) = t
                    .lookup(&format!("topology.{}", i.component.topology_key()))
                    .present()
            {
                f.cite("distinct_count", &t.file, n.line);
            }
        }
    }
    if !images.is_empty() {
        parts.push(format!("images {}", images.join(", ")));
    }
    f.put("images", texts(images));
    if let Some(Ok(tree)) = pd_file(cluster, DataKind::PdStores) {
        let mut versions: Vec<String> = Vec::new();
        let mut hashes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in stores_of(&tree).iter().filter(|s| s.state != "Tombstone") {
            let store = s.node.get("store");
            if let Some(n) = store.and_then(|st| st.get("version")) {
                let v = n.to_text();
                if !versions.contains(&v) {
                    versions.push(v.clone());
                    f.cite("distinct_count", &tree.file, n.line);
                }
                all.push(plain(&v));
                if let Some(h) = store.and_then(|st| st.get("git_hash")) {
                    let hs = hashes
                        .entry(format!("{}/{}", s.engine, plain(&v)))
                        .or_default();
                    if !hs.contains(&h.to_text()) {
                        hs.push(h.to_text());
                        f.cite("git_hashes_per_version", &tree.file, h.line);
                        f.cite("distinct_count", &tree.file, h.line);
                    }
                }
            }
        }
        if !versions.is_empty() {
            parts.push(format!("stores {}", versions.join(", ")));
        }
        f.put("stores", texts(versions));
        let split = hashes.values().map(Vec::len).max().unwrap_or(0);
        f.put("git_hashes_per_version", count(split));
    }
    if let Some(cfg) = pd_config(cluster)
        && let Some(n) = f.copy("pd_cluster_version", cfg, "cluster-version")
    {
        let v = n.to_text();
        f.cite("distinct_count", &cfg.file, n.line);
        if parse_version(&v).is_some() {
            all.push(plain(&v));
            parts.push(format!("PD cluster-version {v}"));
        }
    }
    all.sort();
    all.dedup();
    f.put("distinct_count", count(all.len()));
    f.put("distinct", texts(all));
    f.put("summary", text(parts.join("; ")));
    vec![f]
}

/// The cluster's shape: instances per component, and which components run a single instance.
pub(super) fn shape(cluster: &Cluster) -> Vec<Facts> {
    let mut f = Facts::new("cluster", Vec::new());
    let mut single = Vec::new();
    let topology = topology_tree(cluster);
    for kind in ComponentKind::ALL {
        let n = cluster.instances_of(kind).count();
        let key = kind.topology_key().replace('-', "_");
        f.put(&format!("{key}_count"), count(n));
        if let Some(t) = &topology
            && let Some(node) = t
                .lookup(&format!("topology.{}", kind.topology_key()))
                .present()
        {
            f.cite(&format!("{key}_count"), &t.file, node.line);
            if n == 1 {
                f.cite("single_instance", &t.file, node.line);
            }
        }
        if n == 1
            && matches!(
                kind,
                ComponentKind::Pd | ComponentKind::Tikv | ComponentKind::Tidb
            )
        {
            single.push(kind.topology_key().to_string());
        }
    }
    // Drainers whose deployed config (`conf/drainer.toml`) names no downstream: `syncer.db-type`
    // `file` writes to `syncer.to.dir`, the others (`mysql`, `tidb`, `kafka`) need `syncer.to`.
    let mut without = Vec::new();
    for instance in cluster.instances_of(ComponentKind::Drainer) {
        let Some((file, tree)) = instance
            .files_of(DataKind::ConfigFile)
            .find_map(|file| file.tree().ok().map(|t| (file, t)))
        else {
            continue;
        };
        let to = tree.lookup("syncer.to").present();
        let db_type = tree
            .lookup("syncer.db-type")
            .present()
            .map(ConfigNode::to_text);
        let has = |k: &str| {
            to.and_then(|t| t.get(k))
                .is_some_and(|v| !v.to_text().is_empty())
        };
        let configured = match db_type.as_deref() {
            Some("file") => has("dir"),
            Some("kafka") => has("kafka-addrs") || has("zookeeper-addrs"),
            Some(_) => has("host"),
            None => false,
        };
        if !configured {
            without.push(instance.address());
            // TOML trees carry no lines: cite the `[syncer.to]` (else `db-type`) line of the text.
            let text = file.text().unwrap_or_default();
            let line_of = |needle: &str| {
                text.lines()
                    .position(|l| l.trim_start().starts_with(needle))
                    .map(|i| i as u32 + 1)
            };
            let line = line_of("[syncer.to]")
                .or_else(|| line_of("db-type"))
                .unwrap_or(1);
            f.cite("drainers_without_downstream", &tree.file, line);
        }
    }
    f.put("drainers_without_downstream_count", count(without.len()));
    f.put("drainers_without_downstream", texts(without));
    f.put("single_instance_count", count(single.len()));
    f.put("single_instance", texts(single));
    vec![f]
}

/// Keys per-instance by nature, never reported as drift (after TiDB's inspection, whose
/// config-diff check raised false alarms on them): addresses, names, dirs and files, labels,
/// the initial cluster, and what TiKV sizes from the host.
const PER_INSTANCE: &[&str] = &[
    "*addr",
    "*address",
    "*-addr",
    "*-url",
    "*-urls",
    "*urls",
    "advertise-*",
    "host",
    "port",
    "status.status-port",
    "status.status-host",
    "name",
    "*dir",
    "*-dir",
    "*.dir",
    "*path",
    "*-path",
    "*file",
    "*filename",
    "*-file",
    "log.file.filename",
    "socket",
    "labels*",
    "server.labels*",
    "initial-cluster*",
    "join",
    "metric.job",
    "pd-server.dashboard-address",
    "storage.block-cache.capacity",
    "raftstore.capacity",
    "memory-usage-limit",
    "readpool.*.max-thread-count",
    "server.grpc-concurrency",
    "*.max-background-jobs",
    "*.max-background-flushes",
    "*.max-sub-compactions",
    "*.block-cache-size",
    "backup.num-threads",
    "import.num-threads",
    "server.end-point-max-concurrency",
    "storage.scheduler-worker-pool-size",
    "raftstore.store-pool-size",
    "raftstore.apply-pool-size",
    "server.stats-concurrency",
    "performance.max-procs",
    "*.tmp-storage-path",
    "tmp-storage-path",
];

/// `*` matches any run of characters; everything else literally.
fn glob(pattern: &str, key: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == key;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !key.starts_with(first) || key.len() < first.len() + last.len() || !key.ends_with(last) {
        return false;
    }
    let mut rest = &key[first.len()..key.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Every leaf of a config: `(dotted path, value text, line)`; arrays are one leaf.
fn leaves(node: &ConfigNode, prefix: &str, out: &mut Vec<(String, String, u32)>) {
    match &node.value {
        ConfigValue::Map(map) => {
            for (k, v) in map.iter() {
                let path = if prefix.is_empty() {
                    k.to_string()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(v, &path, out);
            }
        }
        _ => out.push((prefix.to_string(), node.to_text(), node.line)),
    }
}

/// A value of a key and the members holding it, with the line in each member's config.
type Holders = (String, Vec<(usize, u32)>);

/// How many keys a drift message names before `…`.
const SHOWN: usize = 5;

/// Per component with two or more loaded configs: the keys (outside the allowlists) whose
/// value differs between instances, each with its majority value and the odd instances.
pub(super) fn drift(cluster: &Cluster, allow: &[String]) -> Vec<Facts> {
    let allowed =
        |key: &str| PER_INSTANCE.iter().any(|p| glob(p, key)) || allow.iter().any(|p| glob(p, key));
    let mut out = Vec::new();
    for kind in ComponentKind::ALL {
        let members: Vec<usize> = (0..cluster.instances.len())
            .filter(|&i| {
                cluster.instances[i].component == kind
                    && matches!(cluster.instances[i].config, InstanceConfig::Loaded(_))
            })
            .collect();
        if members.len() < 2 {
            continue;
        }
        // key → value → members holding it (with the line), in order of first appearance.
        let mut by_key: BTreeMap<String, Vec<Holders>> = BTreeMap::new();
        // The allowlist verdict per key, decided once (the keys repeat in every member).
        let mut verdict: BTreeMap<String, bool> = BTreeMap::new();
        for &i in &members {
            let Some(tree) = cluster.instances[i].config.tree() else {
                continue;
            };
            let mut found = Vec::new();
            leaves(&tree.root, "", &mut found);
            for (key, value, line) in found {
                let skip = match verdict.get(key.as_str()) {
                    Some(v) => *v,
                    None => {
                        let v = allowed(&key);
                        verdict.insert(key.clone(), v);
                        v
                    }
                };
                if skip {
                    continue;
                }
                let values = match by_key.get_mut(key.as_str()) {
                    Some(values) => values,
                    None => by_key.entry(key).or_default(),
                };
                match values.iter_mut().find(|(v, _)| *v == value) {
                    Some((_, holders)) => holders.push((i, line)),
                    None => values.push((value, vec![(i, line)])),
                }
            }
        }
        let mut f = Facts::new(kind.config_struct(), members.clone());
        f.put("component", text(kind.topology_key()));
        f.put("instances", count(members.len()));
        let mut drifted = Vec::new();
        for (key, mut values) in by_key {
            if values.len() < 2 {
                continue;
            }
            // The majority value; ties go to the first seen (stable sort).
            values.sort_by_key(|v| std::cmp::Reverse(v.1.len()));
            let majority = values[0].0.clone();
            let odd: Vec<String> = values[1..]
                .iter()
                .flat_map(|(v, holders)| {
                    holders
                        .iter()
                        .map(move |(i, _)| format!("{}={v}", cluster.instances[*i].address()))
                })
                .collect();
            if drifted.len() < SHOWN {
                for (v, holders) in &values[1..] {
                    let _ = v;
                    for (i, line) in holders.iter().take(SHOWN) {
                        if let Some(tree) = cluster.instances[*i].config.tree() {
                            f.cite("drifted_count", &tree.file, *line);
                        }
                    }
                }
            }
            let held: usize = values.iter().map(|(_, holders)| holders.len()).sum();
            let missing = members.len().saturating_sub(held);
            let absent = if missing > 0 {
                format!(" ({missing} without it)")
            } else {
                String::new()
            };
            drifted.push(format!(
                "{key}: {majority} on most, {}{absent}",
                odd.join(", ")
            ));
        }
        f.put("drifted_count", count(drifted.len()));
        let summary = if drifted.len() > SHOWN {
            format!(
                "{}; …and {} more",
                drifted[..SHOWN].join("; "),
                drifted.len() - SHOWN
            )
        } else {
            drifted.join("; ")
        };
        f.put("drifted_summary", text(summary));
        f.put("drifted", texts(drifted));
        out.push(f);
    }
    out
}

/// The troubleshooting guide's section for each Kubernetes finding.
const GUIDE_PENDING: &str = "guide 1.1 (image pull) / 1.4 (Pending): `kubectl describe pod`, check the image tag, registry, PV/StorageClass and node resources";

/// Per component of `tidbcluster.json`: phase, replicas wanted vs ready, members/stores that
/// are failed, unhealthy or not Up, pods the spec expects that `cluster.json` lacks, and
/// whether the cluster's Ready condition blames this component.
pub(super) fn kubernetes(cluster: &Cluster) -> Vec<Facts> {
    let Some(file) = cluster
        .files_of(DataKind::CustomResource)
        .find(|f| f.path.ends_with("tidbcluster.json"))
    else {
        return Vec::new();
    };
    let tree = match file.shared_tree() {
        Ok(t) => t,
        Err(e) => {
            let mut f = Facts::new("cluster", Vec::new());
            f.absent = Some(format!("`{}` unusable: {e}", file.path));
            return vec![f];
        }
    };
    let name = tree
        .lookup("metadata.name")
        .present()
        .map(ConfigNode::to_text)
        .unwrap_or_default();
    let ready = tree
        .lookup("status.conditions")
        .present()
        .and_then(ConfigNode::as_array)
        .unwrap_or(&[])
        .iter()
        .find(|c| c.get("type").is_some_and(|t| t.to_text() == "Ready"));
    let reason = ready
        .and_then(|c| c.get("reason"))
        .map(ConfigNode::to_text)
        .unwrap_or_default();
    let ready_false = ready
        .and_then(|c| c.get("status"))
        .is_some_and(|s| s.to_text() == "False");
    let mut out = Vec::new();
    for (key, kind, blamed) in [
        ("pd", ComponentKind::Pd, "PDUnhealthy"),
        ("tikv", ComponentKind::Tikv, "TiKVStoreNotUp"),
        ("tidb", ComponentKind::Tidb, "TiDBUnhealthy"),
        ("tiflash", ComponentKind::Tiflash, "TiFlashStoreNotUp"),
        ("ticdc", ComponentKind::Ticdc, "TiCDCCaptureNotReady"),
        ("pump", ComponentKind::Pump, ""),
    ] {
        let spec = tree.lookup(&format!("spec.{key}")).present();
        let status = tree.lookup(&format!("status.{key}")).present();
        if spec.is_none() && status.is_none() {
            continue;
        }
        let members: Vec<usize> = (0..cluster.instances.len())
            .filter(|&i| cluster.instances[i].component == kind)
            .collect();
        let mut f = Facts::new(kind.config_struct(), members.clone());
        f.put("component", text(key));
        let mut copy = |path: &str, from: &str| f.copy(path, &tree, from).is_some();
        copy("spec_replicas", &format!("spec.{key}.replicas"));
        copy("phase", &format!("status.{key}.phase"));
        copy("image", &format!("status.{key}.image"));
        copy(
            "ready_replicas",
            &format!("status.{key}.statefulSet.readyReplicas"),
        );
        let sts = status.and_then(|s| s.get("statefulSet"));
        let revision = |k: &str| sts.and_then(|s| s.get(k)).map(ConfigNode::to_text);
        let up_to_date = revision("currentRevision") == revision("updateRevision");
        f.put("running_pods", count(members.len()));
        // Members and stores the status lists: failed, unhealthy or not Up.
        let mut failures = Vec::new();
        for group in ["failureMembers", "failureStores"] {
            for (id, node) in status
                .and_then(|s| s.get(group))
                .and_then(ConfigNode::as_map)
                .into_iter()
                .flat_map(|m| m.iter())
            {
                let pod = node
                    .get("podName")
                    .map(ConfigNode::to_text)
                    .unwrap_or_else(|| id.to_string());
                failures.push(format!("{pod} ({group})"));
                f.cite("failures", &tree.file, node.line);
            }
        }
        f.put("failure_count", count(failures.len()));
        f.put("failures", texts(failures));
        let mut not_up = Vec::new();
        for group in ["stores", "tombstoneStores"] {
            for (id, node) in status
                .and_then(|s| s.get(group))
                .and_then(ConfigNode::as_map)
                .into_iter()
                .flat_map(|m| m.iter())
            {
                let state = node
                    .get("state")
                    .map(ConfigNode::to_text)
                    .unwrap_or_default();
                if state != "Up" {
                    let pod = node
                        .get("podName")
                        .map(ConfigNode::to_text)
                        .unwrap_or_default();
                    not_up.push(format!("store {id} ({pod}) {state}"));
                    f.cite(
                        "stores_not_up",
                        &tree.file,
                        node.get("state").map_or(node.line, |n| n.line),
                    );
                }
            }
        }
        for (id, node) in status
            .and_then(|s| s.get("members"))
            .and_then(ConfigNode::as_map)
            .into_iter()
            .flat_map(|m| m.iter())
        {
            if node
                .get("health")
                .is_some_and(|h| !h.to_bool().unwrap_or(true))
            {
                not_up.push(format!("member {id} unhealthy"));
                f.cite(
                    "stores_not_up",
                    &tree.file,
                    node.get("health").map_or(node.line, |n| n.line),
                );
            }
        }
        f.put("stores_not_up_count", count(not_up.len()));
        f.put("stores_not_up", texts(not_up));
        // Pods the spec asks for (`<cluster>-<component>-<ordinal>`) that diag did not list:
        // diag skips pods that are not Running.
        let wanted = spec
            .and_then(|s| s.get("replicas"))
            .and_then(|n| n.to_int().ok())
            .unwrap_or(0);
        let pods: Vec<&str> = members
            .iter()
            .filter_map(|&i| cluster.instances[i].pod.as_deref())
            .collect();
        let absent: Vec<String> = (0..wanted.max(0))
            .map(|n| format!("{name}-{key}-{n}"))
            .filter(|p| !pods.contains(&p.as_str()))
            .collect();
        if let Some(n) = spec.and_then(|s| s.get("replicas")) {
            f.cite("absent_pods", &tree.file, n.line);
        }
        f.put("absent_pods_count", count(absent.len()));
        f.put("absent_pods", texts(absent));
        f.put("guide", text(GUIDE_PENDING));
        let applies = ready_false
            && (reason == blamed || (reason == "StatefulSetNotUpToDate" && !up_to_date));
        f.put(
            "ready_condition.blames_component",
            ConfigValue::Bool(applies),
        );
        if let Some(c) = ready {
            for k in ["status", "reason", "message"] {
                if let Some(n) = c.get(k) {
                    f.put(&format!("ready_condition.{k}"), n.value.clone());
                }
            }
            f.cite("ready_condition", &tree.file, c.line);
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_allowlisted_keys() {
        assert!(glob("*addr", "server.advertise-status-addr"));
        assert!(glob(
            "readpool.*.max-thread-count",
            "readpool.unified.max-thread-count"
        ));
        assert!(glob("labels*", "labels.zone"));
        assert!(!glob("*addr", "server.addr-x"));
        assert!(glob("name", "name"));
        assert!(!glob("name", "names"));
    }

    #[test]
    fn versions_compare_without_prefix_or_build() {
        assert_eq!(plain("v5.2.1"), "5.2.1");
        assert_eq!(plain("5.2.1"), "5.2.1");
        assert_eq!(median(vec![3, 1, 2]), Some(2));
        assert_eq!(median(Vec::new()), None);
    }
}
