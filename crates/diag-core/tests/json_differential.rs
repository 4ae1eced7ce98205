//! The model's JSON reader accepts exactly what JSON accepts: over generated documents (valid
//! ones, and valid ones with one mutation of the kind real files and hand edits have), it agrees
//! with `serde_json` on accept/reject, and on the value whenever both accept.

use diag_core::model::{ConfigNode, ConfigValue, json};

/// splitmix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WHITESPACE: [&str; 6] = ["", "", " ", "\n", "\t", "\r\n  "];

const NUMBERS: [&str; 22] = [
    "0",
    "-0",
    "7",
    "-12",
    "1.5",
    "-0.25",
    "2e3",
    "1E-7",
    "6.02e+23",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "0.1",
    "3.0",
    "1e308",
    "4.9e-324",
    "100",
    "0e0",
    "-1.0E2",
];

const STRINGS: [&str; 14] = [
    "",
    "a",
    "tikv",
    "log.file.max-days",
    "1h0m0s",
    "32GiB",
    "\\\"quoted\\\"",
    "tab\\tnew\\nline",
    "\\u00e9t\\u00E9",
    "\\ud83d\\ude00",
    "é ü 漢字",
    "back\\\\slash",
    "\\/slash",
    "\\b\\f\\r",
];

fn value(rng: &mut Rng, depth: usize, out: &mut String) {
    let ws = |rng: &mut Rng, out: &mut String| out.push_str(rng.pick(&WHITESPACE));
    let choice = if depth > 6 {
        rng.below(5)
    } else {
        rng.below(8)
    };
    match choice {
        0 => out.push_str(rng.pick(&NUMBERS)),
        1 => {
            out.push('"');
            out.push_str(rng.pick(&STRINGS));
            out.push('"');
        }
        2 => out.push_str(rng.pick(&["true", "false", "null"])),
        3 | 4 => out.push_str(rng.pick(&NUMBERS)),
        5 => {
            out.push('[');
            let n = rng.below(5);
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, out);
                value(rng, depth + 1, out);
                ws(rng, out);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            let n = rng.below(6);
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, out);
                out.push('"');
                // Few distinct keys, so duplicates happen.
                out.push_str(rng.pick(&["a", "b", "key", "raftstore", "a.b", "é", ""]));
                out.push('"');
                ws(rng, out);
                out.push(':');
                ws(rng, out);
                value(rng, depth + 1, out);
            }
            ws(rng, out);
            out.push('}');
        }
    }
}

/// Snippets that are not JSON (or are, in odd spellings), inserted at random places.
const MUTATIONS: [&str; 40] = [
    "01",
    "-01",
    "1.",
    ".5",
    "-.5",
    "1.e3",
    "1e",
    "1e+",
    "+1",
    "-",
    "0x10",
    "NaN",
    "Infinity",
    "-Infinity",
    ",",
    ",]",
    ",}",
    "[",
    "]",
    "{",
    "}",
    ":",
    "\"",
    "\\",
    "\"\\ud800\"",
    "\"\\udc00\"",
    "\"\\ud800\\u0041\"",
    "\"\\ud800x\"",
    "\"\\u12\"",
    "\"\\u+123\"",
    "\"\\x41\"",
    "\"\u{1}\"",
    "tru",
    "nul",
    "True",
    "1e999",
    "-1e999",
    "00",
    "\u{7f}",
    "'a'",
];

fn mutate(rng: &mut Rng, doc: &str) -> Vec<u8> {
    let mut bytes = doc.as_bytes().to_vec();
    let at = rng.below(bytes.len() + 1);
    match rng.below(4) {
        0 => {
            let snippet = rng.pick(&MUTATIONS);
            bytes.splice(at..at, snippet.bytes());
        }
        1 if at < bytes.len() => {
            bytes.remove(at);
        }
        2 if at < bytes.len() => {
            let snippet = rng.pick(&MUTATIONS);
            bytes.splice(at..at + 1, snippet.bytes());
        }
        _ => {
            let byte = [b',', b'.', b'e', b'0', b'-', b'"', b'\\', 0xFF, 0x00][rng.below(9)];
            bytes.insert(at, byte);
        }
    }
    bytes
}

fn same(ours: &ConfigNode, theirs: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (&ours.value, theirs) {
        (ConfigValue::Null, Value::Null) => true,
        (ConfigValue::Bool(a), Value::Bool(b)) => a == b,
        (ConfigValue::Int(a), Value::Number(b)) => {
            b.as_i64() == Some(*a) || b.as_f64() == Some(*a as f64)
        }
        (ConfigValue::UInt(a), Value::Number(b)) => b.as_u64() == Some(*a),
        (ConfigValue::Float(a), Value::Number(b)) => b.as_f64().is_some_and(|b| {
            // serde_json's default float parser may differ in the last bit.
            a == &b || ((a - b) / b).abs() < 1e-15
        }),
        (ConfigValue::String(a), Value::String(b)) => a == b,
        (ConfigValue::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (ConfigValue::Map(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|theirs| same(v, theirs)))
        }
        _ => false,
    }
}

#[test]
fn the_reader_accepts_and_rejects_what_serde_json_does() {
    let mut rng = Rng(0x005E_ED0F_D1A6);
    let (mut accepted, mut rejected) = (0, 0);
    for i in 0..30_000 {
        let mut doc = String::new();
        doc.push_str(rng.pick(&WHITESPACE));
        value(&mut rng, 0, &mut doc);
        doc.push_str(rng.pick(&WHITESPACE));
        let bytes = if i % 3 == 0 {
            doc.into_bytes()
        } else {
            mutate(&mut rng, &doc)
        };
        let ours = json::parse(&bytes);
        let theirs = serde_json::from_slice::<serde_json::Value>(&bytes);
        let shown = String::from_utf8_lossy(&bytes);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => {
                assert!(
                    same(a, b),
                    "values differ for {shown:?}: ours {a:?}, serde_json {b}"
                );
                accepted += 1;
            }
            (Err(_), Err(_)) => rejected += 1,
            (Ok(a), Err(e)) => panic!("we accept {shown:?} as {a:?}; serde_json: {e}"),
            (Err(e), Ok(b)) => panic!("we reject {shown:?} ({e}); serde_json reads {b}"),
        }
    }
    // Both sides of the grammar were exercised.
    assert!(
        accepted > 5_000 && rejected > 5_000,
        "{accepted} accepted, {rejected} rejected"
    );
}

#[test]
fn what_json_rejects_is_rejected_with_a_reason() {
    for doc in [
        "01",
        "1.",
        ".5",
        "[1,]",
        "{\"a\":1,}",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "-",
        "1e",
        "+1",
        "[01]",
        "\"\\u+123\"",
    ] {
        let err = json::parse(doc.as_bytes());
        assert!(err.is_err(), "{doc} was accepted as {err:?}");
    }
}
