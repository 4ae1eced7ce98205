//! Rhai through the sandbox: the input is a script, run as a rule's `abnormal_when: {rhai: …}`
//! expression (first byte even) or as its cluster script `rhai_script` (odd), over every
//! instance of the seed bundle.
//!
//! Beyond "no panic" the sandbox's limits always hold:
//! - a script cannot run long: each rule's check finishes under the time bound whatever the
//!   script does (loops, recursion, huge strings and collections stop at
//!   `MAX_OPERATIONS`/`MAX_CALL_LEVELS`/`MAX_STRING_SIZE`/`MAX_COLLECTION_SIZE`);
//! - a script cannot flood the report: a cluster script's rows are at most
//!   `MAX_COLLECTION_SIZE` and no row message is longer than `MAX_STRING_SIZE` plus the
//!   engine's own wording;
//! - memory stays under libFuzzer's `-rss_limit_mb`;
//! - a script that fails gives `error`/`nodata` rows, and the result is the same on one thread
//!   as on three.
#![no_main]

use std::time::Instant;

use diag_core::engine::CheckOptions;
use diag_core::rules::RuleSet;
use diag_core::rules::script::{MAX_COLLECTION_SIZE, MAX_STRING_SIZE};
use diag_fuzz::{check_on, seed_cluster, yaml_quote};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(script) = std::str::from_utf8(rest) else {
        return;
    };
    let body = if mode % 2 == 0 {
        format!(
            "component: TikvConfig\nabnormal_when:\n  rhai: {}\n",
            yaml_quote(script)
        )
    } else {
        format!("rhai_script: {}\n", yaml_quote(script))
    };
    let text = format!("id: 1\nname: fuzz-rhai\nkind: config\nseverity: warning\n{body}");
    let cluster = seed_cluster();
    let start = Instant::now();
    let Ok(rules) = RuleSet::from_files(vec![("fuzz/rhai.yaml".into(), text)], "fuzz") else {
        return;
    };
    let options = CheckOptions::default();
    let one = check_on(1, cluster, &rules, &options);
    diag_fuzz::within_bound(start, "running a Rhai script");
    for f in &one.findings {
        assert!(
            f.rows.len() <= MAX_COLLECTION_SIZE + cluster.instances.len(),
            "{} rows",
            f.rows.len()
        );
        for row in &f.rows {
            if let Some(m) = &row.message {
                assert!(
                    m.len() <= MAX_STRING_SIZE + 4096,
                    "row message of {} bytes",
                    m.len()
                );
            }
        }
    }
    let three = check_on(3, cluster, &rules, &options);
    assert_eq!(
        format!("{:?}", one.findings),
        format!("{:?}", three.findings),
        "thread count changes rows"
    );
    diag_fuzz::within_bound(start, "running a Rhai script twice");
});
