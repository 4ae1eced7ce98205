//! Selection, parallel evaluation and findings.
//!
//! Selection follows diag: a rule runs when its kind is requested and its version constraint
//! contains the cluster version; of several selected rules sharing a name, the later one (by
//! id) counts, once. Evaluation is parallel over rule × instance on rayon's current pool;
//! findings are sorted by rule id, then name, and rows follow the bundle's instance order, so the
//! outcome is identical for any thread count.
//!
//! One divergence from diag, on purpose: a path a rule reads that is missing (or null) gives a
//! `nodata` row, never the value 0. diag's `ToInt(missing)` is 0, so `< 1` rules fire false
//! alarms whenever a key is renamed across versions.
//!
//! ```
//! use diag_core::engine::{check, CheckOptions};
//! let cluster = diag_core::Cluster::open("../../fixtures/diag-fPrz0RnDxRn".as_ref()).unwrap();
//! let outcome = check(&cluster, &diag_core::rules::RuleSet::builtin(), &CheckOptions::default());
//! assert_eq!(outcome.findings.len(), 21);
//! let abnormal: Vec<i64> = outcome.abnormal().map(|f| f.rule.id).collect();
//! assert_eq!(abnormal, [100, 209, 210]);
//! ```

mod documents;
mod expected;
mod facts;
pub mod finding;
mod formula;
mod groups;
mod logs;
mod metrics;
mod performance;
pub mod selection;
mod state;

pub use performance::slow_log_csv_files;

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

pub use finding::{
    Aggregate, CheckOutcome, Evidence, Finding, InstanceRef, Row, RowState, RuleStatus,
    SeriesSketch, ValueRead, Values, WaiverNote,
};

use crate::model::value::{Lookup, Route};
use crate::model::{Cluster, ComponentKind, InstanceConfig};
use crate::rules::condition::{ScriptHook, Undecided};
use crate::rules::script::{self, ScriptCluster, ScriptState};
use crate::rules::{CheckKind, DataSource, Rule, RuleBody, RuleSet, Subject};

/// What to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// Kinds of rules to run (`--types`); default `[Config]`, as diag.
    pub kinds: Vec<CheckKind>,
    /// When not empty, only rules with one of these ids or names.
    pub only: Vec<String>,
    /// Rules with one of these ids or names are not run.
    pub skip: Vec<String>,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            kinds: vec![CheckKind::Config],
            only: Vec::new(),
            skip: Vec::new(),
        }
    }
}

/// What the rules a check may select read of a bundle: runtime configs always (every report
/// names instances by them), plus the files of each rule's source and the metrics it reads.
/// The cluster version is not known before loading, so rules of every version range count;
/// kinds, `--rule` and `--skip` decide as in [`select`].
///
/// ```
/// use diag_core::bundle::{DataKind, LogKind};
/// use diag_core::engine::{CheckOptions, read_plan};
/// let plan = read_plan(&diag_core::rules::RuleSet::builtin(), &CheckOptions::default());
/// assert!(plan.wants("p/conf/config.json", Some(DataKind::RuntimeConfig)));
/// assert!(!plan.wants("p/log/tikv.log", Some(DataKind::Log(LogKind::Std))));
/// ```
pub fn read_plan(rules: &RuleSet, options: &CheckOptions) -> crate::bundle::ReadPlan {
    let mut plan = crate::bundle::ReadPlan::metadata().with(crate::bundle::DataKind::RuntimeConfig);
    for rule in rules.rules().iter().filter(|rule| {
        options.kinds.contains(&rule.meta.kind)
            && (options.only.is_empty() || options.only.iter().any(|o| rule.is_called(o)))
            && !options.skip.iter().any(|s| rule.is_called(s))
    }) {
        for kind in rule.data_kinds() {
            plan = plan.with(kind);
        }
        for metric in rule.metrics() {
            plan = plan.with_metric(metric);
        }
    }
    plan
}

/// The rules that run on `cluster`, in report order (id, then name).
pub fn select<'a>(cluster: &Cluster, rules: &'a RuleSet, options: &CheckOptions) -> Vec<&'a Rule> {
    let version = cluster.version.semver.as_ref();
    let mut by_name: HashMap<&str, &Rule> = HashMap::new();
    for rule in rules.rules() {
        let wanted = options.kinds.contains(&rule.meta.kind)
            && rule.version.matches(version)
            && (options.only.is_empty() || options.only.iter().any(|o| rule.is_called(o)))
            && !options.skip.iter().any(|s| rule.is_called(s));
        if !wanted {
            continue;
        }
        by_name
            .entry(rule.meta.name.as_str())
            .and_modify(|kept| {
                if rule.order > kept.order {
                    *kept = rule;
                }
            })
            .or_insert(rule);
    }
    let mut selected: Vec<&Rule> = by_name.into_values().collect();
    selected.sort_by(|a, b| {
        (a.meta.id, &a.meta.name, a.order).cmp(&(b.meta.id, &b.meta.name, b.order))
    });
    selected
}

/// Runs the selected rules over the cluster, in parallel on rayon's current pool.
pub fn check(cluster: &Cluster, rules: &RuleSet, options: &CheckOptions) -> CheckOutcome {
    let selected = select(cluster, rules, options);
    let view = ScriptCluster::new(cluster);
    let metrics = metrics::MetricCache::new(cluster, &selected);
    let log_rows = logs::check_logs(cluster, &selected);
    if selected.iter().any(|r| r.data == DataSource::SlowLog) {
        // One pass over the slow logs before the rules fan out: the performance rules (and the
        // CSV files written after) share it.
        cluster.slow_log_performance();
    }
    // Rules of one instance each are evaluated instance by instance (one config tree at a time,
    // while it is in cache), the others rule by rule.
    let mut batched = instance_rows(cluster, &view, &selected);
    let findings = selected
        .par_iter()
        .zip(batched.par_iter_mut())
        .map(|(rule, rows)| Finding {
            rule: rule.meta.clone(),
            rows: match rows.take() {
                Some(rows) => rows,
                None => evaluate(cluster, &view, &metrics, rule, &log_rows),
            },
        })
        .collect();
    CheckOutcome {
        findings,
        rule_set_version: rules.version().to_string(),
    }
}

/// Every rule's rows for one cluster, from the checker of the rule's source.
fn evaluate(
    cluster: &Cluster,
    view: &ScriptCluster,
    metrics: &metrics::MetricCache<'_>,
    rule: &Rule,
    log_rows: &std::collections::BTreeMap<usize, Vec<Row>>,
) -> Vec<Row> {
    match &rule.body {
        RuleBody::Condition(condition) if rule.data == DataSource::SlowLog => {
            performance::rows(cluster, rule, condition)
        }
        RuleBody::Log(_) => log_rows
            .get(&logs::rule_key(rule))
            .cloned()
            .unwrap_or_default(),
        RuleBody::Metric(_) | RuleBody::Alert(_) => metrics.rows(rule),
        RuleBody::Condition(condition) if let DataSource::Facts(set) = rule.data => {
            with_expected(condition, facts::rows(cluster, view, rule, condition, set))
        }
        RuleBody::Condition(condition) if rule.data != DataSource::Config => {
            with_expected(condition, documents::rows(cluster, view, rule, condition))
        }
        RuleBody::Condition(condition) if rule.subject != Subject::Instance => {
            with_expected(condition, groups::rows(cluster, view, rule, condition))
        }
        RuleBody::Condition(condition) => {
            let per_row = expected::per_row(condition);
            let fixed: Option<Arc<str>> = expected::expected(condition, None).map(Arc::from);
            tuples(cluster, &rule.meta.components)
                .into_par_iter()
                .map(|tuple| {
                    let (state, message) = decide(cluster, view, rule, condition, &tuple);
                    let mut row = row(cluster, rule, &tuple, state, message);
                    row.expected = if per_row {
                        let root = tuple
                            .iter()
                            .find_map(|&i| cluster.instances.get(i)?.config.tree());
                        expected::expected(condition, root.map(|t| &t.root)).map(Arc::from)
                    } else {
                        fixed.clone()
                    };
                    row
                })
                .collect()
        }
        RuleBody::HostFormula(f) => formula::rows(cluster, view, rule, f),
        RuleBody::ClusterScript(ast) => match script::run_script(ast, view) {
            Ok(mut rows) => {
                rows.sort_by(|a, b| a.instances.cmp(&b.instances));
                rows.into_iter()
                    .map(|r| {
                        let state = match r.state {
                            ScriptState::Ok => RowState::Ok,
                            ScriptState::Abnormal => RowState::Abnormal(rule.meta.severity),
                            ScriptState::NoData => RowState::NoData,
                        };
                        let message = (!r.message.is_empty()).then_some(r.message);
                        row(cluster, rule, &r.instances, state, message)
                    })
                    .collect()
            }
            Err(e) => {
                let (state, message) = undecided(e);
                vec![Row::new(
                    "cluster".into(),
                    Vec::new(),
                    Vec::new(),
                    state,
                    Some(message),
                )]
            }
        },
    }
}

/// Whether a rule's rows are one instance each of its one component, decided on its runtime
/// config: what [`instance_rows`] evaluates.
fn per_instance(rule: &Rule) -> bool {
    matches!(rule.body, RuleBody::Condition(_))
        && rule.data == DataSource::Config
        && rule.subject == Subject::Instance
        && rule.meta.components.len() == 1
}

/// Instances whose configs [`instance_rows`] has every rule read before moving on.
const INSTANCE_BLOCK: usize = 16;

/// A [`per_instance`] rule ready to run on each instance of its component.
struct InstanceRule<'a> {
    /// Its position in the selection.
    at: usize,
    rule: &'a Rule,
    condition: &'a crate::rules::Condition,
    /// The condition as one comparison of the rule's one variation value, when it is that:
    /// the value is then looked up once for the comparison and the row.
    compare: Option<crate::rules::condition::PreparedCompare<'a>>,
    per_row: bool,
    fixed: Option<Arc<str>>,
}

impl InstanceRule<'_> {
    /// The row of the instance `subject`; `route` is where the compared path was found in the
    /// previous instance's config.
    fn row(
        &self,
        cluster: &Cluster,
        view: &ScriptCluster,
        subject: &InstanceSubject,
        route: &mut Route,
    ) -> Row {
        let InstanceSubject {
            index: i,
            tag,
            refs,
            file,
        } = subject;
        let (i, tuple) = (*i, [*i]);
        let rule = self.rule;
        let mut row = match (&self.compare, &cluster.instances[i].config) {
            (Some(compare), InstanceConfig::Loaded(tree)) => {
                let found = tree.lookup_via(compare.path(), route);
                let (state, message) = match compare.eval(found) {
                    Ok(true) => (RowState::Abnormal(rule.meta.severity), None),
                    Ok(false) => (RowState::Ok, None),
                    Err(e) => {
                        let (state, message) = undecided(e);
                        (state, Some(message))
                    }
                };
                let (value, evidence) = match found {
                    Lookup::Present(n) | Lookup::Null(n) => (
                        Some(n.text()),
                        Some(Evidence::at(
                            file.as_ref().unwrap_or(&tree.file).clone(),
                            n.line,
                        )),
                    ),
                    Lookup::Missing => (None, None),
                };
                // `compare` is only made for a rule with exactly this one variation item.
                let values = rule
                    .variation
                    .first()
                    .map(|item| ValueRead {
                        variation: item.text.clone(),
                        value,
                        evidence,
                    })
                    .into_iter()
                    .collect();
                Row::shared(tag.clone(), refs.clone(), values, state, message)
            }
            _ => {
                let (state, message) = decide(cluster, view, rule, self.condition, &tuple);
                row_of(
                    cluster,
                    rule,
                    &tuple,
                    tag.clone(),
                    refs.clone(),
                    state,
                    message,
                )
            }
        };
        row.expected = if self.per_row {
            let root = cluster.instances[i].config.tree().map(|t| &t.root);
            expected::expected(self.condition, root).map(Arc::from)
        } else {
            self.fixed.clone()
        };
        row
    }
}

/// What the rows of one instance share: its index, tag, instance list and config file.
///
/// Each thread evaluating a block of instances makes its own copies of these (the same text in
/// other heap blocks): a row holds a reference to each, and a hundred rules' rows of the
/// instance taking references on two cores at once made the reference counts' cache lines
/// move between the cores at every row.
struct InstanceSubject {
    index: usize,
    tag: Arc<str>,
    refs: Arc<[InstanceRef]>,
    /// The runtime config's file, when loaded.
    file: Option<Arc<str>>,
}

impl InstanceSubject {
    fn of(cluster: &Cluster, i: usize) -> InstanceSubject {
        InstanceSubject {
            index: i,
            tag: cluster.instances[i].tag().into(),
            refs: instance_refs(cluster, &[i]).into(),
            file: cluster.instances[i].config.tree().map(|t| t.file.clone()),
        }
    }

    /// The same subject in heap blocks of its own.
    fn copy(&self) -> InstanceSubject {
        InstanceSubject {
            index: self.index,
            tag: Arc::from(&*self.tag),
            refs: Arc::from(&*self.refs),
            file: self.file.as_deref().map(Arc::from),
        }
    }
}

/// The rows of every [`per_instance`] rule of `selected` (`None` for the others), in bundle
/// order, as [`evaluate`] gives them. The loop is instance-major: each instance's config is
/// read by all of its component's rules in turn (hundreds for `default_config`), while it is
/// in cache, rather than each rule walking a thousand trees; the rows are then dealt out to
/// their rules.
fn instance_rows(
    cluster: &Cluster,
    view: &ScriptCluster,
    selected: &[&Rule],
) -> Vec<Option<Vec<Row>>> {
    let mut out: Vec<Option<Vec<Row>>> = selected.iter().map(|_| None).collect();
    let mut kinds: Vec<ComponentKind> = Vec::new();
    for rule in selected.iter().filter(|r| per_instance(r)) {
        if !kinds.contains(&rule.meta.components[0]) {
            kinds.push(rule.meta.components[0]);
        }
    }
    for kind in kinds {
        let group: Vec<InstanceRule<'_>> = selected
            .iter()
            .enumerate()
            .filter(|(_, r)| per_instance(r) && r.meta.components[0] == kind)
            .filter_map(|(at, r)| match &r.body {
                RuleBody::Condition(condition) => Some(InstanceRule {
                    at,
                    rule: r,
                    condition,
                    // One variation item, of the rule's component, at the compared path.
                    compare: condition.prepared().filter(|c| {
                        matches!(r.variation.as_slice(),
                            [item] if item.component == Some(kind) && item.path == c.path())
                    }),
                    per_row: expected::per_row(condition),
                    fixed: expected::expected(condition, None).map(Arc::from),
                }),
                _ => None,
            })
            .collect();
        let members: Vec<usize> = (0..cluster.instances.len())
            .filter(|&i| cluster.instances[i].component == kind)
            .collect();
        let subjects: Vec<InstanceSubject> = members
            .iter()
            .map(|&i| InstanceSubject::of(cluster, i))
            .collect();
        let mut rows: Vec<(Vec<Row>, Route)> = group
            .iter()
            .map(|_| (Vec::with_capacity(members.len()), Route::default()))
            .collect();
        // A block of instances at a time, its configs staying in cache while every rule reads
        // them; each rule appends its rows for the block straight to its own list, the rows
        // sharing the subjects' copies of the thread that made them.
        for block in subjects.chunks(INSTANCE_BLOCK) {
            rows.par_iter_mut().zip(&group).for_each_init(
                || block.iter().map(InstanceSubject::copy).collect::<Vec<_>>(),
                |copies, ((rows, route), rule)| {
                    rows.extend(copies.iter().map(|s| rule.row(cluster, view, s, route)));
                },
            );
        }
        for (rule, (rows, _)) in group.iter().zip(rows) {
            out[rule.at] = Some(rows);
        }
    }
    out
}

/// Rows of a checker that reads documents or groups: the expected text, when it does not
/// depend on the row (a path operand would be read from a document the row does not keep).
fn with_expected(condition: &crate::rules::Condition, mut rows: Vec<Row>) -> Vec<Row> {
    if !expected::per_row(condition)
        && let Some(text) = expected::expected(condition, None)
    {
        let text: Arc<str> = Arc::from(text);
        for row in &mut rows {
            row.expected = Some(text.clone());
        }
    }
    rows
}

/// The cross product of instances of each component, in bundle order.
fn tuples(cluster: &Cluster, components: &[ComponentKind]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new()];
    if components.is_empty() {
        return Vec::new();
    }
    for kind in components {
        let members: Vec<usize> = cluster
            .instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.component == *kind)
            .map(|(n, _)| n)
            .collect();
        out = out
            .into_iter()
            .flat_map(|prefix| {
                members
                    .iter()
                    .map(move |m| [prefix.as_slice(), &[*m]].concat())
            })
            .collect();
    }
    out
}

struct Hook<'a> {
    view: &'a ScriptCluster,
    tuple: &'a [usize],
}

impl ScriptHook for Hook<'_> {
    fn eval_expression(&self, ast: &rhai::AST) -> Result<bool, Undecided> {
        script::eval_expression(ast, self.view, self.tuple)
    }
}

fn decide(
    cluster: &Cluster,
    view: &ScriptCluster,
    rule: &Rule,
    condition: &crate::rules::Condition,
    tuple: &[usize],
) -> (RowState, Option<String>) {
    let mut root = None;
    for &i in tuple {
        match &cluster.instances[i].config {
            InstanceConfig::Loaded(tree) => root = root.or(Some(&tree.root)),
            InstanceConfig::Absent { file } => {
                return (RowState::NoData, Some(format!("no config at `{file}`")));
            }
            InstanceConfig::Invalid { file, reason } => {
                return (
                    RowState::NoData,
                    Some(format!("config `{file}` unusable: {reason}")),
                );
            }
            InstanceConfig::NotRead { file } => {
                return (
                    RowState::NoData,
                    Some(format!("config `{file}` not read (not in the read plan)")),
                );
            }
        }
    }
    let Some(root) = root else {
        return (RowState::NoData, Some("no instance".into()));
    };
    match condition.eval(root, &Hook { view, tuple }) {
        Ok(true) => (RowState::Abnormal(rule.meta.severity), None),
        Ok(false) => (RowState::Ok, None),
        Err(e) => {
            let (state, message) = undecided(e);
            (state, Some(message))
        }
    }
}

fn undecided(e: Undecided) -> (RowState, String) {
    match e {
        Undecided::Missing(m) => (RowState::NoData, m),
        Undecided::Failed(m) => (RowState::Error, m),
    }
}

/// References to the instances at `indices`, in that order.
fn instance_refs(cluster: &Cluster, indices: &[usize]) -> Vec<InstanceRef> {
    indices
        .iter()
        .filter_map(|&index| {
            cluster.instances.get(index).map(|i| InstanceRef {
                component: i.component,
                host: i.host.clone(),
                port: i.port,
                index,
            })
        })
        .collect()
}

fn row(
    cluster: &Cluster,
    rule: &Rule,
    tuple: &[usize],
    state: RowState,
    message: Option<String>,
) -> Row {
    let instances = instance_refs(cluster, tuple);
    let tag = tuple
        .iter()
        .filter_map(|&i| cluster.instances.get(i))
        .map(|i| i.tag())
        .collect::<Vec<_>>()
        .join("-");
    row_of(
        cluster,
        rule,
        tuple,
        tag.into(),
        instances.into(),
        state,
        message,
    )
}

/// [`row`] with the tuple's tag and instance references already made.
fn row_of(
    cluster: &Cluster,
    rule: &Rule,
    tuple: &[usize],
    tag: Arc<str>,
    instances: Arc<[InstanceRef]>,
    state: RowState,
    message: Option<String>,
) -> Row {
    let mut values = Values::with_capacity(rule.variation.len());
    for item in &rule.variation {
        // Each variation item is read from the tuple member of its component.
        let member = item.component.and_then(|k| {
            tuple
                .iter()
                .filter_map(|&i| cluster.instances.get(i))
                .find(|i| i.component == k)
        });
        let Some(instance) = member else { continue };
        let read = instance.config.tree().map(|t| (t, t.lookup(&item.path)));
        let (value, evidence) = match read {
            Some((tree, Lookup::Present(n) | Lookup::Null(n))) => (
                Some(n.text()),
                Some(Evidence::at(tree.file.clone(), n.line)),
            ),
            _ => (None, None),
        };
        values.push(ValueRead {
            variation: item.text.clone(),
            value,
            evidence,
        });
    }
    Row::shared(tag, instances, values, state, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_are_the_cross_product_in_bundle_order() {
        let cluster = Cluster::open("../../fixtures/diag-fPrz0RnDxRn".as_ref())
            .unwrap_or_else(|e| panic!("{e}"));
        let pd = tuples(&cluster, &[ComponentKind::Pd]);
        assert_eq!(pd.len(), 3);
        let pairs = tuples(&cluster, &[ComponentKind::Pd, ComponentKind::Tikv]);
        assert_eq!(pairs.len(), 9);
        assert!(pairs.windows(2).all(|w| w[0] < w[1]));
    }
}
