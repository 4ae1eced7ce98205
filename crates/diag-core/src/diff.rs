//! Bundle against bundle: what changed in one cluster between two collections (before and
//! after an upgrade or a change). Findings are matched by their stable row key
//! ([`crate::engine::Row::key`]); configs per instance (component, host, port); topology by the
//! instances present.
//!
//! - `new`: a row abnormal after that was not abnormal (or absent) before;
//! - `resolved`: a row abnormal before that is not abnormal (or absent) after;
//! - `changed`: any other row present in both whose state or values differ.
//!
//! ```no_run
//! use diag_core::{Cluster, diff::BundleDiff, engine, rules::RuleSet};
//! let (rules, options) = (RuleSet::builtin(), engine::CheckOptions::default());
//! let before = Cluster::open("before".as_ref()).unwrap();
//! let after = Cluster::open("after".as_ref()).unwrap();
//! let diff = BundleDiff::between(
//!     &before, &engine::check(&before, &rules, &options),
//!     &after, &engine::check(&after, &rules, &options),
//! );
//! print!("{}", diff.to_text());
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Cluster;
use crate::engine::{CheckOutcome, Finding, Row, RowState};
use crate::model::value::{ConfigNode, ConfigValue};
use crate::model::{ComponentKind, Instance};
use crate::rules::Severity;

/// Everything that differs between two bundles of one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct BundleDiff {
    /// The earlier bundle.
    pub before: SideInfo,
    /// The later bundle.
    pub after: SideInfo,
    /// Rows abnormal now and not before, in the later bundle's report order.
    pub new: Vec<RowChange>,
    /// Rows abnormal before and not now, in the earlier bundle's report order.
    pub resolved: Vec<RowChange>,
    /// Other rows in both whose state or values differ.
    pub changed: Vec<RowChange>,
    /// Config values that differ per instance present in both, by instance then path.
    pub config_changes: Vec<ConfigChange>,
    /// The cluster version and instance versions that differ.
    pub version_changes: Vec<VersionChange>,
    /// Instances only in the later bundle (`component host:port`).
    pub instances_added: Vec<String>,
    /// Instances only in the earlier bundle.
    pub instances_removed: Vec<String>,
}

/// Which bundle a side is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideInfo {
    /// Cluster name.
    pub cluster: String,
    /// Cluster id.
    pub cluster_id: String,
    /// Cluster version.
    pub version: String,
    /// Sample id.
    pub sample: String,
    /// Start of the sample window.
    pub begin_time: String,
}

/// A rule, as a diff names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    /// diag's numeric id.
    pub id: i64,
    /// The unique name.
    pub name: String,
}

/// One side of a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowSide {
    /// The state text (`OK`, `warning`, `nodata`, `waived`, …).
    pub state: &'static str,
    /// The values as diag prints them.
    pub values: String,
}

/// A row that is new, resolved or changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowChange {
    /// Its rule.
    pub rule: RuleRef,
    /// The stable row key.
    pub key: String,
    /// `host:port` of the instances involved, joined by `,` (empty for cluster-wide rows).
    pub instance: String,
    /// The row in the earlier bundle, if it has one.
    pub before: Option<RowSide>,
    /// The row in the later bundle, if it has one.
    pub after: Option<RowSide>,
    /// The severity of the abnormal side (after for new, before for resolved), if any.
    pub severity: Option<Severity>,
}

/// A config value that differs on one instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigChange {
    /// Topology key (`tidb`).
    pub component: String,
    /// `host:port`.
    pub instance: String,
    /// Dotted path (`log.file.max-days`).
    pub path: String,
    /// The earlier value; `None` when the key is new.
    pub before: Option<String>,
    /// The later value; `None` when the key is gone.
    pub after: Option<String>,
}

/// A version that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionChange {
    /// `cluster`, or `component host:port`.
    pub subject: String,
    /// The earlier version.
    pub before: Option<String>,
    /// The later version.
    pub after: Option<String>,
}

fn side_info(c: &Cluster) -> SideInfo {
    SideInfo {
        cluster: c.name.clone(),
        cluster_id: c.id.clone(),
        version: c.version.text.clone(),
        sample: c.sample.id.clone(),
        begin_time: c.sample.begin_time.clone(),
    }
}

fn is_abnormal(row: &Row) -> Option<Severity> {
    match row.state {
        RowState::Abnormal(s) => Some(s),
        _ => None,
    }
}

fn row_side(row: &Row) -> RowSide {
    RowSide {
        state: row.state.as_str(),
        values: row.values_display(),
    }
}

fn instance_text(row: &Row) -> String {
    row.instances
        .iter()
        .map(|i| format!("{}:{}", i.host, i.port))
        .collect::<Vec<_>>()
        .join(",")
}

fn rows(outcome: &CheckOutcome) -> impl Iterator<Item = (&Finding, &Row)> {
    outcome
        .findings
        .iter()
        .flat_map(|f| f.rows.iter().map(move |r| (f, r)))
}

/// A row's identity, [`Row::key`]'s parts: rule id, rule name, tag.
type RowKey<'a> = (i64, &'a str, &'a str);

fn row_key<'a>(f: &'a Finding, row: &'a Row) -> RowKey<'a> {
    (f.rule.id, &f.rule.name, &row.tag)
}

fn change(f: &Finding, row: &Row, before: Option<&Row>, after: Option<&Row>) -> RowChange {
    let severity = after
        .and_then(is_abnormal)
        .or_else(|| before.and_then(is_abnormal));
    RowChange {
        rule: RuleRef {
            id: f.rule.id,
            name: f.rule.name.clone(),
        },
        key: row.key(&f.rule),
        instance: instance_text(row),
        before: before.map(row_side),
        after: after.map(row_side),
        severity,
    }
}

type InstanceKey = (ComponentKind, String, u16);

fn instance_key(i: &Instance) -> InstanceKey {
    (i.component, i.host.clone(), i.port)
}

fn instance_name(i: &Instance) -> String {
    format!("{} {}:{}", i.component.topology_key(), i.host, i.port)
}

/// `v5.4.0` from an `image` attribute such as `pingcap/tikv:v5.4.0`.
fn image_version(i: &Instance) -> Option<String> {
    let (_, tag) = i.attribute("image")?.rsplit_once(':')?;
    (!tag.is_empty() && !tag.contains('/')).then(|| tag.to_owned())
}

/// Leaves of a config tree as `path → text`; arrays are leaves (printed as reports print them).
fn flatten(node: &ConfigNode, prefix: &str, out: &mut BTreeMap<String, String>) {
    match &node.value {
        ConfigValue::Map(map) if !map.is_empty() => {
            for (k, v) in map.iter() {
                let path = if prefix.is_empty() {
                    k.to_owned()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, &path, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned(), node.to_text());
        }
    }
}

fn config_leaves(i: &Instance) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(tree) = i.config.tree() {
        flatten(&tree.root, "", &mut out);
    }
    out
}

impl BundleDiff {
    /// Compares `before` (with its check outcome) to `after`.
    pub fn between(
        before: &Cluster,
        before_outcome: &CheckOutcome,
        after: &Cluster,
        after_outcome: &CheckOutcome,
    ) -> BundleDiff {
        let old: BTreeMap<RowKey<'_>, &Row> = rows(before_outcome)
            .map(|(f, r)| (row_key(f, r), r))
            .collect();
        let now: BTreeMap<RowKey<'_>, &Row> = rows(after_outcome)
            .map(|(f, r)| (row_key(f, r), r))
            .collect();
        let (mut new, mut changed, mut resolved) = (Vec::new(), Vec::new(), Vec::new());
        for (f, row) in rows(after_outcome) {
            let prior = old.get(&row_key(f, row)).copied();
            let was = prior.and_then(is_abnormal).is_some();
            if is_abnormal(row).is_some() && !was {
                new.push(change(f, row, prior, Some(row)));
            } else if let Some(prior) = prior {
                let moved =
                    prior.state != row.state || prior.values_display() != row.values_display();
                if moved && !(was && is_abnormal(row).is_none()) {
                    changed.push(change(f, row, Some(prior), Some(row)));
                }
            }
        }
        for (f, row) in rows(before_outcome) {
            if is_abnormal(row).is_some() {
                let later = now.get(&row_key(f, row)).copied();
                if later.and_then(is_abnormal).is_none() {
                    resolved.push(change(f, row, Some(row), later));
                }
            }
        }

        let old_instances: BTreeMap<InstanceKey, &Instance> = before
            .instances
            .iter()
            .map(|i| (instance_key(i), i))
            .collect();
        let new_keys: std::collections::BTreeSet<InstanceKey> =
            after.instances.iter().map(instance_key).collect();
        let mut config_changes = Vec::new();
        let mut version_changes = Vec::new();
        if before.version.text != after.version.text {
            version_changes.push(VersionChange {
                subject: "cluster".into(),
                before: Some(before.version.text.clone()),
                after: Some(after.version.text.clone()),
            });
        }
        let mut instances_added = Vec::new();
        for i in &after.instances {
            let Some(prior) = old_instances.get(&instance_key(i)) else {
                instances_added.push(instance_name(i));
                continue;
            };
            let (was, is) = (image_version(prior), image_version(i));
            if was != is {
                version_changes.push(VersionChange {
                    subject: instance_name(i),
                    before: was,
                    after: is,
                });
            }
            let (a, b) = (config_leaves(prior), config_leaves(i));
            let paths: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for path in paths {
                let (x, y) = (a.get(path), b.get(path));
                if x != y {
                    config_changes.push(ConfigChange {
                        component: i.component.topology_key().to_owned(),
                        instance: format!("{}:{}", i.host, i.port),
                        path: path.clone(),
                        before: x.cloned(),
                        after: y.cloned(),
                    });
                }
            }
        }
        let instances_removed = before
            .instances
            .iter()
            .filter(|i| !new_keys.contains(&instance_key(i)))
            .map(instance_name)
            .collect();

        BundleDiff {
            before: side_info(before),
            after: side_info(after),
            new,
            resolved,
            changed,
            config_changes,
            version_changes,
            instances_added,
            instances_removed,
        }
    }

    /// Whether a new abnormal row reaches `threshold` (for `--fail-on`).
    pub fn fails_on(&self, threshold: Severity) -> bool {
        self.new
            .iter()
            .any(|c| c.severity.is_some_and(|s| s >= threshold))
    }

    /// The diff as pretty JSON (with a trailing newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The diff as plain text, one section per kind of change.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        out.push_str("# Bundle Diff\n");
        out.push_str(&format!(
            "before: {} {} {} ({})\nafter:  {} {} {} ({})\n",
            self.before.cluster,
            self.before.version,
            self.before.sample,
            self.before.begin_time,
            self.after.cluster,
            self.after.version,
            self.after.sample,
            self.after.begin_time
        ));
        let side = |s: &Option<RowSide>| {
            s.as_ref()
                .map_or("-".to_owned(), |s| format!("{} {}", s.values, s.state))
        };
        for (title, list) in [
            ("New", &self.new),
            ("Resolved", &self.resolved),
            ("Changed", &self.changed),
        ] {
            out.push_str(&format!("\n## {title} ({})\n", list.len()));
            for c in list {
                out.push_str(&format!(
                    "  {} {}   {}   {} -> {}\n",
                    c.rule.id,
                    c.rule.name,
                    row_tag(&c.key),
                    side(&c.before),
                    side(&c.after)
                ));
            }
        }
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "<none>".into());
        out.push_str(&format!(
            "\n## Config changes ({})\n",
            self.config_changes.len()
        ));
        for c in &self.config_changes {
            out.push_str(&format!(
                "  {} {}   {}   {} -> {}\n",
                c.component,
                c.instance,
                c.path,
                opt(&c.before),
                opt(&c.after)
            ));
        }
        out.push_str(&format!(
            "\n## Versions and topology ({})\n",
            self.version_changes.len() + self.instances_added.len() + self.instances_removed.len()
        ));
        for v in &self.version_changes {
            out.push_str(&format!(
                "  {}   {} -> {}\n",
                v.subject,
                opt(&v.before),
                opt(&v.after)
            ));
        }
        for i in &self.instances_added {
            out.push_str(&format!("  added   {i}\n"));
        }
        for i in &self.instances_removed {
            out.push_str(&format!("  removed   {i}\n"));
        }
        out
    }

    /// The diff as Markdown tables.
    pub fn to_markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('`', "'");
        let side = |s: &Option<RowSide>| {
            s.as_ref().map_or("—".to_owned(), |s| {
                format!("`{}` {}", cell(&s.values), s.state)
            })
        };
        let mut out = format!(
            "# Bundle diff: {} {} → {} {}\n",
            cell(&self.before.cluster),
            cell(&self.before.sample),
            cell(&self.after.cluster),
            cell(&self.after.sample)
        );
        for (title, list) in [
            ("New", &self.new),
            ("Resolved", &self.resolved),
            ("Changed", &self.changed),
        ] {
            out.push_str(&format!("\n## {title} ({})\n", list.len()));
            if list.is_empty() {
                continue;
            }
            out.push_str("\n| Rule | Subject | Before | After |\n|---|---|---|---|\n");
            for c in list {
                out.push_str(&format!(
                    "| {} `{}` | `{}` | {} | {} |\n",
                    c.rule.id,
                    cell(&c.rule.name),
                    cell(row_tag(&c.key)),
                    side(&c.before),
                    side(&c.after)
                ));
            }
        }
        let opt = |v: &Option<String>| {
            v.as_ref()
                .map_or("—".to_owned(), |v| format!("`{}`", cell(v)))
        };
        out.push_str(&format!(
            "\n## Config changes ({})\n",
            self.config_changes.len()
        ));
        if !self.config_changes.is_empty() {
            out.push_str("\n| Instance | Path | Before | After |\n|---|---|---|---|\n");
            for c in &self.config_changes {
                out.push_str(&format!(
                    "| {} `{}` | `{}` | {} | {} |\n",
                    c.component,
                    cell(&c.instance),
                    cell(&c.path),
                    opt(&c.before),
                    opt(&c.after)
                ));
            }
        }
        let topology: Vec<String> = self
            .version_changes
            .iter()
            .map(|v| {
                format!(
                    "- {}: {} → {}\n",
                    cell(&v.subject),
                    opt(&v.before),
                    opt(&v.after)
                )
            })
            .chain(
                self.instances_added
                    .iter()
                    .map(|i| format!("- added: {}\n", cell(i))),
            )
            .chain(
                self.instances_removed
                    .iter()
                    .map(|i| format!("- removed: {}\n", cell(i))),
            )
            .collect();
        out.push_str(&format!(
            "\n## Versions and topology ({})\n",
            topology.len()
        ));
        if !topology.is_empty() {
            out.push('\n');
            topology.iter().for_each(|l| out.push_str(l));
        }
        out
    }
}

/// The tag part of a row key (`<id>/<name>/<tag>`).
fn row_tag(key: &str) -> &str {
    key.splitn(3, '/').nth(2).unwrap_or(key)
}
