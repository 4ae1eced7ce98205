//! A small TiUP bundle for the system and topology rules: five hosts with their
//! `insight.json`, `limits.conf` and `sysctl.conf`, PD, TiKV and TiDB runtime configs, PD's
//! `store.json` and `placement-rule.json`. [`system_bundle`]`(true)` plants one fault of each
//! kind the rules look for (and lists which file must be cited for it);
//! [`system_bundle`]`(false)` is its healthy twin: same hosts and instances, good values.
//!
//! The committed fixtures `fixtures/diag-system-faults/` and `fixtures/diag-system-healthy/`
//! are these bundles; a test keeps them equal to the generator's output.
//!
//! ```
//! let faulty = diag_bundlegen::system::system_bundle(true);
//! assert!(faulty.files.iter().any(|(p, _)| p == "10.0.1.1/insight.json"));
//! assert!(faulty.faults.iter().any(|f| f.rule == "sysctl-vm-swappiness"));
//! assert!(diag_bundlegen::system::system_bundle(false).faults.is_empty());
//! ```

use serde_json::{Value, json};

/// A fault planted in the bundle: the rule that must flag it and the file it must cite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlantedFault {
    /// The rule's name.
    pub rule: &'static str,
    /// The bundle-relative file the abnormal row must cite.
    pub file: String,
}

/// A generated bundle: its files (bundle-relative path → bytes) and the faults planted in it.
#[derive(Debug, Clone)]
pub struct SystemBundle {
    /// Bundle-relative path → content, in write order.
    pub files: Vec<(String, Vec<u8>)>,
    /// What a correct checker must flag (empty for the healthy twin).
    pub faults: Vec<PlantedFault>,
}

impl SystemBundle {
    /// Writes every file into `sink`.
    pub fn write(&self, sink: &mut dyn crate::BundleSink) -> std::io::Result<()> {
        for (path, bytes) in &self.files {
            sink.file(path, bytes)?;
        }
        Ok(())
    }
}

/// One instance of the topology.
struct Inst {
    comp: &'static str,
    host: usize,
    port: u16,
    status_port: u16,
    data_dir: Option<String>,
}

const HOSTS: [&str; 5] = ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5"];
const VERSION: &str = "v7.5.1";

fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}

fn topology(faulty: bool) -> Vec<Inst> {
    let pd = |host| Inst {
        comp: "pd",
        host,
        port: 2379,
        status_port: 2379,
        data_dir: Some("/pd-data/pd-2379".into()),
    };
    let tikv = |host, port: u16, dir: &str| Inst {
        comp: "tikv",
        host,
        port,
        status_port: port + 20,
        data_dir: Some(format!("{dir}/tikv-{port}")),
    };
    let tidb = |host| Inst {
        comp: "tidb",
        host,
        port: 4000,
        status_port: 10080,
        data_dir: None,
    };
    let mut out = vec![pd(0), pd(1), pd(2)];
    if faulty {
        // Fault: an even number of PD.
        out.push(pd(3));
    }
    out.push(tikv(2, 20160, "/data1"));
    out.push(tikv(3, 20160, "/data1"));
    // Fault: the second TiKV of host 4 on the same mount as the first.
    out.push(tikv(3, 20161, if faulty { "/data1" } else { "/data2" }));
    out.push(tikv(4, 20160, "/data1"));
    out.push(tidb(0));
    if !faulty {
        // Fault (by absence): a single TiDB.
        out.push(tidb(1));
    }
    if faulty {
        // Fault: a pump without a drainer.
        out.push(Inst {
            comp: "pump",
            host: 0,
            port: 8250,
            status_port: 8250,
            data_dir: Some("/data1/pump-8250".into()),
        });
    }
    out
}

fn deploy_dir(i: &Inst) -> String {
    format!("/tidb-deploy/{}-{}", i.comp, i.port)
}

fn cluster_json(insts: &[Inst]) -> Value {
    let mut topo = serde_json::Map::new();
    topo.insert("version".into(), json!(VERSION));
    for comp in ["pd", "tikv", "tidb", "pump"] {
        let list: Vec<Value> = insts
            .iter()
            .filter(|i| i.comp == comp)
            .map(|i| {
                let mut attrs = json!({
                    "deploy_dir": deploy_dir(i),
                    "log_dir": format!("{}/log", deploy_dir(i)),
                    "config": null,
                    "os": "linux",
                    "arch": "amd64",
                });
                if let Some(d) = &i.data_dir {
                    attrs["data_dir"] = json!(d);
                }
                if comp == "pd" {
                    attrs["name"] = json!(format!("pd-{}-{}", HOSTS[i.host], i.port));
                }
                json!({"host": HOSTS[i.host], "port": i.port, "status_port": i.status_port, "ssh_port": 22, "attributes": attrs})
            })
            .collect();
        if !list.is_empty() {
            topo.insert(comp.into(), Value::Array(list));
        }
    }
    json!({
        "diag_version": "v1.5.0",
        "cluster_name": "sys",
        "cluster_id": "7300000000000000001",
        "cluster_type": "tidb-cluster",
        "deploy_type": "tiup-cluster",
        "session": "fSyst3m0000",
        "begin_time": "2024-03-01T10:00:00+08:00",
        "end_time": "2024-03-01T12:00:00+08:00",
        "collectors": ["system", "config.runtime"],
        "raw_request": "collect sys -f -2h",
        "topology": Value::Object(topo),
    })
}

/// Host facts that differ between the hosts and the twins.
struct HostSpec {
    vendor: &'static str,
    version: &'static str,
    name: &'static str,
    release: &'static str,
    governor: &'static str,
    threads: i64,
    memory_mb: i64,
    swap_mb: i64,
    nic_speed: i64,
    timezone: &'static str,
    /// `chrony` / `ntp` / `none`, with offset (ms) and sync state.
    clock: (&'static str, f64, &'static str),
    epoll: bool,
    /// `(mount point, filesystem, options)`.
    mounts: Vec<(&'static str, &'static str, &'static str)>,
}

fn host_spec(host: usize, faulty: bool) -> HostSpec {
    let good = HostSpec {
        vendor: "rocky",
        version: "9.3",
        name: "Rocky Linux 9.3 (Blue Onyx)",
        release: "9.3",
        governor: "performance",
        threads: 48,
        memory_mb: 131072,
        swap_mb: 0,
        nic_speed: 10000,
        timezone: "Asia/Shanghai",
        clock: ("chrony", 0.42, "normal"),
        epoll: true,
        mounts: vec![
            ("/", "xfs", "rw,relatime"),
            ("/pd-data", "ext4", "rw,noatime,nodelalloc"),
            ("/data1", "ext4", "rw,noatime,nodelalloc"),
            ("/data2", "ext4", "rw,noatime,nodelalloc"),
        ],
    };
    if !faulty {
        return good;
    }
    match host {
        // Faults: unsupported OS, a powersave governor, swap, a 100 Mb NIC, a clock 800 ms off,
        // and too little memory for a TiDB + PD host.
        0 => HostSpec {
            vendor: "centos",
            version: "7",
            name: "CentOS Linux 7 (Core)",
            release: "7.9.2009",
            governor: "powersave",
            memory_mb: 16384,
            swap_mb: 8192,
            nic_speed: 100,
            clock: ("chrony", 812.5, "normal"),
            ..good
        },
        // Faults: another time zone than the first PD's host; ntpd installed but not synced;
        // the PD data mount without noatime.
        1 => HostSpec {
            timezone: "UTC",
            clock: ("ntp", 3.1, "none"),
            mounts: vec![
                ("/", "xfs", "rw,relatime"),
                ("/pd-data", "xfs", "rw,relatime"),
                ("/data1", "ext4", "rw,noatime,nodelalloc"),
            ],
            ..good
        },
        // Faults: no epoll exclusive, no NTP/chrony at all, an ext4 data mount without nodelalloc.
        2 => HostSpec {
            epoll: false,
            clock: ("none", 0.0, ""),
            mounts: vec![
                ("/", "xfs", "rw,relatime"),
                ("/pd-data", "ext4", "rw,noatime,nodelalloc"),
                ("/data1", "ext4", "rw,noatime"),
            ],
            ..good
        },
        // Faults: chrony not synchronised; the governor unknown; 64 GB for two TiKV.
        3 => HostSpec {
            clock: ("chrony", 0.2, "not synchronised"),
            governor: "",
            memory_mb: 65536,
            ..good
        },
        // Fault: the TiKV data dir on btrfs.
        _ => HostSpec {
            mounts: vec![
                ("/", "xfs", "rw,relatime"),
                ("/data1", "btrfs", "rw,noatime"),
            ],
            ..good
        },
    }
}

fn insight(host: usize, spec: &HostSpec) -> Value {
    let mut doc = json!({
        "meta": {"timestamp": "2024-03-01T12:00:03+08:00", "uptime": 864000.5, "sysinfo_ver": "0.9.1", "version": "0.4.1", "go_version": "go1.21.6"},
        "sysinfo": {
            "node": {"hostname": format!("sys-{}", host + 1), "timezone": spec.timezone},
            "os": {"name": spec.name, "vendor": spec.vendor, "version": spec.version, "release": spec.release, "architecture": "amd64"},
            "kernel": {"release": "5.14.0-362.8.1.el9_3.x86_64", "architecture": "x86_64"},
            "cpu": {"vendor": "GenuineIntel", "model": "Intel(R) Xeon(R) Gold 6330 CPU @ 2.00GHz", "speed": 2000, "cpus": 2, "cores": spec.threads / 2, "threads": spec.threads, "governor": spec.governor},
            "memory": {"type": "RAM", "size": spec.memory_mb, "swap": spec.swap_mb},
            "network": [
                {"name": "lo", "speed": 0, "mtu": 65536},
                {"name": "eth0", "driver": "ixgbe", "macaddress": format!("52:54:00:00:01:{:02x}", host + 1), "ipaddress": [HOSTS[host]], "speed": spec.nic_speed, "mtu": 1500}
            ]
        },
        "partitions": [
            {
                "name": "nvme0n1",
                "size": 3_840_755_982_336_i64,
                "subdev": spec.mounts.iter().enumerate().map(|(n, (point, fs, opts))| json!({
                    "name": format!("nvme0n1p{}", n + 1),
                    "size": 900_000_000_000_i64,
                    "mount": {"mount_point": point, "filesystem": fs, "mount_options": opts}
                })).collect::<Vec<_>>()
            }
        ]
    });
    match spec.clock {
        ("chrony", offset, leap) => {
            doc["chrony"] = json!({"referenceid": "A9FEA9FE", "stratum": 3, "last_offset": offset, "rms_offset": 0.1, "leap_status": leap});
            doc["ntp"] = json!({"version": "exec: \"ntpq\": executable file not found in $PATH"});
        }
        ("ntp", offset, sync) => {
            doc["ntp"] = json!({"sync": sync, "stratum": 3, "offset": offset, "status": "c618"});
            doc["chrony"] = json!({"leap_status": "none"});
        }
        _ => {
            doc["ntp"] = json!({"version": "exec: \"ntpq\": executable file not found in $PATH", "status": "none"});
            doc["chrony"] = json!({"leap_status": "none"});
        }
    }
    if spec.epoll {
        doc["epoll_exclusive"] = json!(true);
    }
    doc
}

fn limits(host: usize, faulty: bool) -> String {
    let (soft, hard, stack) = match (faulty, host) {
        // Faults: nofile soft too low; the stack soft limit too low; nofile below what TiKV needs.
        (true, 1) => (65535, 1_000_000, 10240),
        (true, 2) => (1_000_000, 1_000_000, 8192),
        (true, 4) => (40960, 40960, 10240),
        _ => (1_000_000, 1_000_000, 32768),
    };
    format!(
        "tidb\tsoft\tnofile\t{soft}\ntidb\thard\tnofile\t{hard}\ntidb\tsoft\tstack\t{stack}\ntidb\thard\tstack\t{stack}\n"
    )
}

fn sysctl(host: usize, faulty: bool) -> String {
    let mut values = [
        ("fs.file-max", "1000000"),
        ("net.core.somaxconn", "32768"),
        ("net.ipv4.tcp_syncookies", "0"),
        ("net.ipv4.tcp_tw_recycle", "0"),
        ("vm.overcommit_memory", "1"),
        ("vm.swappiness", "0"),
        ("vm.min_free_kbytes", "1048576"),
    ];
    if faulty {
        let fault = match host {
            0 => [("fs.file-max", "65536"), ("vm.overcommit_memory", "2")],
            1 => [
                ("net.core.somaxconn", "4096"),
                ("vm.min_free_kbytes", "1048576"),
            ],
            2 => [
                ("net.ipv4.tcp_tw_recycle", "1"),
                ("vm.min_free_kbytes", "1048576"),
            ],
            3 => [
                ("net.ipv4.tcp_syncookies", "1"),
                ("vm.min_free_kbytes", "1048576"),
            ],
            _ => [("vm.swappiness", "60"), ("vm.min_free_kbytes", "1048576")],
        };
        for (k, v) in fault {
            if let Some(slot) = values.iter_mut().find(|(key, _)| *key == k) {
                slot.1 = v;
            }
        }
    }
    values.iter().map(|(k, v)| format!("{k} = {v}\n")).collect()
}

fn pd_config(host: usize, faulty: bool) -> Value {
    let me = HOSTS[host];
    json!({
        "name": format!("pd-{me}-2379"),
        "data-dir": "/pd-data/pd-2379",
        "client-urls": format!("http://{me}:2379"),
        "advertise-client-urls": format!("http://{me}:2379"),
        "peer-urls": format!("http://{me}:2380"),
        "cluster-version": if faulty { "7.5.0" } else { "7.5.1" },
        "log": {"level": "info", "file": {"filename": "/tidb-deploy/pd-2379/log/pd.log", "max-days": 7, "max-backups": 7}},
        "schedule": {"leader-schedule-limit": 4, "region-schedule-limit": 2048, "max-store-down-time": "30m0s"},
        "replication": {
            "max-replicas": if faulty { 5 } else { 3 },
            "location-labels": if faulty { json!(["zone", "host"]) } else { json!(["host"]) },
            "strictly-match-label": "false",
            "enable-placement-rules": "true",
            "isolation-level": ""
        }
    })
}

fn tikv_config(inst: &Inst, faulty: bool) -> Value {
    let me = format!("{}:{}", HOSTS[inst.host], inst.port);
    let shared_host = inst.host == 3;
    let block_cache = match (shared_host, faulty) {
        (true, true) => "40GiB",
        (true, false) => "24GiB",
        _ => "48GiB",
    };
    json!({
        "log-level": "info",
        "server": {"addr": format!("0.0.0.0:{}", inst.port), "advertise-addr": me, "status-addr": format!("0.0.0.0:{}", inst.status_port), "grpc-concurrency": 5, "labels": {"host": format!("h{}", inst.host + 1)}},
        "storage": {
            "data-dir": inst.data_dir.clone().unwrap_or_default(),
            "reserve-space": if faulty && inst.host == 2 { "0KiB" } else { "5GiB" },
            "block-cache": {"capacity": block_cache}
        },
        "coprocessor": {"region-split-size": if faulty && inst.host == 4 { "256MiB" } else { "96MiB" }},
        "rocksdb": {"max-open-files": 40960, "titan": {"enabled": false}},
        "raftdb": {"max-open-files": 40960}
    })
}

fn tidb_config(host: usize) -> Value {
    json!({
        "host": "0.0.0.0",
        "advertise-address": HOSTS[host],
        "port": 4000,
        "path": "10.0.1.1:2379,10.0.1.2:2379,10.0.1.3:2379",
        "log": {"level": "info", "file": {"filename": "/tidb-deploy/tidb-4000/log/tidb.log", "max-days": 7, "max-backups": 7}},
        "status": {"status-port": 10080}
    })
}

fn store_json(insts: &[Inst], faulty: bool) -> Value {
    let tikvs: Vec<&Inst> = insts.iter().filter(|i| i.comp == "tikv").collect();
    let store = |id: usize, inst: &Inst, state: &str, version: &str, avail: &str, leaders: i64| {
        let address = format!("{}:{}", HOSTS[inst.host], inst.port);
        json!({
            "store": {
                "id": id,
                "address": address,
                "labels": [{"key": "host", "value": format!("h{}", inst.host + 1)}],
                "version": version,
                "status_address": format!("{}:{}", HOSTS[inst.host], inst.status_port),
                "git_hash": "a5ac2b7b5e1c1b0e8e5f4e3d2c1b0a9f8e7d6c5b",
                "deploy_path": format!("{}/bin", deploy_dir(inst)),
                "state_name": state
            },
            "status": {
                "capacity": "1.719TiB",
                "available": avail,
                "used_size": "120GiB",
                "leader_count": leaders,
                "leader_weight": 1,
                "region_count": 1200,
                "region_weight": 1
            }
        })
    };
    let mut stores = Vec::new();
    if faulty {
        // Faults: a Down store, an Offline store, a Tombstone still listed, a duplicated
        // address, little space left, a store holding 3× the median of leaders, a store
        // running another version than the cluster.
        stores.push(store(1, tikvs[0], "Up", "7.5.1", "1.2TiB", 1200));
        stores.push(store(4, tikvs[1], "Up", "7.5.0", "150GiB", 400));
        stores.push(store(5, tikvs[2], "Down", "7.5.1", "1.2TiB", 0));
        stores.push(store(6, tikvs[3], "Offline", "7.5.1", "1.2TiB", 0));
        stores.push(store(7, tikvs[3], "Tombstone", "7.5.1", "1.7TiB", 0));
        stores.push(store(8, tikvs[0], "Up", "7.5.1", "1.2TiB", 400));
    } else {
        for (n, inst) in tikvs.iter().enumerate() {
            stores.push(store(
                n + 1,
                inst,
                "Up",
                "7.5.1",
                "1.2TiB",
                400 + n as i64 * 10,
            ));
        }
    }
    json!({"count": stores.len(), "stores": stores})
}

fn placement(faulty: bool) -> Value {
    json!([{
        "group_id": "pd",
        "group_index": 0,
        "group_override": false,
        "rules": [{"group_id": "pd", "id": "default", "start_key": "", "end_key": "", "role": "voter", "count": if faulty { 5 } else { 3 }}]
    }])
}

/// The bundle, with one fault of each kind (`faulty`) or none.
pub fn system_bundle(faulty: bool) -> SystemBundle {
    let insts = topology(faulty);
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("cluster.json".into(), pretty(&cluster_json(&insts))),
        (
            "meta.yaml".into(),
            format!("user: tidb\ntidb_version: {VERSION}\n").into_bytes(),
        ),
    ];
    for (h, host) in HOSTS.iter().enumerate() {
        files.push((
            format!("{host}/insight.json"),
            pretty(&insight(h, &host_spec(h, faulty))),
        ));
        files.push((
            format!("{host}/limits.conf"),
            limits(h, faulty).into_bytes(),
        ));
        files.push((
            format!("{host}/sysctl.conf"),
            sysctl(h, faulty).into_bytes(),
        ));
    }
    let mut first_pd = true;
    for inst in &insts {
        let conf = format!("{}{}/conf", HOSTS[inst.host], deploy_dir(inst));
        let config = match inst.comp {
            "pd" => Some(pd_config(inst.host, faulty)),
            "tikv" => Some(tikv_config(inst, faulty)),
            "tidb" => Some(tidb_config(inst.host)),
            _ => None,
        };
        if let Some(c) = config {
            files.push((format!("{conf}/config.json"), pretty(&c)));
        }
        if inst.comp == "pd" && first_pd {
            first_pd = false;
            files.push((
                format!("{conf}/store.json"),
                pretty(&store_json(&insts, faulty)),
            ));
            files.push((
                format!("{conf}/placement-rule.json"),
                pretty(&placement(faulty)),
            ));
        }
    }
    let faults = if faulty { planted() } else { Vec::new() };
    SystemBundle { files, faults }
}

/// The faults [`system_bundle`]`(true)` plants, with the file each must be cited from.
fn planted() -> Vec<PlantedFault> {
    let pd_conf = "10.0.1.1/tidb-deploy/pd-2379/conf";
    let f = |rule: &'static str, file: String| PlantedFault { rule, file };
    vec![
        f("sysctl-fs-file-max", "10.0.1.1/sysctl.conf".into()),
        f("sysctl-vm-overcommit-memory", "10.0.1.1/sysctl.conf".into()),
        f("sysctl-net-core-somaxconn", "10.0.1.2/sysctl.conf".into()),
        f(
            "sysctl-net-ipv4-tcp-tw-recycle",
            "10.0.1.3/sysctl.conf".into(),
        ),
        f(
            "sysctl-net-ipv4-tcp-syncookies",
            "10.0.1.4/sysctl.conf".into(),
        ),
        f("sysctl-vm-swappiness", "10.0.1.5/sysctl.conf".into()),
        f("limits-nofile-soft", "10.0.1.2/limits.conf".into()),
        f("limits-nofile-hard", "10.0.1.5/limits.conf".into()),
        f("limits-stack-soft", "10.0.1.3/limits.conf".into()),
        f("os-version", "10.0.1.1/insight.json".into()),
        f("cpu-governor", "10.0.1.1/insight.json".into()),
        f("cpu-governor-unknown", "10.0.1.4/insight.json".into()),
        f("swap-enabled", "10.0.1.1/insight.json".into()),
        f("network-speed", "10.0.1.1/insight.json".into()),
        f("time-offset", "10.0.1.1/insight.json".into()),
        f("ntpd-not-started", "10.0.1.2/insight.json".into()),
        f("ntp-not-installed", "10.0.1.3/insight.json".into()),
        f("chrony-not-synchronised", "10.0.1.4/insight.json".into()),
        f("epoll-exclusive", "10.0.1.3/insight.json".into()),
        f("timezone-first-pd", "10.0.1.2/insight.json".into()),
        f("host-sizing", "10.0.1.1/insight.json".into()),
        f("data-dir-nodelalloc", "10.0.1.3/insight.json".into()),
        f("data-dir-noatime", "10.0.1.2/insight.json".into()),
        f("data-dir-filesystem", "10.0.1.5/insight.json".into()),
        f("data-dir-shared-mount", "10.0.1.4/insight.json".into()),
        f(
            "tikv-block-cache-vs-memory",
            "10.0.1.4/tidb-deploy/tikv-20160/conf/config.json".into(),
        ),
        f(
            "tikv-nofile-vs-max-open-files",
            "10.0.1.5/limits.conf".into(),
        ),
        f(
            "tikv-reserve-space",
            "10.0.1.3/tidb-deploy/tikv-20160/conf/config.json".into(),
        ),
        f(
            "config-drift",
            "10.0.1.5/tidb-deploy/tikv-20160/conf/config.json".into(),
        ),
        f("store-down", format!("{pd_conf}/store.json")),
        f("store-offline", format!("{pd_conf}/store.json")),
        f("store-tombstone", format!("{pd_conf}/store.json")),
        f("store-duplicate-address", format!("{pd_conf}/store.json")),
        f("store-low-space", format!("{pd_conf}/store.json")),
        f("store-leader-skew", format!("{pd_conf}/store.json")),
        f("max-replicas-vs-stores", format!("{pd_conf}/config.json")),
        f("location-labels-missing", format!("{pd_conf}/store.json")),
        f(
            "placement-unsatisfiable",
            format!("{pd_conf}/placement-rule.json"),
        ),
        f("version-mismatch", format!("{pd_conf}/store.json")),
        f("pd-even-count", "cluster.json".into()),
        f("single-instance-components", "cluster.json".into()),
        f("binlog-pump-without-drainer", "cluster.json".into()),
    ]
}
