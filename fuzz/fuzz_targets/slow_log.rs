//! TiDB slow-log entries through `SlowLogReader`, and the performance counts
//! (`PerformanceAccumulator`) the slow-log rules read.
//!
//! Beyond "no panic" it checks:
//! - entries come in file order: `# Time:` lines strictly increasing, within the file;
//! - typed fields agree with the fields as written (`Process_keys` etc.: the last value given
//!   wins, an unparsable value is absent, never 0);
//! - the accumulator counts exactly the entries the reader yields, and in-window ≤ entries;
//! - under the time bound.
#![no_main]

use std::time::Instant;

use diag_core::model::slowlog::{PerformanceAccumulator, SlowLogReader, SlowQuery};
use libfuzzer_sys::fuzz_target;

fn last<'a>(q: &'a SlowQuery, key: &str) -> Option<&'a str> {
    q.fields
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let mut previous = 0u64;
    let mut count = 0u64;
    for q in SlowLogReader::new(data) {
        let q = q.expect("reading from memory cannot fail");
        count += 1;
        assert!(
            q.line > previous && q.line <= lines,
            "entry at line {} after {previous}",
            q.line
        );
        previous = q.line;
        assert_eq!(
            q.process_keys,
            last(&q, "Process_keys").and_then(|v| v.parse().ok())
        );
        assert_eq!(
            q.total_keys,
            last(&q, "Total_keys").and_then(|v| v.parse().ok())
        );
        assert_eq!(
            q.rocksdb_delete_skipped_count,
            last(&q, "Rocksdb_delete_skipped_count").and_then(|v| v.parse().ok())
        );
        let float = |k| last(&q, k).and_then(|v| v.parse::<f64>().ok());
        assert_eq!(
            q.query_time.map(f64::to_bits),
            float("Query_time").map(f64::to_bits)
        );
        assert_eq!(q.digest.as_deref(), last(&q, "Digest"));
    }
    let mut acc = PerformanceAccumulator::new(None);
    acc.read("tidb_slow_query.log", data);
    let perf = acc.finish();
    assert_eq!(
        perf.entries, count,
        "the accumulator counts other entries than the reader"
    );
    assert!(perf.in_window <= perf.entries);
    diag_fuzz::within_bound(start, "reading a slow log");
});
