//! diag's performance rules end to end: a bundle with a TiDB slow log and db_vars, checked with
//! `--types performance`, writes diag's three CSV files and the record's `### SQL Performance`,
//! and gives the performance rules no section of the text report (as diag).

use std::path::Path;

use diag_core::engine::CheckOptions;
use diag_core::pipeline::{CheckRequest, ReportTarget, check_and_write};
use diag_core::report::Renderer;
use diag_core::rules::{CheckKind, RuleSet};

fn copy_dir(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap_or(&entry);
        let target = to.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).unwrap_or_else(|e| panic!("{e}"));
        } else {
            std::fs::copy(&entry, &target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            let mut children: Vec<_> = std::fs::read_dir(&out[i])
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .collect();
            children.sort();
            out.extend(children);
        }
        i += 1;
    }
    out
}

const SLOW: &str = "127.0.0.1/tidb-deploy/tidb-4000/log/tidb_slow_query.log";

fn entry(time: &str, digest: &str, plan: &str, fields: &str) -> String {
    format!("# Time: {time}\n# {fields}\n# Digest: {digest}\n# Plan_digest: {plan}\nselect 1;\n")
}

#[test]
fn performance_rules_write_diags_csv_files_and_the_sql_performance_record() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bundle = tmp.path().join("diag-fSlowLog000");
    copy_dir(Path::new("../../fixtures/slowlog"), &bundle);
    let log = [
        entry(
            "2023-01-10T10:10:00+08:00",
            "dplan",
            "fast",
            "Process_time: 0.1 Process_keys: 2000000",
        ),
        entry(
            "2023-01-10T11:10:00+08:00",
            "dplan",
            "slow",
            "Process_time: 9.5 Process_keys: 2000000",
        ),
        entry(
            "2023-01-10T10:30:00+08:00",
            "dmvcc",
            "p1",
            "Process_time: 0.2 Process_keys: 20000 Total_keys: 40000",
        ),
        entry(
            "2023-01-10T10:40:00+08:00",
            "dtomb",
            "p2",
            "Process_time: 0.2 Process_keys: 20000 Rocksdb_delete_skipped_count: 20500",
        ),
    ]
    .concat();
    std::fs::write(bundle.join(SLOW), log).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        bundle.join("db_vars/mysql.tidb.csv"),
        "Variable_name,Value\ntidb_gc_life_time,1h0m0s\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin();
    let renderer = Renderer::new();
    let mut request = CheckRequest::new(&rules, &renderer);
    request.selection = CheckOptions {
        kinds: vec![CheckKind::Performance],
        ..CheckOptions::default()
    };
    let out = tmp.path().join("report");
    let report = check_and_write(&bundle, &request, &ReportTarget::Exactly(out.clone()))
        .unwrap_or_else(|e| panic!("{e}"));
    let read = |name: &str| {
        std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    assert_eq!(
        read("poor_effective_plan.csv"),
        "Digest,Plan_digest,avg_process_time,last_time\ndplan,fast,0.1,1673316600\ndplan,slow,9.5,1673320200\n"
    );
    assert_eq!(
        read("old_version_count.csv"),
        "Digest,Plan_digest\ndmvcc,p1\n"
    );
    assert_eq!(read("scan_key_skip.csv"), "Digest,Plan_digest\ndtomb,p2\n");
    let text = read("check-report.txt");
    assert!(
        text.contains(
            "In this inspection, 3 rules were executed.\nThe results of **3** rules were abnormal"
        ),
        "{text}"
    );
    assert!(!text.contains("Performance"), "{text}");
    let record = read("detailed-check-record.txt");
    assert!(record.contains("### SQL Performance"), "{record}");
    assert!(
        record.contains("  SQLPerformance   plan_process_time:1 Digest trigger cordon   warning"),
        "{record}"
    );
    assert!(record.contains("  SQLPerformance   rocksdb_delete_skipped_count:1 Digest trigger cordon,process_keys:Please check the collect csv file for specific information   info"), "{record}");
    assert_eq!(report.checked.outcome.abnormal().count(), 3);
}

#[test]
fn slow_logs_stream_past_the_whole_file_limit_and_rotated_gz_logs_count() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bundle = tmp.path().join("diag-fSlowLog001");
    copy_dir(Path::new("../../fixtures/slowlog"), &bundle);
    // 64 KiB of statement per entry: the file is far past the 8 KiB read-whole limit below.
    let long_sql = format!("select '{}';", "x".repeat(64 * 1024));
    let mut log = String::new();
    for i in 0..40 {
        log.push_str(&format!(
            "# Time: 2023-01-10T10:{:02}:00+08:00\n# Process_time: 0.2 Process_keys: 20000 Total_keys: 40000\n# Digest: dmvcc{i}\n# Plan_digest: p\n{long_sql}\n",
            i % 60
        ));
    }
    std::fs::write(bundle.join(SLOW), &log).unwrap_or_else(|e| panic!("{e}"));
    let rotated = bundle.join(SLOW.replace(
        "tidb_slow_query.log",
        "tidb_slow_query-2023-01-10T10-59-00.000.log.gz",
    ));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(
        entry(
            "2023-01-10T10:20:00+08:00",
            "dtomb",
            "p2",
            "Process_time: 0.2 Process_keys: 20000 Rocksdb_delete_skipped_count: 20500",
        )
        .as_bytes(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&rotated, gz.finish().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let options = diag_core::model::LoadOptions::default()
        .limits(diag_core::bundle::Limits::default().with_max_read_bytes(8 * 1024));
    let cluster =
        diag_core::Cluster::open_with(&bundle, &options).unwrap_or_else(|e| panic!("{e}"));
    let perf = cluster.slow_log_performance();
    assert!(perf.problems.is_empty(), "{:?}", perf.problems);
    assert_eq!((perf.files, perf.entries), (2, 41));
    assert_eq!(perf.old_version_count.len(), 40);
    assert_eq!(
        perf.scan_key_skip,
        [("dtomb".to_string(), "p2".to_string())]
    );
}
