//! The checker of `host_formula` rules (see [`crate::rules::formula`]): one row per instance of
//! the rule's component, comparing its value with the formula evaluated on its host.

use rayon::prelude::*;

use super::finding::{Row, RowState};
use crate::model::{Cluster, Lookup};
use crate::rules::Rule;
use crate::rules::formula::{HostFormula, SIZE_TOLERANCE};
use crate::rules::script::{self, ScriptCluster};

/// The rows of `rule`, in bundle order.
pub(super) fn rows(
    cluster: &Cluster,
    view: &ScriptCluster,
    rule: &Rule,
    formula: &HostFormula,
) -> Vec<Row> {
    let (Some(&component), Some(item)) = (rule.meta.components.first(), rule.variation.first())
    else {
        return Vec::new();
    };
    let members: Vec<usize> = (0..cluster.instances.len())
        .filter(|&i| cluster.instances[i].component == component)
        .collect();
    members
        .par_iter()
        .map(|&i| {
            let (state, message) = decide(cluster, view, rule, formula, &item.path, i);
            super::row(
                cluster,
                rule,
                &[i],
                state,
                (!message.is_empty()).then_some(message),
            )
        })
        .collect()
}

/// The state of instance `i`'s row, and its message.
fn decide(
    cluster: &Cluster,
    view: &ScriptCluster,
    rule: &Rule,
    formula: &HostFormula,
    path: &str,
    i: usize,
) -> (RowState, String) {
    let named = &formula.formula;
    let Some(expr) = &formula.expr else {
        return (
            RowState::NoData,
            format!("not compared: the default is a formula ({named})"),
        );
    };
    let node = match cluster.instances[i].config.tree().map(|t| t.lookup(path)) {
        Some(Lookup::Present(node)) => node,
        _ => return (RowState::NoData, format!("`{path}` is missing or null")),
    };
    let host = view
        .instance(i)
        .ok_or_else(|| format!("instance {i} is not in the cluster"))
        .and_then(|instance| instance.host_facts());
    let (cpus, memory) = match host {
        Ok(facts) => facts,
        Err(note) => {
            return (
                RowState::NoData,
                format!("not compared: the default is a formula ({named}) and {note}"),
            );
        }
    };
    let got = if formula.size {
        node.to_size()
            .map_err(|e| e.to_string())
            .and_then(|b| i64::try_from(b).map_err(|_| format!("size {b} is too large")))
            .map(|b| b as f64)
    } else {
        node.to_float().map_err(|e| e.to_string())
    };
    let got = match got {
        Ok(got) => got,
        Err(e) => return (RowState::NoData, format!("not compared: `{path}`: {e}")),
    };
    let want = match script::eval_formula(expr, view, i, cpus, memory) {
        Ok(want) => want,
        Err(e) => return (RowState::NoData, format!("not compared: {e}")),
    };
    let tolerance = if formula.size { SIZE_TOLERANCE } else { 0.0 };
    if want.iter().any(|w| (got - w).abs() <= tolerance * w.abs()) {
        return (RowState::Ok, String::new());
    }
    let shown: Vec<String> = want.iter().map(|&w| shown(w, formula.size)).collect();
    (
        RowState::Abnormal(rule.meta.severity),
        format!(
            "the formula ({named}) gives {} on {cpus} CPUs and {} MiB",
            shown.join(" or "),
            memory / 1_048_576
        ),
    )
}

/// A default as messages print it: sizes in whole MiB, numbers without a needless fraction.
fn shown(w: f64, size: bool) -> String {
    if size {
        format!("{}MiB", (w / 1_048_576.0).round() as i64)
    } else if w == w.floor() && w.abs() < 9.0e15 {
        format!("{}", w as i64)
    } else {
        format!("{w}")
    }
}
