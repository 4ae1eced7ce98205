//! A cluster-wide, time-ordered log query (what TiDB's `CLUSTER_LOG` is online): every
//! instance's logs merged by time, filtered by component, instance, level, time and a regex.
//!
//! Each file streams through its own [`EntryReader`]; a heap merges the streams, so memory is
//! one buffer per file. Ties in time are ordered by component (pd, tidb, tikv, tiflash,
//! ticdc, others), then the bundle's instance order, then file and line. An entry without a
//! time sorts at the time of the dated entry before it in its file.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Read;

use regex::Regex;
use serde::Serialize;

use super::{EntryReader, Level, LogEntry, LogFileKind, LogTime, classify};
use crate::model::{Cluster, ComponentKind, DataKind};

/// What to select.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Only these components (all when empty).
    pub components: Vec<ComponentKind>,
    /// Only these instances, as `host:port` or pod name (all when empty).
    pub instances: Vec<String>,
    /// That level and above; entries without a level pass only when this is `None`.
    pub level: Option<Level>,
    /// Entries at or after this instant.
    pub since: Option<LogTime>,
    /// Entries at or before this instant.
    pub until: Option<LogTime>,
    /// Entries whose message or one of whose `key=value` fields matches.
    pub grep: Option<Regex>,
    /// At most this many entries.
    pub limit: Option<usize>,
}

/// One entry of the query's result, with where it comes from.
#[derive(Debug, Clone)]
pub struct FoundEntry {
    /// The entry.
    pub entry: LogEntry,
    /// Its component.
    pub component: ComponentKind,
    /// `host:port` of its instance.
    pub instance: String,
    /// Bundle-relative file.
    pub file: String,
}

/// The documented JSON Lines shape of one entry (`diag-check logs --format jsonl`):
/// `time` (RFC 3339 with the log's own offset, or null), `level` (or null), `component`
/// (topology key), `instance` (`host:port`), `file` (bundle-relative), `line` (1-based, first
/// line of the entry), `source` (`server.go:123` or null), `message`, `fields` (key → value, or
/// key → list of values when the key repeats; keys sorted), `extra_lines` (continuation lines).
#[derive(Debug, Serialize)]
pub struct EntryJson<'a> {
    time: Option<String>,
    level: Option<&'static str>,
    component: &'static str,
    instance: &'a str,
    file: &'a str,
    line: u64,
    source: Option<&'a str>,
    message: &'a str,
    fields: serde_json::Map<String, serde_json::Value>,
    extra_lines: u64,
}

impl FoundEntry {
    /// The JSON Lines object of this entry.
    pub fn to_json(&self) -> EntryJson<'_> {
        let mut fields = serde_json::Map::new();
        for (k, v) in &self.entry.fields {
            let value = serde_json::Value::String(v.clone());
            match fields.get_mut(k) {
                None => {
                    fields.insert(k.clone(), value);
                }
                Some(serde_json::Value::Array(list)) => list.push(value),
                Some(first) => {
                    let first = first.take();
                    fields.insert(k.clone(), serde_json::Value::Array(vec![first, value]));
                }
            }
        }
        EntryJson {
            time: self.entry.time.map(|t| t.to_string()),
            level: self.entry.level.map(Level::as_str),
            component: self.component.topology_key(),
            instance: &self.instance,
            file: &self.file,
            line: self.entry.line,
            source: self.entry.source.as_deref(),
            message: &self.entry.message,
            fields,
            extra_lines: self.entry.extra_lines,
        }
    }

    /// One text line: `time level component instance file:line [source] message k=v…`.
    pub fn to_text(&self) -> String {
        let e = &self.entry;
        let mut out = format!(
            "{} {:<5} {} {} {}:{}",
            e.time.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
            e.level.map(Level::as_str).unwrap_or("-"),
            self.component.topology_key(),
            self.instance,
            self.file,
            e.line
        );
        if let Some(s) = &e.source {
            out.push_str(&format!(" [{s}]"));
        }
        out.push(' ');
        out.push_str(&e.message.replace('\n', "\\n"));
        for (k, v) in &e.fields {
            out.push_str(&format!(" {k}={}", v.replace('\n', "\\n")));
        }
        if e.extra_lines > 0 {
            out.push_str(&format!(" (+{} lines)", e.extra_lines));
        }
        out
    }
}

/// Tie order of components: pd, tidb, tikv, tiflash, ticdc, then the rest in topology order.
fn component_rank(kind: ComponentKind) -> usize {
    match kind {
        ComponentKind::Pd => 0,
        ComponentKind::Tidb => 1,
        ComponentKind::Tikv => 2,
        ComponentKind::Tiflash => 3,
        ComponentKind::Ticdc => 4,
        other => {
            5 + ComponentKind::ALL
                .iter()
                .position(|k| *k == other)
                .unwrap_or(0)
        }
    }
}

struct Stream<'a> {
    entries: EntryReader<Box<dyn Read + Send + 'a>>,
    component: ComponentKind,
    instance: String,
    file: String,
    last_time: i64,
}

impl LogQuery {
    fn wants(&self, e: &LogEntry, effective: i64) -> bool {
        if let Some(floor) = self.level
            && e.level.is_none_or(|l| l < floor)
        {
            return false;
        }
        let at = e.time.map(|t| t.unix_ms).unwrap_or(effective);
        // An entry before any dated one in its file (`i64::MIN`) is kept: its age is unknown.
        if at != i64::MIN
            && (self.since.is_some_and(|s| at < s.unix_ms)
                || self.until.is_some_and(|u| at > u.unix_ms))
        {
            return false;
        }
        match &self.grep {
            None => true,
            Some(r) => {
                r.is_match(&e.message)
                    || e.fields
                        .iter()
                        .any(|(k, v)| r.is_match(&format!("{k}={v}")))
            }
        }
    }
}

/// Runs the query; `emit` gets each entry in order and returns false to stop. Returns the
/// problems met (files that could not be opened or read, and odd bytes), one line each.
pub fn query(
    cluster: &Cluster,
    q: &LogQuery,
    mut emit: impl FnMut(&FoundEntry) -> bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut streams: Vec<Stream> = Vec::new();
    for inst in &cluster.instances {
        if !q.components.is_empty() && !q.components.contains(&inst.component) {
            continue;
        }
        let address = inst.address();
        if !q.instances.is_empty()
            && !q
                .instances
                .iter()
                .any(|i| *i == address || inst.pod.as_deref() == Some(i.as_str()))
        {
            continue;
        }
        for file in &inst.files {
            if !matches!(file.kind, DataKind::Log(_)) {
                continue;
            }
            let kind = classify(&file.path).kind;
            if matches!(
                kind,
                LogFileKind::Slow | LogFileKind::Dmesg | LogFileKind::Other
            ) {
                continue;
            }
            match file.reader() {
                Ok(r) => streams.push(Stream {
                    entries: EntryReader::new(r, false),
                    component: inst.component,
                    instance: address.clone(),
                    file: file.path.clone(),
                    last_time: i64::MIN,
                }),
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    // Heap of (effective time, component rank, stream index, line) → the stream's next entry.
    let mut heads: Vec<Option<LogEntry>> = Vec::with_capacity(streams.len());
    let mut heap = BinaryHeap::new();
    let advance = |s: &mut Stream, problems: &mut Vec<String>| -> Option<(i64, LogEntry)> {
        for next in s.entries.by_ref() {
            match next {
                Ok(e) => {
                    if let Some(t) = e.time {
                        s.last_time = t.unix_ms;
                    }
                    let effective = s.last_time;
                    if q.wants(&e, effective) {
                        return Some((effective, e));
                    }
                }
                Err(err) => {
                    problems.push(format!("{}: read failed: {err}", s.file));
                    return None;
                }
            }
        }
        None
    };
    for (i, s) in streams.iter_mut().enumerate() {
        match advance(s, &mut problems) {
            Some((t, e)) => {
                heap.push(Reverse((t, component_rank(s.component), i, e.line)));
                heads.push(Some(e));
            }
            None => heads.push(None),
        }
    }
    let mut emitted = 0usize;
    while let Some(Reverse((_, _, i, _))) = heap.pop() {
        if q.limit.is_some_and(|l| emitted >= l) {
            break;
        }
        let Some(entry) = heads[i].take() else {
            continue;
        };
        let s = &mut streams[i];
        let found = FoundEntry {
            entry,
            component: s.component,
            instance: s.instance.clone(),
            file: s.file.clone(),
        };
        emitted += 1;
        if !emit(&found) {
            break;
        }
        if let Some((t, e)) = advance(s, &mut problems) {
            heap.push(Reverse((t, component_rank(s.component), i, e.line)));
            heads[i] = Some(e);
        }
    }
    for s in &streams {
        for note in s.entries.notes().describe() {
            problems.push(format!("{}: {note}", s.file));
        }
    }
    problems
}
