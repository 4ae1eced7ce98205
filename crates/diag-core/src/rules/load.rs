//! Rule files → compiled [`Rule`]s, with every problem reported at once.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::condition::{self, Condition, ConditionSpec};
use super::{
    CheckKind, DataSource, FactSet, Rule, RuleBody, RuleMeta, RuleSet, Severity, Subject,
    SystemFile, VariationItem, script,
};
use crate::model::ComponentKind;
use crate::model::version::VersionConstraint;

// The shipped `rules/` tree, embedded by build.rs: `(path inside rules/, YAML text)`.
include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// One problem in one rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleLoadError {
    /// The file, relative to the rule directory (`builtin:<path>` for shipped rules).
    pub file: String,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// The field at fault (`severity`, `abnormal_when`, …), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The nearest valid spelling, for unknown fields and values.
    pub did_you_mean: Option<String>,
}

impl fmt::Display for RuleLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(s) = &self.did_you_mean {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleLoadError {}

/// Every problem found while loading a set of rule files, and the rules that did load.
#[derive(Debug, Clone)]
pub struct RuleLoadErrors {
    /// The problems, in file order.
    pub errors: Vec<RuleLoadError>,
    /// The rules that loaded cleanly.
    pub partial: RuleSet,
}

impl fmt::Display for RuleLoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleLoadErrors {}

/// A rule file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: i64,
    name: String,
    #[serde(alias = "check_type")]
    kind: CheckKind,
    #[serde(default, alias = "name_struct")]
    component: Option<OneOrMany>,
    #[serde(default)]
    variation: String,
    #[serde(alias = "warn_level")]
    severity: Severity,
    #[serde(default)]
    version: String,
    #[serde(default, alias = "expect_res")]
    link: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    suggestion: String,
    /// The documented default (`default_config` rules); informational.
    #[serde(default)]
    #[allow(dead_code)]
    default: Option<serde_yaml::Value>,
    #[serde(default)]
    abnormal_when: Option<ConditionSpec>,
    #[serde(default)]
    rhai_script: Option<String>,
    /// A default that is a formula of the host (see [`super::formula`]).
    #[serde(default)]
    host_formula: Option<super::formula::HostFormulaSpec>,
    /// Where the data comes from (`config` when absent).
    #[serde(default)]
    source: Option<String>,
    /// What a row is about (the source's default when absent).
    #[serde(default)]
    subject: Option<String>,
    /// Which system file a `source: system` rule reads, or which of an instance's config files
    /// a `source: config_file` rule reads.
    #[serde(default)]
    file: Option<String>,
    /// What a `source: metric` rule computes (see [`super::metric_rule`]).
    #[serde(default)]
    metric: Option<serde_yaml::Value>,
    /// Which alerts a `source: alert` rule reports.
    #[serde(default)]
    alert: Option<serde_yaml::Value>,
    /// Which combiner a `source: facts` rule reads.
    #[serde(default)]
    facts: Option<String>,
    /// The message of an abnormal row, `{path}` placeholders filled from its document.
    #[serde(default)]
    message: Option<String>,
    /// Keys a `facts: drift` rule leaves out, besides the built-in per-instance ones.
    #[serde(default)]
    allow: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

pub(super) fn load_dir(dir: &Path) -> Result<RuleSet, RuleLoadErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let version = format!("dir:{}", dir.display());
    if !dir.is_dir() {
        errors.push(RuleLoadError {
            file: dir.display().to_string(),
            line: 0,
            field: None,
            message: "not a directory".into(),
            did_you_mean: None,
        });
        return Err(RuleLoadErrors {
            errors,
            partial: RuleSet::from_rules(Vec::new(), version),
        });
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                errors.push(RuleLoadError {
                    file: dir.display().to_string(),
                    line: 0,
                    field: None,
                    message: e.to_string(),
                    did_you_mean: None,
                });
                continue;
            }
        };
        let path = entry.path();
        if !entry.file_type().is_file() || !is_rule_file(path) {
            continue;
        }
        let name = path
            .strip_prefix(dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        match std::fs::read_to_string(path) {
            Ok(text) => files.push((name, text)),
            Err(e) => errors.push(RuleLoadError {
                file: name,
                line: 0,
                field: None,
                message: format!("cannot read: {e}"),
                did_you_mean: None,
            }),
        }
    }
    match load_files(files, version) {
        Ok(set) if errors.is_empty() => Ok(set),
        Ok(set) => Err(RuleLoadErrors {
            errors,
            partial: set,
        }),
        Err(mut more) => {
            errors.append(&mut more.errors);
            Err(RuleLoadErrors {
                errors,
                partial: more.partial,
            })
        }
    }
}

/// Rule files are `*.yaml`/`*.yml`; `*.cases.yaml` hold their test cases.
pub(crate) fn is_rule_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    (name.ends_with(".yaml") || name.ends_with(".yml"))
        && !name.ends_with(".cases.yaml")
        && !name.ends_with(".cases.yml")
}

pub(super) fn load_files(
    mut files: Vec<(String, String)>,
    version: String,
) -> Result<RuleSet, RuleLoadErrors> {
    files.sort();
    let mut errors = Vec::new();
    let mut rules: Vec<Rule> = Vec::new();
    let mut parsed = Vec::new();
    for (file, text) in files {
        if super::defaults::is_table(&text) {
            match super::defaults::expand(&file, &text) {
                Ok(expanded) => {
                    for e in expanded {
                        let cases = Some(Arc::from(e.cases));
                        parsed.push((file.clone(), e.text, cases));
                    }
                }
                Err(mut e) => errors.append(&mut e),
            }
        } else {
            parsed.push((file, text, None));
        }
    }
    for (file, text, cases) in parsed {
        match parse_rule(&file, &text) {
            Ok(mut rule) => {
                rule.cases = cases;
                if let Some(first) = rules
                    .iter()
                    .find(|r| r.meta.id == rule.meta.id && r.meta.name == rule.meta.name)
                {
                    errors.push(RuleLoadError {
                        line: line_of(&text, "name"),
                        file,
                        field: Some("name".into()),
                        message: format!(
                            "rule {} `{}` is already defined in {}",
                            rule.meta.id, rule.meta.name, first.meta.source
                        ),
                        did_you_mean: None,
                    });
                } else {
                    rules.push(rule);
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    // Load order decides which of several rules sharing a name wins selection: the later one,
    // as in diag's rule file, whose order follows the ids (7 before 9).
    rules.sort_by(|a, b| {
        (a.meta.id, &a.meta.name, &a.meta.source).cmp(&(b.meta.id, &b.meta.name, &b.meta.source))
    });
    for (i, r) in rules.iter_mut().enumerate() {
        r.order = i;
    }
    let set = RuleSet::from_rules(rules, version);
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(RuleLoadErrors {
            errors,
            partial: set,
        })
    }
}

/// The 1-based line of the first `key:` in the file: at the start of a line, else inside a
/// flow map (`{path: a, lt: 1}`); 0 when absent.
pub(super) fn line_of(text: &str, key: &str) -> usize {
    let at_start = text.lines().position(|l| {
        let t = l.trim_start().trim_start_matches("- ");
        t.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    });
    let inline = || {
        text.lines().position(|l| {
            [format!("{{{key}:"), format!(" {key}:"), format!(",{key}:")]
                .iter()
                .any(|p| l.contains(p.as_str()))
        })
    };
    at_start.or_else(inline).map(|i| i + 1).unwrap_or(0)
}

/// Top-level fields of a rule file, diag's TOML names included as aliases.
const FIELDS: [&str; 26] = [
    "id",
    "name",
    "kind",
    "check_type",
    "component",
    "name_struct",
    "variation",
    "severity",
    "warn_level",
    "version",
    "link",
    "expect_res",
    "description",
    "suggestion",
    "default",
    "abnormal_when",
    "rhai_script",
    "host_formula",
    "source",
    "subject",
    "file",
    "metric",
    "alert",
    "facts",
    "message",
    "allow",
];

/// Finds every unknown field and bad enum value before serde, which stops at the first.
fn prescan(
    file: &str,
    text: &str,
    errors: &mut Vec<RuleLoadError>,
) -> Result<serde_yaml::Value, RuleLoadError> {
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| yaml_error(file, text, &e))?;
    let Some(map) = value.as_mapping_mut() else {
        return Err(RuleLoadError {
            file: file.into(),
            line: 1,
            field: None,
            message: "a rule file is a YAML map of fields (id, name, kind, …)".into(),
            did_you_mean: None,
        });
    };
    let mut unknown = Vec::new();
    for key in map.keys() {
        let name = key
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{key:?}"));
        if !FIELDS.contains(&name.as_str()) {
            errors.push(RuleLoadError {
                file: file.into(),
                line: line_of(text, &name),
                field: Some(name.clone()),
                message: "unknown field".into(),
                did_you_mean: nearest(&name, &FIELDS),
            });
            unknown.push(key.clone());
        }
    }
    for key in unknown {
        map.remove(&key);
    }
    let kinds: Vec<&str> = CheckKind::ALL.iter().map(|k| k.as_str()).collect();
    let severities = [Severity::Info, Severity::Warning, Severity::Critical].map(Severity::as_str);
    let kind_ok = |v: &str| CheckKind::parse(v).is_some();
    let severity_ok = |v: &str| severities.contains(&v);
    type Check<'a> = (&'a str, &'a [&'a str], &'a str, &'a dyn Fn(&str) -> bool);
    let checks: [Check; 4] = [
        ("kind", &kinds, "config", &kind_ok),
        ("check_type", &kinds, "config", &kind_ok),
        ("severity", &severities, "info", &severity_ok),
        ("warn_level", &severities, "info", &severity_ok),
    ];
    for (field, valid, placeholder, ok) in checks {
        let Some(v) = map.get_mut(field) else {
            continue;
        };
        let Some(written) = v.as_str() else { continue };
        if ok(written) {
            continue;
        }
        errors.push(RuleLoadError {
            file: file.into(),
            line: line_of(text, field),
            field: Some(field.to_string()),
            message: format!(
                "unknown value `{written}`, expected one of {}",
                valid
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            did_you_mean: nearest(written, valid),
        });
        *v = serde_yaml::Value::String(placeholder.into());
    }
    Ok(value)
}

/// A file's problems come in line order, each with a line (1 for the file as a whole).
fn parse_rule(file: &str, text: &str) -> Result<Rule, Vec<RuleLoadError>> {
    parse_rule_fields(file, text).map_err(|mut errors| {
        for e in &mut errors {
            e.line = e.line.max(1);
        }
        errors.sort_by_key(|e| e.line);
        errors
    })
}

fn parse_rule_fields(file: &str, text: &str) -> Result<Rule, Vec<RuleLoadError>> {
    if let Some((line, column)) = crate::model::yaml::too_deep(text) {
        return Err(vec![RuleLoadError {
            file: file.into(),
            line,
            field: None,
            message: format!(
                "{} (column {column})",
                crate::model::yaml::too_deep_message()
            ),
            did_you_mean: None,
        }]);
    }
    if let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(text)
        && super::log_rule::is_log_rule(&value)
    {
        return super::log_rule::parse(file, text);
    }
    let mut errors = Vec::new();
    let value = prescan(file, text, &mut errors).map_err(|e| vec![e])?;
    // Without prescan findings, deserialize the text itself: serde then gives exact locations.
    let parsed = if errors.is_empty() {
        serde_yaml::from_str::<RuleFile>(text)
    } else {
        RuleFile::deserialize(value)
    };
    let raw = match parsed {
        Ok(raw) => raw,
        Err(e) => {
            errors.push(yaml_error(file, text, &e));
            return Err(errors);
        }
    };
    let prescan_errors = !errors.is_empty();
    let mut err = |field: &str, message: String, did_you_mean: Option<String>| {
        errors.push(RuleLoadError {
            file: file.to_string(),
            line: line_of(text, field),
            field: Some(field.to_string()),
            message,
            did_you_mean,
        });
    };

    if raw.name.trim().is_empty() {
        err("name", "is empty".into(), None);
    }
    if raw.id < 0 {
        err("id", format!("{} is negative", raw.id), None);
    }
    let names: Vec<String> = match &raw.component {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        Some(OneOrMany::Many(v)) => v.iter().map(|p| p.trim().to_string()).collect(),
    };
    let mut components = Vec::new();
    for n in &names {
        match ComponentKind::from_config_struct(n) {
            Some(k) => components.push(k),
            None => {
                let known: Vec<&str> = ComponentKind::ALL
                    .iter()
                    .map(|k| k.config_struct())
                    .collect();
                err(
                    "component",
                    format!("unknown component `{n}`"),
                    nearest(n, &known),
                );
            }
        }
    }
    let (data, subject, source_known) = source_and_subject(&raw, &mut err);
    // Rules over runtime configs name the config struct(s) they read; every row reads them.
    // (An unknown source was reported already; nothing more is said about what it needs.)
    let per_instance = data == DataSource::Config && source_known;
    if per_instance && names.is_empty() && raw.rhai_script.is_none() {
        err(
            "component",
            format!(
                "a `{}` rule names the component(s) whose config it reads, e.g. `component: TidbConfig`",
                raw.kind.as_str()
            ),
            None,
        );
    }

    let mut variation = Vec::new();
    for item in raw
        .variation
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (head, path) = item.split_once('.').unwrap_or((item, ""));
        match ComponentKind::from_config_struct(head) {
            Some(k) if !components.is_empty() && !components.contains(&k) => {
                err(
                    "variation",
                    format!("`{item}` reads {head}, which is not among the rule's components"),
                    None,
                );
            }
            Some(k) if path.is_empty() => err(
                "variation",
                format!("`{item}` names no path after `{}`", k.config_struct()),
                None,
            ),
            Some(k) => variation.push(VariationItem {
                text: Arc::from(item),
                component: Some(k),
                path: path.to_string(),
            }),
            None if per_instance => {
                let known: Vec<&str> = components.iter().map(|k| k.config_struct()).collect();
                err(
                    "variation",
                    format!(
                        "`{item}` must start with the config struct it reads, e.g. `{}.log.level`",
                        known.first().unwrap_or(&"TidbConfig")
                    ),
                    nearest(head, &known),
                );
            }
            // Other sources print values read at a path of their document (`vm.swappiness`).
            None => variation.push(VariationItem {
                text: Arc::from(item),
                component: None,
                path: if per_instance {
                    String::new()
                } else {
                    item.to_string()
                },
            }),
        }
    }
    if per_instance && variation.is_empty() && raw.rhai_script.is_none() {
        err(
            "variation",
            "is empty: name the value(s) rows print, e.g. `TidbConfig.log.file.max-days`".into(),
            None,
        );
    }

    let head = RuleHead {
        id: raw.id,
        name: raw.name.clone(),
        kind: raw.kind,
        severity: raw.severity,
        version: &raw.version,
        link: &raw.link,
        description: raw.description.trim().to_string(),
        suggestion: &raw.suggestion,
    };
    let version = head.check(&mut err);
    if raw.description.trim().is_empty() {
        err(
            "description",
            "is empty: say what the rule checks and why it matters".into(),
            None,
        );
    }

    let special = super::metric_rule::compile_body(
        data,
        raw.metric.as_ref(),
        raw.alert.as_ref(),
        raw.abnormal_when.is_some() || raw.rhai_script.is_some(),
    );
    let body = match (&raw.abnormal_when, &raw.rhai_script) {
        _ if let Some(spec) = &raw.host_formula => {
            host_formula(spec, &raw, data, subject, &components, &variation, &mut err)
        }
        _ if special.is_some() => match special {
            Some(Ok(body)) => Some(body),
            Some(Err((field, message))) => {
                err(field, message, None);
                None
            }
            None => None,
        },
        (Some(spec), None) => {
            if components.len() > 1 && !spec.is_rhai() && subject == Subject::Instance {
                err("abnormal_when", "declarative conditions read one component; rules over several components use `abnormal_when: {rhai: …}` or `rhai_script`".into(), None);
                None
            } else {
                match condition::compile(spec, &script::compile_expression) {
                    Ok(c) => Some(RuleBody::Condition(c)),
                    Err(m) => {
                        err("abnormal_when", m, None);
                        None
                    }
                }
            }
        }
        (None, Some(src)) => match script::compile_script(src) {
            Ok(ast) => Some(RuleBody::ClusterScript(ast)),
            Err(m) => {
                err("rhai_script", m, None);
                None
            }
        },
        (Some(_), Some(_)) => {
            err(
                "rhai_script",
                "a rule has either `abnormal_when` or `rhai_script`, not both".into(),
                None,
            );
            None
        }
        (None, None) => {
            errors.push(RuleLoadError {
                file: file.to_string(),
                line: 0,
                field: Some("abnormal_when".into()),
                message:
                    "missing: say when a row is abnormal (`abnormal_when`), or give a `rhai_script`"
                        .into(),
                did_you_mean: None,
            });
            None
        }
    };
    if let Some(RuleBody::Condition(c)) = &body
        && per_instance
        && names.is_empty()
        && !matches!(c, Condition::Rhai(_))
    {
        errors.push(RuleLoadError {
            file: file.to_string(),
            line: line_of(text, "abnormal_when"),
            field: Some("abnormal_when".into()),
            message: "a declarative condition reads an instance config: name the `component`"
                .into(),
            did_you_mean: None,
        });
    }

    match (body, version) {
        (Some(body), Some(version)) if errors.is_empty() && !prescan_errors => {
            let mut rule = head.into_rule(RuleParts {
                file,
                text,
                components,
                variation_text: raw.variation.trim().to_string(),
                variation,
                version,
                body,
                data,
                subject,
            });
            rule.message = raw
                .message
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty());
            rule.allow = raw.allow;
            if data == DataSource::ConfigFile {
                rule.conf_file = raw.file.map(|f| f.trim().to_string());
            }
            Ok(rule)
        }
        _ => Err(errors),
    }
}

/// The fields every rule file has, whatever its source: read and checked one way for all.
pub(super) struct RuleHead<'a> {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) kind: CheckKind,
    pub(super) severity: Severity,
    pub(super) version: &'a str,
    pub(super) link: &'a str,
    /// The prose as reports print it (a log rule appends its signature).
    pub(super) description: String,
    pub(super) suggestion: &'a str,
}

/// What a source's parser compiled, to be joined with a [`RuleHead`] into a [`Rule`].
pub(super) struct RuleParts<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
    pub(super) components: Vec<ComponentKind>,
    /// `variation` as reports print it.
    pub(super) variation_text: String,
    pub(super) variation: Vec<VariationItem>,
    pub(super) version: VersionConstraint,
    pub(super) body: RuleBody,
    pub(super) data: DataSource,
    pub(super) subject: Subject,
}

impl RuleHead<'_> {
    /// Checks the version range and the link, reporting through `err`; the parsed range.
    pub(super) fn check(
        &self,
        err: &mut impl FnMut(&str, String, Option<String>),
    ) -> Option<VersionConstraint> {
        let version = match VersionConstraint::parse(self.version) {
            Ok(v) => Some(v),
            Err(e) => {
                err("version", e.to_string(), None);
                None
            }
        };
        if let Some(problem) = link_problem(self.link, self.kind) {
            err("link", problem, None);
        }
        version
    }

    /// The rule: its metadata from the head, the rest from the parts (no message, no allowlist,
    /// no generated cases, first in load order until loading sorts).
    pub(super) fn into_rule(self, parts: RuleParts<'_>) -> Rule {
        Rule {
            meta: Arc::new(RuleMeta {
                id: self.id,
                name: self.name,
                kind: self.kind,
                components: parts.components,
                variation: parts.variation_text,
                severity: self.severity,
                version: self.version.trim().to_string(),
                link: self.link.trim().to_string(),
                description: self.description,
                suggestion: self.suggestion.trim().to_string(),
                source: parts.file.to_string(),
            }),
            version: parts.version,
            variation: parts.variation,
            body: parts.body,
            data: parts.data,
            subject: parts.subject,
            text: Arc::from(parts.text),
            order: 0,
            cases: None,
            message: None,
            allow: Vec::new(),
            conf_file: None,
        }
    }
}

/// Reads `source:`, `file:` and `subject:`, reporting what does not fit together.
/// The body of a `host_formula:` rule: one runtime-config value per instance of one component.
fn host_formula(
    spec: &super::formula::HostFormulaSpec,
    raw: &RuleFile,
    data: DataSource,
    subject: Subject,
    components: &[ComponentKind],
    variation: &[VariationItem],
    err: &mut impl FnMut(&str, String, Option<String>),
) -> Option<RuleBody> {
    let mut fits = true;
    if raw.abnormal_when.is_some() || raw.rhai_script.is_some() {
        err(
            "host_formula",
            "a rule has one of `abnormal_when`, `rhai_script` or `host_formula`".into(),
            None,
        );
        fits = false;
    }
    if data != DataSource::Config || subject != Subject::Instance {
        err(
            "host_formula",
            "a `host_formula` compares each instance's runtime config (`source: config`, `subject: instance`)".into(),
            None,
        );
        fits = false;
    }
    if components.len() != 1 || variation.len() != 1 {
        err(
            "host_formula",
            "a `host_formula` rule names one `component` and the one value it compares in `variation`".into(),
            None,
        );
        fits = false;
    }
    match spec.compile() {
        Ok(formula) if fits => Some(RuleBody::HostFormula(Arc::new(formula))),
        Ok(_) => None,
        Err(m) => {
            err("host_formula", m, None);
            None
        }
    }
}

fn source_and_subject(
    raw: &RuleFile,
    err: &mut impl FnMut(&str, String, Option<String>),
) -> (DataSource, Subject, bool) {
    let written = raw.source.as_deref().map(str::trim).unwrap_or("config");
    let mut known = true;
    let data = match written {
        "config" => DataSource::Config,
        "config_file" => DataSource::ConfigFile,
        "store" => DataSource::Store,
        "placement" => DataSource::Placement,
        "db_vars" => DataSource::DbVars,
        "alert" => DataSource::Alerts,
        "metric" => DataSource::Metric,
        "kubernetes" => DataSource::Kubernetes,
        "slow_log" => DataSource::SlowLog,
        "facts" => {
            let names: Vec<&str> = FactSet::ALL.iter().map(|f| f.as_str()).collect();
            let written = raw.facts.as_deref().map(str::trim).unwrap_or("");
            match FactSet::ALL.iter().find(|f| f.as_str() == written) {
                Some(f) => DataSource::Facts(*f),
                None => {
                    err(
                        "facts",
                        if written.is_empty() {
                            format!(
                                "`source: facts` names its combiner: `facts: {}`",
                                names.join("` | `facts: ")
                            )
                        } else {
                            format!(
                                "unknown facts `{written}`, expected one of {}",
                                quoted(&names)
                            )
                        },
                        nearest(written, &names),
                    );
                    DataSource::Facts(FactSet::Host)
                }
            }
        }
        "system" => {
            let names: Vec<&str> = SystemFile::ALL.iter().map(|f| f.file_name()).collect();
            match raw.file.as_deref().map(str::trim) {
                Some(f) => match SystemFile::ALL.iter().find(|s| s.file_name() == f) {
                    Some(file) => DataSource::System(*file),
                    None => {
                        err(
                            "file",
                            format!(
                                "unknown system file `{f}`, expected one of {}",
                                quoted(&names)
                            ),
                            nearest(f, &names),
                        );
                        DataSource::System(SystemFile::Sysctl)
                    }
                },
                None => {
                    err(
                        "source",
                        format!(
                            "`source: system` names its file: `file: {}`",
                            names.join("` | `file: ")
                        ),
                        None,
                    );
                    DataSource::System(SystemFile::Sysctl)
                }
            }
        }
        other => {
            err(
                "source",
                format!(
                    "unknown source `{other}`, expected one of {}",
                    quoted(&DataSource::NAMES)
                ),
                nearest(other, &DataSource::NAMES),
            );
            known = false;
            DataSource::Config
        }
    };
    match raw.file.as_deref().map(str::trim) {
        Some(_) if !known || matches!(data, DataSource::System(_)) => {}
        Some(f) if data == DataSource::ConfigFile && (f.is_empty() || f.contains(['/', '\\'])) => {
            err(
                "file",
                format!(
                    "`{f}` is not a file name: a `source: config_file` rule names one file of the instance's `conf/` folder, e.g. `file: tiflash.toml`"
                ),
                None,
            );
        }
        Some(_) if data == DataSource::ConfigFile => {}
        Some(_) => err(
            "file",
            format!(
                "only `source: system` and `source: config_file` rules name a file; this rule reads `{}`",
                data.as_str()
            ),
            None,
        ),
        None => {}
    }
    if known && raw.facts.is_some() && !matches!(data, DataSource::Facts(_)) {
        err(
            "facts",
            format!(
                "only `source: facts` rules name a combiner; this rule reads `{}`",
                data.as_str()
            ),
            None,
        );
    }
    if !raw.allow.is_empty() && data != DataSource::Facts(FactSet::Drift) {
        err(
            "allow",
            "only `facts: drift` rules take an allowlist of keys".into(),
            None,
        );
    }
    let allowed = data.subjects();
    let subject = match raw.subject.as_deref().map(str::trim) {
        None => allowed[0],
        Some(s) => match Subject::ALL.iter().find(|k| k.as_str() == s) {
            Some(k) if allowed.contains(k) => *k,
            Some(k) => {
                let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
                err(
                    "subject",
                    format!(
                        "a `{}` rule cannot have `subject: {}`; it allows {}",
                        data.as_str(),
                        k.as_str(),
                        quoted(&names)
                    ),
                    None,
                );
                allowed[0]
            }
            None => {
                let names: Vec<&str> = Subject::ALL.iter().map(|a| a.as_str()).collect();
                err(
                    "subject",
                    format!("unknown subject `{s}`, expected one of {}", quoted(&names)),
                    nearest(s, &names),
                );
                allowed[0]
            }
        },
    };
    if raw.rhai_script.is_some() && data != DataSource::Config {
        err(
            "rhai_script",
            format!(
                "a `rhai_script` sees the whole cluster; it does not go with `source: {}`",
                data.as_str()
            ),
            None,
        );
    }
    (data, subject, known)
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Links must be complete https URLs; diag shipped truncated short links (`s.tidb.io/8q1yp`).
pub(super) fn link_problem(link: &str, kind: CheckKind) -> Option<String> {
    let link = link.trim();
    if link.is_empty() {
        return (kind == CheckKind::Config)
            .then(|| "is empty: config rules link the knowledge-base article".to_string());
    }
    if !link.starts_with("https://") || link.contains(char::is_whitespace) {
        return Some(format!("`{link}` is not an https URL"));
    }
    if let Some(code) = link.strip_prefix("https://s.tidb.io/")
        && code.len() != 8
    {
        return Some(format!(
            "short link code `{code}` has {} characters, s.tidb.io codes have 8 (truncated?)",
            code.len()
        ));
    }
    None
}

pub(super) fn yaml_error(file: &str, text: &str, e: &serde_yaml::Error) -> RuleLoadError {
    let full = e.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full.clone(),
    };
    let line = e
        .location()
        .map(|l| crate::model::data::yaml_line(text, l.line()))
        .unwrap_or(0);
    // `abnormal_when.lt: invalid type …` — serde names the path to the bad value.
    let (mut field, mut message) = match message.split_once(": ") {
        Some((head, rest))
            if !head.is_empty()
                && head.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']')
                }) =>
        {
            (Some(head.to_string()), rest.to_string())
        }
        _ => (None, message),
    };
    let ticks: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let mut did_you_mean = None;
    if (message.starts_with("unknown field") || message.starts_with("unknown variant"))
        && let Some((bad, expected)) = ticks.split_first()
    {
        did_you_mean = nearest(bad, expected);
        if message.starts_with("unknown field") {
            field = Some(match field {
                Some(parent) => format!("{parent}.{bad}"),
                None => (*bad).to_string(),
            });
        }
    }
    if message.starts_with("missing field")
        && let Some(name) = ticks.first()
    {
        field = Some((*name).to_string());
        message = "is required".into();
    }
    let line = if line == 0 {
        field
            .as_deref()
            .map(|f| line_of(text, f.rsplit('.').next().unwrap_or(f)))
            .unwrap_or(0)
    } else {
        line
    };
    RuleLoadError {
        file: file.to_string(),
        line,
        field,
        message,
        did_you_mean,
    }
}

/// The candidate closest to `word` by edit distance, if close enough to be a typo.
pub(crate) fn nearest(word: &str, candidates: &[&str]) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    let lower = word.to_ascii_lowercase();
    for c in candidates {
        let candidate = c.to_ascii_lowercase();
        // A clipped spelling (`warn` for `warning`) is as good as a one-letter typo.
        let d = if lower.len() >= 3 && candidate.starts_with(&lower) && candidate != lower {
            1
        } else {
            edit_distance(&lower, &candidate)
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    (d <= (word.chars().count() / 3).max(2) && d > 0).then(|| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "id: 100\nname: tidb-max-days\nkind: config\ncomponent: TidbConfig\nvariation: TidbConfig.log.file.max-days\nseverity: warning\nlink: https://s.tidb.io/msmo6awg\ndescription: d\nabnormal_when: {path: log.file.max-days, lt: 1}\n";

    fn errors(text: &str) -> Vec<String> {
        match load_files(vec![("r.yaml".into(), text.into())], "t".into()) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// Issue 8: `severity: warn` got no suggestion (edit distance 3 from `warning`).
    #[test]
    fn a_clipped_value_suggests_the_full_one() {
        assert_eq!(
            errors(&GOOD.replace("severity: warning", "severity: warn")),
            [
                "r.yaml:6: field `severity`: unknown value `warn`, expected one of `info`, `warning`, `critical` (did you mean `warning`?)"
            ]
        );
    }

    /// Issue 8: lint listed a file's problems in the order they were found, some without a line.
    #[test]
    fn a_files_problems_come_in_line_order_each_with_a_line() {
        let text = GOOD
            .replace("link: https://s.tidb.io/msmo6awg\n", "")
            .replace("description: d", "description: \"\"\ncolour: red")
            .replace("severity: warning", "severity: warn");
        let e = errors(&text);
        let lines: Vec<usize> = e
            .iter()
            .map(|m| {
                let (_, rest) = m.split_once(':').unwrap_or_default();
                rest.split(':').next().unwrap_or("").parse().unwrap_or(0)
            })
            .collect();
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(lines.iter().all(|&l| l > 0), "{e:?}");
        assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{e:?}");
    }

    /// Issue 11: a TiFlash instance has two config files, so a `source: config_file` rule names
    /// the one it reads; only that source and `system` take a `file:`.
    #[test]
    fn a_config_file_rule_names_a_file_of_the_conf_folder() {
        let rule = GOOD.replace("kind: config\n", "kind: config\nsource: config_file\n");
        assert_eq!(errors(&rule), Vec::<String>::new());
        let named = rule.replace(
            "source: config_file\n",
            "source: config_file\nfile: tidb.toml\n",
        );
        assert_eq!(errors(&named), Vec::<String>::new());
        let e = errors(&rule.replace(
            "source: config_file\n",
            "source: config_file\nfile: conf/tidb.toml\n",
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("r.yaml:5: field `file`: `conf/tidb.toml` is not a file name"),
            "{e:?}"
        );
        let e = errors(&GOOD.replace("kind: config\n", "kind: config\nfile: tidb.toml\n"));
        assert_eq!(
            e,
            [
                "r.yaml:4: field `file`: only `source: system` and `source: config_file` rules name a file; this rule reads `config`"
            ]
        );
    }

    #[test]
    fn a_good_rule_loads() {
        assert_eq!(errors(GOOD), Vec::<String>::new());
    }

    #[test]
    fn unknown_fields_name_line_and_suggest() {
        let text = GOOD.replace("severity:", "severty:");
        assert_eq!(
            errors(&text),
            [
                "r.yaml:1: field `severity`: is required",
                "r.yaml:6: field `severty`: unknown field (did you mean `severity`?)",
            ]
        );
    }

    #[test]
    fn bad_values_suggest_the_nearest() {
        let e = errors(&GOOD.replace("warning", "warnng"));
        assert_eq!(
            e,
            [
                "r.yaml:6: field `severity`: unknown value `warnng`, expected one of `info`, `warning`, `critical` (did you mean `warning`?)"
            ]
        );
        let e = errors(&GOOD.replace("component: TidbConfig", "component: TidbConf"));
        assert!(e.iter().any(|m| m == "r.yaml:4: field `component`: unknown component `TidbConf` (did you mean `TidbConfig`?)"), "{e:?}");
        let e = errors(&GOOD.replace("lt: 1}", "lte: 1}"));
        assert!(
            e[0].contains("field `abnormal_when.lte`") && e[0].contains("(did you mean `lt`?)"),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_fields_and_values_of_one_file_come_together() {
        let text = GOOD
            .replace("kind: config", "kind: confg\nsuggestoin: x")
            .replace("component: TidbConfig", "component: TidbConf");
        let e = errors(&text);
        assert_eq!(
            e,
            [
                "r.yaml:3: field `kind`: unknown value `confg`, expected one of `config`, `default_config`, `performance`, `log`, `system`, `topology`, `metric` (did you mean `config`?)",
                "r.yaml:4: field `suggestoin`: unknown field (did you mean `suggestion`?)",
                "r.yaml:5: field `component`: unknown component `TidbConf` (did you mean `TidbConfig`?)",
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = GOOD
            .replace(
                "link: https://s.tidb.io/msmo6awg",
                "link: https://s.tidb.io/8q1yp",
            )
            .replace("description: d", "description: ''")
            .replace("kind: config", "kind: config\nversion: '>= banana'");
        let e = errors(&text);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e.iter()
                .any(|m| m.contains("field `link`") && m.contains("truncated"))
        );
        assert!(e.iter().any(|m| m.contains("field `version`")));
        assert!(e.iter().any(|m| m.contains("field `description`")));
    }

    #[test]
    fn condition_errors_point_at_abnormal_when() {
        let e = errors(&GOOD.replace("lt: 1}", "lt: 1, gt: 9}"));
        assert_eq!(
            e,
            vec![
                "r.yaml:9: field `abnormal_when`: a condition has exactly one operator; found `lt`, `gt`: combine them with all_of or any_of"
            ]
        );
        let e = errors(&GOOD.replace(
            "abnormal_when: {path: log.file.max-days, lt: 1}",
            "abnormal_when: {rhai: 'cfg.int(\"a\") <'}",
        ));
        assert!(e[0].contains("field `abnormal_when`: rhai:"), "{e:?}");
    }

    #[test]
    fn the_same_rule_twice_is_an_error() {
        let err = load_files(
            vec![
                ("a.yaml".into(), GOOD.into()),
                ("b.yaml".into(), GOOD.into()),
            ],
            "t".into(),
        )
        .err()
        .map(|e| e.errors[0].to_string());
        assert_eq!(
            err.as_deref(),
            Some("b.yaml:2: field `name`: rule 100 `tidb-max-days` is already defined in a.yaml")
        );
    }
}
