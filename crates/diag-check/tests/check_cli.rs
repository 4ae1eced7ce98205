//! `diag-check <bundle>` through the real binary: the golden report, the files it writes,
//! formats, archives and exit codes. Every test checks a copy of a fixture in a temporary
//! directory, because checking writes a report directory.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The seed report (see `fixtures/reports/README.md` for its origin).
const SEED_REPORT: &str =
    include_str!("../../../fixtures/reports/diag-fPrz0RnDxRn.check-report.txt");

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

/// A fresh copy of a fixture bundle, named as the original.
fn bundle_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_dir(&fixture(name), &dir);
    (tmp, dir)
}

fn diag_check(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_diag-check"));
    for a in args {
        cmd.arg(a.as_ref());
    }
    cmd.env_remove("NO_COLOR")
        .output()
        .expect("diag-check runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push((
                    path.strip_prefix(root).unwrap().display().to_string(),
                    fs::read(&path).unwrap(),
                ));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn report_dirs(parent: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains("report-"))
        .collect();
    dirs.sort();
    dirs
}

fn is_stamp(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn seed_bundle_prints_the_golden_report_and_where_it_was_saved() {
    let (_tmp, bundle) = bundle_copy("diag-fPrz0RnDxRn");
    let before = listing(&bundle);
    let out = diag_check(&[&bundle]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let dirs = report_dirs(&bundle);
    assert_eq!(dirs.len(), 1);
    let dir = &dirs[0];
    assert!(is_stamp(
        dir.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .strip_prefix("report-")
            .unwrap()
    ));
    let expected = format!(
        "{SEED_REPORT}\nResult report and record are saved at {}\n",
        dir.display()
    );
    assert_eq!(stdout(&out), expected);

    assert_eq!(
        fs::read_to_string(dir.join("check-report.txt")).unwrap(),
        SEED_REPORT
    );
    let record = fs::read_to_string(dir.join("detailed-check-record.txt")).unwrap();
    assert!(record.starts_with("## Check Result Log\n\n### Configuration\n"));
    assert_eq!(record.matches("#### Rule Name:").count(), 21);
    let names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // Nothing else in the bundle changed.
    let after: Vec<_> = listing(&bundle)
        .into_iter()
        .filter(|(p, _)| !p.starts_with("report-"))
        .collect();
    assert_eq!(after, before);
}

#[test]
fn a_second_run_in_the_same_second_never_overwrites_the_first() {
    let (_tmp, bundle) = bundle_copy("diag-fPrz0RnDxRn");
    let first = diag_check(&[&bundle, &"--quiet"]);
    let second = diag_check(&[&bundle, &"--quiet"]);
    assert!(first.status.success() && second.status.success());
    assert_eq!(report_dirs(&bundle).len(), 2);
}

#[test]
fn output_dir_is_used_as_given_and_never_overwritten() {
    let (tmp, bundle) = bundle_copy("minimal");
    let out_dir = tmp.path().join("out");
    let ok = diag_check(&[&bundle, &"--output", &out_dir]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stdout(&ok).ends_with(&format!(
        "\nResult report and record are saved at {}\n",
        out_dir.display()
    )));
    let written = fs::read_to_string(out_dir.join("check-report.txt")).unwrap();

    let again = diag_check(&[&bundle, &"--output", &out_dir]);
    assert_eq!(again.status.code(), Some(2));
    let err = stderr(&again);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(
        fs::read_to_string(out_dir.join("check-report.txt")).unwrap(),
        written
    );
    assert!(
        report_dirs(&bundle).is_empty(),
        "nothing written into the bundle"
    );
    // No staging directory is left behind.
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".diag-report-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn fail_on_sets_the_exit_code() {
    let (_tmp, seed) = bundle_copy("diag-fPrz0RnDxRn");
    assert_eq!(
        diag_check(&[&seed, &"-q", &"--fail-on", &"warning"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        diag_check(&[&seed, &"-q", &"--fail-on", &"info"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        diag_check(&[&seed, &"-q", &"--fail-on", &"critical"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        diag_check(&[&seed, &"-q"]).status.code(),
        Some(0),
        "default: never"
    );
    let (_tmp2, minimal) = bundle_copy("minimal");
    assert_eq!(
        diag_check(&[&minimal, &"-q", &"--fail-on", &"info"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn unusable_input_and_usage_errors_exit_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let out = diag_check(&[&missing]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).starts_with("diag-check: "));

    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let out = diag_check(&[&empty]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(
        fs::read_dir(&empty).unwrap().next().is_none(),
        "nothing written into unusable input"
    );

    let (_t, bundle) = bundle_copy("minimal");
    assert_eq!(
        diag_check(&[&bundle, &"--types", &"banana"]).status.code(),
        Some(2)
    );
    assert_eq!(
        diag_check(&[&bundle, &"--format", &"pdf"]).status.code(),
        Some(2)
    );
    assert_eq!(
        diag_check(&[&bundle, &"--fail-on", &"sometimes"])
            .status
            .code(),
        Some(2)
    );
    let out = diag_check(&[&bundle, &"--template", &tmp.path().join("missing.j2")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(report_dirs(&bundle).is_empty());
}

#[test]
fn every_format_is_written_and_the_first_is_printed() {
    let (_tmp, bundle) = bundle_copy("diag-fPrz0RnDxRn");
    let out = diag_check(&[
        &bundle,
        &"--format",
        &"json,markdown",
        &"--format",
        &"html,junit,sarif",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("stdout is the json report");
    assert_eq!(doc["summary"]["rules_executed"], 21);
    assert_eq!(doc["summary"]["rules_abnormal"], 3);
    assert!(stderr(&out).contains("Result report and record are saved at "));

    let dir = &report_dirs(&bundle)[0];
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "check-report.html",
            "check-report.json",
            "check-report.junit.xml",
            "check-report.md",
            "check-report.sarif",
            "check-report.txt",
            "detailed-check-record.txt"
        ]
    );
    assert_eq!(
        fs::read_to_string(dir.join("check-report.txt")).unwrap(),
        SEED_REPORT,
        "the same findings"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("check-report.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 7);
    let tidb = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"]["name"] == "tidb-max-days")
        .unwrap();
    assert_eq!(tidb["status"], "abnormal");
    let evidence = &tidb["rows"][0]["values"][0]["evidence"];
    assert_eq!(evidence["file"], "basic-tidb-0/conf/config.json");
}

#[test]
fn rule_selection_flags_change_what_runs() {
    let (_tmp, bundle) = bundle_copy("diag-fPrz0RnDxRn");
    let only = diag_check(&[
        &bundle,
        &"--format",
        &"json",
        &"--rule",
        &"100",
        &"--rule",
        &"pdconfig-max-days",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&only)).unwrap();
    assert_eq!(doc["summary"]["rules_executed"], 2);
    let skip = diag_check(&[&bundle, &"--format", &"json", &"--skip", &"100"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&skip)).unwrap();
    assert_eq!(doc["summary"]["rules_executed"], 20);
    assert_eq!(doc["summary"]["rules_abnormal"], 2);
}

#[test]
fn a_template_replaces_the_built_in_one() {
    let (tmp, bundle) = bundle_copy("diag-fPrz0RnDxRn");
    let template = tmp.path().join("short.j2");
    fs::write(&template, "{{ cluster.name }}: {{ summary.rules_abnormal }} of {{ summary.rules_executed }} abnormal\n").unwrap();
    let out = diag_check(&[&bundle, &"--template", &template]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("basic: 3 of 21 abnormal\n\nResult report"));
    let named = diag_check(&[
        &bundle,
        &"--format",
        &"text,html",
        &"--template",
        &format!("record={}", template.display()),
    ]);
    assert_eq!(named.status.code(), Some(0), "{}", stderr(&named));
    let broken = tmp.path().join("broken.j2");
    fs::write(&broken, "{% for %}\n").unwrap();
    let out = diag_check(&[&bundle, &"--template", &broken]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    // Issue 8: the error named the built-in `check-report.txt:1`, not the user's file.
    assert!(
        stderr(&out).contains(&format!("{}:1: syntax error", broken.display())),
        "{}",
        stderr(&out)
    );
    // Issue 8: an unknown NAME said "No such file or directory".
    let unknown = diag_check(&[
        &bundle,
        &"--template",
        &format!("nosuch={}", template.display()),
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown)
            .contains("unknown template `nosuch` (known: text, record, markdown, html, junit)"),
        "{}",
        stderr(&unknown)
    );
    let ambiguous = diag_check(&[&bundle, &"--format", &"text,html", &"--template", &template]);
    assert_eq!(ambiguous.status.code(), Some(2));
}

#[test]
fn an_archive_is_reported_beside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("diag-fPrz0RnDxRn.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        fs::File::create(&archive).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all("diag-fPrz0RnDxRn", fixture("diag-fPrz0RnDxRn"))
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap();

    let out = diag_check(&[&archive]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dirs = report_dirs(tmp.path());
    assert_eq!(dirs.len(), 1);
    let name = dirs[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        is_stamp(name.strip_prefix("diag-fPrz0RnDxRn-report-").unwrap()),
        "{name}"
    );
    assert!(stdout(&out).starts_with(SEED_REPORT));
}

#[test]
fn quiet_prints_nothing_but_still_writes() {
    let (_tmp, bundle) = bundle_copy("minimal");
    let out = diag_check(&[&bundle, &"--quiet"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    assert_eq!(report_dirs(&bundle).len(), 1);
}

#[test]
fn version_names_the_rule_set_and_help_lists_every_flag() {
    let v = stdout(&diag_check(&[&"--version"]));
    assert!(
        v.starts_with("diag-check ") && v.contains("rules builtin-"),
        "{v}"
    );
    let help = stdout(&diag_check(&[&"--help"]));
    for flag in [
        "--types",
        "--rules",
        "--rule",
        "--skip",
        "--format",
        "--output",
        "--template",
        "--fail-on",
        "--threads",
        "--quiet",
        "--no-color",
        "inspect",
        "rules",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}
