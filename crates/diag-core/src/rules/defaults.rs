//! `default_config` tables: "is this setting still at its default?" as data.
//!
//! One YAML file per component (`rules/default_config/tikv.yaml`) holds one row per setting;
//! each row has one entry per version range in which the default holds. At load every entry
//! becomes a rule of kind `default_config`, written out as an ordinary rule file (what
//! `rules show` prints) and compiled like any other, with test cases generated for it.
//!
//! ```yaml
//! table: default_config
//! component: TikvConfig
//! rows:
//!   - path: raft-engine.enable
//!     defaults:                     # one entry per version range (diag's id where it has one)
//!       - {id: 2277, version: ">= v5.4.0, < v6.1.0", value: false}
//!       - {id: 2300, version: ">= v6.1.0", value: true}
//!   - path: storage.reserve-space
//!     as: size                      # int | float | bool | string | size | duration | list
//!     defaults: [{id: 2040, value: 5GiB}]
//!   - path: raftstore.raft-max-election-timeout-ticks
//!     defaults: [{id: 2053, same_as: raftstore.raft-election-timeout-ticks, times: 2}]
//!   - path: storage.block-cache.capacity
//!     defaults: [{id: 2301, formula: "45% of the host's memory"}]
//! ```
//!
//! - `value` — abnormal when the value read `as` the row says differs from it. Without `as`,
//!   a bool literal compares as a bool (PD's `"true"` strings count), a number numerically
//!   (integers and floats mix, so `9223372036854775807` and its float-rounded JSON spelling
//!   are equal), a string as text. Sizes and durations compare by amount (`"10MiB"` = `10MB`,
//!   `"1h0m0s"` = `1h`); `list` compares the elements joined by `,`.
//! - `same_as` (with optional `times`) — the default is another key's value times a factor.
//! - `formula` — the default depends on the host (CPU, memory); the rule gives every instance
//!   a `nodata` row saying so rather than a false "differs".
//! - A missing or `null` key is `nodata`, as everywhere.
//!
//! Every entry gets `name` = `<Component>.<path>` unless it says otherwise, so the entries of a
//! row share diag's rule name and version ranges that touch resolve as diag's selection does.

use std::fmt::Write as _;

use serde::Deserialize;

use super::load::RuleLoadError;
use crate::model::ComponentKind;

/// Whether a YAML text is a `default_config` table rather than a rule file.
pub(crate) fn is_table(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("table:"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    table: String,
    component: String,
    rows: Vec<Row>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    path: String,
    #[serde(default, rename = "as")]
    as_type: Option<String>,
    /// Why the row looks the way it does (where it diverges from diag's data, …).
    #[serde(default)]
    note: String,
    defaults: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: i64,
    #[serde(default)]
    version: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<serde_yaml::Value>,
    #[serde(default)]
    same_as: Option<String>,
    #[serde(default)]
    times: Option<i64>,
    #[serde(default)]
    formula: Option<String>,
    #[serde(default)]
    note: String,
}

/// One rule an entry expands into: its file text and generated cases.
#[derive(Debug)]
pub(crate) struct Expanded {
    /// The rule as an ordinary rule file.
    pub(crate) text: String,
    /// A cases file (`base: minimal`) for it.
    pub(crate) cases: String,
}

const AS_TYPES: [&str; 7] = ["int", "float", "bool", "string", "size", "duration", "list"];

/// Versions the generated cases pick from: the first inside an entry's range is used.
const CASE_VERSIONS: [&str; 22] = [
    "v4.0.0", "v4.0.2", "v4.0.9", "v4.0.10", "v4.0.14", "v5.0.0", "v5.0.2", "v5.1.0", "v5.2.0",
    "v5.3.0", "v5.4.0", "v6.1.0", "v6.2.0", "v6.5.0", "v6.6.0", "v7.1.0", "v7.5.0", "v8.1.0",
    "v8.4.0", "v8.5.0", "v8.5.4", "v9.0.0",
];

/// Expands a table into rule texts; every problem of the file is reported at once.
pub(crate) fn expand(file: &str, text: &str) -> Result<Vec<Expanded>, Vec<RuleLoadError>> {
    let err = |line: usize, field: &str, message: String| RuleLoadError {
        file: file.to_string(),
        line,
        field: Some(field.to_string()),
        message,
        did_you_mean: None,
    };
    if let Some((line, column)) = crate::model::yaml::too_deep(text) {
        return Err(vec![RuleLoadError {
            file: file.to_string(),
            line,
            field: None,
            message: format!(
                "{} (column {column})",
                crate::model::yaml::too_deep_message()
            ),
            did_you_mean: None,
        }]);
    }
    let table: TableFile = serde_yaml::from_str(text).map_err(|e| {
        vec![RuleLoadError {
            file: file.to_string(),
            line: e.location().map(|l| l.line()).unwrap_or(0),
            field: None,
            message: format!("a default_config table: {e}"),
            did_you_mean: None,
        }]
    })?;
    let mut errors = Vec::new();
    if table.table != "default_config" {
        errors.push(err(
            line_of(text, "table:"),
            "table",
            format!(
                "unknown table kind `{}`, expected `default_config`",
                table.table
            ),
        ));
    }
    let Some(component) = ComponentKind::from_config_struct(table.component.trim()) else {
        errors.push(err(
            line_of(text, "component:"),
            "component",
            format!("unknown component `{}`", table.component),
        ));
        return Err(errors);
    };
    let comp = component.config_struct();
    let mut out = Vec::new();
    for row in &table.rows {
        let row_line = line_of(text, &format!("path: {}", row.path));
        let as_type = row.as_type.as_deref().map(str::trim);
        if let Some(t) = as_type
            && !AS_TYPES.contains(&t)
        {
            errors.push(err(
                row_line,
                "as",
                format!(
                    "unknown comparison `{t}`, expected one of {}",
                    AS_TYPES.join(", ")
                ),
            ));
            continue;
        }
        if row.defaults.is_empty() {
            errors.push(err(
                row_line,
                "defaults",
                format!("row `{}` has no defaults", row.path),
            ));
        }
        for entry in &row.defaults {
            match expand_entry(comp, row, as_type, entry, file) {
                Ok(e) => out.push(e),
                Err(m) => errors.push(err(
                    line_of(text, &format!("id: {}", entry.id)).max(row_line),
                    "defaults",
                    format!("row `{}`, id {}: {m}", row.path, entry.id),
                )),
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// A YAML scalar written in flow style, quoted where YAML would read it otherwise.
fn yaml(value: &serde_yaml::Value) -> String {
    serde_yaml::to_string(value)
        .unwrap_or_default()
        .trim_end()
        .trim_start_matches("---\n")
        .to_string()
}

/// A value in flow style, lists included (`[no, no, lz4]`).
fn flow(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::Sequence(items) => {
            let parts: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", parts.join(", "))
        }
        other => yaml(other),
    }
}

/// A string as YAML reads it back in any context, flow maps included: bare when plain,
/// else JSON-quoted (a JSON string is a YAML double-quoted scalar).
fn quote(text: &str) -> String {
    let plain = yaml(&serde_yaml::Value::String(text.to_string()));
    if plain == text && !text.contains([',', '[', ']', '{', '}', '#', ':']) {
        plain
    } else {
        serde_json::to_string(text).unwrap_or_default()
    }
}

fn expand_entry(
    comp: &str,
    row: &Row,
    as_type: Option<&str>,
    entry: &Entry,
    file: &str,
) -> Result<Expanded, String> {
    let path = row.path.trim();
    let name = entry
        .name
        .clone()
        .unwrap_or_else(|| format!("{comp}.{path}"));
    let shapes = [
        entry.value.is_some(),
        entry.same_as.is_some(),
        entry.formula.is_some(),
    ];
    if shapes.iter().filter(|s| **s).count() != 1 {
        return Err("an entry has exactly one of `value`, `same_as`, `formula`".into());
    }
    if entry.times.is_some() && entry.same_as.is_none() {
        return Err("`times` goes with `same_as`".into());
    }
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Expanded from {file}, row `{path}`: still at its default?"
    );
    let _ = writeln!(text, "id: {}", entry.id);
    let _ = writeln!(text, "name: {}", quote(&name));
    let _ = writeln!(text, "kind: default_config");
    let _ = writeln!(text, "component: {comp}");
    let _ = writeln!(text, "variation: {}", quote(&format!("{comp}.{path}")));
    let _ = writeln!(text, "severity: info");
    let _ = writeln!(text, "version: {}", quote(entry.version.trim()));
    let notes: Vec<&str> = [row.note.trim(), entry.note.trim()]
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect();
    let (description, cases);
    if let Some(value) = &entry.value {
        let (ty, literal) = comparison(as_type, value)?;
        let _ = writeln!(text, "default: {}", flow(value));
        description = format!(
            "`{path}` differs from its default {} on this version.",
            scalar_text(value)
        );
        let ty_part = ty.map(|t| format!(", as: {t}")).unwrap_or_default();
        let _ = writeln!(
            text,
            "abnormal_when: {{path: {}{ty_part}, ne: {literal}}}",
            quote(path)
        );
        cases = value_cases(comp, path, ty, value, entry)?;
    } else if let Some(other) = &entry.same_as {
        let times = entry.times.unwrap_or(1);
        description = if times == 1 {
            format!("`{path}` differs from `{other}`, which it defaults to.")
        } else {
            format!("`{path}` differs from {times} × `{other}`, which it defaults to.")
        };
        let _ = writeln!(
            text,
            "abnormal_when: {{rhai: {}}}",
            quote(&format!(
                "cfg.int({path:?}) != {times} * cfg.int({other:?})"
            ))
        );
        cases = same_as_cases(comp, path, other, times, entry);
    } else {
        let formula = entry.formula.as_deref().unwrap_or_default().trim();
        description = format!(
            "`{path}` defaults to a formula of the host ({formula}); it is not compared with one value, so every instance gets a `nodata` row rather than a false \"differs\"."
        );
        let message = format!("not compared: the default is a formula ({formula})");
        let _ = writeln!(text, "rhai_script: |");
        let _ = writeln!(text, "  let rows = [];");
        let _ = writeln!(
            text,
            "  for i in cluster.instances({comp:?}) {{ rows.push(nodata(i, {message:?})); }}"
        );
        let _ = writeln!(text, "  rows");
        cases = formula_cases(comp, entry);
    }
    let mut description = description;
    for n in notes {
        description.push(' ');
        description.push_str(n);
    }
    let _ = writeln!(text, "description: {}", quote(&description));
    let _ = writeln!(
        text,
        "suggestion: {}",
        quote("If the change was not made on purpose, set it back to the default.")
    );
    Ok(Expanded { text, cases })
}

/// The `as:` and the literal a value entry compares with.
fn comparison(
    as_type: Option<&str>,
    value: &serde_yaml::Value,
) -> Result<(Option<&'static str>, String), String> {
    use serde_yaml::Value as V;
    Ok(match (as_type, value) {
        (Some("list"), V::Sequence(items)) => {
            let joined: Vec<String> = items.iter().map(scalar_text).collect();
            (Some("string"), quote(&joined.join(",")))
        }
        (Some("list"), _) => return Err("`as: list` takes a list value".into()),
        (_, V::Sequence(_) | V::Mapping(_)) => {
            return Err("a list default needs `as: list`".into());
        }
        (_, V::Null) => return Err("a default is not null".into()),
        (Some("string"), v) => (Some("string"), quote(&scalar_text(v))),
        (Some("size"), v) => {
            let t = scalar_text(v);
            crate::model::units::parse_size(&t).map_err(|e| format!("`{t}`: {e}"))?;
            (Some("size"), quote(&t))
        }
        (Some("duration"), v) => {
            let t = scalar_text(v);
            crate::model::units::parse_duration(&t).map_err(|e| format!("`{t}`: {e}"))?;
            (Some("duration"), quote(&t))
        }
        (Some("bool"), V::Bool(b)) => (Some("bool"), b.to_string()),
        (Some("bool"), _) => return Err("`as: bool` takes true or false".into()),
        (Some(t @ ("int" | "float")), V::Number(n)) => (
            Some(if t == "int" { "int" } else { "float" }),
            n.to_string(),
        ),
        (Some("int" | "float"), _) => return Err("a number comparison takes a number".into()),
        (None, V::Bool(b)) => (None, b.to_string()),
        // Numbers compare numerically: integers and floats mix, so a u64 "infinite" value
        // and its float-rounded JSON spelling are equal.
        (None, V::Number(n)) => (Some("float"), n.to_string()),
        (None, V::String(s)) => (None, quote(s)),
        (Some(other), _) => return Err(format!("unknown comparison `{other}`")),
        (None, V::Tagged(_)) => return Err("tagged values are not defaults".into()),
    })
}

fn scalar_text(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Sequence(items) => {
            let parts: Vec<String> = items.iter().map(scalar_text).collect();
            format!("[{}]", parts.join(", "))
        }
        other => yaml(other),
    }
}

fn case_version(constraint: &str) -> Result<&'static str, String> {
    let c = crate::model::version::VersionConstraint::parse(constraint)
        .map_err(|e| format!("version `{constraint}`: {e}"))?;
    CASE_VERSIONS
        .iter()
        .find(|v| c.matches(crate::model::version::parse_version(v).as_ref()))
        .copied()
        .ok_or_else(|| format!("version `{constraint}` contains none of the versions cases use"))
}

fn header() -> String {
    String::from("base: minimal\ncases:\n")
}

fn case(
    out: &mut String,
    name: &str,
    expect: &str,
    version: &str,
    comp: &str,
    set: &[(&str, String)],
    unset: &[&str],
) {
    let _ = writeln!(out, "  - name: {}", quote(name));
    let _ = writeln!(out, "    expect: {expect}");
    let _ = writeln!(out, "    version: {version}");
    if comp == "TiflashConfig" {
        // The minimal bundle has no TiFlash: the case adds one.
        let _ = writeln!(
            out,
            "    add: [{{component: TiflashConfig, host: 127.0.0.1, port: 3930, config: {{}}}}]"
        );
    }
    let _ = writeln!(out, "    overlay:");
    let _ = writeln!(out, "      - component: {comp}");
    if !set.is_empty() {
        let pairs: Vec<String> = set
            .iter()
            .map(|(p, v)| format!("{}: {v}", quote(p)))
            .collect();
        let _ = writeln!(out, "        set: {{{}}}", pairs.join(", "));
    }
    if !unset.is_empty() {
        let items: Vec<String> = unset.iter().map(|p| quote(p)).collect();
        let _ = writeln!(out, "        unset: [{}]", items.join(", "));
    }
}

/// A value the runtime JSON would hold for the default, and one that differs from it.
fn value_cases(
    comp: &str,
    path: &str,
    ty: Option<&str>,
    value: &serde_yaml::Value,
    entry: &Entry,
) -> Result<String, String> {
    use serde_yaml::Value as V;
    let version = case_version(&entry.version)?;
    let (same, other) = match (ty, value) {
        (Some("string"), V::Sequence(_)) => (flow(value), "[changed]".to_string()),
        (_, V::Bool(b)) => (b.to_string(), (!b).to_string()),
        (Some("size"), v) => {
            let bytes =
                crate::model::units::parse_size(&scalar_text(v)).map_err(|e| e.to_string())?;
            (bytes.to_string(), (bytes + 1024).to_string())
        }
        (Some("duration"), v) => {
            let d =
                crate::model::units::parse_duration(&scalar_text(v)).map_err(|e| e.to_string())?;
            (
                quote(&scalar_text(v)),
                quote(&format!("{}ms", d.as_millis() + 1500)),
            )
        }
        (_, V::Number(n)) => {
            let other = match n.as_i64() {
                Some(-1) => "0".to_string(),
                Some(i) if i < i64::MAX / 4 => (i * 2 + 1).to_string(),
                _ => match n.as_f64() {
                    Some(f) if f.abs() < 1.0e15 => (f * 2.0 + 1.0).to_string(),
                    _ => "7".to_string(),
                },
            };
            (n.to_string(), other)
        }
        (_, v) => {
            let t = scalar_text(v);
            (quote(&t), quote(&format!("{t}-changed")))
        }
    };
    let mut out = header();
    let shown = scalar_text(value);
    case(
        &mut out,
        &format!("{path} at its default {shown}"),
        "ok",
        version,
        comp,
        &[(path, same)],
        &[],
    );
    case(
        &mut out,
        &format!("{path} changed from {shown}"),
        "abnormal",
        version,
        comp,
        &[(path, other)],
        &[],
    );
    case(
        &mut out,
        &format!("{path} null is nodata, never a default"),
        "nodata",
        version,
        comp,
        &[(path, "null".into())],
        &[],
    );
    Ok(out)
}

fn same_as_cases(comp: &str, path: &str, other: &str, times: i64, entry: &Entry) -> String {
    let version = case_version(&entry.version).unwrap_or("v5.4.0");
    let mut out = header();
    let base = 10i64;
    case(
        &mut out,
        &format!("{path} = {times} × {other}"),
        "ok",
        version,
        comp,
        &[
            (other, base.to_string()),
            (path, (base * times).to_string()),
        ],
        &[],
    );
    case(
        &mut out,
        &format!("{path} set apart from {other}"),
        "abnormal",
        version,
        comp,
        &[
            (other, base.to_string()),
            (path, (base * times + 1).to_string()),
        ],
        &[],
    );
    case(
        &mut out,
        &format!("{path} null"),
        "nodata",
        version,
        comp,
        &[(path, "null".into())],
        &[],
    );
    out
}

fn formula_cases(comp: &str, entry: &Entry) -> String {
    let version = case_version(&entry.version).unwrap_or("v5.4.0");
    let mut out = header();
    case(
        &mut out,
        "a formula default is never compared with one value",
        "nodata",
        version,
        comp,
        &[],
        &[],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "table: default_config\ncomponent: TikvConfig\nrows:\n  - path: a.b\n    as: size\n    defaults:\n      - {id: 1, version: '< v6.1.0', value: 10MB}\n      - {id: 2, version: '>= v6.1.0', value: 20MB}\n";

    #[test]
    fn each_entry_becomes_a_rule() {
        let rules = expand("t.yaml", TABLE).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(rules.len(), 2);
        assert!(
            rules[0]
                .text
                .contains("abnormal_when: {path: a.b, as: size, ne: 10MB}"),
            "{}",
            rules[0].text
        );
        assert!(
            rules[1].text.contains("version: \">= v6.1.0\""),
            "{}",
            rules[1].text
        );
        assert!(
            rules[1].cases.contains("version: v6.1.0"),
            "{}",
            rules[1].cases
        );
    }

    #[test]
    fn bad_rows_name_file_line_and_row() {
        let text = TABLE.replace("as: size", "as: sise");
        let Err(e) = expand("t.yaml", &text) else {
            panic!("expected errors")
        };
        assert_eq!(
            e[0].to_string(),
            "t.yaml:4: field `as`: unknown comparison `sise`, expected one of int, float, bool, string, size, duration, list"
        );
        let text = TABLE.replace("value: 20MB", "value: 20 apples");
        let Err(e) = expand("t.yaml", &text) else {
            panic!("expected errors")
        };
        assert!(
            e[0].to_string()
                .starts_with("t.yaml:8: field `defaults`: row `a.b`, id 2: `20 apples`"),
            "{}",
            e[0]
        );
    }
}
