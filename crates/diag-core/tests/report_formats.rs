//! Every format from the same findings: json against its committed schema, SARIF and JUnit
//! parsed and cross-checked, markdown snapshotted, HTML self-contained.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod report_support;

use diag_core::Cluster;
use diag_core::report::{Format, JSON_SCHEMA, Renderer, ReportDocument};
use report_support::{SEED, seed_outcome};
use serde_json::Value;

fn seed_doc() -> ReportDocument {
    let cluster = Cluster::open(SEED.as_ref()).expect("seed bundle loads");
    ReportDocument::new(&cluster, &seed_outcome())
}

fn render(format: Format) -> String {
    let out = Renderer::new()
        .render(format, &seed_doc())
        .expect("renders");
    // Set DIAG_REPORT_DUMP=<dir> to look at the rendered files (e.g. the HTML in a browser).
    if let Some(dir) = std::env::var_os("DIAG_REPORT_DUMP") {
        std::fs::write(std::path::Path::new(&dir).join(format.file_name()), &out).expect("dump");
    }
    out
}

#[test]
fn json_matches_the_committed_schema() {
    let doc: Value = serde_json::from_str(&render(Format::Json)).expect("json parses");
    let schema: Value = serde_json::from_str(JSON_SCHEMA).expect("schema parses");
    let mut errors = Vec::new();
    validate(&schema, &schema, &doc, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["summary"]["rules_executed"], 21);
    assert_eq!(doc["summary"]["rules_abnormal"], 3);
    let first = &doc["findings"][0];
    assert_eq!(first["rule"]["name"], "tidb-max-days");
    assert_eq!(
        first["rows"][0]["values"][0]["evidence"]["file"],
        "basic-tidb-0/conf/config.json"
    );
}

/// The fields added for issue 8 (warnings, errors, links, expected values, components) are in
/// the schema, on a check with all of them filled.
#[test]
fn json_with_warnings_errors_and_links_matches_the_schema() {
    let bundle = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/bad/config-truncated");
    let cluster = Cluster::open(&bundle).expect("loads");
    let erring = "id: 9100\nname: as-number\nkind: config\ncomponent: TidbConfig\nvariation: TidbConfig.log.level\nseverity: warning\nlink: https://example.invalid/x\ndescription: d\nabnormal_when: {path: log.level, as: int, lt: 1}\n";
    let mut rules = diag_core::rules::RuleSet::builtin();
    rules.merge(
        diag_core::rules::RuleSet::from_files(vec![("e.yaml".into(), erring.into())], "t")
            .expect("rule loads"),
    );
    let outcome = diag_core::engine::check(&cluster, &rules, &Default::default());
    let mut doc = ReportDocument::new(&cluster, &outcome);
    doc.link_bundle(&cluster, &bundle.join("report-x"));
    assert_eq!(doc.bundle.href.as_deref(), Some("../"));
    let json: Value =
        serde_json::from_str(&Renderer::new().render(Format::Json, &doc).expect("renders"))
            .expect("json parses");
    assert_eq!(
        json["warnings"][0]["href"],
        "../bad-pd-1/conf/config.json#L4"
    );
    let rows = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .flat_map(|f| f["rows"].as_array().cloned().unwrap_or_default());
    assert!(
        rows.clone().any(|r| r["expected"].is_string()),
        "expected values"
    );
    assert!(
        rows.flat_map(|r| r["values"].as_array().cloned().unwrap_or_default())
            .any(|v| v["evidence"]["href"].is_string()),
        "evidence links"
    );
    let schema: Value = serde_json::from_str(JSON_SCHEMA).expect("schema parses");
    let mut errors = Vec::new();
    validate(&schema, &schema, &json, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_schema_validator_rejects_what_it_should() {
    let schema: Value = serde_json::from_str(JSON_SCHEMA).expect("schema parses");
    let mut doc: Value = serde_json::from_str(&render(Format::Json)).expect("json parses");
    doc["findings"][0]["rows"][0]["state"] = "broken".into();
    doc["summary"]["surprise"] = 1.into();
    let mut errors = Vec::new();
    validate(&schema, &schema, &doc, "$", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

#[test]
fn sarif_is_2_1_0_with_bundle_relative_locations() {
    let sarif: Value = serde_json::from_str(&render(Format::Sarif)).expect("sarif parses");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 21);
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 7, "1 TiDB row + 2 × 3 PD rows");
    for r in results {
        let index = r["ruleIndex"].as_u64().expect("index") as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
        assert_eq!(r["level"], "warning");
        let location = &r["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uriBaseId"], "BUNDLEROOT");
        assert!(
            location["artifactLocation"]["uri"]
                .as_str()
                .expect("uri")
                .ends_with("/conf/config.json")
        );
        assert_eq!(location["region"]["startLine"], 12);
    }
    assert_eq!(rules[0]["helpUri"], "https://s.tidb.io/msmo6awg");
}

#[test]
fn junit_has_one_case_per_rule_and_a_failure_per_abnormal_rule() {
    let xml = render(Format::Junit);
    let tree = xml::parse(&xml).expect("well-formed XML");
    assert_eq!(tree.name, "testsuites");
    assert_eq!(tree.attr("tests"), Some("21"));
    assert_eq!(tree.attr("failures"), Some("3"));
    let suite = &tree.children[0];
    assert_eq!(suite.attr("name"), Some("basic.config"));
    let cases: Vec<_> = suite
        .children
        .iter()
        .filter(|c| c.name == "testcase")
        .collect();
    assert_eq!(cases.len(), 21);
    let failed: Vec<_> = cases
        .iter()
        .filter(|c| c.children.iter().any(|f| f.name == "failure"))
        .map(|c| c.attr("name").unwrap_or(""))
        .collect();
    assert_eq!(
        failed,
        [
            "100 tidb-max-days",
            "209 pdconfig-max-days",
            "210 pdconfig-max-backups"
        ]
    );
    // The suggestion's `<`, `&` and `|` survive escaping.
    assert!(xml.contains("&lt;= 30 &amp; keep | pipes"));
}

#[test]
fn markdown_reads_like_the_report() {
    let md = render(Format::Markdown);
    assert!(
        md.contains("keep \\| pipes"),
        "pipes are escaped in table cells"
    );
    insta::assert_snapshot!("seed-markdown", md);
}

#[test]
fn html_is_self_contained_and_escaped() {
    let html = render(Format::Html);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg"), "severity chart is inline SVG");
    assert!(
        html.contains("id=\"f-level\"") && html.contains("id=\"f-component\""),
        "filters"
    );
    assert!(
        html.contains("&lt;= 30 &amp; keep"),
        "suggestions are escaped"
    );
    // minijinja's HTML escaping also escapes `/` as `&#x2f;`, which browsers decode.
    let html_text = html.replace("&#x2f;", "/");
    assert!(
        html_text.contains("basic-pd-2/conf/config.json:12"),
        "evidence shown"
    );
    assert!(
        html_text.contains("href=\"https://s.tidb.io/jkdqxudq\""),
        "links shown"
    );
    for external in ["<link", "src=\"http", "src='http", "@import", "url("] {
        assert!(!html.contains(external), "no external asset: {external}");
    }
    assert_eq!(html.matches("<tbody class=\"finding\"").count(), 21);
}

#[test]
fn every_format_parses_from_its_name() {
    for f in Format::ALL {
        assert_eq!(f.as_str().parse::<Format>().expect("parses"), f);
    }
    assert!("pdf".parse::<Format>().is_err());
}

/// The subset of JSON Schema 2020-12 the committed schema uses; any other keyword fails the
/// test, so the schema cannot silently rely on something this check ignores.
fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        errors.push(format!("{at}: schema is not an object"));
        return;
    };
    for (key, rule) in s {
        match key.as_str() {
            "$schema" | "$id" | "title" | "description" | "$defs" => {}
            "$ref" => {
                let name = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .unwrap_or("?");
                validate(root, &root["$defs"][name], v, at, errors);
            }
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    other => other.as_str().into_iter().collect(),
                };
                let ok = types.iter().any(|t| match *t {
                    "object" => v.is_object(),
                    "array" => v.is_array(),
                    "string" => v.is_string(),
                    "integer" => v.is_i64() || v.is_u64(),
                    "number" => v.is_number(),
                    "boolean" => v.is_boolean(),
                    "null" => v.is_null(),
                    _ => false,
                });
                if !ok {
                    errors.push(format!("{at}: expected {types:?}, got {v}"));
                }
            }
            "const" => {
                if v != rule {
                    errors.push(format!("{at}: expected {rule}, got {v}"));
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|a| a.contains(v)) {
                    errors.push(format!("{at}: {v} not in {rule}"));
                }
            }
            "minimum" => {
                if v.as_f64().zip(rule.as_f64()).is_some_and(|(x, m)| x < m) {
                    errors.push(format!("{at}: {v} < {rule}"));
                }
            }
            "maximum" => {
                if v.as_f64().zip(rule.as_f64()).is_some_and(|(x, m)| x > m) {
                    errors.push(format!("{at}: {v} > {rule}"));
                }
            }
            "required" => {
                for name in rule
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if v.as_object().is_some_and(|o| !o.contains_key(name)) {
                        errors.push(format!("{at}: missing `{name}`"));
                    }
                }
            }
            "properties" => {
                if let Some(o) = v.as_object() {
                    for (name, sub) in rule.as_object().into_iter().flatten() {
                        if let Some(child) = o.get(name) {
                            validate(root, sub, child, &format!("{at}.{name}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                if rule == &Value::Bool(false)
                    && let Some(o) = v.as_object()
                {
                    for name in o.keys() {
                        if s.get("properties").is_none_or(|p| p.get(name).is_none()) {
                            errors.push(format!("{at}: unexpected `{name}`"));
                        }
                    }
                }
            }
            "items" => {
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    validate(root, rule, item, &format!("{at}[{i}]"), errors);
                }
            }
            "anyOf" => {
                let any = rule.as_array().into_iter().flatten().any(|sub| {
                    let mut e = Vec::new();
                    validate(root, sub, v, at, &mut e);
                    e.is_empty()
                });
                if !any {
                    errors.push(format!("{at}: matches no alternative"));
                }
            }
            other => errors.push(format!(
                "{at}: schema keyword `{other}` is not supported by this test"
            )),
        }
    }
}

/// A minimal XML reader: elements and attributes, enough to check JUnit's structure; fails on
/// anything not well-formed in the ways our template could get wrong (unbalanced tags, bare `&`
/// or `<` in text or attributes).
mod xml {
    #[derive(Debug)]
    pub struct Element {
        pub name: String,
        pub attrs: Vec<(String, String)>,
        pub children: Vec<Element>,
    }

    impl Element {
        pub fn attr(&self, name: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }
    }

    pub fn parse(s: &str) -> Result<Element, String> {
        let s = s.trim_start();
        let s = match s.strip_prefix("<?xml") {
            Some(rest) => &rest[rest.find("?>").ok_or("unterminated declaration")? + 2..],
            None => s,
        };
        let mut stack: Vec<Element> = Vec::new();
        let mut rest = s;
        let mut root = None;
        while let Some(lt) = rest.find('<') {
            check_text(&rest[..lt])?;
            rest = &rest[lt + 1..];
            let gt = rest.find('>').ok_or("unterminated tag")?;
            let tag = &rest[..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let done = stack.pop().ok_or("close without open")?;
                if done.name != name.trim() {
                    return Err(format!("</{name}> closes <{}>", done.name));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, mut attrs_src) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
            let mut attrs = Vec::new();
            loop {
                attrs_src = attrs_src.trim_start();
                if attrs_src.is_empty() {
                    break;
                }
                let eq = attrs_src
                    .find("=\"")
                    .ok_or(format!("bad attribute in <{name}>"))?;
                let key = attrs_src[..eq].to_string();
                let after = &attrs_src[eq + 2..];
                let end = after.find('"').ok_or("unterminated attribute")?;
                check_text(&after[..end])?;
                attrs.push((key, unescape(&after[..end])));
                attrs_src = &after[end + 1..];
            }
            let element = Element {
                name: name.to_string(),
                attrs,
                children: Vec::new(),
            };
            if self_closing {
                stack
                    .last_mut()
                    .ok_or("self-closing root")?
                    .children
                    .push(element);
            } else {
                stack.push(element);
            }
        }
        if !stack.is_empty() {
            return Err(format!("unclosed <{}>", stack[stack.len() - 1].name));
        }
        root.ok_or_else(|| "no root element".to_string())
    }

    fn check_text(t: &str) -> Result<(), String> {
        for (i, _) in t.match_indices('&') {
            let entity = &t[i..t[i..].find(';').map_or(t.len(), |e| i + e + 1)];
            if !matches!(
                entity,
                "&amp;" | "&lt;" | "&gt;" | "&quot;" | "&#x27;" | "&#39;" | "&#x2f;"
            ) {
                return Err(format!("bad entity {entity:?}"));
            }
        }
        Ok(())
    }

    fn unescape(t: &str) -> String {
        t.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&amp;", "&")
    }
}

/// The seed findings plus one log rule whose row matched 7 entries: 5 examples kept, the
/// first in the window cited first, and the config line of the state the rule requires.
fn log_doc() -> ReportDocument {
    use diag_core::engine::{Aggregate, Evidence, Finding, InstanceRef, Row, RowState, ValueRead};
    use diag_core::model::ComponentKind;
    use diag_core::rules::{CheckKind, RuleMeta, Severity};
    let meta = std::sync::Arc::new(RuleMeta {
        id: 7079,
        name: "tidb-connections-cut-keepalive-off".into(),
        kind: CheckKind::Log,
        components: vec![ComponentKind::Tidb],
        variation: "log.tidb-connections-cut-keepalive-off".into(),
        severity: Severity::Warning,
        version: String::new(),
        link: String::new(),
        description: "Clients' connections are dropped while TCP keepalive is off.".into(),
        suggestion: "Set `performance.tcp-keep-alive = true`.".into(),
        source: "builtin:log/tidb-connections-cut-keepalive-off.yaml".into(),
    });
    let file = "basic-tidb-0/log/tidb.log";
    let examples: Vec<Evidence> = (0..5)
        .map(|n| {
            Evidence::at(file, 10 + 3 * n)
                .with_time(format!("2022-01-24T08:4{n}:21.118+08:00"))
                .with_excerpt(format!(
                    "[2022/01/24 08:4{n}:21.118 +08:00] [WARN] [conn.go:1147] [\"read packet failed, close this connection\"] [conn=219902325555{n}] [error=\"EOF <&>\"]"
                ))
        })
        .collect();
    let mut aggregate = Aggregate::new();
    aggregate.count = 7;
    aggregate.first = Some("2022-01-24T08:40:21.118+08:00".into());
    aggregate.last = Some("2022-01-24T08:51:02.000+08:00".into());
    aggregate.examples = examples.clone();
    let mut row = Row::new(
        "TidbConfig_172.20.21.213:4000".into(),
        vec![InstanceRef {
            component: ComponentKind::Tidb,
            host: "172.20.21.213".into(),
            port: 4000,
            index: 0,
        }],
        vec![ValueRead {
            variation: meta.variation.as_str().into(),
            value: Some("7".into()),
            evidence: examples.first().cloned(),
        }],
        RowState::Abnormal(Severity::Warning),
        Some("7 × read packet failed, close this connection (with config performance.tcp-keep-alive = false)".into()),
    );
    row.evidence = examples;
    row.evidence
        .push(Evidence::at("basic-tidb-0/conf/config.json", 88));
    row.aggregate = Some(Box::new(aggregate));
    let mut outcome = seed_outcome();
    outcome.findings.push(Finding {
        rule: meta,
        rows: vec![row],
    });
    let cluster = Cluster::open(SEED.as_ref()).expect("seed bundle loads");
    ReportDocument::new(&cluster, &outcome)
}

#[test]
fn html_shows_the_example_lines_of_a_log_row() {
    let doc = log_doc();
    let html = Renderer::new().render(Format::Html, &doc).expect("renders");
    if let Some(dir) = std::env::var_os("DIAG_REPORT_DUMP") {
        std::fs::write(
            std::path::Path::new(&dir).join("log-check-report.html"),
            &html,
        )
        .expect("dump");
    }
    let at = html
        .find("<tbody class=\"finding\" data-level=\"warning\" data-status=\"abnormal\" data-components=\" tidb \" data-text=\"7079")
        .expect("the log finding is rendered");
    let end = at + html[at..].find("</tbody>\n</table>").expect("its rows end");
    let block = &html[at..end];
    // Each example once, as a list item, with its file:line and excerpt; the state's config
    // line after them; the first example is not repeated as the value's evidence.
    assert_eq!(block.matches("<li>").count(), 5, "{block}");
    assert_eq!(block.matches("tidb.log:10").count(), 1, "{block}");
    insta::assert_snapshot!("html-log-row", block);
    // The JSON document keeps the aggregate and the whole evidence list.
    let json: Value =
        serde_json::from_str(&Renderer::new().render(Format::Json, &doc).expect("renders"))
            .expect("json");
    let row = json["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["rule"]["id"] == 7079))
        .map(|f| &f["rows"][0])
        .expect("the log row");
    assert_eq!(
        row["aggregate"]["examples"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(row["evidence"].as_array().map(Vec::len), Some(6));
}
