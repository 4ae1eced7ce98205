//! The checker for `source: slow_log` (diag's performance rules 300–302): every TiDB slow log
//! of the bundle streamed once through [`crate::model::slowlog::PerformanceAccumulator`]
//! ([`Cluster::slow_log_performance`], shared by the three rules and their CSV files), the GC
//! life time from `db_vars`, and the rule's condition evaluated over the resulting document:
//!
//! ```yaml
//! counts: {poor_effective_plan: 0, old_version_count: 2, scan_key_skip: 0}
//! gc_life_time_seconds: 600          # absent when db_vars has neither spelling
//! plan_process_time: 0 Digest trigger cordon     # diag's printed values, by variation item
//! ```

use super::finding::{Evidence, Row, RowState, ValueRead};
use super::undecided;
use crate::model::data::{DataFile, DataKind, LogKind};
use crate::model::slowlog::Performance;
use crate::model::units::parse_duration;
use crate::model::value::{ConfigMap, ConfigNode, ConfigTree, ConfigValue, Lookup};
use crate::model::{Cluster, ComponentKind};
use crate::rules::Rule;
use crate::rules::condition::{Condition, ScriptHook, Undecided};

/// diag's text for the second value of a performance row.
pub const CSV_HINT: &str = "Please check the collect csv file for specific information";

pub(super) fn rows(cluster: &Cluster, rule: &Rule, condition: &Condition) -> Vec<Row> {
    let slow_logs: Vec<&DataFile> = cluster
        .instances
        .iter()
        .filter(|i| i.component == ComponentKind::Tidb)
        .flat_map(|i| i.files_of(DataKind::Log(LogKind::Slow)))
        .collect();
    let gc = gc_life_time(cluster);
    let mut evidence: Vec<Evidence> = slow_logs
        .iter()
        .map(|f| Evidence::at(f.path.as_str(), 0))
        .collect();
    if let Some((file, line, _)) = &gc {
        evidence.push(Evidence::at(file.as_str(), *line));
    }
    let (state, message, tree) = if slow_logs.is_empty() {
        (
            RowState::NoData,
            Some("no TiDB slow query log in the bundle".to_string()),
            None,
        )
    } else {
        let perf = cluster.slow_log_performance();
        let tree = document(perf, gc.as_ref().map(|(_, _, s)| *s), rule);
        let (state, message) = match condition.eval(&tree.root, &NoScripts) {
            Ok(true) => (RowState::Abnormal(rule.meta.severity), None),
            Ok(false) => (RowState::Ok, None),
            Err(e) => {
                let (state, m) = undecided(e);
                (state, Some(m))
            }
        };
        let message =
            message.or_else(|| (!perf.problems.is_empty()).then(|| perf.problems.join("; ")));
        (state, message, Some(tree))
    };
    let values = rule
        .variation
        .iter()
        .map(|item| ValueRead {
            variation: item.text.clone(),
            value: tree.as_ref().and_then(|t| match t.lookup(&item.path) {
                Lookup::Present(n) => Some(n.text()),
                _ => None,
            }),
            evidence: None,
        })
        .collect();
    let mut row = Row::new(
        "SQLPerformance".to_string(),
        Vec::new(),
        values,
        state,
        message,
    );
    row.evidence = evidence;
    vec![row]
}

/// `(file, line, seconds)` of the GC life time: `tikv_gc_life_time` (the `mysql.tidb` table of
/// old bundles) or `tidb_gc_life_time` (`show variables` since diag v1.1.0).
fn gc_life_time(cluster: &Cluster) -> Option<(String, u32, u64)> {
    for file in cluster.files_of(DataKind::DbVars) {
        let Ok(tree) = file.tree() else { continue };
        let Lookup::Present(rows) = tree.lookup("rows") else {
            continue;
        };
        for row in rows.as_array().unwrap_or_default() {
            let Some(map) = row.as_map() else { continue };
            let cells: Vec<&ConfigNode> = map.values().collect();
            for pair in cells.windows(2) {
                let name = pair[0].to_text().to_ascii_lowercase();
                if (name == "tikv_gc_life_time" || name == "tidb_gc_life_time")
                    && let Ok(d) = parse_duration(pair[1].to_text().trim())
                {
                    return Some((file.path.clone(), row.line, d.as_secs()));
                }
            }
        }
    }
    None
}

fn document(perf: &Performance, gc_seconds: Option<u64>, rule: &Rule) -> ConfigTree {
    let int = |n: usize| ConfigNode::new(ConfigValue::Int(n as i64));
    let mut counts = ConfigMap::new();
    counts.insert("poor_effective_plan", int(perf.poor_effective_plan.len()));
    counts.insert("old_version_count", int(perf.old_version_count.len()));
    counts.insert("scan_key_skip", int(perf.scan_key_skip.len()));
    let mut root = ConfigMap::new();
    // The printed values: diag's "<n> Digest trigger cordon" for the rule's count, then its hint.
    let count = match rule.meta.name.as_str() {
        "poor_effective_plan" => perf.poor_effective_plan.len(),
        // diag prints 0 when the GC life time is within 10 minutes: the rule passed.
        "old_version_count" if gc_seconds.is_some_and(|s| s <= 600) => 0,
        "old_version_count" => perf.old_version_count.len(),
        _ => perf.scan_key_skip.len(),
    };
    for (i, item) in rule.variation.iter().enumerate() {
        let text = if i == 0 {
            format!("{count} Digest trigger cordon")
        } else {
            CSV_HINT.to_string()
        };
        root.insert(
            item.path.as_str(),
            ConfigNode::new(ConfigValue::String(text)),
        );
    }
    root.insert("counts", ConfigNode::new(ConfigValue::Map(counts)));
    if let Some(s) = gc_seconds {
        root.insert(
            "gc_life_time_seconds",
            ConfigNode::new(ConfigValue::Int(s as i64)),
        );
    }
    root.insert(
        "queries_in_window",
        ConfigNode::new(ConfigValue::Int(perf.in_window as i64)),
    );
    ConfigTree {
        file: std::sync::Arc::from("slow_log"),
        root: ConfigNode::new(ConfigValue::Map(root)),
    }
}

struct NoScripts;

impl ScriptHook for NoScripts {
    fn eval_expression(&self, _ast: &rhai::AST) -> Result<bool, Undecided> {
        Err(Undecided::Failed(
            "`source: slow_log` rules are declarative over the counts".into(),
        ))
    }
}

/// diag's side outputs of the performance rules, `(file name, CSV text)`:
/// `poor_effective_plan.csv` (`Digest,Plan_digest,avg_process_time,last_time`, the fast then the
/// slow plan of each digest found), `old_version_count.csv` and `scan_key_skip.csv`
/// (`Digest,Plan_digest`). Rows are sorted, so the files are the same at any thread count.
pub fn slow_log_csv_files(cluster: &Cluster) -> Vec<(String, String)> {
    let perf = cluster.slow_log_performance();
    let mut plans = String::from("Digest,Plan_digest,avg_process_time,last_time\n");
    for p in &perf.poor_effective_plan {
        for (plan, avg, last) in [&p.fast, &p.slow] {
            plans.push_str(&format!("{},{},{avg},{last}\n", csv(&p.digest), csv(plan)));
        }
    }
    let pairs = |v: &[(String, String)]| {
        let mut out = String::from("Digest,Plan_digest\n");
        for (d, p) in v {
            out.push_str(&format!("{},{}\n", csv(d), csv(p)));
        }
        out
    };
    vec![
        ("poor_effective_plan.csv".to_string(), plans),
        (
            "old_version_count.csv".to_string(),
            pairs(&perf.old_version_count),
        ),
        ("scan_key_skip.csv".to_string(), pairs(&perf.scan_key_skip)),
    ]
}

/// A CSV field, quoted when it must be (RFC 4180).
fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}
