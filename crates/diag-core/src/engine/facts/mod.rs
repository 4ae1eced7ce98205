//! The checker for `source: facts` rules: combiners that join several files into one document
//! per row (insights-core style), and the rule's declarative condition over that document.
//!
//! A combiner knows the bundle, never the rules: it builds, for each row (a host, a data dir,
//! a store, a component, the cluster), a map of facts and, for each fact, the file and line it
//! was read from. The rule says when the facts are abnormal (`abnormal_when`), what the row
//! prints (`variation`) and what it says (`message: "vm.swappiness = {vm.swappiness}, …"`).
//! Thresholds therefore live in the rule files; the combiners only gather and derive. The
//! fields of each document are listed in `rules/FACTS.md`.
//!
//! Every combiner reads each file once per rule and is linear in what it reads (drift is
//! keys × instances, never instance pairs).

mod cluster;
mod host;

use std::sync::Arc;

use super::finding::{Evidence, Row, RowState, ValueRead};
use super::{instance_refs, undecided};
use crate::model::value::{ConfigMap, ConfigNode, ConfigTree, ConfigValue, Lookup};
use crate::model::{Cluster, Layout};
use crate::rules::condition::{Condition, ScriptHook, Undecided};
use crate::rules::script::{self, ScriptCluster};
use crate::rules::{FactSet, Rule};

/// The facts of one row: its tag, the instances it is about, its document, and where each
/// fact was read.
pub(super) struct Facts {
    tag: String,
    instances: Vec<usize>,
    doc: ConfigMap,
    /// `(fact path, evidence)`, in the order the facts were gathered.
    cites: Vec<(String, Evidence)>,
    /// Why facts a rule reads may be missing (said instead of the bare missing path).
    absent: Option<String>,
}

impl Facts {
    fn new(tag: impl Into<String>, instances: Vec<usize>) -> Facts {
        Facts {
            tag: tag.into(),
            instances,
            doc: ConfigMap::new(),
            cites: Vec::new(),
            absent: None,
        }
    }

    /// Sets the fact at dotted `path` (maps are created on the way).
    fn put(&mut self, path: &str, value: ConfigValue) {
        put(&mut self.doc, path, value);
    }

    /// Records that the fact at `path` was read at `file:line`.
    fn cite(&mut self, path: &str, file: &Arc<str>, line: u32) {
        let evidence = Evidence::at(file.clone(), line);
        if !self.cites.iter().any(|(p, e)| p == path && *e == evidence) {
            self.cites.push((path.to_string(), evidence));
        }
    }

    /// Copies the value at `from` of `tree` to the fact `path`, citing its line; the node when
    /// it is there.
    fn copy<'t>(&mut self, path: &str, tree: &'t ConfigTree, from: &str) -> Option<&'t ConfigNode> {
        let node = tree.lookup(from).present()?;
        self.put(path, node.value.clone());
        self.cite(path, &tree.file, node.line);
        Some(node)
    }
}

fn put(map: &mut ConfigMap, path: &str, value: ConfigValue) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_string(), ConfigNode::new(value));
        }
        Some((head, rest)) => {
            let node = map
                .get_or_insert_with(head, || ConfigNode::new(ConfigValue::Map(ConfigMap::new())));
            if !matches!(node.value, ConfigValue::Map(_)) {
                node.value = ConfigValue::Map(ConfigMap::new());
            }
            if let ConfigValue::Map(inner) = &mut node.value {
                put(inner, rest, value);
            }
        }
    }
}

/// A string fact.
fn text(s: impl Into<String>) -> ConfigValue {
    ConfigValue::String(s.into())
}

/// A list of string facts.
fn texts<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> ConfigValue {
    ConfigValue::Array(
        items
            .into_iter()
            .map(|s| ConfigNode::new(text(s)))
            .collect(),
    )
}

/// A count fact.
fn count(n: usize) -> ConfigValue {
    ConfigValue::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Hosts of a TiUP or manual bundle (host folders and instance hosts), addresses in numeric
/// order then names; none for an Operator bundle, whose pod IPs are not hosts.
pub(super) fn hosts(cluster: &Cluster) -> Vec<&str> {
    if cluster.layout == Layout::Operator {
        return Vec::new();
    }
    let mut hosts: Vec<&str> = cluster.hosts.keys().map(String::as_str).collect();
    hosts.extend(cluster.instances.iter().map(|i| i.host.as_str()));
    hosts.sort_unstable_by_key(|h| (h.parse::<std::net::IpAddr>().ok(), *h));
    hosts.dedup();
    hosts
}

/// The documents of one combiner (`allow`: drift's allowlist).
fn gather(cluster: &Cluster, set: FactSet, allow: &[String]) -> Vec<Facts> {
    match set {
        FactSet::Host => host::hosts(cluster),
        FactSet::DataDir => host::data_dirs(cluster),
        FactSet::HostData => host::host_data(cluster),
        FactSet::Store => cluster::stores(cluster),
        FactSet::Replication => cluster::replication(cluster),
        FactSet::Versions => cluster::versions(cluster),
        FactSet::Shape => cluster::shape(cluster),
        FactSet::Drift => cluster::drift(cluster, allow),
        FactSet::Kubernetes => cluster::kubernetes(cluster),
    }
}

/// One combiner document, as a state another rule requires (`requires:` of a log rule) reads it.
pub(in crate::engine) struct StateDoc {
    /// The row tag the facts rule would print (`Store_7`, `cluster`).
    pub(in crate::engine) tag: String,
    /// The instances it is about (a store: the instances at its address).
    pub(in crate::engine) instances: Vec<usize>,
    /// The facts.
    pub(in crate::engine) root: ConfigNode,
    /// Why facts may be missing (the combiner's file is unusable).
    pub(in crate::engine) absent: Option<String>,
    cites: Vec<(String, Evidence)>,
}

impl StateDoc {
    /// Where the facts at `paths` were read.
    pub(in crate::engine) fn cited(&self, paths: &[&str]) -> Vec<Evidence> {
        let mut out: Vec<Evidence> = Vec::new();
        for path in paths {
            for (p, e) in &self.cites {
                if related(p, path) && !out.contains(e) {
                    out.push(e.clone());
                }
            }
        }
        out
    }
}

/// Every document of a combiner, for states other rules require; empty when its files are absent.
pub(in crate::engine) fn state_documents(cluster: &Cluster, set: FactSet) -> Vec<StateDoc> {
    gather(cluster, set, &[])
        .into_iter()
        .map(|f| StateDoc {
            tag: f.tag,
            instances: f.instances,
            root: ConfigNode::new(ConfigValue::Map(f.doc)),
            absent: f.absent,
            cites: f.cites,
        })
        .collect()
}

pub(super) fn rows(
    cluster: &Cluster,
    view: &ScriptCluster,
    rule: &Rule,
    condition: &Condition,
    set: FactSet,
) -> Vec<Row> {
    let facts = gather(cluster, set, &rule.allow);
    let mut read: Vec<&str> = Vec::new();
    super::groups::every_path(condition, &mut read);
    read.extend(rule.variation.iter().map(|v| v.path.as_str()));
    let placeholders = rule
        .message
        .as_deref()
        .map(placeholders)
        .unwrap_or_default();
    read.extend(placeholders.iter().copied());
    facts
        .into_iter()
        .map(|f| decide(cluster, view, rule, condition, &read, f))
        .collect()
}

fn decide(
    cluster: &Cluster,
    view: &ScriptCluster,
    rule: &Rule,
    condition: &Condition,
    read: &[&str],
    facts: Facts,
) -> Row {
    let doc = Arc::new(ConfigTree {
        file: Arc::from("facts"),
        root: ConfigNode::new(ConfigValue::Map(facts.doc)),
    });
    let hook = FactsHook {
        view,
        tuple: &facts.instances,
        doc: &doc,
    };
    let (state, message) = match condition.eval(&doc.root, &hook) {
        Ok(true) => (
            RowState::Abnormal(rule.meta.severity),
            rule.message.as_deref().map(|m| fill(m, &doc.root)),
        ),
        Ok(false) => (RowState::Ok, None),
        Err(Undecided::Missing(m)) if facts.absent.is_some() => {
            (RowState::NoData, facts.absent.clone().or(Some(m)))
        }
        Err(e) => {
            let (state, message) = undecided(e);
            (state, Some(message))
        }
    };
    let cites = &facts.cites;
    let cited = |path: &str| -> Vec<Evidence> {
        cites
            .iter()
            .filter(|(p, _)| related(p, path))
            .map(|(_, e)| e.clone())
            .collect()
    };
    let values = rule
        .variation
        .iter()
        .map(|item| {
            let value = match doc.root.lookup(&item.path) {
                Lookup::Present(n) | Lookup::Null(n) => Some(n.text()),
                Lookup::Missing => None,
            };
            ValueRead {
                variation: item.text.clone(),
                evidence: value
                    .as_ref()
                    .and_then(|_| cited(&item.path).into_iter().next()),
                value,
            }
        })
        .collect();
    let mut row = Row::new(
        facts.tag.clone(),
        instance_refs(cluster, &facts.instances),
        values,
        state,
        message,
    );
    for path in read {
        for evidence in cited(path) {
            if !row.evidence.contains(&evidence) {
                row.evidence.push(evidence);
            }
        }
    }
    row
}

/// Whether a fact cited at `cite` is part of what reading `path` sees (the same fact, a fact
/// inside it, or the map that holds it).
fn related(cite: &str, path: &str) -> bool {
    let inside =
        |a: &str, b: &str| a.len() > b.len() && a.starts_with(b) && a.as_bytes()[b.len()] == b'.';
    cite == path || inside(cite, path) || inside(path, cite) || path.is_empty()
}

/// The `{path}` placeholders of a message template.
fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(after[..close].trim());
        rest = &after[close + 1..];
    }
    out
}

/// `template` with each `{path}` replaced by the value at `path` of `root` (`<nil>` when
/// missing; lists are joined with `, `).
pub(super) fn fill(template: &str, root: &ConfigNode) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push_str(&rest[..open]);
        let path = after[..close].trim();
        match root.lookup(path) {
            Lookup::Present(n) => match &n.value {
                ConfigValue::Array(items) => out.push_str(
                    &items
                        .iter()
                        .map(ConfigNode::to_text)
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                _ => out.push_str(&n.to_text()),
            },
            _ => out.push_str("<nil>"),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

struct FactsHook<'a> {
    view: &'a ScriptCluster,
    tuple: &'a [usize],
    doc: &'a Arc<ConfigTree>,
}

impl ScriptHook for FactsHook<'_> {
    fn eval_expression(&self, ast: &rhai::AST) -> Result<bool, Undecided> {
        script::eval_document_expression(ast, self.view, self.tuple, Arc::clone(self.doc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fill_placeholders_from_the_document() {
        let mut map = ConfigMap::new();
        put(&mut map, "vm.swappiness", ConfigValue::Int(60));
        put(&mut map, "dirs", texts(["a", "b"]));
        let root = ConfigNode::new(ConfigValue::Map(map));
        assert_eq!(
            fill(
                "vm.swappiness = {vm.swappiness}, should be 0 ({dirs}; {nope})",
                &root
            ),
            "vm.swappiness = 60, should be 0 (a, b; <nil>)"
        );
        assert_eq!(placeholders("{a} and { b.c }"), ["a", "b.c"]);
    }

    #[test]
    fn a_cite_relates_to_the_fact_its_parent_and_its_children() {
        assert!(related("memory.size_mb", "memory.size_mb"));
        assert!(related("memory.size_mb", "memory"));
        assert!(related("memory", "memory.size_mb"));
        assert!(!related("memory.size_mb", "memory.size"));
    }
}
