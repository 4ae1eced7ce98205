//! Which log a file is, from its bundle path: TiUP `<host>/<log_dir>/…` with rotated and
//! gzipped names, Operator `logs/<pod>/<component>.log` container logs, `dmesg.log`.

use serde::{Deserialize, Serialize};

/// What a log file holds; log rules select files by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFileKind {
    /// The component's own log (`tidb.log`, `tikv-2022-….log`, `tiflash_error.log`,
    /// `tiflash_tikv.log`, `cdc.log`).
    Main,
    /// `*_stderr.log` (TiUP; appended forever, so it reaches far before the window).
    Stderr,
    /// TiDB slow query log.
    Slow,
    /// RocksDB `rocksdb*.info` / `raftdb.info`.
    Rocksdb,
    /// An Operator container log (stdout and stderr of the container, start script included).
    Container,
    /// The host's `dmesg.log`.
    Dmesg,
    /// Anything else in a log folder.
    Other,
}

impl LogFileKind {
    /// Every kind.
    pub const ALL: [LogFileKind; 7] = [
        LogFileKind::Main,
        LogFileKind::Stderr,
        LogFileKind::Slow,
        LogFileKind::Rocksdb,
        LogFileKind::Container,
        LogFileKind::Dmesg,
        LogFileKind::Other,
    ];

    /// `main`, `stderr`, …
    pub fn as_str(self) -> &'static str {
        match self {
            LogFileKind::Main => "main",
            LogFileKind::Stderr => "stderr",
            LogFileKind::Slow => "slow",
            LogFileKind::Rocksdb => "rocksdb",
            LogFileKind::Container => "container",
            LogFileKind::Dmesg => "dmesg",
            LogFileKind::Other => "other",
        }
    }
}

/// What a log file's name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogFile {
    /// Its kind.
    pub kind: LogFileKind,
    /// A rotated backup (`tidb-2022-02-07T12-00-00.000.log`, `tikv.log.2019-…`).
    pub rotated: bool,
    /// gzip-compressed (`….log.gz`).
    pub gzip: bool,
}

/// Classifies a bundle path. `logs/<pod>/<name>.log` of Operator bundles are container logs
/// unless the name says slow log.
///
/// ```
/// use diag_core::model::log::{classify, LogFileKind};
/// assert_eq!(classify("h/tidb-deploy/tidb-4000/log/tidb_stderr.log").kind, LogFileKind::Stderr);
/// let rotated = classify("h/log/tidb-2022-02-07T12-00-00.000.log.gz");
/// assert!(rotated.rotated && rotated.gzip && rotated.kind == LogFileKind::Main);
/// assert_eq!(classify("logs/basic-tikv-0/tikv.log").kind, LogFileKind::Container);
/// assert_eq!(classify("10.0.0.1/dmesg.log").kind, LogFileKind::Dmesg);
/// ```
pub fn classify(path: &str) -> LogFile {
    let name = path.rsplit('/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    let gzip = lower.ends_with(".gz");
    let stem = lower.trim_end_matches(".gz");
    let rotated = has_timestamp(stem);
    let operator = path.starts_with("logs/") && path.matches('/').count() == 2;
    let kind = if lower == "dmesg.log" {
        LogFileKind::Dmesg
    } else if stem.contains("slow") {
        LogFileKind::Slow
    } else if stem.contains("stderr") {
        LogFileKind::Stderr
    } else if (stem.starts_with("rocksdb") || stem.starts_with("raftdb")) && stem.contains(".info")
    {
        LogFileKind::Rocksdb
    } else if operator && stem.ends_with(".log") {
        LogFileKind::Container
    } else if stem.ends_with(".log") || stem.contains(".log.") {
        LogFileKind::Main
    } else {
        LogFileKind::Other
    };
    LogFile {
        kind,
        rotated,
        gzip,
    }
}

/// Whether a name carries a rotation stamp: `YYYY-MM-DDTHH-MM-SS` somewhere in it.
fn has_timestamp(name: &str) -> bool {
    let b = name.as_bytes();
    b.windows(19).any(|w| {
        w[..4].iter().all(u8::is_ascii_digit)
            && w[4] == b'-'
            && w[7] == b'-'
            && w[10] == b't'
            && w[13] == b'-'
            && w[16] == b'-'
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_every_component() {
        for (path, kind, rotated) in [
            ("h/log/tidb.log", LogFileKind::Main, false),
            (
                "h/log/tikv.2019-08-23T18-10-00.387.log",
                LogFileKind::Main,
                true,
            ),
            (
                "h/log/tikv.log.2019-08-23T18-10-00.387",
                LogFileKind::Main,
                true,
            ),
            ("h/log/pd_stderr.log", LogFileKind::Stderr, false),
            (
                "h/log/tidb_slow_query-2022-02-07T12-00-00.000.log",
                LogFileKind::Slow,
                true,
            ),
            ("h/log/tiflash_error.log", LogFileKind::Main, false),
            ("h/log/tiflash_tikv.log", LogFileKind::Main, false),
            ("h/log/cdc.log", LogFileKind::Main, false),
            ("h/log/ticdc_stderr.log", LogFileKind::Stderr, false),
            ("h/data/rocksdb.info", LogFileKind::Rocksdb, false),
            ("logs/basic-pd-0/pd.log", LogFileKind::Container, false),
            (
                "logs/basic-tidb-0/tidb_slow_query.log",
                LogFileKind::Slow,
                false,
            ),
            ("h/log/core.123", LogFileKind::Other, false),
        ] {
            let f = classify(path);
            assert_eq!((f.kind, f.rotated), (kind, rotated), "{path}");
        }
    }
}
