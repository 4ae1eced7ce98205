//! The declarative condition language: what makes a row abnormal.
//!
//! A condition is a YAML map with one shape:
//!
//! | Shape | Abnormal when |
//! |---|---|
//! | `{path: P, lt: 1}` (also `le`, `gt`, `ge`, `eq`, `ne`) | the value at `P` compares so with the literal |
//! | `{path: P, gt: {path: Q}}` | … with the value at `Q` of the same instance |
//! | `{path: P, in: [debug, trace]}` / `not_in` | the value is (not) one of the literals |
//! | `{path: P, between: [0, 100]}` / `outside` | the value is inside / outside the inclusive range |
//! | `{path: P, matches: '^v?5\.'}` | the value's text matches the regular expression |
//! | `{each: P, any: C}` / `{each: P, all: C}` | some / every value of the map or array at `P` meets `C` (whose paths are relative to that value; `if_empty` says what an empty collection gives) |
//! | `{differ: P}` (with optional `as`) | the members of a group (the values of the map or array at the root, e.g. every TiKV of a `subject: component` rule) hold more than one distinct value at `P`; members without `P` are left out |
//! | `{all_of: [C…]}`, `{any_of: [C…]}`, `{not: C}` | combinations |
//! | `{rhai: 'cfg.int("a") > cfg.int("b")'}` | a Rhai expression over the instance (`cfg`), the tuple (`cfgs`) and the cluster |
//!
//! Comparisons read the value as `as` says (`int`, `float`, `bool`, `string`, `size`,
//! `duration`, `version`); without `as`, a number literal compares numerically (integers and
//! floats mix), a `true`/`false` literal as a bool, a string literal as text. Sizes use
//! KB = KiB = 1024 like diag; durations accept `1h0m0s` and `1d2h`.
//!
//! A path that is missing (or `null`) makes the row `nodata`. This deliberately differs from
//! diag, whose `ToInt(missing)` is 0: a key renamed in a newer version would otherwise fire
//! `< 1` rules as false alarms. A value of the wrong type makes the row `error`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use semver::Version;
use serde::Deserialize;

use crate::model::units::{parse_duration, parse_size};
use crate::model::value::{ConfigNode, ConfigValue, Lookup};
use crate::model::version::parse_version;

/// How a comparison reads values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// An integer.
    Int,
    /// A number; integers are read as floats.
    Float,
    /// A bool (the strings `"true"`/`"false"` count).
    Bool,
    /// The value's text.
    String,
    /// A size in bytes (`8GiB`, `512KB`, a byte count).
    Size,
    /// A duration (`1h0m0s`, `30m`, `0`).
    Duration,
    /// A semantic version (`v5.4.0`, `5.4`).
    Version,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `lt`
    Lt,
    /// `le`
    Le,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
}

impl CmpOp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Ne => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
        }
    }

    fn is_ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

/// A literal written in a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// A string.
    Text(String),
}

/// The other side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A literal.
    Literal(Literal),
    /// Another path of the same instance.
    Path(String),
}

/// A compiled condition. Evaluates to `true` when the row is abnormal.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Condition {
    /// `path op operand`.
    Compare {
        /// Path read.
        path: String,
        /// How values are read.
        ty: Option<ValueType>,
        /// The operator.
        op: CmpOp,
        /// The other side.
        rhs: Operand,
    },
    /// `path in [..]` (or `not_in` when `negate`).
    OneOf {
        /// Path read.
        path: String,
        /// How values are read.
        ty: Option<ValueType>,
        /// The literals.
        values: Vec<Literal>,
        /// `not_in`.
        negate: bool,
    },
    /// `path between [lo, hi]` (or `outside` when `negate`), inclusive.
    Range {
        /// Path read.
        path: String,
        /// How values are read.
        ty: Option<ValueType>,
        /// Lower bound.
        lo: Literal,
        /// Upper bound.
        hi: Literal,
        /// `outside`.
        negate: bool,
    },
    /// The value's text matches a regular expression.
    Matches {
        /// Path read.
        path: String,
        /// The expression.
        regex: Regex,
    },
    /// Every condition holds.
    AllOf(Vec<Condition>),
    /// Some condition holds.
    AnyOf(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
    /// A quantifier over the values of a map or array.
    Each {
        /// The map or array.
        path: String,
        /// `all` (true) or `any` (false).
        all: bool,
        /// Checked against each value; its paths are relative to the value.
        condition: Box<Condition>,
        /// What an empty collection gives.
        if_empty: bool,
    },
    /// The members of the group at the root disagree on a value.
    Differ {
        /// Path read in each member.
        path: String,
        /// How values are read (sizes and durations compare by amount, not spelling).
        ty: Option<ValueType>,
    },
    /// A Rhai expression (see [`crate::rules::script`]).
    Rhai(Arc<rhai::AST>),
}

/// Why a condition could not decide for one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Undecided {
    /// A path is missing or null: the row is `nodata`.
    Missing(String),
    /// A value has the wrong type, or a script failed: the row is `error`.
    Failed(String),
}

/// What a condition evaluates against besides the config tree: the Rhai hook.
pub(crate) trait ScriptHook {
    fn eval_expression(&self, ast: &rhai::AST) -> Result<bool, Undecided>;
}

impl Condition {
    /// Every path read from the instance root (not those relative to `each` values).
    pub fn paths(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Condition::Compare { path, rhs, .. } => {
                out.push(path);
                if let Operand::Path(p) = rhs {
                    out.push(p);
                }
            }
            Condition::OneOf { path, .. }
            | Condition::Range { path, .. }
            | Condition::Matches { path, .. } => out.push(path),
            Condition::Each { path, .. } | Condition::Differ { path, .. } => out.push(path),
            Condition::AllOf(cs) | Condition::AnyOf(cs) => {
                cs.iter().for_each(|c| c.collect_paths(out))
            }
            Condition::Not(c) => c.collect_paths(out),
            Condition::Rhai(_) => {}
        }
    }

    /// Evaluates against one config tree root: `Ok(true)` = abnormal.
    pub(crate) fn eval(&self, root: &ConfigNode, hook: &dyn ScriptHook) -> Result<bool, Undecided> {
        match self {
            Condition::Compare { path, ty, op, rhs } => {
                let left = read(root, path)?;
                let ty = compare_type(*ty, rhs);
                let a = coerce(left, ty, path)?;
                let b = match rhs {
                    Operand::Literal(l) => literal_as(l, ty)?,
                    Operand::Path(p) => coerce(read(root, p)?, ty, p)?,
                };
                Ok(op.holds(compare(&a, &b, path)?))
            }
            Condition::OneOf {
                path,
                ty,
                values,
                negate,
            } => {
                let node = read(root, path)?;
                let mut found = false;
                for lit in values {
                    let t = ty.map(Inferred::from).unwrap_or_else(|| inferred(lit));
                    let (a, b) = (coerce(node, t, path)?, literal_as(lit, t)?);
                    if compare(&a, &b, path)? == Ordering::Equal {
                        found = true;
                        break;
                    }
                }
                Ok(found != *negate)
            }
            Condition::Range {
                path,
                ty,
                lo,
                hi,
                negate,
            } => {
                let node = read(root, path)?;
                let t = ty.map(Inferred::from).unwrap_or_else(|| inferred(lo));
                let v = coerce(node, t, path)?;
                let inside = compare(&v, &literal_as(lo, t)?, path)? != Ordering::Less
                    && compare(&v, &literal_as(hi, t)?, path)? != Ordering::Greater;
                Ok(inside != *negate)
            }
            Condition::Matches { path, regex } => Ok(regex.is_match(&read(root, path)?.to_text())),
            Condition::AllOf(cs) => {
                for c in cs {
                    if !c.eval(root, hook)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::AnyOf(cs) => {
                for c in cs {
                    if c.eval(root, hook)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(c) => Ok(!c.eval(root, hook)?),
            Condition::Each {
                path,
                all,
                condition,
                if_empty,
            } => {
                let node = read(root, path)?;
                let items: Vec<&ConfigNode> = match &node.value {
                    ConfigValue::Map(m) => m.values().collect(),
                    ConfigValue::Array(a) => a.iter().collect(),
                    _ => {
                        return Err(Undecided::Failed(format!(
                            "`{path}`: expected a map or array, found {} {node}",
                            node.type_name()
                        )));
                    }
                };
                if items.is_empty() {
                    return Ok(*if_empty);
                }
                for item in items {
                    let hit = condition.eval(item, hook).map_err(|e| match e {
                        Undecided::Missing(p) => Undecided::Missing(format!("{path}.*.{p}")),
                        other => other,
                    })?;
                    if hit != *all {
                        return Ok(hit);
                    }
                }
                Ok(*all)
            }
            Condition::Differ { path, ty } => {
                let members: Vec<&ConfigNode> = match &root.value {
                    ConfigValue::Map(m) => m.values().collect(),
                    ConfigValue::Array(a) => a.iter().collect(),
                    _ => {
                        return Err(Undecided::Failed(format!(
                            "`differ: {path}` compares the members of a group; the root is {} {root}",
                            root.type_name()
                        )));
                    }
                };
                let mut first: Option<Scalar> = None;
                for member in members {
                    let Lookup::Present(node) = member.lookup(path) else {
                        continue;
                    };
                    let value = match ty {
                        Some(t) => coerce(node, *t, path)?,
                        None => Scalar::Text(Cow::Owned(node.to_text())),
                    };
                    match &first {
                        None => first = Some(value),
                        Some(f) if compare(f, &value, path)? != Ordering::Equal => return Ok(true),
                        Some(_) => {}
                    }
                }
                if first.is_none() {
                    return Err(Undecided::Missing(format!(
                        "no member of the group has `{path}`"
                    )));
                }
                Ok(false)
            }
            Condition::Rhai(ast) => hook.eval_expression(ast),
        }
    }
}

fn read<'a>(root: &'a ConfigNode, path: &str) -> Result<&'a ConfigNode, Undecided> {
    present(root.lookup(path), path)
}

fn present<'a>(found: Lookup<'a>, path: &str) -> Result<&'a ConfigNode, Undecided> {
    match found {
        Lookup::Present(n) => Ok(n),
        Lookup::Null(_) => Err(Undecided::Missing(format!("`{path}` is null"))),
        Lookup::Missing => Err(Undecided::Missing(format!("`{path}` is missing"))),
    }
}

/// How a comparison reads its two sides.
fn compare_type(ty: Option<ValueType>, rhs: &Operand) -> Inferred {
    match (ty, rhs) {
        (Some(t), _) => Inferred::Typed(t),
        (None, Operand::Literal(l)) => inferred(l),
        (None, Operand::Path(_)) => Inferred::Number,
    }
}

/// A `path op literal` condition with its literal read once, evaluated on a value already
/// looked up: what a rule that reads one value (every `default_config` row) does per instance,
/// so the value the row shows and the value compared are one lookup. Gives exactly what
/// [`Condition::eval`] gives on the tree the value came from.
pub(crate) struct PreparedCompare<'a> {
    path: &'a str,
    ty: Inferred,
    op: CmpOp,
    literal: Result<Scalar<'a>, Undecided>,
}

impl Condition {
    /// The condition as a [`PreparedCompare`], when it is a comparison with a literal.
    pub(crate) fn prepared(&self) -> Option<PreparedCompare<'_>> {
        match self {
            Condition::Compare {
                path,
                ty,
                op,
                rhs: rhs @ Operand::Literal(lit),
            } => {
                let ty = compare_type(*ty, rhs);
                Some(PreparedCompare {
                    path,
                    ty,
                    op: *op,
                    literal: literal_as(lit, ty),
                })
            }
            _ => None,
        }
    }
}

impl PreparedCompare<'_> {
    /// The path compared.
    pub(crate) fn path(&self) -> &str {
        self.path
    }

    /// `Ok(true)` = abnormal, for `found`, the lookup of [`PreparedCompare::path`].
    pub(crate) fn eval(&self, found: Lookup<'_>) -> Result<bool, Undecided> {
        let a = coerce(present(found, self.path)?, self.ty, self.path)?;
        let b = self.literal.as_ref().map_err(Clone::clone)?;
        Ok(self.op.holds(compare(&a, b, self.path)?))
    }
}

/// How a comparison without `as` reads its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inferred {
    Number,
    Typed(ValueType),
}

impl From<ValueType> for Inferred {
    fn from(t: ValueType) -> Inferred {
        Inferred::Typed(t)
    }
}

impl From<Option<ValueType>> for Inferred {
    fn from(t: Option<ValueType>) -> Inferred {
        t.map(Inferred::Typed).unwrap_or(Inferred::Number)
    }
}

fn inferred(lit: &Literal) -> Inferred {
    match lit {
        Literal::Bool(_) => Inferred::Typed(ValueType::Bool),
        Literal::Int(_) | Literal::Float(_) => Inferred::Number,
        Literal::Text(_) => Inferred::Typed(ValueType::String),
    }
}

/// A value read for comparison.
#[derive(Debug, Clone, PartialEq)]
enum Scalar<'a> {
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Borrowed from the node or literal when it is a string: comparing allocates nothing.
    Text(Cow<'a, str>),
    Size(u64),
    Duration(Duration),
    Version(Version),
}

fn coerce<'a>(
    node: &'a ConfigNode,
    ty: impl Into<Inferred>,
    path: &str,
) -> Result<Scalar<'a>, Undecided> {
    let fail = |e: crate::model::value::ValueError| Undecided::Failed(format!("`{path}`: {e}"));
    Ok(match ty.into() {
        Inferred::Number => match node.value {
            ConfigValue::Int(i) => Scalar::Int(i),
            _ => Scalar::Float(node.to_float().map_err(fail)?),
        },
        Inferred::Typed(ValueType::Int) => Scalar::Int(node.to_int().map_err(fail)?),
        Inferred::Typed(ValueType::Float) => Scalar::Float(node.to_float().map_err(fail)?),
        Inferred::Typed(ValueType::Bool) => Scalar::Bool(node.to_bool().map_err(fail)?),
        Inferred::Typed(ValueType::String) => Scalar::Text(match &node.value {
            ConfigValue::String(s) => Cow::Borrowed(s.as_str()),
            _ => Cow::Owned(node.to_text()),
        }),
        Inferred::Typed(ValueType::Size) => Scalar::Size(node.to_size().map_err(fail)?),
        Inferred::Typed(ValueType::Duration) => Scalar::Duration(node.to_duration().map_err(fail)?),
        Inferred::Typed(ValueType::Version) => {
            let text = node.to_text();
            Scalar::Version(parse_version(&text).ok_or_else(|| {
                Undecided::Failed(format!(
                    "`{path}`: expected version, found {} {node}",
                    node.type_name()
                ))
            })?)
        }
    })
}

fn literal_as(lit: &Literal, ty: impl Into<Inferred>) -> Result<Scalar<'_>, Undecided> {
    literal_scalar(lit, ty.into()).map_err(Undecided::Failed)
}

/// Reads a literal the way the condition reads values; used at load time too, so a literal
/// that cannot be read is a load error, never a run-time surprise.
fn literal_scalar(lit: &Literal, ty: Inferred) -> Result<Scalar<'_>, String> {
    let bad = |what: &str| format!("literal {} is not a {what}", literal_text(lit));
    Ok(match (ty, lit) {
        (Inferred::Number, Literal::Int(i)) => Scalar::Int(*i),
        (Inferred::Number, Literal::Float(f)) => Scalar::Float(*f),
        (Inferred::Number, _) => return Err(bad("number")),
        (Inferred::Typed(ValueType::Int), Literal::Int(i)) => Scalar::Int(*i),
        (Inferred::Typed(ValueType::Int), _) => return Err(bad("integer")),
        (Inferred::Typed(ValueType::Float), Literal::Int(i)) => Scalar::Float(*i as f64),
        (Inferred::Typed(ValueType::Float), Literal::Float(f)) => Scalar::Float(*f),
        (Inferred::Typed(ValueType::Float), _) => return Err(bad("number")),
        (Inferred::Typed(ValueType::Bool), Literal::Bool(b)) => Scalar::Bool(*b),
        (Inferred::Typed(ValueType::Bool), _) => return Err(bad("bool")),
        (Inferred::Typed(ValueType::String), Literal::Text(s)) => Scalar::Text(Cow::Borrowed(s)),
        (Inferred::Typed(ValueType::String), l) => Scalar::Text(Cow::Owned(literal_text(l))),
        (Inferred::Typed(ValueType::Size), Literal::Int(i)) if *i >= 0 => Scalar::Size(*i as u64),
        (Inferred::Typed(ValueType::Size), Literal::Text(s)) => {
            Scalar::Size(parse_size(s).map_err(|e| e.to_string())?)
        }
        (Inferred::Typed(ValueType::Size), _) => return Err(bad("size")),
        (Inferred::Typed(ValueType::Duration), Literal::Int(0)) => Scalar::Duration(Duration::ZERO),
        (Inferred::Typed(ValueType::Duration), Literal::Text(s)) => {
            Scalar::Duration(parse_duration(s).map_err(|e| e.to_string())?)
        }
        (Inferred::Typed(ValueType::Duration), _) => return Err(bad("duration")),
        (Inferred::Typed(ValueType::Version), l) => {
            Scalar::Version(parse_version(&literal_text(l)).ok_or_else(|| bad("version"))?)
        }
    })
}

fn literal_text(lit: &Literal) -> String {
    match lit {
        Literal::Bool(b) => b.to_string(),
        Literal::Int(i) => i.to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::Text(s) => s.clone(),
    }
}

fn compare(a: &Scalar<'_>, b: &Scalar<'_>, path: &str) -> Result<Ordering, Undecided> {
    let ord = match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => Some(x.cmp(y)),
        (Scalar::Int(x), Scalar::Float(y)) => (*x as f64).partial_cmp(y),
        (Scalar::Float(x), Scalar::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Scalar::Float(x), Scalar::Float(y)) => x.partial_cmp(y),
        (Scalar::Bool(x), Scalar::Bool(y)) => Some(x.cmp(y)),
        (Scalar::Text(x), Scalar::Text(y)) => Some(x.cmp(y)),
        (Scalar::Size(x), Scalar::Size(y)) => Some(x.cmp(y)),
        (Scalar::Duration(x), Scalar::Duration(y)) => Some(x.cmp(y)),
        (Scalar::Version(x), Scalar::Version(y)) => Some(x.cmp(y)),
        _ => None,
    };
    ord.ok_or_else(|| Undecided::Failed(format!("`{path}`: cannot compare {a:?} with {b:?}")))
}

/// A condition as written in YAML, before compiling.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConditionSpec {
    path: Option<String>,
    #[serde(rename = "as")]
    as_type: Option<ValueType>,
    eq: Option<serde_yaml::Value>,
    ne: Option<serde_yaml::Value>,
    lt: Option<serde_yaml::Value>,
    le: Option<serde_yaml::Value>,
    gt: Option<serde_yaml::Value>,
    ge: Option<serde_yaml::Value>,
    #[serde(rename = "in")]
    in_list: Option<Vec<serde_yaml::Value>>,
    not_in: Option<Vec<serde_yaml::Value>>,
    between: Option<Vec<serde_yaml::Value>>,
    outside: Option<Vec<serde_yaml::Value>>,
    matches: Option<String>,
    each: Option<String>,
    differ: Option<String>,
    any: Option<Box<ConditionSpec>>,
    all: Option<Box<ConditionSpec>>,
    if_empty: Option<bool>,
    all_of: Option<Vec<ConditionSpec>>,
    any_of: Option<Vec<ConditionSpec>>,
    not: Option<Box<ConditionSpec>>,
    rhai: Option<String>,
}

impl ConditionSpec {
    /// A bare Rhai expression (the only form that can read a tuple of instances).
    pub(crate) fn is_rhai(&self) -> bool {
        self.rhai.is_some()
            && self.path.is_none()
            && self.all_of.is_none()
            && self.any_of.is_none()
            && self.not.is_none()
            && self.each.is_none()
    }
}

/// Compiles a condition; `rhai` compiles expressions. Errors say what is wrong, in words.
pub(crate) fn compile(
    spec: &ConditionSpec,
    rhai: &dyn Fn(&str) -> Result<Arc<rhai::AST>, String>,
) -> Result<Condition, String> {
    let mut shapes: Vec<&str> = Vec::new();
    let s = spec;
    for (set, name) in [
        (s.eq.is_some(), "eq"),
        (s.ne.is_some(), "ne"),
        (s.lt.is_some(), "lt"),
        (s.le.is_some(), "le"),
        (s.gt.is_some(), "gt"),
        (s.ge.is_some(), "ge"),
        (s.in_list.is_some(), "in"),
        (s.not_in.is_some(), "not_in"),
        (s.between.is_some(), "between"),
        (s.outside.is_some(), "outside"),
        (s.matches.is_some(), "matches"),
        (s.each.is_some(), "each"),
        (s.differ.is_some(), "differ"),
        (s.all_of.is_some(), "all_of"),
        (s.any_of.is_some(), "any_of"),
        (s.not.is_some(), "not"),
        (s.rhai.is_some(), "rhai"),
    ] {
        if set {
            shapes.push(name);
        }
    }
    let shape = match shapes.as_slice() {
        [one] => *one,
        [] => return Err("a condition needs one operator (eq, ne, lt, le, gt, ge, in, not_in, between, outside, matches), or each/differ/all_of/any_of/not/rhai".into()),
        many => return Err(format!("a condition has exactly one operator; found {}: combine them with all_of or any_of", many.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "))),
    };
    let needs_path = matches!(
        shape,
        "eq" | "ne"
            | "lt"
            | "le"
            | "gt"
            | "ge"
            | "in"
            | "not_in"
            | "between"
            | "outside"
            | "matches"
    );
    if needs_path != s.path.is_some() && shape != "each" {
        return Err(if needs_path {
            format!("`{shape}` needs a `path`")
        } else {
            format!("`path` does not go with `{shape}`")
        });
    }
    if s.path.is_some() && shape == "each" {
        return Err("`each` names the collection; put `path` inside `any`/`all`".into());
    }
    if s.path.is_some() && shape == "differ" {
        return Err(
            "`differ` names the path itself: `{differ: storage.block-cache.capacity}`".into(),
        );
    }
    if s.as_type.is_some() && !needs_path && shape != "differ" {
        return Err(format!("`as` does not go with `{shape}`"));
    }
    if s.if_empty.is_some() && shape != "each" {
        return Err("`if_empty` only goes with `each`".into());
    }
    if (s.any.is_some() || s.all.is_some()) && shape != "each" {
        return Err("`any`/`all` go with `each: <path of a map or array>`".into());
    }
    let path = s.path.clone().unwrap_or_default();
    if path != path.trim() {
        return Err(format!("`path` `{path}` has surrounding spaces"));
    }
    let ty = s.as_type;
    let cmp = |op: CmpOp, v: &serde_yaml::Value| -> Result<Condition, String> {
        let rhs = operand(v)?;
        if let Operand::Literal(l) = &rhs {
            let t = ty.map(Inferred::Typed).unwrap_or_else(|| inferred(l));
            literal_scalar(l, t)?;
            if op.is_ordering() && matches!(t, Inferred::Typed(ValueType::String | ValueType::Bool))
            {
                return Err(format!(
                    "`{}` orders values; a {} literal needs `as: int|float|size|duration|version`",
                    shape,
                    literal_kind(l)
                ));
            }
        }
        Ok(Condition::Compare {
            path: path.clone(),
            ty,
            op,
            rhs,
        })
    };
    let list = |items: &Vec<serde_yaml::Value>| -> Result<Vec<Literal>, String> {
        items
            .iter()
            .map(|v| {
                let l = literal(v)?;
                literal_scalar(&l, ty.map(Inferred::Typed).unwrap_or_else(|| inferred(&l)))?;
                Ok(l)
            })
            .collect()
    };
    let range = |items: &Vec<serde_yaml::Value>, negate: bool| -> Result<Condition, String> {
        let [lo, hi] = items.as_slice() else {
            return Err(format!("`{shape}` takes two bounds: [low, high]"));
        };
        let (lo, hi) = (literal(lo)?, literal(hi)?);
        let t = ty.map(Inferred::Typed).unwrap_or_else(|| inferred(&lo));
        let (a, b) = (literal_scalar(&lo, t)?, literal_scalar(&hi, t)?);
        if compare(&a, &b, &path).map_err(|_| format!("`{shape}` bounds are of different types"))?
            == Ordering::Greater
        {
            return Err(format!(
                "`{shape}` bounds are reversed: {} > {}",
                literal_text(&lo),
                literal_text(&hi)
            ));
        }
        Ok(Condition::Range {
            path: path.clone(),
            ty,
            lo,
            hi,
            negate,
        })
    };
    Ok(match shape {
        "eq" => cmp(CmpOp::Eq, s.eq.as_ref().unwrap_or(&serde_yaml::Value::Null))?,
        "ne" => cmp(CmpOp::Ne, s.ne.as_ref().unwrap_or(&serde_yaml::Value::Null))?,
        "lt" => cmp(CmpOp::Lt, s.lt.as_ref().unwrap_or(&serde_yaml::Value::Null))?,
        "le" => cmp(CmpOp::Le, s.le.as_ref().unwrap_or(&serde_yaml::Value::Null))?,
        "gt" => cmp(CmpOp::Gt, s.gt.as_ref().unwrap_or(&serde_yaml::Value::Null))?,
        "ge" => cmp(CmpOp::Ge, s.ge.as_ref().unwrap_or(&serde_yaml::Value::Null))?,
        "in" => Condition::OneOf {
            path,
            ty,
            values: list(s.in_list.as_ref().unwrap_or(&Vec::new()))?,
            negate: false,
        },
        "not_in" => Condition::OneOf {
            path,
            ty,
            values: list(s.not_in.as_ref().unwrap_or(&Vec::new()))?,
            negate: true,
        },
        "between" => range(s.between.as_ref().unwrap_or(&Vec::new()), false)?,
        "outside" => range(s.outside.as_ref().unwrap_or(&Vec::new()), true)?,
        "matches" => {
            if ty.is_some() {
                return Err("`matches` reads text; drop `as`".into());
            }
            let re = s.matches.as_deref().unwrap_or_default();
            Condition::Matches {
                path,
                regex: Regex::new(re).map_err(|e| format!("`matches`: {e}"))?,
            }
        }
        "each" => {
            let (all, inner) = match (&s.any, &s.all) {
                (Some(c), None) => (false, c),
                (None, Some(c)) => (true, c),
                _ => return Err("`each` needs exactly one of `any` or `all`".into()),
            };
            let collection = s.each.clone().unwrap_or_default();
            Condition::Each {
                path: collection,
                all,
                condition: Box::new(compile(inner, rhai)?),
                if_empty: s.if_empty.unwrap_or(all),
            }
        }
        "differ" => {
            let path = s.differ.clone().unwrap_or_default();
            if path.trim().is_empty() || path != path.trim() {
                return Err(format!(
                    "`differ` needs a path without surrounding spaces, found `{path}`"
                ));
            }
            Condition::Differ { path, ty }
        }
        "all_of" | "any_of" => {
            let items = if shape == "all_of" {
                &s.all_of
            } else {
                &s.any_of
            };
            let items = items.as_deref().unwrap_or_default();
            if items.is_empty() {
                return Err(format!("`{shape}` is empty"));
            }
            let compiled = items
                .iter()
                .map(|c| compile(c, rhai))
                .collect::<Result<Vec<_>, _>>()?;
            if shape == "all_of" {
                Condition::AllOf(compiled)
            } else {
                Condition::AnyOf(compiled)
            }
        }
        "not" => Condition::Not(Box::new(compile(
            s.not.as_deref().unwrap_or(&ConditionSpec::default()),
            rhai,
        )?)),
        _ => Condition::Rhai(rhai(s.rhai.as_deref().unwrap_or_default())?),
    })
}

fn literal_kind(l: &Literal) -> &'static str {
    match l {
        Literal::Bool(_) => "bool",
        Literal::Int(_) => "integer",
        Literal::Float(_) => "float",
        Literal::Text(_) => "string",
    }
}

fn literal(v: &serde_yaml::Value) -> Result<Literal, String> {
    match v {
        serde_yaml::Value::Bool(b) => Ok(Literal::Bool(*b)),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Literal::Int(i))
            } else {
                n.as_f64()
                    .map(Literal::Float)
                    .ok_or_else(|| format!("number {n} is out of range"))
            }
        }
        serde_yaml::Value::String(s) => Ok(Literal::Text(s.clone())),
        serde_yaml::Value::Null => Err("a literal is missing (found null)".into()),
        _ => Err("expected a literal (bool, number or string)".into()),
    }
}

fn operand(v: &serde_yaml::Value) -> Result<Operand, String> {
    if let serde_yaml::Value::Mapping(m) = v {
        let mut entries = m.iter();
        return match (entries.next(), entries.next()) {
            (Some((serde_yaml::Value::String(k), serde_yaml::Value::String(p))), None)
                if k == "path" =>
            {
                Ok(Operand::Path(p.clone()))
            }
            _ => Err("the other side is a literal or `{path: <other path>}`".into()),
        };
    }
    literal(v).map(Operand::Literal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::ConfigTree;

    struct NoScripts;
    impl ScriptHook for NoScripts {
        fn eval_expression(&self, _: &rhai::AST) -> Result<bool, Undecided> {
            Err(Undecided::Failed("no scripts here".into()))
        }
    }

    fn cond(yaml: &str) -> Condition {
        let spec: ConditionSpec = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
        compile(&spec, &|_| Err("no rhai".into())).unwrap_or_else(|e| panic!("{e}"))
    }

    fn compile_err(yaml: &str) -> String {
        let spec: ConditionSpec = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
        compile(&spec, &|_| Err("no rhai".into()))
            .err()
            .unwrap_or_default()
    }

    fn eval(yaml: &str, json: &str) -> Result<bool, Undecided> {
        let tree =
            ConfigTree::parse_json("t.json", json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        cond(yaml).eval(&tree.root, &NoScripts)
    }

    #[test]
    fn numbers_compare_across_int_float_and_numeric_strings() {
        assert_eq!(eval("{path: a, lt: 1}", r#"{"a": 0}"#), Ok(true));
        assert_eq!(eval("{path: a, lt: 1}", r#"{"a": 0.5}"#), Ok(true));
        assert_eq!(eval("{path: a, gt: 0}", r#"{"a": 0.0}"#), Ok(false));
        assert_eq!(eval("{path: a, gt: 0.5}", r#"{"a": 1}"#), Ok(true));
        assert_eq!(eval("{path: a, eq: 3}", r#"{"a": "3"}"#), Ok(true));
        assert_eq!(
            eval(
                "{path: a, le: 9223372036854775807}",
                r#"{"a": 9223372036854775807}"#
            ),
            Ok(true)
        );
    }

    #[test]
    fn every_operator_agrees_with_integer_order_whatever_the_spelling() {
        // Property over a small grid: an integer written as JSON int, float or numeric string
        // compares with an int or float literal exactly as the integers do.
        for a in -3i64..=3 {
            for b in -3i64..=3 {
                for json in [format!("{a}"), format!("{a}.0"), format!("\"{a}\"")] {
                    for lit in [format!("{b}"), format!("{b}.0")] {
                        for (op, want) in [
                            ("lt", a < b),
                            ("le", a <= b),
                            ("gt", a > b),
                            ("ge", a >= b),
                            ("eq", a == b),
                            ("ne", a != b),
                        ] {
                            let got = eval(
                                &format!("{{path: x, {op}: {lit}}}"),
                                &format!(r#"{{"x": {json}}}"#),
                            );
                            assert_eq!(got, Ok(want), "{json} {op} {lit}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn sizes_agree_across_units() {
        for (text, bytes) in [
            ("1KB", 1024u64),
            ("1KiB", 1024),
            ("1K", 1024),
            ("2MiB", 2 << 20),
            ("1.5GB", 3 << 29),
            ("1024", 1024),
            ("0KiB", 0),
        ] {
            assert_eq!(
                eval(
                    &format!("{{path: s, as: size, eq: {bytes}}}"),
                    &format!(r#"{{"s": "{text}"}}"#)
                ),
                Ok(true),
                "{text}"
            );
        }
    }

    #[test]
    fn a_missing_path_is_nodata_never_zero() {
        assert_eq!(
            eval("{path: log.file.max-days, lt: 1}", r#"{"log": {}}"#),
            Err(Undecided::Missing("`log.file.max-days` is missing".into()))
        );
        assert!(matches!(
            eval("{path: a, lt: 1}", r#"{"a": null}"#),
            Err(Undecided::Missing(_))
        ));
    }

    #[test]
    fn wrong_types_are_errors_not_false() {
        assert!(
            matches!(eval("{path: a, lt: 1}", r#"{"a": "32GiB"}"#), Err(Undecided::Failed(m)) if m.contains("expected number"))
        );
        assert!(matches!(
            eval("{path: a, eq: true}", r#"{"a": 1}"#),
            Err(Undecided::Failed(_))
        ));
    }

    #[test]
    fn bools_accept_pd_string_switches() {
        assert_eq!(eval("{path: a, eq: true}", r#"{"a": "true"}"#), Ok(true));
        assert_eq!(eval("{path: a, eq: false}", r#"{"a": "true"}"#), Ok(false));
    }

    #[test]
    fn sizes_and_durations_are_unit_aware() {
        assert_eq!(
            eval("{path: a, as: size, ge: 8GiB}", r#"{"a": "8192MiB"}"#),
            Ok(true)
        );
        assert_eq!(
            eval("{path: a, as: size, lt: 1KB}", r#"{"a": 1023}"#),
            Ok(true)
        );
        assert_eq!(
            eval("{path: a, as: duration, gt: 30m}", r#"{"a": "1h0m0s"}"#),
            Ok(true)
        );
        assert_eq!(
            eval("{path: a, as: duration, eq: 0}", r#"{"a": "0s"}"#),
            Ok(true)
        );
        assert!(matches!(
            eval("{path: a, as: size, gt: 1}", r#"{"a": "5 apples"}"#),
            Err(Undecided::Failed(_))
        ));
    }

    #[test]
    fn strings_sets_ranges_and_regexes() {
        assert_eq!(
            eval("{path: l, in: [debug, trace]}", r#"{"l": "trace"}"#),
            Ok(true)
        );
        assert_eq!(
            eval("{path: l, not_in: [info, warn]}", r#"{"l": "info"}"#),
            Ok(false)
        );
        assert_eq!(
            eval("{path: n, outside: [0, 64]}", r#"{"n": 65}"#),
            Ok(true)
        );
        assert_eq!(
            eval("{path: n, between: [0, 64]}", r#"{"n": 64}"#),
            Ok(true)
        );
        assert_eq!(
            eval("{path: v, as: version, lt: v5.4.0}", r#"{"v": "5.3.0"}"#),
            Ok(true)
        );
        assert_eq!(
            eval("{path: v, matches: '^v?5\\.'}", r#"{"v": "v5.3.0"}"#),
            Ok(true)
        );
    }

    #[test]
    fn path_against_path() {
        let c = "{path: a, gt: {path: b}}";
        assert_eq!(eval(c, r#"{"a": 64, "b": 2048}"#), Ok(false));
        assert_eq!(eval(c, r#"{"a": 64, "b": 8}"#), Ok(true));
        assert!(matches!(
            eval(c, r#"{"a": 64}"#),
            Err(Undecided::Missing(_))
        ));
    }

    #[test]
    fn quantifiers_over_map_values() {
        let c = "{each: s, any: {path: add-peer, outside: [0, 100]}, if_empty: true}";
        assert_eq!(
            eval(
                c,
                r#"{"s": {"1": {"add-peer": 15}, "4": {"add-peer": 200}}}"#
            ),
            Ok(true)
        );
        assert_eq!(eval(c, r#"{"s": {"1": {"add-peer": 15}}}"#), Ok(false));
        assert_eq!(eval(c, r#"{"s": {}}"#), Ok(true));
        assert!(
            matches!(eval(c, r#"{"s": {"1": {}}}"#), Err(Undecided::Missing(m)) if m.contains("s.*."))
        );
        assert_eq!(
            eval("{each: s, all: {path: '', gt: 0}}", r#"{"s": [1, 2]}"#),
            Ok(true)
        );
    }

    #[test]
    fn combinators() {
        assert_eq!(
            eval(
                "{any_of: [{path: a, lt: 1}, {path: b, gt: 64}]}",
                r#"{"a": 3, "b": 65}"#
            ),
            Ok(true)
        );
        assert_eq!(
            eval(
                "{all_of: [{path: a, lt: 1}, {path: b, gt: 64}]}",
                r#"{"a": 3, "b": 65}"#
            ),
            Ok(false)
        );
        assert_eq!(eval("{not: {path: a, lt: 1}}", r#"{"a": 3}"#), Ok(true));
    }

    #[test]
    fn compile_errors_say_what_is_wrong() {
        assert!(compile_err("{path: a, lt: 1, gt: 5}").contains("exactly one operator"));
        assert!(compile_err("{path: a}").contains("needs one operator"));
        assert!(compile_err("{lt: 1}").contains("needs a `path`"));
        assert!(compile_err("{path: a, lt: info}").contains("orders values"));
        assert!(compile_err("{path: a, as: size, lt: 5 apples}").contains("not a size"));
        assert!(compile_err("{path: a, between: [9, 1]}").contains("reversed"));
        assert!(compile_err("{path: a, matches: '('}").contains("matches"));
    }

    #[test]
    fn paths_lists_root_paths() {
        let c = cond("{any_of: [{path: a, gt: {path: b}}, {each: m, any: {path: x, eq: 1}}]}");
        assert_eq!(c.paths(), vec!["a", "b", "m"]);
    }
}
