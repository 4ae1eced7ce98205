//! TiDB slow query logs, streamed: one [`SlowQuery`] at a time, memory bounded by one entry.
//!
//! An entry is a run of `# Key: value` header lines opened by `# Time:` and closed by the
//! statement, whose last line ends with `;`:
//!
//! ```text
//! # Time: 2021-11-15T18:02:26.991204198+08:00
//! # Query_time: 2.001188855
//! # Process_time: 0.5 Wait_time: 0.1 Process_keys: 20000 Total_keys: 40001
//! # Digest: a0adeeb79b…
//! # Plan_digest: a55eaee1d3…
//! select sleep(2);
//! ```
//!
//! A header line may hold several pairs (`# Process_time: 0.5 Wait_time: 0.1 …`); values with
//! spaces (`# User@Host: root[root] @ 10.0.0.1 [10.0.0.1]`) stay whole. Every field TiDB
//! writes is kept by name; the ones the performance rules read are typed. A field that is
//! absent stays absent — never 0. `use db;` lines before a statement belong to it. A line
//! longer than [`MAX_LINE_BYTES`] is cut there and the rest of it skipped, and a statement keeps
//! at most that many bytes ([`SlowLogReader::cut_lines`] counts the cuts), so a huge `INSERT`
//! or a file without newlines never grows memory past one bounded entry.
//!
//! Memory is bounded whatever the file holds: a line is read up to [`MAX_LINE_BYTES`] (the
//! rest of it is skipped), a statement keeps its first [`MAX_SQL_BYTES`] and an entry its first
//! [`MAX_FIELDS`] header fields.
//!
//! ```
//! use diag_core::model::slowlog::SlowLogReader;
//! let log = "# Time: 2024-01-01T00:00:00+08:00\n# Process_keys: 12 Total_keys: 30\nselect 1;\n";
//! let q: Vec<_> = SlowLogReader::new(log.as_bytes()).collect::<Result<_, _>>().unwrap();
//! assert_eq!(q[0].process_keys, Some(12));
//! assert_eq!(q[0].rocksdb_delete_skipped_count, None);
//! ```

use std::io::BufRead;

use jiff::Timestamp;

use super::Cluster;
use super::data::{DataKind, LogKind};
use crate::model::ComponentKind;

/// Longest line read; the rest of a longer line is skipped.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Longest statement kept in [`SlowQuery::sql`]; the rest is dropped.
pub const MAX_SQL_BYTES: usize = 64 * 1024;
/// Header fields kept per entry.
pub const MAX_FIELDS: usize = 256;

/// One slow query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlowQuery {
    /// 1-based line of its `# Time:` header.
    pub line: u64,
    /// `Time`, when it parses as RFC 3339.
    pub time: Option<Timestamp>,
    /// `Digest`.
    pub digest: Option<String>,
    /// `Plan_digest`.
    pub plan_digest: Option<String>,
    /// `Query_time`, seconds.
    pub query_time: Option<f64>,
    /// `Process_time`, seconds.
    pub process_time: Option<f64>,
    /// `Process_keys`.
    pub process_keys: Option<u64>,
    /// `Total_keys`.
    pub total_keys: Option<u64>,
    /// `Rocksdb_delete_skipped_count`.
    pub rocksdb_delete_skipped_count: Option<u64>,
    /// Every header field as written, in order (the typed ones too).
    pub fields: Vec<(String, String)>,
    /// The statement (without `use db;` lines), up to [`MAX_SQL_BYTES`].
    pub sql: String,
}

impl SlowQuery {
    /// A field by name, as written.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, key: &str, value: &str) {
        match key {
            "Time" => self.time = value.parse().ok(),
            "Digest" => self.digest = Some(value.to_string()),
            "Plan_digest" => self.plan_digest = Some(value.to_string()),
            "Query_time" => self.query_time = value.parse().ok(),
            "Process_time" => self.process_time = value.parse().ok(),
            "Process_keys" => self.process_keys = value.parse().ok(),
            "Total_keys" => self.total_keys = value.parse().ok(),
            "Rocksdb_delete_skipped_count" => {
                self.rocksdb_delete_skipped_count = value.parse().ok()
            }
            _ => {}
        }
        if self.fields.len() < MAX_FIELDS {
            self.fields.push((key.to_string(), value.to_string()));
        }
    }
}

/// A line that could not be read (not UTF-8, or an I/O error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SlowLogError {
    /// 1-based line.
    pub line: u64,
    /// What went wrong.
    pub message: String,
}

/// Streams the entries of a slow log.
#[derive(Debug)]
pub struct SlowLogReader<R> {
    input: R,
    line: u64,
    buf: Vec<u8>,
    current: Option<SlowQuery>,
    done: bool,
    /// Lines cut at [`MAX_LINE_BYTES`]: how many, and the first one's number.
    cut: (u64, u64),
}

impl<R: BufRead> SlowLogReader<R> {
    /// Reads entries from `input`.
    pub fn new(input: R) -> SlowLogReader<R> {
        SlowLogReader {
            input,
            line: 0,
            buf: Vec::new(),
            current: None,
            done: false,
            cut: (0, 0),
        }
    }

    /// Lines cut at [`MAX_LINE_BYTES`] so far: how many, and the first one's number.
    pub fn cut_lines(&self) -> (u64, u64) {
        self.cut
    }

    /// Reads one line into `buf`, at most [`MAX_LINE_BYTES`] of it; the rest of a longer line
    /// is skipped without being held. Returns the bytes consumed (0 at the end).
    fn read_line(&mut self) -> std::io::Result<usize> {
        let limit = MAX_LINE_BYTES as u64 + 1;
        let n = std::io::Read::take(&mut self.input, limit).read_until(b'\n', &mut self.buf)?;
        if self.buf.len() <= MAX_LINE_BYTES || self.buf.ends_with(b"\n") {
            return Ok(n);
        }
        self.buf.truncate(MAX_LINE_BYTES);
        if self.cut.0 == 0 {
            self.cut.1 = self.line + 1;
        }
        self.cut.0 += 1;
        let mut skipped = n;
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            match memchr::memchr(b'\n', chunk) {
                Some(at) => {
                    self.input.consume(at + 1);
                    skipped += at + 1;
                    break;
                }
                None => {
                    let len = chunk.len();
                    self.input.consume(len);
                    skipped += len;
                }
            }
        }
        Ok(skipped)
    }
}

/// Whether `token` is a field name followed by its colon (`Process_keys:`, `User@Host:`).
fn is_key(token: &str) -> bool {
    token.len() > 1
        && token.ends_with(':')
        && token[..token.len() - 1]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '.'))
        && token
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
}

/// Splits a header (without `# `) into its `Key: value` pairs.
fn pairs(header: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for token in header.split(' ').filter(|t| !t.is_empty()) {
        if is_key(token) {
            out.push((token[..token.len() - 1].to_string(), String::new()));
        } else if let Some((_, value)) = out.last_mut() {
            if !value.is_empty() {
                value.push(' ');
            }
            value.push_str(token);
        }
    }
    out
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl<R: BufRead> Iterator for SlowLogReader<R> {
    type Item = Result<SlowQuery, SlowLogError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            match self.read_line() {
                Ok(0) => {
                    self.done = true;
                    // A last entry cut off before its statement still counts.
                    return self.current.take().map(Ok);
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(SlowLogError {
                        line: self.line + 1,
                        message: e.to_string(),
                    }));
                }
            }
            self.line += 1;
            let text = match std::str::from_utf8(&self.buf) {
                Ok(text) => text,
                // A line cut at MAX_LINE_BYTES may end inside a character.
                Err(e) if e.error_len().is_none() => {
                    std::str::from_utf8(&self.buf[..e.valid_up_to()]).unwrap_or_default()
                }
                // A statement with non-UTF-8 bytes: skip the line, keep the entry.
                Err(_) => continue,
            };
            let text = text.trim_end_matches(['\n', '\r']);
            if let Some(header) = text.strip_prefix("# ") {
                if let Some(time) = header.strip_prefix("Time:") {
                    let mut q = SlowQuery {
                        line: self.line,
                        ..SlowQuery::default()
                    };
                    q.set("Time", time.trim());
                    if let Some(prev) = self.current.replace(q) {
                        // The previous entry had no statement; it ends here.
                        return Some(Ok(prev));
                    }
                    continue;
                }
                if let Some(q) = self.current.as_mut() {
                    for (k, v) in pairs(header) {
                        q.set(&k, &v);
                    }
                }
                continue;
            }
            let Some(q) = self.current.as_mut() else {
                continue;
            };
            let trimmed = text.trim();
            if trimmed.len() > 4
                && trimmed
                    .get(..4)
                    .is_some_and(|head| head.eq_ignore_ascii_case("use "))
                && trimmed.ends_with(';')
                && q.sql.is_empty()
            {
                continue;
            }
            if q.sql.len() < MAX_SQL_BYTES {
                if !q.sql.is_empty() {
                    q.sql.push('\n');
                }
                let room = MAX_SQL_BYTES - q.sql.len();
                q.sql.push_str(prefix(text, room));
            }
            if trimmed.ends_with(';') {
                return self.current.take().map(Ok);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<SlowQuery> {
        SlowLogReader::new(text.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn fields_of_one_line_and_whole_values() {
        let q = read(
            "# Time: 2021-11-15T18:02:26.991204198+08:00\n# User@Host: root[root] @ 10.43.0.0 [10.43.0.0]\n# Process_time: 0.5 Wait_time: 0.002 Process_keys: 20000 Total_keys: 40001 Rocksdb_delete_skipped_count: 19500\n# Digest: d1\n# Plan_digest: p1\nuse test;\nselect *\nfrom t;\n",
        );
        assert_eq!(q.len(), 1);
        let q = &q[0];
        assert_eq!(
            q.field("User@Host"),
            Some("root[root] @ 10.43.0.0 [10.43.0.0]")
        );
        assert_eq!(q.process_time, Some(0.5));
        assert_eq!(q.field("Wait_time"), Some("0.002"));
        assert_eq!(
            (q.process_keys, q.total_keys, q.rocksdb_delete_skipped_count),
            (Some(20000), Some(40001), Some(19500))
        );
        assert_eq!(q.sql, "select *\nfrom t;");
        assert_eq!(
            q.time.map(|t| t.as_second()),
            Some(1636970546),
            "RFC 3339 with offset"
        );
    }

    #[test]
    fn an_entry_without_statement_ends_at_the_next_time() {
        let q = read(
            "# Time: 2024-01-01T00:00:00Z\n# Digest: a\n# Time: 2024-01-01T00:00:01Z\n# Digest: b\nselect 1;\n# Time: 2024-01-01T00:00:02Z\n# Digest: c\n",
        );
        let digests: Vec<_> = q
            .iter()
            .map(|q| q.digest.clone().unwrap_or_default())
            .collect();
        assert_eq!(digests, ["a", "b", "c"]);
        assert_eq!(q[2].line, 6);
    }

    #[test]
    fn an_over_long_statement_is_kept_to_its_cap_and_reading_goes_on() {
        let long = format!("select '{}';", "é".repeat(MAX_LINE_BYTES));
        let text = format!(
            "# Time: 2024-01-01T00:00:00Z\n# Digest: a\n{long}\n# Time: 2024-01-01T00:00:01Z\n# Digest: b\nselect 1;\n"
        );
        let q = read(&text);
        assert_eq!(q.len(), 2);
        assert!(q[0].sql.len() <= MAX_SQL_BYTES && q[0].sql.starts_with("select '"));
        assert_eq!((q[1].digest.as_deref(), q[1].line), (Some("b"), 4));
    }
}

/// What the performance rules (diag's 300–302) read, from every TiDB slow log of the bundle in
/// the sample's window, in one pass over each file.
///
/// - `poor_effective_plan`: SQL digests with at least two plans (counting only queries with
///   `Process_keys` > 1,000,000) whose slowest plan's average `Process_time` is more than 50 ×
///   the fastest plan's and was seen more recently.
/// - `old_version_count`: distinct (digest, plan) with `Process_keys` > 10,000 and
///   `Total_keys` ≥ 2 × `Process_keys` (MVCC versions scanned and skipped).
/// - `scan_key_skip`: distinct (digest, plan) with `Process_keys` > 10,000 and
///   |`Rocksdb_delete_skipped_count` − `Process_keys`| ≤ 1,000 (tombstones).
///
/// The window is the sample's `begin_time`..`end_time`, not diag's "the 7 days before now",
/// which leaves every bundle older than a week empty. A query missing a field a count needs is
/// not counted by it (diag reads missing as 0).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Performance {
    /// Slow log files read.
    pub files: usize,
    /// Entries read, and those inside the window.
    pub entries: u64,
    /// Entries inside the window.
    pub in_window: u64,
    /// Digests found by rule 300, sorted by digest.
    pub poor_effective_plan: Vec<PlanPair>,
    /// (digest, plan) pairs of rule 301, sorted.
    pub old_version_count: Vec<(String, String)>,
    /// (digest, plan) pairs of rule 302, sorted.
    pub scan_key_skip: Vec<(String, String)>,
    /// Files that could not be read completely, with the reason.
    pub problems: Vec<String>,
}

/// The fastest and slowest plan of one SQL digest (rule 300).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanPair {
    /// The SQL digest.
    pub digest: String,
    /// `(plan digest, average Process_time in seconds, last seen as unix seconds)`.
    pub fast: (String, f64, i64),
    /// The same for the slowest plan.
    pub slow: (String, f64, i64),
}

/// Running sums for one (digest, plan) of rule 300.
#[derive(Debug, Clone, Copy, Default)]
struct PlanTimes {
    count: u64,
    total: f64,
    last: i64,
}

/// Folds slow queries into the three counts; memory is bounded by the distinct (digest,
/// plan) pairs that pass the rules' filters.
#[derive(Debug, Default)]
pub struct PerformanceAccumulator {
    window: Option<(Timestamp, Timestamp)>,
    plans: std::collections::BTreeMap<String, std::collections::BTreeMap<String, PlanTimes>>,
    old_versions: std::collections::BTreeSet<(String, String)>,
    tombstones: std::collections::BTreeSet<(String, String)>,
    out: Performance,
}

/// Every TiDB slow log of `cluster` in the sample window, each file streamed once through
/// [`crate::model::DataFile::reader`] (rotated `.gz` ones decompressed); a file that cannot be
/// opened or read to its end is a problem of the result, the others still count.
pub(crate) fn read_cluster(cluster: &Cluster) -> Performance {
    let window = match (
        cluster.sample.begin_time.parse::<Timestamp>(),
        cluster.sample.end_time.parse::<Timestamp>(),
    ) {
        (Ok(b), Ok(e)) => Some((b, e)),
        _ => None,
    };
    let mut acc = PerformanceAccumulator::new(window);
    for file in cluster
        .instances
        .iter()
        .filter(|i| i.component == ComponentKind::Tidb)
        .flat_map(|i| i.files_of(DataKind::Log(LogKind::Slow)))
    {
        match file.reader() {
            Ok(reader) => acc.read(
                &file.path,
                std::io::BufReader::with_capacity(64 * 1024, reader),
            ),
            Err(e) => acc.feed_problem(format!("{}: {e}", file.path)),
        }
    }
    acc.finish()
}

impl PerformanceAccumulator {
    /// Counts queries whose `Time` lies in `window` (inclusive); all when `None`.
    pub fn new(window: Option<(Timestamp, Timestamp)>) -> PerformanceAccumulator {
        PerformanceAccumulator {
            window,
            ..PerformanceAccumulator::default()
        }
    }

    /// Reads one slow log to its end.
    pub fn read(&mut self, name: &str, input: impl BufRead) {
        self.out.files += 1;
        let mut reader = SlowLogReader::new(input);
        for q in reader.by_ref() {
            match q {
                Ok(q) => self.feed(&q),
                Err(e) => {
                    self.out.problems.push(format!("{name}: {e}"));
                    break;
                }
            }
        }
        let (cut, first) = reader.cut_lines();
        if cut > 0 {
            self.out.problems.push(format!(
                "{name}: line {first}: longer than {MAX_LINE_BYTES} bytes, cut there ({cut} cut)"
            ));
        }
    }

    /// Notes a slow log that could not be read at all.
    pub fn feed_problem(&mut self, problem: String) {
        self.out.problems.push(problem);
    }

    /// Adds one query.
    pub fn feed(&mut self, q: &SlowQuery) {
        self.out.entries += 1;
        if let Some((begin, end)) = self.window {
            match q.time {
                Some(t) if t >= begin && t <= end => {}
                _ => return,
            }
        }
        self.out.in_window += 1;
        let (Some(digest), Some(plan), Some(keys)) = (&q.digest, &q.plan_digest, q.process_keys)
        else {
            return;
        };
        if keys > 1_000_000
            && let (Some(pt), Some(t)) = (q.process_time, q.time)
        {
            let e = self
                .plans
                .entry(digest.clone())
                .or_default()
                .entry(plan.clone())
                .or_default();
            e.count += 1;
            e.total += pt;
            e.last = e.last.max(t.as_second());
        }
        if keys > 10_000 {
            if q.total_keys.is_some_and(|total| total >= 2 * keys) {
                self.old_versions.insert((digest.clone(), plan.clone()));
            }
            if q.rocksdb_delete_skipped_count
                .is_some_and(|skipped| skipped.abs_diff(keys) <= 1000)
            {
                self.tombstones.insert((digest.clone(), plan.clone()));
            }
        }
    }

    /// The counts.
    pub fn finish(mut self) -> Performance {
        for (digest, plans) in &self.plans {
            if plans.len() < 2 {
                continue;
            }
            let avg = |t: &PlanTimes| t.total / t.count as f64;
            let mut fast: Option<(&String, &PlanTimes)> = None;
            let mut slow: Option<(&String, &PlanTimes)> = None;
            for (plan, t) in plans {
                if fast.is_none_or(|(_, f)| avg(t) < avg(f)) {
                    fast = Some((plan, t));
                }
                if slow.is_none_or(|(_, s)| avg(t) > avg(s)) {
                    slow = Some((plan, t));
                }
            }
            if let (Some((fp, f)), Some((sp, s))) = (fast, slow)
                && avg(s) > 50.0 * avg(f)
                && s.last > f.last
            {
                self.out.poor_effective_plan.push(PlanPair {
                    digest: digest.clone(),
                    fast: (fp.clone(), avg(f), f.last),
                    slow: (sp.clone(), avg(s), s.last),
                });
            }
        }
        self.out.old_version_count = self.old_versions.into_iter().collect();
        self.out.scan_key_skip = self.tombstones.into_iter().collect();
        self.out
    }
}

#[cfg(test)]
mod accumulator_tests {
    use super::*;

    fn q(digest: &str, plan: &str, time: i64, pt: f64, keys: u64) -> SlowQuery {
        SlowQuery {
            time: Timestamp::from_second(time).ok(),
            digest: Some(digest.into()),
            plan_digest: Some(plan.into()),
            process_time: Some(pt),
            process_keys: Some(keys),
            ..SlowQuery::default()
        }
    }

    #[test]
    fn rule_300_needs_two_plans_50_times_slower_and_more_recent() {
        let mut acc = PerformanceAccumulator::new(None);
        acc.feed(&q("d", "fast", 100, 0.1, 2_000_000));
        acc.feed(&q("d", "slow", 200, 5.1, 2_000_000));
        // 50 × exactly is not more than 50 ×.
        acc.feed(&q("e", "fast", 100, 0.1, 2_000_000));
        acc.feed(&q("e", "slow", 200, 5.0, 2_000_000));
        // The slow plan is older: the plan got better.
        acc.feed(&q("f", "fast", 300, 0.1, 2_000_000));
        acc.feed(&q("f", "slow", 200, 9.0, 2_000_000));
        // Process_keys at the filter (1,000,000) is left out.
        acc.feed(&q("g", "fast", 100, 0.1, 1_000_000));
        acc.feed(&q("g", "slow", 200, 9.0, 2_000_000));
        let out = acc.finish();
        let found: Vec<&str> = out
            .poor_effective_plan
            .iter()
            .map(|p| p.digest.as_str())
            .collect();
        assert_eq!(found, ["d"]);
    }

    #[test]
    fn rules_301_302_boundaries() {
        let mut acc = PerformanceAccumulator::new(None);
        let with = |d: &str, keys: u64, total: Option<u64>, skipped: Option<u64>| SlowQuery {
            total_keys: total,
            rocksdb_delete_skipped_count: skipped,
            ..q(d, "p", 1, 0.1, keys)
        };
        acc.feed(&with("total-2x", 10_001, Some(20_002), None));
        acc.feed(&with("total-under-2x", 10_001, Some(20_001), None));
        acc.feed(&with("keys-at-10000", 10_000, Some(90_000), Some(10_000)));
        acc.feed(&with("skip-delta-1000", 20_000, None, Some(21_000)));
        acc.feed(&with("skip-delta-1001", 20_000, None, Some(18_999)));
        acc.feed(&with("no-fields", 20_000, None, None));
        let out = acc.finish();
        let pairs = |v: &[(String, String)]| v.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>();
        assert_eq!(pairs(&out.old_version_count), ["total-2x"]);
        assert_eq!(pairs(&out.scan_key_skip), ["skip-delta-1000"]);
    }

    #[test]
    fn the_window_is_inclusive_and_drops_queries_without_time() {
        let w = (
            Timestamp::from_second(10).ok(),
            Timestamp::from_second(20).ok(),
        );
        let (Some(b), Some(e)) = w else { panic!() };
        let mut acc = PerformanceAccumulator::new(Some((b, e)));
        for t in [9, 10, 20, 21] {
            acc.feed(&q("d", "p", t, 0.1, 1));
        }
        acc.feed(&SlowQuery::default());
        let out = acc.finish();
        assert_eq!((out.entries, out.in_window), (5, 2));
    }
}
