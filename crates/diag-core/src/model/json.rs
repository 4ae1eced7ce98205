//! A JSON reader that keeps what the model needs and serde_json drops: the line of every value,
//! integer vs float, key order, and integers above `i64::MAX`.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

use super::value::{ConfigMap, ConfigNode, ConfigValue};

/// Distinct keys remembered per thread; past this, keys are still read, just not shared.
const MAX_INTERNED_KEYS: usize = 1 << 16;

thread_local! {
    /// Key names seen by this thread's reader. Runtime configs of one component repeat the
    /// same few hundred keys, so sharing them across files is most of the memory a tree saves.
    static KEYS: RefCell<HashSet<Arc<str>>> = RefCell::new(HashSet::new());
}

fn intern(key: String) -> Arc<str> {
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if let Some(shared) = keys.get(key.as_str()) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(key);
        if keys.len() < MAX_INTERNED_KEYS {
            keys.insert(shared.clone());
        }
        shared
    })
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 256;

/// A JSON syntax error at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct SyntaxError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
    /// What was expected and what was found.
    pub message: String,
}

/// Parses a whole JSON document.
///
/// ```
/// let node = diag_core::model::json::parse(b"{\n  \"a\": 1\n}").unwrap();
/// assert_eq!(node.get("a").map(|n| n.line), Some(2));
/// let err = diag_core::model::json::parse(b"{\"a\": }").unwrap_err();
/// assert_eq!((err.line, err.column), (1, 7));
/// ```
pub fn parse(bytes: &[u8]) -> Result<ConfigNode, SyntaxError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut p = Parser {
        bytes,
        pos: 0,
        line: 1,
        line_start: 0,
    };
    p.skip_ws();
    if p.pos >= bytes.len() {
        return Err(p.error("expected a JSON value, found end of file (the file is empty)"));
    }
    let node = p.value(0)?;
    p.skip_ws();
    if p.pos < bytes.len() {
        return Err(p.error(&format!(
            "expected end of file after the top-level value, found {}",
            p.found()
        )));
    }
    Ok(node)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> SyntaxError {
        let column =
            String::from_utf8_lossy(&self.bytes[self.line_start..self.pos.min(self.bytes.len())])
                .chars()
                .count() as u32
                + 1;
        SyntaxError {
            line: self.line,
            column,
            message: message.to_string(),
        }
    }

    fn found(&self) -> String {
        match self.bytes.get(self.pos) {
            None => "end of file".to_string(),
            Some(b) if b.is_ascii_graphic() => format!("`{}`", *b as char),
            Some(b) => format!("byte 0x{b:02x}"),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                _ => break,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<ConfigNode, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        let line = self.line;
        let value = match self.bytes.get(self.pos) {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => ConfigValue::String(self.string()?),
            Some(b't') => self.keyword("true", ConfigValue::Bool(true))?,
            Some(b'f') => self.keyword("false", ConfigValue::Bool(false))?,
            Some(b'n') => self.keyword("null", ConfigValue::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.error(&format!("expected a JSON value, found {}", self.found()))),
        };
        Ok(ConfigNode { value, line })
    }

    fn keyword(&mut self, word: &str, value: ConfigValue) -> Result<ConfigValue, SyntaxError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(&format!("expected a JSON value, found {}", self.found())))
        }
    }

    fn object(&mut self, depth: usize) -> Result<ConfigValue, SyntaxError> {
        self.pos += 1;
        let mut map = ConfigMap::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(ConfigValue::Map(map));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error(&format!("expected a string key, found {}", self.found())));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error(&format!(
                    "expected `:` after key \"{key}\", found {}",
                    self.found()
                )));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            map.insert(intern(key), value);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    map.shrink();
                    return Ok(ConfigValue::Map(map));
                }
                _ => {
                    return Err(self.error(&format!(
                        "expected `,` or `}}` in object, found {}",
                        self.found()
                    )));
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<ConfigValue, SyntaxError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(ConfigValue::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    items.shrink_to_fit();
                    return Ok(ConfigValue::Array(items));
                }
                _ => {
                    return Err(self.error(&format!(
                        "expected `,` or `]` in array, found {}",
                        self.found()
                    )));
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.extend_from_slice(&self.bytes[start..self.pos]);
            match self.bytes.get(self.pos) {
                None => {
                    return Err(self.error("unterminated string: expected `\"`, found end of file"));
                }
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out)
                        .map_err(|_| self.error("string is not valid UTF-8"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = match self.bytes.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let first = self.hex4()?;
                            let code = match first {
                                0xD800..=0xDBFF => {
                                    if !self.bytes[self.pos..].starts_with(b"\\u") {
                                        return Err(self.error(
                                            "lone leading surrogate in `\\u` escape (expected a trailing `\\uDC00`-`\\uDFFF`)",
                                        ));
                                    }
                                    self.pos += 2;
                                    let second = self.hex4()?;
                                    if !(0xDC00..=0xDFFF).contains(&second) {
                                        return Err(self.error(
                                            "lone leading surrogate in `\\u` escape (expected a trailing `\\uDC00`-`\\uDFFF`)",
                                        ));
                                    }
                                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                                }
                                0xDC00..=0xDFFF => {
                                    return Err(
                                        self.error("lone trailing surrogate in `\\u` escape")
                                    );
                                }
                                other => other,
                            };
                            let c = char::from_u32(code).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => {
                            return Err(self.error(&format!(
                                "invalid escape `\\{}` in string",
                                self.found().trim_matches('`')
                            )));
                        }
                    };
                    self.pos += 1;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(escaped.encode_utf8(&mut buf).as_bytes());
                }
                Some(_) => {
                    return Err(self.error("control character in string (expected it escaped)"));
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .and_then(|d| std::str::from_utf8(d).ok());
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.error("expected four hex digits after `\\u`")),
        }
    }

    /// A number as RFC 8259 writes it: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<ConfigValue, SyntaxError> {
        let start = self.pos;
        let digits = |p: &mut Parser<'_>| {
            let from = p.pos;
            while p.bytes.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos - from
        };
        let bad = |p: &mut Parser<'_>, what: &str| {
            let end = p.pos;
            let mut stop = end;
            while p
                .bytes
                .get(stop)
                .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'))
            {
                stop += 1;
            }
            let text = String::from_utf8_lossy(&p.bytes[start..stop]).into_owned();
            p.pos = start;
            p.error(&format!("malformed number `{text}`: {what}"))
        };
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => {
                self.pos += 1;
                if self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    return Err(bad(self, "leading zero"));
                }
            }
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(bad(self, "expected a digit")),
        }
        let mut is_float = false;
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            is_float = true;
            if digits(self) == 0 {
                return Err(bad(self, "expected a digit after `.`"));
            }
        }
        if matches!(self.bytes.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            is_float = true;
            if matches!(self.bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(bad(self, "expected a digit in the exponent"));
            }
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("");
        if !is_float {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(ConfigValue::Int(i));
            }
            if let Ok(u) = text.parse::<u64>() {
                return Ok(ConfigValue::UInt(u));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(ConfigValue::Float(f)),
            _ => Err(bad(self, "out of range")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_point_at_line_and_column() {
        let err = parse(b"{\n  \"a\": 1,\n  \"b\": tru\n}").err();
        assert_eq!(err.map(|e| (e.line, e.column)), Some((3, 8)));
        let err = parse(b"{\"a\": 1").err().map(|e| e.message);
        assert_eq!(
            err.as_deref(),
            Some("expected `,` or `}` in object, found end of file")
        );
        assert!(parse(b"").is_err());
        assert!(parse(b"   ").is_err());
        assert!(parse(b"{} x").is_err());
        assert!(parse(b"[1,]").is_err());
    }

    #[test]
    fn strings_unescape_and_reject_bad_utf8() {
        let n = parse(br#""a\"\u00e9\ud83d\ude00""#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.as_str(), Some("a\"é😀"));
        assert!(parse(b"\"\xff\"").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn numbers() {
        let n = parse(b"[0, -3, 1.5, 2e3, 18446744073709551615]").unwrap_or_else(|e| panic!("{e}"));
        let kinds: Vec<_> = n
            .as_array()
            .unwrap_or_default()
            .iter()
            .map(ConfigNode::type_name)
            .collect();
        assert_eq!(kinds, ["integer", "integer", "float", "float", "integer"]);
        assert!(parse(b"-").is_err());
        assert!(parse(b"1e999").is_err());
    }
}
