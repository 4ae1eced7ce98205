//! The report directory: where it goes, and writing it atomically without ever overwriting one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::ReportError;
use crate::bundle::SourceKind;

/// One file of a report directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    /// File name inside the directory.
    pub name: String,
    /// Its content.
    pub content: String,
}

/// Where diag puts a report for `bundle`: `<bundle>/report-YYMMDDhhmmss` (local time) for a
/// directory; for an archive, beside it as `<archive name without extension>-report-YYMMDDhhmmss`,
/// since an archive cannot be written into and several may share a folder.
pub fn default_report_dir(bundle: &Path, kind: SourceKind) -> PathBuf {
    let stamp = jiff::Zoned::now().strftime("%y%m%d%H%M%S").to_string();
    match kind {
        SourceKind::Directory => bundle.join(format!("report-{stamp}")),
        _ => {
            let name = bundle
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let lower = name.to_ascii_lowercase();
            let stem_len = [".tar.gz", ".tgz", ".tar.zst", ".tzst", ".tar", ".zip"]
                .iter()
                .find(|ext| lower.ends_with(*ext))
                .map_or(name.len(), |ext| name.len() - ext.len());
            let stem = &name[..stem_len];
            bundle.with_file_name(format!("{stem}-report-{stamp}"))
        }
    }
}

/// diag's last terminal line.
pub fn saved_line(dir: &Path) -> String {
    format!("Result report and record are saved at {}", dir.display())
}

/// Writes `files` into a new directory at `dir`, atomically: everything is written into a
/// temporary directory beside it, which is then renamed into place. An existing non-empty
/// directory is never overwritten: with `unique`, `dir-1`, `dir-2`, … are tried instead (two
/// runs within one second); without, it is an [`ReportError::Exists`] error. Returns the
/// directory written.
pub fn write_report_dir(
    dir: &Path,
    files: &[ReportFile],
    unique: bool,
) -> Result<PathBuf, ReportError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| ReportError::Io { path, error }
    };
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".diag-report-")
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    for file in files {
        let path = staging.path().join(&file.name);
        let mut out = fs::File::create(&path).map_err(io(&path))?;
        out.write_all(file.content.as_bytes()).map_err(io(&path))?;
        out.sync_all().map_err(io(&path))?;
    }
    let staging = staging.keep();
    let result = place(&staging, dir, unique);
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

fn place(staging: &Path, dir: &Path, unique: bool) -> Result<PathBuf, ReportError> {
    let mut attempt = 0u32;
    loop {
        let target = if attempt == 0 {
            dir.to_path_buf()
        } else {
            let mut name = dir.file_name().unwrap_or_default().to_os_string();
            name.push(format!("-{attempt}"));
            dir.with_file_name(name)
        };
        // rename(2) replaces only an empty directory and fails on a non-empty one, so an existing
        // report is never overwritten, even by a concurrent run that got there first.
        match fs::rename(staging, &target) {
            Ok(()) => return Ok(target),
            Err(e) if is_occupied(&e, &target) => {
                if !unique || attempt >= 1000 {
                    return Err(ReportError::Exists(target));
                }
                attempt += 1;
            }
            Err(error) => {
                return Err(ReportError::Io {
                    path: target,
                    error,
                });
            }
        }
    }
}

fn is_occupied(e: &std::io::Error, target: &Path) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty
    ) || target.exists()
}
