//! Rule files: schema, loading, linting, the condition language and the Rhai glue.

use serde::Serialize;

use crate::model::ComponentKind;

/// What a rule checks; `--types` selects by this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckKind {
    /// diag's on-call configuration rules.
    Config,
    /// "Is this setting still at its default?" rules (diag's `defaultConfig`).
    DefaultConfig,
    /// Slow-log and plan rules.
    Performance,
    /// Log content rules.
    Log,
    /// Host system rules (limits, sysctl, insight).
    System,
    /// Topology shape rules.
    Topology,
    /// Prometheus metric rules.
    Metric,
}

impl CheckKind {
    /// The name used in rule files and on the command line (`config`, `default_config`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Config => "config",
            CheckKind::DefaultConfig => "default_config",
            CheckKind::Performance => "performance",
            CheckKind::Log => "log",
            CheckKind::System => "system",
            CheckKind::Topology => "topology",
            CheckKind::Metric => "metric",
        }
    }
}

/// How serious an abnormal result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Likely to cause trouble.
    Warning,
    /// Act now.
    Critical,
}

impl Severity {
    /// `info`, `warning` or `critical`, as printed in report rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What every rule says about itself: the part reports print.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleMeta {
    /// diag's numeric id (100, 209, …); not unique (206 is used twice).
    pub id: i64,
    /// diag's rule name, the key selection de-duplicates on.
    pub name: String,
    /// What it checks.
    pub kind: CheckKind,
    /// The components whose data it reads, in tuple order.
    pub components: Vec<ComponentKind>,
    /// The value(s) printed, e.g. `TidbConfig.log.file.max-days`.
    pub variation: String,
    /// Severity of an abnormal row.
    pub severity: Severity,
    /// Version constraint as written (empty = all versions).
    pub version: String,
    /// Knowledge-base link.
    pub link: String,
    /// What the rule checks and why, in prose.
    pub description: String,
    /// What to do about an abnormal result.
    pub suggestion: String,
    /// The rule file it was loaded from (path inside the rule directory, or `builtin:<path>`).
    pub source: String,
}
