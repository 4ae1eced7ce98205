//! The `metric:` block of a `source: metric` rule and the `alert:` list of a `source: alert`
//! rule, compiled once at load.
//!
//! ```yaml
//! source: metric
//! subject: instance            # a row per series group (the `by` labels); `cluster`: one row
//! metric:
//!   series: 'tikv_store_size_bytes{type="available"}'
//!   divide_by: 'tikv_store_size_bytes{type="capacity"}'   # optional: a ratio joined on labels
//!   function: min              # max | min | avg | last | changes | increase | rate | delta | quantile
//!   quantile: 0.99             # with `function: quantile`, over the `_bucket` series
//!   range: 10m                 # optional sliding window; default: the whole collected window
//!   by: [instance]             # how series group into rows (default: instance; none for cluster)
//!   on: [instance]             # ratio join labels (default: all but those the selectors differ on)
//!   leader: pd                 # only samples of the PD that was etcd leader at the time
//!   abnormal: {lt: 0.2}        # gt | ge | lt | le | eq | ne
//!   critical: {lt: 0.1}        # optional: rows past this are critical
//!   unit: ratio                # how values print: number | ratio | bytes | seconds
//!   transform: tso_age         # optional: a TSO gauge read as its age in seconds
//! ```
//!
//! ```yaml
//! source: alert
//! alert: [PD_miss_peer_region_count]   # alert names; `"*"`: every alert no other rule names
//! ```

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use super::{DataSource, RuleBody};
use crate::model::metrics::Selector;

/// What a metric rule computes over each series' window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Function {
    /// Largest sample.
    Max,
    /// Smallest sample.
    Min,
    /// Mean.
    Avg,
    /// Latest sample.
    Last,
    /// Number of value changes.
    Changes,
    /// Counter growth, resets handled.
    Increase,
    /// Counter growth per second.
    Rate,
    /// Last minus first.
    Delta,
    /// `histogram_quantile(q)` over the `_bucket` series' growth.
    Quantile(f64),
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Function::Max => f.write_str("max"),
            Function::Min => f.write_str("min"),
            Function::Avg => f.write_str("avg"),
            Function::Last => f.write_str("last"),
            Function::Changes => f.write_str("changes"),
            Function::Increase => f.write_str("increase"),
            Function::Rate => f.write_str("rate"),
            Function::Delta => f.write_str("delta"),
            Function::Quantile(q) => write!(f, "p{}", q * 100.0),
        }
    }
}

/// A comparison with a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// The operator.
    pub op: Cmp,
    /// The number.
    pub value: f64,
}

/// Comparison operators of thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Threshold {
    /// Whether `v` is past the threshold.
    pub fn hit(&self, v: f64) -> bool {
        match self.op {
            Cmp::Gt => v > self.value,
            Cmp::Ge => v >= self.value,
            Cmp::Lt => v < self.value,
            Cmp::Le => v <= self.value,
            Cmp::Eq => v == self.value,
            Cmp::Ne => v != self.value,
        }
    }

    /// Whether `a` is worse than `b` (further past the threshold's direction).
    pub fn worse(&self, a: f64, b: f64) -> bool {
        match self.op {
            Cmp::Lt | Cmp::Le => a < b,
            Cmp::Gt | Cmp::Ge => a > b,
            Cmp::Eq | Cmp::Ne => self.hit(a) && !self.hit(b),
        }
    }

    /// `< 0.2`
    pub fn symbol(&self) -> &'static str {
        match self.op {
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
        }
    }
}

/// How a rule's values print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unit {
    /// A plain number.
    #[default]
    Number,
    /// A fraction, printed as a percentage.
    Ratio,
    /// Bytes, printed in binary units.
    Bytes,
    /// Seconds.
    Seconds,
}

impl Unit {
    /// `v` for a report: `9.0%`, `12.5 GiB`, `1.98s`, `500`.
    pub fn format(self, v: f64) -> String {
        if !v.is_finite() {
            return if v.is_nan() {
                "NaN".into()
            } else if v > 0.0 {
                "+Inf".into()
            } else {
                "-Inf".into()
            };
        }
        match self {
            Unit::Ratio => format!("{}%", trim(v * 100.0, 1)),
            Unit::Seconds => format!("{}s", trim(v, 3)),
            Unit::Bytes => {
                let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
                let mut x = v;
                let mut u = 0;
                while x.abs() >= 1024.0 && u + 1 < units.len() {
                    x /= 1024.0;
                    u += 1;
                }
                format!("{} {}", trim(x, 1), units[u])
            }
            Unit::Number => trim(v, 3),
        }
    }
}

/// `v` with at most `digits` decimals, trailing zeros dropped.
fn trim(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A compiled `metric:` block.
#[derive(Debug, Clone)]
pub struct MetricRule {
    /// The series read (the `_bucket` series for quantiles).
    pub series: Selector,
    /// The denominator of a ratio.
    pub divide_by: Option<Selector>,
    /// What is computed over each series' window.
    pub function: Function,
    /// Sliding window, seconds; `None` = the whole collected window.
    pub range: Option<f64>,
    /// Labels grouping series into rows.
    pub by: Option<Vec<String>>,
    /// Labels a ratio joins on.
    pub on: Option<Vec<String>>,
    /// Only the PD leader's samples count.
    pub pd_leader: bool,
    /// When a row is abnormal.
    pub abnormal: Threshold,
    /// When an abnormal row is critical.
    pub critical: Option<Threshold>,
    /// How values print.
    pub unit: Unit,
    /// A change applied to each sample before the function.
    pub transform: Option<Transform>,
}

/// A change applied to each sample before the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// The value is a TiDB TSO (physical milliseconds << 18): becomes its age in seconds at the
    /// sample's time (`tikv_gcworker_autogc_safe_point` → how far GC lags).
    TsoAge,
}

impl Transform {
    /// The transformed value of a sample `v` at `t`.
    pub fn apply(self, t: f64, v: f64) -> f64 {
        match self {
            Transform::TsoAge => {
                if v <= 0.0 {
                    return f64::NAN;
                }
                let physical_ms = ((v as u64) >> 18) as f64;
                t - physical_ms / 1000.0
            }
        }
    }
}

impl MetricRule {
    /// The metric names the rule reads (what a read plan must keep).
    pub fn metrics(&self) -> Vec<&str> {
        let mut out = vec![self.series.metric.as_str()];
        if let Some(d) = &self.divide_by {
            out.push(d.metric.as_str());
        }
        if self.pd_leader {
            out.push(LEADER_METRIC);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// `min(tikv_store_size_bytes{type="available"} / tikv_store_size_bytes{type="capacity"})`;
    /// a ratio of counters is the ratio of their rates (or increases):
    /// `rate(a[5m]) / rate(b[5m])`.
    pub fn describe(&self) -> String {
        if let (Some(d), Function::Rate | Function::Increase) = (&self.divide_by, self.function) {
            let range = self
                .range
                .map(|r| format!("[{}]", duration_text(r)))
                .unwrap_or_default();
            return format!(
                "{f}({}{range}) / {f}({d}{range})",
                self.series,
                f = self.function
            );
        }
        let inner = match &self.divide_by {
            Some(d) => format!("{} / {}", self.series, d),
            None => self.series.to_string(),
        };
        match self.range {
            Some(r) => format!("{}({inner}[{}])", self.function, duration_text(r)),
            None => format!("{}({inner})", self.function),
        }
    }
}

/// The metric that says which PD is etcd leader.
pub const LEADER_METRIC: &str = "etcd_server_is_leader";

fn duration_text(seconds: f64) -> String {
    let s = seconds as u64;
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A compiled `alert:` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRule {
    /// Alert names the rule reports.
    pub names: Vec<String>,
    /// `"*"`: every alert no other selected alert rule names.
    pub others: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricSpec {
    series: String,
    #[serde(default)]
    divide_by: Option<String>,
    function: String,
    #[serde(default)]
    quantile: Option<f64>,
    #[serde(default)]
    range: Option<String>,
    #[serde(default)]
    by: Option<Vec<String>>,
    #[serde(default)]
    on: Option<Vec<String>>,
    #[serde(default)]
    leader: Option<String>,
    abnormal: ThresholdSpec,
    #[serde(default)]
    critical: Option<ThresholdSpec>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    transform: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdSpec {
    gt: Option<f64>,
    ge: Option<f64>,
    lt: Option<f64>,
    le: Option<f64>,
    eq: Option<f64>,
    ne: Option<f64>,
}

impl ThresholdSpec {
    fn compile(&self, field: &str) -> Result<Threshold, String> {
        let given: Vec<Threshold> = [
            (Cmp::Gt, self.gt),
            (Cmp::Ge, self.ge),
            (Cmp::Lt, self.lt),
            (Cmp::Le, self.le),
            (Cmp::Eq, self.eq),
            (Cmp::Ne, self.ne),
        ]
        .into_iter()
        .filter_map(|(op, v)| v.map(|value| Threshold { op, value }))
        .collect();
        match given[..] {
            [one] => Ok(one),
            _ => Err(format!(
                "`metric.{field}` is one comparison: `{{gt: N}}`, `ge`, `lt`, `le`, `eq` or `ne`"
            )),
        }
    }
}

const FUNCTIONS: [&str; 9] = [
    "max", "min", "avg", "last", "changes", "increase", "rate", "delta", "quantile",
];

/// Compiles a `metric:` block; the error names the field.
pub(crate) fn compile_metric(value: &serde_yaml::Value) -> Result<MetricRule, String> {
    let spec: MetricSpec = serde_yaml::from_value(value.clone()).map_err(|e| {
        let m = e.to_string();
        format!("`metric`: {}", m.split(" at line ").next().unwrap_or(&m))
    })?;
    let series = Selector::parse(&spec.series).map_err(|e| format!("`metric.series`: {e}"))?;
    let divide_by = spec
        .divide_by
        .as_deref()
        .map(Selector::parse)
        .transpose()
        .map_err(|e| format!("`metric.divide_by`: {e}"))?;
    let function = match (spec.function.trim(), spec.quantile) {
        ("max", None) => Function::Max,
        ("min", None) => Function::Min,
        ("avg", None) => Function::Avg,
        ("last", None) => Function::Last,
        ("changes", None) => Function::Changes,
        ("increase", None) => Function::Increase,
        ("rate", None) => Function::Rate,
        ("delta", None) => Function::Delta,
        ("quantile", Some(q)) if (0.0..=1.0).contains(&q) => Function::Quantile(q),
        ("quantile", _) => {
            return Err("`metric.quantile`: `function: quantile` needs `quantile: <0..1>`".into());
        }
        (f, Some(_)) if FUNCTIONS.contains(&f) => {
            return Err(format!(
                "`metric.quantile` goes with `function: quantile`, not `{f}`"
            ));
        }
        (f, _) => {
            return Err(format!(
                "`metric.function`: unknown function `{f}`, expected one of {}",
                FUNCTIONS.join(", ")
            ));
        }
    };
    if matches!(function, Function::Quantile(_)) && !series.metric.ends_with("_bucket") {
        return Err(format!(
            "`metric.series`: a quantile reads the histogram's `_bucket` series, not `{}`",
            series.metric
        ));
    }
    let range = spec
        .range
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| format!("`metric.range`: {e}"))?;
    if range.is_some() && matches!(function, Function::Max | Function::Min | Function::Last) {
        return Err(format!(
            "`metric.range`: `{function}` already looks at every sample; a range goes with avg, changes, increase, rate, delta or quantile"
        ));
    }
    let pd_leader = match spec.leader.as_deref().map(str::trim) {
        None => false,
        Some("pd") => true,
        Some(other) => {
            return Err(format!(
                "`metric.leader`: only `pd` is known, not `{other}`"
            ));
        }
    };
    let unit = match spec.unit.as_deref().map(str::trim) {
        None | Some("number") => Unit::Number,
        Some("ratio") => Unit::Ratio,
        Some("bytes") => Unit::Bytes,
        Some("seconds") => Unit::Seconds,
        Some(other) => {
            return Err(format!(
                "`metric.unit`: unknown unit `{other}`, expected number, ratio, bytes or seconds"
            ));
        }
    };
    let transform = match spec.transform.as_deref().map(str::trim) {
        None => None,
        Some("tso_age") => Some(Transform::TsoAge),
        Some(other) => {
            return Err(format!(
                "`metric.transform`: only `tso_age` is known, not `{other}`"
            ));
        }
    };
    Ok(MetricRule {
        transform,
        series,
        divide_by,
        function,
        range,
        by: spec.by,
        on: spec.on,
        pd_leader,
        abnormal: spec.abnormal.compile("abnormal")?,
        critical: spec.critical.map(|c| c.compile("critical")).transpose()?,
        unit,
    })
}

/// Compiles an `alert:` list (a name, a list of names, or `"*"`).
pub(crate) fn compile_alert(value: &serde_yaml::Value) -> Result<AlertRule, String> {
    let names: Vec<String> = match value {
        serde_yaml::Value::String(s) => vec![s.trim().to_string()],
        serde_yaml::Value::Sequence(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|s| s.trim().to_string())
                    .ok_or_else(|| "`alert`: alert names are strings".to_string())
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("`alert`: an alert name or a list of them".into()),
    };
    if names.is_empty() || names.iter().any(String::is_empty) {
        return Err("`alert`: name at least one alert (or `\"*\"` for all others)".into());
    }
    let others = names.iter().any(|n| n == "*");
    if others && names.len() > 1 {
        return Err("`alert`: `\"*\"` stands alone".into());
    }
    Ok(AlertRule {
        names: if others { Vec::new() } else { names },
        others,
    })
}

/// The body of a `source: metric` or `source: alert` rule, or `None` for other sources that
/// name neither block. The error is `(field, message)`.
pub(crate) fn compile_body(
    data: DataSource,
    metric: Option<&serde_yaml::Value>,
    alert: Option<&serde_yaml::Value>,
    has_condition: bool,
) -> Option<Result<RuleBody, (&'static str, String)>> {
    let body = match (data, metric, alert) {
        (DataSource::Metric, Some(m), None) => compile_metric(m)
            .map(|m| RuleBody::Metric(Arc::new(m)))
            .map_err(|e| ("metric", e)),
        (DataSource::Metric, None, _) => Err((
            "metric",
            "a `source: metric` rule says what it computes in a `metric:` block (series, function, abnormal)".into(),
        )),
        (DataSource::Alerts, None, Some(a)) => compile_alert(a)
            .map(|a| RuleBody::Alert(Arc::new(a)))
            .map_err(|e| ("alert", e)),
        (DataSource::Alerts, None, None) => Err((
            "alert",
            "a `source: alert` rule names its alerts: `alert: [PD_miss_peer_region_count]` (or `\"*\"`)".into(),
        )),
        (_, Some(_), _) => Err(("metric", "only `source: metric` rules have a `metric:` block".into())),
        (_, None, Some(_)) => Err(("alert", "only `source: alert` rules have an `alert:` list".into())),
        (_, None, None) => return None,
    };
    Some(match body {
        Ok(_) if has_condition => Err((
            "abnormal_when",
            format!(
                "a `source: {}` rule decides by its `{}` block, not by `abnormal_when` or `rhai_script`",
                data.as_str(),
                if data == DataSource::Metric {
                    "metric:"
                } else {
                    "alert:"
                }
            ),
        )),
        other => other,
    })
}

/// `30s`, `10m`, `2h`, `1d` → seconds.
fn parse_duration(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: f64 = n
        .parse()
        .map_err(|_| format!("`{text}`: expected a duration such as `30s`, `10m`, `2h`"))?;
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(format!("`{text}`: the unit is s, m, h or d")),
    };
    if n <= 0.0 {
        return Err(format!("`{text}`: a range is longer than zero"));
    }
    Ok(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> serde_yaml::Value {
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_ratio_rule_compiles_and_describes_itself() {
        let r = compile_metric(&yaml(
            "series: 'tikv_store_size_bytes{type=\"available\"}'\ndivide_by: 'tikv_store_size_bytes{type=\"capacity\"}'\nfunction: min\nabnormal: {lt: 0.2}\ncritical: {lt: 0.1}\nunit: ratio\n",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.describe(),
            "min(tikv_store_size_bytes{type=\"available\"} / tikv_store_size_bytes{type=\"capacity\"})"
        );
        assert_eq!(r.metrics(), vec!["tikv_store_size_bytes"]);
        assert_eq!(r.unit.format(0.0912), "9.1%");
    }

    #[test]
    fn mistakes_name_the_field() {
        let err = |t: &str| compile_metric(&yaml(t)).err().unwrap_or_default();
        assert!(
            err("series: x\nfunction: median\nabnormal: {gt: 1}")
                .contains("unknown function `median`")
        );
        assert!(
            err("series: x\nfunction: quantile\nquantile: 0.99\nabnormal: {gt: 1}")
                .contains("`_bucket`")
        );
        assert!(
            err("series: x\nfunction: max\nabnormal: {gt: 1, lt: 2}").contains("one comparison")
        );
        assert!(
            err("series: x\nfunction: increase\nrange: 10q\nabnormal: {gt: 1}")
                .contains("unit is s, m, h or d")
        );
        assert!(
            err("series: x\nfunction: max\nabnormal: {gt: 1}\nwindow: 1m")
                .contains("unknown field `window`")
        );
        assert!(compile_alert(&yaml("[\"*\", x]")).is_err());
        assert_eq!(compile_alert(&yaml("\"*\"")).map(|a| a.others), Ok(true));
    }

    #[test]
    fn units_print_for_people() {
        assert_eq!(Unit::Bytes.format(38654705664.0), "36 GiB");
        assert_eq!(Unit::Seconds.format(1.98), "1.98s");
        assert_eq!(Unit::Number.format(500.0), "500");
        assert_eq!(Unit::Number.format(f64::INFINITY), "+Inf");
    }
}
