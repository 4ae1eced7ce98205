//! Bundles inside tar archives: `.tar.gz`/`.tgz` and `.tar.zst` read in one pass at open, plain
//! `.tar` indexed once and then read at random.
//!
//! During the pass every entry is indexed (path, size, kind). An entry the [`ReadPlan`] wants is
//! kept: in memory up to [`MEMORY_ENTRY_BYTES`] each and [`MEMORY_TOTAL_BYTES`] in all, else
//! appended to one unlinked temporary file. An entry it does not want is skipped; opening it
//! later decompresses the archive again up to that entry and streams it (documented cost: one
//! more pass over the archive's head). Inflate is flate2 on its `zlib-rs` backend (pure Rust,
//! zlib-ng's speed); zstd is libzstd (the `zstd` crate; ruzstd, pure Rust, ran at a fifth of
//! `zstd -dc`).
//!
//! A compressed archive cut short (an interrupted upload) or damaged part-way keeps what came
//! before the damage: the entries read so far are indexed, the entry it cut fails when opened,
//! and a warning names the place. Only damage before the first entry is fatal.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::archive::{Alias, Budget, RATIO_FLOOR, archive_error, resolve_aliases};
use super::stream::{Counted, FileRange, ZstdFrames, is_cap_exceeded};
use super::{
    Entry, Limits, MEMORY_ENTRY_BYTES, MEMORY_TOTAL_BYTES, Opened, ReadPlan, Source, SourceKind,
    entry_path, find_root, not_a_bundle, not_found, resolve_link, safe_relative, strip_root,
    too_large,
};
use crate::error::{LimitKind, LoadError};

/// Where an entry's bytes are after the pass.
#[derive(Debug, Clone)]
enum Place {
    /// Kept in memory.
    Memory(Arc<[u8]>),
    /// Kept in the spool file, at `offset`.
    Spool { offset: u64, len: u64 },
    /// Not kept: at `offset` of the (decompressed) tar stream.
    Stream { offset: u64, len: u64 },
    /// Cut short: the archive ended (or broke) while this entry was being kept.
    Broken { len: u64, cause: Arc<str> },
}

/// A bundle inside a tar archive.
#[derive(Debug)]
pub struct TarSource {
    location: PathBuf,
    kind: SourceKind,
    index: BTreeMap<String, Entry>,
    places: BTreeMap<String, Place>,
    /// The archive, for plain-tar reads.
    archive: Arc<File>,
    /// Wanted entries too large for memory; unlinked, so it goes with the source.
    spool: Option<Arc<File>>,
    limits: Limits,
}

fn label(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::TarZst => "tar.zst",
        SourceKind::Tar => "tar",
        _ => "tar.gz",
    }
}

/// The decompressed tar stream of `file`.
fn decoder(kind: SourceKind, file: File) -> Box<dyn Read + Send> {
    let buffered = BufReader::with_capacity(256 << 10, file);
    match kind {
        SourceKind::TarZst => Box::new(ZstdFrames::new(buffered)),
        SourceKind::Tar => Box::new(buffered),
        _ => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
    }
}

/// The tar stream the pass reads: a plain `.tar` file seeks over unwanted data; a decompressed
/// stream can only skip forward by reading, which is what "seeking" it does.
enum TarInput {
    File(BufReader<File>),
    Stream {
        inner: BufReader<Counted<Box<dyn Read + Send>>>,
        pos: u64,
    },
}

impl Read for TarInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            TarInput::File(f) => f.read(buf),
            TarInput::Stream { inner, pos } => {
                let n = inner.read(buf)?;
                *pos += n as u64;
                Ok(n)
            }
        }
    }
}

impl io::Seek for TarInput {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        match (self, to) {
            (TarInput::File(f), to) => f.seek(to),
            (TarInput::Stream { inner, pos }, io::SeekFrom::Current(n)) if n >= 0 => {
                let skipped = io::copy(&mut inner.by_ref().take(n as u64), &mut io::sink())?;
                *pos += skipped;
                if skipped < n as u64 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "archive ends inside an entry",
                    ));
                }
                Ok(*pos)
            }
            (TarInput::Stream { .. }, _) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a compressed tar stream only skips forward",
            )),
        }
    }
}

/// What the pass keeps, and where.
struct Keeper {
    in_memory: u64,
    spool: Option<BufWriter<File>>,
    spooled: u64,
}

impl Keeper {
    fn keep(&mut self, reader: &mut dyn Read, size: u64) -> io::Result<Place> {
        if size <= MEMORY_ENTRY_BYTES && self.in_memory + size <= MEMORY_TOTAL_BYTES {
            let mut bytes = Vec::with_capacity(size as usize);
            reader.read_to_end(&mut bytes)?;
            self.in_memory += bytes.len() as u64;
            return Ok(Place::Memory(Arc::from(bytes)));
        }
        let spool = match &mut self.spool {
            Some(s) => s,
            None => self
                .spool
                .insert(BufWriter::with_capacity(1 << 20, tempfile::tempfile()?)),
        };
        let offset = self.spooled;
        let len = io::copy(reader, spool)?;
        self.spooled += len;
        Ok(Place::Spool { offset, len })
    }
}

impl TarSource {
    /// Reads the archive once: indexes every entry and keeps what `plan` wants.
    pub fn open(
        path: &Path,
        kind: SourceKind,
        limits: &Limits,
        plan: &ReadPlan,
    ) -> Result<Opened, LoadError> {
        let io_error = |cause| LoadError::Io {
            path: path.to_path_buf(),
            cause,
        };
        let file = File::open(path).map_err(io_error)?;
        let archive_file = Arc::new(File::open(path).map_err(io_error)?);
        let compressed = file.metadata().map(|m| m.len()).unwrap_or(0);
        let label = label(kind);
        let seekable = kind == SourceKind::Tar;
        // The running decompressed size is held under both the ratio and the total caps; which
        // one tripped is told apart afterwards.
        let ratio_cap = if seekable {
            u64::MAX
        } else {
            compressed.saturating_mul(limits.max_ratio).max(RATIO_FLOOR)
        };
        let count = Arc::new(AtomicU64::new(0));
        let input = if seekable {
            TarInput::File(BufReader::with_capacity(64 << 10, file))
        } else {
            TarInput::Stream {
                inner: BufReader::with_capacity(
                    256 << 10,
                    Counted {
                        inner: decoder(kind, file),
                        count: count.clone(),
                        cap: ratio_cap.min(limits.max_total_bytes.saturating_add(1 << 20)),
                    },
                ),
                pos: 0,
            }
        };
        let cap_error = |entry: &str| {
            let seen = count.load(Ordering::Relaxed);
            if seen > ratio_cap {
                too_large(
                    entry,
                    LimitKind::ExpansionRatio,
                    format!(
                        "archive expands past {} times its {compressed}-byte size (max_ratio)",
                        limits.max_ratio
                    ),
                )
            } else {
                too_large(
                    entry,
                    LimitKind::TotalSize,
                    format!(
                        "archive expands past the {}-byte total limit (max_total_bytes)",
                        limits.max_total_bytes
                    ),
                )
            }
        };
        let mut tar = ::tar::Archive::new(input);
        let mut warnings = Vec::new();
        let mut budget = Budget {
            limits,
            total: 0,
            count: 0,
        };
        let mut keeper = Keeper {
            in_memory: 0,
            spool: None,
            spooled: 0,
        };
        let mut places: BTreeMap<String, Place> = BTreeMap::new();
        let mut aliases: Vec<Alias> = Vec::new();
        let mut last = String::new();
        // Where a damaged stream ended the pass, for the warning (and the error, when no bundle
        // is left before it).
        let mut cut: Option<LoadError> = None;
        // Named by its file name only: the warning reaches reports, which must not tell where
        // a server keeps its data.
        let name = Path::new(path.file_name().unwrap_or(path.as_os_str()));
        let cut_after = |last: &str, e: &dyn std::fmt::Display| {
            archive_error(
                name,
                label,
                format!(
                    "ends early, in or after entry `{last}` ({e}); the entries before it are read"
                ),
            )
        };
        let iter = tar
            .entries_with_seek()
            .map_err(|e| archive_error(path, label, e))?;
        for entry in iter {
            let mut entry = match entry {
                Ok(entry) => entry,
                Err(e) if is_cap_exceeded(&e) => {
                    return Err(cap_error(if last.is_empty() { "<archive>" } else { &last }));
                }
                Err(e) if last.is_empty() => return Err(archive_error(path, label, e)),
                // A plain tar is read at random afterwards: a broken header is not a cut.
                Err(e) if seekable => {
                    return Err(archive_error(
                        path,
                        label,
                        format!("after entry `{last}`: {e}"),
                    ));
                }
                Err(e) => {
                    cut = Some(cut_after(&last, &e));
                    break;
                }
            };
            let raw_bytes = entry.path_bytes().into_owned();
            let Ok(raw_name) = String::from_utf8(raw_bytes) else {
                warnings.push(LoadError::Encoding {
                    file: "<tar entry>".into(),
                    message: "entry name is not UTF-8; skipped".into(),
                });
                continue;
            };
            last.clone_from(&raw_name);
            let Some(rel) = entry_path(&raw_name, &mut warnings) else {
                continue;
            };
            let entry_type = entry.header().entry_type();
            if entry_type.is_symlink() || entry_type.is_hard_link() {
                match entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                {
                    // Hard link names are relative to the archive root, symlinks to their folder.
                    Some(target) if entry_type.is_hard_link() => {
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
            if !entry_type.is_file() {
                continue;
            }
            let size = entry.header().size().unwrap_or(0);
            // The compressed stream is one whole: its ratio is held on the running total.
            if !budget.admit(&raw_name, size, None, &mut warnings)? {
                continue;
            }
            let offset = entry.raw_file_position();
            let place = if !seekable && plan.wants_archive_name(&rel) {
                match keeper.keep(&mut entry, size) {
                    Ok(place) => place,
                    Err(e) if is_cap_exceeded(&e) => return Err(cap_error(&raw_name)),
                    // The stream broke inside this entry: it is cut, the rest is lost.
                    Err(e) => {
                        cut = Some(cut_after(&raw_name, &e));
                        let cause = format!("the {label} archive ends inside this entry ({e})");
                        places.insert(
                            rel,
                            Place::Broken {
                                len: size,
                                cause: Arc::from(cause),
                            },
                        );
                        break;
                    }
                }
            } else {
                Place::Stream { offset, len: size }
            };
            places.insert(rel, place);
        }
        let spool = match keeper.spool {
            Some(writer) => Some(Arc::new(writer.into_inner().map_err(|e| {
                LoadError::Io {
                    path: PathBuf::from("<spool file>"),
                    cause: e.into_error(),
                }
            })?)),
            None => None,
        };
        let sizes: BTreeMap<String, u64> = places
            .iter()
            .map(|(k, p)| (k.clone(), place_len(p)))
            .collect();
        for (link, resolved, _) in resolve_aliases(aliases, &sizes, &mut warnings) {
            if let Some(place) = places.get(&resolved).cloned() {
                places.insert(link, place);
            }
        }
        let prefix = match (find_root(places.keys().map(String::as_str)), cut) {
            (Some(prefix), cut) => {
                warnings.extend(cut);
                prefix
            }
            (None, Some(cut)) => return Err(cut),
            (None, None) => return Err(not_a_bundle(path)),
        };
        let places = strip_root(places, &prefix);
        let index = places
            .iter()
            .map(|(k, p)| {
                let retained = seekable || !matches!(p, Place::Stream { .. });
                (k.clone(), Entry::new(k, place_len(p), retained))
            })
            .collect();
        Ok(Opened {
            source: Arc::new(TarSource {
                location: path.to_path_buf(),
                kind,
                index,
                places,
                archive: archive_file,
                spool,
                limits: *limits,
            }),
            warnings,
        })
    }

    /// Streams an entry the pass did not keep: decompresses the archive again up to it.
    fn reread(&self, path: &str, offset: u64, len: u64) -> Result<Box<dyn Read + Send>, LoadError> {
        let label = label(self.kind);
        let file = File::open(&self.location).map_err(|cause| LoadError::Io {
            path: self.location.clone(),
            cause,
        })?;
        let mut stream = BufReader::with_capacity(256 << 10, decoder(self.kind, file));
        let skipped = io::copy(&mut (&mut stream).take(offset), &mut io::sink())
            .map_err(|e| archive_error(&self.location, label, format!("{path}: {e}")))?;
        if skipped < offset {
            return Err(archive_error(
                &self.location,
                label,
                format!("{path}: archive ends before the entry (it changed since it was opened?)"),
            ));
        }
        Ok(Box::new(stream.take(len)))
    }
}

fn place_len(place: &Place) -> u64 {
    match place {
        Place::Memory(bytes) => bytes.len() as u64,
        Place::Spool { len, .. } | Place::Stream { len, .. } | Place::Broken { len, .. } => *len,
    }
}

impl Source for TarSource {
    fn location(&self) -> &Path {
        &self.location
    }

    fn kind(&self) -> SourceKind {
        self.kind
    }

    fn index(&self) -> &BTreeMap<String, Entry> {
        &self.index
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, LoadError> {
        match self.places.get(path) {
            None => Err(not_found(path)),
            Some(Place::Memory(bytes)) => Ok(Box::new(Cursor::new(bytes.clone()))),
            Some(Place::Spool { offset, len }) => match &self.spool {
                Some(spool) => Ok(Box::new(FileRange::new(spool.clone(), *offset, *len))),
                None => Err(not_found(path)),
            },
            Some(&Place::Stream { offset, len }) if self.kind == SourceKind::Tar => {
                Ok(Box::new(FileRange::new(self.archive.clone(), offset, len)))
            }
            Some(&Place::Stream { offset, len }) => self.reread(path, offset, len),
            Some(Place::Broken { cause, .. }) => Err(LoadError::Io {
                path: PathBuf::from(path),
                cause: io::Error::new(io::ErrorKind::UnexpectedEof, cause.to_string()),
            }),
        }
    }
}
