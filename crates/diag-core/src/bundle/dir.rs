//! A bundle directory on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::{
    Entry, Limits, Opened, Source, SourceKind, find_root, not_a_bundle, not_found, strip_root,
};
use crate::error::{LimitKind, LoadError};

/// A bundle read from a directory. Symbolic links are followed only while they stay inside it.
#[derive(Debug)]
pub struct DirSource {
    root: PathBuf,
    location: PathBuf,
    index: BTreeMap<String, Entry>,
    limits: Limits,
}

impl DirSource {
    /// Indexes the directory (file names and sizes only; nothing is read yet). Top-level
    /// folders (one per host or pod) are walked in parallel.
    pub fn open(path: &Path, limits: &Limits) -> Result<Opened, LoadError> {
        let canonical = path.canonicalize().map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            cause: source,
        })?;
        let (top_files, mut warnings) = walk(&canonical, &canonical, Some(1));
        let mut subdirs: Vec<PathBuf> = std::fs::read_dir(&canonical)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        subdirs.sort();
        let walked: Vec<Walked> = subdirs
            .par_iter()
            .map(|dir| walk(&canonical, dir, None))
            .collect();
        let mut all = BTreeMap::new();
        for (files, problems) in std::iter::once((top_files, Vec::new())).chain(walked) {
            warnings.extend(problems);
            for (rel, size) in files {
                if all.len() >= limits.max_entries {
                    return Err(super::too_large(
                        &rel,
                        LimitKind::EntryCount,
                        format!("more than {} files (max_entries)", limits.max_entries),
                    ));
                }
                all.insert(rel, size);
            }
        }
        let prefix = find_root(all.keys().map(String::as_str)).ok_or_else(|| not_a_bundle(path))?;
        let root = canonical.join(prefix.trim_end_matches('/'));
        let index = strip_root(all, &prefix)
            .into_iter()
            .map(|(path, size)| {
                let entry = Entry::new(&path, size, true);
                (path, entry)
            })
            .collect();
        let source = DirSource {
            root,
            location: path.to_path_buf(),
            index,
            limits: *limits,
        };
        Ok(Opened {
            source: Arc::new(source),
            warnings,
        })
    }
}

/// Files found (bundle-relative path, size) and the problems met on the way.
type Walked = (Vec<(String, u64)>, Vec<LoadError>);

/// Files below `start` (to `max_depth` when given), as paths relative to `root`.
fn walk(root: &Path, start: &Path, max_depth: Option<usize>) -> Walked {
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    let mut walker = walkdir::WalkDir::new(start)
        .follow_links(false)
        .sort_by_file_name();
    if let Some(depth) = max_depth {
        walker = walker.max_depth(depth);
    }
    for item in walker {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                let at = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| start.to_path_buf());
                let cause = e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("directory loop"));
                warnings.push(LoadError::Io { path: at, cause });
                continue;
            }
        };
        let Ok(rel) = item.path().strip_prefix(root) else {
            continue;
        };
        let Some(rel) = rel.to_str().map(|s| s.replace('\\', "/")) else {
            warnings.push(LoadError::Encoding {
                file: rel.to_string_lossy().into_owned(),
                message: "file name is not UTF-8; skipped".into(),
            });
            continue;
        };
        let file_type = item.file_type();
        let size = if file_type.is_symlink() {
            match std::fs::canonicalize(item.path()) {
                Ok(target) if target.starts_with(root) && target.is_file() => {
                    target.metadata().map(|m| m.len()).unwrap_or(0)
                }
                Ok(target) if target.starts_with(root) => continue,
                _ => {
                    warnings.push(LoadError::UnsafeEntry {
                        entry: rel,
                        reason: "symbolic link points outside the bundle".into(),
                    });
                    continue;
                }
            }
        } else if file_type.is_file() {
            item.metadata().map(|m| m.len()).unwrap_or(0)
        } else {
            continue;
        };
        files.push((rel, size));
    }
    (files, warnings)
}

impl Source for DirSource {
    fn location(&self) -> &Path {
        &self.location
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Directory
    }

    fn index(&self) -> &BTreeMap<String, Entry> {
        &self.index
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn open(&self, path: &str) -> Result<Box<dyn std::io::Read + Send + '_>, LoadError> {
        if !self.index.contains_key(path) {
            return Err(not_found(path));
        }
        let file = std::fs::File::open(self.root.join(path)).map_err(|source| LoadError::Io {
            path: PathBuf::from(path),
            cause: source,
        })?;
        Ok(Box::new(file))
    }
}
