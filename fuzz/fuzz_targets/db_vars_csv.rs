//! `db_vars/*.csv` (TiDB system variables dumped as CSV) through `parse_file(DbVars)`.
//!
//! Beyond "no panic" it checks:
//! - a parsed file is `{rows: [...], ...}`: every row is a map keyed by the header's columns,
//!   all rows as wide as each other (one header), all values strings;
//! - row lines are non-decreasing (a lone `\r` ends a record too) and within the file;
//! - an error names the file and a line within it;
//! - under the time bound (quotes, long fields, many rows).
#![no_main]

use std::time::Instant;

use diag_core::LoadError;
use diag_core::model::DataKind;
use diag_core::model::data::parse_file;
use diag_core::model::value::ConfigValue;
use libfuzzer_sys::fuzz_target;

const FILE: &str = "db_vars/tidb_vars.csv";

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let parsed = parse_file(DataKind::DbVars, FILE, data);
    diag_fuzz::within_bound(start, "parsing CSV");
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    match parsed {
        Ok(tree) => {
            let root = tree.root.as_map().expect("a CSV tree is a map");
            let rows = root.get("rows").and_then(|r| r.as_array()).expect("rows");
            let mut previous = 0;
            let mut width = None;
            for row in rows {
                let map = row.as_map().expect("a row is a map");
                // Non-decreasing, not increasing: the CSV reader ends a record at a lone `\r`
                // too, while lines count `\n` only, so two records can share a line.
                assert!(
                    row.line >= previous.max(1) && row.line <= lines,
                    "row at line {} after {previous}",
                    row.line
                );
                previous = row.line;
                let w = *width.get_or_insert(map.len());
                assert_eq!(map.len(), w, "rows of one header with different widths");
                for v in map.values() {
                    assert!(
                        matches!(v.value, ConfigValue::String(_)),
                        "a CSV value that is not a string"
                    );
                }
            }
        }
        Err(e) => {
            assert!(
                e.to_string().contains(FILE),
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
});
