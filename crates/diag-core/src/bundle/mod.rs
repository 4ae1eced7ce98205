//! Where a bundle's bytes come from: a directory, a `.zip`, a `.tar.gz`/`.tgz`, a `.tar.zst` or a
//! `.tar`, behind one [`Source`] seam. Every source offers an index of its entries (path, size,
//! kind) and streams any of them with [`Source::open`]. Archives are read in place (never
//! extracted) and nothing is ever written into a bundle.
//!
//! - Directories, zips and plain `.tar` files are random access; a zip is read by any number of
//!   threads at once (positional reads of one file, no lock).
//! - `.tar.gz`, `.tgz` and `.tar.zst` are read once, front to back, when opened. An entry the
//!   [`ReadPlan`] wants is kept: in memory when it is at most [`MEMORY_ENTRY_BYTES`] (and the
//!   kept total is under [`MEMORY_TOTAL_BYTES`]), else in one unlinked temporary file
//!   (`tempfile::tempfile()`, gone when the source is). An entry the plan does not want is only
//!   indexed; opening it later still works, at the cost of one more pass over the archive up to
//!   that entry. Nothing holds the whole archive in memory.
//!
//! ```
//! # fn main() -> Result<(), diag_core::LoadError> {
//! use std::io::Read;
//! use diag_core::bundle::{Limits, ReadPlan, open_source};
//! let opened = open_source("../../fixtures/minimal".as_ref(), &Limits::default(), &ReadPlan::everything())?;
//! let entry = &opened.source.index()["cluster.json"];
//! let mut text = String::new();
//! opened.source.open("cluster.json")?.read_to_string(&mut text).map_err(|e| diag_core::LoadError::Io { path: "cluster.json".into(), cause: e })?;
//! assert_eq!(text.len() as u64, entry.size);
//! # Ok(()) }
//! ```

mod archive;
mod dir;
pub mod kind;
pub mod plan;
pub(crate) mod stream;
mod tar;
mod zip;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{LimitKind, LoadError};

pub use self::tar::TarSource;
pub use self::zip::ZipSource;
pub use dir::DirSource;
pub use kind::{DataKind, LogKind, classify};
pub use plan::ReadPlan;

/// Largest entry a one-pass archive keeps in memory; larger wanted entries are spooled to disk.
pub const MEMORY_ENTRY_BYTES: u64 = 1 << 20;
/// Most bytes a one-pass archive keeps in memory in all; past it wanted entries are spooled.
pub const MEMORY_TOTAL_BYTES: u64 = 64 << 20;

/// Caps on what a bundle may hold. They bound disk, time and the damage of a hostile archive;
/// memory is bounded by streaming, not by these. Build with [`Limits::default`] and the
/// `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest single file, uncompressed (`max_entry_bytes`). Default 64 GiB.
    pub max_entry_bytes: u64,
    /// Largest total of all files, uncompressed (`max_total_bytes`). Default 1 TiB.
    pub max_total_bytes: u64,
    /// Largest uncompressed ÷ compressed ratio (`max_ratio`), applied to zip entries above
    /// 1 MiB and to a whole compressed tar stream past 1 MiB (small files of repeated text
    /// compress far better than any real log does at size). Default 1000.
    pub max_ratio: u64,
    /// Most entries in one bundle (`max_entries`). Default 2,000,000.
    pub max_entries: usize,
    /// Largest file read whole into memory (`max_read_bytes`): [`Source::read`],
    /// `DataFile::bytes`/`text`/`tree`. Larger files are read with `DataFile::reader`.
    /// Default 256 MiB.
    pub max_read_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_entry_bytes: 64 << 30,
            max_total_bytes: 1 << 40,
            max_ratio: 1000,
            max_entries: 2_000_000,
            max_read_bytes: 256 << 20,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_entry_bytes`].
    pub fn with_max_entry_bytes(mut self, bytes: u64) -> Limits {
        self.max_entry_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_total_bytes`].
    pub fn with_max_total_bytes(mut self, bytes: u64) -> Limits {
        self.max_total_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_ratio`].
    pub fn with_max_ratio(mut self, ratio: u64) -> Limits {
        self.max_ratio = ratio;
        self
    }

    /// Sets [`Limits::max_entries`].
    pub fn with_max_entries(mut self, entries: usize) -> Limits {
        self.max_entries = entries;
        self
    }

    /// Sets [`Limits::max_read_bytes`].
    pub fn with_max_read_bytes(mut self, bytes: u64) -> Limits {
        self.max_read_bytes = bytes;
        self
    }
}

/// Which container the bundle came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SourceKind {
    /// A directory on disk.
    Directory,
    /// A `.zip` archive.
    Zip,
    /// A `.tar.gz` / `.tgz` archive.
    TarGz,
    /// A `.tar.zst` archive (zstd, the payload format of diag's packaged data).
    TarZst,
    /// An uncompressed `.tar` archive.
    Tar,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Directory => "directory",
            SourceKind::Zip => "zip",
            SourceKind::TarGz => "tar.gz",
            SourceKind::TarZst => "tar.zst",
            SourceKind::Tar => "tar",
        })
    }
}

/// One file of a bundle, as indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// Uncompressed size in the container (a zstd-compressed metrics file counts as stored).
    pub size: u64,
    /// What it holds, from its path ([`classify`]).
    pub kind: Option<DataKind>,
    /// For a one-pass archive: whether the open pass kept it (opening it is then free).
    /// Always true for random-access sources.
    pub retained: bool,
}

impl Entry {
    /// The entry of a file at bundle-relative `path`, classified by its path (for sources
    /// written outside this crate).
    pub fn new(path: &str, size: u64, retained: bool) -> Entry {
        Entry {
            size,
            kind: classify(path),
            retained,
        }
    }
}

/// Read access to the files of one bundle. Paths are `/`-separated and relative to the bundle
/// root (the folder holding `cluster.json`).
pub trait Source: Send + Sync + fmt::Debug {
    /// The bundle on disk (directory or archive file).
    fn location(&self) -> &Path;
    /// The container kind.
    fn kind(&self) -> SourceKind;
    /// Every regular file: bundle-relative path → entry, sorted by path.
    fn index(&self) -> &BTreeMap<String, Entry>;
    /// The limits the source was opened with.
    fn limits(&self) -> &Limits;
    /// Streams one file, as stored (no decompression of the file itself).
    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, LoadError>;
    /// The whole content of one small file, refused past [`Limits::max_read_bytes`].
    fn read(&self, path: &str) -> Result<Vec<u8>, LoadError> {
        let size = self.index().get(path).map(|e| e.size).unwrap_or(0);
        let cap = self.limits().max_read_bytes;
        if size > cap {
            return Err(read_too_large(path, size, cap));
        }
        read_capped(self.open(path)?, path, cap, size)
    }
}

/// A source, plus what was refused while indexing it.
#[derive(Debug)]
pub struct Opened {
    /// The bundle's files.
    pub source: Arc<dyn Source>,
    /// Entries that were refused (unsafe names, links, over a cap); the rest loaded.
    pub warnings: Vec<LoadError>,
}

/// Opens a directory, `.zip`, `.tar.gz`/`.tgz`, `.tar.zst` or `.tar` and indexes its files;
/// one-pass archives keep what `plan` wants.
pub fn open_source(path: &Path, limits: &Limits, plan: &ReadPlan) -> Result<Opened, LoadError> {
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        cause: source,
    })?;
    if meta.is_dir() {
        return DirSource::open(path, limits);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".zip") {
        ZipSource::open(path, limits)
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        TarSource::open(path, SourceKind::TarGz, limits, plan)
    } else if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
        TarSource::open(path, SourceKind::TarZst, limits, plan)
    } else if name.ends_with(".tar") {
        TarSource::open(path, SourceKind::Tar, limits, plan)
    } else if name.ends_with(".diag") {
        Err(LoadError::NotABundle {
            path: path.to_path_buf(),
            reason: "a packaged .diag file is encrypted for Clinic Server; give the collected directory (diag-<id>/), or a .zip/.tar.gz/.tar.zst of it".into(),
        })
    } else {
        Err(LoadError::NotABundle {
            path: path.to_path_buf(),
            reason: "expected a bundle directory (diag-<id>/), a .zip, a .tar.gz/.tgz, a .tar.zst or a .tar".into(),
        })
    }
}

/// An archive entry's safe relative path; `None` for an entry to skip: the archive's own root
/// (`./`), or a refused name, which is recorded in `warnings`.
pub(crate) fn entry_path(raw_name: &str, warnings: &mut Vec<LoadError>) -> Option<String> {
    match safe_relative(raw_name) {
        Ok(rel) if !rel.is_empty() => Some(rel),
        Ok(_) => None,
        Err(reason) => {
            warnings.push(LoadError::UnsafeEntry {
                entry: raw_name.to_string(),
                reason,
            });
            None
        }
    }
}

/// Normalises an archive entry name to a safe relative path, or says why it is refused.
pub(crate) fn safe_relative(name: &str) -> Result<String, String> {
    if name.contains('\0') {
        return Err("NUL byte in name".into());
    }
    let unified = name.replace('\\', "/");
    if unified.starts_with('/') || unified.as_bytes().get(1) == Some(&b':') {
        return Err("absolute path".into());
    }
    let mut parts = Vec::new();
    for part in unified.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("`..` component escapes the bundle".into()),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Resolves a link's target relative to the link's folder, refusing targets outside the root.
pub(crate) fn resolve_link(link_path: &str, target: &str) -> Result<String, String> {
    if target.starts_with('/') {
        return Err(format!(
            "link to absolute path `{target}` escapes the bundle"
        ));
    }
    let mut parts: Vec<&str> = link_path.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("link to `{target}` escapes the bundle"));
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Finds the bundle root inside a list of paths: the folder of the shallowest `cluster.json`
/// (or, failing that, `meta.yaml`). Returns the prefix to strip (empty or ending in `/`).
pub(crate) fn find_root<'a>(paths: impl Iterator<Item = &'a str> + Clone) -> Option<String> {
    for marker in ["cluster.json", "meta.yaml"] {
        let best = paths
            .clone()
            .filter(|p| *p == marker || p.ends_with(&format!("/{marker}")))
            .min_by_key(|p| (p.matches('/').count(), p.to_string()));
        if let Some(p) = best {
            return Some(p[..p.len() - marker.len()].to_string());
        }
    }
    None
}

/// Re-keys `entries` below `prefix`, dropping everything outside it and every report directory a
/// check wrote into the bundle (`report-YYMMDDhhmmss[-N]/`, and the `.diag-report-*` staging
/// folder of a run that was killed): those are our output, not collected data, and a bundle
/// reads the same before and after it was checked.
pub(crate) fn strip_root<V>(entries: BTreeMap<String, V>, prefix: &str) -> BTreeMap<String, V> {
    entries
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|rest| (rest.to_string(), v)))
        .filter(|(k, _)| !k.split_once('/').is_some_and(|(top, _)| is_report_dir(top)))
        .collect()
}

/// Whether a top-level folder name is one a check writes (see
/// [`crate::report::default_report_dir`]).
pub(crate) fn is_report_dir(name: &str) -> bool {
    if name.starts_with(".diag-report-") {
        return true;
    }
    let Some(rest) = name.strip_prefix("report-") else {
        return false;
    };
    let (stamp, attempt) = rest.split_once('-').unwrap_or((rest, "0"));
    stamp.len() == 12
        && stamp.bytes().all(|b| b.is_ascii_digit())
        && !attempt.is_empty()
        && attempt.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn not_a_bundle(path: &Path) -> LoadError {
    LoadError::NotABundle {
        path: path.to_path_buf(),
        reason: "no cluster.json or meta.yaml found (expected the folder diag collect writes: cluster.json, then one folder per host or pod)".into(),
    }
}

/// A path the source does not hold.
pub(crate) fn not_found(path: &str) -> LoadError {
    LoadError::Io {
        path: PathBuf::from(path),
        cause: std::io::ErrorKind::NotFound.into(),
    }
}

/// A file over [`Limits::max_read_bytes`], refused for a whole read.
pub(crate) fn read_too_large(path: &str, size: u64, cap: u64) -> LoadError {
    too_large(
        path,
        LimitKind::ReadSize,
        format!(
            "{size} bytes is over the {cap}-byte limit for reading a file whole (max_read_bytes); stream it instead"
        ),
    )
}

pub(crate) fn too_large(entry: &str, limit: LimitKind, what: String) -> LoadError {
    LoadError::TooLarge {
        entry: entry.to_string(),
        limit,
        what,
    }
}

/// Reads at most `cap` bytes of `reader`, failing if there is more.
pub(crate) fn read_capped(
    mut reader: impl std::io::Read,
    entry: &str,
    cap: u64,
    hint: u64,
) -> Result<Vec<u8>, LoadError> {
    let mut out = Vec::with_capacity(hint.min(cap).min(64 << 20) as usize);
    use std::io::Read;
    let read = reader
        .by_ref()
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|source| LoadError::Io {
            path: PathBuf::from(entry),
            cause: source,
        })?;
    if read as u64 > cap {
        return Err(too_large(
            entry,
            LimitKind::ReadSize,
            format!("larger than the {cap}-byte limit for reading a file whole (max_read_bytes)"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_refused() {
        assert!(safe_relative("../etc/passwd").is_err());
        assert!(safe_relative("a/../../b").is_err());
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(safe_relative("C:\\x").is_err());
        assert!(safe_relative("a\\..\\..\\b").is_err());
        assert_eq!(
            safe_relative("./diag-x//cluster.json").as_deref(),
            Ok("diag-x/cluster.json")
        );
    }

    #[test]
    fn report_directories_are_not_bundle_data() {
        for name in [
            "report-261201152100",
            "report-261201152100-3",
            ".diag-report-Ab12",
        ] {
            assert!(is_report_dir(name), "{name}");
        }
        for name in [
            "report-2612011521",
            "report-261201152100-",
            "report-26120115210x",
            "reports",
            "basic-tikv-0",
        ] {
            assert!(!is_report_dir(name), "{name}");
        }
        let entries: BTreeMap<String, ()> = [
            "d/cluster.json",
            "d/report-261201152100/check-report.txt",
            "d/tikv/report-261201152100/x",
        ]
        .into_iter()
        .map(|p| (p.to_string(), ()))
        .collect();
        let kept: Vec<String> = strip_root(entries, "d/").into_keys().collect();
        assert_eq!(kept, ["cluster.json", "tikv/report-261201152100/x"]);
    }

    #[test]
    fn links_resolve_inside_or_are_refused() {
        assert_eq!(resolve_link("a/b/link", "../c").as_deref(), Ok("a/c"));
        assert!(resolve_link("a/link", "../../x").is_err());
        assert!(resolve_link("a/link", "/etc/passwd").is_err());
    }

    #[test]
    fn root_is_the_shallowest_cluster_json() {
        let paths = [
            "x/diag-1/pd/conf/cluster.json",
            "x/diag-1/cluster.json",
            "x/diag-1/meta.yaml",
        ];
        assert_eq!(
            find_root(paths.iter().copied()).as_deref(),
            Some("x/diag-1/")
        );
        assert_eq!(
            find_root(["cluster.json"].iter().copied()).as_deref(),
            Some("")
        );
        assert_eq!(find_root(["a.txt"].iter().copied()), None);
    }
}
