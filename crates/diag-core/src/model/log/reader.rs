//! Streaming: bytes → chunks of whole lines (an over-long line cut at [`MAX_LINE_BYTES`]) →
//! entries. Memory per file is the read buffer plus one entry, whatever the file's size.

use std::io::{self, Read};

use super::line::{Header, header_panic, panic_start, parse_header};
use super::{Level, LineFormat, LogEntry};

/// The longest line kept; the rest of a longer line is skipped (and noted). Real unified lines
/// with a full SQL text or a `loaded config` JSON stay well below it.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Continuation lines kept per entry (the rest are only counted).
pub const MAX_KEPT_LINES: usize = 50;

const READ_BYTES: usize = 256 << 10;

/// Something odd about a file's bytes, noted while reading on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadNotes {
    /// Lines cut at [`MAX_LINE_BYTES`]: how many, and the first one's number.
    pub cut_lines: (u64, u64),
    /// Lines with NUL bytes (binary junk): how many, and the first one's number.
    pub nul_lines: (u64, u64),
    /// Lines that are not valid UTF-8 (decoded with U+FFFD): how many, and the first.
    pub invalid_utf8_lines: (u64, u64),
    /// The last line had no newline (a file cut off while being written, or truncated).
    pub unterminated_last_line: Option<u64>,
}

impl ReadNotes {
    fn bump(slot: &mut (u64, u64), line: u64) {
        if slot.0 == 0 {
            slot.1 = line;
        }
        slot.0 += 1;
    }

    /// One sentence per kind of oddity, for warnings: `line 7: cut at 1048576 bytes (1 line)`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let plural = |n: u64| if n == 1 { "line" } else { "lines" };
        if self.cut_lines.0 > 0 {
            out.push(format!(
                "line {}: longer than {MAX_LINE_BYTES} bytes, cut there ({} {} cut)",
                self.cut_lines.1,
                self.cut_lines.0,
                plural(self.cut_lines.0)
            ));
        }
        if self.nul_lines.0 > 0 {
            out.push(format!(
                "line {}: NUL bytes (binary data; {} {})",
                self.nul_lines.1,
                self.nul_lines.0,
                plural(self.nul_lines.0)
            ));
        }
        if self.invalid_utf8_lines.0 > 0 {
            out.push(format!(
                "line {}: not valid UTF-8, read with U+FFFD ({} {})",
                self.invalid_utf8_lines.1,
                self.invalid_utf8_lines.0,
                plural(self.invalid_utf8_lines.0)
            ));
        }
        if let Some(line) = self.unterminated_last_line {
            out.push(format!(
                "line {line}: the last line has no newline (file cut off?)"
            ));
        }
        out
    }
}

/// A run of whole lines from a [`LineChunks`] reader.
#[derive(Debug)]
pub struct Chunk<'a> {
    /// The bytes: whole lines, each ending in `\n`, except a cut or unterminated last line.
    pub data: &'a [u8],
    /// 1-based number of the first line in `data` (0 from a reader made
    /// [`LineChunks::without_line_numbers`]).
    pub first_line: u64,
    /// Byte offset in the file of `data`'s first byte (skipped parts of cut lines counted).
    pub offset: u64,
}

/// Reads any [`Read`] as chunks of whole lines with a bounded buffer. A line longer than
/// [`MAX_LINE_BYTES`] is delivered cut at that length (as a chunk of its own) and the rest of it
/// skipped; a last line without a newline is delivered and noted.
pub struct LineChunks<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    next_line: u64,
    eof: bool,
    skipping: bool,
    /// Whether chunks carry line numbers (counting every newline).
    counting: bool,
    /// File offset of `buf[start]`.
    next_offset: u64,
    /// What was odd so far (cut lines, unterminated last line). NUL and UTF-8 notes are the
    /// [`EntryReader`]'s, which looks at every line.
    pub notes: ReadNotes,
}

impl<R: Read> LineChunks<R> {
    /// A reader over `inner`.
    pub fn new(inner: R) -> LineChunks<R> {
        LineChunks {
            inner,
            buf: vec![0; READ_BYTES],
            start: 0,
            end: 0,
            next_line: 1,
            eof: false,
            skipping: false,
            counting: true,
            next_offset: 0,
            notes: ReadNotes::default(),
        }
    }

    /// The same reader without line numbers: no pass over every newline. Chunks still give
    /// their byte offset, and the first cut line is noted by its offset instead of its number;
    /// a second, counting reader turns offsets into lines where needed.
    pub fn without_line_numbers(mut self) -> LineChunks<R> {
        self.counting = false;
        self
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let grown = (self.buf.len() * 2).min(MAX_LINE_BYTES + READ_BYTES);
                self.buf.resize(grown, 0);
            }
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next chunk, or `None` at the end.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk<'_>>> {
        loop {
            if self.skipping {
                match memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                    Some(p) => {
                        self.start += p + 1;
                        self.next_offset += p as u64 + 1;
                        self.skipping = false;
                    }
                    None => {
                        self.next_offset += (self.end - self.start) as u64;
                        self.start = self.end;
                        if self.eof {
                            return Ok(None);
                        }
                        self.fill()?;
                        continue;
                    }
                }
            }
            let pending = &self.buf[self.start..self.end];
            if let Some(p) = memchr::memrchr(b'\n', pending) {
                let from = self.start;
                let offset = self.next_offset;
                let first_line = if self.counting {
                    let lines = count_lines(&pending[..=p]);
                    let first = self.next_line;
                    self.next_line += lines;
                    first
                } else {
                    0
                };
                self.start += p + 1;
                self.next_offset += p as u64 + 1;
                return Ok(Some(Chunk {
                    data: &self.buf[from..=from + p],
                    first_line,
                    offset,
                }));
            }
            if pending.len() >= MAX_LINE_BYTES {
                let from = self.start;
                let offset = self.next_offset;
                let first_line = if self.counting { self.next_line } else { 0 };
                let noted = if self.counting { first_line } else { offset };
                ReadNotes::bump(&mut self.notes.cut_lines, noted);
                self.next_line += 1;
                self.next_offset += (self.end - self.start) as u64;
                self.start = self.end;
                self.skipping = true;
                return Ok(Some(Chunk {
                    data: &self.buf[from..from + MAX_LINE_BYTES],
                    first_line,
                    offset,
                }));
            }
            if self.eof {
                if pending.is_empty() {
                    return Ok(None);
                }
                let from = self.start;
                let offset = self.next_offset;
                let first_line = if self.counting { self.next_line } else { 0 };
                self.notes.unterminated_last_line = Some(first_line);
                self.next_line += 1;
                self.next_offset += (self.end - self.start) as u64;
                self.start = self.end;
                return Ok(Some(Chunk {
                    data: &self.buf[from..self.end],
                    first_line,
                    offset,
                }));
            }
            self.fill()?;
        }
    }
}

/// How many `\n` bytes `data` holds. Counted in blocks of 255 bytes with a byte-wide
/// accumulator, which the compiler turns into SIMD compares and adds: faster than iterating
/// `memchr` hits when lines are short.
pub fn count_lines(data: &[u8]) -> u64 {
    let blocks = data.chunks_exact(255);
    let rest = blocks.remainder();
    let mut n: u64 = blocks
        .map(|b| u64::from(b.iter().fold(0u8, |acc, &c| acc + u8::from(c == b'\n'))))
        .sum();
    n += rest.iter().filter(|&&c| c == b'\n').count() as u64;
    n
}

/// Splits a chunk into lines without their `\n` (and a `\r` before it).
pub fn lines_of(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    data.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Streams entries: a header line plus the following lines that are not headers. Lines before
/// the first header are an entry of their own (no time); a line that starts a Go or Rust panic
/// starts an entry too (level FATAL, no time), wherever it appears.
pub struct EntryReader<R> {
    chunks: LineChunks<R>,
    dmesg: bool,
    lines: Vec<(u64, String)>,
    next: usize,
    pending: Option<LogEntry>,
    done: bool,
    notes: ReadNotes,
}

impl<R: Read> EntryReader<R> {
    /// Entries of `inner`; `dmesg` selects the kernel-log grammar.
    pub fn new(inner: R, dmesg: bool) -> EntryReader<R> {
        EntryReader {
            chunks: LineChunks::new(inner),
            dmesg,
            lines: Vec::new(),
            next: 0,
            pending: None,
            done: false,
            notes: ReadNotes::default(),
        }
    }

    /// What was odd about the bytes read so far.
    pub fn notes(&self) -> ReadNotes {
        let mut n = self.notes.clone();
        n.cut_lines = self.chunks.notes.cut_lines;
        n.unterminated_last_line = self.chunks.notes.unterminated_last_line;
        n
    }

    fn next_line(&mut self) -> io::Result<Option<(u64, String)>> {
        if self.next >= self.lines.len() {
            self.lines.clear();
            self.next = 0;
            let Some(chunk) = self.chunks.next_chunk()? else {
                return Ok(None);
            };
            for (i, raw) in lines_of(chunk.data).enumerate() {
                let number = chunk.first_line + i as u64;
                self.lines
                    .push((number, decode_line(raw, number, &mut self.notes)));
            }
        }
        let line = std::mem::take(&mut self.lines[self.next]);
        self.next += 1;
        Ok(Some(line))
    }
}

/// Bytes of one line as text: invalid UTF-8 becomes U+FFFD, NUL bytes become U+FFFD too (both
/// noted); nothing is dropped.
pub fn decode_line(raw: &[u8], number: u64, notes: &mut ReadNotes) -> String {
    let mut text = match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => {
            ReadNotes::bump(&mut notes.invalid_utf8_lines, number);
            String::from_utf8_lossy(raw).into_owned()
        }
    };
    if memchr::memchr(0, raw).is_some() {
        ReadNotes::bump(&mut notes.nul_lines, number);
        text = text.replace('\0', "\u{fffd}");
    }
    text
}

/// An entry made from one header line.
pub fn entry_from_header(line: u64, format: LineFormat, header: Header) -> LogEntry {
    let panic = header_panic(&header);
    LogEntry {
        line,
        time: header.time,
        level: header.level,
        source: header.source,
        message: header.message,
        fields: header.fields,
        format,
        extra_lines: 0,
        continuation: Vec::new(),
        panic,
    }
}

/// An entry made from a line that is not a header (raw stderr text, a panic's first line).
pub fn raw_entry(line: u64, text: String) -> LogEntry {
    let panic = panic_start(&text);
    LogEntry {
        line,
        time: None,
        level: panic.map(|_| Level::Fatal),
        source: None,
        message: text,
        fields: Vec::new(),
        format: LineFormat::Raw,
        extra_lines: 0,
        continuation: Vec::new(),
        panic,
    }
}

impl<R: Read> Iterator for EntryReader<R> {
    type Item = io::Result<LogEntry>;

    fn next(&mut self) -> Option<io::Result<LogEntry>> {
        if self.done {
            return None;
        }
        loop {
            let (number, text) = match self.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => {
                    self.done = true;
                    return self.pending.take().map(Ok);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            let starts = match parse_header(&text, self.dmesg) {
                Some((format, header)) => Some(entry_from_header(number, format, header)),
                None if self.pending.is_none() || panic_start(&text).is_some() => {
                    Some(raw_entry(number, text))
                }
                None => {
                    if let Some(entry) = &mut self.pending {
                        entry.extra_lines += 1;
                        if entry.continuation.len() < MAX_KEPT_LINES {
                            entry.continuation.push(text);
                        }
                    }
                    None
                }
            };
            if let Some(new) = starts
                && let Some(done) = self.pending.replace(new)
            {
                return Some(Ok(done));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &[u8]) -> Vec<LogEntry> {
        EntryReader::new(text, false)
            .collect::<io::Result<Vec<_>>>()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn continuation_lines_join_the_entry_before() {
        let text = b"start tidb-server ...\n/tidb-server --store=tikv\n[2022/02/07 12:00:00.000 +08:00] [INFO] [a.go:1] [\"hello\"]\n  more\n\tmore\n[2022/02/07 12:00:01.000 +08:00] [WARN] [a.go:2] [w]\n";
        let e = entries(text);
        assert_eq!(e.len(), 3);
        assert_eq!((e[0].line, e[0].time, e[0].extra_lines), (1, None, 1));
        assert_eq!(e[0].message, "start tidb-server ...");
        assert_eq!((e[1].line, e[1].extra_lines), (3, 2));
        assert_eq!(e[1].continuation, vec!["  more", "\tmore"]);
        assert_eq!((e[2].line, e[2].level), (6, Some(Level::Warn)));
    }

    #[test]
    fn a_go_panic_in_a_container_log_is_an_entry_of_its_own() {
        let text = b"[2022/02/07 12:00:00.000 +08:00] [INFO] [a.go:1] [x]\npanic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1]\n\ngoroutine 1 [running]:\nmain.main()\n\t/a.go:1 +0x1\n";
        let e = entries(text);
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].panic, Some(super::super::PanicKind::GoPanic));
        assert_eq!(
            (e[1].line, e[1].level, e[1].extra_lines),
            (2, Some(Level::Fatal), 5)
        );
    }

    #[test]
    fn crlf_and_unterminated_last_line() {
        let mut r = EntryReader::new(&b"[2022/02/07 12:00:00.000 +08:00] [INFO] [a.go:1] [x]\r\n[2022/02/07 12:00:00.000 +08:00] [INFO] [a.go:1] [y]"[..], false);
        let e: Vec<LogEntry> = r
            .by_ref()
            .map(|e| e.unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].message, "x");
        assert_eq!(e[1].message, "y");
        assert_eq!(r.notes().unterminated_last_line, Some(2));
    }

    #[test]
    fn an_over_long_line_is_cut_and_noted_and_reading_goes_on() {
        let mut text = b"[2022/02/07 12:00:00.000 +08:00] [INFO] [a.go:1] [\"".to_vec();
        text.resize(text.len() + 3 * MAX_LINE_BYTES, b'a');
        text.extend_from_slice(b"\"]\n[2022/02/07 12:00:00.000 +08:00] [INFO] [a.go:1] [after]\n");
        let mut r = EntryReader::new(text.as_slice(), false);
        let e: Vec<LogEntry> = r
            .by_ref()
            .map(|e| e.unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(
            e.last().map(|e| (e.line, e.message.as_str())),
            Some((2, "after"))
        );
        assert_eq!(r.notes().cut_lines, (1, 1));
        assert!(r.notes().describe()[0].contains("cut there"));
    }

    #[test]
    fn nul_bytes_and_invalid_utf8_are_read_not_fatal() {
        let text = b"\x00\x00\xff\xfe junk\n[2022/02/07 12:00:00.000 +08:00] [ERROR] [a.go:1] [\"bad \xff byte\"]\n";
        let mut r = EntryReader::new(&text[..], false);
        let e: Vec<LogEntry> = r
            .by_ref()
            .map(|e| e.unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].message, "bad \u{fffd} byte");
        let notes = r.notes();
        assert_eq!(notes.nul_lines, (1, 1));
        assert_eq!(notes.invalid_utf8_lines, (2, 1));
    }

    #[test]
    fn chunks_count_lines_across_refills() {
        let mut text = Vec::new();
        for i in 0..100_000 {
            text.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let mut chunks = LineChunks::new(text.as_slice());
        let mut seen = 0u64;
        while let Some(c) = chunks.next_chunk().unwrap_or_else(|e| panic!("{e}")) {
            assert_eq!(c.first_line, seen + 1);
            let first = lines_of(c.data).next().unwrap_or_default();
            assert_eq!(first, format!("line {seen}").as_bytes());
            seen += lines_of(c.data).count() as u64;
        }
        assert_eq!(seen, 100_000);
    }
}
