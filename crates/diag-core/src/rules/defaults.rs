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
//! - `formula` — the default depends on the host (CPU, memory). With `expr` (Rhai over `cpus`,
//!   the host's logical CPUs, `memory`, its bytes, both from its `insight.json`, and `cfg`, the
//!   instance; a number or a list of numbers any of which is the default) the value is compared
//!   with the formula evaluated for the instance's host — sizes within 1 % (`as: size`), other
//!   numbers exactly — and an instance whose host has no usable `insight.json` gets a `nodata`
//!   row saying so, never a false "differs". `example: {cpus, memory, value, set}` is a host
//!   and the default there: the generated cases check the formula against it. Without `expr`
//!   every instance gets a `nodata` row naming the formula.
//! - `removed` / `deprecated` / `renamed: <version>` (with optional `to:`, what replaces it) —
//!   the key no longer works from that version: the rule reads the instance's config file
//!   (`source: config_file`; the runtime JSON drops such keys) and a key still set there is
//!   its own row, "set, but removed in v6.1.0". The rule is named `<Component>.<path>-removed`
//!   (`-deprecated`, `-renamed`) so it never replaces the row's default entries, and its
//!   version range is `>= <version>` unless `version` says otherwise.
//! - A missing or `null` key is `nodata`, as everywhere — except in rows with `file:`.
//! - `file: tiflash.toml` on a row — the setting exists only in that config file of the
//!   instance (`conf/tiflash.toml`, not the `tiflash-learner.toml` beside it; TiFlash's
//!   runtime JSON is its proxy's), where a key the file does not set is at its default: the
//!   rule reads that file (`source: config_file`, `file:`) and is abnormal only when the file
//!   sets another value. Text compares ignoring case, and an entry's `aliases` are spellings
//!   that mean the default too (`aliases: [information]` for `info`). Its `removed` /
//!   `deprecated` / `renamed` entries read the same file. No such file is `nodata`.
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
    /// The config file the row reads instead of the runtime JSON (`tiflash.toml`): an
    /// absent key is the default there.
    #[serde(default)]
    file: Option<String>,
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
    /// The formula as a Rhai expression over `cpus`, `memory` (bytes) and `cfg`.
    #[serde(default)]
    expr: Option<String>,
    /// A worked example of `expr`, from which the cases are generated.
    #[serde(default)]
    example: Option<Example>,
    /// The version that removed the key: set in a config file, it is a row of its own.
    #[serde(default)]
    removed: Option<String>,
    /// The version that deprecated the key.
    #[serde(default)]
    deprecated: Option<String>,
    /// The version that renamed the key (`to` is the new name).
    #[serde(default)]
    renamed: Option<String>,
    /// What replaces a removed, deprecated or renamed key.
    #[serde(default)]
    to: Option<String>,
    /// Other spellings of a text default in a config file (`information` for `info`).
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    note: String,
}

/// A host and the default the formula gives on it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Example {
    /// Logical CPUs (`insight.json` `sysinfo.cpu.threads`).
    cpus: i64,
    /// Memory, a size (`insight.json` `sysinfo.memory.size` is MiB).
    memory: String,
    /// Other keys the expression reads, as the runtime JSON holds them.
    #[serde(default)]
    set: serde_yaml::Mapping,
    /// The default on that host.
    value: serde_yaml::Value,
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
const CASE_VERSIONS: [&str; 24] = [
    "v4.0.0", "v4.0.2", "v4.0.9", "v4.0.10", "v4.0.14", "v5.0.0", "v5.0.2", "v5.1.0", "v5.2.0",
    "v5.3.0", "v5.4.0", "v6.1.0", "v6.2.0", "v6.4.0", "v6.5.0", "v6.6.0", "v7.1.0", "v7.5.0",
    "v7.5.7", "v8.1.0", "v8.4.0", "v8.5.0", "v8.5.4", "v9.0.0",
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
    let shapes = [
        entry.value.is_some(),
        entry.same_as.is_some(),
        entry.formula.is_some(),
        entry.removed.is_some(),
        entry.deprecated.is_some(),
        entry.renamed.is_some(),
    ];
    if shapes.iter().filter(|s| **s).count() != 1 {
        return Err("an entry has exactly one of `value`, `same_as`, `formula`, `removed`, `deprecated`, `renamed`".into());
    }
    let change = [
        ("removed", &entry.removed),
        ("deprecated", &entry.deprecated),
        ("renamed", &entry.renamed),
    ]
    .into_iter()
    .find_map(|(word, v)| v.as_deref().map(|since| (word, since.trim())));
    if entry.to.is_some() && change.is_none() {
        return Err("`to` goes with `removed`, `deprecated` or `renamed`".into());
    }
    if let Some((word, since)) = change {
        return removed_entry(comp, path, row, entry, word, since, file);
    }
    if !entry.aliases.is_empty() && row.file.is_none() {
        return Err(
            "`aliases` are spellings in a config file: they go with a row's `file:`".into(),
        );
    }
    if let Some(conf) = row.file.as_deref().map(str::trim) {
        return file_entry(comp, path, conf, row, as_type, entry, file);
    }
    let name = entry
        .name
        .clone()
        .unwrap_or_else(|| format!("{comp}.{path}"));
    if entry.times.is_some() && entry.same_as.is_none() {
        return Err("`times` goes with `same_as`".into());
    }
    if (entry.expr.is_some() || entry.example.is_some()) && entry.formula.is_none() {
        return Err("`expr` and `example` go with `formula`".into());
    }
    if entry.expr.is_some() != entry.example.is_some() {
        return Err("a formula's `expr` needs an `example`, and an `example` an `expr`".into());
    }
    if !matches!(as_type, None | Some("size" | "int" | "float")) && entry.expr.is_some() {
        return Err("a formula compares numbers or sizes (`as: size`, `int` or `float`)".into());
    }
    let mut text = rule_head(
        &format!("{file}, row `{path}`: still at its default?"),
        entry.id,
        &name,
        comp,
        path,
        None,
        entry.version.trim(),
    );
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
    } else if let (Some(expr), Some(example)) = (&entry.expr, &entry.example) {
        let formula = entry.formula.as_deref().unwrap_or_default().trim();
        description = format!(
            "`{path}` differs from its default, a formula of the host ({formula}) evaluated with the CPUs and memory of the instance's host from its `insight.json`; without that file the value is not compared."
        );
        let size = as_type == Some("size");
        let _ = writeln!(text, "host_formula:");
        let _ = writeln!(text, "  formula: {}", quote(formula));
        if size {
            let _ = writeln!(text, "  as: size");
        }
        let expr = expr.trim();
        // Single quotes when they need no escapes: the expression reads as written.
        let expr = if expr.contains(['\'', '\n']) {
            quote(expr)
        } else {
            format!("'{expr}'")
        };
        let _ = writeln!(text, "  expr: {expr}");
        cases = formula_example_cases(comp, path, size, example, entry)?;
    } else {
        let formula = entry.formula.as_deref().unwrap_or_default().trim();
        description = format!(
            "`{path}` defaults to a formula of the host ({formula}); it is not compared with one value, so every instance gets a `nodata` row rather than a false \"differs\"."
        );
        let _ = writeln!(text, "host_formula:");
        let _ = writeln!(text, "  formula: {}", quote(formula));
        cases = formula_cases(comp, entry);
    }
    rule_tail(
        &mut text,
        description,
        row,
        entry,
        "If the change was not made on purpose, set it back to the default.",
    );
    Ok(Expanded { text, cases })
}

/// A key removed, deprecated or renamed in `since`: abnormal when a config file still sets it.
fn removed_entry(
    comp: &str,
    path: &str,
    row: &Row,
    entry: &Entry,
    word: &str,
    since: &str,
    file: &str,
) -> Result<Expanded, String> {
    if crate::model::version::parse_version(since).is_none() {
        return Err(format!("`{word}: {since}` is not a version"));
    }
    let version = if entry.version.trim().is_empty() {
        format!(">= {since}")
    } else {
        entry.version.trim().to_string()
    };
    let name = entry
        .name
        .clone()
        .unwrap_or_else(|| format!("{comp}.{path}-{word}"));
    let to = entry.to.as_deref().map(str::trim);
    let mut message = format!("set, but {word} in {since}");
    match (word, to) {
        ("renamed", Some(to)) => message.push_str(&format!(" (now `{to}`)")),
        (_, Some(to)) => message.push_str(&format!(" (use {to})")),
        _ => {}
    }
    let mut description = format!(
        "`{path}` is set in the config file, but it was {word} in {since}: the runtime config no longer has it and the value set takes no effect."
    );
    if let Some(to) = to {
        description.push_str(&format!(" It is replaced by {to}."));
    }
    let conf = row.file.as_deref().map(str::trim);
    let mut text = rule_head(
        &format!("{file}, row `{path}`: set after it was {word}?"),
        entry.id,
        &name,
        comp,
        path,
        Some(conf.unwrap_or_default()),
        &version,
    );
    let _ = writeln!(
        text,
        "abnormal_when: {{rhai: {}}}",
        quote(&format!("doc.has({path:?})"))
    );
    let _ = writeln!(text, "message: {}", quote(&message));
    let suggestion = match to {
        Some(to) => {
            format!("Remove `{path}` from the config file; set {to} instead if the value matters.")
        }
        None => format!("Remove `{path}` from the config file."),
    };
    rule_tail(&mut text, description, row, entry, &suggestion);
    Ok(Expanded {
        text,
        cases: removed_cases(comp, path, conf, &version)?,
    })
}

/// The head every expanded rule file starts with. `source` is `Some` for rules that read a
/// config file (`Some("")`: the instance's own `<component>.toml`).
fn rule_head(
    origin: &str,
    id: i64,
    name: &str,
    comp: &str,
    path: &str,
    source: Option<&str>,
    version: &str,
) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "# Expanded from {origin}");
    let _ = writeln!(text, "id: {id}");
    let _ = writeln!(text, "name: {}", quote(name));
    let _ = writeln!(text, "kind: default_config");
    let _ = writeln!(text, "component: {comp}");
    match source {
        Some("") => {
            let _ = writeln!(text, "source: config_file");
        }
        Some(conf) => {
            let _ = writeln!(text, "source: config_file");
            let _ = writeln!(text, "file: {}", quote(conf));
        }
        None => {}
    }
    let _ = writeln!(text, "variation: {}", quote(&format!("{comp}.{path}")));
    let _ = writeln!(text, "severity: info");
    let _ = writeln!(text, "version: {}", quote(version));
    text
}

/// The end of every expanded rule file: the description with the row's and the entry's notes,
/// and the suggestion.
fn rule_tail(
    text: &mut String,
    mut description: String,
    row: &Row,
    entry: &Entry,
    suggestion: &str,
) {
    for n in [row.note.trim(), entry.note.trim()] {
        if !n.is_empty() {
            description.push(' ');
            description.push_str(n);
        }
    }
    let _ = writeln!(text, "description: {}", quote(&description));
    let _ = writeln!(text, "suggestion: {}", quote(suggestion));
}

/// A value entry of a row read from a config file: abnormal only when the file sets the key
/// to another value (an absent key is the default). Text compares ignoring case, and any of
/// the entry's `aliases` is the default too, as TiFlash reads `logger.level` and
/// `dt_compression_method`.
fn file_entry(
    comp: &str,
    path: &str,
    conf: &str,
    row: &Row,
    as_type: Option<&str>,
    entry: &Entry,
    file: &str,
) -> Result<Expanded, String> {
    let Some(value) = &entry.value else {
        return Err(format!(
            "a row read from `{conf}` takes `value` entries (or `removed`, `deprecated`, `renamed`)"
        ));
    };
    if conf.is_empty() || conf.contains(['/', '\\']) {
        return Err(format!("`file: {conf}` is not a file name"));
    }
    let (ty, literal) = comparison(as_type, value)?;
    let text_default = ty == Some("string") || matches!(value, serde_yaml::Value::String(_));
    if !entry.aliases.is_empty() && !text_default {
        return Err("`aliases` are other spellings of a text default".into());
    }
    let shown = scalar_text(value);
    let compare = if text_default {
        let spellings: Vec<String> = std::iter::once(shown.as_str())
            .chain(entry.aliases.iter().map(|a| a.trim()))
            .map(regex::escape)
            .collect();
        format!(
            "{{not: {{path: {}, matches: {}}}}}",
            quote(path),
            quote(&format!("(?i)^(?:{})$", spellings.join("|")))
        )
    } else {
        let ty_part = ty.map(|t| format!(", as: {t}")).unwrap_or_default();
        format!("{{path: {}{ty_part}, ne: {literal}}}", quote(path))
    };
    let name = entry
        .name
        .clone()
        .unwrap_or_else(|| format!("{comp}.{path}"));
    let mut text = rule_head(
        &format!("{file}, row `{path}`: still at its default in {conf}?"),
        entry.id,
        &name,
        comp,
        path,
        Some(conf),
        entry.version.trim(),
    );
    let _ = writeln!(text, "default: {}", flow(value));
    let _ = writeln!(
        text,
        "abnormal_when: {{all_of: [{{rhai: {}}}, {compare}]}}",
        quote(&format!("doc.has({path:?})"))
    );
    let _ = writeln!(
        text,
        "message: {}",
        quote(&format!(
            "set to {{{path}}} in {conf}; the default is {shown}"
        ))
    );
    let mut description = format!(
        "`{path}` is set in `{conf}` to a value other than its default {shown} on this version (a key the file does not set is at its default)."
    );
    if text_default {
        description.push_str(" Text is compared ignoring case");
        let aliases: Vec<String> = entry
            .aliases
            .iter()
            .map(|a| format!("`{}`", a.trim()))
            .collect();
        match aliases.as_slice() {
            [] => {}
            [one] => {
                let _ = write!(description, ", and {one} is the default too");
            }
            many => {
                let _ = write!(description, ", and {} are the default too", many.join(", "));
            }
        }
        description.push('.');
    }
    rule_tail(
        &mut text,
        description,
        row,
        entry,
        &format!("If the change was not made on purpose, remove `{path}` from `{conf}`."),
    );
    Ok(Expanded {
        text,
        cases: file_value_cases(comp, path, conf, value, entry)?,
    })
}

/// The TOML of a config file that sets `path` to `literal` (`[a.b]` then `c = 1`).
fn toml_setting(path: &str, literal: &str) -> String {
    match path.rsplit_once('.') {
        Some((section, key)) => format!("[{section}]\n{key} = {literal}\n"),
        None => format!("{path} = {literal}\n"),
    }
}

/// A default as a TOML literal.
fn toml_literal(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        other => scalar_text(other),
    }
}

/// The instance the generated cases of `comp` run on (the `minimal` base's, or the TiFlash
/// [`case`] adds) and the bundle path of its config file `conf` (its `<component>.toml` when
/// `None`).
fn case_conf_path(comp: &str, conf: Option<&str>) -> Result<String, String> {
    let kind = ComponentKind::from_config_struct(comp).ok_or_else(|| format!("`{comp}`"))?;
    let port = match kind {
        ComponentKind::Pd => 2379,
        ComponentKind::Tidb => 4000,
        ComponentKind::Tikv => 20160,
        ComponentKind::Tiflash => 3930,
        _ => return Err(format!("`{comp}` has no instance in the `minimal` base")),
    };
    let key = kind.topology_key();
    let name = conf.map_or_else(|| format!("{key}.toml"), str::to_string);
    Ok(format!("127.0.0.1/tidb-deploy/{key}-{port}/conf/{name}"))
}

/// The files a case gives (`files:`), bundle path and content.
fn case_files(out: &mut String, files: &[(&str, String)]) {
    if files.is_empty() {
        return;
    }
    let _ = writeln!(out, "    files:");
    for (path, content) in files {
        let _ = writeln!(out, "      {path}: {}", quote(content));
    }
}

/// The first case version outside `version`, if any.
fn version_outside(version: &str) -> Result<Option<&'static str>, String> {
    let c = crate::model::version::VersionConstraint::parse(version)
        .map_err(|e| format!("version `{version}`: {e}"))?;
    Ok(CASE_VERSIONS
        .iter()
        .find(|v| !c.matches(crate::model::version::parse_version(v).as_ref()))
        .copied())
}

/// Set in the config file → abnormal; a config file without it → OK; no config file → nodata;
/// a version before the change → not selected.
fn removed_cases(
    comp: &str,
    path: &str,
    conf: Option<&str>,
    version: &str,
) -> Result<String, String> {
    let inside = case_version(version)?;
    let outside = version_outside(version)?;
    let at = case_conf_path(comp, conf)?;
    let set = toml_setting(path, "1");
    let mut out = header();
    let cases = [
        (
            format!("{path} set in the config file"),
            "abnormal",
            Some(set.clone()),
        ),
        (
            format!("{path} not in the config file"),
            "ok",
            Some("# nothing set\n".to_string()),
        ),
        ("no config file".to_string(), "nodata", None),
    ];
    for (name, expect, content) in cases {
        case(&mut out, &name, expect, inside, comp, &[], &[]);
        case_files(
            &mut out,
            &content.map(|c| vec![(at.as_str(), c)]).unwrap_or_default(),
        );
    }
    if let Some(before) = outside {
        case(
            &mut out,
            &format!("not checked on {before}"),
            "not_selected",
            before,
            comp,
            &[],
            &[],
        );
        case_files(&mut out, &[(at.as_str(), set)]);
    }
    Ok(out)
}

/// A number other than a default `n`, for the "changed" cases: 2n + 1 (0 for -1, which that
/// leaves unchanged), 7 for numbers too large to double.
enum Changed {
    Int(i64),
    Float(f64),
}

fn changed_number(n: &serde_yaml::Number) -> Changed {
    match n.as_i64() {
        Some(-1) => Changed::Int(0),
        Some(i) if (i64::MIN / 4..i64::MAX / 4).contains(&i) => Changed::Int(i * 2 + 1),
        _ => match n.as_f64() {
            Some(f) if f.abs() < 1.0e15 => Changed::Float(f * 2.0 + 1.0),
            _ => Changed::Int(7),
        },
    }
}

/// The cases of a value read from a config file: set to the default (and each spelling of
/// it) → OK, set to another value → abnormal, the file without the key → OK, the key set in
/// another config file of the instance only → nodata, no config file → nodata.
fn file_value_cases(
    comp: &str,
    path: &str,
    conf: &str,
    value: &serde_yaml::Value,
    entry: &Entry,
) -> Result<String, String> {
    use serde_yaml::Value as V;
    let version = case_version(&entry.version)?;
    let at = case_conf_path(comp, Some(conf))?;
    let other_file = case_conf_path(comp, Some(&format!("other-{conf}")))?;
    let shown = scalar_text(value);
    let other = match value {
        V::Bool(b) => (!b).to_string(),
        // A TOML float keeps its point (`3.0`).
        V::Number(n) => match changed_number(n) {
            Changed::Int(i) => i.to_string(),
            Changed::Float(f) => format!("{f:?}"),
        },
        _ => serde_json::to_string(&format!("{shown}-changed")).unwrap_or_default(),
    };
    let mut spellings = vec![(
        format!("{path} set to its default {shown}"),
        toml_literal(value),
    )];
    if let V::String(s) = value {
        let upper = s.to_uppercase();
        if upper != *s {
            spellings.push((
                format!("{path} written {upper}"),
                toml_literal(&V::String(upper)),
            ));
        }
    }
    for alias in &entry.aliases {
        let alias = alias.trim();
        spellings.push((
            format!("{path} written {alias}"),
            toml_literal(&V::String(alias.to_string())),
        ));
    }
    let mut out = header();
    for (name, literal) in &spellings {
        case(&mut out, name, "ok", version, comp, &[], &[]);
        case_files(&mut out, &[(at.as_str(), toml_setting(path, literal))]);
    }
    let changed = toml_setting(path, &other);
    let cases = [
        (
            format!("{path} changed from {shown}"),
            "abnormal",
            vec![(at.as_str(), changed.clone())],
        ),
        (
            format!("{conf} without {path} is the default"),
            "ok",
            vec![(at.as_str(), "# nothing set\n".to_string())],
        ),
        (
            format!("{path} changed in another config file only"),
            "nodata",
            vec![(other_file.as_str(), changed.clone())],
        ),
        (format!("no {conf}"), "nodata", Vec::new()),
    ];
    for (name, expect, files) in cases {
        case(&mut out, &name, expect, version, comp, &[], &[]);
        case_files(&mut out, &files);
    }
    if let Some(outside) = version_outside(&entry.version)? {
        case(
            &mut out,
            &format!("not checked on {outside}"),
            "not_selected",
            outside,
            comp,
            &[],
            &[],
        );
        case_files(&mut out, &[(at.as_str(), changed)]);
    }
    Ok(out)
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
            let other = match changed_number(n) {
                Changed::Int(i) => i.to_string(),
                Changed::Float(f) => f.to_string(),
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

/// The insight.json of a host with `cpus` logical CPUs and `memory_mib` MiB.
fn insight_json(cpus: i64, memory_mib: u64) -> String {
    format!(
        "{{\"sysinfo\": {{\"cpu\": {{\"threads\": {cpus}}}, \"memory\": {{\"size\": {memory_mib}}}}}}}"
    )
}

/// At the example's default on its host → OK; changed → abnormal; no `insight.json` → nodata.
fn formula_example_cases(
    comp: &str,
    path: &str,
    size: bool,
    example: &Example,
    entry: &Entry,
) -> Result<String, String> {
    let version = case_version(&entry.version)?;
    let memory = crate::model::units::parse_size(&example.memory)
        .map_err(|e| format!("`example.memory`: {e}"))?;
    let value = scalar_text(&example.value);
    let changed = if size {
        let bytes =
            crate::model::units::parse_size(&value).map_err(|e| format!("`example.value`: {e}"))?;
        quote(&format!("{}MiB", bytes * 2 / (1024 * 1024) + 1))
    } else {
        let n: f64 = value
            .parse()
            .map_err(|_| format!("`example.value` `{value}` is not a number"))?;
        (n * 2.0 + 1.0).to_string()
    };
    let value = if size { quote(&value) } else { value };
    let mut set: Vec<(String, String)> = example
        .set
        .iter()
        .map(|(k, v)| (scalar_text(k), flow(v)))
        .collect();
    let host = format!(
        "{} CPUs and {}",
        example.cpus,
        scalar_text(&serde_yaml::Value::String(example.memory.clone()))
    );
    let insight = insight_json(example.cpus, memory / (1024 * 1024));
    let mut out = header();
    for (name, expect, v, with_insight) in [
        (
            format!("{path} at the formula's default on {host}"),
            "ok",
            value.clone(),
            true,
        ),
        (
            format!("{path} changed from the formula's default on {host}"),
            "abnormal",
            changed,
            true,
        ),
        (
            format!("{path} not compared without insight.json"),
            "nodata",
            value,
            false,
        ),
    ] {
        set.retain(|(k, _)| k != path);
        set.push((path.to_string(), v));
        let pairs: Vec<(&str, String)> = set.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        case(&mut out, &name, expect, version, comp, &pairs, &[]);
        if with_insight {
            let _ = writeln!(out, "    files:");
            let _ = writeln!(out, "      127.0.0.1/insight.json: {}", quote(&insight));
        }
    }
    Ok(out)
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
