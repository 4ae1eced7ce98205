//! `diag-check diff <before> <after>`: what changed between two bundles of one cluster.

use std::path::PathBuf;
use std::process::ExitCode;

use diag_core::diff::BundleDiff;
use diag_core::engine::CheckOptions;
use diag_core::rules::Severity;

use crate::check::{RedactArgs, load_waivers, print_output};
use diag_core::pipeline;

/// Arguments of `diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier bundle.
    pub before: PathBuf,
    /// The later bundle.
    pub after: PathBuf,
    /// text, json or markdown.
    #[arg(long, default_value = "text", value_parser = ["text", "json", "markdown"])]
    pub format: String,
    /// Kinds of rules to run on both, comma-separated (as for the check).
    #[arg(long, value_delimiter = ',', default_value = "config")]
    pub types: Vec<String>,
    /// A directory of rule files added to the built-in rules. Repeatable.
    #[arg(long = "rules", value_name = "DIR")]
    pub rule_dirs: Vec<PathBuf>,
    /// Waivers applied to both bundles' findings.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Exit with status 1 when a new abnormal result reaches this severity.
    #[arg(long, value_name = "LEVEL", default_value = "never", value_parser = ["never", "info", "warning", "critical"])]
    pub fail_on: String,
    #[command(flatten)]
    pub redact: RedactArgs,
}

pub fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let rules = pipeline::rule_set(&args.rule_dirs).map_err(|e| anyhow::anyhow!("{e}"))?;
    let kinds = pipeline::parse_kinds(&args.types).map_err(|e| anyhow::anyhow!("--types: {e}"))?;
    let options = CheckOptions {
        kinds,
        ..CheckOptions::default()
    };
    let waivers = load_waivers(args.waivers.as_deref())?;
    let check = |path: &PathBuf| {
        pipeline::findings(path, &rules, &options, waivers.as_ref())
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    let ((before, old), (after, new)) = (check(&args.before)?, check(&args.after)?);
    let diff = BundleDiff::between(&before, &old, &after, &new);
    let text = match args.format.as_str() {
        "json" => diff.to_json(),
        "markdown" => diff.to_markdown(),
        _ => diff.to_text(),
    };
    print_output(text, &[&before, &after], &args.redact)?;
    let threshold = match args.fail_on.as_str() {
        "info" => Some(Severity::Info),
        "warning" => Some(Severity::Warning),
        "critical" => Some(Severity::Critical),
        _ => None,
    };
    Ok(match threshold {
        Some(t) if diff.fails_on(t) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}
