//! One check, start to finish: load → plan → check → render → write. Both front ends
//! (`diag-check <bundle>` and diag-server's check API) call this and nothing below it, so the
//! steps, their order and the parsing of what a user asks for (check kinds, fail-on levels;
//! formats parse with [`Format`]'s `FromStr`) exist once.
//!
//! [`check`] loads, selects, evaluates and renders, and writes nothing (a server that answers
//! with the report's bytes); [`check_and_write`] also writes the files where the caller says
//! ([`ReportTarget`]): diag's place beside the bundle, an exact directory, or a new directory
//! under one of the caller's (a server's state directory).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use diag_core::pipeline::{self, CheckRequest, ReportTarget};
//! use diag_core::report::Renderer;
//! use diag_core::rules::RuleSet;
//! let (rules, renderer) = (RuleSet::builtin(), Renderer::new());
//! let request = CheckRequest::new(&rules, &renderer);
//! let checked = pipeline::check("../../fixtures/diag-fPrz0RnDxRn".as_ref(), &request)?;
//! assert_eq!(checked.outcome.findings.len(), 21);
//! let text = checked.file("check-report.txt").unwrap_or_default();
//! assert!(text.starts_with("# Check Result Report\nbasic "));
//! let state = tempfile::tempdir()?;
//! let target = ReportTarget::Under(state.path().to_path_buf());
//! let written = pipeline::check_and_write("../../fixtures/minimal".as_ref(), &request, &target)?;
//! assert!(written.dir.starts_with(state.path()));
//! # Ok(()) }
//! ```

use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use crate::LoadError;
use crate::bundle::{DataKind, SourceKind};
use crate::engine::selection::{self, NameList, SelectionNote, UnknownRule};
use crate::engine::{self, CheckOptions, CheckOutcome, RowState};
use crate::model::Cluster;
use crate::redact::Redactor;
use crate::report::{
    Format, Renderer, ReportDocument, ReportError, ReportFile, default_report_dir, saved_line,
    write_report_dir,
};
use crate::rules::{CheckKind, RuleLoadErrors, RuleSet, Severity};
use crate::timeline::{Timeline, Window};
use crate::waivers::{WaiverReport, WaiverSet};

/// How a bundle is loaded: limits and read plan (one type, the model's).
pub use crate::model::LoadOptions;

/// What to check and how to render it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckRequest<'a> {
    /// The rules to select from.
    pub rules: &'a RuleSet,
    /// The templates.
    pub renderer: &'a Renderer,
    /// Which rules run (kinds, `--rule`, `--skip`).
    pub selection: CheckOptions,
    /// Formats rendered besides diag's two text files (`check-report.txt` is always one).
    pub formats: Vec<Format>,
    /// How the bundle is loaded; the read plan of the selected rules joins it here.
    pub load: LoadOptions,
    /// Worker threads for loading and evaluation; `None` for rayon's current pool.
    pub threads: Option<NonZeroUsize>,
    /// Waivers applied to the findings before anything is rendered ([`crate::waivers`]).
    pub waivers: Option<WaiverSet>,
    /// Redact every rendered file ([`crate::redact`]): `Some(None)` numbered pseudonyms,
    /// `Some(Some(key))` pseudonyms derived from the key.
    pub redact: Option<Option<String>>,
}

impl<'a> CheckRequest<'a> {
    /// diag's defaults: config rules, the text report, the current thread pool.
    pub fn new(rules: &'a RuleSet, renderer: &'a Renderer) -> CheckRequest<'a> {
        CheckRequest {
            rules,
            renderer,
            selection: CheckOptions::default(),
            formats: vec![Format::Text],
            load: LoadOptions::default(),
            threads: None,
            waivers: None,
            redact: None,
        }
    }
}

/// Why a check produced no report. Every variant's `Display` is one line naming the input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The selection names a rule no loaded rule is.
    #[error("{flag}: {0}", flag = flag(.0.list))]
    UnknownRule(UnknownRule),
    /// A rule directory has files that do not load (every problem, one per line).
    #[error("--rules {}: {errors}", dir.display())]
    Rules {
        /// The directory.
        dir: PathBuf,
        /// Its problems.
        errors: RuleLoadErrors,
    },
    /// The bundle could not be used.
    #[error("{0}")]
    Load(LoadError),
    /// Rendering failed.
    #[error("{0}")]
    Report(ReportError),
    /// The worker pool could not be started.
    #[error("cannot start {threads} worker threads: {reason}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// What rayon said.
        reason: String,
    },
}

impl CheckError {
    /// Whether the request itself was wrong (a usage error), rather than the bundle or the host.
    pub fn is_usage(&self) -> bool {
        matches!(self, CheckError::UnknownRule(_) | CheckError::Rules { .. })
    }
}

/// The command-line name of a selection list, which front ends share.
fn flag(list: NameList) -> &'static str {
    match list {
        NameList::Only => "--rule",
        NameList::Skip => "--skip",
    }
}

/// A bundle checked and its report rendered; nothing written yet.
#[derive(Debug)]
#[non_exhaustive]
pub struct Checked {
    /// The bundle as given.
    pub bundle: PathBuf,
    /// The loaded bundle; its `warnings` are the caller's to show.
    pub cluster: Cluster,
    /// The findings.
    pub outcome: CheckOutcome,
    /// The document every format was rendered from.
    pub doc: ReportDocument,
    /// The rendered files, by name (diag's two text files and every requested format).
    pub files: Vec<ReportFile>,
    /// What the selection left out that the user may not expect (one line each).
    pub notes: Vec<SelectionNote>,
    /// What the waivers did, when the request had some.
    pub waivers: Option<WaiverReport>,
    /// The redactor, when redacting: its mapping is the user's to keep, and whatever else the
    /// caller prints about the bundle (warnings, error rows) must go through it.
    pub redactor: Option<Redactor>,
}

/// The built-in rules plus the rules below each of `dirs`, in the order given: of rules sharing
/// a name, the later one runs.
pub fn rule_set(dirs: &[PathBuf]) -> Result<RuleSet, CheckError> {
    let mut rules = RuleSet::builtin();
    for dir in dirs {
        let extra = RuleSet::load_dir(dir).map_err(|errors| CheckError::Rules {
            dir: dir.clone(),
            errors,
        })?;
        rules.merge(extra);
    }
    Ok(rules)
}

/// Loads `bundle`, selects and runs the rules of `request`, and renders its formats; writes
/// nothing. The evidence in the rendered files does not link into the bundle (nothing says
/// where the report will be read from). The selection's names are checked against the rules
/// before the bundle is opened.
pub fn check(bundle: &Path, request: &CheckRequest<'_>) -> Result<Checked, CheckError> {
    in_pool(request, || {
        let prepared = prepare(bundle, request)?;
        render(bundle, request, prepared)
    })
}

/// [`check`], then writes the files atomically into a new report directory at `target`, with
/// the evidence linked into the bundle where the report sits inside or beside it. Nothing is
/// written when loading or rendering fails.
pub fn check_and_write(
    bundle: &Path,
    request: &CheckRequest<'_>,
    target: &ReportTarget,
) -> Result<Written, CheckError> {
    in_pool(request, || {
        let mut prepared = prepare(bundle, request)?;
        let (dir, unique) = target.resolve(bundle, prepared.cluster.source.kind());
        // A `-1` suffix for a unique name keeps the parent, so the links stay right. A report
        // under a caller's directory (a server's state) has no links: its readers cannot
        // follow them, and they would spell out where the data sits. Nor has a redacted one
        // (the links would name the original folders).
        if prepared.redactor.is_none() && !matches!(target, ReportTarget::Under(_)) {
            prepared.doc.link_bundle(&prepared.cluster, &dir);
        }
        let checked = render(bundle, request, prepared)?;
        let dir = write_report_dir(&dir, &checked.files, unique).map_err(CheckError::Report)?;
        Ok(Written { checked, dir })
    })
}

/// Loads `bundle` with the read plan of `selection` (and the alerts, which the timeline reads
/// itself), runs the selected rules and applies `waivers`: what the commands about findings
/// rather than reports (`diff`, `timeline`) start from.
pub fn findings(
    bundle: &Path,
    rules: &RuleSet,
    selection: &CheckOptions,
    waivers: Option<&WaiverSet>,
) -> Result<(Cluster, CheckOutcome), CheckError> {
    selection::check_names(rules, selection).map_err(CheckError::UnknownRule)?;
    let plan = engine::read_plan(rules, selection).with(DataKind::Alerts);
    let cluster =
        Cluster::open_with(bundle, &LoadOptions::default().plan(plan)).map_err(CheckError::Load)?;
    let mut outcome = engine::check(&cluster, rules, selection);
    if let Some(w) = waivers {
        w.apply(&mut outcome, crate::waivers::today());
    }
    Ok((cluster, outcome))
}

/// Runs `work` on `request.threads` workers (or the current pool), once the selection's
/// names are known to be rules.
fn in_pool<T>(
    request: &CheckRequest<'_>,
    work: impl FnOnce() -> Result<T, CheckError> + Send,
) -> Result<T, CheckError>
where
    T: Send,
{
    selection::check_names(request.rules, &request.selection).map_err(CheckError::UnknownRule)?;
    match request.threads {
        None => work(),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.get())
            .build()
            .map_err(|e| CheckError::Threads {
                threads: n.get(),
                reason: e.to_string(),
            })?
            .install(work),
    }
}

/// Loaded, checked, not yet rendered.
struct Prepared {
    cluster: Cluster,
    outcome: CheckOutcome,
    doc: ReportDocument,
    notes: Vec<SelectionNote>,
    waivers: Option<WaiverReport>,
    redactor: Option<Redactor>,
}

fn prepare(bundle: &Path, request: &CheckRequest<'_>) -> Result<Prepared, CheckError> {
    // The default plan (everything) gives way to what the selectable rules read, and the
    // alerts when the HTML report's timeline page is written.
    let load = if request.load.plan.is_everything() {
        let mut plan = engine::read_plan(request.rules, &request.selection);
        if request.formats.contains(&Format::Html) {
            plan = plan.with(DataKind::Alerts);
        }
        request.load.clone().plan(plan)
    } else {
        request.load.clone()
    };
    let cluster = Cluster::open_with(bundle, &load).map_err(CheckError::Load)?;
    let notes = selection::explain_selection(&cluster, request.rules, &request.selection);
    let mut outcome = engine::check(&cluster, request.rules, &request.selection);
    // Post-passes over the findings, then over the document.
    let waivers = request
        .waivers
        .as_ref()
        .map(|w| w.apply(&mut outcome, crate::waivers::today()));
    let mut doc = ReportDocument::new(&cluster, &outcome);
    if let Some(w) = &waivers {
        doc.note_waivers(w);
    }
    let redactor = request
        .redact
        .as_ref()
        .map(|key| Redactor::for_cluster(&cluster, key.as_deref()));
    Ok(Prepared {
        cluster,
        outcome,
        doc,
        notes,
        waivers,
        redactor,
    })
}

/// The timeline page of a report directory with an HTML report.
const TIMELINE_FILE: &str = "timeline.html";

fn render(
    bundle: &Path,
    request: &CheckRequest<'_>,
    mut prepared: Prepared,
) -> Result<Checked, CheckError> {
    // Redacted twice: the document before rendering (escaping cannot hide an original from
    // it), every rendered file after (nothing a template adds survives).
    // The HTML report links to the incident timeline, written beside it.
    let timeline = if request.formats.contains(&Format::Html) {
        Timeline::build(&prepared.cluster, &prepared.outcome, &Window::default()).ok()
    } else {
        None
    };
    if timeline.is_some() {
        prepared.doc.timeline = Some(TIMELINE_FILE.to_owned());
    }
    if let Some(r) = &mut prepared.redactor {
        r.redact_document(&mut prepared.doc);
    }
    let mut files = request
        .renderer
        .render_files(&request.formats, &prepared.doc)
        .map_err(CheckError::Report)?;
    // diag writes the performance rules' CSV files beside the report when they ran.
    if prepared
        .outcome
        .findings
        .iter()
        .any(|f| f.rule.kind == crate::rules::CheckKind::Performance)
    {
        files.extend(
            engine::slow_log_csv_files(&prepared.cluster)
                .into_iter()
                .map(|(name, content)| ReportFile { name, content }),
        );
    }
    if let Some(t) = timeline {
        files.push(ReportFile {
            name: TIMELINE_FILE.to_owned(),
            content: t.to_html(),
        });
    }
    if let Some(r) = &mut prepared.redactor {
        for f in &mut files {
            f.content = r.redact(&f.content);
        }
    }
    Ok(Checked {
        bundle: bundle.to_path_buf(),
        cluster: prepared.cluster,
        outcome: prepared.outcome,
        doc: prepared.doc,
        files,
        notes: prepared.notes,
        waivers: prepared.waivers,
        redactor: prepared.redactor,
    })
}

/// Where [`check_and_write`] puts the report directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTarget {
    /// diag's place ([`default_report_dir`]): `<bundle>/report-<stamp>` for a directory,
    /// `<archive stem>-report-<stamp>` beside an archive; `-1`, `-2`, … when taken.
    BesideBundle,
    /// Exactly this directory, which must not exist or be empty.
    Exactly(PathBuf),
    /// A new directory `report-<stamp>` under this one (say, a server's state directory for
    /// the data set), never inside the bundle; `-1`, `-2`, … when taken. Its HTML does not
    /// link evidence into the bundle.
    Under(PathBuf),
}

impl ReportTarget {
    /// The directory to create, and whether another name may be taken when it exists.
    fn resolve(&self, bundle: &Path, kind: SourceKind) -> (PathBuf, bool) {
        match self {
            ReportTarget::BesideBundle => (default_report_dir(bundle, kind), true),
            ReportTarget::Exactly(dir) => (dir.clone(), false),
            // The name diag gives a report inside a directory bundle.
            ReportTarget::Under(parent) => {
                (default_report_dir(parent, SourceKind::Directory), true)
            }
        }
    }
}

/// A check whose report directory has been written.
#[derive(Debug)]
#[non_exhaustive]
pub struct Written {
    /// The check.
    pub checked: Checked,
    /// The directory its files were written to.
    pub dir: PathBuf,
}

impl Written {
    /// What diag prints on the terminal: the text report, a blank line, and where it was saved.
    pub fn terminal_text(&self) -> String {
        let report = self
            .checked
            .file(Format::Text.file_name())
            .unwrap_or_default();
        format!("{report}\n{}\n", saved_line(&self.dir))
    }
}

impl Checked {
    /// The content of one rendered file (`check-report.txt`, `check-report.json`, …).
    pub fn file(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.content.as_str())
    }

    /// One line per row that ended in `error`, in report order: rule, instance, cause.
    pub fn error_rows(&self) -> Vec<ErrorRow<'_>> {
        self.outcome
            .findings
            .iter()
            .flat_map(|f| {
                f.rows
                    .iter()
                    .filter(|r| r.state == RowState::Error)
                    .map(move |r| ErrorRow {
                        id: f.rule.id,
                        name: &f.rule.name,
                        tag: if r.tag.is_empty() { "cluster" } else { &r.tag },
                        cause: r.message.as_deref().unwrap_or("no cause given"),
                    })
            })
            .collect()
    }
}

/// A result row in `error`: the rule could not decide for this instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRow<'a> {
    /// The rule's id.
    pub id: i64,
    /// The rule's name.
    pub name: &'a str,
    /// diag's tag of the row's instance(s), or `cluster`.
    pub tag: &'a str,
    /// Why.
    pub cause: &'a str,
}

impl fmt::Display for ErrorRow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cause may come from a script; keep the line one line.
        let cause: String = self
            .cause
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        write!(
            f,
            "rule {} `{}` on {}: error: {cause}",
            self.id, self.name, self.tag
        )
    }
}

/// Reads check kinds as a user writes them: each item a kind or a comma-separated list of
/// kinds, `all` for every kind. Duplicates are dropped, the order is [`CheckKind::ALL`]'s.
///
/// ```
/// use diag_core::pipeline::parse_kinds;
/// use diag_core::rules::CheckKind;
/// assert_eq!(parse_kinds(&["config"]), Ok(vec![CheckKind::Config]));
/// assert_eq!(parse_kinds(&["metric,config", "config"]), Ok(vec![CheckKind::Config, CheckKind::Metric]));
/// assert_eq!(parse_kinds(&["all"]).map(|k| k.len()), Ok(CheckKind::ALL.len()));
/// assert!(parse_kinds(&["banana"]).is_err());
/// ```
pub fn parse_kinds<S: AsRef<str>>(items: &[S]) -> Result<Vec<CheckKind>, String> {
    let mut wanted = Vec::new();
    for word in items.iter().flat_map(|i| i.as_ref().split(',')) {
        let word = word.trim();
        if word == "all" {
            wanted.extend(CheckKind::ALL);
            continue;
        }
        match CheckKind::parse(word) {
            Some(kind) => wanted.push(kind),
            None => {
                let known: Vec<&str> = CheckKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(format!(
                    "unknown check type `{word}` (known: {}, or all)",
                    known.join(", ")
                ));
            }
        }
    }
    if wanted.is_empty() {
        return Err("no check type given".into());
    }
    Ok(CheckKind::ALL
        .into_iter()
        .filter(|k| wanted.contains(k))
        .collect())
}

/// When a check counts as failed (exit status 1 of `diag-check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailOn {
    /// Fail when an abnormal row is at least this severe.
    pub severity: Option<Severity>,
    /// Fail when any row ended in `error`.
    pub error: bool,
}

impl FailOn {
    /// The level names, as offered on the command line.
    pub const LEVELS: [&'static str; 5] = ["never", "info", "warning", "critical", "error"];

    /// Reads levels: each item a level or a comma-separated list of them (`warning,error`).
    /// `never` adds nothing; of several severities the lowest counts.
    ///
    /// ```
    /// use diag_core::pipeline::FailOn;
    /// use diag_core::rules::Severity;
    /// let f = FailOn::parse(&["critical,error"]).unwrap();
    /// assert_eq!((f.severity, f.error), (Some(Severity::Critical), true));
    /// assert_eq!(FailOn::parse(&["never"]), Ok(FailOn::default()));
    /// assert!(FailOn::parse(&["sometimes"]).is_err());
    /// ```
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<FailOn, String> {
        let mut fail = FailOn::default();
        for word in items.iter().flat_map(|i| i.as_ref().split(',')) {
            let severity = match word.trim() {
                "never" => continue,
                "error" => {
                    fail.error = true;
                    continue;
                }
                "info" => Severity::Info,
                "warning" => Severity::Warning,
                "critical" => Severity::Critical,
                other => {
                    return Err(format!(
                        "unknown level `{other}` (known: {})",
                        FailOn::LEVELS.join(", ")
                    ));
                }
            };
            fail.severity = Some(fail.severity.map_or(severity, |s| s.min(severity)));
        }
        Ok(fail)
    }

    /// Whether `outcome` reaches any of the levels.
    pub fn reached(&self, outcome: &CheckOutcome) -> bool {
        outcome
            .findings
            .iter()
            .flat_map(|f| &f.rows)
            .any(|r| match r.state {
                RowState::Abnormal(s) => self.severity.is_some_and(|t| s >= t),
                RowState::Error => self.error,
                RowState::Ok | RowState::NoData | RowState::Waived(_) => false,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_check_writes_under_its_own_directory_and_never_into_the_bundle() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (rules, renderer) = (RuleSet::builtin(), Renderer::new());
        let bundle = Path::new("../../fixtures/minimal");
        let mut request = CheckRequest::new(&rules, &renderer);
        request.formats = vec![Format::Text, Format::Json];
        let under = ReportTarget::Under(tmp.path().to_path_buf());
        let write = || {
            check_and_write(bundle, &request, &under)
                .unwrap_or_else(|e| panic!("{e}"))
                .dir
        };
        let (first, second) = (write(), write());
        // The report is not beside the bundle: nothing links into it (no server path leaks).
        let json = std::fs::read_to_string(first.join("check-report.json")).unwrap_or_default();
        assert!(
            json.contains("\"evidence\"") && !json.contains("\"href\": \""),
            "{json}"
        );
        // Checked without a target, the bytes are the same.
        let checked = check(bundle, &request).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked.file("check-report.json"), Some(json.as_str()));
        assert_ne!(first, second);
        for dir in [&first, &second] {
            assert_eq!(dir.parent(), Some(tmp.path()));
            let name = dir.file_name().unwrap_or_default().to_string_lossy();
            assert!(name.starts_with("report-"), "{name}");
        }
        let leftovers = std::fs::read_dir(bundle)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("report-"))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn an_unknown_rule_is_refused_before_the_bundle_is_opened() {
        let (rules, renderer) = (RuleSet::builtin(), Renderer::new());
        let mut request = CheckRequest::new(&rules, &renderer);
        request.selection.skip = vec!["nonesuch".into()];
        let err = check(Path::new("/nonexistent/bundle"), &request)
            .err()
            .unwrap_or_else(|| panic!("nonesuch is no rule"));
        assert!(err.is_usage());
        assert!(
            err.to_string().starts_with("--skip: no loaded rule"),
            "{err}"
        );
    }

    #[test]
    fn fail_on_error_is_reached_by_an_error_row_only() {
        let rules = RuleSet::from_files(
            vec![(
                "e.yaml".into(),
                "id: 9002\nname: e\nkind: config\ncomponent: TidbConfig\nvariation: TidbConfig.log.level\nseverity: info\nlink: https://s.tidb.io/abcd1234\ndescription: d\nabnormal_when: {path: log.level, lt: 1}\n".into(),
            )],
            "t",
        )
        .unwrap_or_else(|e| panic!("{:?}", e.errors));
        let renderer = Renderer::new();
        let checked = check(
            Path::new("../../fixtures/minimal"),
            &CheckRequest::new(&rules, &renderer),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let errors: Vec<String> = checked
            .error_rows()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("rule 9002 `e` on TidbConfig_"),
            "{errors:?}"
        );
        let error = FailOn::parse(&["error"]).unwrap_or_default();
        assert!(error.reached(&checked.outcome));
        let critical = FailOn::parse(&["info"]).unwrap_or_default();
        assert!(!critical.reached(&checked.outcome));
    }
}
