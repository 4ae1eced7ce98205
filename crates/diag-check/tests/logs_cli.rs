//! `diag-check logs` end to end: the real binary over the fixture bundles.

mod support;

fn logs(args: &[&str]) -> (i32, String, String) {
    support::run(&[&["logs"], args].concat())
}

const LILI: &str = "../../fixtures/diag-lili-fNTnz5MGhr6";

#[test]
fn jsonl_has_exactly_the_documented_keys_in_time_order() {
    let (code, out, err) = logs(&[LILI, "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let mut last = String::new();
    let mut n = 0;
    for line in out.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let keys: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut want = vec![
            "component",
            "extra_lines",
            "fields",
            "file",
            "instance",
            "level",
            "line",
            "message",
            "source",
            "time",
        ];
        want.sort();
        let mut got = keys.clone();
        got.sort();
        assert_eq!(got, want, "{line}");
        let time = v["time"].as_str().unwrap_or_default().to_string();
        assert!(time >= last, "{time} after {last}");
        last = time;
        n += 1;
    }
    assert!(n > 20, "{n} entries");
}

#[test]
fn the_default_window_hides_the_old_stderr_line_and_since_shows_it() {
    let (_, out, _) = logs(&[LILI, "--component", "pd"]);
    assert!(!out.contains("rejected connection"), "{out}");
    let (_, out, _) = logs(&[
        LILI,
        "--component",
        "pd",
        "--since",
        "2022-01-01T00:00:00+08:00",
    ]);
    assert!(
        out.lines()
            .next()
            .unwrap_or_default()
            .contains("rejected connection"),
        "{out}"
    );
}

#[test]
fn filters_level_grep_instance_limit() {
    let (_, out, _) = logs(&[
        LILI,
        "--level",
        "warn",
        "--grep",
        "memory exceeds",
        "--instance",
        "172.16.7.86:4000",
    ]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("172.16.7.86:4000") && out.contains("WARN"));
    let (_, out, _) = logs(&[LILI, "--limit", "3"]);
    assert_eq!(out.lines().count(), 3);
    // Ties in time: components in pd, tidb, tikv order, then instance order.
    let (_, out, _) = logs(&[
        LILI,
        "--grep",
        "starting a new election",
        "--format",
        "jsonl",
    ]);
    let instances: Vec<String> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["instance"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        instances,
        [
            "172.16.7.86:20160",
            "172.16.7.88:20160",
            "172.16.7.89:20160"
        ]
    );
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    let (code, _, err) = logs(&[LILI, "--since", "yesterday"]);
    assert_eq!(code, 2);
    assert!(err.contains("--since `yesterday`"), "{err}");
    let (code, _, err) = logs(&[LILI, "--level", "loud"]);
    assert_eq!(code, 2);
    assert!(err.contains("--level `loud`"), "{err}");
    let (code, _, err) = logs(&["../../fixtures/no-such-bundle"]);
    assert_eq!(code, 2);
    assert!(err.contains("no-such-bundle"), "{err}");
}
