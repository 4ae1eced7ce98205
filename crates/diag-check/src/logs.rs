//! `diag-check logs`: the bundle's logs, cluster-wide and time-ordered (what `CLUSTER_LOG` is
//! online). The query is `diag_core::model::log::query`; this only parses flags and prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use diag_core::model::ComponentKind;
use diag_core::model::log::{Level, LogQuery, LogTime, query};

/// Arguments of `diag-check logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The bundle: a diag-<id>/ directory, a .zip or a .tar.gz.
    pub bundle: PathBuf,
    /// Only this component (pd, tidb, tikv, tiflash, ticdc, …). Repeatable.
    #[arg(long)]
    pub component: Vec<String>,
    /// Only this instance: `host:port` or pod name. Repeatable.
    #[arg(long)]
    pub instance: Vec<String>,
    /// That level and above: trace, debug, info, warn, error, fatal.
    #[arg(long)]
    pub level: Option<String>,
    /// Entries at or after this time (RFC 3339; default: the sample's begin).
    #[arg(long)]
    pub since: Option<String>,
    /// Entries at or before this time (RFC 3339; default: the sample's end).
    #[arg(long)]
    pub until: Option<String>,
    /// Entries whose message or a `key=value` field matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<String>,
    /// At most this many entries.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Output: `text` (one line per entry) or `jsonl` (one JSON object per entry).
    #[arg(long, default_value = "text", value_parser = ["text", "jsonl"])]
    pub format: String,
}

fn time(flag: &str, text: &str) -> anyhow::Result<LogTime> {
    LogTime::parse_rfc3339(text).with_context(|| {
        format!("--{flag} `{text}`: expected an RFC 3339 time like 2022-02-07T12:00:00+08:00")
    })
}

pub fn run(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let mut components = Vec::new();
    for c in &args.component {
        match ComponentKind::from_topology_key(&c.to_ascii_lowercase()) {
            Some(k) => components.push(k),
            None => bail!(
                "--component `{c}`: expected pd, tidb, tikv, tiflash, ticdc, pump, drainer, dm-master, dm-worker"
            ),
        }
    }
    let level = match &args.level {
        None => None,
        Some(l) => Some(Level::parse(l).with_context(|| {
            format!("--level `{l}`: expected trace, debug, info, warn, error or fatal")
        })?),
    };
    let grep = match &args.grep {
        None => None,
        Some(g) => Some(regex::Regex::new(g).with_context(|| format!("--grep `{g}`"))?),
    };
    let cluster = diag_core::Cluster::open(&args.bundle)
        .with_context(|| format!("cannot load {}", args.bundle.display()))?;
    let window = cluster.sample.window();
    let q = LogQuery {
        components,
        instances: args.instance.clone(),
        level,
        since: match &args.since {
            Some(s) => Some(time("since", s)?),
            None => window.begin,
        },
        until: match &args.until {
            Some(s) => Some(time("until", s)?),
            None => window.end,
        },
        grep,
        limit: args.limit,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = None;
    let jsonl = args.format == "jsonl";
    let problems = query(&cluster, &q, |found| {
        let written = if jsonl {
            serde_json::to_writer(&mut out, &found.to_json())
                .map_err(std::io::Error::other)
                .and_then(|()| out.write_all(b"\n"))
        } else {
            writeln!(out, "{}", found.to_text())
        };
        match written {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    });
    out.flush().ok();
    if let Some(e) = failed
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        bail!("cannot write: {e}");
    }
    for p in problems {
        eprintln!("diag-check logs: warning: {p}");
    }
    Ok(ExitCode::SUCCESS)
}
