//! A bundle directory on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Limits, Opened, Source, SourceKind, find_root, not_a_bundle, read_capped, strip_root};
use crate::error::{LimitKind, LoadError};

/// A bundle read from a directory. Symbolic links are followed only while they stay inside it.
#[derive(Debug)]
pub struct DirSource {
    root: PathBuf,
    location: PathBuf,
    entries: BTreeMap<String, u64>,
    max_entry_bytes: u64,
}

impl DirSource {
    /// Indexes the directory (file names and sizes only; nothing is read yet).
    pub fn open(path: &Path, limits: &Limits) -> Result<Opened, LoadError> {
        let canonical = path.canonicalize().map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            cause: source,
        })?;
        let mut warnings = Vec::new();
        let mut all = BTreeMap::new();
        for item in walkdir::WalkDir::new(&canonical)
            .follow_links(false)
            .sort_by_file_name()
        {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    let at = e
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| canonical.clone());
                    let source = e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("directory loop"));
                    warnings.push(LoadError::Io {
                        path: at,
                        cause: source,
                    });
                    continue;
                }
            };
            let Ok(rel) = item.path().strip_prefix(&canonical) else {
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
                    Ok(target) if target.starts_with(&canonical) && target.is_file() => {
                        target.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                    Ok(target) if target.starts_with(&canonical) => continue,
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
            if all.len() >= limits.max_entries {
                return Err(super::too_large(
                    &rel,
                    LimitKind::EntryCount,
                    format!("more than {} files", limits.max_entries),
                ));
            }
            all.insert(rel, size);
        }
        let prefix = find_root(all.keys().map(String::as_str)).ok_or_else(|| not_a_bundle(path))?;
        let root = canonical.join(prefix.trim_end_matches('/'));
        let entries = strip_root(all, &prefix);
        let source = DirSource {
            root,
            location: path.to_path_buf(),
            entries,
            max_entry_bytes: limits.max_entry_bytes,
        };
        Ok(Opened {
            source: Arc::new(source),
            warnings,
        })
    }
}

impl Source for DirSource {
    fn location(&self) -> &Path {
        &self.location
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Directory
    }

    fn entries(&self) -> &BTreeMap<String, u64> {
        &self.entries
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, LoadError> {
        let Some(&size) = self.entries.get(path) else {
            return Err(LoadError::Io {
                path: PathBuf::from(path),
                cause: std::io::ErrorKind::NotFound.into(),
            });
        };
        let file = std::fs::File::open(self.root.join(path)).map_err(|source| LoadError::Io {
            path: PathBuf::from(path),
            cause: source,
        })?;
        read_capped(file, path, self.max_entry_bytes, size)
    }
}
