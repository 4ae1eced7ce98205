//! What every end-to-end test of the binary needs: paths into the repository, copies of
//! fixture bundles (checking writes a report directory, so tests check copies), and runs of the
//! real `diag-check`. Each test file takes what it uses.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `path` inside the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The fixture bundle `name` under `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    repo("fixtures").join(name)
}

/// Copies a directory tree, leaving out the report directories a run of `diag-check` wrote into
/// a bundle (the README's sample command writes `fixtures/diag-fPrz0RnDxRn/report-*`).
pub fn copy_dir(from: &Path, to: &Path) {
    diag_core::testing::copy_bundle(from, to).unwrap();
}

/// A fresh copy of a fixture bundle in a temporary directory, named as the original.
pub fn bundle_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_dir(&fixture(name), &dir);
    (tmp, dir)
}

/// The binary, with the environment a user's shell might add taken away.
fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_diag-check"));
    cmd.env_remove("NO_COLOR")
        .env_remove("DIAG_CHECK_REDACT_KEY");
    cmd
}

/// Runs `diag-check args…` to its end.
pub fn diag_check(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    diag_check_in(Path::new("."), args)
}

/// Runs `diag-check args…` in `dir` to its end.
pub fn diag_check_in(dir: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = command();
    for a in args {
        cmd.arg(a.as_ref());
    }
    cmd.current_dir(dir).output().expect("diag-check runs")
}

/// Runs `diag-check args…` and gives its exit code, stdout and stderr (lossy text).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = command().args(args).output().expect("diag-check runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Output bytes as text; a test fails on invalid UTF-8.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    text(&o.stderr)
}
