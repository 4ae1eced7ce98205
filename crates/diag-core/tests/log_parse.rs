//! The log parser over a corpus of real-shaped and hostile files (`fixtures/logs/`): each file's
//! entries rendered in a snapshot, and the bytes no real file should hold never stop it.

use std::io::Read;

use diag_core::model::log::{EntryReader, LineChunks, LogEntry, MAX_LINE_BYTES};

fn render(name: &str, entries: &[LogEntry], notes: &[String]) -> String {
    let mut out = format!("file: {name}\n");
    for e in entries {
        out.push_str(&format!(
            "{} {} {} {:?} src={} msg={:?}",
            e.line,
            e.time.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
            e.level.map(|l| l.as_str()).unwrap_or("-"),
            e.format,
            e.source.as_deref().unwrap_or("-"),
            e.message
        ));
        for (k, v) in &e.fields {
            out.push_str(&format!(" [{k}={v:?}]"));
        }
        if e.extra_lines > 0 {
            out.push_str(&format!(" +{} lines", e.extra_lines));
        }
        if let Some(p) = e.panic {
            out.push_str(&format!(" panic={p:?}"));
        }
        out.push('\n');
    }
    for n in notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

#[test]
fn corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/logs");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10);
    for path in &paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{e}"));
        let reader: Box<dyn Read> = if name.ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut entries = EntryReader::new(reader, name == "dmesg.log");
        let all: Vec<LogEntry> = entries
            .by_ref()
            .map(|e| e.unwrap_or_else(|e| panic!("{e}")))
            .collect();
        insta::assert_snapshot!(
            format!("log_parse__{}", name.replace('.', "_")),
            render(&name, &all, &entries.notes().describe())
        );
    }
}

/// A 300 MB line without a newline: cut at the limit, noted, read in bounded memory.
#[test]
fn a_300_mb_line_without_newline_is_cut_at_the_limit() {
    let header = &b"[2022/02/07 12:00:00.000 +08:00] [INFO] [a.go:1] [\"huge"[..];
    let body = std::io::repeat(b'x').take(300 << 20);
    let mut chunks = LineChunks::new(header.chain(body));
    let mut seen = Vec::new();
    while let Some(c) = chunks.next_chunk().unwrap_or_else(|e| panic!("{e}")) {
        seen.push((c.first_line, c.data.len()));
    }
    assert_eq!(seen, vec![(1, MAX_LINE_BYTES)]);
    assert_eq!(chunks.notes.cut_lines, (1, 1));
    assert_eq!(chunks.notes.unterminated_last_line, None);
}

/// Reading one entry at a time: a million lines go through a buffer that never grows.
#[test]
fn entries_stream_in_constant_memory() {
    struct Lines(u64);
    impl Read for Lines {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Ok(0);
            }
            let line = b"[2022/02/07 12:00:00.000 +08:00] [INFO] [a.go:1] [tick] [n=1]\n";
            let n = (buf.len() / line.len()).min(self.0 as usize);
            for i in 0..n {
                buf[i * line.len()..(i + 1) * line.len()].copy_from_slice(line);
            }
            self.0 -= n as u64;
            Ok(n * line.len())
        }
    }
    let count = EntryReader::new(Lines(1_000_000), false).count();
    assert_eq!(count, 1_000_000);
}
