//! Host combiners: `insight.json` × `limits.conf` × the configs and data dirs of the instances
//! on each host (TiUP and manual bundles; an Operator bundle collects no host data).

use std::sync::Arc;

use super::{Facts, count, text, texts};
use crate::model::data::DataKind;
use crate::model::value::{ConfigNode, ConfigTree, ConfigValue};
use crate::model::{Cluster, ComponentKind, Layout};

const MIB: u64 = 1024 * 1024;

/// The parsed `insight.json` of `host`, or why there is none.
fn insight(cluster: &Cluster, host: &str) -> Result<Arc<ConfigTree>, String> {
    let file = cluster
        .hosts
        .get(host)
        .and_then(|files| files.iter().find(|f| f.kind == DataKind::Insight))
        .ok_or_else(|| format!("no insight.json collected for host {host}"))?;
    file.shared_tree()
        .map_err(|e| format!("`{}` unusable: {e}", file.path))
}

/// The deploy user: `meta.yaml` `user` (or `topology.global.user`), else TiUP's default `tidb`.
fn deploy_user(cluster: &Cluster) -> String {
    cluster
        .files_of(DataKind::MetaYaml)
        .find_map(|f| {
            let tree = f.tree().ok()?;
            ["user", "topology.global.user"].iter().find_map(|p| {
                tree.lookup(p)
                    .present()
                    .and_then(ConfigNode::as_str)
                    .map(str::to_string)
            })
        })
        .unwrap_or_else(|| "tidb".to_string())
}

/// Per host: OS, CPU, memory, swap, NICs, clock, epoll, time zone vs the first PD host, the
/// deploy user's nofile limit, and what the TiKV instances on it need.
pub(super) fn hosts(cluster: &Cluster) -> Vec<Facts> {
    let user = deploy_user(cluster);
    let first_pd = cluster
        .instances
        .iter()
        .find(|i| i.component == ComponentKind::Pd)
        .map(|i| i.host.clone());
    let first_pd_zone = first_pd.as_deref().and_then(|h| {
        let tree = insight(cluster, h).ok()?;
        let node = tree.lookup("sysinfo.node.timezone").present()?;
        Some((node.to_text(), tree.file.clone(), node.line))
    });
    // host → its instances, built once (no host × instance scan).
    let mut by_host: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, instance) in cluster.instances.iter().enumerate() {
        by_host.entry(instance.host.as_str()).or_default().push(i);
    }
    super::hosts(cluster)
        .into_iter()
        .map(|host| {
            let on_host = by_host.get(host).cloned().unwrap_or_default();
            let mut f = Facts::new(format!("Host_{host}"), on_host.clone());
            f.put("host", text(host));
            match insight(cluster, host) {
                Ok(tree) => insight_facts(&mut f, &tree),
                Err(why) => f.absent = Some(why),
            }
            if let (Some(pd), Some((zone, file, line))) = (&first_pd, &first_pd_zone) {
                f.put("first_pd.host", text(pd.as_str()));
                f.put("first_pd.timezone", text(zone.as_str()));
                f.cite("first_pd.timezone", file, *line);
            }
            limits_facts(&mut f, cluster, host, &user);
            instance_facts(&mut f, cluster, &on_host);
            f
        })
        .collect()
}

fn insight_facts(f: &mut Facts, tree: &ConfigTree) {
    // A file of another shape says nothing about the host: no fact is derived from it.
    if tree.root.as_map().is_none() {
        f.absent = Some(format!(
            "`{}` is not a JSON object (expected insight's object of sysinfo, ntp, chrony, …)",
            tree.file
        ));
        return;
    }
    for (path, from) in [
        ("os.vendor", "sysinfo.os.vendor"),
        ("os.version", "sysinfo.os.version"),
        ("os.name", "sysinfo.os.name"),
        ("os.release", "sysinfo.os.release"),
        ("kernel.release", "sysinfo.kernel.release"),
        ("cpu.governor", "sysinfo.cpu.governor"),
        ("cpu.threads", "sysinfo.cpu.threads"),
        ("cpu.cores", "sysinfo.cpu.cores"),
        ("memory.size_mb", "sysinfo.memory.size"),
        ("memory.swap_mb", "sysinfo.memory.swap"),
        ("timezone", "sysinfo.node.timezone"),
    ] {
        f.copy(path, tree, from);
    }
    let os_line = tree.lookup("sysinfo.os").present().map_or(0, |n| n.line);
    let field = |p: &str| {
        tree.lookup(p)
            .present()
            .map(ConfigNode::to_text)
            .unwrap_or_default()
    };
    // Judged only from an OS section: a missing one is nodata, not an unsupported vendor.
    if tree
        .lookup("sysinfo.os")
        .present()
        .is_some_and(|n| n.as_map().is_some())
    {
        let (check, message) = os_check(
            &field("sysinfo.os.vendor"),
            &field("sysinfo.os.version"),
            &field("sysinfo.os.name"),
            &field("sysinfo.os.release"),
        );
        f.put("os.check", text(check));
        f.put("os.message", text(message));
        f.cite("os.check", &tree.file, os_line);
    }
    // `epoll_exclusive` is omitempty: a missing key means false.
    match tree.lookup("epoll_exclusive").present() {
        Some(n) => {
            f.put(
                "epoll_exclusive",
                ConfigValue::Bool(n.to_bool().unwrap_or(false)),
            );
            f.cite("epoll_exclusive", &tree.file, n.line);
        }
        None => {
            // Cite the object that lacks the key.
            f.put("epoll_exclusive", ConfigValue::Bool(false));
            f.cite("epoll_exclusive", &tree.file, tree.root.line);
        }
    }
    time_facts(f, tree);
    // The slowest NIC whose speed is known (TiUP skips speed 0).
    let slowest = tree
        .lookup("sysinfo.network")
        .present()
        .and_then(ConfigNode::as_array)
        .into_iter()
        .flatten()
        .filter_map(|nic| {
            let speed = nic.get("speed")?.to_int().ok().filter(|s| *s > 0)?;
            let name = nic.get("name").map(ConfigNode::to_text).unwrap_or_default();
            Some((speed, name, nic.line))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    if let Some((speed, name, line)) = slowest {
        f.put("network.slowest.name", text(name));
        f.put("network.slowest.speed", ConfigValue::Int(speed));
        f.cite("network.slowest", &tree.file, line);
    }
}

/// The clock source as `tiup cluster check` picks it: chrony when `chronyc tracking` ran, else
/// ntpd when `ntpq` ran, else none; and the offset of the one picked (ms, absolute).
fn time_facts(f: &mut Facts, tree: &ConfigTree) {
    let leap = tree.lookup("chrony.leap_status").present();
    let chrony = leap.map(ConfigNode::to_text).filter(|s| {
        [
            "normal",
            "insert second",
            "delete second",
            "not synchronised",
        ]
        .contains(&s.as_str())
    });
    let ntp_status = tree.lookup("ntp.status").present().map(ConfigNode::to_text);
    let ntp = ntp_status.filter(|s| !s.is_empty() && s != "none");
    let (source, offset) = if let Some(leap_status) = chrony {
        f.put("time.leap_status", text(leap_status));
        if let Some(n) = leap {
            f.cite("time.leap_status", &tree.file, n.line);
        }
        ("chrony", tree.lookup("chrony.last_offset").present())
    } else if ntp.is_some() {
        f.copy("time.sync", tree, "ntp.sync");
        ("ntp", tree.lookup("ntp.offset").present())
    } else if let Some(n) = tree
        .lookup("ntp")
        .present()
        .or(tree.lookup("chrony").present())
    {
        f.cite("time.source", &tree.file, n.line);
        ("none", None)
    } else {
        // Neither probe's output is in the file: the source is unknown, not none.
        return;
    };
    f.put("time.source", text(source));
    if let Some(n) = offset
        && let Ok(ms) = n.to_float()
    {
        f.put("time.offset_ms", ConfigValue::Float(ms.abs()));
        f.cite("time.offset_ms", &tree.file, n.line);
    }
}

/// `tiup cluster check`'s `os-version` verdict and message (the thresholds of TiUP ≥ v1.16.5).
pub(crate) fn os_check(
    vendor: &str,
    version: &str,
    name: &str,
    release: &str,
) -> (&'static str, String) {
    let v = parse_dotted(version.trim_start_matches(['V', 'v']));
    let ge = |want: (u64, u64)| v.is_some_and(|have| have >= want);
    let lt = |want: (u64, u64)| v.is_some_and(|have| have < want);
    let fail = |advice: &str| ("fail", format!("{name} {release} not supported, {advice}"));
    let pass = ("pass", format!("OS is {name} {release}"));
    match vendor.to_ascii_lowercase().as_str() {
        "kylin" if ge((10, 0)) => pass,
        "kylin" => fail("use version V10 or higher"),
        "amzn" if v == Some((2023, 0)) || (ge((2, 0)) && lt((3, 0))) => pass,
        "amzn" => fail("use Amazon Linux 2 or Amazon Linux 2023 please"),
        "centos" if ge((9, 0)) => pass,
        "centos" => fail("use version 9 or higher"),
        "redhat" | "rhel" | "ol" if ge((8, 4)) && lt((10, 0)) => pass,
        "redhat" | "rhel" | "ol" => fail("use version 8.x or 9.x version please"),
        "rocky" if ge((9, 1)) => pass,
        "rocky" => fail("use version 9.1 or later please"),
        "debian" if ge((10, 0)) => (
            "warn",
            format!("{name} {release} (Debian support is not fully tested, be careful)"),
        ),
        "debian" => {
            fail("use version 10 or higher (Debian support is not fully tested, be careful)")
        }
        "ubuntu" if ge((20, 4)) => (
            "warn",
            format!("{name} {release} (Ubuntu support is not fully tested, be careful)"),
        ),
        "ubuntu" => {
            fail("use version 20.04 or higher (Ubuntu support is not fully tested, be careful)")
        }
        "openeuler" => pass,
        other => ("fail", format!("OS vendor {other} not supported")),
    }
}

/// `9`, `8.6`, `20.04` → (major, minor).
fn parse_dotted(s: &str) -> Option<(u64, u64)> {
    let mut parts = s.trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// The deploy user's soft `nofile` in `limits.conf` (exact user, as TiUP reads it).
fn limits_facts(f: &mut Facts, cluster: &Cluster, host: &str, user: &str) {
    f.put("limits.user", text(user));
    let Some(file) = cluster
        .hosts
        .get(host)
        .and_then(|files| files.iter().find(|f| f.kind == DataKind::Limits))
    else {
        return;
    };
    let Ok(tree) = file.tree() else { return };
    let rows = tree.root.as_array().unwrap_or(&[]);
    let soft = rows.iter().rev().find(|r| {
        let is = |k: &str, v: &[&str]| r.get(k).is_some_and(|n| v.contains(&n.to_text().as_str()));
        is("domain", &[user]) && is("item", &["nofile"]) && is("type", &["soft", "-"])
    });
    if let Some(row) = soft
        && let Some(value) = row.get("value")
        && let Ok(v) = value.to_int()
    {
        f.put("limits.nofile_soft", ConfigValue::Int(v));
        f.cite("limits.nofile_soft", &tree.file, row.line);
    }
}

/// TiKV block caches summed over the host, the open files the most demanding TiKV needs, and
/// the production sizing of the components on the host.
fn instance_facts(f: &mut Facts, cluster: &Cluster, on_host: &[usize]) {
    let mut block_cache = 0u64;
    let mut tikv = 0usize;
    let mut needed: Option<(i64, String)> = None;
    let mut components: Vec<ComponentKind> = Vec::new();
    for &i in on_host {
        let instance = &cluster.instances[i];
        if !components.contains(&instance.component) {
            components.push(instance.component);
        }
        if instance.component != ComponentKind::Tikv {
            continue;
        }
        tikv += 1;
        let Some(tree) = instance.config.tree() else {
            continue;
        };
        if let Some(n) = tree.lookup("storage.block-cache.capacity").present()
            && let Ok(bytes) = n.to_size()
        {
            block_cache += bytes;
            f.cite("tikv.block_cache_bytes", &tree.file, n.line);
        }
        let int = |p: &str| tree.lookup(p).present().and_then(|n| n.to_int().ok());
        if let (Some(rocks), Some(raft)) =
            (int("rocksdb.max-open-files"), int("raftdb.max-open-files"))
        {
            let titan = tree
                .lookup("rocksdb.titan.enabled")
                .present()
                .is_some_and(|n| n.to_bool().unwrap_or(false));
            let need = 1000 + rocks * if titan { 2 } else { 1 } + raft;
            for p in ["rocksdb.max-open-files", "raftdb.max-open-files"] {
                if let Some(n) = tree.lookup(p).present() {
                    f.cite("tikv.nofile_needed", &tree.file, n.line);
                }
            }
            if needed.as_ref().is_none_or(|(n, _)| need > *n) {
                needed = Some((need, instance.address()));
            }
        }
    }
    f.put("tikv.count", count(tikv));
    if tikv > 0 {
        f.put(
            "tikv.block_cache_bytes",
            ConfigValue::Int(block_cache as i64),
        );
        if let Some(mb) = f
            .doc
            .get("memory")
            .and_then(|m| m.get("size_mb"))
            .and_then(|n| n.to_int().ok())
            && mb > 0
        {
            let share = block_cache as f64 / (mb as f64 * MIB as f64);
            f.put(
                "tikv.block_cache_share",
                ConfigValue::Float((share * 1000.0).round() / 1000.0),
            );
        }
    }
    if let Some((need, by)) = needed {
        f.put("tikv.nofile_needed", ConfigValue::Int(need));
        f.put("tikv.nofile_needed_by", text(by));
    }
    // Production sizing (docs `hardware-and-software-requirements.md`): the largest need of
    // the components on the host.
    let sizing = |k: ComponentKind| match k {
        ComponentKind::Tidb => Some((16, 48)),
        ComponentKind::Pd => Some((8, 16)),
        ComponentKind::Tikv | ComponentKind::Ticdc => Some((16, 64)),
        ComponentKind::Tiflash => Some((48, 128)),
        _ => None,
    };
    let sized: Vec<(ComponentKind, (i64, i64))> = components
        .iter()
        .filter_map(|&k| sizing(k).map(|s| (k, s)))
        .collect();
    f.put("sizing.needed", ConfigValue::Bool(!sized.is_empty()));
    if !sized.is_empty() {
        let threads = sized.iter().map(|(_, s)| s.0).max().unwrap_or(0);
        let gb = sized.iter().map(|(_, s)| s.1).max().unwrap_or(0);
        f.put(
            "sizing.components",
            texts(sized.iter().map(|(k, _)| k.topology_key())),
        );
        f.put("sizing.min_threads", ConfigValue::Int(threads));
        f.put("sizing.min_memory_mb", ConfigValue::Int(gb * 1024));
    }
}

/// A mount of a host: point, filesystem, options, size and where `insight.json` lists it.
struct Mount {
    point: String,
    filesystem: String,
    options: Vec<String>,
    size: Option<i64>,
    line: u32,
}

/// Every mounted partition of an insight tree, `subdev` flattened (LVM, partitions of disks).
fn mounts(tree: &ConfigTree) -> Vec<Mount> {
    fn walk(node: &ConfigNode, out: &mut Vec<Mount>) {
        for part in node.as_array().unwrap_or(&[]) {
            if let Some(mount) = part.get("mount")
                && let Some(point) = mount.get("mount_point").and_then(ConfigNode::as_str)
                && point.starts_with('/')
            {
                out.push(Mount {
                    point: point.to_string(),
                    filesystem: mount
                        .get("filesystem")
                        .map(ConfigNode::to_text)
                        .unwrap_or_default(),
                    options: mount
                        .get("mount_options")
                        .map(ConfigNode::to_text)
                        .unwrap_or_default()
                        .split(',')
                        .map(|o| o.trim().to_string())
                        .filter(|o| !o.is_empty())
                        .collect(),
                    size: part.get("size").and_then(|n| n.to_int().ok()),
                    line: mount.line,
                });
            }
            if let Some(sub) = part.get("subdev") {
                walk(sub, out);
            }
        }
    }
    let mut out = Vec::new();
    if let Some(parts) = tree.lookup("partitions").present() {
        walk(parts, &mut out);
    }
    out
}

/// The mount holding `dir`: the longest mount point that is `dir` or a parent of it.
fn holding<'m>(mounts: &'m [Mount], dir: &str) -> Option<&'m Mount> {
    let dir = dir.trim_end_matches('/');
    mounts
        .iter()
        .filter(|m| {
            let p = m.point.trim_end_matches('/');
            p.is_empty() || dir == p || dir.strip_prefix(p).is_some_and(|r| r.starts_with('/'))
        })
        .max_by_key(|m| m.point.trim_end_matches('/').len())
}

/// The data dirs of an instance (TiFlash lists several, comma-separated), absolute (a relative
/// dir is under the deploy dir, as TiUP places it).
fn data_dirs_of(instance: &crate::model::Instance) -> Vec<String> {
    let Some(raw) = instance.data_dir.as_deref() else {
        return Vec::new();
    };
    raw.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| match (&instance.deploy_dir, d.starts_with('/')) {
            (Some(deploy), false) => format!("{}/{d}", deploy.trim_end_matches('/')),
            _ => d.to_string(),
        })
        .collect()
}

/// Per data dir of each instance that has one: its mount, the mount's options, and which
/// TiKV/TiFlash data dirs share that mount.
pub(super) fn data_dirs(cluster: &Cluster) -> Vec<Facts> {
    if cluster.layout == Layout::Operator {
        return Vec::new();
    }
    let mut out = Vec::new();
    let trees: std::collections::BTreeMap<&str, Result<Arc<ConfigTree>, String>> =
        super::hosts(cluster)
            .into_iter()
            .map(|h| (h, insight(cluster, h)))
            .collect();
    let all_mounts: std::collections::BTreeMap<&str, Vec<Mount>> = trees
        .iter()
        .filter_map(|(h, t)| t.as_ref().ok().map(|t| (*h, mounts(t))))
        .collect();
    // (host, mount point) → the TiKV/TiFlash data dirs on it, in bundle order.
    let mut sharing: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for instance in &cluster.instances {
        if !matches!(
            instance.component,
            ComponentKind::Tikv | ComponentKind::Tiflash
        ) {
            continue;
        }
        let Some(mounts) = all_mounts.get(instance.host.as_str()) else {
            continue;
        };
        for dir in data_dirs_of(instance) {
            if let Some(m) = holding(mounts, &dir) {
                sharing
                    .entry((instance.host.clone(), m.point.clone()))
                    .or_default()
                    .push(format!("{}:{dir}", instance.component.topology_key()));
            }
        }
    }
    for (index, instance) in cluster.instances.iter().enumerate() {
        let dirs = data_dirs_of(instance);
        let several = dirs.len() > 1;
        for dir in dirs {
            let tag = if several {
                format!("{}_{dir}", instance.tag())
            } else {
                instance.tag()
            };
            let mut f = Facts::new(tag, vec![index]);
            f.put("component", text(instance.component.topology_key()));
            f.put("host", text(instance.host.as_str()));
            f.put("data_dir", text(dir.as_str()));
            match trees.get(instance.host.as_str()) {
                Some(Ok(tree)) => {
                    let mounts = all_mounts
                        .get(instance.host.as_str())
                        .map_or(&[][..], Vec::as_slice);
                    match holding(mounts, &dir) {
                        Some(m) => {
                            f.put("mount.point", text(m.point.as_str()));
                            f.put("mount.filesystem", text(m.filesystem.as_str()));
                            f.put("mount.options", texts(m.options.iter().map(String::as_str)));
                            f.put(
                                "mount.nodelalloc",
                                ConfigValue::Bool(m.options.iter().any(|o| o == "nodelalloc")),
                            );
                            f.put(
                                "mount.noatime",
                                ConfigValue::Bool(m.options.iter().any(|o| o == "noatime")),
                            );
                            if let Some(size) = m.size {
                                f.put("mount.size_bytes", ConfigValue::Int(size));
                            }
                            f.cite("mount", &tree.file, m.line);
                            let shared = sharing
                                .get(&(instance.host.clone(), m.point.clone()))
                                .cloned()
                                .unwrap_or_default();
                            f.put("mount.shared_count", count(shared.len()));
                            f.put("mount.shared_by", texts(shared));
                        }
                        None => f.absent = Some(format!("no mount in `{}` holds {dir}", tree.file)),
                    }
                }
                Some(Err(why)) => f.absent = Some(why.clone()),
                None => {
                    f.absent = Some(format!(
                        "no insight.json collected for host {}",
                        instance.host
                    ))
                }
            }
            if instance.component == ComponentKind::Tikv
                && let Some(tree) = instance.config.tree()
                && let Some(n) = tree.lookup("storage.reserve-space").present()
                && let Ok(bytes) = n.to_size()
            {
                f.put("tikv.reserve_space_bytes", ConfigValue::Int(bytes as i64));
                f.cite("tikv.reserve_space_bytes", &tree.file, n.line);
            }
            out.push(f);
        }
    }
    out
}

/// One row for the cluster: which hosts have system data. An Operator bundle has none by
/// design, which is said here once instead of by every system rule.
pub(super) fn host_data(cluster: &Cluster) -> Vec<Facts> {
    let mut f = Facts::new("cluster", Vec::new());
    f.put(
        "layout",
        text(match cluster.layout {
            Layout::Operator => "operator",
            Layout::Tiup => "tiup",
            Layout::Manual => "manual",
        }),
    );
    let all = super::hosts(cluster);
    let mut without = Vec::new();
    for host in &all {
        let files = cluster.hosts.get(*host);
        let has = |k: DataKind| files.is_some_and(|fs| fs.iter().any(|f| f.kind == k));
        if !(has(DataKind::Insight) && has(DataKind::Limits) && has(DataKind::Sysctl)) {
            without.push(host.to_string());
        }
    }
    let note = if cluster.layout == Layout::Operator {
        "Operator bundle: diag collects no host data on Kubernetes (insight.json, limits.conf, sysctl.conf), so system rules have no rows".to_string()
    } else {
        format!(
            "{} of {} host(s) lack insight.json, limits.conf or sysctl.conf: {}",
            without.len(),
            all.len(),
            without.join(", ")
        )
    };
    f.put("note", text(note));
    f.put("hosts", count(all.len()));
    f.put("hosts_without_system_data_count", count(without.len()));
    f.put("hosts_without_system_data", texts(without));
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_versions_follow_tiup_cluster_check() {
        assert_eq!(
            os_check("centos", "7", "CentOS Linux 7 (Core)", "7.9.2009").0,
            "fail"
        );
        assert_eq!(
            os_check("centos", "7", "CentOS Linux", "7.9").1,
            "CentOS Linux 7.9 not supported, use version 9 or higher"
        );
        assert_eq!(os_check("rhel", "8.6", "Red Hat", "8.6").0, "pass");
        assert_eq!(os_check("rhel", "8.2", "Red Hat", "8.2").0, "fail");
        assert_eq!(os_check("rocky", "9.1", "Rocky", "9.1").0, "pass");
        assert_eq!(os_check("ubuntu", "22.04", "Ubuntu", "22.04").0, "warn");
        assert_eq!(os_check("ubuntu", "18.04", "Ubuntu", "18.04").0, "fail");
        assert_eq!(os_check("amzn", "2023", "Amazon Linux", "2023").0, "pass");
        assert_eq!(os_check("kylin", "V10", "Kylin", "V10").0, "pass");
        assert_eq!(
            os_check("arch", "", "Arch", "").1,
            "OS vendor arch not supported"
        );
    }

    #[test]
    fn the_longest_mount_prefix_holds_a_dir() {
        let m = |p: &str| Mount {
            point: p.into(),
            filesystem: "ext4".into(),
            options: Vec::new(),
            size: None,
            line: 0,
        };
        let mounts = [m("/"), m("/data"), m("/data1"), m("/data/tikv")];
        assert_eq!(
            holding(&mounts, "/data/tikv/20160").map(|m| m.point.as_str()),
            Some("/data/tikv")
        );
        assert_eq!(
            holding(&mounts, "/data1/x").map(|m| m.point.as_str()),
            Some("/data1")
        );
        assert_eq!(
            holding(&mounts, "/data10/x").map(|m| m.point.as_str()),
            Some("/")
        );
        assert_eq!(
            holding(&mounts, "/data").map(|m| m.point.as_str()),
            Some("/data")
        );
    }
}
