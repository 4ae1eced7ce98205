//! `diag-check --types log`: the Log Summary of the text report and the evidence of the other
//! formats, from the real binary on a bundle with component logs.

mod support;

fn run(args: &[&str]) -> (i32, String) {
    let (code, out, _) = support::run(args);
    (code, out)
}

const LILI: &str = "../../fixtures/diag-lili-fNTnz5MGhr6";

#[test]
fn log_rules_add_a_log_summary_with_count_and_message_rows() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out_dir = dir.path().join("r");
    let out_dir = out_dir.to_string_lossy().into_owned();
    let (code, text) = run(&[
        LILI,
        "--types",
        "config,log",
        "--format",
        "text,json,sarif",
        "-o",
        &out_dir,
    ]);
    assert_eq!(code, 0, "{text}");
    let summary = text
        .find("### Log Summary")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        text.find("### Configuration Summary")
            .is_some_and(|c| c < summary),
        "{text}"
    );
    // TiDB 172.16.7.87 started 5 s into the window.
    assert!(
        text.contains("  TidbConfig_172.16.7.87:4000   1 × Welcome to TiDB.   warning\n"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("r/check-report.json")).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["rule"]["name"] == "tidb-restarted")
        .flat_map(|f| f["rows"].as_array().into_iter().flatten())
        .collect();
    let first = &rows[0]["evidence"][0];
    assert_eq!(
        first["file"],
        "172.16.7.87/tidb-deploy/tidb-4000/log/tidb.log"
    );
    assert_eq!(first["line"], 1);
    assert_eq!(first["time"], "2022-01-24T07:34:02.551+08:00");
    assert_eq!(rows[0]["aggregate"]["count"], 1);
    let sarif =
        std::fs::read_to_string(dir.path().join("r/check-report.sarif")).unwrap_or_default();
    assert!(
        sarif.contains("172.16.7.87/tidb-deploy/tidb-4000/log/tidb.log"),
        "{sarif}"
    );
}

#[test]
fn without_log_rules_there_is_no_log_summary() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out_dir = dir.path().join("r").to_string_lossy().into_owned();
    let (code, text) = run(&[LILI, "-o", &out_dir]);
    assert_eq!(code, 0);
    assert!(!text.contains("Log Summary"), "{text}");
}
