//! `diag-check inspect`: print the model a bundle loads into.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The bundle: a diag-<id>/ directory, a .zip or a .tar.gz.
    pub bundle: PathBuf,
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let cluster = diag_core::Cluster::open(&args.bundle)?;
    println!("{} {}", cluster.name, cluster.version.text);
    Ok(ExitCode::SUCCESS)
}
