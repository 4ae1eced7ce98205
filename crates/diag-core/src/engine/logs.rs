//! The log checker: every selected log rule in one pass per file.
//!
//! Files are scanned in parallel. Each file is read once, in chunks of whole lines; one
//! Aho-Corasick automaton over the literals of the rules that read that file finds the lines
//! worth parsing (a large file is searched for tails of them fitted to its first bytes, see
//! [`fitted`]), and only those are parsed and tested exactly (level, message, fields,
//! window). A match in a line without a header (stderr text, a panic, a start-script line)
//! takes the time of the nearest header before it in the same chunk, or none.
//!
//! Per rule and subject the checker keeps a count, the match times (for `within` spans) and the
//! five earliest matches; rows cite the earliest match in the window first. Merging follows the
//! bundle's file order, so rows are identical at any thread count.

use std::collections::BTreeMap;
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use rayon::prelude::*;

use super::finding::{Aggregate, Evidence, InstanceRef, Row, RowState, ValueRead};
use super::state::{States, Verdict};
use crate::model::log::{
    LineChunks, LogFileKind, LogTime, ReadNotes, classify, count_lines, decode_line, panic_start,
    parse_header,
};
use crate::model::{Cluster, DataFile, DataKind, SampleWindow};
use crate::rules::{LogRule, Rule, RuleBody, Subject as RuleSubject};

/// How much of a line evidence quotes.
const EXCERPT_CHARS: usize = 200;
/// How much of the message a row's text quotes.
const MESSAGE_CHARS: usize = 100;
/// How far back (in lines) a header-less match looks for the header that dates it.
const DATING_LINES: usize = 256;

/// One file to scan and whose rows its matches count for.
struct Job<'a> {
    file: &'a DataFile,
    kind: LogFileKind,
    instance: Option<usize>,
    host: String,
    /// Indices into the rule list of the rules that read this file.
    rules: Arc<Vec<usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Subject {
    Cluster,
    Instance(usize),
    Host(String),
}

#[derive(Debug, Clone)]
struct Hit {
    /// (time or i64::MAX when undated, job, line): the order evidence is cited in.
    key: (i64, usize, u64),
    evidence: Evidence,
    /// The entry's message, cut: what the report row says.
    message: String,
}

#[derive(Debug, Clone, Default)]
struct Tally {
    count: u64,
    undated: u64,
    outside: u64,
    times: Vec<i64>,
    first: Option<LogTime>,
    last: Option<LogTime>,
    earliest: Vec<Hit>,
}

impl Tally {
    fn add(&mut self, hit: Hit, time: Option<LogTime>, outside: bool) {
        self.count += 1;
        match time {
            Some(t) => {
                self.times.push(t.unix_ms);
                if self.first.is_none_or(|f| t < f) {
                    self.first = Some(t);
                }
                if self.last.is_none_or(|l| t > l) {
                    self.last = Some(t);
                }
            }
            None => self.undated += 1,
        }
        if outside {
            self.outside += 1;
        }
        self.keep(hit);
    }

    fn keep(&mut self, hit: Hit) {
        let at = self.earliest.partition_point(|h| h.key < hit.key);
        if at < Aggregate::MAX_EXAMPLES {
            self.earliest.insert(at, hit);
            self.earliest.truncate(Aggregate::MAX_EXAMPLES);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.count += other.count;
        self.undated += other.undated;
        self.outside += other.outside;
        self.times.extend(other.times);
        if let Some(f) = other.first
            && self.first.is_none_or(|s| f < s)
        {
            self.first = Some(f);
        }
        if let Some(l) = other.last
            && self.last.is_none_or(|s| l > s)
        {
            self.last = Some(l);
        }
        for h in other.earliest {
            self.keep(h);
        }
    }
}

/// The prefilter of one set of rules: literals → the rules they stand for. `scan` is
/// leftmost-first, which lets the crate use its SIMD (Teddy) searcher over whole chunks; `all`
/// reports overlapping matches, to find every candidate rule of a line that matched. A large
/// file is searched for windows of the needles fitted to its first bytes ([`fitted`]) instead
/// of `scan`; `all` still decides which lines hold a needle.
struct Prefilter {
    scan: AhoCorasick,
    all: AhoCorasick,
    rules_of: Vec<Vec<usize>>,
    needles: Vec<String>,
}

impl Prefilter {
    fn new(rules: &[&LogRule], ids: &[usize]) -> Option<Prefilter> {
        let mut literals: Vec<&str> = ids
            .iter()
            .flat_map(|&id| rules[id].literals.iter().map(String::as_str))
            .collect();
        literals.sort_unstable();
        literals.dedup();
        let needles = needles(&literals);
        // A needle stands for every rule with a literal containing it.
        let rules_of: Vec<Vec<usize>> = needles
            .iter()
            .map(|n| {
                let mut of: Vec<usize> = ids
                    .iter()
                    .copied()
                    .filter(|&id| rules[id].literals.iter().any(|l| l.contains(n.as_str())))
                    .collect();
                of.dedup();
                of
            })
            .collect();
        let scan = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(&needles)
            .ok()?;
        let all = AhoCorasick::new(&needles).ok()?;
        Some(Prefilter {
            scan,
            all,
            rules_of,
            needles,
        })
    }

    /// The chunk search for a file of `size` bytes whose first chunk is `first`.
    fn search_for(&self, size: u64, first: &[u8]) -> Search<'_> {
        // The first chunk may be short (the reader's own buffer ends there), but not this short.
        if size < FITTED_FILE_BYTES || first.len() < SAMPLE_BYTES / 4 {
            return Search::Shared(&self.scan);
        }
        match fitted(&self.needles, &first[..first.len().min(SAMPLE_BYTES)]) {
            Some(s) => Search::Fitted(s),
            None => Search::Shared(&self.scan),
        }
    }
}

/// Files this large are searched for needle windows fitted to their first bytes (below it,
/// fitting would cost about what it saves).
const FITTED_FILE_BYTES: u64 = 1 << 20;
/// How much of a file's first chunk the fitting counts 4-byte sequences in (at most).
const SAMPLE_BYTES: usize = 64 << 10;
/// The shortest tail of a needle a fitted search looks for (the whole needle if shorter).
const FITTED_MIN_BYTES: usize = 8;

/// How one file's chunks are searched for lines worth testing.
enum Search<'a> {
    Shared(&'a AhoCorasick),
    Fitted(aho_corasick::packed::Searcher),
}

impl Search<'_> {
    fn find(&self, haystack: &[u8]) -> Option<aho_corasick::Match> {
        match self {
            Search::Shared(ac) => ac.find(haystack),
            Search::Fitted(s) => s.find(haystack),
        }
    }
}

/// A searcher for tails of `needles`, each starting at the 4 bytes that occur least in
/// `sample` (ties: the fewest lowercase letters, digits and spaces, then the earliest).
///
/// The SIMD searcher (Teddy) tells candidate positions by a needle's first 4 bytes, spread over
/// 8 or 16 buckets; a needle starting with a common word (`failed to …`, `store is …`,
/// `connect: …`) makes it stop and compare at every occurrence of that word, and needles
/// sharing a bucket match each other's byte mixes too. Starting each needle where this file's
/// own bytes are rare keeps those stops few. A line holding a needle holds each of its tails,
/// so no line is missed; which rules a line is a candidate for is still decided by the whole
/// needles, so lines that hold only a tail are passed over. The wide form (16 buckets, fewer
/// needles per bucket) is used where the CPU has it.
fn fitted(needles: &[String], sample: &[u8]) -> Option<aho_corasick::packed::Searcher> {
    const BITS: u32 = 14;
    let hash = |w: &[u8]| {
        let x = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        (x.wrapping_mul(0x9E37_79B1) >> (32 - BITS)) as usize
    };
    let mut counts = vec![0u16; 1 << BITS];
    for w in sample.windows(4) {
        let c = &mut counts[hash(w)];
        *c = c.saturating_add(1);
    }
    let common = |w: &[u8]| {
        w.iter()
            .filter(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || **b == b' ')
            .count()
    };
    let mut tails: Vec<&str> = needles
        .iter()
        .map(|n| {
            let b = n.as_bytes();
            let keep = FITTED_MIN_BYTES.min(b.len());
            if b.len() < 4 {
                return n.as_str();
            }
            let mut best: Option<(u16, usize, usize)> = None;
            for k in (0..=b.len() - keep).filter(|&k| n.is_char_boundary(k)) {
                let w = &b[k..k + 4];
                let score = (counts[hash(w)], common(w), k);
                if best.is_none_or(|b| score < b) {
                    best = Some(score);
                }
            }
            best.map_or(n.as_str(), |(_, _, k)| &n[k..])
        })
        .collect();
    tails.sort_unstable();
    tails.dedup();
    let build = |fat: Option<bool>| {
        let mut config = aho_corasick::packed::Config::new();
        config
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .only_teddy(true)
            .only_teddy_fat(fat);
        let mut builder = config.builder();
        builder.extend(&tails);
        builder.build()
    };
    build(Some(true)).or_else(|| build(None))
}

/// Literals shared by needles this long or longer are searched as one needle.
const SHARED_NEEDLE_BYTES: usize = 12;

/// The needles the prefilter searches for `literals` (sorted, distinct): every line holding a
/// literal holds one of them. A literal containing another is left to the shorter one, and two
/// literals sharing at least [`SHARED_NEEDLE_BYTES`] (`No space left on device` and `no space
/// left on device`) are searched by what they share. Fewer needles let the SIMD searcher use
/// its narrow form (at most 32 needles), which scans markedly faster than its wide one; a
/// needle this long still picks out the same few lines, which are matched exactly anyway.
fn needles(literals: &[&str]) -> Vec<String> {
    let mut set: Vec<String> = literals.iter().map(|l| (*l).to_string()).collect();
    loop {
        set.sort_unstable();
        set.dedup();
        let snapshot = set.clone();
        set.retain(|l| !snapshot.iter().any(|o| o != l && l.contains(o.as_str())));
        let mut best: Option<(usize, usize, &str)> = None;
        for i in 0..set.len() {
            for j in i + 1..set.len() {
                let shared = longest_common(&set[i], &set[j]);
                if shared.len() >= SHARED_NEEDLE_BYTES
                    && best.is_none_or(|(_, _, b)| shared.len() > b.len())
                {
                    best = Some((i, j, shared));
                }
            }
        }
        let Some((i, j, shared)) = best else {
            return set;
        };
        let shared = shared.to_string();
        set.remove(j);
        set.remove(i);
        set.push(shared);
    }
}

/// The longest common substring of `a` and `b` (the first in `a` of that length), cut at
/// character boundaries.
fn longest_common<'a>(a: &'a str, b: &str) -> &'a str {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let mut prev = vec![0usize; y.len() + 1];
    let mut cur = vec![0usize; y.len() + 1];
    let (mut len, mut end) = (0, 0);
    for i in 1..=x.len() {
        for j in 1..=y.len() {
            cur[j] = if x[i - 1] == y[j - 1] {
                prev[j - 1] + 1
            } else {
                0
            };
            if cur[j] > len {
                len = cur[j];
                end = i;
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let mut start = end - len;
    let mut stop = end;
    while !a.is_char_boundary(start) && start < stop {
        start += 1;
    }
    while !a.is_char_boundary(stop) && stop > start {
        stop -= 1;
    }
    &a[start..stop]
}

/// What scanning one file produced.
struct FileTally {
    tallies: Vec<(usize, Subject, Tally)>,
    notes: ReadNotes,
    error: Option<String>,
}

/// The key of a rule in [`check_logs`]'s result: its address, unique for one check.
pub(crate) fn rule_key(rule: &Rule) -> usize {
    rule as *const Rule as usize
}

/// Rows of every selected log rule, keyed by [`rule_key`].
pub(crate) fn check_logs(cluster: &Cluster, selected: &[&Rule]) -> BTreeMap<usize, Vec<Row>> {
    let mut log_rules: Vec<(&Rule, &LogRule)> = Vec::new();
    for rule in selected {
        if let RuleBody::Log(l) = &rule.body {
            log_rules.push((rule, l));
        }
    }
    if log_rules.is_empty() {
        return BTreeMap::new();
    }
    let compiled: Vec<&LogRule> = log_rules.iter().map(|(_, l)| *l).collect();
    let window = cluster.sample.window();
    let jobs = jobs(cluster, &compiled);
    // One prefilter per distinct rule set, built before the parallel scan.
    let mut prefilters: BTreeMap<Arc<Vec<usize>>, Option<Prefilter>> = BTreeMap::new();
    for job in &jobs {
        prefilters
            .entry(job.rules.clone())
            .or_insert_with(|| Prefilter::new(&compiled, &job.rules));
    }
    let scanned: Vec<FileTally> = jobs
        .par_iter()
        .enumerate()
        .map(|(n, job)| match &prefilters[&job.rules] {
            Some(p) => scan(n, job, p, &compiled, &window),
            None => FileTally {
                tallies: Vec::new(),
                notes: ReadNotes::default(),
                error: Some("the rules' literals did not build a prefilter".into()),
            },
        })
        .collect();
    let mut merged: BTreeMap<(usize, Subject), Tally> = BTreeMap::new();
    let mut problems: BTreeMap<(usize, Subject), Vec<String>> = BTreeMap::new();
    for (job, result) in jobs.iter().zip(scanned) {
        for (rule, subject, tally) in result.tallies {
            merged.entry((rule, subject)).or_default().merge(tally);
        }
        let mut notes: Vec<String> = result
            .notes
            .describe()
            .into_iter()
            .map(|n| format!("{}: {n}", job.file.path))
            .collect();
        if let Some(e) = result.error {
            notes.push(format!("{}: {e}", job.file.path));
        }
        if !notes.is_empty() {
            for &r in job.rules.iter() {
                problems
                    .entry((r, subject_of(compiled[r], job)))
                    .or_default()
                    .extend(notes.iter().cloned());
            }
        }
    }
    let states = States::new(cluster);
    let mut out = BTreeMap::new();
    for (id, (rule, log)) in log_rules.iter().enumerate() {
        let rows = rows_of(
            cluster,
            &states,
            rule,
            log,
            id,
            &jobs,
            &mut merged,
            &problems,
        );
        out.insert(rule_key(rule), rows);
    }
    out
}

/// Every log file of the bundle with the rules that read it, in bundle order: instances'
/// files first (instance order, path order), then each host's `dmesg.log`.
fn jobs<'a>(cluster: &'a Cluster, rules: &[&LogRule]) -> Vec<Job<'a>> {
    let mut sets: BTreeMap<Vec<usize>, Arc<Vec<usize>>> = BTreeMap::new();
    let mut intern = |ids: Vec<usize>| {
        sets.entry(ids.clone())
            .or_insert_with(|| Arc::new(ids))
            .clone()
    };
    let mut jobs = Vec::new();
    for (i, inst) in cluster.instances.iter().enumerate() {
        for file in &inst.files {
            if !matches!(file.kind, DataKind::Log(_)) {
                continue;
            }
            let kind = classify(&file.path).kind;
            let ids: Vec<usize> = (0..rules.len())
                .filter(|&r| {
                    rules[r].files.contains(&kind) && rules[r].components.contains(&inst.component)
                })
                .collect();
            if !ids.is_empty() {
                jobs.push(Job {
                    file,
                    kind,
                    instance: Some(i),
                    host: inst.host.clone(),
                    rules: intern(ids),
                });
            }
        }
    }
    for (host, files) in &cluster.hosts {
        for file in files.iter().filter(|f| f.kind == DataKind::Dmesg) {
            let ids: Vec<usize> = (0..rules.len())
                .filter(|&r| rules[r].files.contains(&LogFileKind::Dmesg))
                .collect();
            if !ids.is_empty() {
                jobs.push(Job {
                    file,
                    kind: LogFileKind::Dmesg,
                    instance: None,
                    host: host.clone(),
                    rules: intern(ids),
                });
            }
        }
    }
    jobs
}

fn subject_of(rule: &LogRule, job: &Job) -> Subject {
    match rule.subject {
        RuleSubject::Cluster => Subject::Cluster,
        RuleSubject::Host => Subject::Host(job.host.clone()),
        RuleSubject::Instance | RuleSubject::Component => match job.instance {
            Some(i) => Subject::Instance(i),
            None => Subject::Host(job.host.clone()),
        },
    }
}

fn excerpt(text: &str) -> String {
    excerpt_of(text, EXCERPT_CHARS)
}

/// `text` cut at `chars` characters (with `…`), newlines shown as `\n`.
fn excerpt_of(text: &str, chars: usize) -> String {
    let text = text.replace('\n', "\\n");
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The time of the nearest header line before `line_start` in `data`, looking back a bounded
/// number of lines.
fn dating_header(data: &[u8], line_start: usize, dmesg: bool) -> Option<LogTime> {
    let mut end = line_start.checked_sub(1)?;
    for _ in 0..DATING_LINES {
        let start = memchr::memrchr(b'\n', &data[..end])
            .map(|p| p + 1)
            .unwrap_or(0);
        let raw = &data[start..end];
        if raw
            .first()
            .is_some_and(|b| *b == b'[' || *b == b'{' || b.is_ascii_digit())
            && let Ok(text) = std::str::from_utf8(raw)
            && let Some((_, h)) = parse_header(text.trim_end_matches('\r'), dmesg)
        {
            return h.time;
        }
        end = start.checked_sub(1)?;
    }
    None
}

fn scan(
    n: usize,
    job: &Job,
    prefilter: &Prefilter,
    rules: &[&LogRule],
    window: &SampleWindow,
) -> FileTally {
    let mut tallies: BTreeMap<(usize, Subject), Tally> = BTreeMap::new();
    let mut notes = ReadNotes::default();
    let reader = match job.file.reader() {
        Ok(r) => r,
        Err(e) => {
            let e = e.to_string();
            return FileTally {
                tallies: Vec::new(),
                notes,
                error: Some(crate::model::data::without_file(&job.file.path, &e).to_string()),
            };
        }
    };
    let dmesg = job.kind == LogFileKind::Dmesg;
    // The scan counts no newlines: hits and notes keep byte offsets, and the few that are
    // kept get their line numbers from a second, counting read (only of files that matched).
    let mut chunks = LineChunks::new(reader).without_line_numbers();
    let mut error = None;
    let mut candidates: Vec<usize> = Vec::new();
    // Lines with NUL bytes, counted over the whole file (not only the lines a rule looked at),
    // so a binary file is noted even when nothing in it matched.
    let mut nul_lines = (0u64, 0u64);
    let mut search: Option<Search> = None;
    loop {
        let chunk = match chunks.next_chunk() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                let e = e.to_string();
                let e = crate::model::data::without_file(&job.file.path, &e);
                error = Some(format!("read failed: {e}"));
                break;
            }
        };
        let data = chunk.data;
        let search = search.get_or_insert_with(|| prefilter.search_for(job.file.size, data));
        let mut from = 0;
        while let Some(p) = memchr::memchr(0, &data[from..]) {
            let p = from + p;
            if nul_lines.0 == 0 {
                // An offset, as every position of the scan (turned into a line below).
                nul_lines.1 = chunk.offset + p as u64;
            }
            nul_lines.0 += 1;
            from = memchr::memchr(b'\n', &data[p..]).map_or(data.len(), |q| p + q);
        }
        let mut pos = 0;
        while pos < data.len() {
            let Some(m) = search.find(&data[pos..]) else {
                break;
            };
            let at = pos + m.start();
            let start = memchr::memrchr(b'\n', &data[pos..at])
                .map(|p| pos + p + 1)
                .unwrap_or(pos);
            let end = memchr::memchr(b'\n', &data[at..])
                .map(|p| at + p)
                .unwrap_or(data.len());
            let offset = chunk.offset + start as u64;
            let raw = &data[start..end];
            candidates.clear();
            for m in prefilter.all.find_overlapping_iter(raw) {
                candidates.extend(&prefilter.rules_of[m.pattern().as_usize()]);
            }
            candidates.sort_unstable();
            candidates.dedup();
            if candidates.is_empty() {
                // A fitted search's tail without its whole needle: no rule's literal is here.
                pos = end + 1;
                continue;
            }
            // Notes of odd bytes record the line's offset, turned into its number below.
            let text = decode_line(raw.strip_suffix(b"\r").unwrap_or(raw), offset, &mut notes);
            let (time, level, message, fields) = match parse_header(&text, dmesg) {
                Some((_, h)) => (h.time, h.level, h.message, h.fields),
                None => {
                    let panic = panic_start(&text).is_some();
                    let time = if panic {
                        None
                    } else {
                        dating_header(data, start, dmesg)
                    };
                    (time, None, text.clone(), Vec::new())
                }
            };
            for &r in &candidates {
                let rule = rules[r];
                if !rule.matches(level, &message, &fields) {
                    continue;
                }
                let outside = time.is_some_and(|t| !window.contains(t));
                if outside && !rule.any_age {
                    continue;
                }
                let mut evidence =
                    Evidence::at(job.file.path.as_str(), 0).with_excerpt(excerpt(&text));
                if let Some(t) = time {
                    evidence = evidence.with_time(t.to_string());
                }
                // Offsets order hits within a file as line numbers would.
                let hit = Hit {
                    key: (time.map(|t| t.unix_ms).unwrap_or(i64::MAX), n, offset),
                    evidence,
                    message: excerpt_of(&message, MESSAGE_CHARS),
                };
                tallies
                    .entry((r, subject_of(rule, job)))
                    .or_default()
                    .add(hit, time, outside);
            }
            pos = end + 1;
        }
    }
    let chunk_notes = chunks.notes;
    notes.cut_lines = chunk_notes.cut_lines;
    notes.nul_lines = nul_lines;
    notes.unterminated_last_line = None;
    // Offsets → line numbers: of the kept hits and of the first line of each note.
    let mut wanted: Vec<u64> = tallies
        .values()
        .flat_map(|t| t.earliest.iter().map(|h| h.key.2))
        .collect();
    for slot in [
        &notes.cut_lines,
        &notes.nul_lines,
        &notes.invalid_utf8_lines,
    ] {
        if slot.0 > 0 {
            wanted.push(slot.1);
        }
    }
    if !wanted.is_empty() {
        match line_numbers(job.file, wanted) {
            Ok(lines) => {
                let line_of = |offset: u64| lines.get(&offset).copied().unwrap_or(0);
                for tally in tallies.values_mut() {
                    for hit in &mut tally.earliest {
                        hit.evidence.line = line_of(hit.key.2).min(u32::MAX as u64) as u32;
                    }
                }
                for slot in [
                    &mut notes.cut_lines,
                    &mut notes.nul_lines,
                    &mut notes.invalid_utf8_lines,
                ] {
                    if slot.0 > 0 {
                        slot.1 = line_of(slot.1);
                    }
                }
            }
            Err(e) => {
                error.get_or_insert(format!("reading again for line numbers: {e}"));
            }
        }
    }
    FileTally {
        tallies: tallies.into_iter().map(|((r, s), t)| (r, s, t)).collect(),
        notes,
        error,
    }
}

/// The 1-based line number at each byte offset of `file` (offsets of line starts, as a scan
/// without line numbers gives them), reading the file again only as far as the last one.
fn line_numbers(file: &DataFile, mut offsets: Vec<u64>) -> Result<BTreeMap<u64, u64>, String> {
    offsets.sort_unstable();
    offsets.dedup();
    let mut out = BTreeMap::new();
    let mut chunks = LineChunks::new(file.reader().map_err(|e| e.to_string())?);
    let mut next = offsets.iter().copied().peekable();
    while next.peek().is_some() {
        let Some(chunk) = chunks.next_chunk().map_err(|e| e.to_string())? else {
            break;
        };
        let end = chunk.offset + chunk.data.len() as u64;
        while let Some(&target) = next.peek() {
            if target >= end {
                break;
            }
            let within = target.saturating_sub(chunk.offset) as usize;
            out.insert(
                target,
                chunk.first_line + count_lines(&chunk.data[..within]),
            );
            next.next();
        }
    }
    Ok(out)
}

fn instance_ref(cluster: &Cluster, index: usize) -> Option<InstanceRef> {
    cluster.instances.get(index).map(|i| InstanceRef {
        component: i.component,
        host: i.host.clone(),
        port: i.port,
        index,
    })
}

#[allow(clippy::too_many_arguments)]
fn rows_of(
    cluster: &Cluster,
    states: &States<'_>,
    rule: &Rule,
    log: &LogRule,
    id: usize,
    jobs: &[Job],
    merged: &mut BTreeMap<(usize, Subject), Tally>,
    problems: &BTreeMap<(usize, Subject), Vec<String>>,
) -> Vec<Row> {
    // The subjects a rule has rows for: every instance of its components (nodata without
    // logs), every host with a dmesg.log, or the cluster.
    let mut subjects: Vec<(Subject, String, Vec<InstanceRef>, bool)> = Vec::new();
    let has_files = |s: &Subject| {
        jobs.iter().any(|j| {
            j.rules.contains(&id)
                && match s {
                    Subject::Cluster => true,
                    Subject::Instance(i) => j.instance == Some(*i),
                    Subject::Host(h) => j.host == *h,
                }
        })
    };
    match log.subject {
        RuleSubject::Instance | RuleSubject::Component => {
            for (i, inst) in cluster.instances.iter().enumerate() {
                if log.components.contains(&inst.component) {
                    let s = Subject::Instance(i);
                    let present = has_files(&s);
                    subjects.push((
                        s,
                        inst.tag(),
                        instance_ref(cluster, i).into_iter().collect(),
                        present,
                    ));
                }
            }
        }
        RuleSubject::Host => {
            // Addresses in numeric order (…7.86 before …7.129), as the system rules list hosts.
            let mut hosts: Vec<&String> = cluster.hosts.keys().collect();
            hosts.sort_by_key(|h| (h.parse::<std::net::IpAddr>().ok(), h.as_str()));
            for host in hosts {
                let s = Subject::Host(host.clone());
                if has_files(&s) {
                    subjects.push((s, format!("Host_{host}"), Vec::new(), true));
                }
            }
            if subjects.is_empty() {
                subjects.push((Subject::Cluster, "cluster".into(), Vec::new(), false));
            }
        }
        RuleSubject::Cluster => {
            let present = has_files(&Subject::Cluster);
            subjects.push((Subject::Cluster, "cluster".into(), Vec::new(), present));
        }
    }
    let kinds: Vec<&str> = log.files.iter().map(|k| k.as_str()).collect();
    let variation: Arc<str> = Arc::from(rule.meta.variation.as_str());
    subjects
        .into_iter()
        .map(|(subject, tag, instances, present)| {
            let problems = problems.get(&(id, subject.clone()));
            let instance = match subject {
                Subject::Instance(i) => Some(i),
                _ => None,
            };
            let tally = merged.remove(&(id, subject)).unwrap_or_default();
            if !present {
                let mut row = Row::new(
                    tag,
                    instances,
                    vec![ValueRead {
                        variation: variation.clone(),
                        value: None,
                        evidence: None,
                    }],
                    RowState::NoData,
                    Some(format!("no {} log collected", kinds.join("/"))),
                );
                row.aggregate = None;
                return row;
            }
            let mut times = tally.times.clone();
            times.sort_unstable();
            let mut state = if log.reached(tally.count, &times) {
                RowState::Abnormal(rule.meta.severity)
            } else {
                RowState::Ok
            };
            let mut notes = Vec::new();
            // A log signal AND a state: judged only when the signal was reached.
            let mut state_evidence = Vec::new();
            if matches!(state, RowState::Abnormal(_)) && !log.requires.is_empty() {
                match states.judge(&log.requires, instance) {
                    Verdict::Holds { said, evidence } => {
                        notes.push(format!("with {said}"));
                        state_evidence = evidence;
                    }
                    Verdict::Fails(said) => {
                        state = RowState::Ok;
                        notes.push(format!("not raised: {said}"));
                    }
                    Verdict::Unknown(why) => {
                        state = RowState::NoData;
                        notes.push(format!("the required state is unknown: {why}"));
                    }
                    Verdict::Failed(why) => {
                        state = RowState::Error;
                        notes.push(format!("the required state: {why}"));
                    }
                }
            }
            if tally.undated > 0 {
                notes.push(format!("{} undated", tally.undated));
            }
            if tally.outside > 0 {
                notes.push(format!(
                    "{} before or after the sample window",
                    tally.outside
                ));
            }
            if let Some(p) = problems {
                notes.extend(p.iter().cloned());
            }
            let evidence: Vec<Evidence> =
                tally.earliest.iter().map(|h| h.evidence.clone()).collect();
            // `3 × <first message> (notes)`: what the Log Summary prints for the row.
            let notes = (!notes.is_empty()).then(|| notes.join("; "));
            let message = match (tally.earliest.first(), notes) {
                (Some(first), Some(n)) => {
                    Some(format!("{} × {} ({n})", tally.count, first.message))
                }
                (Some(first), None) => Some(format!("{} × {}", tally.count, first.message)),
                (None, notes) => notes,
            };
            let mut row = Row::new(
                tag,
                instances,
                vec![ValueRead {
                    variation: variation.clone(),
                    value: Some(tally.count.to_string().into()),
                    evidence: evidence.first().cloned(),
                }],
                state,
                message,
            );
            if tally.count > 0 {
                let mut aggregate = Aggregate::new();
                aggregate.count = tally.count;
                aggregate.first = tally.first.map(|t| t.to_string());
                aggregate.last = tally.last.map(|t| t.to_string());
                aggregate.examples = evidence.clone();
                row.aggregate = Some(Box::new(aggregate));
            }
            row.evidence = evidence;
            row.evidence.extend(state_evidence);
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_cover_every_literal_and_share_long_parts() {
        let literals = [
            "No space left on device",
            "Welcome to TiDB.",
            "Welcome to TiKV",
            "[FATAL]",
            "duplicated store address",
            "duplicated store peer address",
            "no space left on device",
            "store is tombstone",
            "tombstone",
        ];
        let needles = needles(&literals);
        assert_eq!(
            needles,
            [
                "Welcome to Ti",
                "[FATAL]",
                "duplicated store ",
                "o space left on device",
                "tombstone"
            ]
        );
        for l in literals {
            assert!(needles.iter().any(|n| l.contains(n.as_str())), "{l}");
        }
    }

    /// Line starts of `text` holding a needle, found by `find` and confirmed by `all` as the
    /// scan does.
    fn lines_found(
        text: &[u8],
        find: impl Fn(&[u8]) -> Option<aho_corasick::Match>,
        all: &AhoCorasick,
    ) -> Vec<usize> {
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some(m) = find(&text[pos..]) {
            let at = pos + m.start();
            let start = memchr::memrchr(b'\n', &text[pos..at]).map_or(pos, |p| pos + p + 1);
            let end = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |p| at + p);
            if all.find(&text[start..end]).is_some() {
                out.push(start);
            }
            pos = end + 1;
            if pos >= text.len() {
                break;
            }
        }
        out
    }

    #[test]
    fn a_fitted_search_finds_the_lines_the_whole_needles_find() {
        let rules = crate::rules::RuleSet::builtin();
        let mut literals: Vec<&str> = rules
            .rules()
            .iter()
            .flat_map(|r| r.log_literals(crate::model::ComponentKind::Tikv, LogFileKind::Main))
            .collect();
        literals.sort_unstable();
        literals.dedup();
        assert!(literals.len() > 30, "{}", literals.len());
        let needles = needles(&literals);
        let all = AhoCorasick::new(&needles).unwrap_or_else(|e| panic!("{e}"));
        let scan = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(&needles)
            .unwrap_or_else(|e| panic!("{e}"));
        // Ordinary lines full of the needles' common words, then every literal planted, then
        // lines holding only the tail of a needle (`…ore is tombstone` without `st`).
        let ordinary = [
            "[INFO] [store.rs:1] [\"store is up\"] [store_id=4] [failed=0]",
            "[WARN] [client.rs:2] [\"failed to send\"] [err=\"connection reset\"]",
            "[INFO] [server.go:3] [\"new connection\"] [conn=7] [remoteAddr=10.0.1.7:5234]",
            "[INFO] [peer.rs:4] [\"maybe later\"] [duplicated=false] [mismatch=none]",
        ];
        let mut text = String::new();
        for i in 0..4000 {
            text.push_str(&format!(
                "[2022/02/07 12:00:{:02}.000 +08:00] {}\n",
                i % 60,
                ordinary[i % ordinary.len()]
            ));
        }
        for (i, l) in literals.iter().enumerate() {
            text.push_str(&format!(
                "[2022/02/07 12:01:00.000 +08:00] [WARN] [x.rs:{i}] [\"{l}\"]\n"
            ));
            text.push_str(&format!("{}\n", ordinary[i % ordinary.len()]));
            let tail = &l[l.len() / 2..];
            text.push_str(&format!("tail only: {tail}\n"));
        }
        let text = text.as_bytes();
        let fitted = fitted(&needles, &text[..SAMPLE_BYTES]).unwrap_or_else(|| panic!("no Teddy"));
        let by_fitted = lines_found(text, |h| fitted.find(h), &all);
        let by_scan = lines_found(text, |h| scan.find(h), &all);
        assert_eq!(by_fitted, by_scan);
        assert_eq!(by_scan.len(), literals.len());
    }

    #[test]
    fn longest_common_keeps_characters_whole() {
        assert_eq!(longest_common("a×bcdef", "z×bcdeq"), "×bcde");
        assert_eq!(longest_common("abc", "xyz"), "");
    }
}
