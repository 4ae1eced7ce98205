//! Component logs for generated bundles: every log rule's signature planted once at a known
//! file and line (and once more a day before the window, where no rule may cite it), and large
//! ordinary logs for the scan benchmark.
//!
//! The signatures are the rule authors' own: the log lines of each rule's abnormal case
//! (`rules/log/<rule>.cases.yaml`, the first case expecting `abnormal`), minus the lines of its
//! normal case. Each rule's block goes into a file of its own (a rotated name for main and
//! stderr logs, an Operator container file, a RocksDB info file) on one instance of the rule's
//! component, chosen round-robin; kernel lines go into the hosts' `dmesg.log`.

use std::io;
use std::path::{Path, PathBuf};

use diag_core::model::{ComponentKind, Layout};
use diag_core::testing::{CasesFile, Expect};

use crate::rng::Rng;

/// One rule's signature, as its abnormal case writes it.
#[derive(Debug, Clone)]
pub struct Signature {
    /// The rule's name.
    pub rule: String,
    /// Whose log it goes to (`None` for a host's dmesg).
    pub component: Option<ComponentKind>,
    /// The case's file name (`tikv.log`, `tidb_stderr.log`, `rocksdb.info`, `dmesg.log`).
    pub file: String,
    /// An Operator container log.
    pub container: bool,
    /// The case's lines (timestamps of the cases' day, `2023/01/10 11:00:…`).
    pub lines: Vec<String>,
    /// Indices (into `lines`) of the lines the normal case does not have: the signature.
    pub signature: Vec<usize>,
}

impl Signature {
    /// Whether its lines carry wall-clock times (dmesg and raw stderr text do not).
    pub fn dated(&self) -> bool {
        self.signature
            .iter()
            .any(|&i| self.lines[i].contains("2023/01/10 11:00:"))
    }
}

/// Reads every `*.cases.yaml` under `dir` into signatures, sorted by rule name.
pub fn signatures(dir: &Path) -> io::Result<Vec<Signature>> {
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".cases.yaml"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        let cases: CasesFile = diag_core::testing::parse_cases(&text)
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
        let rule = path
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .trim_end_matches(".cases.yaml")
                    .to_string()
            })
            .unwrap_or_default();
        let Some(bad) = cases.cases.iter().find(|c| c.expect == Expect::Abnormal) else {
            continue;
        };
        let ok_lines: Vec<String> = cases
            .cases
            .iter()
            .find(|c| c.expect == Expect::Ok)
            .into_iter()
            .flat_map(|c| c.logs.iter())
            .flat_map(|l| l.text.lines().map(str::to_string))
            .collect();
        let Some(log) = bad.logs.first() else {
            continue;
        };
        let component = log.component.as_deref().and_then(|c| {
            ComponentKind::from_config_struct(c).or_else(|| ComponentKind::from_topology_key(c))
        });
        let lines: Vec<String> = log.text.lines().map(str::to_string).collect();
        let signature = (0..lines.len())
            .filter(|&i| !ok_lines.contains(&lines[i]))
            .collect();
        out.push(Signature {
            rule,
            component: if log.host.is_some() { None } else { component },
            file: log.file.clone(),
            container: log.container,
            lines,
            signature,
        });
    }
    Ok(out)
}

/// Where one signature line was planted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planted {
    /// The rule.
    pub rule: String,
    /// Bundle-relative file.
    pub file: String,
    /// 1-based line of the first signature line.
    pub line: u64,
    /// Dated inside the sample window (else a day before it).
    pub inside: bool,
    /// The tag of the row it belongs to (`TikvConfig_…`, `Host_…`).
    pub tag: String,
}

/// Ordinary lines put around each block, so that a citation off by a few lines shows.
const FILLER: &[&str] = &[
    "[\"handle region heartbeat\"] [region-id=1234] [peer-count=3]",
    "[\"new connection\"] [conn=2199023255553] [remoteAddr=10.0.1.7:52340]",
    "[\"compaction finished\"] [cf=default] [level=1] [bytes=67108864]",
    "[\"update safe point\"] [safe_point=430987112314880001]",
];

fn filler(rng: &mut Rng, stamp: &str, n: usize, out: &mut String) {
    for _ in 0..n {
        out.push_str(&format!(
            "[{stamp}.000 +08:00] [INFO] [x.go:1] {}\n",
            rng.pick(FILLER)
        ));
    }
}

/// Plants every signature into the bundle directory `root` (a generated bundle already loaded
/// in `cluster`), inside the window (2022-02-07 12:00–18:00 +08:00) and a day before it.
/// Signatures whose component the bundle lacks, and container ones in a TiUP bundle, are
/// skipped. Returns where each went.
pub fn plant(
    root: &Path,
    cluster: &diag_core::Cluster,
    sigs: &[Signature],
    seed: u64,
) -> io::Result<Vec<Planted>> {
    let mut rng = Rng::new(seed);
    let mut planted = Vec::new();
    let mut dmesg: std::collections::BTreeMap<String, String> = Default::default();
    let mut dmesg_lines: std::collections::BTreeMap<String, u64> = Default::default();
    let host_names: Vec<String> = if cluster.layout == Layout::Operator {
        Vec::new()
    } else {
        let mut h: Vec<String> = cluster.instances.iter().map(|i| i.host.clone()).collect();
        h.sort();
        h.dedup();
        h
    };
    for (k, sig) in sigs.iter().enumerate() {
        // Each block has its own minute of the window.
        let minute = 59 - (k % 60);
        let hour = 13 + k / 60;
        let Some(kind) = sig.component else {
            let Some(host) = host_names.get(k % host_names.len().max(1)) else {
                continue;
            };
            let text = dmesg.entry(host.clone()).or_default();
            let at = dmesg_lines.entry(host.clone()).or_insert(0);
            for _ in 0..3 {
                text.push_str("kern:info: [1.000000] EXT4-fs (vdb1): mounted filesystem\n");
                *at += 1;
            }
            planted.push(Planted {
                rule: sig.rule.clone(),
                file: format!("{host}/dmesg.log"),
                line: *at + 1 + sig.signature.first().copied().unwrap_or(0) as u64,
                inside: true,
                tag: format!("Host_{host}"),
            });
            for line in &sig.lines {
                text.push_str(line);
                text.push('\n');
                *at += 1;
            }
            continue;
        };
        if sig.container && cluster.layout != Layout::Operator {
            continue;
        }
        let members: Vec<&diag_core::model::Instance> = cluster.instances_of(kind).collect();
        if members.is_empty() {
            continue;
        }
        let inst = members[k % members.len()];
        let dir = match (&inst.pod, cluster.layout) {
            (Some(pod), Layout::Operator) => format!("logs/{pod}"),
            _ => format!(
                "{}/{}",
                inst.host,
                inst.log_dir
                    .as_deref()
                    .unwrap_or("log")
                    .trim_start_matches('/')
            ),
        };
        for inside in [true, false] {
            if !inside && !sig.dated() {
                continue;
            }
            let day = if inside { "2022/02/07" } else { "2022/02/06" };
            let stamp = format!("{day} {hour:02}:{minute:02}");
            let stem = sig.file.trim_end_matches(".log").trim_end_matches(".info");
            let rotated = format!("{}T{}-{:02}-00.{k:03}", day.replace('/', "-"), hour, minute);
            let name = if sig.container {
                format!("{stem}-{}{k:03}.log", if inside { "" } else { "old-" })
            } else if sig.file.ends_with(".info") {
                format!("{stem}-{}{k:03}.info", if inside { "" } else { "old-" })
            } else {
                format!("{stem}-{rotated}.log")
            };
            let path = format!("{dir}/{name}");
            let before = 20 + rng.below(30) as usize;
            let mut text = String::new();
            filler(&mut rng, &format!("{stamp}:00"), before, &mut text);
            for line in &sig.lines {
                text.push_str(&line.replace("2023/01/10 11:00:", &format!("{stamp}:")));
                text.push('\n');
            }
            filler(&mut rng, &format!("{stamp}:30"), 10, &mut text);
            std::fs::create_dir_all(root.join(&dir))?;
            std::fs::write(root.join(&path), text)?;
            planted.push(Planted {
                rule: sig.rule.clone(),
                file: path,
                line: (before + 1 + sig.signature.first().copied().unwrap_or(0)) as u64,
                inside,
                tag: inst.tag(),
            });
        }
    }
    for (host, text) in dmesg {
        std::fs::create_dir_all(root.join(&host))?;
        std::fs::write(root.join(&host).join("dmesg.log"), text)?;
    }
    Ok(planted)
}

/// Writes `bytes` of ordinary unified-format logs (no rule's signature) into `files` files
/// under `dir`, for the scan benchmark; returns their paths.
pub fn write_scan_corpus(
    dir: &Path,
    bytes: u64,
    files: usize,
    seed: u64,
) -> io::Result<Vec<PathBuf>> {
    use std::io::Write;
    const LINES: &[&str] = &[
        "[INFO] [region.go:525] [\"region heartbeat\"] [region-id=1234] [peer-count=3] [leader-store=4]",
        "[INFO] [server.go:388] [\"new connection\"] [conn=2199023255553] [remoteAddr=10.0.1.7:52340]",
        "[WARN] [expensivequery.go:179] [\"slow query\"] [cost_time=1.203s] [conn_id=2199023255555] [sql=\"SELECT * FROM t WHERE id = 1\"]",
        "[INFO] [compaction_filter.rs:556] [\"Compaction filter reports\"] [filtered=1024] [total=31208]",
        "[ERROR] [raft_client.rs:571] [\"send raft message failed\"] [err=\"Grpc(RpcFinished(None))\"] [to_store=4]",
        "[INFO] [gc_worker.go:1067] [\"[gc worker] sent safe point to PD\"] [uuid=5f8a1c3e2a40002] [safe_point=430987112314880001]",
        "[INFO] [peer.rs:4052] [\"transfer leader\"] [peer=\"id: 3004 store_id: 4\"] [region_id=2010] [peer_id=3004]",
        "[INFO] [apply.rs:1395] [\"exec ConfChange\"] [epoch=\"conf_ver: 5 version: 12\"] [type=AddNode] [region_id=2010]",
    ];
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng::new(seed);
    let each = bytes / files.max(1) as u64;
    let mut out = Vec::new();
    for f in 0..files.max(1) {
        let path = dir.join(format!("tikv-{f:03}.log"));
        let mut w = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut written = 0u64;
        let mut ms = 0u64;
        while written < each {
            ms += 1 + rng.below(200);
            let line = format!(
                "[2022/02/07 {:02}:{:02}:{:02}.{:03} +08:00] {}\n",
                12 + ms / 3_600_000 % 6,
                ms / 60_000 % 60,
                ms / 1000 % 60,
                ms % 1000,
                rng.pick(LINES)
            );
            w.write_all(line.as_bytes())?;
            written += line.len() as u64;
        }
        w.flush()?;
        out.push(path);
    }
    Ok(out)
}
