//! One chronology of a bundle across every instance and source: the timed evidence of every
//! abnormal row (log matches, metric threshold crossings, alerts — whatever the rules cite with
//! a time), plus what the model holds with a time of its own (the alerts Prometheus reported as
//! firing or pending when the bundle was collected).
//!
//! Events are kept within a window — by default the sample window, extended to the time of the
//! collection's own snapshots (`alerts.json` is queried as the bundle is collected, just after
//! the window ends) — and capped per rule ([`MAX_EVENTS_PER_RULE`]). They are ordered by time,
//! then by instance in bundle order, then file and line, so the order is the same on every run.
//!
//! ```
//! use diag_core::{Cluster, engine, rules::RuleSet, timeline::{Timeline, Window}};
//! let cluster = Cluster::open("../../fixtures/diag-fPrz0RnDxRn".as_ref()).unwrap();
//! let outcome = engine::check(&cluster, &RuleSet::builtin(), &Default::default());
//! let timeline = Timeline::build(&cluster, &outcome, &Window::default()).unwrap();
//! assert_eq!(timeline.events[0].kind, "alert");
//! ```

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};
use serde::Serialize;

use crate::Cluster;
use crate::diff::RuleRef;
use crate::engine::{CheckOutcome, Evidence, RowState};
use crate::model::data::DataKind;
use crate::model::value::{ConfigNode, ConfigValue};
use crate::model::{ComponentKind, Instance};
use crate::rules::Severity;

/// Events kept per rule; the rest are counted in [`Timeline::capped`].
pub const MAX_EVENTS_PER_RULE: usize = 50;

/// Events closer than this to the previous one belong to the same burst.
pub const BURST_GAP_SECONDS: i64 = 600;

/// A `--since` / `--until` that is not a time.
#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not a time (expected RFC 3339, e.g. 2022-02-07T12:00:00+08:00)")]
pub struct TimeError {
    /// What was given.
    pub text: String,
}

/// The time range events are kept in; `None` ends mean the bundle's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    /// Keep events at or after this time.
    pub since: Option<String>,
    /// Keep events at or before this time.
    pub until: Option<String>,
}

/// Where an event was read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EventEvidence {
    /// Bundle-relative file.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// When, RFC 3339 in the sample window's UTC offset (whatever format the source wrote).
    pub time: String,
    /// Topology key of the component (`tikv`), empty when unknown.
    pub component: String,
    /// `host:port` (or what the source calls it), empty for cluster-wide events.
    pub instance: String,
    /// `log`, `metric`, `alert`, `system`, … (a rule's kind, or the source's).
    pub kind: &'static str,
    /// The rule that produced it, if one did.
    pub rule: Option<RuleRef>,
    /// Its severity, if it has one.
    pub severity: Option<Severity>,
    /// One line on what happened.
    pub summary: String,
    /// Where it was read.
    pub evidence: Vec<EventEvidence>,
    /// Set on the earliest critical event of each burst: the likely first cause.
    pub first_cause: bool,
    #[serde(skip)]
    at: Timestamp,
    #[serde(skip)]
    order: usize,
}

/// The chronology of one bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// Always `diag-check-timeline`.
    pub format: &'static str,
    /// Cluster name.
    pub cluster: String,
    /// Start of the window used.
    pub since: Option<String>,
    /// End of the window used.
    pub until: Option<String>,
    /// Every event, in time order.
    pub events: Vec<Event>,
    /// Events left out per rule name because of [`MAX_EVENTS_PER_RULE`].
    pub capped: BTreeMap<String, usize>,
    /// Timed evidence whose time could not be read (not placed on the timeline).
    pub untimed: usize,
}

/// Parses the times sources write: RFC 3339, TiDB's unified log format
/// (`2022/02/07 12:00:00.123 +08:00`), or an epoch in seconds.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let t = text.trim().trim_start_matches('[').trim_end_matches(']');
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Some(ts);
    }
    for format in [
        "%Y/%m/%d %H:%M:%S%.f %:z",
        "%Y/%m/%d %H:%M:%S %:z",
        "%Y/%m/%d %H:%M:%S%.f %z",
    ] {
        if let Ok(z) = jiff::fmt::strtime::parse(format, t).and_then(|p| p.to_timestamp()) {
            return Some(z);
        }
    }
    let secs: f64 = t.parse().ok()?;
    Timestamp::from_millisecond((secs * 1000.0).round() as i64).ok()
}

fn offset_of(text: &str) -> Offset {
    text.parse::<jiff::Zoned>()
        .map(|z| z.offset())
        .or_else(|_| {
            // RFC 3339 with a numeric offset: the last six characters.
            let tail = text.get(text.len().saturating_sub(6)..).unwrap_or("");
            let sign = if tail.starts_with('-') { -1 } else { 1 };
            let hours: i8 = tail.get(1..3).and_then(|h| h.parse().ok()).ok_or(())?;
            let minutes: i32 = tail.get(4..6).and_then(|m| m.parse().ok()).ok_or(())?;
            Offset::from_seconds(sign * (i32::from(hours) * 3600 + minutes * 60)).map_err(|_| ())
        })
        .unwrap_or(Offset::UTC)
}

fn format_time(at: Timestamp, offset: Offset) -> String {
    let zoned = at.to_zoned(TimeZone::fixed(offset));
    if at.subsec_nanosecond() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
    }
}

fn parse_bound(text: &Option<String>) -> Result<Option<Timestamp>, TimeError> {
    match text {
        None => Ok(None),
        Some(t) => parse_time(t)
            .map(Some)
            .ok_or_else(|| TimeError { text: t.clone() }),
    }
}

/// The instance an alert's `instance` label names: by pod, `host:port`, `host:status_port` or host.
fn alert_instance<'a>(cluster: &'a Cluster, label: &str) -> Option<&'a Instance> {
    cluster.instances.iter().find(|i| {
        i.pod.as_deref() == Some(label)
            || label == i.address()
            || i.status_port
                .is_some_and(|p| label == format!("{}:{p}", i.host))
    })
}

fn component_of_alert(name: &str) -> Option<ComponentKind> {
    let prefix = name.split('_').next()?.to_ascii_lowercase();
    ComponentKind::from_topology_key(&prefix)
}

fn label<'a>(node: &'a ConfigNode, key: &str) -> Option<&'a str> {
    node.get("metric")?.get(key)?.as_str()
}

impl Timeline {
    /// Builds the timeline of `cluster` from its check `outcome` and its own timed data.
    pub fn build(
        cluster: &Cluster,
        outcome: &CheckOutcome,
        window: &Window,
    ) -> Result<Timeline, TimeError> {
        let offset = offset_of(&cluster.sample.begin_time);
        let since = parse_bound(&window.since)?.or_else(|| parse_time(&cluster.sample.begin_time));
        let until_given = parse_bound(&window.until)?;
        let sample_end = parse_time(&cluster.sample.end_time);
        let inside = |at: Timestamp, snapshot: bool| {
            since.is_none_or(|s| at >= s)
                && match (until_given, sample_end) {
                    (Some(u), _) => at <= u,
                    // A snapshot taken at collection lies just past the window it closes.
                    (None, Some(_)) if snapshot => true,
                    (None, Some(e)) => at <= e,
                    (None, None) => true,
                }
        };
        let instance_rank: BTreeMap<String, usize> = cluster
            .instances
            .iter()
            .enumerate()
            .map(|(n, i)| (i.address(), n))
            .collect();
        let mut events = Vec::new();
        let mut capped = BTreeMap::new();
        let mut untimed = 0;

        for finding in &outcome.findings {
            let rule = &finding.rule;
            let mut kept = 0usize;
            for row in &finding.rows {
                let severity = match row.state {
                    RowState::Abnormal(s) => s,
                    _ => continue,
                };
                let mut cited: Vec<&Evidence> = row.evidence.iter().collect();
                if let Some(a) = &row.aggregate {
                    cited.extend(&a.examples);
                }
                cited.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
                cited.dedup_by(|a, b| a.file == b.file && a.line == b.line);
                let first = row.instances.first();
                for e in cited {
                    let Some(time) = e.time() else { continue };
                    let Some(at) = parse_time(time) else {
                        untimed += 1;
                        continue;
                    };
                    if !inside(at, false) {
                        continue;
                    }
                    if kept == MAX_EVENTS_PER_RULE {
                        *capped.entry(rule.name.clone()).or_insert(0) += 1;
                        continue;
                    }
                    kept += 1;
                    let instance = first
                        .map(|i| format!("{}:{}", i.host, i.port))
                        .unwrap_or_default();
                    let excerpt = e.excerpt().unwrap_or(&rule.variation);
                    events.push(Event {
                        time: format_time(at, offset),
                        component: first
                            .map(|i| i.component.topology_key().to_owned())
                            .unwrap_or_default(),
                        order: instance_rank.get(&instance).copied().unwrap_or(usize::MAX),
                        instance,
                        kind: rule.kind.as_str(),
                        rule: Some(RuleRef {
                            id: rule.id,
                            name: rule.name.clone(),
                        }),
                        severity: Some(severity),
                        summary: format!("{}: {}", rule.name, one_line(excerpt)),
                        evidence: vec![EventEvidence {
                            file: e.file.to_string(),
                            line: e.line,
                        }],
                        first_cause: false,
                        at,
                    });
                }
            }
        }

        // Alerts as Prometheus reported them at collection, unless a rule already cited them.
        let cited: std::collections::BTreeSet<(String, String)> = events
            .iter()
            .filter_map(|e| e.evidence.first().map(|v| (v.file.clone(), e.time.clone())))
            .collect();
        for file in cluster.files_of(DataKind::Alerts) {
            let Ok(tree) = file.tree() else { continue };
            let results = tree
                .root
                .get("data")
                .and_then(|d| d.get("result").or_else(|| d.get("alerts")))
                .and_then(ConfigNode::as_array)
                .unwrap_or_default();
            for alert in results {
                let name = label(alert, "alertname").unwrap_or("alert");
                let state = label(alert, "alertstate").unwrap_or("firing");
                let at = alert
                    .get("value")
                    .and_then(ConfigNode::as_array)
                    .and_then(|v| v.first())
                    .and_then(|t| match &t.value {
                        ConfigValue::Float(f) => Some(*f),
                        ConfigValue::Int(i) => Some(*i as f64),
                        _ => None,
                    })
                    .and_then(|secs| {
                        Timestamp::from_millisecond((secs * 1000.0).round() as i64).ok()
                    });
                let Some(at) = at else {
                    untimed += 1;
                    continue;
                };
                if !inside(at, true) {
                    continue;
                }
                let time = format_time(at, offset);
                if cited.contains(&(file.path.clone(), time.clone())) {
                    continue;
                }
                let who = label(alert, "instance").unwrap_or("");
                let instance = alert_instance(cluster, who);
                let severity = match label(alert, "level").or_else(|| label(alert, "severity")) {
                    Some("critical" | "emergency") => Some(Severity::Critical),
                    Some("warning") => Some(Severity::Warning),
                    Some("info") => Some(Severity::Info),
                    _ => None,
                };
                events.push(Event {
                    time,
                    component: instance
                        .map(|i| i.component)
                        .or_else(|| component_of_alert(name))
                        .map(|c| c.topology_key().to_owned())
                        .unwrap_or_default(),
                    instance: instance
                        .map(Instance::address)
                        .unwrap_or_else(|| who.to_owned()),
                    kind: "alert",
                    rule: None,
                    severity,
                    summary: format!("alert {name} {state}"),
                    evidence: vec![EventEvidence {
                        file: file.path.clone(),
                        line: alert.line,
                    }],
                    first_cause: false,
                    order: instance
                        .and_then(|i| instance_rank.get(&i.address()).copied())
                        .unwrap_or(usize::MAX),
                    at,
                });
            }
        }

        events.sort_by(|a, b| {
            (a.at, a.order, &a.instance, &a.evidence, &a.summary).cmp(&(
                b.at,
                b.order,
                &b.instance,
                &b.evidence,
                &b.summary,
            ))
        });
        mark_first_causes(&mut events);
        Ok(Timeline {
            format: "diag-check-timeline",
            cluster: cluster.name.clone(),
            since: since.map(|s| format_time(s, offset)),
            until: until_given.or(sample_end).map(|u| format_time(u, offset)),
            events,
            capped,
            untimed,
        })
    }

    /// The timeline as pretty JSON (with a trailing newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// One line per event: time, component and instance, kind, severity, rule, summary, where.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "# Timeline of {} ({} to {})\n{} events\n\n",
            self.cluster,
            self.since.as_deref().unwrap_or("-"),
            self.until.as_deref().unwrap_or("-"),
            self.events.len()
        );
        for e in &self.events {
            let rule = e
                .rule
                .as_ref()
                .map_or(String::new(), |r| format!("{} ", r.id));
            let at: Vec<String> = e
                .evidence
                .iter()
                .map(|v| {
                    if v.line > 0 {
                        format!("{}:{}", v.file, v.line)
                    } else {
                        v.file.clone()
                    }
                })
                .collect();
            out.push_str(&format!(
                "{}{}  {} {}  {}  {}  {}{}  ({})\n",
                if e.first_cause { "* " } else { "  " },
                e.time,
                if e.component.is_empty() {
                    "-"
                } else {
                    &e.component
                },
                if e.instance.is_empty() {
                    "-"
                } else {
                    &e.instance
                },
                e.kind,
                e.severity.map_or("-", Severity::as_str),
                rule,
                e.summary,
                at.join(", ")
            ));
        }
        for (rule, n) in &self.capped {
            out.push_str(&format!("  ({n} more events of {rule} not shown)\n"));
        }
        if self.events.iter().any(|e| e.first_cause) {
            out.push_str("\n* the earliest critical event of its burst: the likely first cause\n");
        }
        out
    }

    /// A standalone HTML page: one swimlane per instance (inline SVG), each event a mark that
    /// links to its row in the table of events below, which cites the evidence.
    pub fn to_html(&self) -> String {
        let mut lanes: Vec<(usize, &str)> = Vec::new();
        for e in &self.events {
            if !lanes.iter().any(|(_, l)| *l == e.instance) {
                lanes.push((e.order, &e.instance));
            }
        }
        lanes.sort();
        let (lo, hi) = match (self.events.first(), self.events.last()) {
            (Some(a), Some(b)) => (a.at.as_second(), b.at.as_second().max(a.at.as_second() + 1)),
            _ => (0, 1),
        };
        let (left, width, lane_h) = (220.0, 760.0, 28.0);
        let x = |e: &Event| left + (e.at.as_second() - lo) as f64 / (hi - lo) as f64 * width;
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"events per instance over time\">\n",
            left + width + 20.0,
            lane_h * lanes.len() as f64 + 30.0
        );
        for (n, (_, lane)) in lanes.iter().enumerate() {
            let y = lane_h * n as f64 + 20.0;
            svg.push_str(&format!(
                "<text x=\"4\" y=\"{:.0}\" font-size=\"12\">{}</text><line x1=\"{left}\" x2=\"{}\" y1=\"{y:.0}\" y2=\"{y:.0}\" stroke=\"#ddd\"/>\n",
                y + 4.0,
                escape(if lane.is_empty() { "cluster" } else { lane }),
                left + width
            ));
        }
        for (n, e) in self.events.iter().enumerate() {
            let lane = lanes
                .iter()
                .position(|(_, l)| *l == e.instance)
                .unwrap_or(0);
            let y = lane_h * lane as f64 + 20.0;
            let color = match e.severity {
                Some(Severity::Critical) => "#c62828",
                Some(Severity::Warning) => "#ef8f00",
                Some(Severity::Info) => "#1e88e5",
                None => "#9e9e9e",
            };
            let ring = if e.first_cause {
                " stroke=\"#000\" stroke-width=\"2\""
            } else {
                ""
            };
            svg.push_str(&format!(
                "<a href=\"#e{n}\"><circle cx=\"{:.1}\" cy=\"{y:.0}\" r=\"6\" fill=\"{color}\"{ring}><title>{} {}</title></circle></a>\n",
                x(e),
                escape(&e.time),
                escape(&e.summary)
            ));
        }
        svg.push_str("</svg>\n");
        let mut rows = String::new();
        for (n, e) in self.events.iter().enumerate() {
            let evidence: Vec<String> = e
                .evidence
                .iter()
                .map(|v| {
                    let at = if v.line > 0 {
                        format!("{}:{}", v.file, v.line)
                    } else {
                        v.file.clone()
                    };
                    format!("<code>{}</code>", escape(&at))
                })
                .collect();
            rows.push_str(&format!(
                "<tr id=\"e{n}\"{}><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>\n",
                if e.first_cause { " class=\"first\"" } else { "" },
                escape(&e.time),
                escape(&e.component),
                escape(&e.instance),
                e.kind,
                e.severity.map_or("", Severity::as_str),
                escape(&e.summary),
                if e.first_cause { " <strong>likely first cause</strong>" } else { "" },
                evidence.join(" ")
            ));
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Timeline of {name}</title>\n\
             <style>body{{font-family:system-ui,sans-serif;font-size:13px;margin:20px}}table{{border-collapse:collapse}}\
             td,th{{padding:3px 8px;border-bottom:1px solid #e3e3e3;text-align:left}}tr.first{{background:#fff3e0}}tr:target{{background:#e3f2fd}}</style></head>\n\
             <body><h1>Timeline of {name}</h1>\n<p>{since} to {until}: {count} events.</p>\n{svg}\
             <table><tr><th>Time</th><th>Instance</th><th>Kind</th><th>Severity</th><th>What</th><th>Evidence</th></tr>\n{rows}</table>\n</body></html>\n",
            name = escape(&self.cluster),
            since = escape(self.since.as_deref().unwrap_or("-")),
            until = escape(self.until.as_deref().unwrap_or("-")),
            count = self.events.len(),
        )
    }
}

/// Marks the earliest critical event of each burst (events less than [`BURST_GAP_SECONDS`]
/// apart).
fn mark_first_causes(events: &mut [Event]) {
    let mut start = 0;
    while start < events.len() {
        let mut end = start + 1;
        while end < events.len()
            && events[end].at.as_second() - events[end - 1].at.as_second() < BURST_GAP_SECONDS
        {
            end += 1;
        }
        if let Some(first) = events[start..end]
            .iter_mut()
            .find(|e| e.severity == Some(Severity::Critical))
        {
            first.first_cause = true;
        }
        start = end;
    }
}

fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > 160 {
        line.chars().take(157).collect::<String>() + "..."
    } else {
        line.to_owned()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test fails by panicking
mod tests {
    use super::*;

    #[test]
    fn times_of_every_source_format_parse_to_the_same_instant() {
        let a = parse_time("2022-02-07T12:00:00+08:00").unwrap();
        assert_eq!(parse_time("[2022/02/07 12:00:00.000 +08:00]"), Some(a));
        assert_eq!(parse_time("1644206400"), Some(a));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(
            format_time(a, offset_of("2022-02-07T12:00:00+08:00")),
            "2022-02-07T12:00:00+08:00"
        );
    }
}
