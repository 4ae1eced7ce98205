//! `diag-check rules …` through the real binary, as a rule author outside this repository uses
//! it: a copy of `examples/rule-pack` in a temporary directory, with nothing of the repo beside it.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::fs;
use std::path::PathBuf;
mod support;
use support::diag_check_in as diag_check;
use support::{copy_dir, repo, stderr, stdout};

/// The example pack copied out of the repository: `<tmp>/pack/{rules,tests/snapshots}`.
fn pack_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let pack = tmp.path().join("pack");
    copy_dir(&repo("examples/rule-pack/rules"), &pack.join("rules"));
    copy_dir(
        &repo("examples/rule-pack/tests/snapshots"),
        &pack.join("tests/snapshots"),
    );
    (tmp, pack)
}

/// Issue 8: snapshots in insta's default `tests/snapshots/` were not found, and a rule without
/// one passed silently; `base: minimal` only resolved inside this repository.
#[test]
fn rules_test_finds_snapshots_in_insta_default_tests_snapshots() {
    let (tmp, pack) = pack_copy();
    let out = diag_check(tmp.path(), &[&"rules", &"test", &pack.join("rules")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).ends_with("\n2 rules, 2 passed, 0 failed\n"),
        "{}",
        stdout(&out)
    );
}

/// Issue 8: a case whose snapshot is missing was an `ok`.
#[test]
fn rules_test_fails_a_rule_whose_snapshot_is_missing() {
    let (tmp, pack) = pack_copy();
    fs::remove_file(pack.join("tests/snapshots/rule_pack__tikv-block-cache-too-small.snap"))
        .unwrap();
    let out = diag_check(tmp.path(), &[&"rules", &"test", &pack.join("rules")]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("FAIL  tikv-block-cache-too-small"), "{text}");
    assert!(
        text.contains("no snapshot for tikv-block-cache-too-small"),
        "{text}"
    );
    assert!(
        text.contains("+ rule 9001 tikv-block-cache-too-small"),
        "shows what it would hold: {text}"
    );
    assert!(text.ends_with("\n2 rules, 1 passed, 1 failed\n"), "{text}");
}

#[test]
fn rules_test_shows_a_changed_snapshot_as_a_diff() {
    let (tmp, pack) = pack_copy();
    let snap = pack.join("tests/snapshots/rule_pack__tikv-block-cache-too-small.snap");
    let old = fs::read_to_string(&snap).unwrap();
    fs::write(&snap, old.replace("512MiB   warning", "512MiB   OK")).unwrap();
    let out = diag_check(tmp.path(), &[&"rules", &"test", &pack.join("rules")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("differs (- stored, + now)"),
        "{}",
        stdout(&out)
    );
}

/// Issue 8: `rules show tidb-max-day` offered nothing.
#[test]
fn rules_show_offers_did_you_mean() {
    let out = diag_check(&repo(""), &[&"rules", &"show", &"tidb-max-day"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "diag-check: no rule has id or name `tidb-max-day` (did you mean `tidb-max-days`? see `diag-check rules list`)\n"
    );
}

/// Issue 8: lint gave no suggestion for `severity: warn`, listed a file's problems in the order
/// they were found, and left out the line of a missing field.
#[test]
fn rules_lint_lists_problems_in_line_order_with_lines() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("my-rule.yaml"),
        "id: 9001
name: my-rule
kind: config
component: TidbConfig
variation: TidbConfig.log.level
severity: warn
description: \"\"
abnormal_when: {path: log.level, eq: debug}
colour: red
",
    )
    .unwrap();
    let out = diag_check(tmp.path(), &[&"rules", &"lint", &"."]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("lint-problems-in-line-order", stdout(&out));
}
