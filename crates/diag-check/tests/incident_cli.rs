//! Waivers, `--redact` and `diff` through the real binary, on copies of the seed bundle.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn diag_check(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_diag-check"));
    for a in args {
        cmd.arg(a.as_ref());
    }
    cmd.env_remove("DIAG_CHECK_REDACT_KEY")
        .output()
        .expect("diag-check runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Replaces `old` by `new` on line `line` (1-based) of `file`, failing when it is not there.
fn edit_line(file: &Path, line: usize, old: &str, new: &str) {
    let content = fs::read_to_string(file).unwrap();
    let mut lines: Vec<String> = content.lines().map(str::to_owned).collect();
    assert!(
        lines[line - 1].contains(old),
        "{}:{line}: {}",
        file.display(),
        lines[line - 1]
    );
    lines[line - 1] = lines[line - 1].replace(old, new);
    fs::write(file, lines.join("\n") + "\n").unwrap();
}

/// The seed bundle, and a copy with TiDB's `log.file.max-days` fixed and PD's
/// `replication.max-replicas` lowered to 2.
fn before_and_after() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let before = tmp.path().join("before").join("diag-fPrz0RnDxRn");
    let after = tmp.path().join("after").join("diag-fPrz0RnDxRn");
    copy_dir(&fixture("diag-fPrz0RnDxRn"), &before);
    copy_dir(&fixture("diag-fPrz0RnDxRn"), &after);
    edit_line(
        &after.join("basic-tidb-0/conf/config.json"),
        32,
        "\"max-days\": 0",
        "\"max-days\": 7",
    );
    for pd in ["basic-pd-0", "basic-pd-1", "basic-pd-2"] {
        let file = after.join(pd).join("conf/config.json");
        edit_line(&file, 143, "\"max-replicas\": 3", "\"max-replicas\": 2");
    }
    (tmp, before, after)
}

fn rules_of(list: &serde_json::Value) -> Vec<i64> {
    let mut ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rule"]["id"].as_i64().unwrap())
        .collect();
    ids.dedup();
    ids
}

#[test]
fn diff_of_the_seed_against_a_fixed_copy_shows_rule_100_resolved_and_rule_215_new() {
    let (_tmp, before, after) = before_and_after();
    let out = diag_check(&[&"diff", &before, &after, &"--format", &"json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rules_of(&json["resolved"]), [100]);
    assert_eq!(rules_of(&json["new"]), [215]);
    assert_eq!(rules_of(&json["changed"]), Vec::<i64>::new());
    assert_eq!(json["new"][0]["instance"], "172.20.22.100:2379");
    assert_eq!(json["new"][0]["before"]["state"], "OK");
    assert_eq!(json["new"][0]["after"]["state"], "warning");
    let paths: Vec<&str> = json["config_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "replication.max-replicas",
            "replication.max-replicas",
            "replication.max-replicas",
            "log.file.max-days"
        ]
    );

    let out = diag_check(&[&"diff", &before, &after]);
    insta::assert_snapshot!(
        "diff-seed-fixed-max-days-lowered-max-replicas",
        text(&out.stdout)
    );
    let out = diag_check(&[&"diff", &before, &after, &"--format", &"markdown"]);
    insta::assert_snapshot!("diff-seed-markdown", text(&out.stdout));
}

#[test]
fn diff_fails_on_a_new_warning_only_when_asked() {
    let (_tmp, before, after) = before_and_after();
    let out = diag_check(&[&"diff", &before, &after, &"--fail-on", &"warning"]);
    assert_eq!(out.status.code(), Some(1));
    let out = diag_check(&[&"diff", &before, &after, &"--fail-on", &"critical"]);
    assert_eq!(out.status.code(), Some(0));
    // Nothing new the other way round: only resolved rows.
    let out = diag_check(&[
        &"diff",
        &after,
        &before,
        &"--fail-on",
        &"info",
        &"--format",
        &"json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "rule 100 is new the other way round"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rules_of(&json["new"]), [100]);
    assert_eq!(rules_of(&json["resolved"]), [215]);
}

#[test]
fn diff_of_a_bundle_with_itself_is_empty() {
    let (_tmp, before, _) = before_and_after();
    let out = diag_check(&[
        &"diff",
        &before,
        &before,
        &"--format",
        &"json",
        &"--fail-on",
        &"info",
    ]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "new",
        "resolved",
        "changed",
        "config_changes",
        "instances_added",
        "instances_removed",
    ] {
        assert_eq!(json[key], serde_json::json!([]), "{key}");
    }
}

const WAIVERS: &str = "\
- rule: 209
  instance: \"172.20.22.100:*\"
  reason: PD logs are shipped to Loki
  expires: 2099-12-31
- rule: tidb-max-days
  reason: TiDB logs are shipped off the box
- rule: 210
  reason: was accepted until the upgrade
  expires: 2020-01-01
- rule: 215
  reason: nothing to waive here
";

#[test]
fn waivers_mark_rows_waived_name_expired_and_unused_ones_and_leave_fail_on_to_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("diag-fPrz0RnDxRn");
    copy_dir(&fixture("diag-fPrz0RnDxRn"), &bundle);
    let waivers = tmp.path().join("waivers.yaml");
    fs::write(&waivers, WAIVERS).unwrap();
    let report = tmp.path().join("report");
    let out = diag_check(&[
        &bundle,
        &"--waivers",
        &waivers,
        &"-o",
        &report,
        &"--format",
        &"text,sarif,json,html,markdown,junit",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "diag-check: waiver for rule 210 expired on 2020-01-01; not applied\n\
         diag-check: waiver for rule 215 matched no abnormal result\n"
    );
    let report_text = fs::read_to_string(report.join("check-report.txt")).unwrap();
    insta::assert_snapshot!("waivers-seed-check-report", report_text);

    let sarif: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(report.join("check-report.sarif")).unwrap())
            .unwrap();
    let suppressed: Vec<(String, String)> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .map(|r| {
            (
                r["properties"]["instance"].as_str().unwrap().to_owned(),
                r["suppressions"][0]["justification"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        suppressed,
        [
            (
                "TidbConfig_172.20.21.213:4000".to_owned(),
                "TiDB logs are shipped off the box".to_owned()
            ),
            (
                "PdConfig_172.20.22.100:2379".to_owned(),
                "PD logs are shipped to Loki".to_owned()
            ),
        ]
    );
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(report.join("check-report.json")).unwrap())
            .unwrap();
    assert_eq!(json["summary"]["rules_abnormal"], 2);
    assert_eq!(json["waivers"]["waived"].as_array().unwrap().len(), 2);
    assert_eq!(json["waivers"]["expired"][0]["rule"], "210");
    assert_eq!(json["waivers"]["unused"][0]["rule"], "215");

    // Waiving every abnormal row leaves nothing for --fail-on.
    let all = tmp.path().join("all.yaml");
    fs::write(
        &all,
        "- rule: 100\n  reason: a\n- rule: 209\n  reason: b\n- rule: 210\n  reason: c\n",
    )
    .unwrap();
    let out = diag_check(&[
        &bundle,
        &"--waivers",
        &all,
        &"--fail-on",
        &"info",
        &"-o",
        &tmp.path().join("r2"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = diag_check(&[
        &bundle,
        &"--waivers",
        &waivers,
        &"--fail-on",
        &"info",
        &"-o",
        &tmp.path().join("r3"),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn waivers_never_hide_error_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("diag-fPrz0RnDxRn");
    copy_dir(&fixture("diag-fPrz0RnDxRn"), &bundle);
    let rules = tmp.path().join("rules");
    fs::create_dir_all(&rules).unwrap();
    // `log.level` is a string: comparing it with a number is an `error` row on every TiDB.
    fs::write(
        rules.join("level-as-number.yaml"),
        "id: 9001\nname: level-as-number\nkind: config\ncomponent: TidbConfig\nvariation: TidbConfig.log.level\n\
         severity: critical\nversion: \"\"\nlink: https://example.com/kb\ndescription: test\nsuggestion: test\n\
         abnormal_when: {path: log.level, lt: 1}\n",
    )
    .unwrap();
    let waivers = tmp.path().join("w.yaml");
    fs::write(&waivers, "- rule: 9001\n  reason: hide it\n").unwrap();
    let report = tmp.path().join("report");
    let out = diag_check(&[
        &bundle,
        &"--rules",
        &rules,
        &"--waivers",
        &waivers,
        &"-o",
        &report,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("waiver for rule 9001 matched no abnormal result"));
    let report_text = fs::read_to_string(report.join("check-report.txt")).unwrap();
    assert!(
        report_text.contains("  9001 level-as-number   TidbConfig_172.20.21.213:4000   "),
        "{report_text}"
    );
    assert!(
        report_text.contains("There were **0** waived results."),
        "{report_text}"
    );
}

#[test]
fn a_bad_waiver_file_is_refused_by_name_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let waivers = tmp.path().join("w.yaml");
    fs::write(&waivers, "- rule: 100\n").unwrap();
    let report = tmp.path().join("report");
    let out = diag_check(&[
        &fixture("diag-fPrz0RnDxRn"),
        &"--waivers",
        &waivers,
        &"-o",
        &report,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("w.yaml") && err.contains("reason"), "{err}");
    assert!(!report.exists());
}

/// Every IPv4 address in the files of `dir`.
fn ips_in(dir: &Path, found: &mut Vec<String>) {
    let re = regex::Regex::new(r"\b\d{1,3}(\.\d{1,3}){3}\b").unwrap();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            ips_in(&path, found);
        } else if let Ok(content) = fs::read_to_string(&path) {
            found.extend(re.find_iter(&content).map(|m| m.as_str().to_owned()));
        }
    }
    found.sort();
    found.dedup();
}

/// Every file under `dir`, as text.
fn outputs_in(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            outputs_in(&path, out);
        } else {
            out.push((
                path.clone(),
                String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned(),
            ));
        }
    }
}

#[test]
fn redacted_outputs_hold_none_of_the_seed_bundles_ips_names_or_cluster_id() {
    let (tmp, before, after) = before_and_after();
    let mut originals = Vec::new();
    ips_in(&fixture("diag-fPrz0RnDxRn"), &mut originals);
    assert!(originals.len() >= 8, "{originals:?}");
    originals.extend(
        [
            "7039963340562527412",
            "basic-pd-0",
            "basic-tikv-2",
            "basic-tidb-0",
            "tidb-cluster",
        ]
        .map(String::from),
    );
    originals.push("basic".into());

    let report = tmp.path().join("report");
    let map = tmp.path().join("keep").join("map.tsv");
    fs::create_dir_all(map.parent().unwrap()).unwrap();
    let waivers = tmp.path().join("keep").join("w.yaml");
    fs::write(&waivers, WAIVERS).unwrap();
    let check = diag_check(&[
        &before,
        &"--redact",
        &"--redact-map",
        &map,
        &"--waivers",
        &waivers,
        &"-o",
        &report,
        &"--format",
        &"text,markdown,json,html,junit,sarif",
    ]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    let diff = diag_check(&[&"diff", &before, &after, &"--redact", &"--format", &"json"]);
    let diff_text = diag_check(&[&"diff", &before, &after, &"--redact-key", &"k1"]);
    assert!(diff.status.success() && diff_text.status.success());

    let mut outputs = Vec::new();
    outputs_in(&report, &mut outputs);
    assert_eq!(
        outputs.len(),
        8,
        "{:?}",
        outputs.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    for (name, o) in [
        ("check stdout", &check),
        ("diff json", &diff),
        ("diff text", &diff_text),
    ] {
        outputs.push((PathBuf::from(format!("{name} stdout")), text(&o.stdout)));
        outputs.push((PathBuf::from(format!("{name} stderr")), text(&o.stderr)));
    }
    for original in &originals {
        let re = regex::Regex::new(&format!(
            r"(^|[^A-Za-z0-9.]){}($|[^A-Za-z0-9])",
            regex::escape(original)
        ))
        .unwrap();
        for (path, content) in &outputs {
            assert!(
                !re.is_match(content),
                "{original} survives in {}",
                path.display()
            );
        }
    }
    let mapping = fs::read_to_string(&map).unwrap();
    assert!(mapping.contains("ip-1\t172.20.22.100\n"), "{mapping}");
    assert!(mapping.contains("id-1\t7039963340562527412\n"), "{mapping}");
    let report_text = fs::read_to_string(report.join("check-report.txt")).unwrap();
    insta::assert_snapshot!("redacted-seed-check-report", report_text);
}

#[test]
fn redaction_is_the_same_across_runs_with_the_same_key() {
    let (_tmp, before, after) = before_and_after();
    let run =
        |key: &str| text(&diag_check(&[&"diff", &before, &after, &"--redact-key", &key]).stdout);
    let (a, b, c) = (run("k1"), run("k1"), run("k2"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(!a.contains("172.20.") && a.contains("ip-"), "{a}");
}

#[test]
fn timeline_of_the_seed_bundle_in_every_format_and_redacted() {
    let seed = fixture("diag-fPrz0RnDxRn");
    let out = diag_check(&[&"timeline", &seed]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    insta::assert_snapshot!("timeline-seed-text", text(&out.stdout));
    let json = diag_check(&[&"timeline", &seed, &"--format", &"json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        doc["events"][1]["summary"],
        "alert TiKV_approximate_region_size firing"
    );
    assert_eq!(doc["events"][1]["instance"], "172.20.12.47:20160");
    let html = diag_check(&[&"timeline", &seed, &"--format", &"html", &"--redact"]);
    let page = text(&html.stdout);
    assert!(page.contains("<svg") && page.contains("ip-"), "{page}");
    for ip in ["172.20.12.47", "172.20.22.100"] {
        assert!(!page.contains(ip), "{ip} survives");
    }
    let none = diag_check(&[
        &"timeline",
        &seed,
        &"--until",
        &"2022-02-07T18:00:00+08:00",
        &"--format",
        &"json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&none.stdout).unwrap();
    assert_eq!(doc["events"], serde_json::json!([]));
    let bad = diag_check(&[&"timeline", &seed, &"--since", &"noon"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("`noon` is not a time"));
}

#[test]
fn redaction_covers_ipv6_addresses_in_every_spelling() {
    let (tmp, before, _after) = before_and_after();
    let waivers = tmp.path().join("w6.yaml");
    fs::write(
        &waivers,
        "- rule: tidb-max-days\n  reason: \"logs go to [2001:db8::17]:514 and 2001:DB8:0::17, from fd00::4:2\"\n",
    )
    .unwrap();
    let report = tmp.path().join("report6");
    let check = diag_check(&[
        &before,
        &"--redact",
        &"--waivers",
        &waivers,
        &"-o",
        &report,
        &"--format",
        &"text,markdown,json,html,sarif",
    ]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    let mut outputs = Vec::new();
    outputs_in(&report, &mut outputs);
    outputs.push((PathBuf::from("stdout"), text(&check.stdout)));
    let spellings = ["2001:db8::17", "2001:DB8:0::17", "fd00::4:2", "db8::17"];
    for (path, content) in &outputs {
        for original in spellings {
            assert!(
                !content.contains(original),
                "{original} survives in {}",
                path.display()
            );
        }
    }
    let report_text = fs::read_to_string(report.join("check-report.txt")).unwrap();
    let reason = report_text
        .lines()
        .find(|l| l.contains("logs go to"))
        .unwrap_or_else(|| panic!("the waiver reason is in the report:\n{report_text}"));
    // One address, two spellings: one pseudonym.
    let pseudonyms: Vec<&str> = reason
        .split(['[', ']', ' ', ','])
        .filter(|w| w.starts_with("ip-"))
        .collect();
    assert_eq!(pseudonyms.len(), 3, "{reason}");
    assert_eq!(pseudonyms[0], pseudonyms[1], "{reason}");
    assert_ne!(pseudonyms[0], pseudonyms[2], "{reason}");
}
