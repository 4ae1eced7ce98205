//! `source: log` rules: which logs a rule reads, what an entry must say, how many entries within
//! which span make a row abnormal, and whose row it is.
//!
//! ```yaml
//! id: 3001
//! name: tikv-cluster-id-mismatch
//! kind: log
//! source: log
//! component: [tikv]                 # pd, tikv, tidb, tiflash, ticdc (or TikvConfig, …)
//! files: [main, stderr, container]  # the default; also slow, rocksdb, dmesg
//! level: fatal                      # floor: that level and above (raw lines have none and pass)
//! match:                            # one or a list; any of them
//!   contains: cluster ID mismatch   # or exact / prefix (the message), regex (+ literal)
//! fields: {err: {contains: "[tikv:9005]"}}   # all must hold (contains / equals / regex / present)
//! threshold: {count: 3, within: 10m}         # default: 1 entry
//! window: sample                    # or `any`: count entries of any age (stderr), marked as such
//! subject: instance                 # or cluster, host (dmesg)
//! requires:                         # optional: a state that must hold too (all given ones)
//!   config: {path: performance.tcp-keep-alive, eq: false}  # the subject instance's runtime config
//!   store: {path: state_name, eq: Tombstone}   # a store of PD's store.json at its address
//!   topology: {path: pd_count, lt: 3}          # the cluster's shape (`facts: shape`)
//! severity: critical
//! signature: tidb-signals §2.1 S1 — tikv src/server/raft_server.rs `check_store`
//! description: …
//! suggestion: …
//! ```
//!
//! `requires:` makes the row a log signal AND a state (hotsos-style): the row is abnormal only
//! when the entries reach the threshold and every required condition holds, in the condition
//! language of the other sources (declarative only). A required state that cannot be read
//! (no config, no `store.json`, no store at the instance's address, a missing path) makes a row
//! whose signal was reached `nodata`, saying so; a signal not reached is `ok` whatever the state.
//!
//! The prefilter needs a literal every matching line contains: `contains`, `exact` and `prefix`
//! give it; a `regex` needs `literal:` beside it. Literals hold no `"` or `\`, which the
//! unified format escapes inside quoted values.

use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;

use super::condition::{self, Condition, ConditionSpec};
use super::load::{RuleHead, RuleLoadError, RuleParts, line_of, nearest, yaml_error};
use super::{CheckKind, DataSource, Rule, RuleBody, Severity, Subject, VariationItem};
use crate::model::ComponentKind;
use crate::model::log::{Level, LogFileKind, parse_span};

/// How an entry's message (or a raw line) must read.
#[derive(Debug, Clone)]
pub(crate) enum TextMatch {
    /// The message equals it.
    Exact(String),
    /// The message starts with it.
    Prefix(String),
    /// The message or a field value contains it.
    Contains(String),
    /// The message or a field value matches.
    Regex(Regex),
}

impl TextMatch {
    fn is_match(&self, message: &str, fields: &[(String, String)]) -> bool {
        match self {
            TextMatch::Exact(s) => message == s,
            TextMatch::Prefix(s) => message.starts_with(s.as_str()),
            TextMatch::Contains(s) => {
                message.contains(s.as_str()) || fields.iter().any(|(_, v)| v.contains(s.as_str()))
            }
            TextMatch::Regex(r) => r.is_match(message) || fields.iter().any(|(_, v)| r.is_match(v)),
        }
    }
}

/// A condition on one field: any of its values satisfies it.
#[derive(Debug, Clone)]
pub(crate) struct FieldCondition {
    pub(crate) key: String,
    pub(crate) test: FieldTest,
}

#[derive(Debug, Clone)]
pub(crate) enum FieldTest {
    Present,
    Equals(String),
    Contains(String),
    Regex(Regex),
}

impl FieldCondition {
    fn holds(&self, fields: &[(String, String)]) -> bool {
        fields
            .iter()
            .filter(|(k, _)| *k == self.key)
            .any(|(_, v)| match &self.test {
                FieldTest::Present => true,
                FieldTest::Equals(s) => v == s,
                FieldTest::Contains(s) => v.contains(s.as_str()),
                FieldTest::Regex(r) => r.is_match(v),
            })
    }
}

/// Which state a log rule's `requires:` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateSource {
    /// The subject instance's runtime config.
    Config,
    /// The stores of PD's `store.json` at the subject instance's address (the `store` facts).
    Store,
    /// The cluster's shape (the `shape` facts: instance counts per component).
    Topology,
}

impl StateSource {
    /// The key under `requires:`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StateSource::Config => "config",
            StateSource::Store => "store",
            StateSource::Topology => "topology",
        }
    }
}

/// One condition of `requires:`: it must hold on its state for the row to be abnormal.
#[derive(Debug, Clone)]
pub(crate) struct Requirement {
    pub(crate) state: StateSource,
    pub(crate) condition: Condition,
}

/// A compiled log rule.
#[derive(Debug, Clone)]
pub(crate) struct LogRule {
    pub(crate) components: Vec<ComponentKind>,
    pub(crate) files: Vec<LogFileKind>,
    pub(crate) level: Option<Level>,
    pub(crate) matches: Vec<TextMatch>,
    pub(crate) fields: Vec<FieldCondition>,
    pub(crate) count: u64,
    pub(crate) within_ms: Option<i64>,
    pub(crate) any_age: bool,
    pub(crate) subject: Subject,
    /// Literals for the prefilter: a line that can match contains one of them.
    pub(crate) literals: Vec<String>,
    /// States that must hold beside the log signal.
    pub(crate) requires: Vec<Requirement>,
}

impl LogRule {
    /// Whether an entry (its level, message and fields) matches; time is the checker's.
    pub(crate) fn matches(
        &self,
        level: Option<Level>,
        message: &str,
        fields: &[(String, String)],
    ) -> bool {
        if let (Some(floor), Some(level)) = (self.level, level)
            && level < floor
        {
            return false;
        }
        (self.matches.is_empty() || self.matches.iter().any(|m| m.is_match(message, fields)))
            && self.fields.iter().all(|f| f.holds(fields))
    }

    /// Whether `times` (sorted, ms) hold `count` entries within the span.
    pub(crate) fn reached(&self, count: u64, sorted_times: &[i64]) -> bool {
        if count < self.count {
            return false;
        }
        let Some(span) = self.within_ms else {
            return true;
        };
        let n = self.count as usize;
        if n <= 1 {
            return true;
        }
        sorted_times.windows(n).any(|w| w[n - 1] - w[0] <= span)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogRuleFile {
    id: i64,
    name: String,
    kind: CheckKind,
    source: String,
    component: OneOrMany,
    #[serde(default)]
    files: Option<Vec<LogFileKind>>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default, rename = "match")]
    matches: Option<OneOrManyMatch>,
    #[serde(default)]
    fields: std::collections::BTreeMap<String, FieldSpec>,
    #[serde(default)]
    threshold: Option<ThresholdSpec>,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    requires: Option<RequiresSpec>,
    severity: Severity,
    #[serde(default)]
    variation: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    link: String,
    signature: String,
    description: String,
    suggestion: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrManyMatch {
    One(MatchSpec),
    Many(Vec<MatchSpec>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchSpec {
    #[serde(default)]
    exact: Option<String>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    contains: Option<String>,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    literal: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSpec {
    #[serde(default)]
    present: bool,
    #[serde(default)]
    equals: Option<String>,
    #[serde(default)]
    contains: Option<String>,
    #[serde(default)]
    regex: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequiresSpec {
    #[serde(default)]
    config: Option<ConditionSpec>,
    #[serde(default)]
    store: Option<ConditionSpec>,
    #[serde(default)]
    topology: Option<ConditionSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdSpec {
    #[serde(default = "one")]
    count: u64,
    #[serde(default)]
    within: Option<String>,
}

fn one() -> u64 {
    1
}

/// Whether a rule file is a log rule (`source: log`, or `kind: log` without a `source`).
pub(super) fn is_log_rule(value: &serde_yaml::Value) -> bool {
    match value.get("source").and_then(|s| s.as_str()) {
        Some(s) => s == "log",
        None => value.get("kind").and_then(|k| k.as_str()) == Some("log"),
    }
}

fn component_named(name: &str) -> Option<ComponentKind> {
    ComponentKind::from_topology_key(name)
        .or_else(|| ComponentKind::from_config_struct(name))
        .or(match name {
            "cdc" => Some(ComponentKind::Ticdc),
            _ => None,
        })
}

/// Parses and compiles a log rule file; every problem at once.
pub(super) fn parse(file: &str, text: &str) -> Result<Rule, Vec<RuleLoadError>> {
    let raw: LogRuleFile =
        serde_yaml::from_str(text).map_err(|e| vec![yaml_error(file, text, &e)])?;
    let mut errors = Vec::new();
    let mut err = |field: &str, message: String, did_you_mean: Option<String>| {
        errors.push(RuleLoadError {
            file: file.to_string(),
            line: line_of(text, field),
            field: Some(field.to_string()),
            message,
            did_you_mean,
        });
    };
    if raw.source != "log" {
        err("source", format!("`{}` is not `log`", raw.source), None);
    }
    if raw.kind != CheckKind::Log {
        err(
            "kind",
            format!(
                "a `source: log` rule has `kind: log`, not `{}`",
                raw.kind.as_str()
            ),
            None,
        );
    }
    if raw.name.trim().is_empty() {
        err("name", "is empty".into(), None);
    }
    let names = match &raw.component {
        OneOrMany::One(s) => vec![s.clone()],
        OneOrMany::Many(v) => v.clone(),
    };
    let mut components = Vec::new();
    for n in &names {
        match component_named(n.trim()) {
            Some(k) => components.push(k),
            None => {
                let known: Vec<&str> = ComponentKind::ALL
                    .iter()
                    .map(|k| k.topology_key())
                    .collect();
                err(
                    "component",
                    format!("unknown component `{n}`"),
                    nearest(n, &known),
                );
            }
        }
    }
    let files = raw.files.clone().unwrap_or_else(|| {
        vec![
            LogFileKind::Main,
            LogFileKind::Stderr,
            LogFileKind::Container,
        ]
    });
    if files.is_empty() {
        err(
            "files",
            "is empty: name the log files the rule reads".into(),
            None,
        );
    }
    let level = match &raw.level {
        None => None,
        Some(l) => match Level::parse(l) {
            Some(l) => Some(l),
            None => {
                let known: Vec<&str> = Level::ALL.iter().map(|l| l.as_str()).collect();
                err(
                    "level",
                    format!("unknown level `{l}`"),
                    nearest(&l.to_ascii_uppercase(), &known),
                );
                None
            }
        },
    };
    let specs = match raw.matches {
        None => Vec::new(),
        Some(OneOrManyMatch::One(m)) => vec![m],
        Some(OneOrManyMatch::Many(v)) => v,
    };
    let mut matches = Vec::new();
    let mut literals = Vec::new();
    for spec in specs {
        let given = [&spec.exact, &spec.prefix, &spec.contains, &spec.regex]
            .iter()
            .filter(|o| o.is_some())
            .count();
        if given != 1 {
            err(
                "match",
                "each match has exactly one of `exact`, `prefix`, `contains`, `regex`".into(),
                None,
            );
            continue;
        }
        let (m, literal) = if let Some(s) = spec.exact {
            (TextMatch::Exact(s.clone()), Some(spec.literal.unwrap_or(s)))
        } else if let Some(s) = spec.prefix {
            (
                TextMatch::Prefix(s.clone()),
                Some(spec.literal.unwrap_or(s)),
            )
        } else if let Some(s) = spec.contains {
            (
                TextMatch::Contains(s.clone()),
                Some(spec.literal.unwrap_or(s)),
            )
        } else {
            let src = spec.regex.unwrap_or_default();
            match Regex::new(&src) {
                Ok(r) => (TextMatch::Regex(r), spec.literal),
                Err(e) => {
                    err("match", format!("regex `{src}`: {e}"), None);
                    continue;
                }
            }
        };
        match literal {
            Some(l) if l.is_empty() || l.contains(['"', '\\']) => err(
                "match",
                format!("literal `{l}` must be non-empty without `\"` or `\\` (quoted values escape them)"),
                None,
            ),
            Some(l) => literals.push(l),
            None => err("literal", "a `regex` match needs `literal:`, a text every matching line contains, for the prefilter".into(), None),
        }
        matches.push(m);
    }
    let mut fields = Vec::new();
    for (key, spec) in &raw.fields {
        let test = match (spec.present, &spec.equals, &spec.contains, &spec.regex) {
            (true, None, None, None) => FieldTest::Present,
            (false, Some(s), None, None) => FieldTest::Equals(s.clone()),
            (false, None, Some(s), None) => FieldTest::Contains(s.clone()),
            (false, None, None, Some(r)) => match Regex::new(r) {
                Ok(r) => FieldTest::Regex(r),
                Err(e) => {
                    err("fields", format!("`{key}`: regex: {e}"), None);
                    continue;
                }
            },
            _ => {
                err(
                    "fields",
                    format!(
                        "`{key}` has exactly one of `present: true`, `equals`, `contains`, `regex`"
                    ),
                    None,
                );
                continue;
            }
        };
        if matches.is_empty()
            && let FieldTest::Contains(s) | FieldTest::Equals(s) = &test
            && !s.contains(['"', '\\'])
        {
            literals.push(s.clone());
        }
        fields.push(FieldCondition {
            key: key.clone(),
            test,
        });
    }
    if literals.is_empty() {
        err("match", "missing: a log rule says what an entry reads (`match:`), or a field `contains`/`equals`".into(), None);
    }
    let (count, within_ms) = match &raw.threshold {
        None => (1, None),
        Some(t) => {
            let within = match &t.within {
                None => None,
                Some(w) => match parse_span(w) {
                    Some(ms) if ms > 0 => Some(ms),
                    _ => {
                        err(
                            "threshold",
                            format!("`within: {w}` is not a span like `10m`, `1h`"),
                            None,
                        );
                        None
                    }
                },
            };
            if t.count == 0 {
                err("threshold", "`count` is at least 1".into(), None);
            }
            (t.count.max(1), within)
        }
    };
    let any_age = match raw.window.as_deref() {
        None | Some("sample") => false,
        Some("any") => true,
        Some(w) => {
            err(
                "window",
                format!("`{w}` is not `sample` or `any`"),
                nearest(w, &["sample", "any"]),
            );
            false
        }
    };
    let subject = match raw.subject.as_deref().map(str::trim) {
        None if files == [LogFileKind::Dmesg] => Subject::Host,
        None | Some("instance") => Subject::Instance,
        Some("cluster") => Subject::Cluster,
        Some("host") => Subject::Host,
        Some(other) => {
            err(
                "subject",
                format!(
                    "`{other}` is not one of `instance`, `cluster`, `host` (what a log rule's row is about)"
                ),
                nearest(other, &["instance", "cluster", "host"]),
            );
            Subject::Instance
        }
    };
    let mut requires = Vec::new();
    if let Some(spec) = &raw.requires {
        let given = [
            (StateSource::Config, &spec.config),
            (StateSource::Store, &spec.store),
            (StateSource::Topology, &spec.topology),
        ];
        for (state, condition) in given {
            let Some(condition) = condition else { continue };
            if state != StateSource::Topology && subject != Subject::Instance {
                err(
                    "requires",
                    format!(
                        "`requires: {{{}: …}}` reads the subject instance's state; it goes with `subject: instance`",
                        state.as_str()
                    ),
                    None,
                );
                continue;
            }
            let declarative = |_: &str| -> Result<Arc<rhai::AST>, String> {
                Err("`requires` conditions are declarative (no `rhai`)".into())
            };
            match condition::compile(condition, &declarative) {
                Ok(condition) => requires.push(Requirement { state, condition }),
                Err(m) => err("requires", format!("`{}`: {m}", state.as_str()), None),
            }
        }
        if given.iter().all(|(_, c)| c.is_none()) {
            err(
                "requires",
                "names a state: `config`, `store` or `topology`, each with a condition".into(),
                None,
            );
        }
    }
    if subject == Subject::Host && files.iter().any(|f| *f != LogFileKind::Dmesg) {
        err(
            "subject",
            "`host` rows are for `files: [dmesg]`".into(),
            None,
        );
    }
    let description = format!(
        "{}\nSignature: {}",
        raw.description.trim(),
        raw.signature.trim()
    );
    let head = RuleHead {
        id: raw.id,
        name: raw.name.trim().to_string(),
        kind: CheckKind::Log,
        severity: raw.severity,
        version: &raw.version,
        link: &raw.link,
        description,
        suggestion: &raw.suggestion,
    };
    let version = head.check(&mut err);
    for (field, value) in [
        ("signature", &raw.signature),
        ("description", &raw.description),
        ("suggestion", &raw.suggestion),
    ] {
        if value.trim().is_empty() {
            err(field, "is empty".into(), None);
        }
    }
    let variation = if raw.variation.trim().is_empty() {
        format!("log.{}", raw.name.trim())
    } else {
        raw.variation.trim().to_string()
    };
    let (Some(version), true) = (version, errors.is_empty()) else {
        return Err(errors);
    };
    Ok(head.into_rule(RuleParts {
        file,
        text,
        components: components.clone(),
        variation_text: variation.clone(),
        variation: vec![VariationItem {
            text: Arc::from(variation.as_str()),
            component: None,
            path: String::new(),
        }],
        version,
        body: RuleBody::Log(Arc::new(LogRule {
            components,
            files,
            level,
            matches,
            fields,
            count,
            within_ms,
            any_age,
            subject,
            literals,
            requires,
        })),
        data: DataSource::Log,
        subject,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "id: 3001\nname: x\nkind: log\nsource: log\ncomponent: tikv\nlevel: warn\nmatch: {contains: cluster ID mismatch}\nseverity: critical\nsignature: s\ndescription: d\nsuggestion: s\n";

    fn errors(text: &str) -> Vec<String> {
        match parse("r.yaml", text) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_good_log_rule_compiles() {
        assert_eq!(errors(GOOD), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_named() {
        let bad = GOOD
            .replace("component: tikv", "component: tkiv")
            .replace("level: warn", "level: loud")
            .replace(
                "match: {contains: cluster ID mismatch}",
                "match: {regex: \"a(\"}",
            );
        let e = errors(&bad);
        assert!(
            e.iter().any(
                |m| m.contains("unknown component `tkiv`") && m.contains("did you mean `tikv`")
            ),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.contains("unknown level `loud`")),
            "{e:?}"
        );
        assert!(e.iter().any(|m| m.contains("regex `a(`")), "{e:?}");
        let e = errors(&GOOD.replace(
            "match: {contains: cluster ID mismatch}",
            "match: {regex: \"a+\"}",
        ));
        assert!(e.iter().any(|m| m.contains("needs `literal:`")), "{e:?}");
        let e = errors(&GOOD.replace(
            "severity: critical",
            "severity: critical\nthreshold: {count: 3, within: soon}",
        ));
        assert!(e.iter().any(|m| m.contains("`within: soon`")), "{e:?}");
    }

    #[test]
    fn thresholds_within_a_span() {
        let Ok(rule) = parse(
            "r.yaml",
            &GOOD.replace(
                "severity: critical",
                "severity: critical\nthreshold: {count: 3, within: 30m}",
            ),
        ) else {
            panic!()
        };
        let RuleBody::Log(log) = &rule.body else {
            panic!()
        };
        let min = 60_000;
        assert!(log.reached(3, &[0, 10 * min, 30 * min]));
        assert!(!log.reached(3, &[0, 20 * min, 40 * min]));
        assert!(!log.reached(2, &[0, 1]));
    }
}
