//! Configuration values as a faithful tree: numbers keep integer vs float, keys keep their
//! spelling and order, and every node knows the line it came from.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use compact_str::CompactString;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::units::{UnitError, parse_duration, parse_size};

/// One value of a configuration or data file.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// JSON `null` (TOML and YAML have no counterpart except YAML `~`).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// An integer above `i64::MAX` (PD member ids are such).
    UInt(u64),
    /// A number written with a fraction or exponent.
    Float(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<ConfigNode>),
    /// An object / table, in file order.
    Map(ConfigMap),
}

/// Maps up to this many entries are searched in order; larger ones get a hash index.
const INDEX_FROM: usize = 24;

#[cfg(test)]
thread_local! {
    /// Key comparisons and index probes made by this thread's maps (for the cost tests).
    pub(crate) static PROBES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[inline]
fn probe(_n: usize) {
    #[cfg(test)]
    PROBES.with(|p| p.set(p.get() + _n as u64));
}

/// The entries of a map, in file order. Small maps (nearly all of them: there are hundreds of
/// thousands in a large bundle) are a flat list searched in order; a map past `INDEX_FROM` (24)
/// entries also keeps a hash index from key to position, so inserts and lookups stay O(1)
/// amortised however wide an object is. Keys are shared `Arc<str>`s: the JSON reader interns
/// them, so a thousand TiKV configs hold each key name once.
#[derive(Debug, Clone, Default)]
pub struct ConfigMap {
    entries: Vec<(Arc<str>, ConfigNode)>,
    // Boxed so the many small maps without an index stay one pointer wider, not six.
    #[allow(clippy::box_collection)]
    index: Option<Box<std::collections::HashMap<Arc<str>, usize, ahash::RandomState>>>,
}

impl PartialEq for ConfigMap {
    fn eq(&self, other: &ConfigMap) -> bool {
        self.entries == other.entries
    }
}

impl ConfigMap {
    /// An empty map.
    pub fn new() -> ConfigMap {
        ConfigMap::default()
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => {
                probe(1);
                index.get(key).copied()
            }
            None => {
                let found = self.entries.iter().position(|(k, _)| &**k == key);
                probe(found.map_or(self.entries.len(), |i| i + 1));
                found
            }
        }
    }

    fn build_index(&mut self) {
        let index = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        probe(self.entries.len());
        self.index = Some(Box::new(index));
    }

    fn push(&mut self, key: Arc<str>, value: ConfigNode) -> usize {
        let at = self.entries.len();
        if let Some(index) = &mut self.index {
            probe(1);
            index.insert(key.clone(), at);
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() > INDEX_FROM {
            self.build_index();
        }
        at
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&ConfigNode> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// The value under `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut ConfigNode> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key`, keeping its position when it exists (as a JSON object with a repeated key
    /// reads: the last value wins); returns the old value.
    pub fn insert(&mut self, key: impl Into<Arc<str>>, value: ConfigNode) -> Option<ConfigNode> {
        let key = key.into();
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.push(key, value);
                None
            }
        }
    }

    /// The value under `key`, inserted from `make` when absent.
    pub fn get_or_insert_with(
        &mut self,
        key: &str,
        make: impl FnOnce() -> ConfigNode,
    ) -> &mut ConfigNode {
        let index = match self.position(key) {
            Some(i) => i,
            None => self.push(Arc::from(key), make()),
        };
        &mut self.entries[index].1
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<ConfigNode> {
        let index = self.position(key)?;
        let (_, value) = self.entries.remove(index);
        if self.index.is_some() {
            self.build_index();
        }
        Some(value)
    }

    /// Entries in file order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &ConfigNode)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }

    /// Keys in file order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|(k, _)| &**k)
    }

    /// Values in file order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &ConfigNode> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops spare capacity once a map is complete.
    pub(crate) fn shrink(&mut self) {
        self.entries.shrink_to_fit();
        if let Some(index) = &mut self.index {
            index.shrink_to_fit();
        }
    }
}

impl<K: Into<Arc<str>>> FromIterator<(K, ConfigNode)> for ConfigMap {
    fn from_iter<I: IntoIterator<Item = (K, ConfigNode)>>(iter: I) -> ConfigMap {
        let mut map = ConfigMap::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

/// A value and the line (1-based; 0 when the format gives none) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigNode {
    /// The value.
    pub value: ConfigValue,
    /// Line in the source file, 0 when unknown.
    pub line: u32,
}

impl ConfigNode {
    /// A node without a known line.
    pub fn new(value: ConfigValue) -> ConfigNode {
        ConfigNode { value, line: 0 }
    }

    /// The type name used in messages: `null`, `bool`, `integer`, `float`, `string`, `array`, `map`.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            ConfigValue::Null => "null",
            ConfigValue::Bool(_) => "bool",
            ConfigValue::Int(_) | ConfigValue::UInt(_) => "integer",
            ConfigValue::Float(_) => "float",
            ConfigValue::String(_) => "string",
            ConfigValue::Array(_) => "array",
            ConfigValue::Map(_) => "map",
        }
    }

    /// Looks up a dotted path below this node (see [`ConfigTree::lookup`]).
    pub fn lookup(&self, path: &str) -> Lookup<'_> {
        if path.is_empty() {
            return Lookup::from_node(self);
        }
        lookup_rest(self, path)
    }

    /// The child of a map by exact key.
    pub fn get(&self, key: &str) -> Option<&ConfigNode> {
        match &self.value {
            ConfigValue::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            ConfigValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a map.
    pub fn as_map(&self) -> Option<&ConfigMap> {
        match &self.value {
            ConfigValue::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[ConfigNode]> {
        match &self.value {
            ConfigValue::Array(a) => Some(a),
            _ => None,
        }
    }

    /// An integer; accepts integral floats (`3.0`) and integer strings (`"3"`).
    pub fn to_int(&self) -> Result<i64, ValueError> {
        match &self.value {
            ConfigValue::Int(i) => Ok(*i),
            ConfigValue::UInt(u) => i64::try_from(*u).map_err(|_| self.mismatch("integer")),
            ConfigValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
            ConfigValue::String(s) => s.trim().parse().map_err(|_| self.mismatch("integer")),
            _ => Err(self.mismatch("integer")),
        }
    }

    /// A number as `f64`; accepts integers and numeric strings.
    pub fn to_float(&self) -> Result<f64, ValueError> {
        match &self.value {
            ConfigValue::Int(i) => Ok(*i as f64),
            ConfigValue::UInt(u) => Ok(*u as f64),
            ConfigValue::Float(f) => Ok(*f),
            ConfigValue::String(s) => s.trim().parse().map_err(|_| self.mismatch("number")),
            _ => Err(self.mismatch("number")),
        }
    }

    /// A boolean; accepts the strings `"true"` and `"false"` that PD prints for some switches.
    pub fn to_bool(&self) -> Result<bool, ValueError> {
        match &self.value {
            ConfigValue::Bool(b) => Ok(*b),
            ConfigValue::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            ConfigValue::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(self.mismatch("bool")),
        }
    }

    /// A size in bytes: a byte count, or a string like `"8GiB"` (KB = KiB = 1024, as diag reads them).
    pub fn to_size(&self) -> Result<u64, ValueError> {
        match &self.value {
            ConfigValue::Int(i) if *i >= 0 => Ok(*i as u64),
            ConfigValue::UInt(u) => Ok(*u),
            ConfigValue::String(s) => parse_size(s).map_err(|e| self.unit_mismatch("size", e)),
            _ => Err(self.mismatch("size")),
        }
    }

    /// A duration: a string like `"1h0m0s"`, `"10ms"` or `"1d2h3m"`, or `0`.
    pub fn to_duration(&self) -> Result<Duration, ValueError> {
        match &self.value {
            ConfigValue::Int(0) => Ok(Duration::ZERO),
            ConfigValue::String(s) => {
                parse_duration(s).map_err(|e| self.unit_mismatch("duration", e))
            }
            _ => Err(self.mismatch("duration")),
        }
    }

    /// The value as text, the way reports print it: strings bare, arrays joined by `,`,
    /// maps as compact JSON.
    pub fn to_text(&self) -> String {
        self.text().into()
    }

    /// [`ConfigNode::to_text`] as a [`CompactString`]: up to 24 bytes without a heap block
    /// (what result rows keep of each value).
    pub fn text(&self) -> CompactString {
        use std::fmt::Write as _;
        let mut out = CompactString::default();
        // Writing to a CompactString cannot fail.
        let _ = match &self.value {
            ConfigValue::String(s) => out.write_str(s),
            ConfigValue::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
                if i > 0 {
                    out.write_char(',')?;
                }
                out.write_str(&item.text())
            }),
            _ => write!(out, "{self}"),
        };
        out
    }

    fn mismatch(&self, expected: &'static str) -> ValueError {
        ValueError {
            expected,
            found: format!("{} {}", self.type_name(), self),
            line: self.line,
            detail: None,
        }
    }

    fn unit_mismatch(&self, expected: &'static str, e: UnitError) -> ValueError {
        ValueError {
            expected,
            found: format!("{} {}", self.type_name(), self),
            line: self.line,
            detail: Some(e.reason),
        }
    }
}

/// A value that has the wrong type for how a rule reads it. Never fatal: the rule's row for that
/// instance becomes an error, the rest go on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("expected {expected}, found {found}{}", detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
pub struct ValueError {
    /// What the reader wanted: `integer`, `number`, `bool`, `size`, `duration`.
    pub expected: &'static str,
    /// The type and text of what was there.
    pub found: String,
    /// Line of the value in its file, 0 when unknown.
    pub line: u32,
    /// Extra detail from the unit parser.
    pub detail: Option<String>,
}

/// The result of a path lookup: present, explicitly null, or missing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lookup<'a> {
    /// The path holds a non-null value.
    Present(&'a ConfigNode),
    /// The path holds `null`.
    Null(&'a ConfigNode),
    /// Some segment of the path does not exist.
    Missing,
}

impl<'a> Lookup<'a> {
    fn from_node(node: &'a ConfigNode) -> Lookup<'a> {
        match node.value {
            ConfigValue::Null => Lookup::Null(node),
            _ => Lookup::Present(node),
        }
    }

    /// The node when present (not null, not missing).
    pub fn present(self) -> Option<&'a ConfigNode> {
        match self {
            Lookup::Present(n) => Some(n),
            _ => None,
        }
    }
}

/// Where a dotted path was found in the last tree [`ConfigTree::lookup_via`] looked it up in:
/// the position of the entry at each level, when every segment was a key of its own (what
/// [`ConfigTree::lookup`] tries first). Configs of one component share their shape, so the
/// next tree usually has each key at the same position: checking those keys is cheaper than
/// searching each map.
#[derive(Debug, Clone, Default)]
pub(crate) struct Route {
    at: Vec<u32>,
}

/// Looks up `rest`, the `.`-separated segments still to walk below `node` (one segment,
/// perhaps empty, at least), without allocating: a key joining several segments is a slice of
/// the path.
fn lookup_rest<'a>(node: &'a ConfigNode, rest: &str) -> Lookup<'a> {
    match &node.value {
        ConfigValue::Map(map) => {
            // Keys may themselves contain dots (labels, store addresses): try the shortest key
            // first, then longer joins of the following segments.
            let ends = rest
                .match_indices('.')
                .map(|(at, _)| at)
                .chain(std::iter::once(rest.len()));
            for end in ends {
                if let Some(child) = map.get(&rest[..end]) {
                    let found = if end == rest.len() {
                        Lookup::from_node(child)
                    } else {
                        lookup_rest(child, &rest[end + 1..])
                    };
                    if !matches!(found, Lookup::Missing) {
                        return found;
                    }
                }
            }
            Lookup::Missing
        }
        ConfigValue::Array(items) => {
            let (first, after) = match rest.split_once('.') {
                Some((first, after)) => (first, Some(after)),
                None => (rest, None),
            };
            match (
                first.parse::<usize>().ok().and_then(|i| items.get(i)),
                after,
            ) {
                (Some(child), Some(after)) => lookup_rest(child, after),
                (Some(child), None) => Lookup::from_node(child),
                (None, _) => Lookup::Missing,
            }
        }
        _ => Lookup::Missing,
    }
}

/// The node `path` names below `node` if each of its segments is the key at `at`'s position
/// in turn (keys are unique in a map, so this is the node that key names).
fn follow<'a>(node: &'a ConfigNode, path: &str, at: &[u32]) -> Option<&'a ConfigNode> {
    let mut segments = path.split('.');
    let mut node = node;
    for &i in at {
        let segment = segments.next()?;
        let ConfigValue::Map(map) = &node.value else {
            return None;
        };
        let (key, child) = map.entries.get(i as usize)?;
        if **key != *segment {
            return None;
        }
        node = child;
    }
    segments.next().is_none().then_some(node)
}

/// A parsed file: its bundle-relative path and its root value.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigTree {
    /// Path of the file inside the bundle (`/`-separated).
    pub file: Arc<str>,
    /// The root value (a map for every config format).
    pub root: ConfigNode,
}

impl ConfigTree {
    /// Looks up a dotted path: `log.file.max-days`, `schedule.store-limit.1.add-peer`
    /// (map keys that are store ids), `rocksdb.defaultcf.compression-per-level.0` (array index).
    ///
    /// ```
    /// use diag_core::model::value::{ConfigTree, Lookup};
    /// let tree = ConfigTree::parse_json("conf/config.json", br#"{"log": {"file": {"max-days": 0}}, "x": null}"#).unwrap();
    /// assert!(matches!(tree.lookup("log.file.max-days"), Lookup::Present(n) if n.to_int() == Ok(0)));
    /// assert!(matches!(tree.lookup("x"), Lookup::Null(_)));
    /// assert!(matches!(tree.lookup("log.file.max-size"), Lookup::Missing));
    /// ```
    pub fn lookup(&self, path: &str) -> Lookup<'_> {
        self.root.lookup(path)
    }

    /// [`ConfigTree::lookup`], guided by (and updating) where `path` was found in a tree before:
    /// the same result, in fewer comparisons when the trees are alike.
    pub(crate) fn lookup_via(&self, path: &str, route: &mut Route) -> Lookup<'_> {
        if path.is_empty() {
            return self.lookup(path);
        }
        if !route.at.is_empty()
            && let Some(node) = follow(&self.root, path, &route.at)
        {
            return Lookup::from_node(node);
        }
        // Each segment a key of its own: the way `lookup` tries first, and then takes when it
        // leads to a node. Any other way (arrays, keys with dots) is left to `lookup`.
        route.at.clear();
        let mut node = &self.root;
        for segment in path.split('.') {
            let ConfigValue::Map(map) = &node.value else {
                route.at.clear();
                return self.lookup(path);
            };
            let Some(i) = map.position(segment) else {
                route.at.clear();
                return self.lookup(path);
            };
            route.at.push(i as u32);
            node = &map.entries[i].1;
        }
        Lookup::from_node(node)
    }

    /// Parses JSON with line numbers (see [`super::json::parse`]).
    pub fn parse_json(file: &str, bytes: &[u8]) -> Result<ConfigTree, super::json::SyntaxError> {
        Ok(ConfigTree {
            file: Arc::from(file),
            root: super::json::parse(bytes)?,
        })
    }
}

impl fmt::Display for ConfigNode {
    /// Compact JSON, numbers as written (integers without a fraction).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            ConfigValue::Null => f.write_str("null"),
            ConfigValue::Bool(b) => write!(f, "{b}"),
            ConfigValue::Int(i) => write!(f, "{i}"),
            ConfigValue::UInt(u) => write!(f, "{u}"),
            ConfigValue::Float(x) => write!(f, "{x}"),
            ConfigValue::String(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            ConfigValue::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            ConfigValue::Map(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{v}", serde_json::Value::String(k.to_string()))?;
                }
                f.write_str("}")
            }
        }
    }
}

impl Serialize for ConfigNode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.value {
            ConfigValue::Null => s.serialize_unit(),
            ConfigValue::Bool(b) => s.serialize_bool(*b),
            ConfigValue::Int(i) => s.serialize_i64(*i),
            ConfigValue::UInt(u) => s.serialize_u64(*u),
            ConfigValue::Float(x) => s.serialize_f64(*x),
            ConfigValue::String(v) => s.serialize_str(v),
            ConfigValue::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            ConfigValue::Map(map) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, v) in map.iter() {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

impl From<&toml::Value> for ConfigNode {
    fn from(v: &toml::Value) -> ConfigNode {
        let value = match v {
            toml::Value::String(s) => ConfigValue::String(s.clone()),
            toml::Value::Integer(i) => ConfigValue::Int(*i),
            toml::Value::Float(f) => ConfigValue::Float(*f),
            toml::Value::Boolean(b) => ConfigValue::Bool(*b),
            toml::Value::Datetime(d) => ConfigValue::String(d.to_string()),
            toml::Value::Array(a) => ConfigValue::Array(a.iter().map(ConfigNode::from).collect()),
            toml::Value::Table(t) => ConfigValue::Map(
                t.iter()
                    .map(|(k, v)| (k.clone(), ConfigNode::from(v)))
                    .collect(),
            ),
        };
        ConfigNode::new(value)
    }
}

impl From<&serde_yaml::Value> for ConfigNode {
    fn from(v: &serde_yaml::Value) -> ConfigNode {
        let value = match v {
            serde_yaml::Value::Null => ConfigValue::Null,
            serde_yaml::Value::Bool(b) => ConfigValue::Bool(*b),
            serde_yaml::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    ConfigValue::Int(i)
                } else if let Some(u) = n.as_u64() {
                    ConfigValue::UInt(u)
                } else {
                    ConfigValue::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_yaml::Value::String(s) => ConfigValue::String(s.clone()),
            serde_yaml::Value::Sequence(items) => {
                ConfigValue::Array(items.iter().map(ConfigNode::from).collect())
            }
            serde_yaml::Value::Mapping(m) => ConfigValue::Map(
                m.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            serde_yaml::Value::String(s) => s.clone(),
                            other => ConfigNode::from(other).to_text(),
                        };
                        (key, ConfigNode::from(v))
                    })
                    .collect(),
            ),
            serde_yaml::Value::Tagged(t) => return ConfigNode::from(&t.value),
        };
        ConfigNode::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(json: &str) -> ConfigTree {
        ConfigTree::parse_json("t.json", json.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn store_id_keys_and_array_indexes() {
        let t = tree(r#"{"schedule":{"store-limit":{"1":{"add-peer":15}}},"levels":["no","lz4"]}"#);
        assert_eq!(
            t.lookup("schedule.store-limit.1.add-peer")
                .present()
                .map(|n| n.to_int()),
            Some(Ok(15))
        );
        assert_eq!(
            t.lookup("levels.1").present().map(ConfigNode::to_text),
            Some("lz4".into())
        );
        assert_eq!(t.lookup("levels.2"), Lookup::Missing);
    }

    #[test]
    fn keys_containing_dots_are_found() {
        let t = tree(r#"{"labels":{"zone.name":{"x":1}}}"#);
        assert_eq!(
            t.lookup("labels.zone.name.x").present().map(|n| n.to_int()),
            Some(Ok(1))
        );
    }

    #[test]
    fn lookup_without_allocating_keeps_empty_segments_and_backtracking() {
        // Empty segments are keys like any other; a shorter key whose subtree lacks the rest
        // gives way to a longer one.
        let t = tree(r#"{"a":{"":1,"x":{}},"a.x":{"y":2},"l":[{"k":3}]}"#);
        let int = |path: &str| t.lookup(path).present().map(|n| n.to_int());
        assert_eq!(int("a."), Some(Ok(1)));
        assert_eq!(int("a.x.y"), Some(Ok(2)));
        assert_eq!(int("l.0.k"), Some(Ok(3)));
        assert!(matches!(t.lookup("l.0"), Lookup::Present(_)));
        assert!(matches!(t.lookup("l."), Lookup::Missing));
        assert!(matches!(t.lookup("a.x.z"), Lookup::Missing));
    }

    #[test]
    fn a_routed_lookup_finds_what_lookup_finds_in_trees_of_any_shape() {
        let trees = [
            r#"{"a":{"b":1,"c":null},"l":[{"k":3}],"a.x":{"y":2}}"#,
            // The same keys at other positions, and a key that is gone.
            r#"{"l":[{"k":4}],"a":{"c":7,"b":"s"}}"#,
            // A dotted key where a segment used to be a key of its own, and back again.
            r#"{"a.b":5,"a":{"x":{}},"a.x":{"y":6}}"#,
            r#"{"a":{"b":1,"c":null},"l":[{"k":3}],"a.x":{"y":2}}"#,
            r#"{"a":3}"#,
            r#"{}"#,
        ];
        let paths = ["a.b", "a.c", "l.0.k", "a.x.y", "a", "a.", "", "a.b.c", "z"];
        let mut routes: Vec<Route> = paths.iter().map(|_| Route::default()).collect();
        for (round, json) in trees.iter().chain(trees.iter().rev()).enumerate() {
            let t = tree(json);
            for (path, route) in paths.iter().zip(&mut routes) {
                // The very node, not an equal one.
                let at = |l: Lookup<'_>| match l {
                    Lookup::Present(n) => Some((true, n as *const ConfigNode)),
                    Lookup::Null(n) => Some((false, n as *const ConfigNode)),
                    Lookup::Missing => None,
                };
                assert_eq!(
                    at(t.lookup_via(path, route)),
                    at(t.lookup(path)),
                    "{path:?} in {json} (round {round})"
                );
            }
        }
    }

    #[test]
    fn string_booleans_and_wrong_types() {
        let t = tree(r#"{"a":"false","b":"32GiB","c":1.5}"#);
        assert_eq!(
            t.lookup("a").present().map(|n| n.to_bool()),
            Some(Ok(false))
        );
        let err = t
            .lookup("b")
            .present()
            .map(|n| n.to_int().map_err(|e| e.to_string()));
        assert_eq!(
            err,
            Some(Err("expected integer, found string \"32GiB\"".to_string()))
        );
        assert_eq!(
            t.lookup("b").present().map(|n| n.to_size()),
            Some(Ok(32 << 30))
        );
        assert!(t.lookup("c").present().is_some_and(|n| n.to_int().is_err()));
    }

    #[test]
    fn integers_and_floats_stay_apart() {
        let t = tree(r#"{"i":0,"f":0.0,"big":12560588131650445528}"#);
        assert_eq!(
            t.lookup("i").present().map(ConfigNode::type_name),
            Some("integer")
        );
        assert_eq!(
            t.lookup("f").present().map(ConfigNode::type_name),
            Some("float")
        );
        assert_eq!(
            t.lookup("big").present().map(ConfigNode::to_string),
            Some("12560588131650445528".into())
        );
    }
}

#[cfg(test)]
mod cost_tests {
    use super::PROBES;

    /// Key comparisons and index probes to parse one JSON object of `n` distinct keys.
    fn probes_to_parse(n: usize) -> u64 {
        let mut doc = String::from("{");
        for i in 0..n {
            if i > 0 {
                doc.push(',');
            }
            doc.push_str(&format!("\"key-{i}\": {i}"));
        }
        doc.push('}');
        PROBES.with(|p| p.set(0));
        let parsed = crate::model::json::parse(doc.as_bytes());
        assert_eq!(
            parsed.ok().and_then(|n| n.as_map().map(|m| m.len())),
            Some(n)
        );
        PROBES.with(|p| p.get())
    }

    /// A map insert was a linear search: a 200,000-key object took over a minute. Cost must be
    /// linear in the keys: ten times the keys, at most twelve times the work.
    #[test]
    fn wide_object_insert_is_linear_not_quadratic() {
        let small = probes_to_parse(20_000);
        let large = probes_to_parse(200_000);
        assert!(
            large <= small * 12,
            "20k keys: {small} probes, 200k keys: {large} probes ({:.1}×)",
            large as f64 / small as f64
        );
        // And a small map costs no more than its flat search.
        assert!(probes_to_parse(10) <= 10 * 11 / 2);
    }
}
