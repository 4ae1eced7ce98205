//! SARIF 2.1.0: rule metadata in the driver, one result per abnormal (or unevaluable) row, with
//! the bundle-relative file the value was read from as its location; waived rows are results
//! with an accepted suppression carrying the waiver's reason.

use serde_json::{Value, json};

use super::document::{FindingDoc, ReportDocument, RowDoc, WarningDoc};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// SARIF levels: `error` for critical, `warning`, `note` for info.
fn level(severity: &str) -> &'static str {
    match severity {
        "critical" | "error" => "error",
        "warning" => "warning",
        _ => "note",
    }
}

pub(super) fn sarif(doc: &ReportDocument) -> Value {
    let rules: Vec<Value> = doc.findings.iter().map(rule_descriptor).collect();
    let mut results = Vec::new();
    for (index, f) in doc.findings.iter().enumerate() {
        for row in f.rows.iter() {
            let row_level = match row.state {
                "info" | "warning" | "critical" => level(row.state),
                "error" => "error",
                "waived" => row.waiver.as_ref().map_or("note", |w| level(w.severity)),
                _ => continue,
            };
            results.push(result(index, f, row, row_level));
        }
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": doc.engine.name,
                "version": doc.engine.version,
                "semanticVersion": doc.engine.version,
                "properties": { "ruleSetVersion": doc.rule_set.version },
                "rules": rules,
            }},
            "originalUriBaseIds": {
                "BUNDLEROOT": { "description": { "text": format!("The root of bundle {}", doc.bundle.name) } }
            },
            "automationDetails": { "id": format!("diag-check/{}/{}", doc.cluster.name, doc.sample.id) },
            "properties": {
                "cluster": { "name": doc.cluster.name, "id": doc.cluster.id, "version": doc.cluster.version },
                "sample": { "id": doc.sample.id, "beginTime": doc.sample.begin_time },
                "bundle": doc.bundle.name,
            },
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": doc.warnings.iter().map(notification).collect::<Vec<_>>(),
            }],
            "results": results,
        }],
    })
}

/// A loading warning: the tool ran, but this file could not be used.
fn notification(w: &WarningDoc) -> Value {
    let mut n = json!({
        "level": "warning",
        "message": { "text": w.message },
        "descriptor": { "id": w.kind },
    });
    if let Some(file) = &w.file {
        let mut physical =
            json!({ "artifactLocation": { "uri": file, "uriBaseId": "BUNDLEROOT" } });
        if let Some(line) = w.line {
            physical["region"] = json!({ "startLine": line });
        }
        n["locations"] = json!([{ "physicalLocation": physical }]);
    }
    n
}

fn rule_descriptor(f: &FindingDoc) -> Value {
    let r = &f.rule;
    let short = if r.description.is_empty() {
        format!("{} ({})", r.name, r.variation)
    } else {
        r.description.clone()
    };
    let mut d = json!({
        "id": r.name,
        "name": r.name,
        "shortDescription": { "text": short },
        "defaultConfiguration": { "level": level(r.severity) },
        "properties": {
            "diagRuleId": r.id,
            "kind": r.kind,
            "components": r.components,
            "variation": r.variation,
            "version": r.version,
            "source": r.source,
        },
    });
    if !r.link.is_empty() {
        d["helpUri"] = json!(r.link);
    }
    if !r.suggestion.is_empty() {
        d["help"] = json!({ "text": r.suggestion });
    }
    d
}

fn result(rule_index: usize, f: &FindingDoc, row: &RowDoc, level: &str) -> Value {
    let mut text = format!("{}: {} is {}", row.tag, row.values_text, row.state);
    if let Some(m) = &row.message {
        text.push_str(&format!(" ({m})"));
    }
    if !f.rule.suggestion.is_empty() && row.state != "error" {
        text.push_str(&format!(". {}", f.rule.suggestion));
    }
    let locations: Vec<Value> = row
        .values
        .iter()
        .filter_map(|v| v.evidence.as_ref())
        .chain(&row.evidence)
        .map(|e| {
            let mut physical =
                json!({ "artifactLocation": { "uri": e.file, "uriBaseId": "BUNDLEROOT" } });
            if e.line > 0 {
                physical["region"] = json!({ "startLine": e.line });
            }
            json!({ "physicalLocation": physical })
        })
        .collect();
    let mut r = json!({
        "ruleId": f.rule.name,
        "ruleIndex": rule_index,
        "level": level,
        "message": { "text": text },
        "properties": { "instance": row.tag, "state": row.state },
    });
    if !locations.is_empty() {
        r["locations"] = Value::Array(locations);
    }
    // A waived row is a result the user accepted: SARIF's suppression, with the reason.
    if let Some(w) = &row.waiver {
        r["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": w.reason,
        }]);
    }
    r
}
