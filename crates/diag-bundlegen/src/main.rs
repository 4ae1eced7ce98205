//! `diag-bundlegen`: writes synthetic diag bundles, and measures one stage in a fresh process
//! (the end-to-end bench reads its peak memory this way).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use diag_bundlegen::measure::{self, Stage};
use diag_bundlegen::{BundleSpec, Counts, Format, Layout, write_bundle};

#[derive(Parser)]
#[command(
    name = "diag-bundlegen",
    version,
    about = "Synthetic PingCAP Clinic diag bundles, deterministic from a seed"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a bundle and `<bundle>.expected-findings.json` beside it.
    Generate(Generate),
    /// Run one stage on a bundle in this process and print a JSON line with its time and the
    /// process's peak resident memory.
    Measure {
        /// baseline, load, serde or check.
        #[arg(long)]
        stage: String,
        /// Worker threads (rayon).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// The bundle.
        bundle: PathBuf,
    },
}

#[derive(clap::Args)]
struct Generate {
    /// Total instances, split 3-5 PD, 10% TiDB, 5% TiFlash, rest TiKV.
    #[arg(long, default_value_t = 100)]
    instances: usize,
    /// Override the PD count.
    #[arg(long)]
    pd: Option<usize>,
    /// Override the TiKV count.
    #[arg(long)]
    tikv: Option<usize>,
    /// Override the TiDB count.
    #[arg(long)]
    tidb: Option<usize>,
    /// Override the TiFlash count.
    #[arg(long)]
    tiflash: Option<usize>,
    #[arg(long, value_enum, default_value_t = LayoutArg::Tiup)]
    layout: LayoutArg,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Cluster version; selects the rules in the expected findings.
    #[arg(long, default_value = "v5.4.0")]
    version: String,
    /// Share of (instance, rule) pairs given a violating value.
    #[arg(long, default_value_t = 0.05)]
    violations: f64,
    /// Total bytes of component logs.
    #[arg(long, default_value_t = 0)]
    log_bytes: u64,
    #[arg(long, value_enum, default_value_t = FormatArg::Dir)]
    format: FormatArg,
    #[arg(long, default_value = "bench")]
    cluster_name: String,
    /// Output folder (created).
    #[arg(long, short)]
    out: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum LayoutArg {
    Tiup,
    Operator,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Dir,
    Zip,
    #[value(name = "tar.gz")]
    TarGz,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Generate(g) => generate(g),
        Command::Measure {
            stage,
            threads,
            bundle,
        } => {
            let Some(stage) = Stage::parse(&stage) else {
                bail!("unknown stage `{stage}` (baseline, load, serde, check)")
            };
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            let result = pool.install(|| measure::run(stage, &bundle))?;
            let line = serde_json::json!({
                "stage": format!("{stage:?}"),
                "threads": pool.current_num_threads(),
                "seconds": result.elapsed.as_secs_f64(),
                "configs": result.configs,
                "config_bytes": result.config_bytes,
                "peak_rss_bytes": measure::peak_rss_bytes(),
            });
            println!("{line}");
            Ok(())
        }
    }
}

fn generate(g: Generate) -> anyhow::Result<()> {
    let mut counts = Counts::split(g.instances);
    counts.pd = g.pd.unwrap_or(counts.pd);
    counts.tikv = g.tikv.unwrap_or(counts.tikv);
    counts.tidb = g.tidb.unwrap_or(counts.tidb);
    counts.tiflash = g.tiflash.unwrap_or(counts.tiflash);
    let layout = match g.layout {
        LayoutArg::Tiup => Layout::Tiup,
        LayoutArg::Operator => Layout::Operator,
    };
    let format = match g.format {
        FormatArg::Dir => Format::Dir,
        FormatArg::Zip => Format::Zip,
        FormatArg::TarGz => Format::TarGz,
    };
    let spec = BundleSpec {
        seed: g.seed,
        layout,
        counts,
        version: g.version,
        violation_share: g.violations.clamp(0.0, 1.0),
        log_bytes: g.log_bytes,
        cluster_name: g.cluster_name,
    };
    let written = write_bundle(&spec, format, &g.out)
        .with_context(|| format!("writing into {}", g.out.display()))?;
    let s = &written.summary;
    println!("bundle:   {}", written.bundle.display());
    println!("expected: {}", written.expected.display());
    println!(
        "{} instances ({} PD, {} TiKV, {} TiDB, {} TiFlash), {} config bytes, {} bytes in all",
        s.instances,
        counts.pd,
        counts.tikv,
        counts.tidb,
        counts.tiflash,
        s.config_bytes,
        s.total_bytes
    );
    for rule in s.expected.abnormal_rules() {
        println!(
            "  {:>4} {:<40} {} abnormal",
            rule.id,
            rule.name,
            rule.abnormal.len()
        );
    }
    Ok(())
}
