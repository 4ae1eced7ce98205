//! The checker for sources that are one parsed document per subject: a host's `sysctl.conf`,
//! `limits.conf` or `insight.json`, an instance's config file, PD's `store.json` and
//! `placement-rule.json`, `db_vars`, `alerts.json`, `tidbcluster.json`.
//!
//! Each document is parsed once (the model remembers it) and every rule reading it evaluates
//! the same tree, with the condition language of config rules: same coercions, and a missing
//! file or path is `nodata`, a value of the wrong type `error`.

use std::sync::Arc;

use rayon::prelude::*;

use super::finding::{Evidence, Row, RowState, ValueRead};
use super::{instance_refs, undecided};
use crate::model::data::{DataFile, DataKind};
use crate::model::value::{ConfigNode, ConfigTree, ConfigValue, Lookup};
use crate::model::{Cluster, Layout};
use crate::rules::condition::{Condition, ScriptHook, Undecided};
use crate::rules::script::{self, ScriptCluster};
use crate::rules::{DataSource, Rule};

/// One subject of a document rule: its tag, the instances it is about, and its document.
struct DocSubject<'a> {
    tag: String,
    instances: Vec<usize>,
    file: Option<&'a DataFile>,
    /// Said when there is no file.
    absent: String,
}

pub(super) fn rows(
    cluster: &Cluster,
    view: &ScriptCluster,
    rule: &Rule,
    condition: &Condition,
) -> Vec<Row> {
    subjects(cluster, rule)
        .into_par_iter()
        .map(|subject| {
            let (state, message, tree) = match subject.file.map(DataFile::shared_tree) {
                None => (RowState::NoData, Some(subject.absent.clone()), None),
                Some(Err(e)) => (
                    RowState::NoData,
                    Some(format!("`{}` unusable: {e}", e_file(&subject))),
                    None,
                ),
                Some(Ok(tree)) => {
                    let hook = DocHook {
                        view,
                        tuple: &subject.instances,
                        doc: &tree,
                    };
                    let (state, message) = match condition.eval(&tree.root, &hook) {
                        Ok(true) => (
                            RowState::Abnormal(rule.meta.severity),
                            rule.message
                                .as_deref()
                                .map(|m| super::facts::fill(m, &tree.root)),
                        ),
                        Ok(false) => (RowState::Ok, None),
                        Err(e) => {
                            let (state, message) = undecided(e);
                            (state, Some(message))
                        }
                    };
                    (state, message, Some(tree))
                }
            };
            let values = rule
                .variation
                .iter()
                .map(|item| {
                    let read = tree.as_ref().map(|t| (t, t.lookup(&item.path)));
                    let (value, evidence) = match read {
                        Some((t, Lookup::Present(n) | Lookup::Null(n))) => {
                            (Some(n.text()), Some(Evidence::at(t.file.clone(), n.line)))
                        }
                        _ => (None, None),
                    };
                    ValueRead {
                        variation: item.text.clone(),
                        value,
                        evidence,
                    }
                })
                .collect();
            let mut row = Row::new(
                subject.tag,
                instance_refs(cluster, &subject.instances),
                values,
                state,
                message,
            );
            if let (Some(tree), RowState::Abnormal(_)) = (&tree, state) {
                // The lines that make the row abnormal (a `limits.conf` entry found by `each`).
                let hook = DocHook {
                    view,
                    tuple: &subject.instances,
                    doc: tree,
                };
                let mut lines = Vec::new();
                matching_lines(condition, &tree.root, &hook, &mut lines);
                lines.sort_unstable();
                lines.dedup();
                row.evidence.extend(
                    lines
                        .into_iter()
                        .map(|l| Evidence::at(tree.file.clone(), l)),
                );
            }
            if let Some(file) = subject.file {
                // The document itself is evidence even when no value line is cited.
                row.evidence.push(Evidence::at(file.path.as_str(), 0));
            }
            row
        })
        .collect()
}

/// The lines of the values that make `condition` hold on `root`: for `each … any`, the
/// members that meet the inner condition; for a comparison, the value compared; nothing under
/// `not` (an absence has no line).
fn matching_lines(
    condition: &Condition,
    root: &ConfigNode,
    hook: &dyn ScriptHook,
    out: &mut Vec<u32>,
) {
    if condition.eval(root, hook) != Ok(true) {
        return;
    }
    match condition {
        Condition::Each {
            path,
            condition: inner,
            ..
        } => {
            let Some(node) = root.lookup(path).present() else {
                return;
            };
            let members: Vec<&ConfigNode> = match &node.value {
                ConfigValue::Array(items) => items.iter().collect(),
                ConfigValue::Map(map) => map.values().collect(),
                _ => Vec::new(),
            };
            for member in members {
                if inner.eval(member, hook) == Ok(true) {
                    out.push(member.line);
                    matching_lines(inner, member, hook, out);
                }
            }
        }
        Condition::AllOf(cs) | Condition::AnyOf(cs) => {
            cs.iter().for_each(|c| matching_lines(c, root, hook, out))
        }
        Condition::Not(_) | Condition::Rhai(_) | Condition::Differ { .. } => {}
        other => {
            for path in other.paths() {
                if let Some(n) = root.lookup(path).present()
                    && n.line > 0
                {
                    out.push(n.line);
                }
            }
        }
    }
}

fn e_file(subject: &DocSubject<'_>) -> String {
    subject.file.map(|f| f.path.clone()).unwrap_or_default()
}

/// The config file a rule reads of an instance, or what to say when it has none: the file the
/// rule names (`tiflash.toml` apart from `tiflash-learner.toml`), else the component's own
/// `<component>.toml`, else the instance's only config file under whatever name it has.
fn config_file<'a>(
    instance: &'a crate::model::Instance,
    named: Option<&str>,
) -> (Option<&'a DataFile>, String) {
    let own = format!("{}.toml", instance.component.topology_key());
    let wanted = named.unwrap_or(&own);
    let files: Vec<&DataFile> = instance.files_of(DataKind::ConfigFile).collect();
    let found = files
        .iter()
        .find(|f| f.path.rsplit('/').next() == Some(wanted))
        .or(match files.as_slice() {
            [only] if named.is_none() => Some(only),
            _ => None,
        })
        .copied();
    let absent = if files.is_empty() {
        format!("no config file under `{}/conf`", instance.dir)
    } else {
        format!("no `{wanted}` under `{}/conf`", instance.dir)
    };
    (found, absent)
}

/// The subjects of a source, in a stable order: hosts sorted by address, instances in bundle
/// order, one cluster row.
fn subjects<'a>(cluster: &'a Cluster, rule: &Rule) -> Vec<DocSubject<'a>> {
    let data = rule.data;
    match data {
        DataSource::System(file) => {
            let kind = file.data_kind();
            let name = file.file_name();
            let mut hosts: Vec<&str> = cluster.hosts.keys().map(String::as_str).collect();
            // Operator bundles have no host folders: their pod IPs are not hosts to report on.
            if cluster.layout != Layout::Operator {
                hosts.extend(cluster.instances.iter().map(|i| i.host.as_str()));
            }
            // Addresses in numeric order (…7.86 before …7.129), names after them.
            hosts.sort_unstable_by_key(|h| (h.parse::<std::net::IpAddr>().ok(), *h));
            hosts.dedup();
            hosts
                .into_iter()
                .map(|host| DocSubject {
                    tag: format!("Host_{host}"),
                    instances: (0..cluster.instances.len())
                        .filter(|&i| cluster.instances[i].host == host)
                        .collect(),
                    file: cluster
                        .hosts
                        .get(host)
                        .and_then(|files| files.iter().find(|f| f.kind == kind)),
                    absent: format!("no {name} collected for host {host}"),
                })
                .collect()
        }
        DataSource::ConfigFile => cluster
            .instances
            .iter()
            .enumerate()
            // An instance's config file is read for the rule's components only.
            .filter(|(_, instance)| {
                rule.meta.components.is_empty()
                    || rule.meta.components.contains(&instance.component)
            })
            .map(|(index, instance)| {
                let (file, absent) = config_file(instance, rule.conf_file.as_deref());
                DocSubject {
                    tag: instance.tag(),
                    instances: vec![index],
                    file,
                    absent,
                }
            })
            .collect(),
        DataSource::Store | DataSource::Placement => {
            let (kind, name) = if data == DataSource::Store {
                (DataKind::PdStores, "store.json")
            } else {
                (DataKind::PlacementRules, "placement-rule.json")
            };
            let found = cluster
                .instances
                .iter()
                .enumerate()
                .find_map(|(i, inst)| inst.files_of(kind).next().map(|f| (i, f)));
            vec![DocSubject {
                tag: "cluster".into(),
                instances: found.iter().map(|(i, _)| *i).collect(),
                file: found.map(|(_, f)| f),
                absent: format!("no PD {name} in the bundle"),
            }]
        }
        DataSource::DbVars | DataSource::Alerts | DataSource::Kubernetes => {
            let kind = data.data_kinds()[0];
            vec![DocSubject {
                tag: "cluster".into(),
                instances: Vec::new(),
                file: cluster.files_of(kind).next(),
                absent: format!("no {} data in the bundle", data.as_str()),
            }]
        }
        // Config rules run per tuple; logs, slow logs, metrics and facts in their own checkers.
        DataSource::Config
        | DataSource::Metric
        | DataSource::Facts(_)
        | DataSource::Log
        | DataSource::SlowLog => Vec::new(),
    }
}

struct DocHook<'a> {
    view: &'a ScriptCluster,
    tuple: &'a [usize],
    doc: &'a Arc<ConfigTree>,
}

impl ScriptHook for DocHook<'_> {
    fn eval_expression(&self, ast: &rhai::AST) -> Result<bool, Undecided> {
        script::eval_document_expression(ast, self.view, self.tuple, Arc::clone(self.doc))
    }
}
