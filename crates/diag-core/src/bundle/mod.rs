//! Where a bundle's bytes come from: a directory, a `.zip` or a `.tar.gz`, behind one [`Source`]
//! seam. Archives are read in place (never extracted to disk) and nothing is ever written into a
//! bundle.
//!
//! ```
//! # fn main() -> Result<(), diag_core::LoadError> {
//! use diag_core::bundle::{Limits, open_source};
//! let opened = open_source("../../fixtures/minimal".as_ref(), &Limits::default())?;
//! assert!(opened.source.entries().contains_key("cluster.json"));
//! # Ok(()) }
//! ```

mod archive;
mod dir;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{LimitKind, LoadError};

pub use archive::{TarGzSource, ZipSource};
pub use dir::DirSource;

/// Caps on what an archive may expand to. A caller can tighten or loosen each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest single file, uncompressed.
    pub max_entry_bytes: u64,
    /// Largest total of all files, uncompressed.
    pub max_total_bytes: u64,
    /// Largest uncompressed ÷ compressed ratio, applied to entries above 1 MiB (small files of
    /// repeated text compress far better than any real log does at size).
    pub max_ratio: u64,
    /// Most entries in one archive.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_entry_bytes: 2 << 30,
            max_total_bytes: 32 << 30,
            max_ratio: 1000,
            max_entries: 2_000_000,
        }
    }
}

/// Which container the bundle came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A directory on disk.
    Directory,
    /// A `.zip` archive.
    Zip,
    /// A `.tar.gz` / `.tgz` archive.
    TarGz,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Directory => "directory",
            SourceKind::Zip => "zip",
            SourceKind::TarGz => "tar.gz",
        })
    }
}

/// Read access to the files of one bundle. Paths are `/`-separated and relative to the bundle
/// root (the folder holding `cluster.json`).
pub trait Source: Send + Sync + fmt::Debug {
    /// The bundle on disk (directory or archive file).
    fn location(&self) -> &Path;
    /// The container kind.
    fn kind(&self) -> SourceKind;
    /// Every regular file: bundle-relative path → uncompressed size, sorted by path.
    fn entries(&self) -> &BTreeMap<String, u64>;
    /// The whole content of one file.
    fn read(&self, path: &str) -> Result<Vec<u8>, LoadError>;
}

/// A source, plus what was refused while indexing it.
#[derive(Debug)]
pub struct Opened {
    /// The bundle's files.
    pub source: Arc<dyn Source>,
    /// Entries that were refused (unsafe names, links, over a cap); the rest loaded.
    pub warnings: Vec<LoadError>,
}

/// Opens a directory, `.zip`, `.tar.gz` or `.tgz` and indexes its files.
pub fn open_source(path: &Path, limits: &Limits) -> Result<Opened, LoadError> {
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
        TarGzSource::open(path, limits)
    } else if name.ends_with(".diag") {
        Err(LoadError::NotABundle {
            path: path.to_path_buf(),
            reason: "a packaged .diag file is encrypted for Clinic Server; give the collected directory (diag-<id>/), or a .zip/.tar.gz of it".into(),
        })
    } else {
        Err(LoadError::NotABundle {
            path: path.to_path_buf(),
            reason: "expected a bundle directory (diag-<id>/), a .zip, or a .tar.gz/.tgz".into(),
        })
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

/// Re-keys `entries` below `prefix`, dropping everything outside it.
pub(crate) fn strip_root<V>(entries: BTreeMap<String, V>, prefix: &str) -> BTreeMap<String, V> {
    if prefix.is_empty() {
        return entries;
    }
    entries
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|rest| (rest.to_string(), v)))
        .collect()
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
            LimitKind::EntrySize,
            format!("larger than the {cap}-byte limit for one file"),
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
