//! Component logs as the components write them: the unified format (TiDB, PD, TiKV, TiCDC,
//! TiFlash), its JSON variant, RocksDB info logs, legacy formats, stderr files and Operator
//! container logs with raw panics and start-script lines between unified lines, and `dmesg.log`.
//!
//! Everything streams: [`EntryReader`] reads any [`std::io::Read`] through a bounded buffer
//! ([`LineChunks`]) and yields one [`LogEntry`] at a time. Hostile bytes never stop it: NUL
//! bytes and invalid UTF-8 are read as U+FFFD, a line longer than [`MAX_LINE_BYTES`] is cut
//! there, a last line without newline is read; each is noted in [`ReadNotes`].
//!
//! ```
//! use diag_core::model::log::{EntryReader, Level};
//! let text = "[2022/02/07 12:00:00.000 +08:00] [WARN] [conn.go:1] [\"read packet failed, close this connection\"] [conn=5] [error=EOF]\n";
//! let entry = EntryReader::new(text.as_bytes(), false).next().unwrap().unwrap();
//! assert_eq!(entry.level, Some(Level::Warn));
//! assert_eq!(entry.field("error"), Some("EOF"));
//! assert_eq!(entry.time.unwrap().to_string(), "2022-02-07T12:00:00.000+08:00");
//! ```

mod line;
mod name;
mod query;
mod reader;
mod time;

use serde::Serialize;

pub use line::{Header, LEGACY_OFFSET_S, header_panic, panic_start, parse_header};
pub use name::{LogFile, LogFileKind, classify};
pub use query::{EntryJson, FoundEntry, LogQuery, query};
pub use reader::{
    Chunk, EntryReader, LineChunks, MAX_KEPT_LINES, MAX_LINE_BYTES, ReadNotes, count_lines,
    decode_line, entry_from_header, lines_of, raw_entry,
};
pub use time::{LogTime, parse_span};

/// A log level, canonical upper case; ordered from TRACE to FATAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// TRACE.
    Trace,
    /// DEBUG.
    Debug,
    /// INFO (TiFlash's NOTICE too).
    Info,
    /// WARN (also written WARNING).
    Warn,
    /// ERROR (also ERRO).
    Error,
    /// FATAL (also CRITICAL, and a panic).
    Fatal,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    /// Reads a level as the components write it, case-insensitively.
    ///
    /// ```
    /// use diag_core::model::log::Level;
    /// assert_eq!(Level::parse("warning"), Some(Level::Warn));
    /// assert_eq!(Level::parse("ERRO"), Some(Level::Error));
    /// assert_eq!(Level::parse("Critical"), Some(Level::Fatal));
    /// assert_eq!(Level::parse("loud"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Level> {
        let t = text.trim();
        let eq = |s: &str| t.eq_ignore_ascii_case(s);
        Some(if eq("INFO") || eq("NOTICE") || eq("INFORMATION") {
            Level::Info
        } else if eq("WARN") || eq("WARNING") {
            Level::Warn
        } else if eq("ERROR") || eq("ERRO") || eq("ERR") {
            Level::Error
        } else if eq("DEBUG") {
            Level::Debug
        } else if eq("TRACE") {
            Level::Trace
        } else if eq("FATAL") || eq("CRITICAL") || eq("CRIT") {
            Level::Fatal
        } else {
            return None;
        })
    }

    /// A kernel (syslog) severity name: `emerg alert crit err warning notice info debug`.
    pub fn parse_syslog(text: &str) -> Option<Level> {
        Some(match text.trim() {
            "emerg" | "alert" | "crit" => Level::Fatal,
            "err" => Level::Error,
            "warning" | "warn" => Level::Warn,
            "notice" | "info" => Level::Info,
            "debug" => Level::Debug,
            _ => return None,
        })
    }

    /// `TRACE` … `FATAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }
}

/// The grammar an entry's first line was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineFormat {
    /// `[time] [LEVEL] [source] [message] [k=v]…`.
    Unified,
    /// `{"time":…,"level":…,"message":…}`.
    Json,
    /// `[time][thread][LEVEL] text` (RocksDB info log).
    Rocksdb,
    /// A format from before the unified one (TiDB/PD/TiKV 2.x, TiFlash error log).
    Legacy,
    /// `dmesg.log`.
    Dmesg,
    /// No header: stderr text, start-script lines, a panic.
    Raw,
}

/// Which kind of crash an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PanicKind {
    /// Go `panic: …` and its goroutine dump.
    GoPanic,
    /// Go `fatal error: …` (out of memory, concurrent map writes).
    GoFatalError,
    /// Rust's default hook: `thread '…' panicked at …` (both formats).
    RustPanic,
    /// TiKV's panic hook: a FATAL line with `location` and `backtrace`.
    TikvPanicHook,
    /// TiFlash's signal handler: `(from thread N) Received signal …`.
    TiflashSignal,
}

/// One log entry: a header line and its continuation lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// 1-based number of the entry's first line in its file.
    pub line: u64,
    /// When, with the writer's offset; `None` for raw text and dmesg.
    pub time: Option<LogTime>,
    /// Level, when the line has one.
    pub level: Option<Level>,
    /// `file.go:123`, when given.
    pub source: Option<String>,
    /// The message (decoded); for raw text the whole first line.
    pub message: String,
    /// Fields in written order (decoded); a key may repeat.
    pub fields: Vec<(String, String)>,
    /// The grammar of the first line.
    pub format: LineFormat,
    /// How many continuation lines follow the first one.
    pub extra_lines: u64,
    /// The first [`MAX_KEPT_LINES`] continuation lines.
    pub continuation: Vec<String>,
    /// The crash this entry records, if any.
    pub panic: Option<PanicKind>,
}

impl LogEntry {
    /// The first value of field `key`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_canonical() {
        assert!(Level::Warn > Level::Info && Level::Fatal > Level::Error);
        for l in Level::ALL {
            assert_eq!(Level::parse(l.as_str()), Some(l));
            assert_eq!(Level::parse(&l.as_str().to_lowercase()), Some(l));
        }
    }
}
