//! Host files: `insight.json`, `limits.conf`, `sysctl.conf` and `dmesg.log` (first byte picks
//! which) through `parse_file`, then the host's `source: system` and facts rules over a bundle
//! that holds the file beside the seed bundle's `cluster.json`.
//!
//! Beyond "no panic" it checks:
//! - `sysctl.conf`: every key and value is trimmed, keys non-empty unless written so, values
//!   carry their line; `limits.conf`: every row has exactly `domain type item value`, none
//!   holding whitespace; `dmesg.log`: one string per line of the text;
//! - an error names the file and a line within it;
//! - the built-in rules of every kind run over the bundle with this file without a panic, and
//!   every row that cites the file cites a line within it;
//! - under the time bound.
#![no_main]

use std::time::Instant;

use diag_core::bundle::ReadPlan;
use diag_core::model::DataKind;
use diag_core::model::data::parse_file;
use diag_core::model::value::ConfigValue;
use diag_core::{Cluster, LoadError};
use diag_fuzz::{MemSource, all_kinds, builtin_rules, check_on, fixtures};
use libfuzzer_sys::fuzz_target;

const KINDS: [(DataKind, &str); 4] = [
    (DataKind::Insight, "insight.json"),
    (DataKind::Limits, "limits.conf"),
    (DataKind::Sysctl, "sysctl.conf"),
    (DataKind::Dmesg, "dmesg.log"),
];

fn cluster_json() -> &'static [u8] {
    static JSON: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    JSON.get_or_init(|| std::fs::read(fixtures().join("minimal/cluster.json")).expect("fixture"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (kind, name) = KINDS[pick as usize % KINDS.len()];
    let file = format!("127.0.0.1/{name}");
    let start = Instant::now();
    let lines = rest.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    match parse_file(kind, &file, rest) {
        Ok(tree) => match kind {
            DataKind::Sysctl => {
                for (k, v) in tree.root.as_map().expect("sysctl is a map").iter() {
                    assert_eq!(k, k.trim(), "untrimmed key");
                    let text = v.as_str().expect("sysctl values are strings");
                    assert_eq!(text, text.trim(), "untrimmed value");
                    assert!(v.line >= 1 && v.line <= lines);
                }
            }
            DataKind::Limits => {
                for row in tree.root.as_array().expect("limits is a list") {
                    let map = row.as_map().expect("a limits row is a map");
                    assert_eq!(
                        map.keys().collect::<Vec<_>>(),
                        ["domain", "type", "item", "value"]
                    );
                    for v in map.values() {
                        let text = v.as_str().expect("strings");
                        assert!(
                            !text.is_empty() && !text.contains(char::is_whitespace),
                            "field {text:?}"
                        );
                    }
                }
            }
            DataKind::Dmesg => {
                let text = std::str::from_utf8(rest).expect("parsed text is UTF-8");
                assert_eq!(
                    tree.root.as_array().map(|a| a.len()),
                    Some(text.lines().count())
                );
            }
            _ => {
                let json = serde_json::to_string(&tree.root).expect("serializes");
                serde_json::from_str::<serde_json::Value>(&json).expect("insight parses back");
                assert!(
                    !matches!(tree.root.value, ConfigValue::Null) || rest.trim_ascii() == b"null"
                );
            }
        },
        Err(e) => {
            assert!(
                e.to_string().contains(&file),
                "error does not name the file: {e}"
            );
            if let LoadError::Syntax { line, .. } = e {
                assert!(
                    line <= lines,
                    "error line {line} past the end ({lines} lines)"
                );
            }
        }
    }
    let source = MemSource::new(vec![
        ("cluster.json".into(), cluster_json().to_vec()),
        (file.clone(), rest.to_vec()),
    ]);
    let cluster = Cluster::from_source(source.opened(), &ReadPlan::everything())
        .expect("the minimal bundle loads");
    let outcome = check_on(1, &cluster, builtin_rules(), &all_kinds());
    for f in &outcome.findings {
        for row in &f.rows {
            for e in row.evidence.iter().filter(|e| *e.file == *file) {
                assert!(
                    e.line as u64 <= lines as u64,
                    "{}: evidence at line {} of {lines}",
                    f.rule.name,
                    e.line
                );
            }
        }
    }
    diag_fuzz::within_bound(start, "parsing a host file and checking it");
});
