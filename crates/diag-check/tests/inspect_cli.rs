//! `diag-check inspect` end to end, through the real binary.

mod support;
use support::repo;

fn inspect(args: &[&str]) -> (i32, String, String) {
    support::run(&[&["inspect"], args].concat())
}

#[test]
fn json_is_versioned_and_describes_every_instance() {
    let bundle = repo("fixtures/diag-lili-fNTnz5MGhr6");
    let (code, stdout, stderr) =
        inspect(&[bundle.to_str().unwrap_or_default(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(doc["schema"], "diag-check/inspect/v1");
    assert_eq!(doc["version"]["text"], "v5.3.0");
    assert_eq!(doc["cluster"]["layout"], "tiup");
    assert_eq!(doc["instances"].as_array().map(Vec::len), Some(8));
    assert_eq!(doc["summary"]["configs_loaded"], 7);
    assert_eq!(doc["summary"]["warnings"], 0);
    let tidb = &doc["instances"][4];
    assert_eq!(tidb["tag"], "TidbConfig_172.16.7.87:4000");
    assert_eq!(tidb["config"]["state"], "loaded");
    assert!(
        tidb["files"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["kind"] == "log.slow"))
    );
    assert!(
        tidb["system"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["kind"] == "insight"))
    );
}

#[test]
fn archives_inspect_like_directories() {
    let bundle = repo("fixtures/bad/zip-nested-root.zip");
    let (code, stdout, _) = inspect(&[bundle.to_str().unwrap_or_default()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("(zip)"), "{stdout}");
    assert!(stdout.contains("PdConfig_10.0.0.1:2379"), "{stdout}");
    let bundle = repo("fixtures/bad/tar-slip.tar.gz");
    let (code, stdout, _) = inspect(&[bundle.to_str().unwrap_or_default()]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("refused: `..` component escapes the bundle"),
        "{stdout}"
    );
}

#[test]
fn unusable_input_exits_2_with_one_line() {
    let bundle = repo("fixtures/bad/no-top-level");
    let (code, stdout, stderr) = inspect(&[bundle.to_str().unwrap_or_default()]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("not a diag bundle: no cluster.json or meta.yaml found"),
        "{stderr}"
    );
}
