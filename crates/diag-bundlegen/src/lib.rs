//! Synthetic PingCAP Clinic `diag` bundles, deterministic from a seed, for benchmarks and for
//! correctness tests at scale.
//!
//! A [`BundleSpec`] says how many PD, TiKV, TiDB and TiFlash instances, which layout (TiUP or
//! Operator), which version, what share of rule-violating values and how many bytes of logs.
//! [`generate`] streams the bundle's files into a [`BundleSink`] (directory, `.zip`, `.tar.gz`)
//! and returns the [`ExpectedFindings`]: for every config rule selected for the version, the
//! instance tags a correct checker flags.
//!
//! ```
//! use diag_bundlegen::{BundleSpec, Layout, MemorySink, generate};
//! let spec = BundleSpec::with_instances(20, Layout::Operator, 7).violation_share(0.2);
//! let mut sink = MemorySink::default();
//! let summary = generate(&spec, &mut &mut sink).unwrap();
//! assert_eq!(summary.instances, 20);
//! assert!(sink.files.iter().any(|(path, _)| path == "cluster.json"));
//! assert!(summary.expected.rule("tidb-max-days").is_some());
//! ```

pub mod bulk;
pub mod configs;
pub mod json;
pub mod logs;
pub mod measure;
pub mod metrics;
pub mod rng;
pub mod rules;
pub mod sink;
pub mod system;

use std::io;
use std::path::{Path, PathBuf};

use json::{Json, obj};
use rng::Rng;
pub use rules::{ExpectedFindings, ExpectedRule, Knobs, Version};
pub use sink::{BundleSink, DirSink, MemorySink, TarGzSink, ZipSink};

/// The components the generator writes runtime configs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// Placement Driver.
    Pd,
    /// TiKV.
    Tikv,
    /// TiDB.
    Tidb,
    /// TiFlash.
    Tiflash,
}

impl Component {
    /// Topology order.
    pub const ALL: [Component; 4] = [
        Component::Pd,
        Component::Tikv,
        Component::Tidb,
        Component::Tiflash,
    ];

    /// `pd`, `tikv`, `tidb`, `tiflash`: the `cluster.json` topology key and the file stem.
    pub fn key(self) -> &'static str {
        match self {
            Component::Pd => "pd",
            Component::Tikv => "tikv",
            Component::Tidb => "tidb",
            Component::Tiflash => "tiflash",
        }
    }

    /// The config struct name in row tags: `PdConfig`, ….
    pub fn config_struct(self) -> &'static str {
        match self {
            Component::Pd => "PdConfig",
            Component::Tikv => "TikvConfig",
            Component::Tidb => "TidbConfig",
            Component::Tiflash => "TiflashConfig",
        }
    }

    /// (port, status port) as TiUP and the Operator deploy them.
    fn ports(self) -> (u16, u16) {
        match self {
            Component::Pd => (2379, 2379),
            Component::Tikv => (20160, 20180),
            Component::Tidb => (4000, 10080),
            Component::Tiflash => (3930, 20292),
        }
    }
}

/// Where instance data sits in the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// TiUP: `<host>/tidb-deploy/<comp>-<port>/conf/config.json`, `meta.yaml` at the root.
    Tiup,
    /// TiDB Operator: `<pod>/conf/config.json`, `tidbcluster.json` at the root.
    Operator,
}

/// Instances per component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// PD members.
    pub pd: usize,
    /// TiKV stores.
    pub tikv: usize,
    /// TiDB servers.
    pub tidb: usize,
    /// TiFlash stores.
    pub tiflash: usize,
}

impl Counts {
    /// Splits a total the way large clusters look: 3 PD (5 from 50 instances), a tenth TiDB, a
    /// twentieth TiFlash, the rest TiKV (at least one of each of PD, TiKV, TiDB).
    pub fn split(total: usize) -> Counts {
        let total = total.max(3);
        let pd = if total >= 50 { 5 } else { 3.min(total - 2) };
        let tidb = (total / 10).max(1);
        let tiflash = total / 20;
        Counts {
            pd,
            tikv: total - pd - tidb - tiflash,
            tidb,
            tiflash,
        }
    }

    /// All instances.
    pub fn total(&self) -> usize {
        self.pd + self.tikv + self.tidb + self.tiflash
    }

    fn of(&self, c: Component) -> usize {
        match c {
            Component::Pd => self.pd,
            Component::Tikv => self.tikv,
            Component::Tidb => self.tidb,
            Component::Tiflash => self.tiflash,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleSpec {
    /// Same seed, same bytes.
    pub seed: u64,
    /// TiUP or Operator.
    pub layout: Layout,
    /// Instances per component.
    pub counts: Counts,
    /// Cluster version (`v5.4.0`); selects the rules in the expected findings.
    pub version: String,
    /// Share of (instance, rule) pairs given a violating value, 0.0–1.0.
    pub violation_share: f64,
    /// Total bytes of component logs, spread evenly over instances (0 = no logs).
    pub log_bytes: u64,
    /// `cluster_name`.
    pub cluster_name: String,
}

impl BundleSpec {
    /// `total` instances split by [`Counts::split`], v5.4.0, 5% violations, no logs.
    pub fn with_instances(total: usize, layout: Layout, seed: u64) -> BundleSpec {
        BundleSpec {
            seed,
            layout,
            counts: Counts::split(total),
            version: "v5.4.0".into(),
            violation_share: 0.05,
            log_bytes: 0,
            cluster_name: "bench".into(),
        }
    }

    /// Sets the share of violating values.
    pub fn violation_share(mut self, share: f64) -> BundleSpec {
        self.violation_share = share.clamp(0.0, 1.0);
        self
    }

    /// Sets the total log bytes.
    pub fn log_bytes(mut self, bytes: u64) -> BundleSpec {
        self.log_bytes = bytes;
        self
    }

    /// The sample id diag would have drawn: 11 base52 characters.
    pub fn session(&self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut rng = Rng::new(self.seed).fork(0x5e55);
        (0..11).map(|_| *rng.pick(ALPHABET) as char).collect()
    }

    /// The bundle folder name: `diag-<cluster>-<session>`.
    pub fn bundle_name(&self) -> String {
        format!("diag-{}-{}", self.cluster_name, self.session())
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Instances in the topology.
    pub instances: usize,
    /// Runtime config files written.
    pub config_files: usize,
    /// Their total size.
    pub config_bytes: u64,
    /// Size of every file written.
    pub total_bytes: u64,
    /// What a correct check reports.
    pub expected: ExpectedFindings,
}

/// One planned instance.
#[derive(Debug, Clone)]
struct Planned {
    component: Component,
    index: usize,
    host: String,
    port: u16,
    status_port: u16,
    pod: Option<String>,
    deploy_dir: String,
    data_dir: String,
    store_id: Option<u64>,
    knobs: Knobs,
}

impl Planned {
    fn tag(&self) -> String {
        format!(
            "{}_{}:{}",
            self.component.config_struct(),
            self.host,
            self.port
        )
    }

    /// Folder of the instance's data in the bundle.
    fn dir(&self) -> String {
        match &self.pod {
            Some(pod) => pod.clone(),
            None => format!("{}/{}", self.host, self.deploy_dir.trim_start_matches('/')),
        }
    }

    fn log_path(&self) -> String {
        match &self.pod {
            Some(pod) => format!("logs/{pod}/{}.log", self.component.key()),
            None => format!(
                "{}/{}/log/{}.log",
                self.host,
                self.deploy_dir.trim_start_matches('/'),
                self.component.key()
            ),
        }
    }
}

fn plan(spec: &BundleSpec, version: Version) -> (Vec<Planned>, ExpectedFindings) {
    let counts = spec.counts;
    let root = Rng::new(spec.seed);
    let mut out = Vec::with_capacity(counts.total());
    let mut pod_ip = 0usize;
    let tikv_stores: Vec<u64> = (0..counts.tikv as u64).map(|i| 1 + i).collect();
    let tiflash_stores: Vec<u64> = (0..counts.tiflash as u64).map(|i| 100_001 + i).collect();
    let all_stores: Vec<u64> = tikv_stores.iter().chain(&tiflash_stores).copied().collect();
    for component in Component::ALL {
        let (port, status_port) = component.ports();
        for index in 0..counts.of(component) {
            let (host, pod) = match spec.layout {
                Layout::Operator => {
                    pod_ip += 1;
                    let ip = format!(
                        "10.{}.{}.{}",
                        32 + pod_ip / 62_500,
                        (pod_ip / 250) % 250,
                        pod_ip % 250 + 1
                    );
                    (
                        ip,
                        Some(format!("{}-{}-{index}", spec.cluster_name, component.key())),
                    )
                }
                Layout::Tiup => (tiup_host(component, index, counts), None),
            };
            let deploy_dir = format!("/tidb-deploy/{}-{port}", component.key());
            let data_dir = match spec.layout {
                Layout::Operator => format!("/var/lib/{}", component.key()),
                Layout::Tiup => format!("/tidb-data/{}-{port}", component.key()),
            };
            let store_id = match component {
                Component::Tikv => Some(tikv_stores[index]),
                Component::Tiflash => Some(tiflash_stores[index]),
                _ => None,
            };
            let knobs = Knobs::healthy(component, &all_stores);
            out.push(Planned {
                component,
                index,
                host,
                port,
                status_port,
                pod,
                deploy_dir,
                data_dir,
                store_id,
                knobs,
            });
        }
    }

    // Break rules: each (instance, selected rule) pair with probability `violation_share`, then
    // judge the final values, since one broken value can mend or break another rule (203/208).
    let selected: Vec<&rules::ConfigRule> = rules::CONFIG_RULES
        .iter()
        .filter(|r| r.applies(version))
        .collect();
    let ctx = rules::RuleContext {
        tiflash_count: counts.tiflash,
    };
    for (n, inst) in out.iter_mut().enumerate() {
        let mut rng = root.fork(0xb0_0000 + n as u64);
        for rule in selected.iter().filter(|r| r.component == inst.component) {
            if rng.chance(spec.violation_share) {
                rule.violate(&mut inst.knobs, &mut rng);
            }
        }
    }
    let mut expected: Vec<ExpectedRule> = selected
        .iter()
        .map(|rule| ExpectedRule {
            id: rule.id,
            name: rule.name.to_string(),
            component: rule.component.config_struct().to_string(),
            abnormal: out
                .iter()
                .filter(|i| i.component == rule.component && rule.is_abnormal(&i.knobs, ctx))
                .map(Planned::tag)
                .collect(),
        })
        .collect();
    expected.sort_by(|a, b| (a.id, &a.name).cmp(&(b.id, &b.name)));
    let findings = ExpectedFindings {
        version: spec.version.clone(),
        instances: out.len(),
        violation_share: spec.violation_share,
        rules: expected,
    };
    (out, findings)
}

/// TiUP hosts: PDs on their own hosts, one TiKV per host, TiDB beside TiKV (as on `lili`),
/// TiFlash on its own hosts.
fn tiup_host(component: Component, index: usize, counts: Counts) -> String {
    let at = |base: usize, i: usize| format!("172.16.{}.{}", base + i / 250, i % 250 + 1);
    match component {
        Component::Pd => at(1, index),
        Component::Tikv => at(10, index),
        Component::Tidb if index < counts.tikv => at(10, index),
        Component::Tidb => at(130, index - counts.tikv),
        Component::Tiflash => at(180, index),
    }
}

/// Writes a bundle into `sink` and returns what was written and what a check must find.
pub fn generate(spec: &BundleSpec, sink: &mut dyn BundleSink) -> io::Result<Summary> {
    let version = Version::parse(&spec.version).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("version `{}` is not vX.Y.Z", spec.version),
        )
    })?;
    let (instances, expected) = plan(spec, version);
    let mut total_bytes = 0u64;
    let mut put = |sink: &mut dyn BundleSink, path: &str, bytes: &[u8]| {
        total_bytes += bytes.len() as u64;
        sink.file(path, bytes)
    };

    put(
        sink,
        "cluster.json",
        cluster_json(spec, &instances).to_pretty().as_bytes(),
    )?;
    match spec.layout {
        Layout::Tiup => put(sink, "meta.yaml", meta_yaml(spec, &instances).as_bytes())?,
        Layout::Operator => put(
            sink,
            "tidbcluster.json",
            tidbcluster_json(spec).to_pretty().as_bytes(),
        )?,
    }
    put(sink, "diag.log", diag_log(spec, instances.len()).as_bytes())?;

    let pd_endpoints: Vec<String> = instances
        .iter()
        .filter(|i| i.component == Component::Pd)
        .map(|i| format!("{}:{}", advertise_host(spec, i), i.port))
        .collect();
    let version_bare = spec.version.trim_start_matches('v');
    let tidb_status: Vec<String> = instances
        .iter()
        .filter(|i| i.component == Component::Tidb)
        .map(|i| format!("{}:{}", advertise_host(spec, i), i.status_port))
        .collect();
    let root = Rng::new(spec.seed);
    let mut config_bytes = 0u64;
    let log_each = if instances.is_empty() {
        0
    } else {
        spec.log_bytes / instances.len() as u64
    };
    for (n, inst) in instances.iter().enumerate() {
        let mut rng = root.fork(0xc0_0000 + n as u64);
        let host = advertise_host(spec, inst);
        let log_file = match spec.layout {
            Layout::Operator => String::new(),
            Layout::Tiup => format!("{}/log/{}.log", inst.deploy_dir, inst.component.key()),
        };
        let name = format!("pd-{}", inst.index);
        let ctx = configs::ConfigContext {
            advertise_host: &host,
            port: inst.port,
            status_port: inst.status_port,
            data_dir: &inst.data_dir,
            log_file: &log_file,
            pd_endpoints: &pd_endpoints,
            name: &name,
            version: version_bare,
        };
        let config = configs::runtime_config(&inst.knobs, &ctx, &mut rng).to_pretty();
        config_bytes += config.len() as u64;
        put(
            sink,
            &format!("{}/conf/config.json", inst.dir()),
            config.as_bytes(),
        )?;
        // TiUP writes a TiFlash's two config files; diag collects them beside its config.json.
        if inst.component == Component::Tiflash && spec.layout == Layout::Tiup {
            let files = [
                (
                    "tiflash.toml",
                    configs::tiflash_toml(&ctx, &inst.deploy_dir, &tidb_status),
                ),
                (
                    "tiflash-learner.toml",
                    configs::tiflash_learner_toml(&ctx, &inst.deploy_dir),
                ),
            ];
            for (name, text) in files {
                put(
                    sink,
                    &format!("{}/conf/{name}", inst.dir()),
                    text.as_bytes(),
                )?;
            }
        }
        if log_each > 0 {
            put(
                sink,
                &inst.log_path(),
                component_log(inst, log_each, &mut rng).as_bytes(),
            )?;
        }
    }
    let summary = Summary {
        instances: instances.len(),
        config_files: instances.len(),
        config_bytes,
        total_bytes,
        expected,
    };
    Ok(summary)
}

fn advertise_host(spec: &BundleSpec, inst: &Planned) -> String {
    match (&inst.pod, spec.layout) {
        (Some(pod), Layout::Operator) => format!(
            "{pod}.{}-{}-peer.tidb-cluster.svc",
            spec.cluster_name,
            inst.component.key()
        ),
        _ => inst.host.clone(),
    }
}

fn cluster_json(spec: &BundleSpec, instances: &[Planned]) -> Json {
    let operator = spec.layout == Layout::Operator;
    let mut topology = obj().s("version", spec.version.clone());
    if operator {
        topology = topology.s("namespace", "tidb-cluster");
    } else {
        topology = topology.v(
            "attributes",
            obj()
                .v("tiup-cluster", tiup_topology(instances))
                .s("last_ops_ver", "")
                .v("prometheus-endpoint", Json::strs(&[""]))
                .build(),
        );
    }
    for component in Component::ALL {
        let list = instances
            .iter()
            .filter(|i| i.component == component)
            .map(|i| instance_spec(spec, i))
            .collect();
        topology = topology.v(component.key(), Json::Arr(list));
    }
    let monitor = if operator {
        obj()
            .s("host", "10.98.74.33")
            .i("port", 9090)
            .i("status_port", 0)
            .v(
                "attributes",
                obj()
                    .s("service", format!("{}-prometheus", spec.cluster_name))
                    .build(),
            )
            .build()
    } else {
        obj()
            .s("host", "172.16.0.2")
            .i("port", 9090)
            .i("status_port", 0)
            .i("ssh_port", 22)
            .v(
                "attributes",
                obj()
                    .s("deploy_dir", "/tidb-deploy/prometheus-9090")
                    .build(),
            )
            .build()
    };
    topology = topology.v("monitors", Json::Arr(vec![monitor]));
    let (deploy_type, collectors, raw_request) = if operator {
        (
            "tidb-operator",
            Json::strs(&["monitor", "config"]),
            obj()
                .s("clusterName", spec.cluster_name.clone())
                .s("namespace", "tidb-cluster")
                .s("from", "2022-02-07T12:00:00+08:00")
                .s("to", "2022-02-07T18:00:00+08:00")
                .build(),
        )
    } else {
        (
            "tiup-cluster",
            Json::strs(&[
                "system",
                "monitor.metric",
                "monitor.alert",
                "log.std",
                "log.slow",
                "config.file",
                "config.runtime",
            ]),
            Json::str(format!("collect {} -f -6h", spec.cluster_name)),
        )
    };
    obj()
        .s("diag_version", "v0.7.0")
        .s("cluster_name", spec.cluster_name.clone())
        .s(
            "cluster_id",
            format!(
                "{}",
                7_000_000_000_000_000_000u64 + Rng::new(spec.seed).below(1 << 60)
            ),
        )
        .s("cluster_type", "tidb-cluster")
        .s("deploy_type", deploy_type)
        .s("session", spec.session())
        .s("begin_time", "2022-02-07T12:00:00+08:00")
        .s("end_time", "2022-02-07T18:00:00+08:00")
        .v("collectors", collectors)
        .v("raw_request", raw_request)
        .v("topology", topology.build())
        .build()
}

fn instance_spec(spec: &BundleSpec, inst: &Planned) -> Json {
    let key = inst.component.key();
    let image = format!("pingcap/{key}:{}", spec.version);
    let attributes = match &inst.pod {
        Some(pod) => {
            let mut a = obj();
            if let Some(id) = inst.store_id {
                a = a
                    .s("id", id.to_string())
                    .s("state", "Up")
                    .i("leader_count", 1000 + inst.index as i64 % 997);
            } else if inst.component == Component::Pd {
                a = a
                    .s(
                        "id",
                        format!("{}", 1_000_000_000_000_000_000u64 + inst.index as u64),
                    )
                    .s(
                        "client_url",
                        format!("http://{}:2379", advertise_host(spec, inst)),
                    );
            }
            a = a.s("image", image).s("pod", pod.clone());
            if matches!(inst.component, Component::Pd | Component::Tidb) {
                a = a.b("health", true);
            }
            a.s("domain", advertise_host(spec, inst))
                .s("namespace", "tidb-cluster")
                .build()
        }
        None => {
            let mut a = obj();
            if inst.component == Component::Pd {
                a = a.s("name", format!("pd-{}", inst.index));
            }
            a = a.s("deploy_dir", inst.deploy_dir.clone());
            if matches!(
                inst.component,
                Component::Pd | Component::Tikv | Component::Tiflash
            ) {
                a = a.s("data_dir", inst.data_dir.clone());
            }
            a.s("log_dir", format!("{}/log", inst.deploy_dir))
                .null("config")
                .s("os", "linux")
                .s("arch", "amd64")
                .b("imported", false)
                .b("patched", false)
                .build()
        }
    };
    let mut out = obj()
        .s("host", inst.host.clone())
        .i("port", inst.port.into())
        .i("status_port", inst.status_port.into());
    if inst.pod.is_none() {
        out = out.i("ssh_port", 22);
    }
    out.v("attributes", attributes).build()
}

/// The TiUP topology (`meta.yaml`'s `topology`, and `cluster.json` → `attributes["tiup-cluster"]`).
fn tiup_topology(instances: &[Planned]) -> Json {
    let servers = |component: Component| {
        Json::Arr(
            instances
                .iter()
                .filter(|i| i.component == component)
                .map(|i| {
                    let mut s = obj().s("host", i.host.clone()).i("ssh_port", 22);
                    s = match component {
                        Component::Pd => s
                            .s("name", format!("pd-{}", i.index))
                            .i("client_port", 2379)
                            .i("peer_port", 2380),
                        Component::Tiflash => s
                            .i("tcp_port", 9000)
                            .i("http_port", 8123)
                            .i("flash_service_port", 3930)
                            .i("flash_proxy_port", 20170)
                            .i("flash_proxy_status_port", 20292)
                            .i("metrics_port", 8234),
                        _ => s
                            .i("port", i.port.into())
                            .i("status_port", i.status_port.into()),
                    };
                    s = s.s("deploy_dir", i.deploy_dir.clone());
                    if component != Component::Tidb {
                        s = s.s("data_dir", i.data_dir.clone());
                    }
                    s.s("log_dir", format!("{}/log", i.deploy_dir))
                        .s("arch", "amd64")
                        .s("os", "linux")
                        .build()
                })
                .collect(),
        )
    };
    obj()
        .v(
            "global",
            obj()
                .s("user", "tidb")
                .i("ssh_port", 22)
                .s("ssh_type", "builtin")
                .s("deploy_dir", "/tidb-deploy")
                .s("data_dir", "/tidb-data")
                .s("os", "linux")
                .s("arch", "amd64")
                .build(),
        )
        .v(
            "monitored",
            obj()
                .i("node_exporter_port", 9100)
                .i("blackbox_exporter_port", 9115)
                .s("deploy_dir", "/tidb-deploy/monitor-9100")
                .s("data_dir", "/tidb-data/monitor-9100")
                .s("log_dir", "/tidb-deploy/monitor-9100/log")
                .build(),
        )
        .v("tidb_servers", servers(Component::Tidb))
        .v("tikv_servers", servers(Component::Tikv))
        .v("tiflash_servers", servers(Component::Tiflash))
        .v("pd_servers", servers(Component::Pd))
        .v(
            "monitoring_servers",
            Json::Arr(vec![
                obj()
                    .s("host", "172.16.0.2")
                    .i("ssh_port", 22)
                    .i("port", 9090)
                    .s("deploy_dir", "/tidb-deploy/prometheus-9090")
                    .s("data_dir", "/tidb-data/prometheus-9090")
                    .s("log_dir", "/tidb-deploy/prometheus-9090/log")
                    .build(),
            ]),
        )
        .build()
}

fn meta_yaml(spec: &BundleSpec, instances: &[Planned]) -> String {
    let mut out = format!(
        "user: tidb\ntidb_version: {}\nlast_ops_ver: |-\n  v1.9.0 tiup\n  Go Version: go1.17.5\ntopology:\n",
        spec.version
    );
    yaml(&tiup_topology(instances), 1, &mut out);
    out
}

/// Block-style YAML for the subset [`tiup_topology`] uses (maps, lists of maps, scalars).
fn yaml(value: &Json, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    if let Json::Obj(entries) = value {
        for (key, item) in entries {
            match item {
                Json::Obj(inner) if !inner.is_empty() => {
                    out.push_str(&format!("{pad}{key}:\n"));
                    yaml(item, depth + 1, out);
                }
                Json::Arr(items) if !items.is_empty() => {
                    out.push_str(&format!("{pad}{key}:\n"));
                    for entry in items {
                        let mut block = String::new();
                        yaml(entry, depth + 2, &mut block);
                        let inner_pad = "  ".repeat(depth + 2);
                        let block = block.strip_prefix(&inner_pad).unwrap_or(&block);
                        out.push_str(&format!("{pad}  - {block}"));
                    }
                }
                Json::Arr(_) => out.push_str(&format!("{pad}{key}: []\n")),
                Json::Obj(_) => out.push_str(&format!("{pad}{key}: {{}}\n")),
                scalar => out.push_str(&format!("{pad}{key}: {}\n", scalar.to_compact())),
            }
        }
    }
}

fn tidbcluster_json(spec: &BundleSpec) -> Json {
    let c = spec.counts;
    let part = |replicas: usize, key: &str| {
        obj()
            .s("baseImage", format!("pingcap/{key}"))
            .i("replicas", replicas as i64)
            .v("config", obj().build())
            .build()
    };
    obj()
        .s("apiVersion", "pingcap.com/v1alpha1")
        .s("kind", "TidbCluster")
        .v(
            "metadata",
            obj()
                .s("name", spec.cluster_name.clone())
                .s("namespace", "tidb-cluster")
                .build(),
        )
        .v(
            "spec",
            obj()
                .s("version", spec.version.clone())
                .v("pd", part(c.pd, "pd"))
                .v("tikv", part(c.tikv, "tikv"))
                .v("tidb", part(c.tidb, "tidb"))
                .v("tiflash", part(c.tiflash, "tiflash"))
                .build(),
        )
        .build()
}

fn diag_log(spec: &BundleSpec, instances: usize) -> String {
    format!(
        "[2022/02/07 18:00:01.000 +08:00] [INFO] [collect.go:120] [\"start collecting\"] [cluster={}] [session={}]\n\
         [2022/02/07 18:00:09.000 +08:00] [INFO] [config.go:88] [\"collected runtime configs\"] [instances={instances}]\n\
         [2022/02/07 18:00:10.000 +08:00] [INFO] [collect.go:310] [\"collection finished\"]\n",
        spec.cluster_name,
        spec.session()
    )
}

/// Unified-format log lines until `bytes` is reached.
fn component_log(inst: &Planned, bytes: u64, rng: &mut Rng) -> String {
    const MESSAGES: &[(&str, &str)] = &[
        (
            "INFO",
            "[\"handle region heartbeat\"] [region-id=1234] [peer-count=3]",
        ),
        (
            "INFO",
            "[\"new connection\"] [conn=2199023255553] [remoteAddr=10.0.1.7:52340]",
        ),
        (
            "WARN",
            "[\"slow query\"] [cost_time=1.203s] [conn_id=2199023255555]",
        ),
        (
            "INFO",
            "[\"compaction finished\"] [cf=default] [level=1] [bytes=67108864]",
        ),
        (
            "ERROR",
            "[\"send raft message failed\"] [err=\"Grpc(RpcFinished(None))\"] [to_store=4]",
        ),
        (
            "INFO",
            "[\"update safe point\"] [safe_point=430987112314880001]",
        ),
    ];
    let mut out = String::with_capacity(bytes as usize + 256);
    let mut ms = 0u64;
    while (out.len() as u64) < bytes {
        ms += 1 + rng.below(900);
        let (level, message) = rng.pick(MESSAGES);
        out.push_str(&format!(
            "[2022/02/07 {:02}:{:02}:{:02}.{:03} +08:00] [{level}] [{}.rs:{}] {message}\n",
            12 + ms / 3_600_000 % 12,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000,
            inst.component.key(),
            10 + rng.below(900)
        ));
    }
    out
}

/// Container format for [`write_bundle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A directory.
    Dir,
    /// A deflated `.zip`.
    Zip,
    /// A `.tar.gz`.
    TarGz,
}

impl Format {
    /// The suffix of the written path.
    pub fn suffix(self) -> &'static str {
        match self {
            Format::Dir => "",
            Format::Zip => ".zip",
            Format::TarGz => ".tar.gz",
        }
    }
}

/// Paths [`write_bundle`] produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// The bundle (directory or archive).
    pub bundle: PathBuf,
    /// `<bundle name>.expected-findings.json` beside it.
    pub expected: PathBuf,
    /// What was written.
    pub summary: Summary,
}

/// Writes `<out_dir>/diag-<cluster>-<session>[.zip|.tar.gz]` and its expected findings beside it.
pub fn write_bundle(spec: &BundleSpec, format: Format, out_dir: &Path) -> io::Result<Written> {
    std::fs::create_dir_all(out_dir)?;
    let name = spec.bundle_name();
    let bundle = out_dir.join(format!("{name}{}", format.suffix()));
    if bundle.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists; pick another output folder or seed",
                bundle.display()
            ),
        ));
    }
    let mut sink: Box<dyn BundleSink> = match format {
        Format::Dir => Box::new(DirSink::create(&bundle)?),
        Format::Zip => Box::new(ZipSink::create(&bundle, &name)?),
        Format::TarGz => Box::new(TarGzSink::create(&bundle, &name)?),
    };
    let summary = generate(spec, sink.as_mut())?;
    sink.finish()?;
    let expected = out_dir.join(format!("{name}.expected-findings.json"));
    let text = serde_json::to_string_pretty(&summary.expected).map_err(io::Error::other)?;
    std::fs::write(&expected, text + "\n")?;
    Ok(Written {
        bundle,
        expected,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(spec: &BundleSpec) -> (Vec<(String, Vec<u8>)>, Summary) {
        let mut sink = MemorySink::default();
        let summary = generate(spec, &mut &mut sink).unwrap_or_else(|e| panic!("{e}"));
        (sink.files, summary)
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let spec = BundleSpec::with_instances(12, Layout::Tiup, 3);
        assert_eq!(files(&spec).0, files(&spec).0);
        let other = BundleSpec { seed: 4, ..spec };
        assert_ne!(
            files(&other).0,
            files(&BundleSpec::with_instances(12, Layout::Tiup, 3)).0
        );
    }

    #[test]
    fn counts_split_like_a_large_cluster() {
        assert_eq!(
            Counts::split(1000),
            Counts {
                pd: 5,
                tikv: 845,
                tidb: 100,
                tiflash: 50
            }
        );
        assert_eq!(
            Counts::split(10),
            Counts {
                pd: 3,
                tikv: 6,
                tidb: 1,
                tiflash: 0
            }
        );
        assert_eq!(Counts::split(3).total(), 3);
    }

    #[test]
    fn tikv_config_is_full_size_and_every_config_is_json() {
        let (files, summary) = files(&BundleSpec::with_instances(20, Layout::Operator, 1));
        let tikv = files
            .iter()
            .find(|(p, _)| p == "bench-tikv-0/conf/config.json")
            .map(|(_, b)| b.len())
            .unwrap_or(0);
        assert!(
            (17_000..26_000).contains(&tikv),
            "TiKV config is {tikv} bytes"
        );
        for (path, bytes) in &files {
            if path.ends_with(".json") {
                assert!(
                    serde_json::from_slice::<serde_json::Value>(bytes).is_ok(),
                    "{path} is not JSON"
                );
            }
        }
        assert_eq!(summary.config_files, 20);
    }

    #[test]
    fn tiup_layout_puts_configs_under_host_and_deploy_dir() {
        let (files, _) = files(&BundleSpec::with_instances(10, Layout::Tiup, 1).log_bytes(10_000));
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert!(
            paths.contains(&"172.16.1.1/tidb-deploy/pd-2379/conf/config.json"),
            "{paths:?}"
        );
        assert!(paths.contains(&"172.16.10.1/tidb-deploy/tidb-4000/conf/config.json"));
        assert!(paths.contains(&"172.16.10.1/tidb-deploy/tikv-20160/log/tikv.log"));
        assert!(paths.contains(&"meta.yaml"));
        let logs: usize = files
            .iter()
            .filter(|(p, _)| p.ends_with(".log") && p != "diag.log")
            .map(|(_, b)| b.len())
            .sum();
        assert!((10_000..12_000).contains(&logs), "{logs}");
    }

    #[test]
    fn no_violations_means_no_abnormal_rule() {
        let (_, summary) =
            files(&BundleSpec::with_instances(50, Layout::Operator, 9).violation_share(0.0));
        assert_eq!(summary.expected.abnormal_rules().count(), 0);
        assert_eq!(
            summary.expected.rules.len(),
            21,
            "v5.4.0 selects 21 config rules, as in the seed report"
        );
    }

    #[test]
    fn violations_follow_the_share_and_are_judged_on_final_values() {
        let (_, summary) =
            files(&BundleSpec::with_instances(400, Layout::Tiup, 5).violation_share(0.5));
        let tidb = summary
            .expected
            .rule("tidb-max-days")
            .map(|r| r.abnormal.len())
            .unwrap_or(0);
        assert!((10..=30).contains(&tidb), "{tidb} of 40 TiDB");
        let all = ["tikv-log-level", "tidb-log-level", "max-replicas"];
        for name in all {
            assert!(
                summary.expected.rule(name).is_some(),
                "{name} selected on v5.4.0"
            );
        }
        assert!(
            summary.expected.rule("trace-region-flow").is_none(),
            "213 is for <= v4.0.15"
        );
    }
}
