//! TiUP component config files (`conf/tikv.toml`, …) through `parse_file(ConfigFile)`, the way
//! `DataFile::tree` parses them.
//!
//! Beyond "no panic" it checks:
//! - accept/reject agrees with the `toml` crate on the same text (the reader adds no rule of
//!   its own: a TOML file it refuses is one TOML refuses, or not UTF-8 / binary);
//! - an error names the file and a line within the file (or 0 when TOML gives no span);
//! - the tree's root is a map with exactly the table's top-level keys, in the same number;
//! - under the time bound.
#![no_main]

use std::time::Instant;

use diag_core::LoadError;
use diag_core::model::DataKind;
use diag_core::model::data::parse_file;
use libfuzzer_sys::fuzz_target;

const FILE: &str = "127.0.0.1/tikv-20160/conf/tikv.toml";

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let parsed = parse_file(DataKind::ConfigFile, FILE, data);
    diag_fuzz::within_bound(start, "parsing TOML");
    let text = std::str::from_utf8(data)
        .ok()
        .filter(|t| !t.as_bytes().iter().take(8192).any(|&b| b == 0));
    let reference = text.map(|t| t.parse::<toml::Table>());
    match (&parsed, reference) {
        (Ok(tree), Some(Ok(table))) => {
            let map = tree.root.as_map().expect("a TOML root is a map");
            assert_eq!(map.len(), table.len(), "top-level key count");
            for key in table.keys() {
                assert!(map.contains_key(key), "key {key:?} lost");
            }
        }
        (Err(e), Some(Err(_))) | (Err(e), None) => {
            assert!(
                e.to_string().contains(FILE),
                "error does not name the file: {e}"
            );
            if let LoadError::Syntax { line, .. } = e {
                let lines = data.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
                assert!(
                    *line <= lines,
                    "error line {line} past the end ({lines} lines)"
                );
            }
        }
        (Ok(_), None) => panic!("accepted bytes that are not text"),
        (Ok(_), Some(Err(e))) => panic!("accepted what toml rejects: {e}"),
        (Err(e), Some(Ok(_))) => panic!("rejected what toml accepts: {e}"),
    }
});
