//! Rhai glue: one sandboxed [`rhai::Engine`] shared by every rule, scripts compiled once.
//!
//! The sandbox has no module loading and no file or network access; `print`/`debug` are
//! silenced; each evaluation is limited to [`MAX_OPERATIONS`] operations (a cluster script to
//! [`OPERATIONS_PER_INSTANCE`] more per instance of the cluster), [`MAX_CALL_LEVELS`] nested
//! calls, and bounded string, array and map sizes. A rule that hits a limit, throws, or
//! reads a value of the wrong type gets an `error` row with the reason; the other rules go on.
//!
//! What scripts see:
//!
//! - `cfg` — the instance being checked (expressions, `abnormal_when: {rhai: …}`), `cfgs` — the
//!   tuple for multi-component rules, and `cluster` — the whole cluster (both forms).
//! - An instance has `tag`, `component` (`PdConfig`, …), `host`, `port`, `index`, `has_config`,
//!   `host_cpus` (logical CPUs) and `host_memory` (bytes) from its host's `insight.json` (`()`
//!   when unknown; `host_note` says why), and readers that coerce like the declarative language: `int(path)`, `float(path)`,
//!   `bool(path)`, `text(path)`, `size(path)` (bytes), `duration(path)` (seconds, float),
//!   `get(path)` (the raw value: map, array, number, string, bool), `has(path)`, `keys(path)`.
//!   A reader on a missing or null path stops the evaluation and makes the row `nodata`.
//! - `cluster.version` (text), `cluster.version_matches(">= v5.4.0")`, `cluster.instances()`,
//!   `cluster.instances("TikvConfig")`, `cluster.count("TiflashConfig")`.
//! - A `host_formula` expression sees `cpus`, `memory` (bytes) and `cfg`, and gives a number or
//!   an array of numbers (the README's rule language).
//! - A cluster script (`rhai_script`) returns an array of rows built with `ok(i)`,
//!   `abnormal(i)`, `abnormal(i, message)`, `nodata(i, message)`, where `i` is an instance or an
//!   array of instances (a tuple).

use std::sync::{Arc, LazyLock};

use rhai::{AST, Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Position, Scope};

use super::condition::Undecided;
use crate::model::value::{ConfigNode, ConfigTree, ConfigValue, Lookup};
use crate::model::version::VersionConstraint;
use crate::model::{Cluster, DataFile, DataKind, InstanceConfig};

/// Operations one evaluation may run before it is stopped.
pub const MAX_OPERATIONS: u64 = 200_000;
/// Operations a cluster script may run per instance of the cluster, beyond [`MAX_OPERATIONS`]:
/// a script that loops over the instances (the formula defaults take ≈ 40 operations each)
/// must not stop on a large cluster (at 5,000 TiKV it did, with one fixed limit).
pub const OPERATIONS_PER_INSTANCE: u64 = 1_000;
/// Nested function calls allowed.
pub const MAX_CALL_LEVELS: usize = 32;
/// Longest string a script may build.
pub const MAX_STRING_SIZE: usize = 64 * 1024;
/// Largest array or map a script may build.
pub const MAX_COLLECTION_SIZE: usize = 10_000;

thread_local! {
    /// The operations the evaluation running on this thread may take.
    static BUDGET: std::cell::Cell<u64> = const { std::cell::Cell::new(MAX_OPERATIONS) };
}

/// Why an evaluation was stopped by [`BUDGET`]: its limit.
#[derive(Debug, Clone, Copy)]
struct OutOfOperations(u64);

/// `eval` with `budget` operations allowed, on this thread.
fn with_budget<T>(budget: u64, eval: impl FnOnce() -> T) -> T {
    let before = BUDGET.replace(budget);
    let out = eval();
    BUDGET.set(before);
    out
}

/// An instance as scripts see it.
#[derive(Debug, Clone)]
pub struct ScriptInstance {
    index: usize,
    tag: ImmutableString,
    component: ImmutableString,
    host: ImmutableString,
    port: i64,
    config: Option<Arc<ConfigTree>>,
    /// The host's `insight.json`, parsed on first use (shared by every instance of the host).
    insight: Option<DataFile>,
}

impl ScriptInstance {
    /// Index of the instance in [`Cluster::instances`].
    pub fn index(&self) -> usize {
        self.index
    }

    /// A positive number of the host's `insight.json` times `unit`, or `()` when the host has
    /// no usable insight (see [`ScriptInstance::host_note`]).
    fn host_fact(&self, path: &str, unit: i64) -> Dynamic {
        let Some(Ok(tree)) = self.insight.as_ref().map(DataFile::shared_tree) else {
            return Dynamic::UNIT;
        };
        match tree.lookup(path).present().and_then(|n| n.to_int().ok()) {
            Some(n) if n > 0 => n.checked_mul(unit).map_or(Dynamic::UNIT, Dynamic::from),
            _ => Dynamic::UNIT,
        }
    }

    /// The host's logical CPUs and memory (bytes), or why either is unknown.
    pub(crate) fn host_facts(&self) -> Result<(i64, i64), String> {
        let cpus = self.host_fact("sysinfo.cpu.threads", 1).as_int();
        let memory = self.host_fact("sysinfo.memory.size", 1 << 20).as_int();
        match (cpus, memory) {
            (Ok(cpus), Ok(memory)) => Ok((cpus, memory)),
            _ => Err(self.host_note()),
        }
    }

    /// Why the host's CPU count or memory is unknown; empty when both are known.
    fn host_note(&self) -> String {
        match self.insight.as_ref().map(|f| (f, f.shared_tree())) {
            None => format!("no insight.json collected for host {}", self.host),
            Some((f, Err(e))) => format!("`{}` unusable: {e}", f.path),
            Some((f, Ok(_))) => {
                let missing: Vec<&str> =
                    [("sysinfo.cpu.threads", 1), ("sysinfo.memory.size", 1 << 20)]
                        .into_iter()
                        .filter(|(p, unit)| self.host_fact(p, *unit).is_unit())
                        .map(|(p, _)| p)
                        .collect();
                if missing.is_empty() {
                    String::new()
                } else {
                    format!("`{}` has no positive {}", f.path, missing.join(" or "))
                }
            }
        }
    }
}

/// The cluster as scripts see it.
#[derive(Debug, Clone)]
pub struct ScriptCluster {
    version: ImmutableString,
    semver: Option<semver::Version>,
    instances: Arc<Vec<ScriptInstance>>,
}

impl ScriptCluster {
    /// Builds the script view of a cluster (cheap: configs are shared, not copied).
    pub fn new(cluster: &Cluster) -> ScriptCluster {
        let instances = cluster
            .instances
            .iter()
            .enumerate()
            .map(|(index, i)| ScriptInstance {
                index,
                tag: i.tag().into(),
                component: i.component.config_struct().into(),
                host: i.host.as_str().into(),
                port: i64::from(i.port),
                config: match &i.config {
                    InstanceConfig::Loaded(t) => Some(Arc::clone(t)),
                    _ => None,
                },
                insight: cluster
                    .hosts
                    .get(&i.host)
                    .and_then(|files| files.iter().find(|f| f.kind == DataKind::Insight))
                    .cloned(),
            })
            .collect();
        ScriptCluster {
            version: cluster.version.text.as_str().into(),
            semver: cluster.version.semver.clone(),
            instances: Arc::new(instances),
        }
    }

    /// The script view of instance `index`.
    pub fn instance(&self, index: usize) -> Option<&ScriptInstance> {
        self.instances.get(index)
    }
}

/// Thrown by readers when a path is missing: turns into a `nodata` row.
#[derive(Debug, Clone)]
struct MissingPath(String);

/// The shared, sandboxed engine.
pub(crate) static ENGINE: LazyLock<Engine> = LazyLock::new(build_engine);

fn build_engine() -> Engine {
    let mut engine = Engine::new();
    engine
        // Operations are counted against the evaluation's own budget, below.
        .set_max_operations(0)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(MAX_STRING_SIZE)
        .set_max_array_size(MAX_COLLECTION_SIZE)
        .set_max_map_size(MAX_COLLECTION_SIZE)
        .set_max_variables(1_000)
        .set_max_functions(256)
        .set_max_modules(0)
        .set_strict_variables(true)
        .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.on_progress(|operations| {
        let budget = BUDGET.get();
        (operations > budget).then(|| Dynamic::from(OutOfOperations(budget)))
    });
    engine.disable_symbol("eval");
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});

    engine
        .register_type_with_name::<ScriptInstance>("Instance")
        .register_get("tag", |i: &mut ScriptInstance| i.tag.clone())
        .register_get("component", |i: &mut ScriptInstance| i.component.clone())
        .register_get("host", |i: &mut ScriptInstance| i.host.clone())
        .register_get("port", |i: &mut ScriptInstance| i.port)
        .register_get("index", |i: &mut ScriptInstance| i.index as i64)
        .register_get("has_config", |i: &mut ScriptInstance| i.config.is_some())
        .register_get("host_cpus", |i: &mut ScriptInstance| {
            i.host_fact("sysinfo.cpu.threads", 1)
        })
        .register_get("host_memory", |i: &mut ScriptInstance| {
            i.host_fact("sysinfo.memory.size", 1 << 20)
        })
        .register_get("host_note", |i: &mut ScriptInstance| {
            ImmutableString::from(i.host_note())
        })
        .register_fn("int", |i: &mut ScriptInstance, p: &str| {
            read(i, p, |n| n.to_int().map_err(|e| e.to_string()))
        })
        .register_fn("float", |i: &mut ScriptInstance, p: &str| {
            read(i, p, |n| n.to_float().map_err(|e| e.to_string()))
        })
        .register_fn("bool", |i: &mut ScriptInstance, p: &str| {
            read(i, p, |n| n.to_bool().map_err(|e| e.to_string()))
        })
        .register_fn("text", |i: &mut ScriptInstance, p: &str| {
            read(i, p, |n| Ok(ImmutableString::from(n.to_text())))
        })
        .register_fn("size", |i: &mut ScriptInstance, p: &str| {
            read(i, p, |n| {
                n.to_size()
                    .map_err(|e| e.to_string())
                    .and_then(|b| i64::try_from(b).map_err(|_| format!("size {b} is too large")))
            })
        })
        .register_fn("duration", |i: &mut ScriptInstance, p: &str| {
            read(i, p, |n| {
                n.to_duration()
                    .map(|d| d.as_secs_f64())
                    .map_err(|e| e.to_string())
            })
        })
        .register_fn("get", |i: &mut ScriptInstance, p: &str| {
            read(i, p, |n| Ok(to_dynamic(n)))
        })
        .register_fn("has", |i: &mut ScriptInstance, p: &str| {
            i.config
                .as_ref()
                .is_some_and(|t| matches!(t.lookup(p), Lookup::Present(_)))
        })
        .register_fn("keys", |i: &mut ScriptInstance, p: &str| {
            read(i, p, |n| match &n.value {
                ConfigValue::Map(m) => Ok(m
                    .keys()
                    .map(|k| Dynamic::from(ImmutableString::from(k)))
                    .collect::<Array>()),
                _ => Err(format!("expected a map, found {} {n}", n.type_name())),
            })
        });

    engine
        .register_type_with_name::<ScriptCluster>("Cluster")
        .register_get("version", |c: &mut ScriptCluster| c.version.clone())
        .register_fn(
            "version_matches",
            |c: &mut ScriptCluster, constraint: &str| {
                VersionConstraint::parse(constraint)
                    .map(|vc| vc.matches(c.semver.as_ref()))
                    .map_err(|e| runtime(e.to_string()))
            },
        )
        .register_fn("instances", |c: &mut ScriptCluster| {
            c.instances
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect::<Array>()
        })
        .register_fn("instances", |c: &mut ScriptCluster, component: &str| {
            c.instances
                .iter()
                .filter(|i| i.component == component)
                .cloned()
                .map(Dynamic::from)
                .collect::<Array>()
        })
        .register_fn("count", |c: &mut ScriptCluster, component: &str| {
            c.instances
                .iter()
                .filter(|i| i.component == component)
                .count() as i64
        });

    engine
        .register_type_with_name::<RowValue>("row")
        .register_fn("ok", |i: Dynamic| row(i, ScriptState::Ok, ""))
        .register_fn("abnormal", |i: Dynamic| row(i, ScriptState::Abnormal, ""))
        .register_fn("abnormal", |i: Dynamic, m: &str| {
            row(i, ScriptState::Abnormal, m)
        })
        .register_fn("nodata", |i: Dynamic, m: &str| {
            row(i, ScriptState::NoData, m)
        });
    engine
}

fn runtime(message: String) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(message.into(), Position::NONE))
}

fn read<T>(
    i: &ScriptInstance,
    path: &str,
    f: impl FnOnce(&ConfigNode) -> Result<T, String>,
) -> Result<T, Box<EvalAltResult>> {
    let Some(tree) = &i.config else {
        return Err(Box::new(EvalAltResult::ErrorRuntime(
            Dynamic::from(MissingPath(format!("{} has no config", i.tag))),
            Position::NONE,
        )));
    };
    match tree.lookup(path) {
        Lookup::Present(n) => f(n).map_err(|e| runtime(format!("`{path}`: {e}"))),
        Lookup::Null(_) => Err(Box::new(EvalAltResult::ErrorRuntime(
            Dynamic::from(MissingPath(format!("`{path}` is null"))),
            Position::NONE,
        ))),
        Lookup::Missing => Err(Box::new(EvalAltResult::ErrorRuntime(
            Dynamic::from(MissingPath(format!("`{path}` is missing"))),
            Position::NONE,
        ))),
    }
}

fn to_dynamic(n: &ConfigNode) -> Dynamic {
    match &n.value {
        ConfigValue::Null => Dynamic::UNIT,
        ConfigValue::Bool(b) => (*b).into(),
        ConfigValue::Int(i) => (*i).into(),
        ConfigValue::UInt(u) => i64::try_from(*u)
            .map(Dynamic::from)
            .unwrap_or_else(|_| Dynamic::from(*u as f64)),
        ConfigValue::Float(f) => (*f).into(),
        ConfigValue::String(s) => ImmutableString::from(s.as_str()).into(),
        ConfigValue::Array(a) => a.iter().map(to_dynamic).collect::<Array>().into(),
        ConfigValue::Map(m) => m
            .iter()
            .map(|(k, v)| (k.into(), to_dynamic(v)))
            .collect::<Map>()
            .into(),
    }
}

/// A row a cluster script returns (`ok(i)`, `abnormal(i, why)`, `nodata(i, why)`). Opaque to
/// the script, so that Rhai's data-size limits count a `rows` array as its rows rather than as
/// the sum of their messages: a 64 KiB string limit spread over 1,000 instances' messages
/// failed whole rules on large clusters.
#[derive(Debug, Clone)]
struct RowValue {
    instances: Dynamic,
    state: ScriptState,
    message: String,
}

fn row(instances: Dynamic, state: ScriptState, message: &str) -> RowValue {
    RowValue {
        instances,
        state,
        message: message.to_string(),
    }
}

/// Compiles `source` with `names` known as variables, so that a typo in a name is a load error.
fn compile_with(names: &[&str], source: &str) -> Result<Arc<AST>, String> {
    let mut scope = Scope::new();
    for name in names {
        scope.push_dynamic(*name, Dynamic::UNIT);
    }
    ENGINE
        .compile_with_scope(&scope, source)
        .map(Arc::new)
        .map_err(|e| format!("rhai: {e}"))
}

/// Compiles an expression (`abnormal_when: {rhai: …}`): statements are allowed, the last value
/// is the answer. It sees `cfg`, `cfgs`, `cluster`, and `doc` (set only for rules over a
/// document source: `source: system`, …).
pub(crate) fn compile_expression(source: &str) -> Result<Arc<AST>, String> {
    compile_with(&["cfg", "cfgs", "cluster", "doc"], source)
}

/// Compiles a cluster script (`rhai_script`), which sees `cluster`.
pub(crate) fn compile_script(source: &str) -> Result<Arc<AST>, String> {
    compile_with(&["cluster"], source)
}

/// Compiles a `host_formula` expression, which sees `cpus`, `memory` (bytes) and `cfg`.
pub(crate) fn compile_formula(source: &str) -> Result<Arc<AST>, String> {
    compile_with(&["cpus", "memory", "cfg"], source)
}

/// Evaluates a `host_formula` expression for instance `index` on a host with `cpus` logical
/// CPUs and `memory` bytes: the default(s) it gives, or why it gave none.
pub(crate) fn eval_formula(
    ast: &AST,
    cluster: &ScriptCluster,
    index: usize,
    cpus: i64,
    memory: i64,
) -> Result<Vec<f64>, String> {
    let mut scope = Scope::new();
    scope.push("cpus", cpus).push("memory", memory);
    if let Some(instance) = cluster.instance(index) {
        scope.push("cfg", instance.clone());
    }
    let value: Dynamic = ENGINE
        .eval_ast_with_scope(&mut scope, ast)
        .map_err(|e| match *e {
            // What a reader or `throw` raised: its message.
            EvalAltResult::ErrorRuntime(ref value, _) if value.is::<MissingPath>() => {
                value.clone().cast::<MissingPath>().0
            }
            EvalAltResult::ErrorRuntime(ref value, _) => value.to_string(),
            other => other.to_string(),
        })?;
    let items = match value.clone().try_cast::<Array>() {
        Some(items) => items,
        None => vec![value],
    };
    items
        .iter()
        .map(|v| match (v.as_float(), v.as_int()) {
            (Ok(x), _) => Ok(x),
            (_, Ok(n)) => Ok(n as f64),
            _ => Err(format!(
                "the formula gave {}, expected a number or an array of numbers",
                v.type_name()
            )),
        })
        .collect()
}

fn undecided(err: Box<EvalAltResult>) -> Undecided {
    let mut err = err;
    loop {
        match *err {
            EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => err = inner,
            EvalAltResult::ErrorRuntime(ref value, _) if value.is::<MissingPath>() => {
                return Undecided::Missing(value.clone().cast::<MissingPath>().0);
            }
            EvalAltResult::ErrorTerminated(ref token, _) if token.is::<OutOfOperations>() => {
                let limit = token.clone().cast::<OutOfOperations>().0;
                return Undecided::Failed(format!("script stopped: more than {limit} operations"));
            }
            ref other => return Undecided::Failed(format!("script failed: {other}")),
        }
    }
}

fn scope<'a>(cluster: &ScriptCluster, tuple: &[usize]) -> Scope<'a> {
    let mut scope = Scope::new();
    if !tuple.is_empty() {
        let members: Array = tuple
            .iter()
            .filter_map(|&i| cluster.instance(i).cloned())
            .map(Dynamic::from)
            .collect();
        scope.push_dynamic("cfg", members.first().cloned().unwrap_or(Dynamic::UNIT));
        scope.push("cfgs", members);
    }
    scope.push("cluster", cluster.clone());
    scope
}

/// Evaluates an expression for one tuple of instances: `Ok(true)` = abnormal.
pub(crate) fn eval_expression(
    ast: &AST,
    cluster: &ScriptCluster,
    tuple: &[usize],
) -> Result<bool, Undecided> {
    let mut scope = scope(cluster, tuple);
    let value: Dynamic = ENGINE
        .eval_ast_with_scope(&mut scope, ast)
        .map_err(undecided)?;
    value.as_bool().map_err(|found| {
        Undecided::Failed(format!(
            "expression returned {found}, expected a bool (true = abnormal)"
        ))
    })
}

/// Evaluates an expression for one document of a non-config source (`source: system`, …):
/// the document is `doc`, read with the same functions as `cfg` (`doc.int("vm.swappiness")`);
/// `cfg`/`cfgs` are the instances the row is about, `cluster` the cluster.
pub(crate) fn eval_document_expression(
    ast: &AST,
    cluster: &ScriptCluster,
    tuple: &[usize],
    doc: Arc<ConfigTree>,
) -> Result<bool, Undecided> {
    let mut scope = scope(cluster, tuple);
    let view = ScriptInstance {
        index: usize::MAX,
        tag: doc.file.as_ref().into(),
        component: ImmutableString::new(),
        host: ImmutableString::new(),
        port: 0,
        config: Some(doc),
        insight: None,
    };
    scope.push("doc", view);
    let value: Dynamic = ENGINE
        .eval_ast_with_scope(&mut scope, ast)
        .map_err(undecided)?;
    value.as_bool().map_err(|found| {
        Undecided::Failed(format!(
            "expression returned {found}, expected a bool (true = abnormal)"
        ))
    })
}

/// One row a cluster script reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScriptRow {
    pub(crate) instances: Vec<usize>,
    pub(crate) state: ScriptState,
    pub(crate) message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScriptState {
    Ok,
    Abnormal,
    NoData,
}

/// Runs a cluster script; the rows it returns, or why it failed.
pub(crate) fn run_script(ast: &AST, cluster: &ScriptCluster) -> Result<Vec<ScriptRow>, Undecided> {
    let mut scope = scope(cluster, &[]);
    let budget = MAX_OPERATIONS
        .saturating_add(OPERATIONS_PER_INSTANCE.saturating_mul(cluster.instances.len() as u64));
    let value: Dynamic =
        with_budget(budget, || ENGINE.eval_ast_with_scope(&mut scope, ast)).map_err(undecided)?;
    let Some(items) = value.clone().try_cast::<Array>() else {
        return Err(Undecided::Failed(format!(
            "script returned {}, expected an array of rows (ok(i), abnormal(i), nodata(i, why))",
            value.type_name()
        )));
    };
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let Some(RowValue {
            instances: target,
            state,
            message,
        }) = item.clone().try_cast::<RowValue>()
        else {
            return Err(Undecided::Failed(format!(
                "row {} is not a row (use ok(i), abnormal(i), nodata(i, why))",
                item.type_name()
            )));
        };
        let members: Vec<Dynamic> = match target.clone().try_cast::<Array>() {
            Some(a) => a,
            None => vec![target],
        };
        let mut instances = Vec::with_capacity(members.len());
        for m in members {
            match m.clone().try_cast::<ScriptInstance>() {
                Some(i) => instances.push(i.index),
                None => {
                    return Err(Undecided::Failed(format!(
                        "a row names {}, expected an instance",
                        m.type_name()
                    )));
                }
            }
        }
        rows.push(ScriptRow {
            instances,
            state,
            message,
        });
    }
    Ok(rows)
}
