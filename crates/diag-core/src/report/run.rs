//! One check, start to finish: load the bundle, run the rules, render, write the report
//! directory. Both front ends (`diag-check <bundle>` and diag-server's check API) do exactly this.

use std::path::{Path, PathBuf};

use super::{
    Format, Renderer, ReportDocument, ReportError, ReportFile, default_report_dir, saved_line,
    write_report_dir,
};
use crate::Cluster;
use crate::engine::{self, CheckOptions, CheckOutcome};
use crate::rules::RuleSet;

/// What to check and how to report it.
#[derive(Debug, Clone, Copy)]
pub struct ReportRequest<'a> {
    /// The rules to select from.
    pub rules: &'a RuleSet,
    /// Which of them to run.
    pub options: &'a CheckOptions,
    /// Templates.
    pub renderer: &'a Renderer,
    /// Formats written besides diag's two text files.
    pub formats: &'a [Format],
    /// The report directory to create; `None` for [`default_report_dir`] (made unique).
    pub output: Option<&'a Path>,
}

/// A check whose report directory has been written.
#[derive(Debug)]
pub struct WrittenReport {
    /// The loaded bundle (its warnings are the caller's to show).
    pub cluster: Cluster,
    /// The findings.
    pub outcome: CheckOutcome,
    /// The document every format was rendered from.
    pub doc: ReportDocument,
    /// The files written, by name.
    pub files: Vec<ReportFile>,
    /// The directory they were written to.
    pub dir: PathBuf,
}

impl WrittenReport {
    /// The content of one written file.
    pub fn file(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.content.as_str())
    }

    /// What diag prints on the terminal: the text report, a blank line, and where it was saved.
    pub fn terminal_text(&self) -> String {
        let report = self.file(Format::Text.file_name()).unwrap_or_default();
        format!("{report}\n{}\n", saved_line(&self.dir))
    }
}

/// Loads `bundle`, runs the selected rules, renders the requested formats and writes them
/// atomically into a new report directory. Nothing is written when loading or rendering fails.
pub fn check_and_write(
    bundle: &Path,
    request: &ReportRequest<'_>,
) -> Result<WrittenReport, ReportError> {
    let cluster = Cluster::open(bundle).map_err(ReportError::Load)?;
    let outcome = engine::check(&cluster, request.rules, request.options);
    let target = match request.output {
        Some(dir) => dir.to_path_buf(),
        None => default_report_dir(bundle, cluster.source.kind()),
    };
    let mut doc = ReportDocument::new(&cluster, &outcome);
    // A `-1` suffix for a unique name keeps the parent, so the links stay right.
    doc.link_bundle(&cluster, &target);
    let mut files = request.renderer.render_files(request.formats, &doc)?;
    // diag writes the performance rules' CSV files beside the report when they ran.
    if outcome
        .findings
        .iter()
        .any(|f| f.rule.kind == crate::rules::CheckKind::Performance)
    {
        files.extend(
            engine::slow_log_csv_files(&cluster)
                .into_iter()
                .map(|(name, content)| ReportFile { name, content }),
        );
    }
    let dir = write_report_dir(&target, &files, request.output.is_none())?;
    Ok(WrittenReport {
        cluster,
        outcome,
        doc,
        files,
        dir,
    })
}
