//! `diag-check rules …`: list, show, lint and test rule files.

use std::process::ExitCode;

/// Arguments of `rules`.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {}

pub fn run(_args: RulesArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("rules commands are not wired yet")
}
