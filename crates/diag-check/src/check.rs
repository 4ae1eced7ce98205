//! The default command: check a bundle and print the report.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of the default check.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The bundle: a diag-<id>/ directory, a .zip or a .tar.gz.
    #[arg(required = true)]
    pub bundle: Option<PathBuf>,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "checking {:?}: the rule engine is not wired yet",
        args.bundle
    )
}
