//! `diag-check`: the Check Result Report for a TiDB diagnostic bundle, offline.
//!
//! Thin by design: argument parsing and printing; everything else is `diag_core`.

mod check;
mod diff;
mod inspect;
mod logs;
mod rules_cmd;
mod timeline;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Check a PingCAP Clinic diagnostic bundle (directory, .zip or .tar.gz) and print the Check
/// Result Report.
#[derive(Debug, Parser)]
#[command(
    name = "diag-check",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    check: check::CheckArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the cluster model a bundle loads into: cluster, version, sample, instances, data present, warnings.
    Inspect(inspect::InspectArgs),
    /// The bundle's logs, cluster-wide and time-ordered, filtered (default: the sample window).
    Logs(logs::LogsArgs),
    /// Work with rule files: list, show, lint, test.
    Rules(rules_cmd::RulesArgs),
    /// Compare two bundles of one cluster: findings new, resolved and changed; config, version
    /// and topology changes.
    Diff(diff::DiffArgs),
    /// One chronology of a bundle: timed evidence of every finding (logs, metrics, alerts)
    /// across every instance, in time order.
    Timeline(timeline::TimelineArgs),
}

fn main() -> ExitCode {
    // `--version` names the rule-set version and `--help` the kinds that have rules, both
    // known only from the rules.
    let builtin = diag_core::rules::RuleSet::builtin();
    let version = format!(
        "{} (rules {})",
        env!("CARGO_PKG_VERSION"),
        builtin.version()
    );
    let types_help = check::types_help(&builtin);
    let matches = Cli::command()
        .version(&*version.leak())
        .mut_arg("types", |a| a.help(types_help))
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let result = match cli.command {
        Some(Command::Inspect(args)) => inspect::run(args),
        Some(Command::Rules(args)) => rules_cmd::run(args),
        Some(Command::Logs(args)) => logs::run(args),
        Some(Command::Diff(args)) => diff::run(args),
        Some(Command::Timeline(args)) => timeline::run(args),
        None => check::run(cli.check),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("diag-check: {err:#}");
            ExitCode::from(2)
        }
    }
}
