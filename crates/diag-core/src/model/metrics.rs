//! Prometheus metric matrices (`monitor/metrics/<prom>/<metric>-<begin>-<end>[.<instance>].json`)
//! decoded into typed series, and the functions rules compute over a series' samples.
//!
//! diag dumps one range-query response per metric per block of at most two hours, zstd-compressed
//! by default under a `.json` name, one folder per Prometheus server, and falls back to one file
//! per instance when the series count query fails. [`MetricData::load`] decodes every file of one
//! metric (in parallel) and joins the blocks into one [`Series`] per label set;
//! [`MetricData::load_all`] does it for several metrics in one pass (the check decodes the metrics
//! its rules read that way, and no others).
//!
//! ```
//! use diag_core::model::metrics::{Point, increase};
//! // A counter that restarted: 10 → 30, reset, 5 → 15 grew by 20 + 5 + 10.
//! let samples = [Point::new(0.0, 10.0), Point::new(15.0, 30.0), Point::new(30.0, 5.0), Point::new(45.0, 15.0)];
//! assert_eq!(increase(&samples), Some(35.0));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use rayon::prelude::*;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::data::{DataFile, DataKind};
use crate::error::{Format, LoadError};

/// One sample: unix time in seconds and the value (`NaN` and `±Inf` as Prometheus writes them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Unix time, seconds.
    pub t: f64,
    /// The value.
    pub v: f64,
}

impl Point {
    /// A sample at `t` with value `v`.
    pub fn new(t: f64, v: f64) -> Point {
        Point { t, v }
    }
}

/// A series' labels, sorted by name, without `__name__`.
pub type Labels = BTreeMap<String, String>;

/// One series of a metric: its labels and its samples in time order, joined over every block
/// file (and every Prometheus server) that held it.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The metric name.
    pub metric: Arc<str>,
    /// Labels other than `__name__`.
    pub labels: Labels,
    /// Samples sorted by time; one per timestamp.
    pub samples: Vec<Point>,
    /// Which file each run of samples came from: `(index of the run's first sample, file)`.
    pub files: Vec<(usize, Arc<str>)>,
}

impl Series {
    /// The value of label `name`, if the series has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }

    /// The bundle file the sample at `index` was read from.
    pub fn file_of(&self, index: usize) -> Option<&Arc<str>> {
        let at = self.files.partition_point(|(start, _)| *start <= index);
        at.checked_sub(1).map(|i| &self.files[i].1)
    }

    /// The file holding the sample at time `t` (the first file when `t` is not a sample time).
    pub fn file_at(&self, t: f64) -> Option<&Arc<str>> {
        let index = self.samples.partition_point(|p| p.t < t);
        self.file_of(index.min(self.samples.len().saturating_sub(1)))
    }

    /// `name{a="x",b="y"}`, as PromQL writes a series.
    pub fn selector(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}{{{}}}", self.metric, labels.join(","))
    }
}

/// Every series of one metric the bundle holds, and what could not be read.
#[derive(Debug, Default)]
pub struct MetricData {
    /// The metric name.
    pub name: String,
    /// One series per label set, sorted by labels.
    pub series: Vec<Series>,
    /// The files read, in path order.
    pub files: Vec<String>,
    /// Files that could not be used; the others still count.
    pub problems: Vec<LoadError>,
}

impl MetricData {
    /// Decodes every metric file named `name` among `files` (in parallel) and joins the blocks.
    pub fn load<'a>(name: &str, files: impl IntoIterator<Item = &'a DataFile>) -> MetricData {
        MetricData::load_all(&[name], files)
            .remove(name)
            .unwrap_or_else(|| MetricData {
                name: name.to_string(),
                ..MetricData::default()
            })
    }

    /// [`MetricData::load`] of each of `names` at once: one parallel pass over the files of
    /// them all (a metric held in one file does not leave a core idle), each file read into a
    /// buffer its thread reuses, then the blocks of each metric joined. Every name gets an
    /// entry, with no files when the bundle has none of it.
    pub fn load_all<'a>(
        names: &[&str],
        files: impl IntoIterator<Item = &'a DataFile>,
    ) -> BTreeMap<String, MetricData> {
        let chosen = MetricData::files_of(names, files);
        let all: Vec<&DataFile> = chosen.values().flatten().copied().collect();
        let mut decoded = all.par_iter().map(|f| decode_file(f)).collect::<Vec<_>>();
        // Back into one list per metric, in the order `all` took them.
        let mut per_metric = Vec::with_capacity(chosen.len());
        for (name, files) in &chosen {
            let rest = decoded.split_off(files.len());
            per_metric.push((*name, files, std::mem::replace(&mut decoded, rest)));
        }
        per_metric
            .into_par_iter()
            .map(|(name, files, results)| {
                (
                    name.to_string(),
                    MetricData::from_decoded(name, files, results),
                )
            })
            .collect()
    }

    /// The metric files of each of `names` among `files`, in path order (the order the blocks
    /// of one metric are joined in); every name has an entry, empty when no file holds it.
    pub fn files_of<'a, 'n>(
        names: &[&'n str],
        files: impl IntoIterator<Item = &'a DataFile>,
    ) -> BTreeMap<&'n str, Vec<&'a DataFile>> {
        let mut out: BTreeMap<&'n str, Vec<&'a DataFile>> =
            names.iter().map(|n| (*n, Vec::new())).collect();
        for f in files.into_iter().filter(|f| f.kind == DataKind::Metric) {
            if let Some(list) = f.metric_name().and_then(|n| out.get_mut(n)) {
                list.push(f);
            }
        }
        for list in out.values_mut() {
            list.sort_by(|a, b| a.path.cmp(&b.path));
        }
        out
    }

    /// The metric `name` from its `files` (in path order) and what [`decode_file`] gave for
    /// each of them, in the same order: the blocks joined, the files that failed as problems.
    pub fn from_decoded(
        name: &str,
        files: &[&DataFile],
        decoded: Vec<Result<Vec<Series>, LoadError>>,
    ) -> MetricData {
        let mut data = MetricData {
            name: name.to_string(),
            ..MetricData::default()
        };
        let mut parts = Vec::new();
        for (f, result) in files.iter().zip(decoded) {
            data.files.push(f.path.clone());
            match result {
                Ok(series) => parts.extend(series),
                Err(e) => data.problems.push(e),
            }
        }
        data.series = join(parts);
        data
    }

    /// The series that `selector` matches.
    pub fn select<'a>(&'a self, selector: &'a Selector) -> impl Iterator<Item = &'a Series> + 'a {
        self.series.iter().filter(|s| selector.matches(&s.labels))
    }
}

/// Blocks of the same label set become one series: samples in time order, duplicates (the same
/// scrape seen by two Prometheus servers, or a block boundary sample) kept once.
fn join(mut parts: Vec<Series>) -> Vec<Series> {
    // Stable: within one label set, files keep path order.
    parts.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut out: Vec<Series> = Vec::new();
    let mut group: Vec<Series> = Vec::new();
    for part in parts {
        if group.first().is_some_and(|g| g.labels != part.labels) {
            out.push(merge(std::mem::take(&mut group)));
        }
        group.push(part);
    }
    if !group.is_empty() {
        out.push(merge(group));
    }
    out
}

fn merge(mut group: Vec<Series>) -> Series {
    if group.len() == 1 {
        return group.remove(0);
    }
    // Blocks in time order of their first sample; each block is sorted already.
    group.sort_by(|a, b| {
        let ta = a.samples.first().map_or(f64::NEG_INFINITY, |p| p.t);
        let tb = b.samples.first().map_or(f64::NEG_INFINITY, |p| p.t);
        ta.total_cmp(&tb)
    });
    let mut first = group.remove(0);
    for part in group {
        let file = part.files.first().map(|(_, f)| f.clone());
        let before = first.samples.len();
        let last_t = first.samples.last().map_or(f64::NEG_INFINITY, |p| p.t);
        if part.samples.first().is_some_and(|p| p.t > last_t) {
            first.samples.extend(part.samples);
        } else {
            // Overlapping blocks (two servers): merge by time, first writer wins.
            let mut all = std::mem::take(&mut first.samples);
            all.extend(part.samples);
            all.sort_by(|a, b| a.t.total_cmp(&b.t));
            all.dedup_by(|b, a| a.t == b.t);
            first.samples = all;
        }
        if let Some(file) = file
            && first.samples.len() > before
        {
            first.files.push((before, file));
        }
    }
    first
}

/// Reads and decodes one metric file ([`decode`]), into buffers its thread keeps.
pub fn decode_file(f: &DataFile) -> Result<Vec<Series>, LoadError> {
    f.read_with(|bytes| decode(&f.path, bytes)).and_then(|r| r)
}

/// Decodes one range-query response (`resultType: matrix`; an instant `vector` is read as one
/// sample per series). Errors name the file, line and column.
pub fn decode(file: &str, bytes: &[u8]) -> Result<Vec<Series>, LoadError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(LoadError::Empty {
            file: file.to_string(),
            expected: "a Prometheus query response".into(),
        });
    }
    let path: Arc<str> = Arc::from(file);
    if let Some(series) = fast::matrix(bytes) {
        return Ok(series
            .into_iter()
            .map(|(labels, samples)| finish(&path, labels, samples))
            .collect());
    }
    decode_serde(file, &path, bytes)
}

/// [`decode`] through serde_json: any response shape, and the error messages.
fn decode_serde(file: &str, path: &Arc<str>, bytes: &[u8]) -> Result<Vec<Series>, LoadError> {
    let response: Response = serde_json::from_slice(bytes).map_err(|e| LoadError::Syntax {
        file: file.to_string(),
        format: Format::Json,
        line: e.line() as u32,
        column: e.column() as u32,
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or("")
            .to_string(),
    })?;
    let schema = |field: &str, expected: &str, found: String| LoadError::Schema {
        file: file.to_string(),
        line: 1,
        field: field.to_string(),
        expected: expected.to_string(),
        found,
    };
    if response.status != "success" {
        return Err(schema(
            "status",
            "`success`",
            format!(
                "`{}`{}",
                response.status,
                response
                    .error
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
        ));
    }
    let data = response
        .data
        .ok_or_else(|| schema("data", "the query result", "nothing".into()))?;
    if data.result_type != "matrix" && data.result_type != "vector" {
        return Err(schema(
            "data.resultType",
            "`matrix` or `vector`",
            format!("`{}`", data.result_type),
        ));
    }
    let mut out = Vec::with_capacity(data.result.len());
    for raw in data.result {
        let mut samples = raw.values.0;
        if let Some(one) = raw.value {
            samples.push(one);
        }
        out.push(finish(path, raw.metric, in_time_order(samples)));
    }
    Ok(out)
}

/// A series' samples in time order, each time once (a response's almost always are: checked
/// while they are still in cache, right after they are read).
fn in_time_order(mut samples: Vec<Point>) -> Vec<Point> {
    if !samples.windows(2).all(|w| w[0].t < w[1].t) {
        samples.sort_by(|a, b| a.t.total_cmp(&b.t));
        samples.dedup_by(|b, a| a.t == b.t);
    }
    samples
}

/// One decoded series: `__name__` taken out of the labels; the samples are in time order
/// ([`in_time_order`]).
fn finish(path: &Arc<str>, mut labels: Labels, samples: Vec<Point>) -> Series {
    let metric: Arc<str> = Arc::from(labels.remove("__name__").unwrap_or_default());
    Series {
        metric,
        labels,
        samples,
        files: vec![(0, path.clone())],
    }
}

/// The shape Prometheus writes a range query in, read without a JSON value tree:
/// `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{…},"values":[[t,"v"],…]},…]}}`
/// (any whitespace). Whatever else a file holds — other keys or key orders, escapes in strings,
/// a failure status, bad syntax — gives `None`, and [`decode`] reads it with serde_json, which
/// also words the errors. What this accepts is valid JSON that serde_json reads the same way.
mod fast {
    use rayon::prelude::*;

    use super::{Labels, Point};

    struct Cursor<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl<'a> Cursor<'a> {
        fn ws(&mut self) {
            while let Some(c) = self.b.get(self.i) {
                if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                    self.i += 1;
                } else {
                    break;
                }
            }
        }

        /// Skips whitespace, then takes `c`.
        fn eat(&mut self, c: u8) -> Option<()> {
            self.ws();
            (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
        }

        /// Skips whitespace; takes `c` if it is next.
        fn take(&mut self, c: u8) -> bool {
            self.eat(c).is_some()
        }

        /// The bytes of a string without escapes or control characters.
        fn raw_string(&mut self) -> Option<&'a [u8]> {
            self.eat(b'"')?;
            let start = self.i;
            let len = memchr::memchr(b'"', &self.b[start..])?;
            let raw = &self.b[start..start + len];
            if raw.iter().any(|&c| c == b'\\' || c < 0x20) {
                return None;
            }
            self.i = start + len + 1;
            Some(raw)
        }

        /// A string without escapes or control characters.
        fn string(&mut self) -> Option<&'a str> {
            std::str::from_utf8(self.raw_string()?).ok()
        }

        fn key(&mut self, name: &str) -> Option<()> {
            (self.string()? == name).then_some(())?;
            self.eat(b':')
        }

        /// A sample in the form Prometheus writes almost all of them, `[<t>,"<v>"]` without
        /// whitespace and with plain decimals, read in one pass; `None` (nothing consumed) for
        /// any other form, which [`series`] reads piece by piece. A value whose text (and the
        /// closing `"]`) is `last`'s is `last`'s value, found by one comparison of 16 bytes
        /// (many series hold one value throughout: capacities, start times, states).
        #[inline(always)]
        fn compact_sample(&mut self, last: &mut LastValue) -> Option<Point> {
            let b = self.b.get(self.i..)?;
            if b.first() != Some(&b'[') {
                return None;
            }
            let (t, len) = match last.time(b) {
                Some(known) => known,
                None => {
                    let (t, len) = super::exact_prefix(&b[1..], true)?;
                    last.set_time(b, t, len);
                    (t, len)
                }
            };
            let mut i = 1 + len;
            if b.get(i..i + 2) != Some(&b",\""[..]) {
                return None;
            }
            i += 2;
            let word = b
                .get(i..i + 16)
                .and_then(|w| <[u8; 16]>::try_from(w).ok())
                .map(u128::from_le_bytes);
            if let Some(x) = word
                && last.mask != 0
                && (x ^ last.text) & last.mask == 0
            {
                self.i += i + last.len;
                return Some(Point { t, v: last.v });
            }
            let (v, len) = super::exact_prefix(&b[i..], false)?;
            if b.get(i + len..i + len + 2) != Some(&b"\"]"[..]) {
                return None;
            }
            let taken = len + 2;
            match word {
                Some(x) if taken <= 16 => {
                    last.mask = u128::MAX >> (8 * (16 - taken));
                    last.text = x & last.mask;
                    last.len = taken;
                    last.v = v;
                }
                _ => last.mask = 0,
            }
            self.i += i + taken;
            Some(Point { t, v })
        }

        /// A sample value: a string without escapes or control characters, read as bytes
        /// (no UTF-8 pass: [`super::parse_value_bytes`] takes ASCII only on its fast path).
        fn value(&mut self) -> Option<f64> {
            super::parse_value_bytes(self.raw_string()?)
        }

        /// A JSON number (strict grammar) as f64, correctly rounded: plain integers and
        /// decimals by the exact fast path, others by the standard library's parse.
        fn number(&mut self) -> Option<f64> {
            self.ws();
            let b = &self.b[self.i..];
            let mut i = usize::from(b.first() == Some(&b'-'));
            let int_start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = i - int_start;
            if digits == 0 || (digits > 1 && b[int_start] == b'0') {
                return None;
            }
            if i < b.len() && b[i] == b'.' {
                i += 1;
                let frac = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if i == frac {
                    return None;
                }
            }
            if i < b.len() && matches!(b[i], b'e' | b'E') {
                i += 1;
                if i < b.len() && matches!(b[i], b'+' | b'-') {
                    i += 1;
                }
                let exp = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if i == exp {
                    return None;
                }
            }
            self.i += i;
            let text = &b[..i];
            super::exact_decimal(text).or_else(|| std::str::from_utf8(text).ok()?.parse().ok())
        }
    }

    /// The series of a canonical matrix response: labels (with `__name__`) and samples.
    pub(super) fn matrix(bytes: &[u8]) -> Option<Vec<Decoded>> {
        matrix_in_chunks(bytes, CHUNK)
    }

    /// [`matrix`] with the result array read in chunks of about `chunk` bytes (the same
    /// series whatever the size).
    pub(super) fn matrix_in_chunks(bytes: &[u8], chunk: usize) -> Option<Vec<Decoded>> {
        let mut c = Cursor { b: bytes, i: 0 };
        c.eat(b'{')?;
        c.key("status")?;
        (c.string()? == "success").then_some(())?;
        c.eat(b',')?;
        c.key("data")?;
        c.eat(b'{')?;
        c.key("resultType")?;
        (c.string()? == "matrix").then_some(())?;
        c.eat(b',')?;
        c.key("result")?;
        c.eat(b'[')?;
        let starts = chunk_starts(bytes, c.i, chunk);
        let mut out = Vec::new();
        if starts.len() == 1 {
            out = results(&mut c, None)?;
        } else {
            // Each chunk from one series start to the next chunk's; see `chunk_starts`.
            let chunks: Vec<Option<(Vec<Decoded>, usize)>> = (0..starts.len())
                .into_par_iter()
                .map(|k| {
                    let mut c = Cursor {
                        b: bytes,
                        i: starts[k],
                    };
                    let part = results(&mut c, starts.get(k + 1).copied())?;
                    Some((part, c.i))
                })
                .collect();
            for chunk in chunks {
                let (part, end) = chunk?;
                out.extend(part);
                c.i = end;
            }
        }
        c.eat(b'}')?;
        c.eat(b'}')?;
        c.ws();
        (c.i == bytes.len()).then_some(out)
    }

    /// Labels and samples of one series.
    type Decoded = (Labels, Vec<Point>);

    /// What the previous compact sample of a series held, to read the next one by comparison:
    /// its value's text with the closing `"]` (the low `len` bytes of `text`, `mask` covering
    /// them; no mask: none known) and the value it read; and, when its time was an integer of
    /// `time_digits` (3 to 10) digits, those but the last two (the low bytes of `time_prefix`
    /// under `time_mask`) and the number they spell.
    #[derive(Default)]
    struct LastValue {
        text: u128,
        mask: u128,
        len: usize,
        v: f64,
        time_prefix: u64,
        time_mask: u64,
        time_digits: usize,
        time_high: u64,
    }

    impl LastValue {
        /// The time of the sample `b` starts (`[` first) with its length, when it is an
        /// integer whose digits are the previous time's but for the last two, and a `,`
        /// follows: the times of a series step a few seconds apart, so their leading digits
        /// mostly repeat. `None`: read it the general way.
        #[inline(always)]
        fn time(&self, b: &[u8]) -> Option<(f64, usize)> {
            if self.time_mask == 0 {
                return None;
            }
            let word: [u8; 8] = b.get(1..9)?.try_into().ok()?;
            if (u64::from_le_bytes(word) ^ self.time_prefix) & self.time_mask != 0 {
                return None;
            }
            let k = self.time_digits - 2;
            let &[d1, d2, b','] = b.get(1 + k..4 + k)? else {
                return None;
            };
            if !d1.is_ascii_digit() || !d2.is_ascii_digit() {
                return None;
            }
            let t = self.time_high * 100 + u64::from(d1 - b'0') * 10 + u64::from(d2 - b'0');
            // Below 10^10: the signed conversion (one instruction) is exact.
            Some((t as i64 as f64, self.time_digits))
        }

        /// Keeps the time `t` that the general path read from the `len` bytes after `b`'s `[`
        /// for [`LastValue::time`], when they are 3 to 10 digits (an integer below 2^53).
        #[inline(always)]
        fn set_time(&mut self, b: &[u8], t: f64, len: usize) {
            self.time_mask = 0;
            if !(3..=10).contains(&len) {
                return;
            }
            let Some(word) = b.get(1..9).and_then(|w| <[u8; 8]>::try_from(w).ok()) else {
                return;
            };
            let x = u64::from_le_bytes(word);
            let k = len - 2;
            let digits = super::leading_digits(x) >= k
                && b.get(1 + k..3 + k)
                    .is_some_and(|d| d.iter().all(u8::is_ascii_digit));
            if digits {
                self.time_mask = u64::MAX >> (8 * (8 - k));
                self.time_prefix = x & self.time_mask;
                self.time_digits = len;
                self.time_high = t as u64 / 100;
            }
        }
    }

    /// A response's JSON past about this many bytes is read in chunks of this size, in
    /// parallel (a metric of a thousand instances is often one file of tens of MiB).
    const CHUNK: usize = 1 << 20;

    /// Where the chunks of the result array that starts at `from` begin: `from`, then about
    /// every [`CHUNK`] bytes the first `{` after it that starts a series the compact way
    /// Prometheus writes them (`},{"metric":`). Only a guess: a chunk counts when reading the
    /// one before it stopped exactly there, after a series and its comma, where reading the
    /// whole array would have been too. The starts depend on the bytes alone, never on the
    /// thread count.
    fn chunk_starts(bytes: &[u8], from: usize, chunk: usize) -> Vec<usize> {
        let mut starts = vec![from];
        let finder = memchr::memmem::Finder::new(b"},{\"metric\":");
        let mut at = from.saturating_add(chunk);
        while at.saturating_add(chunk / 2) < bytes.len() {
            let Some(found) = finder.find(&bytes[at..]) else {
                break;
            };
            let start = at + found + 2;
            starts.push(start);
            at = start.saturating_add(chunk);
        }
        starts
    }

    /// The series of the result array from `c` (at its start, or at the first series of a
    /// chunk) up to `stop` (the next chunk's first series, which this must reach exactly
    /// after a comma) or, with no `stop`, through the array's closing `]`.
    fn results(c: &mut Cursor<'_>, stop: Option<usize>) -> Option<Vec<Decoded>> {
        // The thread's scratch vector, kept between files (a thousand one-series files each
        // grew a new one by doubling); one of more than 64 Ki points is not kept.
        thread_local! {
            static SCRATCH: std::cell::Cell<Vec<Point>> = const { std::cell::Cell::new(Vec::new()) };
        }
        let mut scratch = SCRATCH.take();
        let out = results_into(c, stop, &mut scratch);
        if scratch.capacity() <= 1 << 16 {
            SCRATCH.set(scratch);
        }
        out
    }

    /// [`results`] with a scratch vector for the first series.
    fn results_into(
        c: &mut Cursor<'_>,
        stop: Option<usize>,
        scratch: &mut Vec<Point>,
    ) -> Option<Vec<Decoded>> {
        let mut out: Vec<Decoded> = Vec::new();
        if c.take(b']') {
            return stop.is_none().then_some(out);
        }
        loop {
            let expect = out.last().map_or(0, |(_, s)| s.len());
            out.push(series(c, scratch, expect)?);
            if c.take(b']') {
                return stop.is_none().then_some(out);
            }
            c.eat(b',')?;
            match stop {
                Some(stop) if c.i == stop => return Some(out),
                Some(stop) if c.i > stop => return None,
                _ => {}
            }
        }
    }

    /// One series. Its samples go straight into a vector of `expect` (the previous series'
    /// count: the series of one response mostly have the same) when that is known, else they
    /// are gathered in `scratch` and copied out at their exact length.
    fn series(c: &mut Cursor<'_>, scratch: &mut Vec<Point>, expect: usize) -> Option<Decoded> {
        c.eat(b'{')?;
        c.key("metric")?;
        c.eat(b'{')?;
        let mut labels = Labels::new();
        if !c.take(b'}') {
            loop {
                let k = c.string()?;
                c.eat(b':')?;
                let v = c.string()?;
                if labels.insert(k.to_string(), v.to_string()).is_some() {
                    return None;
                }
                if c.take(b'}') {
                    break;
                }
                c.eat(b',')?;
            }
        }
        c.eat(b',')?;
        c.key("values")?;
        c.eat(b'[')?;
        let mut own = Vec::new();
        let samples = if expect > 0 {
            own.reserve_exact(expect);
            &mut own
        } else {
            scratch.clear();
            &mut *scratch
        };
        let mut last = LastValue::default();
        if !c.take(b']') {
            loop {
                let point = match c.compact_sample(&mut last) {
                    Some(p) => p,
                    None => {
                        c.eat(b'[')?;
                        let t = c.number()?;
                        c.eat(b',')?;
                        let v = c.value()?;
                        c.eat(b']')?;
                        Point { t, v }
                    }
                };
                samples.push(point);
                // `,[` (the next compact sample) and `]` without whitespace, the way
                // Prometheus writes them; anything else piece by piece.
                match c.b.get(c.i..c.i + 2) {
                    Some(b",[") => {
                        c.i += 1;
                        continue;
                    }
                    Some([b']', _]) => {
                        c.i += 1;
                        break;
                    }
                    _ => {}
                }
                if c.take(b']') {
                    break;
                }
                c.eat(b',')?;
            }
        }
        c.eat(b'}')?;
        let samples = if expect > 0 {
            own.shrink_to_fit();
            own
        } else {
            scratch.clone()
        };
        Some((labels, super::in_time_order(samples)))
    }
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<ResponseData>,
}

#[derive(Deserialize)]
struct ResponseData {
    #[serde(rename = "resultType", default)]
    result_type: String,
    #[serde(default)]
    result: Vec<RawSeries>,
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: Labels,
    #[serde(default)]
    values: Samples,
    #[serde(default)]
    value: Option<Point>,
}

#[derive(Default)]
struct Samples(Vec<Point>);

impl<'de> Deserialize<'de> for Samples {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Samples, D::Error> {
        struct Many;
        impl<'de> Visitor<'de> for Many {
            type Value = Samples;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of [<time>, \"<value>\"] pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Samples, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(240));
                while let Some(p) = seq.next_element::<Point>()? {
                    out.push(p);
                }
                Ok(Samples(out))
            }
        }
        d.deserialize_seq(Many)
    }
}

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Point, D::Error> {
        struct Pair;
        impl<'de> Visitor<'de> for Pair {
            type Value = Point;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [<unix time>, \"<value>\"] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Point, A::Error> {
                let t: f64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let text: std::borrow::Cow<'de, str> = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let v = parse_value(&text).ok_or_else(|| {
                    de::Error::invalid_value(de::Unexpected::Str(&text), &"a number, NaN or ±Inf")
                })?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(Point { t, v })
            }
        }
        d.deserialize_seq(Pair)
    }
}

/// A sample value as Prometheus writes it: a decimal, `NaN`, `+Inf` or `-Inf`.
pub fn parse_value(text: &str) -> Option<f64> {
    parse_value_bytes(text.as_bytes())
}

/// [`parse_value`] of raw bytes: plain integers and decimals (the way Prometheus writes almost
/// every value) by [`exact_decimal`], anything else by the standard library's parse of the
/// text, so both give the same bits.
fn parse_value_bytes(text: &[u8]) -> Option<f64> {
    match text {
        b"NaN" => Some(f64::NAN),
        b"+Inf" | b"Inf" => Some(f64::INFINITY),
        b"-Inf" => Some(f64::NEG_INFINITY),
        _ => exact_decimal(text).or_else(|| {
            std::str::from_utf8(text)
                .ok()?
                .parse()
                .ok()
                .filter(|v: &f64| !v.is_nan())
        }),
    }
}

/// Exact powers of ten (every one up to 1e22 is an f64 without rounding).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `[+-]?digits[.digits]` as the correctly rounded f64, when that takes one IEEE operation.
/// `None` for anything else (exponents, more digits, `1.`, `.5`, other text): the caller parses
/// those the slow way.
fn exact_decimal(text: &[u8]) -> Option<f64> {
    exact_prefix(text, false)
        .filter(|&(_, len)| len == text.len())
        .map(|(v, _)| v)
}

/// Appends the digits at `b[*i..]` to `w` (`n` digits so far), up to 19 in all: a word of
/// eight bytes at a time (the digits that start it found and read in a few word operations),
/// then one by one near the end of `b`.
#[inline(always)]
fn digits(b: &[u8], i: &mut usize, w: &mut u64, n: &mut usize) {
    while let Some(word) = b.get(*i..*i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let x = u64::from_le_bytes(word);
        let k = leading_digits(x).min(MAX_DIGITS - *n);
        if k == 0 {
            return;
        }
        *w = *w * POW10_INT[k] + first_digits(x, k);
        *i += k;
        *n += k;
        if k < 8 {
            return;
        }
    }
    while *n < MAX_DIGITS && *i < b.len() && b[*i].is_ascii_digit() {
        *w = *w * 10 + u64::from(b[*i] - b'0');
        *i += 1;
        *n += 1;
    }
}

/// How many ASCII digits the eight bytes of `x` (the first in the low byte) start with.
#[inline(always)]
fn leading_digits(x: u64) -> usize {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Per byte, without carries between bytes (each sum stays under 0x100): the high bit of
    // `at_least_0` is set where the low seven bits are >= 0x30, of `past_9` where >= 0x3A.
    let low = x & LOW7;
    let at_least_0 = (low + 0x5050_5050_5050_5050) & HIGH;
    let past_9 = (low + 0x4646_4646_4646_4646) & HIGH;
    let digit = at_least_0 & !past_9 & !x & HIGH;
    ((!digit & HIGH).trailing_zeros() / 8) as usize
}

/// The number the first `k` (1..=8) bytes of `x` spell, all of them ASCII digits.
#[inline(always)]
fn first_digits(x: u64, k: usize) -> u64 {
    // The k digits moved to the end of the word, '0's before them: eight digits to read.
    let padded = if k == 8 {
        x
    } else {
        (x << (8 * (8 - k))) | (0x3030_3030_3030_3030 >> (8 * k))
    };
    eight_digit_value(padded)
}

/// The number eight ASCII digits spell (the first the most significant), in a few word
/// operations (SWAR).
#[inline(always)]
fn eight_digit_value(x: u64) -> u64 {
    // Digit values, then pairs, fours, the eight (byte 0 is the first digit).
    let v = x - 0x3030_3030_3030_3030;
    let v = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v * 10_000 + (v >> 32)) & 0xFFFF_FFFF
}

/// The decimal `[+-]?digits[.digits]` that `b` starts with, as `(value, length)`, when it has
/// at most 19 digits (without the point): they form an integer `w < 10^19` and the value is
/// `w / 10^frac` correctly rounded ([`decimal_value`]: Clinger's fast path below 2^53, the
/// one the standard library takes first, and Eisel-Lemire above it). With `json`,
/// only what a JSON number allows: no sign (a `-` is left to the slow path) and no leading
/// zero. `None` when the start is not such a decimal; the caller checks what follows it.
#[inline(always)]
fn exact_prefix(b: &[u8], json: bool) -> Option<(f64, usize)> {
    wide_prefix(b, json).unwrap_or_else(|| narrow_prefix(b, json))
}

/// Sixteen ASCII `0`s.
const ZEROS: u128 = 0x3030_3030_3030_3030_3030_3030_3030_3030;

/// The most digits (both parts) a decimal read by [`exact_prefix`] may have: any 19 digits form
/// an integer below 10^19 < 2^64.
const MAX_DIGITS: usize = 19;

/// `10^k` for `k <= 19`.
const POW10_INT: [u64; 20] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
    100_000_000_000_000_000,
    1_000_000_000_000_000_000,
    10_000_000_000_000_000_000,
];

/// The digits `b[i..]` starts with as `(value, count)`, when the sixteen bytes from `i` are
/// there and fewer than sixteen of them are digits (`None` otherwise): found and read in one
/// 16-byte word, without a branch on their count.
#[inline(always)]
fn wide_digits(b: &[u8], i: usize) -> Option<(u64, usize)> {
    const LOW7: u128 = 0x7F7F_7F7F_7F7F_7F7F_7F7F_7F7F_7F7F_7F7F;
    const HIGH: u128 = 0x8080_8080_8080_8080_8080_8080_8080_8080;
    let word: [u8; 16] = b.get(i..i.checked_add(16)?)?.try_into().ok()?;
    let x = u128::from_le_bytes(word);
    // As in `leading_digits`, sixteen bytes at once (no carries between bytes).
    let low = x & LOW7;
    let at_least_0 = (low + 0x5050_5050_5050_5050_5050_5050_5050_5050) & HIGH;
    let past_9 = (low + 0x4646_4646_4646_4646_4646_4646_4646_4646) & HIGH;
    let digit = at_least_0 & !past_9 & !x & HIGH;
    let n = ((!digit & HIGH).trailing_zeros() / 8) as usize;
    if n >= 16 {
        return None;
    }
    if n == 0 {
        return Some((0, 0));
    }
    // The n digits moved to the end of the word, '0's before them: sixteen digits to read.
    let padded = (x << (8 * (16 - n))) | (ZEROS >> (8 * n));
    let value =
        eight_digit_value(padded as u64) * 100_000_000 + eight_digit_value((padded >> 64) as u64);
    Some((value, n))
}

/// [`narrow_prefix`]'s answer, read with [`wide_digits`] (the integer part and the fraction
/// one word each) where the bytes are there: `None` where this cannot tell (fewer than 16
/// bytes left, sixteen digits or more in a part, more than 19 in all), and the narrow path
/// reads the number. Where it tells, it reads the same digits into the same `w` and
/// `frac`, so the answer is the narrow path's.
#[inline(always)]
fn wide_prefix(b: &[u8], json: bool) -> Option<Option<(f64, usize)>> {
    let (negative, start) = match b.first() {
        Some(b'-') if !json => (true, 1),
        Some(b'+') if !json => (false, 1),
        _ => (false, 0),
    };
    let (int, n) = wide_digits(b, start)?;
    if n == 0 || (json && n > 1 && b[start] == b'0') {
        return Some(None);
    }
    let mut end = start + n;
    let (mut w, mut frac) = (int, 0);
    if b.get(end) == Some(&b'.') {
        let (digits, m) = wide_digits(b, end + 1)?;
        if m == 0 {
            return Some(None);
        }
        if n + m > MAX_DIGITS {
            return None;
        }
        w = int * POW10_INT[m] + digits;
        frac = m;
        end += 1 + m;
    }
    let Some(v) = decimal_value(w, frac) else {
        return Some(None);
    };
    Some(Some((if negative { -v } else { v }, end)))
}

/// [`exact_prefix`] a digit (or eight) at a time: any length of input.
#[inline(always)]
fn narrow_prefix(b: &[u8], json: bool) -> Option<(f64, usize)> {
    let (negative, mut i) = match b.first() {
        Some(b'-') if !json => (true, 1),
        Some(b'+') if !json => (false, 1),
        _ => (false, 0),
    };
    let start = i;
    // At most 19 digits in all: no u64 overflow. A longer number stops on a digit, which no
    // caller takes as the end of a value.
    let (mut w, mut n) = (0, 0);
    digits(b, &mut i, &mut w, &mut n);
    if n == 0 || (json && n > 1 && b[start] == b'0') {
        return None;
    }
    let mut frac = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let before = n;
        digits(b, &mut i, &mut w, &mut n);
        frac = n - before;
        if frac == 0 {
            return None;
        }
    }
    let v = decimal_value(w, frac)?;
    Some((if negative { -v } else { v }, i))
}

/// `w / 10^frac` (`frac <= 19`) correctly rounded, the standard library's bits: below 2^53 by
/// one IEEE division of exact operands (Clinger's fast path), an integer above it by the
/// conversion (itself rounded to nearest, ties to even), a fraction above it by
/// [`eisel_lemire`]. `None` only where that cannot decide.
#[inline(always)]
fn decimal_value(w: u64, frac: usize) -> Option<f64> {
    if w < 1 << 53 {
        // Exact either way; the signed conversion is one instruction.
        let w = w as i64 as f64;
        return Some(if frac == 0 { w } else { w / POW10[frac] });
    }
    if frac == 0 {
        return Some(w as f64);
    }
    eisel_lemire(w, frac)
}

/// `2^b / 5^n` for `n <= 19`, rounded up to 128 bits (`b` puts its top bit at bit 127), as
/// (high word, low word): the multiplier that divides by `10^n` in [`eisel_lemire`].
const INVERSE_POWERS_OF_FIVE: [(u64, u64); MAX_DIGITS + 1] = {
    let mut table = [(0, 0); MAX_DIGITS + 1];
    let mut n = 1;
    while n <= MAX_DIGITS {
        let mut five: u64 = 1;
        let mut k = 0;
        while k < n {
            five *= 5;
            k += 1;
        }
        // The smallest z with 2^z >= 5^n; then 2^(z + 127) / 5^n lies in [2^127, 2^128).
        let mut z = 0;
        while (1u128 << z) < five as u128 {
            z += 1;
        }
        // Long division of 2^(z + 127) by 5^n, a bit at a time: the leading 1, then z + 127 0s.
        let (mut rest, mut quotient): (u128, u128) = (1, 0);
        let mut bits = z + 127;
        while bits > 0 {
            rest <<= 1;
            quotient <<= 1;
            if rest >= five as u128 {
                rest -= five as u128;
                quotient |= 1;
            }
            bits -= 1;
        }
        let rounded_up = quotient + 1;
        table[n] = ((rounded_up >> 64) as u64, rounded_up as u64);
        n += 1;
    }
    table
};

/// `w / 10^frac` for `w >= 2^53` and `1 <= frac <= 19`, correctly rounded, by the method of
/// Eisel and Lemire (Lemire, "Number Parsing at a Gigabyte per Second", 2021): `w`, shifted to
/// the top of a word, times a 128-bit approximation of `5^-frac`; the high 54 bits of the
/// product give the mantissa and a rounding bit, the power of two comes from the shift and
/// `frac * log2(10)`. For these exponents the truncated product always decides (exact
/// halfway cases need `frac <= 4`, checked on the product's low bits); `None` where the
/// method would not (never for these inputs), and the caller parses the text instead.
#[inline(always)]
fn eisel_lemire(w: u64, frac: usize) -> Option<f64> {
    let (high5, low5) = *INVERSE_POWERS_OF_FIVE.get(frac)?;
    let q = -i32::try_from(frac).ok()?;
    let shift = w.leading_zeros();
    let w = w << shift;
    let product = |a: u64, b: u64| {
        let p = u128::from(a) * u128::from(b);
        (p as u64, (p >> 64) as u64)
    };
    // 55 bits matter (52 stored, the implicit one, a rounding bit and the top bit's place):
    // the low word of the multiplier is needed only when the 9 bits under them are all ones.
    let (mut low, mut high) = product(w, high5);
    const BELOW: u64 = u64::MAX >> 55;
    if high & BELOW == BELOW {
        let (_, carry) = product(w, low5);
        low = low.wrapping_add(carry);
        if carry > low {
            high += 1;
        }
    }
    if low == u64::MAX && !(-27..=55).contains(&q) {
        return None;
    }
    let top = (high >> 63) as i32;
    let mut mantissa = high >> (top + 9);
    // floor(q * log2(10)) + 63, from the shift and the top bit: the biased exponent.
    let mut exponent = ((q * (152_170 + 65_536)) >> 16) + 63 + top - shift as i32 + 1023;
    if exponent <= 0 {
        return None;
    }
    // Exactly halfway between two doubles: round to even, not up.
    if low <= 1 && q >= -4 && mantissa & 3 == 1 && (mantissa << (top + 9)) == high {
        mantissa &= !1;
    }
    mantissa += mantissa & 1;
    mantissa >>= 1;
    if mantissa >= 2 << 52 {
        mantissa = 1 << 52;
        exponent += 1;
    }
    mantissa &= !(1 << 52);
    if exponent >= 0x7FF {
        return None;
    }
    Some(f64::from_bits(mantissa | (exponent as u64) << 52))
}

/// A PromQL-style series selector: `name{a="x",b=~"y|z",c!="w",d!~"v"}` (the name optional).
#[derive(Debug, Clone)]
pub struct Selector {
    /// The metric name.
    pub metric: String,
    matchers: Vec<(String, MatchOp, String, Option<regex::Regex>)>,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchOp {
    Eq,
    Ne,
    Re,
    NotRe,
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Selector {
    /// Parses a selector; the error says what was expected where.
    ///
    /// ```
    /// use diag_core::model::metrics::Selector;
    /// let s = Selector::parse(r#"pd_regions_status{type=~"miss-peer-region-count|miss_peer_region_count"}"#).unwrap();
    /// assert_eq!(s.metric, "pd_regions_status");
    /// assert!(Selector::parse("up{job=tikv}").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Selector, String> {
        let text = text.trim();
        let (metric, rest) = match text.find('{') {
            Some(i) => (&text[..i], &text[i..]),
            None => (text, ""),
        };
        let metric = metric.trim();
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        };
        if !name_ok(metric) {
            return Err(format!("`{text}`: expected a metric name before `{{`"));
        }
        let mut matchers = Vec::new();
        if !rest.is_empty() {
            let Some(body) = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')) else {
                return Err(format!("`{text}`: label matchers end with `}}`"));
            };
            let mut chars = body.trim();
            while !chars.is_empty() {
                let end = chars
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(chars.len());
                let label = &chars[..end];
                if label.is_empty() {
                    return Err(format!("`{text}`: expected a label name at `{chars}`"));
                }
                let after = chars[end..].trim_start();
                let (op, after) = if let Some(a) = after.strip_prefix("=~") {
                    (MatchOp::Re, a)
                } else if let Some(a) = after.strip_prefix("!~") {
                    (MatchOp::NotRe, a)
                } else if let Some(a) = after.strip_prefix("!=") {
                    (MatchOp::Ne, a)
                } else if let Some(a) = after.strip_prefix('=') {
                    (MatchOp::Eq, a)
                } else {
                    return Err(format!(
                        "`{text}`: expected `=`, `!=`, `=~` or `!~` after `{label}`"
                    ));
                };
                let after = after.trim_start();
                let Some(quoted) = after.strip_prefix('"') else {
                    return Err(format!(
                        "`{text}`: the value of `{label}` is a quoted string"
                    ));
                };
                let Some(close) = quoted.find('"') else {
                    return Err(format!("`{text}`: unterminated value of `{label}`"));
                };
                let value = &quoted[..close];
                let regex = match op {
                    MatchOp::Re | MatchOp::NotRe => Some(
                        regex::Regex::new(&format!("^(?:{value})$"))
                            .map_err(|e| format!("`{text}`: bad regex for `{label}`: {e}"))?,
                    ),
                    _ => None,
                };
                matchers.push((label.to_string(), op, value.to_string(), regex));
                chars = quoted[close + 1..].trim_start();
                chars = chars.strip_prefix(',').unwrap_or(chars).trim_start();
            }
        }
        Ok(Selector {
            metric: metric.to_string(),
            matchers,
            text: text.to_string(),
        })
    }

    /// Each matcher as `(label, operator and value)`, e.g. `("type", "=\"available\"")`.
    pub fn matcher_labels(&self) -> std::collections::BTreeSet<(&str, String)> {
        self.matchers
            .iter()
            .map(|(label, op, value, _)| {
                let op = match op {
                    MatchOp::Eq => "=",
                    MatchOp::Ne => "!=",
                    MatchOp::Re => "=~",
                    MatchOp::NotRe => "!~",
                };
                (label.as_str(), format!("{op}{value:?}"))
            })
            .collect()
    }

    /// Whether a series with these labels is selected (a missing label reads as empty).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matchers.iter().all(|(label, op, value, regex)| {
            let have = labels.get(label).map_or("", String::as_str);
            match (op, regex) {
                (MatchOp::Eq, _) => have == value,
                (MatchOp::Ne, _) => have != value,
                (MatchOp::Re, Some(r)) => r.is_match(have),
                (MatchOp::NotRe, Some(r)) => !r.is_match(have),
                _ => false,
            }
        })
    }
}

// ---- Functions over a window of samples. NaN samples are skipped by every function. ----

fn finite(samples: &[Point]) -> impl Iterator<Item = &Point> {
    samples.iter().filter(|p| !p.v.is_nan())
}

/// The largest sample (the first of equals), `+Inf` included.
pub fn max(samples: &[Point]) -> Option<Point> {
    finite(samples)
        .copied()
        .reduce(|best, p| if p.v > best.v { p } else { best })
}

/// The smallest sample (the first of equals).
pub fn min(samples: &[Point]) -> Option<Point> {
    finite(samples)
        .copied()
        .reduce(|best, p| if p.v < best.v { p } else { best })
}

/// The mean of the samples.
pub fn avg(samples: &[Point]) -> Option<f64> {
    let (sum, n) = finite(samples).fold((0.0, 0usize), |(s, n), p| (s + p.v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// The last sample.
pub fn last(samples: &[Point]) -> Option<Point> {
    samples.iter().rev().find(|p| !p.v.is_nan()).copied()
}

/// How many times the value changed, and the last sample that changed it.
pub fn changes(samples: &[Point]) -> Option<(f64, Option<Point>)> {
    let mut it = finite(samples);
    let mut prev = it.next()?.v;
    let mut count = 0.0;
    let mut at = None;
    for p in it {
        if p.v != prev {
            count += 1.0;
            at = Some(*p);
        }
        prev = p.v;
    }
    Some((count, at))
}

/// How much a counter grew: a drop is a reset (the process restarted from zero), after which the
/// new value counts whole. No extrapolation to the window edges; `None` below two samples.
pub fn increase(samples: &[Point]) -> Option<f64> {
    let mut it = finite(samples);
    let mut prev = it.next()?.v;
    let mut total = 0.0;
    let mut n = 1;
    for p in it {
        total += step(prev, p.v);
        prev = p.v;
        n += 1;
    }
    (n >= 2).then_some(total)
}

/// Growth from `prev` to `v` of a counter: the difference, or `v` after a reset.
fn step(prev: f64, v: f64) -> f64 {
    if v < prev { v } else { v - prev }
}

/// Per-second growth of a counter over the samples' time span (resets handled as [`increase`]).
pub fn rate(samples: &[Point]) -> Option<f64> {
    let first = finite(samples).next()?;
    let last = last(samples)?;
    let span = last.t - first.t;
    (span > 0.0).then(|| increase(samples).map(|i| i / span))?
}

/// Last minus first value (gauges; may be negative).
pub fn delta(samples: &[Point]) -> Option<f64> {
    let first = finite(samples).next()?;
    let last = last(samples)?;
    (first.t < last.t).then_some(last.v - first.v)
}

/// What a windowed function works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Windowed {
    /// [`increase`].
    Increase,
    /// [`rate`].
    Rate,
    /// [`changes`].
    Changes,
    /// [`delta`].
    Delta,
}

/// The function evaluated over every window of `range` seconds ending at a sample, in one pass:
/// `(value, end time)` of each window holding at least two samples.
pub fn sliding(samples: &[Point], range: f64, f: Windowed) -> Vec<Point> {
    let pts: std::borrow::Cow<'_, [Point]> = if samples.iter().any(|p| p.v.is_nan()) {
        finite(samples).copied().collect()
    } else {
        std::borrow::Cow::Borrowed(samples)
    };
    // The accumulation from pts[0] to pts[i], added up in the same order for the window's end
    // and for its start (so their difference has the bits a table of prefix sums would give),
    // without the table.
    let grow = |i: usize| -> f64 {
        let (prev, v) = (pts[i - 1].v, pts[i].v);
        match f {
            Windowed::Increase | Windowed::Rate => step(prev, v),
            Windowed::Changes => f64::from(u8::from(v != prev)),
            Windowed::Delta => v - prev,
        }
    };
    let mut out = Vec::with_capacity(pts.len());
    let (mut start, mut at_start, mut at_end) = (0, 0.0, 0.0);
    for (end, p) in pts.iter().enumerate() {
        if end > 0 {
            at_end += grow(end);
        }
        while pts[start].t < p.t - range {
            start += 1;
            at_start += grow(start);
        }
        if end == start {
            continue;
        }
        let grown = at_end - at_start;
        let value = match f {
            Windowed::Rate => grown / (p.t - pts[start].t),
            _ => grown,
        };
        out.push(Point::new(p.t, value));
    }
    out
}

/// `histogram_quantile`: the `q` quantile of a histogram given as `(le, cumulative count)`
/// buckets, interpolated linearly inside the bucket as Prometheus does. `None` without a `+Inf`
/// bucket or observations.
///
/// ```
/// use diag_core::model::metrics::histogram_quantile;
/// // 100 observations: 50 ≤ 0.1 s, 90 ≤ 1 s, all ≤ +Inf. p90 is 1 s, p70 interpolates in (0.1, 1].
/// let b = [(0.1, 50.0), (1.0, 90.0), (f64::INFINITY, 100.0)];
/// assert_eq!(histogram_quantile(0.9, &b), Some(1.0));
/// assert!((histogram_quantile(0.7, &b).unwrap() - 0.55).abs() < 1e-9);
/// ```
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let mut b: Vec<(f64, f64)> = buckets
        .iter()
        .copied()
        .filter(|(le, _)| !le.is_nan())
        .collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if b.last().is_none_or(|(le, _)| *le != f64::INFINITY) {
        return None;
    }
    // Cumulative counts must not fall (buckets scraped at slightly different moments).
    for i in 1..b.len() {
        if b[i].1 < b[i - 1].1 {
            b[i].1 = b[i - 1].1;
        }
    }
    let total = b.last()?.1;
    if total <= 0.0 || q.is_nan() {
        return None;
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    let rank = q * total;
    let i = b.partition_point(|(_, c)| *c < rank);
    if i == b.len() - 1 {
        // The +Inf bucket: the highest finite bound is all that is known.
        return Some(if b.len() >= 2 {
            b[b.len() - 2].0
        } else {
            f64::NAN
        });
    }
    if i == 0 && b[0].0 <= 0.0 {
        return Some(b[0].0);
    }
    let (lower, below) = if i == 0 { (0.0, 0.0) } else { b[i - 1] };
    let (upper, count) = b[i];
    let in_bucket = count - below;
    if in_bucket <= 0.0 {
        return Some(upper);
    }
    Some(lower + (upper - lower) * (rank - below) / in_bucket)
}

/// The samples of `num / den`, pairing samples at the same time (within half a second); pairs
/// with a zero denominator are skipped.
pub fn ratio(num: &[Point], den: &[Point]) -> Vec<Point> {
    let mut out = Vec::with_capacity(num.len().min(den.len()));
    let mut j = 0;
    for p in num {
        while j < den.len() && den[j].t < p.t - 0.5 {
            j += 1;
        }
        if let Some(d) = den.get(j)
            && (d.t - p.t).abs() <= 0.5
            && d.v != 0.0
        {
            out.push(Point::new(p.t, p.v / d.v));
        }
    }
    out
}

/// Who led the PD cluster when, from `etcd_server_is_leader` (1 on the leader). Series of the
/// leader are the authoritative cluster view: followers report stale or empty region and store
/// statistics.
#[derive(Debug, Clone, Default)]
pub struct PdLeader {
    /// `instance` → its `etcd_server_is_leader` samples, in time order.
    reports: BTreeMap<String, Vec<Point>>,
}

impl PdLeader {
    /// Reads the leadership from the `etcd_server_is_leader` series.
    pub fn from_series<'a>(series: impl IntoIterator<Item = &'a Series>) -> PdLeader {
        let mut reports: BTreeMap<String, Vec<Point>> = BTreeMap::new();
        for s in series {
            let Some(instance) = s.label("instance") else {
                continue;
            };
            let points = reports.entry(instance.to_string()).or_default();
            points.extend(s.samples.iter().filter(|p| !p.v.is_nan()));
            points.sort_by(|a, b| a.t.total_cmp(&b.t));
        }
        PdLeader { reports }
    }

    /// Whether any PD ever reported being leader.
    pub fn is_known(&self) -> bool {
        self.reports.values().flatten().any(|p| p.v == 1.0)
    }

    /// Whether `instance` was leader at `t`: its latest report at or before `t`, at most 60 s
    /// old (Prometheus' staleness bound is 5 min; scrapes are 15 s apart), says 1.
    pub fn led_at(&self, instance: &str, t: f64) -> bool {
        self.reports.get(instance).is_some_and(|points| {
            let i = points.partition_point(|p| p.t <= t);
            i > 0 && points[i - 1].v == 1.0 && t - points[i - 1].t <= 60.0
        })
    }

    /// The samples of `series` taken while its instance led.
    pub fn keep(&self, series: &Series) -> Vec<Point> {
        let Some(instance) = series.label("instance") else {
            return Vec::new();
        };
        series
            .samples
            .iter()
            .filter(|p| self.led_at(instance, p.t))
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(values: &[(f64, f64)]) -> Vec<Point> {
        values.iter().map(|&(t, v)| Point::new(t, v)).collect()
    }

    #[test]
    fn max_min_avg_last_skip_nan() {
        let s = pts(&[
            (0.0, 3.0),
            (15.0, f64::NAN),
            (30.0, 7.0),
            (45.0, 1.0),
            (60.0, f64::NAN),
        ]);
        assert_eq!(max(&s), Some(Point::new(30.0, 7.0)));
        assert_eq!(min(&s), Some(Point::new(45.0, 1.0)));
        assert_eq!(avg(&s), Some(11.0 / 3.0));
        assert_eq!(last(&s), Some(Point::new(45.0, 1.0)));
        assert_eq!(
            max(&pts(&[(0.0, 1.0), (1.0, f64::INFINITY)])).map(|p| p.v),
            Some(f64::INFINITY)
        );
        assert_eq!(max(&[]), None);
    }

    #[test]
    fn changes_counts_value_changes_and_the_last_one() {
        let s = pts(&[
            (0.0, 100.0),
            (15.0, 100.0),
            (30.0, 200.0),
            (45.0, 300.0),
            (60.0, 300.0),
        ]);
        assert_eq!(changes(&s), Some((2.0, Some(Point::new(45.0, 300.0)))));
        assert_eq!(changes(&pts(&[(0.0, 1.0)])), Some((0.0, None)));
    }

    #[test]
    fn increase_and_rate_handle_counter_resets() {
        // 100 → 160 (+60), reset to 20 (+20), 20 → 50 (+30): 110 over 45 s.
        let s = pts(&[(0.0, 100.0), (15.0, 160.0), (30.0, 20.0), (45.0, 50.0)]);
        assert_eq!(increase(&s), Some(110.0));
        assert_eq!(rate(&s), Some(110.0 / 45.0));
        assert_eq!(increase(&pts(&[(0.0, 5.0)])), None);
        assert_eq!(delta(&s), Some(-50.0));
    }

    #[test]
    fn sliding_windows_match_the_function_on_each_window() {
        // Restarts at 60, 120 and 300: three within any 300 s window ending at 300.
        let s = pts(&[
            (0.0, 1.0),
            (60.0, 2.0),
            (120.0, 3.0),
            (180.0, 3.0),
            (300.0, 4.0),
        ]);
        let w = sliding(&s, 240.0, Windowed::Changes);
        // Windows ending at 60, 120, 180, 300: [0..60]=1, [0..120]=2, [0..180]=2, [60..300]=2.
        assert_eq!(
            w.iter().map(|p| p.v).collect::<Vec<_>>(),
            vec![1.0, 2.0, 2.0, 2.0]
        );
        let inc = sliding(
            &pts(&[(0.0, 10.0), (10.0, 20.0), (20.0, 5.0), (30.0, 15.0)]),
            10.0,
            Windowed::Increase,
        );
        assert_eq!(
            inc.iter().map(|p| p.v).collect::<Vec<_>>(),
            vec![10.0, 5.0, 10.0]
        );
        let r = sliding(&pts(&[(0.0, 0.0), (10.0, 20.0)]), 60.0, Windowed::Rate);
        assert_eq!(r, vec![Point::new(10.0, 2.0)]);
    }

    #[test]
    fn quantiles_interpolate_like_prometheus() {
        let b = [(0.5, 10.0), (1.0, 20.0), (2.0, 40.0), (f64::INFINITY, 40.0)];
        // rank 0.99*40 = 39.6 falls in (1, 2]: 1 + 1 * (39.6-20)/20 = 1.98.
        let p99 = histogram_quantile(0.99, &b).unwrap_or_default();
        assert!((p99 - 1.98).abs() < 1e-9, "{p99}");
        // rank 5 in the first bucket (0, 0.5]: 0.25.
        assert_eq!(histogram_quantile(0.125, &b), Some(0.25));
        // Everything in +Inf: the highest finite bound.
        assert_eq!(
            histogram_quantile(0.99, &[(1.0, 0.0), (f64::INFINITY, 10.0)]),
            Some(1.0)
        );
        assert_eq!(histogram_quantile(0.99, &[(1.0, 5.0)]), None);
        assert_eq!(
            histogram_quantile(0.99, &[(1.0, 0.0), (f64::INFINITY, 0.0)]),
            None
        );
    }

    #[test]
    fn ratios_pair_samples_by_time() {
        let num = pts(&[(0.0, 10.0), (15.0, 9.0), (30.0, 8.0)]);
        let den = pts(&[(0.2, 100.0), (30.0, 0.0), (45.0, 100.0)]);
        assert_eq!(ratio(&num, &den), vec![Point::new(0.0, 0.1)]);
    }

    #[test]
    fn values_parse_nan_and_infinities() {
        assert!(parse_value("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_value("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_value("1.5e3"), Some(1500.0));
        assert_eq!(parse_value("nan"), None);
        assert_eq!(parse_value("x"), None);
    }

    fn matrix(metric: &str, labels: &str, values: &str) -> String {
        format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"__name__":"{metric}",{labels}}},"values":[{values}]}}]}}}}"#
        )
    }

    #[test]
    fn blocks_join_into_one_series_per_label_set() {
        let a = decode(
            "m/p/x-1.json",
            matrix("x", r#""instance":"a""#, r#"[0,"1"],[15,"2"]"#).as_bytes(),
        );
        let b = decode(
            "m/p/x-2.json",
            matrix(
                "x",
                r#""instance":"a""#,
                r#"[15,"2"],[30,"NaN"],[45,"+Inf"]"#,
            )
            .as_bytes(),
        );
        let c = decode(
            "m/p/x-2.a.json",
            matrix("x", r#""instance":"b""#, r#"[30,"3"]"#).as_bytes(),
        );
        let mut parts = Vec::new();
        for r in [a, b, c] {
            parts.extend(r.unwrap_or_else(|e| panic!("{e}")));
        }
        let joined = join(parts);
        assert_eq!(joined.len(), 2);
        let s = &joined[0];
        assert_eq!(s.label("instance"), Some("a"));
        assert_eq!(s.samples.len(), 4);
        assert!(s.samples[2].v.is_nan());
        assert_eq!(s.samples[3].v, f64::INFINITY);
        assert_eq!(s.file_of(0).map(|f| &**f), Some("m/p/x-1.json"));
        assert_eq!(s.file_of(3).map(|f| &**f), Some("m/p/x-2.json"));
        assert_eq!(s.selector(), r#"x{instance="a"}"#);
    }

    #[test]
    fn the_fast_matrix_reader_agrees_with_serde_json() {
        // Canonical and spaced-out documents, decimals, exponents, NaN/±Inf, negative and
        // large numbers, empty results and empty label sets.
        let docs = [
            matrix("x", r#""instance":"a","job":"tikv""#, r#"[0,"1"],[15.5,"2.25"],[30,"NaN"],[45,"+Inf"],[60,"-Inf"],[75,"1e3"]"#),
            matrix("x", r#""a":"b""#, r#"[1642980867.123,"-0.5"],[1642980868.9,"12345678901234567890"]"#),
            matrix("x", r#""a":"ü""#, r#"[1e9,"3"],[-5,"4"],[1234567890123456789,"5"]"#),
            r#" { "status" : "success" , "data" : { "resultType" : "matrix" , "result" : [ { "metric" : { } , "values" : [ ] } , { "metric" : { "__name__" : "y" } , "values" : [ [ 1 , "2" ] ] } ] } } "#.to_string(),
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#.to_string(),
            // Series longer and shorter than the one before (each is sized by the last).
            concat!(
                r#"{"status":"success","data":{"resultType":"matrix","result":["#,
                r#"{"metric":{"a":"1"},"values":[[1,"1"],[2,"2"]]},"#,
                r#"{"metric":{"a":"2"},"values":[[1,"1"],[2,"2"],[3,"3"],[4,"4"],[5,"5"]]},"#,
                r#"{"metric":{"a":"3"},"values":[[1,"7"]]},{"metric":{"a":"4"},"values":[]},"#,
                r#"{"metric":{"a":"5"},"values":[[1,"8"] ,[2,"9"], [3,"0"]]}]}}"#,
            )
            .to_string(),
            // The number path: specials, exponents, huge integers (past 2^53 and past u64),
            // negative zero, long decimals, signs and leading zeros in values, spaced pairs
            // between compact ones.
            matrix("x", r#""a":"b""#, concat!(
                r#"[1,"NaN"],[2,"+Inf"],[3,"-Inf"],[4,"Inf"],[5,"1e3"],[6,"1E-7"],[7,"2.5e+300"],"#,
                r#"[8,"-1.5e-300"],[9,"1e400"],[10,"12345678901234567890"],[11,"9007199254740993"],"#,
                r#"[12,"9007199254740992"],[13,"-0"],[14,"-0.0"],[15,"0.1"],[16,"0.30000000000000004"],"#,
                r#"[17,"123456789012345.67"],[18,"007"],[19,"+5"],[20,"-12.5"],[21,"4.9e-324"],"#,
                r#"[22,"1.7976931348623157e308"],[23,"99999999999999999"],[24,"0.000000000000000001"],"#,
                r#"[ 25 , "6" ],[26,"1.00000000000000000000001"],[27,"3.14159265358979323846"]"#,
            )),
            matrix("x", r#""a":"b""#, concat!(
                r#"[-0,"1"],[0,"2"],[1642980867.123,"3"],[1642980867.1234567,"4"],[1.5e9,"5"],"#,
                r#"[9007199254740993,"6"],[123456789012345678901234567890,"7"],[-1642980867.5,"8"],"#,
                r#"[1642980867.12345678901234,"9"],[1E2,"10"]"#,
            )),
            // A value repeating the previous one's text is read by comparing it: repeats,
            // values the previous one's text starts (or that start it), signs, the longest
            // text a 16-byte word holds with its `"]` and longer, repeats written another
            // way (a space before `]`), repeats of specials, and a repeat at the very end.
            matrix("x", r#""a":"b""#, concat!(
                r#"[1,"1"],[2,"1"],[3,"10"],[4,"1"],[5,"1.5"],[6,"1.5"],[7,"1"],[8,"-1"],"#,
                r#"[9,"-1"],[10,"+1"],[11,"1"],[12,"12345678901.25"],[13,"12345678901.25"],"#,
                r#"[14,"12345678901.255"],[15,"123456789012.255"],[16,"123456789012.255"],"#,
                r#"[17,"2000208333.3333333"],[18,"2000208333.3333333"],[19,"2000208333.33333"],"#,
                r#"[20,"0"],[21,"0" ],[22,"0"],[23,"NaN"],[24,"NaN"],[25,"0"],[26,"0.0"],"#,
                r#"[27,"0"],[28,"00"],[29,"0"],[30,"0"]"#,
            )),
            // Times read from the previous time's leading digits: steps across hundreds,
            // fractions, longer and shorter numbers, lengths from 1 to 11 digits.
            matrix("x", r#""a":"b""#, concat!(
                r#"[1644206385,"1"],[1644206400,"1"],[1644206415,"1"],[1644206415.5,"1"],"#,
                r#"[1644206416,"1"],[16442064160,"1"],[16442064161,"1"],[1644206499,"1"],"#,
                r#"[1644206500,"1"],[1644206501.25,"1"],[1644206599,"1"],[1644206599.0,"1"]"#,
            )),
            matrix("x", r#""a":"b""#, concat!(
                r#"[1,"1"],[12,"1"],[99,"1"],[100,"1"],[101,"1"],[199,"1"],[200,"1"],[1000,"1"],"#,
                r#"[1001,"1"],[1001.5,"1"],[1002,"1"],[123456789,"1"],[123456790,"1"],"#,
                r#"[1234567890,"2"],[1234567891,"2"],[1234567892e0,"2"],[1234567899,"2"]"#,
            )),
            concat!(
                r#"{"status":"success","data":{"resultType":"matrix","result":["#,
                r#"{"metric":{"a":"1"},"values":[[1,"7"],[2,"7"]]},"#,
                r#"{"metric":{"a":"2"},"values":[[1,"7"],[2,"7"],[3,"8"],[4,"7"]]}]}}"#,
            )
            .to_string(),
        ];
        for doc in &docs {
            let fast = fast::matrix(doc.as_bytes());
            assert!(fast.is_some(), "fast path refused {doc}");
            let path: Arc<str> = Arc::from("f.json");
            let fast: Vec<Series> = fast
                .unwrap_or_default()
                .into_iter()
                .map(|(l, s)| finish(&path, l, s))
                .collect();
            let slow =
                decode_serde("f.json", &path, doc.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(fast.len(), slow.len(), "{doc}");
            for (a, b) in fast.iter().zip(&slow) {
                assert_eq!((&a.metric, &a.labels), (&b.metric, &b.labels), "{doc}");
                assert_eq!(a.samples.len(), b.samples.len(), "{doc}");
                for (p, q) in a.samples.iter().zip(&b.samples) {
                    // serde_json's float parse of a time may be one ulp off the correctly
                    // rounded one; values are text both ways, read by `parse_value`: the bits
                    // must agree (NaN and the sign of zero included).
                    let close =
                        |x: f64, y: f64| x == y || (x - y).abs() <= x.abs() * 4.0 * f64::EPSILON;
                    assert!(close(p.t, q.t), "{doc}: {p:?} vs {q:?}");
                    assert_eq!(p.v.to_bits(), q.v.to_bits(), "{doc}: {p:?} vs {q:?}");
                }
                // Times are the standard library's correctly rounded parse of a token.
                let times: Vec<u64> = time_tokens(doc)
                    .iter()
                    .filter_map(|t| t.parse::<f64>().ok().map(f64::to_bits))
                    .collect();
                for p in &a.samples {
                    assert!(times.contains(&p.t.to_bits()), "{doc}: {p:?}");
                }
            }
        }
        // What the fast path leaves to serde_json: escapes, other shapes, bad syntax; each of
        // these still decodes or fails exactly as before.
        for doc in [
            matrix("x", r#""a":"b\"c""#, r#"[0,"1"]"#),
            matrix("x", r#""a":"b""#, r#"[01,"1"]"#),
            matrix("x", r#""a":"b""#, r#"[1.,"1"]"#),
            matrix("x", r#""a":"b""#, r#"[0,"1"],"#),
            matrix("x", r#""a":"b","a":"c""#, r#"[0,"1"]"#),
            r#"{"data":{"resultType":"matrix","result":[]},"status":"success"}"#.to_string(),
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.to_string(),
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}} x"#.to_string(),
        ] {
            assert!(
                fast::matrix(doc.as_bytes()).is_none(),
                "fast path took {doc}"
            );
        }
        assert!(
            decode(
                "f.json",
                matrix("x", r#""a":"b\"c""#, r#"[0,"1"]"#).as_bytes()
            )
            .is_ok_and(|s| s[0].label("a") == Some("b\"c"))
        );
        assert!(
            decode(
                "f.json",
                matrix("x", r#""a":"b""#, r#"[01,"1"]"#).as_bytes()
            )
            .is_err()
        );
        assert!(
            decode(
                "f.json",
                br#"{"data":{"resultType":"matrix","result":[]},"status":"success"}"#
            )
            .is_ok()
        );
    }

    #[test]
    fn chunked_matrices_read_the_same_series_as_one_pass() {
        // A many-series document (some series empty, spaced-out separators between some) and
        // odd ones: cut anywhere, the chunks must give what one pass gives, or nothing when
        // one pass gives nothing (the fallback then reads the whole document).
        let mut big =
            String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
        for k in 0..40 {
            if k > 0 {
                big.push_str(if k % 7 == 0 { " , " } else { "," });
            }
            let values: Vec<String> = (0..k % 5)
                .map(|j| format!(r#"[{},"{}.5"]"#, 100 + j * 15, k * j))
                .collect();
            big.push_str(&format!(
                r#"{{"metric":{{"__name__":"m","instance":"i{k}","k":"}},{{"}},"values":[{}]}}"#,
                values.join(",")
            ));
        }
        big.push_str("]}}");
        let docs = [
            big.clone(),
            // A label holding the separator's text (escaped: the fast path refuses it).
            matrix("x", r#""a":"},{\"metric\":{""#, r#"[0,"1"]"#),
            // Broken in the middle, at the end, and cut short.
            big.replacen(
                r#"},{"metric":{"__name__":"m","instance":"i20""#,
                r#"}],{"metric":{"__name__":"m","instance":"i20""#,
                1,
            ),
            big.replacen(r#"]}}"#, r#"]}"#, 1),
            big[..big.len() / 2].to_string(),
            // Two arrays' worth of separators where one result ends early.
            big.replacen(
                r#",{"metric":{"__name__":"m","instance":"i30""#,
                r#"]}},{"metric":{"__name__":"m","instance":"i30""#,
                1,
            ),
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}},{"metric":{}}"#
                .to_string(),
            // The separator's text where a string ends (not JSON: no chunk may start there).
            big.replacen(r#""k":"},{""#, r#""k":"},{"metric":{""#, 1),
        ];
        for doc in &docs {
            let whole = fast::matrix_in_chunks(doc.as_bytes(), usize::MAX);
            for chunk in 1..doc.len() + 2 {
                assert_eq!(
                    format!("{:?}", fast::matrix_in_chunks(doc.as_bytes(), chunk)),
                    format!("{whole:?}"),
                    "{doc} in chunks of {chunk}"
                );
            }
        }
        let series = fast::matrix_in_chunks(big.as_bytes(), 64).unwrap_or_default();
        assert_eq!(series.len(), 40);
        assert_eq!(
            series[39].0.get("instance").map(String::as_str),
            Some("i39")
        );
        assert_eq!(series[39].1.len(), 4);
        assert_eq!(fast::matrix(docs[1].as_bytes()), None);
    }

    /// The time token of every `[t, "v"]` pair of a document.
    fn time_tokens(doc: &str) -> Vec<String> {
        let Some(values) = doc.find("\"values\"") else {
            return Vec::new();
        };
        doc[values..]
            .split('[')
            .skip(2)
            .filter_map(|pair| Some(pair.split(',').next()?.trim().to_string()))
            .filter(|t| !t.is_empty() && !t.starts_with(']'))
            .collect()
    }

    #[test]
    fn digits_are_found_and_read_a_word_at_a_time() {
        // Every byte value after a run of digits ends it; the run's value is the digits'.
        for run in 0..=8 {
            for stop in 0..=255u8 {
                let mut word = *b"73920486";
                if run < 8 {
                    word[run] = stop;
                }
                let x = u64::from_le_bytes(word);
                let want = if run < 8 && stop.is_ascii_digit() {
                    run + 1
                        + word[run + 1..]
                            .iter()
                            .take_while(|c| c.is_ascii_digit())
                            .count()
                } else {
                    run
                };
                assert_eq!(leading_digits(x), want, "{word:?}");
                if want > 0 {
                    let text = std::str::from_utf8(&word[..want]).unwrap_or_default();
                    assert_eq!(Some(first_digits(x, want)), text.parse().ok(), "{text}");
                }
            }
        }
        for text in ["00000000", "99999999", "16442064", "00000001", "10000000"] {
            let x = u64::from_le_bytes(text.as_bytes().try_into().unwrap_or_default());
            assert_eq!(leading_digits(x), 8);
            assert_eq!(Some(eight_digit_value(x)), text.parse().ok(), "{text}");
        }
    }

    /// A decimal of `digits` digits from `next` (the first `zeros` of them 0), a point before
    /// digit `point` (none at 0 or past the end), signed `-` for `sign` 0 and `+` for 1.
    fn decimal(
        next: &mut impl FnMut() -> u64,
        sign: u64,
        digits: usize,
        point: usize,
        zeros: usize,
    ) -> String {
        let mut text = String::from(match sign {
            0 => "-",
            1 => "+",
            _ => "",
        });
        let mut d = next();
        for i in 0..digits {
            if i == point && i > 0 {
                text.push('.');
            }
            let digit = if i < zeros { 0 } else { (d % 10) as u8 };
            text.push(char::from(b'0' + digit));
            d /= 10;
            if d == 0 {
                d = next();
            }
        }
        text
    }

    /// A xorshift64 generator from `seed`: the same numbers on every run.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn exact_decimals_are_the_standard_librarys_bits() {
        let edges = [
            "0",
            "-0",
            "+0",
            "0.0",
            "-0.0",
            "1",
            "-1",
            "9007199254740991",
            "9007199254740992",
            "9007199254740993",
            "18014398509481984",
            "99999999999999999",
            "100000000000000000",
            "0.1",
            "0.2",
            "0.3",
            "2.675",
            "1.0000000000000002",
            "0.30000000000000004",
            "123456789012345.67",
            "4503599627370496.5",
            "0.0000000000000001",
            "007",
            "+5",
            "1.",
            ".5",
            "1e3",
            "-",
            "+",
            "",
            "1.2.3",
            "--1",
            "1-",
            "0x10",
            "١",
        ];
        for text in edges {
            if let Some(v) = exact_decimal(text.as_bytes()) {
                let std: f64 = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(v.to_bits(), std.to_bits(), "{text}");
            }
            // And through `parse_value`, which falls back to the standard library.
            let std = text.parse::<f64>().ok().filter(|v| !v.is_nan());
            assert_eq!(
                parse_value(text).map(f64::to_bits),
                std.map(f64::to_bits),
                "{text}"
            );
        }
        // Plain decimals below 2^53 take the fast path.
        for text in [
            "0",
            "-0",
            "42",
            "-12.5",
            "1642980867",
            "1642980867.123",
            "9007199254740991",
            // Past 2^53: integers by the conversion, fractions by Eisel-Lemire.
            "9007199254740992",
            "2000208333.3333333",
            "9999999999999999999",
            "0.000000000000000001",
        ] {
            assert!(exact_decimal(text.as_bytes()).is_some(), "{text}");
        }
        for text in [
            "1e3",
            "1.",
            ".5",
            "12345678901234567890",
            "1.0000000000000000000",
        ] {
            assert!(exact_decimal(text.as_bytes()).is_none(), "{text}");
        }
        // Generated decimals: every digit count to 20, point position and sign.
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200_000 {
            let r = next();
            let digits = 1 + (r % 20) as usize;
            let point = ((r >> 16) % (digits as u64 + 1)) as usize;
            let text = decimal(&mut next, (r >> 8) % 3, digits, point, 0);
            let std: f64 = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            if let Some(v) = exact_decimal(text.as_bytes()) {
                assert_eq!(v.to_bits(), std.to_bits(), "{text}");
            }
            assert_eq!(
                parse_value(&text).map(f64::to_bits),
                Some(std.to_bits()),
                "{text}"
            );
        }
    }

    /// `text`'s value by [`exact_decimal`] is the standard library's, and its 16-19 digits
    /// take that path; the same through [`parse_value`].
    fn long_decimal_is_exact(text: &str) {
        let std: f64 = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        let digits = text.bytes().filter(u8::is_ascii_digit).count();
        let fast = exact_decimal(text.as_bytes());
        if digits <= MAX_DIGITS {
            assert!(fast.is_some(), "{text}");
        }
        if let Some(v) = fast {
            assert_eq!(v.to_bits(), std.to_bits(), "{text}");
        }
        assert_eq!(
            parse_value(text).map(f64::to_bits),
            Some(std.to_bits()),
            "{text}"
        );
    }

    /// The digits of `w` with a point before the last `frac` of them (zeros in front as
    /// needed).
    fn with_point(w: u128, frac: usize) -> String {
        let digits = format!("{w:0>width$}", width = frac + 1);
        let (int, fraction) = digits.split_at(digits.len() - frac);
        if frac == 0 {
            int.to_string()
        } else {
            format!("{int}.{fraction}")
        }
    }

    #[test]
    fn long_decimals_past_2_pow_53_are_the_standard_librarys_bits() {
        // 16 to 19 significant digits, every point position, as real Prometheus values are
        // (`2000208333.3333333`): past 2^53 they go through Eisel-Lemire.
        let mut next = xorshift(0xd1b5_4a32_d192_ed03);
        let mut lemire = 0;
        for _ in 0..1_000_000 {
            let r = next();
            let digits = 16 + (r % 4) as usize;
            let point = ((r >> 8) % (digits as u64)) as usize;
            let text = decimal(&mut next, 2, digits, point, 0);
            let w: u64 = text.replace('.', "").parse().unwrap_or_default();
            lemire += usize::from(w >= 1 << 53 && text.contains('.'));
            long_decimal_is_exact(&text);
        }
        assert!(lemire > 700_000, "{lemire}");
        // Exactly halfway between two doubles and one unit of the last digit either side:
        // (2M + 1) * 2^e for a 53-bit M, written out exactly (e < 0: -e digits after the
        // point), ties to even.
        let mut next = xorshift(0x94d0_49bb_1331_11eb);
        for _ in 0..200_000 {
            let r = next();
            let m = (1u128 << 52) | u128::from(next() >> 12);
            let e = (r % 8) as u32;
            let half = 2 * m + 1;
            let (w, frac) = if e < 4 {
                (half << e, 0)
            } else {
                let k = e - 3;
                (half * 5u128.pow(k), k as usize)
            };
            for w in [w - 1, w, w + 1] {
                long_decimal_is_exact(&with_point(w, frac));
            }
        }
        // Near powers of ten, at every point position.
        for k in 15..=19u32 {
            let p = 10u128.pow(k);
            for w in [p - 1, p, p + 1, p - 5, p + 5, 2 * p - 1] {
                let digits = w.to_string().len();
                for frac in 0..digits {
                    long_decimal_is_exact(&with_point(w, frac));
                }
            }
        }
        for text in [
            "9007199254740993",
            "9007199254740995",
            "18446744073709551615",
            "9999999999999999.5",
            "4503599627370496.75",
            "2251799813685248.125",
            "1125899906842624.0625",
            "0.9999999999999999999",
            "1.000000000000000001",
            "123456789.0123456789",
            "-2000208333.3333333",
            "+2000208333.3333333",
        ] {
            long_decimal_is_exact(text);
        }
    }

    #[test]
    fn the_wide_digit_path_reads_what_the_narrow_one_reads() {
        // Generated numbers (every digit count to 20, point position, sign, leading zeros)
        // followed by what can follow a number in a document: where the one-word path answers,
        // it is the digit-at-a-time path's answer, bit for bit and length for length, and the
        // standard library's value of the number it read.
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let tails = [
            r#"","#,
            r#""],[1644206415,"798541666667"],[1644206430,"797083333333"]]}"#,
            r#"],"#,
            ".",
            ".5",
            "e5",
            "0",
            "x",
            "",
        ];
        let (mut answered, mut numbers) = (0, 0);
        for _ in 0..100_000 {
            let r = next();
            let digits = 1 + (r % 20) as usize;
            let point = ((r >> 16) % (digits as u64 + 2)) as usize;
            let zeros = if (r >> 24).is_multiple_of(4) { 3 } else { 0 };
            let mut text = decimal(&mut next, (r >> 8) % 4, digits, point, zeros);
            if point == digits + 1 {
                text.push('.');
            }
            let tail = tails[((r >> 32) % tails.len() as u64) as usize];
            let mut b = format!("{text}{tail}");
            // Padding past the sixteen bytes the wide path needs, or not.
            if !(r >> 40).is_multiple_of(3) {
                b.push_str(r#""],[1644206445,"1"]]}]}}"#);
            }
            for json in [false, true] {
                let narrow = narrow_prefix(b.as_bytes(), json).map(|(v, n)| (v.to_bits(), n));
                let Some(wide) = wide_prefix(b.as_bytes(), json) else {
                    continue;
                };
                answered += 1;
                let wide = wide.map(|(v, n)| (v.to_bits(), n));
                assert_eq!(wide, narrow, "{b} (json: {json})");
                if let Some((bits, n)) = wide {
                    numbers += 1;
                    let std: f64 = b[..n].parse().unwrap_or_else(|e| panic!("{b}: {e}"));
                    assert_eq!(bits, std.to_bits(), "{b}");
                }
            }
        }
        // Most of them are answered by the wide path, most of those with a number.
        assert!(
            answered > 100_000 && numbers > 50_000,
            "{answered} {numbers}"
        );
    }

    #[test]
    fn bad_responses_name_the_file_and_what_was_expected() {
        let e = decode("m/x.json", b"{\"status\":\"error\",\"error\":\"timeout\"}").err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("m/x.json:1: `status`: expected `success`, found `error` (timeout)")
        );
        let e = decode(
            "m/x.json",
            matrix("x", r#""a":"b""#, r#"[0,"oops"]"#).as_bytes(),
        )
        .err();
        assert!(e.is_some_and(|e| e.to_string().starts_with("m/x.json:1:")));
        assert!(decode("m/x.json", b"").is_err());
        assert!(
            decode(
                "m/x.json",
                br#"{"status":"success","data":{"resultType":"scalar","result":[]}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn selectors_match_labels() {
        let s =
            Selector::parse(r#"x{type=~"a|b", job!="pd", z=""}"#).unwrap_or_else(|e| panic!("{e}"));
        let labels = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(s.matches(&labels(&[("type", "a"), ("job", "tikv")])));
        assert!(!s.matches(&labels(&[("type", "ab")])));
        assert!(!s.matches(&labels(&[("type", "b"), ("job", "pd")])));
        assert!(Selector::parse("x{a=\"b\"").is_err());
        assert!(Selector::parse("{a=\"b\"}").is_err());
    }

    #[test]
    fn the_pd_leader_is_read_from_etcd_server_is_leader() {
        let series = |instance: &str, v: &[(f64, f64)]| Series {
            metric: Arc::from("etcd_server_is_leader"),
            labels: [("instance".to_string(), instance.to_string())].into(),
            samples: pts(v),
            files: Vec::new(),
        };
        let leader = PdLeader::from_series(&[
            series("pd-0", &[(0.0, 1.0), (15.0, 1.0), (30.0, 0.0)]),
            series("pd-1", &[(0.0, 0.0), (15.0, 0.0), (30.0, 1.0)]),
        ]);
        assert!(leader.led_at("pd-0", 15.0));
        assert!(!leader.led_at("pd-0", 30.0));
        assert!(!leader.led_at("pd-0", 200.0));
        assert!(leader.led_at("pd-1", 30.0));
        assert!(!leader.led_at("pd-1", 0.0));
        assert!(!leader.led_at("pd-2", 0.0));
    }
}
