//! Bundles inside `.zip` and `.tar.gz` archives, read in place.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{
    Limits, Opened, Source, SourceKind, find_root, not_a_bundle, not_found, read_capped,
    resolve_link, safe_relative, strip_root, too_large,
};
use crate::error::{LimitKind, LoadError};

const RATIO_FLOOR: u64 = 1 << 20;

/// Applies the per-entry and running-total caps while an archive is indexed.
struct Budget<'a> {
    limits: &'a Limits,
    total: u64,
    count: usize,
}

impl Budget<'_> {
    /// `Ok(false)` when the entry alone is refused (a warning), `Err` when the archive as a whole is.
    fn admit(
        &mut self,
        entry: &str,
        size: u64,
        compressed: Option<u64>,
        warnings: &mut Vec<LoadError>,
    ) -> Result<bool, LoadError> {
        self.count += 1;
        if self.count > self.limits.max_entries {
            return Err(too_large(
                entry,
                LimitKind::EntryCount,
                format!("archive has more than {} entries", self.limits.max_entries),
            ));
        }
        if size > self.limits.max_entry_bytes {
            warnings.push(too_large(
                entry,
                LimitKind::EntrySize,
                format!(
                    "{size} bytes uncompressed, over the {}-byte limit for one file",
                    self.limits.max_entry_bytes
                ),
            ));
            return Ok(false);
        }
        if let Some(c) = compressed
            && size > RATIO_FLOOR
            && size / c.max(1) > self.limits.max_ratio
        {
            warnings.push(too_large(
                entry,
                LimitKind::ExpansionRatio,
                format!(
                    "expands {size} bytes from {c} (ratio over {})",
                    self.limits.max_ratio
                ),
            ));
            return Ok(false);
        }
        self.total = self.total.saturating_add(size);
        if self.total > self.limits.max_total_bytes {
            return Err(too_large(
                entry,
                LimitKind::TotalSize,
                format!(
                    "archive expands past the {}-byte total limit",
                    self.limits.max_total_bytes
                ),
            ));
        }
        Ok(true)
    }
}

fn archive_error(path: &Path, kind: &'static str, e: impl std::fmt::Display) -> LoadError {
    LoadError::Archive {
        path: path.to_path_buf(),
        kind,
        message: e.to_string(),
    }
}

/// A link entry: its path and its target, already resolved against the archive root.
type Alias = (String, Result<String, String>);

/// Keeps links whose target stays inside the archive; the rest are refused by name.
fn resolve_aliases(
    aliases: Vec<Alias>,
    names: &BTreeMap<String, u64>,
    warnings: &mut Vec<LoadError>,
) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    for (link, target) in aliases {
        match target {
            Ok(resolved) => match names.get(&resolved) {
                Some(&size) => out.push((link, resolved, size)),
                None => warnings.push(LoadError::UnsafeEntry {
                    entry: link,
                    reason: format!("link target `{resolved}` is not a file in the archive"),
                }),
            },
            Err(reason) => warnings.push(LoadError::UnsafeEntry {
                entry: link,
                reason,
            }),
        }
    }
    out
}

/// A bundle inside a `.zip`; entries are inflated one at a time when read.
#[derive(Debug)]
pub struct ZipSource {
    location: PathBuf,
    archive: Mutex<zip::ZipArchive<File>>,
    /// Bundle-relative path → (name in the archive, size).
    names: BTreeMap<String, (String, u64)>,
    entries: BTreeMap<String, u64>,
    max_entry_bytes: u64,
}

impl ZipSource {
    /// Reads the central directory and indexes the entries.
    pub fn open(path: &Path, limits: &Limits) -> Result<Opened, LoadError> {
        let file = File::open(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            cause: source,
        })?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| archive_error(path, "zip", e))?;
        let mut warnings = Vec::new();
        let mut budget = Budget {
            limits,
            total: 0,
            count: 0,
        };
        let mut all: BTreeMap<String, (String, u64)> = BTreeMap::new();
        let mut aliases = Vec::new();
        for i in 0..archive.len() {
            let mut entry = match archive.by_index_raw(i) {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(archive_error(path, "zip", format!("entry {i}: {e}")));
                    continue;
                }
            };
            let raw_name = match entry.name() {
                Ok(name) => name.into_owned(),
                Err(e) => {
                    warnings.push(LoadError::Encoding {
                        file: format!("<zip entry {i}>"),
                        message: format!("unreadable entry name ({e}); skipped"),
                    });
                    continue;
                }
            };
            if entry.is_dir() {
                continue;
            }
            let rel = match safe_relative(&raw_name) {
                Ok(rel) if !rel.is_empty() => rel,
                Ok(_) => continue,
                Err(reason) => {
                    warnings.push(LoadError::UnsafeEntry {
                        entry: raw_name,
                        reason,
                    });
                    continue;
                }
            };
            if entry.is_symlink() {
                // A raw (still compressed) read is enough only for stored entries; links are tiny
                // and nearly always stored, anything else is refused rather than guessed.
                let mut target = String::new();
                if entry.compression() == zip::CompressionMethod::Stored
                    && entry.size() < 4096
                    && entry.read_to_string(&mut target).is_ok()
                {
                    let resolved = resolve_link(&rel, &target);
                    aliases.push((rel, resolved));
                } else {
                    warnings.push(LoadError::UnsafeEntry {
                        entry: raw_name,
                        reason: "symbolic link with an unreadable target".into(),
                    });
                }
                continue;
            }
            if budget.admit(
                &raw_name,
                entry.size(),
                Some(entry.compressed_size()),
                &mut warnings,
            )? {
                all.insert(rel, (raw_name, entry.size()));
            }
        }
        let sizes: BTreeMap<String, u64> = all.iter().map(|(k, (_, s))| (k.clone(), *s)).collect();
        for (link, resolved, size) in resolve_aliases(aliases, &sizes, &mut warnings) {
            if let Some((raw, _)) = all.get(&resolved).cloned() {
                all.insert(link, (raw, size));
            }
        }
        let prefix = find_root(all.keys().map(String::as_str)).ok_or_else(|| not_a_bundle(path))?;
        let names = strip_root(all, &prefix);
        let entries = names.iter().map(|(k, (_, s))| (k.clone(), *s)).collect();
        let source = ZipSource {
            location: path.to_path_buf(),
            archive: Mutex::new(archive),
            names,
            entries,
            max_entry_bytes: limits.max_entry_bytes,
        };
        Ok(Opened {
            source: Arc::new(source),
            warnings,
        })
    }
}

impl Source for ZipSource {
    fn location(&self) -> &Path {
        &self.location
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Zip
    }

    fn entries(&self) -> &BTreeMap<String, u64> {
        &self.entries
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, LoadError> {
        let Some((raw, size)) = self.names.get(path) else {
            return Err(not_found(path));
        };
        let mut archive = self
            .archive
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = archive
            .by_name(raw)
            .map_err(|e| archive_error(&self.location, "zip", format!("{path}: {e}")))?;
        // The declared size can lie; the cap holds whatever the stream really yields.
        read_capped(entry, path, self.max_entry_bytes.min(*size), *size).map_err(|e| match e {
            LoadError::Io { cause: source, .. } => {
                archive_error(&self.location, "zip", format!("{path}: {source}"))
            }
            other => other,
        })
    }
}

/// A bundle inside a `.tar.gz`. Gzip streams cannot seek, so the archive is inflated once, in
/// memory, under the caps.
#[derive(Debug)]
pub struct TarGzSource {
    location: PathBuf,
    files: BTreeMap<String, Arc<[u8]>>,
    entries: BTreeMap<String, u64>,
}

impl TarGzSource {
    /// Inflates the archive into memory.
    pub fn open(path: &Path, limits: &Limits) -> Result<Opened, LoadError> {
        let file = File::open(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            cause: source,
        })?;
        let compressed = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let mut warnings = Vec::new();
        let mut budget = Budget {
            limits,
            total: 0,
            count: 0,
        };
        let mut files: BTreeMap<String, Arc<[u8]>> = BTreeMap::new();
        let mut aliases = Vec::new();
        let iter = archive
            .entries()
            .map_err(|e| archive_error(path, "tar.gz", e))?;
        for entry in iter {
            let mut entry = entry.map_err(|e| archive_error(path, "tar.gz", e))?;
            let raw_bytes = entry.path_bytes().into_owned();
            let Ok(raw_name) = String::from_utf8(raw_bytes) else {
                warnings.push(LoadError::Encoding {
                    file: "<tar entry>".into(),
                    message: "entry name is not UTF-8; skipped".into(),
                });
                continue;
            };
            let rel = match safe_relative(&raw_name) {
                Ok(rel) if !rel.is_empty() => rel,
                Ok(_) => continue,
                Err(reason) => {
                    warnings.push(LoadError::UnsafeEntry {
                        entry: raw_name,
                        reason,
                    });
                    continue;
                }
            };
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                match entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                {
                    // Hard link names are relative to the archive root, symlinks to their folder.
                    Some(target) if kind.is_hard_link() => {
                        let resolved = safe_relative(&target)
                            .map_err(|reason| format!("hard link to `{target}`: {reason}"));
                        aliases.push((rel, resolved));
                    }
                    Some(target) => {
                        let resolved = resolve_link(&rel, &target);
                        aliases.push((rel, resolved));
                    }
                    None => warnings.push(LoadError::UnsafeEntry {
                        entry: raw_name,
                        reason: "link without a target".into(),
                    }),
                }
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let size = entry.header().size().unwrap_or(0);
            // The gzip stream is one whole: its ratio is checked on the running total below.
            if !budget.admit(&raw_name, size, None, &mut warnings)? {
                continue;
            }
            let bytes =
                read_capped(&mut entry, &raw_name, limits.max_entry_bytes, size).map_err(|e| {
                    match e {
                        LoadError::Io { cause: source, .. } => {
                            archive_error(path, "tar.gz", format!("{raw_name}: {source}"))
                        }
                        other => other,
                    }
                })?;
            if budget.total > RATIO_FLOOR && budget.total / compressed.max(1) > limits.max_ratio {
                return Err(too_large(
                    &raw_name,
                    LimitKind::ExpansionRatio,
                    format!(
                        "archive expands past {} times its {compressed}-byte size",
                        limits.max_ratio
                    ),
                ));
            }
            files.insert(rel, Arc::from(bytes));
        }
        let sizes: BTreeMap<String, u64> = files
            .iter()
            .map(|(k, v)| (k.clone(), v.len() as u64))
            .collect();
        for (link, resolved, _) in resolve_aliases(aliases, &sizes, &mut warnings) {
            if let Some(bytes) = files.get(&resolved).cloned() {
                files.insert(link, bytes);
            }
        }
        let prefix =
            find_root(files.keys().map(String::as_str)).ok_or_else(|| not_a_bundle(path))?;
        let files = strip_root(files, &prefix);
        let entries = files
            .iter()
            .map(|(k, v)| (k.clone(), v.len() as u64))
            .collect();
        Ok(Opened {
            source: Arc::new(TarGzSource {
                location: path.to_path_buf(),
                files,
                entries,
            }),
            warnings,
        })
    }
}

impl Source for TarGzSource {
    fn location(&self) -> &Path {
        &self.location
    }

    fn kind(&self) -> SourceKind {
        SourceKind::TarGz
    }

    fn entries(&self) -> &BTreeMap<String, u64> {
        &self.entries
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, LoadError> {
        self.files
            .get(path)
            .map(|b| b.to_vec())
            .ok_or_else(|| not_found(path))
    }
}
