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

    /// Sets field `key`; `keep` also records it in [`SlowQuery::fields`]. Returns false when
    /// a typed field's value does not read as its type (it then stays absent).
    fn set(&mut self, key: &str, value: &str, keep: bool) -> bool {
        let read = match key {
            "Time" => {
                self.time = value.parse().ok();
                self.time.is_some()
            }
            "Digest" => {
                self.digest = Some(value.to_string());
                true
            }
            "Plan_digest" => {
                self.plan_digest = Some(value.to_string());
                true
            }
            "Query_time" => set_parsed(&mut self.query_time, value),
            "Process_time" => set_parsed(&mut self.process_time, value),
            "Process_keys" => set_parsed(&mut self.process_keys, value),
            "Total_keys" => set_parsed(&mut self.total_keys, value),
            "Rocksdb_delete_skipped_count" => {
                set_parsed(&mut self.rocksdb_delete_skipped_count, value)
            }
            _ => true,
        };
        if keep && self.fields.len() < MAX_FIELDS {
            self.fields.push((key.to_string(), value.to_string()));
        }
        read
    }
}

/// Parses `value` into `slot` (absent when it does not parse); whether it parsed.
fn set_parsed<T: std::str::FromStr>(slot: &mut Option<T>, value: &str) -> bool {
    *slot = value.parse().ok();
    slot.is_some()
}

/// The first typed field whose value did not read as its type, and how many did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnreadableFields {
    /// How many values did not read.
    pub count: u64,
    /// The first one: its line, field name and value as written (up to 64 bytes).
    pub first: Option<(u64, String, String)>,
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
    /// Whether entries keep every field and the statement (else the typed fields only).
    whole: bool,
    /// Whether the current entry's statement has begun (a non-empty line after its headers).
    in_statement: bool,
    unreadable: UnreadableFields,
}

impl<R: BufRead> SlowLogReader<R> {
    /// Reads entries from `input`, each with every field and its statement.
    pub fn new(input: R) -> SlowLogReader<R> {
        SlowLogReader {
            input,
            line: 0,
            buf: Vec::new(),
            current: None,
            done: false,
            cut: (0, 0),
            whole: true,
            in_statement: false,
            unreadable: UnreadableFields::default(),
        }
    }

    /// Reads entries from `input` with only their typed fields (`time`, `digest`, …):
    /// [`SlowQuery::fields`] and [`SlowQuery::sql`] stay empty. What the performance rules
    /// need, without copying every field and statement.
    pub fn typed_only(input: R) -> SlowLogReader<R> {
        SlowLogReader {
            whole: false,
            ..SlowLogReader::new(input)
        }
    }

    /// Typed fields read so far whose values did not read as their type (a `Process_keys` of
    /// `abc`): they count as absent, and this says how many and which was first.
    pub fn unreadable_fields(&self) -> &UnreadableFields {
        &self.unreadable
    }

    fn note_unreadable(&mut self, key: &str, value: &str) {
        self.unreadable.count += 1;
        if self.unreadable.first.is_none() {
            self.unreadable.first =
                Some((self.line, key.to_string(), prefix(value, 64).to_string()));
        }
    }

    /// Lines cut at [`MAX_LINE_BYTES`] so far: how many, and the first one's number.
    pub fn cut_lines(&self) -> (u64, u64) {
        self.cut
    }

    /// Reads one line into `buf`, at most [`MAX_LINE_BYTES`] of it (plus its newline); the rest
    /// of a longer line is skipped without being held. Returns the bytes consumed (0 at the
    /// end).
    fn read_line(&mut self) -> std::io::Result<usize> {
        let mut consumed = 0;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            let (part, ends) = match memchr::memchr(b'\n', chunk) {
                Some(at) => (&chunk[..=at], true),
                None => (chunk, false),
            };
            let room = (MAX_LINE_BYTES + 1).saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&part[..part.len().min(room)]);
            let len = part.len();
            self.input.consume(len);
            consumed += len;
            if ends {
                break;
            }
        }
        if self.buf.len() > MAX_LINE_BYTES && !self.buf.ends_with(b"\n") {
            self.buf.truncate(MAX_LINE_BYTES);
            if self.cut.0 == 0 {
                self.cut.1 = self.line + 1;
            }
            self.cut.0 += 1;
        }
        Ok(consumed)
    }
}

/// Whether `token` is a field name followed by its colon (`Process_keys:`, `User@Host:`).
fn is_key(token: &str) -> bool {
    let b = token.as_bytes();
    b.len() > 1
        && b[b.len() - 1] == b':'
        && b[0].is_ascii_alphabetic()
        && b[..b.len() - 1]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'@' | b'.'))
}

/// Calls `each(key, value)` for the `Key: value` pairs of a header (without `# `), in order. A
/// value is every token up to the next key, joined by one space (`root[root] @ 10.0.0.1`).
fn pairs(header: &str, mut each: impl FnMut(&str, &str)) {
    /// A key and the byte range of its value's tokens in `header` (`None` before the first).
    struct Open<'h> {
        key: &'h str,
        value: Option<(usize, usize)>,
        /// Whether two of its tokens are apart by more than one space.
        spaced: bool,
    }
    let mut emit = |open: Option<Open<'_>>| {
        let Some(open) = open else {
            return;
        };
        let value = open.value.map_or("", |(start, end)| &header[start..end]);
        if open.spaced {
            let tokens: Vec<&str> = value.split(' ').filter(|t| !t.is_empty()).collect();
            each(open.key, &tokens.join(" "));
        } else {
            each(open.key, value);
        }
    };
    let mut open: Option<Open<'_>> = None;
    let mut start = 0;
    let spaces = memchr::memchr_iter(b' ', header.as_bytes());
    for end in spaces.chain(std::iter::once(header.len())) {
        // Spaces are ASCII, so every slice here lies on character boundaries.
        let token = header.get(start..end).unwrap_or_default();
        if !token.is_empty() {
            if is_key(token) {
                emit(open.take());
                open = Some(Open {
                    key: &token[..token.len() - 1],
                    value: None,
                    spaced: false,
                });
            } else if let Some(open) = open.as_mut() {
                open.value = Some(match open.value {
                    None => (start, end),
                    Some((first, last)) => {
                        open.spaced |= start != last + 1;
                        (first, end)
                    }
                });
            }
        }
        start = end + 1;
    }
    emit(open);
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
                    let time = time.trim();
                    if !q.set("Time", time, self.whole) {
                        let time = time.to_string();
                        self.note_unreadable("Time", &time);
                    }
                    self.in_statement = false;
                    if let Some(prev) = self.current.replace(q) {
                        // The previous entry had no statement; it ends here.
                        return Some(Ok(prev));
                    }
                    continue;
                }
                if let Some(q) = self.current.as_mut() {
                    let whole = self.whole;
                    let mut unreadable: Option<(String, String)> = None;
                    let mut bad = 0;
                    pairs(header, |k, v| {
                        if !q.set(k, v, whole) {
                            bad += 1;
                            unreadable.get_or_insert_with(|| (k.to_string(), v.to_string()));
                        }
                    });
                    if let Some((k, v)) = unreadable {
                        self.note_unreadable(&k, &v);
                        self.unreadable.count += bad - 1;
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
                && !self.in_statement
            {
                continue;
            }
            self.in_statement |= !text.is_empty();
            if self.whole && q.sql.len() < MAX_SQL_BYTES {
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
    fn header_values_join_their_tokens_by_one_space() {
        let mut got = Vec::new();
        pairs(
            "User@Host:  root[root]   @ 10.0.0.1 Conn_ID: 7 Empty:",
            |k, v| {
                got.push((k.to_string(), v.to_string()));
            },
        );
        let want = [
            ("User@Host", "root[root] @ 10.0.0.1"),
            ("Conn_ID", "7"),
            ("Empty", ""),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
        let mut none = 0;
        pairs("", |_, _| none += 1);
        pairs("   ", |_, _| none += 1);
        pairs("no key here", |_, _| none += 1);
        assert_eq!(none, 0);
    }

    #[test]
    fn typed_only_reads_the_same_typed_fields_and_statement_ends() {
        let text = "# Time: 2024-01-01T00:00:00Z\n# Process_time: 0.5 Process_keys: 20000 Total_keys: 40001\n# Digest: d\n# Plan_digest: p\nuse test;\nselect 1\nuse x;\n# Time: 2024-01-01T00:00:01Z\n# Digest: e\n\nuse y;\nselect 2;\n";
        let whole = read(text);
        let typed: Vec<SlowQuery> = SlowLogReader::typed_only(text.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].sql, "select 1\nuse x;");
        assert_eq!(whole[1].sql, "select 2;");
        for (w, t) in whole.iter().zip(&typed) {
            assert!(t.fields.is_empty() && t.sql.is_empty());
            let strip = SlowQuery {
                fields: Vec::new(),
                sql: String::new(),
                ..w.clone()
            };
            assert_eq!(&strip, t);
        }
    }

    #[test]
    fn unreadable_typed_values_are_absent_and_counted() {
        let text = "# Time: yesterday\n# Process_keys: many Total_keys: 5\nselect 1;\n# Time: 2024-01-01T00:00:00Z\n# Query_time: 1,5\nselect 2;\n";
        let mut reader = SlowLogReader::typed_only(text.as_bytes());
        let q: Vec<SlowQuery> = reader.by_ref().filter_map(Result::ok).collect();
        assert_eq!(
            (q[0].time, q[0].process_keys, q[0].total_keys),
            (None, None, Some(5))
        );
        assert_eq!(q[1].query_time, None);
        let u = reader.unreadable_fields();
        assert_eq!(u.count, 3);
        assert_eq!(
            u.first,
            Some((1, "Time".to_string(), "yesterday".to_string()))
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

/// Distinct (digest, plan) pairs, looked up without building a pair.
type PairSet = std::collections::BTreeMap<String, std::collections::BTreeSet<String>>;

/// Adds (digest, plan) to `set`, copying the strings only for a pair not seen before.
fn insert_pair(set: &mut PairSet, digest: &str, plan: &str) {
    let plans = match set.get_mut(digest) {
        Some(plans) => plans,
        None => set.entry(digest.to_string()).or_default(),
    };
    if !plans.contains(plan) {
        plans.insert(plan.to_string());
    }
}

/// The pairs of `set`, sorted by digest then plan.
fn pairs_of(set: PairSet) -> Vec<(String, String)> {
    set.into_iter()
        .flat_map(|(digest, plans)| plans.into_iter().map(move |p| (digest.clone(), p)))
        .collect()
}

/// Folds slow queries into the three counts; memory is bounded by the distinct (digest,
/// plan) pairs that pass the rules' filters.
#[derive(Debug, Default)]
pub struct PerformanceAccumulator {
    window: Option<(Timestamp, Timestamp)>,
    plans: std::collections::BTreeMap<String, std::collections::BTreeMap<String, PlanTimes>>,
    /// digest → plans, of rules 301 and 302.
    old_versions: PairSet,
    tombstones: PairSet,
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
        let mut reader = SlowLogReader::typed_only(input);
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
        let unreadable = reader.unreadable_fields();
        if let Some((line, key, value)) = &unreadable.first {
            let more = match unreadable.count {
                0 | 1 => String::new(),
                2 => "; 1 more such value".to_string(),
                n => format!("; {} more such values", n - 1),
            };
            self.out.problems.push(format!(
                "{name}: line {line}: `{key}` is `{value}`, not a {}; read as absent{more}",
                if key == "Time" { "time" } else { "number" }
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
            let plans = match self.plans.get_mut(digest.as_str()) {
                Some(plans) => plans,
                None => self.plans.entry(digest.clone()).or_default(),
            };
            let e = match plans.get_mut(plan.as_str()) {
                Some(e) => e,
                None => plans.entry(plan.clone()).or_default(),
            };
            e.count += 1;
            e.total += pt;
            e.last = e.last.max(t.as_second());
        }
        if keys > 10_000 {
            if q.total_keys.is_some_and(|total| total >= 2 * keys) {
                insert_pair(&mut self.old_versions, digest, plan);
            }
            if q.rocksdb_delete_skipped_count
                .is_some_and(|skipped| skipped.abs_diff(keys) <= 1000)
            {
                insert_pair(&mut self.tombstones, digest, plan);
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
        self.out.old_version_count = pairs_of(self.old_versions);
        self.out.scan_key_skip = pairs_of(self.tombstones);
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
