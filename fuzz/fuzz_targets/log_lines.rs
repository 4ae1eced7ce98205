//! Unified-log lines (and their JSON, RocksDB, legacy, TiFlash and panic variants; `dmesg.log`
//! when the first byte is odd) through `EntryReader`, the streaming entry parser.
//!
//! Beyond "no panic" it checks:
//! - entries partition the lines: the first entry starts at line 1, each next entry starts right
//!   after the previous one's continuation lines, and the last ends at the file's last line
//!   (`count_lines`); no line is lost or read twice;
//! - kept continuation lines never exceed the counted ones;
//! - `parse_header` on a line the reader took as a header parses it the same way alone
//!   (message, level, fields) — the reader adds no context-dependent reading;
//! - the reader's notes name only lines that exist;
//! - under the time bound (long lines, many fields, deep JSON).
#![no_main]

use std::time::Instant;

use diag_core::model::log::{EntryReader, count_lines, lines_of, parse_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let dmesg = mode % 2 == 1;
    let start = Instant::now();
    let mut reader = EntryReader::new(rest, dmesg);
    let mut next_line = 1u64;
    let raw: Vec<&[u8]> = lines_of(rest).collect();
    for entry in reader.by_ref() {
        let entry = entry.expect("reading from memory cannot fail");
        assert_eq!(
            entry.line, next_line,
            "entry starts at {} where line {next_line} was next",
            entry.line
        );
        assert!(
            entry.continuation.len() as u64 <= entry.extra_lines,
            "more kept lines than counted"
        );
        if entry.time.is_some() {
            let text = String::from_utf8_lossy(raw[(entry.line - 1) as usize]);
            if !text.contains('\0') && std::str::from_utf8(raw[(entry.line - 1) as usize]).is_ok() {
                let (_, alone) = parse_header(&text, dmesg).expect("a header line parses alone");
                assert_eq!(
                    alone.message, entry.message,
                    "message differs when parsed alone"
                );
                assert_eq!(
                    alone.fields, entry.fields,
                    "fields differ when parsed alone"
                );
            }
        }
        next_line = entry.line + 1 + entry.extra_lines;
    }
    // A last line without a newline is a line too.
    let total = count_lines(rest) + u64::from(rest.last().is_some_and(|&b| b != b'\n'));
    assert_eq!(
        next_line - 1,
        total,
        "entries cover {} lines of {total}",
        next_line - 1
    );
    let notes = reader.notes();
    for (count, first) in [notes.cut_lines, notes.nul_lines, notes.invalid_utf8_lines] {
        assert!(
            count <= total && (count == 0 || (1..=total).contains(&first)),
            "a note names line {first} of {total}"
        );
    }
    if let Some(last) = notes.unterminated_last_line {
        assert_eq!(last, total, "the unterminated line is not the last");
    }
    diag_fuzz::within_bound(start, "reading log entries");
});
