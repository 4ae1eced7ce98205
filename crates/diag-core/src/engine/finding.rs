//! What evaluating rules produces: one [`Finding`] per selected rule, one [`Row`] per instance
//! (or data tuple), each row with the values it read and where they came from.

use std::sync::Arc;

use serde::Serialize;

use crate::model::ComponentKind;
use crate::rules::{RuleMeta, Severity};

/// The state of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "severity")]
pub enum RowState {
    /// The rule holds.
    Ok,
    /// The rule does not hold; carries the rule's severity.
    Abnormal(Severity),
    /// The instance has no config, or a path the rule reads is missing.
    NoData,
    /// The rule could not be evaluated here (wrong value type, script error, limit hit).
    Error,
}

impl RowState {
    /// The text diag prints: `OK`, `warning`, `info`, `critical`, `nodata`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Ok => "OK",
            RowState::Abnormal(s) => s.as_str(),
            RowState::NoData => "nodata",
            RowState::Error => "error",
        }
    }
}

/// Where a value was read: a bundle-relative file and, when known, the line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Evidence {
    /// Path inside the bundle (shared with the config tree it was read from).
    pub file: Arc<str>,
    /// 1-based line; 0 when the format gives none.
    pub line: u32,
}

/// One value a rule read for a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueRead {
    /// `<ConfigStruct>.<path>`, e.g. `PdConfig.log.file.max-days` (shared with the rule).
    pub variation: Arc<str>,
    /// The value as text; `None` when the path is missing.
    pub value: Option<String>,
    /// Where it came from; `None` when missing.
    pub evidence: Option<Evidence>,
}

impl ValueRead {
    /// `PdConfig.log.file.max-days:0` (missing values print `<nil>`, as diag does).
    pub fn display(&self) -> String {
        format!(
            "{}:{}",
            self.variation,
            self.value.as_deref().unwrap_or("<nil>")
        )
    }
}

/// An instance a row is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceRef {
    /// Its component.
    pub component: ComponentKind,
    /// Host or Pod IP.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Index in [`crate::Cluster::instances`].
    pub index: usize,
}

/// One result row: an instance (or a tuple of instances), the values read, the state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// diag's unique tag: `TidbConfig_172.20.21.213:4000`; tuples join tags with `-`.
    pub tag: String,
    /// The instances involved (empty for cluster-wide rows).
    pub instances: Vec<InstanceRef>,
    /// Values read, in variation order.
    pub values: Vec<ValueRead>,
    /// The outcome.
    pub state: RowState,
    /// Why, for `nodata` and `error` rows (and optional detail for abnormal ones).
    pub message: Option<String>,
    /// What a normal value looks like (`>= 1`), for declarative conditions; `None` for Rhai.
    pub expected: Option<String>,
}

impl Row {
    /// The values as diag prints them: `A:1,B:2`.
    pub fn values_display(&self) -> String {
        self.values
            .iter()
            .map(ValueRead::display)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Summary state of a rule over all its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// Every row OK.
    Ok,
    /// At least one row abnormal.
    Abnormal,
    /// No abnormal row, at least one error.
    Error,
    /// Only nodata rows (or no rows at all).
    NoData,
}

/// The result of one selected rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: Arc<RuleMeta>,
    /// Its rows, in instance order of the bundle.
    pub rows: Vec<Row>,
}

impl Finding {
    /// Abnormal if any row is neither OK nor nodata nor error, as diag counts it.
    pub fn status(&self) -> RuleStatus {
        if self
            .rows
            .iter()
            .any(|r| matches!(r.state, RowState::Abnormal(_)))
        {
            RuleStatus::Abnormal
        } else if self.rows.iter().any(|r| r.state == RowState::Error) {
            RuleStatus::Error
        } else if self.rows.iter().any(|r| r.state == RowState::Ok) {
            RuleStatus::Ok
        } else {
            RuleStatus::NoData
        }
    }

    /// The worst severity among abnormal rows.
    pub fn worst(&self) -> Option<Severity> {
        self.rows
            .iter()
            .filter_map(|r| match r.state {
                RowState::Abnormal(s) => Some(s),
                _ => None,
            })
            .max()
    }
}

/// Everything one check produced: every selected rule's finding, sorted by rule id then name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckOutcome {
    /// One finding per selected rule ("rules were executed" = `findings.len()`).
    pub findings: Vec<Finding>,
    /// Version of the rule set used (`builtin-<crate version>` or as given).
    pub rule_set_version: String,
}

impl CheckOutcome {
    /// Findings whose status is abnormal.
    pub fn abnormal(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.status() == RuleStatus::Abnormal)
    }
}
