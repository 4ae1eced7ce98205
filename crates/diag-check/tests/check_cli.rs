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

/// Copies a bundle, leaving out the report directories a run of `diag-check` wrote into it (the
/// README's sample command writes `fixtures/diag-fPrz0RnDxRn/report-*`).
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name().to_string_lossy().starts_with("report-") {
                continue;
            }
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
            "detailed-check-record.txt",
            "timeline.html"
        ]
    );
    assert_eq!(
        fs::read_to_string(dir.join("check-report.txt")).unwrap(),
        SEED_REPORT,
        "the same findings"
    );
    // The HTML report links to the incident timeline written beside it.
    let html = fs::read_to_string(dir.join("check-report.html")).unwrap();
    assert!(html.contains("<a href=\"timeline.html\">"), "{html}");
    let timeline = fs::read_to_string(dir.join("timeline.html")).unwrap();
    assert!(timeline.contains("<svg") && timeline.contains("TiKV_approximate_region_size"));
    assert_eq!(doc["timeline"], "timeline.html");
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

#[test]
fn tests_pass_after_the_readme_sample_run_left_a_report_dir_in_the_fixture() {
    // The README's first command writes a report directory into the bundle it checks; a test
    // bundle copied from that bundle afterwards must be the fixture as committed.
    let (_tmp, checked_once) = bundle_copy("diag-fPrz0RnDxRn");
    assert!(diag_check(&[&checked_once, &"-q"]).status.success());
    assert_eq!(report_dirs(&checked_once).len(), 1);
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("diag-fPrz0RnDxRn");
    copy_dir(&checked_once, &copy);
    assert!(report_dirs(&copy).is_empty());
    let out = diag_check(&[&copy]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with(SEED_REPORT));
    assert_eq!(report_dirs(&copy).len(), 1);
}

#[test]
fn no_test_needs_shared_beside_the_repository() {
    // A clone has nothing beside it: no source names a path outside the workspace.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Spelled in pieces so this test does not find itself.
    let outside = [concat!("shared", "/"), concat!("/wo", "rk/")];
    let mut offenders = Vec::new();
    for top in ["crates", "benches", "examples"] {
        for entry in walk_files(&root.join(top)) {
            if entry.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = fs::read_to_string(&entry).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if outside.iter().any(|o| code.contains(o)) {
                    offenders.push(format!("{}:{}", entry.display(), n + 1));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn rule_9999_and_skip_nonesuch_are_usage_errors_with_a_did_you_mean() {
    let (_tmp, bundle) = bundle_copy("diag-fPrz0RnDxRn");
    for (args, expected) in [
        (
            ["--rule", "9999"],
            "diag-check: --rule: no loaded rule has the id or name `9999` (did you mean `",
        ),
        (
            ["--skip", "nonesuch"],
            "diag-check: --skip: no loaded rule has the id or name `nonesuch` (",
        ),
        (
            ["--rule", "tidb-max-day"],
            "diag-check: --rule: no loaded rule has the id or name `tidb-max-day` (did you mean `tidb-max-days`?)",
        ),
    ] {
        let out = diag_check(&[&bundle, &args[0], &args[1]]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(expected), "{err}");
        assert!(out.stdout.is_empty());
    }
    assert!(report_dirs(&bundle).is_empty(), "nothing written");
}

#[test]
fn rule_104_on_a_v5_4_0_cluster_says_why_it_is_not_run() {
    let (_tmp, bundle) = bundle_copy("diag-fPrz0RnDxRn");
    let out = diag_check(&[&bundle, &"--rule", &"104", &"--format", &"json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let notes: Vec<&str> = stderr_lines(&out, "diag-check: note: ");
    assert_eq!(notes.len(), 1, "{}", stderr(&out));
    assert!(
        notes[0].starts_with(
            "rule 104 `new_collations_enabled_on_first_bootstrap` is not run: its version range `"
        ),
        "{}",
        notes[0]
    );
    assert!(notes[0].ends_with("does not include the cluster version v5.4.0"));
    // Rules that run say nothing.
    let quiet = diag_check(&[&bundle, &"--rule", &"100", &"--format", &"json"]);
    assert!(stderr_lines(&quiet, "diag-check: note: ").is_empty());
}

fn stderr_lines<'a>(out: &'a Output, prefix: &str) -> Vec<&'a str> {
    std::str::from_utf8(&out.stderr)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .collect()
}

#[test]
fn types_of_kinds_without_rules_say_so_and_types_all_runs_every_kind() {
    let (_tmp, bundle) = bundle_copy("diag-fPrz0RnDxRn");
    // Every kind ships built-in rules now, so no kind is named as empty (the note itself is
    // pinned in engine::selection's tests with a rule set that lacks kinds).
    let builtin = diag_core::rules::RuleSet::builtin();
    for kind in diag_core::rules::CheckKind::ALL {
        assert!(
            builtin.rules().iter().any(|r| r.meta.kind == kind),
            "{} has no built-in rule",
            kind.as_str()
        );
    }
    let all = diag_check(&[&bundle, &"--types", &"all", &"--format", &"json"]);
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    let every = diag_core::rules::CheckKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let every = diag_check(&[&bundle, &"--types", &every, &"--format", &"json"]);
    let rules_run = |o: &Output| {
        serde_json::from_str::<serde_json::Value>(&stdout(o)).unwrap()["summary"]["rules_executed"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(rules_run(&all), rules_run(&every), "all is every kind");
    assert!(rules_run(&all) > 21, "all is config and more");
    assert!(stderr_lines(&all, "diag-check: note: ").is_empty());
}

/// A rule that cannot decide on any TiDB: `log.level` is text, compared as a number.
const ERROR_RULE: &str = "id: 9102\nname: level-as-number\nkind: config\ncomponent: TidbConfig\nvariation: TidbConfig.log.level\nseverity: info\nlink: https://s.tidb.io/abcd1234\ndescription: d\nabnormal_when: {path: log.level, lt: 1}\n";

#[test]
fn fail_on_error_exits_1_and_every_error_row_is_summarised_on_stderr() {
    let (tmp, bundle) = bundle_copy("diag-lili-fNTnz5MGhr6");
    let rules = tmp.path().join("rules");
    fs::create_dir(&rules).unwrap();
    fs::write(rules.join("e.yaml"), ERROR_RULE).unwrap();
    let out = diag_check(&[&bundle, &"--rules", &rules, &"--fail-on", &"error"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let errors = stderr_lines(&out, "diag-check: rule 9102 `level-as-number` on ");
    assert_eq!(errors.len(), 3, "one per TiDB: {}", stderr(&out));
    for line in &errors {
        assert!(line.starts_with("TidbConfig_172.16.7."), "{line}");
        assert!(line.contains(": error: "), "{line}");
    }
    // Without --fail-on error the summary is still printed, and the exit status is 0.
    let plain = diag_check(&[&bundle, &"-q", &"--rules", &rules]);
    assert_eq!(plain.status.code(), Some(0));
    assert_eq!(stderr(&plain).lines().count(), 3, "{}", stderr(&plain));
    // Severities and error combine; a bundle without error rows passes --fail-on error.
    let both = diag_check(&[
        &bundle,
        &"-q",
        &"--rules",
        &rules,
        &"--fail-on",
        &"critical,error",
    ]);
    assert_eq!(both.status.code(), Some(1));
    let (_t, seed) = bundle_copy("diag-fPrz0RnDxRn");
    assert_eq!(
        diag_check(&[&seed, &"-q", &"--fail-on", &"error"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn threads_0_is_a_usage_error_and_any_thread_count_gives_the_same_report() {
    let (_tmp, bundle) = bundle_copy("diag-fPrz0RnDxRn");
    let zero = diag_check(&[&bundle, &"--threads", &"0"]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(
        stderr(&zero).contains("must be at least 1"),
        "{}",
        stderr(&zero)
    );
    assert!(report_dirs(&bundle).is_empty());
    for n in ["1", "3"] {
        let out = diag_check(&[&bundle, &"--threads", &n]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).starts_with(SEED_REPORT), "--threads {n}");
    }
}
