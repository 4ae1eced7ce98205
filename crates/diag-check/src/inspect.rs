//! `diag-check inspect`: print the model a bundle loads into.

use std::path::PathBuf;
use std::process::ExitCode;

use diag_core::model::inspect::Inspection;

/// Output format of `inspect`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum InspectFormat {
    /// A summary for people.
    Text,
    /// The stable `diag-check/inspect/v1` JSON document.
    Json,
}

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The bundle: a diag-<id>/ directory, a .zip or a .tar.gz.
    pub bundle: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: InspectFormat,
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let cluster = diag_core::Cluster::open(&args.bundle)?;
    let inspection = Inspection::of(&cluster);
    match args.format {
        InspectFormat::Text => print!("{}", inspection.to_text()),
        InspectFormat::Json => print!("{}", inspection.to_json()),
    }
    Ok(ExitCode::SUCCESS)
}
