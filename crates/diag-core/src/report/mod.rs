//! Rendering findings: the report document, the minijinja environment with its built-in
//! templates, the output formats and the report directory.
//!
//! Every format is produced from one [`ReportDocument`] built from a cluster and its
//! [`CheckOutcome`](crate::engine::CheckOutcome):
//!
//! - text (diag's `check-report.txt`, byte for byte), markdown, html and junit come from
//!   minijinja templates embedded in the library; each can be replaced ([`Renderer::set_template`]),
//!   and the template context is the document itself, described by [`JSON_SCHEMA`];
//! - json is the document serialized; sarif 2.1.0 is built from it.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use diag_core::engine::CheckOutcome;
//! use diag_core::report::{Format, Renderer, ReportDocument};
//! let cluster = diag_core::Cluster::open("../../fixtures/minimal".as_ref())?;
//! let outcome = CheckOutcome { findings: vec![], rule_set_version: "none".into() };
//! let doc = ReportDocument::new(&cluster, &outcome);
//! let text = Renderer::new().render(Format::Text, &doc)?;
//! assert!(text.starts_with("# Check Result Report\nmini "));
//! # Ok(()) }
//! ```

mod document;
mod markdown;
mod output;
mod sarif;
mod sparkline;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Enumerator, Object, ObjectRepr, Serde, Value};
use minijinja::{Environment, UndefinedBehavior};

pub use document::{
    AggregateDoc, BundleInfo, ClusterInfo, ClusterInstanceDoc, ComponentDoc, EngineInfo, ErrorDoc,
    EvidenceDoc, FORMAT_VERSION, FindingDoc, InstanceDoc, KIND_ORDER, KindSummary, ReportDocument,
    RowDoc, RowWaiverDoc, RuleDoc, RuleSetInfo, SampleInfo, SeverityCounts, StatusCounts, Summary,
    ValueDoc, WaivedRowDoc, WaiversDoc, WarningDoc,
};
pub use output::{ReportFile, default_report_dir, saved_line, write_report_dir};

/// The JSON Schema (draft 2020-12) of the json format and of every template's context.
pub const JSON_SCHEMA: &str = include_str!("schema/report-v1.json");

/// The file diag writes for every rule and row.
pub const RECORD_FILE: &str = "detailed-check-record.txt";

/// Whether XML 1.0 allows `c` in a document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// diag's Check Result Report (`check-report.txt`).
    Text,
    /// The same content as Markdown, for tickets and chat.
    Markdown,
    /// The [`ReportDocument`], versioned by [`FORMAT_VERSION`] and [`JSON_SCHEMA`].
    Json,
    /// One self-contained HTML page.
    Html,
    /// JUnit XML: rule = test case, abnormal = failure.
    Junit,
    /// SARIF 2.1.0.
    Sarif,
}

impl Format {
    /// Every format, in the order files are written.
    pub const ALL: [Format; 6] = [
        Format::Text,
        Format::Markdown,
        Format::Json,
        Format::Html,
        Format::Junit,
        Format::Sarif,
    ];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Json => "json",
            Format::Html => "html",
            Format::Junit => "junit",
            Format::Sarif => "sarif",
        }
    }

    /// The file the format is written to inside the report directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Text => "check-report.txt",
            Format::Markdown => "check-report.md",
            Format::Json => "check-report.json",
            Format::Html => "check-report.html",
            Format::Junit => "check-report.junit.xml",
            Format::Sarif => "check-report.sarif",
        }
    }

    /// The template a format is rendered from, if it is template-rendered.
    pub fn template(self) -> Option<TemplateName> {
        match self {
            Format::Text => Some(TemplateName::Text),
            Format::Markdown => Some(TemplateName::Markdown),
            Format::Html => Some(TemplateName::Html),
            Format::Junit => Some(TemplateName::Junit),
            Format::Json | Format::Sarif => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Format, ReportError> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "md" => return Ok(Format::Markdown),
            "xml" => return Ok(Format::Junit),
            _ => {}
        }
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or(ReportError::UnknownFormat(s))
    }
}

/// A built-in template; each can be replaced with [`Renderer::set_template`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TemplateName {
    /// `check-report.txt`.
    Text,
    /// `detailed-check-record.txt`.
    Record,
    /// `check-report.md`.
    Markdown,
    /// `check-report.html` (HTML auto-escaping).
    Html,
    /// JUnit XML (XML auto-escaping).
    Junit,
}

impl TemplateName {
    /// Every template.
    pub const ALL: [TemplateName; 5] = [
        TemplateName::Text,
        TemplateName::Record,
        TemplateName::Markdown,
        TemplateName::Html,
        TemplateName::Junit,
    ];

    /// The name the environment knows it by; its extension picks the auto-escaping.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateName::Text => "check-report.txt",
            TemplateName::Record => "detailed-check-record.txt",
            TemplateName::Markdown => "check-report.md",
            TemplateName::Html => "check-report.html",
            TemplateName::Junit => "junit.xml",
        }
    }

    /// The built-in source.
    pub fn builtin_source(self) -> &'static str {
        match self {
            TemplateName::Text => include_str!("templates/check-report.txt.j2"),
            TemplateName::Record => include_str!("templates/detailed-check-record.txt.j2"),
            TemplateName::Markdown => include_str!("templates/check-report.md.j2"),
            TemplateName::Html => include_str!("templates/check-report.html.j2"),
            TemplateName::Junit => include_str!("templates/junit.xml.j2"),
        }
    }

    /// Parses `text`, `record`, `markdown`/`md`, `html`, `junit`.
    pub fn parse(s: &str) -> Option<TemplateName> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Some(TemplateName::Text),
            "record" => Some(TemplateName::Record),
            "markdown" | "md" => Some(TemplateName::Markdown),
            "html" => Some(TemplateName::Html),
            "junit" => Some(TemplateName::Junit),
            _ => None,
        }
    }
}

/// What can go wrong while rendering or writing a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    // Causes are part of each message (one line, like `LoadError`), not chained as `source()`,
    // so `{:#}` printers do not repeat them.
    /// A template failed to compile or render.
    #[error("{}", template_message(name, file.as_deref(), error))]
    Template {
        /// The template.
        name: String,
        /// The file it was read from, for a template that replaced a built-in one.
        file: Option<PathBuf>,
        /// minijinja's error, with line information (its `{:#}` form shows the template excerpt).
        error: minijinja::Error,
    },
    /// A `--template NAME=FILE` whose NAME is no template.
    #[error("unknown template `{0}` (known: text, record, markdown, html, junit)")]
    UnknownTemplate(String),
    /// A `--template FILE` without a name that cannot be attributed to one template.
    #[error("{0}")]
    AmbiguousTemplate(String),
    /// Serializing the json or sarif format failed.
    #[error("serializing the report: {0}")]
    Json(serde_json::Error),
    /// Reading or writing a file failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// The report directory exists and is not empty; it is never overwritten.
    #[error("{}: report directory already exists and is not empty; refusing to overwrite it", .0.display())]
    Exists(PathBuf),
    /// The bundle could not be loaded.
    #[error("{0}")]
    Load(crate::LoadError),
    /// A format name that does not exist.
    #[error("unknown format `{0}` (known: text, markdown, json, html, junit, sarif)")]
    UnknownFormat(String),
}

/// `FILE:LINE: what went wrong` for a user's template, `template `NAME`: …` for a built-in one.
/// An undefined variable is named by the expression that read it.
fn template_message(name: &str, file: Option<&Path>, error: &minijinja::Error) -> String {
    let mut what = match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    };
    if error.kind() == minijinja::ErrorKind::UndefinedError
        && let (Some(source), Some(range)) = (error.template_source(), error.range())
        && let Some(expr) = source.get(range)
        && !what.contains(expr)
    {
        what.push_str(&format!(" `{expr}`"));
    }
    let line = error.line().unwrap_or(0);
    match file {
        Some(file) => format!("{}:{line}: {what}", file.display()),
        None => format!("template `{name}`:{line}: {what}"),
    }
}

/// The minijinja environment with the built-in (or replaced) templates.
///
/// Undefined values are errors (minijinja's strict mode): a misspelt field in a template fails
/// with the template's file, line and the expression, instead of rendering as nothing.
#[derive(Debug, Clone)]
pub struct Renderer {
    env: Environment<'static>,
    /// Where each replaced template was read from, for error messages.
    files: BTreeMap<TemplateName, PathBuf>,
}

impl Default for Renderer {
    fn default() -> Renderer {
        Renderer::new()
    }
}

impl Renderer {
    /// An environment holding the built-in templates. Templates use `trim_blocks`,
    /// `lstrip_blocks` and `keep_trailing_newline`, so block tags may sit on their own lines.
    pub fn new() -> Renderer {
        let mut env = Environment::new();
        if let Ok(syntax) = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Errors carry the template source, so a message can quote the failing expression.
        env.set_debug(true);
        env.add_filter("md", markdown_cell);
        env.add_filter("markdown", markdown::inline_html);
        env.add_function("sparkline", sparkline::sparkline);
        for name in TemplateName::ALL {
            // The built-ins are compiled by the tests; a failure here would be a build defect.
            let _ = env.add_template(name.as_str(), name.builtin_source());
        }
        Renderer {
            env,
            files: BTreeMap::new(),
        }
    }

    /// Replaces a built-in template with `source` (e.g. the content of `--template FILE`).
    pub fn set_template(&mut self, name: TemplateName, source: String) -> Result<(), ReportError> {
        self.files.remove(&name);
        self.env
            .add_template_owned(name.as_str(), source)
            .map_err(|error| ReportError::Template {
                name: name.as_str().to_owned(),
                file: None,
                error,
            })
    }

    /// Replaces a built-in template with the content of `file`; errors in it, when compiling
    /// now or rendering later, name `file` and the line.
    pub fn set_template_file(
        &mut self,
        name: TemplateName,
        file: &Path,
    ) -> Result<(), ReportError> {
        let source = std::fs::read_to_string(file).map_err(|error| ReportError::Io {
            path: file.to_path_buf(),
            error,
        })?;
        self.env
            .add_template_owned(name.as_str(), source)
            .map_err(|error| ReportError::Template {
                name: name.as_str().to_owned(),
                file: Some(file.to_path_buf()),
                error,
            })?;
        self.files.insert(name, file.to_path_buf());
        Ok(())
    }

    /// Applies a `--template` argument: `NAME=FILE`, or `FILE` alone when exactly one of
    /// `formats` is rendered from a template.
    pub fn set_template_spec(&mut self, spec: &str, formats: &[Format]) -> Result<(), ReportError> {
        if let Some((name, file)) = spec.split_once('=') {
            match TemplateName::parse(name) {
                Some(name) => return self.set_template_file(name, Path::new(file)),
                // `a=b.j2` may be a file name; only an existing file is taken as one.
                None if !Path::new(spec).is_file() => {
                    return Err(ReportError::UnknownTemplate(name.to_owned()));
                }
                None => {}
            }
        }
        let templated: Vec<TemplateName> = formats.iter().filter_map(|f| f.template()).collect();
        match templated.as_slice() {
            [only] => self.set_template_file(*only, Path::new(spec)),
            [] => Err(ReportError::AmbiguousTemplate(format!(
                "none of the formats {} is rendered from a template; say which, e.g. html={spec}",
                formats
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ))),
            _ => Err(ReportError::AmbiguousTemplate(format!(
                "several formats are rendered from templates; say which, e.g. html={spec}"
            ))),
        }
    }

    /// Renders one template with the document as its context.
    pub fn render_template(
        &self,
        name: TemplateName,
        doc: &ReportDocument,
    ) -> Result<String, ReportError> {
        let err = |error| ReportError::Template {
            name: name.as_str().to_owned(),
            file: self.files.get(&name).cloned(),
            error,
        };
        let template = self.env.get_template(name.as_str()).map_err(err)?;
        template.render(context(doc)).map_err(err)
    }

    /// Renders one format.
    pub fn render(&self, format: Format, doc: &ReportDocument) -> Result<String, ReportError> {
        match format.template() {
            // XML 1.0 has no escape for most control characters: they become U+FFFD.
            Some(name) if format == Format::Junit => self
                .render_template(name, doc)
                .map(|xml| xml.replace(|c: char| !xml_char(c), "\u{fffd}")),
            Some(name) => self.render_template(name, doc),
            None if format == Format::Json => {
                Ok(serde_json::to_string_pretty(doc).map_err(ReportError::Json)? + "\n")
            }
            None => Ok(serde_json::to_string_pretty(&sarif::sarif(doc))
                .map_err(ReportError::Json)?
                + "\n"),
        }
    }

    /// The files of a report directory: diag's `check-report.txt` and
    /// `detailed-check-record.txt` always, plus one file per other requested format.
    pub fn render_files(
        &self,
        formats: &[Format],
        doc: &ReportDocument,
    ) -> Result<Vec<ReportFile>, ReportError> {
        let mut files = vec![
            ReportFile {
                name: Format::Text.file_name().to_owned(),
                content: self.render(Format::Text, doc)?,
            },
            ReportFile {
                name: RECORD_FILE.to_owned(),
                content: self.render_template(TemplateName::Record, doc)?,
            },
        ];
        let mut rest: Vec<Format> = formats
            .iter()
            .copied()
            .filter(|f| *f != Format::Text)
            .collect();
        rest.sort();
        rest.dedup();
        for format in rest {
            files.push(ReportFile {
                name: format.file_name().to_owned(),
                content: self.render(format, doc)?,
            });
        }
        Ok(files)
    }
}

/// The document as templates see it: what serializing it into a value makes of it, except that each
/// finding's rows are made into values one at a time as a template reaches them. A detailed
/// record prints every row once, so a whole document of values (hundreds of thousands of rows,
/// each a map of strings) was built and freed for each template before.
fn context(doc: &ReportDocument) -> Value {
    let findings: Vec<Value> = doc
        .findings
        .iter()
        .map(|f| {
            let shell = FindingDoc {
                rows: Arc::default(),
                ..f.clone()
            };
            with_entry(
                &shell,
                "rows",
                Value::from_object(Rows(Arc::clone(&f.rows))),
            )
        })
        .collect();
    let shell = ReportDocument {
        findings: Vec::new(),
        ..doc.clone()
    };
    with_entry(&shell, "findings", Value::from(findings))
}

/// `shell` (a struct) as a value, with `key` set to `value`.
fn with_entry(shell: &impl serde::Serialize, key: &str, value: Value) -> Value {
    let map = Value::from(Serde(shell));
    let mut entries: BTreeMap<Value, Value> = BTreeMap::new();
    if let Ok(keys) = map.try_iter() {
        for k in keys {
            let v = map.get_item(&k).unwrap_or_default();
            entries.insert(k, v);
        }
    }
    entries.insert(Value::from(key), value);
    Value::from(entries)
}

/// A finding's rows as a template sequence, each row made into a value when it is read.
#[derive(Debug)]
struct Rows(Arc<Vec<RowDoc>>);

impl Object for Rows {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0
            .get(key.as_usize()?)
            .map(|row| Value::from(Serde(row)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }
}

/// Markdown table cell: no pipes or line breaks may break the table.
fn markdown_cell(value: String) -> String {
    value.replace('|', "\\|").replace(['\r', '\n'], " ")
}
