//! The states a log rule requires beside its signal (`requires:`): the subject instance's
//! runtime config, the stores of PD's `store.json` at its address (the `store` facts), the
//! cluster's shape (the `shape` facts). Each is read with the condition language of the other
//! sources; a state that cannot be read is said, never taken as holding.

use std::sync::OnceLock;

use super::facts::{self, StateDoc};
use super::finding::Evidence;
use crate::model::value::{ConfigNode, Lookup};
use crate::model::{Cluster, InstanceConfig};
use crate::rules::condition::{Condition, ScriptHook, Undecided};
use crate::rules::{FactSet, Requirement, StateSource};

/// What the required states say for one row whose log signal was reached.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Verdict {
    /// Every requirement holds: what was read, and where.
    Holds {
        said: String,
        evidence: Vec<Evidence>,
    },
    /// A requirement does not hold: what was read.
    Fails(String),
    /// A requirement could not be read: why (the row is `nodata`).
    Unknown(String),
    /// A value of the wrong type (the row is `error`).
    Failed(String),
}

/// The state documents of one check, built the first time a rule asks.
pub(super) struct States<'a> {
    cluster: &'a Cluster,
    stores: OnceLock<Vec<StateDoc>>,
    shape: OnceLock<Vec<StateDoc>>,
}

/// `requires:` conditions are declarative; Rhai is refused when the rule loads.
struct Declarative;

impl ScriptHook for Declarative {
    fn eval_expression(&self, _: &rhai::AST) -> Result<bool, Undecided> {
        Err(Undecided::Failed(
            "`requires` conditions are declarative".into(),
        ))
    }
}

/// `path = value` for each path the condition reads at the root (`<missing>` when absent).
fn read_values(condition: &Condition, root: &ConfigNode) -> String {
    let mut paths = condition.paths();
    paths.dedup();
    paths
        .iter()
        .map(|p| match root.lookup(p) {
            Lookup::Present(n) | Lookup::Null(n) => format!("{p} = {}", n.to_text()),
            Lookup::Missing => format!("{p} <missing>"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'a> States<'a> {
    pub(super) fn new(cluster: &'a Cluster) -> States<'a> {
        States {
            cluster,
            stores: OnceLock::new(),
            shape: OnceLock::new(),
        }
    }

    /// Whether every requirement holds for the row about `instance` (`None`: a cluster or host
    /// row, which only topology requirements may read; the loader sees to that).
    pub(super) fn judge(&self, requires: &[Requirement], instance: Option<usize>) -> Verdict {
        let mut said = Vec::new();
        let mut evidence = Vec::new();
        for r in requires {
            match self.one(r, instance) {
                Verdict::Holds {
                    said: s,
                    evidence: e,
                } => {
                    said.push(s);
                    evidence.extend(e);
                }
                other => return other,
            }
        }
        Verdict::Holds {
            said: said.join("; "),
            evidence,
        }
    }

    fn one(&self, r: &Requirement, instance: Option<usize>) -> Verdict {
        let name = r.state.as_str();
        match r.state {
            StateSource::Config => {
                let Some(inst) = instance.and_then(|i| self.cluster.instances.get(i)) else {
                    return Verdict::Unknown("config: the row is about no instance".into());
                };
                let tree = match &inst.config {
                    InstanceConfig::Loaded(tree) => tree,
                    InstanceConfig::Absent { file } => {
                        return Verdict::Unknown(format!("no config at `{file}`"));
                    }
                    InstanceConfig::Invalid { file, reason } => {
                        return Verdict::Unknown(format!("config `{file}` unusable: {reason}"));
                    }
                    InstanceConfig::NotRead { file } => {
                        return Verdict::Unknown(format!("config `{file}` not read"));
                    }
                };
                let said = format!("{name} {}", read_values(&r.condition, &tree.root));
                match r.condition.eval(&tree.root, &Declarative) {
                    Ok(true) => Verdict::Holds {
                        said,
                        evidence: r
                            .condition
                            .paths()
                            .iter()
                            .filter_map(|p| tree.lookup(p).present())
                            .map(|n| Evidence::at(tree.file.clone(), n.line))
                            .collect(),
                    },
                    Ok(false) => Verdict::Fails(said),
                    Err(Undecided::Missing(m)) => Verdict::Unknown(format!("{name}: {m}")),
                    Err(Undecided::Failed(m)) => Verdict::Failed(format!("{name}: {m}")),
                }
            }
            StateSource::Store => {
                let docs = self
                    .stores
                    .get_or_init(|| facts::state_documents(self.cluster, FactSet::Store));
                let Some(i) = instance else {
                    return Verdict::Unknown("store: the row is about no instance".into());
                };
                if docs.is_empty() {
                    return Verdict::Unknown("no PD store.json in the bundle".into());
                }
                if let Some(why) = docs.iter().find_map(|d| d.absent.clone()) {
                    return Verdict::Unknown(why);
                }
                let address = self
                    .cluster
                    .instances
                    .get(i)
                    .map(|inst| inst.address())
                    .unwrap_or_default();
                let mine: Vec<&StateDoc> =
                    docs.iter().filter(|d| d.instances.contains(&i)).collect();
                if mine.is_empty() {
                    return Verdict::Unknown(format!("no store at {address} in store.json"));
                }
                any_of(name, &r.condition, &mine)
            }
            StateSource::Topology => {
                let docs = self
                    .shape
                    .get_or_init(|| facts::state_documents(self.cluster, FactSet::Shape));
                let all: Vec<&StateDoc> = docs.iter().collect();
                if all.is_empty() {
                    return Verdict::Unknown("no topology".into());
                }
                any_of(name, &r.condition, &all)
            }
        }
    }
}

/// Holds when some document meets the condition (the first one is cited); unknown when none
/// does and one could not be read.
fn any_of(name: &str, condition: &Condition, docs: &[&StateDoc]) -> Verdict {
    let mut unknown = None;
    let mut said = Vec::new();
    for d in docs {
        let read = format!("{name} {}: {}", d.tag, read_values(condition, &d.root));
        match condition.eval(&d.root, &Declarative) {
            Ok(true) => {
                let paths = condition.paths();
                return Verdict::Holds {
                    said: read,
                    evidence: d.cited(&paths),
                };
            }
            Ok(false) => said.push(read),
            Err(Undecided::Missing(m)) => {
                unknown.get_or_insert(format!("{name} {}: {m}", d.tag));
            }
            Err(Undecided::Failed(m)) => return Verdict::Failed(format!("{name} {}: {m}", d.tag)),
        }
    }
    match unknown {
        Some(why) => Verdict::Unknown(why),
        None => Verdict::Fails(said.join("; ")),
    }
}
