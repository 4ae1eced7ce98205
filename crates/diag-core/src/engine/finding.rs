//! What evaluating rules produces: one [`Finding`] per selected rule, one [`Row`] per instance
//! (or data tuple), each row with the values it read and where they came from.

use std::sync::Arc;

use compact_str::CompactString;
use serde::Serialize;
use smallvec::SmallVec;

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
    /// Abnormal, but accepted by a waiver ([`crate::waivers`]); carries the rule's severity.
    /// Counts neither as abnormal nor for `--fail-on`.
    Waived(Severity),
}

impl RowState {
    /// The text diag prints: `OK`, `warning`, `info`, `critical`, `nodata`, `error` (and
    /// `waived`, which diag does not have).
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Ok => "OK",
            RowState::Abnormal(s) => s.as_str(),
            RowState::NoData => "nodata",
            RowState::Error => "error",
            RowState::Waived(_) => "waived",
        }
    }
}

/// Where something a row rests on was read: a bundle-relative file and, when known, the line,
/// the time of the entry (logs, metrics) and a short excerpt of what is there.
///
/// Config values, most of what rows cite, have neither time nor excerpt: those two live behind
/// one pointer, so the evidence of a value is 32 bytes, not 72.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Evidence {
    /// Path inside the bundle (shared with the config tree it was read from).
    pub file: Arc<str>,
    /// 1-based line; 0 when the format gives none.
    pub line: u32,
    /// Time and excerpt; `None` when both are. Ordered as the two fields in turn.
    detail: Option<Box<EvidenceDetail>>,
}

/// What an [`Evidence`] of a log line or a sample adds to `file:line`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct EvidenceDetail {
    time: Option<String>,
    excerpt: Option<String>,
}

impl Evidence {
    /// Evidence at `file:line`, with no time or excerpt.
    pub fn at(file: impl Into<Arc<str>>, line: u32) -> Evidence {
        Evidence {
            file: file.into(),
            line,
            detail: None,
        }
    }

    /// The same evidence with the time of the cited entry.
    pub fn with_time(mut self, time: impl Into<String>) -> Evidence {
        self.detail.get_or_insert_default().time = Some(time.into());
        self
    }

    /// The same evidence with a short excerpt of the cited entry.
    pub fn with_excerpt(mut self, excerpt: impl Into<String>) -> Evidence {
        self.detail.get_or_insert_default().excerpt = Some(excerpt.into());
        self
    }

    /// When the cited entry happened (RFC 3339, as the source wrote it), if it has a time.
    pub fn time(&self) -> Option<&str> {
        self.detail.as_ref()?.time.as_deref()
    }

    /// A short excerpt of the cited entry (a log line, a `key = value`), if useful.
    pub fn excerpt(&self) -> Option<&str> {
        self.detail.as_ref()?.excerpt.as_deref()
    }
}

impl Serialize for Evidence {
    /// `{"file", "line", "time"?, "excerpt"?}`: time and excerpt only when present.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (time, excerpt) = (self.time(), self.excerpt());
        let fields = 2 + usize::from(time.is_some()) + usize::from(excerpt.is_some());
        let mut out = serializer.serialize_struct("Evidence", fields)?;
        out.serialize_field("file", &*self.file)?;
        out.serialize_field("line", &self.line)?;
        if let Some(time) = time {
            out.serialize_field("time", time)?;
        }
        if let Some(excerpt) = excerpt {
            out.serialize_field("excerpt", excerpt)?;
        }
        out.end()
    }
}

/// What a row that stands for many matches (a log rule matching 10,000 lines) keeps of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Aggregate {
    /// How many entries matched.
    pub count: u64,
    /// Time of the first match, if the entries have times.
    pub first: Option<String>,
    /// Time of the last match, if the entries have times.
    pub last: Option<String>,
    /// Up to [`Aggregate::MAX_EXAMPLES`] matches, in order of appearance.
    pub examples: Vec<Evidence>,
}

impl Aggregate {
    /// Examples kept per row.
    pub const MAX_EXAMPLES: usize = 5;

    /// An aggregate of no matches yet.
    pub fn new() -> Aggregate {
        Aggregate {
            count: 0,
            first: None,
            last: None,
            examples: Vec::new(),
        }
    }

    /// Counts one more match (in order of appearance), keeping it as an example while there is room.
    pub fn add(&mut self, evidence: Evidence) {
        self.count += 1;
        if let Some(time) = evidence.time() {
            if self.first.is_none() {
                self.first = Some(time.to_owned());
            }
            self.last = Some(time.to_owned());
        }
        if self.examples.len() < Aggregate::MAX_EXAMPLES {
            self.examples.push(evidence);
        }
    }
}

impl Default for Aggregate {
    fn default() -> Aggregate {
        Aggregate::new()
    }
}

/// One value a rule read for a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueRead {
    /// `<ConfigStruct>.<path>`, e.g. `PdConfig.log.file.max-days` (shared with the rule).
    pub variation: Arc<str>,
    /// The value as text (inline up to 24 bytes); `None` when the path is missing.
    pub value: Option<CompactString>,
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

/// The values a row read, in variation order: one (most rows) without a heap block.
pub type Values = SmallVec<[ValueRead; 1]>;

/// One result row: an instance (or a tuple of instances), the values read, the state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Row {
    /// diag's unique tag: `TidbConfig_172.20.21.213:4000`; tuples join tags with `-`. Shared
    /// by the rows of one subject.
    pub tag: Arc<str>,
    /// The instances involved (empty for cluster-wide rows); shared by the rows of one subject.
    pub instances: Arc<[InstanceRef]>,
    /// Values read, in variation order.
    pub values: Values,
    /// The outcome.
    pub state: RowState,
    /// Why, for `nodata` and `error` rows (and optional detail for abnormal ones).
    pub message: Option<String>,
    /// What the row rests on beyond its values (log lines, system file lines), first the most
    /// telling one (a log rule's first match in the window), then examples.
    pub evidence: Vec<Evidence>,
    /// For rows that stand for many matches: count, first/last time, examples.
    pub aggregate: Option<Box<Aggregate>>,
    /// What a normal value looks like (`>= 1`), for declarative conditions; `None` otherwise.
    /// Shared by the rows of a rule when it does not depend on the row.
    pub expected: Option<Arc<str>>,
    /// The waiver that accepted this row, when its state is [`RowState::Waived`].
    pub waiver: Option<Arc<WaiverNote>>,
    /// For metric rows: the series behind the value, thinned, with the threshold (sparklines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Box<SeriesSketch>>,
}

/// A metric row's series, thinned to at most [`SeriesSketch::MAX_POINTS`] points, and the
/// threshold it was held against.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SeriesSketch {
    /// `(unix seconds, value)`, in time order; non-finite values left out.
    pub points: Vec<(f64, f64)>,
    /// The abnormal threshold.
    pub threshold: f64,
}

impl SeriesSketch {
    /// Points kept.
    pub const MAX_POINTS: usize = 120;

    /// Thins `points` to at most [`SeriesSketch::MAX_POINTS`], keeping each stretch's extreme
    /// (so a spike survives thinning).
    pub fn of(points: &[crate::model::metrics::Point], threshold: f64) -> SeriesSketch {
        // Two passes over the borrowed points (count, then thin), no copy of them: a check
        // sketches every row's series.
        let finite = || {
            points
                .iter()
                .filter(|p| p.v.is_finite())
                .map(|p| (p.t, p.v))
        };
        let count = finite().count();
        let per = count.div_ceil(Self::MAX_POINTS).max(1);
        let mut thinned = Vec::with_capacity(count.div_ceil(per));
        let (mut extreme, mut taken): (Option<(f64, f64)>, usize) = (None, 0);
        for b in finite() {
            extreme = Some(match extreme {
                Some(a) if (b.1 - threshold).abs() > (a.1 - threshold).abs() => b,
                Some(a) => a,
                None => b,
            });
            taken += 1;
            if taken == per {
                thinned.extend(extreme.take());
                taken = 0;
            }
        }
        thinned.extend(extreme);
        SeriesSketch {
            points: thinned,
            threshold,
        }
    }
}

/// Why a row is waived: what its waiver said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WaiverNote {
    /// The waiver's mandatory reason.
    pub reason: String,
    /// The last day it applies (`YYYY-MM-DD`), if it expires.
    pub expires: Option<String>,
}

impl WaiverNote {
    /// A note with `reason`, expiring after `expires` when given.
    pub fn new(reason: impl Into<String>, expires: Option<String>) -> WaiverNote {
        WaiverNote {
            reason: reason.into(),
            expires,
        }
    }
}

impl Row {
    /// A row about `instances` (or the cluster when empty); [`Row::key`] gives its identity.
    pub fn new(
        tag: String,
        instances: Vec<InstanceRef>,
        values: Vec<ValueRead>,
        state: RowState,
        message: Option<String>,
    ) -> Row {
        Row::shared(
            tag.into(),
            instances.into(),
            Values::from_vec(values),
            state,
            message,
        )
    }

    /// [`Row::new`] with the subject's tag and instances shared with its other rows.
    pub(crate) fn shared(
        tag: Arc<str>,
        instances: Arc<[InstanceRef]>,
        values: Values,
        state: RowState,
        message: Option<String>,
    ) -> Row {
        Row {
            tag,
            instances,
            values,
            state,
            message,
            evidence: Vec::new(),
            aggregate: None,
            expected: None,
            series: None,
            waiver: None,
        }
    }

    /// Stable identity across runs and bundles of one cluster, `<rule id>/<rule name>/<tag>`,
    /// for the row of `rule`'s finding. Waivers and bundle diffs match rows by it.
    pub fn key(&self, rule: &RuleMeta) -> String {
        format!("{}/{}/{}", rule.id, rule.name, self.tag)
    }

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
    /// Abnormal if any row is neither OK nor nodata nor error, as diag counts it (waived rows
    /// count as OK).
    pub fn status(&self) -> RuleStatus {
        if self
            .rows
            .iter()
            .any(|r| matches!(r.state, RowState::Abnormal(_)))
        {
            RuleStatus::Abnormal
        } else if self.rows.iter().any(|r| r.state == RowState::Error) {
            RuleStatus::Error
        } else if self
            .rows
            .iter()
            .any(|r| matches!(r.state, RowState::Ok | RowState::Waived(_)))
        {
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
