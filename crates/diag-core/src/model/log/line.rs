//! One physical line → a header (time, level, source, message, fields), in each format the
//! components write: unified (§1.1 of the signals notes), its JSON variant, RocksDB info logs,
//! the pre-2.1.15 legacy shapes, TiFlash's ClickHouse-style error log, and `dmesg.log`.

use super::time::LogTime;
use super::{Level, LineFormat, PanicKind};

/// Legacy logs carry no zone; diag reads them as Asia/Chongqing (UTC+8), and so do we.
pub const LEGACY_OFFSET_S: i32 = 8 * 3600;

/// What a header line says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// When, if the format has a wall-clock time.
    pub time: Option<LogTime>,
    /// Canonical level.
    pub level: Option<Level>,
    /// `file.go:123`, when given (`<unknown>` is dropped).
    pub source: Option<String>,
    /// The message, decoded.
    pub message: String,
    /// Fields in written order, decoded; keys may repeat.
    pub fields: Vec<(String, String)>,
}

/// Parses `line` as a header of any known format; `None` for a continuation or raw line.
/// `dmesg` selects the kernel-log grammar (only `dmesg.log` uses it).
pub fn parse_header(line: &str, dmesg: bool) -> Option<(LineFormat, Header)> {
    if dmesg {
        return parse_dmesg(line).map(|h| (LineFormat::Dmesg, h));
    }
    let first = *line.as_bytes().first()?;
    match first {
        b'[' => parse_bracketed(line),
        b'{' => parse_json(line).map(|h| (LineFormat::Json, h)),
        b'0'..=b'9' => parse_legacy(line),
        0x1b => {
            // After the colour codes a TiFlash line starts with `[`; anything else is no header.
            let plain = strip_ansi(line);
            if !plain.starts_with('[') {
                return None;
            }
            parse_bracketed(&plain)
        }
        _ => None,
    }
}

/// Which panic a raw line starts, if any (Go `panic:` / `fatal error:`, Rust's default hook in
/// both formats, TiFlash's signal handler).
pub fn panic_start(line: &str) -> Option<PanicKind> {
    if line.starts_with("panic: ") || line == "panic:" {
        Some(PanicKind::GoPanic)
    } else if line.starts_with("fatal error: ") {
        Some(PanicKind::GoFatalError)
    } else if line.starts_with("thread '") && line.contains("' panicked at ") {
        Some(PanicKind::RustPanic)
    } else {
        None
    }
}

/// Whether a parsed header is a panic: TiKV's panic hook (FATAL with `location` and
/// `backtrace`), TiFlash's `Received signal`, a Go/Rust panic text as the message.
pub fn header_panic(header: &Header) -> Option<PanicKind> {
    let has = |k: &str| header.fields.iter().any(|(key, _)| key == k);
    if header.level == Some(Level::Fatal) && has("location") && has("backtrace") {
        return Some(PanicKind::TikvPanicHook);
    }
    if header.message.contains("Received signal") && header.message.starts_with("(from thread") {
        return Some(PanicKind::TiflashSignal);
    }
    panic_start(&header.message)
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if !(d.is_ascii_digit() || d == ';') {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// A cursor over the bracketed sections of a unified line.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// Bare text up to (not including) one of `stops`.
    fn bare(&mut self, stops: &[u8]) -> Option<&'a str> {
        let rest = &self.s.as_bytes()[self.pos..];
        let n = rest.iter().position(|b| stops.contains(b))?;
        let out = &self.s[self.pos..self.pos + n];
        self.pos += n;
        Some(out)
    }

    /// A JSON string starting at `"`, decoded.
    fn quoted(&mut self) -> Option<String> {
        let (text, used) = decode_json_string(&self.s[self.pos..])?;
        self.pos += used;
        Some(text)
    }

    /// A key or value: a JSON string or bare text up to one of `stops`.
    fn value(&mut self, stops: &[u8]) -> Option<String> {
        if self.peek() == Some(b'"') {
            self.quoted()
        } else {
            self.bare(stops).map(str::to_string)
        }
    }
}

/// Decodes a JSON string literal at the start of `s`; returns the text and the bytes used.
pub(crate) fn decode_json_string(s: &str) -> Option<(String, usize)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut out = String::new();
    let mut i = 1;
    let mut run = 1;
    while i < b.len() {
        match b[i] {
            b'"' => {
                out.push_str(&s[run..i]);
                return Some((out, i + 1));
            }
            b'\\' => {
                out.push_str(&s[run..i]);
                let esc = *b.get(i + 1)?;
                i += 2;
                match esc {
                    b'n' => out.push('\n'),
                    b't' => out.push('\t'),
                    b'r' => out.push('\r'),
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    b'/' => out.push('/'),
                    b'\\' => out.push('\\'),
                    b'"' => out.push('"'),
                    b'u' => {
                        let hex = s.get(i..i + 4)?;
                        let mut code = u32::from_str_radix(hex, 16).ok()?;
                        i += 4;
                        if (0xD800..0xDC00).contains(&code)
                            && s.get(i..i + 2) == Some("\\u")
                            && let Some(lo) = s
                                .get(i + 2..i + 6)
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                            && (0xDC00..0xE000).contains(&lo)
                        {
                            code = 0x10000 + ((code - 0xD800) << 10) + (lo - 0xDC00);
                            i += 6;
                        }
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    _ => {
                        // Not JSON; keep the text as written: the backslash, then whatever
                        // follows it (which may be a multi-byte character) as ordinary text.
                        out.push('\\');
                        i -= 1;
                    }
                }
                run = i;
            }
            _ => i += 1,
        }
    }
    None
}

/// `[time] [LEVEL] [source] [message] [k=v]…`, or RocksDB's `[time][thread][LEVEL] text`.
fn parse_bracketed(line: &str) -> Option<(LineFormat, Header)> {
    let close = line.as_bytes().iter().position(|&b| b == b']')?;
    let time = LogTime::parse_unified(&line[1..close])?;
    let mut c = Cursor {
        s: line,
        pos: close + 1,
    };
    if c.peek() == Some(b'[') {
        return parse_rocksdb(line, close, time);
    }
    c.skip_spaces();
    if !c.eat(b'[') {
        return None;
    }
    let level = Level::parse(c.bare(b"]")?);
    c.eat(b']');
    let mut header = Header {
        time: Some(time),
        level,
        ..Header::default()
    };
    c.skip_spaces();
    if c.eat(b'[') {
        let source = c.bare(b"]")?;
        c.eat(b']');
        if source != "<unknown>" && !source.is_empty() {
            header.source = Some(source.to_string());
        }
    }
    c.skip_spaces();
    // The message section: `[value]`; Go leaves it out when the message is empty.
    if c.peek() == Some(b'[') {
        let save = c.pos;
        c.pos += 1;
        let msg = c.value(b"]");
        if msg.is_some() && c.eat(b']') && !looks_like_field(&line[save..c.pos]) {
            header.message = msg.unwrap_or_default();
        } else {
            c.pos = save;
        }
    }
    // Fields until the end; anything that does not parse ends the list and is kept as a field
    // named `_rest`, so nothing written is lost.
    loop {
        c.skip_spaces();
        if c.pos >= line.len() {
            break;
        }
        let save = c.pos;
        if c.eat(b'[')
            && let Some(key) = c.value(b"=]")
            && c.eat(b'=')
            && let Some(value) = c.value(b"]")
            && c.eat(b']')
        {
            header.fields.push((key, value));
            continue;
        }
        header
            .fields
            .push(("_rest".to_string(), line[save..].to_string()));
        break;
    }
    Some((LineFormat::Unified, header))
}

/// A bracketed section that is `[key=value]` rather than a message: bare text with `=`.
fn looks_like_field(section: &str) -> bool {
    let inner = &section[1..section.len().saturating_sub(1)];
    !inner.starts_with('"') && inner.contains('=')
}

fn parse_rocksdb(line: &str, close: usize, time: LogTime) -> Option<(LineFormat, Header)> {
    let mut c = Cursor {
        s: line,
        pos: close + 1,
    };
    c.eat(b'[');
    let thread = c.bare(b"]")?.to_string();
    c.eat(b']');
    c.eat(b'[');
    let level = Level::parse(c.bare(b"]")?);
    c.eat(b']');
    c.skip_spaces();
    Some((
        LineFormat::Rocksdb,
        Header {
            time: Some(time),
            level,
            source: None,
            message: line[c.pos..].to_string(),
            fields: vec![("thread_id".into(), thread)],
        },
    ))
}

/// `{"time":"…","level":"…","caller":"…","message":"…",…}` with string `time` and `level`.
fn parse_json(line: &str) -> Option<Header> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let map = value.as_object()?;
    // `time` (pingcap/log, TiKV); `ts` (etcd's own zap logger in pd_stderr.log).
    let stamp = map.get("time").or_else(|| map.get("ts"))?.as_str()?;
    let time = LogTime::parse_unified(stamp).or_else(|| LogTime::parse_rfc3339(stamp))?;
    let level = Level::parse(map.get("level")?.as_str()?);
    let mut header = Header {
        time: Some(time),
        level,
        ..Header::default()
    };
    for (k, v) in map {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match k.as_str() {
            "time" | "ts" | "level" => {}
            "caller" => header.source = Some(text),
            "message" | "msg" => header.message = text,
            _ => header.fields.push((k.clone(), text)),
        }
    }
    Some(header)
}

/// Legacy shapes: PD/TiDB v2 `2019/01/01 12:00:00.000 log.go:32: [info] msg`, TiKV v2
/// `2019/01/01 12:00:00.000 INFO mod.rs:26: msg`, TiFlash
/// `2021.01.01 12:00:00.000000 [ 12 ] <Error> source: msg`.
fn parse_legacy(line: &str) -> Option<(LineFormat, Header)> {
    let b = line.as_bytes();
    if b.len() < 23 {
        return None;
    }
    if b[4] == b'.' && b[7] == b'.' {
        return parse_tiflash_legacy(line);
    }
    if b[4] != b'/' {
        return None;
    }
    let time_end = line
        .find(' ')
        .and_then(|first| line[first + 1..].find(' ').map(|second| first + 1 + second))?;
    let time = LogTime::parse_naive(&line[..time_end], LEGACY_OFFSET_S)?;
    let rest = line[time_end..].trim_start();
    let (tok, after) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut header = Header {
        time: Some(time),
        ..Header::default()
    };
    if let Some(level) = tok
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(Level::parse)
    {
        header.level = Some(level);
        header.message = after.to_string();
        return Some((LineFormat::Legacy, header));
    }
    if let Some(level) = Level::parse(tok) {
        // TiKV v2: LEVEL [source:] message
        header.level = Some(level);
        let (src, msg) = after.split_once(' ').unwrap_or((after, ""));
        if src.ends_with(':') && src.contains(".rs:") {
            header.source = Some(src.trim_end_matches(':').to_string());
            header.message = msg.to_string();
        } else {
            header.message = after.to_string();
        }
        return Some((LineFormat::Legacy, header));
    }
    // PD/TiDB v2: source: [level] message
    let src = tok.trim_end_matches(':');
    let (lvl, msg) = after.split_once(' ').unwrap_or((after, ""));
    let level = lvl
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(Level::parse)?;
    header.level = Some(level);
    header.source = Some(src.to_string());
    header.message = msg.to_string();
    Some((LineFormat::Legacy, header))
}

fn parse_tiflash_legacy(line: &str) -> Option<(LineFormat, Header)> {
    // `2021.01.01 12:00:00.000000 [ 12 ] <Error> source: message`
    let normalized = format!("{}/{}/{}", &line[0..4], &line[5..7], &line[8..]);
    let time_end = 26.min(normalized.len());
    let time = LogTime::parse_naive(normalized.get(..time_end)?, LEGACY_OFFSET_S)?;
    let rest = line.get(26..)?.trim_start();
    let rest = rest.strip_prefix('[')?;
    let (thread, rest) = rest.split_once(']')?;
    let rest = rest.trim_start().strip_prefix('<')?;
    let (lvl, msg) = rest.split_once('>')?;
    Some((
        LineFormat::Legacy,
        Header {
            time: Some(time),
            level: Level::parse(lvl),
            source: None,
            message: msg.trim_start().to_string(),
            fields: vec![("thread_id".into(), thread.trim().to_string())],
        },
    ))
}

/// `kern:err: [12345.678901] message` (diag's kmsg form) or `[12345.678901] message`.
/// The time is seconds since boot, kept as field `since_boot`; there is no wall time.
fn parse_dmesg(line: &str) -> Option<Header> {
    let (prefix, rest) = match line.find('[') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => return None,
    };
    let (stamp, msg) = rest.split_once(']')?;
    let stamp = stamp.trim();
    if stamp.is_empty() || !stamp.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let mut level = None;
    let mut fields = vec![("since_boot".to_string(), stamp.to_string())];
    let prefix = prefix.trim();
    if !prefix.is_empty() {
        let mut parts = prefix.trim_end_matches(':').split(':');
        let facility = parts.next()?;
        let severity = parts.next()?;
        level = Level::parse_syslog(severity);
        level?;
        fields.push(("facility".into(), facility.to_string()));
    }
    Some(Header {
        time: None,
        level,
        source: None,
        message: msg.trim_start().to_string(),
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unified(line: &str) -> Header {
        match parse_header(line, false) {
            Some((LineFormat::Unified, h)) => h,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn unified_with_quoted_and_bare_parts() {
        let h = unified(
            r#"[2018/12/15 14:20:11.015 +08:00] [WARN] [session.go:1234] ["Slow query"] [sql="SELECT * FROM TABLE\nWHERE ID=\"abc\""] [duration=1.345s] [client=192.168.0.123:12345] [txn_id=123000102231]"#,
        );
        assert_eq!(h.level, Some(Level::Warn));
        assert_eq!(h.source.as_deref(), Some("session.go:1234"));
        assert_eq!(h.message, "Slow query");
        assert_eq!(
            h.fields[0],
            ("sql".into(), "SELECT * FROM TABLE\nWHERE ID=\"abc\"".into())
        );
        assert_eq!(h.fields.len(), 4);
        let t = h.time.unwrap_or_else(|| panic!());
        assert_eq!(t.to_string(), "2018-12-15T14:20:11.015+08:00");
    }

    #[test]
    fn unknown_source_bare_message_quoted_keys_and_repeated_keys() {
        let h = unified(
            r#"[2013/01/05 00:01:15.000 -07:00] [warning] [<unknown>] [DDL_Finished] [ddl_job_id=1] ["Release Version"=v5.3.0] [k=1] [k=2]"#,
        );
        assert_eq!(h.level, Some(Level::Warn));
        assert_eq!(h.source, None);
        assert_eq!(h.message, "DDL_Finished");
        assert_eq!(h.fields[1], ("Release Version".into(), "v5.3.0".into()));
        assert_eq!(h.fields.iter().filter(|(k, _)| k == "k").count(), 2);
    }

    #[test]
    fn go_leaves_out_an_empty_message() {
        let h = unified("[2022/02/07 12:00:00.000 +08:00] [INFO] [a.go:1] [conn=5]");
        assert_eq!(h.message, "");
        assert_eq!(h.fields, vec![("conn".into(), "5".into())]);
    }

    #[test]
    fn broken_fields_are_kept_not_lost() {
        let h =
            unified(r#"[2022/02/07 12:00:00.000 +08:00] [ERRO] [a.go:1] ["m"] [k="unterminated"#);
        assert_eq!(h.level, Some(Level::Error));
        assert_eq!(h.fields, vec![("_rest".into(), "[k=\"unterminated".into())]);
    }

    #[test]
    fn json_variant() {
        let (f, h) = parse_header(
            r#"{"time":"2020/05/16 15:49:52.449 +08:00","level":"INFO","caller":"mod.rs:469","message":"Welcome","thread_id":7}"#,
            false,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(f, LineFormat::Json);
        assert_eq!(h.message, "Welcome");
        assert_eq!(h.source.as_deref(), Some("mod.rs:469"));
        assert_eq!(h.fields, vec![("thread_id".into(), "7".into())]);
        assert!(parse_header(r#"{"no":"time"}"#, false).is_none());
        let (_, h) = parse_header(
            r#"{"level":"warn","ts":"2022-01-18T14:28:44.611+0800","caller":"embed/config_logging.go:270","msg":"rejected connection","error":"EOF"}"#,
            false,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(
            (h.level, h.message.as_str()),
            (Some(Level::Warn), "rejected connection")
        );
        assert_eq!(
            h.time.map(|t| t.to_string()).as_deref(),
            Some("2022-01-18T14:28:44.611+08:00")
        );
    }

    #[test]
    fn legacy_shapes() {
        let (f, h) = parse_header("2019/01/01 12:00:00.000 log.go:32: [info] hello pd", false)
            .unwrap_or_else(|| panic!());
        assert_eq!(f, LineFormat::Legacy);
        assert_eq!(
            (h.level, h.source.as_deref(), h.message.as_str()),
            (Some(Level::Info), Some("log.go:32"), "hello pd")
        );
        assert_eq!(
            h.time.map(|t| t.to_string()).as_deref(),
            Some("2019-01-01T12:00:00.000+08:00")
        );
        let (_, h) = parse_header(
            "2019/08/23 18:10:00.387 INFO mod.rs:26: Welcome to TiKV.",
            false,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(
            (h.level, h.message.as_str()),
            (Some(Level::Info), "Welcome to TiKV.")
        );
        let (_, h) = parse_header(
            "2021.01.01 12:00:00.000000 [ 12 ] <Error> DB::TCPHandler: Code: 60",
            false,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(
            (h.level, h.message.as_str()),
            (Some(Level::Error), "DB::TCPHandler: Code: 60")
        );
    }

    #[test]
    fn rocksdb_info_lines() {
        let (f, h) = parse_header(
            "[2022/02/07 12:00:00.000 +08:00][4][WARN] [default] Stalling writes because we have 20 level-0 files rate 1",
            false,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(f, LineFormat::Rocksdb);
        assert!(h.message.starts_with("[default] Stalling writes"));
    }

    #[test]
    fn tiflash_ansi_colours_are_stripped() {
        let (_, h) = parse_header(
            "\u{1b}[0;32m[2022/02/07 12:00:00.000 +08:00] [INFO] [Server.cpp:1] [\"Ready for connections.\"] [source=Application] [thread_id=1]\u{1b}[0m",
            false,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(h.message, "Ready for connections.");
    }

    #[test]
    fn dmesg_forms() {
        let (_, h) = parse_header(
            "kern:err: [12345.678901] Out of memory: Killed process 1234 (tidb-server) total-vm:1kB",
            true,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(h.level, Some(Level::Error));
        assert!(h.message.starts_with("Out of memory"));
        let (_, h) = parse_header("[    1.203114] EXT4-fs (vdb1): mounted", true)
            .unwrap_or_else(|| panic!());
        assert_eq!(h.level, None);
        assert_eq!(h.fields[0].1, "1.203114");
        assert!(parse_header("no stamp", true).is_none());
    }

    #[test]
    fn panics_are_recognised() {
        assert_eq!(
            panic_start("panic: runtime error: index out of range"),
            Some(PanicKind::GoPanic)
        );
        assert_eq!(
            panic_start("fatal error: runtime: out of memory"),
            Some(PanicKind::GoFatalError)
        );
        assert_eq!(
            panic_start("thread 'main' panicked at 'called `Option::unwrap()`', src/x.rs:1:2"),
            Some(PanicKind::RustPanic)
        );
        assert_eq!(
            panic_start("thread 'raftstore-1' panicked at src/x.rs:1:2:"),
            Some(PanicKind::RustPanic)
        );
        assert_eq!(panic_start("start tidb-server ..."), None);
        let h = unified(
            r#"[2022/02/07 12:00:00.000 +08:00] [FATAL] [lib.rs:465] ["boom"] [backtrace="0: x"] [location=src/a.rs:1] [thread_name=raftstore]"#,
        );
        assert_eq!(header_panic(&h), Some(PanicKind::TikvPanicHook));
    }

    #[test]
    fn hostile_text_never_panics() {
        for line in [
            "[",
            "[]",
            "[2022/02/07 12:00:00.000 +08:00",
            "[2022/02/07 12:00:00.000 +08:00]",
            "[2022/02/07 12:00:00.000 +08:00] [",
            "[2022/02/07 12:00:00.000 +08:00] [INFO] [",
            "[2022/02/07 12:00:00.000 +08:00] [INFO] [a] [\"\\u12",
            "{",
            "2019/01/01 12:00:00.000",
            "2021.01.01 12:00:00.000000 [",
            "\u{1b}[",
            "\u{1b}[0m[",
            "[\u{fffd}\u{0}]",
            "é[ü]",
        ] {
            let _ = parse_header(line, false);
            let _ = parse_header(line, true);
            let _ = panic_start(line);
        }
    }
}
