//! The default command: check a bundle, write the report directory, print the report.
//!
//! Argument parsing and printing only; the check itself is `diag_core::pipeline`.

use std::io::{IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use diag_core::engine::CheckOptions;
use diag_core::pipeline::{self, CheckRequest, FailOn, ReportTarget, Written};
use diag_core::report::{self, Format, Renderer};
use diag_core::rules::RuleSet;
use diag_core::waivers::WaiverSet;

/// Arguments of the default check.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The bundle: a diag-<id>/ directory, a .zip or a .tar.gz.
    #[arg(required = true)]
    pub bundle: Option<PathBuf>,

    /// Kinds of rules to run, comma-separated or repeated, or `all`. (`--help` names the kinds
    /// that have rules.)
    #[arg(long, value_name = "KINDS", default_value = "config")]
    pub types: Vec<String>,

    /// A directory of rule files added to the built-in rules (a rule with the same name as a
    /// built-in one replaces it). Repeatable.
    #[arg(long = "rules", value_name = "DIR")]
    pub rule_dirs: Vec<PathBuf>,

    /// Run only this rule (id or name). Repeatable.
    #[arg(long = "rule", value_name = "ID")]
    pub only: Vec<String>,

    /// Do not run this rule (id or name). Repeatable.
    #[arg(long, value_name = "ID")]
    pub skip: Vec<String>,

    /// Report formats, comma-separated or repeated: text, markdown, json, html, junit, sarif.
    /// The first is printed; every one is written to the report directory, together with diag's
    /// check-report.txt and detailed-check-record.txt.
    #[arg(long, value_delimiter = ',', default_value = "text", value_parser = parse_format)]
    pub format: Vec<Format>,

    /// The report directory to create (default: <bundle>/report-YYMMDDhhmmss, or beside an archive).
    /// It must not exist, or be empty.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Replace a built-in template: `FILE` for the single template-rendered format selected, or
    /// `NAME=FILE` with NAME one of text, record, markdown, html, junit. Repeatable.
    #[arg(long, value_name = "[NAME=]FILE")]
    pub template: Vec<String>,

    /// Exit with status 1 when an abnormal result reaches this severity (info, warning,
    /// critical), or with `error` when any rule could not decide a row; comma-separated to
    /// combine (`warning,error`).
    #[arg(long, value_name = "LEVEL", default_value = "never")]
    pub fail_on: Vec<String>,

    /// Worker threads for loading and evaluating rules, at least 1 (default: one per core).
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<NonZeroUsize>,

    /// Print nothing but errors; the report directory is still written.
    #[arg(long, short)]
    pub quiet: bool,

    /// Never color output (also when NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,

    /// A YAML list of waivers (rule, instance or host, reason, expires): matching abnormal
    /// results are reported as `waived` and no longer count for --fail-on.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,

    #[command(flatten)]
    pub redact: RedactArgs,
}

/// `--redact`, shared by every command that prints what a bundle holds.
#[derive(Debug, Clone, clap::Args)]
pub struct RedactArgs {
    /// Replace IP addresses, host names, the cluster name and id, and secret or path values by
    /// stable pseudonyms (ip-1, host-1, …) in every output.
    #[arg(long)]
    pub redact: bool,

    /// Derive pseudonyms from this key, so that they are the same across runs (implies --redact).
    #[arg(
        long,
        value_name = "KEY",
        env = "DIAG_CHECK_REDACT_KEY",
        hide_env_values = true
    )]
    pub redact_key: Option<String>,

    /// Write the pseudonym → original table to this file (keep it; never share it).
    #[arg(long, value_name = "FILE")]
    pub redact_map: Option<PathBuf>,
}

impl RedactArgs {
    /// `Some(key)` when redacting.
    pub fn mode(&self) -> Option<Option<&str>> {
        (self.redact || self.redact_key.is_some()).then_some(self.redact_key.as_deref())
    }

    /// Writes the mapping when asked to.
    pub fn write_map(&self, redactor: Option<&diag_core::redact::Redactor>) -> anyhow::Result<()> {
        if let (Some(path), Some(r)) = (&self.redact_map, redactor) {
            std::fs::write(path, r.mapping_text())
                .with_context(|| format!("--redact-map {}", path.display()))?;
        }
        Ok(())
    }
}

/// Prints `text` (the output of a command about one or more bundles) to stdout, redacted
/// when asked: every original of `clusters` and every address is replaced, and the mapping is
/// written where `--redact-map` says.
pub fn print_output(
    text: String,
    clusters: &[&diag_core::Cluster],
    redact: &RedactArgs,
) -> anyhow::Result<()> {
    let text = match redact.mode() {
        Some(key) => {
            use diag_core::redact::Redactor;
            let mut r = key.map_or_else(Redactor::new, Redactor::with_key);
            for c in clusters {
                r.learn_cluster(c);
            }
            let text = r.redact(&text);
            redact.write_map(Some(&r))?;
            text
        }
        None => text,
    };
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, text.as_bytes())?;
    std::io::Write::flush(&mut out)?;
    Ok(())
}

/// `--waivers FILE`, loaded.
pub fn load_waivers(path: Option<&std::path::Path>) -> anyhow::Result<Option<WaiverSet>> {
    path.map(|p| WaiverSet::load(p).map_err(|e| anyhow!("--waivers {e}")))
        .transpose()
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse::<Format>().map_err(|e| e.to_string())
}

fn parse_threads(s: &str) -> Result<NonZeroUsize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => NonZeroUsize::new(n).ok_or_else(|| "must be at least 1".into()),
        Err(e) => Err(format!("not a number of threads: {e}")),
    }
}

/// The `--types` help: which kinds the built-in rules cover, from the rules themselves.
pub fn types_help(rules: &RuleSet) -> String {
    let (with, without): (Vec<_>, Vec<_>) = diag_core::rules::CheckKind::ALL
        .into_iter()
        .partition(|k| rules.rules().iter().any(|r| r.meta.kind == *k));
    let names = |kinds: &[diag_core::rules::CheckKind]| {
        kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut help = format!(
        "Kinds of rules to run, comma-separated or repeated, or `all`. Kinds with built-in rules: {}",
        names(&with)
    );
    if !without.is_empty() {
        help.push_str(&format!(
            "; no rules yet (accepted, nothing runs): {}",
            names(&without)
        ));
    }
    help
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let Some(bundle) = args.bundle.as_deref() else {
        bail!("no bundle given")
    };
    let kinds = pipeline::parse_kinds(&args.types).map_err(|e| anyhow!("--types: {e}"))?;
    let fail_on = FailOn::parse(&args.fail_on).map_err(|e| anyhow!("--fail-on: {e}"))?;
    let renderer = renderer(&args)?;
    let rules = pipeline::rule_set(&args.rule_dirs).map_err(|e| anyhow!("{e}"))?;
    let mut request = CheckRequest::new(&rules, &renderer);
    request.selection = CheckOptions {
        kinds,
        only: args.only.clone(),
        skip: args.skip.clone(),
    };
    request.formats = args.format.clone();
    request.threads = args.threads;
    request.waivers = load_waivers(args.waivers.as_deref())?;
    request.redact = args.redact.mode().map(|k| k.map(str::to_owned));

    let target = match &args.output {
        Some(dir) => ReportTarget::Exactly(dir.clone()),
        None => ReportTarget::BesideBundle,
    };
    let progress = Progress::start(args.quiet);
    let written = pipeline::check_and_write(bundle, &request, &target);
    progress.finish();
    // The library's errors name the path and cause in one line; no chain to repeat.
    let mut written = written.map_err(|e| anyhow!("{e}"))?;
    args.redact.write_map(written.checked.redactor.as_ref())?;
    let checked = &written.checked;
    // Expired and unused waivers are named even with --quiet: they need someone's attention.
    let mut before: Vec<String> = checked
        .waivers
        .as_ref()
        .map(|w| w.notices())
        .unwrap_or_default();
    if !args.quiet {
        before.extend(
            checked
                .cluster
                .warnings
                .iter()
                .map(|w| format!("warning: {w}")),
        );
        before.extend(checked.notes.iter().map(|n| format!("note: {n}")));
    }
    let after: Vec<String> = checked.error_rows().iter().map(|r| r.to_string()).collect();
    // What goes to stderr names the bundle's hosts too: it passes the redactor when redacting.
    let say = |checked: &mut pipeline::Checked, lines: &[String]| {
        for line in lines {
            let line = match &mut checked.redactor {
                Some(r) => r.redact(line),
                None => line.clone(),
            };
            eprintln!("diag-check: {line}");
        }
    };
    say(&mut written.checked, &before);
    if !args.quiet {
        print_report(&args, &written)?;
    }
    say(&mut written.checked, &after);
    let checked = &written.checked;
    Ok(if fail_on.reached(&checked.outcome) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The built-in templates, with `--template` replacements.
fn renderer(args: &CheckArgs) -> anyhow::Result<Renderer> {
    let mut renderer = Renderer::new();
    for spec in &args.template {
        renderer
            .set_template_spec(spec, &args.format)
            .map_err(|e| anyhow::anyhow!("--template {spec}: {e}"))?;
    }
    Ok(renderer)
}

fn print_report(args: &CheckArgs, written: &Written) -> anyhow::Result<()> {
    let first = args.format.first().copied().unwrap_or(Format::Text);
    let mut out = std::io::stdout().lock();
    if first == Format::Text {
        // diag's terminal output: the report, a blank line, where it was saved.
        let text = written.terminal_text();
        let color = color_enabled(args.no_color) && std::io::stdout().is_terminal();
        out.write_all(if color { colorize(&text) } else { text }.as_bytes())?;
    } else {
        // Keep stdout parseable (`--format json > r.json`); say where the files went on stderr.
        out.write_all(
            written
                .checked
                .file(first.file_name())
                .unwrap_or_default()
                .as_bytes(),
        )?;
        eprintln!("{}", report::saved_line(&written.dir));
    }
    out.flush()?;
    Ok(())
}

/// `--no-color` or a non-empty `NO_COLOR` (<https://no-color.org>) turn colors off.
pub fn color_enabled(no_color_flag: bool) -> bool {
    !no_color_flag && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Colors the state cell of result rows and the headings; the text is otherwise unchanged.
fn colorize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let newline = &line[body.len()..];
        let state = body.rsplit_once("   ").map(|(_, s)| s);
        let code = match state {
            Some("critical") | Some("error") if body.starts_with("  ") => Some("1;31"),
            Some("warning") if body.starts_with("  ") => Some("33"),
            Some("info") if body.starts_with("  ") => Some("36"),
            Some("OK") if body.starts_with("  ") => Some("32"),
            _ => None,
        };
        match (code, state) {
            (Some(code), Some(state)) => {
                let head = &body[..body.len() - state.len()];
                out.push_str(&format!("{head}\x1b[{code}m{state}\x1b[0m{newline}"));
            }
            _ if body.starts_with('#') => out.push_str(&format!("\x1b[1m{body}\x1b[0m{newline}")),
            _ => out.push_str(line),
        }
    }
    out
}

/// A spinner on stderr, shown only in a terminal and only once the work has taken a moment.
struct Progress {
    done: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(quiet: bool) -> Progress {
        let done = std::sync::Arc::new(AtomicBool::new(false));
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { done, thread: None };
        }
        let flag = done.clone();
        let thread = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            while started.elapsed() < Duration::from_millis(400) {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let spinner = indicatif::ProgressBar::new_spinner();
            spinner.set_message("loading the bundle and checking rules");
            spinner.enable_steady_tick(Duration::from_millis(100));
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
            spinner.finish_and_clear();
        });
        Progress {
            done,
            thread: Some(thread),
        }
    }

    fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::colorize;

    #[test]
    fn color_touches_only_state_cells_and_headings() {
        let text = "# Check Result Report\n- RuleID: 100\n  A_1:1   A.b:0   warning\n  A_2:1   A.b:7   OK\n";
        let colored = colorize(text);
        assert_eq!(
            colored,
            "\x1b[1m# Check Result Report\x1b[0m\n- RuleID: 100\n  A_1:1   A.b:0   \x1b[33mwarning\x1b[0m\n  A_2:1   A.b:7   \x1b[32mOK\x1b[0m\n"
        );
    }
}
