//! The JSON reader (`diag_core::model::json::parse`), differential against serde_json.
//!
//! Beyond "no panic" it checks:
//! - same accept/reject as `serde_json::from_slice::<Value>` (after the UTF-8 BOM the reader
//!   skips; inputs serde_json refuses only for its 128-level recursion limit are not compared);
//! - same values: the tree serialized back equals serde_json's value (integers exactly, floats
//!   within 1e-15 relative, since serde_json's default float parser is not always correctly
//!   rounded; duplicate keys: the last value wins in both);
//! - line numbers: every node's line is within the document and no child starts before its
//!   parent;
//! - round trip: the compact text (`Display`) parses back to the same tree values;
//! - an input is read in under the time bound (wide objects, deep nesting, long strings).
#![no_main]

use std::time::Instant;

use diag_core::model::json::parse;
use diag_core::model::value::{ConfigNode, ConfigValue};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
                return i == j;
            }
            if let (Some(i), Some(j)) = (x.as_u64(), y.as_u64()) {
                return i == j;
            }
            let (f, g) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            f == g || ((f - g).abs() <= 1e-15 * f.abs().max(g.abs()))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn check_lines(node: &ConfigNode, parent: u32, last: u32) {
    assert!(
        node.line >= 1 && node.line <= last,
        "line {} outside 1..={last}",
        node.line
    );
    assert!(
        node.line >= parent,
        "child at line {} before its parent at {parent}",
        node.line
    );
    match &node.value {
        ConfigValue::Array(items) => items.iter().for_each(|n| check_lines(n, node.line, last)),
        ConfigValue::Map(map) => map.values().for_each(|n| check_lines(n, node.line, last)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let ours = parse(data);
    diag_fuzz::within_bound(start, "parsing JSON");
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let theirs = serde_json::from_slice::<Value>(body);
    match (&ours, &theirs) {
        (Ok(node), Ok(value)) => {
            let mine = serde_json::to_value(node).expect("a tree serializes");
            assert!(
                same(&mine, value),
                "values differ:\nours   {mine}\nserde  {value}"
            );
            let lines = data.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
            check_lines(node, 1, lines);
            let text = node.to_string();
            let again = parse(text.as_bytes()).expect("our own output parses");
            let again = serde_json::to_value(&again).expect("serializes");
            assert!(same(&again, &mine), "round trip differs: {text}");
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) if e.to_string().contains("recursion limit") => {}
        (Ok(node), Err(e)) => panic!("we accept what serde_json rejects ({e}): {node}"),
        (Err(e), Ok(value)) => panic!("we reject what serde_json accepts: {e}\n{value}"),
    }
});
