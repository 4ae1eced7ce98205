//! Files a bundle holds beside runtime configs, indexed at load and parsed only when asked.

use std::fmt;
use std::io::Read;
use std::sync::{Arc, OnceLock};

use super::value::{ConfigMap, ConfigNode, ConfigTree, ConfigValue};
use crate::bundle::Source;
use crate::bundle::stream::{Stored, WholeError, ZSTD_MAGIC, decompressing, read_whole};
use crate::error::{Format, LoadError};

pub use crate::bundle::kind::{DataKind, LogKind};

/// A file's stream whose read errors say which file.
struct Named<'a> {
    inner: Box<dyn Read + Send + 'a>,
    file: &'a str,
}

impl Read for Named<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.to_string().starts_with(self.file) {
                e
            } else {
                std::io::Error::new(e.kind(), format!("{}: {e}", self.file))
            }
        })
    }
}

/// `message` without the `<file>: ` that [`DataFile::reader`]'s errors start with, for errors
/// that name the file themselves.
pub(crate) fn without_file<'m>(file: &str, message: &'m str) -> &'m str {
    message
        .strip_prefix(file)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(message)
}

/// One indexed file. Parsing happens on first use and is remembered.
#[derive(Clone)]
pub struct DataFile {
    /// Bundle-relative path.
    pub path: String,
    /// Size in the bundle (uncompressed for archives; still zstd-compressed for metrics).
    pub size: u64,
    /// What it holds.
    pub kind: DataKind,
    source: Arc<dyn Source>,
    parsed: Arc<OnceLock<Result<Arc<ConfigTree>, LoadError>>>,
    /// Content given in memory (rule cases), served instead of the bundle's bytes.
    content: Option<Arc<[u8]>>,
}

impl fmt::Debug for DataFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataFile")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("size", &self.size)
            .finish()
    }
}

impl DataFile {
    pub(crate) fn new(
        source: Arc<dyn Source>,
        path: String,
        size: u64,
        kind: DataKind,
    ) -> DataFile {
        DataFile {
            path,
            size,
            kind,
            source,
            parsed: Arc::new(OnceLock::new()),
            content: None,
        }
    }

    /// For a metrics file (`monitor/metrics/<prom>/<metric>-<begin>-<end>[.<instance>].json`),
    /// the metric name.
    pub fn metric_name(&self) -> Option<&str> {
        if self.kind != DataKind::Metric {
            return None;
        }
        crate::bundle::plan::metric_name(&self.path)
    }

    /// Streams the content, decompressed when it starts with the zstd magic (metrics, alerts)
    /// or the gzip magic (rotated `*.log.gz`). Read errors name the file.
    ///
    /// ```
    /// use std::io::BufRead;
    /// let cluster = diag_core::Cluster::open("../../fixtures/diag-lili-fNTnz5MGhr6".as_ref()).unwrap();
    /// let log = cluster.instances.iter().flat_map(|i| &i.files)
    ///     .find(|f| matches!(f.kind, diag_core::model::DataKind::Log(_))).unwrap();
    /// let lines = std::io::BufReader::new(log.reader().unwrap()).lines().count();
    /// assert!(lines > 0);
    /// ```
    pub fn reader(&self) -> Result<Box<dyn Read + Send + '_>, LoadError> {
        // A rule case's replacement content is served in place of the bundle's file.
        let raw: Box<dyn Read + Send + '_> = match &self.content {
            Some(content) => Box::new(&content[..]),
            None => self.source.open(&self.path)?,
        };
        let stream = decompressing(raw).map_err(|cause| self.io_error(cause))?;
        Ok(Box::new(Named {
            inner: stream,
            file: &self.path,
        }))
    }

    fn io_error(&self, cause: std::io::Error) -> LoadError {
        LoadError::Io {
            path: self.path.clone().into(),
            cause,
        }
    }

    /// The whole content (decompressed as [`DataFile::reader`] does), for small files: refused
    /// past [`crate::bundle::Limits::max_read_bytes`].
    pub fn bytes(&self) -> Result<Vec<u8>, LoadError> {
        let mut out = Vec::new();
        self.bytes_into(&mut out)?;
        Ok(out)
    }

    /// [`DataFile::bytes`] into `out` (cleared first), so that a caller reading many files
    /// reuses one buffer.
    pub fn bytes_into(&self, out: &mut Vec<u8>) -> Result<(), LoadError> {
        out.clear();
        self.read_with(|bytes| out.extend_from_slice(bytes))
    }

    /// The whole content (as [`DataFile::bytes`] gives it) lent to `f`, from buffers the
    /// thread reuses with its zstd context: the way to read many small files (a metrics
    /// folder) without a context, a buffer and fresh pages per file.
    pub fn read_with<T>(&self, f: impl FnOnce(&[u8]) -> T) -> Result<T, LoadError> {
        let cap = self.source.limits().max_read_bytes;
        if self.size > cap {
            return Err(crate::bundle::read_too_large(&self.path, self.size, cap));
        }
        // A rule case's replacement content is served in place of the bundle's file.
        let stored = match &self.content {
            Some(content) => Stored::Memory(content),
            None => Stored::Stream(self.source.open(&self.path)?, self.size),
        };
        read_whole(stored, cap, f).map_err(|e| match e {
            WholeError::TooLarge(read) => crate::bundle::read_too_large(&self.path, read, cap),
            WholeError::Read(e) => {
                let message = without_file(&self.path, &e.to_string()).to_string();
                match e.kind() {
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::Other => {
                        LoadError::Encoding {
                            file: self.path.clone(),
                            message,
                        }
                    }
                    kind => self.io_error(std::io::Error::new(kind, message)),
                }
            }
        })
    }

    /// The content as UTF-8 text (logs, `dmesg.log`, `ss.txt`).
    pub fn text(&self) -> Result<String, LoadError> {
        let bytes = self.bytes()?;
        text_of(&self.path, bytes)
    }

    /// The content parsed into a tree: JSON files as they are, TOML tables, `meta.yaml`,
    /// `sysctl.conf` as a map, `limits.conf` as a list of `{domain,type,item,value}`, CSV as a
    /// list of rows keyed by header (and, for two-column variable dumps, `by_name`).
    pub fn tree(&self) -> Result<&ConfigTree, &LoadError> {
        self.parsed
            .get_or_init(|| self.parse().map(Arc::new))
            .as_ref()
            .map(|t| t.as_ref())
    }

    /// The parsed tree, shared (for views that outlive the borrow, such as Rhai's `doc`).
    pub fn shared_tree(&self) -> Result<Arc<ConfigTree>, &LoadError> {
        self.parsed
            .get_or_init(|| self.parse().map(Arc::new))
            .as_ref()
            .map(Arc::clone)
    }

    /// The same file with `content` in place of what the bundle holds, parsed as the file's
    /// kind would be (rule cases change files in memory; the bundle is never written).
    pub fn with_content(&self, content: &[u8]) -> DataFile {
        let parsed = OnceLock::new();
        let _ = parsed.set(parse_as(self.kind, &self.path, content.to_vec()).map(Arc::new));
        DataFile {
            path: self.path.clone(),
            size: content.len() as u64,
            kind: self.kind,
            source: Arc::clone(&self.source),
            parsed: Arc::new(parsed),
            content: Some(Arc::from(content)),
        }
    }

    /// A file that is not in the bundle, of `kind` at `path` with `content` (rule cases add
    /// metric and alert files in memory; the bundle is never written).
    pub(crate) fn in_memory(
        source: Arc<dyn Source>,
        path: String,
        kind: DataKind,
        content: &[u8],
    ) -> DataFile {
        DataFile::new(source, path, content.len() as u64, kind).with_content(content)
    }

    fn parse(&self) -> Result<ConfigTree, LoadError> {
        parse_as(self.kind, &self.path, self.bytes()?)
    }
}

/// Parses `bytes` as the bundle file `file` of `kind` is parsed by [`DataFile::tree`] (TOML and
/// JSON configs, `meta.yaml`, `sysctl.conf`, `limits.conf`, `db_vars` CSV, logs and `dmesg.log`
/// as lines, JSON documents such as `insight.json`), for callers that hold bytes rather than a
/// bundle (the fuzz targets).
///
/// ```
/// use diag_core::model::{DataKind, data::parse_file};
/// let tree = parse_file(DataKind::Sysctl, "127.0.0.1/sysctl.conf", b"vm.swappiness = 0\n").unwrap();
/// assert_eq!(tree.lookup("vm.swappiness").present().map(|n| n.to_text()), Some("0".into()));
/// ```
pub fn parse_file(kind: DataKind, file: &str, bytes: &[u8]) -> Result<ConfigTree, LoadError> {
    parse_as(kind, file, bytes.to_vec())
}

/// Parses the bytes of a file of `kind` at `file` into a tree.
fn parse_as(kind: DataKind, file: &str, bytes: Vec<u8>) -> Result<ConfigTree, LoadError> {
    match kind {
        DataKind::ConfigFile if file.ends_with(".json") => parse_json(file, &bytes),
        DataKind::ConfigFile => parse_toml(file, bytes),
        DataKind::MetaYaml => parse_yaml(file, bytes),
        DataKind::Sysctl => parse_sysctl(file, bytes),
        DataKind::Limits => parse_limits(file, bytes),
        DataKind::DbVars => parse_csv(file, bytes),
        DataKind::Log(_) | DataKind::Dmesg | DataKind::Sockets => {
            let text = text_of(file, bytes)?;
            let lines = text.lines().enumerate().map(|(i, l)| ConfigNode {
                value: ConfigValue::String(l.to_string()),
                line: i as u32 + 1,
            });
            Ok(ConfigTree {
                file: Arc::from(file),
                root: ConfigNode::new(ConfigValue::Array(lines.collect())),
            })
        }
        _ => parse_json(file, &bytes),
    }
}

pub(crate) fn text_of(file: &str, bytes: Vec<u8>) -> Result<String, LoadError> {
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(LoadError::Encoding {
            file: file.to_string(),
            message: "binary data (NUL bytes) where text was expected".into(),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        LoadError::Encoding {
            file: file.to_string(),
            message: format!("not valid UTF-8 (first bad byte at offset {at})"),
        }
    })
}

/// Parses JSON into a tree, mapping emptiness, binary junk and syntax errors to [`LoadError`].
pub(crate) fn parse_json(file: &str, bytes: &[u8]) -> Result<ConfigTree, LoadError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(LoadError::Empty {
            file: file.to_string(),
            expected: "a JSON document".into(),
        });
    }
    if bytes.starts_with(&ZSTD_MAGIC) || bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(LoadError::Encoding {
            file: file.to_string(),
            message: "binary data where JSON was expected".into(),
        });
    }
    ConfigTree::parse_json(file, bytes).map_err(|e| LoadError::Syntax {
        file: file.to_string(),
        format: Format::Json,
        line: e.line,
        column: e.column,
        message: e.message,
    })
}

fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0) as u32
        + 1;
    (line, column)
}

/// Gives each node of a TOML tree the line its key is written on (a table's: its header's or
/// its first dotted key's), so that rows reading a config file cite the line.
fn toml_lines(node: &mut ConfigNode, table: &toml::de::DeTable<'_>, newlines: &[usize]) {
    let ConfigValue::Map(map) = &mut node.value else {
        return;
    };
    for (key, value) in table.iter() {
        let Some(child) = map.get_mut(key.get_ref()) else {
            continue;
        };
        child.line = line_at(newlines, key.span().start);
        toml_value_lines(child, value, newlines);
    }
}

fn toml_value_lines(
    node: &mut ConfigNode,
    value: &toml::Spanned<toml::de::DeValue<'_>>,
    newlines: &[usize],
) {
    match (value.get_ref(), &mut node.value) {
        (toml::de::DeValue::Table(t), _) => toml_lines(node, t, newlines),
        (toml::de::DeValue::Array(items), ConfigValue::Array(nodes)) => {
            for (item, child) in items.iter().zip(nodes.iter_mut()) {
                child.line = line_at(newlines, item.span().start);
                toml_value_lines(child, item, newlines);
            }
        }
        _ => {}
    }
}

/// The 1-based line of a byte offset, given the offsets of the text's `\n`s.
fn line_at(newlines: &[usize], offset: usize) -> u32 {
    newlines.partition_point(|&n| n < offset) as u32 + 1
}

pub(crate) fn parse_toml(file: &str, bytes: Vec<u8>) -> Result<ConfigTree, LoadError> {
    let text = text_of(file, bytes)?;
    match text.parse::<toml::Table>() {
        Ok(table) => {
            let mut root = ConfigNode::from(&toml::Value::Table(table));
            // The same text again, for where each key is written (its values are the above).
            if let Ok(spans) = toml::de::DeTable::parse(&text) {
                let newlines: Vec<usize> = memchr::memchr_iter(b'\n', text.as_bytes()).collect();
                toml_lines(&mut root, spans.get_ref(), &newlines);
            }
            Ok(ConfigTree {
                file: Arc::from(file),
                root,
            })
        }
        Err(e) => {
            let (line, column) = e.span().map(|s| line_col(&text, s.start)).unwrap_or((0, 0));
            Err(LoadError::Syntax {
                file: file.to_string(),
                format: Format::Toml,
                line,
                column,
                message: e.message().to_string(),
            })
        }
    }
}

/// A YAML error's line, as an editor numbers lines: the YAML reader also breaks lines at a lone
/// `\r` and reports an error at the end of input one line past the last, so the line is held
/// to the file's `\n`-separated lines.
pub(crate) fn yaml_line(text: &str, line: usize) -> usize {
    line.min(memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1)
}

pub(crate) fn parse_yaml(file: &str, bytes: Vec<u8>) -> Result<ConfigTree, LoadError> {
    let text = text_of(file, bytes)?;
    if text.trim().is_empty() {
        return Err(LoadError::Empty {
            file: file.to_string(),
            expected: "a YAML document".into(),
        });
    }
    if let Some((line, column)) = super::yaml::too_deep(&text) {
        return Err(LoadError::Syntax {
            file: file.to_string(),
            format: Format::Yaml,
            line: line as u32,
            column: column as u32,
            message: super::yaml::too_deep_message(),
        });
    }
    match serde_yaml::from_str::<serde_yaml::Value>(&text) {
        Ok(v) => Ok(ConfigTree {
            file: Arc::from(file),
            root: ConfigNode::from(&v),
        }),
        Err(e) => {
            let (line, column) = e
                .location()
                .map(|l| (yaml_line(&text, l.line()) as u32, l.column() as u32))
                .unwrap_or((0, 0));
            let message = e.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            Err(LoadError::Syntax {
                file: file.to_string(),
                format: Format::Yaml,
                line,
                column,
                message,
            })
        }
    }
}

fn parse_sysctl(file: &str, bytes: Vec<u8>) -> Result<ConfigTree, LoadError> {
    let text = text_of(file, bytes)?;
    let mut map = ConfigMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(LoadError::Syntax {
                file: file.to_string(),
                format: Format::Text,
                line: line_no,
                column: 1,
                message: "expected `key = value`".into(),
            });
        };
        map.insert(
            key.trim().to_string(),
            ConfigNode {
                value: ConfigValue::String(value.trim().to_string()),
                line: line_no,
            },
        );
    }
    Ok(ConfigTree {
        file: Arc::from(file),
        root: ConfigNode {
            value: ConfigValue::Map(map),
            line: 1,
        },
    })
}

fn parse_limits(file: &str, bytes: Vec<u8>) -> Result<ConfigTree, LoadError> {
    let text = text_of(file, bytes)?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        let [domain, kind, item, value] = fields[..] else {
            return Err(LoadError::Syntax {
                file: file.to_string(),
                format: Format::Text,
                line: line_no,
                column: 1,
                message: format!(
                    "expected 4 fields `<domain> <type> <item> <value>`, found {}",
                    fields.len()
                ),
            });
        };
        let mut row = ConfigMap::new();
        for (k, v) in [
            ("domain", domain),
            ("type", kind),
            ("item", item),
            ("value", value),
        ] {
            row.insert(
                k.to_string(),
                ConfigNode {
                    value: ConfigValue::String(v.to_string()),
                    line: line_no,
                },
            );
        }
        rows.push(ConfigNode {
            value: ConfigValue::Map(row),
            line: line_no,
        });
    }
    Ok(ConfigTree {
        file: Arc::from(file),
        root: ConfigNode {
            value: ConfigValue::Array(rows),
            line: 1,
        },
    })
}

/// RFC 4180 fields of one record starting at `pos`; returns the fields and the next position.
fn csv_record(text: &str, mut pos: usize, line: &mut u32) -> Result<(Vec<String>, usize), String> {
    let bytes = text.as_bytes();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut start = pos;
    while pos < bytes.len() {
        let b = bytes[pos];
        if quoted {
            if b == b'"' {
                if bytes.get(pos + 1) == Some(&b'"') {
                    field.push_str(&text[start..pos + 1]);
                    pos += 2;
                    start = pos;
                    continue;
                }
                field.push_str(&text[start..pos]);
                quoted = false;
                pos += 1;
                start = pos;
                continue;
            }
            if b == b'\n' {
                *line += 1;
            }
            pos += 1;
            continue;
        }
        match b {
            b'"' if text[start..pos].is_empty() => {
                quoted = true;
                pos += 1;
                start = pos;
            }
            b',' => {
                field.push_str(&text[start..pos]);
                fields.push(std::mem::take(&mut field));
                pos += 1;
                start = pos;
            }
            b'\n' | b'\r' => {
                field.push_str(&text[start..pos]);
                fields.push(field);
                if b == b'\r' && bytes.get(pos + 1) == Some(&b'\n') {
                    pos += 1;
                }
                // A lone `\r` ends a record but not a line (editors number `\n` lines).
                if bytes.get(pos) == Some(&b'\n') {
                    *line += 1;
                }
                return Ok((fields, pos + 1));
            }
            _ => pos += 1,
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    field.push_str(&text[start..pos]);
    fields.push(field);
    Ok((fields, pos))
}

fn parse_csv(file: &str, bytes: Vec<u8>) -> Result<ConfigTree, LoadError> {
    let text = text_of(file, bytes)?;
    if text.trim().is_empty() {
        return Err(LoadError::Empty {
            file: file.to_string(),
            expected: "a CSV header row".into(),
        });
    }
    let mut line = 1u32;
    let syntax = |line: u32, message: String| LoadError::Syntax {
        file: file.to_string(),
        format: Format::Csv,
        line,
        column: 1,
        message,
    };
    let (header, mut pos) = csv_record(&text, 0, &mut line).map_err(|m| syntax(line, m))?;
    let mut rows = Vec::new();
    let mut by_name = ConfigMap::new();
    while pos < text.len() {
        let row_line = line;
        let (fields, next) = csv_record(&text, pos, &mut line).map_err(|m| syntax(row_line, m))?;
        pos = next;
        if fields.len() == 1 && fields[0].is_empty() {
            continue;
        }
        if fields.len() != header.len() {
            return Err(syntax(
                row_line,
                format!(
                    "expected {} fields as in the header, found {}",
                    header.len(),
                    fields.len()
                ),
            ));
        }
        if header.len() == 2 {
            by_name.insert(
                fields[0].clone(),
                ConfigNode {
                    value: ConfigValue::String(fields[1].clone()),
                    line: row_line,
                },
            );
        }
        let row = header
            .iter()
            .cloned()
            .zip(fields.into_iter().map(|f| ConfigNode {
                value: ConfigValue::String(f),
                line: row_line,
            }))
            .collect();
        rows.push(ConfigNode {
            value: ConfigValue::Map(row),
            line: row_line,
        });
    }
    let mut root = ConfigMap::new();
    root.insert(
        "rows".to_string(),
        ConfigNode::new(ConfigValue::Array(rows)),
    );
    root.insert(
        "by_name".to_string(),
        ConfigNode::new(ConfigValue::Map(by_name)),
    );
    Ok(ConfigTree {
        file: Arc::from(file),
        root: ConfigNode::new(ConfigValue::Map(root)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_keys_carry_the_line_they_are_written_on() {
        let text = "# TiUP header\nmark_cache_size = 1073741824\n\n[logger]\nlevel = \"info\"\n\n[profiles.default]\nmax_threads = 8\nflash.proxy.config = \"x\"\n\n[[hosts]]\nname = \"a\"\n[[hosts]]\nname = \"b\"\n";
        let t = parse_toml("conf/tiflash.toml", text.as_bytes().to_vec())
            .unwrap_or_else(|e| panic!("{e}"));
        let line = |p: &str| t.lookup(p).present().map(|n| n.line);
        assert_eq!(line("mark_cache_size"), Some(2));
        assert_eq!(line("logger"), Some(4));
        assert_eq!(line("logger.level"), Some(5));
        assert_eq!(line("profiles.default.max_threads"), Some(8));
        assert_eq!(line("profiles.default.flash.proxy.config"), Some(9));
        assert_eq!(line("hosts.0.name"), Some(12));
        assert_eq!(line("hosts.1.name"), Some(14));
    }

    #[test]
    fn csv_with_quotes_and_two_columns() {
        let t = parse_csv(
            "db_vars/mysql.tidb.csv",
            b"VARIABLE_NAME,VARIABLE_VALUE\ntikv_gc_life_time,10m0s\n\"a,b\",\"x\"\"y\"\n".to_vec(),
        );
        let t = t.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.lookup("by_name.tikv_gc_life_time")
                .present()
                .map(ConfigNode::to_text),
            Some("10m0s".into())
        );
        assert_eq!(
            t.lookup("rows.1.VARIABLE_VALUE")
                .present()
                .map(ConfigNode::to_text),
            Some("x\"y".into())
        );
        assert!(parse_csv("x.csv", b"a,b\n1\n".to_vec()).is_err());
    }

    #[test]
    fn limits_and_sysctl() {
        let t = parse_limits("h/limits.conf", b"tidb\tsoft\tnofile\t1000000\n".to_vec())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.lookup("0.value").present().map(ConfigNode::to_text),
            Some("1000000".into())
        );
        assert!(parse_limits("h/limits.conf", b"tidb soft\n".to_vec()).is_err());
        let t = parse_sysctl("h/sysctl.conf", b"vm.swappiness = 0\n".to_vec())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.root.get("vm.swappiness").map(ConfigNode::to_text),
            Some("0".into())
        );
    }
}
