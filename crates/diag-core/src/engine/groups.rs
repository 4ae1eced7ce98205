//! The checker for config rules about a group rather than one instance (`subject: component`
//! or `subject: cluster`): every instance of a component at once, e.g. "all TiKV agree on
//! `storage.block-cache.capacity`" (`{differ: storage.block-cache.capacity}`).
//!
//! A group is evaluated once, never as a cross product: a rule over 1,000 TiKV and 3 PD reads
//! 1,003 configs, not 3,000 tuples. The condition sees a map `host:port` → the values it reads
//! (`subject: component`), or component struct → such a map (`subject: cluster`); only the
//! paths the rule reads are taken from each config, so a group costs what the rule reads.

use super::finding::{Evidence, Row, RowState, ValueRead};
use super::{instance_refs, undecided};
use crate::model::value::{ConfigMap, ConfigNode, ConfigValue, Lookup};
use crate::model::{Cluster, ComponentKind, InstanceConfig};
use crate::rules::condition::{Condition, ScriptHook, Undecided};
use crate::rules::script::{self, ScriptCluster};
use crate::rules::{Rule, Subject};

pub(super) fn rows(
    cluster: &Cluster,
    view: &ScriptCluster,
    rule: &Rule,
    condition: &Condition,
) -> Vec<Row> {
    let mut paths: Vec<&str> = Vec::new();
    every_path(condition, &mut paths);
    paths.extend(rule.variation.iter().map(|v| v.path.as_str()));
    paths.retain(|p| !p.is_empty());
    paths.sort_unstable();
    paths.dedup();
    match rule.subject {
        Subject::Cluster => {
            let members: Vec<usize> = rule
                .meta
                .components
                .iter()
                .flat_map(|&k| loaded(cluster, k))
                .collect();
            let mut root = ConfigMap::new();
            for &kind in &rule.meta.components {
                root.insert(
                    kind.config_struct().to_string(),
                    group(cluster, &loaded(cluster, kind), &paths),
                );
            }
            let root = ConfigNode::new(ConfigValue::Map(root));
            vec![decide(
                cluster,
                view,
                rule,
                condition,
                "cluster".into(),
                &members,
                &root,
            )]
        }
        _ => rule
            .meta
            .components
            .iter()
            .map(|&kind| {
                let members = loaded(cluster, kind);
                let root = group(cluster, &members, &paths);
                decide(
                    cluster,
                    view,
                    rule,
                    condition,
                    kind.config_struct().to_string(),
                    &members,
                    &root,
                )
            })
            .collect(),
    }
}

/// Instances of `kind` with a loaded config, in bundle order.
fn loaded(cluster: &Cluster, kind: ComponentKind) -> Vec<usize> {
    (0..cluster.instances.len())
        .filter(|&i| {
            let instance = &cluster.instances[i];
            instance.component == kind && matches!(instance.config, InstanceConfig::Loaded(_))
        })
        .collect()
}

/// `host:port` → the values at `paths` of each member (keys are the paths as written; lookups
/// join dotted segments, so `storage.block-cache.capacity` finds them).
fn group(cluster: &Cluster, members: &[usize], paths: &[&str]) -> ConfigNode {
    let mut map = ConfigMap::new();
    for &i in members {
        let instance = &cluster.instances[i];
        let Some(tree) = instance.config.tree() else {
            continue;
        };
        let mut picked = ConfigMap::new();
        for path in paths {
            if let Lookup::Present(node) | Lookup::Null(node) = tree.lookup(path) {
                picked.insert((*path).to_string(), node.clone());
            }
        }
        map.insert(
            instance.address(),
            ConfigNode::new(ConfigValue::Map(picked)),
        );
    }
    ConfigNode::new(ConfigValue::Map(map))
}

fn decide(
    cluster: &Cluster,
    view: &ScriptCluster,
    rule: &Rule,
    condition: &Condition,
    tag: String,
    members: &[usize],
    root: &ConfigNode,
) -> Row {
    let (state, message) = if members.is_empty() {
        (
            RowState::NoData,
            Some(format!(
                "no instance of {} has a loaded config",
                rule.meta
                    .components
                    .iter()
                    .map(|k| k.config_struct())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        )
    } else {
        match condition.eval(root, &GroupHook { view, members }) {
            Ok(true) => (RowState::Abnormal(rule.meta.severity), None),
            Ok(false) => (RowState::Ok, None),
            Err(e) => {
                let (state, message) = undecided(e);
                (state, Some(message))
            }
        }
    };
    let values = rule
        .variation
        .iter()
        .map(|item| distinct_values(cluster, members, item.component, &item.path, &item.text))
        .collect();
    Row::new(tag, instance_refs(cluster, members), values, state, message)
}

/// One value read over a group: its distinct values in order of first appearance, with how
/// many members hold each when they differ (`8GiB×2|16GiB×1`); evidence is the first member's.
fn distinct_values(
    cluster: &Cluster,
    members: &[usize],
    component: Option<ComponentKind>,
    path: &str,
    text: &std::sync::Arc<str>,
) -> ValueRead {
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut evidence = None;
    for &i in members {
        let instance = &cluster.instances[i];
        if component.is_some_and(|k| k != instance.component) {
            continue;
        }
        let Some(tree) = instance.config.tree() else {
            continue;
        };
        if let Lookup::Present(n) | Lookup::Null(n) = tree.lookup(path) {
            let value = n.to_text();
            evidence.get_or_insert_with(|| Evidence::at(tree.file.clone(), n.line));
            match seen.iter_mut().find(|(v, _)| *v == value) {
                Some((_, count)) => *count += 1,
                None => seen.push((value, 1)),
            }
        }
    }
    let value = match seen.as_slice() {
        [] => None,
        [(one, _)] => Some(one.clone()),
        many => Some(
            many.iter()
                .map(|(v, n)| format!("{v}×{n}"))
                .collect::<Vec<_>>()
                .join("|"),
        ),
    };
    ValueRead {
        variation: text.clone(),
        value: value.map(Into::into),
        evidence,
    }
}

/// Every path a condition reads, at any depth (inside `each` too).
pub(super) fn every_path<'a>(condition: &'a Condition, out: &mut Vec<&'a str>) {
    match condition {
        Condition::Each {
            path, condition, ..
        } => {
            out.push(path);
            every_path(condition, out);
        }
        Condition::AllOf(cs) | Condition::AnyOf(cs) => cs.iter().for_each(|c| every_path(c, out)),
        Condition::Not(c) => every_path(c, out),
        other => out.extend(other.paths()),
    }
}

struct GroupHook<'a> {
    view: &'a ScriptCluster,
    members: &'a [usize],
}

impl ScriptHook for GroupHook<'_> {
    fn eval_expression(&self, ast: &rhai::AST) -> Result<bool, Undecided> {
        script::eval_expression(ast, self.view, self.members)
    }
}
