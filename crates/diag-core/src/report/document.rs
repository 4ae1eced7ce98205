//! The report document: what every format is rendered from, and the JSON format itself.
//!
//! Its shape is versioned ([`FORMAT_VERSION`]) and described by the JSON Schema committed at
//! `crates/diag-core/src/report/schema/report-v1.json` ([`super::JSON_SCHEMA`]). Templates receive
//! exactly this document as their context, so the schema is also the template author's reference.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::bundle::SourceKind;
use crate::engine::{CheckOutcome, Evidence, Finding, Row, RowState, RuleStatus};
use crate::model::{ComponentKind, Instance};
use crate::rules::{CheckKind, Severity};
use crate::{Cluster, LoadError};

/// Version of the document shape; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// Everything a report says, in the order people read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportDocument {
    /// Always `diag-check-report`.
    pub format: &'static str,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The program that produced the findings.
    pub engine: EngineInfo,
    /// The rules used.
    pub rule_set: RuleSetInfo,
    /// The bundle that was checked.
    pub bundle: BundleInfo,
    /// The cluster the bundle describes.
    pub cluster: ClusterInfo,
    /// The collection run.
    pub sample: SampleInfo,
    /// Counts.
    pub summary: Summary,
    /// One entry per selected rule, in check-kind order, then rule id, then name.
    pub findings: Vec<FindingDoc>,
    /// What could not be used while loading the bundle, in file order; the rows of what it
    /// concerns are `nodata`.
    pub warnings: Vec<WarningDoc>,
    /// Every row whose state is `error` (the rule could not be evaluated there), in report order.
    pub errors: Vec<ErrorDoc>,
    /// What waivers did, when the check was given waivers ([`ReportDocument::note_waivers`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waivers: Option<WaiversDoc>,
    /// Set when the document was redacted for sharing ([`crate::redact`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted: Option<bool>,
    /// The incident timeline page written beside this report (relative to it), when the
    /// report directory has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<String>,
}

/// What waivers did in one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaiversDoc {
    /// Every waived row, in report order.
    pub waived: Vec<WaivedRowDoc>,
    /// Waivers past their `expires` day, not applied.
    pub expired: Vec<crate::waivers::Waiver>,
    /// Live waivers that matched no abnormal row.
    pub unused: Vec<crate::waivers::Waiver>,
}

/// A row accepted by a waiver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaivedRowDoc {
    /// The rule's id.
    pub rule_id: i64,
    /// The rule's name.
    pub rule_name: String,
    /// The row's tag.
    pub tag: String,
    /// The values as diag prints them.
    pub values_text: String,
    /// The severity it would have had.
    pub severity: &'static str,
    /// The waiver's reason.
    pub reason: String,
    /// The waiver's last day, if any.
    pub expires: Option<String>,
}

/// The waiver on a waived row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowWaiverDoc {
    /// The severity the row would have without the waiver.
    pub severity: &'static str,
    /// Why it is accepted.
    pub reason: String,
    /// The waiver's last day, if any.
    pub expires: Option<String>,
}

/// One loading warning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarningDoc {
    /// Stable short name of the problem (`syntax`, `schema`, `missing_config`, …).
    pub kind: &'static str,
    /// The bundle-relative file it is about, when there is one.
    pub file: Option<String>,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// The full message, naming the file and line.
    pub message: String,
    /// Relative link from the report directory to the file, as [`EvidenceDoc::href`].
    pub href: Option<String>,
}

/// A row that ended in `error`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDoc {
    /// The rule's id.
    pub rule_id: i64,
    /// The rule's name.
    pub rule_name: String,
    /// The row's tag (`cluster` for a cluster-wide script).
    pub tag: String,
    /// Why it could not be evaluated.
    pub message: String,
}

/// The program that produced the findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineInfo {
    /// `diag-check`.
    pub name: &'static str,
    /// The `diag_core` version.
    pub version: &'static str,
}

/// The rules used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleSetInfo {
    /// As [`CheckOutcome::rule_set_version`].
    pub version: String,
}

/// The bundle that was checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BundleInfo {
    /// The file or directory name (`diag-fPrz0RnDxRn`, `diag-x.tar.gz`); never a full path, so
    /// reports do not leak where the bundle sat.
    pub name: String,
    /// `directory`, `zip` or `tar_gz`.
    pub kind: String,
    /// Relative link from the report directory to the bundle root (ending in `/`), for a
    /// directory bundle with its report inside or beside it ([`ReportDocument::link_bundle`]).
    pub href: Option<String>,
}

/// The cluster the bundle describes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterInfo {
    /// `cluster_name`.
    pub name: String,
    /// `cluster_id`.
    pub id: String,
    /// The version rules were selected by, e.g. `v5.4.0`.
    pub version: String,
    /// `tidb-cluster` or `dm-cluster`.
    pub cluster_type: String,
    /// `tiup-cluster`, `tidb-operator` or `manual`.
    pub deploy_type: String,
    /// Instance counts and versions per component, in topology order.
    pub components: Vec<ComponentDoc>,
    /// Every instance of the bundle, in bundle order.
    pub instances: Vec<ClusterInstanceDoc>,
}

/// One component of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentDoc {
    /// Topology key, e.g. `tikv`.
    pub component: String,
    /// Display name, e.g. `TiKV`.
    pub name: String,
    /// Number of instances.
    pub instances: usize,
    /// The distinct versions its instances run (from their image tags), sorted; empty when the
    /// bundle does not say per instance (then the cluster version applies).
    pub versions: Vec<String>,
}

/// One instance of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterInstanceDoc {
    /// Topology key, e.g. `pd`.
    pub component: String,
    /// Host or Pod IP.
    pub host: String,
    /// Port.
    pub port: u16,
    /// diag's row tag, e.g. `PdConfig_172.20.22.100:2379`.
    pub tag: String,
    /// The version from its image tag, when the bundle records one.
    pub version: Option<String>,
}

/// The collection run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleInfo {
    /// Sample (session) id.
    pub id: String,
    /// Start of the collected range, as written.
    pub begin_time: String,
    /// End of the collected range, as written.
    pub end_time: String,
    /// Collectors, as written.
    pub collectors: Vec<String>,
}

/// Counts over the findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Rules executed (diag's "N rules were executed").
    pub rules_executed: usize,
    /// Rules with at least one abnormal row (diag's "**M** rules were abnormal").
    pub rules_abnormal: usize,
    /// Rules by status.
    pub rules_by_status: StatusCounts,
    /// Abnormal rules by their worst severity.
    pub abnormal_by_severity: SeverityCounts,
    /// One entry per check kind that has findings, in report order.
    pub kinds: Vec<KindSummary>,
    /// Every component some executed rule reads, sorted.
    pub components: Vec<String>,
}

/// Rules by [`FindingDoc::status`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatusCounts {
    /// Every row OK.
    pub ok: usize,
    /// At least one abnormal row.
    pub abnormal: usize,
    /// No abnormal row, at least one error.
    pub error: usize,
    /// Only nodata rows.
    pub nodata: usize,
}

impl StatusCounts {
    fn count(&mut self, status: RuleStatus) {
        match status {
            RuleStatus::Ok => self.ok += 1,
            RuleStatus::Abnormal => self.abnormal += 1,
            RuleStatus::Error => self.error += 1,
            RuleStatus::NoData => self.nodata += 1,
        }
    }
}

/// Abnormal rules by worst severity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SeverityCounts {
    /// Act now.
    pub critical: usize,
    /// Likely to cause trouble.
    pub warning: usize,
    /// Worth knowing.
    pub info: usize,
}

/// Counts for one check kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindSummary {
    /// `config`, `default_config`, `performance`, …
    pub kind: &'static str,
    /// Rules of this kind executed.
    pub rules_executed: usize,
    /// Rules of this kind abnormal (diag's "There were **K** abnormal results.").
    pub rules_abnormal: usize,
    /// Rules of this kind by status.
    pub rules_by_status: StatusCounts,
}

/// The result of one rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingDoc {
    /// What the rule says about itself.
    pub rule: RuleDoc,
    /// `ok`, `abnormal`, `error` or `nodata`.
    pub status: &'static str,
    /// Worst severity among abnormal rows, if any.
    pub worst: Option<&'static str>,
    /// Every row, normal ones too, in the order the engine produced them. Shared, so that
    /// templates read the rows where they are rather than a copy of each.
    pub rows: Arc<Vec<RowDoc>>,
}

/// Rule metadata as reports print it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleDoc {
    /// diag's numeric id (not unique).
    pub id: i64,
    /// The rule name (unique).
    pub name: String,
    /// Check kind.
    pub kind: &'static str,
    /// Components read, e.g. `tidb`.
    pub components: Vec<String>,
    /// What is printed as the variation, e.g. `TidbConfig.log.file.max-days`.
    pub variation: String,
    /// Severity of an abnormal row.
    pub severity: &'static str,
    /// Version constraint, empty for all versions.
    pub version: String,
    /// Knowledge-base link, may be empty.
    pub link: String,
    /// What it checks and why.
    pub description: String,
    /// What to do about an abnormal result.
    pub suggestion: String,
    /// Where the rule was loaded from.
    pub source: String,
}

/// One row of a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowDoc {
    /// diag's tag, e.g. `TidbConfig_172.20.21.213:4000`.
    pub tag: String,
    /// Instances the row is about.
    pub instances: Vec<InstanceDoc>,
    /// Values read.
    pub values: Vec<ValueDoc>,
    /// The values as diag prints them: `A:1,B:<nil>`.
    pub values_text: String,
    /// diag's state text: `OK`, `warning`, `info`, `critical`, `nodata`, `error`.
    pub state: &'static str,
    /// Why, for nodata and error rows (sometimes detail for abnormal ones).
    pub message: Option<String>,
    /// What a normal value looks like (`>= 1`, `not in [debug, trace]`), for declarative rules.
    pub expected: Option<String>,
    /// What the row rests on beyond its values (log lines, system file lines), the most telling
    /// first.
    pub evidence: Vec<EvidenceDoc>,
    /// For a row that stands for many matches: their count, first and last time, examples.
    pub aggregate: Option<AggregateDoc>,
    /// Metric rows: the series behind the value and its threshold (the HTML sparkline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<crate::engine::SeriesSketch>,
    /// For a `waived` row: its severity and the waiver's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<RowWaiverDoc>,
}

/// Many matches summarized in one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateDoc {
    /// How many entries matched.
    pub count: u64,
    /// Time of the first match, if the entries have times.
    pub first: Option<String>,
    /// Time of the last match, if the entries have times.
    pub last: Option<String>,
    /// A few of the matches, in order of appearance.
    pub examples: Vec<EvidenceDoc>,
}

/// An instance a row is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceDoc {
    /// Component, e.g. `pd`.
    pub component: String,
    /// Host or Pod IP.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// One value a rule read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueDoc {
    /// `<ConfigStruct>.<path>`.
    pub variation: String,
    /// The value as text; null when missing.
    pub value: Option<String>,
    /// Where it was read; null when missing.
    pub evidence: Option<EvidenceDoc>,
}

/// A place in the bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceDoc {
    /// Path inside the bundle.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// Relative link from the report directory to the file (`#L<line>` when the line is
    /// known), when the bundle is a directory beside the report ([`ReportDocument::link_bundle`]).
    pub href: Option<String>,
    /// When the cited entry happened, as the source wrote it, if it has a time.
    pub time: Option<String>,
    /// A short excerpt of the cited entry, if useful.
    pub excerpt: Option<String>,
}

fn evidence_doc(e: &Evidence) -> EvidenceDoc {
    EvidenceDoc {
        file: e.file.to_string(),
        line: e.line,
        href: None,
        time: e.time().map(str::to_owned),
        excerpt: e.excerpt().map(str::to_owned),
    }
}

/// Check kinds in the order reports present them: diag's config → performance → default config,
/// then the kinds diag never had.
pub const KIND_ORDER: [CheckKind; 7] = [
    CheckKind::Config,
    CheckKind::Performance,
    CheckKind::DefaultConfig,
    CheckKind::Log,
    CheckKind::System,
    CheckKind::Topology,
    CheckKind::Metric,
];

fn kind_rank(kind: CheckKind) -> usize {
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len())
}

fn status_str(status: RuleStatus) -> &'static str {
    match status {
        RuleStatus::Ok => "ok",
        RuleStatus::Abnormal => "abnormal",
        RuleStatus::Error => "error",
        RuleStatus::NoData => "nodata",
    }
}

impl ReportDocument {
    /// Builds the document for one check of one cluster.
    pub fn new(cluster: &Cluster, outcome: &CheckOutcome) -> ReportDocument {
        let mut findings: Vec<&Finding> = outcome.findings.iter().collect();
        // Stable: within a kind the engine's id-then-name order is kept.
        findings.sort_by_key(|f| kind_rank(f.rule.kind));

        let mut by_status = StatusCounts::default();
        let mut by_severity = SeverityCounts::default();
        let mut kinds: Vec<KindSummary> = Vec::new();
        for f in &findings {
            let status = f.status();
            by_status.count(status);
            match f.worst() {
                Some(Severity::Critical) => by_severity.critical += 1,
                Some(Severity::Warning) => by_severity.warning += 1,
                Some(Severity::Info) => by_severity.info += 1,
                None => {}
            }
            let kind = f.rule.kind.as_str();
            if kinds.last().is_none_or(|k| k.kind != kind) {
                kinds.push(KindSummary {
                    kind,
                    rules_executed: 0,
                    rules_abnormal: 0,
                    rules_by_status: StatusCounts::default(),
                });
            }
            if let Some(k) = kinds.last_mut() {
                k.rules_executed += 1;
                k.rules_abnormal += usize::from(status == RuleStatus::Abnormal);
                k.rules_by_status.count(status);
            }
        }

        let mut components: Vec<String> = findings
            .iter()
            .flat_map(|f| {
                f.rule
                    .components
                    .iter()
                    .map(|c| c.topology_key().to_owned())
            })
            .collect();
        components.sort();
        components.dedup();

        let location = cluster.source.location();
        let findings: Vec<FindingDoc> = findings.into_iter().map(finding_doc).collect();
        let errors = findings
            .iter()
            .flat_map(|f| {
                f.rows
                    .iter()
                    .filter(|r| r.state == RowState::Error.as_str())
                    .map(|r| ErrorDoc {
                        rule_id: f.rule.id,
                        rule_name: f.rule.name.clone(),
                        tag: r.tag.clone(),
                        message: r.message.clone().unwrap_or_default(),
                    })
            })
            .collect();
        ReportDocument {
            format: "diag-check-report",
            format_version: FORMAT_VERSION,
            engine: EngineInfo {
                name: "diag-check",
                version: env!("CARGO_PKG_VERSION"),
            },
            rule_set: RuleSetInfo {
                version: outcome.rule_set_version.clone(),
            },
            bundle: BundleInfo {
                name: file_name(location),
                kind: serde_json::to_value(cluster.source.kind())
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                href: None,
            },
            cluster: ClusterInfo {
                name: cluster.name.clone(),
                id: cluster.id.clone(),
                version: cluster.version.text.clone(),
                cluster_type: cluster.cluster_type.clone(),
                deploy_type: cluster.deploy_type.clone(),
                components: component_docs(cluster),
                instances: cluster
                    .instances
                    .iter()
                    .map(|i| ClusterInstanceDoc {
                        component: i.component.topology_key().to_owned(),
                        host: i.host.clone(),
                        port: i.port,
                        tag: i.tag(),
                        version: image_version(i),
                    })
                    .collect(),
            },
            sample: SampleInfo {
                id: cluster.sample.id.clone(),
                begin_time: cluster.sample.begin_time.clone(),
                end_time: cluster.sample.end_time.clone(),
                collectors: cluster.sample.collectors.clone(),
            },
            summary: Summary {
                rules_executed: findings.len(),
                rules_abnormal: by_status.abnormal,
                rules_by_status: by_status,
                abnormal_by_severity: by_severity,
                kinds,
                components,
            },
            findings,
            warnings: cluster.warnings.iter().map(warning_doc).collect(),
            errors,
            waivers: None,
            redacted: None,
            timeline: None,
        }
    }

    /// Records what applying waivers did ([`crate::waivers::WaiverSet::apply`] on the outcome
    /// this document was built from): the waived rows, expired and unused waivers.
    pub fn note_waivers(&mut self, report: &crate::waivers::WaiverReport) {
        let waived = self
            .findings
            .iter()
            .flat_map(|f| {
                f.rows.iter().filter_map(|r| {
                    let w = r.waiver.as_ref()?;
                    Some(WaivedRowDoc {
                        rule_id: f.rule.id,
                        rule_name: f.rule.name.clone(),
                        tag: r.tag.clone(),
                        values_text: r.values_text.clone(),
                        severity: w.severity,
                        reason: w.reason.clone(),
                        expires: w.expires.clone(),
                    })
                })
            })
            .collect();
        self.waivers = Some(WaiversDoc {
            waived,
            expired: report.expired.clone(),
            unused: report.unused.clone(),
        });
    }

    /// Links every evidence file to its place in the bundle, relative to the report directory
    /// `report_dir` (which need not exist yet). Only a directory bundle can be linked into, and
    /// only from a report directory inside it or beside it (anything else would reveal where
    /// things sit on disk); otherwise nothing changes.
    pub fn link_bundle(&mut self, cluster: &Cluster, report_dir: &Path) {
        if cluster.source.kind() != SourceKind::Directory {
            return;
        }
        let location = cluster.source.location();
        // Evidence paths are relative to the bundle root: the location itself unless the
        // bundle's files sit in a folder inside it.
        let rooted = self
            .findings
            .iter()
            .flat_map(|f| f.rows.iter())
            .flat_map(|r| &r.values)
            .find_map(|v| v.evidence.as_ref())
            .is_none_or(|e| location.join(&e.file).is_file());
        let Some(base) = rooted
            .then(|| relative_link(report_dir, location))
            .flatten()
        else {
            return;
        };
        let link = |file: &str, line: u32| {
            let anchor = if line > 0 {
                format!("#L{line}")
            } else {
                String::new()
            };
            format!("{base}{}{anchor}", url_path(file))
        };
        for row in self
            .findings
            .iter_mut()
            .flat_map(|f| Arc::make_mut(&mut f.rows).iter_mut())
        {
            let values = row.values.iter_mut().filter_map(|v| v.evidence.as_mut());
            let examples = row.aggregate.iter_mut().flat_map(|a| &mut a.examples);
            for e in values.chain(row.evidence.iter_mut()).chain(examples) {
                e.href = Some(link(&e.file, e.line));
            }
        }
        for w in &mut self.warnings {
            if let Some(file) = &w.file {
                w.href = Some(link(file, w.line.unwrap_or(0)));
            }
        }
        self.bundle.href = Some(base);
    }

    /// Findings whose status is `abnormal`.
    pub fn abnormal(&self) -> impl Iterator<Item = &FindingDoc> {
        self.findings.iter().filter(|f| f.status == "abnormal")
    }
}

/// `from` → `to` as a relative URL path ending in `/`, e.g. `../` from `<bundle>/report-x` to
/// `<bundle>`, `../diag-x/` from a report beside the bundle; `None` for any other placement.
/// Both are made absolute; `from` may not exist yet (its parent is resolved).
fn relative_link(from: &Path, to: &Path) -> Option<String> {
    let absolute = |p: &Path| -> Option<PathBuf> {
        if let Ok(c) = p.canonicalize() {
            return Some(c);
        }
        let parent = match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.canonicalize().ok()?,
            _ => std::env::current_dir().ok()?,
        };
        Some(parent.join(p.file_name()?))
    };
    let (from, to) = (absolute(from)?, absolute(to)?);
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    // Only a report inside the bundle or beside it is linked: a link that descends into other
    // folders would tell whoever reads the report how the machine's disk is laid out.
    if common == 0 || to.len() - common > 1 {
        return None;
    }
    let mut link = "../".repeat(from.len() - common);
    for part in &to[common..] {
        link.push_str(&url_path(&part.as_os_str().to_string_lossy()));
        link.push('/');
    }
    Some(link)
}

/// Percent-encodes what a URL path cannot hold as is; `/` stays a separator.
fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn component_docs(cluster: &Cluster) -> Vec<ComponentDoc> {
    let mut out: Vec<ComponentDoc> = Vec::new();
    let mut kinds: Vec<ComponentKind> = cluster.instances.iter().map(|i| i.component).collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        let members: Vec<&Instance> = cluster.instances_of(kind).collect();
        let mut versions: Vec<String> = members.iter().filter_map(|i| image_version(i)).collect();
        versions.sort();
        versions.dedup();
        out.push(ComponentDoc {
            component: kind.topology_key().to_owned(),
            name: kind.to_string(),
            instances: members.len(),
            versions,
        });
    }
    out
}

/// `v5.4.0` from an `image` attribute such as `pingcap/tikv:v5.4.0`.
fn image_version(instance: &Instance) -> Option<String> {
    let image = instance.attribute("image")?;
    let (repo, tag) = image.rsplit_once(':')?;
    (!tag.is_empty() && !tag.contains('/') && !repo.is_empty()).then(|| tag.to_owned())
}

fn warning_doc(w: &LoadError) -> WarningDoc {
    let line = match w {
        LoadError::Syntax { line, .. } | LoadError::Schema { line, .. } => {
            (*line > 0).then_some(*line)
        }
        _ => None,
    };
    WarningDoc {
        kind: w.kind(),
        file: w.file().map(str::to_owned),
        line,
        message: w.to_string(),
        href: None,
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn finding_doc(f: &Finding) -> FindingDoc {
    let r = &f.rule;
    FindingDoc {
        rule: RuleDoc {
            id: r.id,
            name: r.name.clone(),
            kind: r.kind.as_str(),
            components: r
                .components
                .iter()
                .map(|c| c.topology_key().to_owned())
                .collect(),
            variation: r.variation.clone(),
            severity: r.severity.as_str(),
            version: r.version.clone(),
            link: r.link.clone(),
            description: r.description.clone(),
            suggestion: r.suggestion.clone(),
            source: r.source.clone(),
        },
        status: status_str(f.status()),
        worst: f.worst().map(Severity::as_str),
        rows: Arc::new(f.rows.iter().map(row_doc).collect()),
    }
}

fn row_doc(row: &Row) -> RowDoc {
    RowDoc {
        tag: row.tag.to_string(),
        instances: row
            .instances
            .iter()
            .map(|i| InstanceDoc {
                component: i.component.topology_key().to_owned(),
                host: i.host.clone(),
                port: i.port,
            })
            .collect(),
        values: row
            .values
            .iter()
            .map(|v| ValueDoc {
                variation: v.variation.to_string(),
                value: v.value.as_deref().map(str::to_owned),
                evidence: v.evidence.as_ref().map(evidence_doc),
            })
            .collect(),
        values_text: row.values_display(),
        state: state_str(row.state),
        message: row.message.clone(),
        expected: row.expected.as_deref().map(str::to_owned),
        evidence: row.evidence.iter().map(evidence_doc).collect(),
        aggregate: row.aggregate.as_ref().map(|a| AggregateDoc {
            count: a.count,
            first: a.first.clone(),
            last: a.last.clone(),
            examples: a.examples.iter().map(evidence_doc).collect(),
        }),
        series: row.series.as_deref().cloned(),
        waiver: match (row.state, &row.waiver) {
            (RowState::Waived(severity), Some(w)) => Some(RowWaiverDoc {
                severity: severity.as_str(),
                reason: w.reason.clone(),
                expires: w.expires.clone(),
            }),
            _ => None,
        },
    }
}

fn state_str(state: RowState) -> &'static str {
    state.as_str()
}
