//! Files a bundle holds beside runtime configs, indexed at load and parsed only when asked.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use super::value::{ConfigMap, ConfigNode, ConfigTree, ConfigValue};
use crate::bundle::Source;
use crate::error::{Format, LoadError};

/// zstd frame magic: metrics files are compressed but keep their `.json` name.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// What kind of data a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DataKind {
    /// A component config file written by TiUP (`conf/tidb.toml`, …).
    ConfigFile,
    /// PD `conf/store.json` (`/pd/api/v1/stores`).
    PdStores,
    /// PD `conf/placement-rule.json`.
    PlacementRules,
    /// A component log.
    Log(LogKind),
    /// `<host>/insight.json`.
    Insight,
    /// `<host>/limits.conf`.
    Limits,
    /// `<host>/sysctl.conf`.
    Sysctl,
    /// `<host>/dmesg.log`.
    Dmesg,
    /// `<host>/ss.txt`.
    Sockets,
    /// `db_vars/*.csv`.
    DbVars,
    /// `monitor/alerts/**/alerts.json`.
    Alerts,
    /// `monitor/metrics/**` (possibly zstd-compressed).
    Metric,
    /// `tidbcluster.json` / `tidbmonitor.json` (Operator custom resources).
    CustomResource,
    /// TiUP `meta.yaml`.
    MetaYaml,
}

/// Log types as diag classifies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// The component's own log or its stderr (`tidb.log`, `tikv_stderr.log`).
    Std,
    /// TiDB slow query log.
    Slow,
    /// RocksDB `*.info` logs.
    Rocksdb,
    /// Anything else in the log folder.
    Unknown,
}

impl LogKind {
    /// Classifies by file name: `stderr` → std, `rocksdb*.info` → rocksdb, `slow` → slow,
    /// `*.log` (rotated or gzipped too) → std, else unknown.
    pub fn from_file_name(name: &str) -> LogKind {
        let lower = name.to_ascii_lowercase();
        if lower.contains("stderr") {
            LogKind::Std
        } else if lower.starts_with("rocksdb") && lower.ends_with(".info") {
            LogKind::Rocksdb
        } else if lower.contains("slow") {
            LogKind::Slow
        } else if lower.ends_with(".log") || lower.contains(".log.") || lower.ends_with(".log.gz") {
            LogKind::Std
        } else {
            LogKind::Unknown
        }
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataKind::Log(k) => write!(
                f,
                "log.{}",
                serde_json::to_value(k)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            ),
            other => f.write_str(
                serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .as_deref()
                    .unwrap_or("data"),
            ),
        }
    }
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
    /// Content put in place of the bundle's by [`DataFile::with_content`].
    replaced: Option<Arc<[u8]>>,
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
            replaced: None,
        }
    }

    /// For a metrics file (`monitor/metrics/<prom>/<metric>-<begin>-<end>[.<instance>].json`),
    /// the metric name.
    pub fn metric_name(&self) -> Option<&str> {
        if self.kind != DataKind::Metric {
            return None;
        }
        let name = self.path.rsplit('/').next().unwrap_or(&self.path);
        name.split('-').next().map(|n| n.trim_end_matches(".json"))
    }

    /// The raw bytes (metrics decompressed when they carry the zstd magic).
    pub fn bytes(&self) -> Result<Vec<u8>, LoadError> {
        if let Some(content) = &self.replaced {
            return Ok(content.to_vec());
        }
        let raw = self.source.read(&self.path)?;
        if raw.starts_with(&ZSTD_MAGIC) {
            let mut decoder =
                ruzstd::decoding::StreamingDecoder::new(raw.as_slice()).map_err(|e| {
                    LoadError::Encoding {
                        file: self.path.clone(),
                        message: format!("zstd frame header: {e}"),
                    }
                })?;
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut decoder, &mut out).map_err(|e| {
                LoadError::Encoding {
                    file: self.path.clone(),
                    message: format!("zstd data: {e}"),
                }
            })?;
            return Ok(out);
        }
        Ok(raw)
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
            replaced: Some(Arc::from(content)),
        }
    }

    fn parse(&self) -> Result<ConfigTree, LoadError> {
        parse_as(self.kind, &self.path, self.bytes()?)
    }
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

pub(crate) fn parse_toml(file: &str, bytes: Vec<u8>) -> Result<ConfigTree, LoadError> {
    let text = text_of(file, bytes)?;
    match text.parse::<toml::Table>() {
        Ok(table) => Ok(ConfigTree {
            file: Arc::from(file),
            root: ConfigNode::from(&toml::Value::Table(table)),
        }),
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

pub(crate) fn parse_yaml(file: &str, bytes: Vec<u8>) -> Result<ConfigTree, LoadError> {
    let text = text_of(file, bytes)?;
    if text.trim().is_empty() {
        return Err(LoadError::Empty {
            file: file.to_string(),
            expected: "a YAML document".into(),
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
                .map(|l| (l.line() as u32, l.column() as u32))
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
                *line += 1;
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
    fn log_kinds_by_name() {
        assert_eq!(LogKind::from_file_name("tidb_stderr.log"), LogKind::Std);
        assert_eq!(
            LogKind::from_file_name("tidb_slow_query.log"),
            LogKind::Slow
        );
        assert_eq!(LogKind::from_file_name("rocksdb.info"), LogKind::Rocksdb);
        assert_eq!(
            LogKind::from_file_name("tikv-2022-01-24T08-00-00.000.log"),
            LogKind::Std
        );
        assert_eq!(LogKind::from_file_name("core.123"), LogKind::Unknown);
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
