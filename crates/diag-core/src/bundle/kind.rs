//! What a bundle file holds, decided from its bundle-relative path alone (diag's layout,
//! `clinic-diag.md` §1), so that a one-pass archive reader can tell what a read plan wants before
//! it knows the topology.

use std::fmt;

use serde::Serialize;

/// What kind of data a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DataKind {
    /// A component config file written by TiUP (`conf/tidb.toml`, …).
    ConfigFile,
    /// PD `conf/store.json` (`/pd/api/v1/stores`).
    PdStores,
    /// PD `conf/placement-rule.json`.
    PlacementRules,
    /// A component log.
    Log(LogKind),
    /// `<host>/insight.json`.
    Insight,
    /// `<host>/limits.conf`.
    Limits,
    /// `<host>/sysctl.conf`.
    Sysctl,
    /// `<host>/dmesg.log`.
    Dmesg,
    /// `<host>/ss.txt`.
    Sockets,
    /// `db_vars/*.csv`.
    DbVars,
    /// `monitor/alerts/**/alerts.json`.
    Alerts,
    /// `monitor/metrics/**` (possibly zstd-compressed).
    Metric,
    /// `tidbcluster.json` / `tidbmonitor.json` (Operator custom resources).
    CustomResource,
    /// TiUP `meta.yaml`.
    MetaYaml,
    /// An instance's runtime config, `…/conf/config.json`.
    RuntimeConfig,
}

/// Log types as diag classifies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// The component's own log or its stderr (`tidb.log`, `tikv_stderr.log`).
    Std,
    /// TiDB slow query log.
    Slow,
    /// RocksDB `*.info` logs.
    Rocksdb,
    /// Anything else in the log folder.
    Unknown,
}

impl LogKind {
    /// Classifies by file name: `stderr` → std, `rocksdb*.info` → rocksdb, `slow` → slow,
    /// `*.log` (rotated or gzipped too) → std, else unknown.
    pub fn from_file_name(name: &str) -> LogKind {
        let lower = name.to_ascii_lowercase();
        if lower.contains("stderr") {
            LogKind::Std
        } else if lower.starts_with("rocksdb") && lower.ends_with(".info") {
            LogKind::Rocksdb
        } else if lower.contains("slow") {
            LogKind::Slow
        } else if lower.ends_with(".log") || lower.contains(".log.") {
            LogKind::Std
        } else {
            LogKind::Unknown
        }
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let log = |k: &LogKind| match k {
            LogKind::Std => "log.std",
            LogKind::Slow => "log.slow",
            LogKind::Rocksdb => "log.rocksdb",
            LogKind::Unknown => "log.unknown",
        };
        f.write_str(match self {
            DataKind::ConfigFile => "config_file",
            DataKind::PdStores => "pd_stores",
            DataKind::PlacementRules => "placement_rules",
            DataKind::Log(k) => log(k),
            DataKind::Insight => "insight",
            DataKind::Limits => "limits",
            DataKind::Sysctl => "sysctl",
            DataKind::Dmesg => "dmesg",
            DataKind::Sockets => "sockets",
            DataKind::DbVars => "db_vars",
            DataKind::Alerts => "alerts",
            DataKind::Metric => "metric",
            DataKind::CustomResource => "custom_resource",
            DataKind::MetaYaml => "meta_yaml",
            DataKind::RuntimeConfig => "runtime_config",
        })
    }
}

/// The kind of a bundle-relative path, from diag's layout alone:
///
/// - top level: `meta.yaml`, `tidbcluster.json`/`tidbmonitor.json`; `db_vars/*.csv`;
///   `monitor/alerts/**/alerts.json`, `monitor/metrics/**`;
/// - `<host>/insight.json`, `limits.conf`, `sysctl.conf`, `dmesg.log`, `ss.txt`;
/// - `…/conf/config.json` (runtime config), `…/conf/store.json`, `…/conf/placement-rule.json`,
///   any other `…/conf/*` (config file);
/// - `logs/<pod>/*` (Operator) and, below a host folder, any file named like a log
///   (`*.log`, `*.log.*`, `*stderr*`, `rocksdb*.info`, `*slow*`).
///
/// `cluster.json` and anything else (`diag.log`, reports, profiles) is `None`. The loader
/// refines log assignment with the topology's `log_dir`, so a log with an odd name in a known
/// log folder is still a log of its instance there.
///
/// ```
/// use diag_core::bundle::{DataKind, LogKind, classify};
/// assert_eq!(classify("h/tidb-deploy/tidb-4000/conf/config.json"), Some(DataKind::RuntimeConfig));
/// assert_eq!(classify("h/tidb-deploy/tidb-4000/log/tidb.log.gz"), Some(DataKind::Log(LogKind::Std)));
/// assert_eq!(classify("h/sysctl.conf"), Some(DataKind::Sysctl));
/// assert_eq!(classify("cluster.json"), None);
/// ```
pub fn classify(path: &str) -> Option<DataKind> {
    let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
    if folder.is_empty() {
        return match name {
            "meta.yaml" => Some(DataKind::MetaYaml),
            "tidbcluster.json" | "tidbmonitor.json" => Some(DataKind::CustomResource),
            _ => None,
        };
    }
    if folder == "db_vars" {
        return name.ends_with(".csv").then_some(DataKind::DbVars);
    }
    if let Some(rest) = path.strip_prefix("monitor/") {
        return if rest.starts_with("metrics/") {
            Some(DataKind::Metric)
        } else if rest.starts_with("alerts/") && name == "alerts.json" {
            Some(DataKind::Alerts)
        } else {
            None
        };
    }
    if folder == "conf" || folder.ends_with("/conf") {
        return Some(match name {
            "config.json" => DataKind::RuntimeConfig,
            "store.json" => DataKind::PdStores,
            "placement-rule.json" => DataKind::PlacementRules,
            _ => DataKind::ConfigFile,
        });
    }
    if !folder.contains('/') {
        let system = match name {
            "insight.json" => Some(DataKind::Insight),
            "limits.conf" => Some(DataKind::Limits),
            "sysctl.conf" => Some(DataKind::Sysctl),
            "dmesg.log" => Some(DataKind::Dmesg),
            "ss.txt" => Some(DataKind::Sockets),
            _ => None,
        };
        if system.is_some() {
            return system;
        }
    }
    if folder.starts_with("logs/") {
        return Some(DataKind::Log(LogKind::from_file_name(name)));
    }
    match LogKind::from_file_name(name) {
        LogKind::Unknown => None,
        kind => Some(DataKind::Log(kind)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_kinds_by_name() {
        assert_eq!(LogKind::from_file_name("tidb_stderr.log"), LogKind::Std);
        assert_eq!(
            LogKind::from_file_name("tidb_slow_query.log"),
            LogKind::Slow
        );
        assert_eq!(LogKind::from_file_name("rocksdb.info"), LogKind::Rocksdb);
        assert_eq!(
            LogKind::from_file_name("tikv-2022-01-24T08-00-00.000.log"),
            LogKind::Std
        );
        assert_eq!(LogKind::from_file_name("tidb.log.2.gz"), LogKind::Std);
        assert_eq!(LogKind::from_file_name("core.123"), LogKind::Unknown);
    }

    #[test]
    fn paths_classify_by_layout() {
        let cases = [
            ("meta.yaml", Some(DataKind::MetaYaml)),
            ("tidbcluster.json", Some(DataKind::CustomResource)),
            ("diag.log", None),
            ("db_vars/mysql.tidb.csv", Some(DataKind::DbVars)),
            (
                "monitor/metrics/h_9090/up-2022-01-24T07:33:57+08:00-x.json",
                Some(DataKind::Metric),
            ),
            ("monitor/alerts/h_9090/alerts.json", Some(DataKind::Alerts)),
            (
                "basic-tidb-0/conf/config.json",
                Some(DataKind::RuntimeConfig),
            ),
            ("h/d/pd-2379/conf/store.json", Some(DataKind::PdStores)),
            ("h/d/tikv-20160/conf/tikv.toml", Some(DataKind::ConfigFile)),
            ("h/limits.conf", Some(DataKind::Limits)),
            ("h/d/limits.conf", None),
            (
                "logs/basic-tidb-0/tidb.log",
                Some(DataKind::Log(LogKind::Std)),
            ),
            (
                "logs/basic-tidb-0/core",
                Some(DataKind::Log(LogKind::Unknown)),
            ),
            (
                "h/d/tidb-4000/log/tidb_slow_query.log",
                Some(DataKind::Log(LogKind::Slow)),
            ),
            ("h/d/tikv-20160/perf/cpu_profile.proto", None),
        ];
        for (path, want) in cases {
            assert_eq!(classify(path), want, "{path}");
        }
    }
}
