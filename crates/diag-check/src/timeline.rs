//! `diag-check timeline <bundle>`: one chronology across every instance and source.

use std::path::PathBuf;
use std::process::ExitCode;

use diag_core::engine::CheckOptions;
use diag_core::timeline::{Timeline, Window};

use crate::check::{RedactArgs, print_output};
use diag_core::pipeline;

/// Arguments of `timeline`.
#[derive(Debug, clap::Args)]
pub struct TimelineArgs {
    /// The bundle: a diag-<id>/ directory, a .zip or a .tar.gz.
    pub bundle: PathBuf,
    /// text, json or html.
    #[arg(long, default_value = "text", value_parser = ["text", "json", "html"])]
    pub format: String,
    /// Keep events at or after this time (RFC 3339; default: the start of the sample window).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Keep events at or before this time (RFC 3339; default: the end of the sample window).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Kinds of rules whose findings are placed on the timeline (default: all).
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub types: Vec<String>,
    /// A directory of rule files added to the built-in rules. Repeatable.
    #[arg(long = "rules", value_name = "DIR")]
    pub rule_dirs: Vec<PathBuf>,
    #[command(flatten)]
    pub redact: RedactArgs,
}

pub fn run(args: TimelineArgs) -> anyhow::Result<ExitCode> {
    let rules = pipeline::rule_set(&args.rule_dirs).map_err(|e| anyhow::anyhow!("{e}"))?;
    let kinds = pipeline::parse_kinds(&args.types).map_err(|e| anyhow::anyhow!("--types: {e}"))?;
    let options = CheckOptions {
        kinds,
        ..CheckOptions::default()
    };
    let (cluster, outcome) = pipeline::findings(&args.bundle, &rules, &options, None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let window = Window {
        since: args.since.clone(),
        until: args.until.clone(),
    };
    let timeline = Timeline::build(&cluster, &outcome, &window)
        .map_err(|e| anyhow::anyhow!("--since/--until: {e}"))?;
    let text = match args.format.as_str() {
        "json" => timeline.to_json(),
        "html" => timeline.to_html(),
        _ => timeline.to_text(),
    };
    print_output(text, &[&cluster], &args.redact)?;
    Ok(ExitCode::SUCCESS)
}
