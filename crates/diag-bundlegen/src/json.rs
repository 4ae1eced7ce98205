//! An ordered JSON value and a writer that prints it the way diag saves runtime configs:
//! 2-space indentation, keys in insertion order, numbers exactly as the component printed them.

/// A JSON value whose maps keep insertion order and whose numbers keep their text (`0` vs `0.0`,
/// `9223372036854775807`).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as printed (Go prints a zero float64 as `0`, Rust as `0.0`).
    Num(String),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, in insertion order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// An integer.
    pub fn int(i: i64) -> Json {
        Json::Num(i.to_string())
    }

    /// A float printed as Rust prints it in TiKV configs: always with a fraction (`0.0`, `0.8`).
    pub fn rust_float(x: f64) -> Json {
        if x.fract() == 0.0 && x.abs() < 1e15 {
            Json::Num(format!("{x:.1}"))
        } else {
            Json::Num(format!("{x}"))
        }
    }

    /// A float printed as Go prints a float64: `0`, `0.8`, `1.1`.
    pub fn go_float(x: f64) -> Json {
        Json::Num(format!("{x}"))
    }

    /// A string.
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// An array of strings.
    pub fn strs(items: &[&str]) -> Json {
        Json::Arr(items.iter().map(|s| Json::str(*s)).collect())
    }

    /// The pretty text, ending with a newline.
    pub fn to_pretty(&self) -> String {
        let mut out = String::with_capacity(4096);
        write_value(self, 0, &mut out);
        out.push('\n');
        out
    }

    /// The compact text (Prometheus responses are one line).
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        write_compact(self, &mut out);
        out
    }
}

/// Builds an object: `obj().s("a", "x").i("b", 1).build()`.
#[derive(Debug, Default)]
pub struct ObjBuilder(Vec<(String, Json)>);

/// Starts an object.
pub fn obj() -> ObjBuilder {
    ObjBuilder::default()
}

impl ObjBuilder {
    /// Any value.
    pub fn v(mut self, key: &str, value: Json) -> Self {
        self.0.push((key.to_string(), value));
        self
    }
    /// A string.
    pub fn s(self, key: &str, value: impl Into<String>) -> Self {
        self.v(key, Json::Str(value.into()))
    }
    /// An integer.
    pub fn i(self, key: &str, value: i64) -> Self {
        self.v(key, Json::int(value))
    }
    /// A boolean.
    pub fn b(self, key: &str, value: bool) -> Self {
        self.v(key, Json::Bool(value))
    }
    /// A Rust-printed float.
    pub fn f(self, key: &str, value: f64) -> Self {
        self.v(key, Json::rust_float(value))
    }
    /// `null`.
    pub fn null(self, key: &str) -> Self {
        self.v(key, Json::Null)
    }
    /// The object.
    pub fn build(self) -> Json {
        Json::Obj(self.0)
    }
}

fn indent(depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_value(value: &Json, depth: usize, out: &mut String) {
    match value {
        Json::Arr(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                indent(depth + 1, out);
                write_value(item, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            indent(depth, out);
            out.push(']');
        }
        Json::Obj(entries) if !entries.is_empty() => {
            out.push_str("{\n");
            for (i, (key, item)) in entries.iter().enumerate() {
                indent(depth + 1, out);
                write_string(key, out);
                out.push_str(": ");
                write_value(item, depth + 1, out);
                out.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
            }
            indent(depth, out);
            out.push('}');
        }
        scalar => write_compact(scalar, out),
    }
}

fn write_compact(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Num(n) => out.push_str(n),
        Json::Str(s) => write_string(s, out),
        Json::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(item, out);
            }
            out.push(']');
        }
        Json::Obj(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_compact(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_diag_saves_configs() {
        let value = obj()
            .s("a", "x\"y")
            .v("empty", Json::Obj(vec![]))
            .v("list", Json::Arr(vec![Json::int(1), Json::rust_float(0.0)]))
            .v("go", Json::go_float(0.0))
            .build();
        assert_eq!(
            value.to_pretty(),
            "{\n  \"a\": \"x\\\"y\",\n  \"empty\": {},\n  \"list\": [\n    1,\n    0.0\n  ],\n  \"go\": 0\n}\n"
        );
        assert_eq!(
            value.to_compact(),
            r#"{"a":"x\"y","empty":{},"list":[1,0.0],"go":0}"#
        );
    }

    #[test]
    fn output_is_valid_json() {
        let value = obj()
            .s("k", "tab\there")
            .i("big", i64::MAX)
            .f("r", 0.8)
            .build();
        let parsed: serde_json::Value =
            serde_json::from_str(&value.to_pretty()).unwrap_or_default();
        assert_eq!(parsed["k"], "tab\there");
        assert_eq!(parsed["big"], i64::MAX);
    }
}
