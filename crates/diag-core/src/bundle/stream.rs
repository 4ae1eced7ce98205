//! Readers the sources share: a byte range of a file read by position (so any number of threads
//! read one file without a lock), transparent gzip/zstd decompression, and multi-frame zstd.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

/// gzip member magic (RFC 1952).
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];
/// zstd frame magic: metrics files are compressed but keep their `.json` name.
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Bytes `[start, end)` of a shared file, read with positional reads: readers of one file never
/// contend for a cursor.
#[derive(Debug, Clone)]
pub(crate) struct FileRange {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl FileRange {
    pub(crate) fn new(file: Arc<File>, start: u64, len: u64) -> FileRange {
        FileRange {
            file,
            pos: start,
            end: start.saturating_add(len),
        }
    }
}

impl Read for FileRange {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = read_at(&self.file, &mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file ends before the entry does",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// Concatenated zstd frames (as `zstd` writes for large or multi-threaded input, and as `cat
/// a.zst b.zst` gives), skippable frames skipped: libzstd's streaming decoder, which reads on
/// past the end of a frame. The decoder is made on the first read, so making this never fails.
pub(crate) struct ZstdFrames<R: BufRead> {
    state: ZstdState<R>,
}

enum ZstdState<R: BufRead> {
    /// Before the first read.
    Pending(R),
    /// Decoding.
    Decoding(zstd::stream::read::Decoder<'static, R>),
    /// The decoder could not be made (its error was returned once).
    Failed,
}

impl<R: BufRead> ZstdFrames<R> {
    pub(crate) fn new(inner: R) -> ZstdFrames<R> {
        ZstdFrames {
            state: ZstdState::Pending(inner),
        }
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let ZstdState::Pending(_) = self.state {
            let ZstdState::Pending(inner) = std::mem::replace(&mut self.state, ZstdState::Failed)
            else {
                return Ok(0);
            };
            self.state = ZstdState::Decoding(zstd::stream::read::Decoder::with_buffer(inner)?);
        }
        match &mut self.state {
            ZstdState::Decoding(decoder) => decoder.read(buf).map_err(|e| {
                if is_cap_exceeded(&e) {
                    e
                } else {
                    zstd_error(e)
                }
            }),
            _ => Ok(0),
        }
    }
}

/// libzstd's errors as a reader of the file would put them: a cut file says so (the decoder
/// reports `incomplete frame` as an unexpected end), other damage says it is not valid zstd.
fn zstd_error(e: io::Error) -> io::Error {
    let text = e.to_string();
    if e.kind() == io::ErrorKind::UnexpectedEof || text.contains("incomplete frame") {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "zstd data ends inside a frame (the file is cut short)",
        )
    } else if e.kind() == io::ErrorKind::Other {
        // libzstd's streaming decoder says "Destination buffer is too small" when a frame
        // decodes to more than the content size its header declares: a damaged frame, not a
        // buffer of ours.
        let meaning = match text.as_str() {
            "Destination buffer is too small" => {
                "a frame holds more data than its header declares (damaged frame)"
            }
            _ => &text,
        };
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("invalid zstd data: {meaning}"),
        )
    } else {
        e
    }
}

/// How a stream is compressed, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Wraps `reader` so it yields the decompressed bytes when it starts with the gzip or zstd
/// magic; otherwise the bytes as they are.
pub(crate) fn decompressing<'a>(
    reader: impl Read + Send + 'a,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    let mut buffered = BufReader::with_capacity(64 << 10, reader);
    // One read almost always fills the buffer; a file shorter than a magic cannot carry one.
    let kind = sniff(buffered.fill_buf()?);
    Ok(match kind {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(ZstdFrames::new(buffered)),
        Compression::None => Box::new(buffered),
    })
}

pub(crate) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else {
        Compression::None
    }
}

/// Counts the bytes a stream yields and fails once they pass `cap` (the decompressed-size guard
/// of an archive stream; the caller names the entry and the limit).
pub(crate) struct Counted<R> {
    pub(crate) inner: R,
    pub(crate) count: Arc<std::sync::atomic::AtomicU64>,
    pub(crate) cap: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self
            .count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed)
            + n as u64;
        if total > self.cap {
            return Err(io::Error::other(CapExceeded));
        }
        Ok(n)
    }
}

/// The marker error [`Counted`] returns; the archive reader turns it into a named cap error.
#[derive(Debug)]
pub(crate) struct CapExceeded;

impl std::fmt::Display for CapExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompressed size cap exceeded")
    }
}

impl std::error::Error for CapExceeded {}

pub(crate) fn is_cap_exceeded(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<CapExceeded>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_zstd_frames_and_skippable_frames_read_through() {
        let mut all = zstd::bulk::compress(b"hello ", 1).unwrap_or_default();
        // A skippable frame: magic 0x184D2A5?, length, payload.
        all.extend([0x50, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 9, 9, 9]);
        all.extend(zstd::bulk::compress(b"world", 19).unwrap_or_default());
        let mut out = String::new();
        let read = decompressing(all.as_slice()).and_then(|mut r| r.read_to_string(&mut out));
        assert!(read.is_ok(), "{read:?}");
        assert_eq!(out, "hello world");
        // A frame cut short is an error, not a short read.
        let cut = &all[..all.len() - 4];
        let mut out = Vec::new();
        let read = decompressing(cut).and_then(|mut r| r.read_to_end(&mut out));
        assert!(read.is_err(), "{read:?}");
        // Garbage after the magic is an error naming zstd.
        let mut bad = ZSTD_MAGIC.to_vec();
        bad.extend([0xFF; 16]);
        let read = decompressing(bad.as_slice()).and_then(|mut r| r.read_to_end(&mut out));
        assert!(
            read.as_ref().is_err_and(|e| e.to_string().contains("zstd")),
            "{read:?}"
        );
    }

    #[test]
    fn concatenated_gzip_members_and_plain_text_read_through() {
        use std::io::Write;
        let mut one = Vec::new();
        for part in [&b"hello "[..], b"world"] {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = enc.write_all(part);
            one.extend(enc.finish().unwrap_or_default());
        }
        let mut out = String::new();
        let read = decompressing(one.as_slice()).and_then(|mut r| r.read_to_string(&mut out));
        assert!(read.is_ok(), "{read:?}");
        assert_eq!(out, "hello world");
        let mut plain = String::new();
        let read = decompressing(&b"ab"[..]).and_then(|mut r| r.read_to_string(&mut plain));
        assert!(read.is_ok());
        assert_eq!(plain, "ab");
    }
}
