//! Peak memory of the real binary on a decompression bomb: a `.tar.gz` that inflates 256 MiB of
//! zeros from 255 KiB must end with a clear error naming the entry and the limit, within
//! 256 MiB of resident memory (it once took the whole inflated entry into memory first).
//!
//! Peak RSS is `/usr/bin/time -f %M` (GNU time, Debian package `time`), the kernel's own
//! accounting of the child's high-water mark.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::path::Path;
use std::process::Command;

const MAX_RSS_KIB: u64 = 256 * 1024;

#[cfg(target_os = "linux")]
#[test]
fn a_tar_gz_bomb_ends_with_a_clear_error_in_bounded_memory() {
    let bomb = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bad/tar-bomb.tar.gz");
    let out_dir = tempfile::tempdir().unwrap();
    // `.ci/run` installs GNU time; a machine without it still checks the error, not the peak.
    let timed = Path::new("/usr/bin/time").exists();
    let mut command = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "peak-rss-kib=%M"])
            .arg(env!("CARGO_BIN_EXE_diag-check"));
        c
    } else {
        eprintln!("/usr/bin/time is missing (Debian package `time`): peak RSS not measured");
        Command::new(env!("CARGO_BIN_EXE_diag-check"))
    };
    let out = command
        .arg(&bomb)
        .arg("--output")
        .arg(out_dir.path().join("report"))
        .output()
        .expect("/usr/bin/time (GNU time) runs the binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr
            .contains("diag-fBomb/logs/bad-pd-0/pd.log: refused: archive expands past 1000 times")
            && stderr.contains("(max_ratio)"),
        "{stderr}"
    );
    if !timed {
        return;
    }
    let peak: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kib="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {stderr}"));
    assert!(
        peak <= MAX_RSS_KIB,
        "peak RSS {peak} KiB is over {MAX_RSS_KIB} KiB"
    );
    assert!(
        !out_dir.path().join("report").exists(),
        "a report was written for a bomb"
    );
}
