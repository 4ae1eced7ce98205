//! A bundle inside a `.zip`, read in place: the central directory is indexed once, and each
//! entry is inflated straight from its byte range of the file, by any number of threads at once.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::archive::{Budget, archive_error, resolve_aliases};
use super::stream::FileRange;
use super::{
    Entry, Limits, Opened, Source, SourceKind, entry_path, find_root, not_a_bundle, not_found,
    resolve_link, strip_root,
};
use crate::error::LoadError;

/// Where an entry's data sits and how to read it.
#[derive(Debug, Clone)]
struct Member {
    data_start: u64,
    compressed: u64,
    size: u64,
    deflated: bool,
    crc32: u32,
}

/// A bundle inside a `.zip`.
#[derive(Debug)]
pub struct ZipSource {
    location: PathBuf,
    file: Arc<File>,
    members: BTreeMap<String, Member>,
    index: BTreeMap<String, Entry>,
    limits: Limits,
}

impl ZipSource {
    /// Reads the central directory and indexes the entries (names, sizes, data offsets).
    pub fn open(path: &Path, limits: &Limits) -> Result<Opened, LoadError> {
        let io_error = |source| LoadError::Io {
            path: path.to_path_buf(),
            cause: source,
        };
        let file = File::open(path).map_err(io_error)?;
        let reader = File::open(path).map_err(io_error)?;
        let mut archive =
            ::zip::ZipArchive::new(reader).map_err(|e| archive_error(path, "zip", e))?;
        let mut warnings = Vec::new();
        let mut budget = Budget {
            limits,
            total: 0,
            count: 0,
        };
        let mut all: BTreeMap<String, Member> = BTreeMap::new();
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
            let Some(rel) = entry_path(&raw_name, &mut warnings) else {
                continue;
            };
            if entry.is_symlink() {
                // A raw (still compressed) read is enough only for stored entries; links are tiny
                // and nearly always stored, anything else is refused rather than guessed.
                let mut target = String::new();
                if entry.compression() == ::zip::CompressionMethod::Stored
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
            let deflated = match entry.compression() {
                ::zip::CompressionMethod::Stored => false,
                ::zip::CompressionMethod::Deflated => true,
                other => {
                    warnings.push(archive_error(
                        path,
                        "zip",
                        format!("{raw_name}: compression method {other} is not supported (stored and deflate are); skipped"),
                    ));
                    continue;
                }
            };
            if entry.encrypted() {
                warnings.push(archive_error(
                    path,
                    "zip",
                    format!("{raw_name}: encrypted entry; skipped"),
                ));
                continue;
            }
            let Some(data_start) = entry.data_start() else {
                warnings.push(archive_error(
                    path,
                    "zip",
                    format!("{raw_name}: local header not found; skipped"),
                ));
                continue;
            };
            if budget.admit(
                &raw_name,
                entry.size(),
                Some(entry.compressed_size()),
                &mut warnings,
            )? {
                all.insert(
                    rel,
                    Member {
                        data_start,
                        compressed: entry.compressed_size(),
                        size: entry.size(),
                        deflated,
                        crc32: entry.crc32(),
                    },
                );
            }
        }
        let sizes: BTreeMap<String, u64> = all.iter().map(|(k, m)| (k.clone(), m.size)).collect();
        for (link, resolved, _) in resolve_aliases(aliases, &sizes, &mut warnings) {
            if let Some(member) = all.get(&resolved).cloned() {
                all.insert(link, member);
            }
        }
        let prefix = find_root(all.keys().map(String::as_str)).ok_or_else(|| not_a_bundle(path))?;
        let members = strip_root(all, &prefix);
        let index = members
            .iter()
            .map(|(k, m)| (k.clone(), Entry::new(k, m.size, true)))
            .collect();
        let source = ZipSource {
            location: path.to_path_buf(),
            file: Arc::new(file),
            members,
            index,
            limits: *limits,
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

    fn index(&self) -> &BTreeMap<String, Entry> {
        &self.index
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, LoadError> {
        let Some(m) = self.members.get(path) else {
            return Err(not_found(path));
        };
        let raw = FileRange::new(self.file.clone(), m.data_start, m.compressed);
        let body: Box<dyn Read + Send> = if m.deflated {
            Box::new(flate2::read::DeflateDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        Ok(Box::new(Checked {
            inner: body,
            crc: flate2::Crc::new(),
            expected_crc: m.crc32,
            size: m.size,
            read: 0,
        }))
    }
}

/// An entry's stream, held to its declared size and CRC-32: a zip that lies about either
/// fails the read instead of yielding other bytes.
struct Checked {
    inner: Box<dyn Read + Send>,
    crc: flate2::Crc,
    expected_crc: u32,
    size: u64,
    read: u64,
}

impl Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        self.read += n as u64;
        let read = self.read;
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
        if n > 0 && read > self.size {
            return Err(bad(format!(
                "entry yields more than its declared {} bytes",
                self.size
            )));
        }
        if n == 0 && !buf.is_empty() {
            if read != self.size {
                return Err(bad(format!(
                    "entry ends after {read} of its declared {} bytes",
                    self.size
                )));
            }
            if self.crc.sum() != self.expected_crc {
                return Err(bad("CRC-32 mismatch (corrupt entry)".to_string()));
            }
        }
        Ok(n)
    }
}
