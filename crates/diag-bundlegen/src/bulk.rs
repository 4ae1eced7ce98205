//! Bulk component logs for the streaming benchmarks: gigabytes of unified-format lines
//! (`tidb-signals.md` §1.1) in every instance's log folder, as diag copies them (the current
//! file plus rotated ones). The lines vary like real ones (times,
//! ids, keys, durations), so they compress about as well as real logs do, not like a bomb.
//! Deterministic from the seed.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use diag_core::Cluster;
use diag_core::bundle::ReadPlan;
use diag_core::model::{Layout, LoadOptions};

use crate::rng::Rng;

/// Largest single log file written; bigger shares are split into rotated files.
const FILE_BYTES: u64 = 256 << 20;

const MESSAGES: [&str; 12] = [
    "\"[Region 1234] send raft message\"",
    "\"connection closed\"",
    "\"new session\"",
    "\"slow query\"",
    "\"schedule operator\"",
    "\"txn commit\"",
    "\"region heartbeat\"",
    "\"load region\"",
    "\"gc worker\"",
    "\"apply snapshot\"",
    "\"handle request\"",
    "\"store heartbeat\"",
];

const SOURCES: [&str; 10] = [
    "server.go",
    "session.go",
    "conn.go",
    "peer.rs",
    "raft.rs",
    "cluster.go",
    "gc_worker.go",
    "region.go",
    "store.rs",
    "2pc.go",
];

const LEVELS: [&str; 8] = [
    "INFO", "INFO", "INFO", "INFO", "INFO", "WARN", "DEBUG", "ERROR",
];

/// One log line: header, message and a few fields with varying values.
fn line(rng: &mut Rng, second: u64, out: &mut Vec<u8>) {
    let (h, m, s) = (12 + second / 3600 % 12, second / 60 % 60, second % 60);
    let _ = write!(
        out,
        "[2022/02/07 {h:02}:{m:02}:{s:02}.{:03} +08:00] [{}] [{}:{}] [{}] [conn={}] [region_id={}] [start_ts={}]",
        rng.below(1000),
        rng.pick(&LEVELS),
        rng.pick(&SOURCES),
        rng.below(2000),
        rng.pick(&MESSAGES),
        rng.below(4_000_000),
        rng.below(100_000),
        431_000_000_000_000_000 + rng.below(1 << 40),
    );
    if rng.chance(0.3) {
        let _ = write!(
            out,
            " [key=7480000000000000{:04x}5f72{:016x}] [duration={}.{:03}ms]",
            rng.below(0xFFFF),
            rng.next_u64(),
            rng.below(500),
            rng.below(1000)
        );
    }
    if rng.chance(0.1) {
        let _ = write!(
            out,
            " [sql=\"SELECT * FROM t{} WHERE id = {} AND k > {}\"]",
            rng.below(50),
            rng.below(1_000_000),
            rng.below(1000)
        );
    }
    out.push(b'\n');
}

/// Writes about `bytes` of log text to `path`; returns the bytes written.
fn write_log(path: &Path, bytes: u64, rng: &mut Rng) -> io::Result<u64> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut sink = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut written = 0u64;
    let mut buf = Vec::with_capacity(1 << 20);
    let mut second = 0u64;
    while written < bytes {
        buf.clear();
        while buf.len() < (1 << 20) - 512 {
            line(rng, second / 40, &mut buf);
            second += 1;
        }
        let take = buf.len().min((bytes - written) as usize);
        // Keep whole lines.
        let end = buf[..take]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(take, |i| i + 1);
        sink.write_all(&buf[..end])?;
        written += end as u64;
        if end == 0 {
            break;
        }
    }
    sink.flush()?;
    Ok(written)
}

/// Writes about `total` bytes of logs (uncompressed) into the log folders of every instance
/// of the bundle at `bundle` (a directory), split evenly; returns the files written.
pub fn write_bulk_logs(bundle: &Path, total: u64, seed: u64) -> anyhow::Result<Vec<PathBuf>> {
    let cluster = Cluster::open_with(bundle, &LoadOptions::default().plan(ReadPlan::metadata()))?;
    let dirs: Vec<(PathBuf, String)> = cluster
        .instances
        .iter()
        .filter_map(|inst| {
            let name = inst
                .component
                .topology_key()
                .trim_end_matches('s')
                .to_string();
            let dir = match cluster.layout {
                Layout::Operator => PathBuf::from("logs").join(inst.pod.as_deref()?),
                _ => {
                    let log_dir = inst
                        .log_dir
                        .clone()
                        .or_else(|| inst.deploy_dir.as_ref().map(|d| format!("{d}/log")))?;
                    PathBuf::from(&inst.host).join(log_dir.trim_start_matches('/'))
                }
            };
            Some((bundle.join(dir), name))
        })
        .collect();
    anyhow::ensure!(
        !dirs.is_empty(),
        "{}: no instance with a log folder",
        bundle.display()
    );
    let share = total / dirs.len() as u64;
    let mut rng = Rng::new(seed);
    let mut files = Vec::new();
    for (dir, component) in &dirs {
        let mut left = share;
        let mut rotation = 0;
        while left > 0 {
            let bytes = left.min(FILE_BYTES);
            let name = if rotation == 0 {
                format!("{component}.log")
            } else {
                format!(
                    "{component}-2022-02-07T{:02}-00-00.{rotation:03}.log",
                    11 - rotation % 12
                )
            };
            let path = dir.join(name);
            write_log(&path, bytes, &mut rng)?;
            files.push(path);
            left -= bytes;
            rotation += 1;
        }
    }
    Ok(files)
}
