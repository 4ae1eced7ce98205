//! Every crash, hang or slow input the fuzz targets (`fuzz/`, see `fuzz/README.md`) found, as a
//! test named after the bug. Inputs are the minimized fuzz artifacts, under
//! `fixtures/fuzz-regressions/` (or inline when a few bytes).
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::path::{Path, PathBuf};

use diag_core::LoadError;
use diag_core::model::DataKind;
use diag_core::model::data::parse_file;
use diag_core::rules::RuleSet;

fn input(name: &str) -> Vec<u8> {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/fuzz-regressions")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn lines_of(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count() + 1
}

/// meta_yaml: `user: tidb\ntidb` (no final newline) was refused "at line 3" of a 2-line file:
/// the YAML reader reports an error at the end of input one line past the last.
#[test]
fn meta_yaml_error_line_past_end() {
    let bytes = input("meta-yaml-error-line-past-end.yaml");
    match parse_file(DataKind::MetaYaml, "meta.yaml", &bytes) {
        Err(LoadError::Syntax { line, .. }) => {
            assert!(
                line >= 1 && line as usize <= lines_of(&bytes),
                "line {line}"
            )
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

/// rule_file: a rule file with lone `\r` bytes (YAML counts each as a line break) was refused
/// at line 34 of a 15-line file; the line an editor shows is what the error must name.
#[test]
fn rule_file_lone_cr_error_line() {
    let bytes = input("rule-file-lone-cr-error-line.yaml");
    let text = String::from_utf8(bytes.clone()).unwrap();
    let errors = RuleSet::from_files(vec![("r.yaml".into(), text)], "t").unwrap_err();
    assert!(!errors.errors.is_empty());
    for e in &errors.errors {
        assert!(e.line <= lines_of(&bytes), "{e}");
    }
}

/// log_lines: a backslash before a multi-byte character inside a quoted message or field
/// (`["a \é"]`, or `\` before invalid UTF-8 read as U+FFFD) sliced the line inside that
/// character and panicked; the text is now kept as written.
#[test]
fn log_backslash_before_multibyte() {
    use diag_core::model::log::{EntryReader, parse_header};
    let line = "[2023/01/10 11:00:00.000 +08:00] [FATAL] [server.rs:1] [\"a \\é b\"] [k=\"\\€\"]";
    let (_, header) = parse_header(line, false).expect("a unified header");
    assert_eq!(header.message, "a \\é b");
    assert_eq!(header.fields, vec![("k".to_string(), "\\€".to_string())]);
    // The fuzz artifact (first byte: the target's mode), read as a log file.
    let bytes = input("log-backslash-before-multibyte.log");
    let entries: Vec<_> = EntryReader::new(&bytes[1..], false)
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!entries.is_empty() && entries[0].line == 1);
}

/// slow_log (found while writing the target, by reading; the fuzz run had not reached it): a
/// statement line whose fourth byte falls inside a multi-byte character (`aéé;`) was sliced
/// there to test for `use ` and panicked.
#[test]
fn slow_log_statement_multibyte_prefix() {
    use diag_core::model::slowlog::SlowLogReader;
    let log = "# Time: 2024-01-01T00:00:00+08:00\n# Process_keys: 1\naéé;\n";
    let q: Vec<_> = SlowLogReader::new(log.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].sql, "aéé;");
}

/// log_lines: a line starting with an ANSI colour code followed by a multi-byte character
/// (not TiFlash's `ESC[…m[time]`) was sliced inside that character and panicked.
#[test]
fn log_ansi_then_multibyte() {
    use diag_core::model::log::{EntryReader, parse_header};
    assert!(parse_header("\u{1b}[0m\u{e9}]x", false).is_none());
    let bytes = input("log-ansi-then-multibyte.log");
    let entries: Vec<_> = EntryReader::new(&bytes[1..], false)
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!entries.is_empty());
}

/// db_vars_csv: a lone `\r` ends a CSV record, and it was also counted as a line, so rows and
/// errors named lines past the end of the file.
#[test]
fn csv_lone_cr_line_numbers() {
    let bytes = input("csv-lone-cr-line-numbers.csv");
    match parse_file(DataKind::DbVars, "db_vars/x.csv", &bytes) {
        Ok(tree) => {
            let rows = tree.root.get("rows").and_then(|r| r.as_array()).unwrap();
            for row in rows {
                assert!(
                    row.line as usize <= lines_of(&bytes),
                    "row at line {}",
                    row.line
                );
            }
        }
        Err(LoadError::Syntax { line, .. }) => assert!(line as usize <= lines_of(&bytes)),
        Err(e) => panic!("{e}"),
    }
}

/// db_vars_csv: records ended by lone `\r`s in a file without a newline all stand on line 1,
/// the line an editor counting `\n` shows; the target expected a new line per record. The rows
/// are kept, in order, each citing a line inside the file.
#[test]
fn csv_lone_cr_records_share_a_line() {
    let bytes = input("csv-lone-cr-records-share-a-line.csv");
    let tree = parse_file(DataKind::DbVars, "db_vars/x.csv", &bytes).unwrap();
    let rows = tree.root.get("rows").and_then(|r| r.as_array()).unwrap();
    assert!(rows.len() >= 2, "{} rows", rows.len());
    let mut previous = 1;
    for row in rows {
        assert!(row.line >= previous && row.line as usize <= lines_of(&bytes));
        previous = row.line;
    }
}

/// render: a control character (ESC, from a cluster name, rule text or message) reached the
/// JUnit report as is, and XML 1.0 has no way to write it: the file was not well-formed.
#[test]
fn junit_control_character() {
    use diag_core::engine::CheckOutcome;
    use diag_core::report::{Format, Renderer, ReportDocument};
    let cluster = diag_core::Cluster::open(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/minimal"),
    )
    .unwrap();
    let outcome: CheckOutcome = diag_core::engine::check(
        &cluster,
        &RuleSet::builtin(),
        &diag_core::engine::CheckOptions::default(),
    );
    let mut doc = ReportDocument::new(&cluster, &outcome);
    let fuzzed = String::from_utf8_lossy(&input("junit-control-character.txt")).into_owned();
    doc.cluster.name = format!("a\u{1b}b\u{1}{fuzzed}");
    let xml = Renderer::new().render(Format::Junit, &doc).unwrap();
    assert!(
        !xml.chars()
            .any(|c| c < ' ' && !matches!(c, '\t' | '\n' | '\r')),
        "a control character in the JUnit XML"
    );
    assert!(xml.contains("a\u{fffd}b\u{fffd}"));
}
